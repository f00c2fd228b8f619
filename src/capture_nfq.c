/* capture_nfq.c - inline on a Linux NFQUEUE, never altering or dropping.
 *
 * Every packet is accepted, unchanged: dsmflow only looks. The queue is
 * configured so that dsmflow can never become a blackhole: fail-open (a full
 * queue passes packets instead of dropping them), GSO packets unsegmented, only
 * the headers copied, verdicts sent in one batch per read, a long queue and a
 * large socket buffer. ENOBUFS (netlink could not deliver some messages) is
 * counted and the loop goes on: those packets were already passed or will
 * time out of the queue; the rule's --queue-bypass covers dsmflow not running.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>

#include "dsmflow/capture.h"
#include "dsmflow/decode.h"

#define RECV_BUFFER (256 * 1024)	/* several batches of header-only messages */
#define MAX_READS_PER_DISPATCH 64	/* then let the caller serve its timers */

struct queue_capture {
	struct nfq_handle *h;
	struct nfq_q_handle *qh;
	uint16_t queue;
	int fd;
	packet_fn fn;			/* set for the duration of a dispatch */
	void *ctx;
	uint32_t last_id;		/* highest packet id not yet given a verdict */
	int pending;			/* whether last_id awaits a verdict */
	int handled;			/* packets in this dispatch */
	struct capture_stats stats;
	char buf[RECV_BUFFER];
};

/* The IP length of a (possibly truncated) IP packet: what byte counters
 * count in this mode, there being no link layer. */
static uint32_t ip_length(const unsigned char *p, int caplen)
{
	if (caplen >= 4 && p[0] >> 4 == 4)
		return (uint32_t)(p[2] << 8 | p[3]);
	if (caplen >= 6 && p[0] >> 4 == 6)
		return 40u + (uint32_t)(p[4] << 8 | p[5]);
	return caplen > 0 ? (uint32_t)caplen : 0;
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int on_queued_packet(struct nfq_q_handle *qh, struct nfgenmsg *msg, struct nfq_data *nfa,
			    void *data)
{
	struct queue_capture *q = data;
	struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
	unsigned char *payload = NULL;
	int caplen = nfq_get_payload(nfa, &payload);
	struct packet pkt = { .ts_us = now_us(), .link = DECODE_LINK_IP };

	(void)qh;
	(void)msg;
	if (!ph)
		return 0;
	q->last_id = ntohl(ph->packet_id);
	q->pending = 1;
	q->handled++;
	q->stats.received++;
	pkt.data = payload;
	pkt.caplen = caplen > 0 ? (uint32_t)caplen : 0;
	pkt.wire_len = ip_length(payload, caplen);
	if (pkt.wire_len < pkt.caplen)
		pkt.wire_len = pkt.caplen;
	q->fn(q->ctx, &pkt, 1);
	return 0;
}

static int configure(struct queue_capture *q, const struct queue_options *o, struct dsm_err *err)
{
	uint32_t flags = NFQA_CFG_F_FAIL_OPEN | NFQA_CFG_F_GSO;
	struct timeval no_wait = { 0, 0 };

	if (nfq_set_mode(q->qh, NFQNL_COPY_PACKET, o->copy_range) < 0) {
		dsm_err_set(err, "queue %u: cannot set the copy range: %s", o->queue, strerror(errno));
		return -1;
	}
	if (nfq_set_queue_maxlen(q->qh, o->max_len) < 0)
		fprintf(stderr, "dsmflow queue: queue %u: cannot set the queue length: %s\n", o->queue,
			strerror(errno));
	if (nfq_set_queue_flags(q->qh, flags, flags) < 0) {
		dsm_err_set(err, "queue %u: the kernel does not support fail-open: refusing to run "
				 "without it", o->queue);
		return -1;
	}
	nfnl_rcvbufsiz(nfq_nfnlh(q->h), o->rcvbuf);
	setsockopt(q->fd, SOL_SOCKET, SO_RCVTIMEO, &no_wait, sizeof(no_wait));
	return 0;
}

struct queue_capture *capture_queue_open(const struct queue_options *o, struct dsm_err *err)
{
	struct queue_capture *q = calloc(1, sizeof(*q));

	if (!q) {
		dsm_err_set(err, "out of memory");
		return NULL;
	}
	q->queue = o->queue;
	q->h = nfq_open();
	if (!q->h) {
		dsm_err_set(err, "cannot open a netfilter queue socket: %s (root or CAP_NET_ADMIN "
				 "is needed)", strerror(errno));
		goto fail;
	}
	q->qh = nfq_create_queue(q->h, o->queue, on_queued_packet, q);
	if (!q->qh) {
		dsm_err_set(err, "cannot bind to queue %u: %s (is another process bound to it?)",
			    o->queue, strerror(errno));
		goto fail;
	}
	q->fd = nfq_fd(q->h);
	if (configure(q, o, err))
		goto fail;
	return q;
fail:
	capture_queue_close(q);
	return NULL;
}

/* Accepts every packet up to the last one seen, in one message. A verdict
 * the kernel refuses leaves traffic stuck: that ends the run, so that
 * --queue-bypass lets packets through again. */
static int accept_pending(struct queue_capture *q)
{
	if (!q->pending)
		return 0;
	q->pending = 0;
	return nfq_set_verdict_batch(q->qh, q->last_id, NF_ACCEPT) < 0 ? -1 : 0;
}

int capture_queue_dispatch(struct queue_capture *q, packet_fn fn, void *ctx, struct dsm_err *err)
{
	struct pollfd pfd = { .fd = q->fd, .events = POLLIN };

	q->fn = fn;
	q->ctx = ctx;
	q->handled = 0;
	if (poll(&pfd, 1, CAPTURE_WAIT_MS) <= 0)
		return 0;
	for (int reads = 0; reads < MAX_READS_PER_DISPATCH; reads++) {
		ssize_t n = recv(q->fd, q->buf, sizeof(q->buf), MSG_DONTWAIT);

		if (n > 0) {
			nfq_handle_packet(q->h, q->buf, (int)n);
			if (accept_pending(q) == 0)
				continue;
			dsm_err_set(err, "queue %u: the kernel refused the verdict: %s", q->queue,
				    strerror(errno));
			return -1;
		}
		if (n < 0 && errno == ENOBUFS) {
			q->stats.enobufs++;	/* messages were lost; the queue goes on */
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			break;
		dsm_err_set(err, "queue %u: %s", q->queue, n == 0 ? "socket closed" : strerror(errno));
		return -1;
	}
	return q->handled;
}

/* The kernel's own drop counters for the queue, from
 * /proc/net/netfilter/nfnetlink_queue, a line per queue: queue, peer
 * portid, waiting, copy mode, copy range, queue dropped, user dropped,
 * last id, 1. */
static void read_kernel_counters(struct queue_capture *q)
{
	FILE *f = fopen("/proc/net/netfilter/nfnetlink_queue", "r");
	char line[256];

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long field[9];
		char *at = line, *end;
		int n = 0;

		for (; n < 9; n++, at = end) {
			field[n] = strtoull(at, &end, 10);
			if (end == at)
				break;
		}
		if (n == 9 && field[0] == q->queue) {
			q->stats.dropped_queue = field[5];
			q->stats.dropped_user = field[6];
		}
	}
	fclose(f);
}

void capture_queue_stats(struct queue_capture *q, struct capture_stats *out)
{
	read_kernel_counters(q);
	*out = q->stats;
}

void capture_queue_close(struct queue_capture *q)
{
	if (!q)
		return;
	if (q->qh) {
		accept_pending(q);
		nfq_destroy_queue(q->qh);
	}
	if (q->h)
		nfq_close(q->h);
	free(q);
}
