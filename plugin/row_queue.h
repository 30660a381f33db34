/*
 * Finished Conso rows on their way from the broker thread to the database
 * writer thread.
 *
 * A bounded ring allocated once at init. The broker thread pushes and never
 * blocks: a full queue refuses the row (the caller counts it). The writer
 * copies a batch out with row_queue_peek, writes it, and only then removes
 * it with row_queue_pop, so rows stay queued while the database is away.
 * The ring owns its storage; rows are copied in and out.
 */
#ifndef LOWI_ROW_QUEUE_H
#define LOWI_ROW_QUEUE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "quarter.h"
#include "topic.h"

struct conso_row {
	char serial[LOWI_SERIAL_MAX + 1];
	struct quarter_row q;
};

struct row_queue {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct conso_row *ring;
	size_t capacity, head, count;
	bool stopping;
};

/* Init thread. Returns 0, or -1 when out of memory. */
int row_queue_init(struct row_queue *q, size_t capacity);
void row_queue_destroy(struct row_queue *q);

/* Broker thread. False when the queue is full. */
bool row_queue_push(struct row_queue *q, const struct conso_row *row);

/* Writer thread. Waits up to timeout_ms for rows (or a stop), then copies
 * up to max of the oldest rows into out without removing them. */
size_t row_queue_peek(struct row_queue *q, struct conso_row *out, size_t max, int timeout_ms);

/* Writer thread. Removes the n oldest rows (after they were committed). */
void row_queue_pop(struct row_queue *q, size_t n);

/* Any thread. Wakes the writer and makes further peeks return at once. */
void row_queue_stop(struct row_queue *q);
bool row_queue_stopping(struct row_queue *q);

/* Any thread. */
size_t row_queue_length(struct row_queue *q);

/* Waits up to timeout_ms unless stopped; returns true if stopped. Used by the
 * writer for its back-off so a stop interrupts it. */
bool row_queue_wait_stop(struct row_queue *q, int timeout_ms);

#endif
