/* audit_report.c - the audit for people (a table, one screen per NAS, then
 * the details; markdown) and for scripts (JSON), all written from the same
 * per-NAS view (audit_view.c). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit_state.h"
#include "dsmflow/decode.h"
#include "dsmflow/evidence.h"
#include "dsmflow/flowlog.h"
#include "dsmflow/jsonout.h"
#include "dsmflow/report.h"

struct writer {
	const struct audit *a;
	const struct catalog *cat;
	const struct port_index *idx;
	FILE *out;
};

/* ---- JSON ---- */

static void json_addr(FILE *out, const struct audit_addr *a)
{
	char text[64];

	json_string(out, addr_format(a->family, a->addr, text, sizeof(text)));
}

/* The top AUDIT_TOP of a heavy-hitters table, by bytes. */
static void json_heavy(FILE *out, const struct audit_heavy *table)
{
	struct audit_heavy sorted[2 * AUDIT_TOP];
	size_t n = audit_top(table, sorted);

	fputc('[', out);
	for (size_t i = 0; i < n; i++) {
		fputs(i ? ", {\"address\": " : "{\"address\": ", out);
		json_addr(out, &sorted[i].addr);
		/* bytes: at least this many (exact when bytes_error is 0: a client
		 * that took a place another left may have its share) */
		fprintf(out, ", \"flows\": %llu, \"bytes\": %llu, \"bytes_error\": %llu}",
			(unsigned long long)sorted[i].flows,
			(unsigned long long)(sorted[i].bytes - sorted[i].error),
			(unsigned long long)sorted[i].error);
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
		json_string(w->out, audit_seen_port(e, i, text, sizeof(text)));
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

static void json_entry(const struct writer *w, const struct audit_view *v,
		       const struct audit_entry *e)
{
	const char *who = e->key.role == AUDIT_IN ? "clients" : "remotes";
	char name[160];
	FILE *out = w->out;

	fputs("{\"service\": ", out);
	json_string(out, audit_entry_name(v, e, name, sizeof(name)));
	fputs(", \"category\": ", out);
	json_string(out, audit_entry_category(v, e));
	fprintf(out, ", \"kind\": \"%s\", ", audit_kind_name(e));
	json_candidates(w, e);
	json_counts(w, e);
	fprintf(out, ", \"%s\": %llu, \"%s_exact\": %s, \"top_%s\": ", who,
		(unsigned long long)audit_clients(e), who, e->estimated ? "false" : "true", who);
	json_heavy(out, e->top);
	fprintf(out, ", \"external_flows\": %llu, \"external_%s\": ", (unsigned long long)e->external_flows, who);
	json_heavy(out, e->external);
	if (e->key.role == AUDIT_OUT) {
		fputs(", \"names\": [", out);
		for (size_t i = 0; i < e->name_count; i++) {
			fputs(i ? ", " : "", out);
			json_string(out, e->names[i]);
		}
		fputc(']', out);
	}
	fputc('}', out);
}

/* The entries of role (and, for in-use, not of kind exclude). */
static void json_entries(const struct writer *w, const struct audit_view *v, const char *key,
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
				(unsigned long long)e->flows, (unsigned long long)audit_entry_bytes(e),
				(unsigned long long)audit_clients(e));
		} else {
			json_entry(w, v, e);
		}
		first = 0;
	}
	fputs(first ? "]" : "\n      ]", w->out);
}

static void json_service_list(const struct writer *w, const struct audit_view *v, int possibly)
{
	int first = 1;

	fprintf(w->out, ",\n      \"%s\": [", possibly ? "possibly_in_use" : "unused");
	for (size_t s = 0; s < catalog_service_count(w->cat); s++) {
		char ports[512], group[160];

		if (!v->inbound[s] || v->used[s] || (v->possible_group[s] != 0) != possibly)
			continue;
		audit_service_ports(w->cat, s, ports, sizeof(ports));
		fputs(first ? "\n        {\"service\": " : ",\n        {\"service\": ", w->out);
		json_string(w->out, catalog_service(w->cat, s)->name);
		fputs(", \"category\": ", w->out);
		json_string(w->out, catalog_service(w->cat, s)->category);
		fputs(", \"ports\": [", w->out);
		for (char *save = NULL, *port = strtok_r(ports, ",", &save); port; port = strtok_r(NULL, ",", &save)) {
			json_string(w->out, port + (*port == ' '));
			fputs(save && *save ? ", " : "", w->out);
		}
		fputc(']', w->out);
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

static void json_nas(const struct writer *w, const struct audit_view *v)
{
	struct list_ctx ports = { w->out, 1, 0 };
	FILE *out = w->out;

	fputs("    {\"address\": ", out);
	json_addr(out, &v->nas->addr);
	fputs(", \"detected_by\": ", out);
	audit_detected_json(out, v->nas->detected_by);
	json_entries(w, v, "in_use", AUDIT_IN, 0);
	json_entries(w, v, "outbound", AUDIT_OUT, 0);
	json_service_list(w, v, 0);
	json_service_list(w, v, 1);
	fputs(",\n      \"closable_ports\": [", out);
	audit_each_closable(v, list_json_port, &ports);
	fputc(']', out);
	json_entries(w, v, "unknown_ports", AUDIT_IN, 1);
	fprintf(out, ",\n      \"unanswered\": {\"flows\": %llu, \"bytes\": %llu}, \"flows_without_entry\": %llu}",
		(unsigned long long)v->nas->unanswered_flows, (unsigned long long)v->nas->unanswered_bytes,
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
		struct audit_view v;

		if (audit_view_make(&v, w->a, i, w->cat, w->idx))
			return -1;
		fputs(i ? ",\n" : "", w->out);
		json_nas(w, &v);
		audit_view_free(&v);
	}
	fprintf(w->out, "\n  ],\n  \"flows_without_nas_slot\": %llu}\n",
		(unsigned long long)w->a->flows_without_nas_slot);
	return 0;
}

/* ---- the table ---- */

/* name fitted to width columns: a long one is cut in its middle and keeps
 * its end (a group's "+N"), so that no cut name reads as a list. */
static const char *fit(const char *name, size_t width, char *buf, size_t size)
{
	size_t n = strlen(name);
	const char *tail;
	size_t keep;

	if (n <= width || width >= size)
		return name;
	tail = strrchr(name, '+');
	tail = tail && tail > name && tail[-1] == ' ' && (size_t)(name + n - tail) < width / 2 ? tail - 1 : name + n;
	keep = width - 3 - (size_t)(name + n - tail);
	snprintf(buf, size, "%.*s...%s", (int)keep, name, tail);
	return buf;
}

static void table_entries(const struct writer *w, const struct audit_view *v, enum audit_role role,
			  int unclassified, const char *title)
{
	int shown = 0;

	for (size_t i = 0; i < v->entry_count; i++) {
		const struct audit_entry *e = v->entries[i];
		char name[200], bytes[32], last[32], fitted[64];

		if (e->key.role != role || (role == AUDIT_IN && (e->key.kind == FLOW_UNCLASSIFIED) != unclassified))
			continue;
		if (!shown++)
			fprintf(w->out, "\n%-44s %8s %5s %7s %10s  %s\n", title,
				role == AUDIT_IN ? "CLIENTS" : "REMOTES", "EXT", "FLOWS", "BYTES", "LAST SEEN (UTC)");
		audit_clock_text(e->last_us, last, sizeof(last));
		fprintf(w->out, "%-44.44s %7llu%s %5llu %7llu %10s  %s\n",
			fit(audit_table_name(v, e, name, sizeof(name)), 44, fitted, sizeof(fitted)),
			(unsigned long long)audit_clients(e),
			e->estimated ? "~" : " ", (unsigned long long)e->external_flows,
			(unsigned long long)e->flows, report_human_bytes(audit_entry_bytes(e), bytes, sizeof(bytes)),
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
static void table_services(const struct writer *w, const struct audit_view *v, int possibly)
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

static void table_nas(const struct writer *w, const struct audit_view *v)
{
	struct list_ctx ports = { w->out, 1, 0 };
	char address[64], first[32], last[32], how[200];
	const struct audit *a = w->a;

	audit_clock_text(a->first_us == UINT64_MAX ? 0 : a->first_us, first, sizeof(first));
	audit_clock_text(a->last_us, last, sizeof(last));
	addr_format(v->nas->addr.family, v->nas->addr.addr, address, sizeof(address));
	fprintf(w->out, "NAS %s\nknown because %.90s\n", address,
		audit_detected_words(v->nas->detected_by, how, sizeof(how)));
	if (!(v->nas->detected_by & AUDIT_BY_OPTION))
		fprintf(w->out, "found by its traffic: give --nas %s to be sure of its role\n", address);
	fprintf(w->out, "window %s to %s UTC (%llu s): what was not seen\n"
			"in a short window may still be in use\n", first, last,
		(unsigned long long)((a->last_us > a->first_us && a->first_us != UINT64_MAX
					      ? a->last_us - a->first_us : 0) / 1000000));
	table_entries(w, v, AUDIT_IN, 0, "SERVES");
	table_entries(w, v, AUDIT_OUT, 0, "CONNECTS OUT TO");
	table_entries(w, v, AUDIT_IN, 1, "SERVES, NO CATALOGUE ENTRY");
	fputs("\nCLOSABLE PORTS (no service in use or possibly in use needs them)\n", w->out);
	audit_each_closable(v, list_table_port, &ports);
	fputs(ports.first ? "  none\n" : "\n", w->out);
}

static void table_details(const struct writer *w, const struct audit_view *v)
{
	table_services(w, v, 1);
	table_services(w, v, 0);
	for (size_t i = 0; i < v->entry_count; i++) {
		const struct audit_entry *e = v->entries[i];
		struct audit_heavy sorted[2 * AUDIT_TOP];
		char name[200], address[64], bytes[32];
		size_t n = audit_top(e->top, sorted);
		fprintf(w->out, "\n%s %.70s: top %s\n", e->key.role == AUDIT_IN ? "serves" : "connects out to",
			audit_table_name(v, e, name, sizeof(name)), e->key.role == AUDIT_IN ? "clients" : "remotes");
		for (size_t j = 0; j < e->name_count; j++)
			fprintf(w->out, "  by the name %.80s\n", e->names[j]);
		for (size_t j = 0; j < n; j++)
			fprintf(w->out, "  %-40s %7llu flows %10s%s\n",
				addr_format(sorted[j].addr.family, sorted[j].addr.addr, address, sizeof(address)),
				(unsigned long long)sorted[j].flows,
				report_human_bytes(sorted[j].bytes - sorted[j].error, bytes, sizeof(bytes)),
				audit_is_external(w->a, &sorted[j].addr) ? "  external" : "");
	}
}

static int write_table(const struct writer *w)
{
	if (w->a->nas_count == 0)
		fputs("No NAS in the input: no traffic of the --nas addresses, or, without --nas,\n"
		      "no DSM Web API traffic and no Synology Assistant answer.\n", w->out);
	for (int details = 0; details < 2; details++) {
		for (size_t i = 0; i < w->a->nas_count; i++) {
			struct audit_view v;

			if (audit_view_make(&v, w->a, i, w->cat, w->idx))
				return -1;
			if (details) {
				fprintf(w->out, "\n---- details: NAS %s ----\n",
					addr_format(v.nas->addr.family, v.nas->addr.addr, (char[64]){ 0 }, 64));
				table_details(w, &v);
			} else {
				fputs(i ? "\n" : "", w->out);
				table_nas(w, &v);
			}
			audit_view_free(&v);
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

static void md_entries(const struct writer *w, const struct audit_view *v, enum audit_role role,
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
		audit_clock_text(e->last_us, last, sizeof(last));
		fputs("| ", w->out);
		md_text(w->out, audit_table_name(v, e, name, sizeof(name)));
		fputs(" | ", w->out);
		md_text(w->out, audit_entry_category(v, e));
		fprintf(w->out, " | %llu%s | %llu | %llu | %s | %s | ", (unsigned long long)audit_clients(e),
			e->estimated ? " (estimate)" : "", (unsigned long long)e->external_flows,
			(unsigned long long)e->flows, report_human_bytes(audit_entry_bytes(e), bytes, sizeof(bytes)),
			last);
		{
			struct audit_heavy sorted[2 * AUDIT_TOP];

			if (audit_top(e->top, sorted))
				fprintf(w->out, "%s", addr_format(sorted[0].addr.family, sorted[0].addr.addr, address,
								  sizeof(address)));
		}
		fputs(" |\n", w->out);
	}
	if (!shown)
		fputs("None.\n", w->out);
}

static void md_services(const struct writer *w, const struct audit_view *v, int possibly)
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
			audit_service_ports(w->cat, s, ports, sizeof(ports));
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

	audit_clock_text(a->first_us == UINT64_MAX ? 0 : a->first_us, first, sizeof(first));
	audit_clock_text(a->last_us, last, sizeof(last));
	fprintf(w->out, "# DSM service audit\n\nWindow: %s to %s UTC. What was not seen in a short "
			"window may still be in use.\n", first, last);
	if (!a->nas_count)
		fputs("\nNo NAS in the input.\n", w->out);
	for (size_t i = 0; i < a->nas_count; i++) {
		struct list_ctx ports = { w->out, 1, 0 };
		char address[64], how[200];
		struct audit_view v;

		if (audit_view_make(&v, a, i, w->cat, w->idx))
			return -1;
		fprintf(w->out, "\n## NAS %s (%s)\n",
			addr_format(v.nas->addr.family, v.nas->addr.addr, address, sizeof(address)),
			audit_detected_words(v.nas->detected_by, how, sizeof(how)));
		md_entries(w, &v, AUDIT_IN, 0, "Serves");
		md_entries(w, &v, AUDIT_OUT, 0, "Connects out to");
		md_entries(w, &v, AUDIT_IN, 1, "Serves, no catalogue entry");
		md_services(w, &v, 1);
		md_services(w, &v, 0);
		fputs("\n### Closable ports\n\nNo service in use or possibly in use needs them: ", w->out);
		audit_each_closable(&v, list_md_port, &ports);
		fputs(ports.first ? "none.\n" : ".\n", w->out);
		audit_view_free(&v);
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
	case AUDIT_HTML:
		return audit_write_html(a, cat, idx, out);
	default:
		return write_table(&w);
	}
}
