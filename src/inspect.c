/* inspect.c - the bounded payload inspection; see inspect.h for which
 * flows, the budget and the pending rule.
 *
 * A fixed pool of slots, allocated at creation: each holds one flow's
 * parser state (an HTTP scanner or a TLS ClientHello parser, never both),
 * where its client stream is (TCP sequence numbers: only bytes in order
 * are fed, a gap ends the inspection) and the strongest evidence found so
 * far. Active slots are in one of three lists, each in the order they
 * started, so that expiry looks at the heads only: flows waiting for their
 * first client bytes, flows being read, and flows already decided whose
 * HTTP requests are still counted within the budget. A new flow that finds
 * no free slot takes the oldest decided one's (deciding a flow matters more
 * than counting requests), else the oldest waiting one's, whose flow is
 * decided by its port then: a flood of SYNs (a port scan) cannot hold the
 * pool against flows that send something.
 * Findings are judged by attribute.c against the flow's candidates; the
 * engine is told through hooks when a flow is decided.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>

#include "dsmflow/cursor.h"
#include "dsmflow/dns.h"
#include "dsmflow/evidence.h"
#include "dsmflow/flowlog.h"
#include "dsmflow/http.h"
#include "dsmflow/inspect.h"
#include "dsmflow/jsonout.h"
#include "dsmflow/netaddr.h"
#include "dsmflow/tls.h"

#define FIRST_BYTES 4u	/* client bytes the choice of parser looks at */

enum parser { PARSER_WAITING, PARSER_HTTP, PARSER_TLS };

struct slot {
	struct flow *flow;		/* NULL: free */
	uint32_t older, newer;		/* slot ids: its list, by start; the free list by newer */
	uint64_t started_us;
	uint32_t next_seq;		/* of the client's next byte */
	uint32_t client_bytes;		/* client payload fed */
	uint16_t packets;
	uint8_t seq_known, parser, pending;
	uint8_t marks;			/* of every finding */
	uint8_t hello_judged;		/* the ClientHello's server name was taken into account */
	uint8_t first_len;
	uint8_t first[FIRST_BYTES];	/* the client's first bytes, until a parser is chosen */
	uint32_t kept;			/* the evidence id decide returned */
	struct verdict best;
	int request_service;		/* the current request's strongest Web API name's */
	uint8_t request_core;		/* ... service, and whether it is DSM-core */
	uint16_t value_len;		/* (fields from here on are not reset between flows) */
	char value[EVIDENCE_VALUE_MAX + 1];	/* what the best finding said */
	union {
		struct http_scan http;
		struct tls_hello tls;
	} p;
};

enum { LIST_WAITING, LIST_READING, LIST_DECIDED, LISTS };

struct slot_list {
	uint32_t oldest, newest;	/* slot ids */
};

struct inspector {
	struct slot *slots;		/* [1..count]; 0 is "none" */
	size_t count;
	uint32_t free_head;
	struct slot_list lists[LISTS];
	uint32_t never_used;		/* slots [never_used..count] were never handed out */
	struct attributor *attr;
	const struct webapi_table *webapi;
	struct dns_table *dns;
	struct inspect_hooks hooks;
	FILE *log;
	struct inspect_stats stats;
	uint64_t now_us;		/* of the packet being read */
	char dns_name[DNS_NAME_MAX + 1];	/* the last name the DNS table gave (a copy:
						 * the table may be shared) */
};

/* What an HTTP or DNS callback needs. */
struct reading {
	struct inspector *in;
	struct slot *slot;
	const struct flow *flow;	/* or NULL: a packet without a flow */
	int aside;			/* another engine counts and logs it (inspect_dns_aside) */
};

struct inspector *inspector_new(size_t slots, struct attributor *attr,
				const struct webapi_table *webapi, struct dns_table *dns,
				const struct inspect_hooks *hooks, FILE *evidence_log)
{
	struct inspector *in = calloc(1, sizeof(*in));

	if (!in)
		return NULL;
	in->count = slots ? slots : INSPECT_DEFAULT_SLOTS;
	in->slots = calloc(in->count + 1, sizeof(*in->slots));
	if (!in->slots) {
		free(in);
		return NULL;
	}
	in->never_used = 1;	/* slots are handed out in order first: no page is touched before use */
	in->attr = attr;
	in->webapi = webapi;
	in->dns = dns;
	in->hooks = *hooks;
	in->log = evidence_log;
	in->stats.slots = in->count;
	return in;
}

void inspector_free(struct inspector *in)
{
	if (!in)
		return;
	free(in->slots);
	free(in);
}

void inspector_set_webapi(struct inspector *in, const struct webapi_table *webapi)
{
	in->webapi = webapi;
}

void inspector_set_log(struct inspector *in, FILE *evidence_log)
{
	if (in->log)
		in->log = evidence_log;
}

void inspect_stats(const struct inspector *in, struct inspect_stats *out)
{
	*out = in->stats;
}

/* ---- which flows ---- */

int inspect_wanted(const struct inspector *in, const struct flow *flow)
{
	if (flow->key.ip_proto != IPPROTO_TCP || flow->evidence == EVIDENCE_EXPECTED)
		return 0;
	return flow->kind != FLOW_SERVICE ||
	       attribute_http_port(in->attr, flow->key.port[flow->server]);
}

/* ---- the evidence log ---- */

static void log_begin(const struct inspector *in, const struct flow *flow)
{
	fputs("{\"ts\": ", in->log);
	flowlog_time(in->log, in->now_us);
	fputs(", ", in->log);
	flowlog_tuple(in->log, flow);
}

static void log_request(const struct inspector *in, const struct flow *flow,
			const struct http_scan *http)
{
	log_begin(in, flow);
	fputs(", \"http_request\": ", in->log);
	json_string(in->log, http->uri);
	if (http->uri_cut)
		fputs(", \"http_request_cut\": true", in->log);
	fputs("}\n", in->log);
}

static void log_name(const struct inspector *in, const struct flow *flow, const char *key,
		     const char *name, const struct webapi_entry *entry)
{
	log_begin(in, flow);
	fprintf(in->log, ", \"%s\": ", key);
	json_string(in->log, name);
	if (entry) {
		fputs(", \"package\": ", in->log);
		json_string(in->log, entry->package);
	}
	fputs("}\n", in->log);
}

static void log_hello(const struct inspector *in, const struct flow *flow,
		      const struct tls_hello *tls)
{
	log_begin(in, flow);
	fputs(", \"tls_server_name\": ", in->log);
	json_string(in->log, tls->server_name);
	fputs(", \"tls_alpn\": ", in->log);
	json_string(in->log, tls->alpn);
	fputs("}\n", in->log);
}

/* ---- slots ---- */

static struct slot *slot_of(struct inspector *in, const struct flow *flow)
{
	return &in->slots[flow->note];
}

static uint32_t slot_id(const struct inspector *in, const struct slot *slot)
{
	return (uint32_t)(slot - in->slots);
}

static struct slot_list *list_of(struct inspector *in, const struct slot *slot)
{
	if (!slot->pending)
		return &in->lists[LIST_DECIDED];
	return &in->lists[slot->parser == PARSER_WAITING ? LIST_WAITING : LIST_READING];
}

static void slot_unlink(struct inspector *in, struct slot *slot)
{
	struct slot_list *list = list_of(in, slot);

	if (slot->older)
		in->slots[slot->older].newer = slot->newer;
	else
		list->oldest = slot->newer;
	if (slot->newer)
		in->slots[slot->newer].older = slot->older;
	else
		list->newest = slot->older;
}

/* Puts slot at the newest end of its list. Slots go in in the order their
 * flows started (a decided slot moves lists at once, so its list stays in
 * that order too, up to the few flows decided out of turn: expiry is then
 * late by their difference at most, within INSPECT_MAX_US). */
static void slot_append(struct inspector *in, struct slot *slot)
{
	struct slot_list *list = list_of(in, slot);
	uint32_t id = slot_id(in, slot);

	slot->older = list->newest;
	slot->newer = 0;
	if (list->newest)
		in->slots[list->newest].newer = id;
	else
		list->oldest = id;
	list->newest = id;
}

/* Takes finding v (value[0..len) said it) into account. */
static void offer(struct slot *slot, const struct verdict *v, const char *value, size_t len)
{
	slot->marks |= v->marks & (FLOW_MARK_REMOTE_ACCESS | FLOW_MARK_OUTSIDE);
	if (v->strength <= slot->best.strength)
		return;
	slot->best = *v;
	if (len > EVIDENCE_VALUE_MAX)
		len = EVIDENCE_VALUE_MAX;
	memcpy(slot->value, value, len);
	slot->value[len] = '\0';
	slot->value_len = (uint16_t)len;
}

/* Decides the flow by the best evidence so far, once. */
static void settle(struct inspector *in, struct slot *slot)
{
	struct verdict v = slot->best;

	if (!slot->pending)
		return;
	slot_unlink(in, slot);
	slot->pending = 0;
	slot_append(in, slot);
	v.marks |= slot->marks;
	slot->kept = in->hooks.decide(in->hooks.ctx, slot->flow, &v, slot->value, slot->value_len);
}

static void request_done(struct inspector *in, struct slot *slot)
{
	if (slot->request_service >= 0)
		in->hooks.webapi_request(in->hooks.ctx, slot->request_service);
	slot->request_service = -1;
	slot->request_core = 0;
}

static void judge_hello(struct inspector *in, struct slot *slot, int ended);

/* Ends slot's inspection for good: decides its flow if pending. */
static void release(struct inspector *in, struct slot *slot)
{
	struct flow *flow = slot->flow;

	if (slot->parser == PARSER_HTTP)
		request_done(in, slot);
	if (slot->parser == PARSER_TLS)
		judge_hello(in, slot, 0);	/* a hello cut short may have named its server already */
	settle(in, slot);
	flow->payload &= (uint8_t)~FLOW_PAYLOAD_INSPECT;
	flow->note = slot->kept;
	slot_unlink(in, slot);
	slot->flow = NULL;
	slot->newer = in->free_head;
	in->free_head = slot_id(in, slot);
	in->stats.slots_used--;
}

int inspect_start(struct inspector *in, struct flow *flow, uint64_t now_us)
{
	struct slot *slot;
	const char *name;
	size_t len;
	struct verdict v;

	if (in->free_head) {
		slot = &in->slots[in->free_head];
		in->free_head = slot->newer;
	} else if (in->never_used <= in->count) {
		slot = &in->slots[in->never_used++];
	} else if (in->lists[LIST_DECIDED].oldest || in->lists[LIST_WAITING].oldest) {
		/* its requests are counted no further, or its flow is decided by
		 * port: the pool was full for it (counted as one without a slot) */
		int decided = in->lists[LIST_DECIDED].oldest != 0;

		slot = &in->slots[in->lists[decided ? LIST_DECIDED : LIST_WAITING].oldest];
		if (decided)
			in->stats.requests_cut++;
		else
			in->stats.no_slot++;
		release(in, slot);
		in->free_head = slot->newer;
	} else {
		in->stats.no_slot++;
		return 0;
	}
	memset(slot, 0, offsetof(struct slot, value_len));
	slot->value_len = 0;
	slot->flow = flow;
	slot->started_us = now_us;
	slot->pending = 1;
	slot->request_service = -1;
	slot_append(in, slot);
	flow->note = slot_id(in, slot);
	flow->payload |= FLOW_PAYLOAD_INSPECT;
	in->stats.started++;
	in->stats.slots_used++;
	inspect_dns_verdict(in, flow, now_us, &v, &name, &len);
	if (len)
		offer(slot, &v, name, len);
	return 1;
}

void inspect_decide_at_once(struct inspector *in, struct flow *flow, uint64_t now_us)
{
	struct verdict v = { 0 };
	const char *name = NULL;
	size_t len = 0;

	if (flow->kind == FLOW_GROUP)
		inspect_dns_verdict(in, flow, now_us, &v, &name, &len);
	flow->note = in->hooks.decide(in->hooks.ctx, flow, &v, name, len);
}

void inspect_dns_verdict(struct inspector *in, const struct flow *flow, uint64_t now_us,
			 struct verdict *out, const char **name, size_t *len)
{
	size_t found = dns_table_copy(in->dns, flow->key.family, flow->key.addr[flow->server], now_us,
				      in->dns_name);

	*out = (struct verdict){ 0 };
	*name = found ? in->dns_name : NULL;
	*len = found;
	if (found)
		attribute_judge_name(in->attr, flow, SERVICE_BY_DNS, in->dns_name, found, out);
}

/* ---- HTTP ---- */

static const struct webapi_entry *lookup_name(const struct inspector *in, enum http_name_kind kind,
					      const char *text, size_t len)
{
	static const enum webapi_match match[] = {
		[HTTP_NAME_API] = WEBAPI_API, [HTTP_NAME_CGI_DIR] = WEBAPI_CGI,
		[HTTP_NAME_PACKAGE_ID] = WEBAPI_PKGID,
	};

	return in->webapi ? webapi_lookup(in->webapi, match[kind], text, len) : NULL;
}

/* The request's strongest name: a package's before DSM's own. */
static void note_request_name(struct slot *slot, const struct webapi_entry *entry)
{
	if (slot->request_service < 0 || (slot->request_core && !entry->dsm_core)) {
		slot->request_service = entry->service_id;
		slot->request_core = (uint8_t)entry->dsm_core;
	}
}

static void on_http(void *ctx, enum http_event ev, enum http_name_kind kind, const char *text,
		    size_t len)
{
	struct reading *r = ctx;
	const struct webapi_entry *entry;
	struct verdict v;

	if (ev == HTTP_EV_REQUEST_END) {
		request_done(r->in, r->slot);
		return;
	}
	if (ev == HTTP_EV_REQUEST_LINE) {
		if (r->in->log)
			log_request(r->in, r->flow, &r->slot->p.http);
		return;
	}
	entry = lookup_name(r->in, kind, text, len);
	if (r->in->log)
		log_name(r->in, r->flow, kind == HTTP_NAME_API ? "webapi_name"
				       : kind == HTTP_NAME_CGI_DIR ? "webapi_cgi_dir" : "package_id",
			 text, entry);
	if (!entry)
		return;
	note_request_name(r->slot, entry);
	attribute_judge_webapi(r->in->attr, r->flow, entry, &v);
	offer(r->slot, &v, text, len);
	if (v.strength == STRENGTH_WEBAPI)
		settle(r->in, r->slot);
}

/* ---- the client stream ---- */

/* Feeds data to the slot's parser; 0 when its inspection should end. */
static int feed_parser(struct inspector *in, struct slot *slot, const uint8_t *data, uint32_t len)
{
	struct reading r = { in, slot, slot->flow, 0 };
	enum tls_result tls;

	if (slot->parser == PARSER_HTTP)
		return http_scan_feed(&slot->p.http, data, len, on_http, &r) == HTTP_MORE;
	tls = tls_hello_feed(&slot->p.tls, data, len);
	if (tls == TLS_MORE)
		return 1;
	if (tls == TLS_DONE)
		judge_hello(in, slot, 1);
	return 0;
}

/* Takes the ClientHello's server name into account, once: when the hello
 * has ended, or when the reading stops with a name already read. */
static void judge_hello(struct inspector *in, struct slot *slot, int ended)
{
	const struct tls_hello *tls = &slot->p.tls;
	size_t n = strlen(tls->server_name);
	struct verdict v;

	if (slot->hello_judged || (!n && !ended))
		return;
	slot->hello_judged = 1;
	if (in->log)
		log_hello(in, slot->flow, tls);
	if (n) {
		attribute_judge_name(in->attr, slot->flow, SERVICE_BY_SNI, tls->server_name, n, &v);
		offer(slot, &v, tls->server_name, n);
	}
}

/* The first client bytes, gathered until FIRST_BYTES have come (or two
 * that start a TLS handshake), choose the parser: one compare each. Returns
 * 1 with the parser chosen and its first earlier bytes fed, 0 while more
 * are needed, -1 when neither parser fits. */
static int choose_parser(struct inspector *in, struct slot *slot, const uint8_t *data, uint32_t len)
{
	uint8_t earlier = slot->first_len;
	uint32_t n = len < FIRST_BYTES - earlier ? len : FIRST_BYTES - earlier;

	memcpy(slot->first + earlier, data, n);
	slot->first_len = (uint8_t)(earlier + n);
	if (tls_looks_like_hello(slot->first, slot->first_len)) {
		slot_unlink(in, slot);
		slot->parser = PARSER_TLS;
		tls_hello_init(&slot->p.tls);
	} else if (http_looks_like_request(slot->first, slot->first_len)) {
		slot_unlink(in, slot);
		slot->parser = PARSER_HTTP;
		http_scan_init(&slot->p.http);
	} else {
		return slot->first_len < FIRST_BYTES ? 0 : -1;
	}
	slot_append(in, slot);	/* now on the list of flows being read */
	return !earlier || feed_parser(in, slot, slot->first, earlier) ? 1 : -1;
}

/* Client payload in sequence order; 0 when the inspection should end. */
static int client_payload(struct inspector *in, struct slot *slot, const struct decoded *d)
{
	const uint8_t *data = d->payload;
	uint32_t len = d->payload_len, room, behind;
	uint32_t seq = d->tcp_seq + ((d->tcp_flags & TCP_SYN) ? 1 : 0);	/* a SYN's data follows it */
	int chosen;

	if (!slot->seq_known) {
		slot->next_seq = seq;
		slot->seq_known = 1;
	}
	behind = slot->next_seq - seq;
	if (behind != 0 && behind < 0x80000000u) {	/* a retransmission, maybe with new bytes */
		if (behind >= len)
			return 1;
		data += behind;
		len -= behind;
	} else if (behind != 0) {
		return 0;	/* a gap: a lost or reordered segment, or one cut by the snapshot */
	}
	room = INSPECT_CLIENT_BYTES - slot->client_bytes;
	if (len > room)
		len = room;
	slot->next_seq += len;
	slot->client_bytes += len;
	if (slot->parser == PARSER_WAITING) {
		chosen = choose_parser(in, slot, data, len);
		if (chosen <= 0)
			return chosen == 0 && slot->client_bytes < INSPECT_CLIENT_BYTES;
	}
	return feed_parser(in, slot, data, len) && slot->client_bytes < INSPECT_CLIENT_BYTES;
}

/* ---- DNS ---- */

static void on_answer(void *ctx, const char *name, size_t name_len, int family,
		      const uint8_t *addr, uint32_t ttl)
{
	struct reading *r = ctx;
	struct inspector *in = r->in;
	char text[64];

	dns_table_put(in->dns, family, addr, name, name_len, ttl, in->now_us);
	if (r->aside)
		return;		/* the owner counts and logs it */
	in->stats.dns_answers++;
	if (!in->log || !r->flow)
		return;
	log_begin(in, r->flow);
	fputs(", \"dns_answer\": {\"name\": ", in->log);
	json_string(in->log, name);
	fprintf(in->log, ", \"address\": \"%s\", \"ttl\": %u}}\n",
		addr_format((uint8_t)family, addr, text, sizeof(text)), ttl);
}

/* A DNS message from the server: UDP's whole payload, or over TCP one
 * message with its length prefix within the segment. */
static void read_dns(struct inspector *in, const struct flow *flow, const struct decoded *d, int aside)
{
	struct reading r = { in, NULL, flow, aside };
	struct cursor c = cur_make(d->payload, d->payload_len);
	const uint8_t *prefix, *msg;
	uint32_t len = d->payload_len;

	if (d->ip_proto == IPPROTO_TCP) {
		prefix = cur_take(&c, 2);
		if (!prefix)
			return;
		len = rd_be16(prefix);
	}
	msg = cur_take(&c, len);
	if (msg)
		dns_parse_response(msg, len, on_answer, &r);
}

/* ---- per packet ---- */

int inspect_is_dns_message(const struct decoded *d)
{
	return (d->ip_proto == IPPROTO_UDP || d->ip_proto == IPPROTO_TCP) &&
	       d->sport == DECODE_DNS_PORT && d->payload_len && d->fragment == FRAG_NONE;
}

void inspect_dns(struct inspector *in, const struct flow *flow, const struct decoded *d,
		 uint64_t now_us)
{
	in->now_us = now_us;
	read_dns(in, flow, d, 0);
}

void inspect_dns_aside(struct inspector *in, const struct decoded *d, uint64_t now_us)
{
	in->now_us = now_us;
	read_dns(in, NULL, d, 1);
}

void inspect_packet(struct inspector *in, struct flow *flow, uint8_t from, const struct decoded *d,
		    uint64_t now_us)
{
	struct slot *slot;
	int go_on = 1;

	in->now_us = now_us;
	if (!(flow->payload & FLOW_PAYLOAD_INSPECT))
		return;
	slot = slot_of(in, flow);
	if (from != flow->server && d->payload_len && d->fragment == FRAG_NONE)
		go_on = client_payload(in, slot, d);
	/* a FIN or RST closes the connection: nothing more to read (the flow
	 * itself lingers for conntrack's closing timeout, its slot must not) */
	if (!go_on || ++slot->packets >= INSPECT_MAX_PACKETS || (d->tcp_flags & (TCP_FIN | TCP_RST)))
		release(in, slot);
}

void inspect_flow_end(struct inspector *in, struct flow *flow)
{
	if (flow->payload & FLOW_PAYLOAD_INSPECT)
		release(in, slot_of(in, flow));
}

void inspect_expire(struct inspector *in, uint64_t now_us)
{
	for (int l = 0; l < LISTS; l++) {
		struct slot_list *list = &in->lists[l];

		while (list->oldest && now_us - in->slots[list->oldest].started_us > INSPECT_MAX_US)
			release(in, &in->slots[list->oldest]);
	}
}

void inspect_end_all(struct inspector *in)
{
	for (int l = 0; l < LISTS; l++)
		while (in->lists[l].oldest)
			release(in, &in->slots[in->lists[l].oldest]);
}

