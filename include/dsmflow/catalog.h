/* catalog.h - the DSM port catalogue: services and their (protocol, port) records.
 *
 * A catalogue is loaded whole or not at all: the loaders return NULL and a
 * "SOURCE:LINE: message" error on the first bad line, never a partial table.
 * The format is documented in catalog/README.md.
 */
#ifndef DSMFLOW_CATALOG_H
#define DSMFLOW_CATALOG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dsmflow/err.h"

enum dsm_proto {
	DSM_PROTO_TCP,
	DSM_PROTO_UDP,
	DSM_PROTO_ICMP,	/* ICMP and ICMPv6 alike: the article does not tell them apart */
	DSM_PROTO_COUNT
};

/* Which side of a connection the catalogued port is on. */
enum dsm_role {
	DSM_ROLE_INBOUND = 1,	/* the NAS's own port: it listens on it (or, FTP tcp/20, sends from it) */
	DSM_ROLE_OUTBOUND = 2,	/* the remote peer's port: the NAS connects out to it */
};

enum dsm_match {
	DSM_MATCH_STATIC,	/* the port alone identifies the service */
	DSM_MATCH_DYNAMIC,	/* only a connection announced by a tracked protocol (FTP passive data) */
};

struct dsm_service {
	const char *category;
	const char *name;
};

struct dsm_record {
	uint16_t service;	/* index into the catalogue's services */
	uint8_t proto;		/* enum dsm_proto */
	uint8_t role;		/* enum dsm_role */
	uint8_t match;		/* enum dsm_match */
	uint8_t footnote;	/* the article's footnote number, 0 for none */
	uint16_t first_port;	/* 0 and 0 for ICMP */
	uint16_t last_port;
	const char *label;	/* the article's parenthesised text, "" for none */
	const char *note;	/* the footnote's text, "" for none */
	const char *domains;	/* comma-separated domains of the footnote, "" for none */
	unsigned line;		/* line in the source, 0 for --port entries */
};

struct catalog;

/* The catalogue compiled into the binary (catalog/dsm-ports.tsv). */
struct catalog *catalog_load_embedded(struct dsm_err *err);
/* A catalogue file in the TSV format; errors name the path and line. */
struct catalog *catalog_load_file(const char *path, struct dsm_err *err);
/* TSV text of len bytes; source names it in error messages. */
struct catalog *catalog_parse(const char *text, size_t len, const char *source,
			      struct dsm_err *err);
void catalog_free(struct catalog *cat);

/* Adds a static inbound record for service_name on proto first..last (a
 * --port entry). An existing service of that name is reused, otherwise a new
 * one is created in category "Custom". Returns 0, or -1 with err filled. */
int catalog_add_port(struct catalog *cat, enum dsm_proto proto, uint16_t first_port,
		     uint16_t last_port, const char *service_name, struct dsm_err *err);

/* Returns the id of service (category, name), adding it without records when
 * it is new (a service known by other evidence than its ports, such as the Web
 * API table's packages). Returns -1 with err filled, and cat unchanged, when a
 * name is empty, '-', longer than 255 bytes or holds a control character, or
 * when memory or the 16-bit id space runs out. */
int catalog_add_service(struct catalog *cat, const char *category, const char *name,
			struct dsm_err *err);
/* Removes the services from id count on, undoing catalog_add_service() calls
 * (a batch that failed half way). Returns 0, or -1 and does nothing when one
 * of them has records or count is above the service count. */
int catalog_truncate_services(struct catalog *cat, size_t count);

/* The catalogue a reload puts in force: every service of old, keeping its
 * id (counter rows are by id), then the services of fresh that old lacks;
 * the records of fresh only. A service fresh dropped stays, without
 * records: its counts stay in reports, no new flow is given it. NULL with
 * err when memory or the 16-bit id space runs out. */
struct catalog *catalog_merge(const struct catalog *old, const struct catalog *fresh,
			      struct dsm_err *err);

size_t catalog_record_count(const struct catalog *cat);
const struct dsm_record *catalog_record(const struct catalog *cat, size_t i);
size_t catalog_service_count(const struct catalog *cat);
const struct dsm_service *catalog_service(const struct catalog *cat, size_t id);
/* Service id of (category, name), or -1. category NULL matches any. */
int catalog_find_service(const struct catalog *cat, const char *category, const char *name);

/* Writes the catalogue in its TSV file format (a round trip: the output loads
 * back into an equal catalogue) or as a JSON array of records. */
void catalog_write_tsv(const struct catalog *cat, FILE *out);
void catalog_write_json(const struct catalog *cat, FILE *out);

const char *dsm_proto_name(enum dsm_proto proto);
/* Parses "tcp", "udp" or "icmp" (n bytes, case-insensitive); -1 when unknown. */
int dsm_proto_parse(const char *s, size_t n);
const char *dsm_role_name(enum dsm_role role);
const char *dsm_match_name(enum dsm_match match);

#endif
