/* flow.h - the bidirectional flow table: one entry per 5-tuple conversation.
 *
 * Keys are canonical (the lower endpoint first), so both directions of a
 * conversation find the same flow. Flows expire after an idle timeout that
 * depends on their state (as Linux conntrack's do), measured in packet time so
 * that reading a capture gives the same result every time. Flow memory is
 * pooled: once the pool has grown to the working set, packets allocate nothing.
 *
 * Lookups take the key's hash, computed once by the caller, so that it can
 * prefetch the index slot and then the flow of a packet a few packets
 * before it looks the flow up.
 */
#ifndef DSMFLOW_FLOW_H
#define DSMFLOW_FLOW_H

#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>

#include "dsmflow/decode.h"

/* Idle-timeout classes: a flow is in exactly one at a time. */
enum flow_timeout_class {
	FLOW_TCP_ESTABLISHED,
	FLOW_TCP_TRANSITORY,	/* opening (SYN seen) or closing (FIN or RST seen) */
	FLOW_UDP,		/* packets seen in one direction only */
	FLOW_UDP_STREAM,	/* packets seen in both directions */
	FLOW_ICMP,
	FLOW_OTHER,		/* any other IP protocol */
	FLOW_TIMEOUT_CLASSES
};

enum flow_end_reason {
	FLOW_END_IDLE,		/* its idle timeout passed */
	FLOW_END_EVICTED,	/* the table was full: it was unanswered (early drop), or the
				 * oldest idle flow */
	FLOW_END_REUSED,	/* a new SYN reused the 5-tuple of a closing flow */
	FLOW_END_INPUT,		/* the input ended with the flow still active */
};

enum flow_evidence {
	EVIDENCE_NONE,
	EVIDENCE_SYN,		/* the SYN's destination (or the SYN-ACK's source) */
	EVIDENCE_EXPECTED,	/* announced on a tracked control connection */
	EVIDENCE_NAS,		/* --nas address plus the catalogue's role */
	EVIDENCE_CATALOG,	/* the one (or more specific) catalogued side */
	EVIDENCE_LOWER_PORT,	/* nothing better: the lower port */
	EVIDENCE_FIRST_PACKET,	/* no ports (ICMP, other protocols): the first packet's destination */
};

/* Where a flow's packets are counted: a single service, a candidate group,
 * or an unclassified (protocol, server port). */
enum flow_kind { FLOW_SERVICE, FLOW_GROUP, FLOW_UNCLASSIFIED };

struct counter_row;

struct flow_key {
	uint8_t addr[2][16];	/* endpoint 0 is the lower (address, port) */
	uint16_t port[2];
	uint8_t ip_proto;
	uint8_t family;
	uint16_t tenant;	/* VXLAN/GENEVE network, folded (0: none); it also keeps the
				 * key free of padding: the key is hashed as words */
};

/* Per-flow direction index into packets[] and bytes[]. */
enum { TO_SERVER = 0, TO_CLIENT = 1 };

/* Two cache lines, fetched together: the first holds what a lookup
 * compares and every packet reads, the second what every packet adds to
 * and what expiry walks. */
struct flow {
	struct flow_key key;
	struct counter_row *row;	/* counters of its attribution */
	uint64_t last_us;
	uint16_t attribution;		/* service id, candidate-set id, or server port */
	uint8_t kind;			/* enum flow_kind */
	uint8_t server;			/* endpoint index (0 or 1) of the server side */
	uint8_t evidence;		/* enum flow_evidence */
	uint8_t timeout_class;		/* enum flow_timeout_class */
	uint8_t tcp_state;		/* internal to flow.c */
	uint8_t tracked;		/* a control connection whose payload announces others */
	/* second cache line */
	uint64_t packets[2], bytes[2];	/* [TO_SERVER], [TO_CLIENT] */
	uint32_t older, newer;		/* flow ids, in its timeout class by queued_us; internal to flow.c */
	uint64_t first_us;
	uint64_t queued_us;		/* last_us when it was last put at the newest end */
	uint32_t note;			/* the inspection slot while inspected, then the id of the
					 * evidence kept for the flow log (0: none); inspect.c's */
	uint8_t decided_by;		/* enum service_evidence: what decided its attribution */
	uint8_t payload;		/* FLOW_PAYLOAD_* bits: which of its payloads are read */
	uint8_t marks;			/* FLOW_MARK_* bits: what its evidence said */
	uint8_t tunnel;			/* enum decode_tunnel its packets came in (the first's) */
} __attribute__((aligned(128)));

/* What decided a flow's service, strongest first. */
enum service_evidence {
	SERVICE_BY_PORT,		/* the catalogue's candidates for its server port (and roles) */
	SERVICE_BY_ANNOUNCEMENT,	/* announced on a tracked control connection */
	SERVICE_BY_WEBAPI,		/* a Synology Web API name in an HTTP request */
	SERVICE_BY_SNI,			/* the TLS server name, against the catalogue's domains */
	SERVICE_BY_DNS,			/* the name a DNS answer gave its server address */
	SERVICE_EVIDENCE_KINDS
};

/* struct flow.payload: the payloads read beyond the headers. */
#define FLOW_PAYLOAD_INSPECT 0x01	/* under inspection: note is its inspection slot */

/* struct flow.marks */
#define FLOW_MARK_UNCATALOGUED 0x01	/* attributed by Web API evidence on a port the catalogue
					 * does not list for the service */
#define FLOW_MARK_REMOTE_ACCESS 0x02	/* its server name is a Synology remote-access name
					 * (QuickConnect, DDNS): it names the NAS, not a service */
#define FLOW_MARK_OUTSIDE 0x04		/* its evidence named a service outside its candidates */
#define FLOW_MARK_ANSWERED 0x80		/* TCP: the server sent a packet other than a reset
					 * (flow.c's, not evidence's: a refused connection is a
					 * scan, not a use) */

struct flow_table_config {
	uint64_t timeout_us[FLOW_TIMEOUT_CLASSES];
	size_t max_flows;	/* 0: unbounded */
	_Atomic size_t *shared_active;	/* or NULL; tables sharing the packets (engine_share)
					 * count their flows together here, and max_flows bounds
					 * the sum: a table adding past it evicts one of its own */
};

/* What a tracked flow costs: the flow itself, and its index slots (the
 * index is at most half full, and doubles: up to four 8-byte slots). */
#define FLOW_MEMORY_EACH (sizeof(struct flow) + 4 * sizeof(uint64_t))

/* The default memory budget of the flow table, and the flows it allows. */
#define FLOW_DEFAULT_MEMORY_MIB 128

/* Called for each flow as it ends, before its memory is reused. */
typedef void (*flow_end_fn)(void *ctx, struct flow *flow, enum flow_end_reason why);

struct flow_table;

/* Defaults like Linux conntrack's: TCP established 5 days, TCP opening or
 * closing 120 s, UDP 30 s (120 s once replied), ICMP 30 s, other 600 s. */
void flow_table_default_config(struct flow_table_config *config);

struct flow_table *flow_table_new(const struct flow_table_config *config, flow_end_fn on_end,
				  void *ctx);
/* Ends every flow (FLOW_END_INPUT: calling the end callback for each
 * when end_each) and frees the table. */
void flow_table_free(struct flow_table *table, int end_each);
/* Calls fn for every active flow (fn must not end or add flows). */
void flow_table_each(struct flow_table *table, void (*fn)(void *ctx, struct flow *flow), void *ctx);

/* Builds the canonical key of pkt; *from is set to the endpoint index of
 * pkt's source. */
void flow_key_make(const struct decoded *pkt, struct flow_key *key, uint8_t *from);

/* The key's hash in this table: seeded at random per table, so that
 * traffic crafted to collide in one run does not collide in another. */
uint32_t flow_key_hash(const struct flow_table *table, const struct flow_key *key);

/* Prefetch hints for a lookup of hash to come: first the index slot, then
 * (once the slot has arrived) the flow it names. Neither changes anything. */
void flow_table_prefetch_slot(const struct flow_table *table, uint32_t hash);
void flow_table_prefetch_flow(const struct flow_table *table, uint32_t hash);

/* Finds the flow of key (whose flow_key_hash is hash), or NULL. */
struct flow *flow_table_find(struct flow_table *table, const struct flow_key *key, uint32_t hash);

/* Adds a zeroed flow for key at time now_us; may first evict the oldest idle
 * flow to stay within max_flows. NULL only when memory runs out. */
struct flow *flow_table_add(struct flow_table *table, const struct flow_key *key, uint32_t hash,
			    uint64_t now_us);

/* Ends flow now (why is passed to the end callback). */
void flow_table_end(struct flow_table *table, struct flow *flow, enum flow_end_reason why);

/* Accounts a packet of wire_len bytes travelling from endpoint from: updates
 * times, counters, TCP state and timeout class. Touches no other flow. */
void flow_table_update(struct flow_table *table, struct flow *flow, uint8_t from,
		       const struct decoded *pkt, uint32_t wire_len, uint64_t now_us);

/* Whether pkt, a TCP SYN, starts a new connection on flow's 5-tuple. */
int flow_is_reused_by(const struct flow *flow, const struct decoded *pkt);

/* Ends the flows idle for longer than their timeout at now_us. */
void flow_table_expire(struct flow_table *table, uint64_t now_us);

/* Whether flow has been idle for longer than its timeout at now_us (a
 * sweep may not have ended it yet). */
int flow_is_expired(const struct flow_table *table, const struct flow *flow, uint64_t now_us);

size_t flow_table_active(const struct flow_table *table);
uint64_t flow_table_evicted(const struct flow_table *table);
/* Of the evicted, those dropped early: unanswered (a SYN or a datagram
 * never replied to, as a flood sends) or closing, before any flow that
 * saw both directions. */
uint64_t flow_table_evicted_unanswered(const struct flow_table *table);

const char *flow_evidence_name(enum flow_evidence evidence);
const char *flow_end_reason_name(enum flow_end_reason why);

#endif
