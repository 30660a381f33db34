/*
 * The aggregator thread: where a queued LOWI message becomes a reading, and
 * readings become quarter-hour rows.
 *
 * It takes messages from the intake in arrival order, matches the topic
 * and takes the meter serial, decodes the payload, feeds the meter's
 * quarters (with the receive time the broker thread stamped), and pushes
 * finished rows to the row queue for the writer. After each reading it
 * works out the meter's live capacity-tariff figures and queues them, with
 * any peak event and the meter's Home Assistant discovery, in the outbox
 * for the broker thread to publish. Rejections go to the
 * reject log (one line per kind per minute), warnings to the log queue,
 * counters to the shared stats.
 *
 * Threads: aggregator_init and aggregator_start on the init thread;
 * aggregator_stop and aggregator_free on the broker thread at cleanup. The
 * meter table belongs to the aggregator thread while it runs; before
 * aggregator_start and after aggregator_stop the broker thread may use it
 * (resuming meters from the spool, saving them at a clean stop).
 * Everything passed to aggregator_init is borrowed and must outlive the
 * aggregator.
 */
#ifndef LOWI_AGGREGATOR_H
#define LOWI_AGGREGATOR_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "intake.h"
#include "log_queue.h"
#include "meters.h"
#include "outbox.h"
#include "peak_history.h"
#include "price_board.h"
#include "payload.h"
#include "quarter.h"
#include "reject_log.h"
#include "row_queue.h"
#include "stats.h"
#include "topic.h"

enum {
	AGG_REJECT_BAD_SERIAL = LOWI_PAYLOAD_STATUS_COUNT,
	AGG_REJECT_TABLE_FULL,
	AGG_REJECT_QUEUE_FULL,
	AGG_REJECT_IMPLAUSIBLE,    /* a quarter over max_power_kw */
	AGG_REJECT_METER_REFUSED,  /* a meter whose readings have all been refused for minutes */
	AGG_REJECT_METER_REBASED,  /* a meter re-based after such a streak */
	AGG_REJECT_LONG_SILENCE,   /* a meter heard again after more than a day */
	AGG_REJECT_OUTBOX_FULL,    /* live messages the broker thread has not taken yet fill the outbox */
	AGG_REJECT_KINDS
};
_Static_assert(AGG_REJECT_KINDS <= REJECT_LOG_KINDS, "a reject log slot for every kind");

struct waiting_peaks {
	char serial[LOWI_SERIAL_MAX + 1];
	struct capacity capacity;
};

struct aggregator {
	const struct lowi_config *cfg;
	struct quarter_params params;
	struct intake *intake;
	struct row_queue *rows;
	struct log_queue *log;
	struct reject_log *rejects;
	struct lowi_stats *stats;
	struct topic_prefilter prefilter;
	struct meter_set meters;
	uint64_t refusal_warnings;  /* refused-meter warnings due so far (for the reject log's count) */
	/* The live capacity tariff (live.h): messages for the broker thread to
	 * publish, and the month peaks stored in Pics. NULL: not published. */
	struct outbox *outbox;
	struct peak_history *history;
	struct price_board *prices;        /* the market period of a reading; NULL: none */
	struct price_board_reader prices_seen; /* its last answer, reused while it holds */
	int64_t announce_second;           /* the reading clock's second of announced_in_second */
	unsigned announced_in_second;      /* meters announced to Home Assistant in it */
	bool history_merged;        /* every stored peak is merged */
	/* Stored peaks of meters not in `meters` yet (struct waiting_peaks). */
	struct meters_table waiting;
	pthread_t thread;
	bool started;
};

void aggregator_init(struct aggregator *a, const struct lowi_config *cfg, struct intake *intake, struct row_queue *rows,
	struct log_queue *log, struct reject_log *rejects, struct lowi_stats *stats);
/* Before aggregator_start: publish the live state through outbox, with the
 * month peaks of history and the prices of the board (NULL: none). */
void aggregator_set_live(struct aggregator *a, struct outbox *outbox, struct peak_history *history,
	struct price_board *prices);
/* Returns 0, or -1 when the thread cannot be started. */
int aggregator_start(struct aggregator *a);
/* Asks the thread to finish every queued message, then joins it. The
 * producer (broker thread) must have stopped pushing. */
void aggregator_stop(struct aggregator *a);
void aggregator_free(struct aggregator *a);

/* The work on one message, on the calling thread; for aggregator's own
 * thread, benchmarks and tests. */
void aggregator_handle(struct aggregator *a, const struct intake_msg *m);
/* Merges the stored peaks handed over so far; likewise. */
void aggregator_merge_history(struct aggregator *a);

#endif
