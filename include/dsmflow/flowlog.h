/* flowlog.h - the JSON lines dsmflow writes about single flows: the flow
 * log (--flows, one line per ended flow) and the evidence log
 * (--evidence-log, one line per piece of payload evidence found).
 */
#ifndef DSMFLOW_FLOWLOG_H
#define DSMFLOW_FLOWLOG_H

#include <stdint.h>
#include <stdio.h>

#include "dsmflow/catalog.h"
#include "dsmflow/evidence.h"
#include "dsmflow/flow.h"
#include "dsmflow/index.h"

/* Writes `"proto": ..., "client": ..., "client_port": ..., "server": ...,
 * "server_port": ...` (no braces) for flow. */
void flowlog_tuple(FILE *out, const struct flow *flow);

/* Writes a time in microseconds as seconds with six decimals. */
void flowlog_time(FILE *out, uint64_t us);

/* One line of the flow log for flow, ending for reason why. */
void flowlog_write(FILE *out, const struct catalog *cat, const struct port_index *idx,
		   const struct evidence_store *kept, const struct flow *flow,
		   enum flow_end_reason why);

#endif
