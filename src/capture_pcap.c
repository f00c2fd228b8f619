/* capture_pcap.c - reading pcap and pcapng files with libpcap.
 *
 * libpcap already knows both file formats, stdin and the link-type
 * mapping; this file adds only error messages that name the file and the
 * packet, so a truncated capture says where it ends.
 */
#include <pcap/pcap.h>
#include <string.h>

#include "dsmflow/capture.h"

static uint64_t timestamp_us(const struct pcap_pkthdr *h)
{
	if (h->ts.tv_sec < 0 || h->ts.tv_usec < 0)
		return 0;	/* a corrupt header: time 0 rather than a wrapped value */
	return (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
}

int capture_read_file(const char *path, packet_fn fn, void *ctx,
		      struct capture_file_result *result, struct dsm_err *err)
{
	char errbuf[PCAP_ERRBUF_SIZE] = "";
	struct pcap_pkthdr *header;
	const u_char *data;
	pcap_t *p;
	int rc;

	memset(result, 0, sizeof(*result));
	p = pcap_open_offline(path, errbuf);
	if (!p) {
		dsm_err_set(err, "%s: %s", strcmp(path, "-") ? path : "(stdin)", errbuf);
		return -1;
	}
	result->link = pcap_datalink(p);
	while ((rc = pcap_next_ex(p, &header, &data)) == 1) {
		struct packet pkt = {
			.ts_us = timestamp_us(header), .data = data, .caplen = header->caplen,
			.wire_len = header->len, .link = result->link,
		};

		if (pkt.wire_len < pkt.caplen)
			pkt.wire_len = pkt.caplen;	/* a corrupt header; count what is there */
		result->packets++;
		fn(ctx, &pkt);
	}
	if (rc != PCAP_ERROR_BREAK) {
		dsm_err_set(err, "%s: packet %llu: %s", strcmp(path, "-") ? path : "(stdin)",
			    (unsigned long long)result->packets + 1, pcap_geterr(p));
		pcap_close(p);
		return -1;
	}
	pcap_close(p);
	return 0;
}
