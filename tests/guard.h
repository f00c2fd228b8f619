/* guard.h - the guard-page fixture of the parser tests: an input is placed
 * flush against a PROT_NONE page, so that a parser reading one byte past
 * it faults even without a sanitizer (picohttpparser's tests do the same).
 * Use guard_setup and guard_teardown as a cmocka group's setup and
 * teardown. */
#ifndef DSMFLOW_TEST_GUARD_H
#define DSMFLOW_TEST_GUARD_H

#include <stddef.h>
#include <stdint.h>

#define GUARD_ROOM (28 * 1024)	/* the longest input that can be placed */

int guard_setup(void **state);
int guard_teardown(void **state);

/* Copies data[0..n) (n <= GUARD_ROOM; data may be a previous placement)
 * so that it ends where the guard page begins; returns the copy. */
uint8_t *guard_place(const void *data, size_t n);

/* Where the guard page begins: the end of every placed input. */
const uint8_t *guard_end(void);

#endif
