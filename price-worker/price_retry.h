/*
 * When the price worker asks its source again after a failure, and what it
 * logs about it: the pure rules, no I/O, no clock (the caller passes the
 * time), no globals. One struct price_health per worker, used by its
 * thread only; price_retry_after_s may be called from any thread.
 *
 * Back-off of the source. After a failed request (no answer, an HTTP error,
 * an answer that cannot be used) no request goes to the source for
 * PRICE_BACKOFF_MIN_S; each further failure in a row doubles the pause, up
 * to PRICE_BACKOFF_MAX_S. The first request that gets a usable answer (prices,
 * or "not published yet") ends the run and the pause starts again from the
 * minimum. An installation without a route to the source thus makes 6
 * requests in its first hour (at 0, 1, 3, 7, 15 and 31 min) and one an
 * hour after that.
 *
 * Log lines. Failures of the same kind in a row (the same transport error,
 * the same HTTP status, ...) share lines that carry their count: the 1st,
 * 2nd, 4th, 8th, ... are logged, and any that comes an hour or more
 * (PRICE_FAILURE_LINE_EVERY_S) after the last line; the others are only
 * counted. A failure of another kind is logged at once and starts a new
 * count. The caller logs the first success after failures ("source
 * reachable again after N failures").
 *
 * docs/prices.md and the README's Prices section describe these rules to
 * the operator; tests/unit/test_price_retry.c holds them to that.
 */
#ifndef LOWI_PRICE_RETRY_H
#define LOWI_PRICE_RETRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PRICE_BACKOFF_MIN_S 60
#define PRICE_BACKOFF_MAX_S 3600
#define PRICE_FAILURE_LINE_EVERY_S 3600

/* A Retry-After longer than this (an hour) is cut to it. */
#define PRICE_RETRY_AFTER_MAX_S 3600

struct price_health {
	unsigned failures;   /* failed requests in a row, whatever their kind */
	unsigned streak;     /* the last of those that were of one kind */
	char kind[64];       /* that kind; "" when the last request succeeded */
	int64_t backoff_s;   /* the pause after the next failure */
	int64_t last_line_s; /* when a line of the current streak was last logged */
};

struct price_failure {
	int64_t wait_s;      /* no request to the source before now + wait_s */
	unsigned streak;     /* failures of this kind in a row, this one included */
	unsigned failures;   /* failures of any kind in a row, this one included */
	bool log;            /* log a line for this one (else it only counts) */
};

void price_health_init(struct price_health *h);

/* Records a failed request of the given kind (a short stable text: the
 * transport error, "HTTP 503", "answer rejected") at now_s. */
struct price_failure price_health_failed(struct price_health *h, const char *kind, int64_t now_s);

/* Records a request that got a usable answer. Returns the failures in a
 * row it ends (0 when the previous request succeeded too). */
unsigned price_health_succeeded(struct price_health *h);

/* Lines about a condition that repeats (a database error, a 429): one for
 * the first of a kind, then at most one a PRICE_REPEAT_LINE_EVERY_S, each
 * with the count of that kind in a row; the rest are only counted. */
#define PRICE_REPEAT_LINE_EVERY_S 60

struct price_repeat {
	char kind[64];       /* the kind of the last occurrence; "" after a reset */
	unsigned count;      /* occurrences of that kind in a row */
	int64_t last_line_s; /* when the last line about it was logged */
};

/* Records an occurrence of kind at now_s. True when it gets a line;
 * r->count is then the count to print. */
bool price_repeat_note(struct price_repeat *r, const char *kind, int64_t now_s);

/* The condition is over: returns how many occurrences it had in a row
 * (0: none since the last reset) and starts afresh. */
unsigned price_repeat_reset(struct price_repeat *r);

/* A Retry-After header's value in seconds: delta-seconds ("120") or an
 * HTTP date ("Wed, 21 Oct 2015 07:28:00 GMT", IMF-fixdate, counted from
 * now_s), surrounding spaces and tabs allowed, not NUL-terminated. Never
 * more than PRICE_RETRY_AFTER_MAX_S (a longer value, however long, gives
 * that), a date in the past gives 0; -1 when the value is neither form.
 * No overflow on any input. */
long price_retry_after_s(const char *value, size_t len, int64_t now_s);

/* "45 s", "2 min", "1 h", "1 h 30 min" for a log line. */
void price_duration_text(int64_t seconds, char *buf, size_t size);

#endif
