/* linelog.h - one thread's log lines, gathered in a stream of its own and
 * copied whole into a log several threads share (parallel.c's reading
 * threads, a sensor's capture threads): lines stay whole, and the shared
 * log is written under one lock, never per line.
 */
#ifndef DSMFLOW_LINELOG_H
#define DSMFLOW_LINELOG_H

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>

/* Copied to the shared log whenever this much has gathered, and at each
 * line_log_flush(): a batch ending a million flows does not gather them all. */
#define LINE_LOG_COPY_BYTES (256u << 10)

struct line_log {
	pthread_mutex_t *lock;	/* the shared log's */
	FILE *stream;		/* the thread's: its engine writes here; NULL without a log */
	FILE *to;		/* the shared log */
	char *text;
	size_t len, size;
};

/* A stream gathering into log, copied into `to` under lock; none (0, the
 * stream NULL) when `to` is NULL. -1 when memory runs out. */
int line_log_open(struct line_log *log, FILE *to, pthread_mutex_t *lock);
/* Copies the whole lines gathered so far into the shared log. */
void line_log_flush(struct line_log *log);
/* Copies into `to` from now on (the shared log reopened, the lines
 * gathered for the old one flushed before it was closed; no thread writes
 * into log meanwhile). */
void line_log_retarget(struct line_log *log, FILE *to);
/* Flushes, closes the stream and frees what it gathered. */
void line_log_close(struct line_log *log);

#endif
