/* decimal.c - the one decimal-number reader; see decimal.h. It replaced five
 * hand-written loops (and strtoul, which takes signs, blanks and locales). */
#include "dsmflow/decimal.h"

size_t decimal_prefix(const char *text, size_t len, uint64_t limit, uint64_t *value)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < len && text[i] >= '0' && text[i] <= '9'; i++) {
		unsigned digit = (unsigned)(text[i] - '0');

		if (v > limit)
			continue;
		v = digit > limit || v > (limit - digit) / 10 ? limit + 1 : v * 10 + digit;
	}
	*value = v;
	return i;
}

int decimal_parse(const char *text, size_t len, uint64_t max, uint64_t *value)
{
	uint64_t v;

	if (max == UINT64_MAX)
		max = UINT64_MAX - 1;
	if (len == 0 || decimal_prefix(text, len, max, &v) != len || v > max)
		return -1;
	*value = v;
	return 0;
}
