/* tls.c - the server name and first ALPN protocol of a TLS ClientHello,
 * read as a stream (RFC 8446 5.1 and 4.1.2, RFC 6066 3, RFC 7301 3.1).
 *
 * Two small state machines, fed whatever bytes arrive. The record layer
 * reads 5-byte record headers, one byte at a time, and hands each record's
 * body to the handshake layer, which walks the ClientHello field by field:
 * a number (a length, a type) split across segments or records is
 * accumulated in acc, and a field that is skipped or copied counts down
 * field_left. Nothing else is kept, so a 1.8 KB post-quantum hello costs
 * the same as a small one. Every byte is read through the cursor.
 *
 * Lengths nest: field_left <= ext_left <= hello_left at all times. Each
 * byte of the hello body counts all three down; a length is accepted only
 * if it fits inside the one enclosing it, and when a field or extension
 * ends, the inner counts are reset to the outer one, so the next read is
 * checked against the right bound. The extensions block must end exactly
 * where the hello does, and the server name and protocol lists exactly
 * where their extension does; anything else is TLS_BAD.
 *
 * Decisions:
 * - A server name with a byte outside printable ASCII (0x21-0x7e: no NUL,
 *   no space, no control or 8-bit byte), empty, or longer than
 *   TLS_NAME_MAX is ignored (has_server_name stays 0), not TLS_BAD: the
 *   hello's framing is sound and its ALPN still worth having. Only the
 *   first host_name entry counts (RFC 6066 allows one). The name is
 *   lower-cased and a final dot dropped, to compare with DNS names.
 * - The ALPN kept is the first protocol made of printable ASCII: one that
 *   is not (a GREASE value, RFC 8701) is passed over. It is kept as sent
 *   (ALPN ids are case-sensitive) and cut at TLS_ALPN_MAX (alpn_cut).
 * - A second server_name or ALPN extension is TLS_BAD (RFC 8446 4.2: no
 *   extension type appears twice), as is a first handshake message that is
 *   not a ClientHello, or a record of length 0 or beyond 2^14 + 2048.
 * - A zeroed struct is the initial state, so tls_hello_init is a memset.
 */
#include <string.h>

#include "dsmflow/cursor.h"
#include "dsmflow/tls.h"

#define RECORD_HEADER_LEN 5
#define RECORD_HANDSHAKE 22
#define RECORD_MAX (16384 + 2048)	/* TLSCiphertext's bound; a plaintext record is smaller */
#define HANDSHAKE_CLIENT_HELLO 1
#define RANDOM_LEN 32
#define SESSION_ID_MAX 32
#define EXT_SERVER_NAME 0
#define EXT_ALPN 16
#define NAME_TYPE_HOST 0

_Static_assert(sizeof(struct tls_hello) <= 320, "the parser state stays small");

enum state {
	/* the handshake header: not counted in hello_left */
	S_HS_TYPE, S_HS_LENGTH,
	/* the ClientHello body */
	S_VERSION, S_RANDOM, S_SID_LEN, S_SID, S_SUITES_LEN, S_SUITES, S_COMP_LEN, S_COMP,
	S_EXTS_LEN,
	/* the extensions */
	S_EXT_TYPE, S_EXT_LEN, S_EXT_SKIP,
	S_SNI_LIST_LEN, S_SNI_TYPE, S_SNI_LEN, S_SNI_NAME, S_SNI_SKIP,
	S_ALPN_LIST_LEN, S_ALPN_LEN, S_ALPN_NAME, S_ALPN_SKIP,
	/* final */
	S_DONE, S_NOT_TLS, S_BAD,
};

/* Bytes of the big-endian number each state reads; 0: the state skips or
 * copies field_left bytes. */
static const uint8_t number_width[S_DONE] = {
	[S_HS_TYPE] = 1, [S_HS_LENGTH] = 3, [S_VERSION] = 2, [S_SID_LEN] = 1,
	[S_SUITES_LEN] = 2, [S_COMP_LEN] = 1, [S_EXTS_LEN] = 2, [S_EXT_TYPE] = 2,
	[S_EXT_LEN] = 2, [S_SNI_LIST_LEN] = 2, [S_SNI_TYPE] = 1, [S_SNI_LEN] = 2,
	[S_ALPN_LIST_LEN] = 2, [S_ALPN_LEN] = 1,
};

/* flags */
#define F_RECORD_SEEN 0x01	/* a record header was read: from now on errors are TLS_BAD */
#define F_SNI_EXT 0x02		/* the server_name extension was met */
#define F_ALPN_EXT 0x04		/* the ALPN extension was met */
#define F_SNI_TAKEN 0x08	/* the first host_name entry was met */
#define F_ALPN_TAKEN 0x10	/* alpn holds the protocol kept */
#define F_ITEM_HOST 0x20	/* the server name entry being read is a host_name */
#define F_ITEM_BAD 0x40		/* the name or protocol being copied has a byte refused */
#define F_ITEM_LONG 0x80	/* the protocol being copied is longer than TLS_ALPN_MAX */

void tls_hello_init(struct tls_hello *h)
{
	memset(h, 0, sizeof(*h));
}

int tls_looks_like_hello(const uint8_t *data, uint32_t len)
{
	struct cursor c = cur_make(data, len);
	const uint8_t *b = cur_peek(&c, 2);

	return b && b[0] == RECORD_HANDSHAKE && b[1] == 3;
}

static int printable(uint8_t ch)
{
	return ch > 0x20 && ch < 0x7f;
}

/* ---- budgets ---- */

/* Counts n bytes of the hello body down from every enclosing length. */
static void count_down(struct tls_hello *h, uint32_t n)
{
	if (h->state < S_VERSION)
		return;	/* the handshake header precedes the body */
	h->hello_left -= n;
	h->ext_left -= n;
	h->field_left -= n;
}

static void end_extension(struct tls_hello *h)
{
	h->ext_left = h->field_left = h->hello_left;
	h->state = h->hello_left ? S_EXT_TYPE : S_DONE;
}

/* The next item of a server name or protocol list, or the extension's end. */
static void next_item(struct tls_hello *h, uint8_t item_state)
{
	if (h->ext_left == 0)
		end_extension(h);
	else
		h->state = item_state;
}

/* ---- what a field's end means ---- */

static void name_done(struct tls_hello *h)
{
	if (h->flags & F_ITEM_BAD)
		return;
	if (h->name_len && h->server_name[h->name_len - 1] == '.')
		h->server_name[--h->name_len] = '\0';
	h->has_server_name = h->name_len > 0;
}

static void alpn_done(struct tls_hello *h)
{
	if (h->flags & F_ITEM_BAD)
		return;
	h->flags |= F_ALPN_TAKEN;
	h->alpn_cut = (h->flags & F_ITEM_LONG) != 0;
}

/* A skipped or copied field has ended: what comes next. */
static void field_done(struct tls_hello *h)
{
	h->field_left = h->ext_left;
	switch (h->state) {
	case S_RANDOM: h->state = S_SID_LEN; break;
	case S_SID: h->state = S_SUITES_LEN; break;
	case S_SUITES: h->state = S_COMP_LEN; break;
	case S_COMP: h->state = h->hello_left ? S_EXTS_LEN : S_DONE; break;	/* none: TLS 1.0 */
	case S_EXT_SKIP: end_extension(h); break;
	case S_SNI_NAME: name_done(h); next_item(h, S_SNI_TYPE); break;
	case S_SNI_SKIP: next_item(h, S_SNI_TYPE); break;
	case S_ALPN_NAME: alpn_done(h); next_item(h, S_ALPN_LEN); break;
	case S_ALPN_SKIP: next_item(h, S_ALPN_LEN); break;
	default: h->state = S_BAD; break;
	}
}

/* Starts a field of n bytes to skip or copy in state next. */
static void open_field(struct tls_hello *h, uint32_t n, uint8_t next)
{
	if (n > h->field_left) {
		h->state = S_BAD;
		return;
	}
	h->field_left = n;
	h->state = next;
	if (n == 0)
		field_done(h);
}

/* ---- what a number means ---- */

static void start_name(struct tls_hello *h, uint32_t n)
{
	int first_host = (h->flags & (F_ITEM_HOST | F_SNI_TAKEN)) == F_ITEM_HOST;

	if (h->flags & F_ITEM_HOST)
		h->flags |= F_SNI_TAKEN;	/* only the first host_name entry counts */
	if (!first_host || n > TLS_NAME_MAX) {
		open_field(h, n, S_SNI_SKIP);
		return;
	}
	h->flags &= (uint8_t)~F_ITEM_BAD;
	open_field(h, n, S_SNI_NAME);
}

static void start_alpn(struct tls_hello *h, uint32_t n)
{
	if (n == 0) {
		h->state = S_BAD;	/* ProtocolName<1..2^8-1> */
		return;
	}
	if (h->flags & F_ALPN_TAKEN) {
		open_field(h, n, S_ALPN_SKIP);
		return;
	}
	h->flags &= (uint8_t)~(F_ITEM_BAD | F_ITEM_LONG);
	h->flags |= n > TLS_ALPN_MAX ? F_ITEM_LONG : 0;
	h->alpn_len = 0;
	h->alpn[0] = '\0';
	open_field(h, n, S_ALPN_NAME);
}

/* An extension's header was read: its length is n. */
static void start_extension(struct tls_hello *h, uint32_t n)
{
	uint8_t seen = h->ext_type == EXT_SERVER_NAME ? F_SNI_EXT
		     : h->ext_type == EXT_ALPN ? F_ALPN_EXT : 0;

	if (n > h->hello_left || (h->flags & seen)) {
		h->state = S_BAD;
		return;
	}
	h->ext_left = h->field_left = n;
	h->flags |= seen;
	if (seen == F_SNI_EXT)
		h->state = S_SNI_LIST_LEN;
	else if (seen == F_ALPN_EXT)
		h->state = S_ALPN_LIST_LEN;
	else
		open_field(h, n, S_EXT_SKIP);
}

/* A list that must fill its extension: n == ext_left, and not empty. */
static void start_list(struct tls_hello *h, uint32_t n, uint8_t item_state)
{
	h->state = n == 0 || n != h->ext_left ? S_BAD : item_state;
}

static void hello_number(struct tls_hello *h, uint32_t v)
{
	switch (h->state) {
	case S_HS_TYPE:
		h->state = v == HANDSHAKE_CLIENT_HELLO ? S_HS_LENGTH : S_BAD;
		break;
	case S_HS_LENGTH:
		h->hello_left = h->ext_left = h->field_left = v;
		h->state = S_VERSION;
		break;
	case S_VERSION:
		if (v >> 8 != 3)
			h->state = S_BAD;
		else
			open_field(h, RANDOM_LEN, S_RANDOM);
		break;
	case S_SID_LEN:
		if (v > SESSION_ID_MAX)
			h->state = S_BAD;
		else
			open_field(h, v, S_SID);
		break;
	case S_SUITES_LEN:
		if (v == 0 || (v & 1))
			h->state = S_BAD;
		else
			open_field(h, v, S_SUITES);
		break;
	case S_COMP_LEN:
		if (v == 0)
			h->state = S_BAD;
		else
			open_field(h, v, S_COMP);
		break;
	default:	/* S_EXTS_LEN: the block fills the rest of the hello */
		if (v != h->hello_left)
			h->state = S_BAD;
		else
			end_extension(h);
		break;
	}
}

static void extension_number(struct tls_hello *h, uint32_t v)
{
	switch (h->state) {
	case S_EXT_TYPE:
		h->ext_type = (uint16_t)v;
		h->state = S_EXT_LEN;
		break;
	case S_EXT_LEN: start_extension(h, v); break;
	case S_SNI_LIST_LEN: start_list(h, v, S_SNI_TYPE); break;
	case S_SNI_TYPE:
		h->flags &= (uint8_t)~F_ITEM_HOST;
		h->flags |= v == NAME_TYPE_HOST ? F_ITEM_HOST : 0;
		h->state = S_SNI_LEN;
		break;
	case S_SNI_LEN: start_name(h, v); break;
	case S_ALPN_LIST_LEN: start_list(h, v, S_ALPN_LEN); break;
	default: start_alpn(h, v); break;	/* S_ALPN_LEN */
	}
}

/* ---- reading ---- */

/* Reads the number the state calls for, a byte at a time so that it may
 * be split anywhere; 1 with *v when complete, 0 when the bytes ran out or
 * the number does not fit in the current field (then state is S_BAD). */
static int read_number(struct tls_hello *h, struct cursor *c, uint32_t *v)
{
	uint8_t width = number_width[h->state];
	const uint8_t *b;

	if (h->acc_have == 0 && h->state >= S_VERSION && width > h->field_left) {
		h->state = S_BAD;
		return 0;
	}
	if (h->acc_have == 0 && cur_remaining(c) >= width) {	/* the usual case: all there */
		b = cur_take(c, width);
		*v = width == 1 ? b[0] : width == 2 ? rd_be16(b) : rd_be24(b);
		count_down(h, width);
		return 1;
	}
	while (h->acc_have < width) {
		b = cur_take(c, 1);
		if (!b)
			return 0;
		h->acc = h->acc << 8 | *b;
		h->acc_have++;
		count_down(h, 1);
	}
	*v = h->acc;
	h->acc = 0;
	h->acc_have = 0;
	return 1;
}

static void copy_name(struct tls_hello *h, const uint8_t *b, uint32_t n)
{
	if (h->flags & F_ITEM_BAD)
		return;
	for (uint32_t i = 0; i < n; i++) {
		uint8_t ch = b[i];

		if (!printable(ch)) {
			h->flags |= F_ITEM_BAD;
			h->name_len = 0;
			h->server_name[0] = '\0';
			return;
		}
		if (ch >= 'A' && ch <= 'Z')
			ch = (uint8_t)(ch - 'A' + 'a');
		h->server_name[h->name_len++] = (char)ch;	/* <= TLS_NAME_MAX: start_name */
	}
	h->server_name[h->name_len] = '\0';
}

static void copy_alpn(struct tls_hello *h, const uint8_t *b, uint32_t n)
{
	for (uint32_t i = 0; i < n && h->alpn_len < TLS_ALPN_MAX && !(h->flags & F_ITEM_BAD); i++) {
		if (!printable(b[i])) {
			h->flags |= F_ITEM_BAD;
			h->alpn_len = 0;
			h->alpn[0] = '\0';
			return;
		}
		h->alpn[h->alpn_len++] = (char)b[i];
		h->alpn[h->alpn_len] = '\0';
	}
}

/* Skips or copies as much of the current field as c holds; 0 when c is empty. */
static int take_field(struct tls_hello *h, struct cursor *c)
{
	uint32_t n = cur_remaining(c) < h->field_left ? cur_remaining(c) : h->field_left;
	const uint8_t *b = cur_take(c, n);

	if (!b || n == 0)
		return 0;
	if (h->state == S_SNI_NAME)
		copy_name(h, b, n);
	else if (h->state == S_ALPN_NAME)
		copy_alpn(h, b, n);
	count_down(h, n);
	if (h->field_left == 0)
		field_done(h);
	return 1;
}

/* Feeds handshake bytes (a record's body, or part of it) until c is empty
 * or the hello has ended. */
static void handshake_feed(struct tls_hello *h, struct cursor *c)
{
	uint32_t v;

	while (h->state < S_DONE) {
		if (number_width[h->state] == 0) {
			if (!take_field(h, c))
				return;
		} else if (!read_number(h, c, &v)) {
			return;
		} else if (h->state < S_EXT_TYPE) {
			hello_number(h, v);
		} else {
			extension_number(h, v);
		}
	}
}

/* ---- the record layer ---- */

/* Reads one byte of a record header (c is not empty). */
static void record_header_byte(struct tls_hello *h, struct cursor *c)
{
	uint8_t fail = h->flags & F_RECORD_SEEN ? S_BAD : S_NOT_TLS;
	const uint8_t *b = cur_take(c, 1);

	if (!b)
		return;
	switch (h->rec_have++) {
	case 0:
		if (*b != RECORD_HANDSHAKE)
			h->state = fail;
		break;
	case 1:
		if (*b != 3)
			h->state = fail;
		break;
	case 2: break;	/* the minor version: TLS 1.3 hellos say 1 (TLS 1.0) */
	case 3: h->record_left = (uint32_t)*b << 8; break;
	default:
		h->record_left |= *b;
		h->flags |= F_RECORD_SEEN;
		if (h->record_left == 0 || h->record_left > RECORD_MAX)
			h->state = S_BAD;
		break;
	}
}

/* Feeds what c holds of the current record's body to the handshake layer. */
static void record_body(struct tls_hello *h, struct cursor *c)
{
	struct cursor body = *c;
	uint32_t used;

	cur_limit(&body, h->record_left);
	handshake_feed(h, &body);
	used = cur_skip(c, body.off - c->off);
	h->record_left -= used;
	if (h->record_left == 0)
		h->rec_have = 0;
}

enum tls_result tls_hello_feed(struct tls_hello *h, const uint8_t *data, uint32_t len)
{
	struct cursor c = cur_make(data, len);

	while (h->state < S_DONE && cur_remaining(&c) > 0) {
		if (h->rec_have < RECORD_HEADER_LEN)
			record_header_byte(h, &c);
		else
			record_body(h, &c);
	}
	switch (h->state) {
	case S_DONE: return TLS_DONE;
	case S_NOT_TLS: return TLS_NOT_TLS;
	case S_BAD: return TLS_BAD;
	default: return TLS_MORE;
	}
}
