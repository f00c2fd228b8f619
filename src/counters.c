/* counters.c - counter rows and totals; see counters.h. */
#include <stdlib.h>
#include <string.h>

#include <uthash.h>

#include "dsmflow/counters.h"
#include "dsmflow/hll.h"

struct port_row {
	UT_hash_handle hh;
	uint32_t key;	/* ip_proto << 16 | port */
	struct counter_row row;
};

struct counters {
	uint8_t *service_clients;	/* [service * HLL_REGISTERS]: distinct clients */
	uint8_t *group_clients;		/* [set id * HLL_REGISTERS] */
	struct counter_row *services;
	size_t service_count;
	struct counter_row *groups;	/* [0..max_set_id] */
	size_t max_set_id;
	struct port_row *ports;
	struct counter_row no_row;	/* flows whose port row could not be allocated */
	struct counter_totals totals;
};

struct counters *counters_new(size_t service_count, size_t max_set_id)
{
	struct counters *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->services = calloc(service_count + 1, sizeof(*c->services));
	c->groups = calloc(max_set_id + 1, sizeof(*c->groups));
	c->service_clients = calloc(service_count + 1, HLL_REGISTERS);
	c->group_clients = calloc(max_set_id + 1, HLL_REGISTERS);
	if (!c->services || !c->groups || !c->service_clients || !c->group_clients) {
		counters_free(c);
		return NULL;
	}
	c->service_count = service_count;
	c->max_set_id = max_set_id;
	return c;
}

int counters_spare_make(const struct counters *c, size_t service_count, size_t max_set_id,
			struct counters_spare *spare)
{
	memset(spare, 0, sizeof(*spare));
	if (service_count < c->service_count || max_set_id < c->max_set_id)
		return -1;	/* rows are never dropped */
	spare->services = calloc(service_count + 1, sizeof(*spare->services));
	spare->groups = calloc(max_set_id + 1, sizeof(*spare->groups));
	spare->service_clients = calloc(service_count + 1, HLL_REGISTERS);
	spare->group_clients = calloc(max_set_id + 1, HLL_REGISTERS);
	spare->service_count = service_count;
	spare->max_set_id = max_set_id;
	if (!spare->services || !spare->groups || !spare->service_clients || !spare->group_clients) {
		counters_spare_free(spare);
		return -1;
	}
	return 0;
}

void counters_spare_free(struct counters_spare *spare)
{
	free(spare->services);
	free(spare->groups);
	free(spare->service_clients);
	free(spare->group_clients);
	memset(spare, 0, sizeof(*spare));
}

void counters_resize_spare(struct counters *c, struct counters_spare *spare,
			   struct counters_moved *moved)
{
	memcpy(spare->service_clients, c->service_clients, (c->service_count + 1) * HLL_REGISTERS);
	memcpy(spare->group_clients, c->group_clients, (c->max_set_id + 1) * HLL_REGISTERS);
	free(c->service_clients);
	free(c->group_clients);
	c->service_clients = spare->service_clients;
	c->group_clients = spare->group_clients;
	memcpy(spare->services, c->services, (c->service_count + 1) * sizeof(*spare->services));
	memcpy(spare->groups, c->groups, (c->max_set_id + 1) * sizeof(*spare->groups));
	*moved = (struct counters_moved){ c->services, c->service_count + 1, c->groups,
					  c->max_set_id + 1, spare->services, spare->groups };
	c->services = spare->services;
	c->groups = spare->groups;
	c->service_count = spare->service_count;
	c->max_set_id = spare->max_set_id;
	memset(spare, 0, sizeof(*spare));	/* the counters' now */
}

int counters_resize(struct counters *c, size_t service_count, size_t max_set_id,
		    struct counters_moved *moved)
{
	struct counters_spare spare;

	memset(moved, 0, sizeof(*moved));
	if (counters_spare_make(c, service_count, max_set_id, &spare))
		return -1;
	counters_resize_spare(c, &spare, moved);
	return 0;
}

struct counter_row *counters_moved_row(const struct counters_moved *moved, struct counter_row *row)
{
	/* as addresses: row may point into neither array */
	uintptr_t at = (uintptr_t)row, services = (uintptr_t)moved->old_services,
		  groups = (uintptr_t)moved->old_groups;

	if (at >= services && at < services + moved->old_service_rows * sizeof(*row))
		return moved->new_services + (at - services) / sizeof(*row);
	if (at >= groups && at < groups + moved->old_group_rows * sizeof(*row))
		return moved->new_groups + (at - groups) / sizeof(*row);
	return row;	/* a port row, or no_row: not moved */
}

void counters_moved_free(struct counters_moved *moved)
{
	free(moved->old_services);
	free(moved->old_groups);
	memset(moved, 0, sizeof(*moved));
}

void counters_free(struct counters *c)
{
	struct port_row *p, *tmp;

	if (!c)
		return;
	HASH_ITER(hh, c->ports, p, tmp) {
		HASH_DEL(c->ports, p);
		free(p);
	}
	free(c->services);
	free(c->groups);
	free(c->service_clients);
	free(c->group_clients);
	free(c);
}

static struct counter_row *port_row(struct counters *c, uint8_t ip_proto, uint16_t port)
{
	uint32_t key = (uint32_t)ip_proto << 16 | port;
	struct port_row *p;

	HASH_FIND(hh, c->ports, &key, sizeof(key), p);
	if (!p) {
		p = calloc(1, sizeof(*p));
		if (!p)
			return NULL;
		p->key = key;
		HASH_ADD(hh, c->ports, key, sizeof(p->key), p);
	}
	return &p->row;
}

struct counter_row *counters_row(struct counters *c, enum flow_kind kind, uint16_t id,
				 uint8_t ip_proto)
{
	switch (kind) {
	case FLOW_SERVICE: return id < c->service_count ? &c->services[id] : NULL;
	case FLOW_GROUP: return id <= c->max_set_id ? &c->groups[id] : NULL;
	default: {
		struct counter_row *row = port_row(c, ip_proto, id);

		return row ? row : &c->no_row;
	}
	}
}

int counters_copy(struct counters *dst, const struct counters *src)
{
	const struct port_row *p;
	int rc = 0;

	if (dst->service_count != src->service_count || dst->max_set_id != src->max_set_id)
		return -1;	/* made for other tables: a reload it was not told of */
	memcpy(dst->services, src->services, src->service_count * sizeof(*src->services));
	memcpy(dst->groups, src->groups, (src->max_set_id + 1) * sizeof(*src->groups));
	memcpy(dst->service_clients, src->service_clients, (src->service_count + 1) * HLL_REGISTERS);
	memcpy(dst->group_clients, src->group_clients, (src->max_set_id + 1) * HLL_REGISTERS);
	dst->totals = src->totals;
	dst->no_row = src->no_row;
	for (p = src->ports; p; p = p->hh.next) {
		struct counter_row *row = port_row(dst, (uint8_t)(p->key >> 16), (uint16_t)p->key);

		if (row)
			*row = p->row;
		else
			rc = -1;
	}
	return rc;
}

_Static_assert(sizeof(struct counter_row) == (8 + SERVICE_EVIDENCE_KINDS) * sizeof(uint64_t),
	       "add_whole_row adds every field of a row");

static void add_whole_row(struct counter_row *sum, const struct counter_row *row)
{
	sum->flows += row->flows;
	for (int d = 0; d < 2; d++) {
		sum->packets[d] += row->packets[d];
		sum->bytes[d] += row->bytes[d];
	}
	for (int k = 0; k < SERVICE_EVIDENCE_KINDS; k++)
		sum->decided_by[k] += row->decided_by[k];
	sum->webapi_requests += row->webapi_requests;
	sum->external_flows += row->external_flows;
	if (row->last_us > sum->last_us)
		sum->last_us = row->last_us;
}

static void union_registers(uint8_t *dst, const uint8_t *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (src[i] > dst[i])
			dst[i] = src[i];
}

_Static_assert(sizeof(struct counter_totals) == 14 * sizeof(uint64_t),
	       "counters_add sums the totals as uint64_t words");

int counters_add(struct counters *dst, const struct counters *src)
{
	const uint64_t *from = (const uint64_t *)&src->totals;
	uint64_t *to = (uint64_t *)&dst->totals;
	const struct port_row *p;
	int rc = 0;

	if (dst->service_count != src->service_count || dst->max_set_id != src->max_set_id)
		return -1;
	for (size_t i = 0; i < src->service_count; i++)
		add_whole_row(&dst->services[i], &src->services[i]);
	for (size_t i = 0; i <= src->max_set_id; i++)
		add_whole_row(&dst->groups[i], &src->groups[i]);
	union_registers(dst->service_clients, src->service_clients, (src->service_count + 1) * HLL_REGISTERS);
	union_registers(dst->group_clients, src->group_clients, (src->max_set_id + 1) * HLL_REGISTERS);
	for (size_t i = 0; i < sizeof(src->totals) / sizeof(uint64_t); i++)
		to[i] += from[i];	/* every total is a uint64_t sum */
	add_whole_row(&dst->no_row, &src->no_row);
	for (p = src->ports; p; p = p->hh.next) {
		struct counter_row *row = port_row(dst, (uint8_t)(p->key >> 16), (uint16_t)p->key);

		if (row)
			add_whole_row(row, &p->row);
		else
			rc = -1;
	}
	return rc;
}

static uint8_t *client_registers(const struct counters *c, enum flow_kind kind, uint16_t id)
{
	if (kind == FLOW_SERVICE && id < c->service_count)
		return c->service_clients + (size_t)id * HLL_REGISTERS;
	if (kind == FLOW_GROUP && id <= c->max_set_id)
		return c->group_clients + (size_t)id * HLL_REGISTERS;
	return NULL;
}

void counters_note_client(struct counters *c, enum flow_kind kind, uint16_t id, uint64_t hash)
{
	uint8_t *registers = client_registers(c, kind, id);

	if (registers)
		hll_add(registers, hash);
}

uint64_t counters_clients(const struct counters *c, enum flow_kind kind, uint16_t id)
{
	const uint8_t *registers = client_registers(c, kind, id);

	return registers ? hll_estimate(registers) : 0;
}

struct counter_totals *counters_totals(struct counters *c)
{
	return &c->totals;
}

const struct counter_totals *counters_totals_const(const struct counters *c)
{
	return &c->totals;
}

size_t counters_service_count(const struct counters *c)
{
	return c->service_count;
}

const struct counter_row *counters_service(const struct counters *c, size_t service)
{
	return &c->services[service];
}

size_t counters_max_set_id(const struct counters *c)
{
	return c->max_set_id;
}

const struct counter_row *counters_group(const struct counters *c, size_t set_id)
{
	return &c->groups[set_id];
}

void counters_each_unclassified(const struct counters *c, counters_port_fn fn, void *ctx)
{
	const struct port_row *p;

	for (p = c->ports; p; p = p->hh.next)
		fn(ctx, (uint8_t)(p->key >> 16), (uint16_t)p->key, &p->row);
}

uint64_t row_packets(const struct counter_row *row)
{
	return row->packets[TO_SERVER] + row->packets[TO_CLIENT];
}

uint64_t row_bytes(const struct counter_row *row)
{
	return row->bytes[TO_SERVER] + row->bytes[TO_CLIENT];
}

static void add_row(struct counter_row *sum, const struct counter_row *row)
{
	sum->flows += row->flows;
	for (int d = 0; d < 2; d++) {
		sum->packets[d] += row->packets[d];
		sum->bytes[d] += row->bytes[d];
	}
}

void counters_sum(const struct counters *c, struct counter_row *classified,
		  struct counter_row *unclassified)
{
	const struct port_row *p;

	memset(classified, 0, sizeof(*classified));
	memset(unclassified, 0, sizeof(*unclassified));
	for (size_t i = 0; i < c->service_count; i++)
		add_row(classified, &c->services[i]);
	for (size_t i = 0; i <= c->max_set_id; i++)
		add_row(classified, &c->groups[i]);
	for (p = c->ports; p; p = p->hh.next)
		add_row(unclassified, &p->row);
	add_row(unclassified, &c->no_row);
	unclassified->packets[TO_SERVER] += c->totals.fragment_packets;	/* no_flow: in port rows */
	unclassified->bytes[TO_SERVER] += c->totals.fragment_bytes;
}
