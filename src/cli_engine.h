/* cli_engine.h - what read, live and queue share on the command line: the
 * options that shape the packet path and the report, and opening the
 * engine with its output files. Internal to the dsmflow binary. */
#ifndef DSMFLOW_CLI_ENGINE_H
#define DSMFLOW_CLI_ENGINE_H

#include <stdio.h>

#include "cli.h"
#include "dsmflow/capture.h"
#include "dsmflow/engine.h"
#include "dsmflow/linelog.h"
#include "dsmflow/parallel.h"
#include "dsmflow/netaddr.h"
#include "dsmflow/output_file.h"
#include "dsmflow/report.h"

#define CLI_MAX_NAS 64

enum {
	OPT_FLOWS = OPT_FIRST_FREE, OPT_NAS, OPT_MAX_FLOWS, OPT_MAX_MEMORY, OPT_EVIDENCE_LOG, OPT_PORTS_ONLY,
	OPT_LOCAL,
	OPT_TIMEOUT_FIRST,
	OPT_ENGINE_FIRST_FREE = OPT_TIMEOUT_FIRST + FLOW_TIMEOUT_CLASSES,
};

struct engine_options {
	enum report_format format;
	const char *output_path;
	const char *flows_path;
	const char *evidence_log_path;
	int ports_only;
	struct cidr nas[CLI_MAX_NAS];
	size_t nas_count;
	struct cidr local[CLI_MAX_NAS];	/* --local: the networks whose clients are not external */
	size_t local_count;
	struct flow_table_config flows;
	struct audit *audit;	/* not an option: `audit` sets it, the engine feeds it */
	int append_logs;	/* not an option: sensors append to --flows and --evidence-log
				 * (a restart goes on with the stream), read replaces them */
	unsigned threads;	/* read --threads: engines sharing the packets (1: one thread) */
	unsigned workers;	/* not an option: a sensor's capture threads, each feeding
				 * an engine of its own (0, 1: one) */
};

#define CLI_ENGINE_LONG_OPTIONS                                                                    \
	{ "format", required_argument, NULL, 'f' },                                                \
	{ "output", required_argument, NULL, 'o' },                                                \
	{ "flows", required_argument, NULL, OPT_FLOWS },                                           \
	{ "evidence-log", required_argument, NULL, OPT_EVIDENCE_LOG },                             \
	{ "ports-only", no_argument, NULL, OPT_PORTS_ONLY },                                        \
	{ "nas", required_argument, NULL, OPT_NAS },                                               \
	{ "local", required_argument, NULL, OPT_LOCAL },                                           \
	{ "max-flows", required_argument, NULL, OPT_MAX_FLOWS },                                   \
	{ "max-memory", required_argument, NULL, OPT_MAX_MEMORY },                                 \
	{ "timeout-tcp-established", required_argument, NULL, OPT_TIMEOUT_FIRST + FLOW_TCP_ESTABLISHED }, \
	{ "timeout-tcp-transitory", required_argument, NULL, OPT_TIMEOUT_FIRST + FLOW_TCP_TRANSITORY }, \
	{ "timeout-udp", required_argument, NULL, OPT_TIMEOUT_FIRST + FLOW_UDP },                  \
	{ "timeout-udp-stream", required_argument, NULL, OPT_TIMEOUT_FIRST + FLOW_UDP_STREAM },    \
	{ "timeout-icmp", required_argument, NULL, OPT_TIMEOUT_FIRST + FLOW_ICMP },                \
	{ "timeout-other", required_argument, NULL, OPT_TIMEOUT_FIRST + FLOW_OTHER }

#define CLI_ENGINE_SHORT_OPTIONS "f:o:"

#define CLI_ENGINE_HELP                                                                        \
	"  -f, --format FORMAT   table (default), json, csv or prometheus (live and queue\n"   \
	"                        with --nas: also audit or audit-json, the audit so far)\n" \
	"  -o, --output FILE     write the report to FILE (-: standard output, the\n"        \
	"                        default), replaced whole by each report\n"                  \
	"      --flows FILE      write one JSON line per flow as it ends (-: standard\n"      \
	"                        output; live and queue append)\n"                           \
	"      --evidence-log FILE  write one JSON line per piece of payload evidence\n"      \
	"                        read (HTTP request, TLS server name, DNS answer, Web\n"    \
	"                        API name), as Zeek's http, ssl and dns logs\n"             \
	"      --ports-only      read no payload evidence: attribute by the catalogue's\n"    \
	"                        ports and roles (and FTP/TFTP announcements) alone\n"       \
	"      --nas CIDR        an address or prefix of the NAS (repeatable): decides\n"       \
	"                        which catalogue role applies (inbound when the NAS\n"          \
	"                        serves, outbound when it connects out)\n"                      \
	"      --local CIDR      a local network (repeatable): clients outside are external\n" \
	"                        (default: the private, shared, link-local, loopback and\n" \
	"                        unique-local ranges)\n"                                       \
	"      --max-memory MIB  the flow table's memory (default 128 MiB: about 900,000\n"    \
	"                        flows; 0: unbounded). When it is full, a flow never\n"     \
	"                        answered (a SYN, a one-way datagram) is evicted first,\n"  \
	"                        else the one idle longest; evictions are counted\n"        \
	"      --max-flows N     the same bound as a number of flows\n"                       \
	"      --timeout-tcp-established S   idle timeouts in seconds, per flow state\n"        \
	"      --timeout-tcp-transitory S    (defaults like Linux conntrack's: 432000,\n"       \
	"      --timeout-udp S                120 for TCP opening or closing, 30, 120\n"        \
	"      --timeout-udp-stream S         for UDP seen both ways, 30, 600 for\n"            \
	"      --timeout-icmp S               other IP protocols), in packet time\n"            \
	"      --timeout-other S\n"

void engine_options_init(struct engine_options *o);

/* Takes opt if it is one of CLI_ENGINE_LONG_OPTIONS: returns 0 when taken,
 * EXIT_USAGE after a usage message, -1 when opt is not an engine option. */
int engine_option(const char *cmd, struct engine_options *o, int opt, const char *arg);

/* Checks the engine options together once all are parsed (the audit
 * formats: sensors with --nas only): EXIT_USAGE after a message, else 0. */
int engine_options_check(const char *cmd, const struct engine_options *o, int sensor);

/* Parses a non-negative decimal no larger than max. */
int cli_parse_count(const char *text, uint64_t max, uint64_t *out);

/* The engine and the files it writes. */
struct engine_run {
	const char *cmd;
	struct engine *engine;		/* the one, or the first of the sharing engines: what
					 * the others counted is added to it after reading */
	struct engine *engines[PARALLEL_MAX_WORKERS];	/* --threads: every sharing engine */
	unsigned engine_count;
	struct parallel *parallel;	/* --threads: the reading threads, or NULL */
	_Atomic size_t active_flows;	/* --threads, workers: the engines' flows, which the
					 * flow table's bound bounds together */
	unsigned workers;		/* a sensor's capture threads, engines[i] worker i's, or 0 */
	int adding_up;			/* the workers count apart: each report adds their
					 * engines up (engine_figures); 0 once joined */
	struct line_log *worker_logs;	/* [2 * workers]: worker i's flow log lines, then its
					 * evidence log lines, copied whole into the run's logs */
	pthread_mutex_t log_lock;	/* the run's logs, while workers copy lines into them */
	pthread_mutex_t audit_lock;	/* the audit, which the workers' engines feed */
	struct dns_table *shared_dns;	/* the workers' DNS table (dns_table_share) */
	struct capture_stats worker_stats[PARALLEL_MAX_WORKERS];	/* each worker's source, as of
							 * the last pause (the sensor's) */
	struct output_file report;	/* standard output or --output */
	FILE *flow_log;		/* --flows, or NULL */
	FILE *evidence_log;	/* --evidence-log, or NULL */
	const char *report_name, *flow_log_name, *evidence_log_name;	/* for messages */
	const struct catalog *cat;
	const struct port_index *idx;
	enum report_format format;
	void (*observe)(void *ctx, const struct packet *pkts, size_t count);	/* or NULL: sees */
	void *observe_ctx;	/* every packet read before the engine does (audit_frames) */
};

/* Opens --output and --flows and builds the engine; prints the error and
 * returns -1 on failure. */
int engine_run_open(const char *cmd, const struct engine_options *o, const struct catalog *cat,
		    const struct port_index *idx, const struct webapi_table *api,
		    struct engine_run *run);

/* Reads the capture files into the engine, one stream in the order given,
 * only the packets filter passes (NULL: all); a file that cannot be read
 * (or ends mid-packet) is said with its name and packet number, the others
 * are still read. Returns how many failed. */
int engine_run_read_files(struct engine_run *run, char **paths, int count, const char *filter);

/* The trailing words, joined as tcpdump joins them (a BPF filter), or NULL;
 * malloc'ed. */
char *cli_join_words(int argc, char **argv);
/* How many of the arguments are capture files: those up to the first that
 * is not "-", an existing file, a path or a capture's name (*.pcap,
 * *.pcapng, *.cap): that one starts a BPF filter. */
int cli_split_files(int argc, char **argv);
/* The usage error when the first word after the options is no capture
 * file (a directory, a filter with no file before it): EXIT_USAGE. */
int cli_no_capture_file(const char *cmd, const char *word);

/* Worker i's log lines so far, copied whole into the run's logs (on worker
 * i's thread, between its dispatches). */
void engine_run_flush_worker_logs(struct engine_run *run, unsigned i);
/* The reading threads or the workers stopped: their engines log into the
 * run's logs from now on, are settled, and the first adds up what they all
 * counted, for the report. */
void engine_run_join_threads(struct engine_run *run);

/* Writes the report of what the engine counted so far, in format, to out
 * (named out_name in messages). capture may be NULL (offline). Returns -1,
 * after a message naming the file and counting an output error, when memory
 * ran out or the report could not be written. */
int engine_run_write(const struct engine_run *run, enum report_format format, FILE *out,
		     const char *out_name, const struct capture_stats *capture);
/* The same, in the run's format, to its report (--output replaced whole by
 * each report, or standard output). */
int engine_run_report(struct engine_run *run, const struct capture_stats *capture);

/* Reopens --flows and --evidence-log for appending (after logrotate moved
 * them), keeping every counter; a log that cannot be reopened stays as it
 * was, with a message. */
void engine_run_reopen_logs(struct engine_run *run);

/* Ends all flows (logging them), closes the files and frees the engine;
 * returns -1, after a message naming each, when a file could not be
 * written completely. */
int engine_run_close(struct engine_run *run);

#endif
