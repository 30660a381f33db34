/*
 * Day-ahead price answers: turns the body of an Elia griddata or an
 * Energy-Charts /price answer into the price points of one Brussels civil day.
 *
 * This is the pure core of the price worker: no I/O, no globals, no clock,
 * no locale. Every function may be called from any thread, concurrently,
 * as long as each call has its own `out`.
 *
 * Memory: the body is borrowed for the duration of the call and need not be
 * NUL-terminated. On return `out->points` is NULL or a malloc'd array owned
 * by the result; release it with price_parse_result_free(). `out` is fully
 * (re)initialised by every parse call, so it must not hold points from an
 * earlier call (free it first).
 *
 * Formats (docs/prices.md describes both sources):
 *   Elia:   [{"dateTime":"2025-10-01T22:00:00Z","price":93.91,"isVisible":true},...]
 *   Energy-Charts: {"license_info":"...","unix_seconds":[...],"price":[...],
 *                   "unit":"EUR / MWh","deprecated":false}
 *
 * Three outcomes:
 *   OK        the body is a well-formed answer. `points` holds the accepted
 *             points (possibly none), sorted by start_s, without duplicates.
 *             `rejected` counts entries that were skipped; `reason` names the
 *             first of them (lowest entry index) or is "" when none was.
 *             count == 0 with rejected > 0 means "answered, nothing usable":
 *             the caller should retry later.
 *   NOT_YET   a valid answer that carries no data for the day yet (empty
 *             array; only entries with "isVisible": false; Energy-Charts
 *             plain-text "no data" body or no timestamp inside the day).
 *             `reason` says which.
 *   MALFORMED the body is not an answer of that source (not JSON, duplicate
 *             object keys, wrong top-level shape, unequal arrays, ...).
 *             `points` is NULL; `reason` says what and where.
 *
 * Entry numbers in `reason` are 0-based array indexes ("entry 0" is the
 * first element), as jq would count them.
 *
 * Memory is bounded whatever the body: a body longer than PRICE_BODY_MAX,
 * or one whose JSON would hold more than PRICE_PARSE_MAX_VALUES values, is
 * MALFORMED before any JSON tree is built. A size limit alone is not
 * enough: the three bytes of "{}," become an object many times larger in
 * jansson's tree. docs/prices.md gives the real answers' sizes these
 * limits are set against.
 */
#ifndef LOWI_PRICE_PARSE_H
#define LOWI_PRICE_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest body accepted, in bytes; also the HTTP client's limit on an
 * answer (price_fetch.h), compressed or not: several times the largest
 * real answer (31 days of Energy-Charts quarter-hours). */
#define PRICE_BODY_MAX ((size_t)512 << 10)

/* Most JSON values (object members included) a body may hold: more than
 * twice the largest real answer (31 days of 100 quarters in two arrays;
 * an Elia day is 100 objects of a few fields), few enough to keep
 * jansson's tree small. */
#define PRICE_PARSE_MAX_VALUES 16384

/* Longest [day_start_s, day_end_s) accepted: several whole days may be asked
 * of one answer (an Energy-Charts range). */
#define PRICE_PARSE_MAX_RANGE_S ((int64_t)400 * 86400)

/* Plausible day-ahead prices (the SDAC harmonised limits are -500 and
 * +4000 EUR/MWh; these leave room for a future change). Inclusive. */
#define PRICE_MIN_EUR_MWH (-1000.0)
#define PRICE_MAX_EUR_MWH 10000.0

struct price_point {
	int64_t start_s;      /* UTC epoch seconds, start of the market period */
	int32_t period_s;     /* 3600 or 900 */
	double price_eur_mwh;
};

enum price_parse_status {
	PRICE_PARSE_OK,
	PRICE_PARSE_NOT_YET,  /* valid answer, no data yet: empty array, energy-charts "no data" text */
	PRICE_PARSE_MALFORMED,
};

struct price_parse_result {
	struct price_point *points; /* malloc'd, sorted by start_s, owned by the result */
	size_t count;
	size_t rejected;            /* entries skipped: null price, wrong type, out of range,
	                               misaligned or impossible time, duplicate time */
	char reason[200];           /* for MALFORMED, or the first rejected entry:
	                               what and where, e.g. "entry 14: price is null" */
};

/* Parses Elia's answer for the Brussels civil day [day_start_s, day_end_s)
 * (UTC instants; 23, 24 or 25 h long; a range of several whole days, up to
 * PRICE_PARSE_MAX_RANGE_S, is accepted too). period_s: 900 for auctionresultsqh,
 * 3600 for auctionresults. Only objects with "isVisible": true are used.
 * dateTime must be "YYYY-MM-DDTHH:MM:SS" with an optional all-zero fraction
 * and a "Z" or numeric offset ("+00:00"); price must be a JSON number.
 * Points outside the day, not on a multiple of period_s, or with a price
 * outside [PRICE_MIN_EUR_MWH, PRICE_MAX_EUR_MWH] are rejected entries. */
enum price_parse_status price_parse_elia(const char *body, size_t len, int period_s,
	int64_t day_start_s, int64_t day_end_s, struct price_parse_result *out);

/* Parses an Energy-Charts /price answer: unix_seconds[] and price[] arrays of
 * equal length, for [day_start_s, day_end_s): one Brussels civil day or a
 * range of whole days (up to PRICE_PARSE_MAX_RANGE_S). The period is inferred
 * from the spacing: each point gets its gap (900 or 3600 s) to a neighbouring
 * timestamp, the shorter when both gaps are periods, so a range across the
 * 2025-10-01 switch yields hourly then quarter points; a point with no such
 * neighbour gets the more frequent of the two gaps in the range (or in the
 * body). No gap of 900 or 3600 s anywhere is MALFORMED. Points outside the
 * range are ignored (not counted as rejected). A "unit" other than "EUR / MWh" is
 * MALFORMED. A body that is not JSON (does not start with '{' or '[') and
 * contains "no data" (any case) is NOT_YET; other non-JSON is MALFORMED. */
enum price_parse_status price_parse_energy_charts(const char *body, size_t len,
	int64_t day_start_s, int64_t day_end_s, struct price_parse_result *out);

/* Frees the points and resets the result to empty. Safe on a zeroed or
 * already freed result. */
void price_parse_result_free(struct price_parse_result *r);

/* "ok", "not-yet", "malformed" (for log lines and tests). */
const char *price_parse_status_name(enum price_parse_status st);

/* Calendar and digit helpers the price core shares (price_retry.c reads
 * HTTP dates with them): days since 1970-01-01 of a proleptic Gregorian
 * date; n decimal digits at s into *value (false if one is not a digit). */
int64_t price_days_from_civil(int64_t y, int m, int d);
bool price_digits(const char *s, size_t n, int *value);

#endif
