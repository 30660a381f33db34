/*
 * The contract's dated Buy/Sell formulas (FormPxElectr) and which one
 * applies to a market period: the row with the latest FromDt not after the
 * period's Brussels civil date.
 *
 * Pure: no I/O. A tariff is built and used by one thread (the price
 * worker); it owns its rows, their texts and compiled formulas.
 */
#ifndef LOWI_TARIFF_H
#define LOWI_TARIFF_H

#include <stddef.h>
#include <stdint.h>

#include "formula.h"

struct tariff_row {
	int64_t from_day;        /* FromDt, days since 1970-01-01 */
	char *buy_text, *sell_text;
	uint64_t fingerprint;    /* of FromDt and both texts; stored with each price */
	struct formula *buy, *sell; /* NULL when the text does not compile */
	char problem[320];       /* why not, for the log */
};

struct tariff {
	struct tariff_row *rows; /* sorted by from_day */
	size_t count;
	uint64_t fingerprint;    /* of the whole set: changes when any row changes */
};

void tariff_init(struct tariff *t);
void tariff_free(struct tariff *t);

/* Adds a row (texts copied, formulas compiled). Rows may come in any order.
 * Returns 0, or -1 when out of memory. A formula that does not compile is
 * kept with its problem, so its periods are left untouched, never guessed. */
int tariff_add(struct tariff *t, int64_t from_day, const char *buy, const char *sell);

/* The row governing a Brussels day, or NULL when the day is before every row. */
const struct tariff_row *tariff_for_day(const struct tariff *t, int64_t day);

/* Buy and Sell (c€/kWh) for a price (€/MWh), rounded to 5 decimals as the
 * reference table keeps them. Returns 0, or -1 with a reason in err
 * (formula that did not compile, division by zero, ...). */
int tariff_prices(const struct tariff_row *row, double price_eur_mwh, double *buy, double *sell, char *err, size_t errlen);

#endif
