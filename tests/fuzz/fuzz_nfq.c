/* fuzz_nfq.c - libFuzzer harness for the NFQUEUE message parser
 * (capture_queue_parse in capture_nfq.c): the input is one datagram as
 * read from the queue's netlink socket. Beyond crashes and sanitizer
 * reports, a finding is a packet that points outside the datagram, more
 * packets than room, or a wire length below the bytes captured. */
#include <stdint.h>
#include <stdlib.h>

#include "dsmflow/capture.h"

#define ROOM 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct packet pkts[ROOM];
	struct queue_parse out;

	capture_queue_parse(data, size, 1, pkts, ROOM, &out);
	if (out.packets > ROOM || (size_t)out.ids < out.packets)
		abort();
	for (size_t i = 0; i < out.packets; i++) {
		const struct packet *p = &pkts[i];

		if (p->caplen && (p->data < data || p->data + p->caplen > data + size))
			abort();
		if (p->wire_len < p->caplen || p->ts_us != 1)
			abort();
	}
	return 0;
}
