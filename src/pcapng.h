/* pcapng.h - internal to capture_file.c: walking a pcapng file's blocks in
 * place, in a mapping of the file. */
#ifndef DSMFLOW_PCAPNG_H
#define DSMFLOW_PCAPNG_H

#include <pcap/pcap.h>
#include <stddef.h>
#include <stdint.h>

/* Interfaces a walk keeps per section; a section with more is read by
 * libpcap. */
#define PCAPNG_MAX_INTERFACES 256

/* One Interface Description Block, as libpcap keeps it (its timestamp
 * scaling to microseconds included, so that times come out identical). */
struct pcapng_interface {
	int link;		/* DLT_ value */
	uint32_t snapshot;	/* the snapshot length as libpcap adjusts it */
	uint64_t tsresol;	/* timestamp units per second */
	uint64_t tsoffset;	/* seconds added to every timestamp */
	uint64_t scale_factor;	/* power-of-10 resolutions: the ratio to microseconds */
	int scale;		/* enum in pcapng.c: how units become microseconds */
};

struct pcapng_walk {
	int swapped;		/* the file's byte order is not ours */
	int started;		/* the first Section Header Block was read */
	int first_link;		/* libpcap's link type and snapshot for the whole */
	uint32_t first_snapshot;	/* file: its first interface's */
	int beyond_libpcap;	/* an interface libpcap refuses (another link type or
				 * snapshot length): libpcap cannot take over */
	uint32_t interfaces;	/* in this section */
	struct pcapng_interface interface[PCAPNG_MAX_INTERFACES];
	const char *stopped;	/* why the walk stopped short of the end, in words */
};

enum pcapng_step {
	PCAPNG_PACKET,		/* *h, *data and *link hold the next packet */
	PCAPNG_END,		/* at the end of the bytes, after a whole block */
	PCAPNG_STOP		/* a block the walk does not take (w->stopped says why):
				 * libpcap reads on from here */
};

/* Reads the blocks at *offset of base[0..size) up to and including the next
 * packet block, moving *offset past them. A packet is handed over exactly
 * as libpcap 1.10 would hand it over; where libpcap would refuse a block or
 * rewrite a packet, the walk stops before it, *offset at that block. */
enum pcapng_step pcapng_next(struct pcapng_walk *w, const uint8_t *base, size_t size, size_t *offset,
			     struct pcap_pkthdr *h, const uint8_t **data, int *link);

/* Whether base[0..size) starts with a Section Header Block. */
int pcapng_magic(const uint8_t *base, size_t size);

#endif
