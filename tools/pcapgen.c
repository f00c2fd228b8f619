/* pcapgen.c - writes the project's own sample captures (pcaps/), made from
 * scratch and deterministic: the same bytes on every run.
 *
 *   pcapgen samples DIR     the sample captures the README's demo reads
 *
 * The traffic is what a small office with a Synology NAS produces: DSM web
 * sessions, SMB, FTP in passive and active mode, TFTP, backups to another
 * NAS and out to an ESXi host, discovery broadcasts, name and time lookups,
 * some non-DSM traffic, VLANs, IPv6, fragments, and a few broken frames.
 * TCP sessions have real handshakes, acknowledgements and closes, and every
 * length and checksum is right, so tshark dissects them as it would a
 * capture from a real network.
 */
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pktbuild.h"

#define MSS 1448
#define SNAPLEN 65535

enum { F_FIN = 0x01, F_SYN = 0x02, F_RST = 0x04, F_PSH = 0x08, F_ACK = 0x10 };

struct gen {
	pcap_t *dead;
	pcap_dumper_t *out;
	uint64_t now_us;
	int link;
	unsigned packets;
	uint32_t snap;		/* when not 0, frames are captured up to this many bytes */
	const struct host *synology;	/* frames from this host carry a Synology MAC (or NULL) */
};

struct host {
	int family;		/* 4 or 6 */
	uint8_t addr[16];
};

/* One conversation: who, where, and the state needed to continue it. */
struct conv {
	struct host client, server;
	uint16_t cport, sport;
	uint32_t cseq, sseq;
	uint16_t vlan[2];	/* outer, inner; 0 for none */
	uint16_t ip_id;
	const struct host *tunnel_src, *tunnel_dst;	/* 6in4 endpoints, or NULL */
};

/* A conversation from client c port cp to server s port sp, starting afresh. */
#define CONV(c, s, cp, sp) (&(struct conv){ .client = (c), .server = (s), .cport = (cp), .sport = (sp) })

static struct host v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	struct host h = { .family = 4, .addr = { a, b, c, d } };

	return h;
}

static struct host v6(uint16_t net, uint16_t id)
{
	struct host h = { .family = 6, .addr = { 0xfd, 0x00, (uint8_t)(net >> 8), (uint8_t)net } };

	h.addr[14] = (uint8_t)(id >> 8);
	h.addr[15] = (uint8_t)id;
	return h;
}

/* ---- writing frames ---- */

static int gen_open(struct gen *g, const char *path, int link, uint64_t start_us)
{
	memset(g, 0, sizeof(*g));
	g->link = link;
	g->now_us = start_us;
	g->dead = pcap_open_dead(link, SNAPLEN);
	g->out = g->dead ? pcap_dump_open(g->dead, path) : NULL;
	if (!g->out) {
		fprintf(stderr, "pcapgen: %s: %s\n", path, g->dead ? pcap_geterr(g->dead) : "no memory");
		return -1;
	}
	return 0;
}

static void gen_close(struct gen *g, const char *path)
{
	pcap_dump_close(g->out);
	pcap_close(g->dead);
	printf("%s: %u packets\n", path, g->packets);
}

/* Writes b as captured at the current time; caplen may be shorter than the
 * frame (a snapshot length cut) when cut is nonzero. */
static void emit_cut(struct gen *g, const struct pkb *b, uint32_t cut, uint32_t gap_us)
{
	struct pcap_pkthdr h;

	g->now_us += gap_us;
	h.ts.tv_sec = (time_t)(g->now_us / 1000000);
	h.ts.tv_usec = (suseconds_t)(g->now_us % 1000000);
	h.len = b->len;
	h.caplen = cut && cut < b->len ? cut : b->len;
	pcap_dump((u_char *)g->out, &h, b->data);
	g->packets++;
}

static void emit(struct gen *g, const struct pkb *b, uint32_t gap_us)
{
	emit_cut(g, b, g->snap, gap_us);
}

/* Link header and any VLAN tags for a frame carrying an IP packet of family. */
static void link_header(struct gen *g, struct pkb *b, const struct conv *c, int family)
{
	uint16_t ip_type = family == 4 ? 0x0800 : 0x86dd;

	if (g->link == DLT_LINUX_SLL) {
		static const uint8_t sll[14] = { 0, 0, 0, 1, 0, 6, 0x00, 0x11, 0x32, 1, 2, 3 };

		pkb_bytes(b, sll, sizeof(sll));
		pkb_be16(b, ip_type);
		return;
	}
	if (c->vlan[0] && c->vlan[1]) {
		pkb_ether(b, 0x88a8);
		pkb_vlan(b, c->vlan[0], 0x8100);
		pkb_vlan(b, c->vlan[1], ip_type);
	} else if (c->vlan[0]) {
		pkb_ether(b, 0x8100);
		pkb_vlan(b, c->vlan[0], ip_type);
	} else {
		pkb_ether(b, ip_type);
	}
}

/* Link and IP headers of a packet from src to dst (through the 6in4 tunnel
 * when the conversation has one). */
static void ip_header(struct gen *g, struct pkb *b, struct conv *c, const struct host *src,
		      const struct host *dst, uint8_t proto, uint16_t frag)
{
	if (c->tunnel_src) {
		link_header(g, b, c, 4);
		pkb_ipv4(b, c->tunnel_src->addr, c->tunnel_dst->addr, 41, c->ip_id++, 0, 0);
	} else if (g->synology && g->link == DLT_EN10MB && !c->vlan[0] &&
		   memcmp(g->synology->addr, src->addr, sizeof(src->addr)) == 0) {
		static const uint8_t macs[12] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
						  0x90, 0x09, 0xd0, 0x12, 0x34, 0x56 };	/* from a Synology */

		pkb_bytes(b, macs, sizeof(macs));
		pkb_be16(b, src->family == 4 ? 0x0800 : 0x86dd);
	} else {
		link_header(g, b, c, src->family);
	}
	if (src->family == 4)
		pkb_ipv4(b, src->addr, dst->addr, proto, c->ip_id++, frag, 0);
	else
		pkb_ipv6(b, src->addr, dst->addr, proto);
}

/* ---- TCP ---- */

static void tcp_segment(struct gen *g, struct conv *c, int from_client, uint8_t flags,
			const void *data, uint32_t len, uint32_t gap_us)
{
	struct pkb b;
	uint32_t *seq = from_client ? &c->cseq : &c->sseq;
	uint32_t ack = from_client ? c->sseq : c->cseq;

	pkb_init(&b);
	ip_header(g, &b, c, from_client ? &c->client : &c->server,
		  from_client ? &c->server : &c->client, 6, 0);
	pkb_tcp(&b, from_client ? c->cport : c->sport, from_client ? c->sport : c->cport, flags,
		*seq, flags & F_ACK ? ack : 0);
	pkb_bytes(&b, data, len);
	pkb_finish(&b);
	emit(g, &b, gap_us);
	*seq += len + ((flags & (F_SYN | F_FIN)) ? 1 : 0);
}

static void tcp_open(struct gen *g, struct conv *c)
{
	c->cseq = 1000u + c->cport * 7u;
	c->sseq = 5000u + c->sport * 13u;
	tcp_segment(g, c, 1, F_SYN, NULL, 0, 20000);
	tcp_segment(g, c, 0, F_SYN | F_ACK, NULL, 0, 150);
	tcp_segment(g, c, 1, F_ACK, NULL, 0, 120);
}

/* Sends len bytes in MSS-sized segments, the receiver acknowledging every
 * second one and the last. */
static void tcp_send(struct gen *g, struct conv *c, int from_client, const void *data, uint32_t len)
{
	static uint8_t filler[MSS];
	uint32_t sent = 0;
	int segments = 0;

	if (!filler[1])
		for (int i = 0; i < MSS; i++)
			filler[i] = (uint8_t)(i * 31 + 7);
	while (sent < len) {
		uint32_t n = len - sent < MSS ? len - sent : MSS;
		const uint8_t *chunk = data ? (const uint8_t *)data + sent : filler;

		tcp_segment(g, c, from_client, F_ACK | F_PSH, chunk, n, 80);
		sent += n;
		if (++segments % 2 == 0 || sent == len)
			tcp_segment(g, c, !from_client, F_ACK, NULL, 0, 40);
	}
}

static void tcp_text(struct gen *g, struct conv *c, int from_client, const char *text)
{
	tcp_send(g, c, from_client, text, (uint32_t)strlen(text));
}

static void tcp_close(struct gen *g, struct conv *c)
{
	tcp_segment(g, c, 1, F_FIN | F_ACK, NULL, 0, 1000);
	tcp_segment(g, c, 0, F_FIN | F_ACK, NULL, 0, 100);
	tcp_segment(g, c, 1, F_ACK, NULL, 0, 100);
}

/* A whole request-response session. */
static void tcp_session(struct gen *g, struct conv *c, const char *request, uint32_t response_bytes)
{
	tcp_open(g, c);
	tcp_text(g, c, 1, request);
	tcp_send(g, c, 0, NULL, response_bytes);
	tcp_close(g, c);
}

/* ---- UDP and others ---- */

static void udp_send(struct gen *g, struct conv *c, int from_client, const void *data, uint32_t len)
{
	struct pkb b;

	pkb_init(&b);
	ip_header(g, &b, c, from_client ? &c->client : &c->server,
		  from_client ? &c->server : &c->client, 17, 0);
	pkb_udp(&b, from_client ? c->cport : c->sport, from_client ? c->sport : c->cport);
	pkb_bytes(&b, data, len);
	pkb_finish(&b);
	emit(g, &b, 3000);
}

/* A UDP datagram whose payload is a string literal, without its NUL. */
#define UDP_TEXT(g, c, from_client, text) udp_send(g, c, from_client, text, sizeof(text) - 1)

static void ping(struct gen *g, struct conv *c)
{
	for (int reply = 0; reply < 2; reply++) {
		struct pkb b;
		const struct host *src = reply ? &c->server : &c->client;
		const struct host *dst = reply ? &c->client : &c->server;
		int is6 = src->family == 6;

		pkb_init(&b);
		ip_header(g, &b, c, src, dst, is6 ? 58 : 1, 0);
		pkb_icmp(&b, is6 ? (reply ? 129 : 128) : (reply ? 0 : 8), 0, is6);
		pkb_bytes(&b, "abcdefghijklmnopqrstuvwabcdefghi", 32);
		pkb_finish(&b);
		emit(g, &b, reply ? 400 : 200000);
	}
}

static void arp(struct gen *g, const struct host *asker, const struct host *target)
{
	struct pkb b;

	pkb_init(&b);
	pkb_ether(&b, 0x0806);
	pkb_be32(&b, 0x00010800);
	pkb_be32(&b, 0x06040001);
	pkb_bytes(&b, "\x02\x00\x00\x00\x00\x01", 6);
	pkb_bytes(&b, asker->addr, 4);
	pkb_bytes(&b, "\0\0\0\0\0\0", 6);
	pkb_bytes(&b, target->addr, 4);
	pkb_bytes(&b, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 18);	/* padding to 60 bytes */
	emit(g, &b, 5000);
}

/* ---- the office capture ---- */

static void ftp_session(struct gen *g, struct conv *ctl, struct conv *data_pasv,
			struct conv *data_epsv, struct conv *data_active)
{
	tcp_open(g, ctl);
	tcp_text(g, ctl, 0, "220 NAS FTP server ready.\r\n");
	tcp_text(g, ctl, 1, "USER alice\r\n");
	tcp_text(g, ctl, 0, "331 Password required for alice.\r\n");
	tcp_text(g, ctl, 1, "PASS secret\r\n");
	tcp_text(g, ctl, 0, "230 User alice logged in.\r\n");
	tcp_text(g, ctl, 1, "PASV\r\n");
	tcp_text(g, ctl, 0, "227 Entering Passive Mode (192,168,10,5,195,80)\r\n");	/* 50000 */
	tcp_open(g, data_pasv);
	tcp_text(g, ctl, 1, "RETR photos.zip\r\n");
	tcp_text(g, ctl, 0, "150 Opening BINARY mode data connection for photos.zip.\r\n");
	tcp_send(g, data_pasv, 0, NULL, 120000);
	tcp_close(g, data_pasv);
	tcp_text(g, ctl, 0, "226 Transfer complete.\r\n");
	tcp_text(g, ctl, 1, "EPSV\r\n");
	tcp_text(g, ctl, 0, "229 Entering Extended Passive Mode (|||50001|)\r\n");
	tcp_open(g, data_epsv);
	tcp_text(g, ctl, 1, "STOR notes.txt\r\n");
	tcp_send(g, data_epsv, 1, NULL, 9000);
	tcp_close(g, data_epsv);
	tcp_text(g, ctl, 0, "226 Transfer complete.\r\n");
	tcp_text(g, ctl, 1, "PORT 192,168,10,23,200,10\r\n");	/* 51210 */
	tcp_text(g, ctl, 0, "200 PORT command successful.\r\n");
	tcp_text(g, ctl, 1, "LIST\r\n");
	tcp_open(g, data_active);	/* the NAS connects from port 20 */
	tcp_send(g, data_active, 1, NULL, 2500);
	tcp_close(g, data_active);
	tcp_text(g, ctl, 0, "226 Transfer complete.\r\n");
	tcp_text(g, ctl, 1, "QUIT\r\n");
	tcp_text(g, ctl, 0, "221 Goodbye.\r\n");
	tcp_close(g, ctl);
}

static void tftp_transfer(struct gen *g, struct conv *request, struct conv *transfer)
{
	static const char rrq[] = "\0\1firmware.bin\0octet";
	uint8_t block[516];

	udp_send(g, request, 1, rrq, sizeof(rrq));
	memset(block, 0x5a, sizeof(block));
	for (int n = 1; n <= 8; n++) {
		uint8_t ack[4] = { 0, 4, 0, (uint8_t)n };
		uint32_t len = n < 8 ? 516 : 4 + 100;

		block[0] = 0;
		block[1] = 3;
		block[2] = 0;
		block[3] = (uint8_t)n;
		udp_send(g, transfer, 0, block, len);
		udp_send(g, transfer, 1, ack, 4);
	}
}

static int write_office(const char *path)
{
	struct host nas = v4(192, 168, 10, 5), nas2 = v4(192, 168, 10, 6);
	struct host router = v4(192, 168, 10, 1), esxi = v4(192, 168, 10, 50);
	struct host pc21 = v4(192, 168, 10, 21), pc22 = v4(192, 168, 10, 22);
	struct host pc23 = v4(192, 168, 10, 23), pc24 = v4(192, 168, 10, 24);
	struct host rdp = v4(192, 168, 10, 30), bcast = v4(255, 255, 255, 255);
	struct host mdns = v4(224, 0, 0, 251);
	static const uint8_t ntp_request[48] = { 0x23 }, ntp_reply[48] = { 0x24, 0x02, 0, 0xe9 };
	struct gen g;

	if (gen_open(&g, path, DLT_EN10MB, 1767225600ull * 1000000))	/* 2026-01-01 */
		return -1;
	arp(&g, &pc21, &nas);
	tcp_session(&g, CONV(pc21, nas, 50321, 5001),
		    "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 DSM login", 48000);
	tcp_session(&g, CONV(pc21, nas, 50322, 5001), "\x16\x03\x01 File Station", 210000);
	tcp_session(&g, CONV(pc22, nas, 50400, 445), "\xfeSMB negotiate", 260000);
	ftp_session(&g, CONV(pc23, nas, 50510, 21), CONV(pc23, nas, 50511, 50000),
		    CONV(pc23, nas, 50512, 50001), CONV(nas, pc23, 20, 51210));
	UDP_TEXT(&g, CONV(pc24, bcast, 9999, 9999), 1, "Synology Assistant query");
	UDP_TEXT(&g, CONV(nas, pc24, 9999, 9999), 1, "DS920+ 192.168.10.5 DSM 7.2");
	tcp_session(&g, CONV(nas2, nas, 40022, 873), "@RSYNCD: 31.0\n", 90000);
	tcp_session(&g, CONV(nas, esxi, 41000, 443), "\x16\x03\x01 vSphere API", 30000);
	tcp_session(&g, CONV(nas, esxi, 41001, 902), "NFC handshake", 150000);
	udp_send(&g, CONV(nas, router, 123, 123), 1, ntp_request, sizeof(ntp_request));
	udp_send(&g, CONV(nas, router, 123, 123), 0, ntp_reply, sizeof(ntp_reply));
	UDP_TEXT(&g, CONV(pc22, router, 53011, 53), 1, "\x12\x34\1\0\0\1\0\0\0\0\0\0\3nas\5local\0\0\1\0\1");
	UDP_TEXT(&g, CONV(pc22, router, 53011, 53), 0, "\x12\x34\x81\x80\0\1\0\1\0\0\0\0");
	UDP_TEXT(&g, CONV(nas, mdns, 5353, 5353), 1, "\0\0\x84\0\0\0\0\1\0\0\0\0_http._tcp");
	tcp_session(&g, CONV(pc21, nas, 50600, 22), "SSH-2.0-OpenSSH_9.2p1 Debian\r\n", 6000);
	tcp_session(&g, CONV(pc22, router, 50700, 8080), "GET /admin HTTP/1.1\r\n\r\n", 3000);
	tcp_session(&g, CONV(pc21, rdp, 50800, 3389), "\x03\0\0\x13 RDP", 20000);
	tftp_transfer(&g, CONV(pc24, nas, 41234, 69), CONV(pc24, nas, 41234, 38000));
	ping(&g, &(struct conv){ .client = pc24, .server = nas });
	tcp_session(&g, CONV(pc22, nas, 50900, 1935), "\x03 RTMP C0C1", 40000);
	arp(&g, &nas, &router);
	gen_close(&g, path);
	return 0;
}

/* ---- VLANs, IPv6, fragments ---- */

/* A UDP datagram of len payload bytes, IPv4-fragmented at 1480 bytes. */
static void udp_fragmented_v4(struct gen *g, struct conv *c, uint32_t len, int drop_first)
{
	static uint8_t payload[8 + 9000];
	struct pkb whole, b;
	uint32_t ip_off, total;

	/* build the whole datagram once, to get the UDP header and checksum */
	memset(payload, 0x42, sizeof(payload));
	pkb_init(&whole);
	pkb_ipv4(&whole, c->client.addr, c->server.addr, 17, c->ip_id, 0, 0);
	pkb_udp(&whole, c->cport, c->sport);
	pkb_bytes(&whole, payload, len);
	pkb_finish(&whole);
	ip_off = 20;
	total = whole.len - ip_off;	/* UDP header and payload */
	for (uint32_t off = 0; off < total; off += 1480) {
		uint32_t n = total - off < 1480 ? total - off : 1480;
		int more = off + n < total;

		pkb_init(&b);
		link_header(g, &b, c, 4);
		pkb_ipv4(&b, c->client.addr, c->server.addr, 17, c->ip_id,
			 (uint16_t)((more ? 0x2000 : 0) | off / 8), 0);
		pkb_bytes(&b, whole.data + ip_off + off, n);
		pkb_finish(&b);
		if (!(drop_first && off == 0))
			emit(g, &b, 200);
	}
	c->ip_id++;
}

static void udp_fragmented_v6(struct gen *g, struct conv *c, uint32_t len)
{
	static uint8_t payload[4000];
	struct pkb whole, b;
	uint32_t total;

	memset(payload, 0x36, sizeof(payload));
	pkb_init(&whole);
	pkb_ipv6(&whole, c->client.addr, c->server.addr, 17);
	pkb_udp(&whole, c->cport, c->sport);
	pkb_bytes(&whole, payload, len);
	pkb_finish(&whole);
	total = whole.len - 40;
	for (uint32_t off = 0; off < total; off += 1232) {
		uint32_t n = total - off < 1232 ? total - off : 1232;

		pkb_init(&b);
		link_header(g, &b, c, 6);
		pkb_ipv6(&b, c->client.addr, c->server.addr, 44);
		pkb_ipv6_frag(&b, 17, (uint16_t)(off / 8), off + n < total, 0x5eed0001);
		pkb_bytes(&b, whole.data + 40 + off, n);
		pkb_finish(&b);
		emit(g, &b, 200);
	}
}

static void lldp(struct gen *g)
{
	struct pkb b;

	pkb_init(&b);
	pkb_ether(&b, 0x88cc);
	pkb_bytes(&b, "\x02\x07\x04\x00\x11\x32\x0a\x0b\x0c\x04\x04\x05eth0\x06\x02\x00\x78\0\0", 22);
	pkb_bytes(&b, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 24);
	emit(g, &b, 30000);
}

static int write_vlan_ipv6(const char *path)
{
	struct host nas6 = v6(0x20, 5), pc6 = v6(0x20, 0x21), pc6b = v6(0x30, 0x22);
	struct host nas = v4(10, 20, 0, 5), pc = v4(10, 20, 0, 21), vpn = v4(10, 30, 0, 44);
	struct host gw_a = v4(198, 51, 100, 1), gw_b = v4(10, 20, 0, 1);
	struct gen g;

	if (gen_open(&g, path, DLT_EN10MB, 1767229200ull * 1000000))
		return -1;
	lldp(&g);
	tcp_session(&g, &(struct conv){ .client = pc6, .server = nas6, .cport = 51000, .sport = 5001, .vlan = { 20 } },
		    "\x16\x03\x01 DSM over IPv6", 64000);
	tcp_session(&g, &(struct conv){ .client = pc6b, .server = nas6, .cport = 51100, .sport = 445, .vlan = { 100, 20 } },
		    "\xfeSMB over IPv6 in QinQ", 80000);
	udp_fragmented_v4(&g, &(struct conv){ .client = pc, .server = nas, .cport = 870, .sport = 2049, .vlan = { 20 }, .ip_id = 0x1000 }, 8192, 0);
	udp_fragmented_v4(&g, &(struct conv){ .client = pc, .server = nas, .cport = 871, .sport = 2049, .vlan = { 20 }, .ip_id = 0x2000 }, 4000, 1);
	udp_fragmented_v6(&g, &(struct conv){ .client = pc6, .server = nas6, .cport = 40514, .sport = 514, .vlan = { 20 } }, 3000);
	for (int i = 0; i < 6; i++) {
		struct conv c = { vpn, nas, 53000, 1194, .vlan = { 30 } };

		UDP_TEXT(&g, &c, i % 2 == 0, "\x38 OpenVPN P_CONTROL_HARD_RESET");
	}
	tcp_session(&g, &(struct conv){ .client = v6(0x40, 0x21), .server = nas6, .cport = 51200, .sport = 5001, .tunnel_src = &gw_a, .tunnel_dst = &gw_b }, "\x16\x03\x01 DSM through 6in4", 12000);
	ping(&g, &(struct conv){ .client = pc6, .server = nas6, .vlan = { 20 } });
	gen_close(&g, path);
	return 0;
}

/* ---- broken frames (Linux cooked capture) ---- */

/* A SYN from c's client port sport whose byte at offset is set to value
 * (when offset is not 0), captured up to cut bytes (when cut is not 0). */
static void broken_syn(struct gen *g, struct conv *c, uint16_t sport, uint32_t offset,
		       uint8_t value, uint32_t cut)
{
	struct pkb b;

	pkb_init(&b);
	link_header(g, &b, c, 4);
	pkb_ipv4(&b, c->client.addr, c->server.addr, 6, c->ip_id++, 0, 0);
	pkb_tcp(&b, sport, c->sport, F_SYN, 1, 0);
	pkb_finish(&b);
	if (offset)
		b.data[offset] = value;
	emit_cut(g, &b, cut, 1000);
}

static int write_edge_cases(const char *path)
{
	struct host nas = v4(10, 1, 0, 5), pc = v4(10, 1, 0, 21);
	struct conv c = *CONV(pc, nas, 52000, 5000);
	struct gen g;
	struct pkb b;

	if (gen_open(&g, path, DLT_LINUX_SLL, 1767232800ull * 1000000))
		return -1;
	tcp_session(&g, &c, "GET /webman/index.cgi HTTP/1.1\r\n\r\n", 9000);
	/* an IPv4 header cut short by the frame's end */
	pkb_init(&b);
	link_header(&g, &b, &c, 4);
	pkb_bytes(&b, "\x45\x00\x00\x28\x00\x01", 6);
	emit(&g, &b, 1000);
	/* IHL 3: shorter than any IPv4 header */
	broken_syn(&g, &c, 52001, 16, 0x43, 0);
	/* TCP data offset past the end of the segment */
	broken_syn(&g, &c, 52002, 16 + 20 + 12, 0xf0, 0);
	/* a frame cut by a small snapshot length inside the TCP header */
	broken_syn(&g, &c, 52003, 0, 0, 16 + 20 + 10);
	tcp_session(&g, CONV(pc, nas, 52004, 5000), "GET / HTTP/1.1\r\n\r\n", 2000);
	gen_close(&g, path);
	return 0;
}

/* ---- payload evidence: DSM web sessions, TLS from the NAS, DNS ---- */

/* An HTTP request on a kept-alive connection, and a small response. */
static void http_exchange(struct gen *g, struct conv *c, const char *request)
{
	tcp_text(g, c, 1, request);
	tcp_text(g, c, 0, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n"
			  "{\"success\":true}");
}

/* A session of several requests on one connection. */
static void http_session(struct gen *g, struct conv *c, const char *const *requests, int n)
{
	tcp_open(g, c);
	for (int i = 0; i < n; i++)
		http_exchange(g, c, requests[i]);
	tcp_close(g, c);
}

/* A TLS connection: the ClientHello (split in MSS segments), a server's
 * flight of server_bytes. */
static void tls_session(struct gen *g, struct conv *c, const char *server_name, uint32_t key_share,
			uint32_t server_bytes)
{
	struct pkb hello;

	pkb_init(&hello);
	pkb_tls_client_hello(&hello, server_name, key_share, 0);
	tcp_open(g, c);
	tcp_send(g, c, 1, hello.data, hello.len);
	tcp_send(g, c, 0, NULL, server_bytes);
	tcp_close(g, c);
}

/* A DNS query for name (type A) from c's client and the answer: name
 * CNAME cname (when not NULL), then A addr for the last name. */
static void dns_lookup(struct gen *g, struct conv *c, uint16_t id, const char *name,
		       const char *cname, const uint8_t addr[4])
{
	struct pkb msg;

	pkb_init(&msg);
	pkb_dns_message(&msg, id, name, NULL, NULL);
	udp_send(g, c, 1, msg.data, msg.len);
	pkb_init(&msg);
	pkb_dns_message(&msg, id, name, cname, addr);
	udp_send(g, c, 0, msg.data, msg.len);
}

/* What a small office's DSM web UI, mobile apps and the NAS's own cloud
 * backups send: each session's evidence and the service it should give is
 * listed in tests/captures.py (EVIDENCE_FLOWS). */
static int write_evidence(const char *path)
{
	struct host nas = v4(192, 168, 10, 5), router = v4(192, 168, 10, 1);
	struct host pc21 = v4(192, 168, 10, 21), pc22 = v4(192, 168, 10, 22);
	struct host phone = v4(192, 168, 10, 40), remote = v4(198, 51, 100, 77);
	struct host google = v4(142, 250, 74, 10), o365 = v4(52, 96, 10, 20);
	struct host graph = v4(20, 190, 151, 7), evil = v4(203, 0, 113, 66), syno = v4(52, 28, 40, 1);
	static const uint8_t graph_addr[4] = { 20, 190, 151, 7 }, evil_addr[4] = { 203, 0, 113, 66 };
	static const char *const login_then_files[] = {
		"GET /webapi/auth.cgi?api=SYNO.API.Auth&version=3&method=login&account=alice&passwd=x"
		"&session=FileStation&format=cookie HTTP/1.1\r\nHost: nas:5000\r\n\r\n",
		"GET /webapi/entry.cgi?api=SYNO.FileStation.List&version=2&method=list_share&_sid=S "
		"HTTP/1.1\r\nHost: nas:5000\r\n\r\n",
		"GET /webapi/entry.cgi?api=SYNO.FileStation.Download&version=2&method=download&path=%2Fa "
		"HTTP/1.1\r\nHost: nas:5000\r\n\r\n",
	};
	static const char *const calendar_then_contacts[] = {
		"POST /webapi/entry.cgi HTTP/1.1\r\nHost: nas:5000\r\n"
		"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 43\r\n\r\n"
		"api=SYNO.Cal.Event&method=list&version=1&x=",
		"POST /webapi/entry.cgi HTTP/1.1\r\nHost: nas:5000\r\n"
		"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 43\r\n\r\n"
		"api=SYNO.Contacts.Person&method=list&versio",
	};
	static const char *const desktop[] = {
		"GET /webapi/entry.cgi?api=SYNO.Core.Desktop.JSUIString&version=1&method=getjs&lang=enu "
		"HTTP/1.1\r\nHost: nas:5000\r\n\r\n",
		"GET /webapi/entry.cgi?api=SYNO.Core.System&version=1&method=info HTTP/1.1\r\nHost: nas:5000\r\n\r\n",
	};
	static const char *const downloads[] = {
		"GET /webapi/DownloadStation/task.cgi?api=SYNO.DownloadStation.Task&version=1&method=list "
		"HTTP/1.1\r\nHost: nas:5000\r\n\r\n",
	};
	static const char *const photos[] = {
		"GET /photo/webapi/entry.cgi/SYNO.Foto.Browse.Album?version=1&method=list&offset=0&limit=100 "
		"HTTP/1.1\r\nHost: nas:5000\r\nUser-Agent: Mozilla/5.0\r\n\r\n",
	};
	static const char *const notes[] = {
		"POST /webapi/entry.cgi HTTP/1.1\r\nHost: nas:5000\r\nAccept: */*\r\n"
		"Content-Type: application/x-www-form-urlencoded; charset=UTF-8\r\nContent-Length: 49\r\n\r\n"
		"api=SYNO.NoteStation.Note&method=create&version=3",
	};
	static const char *const moments[] = {
		"POST /webapi/entry.cgi HTTP/1.1\r\nHost: nas:5000\r\n"
		"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 64\r\n\r\n"
		"offset=0&limit=50&api=\"SYNO.Photo.Browse.Item\"&method=\"list\"&v=3",
	};
	static const char *const compound[] = {
		"POST /webapi/entry.cgi HTTP/1.1\r\nHost: nas:5000\r\n"
		"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 211\r\n\r\n"
		"api=SYNO.Entry.Request&method=request&version=1&stop_when_error=false&compound="
		"%5B%7B%22api%22%3A%22SYNO.Core.System%22%7D%2C%7B%22api%22%3A%22SYNO.SurveillanceStation.Camera"
		"%22%2C%22method%22%3A%22List%22%7D%5D",
	};
	static const char *const backup[] = {
		"GET /webapi/entry.cgi?api=SYNO.Backup.Task&version=1&method=list HTTP/1.1\r\nHost: nas:5000\r\n\r\n",
	};
	static const char *const portal[] = {
		"GET /webapi/entry.cgi?api=SYNO.AudioStation.Song&version=1&method=list HTTP/1.1\r\n"
		"Host: nas:7000\r\n\r\n",
	};
	static const char *const admin[] = { "GET /admin HTTP/1.1\r\nHost: router\r\n\r\n" };
	char long_post[1400];
	struct conv *c;
	struct gen g;
	int n;

	if (gen_open(&g, path, DLT_EN10MB, 1767240000ull * 1000000))
		return -1;
	http_session(&g, CONV(pc21, nas, 51001, 5000), login_then_files, 3);
	http_session(&g, CONV(pc21, nas, 51002, 5000), downloads, 1);
	http_session(&g, CONV(phone, nas, 51003, 5000), photos, 1);
	http_session(&g, CONV(pc22, nas, 51004, 5000), notes, 1);
	http_session(&g, CONV(pc22, nas, 51005, 5000), moments, 1);
	http_session(&g, CONV(pc21, nas, 51006, 5000), compound, 1);
	http_session(&g, CONV(pc22, nas, 51007, 5000), calendar_then_contacts, 2);
	http_session(&g, CONV(pc21, nas, 51008, 5000), desktop, 2);
	http_session(&g, CONV(pc21, nas, 51009, 5000), backup, 1);
	http_session(&g, CONV(phone, nas, 51010, 7000), portal, 1);	/* an Application Portal port */
	/* a request line split over two segments */
	c = CONV(pc22, nas, 51011, 5000);
	tcp_open(&g, c);
	tcp_segment(&g, c, 1, F_ACK | F_PSH, "GET /webapi/entry.cgi?api=SYNO.Aud", 34, 80);
	tcp_text(&g, c, 1, "ioStation.Song&version=1&method=list HTTP/1.1\r\nHost: nas:5000\r\n\r\n");
	tcp_text(&g, c, 0, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}");
	tcp_close(&g, c);
	/* ~600 bytes of headers, then the body: the snapshot length cuts it off */
	n = snprintf(long_post, sizeof(long_post),
		     "POST /webapi/entry.cgi HTTP/1.1\r\nHost: nas:5000\r\nUser-Agent: Mozilla/5.0 (X11; "
		     "Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36\r\n"
		     "Accept: */*\r\nAccept-Language: en-US,en;q=0.9\r\nOrigin: http://nas:5000\r\n"
		     "Referer: http://nas:5000/?launchApp=SYNO.SDS.Chat.Application\r\nX-SYNO-TOKEN: "
		     "Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFy\r\nCookie: id=%080d; did=%080d; "
		     "smid=%080d\r\nContent-Type: application/x-www-form-urlencoded; charset=UTF-8\r\n"
		     "Content-Length: 48\r\n\r\napi=SYNO.Chat.Post&method=create&version=2&x=abc", 0, 0, 0);
	c = CONV(pc22, nas, 51012, 5000);
	tcp_open(&g, c);
	g.snap = 512;
	tcp_send(&g, c, 1, long_post, (uint32_t)n);
	g.snap = 0;
	tcp_text(&g, c, 0, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}");
	tcp_close(&g, c);
	http_session(&g, CONV(pc22, router, 51013, 8080), admin, 1);	/* not DSM */
	/* the NAS's cloud backups: server names and DNS */
	tls_session(&g, CONV(nas, google, 42001, 443), "www.googleapis.com", 32, 4000);
	tls_session(&g, CONV(nas, o365, 42002, 443), "outlook.office365.com", 1216 + 32, 6000);
	tls_session(&g, CONV(nas, syno, 42003, 443), "account.synology.com", 32, 3000);
	tls_session(&g, CONV(nas, evil, 42004, 443), "evilgoogleapis.com", 32, 3000);
	dns_lookup(&g, CONV(nas, router, 53101, 53), 0x4242, "graph.microsoft.com",
		   "graph.msft-edge.example.net", graph_addr);
	tls_session(&g, CONV(nas, graph, 42005, 443), NULL, 1216 + 32, 5000);	/* no server name */
	dns_lookup(&g, CONV(nas, router, 53102, 53), 0x4343, "microsoft.com.evil.example", NULL, evil_addr);
	tls_session(&g, CONV(nas, evil, 42006, 443), NULL, 32, 2000);
	/* a client reaching the NAS from outside through its DDNS name */
	tls_session(&g, CONV(remote, nas, 42007, 5001), "alice-nas.synology.me", 1216 + 32, 30000);
	gen_close(&g, path);
	return 0;
}

/* What `dsmflow audit` is checked on: two NAS, one to be given with --nas
 * (it also answers DSM Web API requests), one found by its answer to a
 * Synology Assistant search, one only by its Synology MAC address (it asks
 * the router for the time); clients on two subnets and one outside; a port
 * the NAS serves that no catalogue entry names; the NAS connecting out
 * (its DNS queries to the router, a cloud backup); sessions a minute apart
 * over ten minutes. tests/captures.py lists what the audit must say. */
static int write_audit(const char *path)
{
	struct host nas1 = v4(192, 168, 20, 5), nas2 = v4(192, 168, 30, 6), router = v4(192, 168, 20, 1);
	struct host nas3 = v4(192, 168, 20, 7);
	static const uint8_t ntp_request[48] = { 0x23 }, ntp_reply[48] = { 0x24, 0x02, 0, 0xe9 };
	struct host pca = v4(192, 168, 20, 21), pcb = v4(192, 168, 20, 22), pcc = v4(192, 168, 21, 40);
	struct host outside = v4(198, 51, 100, 7), cloud = v4(203, 0, 113, 50), bcast = v4(255, 255, 255, 255);
	static const uint8_t cloud_addr[4] = { 203, 0, 113, 50 };
	static const char *const list[] = {
		"GET /webapi/entry.cgi?api=SYNO.FileStation.List&version=2&method=list_share HTTP/1.1\r\n"
		"Host: nas1:5000\r\n\r\n",
	};
	struct gen g;

	if (gen_open(&g, path, DLT_EN10MB, 1767240000ull * 1000000))	/* 2026-01-01 04:00 */
		return -1;
	http_session(&g, CONV(pca, nas1, 51000, 5000), list, 1);
	g.now_us += 60 * 1000000ull;
	tcp_session(&g, CONV(pcc, nas1, 51100, 445), "\xfeSMB negotiate", 120000);
	g.now_us += 60 * 1000000ull;
	tls_session(&g, CONV(outside, nas1, 51200, 5001), "nas1.example.org", 32, 40000);
	g.now_us += 60 * 1000000ull;
	tcp_session(&g, CONV(pcb, nas1, 51300, 8088), "GET / HTTP/1.1\r\nHost: nas1\r\n\r\n", 5000);
	g.now_us += 60 * 1000000ull;
	dns_lookup(&g, CONV(nas1, router, 53100, 53), 0x2001, "www.googleapis.com", NULL, cloud_addr);
	g.now_us += 60 * 1000000ull;
	tls_session(&g, CONV(nas1, cloud, 51400, 443), "www.googleapis.com", 32, 20000);
	g.now_us += 60 * 1000000ull;
	UDP_TEXT(&g, CONV(pca, bcast, 9999, 9999), 1, "Synology Assistant query");
	UDP_TEXT(&g, CONV(nas2, pca, 9999, 9999), 1, "DS224+ 192.168.30.6 DSM 7.2");
	g.now_us += 60 * 1000000ull;
	tls_session(&g, CONV(pcc, nas2, 51500, 5001), "nas2.example.org", 32, 30000);
	g.now_us += 60 * 1000000ull;
	tcp_session(&g, CONV(pcb, nas1, 51600, 22), "SSH-2.0-OpenSSH_9.2p1\r\n", 8000);
	g.now_us += 60 * 1000000ull;
	tcp_session(&g, CONV(pca, nas1, 51700, 445), "\xfeSMB negotiate", 60000);
	g.synology = &nas3;
	udp_send(&g, CONV(nas3, router, 40123, 123), 1, ntp_request, sizeof(ntp_request));
	udp_send(&g, CONV(nas3, router, 40123, 123), 0, ntp_reply, sizeof(ntp_reply));
	gen_close(&g, path);
	return 0;
}

static int write_samples(const char *dir)
{
	char path[4096];
	int rc = 0;

	snprintf(path, sizeof(path), "%s/dsm-office.pcap", dir);
	rc |= write_office(path);
	snprintf(path, sizeof(path), "%s/dsm-vlan-ipv6.pcap", dir);
	rc |= write_vlan_ipv6(path);
	snprintf(path, sizeof(path), "%s/dsm-edge-cases.pcap", dir);
	rc |= write_edge_cases(path);
	snprintf(path, sizeof(path), "%s/dsm-evidence.pcap", dir);
	rc |= write_evidence(path);
	snprintf(path, sizeof(path), "%s/dsm-audit.pcap", dir);
	rc |= write_audit(path);
	return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "samples") == 0)
		return write_samples(argv[2]);
	fprintf(stderr, "usage: pcapgen samples DIR\n");
	return 2;
}
