/* cli_lookup.c - `dsmflow lookup PROTO/PORT`: every service the catalogue
 * gives that port, through the same index the packet path uses. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "dsmflow/portspec.h"

static const char usage[] =
	"Usage: dsmflow lookup [OPTIONS] PROTO/PORT\n"
	"\n"
	"Lists the DSM services that use PROTO/PORT (e.g. tcp/5000, udp/1900, icmp),\n"
	"one per line, tab-separated: service, category, label, role, match.\n"
	"role is inbound (the NAS listens on the port) or outbound (the NAS connects\n"
	"out to it); match is static, or dynamic for ranges such as FTP passive data,\n"
	"which only count for connections announced on an FTP control connection.\n"
	"Exit status 0 when a static entry matches, 1 when nothing does or only a\n"
	"dynamic range (which is listed, with a note).\n"
	"\n"
	CLI_COMMON_HELP;

/* The labels of service's records covering spec, joined by ", ". */
static void service_labels(const struct catalog *cat, uint16_t service,
			   const struct portspec *spec, bool dynamic, char *out, size_t size)
{
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < catalog_record_count(cat); i++) {
		const struct dsm_record *r = catalog_record(cat, i);

		if (r->service != service || r->proto != spec->proto ||
		    (r->match == DSM_MATCH_DYNAMIC) != dynamic ||
		    spec->first_port < r->first_port || spec->first_port > r->last_port ||
		    !r->label[0])
			continue;
		used += (size_t)snprintf(out + used, size - used, "%s%s", used ? ", " : "", r->label);
		if (used >= size)
			break;
	}
	if (!out[0])
		snprintf(out, size, "-");
}

static void print_match(const struct catalog *cat, uint16_t service, unsigned roles,
			const struct portspec *spec, bool dynamic)
{
	const struct dsm_service *s = catalog_service(cat, service);
	char labels[256];

	service_labels(cat, service, spec, dynamic, labels, sizeof(labels));
	printf("%s\t%s\t%s\t%s\t%s\n", s->name, s->category, labels,
	       roles == (DSM_ROLE_INBOUND | DSM_ROLE_OUTBOUND) ? "inbound,outbound"
							       : dsm_role_name(roles),
	       dynamic ? "dynamic" : "static");
}

static int lookup(const struct catalog *cat, const struct port_index *idx,
		  const struct portspec *spec, const char *text)
{
	const struct candidate_set *set =
		port_index_set(idx, port_index_lookup(idx, spec->proto, spec->first_port));
	const struct dsm_record *dyn[16];
	size_t dyn_count = port_index_dynamic(idx, spec->proto, spec->first_port, dyn, 16);

	for (size_t i = 0; set && i < set->count; i++)
		print_match(cat, set->items[i].service, set->items[i].roles, spec, false);
	for (size_t i = 0; i < dyn_count && i < 16; i++)
		print_match(cat, dyn[i]->service, dyn[i]->role, spec, true);
	if (!set && dyn_count) {	/* listed, but no service is found by this port */
		fprintf(stderr, "dsmflow lookup: %s: only a dynamic range matches: it counts only "
				"for connections announced by a tracked control connection\n", text);
		return EXIT_NO_MATCH;
	}
	if (!set && !dyn_count) {
		fprintf(stderr, "dsmflow lookup: %s: no DSM service in the catalogue\n", text);
		return EXIT_NO_MATCH;
	}
	return EXIT_OK;
}

int cli_lookup(int argc, char **argv, struct cli_common *common)
{
	static const struct option options[] = {
		CLI_COMMON_LONG_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	struct catalog *cat;
	struct port_index *idx;
	struct webapi_table *api;
	struct portspec spec;
	struct dsm_err err;
	int opt, rc, status;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+h", options, NULL)) != -1)
		if (cli_shared_option("lookup", usage, opt, argv, common, &status) == CLI_OPTION_EXIT)
			return status;
	if (argc - optind != 1)
		return cli_usage_error("lookup", "expected one PROTO/PORT");
	if (portspec_parse(argv[optind], &spec, &err))
		return cli_usage_error("lookup", "%s", err.msg);
	if (spec.first_port != spec.last_port)
		return cli_usage_error("lookup", "'%s': give one port, not a range", argv[optind]);
	if (cli_load(common, &cat, &idx, &api))
		return EXIT_USAGE;
	rc = lookup(cat, idx, &spec, argv[optind]);
	webapi_free(api);
	port_index_free(idx);
	catalog_free(cat);
	return rc;
}
