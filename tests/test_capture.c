/* test_capture.c - the file reader: a classic pcap file walked in place
 * from a mapping must hand over exactly what libpcap's own reader does
 * (every packet's time, lengths, link type and bytes, the count, and the
 * error and where it is), on the project's sample captures, on every
 * third-party capture in ../shared/pcaps, and on files made here to be
 * awkward: the other byte order, nanosecond times, negative times, records
 * longer than the snapshot or than any sane length, files cut off inside a
 * record header or inside a packet, and old versions and pcapng that
 * libpcap reads alone. */
#include <dirent.h>
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

#include "dsmflow/capture.h"

/* What a reader handed over, folded into one digest, and how. */
struct seen {
	uint64_t packets;
	uint64_t digest;
	size_t largest_batch;
	int rc;
	char error[512];
	int link;
	uint32_t links_seen;	/* bit n: a packet of link type n (< 32) */
};

static uint64_t fold(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

static void on_packets(void *ctx, const struct packet *pkts, size_t count)
{
	struct seen *s = ctx;

	if (count > s->largest_batch)
		s->largest_batch = count;
	for (size_t i = 0; i < count; i++) {
		const struct packet *p = &pkts[i];

		s->digest = fold(s->digest, &p->ts_us, sizeof(p->ts_us));
		s->digest = fold(s->digest, &p->caplen, sizeof(p->caplen));
		s->digest = fold(s->digest, &p->wire_len, sizeof(p->wire_len));
		s->digest = fold(s->digest, &p->link, sizeof(p->link));
		s->digest = fold(s->digest, p->data, p->caplen);
		s->links_seen |= p->link < 32 ? 1u << p->link : 0;
		s->packets++;
	}
}

static void read_as(const char *path, int in_place, struct seen *s)
{
	struct capture_file_result result;
	struct dsm_err err = { "" };

	memset(s, 0, sizeof(*s));
	s->digest = 0xcbf29ce484222325ull;
	s->rc = capture_read_file_with(path, in_place, on_packets, s, &result, &err);
	snprintf(s->error, sizeof(s->error), "%s", s->rc ? err.msg : "");
	s->link = result.link;
	assert_int_equal(result.packets, s->packets);
}

/* Reads path both ways and asserts the same hand-over; returns the
 * in-place reading. */
static struct seen same_both_ways(const char *path)
{
	struct seen mapped, plain;

	read_as(path, 1, &mapped);
	read_as(path, 0, &plain);
	if (mapped.packets != plain.packets || mapped.digest != plain.digest || mapped.rc != plain.rc ||
	    strcmp(mapped.error, plain.error) != 0)
		fail_msg("%s: in place %llu packets, rc %d, '%s'; libpcap %llu packets, rc %d, '%s'%s",
			 path, (unsigned long long)mapped.packets, mapped.rc, mapped.error,
			 (unsigned long long)plain.packets, plain.rc, plain.error,
			 mapped.digest != plain.digest ? "; the packets differ" : "");
	assert_int_equal(plain.largest_batch <= 1, 1);	/* libpcap's buffer: one at a time */
	return mapped;
}

/* ---- files made here ---- */

struct builder {
	uint8_t bytes[1 << 16];
	size_t len;
	int big_endian;
};

static void put32(struct builder *b, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		b->bytes[b->len++] = (uint8_t)(b->big_endian ? v >> (24 - 8 * i) : v >> (8 * i));
}

static void put16(struct builder *b, uint16_t v)
{
	b->bytes[b->len++] = (uint8_t)(b->big_endian ? v >> 8 : v);
	b->bytes[b->len++] = (uint8_t)(b->big_endian ? v : v >> 8);
}

static void file_header(struct builder *b, uint32_t magic, uint16_t minor, uint32_t snaplen)
{
	put32(b, magic);
	put16(b, 2);
	put16(b, minor);
	put32(b, 0);
	put32(b, 0);
	put32(b, snaplen);
	put32(b, 1);	/* LINKTYPE_ETHERNET */
}

/* A record of caplen bytes (a frame of a pattern) claiming wire_len. */
static void record(struct builder *b, int32_t sec, int32_t frac, uint32_t caplen, uint32_t wire_len)
{
	put32(b, (uint32_t)sec);
	put32(b, (uint32_t)frac);
	put32(b, caplen);
	put32(b, wire_len);
	for (uint32_t i = 0; i < caplen && b->len < sizeof(b->bytes); i++)
		b->bytes[b->len++] = (uint8_t)(i * 7 + caplen);
}

static void some_records(struct builder *b, int count)
{
	for (int i = 0; i < count; i++)
		record(b, 1700000000 + i, i * 1234567 % 999999, 60 + (uint32_t)(i * 37 % 200), 1514);
}

static const char *write_file(const struct builder *b, size_t len)
{
	static char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/dsmflow-test-capture-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, b->bytes, len), (ssize_t)len);
	close(fd);
	return path;
}

static struct seen check_made(const struct builder *b, size_t len)
{
	const char *path = write_file(b, len);
	struct seen s = same_both_ways(path);

	unlink(path);
	return s;
}

static void test_plain_file_is_walked_in_batches(void **state)
{
	struct builder b = { .len = 0 };
	struct seen s;

	(void)state;
	file_header(&b, 0xa1b2c3d4, 4, 65535);
	some_records(&b, 100);
	s = check_made(&b, b.len);
	assert_int_equal(s.packets, 100);
	assert_int_equal(s.rc, 0);
	assert_true(s.largest_batch > 1);	/* it was read in place */
}

static void test_other_byte_order_and_nanoseconds(void **state)
{
	uint32_t magics[] = { 0xa1b2c3d4, 0xa1b23c4d };

	(void)state;
	for (int big = 0; big < 2; big++)
		for (int m = 0; m < 2; m++) {
			struct builder b = { .big_endian = big };
			struct seen s;

			file_header(&b, magics[m], 4, 262144);
			some_records(&b, 50);
			record(&b, -5, -1000, 40, 40);	/* times before 1970: read as libpcap does */
			record(&b, 1, 999999999, 40, 20);	/* wire shorter than captured */
			s = check_made(&b, b.len);
			assert_int_equal(s.packets, 52);
			assert_true(s.largest_batch > 1);
		}
}

static void test_cut_off_anywhere(void **state)
{
	struct builder b = { .len = 0 };
	size_t full;

	(void)state;
	file_header(&b, 0xa1b2c3d4, 4, 65535);
	some_records(&b, 3);
	full = b.len;
	/* every length from a bare file header to the whole file: inside
	 * record headers, inside packets, and on record boundaries */
	for (size_t len = 24; len <= full; len++) {
		struct seen s = check_made(&b, len);

		assert_true(s.packets <= 3);
	}
	assert_int_equal(check_made(&b, full - 1).rc, -1);
	assert_non_null(strstr(check_made(&b, full - 1).error, "packet 3: truncated dump file"));
}

static void test_records_longer_than_allowed(void **state)
{
	struct builder b = { .len = 0 };
	struct seen s;

	(void)state;
	/* longer than the snapshot but sane: libpcap cuts it to the snapshot */
	file_header(&b, 0xa1b2c3d4, 4, 100);
	some_records(&b, 2);
	record(&b, 1700000100, 0, 300, 300);
	some_records(&b, 2);
	s = check_made(&b, b.len);
	assert_int_equal(s.rc, 0);
	assert_int_equal(s.packets, 5);

	/* longer than any link type allows: an error at that packet */
	b.len = 0;
	file_header(&b, 0xa1b2c3d4, 4, 65535);
	some_records(&b, 2);
	record(&b, 1700000100, 0, 0, 0);
	b.len -= 8;
	put32(&b, 300000);
	put32(&b, 300000);
	s = check_made(&b, b.len);
	assert_int_equal(s.rc, -1);
	assert_int_equal(s.packets, 2);
	assert_non_null(strstr(s.error, "packet 3: invalid packet capture length 300000"));

	/* a snapshot length of 0 in the file header */
	b.len = 0;
	file_header(&b, 0xa1b2c3d4, 4, 0);
	some_records(&b, 10);
	s = check_made(&b, b.len);
	assert_int_equal(s.packets, 10);
}

static void test_formats_libpcap_reads_alone(void **state)
{
	struct builder b = { .len = 0 };
	struct seen s;

	(void)state;
	/* version 2.3, whose lengths may be swapped: libpcap sorts that out */
	file_header(&b, 0xa1b2c3d4, 3, 65535);
	some_records(&b, 10);
	record(&b, 1700000100, 0, 1514, 60);
	s = check_made(&b, b.len);
	assert_int_equal(s.packets, 11);
	assert_true(s.largest_batch <= 1);

	/* not a capture at all */
	b.len = 0;
	for (int i = 0; i < 40; i++)
		put32(&b, 0x41424344);
	s = check_made(&b, b.len);
	assert_int_equal(s.rc, -1);
	assert_int_equal(s.packets, 0);
}

/* ---- pcapng files made here ---- */

static void put32_at(struct builder *b, size_t at, uint32_t v)
{
	size_t end = b->len;

	b->len = at;
	put32(b, v);
	b->len = end;
}

/* Opens a block: its type and a length filled in by block_end(). */
static size_t block_begin(struct builder *b, uint32_t type)
{
	size_t start = b->len;

	put32(b, type);
	put32(b, 0);
	return start;
}

/* Pads the block's body to 4 bytes, writes the trailer, fills the length. */
static void block_end(struct builder *b, size_t start)
{
	while (b->len % 4)
		b->bytes[b->len++] = 0;
	put32(b, (uint32_t)(b->len + 4 - start));
	put32_at(b, start + 4, (uint32_t)(b->len - start));
}

static void section_header(struct builder *b)
{
	size_t start = block_begin(b, 0x0A0D0D0A);

	put32(b, 0x1A2B3C4D);
	put16(b, 1);
	put16(b, 0);
	put32(b, 0xffffffff);	/* section length unknown */
	put32(b, 0xffffffff);
	block_end(b, start);
}

static void option(struct builder *b, uint16_t code, uint16_t len, const uint8_t *value)
{
	put16(b, code);
	put16(b, len);
	for (uint16_t i = 0; i < len; i++)
		b->bytes[b->len++] = value[i];
	while (b->len % 4)
		b->bytes[b->len++] = 0;
}

/* An interface: its LINKTYPE_, snapshot, if_tsresol (0: none) and
 * if_tsoffset (0: none). */
static void interface(struct builder *b, uint16_t linktype, uint32_t snaplen, uint8_t tsresol,
		      uint64_t tsoffset)
{
	size_t start = block_begin(b, 1);

	put16(b, linktype);
	put16(b, 0);
	put32(b, snaplen);
	option(b, 2, 3, (const uint8_t *)"eth");	/* if_name: skipped */
	if (tsresol)
		option(b, 9, 1, &tsresol);
	if (tsoffset) {
		put16(b, 14);
		put16(b, 8);
		put32(b, b->big_endian ? (uint32_t)(tsoffset >> 32) : (uint32_t)tsoffset);
		put32(b, b->big_endian ? (uint32_t)tsoffset : (uint32_t)(tsoffset >> 32));
	}
	option(b, 0, 0, NULL);
	block_end(b, start);
}

/* A frame of caplen bytes: Ethernet carrying IPv4 on an Ethernet
 * interface, bare IPv4 on a raw one; a pattern after the headers. */
static void frame(struct builder *b, uint32_t caplen, int raw)
{
	for (uint32_t i = 0; i < caplen; i++) {
		uint8_t byte = (uint8_t)(i * 13 + caplen);

		if (!raw && i == 12)
			byte = 0x08;
		else if (!raw && i == 13)
			byte = 0x00;
		else if (i == (raw ? 0u : 14u))
			byte = 0x45;
		b->bytes[b->len++] = byte;
	}
}

/* An Enhanced Packet Block (an obsolete Packet Block when obsolete). */
static void packet_block(struct builder *b, uint32_t interface, uint64_t ts, uint32_t caplen,
			 uint32_t wire_len, int raw, int obsolete)
{
	size_t start = block_begin(b, obsolete ? 2 : 6);

	if (obsolete) {
		put16(b, (uint16_t)interface);
		put16(b, 0);
	} else {
		put32(b, interface);
	}
	put32(b, (uint32_t)(ts >> 32));
	put32(b, (uint32_t)ts);
	put32(b, caplen);
	put32(b, wire_len);
	frame(b, caplen, raw);
	if (!obsolete)
		option(b, 1, 5, (const uint8_t *)"hello");	/* opt_comment */
	block_end(b, start);
}

static void simple_packet_block(struct builder *b, uint32_t wire_len, uint32_t caplen)
{
	size_t start = block_begin(b, 3);

	put32(b, wire_len);
	frame(b, caplen, 0);
	block_end(b, start);
}

static void unknown_block(struct builder *b, uint32_t type)
{
	size_t start = block_begin(b, type);

	put32(b, 0xdeadbeef);
	block_end(b, start);
}

/* Two sections; interfaces in microseconds, nanoseconds, 2^-20 s with an
 * offset, and whole seconds; every kind of packet block; blocks the reader
 * skips. Returns how many packets it holds. */
static int some_pcapng(struct builder *b)
{
	int packets = 0;

	section_header(b);
	unknown_block(b, 0x80000001);	/* custom, before any interface */
	interface(b, 1, 65535, 0, 0);
	interface(b, 1, 65535, 9, 0);
	interface(b, 1, 65535, 0x80 | 20, 1000);
	interface(b, 1, 65535, 0x80 | 0, 0);	/* 2^0: whole seconds */
	for (uint32_t i = 0; i < 80; i++, packets++)
		packet_block(b, i % 4, 1700000000ull * 1000000 + i * 977, 60 + i * 7 % 200, 1514, 0, 0);
	unknown_block(b, 4);	/* name resolution */
	unknown_block(b, 5);	/* interface statistics */
	for (uint32_t i = 0; i < 3; i++, packets++)
		simple_packet_block(b, 100 + i, 100 + i);
	for (uint32_t i = 0; i < 3; i++, packets++)
		packet_block(b, i % 2, 1700000000ull * 1000000000 + i, 70, 70, 0, 1);
	section_header(b);
	interface(b, 1, 65535, 3, 0);	/* milliseconds */
	for (uint32_t i = 0; i < 40; i++, packets++)
		packet_block(b, 0, 1700000000123ull + i, 64, 64, 0, 0);
	return packets;
}

static void test_pcapng_is_walked_in_batches(void **state)
{
	(void)state;
	for (int big = 0; big < 2; big++) {
		struct builder b = { .big_endian = big };
		int packets = some_pcapng(&b);
		struct seen s = check_made(&b, b.len);

		assert_int_equal(s.rc, 0);
		assert_int_equal(s.packets, packets);
		assert_true(s.largest_batch > 1);	/* it was read in place */
	}
}

static void test_pcapng_cut_off_anywhere(void **state)
{
	struct builder b = { .len = 0 };

	(void)state;
	section_header(&b);
	interface(&b, 1, 65535, 9, 0);
	for (int i = 0; i < 3; i++)
		packet_block(&b, 0, (uint64_t)i, 60, 60, 0, 0);
	simple_packet_block(&b, 80, 80);
	for (size_t len = 0; len <= b.len; len++)
		assert_true(check_made(&b, len).packets <= 4);
	assert_int_equal(check_made(&b, b.len).packets, 4);
}

/* Spoils one field of the file some_pcapng() makes, at the byte offset
 * where a block of the given type (the nth) starts plus field. */
static size_t nth_block(const struct builder *b, uint32_t type, int nth)
{
	size_t at = 0;

	while (at + 8 <= b->len) {
		uint32_t t, len;

		memcpy(&t, b->bytes + at, 4);
		memcpy(&len, b->bytes + at + 4, 4);
		if (b->big_endian) {
			t = __builtin_bswap32(t);
			len = __builtin_bswap32(len);
		}
		if (t == type && nth-- == 0)
			return at;
		at += len;
	}
	fail_msg("no block %u", type);
	return 0;
}

static void test_pcapng_bad_blocks(void **state)
{
	/* (block type, which one, field offset, value): each makes libpcap
	 * stop with a message, or read on, and the walk must agree; beyond:
	 * libpcap refuses the file there, the walk reads on */
	static const struct { uint32_t type; int nth; size_t field; uint32_t value; int beyond; } spoil[] = {
		{ 6, 10, 4, 0x5c, 0 },		/* length not the trailer's */
		{ 6, 10, 4, 0x5e, 0 },		/* length not a multiple of 4 */
		{ 6, 10, 4, 8, 0 },		/* length shorter than a block */
		{ 6, 10, 4, 0x7ffffff0, 0 },	/* length past the file */
		{ 6, 10, 8, 9, 0 },		/* an interface not described */
		{ 6, 10, 20, 70000, 0 },		/* captured more than the snapshot */
		{ 6, 10, 20, 4000, 0 },		/* captured more than the block holds */
		{ 1, 1, 24, 0x00020009, 0 },	/* if_tsresol of length 2 */
		{ 1, 1, 28, 0x14141414, 0 },	/* if_tsresol 10^-20 */
		{ 1, 2, 8, 113, 1 },		/* another link type */
		{ 1, 2, 12, 1000, 1 },		/* another snapshot length */
		{ 0x0A0D0D0A, 1, 8, 0x4D3C2B1A, 0 },	/* a section of the other byte order */
		{ 0x0A0D0D0A, 1, 12, 2, 0 },	/* version 2 */
		{ 3, 0, 8, 1000, 0 },		/* a simple packet longer than its block */
	};

	(void)state;
	for (int big = 0; big < 2; big++)
		for (size_t k = 0; k < sizeof(spoil) / sizeof(spoil[0]); k++) {
			struct builder b = { .big_endian = big };
			struct seen s;

			some_pcapng(&b);
			put32_at(&b, nth_block(&b, spoil[k].type, spoil[k].nth) + spoil[k].field,
				 spoil[k].value);
			if (spoil[k].beyond) {
				const char *path = write_file(&b, b.len);
				struct seen plain;

				read_as(path, 1, &s);
				read_as(path, 0, &plain);
				unlink(path);
				assert_int_equal(s.rc, 0);
				assert_int_equal(s.packets, 126);
				assert_int_equal(plain.rc, -1);
				assert_non_null(strstr(plain.error, "different from"));
				continue;
			}
			s = check_made(&b, b.len);
			assert_true(s.packets < 126);
		}
}

static void test_pcapng_several_link_types(void **state)
{
	struct builder b = { .len = 0 };
	struct capture_file_result result;
	struct dsm_err err = { "" };
	struct seen mapped, plain, filtered;
	const char *path;

	(void)state;
	section_header(&b);
	interface(&b, 1, 65535, 0, 0);		/* Ethernet */
	interface(&b, 101, 262144, 9, 0);	/* raw IP, another snapshot */
	for (uint32_t i = 0; i < 50; i++)
		packet_block(&b, i % 2, 1700000000ull * 1000000 + i, 60, 60, i % 2, 0);
	path = write_file(&b, b.len);
	read_as(path, 1, &mapped);
	read_as(path, 0, &plain);
	assert_int_equal(mapped.rc, 0);
	assert_int_equal(mapped.packets, 50);
	assert_int_equal(mapped.links_seen, 1u << DLT_EN10MB | 1u << DLT_RAW);
	/* libpcap refuses the second interface; what it read agrees */
	assert_int_equal(plain.rc, -1);
	assert_non_null(strstr(plain.error, "different from the type of the first interface"));
	/* a filter is compiled for each link type: "ip" passes both kinds */
	memset(&filtered, 0, sizeof(filtered));
	assert_int_equal(capture_read_file_filtered(path, "ip", on_packets, &filtered, &result, &err), 0);
	assert_int_equal(filtered.packets, 50);
	memset(&filtered, 0, sizeof(filtered));
	assert_int_equal(capture_read_file_filtered(path, "ether host 1:2:3:4:5:6", on_packets, &filtered,
						    &result, &err), -1);
	assert_non_null(strstr(err.msg, "link type"));
	unlink(path);
}

static void check_directory(const char *dir, int *checked, int *in_place)
{
	DIR *d = opendir(dir);
	struct dirent *entry;

	if (!d)
		return;
	while ((entry = readdir(d))) {
		char path[1024];
		size_t n = strlen(entry->d_name);

		if ((n > 5 && strcmp(entry->d_name + n - 5, ".pcap") == 0) ||
		    (n > 7 && strcmp(entry->d_name + n - 7, ".pcapng") == 0) ||
		    (n > 4 && strcmp(entry->d_name + n - 4, ".cap") == 0)) {
			snprintf(path, sizeof(path), "%s/%s", dir, entry->d_name);
			if (same_both_ways(path).largest_batch > 1)
				(*in_place)++;
			(*checked)++;
		}
	}
	closedir(d);
}

static void test_sample_captures(void **state)
{
	int checked = 0, in_place = 0;

	(void)state;
	check_directory(DSM_SOURCE_DIR "/pcaps", &checked, &in_place);
	assert_true(checked >= 3);
	assert_true(in_place >= 3);
}

static void test_third_party_captures(void **state)
{
	int checked = 0, in_place = 0;

	(void)state;
	check_directory(DSM_SHARED_DIR "/pcaps", &checked, &in_place);
	check_directory(DSM_SHARED_DIR "/pcaps/corpus", &checked, &in_place);
	if (!checked) {
		print_message("skipped: no third-party captures in %s/pcaps\n", DSM_SHARED_DIR);
		skip();
	}
	print_message("%d third-party captures read alike both ways, %d of them in place in batches\n",
		      checked, in_place);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_file_is_walked_in_batches),
		cmocka_unit_test(test_other_byte_order_and_nanoseconds),
		cmocka_unit_test(test_cut_off_anywhere),
		cmocka_unit_test(test_records_longer_than_allowed),
		cmocka_unit_test(test_formats_libpcap_reads_alone),
		cmocka_unit_test(test_pcapng_is_walked_in_batches),
		cmocka_unit_test(test_pcapng_cut_off_anywhere),
		cmocka_unit_test(test_pcapng_bad_blocks),
		cmocka_unit_test(test_pcapng_several_link_types),
		cmocka_unit_test(test_sample_captures),
		cmocka_unit_test(test_third_party_captures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
