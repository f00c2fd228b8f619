/* audit_firewall.c - a firewall proposal from an audit (`dsmflow audit
 * --firewall nft|iptables|ip6tables|dsm`): for each NAS's inbound traffic,
 * allow each port it served from the client networks seen (aggregated),
 * allow established and related traffic, drop the rest; the services
 * nothing used are listed as closed. It never proposes what would cut the
 * administrator off or break the NAS: loopback, the ICMP and ICMPv6 that
 * neighbour discovery and path MTU discovery need, established/related,
 * and DSM's web UI (tcp/5000-5001) from the NAS's local networks stay
 * allowed whether seen or not; the output says so. */
#include <stdlib.h>
#include <string.h>

#include "audit_state.h"
#include "dsmflow/decode.h"

#define MAX_PORTS 64		/* ports of one rule (the rest: the dynamic range) */
#define MAX_SOURCES (AUDIT_EXACT_CLIENTS + 4)
#define DSM_RULE_PORTS 15	/* DSM's custom rules: at most 15 ports, or one range */

/* One allow rule: a protocol's ports from some sources (none: any). */
struct allow {
	uint8_t ip_proto;		/* 6, 17, 1 or 58 */
	uint16_t first[MAX_PORTS], last[MAX_PORTS];
	size_t port_count;
	struct cidr sources[MAX_SOURCES];
	size_t source_count;
	int any_source;
	char comment[200];
};

struct fw {
	const struct audit_view *v;
	const struct firewall_options *o;
	FILE *out;
	int family;		/* iptables: 4, ip6tables: 6 */
	int rule_number;	/* DSM's checklist */
};

/* ---- what to allow ---- */

static struct cidr aggregate(const struct audit_addr *a, const struct firewall_options *o)
{
	struct cidr c = { .family = a->family, .prefix_len = a->family == 4 ? o->v4_len : o->v6_len };
	size_t bits = c.prefix_len, bytes = a->family == 4 ? 4 : 16;

	memcpy(c.addr, a->addr, bytes);
	for (size_t i = bits / 8; i < bytes; i++) {	/* the host bits: zero */
		unsigned keep = i == bits / 8 ? 0xff00u >> (bits % 8) : 0;

		c.addr[i] = (uint8_t)(c.addr[i] & keep);
	}
	return c;
}

static void add_source(struct allow *r, const struct cidr *c)
{
	for (size_t i = 0; i < r->source_count; i++)
		if (r->sources[i].family == c->family && r->sources[i].prefix_len == c->prefix_len &&
		    memcmp(r->sources[i].addr, c->addr, 16) == 0)
			return;
	if (r->source_count < MAX_SOURCES)
		r->sources[r->source_count++] = *c;
	else
		r->any_source = 1;
}

static void add_port(struct allow *r, uint16_t first, uint16_t last)
{
	for (size_t i = 0; i < r->port_count; i++)
		if (r->first[i] <= first && last <= r->last[i])
			return;
	if (r->port_count < MAX_PORTS) {
		r->first[r->port_count] = first;
		r->last[r->port_count++] = last;
	}
}

/* The client networks of e, or any source when they are too many to list. */
static void entry_sources(const struct fw *f, const struct audit_entry *e, struct allow *r)
{
	if (e->estimated) {
		r->any_source = 1;
		return;
	}
	for (uint32_t i = 0; i < e->exact_count; i++) {
		struct cidr c = aggregate(&e->exact[i], f->o);

		add_source(r, &c);
	}
}

/* The ports of e's protocol p: what it served, and for a service its
 * catalogued inbound ports, dynamic ranges included. */
static void entry_ports(const struct fw *f, const struct audit_entry *e, uint8_t p, struct allow *r)
{
	const struct catalog *cat = f->v->cat;

	for (size_t i = 0; i < e->port_count; i++)
		if (e->port_protos[i] == p)
			add_port(r, e->ports[i], e->ports[i]);
	if (e->key.kind != FLOW_SERVICE)
		return;
	for (size_t i = 0; i < catalog_record_count(cat); i++) {
		const struct dsm_record *rec = catalog_record(cat, i);
		int rec_proto = rec->proto == DSM_PROTO_TCP ? 6 : rec->proto == DSM_PROTO_UDP ? 17 : 0;

		if (rec->service != e->key.id || !(rec->role & DSM_ROLE_INBOUND) || rec_proto != p)
			continue;
		/* a dynamic range (FTP's passive data): all of it, from the clients
		 * seen: the next transfer picks another port */
		add_port(r, rec->first_port, rec->last_port);
	}
}

/* The rule for e's protocol p (each protocol it was served on); 0 when
 * there is nothing to allow (only group addresses spoke to it). */
static int entry_rule(const struct fw *f, const struct audit_entry *e, uint8_t p, struct allow *r)
{
	char name[200], proto[16];

	memset(r, 0, sizeof(*r));
	r->ip_proto = p;
	entry_sources(f, e, r);
	if (!r->any_source && !r->source_count)
		return 0;
	if (p != 1 && p != 58)
		entry_ports(f, e, p, r);
	if (p != 1 && p != 58 && !r->port_count)
		return 0;
	snprintf(r->comment, sizeof(r->comment), "%s (%s): %llu flow%s, %llu client%s%s",
		 audit_table_name(f->v, e, name, sizeof(name)), decode_ip_proto_name(p, proto, sizeof(proto)),
		 (unsigned long long)e->flows, e->flows == 1 ? "" : "s", (unsigned long long)audit_clients(e),
		 audit_clients(e) == 1 ? "" : "s", r->any_source ? ", too many to list: any source" : "");
	return 1;
}

/* The NAS's local networks: --local, else its own /24 (IPv4) or /64 and the
 * link-local range (IPv6), whatever --aggregate says. */
static void local_sources(const struct fw *f, struct allow *r)
{
	const struct audit *a = f->v->audit;
	struct firewall_options lan = { 24, 64 };
	struct dsm_err err;
	struct cidr c;

	for (size_t i = 0; i < a->local_count; i++)
		add_source(r, &a->local[i]);
	if (a->local_count)
		return;
	c = aggregate(&f->v->nas->addr, &lan);
	add_source(r, &c);
	if (f->v->nas->addr.family == 6 && cidr_parse("fe80::/10", &c, &err) == 0)
		add_source(r, &c);
}

/* The DSM web UI rule: from the local networks, seen or not. */
static void ui_rule(const struct fw *f, struct allow *r)
{
	memset(r, 0, sizeof(*r));
	r->ip_proto = 6;
	add_port(r, 5000, 5001);
	local_sources(f, r);
	snprintf(r->comment, sizeof(r->comment), "DSM web UI, from the NAS's local networks: always");
}

/* What the NAS answers on its own link, seen or not: NetBIOS names,
 * SSDP, mDNS, Synology Assistant searches. */
static void discovery_rule(const struct fw *f, struct allow *r)
{
	memset(r, 0, sizeof(*r));
	r->ip_proto = 17;
	add_port(r, 137, 138);
	add_port(r, 1900, 1900);
	add_port(r, 5353, 5353);
	add_port(r, 9997, 9999);
	local_sources(f, r);
	snprintf(r->comment, sizeof(r->comment),
		 "discovery on the NAS's links (NetBIOS, SSDP, mDNS, Synology Assistant): always");
}

/* Calls fn with every allow rule of the view, the UI's first. */
static void each_rule(struct fw *f, void (*fn)(struct fw *f, const struct allow *r))
{
	static const uint8_t protos[4] = { 6, 17, 1, 58 };
	struct allow *r = malloc(sizeof(*r));

	if (!r)
		return;
	ui_rule(f, r);
	fn(f, r);
	discovery_rule(f, r);
	fn(f, r);
	for (size_t i = 0; i < f->v->entry_count; i++) {
		const struct audit_entry *e = f->v->entries[i];

		if (e->key.role != AUDIT_IN)
			continue;
		for (size_t p = 0; p < 4; p++) {
			int served = 0;

			for (size_t j = 0; j < e->port_count; j++)
				served |= e->port_protos[j] == protos[p];
			if (served && entry_rule(f, e, protos[p], r))
				fn(f, r);
		}
	}
	free(r);
}

/* ---- formats ---- */

static const char *cidr_text(const struct cidr *c, char *buf, size_t size)
{
	char addr[64];

	snprintf(buf, size, "%s/%u", addr_format(c->family, c->addr, addr, sizeof(addr)), c->prefix_len);
	return buf;
}

/* The inbound services nothing used, wrapped within 100 columns, each line
 * starting with prefix. */
static void print_closed(const struct fw *f, const char *prefix)
{
	size_t column = 0;
	int shown = 0;

	for (size_t s = 0; s < catalog_service_count(f->v->cat); s++) {
		const char *name = catalog_service(f->v->cat, s)->name;

		if (!f->v->inbound[s] || f->v->used[s] || f->v->possible_group[s])
			continue;
		if (!shown++)
			column = (size_t)fprintf(f->out, "%sclosed, no flow in the window:", prefix);
		if (column + strlen(name) + 2 > 98)
			column = (size_t)fprintf(f->out, "\n%s ", prefix) - 1;
		column += (size_t)fprintf(f->out, " %s;", name);
	}
	fputs(shown ? "\n" : "", f->out);
}

static void nft_set(FILE *out, const struct allow *r, int family)
{
	char text[80];
	int first = 1;

	fputs(family == 4 ? "ip saddr { " : "ip6 saddr { ", out);
	for (size_t i = 0; i < r->source_count; i++) {
		if (r->sources[i].family != family)
			continue;
		fprintf(out, "%s%s", first ? "" : ", ", cidr_text(&r->sources[i], text, sizeof(text)));
		first = 0;
	}
	fputs(" } ", out);
}

static void nft_ports(FILE *out, const struct allow *r)
{
	if (r->ip_proto == 1) {
		fputs("icmp type echo-request", out);
		return;
	}
	if (r->ip_proto == 58) {
		fputs("icmpv6 type echo-request", out);
		return;
	}
	fprintf(out, "%s dport { ", r->ip_proto == 6 ? "tcp" : "udp");
	for (size_t i = 0; i < r->port_count; i++) {
		fprintf(out, i ? ", %u" : "%u", r->first[i]);
		if (r->last[i] != r->first[i])
			fprintf(out, "-%u", r->last[i]);
	}
	fputs(" }", out);
}

static int has_family(const struct allow *r, int family)
{
	for (size_t i = 0; i < r->source_count; i++)
		if (r->sources[i].family == family)
			return 1;
	return 0;
}

static void nft_rule(struct fw *f, const struct allow *r)
{
	if ((r->ip_proto == 1 && f->family == 6) || (r->ip_proto == 58 && f->family == 4) ||
	    (!r->any_source && !has_family(r, f->family)))
		return;
	fprintf(f->out, "\t\t# %s\n", r->comment);
	if (r->any_source) {
		fputs("\t\t", f->out);
		nft_ports(f->out, r);
		fputs(" accept\n", f->out);
		return;
	}
	for (int family = 4; family <= 6; family += 2) {
		if (family != f->family || !has_family(r, family) || (r->ip_proto == 1 && family == 6) ||
		    (r->ip_proto == 58 && family == 4))
			continue;
		fputs("\t\t", f->out);
		nft_set(f->out, r, family);
		nft_ports(f->out, r);
		fputs(" accept\n", f->out);
	}
}

static void write_nft(struct fw *f, size_t n)
{
	char address[64];

	fprintf(f->out, "# dsmflow's proposal for NAS %s's inbound traffic: what it served in the\n"
			"# window, from where it was served; the rest dropped. Always allowed whether seen\n"
			"# or not: loopback, established and related traffic, the ICMP and ICMPv6 that\n"
			"# neighbour discovery and path MTU discovery need, and DSM's web UI from the\n"
			"# NAS's local networks. Check with nft -c -f FILE, load with nft -f FILE.\n",
		addr_format(f->v->nas->addr.family, f->v->nas->addr.addr, address, sizeof(address)));
	print_closed(f, "# ");
	const char *family = f->v->nas->addr.family == 4 ? "ip" : "ip6";

	fprintf(f->out, "# Only %s traffic is filtered: the NAS's other family is left alone.\n",
		f->v->nas->addr.family == 4 ? "IPv4" : "IPv6");
	fprintf(f->out, "table %s dsmflow_nas%zu\n", family, n);
	fprintf(f->out, "delete table %s dsmflow_nas%zu\n", family, n);
	fprintf(f->out, "table %s dsmflow_nas%zu {\n\tchain input {\n\t\ttype filter hook input priority "
			"filter; policy drop;\n\t\tiif \"lo\" accept\n\t\tct state established,related accept\n"
			"\t\tct state invalid drop\n", family, n);
	if (f->v->nas->addr.family == 4)
		fputs("\t\ticmp type { destination-unreachable, time-exceeded, parameter-problem } accept\n"
		      "\t\tudp sport 67 udp dport 68 accept\n", f->out);
	else
		fputs("\t\ticmpv6 type { destination-unreachable, packet-too-big, time-exceeded, "
		      "parameter-problem, nd-router-solicit, nd-router-advert, nd-neighbor-solicit, "
		      "nd-neighbor-advert, mld-listener-query, mld-listener-report, mld-listener-done, "
		      "mld2-listener-report } accept\n\t\tip6 saddr fe80::/10 udp dport 546 accept\n", f->out);
	f->family = f->v->nas->addr.family;
	each_rule(f, nft_rule);
	fputs("\t}\n}\n", f->out);
}

/* ---- iptables-restore ---- */

/* multiport's ports from p on, at most 15 (a range counts two); returns
 * where the next rule starts. */
static size_t ipt_ports(FILE *out, const struct allow *r, size_t p)
{
	size_t weight = 0, first = p;

	for (; p < r->port_count; p++) {
		size_t w = r->first[p] == r->last[p] ? 1 : 2;

		if (weight + w > 15)
			break;
		weight += w;
		fprintf(out, p > first ? ",%u" : "%u", r->first[p]);
		if (r->last[p] != r->first[p])
			fprintf(out, ":%u", r->last[p]);
	}
	return p;
}

static void ipt_rule(struct fw *f, const struct allow *r)
{
	char text[80];
	int six = f->family == 6, icmp = r->ip_proto == 1 || r->ip_proto == 58;

	if ((r->ip_proto == 1 && six) || (r->ip_proto == 58 && !six) ||
	    (!r->any_source && !has_family(r, f->family)))
		return;
	fprintf(f->out, "# %s\n", r->comment);
	for (size_t s = 0; s < (r->any_source ? 1 : r->source_count); s++) {
		if (!r->any_source && r->sources[s].family != f->family)
			continue;
		for (size_t p = 0; icmp ? p == 0 : p < r->port_count;) {
			fputs("-A INPUT", f->out);
			if (!r->any_source)
				fprintf(f->out, " -s %s", cidr_text(&r->sources[s], text, sizeof(text)));
			if (icmp) {
				fputs(six ? " -p ipv6-icmp --icmpv6-type echo-request" : " -p icmp --icmp-type echo-request",
				      f->out);
				p = 1;
			} else {
				fprintf(f->out, " -p %s -m multiport --dports ", r->ip_proto == 6 ? "tcp" : "udp");
				p = ipt_ports(f->out, r, p);
			}
			fputs(" -j ACCEPT\n", f->out);
		}
	}
}

static void write_iptables(struct fw *f, int family)
{
	static const char *const icmp4[] = { "destination-unreachable", "time-exceeded", "parameter-problem" };
	static const char *const icmp6[] = { "destination-unreachable", "packet-too-big", "time-exceeded",
					     "parameter-problem", "router-solicitation", "router-advertisement",
					     "neighbour-solicitation", "neighbour-advertisement", "130", "131",
					     "132", "143" };	/* the last four: MLD */
	char address[64];

	f->family = family;
	fprintf(f->out, "# dsmflow's proposal for NAS %s's inbound traffic (%s-restore --test FILE, then\n"
			"# %s-restore FILE): what it served in the window, from where; the rest dropped.\n"
			"# Always allowed: loopback, established/related, the ICMP%s needed for neighbour\n"
			"# and path MTU discovery, DSM's web UI from the NAS's local networks.\n",
		addr_format(f->v->nas->addr.family, f->v->nas->addr.addr, address, sizeof(address)),
		family == 4 ? "iptables" : "ip6tables", family == 4 ? "iptables" : "ip6tables",
		family == 4 ? "" : "v6");
	print_closed(f, "# ");
	fputs("*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
	      "-A INPUT -i lo -j ACCEPT\n-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT\n"
	      "-A INPUT -m conntrack --ctstate INVALID -j DROP\n", f->out);
	for (size_t i = 0; i < (family == 4 ? 3 : 12); i++)
		fprintf(f->out, family == 4 ? "-A INPUT -p icmp --icmp-type %s -j ACCEPT\n"
					    : "-A INPUT -p ipv6-icmp --icmpv6-type %s -j ACCEPT\n",
			family == 4 ? icmp4[i] : icmp6[i]);
	fputs(family == 4 ? "-A INPUT -p udp --sport 67 --dport 68 -j ACCEPT\n"
			  : "-A INPUT -s fe80::/10 -p udp --dport 546 -j ACCEPT\n", f->out);
	each_rule(f, ipt_rule);
	fputs("COMMIT\n", f->out);
}

/* ---- DSM's own firewall, a checklist ---- */

static void dsm_mask(const struct cidr *c, char *buf, size_t size)
{
	char addr[64];

	if (c->family == 6) {
		snprintf(buf, size, "Subnet %s, prefix length %u", addr_format(6, c->addr, addr, sizeof(addr)),
			 c->prefix_len);
		return;
	}
	uint32_t mask = c->prefix_len ? 0xffffffffu << (32 - c->prefix_len) : 0;

	snprintf(buf, size, "%s %s, mask %u.%u.%u.%u", c->prefix_len == 32 ? "Single host" : "Subnet",
		 addr_format(4, c->addr, addr, sizeof(addr)), mask >> 24, mask >> 16 & 255, mask >> 8 & 255,
		 mask & 255);
}

static void dsm_rule(struct fw *f, const struct allow *r)
{
	char source[128];

	if (r->ip_proto == 1 || r->ip_proto == 58)
		return;	/* DSM's firewall lets ICMP through */
	for (size_t s = 0; s < (r->any_source ? 1 : r->source_count); s++) {
		if (r->any_source)
			snprintf(source, sizeof(source), "All");
		else
			dsm_mask(&r->sources[s], source, sizeof(source));
		/* at most 15 single ports, or one range, per custom rule */
		for (size_t p = 0; p < r->port_count;) {
			size_t n = 0;

			fprintf(f->out, "%3d. Allow  Custom %s: ", ++f->rule_number, r->ip_proto == 6 ? "TCP" : "UDP");
			if (r->first[p] != r->last[p]) {
				fprintf(f->out, "%u-%u", r->first[p], r->last[p]);
				p++;
			} else {
				for (; p < r->port_count && r->first[p] == r->last[p] && n < DSM_RULE_PORTS; p++, n++)
					fprintf(f->out, n ? ",%u" : "%u", r->first[p]);
			}
			fprintf(f->out, "  Source: %s\n       (%s)\n", source, r->comment);
		}
	}
}

static void write_dsm(struct fw *f)
{
	char address[64];

	f->rule_number = 0;
	fprintf(f->out, "DSM firewall for NAS %s: Control Panel > Security > Firewall, the profile of\n"
			"the interface the clients reach; create these rules top first (custom rules hold\n"
			"at most 15 ports or one range each). Established traffic is let through by DSM.\n\n",
		addr_format(f->v->nas->addr.family, f->v->nas->addr.addr, address, sizeof(address)));
	each_rule(f, dsm_rule);
	fprintf(f->out, "%3d. If no rules are matched: Deny access\n\n", ++f->rule_number);
	print_closed(f, "");
}

int audit_firewall(const struct audit *a, enum firewall_kind kind, const struct firewall_options *o,
		   const struct catalog *cat, const struct port_index *idx, FILE *out)
{
	for (size_t i = 0; i < a->nas_count; i++) {
		struct audit_view v;
		struct fw f = { &v, o, out, 4, 0 };

		if (audit_view_make(&v, a, i, cat, idx))
			return -1;
		fputs(i ? "\n" : "", out);
		if (kind == FIREWALL_NFT)
			write_nft(&f, i);
		else if (kind == FIREWALL_IPTABLES || kind == FIREWALL_IP6TABLES)
			write_iptables(&f, kind == FIREWALL_IPTABLES ? 4 : 6);
		else
			write_dsm(&f);
		audit_view_free(&v);
	}
	return 0;
}
