/* decode.c - bounds-checked parsing of link, IP and transport headers.
 *
 * Every byte is read through struct cursor (cursor.h): cur_take() is the
 * one place that checks a header lies inside the captured bytes, and each
 * parser reads only the block cur_take() returned. Packet bytes are never
 * cast to host structs (a VLAN tag leaves IP unaligned), and lengths from
 * headers only ever shrink the cursor, never extend it past the capture.
 */
#include <stdio.h>
#include <string.h>

#include <netinet/in.h>
#include <pcap/dlt.h>

#include "dsmflow/cursor.h"
#include "dsmflow/decode.h"

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_VLAN 0x8100
#define ETHERTYPE_QINQ 0x88a8
#define ETHERTYPE_QINQ_OLD 0x9100
#define ETHERTYPE_MPLS 0x8847
#define ETHERTYPE_MPLS_MC 0x8848
#define ETHERTYPE_PPPOE 0x8864
#define PPP_IPV4 0x0021
#define PPP_IPV6 0x0057
#define MAX_VLAN_TAGS 8
#define MAX_MPLS_LABELS 8
#define MAX_IPV6_EXTENSIONS 16

#define VXLAN_PORT 4789
#define GENEVE_PORT 6081
#define GTP_U_PORT 2152
#define TEREDO_PORT 3544
#define IPPROTO_GRE_ 47
#define ETHERTYPE_TEB 0x6558		/* transparent Ethernet bridging */
#define ETHERTYPE_ERSPAN_1_2 0x88be
#define ETHERTYPE_ERSPAN_3 0x22eb
#define ETHERTYPE_PPP 0x880b
#define DLT_C_HDLC_ 104

static enum decode_status decode_ipv4(struct cursor *c, struct decoded *out);
static enum decode_status decode_ipv6(struct cursor *c, struct decoded *out);
static enum decode_status decode_ip(struct cursor *c, struct decoded *out);
static enum decode_status decode_ethernet(struct cursor *c, struct decoded *out);
static enum decode_status decode_ethertype(struct cursor *c, uint16_t type, struct decoded *out);
static enum decode_status decode_ppp(struct cursor *c, struct decoded *out);

/* ---- transport ---- */

/* A transport header the snapshot length cut (not one the IP length says
 * is short: that is malformed): what was captured of it still names the
 * ports, and TCP's flags and sequence number when they were captured. */
static enum decode_status decode_cut_transport(struct cursor *c, int tcp, struct decoded *out)
{
	const uint8_t *h = cur_peek(c, 4);

	if (!out->cut || !h)
		return DECODE_MALFORMED;
	out->sport = rd_be16(h);
	out->dport = rd_be16(h + 2);
	if (tcp && (h = cur_peek(c, 8)))
		out->tcp_seq = rd_be32(h + 4);
	if (tcp && (h = cur_peek(c, 14)))
		out->tcp_flags = h[13];
	out->truncated = 1;
	cur_skip(c, cur_remaining(c));
	return DECODE_IP;
}

static enum decode_status decode_tcp(struct cursor *c, struct decoded *out)
{
	const uint8_t *h = cur_peek(c, 20);
	uint32_t header_len;

	if (!h)
		return decode_cut_transport(c, 1, out);
	header_len = (uint32_t)(h[12] >> 4) * 4;
	if (header_len < 20)
		return DECODE_MALFORMED;
	if (!cur_take(c, header_len))
		return decode_cut_transport(c, 1, out);	/* the options were cut */
	out->sport = rd_be16(h);
	out->dport = rd_be16(h + 2);
	out->tcp_flags = h[13];
	out->tcp_seq = rd_be32(h + 4);
	return DECODE_IP;
}

static enum decode_status decode_udp(struct cursor *c, struct decoded *out)
{
	const uint8_t *h = cur_take(c, 8);
	uint16_t length;

	if (!h)
		return decode_cut_transport(c, 0, out);
	out->sport = rd_be16(h);
	out->dport = rd_be16(h + 2);
	length = rd_be16(h + 4);
	if (length >= 8)	/* 0 is legal for jumbograms; smaller is ignored like tcpdump */
		cur_limit(c, length - 8u);
	return DECODE_IP;
}

/* ---- tunnels ---- */

/* A tunnel decoder returns -1 when the packet is not its tunnel, else the
 * inner packet's status (enumerators 0..DECODE_MALFORMED and beyond, all
 * small): the one place that status becomes that int. */
static int inner_status(enum decode_status status)
{
	return (int)status;
}

/* Enters one more tunnel of kind: the packet is the inner one from here. 0
 * when tunnels nest too deep. */
static int enter_tunnel(struct decoded *out, enum decode_tunnel kind)
{
	if (++out->tunnels > DECODE_MAX_TUNNELS)
		return 0;
	if (out->tunnel == TUNNEL_NONE)
		out->tunnel = (uint8_t)kind;
	out->sport = out->dport = 0;
	out->tcp_flags = 0;
	return 1;
}

static uint16_t fold_vni(const uint8_t *vni)
{
	uint32_t v = rd_be24(vni);

	return (uint16_t)(v ^ (v >> 16));
}

/* VXLAN: 8 bytes (flags with I, the identifier), then an Ethernet frame. */
static int decode_vxlan(struct cursor *c, struct decoded *out)
{
	const uint8_t *h = cur_peek(c, 8);

	if (!h || !(h[0] & 0x08))
		return -1;
	cur_take(c, 8);
	if (!enter_tunnel(out, TUNNEL_VXLAN))
		return DECODE_MALFORMED;
	out->tenant = fold_vni(h + 4);
	return inner_status(decode_ethernet(c, out));
}

/* GENEVE: 8 bytes and options, then what its protocol type says. */
static int decode_geneve(struct cursor *c, struct decoded *out)
{
	const uint8_t *h = cur_peek(c, 8);
	uint16_t type;

	if (!h || h[0] >> 6 != 0)
		return -1;
	type = rd_be16(h + 2);
	if (type != ETHERTYPE_TEB && type != ETHERTYPE_IPV4 && type != ETHERTYPE_IPV6)
		return -1;
	if (!cur_take(c, 8 + (uint32_t)(h[0] & 0x3f) * 4) || !enter_tunnel(out, TUNNEL_GENEVE))
		return DECODE_MALFORMED;
	out->tenant = fold_vni(h + 4);
	return inner_status(type == ETHERTYPE_TEB ? decode_ethernet(c, out) : decode_ip(c, out));
}

/* GTP-U: version 1 G-PDUs, their optional fields and extension headers,
 * then an IP packet. */
static int decode_gtp(struct cursor *c, struct decoded *out)
{
	struct cursor at = *c;
	const uint8_t *h = cur_take(&at, 8), *more, *ip;
	uint8_t next = 0;

	if (!h || h[0] >> 5 != 1 || !(h[0] & 0x10) || h[1] != 0xff)
		return -1;
	if (h[0] & 0x07) {	/* sequence number, N-PDU number, next extension type */
		if (!(more = cur_take(&at, 4)))
			return DECODE_MALFORMED;
		next = (h[0] & 0x04) ? more[3] : 0;
	}
	for (int i = 0; next && i < 8; i++) {	/* each: length in 4-byte units, ..., next type */
		const uint8_t *len = cur_peek(&at, 1), *ext;

		if (!len || !*len || !(ext = cur_take(&at, (uint32_t)*len * 4)))
			return DECODE_MALFORMED;
		next = ext[(uint32_t)*len * 4 - 1];
	}
	ip = cur_peek(&at, 1);
	if (next || !ip || (ip[0] >> 4 != 4 && ip[0] >> 4 != 6))
		return -1;	/* not a user packet: GTP signalling rides on it too */
	*c = at;
	return inner_status(enter_tunnel(out, TUNNEL_GTP) ? decode_ip(c, out) : DECODE_MALFORMED);
}

/* Teredo: an IPv6 packet, after an authentication or origin indication
 * header when present. */
static int decode_teredo(struct cursor *c, struct decoded *out)
{
	struct cursor at = *c;
	const uint8_t *h = cur_peek(&at, 2), *auth, *ip;

	if (h && h[0] == 0 && h[1] == 1) {	/* authentication: id and key lengths, nonce, confirmation */
		auth = cur_take(&at, 4);
		if (!auth || !cur_take(&at, (uint32_t)auth[2] + auth[3] + 9))
			return -1;
		h = cur_peek(&at, 2);
	}
	if (h && h[0] == 0 && h[1] == 0 && !cur_take(&at, 8))	/* origin indication */
		return -1;
	ip = cur_peek(&at, 40);
	if (!ip || ip[0] >> 4 != 6)
		return -1;	/* a bubble or a qualification: the UDP flow itself */
	*c = at;
	return inner_status(enter_tunnel(out, TUNNEL_TEREDO) ? decode_ipv6(c, out) : DECODE_MALFORMED);
}

/* A UDP payload that is a tunnel's: the inner packet's status, or -1 when
 * the datagram is no tunnel's (it stays the UDP flow it is). */
static int decode_udp_tunnel(struct cursor *c, struct decoded *out)
{
	uint16_t sport = out->sport, dport = out->dport;

	if (dport == VXLAN_PORT)
		return decode_vxlan(c, out);
	if (dport == GENEVE_PORT)
		return decode_geneve(c, out);
	if (dport == GTP_U_PORT || sport == GTP_U_PORT)
		return decode_gtp(c, out);
	if (dport == TEREDO_PORT || sport == TEREDO_PORT)
		return decode_teredo(c, out);
	return -1;
}

/* ERSPAN inside GRE: type I (no header, and GRE without a sequence number),
 * II (8 bytes) or III (12, and 8 more with the O flag), then the mirrored
 * Ethernet frame. */
static int decode_erspan(struct cursor *c, uint16_t type, int sequenced, struct decoded *out)
{
	const uint8_t *h;

	if (type == ETHERTYPE_ERSPAN_3) {
		if (!(h = cur_take(c, 12)) || ((h[11] & 0x01) && !cur_take(c, 8)))
			return DECODE_MALFORMED;
	} else if (sequenced && !cur_take(c, 8)) {
		return DECODE_MALFORMED;
	}
	return inner_status(enter_tunnel(out, TUNNEL_ERSPAN) ? decode_ethernet(c, out) : DECODE_MALFORMED);
}

/* GRE (RFC 2784, 2890; version 1: PPTP's, with PPP inside): the inner
 * packet's status, or -1 when it carries nothing the decoder reads. */
static int decode_gre(struct cursor *c, struct decoded *out)
{
	const uint8_t *h = cur_peek(c, 4);
	uint16_t flags, type;
	uint32_t len = 4;

	if (!h)
		return -1;
	flags = rd_be16(h);
	type = rd_be16(h + 2);
	if ((flags & 0x4000) || (flags & 7) > 1)
		return -1;	/* source routing, or a version that is not 0 or 1 */
	len += (flags & 0x8000) ? 4 : 0;	/* checksum */
	len += (flags & 0x2000) ? 4 : 0;	/* key (PPTP: payload length and call id) */
	len += (flags & 0x1000) ? 4 : 0;	/* sequence number */
	len += ((flags & 7) == 1 && (flags & 0x0080)) ? 4 : 0;	/* PPTP's acknowledgement */
	if (!cur_take(c, len))
		return DECODE_MALFORMED;
	switch (type) {
	case ETHERTYPE_ERSPAN_1_2:
	case ETHERTYPE_ERSPAN_3:
		return decode_erspan(c, type, (flags & 0x1000) != 0, out);
	case ETHERTYPE_PPP:
		return inner_status(enter_tunnel(out, TUNNEL_GRE) ? decode_ppp(c, out) : DECODE_MALFORMED);
	case ETHERTYPE_TEB:
		return inner_status(enter_tunnel(out, TUNNEL_GRE) ? decode_ethernet(c, out) : DECODE_MALFORMED);
	case ETHERTYPE_IPV4:
	case ETHERTYPE_IPV6:
		return inner_status(enter_tunnel(out, TUNNEL_GRE) ? decode_ethertype(c, type, out) : DECODE_MALFORMED);
	default:
		return -1;
	}
}

/* Decodes what a UDP or GRE payload tunnels (with open, which returns -1
 * when it is no tunnel): 1 with *status the inner packet's, 0 to go on with
 * the outer packet. A tunnelled packet the snapshot length cut before the
 * inner ports is counted by the outer ones, as truncated. */
static int decode_tunnel(struct cursor *c, struct decoded *out,
			 int (*open)(struct cursor *, struct decoded *), enum decode_status *status)
{
	struct decoded outer = *out;
	struct cursor at = *c;
	int inner = open(c, out);

	if (inner < 0)
		return 0;
	if (inner == DECODE_MALFORMED && outer.frame_cut) {
		*out = outer;
		*c = at;
		out->truncated = 1;
		return 0;
	}
	*status = (enum decode_status)inner;
	return 1;
}

const char *decode_ip_proto_name(uint8_t proto, char *buf, size_t size)
{
	switch (proto) {
	case IPPROTO_TCP: return "tcp";
	case IPPROTO_UDP: return "udp";
	case IPPROTO_ICMP: return "icmp";
	case IPPROTO_ICMPV6: return "icmpv6";
	default: snprintf(buf, size, "ip-%u", proto); return buf;
	}
}

const char *decode_tunnel_name(enum decode_tunnel t)
{
	static const char *const names[] = {
		[TUNNEL_IPIP] = "ipip", [TUNNEL_GRE] = "gre", [TUNNEL_ERSPAN] = "erspan",
		[TUNNEL_VXLAN] = "vxlan", [TUNNEL_GENEVE] = "geneve", [TUNNEL_GTP] = "gtp",
		[TUNNEL_TEREDO] = "teredo",
	};

	return (unsigned)t < sizeof(names) / sizeof(names[0]) ? names[t] : NULL;
}

static enum decode_status decode_icmp(struct cursor *c, struct decoded *out)
{
	/* type, code and checksum; the rest varies by type and is not needed */
	if (cur_take(c, 4))
		return DECODE_IP;
	out->truncated = out->cut;	/* no ports to lose */
	return out->cut ? DECODE_IP : DECODE_MALFORMED;
}

/* Decodes what follows an IP header whose protocol is proto. */
static enum decode_status decode_transport(struct cursor *c, uint8_t proto, struct decoded *out)
{
	enum decode_status status = DECODE_IP;

	out->ip_proto = proto;
	if (out->fragment == FRAG_LATER)
		return DECODE_IP;	/* no transport header in this fragment */
	switch (proto) {
	case IPPROTO_TCP: status = decode_tcp(c, out); break;
	case IPPROTO_UDP:
		status = decode_udp(c, out);
		if (status == DECODE_IP && out->fragment == FRAG_NONE && !out->truncated &&
		    decode_tunnel(c, out, decode_udp_tunnel, &status))
			return status;
		break;
	case IPPROTO_GRE_:
		if (out->fragment == FRAG_NONE && decode_tunnel(c, out, decode_gre, &status))
			return status;
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6: status = decode_icmp(c, out); break;
	case IPPROTO_IPIP:
	case IPPROTO_IPV6:
		if (out->fragment != FRAG_NONE)
			return DECODE_IP;	/* a fragmented tunnel: the outer header is all we have */
		if (!enter_tunnel(out, TUNNEL_IPIP))
			return DECODE_MALFORMED;
		return proto == IPPROTO_IPIP ? decode_ipv4(c, out) : decode_ipv6(c, out);
	default: break;
	}
	out->payload = c->p + c->off;
	out->payload_len = cur_remaining(c);
	return status;
}

/* ---- IP ---- */

static enum decode_status decode_ipv4(struct cursor *c, struct decoded *out)
{
	const uint8_t *h = cur_peek(c, 20);
	uint32_t header_len, total_len;
	uint16_t frag;

	if (!h || h[0] >> 4 != 4)
		return DECODE_MALFORMED;
	header_len = (uint32_t)(h[0] & 0x0f) * 4;
	total_len = rd_be16(h + 2);
	if (header_len < 20 || total_len < header_len || !cur_take(c, header_len))
		return DECODE_MALFORMED;
	out->cut = out->frame_cut && total_len - header_len > cur_remaining(c);
	cur_limit(c, total_len - header_len);	/* drops Ethernet padding */
	out->family = 4;
	memset(out->src, 0, sizeof(out->src));
	memset(out->dst, 0, sizeof(out->dst));
	memcpy(out->src, h + 12, 4);
	memcpy(out->dst, h + 16, 4);
	frag = rd_be16(h + 6);
	out->frag_id = rd_be16(h + 4);
	if (frag & 0x1fff)
		out->fragment = FRAG_LATER;
	else if (frag & 0x2000)
		out->fragment = FRAG_FIRST;
	else
		out->fragment = FRAG_NONE;
	return decode_transport(c, h[9], out);
}

/* Skips IPv6 extension headers; returns the upper-layer protocol, or -1. */
static int skip_ipv6_extensions(struct cursor *c, uint8_t next, struct decoded *out)
{
	for (int i = 0; i < MAX_IPV6_EXTENSIONS; i++) {
		const uint8_t *h;
		uint32_t len;

		switch (next) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
		case 135:	/* mobility */
		case 139:	/* HIP */
		case 140:	/* shim6 */
			h = cur_peek(c, 8);
			len = h ? ((uint32_t)h[1] + 1) * 8 : 0;
			break;
		case IPPROTO_AH:
			h = cur_peek(c, 8);
			len = h ? ((uint32_t)h[1] + 2) * 4 : 0;
			break;
		case IPPROTO_FRAGMENT:
			h = cur_peek(c, 8);
			len = 8;
			if (h) {
				uint16_t off_flags = rd_be16(h + 2);

				out->frag_id = rd_be32(h + 4);
				if (off_flags & 0xfff8)
					out->fragment = FRAG_LATER;
				else if (off_flags & 1)
					out->fragment = FRAG_FIRST;
			}
			break;
		default:
			return next;
		}
		if (!h || !cur_take(c, len))
			return -1;
		next = h[0];
	}
	return -1;	/* a chain this long is an attack or garbage */
}

static enum decode_status decode_ipv6(struct cursor *c, struct decoded *out)
{
	const uint8_t *h = cur_take(c, 40);
	uint16_t payload_len;
	int proto;

	if (!h || h[0] >> 4 != 6)
		return DECODE_MALFORMED;
	payload_len = rd_be16(h + 4);
	out->cut = out->frame_cut && payload_len > cur_remaining(c);
	if (payload_len)	/* 0: a jumbogram, whose length is in an option */
		cur_limit(c, payload_len);
	out->family = 6;
	memcpy(out->src, h + 8, 16);
	memcpy(out->dst, h + 24, 16);
	out->fragment = FRAG_NONE;
	proto = skip_ipv6_extensions(c, h[6], out);
	if (proto < 0)
		return DECODE_MALFORMED;
	return decode_transport(c, (uint8_t)proto, out);
}

/* An IP packet of either version, told by its first nibble. */
static enum decode_status decode_ip(struct cursor *c, struct decoded *out)
{
	const uint8_t *h = cur_peek(c, 1);

	if (!h)
		return DECODE_MALFORMED;
	switch (h[0] >> 4) {
	case 4: return decode_ipv4(c, out);
	case 6: return decode_ipv6(c, out);
	default: return DECODE_MALFORMED;
	}
}

/* ---- link layers ---- */

static enum decode_status decode_ppp_protocol(struct cursor *c, uint16_t proto, struct decoded *out)
{
	if (proto == PPP_IPV4)
		return decode_ipv4(c, out);
	if (proto == PPP_IPV6)
		return decode_ipv6(c, out);
	return DECODE_NON_IP;
}

static enum decode_status decode_pppoe(struct cursor *c, struct decoded *out)
{
	const uint8_t *h = cur_take(c, 8);	/* ver/type, code, session, length, PPP protocol */

	if (!h)
		return DECODE_MALFORMED;
	return decode_ppp_protocol(c, rd_be16(h + 6), out);
}

static enum decode_status decode_mpls(struct cursor *c, struct decoded *out)
{
	for (int i = 0; i < MAX_MPLS_LABELS; i++) {
		const uint8_t *label = cur_take(c, 4);

		if (!label)
			return DECODE_MALFORMED;
		if (label[2] & 1)	/* bottom of stack: MPLS carries no type, guess by version */
			return decode_ip(c, out);
	}
	return DECODE_MALFORMED;
}

/* Dispatches on an EtherType, following VLAN tags. */
static enum decode_status decode_ethertype(struct cursor *c, uint16_t type, struct decoded *out)
{
	for (int tags = 0; tags <= MAX_VLAN_TAGS; tags++) {
		const uint8_t *tag;

		switch (type) {
		case ETHERTYPE_IPV4: return decode_ipv4(c, out);
		case ETHERTYPE_IPV6: return decode_ipv6(c, out);
		case ETHERTYPE_PPPOE: return decode_pppoe(c, out);
		case ETHERTYPE_MPLS:
		case ETHERTYPE_MPLS_MC: return decode_mpls(c, out);
		case ETHERTYPE_VLAN:
		case ETHERTYPE_QINQ:
		case ETHERTYPE_QINQ_OLD:
			tag = cur_take(c, 4);	/* TCI, then the inner EtherType */
			if (!tag)
				return DECODE_MALFORMED;
			type = rd_be16(tag + 2);
			break;
		default: return DECODE_NON_IP;
		}
	}
	return DECODE_MALFORMED;
}

static enum decode_status decode_ethernet(struct cursor *c, struct decoded *out)
{
	const uint8_t *h = cur_take(c, 14);

	if (!h)
		return DECODE_MALFORMED;
	return decode_ethertype(c, rd_be16(h + 12), out);	/* < 0x0600 is an 802.3 length: non-IP */
}

static enum decode_status decode_sll(struct cursor *c, struct decoded *out)
{
	const uint8_t *h = cur_take(c, 16);

	return h ? decode_ethertype(c, rd_be16(h + 14), out) : DECODE_MALFORMED;
}

static enum decode_status decode_sll2(struct cursor *c, struct decoded *out)
{
	const uint8_t *h = cur_take(c, 20);

	return h ? decode_ethertype(c, rd_be16(h), out) : DECODE_MALFORMED;
}

/* BSD loopback: an address family in the writer's byte order (NULL) or in
 * network order (LOOP). AF_INET6 differs between systems. */
static enum decode_status decode_null(struct cursor *c, struct decoded *out, int network_order)
{
	const uint8_t *h = cur_take(c, 4);
	uint32_t family;

	if (!h)
		return DECODE_MALFORMED;
	if (network_order)
		family = rd_be32(h);
	else
		family = h[0] ? rd_le32(h) : rd_be32(h);
	switch (family) {
	case 2:			/* AF_INET everywhere */
		return decode_ipv4(c, out);
	case 10:		/* AF_INET6: Linux */
	case 24:		/* NetBSD, OpenBSD */
	case 28:		/* FreeBSD */
	case 30:		/* macOS */
		return decode_ipv6(c, out);
	default:
		return DECODE_NON_IP;
	}
}

static enum decode_status decode_ppp(struct cursor *c, struct decoded *out)
{
	const uint8_t *h = cur_peek(c, 2);
	const uint8_t *proto;

	if (h && h[0] == 0xff && h[1] == 0x03)
		cur_take(c, 2);	/* HDLC address and control */
	proto = cur_peek(c, 1);
	if (!proto)
		return DECODE_MALFORMED;
	if (proto[0] & 1) {	/* a compressed one-byte protocol field */
		cur_take(c, 1);
		return decode_ppp_protocol(c, proto[0], out);
	}
	proto = cur_take(c, 2);
	return proto ? decode_ppp_protocol(c, rd_be16(proto), out) : DECODE_MALFORMED;
}

/* Cisco HDLC: address, control, then an EtherType. */
static enum decode_status decode_c_hdlc(struct cursor *c, struct decoded *out)
{
	const uint8_t *h = cur_take(c, 4);

	return h ? decode_ethertype(c, rd_be16(h + 2), out) : DECODE_MALFORMED;
}

/* ---- routing among engines ---- */

static int is_tunnel_port(uint16_t port)
{
	return port == VXLAN_PORT || port == GENEVE_PORT || port == GTP_U_PORT || port == TEREDO_PORT;
}

int decode_route(int link, const uint8_t *frame, uint32_t caplen, struct decode_route *out)
{
	struct cursor c = cur_make(frame, caplen);
	const uint8_t *eth = cur_take(&c, 14), *tag, *ip, *ports;
	uint16_t type;

	if (link != DLT_EN10MB || !eth)
		return 0;
	type = rd_be16(eth + 12);
	if (type == ETHERTYPE_VLAN || type == ETHERTYPE_QINQ) {
		if (!(tag = cur_take(&c, 4)))
			return 0;
		type = rd_be16(tag + 2);
	}
	if (type != ETHERTYPE_IPV4 || !(ip = cur_peek(&c, 20)) || ip[0] >> 4 != 4 || (ip[0] & 0x0f) < 5 ||
	    (ip[9] != IPPROTO_TCP && ip[9] != IPPROTO_UDP) || !cur_take(&c, (uint32_t)(ip[0] & 0x0f) * 4))
		return 0;
	ports = rd_be16(ip + 6) & 0x1fff ? NULL : cur_peek(&c, 4);	/* a later fragment has none */
	if (ports && ip[9] == IPPROTO_UDP && (is_tunnel_port(rd_be16(ports)) || is_tunnel_port(rd_be16(ports + 2))))
		return 0;	/* decoded, its inner addresses may route it */
	memset(out, 0, sizeof(*out));
	memcpy(out->src, ip + 12, 4);
	memcpy(out->dst, ip + 16, 4);
	out->maybe_dns = ports && rd_be16(ports) == DECODE_DNS_PORT;
	out->first_fragment = (rd_be16(ip + 6) & 0x3fff) == 0x2000;	/* more, at offset 0 */
	return 1;
}

int decode_link_supported(int link)
{
	switch (link) {
	case DLT_EN10MB: case DLT_LINUX_SLL: case DLT_LINUX_SLL2: case DLT_NULL:
	case DLT_LOOP: case DLT_RAW: case DLT_IPV4: case DLT_IPV6: case DLT_PPP:
	case DLT_PPP_SERIAL: case DLT_PPP_ETHER: case DLT_C_HDLC_: case DECODE_LINK_IP:
		return 1;
	default:
		return 0;
	}
}

enum decode_status decode_packet(int link, const uint8_t *frame, uint32_t caplen, uint32_t wire_len,
				 struct decoded *out)
{
	struct cursor c = cur_make(frame, caplen);

	out->tunnels = 0;
	out->tunnel = TUNNEL_NONE;
	out->tenant = 0;
	out->tcp_seq = 0;
	out->cut = 0;
	out->frame_cut = caplen < wire_len;
	out->truncated = 0;
	out->tcp_flags = 0;
	out->sport = out->dport = 0;
	out->payload = NULL;
	out->payload_len = 0;
	out->frag_id = 0;
	switch (link) {
	case DLT_EN10MB: return decode_ethernet(&c, out);
	case DLT_LINUX_SLL: return decode_sll(&c, out);
	case DLT_LINUX_SLL2: return decode_sll2(&c, out);
	case DLT_NULL: return decode_null(&c, out, 0);
	case DLT_LOOP: return decode_null(&c, out, 1);
	case DLT_PPP:
	case DLT_PPP_SERIAL: return decode_ppp(&c, out);
	case DLT_PPP_ETHER: return decode_pppoe(&c, out);
	case DLT_C_HDLC_: return decode_c_hdlc(&c, out);
	case DLT_RAW:
	case DLT_IPV4:
	case DLT_IPV6:
	case DECODE_LINK_IP: return decode_ip(&c, out);
	default: return DECODE_NON_IP;
	}
}
