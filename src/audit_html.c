/* audit_html.c - the audit as one self-contained web page (`audit -f
 * html`): no external script, font or stylesheet; inline CSS and SVG;
 * readable when printed. Per NAS: charts of the traffic per service over
 * time and of the clients per service, and the audit's sections as tables
 * a small inline script makes sortable (they read fine without it). */
#include <stdlib.h>
#include <string.h>

#include "audit_state.h"
#include "dsmflow/report.h"

#define CHART_SERIES 6		/* services drawn apart in the time chart; the rest is "other" */

static const char *const colours[CHART_SERIES + 1] = {
	"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#9e9e9e",
};

static const char style[] =
	"body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}"
	"h1{font-size:1.5em}h2{margin-top:2em;border-bottom:2px solid #444}h3{margin-top:1.5em}"
	"table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #ccc;padding:.2em .5em}"
	"th{background:#eee;cursor:pointer}td.n{text-align:right}.note{color:#555}"
	"code{background:#f4f4f4;padding:0 .2em}svg text{font:11px sans-serif}"
	"@media print{th{cursor:auto}h2{page-break-before:always}body{margin:0}}";

/* Sorts a table on a click of its header, by data-v (numbers) or text. */
static const char script[] =
	"document.querySelectorAll('table.sortable').forEach(function(t){"
	"t.classList.add('ready');"
	"t.querySelectorAll('th').forEach(function(th,col){th.addEventListener('click',function(){"
	"var rows=Array.from(t.tBodies[0].rows),up=th.dataset.up!=='1';th.dataset.up=up?'1':'0';"
	"rows.sort(function(a,b){var x=a.cells[col],y=b.cells[col];"
	"var d=(x.dataset.v!==undefined)?(Number(x.dataset.v)-Number(y.dataset.v))"
	":x.textContent.localeCompare(y.textContent);return up?d:-d;});"
	"rows.forEach(function(r){t.tBodies[0].appendChild(r);});});});});";

struct page {
	const struct audit *a;
	const struct catalog *cat;
	const struct port_index *idx;
	FILE *out;
};

/* text, with what HTML gives meaning to escaped */
static void html(FILE *out, const char *text)
{
	for (; *text; text++) {
		switch (*text) {
		case '&': fputs("&amp;", out); break;
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '"': fputs("&quot;", out); break;
		default: fputc(*text, out);
		}
	}
}

/* ---- charts ---- */

/* Bytes over time: a stacked bar per bucket used, the biggest services
 * apart (in_use entries first come sorted by bytes), the rest as other. */
static void time_chart(const struct page *p, const struct audit_view *v)
{
	const struct audit *a = p->a;
	size_t first = a->bucket_low - a->bucket_base, count = a->bucket_high - a->bucket_low + 1;
	uint64_t stack[AUDIT_BUCKETS][CHART_SERIES + 1], most = 1;
	const struct audit_entry *series[CHART_SERIES];
	size_t n = 0;
	char name[200], when[32];

	memset(stack, 0, sizeof(stack));
	for (size_t i = 0; i < v->entry_count; i++) {
		const struct audit_entry *e = v->entries[i];
		size_t s = n < CHART_SERIES ? n : CHART_SERIES;

		if (e->key.role != AUDIT_IN)
			continue;
		if (n < CHART_SERIES)
			series[n++] = e;
		for (size_t b = 0; b < count; b++)
			stack[b][s] += e->bytes_at[first + b];
	}
	for (size_t b = 0; b < count; b++) {
		uint64_t total = 0;

		for (size_t s = 0; s <= CHART_SERIES; s++)
			total += stack[b][s];
		most = total > most ? total : most;
	}
	fprintf(p->out, "<svg class=\"time\" width=\"720\" height=\"230\" viewBox=\"0 0 720 230\" role=\"img\">"
			"<title>Bytes served per service, by when the flows ended</title>");
	for (size_t b = 0; b < count; b++) {
		double x = 50 + (double)b * 640 / (double)count, y = 190;

		for (size_t s = 0; s <= CHART_SERIES; s++) {
			double h = 170.0 * (double)stack[b][s] / (double)most;

			if (stack[b][s] == 0)
				continue;
			y -= h;
			fprintf(p->out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>", x, y,
				640.0 / (double)count - 1, h, colours[s]);
		}
	}
	audit_clock_text(a->bucket_low * a->bucket_us, when, sizeof(when));
	fprintf(p->out, "<text x=\"50\" y=\"205\">%s UTC</text>", when);
	audit_clock_text((a->bucket_high + 1) * a->bucket_us, when, sizeof(when));
	fprintf(p->out, "<text x=\"690\" y=\"205\" text-anchor=\"end\">%s UTC</text>", when);
	fprintf(p->out, "<text x=\"50\" y=\"14\">%s in the fullest bar</text></svg>\n<p class=\"legend\">",
		report_human_bytes(most, name, sizeof(name)));
	for (size_t s = 0; s < n; s++) {
		fprintf(p->out, "<span style=\"color:%s\">&#9632;</span> ", colours[s]);
		html(p->out, audit_table_name(v, series[s], name, sizeof(name)));
		fputs(" &nbsp; ", p->out);
	}
	fprintf(p->out, "<span style=\"color:%s\">&#9632;</span> other</p>\n", colours[CHART_SERIES]);
}

/* Clients per service served: a bar each. */
static void clients_chart(const struct page *p, const struct audit_view *v)
{
	uint64_t most = 1;
	size_t rows = 0, row = 0;
	char name[200];

	for (size_t i = 0; i < v->entry_count; i++)
		if (v->entries[i]->key.role == AUDIT_IN) {
			rows++;
			most = audit_clients(v->entries[i]) > most ? audit_clients(v->entries[i]) : most;
		}
	fprintf(p->out, "<svg class=\"clients\" width=\"720\" height=\"%zu\" viewBox=\"0 0 720 %zu\" role=\"img\">"
			"<title>Distinct clients per service served</title>", 20 * rows + 10, 20 * rows + 10);
	for (size_t i = 0; i < v->entry_count; i++) {
		const struct audit_entry *e = v->entries[i];
		double w;

		if (e->key.role != AUDIT_IN)
			continue;
		w = 280.0 * (double)audit_clients(e) / (double)most;
		audit_table_name(v, e, name, sizeof(name));
		if (strlen(name) > 56)
			memcpy(name + 53, "...", 4);
		fprintf(p->out, "<text x=\"5\" y=\"%zu\">", 20 * row + 18);
		html(p->out, name);
		fprintf(p->out, "</text><rect x=\"370\" y=\"%zu\" width=\"%.1f\" height=\"14\" fill=\"%s\"/>"
				"<text x=\"%.1f\" y=\"%zu\">%llu%s</text>", 20 * row + 6, w, colours[0], 375 + w,
			20 * row + 18, (unsigned long long)audit_clients(e), e->estimated ? " (estimate)" : "");
		row++;
	}
	fputs("</svg>\n", p->out);
}

/* ---- tables ---- */

static void top_list(const struct page *p, const struct audit_heavy *table)
{
	struct audit_heavy sorted[2 * AUDIT_TOP];
	size_t n = audit_top(table, sorted);
	char address[64];

	for (size_t i = 0; i < n && i < 3; i++)
		fprintf(p->out, "%s%s", i ? ", " : "",
			addr_format(sorted[i].addr.family, sorted[i].addr.addr, address, sizeof(address)));
}

static void entry_table(const struct page *p, const struct audit_view *v, enum audit_role role,
			int unclassified, const char *id, const char *title)
{
	int shown = 0;

	fprintf(p->out, "<h3>%s</h3>\n", title);
	for (size_t i = 0; i < v->entry_count; i++) {
		const struct audit_entry *e = v->entries[i];
		char name[200], bytes[32], last[32];

		if (e->key.role != role || (role == AUDIT_IN && (e->key.kind == FLOW_UNCLASSIFIED) != unclassified))
			continue;
		if (!shown++)
			fprintf(p->out, "<table class=\"sortable\" id=\"%s\"><thead><tr><th>%s</th><th>Category</th>"
					"<th>%s</th><th>External flows</th><th>Flows</th><th>Bytes</th>"
					"<th>Last seen (UTC)</th><th>Top %s</th></tr></thead><tbody>\n",
				id, role == AUDIT_IN ? "Service" : "Reached", role == AUDIT_IN ? "Clients" : "Remotes",
				role == AUDIT_IN ? "clients" : "remotes");
		audit_clock_text(e->last_us, last, sizeof(last));
		fputs("<tr><td>", p->out);
		html(p->out, audit_table_name(v, e, name, sizeof(name)));
		fputs("</td><td>", p->out);
		html(p->out, audit_entry_category(v, e));
		fprintf(p->out, "</td><td class=\"n\" data-v=\"%llu\">%llu%s</td><td class=\"n\" data-v=\"%llu\">%llu</td>"
				"<td class=\"n\" data-v=\"%llu\">%llu</td><td class=\"n\" data-v=\"%llu\">%s</td>"
				"<td>%s</td><td>",
			(unsigned long long)audit_clients(e), (unsigned long long)audit_clients(e),
			e->estimated ? " (estimate)" : "", (unsigned long long)e->external_flows,
			(unsigned long long)e->external_flows, (unsigned long long)e->flows,
			(unsigned long long)e->flows, (unsigned long long)audit_entry_bytes(e),
			report_human_bytes(audit_entry_bytes(e), bytes, sizeof(bytes)), last);
		top_list(p, e->top);
		fputs("</td></tr>\n", p->out);
	}
	fputs(shown ? "</tbody></table>\n" : "<p>None.</p>\n", p->out);
}

static void service_list(const struct page *p, const struct audit_view *v, int possibly)
{
	int shown = 0;

	fprintf(p->out, "<h3>%s</h3>\n", possibly ? "Possibly in use <small>(a candidate of a group in use)</small>"
						 : "Unused <small>(catalogued, no flow in the window)</small>");
	for (size_t s = 0; s < catalog_service_count(p->cat); s++) {
		char extra[512];

		if (!v->inbound[s] || v->used[s] || (v->possible_group[s] != 0) != possibly)
			continue;
		fputs(shown++ ? "<li>" : "<ul class=\"services\"><li>", p->out);
		html(p->out, catalog_service(p->cat, s)->name);
		if (possibly)
			report_group_name(p->cat, port_index_set(p->idx, (uint16_t)v->possible_group[s]), extra,
					  sizeof(extra));
		else
			audit_service_ports(p->cat, s, extra, sizeof(extra));
		fputs(possibly ? ", in " : " <code>", p->out);
		html(p->out, extra);
		fputs(possibly ? "</li>\n" : "</code></li>\n", p->out);
	}
	fputs(shown ? "</ul>\n" : "<p>None.</p>\n", p->out);
}

static void closable_port(void *ctx, const char *text)
{
	struct page *p = ctx;

	fprintf(p->out, "<code>%s</code> ", text);
}

static void nas_section(struct page *p, const struct audit_view *v, size_t n)
{
	char address[64], how[200], id[32];

	addr_format(v->nas->addr.family, v->nas->addr.addr, address, sizeof(address));
	fprintf(p->out, "<section class=\"nas\" id=\"nas%zu\" data-address=\"%s\"><h2>NAS %s <small>(", n, address,
		address);
	html(p->out, audit_detected_words(v->nas->detected_by, how, sizeof(how)));
	fputs(")</small></h2>\n<h3>Traffic per service over time</h3>\n", p->out);
	time_chart(p, v);
	fputs("<h3>Clients per service</h3>\n", p->out);
	clients_chart(p, v);
	snprintf(id, sizeof(id), "in-use-%zu", n);
	entry_table(p, v, AUDIT_IN, 0, id, "Serves");
	snprintf(id, sizeof(id), "outbound-%zu", n);
	entry_table(p, v, AUDIT_OUT, 0, id, "Connects out to");
	snprintf(id, sizeof(id), "unknown-%zu", n);
	entry_table(p, v, AUDIT_IN, 1, id, "Serves, no catalogue entry");
	service_list(p, v, 1);
	service_list(p, v, 0);
	fputs("<h3>Closable ports</h3>\n<p class=\"closable\">", p->out);
	audit_each_closable(v, closable_port, p);
	fputs("</p></section>\n", p->out);
}

int audit_write_html(const struct audit *a, const struct catalog *cat, const struct port_index *idx,
		     FILE *out)
{
	struct page p = { a, cat, idx, out };
	char first[32], last[32];

	audit_clock_text(a->first_us == UINT64_MAX ? 0 : a->first_us, first, sizeof(first));
	audit_clock_text(a->last_us, last, sizeof(last));
	fprintf(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
		     "<title>DSM service audit</title><style>%s</style></head><body>\n"
		     "<h1>DSM service audit</h1>\n<p class=\"window note\">Window: %s to %s UTC. What was not "
		     "seen in a short window may still be in use.</p>\n", style, first, last);
	if (!a->nas_count)
		fputs("<p>No NAS in the input.</p>\n", out);
	for (size_t i = 0; i < a->nas_count; i++) {
		struct audit_view v;

		if (audit_view_make(&v, a, i, cat, idx))
			return -1;
		nas_section(&p, &v, i);
		audit_view_free(&v);
	}
	fprintf(out, "<script>%s</script>\n</body></html>\n", script);
	return 0;
}
