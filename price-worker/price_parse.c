/*
 * Day-ahead price answers -> price points of one Brussels civil day.
 *
 * Pure functions (see price_parse.h): any thread, no globals, no I/O.
 * Invariants of a result: points sorted by start_s, no two with the same
 * start_s, every start_s in [day_start_s, day_end_s) and a multiple of
 * period_s, every price in [PRICE_MIN_EUR_MWH, PRICE_MAX_EUR_MWH].
 *
 * Shape of the work: each source's entries are checked one by one and the
 * good ones appended to a candidate list (with their entry index); the list
 * is then sorted by (time, entry) so the first of two entries with the same
 * time wins and the later one is a rejected duplicate.
 */
#include "price_parse.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENERGY_CHARTS_UNIT "EUR / MWh"

/* Timestamps outside this range are never compared or subtracted, so no
 * arithmetic on attacker-chosen integers can overflow (2^40 s is year 36812). */
#define SANE_TIME_MAX ((int64_t)1 << 40)

struct candidate {
	int64_t start_s;
	double price_eur_mwh;
	size_t entry;
	int32_t period_s;
};

struct builder {
	struct price_parse_result *out;
	struct candidate *c;
	size_t n;
	int period_s;
	int64_t day_start_s, day_end_s;
	bool has_reason;
	size_t reason_entry;
};

/* ---- small helpers ---------------------------------------------------- */

__attribute__((format(printf, 2, 3)))
static void set_reason(struct price_parse_result *out, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out->reason, sizeof out->reason, fmt, ap);
	va_end(ap);
}

/* Counts a rejected entry; its reason is kept when it is the lowest entry
 * index rejected so far. */
__attribute__((format(printf, 3, 4)))
static void reject(struct builder *b, size_t entry, const char *fmt, ...)
{
	va_list ap;
	int k;

	b->out->rejected++;
	if (b->has_reason && entry >= b->reason_entry)
		return;
	b->has_reason = true;
	b->reason_entry = entry;
	k = snprintf(b->out->reason, sizeof b->out->reason, "entry %zu: ", entry);
	if (k < 0 || (size_t)k >= sizeof b->out->reason)
		return;
	va_start(ap, fmt);
	vsnprintf(b->out->reason + k, sizeof b->out->reason - (size_t)k, fmt, ap);
	va_end(ap);
}

static const char *type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a real number";
	case JSON_TRUE: return "true";
	case JSON_FALSE: return "false";
	case JSON_NULL: return "null";
	}
	return "unknown";
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * algorithm), and back. Local copies so this module stands alone. */
int64_t price_days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int days_in_month(int64_t y, int m)
{
	static const int len[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : len[m - 1];
}

/* "2025-10-01T22:00:00Z" for messages; buf of at least 32 bytes. */
static const char *format_utc(int64_t t, char *buf, size_t size)
{
	int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
	int64_t sod = t - days * 86400;
	int64_t y;
	int m, d;

	if (t > SANE_TIME_MAX || t < -SANE_TIME_MAX) {
		snprintf(buf, size, "%lld s", (long long)t);
		return buf;
	}
	civil_from_days(days, &y, &m, &d);
	/* The modulos only tell the compiler the ranges (no truncation warning). */
	snprintf(buf, size, "%04d-%02u-%02uT%02u:%02u:%02uZ", (int)(y % 100000), (unsigned)m % 13u,
		(unsigned)d % 32u, (unsigned)(sod / 3600) % 24u, (unsigned)(sod / 60 % 60) % 60u,
		(unsigned)(sod % 60) % 60u);
	return buf;
}

bool price_digits(const char *s, size_t n, int *value)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*value = v;
	return true;
}

/* Parses "YYYY-MM-DDTHH:MM:SS[.fff][Z|+hh:mm|-hh:mm]" (exactly, no spaces)
 * into UTC epoch seconds. On failure returns false and *why says what is
 * wrong. A non-zero fraction is refused (no market period starts there). */
static bool parse_iso_utc(const char *s, size_t n, int64_t *out, const char **why)
{
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	size_t i = 19;

	*why = "expected YYYY-MM-DDTHH:MM:SS";
	if (n < 19 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':')
		return false;
	if (!price_digits(s, 4, &y) || !price_digits(s + 5, 2, &mo) || !price_digits(s + 8, 2, &d) ||
	    !price_digits(s + 11, 2, &h) || !price_digits(s + 14, 2, &mi) || !price_digits(s + 17, 2, &sec))
		return false;
	if (i < n && s[i] == '.') {
		size_t start = ++i;
		bool nonzero = false;

		while (i < n && s[i] >= '0' && s[i] <= '9')
			nonzero |= s[i++] != '0';
		if (i == start) {
			*why = "empty fraction of a second";
			return false;
		}
		if (nonzero) {
			*why = "not on a whole second";
			return false;
		}
	}
	if (i < n && s[i] == 'Z') {
		i++;
	} else if (i < n && (s[i] == '+' || s[i] == '-')) {
		sign = s[i] == '+' ? 1 : -1;
		if (n - i < 6 || s[i + 3] != ':' || !price_digits(s + i + 1, 2, &oh) || !price_digits(s + i + 4, 2, &om)) {
			*why = "bad UTC offset, expected +hh:mm";
			return false;
		}
		i += 6;
	} else {
		*why = "no time zone (expected a trailing Z)";
		return false;
	}
	if (i != n) {
		*why = "text after the time";
		return false;
	}
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 59 ||
	    oh > 14 || om > 59) {
		*why = "impossible date or time";
		return false;
	}
	*out = price_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - sign * (oh * 3600 + om * 60);
	return true;
}

/* Copies up to 60 bytes of text into a quoted, printable excerpt. */
static void excerpt(const char *s, size_t n, char *buf, size_t size)
{
	size_t o = 0;

	for (size_t i = 0; i < n && i < 60 && o + 2 < size; i++) {
		unsigned char ch = (unsigned char)s[i];
		buf[o++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	buf[o] = '\0';
}

static int64_t floor_mod(int64_t a, int64_t b)
{
	int64_t r = a % b;
	return r < 0 ? r + b : r;
}

/* Checks time and price of an entry that passed the type checks, and keeps
 * it as a candidate or counts it rejected. */
static void consider(struct builder *b, size_t entry, int64_t start_s, int period_s, double price)
{
	char t[40], a[40], z[40];

	if (floor_mod(start_s, period_s) != 0) {
		reject(b, entry, "time %s is not on a %d s boundary", format_utc(start_s, t, sizeof t), period_s);
		return;
	}
	if (start_s < b->day_start_s || start_s >= b->day_end_s) {
		reject(b, entry, "time %s is outside the day [%s, %s)", format_utc(start_s, t, sizeof t),
			format_utc(b->day_start_s, a, sizeof a), format_utc(b->day_end_s, z, sizeof z));
		return;
	}
	if (!(price >= PRICE_MIN_EUR_MWH && price <= PRICE_MAX_EUR_MWH)) {
		reject(b, entry, "price %.2f EUR/MWh is outside [%.0f, %.0f]", price, PRICE_MIN_EUR_MWH,
			PRICE_MAX_EUR_MWH);
		return;
	}
	b->c[b->n++] = (struct candidate){ .start_s = start_s, .price_eur_mwh = price, .entry = entry,
		.period_s = period_s };
}

static int by_time_then_entry(const void *pa, const void *pb)
{
	const struct candidate *a = pa, *b = pb;

	if (a->start_s != b->start_s)
		return a->start_s < b->start_s ? -1 : 1;
	return (a->entry > b->entry) - (a->entry < b->entry);
}

/* Sorts the candidates, rejects duplicate times (the first entry wins) and
 * moves the result into out->points. Returns false on out of memory. */
static bool finish(struct builder *b)
{
	struct price_parse_result *out = b->out;
	size_t kept = 0;
	char t[40];

	if (b->n)
		qsort(b->c, b->n, sizeof *b->c, by_time_then_entry);
	for (size_t i = 0; i < b->n; i++) {
		if (kept && b->c[kept - 1].start_s == b->c[i].start_s) {
			reject(b, b->c[i].entry, "duplicate time %s (first given by entry %zu)",
				format_utc(b->c[i].start_s, t, sizeof t), b->c[kept - 1].entry);
			continue;
		}
		b->c[kept++] = b->c[i];
	}
	if (!kept)
		return true;
	out->points = malloc(kept * sizeof *out->points);
	if (!out->points)
		return false;
	for (size_t i = 0; i < kept; i++)
		out->points[i] = (struct price_point){ .start_s = b->c[i].start_s, .period_s = b->c[i].period_s,
			.price_eur_mwh = b->c[i].price_eur_mwh };
	out->count = kept;
	return true;
}

static void reset(struct price_parse_result *out)
{
	out->points = NULL;
	out->count = 0;
	out->rejected = 0;
	out->reason[0] = '\0';
}

static enum price_parse_status malformed(struct price_parse_result *out)
{
	free(out->points);
	out->points = NULL;
	out->count = 0;
	out->rejected = 0;
	return PRICE_PARSE_MALFORMED;
}

/* An upper bound on the values jansson would build from the body (and so on
 * its memory): every value but the first of a container follows a ',', and
 * every container's first value follows its '[' or '{', so values (object
 * members counted with their values) <= 1 + the ',', '[' and '{' outside
 * strings. Stops counting past `limit`. On invalid JSON jansson stops at the
 * first error, having built values of a prefix, which this counts too. */
static size_t json_values_bound(const char *s, size_t n, size_t limit)
{
	size_t count = 1;
	bool in_string = false;

	for (size_t i = 0; i < n && count <= limit; i++) {
		char ch = s[i];
		if (in_string) {
			if (ch == '\\')
				i++; /* the escaped character, '"' included */
			else if (ch == '"')
				in_string = false;
		} else if (ch == '"') {
			in_string = true;
		} else if (ch == ',' || ch == '[' || ch == '{') {
			count++;
		}
	}
	return count;
}

/* The bounds every body must meet before anything is built from it. */
static bool check_size(const char *body, size_t len, struct price_parse_result *out)
{
	if (len > PRICE_BODY_MAX) {
		set_reason(out, "answer of %zu bytes, larger than the %zu accepted", len, PRICE_BODY_MAX);
		return false;
	}
	if (body && json_values_bound(body, len, PRICE_PARSE_MAX_VALUES) > PRICE_PARSE_MAX_VALUES) {
		set_reason(out, "more than %d JSON values: not a price answer", PRICE_PARSE_MAX_VALUES);
		return false;
	}
	return true;
}

static json_t *load(const char *body, size_t len, struct price_parse_result *out)
{
	json_error_t err;
	json_t *root;

	if (!body && len) {
		set_reason(out, "no body");
		return NULL;
	}
	if (!check_size(body, len, out))
		return NULL;
	root = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &err);
	if (!root)
		set_reason(out, "not JSON: %s at line %d column %d (byte %d)", err.text, err.line,
			err.column, err.position);
	return root;
}

static bool check_day(int64_t day_start_s, int64_t day_end_s, struct price_parse_result *out)
{
	if (day_end_s <= day_start_s || day_end_s - day_start_s > PRICE_PARSE_MAX_RANGE_S ||
	    day_start_s < -SANE_TIME_MAX || day_end_s > SANE_TIME_MAX) {
		set_reason(out, "bad day bounds [%lld, %lld)", (long long)day_start_s, (long long)day_end_s);
		return false;
	}
	return true;
}

/* ---- Elia ------------------------------------------------------------- */

/* One element of Elia's array: returns true when it is a visible entry
 * (kept or rejected), false when it is hidden ("isVisible": false). */
static bool elia_entry(struct builder *b, size_t i, json_t *e)
{
	json_t *vis, *dt, *price;
	const char *why;
	int64_t start_s;

	if (!json_is_object(e)) {
		reject(b, i, "is %s, expected an object", type_name(e));
		return true;
	}
	vis = json_object_get(e, "isVisible");
	if (!vis) {
		reject(b, i, "isVisible is missing");
		return true;
	}
	if (!json_is_boolean(vis)) {
		reject(b, i, "isVisible is %s, expected true or false", type_name(vis));
		return true;
	}
	if (json_is_false(vis))
		return false;
	dt = json_object_get(e, "dateTime");
	if (!dt) {
		reject(b, i, "dateTime is missing");
		return true;
	}
	if (!json_is_string(dt)) {
		reject(b, i, "dateTime is %s, expected a string", type_name(dt));
		return true;
	}
	if (!parse_iso_utc(json_string_value(dt), json_string_length(dt), &start_s, &why)) {
		char text[64];
		excerpt(json_string_value(dt), json_string_length(dt), text, sizeof text);
		reject(b, i, "dateTime \"%s\": %s", text, why);
		return true;
	}
	price = json_object_get(e, "price");
	if (!price) {
		reject(b, i, "price is missing");
		return true;
	}
	if (json_is_null(price)) {
		reject(b, i, "price is null");
		return true;
	}
	if (!json_is_number(price)) {
		reject(b, i, "price is %s, expected a number", type_name(price));
		return true;
	}
	consider(b, i, start_s, b->period_s, json_number_value(price));
	return true;
}

enum price_parse_status price_parse_elia(const char *body, size_t len, int period_s,
	int64_t day_start_s, int64_t day_end_s, struct price_parse_result *out)
{
	struct builder b = { .out = out, .period_s = period_s, .day_start_s = day_start_s,
		.day_end_s = day_end_s };
	size_t n, hidden = 0;
	json_t *root;
	bool ok;

	reset(out);
	if (period_s != 900 && period_s != 3600) {
		set_reason(out, "bad period %d s, expected 900 or 3600", period_s);
		return malformed(out);
	}
	if (!check_day(day_start_s, day_end_s, out))
		return malformed(out);
	root = load(body, len, out);
	if (!root)
		return malformed(out);
	if (!json_is_array(root)) {
		set_reason(out, "top level is %s, expected an array", type_name(root));
		json_decref(root);
		return malformed(out);
	}
	n = json_array_size(root);
	if (n == 0) {
		set_reason(out, "empty array: not published yet");
		json_decref(root);
		return PRICE_PARSE_NOT_YET;
	}
	b.c = malloc(n * sizeof *b.c);
	if (!b.c) {
		set_reason(out, "out of memory");
		json_decref(root);
		return malformed(out);
	}
	for (size_t i = 0; i < n; i++)
		if (!elia_entry(&b, i, json_array_get(root, i)))
			hidden++;
	ok = finish(&b);
	free(b.c);
	json_decref(root);
	if (!ok) {
		set_reason(out, "out of memory");
		return malformed(out);
	}
	if (out->count == 0 && out->rejected == 0) {
		set_reason(out, "all %zu entries have isVisible false: not published yet", hidden);
		return PRICE_PARSE_NOT_YET;
	}
	return PRICE_PARSE_OK;
}

/* ---- Energy-Charts ---------------------------------------------------- */

static bool contains_no_data(const char *s, size_t n)
{
	static const char needle[] = "no data";
	const size_t k = sizeof needle - 1;

	for (size_t i = 0; i + k <= n; i++) {
		size_t j = 0;
		while (j < k && (s[i + j] | 0x20) == needle[j])
			j++;
		if (j == k)
			return true;
	}
	return false;
}

static bool sane_time(const json_t *v, int64_t *t)
{
	if (!json_is_integer(v))
		return false;
	*t = json_integer_value(v);
	return *t >= -SANE_TIME_MAX && *t <= SANE_TIME_MAX;
}

/* The period of the series: the more frequent of 900 and 3600 among the gaps
 * between consecutive timestamps. Pairs inside the range count first; when
 * the range holds fewer than two timestamps, every pair of the body counts.
 * Returns 0 when neither spacing occurs. */
static int infer_period(json_t *times, int64_t day_start_s, int64_t day_end_s)
{
	size_t n = json_array_size(times);

	for (int pass = 0; pass < 2; pass++) {
		size_t q = 0, h = 0;
		for (size_t i = 1; i < n; i++) {
			int64_t a, z;
			if (!sane_time(json_array_get(times, i - 1), &a) ||
			    !sane_time(json_array_get(times, i), &z))
				continue;
			if (pass == 0 && (a < day_start_s || a >= day_end_s || z < day_start_s || z >= day_end_s))
				continue;
			q += z - a == 900;
			h += z - a == 3600;
		}
		if (q || h)
			return q >= h ? 900 : 3600;
	}
	return 0;
}

/* Gap between entries i and j when it is a market period (900 or 3600), else 0. */
static int period_gap(json_t *times, size_t i, size_t j)
{
	int64_t a, z;

	if (!sane_time(json_array_get(times, i), &a) || !sane_time(json_array_get(times, j), &z))
		return 0;
	return z - a == 900 || z - a == 3600 ? (int)(z - a) : 0;
}

/* The period of entry i: its gap to a neighbour, the shorter when both are
 * periods (so the first quarter after the switch, or a quarter before a gap
 * of missing quarters, stays a quarter); the series' period when neither is. */
static int point_period(json_t *times, size_t i, int series_period_s)
{
	int prev = i > 0 ? period_gap(times, i - 1, i) : 0;
	int next = i + 1 < json_array_size(times) ? period_gap(times, i, i + 1) : 0;

	if (prev && next)
		return prev < next ? prev : next;
	if (prev || next)
		return prev ? prev : next;
	return series_period_s;
}

static enum price_parse_status energy_charts_text(const char *body, size_t len,
	struct price_parse_result *out)
{
	char text[64];

	excerpt(body, len, text, sizeof text);
	if (contains_no_data(body, len)) {
		set_reason(out, "plain-text answer \"%s\": not published yet", text);
		return PRICE_PARSE_NOT_YET;
	}
	set_reason(out, "not JSON and not a no-data message: \"%s\"", text);
	return malformed(out);
}

enum price_parse_status price_parse_energy_charts(const char *body, size_t len,
	int64_t day_start_s, int64_t day_end_s, struct price_parse_result *out)
{
	struct builder b = { .out = out, .day_start_s = day_start_s, .day_end_s = day_end_s };
	json_t *root, *times, *prices, *unit;
	size_t n, first = 0;
	bool ok;

	reset(out);
	if (!check_day(day_start_s, day_end_s, out))
		return malformed(out);
	if (len > PRICE_BODY_MAX) {
		check_size(body, len, out);
		return malformed(out);
	}
	while (body && first < len && (body[first] == ' ' || body[first] == '\t' || body[first] == '\r' ||
	       body[first] == '\n'))
		first++;
	if (body && first < len && body[first] != '{' && body[first] != '[')
		return energy_charts_text(body + first, len - first, out);
	root = load(body, len, out);
	if (!root)
		return malformed(out);
	if (!json_is_object(root)) {
		set_reason(out, "top level is %s, expected an object with unix_seconds and price",
			type_name(root));
		goto bad;
	}
	unit = json_object_get(root, "unit");
	if (unit && !(json_is_string(unit) && (strcmp(json_string_value(unit), ENERGY_CHARTS_UNIT) == 0 ||
	                                       strcmp(json_string_value(unit), "EUR/MWh") == 0))) {
		char text[64] = "";
		if (json_is_string(unit))
			excerpt(json_string_value(unit), json_string_length(unit), text, sizeof text);
		set_reason(out, "unit is %s%s%s, expected \"%s\"", json_is_string(unit) ? "\"" : "",
			json_is_string(unit) ? text : type_name(unit), json_is_string(unit) ? "\"" : "",
			ENERGY_CHARTS_UNIT);
		goto bad;
	}
	times = json_object_get(root, "unix_seconds");
	prices = json_object_get(root, "price");
	if (!json_is_array(times) || !json_is_array(prices)) {
		const char *which = !json_is_array(times) ? "unix_seconds" : "price";
		json_t *v = !json_is_array(times) ? times : prices;
		set_reason(out, "%s is %s, expected an array", which, v ? type_name(v) : "missing");
		goto bad;
	}
	n = json_array_size(times);
	if (n != json_array_size(prices)) {
		set_reason(out, "unix_seconds has %zu entries but price has %zu", n, json_array_size(prices));
		goto bad;
	}
	if (n == 0) {
		set_reason(out, "empty arrays: not published yet");
		json_decref(root);
		return PRICE_PARSE_NOT_YET;
	}
	b.period_s = infer_period(times, day_start_s, day_end_s);
	if (!b.period_s) {
		set_reason(out, "cannot tell the period: no two consecutive timestamps are 900 or 3600 s apart");
		goto bad;
	}
	b.c = malloc(n * sizeof *b.c);
	if (!b.c) {
		set_reason(out, "out of memory");
		goto bad;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *t = json_array_get(times, i), *p = json_array_get(prices, i);
		int64_t start_s;

		if (!json_is_integer(t)) {
			reject(&b, i, "unix_seconds is %s, expected an integer", type_name(t));
			continue;
		}
		start_s = json_integer_value(t);
		if (start_s < day_start_s || start_s >= day_end_s)
			continue; /* another day of a multi-day answer */
		if (json_is_null(p)) {
			reject(&b, i, "price is null");
			continue;
		}
		if (!json_is_number(p)) {
			reject(&b, i, "price is %s, expected a number", type_name(p));
			continue;
		}
		consider(&b, i, start_s, point_period(times, i, b.period_s), json_number_value(p));
	}
	ok = finish(&b);
	free(b.c);
	json_decref(root);
	if (!ok) {
		set_reason(out, "out of memory");
		return malformed(out);
	}
	if (out->count == 0 && out->rejected == 0) {
		set_reason(out, "no timestamp inside the day: not published yet");
		return PRICE_PARSE_NOT_YET;
	}
	return PRICE_PARSE_OK;
bad:
	json_decref(root);
	return malformed(out);
}

/* ---- common ----------------------------------------------------------- */

void price_parse_result_free(struct price_parse_result *r)
{
	if (!r)
		return;
	free(r->points);
	reset(r);
}

const char *price_parse_status_name(enum price_parse_status st)
{
	switch (st) {
	case PRICE_PARSE_OK: return "ok";
	case PRICE_PARSE_NOT_YET: return "not-yet";
	case PRICE_PARSE_MALFORMED: return "malformed";
	}
	return "unknown";
}
