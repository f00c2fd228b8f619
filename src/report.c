/* report.c - the report formats of `dsmflow read` (and, later, of signals
 * and the metrics endpoint).
 *
 * All formats start from the same list of non-empty rows (services and
 * groups, sorted by bytes), so they cannot disagree on the numbers.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dsmflow/decode.h"
#include "dsmflow/evidence.h"
#include "dsmflow/jsonout.h"
#include "dsmflow/report.h"
#include "dsmflow_version.h"

#define NAME_MAX_LEN 160

/* A service or group row, ready to print. */
struct report_row {
	char name[NAME_MAX_LEN];
	const char *category;
	int is_group;
	const struct candidate_set *set;	/* groups only */
	uint16_t set_id;			/* groups only */
	uint16_t service;			/* services only */
	const struct counter_row *counts;
};

struct port_line {
	uint8_t ip_proto;
	uint16_t port;
	const struct counter_row *counts;
};

struct report_data {
	const struct report_input *in;
	struct report_row *rows;
	size_t row_count;
	struct port_line *ports;
	size_t port_count, port_cap;
	struct counter_row classified, unclassified;
	int out_of_memory;
};

int report_format_parse(const char *name, enum report_format *out)
{
	static const char *const names[] = { "table", "json", "csv", "prometheus", "summary", "audit",
					      "audit-json" };

	for (int i = 0; i < 7; i++) {
		if (strcmp(name, names[i]) == 0) {
			*out = (enum report_format)i;
			return 0;
		}
	}
	return -1;
}

/* ---- group names ---- */

static size_t records_of(const struct catalog *cat, uint16_t service)
{
	size_t n = 0;

	for (size_t i = 0; i < catalog_record_count(cat); i++)
		n += catalog_record(cat, i)->service == service;
	return n;
}

/* Whether candidate a should lead rather than b. */
static int leads(const struct catalog *cat, const struct candidate *a, const struct candidate *b)
{
	int a_in = a->roles & DSM_ROLE_INBOUND, b_in = b->roles & DSM_ROLE_INBOUND;
	size_t a_n, b_n;

	if (a_in != b_in)
		return a_in > b_in;
	a_n = records_of(cat, a->service);
	b_n = records_of(cat, b->service);
	if (a_n != b_n)
		return a_n < b_n;
	return a->service < b->service;
}

void report_group_name(const struct catalog *cat, const struct candidate_set *set, char *buf,
		       size_t size)
{
	const struct candidate *lead = &set->items[0];

	for (size_t i = 1; i < set->count; i++)
		if (leads(cat, &set->items[i], lead))
			lead = &set->items[i];
	snprintf(buf, size, "%s +%u", catalog_service(cat, lead->service)->name, set->count - 1);
}

const char *report_group_category(const struct catalog *cat, const struct candidate_set *set)
{
	const char *first = catalog_service(cat, set->items[0].service)->category;

	for (size_t i = 1; i < set->count; i++)
		if (strcmp(catalog_service(cat, set->items[i].service)->category, first) != 0)
			return "Mixed";
	return first;
}

/* ---- gathering rows ---- */

static int by_bytes_then_name(const void *a, const void *b)
{
	const struct report_row *x = a, *y = b;
	uint64_t bx = row_bytes(x->counts), by = row_bytes(y->counts);

	if (bx != by)
		return bx < by ? 1 : -1;
	return strcmp(x->name, y->name);
}

static void add_port_line(void *ctx, uint8_t ip_proto, uint16_t port, const struct counter_row *row)
{
	struct report_data *data = ctx;

	if (data->port_count == data->port_cap) {
		size_t cap = data->port_cap ? data->port_cap * 2 : 64;
		struct port_line *bigger = realloc(data->ports, cap * sizeof(*bigger));

		if (!bigger) {
			data->out_of_memory = 1;
			return;
		}
		data->ports = bigger;
		data->port_cap = cap;
	}
	data->ports[data->port_count++] = (struct port_line){ ip_proto, port, row };
}

static int by_port_bytes(const void *a, const void *b)
{
	const struct port_line *x = a, *y = b;
	uint64_t bx = row_bytes(x->counts), by = row_bytes(y->counts);

	if (bx != by)
		return bx < by ? 1 : -1;
	if (x->ip_proto != y->ip_proto)
		return (int)x->ip_proto - (int)y->ip_proto;
	return (int)x->port - (int)y->port;
}

static void add_service_rows(struct report_data *data)
{
	const struct report_input *in = data->in;

	for (size_t i = 0; i < counters_service_count(in->counters); i++) {
		const struct counter_row *c = counters_service(in->counters, i);
		struct report_row *r;

		if (!c->flows && !row_packets(c) && !c->webapi_requests)
			continue;
		r = &data->rows[data->row_count++];
		memset(r, 0, sizeof(*r));
		snprintf(r->name, sizeof(r->name), "%s", catalog_service(in->cat, i)->name);
		r->category = catalog_service(in->cat, i)->category;
		r->service = (uint16_t)i;
		r->counts = c;
	}
}

static void add_group_rows(struct report_data *data)
{
	const struct report_input *in = data->in;

	for (size_t id = 1; id <= counters_max_set_id(in->counters); id++) {
		const struct counter_row *c = counters_group(in->counters, id);
		const struct candidate_set *set = port_index_set(in->idx, (uint16_t)id);
		struct report_row *r;

		if ((!c->flows && !row_packets(c)) || !set)
			continue;
		r = &data->rows[data->row_count++];
		memset(r, 0, sizeof(*r));
		report_group_name(in->cat, set, r->name, sizeof(r->name));
		r->category = report_group_category(in->cat, set);
		r->is_group = 1;
		r->set = set;
		r->set_id = (uint16_t)id;
		r->counts = c;
	}
}

/* Group names are short, so two groups may share one; Prometheus needs
 * unique label sets, so such names get their set's first port appended. */
static void disambiguate_groups(struct report_data *data)
{
	for (size_t i = 0; i < data->row_count; i++) {
		struct report_row *r = &data->rows[i];
		int clash = 0;

		for (size_t j = 0; j < data->row_count && r->is_group && !clash; j++)
			clash = j != i && strcmp(data->rows[j].name, r->name) == 0 &&
				strcmp(data->rows[j].category, r->category) == 0;
		if (clash) {
			size_t n = strlen(r->name);

			snprintf(r->name + n, sizeof(r->name) - n, " [%s/%u]",
				 dsm_proto_name(r->set->proto), r->set->port);
		}
	}
}

static int gather(const struct report_input *in, struct report_data *data)
{
	memset(data, 0, sizeof(*data));
	data->in = in;
	data->rows = calloc(counters_service_count(in->counters) + counters_max_set_id(in->counters) + 1,
			    sizeof(*data->rows));
	if (!data->rows)
		return -1;
	add_service_rows(data);
	add_group_rows(data);
	disambiguate_groups(data);
	qsort(data->rows, data->row_count, sizeof(*data->rows), by_bytes_then_name);
	counters_each_unclassified(in->counters, add_port_line, data);
	if (data->port_count)
		qsort(data->ports, data->port_count, sizeof(*data->ports), by_port_bytes);
	counters_sum(in->counters, &data->classified, &data->unclassified);
	return data->out_of_memory ? -1 : 0;
}

static void release(struct report_data *data)
{
	free(data->rows);
	free(data->ports);
}

/* ---- shared helpers ---- */

static const char *candidate_name(const struct report_data *data, const struct report_row *r,
				  size_t i)
{
	uint16_t service = r->is_group ? r->set->items[i].service : r->service;

	return catalog_service(data->in->cat, service)->name;
}

/* For people: a candidate's name, with its category when another service
 * has the same name (Synology Photos the package and the mobile app). */
static const char *candidate_label(const struct report_data *data, const struct report_row *r,
				   size_t i, char *buf, size_t size)
{
	const struct catalog *cat = data->in->cat;
	uint16_t service = r->is_group ? r->set->items[i].service : r->service;
	const struct dsm_service *s = catalog_service(cat, service);

	for (size_t other = 0; other < catalog_service_count(cat); other++) {
		if (other != service && strcmp(catalog_service(cat, other)->name, s->name) == 0) {
			snprintf(buf, size, "%s (%s)", s->name, s->category);
			return buf;
		}
	}
	return s->name;
}

static size_t candidate_count(const struct report_row *r)
{
	return r->is_group ? r->set->count : 1;
}

static unsigned long long u(uint64_t v)
{
	return (unsigned long long)v;
}

/* Rows with traffic: a service row may hold only Web API requests seen
 * on flows attributed elsewhere (the table leaves those out). */
static int has_traffic(const struct report_row *r)
{
	return r->counts->flows || row_packets(r->counts);
}

/* ---- table ---- */

const char *report_human_bytes(uint64_t bytes, char *buf, size_t size)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)bytes;
	int unit = 0;

	while (v >= 1024 && unit < 5) {
		v /= 1024;
		unit++;
	}
	if (unit == 0)
		snprintf(buf, size, "%llu B", u(bytes));
	else
		snprintf(buf, size, "%.1f %s", v, units[unit]);
	return buf;
}

static void table_row(FILE *out, int width, const char *name, const char *category,
		      const struct counter_row *c)
{
	char total[32], to_server[32], to_client[32];

	fprintf(out, "%-*s %-20s %7llu %10llu %11s %11s %11s\n", width, name, category, u(c->flows),
		u(row_packets(c)), report_human_bytes(row_bytes(c), total, sizeof(total)),
		report_human_bytes(c->bytes[TO_SERVER], to_server, sizeof(to_server)),
		report_human_bytes(c->bytes[TO_CLIENT], to_client, sizeof(to_client)));
}

static void table_candidates(const struct report_data *data, const struct report_row *r, FILE *out)
{
	size_t col = 0;

	fputs("    candidates:", out);
	col = 15;
	for (size_t i = 0; i < r->set->count; i++) {
		char buf[NAME_MAX_LEN];
		const char *name = candidate_label(data, r, i, buf, sizeof(buf));

		if (col + strlen(name) + 2 > 100) {
			fputs("\n               ", out);
			col = 15;
		}
		fprintf(out, " %s%s", name, i + 1 < r->set->count ? "," : "");
		col += strlen(name) + 2;
	}
	fputc('\n', out);
}

/* "    evidence: web-api 3, sni 1, port 2" when payload decided any flow. */
static void table_evidence(const struct counter_row *c, FILE *out)
{
	uint64_t by_payload = c->decided_by[SERVICE_BY_WEBAPI] + c->decided_by[SERVICE_BY_SNI] +
			      c->decided_by[SERVICE_BY_DNS];
	const char *sep = "";

	if (!by_payload)
		return;
	fputs("    decided by:", out);
	for (int k = SERVICE_EVIDENCE_KINDS - 1; k >= 0; k--) {
		if (!c->decided_by[k])
			continue;
		fprintf(out, "%s %s %llu", sep, service_evidence_name((uint8_t)k), u(c->decided_by[k]));
		sep = ",";
	}
	if (c->webapi_requests)
		fprintf(out, "; Web API requests seen: %llu", u(c->webapi_requests));
	fputc('\n', out);
}

static void table_totals(const struct report_data *data, FILE *out)
{
	const struct counter_totals *t = counters_totals_const(data->in->counters);
	char b[6][32];

	fprintf(out, "\nTotal: %llu packets, %s; classified %llu (%s), unclassified %llu (%s), "
		     "non-IP %llu (%s), malformed %llu (%s)",
		u(t->packets), report_human_bytes(t->bytes, b[0], 32),
		u(row_packets(&data->classified)), report_human_bytes(row_bytes(&data->classified), b[1], 32),
		u(row_packets(&data->unclassified)), report_human_bytes(row_bytes(&data->unclassified), b[2], 32),
		u(t->non_ip_packets), report_human_bytes(t->non_ip_bytes, b[3], 32),
		u(t->malformed_packets), report_human_bytes(t->malformed_bytes, b[4], 32));
	if (t->pending_packets)
		fprintf(out, ", pending %llu (%s)", u(t->pending_packets),
			report_human_bytes(t->pending_bytes, b[5], 32));
	fputc('\n', out);
	fprintf(out, "Flows: %llu (%llu classified, %llu unclassified), %llu evicted",
		u(data->classified.flows + data->unclassified.flows), u(data->classified.flows),
		u(data->unclassified.flows), u(data->in->evicted_flows));
	if (data->in->evicted_unanswered_flows)
		fprintf(out, " (%llu of them unanswered)", u(data->in->evicted_unanswered_flows));
	if (t->fragment_packets)
		fprintf(out, "; %llu later fragments without their first", u(t->fragment_packets));
	if (t->truncated_packets)
		fprintf(out, "; %llu packets with their transport header cut by the snapshot length",
			u(t->truncated_packets));
	fputc('\n', out);
}

/* The name column fits the longest name, within reason. */
static int name_width(const struct report_data *data)
{
	size_t width = 24;

	for (size_t i = 0; i < data->row_count; i++)
		if (strlen(data->rows[i].name) > width)
			width = strlen(data->rows[i].name);
	return width > 72 ? 72 : (int)width;
}

/* How much of the table to show. */
struct table_limits {
	size_t rows, ports;
	int candidates;
};

static void write_table(const struct report_data *data, const struct table_limits *limits,
			FILE *out)
{
	char proto[16], name[32];
	int width = name_width(data);
	size_t with_traffic = 0, shown = 0;
	size_t ports = data->port_count < limits->ports ? data->port_count : limits->ports;

	for (size_t i = 0; i < data->row_count; i++)
		if (has_traffic(&data->rows[i]))
			with_traffic++;
	fprintf(out, "%-*s %-20s %7s %10s %11s %11s %11s\n", width, "DSM SERVICE", "CATEGORY", "FLOWS",
		"PACKETS", "BYTES", "TO SERVER", "TO CLIENT");
	if (!with_traffic)
		fputs("(no traffic of a catalogued DSM service)\n", out);
	for (size_t i = 0; i < data->row_count && shown < limits->rows; i++) {
		if (!has_traffic(&data->rows[i]))
			continue;
		shown++;
		table_row(out, width, data->rows[i].name, data->rows[i].category, data->rows[i].counts);
		if (data->rows[i].is_group && limits->candidates)
			table_candidates(data, &data->rows[i], out);
		if (limits->candidates)
			table_evidence(data->rows[i].counts, out);
	}
	if (shown < with_traffic)
		fprintf(out, "(%zu more services)\n", with_traffic - shown);
	if (ports) {
		fprintf(out, "\n%-*s %-20s %7s %10s %11s %11s %11s\n", width, "UNCLASSIFIED SERVER PORT", "",
			"FLOWS", "PACKETS", "BYTES", "TO SERVER", "TO CLIENT");
		for (size_t i = 0; i < ports; i++) {
			snprintf(name, sizeof(name), "%s/%u",
				 decode_ip_proto_name(data->ports[i].ip_proto, proto, sizeof(proto)),
				 data->ports[i].port);
			table_row(out, width, name, "", data->ports[i].counts);
		}
		if (ports < data->port_count)
			fprintf(out, "(%zu more ports)\n", data->port_count - ports);
	}
	table_totals(data, out);
}

/* ---- JSON ---- */

static void json_totals(const struct report_data *data, FILE *out)
{
	const struct counter_totals *t = counters_totals_const(data->in->counters);

	fprintf(out, "  \"totals\": {\"packets\": %llu, \"bytes\": %llu, \"flows\": %llu, "
		     "\"classified_packets\": %llu, \"classified_bytes\": %llu, "
		     "\"unclassified_packets\": %llu, \"unclassified_bytes\": %llu, "
		     "\"non_ip_packets\": %llu, \"non_ip_bytes\": %llu, "
		     "\"malformed_packets\": %llu, \"malformed_bytes\": %llu, "
		     "\"evicted_flows\": %llu, \"unmatched_fragment_packets\": %llu, "
		     "\"active_flows\": %llu, \"pending_packets\": %llu, \"pending_bytes\": %llu, "
		     "\"truncated_packets\": %llu, \"truncated_bytes\": %llu, "
		     "\"evicted_unanswered_flows\": %llu, \"alloc_failures\": %llu},\n",
		u(t->packets), u(t->bytes), u(data->classified.flows + data->unclassified.flows),
		u(row_packets(&data->classified)), u(row_bytes(&data->classified)),
		u(row_packets(&data->unclassified)), u(row_bytes(&data->unclassified)),
		u(t->non_ip_packets), u(t->non_ip_bytes), u(t->malformed_packets),
		u(t->malformed_bytes), u(data->in->evicted_flows), u(t->fragment_packets),
		u(data->in->active_flows), u(t->pending_packets), u(t->pending_bytes),
		u(t->truncated_packets), u(t->truncated_bytes), u(data->in->evicted_unanswered_flows),
		u(t->no_flow_packets));
}

static void json_evidence(const struct counter_row *c, FILE *out)
{
	fputs(", \"evidence\": {", out);
	for (int k = 0; k < SERVICE_EVIDENCE_KINDS; k++)
		fprintf(out, "%s\"%s\": %llu", k ? ", " : "", service_evidence_name((uint8_t)k),
			u(c->decided_by[k]));
	fprintf(out, "}, \"webapi_requests_seen\": %llu", u(c->webapi_requests));
}

static void json_inspection(const struct report_data *data, FILE *out)
{
	const struct inspect_stats *i = data->in->inspect;
	const struct dns_table_stats *d = data->in->dns;

	if (i)
		fprintf(out, "  \"inspection\": {\"flows_inspected\": %llu, \"flows_without_slot\": %llu, "
			     "\"requests_cut\": %llu, \"slots_used\": %zu, \"slots\": %zu, "
			     "\"dns_answers\": %llu},\n",
			u(i->started), u(i->no_slot), u(i->requests_cut), i->slots_used, i->slots,
			u(i->dns_answers));
	if (d)
		fprintf(out, "  \"dns_table\": {\"entries\": %zu, \"capacity\": %zu, \"inserted\": %llu, "
			     "\"evicted\": %llu, \"expired\": %llu},\n",
			d->entries, d->capacity, u(d->inserted), u(d->evicted), u(d->expired));
}

static void json_counts(const struct counter_row *c, FILE *out)
{
	fprintf(out, "\"flows\": %llu, \"packets\": %llu, \"bytes\": %llu, "
		     "\"packets_to_server\": %llu, \"bytes_to_server\": %llu, "
		     "\"packets_to_client\": %llu, \"bytes_to_client\": %llu",
		u(c->flows), u(row_packets(c)), u(row_bytes(c)), u(c->packets[TO_SERVER]),
		u(c->bytes[TO_SERVER]), u(c->packets[TO_CLIENT]), u(c->bytes[TO_CLIENT]));
}

static void json_service(const struct report_data *data, const struct report_row *r, FILE *out)
{
	fputs("    {\"service\": ", out);
	json_string(out, r->name);
	fputs(", \"category\": ", out);
	json_string(out, r->category);
	fprintf(out, ", \"kind\": \"%s\", \"candidates\": [", r->is_group ? "group" : "service");
	for (size_t i = 0; i < candidate_count(r); i++) {
		fputs(i ? ", " : "", out);
		json_string(out, candidate_name(data, r, i));
	}
	fputs("], ", out);
	json_counts(r->counts, out);
	json_evidence(r->counts, out);
	fputc('}', out);
}

static void write_json(const struct report_data *data, FILE *out)
{
	char proto[16];

	fputs("{\n", out);
	json_totals(data, out);
	json_inspection(data, out);
	fputs("  \"services\": [\n", out);
	for (size_t i = 0; i < data->row_count; i++) {
		json_service(data, &data->rows[i], out);
		fputs(i + 1 < data->row_count ? ",\n" : "\n", out);
	}
	fputs("  ],\n  \"unclassified_ports\": [\n", out);
	for (size_t i = 0; i < data->port_count; i++) {
		const struct port_line *p = &data->ports[i];

		fprintf(out, "    {\"proto\": \"%s\", \"port\": %u, ",
			decode_ip_proto_name(p->ip_proto, proto, sizeof(proto)), p->port);
		json_counts(p->counts, out);
		fputs(i + 1 < data->port_count ? "},\n" : "}\n", out);
	}
	fputs("  ]\n}\n", out);
}

/* ---- CSV (RFC 4180) ---- */

static void csv_field(FILE *out, const char *s)
{
	if (!strpbrk(s, ",\"\r\n")) {
		fputs(s, out);
		return;
	}
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', out);
		fputc(*s, out);
	}
	fputc('"', out);
}

static void write_csv(const struct report_data *data, FILE *out)
{
	fputs("service,category,kind,candidates,flows,packets,bytes,packets_to_server,"
	      "bytes_to_server,packets_to_client,bytes_to_client,by_port,by_announcement,by_web_api,"
	      "by_sni,by_dns,webapi_requests_seen\r\n", out);
	for (size_t i = 0; i < data->row_count; i++) {
		const struct report_row *r = &data->rows[i];
		const struct counter_row *c = r->counts;
		char candidates[4096];
		size_t used = 0;

		candidates[0] = '\0';
		for (size_t j = 0; j < candidate_count(r) && used < sizeof(candidates); j++)
			used += (size_t)snprintf(candidates + used, sizeof(candidates) - used, "%s%s",
						 j ? ";" : "", candidate_name(data, r, j));
		csv_field(out, r->name);
		fputc(',', out);
		csv_field(out, r->category);
		fprintf(out, ",%s,", r->is_group ? "group" : "service");
		csv_field(out, candidates);
		fprintf(out, ",%llu,%llu,%llu,%llu,%llu,%llu,%llu", u(c->flows), u(row_packets(c)),
			u(row_bytes(c)), u(c->packets[TO_SERVER]), u(c->bytes[TO_SERVER]),
			u(c->packets[TO_CLIENT]), u(c->bytes[TO_CLIENT]));
		for (int k = 0; k < SERVICE_EVIDENCE_KINDS; k++)
			fprintf(out, ",%llu", u(c->decided_by[k]));
		fprintf(out, ",%llu\r\n", u(c->webapi_requests));
	}
}

/* ---- Prometheus text format 0.0.4 ---- */

static void prom_label_value(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', out);
		if (*s == '\n')
			fputs("\\n", out);
		else
			fputc(*s, out);
	}
	fputc('"', out);
}

static void prom_family(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A family of one unlabelled series. */
static void prom_scalar(FILE *out, const char *name, const char *type, const char *help,
			uint64_t value)
{
	prom_family(out, name, type, help);
	fprintf(out, "%s %llu\n", name, u(value));
}

static void prom_service_labels(FILE *out, const char *metric, const struct report_row *r)
{
	fprintf(out, "%s{dsm_service=", metric);
	prom_label_value(out, r->name);
	fputs(",category=", out);
	prom_label_value(out, r->category);
}

/* One per-direction family: packets (bytes == 0) or bytes of every row. */
static void prom_direction_family(const struct report_data *data, FILE *out, const char *metric,
				  const char *help, int bytes)
{
	static const char *const direction[2] = { "to_server", "to_client" };

	prom_family(out, metric, "counter", help);
	for (size_t i = 0; i < data->row_count; i++) {
		const struct counter_row *c = data->rows[i].counts;

		for (int d = 0; d < 2; d++) {
			prom_service_labels(out, metric, &data->rows[i]);
			fprintf(out, ",direction=\"%s\"} %llu\n", direction[d],
				u(bytes ? c->bytes[d] : c->packets[d]));
		}
	}
}

/* When each service or group was last seen, by how many clients, and how
 * many of its flows came from outside the local ranges. */
static void prom_activity(const struct report_data *data, FILE *out)
{
	prom_family(out, "dsmflow_service_last_seen_timestamp_seconds", "gauge",
		    "Packet time of the last packet of a DSM service or group, in seconds since the epoch.");
	for (size_t i = 0; i < data->row_count; i++) {
		const struct counter_row *c = data->rows[i].counts;

		if (!c->last_us)
			continue;
		prom_service_labels(out, "dsmflow_service_last_seen_timestamp_seconds", &data->rows[i]);
		fprintf(out, "} %llu.%06llu\n", u(c->last_us / 1000000u), u(c->last_us % 1000000u));
	}
	prom_family(out, "dsmflow_service_clients", "gauge",
		    "Distinct clients of a DSM service or group since the start (a HyperLogLog estimate: "
		    "about 6.5% error, nearly exact while small).");
	for (size_t i = 0; i < data->row_count; i++) {
		const struct report_row *r = &data->rows[i];

		prom_service_labels(out, "dsmflow_service_clients", r);
		fprintf(out, "} %llu\n", u(counters_clients(data->in->counters, r->is_group ? FLOW_GROUP : FLOW_SERVICE,
							     r->is_group ? r->set_id : r->service)));
	}
	prom_family(out, "dsmflow_service_external_flows_total", "counter",
		    "Flows of a DSM service or group whose client is outside the private, shared, "
		    "link-local, loopback and unique-local ranges.");
	for (size_t i = 0; i < data->row_count; i++) {
		prom_service_labels(out, "dsmflow_service_external_flows_total", &data->rows[i]);
		fprintf(out, "} %llu\n", u(data->rows[i].counts->external_flows));
	}
}

static void prom_services(const struct report_data *data, FILE *out)
{
	prom_direction_family(data, out, "dsmflow_service_packets_total",
			      "Packets of flows attributed to a DSM service or group of candidate services.", 0);
	prom_direction_family(data, out, "dsmflow_service_bytes_total",
			      "Bytes of flows attributed to a DSM service or group of candidate services.", 1);
	prom_family(out, "dsmflow_service_flows_total", "counter",
		    "Flows attributed to a DSM service or group of candidate services.");
	for (size_t i = 0; i < data->row_count; i++) {
		prom_service_labels(out, "dsmflow_service_flows_total", &data->rows[i]);
		fprintf(out, "} %llu\n", u(data->rows[i].counts->flows));
	}
	prom_family(out, "dsmflow_service_flows_by_evidence_total", "counter",
		    "Flows attributed to a DSM service or group, by what decided it: port (the "
		    "catalogue), announcement (FTP/TFTP), web-api, sni or dns (payload evidence).");
	for (size_t i = 0; i < data->row_count; i++)
		for (int k = 0; k < SERVICE_EVIDENCE_KINDS; k++) {
			prom_service_labels(out, "dsmflow_service_flows_by_evidence_total", &data->rows[i]);
			fprintf(out, ",evidence=\"%s\"} %llu\n", service_evidence_name((uint8_t)k),
				u(data->rows[i].counts->decided_by[k]));
		}
	prom_activity(data, out);
	prom_family(out, "dsmflow_webapi_requests_seen_total", "counter",
		    "Synology Web API requests seen per package's service, within each flow's "
		    "inspection budget only (the first 4 KiB of client payload): not a full request count.");
	for (size_t i = 0; i < data->row_count; i++) {
		if (data->rows[i].is_group)
			continue;
		prom_service_labels(out, "dsmflow_webapi_requests_seen_total", &data->rows[i]);
		fprintf(out, "} %llu\n", u(data->rows[i].counts->webapi_requests));
	}
}

static void prom_inspection(const struct report_data *data, FILE *out)
{
	const struct counter_totals *t = counters_totals_const(data->in->counters);
	const struct inspect_stats *i = data->in->inspect;
	const struct dns_table_stats *d = data->in->dns;

	prom_scalar(out, "dsmflow_pending_packets", "gauge",
		    "Packets of flows whose service their payload may still name: counted in no "
		    "result yet, added to their service when the flow is decided.",
		    t->pending_packets);
	prom_scalar(out, "dsmflow_pending_bytes", "gauge", "Bytes of those packets.",
		    t->pending_bytes);
	if (i) {
		prom_scalar(out, "dsmflow_inspected_flows_total", "counter",
			    "Flows whose first payload was read for evidence of their service.",
			    i->started);
		prom_scalar(out, "dsmflow_inspection_skipped_flows_total", "counter",
			    "Flows that should have been inspected but were decided by port: no "
			    "inspection slot was free.",
			    i->no_slot);
		prom_scalar(out, "dsmflow_dns_answers_total", "counter", "DNS A and AAAA answers read.",
			    i->dns_answers);
	}
	if (d) {
		prom_family(out, "dsmflow_dns_table_entries", "gauge",
			    "Addresses in the table of DNS answers (its capacity in the capacity label).");
		fprintf(out, "dsmflow_dns_table_entries{capacity=\"%zu\"} %zu\n", d->capacity, d->entries);
		prom_scalar(out, "dsmflow_dns_table_evicted_total", "counter",
			    "DNS answers pushed out of the full table before their TTL passed.",
			    d->evicted);
	}
}

static void prom_results(const struct report_data *data, FILE *out)
{
	const struct counter_totals *t = counters_totals_const(data->in->counters);
	const char *names[4] = { "classified", "unclassified", "non_ip", "malformed" };
	uint64_t packets[4] = { row_packets(&data->classified), row_packets(&data->unclassified),
				t->non_ip_packets, t->malformed_packets };
	uint64_t bytes[4] = { row_bytes(&data->classified), row_bytes(&data->unclassified),
			      t->non_ip_bytes, t->malformed_bytes };

	prom_family(out, "dsmflow_packets_total", "counter", "Packets seen, by classification result.");
	for (int i = 0; i < 4; i++)
		fprintf(out, "dsmflow_packets_total{result=\"%s\"} %llu\n", names[i], u(packets[i]));
	prom_family(out, "dsmflow_bytes_total", "counter", "Bytes seen, by classification result.");
	for (int i = 0; i < 4; i++)
		fprintf(out, "dsmflow_bytes_total{result=\"%s\"} %llu\n", names[i], u(bytes[i]));
	prom_scalar(out, "dsmflow_truncated_packets_total", "counter",
		    "Packets whose transport header the snapshot length cut after the ports: "
		    "counted by their ports as usual, and here too.",
		    t->truncated_packets);
	prom_scalar(out, "dsmflow_read_packets_total", "counter",
		    "Packets read: dsmflow_packets_total over every result plus dsmflow_pending_packets.",
		    t->packets);
	prom_scalar(out, "dsmflow_read_bytes_total", "counter",
		    "Bytes read: dsmflow_bytes_total over every result plus dsmflow_pending_bytes.",
		    t->bytes);
}

static void prom_capture(const struct capture_stats *capture, FILE *out)
{
	static const struct capture_stats none;
	const struct capture_stats *c = capture ? capture : &none;
	const char *reasons[5] = { "kernel", "interface", "queue_full", "user", "unreadable" };
	uint64_t dropped[5] = { c->dropped_kernel, c->dropped_interface, c->dropped_queue,
				c->dropped_user, c->dropped_unreadable };

	prom_scalar(out, "dsmflow_capture_received_packets_total", "counter",
		    "Packets the capture source delivered (0 when reading files).",
		    c->received);
	prom_family(out, "dsmflow_capture_dropped_packets_total", "counter",
		    "Packets lost before dsmflow saw them: by the kernel's capture buffer or the "
		    "interface (live), by a full queue, undeliverable or unreadable netlink messages "
		    "(queue).");
	for (int i = 0; i < 5; i++)
		fprintf(out, "dsmflow_capture_dropped_packets_total{reason=\"%s\"} %llu\n", reasons[i],
			u(dropped[i]));
	prom_scalar(out, "dsmflow_queue_enobufs_total", "counter",
		    "Receive errors ENOBUFS on the NFQUEUE socket (survived; packets were lost).",
		    c->enobufs);
}

/* Each capture thread's source (live --workers, queue --queue A:B). */
static void prom_workers(const struct capture_stats *per_worker, size_t workers, FILE *out)
{
	if (workers < 2)
		return;
	prom_family(out, "dsmflow_worker_received_packets_total", "counter",
		    "Packets each capture thread's source delivered (its ring or queue).");
	for (size_t i = 0; i < workers; i++)
		fprintf(out, "dsmflow_worker_received_packets_total{worker=\"%zu\"} %llu\n", i,
			u(per_worker[i].received));
	prom_family(out, "dsmflow_worker_dropped_packets_total", "counter",
		    "Packets lost before each capture thread saw them: its ring's drops (live), its "
		    "full queue's, undeliverable and unreadable messages (queue).");
	for (size_t i = 0; i < workers; i++) {
		const struct capture_stats *c = &per_worker[i];

		fprintf(out, "dsmflow_worker_dropped_packets_total{worker=\"%zu\"} %llu\n", i,
			u(c->dropped_kernel + c->dropped_interface + c->dropped_queue + c->dropped_user +
			  c->dropped_unreadable));
	}
}

static void prom_reload(const struct reload_stats *r, FILE *out)
{
	prom_scalar(out, "dsmflow_reloads_total", "counter",
		    "Catalogue and Web API table reloads put in force (SIGHUP).", r->reloads);
	prom_scalar(out, "dsmflow_reload_failures_total", "counter",
		    "Reloads refused (a bad table): the tables in force stayed.", r->failures);
	prom_family(out, "dsmflow_start_time_seconds", "gauge", "When the sensor started, in seconds since the epoch.");
	fprintf(out, "dsmflow_start_time_seconds %llu.%06llu\n", u(r->started_us / 1000000u),
		u(r->started_us % 1000000u));
	prom_family(out, "dsmflow_last_reload_success_timestamp_seconds", "gauge",
		    "When the tables in force were loaded: the last successful reload, or the start.");
	fprintf(out, "dsmflow_last_reload_success_timestamp_seconds %llu.%06llu\n",
		u(r->last_success_us / 1000000u), u(r->last_success_us % 1000000u));
}

static void write_prometheus(const struct report_data *data, FILE *out)
{
	prom_services(data, out);
	prom_results(data, out);
	prom_inspection(data, out);
	prom_scalar(out, "dsmflow_active_flows", "gauge", "Flows currently tracked.",
		    data->in->active_flows);
	prom_scalar(out, "dsmflow_http_refused_connections_total", "counter",
		    "Connections the metrics endpoint refused: too many open, or from one address.",
		    data->in->http_refused);
	if (data->in->reload)
		prom_reload(data->in->reload, out);
	prom_family(out, "dsmflow_alloc_failures_total", "counter",
		    "Packets whose flow could not be allocated (out of memory): counted by their "
		    "destination port as unclassified.");
	fprintf(out, "dsmflow_alloc_failures_total %llu\n",
		u(counters_totals_const(data->in->counters)->no_flow_packets));
	prom_scalar(out, "dsmflow_output_errors_total", "counter",
		    "Reports, summaries and logs dsmflow could not write (each said on standard error).",
		    data->in->output_errors);
	prom_scalar(out, "dsmflow_evicted_flows_total", "counter",
		    "Flows ended early because the flow table was full (--max-memory, --max-flows).",
		    data->in->evicted_flows);
	prom_scalar(out, "dsmflow_evicted_unanswered_flows_total", "counter",
		    "Of the evicted flows, those dropped first because they were never answered "
		    "(a SYN, a one-way datagram) or were closing: what a flood leaves.",
		    data->in->evicted_unanswered_flows);
	prom_capture(data->in->capture, out);
	prom_workers(data->in->per_worker, data->in->workers, out);
	prom_family(out, "dsmflow_build_info", "gauge", "dsmflow's version; always 1.");
	fprintf(out, "dsmflow_build_info{version=\"%s\"} 1\n", DSMFLOW_VERSION);
}

int report_write(enum report_format format, const struct report_input *in, FILE *out)
{
	static const struct table_limits whole = { SIZE_MAX, SIZE_MAX, 1 };
	static const struct table_limits screen = { 12, 5, 0 };
	struct report_data data;

	if (gather(in, &data)) {
		release(&data);
		return -1;
	}
	switch (format) {
	case REPORT_TABLE: write_table(&data, &whole, out); break;
	case REPORT_SUMMARY: write_table(&data, &screen, out); break;
	case REPORT_JSON: write_json(&data, out); break;
	case REPORT_CSV: write_csv(&data, out); break;
	case REPORT_PROMETHEUS: write_prometheus(&data, out); break;
	default: release(&data); return -1;	/* an audit format: audit_write's */
	}
	release(&data);
	return 0;
}
