/* test_audit.c - the per-NAS audit state on flows made here: roles (the
 * NAS serving, connecting out, both ends a NAS), distinct clients exact up
 * to the bound and estimated beyond it within the HyperLogLog's error, the
 * top clients by bytes under a flood of small ones, external clients by
 * the default ranges, the NAS's own IPv6 /64 and --local, multicast never
 * a client, the bounds on NAS and entries, and the JSON written. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../src/audit_state.h"
#include "dsmflow/catalog.h"
#include "dsmflow/counters.h"
#include "dsmflow/index.h"

static const uint8_t nas4[4] = { 192, 168, 1, 10 };

static struct cidr prefix(const char *text)
{
	struct cidr c;
	struct dsm_err err;

	assert_int_equal(cidr_parse(text, &c, &err), 0);
	return c;
}

/* A decided TCP flow from client to server:port, bytes each way. */
static struct flow make_flow(uint8_t family, const uint8_t *client, const uint8_t *server, uint16_t port,
			     uint16_t service, uint64_t bytes)
{
	static struct counter_row row;
	struct flow f;
	size_t n = family == 4 ? 4 : 16;

	memset(&f, 0, sizeof(f));
	f.key.family = family;
	f.key.ip_proto = 6;
	memcpy(f.key.addr[0], client, n);
	memcpy(f.key.addr[1], server, n);
	f.key.port[0] = 50000;
	f.key.port[1] = port;
	f.server = 1;
	f.kind = FLOW_SERVICE;
	f.attribution = service;
	f.row = &row;
	f.packets[TO_SERVER] = f.packets[TO_CLIENT] = 1;
	f.bytes[TO_SERVER] = f.bytes[TO_CLIENT] = bytes / 2;
	f.first_us = 1000000;
	f.last_us = 2000000;
	f.marks = FLOW_MARK_ANSWERED;
	return f;
}

static const struct audit_entry *entry(const struct audit *a, size_t nas, enum audit_role role,
				       uint16_t id)
{
	const struct audit_entry *e;

	for (e = a->nas[nas].entries; e; e = e->hh.next)
		if (e->key.role == role && e->key.id == id)
			return e;
	return NULL;
}

static void test_roles_and_exact_clients(void **state)
{
	struct cidr nas = prefix("192.168.1.10");
	struct audit *a = audit_new(&nas, 1, NULL, 0);
	uint8_t pc[4] = { 192, 168, 1, 20 }, router[4] = { 192, 168, 1, 1 };
	struct flow f;

	(void)state;
	f = make_flow(4, pc, nas4, 5000, 7, 1000);
	audit_flow(a, &f);
	audit_flow(a, &f);	/* the same client again */
	f = make_flow(4, nas4, router, 53, 9, 100);	/* the NAS asks */
	audit_flow(a, &f);
	f = make_flow(4, pc, router, 80, 3, 100);	/* no NAS in it */
	audit_flow(a, &f);
	f = make_flow(4, pc, nas4, 23, 8, 120);	/* refused: a scan, not a use */
	f.marks = 0;
	audit_flow(a, &f);
	assert_null(entry(a, 0, AUDIT_IN, 8));
	assert_int_equal(a->nas[0].unanswered_flows, 1);
	assert_int_equal(a->nas[0].unanswered_bytes, 120);
	f = make_flow(4, pc, router, 80, 3, 100);
	f.row = NULL;					/* pending: not folded */
	memcpy(f.key.addr[1], nas4, 4);
	audit_flow(a, &f);
	assert_int_equal(a->nas_count, 1);
	assert_int_equal(entry(a, 0, AUDIT_IN, 7)->flows, 2);
	assert_int_equal(audit_clients(entry(a, 0, AUDIT_IN, 7)), 1);
	assert_int_equal(entry(a, 0, AUDIT_IN, 7)->bytes[TO_SERVER] + entry(a, 0, AUDIT_IN, 7)->bytes[TO_CLIENT], 2000);
	assert_int_equal(entry(a, 0, AUDIT_OUT, 9)->flows, 1);
	assert_null(entry(a, 0, AUDIT_IN, 3));
	assert_int_equal(a->first_us, 1000000);
	audit_free(a);
}

static void test_clients_estimated_beyond_the_bound(void **state)
{
	struct cidr nas = prefix("192.168.1.10");
	struct audit *a = audit_new(&nas, 1, NULL, 0);
	uint64_t clients;

	(void)state;
	for (uint32_t i = 0; i < 20000; i++) {
		uint8_t pc[4] = { 10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i };
		struct flow f = make_flow(4, pc, nas4, 445, 1, 100);

		audit_flow(a, &f);
	}
	assert_true(entry(a, 0, AUDIT_IN, 1)->estimated);
	clients = audit_clients(entry(a, 0, AUDIT_IN, 1));
	assert_in_range(clients, 20000 * 80 / 100, 20000 * 120 / 100);	/* 6.5% typical, 3 sigma */
	audit_free(a);
}

static void test_top_clients_survive_a_flood(void **state)
{
	struct cidr nas = prefix("192.168.1.10");
	struct audit *a = audit_new(&nas, 1, NULL, 0);
	uint8_t heavy[4] = { 192, 168, 1, 99 };
	const struct audit_entry *e;
	int found = 0;

	(void)state;
	for (uint32_t i = 0; i < 5000; i++) {
		uint8_t pc[4] = { 192, 168, (uint8_t)(2 + i / 250), (uint8_t)(i % 250) };
		struct flow f = make_flow(4, pc, nas4, 5001, 2, 100);

		audit_flow(a, &f);
		if (i % 100 == 0) {
			f = make_flow(4, heavy, nas4, 5001, 2, 100000);
			audit_flow(a, &f);
		}
	}
	e = entry(a, 0, AUDIT_IN, 2);
	for (size_t i = 0; i < 2 * AUDIT_TOP; i++)
		if (e->top[i].flows && memcmp(e->top[i].addr.addr, heavy, 4) == 0) {
			found = 1;
			assert_true(e->top[i].bytes >= 50 * 100000);	/* never less than its own */
			assert_true(e->top[i].bytes - e->top[i].error <= 50 * 100000);	/* the guarantee */
		}
	assert_true(found);
	audit_free(a);
}

static void test_external_multicast_and_local(void **state)
{
	struct cidr nas[2] = { prefix("192.168.1.10"), prefix("2001:db8:1:2::10") };
	struct cidr local = prefix("203.0.113.0/24");
	struct audit *a = audit_new(nas, 2, NULL, 0), *with_local = audit_new(nas, 2, &local, 1);
	uint8_t outside[4] = { 203, 0, 113, 7 }, mdns[4] = { 224, 0, 0, 251 };
	uint8_t nas6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2, [15] = 0x10 };
	uint8_t lan6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2, [15] = 0x99 };
	uint8_t far6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 9, 0, 9, [15] = 0x99 };
	struct flow f;

	(void)state;
	for (int pass = 0; pass < 2; pass++) {
		struct audit *au = pass ? with_local : a;

		f = make_flow(4, outside, nas4, 5001, 2, 100);
		audit_flow(au, &f);
		f = make_flow(4, mdns, nas4, 5353, 4, 100);	/* as if a group address spoke */
		audit_flow(au, &f);
	}
	assert_int_equal(entry(a, 0, AUDIT_IN, 2)->external_flows, 1);
	assert_int_equal(entry(with_local, 0, AUDIT_IN, 2)->external_flows, 0);	/* --local */
	assert_int_equal(audit_clients(entry(a, 0, AUDIT_IN, 4)), 0);
	assert_int_equal(entry(a, 0, AUDIT_IN, 4)->flows, 1);
	f = make_flow(6, lan6, nas6, 5001, 2, 100);	/* the NAS's /64: not external */
	audit_flow(a, &f);
	f = make_flow(6, far6, nas6, 5001, 2, 100);
	audit_flow(a, &f);
	assert_int_equal(a->nas_count, 2);
	assert_int_equal(entry(a, 1, AUDIT_IN, 2)->external_flows, 1);
	assert_int_equal(audit_clients(entry(a, 1, AUDIT_IN, 2)), 2);
	audit_free(a);
	audit_free(with_local);
}

static void test_bounds_are_counted(void **state)
{
	struct cidr all = prefix("10.0.0.0/8");
	struct audit *a = audit_new(&all, 1, NULL, 0);
	uint8_t pc[4] = { 172, 16, 0, 1 };

	(void)state;
	for (uint32_t i = 0; i < AUDIT_MAX_NAS + 5; i++) {
		uint8_t server[4] = { 10, 0, 0, (uint8_t)(i + 1) };
		struct flow f = make_flow(4, pc, server, 80, 1, 10);

		audit_flow(a, &f);
	}
	assert_int_equal(a->nas_count, AUDIT_MAX_NAS);
	assert_int_equal(a->flows_without_nas_slot, 5);
	for (uint32_t port = 0; port < AUDIT_MAX_ENTRIES + 10; port++) {
		uint8_t server[4] = { 10, 0, 0, 1 };
		struct flow f = make_flow(4, pc, server, (uint16_t)port, 1, 10);

		f.kind = FLOW_UNCLASSIFIED;
		f.attribution = (uint16_t)port;
		audit_flow(a, &f);
	}
	assert_int_equal(a->nas[0].entry_count, AUDIT_MAX_ENTRIES);
	assert_true(a->nas[0].flows_without_entry >= 10);
	audit_free(a);
}

static void test_json_names_the_lists(void **state)
{
	struct cidr nas = prefix("192.168.1.10");
	struct audit *a = audit_new(&nas, 1, NULL, 0);
	struct dsm_err err;
	struct catalog *cat = catalog_load_embedded(&err);
	struct port_index *idx = port_index_build(cat, &err);
	int telnet = catalog_find_service(cat, NULL, "Telnet");
	uint8_t pc[4] = { 192, 168, 1, 20 };
	struct flow f = make_flow(4, pc, nas4, 23, (uint16_t)telnet, 100);
	char *text = NULL, *closable;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	(void)state;
	audit_flow(a, &f);
	assert_int_equal(audit_write(a, AUDIT_JSON, cat, idx, out), 0);
	fclose(out);
	assert_non_null(strstr(text, "\"in_use\": [\n        {\"service\": \"Telnet\""));
	assert_non_null(strstr(text, "\"top_clients\": [{\"address\": \"192.168.1.20\", \"flows\": 1, \"bytes\": 100, \"bytes_error\": 0}]"));
	closable = strstr(text, "\"closable_ports\": [");
	assert_non_null(closable);
	*strchr(closable, ']') = '\0';
	assert_null(strstr(closable, "\"tcp/23\""));		/* in use: not closable */
	assert_non_null(strstr(closable, "\"tcp/3306\""));	/* MySQL's: closable */
	closable[strlen(closable)] = ']';
	assert_non_null(strstr(text, "{\"service\": \"MySQL\", \"category\": \"System\", \"ports\": [\"tcp/3306\"]}"));
	free(text);
	port_index_free(idx);
	catalog_free(cat);
	audit_free(a);
}

/* Bytes over time: every byte in a bucket whatever order flows end in,
 * the width doubling as the window grows, each flow in the bucket of the
 * time it ended. */
static void test_bytes_over_time(void **state)
{
	struct cidr nas = prefix("192.168.1.10");
	struct audit *a = audit_new(&nas, 1, NULL, 0);
	uint8_t pc[4] = { 192, 168, 1, 20 };
	const struct audit_entry *e;
	uint64_t total = 0, sum = 0;
	unsigned seed = 7;

	(void)state;
	for (int i = 0; i < 500; i++) {
		struct flow f = make_flow(4, pc, nas4, 445, 1, 1000 + (uint64_t)i);

		f.last_us = 1700000000000000ull + (uint64_t)(rand_r(&seed) % 3600) * 1000000u;
		total += f.bytes[TO_SERVER] + f.bytes[TO_CLIENT];
		audit_flow(a, &f);
	}
	e = entry(a, 0, AUDIT_IN, 1);
	for (size_t i = 0; i < AUDIT_BUCKETS; i++)
		sum += e->bytes_at[i];
	assert_int_equal(sum, total);
	assert_true(a->bucket_us * AUDIT_BUCKETS >= 3600000000ull / 2);	/* an hour fits in 32 */
	assert_true(a->bucket_high - a->bucket_low < AUDIT_BUCKETS);
	assert_true(a->bucket_low >= a->bucket_base);
	assert_true(e->bytes_at[a->bucket_low - a->bucket_base] > 0);
	assert_true(e->bytes_at[a->bucket_high - a->bucket_base] > 0);
	audit_free(a);
}

/* Without --nas: a Synology Assistant answer counts only when it went to a
 * host seen broadcasting a search; a search to a /24's broadcast address
 * does not make the searcher a NAS. */
static void test_detection_by_assistant(void **state)
{
	struct audit *a = audit_new(NULL, 0, NULL, 0);
	uint8_t pc[4] = { 192, 168, 1, 20 }, other[4] = { 192, 168, 1, 30 };
	uint8_t directed[4] = { 192, 168, 1, 255 }, nas[4] = { 192, 168, 1, 10 }, stray[4] = { 192, 168, 1, 40 };
	struct cidr found[4];
	uint8_t by[4];
	struct flow f;

	(void)state;
	f = make_flow(4, pc, directed, 9999, 1, 100);	/* the search: pc to the broadcast */
	f.key.ip_proto = 17;
	f.key.port[0] = 9999;
	f.packets[TO_CLIENT] = f.bytes[TO_CLIENT] = 0;
	audit_flow(a, &f);
	f = make_flow(4, pc, nas, 9999, 1, 100);	/* the answer: nas to pc, one way */
	f.key.ip_proto = 17;
	f.key.port[0] = 9999;
	f.packets[TO_SERVER] = f.bytes[TO_SERVER] = 0;
	audit_flow(a, &f);
	f = make_flow(4, other, stray, 9999, 1, 100);	/* to a host that never searched */
	f.key.ip_proto = 17;
	f.key.port[0] = 9999;
	f.packets[TO_SERVER] = f.bytes[TO_SERVER] = 0;
	audit_flow(a, &f);
	assert_int_equal(audit_detected(a, found, by, 4), 1);
	assert_memory_equal(found[0].addr, nas, 4);
	assert_int_equal(by[0], AUDIT_BY_ASSISTANT);
	audit_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roles_and_exact_clients),
		cmocka_unit_test(test_clients_estimated_beyond_the_bound),
		cmocka_unit_test(test_top_clients_survive_a_flood),
		cmocka_unit_test(test_external_multicast_and_local),
		cmocka_unit_test(test_bounds_are_counted),
		cmocka_unit_test(test_json_names_the_lists),
		cmocka_unit_test(test_bytes_over_time),
		cmocka_unit_test(test_detection_by_assistant),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
