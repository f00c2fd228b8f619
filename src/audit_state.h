/* audit_state.h - internal to audit.c (which fills it) and audit_report.c
 * (which writes it): the per-NAS entries of the audit. */
#ifndef DSMFLOW_AUDIT_STATE_H
#define DSMFLOW_AUDIT_STATE_H

#include <uthash.h>

#include "dsmflow/audit.h"
#include "dsmflow/hll.h"

#define AUDIT_PORTS 8			/* server ports listed per entry */
#define AUDIT_BUCKETS 32		/* bytes over time, per entry: the window in 32 */
#define AUDIT_NAMES 4			/* server and DNS names kept per outbound entry */
#define AUDIT_NAME_LEN 64		/* of each, with its NUL (longer ones cut) */

struct audit_addr {
	uint8_t family;			/* 4 or 6 */
	uint8_t addr[16];
};

/* A client (or remote) in a bounded heavy-hitters table (space-saving):
 * an address that is in the table has its exact bytes and flows since it
 * entered, plus at most error from the one it replaced. */
struct audit_heavy {
	struct audit_addr addr;
	uint64_t bytes, flows, error;
};

enum audit_role { AUDIT_IN, AUDIT_OUT };	/* the NAS serves / connects out */

struct audit_key {
	uint8_t role;		/* enum audit_role */
	uint8_t kind;		/* enum flow_kind */
	uint8_t ip_proto;	/* FLOW_UNCLASSIFIED only (else 0) */
	uint8_t zero;
	uint16_t id;		/* service id, candidate-set id, or server port */
	uint16_t zero2;
};

struct audit_entry {
	UT_hash_handle hh;
	struct audit_key key;
	uint64_t flows, packets[2], bytes[2];	/* [TO_SERVER], [TO_CLIENT] */
	uint64_t first_us, last_us;
	uint64_t evidence[SERVICE_EVIDENCE_KINDS];
	uint16_t ports[AUDIT_PORTS];		/* server ports seen, with their IP protocol */
	uint8_t port_protos[AUDIT_PORTS];
	uint8_t port_count, ports_more;
	uint8_t estimated;			/* clients beyond the exact list: hll counts */
	uint32_t exact_count;
	struct audit_addr exact[AUDIT_EXACT_CLIENTS];
	uint8_t hll[HLL_REGISTERS];
	struct audit_heavy top[2 * AUDIT_TOP];	/* twice what is listed: the tail is noise */
	uint64_t external_flows;
	struct audit_heavy external[2 * AUDIT_TOP];
	uint64_t bytes_at[AUDIT_BUCKETS];	/* by when the flows ended (struct audit's clock) */
	char names[AUDIT_NAMES][AUDIT_NAME_LEN];	/* outbound: the names that decided it */
	uint8_t name_count;
};

/* How a NAS is known: DSM-specific evidence, not catalogued ports alone
 * (routers serve 53, Windows PCs 445, printers 631). */
#define AUDIT_BY_OPTION 0x01		/* --nas */
#define AUDIT_BY_WEBAPI 0x02		/* it served DSM Web API requests on tcp/5000-5001 */
#define AUDIT_BY_ASSISTANT 0x04		/* it answered a Synology Assistant search (udp/9999) */
#define AUDIT_BY_MAC 0x08		/* it sent frames from a MAC address of Synology's */

struct audit_nas {
	struct audit_addr addr;
	uint8_t detected_by;			/* AUDIT_BY_* */
	struct audit_addr answered;		/* detection: whom its Assistant answer went to */
	uint64_t evidence_flows;		/* flows that showed it (detection) */
	struct audit_entry *entries;		/* uthash */
	size_t entry_count;
	uint64_t flows_without_entry;		/* AUDIT_MAX_ENTRIES reached */
	uint64_t unanswered_flows, unanswered_bytes;	/* TCP the server never answered
							 * (refused, a scan): no use */
};

struct audit {
	struct cidr *nas_prefixes, *local;
	size_t nas_prefix_count, local_count;
	int detecting;				/* no --nas: only finding NAS (audit_detect) */
	struct audit_addr searchers[AUDIT_MAX_NAS * 4];	/* detection: who broadcast a search */
	size_t searcher_count;
	struct audit_nas nas[AUDIT_MAX_NAS];
	size_t nas_count;
	uint64_t flows_without_nas_slot;	/* AUDIT_MAX_NAS reached */
	uint64_t first_us, last_us;		/* the window: the flows folded */
	uint64_t bucket_us;			/* bytes_at's width (0: no flow yet) */
	uint64_t bucket_base;			/* bytes_at[i] is bucket bucket_base + i */
	uint64_t bucket_low, bucket_high;	/* the buckets used */
};

/* What one NAS's audit says, gathered once for every output (audit_view.c). */
struct audit_view {
	const struct audit *audit;
	const struct catalog *cat;
	const struct port_index *idx;
	const struct audit_nas *nas;
	const struct audit_entry **entries;	/* by bytes, then key */
	size_t entry_count;
	uint8_t *used;		/* [service]: an in-use service of this NAS's */
	int *possible_group;	/* [service]: the set id of an in-use group it is a candidate of, or 0 */
	uint8_t *inbound;	/* [service]: has a catalogued inbound entry */
	uint8_t seen[2][65536 / 8];	/* [tcp, udp][port]: served to a client in the window */
};

/* The view of NAS nas_index; -1 when memory runs out. */
int audit_view_make(struct audit_view *v, const struct audit *a, size_t nas_index,
		    const struct catalog *cat, const struct port_index *idx);
void audit_view_free(struct audit_view *v);
/* The catalogued static inbound ports nothing in use (or possibly in use)
 * needs and nothing was served on, each once ("tcp/873", "icmp"). */
void audit_each_closable(const struct audit_view *v, void (*fn)(void *ctx, const char *text), void *ctx);
/* A service's inbound ports as text, "tcp/80, tcp/443" (dynamic ones starred). */
void audit_service_ports(const struct catalog *cat, size_t service, char *buf, size_t size);
/* Names: the service or group (report_group_name) or "proto/port"; the
 * table's, a group prefixed by its port; the category; the kind. */
const char *audit_entry_name(const struct audit_view *v, const struct audit_entry *e, char *buf,
			     size_t size);
const char *audit_table_name(const struct audit_view *v, const struct audit_entry *e, char *buf,
			     size_t size);
const char *audit_entry_category(const struct audit_view *v, const struct audit_entry *e);
const char *audit_kind_name(const struct audit_entry *e);
/* Server port i of e as text: "tcp/445", "icmp". */
const char *audit_seen_port(const struct audit_entry *e, size_t i, char *buf, size_t size);
uint64_t audit_entry_bytes(const struct audit_entry *e);
/* The top AUDIT_TOP of a heavy-hitters table (2 * AUDIT_TOP slots) into
 * out, by bytes; returns how many. */
size_t audit_top(const struct audit_heavy *table, struct audit_heavy *out);
/* How a NAS was found: a JSON array of keys ("--nas", "dsm-web-api",
 * "synology-assistant"), or words for people. */
void audit_detected_json(FILE *out, uint8_t by);
const char *audit_detected_words(uint8_t by, char *buf, size_t size);
/* Packet time as "YYYY-MM-DD HH:MM:SS" (UTC). */
void audit_clock_text(uint64_t us, char *buf, size_t size);

/* The web page (audit_html.c); -1 when memory runs out. */
int audit_write_html(const struct audit *a, const struct catalog *cat, const struct port_index *idx,
		     FILE *out);

/* How many distinct clients an entry has seen (exact, or the estimate). */
uint64_t audit_clients(const struct audit_entry *e);

/* Whether addr counts as external (outside --local, or the local ranges). */
int audit_is_external(const struct audit *a, const struct audit_addr *addr);

#endif
