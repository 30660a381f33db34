/*
 * Belgian civil time (Europe/Brussels) without a time-zone database.
 *
 * Billing months and days follow Belgian civil time, while every stored
 * timestamp is UTC. The EU rule fixes the offsets: CET (UTC+1), and CEST
 * (UTC+2) from the last Sunday of March 01:00 UTC to the last Sunday of
 * October 01:00 UTC.
 *
 * Pure functions: callable from any thread, no allocation, no I/O.
 */
#ifndef LOWI_BRUSSELS_H
#define LOWI_BRUSSELS_H

#include <stdint.h>

struct civil_date {
	int year;
	int month; /* 1..12 */
	int day;   /* 1..31 */
};

/* Days since 1970-01-01 of a proleptic Gregorian date. */
int64_t civil_to_days(int year, int month, int day);
/* Inverse of civil_to_days. */
struct civil_date days_to_civil(int64_t days);

/* UTC instant (seconds) at which summer time starts / ends in a year. */
int64_t brussels_dst_start_utc(int year);
int64_t brussels_dst_end_utc(int year);

/* Offset of Brussels civil time from UTC at a UTC instant: 3600 or 7200. */
int brussels_offset_s(int64_t utc_s);

/* Brussels civil date of a UTC instant. */
struct civil_date brussels_date(int64_t utc_s);

/* UTC instant of a Brussels wall-clock time: seconds_of_day after midnight
 * of the civil day `days` (days since 1970-01-01). Exact outside the hour
 * skipped or repeated by a DST change, which no caller here asks for. */
int64_t brussels_local_to_utc(int64_t days, int seconds_of_day);

/* First day of the Brussels calendar month holding a UTC instant: the `Mois`
 * of a Pics row. A quarter is placed by its start instant. */
struct civil_date brussels_month_of(int64_t utc_s);

#endif
