/* cli.h - what the subcommands share: the catalogue options (--catalog,
 * --port, --webapi) and the exit-status convention. Internal to the dsmflow
 * binary. */
#ifndef DSMFLOW_CLI_H
#define DSMFLOW_CLI_H

#include <getopt.h>
#include <stddef.h>

#include "dsmflow/catalog.h"
#include "dsmflow/index.h"
#include "dsmflow/webapi.h"

enum cli_exit {
	EXIT_OK = 0,
	EXIT_NO_MATCH = 1,	/* lookup found nothing; read failed on an input */
	EXIT_USAGE = 2,		/* bad option or argument, bad catalogue */
};

#define CLI_MAX_PORTS 256

struct cli_common {
	const char *catalog_path;	/* NULL: the embedded catalogue */
	const char *webapi_path;	/* NULL: the embedded Web API table */
	const char *ports[CLI_MAX_PORTS];
	size_t port_count;
};

/* Option values of the common options, usable in every subcommand's table. */
enum { OPT_CATALOG = 0x100, OPT_PORT, OPT_WEBAPI, OPT_HELP, OPT_FIRST_FREE };

#define CLI_COMMON_LONG_OPTIONS                                  \
	{ "catalog", required_argument, NULL, OPT_CATALOG },      \
	{ "port", required_argument, NULL, OPT_PORT },            \
	{ "webapi", required_argument, NULL, OPT_WEBAPI },        \
	{ "help", no_argument, NULL, OPT_HELP }

#define CLI_COMMON_HELP                                                                 \
	"  --catalog FILE        use FILE (catalog/README.md format) instead of the\n"   \
	"                        catalogue built into dsmflow\n"                          \
	"  --port PROTO/PORT[-PORT]=SERVICE\n"                                            \
	"                        add a port to SERVICE (an existing service name, or a\n" \
	"                        new one in category Custom); repeatable\n"               \
	"  --webapi FILE         use FILE (catalog/README.md, \"The Web API table\")\n" \
	"                        instead of the Web API table built into dsmflow\n"       \
	"  -h, --help            show this help\n"

/* Handles --catalog, --port and --webapi; returns 0, or -1 after a usage
 * message. */
int cli_common_option(struct cli_common *common, int opt, const char *arg);

enum cli_option_result {
	CLI_OPTION_HANDLED,	/* go on parsing */
	CLI_OPTION_OWN,		/* the subcommand's own option: its caller handles it */
	CLI_OPTION_EXIT,	/* stop: exit with *status (help printed, or a usage error) */
};

/* The options every subcommand shares, seen in a getopt_long loop: -h and
 * --help print usage, --catalog, --port and --webapi are recorded, '?' and
 * ':' are usage errors naming argv[optind - 1]. */
enum cli_option_result cli_shared_option(const char *cmd, const char *usage, int opt, char **argv,
					 struct cli_common *common, int *status);

/* The tables as cli_load makes them, errors in err rather than printed;
 * with prev_cat and prev_idx (a reload), the catalogue is merged into
 * prev_cat (catalog_merge) and the index keeps prev_idx's set ids. */
int cli_load_tables(const struct cli_common *common, const struct catalog *prev_cat,
		    const struct port_index *prev_idx, struct catalog **cat,
		    struct port_index **idx, struct webapi_table **api, struct dsm_err *err);
/* Loads the catalogue and the Web API table the options ask for, binds the
 * table to the catalogue (which gains a service per package it lacks), adds
 * the --port entries and builds the index; prints the error and returns -1 on
 * failure (the caller exits EXIT_USAGE). The caller frees all three. */
int cli_load(const struct cli_common *common, struct catalog **cat, struct port_index **idx,
	     struct webapi_table **api);

/* Prints "dsmflow CMD: message" and a hint to stderr; returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

int cli_catalog(int argc, char **argv, struct cli_common *common);
int cli_lookup(int argc, char **argv, struct cli_common *common);
int cli_read(int argc, char **argv, struct cli_common *common);
int cli_audit(int argc, char **argv, struct cli_common *common);
int cli_live(int argc, char **argv, struct cli_common *common);
int cli_queue(int argc, char **argv, struct cli_common *common);

#endif
