/* cli_read.c - `dsmflow read`: classify capture files and report.
 *
 * The files are one stream, in the order given; a file that cannot be read
 * (or ends mid-packet) is reported with its name and packet number, the
 * others are still read, and the report covers everything read. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dsmflow/capture.h"
#include "dsmflow/decode.h"
#include "dsmflow/engine.h"
#include "dsmflow/report.h"

#define MAX_NAS 64

static const char usage[] =
	"Usage: dsmflow read [OPTIONS] FILE...\n"
	"\n"
	"Reads pcap or pcapng files (- for standard input) as one stream, attributes\n"
	"every flow to the DSM service it belongs to, and prints per-service counters.\n"
	"Bytes are wire lengths, as tshark's frame.len.\n"
	"\n"
	"  -f, --format FORMAT   table (default), json, csv or prometheus\n"
	"  -o, --output FILE     write the report to FILE instead of standard output\n"
	"      --flows FILE      write one JSON line per flow as it ends\n"
	"      --nas CIDR        an address or prefix of the NAS (repeatable): decides\n"
	"                        which catalogue role applies (inbound when the NAS\n"
	"                        serves, outbound when it connects out)\n"
	"      --max-flows N     track at most N flows; the oldest idle one is evicted\n"
	"                        (and counted) to make room. Default: unbounded\n"
	"      --timeout-tcp-established S   idle timeouts in seconds, per flow state\n"
	"      --timeout-tcp-transitory S    (defaults like Linux conntrack's: 432000,\n"
	"      --timeout-udp S                120 for TCP opening or closing, 30, 120\n"
	"      --timeout-udp-stream S         for UDP seen both ways, 30, 600 for\n"
	"      --timeout-icmp S               other IP protocols), in packet time\n"
	"      --timeout-other S\n"
	CLI_COMMON_HELP
	"\n"
	"Exit status: 0 all files read, 1 a file could not be read (the report\n"
	"still covers what was), 2 usage or catalogue error.\n";

enum {
	OPT_FLOWS = OPT_FIRST_FREE, OPT_NAS, OPT_MAX_FLOWS, OPT_TIMEOUT_FIRST,
	/* OPT_TIMEOUT_FIRST + enum flow_timeout_class */
};

struct read_options {
	enum report_format format;
	const char *output_path;
	const char *flows_path;
	struct cidr nas[MAX_NAS];
	size_t nas_count;
	struct flow_table_config flows;
};

static int parse_count(const char *text, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (text[0] < '0' || text[0] > '9')
		return -1;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

static int read_option(struct read_options *o, int opt, const char *arg)
{
	struct dsm_err err;
	uint64_t n;

	if (opt == 'f' && report_format_parse(arg, &o->format))
		return cli_usage_error("read", "unknown format '%s' (table, json, csv or prometheus)", arg);
	if (opt == 'o')
		o->output_path = arg;
	if (opt == OPT_FLOWS)
		o->flows_path = arg;
	if (opt == OPT_NAS) {
		if (o->nas_count == MAX_NAS)
			return cli_usage_error("read", "at most %d --nas options", MAX_NAS);
		if (cidr_parse(arg, &o->nas[o->nas_count], &err))
			return cli_usage_error("read", "--nas: %s", err.msg);
		o->nas_count++;
	}
	if (opt == OPT_MAX_FLOWS) {
		if (parse_count(arg, SIZE_MAX, &n) || n == 0)
			return cli_usage_error("read", "--max-flows: '%s' is not a number of flows >= 1", arg);
		o->flows.max_flows = (size_t)n;
	}
	if (opt >= OPT_TIMEOUT_FIRST && opt < OPT_TIMEOUT_FIRST + FLOW_TIMEOUT_CLASSES) {
		if (parse_count(arg, UINT64_MAX / 1000000, &n))
			return cli_usage_error("read", "timeout '%s' is not a number of seconds", arg);
		o->flows.timeout_us[opt - OPT_TIMEOUT_FIRST] = n * 1000000;
	}
	return 0;
}

static int parse_read_options(int argc, char **argv, struct read_options *o,
			      struct cli_common *common)
{
	static const struct option options[] = {
		CLI_COMMON_LONG_OPTIONS,
		{ "format", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "flows", required_argument, NULL, OPT_FLOWS },
		{ "nas", required_argument, NULL, OPT_NAS },
		{ "max-flows", required_argument, NULL, OPT_MAX_FLOWS },
		{ "timeout-tcp-established", required_argument, NULL, OPT_TIMEOUT_FIRST + FLOW_TCP_ESTABLISHED },
		{ "timeout-tcp-transitory", required_argument, NULL, OPT_TIMEOUT_FIRST + FLOW_TCP_TRANSITORY },
		{ "timeout-udp", required_argument, NULL, OPT_TIMEOUT_FIRST + FLOW_UDP },
		{ "timeout-udp-stream", required_argument, NULL, OPT_TIMEOUT_FIRST + FLOW_UDP_STREAM },
		{ "timeout-icmp", required_argument, NULL, OPT_TIMEOUT_FIRST + FLOW_ICMP },
		{ "timeout-other", required_argument, NULL, OPT_TIMEOUT_FIRST + FLOW_OTHER },
		{ NULL, 0, NULL, 0 },
	};
	int opt, rc, status;

	memset(o, 0, sizeof(*o));
	o->format = REPORT_TABLE;
	flow_table_default_config(&o->flows);
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+hf:o:", options, NULL)) != -1) {
		switch (cli_shared_option("read", usage, opt, argv, common, &status)) {
		case CLI_OPTION_EXIT:
			return status == EXIT_OK ? -1 : status;
		case CLI_OPTION_HANDLED:
			continue;
		case CLI_OPTION_OWN:
			if ((rc = read_option(o, opt, optarg)))
				return rc;
		}
	}
	if (optind >= argc)
		return cli_usage_error("read", "no capture file given (use - for standard input)");
	return 0;
}

static void feed(void *ctx, const struct packet *pkt)
{
	engine_packet(ctx, pkt);
}

/* Reads every file into the engine; returns how many failed. */
static int read_files(struct engine *engine, char **paths, int count)
{
	int failed = 0;

	for (int i = 0; i < count; i++) {
		struct capture_file_result result;
		struct dsm_err err;

		if (capture_read_file(paths[i], feed, engine, &result, &err)) {
			fprintf(stderr, "dsmflow read: %s\n", err.msg);
			failed++;
		}
		if (result.packets && !decode_link_supported(result.link))
			fprintf(stderr, "dsmflow read: %s: link type %d is not supported; its %llu "
					"packets were counted as non-IP\n",
				paths[i], result.link, (unsigned long long)result.packets);
	}
	return failed;
}

static FILE *open_output(const char *path, const char *what)
{
	FILE *f = fopen(path, "w");

	if (!f)
		fprintf(stderr, "dsmflow read: %s: cannot write %s: %s\n", path, what, strerror(errno));
	return f;
}

static int run(const struct read_options *o, struct catalog *cat, struct port_index *idx,
	       char **paths, int count)
{
	struct engine_config config = { .flows = o->flows, .nas = o->nas, .nas_count = o->nas_count };
	FILE *report = stdout;
	struct engine *engine;
	struct dsm_err err;
	int failed, rc = EXIT_OK;

	if (o->flows_path && !(config.flow_log = open_output(o->flows_path, "the flow log")))
		return EXIT_NO_MATCH;
	if (o->output_path && !(report = open_output(o->output_path, "the report"))) {
		if (config.flow_log)
			fclose(config.flow_log);
		return EXIT_NO_MATCH;
	}
	engine = engine_new(cat, idx, &config, &err);
	if (!engine) {
		fprintf(stderr, "dsmflow read: %s\n", err.msg);
		rc = EXIT_NO_MATCH;
		goto out;
	}
	failed = read_files(engine, paths, count);
	struct report_input in = {
		.cat = cat, .idx = idx, .counters = engine_counters(engine),
		.active_flows = engine_active_flows(engine), .evicted_flows = engine_evicted_flows(engine),
	};

	engine_flush(engine);	/* log the flows still active at the end */
	if (report_write(o->format, &in, report)) {
		fprintf(stderr, "dsmflow read: out of memory writing the report\n");
		failed++;
	}
	rc = failed ? EXIT_NO_MATCH : EXIT_OK;
	engine_free(engine);
out:
	if (config.flow_log && fclose(config.flow_log))
		rc = EXIT_NO_MATCH;
	if (report != stdout && fclose(report))
		rc = EXIT_NO_MATCH;
	return rc;
}

int cli_read(int argc, char **argv, struct cli_common *common)
{
	struct read_options o;
	struct catalog *cat;
	struct port_index *idx;
	int rc = parse_read_options(argc, argv, &o, common);

	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	if (cli_load(common, &cat, &idx))
		return EXIT_USAGE;
	rc = run(&o, cat, idx, argv + optind, argc - optind);
	port_index_free(idx);
	catalog_free(cat);
	return rc;
}
