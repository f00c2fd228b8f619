/* capture_ring.c - live capture from an AF_PACKET socket's TPACKET_V3 ring:
 * capture_ring_ops, what `dsmflow live` uses on Ethernet and loopback
 * interfaces (capture_live_for).
 *
 * The kernel fills blocks of RING_BLOCK_BYTES with packets and hands a
 * block over when it is full or RING_RETIRE_MS old; dispatch hands the
 * packets of each block to the engine in batches of up to RING_BATCH
 * pointers into the block (the prefetching path, as when reading files),
 * then gives the block back. Nothing is copied.
 *
 * The BPF filter is libpcap's compiler's (pcap_open_dead + pcap_compile)
 * attached with SO_ATTACH_FILTER; even without a filter a program cuts
 * each packet to the snap length. With --workers N, N sockets are joined
 * in one fanout group whose classic BPF program (PACKET_FANOUT_CBPF,
 * pair_hash) hashes the address pair: both directions of a flow, every
 * fragment of a datagram, and FTP's and TFTP's data connections with
 * their control connection meet on one worker, which counts them as one
 * engine does. (The kernel's PACKET_FANOUT_HASH hashes the ports too: its
 * non-first fragments would meet another worker than their flow, and
 * PACKET_FANOUT_FLAG_DEFRAG, which reassembles them first, would hand
 * over one packet where the wire carried several.) Drops are each
 * socket's PACKET_STATISTICS.
 *
 * As libpcap does: packets a loopback interface sends are seen once (as
 * they arrive: the socket's filter drops the outgoing copy, so the kernel
 * does not count it either), and a VLAN tag the kernel took off (TP_STATUS_VLAN_VALID)
 * still counts 4 bytes on the wire; the tag itself is not put back into
 * the bytes, so a filter on VLANs does not see it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <net/if_arp.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dsmflow/capture.h"

#define RING_BLOCK_BYTES (1u << 20)
#define RING_DEFAULT_KIB (32u << 10)	/* per socket, without -B */
#define RING_MIN_BLOCKS 4
#define RING_FRAME_BYTES 2048u		/* the kernel's accounting unit; frames vary in V3 */
#define RING_RETIRE_MS 64		/* a block not full is handed over after this */
#define RING_BATCH 256			/* packets per engine call */

struct ring_capture {
	struct capture_source base;
	int fd;
	const char *interface;		/* for messages */
	int wait_ms;
	uint8_t *map;
	size_t map_bytes;
	unsigned blocks, next_block;
	struct capture_stats total;
	struct packet batch[RING_BATCH];
};

/* Whether the ring takes the interface (Ethernet or loopback: frames the
 * decoder reads as DLT_EN10MB), and whether it is a loopback; others go
 * through libpcap (capture_live_ops). */
static int ring_takes(const char *interface, int *loopback)
{
	struct ifreq ifr;
	int fd, type = -1;

	*loopback = 0;
	if (strlen(interface) >= sizeof(ifr.ifr_name) ||
	    (fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return 0;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, interface, strlen(interface));
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) == 0)
		type = ifr.ifr_hwaddr.sa_family;
	close(fd);
	*loopback = type == ARPHRD_LOOPBACK;
	return type == ARPHRD_ETHER || type == ARPHRD_LOOPBACK;
}

const struct capture_ops *capture_live_for(const char *interface)
{
	int loopback;

	return ring_takes(interface, &loopback) ? &capture_ring_ops : &capture_live_ops;
}

/* Attaches program[0..len) to fd. */
static int attach(int fd, const struct sock_filter *program, size_t len, struct dsm_err *err)
{
	struct sock_fprog attached = { .len = (unsigned short)len, .filter = (struct sock_filter *)program };

	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &attached, sizeof(attached)) == 0)
		return 0;
	dsm_err_set(err, "cannot attach the filter: %s", strerror(errno));
	return -1;
}

/* Takes nothing: a worker's socket until it has joined its group. */
static const struct sock_filter drop_all[] = { BPF_STMT(BPF_RET | BPF_K, 0) };

/* On a loopback interface, what it sends: seen again as it arrives. */
static const struct sock_filter drop_outgoing[] = {
	BPF_STMT(BPF_LD | BPF_B | BPF_ABS, (uint32_t)(SKF_AD_OFF + SKF_AD_PKTTYPE)),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PACKET_OUTGOING, 0, 1),
	BPF_STMT(BPF_RET | BPF_K, 0),
};
#define DROP_OUTGOING_LEN (sizeof(drop_outgoing) / sizeof(drop_outgoing[0]))

/* Compiles filter ("": every packet) for Ethernet, cut to snaplen, and
 * attaches it to fd, after drop_outgoing on a loopback interface (so that
 * the kernel neither hands over nor counts a packet twice). */
static int attach_filter(int fd, const char *filter, int snaplen, int loopback, struct dsm_err *err)
{
	pcap_t *dead = pcap_open_dead(DLT_EN10MB, snaplen);
	struct sock_filter *joined = NULL;
	struct bpf_program program;
	size_t skip = loopback ? DROP_OUTGOING_LEN : 0;
	int rc = -1;

	if (!dead) {
		dsm_err_set(err, "out of memory compiling the filter");
		return -1;
	}
	if (pcap_compile(dead, &program, filter ? filter : "", 1, PCAP_NETMASK_UNKNOWN) != 0) {
		dsm_err_set(err, "filter '%s': %s", filter ? filter : "", pcap_geterr(dead));
		pcap_close(dead);
		return -1;
	}
	/* (the same layout; jumps are relative: a prefix moves none) */
	if (!(joined = calloc(program.bf_len + skip, sizeof(*joined)))) {
		dsm_err_set(err, "out of memory compiling the filter");
	} else {
		memcpy(joined, drop_outgoing, skip * sizeof(*joined));
		memcpy(joined + skip, program.bf_insns, program.bf_len * sizeof(*joined));
		rc = attach(fd, joined, program.bf_len + skip, err);
	}
	free(joined);
	pcap_freecode(&program);
	pcap_close(dead);
	return rc;
}

/* The ring: -B KiB (or RING_DEFAULT_KIB) in blocks of RING_BLOCK_BYTES. */
static int make_ring(struct ring_capture *r, int buffer_kib, struct dsm_err *err)
{
	int version = TPACKET_V3;
	size_t kib = buffer_kib ? (size_t)buffer_kib : RING_DEFAULT_KIB;
	unsigned blocks = (unsigned)(kib / (RING_BLOCK_BYTES >> 10));
	struct tpacket_req3 req;

	if (blocks < RING_MIN_BLOCKS)
		blocks = RING_MIN_BLOCKS;
	memset(&req, 0, sizeof(req));
	req.tp_block_size = RING_BLOCK_BYTES;
	req.tp_block_nr = blocks;
	req.tp_frame_size = RING_FRAME_BYTES;
	req.tp_frame_nr = blocks * (RING_BLOCK_BYTES / RING_FRAME_BYTES);
	req.tp_retire_blk_tov = RING_RETIRE_MS;
	if (setsockopt(r->fd, SOL_PACKET, PACKET_VERSION, &version, sizeof(version)) != 0 ||
	    setsockopt(r->fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) != 0) {
		dsm_err_set(err, "cannot make a TPACKET_V3 ring of %u MiB: %s", blocks, strerror(errno));
		return -1;
	}
	r->map_bytes = (size_t)blocks * RING_BLOCK_BYTES;
	r->map = mmap(NULL, r->map_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
	if (r->map == MAP_FAILED) {
		r->map = NULL;
		dsm_err_set(err, "cannot map the capture ring: %s", strerror(errno));
		return -1;
	}
	r->blocks = blocks;
	return 0;
}

static int bind_to(struct ring_capture *r, const struct live_options *o, int ifindex,
		   struct dsm_err *err)
{
	struct sockaddr_ll addr;

	memset(&addr, 0, sizeof(addr));
	addr.sll_family = AF_PACKET;
	addr.sll_protocol = htons(ETH_P_ALL);
	addr.sll_ifindex = ifindex;
	if (bind(r->fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
		dsm_err_set(err, "%s: cannot bind: %s", o->interface, strerror(errno));
		return -1;
	}
	if (o->promiscuous) {
		struct packet_mreq mr = { .mr_ifindex = ifindex, .mr_type = PACKET_MR_PROMISC };

		if (setsockopt(r->fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) != 0) {
			dsm_err_set(err, "%s: cannot set promiscuous mode: %s", o->interface, strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* The fanout group's choice of worker: a hash of the packet's address
 * pair that both directions share (the sum of the source's and the
 * destination's 32-bit words, multiplied to mix its bits), as NFQUEUE's
 * --queue-balance and `read --threads` choose; the kernel takes it modulo
 * the workers. Loads are relative to the network header, wherever a VLAN
 * tag was; a packet that is neither IPv4 nor IPv6, or too short (the
 * program's loads fail: 0), goes to the first worker. */
#define LD_NET(off) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)(SKF_NET_OFF + (off)))
#define ADD_WORD(off) LD_NET(off), BPF_STMT(BPF_ALU | BPF_ADD | BPF_X, 0), BPF_STMT(BPF_MISC | BPF_TAX, 0)
static const struct sock_filter pair_hash[] = {
	BPF_STMT(BPF_LD | BPF_H | BPF_ABS, (uint32_t)(SKF_AD_OFF + SKF_AD_PROTOCOL)),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IP, 0, 6),		/* else to IPv6's test */
	/* IPv4: source + destination */
	BPF_STMT(BPF_LDX | BPF_IMM, 0),
	ADD_WORD(12),
	LD_NET(16),
	BPF_JUMP(BPF_JMP | BPF_JA, 24, 0, 0),		/* to the mixing */
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IPV6, 0, 27),	/* else to the end */
	/* IPv6: the eight words of both addresses */
	BPF_STMT(BPF_LDX | BPF_IMM, 0),
	ADD_WORD(8), ADD_WORD(12), ADD_WORD(16), ADD_WORD(20),
	ADD_WORD(24), ADD_WORD(28), ADD_WORD(32),
	LD_NET(36),
	/* the mixing: A + X, times the golden ratio, its high half */
	BPF_STMT(BPF_ALU | BPF_ADD | BPF_X, 0),
	BPF_STMT(BPF_ALU | BPF_MUL | BPF_K, 0x9e3779b1u),
	BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 16),
	BPF_STMT(BPF_RET | BPF_A, 0),
	BPF_STMT(BPF_RET | BPF_K, 0),			/* not IP */
};
/* (the jumps above count instructions: 8 before IPv6's test, 24 more to
 * the mixing, 4 of it) */
_Static_assert(sizeof(pair_hash) / sizeof(pair_hash[0]) == 37, "pair_hash's jumps");

/* The fanout group of this process's workers: the kernel picks an id no
 * other group has as the first worker joins, and the others join that one
 * (a process runs one sensor). */
static int fanout_group = -1;

/* Worker `worker` of `workers` joins the process's fanout group, whose
 * program is pair_hash. */
static int join_fanout(struct ring_capture *r, const struct capture_options *options,
		       struct dsm_err *err)
{
	int arg = PACKET_FANOUT_CBPF << 16;
	struct sock_fprog program = {
		.len = sizeof(pair_hash) / sizeof(pair_hash[0]),
		.filter = (struct sock_filter *)pair_hash,
	};
	socklen_t len = sizeof(arg);

	if (options->workers < 2)
		return 0;
	if (options->worker == 0)
		arg |= PACKET_FANOUT_FLAG_UNIQUEID << 16;
	else
		arg |= fanout_group;
	if (setsockopt(r->fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof(arg)) != 0 ||
	    (options->worker == 0 && getsockopt(r->fd, SOL_PACKET, PACKET_FANOUT, &arg, &len) != 0) ||
	    setsockopt(r->fd, SOL_PACKET, PACKET_FANOUT_DATA, &program, sizeof(program)) != 0) {
		dsm_err_set(err, "%s: worker %u cannot join the fanout group: %s",
			    options->live.interface, options->worker, strerror(errno));
		return -1;
	}
	if (options->worker == 0)
		fanout_group = arg & 0xffff;
	return 0;
}

static void ring_close(struct capture_source *src);

static struct capture_source *ring_open(const struct capture_options *options, struct dsm_err *err)
{
	const struct live_options *o = &options->live;
	struct ring_capture *r = calloc(1, sizeof(*r));
	int loopback, ifindex = (int)if_nametoindex(o->interface), in_group = options->workers > 1;

	if (!r) {
		dsm_err_set(err, "%s: out of memory", o->interface);
		return NULL;
	}
	r->base.ops = &capture_ring_ops;
	r->wait_ms = options->wait_ms ? options->wait_ms : CAPTURE_WAIT_MS;
	/* protocol 0: nothing arrives before the ring and the filter are in place */
	r->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (r->fd < 0) {
		dsm_err_set(err, "%s: %s%s", o->interface, strerror(errno),
			    errno == EPERM ? " (capturing needs CAP_NET_RAW: run as root, or as the "
					     "unit dsmflow-live@IFACE.service, which grants it)"
					   : "");
		goto fail;
	}
	if (!ifindex || !ring_takes(o->interface, &loopback)) {
		dsm_err_set(err, "%s: %s", o->interface,
			    !ifindex ? "No such device exists" : "not an Ethernet or loopback interface");
		goto fail;
	}
	r->interface = o->interface;
	/* the filter before the socket is bound; but a worker takes nothing
	 * until it has joined its group: before, it would see the packets the
	 * group already hands the others */
	if (make_ring(r, o->buffer_kib, err) ||
	    (in_group ? attach(r->fd, drop_all, 1, err)
		      : attach_filter(r->fd, o->filter, o->snaplen, loopback, err)) ||
	    bind_to(r, o, ifindex, err) || join_fanout(r, options, err) ||
	    (in_group && attach_filter(r->fd, o->filter, o->snaplen, loopback, err)))
		goto fail;
	return &r->base;
fail:
	ring_close(&r->base);
	return NULL;
}

/* Hands the packets of block b to fn, RING_BATCH at a time. */
static int hand_block(struct ring_capture *r, const struct tpacket_block_desc *b, packet_fn fn,
		      void *ctx)
{
	const uint8_t *block = (const uint8_t *)b;
	uint32_t count = b->hdr.bh1.num_pkts, offset = b->hdr.bh1.offset_to_first_pkt;
	size_t batched = 0;
	int handed = 0;

	for (uint32_t i = 0; i < count && offset < RING_BLOCK_BYTES - sizeof(struct tpacket3_hdr); i++) {
		const struct tpacket3_hdr *h = (const struct tpacket3_hdr *)(block + offset);
		struct packet *pkt = &r->batch[batched];

		if (h->tp_mac + (size_t)h->tp_snaplen <= RING_BLOCK_BYTES - offset) {
			pkt->ts_us = (uint64_t)h->tp_sec * 1000000u + h->tp_nsec / 1000u;
			pkt->data = (const uint8_t *)h + h->tp_mac;
			/* the kernel wrote it on another core: its lines are
			 * fetched together while the batch is gathered, not one
			 * by one when the engine reads them */
			__builtin_prefetch(pkt->data);
			__builtin_prefetch(pkt->data + 64);
			pkt->caplen = h->tp_snaplen;
			pkt->wire_len = h->tp_len + ((h->tp_status & TP_STATUS_VLAN_VALID) ? 4u : 0u);
			pkt->link = DLT_EN10MB;
			if (++batched == RING_BATCH) {
				fn(ctx, r->batch, batched);
				handed += (int)batched;
				batched = 0;
			}
		}
		if (!h->tp_next_offset)
			break;
		offset += h->tp_next_offset;
	}
	if (batched)
		fn(ctx, r->batch, batched);
	return handed + (int)batched;
}

static struct tpacket_block_desc *next_block(const struct ring_capture *r)
{
	return (struct tpacket_block_desc *)(r->map + (size_t)r->next_block * RING_BLOCK_BYTES);
}

static int block_ready(const struct tpacket_block_desc *b)
{
	return (__atomic_load_n(&b->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER) != 0;
}

/* The socket's error as the end of the capture (the interface went down
 * or away): -1 with err. */
static int socket_error(const struct ring_capture *r, struct dsm_err *err)
{
	int error = 0;
	socklen_t len = sizeof(error);

	getsockopt(r->fd, SOL_SOCKET, SO_ERROR, &error, &len);
	dsm_err_set(err, "%s: %s", r->interface,
		    error == ENETDOWN ? "the interface went down"
		    : error	      ? strerror(error)
				      : "the capture socket failed");
	return -1;
}

/* Waits up to wait_ms for a block, then hands over every block ready (at
 * most the whole ring), giving each back to the kernel after. */
static int ring_dispatch(struct capture_source *src, packet_fn fn, void *ctx, struct dsm_err *err)
{
	struct ring_capture *r = (struct ring_capture *)src;
	struct pollfd pfd = { .fd = r->fd, .events = POLLIN };
	int handed = 0;

	if (!block_ready(next_block(r)) && poll(&pfd, 1, r->wait_ms) <= 0)
		return 0;	/* nothing yet, or a signal: the caller looks at its flags */
	if ((pfd.revents & (POLLERR | POLLHUP | POLLNVAL)) && !block_ready(next_block(r)))
		return socket_error(r, err);
	for (unsigned i = 0; i < r->blocks && block_ready(next_block(r)); i++) {
		struct tpacket_block_desc *b = next_block(r);

		handed += hand_block(r, b, fn, ctx);
		__atomic_store_n(&b->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
		r->next_block = (r->next_block + 1) % r->blocks;
	}
	return handed;
}

static void ring_stats(struct capture_source *src, struct capture_stats *out)
{
	struct ring_capture *r = (struct ring_capture *)src;
	struct tpacket_stats_v3 now;
	socklen_t len = sizeof(now);

	/* the kernel's counters restart at each read: added up here */
	if (getsockopt(r->fd, SOL_PACKET, PACKET_STATISTICS, &now, &len) == 0) {
		r->total.received += now.tp_packets;
		r->total.dropped_kernel += now.tp_drops;
	}
	*out = r->total;
}

static void ring_close(struct capture_source *src)
{
	struct ring_capture *r = (struct ring_capture *)src;

	if (!r)
		return;
	if (r->map)
		munmap(r->map, r->map_bytes);
	if (r->fd >= 0)
		close(r->fd);
	free(r);
}

static int ring_fd(const struct capture_source *src)
{
	return ((const struct ring_capture *)src)->fd;
}

const struct capture_ops capture_ring_ops = {
	.name = "live",
	.open = ring_open,
	.fd = ring_fd,
	.dispatch = ring_dispatch,
	.stats = ring_stats,
	.print_health = capture_live_print_health,
	.close = ring_close,
};
