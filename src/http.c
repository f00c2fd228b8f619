/* http.c - the streaming scanner of HTTP requests for Web API names; see
 * http.h for what it reports.
 *
 * One byte at a time through a small state machine (method, target,
 * version, header lines, body), because a request may be split anywhere
 * between segments and nothing of it is buffered beyond the fixed fields
 * of struct http_scan. Names are maximal runs of name characters
 * ([A-Za-z0-9_.]) that start with "SYNO."; a %XX escape and any other
 * character end a run, so percent-encoded JSON (%22SYNO.X%22) and raw JSON
 * ("SYNO.X") read alike.
 */
#include <string.h>

#include "dsmflow/decimal.h"
#include "dsmflow/cursor.h"
#include "dsmflow/http.h"

#define METHOD_MAX 16
#define API_PREFIX "SYNO."
#define API_PREFIX_LEN 5

enum state {
	ST_METHOD,	/* before or in the method of a request */
	ST_TARGET,	/* in the request target */
	ST_VERSION,	/* after the target, up to the end of the request line */
	ST_HEADER,	/* in a header line (an empty one ends the headers) */
	ST_BODY,	/* in a body of body_left more bytes */
	ST_NOT_HTTP,
	ST_STOPPED,
};

/* seg_after bits: what the path segments just before the current one were */
#define AFTER_WEBAPI 0x01	/* ".../webapi/" */
#define AFTER_WEBMAN 0x02	/* ".../webman/" */
#define AFTER_3RDPARTY 0x04	/* ".../webman/3rdparty/" */

struct feed {
	struct http_scan *s;
	http_event_fn fn;
	void *ctx;
};

void http_scan_init(struct http_scan *s)
{
	memset(s, 0, sizeof(*s));
	s->state = ST_METHOD;
	s->content_length = -1;
}

int http_looks_like_request(const uint8_t *data, uint32_t len)
{
	static const char methods[][4] = { "GET ", "POST", "PUT ", "HEAD", "DELE", "OPTI",
					   "PATC", "PROP", "MKCO", "COPY", "MOVE", "LOCK", "UNLO" };
	struct cursor c = cur_make(data, len);
	const uint8_t *first = cur_peek(&c, 4);

	for (size_t i = 0; first && i < sizeof(methods) / sizeof(methods[0]); i++)
		if (memcmp(first, methods[i], 4) == 0)
			return 1;
	return 0;
}

static int is_name_char(uint8_t ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '_' || ch == '.';
}

static int is_upper(uint8_t ch)
{
	return ch >= 'A' && ch <= 'Z';
}

static uint8_t lower(uint8_t ch)
{
	return ch >= 'A' && ch <= 'Z' ? (uint8_t)(ch - 'A' + 'a') : ch;
}

static void emit(const struct feed *f, enum http_event ev, enum http_name_kind kind,
		 const char *text, size_t len)
{
	f->fn(f->ctx, ev, kind, text, len);
}

/* ---- names: runs of name characters starting with SYNO. ---- */

static void run_end(const struct feed *f)
{
	struct http_scan *s = f->s;
	size_t n = s->run_len;

	while (n > 0 && s->run[n - 1] == '.')	/* a sentence's or a path's trailing dot */
		n--;
	if (!s->run_over && n > API_PREFIX_LEN && memcmp(s->run, API_PREFIX, API_PREFIX_LEN) == 0) {
		s->run[n] = '\0';
		emit(f, HTTP_EV_NAME, HTTP_NAME_API, s->run, n);
	}
	s->run_len = 0;
	s->run_over = 0;
}

static void run_byte(const struct feed *f, uint8_t ch)
{
	struct http_scan *s = f->s;

	if (s->pct_left) {	/* the hex digits of %XX separate, whatever they are */
		s->pct_left--;
		return;
	}
	if (is_name_char(ch)) {
		/* a run that does not start with SYNO., or is too long, is not kept */
		if (s->run_over)
			return;
		if (s->run_len >= HTTP_NAME_MAX ||
		    (s->run_len < API_PREFIX_LEN && ch != (uint8_t)API_PREFIX[s->run_len]))
			s->run_over = 1;
		else
			s->run[s->run_len++] = (char)ch;
		return;
	}
	run_end(f);
	if (ch == '%')
		s->pct_left = 2;
}

/* ---- path segments: /webapi/<dir>/ and /webman/3rdparty/<id>/ ---- */

static int seg_is(const struct http_scan *s, const char *word)
{
	return !s->seg_over && s->seg_len == strlen(word) && memcmp(s->seg, word, s->seg_len) == 0;
}

/* The current segment ended with a '/': it is a directory. */
static void seg_end(const struct feed *f)
{
	struct http_scan *s = f->s;
	uint8_t next = 0;

	if (!s->seg_over && s->seg_len) {
		s->seg[s->seg_len] = '\0';
		if (s->seg_after & AFTER_WEBAPI)
			emit(f, HTTP_EV_NAME, HTTP_NAME_CGI_DIR, s->seg, s->seg_len);
		if (s->seg_after & AFTER_3RDPARTY)
			emit(f, HTTP_EV_NAME, HTTP_NAME_PACKAGE_ID, s->seg, s->seg_len);
	}
	if (seg_is(s, "webapi"))
		next |= AFTER_WEBAPI;
	if (seg_is(s, "webman"))
		next |= AFTER_WEBMAN;
	if ((s->seg_after & AFTER_WEBMAN) && seg_is(s, "3rdparty"))
		next |= AFTER_3RDPARTY;
	s->seg_after = next;
	s->seg_len = 0;
	s->seg_over = 0;
}

static void seg_reset(struct http_scan *s)
{
	s->seg_after = 0;
	s->seg_len = 0;
	s->seg_over = 0;
}

static void seg_byte(const struct feed *f, uint8_t ch)
{
	struct http_scan *s = f->s;

	if (ch == '/') {
		seg_end(f);
	} else if (s->seg_len < HTTP_NAME_MAX) {
		s->seg[s->seg_len++] = (char)ch;
	} else {
		s->seg_over = 1;
	}
}

/* ---- request line ---- */

static void request_begin(struct http_scan *s)
{
	s->uri_len = 0;
	s->uri_cut = 0;
	s->uri[0] = '\0';
	s->in_query = 0;
	s->pct_left = 0;
	s->run_len = 0;
	s->run_over = 0;
	seg_reset(s);
	s->content_length = -1;
	s->body_form = 0;
	s->chunked = 0;
	s->line_len = 0;
	s->line_other = 0;
}

static void method_byte(const struct feed *f, uint8_t ch)
{
	struct http_scan *s = f->s;
	int first = s->requests == 0;

	if (s->method_len == 0 && (ch == '\r' || ch == '\n') && !first)
		return;		/* a stray line break after a body */
	if (is_upper(ch) && s->method_len < METHOD_MAX) {
		s->method_len++;
	} else if (ch == ' ' && s->method_len > 0) {
		request_begin(s);
		s->state = ST_TARGET;
	} else {
		s->state = first ? ST_NOT_HTTP : ST_STOPPED;
	}
}

static void target_end(const struct feed *f)
{
	struct http_scan *s = f->s;

	run_end(f);
	seg_reset(s);
	s->uri[s->uri_len] = '\0';
	s->requests++;
	s->method_len = 0;
	emit(f, HTTP_EV_REQUEST_LINE, HTTP_NAME_API, s->uri, s->uri_len);
}

static int ends_target(uint8_t ch)
{
	return ch == ' ' || ch == '\r' || ch == '\n';
}

/* Target bytes up to its end, or the segment's. */
static void target_bytes(const struct feed *f, struct cursor *c)
{
	struct http_scan *s = f->s;
	uint32_t left = cur_remaining(c), n = 0, room = HTTP_URI_MAX - s->uri_len;
	const uint8_t *t = cur_peek(c, left), *end;

	while (n < left && !ends_target(t[n]))
		n++;
	cur_take(c, n);
	memcpy(s->uri + s->uri_len, t, n < room ? n : room);
	s->uri_len = (uint16_t)(s->uri_len + (n < room ? n : room));
	s->uri_cut |= n > room;
	for (uint32_t i = 0; i < n; i++) {
		if (!s->in_query) {
			if (t[i] == '?') {
				s->in_query = 1;
				seg_reset(s);
			} else {
				seg_byte(f, t[i]);
			}
		}
		run_byte(f, t[i]);
	}
	end = cur_take(c, 1);
	if (!end)
		return;
	target_end(f);
	s->state = *end == '\n' ? ST_HEADER : ST_VERSION;
}

/* ---- headers ---- */

/* The value of header line "name: value" when the line is that header. */
static const char *header_value(const struct http_scan *s, const char *name)
{
	size_t n = strlen(name);
	const char *v;

	if (s->line_len < n || memcmp(s->line, name, n) != 0)
		return NULL;
	for (v = s->line + n; *v == ' ' || *v == '\t'; v++)
		;
	return v;
}

static int starts_with(const char *text, const char *prefix)
{
	return strncmp(text, prefix, strlen(prefix)) == 0;
}

static void header_line(struct http_scan *s)
{
	const char *v;

	s->line[s->line_len] = '\0';
	if ((v = header_value(s, "content-length:"))) {
		uint64_t n;

		decimal_prefix(v, strlen(v), UINT32_MAX, &n);
		s->content_length = (int64_t)n;
	} else if ((v = header_value(s, "content-type:"))) {
		s->body_form = starts_with(v, "application/x-www-form-urlencoded") ||
			       starts_with(v, "multipart/form-data");
	} else if ((v = header_value(s, "transfer-encoding:"))) {
		s->chunked = strstr(v, "chunked") != NULL;
	}
}

static void request_end(const struct feed *f)
{
	run_end(f);
	f->s->state = ST_METHOD;
	emit(f, HTTP_EV_REQUEST_END, HTTP_NAME_API, NULL, 0);
}

static void headers_end(const struct feed *f)
{
	struct http_scan *s = f->s;

	s->pct_left = 0;
	if (s->chunked && !s->body_form) {
		s->state = ST_STOPPED;	/* the next request is past chunks not worth walking */
	} else if (s->chunked) {	/* a form: read on, to the budget's end */
		s->body_left = UINT32_MAX;
		s->state = ST_BODY;
	} else if (s->content_length > 0) {
		s->body_left = s->content_length >= UINT32_MAX ? UINT32_MAX - 1
							       : (uint32_t)s->content_length;
		s->state = ST_BODY;
	} else {
		request_end(f);
	}
}

/* Whether a header line starting with ch may be one header_line() reads
 * (Content-Length, Content-Type, Transfer-Encoding). */
static int may_matter(uint8_t ch)
{
	ch = lower(ch);
	return ch == 'c' || ch == 't';
}

/* Header bytes up to the end of the line, or of the segment: the first
 * HTTP_HEADER_KEEP bytes of a line that may matter are kept, the rest is
 * skipped at once. */
static void header_bytes(const struct feed *f, struct cursor *c)
{
	struct http_scan *s = f->s;
	uint32_t left = cur_remaining(c);
	const uint8_t *at = cur_peek(c, left);
	const uint8_t *nl = memchr(at, '\n', left);
	uint32_t n = nl ? (uint32_t)(nl - at) : left;
	const uint8_t *line = cur_take(c, n);

	if (n && s->line_len == 0 && !s->line_other)
		s->line_other = !may_matter(line[0]) && line[0] != '\r';
	for (uint32_t i = 0; !s->line_other && i < n && s->line_len < HTTP_HEADER_KEEP - 1; i++)
		s->line[s->line_len++] = (char)lower(line[i]);
	if (!nl)
		return;
	cur_take(c, 1);
	if (s->line_len && s->line[s->line_len - 1] == '\r')
		s->line_len--;
	if (s->line_len == 0 && !s->line_other) {
		headers_end(f);
		return;
	}
	if (!s->line_other)
		header_line(s);
	s->line_len = 0;
	s->line_other = 0;
}

/* The rest of the request line after the target. */
static void version_bytes(struct http_scan *s, struct cursor *c)
{
	uint32_t left = cur_remaining(c);
	const uint8_t *nl = memchr(cur_peek(c, left), '\n', left);

	if (!nl) {
		cur_skip(c, left);
		return;
	}
	cur_skip(c, (uint32_t)(nl - cur_peek(c, left)) + 1);
	s->state = ST_HEADER;
}

/* ---- body ---- */

static void body_bytes(const struct feed *f, struct cursor *c)
{
	struct http_scan *s = f->s;
	uint32_t n = cur_remaining(c) < s->body_left ? cur_remaining(c) : s->body_left;
	const uint8_t *b = cur_take(c, n);

	if (s->body_form)
		for (uint32_t i = 0; i < n; i++)
			run_byte(f, b[i]);
	if (s->chunked)
		return;		/* body_left stays: the body never ends for us */
	s->body_left -= n;
	if (s->body_left == 0)
		request_end(f);
}

enum http_result http_scan_feed(struct http_scan *s, const uint8_t *data, uint32_t len,
				http_event_fn fn, void *ctx)
{
	struct feed f = { .s = s, .fn = fn, .ctx = ctx };
	struct cursor c = cur_make(data, len);
	const uint8_t *b;

	while (s->state < ST_NOT_HTTP && cur_remaining(&c)) {
		switch (s->state) {
		case ST_BODY: body_bytes(&f, &c); break;
		case ST_HEADER: header_bytes(&f, &c); break;
		case ST_VERSION: version_bytes(s, &c); break;
		case ST_METHOD:
			b = cur_take(&c, 1);
			method_byte(&f, *b);
			break;
		default: target_bytes(&f, &c); break;
		}
	}
	if (s->state == ST_NOT_HTTP)
		return HTTP_NOT_HTTP;
	return s->state == ST_STOPPED ? HTTP_STOP : HTTP_MORE;
}
