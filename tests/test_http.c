/* test_http.c - the streaming HTTP request scanner: every place DSM
 * clients put a Web API name, keep-alive, bodies, and that any split of
 * the stream (down to one byte at a time) reports exactly the same. Each
 * chunk is fed flush against a PROT_NONE page, so a read past it faults. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "dsmflow/http.h"
#include "guard.h"

/* What the scanner reported, one line per event. */
struct record {
	char text[8192];
	size_t len;
	unsigned names, requests, ends;
};

static void on_event(void *ctx, enum http_event ev, enum http_name_kind kind, const char *text,
		     size_t len)
{
	static const char *const kinds[] = { "api", "cgi", "pkg" };
	struct record *r = ctx;
	int n;

	if (ev == HTTP_EV_REQUEST_END) {
		r->ends++;
		n = snprintf(r->text + r->len, sizeof(r->text) - r->len, "end\n");
	} else if (ev == HTTP_EV_REQUEST_LINE) {
		r->requests++;
		n = snprintf(r->text + r->len, sizeof(r->text) - r->len, "line %.*s\n", (int)len, text);
	} else {
		r->names++;
		assert_int_equal(strlen(text), len);	/* NUL-terminated at len */
		n = snprintf(r->text + r->len, sizeof(r->text) - r->len, "%s %.*s\n", kinds[kind],
			     (int)len, text);
	}
	assert_true(n > 0 && (size_t)n < sizeof(r->text) - r->len);
	r->len += (size_t)n;
}

/* Feeds text[0..len) in chunks of at most chunk bytes, each against the guard. */
static enum http_result scan_chunked(const char *text, size_t len, size_t chunk, struct record *r)
{
	struct http_scan s;
	enum http_result res = HTTP_MORE;

	memset(r, 0, sizeof(*r));
	http_scan_init(&s);
	for (size_t off = 0; off < len; off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;

		res = http_scan_feed(&s, guard_place(text + off, n), (uint32_t)n, on_event, r);
	}
	return res;
}

static enum http_result scan(const char *text, struct record *r)
{
	return scan_chunked(text, strlen(text), GUARD_ROOM, r);
}

static void test_query_string_names(void **state)
{
	struct record r;

	(void)state;
	assert_int_equal(scan("GET /webapi/entry.cgi?api=SYNO.FileStation.List&version=2&method=list_share"
			      "&_sid=S HTTP/1.1\r\nHost: nas:5000\r\n\r\n", &r), HTTP_MORE);
	assert_string_equal(r.text, "api SYNO.FileStation.List\n"
				    "line /webapi/entry.cgi?api=SYNO.FileStation.List&version=2&method=list_share&_sid=S\n"
				    "end\n");
}

static void test_path_and_legacy_directories(void **state)
{
	struct record r;

	(void)state;
	scan("GET /webapi/entry.cgi/SYNO.API.Auth.UIConfig HTTP/1.1\r\n\r\n"
	     "GET /photo/webapi/entry.cgi/SYNO.Foto.Browse.Album?x=1 HTTP/1.1\r\n\r\n"
	     "GET /webapi/DownloadStation/task.cgi?api=SYNO.DownloadStation.Task HTTP/1.1\r\n\r\n"
	     "GET /webman/3rdparty/HyperBackup/index.html HTTP/1.1\r\n\r\n"
	     "GET /d/s/abc/webapi/entry.cgi/SYNO.SynologyDrive.Files/x HTTP/1.1\r\n\r\n", &r);
	assert_non_null(strstr(r.text, "api SYNO.API.Auth.UIConfig\n"));
	assert_non_null(strstr(r.text, "api SYNO.Foto.Browse.Album\n"));
	assert_non_null(strstr(r.text, "cgi DownloadStation\napi SYNO.DownloadStation.Task\n"));
	assert_non_null(strstr(r.text, "pkg HyperBackup\n"));
	assert_non_null(strstr(r.text, "api SYNO.SynologyDrive.Files\n"));
	/* entry.cgi after /webapi/ is not followed by '/' on its own... except in the path form */
	assert_non_null(strstr(r.text, "cgi entry.cgi\n"));
	assert_null(strstr(r.text, "cgi task.cgi"));
	assert_null(strstr(r.text, "pkg index.html"));
	assert_int_equal(r.requests, 5);
	assert_int_equal(r.ends, 5);
}

static void test_quoted_and_compound_names(void **state)
{
	struct record r;

	(void)state;
	scan("GET /x?api=%22SYNO.Photo.Browse.Item%22&method=%22list%22 HTTP/1.1\r\n\r\n"
	     "GET /webapi/entry.cgi?api=SYNO.Entry.Request&compound=%5B%7B%22api%22%3A%22SYNO.Core.System%22%7D"
	     "%2C%7B%22api%22%3A%22SYNO.Backup.Task%22%7D%5D HTTP/1.1\r\n\r\n"
	     "GET /y?compound=[{\"api\":\"SYNO.Chat.Post\"}] HTTP/1.1\r\n\r\n", &r);
	assert_non_null(strstr(r.text, "api SYNO.Photo.Browse.Item\n"));
	assert_non_null(strstr(r.text, "api SYNO.Entry.Request\napi SYNO.Core.System\napi SYNO.Backup.Task\n"));
	assert_non_null(strstr(r.text, "api SYNO.Chat.Post\n"));
	assert_int_equal(r.names, 5);
}

static void test_form_bodies(void **state)
{
	static const char req[] =
		"POST /webapi/entry.cgi HTTP/1.1\r\nHost: nas\r\n"
		"Content-Type: application/x-www-form-urlencoded; charset=UTF-8\r\n"
		"Content-Length: 47\r\n\r\n"
		"api=SYNO.NoteStation.Note&method=create&version"	/* 47 bytes */
		"GET /next?api=SYNO.MailClient.Mail HTTP/1.1\r\n\r\n";
	static const char json[] =
		"POST /webapi/entry.cgi HTTP/1.1\r\nContent-Type: application/json\r\n"
		"content-length: 30\r\n\r\n{\"api\": \"SYNO.Virtualization\"}"
		"POST /u HTTP/1.1\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 58\r\n\r\n"
		"--b\r\ncontent-disposition: form-data; name=\"api\"\r\n\r\nSYNO.Fi";
	struct record r;

	(void)state;
	scan(req, &r);
	assert_string_equal(r.text, "line /webapi/entry.cgi\napi SYNO.NoteStation.Note\nend\n"
				    "api SYNO.MailClient.Mail\nline /next?api=SYNO.MailClient.Mail\nend\n");
	/* a JSON body is not a form: not read; a multipart form is, cut short */
	scan(json, &r);
	assert_null(strstr(r.text, "Virtualization"));
	assert_int_equal(r.requests, 2);
	assert_int_equal(r.ends, 2);
	assert_non_null(strstr(r.text, "api SYNO.Fi\n"));
}

static void test_word_boundaries(void **state)
{
	struct record r;

	(void)state;
	scan("GET /a?x=NOTSYNO.Core.X&y=SYNO.&z=SYNO.Core.Y.&launchApp=SYNO.SDS.App.X HTTP/1.0\r\n\r\n", &r);
	assert_string_equal(r.text, "api SYNO.Core.Y\napi SYNO.SDS.App.X\n"
				    "line /a?x=NOTSYNO.Core.X&y=SYNO.&z=SYNO.Core.Y.&launchApp=SYNO.SDS.App.X\nend\n");
}

static void test_not_http_and_stop(void **state)
{
	struct record r;

	(void)state;
	assert_int_equal(scan("\x16\x03\x01\x02\x00", &r), HTTP_NOT_HTTP);
	assert_int_equal(scan("SSH-2.0-OpenSSH\r\n", &r), HTTP_NOT_HTTP);
	/* a body longer than declared: the next "request" is garbage */
	assert_int_equal(scan("GET / HTTP/1.1\r\nContent-Length: 2\r\n\r\nabcdef", &r), HTTP_STOP);
	assert_int_equal(r.requests, 1);
	assert_true(http_looks_like_request((const uint8_t *)"POST /", 6));
	assert_true(http_looks_like_request((const uint8_t *)"GET /", 5));
	assert_false(http_looks_like_request((const uint8_t *)"GET", 3));
	assert_false(http_looks_like_request((const uint8_t *)"get /", 5));
}

static void test_chunked_bodies(void **state)
{
	struct record r;

	(void)state;
	/* a chunked form is read on (its end is not looked for) */
	assert_int_equal(scan("POST /webapi/entry.cgi HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
			      "Content-Type: application/x-www-form-urlencoded\r\n\r\n"
			      "1a\r\napi=SYNO.Cal.Event&m=1\r\n0\r\n\r\n", &r), HTTP_MORE);
	assert_non_null(strstr(r.text, "api SYNO.Cal.Event\n"));
	assert_int_equal(r.ends, 0);
	/* any other chunked body: the scanner stops, it would not find the next request */
	assert_int_equal(scan("POST /upload HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
			      "5\r\nhello\r\n0\r\n\r\nGET /webapi/entry.cgi?api=SYNO.FileStation.List "
			      "HTTP/1.1\r\n\r\n", &r), HTTP_STOP);
	assert_null(strstr(r.text, "FileStation"));
}

static void test_long_target_is_cut_not_lost(void **state)
{
	char req[1200];
	struct record r;
	int n = snprintf(req, sizeof(req), "GET /webapi/entry.cgi?pad=");

	(void)state;
	memset(req + n, 'a', 700);
	snprintf(req + n + 700, sizeof(req) - (size_t)n - 700, "&api=SYNO.AudioStation.Song HTTP/1.1\r\n\r\n");
	scan(req, &r);
	assert_non_null(strstr(r.text, "api SYNO.AudioStation.Song\n"));
	assert_non_null(strstr(r.text, "line /webapi/entry.cgi?pad=aaaa"));
}

/* Any split, down to one byte at a time, reports what one piece does. */
static void test_every_split_reports_the_same(void **state)
{
	static const char stream[] =
		"POST /webapi/entry.cgi?api=SYNO.API.Auth HTTP/1.1\r\nHost: nas:5000\r\n"
		"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 61\r\n\r\n"
		"api=SYNO.FileStation.List&compound=%5B%22SYNO.Core.Desktop%22"
		"\r\nGET /webapi/AudioStation/song.cgi?api=%22SYNO.AudioStation.Song%22 HTTP/1.1\r\n\r\n";
	struct record whole, part;
	size_t len = strlen(stream);

	(void)state;
	scan_chunked(stream, len, len, &whole);
	assert_int_equal(whole.names, 5);
	for (size_t chunk = 1; chunk < len; chunk++) {
		scan_chunked(stream, len, chunk, &part);
		assert_string_equal(part.text, whole.text);
	}
}

/* Hostile input: random bytes and mutations of a request never fault,
 * and every name reported is a well-formed SYNO. name. */
static void check_names(void *ctx, enum http_event ev, enum http_name_kind kind, const char *text,
			size_t len)
{
	(void)ctx;
	assert_true(len <= HTTP_NAME_MAX || ev == HTTP_EV_REQUEST_LINE);
	if (ev == HTTP_EV_NAME && kind == HTTP_NAME_API)
		assert_memory_equal(text, "SYNO.", 5);
	if (ev == HTTP_EV_REQUEST_LINE)
		assert_true(len <= HTTP_URI_MAX);
}

static void test_mutations_are_survived(void **state)
{
	static const char base[] = "POST /webapi/DownloadStation/task.cgi?api=SYNO.X HTTP/1.1\r\n"
				   "Content-Type: multipart/form-data\r\nContent-Length: 30\r\n\r\n"
				   "api=SYNO.Y%22&z=%2";
	uint8_t buf[sizeof(base)];

	(void)state;
	srand(7);
	for (int i = 0; i < 20000; i++) {
		struct http_scan s;
		size_t len = sizeof(base) - 1, off = 0;

		memcpy(buf, base, len);
		for (int m = rand() % 8; m >= 0; m--)
			buf[(size_t)rand() % len] = (uint8_t)rand();
		http_scan_init(&s);
		while (off < len) {
			size_t n = 1 + (size_t)rand() % (len - off);

			http_scan_feed(&s, guard_place(buf + off, n), (uint32_t)n, check_names, NULL);
			off += n;
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_query_string_names),
		cmocka_unit_test(test_path_and_legacy_directories),
		cmocka_unit_test(test_quoted_and_compound_names),
		cmocka_unit_test(test_form_bodies),
		cmocka_unit_test(test_word_boundaries),
		cmocka_unit_test(test_not_http_and_stop),
		cmocka_unit_test(test_chunked_bodies),
		cmocka_unit_test(test_long_target_is_cut_not_lost),
		cmocka_unit_test(test_every_split_reports_the_same),
		cmocka_unit_test(test_mutations_are_survived),
	};

	return cmocka_run_group_tests(tests, guard_setup, guard_teardown);
}
