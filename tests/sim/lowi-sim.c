/*
 * lowi-sim -- LOWI P1 dongle simulator for the lowi-p1 tests.
 *
 * Publishes realistic LOWI CH0 payloads (`<serial>/PUB/CH0`) for 1..N meters in
 * wall-clock time.  Every time value comes from clock_gettime(CLOCK_REALTIME) and
 * every wait from nanosleep(), so the program can be run under libfaketime with an
 * accelerated clock (FAKETIME_DONT_RESET=1 faketime -f '@2026-01-15 00:00:00 x600').
 * The only exception: the end-of-run drain timeouts (waiting for PUBACKs and for
 * the recording subscriber) are measured in REAL time with a raw clock_gettime
 * system call that libfaketime does not intercept, because network delivery is
 * bound by real time, not by the simulated clock.
 *
 * Physical model (per meter, deterministic from --seed and the start second):
 * power is piecewise constant on a 1-second grid of simulated time.  Energy
 * accumulators are exact integers in joules (W x s) and millilitres, so the
 * ground truth at quarter-hour boundaries is an exact sum.  Load = base load +
 * fridge + lighting + gas-boiler electronics + appliance events (Poisson arrivals
 * with a time-of-day profile); PV = kWp x seasonal amplitude x daylight bell x
 * cloud factor; net = load - PV, positive part to CIH/CIL, negative to CEH/CEL,
 * by the Belgian rate (day: weekdays 07:00-22:00 Europe/Brussels).
 *
 * Two household models (--household):
 *
 *  typical (default): a winter Belgian household heated by electricity, chosen so
 *   that the quarter-hour estimators face what a real dongle stream looks like: at
 *   60-second publishing the reference rule ("index of the first reading at or after
 *   each boundary") is off by a median of ~5 Wh and a 95th percentile of ~60 Wh
 *   (the calibration fact of the accuracy issue; this model gives ~4.6 Wh and ~60 Wh
 *   over 60 households, see below).  On top of the gentle household's loads:
 *    - space heating by electricity; gas for hot water only (hybrid / combi):
 *      65 % an air-water heat pump: compressor 3.0-4.0 kW, 6-20 min on cycles
 *      with a soft start (45-65 % for 1-2 min) and inverter steps (+-10 % every
 *      1-4 min), off for at least 5 min, the off time set by the heat demand; a
 *      2.5-3.5 kW backup element that works when the demand exceeds what the
 *      compressor is sized for (mostly the warm-up after the night setback on
 *      colder days); circulation pump and controls 40-90 W;
 *      35 % direct electric heaters on two thermostats: living room 3.0-4.0 kW,
 *      the rest of the house 1.2-2.4 kW at 0.4 x the duty, 1.5-8 min on cycles.
 *      Demand: a duty of 0.14-0.20 per household (mid January, awake at home),
 *      x0.9-1.15 per day (the weather, shared by all meters of a run), x0.55 at
 *      night, x1.7 from 30 min before to 90 min after waking, x0.8 while away on
 *      weekdays, x(0.08 + 0.92 winter^2) over the year: almost none in summer;
 *    - more cooking: oven (2.2-3.4 kW, thermostat cycling tens of seconds on/off),
 *      induction hob (boost 2.5-5.5 kW, one or two zones, then levels or pulsing
 *      at low settings), kettle, microwave, hair dryer; washing machine heater,
 *      dishwasher, tumble dryer, a 1.5-2.5 kW bathroom heater in half the homes;
 *    - an EV in 30 % of the homes: 7.4 or 11 kW, 5-22 kWh a charge, or a 3.7 kW
 *      plug-in hybrid, 4-12 kWh; at most one charge a day, on ~0.6 weekdays in 1,
 *      mostly from the evening on.
 *   Energy imported, 15 January 2026, 60 households (seeds 1, 7, 42, 20 meters
 *   each, 9 of them charging an EV that day): 22-40 kWh/day, median 29 (heating
 *   12-23 kWh); average power 0.5-0.9 kW at night, ~2.2-2.4 kW at the morning and
 *   evening peaks.  Reference rule at --interval 60 --jitter 25: median 4.6 Wh,
 *   p95 60 Wh pooled; per household medians 2.5-13 Wh, p95 37-86 Wh.  Over 40
 *   seeds of 2 meters (the accuracy test's set-up), the median of the runs'
 *   medians is ~4.5 Wh and of their 95th percentiles ~55 Wh; a day with a long
 *   EV charge can reach ~55 kWh.
 *
 *  gentle: the earlier model (gas heating, fewer and smaller loads, ~9-12 kWh/day
 *   in January); with --drift 0 it gives exactly the streams of earlier versions.
 *
 * Dongle clock (--drift): a LOWI's 60-second timer is free-running, not locked to
 * the quarter boundaries.  Each meter's period is --interval plus a fixed per-dongle
 * drift (uniform in [S/6, S] seconds per 60 s of interval, S = --drift, default 3)
 * plus the uniform +-jitter of each interval, so the phase of the publishes relative
 * to :00/:15/:30/:45 wanders by ~8-45 s per quarter and the publish delays after
 * consecutive boundaries are essentially independent, even with a small jitter.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <mosquitto.h>

#define NS_PER_S 1000000000LL

/* ------------------------------------------------------------------------ */
/* Random numbers: splitmix64 for seeding/hashing, xoshiro256** for streams. */

typedef struct {
	uint64_t s[4];
} rng_t;

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static uint64_t hash3(uint64_t a, uint64_t b, uint64_t c)
{
	uint64_t x = a;
	uint64_t h = splitmix64(&x);
	x = h ^ b;
	h = splitmix64(&x);
	x = h ^ c;
	return splitmix64(&x);
}

static void rng_seed(rng_t *r, uint64_t seed)
{
	uint64_t x = seed;
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl64(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(rng_t *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl64(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl64(s[3], 45);
	return result;
}

/* uniform in [0, 1) */
static double rng_u01(rng_t *r)
{
	return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

static double rng_uni(rng_t *r, double a, double b)
{
	return a + (b - a) * rng_u01(r);
}

/* uniform integer in [a, b] */
static int64_t rng_int(rng_t *r, int64_t a, int64_t b)
{
	int64_t v = a + (int64_t)(rng_u01(r) * (double)(b - a + 1));
	return v > b ? b : v;
}

static int ri(rng_t *r, int a, int b)
{
	return (int)rng_int(r, a, b);
}

static bool rng_chance(rng_t *r, double p)
{
	return rng_u01(r) < p;
}

/* exponential with the given mean */
static double rng_exp(rng_t *r, double mean)
{
	return -mean * log1p(-rng_u01(r));
}

/* ------------------------------------------------------------------------ */
/* Calendar and Europe/Brussels civil time (no tz database).                 */

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	const int64_t era = (y >= 0 ? y : y - 399) / 400;
	const unsigned yoe = (unsigned)(y - era * 400);
	const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
	z += 719468;
	const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	const unsigned doe = (unsigned)(z - era * 146097);
	const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	const int64_t yy = (int64_t)yoe + era * 400;
	const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	const unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int)(yy + (*m <= 2));
}

/* 0 = Sunday .. 6 = Saturday */
static int weekday_from_days(int64_t z)
{
	return (int)(z >= -4 ? (z + 4) % 7 : (z + 5) % 7 + 6);
}

/* epoch second of the last Sunday of the month (31-day months only) at 01:00 UTC */
static int64_t last_sunday_0100utc(int y, unsigned month)
{
	int64_t last = days_from_civil(y, month, 31);
	int64_t sun = last - weekday_from_days(last);
	return sun * 86400 + 3600;
}

static struct {
	int year;
	int64_t dst_start, dst_end;
} dst_cache = {INT32_MIN, 0, 0};

/* UTC offset of Europe/Brussels at epoch second t (3600 CET, 7200 CEST) */
static int brussels_offset(int64_t t)
{
	int y;
	unsigned mo, d;
	civil_from_days(floor_div(t, 86400), &y, &mo, &d);
	if (dst_cache.year != y) {
		dst_cache.year = y;
		dst_cache.dst_start = last_sunday_0100utc(y, 3);
		dst_cache.dst_end = last_sunday_0100utc(y, 10);
	}
	return (t >= dst_cache.dst_start && t < dst_cache.dst_end) ? 7200 : 3600;
}

typedef struct {
	int hour;     /* local hour 0..23 */
	int minute;   /* local minute of day 0..1439 */
	int wday;     /* 0 = Sunday */
	int mday;     /* day of month */
	bool weekend;
} local_t;

static local_t brussels_local(int64_t t)
{
	local_t l;
	int64_t lt = t + brussels_offset(t);
	int64_t day = floor_div(lt, 86400);
	int64_t sod = lt - day * 86400;
	int y;
	unsigned mo, d;
	civil_from_days(day, &y, &mo, &d);
	l.hour = (int)(sod / 3600);
	l.minute = (int)(sod / 60);
	l.wday = weekday_from_days(day);
	l.mday = (int)d;
	l.weekend = (l.wday == 0 || l.wday == 6);
	return l;
}

/* Belgian rate: 1 = day (weekdays 07:00-22:00 Brussels), 0 = night. */
static int tariff_rate(int64_t t)
{
	local_t l = brussels_local(t);
	return (!l.weekend && l.hour >= 7 && l.hour < 22) ? 1 : 0;
}

/* ------------------------------------------------------------------------ */
/* Sun (Brussels, 50.85 N 4.35 E), NOAA approximations.                      */

#define SITE_LAT 50.85
#define SITE_LON 4.35

typedef struct {
	double rise, set;  /* epoch seconds (UTC) of sunrise / sunset */
	double amp;        /* clear-sky noon output as a fraction of kWp */
	double winter;     /* 1 in mid January .. 0 in mid July */
	int doy;
} sun_t;

static sun_t sun_for_day(int64_t day)
{
	sun_t s;
	int y;
	unsigned mo, d;
	civil_from_days(day, &y, &mo, &d);
	s.doy = (int)(day - days_from_civil(y, 1, 1)) + 1;
	double g = 2.0 * M_PI / 365.0 * (s.doy - 1);
	double eqt = 229.18 * (0.000075 + 0.001868 * cos(g) - 0.032077 * sin(g) -
			       0.014615 * cos(2 * g) - 0.040849 * sin(2 * g));
	double decl = 0.006918 - 0.399912 * cos(g) + 0.070257 * sin(g) -
		      0.006758 * cos(2 * g) + 0.000907 * sin(2 * g) -
		      0.002697 * cos(3 * g) + 0.00148 * sin(3 * g);
	double lat = SITE_LAT * M_PI / 180.0;
	double cosha = cos(90.833 * M_PI / 180.0) / (cos(lat) * cos(decl)) - tan(lat) * tan(decl);
	if (cosha > 1)
		cosha = 1;
	if (cosha < -1)
		cosha = -1;
	double ha = acos(cosha) * 180.0 / M_PI;
	double rise_min = 720.0 - 4.0 * (SITE_LON + ha) - eqt;
	double set_min = 720.0 - 4.0 * (SITE_LON - ha) - eqt;
	s.rise = (double)day * 86400.0 + rise_min * 60.0;
	s.set = (double)day * 86400.0 + set_min * 60.0;
	double elev_noon = 90.0 - SITE_LAT + decl * 180.0 / M_PI;
	s.amp = 0.45 + 0.40 * sin(elev_noon * M_PI / 180.0);
	s.winter = 0.5 + 0.5 * cos(2.0 * M_PI * (s.doy - 15) / 365.0);
	return s;
}

/* ------------------------------------------------------------------------ */
/* Appliance / water events.                                                 */

enum {
	E_KETTLE, E_COFFEE, E_TOASTER, E_MICRO, E_OVEN, E_HOB, E_WASHER, E_DISHW,
	E_DRYER, E_HAIR, E_VACUUM, E_IRON, E_TV, E_PC, E_EV, E_SHOWER, E_BATH,
	E_TAP, E_TOILET, E_MISC, E_HEATER, E_NTYPES
};

enum {
	P_BREAKFAST, P_MEALS, P_COOK, P_CHORES, P_DISH, P_TV, P_PC, P_EV, P_SHOWER,
	P_WATER, P_NPROF
};

/* relative activity by Brussels local hour 0..23 */
static const double PROF[P_NPROF][24] = {
	[P_BREAKFAST] = {0, 0, 0, 0, 0, 0.3, 2, 3, 2, 1, 0.5, 0.2, 0.2, 0.1, 0.1, 0.1,
			 0.1, 0.1, 0.1, 0.1, 0.1, 0, 0, 0},
	[P_MEALS] = {0.05, 0, 0, 0, 0, 0.2, 1.5, 2, 1.5, 0.8, 0.6, 0.8, 1.2, 0.8, 0.5, 0.7,
		     0.8, 1, 1.3, 1.2, 0.9, 0.7, 0.4, 0.1},
	[P_COOK] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.1, 0.5, 0.9, 0.3, 0.05, 0.05, 0.2, 1.0,
		    2.2, 1.5, 0.4, 0.1, 0, 0},
	[P_CHORES] = {0, 0, 0, 0, 0, 0, 0.2, 0.6, 1, 1.2, 1.2, 1, 0.8, 0.9, 1, 1, 0.9, 0.8,
		      0.8, 0.9, 0.8, 0.5, 0.2, 0},
	[P_DISH] = {0.1, 0, 0, 0, 0, 0, 0, 0.1, 0.2, 0.2, 0.1, 0.1, 0.2, 0.5, 0.4, 0.2, 0.1,
		    0.1, 0.3, 0.8, 1.5, 1.5, 1.0, 0.4},
	[P_TV] = {0.1, 0, 0, 0, 0, 0, 0, 0.1, 0.1, 0.1, 0.1, 0.1, 0.2, 0.3, 0.2, 0.2, 0.3,
		  0.6, 1.2, 1.8, 2.0, 1.2, 0.5, 0.2},
	[P_PC] = {0.05, 0, 0, 0, 0, 0, 0.2, 0.5, 1, 1, 1, 0.9, 0.6, 1, 1, 1, 0.9, 0.8, 0.6,
		  0.8, 1, 0.9, 0.5, 0.2},
	[P_EV] = {0.05, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.1, 0.1, 0.1, 0.1, 0.3, 1.5, 2.5, 2,
		  1.5, 1, 0.6, 0.2},
	[P_SHOWER] = {0, 0, 0, 0, 0, 0.5, 2.5, 3, 1.5, 0.6, 0.3, 0.1, 0.1, 0.1, 0.1, 0.1,
		      0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.5, 0.1},
	[P_WATER] = {0.1, 0.05, 0.05, 0.05, 0.05, 0.2, 1.5, 2, 1.5, 1, 0.8, 0.8, 1.2, 1, 0.7,
		     0.7, 0.9, 1.2, 1.5, 1.3, 1.1, 0.9, 0.6, 0.3},
};
static double PROF_SUM[P_NPROF];

struct evdef {
	double base, per_person; /* expected events per day */
	int prof;
	bool exclusive;          /* at most one active at a time */
	double weekend;          /* rate multiplier on Saturday/Sunday */
	double owned;            /* probability that a household has it */
};

/* the gentle household (the model of earlier versions) */
static const struct evdef EVDEF_GENTLE[E_NTYPES] = {
	[E_KETTLE] = {1.2, 0.5, P_MEALS, false, 1.2, 0.9},
	[E_COFFEE] = {0.8, 0.6, P_BREAKFAST, false, 1.0, 0.6},
	[E_TOASTER] = {0.3, 0.1, P_BREAKFAST, true, 1.5, 0.5},
	[E_MICRO] = {0.4, 0.3, P_MEALS, true, 1.0, 0.8},
	[E_OVEN] = {0.4, 0.05, P_COOK, true, 1.4, 1.0},
	[E_HOB] = {0.6, 0.15, P_COOK, true, 1.2, 1.0},
	[E_WASHER] = {0.1, 0.13, P_CHORES, true, 1.6, 1.0},
	[E_DISHW] = {0.3, 0.12, P_DISH, true, 1.2, 0.7},
	[E_DRYER] = {0.05, 0.07, P_CHORES, true, 1.6, 0.45},
	[E_HAIR] = {0.0, 0.25, P_BREAKFAST, true, 1.0, 0.8},
	[E_VACUUM] = {0.25, 0.05, P_CHORES, true, 1.8, 1.0},
	[E_IRON] = {0.08, 0.03, P_CHORES, true, 1.5, 0.7},
	[E_TV] = {0.9, 0.1, P_TV, true, 1.3, 0.95},
	[E_PC] = {0.4, 0.3, P_PC, true, 1.0, 0.8},
	[E_EV] = {0.45, 0.0, P_EV, true, 0.6, 0.0 /* decided separately */},
	[E_SHOWER] = {0.0, 0.7, P_SHOWER, true, 1.0, 1.0},
	[E_BATH] = {0.04, 0.0, P_TV, true, 2.0, 0.5},
	[E_TAP] = {2.0, 7.0, P_WATER, false, 1.1, 1.0},
	[E_TOILET] = {0.5, 4.0, P_WATER, false, 1.1, 1.0},
	/* small appliances: chargers, lamps, mixer, fan, printer, console, ... */
	[E_MISC] = {12.0, 6.0, P_WATER, false, 1.2, 1.0},
	/* thermostatic electric heater (bathroom, hobby room); scaled by season */
	[E_HEATER] = {1.2, 0.3, P_SHOWER, true, 1.2, 0.35},
};

/* the typical household: more cooking and chores, a bathroom heater in half
 * the homes (space heating itself is the separate thermostat model, see heating_*) */
static const struct evdef EVDEF_TYPICAL[E_NTYPES] = {
	[E_KETTLE] = {1.5, 0.6, P_MEALS, false, 1.2, 0.95},
	[E_COFFEE] = {0.8, 0.6, P_BREAKFAST, false, 1.0, 0.6},
	[E_TOASTER] = {0.3, 0.15, P_BREAKFAST, true, 1.5, 0.6},
	[E_MICRO] = {0.6, 0.35, P_MEALS, true, 1.0, 0.85},
	[E_OVEN] = {0.5, 0.1, P_COOK, true, 1.5, 1.0},
	[E_HOB] = {0.9, 0.2, P_COOK, true, 1.2, 1.0},
	[E_WASHER] = {0.15, 0.15, P_CHORES, true, 1.6, 1.0},
	[E_DISHW] = {0.4, 0.15, P_DISH, true, 1.2, 0.8},
	[E_DRYER] = {0.1, 0.1, P_CHORES, true, 1.6, 0.55},
	[E_HAIR] = {0.1, 0.3, P_BREAKFAST, true, 1.0, 0.85},
	[E_VACUUM] = {0.25, 0.05, P_CHORES, true, 1.8, 1.0},
	[E_IRON] = {0.08, 0.03, P_CHORES, true, 1.5, 0.7},
	[E_TV] = {0.9, 0.1, P_TV, true, 1.3, 0.95},
	[E_PC] = {0.4, 0.3, P_PC, true, 1.0, 0.85},
	[E_EV] = {0.6, 0.0, P_EV, true, 0.6, 0.0 /* decided separately */},
	[E_SHOWER] = {0.0, 0.7, P_SHOWER, true, 1.0, 1.0},
	[E_BATH] = {0.04, 0.0, P_TV, true, 2.0, 0.5},
	[E_TAP] = {2.0, 7.0, P_WATER, false, 1.1, 1.0},
	[E_TOILET] = {0.5, 4.0, P_WATER, false, 1.1, 1.0},
	[E_MISC] = {14.0, 7.0, P_WATER, false, 1.2, 1.0},
	[E_HEATER] = {1.0, 0.3, P_SHOWER, true, 1.2, 0.5},
};

static const struct evdef *EVDEF = EVDEF_TYPICAL;

typedef struct {
	uint8_t type;
	uint8_t phase;
	int16_t aux;
	int32_t power;  /* W */
	int32_t water;  /* mL/s */
	int32_t gas;    /* mL/s */
	int32_t p1;     /* nominal power of the event */
	int32_t p2;     /* pulse toggle */
	int64_t end;    /* end of the current segment (epoch s) */
	int64_t stop;   /* end of a cycling phase */
	int64_t blk;    /* end of a power-level block */
} event_t;

#define MAX_EV 24

enum { SH_NONE, SH_HEATPUMP, SH_RADIATORS };
#define SH_MAXZ 2
#define SH_DUTY_MIN 0.14
#define SH_DUTY_MAX 0.20
#define SH_BACKUP_OVER 0.16

/* one thermostat loop of the electric space heating: a heat pump's compressor or
 * backup element, or the heaters of one zone of the house */
typedef struct {
	int kw;        /* nominal on power, W */
	double share;  /* this loop's duty relative to the house's heat demand */
	double over;   /* demand above which this loop starts to work (backup) */
	bool on;
	int w;         /* current power */
	int p;         /* power of the current on cycle */
	int64_t next;  /* next change */
	int64_t stop;  /* end of the current on cycle */
	int64_t off;   /* off time that follows the current on cycle */
} zone_t;

/* ------------------------------------------------------------------------ */
/* Meter                                                                     */

typedef struct {
	char serial[13];
	char topic0[40], topic1[40];
	bool strings;          /* numbers as JSON strings */
	rng_t rng;             /* model stream */
	rng_t srng;            /* schedule stream (jitter) */

	/* household */
	int persons;
	bool away_weekdays;
	bool has_pv, has_ev;
	int ev_power;
	int64_t ev_next_ok;    /* typical: no new EV charge before */
	double pv_wp;          /* kWp x 1000 x orientation factor */
	int base_level;
	int fridge_w;
	int freezer_w;         /* 0: no separate freezer */
	double gas_day_l;
	int wake_wd, wake_we, bed; /* local minutes; bed may exceed 1440 */
	double per_day[E_NTYPES];
	double lam_max;        /* events per second, thinning bound */

	/* state */
	int64_t cur;           /* model integrated up to this second */
	int64_t next_change;
	int64_t next_q;
	int rate;
	int64_t day_end;
	sun_t sun;
	int regime;            /* 0 clear, 1 mixed, 2 overcast */
	double duty_day;
	int base_w;
	int64_t base_next;
	bool fridge_on;
	int64_t fridge_next;
	bool freezer_on;
	int64_t freezer_next;
	int light_w;
	int64_t light_next;
	bool heat_on;
	int heat_gas;
	int64_t heat_next;
	int volt;
	int64_t volt_next;
	/* electric space heating (typical household): a thermostat cycling a load */
	int sh_type;           /* SH_NONE, SH_HEATPUMP, SH_RADIATORS */
	int sh_aux_w;          /* circulation pump / controller while heating, W */
	double sh_duty;        /* duty at full demand (mid January, awake, mild day) */
	double day_cold;       /* heat demand factor of the day (weather) */
	int sh_nz;
	zone_t sh_z[SH_MAXZ];
	double cloud;
	bool cloud_sunny;
	int64_t cloud_next;
	int pv_w;
	int64_t pv_next;
	int64_t arr_next;
	event_t ev[MAX_EV];
	int nev;
	int load_w, net_w, gas_r, water_r;

	/* exact accumulators: [0] = night/low (CIL, CEL), [1] = day/high (CIH, CEH) */
	int64_t imp_j[2], exp_j[2];
	int64_t gas_ml, water_ml;

	/* truth snapshot at the previous quarter boundary */
	bool have_snap;
	int64_t snap_t;
	int64_t snap_imp[2], snap_exp[2], snap_gas, snap_water;

	/* schedule */
	int64_t next_pub;      /* ns */
	int64_t first_pub;     /* ns */
	int64_t drift_ns;      /* free-running clock: added to every interval */
	bool started;
	uint64_t quarters;
} meter_t;

/* ------------------------------------------------------------------------ */
/* Global options and state                                                  */

static struct {
	const char *host;
	int port;
	const char *username, *password;
	int qos;
	int keepalive;
	int meters;
	double interval, jitter, duration;
	uint64_t seed;
	const char *truth_path, *published_path, *record_path, *sent_path, *bad_dir;
	int noise;
	int bad_every;
	bool subscribe;
	bool survive_restarts;
	double p_strings;
	double drain_timeout;  /* real seconds */
	double settle;         /* simulated seconds */
	bool typical;          /* --household typical (default) or gentle */
	double drift;          /* --drift: max per-dongle extra seconds per 60 s */
} opt = {
	.host = "127.0.0.1",
	.port = 1883,
	.qos = 1,
	.keepalive = 3600,
	.meters = 1,
	.interval = 60,
	.jitter = 3,
	.duration = 3600,
	.seed = 1,
	.p_strings = 0.5,
	.drain_timeout = 60,
	.settle = 5,
	.typical = true,
	.drift = 3,
};

static meter_t *meters;
static FILE *truth_f, *published_f, *sent_f, *record_f;
static uint32_t serial_base, serial_inv;
#define SERIAL_MULT 0x9E3779u
#define SERIAL_PREFIX "4c7525"

static struct mosquitto *pub_mosq, *sub_mosq;
static atomic_int pub_connack = -1, sub_connack = -1;
static atomic_bool pub_lost, sub_lost, sub_ready, disconnecting, pub_up;
static atomic_ullong n_offline;
static atomic_ullong n_published, n_acked, n_received, n_received_ours;
static uint64_t n_good, n_bad, n_noise, n_truth;
static volatile sig_atomic_t stop_flag;

static char **bad_files;
static size_t n_bad_files, bad_next;
static rng_t noise_rng;

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("lowi-sim: error: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

/* --offline: a virtual clock that jumps to each publish instant, no broker */
static bool offline;
static int64_t offline_now_ns;

/* simulated (possibly faked) wall clock */
static int64_t now_ns(void)
{
	if (offline)
		return offline_now_ns;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

/* real monotonic clock, bypassing libfaketime (used for drain timeouts only) */
static double real_now(void)
{
	struct timespec ts;
	if (syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts) != 0)
		clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void real_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	if (syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &ts, NULL) != 0 && errno != EINTR)
		nanosleep(&ts, NULL);
}

/* sleep on the (possibly faked) clock until CLOCK_REALTIME >= target_ns */
static void sleep_until(int64_t target_ns)
{
	if (offline) {
		if (target_ns > offline_now_ns)
			offline_now_ns = target_ns;
		return;
	}
	for (;;) {
		if (stop_flag)
			return;
		int64_t d = target_ns - now_ns();
		if (d <= 0)
			return;
		struct timespec ts = {(time_t)(d / NS_PER_S), (long)(d % NS_PER_S)};
		nanosleep(&ts, NULL);
	}
}

/* ------------------------------------------------------------------------ */
/* Model                                                                     */

static bool is_awake(const meter_t *m, const local_t *l)
{
	int wake = l->weekend ? m->wake_we : m->wake_wd;
	int mnt = l->minute;
	if (m->bed > 1440)
		return mnt >= wake || mnt < m->bed - 1440;
	return mnt >= wake && mnt < m->bed;
}

/* event arrival rate (per second) of a type at local time l */
static double ev_rate(const meter_t *m, int type, const local_t *l)
{
	const struct evdef *d = &EVDEF[type];
	if (m->per_day[type] <= 0)
		return 0;
	int h = l->hour;
	if (l->weekend && h >= 6 && h < 12)
		h--; /* later mornings at the weekend */
	double r = m->per_day[type] * PROF[d->prof][h] / PROF_SUM[d->prof] / 3600.0;
	if (type == E_HEATER)
		r *= m->sun.winter * m->sun.winter;
	if (l->weekend)
		r *= d->weekend;
	else if (m->away_weekdays && l->hour >= 9 && l->hour < 16)
		r *= 0.15;
	return r;
}

static bool ev_active(const meter_t *m, int type)
{
	for (int i = 0; i < m->nev; i++)
		if (m->ev[i].type == type)
			return true;
	return false;
}

static int seg(event_t *e, int64_t t, int power, int64_t dur)
{
	e->power = power;
	e->end = t + (dur < 1 ? 1 : dur);
	return 1;
}

/* Set the next segment of an event starting at t; 0 when the event is over. */
static int ev_segment(meter_t *m, event_t *e, int64_t t)
{
	rng_t *r = &m->rng;
	e->water = 0;
	e->gas = 0;
	switch (e->type) {
	case E_KETTLE:
		return e->phase++ ? 0 : seg(e, t, ri(r, 1850, 2250), ri(r, 90, 240));
	case E_COFFEE:
		return e->phase++ ? 0 : seg(e, t, ri(r, 1200, 1500), ri(r, 40, 100));
	case E_TOASTER:
		return e->phase++ ? 0 : seg(e, t, ri(r, 850, 1000), ri(r, 120, 240));
	case E_MICRO:
		return e->phase++ ? 0 : seg(e, t, ri(r, 1000, 1400), ri(r, 60, 360));
	case E_HAIR:
		return e->phase++ ? 0 : seg(e, t, ri(r, 1200, 2000), ri(r, 180, 600));
	case E_VACUUM:
		return e->phase++ ? 0 : seg(e, t, ri(r, 600, 1200), ri(r, 600, 1800));
	case E_TV:
		return e->phase++ ? 0 : seg(e, t, ri(r, 80, 200), ri(r, 1800, 10800));
	case E_PC:
		return e->phase++ ? 0 : seg(e, t, ri(r, 60, 180), ri(r, 1800, 14400));
	case E_SHOWER:
		if (e->phase++)
			return 0;
		e->water = ri(r, 110, 160);
		e->gas = ri(r, 300, 450);
		return seg(e, t, 25, ri(r, 300, 720));
	case E_BATH:
		if (e->phase++)
			return 0;
		e->water = ri(r, 180, 220);
		e->gas = ri(r, 550, 650);
		return seg(e, t, 0, ri(r, 600, 900));
	case E_TAP:
		if (e->phase++)
			return 0;
		e->water = ri(r, 60, 150);
		if (rng_chance(r, 0.4))
			e->gas = ri(r, 250, 350);
		return seg(e, t, 0, ri(r, 5, 90));
	case E_TOILET:
		if (e->phase++)
			return 0;
		e->water = ri(r, 70, 110);
		return seg(e, t, 0, ri(r, 50, 100));
	case E_MISC: {
		if (e->phase++)
			return 0;
		double u = rng_u01(r);
		int p = u < 0.4 ? ri(r, 15, 100) : u < 0.85 ? ri(r, 100, 400) : ri(r, 400, 1200);
		return seg(e, t, p, ri(r, 60, 1800));
	}
	case E_EV:
		if (e->phase == 0) {
			e->phase = 1;
			if (opt.typical) { /* 5-22 kWh into the battery; 4-12 kWh for a plug-in hybrid */
				double wh = m->ev_power < 5000 ? rng_uni(r, 4000, 12000) : rng_uni(r, 5000, 22000);
				return seg(e, t, m->ev_power, (int64_t)(wh * 3600.0 / m->ev_power));
			}
			return seg(e, t, m->ev_power, ri(r, 3000, 10200));
		}
		if (e->phase == 1) {
			e->phase = 2; /* taper at the end of the charge */
			return seg(e, t, m->ev_power / 2, ri(r, 300, 900));
		}
		return 0;
	case E_OVEN:
		if (e->phase == 0) {
			e->phase = 1;
			e->p1 = opt.typical ? ri(r, 2200, 3400) : ri(r, 2200, 3000);
			seg(e, t, e->p1, ri(r, 480, 900));
			e->stop = e->end + ri(r, 1200, 3600);
			e->aux = 0;
			return 1;
		}
		if (t >= e->stop)
			return 0;
		e->aux ^= 1;
		seg(e, t, e->aux ? e->p1 : 40, e->aux ? ri(r, 30, 90) : ri(r, 45, 150));
		if (e->end > e->stop)
			e->end = e->stop;
		return 1;
	case E_HOB:
		if (e->phase == 0) { /* bring to the boil at full power */
			e->phase = 1;
			e->stop = t + ri(r, 600, 2700);
			e->blk = t + ri(r, 120, 480);
			/* typical: often two zones, one on boost (up to 3.7 + 2.3 kW) */
			e->p1 = opt.typical ? ri(r, 2500, 5500) : ri(r, 2500, 3500);
			e->aux = 0;
			return seg(e, t, e->p1, e->blk - t);
		}
		if (t >= e->stop)
			return 0;
		if (t >= e->blk) { /* a new power level for a while */
			e->blk = t + ri(r, 60, 300);
			if (e->blk > e->stop)
				e->blk = e->stop;
			double u = rng_u01(r);
			e->aux = u >= 0.2 && u < 0.6; /* low settings pulse full power */
			e->p1 = u < 0.2 ? 0 : e->aux ? ri(r, 1800, 2300) : ri(r, 400, 2200);
			e->p2 = 0;
		}
		if (e->aux) {
			e->p2 ^= 1;
			seg(e, t, e->p2 ? e->p1 : 0, e->p2 ? ri(r, 4, 12) : ri(r, 4, 20));
		} else {
			seg(e, t, e->p1, e->blk - t);
		}
		if (e->end > e->blk)
			e->end = e->blk;
		return 1;
	case E_DRYER:
	case E_IRON:
	case E_HEATER: {
		int k = e->type == E_DRYER ? 0 : e->type == E_IRON ? 1 : 2;
		if (e->phase == 0) {
			static const int pw[3][2] = {{2000, 2600}, {1800, 2400}, {1000, 2000}};
			static const int pw_typ[3][2] = {{2000, 2700}, {1800, 2400}, {1500, 2500}};
			static const int du[3][2] = {{3600, 6000}, {1200, 3600}, {900, 3600}};
			e->phase = 1;
			e->p1 = opt.typical ? ri(r, pw_typ[k][0], pw_typ[k][1]) : ri(r, pw[k][0], pw[k][1]);
			e->stop = t + ri(r, du[k][0], du[k][1]);
			e->aux = 0;
		}
		if (t >= e->stop)
			return 0;
		e->aux ^= 1;
		if (k == 0)
			seg(e, t, e->aux ? e->p1 : 250, e->aux ? ri(r, 180, 600) : ri(r, 60, 180));
		else if (k == 1)
			seg(e, t, e->aux ? e->p1 : 5, e->aux ? ri(r, 15, 60) : ri(r, 20, 90));
		else
			seg(e, t, e->aux ? e->p1 : 0, e->aux ? ri(r, 60, 300) : ri(r, 30, 240));
		if (e->end > e->stop)
			e->end = e->stop;
		return 1;
	}
	case E_WASHER:
		if (e->phase == 0) { /* fill */
			e->phase = 1;
			e->water = ri(r, 120, 180);
			return seg(e, t, 20, ri(r, 120, 240));
		}
		if (e->phase == 1) { /* heat: 30, 40 or 60 degrees */
			e->phase = 2;
			double u = rng_u01(r);
			int dur = u < 0.4 ? ri(r, 300, 500) : u < 0.8 ? ri(r, 600, 1000) : ri(r, 1200, 1800);
			return seg(e, t, ri(r, 1900, 2200), dur);
		}
		if (e->phase == 2) {
			e->phase = 3;
			e->stop = t + ri(r, 1500, 2700);
			e->aux = 0;
		}
		if (e->phase == 3) { /* wash: tumble / pause */
			if (t < e->stop) {
				e->aux ^= 1;
				seg(e, t, e->aux ? ri(r, 150, 350) : 15, e->aux ? ri(r, 20, 60) : ri(r, 8, 30));
				if (e->end > e->stop)
					e->end = e->stop;
				return 1;
			}
			e->phase = 4;
			e->aux = 0;
		}
		if (e->phase == 4) { /* two rinses: fill then tumble */
			if (e->aux < 4) {
				int a = e->aux++;
				if (a % 2 == 0) {
					e->water = ri(r, 130, 170);
					return seg(e, t, 40, ri(r, 90, 150));
				}
				return seg(e, t, ri(r, 150, 300), ri(r, 240, 420));
			}
			e->phase = 5;
			return seg(e, t, ri(r, 300, 600), ri(r, 420, 720)); /* spin */
		}
		return 0;
	case E_DISHW:
		switch (e->phase++) {
		case 0:
		case 3:
			e->water = ri(r, 80, 120);
			return seg(e, t, 30, ri(r, 60, 90));
		case 1:
			return seg(e, t, ri(r, 1800, 2200), ri(r, 600, 1200));
		case 2:
			return seg(e, t, ri(r, 80, 150), ri(r, 1200, 2400));
		case 4:
			return seg(e, t, ri(r, 1800, 2200), ri(r, 300, 900));
		case 5:
			return seg(e, t, ri(r, 10, 60), ri(r, 1200, 2400));
		default:
			return 0;
		}
	default:
		return 0;
	}
}

static void start_event(meter_t *m, int type, int64_t t)
{
	if (m->nev >= MAX_EV)
		return;
	if (EVDEF[type].exclusive && ev_active(m, type))
		return;
	if (type == E_EV && opt.typical) { /* one charge a day */
		if (t < m->ev_next_ok)
			return;
		m->ev_next_ok = t + 14 * 3600;
	}
	event_t *e = &m->ev[m->nev];
	memset(e, 0, sizeof *e);
	e->type = (uint8_t)type;
	if (ev_segment(m, e, t))
		m->nev++;
}

/* Poisson arrivals by thinning: candidate at rate lam_max, accept by type rates. */
static void arrival(meter_t *m, int64_t t)
{
	local_t l = brussels_local(t);
	double u = rng_u01(&m->rng) * m->lam_max;
	for (int k = 0; k < E_NTYPES; k++) {
		double lam = ev_rate(m, k, &l);
		if (u < lam) {
			start_event(m, k, t);
			break;
		}
		u -= lam;
	}
	double gap = rng_exp(&m->rng, 1.0 / m->lam_max);
	m->arr_next = t + 1 + (int64_t)gap;
}

static double heat_duty(const meter_t *m, int64_t t)
{
	local_t l = brussels_local(t);
	if (!is_awake(m, &l))
		return 0.2 * m->duty_day;
	int wake = l.weekend ? m->wake_we : m->wake_wd;
	if (l.minute >= wake && l.minute < wake + 120)
		return 2.0 * m->duty_day; /* morning warm-up */
	return m->duty_day;
}

/* Electric space heating demand (typical household): the thermostat's duty cycle
 * wanted at t.  Mid January ~sh_duty when awake; night setback; a warm-up after
 * waking; a little lower while the house is empty; towards summer almost nothing. */
static double heating_demand(const meter_t *m, int64_t t)
{
	local_t l = brussels_local(t);
	double f;
	int wake = l.weekend ? m->wake_we : m->wake_wd;
	int since = l.minute - wake;
	if (since < -60)
		since += 1440;
	if (since >= -30 && since < 90)
		f = 1.7; /* warm-up from the night setback */
	else if (!is_awake(m, &l))
		f = 0.55;
	else if (m->away_weekdays && !l.weekend && l.hour >= 9 && l.hour < 16)
		f = 0.8;
	else
		f = 1.0;
	double season = 0.08 + 0.92 * m->sun.winter * m->sun.winter;
	double d = m->sh_duty * m->day_cold * season * f;
	return d > 0.92 ? 0.92 : d;
}

/* Next change of heating loop z at t (t >= z->next).  The thermostat keeps an on
 * time drawn per cycle and sets the following off time from the demand: on / (on +
 * off) = duty. */
static void heating_step(meter_t *m, zone_t *z, bool compressor, int64_t t)
{
	rng_t *r = &m->rng;
	if (z->on && t < z->stop) {
		/* compressor: the inverter modulates in steps */
		z->w = (int)lround(z->p * rng_uni(r, 0.88, 1.08));
		z->next = t + rng_int(r, 60, 240);
		if (z->next > z->stop)
			z->next = z->stop;
		return;
	}
	if (z->on) {
		z->on = false;
		z->w = 0;
		z->next = t + z->off;
		return;
	}
	double d = (heating_demand(m, t) - z->over) * z->share;
	if (d > 0.92)
		d = 0.92;
	if (d < 0.02) {
		z->next = t + rng_int(r, 600, 1800);
		return;
	}
	int64_t on = compressor ? rng_int(r, 360, 1200) : rng_int(r, 90, 480);
	double off = (double)on * (1.0 - d) / d * rng_uni(r, 0.75, 1.25);
	double off_min = compressor ? 300 : 60; /* a compressor's anti-short-cycle delay */
	if (off < off_min)
		off = off_min;
	if (off > 5400)
		off = 5400;
	z->on = true;
	z->off = (int64_t)off;
	z->stop = t + on;
	z->p = (int)lround(z->kw * rng_uni(r, 0.9, 1.1));
	if (compressor) { /* soft start */
		z->w = (int)lround(z->p * rng_uni(r, 0.45, 0.65));
		z->next = t + rng_int(r, 60, 120);
	} else {
		z->w = z->p;
		z->next = z->stop;
	}
}

static void new_day(meter_t *m, int64_t t)
{
	int64_t day = floor_div(t, 86400);
	m->sun = sun_for_day(day);
	m->day_end = (day + 1) * 86400;
	/* weather regime: shared by all meters of the run */
	double u = (double)(hash3(opt.seed, 0x57EA7E3ULL, (uint64_t)day) >> 11) * 0x1.0p-53;
	double summer = 1.0 - m->sun.winter;
	double p_clear = 0.15 + 0.25 * summer;
	m->regime = u < p_clear ? 0 : u < p_clear + 0.35 ? 1 : 2;
	/* gas heating: season factor 1 in January .. 0.1 in July */
	double sf = 0.1 + 0.9 * m->sun.winter;
	double burn_s = m->gas_day_l * sf / 0.33; /* boiler ~0.33 L/s = 1.2 m3/h */
	m->duty_day = burn_s / 72000.0;
	if (m->duty_day > 0.45)
		m->duty_day = 0.45;
	if (m->sh_type != SH_NONE) {
		m->duty_day = 0; /* heated by electricity: gas for hot water only */
		double v = (double)(hash3(opt.seed, 0xC01DULL, (uint64_t)day) >> 11) * 0x1.0p-53;
		m->day_cold = 0.9 + 0.25 * v;
	}
}

static void draw_cloud(meter_t *m, int64_t t)
{
	rng_t *r = &m->rng;
	switch (m->regime) {
	case 0:
		m->cloud = rng_uni(r, 0.85, 1.0);
		m->cloud_next = t + rng_int(r, 300, 900);
		break;
	case 1:
		m->cloud_sunny = !m->cloud_sunny;
		if (m->cloud_sunny) {
			m->cloud = rng_uni(r, 0.8, 1.08);
			m->cloud_next = t + rng_int(r, 60, 600);
		} else {
			m->cloud = rng_uni(r, 0.15, 0.4);
			m->cloud_next = t + rng_int(r, 60, 480);
		}
		break;
	default:
		m->cloud = rng_uni(r, 0.05, 0.3);
		m->cloud_next = t + rng_int(r, 300, 1200);
		break;
	}
}

#define MIN_NEXT(a, b) ((b) < (a) ? (b) : (a))

/* Update every component whose change time has come, at second t. */
static void model_update(meter_t *m, int64_t t)
{
	rng_t *r = &m->rng;
	if (t >= m->day_end)
		new_day(m, t);
	if (t >= m->base_next) {
		m->base_w = m->base_level + ri(r, -15, 15);
		m->base_next = t + rng_int(r, 5, 60);
	}
	if (t >= m->fridge_next) {
		m->fridge_on = !m->fridge_on;
		m->fridge_next = t + (m->fridge_on ? rng_int(r, 600, 1200) : rng_int(r, 1500, 2400));
	}
	if (t >= m->freezer_next) {
		m->freezer_on = !m->freezer_on;
		m->freezer_next = t + (m->freezer_on ? rng_int(r, 900, 1500) : rng_int(r, 1800, 3000));
	}
	if (t >= m->light_next) {
		local_t l = brussels_local(t);
		bool dark = (double)t < m->sun.rise + 1800 || (double)t > m->sun.set - 1800;
		bool awake = is_awake(m, &l);
		if (dark && awake) /* people move between rooms */
			m->light_w = ri(r, 40, 400);
		else if (dark)
			m->light_w = rng_chance(r, 0.3) ? ri(r, 5, 20) : 0;
		else
			m->light_w = rng_chance(r, 0.3) ? ri(r, 10, 60) : 0;
		m->light_next = t + (dark && awake ? rng_int(r, 120, 900) : rng_int(r, 300, 1800));
	}
	if (t >= m->heat_next) {
		double lmax = 2.0 * m->duty_day / 600.0;
		if (m->heat_on) {
			m->heat_on = false;
			m->heat_gas = 0;
		} else if (lmax > 0 && rng_u01(r) * lmax < heat_duty(m, t) / 600.0) {
			m->heat_on = true;
			m->heat_gas = ri(r, 280, 380);
			m->heat_next = t + rng_int(r, 300, 900);
		}
		if (!m->heat_on)
			m->heat_next = t + 1 + (lmax > 1e-9 ? (int64_t)rng_exp(r, 1.0 / lmax) : 3600);
	}
	if (t >= m->volt_next) {
		m->volt = 230 + ri(r, -3, 3);
		m->volt_next = t + rng_int(r, 30, 300);
	}
	for (int k = 0; k < m->sh_nz; k++)
		if (t >= m->sh_z[k].next)
			heating_step(m, &m->sh_z[k], m->sh_type == SH_HEATPUMP && k == 0, t);
	for (int i = 0; i < m->nev; i++) {
		if (t >= m->ev[i].end && !ev_segment(m, &m->ev[i], t)) {
			m->ev[i] = m->ev[m->nev - 1];
			m->nev--;
			i--;
		}
	}
	while (t >= m->arr_next)
		arrival(m, t);

	int64_t nx = m->day_end;
	if (m->has_pv) {
		if (t >= m->cloud_next)
			draw_cloud(m, t);
		nx = MIN_NEXT(nx, m->cloud_next);
		double tt = (double)t;
		if (tt >= m->sun.rise && tt < m->sun.set) {
			double x = (tt - m->sun.rise) / (m->sun.set - m->sun.rise);
			double shape = pow(sin(M_PI * x), 1.5);
			m->pv_w = (int)lround(m->pv_wp * m->sun.amp * shape * m->cloud);
			m->pv_next = t + 1;
		} else {
			m->pv_w = 0;
			m->pv_next = tt < m->sun.rise ? (int64_t)ceil(m->sun.rise) : m->day_end;
		}
		nx = MIN_NEXT(nx, m->pv_next);
	}

	int load = m->base_w + (m->fridge_on ? m->fridge_w : 0) + (m->freezer_on ? m->freezer_w : 0) +
		   m->light_w + (m->heat_on ? 80 : 0);
	for (int k = 0; k < m->sh_nz; k++)
		load += m->sh_z[k].w;
	if (m->sh_type != SH_NONE && m->sun.winter > 0.3)
		load += m->sh_aux_w;
	int gas = m->heat_gas, water = 0;
	for (int i = 0; i < m->nev; i++) {
		load += m->ev[i].power;
		gas += m->ev[i].gas;
		water += m->ev[i].water;
		nx = MIN_NEXT(nx, m->ev[i].end);
	}
	m->load_w = load;
	m->net_w = load - m->pv_w;
	m->gas_r = gas;
	m->water_r = water;
	nx = MIN_NEXT(nx, m->base_next);
	nx = MIN_NEXT(nx, m->fridge_next);
	nx = MIN_NEXT(nx, m->freezer_next);
	nx = MIN_NEXT(nx, m->light_next);
	nx = MIN_NEXT(nx, m->heat_next);
	nx = MIN_NEXT(nx, m->volt_next);
	nx = MIN_NEXT(nx, m->arr_next);
	for (int k = 0; k < m->sh_nz; k++)
		nx = MIN_NEXT(nx, m->sh_z[k].next);
	m->next_change = nx;
}

static void snapshot(meter_t *m, int64_t b)
{
	m->have_snap = true;
	m->snap_t = b;
	m->snap_imp[0] = m->imp_j[0];
	m->snap_imp[1] = m->imp_j[1];
	m->snap_exp[0] = m->exp_j[0];
	m->snap_exp[1] = m->exp_j[1];
	m->snap_gas = m->gas_ml;
	m->snap_water = m->water_ml;
}

/* counter value in Wh from joules, TRUNCATED to 0.001 Wh so that its integer part is
 * exactly what a meter shows at that instant (rounding could print X.9996 as X+1) */
static void fmt_counter(char out[32], int64_t joules)
{
	int64_t mwh = joules * 10 / 36; /* 1 mWh = 3.6 J; joules >= 0 */
	snprintf(out, 32, "%" PRId64 ".%03d", mwh / 1000, (int)(mwh % 1000));
}

static void quarter_boundary(meter_t *m, int64_t b)
{
	int64_t qs = b - 900;
	if (m->have_snap && m->snap_t == qs && m->started && qs * NS_PER_S >= m->first_pub) {
		int64_t imp = (m->imp_j[0] - m->snap_imp[0]) + (m->imp_j[1] - m->snap_imp[1]);
		int64_t ex = (m->exp_j[0] - m->snap_exp[0]) + (m->exp_j[1] - m->snap_exp[1]);
		if (truth_f) {
			char c[4][32];
			fmt_counter(c[0], m->imp_j[1]);
			fmt_counter(c[1], m->imp_j[0]);
			fmt_counter(c[2], m->exp_j[1]);
			fmt_counter(c[3], m->exp_j[0]);
			fprintf(truth_f, "%s,%" PRId64 ",%.3f,%.3f,%s,%s,%s,%s,%.3f,%.3f\n", m->serial, qs,
				imp / 3600.0, ex / 3600.0, c[0], c[1], c[2], c[3],
				(m->gas_ml - m->snap_gas) / 1000.0, (m->water_ml - m->snap_water) / 1000.0);
		}
		m->quarters++;
		n_truth++;
	}
	snapshot(m, b);
}

/* Integrate the model up to second s (exclusive of anything after s). */
static void model_advance(meter_t *m, int64_t s)
{
	while (m->cur < s) {
		int64_t nx = m->next_change;
		if (nx > s)
			nx = s;
		if (nx > m->next_q)
			nx = m->next_q;
		int64_t dt = nx - m->cur;
		if (m->net_w > 0)
			m->imp_j[m->rate] += (int64_t)m->net_w * dt;
		else
			m->exp_j[m->rate] += -(int64_t)m->net_w * dt;
		m->gas_ml += (int64_t)m->gas_r * dt;
		m->water_ml += (int64_t)m->water_r * dt;
		m->cur = nx;
		if (nx == m->next_q) {
			quarter_boundary(m, nx);
			m->rate = tariff_rate(nx); /* rates change on whole hours only */
			m->next_q += 900;
		}
		if (nx >= m->next_change)
			model_update(m, nx);
	}
}

static void serial_for(int idx, char out[13])
{
	uint32_t x = (serial_base + (uint32_t)idx * SERIAL_MULT) & 0xFFFFFFu;
	snprintf(out, 13, SERIAL_PREFIX "%06x", (unsigned)x);
}

static void meter_init(meter_t *m, int idx, int64_t s0)
{
	memset(m, 0, sizeof *m);
	serial_for(idx, m->serial);
	snprintf(m->topic0, sizeof m->topic0, "%s/PUB/CH0", m->serial);
	snprintf(m->topic1, sizeof m->topic1, "%s/PUB/CH1", m->serial);
	rng_seed(&m->rng, hash3(opt.seed, (uint64_t)idx, 0x4D4F44454CULL));
	rng_seed(&m->srng, hash3(opt.seed, (uint64_t)idx, 0x5343484544ULL));
	rng_t fr;
	rng_seed(&fr, hash3(opt.seed, (uint64_t)idx, 0x464D54ULL));
	m->strings = rng_chance(&fr, opt.p_strings);

	rng_t *r = &m->rng;
	double up = rng_u01(r);
	m->persons = up < 0.3 ? 1 : up < 0.65 ? 2 : up < 0.8 ? 3 : up < 0.95 ? 4 : 5;
	m->away_weekdays = rng_chance(r, 0.55);
	m->has_pv = idx == 0 || rng_chance(r, 0.7);
	m->has_ev = rng_chance(r, 0.25);
	m->ev_power = rng_chance(r, 0.75) ? 7400 : 3700;
	m->pv_wp = m->has_pv ? rng_uni(r, 3000, 6000) * rng_uni(r, 0.85, 1.0) : 0;
	m->base_level = ri(r, 100, 250);
	m->fridge_w = ri(r, 90, 150);
	m->gas_day_l = rng_uni(r, 500, 2000);
	m->wake_wd = ri(r, 330, 450);
	m->wake_we = m->wake_wd + ri(r, 60, 150);
	m->bed = ri(r, 1350, 1470);
	m->freezer_w = rng_chance(r, 0.5) ? ri(r, 70, 130) : 0;
	if (opt.typical) {
		m->has_ev = rng_chance(r, 0.3);
		double u = rng_u01(r);
		m->ev_power = u < 0.15 ? 3700 : u < 0.6 ? 7400 : 11000;
		m->sh_duty = rng_uni(r, SH_DUTY_MIN, SH_DUTY_MAX);
		if (rng_chance(r, 0.65)) {
			/* air-water heat pump: compressor + backup element for cold warm-ups */
			m->sh_type = SH_HEATPUMP;
			m->sh_aux_w = ri(r, 40, 90);
			m->sh_nz = 2;
			m->sh_z[0] = (zone_t){.kw = ri(r, 3000, 4000), .share = 1.0};
			m->sh_z[1] = (zone_t){.kw = ri(r, 2500, 3500), .share = 1.5, .over = SH_BACKUP_OVER};
		} else {
			/* direct electric heaters: living room, and the rest of the house */
			m->sh_type = SH_RADIATORS;
			m->sh_nz = 2;
			m->sh_z[0] = (zone_t){.kw = ri(r, 3000, 4000), .share = 1.0};
			m->sh_z[1] = (zone_t){.kw = ri(r, 1200, 2400), .share = 0.4};
		}
		for (int k = 0; k < m->sh_nz; k++)
			m->sh_z[k].next = s0;
	}
	for (int k = 0; k < E_NTYPES; k++) {
		const struct evdef *d = &EVDEF[k];
		bool owned = k == E_EV ? m->has_ev : rng_chance(r, d->owned);
		double mult = rng_uni(r, 0.7, 1.3);
		m->per_day[k] = owned ? (d->base + d->per_person * m->persons) * mult : 0;
	}
	/* thinning bound: the busiest hour of a weekday or a weekend day, at the
	 * seasonal maximum (winter = 1; new_day() sets the real season later) */
	m->sun.winter = 1.0;
	m->lam_max = 1e-9;
	for (int wk = 0; wk < 2; wk++)
		for (int h = 0; h < 24; h++) {
			local_t l = {.hour = h, .minute = h * 60, .weekend = wk};
			bool away = m->away_weekdays;
			m->away_weekdays = false;
			double sum = 0;
			for (int k = 0; k < E_NTYPES; k++)
				sum += ev_rate(m, k, &l);
			m->away_weekdays = away;
			if (sum > m->lam_max)
				m->lam_max = sum;
		}

	/* counters: plausible installed-meter values, not on whole Wh */
	int64_t cih = rng_int(r, 100000, 2000000);
	int64_t cil = (int64_t)(cih * rng_uni(r, 0.6, 1.3));
	m->imp_j[1] = cih * 3600 + rng_int(r, 0, 3599);
	m->imp_j[0] = cil * 3600 + rng_int(r, 0, 3599);
	if (m->has_pv) {
		int64_t ceh = rng_int(r, 1000, cih / 2);
		m->exp_j[1] = ceh * 3600 + rng_int(r, 0, 3599);
		m->exp_j[0] = (int64_t)(ceh * rng_uni(r, 0.1, 0.4)) * 3600 + rng_int(r, 0, 3599);
	}
	m->gas_ml = rng_int(r, 500000, 15000000) * 1000 + rng_int(r, 0, 999);
	m->water_ml = rng_int(r, 20000, 2000000) * 1000 + rng_int(r, 0, 999);

	/* state at s0 */
	m->cur = s0;
	m->rate = tariff_rate(s0);
	m->day_end = s0; /* forces the sun/weather of the first day */
	m->base_next = m->light_next = m->heat_next = m->volt_next = m->cloud_next = s0;
	m->cloud_sunny = rng_chance(r, 0.5);
	m->fridge_on = rng_chance(r, 0.35);
	m->fridge_next = s0 + rng_int(r, 1, 1200);
	m->freezer_on = m->freezer_w > 0 && rng_chance(r, 0.35);
	m->freezer_next = m->freezer_w > 0 ? s0 + rng_int(r, 1, 1500) : INT64_MAX;
	m->arr_next = s0 + 1 + (int64_t)rng_exp(r, 1.0 / m->lam_max);
	m->next_q = floor_div(s0 + 899, 900) * 900;
	if (m->next_q == s0) {
		snapshot(m, s0);
		m->next_q += 900;
	}
	model_update(m, s0);
}

/* ------------------------------------------------------------------------ */
/* MQTT                                                                      */

static void on_pub_connect(struct mosquitto *mosq, void *obj, int rc)
{
	if (rc == 0)
		atomic_store(&pub_up, true);
	(void)mosq;
	(void)obj;
	atomic_store(&pub_connack, rc);
}

static void on_pub_disconnect(struct mosquitto *mosq, void *obj, int rc)
{
	(void)mosq;
	(void)obj;
	atomic_store(&pub_up, false);
	/* Like a real dongle, --survive-restarts keeps reading the meter while
	 * the broker is away; libmosquitto reconnects by itself. */
	if (rc != 0 && !atomic_load(&disconnecting) && !opt.survive_restarts)
		atomic_store(&pub_lost, true);
}

static void on_publish(struct mosquitto *mosq, void *obj, int mid)
{
	(void)mosq;
	(void)obj;
	(void)mid;
	atomic_fetch_add(&n_acked, 1);
}

static void on_sub_connect(struct mosquitto *mosq, void *obj, int rc)
{
	(void)obj;
	atomic_store(&sub_connack, rc);
	if (rc == 0) {
		int r = mosquitto_subscribe(mosq, NULL, "#", opt.qos);
		if (r != MOSQ_ERR_SUCCESS)
			atomic_store(&sub_lost, true);
	}
}

static void on_sub_disconnect(struct mosquitto *mosq, void *obj, int rc)
{
	(void)mosq;
	(void)obj;
	if (rc != 0 && !atomic_load(&disconnecting))
		atomic_store(&sub_lost, true);
}

static void on_subscribe(struct mosquitto *mosq, void *obj, int mid, int qos_count, const int *granted)
{
	(void)mosq;
	(void)obj;
	(void)mid;
	if (qos_count >= 1 && granted[0] <= 2)
		atomic_store(&sub_ready, true);
	else
		atomic_store(&sub_lost, true);
}

static void write_hex_line(FILE *f, const char *topic, const void *payload, size_t n)
{
	static const char hx[] = "0123456789abcdef";
	const unsigned char *p = payload;
	char buf[8192];
	size_t k = 0;
	fputs(topic, f);
	fputc('\t', f);
	for (size_t i = 0; i < n; i++) {
		buf[k++] = hx[p[i] >> 4];
		buf[k++] = hx[p[i] & 15];
		if (k == sizeof buf) {
			fwrite(buf, 1, k, f);
			k = 0;
		}
	}
	fwrite(buf, 1, k, f);
	fputc('\n', f);
}

/* Is this a topic this program publishes on (for the received counter)? */
static bool is_our_topic(const char *t)
{
	if (!strncmp(t, "zigbee2mqtt/sensor", 18) || !strcmp(t, "home/camera/snapshot") ||
	    !strncmp(t, "shellies/lowisim-", 17))
		return true;
	if (strlen(t) != 20 || strncmp(t, SERIAL_PREFIX, 6) || strncmp(t + 12, "/PUB/CH", 7) ||
	    (t[19] != '0' && t[19] != '1'))
		return false;
	uint32_t x = 0;
	for (int i = 6; i < 12; i++) {
		char c = t[i];
		int v = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
		if (v < 0)
			return false;
		x = x * 16 + (uint32_t)v;
	}
	uint32_t idx = ((x - serial_base) * serial_inv) & 0xFFFFFFu;
	return idx < (uint32_t)opt.meters;
}

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg)
{
	(void)mosq;
	(void)obj;
	if (record_f)
		write_hex_line(record_f, msg->topic, msg->payload, (size_t)msg->payloadlen);
	atomic_fetch_add(&n_received, 1);
	if (is_our_topic(msg->topic))
		atomic_fetch_add(&n_received_ours, 1);
}

static void mqtt_publish(const char *topic, const void *payload, size_t len)
{
	if (offline) {
		atomic_fetch_add(&n_published, 1);
		atomic_fetch_add(&n_acked, 1);
		if (sent_f)
			write_hex_line(sent_f, topic, payload, len);
		return;
	}
	if (atomic_load(&pub_lost))
		die("connection to %s:%d lost", opt.host, opt.port);
	int rc = mosquitto_publish(pub_mosq, NULL, topic, (int)len, payload, opt.qos, false);
	if (rc == MOSQ_ERR_NO_CONN && opt.survive_restarts) {
		atomic_fetch_add(&n_offline, 1);
		return;
	}
	if (rc != MOSQ_ERR_SUCCESS)
		die("publish on %s failed: %s", topic, mosquitto_strerror(rc));
	atomic_fetch_add(&n_published, 1);
	if (sent_f)
		write_hex_line(sent_f, topic, payload, len);
}

static struct mosquitto *mqtt_new(const char *role,
				  void (*on_conn)(struct mosquitto *, void *, int),
				  void (*on_disc)(struct mosquitto *, void *, int))
{
	char id[64];
	snprintf(id, sizeof id, "lowi-sim-%s-%ld-%llx", role, (long)getpid(),
		 (unsigned long long)(opt.seed & 0xFFFFFF));
	struct mosquitto *mosq = mosquitto_new(id, true, NULL);
	if (!mosq)
		die("mosquitto_new failed: %s", strerror(errno));
	if (opt.username) {
		int rc = mosquitto_username_pw_set(mosq, opt.username, opt.password);
		if (rc != MOSQ_ERR_SUCCESS)
			die("mosquitto_username_pw_set: %s", mosquitto_strerror(rc));
	}
	mosquitto_int_option(mosq, MOSQ_OPT_SEND_MAXIMUM, 200);
	mosquitto_int_option(mosq, MOSQ_OPT_TCP_NODELAY, 1);
	mosquitto_connect_callback_set(mosq, on_conn);
	mosquitto_disconnect_callback_set(mosq, on_disc);
	return mosq;
}

/* Connect, start the network thread, wait (real time) for a successful CONNACK. */
static void mqtt_connect(struct mosquitto *mosq, const char *role, atomic_int *connack)
{
	int rc = mosquitto_connect(mosq, opt.host, opt.port, opt.keepalive);
	if (rc != MOSQ_ERR_SUCCESS)
		die("cannot connect (%s) to %s:%d: %s", role, opt.host, opt.port,
		    rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
	rc = mosquitto_loop_start(mosq);
	if (rc != MOSQ_ERR_SUCCESS)
		die("mosquitto_loop_start: %s", mosquitto_strerror(rc));
	double t0 = real_now();
	while (atomic_load(connack) < 0) {
		if (real_now() - t0 > 15)
			die("no CONNACK (%s) from %s:%d within 15 s", role, opt.host, opt.port);
		real_sleep_ms(2);
	}
	int ack = atomic_load(connack);
	if (ack != 0)
		die("connection (%s) to %s:%d refused: %s", role, opt.host, opt.port,
		    mosquitto_connack_string(ack));
}

/* ------------------------------------------------------------------------ */
/* Payloads                                                                  */

struct reading {
	long long cih, cil, ceh, cel, cg, cw;
	int pi, pe, u, i, t;
};

static struct reading meter_read(meter_t *m, int64_t t_ns)
{
	int64_t s = floor_div(t_ns, NS_PER_S);
	model_advance(m, s);
	double fr = (double)(t_ns - s * NS_PER_S) / 1e9;
	double imp[2] = {(double)m->imp_j[0], (double)m->imp_j[1]};
	double ex[2] = {(double)m->exp_j[0], (double)m->exp_j[1]};
	if (m->net_w > 0)
		imp[m->rate] += m->net_w * fr;
	else
		ex[m->rate] += -m->net_w * fr;
	struct reading rd;
	rd.cih = (long long)floor(imp[1] / 3600.0);
	rd.cil = (long long)floor(imp[0] / 3600.0);
	rd.ceh = (long long)floor(ex[1] / 3600.0);
	rd.cel = (long long)floor(ex[0] / 3600.0);
	rd.cg = (long long)floor(((double)m->gas_ml + m->gas_r * fr) / 1000.0);
	rd.cw = (long long)floor(((double)m->water_ml + m->water_r * fr) / 1000.0);
	rd.pi = m->net_w > 0 ? m->net_w : 0;
	rd.pe = m->net_w < 0 ? -m->net_w : 0;
	rd.u = m->volt;
	rd.i = (int)lround(fabs((double)m->net_w) / m->volt * 100.0);
	rd.t = m->rate;
	return rd;
}

static int build_ch0(char *buf, size_t cap, const meter_t *m, const struct reading *rd)
{
	const char *q = m->strings ? "\"" : "";
	return snprintf(buf, cap,
			"{\"ident\":\"%s\",\"device_CH\":%s0%s,\"Name\":\"Compteur\",\"Type\":\"P1\","
			"\"Units\":\"Various\",\"U\":%s%d%s,\"I\":%s%d%s,\"T\":%s%d%s,\"PI\":%s%d%s,"
			"\"PE\":%s%d%s,\"CIH\":%s%lld%s,\"CIL\":%s%lld%s,\"CEH\":%s%lld%s,"
			"\"CEL\":%s%lld%s,\"CG\":%s%lld%s,\"CW\":%s%lld%s}",
			m->serial, q, q, q, rd->u, q, q, rd->i, q, q, rd->t, q, q, rd->pi, q, q, rd->pe, q,
			q, rd->cih, q, q, rd->cil, q, q, rd->ceh, q, q, rd->cel, q, q, rd->cg, q, q, rd->cw, q);
}

static void publish_noise(meter_t *m, const struct reading *rd, int64_t t_ns)
{
	rng_t *r = &noise_rng;
	char topic[96];
	char buf[1024];
	double u = rng_u01(r);
	if (u < 0.40) {
		snprintf(topic, sizeof topic, "zigbee2mqtt/sensor%d", ri(r, 1, 8));
		int n = snprintf(buf, sizeof buf,
				 "{\"battery\":%d,\"humidity\":%.1f,\"linkquality\":%d,"
				 "\"temperature\":%.2f,\"voltage\":%d}",
				 ri(r, 20, 100), rng_uni(r, 30, 70), ri(r, 20, 255), rng_uni(r, 15, 24),
				 ri(r, 2700, 3100));
		mqtt_publish(topic, buf, (size_t)n);
	} else if (u < 0.55) {
		size_t n = (size_t)ri(r, 512, 8192);
		unsigned char *img = malloc(n);
		if (!img)
			die("out of memory");
		for (size_t i = 0; i < n; i++)
			img[i] = (unsigned char)(rng_next(r) >> 56);
		img[0] = 0xFF, img[1] = 0xD8, img[2] = 0xFF, img[3] = 0xE0;
		img[n - 2] = 0xFF, img[n - 1] = 0xD9;
		mqtt_publish("home/camera/snapshot", img, n);
		free(img);
	} else if (u < 0.85) {
		/* a CH1 clamp channel of the same dongle (heat pump / sub-meter) */
		const char *q = m->strings ? "\"" : "";
		local_t l = brussels_local(floor_div(t_ns, NS_PER_S));
		int p = m->load_w / 4;
		long long hc = (long long)p * (l.minute % 60) / 60;
		long long dc = hc + (long long)p * 8 * (l.minute / 60) / 10;
		long long mc = dc + 3000LL * (l.mday - 1);
		int n = snprintf(buf, sizeof buf,
				 "{\"ident\":\"%s\",\"device_CH\":%s1%s,\"Name\":\"Warmtepomp\","
				 "\"Type\":\"Pince\",\"Units\":\"W\",\"U\":%s%d%s,\"I\":%s%d%s,"
				 "\"T\":%s%d%s,\"P\":%s%d%s,\"HC\":%s%lld%s,\"DC\":%s%lld%s,"
				 "\"MC\":%s%lld%s,\"CH\":%s%lld%s,\"CL\":%s%lld%s}",
				 m->serial, q, q, q, rd->u, q, q, (int)lround(p * 100.0 / rd->u), q, q,
				 rd->t, q, q, p, q, q, hc, q, q, dc, q, q, mc, q, q, rd->cih * 3 / 10, q,
				 q, rd->cil * 3 / 10, q);
		mqtt_publish(m->topic1, buf, (size_t)n);
	} else {
		snprintf(topic, sizeof topic, "shellies/lowisim-plug%d/relay/0/power", ri(r, 1, 4));
		int n = snprintf(buf, sizeof buf, "%.2f", rng_uni(r, 0, 1500));
		mqtt_publish(topic, buf, (size_t)n);
	}
	n_noise++;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void load_bad_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		die("cannot open --bad-dir %s: %s", dir, strerror(errno));
	struct dirent *de;
	size_t cap = 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char *path;
		if (asprintf(&path, "%s/%s", dir, de->d_name) < 0)
			die("out of memory");
		struct stat st;
		if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
			free(path);
			continue;
		}
		if (n_bad_files == cap) {
			cap = cap ? cap * 2 : 64;
			bad_files = realloc(bad_files, cap * sizeof *bad_files);
			if (!bad_files)
				die("out of memory");
		}
		bad_files[n_bad_files++] = path;
	}
	closedir(d);
	if (n_bad_files == 0)
		die("--bad-dir %s holds no regular files", dir);
	qsort(bad_files, n_bad_files, sizeof *bad_files, cmp_str);
}

static void publish_bad(meter_t *m)
{
	const char *path = bad_files[bad_next];
	bad_next = (bad_next + 1) % n_bad_files;
	FILE *f = fopen(path, "rb");
	if (!f)
		die("cannot open %s: %s", path, strerror(errno));
	size_t cap = 65536, n = 0;
	unsigned char *buf = malloc(cap);
	if (!buf)
		die("out of memory");
	for (;;) {
		if (n == cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			if (!buf)
				die("out of memory");
		}
		size_t k = fread(buf + n, 1, cap - n, f);
		n += k;
		if (k == 0)
			break;
	}
	if (ferror(f))
		die("cannot read %s", path);
	fclose(f);
	mqtt_publish(m->topic0, buf, n);
	free(buf);
	n_bad++;
}

/* ------------------------------------------------------------------------ */
/* Scheduler: binary min-heap of meter indices by next publish time.         */

static int *heap;
static int heap_n;

static bool heap_less(int a, int b)
{
	return meters[heap[a]].next_pub < meters[heap[b]].next_pub ||
	       (meters[heap[a]].next_pub == meters[heap[b]].next_pub && heap[a] < heap[b]);
}

static void heap_swap(int a, int b)
{
	int t = heap[a];
	heap[a] = heap[b];
	heap[b] = t;
}

static void heap_down(int i)
{
	for (;;) {
		int l = 2 * i + 1, r = l + 1, s = i;
		if (l < heap_n && heap_less(l, s))
			s = l;
		if (r < heap_n && heap_less(r, s))
			s = r;
		if (s == i)
			return;
		heap_swap(i, s);
		i = s;
	}
}

static void heap_up(int i)
{
	while (i > 0) {
		int p = (i - 1) / 2;
		if (!heap_less(i, p))
			return;
		heap_swap(i, p);
		i = p;
	}
}

/* ------------------------------------------------------------------------ */

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void usage(FILE *f)
{
	fputs("usage: lowi-sim [options]\n"
	      "  --host H               broker host (127.0.0.1)\n"
	      "  --port P               broker port (1883)\n"
	      "  --username U --password P\n"
	      "  --qos N                0 or 1 (1)\n"
	      "  --keepalive S          MQTT keepalive, simulated seconds (3600)\n"
	      "  --meters N             number of meters (1)\n"
	      "  --interval S           seconds between a meter's publishes (60)\n"
	      "  --jitter S             +/- uniform jitter on each interval (3)\n"
	      "  --survive-restarts     keep going while the broker restarts: readings taken while\n"
	      "                         disconnected are not published (use with --qos 0)\n"
	      "  --drift S              free-running dongle clock: each meter's period is longer\n"
	      "                         than --interval by a fixed amount drawn uniformly in\n"
	      "                         [S/6, S] s per 60 s of interval (3); 0 = exactly --interval\n"
	      "  --household H          typical (default): winter household heated by electricity\n"
	      "                         (heat pump or heaters), cooking, EV in 30 %; gentle: the\n"
	      "                         earlier, quieter model with gas heating\n"
	      "  --duration S           simulated seconds to run, 0 = until SIGINT (3600)\n"
	      "  --seed N               random seed (1)\n"
	      "  --truth FILE           ground truth CSV per meter and UTC quarter-hour\n"
	      "  --published FILE       CSV of every good reading published\n"
	      "  --noise N              N unrelated messages per meter-interval (0)\n"
	      "  --bad-dir DIR --bad-every K  every K-th good publish, also publish the next\n"
	      "                         file of DIR (sorted, round robin) on the CH0 topic\n"
	      "  --subscribe            also subscribe to '#' on a second connection\n"
	      "  --record FILE          with --subscribe: write topic<TAB>hex(payload) received\n"
	      "  --sent FILE            write topic<TAB>hex(payload) for every publish\n"
	      "  --numbers-as-strings P probability per meter of string values (0.5)\n"
	      "  --drain-timeout S      REAL seconds to wait for acks/deliveries at the end (60)\n"
	      "  --settle S             simulated seconds to wait after the last publish (5)\n"
	      "  --offline EPOCH        no broker: run on a virtual clock from EPOCH (UTC seconds)\n"
	      "                         as fast as the model computes, writing the same files\n",
	      f);
}

static double parse_num(const char *name, const char *s, double lo, double hi)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= lo && v <= hi))
		die("invalid %s '%s' (expected %g..%g)", name, s, lo, hi);
	return v;
}

static FILE *open_out(const char *path)
{
	FILE *f = fopen(path, "w");
	if (!f)
		die("cannot write %s: %s", path, strerror(errno));
	setvbuf(f, NULL, _IOFBF, 1 << 20);
	return f;
}

int main(int argc, char **argv)
{
	enum {
		O_HOST = 256, O_PORT, O_USER, O_PASS, O_QOS, O_KEEP, O_METERS, O_INTERVAL,
		O_JITTER, O_DURATION, O_SEED, O_TRUTH, O_PUBLISHED, O_NOISE, O_BADDIR,
		O_BADEVERY, O_RECORD, O_SUBSCRIBE, O_SENT, O_STRINGS, O_DRAIN, O_SETTLE, O_OFFLINE, O_HELP,
		O_DRIFT, O_HOUSEHOLD, O_SURVIVE
	};
	static const struct option longopts[] = {
		{"host", required_argument, NULL, O_HOST},
		{"port", required_argument, NULL, O_PORT},
		{"username", required_argument, NULL, O_USER},
		{"password", required_argument, NULL, O_PASS},
		{"qos", required_argument, NULL, O_QOS},
		{"keepalive", required_argument, NULL, O_KEEP},
		{"meters", required_argument, NULL, O_METERS},
		{"interval", required_argument, NULL, O_INTERVAL},
		{"jitter", required_argument, NULL, O_JITTER},
		{"drift", required_argument, NULL, O_DRIFT},
		{"survive-restarts", no_argument, NULL, O_SURVIVE},
		{"household", required_argument, NULL, O_HOUSEHOLD},
		{"duration", required_argument, NULL, O_DURATION},
		{"seed", required_argument, NULL, O_SEED},
		{"truth", required_argument, NULL, O_TRUTH},
		{"published", required_argument, NULL, O_PUBLISHED},
		{"noise", required_argument, NULL, O_NOISE},
		{"bad-dir", required_argument, NULL, O_BADDIR},
		{"bad-every", required_argument, NULL, O_BADEVERY},
		{"record", required_argument, NULL, O_RECORD},
		{"subscribe", no_argument, NULL, O_SUBSCRIBE},
		{"sent", required_argument, NULL, O_SENT},
		{"numbers-as-strings", required_argument, NULL, O_STRINGS},
		{"drain-timeout", required_argument, NULL, O_DRAIN},
		{"settle", required_argument, NULL, O_SETTLE},
		{"offline", required_argument, NULL, O_OFFLINE},
		{"help", no_argument, NULL, O_HELP},
		{NULL, 0, NULL, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case O_HOST: opt.host = optarg; break;
		case O_PORT: opt.port = (int)parse_num("--port", optarg, 1, 65535); break;
		case O_USER: opt.username = optarg; break;
		case O_PASS: opt.password = optarg; break;
		case O_QOS: opt.qos = (int)parse_num("--qos", optarg, 0, 1); break;
		case O_KEEP: opt.keepalive = (int)parse_num("--keepalive", optarg, 5, 65535); break;
		case O_METERS: opt.meters = (int)parse_num("--meters", optarg, 1, 100000); break;
		case O_INTERVAL: opt.interval = parse_num("--interval", optarg, 0.01, 86400); break;
		case O_JITTER: opt.jitter = parse_num("--jitter", optarg, 0, 86400); break;
		case O_SURVIVE: opt.survive_restarts = true; break;
		case O_DRIFT: opt.drift = parse_num("--drift", optarg, 0, 30); break;
		case O_HOUSEHOLD:
			if (!strcmp(optarg, "typical"))
				opt.typical = true;
			else if (!strcmp(optarg, "gentle"))
				opt.typical = false;
			else
				die("invalid --household '%s' (expected typical or gentle)", optarg);
			break;
		case O_DURATION: opt.duration = parse_num("--duration", optarg, 0, 1e9); break;
		case O_SEED: opt.seed = (uint64_t)parse_num("--seed", optarg, 0, 9007199254740992.0); break;
		case O_TRUTH: opt.truth_path = optarg; break;
		case O_PUBLISHED: opt.published_path = optarg; break;
		case O_NOISE: opt.noise = (int)parse_num("--noise", optarg, 0, 1000); break;
		case O_BADDIR: opt.bad_dir = optarg; break;
		case O_BADEVERY: opt.bad_every = (int)parse_num("--bad-every", optarg, 0, 1e9); break;
		case O_RECORD: opt.record_path = optarg; break;
		case O_SUBSCRIBE: opt.subscribe = true; break;
		case O_SENT: opt.sent_path = optarg; break;
		case O_STRINGS: opt.p_strings = parse_num("--numbers-as-strings", optarg, 0, 1); break;
		case O_DRAIN: opt.drain_timeout = parse_num("--drain-timeout", optarg, 0, 86400); break;
		case O_SETTLE: opt.settle = parse_num("--settle", optarg, 0, 86400); break;
		case O_OFFLINE:
			offline = true;
			offline_now_ns = (int64_t)parse_num("--offline", optarg, 0, 4e9) * NS_PER_S;
			break;
		case O_HELP: usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		die("unexpected argument '%s'", argv[optind]);
	}
	if (opt.jitter >= opt.interval)
		die("--jitter must be smaller than --interval");
	EVDEF = opt.typical ? EVDEF_TYPICAL : EVDEF_GENTLE;
	if (opt.record_path)
		opt.subscribe = true;
	if ((opt.bad_dir != NULL) != (opt.bad_every > 0))
		die("--bad-dir and --bad-every go together");
	if (offline && (opt.subscribe || opt.survive_restarts))
		die("--offline has no broker to subscribe to or to survive");

	for (int p = 0; p < P_NPROF; p++)
		for (int h = 0; h < 24; h++)
			PROF_SUM[p] += PROF[p][h];
	serial_base = (uint32_t)(hash3(opt.seed, 0x5E71A1ULL, 0) & 0xFFFFFFu);
	serial_inv = SERIAL_MULT; /* Newton: inverse of an odd number mod 2^24 */
	for (int i = 0; i < 5; i++)
		serial_inv *= 2u - SERIAL_MULT * serial_inv;
	serial_inv &= 0xFFFFFFu;
	rng_seed(&noise_rng, hash3(opt.seed, 0x4E4F495345ULL, 0));
	if (opt.bad_dir)
		load_bad_dir(opt.bad_dir);

	if (opt.truth_path) {
		truth_f = open_out(opt.truth_path);
		fputs("serial,quarter_start_epoch_s,import_wh,export_wh,cih_end_wh,cil_end_wh,"
		      "ceh_end_wh,cel_end_wh,gas_l,water_l\n", truth_f);
	}
	if (opt.published_path) {
		published_f = open_out(opt.published_path);
		fputs("serial,t_ms,CIH,CIL,CEH,CEL,PI,PE\n", published_f);
	}
	if (opt.sent_path)
		sent_f = open_out(opt.sent_path);
	if (opt.record_path)
		record_f = open_out(opt.record_path);

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	mosquitto_lib_init();
	if (offline)
		goto model;
	if (opt.subscribe) {
		sub_mosq = mqtt_new("rec", on_sub_connect, on_sub_disconnect);
		mosquitto_subscribe_callback_set(sub_mosq, on_subscribe);
		mosquitto_message_callback_set(sub_mosq, on_message);
		mqtt_connect(sub_mosq, "rec", &sub_connack); /* subscribes in on_sub_connect */
		double t0r = real_now();
		while (!atomic_load(&sub_ready)) {
			if (atomic_load(&sub_lost))
				die("recording connection to %s:%d failed", opt.host, opt.port);
			if (real_now() - t0r > 15)
				die("no SUBACK from %s:%d within 15 s", opt.host, opt.port);
			real_sleep_ms(2);
		}
	}
	pub_mosq = mqtt_new("pub", on_pub_connect, on_pub_disconnect);
	mosquitto_publish_callback_set(pub_mosq, on_publish);
	mqtt_connect(pub_mosq, "pub", &pub_connack);

model:
	/* model and schedule */
	int64_t t0 = now_ns();
	int64_t s0 = floor_div(t0, NS_PER_S);
	int64_t end_ns = opt.duration > 0 ? t0 + (int64_t)(opt.duration * 1e9) : INT64_MAX;
	int64_t interval_ns = (int64_t)(opt.interval * 1e9);
	int64_t jitter_ns = (int64_t)(opt.jitter * 1e9);
	meters = calloc((size_t)opt.meters, sizeof *meters);
	heap = calloc((size_t)opt.meters, sizeof *heap);
	if (!meters || !heap)
		die("out of memory");
	for (int i = 0; i < opt.meters; i++) {
		meter_t *m = &meters[i];
		meter_init(m, i, s0);
		double phase = (i + rng_u01(&m->srng)) / opt.meters;
		m->next_pub = t0 + (int64_t)(phase * (double)interval_ns);
		/* own stream, so that --drift 0 keeps the schedules of earlier versions */
		rng_t drng;
		rng_seed(&drng, hash3(opt.seed, (uint64_t)i, 0x4452494654ULL));
		double drift_s = rng_uni(&drng, opt.drift / 6.0, opt.drift) * opt.interval / 60.0;
		m->drift_ns = (int64_t)(drift_s * 1e9);
		heap[heap_n++] = i;
		heap_up(heap_n - 1);
	}

	char payload[1024];
	int64_t last_pub = t0;
	while (heap_n > 0 && !stop_flag) {
		meter_t *m = &meters[heap[0]];
		if (m->next_pub >= end_ns) {
			heap[0] = heap[--heap_n];
			heap_down(0);
			continue;
		}
		sleep_until(m->next_pub);
		if (stop_flag)
			break;
		if (atomic_load(&pub_lost))
			die("connection to %s:%d lost", opt.host, opt.port);
		if (opt.subscribe && atomic_load(&sub_lost))
			die("recording connection to %s:%d lost", opt.host, opt.port);

		int64_t t = now_ns();
		if (!m->started) {
			m->started = true;
			m->first_pub = t;
		}
		struct reading rd = meter_read(m, t);
		int n = build_ch0(payload, sizeof payload, m, &rd);
		if (opt.survive_restarts && !atomic_load(&pub_up)) {
			/* Broker away: this reading is never published. */
			atomic_fetch_add(&n_offline, 1);
			int64_t skip = interval_ns + m->drift_ns;
			m->next_pub += skip;
			heap_down(0);
			continue;
		}
		if (published_f)
			fprintf(published_f, "%s,%" PRId64 ",%lld,%lld,%lld,%lld,%d,%d\n", m->serial,
				floor_div(t, 1000000), rd.cih, rd.cil, rd.ceh, rd.cel, rd.pi, rd.pe);
		mqtt_publish(m->topic0, payload, (size_t)n);
		n_good++;
		last_pub = t;
		for (int k = 0; k < opt.noise; k++)
			publish_noise(m, &rd, t);
		if (opt.bad_every > 0 && n_good % (uint64_t)opt.bad_every == 0)
			publish_bad(m);

		int64_t step = interval_ns + m->drift_ns;
		if (jitter_ns > 0)
			step += rng_int(&m->srng, -jitter_ns, jitter_ns);
		if (step < 1000000)
			step = 1000000;
		m->next_pub += step;
		heap_down(0);
	}

	/* drain: all publishes acknowledged (QoS 1) or written (QoS 0) */
	int rc_exit = 0;
	unsigned long long published = atomic_load(&n_published);
	double tr = real_now();
	while (atomic_load(&n_acked) < published && real_now() - tr < opt.drain_timeout) {
		if (atomic_load(&pub_lost))
			die("connection to %s:%d lost before all messages were acknowledged", opt.host,
			    opt.port);
		real_sleep_ms(2);
	}
	if (atomic_load(&n_acked) < published) {
		fprintf(stderr, "lowi-sim: error: only %llu of %llu publishes acknowledged after %g s\n",
			(unsigned long long)atomic_load(&n_acked), published, opt.drain_timeout);
		rc_exit = 3;
	}
	if (opt.subscribe) {
		sleep_until(last_pub + (int64_t)(opt.settle * 1e9));
		tr = real_now();
		while (atomic_load(&n_received_ours) < published && real_now() - tr < opt.drain_timeout)
			real_sleep_ms(2);
		if (atomic_load(&n_received_ours) < published)
			fprintf(stderr, "lowi-sim: warning: received %llu of %llu sent messages\n",
				(unsigned long long)atomic_load(&n_received_ours), published);
	}
	atomic_store(&disconnecting, true);
	if (pub_mosq) {
		mosquitto_disconnect(pub_mosq);
		mosquitto_loop_stop(pub_mosq, false);
		mosquitto_destroy(pub_mosq);
	}
	if (sub_mosq) {
		mosquitto_disconnect(sub_mosq);
		mosquitto_loop_stop(sub_mosq, false);
		mosquitto_destroy(sub_mosq);
	}
	mosquitto_lib_cleanup();

	FILE *outs[] = {truth_f, published_f, sent_f, record_f};
	for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++)
		if (outs[i] && fclose(outs[i]) != 0)
			die("error writing an output file: %s", strerror(errno));

	printf("meters=%d\n", opt.meters);
	printf("simulated_seconds=%.3f\n", (double)(last_pub - t0) / 1e9);
	printf("good=%llu\n", (unsigned long long)n_good);
	printf("bad=%llu\n", (unsigned long long)n_bad);
	printf("noise=%llu\n", (unsigned long long)n_noise);
	printf("sent=%llu\n", published);
	printf("acked=%llu\n", (unsigned long long)atomic_load(&n_acked));
	printf("offline=%llu\n", (unsigned long long)atomic_load(&n_offline));
	if (opt.subscribe) {
		printf("received=%llu\n", (unsigned long long)atomic_load(&n_received));
		printf("received_ours=%llu\n", (unsigned long long)atomic_load(&n_received_ours));
	}
	printf("truth_quarters=%llu\n", (unsigned long long)n_truth);
	if (stop_flag)
		printf("interrupted=1\n");
	return rc_exit;
}
