/*
 * libFuzzer target: price-worker/formula.h (compile + eval) and the
 * tariff.h row built from the same text, on arbitrary text.
 * The averages (day_avg, month_avg) take other values of the same lists
 * than the price, so every variable is exercised.
 * Invariants (formula.h): compile never crashes, leaks or recurses past its
 * depth limit; on failure the reason is non-empty, NUL-terminated and its
 * position lies within the text (or at FORMULA_MAX_BYTES for an over-long
 * one); on success err is reset (position 0, empty reason). Evaluation at a
 * few prices either gives a finite result that is never -0, or -1 with a
 * NUL-terminated reason and a position inside the text; it is
 * deterministic; a non-finite input is always an error; formula_uses
 * names only variables whose names are in the text. For the prices
 * the parsers let through, tariff_prices gives Buy and Sell that
 * PxElectr.Buy/Sell (DECIMAL(12,5)) and price_store.c's 32-byte text
 * buffers can hold (finite, |v| < 1e7), or -1 with a NUL-terminated reason.
 * Seeds: tests/corpus/formula.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "formula.h"
#include "fuzz_check.h"
#include "tariff.h"

static const double prices[] = {
	0.0, -0.0, 41.88, -500.0, 4000.0, -1000.0, 10000.0, 0.1, 1e-300, 93.91, 1e300,
};
/* Within [PRICE_MIN_EUR_MWH, PRICE_MAX_EUR_MWH]: what reaches tariff_prices. */
static const double market_prices[] = { 0.0, 41.88, -500.0, 4000.0, -1000.0, 10000.0, 0.001 };
#define NPRICES (sizeof(prices) / sizeof(prices[0]))
#define NMARKET (sizeof(market_prices) / sizeof(market_prices[0]))
#define DECIMAL_12_5_MAX 9999999.99999

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	size_t len = strlen(text); /* the formula ends at the first NUL */

	struct formula_error err;
	memset(&err, 0xa5, sizeof(err));
	struct formula *f = formula_compile(text, &err);
	FUZZ_CHECK(FUZZ_NUL_TERMINATED(err.reason), "compile reason not NUL-terminated");
	if (f == NULL) {
		FUZZ_CHECK(err.reason[0] != '\0', "compile failed without a reason");
		FUZZ_CHECK(err.position <= len || (len > FORMULA_MAX_BYTES && err.position == FORMULA_MAX_BYTES),
			"position %zu beyond the %zu-byte text (%s)", err.position, len, err.reason);
		FUZZ_CHECK(formula_compile(text, NULL) == NULL, "compiles without err");
	} else {
		FUZZ_CHECK(len <= FORMULA_MAX_BYTES, "%zu-byte text compiled", len);
		FUZZ_CHECK(err.position == 0 && err.reason[0] == '\0', "success left reason \"%s\"", err.reason);
		unsigned uses = formula_uses(f);
		FUZZ_CHECK(!(uses & FORMULA_USES_PRICE) || strstr(text, "price"), "uses price without the name");
		FUZZ_CHECK(!(uses & FORMULA_USES_DAY_AVG) || strstr(text, "day_avg"), "uses day_avg without the name");
		FUZZ_CHECK(!(uses & FORMULA_USES_MONTH_AVG) || strstr(text, "month_avg"), "uses month_avg without the name");
		for (size_t i = 0; i < NPRICES; i++) {
			/* The averages take other values of the list than the price. */
			const struct formula_inputs in = { prices[i], prices[(i + 3) % NPRICES], prices[(i + 5) % NPRICES] };
			double out = 12345.0, again = 54321.0;
			struct formula_error e1, e2;
			memset(&e1, 0xa5, sizeof(e1));
			int rc = formula_eval(f, &in, &out, &e1);
			FUZZ_CHECK(rc == 0 || rc == -1, "eval returned %d", rc);
			FUZZ_CHECK(FUZZ_NUL_TERMINATED(e1.reason), "eval reason not NUL-terminated");
			if (rc == 0) {
				FUZZ_CHECK(isfinite(out), "price %g gives %g", prices[i], out);
				FUZZ_CHECK(!(out == 0.0 && signbit(out)), "price %g gives -0", prices[i]);
				FUZZ_CHECK(e1.position == 0 && e1.reason[0] == '\0', "success left reason \"%s\"", e1.reason);
			} else {
				FUZZ_CHECK(out == 12345.0, "failed eval wrote *out");
				FUZZ_CHECK(e1.reason[0] != '\0', "eval failed without a reason");
				FUZZ_CHECK(e1.position <= len, "eval position %zu beyond the %zu-byte text", e1.position, len);
			}
			int rc2 = formula_eval(f, &in, &again, &e2);
			FUZZ_CHECK(rc2 == rc && (rc != 0 || memcmp(&out, &again, sizeof(out)) == 0),
				"eval not deterministic at price %g", prices[i]);
			FUZZ_CHECK(formula_eval(f, &in, &again, NULL) == rc, "verdict changes without err");
		}
		double out = 1.0;
		FUZZ_CHECK(formula_eval(f, &(struct formula_inputs){ .price = NAN }, &out, &err) == -1 && out == 1.0, "NaN price accepted");
		FUZZ_CHECK(formula_eval(f, &(struct formula_inputs){ .price = INFINITY }, &out, NULL) == -1, "infinite price accepted");
		FUZZ_CHECK(formula_eval(f, &(struct formula_inputs){ .day_avg = NAN }, &out, NULL) == -1, "NaN day_avg accepted");
		FUZZ_CHECK(formula_eval(f, &(struct formula_inputs){ .month_avg = -INFINITY }, &out, NULL) == -1,
			"infinite month_avg accepted");
		formula_free(f);
	}

	/* The same text as a contract row: Buy and Sell rounded to 5 decimals. */
	struct tariff t;
	tariff_init(&t);
	if (tariff_add(&t, 18262, text, "price/10") == 0) {
		const struct tariff_row *row = tariff_for_day(&t, 20000);
		FUZZ_CHECK(row != NULL && tariff_for_day(&t, 18261) == NULL, "tariff_for_day");
		FUZZ_CHECK(FUZZ_NUL_TERMINATED(row->problem), "problem not NUL-terminated");
		FUZZ_CHECK((row->buy == NULL) == (row->problem[0] != '\0'), "problem \"%s\" vs compiled %d",
			row->problem, row->buy != NULL);
		FUZZ_CHECK(row->fingerprint < (UINT64_C(1) << 63), "fingerprint above 2^63");
		for (size_t i = 0; i < NMARKET; i++) {
			double buy = 0, sell = 0;
			char why[200];
			memset(why, 0xa5, sizeof(why));
			const struct formula_inputs in = { market_prices[i], market_prices[(i + 2) % NMARKET],
				market_prices[(i + 4) % NMARKET] };
			if (tariff_prices(row, &in, &buy, &sell, why, sizeof(why)) == 0) {
				int ok = isfinite(buy) && isfinite(sell) && fabs(buy) <= DECIMAL_12_5_MAX && fabs(sell) <= DECIMAL_12_5_MAX;
				FUZZ_CHECK(ok, "formula \"%.60s\" at price %g: Buy %g, Sell %g do not fit DECIMAL(12,5)",
					text, market_prices[i], buy, sell);
			} else {
				FUZZ_CHECK(FUZZ_NUL_TERMINATED(why) && why[0] != '\0', "tariff_prices failed without a reason");
			}
		}
	}
	tariff_free(&t);
	free(text);
	return 0;
}
