/*
 * libFuzzer target: price-worker/price_parse.h price_parse_energy_charts on
 * arbitrary bodies, read for fixed Brussels days (an hourly day, the
 * 25-hour and the 100-quarter DST days, and a five-day range across the
 * switch from hourly to quarter-hourly periods, price_market.h).
 * Invariants: no crash, no leak; the result obeys price_parse.h (points
 * sorted, unique, inside the range, period 900 or 3600 and start on it,
 * prices in range; reason NUL-terminated; MALFORMED and NOT_YET carry no
 * points); the result is the same when parsed again; free resets it.
 * Seeds: tests/corpus/energy-charts.
 */
#include <stdint.h>
#include <string.h>

#include "price_check.h"

struct day {
	int64_t start, end;
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct day days[] = {
		{ fuzz_day_start(PRICE_QUARTER_HOUR_FIRST_DAY - 1), fuzz_day_start(PRICE_QUARTER_HOUR_FIRST_DAY) },
		{ fuzz_midnight(2024, 10, 27), fuzz_midnight(2024, 10, 28) },
		{ fuzz_midnight(2025, 10, 26), fuzz_midnight(2025, 10, 27) },
		{ fuzz_midnight(2025, 11, 15), fuzz_midnight(2025, 11, 16) },
		{ fuzz_day_start(PRICE_QUARTER_HOUR_FIRST_DAY - 2), fuzz_day_start(PRICE_QUARTER_HOUR_FIRST_DAY + 3) },
	};
	const char *body = (const char *)data;
	for (size_t i = 0; i < sizeof(days) / sizeof(days[0]); i++) {
		struct price_parse_result r, again;
		memset(&r, 0xa5, sizeof(r));
		enum price_parse_status st = price_parse_energy_charts(body, size, days[i].start, days[i].end, &r);
		check_price_result(st, &r, 0, days[i].start, days[i].end);
		memset(&again, 0, sizeof(again));
		FUZZ_CHECK(price_parse_energy_charts(body, size, days[i].start, days[i].end, &again) == st
			&& same_price_result(&r, &again),
			"second parse differs");
		price_parse_result_free(&again);
		price_parse_result_free(&r);
		FUZZ_CHECK(r.points == NULL && r.count == 0, "free left points");
	}
	return 0;
}
