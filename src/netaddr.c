/* netaddr.c - prefix parsing and matching for --nas, and address text.
 * inet_pton/inet_ntop do the address syntax; this file adds prefixes. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsmflow/decimal.h"
#include "dsmflow/netaddr.h"

static void clear_host_bits(uint8_t *addr, unsigned prefix_len, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++) {
		unsigned bits = prefix_len > i * 8 ? prefix_len - i * 8 : 0;

		if (bits < 8)
			addr[i] &= (uint8_t)(0xff00u >> bits);
	}
}

int cidr_parse(const char *text, struct cidr *out, struct dsm_err *err)
{
	char addr_text[64];
	const char *slash = strchr(text, '/');
	size_t addr_len = slash ? (size_t)(slash - text) : strlen(text);
	unsigned max_len;

	memset(out, 0, sizeof(*out));
	if (addr_len == 0 || addr_len >= sizeof(addr_text))
		goto bad;
	memcpy(addr_text, text, addr_len);
	addr_text[addr_len] = '\0';
	if (inet_pton(AF_INET, addr_text, out->addr) == 1)
		out->family = 4;
	else if (inet_pton(AF_INET6, addr_text, out->addr) == 1)
		out->family = 6;
	else
		goto bad;
	max_len = out->family == 4 ? 32 : 128;
	out->prefix_len = (uint8_t)max_len;
	if (slash) {
		uint64_t len;

		if (decimal_parse(slash + 1, strlen(slash + 1), max_len, &len))
			goto bad;
		out->prefix_len = (uint8_t)len;
	}
	clear_host_bits(out->addr, out->prefix_len, max_len / 8);
	return 0;
bad:
	dsm_err_set(err, "'%s' is not an IPv4 or IPv6 address or prefix (e.g. 192.168.1.10, "
			 "10.0.0.0/24, fd00::/64)", text);
	return -1;
}

static int prefix_contains(const struct cidr *p, const uint8_t *addr)
{
	unsigned full = p->prefix_len / 8, rest = p->prefix_len % 8;

	if (memcmp(p->addr, addr, full) != 0)
		return 0;
	return rest == 0 || ((addr[full] ^ p->addr[full]) & (uint8_t)(0xff00u >> rest)) == 0;
}

int cidr_match_any(const struct cidr *prefixes, size_t n, uint8_t family, const uint8_t *addr)
{
	for (size_t i = 0; i < n; i++)
		if (prefixes[i].family == family && prefix_contains(&prefixes[i], addr))
			return 1;
	return 0;
}

const char *addr_format(uint8_t family, const uint8_t *addr, char *buf, size_t size)
{
	if (!inet_ntop(family == 4 ? AF_INET : AF_INET6, addr, buf, (socklen_t)size))
		snprintf(buf, size, "?");
	return buf;
}

int addr_is_group(uint8_t family, const uint8_t *addr)
{
	if (family == 4)
		return addr[0] >= 224 || (addr[0] == 255 && addr[1] == 255 && addr[2] == 255 && addr[3] == 255);
	return addr[0] == 0xff;
}

int addr_is_local_range(uint8_t family, const uint8_t *b)
{
	static const uint8_t loopback6[16] = { [15] = 1 };

	if (family == 4)
		return b[0] == 10 || (b[0] == 172 && (b[1] & 0xf0) == 16) || (b[0] == 192 && b[1] == 168) ||
		       (b[0] == 100 && (b[1] & 0xc0) == 64) || (b[0] == 169 && b[1] == 254) || b[0] == 127;
	return (b[0] & 0xfe) == 0xfc || (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) ||
	       memcmp(b, loopback6, 16) == 0;
}
