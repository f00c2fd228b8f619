/* flow.c - the flow table: a hash index over pooled flow memory, and idle
 * expiry in packet time.
 *
 * The index is open addressing with linear probing over 8-byte slots, each
 * the key's 32-bit hash and the flow's id (0: empty), at most half full: a
 * lookup reads one slot line, usually, and then the one flow whose hash
 * matches. (uthash, used for the cold tables elsewhere, chains through the
 * entries themselves: a cache miss per link, and nothing to prefetch.)
 * Flows live in slabs mapped at a multiple of their size, whose first
 * entry holds the slab's number: a flow's id is its slab number and place
 * in the slab, found from its address alone.
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
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "dsmflow/flow.h"

#define US_PER_S 1000000ull
#define SLAB_FLOWS 1024		/* entry 0 is the slab's header */
#define SLAB_BYTES (SLAB_FLOWS * sizeof(struct flow))
#define INDEX_MIN_SLOTS 1024

_Static_assert(sizeof(struct flow) == 128, "a flow is two cache lines");

enum tcp_state { TCP_NONE, TCP_OPENING, TCP_ESTABLISHED, TCP_CLOSING };

struct timeout_list {
	struct flow *oldest, *newest;
};

/* The first entry of a slab, in place of a flow. */
struct slab_header {
	uint32_t number;
};

struct flow_table {
	struct flow_table_config config;
	uint64_t seed;			/* of the key hash */
	uint64_t *slots;		/* hash << 32 | flow id; 0 is empty */
	size_t slot_mask;		/* slots - 1, a power of two less one */
	struct flow **slab_base;	/* by slab number */
	uint32_t slab_count;
	struct timeout_list lists[FLOW_TIMEOUT_CLASSES];
	struct flow *recent;		/* the flow found last: packets come in trains */
	struct flow *free_flows;	/* recycled, linked through ->newer */
	size_t active;
	uint64_t evicted, evicted_unanswered;
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
	config->max_flows = (size_t)FLOW_DEFAULT_MEMORY_MIB * 1024 * 1024 / FLOW_MEMORY_EACH;
}

/* Only the index's layout depends on the seed: nothing dsmflow reports
 * does (flows end and are listed in time order, not index order). */
static uint64_t random_seed(void)
{
	uint64_t seed;

	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed))
		seed = (uint64_t)time(NULL) * UINT64_C(0x9e3779b97f4a7c15) ^ (uint64_t)getpid();
	return seed | 1;
}

struct flow_table *flow_table_new(const struct flow_table_config *config, flow_end_fn on_end,
				  void *ctx)
{
	struct flow_table *table = calloc(1, sizeof(*table));

	if (!table)
		return NULL;
	table->slots = calloc(INDEX_MIN_SLOTS, sizeof(*table->slots));
	if (!table->slots) {
		free(table);
		return NULL;
	}
	table->slot_mask = INDEX_MIN_SLOTS - 1;
	table->seed = random_seed();
	table->config = *config;
	table->on_end = on_end;
	table->ctx = ctx;
	return table;
}

/* ---- timeout lists ---- */

static struct flow *flow_of_id(const struct flow_table *table, uint32_t id);
static uint32_t flow_id(const struct flow *flow);

static void list_unlink(struct flow_table *table, struct flow *flow)
{
	struct timeout_list *list = &table->lists[flow->timeout_class];
	struct flow *older = flow->older ? flow_of_id(table, flow->older) : NULL;
	struct flow *newer = flow->newer ? flow_of_id(table, flow->newer) : NULL;

	if (older)
		older->newer = flow->newer;
	else
		list->oldest = newer;
	if (newer)
		newer->older = flow->older;
	else
		list->newest = older;
	flow->older = flow->newer = 0;
}

static void list_append(struct flow_table *table, struct flow *flow)
{
	struct timeout_list *list = &table->lists[flow->timeout_class];
	uint32_t id = flow_id(flow);

	flow->queued_us = flow->last_us;
	flow->older = list->newest ? flow_id(list->newest) : 0;
	flow->newer = 0;
	if (list->newest)
		list->newest->newer = id;
	else
		list->oldest = flow;
	list->newest = flow;
}

/* ---- pooled memory ---- */

/* SLAB_BYTES of zeroed memory at a multiple of SLAB_BYTES: twice that is
 * mapped and the ends around the aligned middle unmapped. */
static struct flow *slab_map(void)
{
	size_t len = 2 * SLAB_BYTES, head, tail;
	uintptr_t start;
	void *raw = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (raw == MAP_FAILED)
		return NULL;
	start = ((uintptr_t)raw + SLAB_BYTES - 1) & ~(uintptr_t)(SLAB_BYTES - 1);
	head = start - (uintptr_t)raw;
	tail = len - head - SLAB_BYTES;
	if (head)
		munmap(raw, head);
	if (tail)
		munmap((void *)(start + SLAB_BYTES), tail);
	return (struct flow *)start;
}

static int pool_grow(struct flow_table *table)
{
	struct flow **bases = realloc(table->slab_base, (table->slab_count + 1) * sizeof(*bases));
	struct flow *slab;
	struct slab_header *header;

	if (!bases)
		return -1;
	table->slab_base = bases;
	slab = slab_map();
	if (!slab)
		return -1;
	header = (struct slab_header *)slab;
	header->number = table->slab_count;
	bases[table->slab_count++] = slab;
	/* the new flows, in order, in front of the free list */
	for (uint32_t i = 1; i < SLAB_FLOWS - 1; i++)
		slab[i].newer = header->number * SLAB_FLOWS + i + 1;
	slab[SLAB_FLOWS - 1].newer = table->free_flows ? flow_id(table->free_flows) : 0;
	table->free_flows = &slab[1];
	return 0;
}

static struct flow *pool_get(struct flow_table *table)
{
	struct flow *flow;

	if (!table->free_flows && pool_grow(table))
		return NULL;
	flow = table->free_flows;
	table->free_flows = flow->newer ? flow_of_id(table, flow->newer) : NULL;
	return flow;
}

static void pool_put(struct flow_table *table, struct flow *flow)
{
	flow->newer = table->free_flows ? flow_id(table->free_flows) : 0;
	table->free_flows = flow;
}

static uint32_t flow_id(const struct flow *flow)
{
	const struct flow *slab = (const struct flow *)((uintptr_t)flow & ~(uintptr_t)(SLAB_BYTES - 1));
	const struct slab_header *header = (const struct slab_header *)slab;

	return header->number * SLAB_FLOWS + (uint32_t)(flow - slab);
}

/* Flow ids are never 0: entry 0 of slab 0 is the slab's header. */
static struct flow *flow_of_id(const struct flow_table *table, uint32_t id)
{
	return &table->slab_base[id / SLAB_FLOWS][id % SLAB_FLOWS];
}

static struct flow *flow_of_slot(const struct flow_table *table, uint64_t slot)
{
	return flow_of_id(table, (uint32_t)slot);
}

/* ---- the index ---- */

static uint64_t slot_of(uint32_t hash, uint32_t id)
{
	return (uint64_t)hash << 32 | id;
}

static uint32_t slot_hash(uint64_t slot)
{
	return (uint32_t)(slot >> 32);
}

static void index_put(uint64_t *slots, size_t mask, uint64_t slot)
{
	size_t i = slot_hash(slot) & mask;

	while (slots[i])
		i = (i + 1) & mask;
	slots[i] = slot;
}

/* Doubles the index once it would be over half full. */
static int index_make_room(struct flow_table *table)
{
	size_t old_count = table->slot_mask + 1, count = old_count * 2;
	uint64_t *slots;

	if ((table->active + 1) * 2 <= old_count)
		return 0;
	slots = calloc(count, sizeof(*slots));
	if (!slots)
		return -1;
	for (size_t i = 0; i < old_count; i++)
		if (table->slots[i])
			index_put(slots, count - 1, table->slots[i]);
	free(table->slots);
	table->slots = slots;
	table->slot_mask = count - 1;
	return 0;
}

/* Removes flow's slot and closes the gap: each later slot of the run that
 * may live at the gap (its home is not between the gap and itself) moves
 * back, so that probing never needs tombstones. */
static void index_remove(struct flow_table *table, const struct flow *flow)
{
	size_t mask = table->slot_mask, i = flow_key_hash(table, &flow->key) & mask, j;
	uint64_t *slots = table->slots;

	while (slots[i] && flow_of_slot(table, slots[i]) != flow)
		i = (i + 1) & mask;
	if (!slots[i])
		return;		/* not indexed: cannot happen */
	for (j = (i + 1) & mask; slots[j]; j = (j + 1) & mask) {
		size_t home = slot_hash(slots[j]) & mask;

		if (((j - home) & mask) >= ((j - i) & mask)) {
			slots[i] = slots[j];
			i = j;
		}
	}
	slots[i] = 0;
}

void flow_table_end(struct flow_table *table, struct flow *flow, enum flow_end_reason why)
{
	if (table->on_end)
		table->on_end(table->ctx, flow, why);
	list_unlink(table, flow);
	index_remove(table, flow);
	if (table->recent == flow)
		table->recent = NULL;
	table->active--;
	if (table->config.shared_active)
		atomic_fetch_sub_explicit(table->config.shared_active, 1, memory_order_relaxed);
	pool_put(table, flow);
}

void flow_table_each(struct flow_table *table, void (*fn)(void *ctx, struct flow *flow), void *ctx)
{
	for (int c = 0; c < FLOW_TIMEOUT_CLASSES; c++)
		for (struct flow *f = table->lists[c].oldest; f; f = f->newer ? flow_of_id(table, f->newer) : NULL)
			fn(ctx, f);
}

void flow_table_free(struct flow_table *table, int end_each)
{
	if (!table)
		return;
	/* every flow ends at once: report each, then drop the whole index
	 * rather than unlink flow by flow */
	for (int c = 0; c < FLOW_TIMEOUT_CLASSES && end_each; c++)
		for (struct flow *f = table->lists[c].oldest; f && table->on_end;
		     f = f->newer ? flow_of_id(table, f->newer) : NULL)
			table->on_end(table->ctx, f, FLOW_END_INPUT);
	if (table->config.shared_active)	/* its flows are gone from the sum */
		atomic_fetch_sub_explicit(table->config.shared_active, table->active, memory_order_relaxed);
	for (uint32_t i = 0; i < table->slab_count; i++)
		munmap(table->slab_base[i], SLAB_BYTES);
	free(table->slab_base);
	free(table->slots);
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
	key->tenant = pkt->tenant;
}

uint32_t flow_key_hash(const struct flow_table *table, const struct flow_key *key)
{
	uint64_t w[5], h = table->seed;

	/* the key is five words without padding: mix them as words */
	memcpy(w, key, sizeof(w));
	for (int i = 0; i < 5; i++) {
		h = (h ^ w[i]) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	return (uint32_t)h;
}

static int keys_differ(const struct flow_key *a, const struct flow_key *b)
{
	uint64_t x[5], y[5];

	memcpy(x, a, sizeof(x));
	memcpy(y, b, sizeof(y));
	return ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3]) | (x[4] ^ y[4])) != 0;
}

void flow_table_prefetch_slot(const struct flow_table *table, uint32_t hash)
{
	__builtin_prefetch(&table->slots[hash & table->slot_mask]);
}

void flow_table_prefetch_flow(const struct flow_table *table, uint32_t hash)
{
	size_t i = hash & table->slot_mask;
	uint64_t slot;

	/* the first slot of the run with this hash: almost always the flow */
	while ((slot = table->slots[i]) && slot_hash(slot) != hash)
		i = (i + 1) & table->slot_mask;
	if (slot) {
		const char *flow = (const char *)flow_of_slot(table, slot);

		__builtin_prefetch(flow, 1);
		__builtin_prefetch(flow + 64, 1);
	}
}

struct flow *flow_table_find(struct flow_table *table, const struct flow_key *key, uint32_t hash)
{
	struct flow *flow = table->recent;
	size_t i = hash & table->slot_mask;
	uint64_t slot;

	/* most packets belong to the flow of the packet before (TCP sends in
	 * trains): then the key compare is all */
	if (flow && !keys_differ(&flow->key, key))
		return flow;
	for (; (slot = table->slots[i]); i = (i + 1) & table->slot_mask) {
		if (slot_hash(slot) != hash)
			continue;
		flow = flow_of_slot(table, slot);
		if (!keys_differ(&flow->key, key))
			return table->recent = flow;
	}
	return NULL;
}

static enum flow_timeout_class initial_class(uint8_t ip_proto)
{
	switch (ip_proto) {
	case IPPROTO_TCP: return FLOW_TCP_ESTABLISHED;	/* refined by the first packet's flags */
	case IPPROTO_UDP: return FLOW_UDP;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6: return FLOW_ICMP;
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

/* The flow to drop when the table is full, as Linux conntrack's early drop:
 * the least recently used of the flows not answered (TCP opening or
 * closing, UDP seen one way), else the least recently used of all. */
static struct flow *eviction_victim(struct flow_table *table, int *unanswered)
{
	static const int early[] = { FLOW_TCP_TRANSITORY, FLOW_UDP };
	struct flow *victim = NULL;

	for (size_t i = 0; i < sizeof(early) / sizeof(early[0]); i++) {
		struct flow *head = settled_head(table, early[i]);

		if (head && (!victim || head->last_us < victim->last_us))
			victim = head;
	}
	*unanswered = victim != NULL;
	return victim ? victim : oldest_idle(table);
}

/* The flows max_flows bounds: this table's, or every sharing table's. */
static size_t active_flows(const struct flow_table *table)
{
	if (table->config.shared_active)
		return atomic_load_explicit(table->config.shared_active, memory_order_relaxed);
	return table->active;
}

struct flow *flow_table_add(struct flow_table *table, const struct flow_key *key, uint32_t hash,
			    uint64_t now_us)
{
	struct flow *flow;

	if (table->config.max_flows && active_flows(table) >= table->config.max_flows && table->active) {
		int unanswered;
		struct flow *victim = eviction_victim(table, &unanswered);

		if (victim) {
			table->evicted++;
			table->evicted_unanswered += (uint64_t)unanswered;
			flow_table_end(table, victim, FLOW_END_EVICTED);
		}
	}
	if (index_make_room(table))
		return NULL;
	flow = pool_get(table);
	if (!flow)
		return NULL;
	memset(flow, 0, sizeof(*flow));
	flow->key = *key;
	flow->first_us = flow->last_us = now_us;
	flow->timeout_class = (uint8_t)initial_class(key->ip_proto);
	index_put(table->slots, table->slot_mask, slot_of(hash, flow_id(flow)));
	list_append(table, flow);
	table->active++;
	if (table->config.shared_active)
		atomic_fetch_add_explicit(table->config.shared_active, 1, memory_order_relaxed);
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
	case IPPROTO_TCP:
		return flow->tcp_state == TCP_ESTABLISHED ? FLOW_TCP_ESTABLISHED : FLOW_TCP_TRANSITORY;
	case IPPROTO_UDP:
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
	if (pkt->ip_proto == IPPROTO_TCP && pkt->fragment != FRAG_LATER) {
		update_tcp_state(flow, pkt->tcp_flags);
		/* a server that resets refused the connection: it did not answer */
		if (dir == TO_CLIENT && !(pkt->tcp_flags & TCP_RST))
			flow->marks |= FLOW_MARK_ANSWERED;
	}
	class = class_of(flow);
	if (class != flow->timeout_class) {	/* a few times in a flow's life */
		list_unlink(table, flow);
		flow->timeout_class = (uint8_t)class;
		list_append(table, flow);
	}
}

int flow_is_reused_by(const struct flow *flow, const struct decoded *pkt)
{
	return pkt->ip_proto == IPPROTO_TCP && (pkt->tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN &&
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

uint64_t flow_table_evicted_unanswered(const struct flow_table *table)
{
	return table->evicted_unanswered;
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
