/* expect.c - the table of announced connections; see expect.h. */
#include <string.h>

#include "dsmflow/expect.h"

static unsigned slot_of(const uint8_t *addr, uint16_t port)
{
	uint32_t h = 2166136261u;	/* FNV-1a over address and port */

	for (int i = 0; i < 16; i++)
		h = (h ^ addr[i]) * 16777619u;
	h = (h ^ (port & 0xff)) * 16777619u;
	h = (h ^ (port >> 8)) * 16777619u;
	return h % EXPECT_SLOTS;
}

void expect_add(struct expect_table *table, const struct expectation *e)
{
	struct expectation *slot = &table->slots[slot_of(e->listen_addr, e->listen_port)];

	table->in_use += !slot->in_use;
	*slot = *e;
	slot->in_use = 1;
}

const struct expectation *expect_take(struct expect_table *table, uint8_t family, uint8_t ip_proto,
				      const uint8_t *addr, uint16_t port, const uint8_t *peer_addr,
				      uint64_t now_us)
{
	struct expectation *slot;

	if (table->in_use == 0)
		return NULL;	/* the common case: nothing announced */
	slot = &table->slots[slot_of(addr, port)];
	if (!slot->in_use || slot->family != family || slot->ip_proto != ip_proto ||
	    slot->listen_port != port || memcmp(slot->listen_addr, addr, 16) != 0 ||
	    memcmp(slot->peer_addr, peer_addr, 16) != 0)
		return NULL;
	slot->in_use = 0;
	table->in_use--;
	return now_us <= slot->expires_us ? slot : NULL;
}
