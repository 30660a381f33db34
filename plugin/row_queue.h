/*
 * Finished Conso rows on their way from the thread that aggregates readings
 * (the producer) to the database writer thread (the consumer).
 *
 * One producer thread and one consumer thread, whichever they are; the
 * mutex makes every call safe from any thread. The producer pushes and
 * never waits for the consumer: a queue holding `capacity` rows refuses the
 * row (the caller counts it). The writer copies a batch out with
 * row_queue_peek, writes it, and only then removes it with row_queue_pop,
 * so rows stay queued while the database is away.
 *
 * Storage grows on demand in fixed chunks mapped straight from the kernel
 * and goes back to it as soon as the writer has emptied them (one empty
 * chunk is kept for the next quarter), so an idle queue costs one chunk,
 * not `capacity` rows. The queue owns its storage; rows are copied in and
 * out.
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

struct row_chunk;

struct row_queue {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct row_chunk *head, *tail; /* queued rows run from head[head_pos] to tail[tail_pos - 1] */
	struct row_chunk *spare;       /* an emptied chunk kept for reuse, or NULL */
	size_t head_pos, tail_pos;
	size_t capacity, count, chunks;
	bool stopping;
	bool ready; /* init succeeded: destroy has something to release */
};

/* Rows per storage chunk. */
size_t row_queue_chunk_rows(void);

/* Init thread. Allocates no rows yet. Returns 0, or -1 on failure. */
int row_queue_init(struct row_queue *q, size_t capacity);
/* Safe on a zeroed queue that was never initialised. */
void row_queue_destroy(struct row_queue *q);

/* Producer thread. False when the queue is full (or a chunk cannot be
 * mapped). */
bool row_queue_push(struct row_queue *q, const struct conso_row *row);

/* Consumer (writer) thread. Waits up to timeout_ms for rows (or a stop), then copies
 * up to max of the oldest rows into out without removing them. */
size_t row_queue_peek(struct row_queue *q, struct conso_row *out, size_t max, int timeout_ms);

/* Consumer (writer) thread. Removes the n oldest rows (after they were
 * committed); emptied chunks are released. */
void row_queue_pop(struct row_queue *q, size_t n);

/* Any thread. Wakes the writer and makes further peeks return at once. */
void row_queue_stop(struct row_queue *q);
bool row_queue_stopping(struct row_queue *q);

/* Any thread. */
size_t row_queue_length(struct row_queue *q);
/* Any thread: chunks currently mapped, the spare included. */
size_t row_queue_chunks(struct row_queue *q);

/* Waits up to timeout_ms unless stopped; returns true if stopped. Used by the
 * writer for its back-off so a stop interrupts it. */
bool row_queue_wait_stop(struct row_queue *q, int timeout_ms);

#endif
