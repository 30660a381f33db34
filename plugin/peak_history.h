/*
 * The monthly peaks the database already holds (Pics), on their way from
 * the writer thread, which reads them once it is connected, to the
 * aggregator thread, which merges them into its meters' capacity state
 * (capacity.h): so that a restart does not forget the month's peak or the
 * 12 months the bill averages.
 *
 * One producer (the writer thread) hands over batches of peaks; one
 * consumer (the aggregator thread) takes every batch handed over so far,
 * without waiting: it looks between messages. A short mutex guards the
 * hand-over only. The history owns the batches until taken; a taken batch
 * belongs to the taker, freed with peak_history_free_batch.
 */
#ifndef LOWI_PEAK_HISTORY_H
#define LOWI_PEAK_HISTORY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capacity.h"
#include "topic.h"

struct peak_record {
	char serial[LOWI_SERIAL_MAX + 1];
	capacity_month_t month;
	float peak_kw;
	int64_t peak_start_s;
};

struct peak_batch {
	struct peak_batch *next;
	size_t count;
	struct peak_record records[];
};

#define PEAK_BATCH_RECORDS 4096

struct peak_history {
	pthread_mutex_t mu;
	struct peak_batch *head, *tail;  /* handed over, not taken */
	_Atomic bool pending;            /* head is not NULL: a cheap look for the consumer */
	_Atomic bool complete;           /* every peak was handed over */
};

/* Init thread. Returns 0, or -1 when the mutex cannot be made. */
int peak_history_init(struct peak_history *h);
/* After both sides stopped: frees batches not taken. */
void peak_history_destroy(struct peak_history *h);

/* Writer thread: a new, empty batch (NULL when memory is short). */
struct peak_batch *peak_history_new_batch(void);
/* Writer thread: hands a batch over (ownership passes); an empty one is freed. */
void peak_history_hand_over(struct peak_history *h, struct peak_batch *b);
/* Writer thread: the last batch is handed over. */
void peak_history_set_complete(struct peak_history *h);

/* Aggregator thread: every batch handed over so far, as a list, or NULL. */
struct peak_batch *peak_history_take(struct peak_history *h);
bool peak_history_complete(const struct peak_history *h);
/* Frees a taken list. */
void peak_history_free_batch(struct peak_batch *b);

#endif
