/* The row queue: order across chunks, its bound, release of emptied
 * chunks, and one producer thread against one consumer thread. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "row_queue.h"

static struct conso_row row_n(size_t i)
{
	struct conso_row r;
	memset(&r, 0, sizeof(r));
	snprintf(r.serial, sizeof(r.serial), "S%zu", i % 1000);
	r.q.start_s = (int64_t)i * 900;
	r.q.import_wh = (int64_t)i;
	return r;
}

#define THREAD_ROWS 300000

static void *producer(void *arg)
{
	struct row_queue *q = arg;
	for (size_t i = 0; i < THREAD_ROWS;) {
		struct conso_row r = row_n(i);
		if (row_queue_push(q, &r))
			i++;
	}
	return NULL;
}

int main(void)
{
	size_t per = row_queue_chunk_rows();
	CHECK(per >= 1000, "a chunk holds %zu rows", per);

	struct row_queue q;
	memset(&q, 0, sizeof(q));
	row_queue_destroy(&q); /* never initialised: nothing to do */

	CHECK(row_queue_init(&q, 3 * per + 10) == 0, "init");
	CHECK(row_queue_chunks(&q) == 0, "nothing mapped before the first row");
	size_t cap = 3 * per + 10, pushed = 0;
	while (pushed < cap + 5) {
		struct conso_row r = row_n(pushed);
		if (!row_queue_push(&q, &r))
			break;
		pushed++;
	}
	CHECK(pushed == cap, "bound: %zu pushed of %zu", pushed, cap);
	CHECK(row_queue_length(&q) == cap, "length %zu", row_queue_length(&q));
	CHECK(row_queue_chunks(&q) == 4, "%zu chunks for 3 chunks and 10 rows", row_queue_chunks(&q));

	struct conso_row *out = malloc(cap * sizeof(*out));
	size_t n = row_queue_peek(&q, out, cap, 0);
	size_t bad = 0;
	for (size_t i = 0; i < n; i++)
		bad += out[i].q.import_wh != (int64_t)i;
	CHECK(n == cap && bad == 0, "peek of all: %zu rows, %zu out of order", n, bad);

	/* Pop in uneven steps; order must hold across chunk boundaries. */
	size_t next = 0;
	bad = 0;
	while (row_queue_length(&q) > 0) {
		size_t k = row_queue_peek(&q, out, per / 3 + 7, 0);
		for (size_t i = 0; i < k; i++)
			bad += out[i].q.import_wh != (int64_t)(next + i);
		row_queue_pop(&q, k);
		next += k;
		if (next >= 2 * per && next < 3 * per && row_queue_chunks(&q) != 3) {
			CHECK(false, "two chunks emptied: one spare, one released; %zu mapped", row_queue_chunks(&q));
			break;
		}
	}
	CHECK(bad == 0 && next == cap, "drained %zu rows, %zu out of order", next, bad);
	CHECK(row_queue_chunks(&q) == 1, "drained queue keeps one spare chunk, has %zu", row_queue_chunks(&q));

	/* Reuse after draining, including a pop of more than is queued. */
	struct conso_row r = row_n(42);
	CHECK(row_queue_push(&q, &r), "push after drain");
	CHECK(row_queue_chunks(&q) == 1, "spare reused");
	CHECK(row_queue_peek(&q, out, 10, 0) == 1 && out[0].q.import_wh == 42, "peek after drain");
	row_queue_pop(&q, 10);
	CHECK(row_queue_length(&q) == 0 && row_queue_peek(&q, out, 10, 0) == 0, "empty again");
	row_queue_destroy(&q);

	/* One producer thread, one consumer (this thread), small bound. */
	CHECK(row_queue_init(&q, per + per / 2) == 0, "init");
	pthread_t th;
	pthread_create(&th, NULL, producer, &q);
	next = 0;
	bad = 0;
	while (next < THREAD_ROWS) {
		size_t k = row_queue_peek(&q, out, 500, 100);
		for (size_t i = 0; i < k; i++)
			bad += out[i].q.import_wh != (int64_t)(next + i) || out[i].q.start_s != (int64_t)(next + i) * 900;
		row_queue_pop(&q, k);
		next += k;
	}
	pthread_join(th, NULL);
	CHECK(bad == 0 && next == THREAD_ROWS, "threads: %zu rows, %zu wrong", next, bad);
	CHECK(row_queue_length(&q) == 0 && row_queue_chunks(&q) == 1, "threads: drained, %zu chunks", row_queue_chunks(&q));

	row_queue_stop(&q);
	CHECK(row_queue_stopping(&q) && row_queue_peek(&q, out, 10, 10000) == 0, "stopped queue returns at once");
	row_queue_destroy(&q);
	free(out);
	return check_finish("row_queue");
}
