/* test_engine.c - the packet path on hand-built packets: which side serves
 * (SYN, --nas, catalogue, lower port), attribution and its narrowing by
 * role, FTP and TFTP announcements, fragments, timeouts, eviction, reuse of a
 * closed 5-tuple, payload evidence (Web API names, TLS server names, DNS
 * answers) and the pending flows it needs, and that every packet is counted
 * exactly once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>
#include <pcap/dlt.h>

#include "dsmflow/capture.h"
#include "dsmflow/engine.h"
#include "dsmflow/inspect.h"
#include "pktbuild.h"

#define SEC 1000000ull

static const uint8_t nas[4] = { 192, 168, 1, 10 }, pc[4] = { 192, 168, 1, 20 };
static const uint8_t pc2[4] = { 192, 168, 1, 21 }, esxi[4] = { 192, 168, 1, 50 };
static const uint8_t router[4] = { 192, 168, 1, 1 };

struct fixture {
	struct catalog *cat;
	struct port_index *idx;
	struct webapi_table *api;
	struct engine *engine;
	char *log;
	size_t log_len;
	FILE *log_file;
	uint64_t now;
};

static struct fixture *fixture_with(const char *nas_cidr, size_t max_flows, uint64_t udp_timeout_s,
				     size_t inspect_slots)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct engine_config config = { 0 };
	static struct cidr prefix;
	struct dsm_err err;

	f->cat = catalog_load_embedded(&err);
	f->api = webapi_load_embedded(&err);
	assert_int_equal(webapi_bind(f->api, f->cat, &err), 0);
	f->idx = port_index_build(f->cat, &err);
	f->log_file = open_memstream(&f->log, &f->log_len);
	flow_table_default_config(&config.flows);
	config.flows.max_flows = max_flows;
	if (udp_timeout_s)
		config.flows.timeout_us[FLOW_UDP] = udp_timeout_s * SEC;
	if (nas_cidr) {
		assert_int_equal(cidr_parse(nas_cidr, &prefix, &err), 0);
		config.nas = &prefix;
		config.nas_count = 1;
	}
	config.flow_log = f->log_file;
	config.webapi = f->api;
	config.inspect_slots = inspect_slots;
	f->engine = engine_new(f->cat, f->idx, &config, &err);
	assert_non_null(f->engine);
	f->now = 1700000000 * SEC;
	return f;
}

static struct fixture *fixture_new(const char *nas_cidr, size_t max_flows, uint64_t udp_timeout_s)
{
	return fixture_with(nas_cidr, max_flows, udp_timeout_s, 0);
}

/* Ends all flows, so that the log holds every flow. */
static const char *fixture_log(struct fixture *f)
{
	engine_flush(f->engine);
	fflush(f->log_file);
	return f->log;
}

static void fixture_free(struct fixture *f)
{
	engine_free(f->engine);
	fclose(f->log_file);
	free(f->log);
	port_index_free(f->idx);
	webapi_free(f->api);
	catalog_free(f->cat);
	free(f);
}

static void feed(struct fixture *f, const struct pkb *b, uint64_t gap_us)
{
	struct packet pkt = { .data = b->data, .caplen = b->len, .wire_len = b->len, .link = DLT_EN10MB };

	f->now += gap_us;
	pkt.ts_us = f->now;
	engine_packet(f->engine, &pkt);
}

static void tcp(struct fixture *f, const uint8_t *src, uint16_t sport, const uint8_t *dst,
		uint16_t dport, uint8_t flags, const char *text)
{
	struct pkb b;

	pkb_init(&b);
	pkb_ether(&b, 0x0800);
	pkb_ipv4(&b, src, dst, 6, 1, 0, 0);
	pkb_tcp(&b, sport, dport, flags, 1, 1);
	if (text)
		pkb_bytes(&b, text, (uint32_t)strlen(text));
	pkb_finish(&b);
	feed(f, &b, 1000);
}

/* A TCP segment with its sequence number: payload inspection reads the
 * client's bytes in sequence. */
static void tcp_at(struct fixture *f, const uint8_t *src, uint16_t sport, const uint8_t *dst,
		   uint16_t dport, uint8_t flags, uint32_t seq, const void *data, uint32_t len,
		   uint64_t gap_us)
{
	struct pkb b;

	pkb_init(&b);
	pkb_ether(&b, 0x0800);
	pkb_ipv4(&b, src, dst, 6, 1, 0, 0);
	pkb_tcp(&b, sport, dport, flags, seq, 1);
	pkb_bytes(&b, data, len);
	pkb_finish(&b);
	feed(f, &b, gap_us);
}

/* The three-way handshake of client:cport to server:sport (client's first
 * data byte at sequence number 1). */
static void handshake(struct fixture *f, const uint8_t *client, uint16_t cport, const uint8_t *server,
		      uint16_t sport)
{
	tcp_at(f, client, cport, server, sport, TCP_SYN, 0, NULL, 0, 1000);
	tcp_at(f, server, sport, client, cport, TCP_SYN | TCP_ACK, 0, NULL, 0, 100);
	tcp_at(f, client, cport, server, sport, TCP_ACK, 1, NULL, 0, 100);
}

static void udp(struct fixture *f, const uint8_t *src, uint16_t sport, const uint8_t *dst,
		uint16_t dport, uint64_t gap_us)
{
	struct pkb b;

	pkb_init(&b);
	pkb_ether(&b, 0x0800);
	pkb_ipv4(&b, src, dst, 17, 1, 0, 0);
	pkb_udp(&b, sport, dport);
	pkb_bytes(&b, "\0\1data\0octet", 12);
	pkb_finish(&b);
	feed(f, &b, gap_us);
}

static const struct counter_row *service_row(struct fixture *f, const char *name)
{
	int id = catalog_find_service(f->cat, NULL, name);

	assert_true(id >= 0);
	return counters_service(engine_counters(f->engine), (size_t)id);
}

struct port_probe {
	uint8_t ip_proto;
	uint16_t port;
	uint64_t packets;
};

static void probe_port(void *ctx, uint8_t ip_proto, uint16_t port, const struct counter_row *row)
{
	struct port_probe *p = ctx;

	if (p->ip_proto == ip_proto && p->port == port)
		p->packets = row_packets(row);
}

static uint64_t unclassified_packets(struct fixture *f, uint8_t ip_proto, uint16_t port)
{
	struct port_probe p = { ip_proto, port, 0 };

	counters_each_unclassified(engine_counters(f->engine), probe_port, &p);
	return p.packets;
}

/* The group row of the set tcp/port maps to (after narrowing to role when
 * role is not 0). */
static const struct counter_row *group_row(struct fixture *f, uint16_t port, enum dsm_role role)
{
	uint16_t id = port_index_lookup(f->idx, DSM_PROTO_TCP, port);

	if (role)
		id = port_index_role_subset(f->idx, id, role);
	return counters_group(engine_counters(f->engine), id);
}

/* Every packet is in exactly one place: a row, a total of its own, or a
 * flow still pending. */
static void assert_all_counted(struct fixture *f)
{
	const struct counters *c = engine_counters(f->engine);
	const struct counter_totals *t = counters_totals_const(c);
	struct counter_row classified, unclassified;

	counters_sum(c, &classified, &unclassified);
	assert_int_equal(t->packets, row_packets(&classified) + row_packets(&unclassified) +
					     t->non_ip_packets + t->malformed_packets +
					     t->pending_packets);
	assert_int_equal(t->bytes, row_bytes(&classified) + row_bytes(&unclassified) +
					   t->non_ip_bytes + t->malformed_bytes + t->pending_bytes);
}

/* Decides the flows still pending (their payload could yet name a
 * service), so that rows hold every packet so far. */
static void settle(struct fixture *f)
{
	assert_all_counted(f);
	engine_settle(f->engine);
	assert_int_equal(counters_totals_const(engine_counters(f->engine))->pending_packets, 0);
	assert_all_counted(f);
}

/* ---- server side ---- */

static void test_syn_decides_the_server(void **state)
{
	struct fixture *f = fixture_new(NULL, 0, 0);

	(void)state;
	/* the SYN goes to 60000: the server is there, though 5432 is lower */
	tcp(f, pc, 5432, nas, 60000, TCP_SYN, NULL);
	tcp(f, nas, 60000, pc, 5432, TCP_SYN | TCP_ACK, NULL);
	tcp(f, pc, 5432, nas, 60000, TCP_ACK, NULL);
	/* no client payload yet: it could still be TLS or HTTP */
	assert_int_equal(unclassified_packets(f, 6, 60000), 0);
	settle(f);
	assert_int_equal(unclassified_packets(f, 6, 60000), 3);
	assert_int_equal(unclassified_packets(f, 6, 5432), 0);
	assert_non_null(strstr(fixture_log(f), "\"server_port\": 60000, "));
	assert_non_null(strstr(f->log, "\"evidence\": \"syn\""));
	assert_all_counted(f);
	fixture_free(f);
}

static void test_lower_port_without_other_evidence(void **state)
{
	struct fixture *f = fixture_new(NULL, 0, 0);

	(void)state;
	tcp(f, nas, 60000, pc, 5432, TCP_ACK, "mid-stream");
	tcp(f, pc, 5432, nas, 60000, TCP_ACK, NULL);
	assert_int_equal(unclassified_packets(f, 6, 5432), 2);
	assert_non_null(strstr(fixture_log(f), "\"evidence\": \"lower-port\""));
	fixture_free(f);
}

static void test_catalogue_prefers_the_specific_entry(void **state)
{
	struct fixture *f = fixture_new(NULL, 0, 0);
	const struct counter_row *smb = group_row(f, 445, 0);

	(void)state;
	/* 49156 is in CIFS Scale-out Cluster's range, 445 is a single-port entry */
	tcp(f, pc, 49156, nas, 445, TCP_ACK, "\xfeSMB");
	assert_int_equal(row_packets(smb), 1);
	assert_int_equal(row_packets(service_row(f, "CIFS Scale-out Cluster")), 0);
	/* only one side catalogued */
	tcp(f, nas, 873, pc, 50000, TCP_ACK, "rsync");
	settle(f);	/* the server spoke first: the client's first bytes are to come */
	assert_int_equal(row_packets(group_row(f, 873, 0)), 1);
	assert_non_null(strstr(fixture_log(f), "\"evidence\": \"catalog\""));
	fixture_free(f);
}

static void test_nas_role_narrows_the_candidates(void **state)
{
	struct fixture *f = fixture_new("192.168.1.10/32", 0, 0);
	const struct counter_row *dns = counters_group(
		engine_counters(f->engine), port_index_lookup(f->idx, DSM_PROTO_UDP, 53));

	(void)state;
	/* mid-stream, no SYN: the NAS talks to ESXi's 443. The NAS's port 41000
	 * is not an inbound entry, the peer's 443 is an outbound one: the peer
	 * serves, and only outbound candidates remain. */
	tcp(f, nas, 41000, esxi, 443, TCP_ACK, "vsphere");
	settle(f);
	assert_int_equal(row_packets(group_row(f, 443, DSM_ROLE_OUTBOUND)), 1);
	assert_int_equal(row_packets(group_row(f, 443, 0)), 0);
	/* a client reaching the NAS's own 443: inbound candidates */
	tcp(f, pc, 50000, nas, 443, TCP_SYN, NULL);
	settle(f);
	assert_int_equal(row_packets(group_row(f, 443, DSM_ROLE_INBOUND)), 1);
	/* the NAS serving 902, which only an outbound entry names (the NAS
	 * reaching an ESXi host): no service of the NAS's, a port it serves */
	tcp(f, pc, 50001, nas, 902, TCP_SYN, NULL);
	settle(f);
	assert_int_equal(row_packets(service_row(f, "Active Backup for Business")), 0);
	assert_int_equal(unclassified_packets(f, 6, 902), 1);
	/* the NAS asking its router's DNS (udp/53: only inbound entries) is not
	 * a DNS server: it connects out to an uncatalogued service */
	udp(f, nas, 53000, router, 53, 1000);
	udp(f, router, 53, nas, 53000, 1000);
	settle(f);
	assert_int_equal(unclassified_packets(f, 17, 53), 2);
	assert_int_equal(row_packets(dns), 0);
	/* ICMP between two other hosts is no NAS service's */
	{
		struct pkb b;

		pkb_init(&b);
		pkb_ether(&b, 0x0800);
		pkb_ipv4(&b, pc, router, 1, 1, 0, 0);
		pkb_bytes(&b, "\x08\0\0\0\0\1\0\1", 8);	/* an echo request */
		pkb_finish(&b);
		feed(f, &b, 1000);
		settle(f);
		assert_int_equal(unclassified_packets(f, 1, 0), 1);
	}
	/* a client asking the NAS's DNS server is one */
	udp(f, pc, 53001, nas, 53, 1000);
	settle(f);
	assert_int_equal(unclassified_packets(f, 17, 53), 2);
	assert_int_equal(row_packets(dns), 1);
	assert_non_null(strstr(fixture_log(f), "\"evidence\": \"nas\""));
	assert_all_counted(f);
	fixture_free(f);
}

/* ---- announced connections ---- */

static void test_ftp_passive_and_active(void **state)
{
	struct fixture *f = fixture_new(NULL, 0, 0);
	const struct counter_row *ftp = service_row(f, "FTP, FTP over SSL, FTP over TLS");

	(void)state;
	tcp(f, pc, 50000, nas, 21, TCP_SYN, NULL);
	tcp(f, nas, 21, pc, 50000, TCP_ACK | 0x08, "227 Entering Passive Mode (192,168,1,10,117,48).\r\n");
	tcp(f, pc, 50001, nas, 30000, TCP_SYN, NULL);	/* 117 * 256 + 48 */
	tcp(f, nas, 30000, pc, 50001, TCP_ACK, "data");
	assert_int_equal(ftp->flows, 2);
	assert_int_equal(row_packets(ftp), 4);
	/* the same port from another host is not that data connection */
	tcp(f, pc2, 50002, nas, 30000, TCP_SYN, NULL);
	settle(f);
	assert_int_equal(unclassified_packets(f, 6, 30000), 1);
	/* a second connection to the port: the announcement was used up */
	tcp(f, pc, 50003, nas, 30000, TCP_SYN, NULL);
	settle(f);
	assert_int_equal(unclassified_packets(f, 6, 30000), 2);
	/* active mode: the client says where it listens, the NAS connects */
	tcp(f, pc, 50000, nas, 21, TCP_ACK | 0x08, "EPRT |1|192.168.1.20|40001|\r\n");
	tcp(f, nas, 20, pc, 40001, TCP_SYN, NULL);
	assert_int_equal(ftp->flows, 3);
	/* a 227 sent by the client is no announcement */
	tcp(f, pc, 50000, nas, 21, TCP_ACK | 0x08, "227 (192,168,1,10,117,49)\r\n");
	tcp(f, pc, 50004, nas, 30001, TCP_SYN, NULL);
	assert_int_equal(ftp->flows, 3);
	assert_all_counted(f);
	fixture_free(f);
}

static void test_tftp_transfer_follows_request(void **state)
{
	struct fixture *f = fixture_new(NULL, 0, 0);
	const struct counter_row *tftp = service_row(f, "TFTP");

	(void)state;
	udp(f, pc, 41000, nas, 69, 1000);
	udp(f, nas, 38000, pc, 41000, 1000);	/* the server answers from a new port */
	udp(f, pc, 41000, nas, 38000, 1000);
	assert_int_equal(tftp->flows, 2);
	assert_int_equal(row_packets(tftp), 3);
	assert_non_null(strstr(fixture_log(f), "\"evidence\": \"expected\""));
	fixture_free(f);
}

/* ---- fragments, flow life ---- */

static void fragment(struct fixture *f, uint16_t id, uint16_t frag, int with_udp)
{
	struct pkb b;

	pkb_init(&b);
	pkb_ether(&b, 0x0800);
	pkb_ipv4(&b, pc, nas, 17, id, frag, 0);
	if (with_udp)
		pkb_udp(&b, 870, 2049);
	pkb_bytes(&b, "0123456789abcdef", 16);
	pkb_finish(&b);
	feed(f, &b, 100);
}

static void test_fragments_join_their_flow(void **state)
{
	struct fixture *f = fixture_new(NULL, 0, 0);
	const struct counter_row *nfs = service_row(f, "NFS");

	(void)state;
	fragment(f, 7, 0x2000, 1);
	fragment(f, 7, 0x2000 | 3, 0);
	fragment(f, 7, 6, 0);
	assert_int_equal(row_packets(nfs), 3);
	assert_int_equal(nfs->flows, 1);
	fragment(f, 8, 6, 0);	/* its first fragment never came */
	assert_int_equal(counters_totals_const(engine_counters(f->engine))->fragment_packets, 1);
	assert_int_equal(row_packets(nfs), 3);
	assert_all_counted(f);
	fixture_free(f);
}

static void test_udp_timeout_in_packet_time(void **state)
{
	struct fixture *f = fixture_new(NULL, 0, 0);
	const struct counter_row *tftp;

	(void)state;
	tftp = service_row(f, "TFTP");
	udp(f, pc, 41000, nas, 69, 0);
	udp(f, pc, 41000, nas, 69, 29 * SEC);	/* within UDP's 30 s */
	assert_int_equal(tftp->flows, 1);
	udp(f, pc, 41000, nas, 69, 31 * SEC);	/* idle past it: a new flow */
	assert_int_equal(tftp->flows, 2);
	assert_non_null(strstr(fixture_log(f), "\"end\": \"idle\""));
	fixture_free(f);

	f = fixture_new(NULL, 0, 60);	/* --timeout-udp 60 */
	tftp = service_row(f, "TFTP");
	udp(f, pc, 41000, nas, 69, 0);
	udp(f, pc, 41000, nas, 69, 31 * SEC);
	assert_int_equal(tftp->flows, 1);
	fixture_free(f);
}

static void test_max_flows_evicts_the_oldest(void **state)
{
	struct fixture *f = fixture_new(NULL, 2, 0);
	const struct counter_row *nfs;

	(void)state;
	nfs = service_row(f, "NFS");
	udp(f, pc, 1001, nas, 2049, 1000);
	udp(f, pc, 1002, nas, 2049, 1000);
	udp(f, pc, 1001, nas, 2049, 1000);	/* 1002 is now the oldest idle */
	udp(f, pc, 1003, nas, 2049, 1000);
	assert_int_equal(engine_evicted_flows(f->engine), 1);
	assert_int_equal(engine_active_flows(f->engine), 2);
	udp(f, pc, 1001, nas, 2049, 1000);	/* still tracked: no new flow */
	assert_int_equal(nfs->flows, 3);
	assert_non_null(strstr(fixture_log(f), "\"client_port\": 1002, \"server\": \"192.168.1.10\", "
						"\"server_port\": 2049, \"first\""));
	assert_non_null(strstr(f->log, "\"end\": \"evicted\""));
	assert_int_equal(row_packets(nfs), 5);
	fixture_free(f);
}

static void test_syn_after_close_starts_a_new_flow(void **state)
{
	struct fixture *f = fixture_new(NULL, 0, 0);
	const struct counter_row *ssh = group_row(f, 22, 0);

	(void)state;
	tcp(f, pc, 50000, nas, 22, TCP_SYN, NULL);
	tcp(f, pc, 50000, nas, 22, TCP_ACK, "x");
	tcp(f, pc, 50000, nas, 22, TCP_FIN | TCP_ACK, NULL);
	tcp(f, nas, 22, pc, 50000, TCP_FIN | TCP_ACK, NULL);
	tcp(f, pc, 50000, nas, 22, TCP_SYN, NULL);
	settle(f);
	assert_int_equal(ssh->flows, 2);
	assert_int_equal(row_packets(ssh), 5);
	assert_non_null(strstr(fixture_log(f), "\"end\": \"reused\""));
	fixture_free(f);
}

static void test_non_ip_and_malformed_are_counted(void **state)
{
	struct fixture *f = fixture_new(NULL, 0, 0);
	const struct counter_totals *t = counters_totals_const(engine_counters(f->engine));
	struct pkb b;

	(void)state;
	pkb_init(&b);
	pkb_ether(&b, 0x0806);
	pkb_bytes(&b, "arp arp arp arp arp arp arp.", 28);
	feed(f, &b, 10);
	pkb_init(&b);
	pkb_ether(&b, 0x0800);
	pkb_bytes(&b, "\x45\0\0", 3);
	feed(f, &b, 10);
	tcp(f, pc, 50000, nas, 22, TCP_SYN, NULL);
	assert_int_equal(t->packets, 3);
	assert_int_equal(t->non_ip_packets, 1);
	assert_int_equal(t->non_ip_bytes, 14 + 28);
	assert_int_equal(t->malformed_packets, 1);
	assert_all_counted(f);
	fixture_free(f);
}

/* ---- payload evidence ---- */

static const uint8_t google[4] = { 142, 250, 74, 10 }, graph[4] = { 20, 190, 151, 7 };

#define REQUEST(name) "GET /webapi/entry.cgi?api=" name "&version=1&method=list HTTP/1.1\r\n" \
		      "Host: nas:5000\r\n\r\n"

static void send_text(struct fixture *f, const uint8_t *client, uint16_t cport, const uint8_t *server,
		      uint16_t sport, uint32_t seq, const char *text)
{
	tcp_at(f, client, cport, server, sport, TCP_ACK | 0x08, seq, text, (uint32_t)strlen(text), 100);
}

static uint64_t pending(struct fixture *f)
{
	return counters_totals_const(engine_counters(f->engine))->pending_packets;
}

static void test_webapi_name_decides_and_counts_move_whole(void **state)
{
	struct fixture *f = fixture_new(NULL, 0, 0);
	const struct counter_row *files = service_row(f, "File Station"), *dsm_web = group_row(f, 5000, 0);

	(void)state;
	handshake(f, pc, 50000, nas, 5000);
	/* the port leaves 31 candidates: the flow is pending, in no row yet */
	assert_int_equal(pending(f), 3);
	assert_int_equal(row_packets(files) + row_packets(dsm_web), 0);
	assert_all_counted(f);
	send_text(f, pc, 50000, nas, 5000, 1, REQUEST("SYNO.FileStation.List"));
	/* decided by the name: all four packets arrive in File Station's row at once */
	assert_int_equal(pending(f), 0);
	assert_int_equal(row_packets(files), 4);
	assert_int_equal(files->flows, 1);
	assert_int_equal(files->decided_by[SERVICE_BY_WEBAPI], 1);
	assert_int_equal(row_packets(dsm_web), 0);
	tcp_at(f, nas, 5000, pc, 50000, TCP_ACK, 1, "HTTP/1.1 200 OK\r\n\r\n", 19, 100);
	assert_int_equal(row_packets(files), 5);	/* later packets count as they come */
	assert_all_counted(f);
	assert_non_null(strstr(fixture_log(f), "\"service_evidence\": \"web-api:SYNO.FileStation.List\""));
	fixture_free(f);
}

static void test_dsm_core_name_waits_for_a_package(void **state)
{
	struct fixture *f = fixture_new(NULL, 0, 0);
	const struct counter_row *audio = service_row(f, "Audio Station");
	const char *login = REQUEST("SYNO.API.Auth");

	(void)state;
	handshake(f, pc, 50000, nas, 5000);
	send_text(f, pc, 50000, nas, 5000, 1, login);
	assert_int_equal(pending(f), 4);	/* DSM's own name: a package's may follow */
	send_text(f, pc, 50000, nas, 5000, 1 + (uint32_t)strlen(login), REQUEST("SYNO.AudioStation.Song"));
	assert_int_equal(pending(f), 0);
	assert_int_equal(row_packets(audio), 5);
	/* a connection with DSM's names only is DSM's, once its budget ends */
	handshake(f, pc, 50001, nas, 5000);
	send_text(f, pc, 50001, nas, 5000, 1, REQUEST("SYNO.Core.Desktop.JSUIString"));
	settle(f);
	assert_int_equal(row_packets(service_row(f, "DSM")), 4);
	assert_int_equal(service_row(f, "DSM")->webapi_requests, 2);	/* the login counted too */
	fixture_free(f);
}

static void test_evidence_outside_the_candidates_keeps_the_port(void **state)
{
	struct fixture *f = fixture_new(NULL, 0, 0);

	(void)state;
	/* File Station is not among tcp/22's candidates: the group stands */
	handshake(f, pc, 50000, nas, 22);
	send_text(f, pc, 50000, nas, 22, 1, REQUEST("SYNO.FileStation.List"));
	settle(f);	/* a name outside decides nothing: the flow waits for a better one */
	assert_int_equal(row_packets(group_row(f, 22, 0)), 4);
	assert_int_equal(row_packets(service_row(f, "File Station")), 0);
	/* no candidate at all (an Application Portal port): the name decides */
	handshake(f, pc, 50001, nas, 7000);
	send_text(f, pc, 50001, nas, 7000, 1, REQUEST("SYNO.AudioStation.Song"));
	assert_int_equal(row_packets(service_row(f, "Audio Station")), 4);
	fixture_log(f);
	assert_non_null(strstr(f->log, "\"evidence_seen\": \"web-api:SYNO.FileStation.List\", "
				       "\"outside_candidates\": true"));
	assert_non_null(strstr(f->log, "\"uncatalogued_port\": true"));
	fixture_free(f);
}

static void test_a_gap_ends_the_reading(void **state)
{
	struct fixture *f = fixture_new(NULL, 0, 0);
	const char *first = "GET /webapi/entry.cgi?api=SYNO.Aud";

	(void)state;
	handshake(f, pc, 50000, nas, 5000);
	send_text(f, pc, 50000, nas, 5000, 1, first);
	/* the next segment is lost: what follows it cannot be read in order */
	send_text(f, pc, 50000, nas, 5000, 1 + (uint32_t)strlen(first) + 100, "ioStation.Song HTTP/1.1\r\n\r\n");
	assert_int_equal(pending(f), 0);
	assert_int_equal(row_packets(group_row(f, 5000, 0)), 5);
	/* a retransmission is read once, its new bytes too */
	handshake(f, pc, 50001, nas, 5000);
	send_text(f, pc, 50001, nas, 5000, 1, first);
	send_text(f, pc, 50001, nas, 5000, 1, first);
	send_text(f, pc, 50001, nas, 5000, 1, "GET /webapi/entry.cgi?api=SYNO.AudioStation.Song HTTP/1.1\r\n\r\n");
	assert_int_equal(row_packets(service_row(f, "Audio Station")), 6);
	fixture_free(f);
}

static void test_pending_is_bounded_in_time_and_packets(void **state)
{
	struct fixture *f = fixture_new(NULL, 0, 0);

	(void)state;
	/* a SYN and nothing more: the sweep decides it once 10 s have passed,
	 * though the flow itself sends nothing (another flow's packet moves
	 * packet time on) */
	tcp_at(f, pc, 50000, nas, 5000, TCP_SYN, 0, NULL, 0, 1000);
	udp(f, pc2, 40000, nas, 2049, 9 * SEC);
	assert_int_equal(pending(f), 1);
	udp(f, pc2, 40000, nas, 2049, 2 * SEC);
	assert_int_equal(pending(f), 0);
	assert_int_equal(row_packets(group_row(f, 5000, 0)), 1);
	/* a connection closed before its client said anything: decided at the FIN */
	handshake(f, pc, 50002, nas, 5000);
	tcp_at(f, pc, 50002, nas, 5000, TCP_FIN | TCP_ACK, 1, NULL, 0, 100);
	assert_int_equal(pending(f), 0);
	assert_int_equal(row_packets(group_row(f, 5000, 0)), 5);
	/* a server that talks and talks before the client says anything */
	handshake(f, pc, 50001, nas, 5000);
	for (int i = 0; i < 40; i++)
		tcp_at(f, nas, 5000, pc, 50001, TCP_ACK, 1 + (uint32_t)i * 10, "0123456789", 10, 100);
	assert_int_equal(pending(f), 0);
	assert_int_equal(row_packets(group_row(f, 5000, 0)), 5 + 43);
	assert_all_counted(f);
	fixture_free(f);
}

static void test_a_full_pool_decides_by_port(void **state)
{
	struct fixture *f = fixture_with(NULL, 0, 0, 1);	/* one inspection slot */
	const struct counter_row *dsm_web = group_row(f, 5000, 0);
	const char *part = "GET /webapi/entry.cgi?api=SYNO.Not";
	struct inspect_stats stats;

	(void)state;
	/* a flow still waiting for its first bytes gives up its slot to a new
	 * one and is decided by its port: SYNs alone cannot hold the pool */
	handshake(f, pc, 50000, nas, 5000);
	handshake(f, pc, 50001, nas, 5000);
	assert_int_equal(row_packets(dsm_web), 3);
	assert_int_equal(pending(f), 3);
	/* a flow being read keeps its slot: the next new one is decided at once */
	send_text(f, pc, 50001, nas, 5000, 1, part);
	handshake(f, pc, 50002, nas, 5000);
	engine_inspect_stats(f->engine, &stats);
	assert_int_equal(stats.no_slot, 2);	/* 50000, whose slot went, and 50002 */
	assert_int_equal(row_packets(dsm_web), 6);
	send_text(f, pc, 50001, nas, 5000, 1 + (uint32_t)strlen(part), "eStation.Note HTTP/1.1\r\n\r\n");
	assert_int_equal(row_packets(service_row(f, "Note Station")), 5);
	/* a decided flow, still counting its requests, gives up its slot too */
	handshake(f, pc, 50003, nas, 5000);
	engine_inspect_stats(f->engine, &stats);
	assert_int_equal(stats.no_slot, 2);
	assert_int_equal(stats.requests_cut, 1);	/* 50001's requests */
	assert_int_equal(stats.started, 3);
	assert_int_equal(pending(f), 3);
	assert_all_counted(f);
	fixture_free(f);
}

/* A ClientHello from the NAS in segments of at most 1448 bytes, as TCP
 * sends it; only its first segment when first_only. */
static void hello_at(struct fixture *f, const uint8_t *server, uint16_t cport, const char *name,
		     uint32_t key_share, int name_first, int first_only)
{
	struct pkb h;

	pkb_init(&h);
	pkb_tls_client_hello(&h, name, key_share, name_first);
	handshake(f, nas, cport, server, 443);
	for (uint32_t off = 0; off < h.len && !(first_only && off); off += 1448)
		tcp_at(f, nas, cport, server, 443, TCP_ACK, 1 + off, h.data + off,
		       h.len - off < 1448 ? h.len - off : 1448, 100);
}

static void hello(struct fixture *f, const uint8_t *server, uint16_t cport, const char *name,
		  uint32_t key_share)
{
	hello_at(f, server, cport, name, key_share, 0, 0);
}

static void test_tls_server_name_narrows(void **state)
{
	struct fixture *f = fixture_new("192.168.1.10/32", 0, 0);
	const struct counter_row *gw = service_row(f, "Active Backup for Google Workspace");
	const struct counter_row *m365 = service_row(f, "Active Backup for Microsoft 365");

	(void)state;
	hello(f, google, 42000, "www.googleapis.com", 32);
	assert_int_equal(row_packets(gw), 4);
	assert_int_equal(gw->decided_by[SERVICE_BY_SNI], 1);
	hello(f, google, 42001, "outlook.office365.com", 1216 + 32);	/* 1.8 KB, two segments */
	assert_int_equal(row_packets(m365), 5);
	hello(f, google, 42002, "evilgoogleapis.com", 32);	/* not on a label boundary */
	hello(f, google, 42003, "alice.synology.me", 32);	/* names the NAS, not a service */
	assert_int_equal(row_packets(gw) + row_packets(m365), 9);
	assert_int_equal(row_packets(group_row(f, 443, DSM_ROLE_OUTBOUND)), 8);
	fixture_log(f);
	assert_non_null(strstr(f->log, "\"server_name\": \"alice.synology.me\", \"remote_access\": true"));
	fixture_free(f);
}

static void test_a_hello_cut_short_still_names_its_server(void **state)
{
	struct fixture *f = fixture_new("192.168.1.10/32", 0, 0);

	(void)state;
	/* the name comes first; the hello's second segment never arrives */
	hello_at(f, google, 42000, "www.googleapis.com", 1216 + 32, 1, 1);
	settle(f);
	assert_int_equal(row_packets(service_row(f, "Active Backup for Google Workspace")), 4);
	fixture_free(f);
}

static void test_sequence_edge_cases(void **state)
{
	struct fixture *f = fixture_new(NULL, 0, 0);
	const char *request = REQUEST("SYNO.VideoStation.Movie");

	(void)state;
	/* TCP Fast Open: the request rides on the SYN, its first byte after it */
	tcp_at(f, pc, 50000, nas, 5000, TCP_SYN, 100, request, (uint32_t)strlen(request), 1000);
	assert_int_equal(row_packets(service_row(f, "Video Station")), 1);
	/* a request's start a byte a segment: the parser is chosen once four
	 * have come, and reads them all */
	handshake(f, pc, 50001, nas, 5000);
	for (uint32_t i = 0; i < 8; i++)
		tcp_at(f, pc, 50001, nas, 5000, TCP_ACK, 1 + i, request + i, 1, 10);
	tcp_at(f, pc, 50001, nas, 5000, TCP_ACK, 1 + 8, request + 8, (uint32_t)strlen(request) - 8, 10);
	assert_int_equal(service_row(f, "Video Station")->flows, 2);
	/* sequence numbers wrapping past 2^32, and a segment 2^31 ahead (a gap) */
	tcp_at(f, pc, 51002, nas, 5000, TCP_ACK, 0xfffffff0u, request, 20, 1000);
	tcp_at(f, pc, 51002, nas, 5000, TCP_ACK, 0xfffffff0u + 20, request + 20,
	       (uint32_t)strlen(request) - 20, 10);
	assert_int_equal(service_row(f, "Video Station")->flows, 3);
	tcp_at(f, pc, 51003, nas, 5000, TCP_ACK, 1, "GET /", 5, 1000);
	tcp_at(f, pc, 51003, nas, 5000, TCP_ACK, 1 + 5 + 0x80000000u, "x", 1, 10);
	assert_int_equal(pending(f), 0);
	assert_all_counted(f);
	fixture_free(f);
}

static void test_dns_answer_names_the_next_flow(void **state)
{
	struct fixture *f = fixture_new("192.168.1.10/32", 0, 0);
	struct pkb b, answer;

	(void)state;
	pkb_init(&answer);
	pkb_dns_message(&answer, 7, "graph.microsoft.com", "graph.edge.example.net", graph);
	pkb_init(&b);
	pkb_ether(&b, 0x0800);
	pkb_ipv4(&b, router, nas, 17, 1, 0, 0);
	pkb_udp(&b, 53, 40000);
	pkb_bytes(&b, answer.data, answer.len);
	pkb_finish(&b);
	feed(f, &b, 1000);
	/* TLS without a server name to the answered address */
	hello(f, graph, 42000, NULL, 32);
	assert_int_equal(row_packets(service_row(f, "Active Backup for Microsoft 365")), 4);
	assert_non_null(strstr(fixture_log(f), "\"service_evidence\": \"dns:graph.microsoft.com\""));
	fixture_free(f);
}

/* ---- batches ---- */

/* ---- reloading the tables ---- */

/* The shipped catalogue with Telnet dropped, MySQL renamed and a service
 * added on tcp/12321 (three ports no other service shares). */
static struct catalog *edited_catalog(void)
{
	FILE *in = fopen(DSM_SOURCE_DIR "/catalog/dsm-ports.tsv", "r");
	char *text = NULL, line[1024];
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	struct catalog *cat;
	struct dsm_err err;

	assert_non_null(in);
	while (fgets(line, sizeof(line), in)) {
		char *mysql = strstr(line, "\tMySQL\t");

		if (strstr(line, "\tTelnet\t"))
			continue;
		if (mysql) {
			fprintf(out, "%.*s\tMariaDB\t%s", (int)(mysql - line), line, mysql + 7);
			continue;
		}
		fputs(line, out);
	}
	fputs("System\tMy App\ttcp\t12321\t12321\t-\tinbound\tstatic\t-\t-\t-\n", out);
	fclose(out);
	fclose(in);
	cat = catalog_parse(text, len, "edited", &err);
	free(text);
	assert_non_null(cat);
	return cat;
}

/* Puts the edited catalogue in force the way a sensor's SIGHUP does, and
 * frees the old tables at once (a reference left to them is a
 * use-after-free the sanitizer build reports). */
static void reload(struct fixture *f)
{
	struct catalog *fresh = edited_catalog(), *merged;
	struct port_index *idx;
	struct webapi_table *api;
	struct dsm_err err;

	merged = catalog_merge(f->cat, fresh, &err);
	catalog_free(fresh);
	assert_non_null(merged);
	api = webapi_load_embedded(&err);
	assert_int_equal(webapi_bind(api, merged, &err), 0);
	idx = port_index_build_after(merged, f->idx, &err);
	assert_non_null(idx);
	/* every service and set keeps its id */
	for (size_t i = 0; i < catalog_service_count(f->cat); i++)
		assert_string_equal(catalog_service(merged, i)->name, catalog_service(f->cat, i)->name);
	for (size_t id = 1; id <= port_index_set_count(f->idx); id++) {
		const struct candidate_set *now = port_index_set(idx, (uint16_t)id);
		const struct candidate_set *was = port_index_set(f->idx, (uint16_t)id);

		assert_int_equal(now->count, was->count);
		assert_int_equal(now->narrowest, was->narrowest);
		assert_memory_equal(now->items, was->items, was->count * sizeof(*was->items));
	}
	assert_int_equal(engine_reload(f->engine, merged, idx, api, 1, &err), 0);
	port_index_free(f->idx);
	webapi_free(f->api);
	catalog_free(f->cat);
	f->cat = merged;
	f->idx = idx;
	f->api = api;
}

/* The per-service activity the alerts use: distinct clients, flows from
 * outside the local ranges, the last packet's time. */
static void test_service_activity(void **state)
{
	struct fixture *f = fixture_new("192.168.1.10/32", 0, 0);
	static const uint8_t outside[4] = { 203, 0, 113, 9 };
	int telnet = catalog_find_service(f->cat, NULL, "Telnet");

	(void)state;
	handshake(f, pc, 40000, nas, 23);
	handshake(f, pc, 40001, nas, 23);	/* the same client again */
	handshake(f, outside, 40002, nas, 23);
	settle(f);
	assert_int_equal(counters_clients(engine_counters(f->engine), FLOW_SERVICE, (uint16_t)telnet), 2);
	assert_int_equal(service_row(f, "Telnet")->external_flows, 1);
	assert_int_equal(service_row(f, "Telnet")->last_us, f->now);
	tcp(f, pc, 40000, nas, 23, TCP_ACK, "x");
	assert_int_equal(service_row(f, "Telnet")->last_us, f->now);	/* every packet moves it */
	fixture_free(f);
}

/* Growing the counters keeps every count, moves the rows the flows hold,
 * and a snapshot of the old size is refused rather than overrun. */
static void test_counters_grow_and_rows_move(void **state)
{
	struct counters *c = counters_new(2, 3), *snapshot = counters_new(2, 3);
	struct counter_row *service = counters_row(c, FLOW_SERVICE, 1, 0);
	struct counter_row *group = counters_row(c, FLOW_GROUP, 3, 0);
	struct counter_row *port = counters_row(c, FLOW_UNCLASSIFIED, 80, 6);
	struct counters_moved moved;

	(void)state;
	service->packets[0] = 5;
	group->bytes[1] = 7;
	port->flows = 9;
	assert_int_equal(counters_copy(snapshot, c), 0);
	assert_int_equal(counters_resize(c, 1, 3, &moved), -1);	/* never smaller */
	assert_int_equal(counters_resize(c, 4, 6, &moved), 0);
	assert_ptr_equal(counters_moved_row(&moved, service), counters_row(c, FLOW_SERVICE, 1, 0));
	assert_ptr_equal(counters_moved_row(&moved, group), counters_row(c, FLOW_GROUP, 3, 0));
	assert_ptr_equal(counters_moved_row(&moved, port), port);
	counters_moved_free(&moved);
	assert_int_equal(counters_row(c, FLOW_SERVICE, 1, 0)->packets[0], 5);
	assert_int_equal(counters_row(c, FLOW_GROUP, 3, 0)->bytes[1], 7);
	assert_int_equal(counters_row(c, FLOW_UNCLASSIFIED, 80, 6)->flows, 9);
	assert_non_null(counters_row(c, FLOW_SERVICE, 3, 0));
	assert_int_equal(counters_copy(snapshot, c), -1);
	counters_free(snapshot);
	counters_free(c);
}

static void test_reload_keeps_rows_and_adds_new_ones(void **state)
{
	struct fixture *f = fixture_new(NULL, 0, 0);
	int telnet = catalog_find_service(f->cat, NULL, "Telnet");
	int mysql = catalog_find_service(f->cat, NULL, "MySQL");
	struct reload_stats stats;
	const char *log;

	(void)state;
	handshake(f, pc, 40000, nas, 23);
	handshake(f, pc, 40001, nas, 3306);
	handshake(f, pc, 40002, nas, 5000);	/* pending: its Web API name comes later */
	send_text(f, pc, 40002, nas, 5000, 1, "GET /webapi/entry.cgi?api=SYNO.");
	assert_int_equal(row_packets(service_row(f, "Telnet")), 3);
	reload(f);
	engine_reload_stats(f->engine, &stats);
	assert_int_equal(stats.reloads, 1);
	assert_int_equal(stats.last_success_us, 1);
	/* the dropped and renamed services keep their ids, rows and counts */
	assert_int_equal(catalog_find_service(f->cat, NULL, "Telnet"), telnet);
	assert_int_equal(catalog_find_service(f->cat, NULL, "MySQL"), mysql);
	assert_int_equal(row_packets(service_row(f, "Telnet")), 3);
	/* flows decided before keep their attribution */
	tcp(f, pc, 40000, nas, 23, TCP_ACK, "x");
	tcp(f, pc, 40001, nas, 3306, TCP_ACK, "y");
	assert_int_equal(row_packets(service_row(f, "Telnet")), 4);
	assert_int_equal(row_packets(service_row(f, "MySQL")), 4);
	/* the pending flow is decided by the tables now in force */
	send_text(f, pc, 40002, nas, 5000, 32, "FileStation.List&version=2 HTTP/1.1\r\n\r\n");
	assert_int_equal(row_packets(service_row(f, "File Station")), 5);
	/* new flows: tcp/23 is no service's now, 3306 the renamed one's, 12321 new */
	handshake(f, pc, 40003, nas, 23);
	handshake(f, pc, 40004, nas, 3306);
	handshake(f, pc, 40005, nas, 12321);
	settle(f);	/* an uncatalogued port's flow waits for payload evidence */
	assert_int_equal(row_packets(service_row(f, "Telnet")), 4);
	assert_int_equal(unclassified_packets(f, 6, 23), 3);
	assert_int_equal(row_packets(service_row(f, "MySQL")), 4);
	assert_int_equal(row_packets(service_row(f, "MariaDB")), 3);
	assert_int_equal(row_packets(service_row(f, "My App")), 3);
	/* the flow log names each flow's service as it was decided */
	log = fixture_log(f);
	assert_non_null(strstr(log, "\"client_port\": 40000, \"server\": \"192.168.1.10\", \"server_port\": 23,"));
	assert_non_null(strstr(log, "\"attribution\": \"service\", \"service\": \"Telnet\""));
	assert_non_null(strstr(log, "\"attribution\": \"service\", \"service\": \"MariaDB\""));
	fixture_free(f);
}

static void feed_batch(void *ctx, const struct packet *pkts, size_t count)
{
	engine_packets(((struct fixture *)ctx)->engine, pkts, count);
}

static void feed_one_by_one(void *ctx, const struct packet *pkts, size_t count)
{
	for (size_t i = 0; i < count; i++)
		engine_packet(((struct fixture *)ctx)->engine, &pkts[i]);
}

/* Reads path into an engine in the reader's batches and into another one
 * packet at a time: every flow (its log line: attribution, evidence,
 * counts, times, how it ended) and every total must be the same. */
static void check_batches_alike(const char *path, size_t max_flows)
{
	struct fixture *batched = fixture_new(NULL, max_flows, 0), *single = fixture_new(NULL, max_flows, 0);
	struct capture_file_result result;
	struct dsm_err err;

	capture_read_file(path, feed_batch, batched, &result, &err);
	capture_read_file(path, feed_one_by_one, single, &result, &err);
	if (strcmp(fixture_log(batched), fixture_log(single)) != 0)
		fail_msg("%s (max flows %zu): the flows differ read in batches", path, max_flows);
	assert_memory_equal(counters_totals_const(engine_counters(batched->engine)),
			    counters_totals_const(engine_counters(single->engine)),
			    sizeof(struct counter_totals));
	fixture_free(batched);
	fixture_free(single);
}

static int check_directory_batches(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *entry;
	int checked = 0;

	while (d && (entry = readdir(d))) {
		char path[1024];

		if (!strstr(entry->d_name, ".pcap") && !strstr(entry->d_name, ".cap"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, entry->d_name);
		check_batches_alike(path, 0);
		check_batches_alike(path, 16);	/* evictions between prefetch and use */
		checked++;
	}
	if (d)
		closedir(d);
	return checked;
}

static void test_batches_count_as_one_at_a_time(void **state)
{
	int shared;

	(void)state;
	assert_true(check_directory_batches(DSM_SOURCE_DIR "/pcaps") >= 3);
	shared = check_directory_batches(DSM_SHARED_DIR "/pcaps");
	if (!shared)
		print_message("no third-party captures in %s/pcaps: checked the samples only\n",
			      DSM_SHARED_DIR);
}

/* ---- a sensor's workers: engines the kernel splits the packets between ---- */

/* The worker the live fanout program (capture_ring.c) gives an Ethernet
 * frame: the sum of its IPv4 or IPv6 address words, modulo 2 after
 * mixing; 0 for the rest. */
static unsigned pair_worker(const struct packet *pkt)
{
	const uint8_t *p = pkt->data;
	size_t off = 14, words = 0, at = 0;
	uint32_t sum = 0;

	if (pkt->link != DLT_EN10MB || pkt->caplen < 18)
		return 0;
	if (p[12] == 0x81 && p[13] == 0x00)
		off += 4;
	if (p[off - 2] == 0x08 && p[off - 1] == 0x00)
		words = 2, at = off + 12;
	else if (p[off - 2] == 0x86 && p[off - 1] == 0xdd)
		words = 8, at = off + 8;
	if (!words || pkt->caplen < at + 4 * words)
		return 0;
	for (size_t i = 0; i < words; i++)
		sum += (uint32_t)p[at + 4 * i] << 24 | (uint32_t)p[at + 4 * i + 1] << 16 |
		       (uint32_t)p[at + 4 * i + 2] << 8 | p[at + 4 * i + 3];
	return ((sum * 0x9e3779b1u) >> 16) % 2;
}

struct split {
	struct engine *engines[2];
};

/* Each packet to its pair's engine; the other is told the time, as a
 * sensor's worker is by the clock. */
static void feed_split(void *ctx, const struct packet *pkts, size_t count)
{
	struct split *s = ctx;

	for (size_t i = 0; i < count; i++) {
		unsigned w = pair_worker(&pkts[i]);

		engine_packet(s->engines[w], &pkts[i]);
		engine_clock(s->engines[1 - w], pkts[i].ts_us);
	}
}

/* Reads path into one engine, and split by address pair into two sharing
 * one DNS table (as a sensor's workers): engine_figures of the two must
 * give the one's totals, flows and per-service counts. */
static void check_split_adds_up(const char *path)
{
	struct fixture *one = fixture_new(NULL, 0, 0);
	struct fixture *two[2] = { fixture_new(NULL, 0, 0), fixture_new(NULL, 0, 0) };
	struct engine_config config = { 0 };
	struct dns_table *dns = dns_table_new(0);
	struct split split;
	struct counters *sum = counters_new(catalog_service_count(one->cat), port_index_set_count(one->idx));
	struct engine_figures figures, alone;
	struct capture_file_result result;
	struct dsm_err err;

	assert_int_equal(dns_table_share(dns), 0);
	flow_table_default_config(&config.flows);
	config.webapi = two[0]->api;
	config.shared_dns = dns;
	for (int i = 0; i < 2; i++) {
		engine_free(two[i]->engine);
		two[i]->engine = split.engines[i] = engine_new(two[0]->cat, two[0]->idx, &config, &err);
		assert_non_null(split.engines[i]);
	}
	assert_int_equal(capture_read_file(path, feed_batch, one, &result, &err), 0);
	assert_true(result.packets > 0);
	assert_int_equal(capture_read_file(path, feed_split, &split, &result, &err), 0);
	engine_settle(one->engine);
	for (int i = 0; i < 2; i++)
		engine_settle(split.engines[i]);
	assert_int_equal(engine_figures(split.engines, 2, sum, &figures), 0);
	engine_figures(&one->engine, 1, NULL, &alone);
	if (memcmp(counters_totals_const(sum), counters_totals_const(engine_counters(one->engine)),
		   sizeof(struct counter_totals)) != 0)
		fail_msg("%s: two engines' totals added up differ from one engine's", path);
	assert_int_equal(figures.active_flows, alone.active_flows);
	assert_int_equal(figures.inspect.dns_answers, alone.inspect.dns_answers);
	assert_int_equal(figures.dns.inserted, alone.dns.inserted);
	for (size_t s = 0; s < catalog_service_count(one->cat); s++)
		if (row_packets(counters_service(sum, s)) !=
		    row_packets(counters_service(engine_counters(one->engine), s)))
			fail_msg("%s: service %zu: %llu packets added up, %llu by one engine", path, s,
				 (unsigned long long)row_packets(counters_service(sum, s)),
				 (unsigned long long)row_packets(counters_service(engine_counters(one->engine), s)));
	counters_free(sum);
	fixture_free(two[1]);	/* its engine counts with two[0]'s tables */
	fixture_free(two[0]);
	dns_table_free(dns);	/* after the engines that shared it */
	fixture_free(one);
}

static void test_workers_add_up_to_one_engine(void **state)
{
	static const char *const dirs[] = { DSM_SOURCE_DIR "/pcaps", DSM_SHARED_DIR "/pcaps" };
	int checked = 0;

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		DIR *d = opendir(dirs[i]);
		struct dirent *entry;

		while (d && (entry = readdir(d))) {
			char path[1024];

			if (!strstr(entry->d_name, ".pcap") && !strstr(entry->d_name, ".cap"))
				continue;
			snprintf(path, sizeof(path), "%s/%s", dirs[i], entry->d_name);
			check_split_adds_up(path);
			checked++;
		}
		if (d)
			closedir(d);
	}
	assert_true(checked >= 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_syn_decides_the_server),
		cmocka_unit_test(test_reload_keeps_rows_and_adds_new_ones),
		cmocka_unit_test(test_counters_grow_and_rows_move),
		cmocka_unit_test(test_service_activity),
		cmocka_unit_test(test_lower_port_without_other_evidence),
		cmocka_unit_test(test_catalogue_prefers_the_specific_entry),
		cmocka_unit_test(test_nas_role_narrows_the_candidates),
		cmocka_unit_test(test_ftp_passive_and_active),
		cmocka_unit_test(test_tftp_transfer_follows_request),
		cmocka_unit_test(test_fragments_join_their_flow),
		cmocka_unit_test(test_udp_timeout_in_packet_time),
		cmocka_unit_test(test_max_flows_evicts_the_oldest),
		cmocka_unit_test(test_syn_after_close_starts_a_new_flow),
		cmocka_unit_test(test_non_ip_and_malformed_are_counted),
		cmocka_unit_test(test_webapi_name_decides_and_counts_move_whole),
		cmocka_unit_test(test_dsm_core_name_waits_for_a_package),
		cmocka_unit_test(test_evidence_outside_the_candidates_keeps_the_port),
		cmocka_unit_test(test_a_gap_ends_the_reading),
		cmocka_unit_test(test_pending_is_bounded_in_time_and_packets),
		cmocka_unit_test(test_a_full_pool_decides_by_port),
		cmocka_unit_test(test_tls_server_name_narrows),
		cmocka_unit_test(test_a_hello_cut_short_still_names_its_server),
		cmocka_unit_test(test_sequence_edge_cases),
		cmocka_unit_test(test_dns_answer_names_the_next_flow),
		cmocka_unit_test(test_workers_add_up_to_one_engine),
		cmocka_unit_test(test_batches_count_as_one_at_a_time),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
