/* Bounded row ring between the broker thread and the writer; see row_queue.h. */
#include "row_queue.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int row_queue_init(struct row_queue *q, size_t capacity)
{
	memset(q, 0, sizeof(*q));
	/* calloc of a large ring maps zero pages: memory is only touched when a
	 * backlog actually builds up. */
	q->ring = calloc(capacity, sizeof(*q->ring));
	if (q->ring == NULL)
		return -1;
	q->capacity = capacity;
	pthread_mutex_init(&q->mu, NULL);
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&q->cv, &attr);
	pthread_condattr_destroy(&attr);
	return 0;
}

void row_queue_destroy(struct row_queue *q)
{
	if (q->ring == NULL)
		return;
	pthread_cond_destroy(&q->cv);
	pthread_mutex_destroy(&q->mu);
	free(q->ring);
	q->ring = NULL;
}

bool row_queue_push(struct row_queue *q, const struct conso_row *row)
{
	pthread_mutex_lock(&q->mu);
	bool ok = q->count < q->capacity;
	if (ok) {
		q->ring[(q->head + q->count) % q->capacity] = *row;
		q->count++;
		pthread_cond_signal(&q->cv);
	}
	pthread_mutex_unlock(&q->mu);
	return ok;
}

static struct timespec deadline_after(int timeout_ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

size_t row_queue_peek(struct row_queue *q, struct conso_row *out, size_t max, int timeout_ms)
{
	struct timespec deadline = deadline_after(timeout_ms);
	pthread_mutex_lock(&q->mu);
	while (q->count == 0 && !q->stopping) {
		if (pthread_cond_timedwait(&q->cv, &q->mu, &deadline) == ETIMEDOUT)
			break;
	}
	size_t n = q->count < max ? q->count : max;
	for (size_t i = 0; i < n; i++)
		out[i] = q->ring[(q->head + i) % q->capacity];
	pthread_mutex_unlock(&q->mu);
	return n;
}

void row_queue_pop(struct row_queue *q, size_t n)
{
	pthread_mutex_lock(&q->mu);
	if (n > q->count)
		n = q->count;
	q->head = (q->head + n) % q->capacity;
	q->count -= n;
	pthread_mutex_unlock(&q->mu);
}

void row_queue_stop(struct row_queue *q)
{
	pthread_mutex_lock(&q->mu);
	q->stopping = true;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

bool row_queue_stopping(struct row_queue *q)
{
	pthread_mutex_lock(&q->mu);
	bool s = q->stopping;
	pthread_mutex_unlock(&q->mu);
	return s;
}

size_t row_queue_length(struct row_queue *q)
{
	pthread_mutex_lock(&q->mu);
	size_t n = q->count;
	pthread_mutex_unlock(&q->mu);
	return n;
}

bool row_queue_wait_stop(struct row_queue *q, int timeout_ms)
{
	struct timespec deadline = deadline_after(timeout_ms);
	pthread_mutex_lock(&q->mu);
	while (!q->stopping) {
		if (pthread_cond_timedwait(&q->cv, &q->mu, &deadline) == ETIMEDOUT)
			break;
	}
	bool s = q->stopping;
	pthread_mutex_unlock(&q->mu);
	return s;
}
