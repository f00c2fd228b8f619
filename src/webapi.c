/* webapi.c - loading, binding, looking up and writing the Web API table.
 *
 * Owns the table's memory: a private copy of the source text whose fields are
 * NUL-terminated in place (the entries point into it), the entries, the API
 * prefixes sorted longest first, and hashes of (match, key) and of packages.
 * The loader is as strict as the catalogue's, for the same reason: a skipped
 * line would silently change which package traffic is attributed to. The
 * first bad line aborts the load with "SOURCE:LINE: message".
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <uthash.h>

#include "dsmflow/tsv.h"
#include "dsmflow/webapi.h"

extern const char dsm_webapi_embedded[];
extern const size_t dsm_webapi_embedded_len;

#define WEBAPI_EMBEDDED_NAME "catalog/webapi.tsv (embedded)"
#define WEBAPI_FIELDS 6
#define WEBAPI_MAX_FILE (16u << 20)
#define DSM_CATEGORY "Web applications"
#define DSM_SERVICE "DSM"

static const char *const column_names[WEBAPI_FIELDS] = {
	"match", "key", "package", "category", "service", "source",
};

enum column { COL_MATCH, COL_KEY, COL_PACKAGE, COL_CATEGORY, COL_SERVICE, COL_SOURCE };

static const char *const match_names[] = { "api", "pkgid", "cgi" };

#define MATCH_COUNT (sizeof(match_names) / sizeof(match_names[0]))

/* (match, key) -> entry: the hash key is the match's number as one byte
 * followed by the key's text. */
struct key_entry {
	UT_hash_handle hh;
	size_t index;
	size_t key_len;
	char key[];
};

/* package -> the first entry naming it, to hold every row of a package to
 * the same catalogue service. */
struct package_entry {
	UT_hash_handle hh;
	size_t index;
};

/* An API prefix; the array is sorted longest first, so the first prefix
 * that matches is the longest. */
struct prefix {
	const char *key;
	size_t n;
	size_t index;
};

struct webapi_table {
	char *text;	/* the source text, NUL-terminated, then split in place */
	size_t text_len;
	char *source;
	struct webapi_entry *entries;
	size_t count, cap;
	struct prefix *prefixes;
	size_t prefix_count;
	struct key_entry *keys;
	struct package_entry *packages;
};

const char *webapi_match_name(enum webapi_match m)
{
	return (size_t)m < MATCH_COUNT ? match_names[m] : "?";
}

static int parse_match(const struct tsv_field *f)
{
	for (size_t m = 0; m < MATCH_COUNT; m++)
		if (tsv_field_is(f, match_names[m]))
			return (int)m;
	return -1;
}

void webapi_free(struct webapi_table *t)
{
	struct key_entry *k, *ktmp;
	struct package_entry *p, *ptmp;

	if (!t)
		return;
	HASH_ITER(hh, t->keys, k, ktmp) {
		HASH_DEL(t->keys, k);
		free(k);
	}
	HASH_ITER(hh, t->packages, p, ptmp) {
		HASH_DEL(t->packages, p);
		free(p);
	}
	free(t->prefixes);
	free(t->entries);
	free(t->source);
	free(t->text);
	free(t);
}

size_t webapi_count(const struct webapi_table *t)
{
	return t->count;
}

const struct webapi_entry *webapi_entry(const struct webapi_table *t, size_t i)
{
	return i < t->count ? &t->entries[i] : NULL;
}

/* ---- the (match, key) index ---- */

/* Writes the hash key of (m, key[0..n)) to buf; false when it cannot be in
 * the table (too long). */
static bool make_key(enum webapi_match m, const char *key, size_t n, char *buf, size_t size)
{
	if (n + 1 > size)
		return false;
	buf[0] = (char)m;
	memcpy(buf + 1, key, n);
	return true;
}

static struct key_entry *find_key(const struct webapi_table *t, enum webapi_match m,
				  const char *key, size_t n)
{
	char buf[1 + TSV_MAX_TEXT];
	struct key_entry *found;

	if (!make_key(m, key, n, buf, sizeof(buf)))
		return NULL;
	HASH_FIND(hh, t->keys, buf, n + 1, found);
	return found;
}

static int add_key(struct webapi_table *t, const struct webapi_entry *e, size_t index)
{
	size_t n = strlen(e->key);
	struct key_entry *k = malloc(sizeof(*k) + n + 1);

	if (!k)
		return -1;
	k->index = index;
	k->key_len = n + 1;
	make_key(e->match, e->key, n, k->key, n + 1);
	HASH_ADD(hh, t->keys, key[0], k->key_len, k);
	return 0;
}

/* ---- parsing ---- */

struct parse_ctx {
	struct webapi_table *t;
	const char *source;
	unsigned line;
	struct dsm_err *err;
};

#define PARSE_FAIL(ctx, ...)                                                  \
	do {                                                                  \
		char what_[DSM_ERR_MAX / 2];                                  \
		snprintf(what_, sizeof(what_), __VA_ARGS__);                  \
		dsm_err_set((ctx)->err, "%s:%u: %s", (ctx)->source, (ctx)->line, what_); \
		return -1;                                                    \
	} while (0)

static bool is_dash(const struct tsv_field *f)
{
	return tsv_field_is(f, "-");
}

/* Every column is text: not empty, no control character, at most 255 bytes;
 * only category and service may be '-', and only both together. */
static int check_fields(struct parse_ctx *ctx, const struct tsv_field *f)
{
	for (size_t i = 0; i < WEBAPI_FIELDS; i++) {
		const char *problem = tsv_text_problem(&f[i]);

		if (problem)
			PARSE_FAIL(ctx, "column '%s' %s", column_names[i], problem);
		if (i != COL_CATEGORY && i != COL_SERVICE && is_dash(&f[i]))
			PARSE_FAIL(ctx, "column '%s' must not be '-'", column_names[i]);
	}
	if (parse_match(&f[COL_MATCH]) < 0)
		PARSE_FAIL(ctx, "unknown match '%.*s' (expected api, pkgid or cgi)",
			   (int)f[COL_MATCH].n, f[COL_MATCH].p);
	if (is_dash(&f[COL_CATEGORY]) != is_dash(&f[COL_SERVICE]))
		PARSE_FAIL(ctx, "category and service must both be '-' (no catalogue service) or "
				"both name a catalogue service");
	return 0;
}

/* NUL-terminates the field in the table's own copy of the text. */
static const char *terminate(char *line, const struct tsv_field *f)
{
	char *p = line + (f->p - line);

	p[f->n] = '\0';
	return p;
}

static bool same_text(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/* Holds every row of a package to one catalogue service (or to none). */
static int check_package(struct parse_ctx *ctx, const struct webapi_entry *e)
{
	struct webapi_table *t = ctx->t;
	struct package_entry *found;
	const struct webapi_entry *first;

	HASH_FIND_STR(t->packages, e->package, found);
	if (!found) {
		found = malloc(sizeof(*found));
		if (!found)
			PARSE_FAIL(ctx, "out of memory");
		found->index = t->count;
		HASH_ADD_KEYPTR(hh, t->packages, e->package, strlen(e->package), found);
		return 0;
	}
	first = &t->entries[found->index];
	if (!same_text(first->category, e->category) || !same_text(first->service, e->service))
		PARSE_FAIL(ctx, "package '%s' has category and service '%s' / '%s' on line %u: "
				"one package, one service", e->package,
			   first->category ? first->category : "-",
			   first->service ? first->service : "-", first->line);
	return 0;
}

static int append_entry(struct parse_ctx *ctx, const struct webapi_entry *e)
{
	struct webapi_table *t = ctx->t;
	struct key_entry *dup = find_key(t, e->match, e->key, strlen(e->key));

	if (dup)
		PARSE_FAIL(ctx, "duplicate key: %s '%s' is already on line %u",
			   webapi_match_name(e->match), e->key, t->entries[dup->index].line);
	if (check_package(ctx, e))
		return -1;
	if (t->count == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct webapi_entry *bigger = realloc(t->entries, cap * sizeof(*bigger));

		if (!bigger)
			PARSE_FAIL(ctx, "out of memory");
		t->entries = bigger;
		t->cap = cap;
	}
	if (add_key(t, e, t->count))
		PARSE_FAIL(ctx, "out of memory");
	t->entries[t->count++] = *e;
	return 0;
}

static int parse_entry_line(struct parse_ctx *ctx, char *line, size_t n)
{
	struct tsv_field f[WEBAPI_FIELDS + 1];
	size_t count = tsv_split(line, n, f, WEBAPI_FIELDS);
	struct webapi_entry e = { .line = ctx->line, .service_id = -1 };

	if (count != WEBAPI_FIELDS)
		PARSE_FAIL(ctx, "expected %d tab-separated columns, found %zu", WEBAPI_FIELDS, count);
	if (check_fields(ctx, f))
		return -1;
	e.match = (unsigned char)parse_match(&f[COL_MATCH]);
	e.key = terminate(line, &f[COL_KEY]);
	e.package = terminate(line, &f[COL_PACKAGE]);
	if (!is_dash(&f[COL_CATEGORY])) {
		e.category = terminate(line, &f[COL_CATEGORY]);
		e.service = terminate(line, &f[COL_SERVICE]);
	}
	e.source = terminate(line, &f[COL_SOURCE]);
	return append_entry(ctx, &e);
}

static int check_header(struct parse_ctx *ctx, const char *line, size_t n)
{
	struct tsv_field f[WEBAPI_FIELDS + 1];
	size_t count = tsv_split(line, n, f, WEBAPI_FIELDS);

	for (size_t i = 0; i < WEBAPI_FIELDS; i++)
		if (count != WEBAPI_FIELDS || !tsv_field_is(&f[i], column_names[i]))
			PARSE_FAIL(ctx, "expected the header line 'match<TAB>key<TAB>package"
					"<TAB>category<TAB>service<TAB>source'");
	return 0;
}

static int parse_lines(struct parse_ctx *ctx)
{
	struct tsv_lines lines;
	const char *p;
	size_t n;
	bool header_seen = false;
	int more;

	tsv_lines_init(&lines, ctx->t->text, ctx->t->text_len);
	while ((more = tsv_next_line(&lines, &p, &n)) != 0) {
		ctx->line = lines.line;
		if (more < 0)
			PARSE_FAIL(ctx, "NUL byte in line");
		if (!header_seen) {
			if (check_header(ctx, p, n))
				return -1;
			header_seen = true;
		} else if (parse_entry_line(ctx, ctx->t->text + (p - ctx->t->text), n)) {
			return -1;
		}
	}
	if (!header_seen) {
		ctx->line = lines.line ? lines.line : 1;
		PARSE_FAIL(ctx, "no header line: not a dsmflow Web API table");
	}
	return 0;
}

static int by_length_then_line(const void *a, const void *b)
{
	const struct prefix *x = a, *y = b;

	if (x->n != y->n)
		return x->n > y->n ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

static int index_prefixes(struct webapi_table *t)
{
	t->prefixes = malloc((t->count ? t->count : 1) * sizeof(*t->prefixes));
	if (!t->prefixes)
		return -1;
	for (size_t i = 0; i < t->count; i++)
		if (t->entries[i].match == WEBAPI_API)
			t->prefixes[t->prefix_count++] = (struct prefix){
				t->entries[i].key, strlen(t->entries[i].key), i };
	qsort(t->prefixes, t->prefix_count, sizeof(*t->prefixes), by_length_then_line);
	return 0;
}

/* Copies text and source so the table owns every string its entries hold. */
static struct webapi_table *table_new(const char *text, size_t len, const char *source)
{
	struct webapi_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->text = malloc(len + 1);
	t->source = strdup(source);
	if (!t->text || !t->source) {
		webapi_free(t);
		return NULL;
	}
	memcpy(t->text, text, len);
	t->text[len] = '\0';
	t->text_len = len;
	return t;
}

struct webapi_table *webapi_parse(const char *text, size_t len, const char *source,
				  struct dsm_err *err)
{
	struct parse_ctx ctx = { .source = source, .err = err };

	ctx.t = table_new(text, len, source);
	if (!ctx.t) {
		dsm_err_set(err, "%s: out of memory", source);
		return NULL;
	}
	if (parse_lines(&ctx)) {
		webapi_free(ctx.t);
		return NULL;
	}
	if (index_prefixes(ctx.t)) {
		dsm_err_set(err, "%s: out of memory", source);
		webapi_free(ctx.t);
		return NULL;
	}
	return ctx.t;
}

struct webapi_table *webapi_load_embedded(struct dsm_err *err)
{
	return webapi_parse(dsm_webapi_embedded, dsm_webapi_embedded_len, WEBAPI_EMBEDDED_NAME, err);
}

struct webapi_table *webapi_load_file(const char *path, struct dsm_err *err)
{
	size_t len;
	char *text = tsv_read_file(path, "Web API table", WEBAPI_MAX_FILE, &len, err);
	struct webapi_table *t;

	if (!text)
		return NULL;
	t = webapi_parse(text, len, path, err);
	free(text);
	return t;
}

/* ---- binding to the catalogue ---- */

static void unbind(struct webapi_table *t)
{
	for (size_t i = 0; i < t->count; i++) {
		t->entries[i].service_id = -1;
		t->entries[i].dsm_core = 0;
	}
}

/* Sets the service of every entry that names a catalogue service; fails on
 * the first that names none. Changes nothing in cat. */
static int bind_named(struct webapi_table *t, const struct catalog *cat, struct dsm_err *err)
{
	for (size_t i = 0; i < t->count; i++) {
		struct webapi_entry *e = &t->entries[i];

		if (!e->category)
			continue;
		e->service_id = catalog_find_service(cat, e->category, e->service);
		if (e->service_id < 0) {
			dsm_err_set(err, "%s:%u: no service '%s' in category '%s' in the port catalogue",
				    t->source, e->line, e->service, e->category);
			return -1;
		}
		e->dsm_core = strcmp(e->category, DSM_CATEGORY) == 0 &&
			      strcmp(e->service, DSM_SERVICE) == 0;
	}
	return 0;
}

/* Gives each package without a catalogue service its WEBAPI_CATEGORY service
 * (catalog_add_service() returns the same one for every row of a package). */
static int bind_packages(struct webapi_table *t, struct catalog *cat, struct dsm_err *err)
{
	for (size_t i = 0; i < t->count; i++) {
		struct webapi_entry *e = &t->entries[i];
		struct dsm_err why;

		if (e->category)
			continue;
		e->service_id = catalog_add_service(cat, WEBAPI_CATEGORY, e->package, &why);
		if (e->service_id < 0) {
			dsm_err_set(err, "%s:%u: %s", t->source, e->line, why.msg);
			return -1;
		}
	}
	return 0;
}

int webapi_bind(struct webapi_table *t, struct catalog *cat, struct dsm_err *err)
{
	size_t before = catalog_service_count(cat);

	if (bind_named(t, cat, err) == 0 && bind_packages(t, cat, err) == 0)
		return 0;
	catalog_truncate_services(cat, before);
	unbind(t);
	return -1;
}

/* ---- lookup ---- */

static const struct webapi_entry *longest_prefix(const struct webapi_table *t, const char *key,
						 size_t n)
{
	for (size_t i = 0; i < t->prefix_count; i++) {
		const struct prefix *p = &t->prefixes[i];

		if (p->n <= n && memcmp(p->key, key, p->n) == 0)
			return &t->entries[p->index];
	}
	return NULL;
}

const struct webapi_entry *webapi_lookup(const struct webapi_table *t, enum webapi_match m,
					 const char *key, size_t n)
{
	const struct key_entry *found;

	if (m == WEBAPI_API)
		return longest_prefix(t, key, n);
	if (m != WEBAPI_PKGID && m != WEBAPI_CGI)
		return NULL;
	found = find_key(t, m, key, n);
	return found ? &t->entries[found->index] : NULL;
}

/* ---- writing ---- */

void webapi_write_tsv(const struct webapi_table *t, FILE *out)
{
	for (size_t i = 0; i < WEBAPI_FIELDS; i++)
		fprintf(out, "%s%c", column_names[i], i + 1 < WEBAPI_FIELDS ? '\t' : '\n');
	for (size_t i = 0; i < t->count; i++) {
		const struct webapi_entry *e = &t->entries[i];

		fprintf(out, "%s\t%s\t%s\t%s\t%s\t%s\n", webapi_match_name(e->match), e->key,
			e->package, e->category ? e->category : "-", e->service ? e->service : "-",
			e->source);
	}
}
