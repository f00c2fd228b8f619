/* cli_audit.c - `dsmflow audit`: per NAS, which DSM services are in use, by
 * whom, from where, what the NAS connects out to, and which catalogued
 * services and ports saw nothing. Reads capture files as `read` does, with
 * every flow folded into the audit as it ends. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_engine.h"
#include "dsmflow/audit.h"

static const char usage[] =
	"Usage: dsmflow audit [--nas ADDR] [OPTIONS] FILE... [BPF FILTER...]\n"
	"\n"
	"Reads pcap or pcapng files (- for standard input) as `dsmflow read` does and\n"
	"reports, per NAS: the services it serves (with their clients, the top ones\n"
	"by bytes, and those from outside the local networks), what it connects out\n"
	"to, the ports it serves that no catalogue entry names, the catalogued\n"
	"services nobody used (and those that may be in use as a candidate of a\n"
	"group), and the catalogued ports that nothing in use needs. What was not\n"
	"seen over a short window may still be used. A trailing BPF filter keeps\n"
	"only the packets it passes, as with `dsmflow read`.\n"
	"\n"
	"  -f, --format FORMAT   table (default: one screen per NAS, then details),\n"
	"                        json, markdown, or html (one self-contained page:\n"
	"                        charts, sortable tables, no external resource)\n"
	"      --firewall KIND   instead of the audit, a firewall proposal for each NAS's\n"
	"                        inbound traffic: nft, iptables, ip6tables, or dsm (a\n"
	"                        checklist for DSM's own firewall). It allows what was\n"
	"                        served, from the client networks seen; always\n"
	"                        loopback, established traffic, neighbour and path MTU\n"
	"                        discovery, and DSM's web UI from the local networks\n"
	"      --aggregate V4,V6 the client networks' prefix lengths (default 24,64)\n"

	"\n"
	"Every `read` option applies. --nas names the NAS; without it, the files are\n"
	"read twice: first to find the NAS by DSM-specific evidence (it served DSM\n"
	"Web API requests on tcp/5000-5001, answered a Synology Assistant search, or\n"
	"sent frames from one of Synology's MAC prefixes),\n"
	"then to audit what was found (say --nas to be sure of the roles):\n"
	CLI_ENGINE_HELP
	CLI_COMMON_HELP
	"\n"
	"Exit status: 0 all files read, 1 a file could not be read (the audit still\n"
	"covers what was), 2 usage or catalogue error.\n";

enum { OPT_FIREWALL = OPT_ENGINE_FIRST_FREE, OPT_AGGREGATE };

struct audit_cli {
	struct engine_options engine;
	int files;		/* of the trailing arguments, the capture files */
	char *filter;		/* the rest: a BPF filter, or NULL */
	enum audit_format format;
	int firewall;			/* 1: --firewall given */
	enum firewall_kind firewall_kind;
	struct firewall_options firewall_options;
};

static int parse_firewall(struct audit_cli *c, const char *arg)
{
	static const char *const kinds[] = { "nft", "iptables", "ip6tables", "dsm" };

	for (int i = 0; i < 4; i++) {
		if (strcmp(arg, kinds[i]) == 0) {
			c->firewall = 1;
			c->firewall_kind = (enum firewall_kind)i;
			return 0;
		}
	}
	return cli_usage_error("audit", "--firewall: '%s' is not nft, iptables, ip6tables or dsm", arg);
}

static int parse_aggregate(struct audit_cli *c, const char *arg)
{
	const char *comma = strchr(arg, ',');
	uint64_t v4, v6;
	char first[8];

	if (!comma || (size_t)(comma - arg) >= sizeof(first))
		return cli_usage_error("audit", "--aggregate: '%s' is not V4LEN,V6LEN", arg);
	memcpy(first, arg, (size_t)(comma - arg));
	first[comma - arg] = '\0';
	if (cli_parse_count(first, 32, &v4) || cli_parse_count(comma + 1, 128, &v6) || v4 < 8 || v6 < 16)
		return cli_usage_error("audit", "--aggregate: '%s' is not V4LEN,V6LEN (8-32, 16-128)", arg);
	c->firewall_options.v4_len = (uint8_t)v4;
	c->firewall_options.v6_len = (uint8_t)v6;
	return 0;
}

static int audit_option(struct audit_cli *c, int opt, const char *arg)
{
	switch (opt) {
	case 'f':
		if (strcmp(arg, "table") == 0)
			c->format = AUDIT_TABLE;
		else if (strcmp(arg, "json") == 0)
			c->format = AUDIT_JSON;
		else if (strcmp(arg, "markdown") == 0)
			c->format = AUDIT_MARKDOWN;
		else if (strcmp(arg, "html") == 0)
			c->format = AUDIT_HTML;
		else
			return cli_usage_error("audit", "--format: '%s' is not table, json, markdown or html", arg);
		return 0;
	case OPT_FIREWALL:
		return parse_firewall(c, arg);
	case OPT_AGGREGATE:
		return parse_aggregate(c, arg);
	}
	return engine_option("audit", &c->engine, opt, arg);
}

static int parse_audit(int argc, char **argv, struct audit_cli *c, struct cli_common *common)
{
	static const struct option options[] = {
		CLI_COMMON_LONG_OPTIONS,
		CLI_ENGINE_LONG_OPTIONS,
		{ "firewall", required_argument, NULL, OPT_FIREWALL },
		{ "aggregate", required_argument, NULL, OPT_AGGREGATE },
		{ NULL, 0, NULL, 0 },
	};
	int opt, rc, status;

	memset(c, 0, sizeof(*c));
	engine_options_init(&c->engine);
	c->firewall_options = (struct firewall_options){ 24, 64 };
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+h" CLI_ENGINE_SHORT_OPTIONS, options, NULL)) != -1) {
		switch (cli_shared_option("audit", usage, opt, argv, common, &status)) {
		case CLI_OPTION_EXIT:
			return status == EXIT_OK ? -1 : status;
		case CLI_OPTION_HANDLED:
			continue;
		case CLI_OPTION_OWN:
			if ((rc = audit_option(c, opt, optarg)))
				return rc;
		}
	}
	if (optind >= argc)
		return cli_usage_error("audit", "no capture file given (use - for standard input)");
	c->files = cli_split_files(argc - optind, argv + optind);
	if (c->files == 0)
		return cli_no_capture_file("audit", argv[optind]);
	for (int i = optind; !c->engine.nas_count && i < optind + c->files; i++)
		if (strcmp(argv[i], "-") == 0)
			return cli_usage_error("audit", "without --nas the files are read twice (to find the "
							"NAS, then to audit it): give --nas to read standard input");
	c->filter = cli_join_words(argc - optind - c->files, argv + optind + c->files);
	return 0;
}

/* Without --nas: reads the files once to find the NAS by DSM-specific
 * evidence, and makes them the --nas of the audit proper; says what it
 * found. Returns -1 when the files could not be read or memory ran out. */
static int find_nas(struct audit_cli *c, char **paths, int count, const struct catalog *cat,
		    const struct port_index *idx, const struct webapi_table *api, uint8_t *detected_by)
{
	struct engine_options quiet;	/* no report, flow log or evidence log this time */
	struct audit *finder = audit_new(NULL, 0, c->engine.local, c->engine.local_count);
	struct engine_run run;
	char address[64];

	engine_options_init(&quiet);
	quiet.flows = c->engine.flows;
	quiet.ports_only = c->engine.ports_only;
	quiet.audit = finder;
	if (finder && engine_run_open("audit", &quiet, cat, idx, api, &run) == 0) {
		run.observe = audit_frames;	/* Synology's MAC prefixes */
		run.observe_ctx = finder;
		engine_run_read_files(&run, paths, count, c->filter);	/* the second pass says it again */
		engine_settle(run.engine);
		engine_flush(run.engine);
		engine_run_close(&run);
	}
	if (finder) {	/* a file that could not be read was said: the others still count */
		c->engine.nas_count = audit_detected(finder, c->engine.nas, detected_by, CLI_MAX_NAS);
		for (size_t i = 0; i < c->engine.nas_count; i++)
			fprintf(stderr, "dsmflow audit: found NAS %s by its traffic; give --nas %s to be sure\n",
				addr_format(c->engine.nas[i].family, c->engine.nas[i].addr, address, sizeof(address)),
				address);
		if (!c->engine.nas_count)
			fprintf(stderr, "dsmflow audit: no NAS found (no DSM Web API traffic, no Synology "
					"Assistant answer, no Synology MAC address): give --nas ADDR\n");
	}
	audit_free(finder);
	return finder ? 0 : -1;
}

/* Whether the audit has the one NAS a firewall proposal is for, of the
 * family the proposal filters; says why not. (Two rule sets with a drop
 * policy each, loaded together, would each drop what the other allows.) */
static int firewall_fits(const struct audit_cli *c)
{
	size_t n = audit_nas_count(c->engine.audit);
	int family = n == 1 ? audit_nas_family(c->engine.audit, 0) : 0;

	if (n != 1) {
		fprintf(stderr, "dsmflow audit: --firewall proposes the rules of one NAS: %zu in the input "
				"(give one address with --nas)\n", n);
		return 0;
	}
	if ((c->firewall_kind == FIREWALL_IPTABLES && family != 4) ||
	    (c->firewall_kind == FIREWALL_IP6TABLES && family != 6)) {
		fprintf(stderr, "dsmflow audit: --firewall %s: the NAS's address is IPv%d: use %s\n",
			c->firewall_kind == FIREWALL_IPTABLES ? "iptables" : "ip6tables", family,
			family == 4 ? "iptables" : "ip6tables");
		return 0;
	}
	return 1;
}

/* The audit, or the firewall proposal, to --output (replaced whole) or
 * standard output; 0, or -1 after a message. */
static int write_audit(const struct audit_cli *c, struct engine_run *run, const struct catalog *cat,
		       const struct port_index *idx)
{
	struct dsm_err err;
	FILE *out = output_file_begin(&run->report, &err);
	int rc;

	if (!out) {
		fprintf(stderr, "dsmflow audit: %s\n", err.msg);
		return -1;
	}
	rc = c->firewall ? audit_firewall(c->engine.audit, c->firewall_kind, &c->firewall_options, cat,
					  idx, out)
			 : audit_write(c->engine.audit, c->format, cat, idx, out);
	if (rc) {
		fprintf(stderr, "dsmflow audit: out of memory writing the audit\n");
		output_file_discard(&run->report);
		return -1;
	}
	if (output_file_commit(&run->report, &err)) {
		fprintf(stderr, "dsmflow audit: %s\n", err.msg);
		return -1;
	}
	return 0;
}

/* Reads, ends every flow (each folds into the audit), writes the audit. */
static int run_audit(struct audit_cli *c, char **paths, int count, const struct catalog *cat,
		     const struct port_index *idx, const struct webapi_table *api)
{
	struct engine_run run;
	int failed;

	if (engine_run_open("audit", &c->engine, cat, idx, api, &run))
		return EXIT_NO_MATCH;
	failed = engine_run_read_files(&run, paths, count, c->filter);
	engine_settle(run.engine);
	engine_flush(run.engine);
	if (engine_alloc_failures(run.engine)) {
		fprintf(stderr, "dsmflow audit: out of memory: %llu packets could not be given a flow\n",
			(unsigned long long)engine_alloc_failures(run.engine));
		failed++;
	}
	if (c->firewall && !firewall_fits(c))
		failed++;
	else if (write_audit(c, &run, cat, idx))
		failed++;
	if (engine_run_close(&run))
		failed++;
	return failed ? EXIT_NO_MATCH : EXIT_OK;
}

int cli_audit(int argc, char **argv, struct cli_common *common)
{
	struct catalog *cat;
	struct port_index *idx;
	struct webapi_table *api;
	uint8_t found_by[CLI_MAX_NAS];
	struct audit_cli c;
	int rc = parse_audit(argc, argv, &c, common), searched;

	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	searched = c.engine.nas_count == 0;
	if (cli_load(common, &cat, &idx, &api)) {
		free(c.filter);
		return EXIT_USAGE;
	}
	if (!c.engine.nas_count && find_nas(&c, argv + optind, c.files, cat, idx, api, found_by)) {
		rc = EXIT_NO_MATCH;
		goto out;
	}
	c.engine.audit = audit_new(c.engine.nas, c.engine.nas_count, c.engine.local, c.engine.local_count);
	if (c.engine.audit && searched)
		audit_set_detected(c.engine.audit, c.engine.nas, found_by, c.engine.nas_count);
	if (!c.engine.audit) {
		fprintf(stderr, "dsmflow audit: out of memory\n");
		rc = EXIT_NO_MATCH;
	} else {
		rc = run_audit(&c, argv + optind, c.files, cat, idx, api);
	}
out:
	free(c.filter);
	audit_free(c.engine.audit);
	webapi_free(api);
	port_index_free(idx);
	catalog_free(cat);
	return rc;
}
