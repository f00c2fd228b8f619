/* output_file.h - where a report goes (-o FILE): standard output ("-" or
 * no -o), or a file replaced whole by every report (written beside it,
 * then renamed over it: a sensor's repeated reports leave FILE valid at
 * every instant, as node_exporter's textfile collector expects; it keeps
 * its mode), or a device, FIFO or symbolic link (an existing file that is
 * not a regular one: /dev/stdout stays a link), written in place.
 */
#ifndef DSMFLOW_OUTPUT_FILE_H
#define DSMFLOW_OUTPUT_FILE_H

#include <limits.h>
#include <stdio.h>
#include <sys/types.h>

#include "dsmflow/err.h"

struct output_file {
	const char *path;	/* NULL: standard output */
	const char *name;	/* for messages: path, or "standard output" */
	FILE *in_place;		/* standard output, or a device or FIFO */
	FILE *pending;		/* the report being written beside path */
	char tmp[PATH_MAX];	/* its name */
	mode_t mode;		/* a new file's: 0666 less the umask at open */
};

/* Prepares f for path (NULL or "-": standard output); a device, FIFO or
 * symbolic link is opened now. 0, or -1 with err naming path. */
int output_file_open(struct output_file *f, const char *path, struct dsm_err *err);

/* Whether a report can be written now (a file beside path can be made):
 * a sensor asks once it runs as its user. 0, or -1 with err. */
int output_file_check(struct output_file *f, struct dsm_err *err);

/* The stream one whole report is written to, or NULL with err. */
FILE *output_file_begin(struct output_file *f, struct dsm_err *err);

/* Ends the report begun: flushed in place, or renamed over path. 0, or -1
 * with err (nothing replaced path). */
int output_file_commit(struct output_file *f, struct dsm_err *err);

/* Drops the report begun (its file beside path is removed). */
void output_file_discard(struct output_file *f);

/* Closes what is open (a report begun and not committed is removed);
 * -1 when standard output or the device could not be flushed. */
int output_file_close(struct output_file *f);

#endif
