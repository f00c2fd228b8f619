/* cli_workers.c - a sensor's capture threads (see cli_workers.h).
 *
 * A worker loops: dispatch (waiting at most WORKER_WAIT_MS), tell its
 * engine the time, copy its log lines out, and, when the main thread asks
 * (`pause_asked`), read its capture statistics and wait until the main
 * thread resumes it. Nothing is shared on the packet path: each worker has
 * its source, its engine and its log buffers; the flow bound, the audit
 * and the run's logs are shared under their own locks (cli_engine.c).
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_workers.h"

struct worker {
	struct workers *crew;
	unsigned index;
	pthread_t thread;
	int started;
	struct capture_source *source;
	struct engine *engine;
	struct capture_stats stats;	/* as of its last pause (under crew lock) */
	uint64_t parked_in;		/* under crew lock: the pause it last waited in */
	int ended;			/* under crew lock: it returned */
};

struct workers {
	const struct capture_ops *ops;
	struct engine_run *run;
	unsigned count;
	atomic_int pause_asked, stop_asked, heard, failed;
	pthread_mutex_t lock;
	pthread_cond_t changed;
	uint64_t pauses;		/* under lock: pauses asked for, the latest's number */
	uint64_t resumes;		/* under lock: how many pauses ended */
	struct worker worker[PARALLEL_MAX_WORKERS];
};

void feed_engine(void *engine, const struct packet *pkts, size_t count)
{
	engine_packets(engine, pkts, count);
}

uint64_t capture_clock_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Waits, its statistics read, until the main thread resumes the crew. */
static void wait_for_resume(struct worker *w)
{
	struct workers *c = w->crew;
	struct capture_stats stats;
	uint64_t resumes;

	c->ops->stats(w->source, &stats);
	pthread_mutex_lock(&c->lock);
	w->stats = stats;
	w->parked_in = c->pauses;	/* (a worker woken late from the last pause
					 * counts for this one only once it parks again) */
	pthread_cond_broadcast(&c->changed);
	resumes = c->resumes;
	while (c->resumes == resumes && !atomic_load(&c->stop_asked))
		pthread_cond_wait(&c->changed, &c->lock);
	pthread_mutex_unlock(&c->lock);
}

/* One dispatch into the worker's engine: 1 to go on, 0 when it failed. */
static int dispatch_once(struct worker *w)
{
	struct workers *c = w->crew;
	struct dsm_err err;
	int got = c->ops->dispatch(w->source, feed_engine, w->engine, &err);

	if (got < 0 || got == CAPTURE_END) {
		if (got < 0)
			fprintf(stderr, "dsmflow %s: %s\n", c->ops->name, err.msg);
		atomic_store(&c->failed, 1);
		return 0;
	}
	if (got > 0 && !atomic_load_explicit(&c->heard, memory_order_relaxed))
		atomic_store(&c->heard, 1);
	/* time passes on a quiet network too: idle flows end, pending ones are decided */
	engine_clock(w->engine, capture_clock_us());
	engine_run_flush_worker_logs(c->run, w->index);
	return 1;
}

double monotonic_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int drain_source(const struct capture_ops *ops, struct capture_source *source, struct engine *engine)
{
	double until = monotonic_s() + DRAIN_WAIT_MS / 1e3;
	int busy = 0;

	while (busy < DRAIN_DISPATCHES) {
		struct dsm_err err;
		int got = ops->dispatch(source, feed_engine, engine, &err);

		if (got < 0) {
			fprintf(stderr, "dsmflow %s: %s\n", ops->name, err.msg);
			return -1;
		}
		if (got == CAPTURE_END || (got == 0 && monotonic_s() >= until))
			break;
		busy += got > 0;
	}
	return 0;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct workers *c = w->crew;
	struct capture_stats stats;
	int going = 1;

	while (going && !atomic_load(&c->stop_asked)) {
		going = dispatch_once(w);
		if (atomic_load_explicit(&c->pause_asked, memory_order_acquire))
			wait_for_resume(w);
	}
	if (going && drain_source(c->ops, w->source, w->engine))	/* what already waits */
		atomic_store(&c->failed, 1);
	engine_run_flush_worker_logs(c->run, w->index);
	c->ops->stats(w->source, &stats);
	pthread_mutex_lock(&c->lock);
	w->stats = stats;
	w->ended = 1;
	pthread_cond_broadcast(&c->changed);
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

struct workers *workers_start(const struct capture_ops *ops, struct capture_source **sources,
			      struct engine_run *run, struct dsm_err *err)
{
	struct workers *c = calloc(1, sizeof(*c));
	sigset_t all, before;

	if (!c) {
		dsm_err_set(err, "out of memory for the capture threads");
		return NULL;
	}
	c->ops = ops;
	c->run = run;
	c->count = run->workers;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->changed, NULL);
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &before);	/* inherited: signals are the main thread's */
	for (unsigned i = 0; i < c->count; i++) {
		struct worker *w = &c->worker[i];
		int rc;

		*w = (struct worker){ .crew = c, .index = i, .source = sources[i], .engine = run->engines[i] };
		if ((rc = pthread_create(&w->thread, NULL, work, w)) != 0) {
			dsm_err_set(err, "cannot start a capture thread: %s", strerror(rc));
			pthread_sigmask(SIG_SETMASK, &before, NULL);
			workers_free(c);
			return NULL;
		}
		w->started = 1;
	}
	pthread_sigmask(SIG_SETMASK, &before, NULL);
	return c;
}

static void capture_stats_add(struct capture_stats *sum, const struct capture_stats *s)
{
	sum->received += s->received;
	sum->dropped_kernel += s->dropped_kernel;
	sum->dropped_interface += s->dropped_interface;
	sum->dropped_queue += s->dropped_queue;
	sum->dropped_user += s->dropped_user;
	sum->dropped_unreadable += s->dropped_unreadable;
	sum->enobufs += s->enobufs;
}

/* The workers' capture statistics as of their pause or end, added up and
 * each (lock held). */
static void gather_stats(const struct workers *c, struct capture_stats *stats,
			 struct capture_stats *per_worker)
{
	memset(stats, 0, sizeof(*stats));
	for (unsigned i = 0; i < c->count; i++) {
		capture_stats_add(stats, &c->worker[i].stats);
		per_worker[i] = c->worker[i].stats;
	}
}

/* Every worker waits in the latest pause, or has ended (lock held). */
static int all_waiting(const struct workers *c)
{
	for (unsigned i = 0; i < c->count; i++)
		if (!c->worker[i].ended && c->worker[i].parked_in != c->pauses)
			return 0;
	return 1;
}

void workers_pause(struct workers *c, struct capture_stats *stats, struct capture_stats *per_worker)
{
	pthread_mutex_lock(&c->lock);
	c->pauses++;
	atomic_store_explicit(&c->pause_asked, 1, memory_order_release);
	while (!all_waiting(c))
		pthread_cond_wait(&c->changed, &c->lock);
	gather_stats(c, stats, per_worker);
	pthread_mutex_unlock(&c->lock);
}

void workers_resume(struct workers *c)
{
	atomic_store_explicit(&c->pause_asked, 0, memory_order_release);
	pthread_mutex_lock(&c->lock);
	c->resumes++;
	pthread_cond_broadcast(&c->changed);
	pthread_mutex_unlock(&c->lock);
}

int workers_heard(struct workers *c)
{
	return atomic_load(&c->heard);
}

int workers_failed(struct workers *c)
{
	return atomic_load(&c->failed);
}

static void stop_all(struct workers *c)
{
	atomic_store(&c->stop_asked, 1);
	pthread_mutex_lock(&c->lock);
	pthread_cond_broadcast(&c->changed);
	pthread_mutex_unlock(&c->lock);
	for (unsigned i = 0; i < c->count; i++)
		if (c->worker[i].started) {
			pthread_join(c->worker[i].thread, NULL);
			c->worker[i].started = 0;
		}
}

void workers_stop(struct workers *c, struct capture_stats *stats, struct capture_stats *per_worker)
{
	stop_all(c);
	pthread_mutex_lock(&c->lock);	/* (no other thread runs: for form's sake) */
	gather_stats(c, stats, per_worker);
	pthread_mutex_unlock(&c->lock);
}

void workers_free(struct workers *c)
{
	if (!c)
		return;
	stop_all(c);
	pthread_cond_destroy(&c->changed);
	pthread_mutex_destroy(&c->lock);
	free(c);
}
