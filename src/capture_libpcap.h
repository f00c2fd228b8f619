/* capture_libpcap.h - internal to the capture sources that use libpcap
 * (files and live interfaces): a libpcap packet header as a struct packet. */
#ifndef DSMFLOW_CAPTURE_LIBPCAP_H
#define DSMFLOW_CAPTURE_LIBPCAP_H

#include <pcap/pcap.h>

#include "dsmflow/packet.h"

static inline void packet_from_pcap(struct packet *pkt, const struct pcap_pkthdr *h,
				    const u_char *data, int link)
{
	/* a corrupt header gives time 0 rather than a wrapped value, and a
	 * wire length of what was captured if it claims less */
	pkt->ts_us = h->ts.tv_sec < 0 || h->ts.tv_usec < 0
			     ? 0
			     : (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
	pkt->data = data;
	pkt->caplen = h->caplen;
	pkt->wire_len = h->len < h->caplen ? h->caplen : h->len;
	pkt->link = link;
}

#endif
