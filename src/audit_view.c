/* audit_view.c - what one NAS's audit says, gathered once for every
 * output (the report formats, the firewall proposal): its entries sorted
 * by bytes, the services in use and possibly in use, the catalogued
 * inbound services and ports nothing in use needs; and the names entries
 * go by. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit_state.h"
#include "dsmflow/decode.h"
#include "dsmflow/report.h"



uint64_t audit_entry_bytes(const struct audit_entry *e)
{
	return e->bytes[TO_SERVER] + e->bytes[TO_CLIENT];
}

static int by_bytes(const void *x, const void *y)
{
	const struct audit_entry *a = *(const struct audit_entry *const *)x;
	const struct audit_entry *b = *(const struct audit_entry *const *)y;

	if (audit_entry_bytes(a) != audit_entry_bytes(b))
		return audit_entry_bytes(a) < audit_entry_bytes(b) ? 1 : -1;
	return memcmp(&a->key, &b->key, sizeof(a->key));
}

static void mark_inbound_services(const struct catalog *cat, uint8_t *inbound)
{
	for (size_t i = 0; i < catalog_record_count(cat); i++)
		if (catalog_record(cat, i)->role & DSM_ROLE_INBOUND)
			inbound[catalog_record(cat, i)->service] = 1;
}

static void mark_in_use(struct audit_view *v)
{
	for (size_t i = 0; i < v->entry_count; i++) {
		const struct audit_entry *e = v->entries[i];
		const struct candidate_set *set;

		if (e->key.role != AUDIT_IN)
			continue;
		for (size_t p = 0; p < e->port_count; p++)
			if (e->port_protos[p] == 6 || e->port_protos[p] == 17)
				v->seen[e->port_protos[p] == 17][e->ports[p] / 8] |= (uint8_t)(1u << (e->ports[p] % 8));
		if (e->key.kind == FLOW_SERVICE)
			v->used[e->key.id] = 1;
		if (e->key.kind != FLOW_GROUP || !(set = port_index_set(v->idx, e->key.id)))
			continue;
		for (size_t c = 0; c < set->count; c++)
			if (!v->possible_group[set->items[c].service])
				v->possible_group[set->items[c].service] = e->key.id;
	}
}

void audit_view_free(struct audit_view *v)
{
	free(v->entries);
	free(v->used);
	free(v->possible_group);
	free(v->inbound);
}

int audit_view_make(struct audit_view *v, const struct audit *a, size_t nas_index,
		    const struct catalog *cat, const struct port_index *idx)
{
	const struct audit_nas *nas = &a->nas[nas_index];
	size_t services = catalog_service_count(cat) + 1, n = 0;
	const struct audit_entry *e;

	memset(v, 0, sizeof(*v));
	v->audit = a;
	v->cat = cat;
	v->idx = idx;
	v->nas = nas;
	v->entries = malloc((nas->entry_count + 1) * sizeof(*v->entries));
	v->used = calloc(services, 1);
	v->possible_group = calloc(services, sizeof(int));
	v->inbound = calloc(services, 1);
	if (!v->entries || !v->used || !v->possible_group || !v->inbound) {
		audit_view_free(v);
		return -1;
	}
	for (e = nas->entries; e; e = e->hh.next)
		v->entries[n++] = e;
	v->entry_count = n;
	qsort(v->entries, n, sizeof(*v->entries), by_bytes);
	mark_inbound_services(v->cat, v->inbound);
	mark_in_use(v);
	return 0;
}

/* Whether proto/port was served in the window, or any service that serves
 * it is in use or may be. */
static int port_needed(const struct audit_view *v, enum dsm_proto proto,
		       uint16_t port)
{
	const struct candidate_set *set = port_index_set(v->idx, port_index_lookup(v->idx, proto, port));

	if (proto != DSM_PROTO_ICMP && v->seen[proto == DSM_PROTO_UDP][port / 8] >> (port % 8) & 1)
		return 1;	/* e.g. an FTP data port, which no static entry names */
	for (size_t c = 0; set && c < set->count; c++)
		if (v->used[set->items[c].service] || v->possible_group[set->items[c].service])
			return 1;
	return 0;
}

/* Whether the static inbound record r serves nothing in use. */
static int record_closable(const struct audit_view *v, const struct dsm_record *r)
{
	if (!(r->role & DSM_ROLE_INBOUND) || r->match != DSM_MATCH_STATIC)
		return 0;
	for (uint32_t p = r->first_port; p <= r->last_port; p++)
		if (port_needed(v, (enum dsm_proto)r->proto, (uint16_t)p))
			return 0;
	return 1;
}

static void port_text(enum dsm_proto proto, uint16_t first, uint16_t last, char *buf, size_t size)
{
	if (proto == DSM_PROTO_ICMP)
		snprintf(buf, size, "icmp");
	else if (first == last)
		snprintf(buf, size, "%s/%u", dsm_proto_name(proto), first);
	else
		snprintf(buf, size, "%s/%u-%u", dsm_proto_name(proto), first, last);
}

/* The closable ports, each once, in catalogue order; calls fn with each. */
void audit_each_closable(const struct audit_view *v,
			  void (*fn)(void *ctx, const char *text), void *ctx)
{
	size_t n = catalog_record_count(v->cat);
	char (*seen)[24] = calloc(n + 1, sizeof(*seen));
	size_t seen_count = 0;

	for (size_t i = 0; seen && i < n; i++) {
		const struct dsm_record *r = catalog_record(v->cat, i);
		char text[24];
		size_t j;

		if (!record_closable(v, r))
			continue;
		port_text((enum dsm_proto)r->proto, r->first_port, r->last_port, text, sizeof(text));
		for (j = 0; j < seen_count && strcmp(seen[j], text) != 0; j++)
			;
		if (j < seen_count)
			continue;
		memcpy(seen[seen_count++], text, sizeof(text));
		fn(ctx, text);
	}
	free(seen);
}

/* The ports a service's inbound records name, "tcp/80, tcp/443". */
void audit_service_ports(const struct catalog *cat, size_t service, char *buf, size_t size)
{
	size_t at = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < catalog_record_count(cat) && at + 24 < size; i++) {
		const struct dsm_record *r = catalog_record(cat, i);
		char text[24];

		if (r->service != service || !(r->role & DSM_ROLE_INBOUND))
			continue;
		if (r->match == DSM_MATCH_DYNAMIC)
			snprintf(text, sizeof(text), "%s/%u-%u*", dsm_proto_name((enum dsm_proto)r->proto),
				 r->first_port, r->last_port);
		else
			port_text((enum dsm_proto)r->proto, r->first_port, r->last_port, text, sizeof(text));
		at += (size_t)snprintf(buf + at, size - at, "%s%s", at ? ", " : "", text);
	}
}

/* ---- names of entries ---- */

/* A served port as text: "tcp/445", "icmp" (ICMP has no ports). */
const char *audit_seen_port(const struct audit_entry *e, size_t i, char *buf, size_t size)
{
	char proto[16];

	if (e->port_protos[i] == 1 || e->port_protos[i] == 58)
		snprintf(buf, size, "%s", decode_ip_proto_name(e->port_protos[i], proto, sizeof(proto)));
	else
		snprintf(buf, size, "%s/%u", decode_ip_proto_name(e->port_protos[i], proto, sizeof(proto)),
			 e->ports[i]);
	return buf;
}

const char *audit_entry_name(const struct audit_view *v, const struct audit_entry *e, char *buf,
			      size_t size)
{
	const struct candidate_set *set;

	switch (e->key.kind) {
	case FLOW_SERVICE:
		return catalog_service(v->cat, e->key.id)->name;
	case FLOW_GROUP:
		set = port_index_set(v->idx, e->key.id);
		if (!set)
			return "?";
		report_group_name(v->cat, set, buf, size);
		return buf;
	default: {
		char proto[16];

		snprintf(buf, size, "%s/%u", decode_ip_proto_name(e->key.ip_proto, proto, sizeof(proto)),
			 e->key.id);
		return buf;
	}
	}
}

const char *audit_entry_category(const struct audit_view *v, const struct audit_entry *e)
{
	const struct candidate_set *set;

	if (e->key.kind == FLOW_SERVICE)
		return catalog_service(v->cat, e->key.id)->category;
	if (e->key.kind == FLOW_GROUP && (set = port_index_set(v->idx, e->key.id)))
		return report_group_category(v->cat, set);
	return "Uncatalogued";
}

const char *audit_kind_name(const struct audit_entry *e)
{
	return e->key.kind == FLOW_SERVICE ? "service" : e->key.kind == FLOW_GROUP ? "group" : "port";
}

void audit_clock_text(uint64_t us, char *buf, size_t size)
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(buf, size, "?");
}

/* An entry's name as the table shows it: a group by its port(s) and its
 * lead candidate, so that names with commas inside cannot be misread. */
const char *audit_table_name(const struct audit_view *v, const struct audit_entry *e, char *buf,
			      size_t size)
{
	char name[160], port[24];

	if (e->key.kind != FLOW_GROUP || !e->port_count)
		return audit_entry_name(v, e, buf, size);
	snprintf(buf, size, "%s%s %s", audit_seen_port(e, 0, port, sizeof(port)),
		 e->port_count > 1 ? "+" : "", audit_entry_name(v, e, name, sizeof(name)));
	return buf;
}


static const struct {
	uint8_t bit;
	const char *key, *words;
} detections[] = {
	{ AUDIT_BY_OPTION, "--nas", "given with --nas" },
	{ AUDIT_BY_WEBAPI, "dsm-web-api", "it served DSM Web API requests on tcp/5000-5001" },
	{ AUDIT_BY_ASSISTANT, "synology-assistant", "it answered a Synology Assistant search" },
	{ AUDIT_BY_MAC, "synology-mac", "its MAC address is Synology's" },
};

void audit_detected_json(FILE *out, uint8_t by)
{
	int first = 1;

	fputc('[', out);
	for (size_t i = 0; i < sizeof(detections) / sizeof(detections[0]); i++) {
		if (!(by & detections[i].bit))
			continue;
		fprintf(out, "%s\"%s\"", first ? "" : ", ", detections[i].key);
		first = 0;
	}
	fputc(']', out);
}

const char *audit_detected_words(uint8_t by, char *buf, size_t size)
{
	size_t at = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(detections) / sizeof(detections[0]) && at < size; i++)
		if (by & detections[i].bit)
			at += (size_t)snprintf(buf + at, size - at, "%s%s", at ? "; " : "", detections[i].words);
	return buf;
}

static int by_heavy_bytes(const void *x, const void *y)
{
	const struct audit_heavy *a = x, *b = y;

	if (a->bytes != b->bytes)
		return a->bytes < b->bytes ? 1 : -1;
	return memcmp(&a->addr, &b->addr, sizeof(a->addr));
}

size_t audit_top(const struct audit_heavy *table, struct audit_heavy *out)
{
	size_t n = 0;

	for (size_t i = 0; i < 2 * AUDIT_TOP; i++)
		if (table[i].flows)
			out[n++] = table[i];
	qsort(out, n, sizeof(out[0]), by_heavy_bytes);
	return n < AUDIT_TOP ? n : AUDIT_TOP;
}
