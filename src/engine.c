/* engine.c - the per-packet path, and the log of ended flows.
 *
 * engine_packets() is the hot path: packets come in batches, each decoded
 * into a stack array ahead of its turn so that its flow can be prefetched;
 * then, in order, one hash lookup and two counter additions for a packet
 * of a known flow (engine_packet() is a batch of one). New flows
 * go through attribute.c once; payload is only read for tracked control
 * connections. Later IPv4/IPv6 fragments carry no ports, so the ports of
 * each first fragment are remembered (a fixed table, no allocation) and
 * later fragments of the same datagram join its flow.
 */
#include <stdlib.h>
#include <string.h>

#include "dsmflow/attribute.h"
#include "dsmflow/decode.h"
#include "dsmflow/engine.h"
#include "dsmflow/jsonout.h"

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

struct engine {
	const struct catalog *cat;
	const struct port_index *idx;
	struct flow_table *flows;
	struct attributor *attributor;
	struct counters *counters;
	struct flow_table_config flow_config;
	FILE *flow_log;
	uint64_t now_us;		/* latest packet time seen */
	uint64_t next_sweep_us;
	uint64_t alloc_failures;
	struct frag_slot frags[FRAG_SLOTS];
};

static void log_flow(void *ctx, struct flow *flow, enum flow_end_reason why);

static struct flow_table *new_flow_table(struct engine *e)
{
	/* without a flow log nothing needs to see flows end, and the table
	 * can free them without visiting each */
	return flow_table_new(&e->flow_config, e->flow_log ? log_flow : NULL, e);
}

struct engine *engine_new(const struct catalog *cat, const struct port_index *idx,
			  const struct engine_config *config, struct dsm_err *err)
{
	struct engine *e = calloc(1, sizeof(*e));

	if (!e)
		goto fail;
	e->cat = cat;
	e->idx = idx;
	e->flow_log = config->flow_log;
	e->flow_config = config->flows;
	e->flows = new_flow_table(e);
	e->attributor = attributor_new(cat, idx, config->nas, config->nas_count);
	e->counters = counters_new(catalog_service_count(cat), port_index_set_count(idx));
	if (!e->flows || !e->attributor || !e->counters)
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
	flow_table_free(e->flows);
	attributor_free(e->attributor);
	counters_free(e->counters);
	free(e);
}

void engine_flush(struct engine *e)
{
	/* ending every flow is freeing the table; start a fresh one */
	flow_table_free(e->flows);
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

/* ---- the packet path ---- */

static struct flow *new_flow(struct engine *e, const struct flow_key *key, uint32_t hash,
			     uint8_t from, const struct decoded *d)
{
	struct flow *flow = flow_table_add(e->flows, key, hash, e->now_us);

	if (!flow)
		return NULL;
	attribute_flow(e->attributor, flow, from, d, e->now_us);
	flow->row = counters_row(e->counters, flow->kind, flow->attribution, key->ip_proto);
	if (!flow->row) {
		flow_table_end(e->flows, flow, FLOW_END_INPUT);
		return NULL;
	}
	flow->row->flows++;
	return flow;
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
};

static void make_key(const struct engine *e, struct ahead *a)
{
	flow_key_make(&a->d, &a->key, &a->from);
	a->hash = flow_key_hash(e->flows, &a->key);
	a->keyed = 1;
}

static void decode_ahead(struct engine *e, const struct packet *pkt, struct ahead *a)
{
	a->keyed = 0;
	a->status = (uint8_t)decode_packet(pkt->link, pkt->data, pkt->caplen, &a->d);
	if (a->status != DECODE_IP || a->d.fragment == FRAG_LATER)
		return;
	make_key(e, a);
	flow_table_prefetch_slot(e->flows, a->hash);
}

static void count_ip(struct engine *e, struct ahead *a, uint32_t wire_len)
{
	struct counter_totals *t = counters_totals(e->counters);
	struct decoded *d = &a->d;
	struct flow *flow;
	int dir;

	if (d->fragment == FRAG_FIRST)
		frag_remember(e, d);
	else if (d->fragment == FRAG_LATER) {
		if (!frag_recall(e, d)) {
			t->fragment_packets++;
			t->fragment_bytes += wire_len;
			return;
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
		e->alloc_failures++;
		t->no_flow_packets++;	/* counted, as unclassified, rather than lost */
		t->no_flow_bytes += wire_len;
		return;
	}
	flow_table_update(e->flows, flow, a->from, d, wire_len, e->now_us);
	dir = a->from == flow->server ? TO_CLIENT : TO_SERVER;
	flow->row->packets[dir]++;
	flow->row->bytes[dir] += wire_len;
	if (flow->tracked)
		attribute_payload(e->attributor, flow, a->from, d, e->now_us);
}

static void count_packet(struct engine *e, const struct packet *pkt, struct ahead *a)
{
	struct counter_totals *t = counters_totals(e->counters);

	t->packets++;
	t->bytes += pkt->wire_len;
	if (pkt->ts_us > e->now_us)
		e->now_us = pkt->ts_us;
	if (e->now_us >= e->next_sweep_us) {
		flow_table_expire(e->flows, e->now_us);
		e->next_sweep_us = e->now_us + SWEEP_EVERY_US;
	}
	switch (a->status) {
	case DECODE_IP:
		count_ip(e, a, pkt->wire_len);
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
			count_packet(e, &pkts[i], &ahead[i]);
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
	return flow_table_active(e->flows);
}

uint64_t engine_evicted_flows(const struct engine *e)
{
	return flow_table_evicted(e->flows);
}

uint64_t engine_alloc_failures(const struct engine *e)
{
	return e->alloc_failures;
}

/* ---- the flow log ---- */

static const char *ip_proto_name(uint8_t p, char *buf, size_t size)
{
	switch (p) {
	case 6: return "tcp";
	case 17: return "udp";
	case 1: return "icmp";
	case 58: return "icmpv6";
	default: snprintf(buf, size, "ip-%u", p); return buf;
	}
}

static void log_attribution(const struct engine *e, const struct flow *flow, FILE *out)
{
	const struct candidate_set *set;

	switch (flow->kind) {
	case FLOW_SERVICE:
		fputs("\"service\", \"service\": ", out);
		json_string(out, catalog_service(e->cat, flow->attribution)->name);
		break;
	case FLOW_GROUP:
		fputs("\"group\", \"candidates\": [", out);
		set = port_index_set(e->idx, flow->attribution);
		for (size_t i = 0; set && i < set->count; i++) {
			fputs(i ? ", " : "", out);
			json_string(out, catalog_service(e->cat, set->items[i].service)->name);
		}
		fputc(']', out);
		break;
	default:
		fputs("\"unclassified\"", out);
		break;
	}
}

static void log_flow(void *ctx, struct flow *flow, enum flow_end_reason why)
{
	const struct engine *e = ctx;
	const struct flow_key *k = &flow->key;
	uint8_t s = flow->server, c = !flow->server;
	char server[64], client[64], proto[16];
	FILE *out = e->flow_log;

	if (!out)
		return;
	fprintf(out, "{\"proto\": \"%s\", \"client\": \"%s\", \"client_port\": %u, "
		     "\"server\": \"%s\", \"server_port\": %u, ",
		ip_proto_name(k->ip_proto, proto, sizeof(proto)),
		addr_format(k->family, k->addr[c], client, sizeof(client)), k->port[c],
		addr_format(k->family, k->addr[s], server, sizeof(server)), k->port[s]);
	fprintf(out, "\"first\": %llu.%06llu, \"last\": %llu.%06llu, ",
		(unsigned long long)(flow->first_us / 1000000), (unsigned long long)(flow->first_us % 1000000),
		(unsigned long long)(flow->last_us / 1000000), (unsigned long long)(flow->last_us % 1000000));
	fprintf(out, "\"packets_to_server\": %llu, \"bytes_to_server\": %llu, "
		     "\"packets_to_client\": %llu, \"bytes_to_client\": %llu, ",
		(unsigned long long)flow->packets[TO_SERVER], (unsigned long long)flow->bytes[TO_SERVER],
		(unsigned long long)flow->packets[TO_CLIENT], (unsigned long long)flow->bytes[TO_CLIENT]);
	fputs("\"attribution\": ", out);
	log_attribution(e, flow, out);
	fprintf(out, ", \"evidence\": \"%s\", \"end\": \"%s\"}\n",
		flow_evidence_name(flow->evidence), flow_end_reason_name(why));
}
