/* capture.h - packet sources. Each hands every packet it reads, once, to
 * a packet_fn; the offline reader here, live and NFQUEUE sources later. */
#ifndef DSMFLOW_CAPTURE_H
#define DSMFLOW_CAPTURE_H

#include <stdint.h>

#include "dsmflow/err.h"
#include "dsmflow/packet.h"

typedef void (*packet_fn)(void *ctx, const struct packet *pkt);

/* Capture health: what the source saw and lost before dsmflow got it. */
struct capture_stats {
	uint64_t received;		/* packets the source delivered (live, queue) */
	uint64_t dropped_kernel;	/* libpcap: no room in the capture buffer */
	uint64_t dropped_interface;	/* libpcap: dropped by the interface or driver */
	uint64_t dropped_queue;		/* NFQUEUE: queue full (passed by fail-open) */
	uint64_t dropped_user;		/* NFQUEUE: netlink could not deliver to dsmflow */
	uint64_t enobufs;		/* NFQUEUE: receive errors ENOBUFS, survived */
};

struct capture_file_result {
	uint64_t packets;	/* packets read and handed over */
	int link;		/* the file's DLT_ link type */
};

/* Reads the pcap or pcapng file at path ("-": standard input), calling fn
 * for each packet. Returns 0 at the end of the file, or -1 with err
 * "PATH: message" (cannot open, not a capture) or "PATH: packet N: message"
 * (truncated or corrupt); the packets before the error were handed over. */
int capture_read_file(const char *path, packet_fn fn, void *ctx,
		      struct capture_file_result *result, struct dsm_err *err);

#endif
