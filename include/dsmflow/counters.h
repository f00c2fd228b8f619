/* counters.h - the per-service counters every report and metric is made of.
 *
 * A row per catalogue service, per candidate group (a shared port's set of
 * services), and per unclassified (protocol, server port). Flows hold a
 * pointer to their row, so counting a packet is two additions; rows of
 * unclassified ports are allocated when the first flow to that port appears.
 *
 * The totals are counted on their own as packets arrive, not summed from
 * rows, so that "totals = classified + unclassified + non-IP + malformed"
 * is a real check.
 */
#ifndef DSMFLOW_COUNTERS_H
#define DSMFLOW_COUNTERS_H

#include <stddef.h>
#include <stdint.h>

#include "dsmflow/flow.h"

struct counter_row {
	uint64_t flows;		/* decided flows: a pending flow counts once decided */
	uint64_t packets[2];	/* [TO_SERVER], [TO_CLIENT] */
	uint64_t bytes[2];
	uint64_t decided_by[SERVICE_EVIDENCE_KINDS];	/* flows, by what decided their service */
	uint64_t webapi_requests;	/* Web API requests of this service's package seen
					 * within the inspection budget (services only) */
	uint64_t last_us;		/* packet time of its last packet (0: none) */
	uint64_t external_flows;	/* decided flows whose client is outside the local
					 * ranges (netaddr.h; services and groups) */
};

struct counter_totals {
	uint64_t packets, bytes;		/* every packet read */
	uint64_t non_ip_packets, non_ip_bytes;
	uint64_t malformed_packets, malformed_bytes;
	uint64_t fragment_packets, fragment_bytes;	/* later fragments whose first was not seen */
	uint64_t no_flow_packets, no_flow_bytes;	/* no memory for their flow: counted in
							 * their port's unclassified row too */
	uint64_t pending_packets, pending_bytes;	/* in flows not decided yet: a gauge */
	uint64_t truncated_packets, truncated_bytes;	/* transport header cut by the snapshot
							 * (also counted where they belong) */
};

struct counters;

/* Rows for service_count services and candidate-set ids up to max_set_id. */
struct counters *counters_new(size_t service_count, size_t max_set_id);
void counters_free(struct counters *c);

/* Where rows went when counters_resize moved them. */
struct counters_moved {
	struct counter_row *old_services;
	size_t old_service_rows;
	struct counter_row *old_groups;
	size_t old_group_rows;
	struct counter_row *new_services, *new_groups;
};

/* Grows c to service_count services and set ids up to max_set_id (a
 * reload's larger catalogue), keeping every count. The service and group
 * rows move: moved tells where, for counters_moved_row() on each pointer
 * held (the flows'), and holds the old rows until counters_moved_free().
 * -1, and c unchanged, when memory runs out or a size would shrink. */
int counters_resize(struct counters *c, size_t service_count, size_t max_set_id,
		    struct counters_moved *moved);

/* counters_resize() in two steps, so that several counters grow all or
 * none (a sensor's workers): the memory first (-1 when it runs out or a
 * size would shrink: nothing changed), then the move, which cannot fail
 * (or counters_spare_free() to give the memory back unused). */
struct counters_spare {
	struct counter_row *services, *groups;
	uint8_t *service_clients, *group_clients;
	size_t service_count, max_set_id;
};
int counters_spare_make(const struct counters *c, size_t service_count, size_t max_set_id,
			struct counters_spare *spare);
void counters_resize_spare(struct counters *c, struct counters_spare *spare,
			   struct counters_moved *moved);
void counters_spare_free(struct counters_spare *spare);
/* row's place after the move (rows that did not move: row itself). */
struct counter_row *counters_moved_row(const struct counters_moved *moved, struct counter_row *row);
void counters_moved_free(struct counters_moved *moved);

/* The row a flow of this kind and id counts into (id: service id, set id, or
 * server port with ip_proto for unclassified). When memory for a new
 * unclassified port runs out, a row of flows without a row of their own
 * (counted as unclassified); NULL only for an id out of range. */
struct counter_row *counters_row(struct counters *c, enum flow_kind kind, uint16_t id,
				 uint8_t ip_proto);

/* Makes dst, made with the same sizes, equal to src: a snapshot for
 * another thread. Allocates only for unclassified ports dst has not seen
 * yet; -1 when memory runs out (dst then lacks those ports), or, dst
 * untouched, when the sizes differ. */
int counters_copy(struct counters *dst, const struct counters *src);
/* Adds src's counts to dst's (made for the same tables): rows, totals,
 * last packet times (the later), distinct clients (the union). -1 when
 * memory for a port row runs out (the others are added). */
int counters_add(struct counters *dst, const struct counters *src);

struct counter_totals *counters_totals(struct counters *c);
const struct counter_totals *counters_totals_const(const struct counters *c);

/* A decided flow's client, for the distinct-clients estimate of its
 * service or group row (hash: hll_hash of its address). */
void counters_note_client(struct counters *c, enum flow_kind kind, uint16_t id, uint64_t hash);
/* The estimate (hll.h: about 6.5%, nearly exact while small). */
uint64_t counters_clients(const struct counters *c, enum flow_kind kind, uint16_t id);

/* Read access for reports. */
size_t counters_service_count(const struct counters *c);
const struct counter_row *counters_service(const struct counters *c, size_t service);
size_t counters_max_set_id(const struct counters *c);
const struct counter_row *counters_group(const struct counters *c, size_t set_id);

/* Unclassified rows, in no particular order: calls fn for each. */
typedef void (*counters_port_fn)(void *ctx, uint8_t ip_proto, uint16_t port,
				 const struct counter_row *row);
void counters_each_unclassified(const struct counters *c, counters_port_fn fn, void *ctx);

/* Sum of a row's packets or bytes in both directions. */
uint64_t row_packets(const struct counter_row *row);
uint64_t row_bytes(const struct counter_row *row);

/* Classified (service and group rows) and unclassified (port rows, packets
 * without a flow among them, plus unmatched fragments and flows without a
 * row) sums. Pending packets are in neither: see counter_totals. */
void counters_sum(const struct counters *c, struct counter_row *classified,
		  struct counter_row *unclassified);

#endif
