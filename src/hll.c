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

/* 2^-k for every register value: the estimate's sum without ldexp (a
 * scrape estimates every row). */
static const double inverse_powers[65] = {
	0x1p-0, 0x1p-1, 0x1p-2, 0x1p-3, 0x1p-4, 0x1p-5, 0x1p-6, 0x1p-7, 0x1p-8, 0x1p-9, 0x1p-10,
	0x1p-11, 0x1p-12, 0x1p-13, 0x1p-14, 0x1p-15, 0x1p-16, 0x1p-17, 0x1p-18, 0x1p-19,
	0x1p-20, 0x1p-21, 0x1p-22, 0x1p-23, 0x1p-24, 0x1p-25, 0x1p-26, 0x1p-27, 0x1p-28,
	0x1p-29, 0x1p-30, 0x1p-31, 0x1p-32, 0x1p-33, 0x1p-34, 0x1p-35, 0x1p-36, 0x1p-37,
	0x1p-38, 0x1p-39, 0x1p-40, 0x1p-41, 0x1p-42, 0x1p-43, 0x1p-44, 0x1p-45, 0x1p-46,
	0x1p-47, 0x1p-48, 0x1p-49, 0x1p-50, 0x1p-51, 0x1p-52, 0x1p-53, 0x1p-54, 0x1p-55,
	0x1p-56, 0x1p-57, 0x1p-58, 0x1p-59, 0x1p-60, 0x1p-61, 0x1p-62, 0x1p-63, 0x1p-64,
};

uint64_t hll_estimate(const uint8_t *registers)
{
	const double m = HLL_REGISTERS, alpha = 0.7213 / (1.0 + 1.079 / m);
	double sum = 0, estimate;
	int zeros = 0;

	for (size_t i = 0; i < HLL_REGISTERS; i++) {
		sum += inverse_powers[registers[i] < 64 ? registers[i] : 64];
		zeros += registers[i] == 0;
	}
	if (zeros == HLL_REGISTERS)
		return 0;
	estimate = alpha * m * m / sum;
	if (estimate <= 2.5 * m && zeros)	/* small range: linear counting */
		estimate = m * log(m / zeros);
	return (uint64_t)llround(estimate);
}
