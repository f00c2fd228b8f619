/* dns.c - the A and AAAA answers of a DNS response, named by the question
 * (RFC 1035 4.1, RFC 2181).
 *
 * One pass through the cursor over the whole message: header, question,
 * then up to DNS_MAX_ANSWERS answer records; authority and additional
 * records are not read. The chain starts as the question name and grows
 * by the target of every CNAME record whose owner is in it (at most
 * CHAIN_MAX names); an A or AAAA record whose owner is in the chain is
 * reported with the question name. Servers list a chain in order
 * (RFC 1034 4.3.2), so a CNAME is followed only by the records after it.
 *
 * Names: a compression pointer must point before itself, and the name it
 * leads to is read with a cursor that ends where the pointer is, so every
 * jump moves strictly backwards and no loop is possible; at most
 * MAX_JUMPS are followed all the same. A label is 1..63 bytes (the 01 and
 * 10 label types are refused) and the text form at most DNS_NAME_MAX
 * bytes; anything else makes the message DNS_BAD. Text is lower-cased
 * ASCII without the final dot.
 *
 * Decision: a well-formed name with a byte a host name cannot hold (a
 * control or 8-bit byte, a space, or a '.' inside a label, which would
 * make its text ambiguous) is "odd": legal DNS, so the message is not
 * DNS_BAD, but such a name is never in the chain: an odd question name
 * reports nothing, and a record with an odd owner or CNAME target is
 * passed over.
 */
#include <string.h>

#include "dsmflow/cursor.h"
#include "dsmflow/dns.h"

#define HEADER_LEN 12
#define RR_FIXED_LEN 10		/* type, class, ttl, rdlength */
#define MAX_JUMPS 16
#define CHAIN_MAX 8
#define TYPE_A 1
#define TYPE_CNAME 5
#define TYPE_AAAA 28
#define CLASS_IN 1

struct name {
	char text[DNS_NAME_MAX + 1];
	uint32_t len;
	int odd;	/* a byte a host name cannot hold: never in the chain */
};

struct chain {
	struct name names[CHAIN_MAX];	/* [0] is the question */
	int count;
};

/* ---- names ---- */

static int host_byte(uint8_t ch)
{
	return ch > 0x20 && ch < 0x7f && ch != '.';
}

/* Appends a label to out; 0 when the text would exceed DNS_NAME_MAX. */
static int append_label(struct name *out, const uint8_t *label, uint32_t n)
{
	uint32_t need = out->len ? out->len + 1 + n : n;

	if (need > DNS_NAME_MAX)
		return 0;
	if (out->len)
		out->text[out->len++] = '.';
	for (uint32_t i = 0; i < n; i++) {
		uint8_t ch = label[i];

		if (!host_byte(ch))
			out->odd = 1;
		if (ch >= 'A' && ch <= 'Z')
			ch = (uint8_t)(ch - 'A' + 'a');
		out->text[out->len++] = (char)ch;
	}
	out->text[out->len] = '\0';
	return 1;
}

/* Follows the pointer whose first byte was b: at continues at the target,
 * with its end at the pointer, so it can only move backwards. */
static int jump(struct cursor *at, const uint8_t *b, int *jumps)
{
	const uint8_t *low = cur_take(at, 1);
	uint32_t pointer_at, target;

	if (!low || ++*jumps > MAX_JUMPS)
		return 0;
	pointer_at = at->off - 2;
	target = (uint32_t)(b[0] & 0x3f) << 8 | low[0];
	if (target >= pointer_at)
		return 0;
	*at = cur_make(at->p, pointer_at);
	cur_skip(at, target);
	return 1;
}

/* Reads the name at c (whose p is the message's start, so pointers reach
 * back into it) and moves c past its in-line part; 0 when malformed. */
static int read_name(struct cursor *c, struct name *out)
{
	struct cursor at = *c;
	int jumps = 0;
	const uint8_t *b, *label;

	out->len = 0;
	out->odd = 0;
	out->text[0] = '\0';
	for (;;) {
		b = cur_take(&at, 1);
		if (!b)
			return 0;
		if (*b == 0)
			break;
		if ((*b & 0xc0) == 0xc0) {
			if (jumps == 0) {	/* the in-line part ends after the pointer */
				*c = at;
				cur_skip(c, 1);
			}
			if (!jump(&at, b, &jumps))
				return 0;
			continue;
		}
		if (*b & 0xc0)
			return 0;	/* 01 and 10: extended label types, obsolete */
		label = cur_take(&at, *b);
		if (!label || !append_label(out, label, *b))
			return 0;
	}
	if (jumps == 0)
		*c = at;
	return 1;
}

static int same_name(const struct name *a, const struct name *b)
{
	return a->len == b->len && memcmp(a->text, b->text, a->len) == 0;
}

/* ---- the chain ---- */

static int in_chain(const struct chain *chain, const struct name *n)
{
	if (n->odd)
		return 0;
	for (int i = 0; i < chain->count; i++)
		if (same_name(&chain->names[i], n))
			return 1;
	return 0;
}

static void chain_add(struct chain *chain, const struct name *n)
{
	if (chain->count < CHAIN_MAX && !n->odd && !in_chain(chain, n))
		chain->names[chain->count++] = *n;
}

/* ---- records ---- */

/* A CNAME's rdata (rd, over the message and limited to the rdata) is one name. */
static int follow_cname(struct chain *chain, struct cursor *rd)
{
	struct name target;

	if (!read_name(rd, &target) || cur_remaining(rd) != 0)
		return 0;
	chain_add(chain, &target);
	return 1;
}

/* Reads one answer record, reporting it if the chain reaches it; 0 when
 * malformed. */
static int read_answer(struct cursor *c, struct chain *chain, dns_answer_fn fn, void *ctx)
{
	const struct name *q = &chain->names[0];
	struct name owner;
	struct cursor rd;
	const uint8_t *fixed, *rdata;
	uint16_t type, rdlength;
	uint32_t ttl;

	if (!read_name(c, &owner))
		return 0;
	fixed = cur_take(c, RR_FIXED_LEN);
	if (!fixed)
		return 0;
	type = rd_be16(fixed);
	ttl = rd_be32(fixed + 4);
	rdlength = rd_be16(fixed + 8);
	rd = *c;
	cur_limit(&rd, rdlength);
	rdata = cur_take(c, rdlength);
	if (!rdata)
		return 0;
	if (rd_be16(fixed + 2) != CLASS_IN || !in_chain(chain, &owner))
		return 1;
	if (ttl & 0x80000000u)
		ttl = 0;	/* RFC 2181 8: a TTL with the top bit set is zero */
	if (type == TYPE_A && rdlength == 4)
		fn(ctx, q->text, q->len, 4, rdata, ttl);
	else if (type == TYPE_AAAA && rdlength == 16)
		fn(ctx, q->text, q->len, 6, rdata, ttl);
	else if (type == TYPE_CNAME)
		return follow_cname(chain, &rd);
	return 1;
}

/* Reads the question section into chain->names[0]; 0 when malformed. */
static int read_questions(struct cursor *c, uint16_t qdcount, struct chain *chain)
{
	struct name skipped;

	if (!read_name(c, &chain->names[0]) || !cur_take(c, 4))
		return 0;
	chain->count = 1;
	for (uint32_t i = 1; i < qdcount; i++)	/* only the first is used */
		if (!read_name(c, &skipped) || !cur_take(c, 4))
			return 0;
	return 1;
}

enum dns_result dns_parse_response(const uint8_t *msg, uint32_t len, dns_answer_fn fn, void *ctx)
{
	struct cursor c = cur_make(msg, len);
	const uint8_t *h = cur_take(&c, HEADER_LEN);
	struct chain chain;
	uint16_t flags, qdcount, ancount;

	if (!h)
		return DNS_BAD;
	flags = rd_be16(h + 2);
	if (!(flags & 0x8000) || (flags >> 11 & 0xf) != 0)
		return DNS_NOT_RESPONSE;	/* QR 0, or an opcode other than QUERY */
	qdcount = rd_be16(h + 4);
	ancount = rd_be16(h + 6);
	if ((flags & 0xf) != 0 || qdcount == 0)
		return DNS_OK;	/* an error, or nothing asked: nothing to report */
	if (!read_questions(&c, qdcount, &chain))
		return DNS_BAD;
	if (chain.names[0].odd || chain.names[0].len == 0)
		return DNS_OK;	/* no host name to report answers for */
	for (uint32_t i = 0; i < ancount && i < DNS_MAX_ANSWERS; i++)
		if (!read_answer(&c, &chain, fn, ctx))
			return DNS_BAD;
	return DNS_OK;
}
