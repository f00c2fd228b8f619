/* capture_file.c - reading pcap and pcapng files.
 *
 * libpcap opens every file: it knows both formats, stdin, the byte orders
 * and the link-type mapping, and its messages say what is wrong with a bad
 * file. Reading packets through it costs a read() copy of the whole file
 * and a copy of every packet, which is most of a bare libpcap loop's time.
 * So a file that is a regular file is mapped and walked in place, in
 * batches the engine can prefetch across: a classic pcap file's records
 * here, a pcapng file's blocks in pcapng.c. Only what is plainly
 * well-formed is walked: at the first record or block that is not
 * (truncated, longer than the snapshot, past the end of the mapping),
 * libpcap takes over there and reads on as it would have, with its own
 * error messages. A classic file is handed to libpcap by a seek to that
 * record; a pcapng file's sections and interfaces are libpcap's own state,
 * so libpcap reads the walked records again, handing none over. Either way
 * a packet is handed over exactly as libpcap would hand it over. (A file
 * that grows while it is read is read to its size at opening in place, then
 * on by libpcap.) A file another process truncates while it is read (a
 * tcpdump -C/-W ring) loses the pages of the mapping past its new end, and
 * touching one raises SIGBUS: while the mapping is open (its packets may be
 * read by other threads after the walk: parallel.c), a handler maps a page
 * of zeros over the lost page and notes the shrink, the walk stops there, and
 * the read ends with "FILE: shrank while being read at packet N" (the
 * packet being handed over when the pages went may have read zeros).
 *
 * As a capture source (capture_file_ops), a file is read a few thousand
 * packets per dispatch, walked in place first and through libpcap after.
 */
#include <pcap/pcap.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture_libpcap.h"
#include "dsmflow/capture.h"
#include "dsmflow/decode.h"
#include "pcapng.h"

#define FILE_HEADER_LEN 24
#define RECORD_HEADER_LEN 16
#define MAGIC_US 0xa1b2c3d4u
#define MAGIC_NS 0xa1b23c4du
#define SANE_CAPLEN 262144u	/* libpcap accepts at least this for every link type */
#define BATCH 32		/* packets per call of the packet_fn: enough to prefetch ahead */
#define STREAM_AHEAD 16384	/* bytes of the file fetched into the cache ahead of the walk */
#define RELEASE_EVERY (8u << 20)	/* bytes walked between releases of the pages behind */
#define MAP_AHEAD (4u << 20)	/* bytes whose pages are mapped at once, ahead of the walk */

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22	/* Linux 5.14; older kernels say EINVAL and fault page by page */
#endif

static const char *display_name(const char *path)
{
	return strcmp(path, "-") ? path : "standard input";
}

/* ---- in place, from a mapping ---- */

/* The mapping being read, for the SIGBUS handler. One file is read in
 * place at a time. */
static struct {
	const uint8_t *base;
	size_t size;
	uintptr_t page_mask;
	volatile sig_atomic_t shrank;
} walking;

/* A lost page of the walked mapping (its file shrank) becomes a page of
 * zeros, and the walk is told; any other SIGBUS is the default's. */
static void on_sigbus(int sig, siginfo_t *info, void *context)
{
	uintptr_t at = (uintptr_t)info->si_addr, base = (uintptr_t)walking.base;

	(void)context;
	if (base && at >= base && at - base < walking.size &&
	    mmap((void *)(at & walking.page_mask), walking.page_mask ? ~walking.page_mask + 1 : 4096,
		 PROT_READ, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) != MAP_FAILED) {
		walking.shrank = 1;
		return;
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static void guard_walk(const uint8_t *base, size_t size, struct sigaction *old)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	walking.page_mask = ~((uintptr_t)sysconf(_SC_PAGESIZE) - 1);
	walking.base = base;
	walking.size = size;
	walking.shrank = 0;
	sigaction(SIGBUS, &sa, old);
}

static void unguard_walk(const struct sigaction *old)
{
	sigaction(SIGBUS, old, NULL);
	walking.base = NULL;
}

struct mapped {
	const uint8_t *base;
	size_t size;
	size_t populated;	/* pages mapped up to here by map_ahead() */
	int swapped;		/* the file's byte order is not ours */
	int nanoseconds;	/* timestamps are ns (libpcap hands over us) */
	uint32_t max_caplen;	/* min(libpcap's snapshot, SANE_CAPLEN) */
};

static uint32_t field32(const struct mapped *m, const uint8_t *at)
{
	uint32_t v;

	memcpy(&v, at, sizeof(v));
	return m->swapped ? __builtin_bswap32(v) : v;
}

/* Whether libpcap rewrites parts of this link type's packets read from a
 * file of the other byte order (SocketCAN ids inside Linux cooked
 * headers; the others it rewrites, USB and NFLOG, the decoder does not
 * read): such packets are not handed over in place. */
static int rewritten_when_swapped(int link)
{
	return link == DLT_LINUX_SLL || link == DLT_LINUX_SLL2;
}

/* Maps fp's file whole; -1 when it is no regular file or cannot be mapped. */
static int map_whole(FILE *fp, struct mapped *m, size_t at_least)
{
	struct stat st;
	void *base;

	if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size < at_least)
		return -1;
	base = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fileno(fp), 0);
	if (base == MAP_FAILED)
		return -1;
	madvise(base, (size_t)st.st_size, MADV_SEQUENTIAL);
	m->base = base;
	m->size = (size_t)st.st_size;
	return 0;
}

/* Whether p's file can be walked in place as classic pcap: version 2.4 or
 * later in either byte order and time unit, a link type the decoder reads
 * and libpcap hands over unchanged, and a regular file. */
static int map_classic(pcap_t *p, int link, struct mapped *m)
{
	FILE *fp = pcap_file(p);
	uint32_t magic;

	memset(m, 0, sizeof(*m));
	if (!fp || pcap_major_version(p) != 2 || pcap_minor_version(p) < 4 ||
	    !decode_link_supported(link) || ftell(fp) != FILE_HEADER_LEN ||
	    map_whole(fp, m, FILE_HEADER_LEN) != 0)
		return -1;
	memcpy(&magic, m->base, sizeof(magic));
	m->swapped = magic == __builtin_bswap32(MAGIC_US) || magic == __builtin_bswap32(MAGIC_NS);
	magic = m->swapped ? __builtin_bswap32(magic) : magic;
	m->nanoseconds = magic == MAGIC_NS;
	m->max_caplen = (uint32_t)pcap_snapshot(p) < SANE_CAPLEN ? (uint32_t)pcap_snapshot(p) : SANE_CAPLEN;
	if ((magic != MAGIC_US && magic != MAGIC_NS) ||	/* a variant format */
	    (m->swapped && rewritten_when_swapped(link))) {
		munmap((void *)m->base, m->size);
		m->base = NULL;
		return -1;
	}
	return 0;
}

/* Whether p's file can be walked in place as pcapng: a regular file whose
 * first interface has a link type the decoder reads (pcapng.c checks the
 * rest block by block). */
static int map_pcapng(pcap_t *p, int link, struct mapped *m)
{
	FILE *fp = pcap_file(p);

	memset(m, 0, sizeof(*m));
	if (!fp || pcap_major_version(p) != 1 || !decode_link_supported(link) || map_whole(fp, m, 0) != 0)
		return -1;
	if (!pcapng_magic(m->base, m->size)) {
		munmap((void *)m->base, m->size);
		m->base = NULL;
		return -1;
	}
	return 0;
}

/* Fills h and *data from the record at *offset and moves past it; 0 when
 * the record is not plainly well-formed (libpcap then reads it). */
static int next_record(const struct mapped *m, size_t *offset, struct pcap_pkthdr *h,
		       const uint8_t **data)
{
	const uint8_t *rec = m->base + *offset;

	if (m->size - *offset < RECORD_HEADER_LEN)
		return 0;
	h->caplen = field32(m, rec + 8);
	h->len = field32(m, rec + 12);
	if (h->caplen > m->max_caplen || m->size - *offset - RECORD_HEADER_LEN < h->caplen)
		return 0;
	/* as libpcap: times are signed 32-bit in our byte order and unsigned
	 * in the other (its byte swap is unsigned), ns scaled down to us */
	if (m->swapped) {
		uint32_t sec = field32(m, rec), frac = field32(m, rec + 4);

		h->ts.tv_sec = sec;
		h->ts.tv_usec = m->nanoseconds ? frac / 1000 : frac;
	} else {
		int32_t sec = (int32_t)field32(m, rec), frac = (int32_t)field32(m, rec + 4);

		h->ts.tv_sec = sec;
		h->ts.tv_usec = m->nanoseconds ? frac / 1000 : frac;
	}
	*data = rec + RECORD_HEADER_LEN;
	*offset += RECORD_HEADER_LEN + h->caplen;
	return 1;
}

/* Each record's length is in the record before it, so walking records is
 * a chain of dependent loads; fetching the file sequentially ahead of the
 * walk turns it into a stream, as read() would have. */
static inline void stream_ahead(const struct mapped *m, size_t offset, size_t *fetched)
{
	size_t until = offset + STREAM_AHEAD < m->size ? offset + STREAM_AHEAD : m->size;

	for (; *fetched < until; *fetched += 64)
		__builtin_prefetch(m->base + *fetched);
}

/* Maps the pages ahead of the walk in one call per MAP_AHEAD bytes,
 * rather than in a page fault every few pages. */
static void map_ahead(struct mapped *m, size_t offset)
{
	size_t len;

	if (m->populated == SIZE_MAX || offset + MAP_AHEAD / 2 < m->populated || m->populated >= m->size)
		return;
	len = m->size - m->populated < MAP_AHEAD ? m->size - m->populated : MAP_AHEAD;
	if (madvise((void *)(m->base + m->populated), len, MADV_POPULATE_READ) != 0)
		m->populated = SIZE_MAX;	/* not supported: page faults will do */
	else
		m->populated += len;
}

/* Drops the pages well behind the walk from this process (they stay in the
 * page cache), so that a large file does not count as resident memory. The
 * batch just handed over is done with; anything before it may go. */
static void release_behind(const struct mapped *m, size_t offset, size_t *released)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), upto = offset / page * page;

	if (upto < *released + RELEASE_EVERY)
		return;
	madvise((void *)(m->base + *released), upto - *released, MADV_DONTNEED);
	*released = upto;
}

/* ---- the source ---- */

#define BATCHES_PER_DISPATCH 256	/* then the caller gets control back */

enum file_phase { PHASE_MAPPED, PHASE_PCAPNG, PHASE_LIBPCAP, PHASE_END };

/* Link types a filter is compiled for: a pcapng file's interfaces may
 * have several (the first is the file's, compiled at opening). */
#define FILTER_LINKS 8

struct link_filter {
	int link;
	struct bpf_program program;
};

struct file_source {
	struct capture_source base;
	pcap_t *p;
	const char *path;
	int link;
	enum file_phase phase;
	uint64_t packets;	/* handed over so far */
	uint64_t rejected;	/* read and rejected by the filter (messages number records:
				 * packets + rejected) */
	const char *filter_text;	/* the filter's expression, or NULL */
	struct link_filter filter[FILTER_LINKS];
	int filters;		/* compiled so far; [0] for the file's link type */
	struct mapped m;	/* PHASE_MAPPED, PHASE_PCAPNG: the mapping and the walk's place */
	size_t offset, fetched, released;
	struct pcapng_walk ng;	/* PHASE_PCAPNG: the sections' interfaces */
	struct sigaction before_guard;	/* SIGBUS's action before the mapping's guard */
	const uint8_t *(*kept_from)(void *ctx);	/* capture_file_keep, or NULL */
	void *kept_ctx;
};

/* The filter compiled for link (compiled now if it is a link type not
 * seen before); NULL with err when it cannot be. */
static const struct bpf_program *filter_for(struct file_source *f, int link, struct dsm_err *err)
{
	pcap_t *dead;
	int compiled;

	for (int i = 0; i < f->filters; i++)
		if (f->filter[i].link == link)
			return &f->filter[i].program;
	if (f->filters == FILTER_LINKS) {
		dsm_err_set(err, "%s: filter '%s': more than %d link types in one file",
			    display_name(f->path), f->filter_text, FILTER_LINKS);
		return NULL;
	}
	dead = pcap_open_dead(link, 262144);
	compiled = dead && pcap_compile(dead, &f->filter[f->filters].program, f->filter_text, 1,
					 PCAP_NETMASK_UNKNOWN) == 0;
	if (!compiled)
		dsm_err_set(err, "%s: filter '%s': %s (link type %s)", display_name(f->path),
			    f->filter_text, dead ? pcap_geterr(dead) : "out of memory",
			    pcap_datalink_val_to_name(link) ? pcap_datalink_val_to_name(link) : "unknown");
	if (dead)
		pcap_close(dead);
	if (!compiled)
		return NULL;
	f->filter[f->filters].link = link;
	return &f->filter[f->filters++].program;
}

/* Keeps the packets of batch[0..n) the filter passes, in order; counts the
 * others. Returns how many are kept, or -1 with err when the filter cannot
 * be compiled for a packet's link type. (Filtering a whole batch keeps
 * the walk's loop as short as without a filter.) */
static ssize_t keep_passing(struct file_source *f, struct packet *batch, size_t n, uint64_t *rejected,
			    struct dsm_err *err)
{
	const struct bpf_program *filter = &f->filter[0].program;
	int link = f->filter[0].link;
	size_t kept = 0;

	for (size_t i = 0; i < n; i++) {
		struct pcap_pkthdr h = { .caplen = batch[i].caplen, .len = batch[i].wire_len };

		if (batch[i].link != link && !(filter = filter_for(f, link = batch[i].link, err)))
			return -1;
		if (pcap_offline_filter(filter, &h, batch[i].data))
			batch[kept++] = batch[i];
		else
			(*rejected)++;
	}
	return (ssize_t)kept;
}

/* How far the pages behind the walk may be released: all of them up to
 * offset, unless a reader keeps packets (capture_file_keep) from before. */
static size_t kept_below(const struct file_source *f, size_t offset)
{
	const uint8_t *kept = f->kept_from ? f->kept_from(f->kept_ctx) : NULL;

	if (!kept || kept < f->m.base || kept >= f->m.base + offset)
		return offset;
	return (size_t)(kept - f->m.base);
}

/* Positions libpcap at the record the walk stopped at. */
static int leave_mapping(struct file_source *f, struct dsm_err *err)
{
	f->phase = PHASE_LIBPCAP;	/* (the mapping stays: see capture_file_stable) */
	if (fseeko(pcap_file(f->p), (off_t)f->offset, SEEK_SET) != 0) {
		dsm_err_set(err, "%s: packet %llu: cannot seek to offset %zu", display_name(f->path),
			    (unsigned long long)(f->packets + f->rejected) + 1, f->offset);
		return -1;
	}
	return 0;
}

/* Reads again through libpcap, handing nothing over, the records the walk
 * read (libpcap has read none yet): a pcapng file's sections and
 * interfaces are libpcap's state, which a seek would not give it. */
static int skip_records(struct file_source *f, uint64_t records, struct dsm_err *err)
{
	struct pcap_pkthdr *header;
	const u_char *data;
	uint64_t skipped = 0;
	int rc = 1;

	while (skipped < records && (rc = pcap_next_ex(f->p, &header, &data)) == 1)
		skipped++;
	if (rc == 1)
		return 0;
	f->phase = PHASE_END;
	dsm_err_set(err, "%s: packet %llu: %s", display_name(f->path), (unsigned long long)skipped + 1,
		    rc == PCAP_ERROR_BREAK ? "libpcap finds the file ends here" : pcap_geterr(f->p));
	return -1;
}

/* The walk of a pcapng file ended at f->offset: at the end of the file
 * (the end, unless the file grew since it was mapped) or at a block it
 * does not take, where libpcap reads on. A file libpcap cannot read
 * (interfaces of several link types) ends with the walk's reason. */
static int leave_pcapng(struct file_source *f, struct dsm_err *err)
{
	const char *stopped = f->ng.stopped;
	size_t mapped = f->m.size;
	struct stat st;

	f->phase = PHASE_END;	/* (the mapping stays: see capture_file_stable) */
	if (!stopped && (fstat(fileno(pcap_file(f->p)), &st) != 0 || (size_t)st.st_size == mapped))
		return 0;
	if (f->ng.beyond_libpcap) {
		if (!stopped)
			return 0;	/* read to its size at opening */
		dsm_err_set(err, "%s: packet %llu: %s (at byte %zu)", display_name(f->path),
			    (unsigned long long)(f->packets + f->rejected) + 1, stopped, f->offset);
		return -1;
	}
	f->phase = PHASE_LIBPCAP;
	return skip_records(f, f->packets + f->rejected, err);
}

/* The next packet in the mapping, its link type in *link: 1, or 0 at the
 * end or at a record or block the walk does not take. */
static inline int next_in_place(struct file_source *f, const struct mapped *m, size_t *offset,
				struct pcap_pkthdr *h, const uint8_t **data, int *link, const int pcapng)
{
	if (!pcapng)
		return next_record(m, offset, h, data);
	return pcapng_next(&f->ng, m->base, m->size, offset, h, data, link) == PCAPNG_PACKET;
}

/* Hands batch[0..n) over, filtered; how many were handed, or -1. */
static inline ssize_t hand_over(struct file_source *f, packet_fn fn, void *ctx, struct packet *batch,
				size_t n, uint64_t *rejected, struct dsm_err *err)
{
	ssize_t kept = f->filters ? keep_passing(f, batch, n, rejected, err) : (ssize_t)n;

	if (kept > 0)
		fn(ctx, batch, (size_t)kept);
	return kept;
}

/* Walks up to BATCHES_PER_DISPATCH batches of the mapping (classic pcap
 * records, or pcapng blocks: pcapng is constant, so each is compiled on
 * its own); at the first record it cannot walk (the end of the file, or one
 * that is not plainly well-formed) hands the rest to libpcap. -1 with err
 * when the file shrank under the walk or the filter fails. */
static inline __attribute__((always_inline)) int walk_mapped(struct file_source *f, packet_fn fn,
							      void *ctx, struct dsm_err *err,
							      const int pcapng)
{
	struct mapped m = f->m;		/* the walk's state in locals: fn may alias nothing */
	size_t offset = f->offset, fetched = f->fetched, released = f->released, at = offset, n = 0;
	uint64_t rejected = f->rejected;
	int batches = 0, handed = 0, more = 1, failed = 0, link = f->link;
	struct packet batch[BATCH];
	struct pcap_pkthdr h;
	const uint8_t *data;
	ssize_t kept;

	while (batches < BATCHES_PER_DISPATCH && !walking.shrank &&
	       (more = next_in_place(f, &m, &offset, &h, &data, &link, pcapng))) {
		if (walking.shrank) {	/* that record's header was on a lost page */
			offset = at;
			break;
		}
		at = offset;
		packet_from_pcap(&batch[n++], &h, data, link);
		stream_ahead(&m, offset, &fetched);
		if (n < BATCH)
			continue;
		if ((kept = hand_over(f, fn, ctx, batch, n, &rejected, err)) < 0) {
			failed = 1;
			break;
		}
		handed += (int)kept;
		n = 0;
		batches++;
		if (offset - released >= RELEASE_EVERY)
			release_behind(&m, kept_below(f, offset), &released);
		map_ahead(&m, offset);
	}
	if (n && !failed && (kept = hand_over(f, fn, ctx, batch, n, &rejected, err)) >= 0)
		handed += (int)kept;
	else if (n && !failed)
		failed = 1;
	f->packets += (uint64_t)handed;
	f->rejected = rejected;
	f->offset = offset;
	f->fetched = fetched;
	f->released = released;
	f->m.populated = m.populated;
	if (walking.shrank) {
		dsm_err_set(err, "%s: shrank while being read at packet %llu", display_name(f->path),
			    (unsigned long long)(f->packets + f->rejected) + 1);
		return -1;
	}
	if (failed)
		return -1;
	if (!more && pcapng)
		return leave_pcapng(f, err) ? -1 : handed;
	if (!more)
		return leave_mapping(f, err) ? -1 : handed;
	return handed;
}

static int dispatch_mapped(struct file_source *f, packet_fn fn, void *ctx, struct dsm_err *err)
{
	return walk_mapped(f, fn, ctx, err, 0);
}

static int dispatch_pcapng(struct file_source *f, packet_fn fn, void *ctx, struct dsm_err *err)
{
	f->ng.stopped = NULL;
	return walk_mapped(f, fn, ctx, err, 1);
}

/* Up to BATCHES_PER_DISPATCH * BATCH packets through libpcap, one at a
 * time (its buffer holds one). */
static int dispatch_libpcap(struct file_source *f, packet_fn fn, void *ctx, struct dsm_err *err)
{
	struct pcap_pkthdr *header;
	const u_char *data;
	int handed = 0, rc = 1;

	while (handed < BATCHES_PER_DISPATCH * BATCH && (rc = pcap_next_ex(f->p, &header, &data)) == 1) {
		struct packet pkt;

		if (f->filters && !pcap_offline_filter(&f->filter[0].program, header, data)) {
			f->rejected++;
			continue;
		}
		packet_from_pcap(&pkt, header, data, f->link);
		f->packets++;
		handed++;
		fn(ctx, &pkt, 1);
	}
	if (rc == 1)
		return handed;
	f->phase = PHASE_END;
	if (rc != PCAP_ERROR_BREAK) {
		dsm_err_set(err, "%s: packet %llu: %s", display_name(f->path),
			    (unsigned long long)(f->packets + f->rejected) + 1, pcap_geterr(f->p));
		return -1;
	}
	return handed ? handed : CAPTURE_END;
}

static int file_dispatch(struct capture_source *src, packet_fn fn, void *ctx, struct dsm_err *err)
{
	struct file_source *f = (struct file_source *)src;

	switch (f->phase) {
	case PHASE_MAPPED:
		return dispatch_mapped(f, fn, ctx, err);
	case PHASE_PCAPNG:
		return dispatch_pcapng(f, fn, ctx, err);
	case PHASE_LIBPCAP:
		return dispatch_libpcap(f, fn, ctx, err);
	default:
		return CAPTURE_END;
	}
}

/* Why path is no capture, in plain words, from what it is (missing, a
 * directory, empty) or libpcap's message (without the path it repeats). */
static void explain_unreadable(const char *path, const char *pcap_msg, struct dsm_err *err)
{
	const char *name = display_name(path);
	size_t n = strlen(path);
	struct stat st;

	if (strcmp(path, "-") != 0 && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		dsm_err_set(err, "%s: is a directory, not a capture file", name);
	else if (strcmp(path, "-") != 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0)
		dsm_err_set(err, "%s: is empty (0 bytes), not a capture file", name);
	else if (strstr(pcap_msg, "only got 0"))
		dsm_err_set(err, "%s: is empty, not a capture", name);
	else if (strstr(pcap_msg, "truncated dump file") && strstr(pcap_msg, "file header"))
		dsm_err_set(err, "%s: too short for a capture file's header (not a capture, or cut short)", name);
	else if (strcmp(pcap_msg, "unknown file format") == 0)
		dsm_err_set(err, "%s: not a capture file (neither pcap nor pcapng: its first bytes are "
				 "neither format's magic number)", name);
	else if (strncmp(pcap_msg, path, n) == 0 && strncmp(pcap_msg + n, ": ", 2) == 0)
		dsm_err_set(err, "%s: %s", name, pcap_msg + n + 2);	/* libpcap named it too */
	else
		dsm_err_set(err, "%s: %s", name, pcap_msg);
}

static struct capture_source *file_open(const struct capture_options *o, struct dsm_err *err)
{
	char errbuf[PCAP_ERRBUF_SIZE] = "";
	struct file_source *f = calloc(1, sizeof(*f));

	if (!f) {
		dsm_err_set(err, "%s: out of memory", display_name(o->path));
		return NULL;
	}
	f->base.ops = &capture_file_ops;
	f->path = o->path;
	f->p = pcap_open_offline(o->path, errbuf);
	if (!f->p) {
		explain_unreadable(o->path, errbuf, err);
		free(f);
		return NULL;
	}
	f->link = pcap_datalink(f->p);
	if (o->filter && pcap_compile(f->p, &f->filter[0].program, o->filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
		dsm_err_set(err, "%s: filter '%s': %s", display_name(o->path), o->filter, pcap_geterr(f->p));
		pcap_close(f->p);
		free(f);
		return NULL;
	}
	f->filter_text = o->filter;
	f->filter[0].link = f->link;
	f->filters = o->filter != NULL;
	if (o->in_place && map_classic(f->p, f->link, &f->m) == 0) {
		f->phase = PHASE_MAPPED;
		f->offset = FILE_HEADER_LEN;
	} else if (o->in_place && map_pcapng(f->p, f->link, &f->m) == 0) {
		f->phase = PHASE_PCAPNG;
		f->offset = 0;
	} else {
		f->phase = PHASE_LIBPCAP;
	}
	if (f->m.base)	/* for as long as the mapping is read: walked, or its packets kept */
		guard_walk(f->m.base, f->m.size, &f->before_guard);
	return &f->base;
}

static int file_fd(const struct capture_source *src)
{
	(void)src;
	return -1;
}

static void file_stats(struct capture_source *src, struct capture_stats *out)
{
	(void)src;
	memset(out, 0, sizeof(*out));	/* nothing is lost before a file is read */
}

static void file_print_health(const struct capture_stats *s, FILE *out)
{
	(void)s;
	(void)out;
}

static void file_close(struct capture_source *src)
{
	struct file_source *f = (struct file_source *)src;

	if (!f)
		return;
	if (f->m.base) {
		unguard_walk(&f->before_guard);
		munmap((void *)f->m.base, f->m.size);
	}
	for (int i = 0; i < f->filters; i++)
		pcap_freecode(&f->filter[i].program);
	pcap_close(f->p);
	free(f);
}

void capture_file_keep(struct capture_source *src, const uint8_t *(*kept_from)(void *ctx), void *ctx)
{
	struct file_source *f = (struct file_source *)src;

	f->kept_from = kept_from;
	f->kept_ctx = ctx;
}

const uint8_t *capture_file_stable(const struct capture_source *src, size_t *size)
{
	const struct file_source *f = (const struct file_source *)src;

	*size = f->m.base ? f->m.size : 0;
	return f->m.base;
}

const struct capture_ops capture_file_ops = {
	.name = "file",
	.open = file_open,
	.fd = file_fd,
	.dispatch = file_dispatch,
	.stats = file_stats,
	.print_health = file_print_health,
	.close = file_close,
};

/* ---- a whole file in one call ---- */

/* What a reader that keeps packets is told and asked (capture_read_file_kept). */
struct keeping {
	void (*stable)(void *ctx, const uint8_t *base, size_t size);
	const uint8_t *(*kept_from)(void *ctx);
	void (*drain)(void *ctx);
};

static int read_whole_file(const struct capture_options *o, packet_fn fn, void *ctx,
			   const struct keeping *keeping, struct capture_file_result *result,
			   struct dsm_err *err);

int capture_read_file_with(const char *path, int in_place, packet_fn fn, void *ctx,
			   struct capture_file_result *result, struct dsm_err *err)
{
	struct capture_options o = { .path = path, .in_place = in_place };

	return read_whole_file(&o, fn, ctx, NULL, result, err);
}

int capture_read_file_filtered(const char *path, const char *filter, packet_fn fn, void *ctx,
			       struct capture_file_result *result, struct dsm_err *err)
{
	struct capture_options o = { .path = path, .in_place = 1, .filter = filter };

	return read_whole_file(&o, fn, ctx, NULL, result, err);
}

int capture_read_file_kept(const char *path, const char *filter, packet_fn fn,
			   void (*stable)(void *ctx, const uint8_t *base, size_t size),
			   const uint8_t *(*kept_from)(void *ctx), void (*drain)(void *ctx), void *ctx,
			   struct capture_file_result *result, struct dsm_err *err)
{
	struct capture_options o = { .path = path, .in_place = 1, .filter = filter };
	struct keeping keeping = { stable, kept_from, drain };

	return read_whole_file(&o, fn, ctx, &keeping, result, err);
}

static int read_whole_file(const struct capture_options *o, packet_fn fn, void *ctx,
			   const struct keeping *keeping, struct capture_file_result *result,
			   struct dsm_err *err)
{
	struct capture_source *src;
	const uint8_t *base;
	size_t size;
	int rc;

	memset(result, 0, sizeof(*result));
	src = capture_file_ops.open(o, err);
	if (!src)
		return -1;
	result->link = ((struct file_source *)src)->link;
	if (keeping) {
		base = capture_file_stable(src, &size);
		keeping->stable(ctx, base, size);
		capture_file_keep(src, keeping->kept_from, ctx);
	}
	while ((rc = capture_file_ops.dispatch(src, fn, ctx, err)) >= 0)
		;
	result->packets = ((struct file_source *)src)->packets;
	if (keeping) {
		keeping->drain(ctx);
		if (rc == CAPTURE_END && walking.shrank) {	/* a worker touched a lost page */
			dsm_err_set(err, "%s: shrank while being read (a packet read after the walk "
					 "ended was on a lost page)", display_name(o->path));
			rc = -1;
		}
	}
	capture_file_ops.close(src);
	return rc == CAPTURE_END ? 0 : -1;
}

int capture_read_file(const char *path, packet_fn fn, void *ctx,
		      struct capture_file_result *result, struct dsm_err *err)
{
	return capture_read_file_with(path, 1, fn, ctx, result, err);
}
