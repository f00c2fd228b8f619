/* flow.c - the flow table: uthash lookup, pooled flow memory, and idle
 * expiry in packet time.
 *
 * Each timeout class keeps its flows in a list, oldest first, so that
 * expiry and eviction look at list heads only. A packet does not move its
 * flow in the list (that would touch two other flows' memory per packet,
 * two cache misses on a large table); it only updates last_us. A sweep
 * then moves a head that was touched since it was queued to the newest end
 * and looks again: a head untouched since queued is the least recently
 * used of its class, and if it has not expired no flow behind it has.
 */
#include <stdlib.h>
#include <string.h>

#include "dsmflow/flow.h"

/* uthash's default hash (Jenkins) walks the 40-byte key a byte at a time;
 * keys here are five words, so hash and compare them as words. uthash's
 * macros expand where they are used, so redefining HASH_FUNCTION and
 * HASH_KEYCMP here changes this file's only table, the flows, and no other. */
static inline uint32_t flow_key_hash(const void *key)
{
	uint64_t w[5], h = 0x9e3779b97f4a7c15ull;

	memcpy(w, key, sizeof(w));
	for (int i = 0; i < 5; i++) {
		h = (h ^ w[i]) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	return (uint32_t)h;
}

static inline int flow_key_differ(const void *a, const void *b)
{
	uint64_t x[5], y[5];

	memcpy(x, a, sizeof(x));
	memcpy(y, b, sizeof(y));
	return ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3]) | (x[4] ^ y[4])) != 0;
}

#undef HASH_FUNCTION
#define HASH_FUNCTION(keyptr, keylen, hashv) ((hashv) = flow_key_hash(keyptr))
#undef HASH_KEYCMP
#define HASH_KEYCMP(a, b, n) flow_key_differ(a, b)

#define US_PER_S 1000000ull
#define POOL_SLAB 1024

enum tcp_state { TCP_NONE, TCP_OPENING, TCP_ESTABLISHED, TCP_CLOSING };

struct timeout_list {
	struct flow *oldest, *newest;
};

struct slab {
	struct flow flows[POOL_SLAB];
	struct slab *next;
};

struct flow_table {
	struct flow_table_config config;
	struct flow *by_key;	/* uthash head */
	struct timeout_list lists[FLOW_TIMEOUT_CLASSES];
	struct flow *recent;		/* the flow found last: packets come in trains */
	struct flow *free_flows;	/* recycled, linked through ->newer */
	struct slab *slabs;
	size_t active;
	uint64_t evicted;
	flow_end_fn on_end;
	void *ctx;
};

void flow_table_default_config(struct flow_table_config *config)
{
	config->timeout_us[FLOW_TCP_ESTABLISHED] = 432000 * US_PER_S;
	config->timeout_us[FLOW_TCP_TRANSITORY] = 120 * US_PER_S;
	config->timeout_us[FLOW_UDP] = 30 * US_PER_S;
	config->timeout_us[FLOW_UDP_STREAM] = 120 * US_PER_S;
	config->timeout_us[FLOW_ICMP] = 30 * US_PER_S;
	config->timeout_us[FLOW_OTHER] = 600 * US_PER_S;
	config->max_flows = 0;
}

struct flow_table *flow_table_new(const struct flow_table_config *config, flow_end_fn on_end,
				  void *ctx)
{
	struct flow_table *table = calloc(1, sizeof(*table));

	if (!table)
		return NULL;
	table->config = *config;
	table->on_end = on_end;
	table->ctx = ctx;
	return table;
}

/* ---- timeout lists ---- */

static void list_unlink(struct flow_table *table, struct flow *flow)
{
	struct timeout_list *list = &table->lists[flow->timeout_class];

	if (flow->older)
		flow->older->newer = flow->newer;
	else
		list->oldest = flow->newer;
	if (flow->newer)
		flow->newer->older = flow->older;
	else
		list->newest = flow->older;
	flow->older = flow->newer = NULL;
}

static void list_append(struct flow_table *table, struct flow *flow)
{
	struct timeout_list *list = &table->lists[flow->timeout_class];

	flow->queued_us = flow->last_us;
	flow->older = list->newest;
	flow->newer = NULL;
	if (list->newest)
		list->newest->newer = flow;
	else
		list->oldest = flow;
	list->newest = flow;
}

/* ---- pooled memory ---- */

static struct flow *pool_get(struct flow_table *table)
{
	struct flow *flow = table->free_flows;

	if (!flow) {
		struct slab *slab = aligned_alloc(64, sizeof(*slab));

		if (!slab)
			return NULL;
		slab->next = table->slabs;
		table->slabs = slab;
		for (size_t i = 0; i < POOL_SLAB; i++) {
			slab->flows[i].newer = table->free_flows;
			table->free_flows = &slab->flows[i];
		}
		flow = table->free_flows;
	}
	table->free_flows = flow->newer;
	return flow;
}

static void pool_put(struct flow_table *table, struct flow *flow)
{
	flow->newer = table->free_flows;
	table->free_flows = flow;
}

void flow_table_end(struct flow_table *table, struct flow *flow, enum flow_end_reason why)
{
	if (table->on_end)
		table->on_end(table->ctx, flow, why);
	list_unlink(table, flow);
	HASH_DELETE(hh, table->by_key, flow);
	if (table->recent == flow)
		table->recent = NULL;
	table->active--;
	pool_put(table, flow);
}

void flow_table_free(struct flow_table *table)
{
	struct slab *slab, *next;

	if (!table)
		return;
	/* every flow ends at once: report each, then drop the whole hash rather
	 * than unlink flow by flow */
	for (int c = 0; c < FLOW_TIMEOUT_CLASSES; c++)
		for (struct flow *f = table->lists[c].oldest; f && table->on_end; f = f->newer)
			table->on_end(table->ctx, f, FLOW_END_INPUT);
	HASH_CLEAR(hh, table->by_key);
	for (slab = table->slabs; slab; slab = next) {
		next = slab->next;
		free(slab);
	}
	free(table);
}

/* ---- keys and lookup ---- */

/* Orders endpoints by address (as two native words: any total order
 * will do, it only has to be the same both ways), then port. */
static int src_is_lower(const struct decoded *pkt)
{
	uint64_t s[2], d[2];

	memcpy(s, pkt->src, sizeof(s));
	memcpy(d, pkt->dst, sizeof(d));
	if (s[0] != d[0])
		return s[0] < d[0];
	if (s[1] != d[1])
		return s[1] < d[1];
	return pkt->sport <= pkt->dport;
}

void flow_key_make(const struct decoded *pkt, struct flow_key *key, uint8_t *from)
{
	*from = src_is_lower(pkt) ? 0 : 1;
	memcpy(key->addr[*from], pkt->src, sizeof(pkt->src));
	memcpy(key->addr[!*from], pkt->dst, sizeof(pkt->dst));
	key->port[*from] = pkt->sport;
	key->port[!*from] = pkt->dport;
	key->ip_proto = pkt->ip_proto;
	key->family = pkt->family;
	key->zero = 0;
}

struct flow *flow_table_find(struct flow_table *table, const struct flow_key *key)
{
	struct flow *flow = table->recent;

	/* most packets belong to the flow of the packet before (TCP sends in
	 * trains): then the key compare is all, no hash and no chain walk */
	if (flow && !flow_key_differ(&flow->key, key))
		return flow;
	HASH_FIND(hh, table->by_key, key, sizeof(*key), flow);
	if (flow)
		table->recent = flow;
	return flow;
}

static enum flow_timeout_class initial_class(uint8_t ip_proto)
{
	switch (ip_proto) {
	case 6: return FLOW_TCP_ESTABLISHED;	/* refined by the first packet's flags */
	case 17: return FLOW_UDP;
	case 1:
	case 58: return FLOW_ICMP;
	default: return FLOW_OTHER;
	}
}

/* Moves the heads of class c touched since they were queued to the newest
 * end, until the head is one that was not: the class's least recently used.
 * Each move pays for a packet that did not move its flow. */
static struct flow *settled_head(struct flow_table *table, int c)
{
	struct flow *head;

	while ((head = table->lists[c].oldest) && head->last_us != head->queued_us) {
		list_unlink(table, head);
		list_append(table, head);
	}
	return head;
}

/* The flow idle for longest, whatever its class. */
static struct flow *oldest_idle(struct flow_table *table)
{
	struct flow *oldest = NULL;

	for (int c = 0; c < FLOW_TIMEOUT_CLASSES; c++) {
		struct flow *head = settled_head(table, c);

		if (head && (!oldest || head->last_us < oldest->last_us))
			oldest = head;
	}
	return oldest;
}

struct flow *flow_table_add(struct flow_table *table, const struct flow_key *key, uint64_t now_us)
{
	struct flow *flow;

	if (table->config.max_flows && table->active >= table->config.max_flows) {
		struct flow *victim = oldest_idle(table);

		if (victim) {
			table->evicted++;
			flow_table_end(table, victim, FLOW_END_EVICTED);
		}
	}
	flow = pool_get(table);
	if (!flow)
		return NULL;
	memset(flow, 0, sizeof(*flow));
	flow->key = *key;
	flow->first_us = flow->last_us = now_us;
	flow->timeout_class = (uint8_t)initial_class(key->ip_proto);
	HASH_ADD(hh, table->by_key, key, sizeof(flow->key), flow);
	list_append(table, flow);
	table->active++;
	return flow;
}

/* ---- per-packet update ---- */

static void update_tcp_state(struct flow *flow, uint8_t flags)
{
	if (flags & (TCP_FIN | TCP_RST))
		flow->tcp_state = TCP_CLOSING;
	else if ((flags & (TCP_SYN | TCP_ACK)) == TCP_SYN && flow->tcp_state == TCP_NONE)
		flow->tcp_state = TCP_OPENING;
	else if (flow->tcp_state != TCP_CLOSING && (flags & TCP_ACK) && !(flags & TCP_SYN))
		flow->tcp_state = TCP_ESTABLISHED;
	else if (flow->tcp_state == TCP_NONE)
		flow->tcp_state = (flags & TCP_SYN) ? TCP_OPENING : TCP_ESTABLISHED;
}

static enum flow_timeout_class class_of(const struct flow *flow)
{
	switch (flow->key.ip_proto) {
	case 6:
		return flow->tcp_state == TCP_ESTABLISHED ? FLOW_TCP_ESTABLISHED : FLOW_TCP_TRANSITORY;
	case 17:
		return flow->packets[TO_SERVER] && flow->packets[TO_CLIENT] ? FLOW_UDP_STREAM : FLOW_UDP;
	default:
		return (enum flow_timeout_class)flow->timeout_class;
	}
}

void flow_table_update(struct flow_table *table, struct flow *flow, uint8_t from,
		       const struct decoded *pkt, uint32_t wire_len, uint64_t now_us)
{
	int dir = from == flow->server ? TO_CLIENT : TO_SERVER;
	enum flow_timeout_class class;

	flow->packets[dir]++;
	flow->bytes[dir] += wire_len;
	if (now_us > flow->last_us)
		flow->last_us = now_us;
	if (pkt->ip_proto == 6 && pkt->fragment != FRAG_LATER)
		update_tcp_state(flow, pkt->tcp_flags);
	class = class_of(flow);
	if (class != flow->timeout_class) {	/* a few times in a flow's life */
		list_unlink(table, flow);
		flow->timeout_class = (uint8_t)class;
		list_append(table, flow);
	}
}

int flow_is_reused_by(const struct flow *flow, const struct decoded *pkt)
{
	return pkt->ip_proto == 6 && (pkt->tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN &&
	       flow->tcp_state == TCP_CLOSING;
}

void flow_table_expire(struct flow_table *table, uint64_t now_us)
{
	for (int c = 0; c < FLOW_TIMEOUT_CLASSES; c++) {
		struct flow *head;

		while ((head = settled_head(table, c)) && flow_is_expired(table, head, now_us))
			flow_table_end(table, head, FLOW_END_IDLE);
	}
}

int flow_is_expired(const struct flow_table *table, const struct flow *flow, uint64_t now_us)
{
	return now_us > flow->last_us &&
	       now_us - flow->last_us > table->config.timeout_us[flow->timeout_class];
}

size_t flow_table_active(const struct flow_table *table)
{
	return table->active;
}

uint64_t flow_table_evicted(const struct flow_table *table)
{
	return table->evicted;
}

const char *flow_evidence_name(enum flow_evidence evidence)
{
	static const char *const names[] = {
		[EVIDENCE_NONE] = "none", [EVIDENCE_SYN] = "syn", [EVIDENCE_EXPECTED] = "expected",
		[EVIDENCE_NAS] = "nas", [EVIDENCE_CATALOG] = "catalog",
		[EVIDENCE_LOWER_PORT] = "lower-port", [EVIDENCE_FIRST_PACKET] = "first-packet",
	};

	return (unsigned)evidence < sizeof(names) / sizeof(names[0]) ? names[evidence] : "?";
}

const char *flow_end_reason_name(enum flow_end_reason why)
{
	static const char *const names[] = {
		[FLOW_END_IDLE] = "idle", [FLOW_END_EVICTED] = "evicted",
		[FLOW_END_REUSED] = "reused", [FLOW_END_INPUT] = "end-of-input",
	};

	return (unsigned)why < sizeof(names) / sizeof(names[0]) ? names[why] : "?";
}
