/* test_catalog.c - the embedded catalogue against the article, and the
 * strict loader against every class of bad line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dsmflow/catalog.h"

static const char header[] =
	"category\tservice\tproto\tfirst_port\tlast_port\tlabel\trole\tmatch\tfootnote\tnote\tdomains\n";

static int load_embedded(void **state)
{
	struct dsm_err err;

	*state = catalog_load_embedded(&err);
	if (!*state)
		fprintf(stderr, "%s\n", err.msg);
	return *state ? 0 : -1;
}

static int free_catalog(void **state)
{
	catalog_free(*state);
	return 0;
}

/* The record of (service, proto, first..last), or NULL; service names are
 * unique within the categories these tests ask about. */
static const struct dsm_record *find(const struct catalog *cat, const char *service,
				     enum dsm_proto proto, unsigned first, unsigned last)
{
	for (size_t i = 0; i < catalog_record_count(cat); i++) {
		const struct dsm_record *r = catalog_record(cat, i);

		if (strcmp(catalog_service(cat, r->service)->name, service) == 0 &&
		    r->proto == proto && r->first_port == first && r->last_port == last)
			return r;
	}
	return NULL;
}

static const struct dsm_record *must_find(const struct catalog *cat, const char *service,
					  enum dsm_proto proto, unsigned first, unsigned last)
{
	const struct dsm_record *r = find(cat, service, proto, first, last);

	if (!r)
		fail_msg("no record %s %s/%u-%u", service, dsm_proto_name(proto), first, last);
	return r;
}

static size_t services_in(const struct catalog *cat, const char *category)
{
	size_t n = 0;

	for (size_t i = 0; i < catalog_service_count(cat); i++)
		n += strcmp(catalog_service(cat, i)->category, category) == 0;
	return n;
}

/* Counted by hand from the article: one service per table row, except the
 * two WS-Discovery rows of "System", which are one service. */
static void test_every_service_of_the_article(void **state)
{
	const struct catalog *cat = *state;

	assert_int_equal(catalog_service_count(cat), 93);
	assert_int_equal(services_in(cat, "Setup utilities"), 1);
	assert_int_equal(services_in(cat, "Backup"), 8);
	assert_int_equal(services_in(cat, "Download"), 2);
	assert_int_equal(services_in(cat, "Web applications"), 1);
	assert_int_equal(services_in(cat, "Mail service"), 7);
	assert_int_equal(services_in(cat, "File transfer"), 7);
	assert_int_equal(services_in(cat, "Packages"), 42);
	assert_int_equal(services_in(cat, "Mobile applications"), 13);
	assert_int_equal(services_in(cat, "Peripherals"), 5);
	assert_int_equal(services_in(cat, "System"), 7);
	assert_true(catalog_find_service(cat, "Mobile applications", "Synology Photos") >= 0);
	assert_true(catalog_find_service(cat, "Packages", "Synology Photos") >= 0);
	assert_true(catalog_find_service(cat, "Packages", "Logitech® Media Server") >= 0);
}

static void test_continuation_lines(void **state)
{
	const struct catalog *cat = *state;
	const struct dsm_record *r;

	r = must_find(cat, "Active Backup for Business", DSM_PROTO_TCP, 902, 902);
	assert_string_equal(r->label, "ESXi host");
	must_find(cat, "Active Backup for Business", DSM_PROTO_TCP, 5986, 5986);
	must_find(cat, "Snapshot Replication", DSM_PROTO_TCP, 5566, 5566);
	r = must_find(cat, "Snapshot Replication", DSM_PROTO_TCP, 3261, 3261);
	assert_string_equal(r->label, "legacy advanced LUNs");
	must_find(cat, "eMule", DSM_PROTO_TCP, 4662, 4662);
	must_find(cat, "eMule", DSM_PROTO_UDP, 4672, 4672);
	assert_null(find(cat, "eMule", DSM_PROTO_TCP, 4672, 4672));
	assert_null(find(cat, "eMule", DSM_PROTO_UDP, 4662, 4662));
	r = must_find(cat, "CIFS/SMB", DSM_PROTO_UDP, 137, 137);
	assert_string_equal(r->label, "nmbd");
	assert_null(find(cat, "CIFS/SMB", DSM_PROTO_TCP, 137, 137));
	must_find(cat, "CIFS/SMB", DSM_PROTO_UDP, 445, 445);
	must_find(cat, "C2 Identity Edge Server", DSM_PROTO_UDP, 53, 53);
	assert_null(find(cat, "C2 Identity Edge Server", DSM_PROTO_TCP, 53, 53));
	must_find(cat, "CIFS Scale-out Cluster", DSM_PROTO_TCP, 38465, 38501);
	must_find(cat, "CIFS Scale-out Cluster", DSM_PROTO_TCP, 4379, 4379);
	assert_null(find(cat, "CIFS Scale-out Cluster", DSM_PROTO_UDP, 4379, 4379));
	must_find(cat, "CIFS Scale-out Cluster", DSM_PROTO_UDP, 49152, 49252);
	r = must_find(cat, "Synology Directory Server", DSM_PROTO_TCP, 135, 135);
	assert_string_equal(r->label, "RPC Endpoint Mapper");
	assert_null(find(cat, "Synology Directory Server", DSM_PROTO_UDP, 135, 135));
	must_find(cat, "Synology Directory Server", DSM_PROTO_UDP, 464, 464);
	must_find(cat, "Synology Directory Server", DSM_PROTO_TCP, 49300, 49320);
}

static void test_glued_footnote_digits(void **state)
{
	const struct catalog *cat = *state;
	const struct dsm_record *r;

	r = must_find(cat, "Active Backup for Business", DSM_PROTO_TCP, 5510, 5510);
	assert_int_equal(r->footnote, 2);
	assert_string_equal(r->label, "Synology NAS");
	r = must_find(cat, "FTP, FTP over SSL, FTP over TLS", DSM_PROTO_TCP, 1025, 65535);
	assert_int_equal(r->footnote, 3);
	r = must_find(cat, "Active Backup for Google Workspace", DSM_PROTO_TCP, 443, 443);
	assert_int_equal(r->footnote, 4);
	assert_string_equal(r->label, "API");
	r = must_find(cat, "Active Backup for Microsoft 365", DSM_PROTO_TCP, 443, 443);
	assert_int_equal(r->footnote, 5);
	r = must_find(cat, "Migration Assistant", DSM_PROTO_TCP, 22, 22);
	assert_int_equal(r->footnote, 6);
	assert_string_equal(r->label, "SSH");
	r = must_find(cat, "Synology Directory Server", DSM_PROTO_TCP, 49152, 49152);
	assert_int_equal(r->footnote, 7);
	assert_string_equal(r->label, "RPC");
	/* none of the digits became a port, alone or glued to the next number */
	for (size_t i = 0; i < catalog_record_count(cat); i++) {
		r = catalog_record(cat, i);
		if (r->proto == DSM_PROTO_ICMP)
			continue;
		assert_true(r->first_port > 7);
		assert_int_not_equal(r->first_port, 55102);
		assert_int_not_equal(r->last_port, 5);
	}
}

static void test_protocol_annotations(void **state)
{
	const struct catalog *cat = *state;
	const struct dsm_record *r;

	/* "1900 (UDP)" in a TCP/UDP row: UDP only */
	must_find(cat, "Audio Station", DSM_PROTO_UDP, 1900, 1900);
	assert_null(find(cat, "Audio Station", DSM_PROTO_TCP, 1900, 1900));
	must_find(cat, "Video Station", DSM_PROTO_UDP, 1900, 1900);
	assert_null(find(cat, "Video Station", DSM_PROTO_TCP, 1900, 1900));
	/* TCP/UDP: both */
	must_find(cat, "Audio Station", DSM_PROTO_TCP, 6001, 6010);
	must_find(cat, "Audio Station", DSM_PROTO_UDP, 6001, 6010);
	must_find(cat, "NFS", DSM_PROTO_TCP, 2049, 2049);
	must_find(cat, "NFS", DSM_PROTO_UDP, 2049, 2049);
	/* ICMP inside a port list */
	must_find(cat, "Synology High Availability (HA)", DSM_PROTO_ICMP, 0, 0);
	must_find(cat, "Virtual Machine Manager", DSM_PROTO_ICMP, 0, 0);
	must_find(cat, "Virtual Machine Manager", DSM_PROTO_TCP, 2385, 2385);
	assert_null(find(cat, "Virtual Machine Manager", DSM_PROTO_TCP, 0, 0));
	/* DRBD is the protocol of a TCP range */
	r = must_find(cat, "Migration Assistant", DSM_PROTO_TCP, 7400, 7499);
	assert_string_equal(r->label, "DRBD");
	assert_null(find(cat, "Migration Assistant", DSM_PROTO_UDP, 7400, 7499));
	/* the two BitTorrent port sets */
	r = must_find(cat, "BT", DSM_PROTO_TCP, 16881, 16881);
	assert_string_equal(r->label, "DSM 2.0.1 or later");
	must_find(cat, "BT", DSM_PROTO_UDP, 16881, 16881);
	r = must_find(cat, "BT", DSM_PROTO_UDP, 6890, 6999);
	assert_string_equal(r->label, "DSM 2.0.1-3.0401 or earlier");
	must_find(cat, "BT", DSM_PROTO_TCP, 6890, 6999);
}

static void test_roles_dynamic_and_domains(void **state)
{
	const struct catalog *cat = *state;
	const struct dsm_record *r;
	static const unsigned abb_out[] = { 443, 902, 445, 5985, 5986 };
	static const unsigned hybrid[][2] = { { 443, 443 }, { 4222, 4222 }, { 50051, 50051 },
					      { 26500, 27000 } };

	for (size_t i = 0; i < 5; i++)
		assert_int_equal(must_find(cat, "Active Backup for Business", DSM_PROTO_TCP,
					   abb_out[i], abb_out[i])->role, DSM_ROLE_OUTBOUND);
	assert_int_equal(must_find(cat, "Active Backup for Business", DSM_PROTO_TCP, 5510, 5510)->role,
			 DSM_ROLE_INBOUND);
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(must_find(cat, "Hybrid Share", DSM_PROTO_TCP, hybrid[i][0],
					   hybrid[i][1])->role, DSM_ROLE_OUTBOUND);
	r = must_find(cat, "Active Backup for Google Workspace", DSM_PROTO_TCP, 443, 443);
	assert_int_equal(r->role, DSM_ROLE_OUTBOUND);
	assert_string_equal(r->domains, "synology.com,googleapis.com,google.com,googleusercontent.com");
	r = must_find(cat, "Active Backup for Microsoft 365", DSM_PROTO_TCP, 443, 443);
	assert_int_equal(r->role, DSM_ROLE_OUTBOUND);
	assert_non_null(strstr(r->domains, "microsoftonline.com"));
	assert_non_null(strstr(r->domains, "outlook.cn"));
	assert_int_equal(must_find(cat, "Mail Station", DSM_PROTO_TCP, 443, 443)->role, DSM_ROLE_INBOUND);
	r = must_find(cat, "FTP, FTP over SSL, FTP over TLS", DSM_PROTO_TCP, 1025, 65535);
	assert_int_equal(r->match, DSM_MATCH_DYNAMIC);
	assert_string_equal(r->label, "passive data");
	assert_int_equal(must_find(cat, "FTP, FTP over SSL, FTP over TLS", DSM_PROTO_TCP, 21, 21)->match,
			 DSM_MATCH_STATIC);
	for (size_t i = 0, dynamic = 0; i < catalog_record_count(cat); i++) {
		dynamic += catalog_record(cat, i)->match == DSM_MATCH_DYNAMIC;
		if (i + 1 == catalog_record_count(cat))
			assert_int_equal(dynamic, 1);
	}
}

static char *write_tsv(const struct catalog *cat, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	assert_non_null(f);
	catalog_write_tsv(cat, f);
	fclose(f);
	return buf;
}

static void test_tsv_round_trip(void **state)
{
	const struct catalog *cat = *state;
	struct catalog *again;
	struct dsm_err err;
	size_t len1, len2;
	char *text1 = write_tsv(cat, &len1), *text2;

	again = catalog_parse(text1, len1, "round-trip", &err);
	assert_non_null(again);
	text2 = write_tsv(again, &len2);
	assert_int_equal(len1, len2);
	assert_memory_equal(text1, text2, len1);
	assert_int_equal(catalog_record_count(again), catalog_record_count(cat));
	free(text1);
	free(text2);
	catalog_free(again);
}

static void test_add_port(void **state)
{
	struct dsm_err err;
	struct catalog *cat = catalog_load_embedded(&err);
	size_t before = catalog_record_count(cat);
	const struct dsm_record *r;

	(void)state;
	assert_int_equal(catalog_add_port(cat, DSM_PROTO_TCP, 2222, 2222, "SSH/SFTP", &err), 0);
	r = must_find(cat, "SSH/SFTP", DSM_PROTO_TCP, 2222, 2222);
	assert_string_equal(catalog_service(cat, r->service)->category, "System");
	assert_int_equal(catalog_add_port(cat, DSM_PROTO_UDP, 1514, 1520, "My syslog", &err), 0);
	r = must_find(cat, "My syslog", DSM_PROTO_UDP, 1514, 1520);
	assert_string_equal(catalog_service(cat, r->service)->category, "Custom");
	assert_int_equal(catalog_record_count(cat), before + 2);
	assert_int_equal(catalog_add_port(cat, DSM_PROTO_TCP, 22, 22, "SSH/SFTP", &err), -1);
	assert_non_null(strstr(err.msg, "already"));
	assert_int_equal(catalog_add_port(cat, DSM_PROTO_TCP, 23, 23, "a\tb", &err), -1);
	assert_non_null(strstr(err.msg, "tab or line break"));
	catalog_free(cat);
}

/* ---- the strict loader ---- */

struct bad_case {
	const char *line;	/* the third line, after the header and a good line */
	const char *message;	/* a part of the expected error */
};

static const char good_line[] = "Backup\tX\ttcp\t10\t20\t-\tinbound\tstatic\t-\t-\t-\n";

static void expect_rejected(const char *text, const char *where, const char *message)
{
	struct dsm_err err = { "" };
	struct catalog *cat = catalog_parse(text, strlen(text), "bad.tsv", &err);

	if (cat) {
		catalog_free(cat);
		fail_msg("accepted: %s", text);
	}
	if (!strstr(err.msg, where) || !strstr(err.msg, message))
		fail_msg("error '%s' lacks '%s' or '%s'", err.msg, where, message);
}

static void test_bad_lines_rejected_with_line_number(void **state)
{
	static const struct bad_case cases[] = {
		{ "Backup\tY\ttcp\t10\t20\t-\tinbound\tstatic\t-\t-\n", "expected 11 tab-separated columns, found 10" },
		{ "Backup\tY\ttcp\t10\t20\t-\tinbound\tstatic\t-\t-\t-\textra\n", "found 12" },
		{ "Backup\tY\ttcp\t65536\t65536\t-\tinbound\tstatic\t-\t-\t-\n", "first_port '65536'" },
		{ "Backup\tY\ttcp\t1\t70000\t-\tinbound\tstatic\t-\t-\t-\n", "last_port '70000'" },
		{ "Backup\tY\ttcp\t-1\t5\t-\tinbound\tstatic\t-\t-\t-\n", "first_port '-1'" },
		{ "Backup\tY\ttcp\t0x10\t20\t-\tinbound\tstatic\t-\t-\t-\n", "not a port number" },
		{ "Backup\tY\ttcp\t30\t20\t-\tinbound\tstatic\t-\t-\t-\n", "first_port 30 is greater than last_port 20" },
		{ "Backup\tY\tsctp\t10\t20\t-\tinbound\tstatic\t-\t-\t-\n", "unknown protocol 'sctp'" },
		{ "Backup\tY\tTCP\t10\t20\t-\tinbound\tstatic\t-\t-\t-\n", "unknown protocol 'TCP'" },
		{ "Backup\tY\ttcp\t10\t20\t-\tsideways\tstatic\t-\t-\t-\n", "unknown role 'sideways'" },
		{ "Backup\tY\ttcp\t10\t20\t-\tinbound\tsometimes\t-\t-\t-\n", "unknown match 'sometimes'" },
		{ "Backup\tY\ttcp\t10\t20\t-\tinbound\tstatic\tx\t-\t-\n", "footnote 'x'" },
		{ "Backup\t\ttcp\t10\t20\t-\tinbound\tstatic\t-\t-\t-\n", "column 'service' is empty" },
		{ "-\tY\ttcp\t10\t20\t-\tinbound\tstatic\t-\t-\t-\n", "column 'category' must not be '-'" },
		{ "Backup\tY\ticmp\t10\t20\t-\tinbound\tstatic\t-\t-\t-\n", "icmp has no ports" },
		{ "Backup\tY\tudp\t-\t-\t-\tinbound\tstatic\t-\t-\t-\n", "first_port '-'" },
		{ "Backup\tX\ttcp\t10\t20\tother label\tinbound\tstatic\t-\t-\t-\n", "duplicate record" },
		{ "Backup\tY\ttcp\t10\t20\t-\tinbound\tstatic\t-\t-\t-\t\n", "found 12" },
	};
	char text[1024];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "%s%s%s", header, good_line, cases[i].line);
		expect_rejected(text, "bad.tsv:3: ", cases[i].message);
	}
	/* an overlong name */
	{
		char name[300];

		memset(name, 'S', sizeof(name) - 1);
		name[sizeof(name) - 1] = '\0';
		snprintf(text, sizeof(text), "%s%sBackup\t%s\ttcp\t1\t2\t-\tinbound\tstatic\t-\t-\t-\n",
			 header, good_line, name);
		expect_rejected(text, "bad.tsv:3: ", "column 'service' is longer than 255 bytes");
	}
	/* the duplicate's message names the first definition */
	snprintf(text, sizeof(text), "%s%s%s", header, good_line, good_line);
	expect_rejected(text, "bad.tsv:3: ", "already on line 2");
}

static void test_bad_header_and_comments(void **state)
{
	char text[1024];
	struct dsm_err err;
	struct catalog *cat;

	(void)state;
	expect_rejected("", "bad.tsv:1: ", "no header line");
	expect_rejected("category\tservice\n", "bad.tsv:1: ", "expected the header line");
	snprintf(text, sizeof(text), "# comment\n\n%s", good_line);
	expect_rejected(text, "bad.tsv:3: ", "expected the header line");
	/* comments, blank lines, CRLF and a missing final newline are fine */
	snprintf(text, sizeof(text), "# a comment\n\n%s# another\n%.*s\r\n"
		 "Backup\tX\tudp\t10\t20\t-\toutbound\tstatic\t-\t-\t-", header,
		 (int)strlen(good_line) - 1, good_line);
	cat = catalog_parse(text, strlen(text), "ok.tsv", &err);
	assert_non_null(cat);
	assert_int_equal(catalog_record_count(cat), 2);
	assert_int_equal(catalog_service_count(cat), 1);
	assert_int_equal(catalog_record(cat, 1)->line, 6);
	assert_int_equal(catalog_record(cat, 1)->role, DSM_ROLE_OUTBOUND);
	catalog_free(cat);
}

static void test_nul_byte_rejected(void **state)
{
	char text[512];
	size_t len;
	struct dsm_err err;

	(void)state;
	len = (size_t)snprintf(text, sizeof(text), "%s%s", header, good_line);
	text[len - 5] = '\0';
	assert_null(catalog_parse(text, len, "nul.tsv", &err));
	assert_non_null(strstr(err.msg, "nul.tsv:2: NUL byte"));
}

static void test_missing_file(void **state)
{
	struct dsm_err err;

	(void)state;
	assert_null(catalog_load_file("/nonexistent/dsm.tsv", &err));
	assert_non_null(strstr(err.msg, "/nonexistent/dsm.tsv"));
	assert_non_null(strstr(err.msg, "No such file"));
}

static void test_project_file_equals_embedded(void **state)
{
	struct dsm_err err;
	struct catalog *from_file = catalog_load_file(DSM_SOURCE_DIR "/catalog/dsm-ports.tsv", &err);
	size_t len1, len2;
	char *a, *b;

	assert_non_null(from_file);
	a = write_tsv(*state, &len1);
	b = write_tsv(from_file, &len2);
	assert_int_equal(len1, len2);
	assert_memory_equal(a, b, len1);
	free(a);
	free(b);
	catalog_free(from_file);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_service_of_the_article),
		cmocka_unit_test(test_continuation_lines),
		cmocka_unit_test(test_glued_footnote_digits),
		cmocka_unit_test(test_protocol_annotations),
		cmocka_unit_test(test_roles_dynamic_and_domains),
		cmocka_unit_test(test_tsv_round_trip),
		cmocka_unit_test(test_project_file_equals_embedded),
		cmocka_unit_test(test_add_port),
		cmocka_unit_test(test_bad_lines_rejected_with_line_number),
		cmocka_unit_test(test_bad_header_and_comments),
		cmocka_unit_test(test_nul_byte_rejected),
		cmocka_unit_test(test_missing_file),
	};

	return cmocka_run_group_tests(tests, load_embedded, free_catalog);
}
