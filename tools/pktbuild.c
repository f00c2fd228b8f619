/* pktbuild.c - see pktbuild.h. Writes are bounded by PKB_MAX: a packet that
 * would not fit is cut, which only a broken test would ask for. */
#include <string.h>

#include "pktbuild.h"

void pkb_init(struct pkb *b)
{
	b->len = 0;
	b->open_count = 0;
}

void pkb_bytes(struct pkb *b, const void *bytes, uint32_t n)
{
	if (n > PKB_MAX - b->len)
		n = PKB_MAX - b->len;
	if (n == 0)
		return;	/* bytes may be NULL then */
	memcpy(b->data + b->len, bytes, n);
	b->len += n;
}

void pkb_u8(struct pkb *b, uint8_t v)
{
	pkb_bytes(b, &v, 1);
}

void pkb_be16(struct pkb *b, uint16_t v)
{
	uint8_t x[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	pkb_bytes(b, x, 2);
}

void pkb_be32(struct pkb *b, uint32_t v)
{
	pkb_be16(b, (uint16_t)(v >> 16));
	pkb_be16(b, (uint16_t)v);
}

static void push(struct pkb *b, enum pkb_layer layer)
{
	if (b->open_count < PKB_MAX_OPEN) {
		b->open[b->open_count].layer = (uint8_t)layer;
		b->open[b->open_count].off = b->len;
		b->open_count++;
	}
}

void pkb_ether(struct pkb *b, uint16_t ethertype)
{
	static const uint8_t macs[12] = { 0x00, 0x11, 0x32, 0x0a, 0x0b, 0x0c,	/* Synology OUI */
					  0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };

	pkb_bytes(b, macs, sizeof(macs));
	pkb_be16(b, ethertype);
}

void pkb_vlan(struct pkb *b, uint16_t vid, uint16_t next_type)
{
	pkb_be16(b, vid & 0x0fff);
	pkb_be16(b, next_type);
}

void pkb_ipv4(struct pkb *b, const uint8_t src[4], const uint8_t dst[4], uint8_t proto,
	      uint16_t id, uint16_t frag, uint32_t opt_len)
{
	push(b, PKB_IPV4);
	pkb_u8(b, (uint8_t)(0x40 | (5 + opt_len / 4)));
	pkb_u8(b, 0);
	pkb_be16(b, 0);	/* total length: pkb_finish */
	pkb_be16(b, id);
	pkb_be16(b, frag);
	pkb_u8(b, 64);
	pkb_u8(b, proto);
	pkb_be16(b, 0);	/* checksum: pkb_finish */
	pkb_bytes(b, src, 4);
	pkb_bytes(b, dst, 4);
	for (uint32_t i = 0; i < opt_len; i++)
		pkb_u8(b, 1);	/* NOP options */
}

void pkb_ipv6(struct pkb *b, const uint8_t src[16], const uint8_t dst[16], uint8_t next)
{
	push(b, PKB_IPV6);
	pkb_be32(b, 0x60000000);
	pkb_be16(b, 0);	/* payload length: pkb_finish */
	pkb_u8(b, next);
	pkb_u8(b, 64);
	pkb_bytes(b, src, 16);
	pkb_bytes(b, dst, 16);
}

void pkb_ipv6_ext(struct pkb *b, uint8_t next, uint8_t len8)
{
	pkb_u8(b, next);
	pkb_u8(b, len8);
	pkb_be16(b, 0x0104);	/* a PadN option filling the rest */
	for (uint32_t i = 4; i < ((uint32_t)len8 + 1) * 8; i++)
		pkb_u8(b, 0);
}

void pkb_ipv6_frag(struct pkb *b, uint8_t next, uint16_t offset8, int more, uint32_t id)
{
	pkb_u8(b, next);
	pkb_u8(b, 0);
	pkb_be16(b, (uint16_t)(offset8 << 3 | (more ? 1 : 0)));
	pkb_be32(b, id);
}

void pkb_tcp(struct pkb *b, uint16_t sport, uint16_t dport, uint8_t flags, uint32_t seq,
	     uint32_t ack)
{
	push(b, PKB_TCP);
	pkb_be16(b, sport);
	pkb_be16(b, dport);
	pkb_be32(b, seq);
	pkb_be32(b, ack);
	pkb_u8(b, 5 << 4);
	pkb_u8(b, flags);
	pkb_be16(b, 64240);
	pkb_be16(b, 0);	/* checksum: pkb_finish */
	pkb_be16(b, 0);
}

void pkb_udp(struct pkb *b, uint16_t sport, uint16_t dport)
{
	push(b, PKB_UDP);
	pkb_be16(b, sport);
	pkb_be16(b, dport);
	pkb_be16(b, 0);	/* length: pkb_finish */
	pkb_be16(b, 0);	/* checksum: pkb_finish */
}

void pkb_icmp(struct pkb *b, uint8_t type, uint8_t code, int v6)
{
	push(b, v6 ? PKB_ICMPV6 : PKB_ICMP);
	pkb_u8(b, type);
	pkb_u8(b, code);
	pkb_be16(b, 0);	/* checksum: pkb_finish */
	pkb_be32(b, 0x12340001);	/* echo identifier and sequence */
}

static uint32_t sum16(const uint8_t *p, uint32_t n, uint32_t sum)
{
	for (uint32_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* The checksum of a transport segment at off, using the IP header ip
 * (the nearest enclosing one) for the pseudo-header. */
static uint16_t transport_checksum(const struct pkb *b, int ip, uint32_t off, uint8_t proto)
{
	const uint8_t *h = b->data + b->open[ip].off;
	uint32_t n = b->len - off, sum = 0;

	if (b->open[ip].layer == PKB_IPV4)
		sum = sum16(h + 12, 8, 0);
	else
		sum = sum16(h + 8, 32, 0);
	sum += proto + n;
	return fold(sum16(b->data + off, n, sum));
}

void pkb_finish(struct pkb *b)
{
	for (int i = b->open_count - 1; i >= 0; i--) {
		uint32_t off = b->open[i].off;
		uint8_t *h = b->data + off;
		uint32_t n = b->len - off;
		int ip = i - 1;

		while (ip >= 0 && b->open[ip].layer != PKB_IPV4 && b->open[ip].layer != PKB_IPV6)
			ip--;
		switch (b->open[i].layer) {
		case PKB_IPV4:
			put16(h + 2, (uint16_t)n);
			put16(h + 10, fold(sum16(h, (uint32_t)(h[0] & 15) * 4, 0)));
			break;
		case PKB_IPV6:
			put16(h + 4, (uint16_t)(n - 40));
			break;
		case PKB_UDP:
			put16(h + 4, (uint16_t)n);
			if (ip >= 0)
				put16(h + 6, transport_checksum(b, ip, off, 17));
			break;
		case PKB_TCP:
			if (ip >= 0)
				put16(h + 16, transport_checksum(b, ip, off, 6));
			break;
		case PKB_ICMP:
			put16(h + 2, fold(sum16(h, n, 0)));
			break;
		case PKB_ICMPV6:
			if (ip >= 0)
				put16(h + 2, transport_checksum(b, ip, off, 58));
			break;
		}
	}
	b->open_count = 0;
}

/* ---- payloads ---- */

static void put_be16(struct pkb *b, uint32_t off, uint32_t v)
{
	b->data[off] = (uint8_t)(v >> 8);
	b->data[off + 1] = (uint8_t)v;
}

/* Appends a TLS extension header; returns the offset of its length. */
static uint32_t tls_extension(struct pkb *b, uint16_t type)
{
	pkb_be16(b, type);
	pkb_be16(b, 0);
	return b->len - 2;
}

/* Fills in the length at off: the bytes written after it. */
static void close_length(struct pkb *b, uint32_t off)
{
	put_be16(b, off, b->len - off - 2);
}

static void tls_fixed_extension(struct pkb *b, uint16_t type, const uint8_t *body, uint32_t len)
{
	uint32_t ext = tls_extension(b, type);

	pkb_bytes(b, body, len);
	close_length(b, ext);
}

static void tls_server_name(struct pkb *b, const char *server_name)
{
	uint16_t n = (uint16_t)strlen(server_name);
	uint32_t ext = tls_extension(b, 0);

	pkb_be16(b, (uint16_t)(n + 3));
	pkb_u8(b, 0);			/* host_name */
	pkb_be16(b, n);
	pkb_bytes(b, server_name, n);
	close_length(b, ext);
}

void pkb_tls_client_hello(struct pkb *b, const char *server_name, uint32_t key_share,
			  int name_first)
{
	static const uint8_t groups[] = { 0, 6, 0x11, 0xec, 0x00, 0x1d, 0x00, 0x17 };
	static const uint8_t sigalgs[] = { 0, 8, 4, 3, 8, 4, 4, 1, 5, 3 };
	static const uint8_t alpn[] = { 0, 12, 2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1' };
	static const uint8_t versions[] = { 4, 0x03, 0x04, 0x03, 0x03 };
	uint32_t record = b->len, extensions, ext;

	pkb_bytes(b, "\x16\x03\x01\0\0", 5);	/* handshake record, TLS 1.0 for compatibility */
	pkb_be32(b, 0x01000000);		/* ClientHello, length filled in below */
	pkb_be16(b, 0x0303);			/* legacy_version TLS 1.2 */
	for (int i = 0; i < 32; i++)
		pkb_u8(b, (uint8_t)(i * 7 + 1));	/* random */
	pkb_u8(b, 32);				/* session id */
	for (int i = 0; i < 32; i++)
		pkb_u8(b, (uint8_t)(0xa0 + i));
	pkb_be16(b, 32);			/* 16 cipher suites */
	for (uint16_t i = 0; i < 16; i++)
		pkb_be16(b, i < 3 ? (uint16_t)(0x1301 + i) : (uint16_t)(0xc02b + i));
	pkb_be16(b, 0x0100);			/* compression: null */
	extensions = b->len;
	pkb_be16(b, 0);
	if (server_name && name_first)
		tls_server_name(b, server_name);
	tls_fixed_extension(b, 10, groups, sizeof(groups));
	tls_fixed_extension(b, 13, sigalgs, sizeof(sigalgs));
	tls_fixed_extension(b, 16, alpn, sizeof(alpn));
	tls_fixed_extension(b, 43, versions, sizeof(versions));
	ext = tls_extension(b, 51);		/* key_share: one entry of key_share bytes */
	pkb_be16(b, (uint16_t)(key_share + 4));
	pkb_be16(b, 0x11ec);
	pkb_be16(b, (uint16_t)key_share);
	for (uint32_t i = 0; i < key_share; i++)
		pkb_u8(b, (uint8_t)(i * 13 + 5));
	close_length(b, ext);
	if (server_name && !name_first)
		tls_server_name(b, server_name);
	close_length(b, extensions);
	put_be16(b, record + 3, b->len - record - 5);
	b->data[record + 6] = (uint8_t)((b->len - record - 9) >> 16);
	put_be16(b, record + 7, b->len - record - 9);
}

/* Appends name in DNS wire form. */
static void dns_name(struct pkb *b, const char *name)
{
	while (*name) {
		const char *dot = strchr(name, '.');
		uint32_t len = dot ? (uint32_t)(dot - name) : (uint32_t)strlen(name);

		pkb_u8(b, (uint8_t)len);
		pkb_bytes(b, name, len);
		name += len + (dot ? 1 : 0);
	}
	pkb_u8(b, 0);
}

/* An answer record of type for the name at compression offset owner. */
static void dns_record(struct pkb *b, uint32_t owner, uint16_t type, uint32_t ttl)
{
	pkb_be16(b, (uint16_t)(0xc000 | owner));
	pkb_be16(b, type);
	pkb_be16(b, 1);
	pkb_be32(b, ttl);
}

void pkb_dns_message(struct pkb *b, uint16_t id, const char *name, const char *cname,
		     const uint8_t addr[4])
{
	uint32_t start = b->len, last_name = 12, length;

	pkb_be16(b, id);
	pkb_be16(b, addr ? 0x8180 : 0x0100);	/* response, no error / query, recursion desired */
	pkb_be16(b, 1);
	pkb_be16(b, addr ? (cname ? 2 : 1) : 0);
	pkb_be32(b, 0);
	dns_name(b, name);
	pkb_be32(b, 0x00010001);		/* A, IN */
	if (!addr)
		return;
	if (cname) {
		dns_record(b, 12, 5, 3600);
		length = b->len;
		pkb_be16(b, 0);
		last_name = b->len - start;
		dns_name(b, cname);
		close_length(b, length);
	}
	dns_record(b, last_name, 1, 300);
	pkb_be16(b, 4);
	pkb_bytes(b, addr, 4);
}
