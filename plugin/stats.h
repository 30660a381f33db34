/*
 * Counters an operator can read in the broker log.
 *
 * Every counter has a single writing thread (noted below) and is read by
 * the broker thread for its periodic summary, hence atomics; the writing
 * thread updates its own counters with stat_add().
 */
#ifndef LOWI_STATS_H
#define LOWI_STATS_H

#include <stdatomic.h>
#include <stdint.h>

#include "payload.h"
#include "quarter.h"

struct lowi_stats {
	/* broker thread */
	_Atomic uint64_t intake_refused;    /* intake memory cap reached: message not recorded */
	/* aggregator thread */
	_Atomic uint64_t messages_seen;     /* matched the topic filter */
	_Atomic uint64_t readings_accepted;
	_Atomic uint64_t payloads_rejected;
	_Atomic uint64_t rejected_by_status[LOWI_PAYLOAD_STATUS_COUNT];
	_Atomic uint64_t bad_serials;
	_Atomic uint64_t by_feed_result[QUARTER_RESTARTED + 1];
	_Atomic uint64_t rows_queued;
	_Atomic uint64_t rows_estimated;
	_Atomic uint64_t rows_dropped;      /* queue full */
	_Atomic uint64_t meters;
	_Atomic uint64_t meters_refused;    /* meter table full */
	/* writer thread */
	_Atomic uint64_t rows_written;
	_Atomic uint64_t db_errors;
	_Atomic uint64_t db_connects;
	_Atomic uint64_t rows_spooled;
	_Atomic uint64_t rows_replayed;
	_Atomic uint64_t spool_errors;
	_Atomic uint64_t rows_refused;   /* by MariaDB for their values: set aside */
	/* price-worker thread */
	_Atomic uint64_t price_requests;
	_Atomic uint64_t price_failures;
	_Atomic uint64_t price_periods;
};

/* For a counter only the calling thread writes: no locked instruction. */
static inline void stat_add(_Atomic uint64_t *counter, uint64_t n)
{
	atomic_store_explicit(counter, atomic_load_explicit(counter, memory_order_relaxed) + n, memory_order_relaxed);
}

#endif
