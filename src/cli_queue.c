/* cli_queue.c - `dsmflow queue`: a sensor inline on a netfilter queue that
 * accepts every packet unchanged. */
#include <stdio.h>
#include <string.h>

#include "cli_sensor.h"

static const char usage[] =
	"Usage: dsmflow queue --queue N|A:B [OPTIONS]\n"
	"\n"
	"Reads the packets that an iptables NFQUEUE rule sends to queue N, attributes\n"
	"them to DSM services, and accepts every one of them unchanged. Route traffic\n"
	"with --queue-bypass, so that it flows while dsmflow is not running:\n"
	"\n"
	"  iptables -I FORWARD -j NFQUEUE --queue-num 0 --queue-bypass\n"
	"\n"
	"The queue is fail-open (a full queue passes packets). Bytes are IP lengths:\n"
	"there is no link layer on a queue.\n"
	"\n"
	"  -q, --queue N         the queue number, 0..65535 (required)\n"
	"  -q, --queue A:B       queues A to B (iptables' --queue-balance A:B), each read\n"
	"                        by a thread of its own into an engine of its own; the\n"
	"                        kernel keeps both directions of an address pair on one\n"
	"                        queue. Reports and metrics add the threads up\n"
	"      --copy-range N    bytes of each packet copied to dsmflow, 64..65535\n"
	"                        (default 4096: every header and the payload evidence\n"
	"                        is read from; 64 still holds IPv6's ports; a header\n"
	"                        cut after its ports counts as truncated)\n"
	"      --queue-maxlen N  packets the kernel may hold for dsmflow (default 65536)\n"
	"      --rcvbuf MIB      the netlink socket's receive buffer (default 64 MiB)\n"
	CLI_SENSOR_HELP
	"\n"
	CLI_ENGINE_HELP
	CLI_COMMON_HELP
	CLI_SENSOR_EXIT_HELP;

enum { OPT_COPY_RANGE = OPT_SENSOR_FIRST_FREE, OPT_QUEUE_MAXLEN, OPT_RCVBUF };

struct queue_cli {
	struct capture_options capture;
	int have_queue;
	struct sensor_options sensor;
	struct engine_options engine;
};

/* "N" or "A:B" into first and last; -1 when it is neither. */
static int parse_queue_range(const char *arg, uint64_t *first, uint64_t *last)
{
	const char *colon = strchr(arg, ':');
	char head[8];
	size_t len;

	if (!colon) {
		*last = 0;
		return cli_parse_count(arg, 65535, first) ? -1 : (*last = *first, 0);
	}
	if ((len = (size_t)(colon - arg)) >= sizeof(head))
		return -1;
	memcpy(head, arg, len);
	head[len] = '\0';
	if (cli_parse_count(head, 65535, first) || cli_parse_count(colon + 1, 65535, last))
		return -1;
	return *last < *first ? -1 : 0;
}

/* --queue N, or A:B (iptables' --queue-balance A:B): one capture thread per queue. */
static int parse_queues(struct queue_cli *c, const char *arg)
{
	uint64_t first, last;

	if (parse_queue_range(arg, &first, &last))
		return cli_usage_error("queue", "--queue: '%s' is not a queue number 0..65535 or a "
						"range A:B of them, A not above B", arg);
	if (last - first + 1 > PARALLEL_MAX_WORKERS)
		return cli_usage_error("queue", "--queue %s: %llu queues; at most %d, one thread each",
				       arg, (unsigned long long)(last - first + 1), PARALLEL_MAX_WORKERS);
	c->capture.queue.queue = (uint16_t)first;
	c->sensor.workers = (unsigned)(last - first + 1);
	c->have_queue = 1;
	return 0;
}

static int queue_option(struct queue_cli *c, int opt, const char *arg)
{
	uint64_t n;
	int rc;

	switch (opt) {
	case 'q':
		return parse_queues(c, arg);
	case OPT_COPY_RANGE:
		if (cli_parse_count(arg, 65535, &n) || n < 64)
			return cli_usage_error("queue", "--copy-range: '%s' is not 64..65535 bytes", arg);
		c->capture.queue.copy_range = (uint32_t)n;
		return 0;
	case OPT_QUEUE_MAXLEN:
		if (cli_parse_count(arg, UINT32_MAX, &n) || n == 0)
			return cli_usage_error("queue", "--queue-maxlen: '%s' is not a packet count", arg);
		c->capture.queue.max_len = (uint32_t)n;
		return 0;
	case OPT_RCVBUF:
		if (cli_parse_count(arg, 2047, &n) || n == 0)
			return cli_usage_error("queue", "--rcvbuf: '%s' is not 1..2047 MiB", arg);
		c->capture.queue.rcvbuf = (uint32_t)n << 20;
		return 0;
	}
	rc = sensor_option("queue", &c->sensor, opt, arg);
	return rc >= 0 ? rc : engine_option("queue", &c->engine, opt, arg);
}

static int parse_queue(int argc, char **argv, struct queue_cli *c, struct cli_common *common)
{
	static const struct option options[] = {
		CLI_COMMON_LONG_OPTIONS,
		CLI_ENGINE_LONG_OPTIONS,
		CLI_SENSOR_LONG_OPTIONS,
		{ "queue", required_argument, NULL, 'q' },
		{ "copy-range", required_argument, NULL, OPT_COPY_RANGE },
		{ "queue-maxlen", required_argument, NULL, OPT_QUEUE_MAXLEN },
		{ "rcvbuf", required_argument, NULL, OPT_RCVBUF },
		{ NULL, 0, NULL, 0 },
	};
	int opt, rc, status;

	memset(c, 0, sizeof(*c));
	c->capture.queue.copy_range = CAPTURE_DEFAULT_SNAPLEN;
	c->capture.queue.max_len = 65536;
	c->capture.queue.rcvbuf = 64u << 20;
	sensor_options_init(&c->sensor);
	engine_options_init(&c->engine);
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+hq:" CLI_ENGINE_SHORT_OPTIONS CLI_SENSOR_SHORT_OPTIONS,
				  options, NULL)) != -1) {
		switch (cli_shared_option("queue", usage, opt, argv, common, &status)) {
		case CLI_OPTION_EXIT:
			return status == EXIT_OK ? -1 : status;
		case CLI_OPTION_HANDLED:
			continue;
		case CLI_OPTION_OWN:
			if ((rc = queue_option(c, opt, optarg)))
				return rc;
		}
	}
	if (!c->have_queue)
		return cli_usage_error("queue", "no queue: give --queue N");
	if (optind < argc)
		return cli_usage_error("queue", "unexpected argument '%s'", argv[optind]);
	if ((rc = engine_options_check("queue", &c->engine, 1)))
		return rc;
	return sensor_options_check("queue", &c->sensor);
}

int cli_queue(int argc, char **argv, struct cli_common *common)
{
	struct queue_cli c;
	int rc = parse_queue(argc, argv, &c, common);

	if (rc == 0)
		rc = sensor_main(&capture_queue_ops, &c.capture, &c.sensor, &c.engine, common);
	return rc < 0 ? EXIT_OK : rc;
}
