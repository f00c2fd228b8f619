/* test_dns.c - the DNS response parser on messages built here (A, AAAA,
 * CNAME chains, compression, the limits on labels, names and pointers,
 * every truncation, 20000 mutations) placed flush against a PROT_NONE page,
 * and on the responses of third-party captures compared with tshark's
 * reading of them (tests/data/dns-answers.txt); then the address -> name
 * table: TTLs in packet time, refresh, eviction in answer order (a get
 * changes nothing), and its counters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <pthread.h>
#include <cmocka.h>
#include <pcap/pcap.h>

#include "dsmflow/decode.h"
#include "dsmflow/dns.h"
#include "dsmflow/dnstable.h"
#include "guard.h"

#define US 1000000ull
#define TYPE_A 1
#define TYPE_CNAME 5
#define TYPE_TXT 16
#define TYPE_AAAA 28
#define FLAGS_RESPONSE 0x8180	/* QR, RD, RA, NOERROR */


/* ---- what the callback got ---- */

struct answer {
	char name[DNS_NAME_MAX + 1];
	int family;
	uint8_t addr[16];
	uint32_t ttl;
};

struct got {
	int n;
	struct answer a[DNS_MAX_ANSWERS];
};

static void collect(void *ctx, const char *name, size_t name_len, int family, const uint8_t *addr,
		    uint32_t ttl)
{
	struct got *got = ctx;
	struct answer *a;

	assert_true(name_len > 0 && name_len <= DNS_NAME_MAX);
	assert_int_equal(strlen(name), name_len);
	for (size_t i = 0; i < name_len; i++) {
		assert_in_range((uint8_t)name[i], 0x21, 0x7e);
		assert_false(name[i] >= 'A' && name[i] <= 'Z');
	}
	assert_true(family == 4 || family == 6);
	assert_in_range(got->n, 0, DNS_MAX_ANSWERS - 1);
	a = &got->a[got->n++];
	memcpy(a->name, name, name_len + 1);
	a->family = family;
	memset(a->addr, 0, sizeof(a->addr));
	memcpy(a->addr, addr, family == 4 ? 4 : 16);
	a->ttl = ttl;
}

/* ---- building messages ---- */

struct msg {
	uint8_t b[4096];
	uint32_t len;
};

static void put(struct msg *m, const void *p, uint32_t n)
{
	assert_true(m->len + n <= sizeof(m->b));
	memcpy(m->b + m->len, p, n);
	m->len += n;
}

static void put8(struct msg *m, uint32_t v)
{
	uint8_t b = (uint8_t)v;

	put(m, &b, 1);
}

static void put16(struct msg *m, uint32_t v)
{
	put8(m, v >> 8);
	put8(m, v);
}

static void put32(struct msg *m, uint32_t v)
{
	put16(m, v >> 16);
	put16(m, v);
}

static void header(struct msg *m, uint16_t flags, uint16_t qdcount, uint16_t ancount)
{
	m->len = 0;
	put16(m, 0x1234);
	put16(m, flags);
	put16(m, qdcount);
	put16(m, ancount);
	put32(m, 0);	/* no authority or additional records */
}

/* The labels of a dotted name, then a pointer to ptr (or the root when 0). */
static void name_then(struct msg *m, const char *dotted, uint16_t ptr)
{
	while (dotted && *dotted) {
		const char *dot = strchr(dotted, '.');
		uint32_t n = dot ? (uint32_t)(dot - dotted) : (uint32_t)strlen(dotted);

		put8(m, n);
		put(m, dotted, n);
		dotted += n + (dot != NULL);
	}
	if (ptr)
		put16(m, 0xc000 | ptr);
	else
		put8(m, 0);
}

static void name(struct msg *m, const char *dotted)
{
	name_then(m, dotted, 0);
}

static void question(struct msg *m, const char *qname, uint16_t type)
{
	name(m, qname);
	put16(m, type);
	put16(m, 1);
}

/* The fixed part of a record whose owner was just written. */
static void rr(struct msg *m, uint16_t type, uint32_t ttl, uint16_t rdlength)
{
	put16(m, type);
	put16(m, 1);
	put32(m, ttl);
	put16(m, rdlength);
}

static void rr_a(struct msg *m, uint8_t last, uint32_t ttl)
{
	static uint8_t a[4] = { 192, 0, 2, 0 };

	a[3] = last;
	rr(m, TYPE_A, ttl, 4);
	put(m, a, 4);
}

static void rr_aaaa(struct msg *m, uint8_t last, uint32_t ttl)
{
	uint8_t a[16] = { 0x20, 0x01, 0x0d, 0xb8 };

	a[15] = last;
	rr(m, TYPE_AAAA, ttl, 16);
	put(m, a, 16);
}

/* A CNAME to target (labels, then a pointer to ptr when not 0). */
static void rr_cname(struct msg *m, const char *target, uint16_t ptr)
{
	uint32_t at;

	rr(m, TYPE_CNAME, 300, 0);
	at = m->len;
	name_then(m, target, ptr);
	m->b[at - 2] = (uint8_t)((m->len - at) >> 8);
	m->b[at - 1] = (uint8_t)(m->len - at);
}

static enum dns_result parse_n(const struct msg *m, uint32_t n, struct got *got)
{
	const uint8_t *at = guard_place(m->b, n);

	memset(got, 0, sizeof(*got));
	return dns_parse_response(at, n, collect, got);
}

static enum dns_result parse(const struct msg *m, struct got *got)
{
	return parse_n(m, m->len, got);
}

static void assert_answer(const struct got *got, int i, const char *qname, int family,
			  uint8_t last, uint32_t ttl)
{
	assert_true(i < got->n);
	assert_string_equal(got->a[i].name, qname);
	assert_int_equal(got->a[i].family, family);
	assert_int_equal(got->a[i].addr[family == 4 ? 3 : 15], last);
	assert_int_equal(got->a[i].ttl, ttl);
}

/* www.x.com CNAME cdn.y.net, cdn.y.net CNAME e1.z.net (compressed), then
 * an A and an AAAA for e1.z.net and one A for an unrelated owner. */
static void chain_message(struct msg *m)
{
	uint16_t cdn, e1;

	header(m, FLAGS_RESPONSE, 1, 5);
	question(m, "www.x.com", TYPE_A);
	put16(m, 0xc00c);
	rr_cname(m, "cdn.y.net", 0);
	cdn = (uint16_t)(m->len - 11);	/* the target's first label */
	put16(m, 0xc000 | cdn);
	rr_cname(m, "e1.z", (uint16_t)(cdn + 6));	/* e1.z + "net" of cdn.y.net */
	e1 = (uint16_t)(m->len - 7);
	put16(m, 0xc000 | e1);
	rr_a(m, 1, 60);
	name(m, "elsewhere.org");
	rr_a(m, 99, 60);
	put16(m, 0xc000 | e1);
	rr_aaaa(m, 2, 60);
}

/* ---- the parser ---- */

static void test_a_and_aaaa(void **state)
{
	struct msg m;
	struct got got;

	(void)state;
	header(&m, FLAGS_RESPONSE, 1, 3);
	question(&m, "nas.example.com", TYPE_A);
	put16(&m, 0xc00c);
	rr_a(&m, 10, 300);
	name(&m, "nas.example.com");	/* uncompressed */
	rr_a(&m, 11, 301);
	put16(&m, 0xc00c);
	rr_aaaa(&m, 12, 302);
	assert_int_equal(parse(&m, &got), DNS_OK);
	assert_int_equal(got.n, 3);
	assert_answer(&got, 0, "nas.example.com", 4, 10, 300);
	assert_answer(&got, 1, "nas.example.com", 4, 11, 301);
	assert_answer(&got, 2, "nas.example.com", 6, 12, 302);
	assert_int_equal(got.a[2].addr[0], 0x20);
}

static void test_cname_chain(void **state)
{
	struct msg m;
	struct got got;

	(void)state;
	chain_message(&m);
	assert_int_equal(parse(&m, &got), DNS_OK);
	assert_int_equal(got.n, 2);
	assert_answer(&got, 0, "www.x.com", 4, 1, 60);
	assert_answer(&got, 1, "www.x.com", 6, 2, 60);

	/* the brief's example: www.x.com CNAME cdn.y.net; cdn.y.net A 1.2.3.4 */
	header(&m, FLAGS_RESPONSE, 1, 2);
	question(&m, "www.x.com", TYPE_A);
	put16(&m, 0xc00c);
	rr_cname(&m, "cdn.y.net", 0);
	name(&m, "cdn.y.net");
	rr(&m, TYPE_A, 30, 4);
	put(&m, "\x01\x02\x03\x04", 4);
	assert_int_equal(parse(&m, &got), DNS_OK);
	assert_int_equal(got.n, 1);
	assert_string_equal(got.a[0].name, "www.x.com");
	assert_memory_equal(got.a[0].addr, "\x01\x02\x03\x04", 4);

	/* a CNAME listed after the records it leads to is not followed */
	header(&m, FLAGS_RESPONSE, 1, 2);
	question(&m, "www.x.com", TYPE_A);
	name(&m, "cdn.y.net");
	rr_a(&m, 5, 30);
	put16(&m, 0xc00c);
	rr_cname(&m, "cdn.y.net", 0);
	assert_int_equal(parse(&m, &got), DNS_OK);
	assert_int_equal(got.n, 0);
}

static void test_other_records_ignored(void **state)
{
	struct msg m;
	struct got got;

	(void)state;
	header(&m, FLAGS_RESPONSE, 1, 5);
	question(&m, "nas.example.com", TYPE_A);
	name(&m, "other.example.com");	/* another owner */
	rr_a(&m, 1, 60);
	put16(&m, 0xc00c);	/* class CH */
	put16(&m, TYPE_A);
	put16(&m, 3);
	put32(&m, 60);
	put16(&m, 4);
	put32(&m, 0x01020304);
	put16(&m, 0xc00c);	/* an A of 5 bytes */
	rr(&m, TYPE_A, 60, 5);
	put(&m, "\1\2\3\4\5", 5);
	put16(&m, 0xc00c);	/* a TXT */
	rr(&m, TYPE_TXT, 60, 3);
	put(&m, "\2hi", 3);
	put16(&m, 0xc00c);
	rr_a(&m, 7, 60);
	assert_int_equal(parse(&m, &got), DNS_OK);
	assert_int_equal(got.n, 1);
	assert_answer(&got, 0, "nas.example.com", 4, 7, 60);
}

static void test_compression_pointers(void **state)
{
	struct msg m;
	struct got got;
	uint16_t first;

	(void)state;
	/* forward: the answer's owner points past itself */
	header(&m, FLAGS_RESPONSE, 1, 1);
	question(&m, "a.b", TYPE_A);
	put16(&m, 0xc000 | (m.len + 2));
	rr_a(&m, 1, 60);
	assert_int_equal(parse(&m, &got), DNS_BAD);
	/* at itself */
	header(&m, FLAGS_RESPONSE, 1, 1);
	question(&m, "a.b", TYPE_A);
	put16(&m, 0xc000 | m.len);
	rr_a(&m, 1, 60);
	assert_int_equal(parse(&m, &got), DNS_BAD);
	/* a loop: label "x" then a pointer back to the label */
	header(&m, FLAGS_RESPONSE, 1, 1);
	question(&m, "a.b", TYPE_A);
	put8(&m, 1);
	put8(&m, 'x');
	put16(&m, 0xc000 | (m.len - 2));
	rr_a(&m, 1, 60);
	assert_int_equal(parse(&m, &got), DNS_BAD);
	/* chains of pointers: 16 jumps are followed, 17 are not */
	for (int jumps = 16; jumps <= 17; jumps++) {
		header(&m, FLAGS_RESPONSE, 1, 2);
		question(&m, "a.b", TYPE_A);
		name(&m, "filler");
		rr(&m, TYPE_TXT, 60, (uint16_t)(2 * (jumps - 1)));
		first = (uint16_t)m.len;
		put16(&m, 0xc00c);
		for (int i = 1; i < jumps - 1; i++)
			put16(&m, (uint16_t)(0xc000 | (first + 2 * (i - 1))));
		put16(&m, 0xc000 | (m.len - 2));
		rr_a(&m, 1, 60);
		assert_int_equal(parse(&m, &got), jumps == 16 ? DNS_OK : DNS_BAD);
		assert_int_equal(got.n, jumps == 16);
	}
	/* a pointer from a CNAME's data into the message */
	chain_message(&m);
	assert_int_equal(parse(&m, &got), DNS_OK);
	assert_int_equal(got.n, 2);
}

static void test_label_and_name_limits(void **state)
{
	char text[300];
	struct msg m;
	struct got got;

	(void)state;
	for (int type = 0x40; type <= 0x80; type += 0x40) {	/* "label > 63": the 01 and 10 types */
		header(&m, FLAGS_RESPONSE, 1, 0);
		put8(&m, (uint32_t)type);
		put(&m, "x", 1);
		put8(&m, 0);
		put32(&m, 0x00010001);
		assert_int_equal(parse(&m, &got), DNS_BAD);
	}
	/* 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253 bytes: the longest; one more is too long */
	for (int extra = 0; extra <= 1; extra++) {
		memset(text, 'a', sizeof(text));
		text[63] = text[127] = text[191] = '.';
		text[253 + extra] = '\0';
		header(&m, FLAGS_RESPONSE, 1, 1);
		question(&m, text, TYPE_A);
		put16(&m, 0xc00c);
		rr_a(&m, 1, 60);
		assert_int_equal(parse(&m, &got), extra ? DNS_BAD : DNS_OK);
		assert_int_equal(got.n, !extra);
		if (!extra)
			assert_int_equal(strlen(got.a[0].name), 253);
	}
	/* too long only once a pointer adds a suffix */
	header(&m, FLAGS_RESPONSE, 1, 1);
	question(&m, text + 2, TYPE_A);	/* 252 bytes */
	name_then(&m, "zz", 12);
	rr_a(&m, 1, 60);
	assert_int_equal(parse(&m, &got), DNS_BAD);
}

static void test_counts_and_flags(void **state)
{
	struct msg m;
	struct got got;

	(void)state;
	header(&m, FLAGS_RESPONSE, 0, 0);	/* no question */
	assert_int_equal(parse(&m, &got), DNS_OK);
	assert_int_equal(got.n, 0);
	header(&m, FLAGS_RESPONSE, 2, 1);	/* two: the first is used */
	question(&m, "one.example", TYPE_A);
	question(&m, "two.example", TYPE_A);
	put16(&m, 0xc00c);
	rr_a(&m, 1, 60);
	assert_int_equal(parse(&m, &got), DNS_OK);
	assert_int_equal(got.n, 1);
	assert_string_equal(got.a[0].name, "one.example");
	header(&m, 0x0100, 1, 0);	/* a query */
	question(&m, "nas.example.com", TYPE_A);
	assert_int_equal(parse(&m, &got), DNS_NOT_RESPONSE);
	header(&m, 0x9000, 1, 0);	/* a response to opcode 2, STATUS */
	question(&m, "nas.example.com", TYPE_A);
	assert_int_equal(parse(&m, &got), DNS_NOT_RESPONSE);
	header(&m, 0x8183, 1, 1);	/* NXDOMAIN, even with an answer */
	question(&m, "nas.example.com", TYPE_A);
	put16(&m, 0xc00c);
	rr_a(&m, 1, 60);
	assert_int_equal(parse(&m, &got), DNS_OK);
	assert_int_equal(got.n, 0);
	header(&m, FLAGS_RESPONSE, 1, 3);	/* counts more answers than there are */
	question(&m, "nas.example.com", TYPE_A);
	put16(&m, 0xc00c);
	rr_a(&m, 1, 60);
	assert_int_equal(parse(&m, &got), DNS_BAD);
	assert_int_equal(got.n, 1);	/* reported before the end was found */
	header(&m, FLAGS_RESPONSE, 1, 70);	/* at most DNS_MAX_ANSWERS are read */
	question(&m, "nas.example.com", TYPE_A);
	for (int i = 0; i < 70; i++) {
		put16(&m, 0xc00c);
		rr_a(&m, (uint8_t)i, 60);
	}
	assert_int_equal(parse(&m, &got), DNS_OK);
	assert_int_equal(got.n, DNS_MAX_ANSWERS);
	header(&m, FLAGS_RESPONSE, 1, 1);	/* a TTL with its top bit set is 0 */
	question(&m, "nas.example.com", TYPE_A);
	put16(&m, 0xc00c);
	rr_a(&m, 1, 0x80000001u);
	assert_int_equal(parse(&m, &got), DNS_OK);
	assert_answer(&got, 0, "nas.example.com", 4, 1, 0);
}

static void test_case_and_odd_names(void **state)
{
	static const char *odd[] = { "my nas.local", "a\001b.local", NULL };
	struct msg m;
	struct got got;

	(void)state;
	header(&m, FLAGS_RESPONSE, 1, 2);
	question(&m, "WWW.Example.COM", TYPE_A);
	name(&m, "www.EXAMPLE.com");
	rr_cname(&m, "CDN.Example.NET", 0);
	name(&m, "cdn.example.net");
	rr_a(&m, 1, 60);
	assert_int_equal(parse(&m, &got), DNS_OK);
	assert_int_equal(got.n, 1);
	assert_string_equal(got.a[0].name, "www.example.com");
	/* a question no host has: a space, a control byte, a dot inside a label */
	for (int i = 0; i <= 2; i++) {
		header(&m, FLAGS_RESPONSE, 1, 1);
		if (odd[i]) {
			question(&m, odd[i], TYPE_A);
		} else {
			put(&m, "\3a.b\5local\0", 11);
			put32(&m, 0x00010001);
		}
		put16(&m, 0xc00c);
		rr_a(&m, 1, 60);
		assert_int_equal(parse(&m, &got), DNS_OK);
		assert_int_equal(got.n, 0);
	}
	/* a CNAME to an odd name leads nowhere */
	header(&m, FLAGS_RESPONSE, 1, 2);
	question(&m, "www.x.com", TYPE_A);
	put16(&m, 0xc00c);
	rr_cname(&m, "a b", 0);
	name(&m, "a b");
	rr_a(&m, 1, 60);
	assert_int_equal(parse(&m, &got), DNS_OK);
	assert_int_equal(got.n, 0);
	/* a CNAME whose data holds more than one name is inconsistent */
	header(&m, FLAGS_RESPONSE, 1, 1);
	question(&m, "www.x.com", TYPE_A);
	put16(&m, 0xc00c);
	rr(&m, TYPE_CNAME, 60, 4);
	put(&m, "\1a\0\0", 4);
	assert_int_equal(parse(&m, &got), DNS_BAD);
}

static void test_truncation(void **state)
{
	struct msg m;
	struct got full, got;

	(void)state;
	chain_message(&m);
	assert_int_equal(parse(&m, &full), DNS_OK);
	for (uint32_t n = 0; n < m.len; n++) {
		assert_int_equal(parse_n(&m, n, &got), DNS_BAD);
		assert_true(got.n <= full.n);
		assert_memory_equal(got.a, full.a, (size_t)got.n * sizeof(got.a[0]));
	}
}

static void test_random_mutations_survived(void **state)
{
	struct msg m;
	struct got got;
	unsigned seed = 777;
	int results[3] = { 0 };

	(void)state;
	for (int round = 0; round < 20000; round++) {
		enum dns_result r;

		chain_message(&m);
		if (round & 1) {	/* more answers, some with long names */
			m.b[7] = 7;
			name(&m, "a-long-label-of-some-length.another-long-label.example.com");
			rr_a(&m, 3, 60);
			put16(&m, 0xc00c);
			rr_aaaa(&m, 4, 60);
		}
		for (int i = 0; i < 1 + round % 6; i++)
			m.b[(uint32_t)rand_r(&seed) % m.len] = (uint8_t)rand_r(&seed);
		if (round % 3 == 0)
			m.len = (uint32_t)rand_r(&seed) % (m.len + 1);
		r = parse(&m, &got);
		assert_in_range(r, DNS_OK, DNS_BAD);
		results[r]++;
	}
	print_message("mutations: %d ok, %d not a response, %d bad\n", results[DNS_OK],
		      results[DNS_NOT_RESPONSE], results[DNS_BAD]);
	assert_true(results[DNS_OK] > 0 && results[DNS_BAD] > 0);
}

/* ---- the parser on real captures, against tshark ---- */

struct text {
	char *s;
	size_t len, cap;
};

static void text_add(struct text *t, const char *line)
{
	size_t n = strlen(line);

	if (t->len + n + 1 > t->cap) {
		t->cap = (t->len + n + 1) * 2;
		t->s = realloc(t->s, t->cap);
		assert_non_null(t->s);
	}
	memcpy(t->s + t->len, line, n + 1);
	t->len += n;
}

struct capture_answers {
	const char *file;
	unsigned long frame;
	struct text lines;
};

static void write_answer(void *ctx, const char *qname, size_t name_len, int family,
			 const uint8_t *addr, uint32_t ttl)
{
	struct capture_answers *c = ctx;
	char address[INET6_ADDRSTRLEN], line[512];

	(void)name_len;
	assert_non_null(inet_ntop(family == 4 ? AF_INET : AF_INET6, addr, address, sizeof(address)));
	snprintf(line, sizeof(line), "%s %lu %s %s %u\n", c->file, c->frame, qname, address, ttl);
	text_add(&c->lines, line);
}

/* dns.c's reading of every UDP payload from port 53 of path (a first IP
 * fragment as it is: dsmflow does not reassemble), in the format of
 * tests/data/dns-answers.txt; 0 when path cannot be read. */
static int read_capture(const char *path, const char *file, struct text *out)
{
	static const char *status[] = { "response", "not-response", "bad" };
	char errbuf[PCAP_ERRBUF_SIZE], line[512];
	pcap_t *p = pcap_open_offline(path, errbuf);
	struct capture_answers c = { .file = file };
	struct pcap_pkthdr *hdr;
	const u_char *frame;
	struct decoded d;

	if (!p)
		return 0;
	while (pcap_next_ex(p, &hdr, &frame) == 1) {
		enum dns_result r;

		c.frame++;
		if (decode_packet(pcap_datalink(p), frame, hdr->caplen, hdr->len, &d) != DECODE_IP ||
		    d.ip_proto != 17 || d.fragment == FRAG_LATER || d.sport != 53)
			continue;
		c.lines.len = 0;
		r = dns_parse_response(d.payload, d.payload_len, write_answer, &c);
		snprintf(line, sizeof(line), "%s %lu %s\n", file, c.frame, status[r]);
		text_add(out, line);
		if (c.lines.len)
			text_add(out, c.lines.s);
	}
	free(c.lines.s);
	pcap_close(p);
	return 1;
}

/* The lines of the expected file that start with "file ". */
static void expected_lines(const char *all, const char *file, struct text *out)
{
	size_t n = strlen(file);

	for (const char *line = all; *line;) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line + 1) : strlen(line);
		char copy[512];

		if (len < sizeof(copy) && strncmp(line, file, n) == 0 && line[n] == ' ') {
			memcpy(copy, line, len);
			copy[len] = '\0';
			text_add(out, copy);
		}
		line += len;
	}
}

/* Fails at the first line where dns.c's reading differs from tshark's. */
static void assert_same_lines(const char *want, const char *have)
{
	while (*want || *have) {
		size_t w = strcspn(want, "\n"), h = strcspn(have, "\n");

		if (w != h || strncmp(want, have, w) != 0) {
			print_error("tshark: %.*s\ndns.c:  %.*s\n", (int)w, want, (int)h, have);
			fail();
		}
		want += w + (want[w] == '\n');
		have += h + (have[h] == '\n');
	}
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	struct text t = { 0 };
	char buf[4096];
	size_t n;

	assert_non_null(f);
	while ((n = fread(buf, 1, sizeof(buf) - 1, f)) > 0) {
		buf[n] = '\0';
		text_add(&t, buf);
	}
	fclose(f);
	return t.s;
}

static void test_real_responses_match_tshark(void **state)
{
	char *all = read_file(DSM_SOURCE_DIR "/tests/data/dns-answers.txt");
	char path[512], file[256];
	const char *line = all;
	int captures = 0, compared = 0;

	(void)state;
	while (*line) {	/* each capture named in the file, once, in order */
		struct text want = { 0 }, have = { 0 };
		size_t n = strcspn(line, " \n");

		if (*line != '#' && n < sizeof(file) && !(compared && strncmp(line, file, n) == 0 &&
							    file[n] == '\0')) {
			memcpy(file, line, n);
			file[n] = '\0';
			compared = 1;
			snprintf(path, sizeof(path), "%s/pcaps/%s", DSM_SHARED_DIR, file);
			if (read_capture(path, file, &have)) {
				expected_lines(all, file, &want);
				captures++;
				assert_same_lines(want.s ? want.s : "", have.s ? have.s : "");
			}
			free(want.s);
			free(have.s);
		}
		line += strcspn(line, "\n");
		line += *line == '\n';
	}
	free(all);
	print_message("%d captures compared with tshark\n", captures);
	if (captures == 0) {
		print_message("skipped: no third-party captures in %s/pcaps\n", DSM_SHARED_DIR);
		skip();
	}
}

/* ---- the table ---- */

static const uint8_t v4a[4] = { 192, 0, 2, 1 }, v4b[4] = { 192, 0, 2, 2 };
static const uint8_t v6a[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };

/* A shared table (a sensor's workers): two threads put names for 4096
 * addresses each while a third copies them out; every copy is a whole name
 * that was put for that address, and the stats count every put. */
struct sharer {
	struct dns_table *t;
	uint8_t base;
	int bad;
};

static void *put_many(void *arg)
{
	struct sharer *s = arg;

	for (int round = 0; round < 8; round++)
		for (uint32_t i = 0; i < 4096; i++) {
			uint8_t a[4] = { 10, s->base, (uint8_t)(i >> 8), (uint8_t)i };
			char name[32];
			int len = snprintf(name, sizeof(name), "host-%u-%u.example", s->base, i);

			dns_table_put(s->t, 4, a, name, (size_t)len, 300, US);
		}
	return NULL;
}

static void *copy_many(void *arg)
{
	struct sharer *s = arg;
	char name[DNS_NAME_MAX + 1], want[32];

	for (int round = 0; round < 8; round++)
		for (uint32_t i = 0; i < 4096; i++) {
			uint8_t base = (uint8_t)(1 + (i & 1)), a[4] = { 10, base, (uint8_t)(i >> 8), (uint8_t)i };
			size_t len = dns_table_copy(s->t, 4, a, 2 * US, name);

			snprintf(want, sizeof(want), "host-%u-%u.example", base, i);
			if (len && (len != strlen(want) || strcmp(name, want) != 0))
				s->bad++;
		}
	return NULL;
}

static void test_shared_table_across_threads(void **state)
{
	struct dns_table *t = dns_table_new(16384);
	struct sharer one = { t, 1, 0 }, two = { t, 2, 0 }, reader = { t, 0, 0 };
	struct dns_table_stats st;
	pthread_t threads[3];
	char name[DNS_NAME_MAX + 1];
	const uint8_t a[4] = { 10, 2, 15, 255 };

	(void)state;
	assert_int_equal(dns_table_share(t), 0);
	assert_int_equal(dns_table_share(t), 0);	/* once is enough */
	assert_int_equal(pthread_create(&threads[0], NULL, put_many, &one), 0);
	assert_int_equal(pthread_create(&threads[1], NULL, put_many, &two), 0);
	assert_int_equal(pthread_create(&threads[2], NULL, copy_many, &reader), 0);
	for (int i = 0; i < 3; i++)
		pthread_join(threads[i], NULL);
	assert_int_equal(reader.bad, 0);
	for (uint32_t i = 0; i < 2 * 4096; i++) {	/* every put, whole, once all are in */
		uint8_t base = (uint8_t)(1 + i / 4096), at[4] = { 10, base, (uint8_t)(i % 4096 >> 8), (uint8_t)i };
		char want[32];

		snprintf(want, sizeof(want), "host-%u-%u.example", base, i % 4096);
		assert_int_equal(dns_table_copy(t, 4, at, 2 * US, name), strlen(want));
		assert_string_equal(name, want);
	}
	dns_table_stats(t, &st);
	assert_int_equal(st.inserted, 2 * 8 * 4096);
	assert_int_equal(st.entries, 2 * 4096);
	assert_int_equal(dns_table_copy(t, 4, a, 2 * US, name), strlen("host-2-4095.example"));
	assert_string_equal(name, "host-2-4095.example");
	assert_int_equal(dns_table_copy(t, 4, v4a, 2 * US, name), 0);
	dns_table_free(t);
}

static void test_table_put_get(void **state)
{
	struct dns_table *t = dns_table_new(16);
	struct dns_table_stats st;
	uint8_t v6_like_v4[16] = { 192, 0, 2, 1 };

	(void)state;
	assert_non_null(t);
	dns_table_put(t, 4, v4a, "nas.example.com", 15, 300, 1 * US);
	dns_table_put(t, 6, v6a, "NAS6.Example.COM", 16, 300, 1 * US);
	assert_string_equal(dns_table_get(t, 4, v4a, 2 * US), "nas.example.com");
	assert_string_equal(dns_table_get(t, 6, v6a, 2 * US), "nas6.example.com");
	assert_null(dns_table_get(t, 4, v4b, 2 * US));
	assert_null(dns_table_get(t, 6, v6_like_v4, 2 * US));	/* families are apart */
	dns_table_put(t, 5, v4b, "x", 1, 300, 1 * US);	/* no such family */
	assert_null(dns_table_get(t, 5, v4b, 2 * US));
	dns_table_stats(t, &st);
	assert_int_equal(st.inserted, 2);
	assert_int_equal(st.entries, 2);
	assert_int_equal(st.capacity, 16);
	assert_int_equal(st.evicted + st.expired, 0);
	dns_table_free(t);
	t = dns_table_new(0);
	dns_table_stats(t, &st);
	assert_int_equal(st.capacity, DNS_TABLE_DEFAULT_ENTRIES);
	dns_table_free(t);
	dns_table_free(NULL);
	assert_null(dns_table_new((size_t)1 << 31));	/* refused before allocating */
}

static void test_table_ttl_in_packet_time(void **state)
{
	struct dns_table *t = dns_table_new(16);
	struct dns_table_stats st;
	uint64_t t0 = 1700000000 * US;

	(void)state;
	dns_table_put(t, 4, v4a, "a.example", 9, 60, t0);
	assert_non_null(dns_table_get(t, 4, v4a, t0 + 60 * US - 1));
	assert_null(dns_table_get(t, 4, v4a, t0 + 60 * US));
	assert_null(dns_table_get(t, 4, v4a, t0 + 60 * US));
	dns_table_stats(t, &st);	/* a get changes nothing: the next put's sweep drops it */
	assert_int_equal(st.expired, 0);
	assert_int_equal(st.entries, 1);
	dns_table_put(t, 4, v4b, "c.example", 9, 60, t0 + 61 * US);
	dns_table_stats(t, &st);
	assert_int_equal(st.expired, 1);
	assert_int_equal(st.entries, 1);
	/* TTL 0 is kept for the 10 s floor */
	dns_table_put(t, 4, v4a, "a.example", 9, 0, t0);
	assert_non_null(dns_table_get(t, 4, v4a, t0 + 10 * US - 1));
	assert_null(dns_table_get(t, 4, v4a, t0 + 10 * US));
	/* a week is cut to a day, and hits do not extend it */
	dns_table_put(t, 6, v6a, "b.example", 9, 7 * 86400, t0);
	assert_non_null(dns_table_get(t, 6, v6a, t0 + 86400 * US - 1));
	assert_null(dns_table_get(t, 6, v6a, t0 + 86400 * US));
	dns_table_free(t);
}

static void test_table_refresh(void **state)
{
	struct dns_table *t = dns_table_new(16);
	struct dns_table_stats st;

	(void)state;
	dns_table_put(t, 4, v4a, "old.example", 11, 20, 0);
	dns_table_put(t, 4, v4a, "new.example", 11, 20, 15 * US);
	assert_string_equal(dns_table_get(t, 4, v4a, 30 * US), "new.example");
	dns_table_stats(t, &st);
	assert_int_equal(st.inserted, 2);
	assert_int_equal(st.entries, 1);
	assert_int_equal(st.expired, 0);
	dns_table_free(t);
}

static void put_n(struct dns_table *t, uint8_t last, uint32_t ttl, uint64_t now)
{
	uint8_t a[4] = { 10, 0, 0, last };
	char name[16];

	snprintf(name, sizeof(name), "host%u", last);
	dns_table_put(t, 4, a, name, strlen(name), ttl, now);
}

static const char *get_n(struct dns_table *t, uint8_t last, uint64_t now)
{
	uint8_t a[4] = { 10, 0, 0, last };

	return dns_table_get(t, 4, a, now);
}

static void test_table_eviction_in_answer_order(void **state)
{
	struct dns_table *t = dns_table_new(4);
	struct dns_table_stats st;

	(void)state;
	for (uint8_t i = 1; i <= 4; i++)
		put_n(t, i, 300, i * US);
	assert_string_equal(get_n(t, 1, 5 * US), "host1");	/* a get moves nothing */
	put_n(t, 2, 300, 5 * US);	/* an answer again: 2 is the newest, 1 the oldest */
	put_n(t, 5, 300, 6 * US);
	assert_null(get_n(t, 1, 7 * US));
	put_n(t, 6, 300, 8 * US);	/* then 3 */
	assert_null(get_n(t, 3, 9 * US));
	for (uint8_t i = 1; i <= 6; i++)
		if (i != 1 && i != 3)
			assert_non_null(get_n(t, i, 10 * US));
	dns_table_stats(t, &st);
	assert_int_equal(st.evicted, 2);
	assert_int_equal(st.expired, 0);
	assert_int_equal(st.entries, 4);
	dns_table_free(t);

	/* an expired entry making room is counted as expired, not evicted */
	t = dns_table_new(2);
	put_n(t, 1, 10, 0);
	put_n(t, 2, 100, 0);
	put_n(t, 3, 100, 50 * US);	/* 1 has expired */
	dns_table_stats(t, &st);
	assert_int_equal(st.expired, 1);
	assert_int_equal(st.evicted, 0);
	put_n(t, 4, 100, 50 * US);	/* 2 is live */
	dns_table_stats(t, &st);
	assert_int_equal(st.expired, 1);
	assert_int_equal(st.evicted, 1);
	assert_int_equal(st.entries, 2);
	dns_table_free(t);
}

static void test_table_names(void **state)
{
	struct dns_table *t = dns_table_new(4);
	char name[300];
	struct dns_table_stats st;

	(void)state;
	memset(name, 'A', sizeof(name));
	dns_table_put(t, 4, v4a, name, 253, 60, 0);
	assert_int_equal(strlen(dns_table_get(t, 4, v4a, 0)), 253);
	assert_int_equal(dns_table_get(t, 4, v4a, 0)[252], 'a');
	dns_table_put(t, 4, v4b, name, 254, 60, 0);	/* too long: not stored */
	assert_null(dns_table_get(t, 4, v4b, 0));
	dns_table_stats(t, &st);
	assert_int_equal(st.inserted, 1);
	dns_table_free(t);
}

/* Random puts and gets against a model: a hit is always the name last put. */
static void test_table_against_model(void **state)
{
	static char last[1000][16];
	struct dns_table *t = dns_table_new(100);
	struct dns_table_stats st;
	unsigned seed = 99;
	uint64_t now = 0;
	int hits = 0;

	(void)state;
	for (int i = 0; i < 200000; i++) {
		unsigned k = (unsigned)rand_r(&seed) % 1000;
		uint8_t a[16] = { 10, (uint8_t)(k >> 8), (uint8_t)k };
		int family = k & 1 ? 6 : 4;
		const char *got;

		now += (uint64_t)(rand_r(&seed) % 1000) * 1000;
		if (rand_r(&seed) % 2) {
			snprintf(last[k], sizeof(last[k]), "n%d.example", i % 100000);
			dns_table_put(t, family, a, last[k], strlen(last[k]),
				      (uint32_t)rand_r(&seed) % 120, now);
		} else if ((got = dns_table_get(t, family, a, now))) {
			assert_string_equal(got, last[k]);
			hits++;
		}
	}
	dns_table_stats(t, &st);
	assert_true(st.entries <= 100);
	assert_true(hits > 0 && st.evicted > 0 && st.expired > 0);
	dns_table_free(t);
}

/* dns.c's answers feed the table: the address leads back to the question. */
static void put_answer(void *ctx, const char *name, size_t name_len, int family,
		       const uint8_t *addr, uint32_t ttl)
{
	dns_table_put(ctx, family, addr, name, name_len, ttl, 5 * US);
}

static void test_answers_fill_the_table(void **state)
{
	struct dns_table *t = dns_table_new(8);
	struct msg m;
	uint8_t a4[4] = { 192, 0, 2, 1 }, a6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };

	(void)state;
	chain_message(&m);
	assert_int_equal(dns_parse_response(m.b, m.len, put_answer, t), DNS_OK);
	assert_string_equal(dns_table_get(t, 4, a4, 6 * US), "www.x.com");
	assert_string_equal(dns_table_get(t, 6, a6, 6 * US), "www.x.com");
	assert_null(dns_table_get(t, 6, a6, 65 * US));
	dns_table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_and_aaaa),
		cmocka_unit_test(test_cname_chain),
		cmocka_unit_test(test_other_records_ignored),
		cmocka_unit_test(test_compression_pointers),
		cmocka_unit_test(test_label_and_name_limits),
		cmocka_unit_test(test_counts_and_flags),
		cmocka_unit_test(test_case_and_odd_names),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_random_mutations_survived),
		cmocka_unit_test(test_real_responses_match_tshark),
		cmocka_unit_test(test_table_put_get),
		cmocka_unit_test(test_table_ttl_in_packet_time),
		cmocka_unit_test(test_table_refresh),
		cmocka_unit_test(test_table_eviction_in_answer_order),
		cmocka_unit_test(test_table_names),
		cmocka_unit_test(test_table_against_model),
		cmocka_unit_test(test_answers_fill_the_table),
		cmocka_unit_test(test_shared_table_across_threads),
	};

	return cmocka_run_group_tests(tests, guard_setup, guard_teardown);
}
