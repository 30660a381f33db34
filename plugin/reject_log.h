/*
 * Rejection lines (bad payloads, bad serials, full tables), at most one per
 * kind per minute in the broker log, with the count of those not shown.
 *
 * The aggregator thread finds the rejections but only the broker thread may
 * log, and it logs when it next runs a callback. Spacing decided where the
 * rejection is found would stretch or shrink by that delay, so the minute is
 * counted between the lines as the broker prints them: the aggregator fills
 * a kind's slot with an example only when the slot is empty and a minute has
 * passed since the broker printed that kind; the broker prints a filled slot
 * and empties it. A flood of rejections costs the aggregator one counter
 * increment each, and no lock.
 *
 * Threads: reject_log_offer from the aggregator thread only;
 * reject_log_flush from the broker thread only; init before both.
 */
#ifndef LOWI_REJECT_LOG_H
#define LOWI_REJECT_LOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "log_queue.h"

#define REJECT_LOG_KINDS 20
#define REJECT_LOG_INTERVAL_S 60

struct reject_slot {
	_Atomic int state;      /* 0 empty, 1 filled (the aggregator wrote line and count) */
	uint64_t count;         /* rejections of this kind so far, this one included */
	char line[LOG_QUEUE_LINE_BYTES];
	_Atomic time_t printed_at; /* broker's time of the last line of this kind, 0 none */
	uint64_t printed_count;    /* broker thread: count of the last printed line */
};

struct reject_log {
	struct reject_slot slot[REJECT_LOG_KINDS];
	_Atomic bool any_filled;
};

void reject_log_init(struct reject_log *r);

/* Aggregator thread: a rejection of `kind`, the `count`-th of its kind.
 * Formats the line only when it will be shown; returns whether it was taken. */
bool reject_log_offer(struct reject_log *r, int kind, uint64_t count, time_t now, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* Broker thread: prints every filled slot through sink (level, line). */
void reject_log_flush(struct reject_log *r, time_t now, void (*sink)(int level, const char *line));

static inline bool reject_log_pending(struct reject_log *r)
{
	return atomic_load_explicit(&r->any_filled, memory_order_relaxed);
}

#endif
