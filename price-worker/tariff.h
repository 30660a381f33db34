/*
 * The contract's dated Buy/Sell formulas (FormPxElectr), which one applies
 * to a market period (the row with the latest FromDt not after the
 * period's Brussels civil date), the averages a formula may read, and
 * which stored periods must be computed again.
 *
 * Averages: day_avg and month_avg are the time-weighted means of the
 * day-ahead prices stored for the period's Brussels day and month:
 * sum(price x Minutes) / sum(Minutes), so an hourly period weighs four
 * times a quarter-hourly one and a month mixing both (2025-09-30 hourly,
 * 2025-10-01 quarter-hourly) is the mean price over its time. They are
 * summed in whole thousandths of EUR/MWh (PxElectr keeps 3 decimals), so a
 * sum is exact and says by itself whether an average changed. Until every
 * period of the day or month is stored they are the average of those
 * stored so far (provisional); each new or changed price of the month
 * changes the sum, hence the fingerprint, hence the periods recomputed.
 *
 * Fingerprint of a period (PxElectr.FormulaFp): for a row whose formulas
 * read only `price`, the row's own fingerprint (FromDt and both texts), as
 * before the averages existed; for a row reading an average, a hash of
 * the row's fingerprint, the period's price when read, and the exact sums
 * behind each average read. A period is recomputed exactly when its stored
 * fingerprint differs from the one tariff_plan computes now.
 *
 * Pure: no I/O (the calendar is the plugin's pure brussels.h). A tariff is built and used by one thread (the price
 * worker); it owns its rows, their texts and compiled formulas. Arrays of
 * periods are the caller's.
 */
#ifndef LOWI_TARIFF_H
#define LOWI_TARIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "formula.h"

struct tariff_row {
	int64_t from_day;        /* FromDt, days since 1970-01-01 */
	char *buy_text, *sell_text;
	uint64_t fingerprint;    /* of FromDt and both texts; stored with each price */
	struct formula *buy, *sell; /* NULL when the text does not compile */
	unsigned uses;           /* FORMULA_USES_* of both formulas together */
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

/* True when the row's formulas read day_avg or month_avg. */
bool tariff_row_uses_averages(const struct tariff_row *row);

/* Buy and Sell (c€/kWh) for a period's inputs (€/MWh), rounded to 5
 * decimals as the reference table keeps them. Returns 0, or -1 with a
 * reason in err (formula that did not compile, division by zero, ...). */
int tariff_prices(const struct tariff_row *row, const struct formula_inputs *in, double *buy, double *sell, char *err,
	size_t errlen);

/* One stored market period, as tariff_plan reads and fills it. */
struct tariff_period {
	/* The caller's: */
	int64_t start_s;      /* UTC s; tariff_plan only carries it */
	int64_t day;          /* Brussels day of its start, days since 1970-01-01 */
	int32_t month;        /* Brussels month of its start: year * 12 + month - 1 */
	int minutes;          /* its length: 15 or 60 (23/25 h days have more or fewer) */
	double price_eur_mwh; /* as stored (3 decimals) */
	bool has_fp;          /* FormulaFp is not NULL */
	uint64_t stored_fp;   /* FormulaFp */
	/* tariff_plan's: */
	const struct tariff_row *row; /* governing row; NULL before every row */
	struct formula_inputs in;     /* price, day_avg, month_avg */
	uint64_t fp;                  /* the fingerprint it should have */
	bool stale;                   /* row compiles and fp != FormulaFp: compute it */
};

/* Sets start_s and the Brussels day and month of a period starting at
 * start_s (UTC s): a period belongs to the day and month of its start, so
 * 2025-09-30T22:00Z opens October 2025. */
void tariff_period_place(struct tariff_period *p, int64_t start_s);

/* Fills the second half of each period and returns how many are stale.
 * p holds every stored period of whole Brussels months, in start order
 * (a month cut short gives a wrong month_avg). Rows whose formulas do not
 * compile never make a period stale: their periods are left as they are. */
size_t tariff_plan(const struct tariff *t, struct tariff_period *p, size_t n);

#endif
