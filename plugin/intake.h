/*
 * Raw messages on their way from the broker thread to the aggregator thread.
 *
 * The broker thread must not spend its time decoding JSON: every
 * microsecond there is taken from every client of the broker. So the
 * message callback only stamps the receive time and copies the topic and
 * payload here; the aggregator decodes and aggregates them in order.
 *
 * One producer (the broker thread) and one consumer (the aggregator thread).
 * Messages are packed into fixed-size chunks linked in a list; the producer
 * never waits for the consumer and takes no lock on its usual path. It
 * wakes a sleeping consumer only once a batch of messages waits, or the
 * queue is down to its last chunk: the consumer's own timed wait (its
 * caller chooses the bound) picks up a smaller backlog, so a message waits
 * at most that long. The queue grows one chunk at a time up to a memory
 * cap; past it a message is refused (the producer counts it). The queue owns
 * its storage; topic and payload are copied in, and a message returned by
 * intake_next() stays valid until the next intake_next() call.
 */
#ifndef LOWI_INTAKE_H
#define LOWI_INTAKE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define INTAKE_CHUNK_BYTES (64 * 1024)
#define INTAKE_TOPIC_MAX 1024 /* longer topics are kept cut, flagged */
/* Messages queued before the producer wakes a waiting consumer. At
 * saturation each wake-up costs both threads a system call and the consumer
 * a context switch, so wake-ups are batched (docs/performance.md has the
 * measurement). Under light traffic the consumer's timed wait
 * (IDLE_WAIT_MS in aggregator.c) picks messages up instead. */
#define INTAKE_WAKE_BATCH 1024

struct intake_msg {
	int64_t received_ms;  /* broker thread's clock when the message arrived */
	uint32_t payload_len; /* as published */
	uint32_t stored_len;  /* bytes of payload kept: 0 when payload_len exceeds the cap given to intake_push */
	uint16_t topic_len;   /* bytes of topic kept */
	bool topic_cut;       /* the topic was longer than INTAKE_TOPIC_MAX */
	/* followed by the topic (NUL-terminated) and the payload */
};

static inline const char *intake_msg_topic(const struct intake_msg *m)
{
	return (const char *)(m + 1);
}

static inline const unsigned char *intake_msg_payload(const struct intake_msg *m)
{
	return (const unsigned char *)(m + 1) + m->topic_len + 1;
}

struct intake_chunk;

struct intake {
	/* producer side */
	struct intake_chunk *tail;
	size_t tail_used;
	unsigned unsignalled; /* messages queued while the consumer waited, not yet signalled */
	/* consumer side */
	struct intake_chunk *head;
	size_t head_read;
	/* shared */
	_Atomic(struct intake_chunk *) spare; /* one emptied chunk kept for reuse */
	_Atomic size_t chunks;                /* allocated, for the cap */
	size_t max_chunks;
	_Atomic bool consumer_waiting;
	_Atomic bool stopping;
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

/* Init thread, before either side runs. max_bytes caps the memory held by
 * messages not yet consumed (at least one chunk). Returns 0, or -1 when out
 * of memory. */
int intake_init(struct intake *q, size_t max_bytes);
/* After both sides stopped: frees every chunk, consumed or not. */
void intake_destroy(struct intake *q);

/* Broker thread. Copies the message in; a payload longer than
 * max_payload_bytes is not kept (only its length). False when the memory cap
 * is reached or memory is short: the message is not queued. */
bool intake_push(struct intake *q, const char *topic, size_t topic_len, const void *payload, uint32_t payload_len,
	uint32_t max_payload_bytes, int64_t received_ms);

/* Aggregator thread. The oldest message not yet consumed, or NULL when
 * there is none right now. */
const struct intake_msg *intake_next(struct intake *q);

/* Aggregator thread. Waits until a batch of messages is there, a stop is
 * asked, or timeout_ms passes. Returns true when a stop was asked. */
bool intake_wait(struct intake *q, int timeout_ms);

/* Any thread. The consumer finishes what is queued, then sees the stop. */
void intake_stop(struct intake *q);
bool intake_stopping(struct intake *q);

#endif
