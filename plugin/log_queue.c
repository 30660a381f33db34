/* Worker-to-broker log ring; see log_queue.h. */
#include "log_queue.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <mosquitto.h>

void log_queue_init(struct log_queue *q)
{
	memset(q, 0, sizeof(*q));
	atomic_init(&q->maybe_lines, false);
	pthread_mutex_init(&q->mu, NULL);
}

void log_queue_destroy(struct log_queue *q)
{
	pthread_mutex_destroy(&q->mu);
}

void log_queue_push(struct log_queue *q, int level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_queue_vpush(q, level, fmt, ap);
	va_end(ap);
}

void log_queue_vpush(struct log_queue *q, int level, const char *fmt, va_list ap)
{
	char buf[LOG_QUEUE_LINE_BYTES];
	vsnprintf(buf, sizeof(buf), fmt, ap);

	pthread_mutex_lock(&q->mu);
	if (q->count == LOG_QUEUE_LINES) {
		q->dropped++;
	} else {
		unsigned slot = (q->head + q->count) % LOG_QUEUE_LINES;
		q->level[slot] = level;
		memcpy(q->line[slot], buf, sizeof(buf));
		q->count++;
	}
	atomic_store(&q->maybe_lines, true);
	pthread_mutex_unlock(&q->mu);
}

size_t log_queue_drain(struct log_queue *q, void (*sink)(int level, const char *line))
{
	size_t drained = 0;
	/* Called for every message: most calls find nothing. A line pushed
	 * after this store sets the flag again for the next drain. */
	if (!atomic_load(&q->maybe_lines))
		return 0;
	atomic_store(&q->maybe_lines, false);
	for (;;) {
		char buf[LOG_QUEUE_LINE_BYTES];
		int level;
		unsigned long dropped = 0;
		pthread_mutex_lock(&q->mu);
		if (q->count == 0) {
			dropped = q->dropped;
			q->dropped = 0;
			pthread_mutex_unlock(&q->mu);
			if (dropped) {
				snprintf(buf, sizeof(buf), "%lu log lines from worker threads were dropped (log queue full)", dropped);
				sink(MOSQ_LOG_WARNING, buf);
			}
			return drained;
		}
		level = q->level[q->head];
		memcpy(buf, q->line[q->head], sizeof(buf));
		q->head = (q->head + 1) % LOG_QUEUE_LINES;
		q->count--;
		pthread_mutex_unlock(&q->mu);
		sink(level, buf);
		drained++;
	}
}
