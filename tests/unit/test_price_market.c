/* The quarter-hour cut-over of price_market.h: the day number is the date
 * its comment names, and the period length flips exactly there. */
#include "brussels.h"
#include "check.h"
#include "price_market.h"

int main(void)
{
	int64_t first = PRICE_QUARTER_HOUR_FIRST_DAY;
	CHECK(first == civil_to_days(2025, 10, 1), "cut-over day %lld is 2025-10-01", (long long)first);
	struct civil_date d = days_to_civil(first);
	CHECK(d.year == 2025 && d.month == 10 && d.day == 1, "and back: %04d-%02d-%02d", d.year, d.month, d.day);
	CHECK(price_market_period_s(first - 1) == 3600, "the day before: hourly");
	CHECK(price_market_period_s(first) == 900, "the day itself: quarters");
	CHECK(price_market_period_s(first + 365) == 900, "a year on: quarters");
	CHECK(price_market_period_s(0) == 3600, "1970: hourly");
	/* 2025-10-01 00:00 in Brussels (summer time, UTC+2) is this instant;
	 * tests/price-fixtures/server.py derives the same from the header. */
	CHECK(brussels_local_to_utc(first, 0) == 1759269600, "cut-over instant %lld",
		(long long)brussels_local_to_utc(first, 0));
	return check_finish("price_market");
}
