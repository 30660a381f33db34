/*
 * The Flemish capacity tariff of one meter, live: the running quarter's
 * average import power so far and projected to its end, the month's peak,
 * the 12-month mean the bill uses, how much more power the rest of the
 * quarter can take without setting a new peak, and the events a household
 * is warned with.
 *
 * The rule (README, "Capacity tariff"): a month's peak is its highest
 * quarter-hour average import power (kWh of the quarter x 4), quarters on
 * the fixed :00/:15/:30/:45 boundaries, months in Brussels civil time. The
 * bill of a month uses the mean of the peaks of that month and the 11
 * before it, each counted at least CAPACITY_FLOOR_KW; months of that window
 * without a recorded peak (before the meter's first one, or with no
 * measured quarter) are left out of the mean. Estimated quarters never set
 * a peak, as in Pics.
 *
 * The running quarter is read from the meter's quarter state (quarter.h):
 * the energy since its start boundary is the difference between the last
 * reading's totals and the totals estimated at that boundary; when that
 * boundary is not known (first reading, a jump, an estimated interval) the
 * quarter is flagged estimated and no event is raised for it; without a
 * boundary of its own, its energy so far is the import power now over the
 * time gone.
 *
 * Pure: no I/O, no allocation, no globals. A struct capacity belongs to one
 * thread at a time (the aggregator thread in the plugin), like the meter it
 * is part of.
 */
#ifndef LOWI_CAPACITY_H
#define LOWI_CAPACITY_H

#include <stdbool.h>
#include <stdint.h>

#include "quarter.h"

#define CAPACITY_FLOOR_KW 2.5
#define CAPACITY_WINDOW_MONTHS 12

/* A Brussels calendar month as year * 12 + (month - 1); 0 means none. */
typedef int32_t capacity_month_t;

struct capacity_month {
	capacity_month_t month;
	float peak_kw;         /* its highest non-estimated quarter's average import power */
	int64_t peak_start_s;  /* that quarter's start, UTC */
};

struct capacity {
	/* The peaks known, months[m % CAPACITY_WINDOW_MONTHS] for month m: an
	 * entry whose month is not m is stale (a year old) or empty. */
	struct capacity_month months[CAPACITY_WINDOW_MONTHS];
	int64_t event_quarter_s;  /* the quarter events_sent is about */
	int64_t event_reading_ms; /* the reading capacity_event_due last saw, UTC ms */
	float event_import_kw;    /* the import power smoothed over about a minute */
	uint8_t events_sent;      /* CAPACITY_EVENT_* bits already raised for it */
};

/* The Brussels month holding a UTC instant. */
capacity_month_t capacity_month_of(int64_t utc_s);
/* Its first day, e.g. for "2026-12". */
void capacity_month_civil(capacity_month_t m, int *year, int *month);

/* A quarter the aggregator closed (a row): its peak is kept when it is not
 * estimated and beats the month's. Returns true when it sets a new peak of
 * its month (the first measured quarter of a month does). */
bool capacity_note_quarter(struct capacity *c, int64_t start_s, int64_t import_wh, bool estimated);

/* A month's peak read back from the database (Pics): kept when higher than
 * the one known (the same peak at an earlier quarter wins, as in Pics). */
void capacity_merge(struct capacity *c, capacity_month_t month, double peak_kw, int64_t peak_start_s);

/* The peak known for a month: false when none. */
bool capacity_month_peak(const struct capacity *c, capacity_month_t month, double *peak_kw, int64_t *peak_start_s);

/* The 12-month mean billed for a month (the rule above); months is how many
 * months it was taken over (0: no peak at all, mean_kw is then the floor). */
struct capacity_billed {
	double mean_kw;
	int months;
};
struct capacity_billed capacity_billed(const struct capacity *c, capacity_month_t month);

struct capacity_live {
	int64_t quarter_start_s;  /* the running quarter (holding the last reading), UTC */
	double elapsed_s;         /* from its start to the last reading */
	double import_kwh;        /* imported in it so far */
	double average_kw;        /* import_kwh over elapsed_s (0 when elapsed_s is 0) */
	double projected_kw;      /* its average at its end, if the import power holds */
	bool estimated;           /* the energy so far is not measured: no event */
	capacity_month_t month;   /* the month of the running quarter */
	bool has_month_peak;
	double month_peak_kw;     /* the month's peak so far (closed quarters) */
	int64_t month_peak_start_s;
	struct capacity_billed billed; /* the month's billed mean, the month's peak so far counted */
	double target_kw;         /* peak_limit_kw when set, else the month's peak, at least the floor */
	double allowed_kw;        /* average import the rest of the quarter can take staying at target_kw */
	double import_kw;         /* the import power now: the reading's PI, or average_kw without it */
	double headroom_kw;       /* allowed_kw minus import_kw (negative: over) */
	bool peak_projected;      /* projected_kw above target_kw, measured quarter */
};

/* The live figures after the meter's last reading (mq->last_ms); import
 * power now is the reading's PI, or the average so far without it.
 * peak_limit_kw <= 0: no operator's limit. */
void capacity_live_compute(const struct capacity *c, const struct meter_quarters *mq, double peak_limit_kw,
	struct capacity_live *out);

enum capacity_event {
	CAPACITY_EVENT_NONE = 0,
	CAPACITY_EVENT_PROJECTED = 1, /* the projection went above the target */
	CAPACITY_EVENT_CLEARED = 2,   /* and back under it, by a margin */
};

/* The event this reading raises, given its live figures; called once for
 * each accepted reading, in time order. At most one of each kind per
 * quarter, and CLEARED only after PROJECTED. PROJECTED comes as soon as the
 * quarter's energy so far is above the target, and otherwise only on the
 * last reading before the final three minutes (judged from the time since
 * the reading before) or after it, when the projection at the lower of the
 * power now and its average over about a minute is above the target: the
 * power of cycling loads rarely holds, so an earlier projection is mostly
 * wrong, and a load switched on seconds ago is not yet a trend. CLEARED
 * needs projected_kw under the target by a margin. */
enum capacity_event capacity_event_due(struct capacity *c, const struct capacity_live *live);

const char *capacity_event_name(enum capacity_event e);

#endif
