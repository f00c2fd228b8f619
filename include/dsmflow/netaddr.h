/* netaddr.h - IPv4/IPv6 prefixes (--nas CIDR) and address formatting. */
#ifndef DSMFLOW_NETADDR_H
#define DSMFLOW_NETADDR_H

#include <stddef.h>
#include <stdint.h>

#include "dsmflow/err.h"

struct cidr {
	uint8_t family;		/* 4 or 6 */
	uint8_t prefix_len;	/* 0..32 or 0..128 */
	uint8_t addr[16];	/* IPv4 in the first 4 bytes; host bits zeroed */
};

/* Parses "ADDR" or "ADDR/LEN" (IPv4 or IPv6). */
int cidr_parse(const char *text, struct cidr *out, struct dsm_err *err);

/* Whether addr (of family 4 or 6, in struct decoded's layout) is in any of
 * the n prefixes. */
int cidr_match_any(const struct cidr *prefixes, size_t n, uint8_t family, const uint8_t *addr);

/* Formats addr as text into buf (at least 46 bytes). */
const char *addr_format(uint8_t family, const uint8_t *addr, char *buf, size_t size);

/* Multicast or broadcast (never a client). */
int addr_is_group(uint8_t family, const uint8_t *addr);
/* In the ranges no one outside reaches by: RFC 1918, RFC 6598, link-local,
 * loopback; IPv6 unique-local, link-local, loopback. */
int addr_is_local_range(uint8_t family, const uint8_t *addr);

#endif
