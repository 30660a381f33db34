/* Dated contract formulas; see tariff.h. */
#include "tariff.h"

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

int tariff_prices(const struct tariff_row *row, double price_eur_mwh, double *buy, double *sell, char *err, size_t errlen)
{
	if (row->buy == NULL || row->sell == NULL) {
		snprintf(err, errlen, "%s", row->problem);
		return -1;
	}
	struct formula_error fe;
	double b, s;
	if (formula_eval(row->buy, price_eur_mwh, &b, &fe) != 0) {
		snprintf(err, errlen, "BuyFormula '%.60s' at price %.2f: %s", row->buy_text, price_eur_mwh, fe.reason);
		return -1;
	}
	if (formula_eval(row->sell, price_eur_mwh, &s, &fe) != 0) {
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
