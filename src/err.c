/* err.c - filling struct dsm_err; see err.h for the convention. */
#include <stdarg.h>
#include <stdio.h>

#include "dsmflow/err.h"

void dsm_err_set(struct dsm_err *err, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}
