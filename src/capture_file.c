/* capture_file.c - reading pcap and pcapng files.
 *
 * libpcap opens every file: it knows both formats, stdin, the byte orders
 * and the link-type mapping, and its messages say what is wrong with a bad
 * file. Reading packets through it costs a read() copy of the whole file
 * and a stdio copy of every packet, which is most of a bare libpcap loop's
 * time. So a classic pcap file that is a regular file is mapped and its
 * records walked in place, in batches the engine can prefetch across.
 * Only records that are plainly well-formed are walked: the first record
 * that is not (truncated, longer than the snapshot, past the end of the
 * mapping) is handed to libpcap, positioned at that record, which reads
 * from there on as it would have, with its own error messages. Either way
 * a packet is handed over exactly as libpcap would hand it over. (A file
 * that grows while it is read is read to its size at opening in place, then
 * on by libpcap.) A file another process truncates while it is read (a
 * tcpdump -C/-W ring) loses the pages of the mapping past its new end, and
 * touching one raises SIGBUS: while a walk runs, a handler maps a page of
 * zeros over the lost page and notes the shrink, the walk stops there, and
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

/* The mapping a walk reads, for the SIGBUS handler. One walk runs at a time. */
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

/* Whether p's file can be walked in place: classic pcap 2.4 or later in
 * either byte order and time unit, a link type the decoder reads and
 * libpcap hands over unchanged, and a regular file. */
static int map_file(pcap_t *p, int link, struct mapped *m)
{
	FILE *fp = pcap_file(p);
	struct stat st;
	uint32_t magic;
	void *base;

	memset(m, 0, sizeof(*m));
	if (!fp || pcap_major_version(p) != 2 || pcap_minor_version(p) < 4 ||
	    !decode_link_supported(link) || ftell(fp) != FILE_HEADER_LEN)
		return -1;
	if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < FILE_HEADER_LEN)
		return -1;
	base = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fileno(fp), 0);
	if (base == MAP_FAILED)
		return -1;
	madvise(base, (size_t)st.st_size, MADV_SEQUENTIAL);
	m->base = base;
	m->size = (size_t)st.st_size;
	memcpy(&magic, m->base, sizeof(magic));
	m->swapped = magic == __builtin_bswap32(MAGIC_US) || magic == __builtin_bswap32(MAGIC_NS);
	magic = m->swapped ? __builtin_bswap32(magic) : magic;
	m->nanoseconds = magic == MAGIC_NS;
	m->max_caplen = (uint32_t)pcap_snapshot(p) < SANE_CAPLEN ? (uint32_t)pcap_snapshot(p) : SANE_CAPLEN;
	if ((magic != MAGIC_US && magic != MAGIC_NS) ||	/* a variant format */
	    (m->swapped && rewritten_when_swapped(link))) {
		munmap(base, m->size);
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

enum file_phase { PHASE_MAPPED, PHASE_LIBPCAP, PHASE_END };

struct file_source {
	struct capture_source base;
	pcap_t *p;
	const char *path;
	int link;
	enum file_phase phase;
	uint64_t packets;	/* handed over so far */
	uint64_t rejected;	/* read and rejected by the filter (messages number records:
				 * packets + rejected) */
	struct bpf_program filter;
	int filtering;
	struct mapped m;	/* PHASE_MAPPED: the mapping and the walk's place */
	size_t offset, fetched, released;
};

/* Keeps the packets of batch[0..n) the filter passes, in order; counts the
 * others. Returns how many are kept. (Filtering a whole batch keeps the
 * walk's loop as short as without a filter.) */
static size_t keep_passing(const struct bpf_program *filter, struct packet *batch, size_t n,
			   uint64_t *rejected)
{
	size_t kept = 0;

	for (size_t i = 0; i < n; i++) {
		struct pcap_pkthdr h = { .caplen = batch[i].caplen, .len = batch[i].wire_len };

		if (pcap_offline_filter(filter, &h, batch[i].data))
			batch[kept++] = batch[i];
		else
			(*rejected)++;
	}
	return kept;
}

/* Unmaps the file and positions libpcap at the record the walk stopped at. */
static int leave_mapping(struct file_source *f, struct dsm_err *err)
{
	munmap((void *)f->m.base, f->m.size);
	f->m.base = NULL;
	f->phase = PHASE_LIBPCAP;
	if (fseeko(pcap_file(f->p), (off_t)f->offset, SEEK_SET) != 0) {
		dsm_err_set(err, "%s: packet %llu: cannot seek to offset %zu", display_name(f->path),
			    (unsigned long long)(f->packets + f->rejected) + 1, f->offset);
		return -1;
	}
	return 0;
}

/* Walks up to BATCHES_PER_DISPATCH batches of the mapping; at the first
 * record it cannot walk (the end of the file, or one that is not plainly
 * well-formed) hands the rest to libpcap, positioned there. -1 with err
 * when the file shrank under the walk. */
static int dispatch_mapped(struct file_source *f, packet_fn fn, void *ctx, struct dsm_err *err)
{
	struct mapped m = f->m;		/* the walk's state in locals: fn may alias nothing */
	size_t offset = f->offset, fetched = f->fetched, released = f->released, at = offset, n = 0;
	uint64_t rejected = f->rejected;
	const struct bpf_program *filter = f->filtering ? &f->filter : NULL;
	int batches = 0, handed = 0, more = 1, link = f->link;
	struct packet batch[BATCH];
	struct pcap_pkthdr h;
	const uint8_t *data;
	struct sigaction old;

	guard_walk(m.base, m.size, &old);
	while (batches < BATCHES_PER_DISPATCH && !walking.shrank &&
	       (more = next_record(&m, &offset, &h, &data))) {
		if (walking.shrank) {	/* that record's header was on a lost page */
			offset = at;
			break;
		}
		at = offset;
		packet_from_pcap(&batch[n++], &h, data, link);
		stream_ahead(&m, offset, &fetched);
		if (n < BATCH)
			continue;
		if (filter)
			n = keep_passing(filter, batch, n, &rejected);
		handed += (int)n;
		fn(ctx, batch, n);
		n = 0;
		batches++;
		release_behind(&m, offset, &released);
		map_ahead(&m, offset);
	}
	if (n && filter)
		n = keep_passing(filter, batch, n, &rejected);
	if (n) {
		handed += (int)n;
		fn(ctx, batch, n);
	}
	unguard_walk(&old);
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
	if (!more)
		return leave_mapping(f, err) ? -1 : handed;
	return handed;
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

		if (f->filtering && !pcap_offline_filter(&f->filter, header, data)) {
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
	if (o->filter && pcap_compile(f->p, &f->filter, o->filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
		dsm_err_set(err, "%s: filter '%s': %s", display_name(o->path), o->filter, pcap_geterr(f->p));
		pcap_close(f->p);
		free(f);
		return NULL;
	}
	f->filtering = o->filter != NULL;
	f->phase = o->in_place && map_file(f->p, f->link, &f->m) == 0 ? PHASE_MAPPED : PHASE_LIBPCAP;
	f->offset = FILE_HEADER_LEN;
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
	if (f->m.base)
		munmap((void *)f->m.base, f->m.size);
	if (f->filtering)
		pcap_freecode(&f->filter);
	pcap_close(f->p);
	free(f);
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

static int read_whole_file(const struct capture_options *o, packet_fn fn, void *ctx,
			   struct capture_file_result *result, struct dsm_err *err);

int capture_read_file_with(const char *path, int in_place, packet_fn fn, void *ctx,
			   struct capture_file_result *result, struct dsm_err *err)
{
	struct capture_options o = { .path = path, .in_place = in_place };

	return read_whole_file(&o, fn, ctx, result, err);
}

int capture_read_file_filtered(const char *path, const char *filter, packet_fn fn, void *ctx,
			       struct capture_file_result *result, struct dsm_err *err)
{
	struct capture_options o = { .path = path, .in_place = 1, .filter = filter };

	return read_whole_file(&o, fn, ctx, result, err);
}

static int read_whole_file(const struct capture_options *o, packet_fn fn, void *ctx,
			   struct capture_file_result *result, struct dsm_err *err)
{
	struct capture_source *src;
	int rc;

	memset(result, 0, sizeof(*result));
	src = capture_file_ops.open(o, err);
	if (!src)
		return -1;
	result->link = ((struct file_source *)src)->link;
	while ((rc = capture_file_ops.dispatch(src, fn, ctx, err)) >= 0)
		;
	result->packets = ((struct file_source *)src)->packets;
	capture_file_ops.close(src);
	return rc == CAPTURE_END ? 0 : -1;
}

int capture_read_file(const char *path, packet_fn fn, void *ctx,
		      struct capture_file_result *result, struct dsm_err *err)
{
	return capture_read_file_with(path, 1, fn, ctx, result, err);
}
