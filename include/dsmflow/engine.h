/* engine.h - the packet path: decode, flow lookup, attribution, counting.
 *
 * One engine serves any capture source. Each packet is counted exactly once:
 * in its flow's service, group or unclassified port, or as non-IP, malformed
 * or an unmatched later fragment. In steady state (flows and unclassified
 * ports already seen) a packet allocates nothing, copies no payload and
 * formats nothing.
 */
#ifndef DSMFLOW_ENGINE_H
#define DSMFLOW_ENGINE_H

#include <pthread.h>
#include <stdio.h>

#include "dsmflow/catalog.h"
#include "dsmflow/counters.h"
#include "dsmflow/dnstable.h"
#include "dsmflow/flow.h"
#include "dsmflow/index.h"
#include "dsmflow/inspect.h"
#include "dsmflow/netaddr.h"
#include "dsmflow/packet.h"
#include "dsmflow/webapi.h"

struct audit;

struct engine_config {
	struct flow_table_config flows;
	const struct cidr *nas;		/* --nas prefixes */
	size_t nas_count;
	FILE *flow_log;			/* one JSON line per ended flow, or NULL */
	FILE *evidence_log;		/* one JSON line per piece of payload evidence, or NULL */
	const struct webapi_table *webapi;	/* Web API names to packages */
	size_t inspect_slots;		/* flows inspected at once (0: the default) */
	size_t dns_entries;		/* addresses the DNS table holds (0: the default) */
	struct dns_table *shared_dns;	/* a table other engines use too (dns_table_share: a
					 * sensor's workers), not this engine's to free; NULL:
					 * a table of its own */
	size_t evidence_values;		/* values kept for the flow log (0: the default) */
	int ports_only;			/* read no payload evidence (FTP/TFTP announcements still) */
	struct audit *audit;		/* fed every flow as it ends, or NULL */
	pthread_mutex_t *audit_lock;	/* held while feeding it, when engines on other
					 * threads feed it too (a sensor's workers), or NULL */
	const struct cidr *local;	/* --local: clients outside are external (none: */
	size_t local_count;		/* the private and local ranges) */
};

struct engine;

struct engine *engine_new(const struct catalog *cat, const struct port_index *idx,
			  const struct engine_config *config, struct dsm_err *err);
/* Ends all flows (logging them) and frees the engine. */
void engine_free(struct engine *e);

void engine_packet(struct engine *e, const struct packet *pkt);
/* The same for pkts[0..count) in order, faster: while one packet is
 * counted, the flows of the next few are fetched into the cache. */
void engine_packets(struct engine *e, const struct packet *pkts, size_t count);

/* ---- several engines sharing the packets (parallel.c) ---- */

/* Makes e the index-th of count engines that are each given every packet:
 * e counts those whose address pair hashes to index (both directions of a
 * flow, its fragments, FTP and TFTP data with their control connection;
 * routed as decode_route and engine.c's owner_of say). Of the others it
 * keeps only the time, the answers of DNS servers' messages (a property
 * of the packet: inspect_is_dns_message) and first fragments' ports, so
 * that its clock, its DNS table and its fragment table are one engine's at
 * every packet; no engine waits for another.
 * Together the engines count every packet exactly once. */
void engine_share(struct engine *e, unsigned index, unsigned count);
/* Adds what src counted (rows, totals, flows active and evicted, failures,
 * inspections) to what dst reports; both settled (engine_settle). The DNS
 * table's figures stay dst's: every sharing engine's table is the same.
 * -1 when memory for a port row runs out. */
int engine_absorb(struct engine *dst, const struct engine *src);

/* Tells a running sensor's engine the time (the capture clock, as packet
 * times are) when no packet may have come: idle flows still end, and
 * pending flows are still decided within their 10 s, on a quiet network. */
void engine_clock(struct engine *e, uint64_t now_us);

/* Decides every pending flow now, its inspection ended (as at the end of
 * the input); the flows stay active. */
void engine_settle(struct engine *e);

/* Ends every active flow, as at the end of the input. */
void engine_flush(struct engine *e);

const struct counters *engine_counters(const struct engine *e);
size_t engine_active_flows(const struct engine *e);
uint64_t engine_evicted_flows(const struct engine *e);
/* Of those, the unanswered ones dropped first (see flow.h). */
uint64_t engine_evicted_unanswered_flows(const struct engine *e);
/* Packets whose flow could not be created for lack of memory (counted as unclassified). */
uint64_t engine_alloc_failures(const struct engine *e);
void engine_inspect_stats(const struct engine *e, struct inspect_stats *out);
void engine_dns_stats(const struct engine *e, struct dns_table_stats *out);
/* Puts the flow and evidence logs in place of those given at creation (a
 * log rotated away); NULL for one not given then. */
void engine_set_logs(struct engine *e, FILE *flow_log, FILE *evidence_log);

/* Reports, logs and summaries that could not be written (the caller
 * counts them; the flow log's own failures are counted as they happen). */
void engine_count_output_error(struct engine *e);
uint64_t engine_output_errors(const struct engine *e);

/* Evidence values the flow log lost because their store was full. */
uint64_t engine_evidence_dropped(const struct engine *e);

/* The audit so far: a copy of the audit with the active flows folded in
 * (pending ones are not); the caller frees it. NULL without an audit or
 * memory. */
struct audit *engine_audit_snapshot(const struct engine *e);
/* Folds e's active flows into copy (an engine_audit_snapshot of another
 * engine feeding the same audit: a sensor's workers). */
void engine_audit_fold(const struct engine *e, struct audit *copy);
/* Whether the engine feeds an audit. */
int engine_audits(const struct engine *e);

/* ---- reloading the tables (a sensor's SIGHUP) ---- */

struct reload_stats {
	uint64_t reloads;		/* tables put in force since the start */
	uint64_t failures;		/* reloads refused: the old tables stayed */
	uint64_t last_success_us;	/* wall clock of the last reload, or of the start */
	uint64_t started_us;		/* wall clock of the start */
};

/* Puts cat, idx and api in force from the next packet on: cat must keep
 * every service id of the catalogue in force (catalog_merge) and idx every
 * set id (port_index_build_after), so that the flows already decided keep
 * their attribution, counting into the rows they have; new services and
 * sets get rows of their own. Flows still pending are decided by the new
 * tables. The caller frees the old tables after every other user let go
 * of them. -1 with err, the old tables still in force, when memory runs
 * out. */
int engine_reload(struct engine *e, const struct catalog *cat, const struct port_index *idx,
		  const struct webapi_table *api, uint64_t wall_us, struct dsm_err *err);
/* engine_reload() in two steps, so that several engines take new tables
 * all or none (a sensor's workers): what can fail first (-1 with err,
 * nothing changed), then putting them in force, which cannot fail (or
 * engine_reload_abandon() to give the memory back). */
struct attributor_plan;
struct engine_reload_prep {
	struct attributor_plan *plan;
	struct counters_spare spare;
};
int engine_reload_prepare(const struct engine *e, const struct catalog *cat,
			  const struct port_index *idx, struct engine_reload_prep *prep,
			  struct dsm_err *err);
void engine_reload_commit(struct engine *e, const struct catalog *cat, const struct port_index *idx,
			  const struct webapi_table *api, struct engine_reload_prep *prep, uint64_t wall_us);
void engine_reload_abandon(struct engine_reload_prep *prep);
void engine_count_reload_failure(struct engine *e);
void engine_reload_stats(const struct engine *e, struct reload_stats *out);

/* ---- a sensor's engines, read together ---- */

/* What a sensor's engines, each fed by a capture thread of its own,
 * counted: their figures added up (engine_figures). */
struct engine_figures {
	size_t active_flows;
	uint64_t evicted_flows, evicted_unanswered_flows, output_errors;
	struct inspect_stats inspect;
	struct dns_table_stats dns;	/* every engine's table added up (a shared one once) */
	struct reload_stats reload;	/* the first's: every engine reloads at once */
};
/* Adds up engines[0..count) (none counting meanwhile) into out and their
 * counters into counters (counters_new for the tables in force, or NULL:
 * not added up); -1 when
 * memory for a port row runs out (the rest is filled). */
int engine_figures(struct engine *const *engines, size_t count, struct counters *counters,
		   struct engine_figures *out);
#endif
