/*
 * Shared by the libFuzzer targets in tests/fuzz/: an invariant check that
 * reports what broke and aborts, so libFuzzer saves the input as a crash.
 */
#ifndef LOWI_FUZZ_CHECK_H
#define LOWI_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond, ...) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: invariant violated: %s: ", __FILE__, __LINE__, #cond); \
		fprintf(stderr, __VA_ARGS__); \
		fputc('\n', stderr); \
		abort(); \
	} \
} while (0)

/* True if a fixed-size char array holds a NUL (is a C string). */
#define FUZZ_NUL_TERMINATED(arr) (memchr((arr), '\0', sizeof(arr)) != NULL)

#endif
