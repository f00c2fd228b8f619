/* fuzz_capture.c - libFuzzer harness for the file reader: the input is a
 * capture file (in a memfd, a regular file as far as the reader can tell),
 * read in place and through libpcap's reader. Beyond crashes and sanitizer
 * reports, a finding is any difference between the two: the packets handed
 * over (times, lengths, link type, bytes), their count, or the error. A
 * pcapng file whose interfaces differ in link type or snapshot length is
 * read on in place where libpcap refuses it: there the packets libpcap
 * handed over must be the first ones handed over in place. Each packet is
 * also decoded as its link type says. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dsmflow/capture.h"
#include "dsmflow/decode.h"

struct seen {
	uint64_t packets, digest;
	uint64_t prefix, prefix_digest;	/* the digest after the first prefix packets */
};

static void on_packets(void *ctx, const struct packet *pkts, size_t count)
{
	struct seen *s = ctx;

	struct decoded decoded;

	for (size_t i = 0; i < count; i++) {
		const struct packet *p = &pkts[i];
		uint64_t h = s->digest ^ p->ts_us ^ (uint64_t)p->caplen << 32 ^ p->wire_len ^
			     (uint64_t)p->link << 48;

		for (uint32_t b = 0; b < p->caplen; b++)
			h = (h ^ p->data[b]) * 0x100000001b3ull;
		s->digest = h * 31 + 7;
		/* and the decoder, on the file's link type: a capture of any
		 * link type reaches it this way too */
		s->digest = s->digest * 31 +
			    (uint64_t)decode_packet(p->link, p->data, p->caplen, p->wire_len, &decoded);
		if (++s->packets == s->prefix)
			s->prefix_digest = s->digest;
	}
}

static int read_as(const char *path, int in_place, struct seen *s, uint64_t prefix, char *error,
		   size_t error_size)
{
	struct capture_file_result result;
	struct dsm_err err = { "" };
	int rc;

	memset(s, 0, sizeof(*s));
	s->prefix = prefix;
	rc = capture_read_file_with(path, in_place, on_packets, s, &result, &err);
	snprintf(error, error_size, "%s", rc ? err.msg : "");
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64], error_mapped[512], error_plain[512];
	struct seen mapped, plain;
	int fd = memfd_create("capture", 0), rc_mapped, rc_plain;

	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	rc_plain = read_as(path, 0, &plain, 0, error_plain, sizeof(error_plain));
	rc_mapped = read_as(path, 1, &mapped, plain.packets, error_mapped, sizeof(error_mapped));
	close(fd);
	if (rc_plain && strstr(error_plain, "different from the") && mapped.packets >= plain.packets &&
	    (plain.packets == 0 || mapped.prefix_digest == plain.digest))
		return 0;	/* libpcap refused interfaces the walk reads on */
	if (rc_mapped != rc_plain || mapped.packets != plain.packets || mapped.digest != plain.digest ||
	    strcmp(error_mapped, error_plain) != 0) {
		fprintf(stderr, "in place: %d, %llu packets, '%s'; libpcap: %d, %llu packets, '%s'\n",
			rc_mapped, (unsigned long long)mapped.packets, error_mapped, rc_plain,
			(unsigned long long)plain.packets, error_plain);
		abort();
	}
	return 0;
}
