/* evidence.c - the bounded store of evidence values; see evidence.h.
 *
 * Entries live in one array allocated at creation, indexed by uthash on
 * (kind, value) and reference-counted; freed entries go to a free list.
 * uthash grows its bucket array only while the number of live entries
 * reaches a new high, which the capacity bounds.
 */
#include <stdlib.h>
#include <string.h>

#include <uthash.h>

#include "dsmflow/evidence.h"
#include "dsmflow/flow.h"

struct value_entry {
	UT_hash_handle hh;
	uint32_t refs;		/* 0: on the free list */
	uint32_t next_free;
	uint16_t key_len;	/* 1 + value length */
	char key[1 + EVIDENCE_VALUE_MAX + 1];	/* kind byte, value, NUL */
};

struct evidence_store {
	struct value_entry *entries;	/* [1..capacity]; 0 is "none" */
	size_t capacity;
	struct value_entry *index;
	uint32_t free_head;
	uint32_t never_used;		/* entries [never_used..capacity] were never handed out */
	uint64_t dropped;
};

struct evidence_store *evidence_store_new(size_t capacity)
{
	struct evidence_store *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->capacity = capacity ? capacity : EVIDENCE_DEFAULT_VALUES;
	s->entries = calloc(s->capacity + 1, sizeof(*s->entries));
	if (!s->entries) {
		free(s);
		return NULL;
	}
	s->never_used = 1;	/* handed out in order first: no page is touched before use */
	return s;
}

void evidence_store_free(struct evidence_store *s)
{
	if (!s)
		return;
	HASH_CLEAR(hh, s->index);
	free(s->entries);
	free(s);
}

uint32_t evidence_keep(struct evidence_store *s, uint8_t by, const char *value, size_t len)
{
	char key[1 + EVIDENCE_VALUE_MAX];
	struct value_entry *e;
	uint32_t id;

	if (len == 0)
		return 0;
	if (len > EVIDENCE_VALUE_MAX)
		len = EVIDENCE_VALUE_MAX;
	key[0] = (char)by;
	memcpy(key + 1, value, len);
	HASH_FIND(hh, s->index, key, len + 1, e);
	if (e) {
		e->refs++;
		return (uint32_t)(e - s->entries);
	}
	if (s->free_head) {
		id = s->free_head;
		s->free_head = s->entries[id].next_free;
	} else if (s->never_used <= s->capacity) {
		id = s->never_used++;
	} else {
		s->dropped++;
		return 0;
	}
	e = &s->entries[id];
	e->refs = 1;
	e->key_len = (uint16_t)(len + 1);
	memcpy(e->key, key, len + 1);
	e->key[len + 1] = '\0';
	HASH_ADD(hh, s->index, key, e->key_len, e);
	return id;
}

void evidence_release(struct evidence_store *s, uint32_t id)
{
	struct value_entry *e;

	if (!id || id > s->capacity)
		return;
	e = &s->entries[id];
	if (!e->refs || --e->refs)
		return;
	HASH_DEL(s->index, e);
	e->next_free = s->free_head;
	s->free_head = id;
}

const char *evidence_value(const struct evidence_store *s, uint32_t id, uint8_t *by)
{
	const struct value_entry *e;

	if (!s || !id || id > s->capacity || !s->entries[id].refs)
		return NULL;
	e = &s->entries[id];
	*by = (uint8_t)e->key[0];
	return e->key + 1;
}

uint64_t evidence_dropped(const struct evidence_store *s)
{
	return s ? s->dropped : 0;
}

const char *service_evidence_name(uint8_t by)
{
	static const char *const names[] = {
		[SERVICE_BY_PORT] = "port", [SERVICE_BY_ANNOUNCEMENT] = "announcement",
		[SERVICE_BY_WEBAPI] = "web-api", [SERVICE_BY_SNI] = "sni", [SERVICE_BY_DNS] = "dns",
	};

	return by < sizeof(names) / sizeof(names[0]) ? names[by] : "?";
}
