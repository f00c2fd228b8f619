/* floor.c - the floors the benchmark measures dsmflow against, on the same
 * file: reading it and touching the header bytes a classifier needs (an
 * untagged Ethernet/IPv4 frame's EtherType, protocol and ports, which
 * brings the headers' cache lines in), and nothing else.
 *
 *   floor FILE            a bare libpcap read loop (pcap_next_ex): the floor
 *                         the targets are set against
 *   floor --mapped FILE   the same over a classic pcap file mapped into
 *                         memory and walked in place, its pages mapped and
 *                         its bytes prefetched ahead, as dsmflow reads such a
 *                         file: what reading alone costs dsmflow, so the rest
 *                         of its time is classifying
 *
 * Both print packets, bytes and a checksum of the touched bytes, which must
 * agree.
 */
#include <fcntl.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

struct tally {
	unsigned long long packets, bytes;
	unsigned sum;
};

static void touch(struct tally *t, const unsigned char *data, uint32_t caplen, uint32_t len)
{
	if (caplen >= 38)
		t->sum += (unsigned)(data[12] ^ data[13] ^ data[23] ^ data[34] ^ data[35] ^ data[36] ^
				     data[37]);
	t->packets++;
	t->bytes += len;
}

static int libpcap_loop(const char *path, struct tally *t)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *data;
	pcap_t *p = pcap_open_offline(path, errbuf);

	if (!p) {
		fprintf(stderr, "floor: %s\n", errbuf);
		return 1;
	}
	while (pcap_next_ex(p, &h, &data) == 1)
		touch(t, data, h->caplen, h->len);
	pcap_close(p);
	return 0;
}

/* A native-order classic pcap file only: the benchmark's own captures. */
static int mapped_walk(const char *path, struct tally *t)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	const unsigned char *base;
	size_t offset = 24, fetched = 0, populated = 0, size;
	uint32_t magic = 0;

	if (fd < 0 || fstat(fd, &st) != 0 || st.st_size < 24) {
		fprintf(stderr, "floor: %s: cannot open or too short\n", path);
		return 1;
	}
	size = (size_t)st.st_size;
	base = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (base == MAP_FAILED)
		return 1;
	memcpy(&magic, base, 4);
	if (magic != 0xa1b2c3d4 && magic != 0xa1b23c4d) {
		fprintf(stderr, "floor: %s: not a native-order classic pcap file\n", path);
		return 1;
	}
	madvise((void *)base, size, MADV_SEQUENTIAL);
	while (size - offset >= 16) {
		uint32_t caplen, len;

		if (populated < size && offset + (2u << 20) >= populated) {
			size_t ahead = size - populated < (4u << 20) ? size - populated : (4u << 20);

			madvise((void *)(base + populated), ahead, MADV_POPULATE_READ);
			populated += ahead;
		}
		for (; fetched < offset + 16384 && fetched < size; fetched += 64)
			__builtin_prefetch(base + fetched);
		memcpy(&caplen, base + offset + 8, 4);
		memcpy(&len, base + offset + 12, 4);
		if (size - offset - 16 < caplen)
			break;
		touch(t, base + offset + 16, caplen, len);
		offset += 16 + caplen;
	}
	munmap((void *)base, size);
	return 0;
}

int main(int argc, char **argv)
{
	struct tally t = { 0, 0, 0 };
	int rc;

	if (argc == 3 && strcmp(argv[1], "--mapped") == 0)
		rc = mapped_walk(argv[2], &t);
	else if (argc == 2)
		rc = libpcap_loop(argv[1], &t);
	else {
		fprintf(stderr, "usage: floor [--mapped] FILE\n");
		return 2;
	}
	if (rc)
		return rc;
	printf("%llu packets, %llu bytes, checksum %08x\n", t.packets, t.bytes, t.sum);
	return 0;
}
