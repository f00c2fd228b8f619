/* ftp.c - parsing FTP control lines for data-connection announcements
 * (RFC 959 PORT and 227, RFC 2428 EPRT and 229).
 *
 * Only the port is taken: the addresses come from the control connection
 * itself, because a server behind NAT announces an address the capture
 * never sees, and trusting an announced address would let one host's
 * control traffic label another host's connections.
 */
#include <ctype.h>
#include <string.h>

#include "dsmflow/decimal.h"
#include "dsmflow/ftp.h"

/* A line within the payload: [p, p + n). */
struct line {
	const uint8_t *p;
	uint32_t n;
};

static int starts_with_nocase(const struct line *l, const char *word)
{
	uint32_t n = (uint32_t)strlen(word);

	if (l->n < n)
		return 0;
	for (uint32_t i = 0; i < n; i++)
		if (toupper(l->p[i]) != word[i])
			return 0;
	return 1;
}

/* The decimal digits of l from position at: how many, and their value in
 * *v (limit + 1 when larger than limit). */
static size_t line_decimal(const struct line *l, uint32_t at, uint64_t limit, uint64_t *v)
{
	return decimal_prefix((const char *)l->p + at, l->n - at, limit, v);
}

/* Reads up to max_count comma-separated decimal numbers (each <= 255)
 * starting at *i; returns how many were read. */
static int read_byte_list(const struct line *l, uint32_t *i, unsigned *values, int max_count)
{
	int count = 0;

	while (count < max_count && *i < l->n && isdigit(l->p[*i])) {
		uint64_t v;

		*i += (uint32_t)line_decimal(l, *i, 255, &v);
		if (v > 255)
			return -1;
		values[count++] = (unsigned)v;
		if (count < max_count) {
			if (*i >= l->n || l->p[*i] != ',')
				return count;
			(*i)++;
		}
	}
	return count;
}

/* "h1,h2,h3,h4,p1,p2" somewhere after position from (227 replies need not
 * use parentheses, RFC 1123 4.1.2.6). */
static int find_host_port(const struct line *l, uint32_t from, uint16_t *port)
{
	for (uint32_t i = from; i < l->n; i++) {
		unsigned v[6];
		uint32_t j = i;

		if (!isdigit(l->p[i]) || (i > from && isdigit(l->p[i - 1])))
			continue;
		if (read_byte_list(l, &j, v, 6) == 6) {
			*port = (uint16_t)(v[4] << 8 | v[5]);
			return *port != 0;
		}
	}
	return 0;
}

static int read_port_number(const struct line *l, uint32_t *i, uint16_t *port)
{
	uint64_t v;
	size_t digits = line_decimal(l, *i, UINT16_MAX, &v);

	*i += (uint32_t)digits;
	if (digits == 0 || v == 0 || v > UINT16_MAX)
		return 0;
	*port = (uint16_t)v;
	return 1;
}

/* 229 ... (|||port|): the delimiter is whatever character follows '('. */
static int parse_epsv_reply(const struct line *l, uint16_t *port)
{
	const uint8_t *open = memchr(l->p, '(', l->n);
	uint32_t i;
	uint8_t d;

	if (!open)
		return 0;
	i = (uint32_t)(open - l->p) + 1;
	if (i + 3 >= l->n)
		return 0;
	d = l->p[i];
	if (l->p[i + 1] != d || l->p[i + 2] != d)
		return 0;
	i += 3;
	return read_port_number(l, &i, port) && i < l->n && l->p[i] == d;
}

/* EPRT |1|132.235.1.2|6275| : the third field is the port. */
static int parse_eprt(const struct line *l, uint16_t *port)
{
	uint32_t i = 5, fields = 0;
	uint8_t d;

	while (i < l->n && l->p[i] == ' ')
		i++;
	if (i >= l->n)
		return 0;
	d = l->p[i];
	for (; i < l->n && fields < 3; i++)
		fields += l->p[i] == d;
	return fields == 3 && read_port_number(l, &i, port) && i < l->n && l->p[i] == d;
}

static enum ftp_announce parse_line(const struct line *l, uint16_t *port)
{
	if (starts_with_nocase(l, "227") && find_host_port(l, 3, port))
		return FTP_PASSIVE;
	if (starts_with_nocase(l, "229") && parse_epsv_reply(l, port))
		return FTP_PASSIVE;
	if (starts_with_nocase(l, "PORT ") && find_host_port(l, 5, port))
		return FTP_ACTIVE;
	if (starts_with_nocase(l, "EPRT ") && parse_eprt(l, port))
		return FTP_ACTIVE;
	return FTP_NONE;
}

enum ftp_announce ftp_parse(const uint8_t *text, uint32_t len, uint16_t *port)
{
	enum ftp_announce found = FTP_NONE;
	uint32_t start = 0;

	while (start < len) {
		const uint8_t *nl = memchr(text + start, '\n', len - start);
		uint32_t end = nl ? (uint32_t)(nl - text) : len;
		struct line l = { text + start, end - start };
		uint16_t p;
		enum ftp_announce a = parse_line(&l, &p);

		if (a != FTP_NONE) {
			found = a;
			*port = p;
		}
		start = end + 1;
	}
	return found;
}
