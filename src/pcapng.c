/* pcapng.c - the blocks of a pcapng file, walked in place.
 *
 * dumpcap, Wireshark and tshark write pcapng by default, and libpcap reads
 * it a block at a time through a copy; capture_file.c maps the file and
 * this file reads its blocks where they lie: Section Header Blocks (a new
 * section forgets its interfaces), Interface Description Blocks (each
 * interface's link type, snapshot length and timestamp resolution and
 * offset), Enhanced, Simple and obsolete Packet Blocks; every other block
 * is skipped.
 *
 * The rules are libpcap 1.10's (sf-pcapng.c), so that a packet comes out
 * exactly as libpcap would hand it over, its time scaled to microseconds
 * the same way. A block libpcap would refuse, or whose packets it would
 * rewrite, stops the walk before it, and libpcap reads on from there with
 * its own message. Beyond libpcap, a file whose interfaces have different
 * link types or snapshot lengths is read on (libpcap refuses it at the
 * first such interface), each packet with its own interface's link type.
 *
 * Blocks are read through the bounds-checked cursor (cursor.h), one block
 * at a time: a block's length is checked against the file before a cursor
 * is made over it.
 */
#include <string.h>

#include "dsmflow/cursor.h"
#include "dsmflow/decode.h"
#include "pcapng.h"

#define BT_SHB 0x0A0D0D0Au
#define BT_IDB 1u
#define BT_PB 2u
#define BT_SPB 3u
#define BT_EPB 6u
#define BYTE_ORDER_MAGIC 0x1A2B3C4Du
#define BLOCK_HEADER_LEN 8
#define BLOCK_TRAILER_LEN 4
#define SHB_FIXED_LEN 16	/* byte-order magic, version, section length */
#define SHB_INSANE_MAX (1024u * 1024u)
#define MAX_BLOCK (16u * 1024u * 1024u)	/* libpcap's limit for the link types walked */
#define MAX_SNAPLEN 262144u	/* libpcap's MAXIMUM_SNAPLEN, that of every link type walked */
#define USER_TSRESOL 1000000u	/* libpcap hands over microseconds */
#define LINKTYPE_RAW 101u
#define OPT_ENDOFOPT 0
#define IF_TSRESOL 9
#define IF_TSOFFSET 14

/* What a block other than a packet block returns: read on. */
#define READ_ON PCAPNG_END

enum scale { PASS_THROUGH, SCALE_UP_DEC, SCALE_DOWN_DEC, SCALE_UP_BIN, SCALE_DOWN_BIN };

static uint16_t get16(const struct pcapng_walk *w, const uint8_t *at)
{
	uint16_t v;

	memcpy(&v, at, sizeof(v));
	return w->swapped ? __builtin_bswap16(v) : v;
}

static uint32_t get32(const struct pcapng_walk *w, const uint8_t *at)
{
	uint32_t v;

	memcpy(&v, at, sizeof(v));
	return w->swapped ? __builtin_bswap32(v) : v;
}

static uint64_t get64(const struct pcapng_walk *w, const uint8_t *at)
{
	uint64_t v;

	memcpy(&v, at, sizeof(v));
	return w->swapped ? __builtin_bswap64(v) : v;
}

static enum pcapng_step stop(struct pcapng_walk *w, const char *why)
{
	w->stopped = why;
	return PCAPNG_STOP;
}

int pcapng_magic(const uint8_t *base, size_t size)
{
	uint32_t type;

	if (size < 4)
		return 0;
	memcpy(&type, base, sizeof(type));
	return type == BT_SHB;
}

/* The DLT_ value of an interface's LINKTYPE_ value as libpcap maps it, for
 * the link types the decoder reads; -1 for the others (libpcap reads them). */
static int dlt_of(uint16_t linktype)
{
	int dlt = linktype == LINKTYPE_RAW ? DLT_RAW : (int)linktype;

	return decode_link_supported(dlt) ? dlt : -1;
}

/* ---- Section Header Blocks ---- */

/* The byte order from the first block's magic; 0 when it is no SHB. */
static int read_byte_order(struct pcapng_walk *w, const uint8_t *base, size_t size)
{
	uint32_t magic;

	if (size < BLOCK_HEADER_LEN + 4 || !pcapng_magic(base, size))
		return 0;
	memcpy(&magic, base + BLOCK_HEADER_LEN, sizeof(magic));
	if (magic != BYTE_ORDER_MAGIC && magic != __builtin_bswap32(BYTE_ORDER_MAGIC))
		return 0;
	w->swapped = magic != BYTE_ORDER_MAGIC;
	return 1;
}

/* A section begins: the same byte order as the file's first (libpcap
 * refuses a change), version 1; its interfaces are its own. The file's
 * first section is held to the version libpcap opens (1.0 or 1.2). */
static enum pcapng_step section_header(struct pcapng_walk *w, struct cursor *c, uint32_t total)
{
	const uint8_t *fixed = cur_take(c, SHB_FIXED_LEN);
	uint16_t major, minor;

	if (!fixed)
		return stop(w, "a section header block too short");
	if (get32(w, fixed) != BYTE_ORDER_MAGIC)
		return stop(w, "a section of another byte order");
	major = get16(w, fixed + 4);
	minor = get16(w, fixed + 6);
	if (major != 1 || (!w->started && ((minor != 0 && minor != 2) || total > SHB_INSANE_MAX)))
		return stop(w, "a section of a version not read in place");
	w->started = 1;
	w->interfaces = 0;
	return READ_ON;
}

/* ---- Interface Description Blocks ---- */

/* The if_tsresol and if_tsoffset options as libpcap reads them (an
 * option cut short, an end-of-options with a length, a repeated or
 * mis-sized option make libpcap refuse the block): 0, or -1. */
static int interface_options(const struct pcapng_walk *w, struct cursor *c, struct pcapng_interface *i,
			     int *binary)
{
	int saw_tsresol = 0, saw_tsoffset = 0;

	while (cur_remaining(c)) {
		const uint8_t *header = cur_take(c, 4), *value;
		uint16_t code, length;

		if (!header)
			return -1;
		code = get16(w, header);
		length = get16(w, header + 2);
		if (!(value = cur_take(c, (uint32_t)(length + 3u) / 4u * 4u)))
			return -1;
		if (code == OPT_ENDOFOPT)
			return length ? -1 : 0;
		if (code == IF_TSRESOL) {
			if (length != 1 || saw_tsresol++)
				return -1;
			*binary = (value[0] & 0x80) != 0;
			if (*binary && (value[0] & 0x7f) > 63)
				return -1;
			if (!*binary && value[0] > 19)
				return -1;
			i->tsresol = 1;
			for (unsigned k = 0; k < (unsigned)(value[0] & 0x7f); k++)
				i->tsresol = *binary ? i->tsresol * 2 : i->tsresol * 10;
		} else if (code == IF_TSOFFSET) {
			if (length != 8 || saw_tsoffset++)
				return -1;
			i->tsoffset = get64(w, value);
		}
	}
	return 0;
}

/* How libpcap turns this interface's timestamp units into microseconds. */
static void choose_scale(struct pcapng_interface *i, int binary)
{
	if (i->tsresol == USER_TSRESOL)
		i->scale = PASS_THROUGH;
	else if (i->tsresol > USER_TSRESOL)
		i->scale = binary ? SCALE_DOWN_BIN : SCALE_DOWN_DEC;
	else
		i->scale = binary ? SCALE_UP_BIN : SCALE_UP_DEC;
	if (!binary)
		i->scale_factor = i->tsresol > USER_TSRESOL ? i->tsresol / USER_TSRESOL
							    : USER_TSRESOL / i->tsresol;
}

static enum pcapng_step interface_description(struct pcapng_walk *w, struct cursor *c)
{
	const uint8_t *fixed = cur_take(c, 8);
	struct pcapng_interface i = { .tsresol = USER_TSRESOL };
	uint16_t linktype;
	uint32_t snaplen;
	int binary = 0;

	if (!fixed || w->interfaces == PCAPNG_MAX_INTERFACES)
		return stop(w, "an interface description block not read in place");
	linktype = get16(w, fixed);
	snaplen = get32(w, fixed + 4);
	i.link = dlt_of(linktype);
	i.snapshot = snaplen == 0 || snaplen > MAX_SNAPLEN ? MAX_SNAPLEN : snaplen;
	if (i.link < 0 || (w->swapped && (i.link == DLT_LINUX_SLL || i.link == DLT_LINUX_SLL2)))
		return stop(w, "an interface of a link type libpcap reads");
	if (interface_options(w, c, &i, &binary) != 0)
		return stop(w, "an interface description block with bad options");
	choose_scale(&i, binary);
	if (!w->first_snapshot) {	/* the file's first interface */
		w->first_link = i.link;
		w->first_snapshot = i.snapshot;
	} else if ((int)linktype != w->first_link || i.snapshot != w->first_snapshot) {
		w->beyond_libpcap = 1;	/* libpcap compares the raw LINKTYPE_ value */
	}
	w->interface[w->interfaces++] = i;
	return READ_ON;
}

/* ---- packet blocks ---- */

/* The time of t units on interface i, as libpcap makes it. */
static void packet_time(const struct pcapng_interface *i, uint64_t t, struct pcap_pkthdr *h)
{
	uint64_t sec, frac;

	/* the usual resolutions divide by constants (a multiplication), the
	 * others by the interface's */
	if (i->tsresol == 1000000) {
		sec = t / 1000000;
		frac = t % 1000000;
	} else if (i->tsresol == 1000000000) {
		sec = t / 1000000000;
		frac = t % 1000000000;
	} else {
		sec = t / i->tsresol;
		frac = t % i->tsresol;
	}
	sec += i->tsoffset;

	switch (i->scale) {
	case SCALE_UP_DEC:
		frac *= i->scale_factor;
		break;
	case SCALE_DOWN_DEC:
		frac /= i->scale_factor;
		break;
	case SCALE_UP_BIN:
	case SCALE_DOWN_BIN:
		frac = frac * USER_TSRESOL / i->tsresol;
		break;
	default:
		break;
	}
	h->ts.tv_sec = (time_t)sec;
	h->ts.tv_usec = (int)frac;
}

/* Enhanced (6) and obsolete (2) Packet Blocks: an interface, a time, the
 * captured and wire lengths and the bytes. */
static enum pcapng_step packet_block(struct pcapng_walk *w, struct cursor *c, uint32_t type,
				     struct pcap_pkthdr *h, const uint8_t **data, int *link)
{
	const uint8_t *fixed = cur_take(c, 20);
	const struct pcapng_interface *i;
	uint32_t interface;

	if (!fixed)
		return stop(w, "a packet block too short");
	interface = type == BT_EPB ? get32(w, fixed) : get16(w, fixed);
	h->caplen = get32(w, fixed + 12);
	h->len = get32(w, fixed + 16);
	if (interface >= w->interfaces)
		return stop(w, "a packet of an interface not described");
	i = &w->interface[interface];
	if (h->caplen > i->snapshot || !(*data = cur_take(c, h->caplen)))
		return stop(w, "a packet longer than its snapshot or its block");
	packet_time(i, (uint64_t)get32(w, fixed + 4) << 32 | get32(w, fixed + 8), h);
	*link = i->link;
	return PCAPNG_PACKET;
}

/* Simple Packet Blocks: the first interface's, no time, the captured
 * length the wire length cut to the snapshot. */
static enum pcapng_step simple_packet_block(struct pcapng_walk *w, struct cursor *c,
					    struct pcap_pkthdr *h, const uint8_t **data, int *link)
{
	const uint8_t *fixed = cur_take(c, 4);
	const struct pcapng_interface *i = &w->interface[0];

	if (!fixed || w->interfaces == 0)
		return stop(w, "a simple packet block not read in place");
	h->len = get32(w, fixed);
	h->caplen = h->len < i->snapshot ? h->len : i->snapshot;
	if (!(*data = cur_take(c, h->caplen)))
		return stop(w, "a packet longer than its block");
	packet_time(i, 0, h);
	*link = i->link;
	return PCAPNG_PACKET;
}

/* ---- the walk ---- */

/* A cursor over the body of the block at offset (between its header and
 * trailer), or -1 when libpcap would refuse the block's framing: shorter
 * than a header and trailer, not a multiple of 4, too large, past the end,
 * or the trailer's length not the header's. */
static int block_body(const struct pcapng_walk *w, const uint8_t *base, size_t size, size_t offset,
		      uint32_t *type, uint32_t *total, struct cursor *body)
{
	const uint8_t *block = base + offset;

	if (size - offset < BLOCK_HEADER_LEN)
		return -1;
	*type = get32(w, block);
	*total = get32(w, block + 4);
	if (*total < BLOCK_HEADER_LEN + BLOCK_TRAILER_LEN || *total % 4 || *total > MAX_BLOCK ||
	    size - offset < *total || get32(w, block + *total - BLOCK_TRAILER_LEN) != *total)
		return -1;
	*body = cur_make(block + BLOCK_HEADER_LEN, *total - BLOCK_HEADER_LEN - BLOCK_TRAILER_LEN);
	return 0;
}

enum pcapng_step pcapng_next(struct pcapng_walk *w, const uint8_t *base, size_t size, size_t *offset,
			     struct pcap_pkthdr *h, const uint8_t **data, int *link)
{
	if (!w->started && !read_byte_order(w, base, size))
		return stop(w, "not a pcapng file walked in place");
	while (*offset < size) {
		enum pcapng_step step = READ_ON;
		uint32_t type, total;
		struct cursor body;

		if (block_body(w, base, size, *offset, &type, &total, &body) != 0)
			return stop(w, "a block cut short or of a bad length");
		if (!w->started && type != BT_SHB)
			return stop(w, "not a pcapng file walked in place");
		if (type == BT_SHB)
			step = section_header(w, &body, total);
		else if (type == BT_IDB)
			step = interface_description(w, &body);
		else if (type == BT_EPB || type == BT_PB)
			step = packet_block(w, &body, type, h, data, link);
		else if (type == BT_SPB)
			step = simple_packet_block(w, &body, h, data, link);
		if (step == PCAPNG_STOP)
			return step;
		*offset += total;
		if (step == PCAPNG_PACKET)
			return step;
	}
	return PCAPNG_END;
}
