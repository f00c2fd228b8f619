/* jsoncheck.h - a strict RFC 8259 syntax check (with UTF-8 validation) for
 * the fuzz harnesses that read what dsmflow writes. Test code only. */
#ifndef DSMFLOW_FUZZ_JSONCHECK_H
#define DSMFLOW_FUZZ_JSONCHECK_H

#include <stddef.h>
#include <string.h>

struct jcur {
	const unsigned char *p, *end;
	int depth;
};

static int j_value(struct jcur *c);

static void j_space(struct jcur *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
		c->p++;
}

/* One UTF-8 sequence starting at c->p (a byte >= 0x80): its length, 0 if invalid. */
static size_t j_utf8(const struct jcur *c)
{
	unsigned char b = *c->p;
	size_t n = b >= 0xf0 && b <= 0xf4 ? 4 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xc2 && b <= 0xdf ? 2 : 0;

	if (!n || (size_t)(c->end - c->p) < n)
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((c->p[i] & 0xc0) != 0x80)
			return 0;
	if ((b == 0xe0 && c->p[1] < 0xa0) || (b == 0xed && c->p[1] >= 0xa0) ||
	    (b == 0xf0 && c->p[1] < 0x90) || (b == 0xf4 && c->p[1] >= 0x90))
		return 0;	/* overlong, surrogate, beyond U+10FFFF */
	return n;
}

static int j_string(struct jcur *c)
{
	c->p++;	/* the opening quote */
	while (c->p < c->end && *c->p != '"') {
		if (*c->p < 0x20)
			return 0;
		if (*c->p == '\\') {
			if (++c->p >= c->end || !strchr("\"\\/bfnrtu", *c->p))
				return 0;
			if (*c->p == 'u') {
				for (int i = 1; i <= 4; i++)
					if (c->p + i >= c->end || !strchr("0123456789abcdefABCDEF", c->p[i]))
						return 0;
				c->p += 4;
			}
			c->p++;
		} else if (*c->p >= 0x80) {
			size_t n = j_utf8(c);

			if (!n)
				return 0;
			c->p += n;
		} else {
			c->p++;
		}
	}
	if (c->p >= c->end)
		return 0;
	c->p++;
	return 1;
}

static int j_number(struct jcur *c)
{
	const unsigned char *start = c->p;

	if (c->p < c->end && *c->p == '-')
		c->p++;
	if (c->p >= c->end || *c->p < '0' || *c->p > '9')
		return 0;
	if (*c->p == '0')
		c->p++;
	else
		while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
			c->p++;
	if (c->p < c->end && *c->p == '.') {
		if (++c->p >= c->end || *c->p < '0' || *c->p > '9')
			return 0;
		while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
			c->p++;
	}
	if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
		c->p++;
		if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
			c->p++;
		if (c->p >= c->end || *c->p < '0' || *c->p > '9')
			return 0;
		while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
			c->p++;
	}
	return c->p > start;
}

static int j_word(struct jcur *c, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n))
		return 0;
	c->p += n;
	return 1;
}

static int j_members(struct jcur *c, unsigned char close, int object)
{
	c->p++;
	j_space(c);
	if (c->p < c->end && *c->p == close) {
		c->p++;
		return 1;
	}
	for (;;) {
		j_space(c);
		if (object) {
			if (c->p >= c->end || *c->p != '"' || !j_string(c))
				return 0;
			j_space(c);
			if (c->p >= c->end || *c->p++ != ':')
				return 0;
		}
		if (!j_value(c))
			return 0;
		j_space(c);
		if (c->p < c->end && *c->p == ',') {
			c->p++;
			continue;
		}
		if (c->p < c->end && *c->p == close) {
			c->p++;
			return 1;
		}
		return 0;
	}
}

static int j_value(struct jcur *c)
{
	int ok;

	j_space(c);
	if (c->p >= c->end || ++c->depth > 64)
		return 0;
	switch (*c->p) {
	case '{': ok = j_members(c, '}', 1); break;
	case '[': ok = j_members(c, ']', 0); break;
	case '"': ok = j_string(c); break;
	case 't': ok = j_word(c, "true"); break;
	case 'f': ok = j_word(c, "false"); break;
	case 'n': ok = j_word(c, "null"); break;
	default: ok = j_number(c);
	}
	c->depth--;
	return ok;
}

/* Whether text[0..len) is one JSON value (surrounding space allowed). */
static inline int json_valid(const char *text, size_t len)
{
	struct jcur c = { (const unsigned char *)text, (const unsigned char *)text + len, 0 };

	if (!j_value(&c))
		return 0;
	j_space(&c);
	return c.p == c.end;
}

#endif
