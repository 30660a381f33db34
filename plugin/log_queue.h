/*
 * Log lines from worker threads to the broker log.
 *
 * No mosquitto function is thread-safe, so worker threads never call
 * mosquitto_log_printf: they push formatted lines here (any thread), and
 * the broker thread drains them from its callbacks. Fixed-size ring, no
 * allocation after init; when full, new lines are counted and dropped, and
 * the count is reported by the next drain.
 */
#ifndef LOWI_LOG_QUEUE_H
#define LOWI_LOG_QUEUE_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#define LOG_QUEUE_LINES 256
#define LOG_QUEUE_LINE_BYTES 320

struct log_queue {
	pthread_mutex_t mu;
	_Atomic bool maybe_lines; /* lets a drain with nothing to do skip the lock */
	unsigned head, count;
	unsigned long dropped;
	int level[LOG_QUEUE_LINES];
	char line[LOG_QUEUE_LINES][LOG_QUEUE_LINE_BYTES];
};

void log_queue_init(struct log_queue *q);
void log_queue_destroy(struct log_queue *q);

/* Any thread. level is a MOSQ_LOG_* value. */
void log_queue_push(struct log_queue *q, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The same for a caller that forwards its own variable arguments. */
void log_queue_vpush(struct log_queue *q, int level, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/* Any thread: false when no line was pushed since the last drain began;
 * cheap enough to ask for every message. */
static inline bool log_queue_maybe_lines(struct log_queue *q)
{
	return atomic_load_explicit(&q->maybe_lines, memory_order_relaxed);
}

/* Broker thread. Calls sink for each queued line, oldest first, outside the
 * lock; returns the number of lines drained. */
size_t log_queue_drain(struct log_queue *q, void (*sink)(int level, const char *line));

#endif
