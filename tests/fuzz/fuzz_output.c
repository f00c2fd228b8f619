/* fuzz_output.c - libFuzzer harness for what dsmflow writes about hostile
 * traffic: the input is packets (fuzz_packets.h's format) run through an
 * engine whose flow log and evidence log go to memory; then the report in
 * every format. Beyond crashes and sanitizer reports, a finding is a flow
 * log or evidence log line, or a JSON report, that is not valid JSON
 * (RFC 8259, UTF-8 included), or a Prometheus sample line that is not
 * `name{label="value",...} number` with its label values escaped; and the
 * audit of the same flows (every address in 10/8 and 192.168/16 a NAS),
 * whose JSON must be valid and whose table must fit 100 columns, and its
 * firewall proposals. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsmflow/audit.h"
#include "dsmflow/engine.h"
#include "dsmflow/report.h"
#include "fuzz_packets.h"
#include "jsoncheck.h"


static void check_json_lines(const char *text, size_t len)
{
	const char *end = text + len;

	while (text < end) {
		const char *nl = memchr(text, '\n', (size_t)(end - text));

		if (!nl || !json_valid(text, (size_t)(nl - text))) {
			fprintf(stderr, "not JSON: %.*s\n", (int)(nl ? nl - text : end - text), text);
			abort();
		}
		text = nl + 1;
	}
}

/* A sample line: a metric name, optional labels with escaped values, a
 * space and a number. */
static int prometheus_sample(const char *p, const char *end)
{
	if (p == end || !(*p == '_' || *p == ':' || (*p | 0x20) >= 'a'))
		return 0;
	while (p < end && (*p == '_' || *p == ':' || (*p >= '0' && *p <= '9') || ((*p | 0x20) >= 'a' && (*p | 0x20) <= 'z')))
		p++;
	if (p < end && *p == '{') {
		for (p++; p < end && *p != '}';) {
			while (p < end && *p != '=' && *p != '"')
				p++;
			if (end - p < 2 || p[0] != '=' || p[1] != '"')
				return 0;
			for (p += 2; p < end && *p != '"'; p++)
				if (*p == '\\' && (++p == end || !strchr("\\\"n", *p)))
					return 0;
			if (p == end)
				return 0;
			p++;
			if (p < end && *p == ',')
				p++;
		}
		if (p == end)
			return 0;
		p++;
	}
	if (p == end || *p++ != ' ' || p == end)
		return 0;
	for (; p < end; p++)
		if (!strchr("0123456789.e+-Na", *p))
			return 0;
	return 1;
}

static void check_prometheus(const char *text, size_t len)
{
	const char *end = text + len;

	while (text < end) {
		const char *nl = memchr(text, '\n', (size_t)(end - text));

		if (!nl || (*text != '#' && !prometheus_sample(text, nl))) {
			fprintf(stderr, "not a sample: %.*s\n", (int)(nl ? nl - text : end - text), text);
			abort();
		}
		text = nl + 1;
	}
}

static void write_reports(const struct engine *e)
{
	static const enum report_format formats[] = { REPORT_TABLE, REPORT_JSON, REPORT_CSV,
						      REPORT_PROMETHEUS, REPORT_SUMMARY };
	struct report_input in = {
		.cat = cat, .idx = idx, .counters = engine_counters(e),
		.active_flows = engine_active_flows(e), .evicted_flows = engine_evicted_flows(e),
	};

	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		char *text = NULL;
		size_t len = 0;
		FILE *out = open_memstream(&text, &len);

		if (!out || report_write(formats[i], &in, out))
			abort();
		fclose(out);
		if (formats[i] == REPORT_JSON && !json_valid(text, len))
			abort();
		if (formats[i] == REPORT_PROMETHEUS)
			check_prometheus(text, len);
		free(text);
	}
}

static void check_audit(const struct audit *a)
{
	static const enum audit_format formats[] = { AUDIT_TABLE, AUDIT_JSON, AUDIT_MARKDOWN };

	for (size_t f = 0; f < 3; f++) {
		int table = formats[f] == AUDIT_TABLE;
		char *text = NULL;
		size_t len = 0;
		FILE *out = open_memstream(&text, &len);

		if (!out || audit_write(a, formats[f], cat, idx, out))
			abort();
		fclose(out);
		if (formats[f] == AUDIT_JSON && !json_valid(text, len))
			abort();
		for (char *line = text, *nl; table && (nl = memchr(line, '\n', len - (size_t)(line - text)));
		     line = nl + 1)
			if (nl - line > 100) {
				fprintf(stderr, "wider than 100: %.*s\n", (int)(nl - line), line);
				abort();
			}
		free(text);
	}
	for (int kind = FIREWALL_NFT; kind <= FIREWALL_DSM; kind++) {
		struct firewall_options o = { 24, 64 };
		FILE *out = fopen("/dev/null", "w");

		if (!out || audit_firewall(a, (enum firewall_kind)kind, &o, cat, idx, out))
			abort();
		fclose(out);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct engine_config config = { 0 };
	struct packet pkts[MAX_PACKETS];
	char *flows = NULL, *evidence = NULL;
	size_t flows_len = 0, evidence_len = 0, n;
	FILE *flow_log, *evidence_log;
	struct engine *e;
	struct dsm_err err;
	struct cidr nas[2];
	struct audit *audit;

	load_tables();
	flow_log = open_memstream(&flows, &flows_len);
	evidence_log = open_memstream(&evidence, &evidence_len);
	flow_table_default_config(&config.flows);
	config.flows.max_flows = 16;
	config.webapi = api;
	config.flow_log = flow_log;
	config.evidence_log = evidence_log;
	if (cidr_parse("10.0.0.0/8", &nas[0], &err) || cidr_parse("192.168.0.0/16", &nas[1], &err) ||
	    !(audit = audit_new(nas, 2, NULL, 0)))
		abort();
	config.audit = audit;
	e = engine_new(cat, idx, &config, &err);
	if (!e || !flow_log || !evidence_log)
		abort();
	n = cut(data, size, pkts);
	engine_packets(e, pkts, n);
	write_reports(e);	/* flows pending */
	engine_settle(e);
	engine_flush(e);	/* every flow ends: logged */
	write_reports(e);
	engine_free(e);
	check_audit(audit);
	audit_free(audit);
	fclose(flow_log);
	fclose(evidence_log);
	check_json_lines(flows, flows_len);
	check_json_lines(evidence, evidence_len);
	free(flows);
	free(evidence);
	free_packets(pkts, n);
	return 0;
}
