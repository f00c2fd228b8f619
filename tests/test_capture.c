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

#include "dsmflow/capture.h"

/* What a reader handed over, folded into one digest, and how. */
struct seen {
	uint64_t packets;
	uint64_t digest;
	size_t largest_batch;
	int rc;
	char error[512];
	int link;
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

static void check_directory(const char *dir, int *checked)
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
			same_both_ways(path);
			(*checked)++;
		}
	}
	closedir(d);
}

static void test_sample_captures(void **state)
{
	int checked = 0;

	(void)state;
	check_directory(DSM_SOURCE_DIR "/pcaps", &checked);
	assert_true(checked >= 3);
}

static void test_third_party_captures(void **state)
{
	int checked = 0;

	(void)state;
	check_directory(DSM_SHARED_DIR "/pcaps", &checked);
	if (!checked) {
		print_message("skipped: no third-party captures in %s/pcaps\n", DSM_SHARED_DIR);
		skip();
	}
	print_message("%d third-party captures read alike both ways\n", checked);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_file_is_walked_in_batches),
		cmocka_unit_test(test_other_byte_order_and_nanoseconds),
		cmocka_unit_test(test_cut_off_anywhere),
		cmocka_unit_test(test_records_longer_than_allowed),
		cmocka_unit_test(test_formats_libpcap_reads_alone),
		cmocka_unit_test(test_sample_captures),
		cmocka_unit_test(test_third_party_captures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
