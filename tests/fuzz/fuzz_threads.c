/* fuzz_threads.c - libFuzzer harness for reading with several threads: the
 * input is cut into packets as for fuzz_engine (fuzz_packets.h) and counted
 * by one engine, and by two and by three engines sharing them through the
 * reading threads (parallel.c). A finding is any difference, once every
 * engine is settled and the sharing ones added up: the totals, every
 * service's and group's row and distinct clients, every unclassified
 * port's row, the flows active, the inspections and DNS answers, besides
 * crashes, sanitizer reports and leaks. (The pools are the default ones,
 * which these inputs never fill: the results are equal only while one
 * engine's bounds are not reached.) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsmflow/engine.h"
#include "dsmflow/inspect.h"
#include "dsmflow/parallel.h"
#include "fuzz_packets.h"


static struct engine *new_engine(void)
{
	struct engine_config config = { 0 };
	struct dsm_err err;

	flow_table_default_config(&config.flows);
	config.webapi = api;
	return engine_new(cat, idx, &config, &err);
}

/* count engines sharing pkts[0..n), added up into the first. */
static struct engine *shared(unsigned count, const struct packet *pkts, size_t n)
{
	struct engine *engines[3];
	struct parallel *p;
	struct dsm_err err;

	if (!(p = parallel_new(count, NULL, NULL, &err)))
		abort();
	for (unsigned i = 0; i < count; i++) {
		if (!(engines[i] = new_engine()))
			abort();
		engine_share(engines[i], i, count);
	}
	if (parallel_start(p, engines, &err))
		abort();
	parallel_stable(p, NULL, SIZE_MAX);
	parallel_feed(p, pkts, n / 2);	/* in two goes, a drain between */
	parallel_drain(p);
	parallel_stable(p, NULL, SIZE_MAX);
	parallel_feed(p, pkts + n / 2, n - n / 2);
	parallel_stop(p);
	for (unsigned i = 0; i < count; i++)
		engine_settle(engines[i]);
	for (unsigned i = 1; i < count; i++) {
		if (engine_absorb(engines[0], engines[i]))
			abort();
		engine_free(engines[i]);
	}
	parallel_free(p);
	return engines[0];
}

/* Aborts unless a and b counted alike. */
static void same(const struct engine *a, const struct engine *b)
{
	const struct counters *x = engine_counters(a), *y = engine_counters(b);
	struct inspect_stats ia, ib;

	if (memcmp(counters_totals_const(x), counters_totals_const(y), sizeof(struct counter_totals)) ||
	    engine_active_flows(a) != engine_active_flows(b))
		abort();
	for (size_t i = 0; i < counters_service_count(x); i++)
		if (memcmp(counters_service(x, i), counters_service(y, i), sizeof(struct counter_row)) ||
		    counters_clients(x, FLOW_SERVICE, (uint16_t)i) != counters_clients(y, FLOW_SERVICE, (uint16_t)i))
			abort();
	for (size_t i = 0; i <= counters_max_set_id(x); i++)
		if (memcmp(counters_group(x, i), counters_group(y, i), sizeof(struct counter_row)))
			abort();
	engine_inspect_stats(a, &ia);
	engine_inspect_stats(b, &ib);
	if (ia.started != ib.started || ia.no_slot != ib.no_slot || ia.requests_cut != ib.requests_cut ||
	    ia.dns_answers != ib.dns_answers)
		abort();
}

static void port_rows(void *ctx, uint8_t ip_proto, uint16_t port, const struct counter_row *row)
{
	const struct counters *other = ctx;
	struct counter_row *there = counters_row((struct counters *)other, FLOW_UNCLASSIFIED, port, ip_proto);

	if (!there || memcmp(there, row, sizeof(*row)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct packet pkts[MAX_PACKETS];
	struct engine *one, *two, *three;
	size_t n;

	load_tables();
	n = cut(data, size, pkts);
	if (!(one = new_engine()))
		abort();
	engine_packets(one, pkts, n);
	engine_settle(one);
	two = shared(2, pkts, n);
	three = shared(3, pkts, n);
	same(one, two);
	same(one, three);
	/* every port row of each is the other's, both ways (counters_row
	 * finds it, or adds a row of zeros that the comparison fails on) */
	counters_each_unclassified(engine_counters(two), port_rows, (void *)engine_counters(one));
	counters_each_unclassified(engine_counters(three), port_rows, (void *)engine_counters(one));
	counters_each_unclassified(engine_counters(one), port_rows, (void *)engine_counters(two));
	counters_each_unclassified(engine_counters(one), port_rows, (void *)engine_counters(three));
	engine_free(one);
	engine_free(two);
	engine_free(three);
	free_packets(pkts, n);
	return 0;
}
