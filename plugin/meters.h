/*
 * The meters seen so far, by serial, each with its quarter state.
 *
 * Open-addressing hash table owned by the broker thread (not thread-safe).
 * It grows by doubling up to a fixed number of meters, so a flood of
 * invented serials cannot exhaust memory. Entries live until
 * meter_table_free; a returned pointer is valid until the next insertion.
 */
#ifndef LOWI_METERS_H
#define LOWI_METERS_H

#include <stddef.h>

#include "quarter.h"
#include "topic.h"

struct meter {
	char serial[LOWI_SERIAL_MAX + 1]; /* "" marks a free slot */
	struct meter_quarters quarters;
};

struct meter_table {
	struct meter *slots;
	size_t capacity; /* power of two, or 0 before the first insertion */
	size_t count;
	size_t max_meters;
};

void meter_table_init(struct meter_table *t, size_t max_meters);
void meter_table_free(struct meter_table *t);

/* Finds the meter, or adds it with fresh state. NULL when the table is at
 * max_meters or memory is short. */
struct meter *meter_table_get(struct meter_table *t, const char *serial);

#endif
