/*
 * Counters an operator can read: the broker log's status lines and the
 * retained stats JSON are both generated from LOWI_STATS below, and the
 * README's counters table is checked against it (tests/unit/test_readme.c),
 * so a counter cannot be in one and missing from another.
 *
 * Every counter has a single writing thread (the second column) and is read
 * by the broker thread for the status lines and the JSON, hence atomics; the
 * writing thread updates its own counters with stat_add().
 * struct lowi_stats is owned by the plugin and outlives every thread.
 */
#ifndef LOWI_STATS_H
#define LOWI_STATS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "payload.h"

/* Threads that write counters, in the order their status lines appear. */
enum stats_thread { STATS_BROKER, STATS_AGGREGATOR, STATS_WRITER, STATS_PRICE_WORKER, STATS_THREAD_COUNT };

/*
 * X(name, thread, meaning): name is the struct field, the JSON key and the
 * word in the status lines; rows of one thread stay together, since a
 * thread's counters share their status line(s).
 */
#define LOWI_STATS(X) \
	X(messages_not_recorded, STATS_BROKER, "LOWI messages not recorded: the intake was full of messages the aggregator had not reached (still delivered to subscribers)") \
	X(rows_pending, STATS_BROKER, "rows in memory on their way to the database or the spool, at the time of the line") \
	X(config_warnings, STATS_BROKER, "warnings about the configuration: at start-up (a password others may read, a database in clear, per_listener_settings true), and a broker that does not tick the plugin") \
	X(meters, STATS_AGGREGATOR, "meters tracked (their serials), those resumed from the spool included") \
	X(meters_refused, STATS_AGGREGATOR, "readings of a new meter ignored: max_meters meters have published since the start already") \
	X(messages, STATS_AGGREGATOR, "messages whose topic matched the topic option with a valid serial") \
	X(bad_serials, STATS_AGGREGATOR, "messages on a matching topic whose serial level is empty, too long or has other characters than letters, digits, '_' and '-': ignored") \
	X(readings, STATS_AGGREGATOR, "decoded readings taken into their meter's series (duplicates and out-of-order ones are not)") \
	X(payloads_rejected, STATS_AGGREGATOR, "payloads that could not be decoded: the sum of the rejected_* counters") \
	X(rejected_too_long, STATS_AGGREGATOR, "payloads longer than the decoder takes") \
	X(rejected_not_json, STATS_AGGREGATOR, "payloads that are not JSON (empty, syntax error, too deep, trailing data)") \
	X(rejected_not_object, STATS_AGGREGATOR, "payloads whose JSON is not an object") \
	X(rejected_missing_counter, STATS_AGGREGATOR, "payloads without one of the CIH, CIL, CEH, CEL counters") \
	X(rejected_not_a_number, STATS_AGGREGATOR, "payloads with a known field that does not hold a number") \
	X(rejected_out_of_range, STATS_AGGREGATOR, "payloads with a negative, too large or infinite value, or a tariff other than 0 or 1") \
	X(rejected_wrong_channel, STATS_AGGREGATOR, "payloads of another channel than CH0") \
	X(rejected_duplicate_field, STATS_AGGREGATOR, "payloads with a known field given twice") \
	X(duplicates, STATS_AGGREGATOR, "readings ignored: the same counters again (a retransmission)") \
	X(out_of_order, STATS_AGGREGATOR, "readings ignored: older than the last one, or all counters slightly lower (a late publish)") \
	X(discontinuities, STATS_AGGREGATOR, "readings whose counters went backwards or jumped: no energy booked across, quarters flagged Estimated") \
	X(series_restarts, STATS_AGGREGATOR, "readings after a silence longer than a day: one jump instead of a row per quarter, the silence's energy booked on the next row, flagged Estimated") \
	X(meters_rebased, STATS_AGGREGATOR, "readings that re-based a meter whose readings had all been refused for 2 minutes (the clock stepped back, or its saved state was ahead): taken, its quarter flagged Estimated") \
	X(rows_queued, STATS_AGGREGATOR, "quarter rows made and queued for the writer") \
	X(rows_estimated, STATS_AGGREGATOR, "of those, rows flagged Estimated") \
	X(implausible_quarters, STATS_AGGREGATOR, "of those, rows whose quarter booked more energy than max_power_kw allows in 15 minutes (a forged or replayed burst?): flagged Estimated, never a peak") \
	X(live_messages, STATS_AGGREGATOR, "live capacity-tariff messages made for publishing: live states, peak events, Home Assistant discovery") \
	X(live_dropped, STATS_AGGREGATOR, "of those, messages not published: the broker had not taken the ones before (it does not tick the plugin?)") \
	X(peak_events, STATS_AGGREGATOR, "peak events: a new month peak projected, the projection back under, a quarter closed as a new month peak") \
	X(rows_dropped, STATS_AGGREGATOR, "rows lost: queue_rows rows were waiting already") \
	X(rows_written, STATS_WRITER, "rows committed to Conso") \
	X(rows_spooled, STATS_WRITER, "rows written to the spool while the database was away") \
	X(rows_replayed, STATS_WRITER, "spooled rows committed once the database was back") \
	X(rows_refused, STATS_WRITER, "rows MariaDB refused for their values, set aside in the spool directory") \
	X(spool_errors, STATS_WRITER, "spool failures: directory not usable, disk full, unreadable file (the broker thread counts those at start and at a clean stop, when the writer is not running)") \
	X(db_errors, STATS_WRITER, "failed connections and statements of the row writer towards MariaDB") \
	X(db_connects, STATS_WRITER, "connections of the row writer to MariaDB, the first one included") \
	X(price_requests, STATS_PRICE_WORKER, "HTTP requests to the price source") \
	X(price_failures, STATS_PRICE_WORKER, "price requests that failed or gave unusable answers") \
	X(price_periods, STATS_PRICE_WORKER, "market periods stored in PxElectr") \
	X(price_db_errors, STATS_PRICE_WORKER, "failed connections and statements of the price worker towards MariaDB") \
	X(price_lease_takes, STATS_PRICE_WORKER, "times this broker took over fetching the prices for the database")

struct lowi_stats {
#define LOWI_STATS_FIELD(name, thread, meaning) _Atomic uint64_t name;
	LOWI_STATS(LOWI_STATS_FIELD)
#undef LOWI_STATS_FIELD
};

struct stats_counter {
	const char *name;
	enum stats_thread thread;
	size_t offset;           /* in struct lowi_stats */
	const char *meaning;
};

/* The rows of LOWI_STATS, in order; read-only, any thread. */
extern const struct stats_counter stats_counters[];
extern const size_t stats_counter_count;

static inline const char *stats_thread_name(enum stats_thread t)
{
	switch (t) {
	case STATS_BROKER: return "broker";
	case STATS_AGGREGATOR: return "aggregator";
	case STATS_WRITER: return "writer";
	case STATS_PRICE_WORKER: return "price worker";
	case STATS_THREAD_COUNT: break;
	}
	return "?";
}

static inline uint64_t stats_value(const struct lowi_stats *s, const struct stats_counter *c)
{
	return atomic_load((const _Atomic uint64_t *)((const char *)s + c->offset));
}

/* For a counter only the calling thread writes: no locked instruction. */
static inline void stat_add(_Atomic uint64_t *counter, uint64_t n)
{
	atomic_store_explicit(counter, atomic_load_explicit(counter, memory_order_relaxed) + n, memory_order_relaxed);
}

/* The counter of one rejection reason, for any status but LOWI_PAYLOAD_OK
 * (aggregator thread). Without a default, the compiler names a status added
 * to payload.h and missing here. */
static inline _Atomic uint64_t *stats_rejected(struct lowi_stats *s, enum lowi_payload_status status)
{
	switch (status) {
	case LOWI_PAYLOAD_TOO_LONG: return &s->rejected_too_long;
	case LOWI_PAYLOAD_NOT_JSON: return &s->rejected_not_json;
	case LOWI_PAYLOAD_NOT_OBJECT: return &s->rejected_not_object;
	case LOWI_PAYLOAD_MISSING_COUNTER: return &s->rejected_missing_counter;
	case LOWI_PAYLOAD_NOT_A_NUMBER: return &s->rejected_not_a_number;
	case LOWI_PAYLOAD_OUT_OF_RANGE: return &s->rejected_out_of_range;
	case LOWI_PAYLOAD_WRONG_CHANNEL: return &s->rejected_wrong_channel;
	case LOWI_PAYLOAD_DUPLICATE_FIELD: return &s->rejected_duplicate_field;
	case LOWI_PAYLOAD_OK:
	case LOWI_PAYLOAD_STATUS_COUNT:
		break;
	}
	return NULL;
}

/* Writes the counters as the stats JSON object's members ("name":value,...)
 * and returns the length, or -1 when buf is too small. Broker thread. */
int stats_format_json(const struct lowi_stats *s, char *buf, size_t size);

/* Calls line() with "thread: name value, name value, ...", once per writing
 * thread, or more when its counters would not fit in one mosquitto log line.
 * Broker thread; text is only valid during the call. */
void stats_format_lines(const struct lowi_stats *s, void (*line)(void *ctx, const char *text), void *ctx);

#endif
