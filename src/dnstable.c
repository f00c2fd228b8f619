/* dnstable.c - the bounded address -> name table of DNS answers.
 *
 * dns_table_new allocates everything: the entries, and a bucket array (a
 * power of two, at least as many buckets as entries) whose buckets hold the
 * first entry of their chain; entries chain through next. Entries are
 * named by index + 1, so 0 means none. Every entry is on one list: in use,
 * the LRU list (newest at the head); unused, the free list. Lookups hash
 * the address with a seed drawn at creation (getrandom, as flow.c), so
 * crafted answers cannot pile addresses into one chain; chains average
 * under one entry and get and put are O(1).
 *
 * A get changes nothing: the table is a function of its puts alone, so
 * that engines sharing the packets (parallel.c), which put the same answers
 * in the same order but look up different flows, hold the same table. So
 * the order is that of the answers (least recently answered first, an
 * answer refreshed moving to the head), and expiry is in packet time:
 * each put first looks at the two least recently answered entries and
 * drops those that have expired (bounded work, as redis's dictRehash), so
 * expired entries leave the table even when nobody asks for them; a get
 * does not return an expired one. When no entry is free after that, the
 * least recently answered one, which the sweep found live, makes room:
 * counted as evicted (an expired entry leaving is counted as expired).
 *
 * Decisions:
 * - TTLs are kept between MIN_TTL_S and DNS_TABLE_MAX_TTL_S. A TTL of 0
 *   ("use once, do not cache", RFC 1035 3.2.1) is stored for MIN_TTL_S: the
 *   client connects within milliseconds of the answer, and without a floor
 *   the connection the answer was for would never be named. Short TTLs
 *   (CDNs give 1 to 5 s) get the same floor for the same reason.
 * - A name longer than DNS_NAME_MAX or a family other than 4 and 6 is not
 *   stored. Names are stored lower-case.
 * - stats.entries counts the entries held: one whose TTL has passed counts
 *   until a put's sweep drops it.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "dsmflow/dnstable.h"

#define US_PER_S 1000000ull
#define MIN_TTL_S 10
#define SWEEP_PER_PUT 2
#define MAX_CAPACITY (1u << 30)

struct entry {
	uint8_t addr[16];	/* IPv4 in the first 4 bytes, rest zero */
	uint64_t expires_us;
	uint32_t next;		/* in the bucket's chain */
	uint32_t newer, older;	/* in the LRU list; the free list uses newer */
	uint8_t family;
	uint8_t name_len;
	char name[DNS_NAME_MAX + 1];
};

struct dns_table {
	struct entry *entries;
	uint32_t *buckets;
	uint32_t bucket_mask;
	uint32_t newest, oldest;	/* the LRU list */
	uint32_t free_list;
	uint32_t never_used;		/* entries [never_used..capacity] were never handed out */
	uint64_t seed;
	struct dns_table_stats stats;
	pthread_mutex_t *lock;		/* shared (dns_table_share), else NULL */
};

static void lock(const struct dns_table *t)
{
	if (t->lock)
		pthread_mutex_lock(t->lock);
}

static void unlock(const struct dns_table *t)
{
	if (t->lock)
		pthread_mutex_unlock(t->lock);
}

int dns_table_share(struct dns_table *t)
{
	if (t->lock)
		return 0;
	if (!(t->lock = malloc(sizeof(*t->lock))) || pthread_mutex_init(t->lock, NULL)) {
		free(t->lock);
		t->lock = NULL;
		return -1;
	}
	return 0;
}

static uint64_t random_seed(void)
{
	uint64_t seed;

	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed))
		seed = (uint64_t)time(NULL) * UINT64_C(0x9e3779b97f4a7c15) ^ (uint64_t)getpid();
	return seed;
}

static struct entry *at(const struct dns_table *t, uint32_t id)
{
	return &t->entries[id - 1];
}

struct dns_table *dns_table_new(size_t capacity)
{
	struct dns_table *t;
	size_t buckets = 1;

	if (capacity == 0)
		capacity = DNS_TABLE_DEFAULT_ENTRIES;
	if (capacity > MAX_CAPACITY)
		return NULL;
	while (buckets < capacity)
		buckets <<= 1;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->entries = calloc(capacity, sizeof(*t->entries));
	t->buckets = calloc(buckets, sizeof(*t->buckets));
	if (!t->entries || !t->buckets) {
		dns_table_free(t);
		return NULL;
	}
	t->bucket_mask = (uint32_t)buckets - 1;
	t->never_used = 1;	/* entries are handed out in order first: no page is touched before use */
	t->seed = random_seed();
	t->stats.capacity = capacity;
	return t;
}

void dns_table_free(struct dns_table *t)
{
	if (!t)
		return;
	if (t->lock) {
		pthread_mutex_destroy(t->lock);
		free(t->lock);
	}
	free(t->entries);
	free(t->buckets);
	free(t);
}

/* ---- the index ---- */

/* The key, as stored: family 4 reads 4 bytes of addr, family 6 reads 16. */
static int make_key(int family, const uint8_t *addr, uint8_t key[16])
{
	if (family != 4 && family != 6)
		return 0;
	memset(key, 0, 16);
	memcpy(key, addr, family == 4 ? 4 : 16);
	return 1;
}

static uint32_t bucket_of(const struct dns_table *t, int family, const uint8_t key[16])
{
	uint64_t w[2], h = t->seed ^ (uint64_t)family;

	memcpy(w, key, sizeof(w));
	for (int i = 0; i < 2; i++) {
		h = (h ^ w[i]) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	h *= 0xc4ceb9fe1a85ec53ull;	/* murmur3's finaliser: all key bits reach the low ones */
	h ^= h >> 33;
	return (uint32_t)h & t->bucket_mask;
}

static uint32_t find(const struct dns_table *t, int family, const uint8_t key[16])
{
	uint32_t id = t->buckets[bucket_of(t, family, key)];

	while (id && (at(t, id)->family != family || memcmp(at(t, id)->addr, key, 16) != 0))
		id = at(t, id)->next;
	return id;
}

static void unindex(struct dns_table *t, uint32_t id)
{
	struct entry *e = at(t, id);
	uint32_t *link = &t->buckets[bucket_of(t, e->family, e->addr)];

	while (*link != id)
		link = &at(t, *link)->next;
	*link = e->next;
}

static void index_add(struct dns_table *t, uint32_t id)
{
	struct entry *e = at(t, id);
	uint32_t *bucket = &t->buckets[bucket_of(t, e->family, e->addr)];

	e->next = *bucket;
	*bucket = id;
}

/* ---- the LRU list ---- */

static void lru_unlink(struct dns_table *t, uint32_t id)
{
	struct entry *e = at(t, id);

	if (e->newer)
		at(t, e->newer)->older = e->older;
	else
		t->newest = e->older;
	if (e->older)
		at(t, e->older)->newer = e->newer;
	else
		t->oldest = e->newer;
	e->newer = e->older = 0;
}

static void lru_push(struct dns_table *t, uint32_t id)
{
	struct entry *e = at(t, id);

	e->newer = 0;
	e->older = t->newest;
	if (t->newest)
		at(t, t->newest)->newer = id;
	else
		t->oldest = id;
	t->newest = id;
}

/* ---- entries ---- */

/* Takes an entry out of the index and the LRU list (it is not freed). */
static void drop(struct dns_table *t, uint32_t id)
{
	unindex(t, id);
	lru_unlink(t, id);
	t->stats.entries--;
}

static void release(struct dns_table *t, uint32_t id)
{
	drop(t, id);
	at(t, id)->newer = t->free_list;
	t->free_list = id;
}

/* Drops the least recently used entries that have expired, a few at most. */
static void sweep(struct dns_table *t, uint64_t now_us)
{
	for (int i = 0; i < SWEEP_PER_PUT && t->oldest; i++) {
		if (at(t, t->oldest)->expires_us > now_us)
			return;
		release(t, t->oldest);
		t->stats.expired++;
	}
}

/* An entry to fill: a free one, or else the least recently used one,
 * which is live (sweep has just dropped it if it had expired). */
static uint32_t claim(struct dns_table *t)
{
	uint32_t id = t->free_list;

	if (id) {
		t->free_list = at(t, id)->newer;
		return id;
	}
	if (t->never_used <= t->stats.capacity)
		return t->never_used++;
	id = t->oldest;
	drop(t, id);
	t->stats.evicted++;
	return id;
}

static void set_answer(struct entry *e, const char *name, size_t name_len, uint32_t ttl,
		       uint64_t now_us)
{
	if (ttl > DNS_TABLE_MAX_TTL_S)
		ttl = DNS_TABLE_MAX_TTL_S;
	if (ttl < MIN_TTL_S)
		ttl = MIN_TTL_S;
	e->expires_us = now_us + ttl * US_PER_S;
	for (size_t i = 0; i < name_len; i++) {
		char ch = name[i];

		e->name[i] = ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
	}
	e->name[name_len] = '\0';
	e->name_len = (uint8_t)name_len;
}

static void put(struct dns_table *t, int family, const uint8_t *addr, const char *name,
		size_t name_len, uint32_t ttl, uint64_t now_us);

void dns_table_put(struct dns_table *t, int family, const uint8_t *addr, const char *name,
		   size_t name_len, uint32_t ttl, uint64_t now_us)
{
	lock(t);
	put(t, family, addr, name, name_len, ttl, now_us);
	unlock(t);
}

static void put(struct dns_table *t, int family, const uint8_t *addr, const char *name,
		size_t name_len, uint32_t ttl, uint64_t now_us)
{
	uint8_t key[16];
	uint32_t id;

	if (!make_key(family, addr, key) || name_len > DNS_NAME_MAX)
		return;
	sweep(t, now_us);
	id = find(t, family, key);
	if (id) {
		lru_unlink(t, id);
	} else {
		id = claim(t);
		memcpy(at(t, id)->addr, key, 16);
		at(t, id)->family = (uint8_t)family;
		index_add(t, id);
		t->stats.entries++;
	}
	set_answer(at(t, id), name, name_len, ttl, now_us);
	lru_push(t, id);
	t->stats.inserted++;
}

const char *dns_table_get(const struct dns_table *t, int family, const uint8_t *addr, uint64_t now_us)
{
	uint8_t key[16];
	uint32_t id;

	if (!make_key(family, addr, key))
		return NULL;
	id = find(t, family, key);
	if (!id || at(t, id)->expires_us <= now_us)
		return NULL;	/* (an expired entry stays until a put's sweep drops it) */
	return at(t, id)->name;
}

size_t dns_table_copy(struct dns_table *t, int family, const uint8_t *addr, uint64_t now_us,
		      char *name)
{
	const char *found;
	size_t len = 0;

	lock(t);
	if ((found = dns_table_get(t, family, addr, now_us))) {
		len = strlen(found);
		memcpy(name, found, len + 1);
	}
	unlock(t);
	return len;
}

void dns_table_stats(const struct dns_table *t, struct dns_table_stats *out)
{
	lock(t);
	*out = t->stats;
	unlock(t);
}
