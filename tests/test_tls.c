/* test_tls.c - the streaming ClientHello parser on hellos built here (TLS
 * 1.2 and 1.3 style, random extension order, a post-quantum key share,
 * record fragmentation) fed whole, at every split point and a byte at a
 * time; on inconsistent lengths at each level, on what is not TLS, on
 * every truncation and on 20000 mutations; and on real ClientHellos read
 * from the third-party captures. Every feed is placed flush against a
 * PROT_NONE page, so a read one byte past the input faults. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <pcap/pcap.h>

#include "dsmflow/decode.h"
#include "dsmflow/tls.h"
#include "guard.h"

#define HELLO_MAX 24576

/* Feeds data[0..n) placed so that byte n is unreadable. */
static enum tls_result feed_guarded(struct tls_hello *h, const uint8_t *data, uint32_t n)
{
	return tls_hello_feed(h, guard_place(data, n), n);
}

/* ---- building hellos ---- */

struct bytes {
	uint8_t b[HELLO_MAX];
	uint32_t len;
};

static void put(struct bytes *o, const void *p, uint32_t n)
{
	assert_true(o->len + n <= sizeof(o->b));
	memcpy(o->b + o->len, p, n);
	o->len += n;
}

static void put8(struct bytes *o, uint32_t v)
{
	uint8_t b = (uint8_t)v;

	put(o, &b, 1);
}

static void put16(struct bytes *o, uint32_t v)
{
	put8(o, v >> 8);
	put8(o, v);
}

static void put24(struct bytes *o, uint32_t v)
{
	put8(o, v >> 16);
	put16(o, v);
}

static void fill(struct bytes *o, uint8_t v, uint32_t n)
{
	while (n--)
		put8(o, v);
}

#define EXT_MAX 16

struct ext {
	uint16_t type;
	struct bytes *data;
};

enum sni_place { SNI_ANYWHERE, SNI_FIRST, SNI_LAST };

struct spec {
	int tls13;			/* supported_versions, key_share, a 32-byte session id */
	uint32_t key_share;		/* bytes of key exchange data (32: X25519; 1216: X25519MLKEM768) */
	uint32_t suites;		/* cipher suites offered */
	uint32_t padding;		/* bytes of the padding extension (0: none) */
	uint32_t ech;			/* bytes of a GREASE encrypted_client_hello (0: none) */
	const char *sni;		/* NULL: no server_name */
	const uint8_t *sni_raw;		/* the server_name extension's data, when set */
	uint32_t sni_raw_len;
	enum sni_place sni_place;
	const char *alpn[3];		/* NULL-ended */
	unsigned order_seed;		/* shuffles the extensions */
	uint32_t record_max;		/* record size (0: one record) */
	int duplicate_sni;
};

/* Where build() put things, for the tests that corrupt them (one record only). */
struct layout {
	uint32_t sid_len_at, suites_len_at, comp_len_at, exts_len_at;
	uint32_t sni_at, alpn_at, last_ext_at;	/* an extension's type field */
};

static void ext_sni(struct bytes *d, const struct spec *s)
{
	uint32_t n;

	if (s->sni_raw) {
		put(d, s->sni_raw, s->sni_raw_len);
		return;
	}
	n = (uint32_t)strlen(s->sni);
	put16(d, n + 3);
	put8(d, 0);
	put16(d, n);
	put(d, s->sni, n);
}

static void ext_alpn(struct bytes *d, const struct spec *s)
{
	uint32_t total = 0;

	for (int i = 0; s->alpn[i]; i++)
		total += 1 + (uint32_t)strlen(s->alpn[i]);
	put16(d, total);
	for (int i = 0; s->alpn[i]; i++) {
		put8(d, (uint32_t)strlen(s->alpn[i]));
		put(d, s->alpn[i], (uint32_t)strlen(s->alpn[i]));
	}
}

static void ext_key_share(struct bytes *d, const struct spec *s)
{
	int hybrid = s->key_share > 32;

	put16(d, 2 + 2 + s->key_share + (hybrid ? 2 + 2 + 32 : 0));
	if (hybrid) {	/* X25519MLKEM768, then X25519 as Chrome sends both */
		put16(d, 0x11ec);
		put16(d, s->key_share);
		fill(d, 0x5a, s->key_share);
	}
	put16(d, 0x001d);
	put16(d, 32);
	fill(d, 0x5b, 32);
}

/* The extensions of the spec, in a shuffled order with the server name
 * where asked. */
static int make_extensions(const struct spec *s, struct ext *e, struct bytes *store)
{
	static const uint8_t groups[] = { 0, 8, 0x11, 0xec, 0, 0x1d, 0, 0x17, 0, 0x18 };
	static const uint8_t sigalgs[] = { 0, 8, 4, 3, 8, 4, 4, 1, 5, 3 };
	static const uint8_t versions[] = { 4, 3, 4, 3, 3 };
	int n = 0, sni = -1;
	unsigned seed = s->order_seed;

	for (int i = 0; i < EXT_MAX; i++)
		store[i].len = 0;
	e[n].type = 10; e[n].data = &store[n]; put(e[n].data, groups, sizeof(groups)); n++;
	e[n].type = 13; e[n].data = &store[n]; put(e[n].data, sigalgs, sizeof(sigalgs)); n++;
	e[n].type = 23; e[n].data = &store[n]; n++;	/* extended_master_secret: empty */
	e[n].type = 0x3a3a; e[n].data = &store[n]; put8(e[n].data, 0); n++;	/* GREASE */
	if (s->alpn[0]) {
		e[n].type = 16; e[n].data = &store[n]; ext_alpn(e[n].data, s); n++;
	}
	if (s->tls13) {
		e[n].type = 43; e[n].data = &store[n]; put(e[n].data, versions, sizeof(versions)); n++;
		e[n].type = 51; e[n].data = &store[n]; ext_key_share(e[n].data, s); n++;
		e[n].type = 45; e[n].data = &store[n]; put16(e[n].data, 0x0101); n++;	/* psk modes */
		e[n].type = 27; e[n].data = &store[n]; put24(e[n].data, 0x020002); n++;	/* brotli */
	}
	if (s->ech) {
		e[n].type = 0xfe0d; e[n].data = &store[n]; fill(e[n].data, 0x77, s->ech); n++;
	}
	e[n].type = 0xff01; e[n].data = &store[n]; put8(e[n].data, 0); n++;	/* renegotiation_info */
	if (s->padding) {
		e[n].type = 21; e[n].data = &store[n]; fill(e[n].data, 0, s->padding); n++;
	}
	if (s->sni || s->sni_raw) {
		sni = n;
		e[n].type = 0; e[n].data = &store[n]; ext_sni(e[n].data, s); n++;
	}
	if (s->duplicate_sni) {
		e[n].type = 0; e[n].data = &store[n]; ext_sni(e[n].data, s); n++;
	}
	for (int i = n - 1; i > 0; i--) {	/* Fisher-Yates, as browsers do */
		int j = rand_r(&seed) % (i + 1);
		struct ext t = e[i];

		e[i] = e[j];
		e[j] = t;
		sni = sni == i ? j : sni == j ? i : sni;
	}
	if (sni >= 0 && s->sni_place != SNI_ANYWHERE) {
		int to = s->sni_place == SNI_FIRST ? 0 : n - 1;
		struct ext t = e[to];

		e[to] = e[sni];
		e[sni] = t;
	}
	return n;
}

static void build_body(const struct spec *s, struct bytes *o, struct layout *at)
{
	static struct bytes store[EXT_MAX];
	struct ext e[EXT_MAX];
	uint32_t sid = s->tls13 ? 32 : 0, exts_len = 0, base = 5 + 4;
	int n = make_extensions(s, e, store);

	put16(o, 0x0303);
	fill(o, 0xab, 32);	/* random */
	at->sid_len_at = base + o->len;
	put8(o, sid);
	fill(o, 0xcd, sid);
	at->suites_len_at = base + o->len;
	put16(o, 2 * s->suites);
	for (uint32_t i = 0; i < s->suites; i++)
		put16(o, i == 0 ? 0x0a0a : 0xc000 + i);
	at->comp_len_at = base + o->len;
	put8(o, 1);
	put8(o, 0);
	for (int i = 0; i < n; i++)
		exts_len += 4 + e[i].data->len;
	at->exts_len_at = base + o->len;
	put16(o, exts_len);
	for (int i = 0; i < n; i++) {
		if (e[i].type == 0)
			at->sni_at = base + o->len;
		if (e[i].type == 16)
			at->alpn_at = base + o->len;
		at->last_ext_at = base + o->len;
		put16(o, e[i].type);
		put16(o, e[i].data->len);
		put(o, e[i].data->b, e[i].data->len);
	}
}

/* The client's first bytes: the ClientHello in records of the spec's size. */
static void build(const struct spec *s, struct bytes *out, struct layout *at)
{
	static struct bytes body, hs;
	struct layout ignored;
	uint32_t max;

	body.len = hs.len = out->len = 0;
	build_body(s, &body, at ? at : &ignored);
	put8(&hs, 1);
	put24(&hs, body.len);
	put(&hs, body.b, body.len);
	max = s->record_max ? s->record_max : hs.len;
	for (uint32_t off = 0; off < hs.len; off += max) {
		uint32_t n = hs.len - off < max ? hs.len - off : max;

		put8(out, 22);
		put16(out, s->tls13 ? 0x0301 : 0x0303);
		put16(out, n);
		put(out, hs.b + off, n);
	}
}

static const struct spec tls13_spec = {
	.tls13 = 1, .key_share = 32, .suites = 16, .sni = "www.example.com",
	.alpn = { "h2", "http/1.1" }, .order_seed = 1,
};

static const struct spec tls12_spec = {
	.suites = 40, .sni = "nas.example.org", .alpn = { "http/1.1" }, .order_seed = 2,
};

/* A post-quantum hello as Chrome 131 sends it: about 1.8 KB, two segments. */
static const struct spec pq_spec = {
	.tls13 = 1, .key_share = 1216, .suites = 16, .ech = 282, .sni = "accounts.google.com",
	.sni_place = SNI_LAST, .alpn = { "h2", "http/1.1" }, .order_seed = 3,
};

/* ---- feeding ---- */

static enum tls_result feed_whole(struct tls_hello *h, const struct bytes *b)
{
	tls_hello_init(h);
	return feed_guarded(h, b->b, b->len);
}

static enum tls_result feed_split(struct tls_hello *h, const struct bytes *b, uint32_t k)
{
	enum tls_result r;

	tls_hello_init(h);
	r = feed_guarded(h, b->b, k);
	if (r == TLS_MORE)
		r = feed_guarded(h, b->b + k, b->len - k);
	return r;
}

static enum tls_result feed_bytewise(struct tls_hello *h, const struct bytes *b)
{
	enum tls_result r = TLS_MORE;

	tls_hello_init(h);
	for (uint32_t i = 0; i < b->len && r == TLS_MORE; i++)
		r = feed_guarded(h, b->b + i, 1);
	return r;
}

static void assert_found(const struct tls_hello *h, const char *sni, const char *alpn)
{
	assert_int_equal(h->has_server_name, sni != NULL);
	assert_string_equal(h->server_name, sni ? sni : "");
	assert_int_equal(h->name_len, strlen(h->server_name));
	assert_string_equal(h->alpn, alpn ? alpn : "");
}

static void assert_every_split(const struct bytes *b, const char *sni, const char *alpn)
{
	struct tls_hello h;

	for (uint32_t k = 0; k <= b->len; k++) {
		assert_int_equal(feed_split(&h, b, k), TLS_DONE);
		assert_found(&h, sni, alpn);
	}
}

/* ---- tests ---- */

static void test_whole_hellos(void **state)
{
	static struct bytes b;
	struct tls_hello h;
	struct spec s = tls13_spec;

	(void)state;
	build(&tls13_spec, &b, NULL);
	assert_int_equal(feed_whole(&h, &b), TLS_DONE);
	assert_found(&h, "www.example.com", "h2");
	build(&tls12_spec, &b, NULL);
	assert_int_equal(feed_whole(&h, &b), TLS_DONE);
	assert_found(&h, "nas.example.org", "http/1.1");
	s.padding = 300;	/* as Chrome pads to 512 */
	s.suites = 100;
	build(&s, &b, NULL);
	assert_int_equal(feed_whole(&h, &b), TLS_DONE);
	assert_found(&h, "www.example.com", "h2");
	/* bytes after the hello (a TLS 1.3 ChangeCipherSpec) are not read */
	put(&b, "\x14\x03\x03\x00\x01\x01", 6);
	assert_int_equal(feed_whole(&h, &b), TLS_DONE);
	assert_int_equal(tls_hello_feed(&h, (const uint8_t *)"x", 1), TLS_DONE);
}

static void test_every_split_point(void **state)
{
	static struct bytes b;

	(void)state;
	build(&tls13_spec, &b, NULL);
	assert_every_split(&b, "www.example.com", "h2");
	build(&tls12_spec, &b, NULL);
	assert_every_split(&b, "nas.example.org", "http/1.1");
	build(&pq_spec, &b, NULL);
	assert_every_split(&b, "accounts.google.com", "h2");
}

static void test_one_byte_at_a_time(void **state)
{
	static struct bytes b;
	struct tls_hello h;

	(void)state;
	build(&tls13_spec, &b, NULL);
	assert_int_equal(feed_bytewise(&h, &b), TLS_DONE);
	assert_found(&h, "www.example.com", "h2");
	build(&pq_spec, &b, NULL);
	assert_int_equal(feed_bytewise(&h, &b), TLS_DONE);
	assert_found(&h, "accounts.google.com", "h2");
}

static void test_record_fragmentation(void **state)
{
	static const uint32_t sizes[] = { 1, 2, 3, 4, 5, 7, 100, 300, 1000, 1500 };
	static struct bytes b;
	struct tls_hello h;
	struct spec s = tls13_spec;

	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		s.record_max = sizes[i];
		build(&s, &b, NULL);
		assert_int_equal(feed_whole(&h, &b), TLS_DONE);
		assert_found(&h, "www.example.com", "h2");
		assert_int_equal(feed_bytewise(&h, &b), TLS_DONE);
		assert_found(&h, "www.example.com", "h2");
		assert_every_split(&b, "www.example.com", "h2");
	}
	s = pq_spec;	/* split across two records, then two segments across them */
	s.record_max = 1000;
	build(&s, &b, NULL);
	assert_every_split(&b, "accounts.google.com", "h2");
}

static void test_post_quantum_in_two_segments(void **state)
{
	static struct bytes b;
	struct tls_hello h;
	struct spec s = pq_spec;

	(void)state;
	build(&s, &b, NULL);
	assert_in_range(b.len, 1700, 2000);
	assert_int_equal(feed_split(&h, &b, 1448), TLS_DONE);
	assert_found(&h, "accounts.google.com", "h2");
	tls_hello_init(&h);	/* the first segment alone: no name yet */
	assert_int_equal(feed_guarded(&h, b.b, 1448), TLS_MORE);
	assert_int_equal(h.has_server_name, 0);
	assert_int_equal(feed_guarded(&h, b.b + 1448, b.len - 1448), TLS_DONE);
	assert_found(&h, "accounts.google.com", "h2");
	s.sni_place = SNI_FIRST;
	build(&s, &b, NULL);
	assert_int_equal(feed_split(&h, &b, 1448), TLS_DONE);
	assert_found(&h, "accounts.google.com", "h2");
}

static void test_extension_orders(void **state)
{
	static struct bytes b;
	struct tls_hello h;
	struct spec s = pq_spec;
	unsigned seed = 7;

	(void)state;
	s.sni_place = SNI_ANYWHERE;
	for (unsigned i = 0; i < 500; i++) {
		s.order_seed = i;
		s.tls13 = i & 1;
		s.padding = i % 3 == 0 ? 1 + i % 200 : 0;
		build(&s, &b, NULL);
		assert_int_equal(feed_split(&h, &b, (uint32_t)rand_r(&seed) % (b.len + 1)), TLS_DONE);
		assert_found(&h, "accounts.google.com", "h2");
	}
}

static void test_no_server_name(void **state)
{
	static struct bytes b;
	struct tls_hello h;
	struct spec s = tls13_spec;

	(void)state;
	s.sni = NULL;
	build(&s, &b, NULL);
	assert_int_equal(feed_whole(&h, &b), TLS_DONE);
	assert_found(&h, NULL, "h2");
	s.alpn[0] = NULL;
	build(&s, &b, NULL);
	assert_int_equal(feed_whole(&h, &b), TLS_DONE);
	assert_found(&h, NULL, NULL);
}

static void test_alpn(void **state)
{
	static struct bytes b;
	struct tls_hello h;
	struct spec s = tls12_spec;

	(void)state;
	s.alpn[0] = "http/1.1";
	s.alpn[1] = "h2";
	build(&s, &b, NULL);
	assert_int_equal(feed_whole(&h, &b), TLS_DONE);
	assert_string_equal(h.alpn, "http/1.1");
	assert_int_equal(h.alpn_cut, 0);
	s.alpn[0] = "a-protocol-id-of-forty-bytes-0123456789";	/* 39 bytes */
	build(&s, &b, NULL);
	assert_every_split(&b, "nas.example.org", "a-protocol-id-of-forty-bytes-012");
	assert_int_equal(feed_whole(&h, &b), TLS_DONE);
	assert_int_equal(h.alpn_cut, 1);
	s.alpn[0] = "\x0a\x0a";	/* GREASE: passed over */
	build(&s, &b, NULL);
	assert_int_equal(feed_whole(&h, &b), TLS_DONE);
	assert_string_equal(h.alpn, "h2");
	assert_int_equal(h.alpn_cut, 0);
}

static void expect_sni(const uint8_t *raw, uint32_t n, enum tls_result want, const char *sni)
{
	static struct bytes b;
	struct tls_hello h;
	struct spec s = tls13_spec;

	s.sni_raw = raw;
	s.sni_raw_len = n;
	build(&s, &b, NULL);
	assert_int_equal(feed_whole(&h, &b), want);
	if (want == TLS_DONE)
		assert_found(&h, sni, "h2");
}

static void test_server_name_rules(void **state)
{
	static uint8_t long_name[5 + 256];
	struct spec s = tls13_spec;
	static struct bytes b;
	struct tls_hello h;

	(void)state;
	s.sni = "WWW.Example.COM.";	/* lower-cased, final dot dropped */
	build(&s, &b, NULL);
	assert_int_equal(feed_whole(&h, &b), TLS_DONE);
	assert_found(&h, "www.example.com", "h2");
	expect_sni((const uint8_t *)"\0\x09\0\0\x06nas.ln", 11, TLS_DONE, "nas.ln");
	expect_sni((const uint8_t *)"\0\x09\0\0\x06na s.l", 11, TLS_DONE, NULL);	/* space */
	expect_sni((const uint8_t *)"\0\x09\0\0\x06na\0s.l", 11, TLS_DONE, NULL);	/* NUL */
	expect_sni((const uint8_t *)"\0\x09\0\0\x06na\xc3\xa9.l", 11, TLS_DONE, NULL);	/* 8-bit */
	expect_sni((const uint8_t *)"\0\x03\0\0\0", 5, TLS_DONE, NULL);	/* empty name */
	expect_sni((const uint8_t *)"\0\x04\0\0\x01.", 6, TLS_DONE, NULL);	/* just the root */
	/* another name type first, then host names: the first host name wins */
	expect_sni((const uint8_t *)"\0\x16\x07\0\x03" "abc\0\0\x05one.a\0\0\x05two.b", 24, TLS_DONE, "one.a");
	/* a bad first host name is not replaced by a second */
	expect_sni((const uint8_t *)"\0\x10\0\0\x05o e.a\0\0\x05two.b", 18, TLS_DONE, NULL);
	/* 255 bytes is the most; 256 is ignored */
	for (uint32_t len = 255; len <= 256; len++) {
		long_name[0] = (uint8_t)((len + 3) >> 8);
		long_name[1] = (uint8_t)(len + 3);
		long_name[2] = 0;
		long_name[3] = (uint8_t)(len >> 8);
		long_name[4] = (uint8_t)len;
		memset(long_name + 5, 'a', len);
		s.sni_raw = long_name;
		s.sni_raw_len = len + 5;
		build(&s, &b, NULL);
		assert_int_equal(feed_whole(&h, &b), TLS_DONE);
		assert_int_equal(h.has_server_name, len == 255);
		assert_int_equal(h.name_len, len == 255 ? 255 : 0);
		assert_int_equal(strlen(h.server_name), h.name_len);
		assert_int_equal(feed_bytewise(&h, &b), TLS_DONE);
		assert_int_equal(h.name_len, len == 255 ? 255 : 0);
	}
}

/* The hello with the 16-bit field at off changed by delta (or set to value
 * when delta is 0) gives want. */
static void expect_patched16(uint32_t off, int delta, uint32_t value, enum tls_result want)
{
	static struct bytes b;
	struct tls_hello h;
	struct layout at;
	uint32_t v;

	build(&tls13_spec, &b, &at);
	v = delta ? (uint32_t)((int)((uint32_t)b.b[off] << 8 | b.b[off + 1]) + delta) : value;
	b.b[off] = (uint8_t)(v >> 8);
	b.b[off + 1] = (uint8_t)v;
	assert_int_equal(feed_whole(&h, &b), want);
	assert_int_equal(feed_bytewise(&h, &b), want);
}

static void test_inconsistent_lengths(void **state)
{
	static struct bytes b;
	struct tls_hello h;
	struct layout at;
	struct spec s = tls13_spec;

	(void)state;
	build(&tls13_spec, &b, &at);
	/* the record: empty, or longer than any record may be */
	expect_patched16(3, 0, 0, TLS_BAD);
	expect_patched16(3, 0, 16384 + 2049, TLS_BAD);
	/* the handshake: not a ClientHello; its length one off either way */
	b.b[5] = 2;
	assert_int_equal(feed_whole(&h, &b), TLS_BAD);
	expect_patched16(7, 1, 0, TLS_BAD);
	expect_patched16(7, -1, 0, TLS_BAD);
	/* the session id, cipher suites and compression methods */
	build(&tls13_spec, &b, &at);
	b.b[at.sid_len_at] = 33;
	assert_int_equal(feed_whole(&h, &b), TLS_BAD);
	expect_patched16(at.suites_len_at, 1, 0, TLS_BAD);	/* odd */
	expect_patched16(at.suites_len_at, 0, 0, TLS_BAD);
	expect_patched16(at.suites_len_at, 0, 0xfffe, TLS_BAD);	/* beyond the hello */
	build(&tls13_spec, &b, &at);
	b.b[at.comp_len_at] = 0;
	assert_int_equal(feed_whole(&h, &b), TLS_BAD);
	/* the extensions block must end with the hello */
	expect_patched16(at.exts_len_at, 1, 0, TLS_BAD);
	expect_patched16(at.exts_len_at, -1, 0, TLS_BAD);
	/* an extension beyond the block */
	expect_patched16(at.last_ext_at + 2, 1, 0, TLS_BAD);
	expect_patched16(at.last_ext_at + 2, -1, 0, TLS_BAD);
	/* server_name: the list must fill the extension; the name fit in it */
	expect_patched16(at.sni_at + 4, 1, 0, TLS_BAD);
	expect_patched16(at.sni_at + 4, -1, 0, TLS_BAD);
	expect_patched16(at.sni_at + 7, 1, 0, TLS_BAD);
	expect_patched16(at.sni_at + 2, 0, 0, TLS_BAD);	/* an empty server_name extension */
	/* ALPN: the same, and no empty protocol */
	expect_patched16(at.alpn_at + 4, 1, 0, TLS_BAD);
	expect_patched16(at.alpn_at + 4, -1, 0, TLS_BAD);
	build(&tls13_spec, &b, &at);
	b.b[at.alpn_at + 6] = 0;
	assert_int_equal(feed_whole(&h, &b), TLS_BAD);
	b.b[at.alpn_at + 6] = 40;
	assert_int_equal(feed_whole(&h, &b), TLS_BAD);
	/* two server_name extensions */
	s.duplicate_sni = 1;
	build(&s, &b, NULL);
	assert_int_equal(feed_whole(&h, &b), TLS_BAD);
}

static void test_not_tls(void **state)
{
	static const char http[] = "GET / HTTP/1.1\r\nHost: nas\r\n\r\n";
	static const uint8_t sslv2[] = { 0x80, 0x2e, 0x01, 0x00, 0x02 };
	static const uint8_t appdata[] = { 0x17, 0x03, 0x03, 0x00, 0x10 };
	static const uint8_t v2[] = { 0x16, 0x02, 0x00 };
	static struct bytes b;
	struct tls_hello h;
	struct spec s = tls13_spec;

	(void)state;
	tls_hello_init(&h);
	assert_int_equal(feed_guarded(&h, (const uint8_t *)http, sizeof(http) - 1), TLS_NOT_TLS);
	assert_int_equal(feed_guarded(&h, (const uint8_t *)http, 4), TLS_NOT_TLS);	/* stays so */
	tls_hello_init(&h);
	assert_int_equal(feed_guarded(&h, (const uint8_t *)"G", 1), TLS_NOT_TLS);
	tls_hello_init(&h);
	assert_int_equal(feed_guarded(&h, sslv2, sizeof(sslv2)), TLS_NOT_TLS);
	tls_hello_init(&h);
	assert_int_equal(feed_guarded(&h, appdata, sizeof(appdata)), TLS_NOT_TLS);
	tls_hello_init(&h);
	assert_int_equal(feed_guarded(&h, v2, 1), TLS_MORE);
	assert_int_equal(feed_guarded(&h, v2 + 1, 2), TLS_NOT_TLS);
	tls_hello_init(&h);
	assert_int_equal(feed_guarded(&h, v2, 0), TLS_MORE);
	/* a record of another type, or version, in the middle of the hello */
	s.record_max = 200;
	build(&s, &b, NULL);
	b.b[5 + 200] = 0x17;
	assert_int_equal(feed_whole(&h, &b), TLS_BAD);
	build(&s, &b, NULL);
	b.b[5 + 200 + 1] = 0x02;
	assert_int_equal(feed_whole(&h, &b), TLS_BAD);
	/* the two-compare test */
	assert_true(tls_looks_like_hello(b.b, b.len));
	assert_true(tls_looks_like_hello(b.b, 2));
	assert_false(tls_looks_like_hello(b.b, 1));
	assert_false(tls_looks_like_hello(b.b, 0));
	assert_false(tls_looks_like_hello((const uint8_t *)http, sizeof(http) - 1));
	assert_false(tls_looks_like_hello(v2, sizeof(v2)));
}

/* Every prefix is TLS_MORE, and any name found on the way is the right one. */
static void assert_truncations(const struct bytes *b, const char *sni)
{
	struct tls_hello h;

	for (uint32_t n = 0; n < b->len; n++) {
		tls_hello_init(&h);
		assert_int_equal(feed_guarded(&h, b->b, n), TLS_MORE);
		if (h.has_server_name)
			assert_string_equal(h.server_name, sni);
		assert_int_equal(strlen(h.server_name), h.name_len);
	}
}

static void test_truncation(void **state)
{
	static struct bytes b;
	struct spec s = tls13_spec;

	(void)state;
	build(&tls13_spec, &b, NULL);
	assert_truncations(&b, "www.example.com");
	build(&tls12_spec, &b, NULL);
	assert_truncations(&b, "nas.example.org");
	build(&pq_spec, &b, NULL);
	assert_truncations(&b, "accounts.google.com");
	s.record_max = 7;
	build(&s, &b, NULL);
	assert_truncations(&b, "www.example.com");
}

static void assert_consistent(const struct tls_hello *h)
{
	assert_int_equal(strlen(h->server_name), h->name_len);
	assert_true(strlen(h->alpn) <= TLS_ALPN_MAX);
	if (h->has_server_name)
		assert_true(h->name_len > 0);
	for (uint32_t i = 0; i < h->name_len; i++) {
		assert_in_range((uint8_t)h->server_name[i], 0x21, 0x7e);
		assert_false(h->server_name[i] >= 'A' && h->server_name[i] <= 'Z');
	}
	for (size_t i = 0; h->alpn[i]; i++)
		assert_in_range((uint8_t)h->alpn[i], 0x21, 0x7e);
}

static void test_random_mutations_survived(void **state)
{
	static struct bytes b;
	struct tls_hello h;
	struct spec s = pq_spec;
	unsigned seed = 4242;
	int results[4] = { 0 };

	(void)state;
	for (int round = 0; round < 20000; round++) {
		uint32_t k1, k2;
		enum tls_result r;

		s.tls13 = round & 1;
		s.key_share = round & 2 ? 1216 : 32;
		s.ech = round & 4 ? 282 : 0;
		s.record_max = round % 5 == 0 ? 1 + (uint32_t)rand_r(&seed) % 600 : 0;
		s.sni_place = (enum sni_place)(round % 3);
		s.order_seed = (unsigned)round;
		build(&s, &b, NULL);
		for (int m = 0; m < 1 + round % 6; m++)
			b.b[(uint32_t)rand_r(&seed) % b.len] = (uint8_t)rand_r(&seed);
		if (round % 4 == 0)
			b.len = 1 + (uint32_t)rand_r(&seed) % b.len;
		k1 = (uint32_t)rand_r(&seed) % (b.len + 1);
		k2 = k1 + (uint32_t)rand_r(&seed) % (b.len - k1 + 1);
		tls_hello_init(&h);
		r = feed_guarded(&h, b.b, k1);
		r = feed_guarded(&h, b.b + k1, k2 - k1);
		r = feed_guarded(&h, b.b + k2, b.len - k2);
		assert_in_range(r, TLS_MORE, TLS_BAD);
		results[r]++;
		assert_consistent(&h);
	}
	print_message("mutations: %d more, %d done, %d not TLS, %d bad\n", results[TLS_MORE],
		      results[TLS_DONE], results[TLS_NOT_TLS], results[TLS_BAD]);
	assert_true(results[TLS_DONE] > 0 && results[TLS_BAD] > 0);
}

/* ---- real captures ---- */

struct stream {
	int started;
	struct decoded first;	/* the segment the hello starts in */
	struct tls_hello h;
	enum tls_result r;
	int segments;
};

static int same_direction(const struct decoded *a, const struct decoded *b)
{
	return a->family == b->family && a->sport == b->sport && a->dport == b->dport &&
	       memcmp(a->src, b->src, 16) == 0 && memcmp(a->dst, b->dst, 16) == 0;
}

/* Feeds the client's payloads from the first segment that looks like a
 * ClientHello on, in capture order, until the parser stops asking. */
static void feed_packet(struct stream *st, const struct decoded *d)
{
	if (d->ip_proto != 6 || d->payload_len == 0)
		return;
	if (!st->started) {
		if (!tls_looks_like_hello(d->payload, d->payload_len))
			return;
		st->started = 1;
		st->first = *d;
		tls_hello_init(&st->h);
	} else if (!same_direction(&st->first, d)) {
		return;
	}
	st->segments++;
	st->r = feed_guarded(&st->h, d->payload, d->payload_len);
}

static int read_first_hello(const char *path, struct stream *st)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline(path, errbuf);
	struct pcap_pkthdr *hdr;
	const u_char *frame;

	memset(st, 0, sizeof(*st));
	st->r = TLS_MORE;
	if (!p)
		return 0;
	while (st->r == TLS_MORE && pcap_next_ex(p, &hdr, &frame) == 1) {
		struct decoded d;

		if (decode_packet(pcap_datalink(p), frame, hdr->caplen, hdr->len, &d) == DECODE_IP)
			feed_packet(st, &d);
	}
	pcap_close(p);
	return 1;
}

static void test_real_client_hellos(void **state)
{
	/* The names and ALPN lists from
	 *   tshark -r FILE -Y tls.handshake.type==1 -T fields \
	 *     -e tls.handshake.extensions_server_name -e tls.handshake.extensions_alpn_str
	 * (first line of each; the ALPN here is the first of tshark's list). */
	static const struct {
		const char *file;
		const char *sni, *alpn;
		int segments;
	} want[] = {
		{ "443-curl.pcap", "www.ntop.org", "h2", 1 },
		{ "6in4tunnel.pcap", "www.facebook.com", "spdy/3.1", 1 },	/* IPv6 in IPv4 */
		{ "corpus/443-safari.pcap", "www.ntop.org", "h2", 1 },
		{ "corpus/codm.pcap", "west-tdm.codmwest.com", "http/1.1", 2 },	/* 512 + 5 bytes */
		{ "corpus/tls_with_huge_ch.pcapng", NULL, "h2", 12 },	/* 11423 bytes in 12 segments */
	};
	char path[512];
	int found = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		struct stream st;

		snprintf(path, sizeof(path), "%s/pcaps/%s", DSM_SHARED_DIR, want[i].file);
		if (!read_first_hello(path, &st))
			continue;
		found++;
		print_message("%s: %d segments, server name \"%s\", ALPN \"%s\"\n", want[i].file,
			      st.segments, st.h.server_name, st.h.alpn);
		assert_int_equal(st.r, TLS_DONE);
		assert_int_equal(st.segments, want[i].segments);
		assert_found(&st.h, want[i].sni, want[i].alpn);
	}
	if (found == 0) {
		print_message("skipped: no third-party captures in %s/pcaps\n", DSM_SHARED_DIR);
		skip();
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole_hellos),
		cmocka_unit_test(test_every_split_point),
		cmocka_unit_test(test_one_byte_at_a_time),
		cmocka_unit_test(test_record_fragmentation),
		cmocka_unit_test(test_post_quantum_in_two_segments),
		cmocka_unit_test(test_extension_orders),
		cmocka_unit_test(test_no_server_name),
		cmocka_unit_test(test_alpn),
		cmocka_unit_test(test_server_name_rules),
		cmocka_unit_test(test_inconsistent_lengths),
		cmocka_unit_test(test_not_tls),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_random_mutations_survived),
		cmocka_unit_test(test_real_client_hellos),
	};

	return cmocka_run_group_tests(tests, guard_setup, guard_teardown);
}
