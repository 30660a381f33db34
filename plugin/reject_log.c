/* Rejection lines, spaced as the broker prints them; see reject_log.h. */
#include "reject_log.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <mosquitto.h>

#include "log_prefix.h"

void reject_log_init(struct reject_log *r)
{
	memset(r, 0, sizeof(*r));
	for (int k = 0; k < REJECT_LOG_KINDS; k++) {
		atomic_init(&r->slot[k].state, 0);
		atomic_init(&r->slot[k].printed_at, 0);
	}
	atomic_init(&r->any_filled, false);
}

bool reject_log_offer(struct reject_log *r, int kind, uint64_t count, time_t now, const char *fmt, ...)
{
	if (kind < 0 || kind >= REJECT_LOG_KINDS)
		return false;
	struct reject_slot *s = &r->slot[kind];
	if (atomic_load_explicit(&s->state, memory_order_acquire) != 0)
		return false; /* an example waits for the broker already */
	time_t printed_at = atomic_load_explicit(&s->printed_at, memory_order_relaxed);
	if (printed_at != 0 && now - printed_at < REJECT_LOG_INTERVAL_S)
		return false;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->line, sizeof(s->line), fmt, ap);
	va_end(ap);
	s->count = count;
	atomic_store_explicit(&s->state, 1, memory_order_release);
	atomic_store(&r->any_filled, true);
	return true;
}

void reject_log_flush(struct reject_log *r, time_t now, void (*sink)(int level, const char *line))
{
	atomic_store(&r->any_filled, false);
	for (int k = 0; k < REJECT_LOG_KINDS; k++) {
		struct reject_slot *s = &r->slot[k];
		if (atomic_load_explicit(&s->state, memory_order_acquire) != 1)
			continue;
		/* Those of the kind between the previous printed line and this one. */
		uint64_t silenced = s->count - s->printed_count - 1;
		char line[LOG_QUEUE_LINE_BYTES + 80];
		if (s->printed_count != 0 && silenced != 0)
			snprintf(line, sizeof(line), PREFIX "%s (%" PRIu64 " similar since the last such line)", s->line, silenced);
		else
			snprintf(line, sizeof(line), PREFIX "%s", s->line);
		s->printed_count = s->count;
		/* The broker stamps the line itself, after this, possibly already
		 * in the next second: the minute counts from that one. */
		atomic_store_explicit(&s->printed_at, now + 1, memory_order_relaxed);
		atomic_store_explicit(&s->state, 0, memory_order_release);
		sink(MOSQ_LOG_WARNING, line);
	}
}
