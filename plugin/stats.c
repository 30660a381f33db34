/* The counters' table and the two outputs made from it; see stats.h. */
#include "stats.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>

/* mosquitto 2.0 cuts a log line at 999 bytes, its timestamp and the
 * "lowi-p1: status: " prefix included: a thread's counters that would not
 * fit go on to another line rather than lose their tail. */
#define STATS_LINE_BYTES 800

const struct stats_counter stats_counters[] = {
#define LOWI_STATS_ROW(name, thread, meaning) { #name, thread, offsetof(struct lowi_stats, name), meaning },
	LOWI_STATS(LOWI_STATS_ROW)
#undef LOWI_STATS_ROW
};
const size_t stats_counter_count = sizeof(stats_counters) / sizeof(stats_counters[0]);

int stats_format_json(const struct lowi_stats *s, char *buf, size_t size)
{
	size_t len = 0;
	for (size_t i = 0; i < stats_counter_count; i++) {
		const struct stats_counter *c = &stats_counters[i];
		int n = snprintf(buf + len, size - len, "%s\"%s\":%" PRIu64, i ? "," : "", c->name, stats_value(s, c));
		if (n < 0 || (size_t)n >= size - len)
			return -1;
		len += (size_t)n;
	}
	return (int)len;
}

void stats_format_lines(const struct lowi_stats *s, void (*line)(void *ctx, const char *text), void *ctx)
{
	char text[STATS_LINE_BYTES];
	size_t len = 0;
	for (size_t i = 0; i < stats_counter_count; i++) {
		const struct stats_counter *c = &stats_counters[i];
		char item[128];
		int n = snprintf(item, sizeof(item), "%s %" PRIu64, c->name, stats_value(s, c));
		bool same_thread = i > 0 && c->thread == stats_counters[i - 1].thread;
		if (len > 0 && (!same_thread || len + 2 + (size_t)n >= sizeof(text))) {
			line(ctx, text);
			len = 0;
		}
		if (len == 0)
			n = snprintf(text, sizeof(text), "%s: %s", stats_thread_name(c->thread), item);
		else
			n = snprintf(text + len, sizeof(text) - len, ", %s", item);
		len += (size_t)n;
	}
	if (len > 0)
		line(ctx, text);
}
