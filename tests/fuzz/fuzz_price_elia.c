/*
 * libFuzzer target: price-worker/price_parse.h price_parse_elia on arbitrary
 * bodies, read for fixed Brussels days (a 24-hour and a 25-hour day with
 * 3600 s periods, a 100-quarter and a 96-quarter day with 900 s periods,
 * and a five-day range across the switch to quarters, price_market.h).
 * Invariants: no crash, no leak; the result obeys price_parse.h (points
 * sorted, unique, inside the day, on the period, prices in range; reason
 * NUL-terminated; MALFORMED and NOT_YET carry no points); the result does
 * not depend on an earlier call; free resets it.
 * Seeds: tests/corpus/elia.
 */
#include <stdint.h>
#include <string.h>

#include "price_check.h"

struct day {
	int period_s;
	int64_t start, end;
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct day days[] = {
		{ 3600, fuzz_midnight(2025, 1, 15), fuzz_midnight(2025, 1, 16) },
		{ 3600, fuzz_midnight(2024, 10, 27), fuzz_midnight(2024, 10, 28) },
		{ 900, fuzz_midnight(2025, 10, 26), fuzz_midnight(2025, 10, 27) },
		{ 900, fuzz_midnight(2025, 11, 15), fuzz_midnight(2025, 11, 16) },
		{ 900, fuzz_day_start(PRICE_QUARTER_HOUR_FIRST_DAY - 2), fuzz_day_start(PRICE_QUARTER_HOUR_FIRST_DAY + 3) },
	};
	const char *body = (const char *)data;
	for (size_t i = 0; i < sizeof(days) / sizeof(days[0]); i++) {
		struct price_parse_result r, again;
		memset(&r, 0xa5, sizeof(r)); /* "fully (re)initialised by every parse call" */
		enum price_parse_status st = price_parse_elia(body, size, days[i].period_s, days[i].start, days[i].end, &r);
		check_price_result(st, &r, days[i].period_s, days[i].start, days[i].end);
		memset(&again, 0, sizeof(again));
		FUZZ_CHECK(price_parse_elia(body, size, days[i].period_s, days[i].start, days[i].end, &again) == st
			&& same_price_result(&r, &again),
			"second parse differs");
		price_parse_result_free(&again);
		price_parse_result_free(&r);
		FUZZ_CHECK(r.points == NULL && r.count == 0, "free left points");
		price_parse_result_free(&r);
	}
	return 0;
}
