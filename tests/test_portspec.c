/* test_portspec.c - PROTO/PORT[-PORT] and --port's =SERVICE form. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dsmflow/portspec.h"

static void test_valid(void **state)
{
	struct portspec s;
	struct dsm_err err;

	(void)state;
	assert_int_equal(portspec_parse("tcp/5000", &s, &err), 0);
	assert_int_equal(s.proto, DSM_PROTO_TCP);
	assert_int_equal(s.first_port, 5000);
	assert_int_equal(s.last_port, 5000);
	assert_int_equal(portspec_parse("UDP/9997-9999", &s, &err), 0);
	assert_int_equal(s.proto, DSM_PROTO_UDP);
	assert_int_equal(s.first_port, 9997);
	assert_int_equal(s.last_port, 9999);
	assert_int_equal(portspec_parse("udp/0", &s, &err), 0);
	assert_int_equal(portspec_parse("tcp/65535", &s, &err), 0);
	assert_int_equal(s.first_port, 65535);
	assert_int_equal(portspec_parse("icmp", &s, &err), 0);
	assert_int_equal(s.proto, DSM_PROTO_ICMP);
}

static void test_invalid(void **state)
{
	static const char *const bad[] = {
		"", "tcp", "tcp/", "/80", "tcp/65536", "tcp/-1", "tcp/80-", "tcp/-80",
		"tcp/90-80", "tcp/8o", "sctp/80", "tcp:80", "tcp/80/90", "tcp/ 80",
		"icmp/8", "tcp/123456", "tcp/80-90-100",
	};
	struct portspec s;
	struct dsm_err err;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (portspec_parse(bad[i], &s, &err) == 0)
			fail_msg("accepted '%s'", bad[i]);
		assert_non_null(strstr(err.msg, bad[i]));
	}
}

static void test_assignment(void **state)
{
	struct portspec s;
	struct dsm_err err;
	const char *service;

	(void)state;
	assert_int_equal(portspec_parse_assignment("tcp/2222=SSH/SFTP", &s, &service, &err), 0);
	assert_int_equal(s.first_port, 2222);
	assert_string_equal(service, "SSH/SFTP");
	assert_int_equal(portspec_parse_assignment("udp/1514-1516=Log Center (syslog server)", &s,
						   &service, &err), 0);
	assert_int_equal(s.last_port, 1516);
	assert_string_equal(service, "Log Center (syslog server)");
	assert_int_equal(portspec_parse_assignment("tcp/2222", &s, &service, &err), -1);
	assert_int_equal(portspec_parse_assignment("tcp/2222=", &s, &service, &err), -1);
	assert_int_equal(portspec_parse_assignment("tcp/x=SSH", &s, &service, &err), -1);
	assert_non_null(strstr(err.msg, "tcp/x=SSH"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_assignment),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
