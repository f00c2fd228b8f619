/* catalog.c - loading, validating and writing the DSM port catalogue.
 *
 * Owns the catalogue's memory: services, records and an interned string pool.
 * The loader is strict because a silently skipped line would silently change
 * which services traffic is attributed to: the first bad line aborts the load
 * with "SOURCE:LINE: message" and the half-built catalogue is freed.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <uthash.h>

#include "dsmflow/decimal.h"
#include "dsmflow/catalog.h"
#include "dsmflow/jsonout.h"
#include "dsmflow/tsv.h"

extern const char dsm_catalog_embedded[];
extern const size_t dsm_catalog_embedded_len;

#define CATALOG_EMBEDDED_NAME "catalog/dsm-ports.tsv (embedded)"
#define CATALOG_FIELDS 11
#define CATALOG_MAX_FILE (64u << 20)
#define CUSTOM_CATEGORY "Custom"
#define CATALOG_MAX_TEXT TSV_MAX_TEXT

static const char *const column_names[CATALOG_FIELDS] = {
	"category", "service", "proto", "first_port", "last_port", "label",
	"role", "match", "footnote", "note", "domains",
};

enum column { COL_CATEGORY, COL_SERVICE, COL_PROTO, COL_FIRST, COL_LAST, COL_LABEL,
	      COL_ROLE, COL_MATCH, COL_FOOTNOTE, COL_NOTE, COL_DOMAINS };

struct pooled_string {
	UT_hash_handle hh;
	char text[];	/* the hash key */
};

struct service_entry {
	UT_hash_handle hh;
	uint16_t id;
	char key[];	/* "category\tname", the hash key */
};

/* Remembers where each (service, proto, port range) was defined, to name the
 * earlier line when a duplicate turns up. */
struct record_entry {
	UT_hash_handle hh;
	uint64_t key;
	unsigned line;
};

struct catalog {
	struct dsm_service *services;
	size_t service_count, service_cap;
	struct dsm_record *records;
	size_t record_count, record_cap;
	struct pooled_string *strings;
	struct service_entry *service_index;
	struct record_entry *record_index;
};

const char *dsm_proto_name(enum dsm_proto proto)
{
	static const char *const names[DSM_PROTO_COUNT] = { "tcp", "udp", "icmp" };

	return (unsigned)proto < DSM_PROTO_COUNT ? names[proto] : "?";
}

int dsm_proto_parse(const char *s, size_t n)
{
	for (enum dsm_proto p = 0; p < DSM_PROTO_COUNT; p++)
		if (strlen(dsm_proto_name(p)) == n && strncasecmp(s, dsm_proto_name(p), n) == 0)
			return (int)p;
	return -1;
}

const char *dsm_role_name(enum dsm_role role)
{
	return role == DSM_ROLE_OUTBOUND ? "outbound" : "inbound";
}

const char *dsm_match_name(enum dsm_match match)
{
	return match == DSM_MATCH_DYNAMIC ? "dynamic" : "static";
}

static struct catalog *catalog_new(void)
{
	return calloc(1, sizeof(struct catalog));
}

void catalog_free(struct catalog *cat)
{
	struct pooled_string *s, *stmp;
	struct service_entry *se, *setmp;
	struct record_entry *re, *retmp;

	if (!cat)
		return;
	HASH_ITER(hh, cat->strings, s, stmp) {
		HASH_DEL(cat->strings, s);
		free(s);
	}
	HASH_ITER(hh, cat->service_index, se, setmp) {
		HASH_DEL(cat->service_index, se);
		free(se);
	}
	HASH_ITER(hh, cat->record_index, re, retmp) {
		HASH_DEL(cat->record_index, re);
		free(re);
	}
	free(cat->services);
	free(cat->records);
	free(cat);
}

/* Returns a pooled copy of s[0..n), shared by every equal string. */
static const char *intern(struct catalog *cat, const char *s, size_t n)
{
	struct pooled_string *found;

	HASH_FIND(hh, cat->strings, s, n, found);
	if (found)
		return found->text;
	found = malloc(sizeof(*found) + n + 1);
	if (!found)
		return NULL;
	memcpy(found->text, s, n);
	found->text[n] = '\0';
	HASH_ADD_KEYPTR(hh, cat->strings, found->text, n, found);
	return found->text;
}

static bool grow(void **array, size_t *cap, size_t count, size_t elem_size)
{
	size_t new_cap;
	void *bigger;

	if (count < *cap)
		return true;
	new_cap = *cap ? *cap * 2 : 64;
	bigger = realloc(*array, new_cap * elem_size);
	if (!bigger)
		return false;
	*array = bigger;
	*cap = new_cap;
	return true;
}

static struct service_entry *find_service_entry(const struct catalog *cat, const char *category,
						size_t category_len, const char *name,
						size_t name_len)
{
	struct service_entry *found;
	char key[1024];
	size_t n = category_len + 1 + name_len;

	if (n >= sizeof(key))
		return NULL;
	memcpy(key, category, category_len);
	key[category_len] = '\t';
	memcpy(key + category_len + 1, name, name_len);
	HASH_FIND(hh, cat->service_index, key, n, found);
	return found;
}

int catalog_find_service(const struct catalog *cat, const char *category, const char *name)
{
	struct service_entry *found;

	if (category) {
		found = find_service_entry(cat, category, strlen(category), name, strlen(name));
		return found ? found->id : -1;
	}
	for (size_t i = 0; i < cat->service_count; i++)
		if (strcmp(cat->services[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* Returns the id of (category, name), adding the service when it is new;
 * -1 when memory or the 16-bit id space runs out. */
static int intern_service(struct catalog *cat, const char *category, size_t category_len,
			  const char *name, size_t name_len)
{
	struct service_entry *entry;
	struct dsm_service *svc;
	size_t key_len = category_len + 1 + name_len;

	entry = find_service_entry(cat, category, category_len, name, name_len);
	if (entry)
		return entry->id;
	if (cat->service_count > UINT16_MAX ||
	    !grow((void **)&cat->services, &cat->service_cap, cat->service_count, sizeof(*svc)))
		return -1;
	entry = malloc(sizeof(*entry) + key_len + 1);
	if (!entry)
		return -1;
	svc = &cat->services[cat->service_count];
	svc->category = intern(cat, category, category_len);
	svc->name = intern(cat, name, name_len);
	if (!svc->category || !svc->name) {
		free(entry);
		return -1;
	}
	entry->id = (uint16_t)cat->service_count++;
	memcpy(entry->key, category, category_len);
	entry->key[category_len] = '\t';
	memcpy(entry->key + category_len + 1, name, name_len);
	entry->key[key_len] = '\0';
	HASH_ADD(hh, cat->service_index, key[0], key_len, entry);
	return entry->id;
}

static uint64_t record_key(const struct dsm_record *rec)
{
	return (uint64_t)rec->service << 40 | (uint64_t)rec->proto << 32 |
	       (uint64_t)rec->first_port << 16 | rec->last_port;
}

/* Appends rec unless it repeats an earlier record; on a duplicate returns 1
 * and sets *earlier_line. Returns -1 when out of memory. */
static int append_record(struct catalog *cat, const struct dsm_record *rec, unsigned *earlier_line)
{
	struct record_entry *entry;
	uint64_t key = record_key(rec);

	HASH_FIND(hh, cat->record_index, &key, sizeof(key), entry);
	if (entry) {
		*earlier_line = entry->line;
		return 1;
	}
	if (!grow((void **)&cat->records, &cat->record_cap, cat->record_count, sizeof(*rec)))
		return -1;
	entry = malloc(sizeof(*entry));
	if (!entry)
		return -1;
	entry->key = key;
	entry->line = rec->line;
	HASH_ADD(hh, cat->record_index, key, sizeof(entry->key), entry);
	cat->records[cat->record_count++] = *rec;
	return 0;
}

/* ---- TSV parsing ---- */

static bool field_is_empty_marker(const struct tsv_field *f)
{
	return tsv_field_is(f, "-");
}

/* Decimal 0..65535, digits only. */
static bool parse_port(const struct tsv_field *f, uint16_t *port)
{
	uint64_t value;

	if (decimal_parse(f->p, f->n, UINT16_MAX, &value))
		return false;
	*port = (uint16_t)value;
	return true;
}

struct parse_ctx {
	struct catalog *cat;
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

static int parse_ports(struct parse_ctx *ctx, const struct tsv_field *fields, struct dsm_record *rec)
{
	if (rec->proto == DSM_PROTO_ICMP) {
		if (!field_is_empty_marker(&fields[COL_FIRST]) || !field_is_empty_marker(&fields[COL_LAST]))
			PARSE_FAIL(ctx, "icmp has no ports: first_port and last_port must be '-'");
		rec->first_port = rec->last_port = 0;
		return 0;
	}
	if (!parse_port(&fields[COL_FIRST], &rec->first_port))
		PARSE_FAIL(ctx, "first_port '%.*s' is not a port number 0..65535",
			   (int)fields[COL_FIRST].n, fields[COL_FIRST].p);
	if (!parse_port(&fields[COL_LAST], &rec->last_port))
		PARSE_FAIL(ctx, "last_port '%.*s' is not a port number 0..65535",
			   (int)fields[COL_LAST].n, fields[COL_LAST].p);
	if (rec->first_port > rec->last_port)
		PARSE_FAIL(ctx, "first_port %u is greater than last_port %u",
			   rec->first_port, rec->last_port);
	return 0;
}

static int parse_enums(struct parse_ctx *ctx, const struct tsv_field *fields, struct dsm_record *rec)
{
	int proto = dsm_proto_parse(fields[COL_PROTO].p, fields[COL_PROTO].n);

	if (proto < 0 || !islower((unsigned char)fields[COL_PROTO].p[0]))
		PARSE_FAIL(ctx, "unknown protocol '%.*s' (expected tcp, udp or icmp)",
			   (int)fields[COL_PROTO].n, fields[COL_PROTO].p);
	rec->proto = (uint8_t)proto;
	if (tsv_field_is(&fields[COL_ROLE], "inbound"))
		rec->role = DSM_ROLE_INBOUND;
	else if (tsv_field_is(&fields[COL_ROLE], "outbound"))
		rec->role = DSM_ROLE_OUTBOUND;
	else
		PARSE_FAIL(ctx, "unknown role '%.*s' (expected inbound or outbound)",
			   (int)fields[COL_ROLE].n, fields[COL_ROLE].p);
	if (tsv_field_is(&fields[COL_MATCH], "static"))
		rec->match = DSM_MATCH_STATIC;
	else if (tsv_field_is(&fields[COL_MATCH], "dynamic"))
		rec->match = DSM_MATCH_DYNAMIC;
	else
		PARSE_FAIL(ctx, "unknown match '%.*s' (expected static or dynamic)",
			   (int)fields[COL_MATCH].n, fields[COL_MATCH].p);
	return 0;
}

static int parse_footnote(struct parse_ctx *ctx, const struct tsv_field *f, struct dsm_record *rec)
{
	uint16_t number;

	rec->footnote = 0;
	if (field_is_empty_marker(f))
		return 0;
	if (f->n > 2 || !parse_port(f, &number) || number == 0)
		PARSE_FAIL(ctx, "footnote '%.*s' is not '-' or a number 1..99", (int)f->n, f->p);
	rec->footnote = (uint8_t)number;
	return 0;
}

/* Text columns: '-' stands for empty, so an empty field is always a mistake. */
static int parse_text(struct parse_ctx *ctx, const struct tsv_field *f, enum column col,
		      bool may_be_empty, const char **out)
{
	const char *problem = tsv_text_problem(f);

	if (problem)
		PARSE_FAIL(ctx, "column '%s' %s", column_names[col], problem);
	if (field_is_empty_marker(f)) {
		if (!may_be_empty)
			PARSE_FAIL(ctx, "column '%s' must not be '-'", column_names[col]);
		*out = intern(ctx->cat, "", 0);
	} else {
		*out = intern(ctx->cat, f->p, f->n);
	}
	if (!*out)
		PARSE_FAIL(ctx, "out of memory");
	return 0;
}

static int parse_record_line(struct parse_ctx *ctx, const char *line, size_t n)
{
	struct tsv_field fields[CATALOG_FIELDS + 1];
	struct dsm_record rec = { .line = ctx->line };
	const char *category, *service;
	size_t count = tsv_split(line, n, fields, CATALOG_FIELDS);
	unsigned earlier;
	int id, added;

	if (count != CATALOG_FIELDS)
		PARSE_FAIL(ctx, "expected %d tab-separated columns, found %zu", CATALOG_FIELDS, count);
	if (parse_text(ctx, &fields[COL_CATEGORY], COL_CATEGORY, false, &category) ||
	    parse_text(ctx, &fields[COL_SERVICE], COL_SERVICE, false, &service) ||
	    parse_enums(ctx, fields, &rec) || parse_ports(ctx, fields, &rec) ||
	    parse_footnote(ctx, &fields[COL_FOOTNOTE], &rec) ||
	    parse_text(ctx, &fields[COL_LABEL], COL_LABEL, true, &rec.label) ||
	    parse_text(ctx, &fields[COL_NOTE], COL_NOTE, true, &rec.note) ||
	    parse_text(ctx, &fields[COL_DOMAINS], COL_DOMAINS, true, &rec.domains))
		return -1;
	id = intern_service(ctx->cat, category, strlen(category), service, strlen(service));
	if (id < 0)
		PARSE_FAIL(ctx, "out of memory or too many services");
	rec.service = (uint16_t)id;
	added = append_record(ctx->cat, &rec, &earlier);
	if (added < 0)
		PARSE_FAIL(ctx, "out of memory");
	if (added > 0)
		PARSE_FAIL(ctx, "duplicate record: %s %s %u-%u of '%s' is already on line %u",
			   category, dsm_proto_name(rec.proto), rec.first_port, rec.last_port,
			   service, earlier);
	return 0;
}

static int check_header(struct parse_ctx *ctx, const char *line, size_t n)
{
	struct tsv_field fields[CATALOG_FIELDS + 1];
	size_t count = tsv_split(line, n, fields, CATALOG_FIELDS);

	for (size_t i = 0; i < CATALOG_FIELDS; i++)
		if (count != CATALOG_FIELDS || !tsv_field_is(&fields[i], column_names[i]))
			PARSE_FAIL(ctx, "expected the header line 'category<TAB>service<TAB>proto"
					"<TAB>first_port<TAB>last_port<TAB>label<TAB>role<TAB>match"
					"<TAB>footnote<TAB>note<TAB>domains'");
	return 0;
}

static int parse_lines(struct parse_ctx *ctx, const char *text, size_t len)
{
	struct tsv_lines lines;
	const char *p;
	size_t n;
	bool header_seen = false;
	int more;

	tsv_lines_init(&lines, text, len);
	while ((more = tsv_next_line(&lines, &p, &n)) != 0) {
		ctx->line = lines.line;
		if (more < 0)
			PARSE_FAIL(ctx, "NUL byte in line");
		if (!header_seen) {
			if (check_header(ctx, p, n))
				return -1;
			header_seen = true;
		} else if (parse_record_line(ctx, p, n)) {
			return -1;
		}
	}
	ctx->line = lines.line;
	if (!header_seen) {
		ctx->line = ctx->line ? ctx->line : 1;
		PARSE_FAIL(ctx, "no header line: not a dsmflow catalogue");
	}
	return 0;
}

struct catalog *catalog_parse(const char *text, size_t len, const char *source, struct dsm_err *err)
{
	struct parse_ctx ctx = { .source = source, .err = err };

	ctx.cat = catalog_new();
	if (!ctx.cat) {
		dsm_err_set(err, "%s: out of memory", source);
		return NULL;
	}
	if (parse_lines(&ctx, text, len)) {
		catalog_free(ctx.cat);
		return NULL;
	}
	return ctx.cat;
}

struct catalog *catalog_load_embedded(struct dsm_err *err)
{
	return catalog_parse(dsm_catalog_embedded, dsm_catalog_embedded_len, CATALOG_EMBEDDED_NAME, err);
}

struct catalog *catalog_load_file(const char *path, struct dsm_err *err)
{
	size_t len;
	char *text = tsv_read_file(path, "catalogue", CATALOG_MAX_FILE, &len, err);
	struct catalog *cat;

	if (!text)
		return NULL;
	cat = catalog_parse(text, len, path, err);
	free(text);
	return cat;
}

int catalog_add_port(struct catalog *cat, enum dsm_proto proto, uint16_t first_port,
		     uint16_t last_port, const char *service_name, struct dsm_err *err)
{
	struct dsm_record rec = {
		.proto = (uint8_t)proto, .role = DSM_ROLE_INBOUND, .match = DSM_MATCH_STATIC,
		.first_port = first_port, .last_port = last_port,
	};
	unsigned earlier;
	int id, added;

	if (strlen(service_name) > CATALOG_MAX_TEXT || strpbrk(service_name, "\t\n\r")) {
		dsm_err_set(err, "--port: the service name is longer than %d bytes or holds a tab or "
				 "line break", CATALOG_MAX_TEXT);
		return -1;
	}
	id = catalog_find_service(cat, NULL, service_name);
	if (id < 0)
		id = intern_service(cat, CUSTOM_CATEGORY, strlen(CUSTOM_CATEGORY), service_name,
				    strlen(service_name));
	rec.label = intern(cat, "added by --port", strlen("added by --port"));
	rec.note = rec.domains = intern(cat, "", 0);
	if (id < 0 || !rec.label || !rec.note) {
		dsm_err_set(err, "--port: out of memory");
		return -1;
	}
	rec.service = (uint16_t)id;
	added = append_record(cat, &rec, &earlier);
	if (added != 0) {
		dsm_err_set(err, added < 0 ? "--port: out of memory"
					   : "--port %s/%u-%u=%s: already in the catalogue",
			    dsm_proto_name(proto), first_port, last_port, service_name);
		return -1;
	}
	return 0;
}

/* True when s is a name the TSV format can carry: see tsv_text_problem(). */
static bool is_service_text(const char *s)
{
	struct tsv_field f = { s, strlen(s) };

	return !tsv_text_problem(&f) && strcmp(s, "-") != 0;
}

int catalog_add_service(struct catalog *cat, const char *category, const char *name,
			struct dsm_err *err)
{
	int id;

	if (!is_service_text(category) || !is_service_text(name)) {
		dsm_err_set(err, "service '%.*s' in category '%.*s': a name is empty, '-', longer "
				 "than %d bytes or holds a control character", CATALOG_MAX_TEXT,
			    name, CATALOG_MAX_TEXT, category, CATALOG_MAX_TEXT);
		return -1;
	}
	id = intern_service(cat, category, strlen(category), name, strlen(name));
	if (id < 0)
		dsm_err_set(err, "service '%s' in category '%s': out of memory or too many services",
			    name, category);
	return id;
}

/* Copies rec into cat with its strings pooled there and its service
 * mapped to service; -1 when memory runs out. */
static int copy_record(struct catalog *cat, const struct dsm_record *rec, uint16_t service)
{
	struct dsm_record copy = *rec;
	unsigned earlier;

	copy.service = service;
	copy.label = intern(cat, rec->label, strlen(rec->label));
	copy.note = intern(cat, rec->note, strlen(rec->note));
	copy.domains = intern(cat, rec->domains, strlen(rec->domains));
	if (!copy.label || !copy.note || !copy.domains)
		return -1;
	return append_record(cat, &copy, &earlier) < 0 ? -1 : 0;
}

struct catalog *catalog_merge(const struct catalog *old, const struct catalog *fresh,
			      struct dsm_err *err)
{
	struct catalog *cat = catalog_new();
	size_t i;

	for (i = 0; cat && i < old->service_count; i++)
		if (catalog_add_service(cat, old->services[i].category, old->services[i].name, err) < 0)
			goto fail;
	for (i = 0; cat && i < fresh->record_count; i++) {
		const struct dsm_service *s = &fresh->services[fresh->records[i].service];
		int id = catalog_add_service(cat, s->category, s->name, err);

		if (id < 0)
			goto fail;
		if (copy_record(cat, &fresh->records[i], (uint16_t)id)) {
			dsm_err_set(err, "out of memory merging the catalogues");
			goto fail;
		}
	}
	for (i = 0; cat && i < fresh->service_count; i++)	/* those without records too */
		if (catalog_add_service(cat, fresh->services[i].category, fresh->services[i].name, err) < 0)
			goto fail;
	if (cat)
		return cat;
	dsm_err_set(err, "out of memory merging the catalogues");
	return NULL;
fail:
	catalog_free(cat);
	return NULL;
}

int catalog_truncate_services(struct catalog *cat, size_t count)
{
	if (count > cat->service_count)
		return -1;
	for (size_t i = 0; i < cat->record_count; i++)
		if (cat->records[i].service >= count)
			return -1;
	while (cat->service_count > count) {
		const struct dsm_service *s = &cat->services[cat->service_count - 1];
		struct service_entry *entry = find_service_entry(cat, s->category, strlen(s->category),
								 s->name, strlen(s->name));

		if (entry) {
			HASH_DEL(cat->service_index, entry);
			free(entry);
		}
		cat->service_count--;
	}
	return 0;
}

size_t catalog_record_count(const struct catalog *cat)
{
	return cat->record_count;
}

const struct dsm_record *catalog_record(const struct catalog *cat, size_t i)
{
	return i < cat->record_count ? &cat->records[i] : NULL;
}

size_t catalog_service_count(const struct catalog *cat)
{
	return cat->service_count;
}

const struct dsm_service *catalog_service(const struct catalog *cat, size_t id)
{
	return id < cat->service_count ? &cat->services[id] : NULL;
}

/* ---- writing ---- */

static const char *or_dash(const char *s)
{
	return *s ? s : "-";
}

void catalog_write_tsv(const struct catalog *cat, FILE *out)
{
	for (size_t i = 0; i < CATALOG_FIELDS; i++)
		fprintf(out, "%s%c", column_names[i], i + 1 < CATALOG_FIELDS ? '\t' : '\n');
	for (size_t i = 0; i < cat->record_count; i++) {
		const struct dsm_record *r = &cat->records[i];
		const struct dsm_service *s = &cat->services[r->service];

		fprintf(out, "%s\t%s\t%s\t", s->category, s->name, dsm_proto_name(r->proto));
		if (r->proto == DSM_PROTO_ICMP)
			fputs("-\t-\t", out);
		else
			fprintf(out, "%u\t%u\t", r->first_port, r->last_port);
		fprintf(out, "%s\t%s\t%s\t", or_dash(r->label), dsm_role_name(r->role),
			dsm_match_name(r->match));
		if (r->footnote)
			fprintf(out, "%u\t", r->footnote);
		else
			fputs("-\t", out);
		fprintf(out, "%s\t%s\n", or_dash(r->note), or_dash(r->domains));
	}
}

static void write_json_domains(const char *domains, FILE *out)
{
	const char *p = domains;

	fputc('[', out);
	while (*p) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		char one[256];

		snprintf(one, sizeof(one), "%.*s", (int)n, p);
		json_string(out, one);
		p += n;
		if (*p == ',') {
			p++;
			fputc(',', out);
		}
	}
	fputc(']', out);
}

void catalog_write_json(const struct catalog *cat, FILE *out)
{
	fputs("[\n", out);
	for (size_t i = 0; i < cat->record_count; i++) {
		const struct dsm_record *r = &cat->records[i];
		const struct dsm_service *s = &cat->services[r->service];

		fputs("  {\"category\": ", out);
		json_string(out, s->category);
		fputs(", \"service\": ", out);
		json_string(out, s->name);
		fprintf(out, ", \"proto\": \"%s\", ", dsm_proto_name(r->proto));
		if (r->proto == DSM_PROTO_ICMP)
			fputs("\"first_port\": null, \"last_port\": null", out);
		else
			fprintf(out, "\"first_port\": %u, \"last_port\": %u", r->first_port, r->last_port);
		fputs(", \"label\": ", out);
		json_string(out, r->label);
		fprintf(out, ", \"role\": \"%s\", \"match\": \"%s\", \"footnote\": ",
			dsm_role_name(r->role), dsm_match_name(r->match));
		if (r->footnote)
			fprintf(out, "%u", r->footnote);
		else
			fputs("null", out);
		fputs(", \"note\": ", out);
		json_string(out, r->note);
		fputs(", \"domains\": ", out);
		write_json_domains(r->domains, out);
		fprintf(out, "}%s\n", i + 1 < cat->record_count ? "," : "");
	}
	fputs("]\n", out);
}
