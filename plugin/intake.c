/* Broker-to-aggregator message queue; see intake.h. */
#include "intake.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "deadline.h"

struct intake_chunk {
	_Atomic(struct intake_chunk *) next;
	_Atomic size_t used; /* bytes of data holding complete messages */
	_Alignas(8) unsigned char data[];
};

#define CHUNK_DATA (INTAKE_CHUNK_BYTES - offsetof(struct intake_chunk, data))

static size_t align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

static size_t msg_size(size_t topic_len, size_t stored_len)
{
	return align8(sizeof(struct intake_msg) + topic_len + 1 + stored_len);
}

static struct intake_chunk *chunk_new(void)
{
	struct intake_chunk *c = malloc(INTAKE_CHUNK_BYTES);
	if (c != NULL) {
		atomic_init(&c->next, NULL);
		atomic_init(&c->used, 0);
	}
	return c;
}

int intake_init(struct intake *q, size_t max_bytes)
{
	memset(q, 0, sizeof(*q));
	struct intake_chunk *c = chunk_new();
	if (c == NULL)
		return -1;
	q->head = q->tail = c;
	atomic_init(&q->spare, NULL);
	atomic_init(&q->chunks, 1);
	/* Two at least: the producer fills one while the consumer reads the other. */
	q->max_chunks = max_bytes / INTAKE_CHUNK_BYTES < 2 ? 2 : max_bytes / INTAKE_CHUNK_BYTES;
	atomic_init(&q->consumer_waiting, false);
	atomic_init(&q->stopping, false);
	pthread_mutex_init(&q->mu, NULL);
	monotonic_cond_init(&q->cv);
	return 0;
}

void intake_destroy(struct intake *q)
{
	if (q->head == NULL)
		return;
	for (struct intake_chunk *c = q->head, *next; c != NULL; c = next) {
		next = atomic_load(&c->next);
		free(c);
	}
	free(atomic_load(&q->spare));
	q->head = q->tail = NULL;
	pthread_cond_destroy(&q->cv);
	pthread_mutex_destroy(&q->mu);
}

/* Producer: a fresh chunk, the consumer's spare one when there is one. */
static struct intake_chunk *chunk_take(struct intake *q)
{
	struct intake_chunk *c = atomic_exchange(&q->spare, NULL);
	if (c != NULL) {
		atomic_store_explicit(&c->next, NULL, memory_order_relaxed);
		atomic_store_explicit(&c->used, 0, memory_order_relaxed);
		return c;
	}
	if (atomic_load(&q->chunks) >= q->max_chunks)
		return NULL;
	c = chunk_new();
	if (c != NULL)
		atomic_fetch_add(&q->chunks, 1);
	return c;
}

bool intake_push(struct intake *q, const char *topic, size_t topic_len, const void *payload, uint32_t payload_len,
	uint32_t max_payload_bytes, int64_t received_ms)
{
	bool cut = topic_len > INTAKE_TOPIC_MAX;
	if (cut)
		topic_len = INTAKE_TOPIC_MAX;
	uint32_t stored = payload_len <= max_payload_bytes ? payload_len : 0;
	if (msg_size(topic_len, stored) > CHUNK_DATA)
		stored = 0;
	size_t need = msg_size(topic_len, stored);
	bool last_chunk = false;
	if (q->tail_used + need > CHUNK_DATA) {
		struct intake_chunk *c = chunk_take(q);
		if (c == NULL)
			return false;
		/* The old chunk is complete: its last `used` store came before. */
		atomic_store(&q->tail->next, c);
		q->tail = c;
		q->tail_used = 0;
		last_chunk = atomic_load(&q->chunks) >= q->max_chunks;
	}
	unsigned char *at = q->tail->data + q->tail_used;
	struct intake_msg m = {
		.received_ms = received_ms, .payload_len = payload_len, .stored_len = stored,
		.topic_len = (uint16_t)topic_len, .topic_cut = cut,
	};
	memcpy(at, &m, sizeof(m));
	memcpy(at + sizeof(m), topic, topic_len);
	at[sizeof(m) + topic_len] = '\0';
	if (stored)
		memcpy(at + sizeof(m) + topic_len + 1, payload, stored);
	q->tail_used += need;
	/* Sequentially consistent with the consumer's consumer_waiting store:
	 * either it sees this message before sleeping, or this thread sees it
	 * waiting. Waking it costs this thread a system call, so that is done
	 * once INTAKE_WAKE_BATCH messages wait; fewer are picked up when its
	 * timed wait ends. A queue down to its last chunk wakes it at once: a
	 * small cap must not refuse messages while the consumer sleeps. */
	atomic_store(&q->tail->used, q->tail_used);
	if (atomic_load(&q->consumer_waiting) && (++q->unsignalled >= INTAKE_WAKE_BATCH || last_chunk)) {
		q->unsignalled = 0;
		pthread_mutex_lock(&q->mu);
		pthread_cond_signal(&q->cv);
		pthread_mutex_unlock(&q->mu);
	}
	return true;
}

/* Consumer: a chunk it has read to the end goes back as the spare. */
static void chunk_recycle(struct intake *q, struct intake_chunk *c)
{
	struct intake_chunk *none = NULL;
	if (!atomic_compare_exchange_strong(&q->spare, &none, c)) {
		free(c);
		atomic_fetch_sub(&q->chunks, 1);
	}
}

const struct intake_msg *intake_next(struct intake *q)
{
	for (;;) {
		struct intake_chunk *c = q->head;
		size_t used = atomic_load_explicit(&c->used, memory_order_acquire);
		if (q->head_read < used) {
			const struct intake_msg *m = (const struct intake_msg *)(c->data + q->head_read);
			q->head_read += msg_size(m->topic_len, m->stored_len);
			return m;
		}
		struct intake_chunk *next = atomic_load_explicit(&c->next, memory_order_acquire);
		if (next == NULL)
			return NULL;
		/* The producer has left this chunk; messages it added before
		 * leaving are visible now. */
		if (q->head_read < atomic_load_explicit(&c->used, memory_order_acquire))
			continue;
		q->head = next;
		q->head_read = 0;
		chunk_recycle(q, c);
	}
}

static bool has_messages(struct intake *q)
{
	return q->head_read < atomic_load(&q->head->used) || atomic_load(&q->head->next) != NULL;
}

bool intake_wait(struct intake *q, int timeout_ms)
{
	pthread_mutex_lock(&q->mu);
	atomic_store(&q->consumer_waiting, true);
	if (!has_messages(q) && !atomic_load(&q->stopping)) {
		struct timespec deadline = deadline_after(timeout_ms);
		int rc = pthread_cond_timedwait(&q->cv, &q->mu, &deadline);
		(void)rc; /* woken, timed out or spurious: the caller looks again */
	}
	atomic_store(&q->consumer_waiting, false);
	pthread_mutex_unlock(&q->mu);
	return atomic_load(&q->stopping);
}

void intake_stop(struct intake *q)
{
	atomic_store(&q->stopping, true);
	pthread_mutex_lock(&q->mu);
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

bool intake_stopping(struct intake *q)
{
	return atomic_load(&q->stopping);
}
