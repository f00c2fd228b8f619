/* test_decode.c - the decoder on hand-built packets: every link type, VLAN
 * stacks, IPv6 extension chains, fragments, tunnels, and a truncation at
 * every byte. Each packet is decoded flush against a PROT_NONE page, so a
 * read one byte past the capture faults even without a sanitizer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <pcap/dlt.h>

#include "dsmflow/decode.h"
#include "dsmflow/inspect.h"
#include "guard.h"
#include "pktbuild.h"

static const uint8_t nas4[4] = { 192, 168, 1, 10 }, client4[4] = { 192, 168, 1, 20 };
static const uint8_t nas6[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10 };
static const uint8_t client6[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x20 };

/* Decodes the first n bytes of b placed so that byte n is unreadable. */
static enum decode_status decode_guarded(int link, const struct pkb *b, uint32_t n,
					 struct decoded *out)
{
	return decode_packet(link, guard_place(b->data, n), n, n, out);
}

static enum decode_status decode_whole(int link, const struct pkb *b, struct decoded *out)
{
	return decode_guarded(link, b, b->len, out);
}

/* ---- packet makers ---- */

static const char payload[] = "GET / HTTP/1.1\r\n";

static void tcp4(struct pkb *b)
{
	pkb_ipv4(b, client4, nas4, 6, 1, 0, 0);
	pkb_tcp(b, 50000, 5001, 0x02, 1, 0);
	pkb_bytes(b, payload, sizeof(payload) - 1);
	pkb_finish(b);
}

static void tcp6(struct pkb *b)
{
	pkb_ipv6(b, client6, nas6, 6);
	pkb_tcp(b, 50000, 445, 0x18, 1, 1);
	pkb_bytes(b, payload, sizeof(payload) - 1);
	pkb_finish(b);
}

static void assert_tcp4(const struct decoded *d)
{
	assert_int_equal(d->family, 4);
	assert_int_equal(d->ip_proto, 6);
	assert_memory_equal(d->src, client4, 4);
	assert_memory_equal(d->dst, nas4, 4);
	assert_int_equal(d->sport, 50000);
	assert_int_equal(d->dport, 5001);
	assert_int_equal(d->tcp_flags, TCP_SYN);
	assert_int_equal(d->payload_len, sizeof(payload) - 1);
	assert_memory_equal(d->payload, payload, d->payload_len);
	assert_int_equal(d->fragment, FRAG_NONE);
}

/* ---- link types ---- */

static void test_ethernet_and_vlan_stacks(void **state)
{
	struct pkb b;
	struct decoded d;

	(void)state;
	pkb_init(&b);
	pkb_ether(&b, 0x0800);
	tcp4(&b);
	assert_int_equal(decode_whole(DLT_EN10MB, &b, &d), DECODE_IP);
	assert_tcp4(&d);

	pkb_init(&b);	/* 802.1Q */
	pkb_ether(&b, 0x8100);
	pkb_vlan(&b, 10, 0x0800);
	tcp4(&b);
	assert_int_equal(decode_whole(DLT_EN10MB, &b, &d), DECODE_IP);
	assert_tcp4(&d);

	pkb_init(&b);	/* 802.1ad outer, 802.1Q inner, then IPv6 */
	pkb_ether(&b, 0x88a8);
	pkb_vlan(&b, 100, 0x8100);
	pkb_vlan(&b, 10, 0x86dd);
	tcp6(&b);
	assert_int_equal(decode_whole(DLT_EN10MB, &b, &d), DECODE_IP);
	assert_int_equal(d.family, 6);
	assert_memory_equal(d.dst, nas6, 16);
	assert_int_equal(d.dport, 445);

	pkb_init(&b);	/* nine tags are more than any real network stacks */
	pkb_ether(&b, 0x8100);
	for (int i = 0; i < 9; i++)
		pkb_vlan(&b, (uint16_t)i, 0x8100);
	pkb_vlan(&b, 9, 0x0800);
	tcp4(&b);
	assert_int_equal(decode_whole(DLT_EN10MB, &b, &d), DECODE_MALFORMED);
}

static void test_non_ip_frames(void **state)
{
	struct pkb b;
	struct decoded d;
	static const uint8_t arp[28] = { 0, 1, 8, 0, 6, 4, 0, 1 };

	(void)state;
	pkb_init(&b);
	pkb_ether(&b, 0x0806);
	pkb_bytes(&b, arp, sizeof(arp));
	assert_int_equal(decode_whole(DLT_EN10MB, &b, &d), DECODE_NON_IP);
	pkb_init(&b);	/* 802.3 with LLC: the type field is a length */
	pkb_ether(&b, 38);
	pkb_bytes(&b, arp, sizeof(arp));
	assert_int_equal(decode_whole(DLT_EN10MB, &b, &d), DECODE_NON_IP);
	pkb_init(&b);
	tcp4(&b);
	assert_int_equal(decode_whole(DLT_IEEE802_11, &b, &d), DECODE_NON_IP);
	assert_false(decode_link_supported(DLT_IEEE802_11));
	assert_true(decode_link_supported(DLT_LINUX_SLL2));
}

static void test_cooked_loopback_raw_ppp(void **state)
{
	static const uint8_t sll[14] = { 0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1 };
	static const uint8_t sll2[18] = { 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1 };
	static const uint8_t af_inet_le[4] = { 2, 0, 0, 0 }, af_inet6_mac_le[4] = { 30, 0, 0, 0 };
	static const uint8_t af_inet_be[4] = { 0, 0, 0, 2 }, af_inet6_linux_be[4] = { 0, 0, 0, 10 };
	struct pkb b;
	struct decoded d;

	(void)state;
	pkb_init(&b);	/* SLL: 14 bytes, then the protocol */
	pkb_bytes(&b, sll, sizeof(sll));
	pkb_be16(&b, 0x0800);
	tcp4(&b);
	assert_int_equal(decode_whole(DLT_LINUX_SLL, &b, &d), DECODE_IP);
	assert_tcp4(&d);

	pkb_init(&b);	/* SLL2: the protocol first */
	pkb_be16(&b, 0x0800);
	pkb_bytes(&b, sll2, sizeof(sll2));
	tcp4(&b);
	assert_int_equal(decode_whole(DLT_LINUX_SLL2, &b, &d), DECODE_IP);
	assert_tcp4(&d);

	pkb_init(&b);	/* NULL, written little-endian */
	pkb_bytes(&b, af_inet_le, 4);
	tcp4(&b);
	assert_int_equal(decode_whole(DLT_NULL, &b, &d), DECODE_IP);
	assert_tcp4(&d);
	pkb_init(&b);	/* NULL, big-endian */
	pkb_bytes(&b, af_inet_be, 4);
	tcp4(&b);
	assert_int_equal(decode_whole(DLT_NULL, &b, &d), DECODE_IP);
	pkb_init(&b);	/* NULL, macOS's AF_INET6 */
	pkb_bytes(&b, af_inet6_mac_le, 4);
	tcp6(&b);
	assert_int_equal(decode_whole(DLT_NULL, &b, &d), DECODE_IP);
	assert_int_equal(d.family, 6);
	pkb_init(&b);	/* LOOP: network order always */
	pkb_bytes(&b, af_inet6_linux_be, 4);
	tcp6(&b);
	assert_int_equal(decode_whole(DLT_LOOP, &b, &d), DECODE_IP);
	pkb_init(&b);
	pkb_be32(&b, 7);	/* an unknown address family */
	tcp4(&b);
	assert_int_equal(decode_whole(DLT_LOOP, &b, &d), DECODE_NON_IP);

	pkb_init(&b);	/* raw IP of both versions */
	tcp4(&b);
	assert_int_equal(decode_whole(DLT_RAW, &b, &d), DECODE_IP);
	assert_tcp4(&d);
	assert_int_equal(decode_whole(DLT_IPV4, &b, &d), DECODE_IP);
	assert_int_equal(decode_whole(DECODE_LINK_IP, &b, &d), DECODE_IP);
	pkb_init(&b);
	tcp6(&b);
	assert_int_equal(decode_whole(DLT_IPV6, &b, &d), DECODE_IP);
	assert_int_equal(decode_whole(DLT_RAW, &b, &d), DECODE_IP);

	pkb_init(&b);	/* PPP with HDLC address and control */
	pkb_u8(&b, 0xff);
	pkb_u8(&b, 0x03);
	pkb_be16(&b, 0x0021);
	tcp4(&b);
	assert_int_equal(decode_whole(DLT_PPP, &b, &d), DECODE_IP);
	assert_tcp4(&d);
	pkb_init(&b);	/* PPP, compressed one-byte protocol */
	pkb_u8(&b, 0x57);
	tcp6(&b);
	assert_int_equal(decode_whole(DLT_PPP, &b, &d), DECODE_IP);
	assert_int_equal(d.family, 6);
	pkb_init(&b);	/* PPP's LCP is not IP */
	pkb_be16(&b, 0xc021);
	pkb_be32(&b, 0x01010004);
	assert_int_equal(decode_whole(DLT_PPP, &b, &d), DECODE_NON_IP);

	pkb_init(&b);	/* PPPoE session over Ethernet */
	pkb_ether(&b, 0x8864);
	pkb_be32(&b, 0x11000001);
	pkb_be16(&b, 100);
	pkb_be16(&b, 0x0021);
	tcp4(&b);
	assert_int_equal(decode_whole(DLT_EN10MB, &b, &d), DECODE_IP);
	assert_tcp4(&d);

	pkb_init(&b);	/* two MPLS labels */
	pkb_ether(&b, 0x8847);
	pkb_be32(&b, 0x00010040);
	pkb_be32(&b, 0x00020140);
	tcp4(&b);
	assert_int_equal(decode_whole(DLT_EN10MB, &b, &d), DECODE_IP);
	assert_tcp4(&d);
}

/* ---- IP ---- */

static void test_ipv4_options_and_padding(void **state)
{
	struct pkb b;
	struct decoded d;

	(void)state;
	pkb_init(&b);
	pkb_ether(&b, 0x0800);
	pkb_ipv4(&b, client4, nas4, 17, 7, 0, 40);	/* the largest header: 60 bytes */
	pkb_udp(&b, 40000, 9999);
	pkb_bytes(&b, "hello", 5);
	pkb_finish(&b);
	pkb_bytes(&b, "\0\0\0\0\0\0", 6);	/* Ethernet padding after the datagram */
	assert_int_equal(decode_whole(DLT_EN10MB, &b, &d), DECODE_IP);
	assert_int_equal(d.ip_proto, 17);
	assert_int_equal(d.dport, 9999);
	assert_int_equal(d.payload_len, 5);
	assert_memory_equal(d.payload, "hello", 5);
}

static void test_ipv4_bad_headers(void **state)
{
	struct pkb b;
	struct decoded d;

	(void)state;
	pkb_init(&b);
	tcp4(&b);
	b.data[0] = 0x44;	/* IHL 4: shorter than the fixed header */
	assert_int_equal(decode_whole(DLT_RAW, &b, &d), DECODE_MALFORMED);
	pkb_init(&b);
	tcp4(&b);
	b.data[2] = 0;
	b.data[3] = 10;	/* total length shorter than the header */
	assert_int_equal(decode_whole(DLT_RAW, &b, &d), DECODE_MALFORMED);
	pkb_init(&b);
	tcp4(&b);
	b.data[20 + 12] = 0x40;	/* TCP data offset 4 */
	assert_int_equal(decode_whole(DLT_RAW, &b, &d), DECODE_MALFORMED);
	pkb_init(&b);
	tcp4(&b);
	b.data[20 + 12] = 0xf0;	/* TCP data offset 60, past the end */
	assert_int_equal(decode_whole(DLT_RAW, &b, &d), DECODE_MALFORMED);
	pkb_init(&b);
	pkb_ether(&b, 0x0800);
	tcp6(&b);	/* IPv6 behind an IPv4 EtherType */
	assert_int_equal(decode_whole(DLT_EN10MB, &b, &d), DECODE_MALFORMED);
}

static void test_ipv6_extension_chain(void **state)
{
	struct pkb b;
	struct decoded d;

	(void)state;
	pkb_init(&b);
	pkb_ipv6(&b, client6, nas6, 0);	/* hop-by-hop, routing, destination options, UDP */
	pkb_ipv6_ext(&b, 43, 0);
	pkb_ipv6_ext(&b, 60, 1);
	pkb_ipv6_ext(&b, 17, 2);
	pkb_udp(&b, 5353, 5353);
	pkb_bytes(&b, "mdns", 4);
	pkb_finish(&b);
	assert_int_equal(decode_whole(DLT_RAW, &b, &d), DECODE_IP);
	assert_int_equal(d.ip_proto, 17);
	assert_int_equal(d.sport, 5353);
	assert_int_equal(d.payload_len, 4);

	pkb_init(&b);	/* a chain of 17 extension headers is refused */
	pkb_ipv6(&b, client6, nas6, 60);
	for (int i = 0; i < 17; i++)
		pkb_ipv6_ext(&b, i < 16 ? 60 : 17, 0);
	pkb_udp(&b, 1, 2);
	pkb_finish(&b);
	assert_int_equal(decode_whole(DLT_RAW, &b, &d), DECODE_MALFORMED);

	pkb_init(&b);	/* ESP ends the chain: no ports, but IP */
	pkb_ipv6(&b, client6, nas6, 50);
	pkb_be32(&b, 0x1000);
	pkb_be32(&b, 1);
	pkb_finish(&b);
	assert_int_equal(decode_whole(DLT_RAW, &b, &d), DECODE_IP);
	assert_int_equal(d.ip_proto, 50);
	assert_int_equal(d.sport, 0);
}

static void test_fragments(void **state)
{
	struct pkb b;
	struct decoded d;

	(void)state;
	pkb_init(&b);	/* IPv4 first fragment: ports are there */
	pkb_ipv4(&b, client4, nas4, 17, 0x4242, 0x2000, 0);
	pkb_udp(&b, 40000, 69);
	pkb_bytes(&b, "0123456789abcdef", 16);
	pkb_finish(&b);
	assert_int_equal(decode_whole(DLT_RAW, &b, &d), DECODE_IP);
	assert_int_equal(d.fragment, FRAG_FIRST);
	assert_int_equal(d.frag_id, 0x4242);
	assert_int_equal(d.dport, 69);

	pkb_init(&b);	/* IPv4 later fragment: no transport header */
	pkb_ipv4(&b, client4, nas4, 17, 0x4242, 3, 0);
	pkb_bytes(&b, "more data", 9);
	pkb_finish(&b);
	assert_int_equal(decode_whole(DLT_RAW, &b, &d), DECODE_IP);
	assert_int_equal(d.fragment, FRAG_LATER);
	assert_int_equal(d.ip_proto, 17);
	assert_int_equal(d.sport, 0);
	assert_int_equal(d.dport, 0);

	pkb_init(&b);	/* IPv6 first and later fragments */
	pkb_ipv6(&b, client6, nas6, 44);
	pkb_ipv6_frag(&b, 6, 0, 1, 0xabcdef01);
	pkb_tcp(&b, 50000, 22, 0x10, 5, 6);
	pkb_finish(&b);
	assert_int_equal(decode_whole(DLT_RAW, &b, &d), DECODE_IP);
	assert_int_equal(d.fragment, FRAG_FIRST);
	assert_int_equal(d.frag_id, 0xabcdef01);
	assert_int_equal(d.dport, 22);
	pkb_init(&b);
	pkb_ipv6(&b, client6, nas6, 44);
	pkb_ipv6_frag(&b, 6, 185, 0, 0xabcdef01);
	pkb_bytes(&b, "tail", 4);
	pkb_finish(&b);
	assert_int_equal(decode_whole(DLT_RAW, &b, &d), DECODE_IP);
	assert_int_equal(d.fragment, FRAG_LATER);
	assert_int_equal(d.ip_proto, 6);
}

static void test_tunnels(void **state)
{
	static const uint8_t r1[4] = { 10, 0, 0, 1 }, r2[4] = { 10, 0, 0, 2 };
	struct pkb b;
	struct decoded d;

	(void)state;
	pkb_init(&b);	/* IP-in-IP */
	pkb_ipv4(&b, r1, r2, 4, 1, 0, 0);
	tcp4(&b);
	assert_int_equal(decode_whole(DLT_RAW, &b, &d), DECODE_IP);
	assert_tcp4(&d);
	assert_int_equal(d.tunnels, 1);

	pkb_init(&b);	/* 6in4 behind Ethernet */
	pkb_ether(&b, 0x0800);
	pkb_ipv4(&b, r1, r2, 41, 1, 0, 0);
	tcp6(&b);
	assert_int_equal(decode_whole(DLT_EN10MB, &b, &d), DECODE_IP);
	assert_int_equal(d.family, 6);
	assert_memory_equal(d.src, client6, 16);
	assert_int_equal(d.dport, 445);

	pkb_init(&b);	/* IPv4 in IPv6 */
	pkb_ipv6(&b, client6, nas6, 4);
	tcp4(&b);
	assert_int_equal(decode_whole(DLT_RAW, &b, &d), DECODE_IP);
	assert_tcp4(&d);

	pkb_init(&b);	/* Cisco HDLC */
	pkb_bytes(&b, "\x0f\x00\x08\x00", 4);
	tcp4(&b);
	assert_int_equal(decode_whole(104, &b, &d), DECODE_IP);
	assert_tcp4(&d);

	pkb_init(&b);	/* five nested tunnels are one too many */
	for (int i = 0; i < 5; i++)
		pkb_ipv4(&b, r1, r2, 4, 1, 0, 0);
	tcp4(&b);
	assert_int_equal(decode_whole(DLT_RAW, &b, &d), DECODE_MALFORMED);
}

/* An outer IPv4 packet from 10.0.0.1 to 10.0.0.2 of protocol proto, UDP to
 * dport when proto is 17, then the tunnel header hdr[0..n); what follows is
 * the caller's. */
static void outer(struct pkb *b, uint8_t proto, uint16_t dport, const void *hdr, uint32_t n)
{
	static const uint8_t r1[4] = { 10, 0, 0, 1 }, r2[4] = { 10, 0, 0, 2 };

	pkb_init(b);
	pkb_ether(b, 0x0800);
	pkb_ipv4(b, r1, r2, proto, 1, 0, 0);
	if (proto == 17)
		pkb_udp(b, 40000, dport);
	pkb_bytes(b, hdr, n);
}

/* The inner packet is found, counted as the flow, its tunnel named. */
static void assert_tunnel(const struct pkb *b, enum decode_tunnel kind, uint16_t tenant)
{
	struct decoded d;

	assert_int_equal(decode_whole(DLT_EN10MB, b, &d), DECODE_IP);
	assert_tcp4(&d);
	assert_int_equal(d.tunnel, kind);
	assert_int_equal(d.tenant, tenant);
	assert_non_null(decode_tunnel_name(kind));
}

static void test_udp_and_gre_tunnels(void **state)
{
	struct pkb b;
	struct decoded d;

	(void)state;
	outer(&b, 17, 4789, "\x08\0\0\0\0\x04\x57\0", 8);	/* VXLAN, VNI 1111 */
	pkb_ether(&b, 0x0800);
	tcp4(&b);
	assert_tunnel(&b, TUNNEL_VXLAN, 1111);
	outer(&b, 17, 6081, "\x01\0\x65\x58\0\0\x2a\0" "\0\0\0\0", 12);	/* GENEVE, 4 bytes of options */
	pkb_ether(&b, 0x0800);
	tcp4(&b);
	assert_tunnel(&b, TUNNEL_GENEVE, 42);
	outer(&b, 17, 6081, "\0\0\x08\0\0\0\x2a\0", 8);	/* GENEVE carrying IP */
	tcp4(&b);
	assert_tunnel(&b, TUNNEL_GENEVE, 42);
	outer(&b, 17, 2152, "\x30\xff\0\0\0\0\0\x01", 8);	/* GTP-U G-PDU */
	tcp4(&b);
	assert_tunnel(&b, TUNNEL_GTP, 0);
	/* GTP-U with a sequence number and a PDU session extension header */
	outer(&b, 17, 2152, "\x36\xff\0\0\0\0\0\x01" "\0\x01\0\x85" "\x01\x10\x09\x00", 16);
	tcp4(&b);
	assert_tunnel(&b, TUNNEL_GTP, 0);
	outer(&b, 17, 2152, "\x32\x01\0\0\0\0\0\x01\0\0\0\0", 12);	/* GTP signalling: the UDP flow */
	pkb_finish(&b);
	assert_int_equal(decode_whole(DLT_EN10MB, &b, &d), DECODE_IP);
	assert_int_equal(d.dport, 2152);
	assert_int_equal(d.tunnel, TUNNEL_NONE);
	outer(&b, 47, 0, "\0\0\x08\0", 4);	/* GRE */
	tcp4(&b);
	assert_tunnel(&b, TUNNEL_GRE, 0);
	outer(&b, 47, 0, "\xb0\0\x08\0" "\0\0\0\0" "\0\0\0\x07" "\0\0\0\x01", 16);	/* checksum, key, sequence */
	tcp4(&b);
	assert_tunnel(&b, TUNNEL_GRE, 0);
	outer(&b, 47, 0, "\0\0\x88\xbe", 4);	/* ERSPAN type I */
	pkb_ether(&b, 0x0800);
	tcp4(&b);
	assert_tunnel(&b, TUNNEL_ERSPAN, 0);
	outer(&b, 47, 0, "\x10\0\x88\xbe\0\0\0\x01" "\x10\x01\0\x00\0\0\0\0", 16);	/* type II */
	pkb_ether(&b, 0x0800);
	tcp4(&b);
	assert_tunnel(&b, TUNNEL_ERSPAN, 0);
	outer(&b, 47, 0, "\x10\0\x22\xeb\0\0\0\x01" "\x20\x01\0\0\0\0\0\0\0\0\0\x01"
			 "\0\0\0\0\0\0\0\0", 28);	/* type III with its platform subheader */
	pkb_ether(&b, 0x0800);
	tcp4(&b);
	assert_tunnel(&b, TUNNEL_ERSPAN, 0);
	outer(&b, 17, 3544, "", 0);	/* Teredo: IPv6 in UDP */
	tcp6(&b);
	assert_int_equal(decode_whole(DLT_EN10MB, &b, &d), DECODE_IP);
	assert_int_equal(d.family, 6);
	assert_int_equal(d.dport, 445);
	assert_int_equal(d.tunnel, TUNNEL_TEREDO);
	/* a tunnel cut by the snapshot before the inner ports: the outer flow */
	outer(&b, 17, 4789, "\x08\0\0\0\0\x04\x57\0", 8);
	pkb_ether(&b, 0x0800);
	tcp4(&b);
	assert_int_equal(decode_packet(DLT_EN10MB, guard_place(b.data, 64), 64, b.len, &d),
			 DECODE_IP);
	assert_int_equal(d.dport, 4789);
	assert_true(d.truncated);
}

/* A cut at every byte: before the last header byte the packet is
 * malformed, from there on it decodes, and nothing is read beyond the cut. */
static void check_every_truncation(int link, const struct pkb *b, uint32_t headers_end)
{
	struct decoded d;

	for (uint32_t n = 0; n <= b->len; n++) {
		enum decode_status got = decode_guarded(link, b, n, &d);
		enum decode_status want = n < headers_end ? DECODE_MALFORMED : DECODE_IP;

		if (got != want)
			fail_msg("link %d, cut at %u of %u: status %d, expected %d", link, n, b->len, got, want);
		if (got == DECODE_IP)
			assert_true(d.payload + d.payload_len <= guard_end());
	}
}

static void test_truncation_at_every_boundary(void **state)
{
	static const uint8_t sll[14] = { 0, 0, 0, 1, 0, 6 };
	struct pkb b;

	(void)state;
	pkb_init(&b);
	pkb_ether(&b, 0x8100);
	pkb_vlan(&b, 5, 0x0800);
	pkb_ipv4(&b, client4, nas4, 6, 1, 0, 8);
	pkb_tcp(&b, 1, 2, 0x02, 0, 0);
	pkb_bytes(&b, "payload", 7);
	pkb_finish(&b);
	check_every_truncation(DLT_EN10MB, &b, 14 + 4 + 28 + 20);

	pkb_init(&b);
	pkb_bytes(&b, sll, sizeof(sll));
	pkb_be16(&b, 0x86dd);
	pkb_ipv6(&b, client6, nas6, 0);
	pkb_ipv6_ext(&b, 44, 0);
	pkb_ipv6_frag(&b, 17, 0, 1, 9);
	pkb_udp(&b, 3, 4);
	pkb_bytes(&b, "x", 1);
	pkb_finish(&b);
	check_every_truncation(DLT_LINUX_SLL, &b, 16 + 40 + 8 + 8 + 8);

	pkb_init(&b);
	pkb_be32(&b, 2);
	pkb_ipv4(&b, nas4, client4, 41, 1, 0, 0);
	pkb_ipv6(&b, client6, nas6, 58);
	pkb_icmp(&b, 128, 0, 1);
	pkb_finish(&b);
	check_every_truncation(DLT_LOOP, &b, 4 + 20 + 40 + 4);
}

/* A snapshot length cutting the packet at every byte (the wire had it
 * whole): before the ports it is malformed, from the ports to the end of
 * the transport header it decodes as truncated with its ports, after that
 * whole. */
static void check_every_snapshot(int link, const struct pkb *b, uint32_t ports_end,
				 uint32_t headers_end, uint16_t sport, uint16_t dport)
{
	struct decoded d;

	for (uint32_t n = 0; n < b->len; n++) {
		enum decode_status got = decode_packet(link, guard_place(b->data, n), n, b->len, &d);

		if (n < ports_end) {
			assert_int_equal(got, DECODE_MALFORMED);
			continue;
		}
		if (got != DECODE_IP || d.sport != sport || d.dport != dport || d.truncated != (n < headers_end))
			fail_msg("link %d, snapshot %u of %u: status %d, ports %u %u, truncated %d",
				 link, n, b->len, got, d.sport, d.dport, d.truncated);
		assert_true(d.payload + d.payload_len <= guard_end());
	}
}

static void test_snapshot_cuts_keep_the_ports(void **state)
{
	struct pkb b;
	struct decoded d;

	(void)state;
	pkb_init(&b);
	pkb_ether(&b, 0x8100);
	pkb_vlan(&b, 5, 0x86dd);
	pkb_ipv6(&b, client6, nas6, 6);
	pkb_tcp(&b, 50000, 5000, 0x02, 7, 0);
	pkb_bytes(&b, "payload", 7);
	pkb_finish(&b);
	check_every_snapshot(DLT_EN10MB, &b, 18 + 40 + 4, 18 + 40 + 20, 50000, 5000);
	/* the flags, once captured, survive the cut too */
	assert_int_equal(decode_packet(DLT_EN10MB, guard_place(b.data, 18 + 40 + 14), 18 + 40 + 14, b.len,
				       &d), DECODE_IP);
	assert_int_equal(d.tcp_flags, 0x02);
	pkb_init(&b);
	pkb_ipv4(&b, client4, nas4, 17, 1, 0, 0);
	pkb_udp(&b, 40000, 53);
	pkb_bytes(&b, "query", 5);
	pkb_finish(&b);
	check_every_snapshot(DLT_RAW, &b, 20 + 4, 20 + 8, 40000, 53);
	/* the same bytes, whole on the wire as captured: a short header is malformed */
	assert_int_equal(decode_packet(DLT_RAW, guard_place(b.data, 24), 24, 24, &d), DECODE_MALFORMED);
}

/* Random bytes and random mutations of good packets, for every link type:
 * the decoder must only ever return one of its three answers. */
static void test_random_input_is_survived(void **state)
{
	static const int links[] = { DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_NULL, DLT_LOOP,
				     DLT_RAW, DLT_PPP, DLT_PPP_ETHER };
	unsigned seed = 12345;
	struct pkb b;
	struct decoded d;

	(void)state;
	for (int round = 0; round < 20000; round++) {
		int link = links[round % 8];

		pkb_init(&b);
		if (link == DLT_EN10MB)
			pkb_ether(&b, round & 1 ? 0x0800 : 0x86dd);
		if (round & 1)
			tcp4(&b);
		else
			tcp6(&b);
		for (int m = 0; m < 1 + round % 6; m++)
			b.data[(uint32_t)rand_r(&seed) % b.len] = (uint8_t)rand_r(&seed);
		b.len = 1 + (uint32_t)rand_r(&seed) % b.len;
		assert_in_range(decode_whole(link, &b, &d), DECODE_IP, DECODE_MALFORMED);
	}
}

/* ---- routing among engines ---- */

/* decode_route's promise on b: where it routes, its addresses are the
 * decoded ones, and a DNS server's message is routed as maybe one.
 * Returns what decode_route returned. */
static int route_agrees(int link, const struct pkb *b)
{
	struct decode_route r;
	struct decoded d;
	const uint8_t *at = guard_place(b->data, b->len);
	int routed = decode_route(link, at, b->len, &r);

	if (decode_packet(link, at, b->len, b->len, &d) != DECODE_IP)
		return routed;
	if (routed) {
		assert_memory_equal(r.src, d.src, 16);
		assert_memory_equal(r.dst, d.dst, 16);
		if (inspect_is_dns_message(&d))
			assert_true(r.maybe_dns);
		assert_int_equal(r.first_fragment, d.fragment == FRAG_FIRST);
	}
	return routed;
}

static void test_route_agrees_with_decode(void **state)
{
	static const uint8_t inner4[4] = { 10, 9, 8, 7 };
	struct decode_route r;
	struct pkb b;
	unsigned seed = 777;

	(void)state;
	pkb_init(&b);	/* plain TCP: routed by its addresses */
	pkb_ether(&b, 0x0800);
	tcp4(&b);
	assert_true(route_agrees(DLT_EN10MB, &b));
	assert_int_equal(decode_route(DLT_EN10MB, b.data, b.len, &r), 1);
	assert_false(r.maybe_dns);

	pkb_init(&b);	/* a DNS answer behind a VLAN tag: maybe DNS */
	pkb_ether(&b, 0x8100);
	pkb_vlan(&b, 7, 0x0800);
	pkb_ipv4(&b, nas4, client4, 17, 1, 0, 0);
	pkb_udp(&b, 53, 40000);
	pkb_dns_message(&b, 1, "nas.example", NULL, nas4);
	pkb_finish(&b);
	assert_true(route_agrees(DLT_EN10MB, &b));
	assert_int_equal(decode_route(DLT_EN10MB, b.data, b.len, &r), 1);
	assert_true(r.maybe_dns);

	pkb_init(&b);	/* VXLAN: its inner addresses route it, decoded */
	pkb_ether(&b, 0x0800);
	pkb_ipv4(&b, client4, nas4, 17, 2, 0, 0);
	pkb_udp(&b, 40000, 4789);
	pkb_be32(&b, 0x08000000);
	pkb_be32(&b, 0x00001200);
	pkb_ether(&b, 0x0800);
	pkb_ipv4(&b, inner4, nas4, 6, 3, 0, 0);
	pkb_tcp(&b, 1234, 5000, 0x02, 1, 0);
	pkb_finish(&b);
	assert_false(route_agrees(DLT_EN10MB, &b));

	pkb_init(&b);	/* IPv6, and other link types: decoded */
	tcp6(&b);
	assert_false(route_agrees(DLT_RAW, &b));

	pkb_init(&b);	/* a first fragment: every engine remembers its ports */
	pkb_ether(&b, 0x0800);
	pkb_ipv4(&b, nas4, client4, 17, 9, 0x2000, 0);
	pkb_udp(&b, 53, 40000);
	pkb_bytes(&b, payload, sizeof(payload) - 1);
	pkb_finish(&b);
	assert_true(route_agrees(DLT_EN10MB, &b));
	assert_int_equal(decode_route(DLT_EN10MB, b.data, b.len, &r), 1);
	assert_true(r.first_fragment);

	pkb_init(&b);	/* a later fragment: routed by its addresses, no DNS */
	pkb_ether(&b, 0x0800);
	pkb_ipv4(&b, nas4, client4, 17, 9, 0x0010, 0);
	pkb_bytes(&b, payload, sizeof(payload) - 1);
	pkb_finish(&b);
	assert_true(route_agrees(DLT_EN10MB, &b));
	assert_int_equal(decode_route(DLT_EN10MB, b.data, b.len, &r), 1);
	assert_false(r.maybe_dns);

	for (int round = 0; round < 20000; round++) {	/* spoilt and cut anywhere */
		pkb_init(&b);
		pkb_ether(&b, round & 2 ? 0x8100 : 0x0800);
		if (round & 2)
			pkb_vlan(&b, 5, 0x0800);
		pkb_ipv4(&b, client4, nas4, round & 1 ? 17 : 6, 4, 0, 0);
		if (round & 1)
			pkb_udp(&b, round & 4 ? 53 : 4789, 40000);
		else
			pkb_tcp(&b, 53, 40000, 0x18, 1, 1);
		pkb_bytes(&b, payload, sizeof(payload) - 1);
		pkb_finish(&b);
		for (int m = 0; m < round % 4; m++)
			b.data[(uint32_t)rand_r(&seed) % b.len] = (uint8_t)rand_r(&seed);
		b.len = 1 + (uint32_t)rand_r(&seed) % b.len;
		route_agrees(DLT_EN10MB, &b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ethernet_and_vlan_stacks),
		cmocka_unit_test(test_non_ip_frames),
		cmocka_unit_test(test_cooked_loopback_raw_ppp),
		cmocka_unit_test(test_ipv4_options_and_padding),
		cmocka_unit_test(test_ipv4_bad_headers),
		cmocka_unit_test(test_ipv6_extension_chain),
		cmocka_unit_test(test_fragments),
		cmocka_unit_test(test_tunnels),
		cmocka_unit_test(test_truncation_at_every_boundary),
		cmocka_unit_test(test_snapshot_cuts_keep_the_ports),
		cmocka_unit_test(test_udp_and_gre_tunnels),
		cmocka_unit_test(test_random_input_is_survived),
		cmocka_unit_test(test_route_agrees_with_decode),
	};

	return cmocka_run_group_tests(tests, guard_setup, guard_teardown);
}
