/* index.h - O(1) answers to "which services use PROTO/PORT".
 *
 * Per protocol a 65536-entry table maps a port to a candidate-set id; equal
 * sets are interned, so the ~30 services sharing tcp/5000 and tcp/5001 are
 * one id and one array. Dynamic records (FTP passive data) never enter the
 * table: they match only connections a tracked protocol announced, so they
 * are kept apart and asked for separately.
 */
#ifndef DSMFLOW_INDEX_H
#define DSMFLOW_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "dsmflow/catalog.h"
#include "dsmflow/err.h"

#define PORT_INDEX_NONE 0	/* set id of "no static candidates" */

struct candidate {
	uint16_t service;	/* catalogue service id */
	uint8_t roles;		/* OR of enum dsm_role over the service's records here */
};

struct candidate_set {
	uint32_t count;
	const struct candidate *items;	/* sorted by service id */
	uint32_t narrowest;		/* ports in the narrowest record covering the port:
					 * 1 for a single-port entry, more for a range; the
					 * smaller, the more specific the entry */
	uint8_t proto;			/* where the set first occurs (lowest port): */
	uint16_t port;			/* a stable handle for naming it */
};

struct port_index;

/* Builds the index of cat, which must not change while the index lives
 * (dynamic lookups point into it): add --port entries first. */
struct port_index *port_index_build(const struct catalog *cat, struct dsm_err *err);
/* The same for a reload: every set of prev keeps its id (a group's counter
 * row is by id), whether cat still gives it ports or not; new sets get new
 * ids. Every service prev's sets name must be in cat (catalog_merge). */
struct port_index *port_index_build_after(const struct catalog *cat, const struct port_index *prev,
					  struct dsm_err *err);
void port_index_free(struct port_index *idx);

/* The candidate-set id of proto/port (ICMP ignores port), PORT_INDEX_NONE if none. */
uint16_t port_index_lookup(const struct port_index *idx, enum dsm_proto proto, uint16_t port);
/* The set behind an id; NULL for PORT_INDEX_NONE or an unknown id. */
const struct candidate_set *port_index_set(const struct port_index *idx, uint16_t set_id);
/* The part of set set_id whose candidates have role (DSM_ROLE_INBOUND or
 * DSM_ROLE_OUTBOUND): with --nas, which side serves tells which role
 * applies. PORT_INDEX_NONE when no candidate has that role. */
uint16_t port_index_role_subset(const struct port_index *idx, uint16_t set_id, enum dsm_role role);
/* The part of set set_id whose candidates' catalogue domains cover the
 * server name name[0..len) (a suffix on a label boundary: the domain
 * "googleapis.com" covers "www.googleapis.com"): the set itself when all
 * do, PORT_INDEX_NONE when none does. */
uint16_t port_index_name_subset(const struct port_index *idx, uint16_t set_id, const char *name,
				size_t len);
/* Number of distinct non-empty sets, i.e. the largest valid id. */
size_t port_index_set_count(const struct port_index *idx);

/* Dynamic records covering proto/port: fills out[0..max) and returns how
 * many there are (possibly more than max). */
size_t port_index_dynamic(const struct port_index *idx, enum dsm_proto proto, uint16_t port,
			  const struct dsm_record **out, size_t max);

#endif
