/* fuzz_packets.h - the packet harnesses' input format: packets as
 * [link | seconds << 4][length][bytes]..., each copied into a buffer of
 * exactly its length (so that AddressSanitizer sees any read past it).
 * tests/fuzz/seeds.py writes seeds in this format. Test code only. */
#ifndef DSMFLOW_FUZZ_PACKETS_H
#define DSMFLOW_FUZZ_PACKETS_H

#include <pcap/dlt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dsmflow/catalog.h"
#include "dsmflow/decode.h"
#include "dsmflow/index.h"
#include "dsmflow/packet.h"
#include "dsmflow/webapi.h"

#define MAX_PACKETS 64

/* every link type the decoder reads (decode_link_supported), in the order
 * of tests/fuzz/seeds.py's LINKS */
static const int links[] = { DLT_EN10MB, DLT_RAW, DLT_LINUX_SLL, DLT_LINUX_SLL2,
			     DLT_NULL, DLT_PPP, DLT_LOOP, DLT_PPP_ETHER,
			     DLT_IPV4, DLT_IPV6, DLT_PPP_SERIAL, 104 /* Cisco HDLC */,
			     DECODE_LINK_IP };
#define LINK_TYPES (sizeof(links) / sizeof(links[0]))

/* Cuts data into at most MAX_PACKETS packets; returns how many. */
static size_t cut(const uint8_t *data, size_t size, struct packet *pkts)
{
	uint64_t ts = 1700000000000000ull;
	size_t n = 0;

	while (size >= 2 && n < MAX_PACKETS) {
		size_t len = data[1] < size - 2 ? data[1] : size - 2;
		uint8_t *copy = malloc(len ? len : 1);

		memcpy(copy, data + 2, len);
		ts += 1000000ull * (data[0] >> 4);	/* up to 15 s apart: timeouts */
		pkts[n++] = (struct packet){ .ts_us = ts, .data = copy, .caplen = (uint32_t)len,
					     .wire_len = (uint32_t)len + (data[0] & 8),
					     .link = links[data[0] % LINK_TYPES] };
		data += 2 + len;
		size -= 2 + len;
	}
	return n;
}

/* The built-in tables the packet harnesses run with, loaded at the first
 * input (aborts when they cannot be: not a finding of the input's). */
static struct catalog *cat;
static struct port_index *idx;
static struct webapi_table *api;

static void load_tables(void)
{
	struct dsm_err err;

	if (cat)
		return;
	cat = catalog_load_embedded(&err);
	api = webapi_load_embedded(&err);
	if (!cat || !api || webapi_bind(api, cat, &err) || !(idx = port_index_build(cat, &err)))
		abort();
}

static void free_packets(struct packet *pkts, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free((void *)pkts[i].data);
}

#endif
