/* test_decimal.c - the one decimal reader: whole values, prefixes of
 * payload text, limits and digits runs too long for any integer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dsmflow/decimal.h"

static int parse(const char *text, uint64_t max, uint64_t *v)
{
	return decimal_parse(text, strlen(text), max, v);
}

static void test_parse_valid(void **state)
{
	uint64_t v = 1;

	(void)state;
	assert_int_equal(parse("0", 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(parse("65535", UINT16_MAX, &v), 0);
	assert_int_equal(v, 65535);
	assert_int_equal(parse("007", 7, &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(parse("18446744073709551614", UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX - 1);
	/* only len bytes count: "80" of "8080" */
	assert_int_equal(decimal_parse("8080", 2, 100, &v), 0);
	assert_int_equal(v, 80);
}

static void test_parse_invalid(void **state)
{
	static const char *const bad[] = {
		"", "-1", "+1", " 1", "1 ", "0x10", "1e3", "65536", "99999999999999999999999",
		"12a", "a12",
	};
	uint64_t v = 42;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(bad[i], UINT16_MAX, &v), -1);
		assert_int_equal(v, 42); /* untouched on error */
	}
	assert_int_equal(parse("11", 10, &v), -1);
	assert_int_equal(parse("1", 0, &v), -1);
	assert_int_equal(parse("0", 0, &v), 0);
}

static void test_prefix(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(decimal_prefix("227 Entering", 12, 1000, &v), 3);
	assert_int_equal(v, 227);
	assert_int_equal(decimal_prefix("abc", 3, 1000, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(decimal_prefix("", 0, 1000, &v), 0);
	/* too large: every digit is consumed, the value saturates at limit + 1 */
	assert_int_equal(decimal_prefix("256,1", 5, 255, &v), 3);
	assert_int_equal(v, 256);
	assert_int_equal(decimal_prefix("4294967296000000000000000000,", 29, UINT32_MAX, &v), 28);
	assert_true(v == (uint64_t)UINT32_MAX + 1);
	assert_int_equal(decimal_prefix("9", 1, 5, &v), 1);
	assert_int_equal(v, 6);
	assert_int_equal(decimal_prefix("42", 2, 42, &v), 2);
	assert_int_equal(v, 42);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_valid),
		cmocka_unit_test(test_parse_invalid),
		cmocka_unit_test(test_prefix),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
