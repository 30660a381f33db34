/*
 * Unit test of the price worker's pure retry rules (price-worker/price_retry.h):
 * the source's back-off, which failures get a log line, and Retry-After.
 *
 * The offline installation is simulated here without I/O: a worker whose
 * every request fails at once (no route to the source) asks again when the
 * back-off says; the requests and log lines per hour are counted and
 * printed (before these rules: one request and one line per day of the
 * backfill, back to back, forever).
 */
#include "price_retry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static long ra(const char *v, int64_t now)
{
	return price_retry_after_s(v, strlen(v), now);
}

static void test_backoff(void)
{
	struct price_health h;
	static const int64_t want[] = { 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600 };
	int64_t now = 0;

	price_health_init(&h);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		struct price_failure f = price_health_failed(&h, "Couldn't resolve host name", now);
		CHECK(f.wait_s == want[i], "failure %zu: pause %lld s, want %lld", i + 1, (long long)f.wait_s,
			(long long)want[i]);
		CHECK(f.failures == i + 1 && f.streak == i + 1, "failure %zu: counted %u/%u", i + 1, f.failures, f.streak);
		now += f.wait_s;
	}
	CHECK(price_health_succeeded(&h) == 9, "a success ends a run of 9 failures");
	CHECK(price_health_succeeded(&h) == 0, "a second success ends nothing");
	struct price_failure f = price_health_failed(&h, "Couldn't resolve host name", now);
	CHECK(f.wait_s == PRICE_BACKOFF_MIN_S && f.streak == 1 && f.log, "after a success the pause starts again at 1 min");

	/* Another kind: logged at once, counted anew; the pause keeps growing. */
	price_health_init(&h);
	price_health_failed(&h, "Couldn't resolve host name", 0);
	price_health_failed(&h, "Couldn't resolve host name", 60);
	f = price_health_failed(&h, "Timeout was reached", 180);
	CHECK(f.log && f.streak == 1 && f.failures == 3 && f.wait_s == 240,
		"a new kind: logged, streak 1, 3 failures, pause 240 s (log %d streak %u failures %u pause %lld)", f.log,
		f.streak, f.failures, (long long)f.wait_s);
	f = price_health_failed(&h, "Couldn't resolve host name", 420);
	CHECK(f.log && f.streak == 1, "back to the first kind: logged again as new");
}

static void test_lines(void)
{
	struct price_health h;
	char logged[64] = "";

	/* Same kind, one failure a second (no pause honoured): lines at the 1st,
	 * 2nd, 4th, 8th, ... and at least one an hour. */
	price_health_init(&h);
	for (int64_t t = 0; t < 20; t++) {
		struct price_failure f = price_health_failed(&h, "HTTP 503", t);
		if (f.log) {
			size_t k = strlen(logged);
			snprintf(logged + k, sizeof(logged) - k, "%s%u", k ? "," : "", f.streak);
		}
	}
	CHECK(strcmp(logged, "1,2,4,8,16") == 0, "lines for failures %s, want 1,2,4,8,16", logged);
	/* The 16th, the last line, came at t = 15. */
	struct price_failure f = price_health_failed(&h, "HTTP 503", 15 + PRICE_FAILURE_LINE_EVERY_S - 1);
	CHECK(!f.log, "the 21st failure, less than an hour after the last line: silent");
	f = price_health_failed(&h, "HTTP 503", 15 + PRICE_FAILURE_LINE_EVERY_S);
	CHECK(f.log && f.streak == 22, "the 22nd, an hour after the last line: logged with its count (%u)", f.streak);

	/* A very long kind is compared on what is kept of it. */
	char long_kind[200];
	memset(long_kind, 'x', sizeof(long_kind) - 1);
	long_kind[sizeof(long_kind) - 1] = '\0';
	price_health_init(&h);
	price_health_failed(&h, long_kind, 0);
	f = price_health_failed(&h, long_kind, 1);
	CHECK(f.streak == 2, "a long kind still counts as the same kind (streak %u)", f.streak);
}

/* The offline installation: every request fails at once. */
static void test_offline(void)
{
	struct price_health h;
	unsigned requests[25] = { 0 }, lines[25] = { 0 };
	int64_t now = 0;

	price_health_init(&h);
	while (now < 24 * 3600) {
		struct price_failure f = price_health_failed(&h, "Couldn't resolve host name", now);
		requests[now / 3600]++;
		lines[now / 3600] += f.log;
		now += f.wait_s;
	}
	unsigned total_r = 0, total_l = 0, most_later = 0;
	for (int i = 0; i < 24; i++) {
		total_r += requests[i];
		total_l += lines[i];
		if (i > 0 && requests[i] > most_later)
			most_later = requests[i];
	}
	printf("note: offline, simulated: first hour %u requests and %u log lines; each later hour at most %u; "
		"24 h: %u requests, %u lines\n", requests[0], lines[0], most_later,
		total_r, total_l);
	CHECK(requests[0] == 6 && lines[0] <= requests[0], "first hour: 6 requests (at 0, 1, 3, 7, 15, 31 min), got %u; %u lines",
		requests[0], lines[0]);
	CHECK(most_later <= 1, "later hours: at most one request each (%u)", most_later);
	CHECK(total_r <= 6 + 24 && total_l <= total_r, "24 h: %u requests, %u lines", total_r, total_l);
}

static void test_retry_after(void)
{
	int64_t now = 1760000000; /* 2025-10-09T08:53:20Z */

	CHECK(ra("120", now) == 120, "120");
	CHECK(ra(" 7\r\n", now) == 7, "spaces and CRLF around 7");
	CHECK(ra("\t42 ", now) == 42, "a tab before 42");
	CHECK(ra("0", now) == 0, "0");
	CHECK(ra("3600", now) == 3600 && ra("3601", now) == PRICE_RETRY_AFTER_MAX_S, "the ceiling is an hour");
	CHECK(ra("31536000000", now) == PRICE_RETRY_AFTER_MAX_S, "a thousand years: an hour (%ld)", ra("31536000000", now));
	CHECK(ra("99999999999999999999", now) == PRICE_RETRY_AFTER_MAX_S, "20 nines: an hour, no overflow");
	CHECK(ra("000000000000000000000000000000000000000005", now) == 5, "leading zeros");
	CHECK(ra("", now) == -1 && ra("  \r\n", now) == -1, "empty: absent");
	CHECK(ra("-5", now) == -1 && ra("+5", now) == -1 && ra("5s", now) == -1 && ra("1.5", now) == -1
		&& ra("5 5", now) == -1, "not delta-seconds: absent");
	CHECK(ra("99999999999999999999x", now) == -1, "digits then junk, past the ceiling: absent");
	{
		size_t n = 1000000;
		char *big = malloc(n);
		memset(big, '9', n);
		CHECK(price_retry_after_s(big, n, now) == PRICE_RETRY_AFTER_MAX_S, "a million nines: an hour");
		free(big);
	}
	/* HTTP dates (IMF-fixdate). now is Thu, 09 Oct 2025 08:53:20 GMT. */
	CHECK(ra("Thu, 09 Oct 2025 09:03:20 GMT", now) == 600, "a date 10 min ahead: 600 (%ld)",
		ra("Thu, 09 Oct 2025 09:03:20 GMT", now));
	CHECK(ra(" Thu, 09 Oct 2025 08:53:20 GMT\r\n", now) == 0, "now: 0");
	CHECK(ra("Wed, 21 Oct 2015 07:28:00 GMT", now) == 0, "a past date: 0");
	CHECK(ra("Fri, 31 Dec 9999 23:59:59 GMT", now) == PRICE_RETRY_AFTER_MAX_S, "year 9999: an hour");
	CHECK(ra("Sun, 09 Oct 2995 08:53:20 GMT", now) == PRICE_RETRY_AFTER_MAX_S, "a thousand years ahead: an hour");
	CHECK(ra("Sat, 29 Feb 2028 00:00:00 GMT", now) == PRICE_RETRY_AFTER_MAX_S, "29 February of a leap year");
	CHECK(ra("Thu, 29 Feb 2027 00:00:00 GMT", now) == -1, "29 February of another year: absent");
	CHECK(ra("Thu, 32 Oct 2025 09:03:20 GMT", now) == -1 && ra("Thu, 09 Foo 2025 09:03:20 GMT", now) == -1
		&& ra("Xyz, 09 Oct 2025 09:03:20 GMT", now) == -1 && ra("Thu, 09 Oct 2025 24:03:20 GMT", now) == -1
		&& ra("Thu, 09 Oct 2025 09:03:20 UTC", now) == -1 && ra("Thu, 09 Oct 2025 9:03:20 GMT", now) == -1,
		"impossible or other dates: absent");
	CHECK(ra("Thursday, 09-Oct-25 09:03:20 GMT", now) == -1 && ra("Thu Oct  9 09:03:20 2025", now) == -1,
		"the obsolete date forms: absent");
	/* Extreme clocks cannot overflow the difference. */
	CHECK(ra("Fri, 31 Dec 9999 23:59:59 GMT", INT64_MIN / 2) == PRICE_RETRY_AFTER_MAX_S
		&& ra("Mon, 01 Jan 0001 00:00:00 GMT", INT64_MAX) == 0 && ra("Fri, 31 Dec 9999 23:59:59 GMT", INT64_MIN) == PRICE_RETRY_AFTER_MAX_S,
		"extreme clocks");
}

static void test_repeat(void)
{
	struct price_repeat r = { 0 };
	char logged[80] = "";

	/* One occurrence a second for 3 minutes: lines at 0, 60, 120 s. */
	for (int64_t t = 0; t < 180; t++) {
		if (price_repeat_note(&r, "error 2013: Lost connection", t)) {
			size_t k = strlen(logged);
			snprintf(logged + k, sizeof(logged) - k, "%s%lld:%u", k ? "," : "", (long long)t, r.count);
		}
	}
	CHECK(strcmp(logged, "0:1,60:61,120:121") == 0, "lines at time:count %s, want 0:1,60:61,120:121", logged);
	CHECK(price_repeat_note(&r, "error 1045: Access denied", 181) && r.count == 1, "another kind: a line at once");
	CHECK(!price_repeat_note(&r, "error 1045: Access denied", 182) && r.count == 2, "then counted");
	CHECK(price_repeat_reset(&r) == 2 && r.count == 0 && r.kind[0] == '\0', "reset says how many in a row");
	CHECK(price_repeat_reset(&r) == 0, "a second reset: none");
	CHECK(price_repeat_note(&r, "error 1045: Access denied", 183), "after a reset the same kind gets a line");
}

static void test_duration(void)
{
	char b[32];
	static const struct { int64_t s; const char *want; } cases[] = {
		{ 0, "0 s" }, { 45, "45 s" }, { 60, "1 min" }, { 90, "90 s" }, { 1920, "32 min" },
		{ 3600, "1 h" }, { 5400, "1 h 30 min" }, { 7200, "2 h" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		price_duration_text(cases[i].s, b, sizeof(b));
		CHECK(strcmp(b, cases[i].want) == 0, "%lld s: \"%s\", want \"%s\"", (long long)cases[i].s, b, cases[i].want);
	}
}

int main(void)
{
	test_backoff();
	test_lines();
	test_offline();
	test_retry_after();
	test_repeat();
	test_duration();
	return check_finish("price_retry");
}
