/* floor.c - the floor the benchmark measures dsmflow against: a bare
 * libpcap read loop over the same file. Every packet is read and the header
 * bytes a classifier needs are touched (an untagged Ethernet/IPv4 frame's
 * EtherType, protocol and ports, which brings the headers' cache lines in),
 * and nothing else is done.
 *
 *   floor FILE    prints packets, bytes and a checksum of the touched bytes
 */
#include <pcap/pcap.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *data;
	unsigned long long packets = 0, bytes = 0;
	unsigned sum = 0;
	pcap_t *p;

	if (argc != 2) {
		fprintf(stderr, "usage: floor FILE\n");
		return 2;
	}
	p = pcap_open_offline(argv[1], errbuf);
	if (!p) {
		fprintf(stderr, "floor: %s\n", errbuf);
		return 1;
	}
	while (pcap_next_ex(p, &h, &data) == 1) {
		if (h->caplen >= 38)
			sum += (unsigned)(data[12] ^ data[13] ^ data[23] ^ data[34] ^ data[35] ^ data[36] ^
					  data[37]);
		packets++;
		bytes += h->len;
	}
	pcap_close(p);
	printf("%llu packets, %llu bytes, checksum %08x\n", packets, bytes, sum);
	return 0;
}
