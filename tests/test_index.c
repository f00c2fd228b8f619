/* test_index.c - the port index against the catalogue it is built from:
 * shared ports, range edges, absent ports, dynamic entries, ICMP, --port. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dsmflow/catalog.h"
#include "dsmflow/index.h"

struct fixture {
	struct catalog *cat;
	struct port_index *idx;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct dsm_err err;

	f->cat = catalog_load_embedded(&err);
	f->idx = f->cat ? port_index_build(f->cat, &err) : NULL;
	*state = f;
	return f->idx ? 0 : -1;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	port_index_free(f->idx);
	catalog_free(f->cat);
	free(f);
	return 0;
}

static const struct candidate_set *set_of(const struct fixture *f, enum dsm_proto proto,
					  uint16_t port)
{
	return port_index_set(f->idx, port_index_lookup(f->idx, proto, port));
}

/* The candidate's roles for the named service, 0 when it is not in the set. */
static unsigned roles_of(const struct fixture *f, const struct candidate_set *set,
			 const char *service)
{
	for (size_t i = 0; set && i < set->count; i++)
		if (strcmp(catalog_service(f->cat, set->items[i].service)->name, service) == 0)
			return set->items[i].roles;
	return 0;
}

static size_t count_of(const struct candidate_set *set)
{
	return set ? set->count : 0;
}

static void test_shared_ports_share_one_set(void **state)
{
	struct fixture *f = *state;
	const struct candidate_set *set = set_of(f, DSM_PROTO_TCP, 5000);

	assert_int_equal(port_index_lookup(f->idx, DSM_PROTO_TCP, 5000),
			 port_index_lookup(f->idx, DSM_PROTO_TCP, 5001));
	assert_int_equal(count_of(set), 31);
	assert_int_equal(roles_of(f, set, "DSM"), DSM_ROLE_INBOUND);
	assert_int_equal(roles_of(f, set, "DS file"), DSM_ROLE_INBOUND);
	assert_int_equal(set->proto, DSM_PROTO_TCP);
	assert_int_equal(set->port, 5000);
	/* Synology Assistant's three ports, with HA */
	assert_int_equal(port_index_lookup(f->idx, DSM_PROTO_UDP, 9997),
			 port_index_lookup(f->idx, DSM_PROTO_UDP, 9999));
	set = set_of(f, DSM_PROTO_UDP, 9998);
	assert_int_equal(count_of(set), 2);
	assert_true(roles_of(f, set, "Synology Assistant"));
	assert_true(roles_of(f, set, "Synology High Availability (HA)"));
	set = set_of(f, DSM_PROTO_TCP, 9998);
	assert_true(roles_of(f, set, "Data Replicator, Data Replicator II, Data Replicator III"));
	assert_false(roles_of(f, set, "Synology Assistant"));
	/* ssh: five services; 443 mixes inbound and outbound services */
	assert_int_equal(count_of(set_of(f, DSM_PROTO_TCP, 22)), 5);
	set = set_of(f, DSM_PROTO_TCP, 443);
	assert_int_equal(roles_of(f, set, "Mail Station"), DSM_ROLE_INBOUND);
	assert_int_equal(roles_of(f, set, "Active Backup for Business"), DSM_ROLE_OUTBOUND);
	assert_int_equal(roles_of(f, set, "Hybrid Share"), DSM_ROLE_OUTBOUND);
	assert_int_equal(roles_of(f, set, "Synology Drive Server"), DSM_ROLE_INBOUND);
	assert_int_equal(count_of(set), 8);
}

static void test_single_and_absent_ports(void **state)
{
	struct fixture *f = *state;
	const struct candidate_set *set = set_of(f, DSM_PROTO_UDP, 1194);

	assert_int_equal(count_of(set), 1);
	assert_string_equal(catalog_service(f->cat, set->items[0].service)->name, "VPN Server (OpenVPN)");
	assert_null(set_of(f, DSM_PROTO_TCP, 1194));
	assert_int_equal(count_of(set_of(f, DSM_PROTO_UDP, 69)), 1);
	assert_null(set_of(f, DSM_PROTO_TCP, 69));
	assert_null(set_of(f, DSM_PROTO_UDP, 9));
	assert_null(set_of(f, DSM_PROTO_TCP, 0));
	assert_null(set_of(f, DSM_PROTO_UDP, 65535));
	assert_null(set_of(f, DSM_PROTO_TCP, 24523));
	assert_int_equal(port_index_lookup(f->idx, DSM_PROTO_TCP, 24523), PORT_INDEX_NONE);
}

static void test_range_edges(void **state)
{
	struct fixture *f = *state;
	const char *cluster = "CIFS Scale-out Cluster", *sds = "Synology Directory Server";

	assert_null(set_of(f, DSM_PROTO_TCP, 49151));
	assert_null(set_of(f, DSM_PROTO_UDP, 49151));
	assert_true(roles_of(f, set_of(f, DSM_PROTO_TCP, 49152), cluster));
	assert_true(roles_of(f, set_of(f, DSM_PROTO_TCP, 49152), sds));
	assert_int_equal(count_of(set_of(f, DSM_PROTO_TCP, 49152)), 2);
	assert_int_equal(count_of(set_of(f, DSM_PROTO_UDP, 49152)), 1);
	assert_true(roles_of(f, set_of(f, DSM_PROTO_UDP, 49152), cluster));
	assert_int_equal(count_of(set_of(f, DSM_PROTO_TCP, 49252)), 1);
	assert_true(roles_of(f, set_of(f, DSM_PROTO_UDP, 49252), cluster));
	assert_null(set_of(f, DSM_PROTO_TCP, 49253));
	assert_null(set_of(f, DSM_PROTO_UDP, 49253));
	/* HA's 7400-7999 overlaps Migration Assistant's 7400-7499 */
	assert_int_equal(count_of(set_of(f, DSM_PROTO_TCP, 7499)), 2);
	assert_int_equal(count_of(set_of(f, DSM_PROTO_TCP, 7500)), 1);
	assert_int_equal(count_of(set_of(f, DSM_PROTO_UDP, 7400)), 1);
}

static void test_dynamic_entries_kept_apart(void **state)
{
	struct fixture *f = *state;
	const struct dsm_record *dyn[4];

	assert_int_equal(port_index_dynamic(f->idx, DSM_PROTO_TCP, 24523, dyn, 4), 1);
	assert_string_equal(dyn[0]->label, "passive data");
	assert_int_equal(port_index_dynamic(f->idx, DSM_PROTO_TCP, 1025, dyn, 4), 1);
	assert_int_equal(port_index_dynamic(f->idx, DSM_PROTO_TCP, 65535, dyn, 4), 1);
	assert_int_equal(port_index_dynamic(f->idx, DSM_PROTO_TCP, 1024, dyn, 4), 0);
	assert_int_equal(port_index_dynamic(f->idx, DSM_PROTO_UDP, 24523, dyn, 4), 0);
	/* the dynamic range does not leak into static sets */
	assert_false(roles_of(f, set_of(f, DSM_PROTO_TCP, 5000), "FTP, FTP over SSL, FTP over TLS"));
	assert_true(roles_of(f, set_of(f, DSM_PROTO_TCP, 21), "FTP, FTP over SSL, FTP over TLS"));
}

static void test_icmp(void **state)
{
	struct fixture *f = *state;
	const struct candidate_set *set = set_of(f, DSM_PROTO_ICMP, 0);

	assert_int_equal(count_of(set), 2);
	assert_true(roles_of(f, set, "Synology High Availability (HA)"));
	assert_true(roles_of(f, set, "Virtual Machine Manager"));
	assert_ptr_equal(set, set_of(f, DSM_PROTO_ICMP, 8));
}

/* Every port of both protocols agrees with a scan of the records. */
static void test_every_port_matches_a_scan(void **state)
{
	struct fixture *f = *state;
	size_t n = catalog_record_count(f->cat);

	for (enum dsm_proto proto = DSM_PROTO_TCP; proto <= DSM_PROTO_UDP; proto++) {
		for (uint32_t port = 0; port <= UINT16_MAX; port++) {
			const struct candidate_set *set = set_of(f, proto, (uint16_t)port);
			size_t expected = 0;

			for (size_t i = 0; i < n; i++) {
				const struct dsm_record *r = catalog_record(f->cat, i);

				if (r->proto != proto || r->match != DSM_MATCH_STATIC ||
				    port < r->first_port || port > r->last_port)
					continue;
				expected++;
				assert_true(roles_of(f, set, catalog_service(f->cat, r->service)->name)
					    & r->role);
			}
			/* no service covers one port with two records in this catalogue */
			assert_int_equal(count_of(set), expected);
		}
	}
}

static void test_port_option_entry(void **state)
{
	struct dsm_err err;
	struct fixture f;
	const struct candidate_set *set;

	(void)state;
	f.cat = catalog_load_embedded(&err);
	assert_int_equal(catalog_add_port(f.cat, DSM_PROTO_TCP, 2222, 2222, "SSH/SFTP", &err), 0);
	assert_int_equal(catalog_add_port(f.cat, DSM_PROTO_UDP, 514, 514, "Extra syslog", &err), 0);
	f.idx = port_index_build(f.cat, &err);
	assert_non_null(f.idx);
	set = set_of(&f, DSM_PROTO_TCP, 2222);
	assert_int_equal(count_of(set), 1);
	assert_true(roles_of(&f, set, "SSH/SFTP"));
	set = set_of(&f, DSM_PROTO_UDP, 514);
	assert_int_equal(count_of(set), 2);
	assert_true(roles_of(&f, set, "Extra syslog"));
	assert_true(roles_of(&f, set, "Log Center (syslog server)"));
	port_index_free(f.idx);
	catalog_free(f.cat);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shared_ports_share_one_set),
		cmocka_unit_test(test_single_and_absent_ports),
		cmocka_unit_test(test_range_edges),
		cmocka_unit_test(test_dynamic_entries_kept_apart),
		cmocka_unit_test(test_icmp),
		cmocka_unit_test(test_every_port_matches_a_scan),
		cmocka_unit_test(test_port_option_entry),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
