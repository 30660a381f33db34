/* Row queue in chunks mapped on demand; see row_queue.h. */
#include "row_queue.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "deadline.h"

/* Chunks are mapped and unmapped directly rather than malloc'd: the C
 * library may keep freed blocks of this size in a thread's arena, and the
 * point of emptying a chunk is that its pages leave the process. */
#define CHUNK_BYTES ((size_t)256 * 1024)

struct row_chunk {
	struct row_chunk *next;
	struct conso_row rows[];
};

#define CHUNK_ROWS ((CHUNK_BYTES - offsetof(struct row_chunk, rows)) / sizeof(struct conso_row))

size_t row_queue_chunk_rows(void)
{
	return CHUNK_ROWS;
}

static struct row_chunk *chunk_map(void)
{
	void *p = mmap(NULL, CHUNK_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	struct row_chunk *c = p;
	c->next = NULL;
	return c;
}

static void chunks_unmap(struct row_chunk *c)
{
	while (c) {
		struct row_chunk *next = c->next;
		munmap(c, CHUNK_BYTES);
		c = next;
	}
}

int row_queue_init(struct row_queue *q, size_t capacity)
{
	memset(q, 0, sizeof(*q));
	q->capacity = capacity;
	if (pthread_mutex_init(&q->mu, NULL) != 0)
		return -1;
	if (monotonic_cond_init(&q->cv) != 0) {
		pthread_mutex_destroy(&q->mu);
		return -1;
	}
	q->ready = true;
	return 0;
}

void row_queue_destroy(struct row_queue *q)
{
	if (!q->ready)
		return;
	pthread_cond_destroy(&q->cv);
	pthread_mutex_destroy(&q->mu);
	chunks_unmap(q->head);
	chunks_unmap(q->spare);
	memset(q, 0, sizeof(*q));
}

/* Called with the lock held and the tail full (or no chunk at all). May
 * drop the lock to map a chunk; false when none can be had. */
static bool add_tail_chunk(struct row_queue *q)
{
	struct row_chunk *c = q->spare;
	q->spare = NULL;
	if (c == NULL) {
		/* The consumer only ever shortens the queue, so the tail is
		 * still full (or gone) when the lock is taken back. */
		pthread_mutex_unlock(&q->mu);
		c = chunk_map();
		pthread_mutex_lock(&q->mu);
		if (c == NULL)
			return false;
		q->chunks++;
	}
	c->next = NULL;
	if (q->tail == NULL) {
		q->head = c;
		q->head_pos = 0;
	} else {
		q->tail->next = c;
	}
	q->tail = c;
	q->tail_pos = 0;
	return true;
}

bool row_queue_push(struct row_queue *q, const struct conso_row *row)
{
	pthread_mutex_lock(&q->mu);
	bool ok = q->count < q->capacity && ((q->tail != NULL && q->tail_pos < CHUNK_ROWS) || add_tail_chunk(q));
	if (ok) {
		q->tail->rows[q->tail_pos++] = *row;
		q->count++;
		pthread_cond_signal(&q->cv);
	}
	pthread_mutex_unlock(&q->mu);
	return ok;
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
	const struct row_chunk *c = q->head;
	size_t pos = q->head_pos;
	for (size_t i = 0; i < n; i++) {
		if (pos == CHUNK_ROWS) {
			c = c->next;
			pos = 0;
		}
		out[i] = c->rows[pos++];
	}
	pthread_mutex_unlock(&q->mu);
	return n;
}

void row_queue_pop(struct row_queue *q, size_t n)
{
	struct row_chunk *released = NULL;
	size_t unmapped = 0;
	pthread_mutex_lock(&q->mu);
	if (n > q->count)
		n = q->count;
	q->count -= n;
	while (q->head != NULL && (n > 0 || q->head_pos == CHUNK_ROWS || q->count == 0)) {
		size_t take = CHUNK_ROWS - q->head_pos < n ? CHUNK_ROWS - q->head_pos : n;
		q->head_pos += take;
		n -= take;
		if (q->head_pos < CHUNK_ROWS && q->count > 0)
			continue;
		/* Emptied (or the queue is): the chunk goes, kept as the spare if
		 * there is none, else back to the kernel once unlocked. */
		struct row_chunk *c = q->head;
		q->head = c->next;
		q->head_pos = 0;
		if (q->head == NULL) {
			q->tail = NULL;
			q->tail_pos = 0;
		}
		if (q->spare == NULL) {
			c->next = NULL;
			q->spare = c;
		} else {
			c->next = released;
			released = c;
			unmapped++;
		}
	}
	q->chunks -= unmapped;
	pthread_mutex_unlock(&q->mu);
	chunks_unmap(released);
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

size_t row_queue_chunks(struct row_queue *q)
{
	pthread_mutex_lock(&q->mu);
	size_t n = q->chunks;
	pthread_mutex_unlock(&q->mu);
	return n;
}
