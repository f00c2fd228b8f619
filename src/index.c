/* index.c - building the per-protocol port tables and interning candidate sets.
 *
 * Built once from a catalogue, then read-only: lookups are one array read.
 * The build gathers, for every port, the static records covering it
 * (a counting pass then a filling pass, so ranges cost their length and no
 * more), reduces them to (service, roles) candidates, and interns the result.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <uthash.h>

#include "dsmflow/index.h"
#include "dsmflow/names.h"

#define PORTS 65536u

struct interned_set {
	UT_hash_handle hh;
	uint16_t id;
	size_t key_len;
	uint32_t key[];	/* service << 8 | roles, per candidate: the hash key */
};

struct port_index {
	uint16_t table[2][PORTS];	/* [DSM_PROTO_TCP or DSM_PROTO_UDP][port] */
	uint16_t icmp_set;
	struct candidate_set *sets;	/* sets[0] is the empty set */
	size_t set_count;		/* including sets[0] */
	struct interned_set *interned;
	uint16_t *role_subset[2];	/* [inbound, outbound][set id] */
	struct name_subset *name_subsets;	/* by set id, then as found */
	size_t name_subset_count;
	uint32_t *name_subsets_of;	/* [set id]: the first of its name subsets, [id + 1] the end */
	const struct dsm_record **dynamic;
	size_t dynamic_count;
};

/* The part of set set_id whose candidates a server name in domain (a
 * catalogue domain, pointing into the catalogue) would match. */
struct name_subset {
	uint16_t set_id, subset;
	const char *domain;
	size_t len;
};

/* Records covering each port of one protocol, in CSR form. */
struct port_records {
	uint32_t start[PORTS + 1];
	uint32_t fill[PORTS];	/* next free slot per port while filling */
	uint32_t *record_ids;
};

void port_index_free(struct port_index *idx)
{
	struct interned_set *s, *tmp;

	if (!idx)
		return;
	HASH_ITER(hh, idx->interned, s, tmp) {
		HASH_DEL(idx->interned, s);
		free(s);
	}
	for (size_t i = 1; i < idx->set_count; i++)
		free((void *)idx->sets[i].items);
	free(idx->sets);
	free(idx->role_subset[0]);
	free(idx->role_subset[1]);
	free(idx->name_subsets);
	free(idx->name_subsets_of);
	free(idx->dynamic);
	free(idx);
}

static int by_service(const void *a, const void *b)
{
	const struct candidate *x = a, *y = b;

	return (int)x->service - (int)y->service;
}

/* Turns the records of one port into sorted (service, roles) candidates,
 * one per service; returns their number and sets *narrowest. */
static size_t make_candidates(const struct catalog *cat, const uint32_t *record_ids, size_t n,
			      struct candidate *out, uint32_t *narrowest)
{
	size_t count = 0;

	*narrowest = UINT32_MAX;
	for (size_t i = 0; i < n; i++) {
		const struct dsm_record *r = catalog_record(cat, record_ids[i]);
		uint32_t width = (uint32_t)r->last_port - r->first_port + 1;

		if (width < *narrowest)
			*narrowest = width;
		out[count].service = r->service;
		out[count].roles = r->role;
		count++;
	}
	qsort(out, count, sizeof(*out), by_service);
	size_t merged = 0;

	for (size_t i = 0; i < count; i++) {
		if (merged > 0 && out[merged - 1].service == out[i].service)
			out[merged - 1].roles |= out[i].roles;
		else
			out[merged++] = out[i];
	}
	return merged;
}

/* Returns the id of the set holding cands (whose narrowest record covers
 * narrowest ports), adding it when new; 0 on failure (0 is never a valid
 * id of a non-empty set). */
static uint16_t intern_set(struct port_index *idx, const struct candidate *cands, size_t n,
			   uint32_t narrowest, enum dsm_proto proto, uint16_t port)
{
	size_t key_len = (n + 1) * sizeof(uint32_t);
	struct interned_set *found = malloc(sizeof(*found) + key_len);
	struct interned_set *existing;
	struct candidate *items;
	struct candidate_set *bigger;

	if (!found)
		return 0;
	for (size_t i = 0; i < n; i++)
		found->key[i] = (uint32_t)cands[i].service << 8 | cands[i].roles;
	found->key[n] = narrowest;
	HASH_FIND(hh, idx->interned, found->key, key_len, existing);
	if (existing) {
		free(found);
		return existing->id;
	}
	bigger = idx->set_count < UINT16_MAX
		 ? realloc(idx->sets, (idx->set_count + 1) * sizeof(*idx->sets)) : NULL;
	items = malloc(n * sizeof(*items));
	if (!bigger || !items) {
		if (bigger)
			idx->sets = bigger;
		free(items);
		free(found);
		return 0;
	}
	idx->sets = bigger;
	memcpy(items, cands, n * sizeof(*items));
	idx->sets[idx->set_count] = (struct candidate_set){
		.count = (uint32_t)n, .items = items, .narrowest = narrowest,
		.proto = (uint8_t)proto, .port = port,
	};
	found->id = (uint16_t)idx->set_count++;
	found->key_len = key_len;
	HASH_ADD(hh, idx->interned, key[0], key_len, found);
	return found->id;
}

static bool is_static_of(const struct dsm_record *r, enum dsm_proto proto)
{
	return r->proto == proto && r->match == DSM_MATCH_STATIC;
}

static int gather_port_records(const struct catalog *cat, enum dsm_proto proto,
			       struct port_records *pr)
{
	size_t n = catalog_record_count(cat);

	memset(pr->start, 0, sizeof(pr->start));
	for (size_t i = 0; i < n; i++) {
		const struct dsm_record *r = catalog_record(cat, i);

		if (is_static_of(r, proto))
			for (uint32_t p = r->first_port; p <= r->last_port; p++)
				pr->start[p + 1]++;
	}
	for (uint32_t p = 0; p < PORTS; p++)
		pr->start[p + 1] += pr->start[p];
	pr->record_ids = malloc((pr->start[PORTS] + 1) * sizeof(uint32_t));
	if (!pr->record_ids)
		return -1;
	memcpy(pr->fill, pr->start, sizeof(pr->fill));
	for (size_t i = 0; i < n; i++) {
		const struct dsm_record *r = catalog_record(cat, i);

		if (is_static_of(r, proto))
			for (uint32_t p = r->first_port; p <= r->last_port; p++)
				pr->record_ids[pr->fill[p]++] = (uint32_t)i;
	}
	return 0;
}

static int build_port_table(struct port_index *idx, const struct catalog *cat,
			    enum dsm_proto proto, struct dsm_err *err)
{
	struct port_records *pr = malloc(sizeof(*pr));
	struct candidate *cands = NULL;
	int rc = -1;

	if (!pr || gather_port_records(cat, proto, pr)) {
		free(pr);
		dsm_err_set(err, "port index: out of memory");
		return -1;
	}
	cands = malloc((catalog_record_count(cat) + 1) * sizeof(*cands));
	if (!cands)
		goto out;
	for (uint32_t p = 0; p < PORTS; p++) {
		size_t n = pr->start[p + 1] - pr->start[p];

		if (n == 0)
			continue;
		uint32_t narrowest;

		n = make_candidates(cat, pr->record_ids + pr->start[p], n, cands, &narrowest);
		idx->table[proto][p] = intern_set(idx, cands, n, narrowest, proto, (uint16_t)p);
		if (idx->table[proto][p] == PORT_INDEX_NONE)
			goto out;
	}
	rc = 0;
out:
	if (rc)
		dsm_err_set(err, "port index: out of memory or more than 65535 distinct sets");
	free(cands);
	free(pr->record_ids);
	free(pr);
	return rc;
}

static int build_icmp_and_dynamic(struct port_index *idx, const struct catalog *cat,
				  struct dsm_err *err)
{
	size_t n = catalog_record_count(cat), icmp_count = 0;
	uint32_t *icmp_ids = malloc((n + 1) * sizeof(*icmp_ids));
	struct candidate *cands = malloc((n + 1) * sizeof(*cands));

	idx->dynamic = malloc((n + 1) * sizeof(*idx->dynamic));
	if (!icmp_ids || !cands || !idx->dynamic)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		const struct dsm_record *r = catalog_record(cat, i);

		if (r->match == DSM_MATCH_DYNAMIC)
			idx->dynamic[idx->dynamic_count++] = r;
		else if (r->proto == DSM_PROTO_ICMP)
			icmp_ids[icmp_count++] = (uint32_t)i;
	}
	if (icmp_count) {
		uint32_t narrowest;

		icmp_count = make_candidates(cat, icmp_ids, icmp_count, cands, &narrowest);
		idx->icmp_set = intern_set(idx, cands, icmp_count, narrowest, DSM_PROTO_ICMP, 0);
		if (idx->icmp_set == PORT_INDEX_NONE)
			goto fail;
	}
	free(icmp_ids);
	free(cands);
	return 0;
fail:
	free(icmp_ids);
	free(cands);
	dsm_err_set(err, "port index: out of memory");
	return -1;
}

/* Interns the part of set id whose candidates have role; returns its id,
 * PORT_INDEX_NONE when empty, or -1 when memory runs out. */
static int intern_role_subset(struct port_index *idx, size_t id, uint8_t role,
			      struct candidate *scratch)
{
	const struct candidate_set set = idx->sets[id];	/* a copy: interning may move sets */
	size_t n = 0;
	uint16_t subset;

	for (size_t i = 0; i < set.count; i++)
		if (set.items[i].roles & role)
			scratch[n++] = (struct candidate){ set.items[i].service, role };
	if (n == 0)
		return PORT_INDEX_NONE;
	subset = intern_set(idx, scratch, n, set.narrowest, (enum dsm_proto)set.proto, set.port);
	return subset == PORT_INDEX_NONE ? -1 : subset;
}

/* Interns, for every set, its inbound-only and outbound-only parts, and
 * records their ids. The parts are sets too; the first pass runs until no
 * new part appears (a single-role part is its own part), the second only
 * finds what the first interned. */
static int build_role_subsets(struct port_index *idx, size_t max_candidates, struct dsm_err *err)
{
	static const uint8_t roles[2] = { DSM_ROLE_INBOUND, DSM_ROLE_OUTBOUND };
	struct candidate *scratch = malloc((max_candidates + 1) * sizeof(*scratch));
	int rc = -1;

	if (!scratch)
		goto out;
	for (size_t id = 1; id < idx->set_count; id++)
		for (int r = 0; r < 2; r++)
			if (intern_role_subset(idx, id, roles[r], scratch) < 0)
				goto out;
	for (int r = 0; r < 2; r++)
		if (!(idx->role_subset[r] = calloc(idx->set_count, sizeof(uint16_t))))
			goto out;
	for (size_t id = 1; id < idx->set_count; id++)
		for (int r = 0; r < 2; r++)
			idx->role_subset[r][id] = (uint16_t)intern_role_subset(idx, id, roles[r], scratch);
	rc = 0;
out:
	if (rc)
		dsm_err_set(err, "port index: out of memory");
	free(scratch);
	return rc;
}

/* ---- narrowing by server name ---- */

/* Calls fn for each domain of service's records of proto. */
static int each_domain(const struct catalog *cat, uint16_t service, uint8_t proto,
		       int (*fn)(void *ctx, const char *domain, size_t len), void *ctx)
{
	for (size_t i = 0; i < catalog_record_count(cat); i++) {
		const struct dsm_record *r = catalog_record(cat, i);
		const char *d = r->domains;

		if (r->service != service || r->proto != proto)
			continue;
		while (d && *d) {
			const char *comma = strchr(d, ',');
			size_t len = comma ? (size_t)(comma - d) : strlen(d);

			if (fn(ctx, d, len))
				return 1;
			d = comma ? comma + 1 : NULL;
		}
	}
	return 0;
}

struct domain_probe {
	const char *name;
	size_t len;
};

static int domain_covers_probe(void *ctx, const char *domain, size_t len)
{
	const struct domain_probe *probe = ctx;

	return name_matches_domain(probe->name, probe->len, domain, len);
}

struct subset_builder {
	struct port_index *idx;
	const struct catalog *cat;
	uint16_t set_id;
	struct candidate *scratch;
	int failed;
};

static int have_name_subset(const struct port_index *idx, uint16_t set_id, const char *d, size_t len)
{
	for (size_t i = 0; i < idx->name_subset_count; i++) {
		const struct name_subset *ns = &idx->name_subsets[i];

		if (ns->set_id == set_id && ns->len == len && memcmp(ns->domain, d, len) == 0)
			return 1;
	}
	return 0;
}

/* Interns the part of the set whose candidates a name equal to domain
 * would match (a candidate with a domain that is a suffix of it), and
 * records it. */
static int add_name_subset(void *ctx, const char *domain, size_t len)
{
	struct subset_builder *b = ctx;
	const struct candidate_set set = b->idx->sets[b->set_id];	/* interning may move sets */
	struct domain_probe probe = { domain, len };
	struct name_subset *bigger;
	size_t n = 0;
	uint16_t subset;

	if (have_name_subset(b->idx, b->set_id, domain, len))
		return 0;
	for (size_t i = 0; i < set.count; i++)
		if (each_domain(b->cat, set.items[i].service, set.proto, domain_covers_probe, &probe))
			b->scratch[n++] = set.items[i];
	subset = n == set.count ? b->set_id
				: intern_set(b->idx, b->scratch, n, set.narrowest,
					     (enum dsm_proto)set.proto, set.port);
	bigger = realloc(b->idx->name_subsets, (b->idx->name_subset_count + 1) * sizeof(*bigger));
	if (subset == PORT_INDEX_NONE || !bigger) {
		if (bigger)
			b->idx->name_subsets = bigger;
		b->failed = 1;
		return 1;
	}
	b->idx->name_subsets = bigger;
	bigger[b->idx->name_subset_count++] = (struct name_subset){ b->set_id, subset, domain, len };
	return 0;
}

/* Where each set's name subsets are: they were found set by set, in order. */
static int index_name_subsets(struct port_index *idx)
{
	uint32_t at = 0;

	idx->name_subsets_of = calloc(idx->set_count + 1, sizeof(*idx->name_subsets_of));
	if (!idx->name_subsets_of)
		return -1;
	for (size_t id = 0; id < idx->set_count; id++) {
		idx->name_subsets_of[id] = at;
		while (at < idx->name_subset_count && idx->name_subsets[at].set_id == id)
			at++;
	}
	idx->name_subsets_of[idx->set_count] = at;
	return 0;
}

/* For every set of several candidates, the parts a server name can
 * narrow it to: one per catalogue domain of its candidates. */
static int build_name_subsets(struct port_index *idx, const struct catalog *cat,
			      size_t max_candidates, struct dsm_err *err)
{
	struct subset_builder b = { .idx = idx, .cat = cat };
	size_t sets_before = idx->set_count;

	b.scratch = malloc((max_candidates + 1) * sizeof(*b.scratch));
	for (size_t id = 1; b.scratch && !b.failed && id < sets_before; id++) {
		const struct candidate_set set = idx->sets[id];

		b.set_id = (uint16_t)id;
		for (size_t i = 0; set.count > 1 && i < set.count && !b.failed; i++)
			each_domain(cat, set.items[i].service, set.proto, add_name_subset, &b);
	}
	free(b.scratch);
	if (!b.scratch || b.failed || index_name_subsets(idx)) {
		dsm_err_set(err, "port index: out of memory");
		return -1;
	}
	return 0;
}

/* Interns prev's sets first, in id order, so that each keeps its id. */
static int seed_sets(struct port_index *idx, const struct port_index *prev, size_t *max_candidates,
		     struct dsm_err *err)
{
	for (size_t id = 1; prev && id < prev->set_count; id++) {
		const struct candidate_set *set = &prev->sets[id];

		if (intern_set(idx, set->items, set->count, set->narrowest, (enum dsm_proto)set->proto,
			       set->port) != id) {
			dsm_err_set(err, "port index: out of memory");
			return -1;
		}
		if (set->count > *max_candidates)
			*max_candidates = set->count;
	}
	return 0;
}

struct port_index *port_index_build_after(const struct catalog *cat, const struct port_index *prev,
					  struct dsm_err *err)
{
	struct port_index *idx = calloc(1, sizeof(*idx));
	size_t max_candidates = catalog_record_count(cat);

	if (!idx || !(idx->sets = calloc(1, sizeof(*idx->sets)))) {
		free(idx);
		dsm_err_set(err, "port index: out of memory");
		return NULL;
	}
	idx->set_count = 1;
	if (seed_sets(idx, prev, &max_candidates, err) ||
	    build_port_table(idx, cat, DSM_PROTO_TCP, err) ||
	    build_port_table(idx, cat, DSM_PROTO_UDP, err) ||
	    build_icmp_and_dynamic(idx, cat, err) ||
	    build_role_subsets(idx, max_candidates, err) ||
	    build_name_subsets(idx, cat, max_candidates, err)) {
		port_index_free(idx);
		return NULL;
	}
	return idx;
}

struct port_index *port_index_build(const struct catalog *cat, struct dsm_err *err)
{
	return port_index_build_after(cat, NULL, err);
}

uint16_t port_index_lookup(const struct port_index *idx, enum dsm_proto proto, uint16_t port)
{
	if (proto == DSM_PROTO_ICMP)
		return idx->icmp_set;
	return proto < DSM_PROTO_ICMP ? idx->table[proto][port] : PORT_INDEX_NONE;
}

const struct candidate_set *port_index_set(const struct port_index *idx, uint16_t set_id)
{
	return set_id != PORT_INDEX_NONE && set_id < idx->set_count ? &idx->sets[set_id] : NULL;
}

uint16_t port_index_role_subset(const struct port_index *idx, uint16_t set_id, enum dsm_role role)
{
	if (set_id == PORT_INDEX_NONE || set_id >= idx->set_count)
		return PORT_INDEX_NONE;
	return idx->role_subset[role == DSM_ROLE_OUTBOUND][set_id];
}

uint16_t port_index_name_subset(const struct port_index *idx, uint16_t set_id, const char *name,
				size_t len)
{
	const struct name_subset *best = NULL;

	if (set_id >= idx->set_count)
		return PORT_INDEX_NONE;
	for (uint32_t i = idx->name_subsets_of[set_id]; i < idx->name_subsets_of[set_id + 1]; i++) {
		const struct name_subset *ns = &idx->name_subsets[i];

		if ((!best || ns->len > best->len) && name_matches_domain(name, len, ns->domain, ns->len))
			best = ns;
	}
	return best ? best->subset : PORT_INDEX_NONE;
}

size_t port_index_set_count(const struct port_index *idx)
{
	return idx->set_count - 1;
}

size_t port_index_dynamic(const struct port_index *idx, enum dsm_proto proto, uint16_t port,
			  const struct dsm_record **out, size_t max)
{
	size_t found = 0;

	for (size_t i = 0; i < idx->dynamic_count; i++) {
		const struct dsm_record *r = idx->dynamic[i];

		if (r->proto == proto && r->first_port <= port && port <= r->last_port) {
			if (found < max)
				out[found] = r;
			found++;
		}
	}
	return found;
}
