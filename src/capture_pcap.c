/* capture_pcap.c - live capture with libpcap.
 *
 * pcap_create with a short timeout, non-blocking and waited for with
 * poll(), so that the caller gets control back on an idle network; the
 * kernel's 32-bit drop counters widened to 64 bits: capture_live_ops.
 * (Files are read by capture_file.c.)
 */
#include <pcap/pcap.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "capture_libpcap.h"
#include "dsmflow/capture.h"

struct live_capture {
	struct capture_source base;
	pcap_t *p;
	int fd;
	int link;
	struct pcap_stat last;		/* libpcap's 32-bit counters at the last read */
	struct capture_stats total;	/* widened to 64 bits */
};

struct dispatch_ctx {
	packet_fn fn;
	void *ctx;
	int link;
};

static void on_live_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *data)
{
	const struct dispatch_ctx *d = (const struct dispatch_ctx *)user;
	struct packet pkt;

	packet_from_pcap(&pkt, h, data, d->link);
	d->fn(d->ctx, &pkt, 1);	/* libpcap promises data only for this call */
}

static int set_filter(pcap_t *p, const char *filter, struct dsm_err *err)
{
	struct bpf_program program;
	int rc;

	if (pcap_compile(p, &program, filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
		dsm_err_set(err, "filter '%s': %s", filter, pcap_geterr(p));
		return -1;
	}
	rc = pcap_setfilter(p, &program);
	if (rc)
		dsm_err_set(err, "filter '%s': %s", filter, pcap_geterr(p));
	pcap_freecode(&program);
	return rc ? -1 : 0;
}

static struct capture_source *live_open(const struct capture_options *options, struct dsm_err *err)
{
	const struct live_options *o = &options->live;
	char errbuf[PCAP_ERRBUF_SIZE] = "";
	struct live_capture *live = calloc(1, sizeof(*live));
	int rc;

	if (!live || !(live->p = pcap_create(o->interface, errbuf))) {
		dsm_err_set(err, "%s: %s", o->interface, live ? errbuf : "out of memory");
		free(live);
		return NULL;
	}
	pcap_set_snaplen(live->p, o->snaplen);
	pcap_set_promisc(live->p, o->promiscuous);
	pcap_set_timeout(live->p, CAPTURE_WAIT_MS);
	if (o->buffer_kib)
		pcap_set_buffer_size(live->p, o->buffer_kib * 1024);
	rc = pcap_activate(live->p);
	if (rc < 0) {
		dsm_err_set(err, "%s: %s%s", o->interface,
			    rc == PCAP_ERROR ? pcap_geterr(live->p) : pcap_statustostr(rc),
			    rc == PCAP_ERROR_PERM_DENIED
				    ? " (capturing needs CAP_NET_RAW: run as root, or as the unit "
				      "dsmflow-live@IFACE.service, which grants it)"
				    : "");
		goto fail;
	}
	if (o->filter && set_filter(live->p, o->filter, err))
		goto fail;
	/* non-blocking, waited for with poll(): pcap's own timeout need not fire
	 * on an idle interface */
	live->fd = pcap_get_selectable_fd(live->p);
	if (live->fd < 0 || pcap_setnonblock(live->p, 1, errbuf) != 0) {
		dsm_err_set(err, "%s: cannot wait for packets: %s", o->interface, errbuf);
		goto fail;
	}
	live->link = pcap_datalink(live->p);
	live->base.ops = &capture_live_ops;
	return &live->base;
fail:
	pcap_close(live->p);
	free(live);
	return NULL;
}

static int live_dispatch(struct capture_source *src, packet_fn fn, void *ctx, struct dsm_err *err)
{
	struct live_capture *live = (struct live_capture *)src;
	struct dispatch_ctx d = { fn, ctx, live->link };
	struct pollfd pfd = { .fd = live->fd, .events = POLLIN };
	int n;

	if (poll(&pfd, 1, CAPTURE_WAIT_MS) <= 0)
		return 0;	/* nothing yet, or a signal: the caller looks at its flags */
	n = pcap_dispatch(live->p, -1, on_live_packet, (u_char *)&d);

	if (n == PCAP_ERROR) {
		dsm_err_set(err, "%s", pcap_geterr(live->p));
		return -1;
	}
	return n < 0 ? 0 : n;	/* PCAP_ERROR_BREAK: pcap_breakloop() was called */
}

/* Adds the growth of a 32-bit counter since last time, across a wrap. */
static void widen(uint64_t *total, u_int now, u_int *last)
{
	*total += (u_int)(now - *last);
	*last = now;
}

static void live_stats(struct capture_source *src, struct capture_stats *out)
{
	struct live_capture *live = (struct live_capture *)src;
	struct pcap_stat now;

	if (pcap_stats(live->p, &now) == 0) {
		widen(&live->total.received, now.ps_recv, &live->last.ps_recv);
		widen(&live->total.dropped_kernel, now.ps_drop, &live->last.ps_drop);
		widen(&live->total.dropped_interface, now.ps_ifdrop, &live->last.ps_ifdrop);
	}
	*out = live->total;
}

static void live_close(struct capture_source *src)
{
	struct live_capture *live = (struct live_capture *)src;

	if (!live)
		return;
	pcap_close(live->p);
	free(live);
}

static int live_fd(const struct capture_source *src)
{
	return ((const struct live_capture *)src)->fd;
}

void capture_live_print_health(const struct capture_stats *s, FILE *out)
{
	fprintf(out, "dsmflow live: %llu packets received, %llu dropped by the kernel, "
		     "%llu dropped by the interface\n",
		(unsigned long long)s->received, (unsigned long long)s->dropped_kernel,
		(unsigned long long)s->dropped_interface);
}

const struct capture_ops capture_live_ops = {
	.name = "live",
	.open = live_open,
	.fd = live_fd,
	.dispatch = live_dispatch,
	.stats = live_stats,
	.print_health = capture_live_print_health,
	.close = live_close,
};
