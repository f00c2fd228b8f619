/* cli_catalog.c - `dsmflow catalog`: prints the effective catalogue (the
 * embedded or --catalog one plus --port entries) as TSV, JSON or a summary,
 * or with --webapi-table the effective Web API table as TSV. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
	"Usage: dsmflow catalog [--format tsv|json|summary] [OPTIONS]\n"
	"       dsmflow catalog --webapi-table [OPTIONS]\n"
	"\n"
	"Prints the effective port catalogue: the built-in one (or --catalog FILE)\n"
	"plus --port entries. tsv is the catalogue file format itself, so the output\n"
	"can be edited and given back with --catalog. The services the Web API table\n"
	"adds for packages the catalogue lacks have no ports, so they are not shown.\n"
	"\n"
	"  -f, --format FORMAT   tsv (default), json (an array of records) or\n"
	"                        summary (counts per category and of the index)\n"
	"  --webapi-table        print the effective Web API table instead (the\n"
	"                        built-in one, or --webapi FILE), as TSV in the format\n"
	"                        --webapi FILE reads\n"
	CLI_COMMON_HELP;

enum format { FORMAT_TSV, FORMAT_JSON, FORMAT_SUMMARY, FORMAT_WEBAPI };

enum { OPT_WEBAPI_TABLE = OPT_FIRST_FREE };

/* Marks the services that have records: the summary is about ports, so it
 * leaves out the record-less services the Web API table adds. NULL when out
 * of memory. */
static bool *services_with_records(const struct catalog *cat)
{
	bool *has = calloc(catalog_service_count(cat) + 1, sizeof(*has));

	for (size_t i = 0; has && i < catalog_record_count(cat); i++)
		has[catalog_record(cat, i)->service] = true;
	return has;
}

static int write_summary(const struct catalog *cat, const struct port_index *idx, FILE *out)
{
	size_t services = catalog_service_count(cat), shown = 0;
	bool *has = services_with_records(cat);

	if (!has)
		return -1;
	for (size_t i = 0; i < services; i++)
		shown += has[i];
	fprintf(out, "%zu records, %zu services, %zu distinct port candidate sets\n",
		catalog_record_count(cat), shown, port_index_set_count(idx));
	for (size_t i = 0; i < services; i++) {
		const char *category = catalog_service(cat, i)->category;
		size_t in_category = 0;
		bool first = has[i];

		for (size_t j = 0; j < services; j++) {
			if (!has[j] || strcmp(catalog_service(cat, j)->category, category) != 0)
				continue;
			first = first && j >= i;
			in_category++;
		}
		if (first)
			fprintf(out, "  %-20s %3zu services\n", category, in_category);
	}
	free(has);
	return 0;
}

/* Parses --format's argument; -1 after a usage message. */
static int parse_format(const char *arg, enum format *format)
{
	if (strcmp(arg, "tsv") == 0)
		*format = FORMAT_TSV;
	else if (strcmp(arg, "json") == 0)
		*format = FORMAT_JSON;
	else if (strcmp(arg, "summary") == 0)
		*format = FORMAT_SUMMARY;
	else {
		cli_usage_error("catalog", "unknown format '%s' (tsv, json or summary)", arg);
		return -1;
	}
	return 0;
}

/* Sets the format the options ask for and returns 0; or returns -1 with
 * *status the exit status (after --help, or a usage message: a --format
 * other than tsv does not go with --webapi-table). */
static int parse_options(int argc, char **argv, struct cli_common *common, enum format *format,
			 int *status)
{
	static const struct option options[] = {
		CLI_COMMON_LONG_OPTIONS,
		{ "format", required_argument, NULL, 'f' },
		{ "webapi-table", no_argument, NULL, OPT_WEBAPI_TABLE },
		{ NULL, 0, NULL, 0 },
	};
	bool webapi = false;
	int opt;

	*format = FORMAT_TSV;
	*status = EXIT_USAGE;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+hf:", options, NULL)) != -1) {
		enum cli_option_result r;

		if (opt == '?' && strcmp(argv[optind - 1], "--webapi") == 0) {
			cli_usage_error("catalog", "--webapi needs a FILE (the table to use); "
						   "--webapi-table prints the table");
			return -1;
		}
		r = cli_shared_option("catalog", usage, opt, argv, common, status);

		if (r == CLI_OPTION_EXIT)
			return -1;
		if (r == CLI_OPTION_HANDLED)
			continue;
		if (opt == OPT_WEBAPI_TABLE)
			webapi = true;
		else if (parse_format(optarg, format))
			return -1;
	}
	if (optind < argc) {
		cli_usage_error("catalog", "unexpected argument '%s'", argv[optind]);
		return -1;
	}
	if (webapi && *format != FORMAT_TSV) {
		cli_usage_error("catalog", "--webapi-table prints TSV only: drop --format");
		return -1;
	}
	if (webapi)
		*format = FORMAT_WEBAPI;
	*status = EXIT_OK;
	return 0;
}

int cli_catalog(int argc, char **argv, struct cli_common *common)
{
	enum format format;
	struct catalog *cat;
	struct port_index *idx;
	struct webapi_table *api;
	int status;

	if (parse_options(argc, argv, common, &format, &status))
		return status;
	if (cli_load(common, &cat, &idx, &api))
		return EXIT_USAGE;
	if (format == FORMAT_TSV)
		catalog_write_tsv(cat, stdout);
	else if (format == FORMAT_JSON)
		catalog_write_json(cat, stdout);
	else if (format == FORMAT_WEBAPI)
		webapi_write_tsv(api, stdout);
	else if (write_summary(cat, idx, stdout)) {
		fprintf(stderr, "dsmflow catalog: out of memory\n");
		status = EXIT_NO_MATCH;
	}
	webapi_free(api);
	port_index_free(idx);
	catalog_free(cat);
	return status;
}
