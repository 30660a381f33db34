/*
 * The day-ahead market's time unit. The EPEX SPOT day-ahead auction for
 * Belgium cleared hourly periods up to delivery day 2025-09-30 and clears
 * 15-minute periods from delivery day 2025-10-01 on: a stored day before
 * the cut-over has 23, 24 or 25 rows of 60 minutes, one from it 92, 96 or
 * 100 rows of 15. Every use of that date in the code goes through this
 * header, so the rule has one spelling.
 *
 * tests/price-fixtures/server.py reads PRICE_QUARTER_HOUR_FIRST_DAY from
 * this file (keep it one #define with a decimal number), and the unit test
 * test_price_market checks the number against the date. Pure; any thread.
 */
#ifndef LOWI_PRICE_MARKET_H
#define LOWI_PRICE_MARKET_H

#include <stdint.h>

/* The first delivery day with 15-minute periods, 2025-10-01, in days since
 * 1970-01-01 (the day numbers of brussels.h). */
#define PRICE_QUARTER_HOUR_FIRST_DAY 20362

/* The length of the market periods of a Brussels delivery day. */
static inline int price_market_period_s(int64_t day)
{
	return day >= PRICE_QUARTER_HOUR_FIRST_DAY ? 900 : 3600;
}

#endif
