/* engine.c - the per-packet path, and the decisions that put flows in rows.
 *
 * engine_packets() is the hot path: packets come in batches, each decoded
 * into a stack array ahead of its turn so that its flow can be prefetched;
 * then, in order, one hash lookup and two counter additions for a packet
 * of a known flow (engine_packet() is a batch of one). New flows go
 * through attribute.c once; payload is read only for tracked control
 * connections, DNS answers and the flows under inspection (inspect.c),
 * which are *pending*: their counts stay in the flow until the inspector
 * decides them, then move to their row at once, so that no row's counter
 * ever goes down. Later IPv4/IPv6 fragments carry no ports, so the ports
 * of each first fragment are remembered (a fixed table, no allocation) and
 * later fragments of the same datagram join its flow.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dsmflow/attribute.h"
#include "dsmflow/audit.h"
#include "dsmflow/decode.h"
#include "dsmflow/engine.h"
#include "dsmflow/evidence.h"
#include "dsmflow/flowlog.h"
#include "dsmflow/hll.h"
#include "dsmflow/inspect.h"

#define FRAG_SLOTS 4096
#define ENGINE_BATCH 32		/* packets decoded ahead of their turn */
#define PREFETCH_DISTANCE 8	/* packets between a flow's prefetch and its use */
#define SWEEP_EVERY_US 1000000ull	/* idle flows are swept out once a second of packet time */
#define FRAG_TIMEOUT_US (30ull * 1000000)	/* Linux's ipfrag_time */

/* The ports of a fragmented datagram, from its first fragment. */
struct frag_slot {
	uint8_t src[16], dst[16];
	uint32_t id;
	uint8_t family, ip_proto, in_use;
	uint16_t sport, dport;
	uint64_t seen_us;
};

/* Counts of engines folded into this one (engine_absorb), added to its
 * own in what it reports. */
struct absorbed {
	size_t active_flows;
	uint64_t evicted, evicted_unanswered, alloc_failures, evidence_dropped;
	struct inspect_stats inspect;
};

/* One of several engines sharing every packet (engine_share; parallel.c). */
struct share {
	unsigned index, count;		/* count 1: every packet is this engine's */
};

struct engine {
	const struct catalog *cat;
	const struct port_index *idx;
	struct flow_table *flows;
	struct attributor *attributor;
	struct counters *counters;
	struct inspector *inspector;
	struct dns_table *dns;
	int dns_shared;			/* dns is other engines' too: not freed here */
	struct evidence_store *kept;	/* evidence values for the flow log, or NULL */
	struct flow_table_config flow_config;
	int ports_only;
	FILE *flow_log;
	struct audit *audit;		/* or NULL */
	pthread_mutex_t *audit_lock;	/* the audit's, or NULL: this engine's alone */
	struct cidr *local;		/* --local, copied; local_count 0: the local ranges */
	size_t local_count;
	struct cidr *nas;		/* --nas, copied: its IPv6 /64s are local too */
	size_t nas_count;
	uint64_t now_us;		/* latest packet time seen */
	uint64_t next_sweep_us;
	uint64_t alloc_failures;
	uint64_t output_errors;		/* writes that failed: reports, logs */
	int flow_log_failed;		/* the flow log's error was counted */
	struct reload_stats reload;
	struct share share;
	struct absorbed absorbed;
	struct frag_slot frags[FRAG_SLOTS];
};

static void flow_ended(void *ctx, struct flow *flow, enum flow_end_reason why);

/* The audit's lock, when engines on other threads feed it too. */
static void lock_audit(struct engine *e)
{
	if (e->audit_lock)
		pthread_mutex_lock(e->audit_lock);
}

static void unlock_audit(struct engine *e)
{
	if (e->audit_lock)
		pthread_mutex_unlock(e->audit_lock);
}
static uint32_t decide(void *ctx, struct flow *flow, const struct verdict *v, const char *value,
		       size_t value_len);
static void count_webapi_request(void *ctx, int service_id);

static struct flow_table *new_flow_table(struct engine *e)
{
	return flow_table_new(&e->flow_config, flow_ended, e);
}

static struct inspector *new_inspector(struct engine *e, const struct engine_config *config)
{
	struct inspect_hooks hooks = {
		.decide = decide, .webapi_request = count_webapi_request, .ctx = e,
	};

	return inspector_new(config->inspect_slots, e->attributor, config->webapi, e->dns, &hooks,
			     config->evidence_log);
}

static uint64_t wall_clock_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

struct engine *engine_new(const struct catalog *cat, const struct port_index *idx,
			  const struct engine_config *config, struct dsm_err *err)
{
	struct engine *e = calloc(1, sizeof(*e));

	if (!e)
		goto fail;
	e->cat = cat;
	e->idx = idx;
	e->reload.last_success_us = e->reload.started_us = wall_clock_us();
	e->flow_log = config->flow_log;
	e->audit = config->audit;
	e->audit_lock = config->audit_lock;
	if (config->nas_count && (e->nas = malloc(config->nas_count * sizeof(*e->nas)))) {
		memcpy(e->nas, config->nas, config->nas_count * sizeof(*e->nas));
		e->nas_count = config->nas_count;
	}
	if (config->local_count && (e->local = malloc(config->local_count * sizeof(*e->local)))) {
		memcpy(e->local, config->local, config->local_count * sizeof(*e->local));
		e->local_count = config->local_count;
	}
	e->ports_only = config->ports_only;
	e->share.count = 1;
	e->flow_config = config->flows;
	e->flows = new_flow_table(e);
	e->attributor = attributor_new(cat, idx, config->nas, config->nas_count);
	e->counters = counters_new(catalog_service_count(cat), port_index_set_count(idx));
	e->dns = config->shared_dns ? config->shared_dns : dns_table_new(config->dns_entries);
	e->dns_shared = config->shared_dns != NULL;
	if (e->flow_log)
		e->kept = evidence_store_new(config->evidence_values);
	if (!e->flows || !e->attributor || !e->counters || !e->dns || (e->flow_log && !e->kept))
		goto fail;
	e->inspector = new_inspector(e, config);
	if (!e->inspector)
		goto fail;
	return e;
fail:
	engine_free(e);
	dsm_err_set(err, "out of memory setting up the packet path");
	return NULL;
}

void engine_free(struct engine *e)
{
	if (!e)
		return;
	if (e->inspector)
		inspect_end_all(e->inspector);
	flow_table_free(e->flows, e->flow_log || e->audit);
	inspector_free(e->inspector);
	if (!e->dns_shared)
		dns_table_free(e->dns);
	evidence_store_free(e->kept);
	attributor_free(e->attributor);
	counters_free(e->counters);
	free(e->local);
	free(e->nas);
	free(e);
}

void engine_settle(struct engine *e)
{
	inspect_end_all(e->inspector);
}

void engine_flush(struct engine *e)
{
	/* ending every flow is deciding the pending ones, then freeing the
	 * table (visiting each flow only for the flow log or the audit);
	 * start afresh */
	inspect_end_all(e->inspector);
	flow_table_free(e->flows, e->flow_log || e->audit);
	e->flows = new_flow_table(e);
}

/* ---- fragments ---- */

static struct frag_slot *frag_slot(struct engine *e, const struct decoded *d)
{
	uint32_t h = d->frag_id * 2654435761u;

	for (int i = 0; i < 16; i++)
		h = (h ^ d->src[i] ^ (uint32_t)d->dst[i] << 8) * 16777619u;
	return &e->frags[(h ^ d->ip_proto) % FRAG_SLOTS];
}

static int frag_matches(const struct frag_slot *s, const struct decoded *d)
{
	return s->in_use && s->id == d->frag_id && s->family == d->family &&
	       s->ip_proto == d->ip_proto && memcmp(s->src, d->src, 16) == 0 &&
	       memcmp(s->dst, d->dst, 16) == 0;
}

static void frag_remember(struct engine *e, const struct decoded *d)
{
	struct frag_slot *s = frag_slot(e, d);

	memcpy(s->src, d->src, 16);
	memcpy(s->dst, d->dst, 16);
	s->id = d->frag_id;
	s->family = d->family;
	s->ip_proto = d->ip_proto;
	s->sport = d->sport;
	s->dport = d->dport;
	s->seen_us = e->now_us;
	s->in_use = 1;
}

/* Gives a later fragment the ports of its first; 0 when that is unknown. */
static int frag_recall(struct engine *e, struct decoded *d)
{
	struct frag_slot *s = frag_slot(e, d);

	if (!frag_matches(s, d) || e->now_us - s->seen_us > FRAG_TIMEOUT_US)
		return 0;
	d->sport = s->sport;
	d->dport = s->dport;
	return 1;
}

/* ---- deciding flows ---- */

/* Outside --local, or else outside the local ranges and the /64s of the
 * NAS's IPv6 prefixes (global IPv6 clients on the NAS's LAN are local). */
static int is_external(const struct engine *e, uint8_t family, const uint8_t *addr)
{
	if (e->local_count)
		return !cidr_match_any(e->local, e->local_count, family, addr);
	if (addr_is_local_range(family, addr))
		return 0;
	for (size_t i = 0; family == 6 && i < e->nas_count; i++)
		if (e->nas[i].family == 6 && memcmp(e->nas[i].addr, addr, 8) == 0)
			return 0;
	return 1;
}

/* The decided flow's client, for its service's or group's distinct
 * clients and external flows (group addresses are never clients). */
static void note_client(struct engine *e, const struct flow *flow, struct counter_row *row)
{
	const uint8_t *client = flow->key.addr[!flow->server];
	uint8_t key[17];

	if (flow->kind == FLOW_UNCLASSIFIED || addr_is_group(flow->key.family, client))
		return;
	key[0] = flow->key.family;
	memcpy(key + 1, client, 16);
	counters_note_client(e->counters, flow->kind, flow->attribution, hll_hash(key, sizeof(key)));
	if (is_external(e, flow->key.family, client))
		row->external_flows++;
}

/* Puts flow, decided by v, in its row: the counts it gathered while
 * pending move there whole. Returns the id of the evidence kept for the
 * flow log. */
static uint32_t decide(void *ctx, struct flow *flow, const struct verdict *v, const char *value,
		       size_t value_len)
{
	struct engine *e = ctx;
	struct counter_totals *t = counters_totals(e->counters);
	struct counter_row *row;

	attribute_settle(flow, v);
	row = counters_row(e->counters, flow->kind, flow->attribution, flow->key.ip_proto);
	row->flows++;
	row->decided_by[flow->decided_by]++;
	row->last_us = flow->last_us > row->last_us ? flow->last_us : row->last_us;
	note_client(e, flow, row);
	if (e->audit && (v->by == SERVICE_BY_SNI || v->by == SERVICE_BY_DNS)) {
		lock_audit(e);
		audit_note_name(e->audit, flow, value, value_len);
		unlock_audit(e);
	}
	for (int d = 0; d < 2; d++) {
		row->packets[d] += flow->packets[d];
		row->bytes[d] += flow->bytes[d];
		t->pending_packets -= flow->packets[d];
		t->pending_bytes -= flow->bytes[d];
	}
	flow->row = row;
	return e->kept && value_len ? evidence_keep(e->kept, v->by, value, value_len) : 0;
}

static void count_webapi_request(void *ctx, int service_id)
{
	struct engine *e = ctx;
	struct counter_row *row = counters_row(e->counters, FLOW_SERVICE, (uint16_t)service_id, 0);

	if (row)
		row->webapi_requests++;
}

static struct flow *new_flow(struct engine *e, const struct flow_key *key, uint32_t hash,
			     uint8_t from, const struct decoded *d)
{
	struct flow *flow = flow_table_add(e->flows, key, hash, e->now_us);

	if (!flow)
		return NULL;
	attribute_flow(e->attributor, flow, from, d, e->now_us);
	flow->tunnel = d->tunnel;
	if (e->ports_only || !inspect_wanted(e->inspector, flow) ||
	    !inspect_start(e->inspector, flow, e->now_us))
		inspect_decide_at_once(e->inspector, flow, e->now_us);
	return flow;
}

/* The end of a flow: decided if still pending, logged, its evidence let go. */
static void flow_ended(void *ctx, struct flow *flow, enum flow_end_reason why)
{
	struct engine *e = ctx;

	inspect_flow_end(e->inspector, flow);
	if (e->audit && flow->row) {
		lock_audit(e);
		audit_flow(e->audit, flow);
		unlock_audit(e);
	}
	if (e->flow_log) {
		flowlog_write(e->flow_log, e->cat, e->idx, e->kept, flow, why);
		if (ferror(e->flow_log) && !e->flow_log_failed) {
			e->flow_log_failed = 1;	/* said when the log is closed */
			e->output_errors++;
		}
	}
	if (e->kept)
		evidence_release(e->kept, flow->note);
}

/* ---- the packet path ---- */

/* A packet whose flow could not be allocated: counted in the unclassified
 * row of its destination port (the server's, most likely), rather than
 * lost; the failures are counted for the caller to say so. */
static void count_without_flow(struct engine *e, const struct decoded *d, uint32_t wire_len)
{
	struct counter_row *row = counters_row(e->counters, FLOW_UNCLASSIFIED, d->dport, d->ip_proto);
	struct counter_totals *t = counters_totals(e->counters);

	e->alloc_failures++;
	t->no_flow_packets++;
	t->no_flow_bytes += wire_len;
	row->packets[TO_SERVER]++;
	row->bytes[TO_SERVER] += wire_len;
}

/* A packet decoded before its turn, so that its flow's memory is on its
 * way into the cache while the packets before it are counted. Decoding
 * depends on the packet alone; everything that depends on the engine's
 * state (fragments, expiry, the flow itself) waits for the packet's turn. */
struct ahead {
	struct decoded d;
	struct flow_key key;
	uint32_t hash;
	uint8_t from;
	uint8_t status;		/* enum decode_status */
	uint8_t keyed;		/* key and hash are set: not a later fragment */
	uint8_t owner;		/* the engine sharing the packets that counts it */
	uint8_t decoded;	/* d and status are set (routing may leave them unset) */
	uint8_t maybe_dns;	/* routing: it may be a DNS server's message */
	uint8_t first_fragment;	/* routing: a first fragment, remembered by every engine */
};

static void make_key(const struct engine *e, struct ahead *a)
{
	flow_key_make(&a->d, &a->key, &a->from);
	a->hash = flow_key_hash(e->flows, &a->key);
	a->keyed = 1;
}

/* The engine among count that counts a packet between these addresses:
 * both directions, every fragment, and an FTP or TFTP data connection with
 * its control connection go to the same one (the pair's hash, symmetric). */
static unsigned owner_of(const uint8_t *src, const uint8_t *dst, unsigned count)
{
	uint64_t s[2], t[2], h;

	memcpy(s, src, sizeof(s));
	memcpy(t, dst, sizeof(t));
	h = (s[0] * 0x9e3779b97f4a7c15ull ^ s[1] * 0xc2b2ae3d27d4eb4full) +
	    (t[0] * 0x9e3779b97f4a7c15ull ^ t[1] * 0xc2b2ae3d27d4eb4full);
	h ^= h >> 31;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 29;
	return (unsigned)(((h >> 32) * count) >> 32);
}

/* Which sharing engine counts the packet: read off its addresses where
 * decode_route can, else decoded. Every engine routes a packet alike. */
static void route(struct engine *e, const struct packet *pkt, struct ahead *a)
{
	struct decode_route r;

	if (decode_route(pkt->link, pkt->data, pkt->caplen, &r)) {
		a->owner = (uint8_t)owner_of(r.src, r.dst, e->share.count);
		a->maybe_dns = r.maybe_dns;
		a->first_fragment = r.first_fragment;
		return;
	}
	a->status = (uint8_t)decode_packet(pkt->link, pkt->data, pkt->caplen, pkt->wire_len, &a->d);
	a->decoded = 1;
	a->owner = a->status == DECODE_IP ? (uint8_t)owner_of(a->d.src, a->d.dst, e->share.count) : 0;
	a->maybe_dns = a->status == DECODE_IP && inspect_is_dns_message(&a->d);
	a->first_fragment = a->status == DECODE_IP && a->d.fragment == FRAG_FIRST;
}

static void decode_ahead(struct engine *e, const struct packet *pkt, struct ahead *a)
{
	a->keyed = 0;
	a->owner = 0;
	a->decoded = 0;
	a->first_fragment = 0;
	if (e->share.count > 1) {
		route(e, pkt, a);
		if (a->owner != e->share.index)
			return;	/* another engine's: decoded only if its DNS answers are read */
	}
	if (!a->decoded)
		a->status = (uint8_t)decode_packet(pkt->link, pkt->data, pkt->caplen, pkt->wire_len, &a->d);
	if (a->status != DECODE_IP || a->d.fragment == FRAG_LATER)
		return;
	make_key(e, a);
	flow_table_prefetch_slot(e->flows, a->hash);
}

/* Counts an IP packet; returns its flow (NULL: none could be had). */
static struct flow *count_ip(struct engine *e, struct ahead *a, uint32_t wire_len)
{
	struct counter_totals *t = counters_totals(e->counters);
	struct decoded *d = &a->d;
	struct flow *flow;
	int dir;

	if (d->truncated) {	/* counted where they belong too: this is a count of its own */
		t->truncated_packets++;
		t->truncated_bytes += wire_len;
	}
	if (d->fragment == FRAG_FIRST)
		frag_remember(e, d);
	else if (d->fragment == FRAG_LATER) {
		if (!frag_recall(e, d)) {
			t->fragment_packets++;
			t->fragment_bytes += wire_len;
			return NULL;
		}
		make_key(e, a);	/* it has its first fragment's ports now */
	}
	flow = flow_table_find(e->flows, &a->key, a->hash);
	if (flow && flow_is_expired(e->flows, flow, e->now_us)) {
		flow_table_end(e->flows, flow, FLOW_END_IDLE);	/* not swept yet */
		flow = NULL;
	} else if (flow && flow_is_reused_by(flow, d)) {
		flow_table_end(e->flows, flow, FLOW_END_REUSED);
		flow = NULL;
	}
	if (!flow && !(flow = new_flow(e, &a->key, a->hash, a->from, d))) {
		count_without_flow(e, d, wire_len);
		return NULL;
	}
	flow_table_update(e->flows, flow, a->from, d, wire_len, e->now_us);
	if (flow->row) {
		dir = a->from == flow->server ? TO_CLIENT : TO_SERVER;
		flow->row->packets[dir]++;
		flow->row->bytes[dir] += wire_len;
		flow->row->last_us = e->now_us;
	} else {
		t->pending_packets++;	/* moves to its row when it is decided */
		t->pending_bytes += wire_len;
	}
	if (flow->payload)
		inspect_packet(e->inspector, flow, a->from, d, e->now_us);
	if (flow->tracked)
		attribute_payload(e->attributor, flow, a->from, d, e->now_us);
	return flow;
}

/* Moves packet time on to now_us (never back); once a second of it, ends
 * the idle flows and the inspections past their time. */
static void advance(struct engine *e, uint64_t now_us)
{
	if (now_us > e->now_us)
		e->now_us = now_us;
	if (e->now_us >= e->next_sweep_us) {
		flow_table_expire(e->flows, e->now_us);
		inspect_expire(e->inspector, e->now_us);
		e->next_sweep_us = e->now_us + SWEEP_EVERY_US;
	}
}

void engine_clock(struct engine *e, uint64_t now_us)
{
	advance(e, now_us);
}

/* ---- sharing the packets among engines ---- */

/* A packet another engine counts: its time moves this engine's clock too
 * (flows end when they would with one engine), a DNS server's message
 * fills this engine's DNS table too (the owner counts and logs it), and a
 * first fragment's ports are remembered here too, so that every engine's
 * DNS and fragment tables are the one engine's at every packet. None of it
 * waits for the other engines: all are properties of the packet. */
static void aside(struct engine *e, const struct packet *pkt, struct ahead *a)
{
	advance(e, pkt->ts_us);
	if (!a->first_fragment && (!a->maybe_dns || e->ports_only))
		return;
	if (!a->decoded)
		a->status = (uint8_t)decode_packet(pkt->link, pkt->data, pkt->caplen, pkt->wire_len, &a->d);
	if (a->status != DECODE_IP)
		return;
	if (a->d.fragment == FRAG_FIRST)	/* every engine's table is one engine's */
		frag_remember(e, &a->d);
	if (!e->ports_only && inspect_is_dns_message(&a->d))
		inspect_dns_aside(e->inspector, &a->d, e->now_us);
}

void engine_share(struct engine *e, unsigned index, unsigned count)
{
	e->share.index = index;
	e->share.count = count ? count : 1;
}

static void count_packet(struct engine *e, const struct packet *pkt, struct ahead *a)
{
	struct counter_totals *t = counters_totals(e->counters);
	struct flow *flow;

	t->packets++;
	t->bytes += pkt->wire_len;
	advance(e, pkt->ts_us);
	switch (a->status) {
	case DECODE_IP:
		flow = count_ip(e, a, pkt->wire_len);
		if (a->d.sport == DECODE_DNS_PORT && !e->ports_only && inspect_is_dns_message(&a->d))
			inspect_dns(e->inspector, flow, &a->d, e->now_us);
		break;
	case DECODE_NON_IP:
		t->non_ip_packets++;
		t->non_ip_bytes += pkt->wire_len;
		break;
	default:
		t->malformed_packets++;
		t->malformed_bytes += pkt->wire_len;
		break;
	}
}

/* Three steps over a batch: decode every packet and prefetch its index
 * slot; then, PREFETCH_DISTANCE packets ahead of the one being counted,
 * prefetch the flow its slot names; count each in order. A prefetch is a
 * hint: the count looks the flow up afresh, so the result is the same as
 * one packet at a time. */
void engine_packets(struct engine *e, const struct packet *pkts, size_t count)
{
	struct ahead ahead[ENGINE_BATCH];

	while (count) {
		size_t n = count < ENGINE_BATCH ? count : ENGINE_BATCH;

		for (size_t i = 0; i < n; i++)
			decode_ahead(e, &pkts[i], &ahead[i]);
		for (size_t i = 0; i < n && i < PREFETCH_DISTANCE; i++)
			if (ahead[i].keyed)
				flow_table_prefetch_flow(e->flows, ahead[i].hash);
		for (size_t i = 0; i < n; i++) {
			if (i + PREFETCH_DISTANCE < n && ahead[i + PREFETCH_DISTANCE].keyed)
				flow_table_prefetch_flow(e->flows, ahead[i + PREFETCH_DISTANCE].hash);
			if (ahead[i].owner == e->share.index)	/* (one engine: always 0 == 0) */
				count_packet(e, &pkts[i], &ahead[i]);
			else
				aside(e, &pkts[i], &ahead[i]);
		}
		pkts += n;
		count -= n;
	}
}

void engine_packet(struct engine *e, const struct packet *pkt)
{
	engine_packets(e, pkt, 1);
}

/* ---- accessors ---- */

const struct counters *engine_counters(const struct engine *e)
{
	return e->counters;
}

size_t engine_active_flows(const struct engine *e)
{
	return flow_table_active(e->flows) + e->absorbed.active_flows;
}

uint64_t engine_evicted_flows(const struct engine *e)
{
	return flow_table_evicted(e->flows) + e->absorbed.evicted;
}

uint64_t engine_evicted_unanswered_flows(const struct engine *e)
{
	return flow_table_evicted_unanswered(e->flows) + e->absorbed.evicted_unanswered;
}

uint64_t engine_alloc_failures(const struct engine *e)
{
	return e->alloc_failures + e->absorbed.alloc_failures;
}

static void add_inspect_stats(struct inspect_stats *sum, const struct inspect_stats *s)
{
	sum->started += s->started;
	sum->no_slot += s->no_slot;
	sum->requests_cut += s->requests_cut;
	sum->dns_answers += s->dns_answers;
	sum->slots_used += s->slots_used;
	sum->slots += s->slots;
}

void engine_inspect_stats(const struct engine *e, struct inspect_stats *out)
{
	inspect_stats(e->inspector, out);
	add_inspect_stats(out, &e->absorbed.inspect);
}

void engine_dns_stats(const struct engine *e, struct dns_table_stats *out)
{
	dns_table_stats(e->dns, out);
}

void engine_set_logs(struct engine *e, FILE *flow_log, FILE *evidence_log)
{
	if (e->flow_log)
		e->flow_log = flow_log;
	e->flow_log_failed = 0;
	inspector_set_log(e->inspector, evidence_log);
}

void engine_count_output_error(struct engine *e)
{
	e->output_errors++;
}

uint64_t engine_output_errors(const struct engine *e)
{
	return e->output_errors;
}

uint64_t engine_evidence_dropped(const struct engine *e)
{
	return evidence_dropped(e->kept) + e->absorbed.evidence_dropped;
}

static void add_dns_stats(struct dns_table_stats *sum, const struct dns_table_stats *s)
{
	sum->inserted += s->inserted;
	sum->evicted += s->evicted;
	sum->expired += s->expired;
	sum->entries += s->entries;
	sum->capacity += s->capacity;
}

int engine_figures(struct engine *const *engines, size_t count, struct counters *counters,
		   struct engine_figures *out)
{
	int rc = counters ? counters_copy(counters, engines[0]->counters) : 0;

	memset(out, 0, sizeof(*out));
	engine_reload_stats(engines[0], &out->reload);	/* every engine reloads at once */
	for (size_t i = 0; i < count; i++) {
		const struct engine *e = engines[i];
		struct inspect_stats inspected;
		struct dns_table_stats dns;

		if (i && counters && counters_add(counters, e->counters))
			rc = -1;
		out->active_flows += engine_active_flows(e);
		out->evicted_flows += engine_evicted_flows(e);
		out->evicted_unanswered_flows += engine_evicted_unanswered_flows(e);
		out->output_errors += engine_output_errors(e);
		engine_inspect_stats(e, &inspected);
		add_inspect_stats(&out->inspect, &inspected);
		if (i && e->dns == engines[0]->dns)
			continue;	/* a shared table: counted once */
		engine_dns_stats(e, &dns);
		add_dns_stats(&out->dns, &dns);
	}
	return rc;
}

int engine_absorb(struct engine *dst, const struct engine *src)
{
	struct inspect_stats inspected;

	if (counters_add(dst->counters, src->counters))
		return -1;
	dst->absorbed.active_flows += engine_active_flows(src);
	dst->absorbed.evicted += engine_evicted_flows(src);
	dst->absorbed.evicted_unanswered += engine_evicted_unanswered_flows(src);
	dst->absorbed.alloc_failures += engine_alloc_failures(src);
	dst->absorbed.evidence_dropped += engine_evidence_dropped(src);
	engine_inspect_stats(src, &inspected);
	add_inspect_stats(&dst->absorbed.inspect, &inspected);
	dst->output_errors += src->output_errors;
	if (src->now_us > dst->now_us)
		dst->now_us = src->now_us;
	return 0;
}

/* ---- reloading the tables ---- */

static void move_row(void *ctx, struct flow *flow)
{
	if (flow->row)
		flow->row = counters_moved_row(ctx, flow->row);
}

int engine_reload_prepare(const struct engine *e, const struct catalog *cat,
			  const struct port_index *idx, struct engine_reload_prep *prep,
			  struct dsm_err *err)
{
	memset(prep, 0, sizeof(*prep));
	if (!(prep->plan = attributor_plan(cat, idx)) ||
	    counters_spare_make(e->counters, catalog_service_count(cat), port_index_set_count(idx),
				&prep->spare)) {
		engine_reload_abandon(prep);
		dsm_err_set(err, "out of memory (or a catalogue without the services in force)");
		return -1;
	}
	return 0;
}

void engine_reload_abandon(struct engine_reload_prep *prep)
{
	attributor_plan_free(prep->plan);
	counters_spare_free(&prep->spare);
	memset(prep, 0, sizeof(*prep));
}

void engine_reload_commit(struct engine *e, const struct catalog *cat, const struct port_index *idx,
			  const struct webapi_table *api, struct engine_reload_prep *prep, uint64_t wall_us)
{
	struct counters_moved moved;

	counters_resize_spare(e->counters, &prep->spare, &moved);
	flow_table_each(e->flows, move_row, &moved);
	counters_moved_free(&moved);
	attributor_retarget(e->attributor, prep->plan);
	prep->plan = NULL;	/* the attributor's now */
	inspector_set_webapi(e->inspector, api);
	e->cat = cat;
	e->idx = idx;
	e->reload.reloads++;
	e->reload.last_success_us = wall_us;
}

int engine_reload(struct engine *e, const struct catalog *cat, const struct port_index *idx,
		  const struct webapi_table *api, uint64_t wall_us, struct dsm_err *err)
{
	struct engine_reload_prep prep;

	/* what can fail first: nothing changes unless everything can */
	if (engine_reload_prepare(e, cat, idx, &prep, err))
		return -1;
	engine_reload_commit(e, cat, idx, api, &prep, wall_us);
	return 0;
}

void engine_count_reload_failure(struct engine *e)
{
	e->reload.failures++;
}

void engine_reload_stats(const struct engine *e, struct reload_stats *out)
{
	*out = e->reload;
}

/* ---- the audit mid-run ---- */

static void fold_active(void *ctx, struct flow *flow)
{
	audit_flow(ctx, flow);
}

struct audit *engine_audit_snapshot(const struct engine *e)
{
	struct audit *copy;

	if (!e->audit)
		return NULL;
	if (e->audit_lock)
		pthread_mutex_lock(e->audit_lock);
	copy = audit_clone(e->audit);
	if (e->audit_lock)
		pthread_mutex_unlock(e->audit_lock);
	if (copy)
		engine_audit_fold(e, copy);
	return copy;
}

void engine_audit_fold(const struct engine *e, struct audit *copy)
{
	flow_table_each(e->flows, fold_active, copy);
}

int engine_audits(const struct engine *e)
{
	return e->audit != NULL;
}
