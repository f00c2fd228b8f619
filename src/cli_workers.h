/* cli_workers.h - a sensor's capture threads (live --workers, queue
 * --queue A:B): each reads a source of its own into an engine of its own
 * (engine_run's engines[i]); the kernel splits the packets between the
 * sources by flow. The sensor's main thread keeps the signals, the
 * metrics, the reports and the reloads, and reads the engines only while
 * every thread waits between two of its dispatches (workers_pause).
 * Internal to the dsmflow binary. */
#ifndef DSMFLOW_CLI_WORKERS_H
#define DSMFLOW_CLI_WORKERS_H

#include "cli_engine.h"
#include "dsmflow/capture.h"

/* How long a worker's dispatch waits for packets: the longest a pause
 * waits for an idle worker (while a busy one waits for it). */
#define WORKER_WAIT_MS 10

struct workers;

/* A packet_fn counting into the engine given as its context. */
void feed_engine(void *engine, const struct packet *pkts, size_t count);
/* The capture clock (live and queue packet times are the system's real
 * time), in microseconds. */
uint64_t capture_clock_us(void);
/* The monotonic clock, in seconds (timers, rates). */
double monotonic_s(void);

/* At a stop, what already waits in source is read into engine, within
 * bounds: dispatches go on while they hand packets over (at most
 * DRAIN_DISPATCHES of them) and, quiet or not, for DRAIN_WAIT_MS (longer
 * than a live ring takes to hand over a block that is not full). Returns
 * -1 when a dispatch failed (said on standard error), else 0. */
#define DRAIN_DISPATCHES 16
#define DRAIN_WAIT_MS 200
int drain_source(const struct capture_ops *ops, struct capture_source *source, struct engine *engine);

/* Starts run->workers threads, thread i dispatching sources[i] into
 * run->engines[i] (with its signals blocked: they are the main thread's).
 * NULL with err when a thread cannot start (the others are stopped). */
struct workers *workers_start(const struct capture_ops *ops, struct capture_source **sources,
			      struct engine_run *run, struct dsm_err *err);
/* Returns once every worker waits between two dispatches (or has ended),
 * with their capture statistics added up in *stats and each in
 * per_worker[0..workers); the engines are the caller's until
 * workers_resume(). */
void workers_pause(struct workers *w, struct capture_stats *stats, struct capture_stats *per_worker);
void workers_resume(struct workers *w);
/* Whether any packet has come yet. */
int workers_heard(struct workers *w);
/* Whether a worker's capture failed (said on standard error): the run ends. */
int workers_failed(struct workers *w);
/* Stops the workers after they read what already waits (within bounds),
 * joins them, and gives their sources' final statistics as workers_pause
 * does; the engines are the caller's again. */
void workers_stop(struct workers *w, struct capture_stats *stats, struct capture_stats *per_worker);
void workers_free(struct workers *w);

#endif
