/* tsv.h - the reading the strict table loaders share (the port catalogue,
 * the Web API table): whole files, lines, '#' comments, tab-split fields and
 * the rules every text field obeys. Formats and checks beyond these stay in
 * each loader.
 */
#ifndef DSMFLOW_TSV_H
#define DSMFLOW_TSV_H

#include <stdbool.h>
#include <stddef.h>

#include "dsmflow/err.h"

/* Names and texts are for reports and labels; the catalogue's service index
 * keys on "category<TAB>name" in a fixed buffer, so both stay well below it. */
#define TSV_MAX_TEXT 255

/* A field of a line: not NUL-terminated. */
struct tsv_field {
	const char *p;
	size_t n;
};

/* Walks text line by line; line is the number of the last line read. */
struct tsv_lines {
	const char *p, *end;
	unsigned line;
};

void tsv_lines_init(struct tsv_lines *r, const char *text, size_t len);

/* The next line that is neither blank nor a comment ('#' after optional
 * blanks): returns 1 with *line, *n set (a CRLF's CR dropped), 0 at the end
 * of the text, -1 when the line holds a NUL byte. r->line numbers it. */
int tsv_next_line(struct tsv_lines *r, const char **line, size_t *n);

/* Splits line[0..n) at tabs into fields[0..max]; returns the number of
 * fields, counting past max so that too many are seen. */
size_t tsv_split(const char *line, size_t n, struct tsv_field *fields, size_t max);

bool tsv_field_is(const struct tsv_field *f, const char *s);

/* NULL when f is a good text field (not empty, at most TSV_MAX_TEXT bytes, no
 * control character), else what is wrong, worded to follow "column 'X' ". */
const char *tsv_text_problem(const struct tsv_field *f);

/* Reads the whole file (at most max bytes); what names it in errors ("cannot
 * open catalogue: ..."). Returns a malloc'd buffer, or NULL with err filled. */
char *tsv_read_file(const char *path, const char *what, size_t max, size_t *len,
		    struct dsm_err *err);

#endif
