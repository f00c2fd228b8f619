/* portspec.c - parsing PROTO/PORT[-PORT]; strict, because a typo in a port
 * given on the command line must not quietly look up or add another port. */
#include <string.h>

#include "dsmflow/decimal.h"
#include "dsmflow/portspec.h"

/* Decimal 0..65535 from s[0..n). */
static int parse_number(const char *s, size_t n, uint16_t *out)
{
	uint64_t value;

	if (decimal_parse(s, n, UINT16_MAX, &value))
		return -1;
	*out = (uint16_t)value;
	return 0;
}

static int parse_span(const char *text, size_t len, struct portspec *out)
{
	const char *slash = memchr(text, '/', len);
	const char *ports, *dash;
	size_t ports_len;
	int proto;

	proto = dsm_proto_parse(text, slash ? (size_t)(slash - text) : len);
	if (proto < 0)
		return -1;
	out->proto = (enum dsm_proto)proto;
	if (proto == DSM_PROTO_ICMP) {
		out->first_port = out->last_port = 0;
		return slash ? -1 : 0;
	}
	if (!slash)
		return -1;
	ports = slash + 1;
	ports_len = len - (size_t)(ports - text);
	dash = memchr(ports, '-', ports_len);
	if (!dash) {
		if (parse_number(ports, ports_len, &out->first_port))
			return -1;
		out->last_port = out->first_port;
		return 0;
	}
	if (parse_number(ports, (size_t)(dash - ports), &out->first_port) ||
	    parse_number(dash + 1, ports_len - (size_t)(dash + 1 - ports), &out->last_port))
		return -1;
	return out->first_port <= out->last_port ? 0 : -1;
}

int portspec_parse(const char *text, struct portspec *out, struct dsm_err *err)
{
	if (parse_span(text, strlen(text), out)) {
		dsm_err_set(err, "'%s' is not PROTO/PORT or PROTO/PORT-PORT "
				 "(PROTO tcp or udp, PORT 0..65535, e.g. tcp/5000), nor icmp", text);
		return -1;
	}
	return 0;
}

int portspec_parse_assignment(const char *text, struct portspec *out, const char **service,
			      struct dsm_err *err)
{
	const char *eq = strchr(text, '=');

	if (!eq || eq[1] == '\0' || parse_span(text, (size_t)(eq - text), out)) {
		dsm_err_set(err, "'%s' is not PROTO/PORT[-PORT]=SERVICE (e.g. tcp/2222=SSH/SFTP)",
			    text);
		return -1;
	}
	*service = eq + 1;
	return 0;
}
