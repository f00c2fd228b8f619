/* guard.c - the guard-page fixture; see guard.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "guard.h"

static uint8_t *area;
static size_t area_len, page_size;

int guard_setup(void **state)
{
	(void)state;
	page_size = (size_t)sysconf(_SC_PAGESIZE);
	area_len = (GUARD_ROOM + page_size - 1) / page_size * page_size + page_size;
	area = mmap(NULL, area_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED)
		return -1;
	return mprotect(area + area_len - page_size, page_size, PROT_NONE);
}

int guard_teardown(void **state)
{
	(void)state;
	return munmap(area, area_len);
}

const uint8_t *guard_end(void)
{
	return area + area_len - page_size;
}

uint8_t *guard_place(const void *data, size_t n)
{
	uint8_t *at = area + area_len - page_size - n;

	assert_true(n <= GUARD_ROOM);
	memmove(at, data, n);
	return at;
}
