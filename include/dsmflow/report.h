/* report.h - turning counters into what people and programs read: a table,
 * JSON, CSV, or Prometheus exposition text.
 *
 * Reports run off the packet path (at the end of a read, on a signal, on a
 * scrape): they may sort, allocate and format.
 */
#ifndef DSMFLOW_REPORT_H
#define DSMFLOW_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dsmflow/capture.h"
#include "dsmflow/catalog.h"
#include "dsmflow/counters.h"
#include "dsmflow/dnstable.h"
#include "dsmflow/engine.h"
#include "dsmflow/index.h"
#include "dsmflow/inspect.h"

enum report_format {
	REPORT_TABLE, REPORT_JSON, REPORT_CSV, REPORT_PROMETHEUS,
	REPORT_SUMMARY,	/* the table cut to one screen, for --interval */
	REPORT_AUDIT,		/* a sensor's audit (audit.h), as a table */
	REPORT_AUDIT_JSON,	/* ... as JSON */
};

struct report_input {
	const struct catalog *cat;
	const struct port_index *idx;
	const struct counters *counters;
	size_t active_flows;
	uint64_t evicted_flows;
	uint64_t evicted_unanswered_flows;	/* of evicted_flows */
	const struct capture_stats *capture;	/* NULL when reading files */
	const struct capture_stats *per_worker;	/* a sensor's capture threads' own, [workers] */
	size_t workers;				/* (0: one source, no per-worker figures) */
	const struct inspect_stats *inspect;	/* NULL: not reported */
	const struct dns_table_stats *dns;	/* NULL: not reported */
	uint64_t output_errors;			/* reports and logs that could not be written */
	uint64_t http_refused;			/* connections the metrics endpoint refused */
	const struct reload_stats *reload;	/* sensors; NULL: not reported */
};

/* "table", "json", "csv", "prometheus", "summary", "audit" or
 * "audit-json"; -1 when unknown. */
int report_format_parse(const char *name, enum report_format *out);

/* Writes the report; -1 when memory runs out (nothing useful was written).
 * The audit formats are not the counters': audit_write writes them. */
int report_write(enum report_format format, const struct report_input *in, FILE *out);

/* The stable, readable name of a group of candidate services: its lead
 * candidate and how many others, "DSM +30". The lead is an inbound
 * candidate before an outbound one, then the service with the fewest
 * catalogue records (the most specific), then the first in the catalogue. */
void report_group_name(const struct catalog *cat, const struct candidate_set *set, char *buf,
		       size_t size);
/* A group's category: its candidates' when they share one, else "Mixed". */
const char *report_group_category(const struct catalog *cat, const struct candidate_set *set);
/* bytes for people: "812 B", "1.2 MiB". */
const char *report_human_bytes(uint64_t bytes, char *buf, size_t size);

#endif
