/* cli_read.c - `dsmflow read`: classify capture files and report.
 *
 * The files are one stream, in the order given; a file that cannot be read
 * (or ends mid-packet) is reported with its name and packet number, the
 * others are still read, and the report covers everything read. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_engine.h"

static const char usage[] =
	"Usage: dsmflow read [OPTIONS] FILE... [BPF FILTER...]\n"
	"\n"
	"Reads pcap or pcapng files (- for standard input) as one stream, attributes\n"
	"every flow to the DSM service it belongs to, and prints per-service counters.\n"
	"Bytes are wire lengths, as tshark's frame.len. A trailing BPF filter (as\n"
	"tcpdump's: `dsmflow read x.pcap host 192.168.1.10`) keeps only the packets\n"
	"it passes; the first word that is not \"-\", a file, a path or *.pcap,\n"
	"*.pcapng or *.cap starts it.\n"
	"\n"
	CLI_ENGINE_HELP
	CLI_COMMON_HELP
	"\n"
	"Exit status: 0 all files read, 1 a file could not be read (the report\n"
	"still covers what was), 2 usage or catalogue error.\n";

static int parse_read_options(int argc, char **argv, struct engine_options *o,
			      struct cli_common *common)
{
	static const struct option options[] = {
		CLI_COMMON_LONG_OPTIONS,
		CLI_ENGINE_LONG_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	int opt, rc, status;

	engine_options_init(o);
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+h" CLI_ENGINE_SHORT_OPTIONS, options, NULL)) != -1) {
		switch (cli_shared_option("read", usage, opt, argv, common, &status)) {
		case CLI_OPTION_EXIT:
			return status == EXIT_OK ? -1 : status;
		case CLI_OPTION_HANDLED:
			continue;
		case CLI_OPTION_OWN:
			if ((rc = engine_option("read", o, opt, optarg)))
				return rc;
		}
	}
	if (optind >= argc)
		return cli_usage_error("read", "no capture file given (use - for standard input)");
	return engine_options_check("read", o, 0);
}

int cli_read(int argc, char **argv, struct cli_common *common)
{
	struct engine_options o;
	struct engine_run run;
	struct catalog *cat;
	struct port_index *idx;
	struct webapi_table *api;
	int failed, files, rc = parse_read_options(argc, argv, &o, common);
	char *filter;

	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	files = cli_split_files(argc - optind, argv + optind);
	if (files == 0)
		return cli_no_capture_file("read", argv[optind]);
	filter = cli_join_words(argc - optind - files, argv + optind + files);
	if (cli_load(common, &cat, &idx, &api)) {
		free(filter);
		return EXIT_USAGE;
	}
	rc = EXIT_NO_MATCH;
	if (engine_run_open("read", &o, cat, idx, api, &run) == 0) {
		failed = engine_run_read_files(&run, argv + optind, files, filter);
		engine_settle(run.engine);	/* the input ended: no more payload to wait for */
		if (engine_alloc_failures(run.engine)) {
			fprintf(stderr, "dsmflow read: out of memory: %llu packets could not be given a "
					"flow (counted by their destination port, unclassified)\n",
				(unsigned long long)engine_alloc_failures(run.engine));
			failed++;
		}
		if (engine_run_report(&run, NULL))
			failed++;
		if (engine_run_close(&run))
			failed++;
		rc = failed ? EXIT_NO_MATCH : EXIT_OK;
	}
	webapi_free(api);
	port_index_free(idx);
	catalog_free(cat);
	free(filter);
	return rc;
}
