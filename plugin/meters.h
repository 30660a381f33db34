/*
 * Tables keyed by meter serial: the meters seen so far, each with its
 * quarter state (aggregator thread), and the last durable row per meter
 * (writer thread).
 *
 * Entries of a fixed size that begin with the serial sit densely in one
 * array, in insertion order; a separate open-addressing index of 8-byte
 * slots (kept at most half full) finds them. Resident memory per entry is
 * then close to entry_size, not entry_size times the index's slack, and
 * the array only grows (by realloc, whose large blocks the C library moves
 * by remapping rather than copying). Not thread-safe: each table belongs to
 * one thread. It grows up to max_entries, so a flood of invented serials
 * cannot exhaust memory. Entries are never removed. A returned pointer is
 * valid until the next insertion; the table owns the entries.
 */
#ifndef LOWI_METERS_H
#define LOWI_METERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "quarter.h"
#include "topic.h"

struct meters_index_slot;

struct meters_table {
	unsigned char *entries; /* count entries, each starting with char serial[LOWI_SERIAL_MAX + 1] */
	struct meters_index_slot *index;
	size_t entry_size;
	size_t capacity;    /* entries allocated (0 before the first insertion) */
	size_t index_slots; /* power of two, or 0 before the first insertion */
	size_t count;
	size_t max_entries;
};

void meters_init(struct meters_table *t, size_t entry_size, size_t max_entries);
void meters_free(struct meters_table *t);
/* Finds the entry, or adds a zeroed one holding the serial (*created set).
 * NULL when the table is full or memory is short. */
void *meters_get(struct meters_table *t, const char *serial, bool *created);
/* Finds the entry without adding one: NULL when absent. */
void *meters_find(const struct meters_table *t, const char *serial);
/* The i-th entry in insertion order, or NULL when i >= count: for iterating
 * 0..count-1 (iterating 0..capacity-1 works too). */
void *meters_slot(const struct meters_table *t, size_t i);

struct meter {
	char serial[LOWI_SERIAL_MAX + 1];
	struct meter_quarters quarters;
};

#endif
