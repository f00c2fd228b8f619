/* packet.h - one captured packet as every capture source hands it over:
 * offline files, live interfaces and the NFQUEUE all end in
 * engine_packet() with this. */
#ifndef DSMFLOW_PACKET_H
#define DSMFLOW_PACKET_H

#include <stdint.h>

struct packet {
	uint64_t ts_us;		/* capture time, microseconds since the epoch */
	const uint8_t *data;	/* the captured bytes, starting at the link header */
	uint32_t caplen;	/* bytes captured */
	uint32_t wire_len;	/* bytes on the wire (what byte counters count) */
	int link;		/* DLT_ value, or DECODE_LINK_IP */
};

#endif
