/* pktbuild.h - building packets byte by byte, for the tests and the capture
 * generator: link header, tags, IP (with tunnels and extension headers),
 * transport, payload; pkb_finish() fills in every length and checksum.
 * Not part of dsmflow itself: it only ever writes packets. */
#ifndef DSMFLOW_PKTBUILD_H
#define DSMFLOW_PKTBUILD_H

#include <stddef.h>
#include <stdint.h>

#define PKB_MAX 9000
#define PKB_MAX_OPEN 8

enum pkb_layer { PKB_IPV4, PKB_IPV6, PKB_UDP, PKB_TCP, PKB_ICMP, PKB_ICMPV6 };

struct pkb {
	uint8_t data[PKB_MAX];
	uint32_t len;
	struct {
		uint8_t layer;
		uint32_t off;
	} open[PKB_MAX_OPEN];	/* headers whose lengths pkb_finish() fills */
	int open_count;
};

void pkb_init(struct pkb *b);
void pkb_bytes(struct pkb *b, const void *bytes, uint32_t n);
void pkb_u8(struct pkb *b, uint8_t v);
void pkb_be16(struct pkb *b, uint16_t v);
void pkb_be32(struct pkb *b, uint32_t v);

void pkb_ether(struct pkb *b, uint16_t ethertype);
/* A VLAN tag: vid, then the EtherType of what follows. */
void pkb_vlan(struct pkb *b, uint16_t vid, uint16_t next_type);

/* IPv4 with options of opt_len bytes (a multiple of 4); frag is the flags and
 * fragment offset field (0x2000 more fragments, offset in 8-byte units). */
void pkb_ipv4(struct pkb *b, const uint8_t src[4], const uint8_t dst[4], uint8_t proto,
	      uint16_t id, uint16_t frag, uint32_t opt_len);
void pkb_ipv6(struct pkb *b, const uint8_t src[16], const uint8_t dst[16], uint8_t next);
/* An IPv6 extension header of (len8 + 1) * 8 bytes (hop-by-hop, routing,
 * destination options). */
void pkb_ipv6_ext(struct pkb *b, uint8_t next, uint8_t len8);
void pkb_ipv6_frag(struct pkb *b, uint8_t next, uint16_t offset8, int more, uint32_t id);

void pkb_tcp(struct pkb *b, uint16_t sport, uint16_t dport, uint8_t flags, uint32_t seq,
	     uint32_t ack);
void pkb_udp(struct pkb *b, uint16_t sport, uint16_t dport);
void pkb_icmp(struct pkb *b, uint8_t type, uint8_t code, int v6);

/* Fills in the lengths and checksums of every open header. */
void pkb_finish(struct pkb *b);

/* ---- payloads ---- */

/* A TLS 1.3 ClientHello record as today's clients send it: 16 cipher
 * suites, ALPN h2 and http/1.1, supported groups and versions, a key share
 * of key_share bytes (1216 + 32 for X25519MLKEM768: a 1.8 KB hello), and
 * the server name, when not NULL, as the last extension (the first when
 * name_first). */
void pkb_tls_client_hello(struct pkb *b, const char *server_name, uint32_t key_share,
			  int name_first);

/* A DNS message for name (type A, class IN), id id: the query when addr is
 * NULL, else the response: name CNAME cname (when not NULL), then an A
 * record addr for the last name of the chain (compressed names). */
void pkb_dns_message(struct pkb *b, uint16_t id, const char *name, const char *cname,
		     const uint8_t addr[4]);

#endif
