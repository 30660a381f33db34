/*
 * Tables keyed by meter serial: the meters seen so far, each with its
 * quarter state (aggregator thread), and the last durable row per meter
 * (writer thread).
 *
 * Entries of a fixed size that begin with the serial sit densely in one
 * array, in insertion order (until a removal, which moves the last entry
 * into the hole); a separate open-addressing index of 8-byte slots (kept
 * at most half full) finds them. Resident memory per entry is then close
 * to entry_size, not entry_size times the index's slack, and the array
 * only grows (by realloc, whose large blocks the C library moves by
 * remapping rather than copying). Not thread-safe: each table belongs to
 * one thread. It grows up to max_entries, so a flood of invented serials
 * cannot exhaust memory. A returned pointer is valid until the next
 * insertion or removal; the table owns the entries.
 */
#ifndef LOWI_METERS_H
#define LOWI_METERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capacity.h"
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
/* Removes the entry of serial; false when absent. */
bool meters_remove(struct meters_table *t, const char *serial);
/* Removes every entry for which drop(ctx, entry) is true; returns how many. */
size_t meters_remove_if(struct meters_table *t, bool (*drop)(void *ctx, const void *entry), void *ctx);

struct meter {
	char serial[LOWI_SERIAL_MAX + 1];
	struct meter_quarters quarters;
	/* Not kept across a restart: the month peaks are read back from Pics. */
	struct capacity capacity;
	bool announced;  /* its Home Assistant discovery is published (this run) */
};

/*
 * The aggregator's meters, in two tables of struct meter:
 *  - heard: the meters that published since the start. At most max_meters:
 *    a new serial beyond that is refused (meter_set_take returns NULL).
 *  - resumed: the meters resumed from the spool at start-up (journal and
 *    meters.live) that have not published since. They hold no max_meters
 *    slot: a meter moves to `heard`, with its state, when it publishes
 *    again (and is refused like a new one if `heard` is full then). So
 *    serials journaled by an earlier run, junk included, cannot lock a new
 *    real meter out after a restart. Also at most max_meters, so that a
 *    restart cannot double the memory a flood takes.
 * A meter not heard for longer than silence_ms (its quarters.last_ms; for
 * a meter resumed from its last durable row, the end of that row) is
 * dropped from either table by the next sweep: meter_set_take runs one
 * an hour, on the readings' own clock. silence_ms 0: never.
 * Aggregator thread; meter_set_resume on the broker thread before the
 * aggregator starts (and meter_set_slot after it stopped).
 */
struct meter_set {
	struct meters_table heard;
	struct meters_table resumed;
	int64_t silence_ms;
	int64_t next_sweep_ms;
	/* Called with each meter a sweep drops, before it goes; may be NULL. */
	void (*dropped)(void *ctx, const struct meter *m);
	void *dropped_ctx;
};

#define METER_SWEEP_MS ((int64_t)3600 * 1000)

void meter_set_init(struct meter_set *s, size_t max_meters, int64_t silence_ms);
void meter_set_free(struct meter_set *s);

/* The entry of a meter resumed from the spool (found, or added zeroed), for
 * the caller to fill; NULL when max_meters meters are resumed already. */
struct meter *meter_set_resume(struct meter_set *s, const char *serial);

/* The meter a reading received at now_ms goes to: a heard one, a resumed
 * one (moved to heard with its state), or a new entry, zeroed, with
 * *created set (the caller resets its quarters). NULL when it is new to
 * `heard` and max_meters meters are heard already. Sweeps first when a
 * sweep is due. */
struct meter *meter_set_take(struct meter_set *s, const char *serial, int64_t now_ms, bool *created);

/* Drops the meters of both tables not heard for longer than silence_ms
 * before now_ms; returns how many. */
size_t meter_set_drop_silent(struct meter_set *s, int64_t now_ms);

/* Meters of both tables. */
size_t meter_set_count(const struct meter_set *s);
/* The i-th meter: heard ones, then resumed ones; NULL past the last. */
const struct meter *meter_set_slot(const struct meter_set *s, size_t i);

#endif
