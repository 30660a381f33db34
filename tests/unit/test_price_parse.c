/*
 * Unit test of the day-ahead price parsers (price-worker/price_parse.c).
 *
 * Every body is handed to the parser as a heap block of exactly its length
 * (no NUL after it), so AddressSanitizer catches any read past `len`.
 *
 * Usage: test_price_parse [CORPUS_DIR]
 *   With CORPUS_DIR (tests/corpus; default LOWI_CORPUS_DIR when compiled
 *   with it), also parses every file listed in elia/README and
 *   energy-charts/README and checks the listed status, count and rejected
 *   count, and that each README lists every file of its directory.
 */
#include "price_market.h"
#include "price_parse.h"

#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* ---- calendar helpers (independent of the code under test) ------------- */

static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

static int64_t utc(int y, int mo, int d, int h, int mi)
{
	return days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60;
}

/* 01:00 UTC on the last Sunday of a month (EU summer-time switch). */
static int64_t last_sunday_0100(int y, int m)
{
	int64_t last = days_from_civil(y, m, 31);
	int64_t wd = ((last % 7) + 7 + 4) % 7; /* 1970-01-01 was a Thursday; 0 = Sunday */
	return (last - wd) * 86400 + 3600;
}

static int64_t brussels_midnight(int y, int m, int d)
{
	int64_t t = days_from_civil(y, m, d) * 86400;
	bool summer = t > last_sunday_0100(y, 3) && t < last_sunday_0100(y, 10);
	return t - (summer ? 7200 : 3600);
}

struct day {
	int y, m, d;
	int64_t start, end;
};

static struct day day_of(int y, int m, int d)
{
	struct day r = { y, m, d, brussels_midnight(y, m, d), 0 };
	int64_t next = days_from_civil(y, m, d) + 1;
	/* the next civil day: convert back through a date-free route */
	int64_t t = next * 86400;
	bool summer = t > last_sunday_0100(y, 3) && t < last_sunday_0100(y, 10);
	r.end = t - (summer ? 7200 : 3600);
	return r;
}

static void iso(int64_t t, char *buf, size_t size)
{
	int64_t z = t / 86400 + 719468, sod = t % 86400;
	int64_t era = z / 146097, doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
	int d = (int)(doy - (153 * mp + 2) / 5 + 1), m = (int)(mp < 10 ? mp + 3 : mp - 9);
	int64_t y = yoe + era * 400 + (m <= 2);
	snprintf(buf, size, "%04d-%02u-%02uT%02u:%02u:%02uZ", (int)(y % 10000), (unsigned)m % 13u,
		(unsigned)d % 32u, (unsigned)(sod / 3600) % 24u, (unsigned)(sod / 60 % 60) % 60u,
		(unsigned)(sod % 60) % 60u);
}

/* The civil day of a day number (days since 1970-01-01). */
static struct day day_numbered(int64_t n)
{
	char buf[32];
	int y, m, d;
	iso(n * 86400, buf, sizeof(buf));
	sscanf(buf, "%d-%d-%d", &y, &m, &d);
	return day_of(y, m, d);
}

/* ---- body builder ------------------------------------------------------- */

struct sb {
	char *s;
	size_t n, cap;
};

__attribute__((format(printf, 2, 3)))
static void sb_printf(struct sb *b, const char *fmt, ...)
{
	va_list ap;
	int k;

	for (;;) {
		va_start(ap, fmt);
		k = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
		va_end(ap);
		if (b->s && (size_t)k < b->cap - b->n)
			break;
		b->cap = (b->cap + (size_t)k + 1) * 2;
		b->s = realloc(b->s, b->cap);
		if (!b->s) {
			perror("realloc");
			exit(2);
		}
	}
	b->n += (size_t)k;
}

static double test_price(int i)
{
	return 40.0 + i * 1.25 - (i % 7 == 3 ? 90.0 : 0.0); /* some negatives */
}

/* Elia array for a day: one visible entry per period. */
static struct sb elia_day(struct day d, int period)
{
	struct sb b = { 0 };
	char t[40];
	int i = 0;

	sb_printf(&b, "[");
	for (int64_t s = d.start; s < d.end; s += period, i++) {
		iso(s, t, sizeof t);
		sb_printf(&b, "%s{\"dateTime\":\"%s\",\"price\":%.2f,\"isVisible\":true}", i ? "," : "", t,
			test_price(i));
	}
	sb_printf(&b, "]");
	return b;
}

/* Energy-Charts object for [from, to) with a period. */
static struct sb ec_range(int64_t from, int64_t to, int period)
{
	struct sb b = { 0 };
	int i = 0;

	sb_printf(&b, "{\"license_info\":\"CC BY 4.0\",\"unix_seconds\":[");
	for (int64_t s = from; s < to; s += period, i++)
		sb_printf(&b, "%s%lld", i ? "," : "", (long long)s);
	sb_printf(&b, "],\"price\":[");
	i = 0;
	for (int64_t s = from; s < to; s += period, i++)
		sb_printf(&b, "%s%.2f", i ? "," : "", test_price(i));
	sb_printf(&b, "],\"unit\":\"EUR / MWh\",\"deprecated\":false}");
	return b;
}

/* ---- parse wrappers on exact-length heap copies ------------------------- */

static char *copy_of(const char *body, size_t len)
{
	char *c = malloc(len ? len : 1);
	if (!c) {
		perror("malloc");
		exit(2);
	}
	if (len)
		memcpy(c, body, len);
	return c;
}

static bool well_formed(enum price_parse_status st, const struct price_parse_result *r,
	int64_t day_start, int64_t day_end)
{
	if (!memchr(r->reason, '\0', sizeof r->reason))
		return false;
	if (st == PRICE_PARSE_MALFORMED)
		return !r->points && r->count == 0 && r->reason[0];
	if (st == PRICE_PARSE_NOT_YET)
		return !r->points && r->count == 0 && r->reason[0];
	if (st != PRICE_PARSE_OK || (r->count && !r->points) || (!r->count && r->points))
		return false;
	if ((r->rejected != 0) != (r->reason[0] != '\0'))
		return false;
	for (size_t i = 0; i < r->count; i++) {
		const struct price_point *p = &r->points[i];
		if (p->period_s != 900 && p->period_s != 3600)
			return false;
		if (p->start_s < day_start || p->start_s >= day_end || p->start_s % p->period_s)
			return false;
		if (!(p->price_eur_mwh >= PRICE_MIN_EUR_MWH && p->price_eur_mwh <= PRICE_MAX_EUR_MWH))
			return false;
		if (i && p->start_s <= r->points[i - 1].start_s)
			return false;
	}
	return true;
}

static enum price_parse_status elia_n(const char *body, size_t len, int period, struct day d,
	struct price_parse_result *r)
{
	char *c = copy_of(body, len);
	enum price_parse_status st = price_parse_elia(c, len, period, d.start, d.end, r);
	free(c);
	CHECK(well_formed(st, r, d.start, d.end), "elia result well formed (status %s, reason \"%s\")",
		price_parse_status_name(st), r->reason);
	return st;
}

static enum price_parse_status elia(const char *body, int period, struct day d, struct price_parse_result *r)
{
	return elia_n(body, strlen(body), period, d, r);
}

static enum price_parse_status ec_n(const char *body, size_t len, struct day d, struct price_parse_result *r)
{
	char *c = copy_of(body, len);
	enum price_parse_status st = price_parse_energy_charts(c, len, d.start, d.end, r);
	free(c);
	CHECK(well_formed(st, r, d.start, d.end), "energy-charts result well formed (status %s, reason \"%s\")",
		price_parse_status_name(st), r->reason);
	return st;
}

static enum price_parse_status ec(const char *body, struct day d, struct price_parse_result *r)
{
	return ec_n(body, strlen(body), d, r);
}

/* Parses a whole generated day and checks count, period, bounds, prices. */
static void expect_full_elia_day(struct day d, int period, size_t want)
{
	struct price_parse_result r = { 0 };
	struct sb b = elia_day(d, period);
	enum price_parse_status st = elia(b.s, period, d, &r);

	CHECK(st == PRICE_PARSE_OK && r.count == want && r.rejected == 0,
		"elia %04d-%02d-%02d period %d: status %s count %zu rejected %zu, want %zu (%s)", d.y, d.m, d.d,
		period, price_parse_status_name(st), r.count, r.rejected, want, r.reason);
	if (r.count == want && want) {
		bool ok = r.points[0].start_s == d.start && r.points[want - 1].start_s == d.end - period;
		for (size_t i = 0; i < want; i++)
			ok = ok && r.points[i].period_s == period &&
			     fabs(r.points[i].price_eur_mwh - test_price((int)i)) < 1e-9;
		CHECK(ok, "elia %04d-%02d-%02d period %d: points cover the day with the given prices", d.y, d.m,
			d.d, period);
	}
	price_parse_result_free(&r);
	free(b.s);
}

static void expect_full_ec_day(struct day d, int period, size_t want, int64_t from, int64_t to)
{
	struct price_parse_result r = { 0 };
	struct sb b = ec_range(from, to, period);
	enum price_parse_status st = ec(b.s, d, &r);

	CHECK(st == PRICE_PARSE_OK && r.count == want && r.rejected == 0,
		"energy-charts %04d-%02d-%02d: status %s count %zu rejected %zu, want %zu (%s)", d.y, d.m, d.d,
		price_parse_status_name(st), r.count, r.rejected, want, r.reason);
	if (r.count == want && want)
		CHECK(r.points[0].start_s == d.start && r.points[want - 1].start_s == d.end - period &&
		      r.points[0].period_s == period,
			"energy-charts %04d-%02d-%02d: points cover the day, period %d", d.y, d.m, d.d, period);
	price_parse_result_free(&r);
	free(b.s);
}

/* ---- the cases ----------------------------------------------------------- */

static void test_days(void)
{
	CHECK(day_of(2025, 1, 15).end - day_of(2025, 1, 15).start == 86400, "helper: normal day");
	CHECK(day_of(2025, 3, 30).end - day_of(2025, 3, 30).start == 23 * 3600, "helper: 23 h day");
	CHECK(day_of(2025, 10, 26).end - day_of(2025, 10, 26).start == 25 * 3600, "helper: 25 h day");
	CHECK(day_of(2025, 1, 15).start == utc(2025, 1, 14, 23, 0), "helper: winter midnight");
	CHECK(day_of(2025, 7, 1).start == utc(2025, 6, 30, 22, 0), "helper: summer midnight");

	expect_full_elia_day(day_of(2025, 1, 15), 3600, 24);
	expect_full_elia_day(day_of(2025, 11, 15), 900, 96);
	expect_full_elia_day(day_of(2025, 3, 30), 3600, 23);
	expect_full_elia_day(day_of(2025, 3, 30), 900, 92);
	expect_full_elia_day(day_of(2025, 10, 26), 900, 100);
	expect_full_elia_day(day_of(2025, 10, 26), 3600, 25);
	expect_full_elia_day(day_of(2026, 3, 29), 900, 92);
	expect_full_elia_day(day_of(2026, 3, 29), 3600, 23);
	expect_full_elia_day(day_of(2026, 10, 25), 900, 100);
	expect_full_elia_day(day_of(2026, 10, 25), 3600, 25);
	expect_full_elia_day(day_of(2024, 2, 29), 3600, 24);
}

static void test_elia_not_yet(void)
{
	struct price_parse_result r = { 0 };
	struct day d = day_of(2025, 1, 15);

	CHECK(elia("[]", 3600, d, &r) == PRICE_PARSE_NOT_YET, "empty array is not-yet (%s)", r.reason);
	CHECK(elia(" [ ]\n", 900, d, &r) == PRICE_PARSE_NOT_YET, "blank-padded empty array is not-yet");
	CHECK(elia("[{\"dateTime\":\"2025-01-14T23:00:00Z\",\"price\":null,\"isVisible\":false},"
		   "{\"dateTime\":\"2025-01-15T00:00:00Z\",\"price\":null,\"isVisible\":false}]", 3600, d, &r) ==
		      PRICE_PARSE_NOT_YET && r.rejected == 0,
		"only hidden entries is not-yet (%s)", r.reason);
	price_parse_result_free(&r);
}

static void test_elia_filters(void)
{
	struct price_parse_result r = { 0 };
	struct day d = day_of(2025, 1, 15);
	enum price_parse_status st;

	st = elia("[{\"dateTime\":\"2025-01-14T23:00:00Z\",\"price\":10.5,\"isVisible\":true},"
		  "{\"dateTime\":\"2025-01-15T00:00:00Z\",\"price\":11,\"isVisible\":false},"
		  "{\"dateTime\":\"2025-01-15T01:00:00Z\",\"price\":-12.25,\"isVisible\":true,\"extra\":[1,{}]}]",
		3600, d, &r);
	CHECK(st == PRICE_PARSE_OK && r.count == 2 && r.rejected == 0 && r.reason[0] == '\0',
		"isVisible false is skipped, not rejected: %zu/%zu %s", r.count, r.rejected, r.reason);
	CHECK(r.count == 2 && r.points[0].price_eur_mwh == 10.5 && r.points[1].price_eur_mwh == -12.25 &&
	      r.points[1].start_s == utc(2025, 1, 15, 1, 0),
		"visible entries kept, negative price kept, unknown fields ignored");
	price_parse_result_free(&r);

	/* nulls */
	st = elia("[{\"dateTime\":\"2025-01-14T23:00:00Z\",\"price\":1,\"isVisible\":true},"
		  "{\"dateTime\":\"2025-01-15T00:00:00Z\",\"price\":null,\"isVisible\":true},"
		  "{\"dateTime\":\"2025-01-15T01:00:00Z\",\"price\":3,\"isVisible\":true},"
		  "{\"dateTime\":\"2025-01-15T02:00:00Z\",\"isVisible\":true}]", 3600, d, &r);
	CHECK(st == PRICE_PARSE_OK && r.count == 2 && r.rejected == 2, "null and missing prices are rejected");
	CHECK(strcmp(r.reason, "entry 1: price is null") == 0, "reason names the first: \"%s\"", r.reason);
	price_parse_result_free(&r);

	/* wrong types */
	st = elia("[\"x\",7,null,[1,2],"
		  "{\"dateTime\":\"2025-01-14T23:00:00Z\",\"price\":\"41.88\",\"isVisible\":true},"
		  "{\"dateTime\":1736895600,\"price\":2,\"isVisible\":true},"
		  "{\"dateTime\":\"2025-01-15T01:00:00Z\",\"price\":3,\"isVisible\":\"true\"},"
		  "{\"dateTime\":\"2025-01-15T02:00:00Z\",\"price\":4},"
		  "{\"price\":5,\"isVisible\":true},"
		  "{\"dateTime\":\"2025-01-15T03:00:00Z\",\"price\":true,\"isVisible\":true},"
		  "{\"dateTime\":\"2025-01-15T04:00:00Z\",\"price\":{},\"isVisible\":true},"
		  "{\"dateTime\":\"2025-01-15T05:00:00Z\",\"price\":6,\"isVisible\":1},"
		  "{\"dateTime\":\"2025-01-15T06:00:00Z\",\"price\":7,\"isVisible\":true}]", 3600, d, &r);
	CHECK(st == PRICE_PARSE_OK && r.count == 1 && r.rejected == 12,
		"wrong types are rejected entries, the good one stays: %zu/%zu", r.count, r.rejected);
	CHECK(strstr(r.reason, "entry 0:") == r.reason && strstr(r.reason, "a string"), "reason: \"%s\"", r.reason);
	CHECK(r.count == 1 && r.points[0].price_eur_mwh == 7 && r.points[0].start_s == utc(2025, 1, 15, 6, 0),
		"the valid entry survives");
	price_parse_result_free(&r);

	/* every entry rejected: ok, nothing usable */
	st = elia("[{\"dateTime\":\"2025-01-14T23:00:00Z\",\"price\":null,\"isVisible\":true}]", 3600, d, &r);
	CHECK(st == PRICE_PARSE_OK && r.count == 0 && r.rejected == 1 && !r.points,
		"all rejected: ok with count 0 and rejected 1 (%s)", r.reason);
	price_parse_result_free(&r);

	/* out of range; limits are inclusive */
	st = elia("[{\"dateTime\":\"2025-01-14T23:00:00Z\",\"price\":10000,\"isVisible\":true},"
		  "{\"dateTime\":\"2025-01-15T00:00:00Z\",\"price\":-1000,\"isVisible\":true},"
		  "{\"dateTime\":\"2025-01-15T01:00:00Z\",\"price\":10000.01,\"isVisible\":true},"
		  "{\"dateTime\":\"2025-01-15T02:00:00Z\",\"price\":-1000.5,\"isVisible\":true},"
		  "{\"dateTime\":\"2025-01-15T03:00:00Z\",\"price\":1e300,\"isVisible\":true},"
		  "{\"dateTime\":\"2025-01-15T04:00:00Z\",\"price\":-500,\"isVisible\":true}]", 3600, d, &r);
	CHECK(st == PRICE_PARSE_OK && r.count == 3 && r.rejected == 3, "out-of-range prices rejected: %zu/%zu",
		r.count, r.rejected);
	CHECK(strstr(r.reason, "entry 2: price 10000.01") == r.reason, "reason: \"%s\"", r.reason);
	price_parse_result_free(&r);
}

static void test_elia_times(void)
{
	struct price_parse_result r = { 0 };
	struct day d = day_of(2025, 1, 15), q = day_of(2025, 11, 15);
	enum price_parse_status st;

	/* accepted spellings of the same instants */
	st = elia("[{\"dateTime\":\"2025-01-14T23:00:00.000Z\",\"price\":1,\"isVisible\":true},"
		  "{\"dateTime\":\"2025-01-15T00:00:00+00:00\",\"price\":2,\"isVisible\":true},"
		  "{\"dateTime\":\"2025-01-15T02:00:00+01:00\",\"price\":3,\"isVisible\":true},"
		  "{\"dateTime\":\"2025-01-14T21:00:00-05:00\",\"price\":4,\"isVisible\":true}]", 3600, d, &r);
	CHECK(st == PRICE_PARSE_OK && r.count == 4 && r.rejected == 0, "fraction and offsets accepted (%s)",
		r.reason);
	CHECK(r.count == 4 && r.points[2].start_s == utc(2025, 1, 15, 1, 0) && r.points[3].start_s == utc(2025, 1, 15, 2, 0),
		"offsets converted to UTC");
	price_parse_result_free(&r);

	/* misaligned or impossible times */
	static const char *const bad[] = {
		"2025-01-14T23:30:00Z", "2025-01-15T00:00:01Z", "2025-01-15T00:00:00.5Z", "2025-02-30T00:00:00Z",
		"2025-01-15T24:00:00Z", "2025-01-15T00:60:00Z", "2025-01-15T00:00:60Z", "2025-13-01T00:00:00Z",
		"2025-01-15T00:00:00", "2025-01-15 00:00:00Z", "2025-01-15T00:00:00Zjunk", "2025-1-15T00:00:00Z",
		"", "2025-01-15T00:00:00.Z", "2025-01-15T00:00:00+1:00", "2025-01-15", "+025-01-15T00:00:00Z",
		"2023-02-29T00:00:00Z",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		char body[200];
		snprintf(body, sizeof body, "[{\"dateTime\":\"%s\",\"price\":1,\"isVisible\":true}]", bad[i]);
		st = elia(body, 3600, d, &r);
		CHECK(st == PRICE_PARSE_OK && r.count == 0 && r.rejected == 1, "dateTime \"%s\" rejected (%s)", bad[i],
			r.reason);
		price_parse_result_free(&r);
	}

	st = elia("[{\"dateTime\":\"2025-01-15T00:00:00\",\"price\":1,\"isVisible\":true}]", 3600, d, &r);
	CHECK(strstr(r.reason, "no time zone"), "a time without zone is named so: \"%s\"", r.reason);
	price_parse_result_free(&r);

	/* quarter alignment */
	st = elia("[{\"dateTime\":\"2025-11-14T23:15:00Z\",\"price\":1,\"isVisible\":true},"
		  "{\"dateTime\":\"2025-11-14T23:20:00Z\",\"price\":2,\"isVisible\":true}]", 900, q, &r);
	CHECK(st == PRICE_PARSE_OK && r.count == 1 && r.rejected == 1 && strstr(r.reason, "900 s boundary"),
		"quarter at :20 rejected (%s)", r.reason);
	price_parse_result_free(&r);
	st = elia("[{\"dateTime\":\"2025-11-14T23:15:00Z\",\"price\":1,\"isVisible\":true}]", 3600, q, &r);
	CHECK(st == PRICE_PARSE_OK && r.count == 0 && r.rejected == 1, "quarter start in an hourly answer rejected");
	price_parse_result_free(&r);

	/* outside the day */
	st = elia("[{\"dateTime\":\"2025-01-14T22:00:00Z\",\"price\":1,\"isVisible\":true},"
		  "{\"dateTime\":\"2025-01-14T23:00:00Z\",\"price\":2,\"isVisible\":true},"
		  "{\"dateTime\":\"2025-01-15T23:00:00Z\",\"price\":3,\"isVisible\":true}]", 3600, d, &r);
	CHECK(st == PRICE_PARSE_OK && r.count == 1 && r.rejected == 2 && strstr(r.reason, "outside the day"),
		"points outside the day rejected (%s)", r.reason);
	price_parse_result_free(&r);

	/* duplicate times: the first entry wins even when sorting would put it later */
	st = elia("[{\"dateTime\":\"2025-01-15T01:00:00Z\",\"price\":1,\"isVisible\":true},"
		  "{\"dateTime\":\"2025-01-15T00:00:00Z\",\"price\":2,\"isVisible\":true},"
		  "{\"dateTime\":\"2025-01-15T01:00:00Z\",\"price\":3,\"isVisible\":true},"
		  "{\"dateTime\":\"2025-01-15T01:00:00.000Z\",\"price\":4,\"isVisible\":true}]", 3600, d, &r);
	CHECK(st == PRICE_PARSE_OK && r.count == 2 && r.rejected == 2, "duplicates rejected: %zu/%zu", r.count,
		r.rejected);
	CHECK(r.count == 2 && r.points[0].price_eur_mwh == 2 && r.points[1].price_eur_mwh == 1,
		"sorted by time, first of the duplicates kept");
	CHECK(strstr(r.reason, "entry 2: duplicate time 2025-01-15T01:00:00Z (first given by entry 0)") == r.reason,
		"reason: \"%s\"", r.reason);
	price_parse_result_free(&r);
}

static void test_elia_malformed(void)
{
	struct price_parse_result r = { 0 };
	struct day d = day_of(2025, 1, 15);
	static const char *const bad[] = {
		"", " ", "{}", "{\"dateTime\":\"2025-01-14T23:00:00Z\",\"price\":1,\"isVisible\":true}", "null",
		"\"[]\"", "42", "[", "]", "[{]", "[1,]", "<html>502</html>", "[]]", "[] []", "\xef\xbb\xbf[]",
		"[{\"dateTime\":\"2025-01-14T23:00:00Z\",\"price\":1,\"price\":2,\"isVisible\":true}]",
		"[{\"dateTime\":\"2025-01-14T23:00:00Z\",\"price\":1e400,\"isVisible\":true}]",
		"[{\"dateTime\":\"2025-01-14T23:00:00Z\",\"price\":NaN,\"isVisible\":true}]",
		"[{\"dateTime\":\"2025-01-14T23:00:00Z\",\"price\":99999999999999999999,\"isVisible\":true}]",
		"[{\"dateTime\":\"\xff\xfe\",\"price\":1,\"isVisible\":true}]",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		enum price_parse_status st = elia(bad[i], 3600, d, &r);
		CHECK(st == PRICE_PARSE_MALFORMED, "body %zu (\"%.30s\") is malformed, got %s (%s)", i, bad[i],
			price_parse_status_name(st), r.reason);
		price_parse_result_free(&r);
	}
	CHECK(elia("{}", 3600, d, &r) == PRICE_PARSE_MALFORMED && strstr(r.reason, "expected an array"),
		"reason says what the top level should be: \"%s\"", r.reason);
	CHECK(elia("[{\"price\":1,\"price\":2}]", 3600, d, &r) == PRICE_PARSE_MALFORMED && strstr(r.reason, "duplicate"),
		"duplicate keys named: \"%s\"", r.reason);

	/* embedded NUL: the body is binary, not a C string */
	static const char nul[] = "[]\0garbage";
	CHECK(elia_n(nul, sizeof nul - 1, 3600, d, &r) == PRICE_PARSE_MALFORMED, "NUL then garbage is malformed");
	CHECK(elia_n("[]", 2, 3600, d, &r) == PRICE_PARSE_NOT_YET, "length, not NUL, ends the body");
	CHECK(price_parse_elia(NULL, 0, 3600, d.start, d.end, &r) == PRICE_PARSE_MALFORMED && !r.points,
		"NULL body of length 0 is malformed, no crash");

	/* caller mistakes */
	CHECK(elia("[]", 1800, d, &r) == PRICE_PARSE_MALFORMED && strstr(r.reason, "period"), "period 1800 refused");
	struct day backwards = { 2025, 1, 15, d.end, d.start };
	CHECK(elia("[]", 3600, backwards, &r) == PRICE_PARSE_MALFORMED, "inverted day refused");
	price_parse_result_free(&r);

	/* deep nesting stays an error, not a stack overflow */
	size_t depth = 100000;
	char *deep = malloc(depth);
	memset(deep, '[', depth);
	CHECK(elia_n(deep, depth, 3600, d, &r) == PRICE_PARSE_MALFORMED, "100000 '[' is malformed");
	free(deep);
	price_parse_result_free(&r);
}

static void test_truncation(void)
{
	struct price_parse_result r = { 0 };
	struct day d = day_of(2025, 10, 26);
	struct sb e = elia_day(d, 900);
	struct sb c = ec_range(d.start - 3600, d.end + 3600, 900);
	size_t bad_e = 0, bad_c = 0;

	for (size_t n = 0; n < e.n; n++) {
		char *cp = copy_of(e.s, n);
		enum price_parse_status st = price_parse_elia(cp, n, 900, d.start, d.end, &r);
		bad_e += st != PRICE_PARSE_MALFORMED || r.points || r.count || !r.reason[0];
		price_parse_result_free(&r);
		free(cp);
	}
	CHECK(bad_e == 0, "every proper prefix of an Elia body (%zu) is malformed: %zu were not", e.n, bad_e);
	for (size_t n = 0; n < c.n; n++) {
		char *cp = copy_of(c.s, n);
		enum price_parse_status st = price_parse_energy_charts(cp, n, d.start, d.end, &r);
		bad_c += st != PRICE_PARSE_MALFORMED || r.points || r.count || !r.reason[0];
		price_parse_result_free(&r);
		free(cp);
	}
	CHECK(bad_c == 0, "every proper prefix of an Energy-Charts body (%zu) is malformed: %zu were not", c.n, bad_c);
	CHECK(elia_n(e.s, e.n, 900, d, &r) == PRICE_PARSE_OK && r.count == 100, "the whole Elia body parses");
	price_parse_result_free(&r);
	CHECK(ec_n(c.s, c.n, d, &r) == PRICE_PARSE_OK && r.count == 100 && r.rejected == 0,
		"the whole Energy-Charts body parses");
	price_parse_result_free(&r);
	free(e.s);
	free(c.s);
}

static void test_energy_charts(void)
{
	struct price_parse_result r = { 0 };
	struct day d = day_of(2025, 10, 26);
	enum price_parse_status st;

	/* multi-day answers, quarter and hourly, DST days */
	expect_full_ec_day(d, 900, 100, day_of(2025, 10, 25).start, day_of(2025, 10, 27).end);
	expect_full_ec_day(day_of(2025, 10, 25), 900, 96, day_of(2025, 10, 25).start, day_of(2025, 10, 27).end);
	expect_full_ec_day(day_of(2025, 10, 27), 900, 96, day_of(2025, 10, 25).start, day_of(2025, 10, 27).end);
	expect_full_ec_day(day_of(2026, 3, 29), 900, 92, day_of(2026, 3, 28).start, day_of(2026, 3, 30).end);
	expect_full_ec_day(day_of(2026, 10, 25), 900, 100, day_of(2026, 10, 25).start, day_of(2026, 10, 25).end);
	expect_full_ec_day(day_of(2025, 3, 30), 3600, 23, day_of(2025, 3, 29).start, day_of(2025, 3, 31).end);
	expect_full_ec_day(day_of(2024, 10, 27), 3600, 25, day_of(2024, 10, 27).start, day_of(2024, 10, 27).end);

	/* a range across the switch to quarters: each day gets its own period */
	{
		struct day h = day_numbered(PRICE_QUARTER_HOUR_FIRST_DAY - 1), qd = day_numbered(PRICE_QUARTER_HOUR_FIRST_DAY);
		struct sb a = ec_range(h.start, h.end, 3600), b = ec_range(qd.start, qd.end, 900);
		struct sb m = { 0 };
		/* splice: hourly times then quarter times, hourly prices then quarter prices */
		const char *at = strstr(a.s, "\"unix_seconds\":[") + 16, *ae = strstr(at, "]");
		const char *bt = strstr(b.s, "\"unix_seconds\":[") + 16, *be = strstr(bt, "]");
		const char *ap = strstr(a.s, "\"price\":[") + 9, *ape = strstr(ap, "]");
		const char *bp = strstr(b.s, "\"price\":[") + 9, *bpe = strstr(bp, "]");
		sb_printf(&m, "{\"unix_seconds\":[%.*s,%.*s],\"price\":[%.*s,%.*s]}", (int)(ae - at), at, (int)(be - bt),
			bt, (int)(ape - ap), ap, (int)(bpe - bp), bp);
		st = ec(m.s, h, &r);
		CHECK(st == PRICE_PARSE_OK && r.count == 24 && r.points[0].period_s == 3600, "switch range: last hourly day (%zu, %s)",
			r.count, r.reason);
		price_parse_result_free(&r);
		st = ec(m.s, qd, &r);
		CHECK(st == PRICE_PARSE_OK && r.count == 96 && r.points[0].period_s == 900, "switch range: first quarter day (%zu, %s)",
			r.count, r.reason);
		price_parse_result_free(&r);
		/* both days in one call: each point keeps its own period */
		struct day both = { 2025, 9, 30, h.start, qd.end };
		st = ec(m.s, both, &r);
		bool periods_ok = st == PRICE_PARSE_OK && r.count == 120;
		for (size_t i = 0; periods_ok && i < r.count; i++)
			periods_ok = r.points[i].period_s == (i < 24 ? 3600 : 900) &&
			             r.points[i].start_s == (i < 24 ? h.start + (int64_t)i * 3600 : qd.start + (int64_t)(i - 24) * 900);
		CHECK(periods_ok, "switch range in one call: 24 hourly then 96 quarter points (%zu, %s)", r.count, r.reason);
		price_parse_result_free(&r);
		free(a.s);
		free(b.s);
		free(m.s);
	}

	/* a three-day range in one call */
	{
		struct day a = day_of(2025, 10, 25), z = day_of(2025, 10, 27);
		struct day range = { 2025, 10, 25, a.start, z.end };
		expect_full_ec_day(range, 900, 96 + 100 + 96, a.start, z.end);
		struct day too_long = { 2025, 10, 25, a.start, a.start + PRICE_PARSE_MAX_RANGE_S + 1 };
		CHECK(ec("{\"unix_seconds\":[],\"price\":[]}", too_long, &r) == PRICE_PARSE_MALFORMED,
			"a range longer than PRICE_PARSE_MAX_RANGE_S is refused");
		price_parse_result_free(&r);
		struct sb e = elia_day(a, 900);
		CHECK(elia(e.s, 900, range, &r) == PRICE_PARSE_OK && r.count == 96, "Elia accepts a multi-day range too");
		price_parse_result_free(&r);
		free(e.s);
	}

	/* quarters with three missing: the quarters on both sides of the gap stay quarters */
	st = ec("{\"unix_seconds\":[1761429600,1761430500,1761434100,1761435000],\"price\":[1,2,3,4]}", d, &r);
	CHECK(st == PRICE_PARSE_OK && r.count == 4 && r.points[1].period_s == 900 && r.points[2].period_s == 900,
		"quarters around a gap of three stay 900 s (%d %d)", r.count == 4 ? r.points[1].period_s : 0,
		r.count == 4 ? r.points[2].period_s : 0);
	price_parse_result_free(&r);

	/* not yet */
	static const char *const not_yet[] = {
		"No data for the requested period.", "no data", "  \r\nNO DATA available\n",
		"{\"license_info\":\"x\",\"unix_seconds\":[],\"price\":[],\"unit\":\"EUR / MWh\",\"deprecated\":false}",
		"{\"unix_seconds\":[1761346800,1761347700],\"price\":[1,2]}", /* only 2025-10-25 */
	};
	for (size_t i = 0; i < sizeof not_yet / sizeof *not_yet; i++) {
		st = ec(not_yet[i], d, &r);
		CHECK(st == PRICE_PARSE_NOT_YET, "energy-charts body %zu is not-yet, got %s (%s)", i,
			price_parse_status_name(st), r.reason);
		price_parse_result_free(&r);
	}

	/* malformed */
	static const char *const bad[] = {
		"", "   ", "Internal Server Error", "<html><body>Bad Gateway</body></html>", "[]", "[1,2]", "null",
		"{}", "{\"unix_seconds\":[1761429600]}", "{\"price\":[1]}",
		"{\"unix_seconds\":[1761429600,1761430500],\"price\":[1]}",
		"{\"unix_seconds\":{},\"price\":[]}", "{\"unix_seconds\":[],\"price\":\"x\"}",
		"{\"unix_seconds\":[1761429600,1761430500],\"price\":[1,2],\"unit\":\"EUR / kWh\"}",
		"{\"unix_seconds\":[1761429600,1761430500],\"price\":[1,2],\"unit\":7}",
		"{\"unix_seconds\":[1761429600,1761429900,1761430200],\"price\":[1,2,3]}",
		"{\"unix_seconds\":[1761429600],\"price\":[1]}",
		"{\"unix_seconds\":[1761429600,1761430500],\"price\":[1,2],\"price\":[3,4]}",
		"{\"detail\":\"Not Found\"}", "{\"unix_seconds\":[1761429600,1761430500],\"price\":[1,2]",
		"\"no data\" as a JSON string is text to this parser",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		st = ec(bad[i], d, &r);
		bool want_not_yet = strstr(bad[i], "no data") && bad[i][0] == '"';
		CHECK(want_not_yet ? st == PRICE_PARSE_NOT_YET : st == PRICE_PARSE_MALFORMED,
			"energy-charts body %zu (\"%.40s\") gives %s (%s)", i, bad[i], price_parse_status_name(st), r.reason);
		price_parse_result_free(&r);
	}
	CHECK(ec("{\"unix_seconds\":[1,2],\"price\":[1]}", d, &r) == PRICE_PARSE_MALFORMED &&
	      strcmp(r.reason, "unix_seconds has 2 entries but price has 1") == 0, "unequal arrays named: \"%s\"", r.reason);

	/* entries: nulls, wrong types, range, alignment, duplicates, negatives */
	st = ec("{\"unix_seconds\":[1761429600,1761430500,1761431400,1761432300,\"1761433200\",1761434100,"
		"1761435000,1761435000,1761435960,1761437700,1761438600,1761439500],"
		"\"price\":[-45.5,null,\"3\",true,5,10000.5,7,8,9,-1000,-1000.01,12],\"unit\":\"EUR / MWh\"}", d, &r);
	CHECK(st == PRICE_PARSE_OK && r.count == 4 && r.rejected == 8, "energy-charts entries: %zu kept, %zu rejected (%s)",
		r.count, r.rejected, r.reason);
	CHECK(strcmp(r.reason, "entry 1: price is null") == 0, "first rejected named: \"%s\"", r.reason);
	CHECK(r.count == 4 && r.points[0].price_eur_mwh == -45.5 && r.points[0].start_s == d.start &&
	      r.points[1].price_eur_mwh == 7 && r.points[2].price_eur_mwh == -1000 && r.points[3].price_eur_mwh == 12,
		"negative prices kept, duplicate keeps the first");
	price_parse_result_free(&r);

	/* every entry null: ok, nothing usable */
	st = ec("{\"unix_seconds\":[1761429600,1761430500],\"price\":[null,null]}", d, &r);
	CHECK(st == PRICE_PARSE_OK && r.count == 0 && r.rejected == 2, "all-null day: ok, count 0, rejected 2");
	price_parse_result_free(&r);

	/* hourly with a gap of two hours still infers 3600 */
	st = ec("{\"unix_seconds\":[1761429600,1761433200,1761440400,1761444000],\"price\":[1,2,3,4]}", d, &r);
	CHECK(st == PRICE_PARSE_OK && r.count == 4 && r.points[0].period_s == 3600, "hourly with a gap: period 3600");
	price_parse_result_free(&r);

	/* huge integers do not overflow anything */
	st = ec("{\"unix_seconds\":[-9223372036854775807,9223372036854775807,1761429600,1761430500],"
		"\"price\":[1,2,3,4]}", d, &r);
	CHECK(st == PRICE_PARSE_OK && r.count == 2, "extreme timestamps ignored as other days (%s)", r.reason);
	price_parse_result_free(&r);
}

static void test_free(void)
{
	struct price_parse_result r = { 0 };
	struct day d = day_of(2025, 1, 15);
	struct sb b = elia_day(d, 3600);

	price_parse_result_free(&r);
	price_parse_result_free(NULL);
	elia(b.s, 3600, d, &r);
	price_parse_result_free(&r);
	CHECK(!r.points && r.count == 0 && r.rejected == 0, "free resets the result");
	price_parse_result_free(&r);
	CHECK(strcmp(price_parse_status_name(PRICE_PARSE_OK), "ok") == 0 &&
	      strcmp(price_parse_status_name(PRICE_PARSE_NOT_YET), "not-yet") == 0 &&
	      strcmp(price_parse_status_name(PRICE_PARSE_MALFORMED), "malformed") == 0, "status names");
	free(b.s);
}

/* ---- corpus -------------------------------------------------------------- */

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		}
		*len = (size_t)n;
	}
	fclose(f);
	return buf;
}

/* README lines: file  YYYY-MM-DD  period|-  status  count  rejected  description */
static void test_corpus_dir(const char *corpus, const char *sub, bool is_elia)
{
	char path[1024], listed[128][96];
	size_t n_listed = 0, len;
	FILE *f;
	char line[512];

	snprintf(path, sizeof path, "%s/%s/README", corpus, sub);
	f = fopen(path, "r");
	CHECK(f != NULL, "corpus README %s opens", path);
	if (!f)
		return;
	while (fgets(line, sizeof line, f)) {
		char file[96], date[16], period_s[8], status[16];
		size_t want_count, want_rejected;
		int y, m, dd;

		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (sscanf(line, "%95s %15s %7s %15s %zu %zu", file, date, period_s, status, &want_count, &want_rejected) != 6 ||
		    sscanf(date, "%d-%d-%d", &y, &m, &dd) != 3) {
			CHECK(false, "%s: bad README line: %s", sub, line);
			continue;
		}
		if (n_listed < 128)
			snprintf(listed[n_listed++], sizeof listed[0], "%s", file);
		snprintf(path, sizeof path, "%s/%s/%s", corpus, sub, file);
		char *body = read_file(path, &len);
		CHECK(body != NULL, "corpus file %s reads", path);
		if (!body)
			continue;
		struct price_parse_result r = { 0 };
		struct day d = day_of(y, m, dd);
		enum price_parse_status st = is_elia ? elia_n(body, len, atoi(period_s), d, &r) : ec_n(body, len, d, &r);
		CHECK(strcmp(price_parse_status_name(st), status) == 0 && r.count == want_count && r.rejected == want_rejected,
			"%s/%s for %s: %s %zu %zu, want %s %zu %zu (%s)", sub, file, date, price_parse_status_name(st),
			r.count, r.rejected, status, want_count, want_rejected, r.reason);
		price_parse_result_free(&r);
		free(body);
	}
	fclose(f);

	snprintf(path, sizeof path, "%s/%s", corpus, sub);
	DIR *dir = opendir(path);
	CHECK(dir != NULL, "corpus directory %s opens", path);
	if (!dir)
		return;
	for (struct dirent *de; (de = readdir(dir));) {
		bool found = false;
		if (de->d_name[0] == '.' || strcmp(de->d_name, "README") == 0)
			continue;
		for (size_t i = 0; i < n_listed && !found; i++)
			found = strcmp(listed[i], de->d_name) == 0;
		CHECK(found, "%s/%s is listed in its README", sub, de->d_name);
	}
	closedir(dir);
}

int main(int argc, char **argv)
{
	const char *corpus = argc > 1 ? argv[1] : NULL;
#ifdef LOWI_CORPUS_DIR
	if (!corpus)
		corpus = LOWI_CORPUS_DIR;
#endif

	test_days();
	test_elia_not_yet();
	test_elia_filters();
	test_elia_times();
	test_elia_malformed();
	test_truncation();
	test_energy_charts();
	test_free();
	if (corpus) {
		test_corpus_dir(corpus, "elia", true);
		test_corpus_dir(corpus, "energy-charts", false);
	}
	return check_finish("price_parse");
}
