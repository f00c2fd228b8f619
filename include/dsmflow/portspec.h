/* portspec.h - the command line's PROTO/PORT[-PORT] notation (tcp/5000,
 * udp/9997-9999, icmp) and --port's PROTO/PORT[-PORT]=SERVICE. */
#ifndef DSMFLOW_PORTSPEC_H
#define DSMFLOW_PORTSPEC_H

#include <stdint.h>

#include "dsmflow/catalog.h"
#include "dsmflow/err.h"

struct portspec {
	enum dsm_proto proto;
	uint16_t first_port;
	uint16_t last_port;	/* == first_port for a single port; 0, 0 for icmp */
};

/* Parses text; on error fills err with a message quoting it, returns -1. */
int portspec_parse(const char *text, struct portspec *out, struct dsm_err *err);

/* Parses "PROTO/PORT[-PORT]=SERVICE"; *service points into text. */
int portspec_parse_assignment(const char *text, struct portspec *out, const char **service,
			      struct dsm_err *err);

#endif
