/* fuzz_dns.c - libFuzzer harness for the DNS response parser and the
 * address -> name table it fills. The input is one DNS message (copied to
 * a buffer of its exact size, so an overread is a sanitizer report). Beyond
 * crashes, a finding is an answer that breaks dns.h's promises (a name of
 * 1..DNS_NAME_MAX printable lower-case bytes, NUL-terminated where its
 * length says; family 4 or 6), or one the table, given it, does not give
 * back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dsmflow/dns.h"
#include "dsmflow/dnstable.h"

static struct dns_table *table;

static void on_answer(void *ctx, const char *name, size_t name_len, int family,
		      const uint8_t *addr, uint32_t ttl)
{
	const char *back;

	(void)ctx;
	if (name_len == 0 || name_len > DNS_NAME_MAX || strlen(name) != name_len ||
	    (family != 4 && family != 6))
		abort();
	for (size_t i = 0; i < name_len; i++)
		if (name[i] <= 0x20 || name[i] >= 0x7f || (name[i] >= 'A' && name[i] <= 'Z'))
			abort();
	dns_table_put(table, family, addr, name, name_len, ttl, 1000000);
	back = dns_table_get(table, family, addr, 1000000);
	if (!back || strcmp(back, name) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy = malloc(size ? size : 1);
	enum dns_result r;

	if (!copy)
		abort();
	if (!table)
		table = dns_table_new(16);	/* small: eviction is exercised too */
	if (!table)
		abort();
	memcpy(copy, data, size);
	r = dns_parse_response(copy, (uint32_t)size, on_answer, NULL);
	free(copy);
	if (r != DNS_OK && r != DNS_NOT_RESPONSE && r != DNS_BAD)
		abort();
	return 0;
}
