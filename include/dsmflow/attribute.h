/* attribute.h - deciding, for a new flow, which side is the server and which
 * DSM service (or group of candidate services) the flow belongs to.
 *
 * The server side comes from the strongest evidence present: an announcement
 * on a tracked control connection, a SYN, a --nas address with the
 * catalogue's roles, the catalogue alone, and last the lower port. The
 * attribution is then the server port's candidate set, narrowed by role
 * when --nas tells whether the NAS serves or connects out: one candidate is
 * a service, several are a group, none is "unclassified".
 */
#ifndef DSMFLOW_ATTRIBUTE_H
#define DSMFLOW_ATTRIBUTE_H

#include <stddef.h>
#include <stdint.h>

#include "dsmflow/catalog.h"
#include "dsmflow/decode.h"
#include "dsmflow/flow.h"
#include "dsmflow/index.h"
#include "dsmflow/netaddr.h"
#include "dsmflow/webapi.h"

/* How strongly a piece of payload evidence speaks for a service. */
enum evidence_strength {
	STRENGTH_NONE,
	STRENGTH_NOTE,		/* recorded, decides nothing (a remote-access name, a service
				 * outside the flow's candidates, a name no candidate has) */
	STRENGTH_DNS,		/* a DNS answer's name narrows the candidates */
	STRENGTH_SNI,		/* the TLS server name narrows the candidates */
	STRENGTH_WEBAPI_CORE,	/* a DSM-core Web API name: DSM, unless a package's follows */
	STRENGTH_WEBAPI,	/* a package's Web API name: decides at once */
};

/* What one piece of evidence would make of a flow. */
struct verdict {
	uint8_t strength;	/* enum evidence_strength */
	uint8_t by;		/* enum service_evidence: the kind of evidence */
	uint8_t kind;		/* enum flow_kind it attributes the flow to */
	uint8_t marks;		/* FLOW_MARK_* it implies */
	uint16_t attribution;	/* service id or candidate-set id */
};

struct attributor;

/* nas[0..nas_count) are copied. NULL when memory runs out. */
struct attributor *attributor_new(const struct catalog *cat, const struct port_index *idx,
				  const struct cidr *nas, size_t nas_count);
void attributor_free(struct attributor *a);
/* A reload in two steps, so that nothing changes unless everything can:
 * attributor_plan() does what can fail (NULL when memory runs out);
 * attributor_retarget() then makes a decide by the plan's cat and idx,
 * keeping the --nas addresses and the announced connections (their
 * service ids stay valid in a merged catalogue), and frees the plan. */
struct attributor_plan;
struct attributor_plan *attributor_plan(const struct catalog *cat, const struct port_index *idx);
void attributor_plan_free(struct attributor_plan *plan);
void attributor_retarget(struct attributor *a, struct attributor_plan *plan);

/* Sets flow's server, evidence, kind, attribution and tracked from its first
 * packet pkt, sent by endpoint from, at now_us. */
void attribute_flow(struct attributor *a, struct flow *flow, uint8_t from,
		    const struct decoded *pkt, uint64_t now_us);

/* Reads the payload of a tracked flow's packet for announcements of further
 * connections (FTP's 227, 229, PORT, EPRT). */
void attribute_payload(struct attributor *a, const struct flow *flow, uint8_t from,
		       const struct decoded *pkt, uint64_t now_us);

/* What a Web API name (or package id, or CGI directory) mapped to entry
 * says of flow, whose attribution is still the port's: it decides among
 * the flow's candidates; a service outside them is only noted; a package
 * the catalogue lacks, or any package on a port with no candidate, is
 * taken (and marked as found on an uncatalogued port). */
void attribute_judge_webapi(const struct attributor *a, const struct flow *flow,
			    const struct webapi_entry *entry, struct verdict *out);

/* What server name name[0..len) (by SERVICE_BY_SNI or SERVICE_BY_DNS) says
 * of flow: it narrows the flow's candidates to those whose catalogue
 * domains cover it; a Synology remote-access name names the NAS and is
 * only noted. */
void attribute_judge_name(const struct attributor *a, const struct flow *flow, uint8_t by,
			  const char *name, size_t len, struct verdict *out);

/* Makes v (when it decides anything) flow's attribution, and sets what
 * decided it and the marks. */
void attribute_settle(struct flow *flow, const struct verdict *v);

/* Whether the catalogue labels tcp/port HTTP or HTTPS (80, 443, 5000, ...). */
int attribute_http_port(const struct attributor *a, uint16_t port);

/* The catalogue protocol of an IP protocol number, or -1 for none. */
int attribute_dsm_proto(uint8_t ip_proto);

#endif
