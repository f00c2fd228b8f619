/* cli_sensor.c - the running sensor behind `live` and `queue`.
 *
 * With one source, the packet path is this thread's: the loop alternates
 * between the source's dispatch (which returns at least every
 * CAPTURE_WAIT_MS) and its duties (signal flags, the interval summary,
 * metrics snapshots, reloads). With several (live --workers, queue --queue
 * A:B), capture threads dispatch (cli_workers.c) and this thread serves the
 * same duties while they wait between two dispatches, adding their engines
 * up. Signal handlers only set flags. The metrics endpoint runs in
 * libmicrohttpd's thread and meets this loop only in metrics_poll().
 */
#include <errno.h>
#include <pwd.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli_sensor.h"
#include "cli_workers.h"
#include "dsmflow/audit.h"
#include "dsmflow/metrics.h"
#include "dsmflow/sandbox.h"


static volatile sig_atomic_t stop_requested, report_requested, reopen_requested;

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void on_report(int sig)
{
	(void)sig;
	report_requested = 1;
}

static void on_hangup(int sig)
{
	(void)sig;
	reopen_requested = 1;
}

static void install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop;	/* no SA_RESTART: a blocked wait returns early */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_report;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = on_hangup;	/* logrotate's: reopen the logs, keep counting */
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);	/* a closed metrics connection is not our end */
}

void sensor_options_init(struct sensor_options *o)
{
	memset(o, 0, sizeof(*o));
}

static int parse_seconds(const char *text, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(text, &end);
	if (errno || end == text || *end || !(v >= 0) || v > 1e9)
		return -1;
	*out = v;
	return 0;
}

int sensor_option(const char *cmd, struct sensor_options *o, int opt, const char *arg)
{
	switch (opt) {
	case OPT_DURATION:
		if (parse_seconds(arg, &o->duration_s))
			return cli_usage_error(cmd, "--duration: '%s' is not a number of seconds", arg);
		return 0;
	case OPT_INTERVAL:
		if (parse_seconds(arg, &o->interval_s))
			return cli_usage_error(cmd, "--interval: '%s' is not a number of seconds", arg);
		return 0;
	case OPT_METRICS:
		o->metrics = arg;
		return 0;
	case OPT_METRICS_PUBLIC:
		o->metrics_public = 1;
		return 0;
	case 'Z':
		if (!getpwnam(arg))
			return cli_usage_error(cmd, "-Z: no user '%s'", arg);
		o->user = arg;
		return 0;
	default:
		return -1;
	}
}

int sensor_options_check(const char *cmd, const struct sensor_options *o)
{
	struct dsm_err err;

	if (o->metrics && metrics_check_spec(o->metrics, o->metrics_public, &err))
		return cli_usage_error(cmd, "%s", err.msg);
	return 0;
}

/* Tables loaded for a reload, not yet in force. */
struct loaded_tables {
	int loaded;			/* 1: what follows is filled */
	int failed;			/* they did not load: err says why */
	struct catalog *cat;
	struct port_index *idx;
	struct webapi_table *api;
	struct dsm_err err;
};

/* The tables in force, which a reload replaces. */
struct sensor_tables {
	const struct cli_common *common;	/* where they come from: --catalog, --webapi, --port */
	struct catalog *cat;
	struct port_index *idx;
	struct webapi_table *api;
	struct loaded_tables next;	/* SIGHUP's, read from the files while the workers run */
};

/* SIGHUP's first half: reads the tables again (from --catalog and
 * --webapi when given), merged into those in force, into t->next. The
 * engines only read the tables in force, so workers may run meanwhile. */
static void load_next_tables(struct sensor_tables *t)
{
	struct loaded_tables *next = &t->next;

	next->loaded = 1;
	next->failed = cli_load_tables(t->common, t->cat, t->idx, &next->cat, &next->idx, &next->api,
				       &next->err) != 0;
}

/* The engines a sensor counts with: its workers', or the one. */
static struct engine **sensor_engines(struct engine_run *run, size_t *count)
{
	*count = run->workers > 1 ? run->engine_count : 1;
	return run->workers > 1 ? run->engines : &run->engine;
}

/* Puts the tables in force in every engine (the workers wait meanwhile),
 * all or none: -1 with err, nothing changed, when one cannot take them. */
static int reload_engines(struct engine_run *run, const struct catalog *cat,
			  const struct port_index *idx, const struct webapi_table *api,
			  struct dsm_err *err)
{
	struct engine_reload_prep preps[PARALLEL_MAX_WORKERS];
	size_t count;
	struct engine **engines = sensor_engines(run, &count);
	uint64_t now_us = capture_clock_us();

	for (size_t i = 0; i < count; i++)
		if (engine_reload_prepare(engines[i], cat, idx, &preps[i], err)) {
			while (i--)
				engine_reload_abandon(&preps[i]);
			return -1;
		}
	for (size_t i = 0; i < count; i++)
		engine_reload_commit(engines[i], cat, idx, api, &preps[i], now_us);
	return 0;
}

/* SIGHUP: puts the tables loaded again (load_next_tables, now unless the
 * workers' loop did it before they stopped) in force in every engine; a
 * table that does not load is refused with its FILE:LINE error, and the
 * tables in force stay. Every counter is kept (see engine_reload). */
static void reload_tables(const struct capture_ops *ops, struct sensor_tables *t,
			  struct engine_run *run, struct metrics_server *metrics)
{
	size_t services_before = catalog_service_count(t->cat);
	struct counters *snapshot = NULL;
	struct webapi_table *api;
	struct port_index *idx;
	struct catalog *cat;
	struct dsm_err err;

	if (!t->next.loaded)
		load_next_tables(t);
	t->next.loaded = 0;
	if (t->next.failed) {
		engine_count_reload_failure(run->engine);
		fprintf(stderr, "dsmflow %s: reload refused: %s; the tables in force stay\n", ops->name,
			t->next.err.msg);
		return;
	}
	cat = t->next.cat;
	idx = t->next.idx;
	api = t->next.api;
	if (metrics && !(snapshot = counters_new(catalog_service_count(cat), port_index_set_count(idx))))
		dsm_err_set(&err, "out of memory");
	if ((metrics && !snapshot) || reload_engines(run, cat, idx, api, &err)) {
		engine_count_reload_failure(run->engine);
		fprintf(stderr, "dsmflow %s: reload refused: %s; the tables in force stay\n", ops->name,
			err.msg);
		counters_free(snapshot);
		webapi_free(api);
		port_index_free(idx);
		catalog_free(cat);
		return;
	}
	if (metrics)
		metrics_retarget(metrics, cat, idx, snapshot);
	run->cat = cat;
	run->idx = idx;
	webapi_free(t->api);
	port_index_free(t->idx);
	catalog_free(t->cat);
	t->cat = cat;
	t->idx = idx;
	t->api = api;
	fprintf(stderr, "dsmflow %s: reloaded %s: %zu records, %zu services (%zu new since the last)\n",
		ops->name, t->common->catalog_path ? t->common->catalog_path : "the built-in catalogue",
		catalog_record_count(cat), catalog_service_count(cat),
		catalog_service_count(cat) - services_before);
}

/* Where the last interval summary left the totals. */
struct interval_mark {
	double at;			/* monotonic seconds */
	uint64_t packets, bytes, dropped;
};

static uint64_t dropped_total(const struct capture_stats *stats)
{
	return stats->dropped_kernel + stats->dropped_interface + stats->dropped_queue +
	       stats->dropped_user + stats->dropped_unreadable;
}

/* --interval: a line with the time and the last interval's rates, then the
 * one-screen summary of the totals, to standard error. */
static void write_summary(struct engine_run *run, const struct capture_stats *stats,
			  struct interval_mark *last)
{
	struct counter_totals t = { 0 };
	double now = monotonic_s(), span = now - last->at > 0 ? now - last->at : 1;
	uint64_t dropped = dropped_total(stats);
	char when[32], rate[32];
	time_t wall = time(NULL);
	struct tm tm;
	size_t count;
	struct engine **engines = sensor_engines(run, &count);

	for (size_t i = 0; i < count; i++) {
		const struct counter_totals *one = counters_totals_const(engine_counters(engines[i]));

		t.packets += one->packets;
		t.bytes += one->bytes;
	}
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&wall, &tm));
	report_human_bytes((uint64_t)((double)(t.bytes - last->bytes) / span), rate, sizeof(rate));
	fprintf(stderr, "== %s dsmflow %s: last %.1f s: %.0f packets/s, %s/s, %llu dropped\n", when,
		run->cmd, span, (double)(t.packets - last->packets) / span, rate,
		(unsigned long long)(dropped - last->dropped));
	engine_run_write(run, REPORT_SUMMARY, stderr, "standard error", stats);
	*last = (struct interval_mark){ now, t.packets, t.bytes, dropped };
}

/* Where the loop stands: what the operator was told, when the next summary is due. */
struct loop_state {
	double start, next_summary;	/* monotonic seconds */
	int quiet_said;
	struct interval_mark last;
};

/* Whether a duty waits: a signal's, a summary, a scrape. */
static int duty_due(const struct sensor_options *o, struct metrics_server *metrics,
		    const struct loop_state *ls, double now)
{
	return report_requested || reopen_requested || (o->interval_s > 0 && now >= ls->next_summary) ||
	       metrics_wanted(metrics);
}

/* The loop's duties, the engines the caller's meanwhile: a metrics
 * snapshot, SIGHUP, SIGUSR1 and the --interval summary. */
static void serve_duties(const struct capture_ops *ops, const struct sensor_options *o,
			 struct engine_run *run, struct metrics_server *metrics,
			 struct sensor_tables *tables, const struct capture_stats *stats,
			 struct loop_state *ls, double now)
{
	size_t count;
	struct engine **engines = sensor_engines(run, &count);

	metrics_poll(metrics, engines, count, stats, run->workers > 1 ? run->worker_stats : NULL);
	if (reopen_requested) {	/* SIGHUP: logrotate's, and new tables */
		reopen_requested = 0;
		engine_run_reopen_logs(run);
		reload_tables(ops, tables, run, metrics);
	}
	if (report_requested) {
		report_requested = 0;
		engine_run_report(run, stats);
	}
	if (o->interval_s > 0 && now >= ls->next_summary) {
		ls->next_summary = now + o->interval_s;
		write_summary(run, stats, &ls->last);
	}
}

/* Says, once, that nothing came in the first CAPTURE_QUIET_S seconds. */
static void say_if_quiet(const struct capture_ops *ops, const struct capture_options *capture,
			 struct loop_state *ls, int heard, double now)
{
	if (!heard && !ls->quiet_said && ops->print_quiet && now - ls->start >= CAPTURE_QUIET_S) {
		ops->print_quiet(capture, stderr);
		ls->quiet_said = 1;
	}
}

static void loop_begin(const struct sensor_options *o, struct loop_state *ls)
{
	memset(ls, 0, sizeof(*ls));
	ls->start = monotonic_s();
	ls->next_summary = ls->start + o->interval_s;
	ls->last.at = ls->start;
}

/* The loop of one engine, fed on this thread; returns an exit status. */
static int run_loop(const struct capture_ops *ops, struct capture_source *source,
		    const struct capture_options *capture, const struct sensor_options *o,
		    struct engine_run *run, struct metrics_server *metrics, struct sensor_tables *tables)
{
	int heard = 0;
	struct capture_stats stats = { 0 };
	struct loop_state ls;
	struct dsm_err err;

	loop_begin(o, &ls);
	while (!stop_requested) {
		double now;
		int got = ops->dispatch(source, feed_engine, run->engine, &err);

		if (got == CAPTURE_END)
			break;
		if (got < 0) {
			fprintf(stderr, "dsmflow %s: %s\n", ops->name, err.msg);
			return EXIT_NO_MATCH;
		}
		heard |= got > 0;
		/* time passes on a quiet network too: idle flows end, pending
		 * ones are decided */
		engine_clock(run->engine, capture_clock_us());
		now = monotonic_s();
		say_if_quiet(ops, capture, &ls, heard, now);
		/* capture statistics cost system calls: only when someone reads them */
		if (duty_due(o, metrics, &ls, now))
			ops->stats(source, &stats);
		serve_duties(ops, o, run, metrics, tables, &stats, &ls, now);
		if (o->duration_s > 0 && now - ls.start >= o->duration_s)
			break;
	}
	return EXIT_OK;
}

#define DUTY_CHECK_NS 10000000L	/* the main thread of workers looks at its duties this often */

/* The loop of the workers' main thread: it waits, and serves its duties
 * while the workers wait between two dispatches. Returns an exit status. */
static int run_workers_loop(const struct capture_ops *ops, struct workers *crew,
			    const struct capture_options *capture, const struct sensor_options *o,
			    struct engine_run *run, struct metrics_server *metrics,
			    struct sensor_tables *tables)
{
	struct capture_stats stats;
	struct loop_state ls;

	loop_begin(o, &ls);
	while (!stop_requested && !workers_failed(crew)) {
		struct timespec tick = { 0, DUTY_CHECK_NS };
		double now;

		nanosleep(&tick, NULL);	/* a signal ends it early */
		now = monotonic_s();
		say_if_quiet(ops, capture, &ls, workers_heard(crew), now);
		if (reopen_requested && !tables->next.loaded)
			load_next_tables(tables);	/* the files read before the workers wait */
		if (duty_due(o, metrics, &ls, now)) {
			workers_pause(crew, &stats, run->worker_stats);
			serve_duties(ops, o, run, metrics, tables, &stats, &ls, now);
			workers_resume(crew);
		}
		if (o->duration_s > 0 && now - ls.start >= o->duration_s)
			break;
	}
	return workers_failed(crew) ? EXIT_NO_MATCH : EXIT_OK;
}

/* Reads what already waits, counting it (a queue's packets wait for their
 * verdict: until dsmflow reads them, traffic through the box stands
 * still). */
static void drain(const struct capture_ops *ops, struct capture_source *source,
		  struct engine_run *run, struct capture_stats *stats)
{
	drain_source(ops, source, run->engine);
	ops->stats(source, stats);
}

/* Closes the sources not closed yet. A queue's are closed before the
 * report is written (the kernel accepts what still waits); a passive
 * sensor's capture sockets only after: the seccomp filter keeps refusing
 * writes to their descriptors, which a report file would otherwise reuse. */
static void close_sources(const struct capture_ops *ops, struct capture_source **sources,
			  size_t count)
{
	for (size_t i = 0; i < count; i++)
		if (sources[i]) {
			ops->close(sources[i]);
			sources[i] = NULL;
		}
}

/* Gives up root (for -Z's user or nobody) and every capability the mode
 * does not use, sets no_new_privs and installs the seccomp filter, after
 * everything privileged is done and before any thread starts; a queue
 * keeps CAP_NET_ADMIN, which every verdict is checked against. */
static int confine(const struct capture_ops *ops, struct capture_source *const *sources,
		   size_t count, const char *user)
{
	unsigned keep = ops->needs_net_admin ? 1u << CAP_NET_ADMIN : SANDBOX_KEEP_NOTHING;
	int passive_fds[PARALLEL_MAX_WORKERS];
	size_t passive = 0;
	struct dsm_err err;

	for (size_t i = 0; !ops->needs_net_admin && i < count; i++)	/* a queue sends verdicts */
		passive_fds[passive++] = ops->fd(sources[i]);
	if (user && strcmp(user, "root") == 0 && geteuid() == 0)
		fprintf(stderr, "dsmflow %s: warning: -Z root: the sensor keeps uid 0 (without "
				"capabilities), and every file root owns stays writable to it; a user "
				"of its own is safer\n", ops->name);
	if (sandbox_drop_privileges(user, keep, &err) || sandbox_confine(passive_fds, passive, &err)) {
		fprintf(stderr, "dsmflow %s: %s\n", ops->name, err.msg);
		return -1;
	}
	return 0;
}

/* Binds the metrics endpoint (privileged: a port below 1024), confines the
 * sensor, then starts the endpoint's thread, which inherits it all. An exit
 * status, 0 when it may run; *metrics is NULL without --metrics. */
static int start_confined(const struct capture_ops *ops, struct capture_source *const *sources,
			  size_t count, const struct sensor_options *o,
			  const struct sensor_tables *tables, struct engine_run *run,
			  struct metrics_server **metrics)
{
	struct dsm_err err;
	char url[128];

	*metrics = NULL;
	if (o->metrics &&
	    !(*metrics = metrics_listen(o->metrics, o->metrics_public, tables->cat, tables->idx, &err))) {
		fprintf(stderr, "dsmflow %s: %s\n", ops->name, err.msg);
		return EXIT_USAGE;
	}
	if (confine(ops, sources, count, o->user))
		return EXIT_NO_MATCH;
	/* reports replace --output whole: its directory must take a new file
	 * from the user the sensor now runs as */
	if (output_file_check(&run->report, &err)) {
		fprintf(stderr, "dsmflow %s: %s (as uid %u, the user it runs as now: see -Z)\n",
			ops->name, err.msg, (unsigned)geteuid());
		return EXIT_USAGE;
	}
	if (*metrics && metrics_serve(*metrics, &err)) {
		fprintf(stderr, "dsmflow %s: %s\n", ops->name, err.msg);
		return EXIT_NO_MATCH;
	}
	if (*metrics)
		fprintf(stderr, "dsmflow %s: metrics at %s\n", ops->name,
			metrics_url(*metrics, url, sizeof(url)));
	return EXIT_OK;
}

/* Runs the workers until a stop; their engines joined into the first
 * after, their sources' statistics in *stats. An exit status. */
static int run_workers(const struct capture_ops *ops, struct capture_source **sources,
		       const struct capture_options *capture, const struct sensor_options *o,
		       struct engine_run *run, struct metrics_server *metrics,
		       struct sensor_tables *tables, struct capture_stats *stats)
{
	struct capture_stats none = { 0 };
	struct workers *crew;
	struct dsm_err err;
	int rc;

	memset(stats, 0, sizeof(*stats));
	/* before any request: / and /audit.json are the audit's when there is one */
	metrics_poll(metrics, run->engines, run->engine_count, &none, NULL);
	if (!(crew = workers_start(ops, sources, run, &err))) {
		fprintf(stderr, "dsmflow %s: %s\n", ops->name, err.msg);
		metrics_stop(metrics);
		engine_run_join_threads(run);
		return EXIT_NO_MATCH;
	}
	rc = run_workers_loop(ops, crew, capture, o, run, metrics, tables);
	metrics_stop(metrics);
	workers_stop(crew, stats, run->worker_stats);	/* each reads what already waits */
	workers_free(crew);
	engine_run_join_threads(run);	/* settled, added up into the first */
	return rc;
}

/* Runs the open sources (one, or one per worker) until a stop, then closes
 * them; returns an exit status. */
static int sensor_run(const struct capture_ops *ops, struct capture_source **sources,
		      const struct capture_options *capture, const struct sensor_options *o,
		      struct engine_run *run, struct sensor_tables *tables)
{
	size_t count = run->workers > 1 ? run->workers : 1;
	struct metrics_server *metrics = NULL;
	struct capture_stats stats;
	int rc;

	if ((rc = start_confined(ops, sources, count, o, tables, run, &metrics)) != EXIT_OK) {
		metrics_stop(metrics);
		for (size_t i = 0; i < count; i++)
			ops->close(sources[i]);
		return rc;
	}
	if (count > 1) {
		rc = run_workers(ops, sources, capture, o, run, metrics, tables, &stats);
	} else {
		rc = run_loop(ops, sources[0], capture, o, run, metrics, tables);
		metrics_stop(metrics);
		drain(ops, sources[0], run, &stats);
		engine_settle(run->engine);	/* the capture ended: no more payload to wait for */
	}
	if (ops->needs_net_admin)
		close_sources(ops, sources, count);
	if (engine_run_report(run, &stats))
		rc = EXIT_NO_MATCH;
	if (engine_output_errors(run->engine) && rc == EXIT_OK)
		rc = EXIT_NO_MATCH;	/* a report during the run was lost: said and counted then */
	if (engine_alloc_failures(run->engine)) {
		fprintf(stderr, "dsmflow %s: out of memory: %llu packets could not be given a flow "
				"(counted by their destination port, unclassified)\n", ops->name,
			(unsigned long long)engine_alloc_failures(run->engine));
		if (rc == EXIT_OK)
			rc = EXIT_NO_MATCH;
	}
	ops->print_health(&stats, stderr);
	close_sources(ops, sources, count);
	return rc;
}

/* Opens one source, or one per worker (each told which it is); sources
 * opened before one that cannot be are closed. 0, or -1 after a message. */
static int open_sources(const struct capture_ops *ops, const struct capture_options *capture,
			struct capture_source **sources)
{
	unsigned count = capture->workers > 1 ? capture->workers : 1;
	struct dsm_err err;

	for (unsigned i = 0; i < count; i++) {
		struct capture_options own = *capture;

		own.worker = i;
		if (count > 1)
			own.wait_ms = WORKER_WAIT_MS;
		if (!(sources[i] = ops->open(&own, &err))) {
			fprintf(stderr, "dsmflow %s: %s\n", ops->name, err.msg);
			while (i--)
				ops->close(sources[i]);
			return -1;
		}
	}
	return 0;
}

int sensor_main(const struct capture_ops *ops, const struct capture_options *capture,
		const struct sensor_options *o, const struct engine_options *eo,
		const struct cli_common *common)
{
	struct sensor_tables tables = { .common = common };
	struct engine_options with_audit = *eo;	/* with the sensor's own settings */
	struct capture_source *sources[PARALLEL_MAX_WORKERS];
	struct capture_options all = *capture;	/* what the sources are together */
	struct engine_run run;
	int rc = EXIT_NO_MATCH;

	/* first: a SIGHUP (logrotate, systemctl reload) or SIGTERM while the
	 * sensor starts must not end it by the default action */
	install_signals();
	if (cli_load(common, &tables.cat, &tables.idx, &tables.api))
		return EXIT_USAGE;
	/* with --nas, the audit too: for --format audit, /audit.json and / */
	if (eo->nas_count &&
	    !(with_audit.audit = audit_new(eo->nas, eo->nas_count, eo->local, eo->local_count)))
		fprintf(stderr, "dsmflow %s: out of memory: no audit\n", ops->name);
	with_audit.append_logs = 1;
	with_audit.workers = o->workers;
	if (engine_run_open(ops->name, &with_audit, tables.cat, tables.idx, tables.api, &run) == 0) {
		all.workers = o->workers;
		if (open_sources(ops, &all, sources) == 0)
			rc = sensor_run(ops, sources, &all, o, &run, &tables);	/* closes them */
		if (engine_run_close(&run) && rc == EXIT_OK)
			rc = EXIT_NO_MATCH;
	}
	audit_free(with_audit.audit);
	if (tables.next.loaded && !tables.next.failed) {	/* a SIGHUP the stop overtook */
		webapi_free(tables.next.api);
		port_index_free(tables.next.idx);
		catalog_free(tables.next.cat);
	}
	webapi_free(tables.api);
	port_index_free(tables.idx);
	catalog_free(tables.cat);
	return rc;
}
