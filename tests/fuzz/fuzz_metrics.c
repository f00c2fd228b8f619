/* fuzz_metrics.c - libFuzzer harness for the metrics endpoint's HTTP
 * request handling (libmicrohttpd and metrics.c's handler): the input is
 * what one client sends on a connection to a running endpoint, whose
 * snapshots a thread publishes as the packet loop would. Beyond crashes
 * and sanitizer reports, a finding is an answer that is not an HTTP/1.x
 * status line, or an endpoint that stops answering /healthz (asked every
 * 64 inputs, while the connections of unfinished requests stay open). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dsmflow/engine.h"
#include "dsmflow/metrics.h"

static struct metrics_server *server;
static struct sockaddr_in address;
static unsigned long inputs;

/* The packet loop's part: publish snapshots when asked. */
static void *packet_loop(void *arg)
{
	struct engine *e = arg;
	struct capture_stats stats = { 0 };

	for (;;) {
		metrics_poll(server, &e, 1, &stats, NULL);
		usleep(1000);
	}
	return NULL;
}

static void start(void)
{
	struct engine_config config = { 0 };
	struct catalog *cat;
	struct port_index *idx;
	struct engine *e;
	struct dsm_err err;
	pthread_t thread;
	char url[128];
	unsigned port;

	cat = catalog_load_embedded(&err);
	idx = cat ? port_index_build(cat, &err) : NULL;
	flow_table_default_config(&config.flows);
	e = idx ? engine_new(cat, idx, &config, &err) : NULL;
	server = e ? metrics_listen("127.0.0.1:0", 0, cat, idx, &err) : NULL;
	if (!server || metrics_serve(server, &err) || sscanf(metrics_url(server, url, sizeof(url)), "http://127.0.0.1:%u", &port) != 1)
		abort();
	address.sin_family = AF_INET;
	address.sin_port = htons((uint16_t)port);
	address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (pthread_create(&thread, NULL, packet_loop, e))
		abort();
}

/* Sends request, closes the sending side, reads the answer (at most size
 * bytes kept) until the endpoint closes or is quiet for wait_ms (an
 * unfinished request is left to the endpoint's idle timeout: libmicrohttpd
 * waits for the rest even after the client's half-close); returns its
 * length. */
static size_t exchange(const void *request, size_t len, char *answer, size_t size, int wait_ms)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	size_t got = 0;
	char sink[4096];

	if (fd < 0 || connect(fd, (struct sockaddr *)&address, sizeof(address)) != 0)
		abort();
	if (len && send(fd, request, len, MSG_NOSIGNAL) < 0) {
		close(fd);	/* the endpoint closed first: it may, on garbage */
		return 0;
	}
	shutdown(fd, SHUT_WR);
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, wait_ms) <= 0)
			break;
		n = recv(fd, got < size ? answer + got : sink, got < size ? size - got : sizeof(sink), 0);
		if (n <= 0)
			break;
		if (got < size)
			got += (size_t)n;
	}
	close(fd);
	return got;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char healthz[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	char answer[256];
	size_t got;

	if (!server)
		start();
	got = exchange(data, size, answer, sizeof(answer) - 1, 300);
	answer[got] = 0;
	if (got && (strncmp(answer, "HTTP/1.", 7) != 0 || got < 12 || answer[8] != ' '))
		abort();
	if (++inputs % 64 == 0) {
		got = exchange(healthz, sizeof(healthz) - 1, answer, sizeof(answer) - 1, 5000);
		answer[got] = 0;
		if (strncmp(answer, "HTTP/1.1 200", 12) != 0)
			abort();
	}
	return 0;
}
