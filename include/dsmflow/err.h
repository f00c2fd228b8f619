/* err.h - error messages carried back to the caller.
 *
 * Library code never prints: a failing function fills a struct dsm_err with
 * a complete message ("FILE:LINE: what is wrong") and returns -1 or NULL; the
 * command line decides where the message goes and which exit status follows.
 */
#ifndef DSMFLOW_ERR_H
#define DSMFLOW_ERR_H

#define DSM_ERR_MAX 512

struct dsm_err {
	char msg[DSM_ERR_MAX];
};

/* Formats the message into err (when err is not NULL). */
void dsm_err_set(struct dsm_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
