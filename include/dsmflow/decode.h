/* decode.h - from a captured frame to the few header fields a classifier needs.
 *
 * decode_packet() reads link layer, IP (with tunnels and IPv6 extension
 * chains) and the transport header, bounds-checking every read; it copies
 * the addresses and ports out and points at the transport payload in place.
 */
#ifndef DSMFLOW_DECODE_H
#define DSMFLOW_DECODE_H

#include <stddef.h>
#include <stdint.h>

enum decode_status {
	DECODE_IP,		/* an IP packet: struct decoded is filled (truncated tells
				 * whether the snapshot cut its transport header after the ports) */
	DECODE_NON_IP,		/* ARP, LLC, STP, an unknown link type...: nothing to classify */
	DECODE_MALFORMED,	/* a header is inconsistent, or cut before the ports */
};

enum decode_fragment {
	FRAG_NONE,		/* a whole datagram */
	FRAG_FIRST,		/* offset 0, more to come: carries the ports */
	FRAG_LATER,		/* a later fragment: no transport header */
};

/* Link types beyond libpcap's DLT_ values: */
#define DECODE_LINK_IP 0x10000	/* a bare IPv4 or IPv6 packet (NFQUEUE) */

#define DECODE_MAX_TUNNELS 4	/* tunnels nested in one packet decoded before giving up */

/* The tunnels the decoder opens; the flow is the innermost packet's. */
enum decode_tunnel {
	TUNNEL_NONE,
	TUNNEL_IPIP,	/* IPv4 or IPv6 in IPv4 or IPv6 (6in4 among them) */
	TUNNEL_GRE,	/* GRE with IP, Ethernet or (PPTP's) PPP inside */
	TUNNEL_ERSPAN,	/* GRE carrying ERSPAN type I, II or III: a switch's remote mirror */
	TUNNEL_VXLAN,	/* udp/4789 */
	TUNNEL_GENEVE,	/* udp/6081 */
	TUNNEL_GTP,	/* GTP-U, udp/2152 */
	TUNNEL_TEREDO,	/* IPv6 in udp/3544 */
};

struct decoded {
	uint8_t family;		/* 4 or 6: the innermost IP header */
	uint8_t ip_proto;	/* IPPROTO_TCP, _UDP, _ICMP, _ICMPV6, or another */
	uint8_t tcp_flags;	/* TCP only */
	uint8_t fragment;	/* enum decode_fragment */
	uint32_t frag_id;	/* IPv4 identification or IPv6 fragment id */
	uint8_t src[16];	/* IPv4 in the first 4 bytes, rest zero */
	uint8_t dst[16];
	uint16_t sport, dport;	/* 0 where the protocol has no ports */
	uint8_t tunnels;	/* tunnel layers removed */
	uint8_t tunnel;		/* enum decode_tunnel: the outermost one, TUNNEL_NONE for none */
	uint16_t tenant;	/* VXLAN's or GENEVE's network identifier, folded to 16 bits:
				 * tenants may reuse addresses (0: none) */
	uint8_t frame_cut;	/* the capture holds less of the frame than the wire had */
	uint8_t cut;		/* the snapshot length cut the IP payload (the capture holds
				 * less than the IP length says, and less than the wire had) */
	uint8_t truncated;	/* the transport header itself was cut by the capture: its
				 * ports are known (and TCP's flags when captured), no payload */
	uint32_t tcp_seq;	/* TCP only: the sequence number */
	const uint8_t *payload;	/* transport payload, inside the frame */
	uint32_t payload_len;	/* bytes of it captured */
};

/* TCP flag bits of struct decoded.tcp_flags */
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

/* Decodes frame[0..caplen) of link type link (a DLT_ value or
 * DECODE_LINK_IP), a packet of wire_len bytes: caplen < wire_len means the
 * snapshot length cut it, and a transport header cut after its ports is
 * then decoded as truncated rather than malformed. On DECODE_IP, out is
 * filled; otherwise its contents are unspecified. Never reads outside
 * frame[0..caplen). */
enum decode_status decode_packet(int link, const uint8_t *frame, uint32_t caplen, uint32_t wire_len,
				 struct decoded *out);

/* DNS servers' port: their messages fill the DNS table (inspect.h). */
#define DECODE_DNS_PORT 53

/* A packet's route among engines sharing the packets (engine_share): the
 * addresses whose pair names its owner, read without decoding the whole
 * packet, and whether it may be a DNS server's message. */
struct decode_route {
	uint8_t src[16], dst[16];	/* as struct decoded's */
	uint8_t maybe_dns;		/* UDP or TCP from port 53, not a later fragment */
	uint8_t first_fragment;		/* the first of a fragmented datagram's */
};

/* Fills out for the plain cases, Ethernet (one VLAN tag at most) with IPv4
 * carrying TCP or UDP that is no tunnel, where out's addresses are those
 * decode_packet would give; 0 for every other packet (decode it to route
 * it). Reads nothing outside frame[0..caplen). */
int decode_route(int link, const uint8_t *frame, uint32_t caplen, struct decode_route *out);

/* Whether decode_packet understands link type link. */
int decode_link_supported(int link);

/* The name reports give IP protocol proto: "tcp", "udp", "icmp", "icmpv6",
 * or "ip-N" written into buf. The one table of IP protocol names. */
const char *decode_ip_proto_name(uint8_t proto, char *buf, size_t size);

/* "ipip", "gre", "erspan", "vxlan", "geneve", "gtp", "teredo"; NULL for none. */
const char *decode_tunnel_name(enum decode_tunnel t);

#endif
