/* jsonout.c - JSON string escaping (RFC 8259 section 7). Valid UTF-8 is
 * passed through; a byte that does not begin a valid UTF-8 sequence (a
 * Web API name or a server name from a hostile packet may hold any byte)
 * is written as the text \xNN, as Zeek's JSON logs do, so that every line
 * stays valid JSON and the byte can still be told. */
#include "dsmflow/jsonout.h"

/* The length of the valid UTF-8 sequence at p (p[0] >= 0x80), or 0. */
static int utf8_length(const unsigned char *p)
{
	unsigned char b = p[0];
	int n = b >= 0xf0 && b <= 0xf4 ? 4 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xc2 && b <= 0xdf ? 2 : 0;

	for (int i = 1; i < n; i++)	/* stops at the string's NUL: not a continuation */
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	if ((b == 0xe0 && p[1] < 0xa0) || (b == 0xed && p[1] >= 0xa0) || (b == 0xf0 && p[1] < 0x90) ||
	    (b == 0xf4 && p[1] >= 0x90))
		return 0;	/* overlong, a surrogate, or beyond U+10FFFF */
	return n;
}

void json_string(FILE *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', out);
	while (*p) {
		int n = 1;

		switch (*p) {
		case '"': fputs("\\\"", out); break;
		case '\\': fputs("\\\\", out); break;
		case '\n': fputs("\\n", out); break;
		case '\r': fputs("\\r", out); break;
		case '\t': fputs("\\t", out); break;
		default:
			if (*p < 0x20)
				fprintf(out, "\\u%04x", *p);
			else if (*p < 0x80)
				fputc(*p, out);
			else if ((n = utf8_length(p)) > 0)
				fwrite(p, 1, (size_t)n, out);
			else {
				fprintf(out, "\\\\x%02x", *p);
				n = 1;
			}
		}
		p += n;
	}
	fputc('"', out);
}
