/* tsv.c - lines, fields and files for the strict table loaders: see
 * include/dsmflow/tsv.h. Owns no state; the loaders own their tables. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsmflow/tsv.h"

#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)
#define TEXT_LIMIT STRINGIFY(TSV_MAX_TEXT)

void tsv_lines_init(struct tsv_lines *r, const char *text, size_t len)
{
	r->p = text;
	r->end = text + len;
	r->line = 0;
}

static bool is_blank_or_comment(const char *line, size_t n)
{
	size_t i = 0;

	while (i < n && (line[i] == ' ' || line[i] == '\t'))
		i++;
	return i == n || line[i] == '#';
}

int tsv_next_line(struct tsv_lines *r, const char **line, size_t *n)
{
	while (r->p < r->end) {
		const char *start = r->p;
		const char *nl = memchr(start, '\n', (size_t)(r->end - start));
		size_t len = nl ? (size_t)(nl - start) : (size_t)(r->end - start);

		r->line++;
		r->p = nl ? nl + 1 : r->end;
		if (len > 0 && start[len - 1] == '\r')
			len--;	/* tolerate a file saved with CRLF line ends */
		if (memchr(start, '\0', len))
			return -1;
		if (!is_blank_or_comment(start, len)) {
			*line = start;
			*n = len;
			return 1;
		}
	}
	return 0;
}

size_t tsv_split(const char *line, size_t n, struct tsv_field *fields, size_t max)
{
	size_t count = 0;
	const char *start = line, *end = line + n;

	for (const char *p = line; p <= end; p++) {
		if (p != end && *p != '\t')
			continue;
		if (count <= max) {
			fields[count].p = start;
			fields[count].n = (size_t)(p - start);
		}
		count++;
		start = p + 1;
	}
	return count;
}

bool tsv_field_is(const struct tsv_field *f, const char *s)
{
	return f->n == strlen(s) && memcmp(f->p, s, f->n) == 0;
}

const char *tsv_text_problem(const struct tsv_field *f)
{
	if (f->n == 0)
		return "is empty (write '-' for none)";
	if (f->n > TSV_MAX_TEXT)
		return "is longer than " TEXT_LIMIT " bytes";
	for (size_t i = 0; i < f->n; i++)
		if ((unsigned char)f->p[i] < 0x20)
			return "holds a control character";
	return NULL;
}

char *tsv_read_file(const char *path, const char *what, size_t max, size_t *len,
		    struct dsm_err *err)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0;

	if (!f) {
		dsm_err_set(err, "%s: cannot open %s: %s", path, what, strerror(errno));
		return NULL;
	}
	for (;;) {
		if (n == cap) {
			char *bigger;

			cap = cap ? cap * 2 : 65536;
			bigger = cap <= max ? realloc(buf, cap) : NULL;
			if (!bigger) {
				dsm_err_set(err, "%s: %s too large or out of memory", path, what);
				goto fail;
			}
			buf = bigger;
		}
		size_t got = fread(buf + n, 1, cap - n, f);

		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		dsm_err_set(err, "%s: cannot read %s: %s", path, what, strerror(errno));
		goto fail;
	}
	fclose(f);
	*len = n;
	return buf;
fail:
	free(buf);
	fclose(f);
	return NULL;
}
