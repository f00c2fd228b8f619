/* fuzz_engine.c - libFuzzer harness for the packet path: the input is cut
 * into packets ([link][length][bytes]...), each in a buffer of exactly its
 * length (so that AddressSanitizer sees any read past it), fed to one
 * engine in batches and to another one packet at a time. Crashes, leaks
 * and sanitizer reports are findings, and so is any difference between the
 * two engines' totals, or totals that do not add up (pending included)
 * before and after the pending flows are decided. The engines have tiny
 * inspection and DNS pools, so that full pools are exercised too, and a
 * flow log, so that evidence values are kept and let go. */
#include <pcap/dlt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <stdio.h>

#include "dsmflow/engine.h"
#include "fuzz_packets.h"

static FILE *sink;

static struct engine *new_engine(void)
{
	struct engine_config config = { 0 };
	struct dsm_err err;

	flow_table_default_config(&config.flows);
	config.flows.max_flows = 8;	/* evictions within a batch */
	config.webapi = api;
	config.inspect_slots = 3;
	config.dns_entries = 2;
	config.evidence_values = 2;
	config.flow_log = sink;
	return engine_new(cat, idx, &config, &err);
}

static void check_sums(const struct engine *e)
{
	const struct counters *c = engine_counters(e);
	const struct counter_totals *t = counters_totals_const(c);
	struct counter_row classified, unclassified;

	counters_sum(c, &classified, &unclassified);
	if (t->packets != row_packets(&classified) + row_packets(&unclassified) + t->non_ip_packets +
			  t->malformed_packets + t->pending_packets ||
	    t->bytes != row_bytes(&classified) + row_bytes(&unclassified) + t->non_ip_bytes +
			t->malformed_bytes + t->pending_bytes)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct packet pkts[MAX_PACKETS];
	struct engine *batched, *single;
	size_t n;

	if (!cat) {
		load_tables();
		sink = fopen("/dev/null", "w");
	}
	n = cut(data, size, pkts);
	batched = new_engine();
	single = new_engine();
	engine_packets(batched, pkts, n);
	for (size_t i = 0; i < n; i++)
		engine_packet(single, &pkts[i]);
	if (memcmp(counters_totals_const(engine_counters(batched)),
		   counters_totals_const(engine_counters(single)), sizeof(struct counter_totals)) ||
	    engine_active_flows(batched) != engine_active_flows(single))
		abort();
	check_sums(batched);
	engine_settle(batched);
	engine_settle(single);
	if (counters_totals_const(engine_counters(batched))->pending_packets ||
	    memcmp(counters_totals_const(engine_counters(batched)),
		   counters_totals_const(engine_counters(single)), sizeof(struct counter_totals)))
		abort();
	check_sums(batched);
	engine_free(batched);
	engine_free(single);
	free_packets(pkts, n);
	return 0;
}
