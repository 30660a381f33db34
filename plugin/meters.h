/*
 * Tables keyed by meter serial: the meters seen so far, each with its
 * quarter state (broker thread), and the last durable row per meter
 * (writer thread).
 *
 * An open-addressing hash table of fixed-size entries that begin with the
 * serial. Not thread-safe: each table belongs to one thread. It grows by
 * doubling up to max_entries, so a flood of invented serials cannot exhaust
 * memory. A returned pointer is valid until the next insertion.
 */
#ifndef LOWI_METERS_H
#define LOWI_METERS_H

#include <stdbool.h>
#include <stddef.h>

#include "quarter.h"
#include "topic.h"

struct serial_map {
	unsigned char *slots;
	size_t entry_size;  /* each entry starts with char serial[LOWI_SERIAL_MAX + 1] */
	size_t capacity;    /* power of two, or 0 before the first insertion */
	size_t count;
	size_t max_entries;
};

void serial_map_init(struct serial_map *t, size_t entry_size, size_t max_entries);
void serial_map_free(struct serial_map *t);
/* Finds the entry, or adds a zeroed one holding the serial (*created set).
 * NULL when the table is full or memory is short. */
void *serial_map_get(struct serial_map *t, const char *serial, bool *created);
/* The i-th slot's entry, or NULL when free: for iterating 0..capacity-1. */
void *serial_map_slot(const struct serial_map *t, size_t i);

struct meter {
	char serial[LOWI_SERIAL_MAX + 1];
	struct meter_quarters quarters;
};

#endif
