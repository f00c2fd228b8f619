/* capture.h - packet sources: files, live interfaces and an NFQUEUE. Each
 * hands every packet it reads, once and in order, to a packet_fn. */
#ifndef DSMFLOW_CAPTURE_H
#define DSMFLOW_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

#include "dsmflow/err.h"
#include "dsmflow/packet.h"

/* pkts[0..count) and the bytes they point at stay valid until fn returns:
 * a batch lets the engine prefetch one packet's flow while it counts another. */
typedef void (*packet_fn)(void *ctx, const struct packet *pkts, size_t count);

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
/* The same, with in_place 0: every packet through libpcap's reader, not
 * from a mapping of the file (for tests that compare the two). */
int capture_read_file_with(const char *path, int in_place, packet_fn fn, void *ctx,
			   struct capture_file_result *result, struct dsm_err *err);

/* Bytes captured of each packet by default: every header dsmflow decodes
 * (link, tags, IPv6 extension chains, TCP options) and the payload its
 * evidence comes from: FTP's announcements, a 1.8 KB post-quantum TLS
 * ClientHello in two full segments or coalesced by GRO into one frame, and
 * DSM's form bodies after ~600 bytes of headers; never a whole GRO
 * super-packet. (bench/sensor_rates.py measures the cost against 512.) */
#define CAPTURE_DEFAULT_SNAPLEN 4096

/* How long a dispatch waits for packets before returning, so that the
 * caller's timers, signals and metrics are served on an idle network. */
#define CAPTURE_WAIT_MS 100

/* ---- live capture with libpcap ---- */

struct live_options {
	const char *interface;
	const char *filter;	/* BPF expression, or NULL */
	int snaplen;
	int promiscuous;
	int buffer_kib;		/* 0: libpcap's default */
};

struct live_capture;

struct live_capture *capture_live_open(const struct live_options *o, struct dsm_err *err);
/* Hands the packets that arrive within about CAPTURE_WAIT_MS to fn;
 * returns how many, or -1 with err filled. */
int capture_live_dispatch(struct live_capture *live, packet_fn fn, void *ctx, struct dsm_err *err);
void capture_live_stats(struct live_capture *live, struct capture_stats *out);
void capture_live_close(struct live_capture *live);

/* ---- inline on an NFQUEUE ---- */

struct queue_options {
	uint16_t queue;		/* --queue N */
	uint32_t copy_range;	/* bytes of each packet copied to dsmflow */
	uint32_t max_len;	/* packets the kernel may hold for dsmflow */
	uint32_t rcvbuf;	/* socket receive buffer, bytes */
};

struct queue_capture;

struct queue_capture *capture_queue_open(const struct queue_options *o, struct dsm_err *err);
/* Reads what arrives within about CAPTURE_WAIT_MS, hands each packet to fn
 * and accepts it; returns how many, or -1 with err filled. */
int capture_queue_dispatch(struct queue_capture *q, packet_fn fn, void *ctx, struct dsm_err *err);
void capture_queue_stats(struct queue_capture *q, struct capture_stats *out);
void capture_queue_close(struct queue_capture *q);

#endif
