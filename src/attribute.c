/* attribute.c - server side and service attribution of new flows, and the
 * tracking of control connections that announce other connections.
 *
 * Runs once per new flow (and per payload packet of a tracked control
 * connection), never per ordinary packet: everything it decides is stored
 * in the flow.
 */
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>

#include "dsmflow/attribute.h"
#include "dsmflow/expect.h"
#include "dsmflow/ftp.h"
#include "dsmflow/names.h"

#define TFTP_PORT 69

enum track { TRACK_NONE, TRACK_FTP };

struct service_domain {
	int service;
	const char *domain;	/* into the catalogue's domains column, not NUL-terminated */
	size_t len;
};

/* The catalogue's domain lists, for telling names of services outside a
 * flow's candidates. */
struct domain_list {
	struct service_domain *items;
	size_t count;
};

struct attributor {
	const struct catalog *cat;
	const struct port_index *idx;
	struct cidr *nas;
	size_t nas_count;
	int ftp_service;	/* owner of the dynamic FTP data range, or -1 */
	int tftp_service;	/* the service of udp/69, or -1 */
	uint8_t http_ports[65536 / 8];	/* tcp ports the catalogue labels HTTP or HTTPS */
	struct domain_list domains;	/* every catalogue domain, with its service */
	struct expect_table expect;
};

int attribute_dsm_proto(uint8_t ip_proto)
{
	switch (ip_proto) {
	case IPPROTO_TCP: return DSM_PROTO_TCP;
	case IPPROTO_UDP: return DSM_PROTO_UDP;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6: return DSM_PROTO_ICMP;
	default: return -1;
	}
}

/* The single service of proto/port's static set, or -1. */
static int sole_service(const struct port_index *idx, enum dsm_proto proto, uint16_t port)
{
	const struct candidate_set *set = port_index_set(idx, port_index_lookup(idx, proto, port));

	return set && set->count == 1 ? set->items[0].service : -1;
}

static int dynamic_tcp_service(const struct catalog *cat)
{
	for (size_t i = 0; i < catalog_record_count(cat); i++) {
		const struct dsm_record *r = catalog_record(cat, i);

		if (r->match == DSM_MATCH_DYNAMIC && r->proto == DSM_PROTO_TCP)
			return r->service;
	}
	return -1;
}

/* A label that names HTTP: "HTTP", "HTTPS", "WebDAV with HTTPS", ... */
static int label_is_http(const char *label)
{
	return strstr(label, "HTTP") != NULL;
}

static void mark_http_ports(struct attributor *a)
{
	for (size_t i = 0; i < catalog_record_count(a->cat); i++) {
		const struct dsm_record *r = catalog_record(a->cat, i);

		if (r->proto != DSM_PROTO_TCP || !label_is_http(r->label))
			continue;
		for (uint32_t p = r->first_port; p <= r->last_port; p++)
			a->http_ports[p / 8] |= (uint8_t)(1u << (p % 8));
	}
}

/* 0, or -1 when memory runs out. */
static int add_domain(struct domain_list *list, int service, const char *domain, size_t len)
{
	struct service_domain *bigger = realloc(list->items, (list->count + 1) * sizeof(*bigger));

	if (!bigger)
		return -1;
	list->items = bigger;
	list->items[list->count++] = (struct service_domain){ service, domain, len };
	return 0;
}

static int gather_domain_lists(const struct catalog *cat, struct domain_list *list)
{
	list->items = NULL;
	list->count = 0;
	for (size_t i = 0; i < catalog_record_count(cat); i++) {
		const struct dsm_record *r = catalog_record(cat, i);
		const char *d = r->domains;

		while (d && *d) {
			const char *comma = strchr(d, ',');
			size_t len = comma ? (size_t)(comma - d) : strlen(d);

			if (add_domain(list, r->service, d, len)) {
				free(list->items);
				list->items = NULL;
				return -1;
			}
			d = comma ? comma + 1 : NULL;
		}
	}
	return 0;
}

/* Whether the domains of a catalogue service other than except cover name. */
static int names_another_service(const struct attributor *a, int except, const char *name, size_t len)
{
	for (size_t i = 0; i < a->domains.count; i++)
		if (a->domains.items[i].service != except &&
		    name_matches_domain(name, len, a->domains.items[i].domain, a->domains.items[i].len))
			return 1;
	return 0;
}

int attribute_http_port(const struct attributor *a, uint16_t port)
{
	return a->http_ports[port / 8] >> (port % 8) & 1;
}

struct attributor *attributor_new(const struct catalog *cat, const struct port_index *idx,
				  const struct cidr *nas, size_t nas_count)
{
	struct attributor *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->nas = malloc((nas_count + 1) * sizeof(*nas));
	if (!a->nas) {
		free(a);
		return NULL;
	}
	if (nas_count)
		memcpy(a->nas, nas, nas_count * sizeof(*nas));
	a->nas_count = nas_count;
	a->cat = cat;
	a->idx = idx;
	a->ftp_service = dynamic_tcp_service(cat);
	a->tftp_service = sole_service(idx, DSM_PROTO_UDP, TFTP_PORT);
	mark_http_ports(a);
	if (gather_domain_lists(cat, &a->domains)) {
		attributor_free(a);
		return NULL;
	}
	return a;
}

struct attributor_plan {
	const struct catalog *cat;
	const struct port_index *idx;
	struct domain_list domains;
};

struct attributor_plan *attributor_plan(const struct catalog *cat, const struct port_index *idx)
{
	struct attributor_plan *plan = calloc(1, sizeof(*plan));

	if (!plan || gather_domain_lists(cat, &plan->domains)) {
		free(plan);
		return NULL;
	}
	plan->cat = cat;
	plan->idx = idx;
	return plan;
}

void attributor_plan_free(struct attributor_plan *plan)
{
	if (plan)
		free(plan->domains.items);
	free(plan);
}

void attributor_retarget(struct attributor *a, struct attributor_plan *plan)
{
	free(a->domains.items);
	a->domains = plan->domains;
	a->cat = plan->cat;
	a->idx = plan->idx;
	memset(a->http_ports, 0, sizeof(a->http_ports));
	mark_http_ports(a);
	a->ftp_service = dynamic_tcp_service(plan->cat);
	a->tftp_service = sole_service(plan->idx, DSM_PROTO_UDP, TFTP_PORT);
	free(plan);
}

void attributor_free(struct attributor *a)
{
	if (!a)
		return;
	free(a->domains.items);
	free(a->nas);
	free(a);
}

static const struct candidate_set *set_at(const struct attributor *a, int proto, uint16_t port)
{
	return proto < 0 ? NULL
			 : port_index_set(a->idx, port_index_lookup(a->idx, (enum dsm_proto)proto, port));
}

static int has_role(const struct candidate_set *set, uint8_t role)
{
	for (size_t i = 0; set && i < set->count; i++)
		if (set->items[i].roles & role)
			return 1;
	return 0;
}

/* The endpoint (0 or 1) that is the NAS, or -1 when neither or both are. */
static int nas_endpoint(const struct attributor *a, const struct flow_key *key)
{
	int n0, n1;

	if (!a->nas_count)
		return -1;
	n0 = cidr_match_any(a->nas, a->nas_count, key->family, key->addr[0]);
	n1 = cidr_match_any(a->nas, a->nas_count, key->family, key->addr[1]);
	return n0 == n1 ? -1 : (n0 ? 0 : 1);
}

/* Matches the flow against announced connections; on a match sets the
 * server, the service and the evidence. */
static int match_expected(struct attributor *a, struct flow *flow, uint64_t now_us)
{
	const struct flow_key *k = &flow->key;

	for (uint8_t e = 0; e < 2; e++) {
		const struct expectation *x = expect_take(&a->expect, k->family, k->ip_proto,
							  k->addr[e], k->port[e], k->addr[!e], now_us);

		if (!x)
			continue;
		flow->server = x->listener_is_server ? e : !e;
		flow->kind = FLOW_SERVICE;
		flow->attribution = x->service;
		flow->evidence = EVIDENCE_EXPECTED;
		return 1;
	}
	return 0;
}

/* Which endpoint serves, by --nas and the catalogue's roles: the NAS when
 * its port is an inbound entry, the peer when the peer's port is an
 * outbound one. -1 when that says nothing. */
static int server_by_nas(const struct attributor *a, const struct flow_key *k, int proto, int nas)
{
	if (nas < 0)
		return -1;
	if (has_role(set_at(a, proto, k->port[nas]), DSM_ROLE_INBOUND))
		return nas;
	if (has_role(set_at(a, proto, k->port[!nas]), DSM_ROLE_OUTBOUND))
		return !nas;
	return -1;
}

/* The catalogued side; with both catalogued, the more specific entry (a
 * single port before a range: a Windows client's ephemeral port often falls
 * in a catalogued range), then the one with fewer candidates, then the
 * lower port. -1 when neither is. */
static int server_by_catalog(const struct attributor *a, const struct flow_key *k, int proto)
{
	const struct candidate_set *s0 = set_at(a, proto, k->port[0]);
	const struct candidate_set *s1 = set_at(a, proto, k->port[1]);

	if (!s0 && !s1)
		return -1;
	if (!s0 || !s1)
		return s0 ? 0 : 1;
	if (s0->narrowest != s1->narrowest)
		return s0->narrowest < s1->narrowest ? 0 : 1;
	if (s0->count != s1->count)
		return s0->count < s1->count ? 0 : 1;
	if (k->port[0] != k->port[1])
		return k->port[0] < k->port[1] ? 0 : 1;
	return -1;
}

static void decide_server(const struct attributor *a, struct flow *flow, uint8_t from,
			  const struct decoded *pkt, int proto, int nas)
{
	const struct flow_key *k = &flow->key;
	int side;

	if (pkt->ip_proto == IPPROTO_TCP && (pkt->tcp_flags & TCP_SYN) && pkt->fragment != FRAG_LATER) {
		flow->server = (pkt->tcp_flags & TCP_ACK) ? from : !from;
		flow->evidence = EVIDENCE_SYN;
	} else if (pkt->ip_proto != IPPROTO_TCP && pkt->ip_proto != IPPROTO_UDP) {
		flow->server = !from;
		flow->evidence = EVIDENCE_FIRST_PACKET;
	} else if ((side = server_by_nas(a, k, proto, nas)) >= 0) {
		flow->server = (uint8_t)side;
		flow->evidence = EVIDENCE_NAS;
	} else if ((side = server_by_catalog(a, k, proto)) >= 0) {
		flow->server = (uint8_t)side;
		flow->evidence = EVIDENCE_CATALOG;
	} else {
		flow->server = k->port[0] == k->port[1] ? !from : (k->port[0] < k->port[1] ? 0 : 1);
		flow->evidence = EVIDENCE_LOWER_PORT;
	}
}

/* The server port's candidates, narrowed to the role --nas implies: the
 * NAS serving, its inbound entries; the NAS connecting out, its outbound
 * ones. A port none of whose entries has that role is no service of the
 * NAS's: the NAS's own DNS queries to a router do not make it a DNS server
 * (the flow is the NAS connecting out to an uncatalogued service, counted
 * by its port). */
static void decide_attribution(const struct attributor *a, struct flow *flow, int proto, int nas)
{
	uint16_t port = flow->key.port[flow->server];
	uint16_t set_id = proto < 0 ? PORT_INDEX_NONE
				   : port_index_lookup(a->idx, (enum dsm_proto)proto, port);
	const struct candidate_set *set;

	if (nas >= 0 && set_id != PORT_INDEX_NONE)
		set_id = port_index_role_subset(
			a->idx, set_id, nas == flow->server ? DSM_ROLE_INBOUND : DSM_ROLE_OUTBOUND);
	else if (proto == DSM_PROTO_ICMP && a->nas_count)
		set_id = PORT_INDEX_NONE;	/* ICMP is a NAS's service only when the NAS is in it */
	set = port_index_set(a->idx, set_id);
	if (!set) {
		flow->kind = FLOW_UNCLASSIFIED;
		flow->attribution = port;
	} else if (set->count == 1) {
		flow->kind = FLOW_SERVICE;
		flow->attribution = set->items[0].service;
	} else {
		flow->kind = FLOW_GROUP;
		flow->attribution = set_id;
	}
}

/* A TFTP request announces the transfer: the server answers from a new
 * port to the client's port. */
static void expect_tftp_transfer(struct attributor *a, const struct flow *flow, uint8_t from,
				 uint64_t now_us)
{
	struct expectation x = {
		.family = flow->key.family, .ip_proto = IPPROTO_UDP, .listener_is_server = 0,
		.listen_port = flow->key.port[from], .service = (uint16_t)a->tftp_service,
		.expires_us = now_us + EXPECT_TIMEOUT_US,
	};

	memcpy(x.listen_addr, flow->key.addr[from], 16);
	memcpy(x.peer_addr, flow->key.addr[!from], 16);
	expect_add(&a->expect, &x);
}

void attribute_flow(struct attributor *a, struct flow *flow, uint8_t from,
		    const struct decoded *pkt, uint64_t now_us)
{
	int proto = attribute_dsm_proto(pkt->ip_proto);
	int nas = nas_endpoint(a, &flow->key);

	if (!match_expected(a, flow, now_us)) {
		decide_server(a, flow, from, pkt, proto, nas);
		decide_attribution(a, flow, proto, nas);
	}
	if (flow->kind != FLOW_SERVICE)
		return;
	if (flow->attribution == a->ftp_service && flow->evidence != EVIDENCE_EXPECTED &&
	    pkt->ip_proto == IPPROTO_TCP)
		flow->tracked = TRACK_FTP;
	else if (flow->attribution == a->tftp_service && flow->evidence != EVIDENCE_EXPECTED &&
		 pkt->ip_proto == IPPROTO_UDP && from != flow->server)
		expect_tftp_transfer(a, flow, from, now_us);
}

void attribute_payload(struct attributor *a, const struct flow *flow, uint8_t from,
		       const struct decoded *pkt, uint64_t now_us)
{
	struct expectation x = {
		.family = flow->key.family, .ip_proto = IPPROTO_TCP, .listener_is_server = 1,
		.service = flow->attribution, .expires_us = now_us + EXPECT_TIMEOUT_US,
	};
	enum ftp_announce announce;
	uint8_t listener;

	if (flow->tracked != TRACK_FTP || pkt->payload_len == 0)
		return;
	announce = ftp_parse(pkt->payload, pkt->payload_len, &x.listen_port);
	/* passive: the server says where it listens; active: the client does */
	if (announce == FTP_PASSIVE && from == flow->server)
		listener = flow->server;
	else if (announce == FTP_ACTIVE && from != flow->server)
		listener = !flow->server;
	else
		return;
	memcpy(x.listen_addr, flow->key.addr[listener], 16);
	memcpy(x.peer_addr, flow->key.addr[!listener], 16);
	expect_add(&a->expect, &x);
}

/* ---- payload evidence ---- */

/* Whether service is one of the flow's candidates (its port attribution). */
static int is_candidate(const struct attributor *a, const struct flow *flow, int service)
{
	const struct candidate_set *set;

	if (flow->kind == FLOW_SERVICE)
		return flow->attribution == service;
	if (flow->kind != FLOW_GROUP)
		return 0;
	set = port_index_set(a->idx, flow->attribution);
	for (size_t i = 0; set && i < set->count; i++)
		if (set->items[i].service == service)
			return 1;
	return 0;
}

void attribute_judge_webapi(const struct attributor *a, const struct flow *flow,
			    const struct webapi_entry *entry, struct verdict *out)
{
	const struct dsm_service *svc = catalog_service(a->cat, (size_t)entry->service_id);
	int own_category = svc && strcmp(svc->category, WEBAPI_CATEGORY) == 0;

	*out = (struct verdict){ .strength = STRENGTH_NOTE, .by = SERVICE_BY_WEBAPI };
	if (!svc)
		return;
	if (is_candidate(a, flow, entry->service_id)) {
		out->strength = entry->dsm_core ? STRENGTH_WEBAPI_CORE : STRENGTH_WEBAPI;
	} else if (own_category || flow->kind == FLOW_UNCLASSIFIED) {
		out->strength = entry->dsm_core ? STRENGTH_WEBAPI_CORE : STRENGTH_WEBAPI;
		out->marks = flow->kind == FLOW_UNCLASSIFIED ? FLOW_MARK_UNCATALOGUED : 0;
	} else {
		out->marks = FLOW_MARK_OUTSIDE;
		return;
	}
	out->kind = FLOW_SERVICE;
	out->attribution = (uint16_t)entry->service_id;
}

void attribute_judge_name(const struct attributor *a, const struct flow *flow, uint8_t by,
			  const char *name, size_t len, struct verdict *out)
{
	const struct candidate_set *set;
	uint16_t subset;

	*out = (struct verdict){ .strength = STRENGTH_NOTE, .by = by };
	if (name_remote_access(name, len) != REMOTE_ACCESS_NONE) {
		out->marks = FLOW_MARK_REMOTE_ACCESS;
		return;
	}
	subset = flow->kind == FLOW_GROUP ? port_index_name_subset(a->idx, flow->attribution, name, len)
					  : PORT_INDEX_NONE;
	set = port_index_set(a->idx, subset);
	if (!set) {
		if (names_another_service(a, flow->kind == FLOW_SERVICE ? flow->attribution : -1, name, len))
			out->marks = FLOW_MARK_OUTSIDE;	/* a catalogued service's name, not a candidate's */
		return;
	}
	out->strength = by == SERVICE_BY_SNI ? STRENGTH_SNI : STRENGTH_DNS;
	out->kind = set->count == 1 ? FLOW_SERVICE : FLOW_GROUP;
	out->attribution = set->count == 1 ? set->items[0].service : subset;
}

void attribute_settle(struct flow *flow, const struct verdict *v)
{
	flow->marks |= v->marks;
	if (v->strength > STRENGTH_NOTE) {
		flow->kind = v->kind;
		flow->attribution = v->attribution;
		flow->decided_by = v->by;
	} else {
		flow->decided_by = flow->evidence == EVIDENCE_EXPECTED ? SERVICE_BY_ANNOUNCEMENT
									 : SERVICE_BY_PORT;
	}
}
