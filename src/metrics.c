/* metrics.c - the HTTP endpoint and the snapshot handshake; see metrics.h.
 *
 * Two threads meet here. The packet thread, in metrics_poll(), publishes a
 * snapshot of the counters when a scrape asks for one (`requested`) and,
 * while scrapes keep coming, every SNAPSHOT_EVERY_MS: it *tries* the lock
 * (never waits for it), copies the counters, bumps the generation and
 * signals. A scrape (libmicrohttpd's thread) serves the exposition text of
 * the latest snapshot, formatted once per generation, when that snapshot is
 * younger than FRESH_MS; otherwise it raises `requested` and waits for a new
 * one. So a scrape after a quiet while sees the counters of now, and many
 * scrapes at once neither wait nor format again.
 *
 * libmicrohttpd polls with epoll (no FD_SETSIZE cap), holds at most
 * MAX_CONNECTIONS connections and MAX_PER_ADDRESS from one address, and
 * drops a connection idle for IDLE_TIMEOUT_S: slow clients cannot lock the
 * endpoint up. Refused connections are counted and said at most once per
 * REFUSAL_NOTE_S.
 *
 * A sensor with --nas also serves its audit, /audit.json and / (the web
 * page), the same way: a request raises `audit_requested`; the packet
 * thread, between packets, copies the audit with the active flows folded
 * in and publishes the copy; requests format it (once per copy and format,
 * on their thread) and serve it while it is younger than AUDIT_FRESH_MS, so
 * the packet thread copies at most once a second however many ask.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "dsmflow/audit.h"
#include "dsmflow/decimal.h"
#include "dsmflow/metrics.h"
#include "dsmflow/parallel.h"
#include "dsmflow/report.h"

#define SCRAPE_WAIT_MS 2000	/* then serve the last snapshot rather than nothing */
#define FRESH_MS 250		/* a snapshot this young is served as it is */
#define SNAPSHOT_EVERY_MS 50	/* while scrapes come, a snapshot this often */
#define SCRAPED_LATELY_MS 5000	/* "while scrapes come" */
#define AUDIT_FRESH_MS 1000	/* an audit this young is served as it is */
#define MAX_CONNECTIONS 512u
#define MAX_PER_ADDRESS 64u	/* a Prometheus and a few tools; not a flood from one host */
#define IDLE_TIMEOUT_S 5u
#define REFUSAL_NOTE_S 10	/* refusals are said at most this often */
#define ADDRESS_SLOTS 1024	/* open connections per address, for the per-address limit */

static const char index_page[] =
	"<!DOCTYPE html>\n<html><head><title>dsmflow</title></head><body>\n"
	"<h1>dsmflow</h1>\n<p>Traffic of Synology DSM services, attributed by port catalogue.</p>\n"
	"<p><a href=\"/metrics\">Metrics</a> &middot; <a href=\"/healthz\">Health</a></p>\n"
	"</body></html>\n";

struct metrics_server {
	struct MHD_Daemon *daemon;
	int listen_fd;			/* bound, until the daemon takes it */
	struct sockaddr_storage addr;	/* where it listens; the port as bound */
	const struct catalog *cat;
	const struct port_index *idx;
	pthread_mutex_t lock;
	pthread_cond_t published;
	atomic_int requested;
	atomic_uint_fast64_t snapshot_ms;	/* when the latest snapshot was taken */
	atomic_uint_fast64_t scraped_ms;	/* when a scrape last came */
	atomic_uint_fast64_t refused;		/* connections refused (limits) */
	atomic_uint_fast64_t refusals_said;	/* of them, the ones already said */
	atomic_uint_fast64_t refusal_note_ms;	/* when they were last said */
	/* under lock: */
	uint64_t generation;
	int has_snapshot;
	struct counters *snapshot;
	struct engine_figures figures;
	struct capture_stats capture;
	struct capture_stats per_worker[PARALLEL_MAX_WORKERS];	/* a sensor's capture threads' */
	size_t workers;
	/* open connections per client address (libmicrohttpd's thread only) */
	struct { uint8_t addr[16]; uint32_t open; } by_address[ADDRESS_SLOTS];
	char *text;			/* the exposition of generation text_generation */
	size_t text_len;
	uint64_t text_generation;
	/* the audit (a sensor with --nas): requested by /audit.json and / */
	atomic_int audit_requested;
	atomic_int auditing;		/* the engine has an audit: / is its page */
	struct audit *audit;		/* the latest snapshot; under lock */
	char *audit_text[2];		/* [0] JSON, [1] the web page, of it; under lock */
	size_t audit_len[2];
	struct audit *audit_pending;	/* taken, not yet published (packet thread) */
	uint64_t audit_ms, audit_generation;	/* under lock */
};

static uint64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- the packet thread's side ---- */

/* Whether the counters' snapshot is due: asked for, or scrapes came lately
 * and the last is SNAPSHOT_EVERY_MS old. */
static int counters_due(const struct metrics_server *m)
{
	uint64_t now;

	if (atomic_load_explicit(&m->requested, memory_order_acquire))
		return 1;
	now = monotonic_ms();
	return now - atomic_load(&m->scraped_ms) < SCRAPED_LATELY_MS &&
	       now - atomic_load(&m->snapshot_ms) >= SNAPSHOT_EVERY_MS;
}

int metrics_wanted(const struct metrics_server *m)
{
	return m && (atomic_load_explicit(&m->audit_requested, memory_order_acquire) || counters_due(m));
}

/* The audit so far, published when the lock is free (a scrape holding it
 * is never waited for: the copy waits in audit_pending for the next try);
 * the requests format it, on their thread. */
static void publish_audit(struct metrics_server *m, struct engine *const *engines, size_t count)
{
	if (!m->audit_pending && (m->audit_pending = engine_audit_snapshot(engines[0])))
		for (size_t i = 1; i < count; i++)
			engine_audit_fold(engines[i], m->audit_pending);
	if (pthread_mutex_trylock(&m->lock) != 0)
		return;
	audit_free(m->audit);
	m->audit = m->audit_pending;
	m->audit_pending = NULL;
	for (int i = 0; i < 2; i++) {
		free(m->audit_text[i]);
		m->audit_text[i] = NULL;
	}
	m->audit_ms = monotonic_ms();
	m->audit_generation++;
	atomic_store_explicit(&m->audit_requested, 0, memory_order_release);
	pthread_cond_broadcast(&m->published);
	pthread_mutex_unlock(&m->lock);
}

void metrics_poll(struct metrics_server *m, struct engine *const *engines, size_t count,
		  const struct capture_stats *capture, const struct capture_stats *per_worker)
{
	if (m && !atomic_load(&m->auditing) && engine_audits(engines[0]))
		atomic_store(&m->auditing, 1);	/* before any request: / and /audit.json are the audit's */
	if (!metrics_wanted(m))
		return;
	if (atomic_load_explicit(&m->audit_requested, memory_order_acquire))
		publish_audit(m, engines, count);
	if (!counters_due(m))
		return;	/* only the audit was asked for */
	if (pthread_mutex_trylock(&m->lock) != 0)
		return;	/* a scrape is formatting the last copy: next time */
	if (engine_figures(engines, count, m->snapshot, &m->figures)) {
		pthread_mutex_unlock(&m->lock);	/* a row without memory: a partial sum could
						 * go down; the last snapshot is served */
		return;
	}
	m->capture = *capture;
	m->workers = per_worker && count > 1 ? count : 0;
	if (m->workers)
		memcpy(m->per_worker, per_worker, count * sizeof(*per_worker));
	m->has_snapshot = 1;
	m->generation++;
	atomic_store(&m->snapshot_ms, monotonic_ms());
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

/* Formats the snapshot into m->text, once per generation (lock held). */
static void format_snapshot(struct metrics_server *m)
{
	struct report_input in = {
		.cat = m->cat, .idx = m->idx, .counters = m->snapshot,
		.active_flows = m->figures.active_flows, .evicted_flows = m->figures.evicted_flows,
		.evicted_unanswered_flows = m->figures.evicted_unanswered_flows,
		.capture = &m->capture, .per_worker = m->per_worker, .workers = m->workers,
		.inspect = &m->figures.inspect, .dns = &m->figures.dns,
		.output_errors = m->figures.output_errors, .http_refused = atomic_load(&m->refused),
		.reload = &m->figures.reload,
	};
	char *text = NULL;
	size_t len = 0;
	FILE *out;

	if (m->text && m->text_generation == m->generation)
		return;
	out = open_memstream(&text, &len);
	if (!out)
		return;
	report_write(REPORT_PROMETHEUS, &in, out);
	if (fclose(out) != 0) {
		free(text);
		return;
	}
	free(m->text);
	m->text = text;
	m->text_len = len;
	m->text_generation = m->generation;
}

/* A copy of the exposition text of a fresh enough snapshot, malloc'ed;
 * NULL if there is none. */
static char *format_metrics(struct metrics_server *m, size_t *len)
{
	uint64_t now = monotonic_ms();
	char *copy = NULL;

	atomic_store(&m->scraped_ms, now);
	pthread_mutex_lock(&m->lock);
	if (!m->has_snapshot || now - atomic_load(&m->snapshot_ms) > FRESH_MS)
		wait_for_snapshot(m);
	if (m->has_snapshot)
		format_snapshot(m);
	if (m->text && (copy = malloc(m->text_len ? m->text_len : 1))) {
		memcpy(copy, m->text, m->text_len);
		*len = m->text_len;
	}
	pthread_mutex_unlock(&m->lock);
	return copy;
}

/* A copy of the audit text (0: JSON, 1: the page) younger than
 * AUDIT_FRESH_MS, asking the packet thread for one when there is none;
 * NULL if none came within SCRAPE_WAIT_MS. */
static char *format_audit(struct metrics_server *m, int page, size_t *len)
{
	struct timespec deadline;
	char *copy = NULL;
	uint64_t before;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += SCRAPE_WAIT_MS / 1000;
	deadline.tv_nsec += (SCRAPE_WAIT_MS % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&m->lock);
	before = m->audit_generation;
	if (!m->audit || monotonic_ms() - m->audit_ms > AUDIT_FRESH_MS) {
		atomic_store_explicit(&m->audit_requested, 1, memory_order_release);
		while (m->audit_generation == before)
			if (pthread_cond_timedwait(&m->published, &m->lock, &deadline) != 0)
				break;
	}
	if (m->audit && !m->audit_text[page]) {	/* formatted once per snapshot and format */
		FILE *out = open_memstream(&m->audit_text[page], &m->audit_len[page]);

		if (out) {
			audit_write(m->audit, page ? AUDIT_HTML : AUDIT_JSON, m->cat, m->idx, out);
			fclose(out);
		}
	}
	if (m->audit_text[page] && (copy = malloc(m->audit_len[page] + 1))) {
		memcpy(copy, m->audit_text[page], m->audit_len[page]);
		*len = m->audit_len[page];
	}
	pthread_mutex_unlock(&m->lock);
	return copy;
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
	if ((strcmp(url, "/") == 0 || strcmp(url, "/audit.json") == 0) && atomic_load(&m->auditing)) {
		int page = strcmp(url, "/") == 0;

		if (!(text = format_audit(m, page, &len)))
			return respond_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "no audit yet\n");
		return respond(conn, MHD_HTTP_OK, page ? "text/html; charset=utf-8" : "application/json",
			       text, len, MHD_RESPMEM_MUST_FREE);
	}
	if (strcmp(url, "/audit.json") == 0)
		return respond_text(conn, MHD_HTTP_NOT_FOUND, "no audit: start the sensor with --nas\n");
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
	uint64_t v;

	if (decimal_parse(text, strlen(text), UINT16_MAX, &v))
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/* A host name's address (its first IPv4 one, else its first IPv6 one) in
 * addr: the family, or 0 when it has none. Called before the sensor is
 * confined: the resolver may open files and sockets. */
static int resolve(const char *host, struct sockaddr_storage *addr)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *found = NULL, *pick = NULL;

	if (getaddrinfo(host, NULL, &hints, &found) != 0)
		return 0;
	for (struct addrinfo *a = found; a; a = a->ai_next)
		if (!pick || (a->ai_family == AF_INET && pick->ai_family != AF_INET))
			pick = a;
	if (pick && (pick->ai_family == AF_INET || pick->ai_family == AF_INET6))
		memcpy(addr, pick->ai_addr, pick->ai_addrlen);
	freeaddrinfo(found);
	return addr->ss_family;
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
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1 || resolve(host, addr) == AF_INET) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(port);
		*loopback = (ntohl(in4->sin_addr.s_addr) >> 24) == 127;
		return sizeof(*in4);
	}
	if (addr->ss_family == AF_INET6 || inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
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
		dsm_err_set(err, "--metrics '%s': expected PORT, ADDR:PORT, HOST:PORT (a name that "
				 "resolves) or [IPV6]:PORT", spec);
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

/* Counts a refused connection, and says so at most once per REFUSAL_NOTE_S,
 * with how many since. */
static void count_refusal(struct metrics_server *m)
{
	uint64_t now, refused;

	refused = atomic_fetch_add(&m->refused, 1) + 1;
	now = monotonic_ms();
	if (now - atomic_load(&m->refusal_note_ms) < REFUSAL_NOTE_S * 1000u)
		return;
	atomic_store(&m->refusal_note_ms, now);
	fprintf(stderr, "dsmflow: metrics endpoint: %llu connections refused (at most %u open, %u "
			"from one address)\n",
		(unsigned long long)(refused - atomic_exchange(&m->refusals_said, refused)),
		MAX_CONNECTIONS, MAX_PER_ADDRESS);
}

/* libmicrohttpd's messages: a refusal at its connection limit is counted;
 * others go to stderr. */
__attribute__((format(printf, 2, 0)))
static void on_mhd_message(void *cls, const char *fmt, va_list ap)
{
	if (strstr(fmt, "connection limit")) {
		count_refusal(cls);
		return;
	}
	fputs("dsmflow: metrics endpoint: ", stderr);
	vfprintf(stderr, fmt, ap);
}

/* The address of a client as 16 bytes (IPv4 mapped), for the per-address count. */
static void address_key(const struct sockaddr *sa, uint8_t key[16])
{
	memset(key, 0, 16);
	if (sa->sa_family == AF_INET) {
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		memcpy(key, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	}
}

/* The count of open connections from key: its slot, or a free one taken
 * for it (NULL when every slot holds another address: then no
 * per-address limit). A slot is free when its count is 0; the table is
 * small and read once per connection, so it is simply scanned. */
static uint32_t *open_from(struct metrics_server *m, const uint8_t key[16])
{
	int free_slot = -1;

	for (int s = 0; s < ADDRESS_SLOTS; s++) {
		if (!m->by_address[s].open) {
			if (free_slot < 0)
				free_slot = s;
		} else if (memcmp(m->by_address[s].addr, key, 16) == 0) {
			return &m->by_address[s].open;
		}
	}
	if (free_slot < 0)
		return NULL;
	memcpy(m->by_address[free_slot].addr, key, 16);
	return &m->by_address[free_slot].open;
}

/* Accepts a connection unless its address already holds MAX_PER_ADDRESS. */
static enum MHD_Result accept_policy(void *cls, const struct sockaddr *addr, socklen_t len)
{
	struct metrics_server *m = cls;
	uint8_t key[16];
	uint32_t *open;

	(void)len;
	address_key(addr, key);
	open = open_from(m, key);
	if (open && *open >= MAX_PER_ADDRESS) {
		count_refusal(m);
		return MHD_NO;
	}
	return MHD_YES;
}

/* Keeps the per-address counts of open connections. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct metrics_server *m = cls;
	const union MHD_ConnectionInfo *info =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	uint8_t key[16];
	uint32_t *open;

	(void)socket_context;
	if (!info || !info->client_addr)
		return;
	address_key(info->client_addr, key);
	open = open_from(m, key);
	if (!open)
		return;
	if (code == MHD_CONNECTION_NOTIFY_STARTED)
		(*open)++;
	else if (*open)
		(*open)--;
}

/* The listening socket, bound (before privileges are dropped: a port
 * below 1024 needs them); -1 with err filled. */
static int open_listener(const char *spec, struct sockaddr_storage *addr, struct dsm_err *err)
{
	socklen_t len = addr->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
						    : sizeof(struct sockaddr_in);
	int fd = socket(addr->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int on = 1;

	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) ||
	    (addr->ss_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on))) ||
	    bind(fd, (struct sockaddr *)addr, len) || listen(fd, SOMAXCONN) ||
	    getsockname(fd, (struct sockaddr *)addr, &len)) {	/* the real port for :0 */
		dsm_err_set(err, "--metrics '%s': cannot listen there: %s", spec, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

struct metrics_server *metrics_listen(const char *spec, int allow_public, const struct catalog *cat,
				      const struct port_index *idx, struct dsm_err *err)
{
	struct sockaddr_storage addr;
	struct metrics_server *m;

	if (listen_address(spec, allow_public, &addr, err))
		return NULL;
	m = calloc(1, sizeof(*m));
	if (!m || init_sync(m) ||
	    !(m->snapshot = counters_new(catalog_service_count(cat), port_index_set_count(idx)))) {
		dsm_err_set(err, "--metrics: out of memory");
		free(m);
		return NULL;
	}
	m->listen_fd = -1;
	m->cat = cat;
	m->idx = idx;
	m->addr = addr;
	if ((m->listen_fd = open_listener(spec, &m->addr, err)) < 0) {
		metrics_stop(m);
		return NULL;
	}
	return m;
}

int metrics_serve(struct metrics_server *m, struct dsm_err *err)
{
	unsigned flags = MHD_USE_ERROR_LOG | (MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES
					      ? MHD_USE_EPOLL_INTERNAL_THREAD
					      : MHD_USE_POLL_INTERNAL_THREAD);

	sigset_t all, old;

	if (m->addr.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	/* the endpoint's thread takes no signal: they are the packet
	 * thread's, whose wait they cut short */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	m->daemon = MHD_start_daemon(flags, 0, accept_policy, m, handle, m,
				     MHD_OPTION_EXTERNAL_LOGGER, on_mhd_message, m,	/* first */
				     MHD_OPTION_LISTEN_SOCKET, m->listen_fd,
				     MHD_OPTION_CONNECTION_TIMEOUT, IDLE_TIMEOUT_S,
				     MHD_OPTION_CONNECTION_LIMIT, MAX_CONNECTIONS,
				     MHD_OPTION_NOTIFY_CONNECTION, on_connection, m, MHD_OPTION_END);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!m->daemon) {
		dsm_err_set(err, "--metrics: cannot start the endpoint's thread");
		return -1;
	}
	m->listen_fd = -1;	/* the daemon's now: it closes it */
	return 0;
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

void metrics_retarget(struct metrics_server *m, const struct catalog *cat,
		      const struct port_index *idx, struct counters *snapshot)
{
	struct counters *old;

	pthread_mutex_lock(&m->lock);
	old = m->snapshot;
	m->snapshot = snapshot;
	m->cat = cat;
	m->idx = idx;
	m->has_snapshot = 0;	/* the next scrape waits for one of the new size */
	free(m->text);
	m->text = NULL;
	pthread_mutex_unlock(&m->lock);
	counters_free(old);
}

void metrics_stop(struct metrics_server *m)
{
	if (!m)
		return;
	if (m->daemon)
		MHD_stop_daemon(m->daemon);
	else if (m->listen_fd >= 0)
		close(m->listen_fd);
	counters_free(m->snapshot);
	free(m->text);
	for (int i = 0; i < 2; i++)
		free(m->audit_text[i]);
	audit_free(m->audit);
	audit_free(m->audit_pending);
	pthread_cond_destroy(&m->published);
	pthread_mutex_destroy(&m->lock);
	free(m);
}
