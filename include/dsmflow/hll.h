/* hll.h - HyperLogLog distinct counts in 256 one-byte registers (about
 * 6.5% standard error; linear counting while small, where it is nearly
 * exact), for the audit's clients and the per-service client gauges. */
#ifndef DSMFLOW_HLL_H
#define DSMFLOW_HLL_H

#include <stddef.h>
#include <stdint.h>

#define HLL_REGISTERS 256

/* A 64-bit hash of len bytes with well-mixed high bits. */
uint64_t hll_hash(const void *data, size_t len);
void hll_add(uint8_t *registers, uint64_t hash);
uint64_t hll_estimate(const uint8_t *registers);

#endif
