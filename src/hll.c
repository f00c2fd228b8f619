/* hll.c - HyperLogLog (Flajolet et al. 2007) with the small-range
 * correction; see hll.h. */
#include <math.h>

#include "dsmflow/hll.h"

uint64_t hll_hash(const void *data, size_t len)
{
	const uint8_t *b = data;
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < len; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	h ^= h >> 33;	/* splitmix's finaliser: FNV's high bits are weak */
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	return h ^ (h >> 33);
}

void hll_add(uint8_t *registers, uint64_t hash)
{
	uint64_t rest = hash << 8;
	uint8_t rank = rest ? (uint8_t)(__builtin_clzll(rest) + 1) : 57;
	size_t index = (size_t)(hash >> 56);

	if (registers[index] < rank)
		registers[index] = rank;
}

uint64_t hll_estimate(const uint8_t *registers)
{
	const double m = HLL_REGISTERS, alpha = 0.7213 / (1.0 + 1.079 / m);
	double sum = 0, estimate;
	int zeros = 0;

	for (size_t i = 0; i < HLL_REGISTERS; i++) {
		sum += ldexp(1.0, -registers[i]);
		zeros += registers[i] == 0;
	}
	estimate = alpha * m * m / sum;
	if (estimate <= 2.5 * m && zeros)	/* small range: linear counting */
		estimate = m * log(m / zeros);
	return (uint64_t)llround(estimate);
}
