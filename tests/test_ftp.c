/* test_ftp.c - finding data-connection announcements in FTP control text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dsmflow/ftp.h"

static enum ftp_announce parse(const char *text, uint16_t *port)
{
	*port = 0;
	return ftp_parse((const uint8_t *)text, (uint32_t)strlen(text), port);
}

static void test_announcements(void **state)
{
	uint16_t port;

	(void)state;
	assert_int_equal(parse("227 Entering Passive Mode (90,130,70,73,95,203).\r\n", &port), FTP_PASSIVE);
	assert_int_equal(port, 95 * 256 + 203);
	assert_int_equal(parse("227 Entering Passive Mode 10,0,0,1,4,1\r\n", &port), FTP_PASSIVE);
	assert_int_equal(port, 1025);
	assert_int_equal(parse("229 Entering Extended Passive Mode (|||6446|)\r\n", &port), FTP_PASSIVE);
	assert_int_equal(port, 6446);
	assert_int_equal(parse("229 Extended Passive (!!!50001!)\r\n", &port), FTP_PASSIVE);
	assert_int_equal(port, 50001);
	assert_int_equal(parse("PORT 192,168,1,20,200,10\r\n", &port), FTP_ACTIVE);
	assert_int_equal(port, 200 * 256 + 10);
	assert_int_equal(parse("port 192,168,1,20,0,21\r\n", &port), FTP_ACTIVE);
	assert_int_equal(port, 21);
	assert_int_equal(parse("EPRT |2|fd00::20|40001|\r\n", &port), FTP_ACTIVE);
	assert_int_equal(port, 40001);
	/* several lines in one segment: the announcement among them */
	assert_int_equal(parse("200 Type set to I.\r\n227 Entering Passive Mode (1,2,3,4,0,80)\r\n", &port),
			 FTP_PASSIVE);
	assert_int_equal(port, 80);
}

static void test_no_announcement(void **state)
{
	static const char *const lines[] = {
		"220 FTP server ready.\r\n",
		"227 Entering Passive Mode (1,2,3,4,5)\r\n",	/* five numbers */
		"227 Entering Passive Mode (1,2,3,4,256,1)\r\n",	/* not a byte */
		"227 (1,2,3,4,0,0)\r\n",			/* port 0 is no port */
		"229 Entering Extended Passive Mode (|||70000|)\r\n",
		"229 Entering Extended Passive Mode (||6446|)\r\n",
		"229 Entering Extended Passive Mode (|||6446)\r\n",
		"EPRT |1|10.0.0.1|\r\n",
		"PORTS 1,2,3,4,5,6\r\n",
		"RETR 227 Entering Passive Mode (1,2,3,4,5,6)\r\n",
		"",
	};
	uint16_t port;

	(void)state;
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		if (parse(lines[i], &port) != FTP_NONE)
			fail_msg("'%s' announced port %u", lines[i], port);
	}
}

static void test_cut_text(void **state)
{
	static const char text[] = "227 Entering Passive Mode (90,130,70,73,95,203).\r\n";
	uint16_t port;

	(void)state;
	/* every prefix parses without reading past its end, and only a prefix
	 * holding all six numbers announces the full port */
	for (uint32_t n = 0; n < sizeof(text) - 1; n++) {
		enum ftp_announce a = ftp_parse((const uint8_t *)text, n, &port);

		if (a == FTP_PASSIVE && n < 44)
			assert_int_not_equal(port, 95 * 256 + 203);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_announcements),
		cmocka_unit_test(test_no_announcement),
		cmocka_unit_test(test_cut_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
