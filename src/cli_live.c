/* cli_live.c - `dsmflow live`: a sensor on a network interface, with
 * tcpdump's conventions (-i, -s, -p, -B, -Z, a trailing BPF filter). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_sensor.h"

static const char usage[] =
	"Usage: dsmflow live -i IFACE [OPTIONS] [BPF FILTER...]\n"
	"\n"
	"Captures on IFACE (from an AF_PACKET ring on Ethernet and loopback\n"
	"interfaces, through libpcap on others) and attributes the traffic to DSM\n"
	"services as it passes. Bytes are wire lengths, as in `dsmflow read`.\n"
	"\n"
	"  -i, --interface IFACE capture on IFACE (required)\n"
	"  -s, --snaplen N       bytes captured per packet, 64..262144 (default 4096:\n"
	"                        every header and the payload evidence is read from:\n"
	"                        a 1.8 KB TLS ClientHello in two segments, DSM's form\n"
	"                        bodies). 64 still holds the ports under Ethernet, a\n"
	"                        VLAN tag and IPv6; a header cut after its ports counts\n"
	"                        as truncated, not malformed\n"
	"  -p, --no-promiscuous  do not put the interface into promiscuous mode\n"
	"  -B, --buffer-size KIB the kernel capture buffer, in KiB (per worker; default\n"
	"                        32768 on Ethernet and loopback interfaces)\n"
	"      --workers N       N capture threads, 1..64 (default 1), each with a ring\n"
	"                        and an engine of its own: the kernel splits the packets\n"
	"                        by address pair (a fanout group), so that flows, their\n"
	"                        fragments and FTP's data connections each meet one\n"
	"                        worker; reports and metrics add the workers up.\n"
	"                        Ethernet and loopback interfaces are read from an\n"
	"                        AF_PACKET ring in batches; others (any, tun) through\n"
	"                        libpcap, with one worker\n"
	CLI_SENSOR_HELP
	"\n"
	CLI_ENGINE_HELP
	CLI_COMMON_HELP
	CLI_SENSOR_EXIT_HELP;

enum { OPT_NO_PROMISC = OPT_SENSOR_FIRST_FREE, OPT_WORKERS };

struct live_cli {
	struct capture_options capture;
	struct sensor_options sensor;
	struct engine_options engine;
	char *filter;
};

static int live_option(struct live_cli *c, int opt, const char *arg)
{
	uint64_t n;
	int rc;

	switch (opt) {
	case 'i':
		c->capture.live.interface = arg;
		return 0;
	case 's':
		if (cli_parse_count(arg, 262144, &n) || n < 64)
			return cli_usage_error("live", "-s: '%s' is not a snapshot length 64..262144", arg);
		c->capture.live.snaplen = (int)n;
		return 0;
	case 'p':
		c->capture.live.promiscuous = 0;
		return 0;
	case OPT_WORKERS:
		if (cli_parse_count(arg, PARALLEL_MAX_WORKERS, &n) || n == 0)
			return cli_usage_error("live", "--workers: '%s' is not a number 1..%d", arg,
					       PARALLEL_MAX_WORKERS);
		c->sensor.workers = (unsigned)n;
		return 0;
	case 'B':
		if (cli_parse_count(arg, 4 * 1024 * 1024, &n) || n == 0)
			return cli_usage_error("live", "-B: '%s' is not a buffer size in KiB", arg);
		c->capture.live.buffer_kib = (int)n;
		return 0;
	}
	rc = sensor_option("live", &c->sensor, opt, arg);
	return rc >= 0 ? rc : engine_option("live", &c->engine, opt, arg);
}

static int parse_live(int argc, char **argv, struct live_cli *c, struct cli_common *common)
{
	static const struct option options[] = {
		CLI_COMMON_LONG_OPTIONS,
		CLI_ENGINE_LONG_OPTIONS,
		CLI_SENSOR_LONG_OPTIONS,
		{ "interface", required_argument, NULL, 'i' },
		{ "snaplen", required_argument, NULL, 's' },
		{ "no-promiscuous", no_argument, NULL, 'p' },
		{ "buffer-size", required_argument, NULL, 'B' },
		{ "workers", required_argument, NULL, OPT_WORKERS },
		{ NULL, 0, NULL, 0 },
	};
	int opt, rc, status;

	memset(c, 0, sizeof(*c));
	c->capture.live.snaplen = CAPTURE_DEFAULT_SNAPLEN;
	c->capture.live.promiscuous = 1;
	sensor_options_init(&c->sensor);
	engine_options_init(&c->engine);
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+hi:s:pB:" CLI_ENGINE_SHORT_OPTIONS CLI_SENSOR_SHORT_OPTIONS,
				  options, NULL)) != -1) {
		switch (cli_shared_option("live", usage, opt, argv, common, &status)) {
		case CLI_OPTION_EXIT:
			return status == EXIT_OK ? -1 : status;
		case CLI_OPTION_HANDLED:
			continue;
		case CLI_OPTION_OWN:
			if ((rc = live_option(c, opt, optarg)))
				return rc;
		}
	}
	if (!c->capture.live.interface)
		return cli_usage_error("live", "no interface: give -i IFACE");
	if ((rc = sensor_options_check("live", &c->sensor)) ||
	    (rc = engine_options_check("live", &c->engine, 1)))
		return rc;
	c->filter = cli_join_words(argc - optind, argv + optind);
	c->capture.live.filter = c->filter;
	return 0;
}

int cli_live(int argc, char **argv, struct cli_common *common)
{
	struct live_cli c;
	int rc = parse_live(argc, argv, &c, common);

	const struct capture_ops *ops = rc == 0 ? capture_live_for(c.capture.live.interface) : NULL;

	if (rc == 0 && c.sensor.workers > 1 && ops != &capture_ring_ops)
		rc = cli_usage_error("live", "--workers %u: %s is not an Ethernet or loopback interface "
					     "(or does not exist): it is read through libpcap, by one "
					     "worker", c.sensor.workers, c.capture.live.interface);
	if (rc == 0)
		rc = sensor_main(ops, &c.capture, &c.sensor, &c.engine, common);
	free(c.filter);
	return rc < 0 ? EXIT_OK : rc;
}
