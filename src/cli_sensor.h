/* cli_sensor.h - what live and queue share: running a capture source into
 * the engine until a signal or --duration, with periodic summaries, a
 * report on SIGUSR1, the metrics endpoint and dropping privileges.
 * Internal to the dsmflow binary. */
#ifndef DSMFLOW_CLI_SENSOR_H
#define DSMFLOW_CLI_SENSOR_H

#include "cli_engine.h"
#include "dsmflow/capture.h"

enum {
	OPT_DURATION = OPT_ENGINE_FIRST_FREE, OPT_INTERVAL, OPT_METRICS, OPT_METRICS_PUBLIC,
	OPT_SENSOR_FIRST_FREE,
};

struct sensor_options {
	double duration_s;	/* 0: until a signal */
	double interval_s;	/* 0: no periodic summary */
	const char *metrics;	/* --metrics ADDR:PORT, or NULL */
	int metrics_public;
	const char *user;	/* -Z USER; NULL: nobody when started as root */
	unsigned workers;	/* capture threads, each with a source and an engine of
				 * its own (live --workers, queue --queue A:B); 0, 1: one */
};

#define CLI_SENSOR_LONG_OPTIONS                                        \
	{ "duration", required_argument, NULL, OPT_DURATION },          \
	{ "interval", required_argument, NULL, OPT_INTERVAL },          \
	{ "metrics", required_argument, NULL, OPT_METRICS },            \
	{ "metrics-public", no_argument, NULL, OPT_METRICS_PUBLIC },    \
	{ "user", required_argument, NULL, 'Z' }

#define CLI_SENSOR_SHORT_OPTIONS "Z:"

#define CLI_SENSOR_HELP                                                                      \
	"      --duration S      stop after S seconds (default: at SIGINT or SIGTERM)\n"        \
	"      --interval S      every S seconds, a one-screen summary to standard error,\n" \
	"                        headed by the time and the last S seconds' rates\n"         \
	"                        (0: none, the default)\n"                                     \
	"      --metrics HOST:PORT  serve Prometheus metrics at http://HOST:PORT/metrics\n"   \
	"                        (HOST an address or a name, 127.0.0.1 by default,\n"       \
	"                        [IPv6]:PORT; also /healthz and /)\n"                        \
	"      --metrics-public  allow --metrics on an address that is not loopback\n"       \
	"  -Z, --user USER       after opening the capture, run as USER (default: nobody\n"   \
	"                        when started as root; -Z root keeps uid 0 without\n"         \
	"                        capabilities, and warns: root's files stay writable)\n"   \
	"\n"                                                                                   \
	"The final report goes to standard output (or --output) at SIGINT, SIGTERM or\n"      \
	"the end of --duration; SIGUSR1 prints the report so far and goes on; SIGHUP\n"     \
	"reopens --flows and --evidence-log and reloads the catalogue, the Web API\n"        \
	"table and the --port entries (a table that does not load is refused, the\n"        \
	"tables in force stay), keeping every counter.\n"

#define CLI_SENSOR_EXIT_HELP                                                                 \
	"\n"                                                                                   \
	"Exit status: 0 stopped as asked, 1 the capture failed or a report could not\n"     \
	"be written, 2 usage, catalogue or Web API table error, or a report file whose\n"  \
	"directory the sensor's user cannot write to.\n"

void sensor_options_init(struct sensor_options *o);
/* Takes a sensor option: 0 taken, EXIT_USAGE after a message, -1 not one. */
int sensor_option(const char *cmd, struct sensor_options *o, int opt, const char *arg);

/* Checks the options together once all are parsed: EXIT_USAGE after a
 * message, else 0. */
int sensor_options_check(const char *cmd, const struct sensor_options *o);

/* The whole of a sensor command once its options are parsed: loads the
 * catalogue, opens the engine and its files, opens the source (ops, with
 * capture), runs until a stop (or a file's end), prints the final report
 * and the capture's health. Returns an exit status. */
int sensor_main(const struct capture_ops *ops, const struct capture_options *capture,
		const struct sensor_options *o, const struct engine_options *eo,
		const struct cli_common *common);

#endif
