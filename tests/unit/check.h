/* Minimal check macros for the unit tests: one line per failed check, a
 * summary line at the end, and a non-zero exit when anything failed. */
#ifndef LOWI_CHECK_H
#define LOWI_CHECK_H

#include <stdio.h>

static int check_passed, check_failed;

#define CHECK(cond, ...) do { \
	if (cond) { check_passed++; } else { \
		check_failed++; \
		printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
		printf(__VA_ARGS__); \
		printf("\n"); \
	} \
} while (0)

static inline int check_finish(const char *name)
{
	printf("%s: %d checks passed, %d failed\n", name, check_passed, check_failed);
	return check_failed ? 1 : 0;
}

#endif
