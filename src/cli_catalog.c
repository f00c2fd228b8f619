/* cli_catalog.c - `dsmflow catalog`: prints the effective catalogue (the
 * embedded or --catalog one plus --port entries) as TSV, JSON or a summary. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
	"Usage: dsmflow catalog [--format tsv|json|summary] [OPTIONS]\n"
	"\n"
	"Prints the effective port catalogue: the built-in one (or --catalog FILE)\n"
	"plus --port entries. tsv is the catalogue file format itself, so the output\n"
	"can be edited and given back with --catalog.\n"
	"\n"
	"  -f, --format FORMAT   tsv (default), json (an array of records) or\n"
	"                        summary (counts per category and of the index)\n"
	CLI_COMMON_HELP;

enum format { FORMAT_TSV, FORMAT_JSON, FORMAT_SUMMARY };

static void write_summary(const struct catalog *cat, const struct port_index *idx, FILE *out)
{
	size_t services = catalog_service_count(cat);

	fprintf(out, "%zu records, %zu services, %zu distinct port candidate sets\n",
		catalog_record_count(cat), services, port_index_set_count(idx));
	for (size_t i = 0; i < services; i++) {
		const char *category = catalog_service(cat, i)->category;
		size_t in_category = 0;
		bool first = true;

		for (size_t j = 0; j < services; j++) {
			if (strcmp(catalog_service(cat, j)->category, category) != 0)
				continue;
			first = first && j >= i;
			in_category++;
		}
		if (first)
			fprintf(out, "  %-20s %3zu services\n", category, in_category);
	}
}

int cli_catalog(int argc, char **argv, struct cli_common *common)
{
	static const struct option options[] = {
		CLI_COMMON_LONG_OPTIONS,
		{ "format", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	enum format format = FORMAT_TSV;
	struct catalog *cat;
	struct port_index *idx;
	int opt, status;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+hf:", options, NULL)) != -1) {
		enum cli_option_result r = cli_shared_option("catalog", usage, opt, argv, common, &status);

		if (r == CLI_OPTION_EXIT)
			return status;
		if (r == CLI_OPTION_HANDLED)
			continue;
		if (strcmp(optarg, "tsv") == 0) {
			format = FORMAT_TSV;
		} else if (strcmp(optarg, "json") == 0) {
			format = FORMAT_JSON;
		} else if (strcmp(optarg, "summary") == 0) {
			format = FORMAT_SUMMARY;
		} else {
			return cli_usage_error("catalog", "unknown format '%s' (tsv, json or summary)",
					       optarg);
		}
	}
	if (optind < argc)
		return cli_usage_error("catalog", "unexpected argument '%s'", argv[optind]);
	if (cli_load(common, &cat, &idx))
		return EXIT_USAGE;
	if (format == FORMAT_TSV)
		catalog_write_tsv(cat, stdout);
	else if (format == FORMAT_JSON)
		catalog_write_json(cat, stdout);
	else
		write_summary(cat, idx, stdout);
	port_index_free(idx);
	catalog_free(cat);
	return EXIT_OK;
}
