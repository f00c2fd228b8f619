/* test_jsonout.c - JSON string escaping: control characters, quotes and
 * backslashes escaped, valid UTF-8 passed through, and bytes that are not
 * valid UTF-8 (from hostile packets: found by fuzz_output) written as the
 * text \xNN, so that every flow-log line stays valid JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dsmflow/jsonout.h"

static void expect(const char *in, const char *want)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	assert_non_null(out);
	json_string(out, in);
	fclose(out);
	assert_string_equal(text, want);
	free(text);
}

static void test_escapes(void **state)
{
	(void)state;
	expect("plain", "\"plain\"");
	expect("a\"b\\c", "\"a\\\"b\\\\c\"");
	expect("t\tn\nr\r\x01", "\"t\\tn\\nr\\r\\u0001\"");
}

static void test_utf8_passes(void **state)
{
	(void)state;
	expect("Gr\xc3\xbc\xc3\x9f" "e \xe2\x82\xac \xf0\x9f\x98\x80", "\"Gr\xc3\xbc\xc3\x9f" "e \xe2\x82\xac \xf0\x9f\x98\x80\"");
}

static void test_invalid_bytes_are_named(void **state)
{
	(void)state;
	expect("/we\x98" "api", "\"/we\\\\x98api\"");		/* a lone continuation byte */
	expect("\xc3", "\"\\\\xc3\"");				/* cut at the end */
	expect("\xc0\xaf", "\"\\\\xc0\\\\xaf\"");		/* overlong */
	expect("\xed\xa0\x80", "\"\\\\xed\\\\xa0\\\\x80\"");	/* a surrogate */
	expect("\xf4\x90\x80\x80", "\"\\\\xf4\\\\x90\\\\x80\\\\x80\"");	/* beyond U+10FFFF */
	expect("\xe2\x82" "A", "\"\\\\xe2\\\\x82A\"");		/* cut by an ASCII byte */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_utf8_passes),
		cmocka_unit_test(test_invalid_bytes_are_named),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
