/*
 * The aggregator's own memory per meter: sizeof(struct meter) and the heap
 * the meter table (entries and index, as they grow) holds for N meters,
 * from glibc's mallinfo2 before and after N insertions. Run by bench.py's
 * scale part beside the broker's resident size, which also holds the
 * broker's retained messages.
 *
 *   meter_bytes MAX N...   for a table of at most MAX meters (max_meters),
 *                          prints "meters=N struct=B table=B per_meter=B" lines
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>

#include "meters.h"

static size_t heap_bytes(void)
{
	struct mallinfo2 mi = mallinfo2();
	return mi.uordblks + mi.hblkhd;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: meter_bytes MAX_METERS N...\n");
		return 2;
	}
	size_t max_meters = strtoul(argv[1], NULL, 10);
	for (int i = 2; i < argc; i++) {
		size_t meters = strtoul(argv[i], NULL, 10);
		struct meters_table t;
		size_t before = heap_bytes();
		meters_init(&t, sizeof(struct meter), max_meters);
		for (size_t k = 0; k < meters; k++) {
			char serial[LOWI_SERIAL_MAX + 1];
			bool created;
			snprintf(serial, sizeof(serial), "%012zx", k + 0xa0000000u);
			if (meters_get(&t, serial, &created) == NULL) {
				fprintf(stderr, "meter_bytes: insertion %zu failed\n", k);
				return 1;
			}
		}
		size_t table = heap_bytes() - before;
		printf("meters=%zu struct=%zu table=%zu per_meter=%.0f\n", meters, sizeof(struct meter), table,
			(double)table / (double)meters);
		meters_free(&t);
	}
	return 0;
}
