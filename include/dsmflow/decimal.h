/* decimal.h - the one reader of decimal numbers, for command-line values,
 * table fields and payload text alike (FTP replies, HTTP Content-Length).
 * Digits only: no sign, no blanks, no 0x, no locale; a value too large for
 * its field is reported, never wrapped.
 */
#ifndef DSMFLOW_DECIMAL_H
#define DSMFLOW_DECIMAL_H

#include <stddef.h>
#include <stdint.h>

/* Reads the run of decimal digits at the start of text[0..len) and returns
 * how many there are (0: text does not start with a digit). *value is the
 * number, or limit + 1 when it is larger than limit (limit < UINT64_MAX):
 * a long run of digits never overflows. */
size_t decimal_prefix(const char *text, size_t len, uint64_t limit, uint64_t *value);

/* text[0..len) is one decimal number no larger than max: 0 and *value set,
 * else -1 (empty, a non-digit anywhere, or too large). */
int decimal_parse(const char *text, size_t len, uint64_t max, uint64_t *value);

#endif
