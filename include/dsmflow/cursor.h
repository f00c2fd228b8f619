/* cursor.h - the one bounds-checked reader of untrusted bytes.
 *
 * Every parser of packet or payload bytes (decode.c's headers, and the
 * HTTP, TLS and DNS parsers of the payload inspection) reads through a
 * struct cursor: cur_take() is the one place that checks a block lies
 * inside the bytes given, and a parser reads only blocks it returned.
 * Lengths from the wire only ever shrink a cursor (cur_limit), never extend
 * it. Multi-byte fields are read with rd_be16()/rd_be32() from such blocks,
 * never by casting bytes to host structs (a VLAN tag leaves IP unaligned).
 */
#ifndef DSMFLOW_CURSOR_H
#define DSMFLOW_CURSOR_H

#include <stdint.h>

/* The bytes not yet consumed: [p + off, p + end). */
struct cursor {
	const uint8_t *p;
	uint32_t off;
	uint32_t end;
};

static inline struct cursor cur_make(const uint8_t *p, uint32_t len)
{
	struct cursor c = { .p = p, .off = 0, .end = len };

	return c;
}

/* Consumes n bytes and returns them, or NULL (consuming nothing) when
 * fewer than n remain. */
static inline const uint8_t *cur_take(struct cursor *c, uint32_t n)
{
	const uint8_t *block;

	if (c->end - c->off < n)
		return NULL;
	block = c->p + c->off;
	c->off += n;
	return block;
}

/* Looks at n bytes without consuming them; NULL when fewer remain. */
static inline const uint8_t *cur_peek(const struct cursor *c, uint32_t n)
{
	return c->end - c->off < n ? NULL : c->p + c->off;
}

static inline uint32_t cur_remaining(const struct cursor *c)
{
	return c->end - c->off;
}

/* Limits the cursor to n more bytes (a length field); a field claiming
 * more than there is changes nothing. */
static inline void cur_limit(struct cursor *c, uint32_t n)
{
	if (n < c->end - c->off)
		c->end = c->off + n;
}

/* Consumes up to n bytes (fewer when fewer remain); returns how many. */
static inline uint32_t cur_skip(struct cursor *c, uint32_t n)
{
	uint32_t left = c->end - c->off;

	if (n > left)
		n = left;
	c->off += n;
	return n;
}

static inline uint16_t rd_be16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

static inline uint32_t rd_be24(const uint8_t *b)
{
	return (uint32_t)b[0] << 16 | (uint32_t)b[1] << 8 | b[2];
}

static inline uint32_t rd_be32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static inline uint32_t rd_le32(const uint8_t *b)
{
	return (uint32_t)b[3] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[1] << 8 | b[0];
}

#endif
