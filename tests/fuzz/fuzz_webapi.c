/* fuzz_webapi.c - libFuzzer harness for the Web API table's loader, its
 * binding to the embedded catalogue and its lookups: any text is either a
 * table or an error, never a crash, a leak or a sanitizer report. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dsmflow/catalog.h"
#include "dsmflow/webapi.h"

/* Looks every key of the table up under every rule, whole and cut short. */
static void look_up_keys(const struct webapi_table *t)
{
	for (size_t i = 0; i < webapi_count(t); i++) {
		const char *key = webapi_entry(t, i)->key;
		size_t n = strlen(key);

		for (int m = WEBAPI_API; m <= WEBAPI_CGI; m++) {
			webapi_lookup(t, (enum webapi_match)m, key, n);
			webapi_lookup(t, (enum webapi_match)m, key, n / 2);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dsm_err err;
	struct webapi_table *t = webapi_parse((const char *)data, size, "fuzz", &err);
	struct catalog *cat;

	if (!t)
		return 0;
	cat = catalog_load_embedded(&err);
	if (cat && webapi_bind(t, cat, &err) == 0)
		look_up_keys(t);
	look_up_keys(t);
	catalog_free(cat);
	webapi_free(t);
	return 0;
}
