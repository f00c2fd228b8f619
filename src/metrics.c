/* metrics.c - the HTTP endpoint and the snapshot handshake; see metrics.h.
 *
 * Two threads meet here. The scrape (libmicrohttpd's thread) raises
 * `requested` and waits on a condition variable, with the snapshot's lock
 * released while it waits. The packet thread, in metrics_poll(), sees the
 * flag, *tries* the lock (never waits for it), copies the counters, bumps the
 * generation and signals. The scrape then formats the copy under the lock.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <microhttpd.h>

#include "dsmflow/metrics.h"
#include "dsmflow/report.h"

#define SCRAPE_WAIT_MS 2000	/* then serve the last snapshot rather than nothing */

static const char index_page[] =
	"<!DOCTYPE html>\n<html><head><title>dsmflow</title></head><body>\n"
	"<h1>dsmflow</h1>\n<p>Traffic of Synology DSM services, attributed by port catalogue.</p>\n"
	"<p><a href=\"/metrics\">Metrics</a> &middot; <a href=\"/healthz\">Health</a></p>\n"
	"</body></html>\n";

struct metrics_server {
	struct MHD_Daemon *daemon;
	struct sockaddr_storage addr;	/* where it listens; the port as bound */
	const struct catalog *cat;
	const struct port_index *idx;
	pthread_mutex_t lock;
	pthread_cond_t published;
	atomic_int requested;
	/* under lock: */
	uint64_t generation;
	int has_snapshot;
	struct counters *snapshot;
	size_t active_flows;
	uint64_t evicted_flows, evicted_unanswered_flows;
	struct capture_stats capture;
	struct inspect_stats inspect;
	struct dns_table_stats dns;
	uint64_t output_errors;
};

/* ---- the packet thread's side ---- */

int metrics_wanted(const struct metrics_server *m)
{
	return m && atomic_load_explicit(&m->requested, memory_order_acquire);
}

void metrics_poll(struct metrics_server *m, const struct engine *e,
		  const struct capture_stats *capture)
{
	if (!metrics_wanted(m))
		return;
	if (pthread_mutex_trylock(&m->lock) != 0)
		return;	/* a scrape is formatting the last copy: next time */
	counters_copy(m->snapshot, engine_counters(e));
	m->active_flows = engine_active_flows(e);
	m->evicted_flows = engine_evicted_flows(e);
	m->evicted_unanswered_flows = engine_evicted_unanswered_flows(e);
	m->capture = *capture;
	engine_inspect_stats(e, &m->inspect);
	engine_dns_stats(e, &m->dns);
	m->output_errors = engine_output_errors(e);
	m->has_snapshot = 1;
	m->generation++;
	atomic_store_explicit(&m->requested, 0, memory_order_release);
	pthread_cond_broadcast(&m->published);
	pthread_mutex_unlock(&m->lock);
}

/* ---- the scrape's side ---- */

/* Waits (lock held) for a snapshot newer than the one present. */
static void wait_for_snapshot(struct metrics_server *m)
{
	uint64_t before = m->generation;
	struct timespec deadline;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += SCRAPE_WAIT_MS / 1000;
	deadline.tv_nsec += (SCRAPE_WAIT_MS % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	atomic_store_explicit(&m->requested, 1, memory_order_release);
	while (m->generation == before)
		if (pthread_cond_timedwait(&m->published, &m->lock, &deadline) != 0)
			break;
}

/* The exposition text of a fresh snapshot, malloc'ed; NULL if none. */
static char *format_metrics(struct metrics_server *m, size_t *len)
{
	char *text = NULL;
	FILE *out;

	pthread_mutex_lock(&m->lock);
	wait_for_snapshot(m);
	out = m->has_snapshot ? open_memstream(&text, len) : NULL;
	if (out) {
		struct report_input in = {
			.cat = m->cat, .idx = m->idx, .counters = m->snapshot,
			.active_flows = m->active_flows, .evicted_flows = m->evicted_flows,
			.evicted_unanswered_flows = m->evicted_unanswered_flows,
			.capture = &m->capture, .inspect = &m->inspect, .dns = &m->dns,
			.output_errors = m->output_errors,
		};

		report_write(REPORT_PROMETHEUS, &in, out);
		fclose(out);
	}
	pthread_mutex_unlock(&m->lock);
	return text;
}

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status, const char *type,
			       void *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
	enum MHD_Result rc;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	rc = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result respond_text(struct MHD_Connection *conn, unsigned status, const char *text)
{
	return respond(conn, status, "text/plain; charset=utf-8", (void *)text, strlen(text),
		       MHD_RESPMEM_PERSISTENT);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **con_cls)
{
	struct metrics_server *m = cls;
	size_t len = 0;
	char *text;

	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)con_cls;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return respond_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
	if (strcmp(url, "/healthz") == 0)
		return respond_text(conn, MHD_HTTP_OK, "ok\n");
	if (strcmp(url, "/") == 0)
		return respond(conn, MHD_HTTP_OK, "text/html; charset=utf-8", (void *)index_page,
			       sizeof(index_page) - 1, MHD_RESPMEM_PERSISTENT);
	if (strcmp(url, "/metrics") != 0)
		return respond_text(conn, MHD_HTTP_NOT_FOUND, "not found: try /metrics\n");
	text = format_metrics(m, &len);
	if (!text)
		return respond_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "no counters yet\n");
	return respond(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", text, len,
		       MHD_RESPMEM_MUST_FREE);
}

/* ---- the listening address ---- */

static int parse_port(const char *text, uint16_t *port)
{
	char *end;
	unsigned long v = strtoul(text, &end, 10);

	if (!*text || *end || v > 65535 || text[0] < '0' || text[0] > '9')
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/* Fills addr from spec; returns its length, or 0 when spec is not valid. */
static socklen_t parse_listen(const char *spec, struct sockaddr_storage *addr, int *loopback)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)addr;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)addr;
	const char *colon = strrchr(spec, ':');
	char host[64] = "127.0.0.1";
	uint16_t port;
	size_t n;

	memset(addr, 0, sizeof(*addr));
	if (parse_port(colon ? colon + 1 : spec, &port))
		return 0;
	n = colon ? (size_t)(colon - spec) : 0;
	if (n >= 2 && spec[0] == '[' && spec[n - 1] == ']') {
		spec++;
		n -= 2;
	}
	if (n >= sizeof(host))
		return 0;
	if (n > 0) {
		memcpy(host, spec, n);
		host[n] = '\0';
	}
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(port);
		*loopback = (ntohl(in4->sin_addr.s_addr) >> 24) == 127;
		return sizeof(*in4);
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		*loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
		return sizeof(*in6);
	}
	return 0;
}

static int init_sync(struct metrics_server *m)
{
	pthread_condattr_t attr;
	int rc;

	if (pthread_condattr_init(&attr))
		return -1;
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	rc = pthread_cond_init(&m->published, &attr);
	pthread_condattr_destroy(&attr);
	return rc || pthread_mutex_init(&m->lock, NULL) ? -1 : 0;
}

/* Parses and vets spec into addr; 0 or -1 with err filled. */
static int listen_address(const char *spec, int allow_public, struct sockaddr_storage *addr,
			  struct dsm_err *err)
{
	int loopback = 0;

	if (!parse_listen(spec, addr, &loopback)) {
		dsm_err_set(err, "--metrics '%s': expected PORT, ADDR:PORT or [IPV6]:PORT", spec);
		return -1;
	}
	if (!loopback && !allow_public) {
		dsm_err_set(err, "--metrics '%s': not a loopback address; add --metrics-public to "
				 "serve the counters to the network", spec);
		return -1;
	}
	return 0;
}

int metrics_check_spec(const char *spec, int allow_public, struct dsm_err *err)
{
	struct sockaddr_storage addr;

	return listen_address(spec, allow_public, &addr, err);
}

struct metrics_server *metrics_start(const char *spec, int allow_public, const struct catalog *cat,
				     const struct port_index *idx, struct dsm_err *err)
{
	struct sockaddr_storage addr;
	struct metrics_server *m;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
	const union MHD_DaemonInfo *info;

	if (listen_address(spec, allow_public, &addr, err))
		return NULL;
	m = calloc(1, sizeof(*m));
	if (!m || init_sync(m) ||
	    !(m->snapshot = counters_new(catalog_service_count(cat), port_index_set_count(idx)))) {
		dsm_err_set(err, "--metrics: out of memory");
		free(m);
		return NULL;
	}
	m->cat = cat;
	m->idx = idx;
	if (addr.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	m->daemon = MHD_start_daemon(flags, 0, NULL, NULL, handle, m, MHD_OPTION_SOCK_ADDR,
				     (struct sockaddr *)&addr, MHD_OPTION_CONNECTION_TIMEOUT, 10u,
				     MHD_OPTION_END);
	if (!m->daemon) {
		dsm_err_set(err, "--metrics '%s': cannot listen there (address in use or not local?)",
			    spec);
		metrics_stop(m);
		return NULL;
	}
	info = MHD_get_daemon_info(m->daemon, MHD_DAEMON_INFO_BIND_PORT);
	m->addr = addr;
	if (info && addr.ss_family == AF_INET)
		((struct sockaddr_in *)&m->addr)->sin_port = htons(info->port);
	else if (info)
		((struct sockaddr_in6 *)&m->addr)->sin6_port = htons(info->port);
	return m;
}

const char *metrics_url(const struct metrics_server *m, char *buf, size_t size)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (m->addr.ss_family == AF_INET) {
		const struct sockaddr_in *in4 = (const struct sockaddr_in *)&m->addr;

		inet_ntop(AF_INET, &in4->sin_addr, host, sizeof(host));
		snprintf(buf, size, "http://%s:%u/metrics", host, ntohs(in4->sin_port));
	} else {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&m->addr;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(buf, size, "http://[%s]:%u/metrics", host, ntohs(in6->sin6_port));
	}
	return buf;
}

void metrics_stop(struct metrics_server *m)
{
	if (!m)
		return;
	if (m->daemon)
		MHD_stop_daemon(m->daemon);
	counters_free(m->snapshot);
	pthread_cond_destroy(&m->published);
	pthread_mutex_destroy(&m->lock);
	free(m);
}
