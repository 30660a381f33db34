/*
 * Counters an operator can read in the broker log.
 *
 * Fields written by the broker thread only are plain; fields written by the
 * writer thread are atomics so the broker thread can read them for its
 * periodic summary.
 */
#ifndef LOWI_STATS_H
#define LOWI_STATS_H

#include <stdatomic.h>
#include <stdint.h>

#include "payload.h"
#include "quarter.h"

struct lowi_stats {
	/* broker thread */
	uint64_t messages_seen;     /* matched the topic filter */
	uint64_t readings_accepted;
	uint64_t payloads_rejected;
	uint64_t rejected_by_status[LOWI_PAYLOAD_STATUS_COUNT];
	uint64_t bad_serials;
	uint64_t by_feed_result[QUARTER_RESTARTED + 1];
	uint64_t rows_queued;
	uint64_t rows_estimated;
	uint64_t rows_dropped;      /* queue full */
	uint64_t meters;
	uint64_t meters_refused;    /* meter table full */
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

#endif
