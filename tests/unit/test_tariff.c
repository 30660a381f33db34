/* Dated contract formulas: which row applies, the reference sample, the
 * day and month averages worked by hand, and which stored periods a new
 * price or formula makes stale. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "brussels.h"
#include "check.h"
#include "tariff.h"

/* Inputs with only a price: the averages are 0. */
#define AT(p) (&(struct formula_inputs){ .price = (p) })

/* A small PxElectr: periods in start order, as the store reads them. */
#define DB_MAX 1200
struct db_row {
	int64_t start_s;
	int minutes;
	double price;
	bool has_fp;
	uint64_t fp;
};
static struct db_row db[DB_MAX];
static size_t db_n;
static struct tariff_period plan[DB_MAX];

static int by_start(const void *a, const void *b)
{
	const struct db_row *x = a, *y = b;
	return (x->start_s > y->start_s) - (x->start_s < y->start_s);
}

/* Stores the periods of a Brussels day, period_s long, all at `price`
 * except the first `high_n` at `high`; returns how many. */
static size_t db_add_day(int y, int m, int d, int period_s, double price, size_t high_n, double high)
{
	int64_t day = civil_to_days(y, m, d), at = brussels_local_to_utc(day, 0), end = brussels_local_to_utc(day + 1, 0);
	size_t k = 0;
	for (; at < end && db_n < DB_MAX; at += period_s, k++)
		db[db_n++] = (struct db_row){ at, period_s / 60, k < high_n ? high : price, false, 0 };
	qsort(db, db_n, sizeof(db[0]), by_start);
	return k;
}

/* Plans the whole table like price_store_recompute and "stores" the
 * stale periods' fingerprints; returns how many were stale. */
static size_t db_plan(const struct tariff *t)
{
	for (size_t i = 0; i < db_n; i++) {
		memset(&plan[i], 0, sizeof(plan[i]));
		tariff_period_place(&plan[i], db[i].start_s);
		plan[i].minutes = db[i].minutes;
		plan[i].price_eur_mwh = db[i].price;
		plan[i].has_fp = db[i].has_fp;
		plan[i].stored_fp = db[i].fp;
	}
	size_t stale = tariff_plan(t, plan, db_n), seen = 0;
	for (size_t i = 0; i < db_n; i++) {
		if (!plan[i].stale)
			continue;
		seen++;
		db[i].has_fp = true;
		db[i].fp = plan[i].fp;
	}
	CHECK(seen == stale, "tariff_plan counts %zu stale, flags %zu", stale, seen);
	return stale;
}

/* The stale periods of the last plan all start in [from, to) of Brussels
 * days, and every period there is stale. */
static bool stale_exactly(int64_t from_day, int64_t to_day)
{
	for (size_t i = 0; i < db_n; i++)
		if (plan[i].stale != (plan[i].day >= from_day && plan[i].day < to_day))
			return false;
	return true;
}

static const struct tariff_period *period_at(int y, int m, int d, int seconds_of_day)
{
	int64_t at = brussels_local_to_utc(civil_to_days(y, m, d), seconds_of_day);
	for (size_t i = 0; i < db_n; i++)
		if (plan[i].start_s == at)
			return &plan[i];
	return NULL;
}

/* The averages worked by hand, one Brussels day or month at a time. */
static void test_averages(void)
{
	struct tariff t;
	tariff_init(&t);
	tariff_add(&t, civil_to_days(2020, 1, 1), "day_avg", "month_avg");
	const struct tariff_period *p;

	/* 24 hourly prices 10, 20, ... 240: (10 + 240) / 2 = 125. */
	db_n = 0;
	db_add_day(2025, 6, 10, 3600, 0, 0, 0);
	for (size_t i = 0; i < db_n; i++)
		db[i].price = 10.0 * (double)(i + 1);
	CHECK(db_n == 24 && db_plan(&t) == 24, "24 hourly periods, all computed: %zu", db_n);
	p = period_at(2025, 6, 10, 13 * 3600);
	CHECK(p && p->in.day_avg == 125 && p->in.month_avg == 125 && p->in.price == 140, "hourly day: day_avg %g",
		p ? p->in.day_avg : NAN);

	/* 96 quarters at 1.001 x i, i = 0..95: 1.001 x 95 / 2 = 47.5475. */
	db_n = 0;
	db_add_day(2025, 11, 5, 900, 0, 0, 0);
	for (size_t i = 0; i < db_n; i++)
		db[i].price = 1.001 * (double)i;
	db_plan(&t);
	p = period_at(2025, 11, 5, 0);
	CHECK(db_n == 96 && p && p->in.day_avg == 47.5475 && p->in.month_avg == 47.5475, "quarter day: %zu periods, %.17g",
		db_n, p ? p->in.day_avg : NAN);
	double buy, sell;
	char why[200];
	CHECK(p && tariff_prices(p->row, &p->in, &buy, &sell, why, sizeof(why)) == 0 && buy == 47.5475 && sell == 47.5475,
		"Buy/Sell from the averages: %g %g", buy, sell);

	/* Spring DST day: 92 quarters, the first 8 at 100, 84 at 50:
	 * (800 + 4200) / 92. Autumn: 100 quarters, (800 + 4600) / 100 = 54. */
	db_n = 0;
	size_t spring = db_add_day(2026, 3, 29, 900, 50, 8, 100);
	db_plan(&t);
	p = period_at(2026, 3, 29, 0);
	CHECK(spring == 92 && p && p->in.day_avg == 5000.0 / 92 && p->in.month_avg == 5000.0 / 92,
		"2026-03-29: %zu quarters, day_avg %.17g", spring, p ? p->in.day_avg : NAN);
	db_n = 0;
	size_t autumn = db_add_day(2026, 10, 25, 900, 50, 8, 100);
	db_plan(&t);
	p = period_at(2026, 10, 25, 0);
	CHECK(autumn == 100 && p && p->in.day_avg == 54 && p->in.month_avg == 54, "2026-10-25: %zu quarters, day_avg %.17g",
		autumn, p ? p->in.day_avg : NAN);
	/* With a plain day after it, time-weighted: (5400 x 15 + 96 x 70 x 15)
	 * EUR/MWh.min over (1500 + 1440) min. */
	db_add_day(2026, 10, 26, 900, 70, 0, 0);
	db_plan(&t);
	p = period_at(2026, 10, 26, 0);
	CHECK(p && p->in.day_avg == 70 && p->in.month_avg == (5400.0 * 15 + 96 * 70.0 * 15) / (1500 + 1440),
		"25 h day + 24 h day: month_avg %.17g", p ? p->in.month_avg : NAN);

	/* The cut-over: 2025-09-30 hourly at 80; 2025-10-01 quarter-hourly,
	 * 4 at 160 and 92 at 60 (6160 / 96 = 64.1666...); 2025-10-02 hourly
	 * at 100 (a day the source gave hourly). October's mean over its time:
	 * (6160 x 15 + 24 x 100 x 60) / 2880 min = 82.0833..., not the mean of
	 * its 120 rows (71.33...). */
	db_n = 0;
	db_add_day(2025, 9, 30, 3600, 80, 0, 0);
	db_add_day(2025, 10, 1, 900, 60, 4, 160);
	db_add_day(2025, 10, 2, 3600, 100, 0, 0);
	CHECK(db_n == 24 + 96 + 24, "cut-over rows: %zu", db_n);
	db_plan(&t);
	const struct tariff_period *sep = period_at(2025, 9, 30, 23 * 3600), *oct1 = period_at(2025, 10, 1, 0),
		*oct2 = period_at(2025, 10, 2, 0);
	CHECK(sep && sep->in.day_avg == 80 && sep->in.month_avg == 80, "2025-09-30 23:00 stays in September: %g",
		sep ? sep->in.month_avg : NAN);
	CHECK(oct1 && oct1->start_s == 1759269600 && oct1->month == 2025 * 12 + 9 && oct1->in.day_avg == 6160.0 / 96,
		"2025-09-30T22:00Z opens October 2025: day_avg %.17g", oct1 ? oct1->in.day_avg : NAN);
	CHECK(oct1 && oct2 && oct1->in.month_avg == (6160.0 * 15 + 24 * 100.0 * 60) / 2880 && oct2->in.month_avg ==
		oct1->in.month_avg && oct2->in.day_avg == 100, "October month_avg %.17g", oct1 ? oct1->in.month_avg : NAN);
	tariff_free(&t);
}

/* Which periods a new day, a corrected price or an edited formula make
 * stale: exactly those whose Buy/Sell depend on it. */
static void test_recompute_rule(void)
{
	struct tariff t;
	tariff_init(&t);
	int64_t sep1 = civil_to_days(2025, 9, 1), oct1 = civil_to_days(2025, 10, 1), nov1 = civil_to_days(2025, 11, 1);
	tariff_add(&t, sep1, "price/10", "price/10");
	tariff_add(&t, oct1, "month_avg/10 * 1.06 + 1.5", "price/10");
	tariff_add(&t, nov1, "day_avg/10", "day_avg/20");
	db_n = 0;
	db_add_day(2025, 9, 30, 3600, 80, 0, 0);
	db_add_day(2025, 10, 1, 900, 60, 4, 160);
	db_add_day(2025, 10, 2, 3600, 100, 0, 0);
	db_add_day(2025, 11, 1, 900, 40, 0, 0);
	db_add_day(2025, 11, 2, 900, 30, 0, 0);
	CHECK(db_plan(&t) == db_n, "first pass computes every period");
	CHECK(db_plan(&t) == 0, "nothing new: nothing stale");
	const struct tariff_period *p = period_at(2025, 9, 30, 0);
	CHECK(p && p->fp == t.rows[0].fingerprint, "a price-only row keeps its own fingerprint");

	/* A new October day: October's periods (month_avg), nothing else. */
	db_add_day(2025, 10, 3, 900, 20, 0, 0);
	size_t n = db_plan(&t);
	CHECK(n == 96 + 24 + 96 && stale_exactly(oct1, oct1 + 3), "new October day: %zu stale", n);
	double buy, sell;
	char why[200];
	p = period_at(2025, 10, 2, 5 * 3600);
	double oct_avg = (6160.0 * 15 + 24 * 100.0 * 60 + 96 * 20.0 * 15) / (3 * 1440);
	CHECK(p && p->in.month_avg == oct_avg && tariff_prices(p->row, &p->in, &buy, &sell, why, sizeof(why)) == 0
		&& buy == round((oct_avg / 10 * 1.06 + 1.5) * 1e5) / 1e5 && sell == 10, "October Buy %g Sell %g", buy, sell);

	/* A new November day: only its own periods (day_avg). */
	db_add_day(2025, 11, 3, 900, 50, 0, 0);
	n = db_plan(&t);
	CHECK(n == 96 && stale_exactly(nov1 + 2, nov1 + 3), "new November day: %zu stale", n);

	/* A corrected price: its month in October, its day in November. */
	for (size_t i = 0; i < db_n; i++)
		if (db[i].start_s == brussels_local_to_utc(oct1 + 1, 7 * 3600))
			db[i].price += 0.001;
	n = db_plan(&t);
	CHECK(n == 96 + 24 + 96 && stale_exactly(oct1, oct1 + 3), "corrected October price: %zu stale", n);
	for (size_t i = 0; i < db_n; i++)
		if (db[i].start_s == brussels_local_to_utc(nov1 + 1, 7 * 3600))
			db[i].price -= 1;
	n = db_plan(&t);
	CHECK(n == 96 && stale_exactly(nov1 + 1, nov1 + 2), "corrected November price: %zu stale", n);

	/* An edited November formula: November only; a broken one: nothing. */
	struct tariff u;
	tariff_init(&u);
	tariff_add(&u, sep1, "price/10", "price/10");
	tariff_add(&u, oct1, "month_avg/10 * 1.06 + 1.5", "price/10");
	tariff_add(&u, nov1, "day_avg/10 + 0.1", "day_avg/20");
	n = db_plan(&u);
	CHECK(n == 3 * 96 && stale_exactly(nov1, nov1 + 3), "edited November formula: %zu stale", n);
	tariff_free(&u);
	tariff_init(&u);
	tariff_add(&u, sep1, "price/10", "price/10");
	tariff_add(&u, oct1, "month_avg/10 * 1.06 + 1.5", "price/10");
	tariff_add(&u, nov1, "day_avg/10 +", "day_avg/20");
	CHECK(db_plan(&u) == 0, "a formula that does not compile leaves its periods alone");
	tariff_free(&u);
	tariff_free(&t);
}

int main(void)
{
	test_averages();
	test_recompute_rule();

	struct tariff t;
	tariff_init(&t);
	int64_t d2020 = civil_to_days(2020, 1, 1), d2026 = civil_to_days(2026, 4, 1), d2027 = civil_to_days(2027, 1, 1);
	/* Added out of order on purpose. */
	CHECK(tariff_add(&t, d2026, "0.8702 + 0.1039 * price", "-1.3135 + 0.1 * price") == 0, "add 2026");
	CHECK(tariff_add(&t, d2020, "(price/10 + 0.204) * 1.06", "price/10") == 0, "add 2020");
	CHECK(tariff_add(&t, d2027, "price +* 2", "price/10") == 0, "add a broken row");
	CHECK(t.count == 3 && t.rows[0].from_day == d2020 && t.rows[2].from_day == d2027, "rows sorted");

	CHECK(tariff_for_day(&t, d2020 - 1) == NULL, "no formula before the first FromDt");
	CHECK(tariff_for_day(&t, d2020) == &t.rows[0], "FromDt itself applies");
	CHECK(tariff_for_day(&t, d2026 - 1) == &t.rows[0], "day before the next row");
	CHECK(tariff_for_day(&t, d2026) == &t.rows[1], "next row from its FromDt");

	/* The reference table: hourly prices from 2019-12-31 23:00 UTC. */
	static const double price[] = { 41.88, 38.6, 36.55, 32.32, 30.85, 30.14, 30.17, 30, 30.65, 30.65 };
	static const double buy[] = { 4.65552, 4.30784, 4.09054, 3.64216, 3.48634, 3.41108, 3.41426, 3.39624, 3.46514, 3.46514 };
	int bad = 0;
	for (int i = 0; i < 10; i++) {
		double b, s;
		char err[200];
		if (tariff_prices(&t.rows[0], AT(price[i]), &b, &s, err, sizeof(err)) != 0 || b != buy[i] || fabs(s - price[i] / 10) > 1e-12)
			bad++;
	}
	CHECK(bad == 0, "%d reference rows differ", bad);

	char err[400];
	double b, s;
	CHECK(tariff_prices(&t.rows[2], AT(50), &b, &s, err, sizeof(err)) != 0 && strstr(err, "BuyFormula") != NULL,
		"a broken formula is refused with its reason: %s", err);
	CHECK(t.rows[2].problem[0] != '\0' && strstr(t.rows[2].problem, "position") != NULL, "problem names the position: %s", t.rows[2].problem);
	CHECK(tariff_prices(&t.rows[1], AT(-20), &b, &s, err, sizeof(err)) == 0 && b == -1.2078 && s == -3.3135,
		"negative prices: buy %.5f sell %.5f", b, s);

	/* PxElectr's DECIMAL(12,5) holds |v| <= 9999999.99999: the limit applies
	 * to the rounded value that is stored. */
	struct tariff big;
	tariff_init(&big);
	tariff_add(&big, d2020, "9999999.999996", "price * 0 + 9999999.99999");
	CHECK(tariff_prices(&big.rows[0], AT(50), &b, &s, err, sizeof(err)) != 0 && strstr(err, "BuyFormula") != NULL,
		"a Buy that rounds to 1e7 is refused: %s", err);
	tariff_free(&big);
	tariff_init(&big);
	tariff_add(&big, d2020, "-9999999.999994", "9999999.99999");
	CHECK(tariff_prices(&big.rows[0], AT(50), &b, &s, err, sizeof(err)) == 0 && b == -9999999.99999 && s == 9999999.99999,
		"the largest storable values pass: buy %.5f sell %.5f", b, s);
	tariff_free(&big);

	uint64_t before = t.fingerprint, row_fp = t.rows[0].fingerprint;
	struct tariff u;
	tariff_init(&u);
	tariff_add(&u, d2020, "(price/10 + 0.204) * 1.06", "price/10");
	CHECK(u.rows[0].fingerprint == row_fp, "a row's fingerprint depends only on its content");
	tariff_add(&u, d2026, "0.8702 + 0.1039 * price", "-1.3135 + 0.1 * price");
	tariff_add(&u, d2027, "price +* 2", "price/10");
	CHECK(u.fingerprint == before, "same rows, same set fingerprint");
	tariff_free(&u);
	tariff_init(&u);
	tariff_add(&u, d2020, "(price/10 + 0.204) * 1.06", "price/10 ");
	CHECK(u.rows[0].fingerprint != row_fp, "an edited formula changes the fingerprint");
	tariff_free(&u);
	tariff_free(&t);
	return check_finish("tariff");
}
