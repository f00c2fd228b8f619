/* cli_sensor.c - the running sensor behind `live` and `queue`.
 *
 * Single-threaded packet path: the loop alternates between the source's
 * dispatch (which returns at least every CAPTURE_WAIT_MS) and its own duties
 * (signal flags, the interval summary, metrics snapshots). Signal handlers
 * only set flags. The metrics endpoint runs in libmicrohttpd's thread and
 * meets this loop only in metrics_poll().
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
#include "dsmflow/audit.h"
#include "dsmflow/metrics.h"
#include "dsmflow/sandbox.h"

#define DRAIN_DISPATCHES 16	/* at the stop: what waits is read, within bounds */

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

static double monotonic_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void feed(void *ctx, const struct packet *pkts, size_t count)
{
	engine_packets(ctx, pkts, count);
}

/* The capture clock (libpcap's and the queue's packet times are the
 * system's real time), in microseconds. */
static uint64_t capture_clock_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* The tables in force, which a reload replaces. */
struct sensor_tables {
	const struct cli_common *common;	/* where they come from: --catalog, --webapi, --port */
	struct catalog *cat;
	struct port_index *idx;
	struct webapi_table *api;
};

/* SIGHUP: loads the tables again (from --catalog and --webapi when given),
 * merged into those in force, and puts them in force; a table that does
 * not load is refused with its FILE:LINE error, and the tables in force
 * stay. Every counter is kept (see engine_reload). */
static void reload_tables(const struct capture_ops *ops, struct sensor_tables *t,
			  struct engine_run *run, struct metrics_server *metrics)
{
	size_t services_before = catalog_service_count(t->cat);
	struct counters *snapshot = NULL;
	struct webapi_table *api;
	struct port_index *idx;
	struct catalog *cat;
	struct dsm_err err;

	if (cli_load_tables(t->common, t->cat, t->idx, &cat, &idx, &api, &err)) {
		engine_count_reload_failure(run->engine);
		fprintf(stderr, "dsmflow %s: reload refused: %s; the tables in force stay\n", ops->name,
			err.msg);
		return;
	}
	if (metrics && !(snapshot = counters_new(catalog_service_count(cat), port_index_set_count(idx))))
		dsm_err_set(&err, "out of memory");
	if ((metrics && !snapshot) ||
	    engine_reload(run->engine, cat, idx, api, capture_clock_us(), &err)) {
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
	const struct counter_totals *t = counters_totals_const(engine_counters(run->engine));
	double now = monotonic_s(), span = now - last->at > 0 ? now - last->at : 1;
	uint64_t dropped = dropped_total(stats);
	char when[32], rate[32];
	time_t wall = time(NULL);
	struct tm tm;

	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&wall, &tm));
	report_human_bytes((uint64_t)((double)(t->bytes - last->bytes) / span), rate, sizeof(rate));
	fprintf(stderr, "== %s dsmflow %s: last %.1f s: %.0f packets/s, %s/s, %llu dropped\n", when,
		run->cmd, span, (double)(t->packets - last->packets) / span, rate,
		(unsigned long long)(dropped - last->dropped));
	engine_run_write(run, REPORT_SUMMARY, stderr, "standard error", stats);
	*last = (struct interval_mark){ now, t->packets, t->bytes, dropped };
}

/* The loop; returns an exit status. */
static int run_loop(const struct capture_ops *ops, struct capture_source *source,
		    const struct capture_options *capture, const struct sensor_options *o,
		    struct engine_run *run, struct metrics_server *metrics, struct sensor_tables *tables)
{
	int heard = 0, quiet_said = 0;
	double start = monotonic_s(), next_summary = start + o->interval_s;
	struct capture_stats stats = { 0 };
	struct interval_mark last = { start, 0, 0, 0 };
	struct dsm_err err;

	while (!stop_requested) {
		double now;
		int summary_due;

		int got = ops->dispatch(source, feed, run->engine, &err);

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
		summary_due = o->interval_s > 0 && now >= next_summary;
		if (!heard && !quiet_said && ops->print_quiet && now - start >= CAPTURE_QUIET_S) {
			ops->print_quiet(capture, stderr);
			quiet_said = 1;
		}
		/* capture statistics cost system calls: only when someone reads them */
		if (report_requested || summary_due || metrics_wanted(metrics))
			ops->stats(source, &stats);
		metrics_poll(metrics, run->engine, &stats);
		if (reopen_requested) {	/* SIGHUP: logrotate's, and new tables */
			reopen_requested = 0;
			engine_run_reopen_logs(run);
			reload_tables(ops, tables, run, metrics);
		}
		if (report_requested) {
			report_requested = 0;
			engine_run_report(run, &stats);
		}
		if (summary_due) {
			next_summary = now + o->interval_s;
			write_summary(run, &stats, &last);
		}
		if (o->duration_s > 0 && now - start >= o->duration_s)
			break;
	}
	return EXIT_OK;
}

/* Reads what already waits, counting it (a queue's packets wait for their
 * verdict: until dsmflow reads them, traffic through the box stands
 * still), and closes the source before the report is written. */
static void drain_and_close(const struct capture_ops *ops, struct capture_source *source,
			    struct engine_run *run, struct capture_stats *stats)
{
	struct dsm_err err;
	int got = 1;

	for (int i = 0; i < DRAIN_DISPATCHES && got > 0; i++)
		if ((got = ops->dispatch(source, feed, run->engine, &err)) < 0)
			fprintf(stderr, "dsmflow %s: %s\n", ops->name, err.msg);
	ops->stats(source, stats);
	ops->close(source);
}

/* Gives up root (for -Z's user or nobody) and every capability the mode
 * does not use, sets no_new_privs and installs the seccomp filter, after
 * everything privileged is done and before any thread starts; a queue
 * keeps CAP_NET_ADMIN, which every verdict is checked against. */
static int confine(const struct capture_ops *ops, const struct capture_source *source,
		   const char *user)
{
	unsigned keep = ops->needs_net_admin ? 1u << CAP_NET_ADMIN : SANDBOX_KEEP_NOTHING;
	int passive_fd = ops->needs_net_admin ? -1 : ops->fd(source);	/* a queue sends verdicts */
	struct dsm_err err;

	if (user && strcmp(user, "root") == 0 && geteuid() == 0)
		fprintf(stderr, "dsmflow %s: warning: -Z root: the sensor keeps uid 0 (without "
				"capabilities), and every file root owns stays writable to it; a user "
				"of its own is safer\n", ops->name);
	if (sandbox_drop_privileges(user, keep, &err) || sandbox_confine(passive_fd, &err)) {
		fprintf(stderr, "dsmflow %s: %s\n", ops->name, err.msg);
		return -1;
	}
	return 0;
}

/* Binds the metrics endpoint (privileged: a port below 1024), confines the
 * sensor, then starts the endpoint's thread, which inherits it all. An exit
 * status, 0 when it may run; *metrics is NULL without --metrics. */
static int start_confined(const struct capture_ops *ops, const struct capture_source *source,
			  const struct sensor_options *o, const struct sensor_tables *tables,
			  struct engine_run *run, struct metrics_server **metrics)
{
	struct dsm_err err;
	char url[128];

	*metrics = NULL;
	if (o->metrics &&
	    !(*metrics = metrics_listen(o->metrics, o->metrics_public, tables->cat, tables->idx, &err))) {
		fprintf(stderr, "dsmflow %s: %s\n", ops->name, err.msg);
		return EXIT_USAGE;
	}
	if (confine(ops, source, o->user))
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

/* Runs an open source until a stop, then closes it; returns an exit status. */
static int sensor_run(const struct capture_ops *ops, struct capture_source *source,
		      const struct capture_options *capture, const struct sensor_options *o,
		      struct engine_run *run, struct sensor_tables *tables)
{
	struct metrics_server *metrics = NULL;
	struct capture_stats stats;
	int rc;

	if ((rc = start_confined(ops, source, o, tables, run, &metrics)) != EXIT_OK) {
		metrics_stop(metrics);
		ops->close(source);
		return rc;
	}
	rc = run_loop(ops, source, capture, o, run, metrics, tables);
	metrics_stop(metrics);
	drain_and_close(ops, source, run, &stats);
	engine_settle(run->engine);	/* the capture ended: no more payload to wait for */
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
	return rc;
}

int sensor_main(const struct capture_ops *ops, const struct capture_options *capture,
		const struct sensor_options *o, const struct engine_options *eo,
		const struct cli_common *common)
{
	struct sensor_tables tables = { .common = common };
	struct engine_options with_audit = *eo;	/* with the sensor's own settings */
	struct engine_run run;
	struct dsm_err err;
	struct capture_source *source;
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
	if (engine_run_open(ops->name, &with_audit, tables.cat, tables.idx, tables.api, &run) == 0) {
		source = ops->open(capture, &err);
		if (source)
			rc = sensor_run(ops, source, capture, o, &run, &tables);	/* closes it */
		else
			fprintf(stderr, "dsmflow %s: %s\n", ops->name, err.msg);
		if (engine_run_close(&run) && rc == EXIT_OK)
			rc = EXIT_NO_MATCH;
	}
	audit_free(with_audit.audit);
	webapi_free(tables.api);
	port_index_free(tables.idx);
	catalog_free(tables.cat);
	return rc;
}
