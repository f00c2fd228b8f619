/* parallel.c - the reader and its workers (see parallel.h).
 *
 * The ring is RING_BATCHES batches, each of up to BATCH_PACKETS packets.
 * The reader fills batch published % RING_BATCHES, then publishes it by
 * moving `published` on, and counts its own share of it as worker 0
 * (--threads N is N threads: the reader and N - 1 more); before it fills a
 * batch again, every worker must have consumed the one that was there.
 * Each worker moves its own `consumed` on after counting a batch; the
 * workers never wait for each other (engine_share).
 *
 * Waiting spins briefly, then sleeps on a condition variable; the side
 * that makes progress wakes sleepers only when some sleep (a sequentially
 * consistent counter of sleepers, checked after each publication, and
 * re-checked under the lock before sleeping, so that no wake-up is lost).
 */
#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "dsmflow/linelog.h"
#include "dsmflow/parallel.h"

#define RING_BATCHES 16
#define BATCH_PACKETS 512
#define ARENA_BYTES (1u << 20)	/* copies of packets outside the stable bytes */
#define MAX_COPY 262144u	/* the longest packet libpcap hands over */
#define SPINS 4000	/* checks before sleeping: pauses (some 100 us: the other side is a
			 * batch away), then yields */
#define YIELDS 100

struct batch {
	size_t count;
	const uint8_t *first_kept;	/* its first packet's bytes not copied, or NULL */
	size_t arena_used;
	uint8_t *arena;		/* ARENA_BYTES, made when a copy is first needed */
	struct packet pkts[BATCH_PACKETS];
};

struct worker {
	alignas(64) _Atomic uint64_t consumed;	/* batches counted */
	alignas(64) struct parallel *par;
	struct engine *engine;
	pthread_t thread;
	int started;
	struct line_log flow_log, evidence_log;	/* its engine's lines, copied whole */
};

struct parallel {
	alignas(64) _Atomic uint64_t published;	/* batches handed out (a line of its own:
						 * every thread reads it, the reader writes it) */
	alignas(64) _Atomic int finished;	/* no batch will follow */
	_Atomic int sleepers;			/* threads asleep on `moved` */
	uint64_t copies_failed;			/* packets counted empty: no memory for a copy */
	unsigned count;
	int filling;				/* ring[published % RING_BATCHES] is being filled */
	const uint8_t *stable;
	size_t stable_size;
	int all_stable;				/* parallel_stable(p, NULL, SIZE_MAX) */
	FILE *flow_log, *evidence_log;		/* the run's */
	pthread_mutex_t lock;			/* for sleeping */
	pthread_mutex_t log_lock;		/* the run's logs */
	pthread_cond_t moved;			/* something was published or consumed */
	struct worker worker[PARALLEL_MAX_WORKERS];
	struct batch ring[RING_BATCHES];
};

/* ---- waiting ---- */

static void wake(struct parallel *p)
{
	if (atomic_load(&p->sleepers) == 0)
		return;
	pthread_mutex_lock(&p->lock);
	pthread_cond_broadcast(&p->moved);
	pthread_mutex_unlock(&p->lock);
}

static inline void relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* Waits until ready(p, arg) holds: spinning first (the other side is on
 * another core, a batch away), yielding, then asleep. */
static void wait_until(struct parallel *p, int (*ready)(struct parallel *, const void *),
		       const void *arg)
{
	for (int i = 0; i < SPINS; i++) {
		if (ready(p, arg))
			return;
		if (i < SPINS - YIELDS)
			relax();
		else
			sched_yield();
	}
	pthread_mutex_lock(&p->lock);
	atomic_fetch_add(&p->sleepers, 1);
	while (!ready(p, arg))
		pthread_cond_wait(&p->moved, &p->lock);
	atomic_fetch_sub(&p->sleepers, 1);
	pthread_mutex_unlock(&p->lock);
}

static uint64_t least_consumed(struct parallel *p)
{
	uint64_t least = UINT64_MAX;

	for (unsigned i = 0; i < p->count; i++) {
		uint64_t c = atomic_load(&p->worker[i].consumed);

		if (c < least)
			least = c;
	}
	return least;
}

/* The ring has room for batch `published`: its slot's last batch is consumed. */
static int slot_free(struct parallel *p, const void *arg)
{
	(void)arg;
	return least_consumed(p) + RING_BATCHES > atomic_load(&p->published);
}

static int all_consumed(struct parallel *p, const void *arg)
{
	(void)arg;
	return least_consumed(p) == atomic_load(&p->published);
}

/* Worker w has a batch to count, or nothing will come. */
static int batch_ready(struct parallel *p, const void *arg)
{
	const struct worker *w = arg;

	return atomic_load(&p->published) > atomic_load(&w->consumed) || atomic_load(&p->finished);
}

/* ---- the workers ---- */

/* Worker w counts batch `next` of the ring. */
static void count_batch(struct worker *w, uint64_t next)
{
	struct parallel *p = w->par;
	struct batch *b = &p->ring[next % RING_BATCHES];

	engine_packets(w->engine, b->pkts, b->count);
	line_log_flush(&w->flow_log);
	line_log_flush(&w->evidence_log);
	atomic_store(&w->consumed, next + 1);
	wake(p);
}

/* Workers 1..count-1: a thread each. */
static void *work(void *arg)
{
	struct worker *w = arg;
	struct parallel *p = w->par;

	for (;;) {
		uint64_t next = atomic_load(&w->consumed);

		wait_until(p, batch_ready, w);
		if (atomic_load(&p->published) <= next)
			break;	/* finished, and all counted */
		count_batch(w, next);
	}
	return NULL;
}

/* ---- the reader ---- */

/* Hands the batch being filled to the workers; the reader itself is
 * worker 0 and counts its share of it at once (on two cores, a third
 * thread would only take turns with the other two). */
static void publish(struct parallel *p)
{
	uint64_t batch = atomic_load(&p->published);

	if (!p->filling)
		return;
	p->filling = 0;
	atomic_store(&p->published, batch + 1);
	wake(p);
	count_batch(&p->worker[0], batch);
}

/* The batch being filled, begun when there is none. */
static struct batch *filling(struct parallel *p)
{
	struct batch *b;

	if (p->filling)
		return &p->ring[atomic_load(&p->published) % RING_BATCHES];
	wait_until(p, slot_free, NULL);
	b = &p->ring[atomic_load(&p->published) % RING_BATCHES];
	b->count = 0;
	b->first_kept = NULL;
	b->arena_used = 0;
	p->filling = 1;
	return b;
}

/* Whether pkt's bytes stay readable after the packet_fn returns. */
static int is_stable(const struct parallel *p, const struct packet *pkt)
{
	if (p->all_stable)
		return 1;
	return p->stable && pkt->data >= p->stable && pkt->caplen <= p->stable_size &&
	       (size_t)(pkt->data - p->stable) <= p->stable_size - pkt->caplen;
}

/* A copy of pkt's bytes in b's arena; NULL when it has no room left. */
static const uint8_t *copy_into(struct batch *b, const struct packet *pkt)
{
	uint8_t *at;

	if (!b->arena && !(b->arena = malloc(ARENA_BYTES)))
		return NULL;
	if (ARENA_BYTES - b->arena_used < pkt->caplen)
		return NULL;
	at = b->arena + b->arena_used;
	memcpy(at, pkt->data, pkt->caplen);
	b->arena_used += pkt->caplen;
	return at;
}

/* Adds pkt to the batch being filled, publishing it first when full. */
static void add_packet(struct parallel *p, const struct packet *pkt)
{
	struct batch *b = filling(p);
	struct packet kept = *pkt;

	if (!is_stable(p, pkt)) {
		if (pkt->caplen > MAX_COPY)
			kept.caplen = MAX_COPY;	/* (longer than any libpcap hands over) */
		if (!(kept.data = copy_into(b, &kept)) && b->count) {
			publish(p);
			b = filling(p);
			kept.data = copy_into(b, &kept);
		}
		if (!kept.data) {	/* no memory for a copy: counted, as a packet of nothing */
			if (!p->copies_failed++)
				fprintf(stderr, "dsmflow: out of memory copying packets for the reading "
						"threads: such packets are counted as malformed\n");
			kept.data = (const uint8_t *)"";
			kept.caplen = 0;
		}
	}
	if (!b->first_kept && kept.data == pkt->data && kept.caplen)
		b->first_kept = kept.data;
	b->pkts[b->count++] = kept;
	if (b->count == BATCH_PACKETS)
		publish(p);
}

const uint8_t *parallel_kept_from(void *ctx)
{
	struct parallel *p = ctx;
	uint64_t end = atomic_load(&p->published) + (uint64_t)p->filling;

	for (uint64_t k = least_consumed(p); k < end; k++)
		if (p->ring[k % RING_BATCHES].first_kept)
			return p->ring[k % RING_BATCHES].first_kept;
	return NULL;
}

void parallel_feed(void *ctx, const struct packet *pkts, size_t count)
{
	struct parallel *p = ctx;

	for (size_t i = 0; i < count; i++)
		add_packet(p, &pkts[i]);
}

void parallel_stable(struct parallel *p, const uint8_t *base, size_t size)
{
	p->stable = base;
	p->stable_size = base ? size : 0;
	p->all_stable = !base && size == SIZE_MAX;
}

void parallel_drain(struct parallel *p)
{
	publish(p);
	wait_until(p, all_consumed, NULL);
	p->stable = NULL;
	p->stable_size = 0;
	p->all_stable = 0;
}

/* ---- the whole ---- */

struct parallel *parallel_new(unsigned count, FILE *flow_log, FILE *evidence_log,
			      struct dsm_err *err)
{
	struct parallel *p;

	if (count < 2 || count > PARALLEL_MAX_WORKERS) {
		dsm_err_set(err, "--threads: %u threads (2 to %d share the packets)", count,
			    PARALLEL_MAX_WORKERS);
		return NULL;
	}
	if (posix_memalign((void **)&p, 64, sizeof(*p))) {
		dsm_err_set(err, "out of memory for the reading threads");
		return NULL;
	}
	memset(p, 0, sizeof(*p));
	p->count = count;
	p->flow_log = flow_log;
	p->evidence_log = evidence_log;
	pthread_mutex_init(&p->lock, NULL);
	pthread_mutex_init(&p->log_lock, NULL);
	pthread_cond_init(&p->moved, NULL);
	for (unsigned i = 0; i < count; i++) {
		struct worker *w = &p->worker[i];

		w->par = p;
		if (line_log_open(&w->flow_log, flow_log, &p->log_lock) ||
		    line_log_open(&w->evidence_log, evidence_log, &p->log_lock)) {
			dsm_err_set(err, "out of memory for the reading threads' logs");
			parallel_free(p);
			return NULL;
		}
	}
	return p;
}

FILE *parallel_flow_log(struct parallel *p, unsigned i)
{
	return p->worker[i].flow_log.stream;
}

FILE *parallel_evidence_log(struct parallel *p, unsigned i)
{
	return p->worker[i].evidence_log.stream;
}

int parallel_start(struct parallel *p, struct engine **engines, struct dsm_err *err)
{
	p->worker[0].engine = engines[0];	/* the reader's */
	for (unsigned i = 1; i < p->count; i++) {
		struct worker *w = &p->worker[i];
		int rc;

		w->engine = engines[i];
		if ((rc = pthread_create(&w->thread, NULL, work, w)) != 0) {
			dsm_err_set(err, "cannot start a reading thread: %s", strerror(rc));
			parallel_stop(p);
			return -1;
		}
		w->started = 1;
	}
	return 0;
}

void parallel_stop(struct parallel *p)
{
	int started = 0;

	for (unsigned i = 0; i < p->count; i++)
		started |= p->worker[i].started;
	if (started && !atomic_load(&p->finished))
		parallel_drain(p);
	atomic_store(&p->finished, 1);
	pthread_mutex_lock(&p->lock);
	pthread_cond_broadcast(&p->moved);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->count; i++)
		if (p->worker[i].started) {
			pthread_join(p->worker[i].thread, NULL);
			p->worker[i].started = 0;
		}
}

void parallel_free(struct parallel *p)
{
	if (!p)
		return;
	parallel_stop(p);
	for (unsigned i = 0; i < p->count; i++) {
		struct worker *w = &p->worker[i];

		line_log_close(&w->flow_log);
		line_log_close(&w->evidence_log);
	}
	for (size_t i = 0; i < RING_BATCHES; i++)
		free(p->ring[i].arena);
	pthread_cond_destroy(&p->moved);
	pthread_mutex_destroy(&p->lock);
	pthread_mutex_destroy(&p->log_lock);
	free(p);
}
