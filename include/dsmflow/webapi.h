/* webapi.h - which DSM package a Synology Web API name belongs to.
 *
 * The table (catalog/webapi.tsv, format in catalog/README.md) maps API name
 * prefixes ("SYNO.FileStation."), package ids ("/webman/3rdparty/<id>/")
 * and legacy CGI directories ("/webapi/DownloadStation/") to the package
 * as Synology names it and, where the port catalogue has one, to the
 * catalogue's service for that package. Like the catalogue it is loaded
 * whole or not at all ("SOURCE:LINE: message"), compiled into the binary,
 * and replaceable (--webapi FILE).
 */
#ifndef DSMFLOW_WEBAPI_H
#define DSMFLOW_WEBAPI_H

#include <stddef.h>
#include <stdio.h>

#include "dsmflow/catalog.h"
#include "dsmflow/err.h"

#define WEBAPI_CATEGORY "Web API"	/* the category of packages the catalogue lacks */

enum webapi_match {
	WEBAPI_API,	/* key is an API name prefix: longest prefix wins, case-sensitive */
	WEBAPI_PKGID,	/* key is a package id, matched whole */
	WEBAPI_CGI,	/* key is a legacy CGI directory under /webapi/, matched whole */
};

struct webapi_entry {
	unsigned char match;	/* enum webapi_match */
	const char *key;
	const char *package;	/* the package as Synology names it */
	const char *category;	/* the catalogue service's category and name, */
	const char *service;	/* or both NULL where the catalogue has none */
	const char *source;	/* the public source of the fact */
	unsigned line;		/* in the source table */
	/* set by webapi_bind(): */
	int service_id;		/* the catalogue service, or the WEBAPI_CATEGORY
				 * service made for the package */
	int dsm_core;		/* the service is the catalogue's "DSM": the name
				 * belongs to DSM itself, not to one package */
};

struct webapi_table;

struct webapi_table *webapi_load_embedded(struct dsm_err *err);
struct webapi_table *webapi_load_file(const char *path, struct dsm_err *err);
/* TSV text of len bytes; source names it in error messages. */
struct webapi_table *webapi_parse(const char *text, size_t len, const char *source,
				  struct dsm_err *err);
void webapi_free(struct webapi_table *t);

/* Checks that every catalogue service the table names exists in cat
 * ("SOURCE:LINE: no service ... in the catalogue" otherwise) and sets each
 * entry's service_id; adds to cat one service in category WEBAPI_CATEGORY
 * per package without a catalogue service (a bounded set: the table's).
 * Returns 0, or -1 with err filled and cat unchanged. */
int webapi_bind(struct webapi_table *t, struct catalog *cat, struct dsm_err *err);

/* The entry for key[0..n) under match rule m, or NULL. */
const struct webapi_entry *webapi_lookup(const struct webapi_table *t, enum webapi_match m,
					 const char *key, size_t n);

size_t webapi_count(const struct webapi_table *t);
const struct webapi_entry *webapi_entry(const struct webapi_table *t, size_t i);

/* Writes the table in its TSV format (loads back into an equal table). */
void webapi_write_tsv(const struct webapi_table *t, FILE *out);

const char *webapi_match_name(enum webapi_match m);

#endif
