/* http.h - the Synology Web API names in HTTP requests, read as a stream.
 *
 * The client's bytes are fed as they arrive, in any split. The scanner
 * walks request line, header lines and body one byte at a time, keeping
 * only small fixed buffers (the current name, path segment and header
 * line, and the request target's first bytes for the evidence log), so a
 * request line split over two segments or a form body after 600 bytes of
 * headers costs nothing more. It reports:
 *  - every Web API name ("SYNO." followed by name characters, at a word
 *    boundary) in the request target and in form bodies
 *    (application/x-www-form-urlencoded and multipart/form-data, within
 *    Content-Length, or to the end of the feeds when chunked): api=SYNO.X, api="SYNO.X", api=%22SYNO.X%22, the
 *    path form /webapi/entry.cgi/SYNO.X, and the names inside
 *    SYNO.Entry.Request's compound= (raw or percent-encoded JSON);
 *  - the directory after /webapi/ (a legacy CGI directory such as
 *    DownloadStation) and the package id after /webman/3rdparty/;
 *  - each request line (with the target's first HTTP_URI_MAX bytes) and
 *    each request's end, so a caller can count requests on keep-alive
 *    connections.
 * Every byte is read through the cursor (cursor.h).
 */
#ifndef DSMFLOW_HTTP_H
#define DSMFLOW_HTTP_H

#include <stddef.h>
#include <stdint.h>

#define HTTP_NAME_MAX 96	/* longer names and path segments are ignored */
#define HTTP_URI_MAX 255	/* the request target's bytes kept (the rest is flagged as cut) */
#define HTTP_HEADER_KEEP 64	/* bytes of each header line looked at */

enum http_result {
	HTTP_MORE,	/* consistent so far: feed the next segment */
	HTTP_NOT_HTTP,	/* the stream does not start with an HTTP request line */
	HTTP_STOP,	/* lost track (a malformed request, or a chunked body that is not a
			 * form: the next request cannot be found cheaply): stop feeding */
};

enum http_event {
	HTTP_EV_NAME,		/* a name: kind and text say which */
	HTTP_EV_REQUEST_LINE,	/* a request line ended: text is its target (maybe cut) */
	HTTP_EV_REQUEST_END,	/* a request ended (after its headers and body) */
};

enum http_name_kind {
	HTTP_NAME_API,		/* SYNO.X */
	HTTP_NAME_CGI_DIR,	/* /webapi/<dir>/ */
	HTTP_NAME_PACKAGE_ID,	/* /webman/3rdparty/<id>/ */
};

typedef void (*http_event_fn)(void *ctx, enum http_event ev, enum http_name_kind kind,
			      const char *text, size_t len);

/* The scanner's whole state; http_scan_init() it before the first feed. */
struct http_scan {
	char uri[HTTP_URI_MAX + 1];	/* the current request's target, NUL-terminated */
	uint16_t uri_len;
	uint8_t uri_cut;		/* the target was longer than HTTP_URI_MAX */
	uint32_t requests;		/* request lines seen */
	/* internal to http.c */
	uint8_t state, body_form, chunked, method_len;
	uint8_t pct_left;		/* hex digits of a %XX escape still to skip */
	uint8_t in_query;		/* past the target's '?' */
	uint8_t seg_after;		/* what the previous path segments were */
	uint8_t run_len, seg_len, line_len;
	uint8_t run_over, seg_over;
	uint8_t line_other;		/* the current header line is none that matters */
	uint32_t body_left;
	int64_t content_length;		/* -1: none seen */
	char run[HTTP_NAME_MAX + 1];	/* the current run of name characters */
	char seg[HTTP_NAME_MAX + 1];	/* the current path segment */
	char line[HTTP_HEADER_KEEP];	/* the current header line, lower case */
};

void http_scan_init(struct http_scan *s);

/* Feeds the next len bytes of the client's stream, reporting what it finds
 * through fn. Once it has returned anything but HTTP_MORE, further feeds
 * return the same and read nothing. */
enum http_result http_scan_feed(struct http_scan *s, const uint8_t *data, uint32_t len,
				http_event_fn fn, void *ctx);

/* Whether data starts like an HTTP request: a method and a space (one
 * compare of the first four bytes). */
int http_looks_like_request(const uint8_t *data, uint32_t len);

#endif
