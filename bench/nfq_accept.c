/* nfq_accept.c - the yardstick for `dsmflow queue`: the least an NFQUEUE
 * consumer can do. Accepts every packet of queue N, one verdict per packet,
 * with the same queue settings dsmflow uses (fail-open, GSO, 512 bytes
 * copied, 64 MiB socket buffer) and looks at nothing.
 *
 *   nfq_accept N     runs until SIGINT or SIGTERM, then prints the count
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>

static volatile sig_atomic_t stop;
static unsigned long long accepted;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int accept_packet(struct nfq_q_handle *qh, struct nfgenmsg *msg, struct nfq_data *nfa,
			 void *data)
{
	struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);

	(void)msg;
	(void)data;
	accepted++;
	return ph ? nfq_set_verdict(qh, ntohl(ph->packet_id), NF_ACCEPT, 0, NULL) : 0;
}

int main(int argc, char **argv)
{
	static char buf[256 * 1024];
	struct sigaction sa = { .sa_handler = on_signal };
	struct nfq_handle *h;
	struct nfq_q_handle *qh;
	uint32_t flags = NFQA_CFG_F_FAIL_OPEN | NFQA_CFG_F_GSO;

	if (argc != 2) {
		fprintf(stderr, "usage: nfq_accept QUEUE\n");
		return 2;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	h = nfq_open();
	qh = h ? nfq_create_queue(h, (uint16_t)atoi(argv[1]), accept_packet, NULL) : NULL;
	if (!qh || nfq_set_mode(qh, NFQNL_COPY_PACKET, 512) < 0 ||
	    nfq_set_queue_flags(qh, flags, flags) < 0) {
		fprintf(stderr, "nfq_accept: cannot set up queue %s\n", argv[1]);
		return 1;
	}
	nfq_set_queue_maxlen(qh, 65536);
	nfnl_rcvbufsiz(nfq_nfnlh(h), 64u << 20);
	while (!stop) {
		ssize_t n = recv(nfq_fd(h), buf, sizeof(buf), 0);

		if (n > 0)
			nfq_handle_packet(h, buf, (int)n);
		else if (n < 0 && errno != ENOBUFS && errno != EINTR)
			break;
	}
	nfq_destroy_queue(qh);
	nfq_close(h);
	printf("%llu packets accepted\n", accepted);
	return 0;
}
