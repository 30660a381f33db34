/* Brussels civil calendar: DST instants and the month a quarter belongs to. */
#include <string.h>

#include "brussels.h"
#include "check.h"

static int64_t utc(int y, int mo, int d, int h, int mi)
{
	return civil_to_days(y, mo, d) * 86400 + h * 3600 + mi * 60;
}

static void expect_month(int64_t t, int y, int m, const char *what)
{
	struct civil_date d = brussels_month_of(t);
	CHECK(d.year == y && d.month == m && d.day == 1, "%s: got %04d-%02d-%02d, want %04d-%02d-01", what, d.year, d.month, d.day, y, m);
}

int main(void)
{
	/* Round trip over a wide range of days. */
	int bad = 0;
	for (int64_t day = -800000; day < 800000; day += 7) {
		struct civil_date d = days_to_civil(day);
		if (civil_to_days(d.year, d.month, d.day) != day)
			bad++;
	}
	CHECK(bad == 0, "%d days did not round-trip", bad);
	CHECK(civil_to_days(1970, 1, 1) == 0, "epoch");
	CHECK(civil_to_days(2000, 3, 1) == 11017, "2000-03-01");

	/* EU summer time: last Sunday of March / October at 01:00 UTC. */
	CHECK(brussels_dst_start_utc(2025) == utc(2025, 3, 30, 1, 0), "DST start 2025");
	CHECK(brussels_dst_end_utc(2025) == utc(2025, 10, 26, 1, 0), "DST end 2025");
	CHECK(brussels_dst_start_utc(2026) == utc(2026, 3, 29, 1, 0), "DST start 2026");
	CHECK(brussels_dst_end_utc(2026) == utc(2026, 10, 25, 1, 0), "DST end 2026");
	CHECK(brussels_dst_start_utc(2024) == utc(2024, 3, 31, 1, 0), "DST start 2024 (31st is a Sunday)");
	CHECK(brussels_offset_s(utc(2026, 3, 29, 0, 59)) == 3600, "just before DST start");
	CHECK(brussels_offset_s(utc(2026, 3, 29, 1, 0)) == 7200, "at DST start");
	CHECK(brussels_offset_s(utc(2026, 10, 25, 0, 59)) == 7200, "just before DST end");
	CHECK(brussels_offset_s(utc(2026, 10, 25, 1, 0)) == 3600, "at DST end");

	/* Month boundaries: a quarter belongs to the Brussels month of its start. */
	expect_month(utc(2026, 1, 31, 22, 45), 2026, 1, "2026-01-31 22:45 UTC = 23:45 CET");
	expect_month(utc(2026, 1, 31, 23, 0), 2026, 2, "2026-01-31 23:00 UTC = 00:00 CET Feb");
	expect_month(utc(2026, 3, 31, 21, 45), 2026, 3, "2026-03-31 21:45 UTC = 23:45 CEST");
	expect_month(utc(2026, 3, 31, 22, 0), 2026, 4, "2026-03-31 22:00 UTC = 00:00 CEST Apr");
	expect_month(utc(2026, 3, 31, 22, 59), 2026, 4, "UTC month still March, Brussels April");
	expect_month(utc(2025, 10, 31, 22, 45), 2025, 10, "2025-10-31 22:45 UTC = 23:45 CET");
	expect_month(utc(2025, 10, 31, 23, 0), 2025, 11, "2025-10-31 23:00 UTC = 00:00 CET Nov");
	expect_month(utc(2025, 12, 31, 23, 0), 2026, 1, "new year in Brussels, not yet in UTC");
	/* DST change days themselves stay in their month. */
	expect_month(utc(2026, 3, 29, 0, 45), 2026, 3, "DST start day before the change");
	expect_month(utc(2026, 3, 29, 1, 0), 2026, 3, "DST start day after the change");
	expect_month(utc(2026, 10, 25, 0, 45), 2026, 10, "DST end day, first 02:45 CEST");
	expect_month(utc(2026, 10, 25, 1, 45), 2026, 10, "DST end day, second 02:45 CET");

	struct civil_date d = brussels_date(utc(2026, 3, 28, 23, 30));
	CHECK(d.day == 29 && d.month == 3, "2026-03-28 23:30 UTC is the 29th in Brussels");
	d = brussels_date(utc(2026, 6, 30, 22, 0));
	CHECK(d.day == 1 && d.month == 7, "2026-06-30 22:00 UTC is 1 July 00:00 CEST");
	/* Midnight and 13:00 in Brussels, on ordinary and DST days. */
	CHECK(brussels_local_to_utc(civil_to_days(2026, 1, 15), 0) == utc(2026, 1, 14, 23, 0), "winter midnight");
	CHECK(brussels_local_to_utc(civil_to_days(2026, 7, 1), 0) == utc(2026, 6, 30, 22, 0), "summer midnight");
	CHECK(brussels_local_to_utc(civil_to_days(2026, 3, 29), 0) == utc(2026, 3, 28, 23, 0), "DST start day midnight");
	CHECK(brussels_local_to_utc(civil_to_days(2026, 3, 30), 0) == utc(2026, 3, 29, 22, 0), "day after DST start");
	CHECK(brussels_local_to_utc(civil_to_days(2026, 10, 25), 0) == utc(2026, 10, 24, 22, 0), "DST end day midnight");
	CHECK(brussels_local_to_utc(civil_to_days(2026, 10, 26), 0) == utc(2026, 10, 25, 23, 0), "day after DST end");
	CHECK(brussels_local_to_utc(civil_to_days(2026, 3, 29), 13 * 3600) == utc(2026, 3, 29, 11, 0), "13:00 on DST start day");
	CHECK(brussels_local_to_utc(civil_to_days(2026, 10, 25), 13 * 3600) == utc(2026, 10, 25, 12, 0), "13:00 on DST end day");
	return check_finish("brussels");
}
