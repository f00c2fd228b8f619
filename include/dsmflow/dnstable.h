/* dnstable.h - which name a DNS answer gave each address: a bounded table.
 *
 * Filled from the DNS responses dsmflow sees (dns.h), read when a new flow
 * starts: the name its server address was answered for is evidence of
 * what the flow is (a TLS connection without a server name, or a protocol
 * with no name in it). Fixed capacity, set at creation and allocated then,
 * never after: an entry lives until its TTL (capped) passes in packet time,
 * and when the table is full the least recently used entry makes room
 * (counted). Lookups and insertions are O(1).
 */
#ifndef DSMFLOW_DNSTABLE_H
#define DSMFLOW_DNSTABLE_H

#include <stddef.h>
#include <stdint.h>

#include "dsmflow/dns.h"

#define DNS_TABLE_DEFAULT_ENTRIES 8192
#define DNS_TABLE_MAX_TTL_S 86400	/* longer TTLs are cut to a day */

struct dns_table_stats {
	uint64_t inserted;	/* answers stored (new entries and refreshes) */
	uint64_t evicted;	/* live entries pushed out because the table was full */
	uint64_t expired;	/* entries whose TTL passed */
	size_t entries;		/* live entries now */
	size_t capacity;
};

struct dns_table;

/* A table of capacity entries (0: DNS_TABLE_DEFAULT_ENTRIES); NULL when
 * memory runs out. Memory: capacity * (about 300 bytes). */
struct dns_table *dns_table_new(size_t capacity);
void dns_table_free(struct dns_table *t);

/* Records that name (name_len bytes, <= DNS_NAME_MAX) was answered with
 * addr (family 4 or 6) for ttl seconds, at packet time now_us. An address
 * already present takes the new name and TTL. */
void dns_table_put(struct dns_table *t, int family, const uint8_t *addr, const char *name,
		   size_t name_len, uint32_t ttl, uint64_t now_us);

/* The name addr was last answered for, if that answer's TTL has not passed
 * at now_us; NULL otherwise. The pointer is valid until the next put. The
 * table is not changed (its state is a function of the puts alone). */
const char *dns_table_get(const struct dns_table *t, int family, const uint8_t *addr, uint64_t now_us);

/* The same, copied into name (DNS_NAME_MAX + 1 bytes): its length, 0 when
 * there is none. Safe on a shared table while other threads put. */
size_t dns_table_copy(struct dns_table *t, int family, const uint8_t *addr, uint64_t now_us,
		      char *name);

/* Makes the table one several threads use (a sensor's workers: an answer
 * one of them reads is evidence for the others' flows): from now on put,
 * copy and stats take its lock (a put or a look-up per DNS answer or new
 * flow, never per packet); get is for one thread only. -1 when the lock
 * cannot be made. */
int dns_table_share(struct dns_table *t);

void dns_table_stats(const struct dns_table *t, struct dns_table_stats *out);

#endif
