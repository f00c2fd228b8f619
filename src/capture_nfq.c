/* capture_nfq.c - inline on a Linux NFQUEUE, never altering or dropping:
 * capture_queue_ops.
 *
 * Every packet is accepted, unchanged: dsmflow only looks. The queue is
 * configured so that dsmflow can never become a blackhole: fail-open (a full
 * queue passes packets instead of dropping them), GSO packets unsegmented, only
 * the headers copied, a long queue and a large socket buffer. ENOBUFS
 * (netlink could not deliver some messages) is counted and the loop goes on:
 * those packets wait in the queue, and the next verdict (every id up to its
 * own) accepts them; a message whose id cannot be read is covered the same
 * way, or, the queue gone quiet, by a verdict for every id queued. At
 * close, everything still queued is accepted before the socket goes (the
 * kernel drops what an unbound queue holds). The rule's --queue-bypass
 * covers dsmflow not running.
 *
 * libnetfilter_queue's current interface over libmnl: the netlink messages
 * are built and parsed here (nfq_nlmsg_*), the socket is ours. Each message
 * is its own datagram, so recvmmsg() reads up to RECV_BATCH of them per
 * system call; their packets go to the engine as one batch, and one
 * NFQNL_MSG_VERDICT_BATCH accepts them all (every id up to the highest).
 * The configuration is sent as one request of four messages, each
 * acknowledged: a refusal names what was refused. Packets that arrive
 * while the acknowledgements are awaited are kept for the first dispatch.
 */
#include <arpa/inet.h>
#include <stddef.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink_queue.h>

#include "dsmflow/capture.h"
#include "dsmflow/decode.h"

#define RECV_BATCH 64			/* datagrams per recvmmsg() */
#define MESSAGE_OVERHEAD 1024		/* netlink and attribute headers around a copy */
#define MAX_RECVS_PER_DISPATCH 16	/* then let the caller serve its timers */
#define CONFIG_WAIT_MS 2000		/* for the configuration's acknowledgements */

/* The configuration messages' sequence numbers; verdicts use 0. */
#define SEQ_BIND 1u
#define SEQ_PARAMS 2u
#define SEQ_MAXLEN 3u
#define SEQ_FLAGS 4u
#define CONFIG_MESSAGES 4

struct queue_capture {
	struct capture_source base;
	struct mnl_socket *nl;
	int fd;
	uint16_t queue;
	int wait_ms;			/* dispatch's longest wait */
	size_t slot_size;		/* bytes of each receive buffer */
	unsigned char *slots;		/* RECV_BATCH buffers of slot_size */
	struct mmsghdr msgs[RECV_BATCH];
	struct iovec iov[RECV_BATCH];
	int kept;			/* datagrams received while configuring, unread */
	uint32_t last_id;		/* the last packet id read */
	int seen_id;			/* whether one was */
	int owed;			/* a message without a readable id came after it */
	struct capture_stats stats;
	struct packet pkts[RECV_BATCH];
};

/* ---- parsing (no socket: the fuzz harness drives this part) ---- */

/* The IP length of a (possibly truncated) IP packet: what byte counters
 * count in this mode, there being no link layer. */
static uint32_t ip_length(const unsigned char *p, uint32_t caplen)
{
	if (caplen >= 4 && p[0] >> 4 == 4)
		return (uint32_t)(p[2] << 8 | p[3]);
	if (caplen >= 6 && p[0] >> 4 == 6)
		return 40u + (uint32_t)(p[4] << 8 | p[5]);
	return caplen;
}

struct parse_ctx {
	struct queue_parse *out;
	struct packet *pkts;
	size_t max;
	uint64_t ts_us;
};

static int on_packet_message(const struct nlmsghdr *nlh, void *data)
{
	static const unsigned char no_payload[1];	/* copy range 0: data is never NULL */
	struct parse_ctx *p = data;
	struct nlattr *attr[NFQA_MAX + 1] = { NULL };
	const struct nfqnl_msg_packet_hdr *ph;
	struct packet *pkt;
	uint32_t id;

	if (nlh->nlmsg_type != (NFNL_SUBSYS_QUEUE << 8 | NFQNL_MSG_PACKET))
		return MNL_CB_OK;	/* nothing else is sent to a queue's listener */
	if (nfq_nlmsg_parse(nlh, attr) < 0 || !attr[NFQA_PACKET_HDR]) {
		p->out->unreadable++;
		return MNL_CB_OK;
	}
	ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
	id = ntohl(ph->packet_id);
	p->out->last_id = id;	/* ids rise in arrival order (and wrap) */
	p->out->ids++;
	if (p->out->packets >= p->max) {
		p->out->unreadable++;	/* no room: accepted with the others, not counted */
		return MNL_CB_OK;
	}
	pkt = &p->pkts[p->out->packets++];
	memset(pkt, 0, sizeof(*pkt));
	pkt->data = no_payload;
	pkt->ts_us = p->ts_us;
	pkt->link = DECODE_LINK_IP;
	if (attr[NFQA_PAYLOAD]) {
		pkt->data = mnl_attr_get_payload(attr[NFQA_PAYLOAD]);
		pkt->caplen = mnl_attr_get_payload_len(attr[NFQA_PAYLOAD]);
	}
	pkt->wire_len = ip_length(pkt->data, pkt->caplen);
	if (pkt->wire_len < pkt->caplen)
		pkt->wire_len = pkt->caplen;
	return MNL_CB_OK;
}

/* An acknowledgement (error 0) or an error, of a request of ours. */
static int on_ack(const struct nlmsghdr *nlh, void *data)
{
	struct parse_ctx *p = data;
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*e)) {
		p->out->unreadable++;
		return MNL_CB_OK;
	}
	p->out->acks++;
	p->out->acked_seq = nlh->nlmsg_seq;
	if (e->error) {
		/* the kernel's is a negated errno; anything else is no errno */
		p->out->error = e->error < 0 && e->error > -4096 ? -e->error : EPROTO;
		p->out->error_seq = nlh->nlmsg_seq;
	}
	return MNL_CB_OK;
}

/* The length of buf's longest prefix of whole messages, the last one's
 * padding within room bytes past len (the kernel does not pad the last
 * attribute of a packet message, and libmnl parses attributes up to the
 * padded end: the receive buffer has room; a fuzzer's input has none).
 * libmnl's own check also reads a length above INT_MAX as negative and
 * walks off the end: the kernel never sends one, a fuzzer does. */
static size_t whole_messages(const unsigned char *buf, size_t len, size_t room)
{
	size_t at = 0;

	while (len - at >= sizeof(struct nlmsghdr)) {
		uint32_t n;

		memcpy(&n, buf + at + offsetof(struct nlmsghdr, nlmsg_len), sizeof(n));
		if (n < sizeof(struct nlmsghdr) || n > len - at || NLMSG_ALIGN(n) > len - at + room)
			break;
		at = NLMSG_ALIGN(n) < len - at ? at + NLMSG_ALIGN(n) : len;
	}
	return at;
}

/* Drops the packets that reach past len (an attribute claiming the
 * padding): counted unreadable. */
static void keep_inside(const unsigned char *buf, size_t len, struct packet *pkts, struct queue_parse *out)
{
	size_t kept = 0;

	for (size_t i = 0; i < out->packets; i++) {
		if (pkts[i].caplen && pkts[i].data + pkts[i].caplen > buf + len) {
			out->unreadable++;
			continue;
		}
		pkts[kept++] = pkts[i];
	}
	out->packets = kept;
}

static void parse_datagram(const void *buf, size_t len, size_t room, uint64_t ts_us, struct packet *pkts,
			   size_t max, struct queue_parse *out)
{
	static mnl_cb_t control[NLMSG_MIN_TYPE] = { [NLMSG_ERROR] = on_ack };	/* never written */
	struct parse_ctx p = { out, pkts, max, ts_us };
	size_t whole = whole_messages(buf, len < INT32_MAX ? len : INT32_MAX, room);

	memset(out, 0, sizeof(*out));
	/* sequence and port id 0: not checked (the kernel is the only sender) */
	if (whole && mnl_cb_run2(buf, whole, 0, 0, on_packet_message, &p, control, NLMSG_MIN_TYPE) < 0 &&
	    out->packets == 0 && out->acks == 0)
		out->unreadable++;
	else if (whole < len)
		out->unreadable++;	/* a message cut short, or claiming too much */
	keep_inside(buf, len, pkts, out);
}

void capture_queue_parse(const void *buf, size_t len, uint64_t ts_us, struct packet *pkts,
			 size_t max, struct queue_parse *out)
{
	parse_datagram(buf, len, 0, ts_us, pkts, max, out);
}

/* ---- the socket ---- */

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static struct nlmsghdr *put_config(char *buf, uint16_t queue, uint32_t seq)
{
	struct nlmsghdr *nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, queue);

	nlh->nlmsg_flags |= NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	return nlh;
}

/* The four configuration messages, one request. */
static size_t build_config(char *buf, const struct queue_options *o)
{
	uint32_t flags = NFQA_CFG_F_FAIL_OPEN | NFQA_CFG_F_GSO;
	struct nlmsghdr *nlh;
	size_t len = 0;

	nlh = put_config(buf + len, o->queue, SEQ_BIND);
	nfq_nlmsg_cfg_put_cmd(nlh, AF_UNSPEC, NFQNL_CFG_CMD_BIND);
	len += NLMSG_ALIGN(nlh->nlmsg_len);
	nlh = put_config(buf + len, o->queue, SEQ_PARAMS);
	nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, (int)o->copy_range);
	len += NLMSG_ALIGN(nlh->nlmsg_len);
	nlh = put_config(buf + len, o->queue, SEQ_MAXLEN);
	nfq_nlmsg_cfg_put_qmaxlen(nlh, o->max_len);
	len += NLMSG_ALIGN(nlh->nlmsg_len);
	nlh = put_config(buf + len, o->queue, SEQ_FLAGS);
	mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(flags));
	mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(flags));
	len += NLMSG_ALIGN(nlh->nlmsg_len);
	return len;
}

/* What a refusal of request seq means, as the end of a sentence. */
static int describe_refusal(uint16_t queue, uint32_t seq, int error, struct dsm_err *err)
{
	switch (seq) {
	case SEQ_BIND:
		/* the kernel says EPERM both without CAP_NET_ADMIN and when
		 * another socket holds the queue */
		dsm_err_set(err, "cannot bind to queue %u: %s (%s)", queue, strerror(error),
			    error == EPERM && geteuid() != 0
				    ? "root or CAP_NET_ADMIN is needed; or is another process bound to it?"
				    : "is another process bound to it?");
		return -1;
	case SEQ_PARAMS:
		dsm_err_set(err, "queue %u: cannot set the copy range: %s", queue, strerror(error));
		return -1;
	case SEQ_MAXLEN:	/* the kernel's default length still works */
		fprintf(stderr, "dsmflow queue: queue %u: cannot set the queue length: %s\n", queue,
			strerror(error));
		return 0;
	case SEQ_FLAGS:
		dsm_err_set(err, "queue %u: the kernel does not support fail-open (%s): refusing to "
				 "run without it", queue, strerror(error));
		return -1;
	default:
		dsm_err_set(err, "queue %u: the kernel refused a verdict: %s", queue, strerror(error));
		return -1;
	}
}

static void set_receive_buffer(int fd, uint32_t bytes)
{
	int size = bytes > INT32_MAX ? INT32_MAX : (int)bytes;

	/* FORCE passes net.core.rmem_max for root; the plain one is capped by it */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) != 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
}

/* Sends the configuration and waits for its four acknowledgements; a
 * datagram with packets that arrives meanwhile is kept for the first
 * dispatch. */
static int configure(struct queue_capture *q, const struct queue_options *o, struct dsm_err *err)
{
	char request[MNL_SOCKET_BUFFER_SIZE];
	size_t len = build_config(request, o);
	int acks = 0;

	if (mnl_socket_sendto(q->nl, request, len) < 0) {
		dsm_err_set(err, "queue %u: cannot configure: %s", o->queue, strerror(errno));
		return -1;
	}
	while (acks < CONFIG_MESSAGES) {
		struct pollfd pfd = { .fd = q->fd, .events = POLLIN };
		unsigned char *slot = q->slots + (size_t)q->kept * q->slot_size;
		struct queue_parse parsed;
		ssize_t n;

		if (poll(&pfd, 1, CONFIG_WAIT_MS) <= 0) {
			dsm_err_set(err, "queue %u: no answer from the kernel to the configuration",
				    o->queue);
			return -1;
		}
		n = recv(q->fd, slot, q->slot_size, 0);
		if (n < 0 && errno == ENOBUFS)
			continue;
		if (n <= 0) {
			dsm_err_set(err, "queue %u: %s", o->queue, n == 0 ? "socket closed" : strerror(errno));
			return -1;
		}
		parse_datagram(slot, (size_t)n, q->slot_size - (size_t)n, 0, q->pkts, RECV_BATCH, &parsed);
		if (parsed.error && describe_refusal(o->queue, parsed.error_seq, parsed.error, err))
			return -1;
		acks += parsed.acks;
		if (parsed.packets) {	/* keep it: the first dispatch reads it */
			if (q->kept == RECV_BATCH) {
				dsm_err_set(err, "queue %u: %d packets came before the configuration was "
						 "acknowledged; try again", o->queue, RECV_BATCH);
				return -1;
			}
			q->msgs[q->kept].msg_len = (unsigned)n;
			q->kept++;
		}
	}
	return 0;
}

static void queue_close(struct capture_source *src);

static struct capture_source *queue_open(const struct capture_options *options, struct dsm_err *err)
{
	struct queue_options own = options->queue;	/* --queue A:B: the worker-th from A */
	const struct queue_options *o = &own;
	struct queue_capture *q = calloc(1, sizeof(*q));

	own.queue = (uint16_t)(own.queue + options->worker);

	if (!q) {
		dsm_err_set(err, "queue %u: out of memory", o->queue);
		return NULL;
	}
	q->base.ops = &capture_queue_ops;
	q->queue = o->queue;
	q->wait_ms = options->wait_ms ? options->wait_ms : CAPTURE_WAIT_MS;
	q->slot_size = o->copy_range + MESSAGE_OVERHEAD;
	q->slots = malloc(q->slot_size * RECV_BATCH);
	q->nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!q->slots || !q->nl || mnl_socket_bind(q->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		dsm_err_set(err, "cannot open a netfilter queue socket: %s (root or CAP_NET_ADMIN "
				 "is needed)", q->slots ? strerror(errno) : "out of memory");
		goto fail;
	}
	q->fd = mnl_socket_get_fd(q->nl);
	for (int i = 0; i < RECV_BATCH; i++) {
		q->iov[i].iov_base = q->slots + (size_t)i * q->slot_size;
		q->iov[i].iov_len = q->slot_size;
		q->msgs[i].msg_hdr.msg_iov = &q->iov[i];
		q->msgs[i].msg_hdr.msg_iovlen = 1;
	}
	set_receive_buffer(q->fd, o->rcvbuf);
	if (configure(q, o, err))
		goto fail;
	return &q->base;
fail:
	queue_close(&q->base);
	return NULL;
}

/* Accepts every packet up to id, in one message. A verdict the kernel
 * cannot take leaves traffic stuck: that ends the run, so that
 * --queue-bypass lets packets through again. */
static int accept_up_to(struct queue_capture *q, uint32_t id)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = nfq_nlmsg_put(buf, NFQNL_MSG_VERDICT_BATCH, q->queue);

	nfq_nlmsg_verdict_put(nlh, (int)id, NF_ACCEPT);	/* put as a 32-bit big-endian id */
	return mnl_socket_sendto(q->nl, nlh, nlh->nlmsg_len) < 0 ? -1 : 0;
}

/* The highest id a verdict can name that accepts every packet queued now,
 * read or not: the kernel compares ids in serial arithmetic, so the half
 * of the id space after the last id seen (ids start at 1). */
static uint32_t every_queued_id(const struct queue_capture *q)
{
	return q->seen_id ? q->last_id + INT32_MAX : INT32_MAX;
}

/* Parses count received datagrams, hands their packets to fn as one
 * batch, then accepts them; returns the packets, or -1 with err (after
 * the packets before a refusal were handed over and accepted). */
static int handle_datagrams(struct queue_capture *q, int count, packet_fn fn, void *ctx,
			    struct dsm_err *err)
{
	uint64_t ts_us = now_us();
	size_t packets = 0;
	int any = 0, refused = 0, refusal = 0;
	uint32_t refused_seq = 0;

	for (int i = 0; i < count; i++) {
		struct queue_parse parsed;

		if (q->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
			q->stats.dropped_unreadable++;	/* cut: accepted by a later verdict */
			q->owed = 1;
			continue;
		}
		parse_datagram(q->iov[i].iov_base, q->msgs[i].msg_len, q->slot_size - q->msgs[i].msg_len, ts_us,
			       q->pkts + packets, RECV_BATCH - packets, &parsed);
		q->stats.dropped_unreadable += (uint64_t)parsed.unreadable;
		if (parsed.unreadable)
			q->owed = 1;
		/* a verdict naming only packets already accepted (by the wide
		 * verdict for an unreadable message) is refused with ENOENT:
		 * nothing was lost */
		if (parsed.error && !(parsed.error == ENOENT && parsed.error_seq == 0)) {
			refused = parsed.error;
			refused_seq = parsed.error_seq;
			refusal = 1;
		}
		if (parsed.ids) {
			q->last_id = parsed.last_id;
			q->seen_id = 1;
			q->owed = 0;	/* the verdict below covers what came before */
			any = 1;
		}
		packets += parsed.packets;
	}
	q->stats.received += packets;
	if (packets)
		fn(ctx, q->pkts, packets);
	if (any && accept_up_to(q, q->last_id)) {
		dsm_err_set(err, "queue %u: the kernel refused the verdict: %s", q->queue, strerror(errno));
		return -1;
	}
	if (refusal && describe_refusal(q->queue, refused_seq, refused, err))
		return -1;
	return (int)packets;
}

static int queue_dispatch(struct capture_source *src, packet_fn fn, void *ctx, struct dsm_err *err)
{
	struct queue_capture *q = (struct queue_capture *)src;
	struct pollfd pfd = { .fd = q->fd, .events = POLLIN };
	int handled = 0;

	if (q->kept) {	/* packets that came with the configuration's answers */
		int kept = q->kept;

		q->kept = 0;
		return handle_datagrams(q, kept, fn, ctx, err);
	}
	if (poll(&pfd, 1, q->wait_ms) <= 0) {
		/* quiet: a packet whose message could not be read still waits
		 * for a verdict no later message gave it */
		if (q->owed && accept_up_to(q, every_queued_id(q)) == 0)
			q->owed = 0;
		return 0;	/* nothing yet, or a signal: the caller looks at its flags */
	}
	for (int recvs = 0; recvs < MAX_RECVS_PER_DISPATCH; recvs++) {
		int n = recvmmsg(q->fd, q->msgs, RECV_BATCH, MSG_DONTWAIT, NULL), rc;

		if (n > 0) {
			if ((rc = handle_datagrams(q, n, fn, ctx, err)) < 0)
				return -1;
			handled += rc;
			if (n < RECV_BATCH)
				break;	/* the socket is drained */
			continue;
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
	return handled;
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

static void queue_stats(struct capture_source *src, struct capture_stats *out)
{
	struct queue_capture *q = (struct queue_capture *)src;

	read_kernel_counters(q);
	*out = q->stats;
}

static int queue_fd(const struct capture_source *src)
{
	return ((const struct queue_capture *)src)->fd;
}

static void queue_print_health(const struct capture_stats *s, FILE *out)
{
	fprintf(out, "dsmflow queue: %llu packets queued and accepted; %llu dropped by a full "
		     "queue (passed by fail-open), %llu undeliverable, %llu unreadable, %llu ENOBUFS\n",
		(unsigned long long)s->received, (unsigned long long)s->dropped_queue,
		(unsigned long long)s->dropped_user, (unsigned long long)s->dropped_unreadable,
		(unsigned long long)s->enobufs);
}

static void queue_close(struct capture_source *src)
{
	struct queue_capture *q = (struct queue_capture *)src;

	if (!q)
		return;
	/* closing the socket unbinds the queue, and the kernel drops what is
	 * still queued: accept all of it first (the caller drained what it
	 * could, counting it, by dispatching until nothing came) */
	if (q->nl) {
		accept_up_to(q, every_queued_id(q));
		mnl_socket_close(q->nl);	/* the kernel unbinds the queue with the socket */
	}
	free(q->slots);
	free(q);
}

static void queue_print_quiet(const struct capture_options *o, FILE *out)
{
	if (o->workers > 1) {
		unsigned first = o->queue.queue, last = first + o->workers - 1;

		fprintf(out, "dsmflow queue: no packet has reached queues %u:%u in %d s: does an "
			     "iptables rule send traffic to them? (iptables -I FORWARD -j NFQUEUE "
			     "--queue-balance %u:%u --queue-bypass)\n",
			first, last, CAPTURE_QUIET_S, first, last);
		return;
	}
	fprintf(out, "dsmflow queue: no packet has reached queue %u in %d s: does an iptables rule "
		     "send traffic to it? (iptables -I FORWARD -j NFQUEUE --queue-num %u "
		     "--queue-bypass)\n",
		(unsigned)o->queue.queue, CAPTURE_QUIET_S, (unsigned)o->queue.queue);
}

const struct capture_ops capture_queue_ops = {
	.name = "queue",
	.needs_net_admin = 1,
	.open = queue_open,
	.fd = queue_fd,
	.dispatch = queue_dispatch,
	.stats = queue_stats,
	.print_quiet = queue_print_quiet,
	.print_health = queue_print_health,
	.close = queue_close,
};
