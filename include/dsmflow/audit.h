/* audit.h - per NAS: which services it serves and to whom, what it connects
 * out to, which ports it serves that no catalogue entry names (`dsmflow
 * audit`).
 *
 * The audit is fed whole flows as they end (and, for a report mid-run, the
 * flows still active), never packets: the packet path pays nothing for it.
 * Its memory is bounded: at most AUDIT_MAX_NAS NAS addresses, and per NAS
 * at most AUDIT_MAX_ENTRIES (role, service or port) entries of about 3.5 KB
 * each; what does not fit is counted, never dropped silently.
 */
#ifndef DSMFLOW_AUDIT_H
#define DSMFLOW_AUDIT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dsmflow/catalog.h"
#include "dsmflow/flow.h"
#include "dsmflow/index.h"
#include "dsmflow/netaddr.h"
#include "dsmflow/packet.h"

#define AUDIT_MAX_NAS 16
#define AUDIT_MAX_ENTRIES 1024		/* per NAS: services, groups and ports, both roles */
#define AUDIT_EXACT_CLIENTS 64		/* distinct clients counted exactly, then estimated */
#define AUDIT_TOP 8			/* clients (or remotes) listed by bytes */

struct audit;

/* nas: the --nas prefixes (an address in them is a NAS); with none, the
 * audit only finds the NAS (audit_detected), by DSM-specific evidence;
 * local: the --local prefixes (NULL, 0: the private, shared, link-local,
 * loopback and unique-local ranges, and the /64s of the NAS's IPv6
 * addresses). The prefixes are copied. NULL when memory runs out. */
struct audit *audit_new(const struct cidr *nas, size_t nas_count, const struct cidr *local,
			size_t local_count);
void audit_free(struct audit *a);
/* A copy to fold the active flows into for a report mid-run; NULL when
 * memory runs out. */
struct audit *audit_clone(const struct audit *a);

/* For an audit made without --nas: frames sent from a MAC address of
 * Synology's show a NAS (their source address); a packet_fn. */
void audit_frames(void *audit, const struct packet *pkts, size_t count);

/* The NAS an audit made without --nas found: fills out[0..max) with their
 * addresses and detected_by with how (the audit_state.h AUDIT_BY_* bits);
 * returns how many. */
size_t audit_detected(const struct audit *a, struct cidr *out, uint8_t *detected_by, size_t max);
/* Marks, in an audit given those addresses as its --nas, how each was found. */
void audit_set_detected(struct audit *a, const struct cidr *nas, const uint8_t *detected_by, size_t n);

/* Folds one flow (ended, or active for a report) into the NAS it has as an
 * endpoint, if any. Flows still pending (no service decided) are skipped. */
void audit_flow(struct audit *a, const struct flow *flow);

/* The name (a TLS server name, a DNS answer's) that decided flow, when its
 * NAS connects out: kept with what it reached (a few per entry). */
void audit_note_name(struct audit *a, const struct flow *flow, const char *name, size_t len);

/* How many NAS the audit has, and the address family (4, 6) of NAS i. */
size_t audit_nas_count(const struct audit *a);
int audit_nas_family(const struct audit *a, size_t i);

/* Writes the audit as a table for a terminal, JSON (the shape scripts rely
 * on: README), markdown (for tickets and wikis) or a self-contained web
 * page with charts and sortable tables; cat and idx name the
 * services and groups. -1 when memory runs out. */
enum audit_format { AUDIT_TABLE, AUDIT_JSON, AUDIT_MARKDOWN, AUDIT_HTML };
int audit_write(const struct audit *a, enum audit_format format, const struct catalog *cat,
		const struct port_index *idx, FILE *out);

/* A firewall proposal for each NAS's inbound traffic (audit_firewall.c):
 * nft (a table of its own, `nft -f`), iptables or ip6tables
 * (`iptables-restore`), or a checklist for DSM's own firewall. */
enum firewall_kind { FIREWALL_NFT, FIREWALL_IPTABLES, FIREWALL_IP6TABLES, FIREWALL_DSM };

struct firewall_options {
	uint8_t v4_len, v6_len;		/* clients aggregated to networks this long (24, 64) */
};

int audit_firewall(const struct audit *a, enum firewall_kind kind, const struct firewall_options *o,
		   const struct catalog *cat, const struct port_index *idx, FILE *out);

#endif
