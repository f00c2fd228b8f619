/* audit_report.c - the audit for people (a table, one screen per NAS, then
 * the details) and for scripts (JSON). Both start from the same per-NAS
 * view: entries sorted by bytes, and what the catalogue's inbound services
 * and ports were not seen doing (unused, possibly in use, closable). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit_state.h"
#include "dsmflow/decode.h"
#include "dsmflow/evidence.h"
#include "dsmflow/flowlog.h"
#include "dsmflow/jsonout.h"
#include "dsmflow/report.h"

/* What one NAS's audit says, gathered once for every format. */
struct nas_view {
	const struct audit_nas *nas;
	const struct audit_entry **entries;	/* by bytes, then key */
	size_t entry_count;
	uint8_t *used;		/* [service]: an in-use service of this NAS's */
	int *possible_group;	/* [service]: the set id of an in-use group it is a candidate of, or 0 */
	uint8_t *inbound;	/* [service]: has a catalogued inbound entry */
	uint8_t seen[2][65536 / 8];	/* [tcp, udp][port]: served to a client in the window */
};

struct writer {
	const struct audit *a;
	const struct catalog *cat;
	const struct port_index *idx;
	FILE *out;
};

static uint64_t entry_bytes(const struct audit_entry *e)
{
	return e->bytes[TO_SERVER] + e->bytes[TO_CLIENT];
}

static int by_bytes(const void *x, const void *y)
{
	const struct audit_entry *a = *(const struct audit_entry *const *)x;
	const struct audit_entry *b = *(const struct audit_entry *const *)y;

	if (entry_bytes(a) != entry_bytes(b))
		return entry_bytes(a) < entry_bytes(b) ? 1 : -1;
	return memcmp(&a->key, &b->key, sizeof(a->key));
}

static void mark_inbound_services(const struct catalog *cat, uint8_t *inbound)
{
	for (size_t i = 0; i < catalog_record_count(cat); i++)
		if (catalog_record(cat, i)->role & DSM_ROLE_INBOUND)
			inbound[catalog_record(cat, i)->service] = 1;
}

static void mark_in_use(const struct writer *w, struct nas_view *v)
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
		if (e->key.kind != FLOW_GROUP || !(set = port_index_set(w->idx, e->key.id)))
			continue;
		for (size_t c = 0; c < set->count; c++)
			if (!v->possible_group[set->items[c].service])
				v->possible_group[set->items[c].service] = e->key.id;
	}
}

static void view_free(struct nas_view *v)
{
	free(v->entries);
	free(v->used);
	free(v->possible_group);
	free(v->inbound);
}

static int view_make(const struct writer *w, const struct audit_nas *nas, struct nas_view *v)
{
	size_t services = catalog_service_count(w->cat) + 1, n = 0;
	const struct audit_entry *e;

	memset(v, 0, sizeof(*v));
	v->nas = nas;
	v->entries = malloc((nas->entry_count + 1) * sizeof(*v->entries));
	v->used = calloc(services, 1);
	v->possible_group = calloc(services, sizeof(int));
	v->inbound = calloc(services, 1);
	if (!v->entries || !v->used || !v->possible_group || !v->inbound) {
		view_free(v);
		return -1;
	}
	for (e = nas->entries; e; e = e->hh.next)
		v->entries[n++] = e;
	v->entry_count = n;
	qsort(v->entries, n, sizeof(*v->entries), by_bytes);
	mark_inbound_services(w->cat, v->inbound);
	mark_in_use(w, v);
	return 0;
}

/* Whether proto/port was served in the window, or any service that serves
 * it is in use or may be. */
static int port_needed(const struct writer *w, const struct nas_view *v, enum dsm_proto proto,
		       uint16_t port)
{
	const struct candidate_set *set = port_index_set(w->idx, port_index_lookup(w->idx, proto, port));

	if (proto != DSM_PROTO_ICMP && v->seen[proto == DSM_PROTO_UDP][port / 8] >> (port % 8) & 1)
		return 1;	/* e.g. an FTP data port, which no static entry names */
	for (size_t c = 0; set && c < set->count; c++)
		if (v->used[set->items[c].service] || v->possible_group[set->items[c].service])
			return 1;
	return 0;
}

/* Whether the static inbound record r serves nothing in use. */
static int record_closable(const struct writer *w, const struct nas_view *v, const struct dsm_record *r)
{
	if (!(r->role & DSM_ROLE_INBOUND) || r->match != DSM_MATCH_STATIC)
		return 0;
	for (uint32_t p = r->first_port; p <= r->last_port; p++)
		if (port_needed(w, v, (enum dsm_proto)r->proto, (uint16_t)p))
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
static void each_closable(const struct writer *w, const struct nas_view *v,
			  void (*fn)(void *ctx, const char *text), void *ctx)
{
	size_t n = catalog_record_count(w->cat);
	char (*seen)[24] = calloc(n + 1, sizeof(*seen));
	size_t seen_count = 0;

	for (size_t i = 0; seen && i < n; i++) {
		const struct dsm_record *r = catalog_record(w->cat, i);
		char text[24];
		size_t j;

		if (!record_closable(w, v, r))
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
static void service_ports(const struct catalog *cat, size_t service, char *buf, size_t size)
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
static const char *seen_port_text(const struct audit_entry *e, size_t i, char *buf, size_t size)
{
	char proto[16];

	if (e->port_protos[i] == 1 || e->port_protos[i] == 58)
		snprintf(buf, size, "%s", decode_ip_proto_name(e->port_protos[i], proto, sizeof(proto)));
	else
		snprintf(buf, size, "%s/%u", decode_ip_proto_name(e->port_protos[i], proto, sizeof(proto)),
			 e->ports[i]);
	return buf;
}

static const char *entry_name(const struct writer *w, const struct audit_entry *e, char *buf,
			      size_t size)
{
	const struct candidate_set *set;

	switch (e->key.kind) {
	case FLOW_SERVICE:
		return catalog_service(w->cat, e->key.id)->name;
	case FLOW_GROUP:
		set = port_index_set(w->idx, e->key.id);
		if (!set)
			return "?";
		report_group_name(w->cat, set, buf, size);
		return buf;
	default: {
		char proto[16];

		snprintf(buf, size, "%s/%u", decode_ip_proto_name(e->key.ip_proto, proto, sizeof(proto)),
			 e->key.id);
		return buf;
	}
	}
}

static const char *entry_category(const struct writer *w, const struct audit_entry *e)
{
	const struct candidate_set *set;

	if (e->key.kind == FLOW_SERVICE)
		return catalog_service(w->cat, e->key.id)->category;
	if (e->key.kind == FLOW_GROUP && (set = port_index_set(w->idx, e->key.id)))
		return report_group_category(w->cat, set);
	return "Uncatalogued";
}

static const char *kind_name(const struct audit_entry *e)
{
	return e->key.kind == FLOW_SERVICE ? "service" : e->key.kind == FLOW_GROUP ? "group" : "port";
}

/* ---- JSON ---- */

static void json_addr(FILE *out, const struct audit_addr *a)
{
	char text[64];

	json_string(out, addr_format(a->family, a->addr, text, sizeof(text)));
}

static int by_heavy_bytes(const void *x, const void *y)
{
	const struct audit_heavy *a = x, *b = y;

	if (a->bytes != b->bytes)
		return a->bytes < b->bytes ? 1 : -1;
	return memcmp(&a->addr, &b->addr, sizeof(a->addr));
}

/* The top AUDIT_TOP of a heavy-hitters table, by bytes. */
static void json_heavy(FILE *out, const struct audit_heavy *table)
{
	struct audit_heavy sorted[2 * AUDIT_TOP];
	size_t n = 0;

	for (size_t i = 0; i < 2 * AUDIT_TOP; i++)
		if (table[i].flows)
			sorted[n++] = table[i];
	qsort(sorted, n, sizeof(sorted[0]), by_heavy_bytes);
	fputc('[', out);
	for (size_t i = 0; i < n && i < AUDIT_TOP; i++) {
		fputs(i ? ", {\"address\": " : "{\"address\": ", out);
		json_addr(out, &sorted[i].addr);
		fprintf(out, ", \"flows\": %llu, \"bytes\": %llu}", (unsigned long long)sorted[i].flows,
			(unsigned long long)sorted[i].bytes);
	}
	fputc(']', out);
}

static void json_candidates(const struct writer *w, const struct audit_entry *e)
{
	const struct candidate_set *set;

	fputs("\"candidates\": [", w->out);
	if (e->key.kind == FLOW_SERVICE)
		json_string(w->out, catalog_service(w->cat, e->key.id)->name);
	else if (e->key.kind == FLOW_GROUP && (set = port_index_set(w->idx, e->key.id)))
		for (size_t i = 0; i < set->count; i++) {
			fputs(i ? ", " : "", w->out);
			json_string(w->out, catalog_service(w->cat, set->items[i].service)->name);
		}
	fputs("], \"ports\": [", w->out);
	for (size_t i = 0; i < e->port_count; i++) {
		char text[24];

		fputs(i ? ", " : "", w->out);
		json_string(w->out, seen_port_text(e, i, text, sizeof(text)));
	}
	fputc(']', w->out);
}

static void json_counts(const struct writer *w, const struct audit_entry *e)
{
	FILE *out = w->out;

	fprintf(out, ", \"flows\": %llu, \"packets_to_server\": %llu, \"bytes_to_server\": %llu, "
		     "\"packets_to_client\": %llu, \"bytes_to_client\": %llu, \"first_seen\": ",
		(unsigned long long)e->flows, (unsigned long long)e->packets[TO_SERVER],
		(unsigned long long)e->bytes[TO_SERVER], (unsigned long long)e->packets[TO_CLIENT],
		(unsigned long long)e->bytes[TO_CLIENT]);
	flowlog_time(out, e->first_us);
	fputs(", \"last_seen\": ", out);
	flowlog_time(out, e->last_us);
	fputs(", \"evidence\": {", out);
	for (int k = 0, first = 1; k < SERVICE_EVIDENCE_KINDS; k++) {
		if (!e->evidence[k])
			continue;
		fprintf(out, "%s\"%s\": %llu", first ? "" : ", ", service_evidence_name((uint8_t)k),
			(unsigned long long)e->evidence[k]);
		first = 0;
	}
	fputc('}', out);
}

static void json_entry(const struct writer *w, const struct audit_entry *e)
{
	const char *who = e->key.role == AUDIT_IN ? "clients" : "remotes";
	char name[160];
	FILE *out = w->out;

	fputs("{\"service\": ", out);
	json_string(out, entry_name(w, e, name, sizeof(name)));
	fputs(", \"category\": ", out);
	json_string(out, entry_category(w, e));
	fprintf(out, ", \"kind\": \"%s\", ", kind_name(e));
	json_candidates(w, e);
	json_counts(w, e);
	fprintf(out, ", \"%s\": %llu, \"%s_exact\": %s, \"top_%s\": ", who,
		(unsigned long long)audit_clients(e), who, e->estimated ? "false" : "true", who);
	json_heavy(out, e->top);
	if (e->key.role == AUDIT_IN) {
		fprintf(out, ", \"external_flows\": %llu, \"external_clients\": ",
			(unsigned long long)e->external_flows);
		json_heavy(out, e->external);
	} else {
		fputs(", \"names\": []", out);	/* server and DNS names: not kept yet */
	}
	fputc('}', out);
}

/* The entries of role (and, for in-use, not of kind exclude). */
static void json_entries(const struct writer *w, const struct nas_view *v, const char *key,
			 enum audit_role role, int unclassified)
{
	int first = 1;

	fprintf(w->out, ",\n      \"%s\": [", key);
	for (size_t i = 0; i < v->entry_count; i++) {
		const struct audit_entry *e = v->entries[i];

		if (e->key.role != role || (role == AUDIT_IN && (e->key.kind == FLOW_UNCLASSIFIED) != unclassified))
			continue;
		fputs(first ? "\n        " : ",\n        ", w->out);
		if (unclassified) {
			char proto[16];

			fprintf(w->out, "{\"proto\": \"%s\", \"port\": %u, \"flows\": %llu, \"bytes\": %llu, "
					"\"clients\": %llu}",
				decode_ip_proto_name(e->key.ip_proto, proto, sizeof(proto)), e->key.id,
				(unsigned long long)e->flows, (unsigned long long)entry_bytes(e),
				(unsigned long long)audit_clients(e));
		} else {
			json_entry(w, e);
		}
		first = 0;
	}
	fputs(first ? "]" : "\n      ]", w->out);
}

static void json_service_list(const struct writer *w, const struct nas_view *v, int possibly)
{
	int first = 1;

	fprintf(w->out, ",\n      \"%s\": [", possibly ? "possibly_in_use" : "unused");
	for (size_t s = 0; s < catalog_service_count(w->cat); s++) {
		char ports[512], group[160];

		if (!v->inbound[s] || v->used[s] || (v->possible_group[s] != 0) != possibly)
			continue;
		service_ports(w->cat, s, ports, sizeof(ports));
		fputs(first ? "\n        {\"service\": " : ",\n        {\"service\": ", w->out);
		json_string(w->out, catalog_service(w->cat, s)->name);
		fputs(", \"category\": ", w->out);
		json_string(w->out, catalog_service(w->cat, s)->category);
		fputs(", \"ports\": ", w->out);
		json_string(w->out, ports);
		if (possibly) {
			report_group_name(w->cat, port_index_set(w->idx, (uint16_t)v->possible_group[s]), group,
					  sizeof(group));
			fputs(", \"group\": ", w->out);
			json_string(w->out, group);
		}
		fputc('}', w->out);
		first = 0;
	}
	fputs(first ? "]" : "\n      ]", w->out);
}

struct list_ctx {
	FILE *out;
	int first;
	size_t column;	/* the table's: where the line has got to */
};

static void list_json_port(void *ctx, const char *text)
{
	struct list_ctx *l = ctx;

	fputs(l->first ? "" : ", ", l->out);
	json_string(l->out, text);
	l->first = 0;
}

static void json_nas(const struct writer *w, const struct nas_view *v)
{
	struct list_ctx ports = { w->out, 1, 0 };
	FILE *out = w->out;

	fputs("    {\"address\": ", out);
	json_addr(out, &v->nas->addr);
	fputs(", \"detected_by\": [\"--nas\"]", out);
	json_entries(w, v, "in_use", AUDIT_IN, 0);
	json_entries(w, v, "outbound", AUDIT_OUT, 0);
	json_service_list(w, v, 0);
	json_service_list(w, v, 1);
	fputs(",\n      \"closable_ports\": [", out);
	each_closable(w, v, list_json_port, &ports);
	fputc(']', out);
	json_entries(w, v, "unknown_ports", AUDIT_IN, 1);
	fprintf(out, ",\n      \"flows_without_entry\": %llu}",
		(unsigned long long)v->nas->flows_without_entry);
}

static void json_window(const struct audit *a, FILE *out)
{
	uint64_t first = a->first_us == UINT64_MAX ? 0 : a->first_us, last = a->last_us;

	fputs("{\"window\": {\"first\": ", out);
	flowlog_time(out, first);
	fputs(", \"last\": ", out);
	flowlog_time(out, last);
	fputs(", \"seconds\": ", out);
	flowlog_time(out, last > first ? last - first : 0);
	fputs("},\n  \"nas\": [\n", out);
}

static int write_json(const struct writer *w)
{
	json_window(w->a, w->out);
	for (size_t i = 0; i < w->a->nas_count; i++) {
		struct nas_view v;

		if (view_make(w, &w->a->nas[i], &v))
			return -1;
		fputs(i ? ",\n" : "", w->out);
		json_nas(w, &v);
		view_free(&v);
	}
	fprintf(w->out, "\n  ],\n  \"flows_without_nas_slot\": %llu}\n",
		(unsigned long long)w->a->flows_without_nas_slot);
	return 0;
}

/* ---- the table ---- */

static void clock_text(uint64_t us, char *buf, size_t size)
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(buf, size, "?");
}

/* An entry's name as the table shows it: a group by its port(s) and its
 * lead candidate, so that names with commas inside cannot be misread. */
static const char *table_name(const struct writer *w, const struct audit_entry *e, char *buf,
			      size_t size)
{
	char name[160], port[24];

	if (e->key.kind != FLOW_GROUP || !e->port_count)
		return entry_name(w, e, buf, size);
	snprintf(buf, size, "%s%s %s", seen_port_text(e, 0, port, sizeof(port)),
		 e->port_count > 1 ? "+" : "", entry_name(w, e, name, sizeof(name)));
	return buf;
}

static void table_entries(const struct writer *w, const struct nas_view *v, enum audit_role role,
			  int unclassified, const char *title)
{
	int shown = 0;

	for (size_t i = 0; i < v->entry_count; i++) {
		const struct audit_entry *e = v->entries[i];
		char name[200], bytes[32], last[32];

		if (e->key.role != role || (role == AUDIT_IN && (e->key.kind == FLOW_UNCLASSIFIED) != unclassified))
			continue;
		if (!shown++)
			fprintf(w->out, "\n%-44s %8s %5s %7s %10s  %s\n", title,
				role == AUDIT_IN ? "CLIENTS" : "REMOTES", "EXT", "FLOWS", "BYTES", "LAST SEEN (UTC)");
		clock_text(e->last_us, last, sizeof(last));
		fprintf(w->out, "%-44.44s %7llu%s %5llu %7llu %10s  %s\n",
			table_name(w, e, name, sizeof(name)), (unsigned long long)audit_clients(e),
			e->estimated ? "~" : " ", (unsigned long long)e->external_flows,
			(unsigned long long)e->flows, report_human_bytes(entry_bytes(e), bytes, sizeof(bytes)),
			last + 11);
	}
	if (!shown)
		fprintf(w->out, "\n%s: none\n", title);
}

static void list_table_port(void *ctx, const char *text)
{
	struct list_ctx *l = ctx;
	size_t len = strlen(text);

	if (!l->first && l->column + 2 + len > 98) {	/* wrapped within 100 columns */
		fputs(",\n  ", l->out);
		l->column = 2;
	} else if (!l->first) {
		fputs(", ", l->out);
		l->column += 2;
	} else {
		fputs("  ", l->out);
		l->column = 2;
	}
	fputs(text, l->out);
	l->column += len;
	l->first = 0;
}

/* Unused or possibly-in-use services, one per line. */
static void table_services(const struct writer *w, const struct nas_view *v, int possibly)
{
	int shown = 0;

	for (size_t s = 0; s < catalog_service_count(w->cat); s++) {
		char group[160];

		if (!v->inbound[s] || v->used[s] || (v->possible_group[s] != 0) != possibly)
			continue;
		if (!shown++)
			fprintf(w->out, "\n%s\n", possibly ? "POSSIBLY IN USE (a candidate of a group in use)"
							   : "UNUSED (catalogued, no flow in the window)");
		if (possibly) {
			report_group_name(w->cat, port_index_set(w->idx, (uint16_t)v->possible_group[s]), group,
					  sizeof(group));
			fprintf(w->out, "  %-44.44s in %.50s\n", catalog_service(w->cat, s)->name, group);
		} else {
			fprintf(w->out, "  %-48.48s %.48s\n", catalog_service(w->cat, s)->name,
				catalog_service(w->cat, s)->category);
		}
	}
}

static void table_nas(const struct writer *w, const struct nas_view *v)
{
	struct list_ctx ports = { w->out, 1, 0 };
	char address[64], first[32], last[32];
	const struct audit *a = w->a;

	clock_text(a->first_us == UINT64_MAX ? 0 : a->first_us, first, sizeof(first));
	clock_text(a->last_us, last, sizeof(last));
	fprintf(w->out, "NAS %s (given with --nas)\nwindow %s to %s UTC (%llu s): what was not seen\n"
			"in a short window may still be in use\n",
		addr_format(v->nas->addr.family, v->nas->addr.addr, address, sizeof(address)), first, last,
		(unsigned long long)((a->last_us > a->first_us && a->first_us != UINT64_MAX
					      ? a->last_us - a->first_us : 0) / 1000000));
	table_entries(w, v, AUDIT_IN, 0, "SERVES");
	table_entries(w, v, AUDIT_OUT, 0, "CONNECTS OUT TO");
	table_entries(w, v, AUDIT_IN, 1, "SERVES, NO CATALOGUE ENTRY");
	fputs("\nCLOSABLE PORTS (no service in use or possibly in use needs them)\n", w->out);
	each_closable(w, v, list_table_port, &ports);
	fputs(ports.first ? "  none\n" : "\n", w->out);
}

static void table_details(const struct writer *w, const struct nas_view *v)
{
	table_services(w, v, 1);
	table_services(w, v, 0);
	for (size_t i = 0; i < v->entry_count; i++) {
		const struct audit_entry *e = v->entries[i];
		struct audit_heavy sorted[2 * AUDIT_TOP];
		char name[200], address[64], bytes[32];
		size_t n = 0;

		for (size_t j = 0; j < 2 * AUDIT_TOP; j++)
			if (e->top[j].flows)
				sorted[n++] = e->top[j];
		qsort(sorted, n, sizeof(sorted[0]), by_heavy_bytes);
		fprintf(w->out, "\n%s %.70s: top %s\n", e->key.role == AUDIT_IN ? "serves" : "connects out to",
			table_name(w, e, name, sizeof(name)), e->key.role == AUDIT_IN ? "clients" : "remotes");
		for (size_t j = 0; j < n && j < AUDIT_TOP; j++)
			fprintf(w->out, "  %-40s %7llu flows %10s%s\n",
				addr_format(sorted[j].addr.family, sorted[j].addr.addr, address, sizeof(address)),
				(unsigned long long)sorted[j].flows,
				report_human_bytes(sorted[j].bytes, bytes, sizeof(bytes)),
				audit_is_external(w->a, &sorted[j].addr) ? "  external" : "");
	}
}

static int write_table(const struct writer *w)
{
	if (w->a->nas_count == 0)
		fputs("No traffic of the --nas addresses in the input.\n", w->out);
	for (int details = 0; details < 2; details++) {
		for (size_t i = 0; i < w->a->nas_count; i++) {
			struct nas_view v;

			if (view_make(w, &w->a->nas[i], &v))
				return -1;
			if (details) {
				fprintf(w->out, "\n---- details: NAS %s ----\n",
					addr_format(v.nas->addr.family, v.nas->addr.addr, (char[64]){ 0 }, 64));
				table_details(w, &v);
			} else {
				fputs(i ? "\n" : "", w->out);
				table_nas(w, &v);
			}
			view_free(&v);
		}
	}
	return 0;
}

/* ---- markdown, for tickets and wikis ---- */

/* text with the characters markdown tables give meaning to escaped */
static void md_text(FILE *out, const char *text)
{
	for (; *text; text++) {
		if (*text == '|' || *text == '*' || *text == '_' || *text == '`' || *text == '\\')
			fputc('\\', out);
		fputc(*text, out);
	}
}

static void md_entries(const struct writer *w, const struct nas_view *v, enum audit_role role,
		       int unclassified, const char *title)
{
	int shown = 0;

	fprintf(w->out, "\n### %s\n\n", title);
	for (size_t i = 0; i < v->entry_count; i++) {
		const struct audit_entry *e = v->entries[i];
		char name[200], bytes[32], last[32], address[64];

		if (e->key.role != role || (role == AUDIT_IN && (e->key.kind == FLOW_UNCLASSIFIED) != unclassified))
			continue;
		if (!shown++)
			fprintf(w->out, "| %s | category | %s | external flows | flows | bytes | last seen (UTC) "
					"| top %s |\n|---|---|---:|---:|---:|---:|---|---|\n",
				role == AUDIT_IN ? "service" : "reached", role == AUDIT_IN ? "clients" : "remotes",
				role == AUDIT_IN ? "client" : "remote");
		clock_text(e->last_us, last, sizeof(last));
		fputs("| ", w->out);
		md_text(w->out, table_name(w, e, name, sizeof(name)));
		fputs(" | ", w->out);
		md_text(w->out, entry_category(w, e));
		fprintf(w->out, " | %llu%s | %llu | %llu | %s | %s | ", (unsigned long long)audit_clients(e),
			e->estimated ? " (estimate)" : "", (unsigned long long)e->external_flows,
			(unsigned long long)e->flows, report_human_bytes(entry_bytes(e), bytes, sizeof(bytes)),
			last);
		if (e->top[0].flows) {	/* the table fills from its start */
			const struct audit_heavy *top = &e->top[0];

			for (size_t j = 1; j < 2 * AUDIT_TOP; j++)
				if (e->top[j].flows && e->top[j].bytes > top->bytes)
					top = &e->top[j];
			fprintf(w->out, "%s", addr_format(top->addr.family, top->addr.addr, address, sizeof(address)));
		}
		fputs(" |\n", w->out);
	}
	if (!shown)
		fputs("None.\n", w->out);
}

static void md_services(const struct writer *w, const struct nas_view *v, int possibly)
{
	int shown = 0;

	fprintf(w->out, "\n### %s\n\n", possibly ? "Possibly in use (a candidate of a group in use)"
						: "Unused (catalogued, no flow in the window)");
	for (size_t s = 0; s < catalog_service_count(w->cat); s++) {
		char group[160], ports[512];

		if (!v->inbound[s] || v->used[s] || (v->possible_group[s] != 0) != possibly)
			continue;
		shown++;
		fputs("- ", w->out);
		md_text(w->out, catalog_service(w->cat, s)->name);
		if (possibly) {
			report_group_name(w->cat, port_index_set(w->idx, (uint16_t)v->possible_group[s]), group,
					  sizeof(group));
			fputs(", in ", w->out);
			md_text(w->out, group);
		} else {
			service_ports(w->cat, s, ports, sizeof(ports));
			fprintf(w->out, " (`%s`)", ports);
		}
		fputc('\n', w->out);
	}
	if (!shown)
		fputs("None.\n", w->out);
}

static void list_md_port(void *ctx, const char *text)
{
	struct list_ctx *l = ctx;

	fprintf(l->out, "%s`%s`", l->first ? "" : ", ", text);
	l->first = 0;
}

static int write_markdown(const struct writer *w)
{
	const struct audit *a = w->a;
	char first[32], last[32];

	clock_text(a->first_us == UINT64_MAX ? 0 : a->first_us, first, sizeof(first));
	clock_text(a->last_us, last, sizeof(last));
	fprintf(w->out, "# DSM service audit\n\nWindow: %s to %s UTC. What was not seen in a short "
			"window may still be in use.\n", first, last);
	if (!a->nas_count)
		fputs("\nNo traffic of the --nas addresses in the input.\n", w->out);
	for (size_t i = 0; i < a->nas_count; i++) {
		struct list_ctx ports = { w->out, 1, 0 };
		char address[64];
		struct nas_view v;

		if (view_make(w, &a->nas[i], &v))
			return -1;
		fprintf(w->out, "\n## NAS %s (given with --nas)\n",
			addr_format(v.nas->addr.family, v.nas->addr.addr, address, sizeof(address)));
		md_entries(w, &v, AUDIT_IN, 0, "Serves");
		md_entries(w, &v, AUDIT_OUT, 0, "Connects out to");
		md_entries(w, &v, AUDIT_IN, 1, "Serves, no catalogue entry");
		md_services(w, &v, 1);
		md_services(w, &v, 0);
		fputs("\n### Closable ports\n\nNo service in use or possibly in use needs them: ", w->out);
		each_closable(w, &v, list_md_port, &ports);
		fputs(ports.first ? "none.\n" : ".\n", w->out);
		view_free(&v);
	}
	return 0;
}

int audit_write(const struct audit *a, enum audit_format format, const struct catalog *cat,
		const struct port_index *idx, FILE *out)
{
	struct writer w = { a, cat, idx, out };

	switch (format) {
	case AUDIT_JSON:
		return write_json(&w);
	case AUDIT_MARKDOWN:
		return write_markdown(&w);
	default:
		return write_table(&w);
	}
}
