/* Dated contract formulas; see tariff.h. */
#include "tariff.h"

#include "brussels.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tariff_init(struct tariff *t)
{
	memset(t, 0, sizeof(*t));
}

static void row_free(struct tariff_row *r)
{
	free(r->buy_text);
	free(r->sell_text);
	formula_free(r->buy);
	formula_free(r->sell);
}

void tariff_free(struct tariff *t)
{
	for (size_t i = 0; i < t->count; i++)
		row_free(&t->rows[i]);
	free(t->rows);
	tariff_init(t);
}

static uint64_t fnv1a(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;
	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return h;
}

static uint64_t row_fingerprint(int64_t day, const char *buy, const char *sell)
{
	uint64_t h = 1469598103934665603ULL;
	h = fnv1a(h, &day, sizeof(day));
	h = fnv1a(h, buy, strlen(buy) + 1);
	h = fnv1a(h, sell, strlen(sell) + 1);
	/* Kept below 2^63 so it reads the same as a signed or unsigned BIGINT. */
	return h & 0x7fffffffffffffffULL;
}

int tariff_add(struct tariff *t, int64_t from_day, const char *buy, const char *sell)
{
	struct tariff_row *rows = realloc(t->rows, (t->count + 1) * sizeof(*rows));
	if (rows == NULL)
		return -1;
	t->rows = rows;
	struct tariff_row *r = &rows[t->count];
	memset(r, 0, sizeof(*r));
	r->from_day = from_day;
	r->buy_text = strdup(buy);
	r->sell_text = strdup(sell);
	if (r->buy_text == NULL || r->sell_text == NULL) {
		row_free(r);
		return -1;
	}
	r->fingerprint = row_fingerprint(from_day, buy, sell);
	struct formula_error err;
	r->buy = formula_compile(buy, &err);
	if (r->buy == NULL)
		snprintf(r->problem, sizeof(r->problem), "BuyFormula '%.60s': %s", buy, err.reason);
	r->sell = formula_compile(sell, &err);
	if (r->sell == NULL && r->problem[0] == '\0')
		snprintf(r->problem, sizeof(r->problem), "SellFormula '%.60s': %s", sell, err.reason);
	r->uses = formula_uses(r->buy) | formula_uses(r->sell);
	t->count++;

	/* Insertion keeps the rows sorted; a handful of rows at most. */
	for (size_t i = t->count - 1; i > 0 && t->rows[i - 1].from_day > t->rows[i].from_day; i--) {
		struct tariff_row tmp = t->rows[i];
		t->rows[i] = t->rows[i - 1];
		t->rows[i - 1] = tmp;
	}
	t->fingerprint = 1469598103934665603ULL;
	for (size_t i = 0; i < t->count; i++)
		t->fingerprint = fnv1a(t->fingerprint, &t->rows[i].fingerprint, sizeof(uint64_t));
	return 0;
}

const struct tariff_row *tariff_for_day(const struct tariff *t, int64_t day)
{
	const struct tariff_row *found = NULL;
	for (size_t i = 0; i < t->count && t->rows[i].from_day <= day; i++)
		found = &t->rows[i];
	return found;
}

static double round5(double v)
{
	double r = round(v * 1e5) / 1e5;
	return r == 0.0 ? 0.0 : r; /* no -0 */
}

bool tariff_row_uses_averages(const struct tariff_row *row)
{
	return (row->uses & (FORMULA_USES_DAY_AVG | FORMULA_USES_MONTH_AVG)) != 0;
}

int tariff_prices(const struct tariff_row *row, const struct formula_inputs *in, double *buy, double *sell, char *err,
	size_t errlen)
{
	double price_eur_mwh = in->price;
	if (row->buy == NULL || row->sell == NULL) {
		snprintf(err, errlen, "%s", row->problem);
		return -1;
	}
	struct formula_error fe;
	double b, s;
	if (formula_eval(row->buy, in, &b, &fe) != 0) {
		snprintf(err, errlen, "BuyFormula '%.60s' at price %.2f: %s", row->buy_text, price_eur_mwh, fe.reason);
		return -1;
	}
	if (formula_eval(row->sell, in, &s, &fe) != 0) {
		snprintf(err, errlen, "SellFormula '%.60s' at price %.2f: %s", row->sell_text, price_eur_mwh, fe.reason);
		return -1;
	}
	/* PxElectr keeps Buy and Sell as DECIMAL(12,5): |value| < 1e7 c€/kWh,
	 * checked after rounding (9999999.999996 rounds to 1e7, which does not fit). */
	b = round5(b);
	s = round5(s);
	if (!(fabs(b) < 1e7) || !(fabs(s) < 1e7)) {
		int buy_bad = !(fabs(b) < 1e7);
		snprintf(err, errlen, "%s '%.60s' at price %.2f gives %g c/kWh, beyond what PxElectr can hold (1e7)",
			buy_bad ? "BuyFormula" : "SellFormula", buy_bad ? row->buy_text : row->sell_text,
			price_eur_mwh, buy_bad ? b : s);
		return -1;
	}
	*buy = b;
	*sell = s;
	return 0;
}

/* Sum behind an average: price in whole thousandths of EUR/MWh times
 * minutes, and the minutes. Exact in int64 for any month of DECIMAL(9,3)
 * prices (below 1e9 thousandths x 44640 minutes). */
struct price_sum {
	int64_t milli_minutes, minutes;
};

static void sum_add(struct price_sum *s, const struct tariff_period *p)
{
	s->milli_minutes += llround(p->price_eur_mwh * 1000.0) * p->minutes;
	s->minutes += p->minutes;
}

/* One division of two exact numbers: the same sums give the same double. */
static double sum_mean(const struct price_sum *s)
{
	return s->minutes > 0 ? (double)s->milli_minutes / ((double)s->minutes * 1000.0) : 0.0;
}

static uint64_t period_fingerprint(const struct tariff_row *row, const struct tariff_period *p,
	const struct price_sum *day, const struct price_sum *month)
{
	if (!tariff_row_uses_averages(row))
		return row->fingerprint;
	uint64_t h = fnv1a(1469598103934665603ULL, &row->fingerprint, sizeof(row->fingerprint));
	if (row->uses & FORMULA_USES_PRICE) {
		int64_t milli = llround(p->price_eur_mwh * 1000.0);
		h = fnv1a(h, "p", 1);
		h = fnv1a(h, &milli, sizeof(milli));
	}
	if (row->uses & FORMULA_USES_DAY_AVG) {
		h = fnv1a(h, "d", 1);
		h = fnv1a(h, day, sizeof(*day));
	}
	if (row->uses & FORMULA_USES_MONTH_AVG) {
		h = fnv1a(h, "m", 1);
		h = fnv1a(h, month, sizeof(*month));
	}
	return h & 0x7fffffffffffffffULL;
}

void tariff_period_place(struct tariff_period *p, int64_t start_s)
{
	struct civil_date d = brussels_date(start_s);
	p->start_s = start_s;
	p->day = civil_to_days(d.year, d.month, d.day);
	p->month = d.year * 12 + d.month - 1;
}

size_t tariff_plan(const struct tariff *t, struct tariff_period *p, size_t n)
{
	size_t stale = 0;
	for (size_t m0 = 0, m1; m0 < n; m0 = m1) {
		struct price_sum month = { 0, 0 };
		for (m1 = m0; m1 < n && p[m1].month == p[m0].month; m1++)
			sum_add(&month, &p[m1]);
		for (size_t d0 = m0, d1; d0 < m1; d0 = d1) {
			struct price_sum day = { 0, 0 };
			for (d1 = d0; d1 < m1 && p[d1].day == p[d0].day; d1++)
				sum_add(&day, &p[d1]);
			const struct tariff_row *row = tariff_for_day(t, p[d0].day);
			for (size_t i = d0; i < d1; i++) {
				p[i].row = row;
				p[i].in.price = p[i].price_eur_mwh;
				p[i].in.day_avg = sum_mean(&day);
				p[i].in.month_avg = sum_mean(&month);
				p[i].fp = row ? period_fingerprint(row, &p[i], &day, &month) : 0;
				p[i].stale = row && row->buy && row->sell && (!p[i].has_fp || p[i].stored_fp != p[i].fp);
				stale += p[i].stale;
			}
		}
	}
	return stale;
}
