/* Dated contract formulas: which row applies, and the reference sample. */
#include <math.h>
#include <string.h>

#include "brussels.h"
#include "check.h"
#include "tariff.h"

/* Inputs with only a price: the averages are 0. */
#define AT(p) (&(struct formula_inputs){ .price = (p) })

int main(void)
{
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
