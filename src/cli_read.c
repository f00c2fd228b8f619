/* cli_read.c - `dsmflow read`: classify capture files and report.
 *
 * The files are one stream, in the order given; a file that cannot be read
 * (or ends mid-packet) is reported with its name and packet number, the
 * others are still read, and the report covers everything read. */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_engine.h"

enum { OPT_THREADS = OPT_ENGINE_FIRST_FREE };

/* Inputs smaller than this are read by one thread: starting the others
 * would cost more than they save. */
#define THREADS_FROM_BYTES (64u << 20)
#define THREADS_DEFAULT_MAX 8

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
	"      --threads N       read with N threads sharing the flows (default: one per\n"
	"                        core, up to 8, for 64 MiB of files or more; else 1);\n"
	"                        the flow table's bound bounds them together\n"
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
		{ "threads", required_argument, NULL, OPT_THREADS },
		{ NULL, 0, NULL, 0 },
	};
	int opt, rc, status;
	uint64_t n;

	engine_options_init(o);
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+h" CLI_ENGINE_SHORT_OPTIONS, options, NULL)) != -1) {
		switch (cli_shared_option("read", usage, opt, argv, common, &status)) {
		case CLI_OPTION_EXIT:
			return status == EXIT_OK ? -1 : status;
		case CLI_OPTION_HANDLED:
			continue;
		case CLI_OPTION_OWN:
			if (opt == OPT_THREADS) {
				if (cli_parse_count(optarg, PARALLEL_MAX_WORKERS, &n) || n == 0)
					return cli_usage_error("read", "--threads '%s': a number from 1 to %d",
							       optarg, PARALLEL_MAX_WORKERS);
				o->threads = (unsigned)n;
			} else if ((rc = engine_option("read", o, opt, optarg))) {
				return rc;
			}
		}
	}
	if (optind >= argc)
		return cli_usage_error("read", "no capture file given (use - for standard input)");
	return engine_options_check("read", o, 0);
}

/* Without --threads: one per core it may run on (up to
 * THREADS_DEFAULT_MAX) when the files are regular and THREADS_FROM_BYTES
 * or more together, else one. */
static unsigned default_threads(char **paths, int files)
{
	uint64_t bytes = 0;
	struct stat st;
	cpu_set_t usable;
	int cores = sched_getaffinity(0, sizeof(usable), &usable) == 0 ? CPU_COUNT(&usable)
								    : (int)sysconf(_SC_NPROCESSORS_ONLN);

	for (int i = 0; i < files; i++) {
		if (strcmp(paths[i], "-") == 0 || stat(paths[i], &st) != 0 || !S_ISREG(st.st_mode))
			return 1;
		bytes += (uint64_t)st.st_size;
	}
	if (bytes < THREADS_FROM_BYTES || cores < 2)
		return 1;
	return cores < THREADS_DEFAULT_MAX ? (unsigned)cores : THREADS_DEFAULT_MAX;
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
	if (!o.threads)
		o.threads = default_threads(argv + optind, files);
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
