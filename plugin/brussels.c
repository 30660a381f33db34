/*
 * Belgian civil calendar arithmetic; see brussels.h.
 * Day counting uses the era-based Gregorian algorithm (400-year eras of
 * 146097 days), which is exact for every year of interest here.
 */
#include "brussels.h"

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

int64_t civil_to_days(int year, int month, int day)
{
	int64_t y = (int64_t)year - (month <= 2);
	int64_t era = floor_div(y, 400);
	int64_t yoe = y - era * 400;
	int64_t mp = (month + 9) % 12; /* March = 0 */
	int64_t doy = (153 * mp + 2) / 5 + day - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

struct civil_date days_to_civil(int64_t days)
{
	int64_t z = days + 719468;
	int64_t era = floor_div(z, 146097);
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	struct civil_date d;
	d.day = (int)(doy - (153 * mp + 2) / 5 + 1);
	d.month = (int)(mp < 10 ? mp + 3 : mp - 9);
	d.year = (int)(yoe + era * 400 + (d.month <= 2));
	return d;
}

/* 1970-01-01 was a Thursday: weekday 0 = Sunday gives (days + 4) mod 7. */
static int weekday(int64_t days)
{
	return (int)(((days + 4) % 7 + 7) % 7);
}

static int64_t last_sunday_0100_utc(int year, int month)
{
	int64_t last = civil_to_days(year, month + 1, 1) - 1;
	last -= weekday(last);
	return last * 86400 + 3600;
}

int64_t brussels_dst_start_utc(int year)
{
	return last_sunday_0100_utc(year, 3);
}

int64_t brussels_dst_end_utc(int year)
{
	return last_sunday_0100_utc(year, 10);
}

int brussels_offset_s(int64_t utc_s)
{
	int year = days_to_civil(floor_div(utc_s, 86400)).year;
	if (utc_s >= brussels_dst_start_utc(year) && utc_s < brussels_dst_end_utc(year))
		return 7200;
	return 3600;
}

struct civil_date brussels_date(int64_t utc_s)
{
	return days_to_civil(floor_div(utc_s + brussels_offset_s(utc_s), 86400));
}

struct civil_date brussels_month_of(int64_t utc_s)
{
	struct civil_date d = brussels_date(utc_s);
	d.day = 1;
	return d;
}

int64_t brussels_local_to_utc(int64_t days, int seconds_of_day)
{
	int64_t local = days * 86400 + seconds_of_day;
	/* Try winter time first; if that instant is in summer time, it was CEST. */
	return brussels_offset_s(local - 3600) == 3600 ? local - 3600 : local - 7200;
}
