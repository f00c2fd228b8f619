/* benchgen.c - large, deterministic captures for the benchmarks.
 *
 *   benchgen FILE PACKETS CONCURRENT [MEAN_PACKETS_PER_FLOW [MAX_TRAIN [SEED [WEB_FACTOR]]]]
 *
 * Keeps CONCURRENT flows open at any time, picks one at random and writes a
 * train of 1 to 4 of its packets (as TCP sends a window of segments back to
 * back; in the third-party captures of shared/pcaps 90% of packets follow
 * one of their own flow), and replaces a flow by a new one when it ends,
 * until PACKETS packets are written. MAX_TRAIN (default 4) bounds the
 * trains; 1 picks a random flow for every packet, the worst case for any
 * flow table's cache. The mix is a NAS on a busy LAN: DSM web sessions on
 * tcp/5000-5001 (the shared-port group), SMB, rsync, SSH, FTP control
 * connections announcing passive data connections that follow in the same
 * slot, DNS, mDNS, NTP and Synology Assistant datagrams, and a fifth of
 * non-DSM traffic; a tenth of the flows over IPv6, some 15% VLAN-tagged.
 * Client payloads are what those protocols send first, so that dsmflow's
 * payload inspection works as hard as on real traffic: DSM web UI requests
 * naming Web API calls on tcp/5000, TLS ClientHellos with server names on
 * tcp/5001 and 9443 (half of them post-quantum, 1.8 KB in two segments),
 * HTTP on 8080, SMB, SSH, rsync and RDP openings, and DNS queries and
 * answers on udp/53. Web connections (HTTP and TLS) are kept alive, as
 * browsers and DSM's apps keep them: WEB_FACTOR (default 10) times as many
 * packets as other flows, which puts about as many ClientHellos, HTTP
 * requests and DNS answers per packet in the mix as the third-party captures
 * of shared/pcaps have (bench/run.py reports both); WEB_FACTOR 1 gives the
 * short-flow stress mix, a hello or request every few dozen packets.
 * The same arguments always give the same bytes.
 */
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pktbuild.h"

enum kind { K_DSM_WEB, K_DSM, K_SMB, K_RSYNC, K_SSH, K_FTP, K_FTP_DATA, K_DNS, K_MDNS, K_NTP,
	    K_ASSISTANT, K_HTTP_ALT, K_RDP, K_WIREGUARD, K_HTTPS_ALT, K_KINDS };

static const struct {
	uint16_t port;
	uint8_t proto;	/* 6 or 17 */
	unsigned weight;	/* per 1000 new flows */
} kinds[K_KINDS] = {
	[K_DSM_WEB] = { 5001, 6, 250 }, [K_DSM] = { 5000, 6, 50 }, [K_SMB] = { 445, 6, 150 },
	[K_RSYNC] = { 873, 6, 50 }, [K_SSH] = { 22, 6, 50 }, [K_FTP] = { 21, 6, 20 },
	[K_FTP_DATA] = { 0, 6, 0 }, [K_DNS] = { 53, 17, 60 }, [K_MDNS] = { 5353, 17, 30 },
	[K_NTP] = { 123, 17, 20 }, [K_ASSISTANT] = { 9999, 17, 10 }, [K_HTTP_ALT] = { 8080, 6, 100 },
	[K_RDP] = { 3389, 6, 60 }, [K_WIREGUARD] = { 51820, 17, 80 }, [K_HTTPS_ALT] = { 9443, 6, 70 },
};

struct bflow {
	uint8_t kind, family, proto;
	uint16_t vlan;
	uint8_t client[16], server[16];
	uint16_t cport, sport;
	uint32_t sent, length;	/* packets so far, packets in all */
	uint32_t cseq, sseq;
	uint16_t hello_sent;	/* bytes of a two-segment ClientHello sent */
	uint8_t variant;	/* which of its kind's payloads */
};

/* The first client payload of each kind's flows (several variants). */
#define VARIANTS 4
static struct pkb first_payload[K_KINDS][VARIANTS];
static struct pkb dns_answer[VARIANTS];

static void text_payload(struct pkb *b, const char *text)
{
	pkb_init(b);
	pkb_bytes(b, text, (uint32_t)strlen(text));
}

static void make_payloads(void)
{
	static const char *const dsm[VARIANTS] = {
		"GET /webapi/entry.cgi?api=SYNO.Core.Desktop.JSUIString&version=1&method=getjs&lang=enu "
		"HTTP/1.1\r\nHost: nas:5000\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0\r\n"
		"Accept: */*\r\nCookie: id=abcdefghijklmnop\r\n\r\n",
		"POST /webapi/entry.cgi HTTP/1.1\r\nHost: nas:5000\r\nUser-Agent: Mozilla/5.0 (X11; Linux "
		"x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36\r\nAccept: */*\r\nX-SYNO-TOKEN: "
		"Zm9vYmFyYmF6cXV4\r\nContent-Type: application/x-www-form-urlencoded; charset=UTF-8\r\n"
		"Content-Length: 63\r\n\r\napi=SYNO.FileStation.List&method=list&version=2&folder_path=%2F",
		"GET /webapi/entry.cgi?api=SYNO.Foto.Browse.Item&version=1&method=list&offset=0&limit=100 "
		"HTTP/1.1\r\nHost: nas:5000\r\nUser-Agent: okhttp/4.12.0\r\n\r\n",
		"POST /webapi/entry.cgi HTTP/1.1\r\nHost: nas:5000\r\nContent-Type: "
		"application/x-www-form-urlencoded\r\nContent-Length: 169\r\n\r\napi=SYNO.Entry.Request&"
		"method=request&version=1&compound=%5B%7B%22api%22%3A%22SYNO.Core.System.Utilization%22%7D"
		"%2C%7B%22api%22%3A%22SYNO.Core.CurrentConnection%22%7D%5D",
	};
	static const char *const names[VARIANTS] = { "nas.example.lan", "www.googleapis.com",
						     "graph.microsoft.com", "update.synology.com" };
	static const uint8_t addr[4] = { 10, 200, 0, 7 };

	for (int v = 0; v < VARIANTS; v++) {
		text_payload(&first_payload[K_DSM][v], dsm[v]);
		pkb_init(&first_payload[K_DSM_WEB][v]);
		pkb_tls_client_hello(&first_payload[K_DSM_WEB][v], names[v], v % 2 ? 1216 + 32 : 32, 0);
		pkb_init(&first_payload[K_HTTPS_ALT][v]);
		pkb_tls_client_hello(&first_payload[K_HTTPS_ALT][v], names[3 - v], v % 2 ? 32 : 1216 + 32, 0);
		text_payload(&first_payload[K_HTTP_ALT][v], "GET /index.html HTTP/1.1\r\nHost: intranet\r\n"
							    "Accept: */*\r\n\r\n");
		text_payload(&first_payload[K_SMB][v], "\0\0\0\x54\xfeSMB@\0\0\0\0\0\0\0\0\0\x1f\0");
		text_payload(&first_payload[K_SSH][v], "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n");
		text_payload(&first_payload[K_RSYNC][v], "@RSYNCD: 31.0 sha512 sha256 sha1 md5 md4\n");
		text_payload(&first_payload[K_RDP][v], "\x03\0\0\x13\x0e\xe0\0\0\0\0\0\x01\0\x08\0\x0b\0\0\0");
		pkb_init(&first_payload[K_DNS][v]);
		pkb_dns_message(&first_payload[K_DNS][v], (uint16_t)(0x1000 + v), names[v], NULL, NULL);
		pkb_init(&dns_answer[v]);
		pkb_dns_message(&dns_answer[v], (uint16_t)(0x1000 + v), names[v],
				v % 2 ? "edge.cdn.example.net" : NULL, addr);
	}
}

struct gen {
	pcap_dumper_t *out;
	uint64_t state;		/* xorshift64* */
	uint64_t now_us;
	uint32_t mean_length;
	uint32_t max_train;
	uint32_t web_factor;
	uint64_t flows_started;
};

static uint64_t next_random(struct gen *g)
{
	g->state ^= g->state >> 12;
	g->state ^= g->state << 25;
	g->state ^= g->state >> 27;
	return g->state * 2685821657736338717ull;
}

static uint32_t below(struct gen *g, uint32_t n)
{
	return (uint32_t)(next_random(g) % n);
}

static enum kind pick_kind(struct gen *g)
{
	uint32_t r = below(g, 1000);

	for (int k = 0; k < K_KINDS; k++) {
		if (r < kinds[k].weight)
			return (enum kind)k;
		r -= kinds[k].weight;
	}
	return K_DSM_WEB;
}

/* Address n of a /8 (IPv4) or /64 (IPv6) network numbered net. */
static void address(uint8_t family, uint8_t net, uint32_t n, uint8_t *out)
{
	memset(out, 0, 16);
	if (family == 4) {
		out[0] = 10;
		out[1] = (uint8_t)(net + (n >> 16));
		out[2] = (uint8_t)(n >> 8);
		out[3] = (uint8_t)n;
	} else {
		out[0] = 0xfd;
		out[1] = net;
		out[12] = (uint8_t)(n >> 24);
		out[13] = (uint8_t)(n >> 16);
		out[14] = (uint8_t)(n >> 8);
		out[15] = (uint8_t)n;
	}
}

/* HTTP and TLS: connections kept alive. */
static int is_web(enum kind k)
{
	return k == K_DSM_WEB || k == K_DSM || k == K_HTTP_ALT || k == K_HTTPS_ALT;
}

static void new_flow(struct gen *g, struct bflow *f)
{
	enum kind k = pick_kind(g);
	uint64_t id = g->flows_started++;

	memset(f, 0, sizeof(*f));
	f->kind = (uint8_t)k;
	f->proto = kinds[k].proto;
	f->family = below(g, 10) == 0 ? 6 : 4;
	f->vlan = below(g, 100) < 15 ? (uint16_t)(10 + below(g, 4)) : 0;
	address(f->family, 1, (uint32_t)(id % 4000000) + 2, f->client);	/* up to 4M distinct clients */
	address(f->family, 200, below(g, 8) + 1, f->server);		/* a few NAS and servers */
	f->cport = (uint16_t)(32768 + (id * 7919) % 28000);
	f->sport = kinds[k].port;
	f->length = k == K_FTP ? 9 : 2 + below(g, 2 * g->mean_length);	/* FTP: through the 227 */
	if (is_web(k) && g->mean_length < 100000000 / g->web_factor)
		f->length = 2 + below(g, 2 * g->mean_length * g->web_factor);
	if (f->proto == 17 && g->mean_length < 1000000)
		f->length = 1 + below(g, 6);
	f->cseq = (uint32_t)next_random(g);
	f->sseq = (uint32_t)next_random(g);
	f->variant = (uint8_t)below(g, VARIANTS);
}

/* The port the FTP control connection f announces for passive data. */
static uint16_t ftp_data_port(const struct bflow *f)
{
	return (uint16_t)(40000 + f->cport % 20000);
}

/* The FTP control connection's passive data connection takes over its slot. */
static void ftp_data_flow(struct gen *g, struct bflow *f)
{
	f->kind = K_FTP_DATA;
	f->sport = ftp_data_port(f);
	f->cport++;
	f->sent = 0;
	f->length = 2 + below(g, 2 * g->mean_length);
}

/* Line sent - 3 of the control connection's dialogue. */
static const char *ftp_line(const struct bflow *f, char *buf, size_t size)
{
	static const char *const script[] = { "220 NAS FTP server ready.\r\n", "USER backup\r\n",
					      "331 Password required.\r\n", "PASV\r\n" };
	uint32_t i = f->sent - 3;
	uint16_t port = ftp_data_port(f);

	if (i < 4)
		return script[i];
	snprintf(buf, size, "227 Entering Passive Mode (%u,%u,%u,%u,%u,%u).\r\n", f->server[0],
		 f->server[1], f->server[2], f->server[3], port >> 8, port & 0xff);
	return buf;
}

static void link_and_ip(struct pkb *b, const struct bflow *f, int from_client)
{
	const uint8_t *src = from_client ? f->client : f->server;
	const uint8_t *dst = from_client ? f->server : f->client;
	uint16_t ip_type = f->family == 4 ? 0x0800 : 0x86dd;

	if (f->vlan) {
		pkb_ether(b, 0x8100);
		pkb_vlan(b, f->vlan, ip_type);
	} else {
		pkb_ether(b, ip_type);
	}
	if (f->family == 4)
		pkb_ipv4(b, src, dst, f->proto, (uint16_t)f->sent, 0x4000, 0);
	else
		pkb_ipv6(b, src, dst, f->proto);
}

/* The client's payload in packet sent == 3 (and, for a ClientHello longer
 * than a segment, the next): *len bytes, or NULL for the kind's filler. */
static const uint8_t *client_payload(struct bflow *f, uint32_t *len)
{
	const struct pkb *p = &first_payload[f->kind][f->variant];
	uint32_t n;

	if (!p->len || f->hello_sent >= p->len)
		return NULL;
	n = p->len - f->hello_sent < 1448 ? p->len - f->hello_sent : 1448;
	*len = n;
	f->hello_sent = (uint16_t)(f->hello_sent + n);
	return p->data + f->hello_sent - n;
}

static void udp_packet(struct gen *g, struct bflow *f, struct pkb *b)
{
	static const uint8_t data[1448];
	int from_client = f->sent % 2 == 0;

	link_and_ip(b, f, from_client);
	pkb_udp(b, from_client ? f->cport : f->sport, from_client ? f->sport : f->cport);
	if (f->kind == K_DNS)
		pkb_bytes(b, from_client ? first_payload[K_DNS][f->variant].data : dns_answer[f->variant].data,
			  from_client ? first_payload[K_DNS][f->variant].len : dns_answer[f->variant].len);
	else
		pkb_bytes(b, data, 40 + below(g, 400));
}

/* Builds f's next packet into b. */
static void next_packet(struct gen *g, struct bflow *f, struct pkb *b)
{
	static uint8_t data[1448];
	int from_client;

	pkb_init(b);
	if (f->proto == 17) {
		udp_packet(g, f, b);
	} else {
		uint8_t flags = 0x10;
		uint32_t len = 0;
		char line[96];
		const char *text = NULL;
		const uint8_t *payload = NULL;

		from_client = f->sent == 0 || f->sent == 2 || (f->sent > 2 && f->sent % 3 == 0) ||
			      (f->hello_sent && f->hello_sent < first_payload[f->kind][f->variant].len);
		if (f->sent == 0)
			flags = 0x02;
		else if (f->sent == 1)
			flags = 0x12;
		else if (f->sent + 1 == f->length)
			flags = 0x11;
		else if (f->kind == K_FTP && f->sent >= 3)
			text = ftp_line(f, line, sizeof(line));
		else if (from_client && f->sent >= 3 && (payload = client_payload(f, &len)))
			flags = 0x18;
		else if (!from_client)
			len = 200 + below(g, 1249);
		if (text) {
			from_client = strncmp(text, "USER", 4) == 0 || strncmp(text, "PASV", 4) == 0;
			len = (uint32_t)strlen(text);
			flags = 0x18;
		}
		link_and_ip(b, f, from_client);
		pkb_tcp(b, from_client ? f->cport : f->sport, from_client ? f->sport : f->cport, flags,
			from_client ? f->cseq : f->sseq, from_client ? f->sseq : f->cseq);
		pkb_bytes(b, text ? (const void *)text : payload ? payload : data, len);
		*(from_client ? &f->cseq : &f->sseq) += len + ((flags & 0x03) ? 1 : 0);
	}
	pkb_finish(b);
	f->sent++;
}

static void write_packet(struct gen *g, const struct pkb *b)
{
	struct pcap_pkthdr h;

	g->now_us += 1 + below(g, 3);	/* about 500,000 packets a second */
	h.ts.tv_sec = (time_t)(g->now_us / 1000000);
	h.ts.tv_usec = (suseconds_t)(g->now_us % 1000000);
	h.caplen = h.len = b->len;
	pcap_dump((u_char *)g->out, &h, b->data);
}

int main(int argc, char **argv)
{
	struct gen g = { .state = 0x9e3779b97f4a7c15ull, .now_us = 1767225600ull * 1000000,
			 .mean_length = 20, .max_train = 4, .web_factor = 10 };
	struct bflow *flows, *f = NULL;
	uint32_t train = 0;
	uint64_t packets;
	uint32_t concurrent;
	struct pkb b;
	pcap_t *dead;

	if (argc < 4 || argc > 8) {
		fprintf(stderr, "usage: benchgen FILE PACKETS CONCURRENT [MEAN_PACKETS_PER_FLOW "
				"[MAX_TRAIN [SEED [WEB_FACTOR]]]]\n");
		return 2;
	}
	packets = strtoull(argv[2], NULL, 10);
	concurrent = (uint32_t)strtoul(argv[3], NULL, 10);
	if (argc > 4)
		g.mean_length = (uint32_t)strtoul(argv[4], NULL, 10);
	if (argc > 5)
		g.max_train = (uint32_t)strtoul(argv[5], NULL, 10);
	if (argc > 6)
		g.state ^= strtoull(argv[6], NULL, 10) * 0x100000001b3ull;
	if (argc > 7)
		g.web_factor = (uint32_t)strtoul(argv[7], NULL, 10);
	if (!packets || !concurrent || !g.mean_length || !g.max_train || !g.web_factor) {
		fprintf(stderr, "benchgen: PACKETS, CONCURRENT, MEAN_PACKETS_PER_FLOW, MAX_TRAIN and "
				"WEB_FACTOR must be >= 1\n");
		return 2;
	}
	make_payloads();
	flows = calloc(concurrent, sizeof(*flows));
	dead = pcap_open_dead(DLT_EN10MB, 65535);
	g.out = dead ? pcap_dump_open(dead, argv[1]) : NULL;
	if (!flows || !g.out) {
		fprintf(stderr, "benchgen: %s: %s\n", argv[1], dead ? pcap_geterr(dead) : "out of memory");
		return 1;
	}
	for (uint32_t i = 0; i < concurrent; i++)
		new_flow(&g, &flows[i]);
	/* first every flow's opening packet, so that all are open at once */
	for (uint64_t n = 0; n < packets; n++) {
		if (train == 0) {
			f = &flows[n < concurrent ? n : below(&g, concurrent)];
			train = n < concurrent ? 1 : 1 + below(&g, g.max_train);
		}
		next_packet(&g, f, &b);
		write_packet(&g, &b);
		train--;
		if (f->sent >= f->length) {
			if (f->kind == K_FTP)
				ftp_data_flow(&g, f);
			else
				new_flow(&g, f);
			train = 0;
		}
	}
	pcap_dump_close(g.out);
	pcap_close(dead);
	printf("%s: %llu packets, %u concurrent flows, %llu flows started\n", argv[1],
	       (unsigned long long)packets, concurrent, (unsigned long long)g.flows_started);
	free(flows);
	return 0;
}
