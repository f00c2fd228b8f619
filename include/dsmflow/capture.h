/* capture.h - packet sources: files, live interfaces and an NFQUEUE, all
 * behind one ops table (struct capture_ops). Each hands every packet it
 * reads, once and in order, to a packet_fn. */
#ifndef DSMFLOW_CAPTURE_H
#define DSMFLOW_CAPTURE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

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
	uint64_t dropped_unreadable;	/* NFQUEUE: a message dsmflow could not parse
					 * (accepted with the others, not counted) */
	uint64_t enobufs;		/* NFQUEUE: receive errors ENOBUFS, survived */
};

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

/* ---- the one interface of every packet source ---- */

struct live_options {
	const char *interface;
	const char *filter;	/* BPF expression, or NULL */
	int snaplen;
	int promiscuous;
	int buffer_kib;		/* 0: libpcap's default */
};

struct queue_options {
	uint16_t queue;		/* --queue N, the first of --queue A:B */
	uint32_t copy_range;	/* bytes of each packet copied to dsmflow */
	uint32_t max_len;	/* packets the kernel may hold for dsmflow */
	uint32_t rcvbuf;	/* socket receive buffer, bytes */
};

/* What to open; each source reads its own part. */
struct capture_options {
	const char *path;	/* file: a pcap or pcapng file, "-" standard input */
	int in_place;		/* file: walk a mapping of a pcap or pcapng file (1,
				 * the default) or read every packet through libpcap (0) */
	const char *filter;	/* file: a BPF expression (libpcap's compiler), or NULL;
				 * the packets it rejects are not read */
	struct live_options live;
	struct queue_options queue;
	/* live and queue, read by several capture threads (cli_workers.c):
	 * this source is the worker-th of `workers` (0 of 0 or 1: the only
	 * one). A queue's is queue number queue.queue + worker; a live one's
	 * a member of the sensor's fanout group. */
	unsigned worker, workers;
	int wait_ms;		/* dispatch's longest wait (0: CAPTURE_WAIT_MS) */
};

struct capture_ops;

/* An open source; each implementation's state begins with this. */
struct capture_source {
	const struct capture_ops *ops;
};

/* dispatch's return at the end of the input (files only). */
#define CAPTURE_END (-2)

#define CAPTURE_QUIET_S 5

struct capture_ops {
	const char *name;	/* "file", "live", "queue": the command's name too */
	int needs_net_admin;	/* keeps needing CAP_NET_ADMIN after opening (verdicts) */
	/* NULL with err "WHAT: message" when the source cannot be opened. */
	struct capture_source *(*open)(const struct capture_options *o, struct dsm_err *err);
	/* A descriptor that poll() reports readable when packets wait (-1: a
	 * file, always ready). */
	int (*fd)(const struct capture_source *src);
	/* Hands what is ready to fn in batches, having waited up to
	 * CAPTURE_WAIT_MS for the first packet; returns how many were handed
	 * over (0: none arrived), CAPTURE_END at the end of a file, or -1 with
	 * err filled ("PATH: packet N: message" for files). */
	int (*dispatch)(struct capture_source *src, packet_fn fn, void *ctx, struct dsm_err *err);
	void (*stats)(struct capture_source *src, struct capture_stats *out);
	/* What to tell the operator when nothing at all arrived in the first
	 * CAPTURE_QUIET_S seconds (NULL: a quiet source is normal). */
	void (*print_quiet)(const struct capture_options *o, FILE *out);
	/* One line for the operator at the end of a run: the stats in words. */
	void (*print_health)(const struct capture_stats *s, FILE *out);
	void (*close)(struct capture_source *src);
};

extern const struct capture_ops capture_file_ops;	/* capture_file.c */
extern const struct capture_ops capture_live_ops;	/* capture_pcap.c: libpcap */
extern const struct capture_ops capture_ring_ops;	/* capture_ring.c: an AF_PACKET
							 * TPACKET_V3 ring, with fanout */

/* The live source for interface: the ring on Ethernet and loopback
 * interfaces (batches; several workers), else libpcap (one worker; any
 * link type libpcap takes, "any"). */
const struct capture_ops *capture_live_for(const char *interface);
/* Both live sources' print_health. */
void capture_live_print_health(const struct capture_stats *s, FILE *out);
extern const struct capture_ops capture_queue_ops;	/* capture_nfq.c: NFQUEUE */

/* The walk of a file source (capture_file_ops) releases the pages behind
 * it (they stay in the page cache, out of the process's memory) only below
 * kept_from(ctx), the lowest byte a reader still keeps (NULL: none). */
void capture_file_keep(struct capture_source *src, const uint8_t *(*kept_from)(void *ctx), void *ctx);

/* The bytes of a file source (capture_file_ops) that stay readable where
 * they are until the source is closed, its mapping, or NULL (*size 0):
 * packets handed over from inside them may be kept until then (parallel.c),
 * others only while the packet_fn runs. */
const uint8_t *capture_file_stable(const struct capture_source *src, size_t *size);

/* ---- files, read to the end in one call ---- */

struct capture_file_result {
	uint64_t packets;	/* packets read and handed over */
	int link;		/* the file's DLT_ link type */
};

/* Reads the pcap or pcapng file at path ("-": standard input) through
 * capture_file_ops to its end, calling fn for each packet. Returns 0 at
 * the end of the file, or -1 with err "PATH: message" (cannot open, not a
 * capture) or "PATH: packet N: message" (truncated or corrupt); the
 * packets before the error were handed over. */
int capture_read_file(const char *path, packet_fn fn, void *ctx,
		      struct capture_file_result *result, struct dsm_err *err);
/* The same, with in_place 0: every packet through libpcap's reader, not
 * from a mapping of the file (for tests that compare the two). */
int capture_read_file_with(const char *path, int in_place, packet_fn fn, void *ctx,
			   struct capture_file_result *result, struct dsm_err *err);

/* The same, with only the packets the BPF expression filter passes (as
 * tcpdump -r FILE EXPRESSION); err "PATH: filter 'F': message" when it does
 * not compile. Error messages number packets in the file, rejected ones too. */
int capture_read_file_filtered(const char *path, const char *filter, packet_fn fn, void *ctx,
			       struct capture_file_result *result, struct dsm_err *err);

/* capture_read_file_filtered() for a reader whose fn keeps packets after it
 * returns (parallel.c): once the file is open, stable(ctx, base, size) is
 * told the bytes that stay readable until it closes (capture_file_stable;
 * NULL, 0: none), kept_from(ctx) is asked the lowest of them still kept
 * (NULL: none) before pages behind the walk are released
 * (capture_file_keep), and drain(ctx) is called before it closes. */
int capture_read_file_kept(const char *path, const char *filter, packet_fn fn,
			   void (*stable)(void *ctx, const uint8_t *base, size_t size),
			   const uint8_t *(*kept_from)(void *ctx), void (*drain)(void *ctx), void *ctx,
			   struct capture_file_result *result, struct dsm_err *err);

/* ---- NFQUEUE messages, for the fuzz harness and tests ---- */

/* What one datagram from the queue's socket held. */
struct queue_parse {
	size_t packets;		/* packets filled in, at most the caller's max */
	uint32_t last_id;	/* the last packet message's id (if ids) */
	int ids;		/* packet messages whose id was read */
	int unreadable;		/* messages that could not be parsed */
	uint32_t acked_seq;	/* acknowledgements: the last one's sequence number */
	int acks;		/* how many acknowledgements (errors included) */
	int error;		/* errno of the last error acknowledgement, or 0 */
	uint32_t error_seq;	/* its sequence number */
};

/* Parses the netlink messages in buf[0..len), nothing past it (the last
 * message must be padded then; the socket's reader, whose buffer has
 * room, takes the kernel's unpadded ones) (libmnl and
 * libnetfilter_queue's parsers): packet messages become pkts (link
 * DECODE_LINK_IP, the given time, wire length the IP length), pointing
 * into buf; acknowledgements and errors are noted in out. */
void capture_queue_parse(const void *buf, size_t len, uint64_t ts_us, struct packet *pkts,
			 size_t max, struct queue_parse *out);

#endif
