/* fuzz_catalog.c - libFuzzer harness for the catalogue loader and the
 * index built from it: any text is either a catalogue or an error, never a
 * crash, a leak or a sanitizer report. */
#include <stddef.h>
#include <stdint.h>

#include "dsmflow/catalog.h"
#include "dsmflow/index.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dsm_err err;
	struct catalog *cat = catalog_parse((const char *)data, size, "fuzz", &err);

	if (cat) {
		port_index_free(port_index_build(cat, &err));
		catalog_free(cat);
	}
	return 0;
}
