/* linelog.c - a thread's log lines copied whole into a shared log (see
 * linelog.h). The stream is fopencookie's: each write gathers into text,
 * and whole lines leave it under the shared log's lock. */
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "dsmflow/linelog.h"

/* Copies the whole lines gathered in log to the shared log. */
static void copy_lines(struct line_log *log)
{
	size_t whole = log->len;

	while (whole && log->text[whole - 1] != '\n')
		whole--;
	if (!whole)
		return;
	pthread_mutex_lock(log->lock);
	fwrite(log->text, 1, whole, log->to);	/* (an error stays on `to`: said when it is closed) */
	pthread_mutex_unlock(log->lock);
	memmove(log->text, log->text + whole, log->len - whole);
	log->len -= whole;
}

static ssize_t gather(void *cookie, const char *buf, size_t n)
{
	struct line_log *log = cookie;

	if (log->size - log->len < n) {
		size_t size = log->size ? log->size : 4096;
		char *bigger;

		while (size - log->len < n)
			size *= 2;
		if (!(bigger = realloc(log->text, size)))
			return -1;	/* the engine's stream says it: counted as a log error */
		log->text = bigger;
		log->size = size;
	}
	memcpy(log->text + log->len, buf, n);
	log->len += n;
	if (log->len >= LINE_LOG_COPY_BYTES)
		copy_lines(log);
	return (ssize_t)n;
}

int line_log_open(struct line_log *log, FILE *to, pthread_mutex_t *lock)
{
	cookie_io_functions_t io = { .write = gather };

	memset(log, 0, sizeof(*log));
	log->lock = lock;
	log->to = to;
	return to && !(log->stream = fopencookie(log, "w", io)) ? -1 : 0;
}

void line_log_flush(struct line_log *log)
{
	if (!log->stream)
		return;
	fflush(log->stream);
	copy_lines(log);
}

void line_log_retarget(struct line_log *log, FILE *to)
{
	if (log->stream)
		log->to = to;
}

void line_log_close(struct line_log *log)
{
	if (log->stream) {
		fclose(log->stream);
		copy_lines(log);
	}
	free(log->text);
	memset(log, 0, sizeof(*log));
}
