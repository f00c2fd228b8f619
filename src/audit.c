/* audit.c - the per-NAS audit state: flows folded, per NAS, into entries
 * by role (the NAS serves, or connects out) and attribution, each with
 * its clients (exact up to AUDIT_EXACT_CLIENTS, then a HyperLogLog
 * estimate), its top clients by bytes (space-saving), and its external
 * ones. Fed whole flows, off the packet path; see audit.h. */
#include <stdlib.h>
#include <string.h>

#include "audit_state.h"
#include "dsmflow/decode.h"
#include "dsmflow/hll.h"

#include <pcap/dlt.h>

/* ---- addresses ---- */

static struct audit_addr endpoint(const struct flow *flow, int side)
{
	struct audit_addr a = { .family = flow->key.family };

	memcpy(a.addr, flow->key.addr[side], sizeof(a.addr));
	return a;
}

static int same_addr(const struct audit_addr *x, const struct audit_addr *y)
{
	return x->family == y->family && memcmp(x->addr, y->addr, sizeof(x->addr)) == 0;
}

/* Multicast and broadcast addresses are never clients. */
static int is_group_address(const struct audit_addr *a)
{
	return addr_is_group(a->family, a->addr);
}

/* Whether a is in the /64 of one of the NAS's own IPv6 addresses: a global
 * IPv6 client on the NAS's LAN is not external. */
static int on_a_nas_link(const struct audit *au, const struct audit_addr *a)
{
	for (size_t i = 0; a->family == 6 && i < au->nas_count; i++)
		if (au->nas[i].addr.family == 6 && memcmp(au->nas[i].addr.addr, a->addr, 8) == 0)
			return 1;
	return 0;
}

int audit_is_external(const struct audit *a, const struct audit_addr *addr)
{
	if (a->local_count)
		return !cidr_match_any(a->local, a->local_count, addr->family, addr->addr);
	return !addr_is_local_range(addr->family, addr->addr) && !on_a_nas_link(a, addr);
}

/* ---- distinct clients: exact, then HyperLogLog ---- */

static uint64_t addr_hash(const struct audit_addr *a)
{
	return hll_hash(a, sizeof(*a));
}

static void count_client(struct audit_entry *e, const struct audit_addr *a)
{
	if (!e->estimated) {
		for (uint32_t i = 0; i < e->exact_count; i++)
			if (same_addr(&e->exact[i], a))
				return;
		if (e->exact_count < AUDIT_EXACT_CLIENTS) {
			e->exact[e->exact_count++] = *a;
			return;
		}
		e->estimated = 1;	/* the exact list goes into the estimate */
		for (uint32_t i = 0; i < e->exact_count; i++)
			hll_add(e->hll, addr_hash(&e->exact[i]));
	}
	hll_add(e->hll, addr_hash(a));
}

uint64_t audit_clients(const struct audit_entry *e)
{
	uint64_t estimate;

	if (!e->estimated)
		return e->exact_count;
	estimate = hll_estimate(e->hll);
	return estimate > AUDIT_EXACT_CLIENTS ? estimate : AUDIT_EXACT_CLIENTS + 1;	/* more than listed */
}

/* ---- top clients: space-saving, weighted by bytes ---- */

static void count_heavy(struct audit_heavy *table, size_t size, const struct audit_addr *a,
			uint64_t bytes)
{
	struct audit_heavy *least = &table[0];

	for (size_t i = 0; i < size; i++) {
		if (table[i].flows && same_addr(&table[i].addr, a)) {
			table[i].bytes += bytes;
			table[i].flows++;
			return;
		}
		if (table[i].flows == 0) {	/* a free place */
			table[i] = (struct audit_heavy){ *a, bytes, 1, 0 };
			return;
		}
		if (table[i].bytes < least->bytes)
			least = &table[i];
	}
	/* the least takes the newcomer, whose count may include the least's */
	*least = (struct audit_heavy){ *a, least->bytes + bytes, 1, least->bytes };
}

/* ---- entries ---- */

static struct audit_nas *nas_of(struct audit *a, const struct audit_addr *addr)
{
	for (size_t i = 0; i < a->nas_count; i++)
		if (same_addr(&a->nas[i].addr, addr))
			return &a->nas[i];
	if (a->nas_count == AUDIT_MAX_NAS)
		return NULL;
	a->nas[a->nas_count].addr = *addr;
	a->nas[a->nas_count].detected_by = a->detecting ? 0 : AUDIT_BY_OPTION;
	return &a->nas[a->nas_count++];
}

static struct audit_entry *entry_of(struct audit_nas *nas, const struct audit_key *key)
{
	struct audit_entry *e;

	HASH_FIND(hh, nas->entries, key, sizeof(*key), e);
	if (e || nas->entry_count == AUDIT_MAX_ENTRIES)
		return e;
	if (!(e = calloc(1, sizeof(*e))))
		return NULL;
	e->key = *key;
	e->first_us = UINT64_MAX;
	HASH_ADD(hh, nas->entries, key, sizeof(e->key), e);
	nas->entry_count++;
	return e;
}

static void note_port(struct audit_entry *e, uint8_t ip_proto, uint16_t port)
{
	for (size_t i = 0; i < e->port_count; i++)
		if (e->ports[i] == port && e->port_protos[i] == ip_proto)
			return;
	if (e->port_count < AUDIT_PORTS) {
		e->port_protos[e->port_count] = ip_proto;
		e->ports[e->port_count++] = port;
	} else {
		e->ports_more = 1;
	}
}

/* ---- bytes over time: one clock for every entry. Bucket k holds the
 * bytes of flows that ended in [k * width, (k + 1) * width); the entries'
 * arrays start at bucket base, and hold AUDIT_BUCKETS of them: when the
 * buckets used span more, the width doubles (pairs merge); when a flow
 * ends before the base, the arrays shift. ---- */

static void rebucket(struct audit *a, int merge, uint64_t shift)
{
	for (size_t n = 0; n < a->nas_count; n++)
		for (struct audit_entry *e = a->nas[n].entries; e; e = e->hh.next) {
			uint64_t moved[AUDIT_BUCKETS] = { 0 };

			for (uint64_t i = 0; i < AUDIT_BUCKETS; i++) {
				uint64_t to = merge ? (a->bucket_base + i) / 2 - a->bucket_base / 2 : i + shift;

				if (to < AUDIT_BUCKETS)
					moved[to] += e->bytes_at[i];
			}
			memcpy(e->bytes_at, moved, sizeof(moved));
		}
}

static size_t bucket_of(struct audit *a, uint64_t us)
{
	uint64_t k, lo, hi;

	if (!a->bucket_us) {		/* the first flow sets the clock */
		a->bucket_us = 1000000;
		a->bucket_base = a->bucket_low = a->bucket_high = us / a->bucket_us;
	}
	k = us / a->bucket_us;
	lo = k < a->bucket_low ? k : a->bucket_low;
	hi = k > a->bucket_high ? k : a->bucket_high;
	while (hi - lo >= AUDIT_BUCKETS) {	/* too wide: twice the width */
		rebucket(a, 1, 0);
		a->bucket_us *= 2;
		a->bucket_base /= 2;
		k /= 2, lo /= 2, hi /= 2;
	}
	if (lo < a->bucket_base) {	/* earlier than the arrays begin: shift them */
		rebucket(a, 0, a->bucket_base - lo);
		a->bucket_base = lo;
	} else if (hi - a->bucket_base >= AUDIT_BUCKETS) {	/* later than they end */
		uint64_t base = hi - (AUDIT_BUCKETS - 1), shift = base - a->bucket_base;

		for (size_t n = 0; n < a->nas_count; n++)	/* nothing is below lo: nothing lost */
			for (struct audit_entry *e = a->nas[n].entries; e; e = e->hh.next) {
				uint64_t moved[AUDIT_BUCKETS] = { 0 };

				for (uint64_t i = shift; i < AUDIT_BUCKETS; i++)
					moved[i - shift] = e->bytes_at[i];
				memcpy(e->bytes_at, moved, sizeof(moved));
			}
		a->bucket_base = base;
	}
	a->bucket_low = lo;
	a->bucket_high = hi;
	return (size_t)(k - a->bucket_base);
}

static void fold(struct audit *a, struct audit_entry *e, const struct flow *flow,
		 const struct audit_addr *peer)
{
	uint64_t bytes = flow->bytes[TO_SERVER] + flow->bytes[TO_CLIENT];

	e->flows++;
	for (int d = 0; d < 2; d++) {
		e->packets[d] += flow->packets[d];
		e->bytes[d] += flow->bytes[d];
	}
	e->first_us = flow->first_us < e->first_us ? flow->first_us : e->first_us;
	e->last_us = flow->last_us > e->last_us ? flow->last_us : e->last_us;
	e->evidence[flow->decided_by < SERVICE_EVIDENCE_KINDS ? flow->decided_by : SERVICE_BY_PORT]++;
	note_port(e, flow->key.ip_proto, flow->key.port[flow->server]);
	e->bytes_at[bucket_of(a, flow->last_us)] += bytes;
	if (is_group_address(peer))
		return;
	count_client(e, peer);
	count_heavy(e->top, 2 * AUDIT_TOP, peer, bytes);
	if (audit_is_external(a, peer)) {
		e->external_flows++;
		count_heavy(e->external, 2 * AUDIT_TOP, peer, bytes);
	}
}

/* Folds flow into nas_side's NAS, in role. */
static void fold_for(struct audit *a, const struct flow *flow, int nas_side, enum audit_role role)
{
	struct audit_addr nas_addr = endpoint(flow, nas_side), peer = endpoint(flow, !nas_side);
	struct audit_key key = { .role = (uint8_t)role, .kind = flow->kind, .id = flow->attribution };
	struct audit_nas *nas = nas_of(a, &nas_addr);
	struct audit_entry *e;

	if (flow->kind == FLOW_UNCLASSIFIED)
		key.ip_proto = flow->key.ip_proto;
	if (!nas) {
		a->flows_without_nas_slot++;
		return;
	}
	if (flow->key.ip_proto == 6 && !(flow->marks & FLOW_MARK_ANSWERED)) {	/* refused or unanswered: a scan, */
		nas->unanswered_flows++;			/* not a use */
		nas->unanswered_bytes += flow->bytes[TO_SERVER] + flow->bytes[TO_CLIENT];
		return;
	}
	if (!(e = entry_of(nas, &key))) {
		nas->flows_without_entry++;
		return;
	}
	fold(a, e, flow, &peer);
}

/* ---- names of what the NAS reached ---- */

/* A name from a packet, kept as a hostname's characters only ('?' for any
 * other byte): every output may show it as it is. */
static void keep_name(char *to, const char *name, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		to[i] = (char)((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
				       c == '.' || c == '-' || c == '_' || c == '*' ? c : '?');
	}
	to[len] = '\0';
}

void audit_note_name(struct audit *a, const struct flow *flow, const char *name, size_t len)
{
	if (!a || a->detecting || !len)
		return;
	for (int side = 0; side < 2; side++) {
		struct audit_addr nas_addr = endpoint(flow, side);
		struct audit_key key = { .role = AUDIT_OUT, .kind = flow->kind, .id = flow->attribution };
		struct audit_nas *nas;
		struct audit_entry *e;
		size_t i;

		if (side == flow->server || flow->kind == FLOW_UNCLASSIFIED ||
		    !cidr_match_any(a->nas_prefixes, a->nas_prefix_count, flow->key.family, flow->key.addr[side]) ||
		    !(nas = nas_of(a, &nas_addr)) || !(e = entry_of(nas, &key)))
			continue;
		if (len >= AUDIT_NAME_LEN)
			len = AUDIT_NAME_LEN - 1;
		for (i = 0; i < e->name_count; i++)
			if (strncmp(e->names[i], name, len) == 0 && e->names[i][len] == '\0')
				break;
		if (i == e->name_count && e->name_count < AUDIT_NAMES)
			keep_name(e->names[e->name_count++], name, len);
	}
}

/* ---- finding the NAS ---- */

static int in_port_range(uint16_t port, uint16_t first, uint16_t last)
{
	return port >= first && port <= last;
}

/* A broadcast to the whole network or, as far as dsmflow can tell, to a
 * /24's (x.x.x.255): a Synology Assistant search. */
static int is_search_address(const struct audit_addr *a)
{
	return is_group_address(a) || (a->family == 4 && a->addr[3] == 255);
}

static int assistant_ports(const struct flow_key *k)
{
	return k->ip_proto == 17 && in_port_range(k->port[0], 9997, 9999) && in_port_range(k->port[1], 9997, 9999);
}

/* What DSM-specific evidence flow gives of a NAS: the side it shows, or -1. */
static int nas_evidence(const struct flow *flow, uint8_t *by, struct audit_addr *peer)
{
	const struct flow_key *k = &flow->key;

	if (flow->decided_by == SERVICE_BY_WEBAPI && k->ip_proto == 6 &&
	    in_port_range(k->port[flow->server], 5000, 5001)) {
		*by = AUDIT_BY_WEBAPI;
		return flow->server;
	}
	/* an answer to a Synology Assistant search: a unicast datagram from
	 * udp/9997-9999 to udp/9997-9999, never answered back, to a host that
	 * broadcast a search (checked in audit_detected) */
	if (assistant_ports(k) && (flow->packets[TO_SERVER] == 0) != (flow->packets[TO_CLIENT] == 0)) {
		int sender = flow->packets[TO_SERVER] ? !flow->server : flow->server;

		*peer = endpoint(flow, !sender);
		if (is_search_address(peer))
			return -1;
		*by = AUDIT_BY_ASSISTANT;
		return sender;
	}
	return -1;
}

/* A search: from a host, to a broadcast address, on udp/9997-9999. */
static void note_search(struct audit *a, const struct flow *flow)
{
	for (int side = 0; side < 2; side++) {
		struct audit_addr to = endpoint(flow, !side), from = endpoint(flow, side);

		if (!is_search_address(&to) || is_search_address(&from))
			continue;
		for (size_t i = 0; i < a->searcher_count; i++)
			if (same_addr(&a->searchers[i], &from))
				return;
		if (a->searcher_count < sizeof(a->searchers) / sizeof(a->searchers[0]))
			a->searchers[a->searcher_count++] = from;
	}
}

static void detect(struct audit *a, const struct flow *flow)
{
	uint8_t by = 0;
	struct audit_addr addr, peer = { 0 };
	struct audit_nas *nas;
	int side;

	if (assistant_ports(&flow->key))
		note_search(a, flow);
	if ((side = nas_evidence(flow, &by, &peer)) < 0)
		return;
	addr = endpoint(flow, side);
	if (!(nas = nas_of(a, &addr))) {
		a->flows_without_nas_slot++;
		return;
	}
	nas->detected_by |= by;
	if (by == AUDIT_BY_ASSISTANT)
		nas->answered = peer;
	nas->evidence_flows++;
}

/* Whether nas's evidence stands: an Assistant answer counts only when it
 * went to a host seen searching. */
static int evidence_stands(const struct audit *a, const struct audit_nas *nas)
{
	if (nas->detected_by & ~AUDIT_BY_ASSISTANT)
		return 1;
	for (size_t i = 0; i < a->searcher_count; i++)
		if (same_addr(&a->searchers[i], &nas->answered))
			return 1;
	return 0;
}

size_t audit_detected(const struct audit *a, struct cidr *out, uint8_t *detected_by, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < a->nas_count && n < max; i++) {
		if (!evidence_stands(a, &a->nas[i]))
			continue;
		out[n] = (struct cidr){ .family = a->nas[i].addr.family,
					 .prefix_len = a->nas[i].addr.family == 4 ? 32 : 128 };
		memcpy(out[n].addr, a->nas[i].addr.addr, sizeof(out[n].addr));
		detected_by[n++] = a->nas[i].detected_by;
	}
	return n;
}

void audit_set_detected(struct audit *a, const struct cidr *nas, const uint8_t *detected_by, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct audit_addr addr = { .family = nas[i].family };
		struct audit_nas *slot;

		memcpy(addr.addr, nas[i].addr, sizeof(addr.addr));
		if ((slot = nas_of(a, &addr)))
			slot->detected_by = detected_by[i];
	}
}

/* Synology's MAC address prefixes, from Wireshark's manuf file (Debian
 * libwireshark-data 4.0: /usr/share/wireshark/manuf, "Synology
 * Incorporated"). */
static const uint8_t synology_ouis[][3] = { { 0x00, 0x11, 0x32 }, { 0x90, 0x09, 0xd0 } };

void audit_frames(void *ctx, const struct packet *pkts, size_t count)
{
	struct audit *a = ctx;

	for (size_t i = 0; a->detecting && i < count; i++) {
		const struct packet *p = &pkts[i];
		struct decoded d;
		struct audit_addr addr;
		struct audit_nas *nas;
		int synology = 0;

		if (p->link != DLT_EN10MB || p->caplen < 14)
			continue;
		for (size_t o = 0; o < sizeof(synology_ouis) / sizeof(synology_ouis[0]); o++)
			synology |= memcmp(p->data + 6, synology_ouis[o], 3) == 0;
		if (!synology || decode_packet(p->link, p->data, p->caplen, p->wire_len, &d) != DECODE_IP ||
		    addr_is_group(d.family, d.src))
			continue;
		addr.family = d.family;
		memcpy(addr.addr, d.src, sizeof(addr.addr));
		if ((nas = nas_of(a, &addr))) {
			nas->detected_by |= AUDIT_BY_MAC;
			nas->evidence_flows++;
		}
	}
}

/* ---- folding flows ---- */

void audit_flow(struct audit *a, const struct flow *flow)
{
	if (!a || !flow->row)
		return;	/* pending: no service decided */
	if (a->detecting) {
		detect(a, flow);
		return;
	}
	for (int side = 0; side < 2; side++) {
		if (!cidr_match_any(a->nas_prefixes, a->nas_prefix_count, flow->key.family,
				    flow->key.addr[side]))
			continue;
		/* a NAS talking to itself: once, as the server */
		if (side != flow->server &&
		    memcmp(flow->key.addr[0], flow->key.addr[1], sizeof(flow->key.addr[0])) == 0)
			continue;
		fold_for(a, flow, side, side == flow->server ? AUDIT_IN : AUDIT_OUT);
	}
	a->first_us = flow->first_us < a->first_us ? flow->first_us : a->first_us;
	a->last_us = flow->last_us > a->last_us ? flow->last_us : a->last_us;
}

/* ---- life ---- */

static struct cidr *copy_prefixes(const struct cidr *p, size_t n)
{
	struct cidr *copy = malloc((n + 1) * sizeof(*copy));

	if (copy && n)
		memcpy(copy, p, n * sizeof(*copy));
	return copy;
}

struct audit *audit_new(const struct cidr *nas, size_t nas_count, const struct cidr *local,
			size_t local_count)
{
	struct audit *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->nas_prefixes = copy_prefixes(nas, nas_count);
	a->local = copy_prefixes(local, local_count);
	a->nas_prefix_count = nas_count;
	a->local_count = local_count;
	a->detecting = nas_count == 0;
	a->first_us = UINT64_MAX;
	if (!a->nas_prefixes || !a->local) {
		audit_free(a);
		return NULL;
	}
	return a;
}

struct audit *audit_clone(const struct audit *a)
{
	struct audit *copy = audit_new(a->nas_prefixes, a->nas_prefix_count, a->local, a->local_count);

	if (!copy)
		return NULL;
	for (size_t i = 0; i < a->nas_count; i++) {
		copy->nas[i] = a->nas[i];
		copy->nas[i].entries = NULL;
		for (const struct audit_entry *e = a->nas[i].entries; e; e = e->hh.next) {
			struct audit_entry *twin = malloc(sizeof(*twin));

			if (!twin) {
				copy->nas_count = i + 1;
				audit_free(copy);
				return NULL;
			}
			*twin = *e;
			HASH_ADD(hh, copy->nas[i].entries, key, sizeof(twin->key), twin);
		}
	}
	copy->nas_count = a->nas_count;
	copy->detecting = a->detecting;
	copy->flows_without_nas_slot = a->flows_without_nas_slot;
	copy->first_us = a->first_us;
	copy->last_us = a->last_us;
	copy->bucket_us = a->bucket_us;
	copy->bucket_base = a->bucket_base;
	copy->bucket_low = a->bucket_low;
	copy->bucket_high = a->bucket_high;
	return copy;
}

void audit_free(struct audit *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->nas_count; i++) {
		struct audit_entry *e, *tmp;

		HASH_ITER(hh, a->nas[i].entries, e, tmp) {
			HASH_DEL(a->nas[i].entries, e);
			free(e);
		}
	}
	free(a->nas_prefixes);
	free(a->local);
	free(a);
}

size_t audit_nas_count(const struct audit *a)
{
	return a->nas_count;
}

int audit_nas_family(const struct audit *a, size_t i)
{
	return i < a->nas_count ? a->nas[i].addr.family : 0;
}
