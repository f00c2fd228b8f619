/* fuzz_tls.c - libFuzzer harness for the streaming ClientHello parser.
 *
 * Input: [n][n cut lengths, 2 bytes each, little-endian][the stream]. The
 * stream is fed in the pieces the cuts make (each in a buffer of its exact
 * size, so an overread is a sanitizer report), then again whole and again
 * a byte at a time. Beyond crashes, a finding is a state that breaks the
 * parser's promises after any feed (server_name NUL-terminated and
 * name_len long, of printable lower-case bytes; alpn at most TLS_ALPN_MAX;
 * a result other than TLS_MORE that changes), or a final state that
 * depends on how the stream was cut: the whole struct must be the same. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsmflow/tls.h"

#define MAX_CUTS 8

static void check(const struct tls_hello *h, enum tls_result before, enum tls_result now)
{
	size_t alpn_len = strnlen(h->alpn, sizeof(h->alpn));

	if (strnlen(h->server_name, sizeof(h->server_name)) != h->name_len ||
	    alpn_len > TLS_ALPN_MAX || (h->has_server_name && h->name_len == 0) ||
	    (h->alpn_cut && alpn_len != TLS_ALPN_MAX) || (before != TLS_MORE && now != before))
		abort();
	for (size_t i = 0; i < h->name_len; i++)
		if (h->server_name[i] <= 0x20 || h->server_name[i] >= 0x7f ||
		    (h->server_name[i] >= 'A' && h->server_name[i] <= 'Z'))
			abort();
}

/* Feeds data[0..len) as its own allocation, so reading past it is caught. */
static enum tls_result feed_piece(struct tls_hello *h, const uint8_t *data, size_t len,
				  enum tls_result before)
{
	uint8_t *copy = malloc(len ? len : 1);
	enum tls_result r;

	if (!copy)
		abort();
	memcpy(copy, data, len);
	r = tls_hello_feed(h, copy, (uint32_t)len);
	free(copy);
	check(h, before, r);
	return r;
}

/* Feeds data[0..len) a byte at a time, each in a one-byte allocation. */
static enum tls_result feed_bytewise(struct tls_hello *h, const uint8_t *data, size_t len)
{
	static uint8_t *one;
	enum tls_result r = TLS_MORE, before;

	if (!one)
		one = malloc(1);
	if (!one)
		abort();
	for (size_t i = 0; i < len && r == TLS_MORE; i++) {
		one[0] = data[i];
		before = r;
		r = tls_hello_feed(h, one, 1);
		check(h, before, r);
	}
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tls_hello cut, whole, bytewise;
	enum tls_result r_cut = TLS_MORE, r_whole, r_bytes;
	size_t n, off, stream;

	if (size < 1)
		return 0;
	n = data[0] % MAX_CUTS;
	if (size < 1 + 2 * n)
		return 0;
	stream = 1 + 2 * n;
	tls_hello_init(&cut);
	off = stream;
	for (size_t i = 0; i < n; i++) {
		size_t len = (size_t)(data[1 + 2 * i] | data[2 + 2 * i] << 8);

		if (len > size - off)
			len = size - off;
		r_cut = feed_piece(&cut, data + off, len, r_cut);
		off += len;
	}
	r_cut = feed_piece(&cut, data + off, size - off, r_cut);
	tls_hello_init(&whole);
	r_whole = feed_piece(&whole, data + stream, size - stream, TLS_MORE);
	tls_hello_init(&bytewise);
	r_bytes = feed_bytewise(&bytewise, data + stream, size - stream);
	if (r_cut != r_whole || r_bytes != r_whole || memcmp(&cut, &whole, sizeof(cut)) != 0 ||
	    memcmp(&bytewise, &whole, sizeof(whole)) != 0) {
		fprintf(stderr, "fuzz_tls: the state depends on the cuts (%d, %d, %d)\n", r_cut,
			r_whole, r_bytes);
		abort();
	}
	return 0;
}
