/* parallel.h - reading with several threads (dsmflow read --threads N).
 *
 * The reader (the caller's thread) walks the capture and hands batches of
 * packets through a ring to N workers, itself the first of them (N
 * threads in all); every worker is given every batch,
 * and its engine counts the packets whose address pair hashes to it
 * (engine_share), so that the flow table, the cache misses and the payload
 * inspection are split N ways while each engine still sees every packet's
 * time and every DNS answer in packet order. The ring holds pointers into
 * the capture's mapping where packets stay readable (capture_file_stable),
 * and copies of the others; the reader waits for every worker before a
 * file is closed. No lock is taken per packet: the ring's indices are
 * atomics, and a thread sleeps on a condition only when it has nothing to
 * do. Each worker's flow and evidence log lines go to a stream of its own,
 * copied whole to the run's logs after each batch and whenever 256 KiB have
 * gathered (lines stay whole; their order across workers is not the
 * one-thread order).
 */
#ifndef DSMFLOW_PARALLEL_H
#define DSMFLOW_PARALLEL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dsmflow/engine.h"
#include "dsmflow/err.h"
#include "dsmflow/packet.h"

#define PARALLEL_MAX_WORKERS 64

struct parallel;

/* count workers (2..PARALLEL_MAX_WORKERS) writing into flow_log and
 * evidence_log (either may be NULL); NULL with err when memory runs out. */
struct parallel *parallel_new(unsigned count, FILE *flow_log, FILE *evidence_log,
			      struct dsm_err *err);
/* The streams worker i's engine is to log into (NULL where the run has no
 * such log). */
FILE *parallel_flow_log(struct parallel *p, unsigned i);
FILE *parallel_evidence_log(struct parallel *p, unsigned i);
/* Starts the workers, worker i counting with engines[i] (made with its
 * streams, engine_share(engines[i], i, count)); worker 0 is the caller's
 * thread, in parallel_feed and parallel_drain. -1 with err. */
int parallel_start(struct parallel *p, struct engine **engines, struct dsm_err *err);
/* Packets from inside base[0..size) stay readable until the next
 * parallel_drain() and are not copied (NULL, 0: copy every packet; NULL,
 * SIZE_MAX: every packet stays readable, the caller keeps them). */
void parallel_stable(struct parallel *p, const uint8_t *base, size_t size);
/* The lowest of the stable bytes a worker may still read (the first packet
 * of the oldest batch not counted by all), or NULL: the reader's file may
 * release the pages below it (capture_file_keep). */
const uint8_t *parallel_kept_from(void *p);
/* A packet_fn: hands pkts[0..count) to the workers. */
void parallel_feed(void *p, const struct packet *pkts, size_t count);
/* Returns once every worker has counted every packet fed so far. */
void parallel_drain(struct parallel *p);
/* Drains, ends the workers and copies their last log lines; the engines
 * are the caller's again. */
void parallel_stop(struct parallel *p);
void parallel_free(struct parallel *p);

#endif
