/* fuzz_http.c - libFuzzer harness for the streaming HTTP request scanner.
 *
 * Input: [n][n cut lengths, one byte each][the stream]. The stream is fed
 * in the pieces the cuts make (each in an allocation of its exact size, so
 * an overread is a sanitizer report), then whole, then a byte at a time.
 * Beyond crashes, a finding is an event that breaks the scanner's promises
 * (a name not NUL-terminated at its length, an API name not starting with
 * "SYNO.", a target longer than HTTP_URI_MAX) or a transcript of events
 * that depends on how the stream was cut. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dsmflow/http.h"

#define MAX_CUTS 16
#define TRANSCRIPT_MAX 65536

struct transcript {
	char text[TRANSCRIPT_MAX];
	size_t len;
};

static void append(struct transcript *t, const void *bytes, size_t n)
{
	if (n > TRANSCRIPT_MAX - t->len)
		n = TRANSCRIPT_MAX - t->len;
	memcpy(t->text + t->len, bytes, n);
	t->len += n;
}

static void on_event(void *ctx, enum http_event ev, enum http_name_kind kind, const char *text,
		     size_t len)
{
	struct transcript *t = ctx;
	char tag[2] = { (char)('0' + ev), (char)('0' + kind) };

	if (ev == HTTP_EV_NAME && (len > HTTP_NAME_MAX || text[len] != '\0' ||
				   (kind == HTTP_NAME_API && (len <= 5 || memcmp(text, "SYNO.", 5)))))
		abort();
	if (ev == HTTP_EV_REQUEST_LINE && (len > HTTP_URI_MAX || text[len] != '\0'))
		abort();
	append(t, tag, 2);
	if (text)
		append(t, text, len);
	append(t, "\n", 1);
}

static enum http_result feed_piece(struct http_scan *s, const uint8_t *data, size_t len,
				   struct transcript *t)
{
	uint8_t *copy = malloc(len ? len : 1);
	enum http_result r;

	if (!copy)
		abort();
	memcpy(copy, data, len);
	r = http_scan_feed(s, copy, (uint32_t)len, on_event, t);
	free(copy);
	return r;
}

/* Feeds stream[0..len) cut after each of cuts[0..n) bytes (then the rest). */
static enum http_result scan(const uint8_t *stream, size_t len, const uint8_t *cuts, size_t n,
			     struct transcript *t, struct http_scan *s)
{
	enum http_result r = HTTP_MORE;
	size_t off = 0;

	t->len = 0;
	http_scan_init(s);
	for (size_t i = 0; i <= n && off < len; i++) {
		size_t piece = i < n ? cuts[i] : len - off;

		if (piece > len - off)
			piece = len - off;
		r = feed_piece(s, stream + off, piece, t);
		off += piece;
	}
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct transcript cut, whole, bytes;
	static struct http_scan s1, s2, s3;
	static uint8_t ones[MAX_CUTS * 64];
	size_t n, len;
	enum http_result r1, r2, r3;

	if (size < 1)
		return 0;
	n = data[0] % (MAX_CUTS + 1);
	if (size < 1 + n)
		return 0;
	len = size - 1 - n;
	if (len > sizeof(ones))
		len = sizeof(ones);
	memset(ones, 1, len);
	r1 = scan(data + 1 + n, len, data + 1, n, &cut, &s1);
	r2 = scan(data + 1 + n, len, NULL, 0, &whole, &s2);
	r3 = scan(data + 1 + n, len, ones, len, &bytes, &s3);
	if (r1 != r2 || r2 != r3 || cut.len != whole.len || bytes.len != whole.len ||
	    memcmp(cut.text, whole.text, whole.len) || memcmp(bytes.text, whole.text, whole.len))
		abort();
	return 0;
}
