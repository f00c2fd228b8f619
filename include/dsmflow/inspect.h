/* inspect.h - bounded payload inspection: reading the first client bytes
 * of the flows whose service the payload may name, and DNS answers.
 *
 * Which flows: TCP flows whose port leaves several candidate services, or
 * whose port the catalogue labels HTTP/HTTPS, or with no candidate at all.
 * The client's first bytes choose the parser (one compare each: a TLS
 * handshake record, an HTTP method); any other start ends the inspection.
 * An inspected flow takes a slot of a fixed pool; with none free it takes
 * the oldest decided flow's (which then counts no more requests), else the
 * oldest waiting flow's (decided by its port then), else it is decided by
 * its port at once (and counted).
 *
 * The budget, per flow: the first INSPECT_CLIENT_BYTES of client payload,
 * in sequence (a gap or a segment cut by the snapshot length ends it),
 * INSPECT_MAX_PACKETS packets, INSPECT_MAX_US of packet time (checked by
 * the engine's once-a-second sweep even when the flow goes quiet), and no
 * further than a FIN or RST. Then the flow's inspection ends for good and
 * its slot is free.
 *
 * While its attribution may still change a flow is *pending*: the engine
 * keeps its counts in the flow alone and adds them to its row when the
 * inspector decides it (the hooks' decide), so that no counter ever moves
 * from one row to another. A package's Web API name decides at once; a
 * ClientHello's end decides by its server name; otherwise the flow is
 * decided by the strongest evidence when the budget ends or the flow does.
 */
#ifndef DSMFLOW_INSPECT_H
#define DSMFLOW_INSPECT_H

#include <stdint.h>
#include <stdio.h>

#include "dsmflow/attribute.h"
#include "dsmflow/decode.h"
#include "dsmflow/dnstable.h"
#include "dsmflow/flow.h"
#include "dsmflow/webapi.h"

#define INSPECT_DEFAULT_SLOTS 4096
#define INSPECT_CLIENT_BYTES 4096
#define INSPECT_MAX_PACKETS 32
#define INSPECT_MAX_US (10ull * 1000000)

struct inspect_hooks {
	/* flow is decided by v (strength NONE or NOTE: by its port); value
	 * is what decided (or was noted), value_len 0 for none. Returns the
	 * id of the evidence kept for the flow (0: none), which becomes the
	 * flow's note when its inspection ends. */
	uint32_t (*decide)(void *ctx, struct flow *flow, const struct verdict *v,
			   const char *value, size_t value_len);
	/* a Web API request of service_id's package was seen */
	void (*webapi_request)(void *ctx, int service_id);
	void *ctx;
};

struct inspect_stats {
	uint64_t started;	/* flows inspected */
	uint64_t no_slot;	/* flows decided by port because no slot was free (new ones,
				 * and waiting ones whose slot a new flow took) */
	uint64_t requests_cut;	/* decided flows whose requests were counted no further:
				 * a new flow took their slot */
	uint64_t dns_answers;	/* A and AAAA answers read */
	size_t slots_used, slots;
};

struct inspector;

/* evidence_log: one JSON line per finding (request line, server name, DNS
 * answer) when not NULL. NULL when memory runs out. */
struct inspector *inspector_new(size_t slots, struct attributor *attr,
				const struct webapi_table *webapi, struct dns_table *dns,
				const struct inspect_hooks *hooks, FILE *evidence_log);
void inspector_free(struct inspector *in);
/* Replaces the evidence log (one given at creation only: it was rotated). */
void inspector_set_log(struct inspector *in, FILE *evidence_log);
/* The Web API table from now on (a reload; bound to the same catalogue ids). */
void inspector_set_webapi(struct inspector *in, const struct webapi_table *webapi);

/* Whether flow (new, attributed by its port) is one to inspect. */
int inspect_wanted(const struct inspector *in, const struct flow *flow);

/* Starts inspecting flow, which becomes pending; 0 when no slot is free
 * (the caller decides it by port). */
int inspect_start(struct inspector *in, struct flow *flow, uint64_t now_us);

/* Decides flow, not inspected, at once: by its port, or among several
 * candidates by a DNS answer for its server address. */
void inspect_decide_at_once(struct inspector *in, struct flow *flow, uint64_t now_us);

/* The verdict a DNS answer for flow's server address gives (out->strength
 * NONE when there is none); *name is valid until the next call. */
void inspect_dns_verdict(struct inspector *in, const struct flow *flow, uint64_t now_us,
			 struct verdict *out, const char **name, size_t *len);

/* A packet of a flow with FLOW_PAYLOAD_INSPECT set, sent by endpoint from. */
void inspect_packet(struct inspector *in, struct flow *flow, uint8_t from, const struct decoded *d,
		    uint64_t now_us);

/* Whether d is a DNS server's message, whose answers fill the DNS table:
 * UDP or TCP from port 53, with payload, not fragmented. A property of
 * the packet alone, so that every engine sharing the packets (parallel.c)
 * tells the same and reads the same answers in packet order. */
int inspect_is_dns_message(const struct decoded *d);
/* Reads the answers of such a message into the DNS table at now_us,
 * counted, and logged with flow (NULL: a packet without a flow, not
 * logged). */
void inspect_dns(struct inspector *in, const struct flow *flow, const struct decoded *d,
		 uint64_t now_us);
/* The same for a message another engine counts and logs: into the table
 * only. */
void inspect_dns_aside(struct inspector *in, const struct decoded *d, uint64_t now_us);

/* flow is ending: decides it if pending and frees its slot. */
void inspect_flow_end(struct inspector *in, struct flow *flow);

/* Ends the inspections that started more than INSPECT_MAX_US before now. */
void inspect_expire(struct inspector *in, uint64_t now_us);

/* Ends every inspection (the input ended). */
void inspect_end_all(struct inspector *in);

void inspect_stats(const struct inspector *in, struct inspect_stats *out);

#endif
