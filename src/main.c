/* main.c - the dsmflow command: global options, then one subcommand.
 *
 * Each subcommand lives in its own cli_*.c and gets the catalogue options
 * (--catalog, --port, --webapi) parsed so far; they may stand before or after
 * the subcommand's name.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <pcap/pcap.h>

#include "cli.h"
#include "dsmflow/portspec.h"
#include "dsmflow_version.h"

struct subcommand {
	const char *name;
	int (*run)(int argc, char **argv, struct cli_common *common);
	const char *summary;
};

static const struct subcommand subcommands[] = {
	{ "catalog", cli_catalog, "print the effective port catalogue" },
	{ "lookup", cli_lookup, "list the DSM services using PROTO/PORT" },
	{ "read", cli_read, "classify capture files and report per-service counters" },
	{ "audit", cli_audit, "per NAS: services in use, by whom, from where; what could close" },
	{ "live", cli_live, "classify traffic on a network interface as it passes" },
	{ "queue", cli_queue, "classify traffic inline on an NFQUEUE, accepting every packet" },
};

static void print_help(FILE *out)
{
	fputs("Usage: dsmflow [OPTIONS] COMMAND [ARGS]\n"
	      "\n"
	      "Attributes network traffic to the Synology DSM services it belongs to,\n"
	      "using the catalogue of DSM network ports.\n"
	      "\n"
	      "Commands:\n", out);
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		fprintf(out, "  %-20s  %s\n", subcommands[i].name, subcommands[i].summary);
	fputs("\n"
	      "Options (also accepted after COMMAND):\n"
	      CLI_COMMON_HELP
	      "  -V, --version         show the version\n"
	      "\n"
	      "'dsmflow COMMAND --help' explains a command's own options.\n"
	      "Exit status: 0 success, 1 nothing matched or an input failed, 2 usage,\n"
	      "catalogue or Web API table error.\n", out);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "dsmflow%s%s: ", cmd ? " " : "", cmd ? cmd : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'dsmflow%s%s --help'.\n", cmd ? " " : "", cmd ? cmd : "");
	return EXIT_USAGE;
}

int cli_common_option(struct cli_common *common, int opt, const char *arg)
{
	if (opt == OPT_CATALOG) {
		common->catalog_path = arg;
		return 0;
	}
	if (opt == OPT_WEBAPI) {
		common->webapi_path = arg;
		return 0;
	}
	if (common->port_count == CLI_MAX_PORTS) {
		cli_usage_error(NULL, "at most %d --port options", CLI_MAX_PORTS);
		return -1;
	}
	common->ports[common->port_count++] = arg;
	return 0;
}

enum cli_option_result cli_shared_option(const char *cmd, const char *usage, int opt, char **argv,
					 struct cli_common *common, int *status)
{
	switch (opt) {
	case 'h':
	case OPT_HELP:
		fputs(usage, stdout);
		*status = EXIT_OK;
		return CLI_OPTION_EXIT;
	case OPT_CATALOG:
	case OPT_PORT:
	case OPT_WEBAPI:
		if (cli_common_option(common, opt, optarg) == 0)
			return CLI_OPTION_HANDLED;
		*status = EXIT_USAGE;
		return CLI_OPTION_EXIT;
	case '?':
	case ':':
		*status = cli_usage_error(cmd, "unknown option or missing argument '%s'", argv[optind - 1]);
		return CLI_OPTION_EXIT;
	default:
		return CLI_OPTION_OWN;
	}
}

#define SUGGEST_MAX_NAME 255	/* longer names get no suggestion */

/* Whether a and b (case aside) differ by at most two edits (one when the
 * shorter has under 6 letters), or one holds the other (of 3 letters or
 * more): a name close to the one meant. */
static int close_names(const char *a, const char *b)
{
	size_t n = strlen(a), m = strlen(b), row[SUGGEST_MAX_NAME + 1];

	if (n == 0 || m == 0 || n > SUGGEST_MAX_NAME || m > SUGGEST_MAX_NAME)
		return 0;
	size_t most = (n < m ? n : m) < 6 ? 1 : 2;

	if ((m >= 3 && strcasestr(a, b)) || (n >= 3 && strcasestr(b, a)))
		return 1;
	for (size_t j = 0; j <= m; j++)
		row[j] = j;
	for (size_t i = 1; i <= n; i++) {	/* Levenshtein, one row */
		size_t diag = row[0], best;

		row[0] = i;
		best = row[0];
		for (size_t j = 1; j <= m; j++) {
			size_t up = row[j], cost = tolower((unsigned char)a[i - 1]) !=
						   tolower((unsigned char)b[j - 1]);
			size_t v = diag + cost;

			if (up + 1 < v)
				v = up + 1;
			if (row[j - 1] + 1 < v)
				v = row[j - 1] + 1;
			diag = up;
			row[j] = v;
			if (v < best)
				best = v;
		}
		if (best > most)
			return 0;
	}
	return row[m] <= most;
}

/* --port with a name the catalogue lacks makes a new service: said, with
 * the catalogue's names close to it, in case one of them was meant. */
static void say_new_service(const struct catalog *cat, const char *option, const char *name)
{
	size_t said = 0;

	if (catalog_find_service(cat, NULL, name) >= 0)
		return;
	fprintf(stderr, "dsmflow: --port %s: '%s' is not in the catalogue: it becomes a new service "
			"in category Custom", option, name);
	for (size_t id = 0; id < catalog_service_count(cat) && said < 3; id++) {
		const char *known = catalog_service(cat, id)->name;

		if (close_names(name, known))
			fprintf(stderr, "%s'%s'", said++ ? ", " : " (did you mean ", known);
	}
	fputs(said ? "?)\n" : "\n", stderr);
}

static int add_port_options(const struct cli_common *common, struct catalog *cat, int first_load,
			    struct dsm_err *err)
{
	struct portspec spec;
	const char *service;

	for (size_t i = 0; i < common->port_count; i++) {
		if (portspec_parse_assignment(common->ports[i], &spec, &service, err) == 0 && first_load)
			say_new_service(cat, common->ports[i], service);
		if (portspec_parse_assignment(common->ports[i], &spec, &service, err) ||
		    catalog_add_port(cat, spec.proto, spec.first_port, spec.last_port, service, err)) {
			char why[sizeof(err->msg)];

			snprintf(why, sizeof(why), "%s", err->msg);
			dsm_err_set(err, "--port: %s", why);
			return -1;
		}
	}
	return 0;
}

/* Loads the Web API table and binds it to cat, before the --port entries so
 * that a --port SERVICE may name a package the table added. */
static int load_webapi(const struct cli_common *common, struct catalog *cat,
		       struct webapi_table **api, struct dsm_err *err)
{
	*api = common->webapi_path ? webapi_load_file(common->webapi_path, err)
				   : webapi_load_embedded(err);
	if (*api && webapi_bind(*api, cat, err) == 0)
		return 0;
	webapi_free(*api);
	*api = NULL;
	return -1;
}

/* The catalogue as loaded, or, for a reload, merged into prev's. */
static struct catalog *load_catalog(const struct cli_common *common, const struct catalog *prev,
				    struct dsm_err *err)
{
	struct catalog *fresh = common->catalog_path ? catalog_load_file(common->catalog_path, err)
						     : catalog_load_embedded(err);
	struct catalog *merged;

	if (!fresh || !prev)
		return fresh;
	merged = catalog_merge(prev, fresh, err);
	catalog_free(fresh);
	return merged;
}

int cli_load_tables(const struct cli_common *common, const struct catalog *prev_cat,
		    const struct port_index *prev_idx, struct catalog **cat,
		    struct port_index **idx, struct webapi_table **api, struct dsm_err *err)
{
	*idx = NULL;
	*api = NULL;
	*cat = load_catalog(common, prev_cat, err);
	if (!*cat)
		return -1;
	if (load_webapi(common, *cat, api, err) || add_port_options(common, *cat, !prev_cat, err) ||
	    !(*idx = port_index_build_after(*cat, prev_idx, err))) {
		webapi_free(*api);
		*api = NULL;
		catalog_free(*cat);
		*cat = NULL;
		return -1;
	}
	return 0;
}

int cli_load(const struct cli_common *common, struct catalog **cat, struct port_index **idx,
	     struct webapi_table **api)
{
	struct dsm_err err;

	if (cli_load_tables(common, NULL, NULL, cat, idx, api, &err) == 0)
		return 0;
	fprintf(stderr, "dsmflow: %s\n", err.msg);
	return -1;
}

static const struct subcommand *find_subcommand(const char *name)
{
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		if (strcmp(subcommands[i].name, name) == 0)
			return &subcommands[i];
	return NULL;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		CLI_COMMON_LONG_OPTIONS,
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_common common = { 0 };
	const struct subcommand *sub;
	int opt;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+hV", options, NULL)) != -1) {
		switch (opt) {
		case 'h':
		case OPT_HELP:
			print_help(stdout);
			return EXIT_OK;
		case 'V':
			printf("dsmflow %s\n%s\n", DSMFLOW_VERSION, pcap_lib_version());
			return EXIT_OK;
		case OPT_CATALOG:
		case OPT_PORT:
		case OPT_WEBAPI:
			if (cli_common_option(&common, opt, optarg))
				return EXIT_USAGE;
			break;
		default:
			return cli_usage_error(NULL, "unknown option or missing argument '%s'",
					       argv[optind - 1]);
		}
	}
	if (optind >= argc) {
		print_help(stderr);
		return EXIT_USAGE;
	}
	sub = find_subcommand(argv[optind]);
	if (!sub)
		return cli_usage_error(NULL, "unknown command '%s'", argv[optind]);
	argc -= optind;
	argv += optind;
	optind = 0;	/* 0, not 1: makes glibc getopt start afresh on the new argv */
	return sub->run(argc, argv, &common);
}
