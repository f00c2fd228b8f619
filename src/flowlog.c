/* flowlog.c - the JSON lines about single flows; see flowlog.h.
 *
 * Keys of a flow-log line: proto, client, client_port, server,
 * server_port, first, last, packets/bytes to server and to client,
 * attribution (service, group with its candidates, or unclassified),
 * evidence (the rule that chose the server side), service_evidence (what
 * decided the service, "kind:value" or "port"), and when the payload said
 * something: evidence_seen ("kind:value", even when it decided nothing),
 * server_name (from the TLS server name or a DNS answer), remote_access,
 * uncatalogued_port, outside_candidates; last, end (why it ended).
 */
#include "dsmflow/decode.h"
#include "dsmflow/flowlog.h"
#include "dsmflow/jsonout.h"
#include "dsmflow/netaddr.h"

void flowlog_time(FILE *out, uint64_t us)
{
	fprintf(out, "%llu.%06llu", (unsigned long long)(us / 1000000),
		(unsigned long long)(us % 1000000));
}

void flowlog_tuple(FILE *out, const struct flow *flow)
{
	const struct flow_key *k = &flow->key;
	uint8_t s = flow->server, c = !flow->server;
	char server[64], client[64], proto[16];

	fprintf(out, "\"proto\": \"%s\", \"client\": \"%s\", \"client_port\": %u, "
		     "\"server\": \"%s\", \"server_port\": %u",
		decode_ip_proto_name(k->ip_proto, proto, sizeof(proto)),
		addr_format(k->family, k->addr[c], client, sizeof(client)), k->port[c],
		addr_format(k->family, k->addr[s], server, sizeof(server)), k->port[s]);
}

static void write_attribution(const struct catalog *cat, const struct port_index *idx,
			      const struct flow *flow, FILE *out)
{
	const struct candidate_set *set;

	switch (flow->kind) {
	case FLOW_SERVICE:
		fputs("\"service\", \"service\": ", out);
		json_string(out, catalog_service(cat, flow->attribution)->name);
		fputs(", \"category\": ", out);
		json_string(out, catalog_service(cat, flow->attribution)->category);
		break;
	case FLOW_GROUP:
		fputs("\"group\", \"candidates\": [", out);
		set = port_index_set(idx, flow->attribution);
		for (size_t i = 0; set && i < set->count; i++) {
			fputs(i ? ", " : "", out);
			json_string(out, catalog_service(cat, set->items[i].service)->name);
		}
		fputc(']', out);
		break;
	default:
		fputs("\"unclassified\"", out);
		break;
	}
}

/* "kind:value" of the flow's kept evidence, and what it says. */
static void write_evidence(const struct evidence_store *kept, const struct flow *flow, FILE *out)
{
	uint8_t by = SERVICE_BY_PORT;
	const char *value = evidence_value(kept, flow->note, &by);
	char text[EVIDENCE_VALUE_MAX + 16];

	if (value)
		snprintf(text, sizeof(text), "%s:%s", service_evidence_name(by), value);
	fputs(", \"service_evidence\": ", out);
	if (value && by == flow->decided_by)
		json_string(out, text);
	else
		json_string(out, service_evidence_name(flow->decided_by));
	if (!value)
		return;
	fputs(", \"evidence_seen\": ", out);
	json_string(out, text);
	if (by == SERVICE_BY_SNI || by == SERVICE_BY_DNS) {
		fputs(", \"server_name\": ", out);
		json_string(out, value);
	}
}

static void write_marks(const struct flow *flow, FILE *out)
{
	if (flow->tunnel)
		fprintf(out, ", \"tunnel\": \"%s\"", decode_tunnel_name(flow->tunnel));
	if (flow->key.tenant)
		fprintf(out, ", \"tenant\": %u", flow->key.tenant);
	if (flow->marks & FLOW_MARK_REMOTE_ACCESS)
		fputs(", \"remote_access\": true", out);
	if (flow->marks & FLOW_MARK_UNCATALOGUED)
		fputs(", \"uncatalogued_port\": true", out);
	if (flow->marks & FLOW_MARK_OUTSIDE)
		fputs(", \"outside_candidates\": true", out);
}

void flowlog_write(FILE *out, const struct catalog *cat, const struct port_index *idx,
		   const struct evidence_store *kept, const struct flow *flow,
		   enum flow_end_reason why)
{
	fputc('{', out);
	flowlog_tuple(out, flow);
	fputs(", \"first\": ", out);
	flowlog_time(out, flow->first_us);
	fputs(", \"last\": ", out);
	flowlog_time(out, flow->last_us);
	fprintf(out, ", \"packets_to_server\": %llu, \"bytes_to_server\": %llu, "
		     "\"packets_to_client\": %llu, \"bytes_to_client\": %llu, ",
		(unsigned long long)flow->packets[TO_SERVER], (unsigned long long)flow->bytes[TO_SERVER],
		(unsigned long long)flow->packets[TO_CLIENT], (unsigned long long)flow->bytes[TO_CLIENT]);
	fputs("\"attribution\": ", out);
	write_attribution(cat, idx, flow, out);
	fprintf(out, ", \"evidence\": \"%s\"", flow_evidence_name(flow->evidence));
	write_evidence(kept, flow, out);
	write_marks(flow, out);
	fprintf(out, ", \"end\": \"%s\"}\n", flow_end_reason_name(why));
}
