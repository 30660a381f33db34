/*
 * Invariants of a price_parse_result (price-worker/price_parse.h), shared by
 * fuzz_price_elia.c and fuzz_price_energy_charts.c.
 */
#ifndef LOWI_FUZZ_PRICE_CHECK_H
#define LOWI_FUZZ_PRICE_CHECK_H

#include <math.h>
#include <string.h>

#include "brussels.h"
#include "fuzz_check.h"
#include "price_market.h"
#include "price_parse.h"

/* UTC instant of Brussels midnight starting civil day y-m-d. */
static inline int64_t fuzz_midnight(int y, int m, int d)
{
	return brussels_local_to_utc(civil_to_days(y, m, d), 0);
}

/* UTC instant of Brussels midnight starting day number n (brussels.h). */
static inline int64_t fuzz_day_start(int64_t n)
{
	return brussels_local_to_utc(n, 0);
}

/* period_s: the one asked for (Elia), or 0 when the parser infers it. */
static inline void check_price_result(enum price_parse_status st, const struct price_parse_result *r,
	int period_s, int64_t start, int64_t end)
{
	FUZZ_CHECK(st == PRICE_PARSE_OK || st == PRICE_PARSE_NOT_YET || st == PRICE_PARSE_MALFORMED, "status %d", (int)st);
	FUZZ_CHECK(FUZZ_NUL_TERMINATED(r->reason), "reason not NUL-terminated");
	if (st != PRICE_PARSE_OK) {
		FUZZ_CHECK(r->count == 0 && r->points == NULL, "%s with %zu points", price_parse_status_name(st), r->count);
		FUZZ_CHECK(r->reason[0] != '\0', "%s without a reason", price_parse_status_name(st));
		return;
	}
	FUZZ_CHECK((r->count == 0) == (r->points == NULL), "count %zu, points %p", r->count, (void *)r->points);
	FUZZ_CHECK(r->count <= (size_t)((end - start) / 900), "%zu points in %lld s", r->count, (long long)(end - start));
	FUZZ_CHECK((r->rejected == 0) == (r->reason[0] == '\0'), "rejected %zu, reason \"%s\"", r->rejected, r->reason);
	for (size_t i = 0; i < r->count; i++) {
		const struct price_point *p = &r->points[i];
		if (period_s)
			FUZZ_CHECK(p->period_s == period_s, "point %zu: period %d, asked %d", i, (int)p->period_s, period_s);
		else
			FUZZ_CHECK(p->period_s == 900 || p->period_s == 3600, "point %zu: period %d", i, (int)p->period_s);
		FUZZ_CHECK(p->start_s >= start && p->start_s < end, "point %zu: %lld outside [%lld, %lld)", i,
			(long long)p->start_s, (long long)start, (long long)end);
		FUZZ_CHECK(p->start_s % p->period_s == 0, "point %zu: %lld not on a %d s period", i,
			(long long)p->start_s, (int)p->period_s);
		FUZZ_CHECK(isfinite(p->price_eur_mwh) && p->price_eur_mwh >= PRICE_MIN_EUR_MWH
			&& p->price_eur_mwh <= PRICE_MAX_EUR_MWH, "point %zu: price %g", i, p->price_eur_mwh);
		if (i > 0)
			FUZZ_CHECK(p->start_s > r->points[i - 1].start_s, "points %zu and %zu not strictly increasing", i - 1, i);
	}
}

/* Same outcome twice (field by field: struct price_point has padding). */
static inline int same_price_result(const struct price_parse_result *a, const struct price_parse_result *b)
{
	if (a->count != b->count || a->rejected != b->rejected || strcmp(a->reason, b->reason) != 0)
		return 0;
	for (size_t i = 0; i < a->count; i++)
		if (a->points[i].start_s != b->points[i].start_s || a->points[i].period_s != b->points[i].period_s
			|| memcmp(&a->points[i].price_eur_mwh, &b->points[i].price_eur_mwh, sizeof(double)) != 0)
			return 0;
	return 1;
}

#endif
