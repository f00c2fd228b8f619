/* cli_engine.c - the engine and report options shared by read, live and
 * queue, and the life of an engine with its output files. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dsmflow/decimal.h"
#include "cli_engine.h"
#include "dsmflow/audit.h"
#include "dsmflow/capture.h"
#include "dsmflow/decode.h"

#include <pcap/pcap.h>

void engine_options_init(struct engine_options *o)
{
	memset(o, 0, sizeof(*o));
	o->format = REPORT_TABLE;
	flow_table_default_config(&o->flows);
}

int cli_parse_count(const char *text, uint64_t max, uint64_t *out)
{
	return decimal_parse(text, strlen(text), max, out);
}

int engine_option(const char *cmd, struct engine_options *o, int opt, const char *arg)
{
	struct dsm_err err;
	uint64_t n;

	switch (opt) {
	case 'f':
		if (report_format_parse(arg, &o->format))
			return cli_usage_error(cmd, "unknown format '%s' (table, json, csv or prometheus; "
						    "audit or audit-json with --nas in live and queue)", arg);
		return 0;
	case 'o':
		o->output_path = arg;
		return 0;
	case OPT_LOCAL:
		if (o->local_count == CLI_MAX_NAS)
			return cli_usage_error(cmd, "--local: at most %d networks", CLI_MAX_NAS);
		if (cidr_parse(arg, &o->local[o->local_count], &err))
			return cli_usage_error(cmd, "--local: %s", err.msg);
		o->local_count++;
		return 0;
	case OPT_FLOWS:
		o->flows_path = arg;
		return 0;
	case OPT_EVIDENCE_LOG:
		o->evidence_log_path = arg;
		return 0;
	case OPT_PORTS_ONLY:
		o->ports_only = 1;
		return 0;
	case OPT_NAS:
		if (o->nas_count == CLI_MAX_NAS)
			return cli_usage_error(cmd, "at most %d --nas options", CLI_MAX_NAS);
		if (cidr_parse(arg, &o->nas[o->nas_count], &err))
			return cli_usage_error(cmd, "--nas: %s", err.msg);
		o->nas_count++;
		return 0;
	case OPT_MAX_FLOWS:
		if (cli_parse_count(arg, SIZE_MAX, &n) || n == 0)
			return cli_usage_error(cmd, "--max-flows: '%s' is not a number of flows >= 1", arg);
		o->flows.max_flows = (size_t)n;
		return 0;
	case OPT_MAX_MEMORY:
		if (cli_parse_count(arg, SIZE_MAX / (1024 * 1024), &n))
			return cli_usage_error(cmd, "--max-memory: '%s' is not a number of MiB", arg);
		o->flows.max_flows = n ? (size_t)(n * 1024 * 1024 / FLOW_MEMORY_EACH) : 0;
		if (n && !o->flows.max_flows)
			o->flows.max_flows = 1;
		return 0;
	default:
		if (opt < OPT_TIMEOUT_FIRST || opt >= OPT_TIMEOUT_FIRST + FLOW_TIMEOUT_CLASSES)
			return -1;
		if (cli_parse_count(arg, UINT64_MAX / 1000000, &n))
			return cli_usage_error(cmd, "timeout '%s' is not a number of seconds", arg);
		o->flows.timeout_us[opt - OPT_TIMEOUT_FIRST] = n * 1000000;
		return 0;
	}
}

/* A log: standard output for "-", else path, created, and appended to or
 * truncated. */
static FILE *open_output(const char *cmd, const char *path, int append, const char *what)
{
	FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, append ? "a" : "w");

	if (!f)
		fprintf(stderr, "dsmflow %s: %s: cannot write %s: %s\n", cmd, path, what, strerror(errno));
	return f;
}

/* --threads N: N engines sharing the packets, each logging into its
 * worker's streams, their flow tables bounded together (a table adding a
 * flow past the bound evicts one of its own). Each has the inspection pool,
 * evidence store and DNS table of one engine: at every packet an engine
 * inspects a subset of what one engine would, so it runs out only where
 * one engine would have run out first. */
static int make_sharing(struct engine_run *run, unsigned count, const struct engine_config *config,
			struct dsm_err *err)
{
	if (!(run->parallel = parallel_new(count, run->flow_log, run->evidence_log, err)))
		return -1;
	for (unsigned i = 0; i < count; i++) {
		struct engine_config share = *config;

		share.flow_log = parallel_flow_log(run->parallel, i);
		share.evidence_log = parallel_evidence_log(run->parallel, i);
		share.flows.shared_active = &run->active_flows;
		if (!(run->engines[i] = engine_new(run->cat, run->idx, &share, err)))
			return -1;
		run->engine_count = i + 1;
		engine_share(run->engines[i], i, count);
	}
	run->engine = run->engines[0];
	return 0;
}

/* A sensor's workers: engines fed by capture threads of their own (the
 * kernel splits the packets by address pair), each logging into line logs
 * of its own, feeding the one audit under its lock and the one DNS table
 * under its own (an answer one worker reads names the servers of the
 * others' flows), their flow tables bounded together. */
static int make_workers(struct engine_run *run, unsigned count, const struct engine_config *config,
			struct dsm_err *err)
{
	pthread_mutex_init(&run->log_lock, NULL);
	pthread_mutex_init(&run->audit_lock, NULL);
	run->workers = count;
	if (!(run->worker_logs = calloc(2 * (size_t)count, sizeof(*run->worker_logs))) ||
	    !(run->shared_dns = dns_table_new(config->dns_entries)) || dns_table_share(run->shared_dns)) {
		dsm_err_set(err, "out of memory for the capture threads");
		return -1;
	}
	for (unsigned i = 0; i < count; i++) {
		struct engine_config own = *config;
		struct line_log *logs = &run->worker_logs[2 * i];

		if (line_log_open(&logs[0], run->flow_log, &run->log_lock) ||
		    line_log_open(&logs[1], run->evidence_log, &run->log_lock)) {
			dsm_err_set(err, "out of memory for the capture threads' logs");
			return -1;
		}
		own.flow_log = logs[0].stream;
		own.evidence_log = logs[1].stream;
		own.flows.shared_active = &run->active_flows;
		own.audit_lock = &run->audit_lock;
		own.shared_dns = run->shared_dns;
		if (!(run->engines[i] = engine_new(run->cat, run->idx, &own, err)))
			return -1;
		run->engine_count = i + 1;
	}
	run->engine = run->engines[0];
	run->adding_up = 1;
	return 0;
}

void engine_run_flush_worker_logs(struct engine_run *run, unsigned i)
{
	line_log_flush(&run->worker_logs[2 * i]);
	line_log_flush(&run->worker_logs[2 * i + 1]);
}

/* The engines (the reading threads' or the workers') log into the run's
 * logs directly from now on: no other thread runs. */
static void log_directly(struct engine_run *run)
{
	for (unsigned i = 0; i < run->engine_count; i++)
		engine_set_logs(run->engines[i], run->flow_log, run->evidence_log);
	for (unsigned i = 0; run->worker_logs && i < 2 * run->workers; i++)
		line_log_close(&run->worker_logs[i]);
}

void engine_run_join_threads(struct engine_run *run)
{
	log_directly(run);
	run->adding_up = 0;
	for (unsigned i = 0; i < run->engine_count; i++)
		engine_settle(run->engines[i]);
	for (unsigned i = 1; i < run->engine_count; i++)
		if (engine_absorb(run->engine, run->engines[i]))
			fprintf(stderr, "dsmflow %s: out of memory adding up the threads' counts: "
					"unclassified ports are missing from the report\n", run->cmd);
}


int engine_run_open(const char *cmd, const struct engine_options *o, const struct catalog *cat,
		    const struct port_index *idx, const struct webapi_table *api,
		    struct engine_run *run)
{
	struct engine_config config = {
		.flows = o->flows, .nas = o->nas, .nas_count = o->nas_count, .webapi = api,
		.ports_only = o->ports_only, .audit = o->audit, .local = o->local,
		.local_count = o->local_count,
	};
	struct dsm_err err;

	memset(run, 0, sizeof(*run));
	run->cmd = cmd;
	run->flow_log_name = o->flows_path;
	run->evidence_log_name = o->evidence_log_path;
	run->cat = cat;
	run->idx = idx;
	run->format = o->format;
	if (output_file_open(&run->report, o->output_path, &err)) {
		fprintf(stderr, "dsmflow %s: %s\n", cmd, err.msg);
		return -1;
	}
	run->report_name = run->report.name;
	/* a report that cannot be written is said now, not after the reading */
	if (output_file_check(&run->report, &err)) {
		fprintf(stderr, "dsmflow %s: %s\n", cmd, err.msg);
		goto fail;
	}
	if (o->flows_path &&
	    !(run->flow_log = open_output(cmd, o->flows_path, o->append_logs, "the flow log")))
		goto fail;
	if (o->evidence_log_path &&
	    !(run->evidence_log =
		      open_output(cmd, o->evidence_log_path, o->append_logs, "the evidence log")))
		goto fail;
	config.flow_log = run->flow_log;
	config.evidence_log = run->evidence_log;
	if (o->threads > 1   ? make_sharing(run, o->threads, &config, &err) != 0
	    : o->workers > 1 ? make_workers(run, o->workers, &config, &err) != 0
			     : !(run->engine = engine_new(cat, idx, &config, &err))) {
		fprintf(stderr, "dsmflow %s: %s\n", cmd, err.msg);
		goto fail;
	}
	return 0;
fail:
	engine_run_close(run);
	return -1;
}

/* The trailing words, joined as tcpdump joins them, or NULL. */
char *cli_join_words(int argc, char **argv)
{
	size_t len = 1;
	char *filter;

	if (argc <= 0)
		return NULL;
	for (int i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	filter = calloc(1, len);
	for (size_t i = 0, at = 0; filter && i < (size_t)argc; i++) {
		size_t n = strlen(argv[i]);

		memcpy(filter + at, argv[i], n);
		at += n;
		if (i + 1 < (size_t)argc)
			filter[at++] = ' ';
	}
	return filter;
}

/* Whether word names a capture file rather than starting a filter: "-",
 * an existing file, a path, or a capture's name even when it is missing
 * (which then fails as a file, with its own message). */
static int names_a_file(const char *word)
{
	static const char *const endings[] = { ".pcap", ".pcapng", ".cap", ".gz", ".zst" };
	size_t n = strlen(word);
	struct stat st;

	if (strcmp(word, "-") == 0 || (stat(word, &st) == 0 && !S_ISDIR(st.st_mode)))
		return 1;	/* a directory (src/, host/) is a filter word, not a capture */
	if (strchr(word, '/') && stat(word, &st) != 0)
		return 1;	/* a missing path: fails as a file, with its own message */
	for (size_t i = 0; i < sizeof(endings) / sizeof(endings[0]); i++)
		if (n > strlen(endings[i]) && strcmp(word + n - strlen(endings[i]), endings[i]) == 0)
			return 1;
	return 0;
}

int cli_no_capture_file(const char *cmd, const char *word)
{
	struct stat st;

	if (stat(word, &st) == 0 && S_ISDIR(st.st_mode))
		return cli_usage_error(cmd, "'%s' is a directory, not a capture file", word);
	return cli_usage_error(cmd, "'%s' is not a capture file (nor a file: no capture given)", word);
}

int cli_split_files(int argc, char **argv)
{
	int files = 0;

	while (files < argc && names_a_file(argv[files]))
		files++;
	return files;
}

static void feed(void *ctx, const struct packet *pkts, size_t count)
{
	const struct engine_run *run = ctx;

	if (run->observe)
		run->observe(run->observe_ctx, pkts, count);
	engine_packets(run->engine, pkts, count);
}

static void stable_bytes(void *ctx, const uint8_t *base, size_t size)
{
	parallel_stable(((struct engine_run *)ctx)->parallel, base, size);
}

static const uint8_t *kept_from(void *ctx)
{
	return parallel_kept_from(((struct engine_run *)ctx)->parallel);
}

static void drain(void *ctx)
{
	parallel_drain(((struct engine_run *)ctx)->parallel);
}

static void feed_shared(void *ctx, const struct packet *pkts, size_t count)
{
	parallel_feed(((struct engine_run *)ctx)->parallel, pkts, count);
}

/* One file through the reading threads, or the one engine. */
static int read_one(struct engine_run *run, const char *path, const char *filter,
		    struct capture_file_result *result, struct dsm_err *err)
{
	if (!run->parallel)
		return capture_read_file_filtered(path, filter, feed, run, result, err);
	return capture_read_file_kept(path, filter, feed_shared, stable_bytes, kept_from, drain, run,
				      result, err);
}

int engine_run_read_files(struct engine_run *run, char **paths, int count, const char *filter)
{
	struct dsm_err err;
	int failed = 0;

	if (run->parallel && parallel_start(run->parallel, run->engines, &err)) {
		fprintf(stderr, "dsmflow %s: %s\n", run->cmd, err.msg);
		return count;
	}
	for (int i = 0; i < count; i++) {
		struct capture_file_result result;

		if (read_one(run, paths[i], filter, &result, &err)) {
			fprintf(stderr, "dsmflow %s: %s\n", run->cmd, err.msg);
			failed++;
		}
		if (result.packets && !decode_link_supported(result.link))
			fprintf(stderr, "dsmflow %s: %s: link type %d (%s) is not supported; its %llu "
					"packets were counted as non-IP\n",
				run->cmd, paths[i], result.link,
				pcap_datalink_val_to_name(result.link) ? pcap_datalink_val_to_name(result.link)
								       : "unknown",
				(unsigned long long)result.packets);
	}
	if (run->parallel) {
		parallel_stop(run->parallel);
		engine_run_join_threads(run);
	}
	return failed;
}

/* Says that name could not be written, once per call, and counts it. */
static void write_failed(const struct engine_run *run, const char *name, const char *what)
{
	fprintf(stderr, "dsmflow %s: %s: cannot write %s: %s\n", run->cmd, name, what,
		errno ? strerror(errno) : "write error");
	if (run->engine)
		engine_count_output_error(run->engine);
}

int engine_options_check(const char *cmd, const struct engine_options *o, int sensor)
{
	int audit = o->format == REPORT_AUDIT || o->format == REPORT_AUDIT_JSON;

	if (audit && !sensor)
		return cli_usage_error(cmd, "--format %s: the audit of files is `dsmflow audit`",
				       o->format == REPORT_AUDIT ? "audit" : "audit-json");
	if (audit && !o->nas_count)
		return cli_usage_error(cmd, "--format audit needs --nas: the audit is per NAS");
	return 0;
}

/* The audit so far (active flows folded into a copy); -1 when memory runs out. */
static int write_audit(const struct engine_run *run, enum report_format format, FILE *out)
{
	struct audit *snapshot = engine_audit_snapshot(run->engine);
	int rc;

	if (!snapshot)
		return -1;
	for (unsigned i = 1; run->workers > 1 && i < run->engine_count; i++)
		engine_audit_fold(run->engines[i], snapshot);	/* (joined too: absorbing moves
								 * counts, not flows) */
	rc = audit_write(snapshot, format == REPORT_AUDIT ? AUDIT_TABLE : AUDIT_JSON, run->cat, run->idx, out);
	audit_free(snapshot);
	return rc;
}

int engine_run_report(struct engine_run *run, const struct capture_stats *capture)
{
	struct dsm_err err;
	FILE *out = output_file_begin(&run->report, &err);
	int rc;

	if (!out) {
		fprintf(stderr, "dsmflow %s: %s\n", run->cmd, err.msg);
		engine_count_output_error(run->engine);
		return -1;
	}
	rc = engine_run_write(run, run->format, out, run->report_name, capture);	/* says why */
	if (rc == 0 && output_file_commit(&run->report, &err)) {
		fprintf(stderr, "dsmflow %s: %s\n", run->cmd, err.msg);
		engine_count_output_error(run->engine);
		rc = -1;
	}
	if (rc)
		output_file_discard(&run->report);	/* the last good report stays */
	return rc;
}

/* What the workers counted so far, added up into *sum (NULL: the one
 * engine's, the first's once joined). -1 when memory runs out. */
static int add_up(const struct engine_run *run, struct counters **sum, struct engine_figures *f)
{
	*sum = NULL;
	if (!run->adding_up)
		return engine_figures(&run->engine, 1, NULL, f);
	if (!(*sum = counters_new(catalog_service_count(run->cat), port_index_set_count(run->idx))))
		return -1;
	return engine_figures(run->engines, run->engine_count, *sum, f);
}

int engine_run_write(const struct engine_run *run, enum report_format format, FILE *out,
		     const char *out_name, const struct capture_stats *capture)
{
	struct engine_figures f;
	struct counters *sum;
	struct report_input in = {
		.cat = run->cat, .idx = run->idx, .capture = capture,
		.inspect = &f.inspect, .dns = &f.dns,
		.reload = capture ? &f.reload : NULL,	/* sensors reload; read does not */
	};
	int rc = add_up(run, &sum, &f);

	in.counters = sum ? sum : engine_counters(run->engine);
	if (capture && run->workers > 1) {
		in.per_worker = run->worker_stats;
		in.workers = run->workers;
	}
	in.active_flows = f.active_flows;
	in.evicted_flows = f.evicted_flows;
	in.evicted_unanswered_flows = f.evicted_unanswered_flows;
	in.output_errors = f.output_errors;
	errno = 0;
	if (rc == 0)
		rc = format == REPORT_AUDIT || format == REPORT_AUDIT_JSON ? write_audit(run, format, out)
									   : report_write(format, &in, out);
	counters_free(sum);
	if (rc) {
		fprintf(stderr, "dsmflow %s: out of memory writing the report\n", run->cmd);
		engine_count_output_error(run->engine);
		return -1;
	}
	if (fflush(out) || ferror(out)) {
		write_failed(run, out_name, "the report");
		clearerr(out);
		return -1;
	}
	return 0;
}

/* Closes f (named name, holding what); 0, or -1 after a message. */
static int close_output(struct engine_run *run, FILE *f, const char *name, const char *what)
{
	int failed;

	if (!f)
		return 0;
	errno = 0;
	failed = ferror(f) != 0;
	if (f == stdout)
		failed |= fflush(f) != 0;
	else
		failed |= fclose(f) != 0;
	if (failed)
		write_failed(run, name, what);
	return failed ? -1 : 0;
}

/* Opens name afresh for appending in place of *log; 0, or -1 with a message. */
static int reopen(struct engine_run *run, FILE **log, const char *name, const char *what)
{
	FILE *fresh;

	if (!*log || !name || *log == stdout)	/* --flows -: nothing to reopen */
		return 0;
	fresh = fopen(name, "a");
	if (!fresh) {
		fprintf(stderr, "dsmflow %s: %s: cannot reopen %s: %s (writing on to the old one)\n",
			run->cmd, name, what, strerror(errno));
		engine_count_output_error(run->engine);
		return -1;
	}
	close_output(run, *log, name, what);
	*log = fresh;
	return 0;
}

void engine_run_reopen_logs(struct engine_run *run)
{
	for (unsigned i = 0; run->adding_up && i < 2 * run->workers; i++)
		line_log_flush(&run->worker_logs[i]);	/* into the log being rotated */
	fflush(run->flow_log);
	fflush(run->evidence_log);
	reopen(run, &run->flow_log, run->flow_log_name, "the flow log");
	reopen(run, &run->evidence_log, run->evidence_log_name, "the evidence log");
	if (!run->adding_up) {
		engine_set_logs(run->engine, run->flow_log, run->evidence_log);
		return;
	}
	for (unsigned i = 0; i < run->workers; i++) {	/* (the workers wait meanwhile) */
		line_log_retarget(&run->worker_logs[2 * i], run->flow_log);
		line_log_retarget(&run->worker_logs[2 * i + 1], run->evidence_log);
	}
}

int engine_run_close(struct engine_run *run)
{
	int rc = 0;

	if (run->parallel)	/* (not read, or not joined: the engines log into the run's */
		parallel_stop(run->parallel);	/* logs as they are freed) */
	if (run->parallel || run->workers)
		log_directly(run);
	for (unsigned i = 1; i < run->engine_count; i++)
		engine_free(run->engines[i]);	/* the flows still active, logged */
	engine_free(run->engine ? run->engine : run->engines[0]);
	parallel_free(run->parallel);
	if (run->workers) {
		free(run->worker_logs);
		dns_table_free(run->shared_dns);
		run->shared_dns = NULL;
		pthread_mutex_destroy(&run->log_lock);
		pthread_mutex_destroy(&run->audit_lock);
		run->worker_logs = NULL;
		run->workers = 0;
	}
	run->parallel = NULL;
	run->engine = NULL;
	run->engine_count = 0;
	rc |= close_output(run, run->flow_log, run->flow_log_name, "the flow log");
	rc |= close_output(run, run->evidence_log, run->evidence_log_name, "the evidence log");
	if (output_file_close(&run->report)) {
		errno = 0;
		write_failed(run, run->report_name, "the report");
		rc = -1;
	}
	run->flow_log = run->evidence_log = NULL;
	return rc;
}
