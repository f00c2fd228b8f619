/* metrics.h - the Prometheus endpoint of a running sensor (/metrics,
 * /healthz and a small / page), served by libmicrohttpd in its own thread.
 *
 * A scrape never takes a lock the packet path waits for: the packet thread
 * publishes a snapshot of its counters when asked, and every 50 ms while
 * scrapes keep coming, between packets and only if the snapshot is free;
 * scrapes serve the latest snapshot's text (formatted once) when it is
 * younger than 250 ms, else ask for a new one and wait for it. The endpoint
 * polls with epoll, caps its connections (512, 64 from one address) and
 * drops idle ones after 5 s, counting what it refuses.
 */
#ifndef DSMFLOW_METRICS_H
#define DSMFLOW_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "dsmflow/capture.h"
#include "dsmflow/catalog.h"
#include "dsmflow/engine.h"
#include "dsmflow/err.h"
#include "dsmflow/index.h"

#define METRICS_DEFAULT_PORT 9473

struct metrics_server;

/* Binds a socket to spec: "PORT", ":PORT", "ADDR:PORT" or "[IPV6]:PORT"
 * (ADDR defaults to 127.0.0.1) and listens. An address that is not loopback
 * is refused unless allow_public. Nothing is served until metrics_serve():
 * a sensor binds while privileged, drops its privileges and confines
 * itself, and only then starts the endpoint's thread, which inherits all
 * of it (credentials, no_new_privs and seccomp are per thread). */
struct metrics_server *metrics_listen(const char *spec, int allow_public, const struct catalog *cat,
				      const struct port_index *idx, struct dsm_err *err);
/* Starts serving in libmicrohttpd's thread: 0, or -1 with err filled. */
int metrics_serve(struct metrics_server *m, struct dsm_err *err);
void metrics_stop(struct metrics_server *m);
/* Formats with cat and idx from now on (a reload), with snapshot
 * (counters_new of their sizes, owned by m from now on) for the copies. */
void metrics_retarget(struct metrics_server *m, const struct catalog *cat,
		      const struct port_index *idx, struct counters *snapshot);

/* Checks spec as metrics_start() would, without listening: 0 or -1. */
int metrics_check_spec(const char *spec, int allow_public, struct dsm_err *err);

/* Called by the packet thread between packets: publishes a snapshot of
 * what engines[0..count) counted (added up: a sensor's workers, stopped
 * meanwhile) if a scrape is waiting for one, or scrapes came lately and
 * the last is 50 ms old. An atomic load and a clock read when neither.
 * capture is the sources' statistics, per_worker each worker's ([count],
 * or NULL: one source). */
void metrics_poll(struct metrics_server *m, struct engine *const *engines, size_t count,
		  const struct capture_stats *capture, const struct capture_stats *per_worker);

/* Whether a scrape waits for a snapshot (m may be NULL). */
int metrics_wanted(const struct metrics_server *m);

/* The URL of /metrics as bound: the real port when spec asked for 0. */
const char *metrics_url(const struct metrics_server *m, char *buf, size_t size);

#endif
