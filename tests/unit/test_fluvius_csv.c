/* The grid operator's quarter-hour export (fluvius-import/fluvius_csv.h):
 * the header variants that public parsers and sample exports show (cited
 * in the README, "Compared with the grid operator"), lines with a decimal
 * comma, the ="EAN" wrapping, empty and estimated values, bad input, and
 * Brussels local time to UTC across both changes of time. */
#include <stdio.h>
#include <string.h>

#include "brussels.h"
#include "check.h"
#include "fluvius_csv.h"

/* Current Dutch export, e.g. as in the tests of several Fluvius parsers. */
static const char HDR_NL[] = "\xEF\xBB\xBFVan (datum);Van (tijdstip);Tot (datum);Tot (tijdstip);EAN-code;Meter;"
			     "Metertype;Register;Volume;Eenheid;Validatiestatus;Omschrijving\r\n";
/* Older Dutch export (patrickvorgers/Home-Assistant-Import-Energy-Data,
 * Datasources/Fluvius/Sample files/Verbruikshistoriek_elektriciteit_..._kwartiertotalen.csv). */
static const char HDR_NL_OLD[] = "Van datum;Van tijdstip;Tot datum;Tot tijdstip;EAN;Meter;Metertype;Register;Volume;"
				 "Eenheid;Validatiestatus\n";
/* English export (same repository, Consumption_history_electricity_..._15 minute totals.csv). */
static const char HDR_EN[] = "From (date);From (time);Until (date);Until (time);EAN code;Meter;Meter type;Register;"
			     "Volume;Unit;Validation status;Description\n";

static struct fluvius_columns NL;

/* UTC seconds of a UTC civil time, computed independently of the code under test's time-zone rules. */
static int64_t utc(int y, int mo, int d, int h, int mi)
{
	return civil_to_days(y, mo, d) * 86400 + h * 3600 + mi * 60;
}

static void test_headers(void)
{
	char err[200];
	struct fluvius_columns c;
	CHECK(fluvius_parse_header(HDR_NL, &NL, err, sizeof err), "%s", err);
	CHECK(NL.count == 12 && NL.from_date == 0 && NL.to_time == 3 && NL.ean == 4 && NL.reg == 7 &&
		      NL.volume == 8 && NL.unit == 9 && NL.status == 10,
	      "columns %d %d %d %d", NL.count, NL.reg, NL.volume, NL.status);
	CHECK(fluvius_parse_header(HDR_NL_OLD, &c, err, sizeof err), "%s", err);
	CHECK(c.count == 11 && c.ean == 4 && c.status == 10, "old header %d %d", c.count, c.status);
	CHECK(fluvius_parse_header(HDR_EN, &c, err, sizeof err), "%s", err);
	CHECK(c.count == 12 && c.from_time == 1 && c.unit == 9 && c.status == 10, "English header");
	/* the columns are found by name, not place */
	CHECK(fluvius_parse_header("EAN;Register;Van (datum);Van (tijdstip);Tot (datum);Tot (tijdstip);Volume;"
				   "Eenheid;Validatiestatus",
				   &c, err, sizeof err) &&
		      c.reg == 1 && c.volume == 6,
	      "reordered header");
	/* a day-total export or any other file without the needed columns */
	CHECK(!fluvius_parse_header("Datum;Afname;Injectie", &c, err, sizeof err) && strstr(err, "Van (datum)"),
	      "foreign header accepted: %s", err);
	CHECK(!fluvius_parse_header("Van (datum);Van (tijdstip);Tot (datum);Tot (tijdstip);Register;Eenheid;"
				    "Validatiestatus",
				    &c, err, sizeof err) &&
		      strstr(err, "Volume"),
	      "missing Volume: %s", err);
}

static void test_lines(void)
{
	char err[200];
	struct fluvius_line l;
	struct fluvius_columns c;
	CHECK(fluvius_parse_line("02-09-2025;00:00:00;02-09-2025;00:15:00;=\"541448820050357909\";1SAG3200193141;"
				 "Digitale meter;Afname Nacht;0,065;kWh;Uitgelezen;\r\n",
				 &NL, &l, err, sizeof err),
	      "%s", err);
	CHECK(l.reg == FLUVIUS_IMPORT_NIGHT && l.has_volume && l.wh == 65 && !l.estimated, "wh %lld", (long long)l.wh);
	CHECK(strcmp(l.ean, "541448820050357909") == 0 && strcmp(l.status, "Uitgelezen") == 0, "ean %s status %s",
	      l.ean, l.status);
	CHECK(l.from_local == civil_to_days(2025, 9, 2) * 86400 && l.to_local == l.from_local + 900, "local times");
	/* without the trailing empty description, a decimal comma over 1 kWh */
	CHECK(fluvius_parse_line("21-11-2024;17:45:00;21-11-2024;18:00:00;=\"541448820040564119\";1SAG1;"
				 "Digitale meter;Injectie Dag;1,25;kWh;Geschat",
				 &NL, &l, err, sizeof err),
	      "%s", err);
	CHECK(l.reg == FLUVIUS_EXPORT_DAY && l.wh == 1250 && l.estimated, "estimated injection %lld", (long long)l.wh);
	/* no value: the portal's "Geen verbruik" rows */
	CHECK(fluvius_parse_line("12-10-2021;00:00:00;12-10-2021;00:15:00;=\"1\";m;Digitale Meter;Injectie Nacht;;kWh;"
				 "Geen verbruik;",
				 &NL, &l, err, sizeof err) &&
		      !l.has_volume,
	      "empty volume: %s", err);
	/* the English export: dd/mm/yyyy, its register and status names */
	CHECK(fluvius_parse_header(HDR_EN, &c, err, sizeof err), "%s", err);
	CHECK(fluvius_parse_line("22/10/2023;00:15:00;22/10/2023;00:30:00;=\"1\";1SAG;Digital meter;Offtake Day;0,173;"
				 "kWh;Estimated;",
				 &c, &l, err, sizeof err),
	      "%s", err);
	CHECK(l.reg == FLUVIUS_IMPORT_DAY && l.wh == 173 && l.estimated, "English line");
	/* the older export, 11 columns */
	CHECK(fluvius_parse_header(HDR_NL_OLD, &c, err, sizeof err) &&
		      fluvius_parse_line("12-10-2021;07:30:00;12-10-2021;07:45:00;=\"1\";1SAG;Digitale Meter;Afname Dag;"
					 "0,067;kWh;Gevalideerd",
					 &c, &l, err, sizeof err) &&
		      l.wh == 67 && !l.estimated,
	      "old line: %s", err);

	static const struct {
		const char *line, *reason;
	} bad[] = {
		{"02-09-2025;00:00:00;02-09-2025;00:15:00;1;m;t;Afname Actief;0,1;kWh;Gevalideerd;", "unknown register"},
		{"02-09-2025;00:00:00;02-09-2025;00:15:00;1;m;t;Afname Dag;0,1234;kWh;Gevalideerd;", "bad volume"},
		{"02-09-2025;00:00:00;02-09-2025;00:15:00;1;m;t;Afname Dag;-0,1;kWh;Gevalideerd;", "bad volume"},
		{"02-09-2025;00:00:00;02-09-2025;00:15:00;1;m;t;Afname Dag;1.234,5;kWh;Gevalideerd;", "bad volume"},
		{"02-09-2025;00:00:00;02-09-2025;00:15:00;1;m;t;Afname Dag;abc;kWh;Gevalideerd;", "bad volume"},
		{"02-09-2025;00:00:00;02-09-2025;00:15:00;1;m;t;Afname;0,1;m\xC2\xB3;Gevalideerd;", "unknown register"},
		{"02-09-2025;00:00:00;02-09-2025;00:15:00;1;m;t;Afname Dag;0,1;m\xC2\xB3;Gevalideerd;", "unit"},
		{"31-04-2025;00:00:00;31-04-2025;00:15:00;1;m;t;Afname Dag;0,1;kWh;Gevalideerd;", "bad start"},
		{"2025-09-02;00:00:00;02-09-2025;00:15:00;1;m;t;Afname Dag;0,1;kWh;Gevalideerd;", "bad start"},
		{"02-09-2025;00:00:00;02-09-2025;24:00:00;1;m;t;Afname Dag;0,1;kWh;Gevalideerd;", "bad end"},
		{"02-09-2025;00:00:00;02-09-2025;00:15:00;1;m;t;Afname Dag;0,1", "fields"},
		{"02-09-2025;00:00:00;02-09-2025;00:15:00;1;m;t;Afname Dag;0,1;kWh;Gevalideerd;;extra", "fields"},
		{"02-09-2025;00:00:00;02-09-2025;00:15:00;=\"1;m;t;Afname Dag;0,1;kWh;Gevalideerd;", "fields"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = '\0';
		CHECK(!fluvius_parse_line(bad[i].line, &NL, &l, err, sizeof err) && strstr(err, bad[i].reason),
		      "line %zu: want \"%s\", got \"%s\"", i, bad[i].reason, err);
	}

	int64_t wh;
	CHECK(fluvius_parse_kwh("12,5", 4, &wh) && wh == 12500, "12,5");
	CHECK(fluvius_parse_kwh("0.001", 5, &wh) && wh == 1, "0.001");
	CHECK(fluvius_parse_kwh("7", 1, &wh) && wh == 7000, "7");
	CHECK(!fluvius_parse_kwh(",5", 2, &wh) && !fluvius_parse_kwh("5,", 2, &wh) && !fluvius_parse_kwh("", 0, &wh),
	      "malformed numbers");
}

/* A line of register reg (0 = Afname Dag ...) from a local start to a local end, on the last Sunday of a month. */
static struct fluvius_line at(int y, int mo, int d, int h, int mi, int th, int tmi, enum fluvius_register reg)
{
	struct fluvius_line l = {.reg = reg, .has_volume = true, .wh = 1};
	l.from_local = civil_to_days(y, mo, d) * 86400 + h * 3600 + mi * 60;
	l.to_local = civil_to_days(y, mo, d) * 86400 + th * 3600 + tmi * 60;
	if (th < h)
		l.to_local += 86400;
	return l;
}

static void test_local_time(void)
{
	int64_t u[2];
	/* 2026: summer time from Sunday 29 March, 01:00 UTC, to Sunday 25 October, 01:00 UTC */
	CHECK(fluvius_local_to_utc(civil_to_days(2026, 1, 15) * 86400 + 12 * 3600, u) == 1 &&
		      u[0] == utc(2026, 1, 15, 11, 0),
	      "winter noon");
	CHECK(fluvius_local_to_utc(civil_to_days(2026, 7, 15) * 86400 + 12 * 3600, u) == 1 &&
		      u[0] == utc(2026, 7, 15, 10, 0),
	      "summer noon");
	CHECK(fluvius_local_to_utc(civil_to_days(2026, 3, 29) * 86400 + 2 * 3600 + 30 * 60, u) == 0,
	      "02:30 on 29 March 2026 does not exist");
	CHECK(fluvius_local_to_utc(civil_to_days(2026, 3, 29) * 86400 + 3 * 3600, u) == 1 &&
		      u[0] == utc(2026, 3, 29, 1, 0),
	      "03:00 CEST");
	CHECK(fluvius_local_to_utc(civil_to_days(2026, 10, 25) * 86400 + 2 * 3600 + 15 * 60, u) == 2 &&
		      u[0] == utc(2026, 10, 25, 0, 15) && u[1] == utc(2026, 10, 25, 1, 15),
	      "02:15 on 25 October 2026 twice");

	/* October, in the portal's order: each quarter's day register then its
	 * night register, 01:45 to 03:00 local with 02:00-02:45 twice: ten
	 * consecutive UTC quarters per register, from 23:45 UTC on the 24th. */
	struct fluvius_clock clock;
	fluvius_clock_init(&clock);
	static const int local[][2] = {{1, 45}, {2, 0}, {2, 15}, {2, 30}, {2, 45},
				       {2, 0},  {2, 15}, {2, 30}, {2, 45}, {3, 0}};
	char err[200];
	for (int i = 0; i < 10; i++) {
		int th = local[i][0], tm = local[i][1] + 15;
		if (tm == 60) {
			th++;
			tm = 0;
		}
		for (int reg = 0; reg < 2; reg++) {
			struct fluvius_line l = at(2026, 10, 25, local[i][0], local[i][1], th, tm, (enum fluvius_register)reg);
			int64_t got;
			bool r = fluvius_clock_resolve(&clock, &l, &got, err, sizeof err);
			int64_t want = utc(2026, 10, 24, 23, 45) + 900 * i;
			CHECK(r && got == want, "October quarter %d reg %d: %s got %lld want %lld", i, reg, r ? "" : err,
			      (long long)got, (long long)want);
		}
	}
	/* a third 02:00 is the same quarter twice */
	struct fluvius_line again = at(2026, 10, 25, 2, 0, 2, 15, FLUVIUS_IMPORT_DAY);
	int64_t got;
	CHECK(!fluvius_clock_resolve(&clock, &again, &got, err, sizeof err) && strstr(err, "not after"),
	      "third pass: %s", err);
	/* the end written as the instant (02:45 summer ends at 02:00 winter) */
	fluvius_clock_init(&clock);
	struct fluvius_line first = at(2026, 10, 25, 2, 45, 2, 0, FLUVIUS_EXPORT_DAY);
	first.to_local = first.from_local - 45 * 60;
	CHECK(fluvius_clock_resolve(&clock, &first, &got, err, sizeof err) && got == utc(2026, 10, 25, 0, 45),
	      "02:45-02:00: %s", err);

	/* March: 01:45 ends at 03:00 on the wall clock, 02:00 does not exist */
	fluvius_clock_init(&clock);
	struct fluvius_line m1 = at(2026, 3, 29, 1, 45, 3, 0, FLUVIUS_IMPORT_DAY);
	CHECK(fluvius_clock_resolve(&clock, &m1, &got, err, sizeof err) && got == utc(2026, 3, 29, 0, 45),
	      "March 01:45-03:00: %s", err);
	struct fluvius_line m1b = at(2026, 3, 29, 1, 45, 2, 0, FLUVIUS_IMPORT_NIGHT);
	CHECK(fluvius_clock_resolve(&clock, &m1b, &got, err, sizeof err) && got == utc(2026, 3, 29, 0, 45),
	      "March 01:45-02:00: %s", err);
	struct fluvius_line m2 = at(2026, 3, 29, 2, 0, 2, 15, FLUVIUS_IMPORT_DAY);
	CHECK(!fluvius_clock_resolve(&clock, &m2, &got, err, sizeof err) && strstr(err, "does not exist"),
	      "March 02:00: %s", err);
	struct fluvius_line m3 = at(2026, 3, 29, 3, 0, 3, 15, FLUVIUS_IMPORT_DAY);
	CHECK(fluvius_clock_resolve(&clock, &m3, &got, err, sizeof err) && got == utc(2026, 3, 29, 1, 0),
	      "March 03:00: %s", err);

	/* the same quarter twice */
	struct fluvius_line twice = at(2026, 3, 29, 3, 0, 3, 15, FLUVIUS_IMPORT_DAY);
	CHECK(!fluvius_clock_resolve(&clock, &twice, &got, err, sizeof err) && strstr(err, "twice"),
	      "03:00 twice: %s", err);
	/* out of order, off the grid, not a quarter */
	struct fluvius_line back = at(2026, 3, 29, 1, 45, 3, 0, FLUVIUS_IMPORT_DAY);
	CHECK(!fluvius_clock_resolve(&clock, &back, &got, err, sizeof err) && strstr(err, "not after"),
	      "out of order: %s", err);
	struct fluvius_line off = at(2026, 3, 29, 5, 10, 5, 25, FLUVIUS_IMPORT_DAY);
	CHECK(!fluvius_clock_resolve(&clock, &off, &got, err, sizeof err) && strstr(err, "quarter hour"),
	      "off grid: %s", err);
	struct fluvius_line day = at(2026, 3, 30, 0, 0, 0, 0, FLUVIUS_IMPORT_DAY);
	day.to_local += 86400;
	CHECK(!fluvius_clock_resolve(&clock, &day, &got, err, sizeof err) && strstr(err, "kwartiertotalen"),
	      "day total: %s", err);
}

int main(void)
{
	test_headers();
	test_lines();
	test_local_time();
	return check_finish("fluvius_csv");
}
