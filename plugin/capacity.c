#include "capacity.h"

#include <math.h>
#include <string.h>

#include "brussels.h"

#define QUARTER_MS ((int64_t)QUARTER_S * 1000)

/* A warning is worth giving while at least this much of the quarter is
 * left: time to switch a load off. */
#define CAPACITY_WARN_LEFT_S 180.0
/* A reading closer to that mark than the time since the reading before
 * plus this slack is taken as the last one before it. */
#define CAPACITY_WARN_SLACK_S 10.0
/* The time constant of the smoothed import power. */
#define CAPACITY_SMOOTHING_S 60.0

/* A projection must stay this far under the target to clear a warning, so
 * that one oscillating around the target does not clear and warn in turn. */
#define CAPACITY_CLEAR_MARGIN_KW 0.2

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	if (a % b != 0 && (a < 0) != (b < 0))
		q--;
	return q;
}

static int slot_index(capacity_month_t m)
{
	int i = (int)(m % CAPACITY_WINDOW_MONTHS);
	return i < 0 ? i + CAPACITY_WINDOW_MONTHS : i;
}

static struct capacity_month *slot_of(struct capacity *c, capacity_month_t m)
{
	return &c->months[slot_index(m)];
}

static const struct capacity_month *slot_of_const(const struct capacity *c, capacity_month_t m)
{
	return &c->months[slot_index(m)];
}

capacity_month_t capacity_month_of(int64_t utc_s)
{
	struct civil_date d = brussels_month_of(utc_s);
	return (capacity_month_t)((int64_t)d.year * 12 + d.month - 1);
}

void capacity_month_civil(capacity_month_t m, int *year, int *month)
{
	*year = (int)floor_div(m, 12);
	*month = (int)(m - *year * 12) + 1;
}

/* Keeps a peak for its month: an entry of an older month (a year ago, or
 * empty) gives way; one of a later month is never overwritten by an older
 * one. Returns whether the peak was kept. */
static bool keep_peak(struct capacity *c, capacity_month_t month, float peak_kw, int64_t start_s)
{
	struct capacity_month *s = slot_of(c, month);
	if (s->month > month)
		return false;
	if (s->month == month && !(peak_kw > s->peak_kw || (peak_kw == s->peak_kw && start_s < s->peak_start_s)))
		return false;
	s->month = month;
	s->peak_kw = peak_kw;
	s->peak_start_s = start_s;
	return true;
}

bool capacity_note_quarter(struct capacity *c, int64_t start_s, int64_t import_wh, bool estimated)
{
	if (estimated || import_wh < 0)
		return false;
	capacity_month_t month = capacity_month_of(start_s);
	const struct capacity_month *s = slot_of(c, month);
	bool had = s->month == month;
	float kw = (float)((double)import_wh * 4.0 / 1000.0);
	/* The same peak again later is no new peak; an earlier one keeps the
	 * same peak but moves it (rows are in time order, so only a replay). */
	bool higher = !had || kw > s->peak_kw;
	return keep_peak(c, month, kw, start_s) && higher;
}

void capacity_merge(struct capacity *c, capacity_month_t month, double peak_kw, int64_t peak_start_s)
{
	if (month <= 0 || !(peak_kw >= 0.0) || !isfinite(peak_kw))
		return;
	keep_peak(c, month, (float)peak_kw, peak_start_s);
}

bool capacity_month_peak(const struct capacity *c, capacity_month_t month, double *peak_kw, int64_t *peak_start_s)
{
	const struct capacity_month *s = slot_of_const(c, month);
	if (month == 0 || s->month != month)
		return false;
	if (peak_kw)
		*peak_kw = s->peak_kw;
	if (peak_start_s)
		*peak_start_s = s->peak_start_s;
	return true;
}

struct capacity_billed capacity_billed(const struct capacity *c, capacity_month_t month)
{
	struct capacity_billed b = {CAPACITY_FLOOR_KW, 0};
	double sum = 0.0;
	for (int k = 0; k < CAPACITY_WINDOW_MONTHS; k++) {
		double kw;
		if (!capacity_month_peak(c, month - k, &kw, NULL))
			continue;
		sum += kw > CAPACITY_FLOOR_KW ? kw : CAPACITY_FLOOR_KW;
		b.months++;
	}
	if (b.months > 0)
		b.mean_kw = sum / b.months;
	return b;
}

void capacity_live_compute(const struct capacity *c, const struct meter_quarters *mq, double peak_limit_kw,
	struct capacity_live *out)
{
	memset(out, 0, sizeof(*out));
	out->estimated = true;
	if (mq->last_ms > 0) {
		int64_t q_ms = floor_div(mq->last_ms, QUARTER_MS) * QUARTER_MS;
		out->quarter_start_s = q_ms / 1000;
		out->elapsed_s = (double)(mq->last_ms - q_ms) / 1000.0;
		double power_kw = -1.0; /* unknown */
		if (mq->last_has_power && mq->last_import_w >= 0.0f)
			power_kw = mq->last_import_w / 1000.0;
		/* The energy since the quarter's start boundary: measured when the
		 * boundary is this quarter's and no jump is booked in it; estimated
		 * (the boundary itself was) when an estimated interval touches it. */
		if (mq->boundary_valid && !mq->open_jump && mq->boundary_s == out->quarter_start_s) {
			double wh = mq->last_total[QC_IMPORT_DAY] + mq->last_total[QC_IMPORT_NIGHT] -
				(double)mq->boundary_total[QC_IMPORT_DAY] - (double)mq->boundary_total[QC_IMPORT_NIGHT];
			out->import_kwh = wh > 0.0 ? wh / 1000.0 : 0.0;
			out->estimated = mq->open_estimated;
		} else if (power_kw >= 0.0) {
			/* No boundary of this quarter to count from (first reading, a
			 * jump): the power now, as if it had held since the start. */
			out->import_kwh = power_kw * out->elapsed_s / 3600.0;
		}
		if (out->elapsed_s > 0.0)
			out->average_kw = out->import_kwh * 3600.0 / out->elapsed_s;
		if (power_kw < 0.0)
			power_kw = out->average_kw;
		double left_h = (QUARTER_S - out->elapsed_s) / 3600.0;
		out->projected_kw = (out->import_kwh + power_kw * left_h) * (3600.0 / QUARTER_S);
		out->month = capacity_month_of(out->quarter_start_s);
		out->has_month_peak = capacity_month_peak(c, out->month, &out->month_peak_kw, &out->month_peak_start_s);
		out->billed = capacity_billed(c, out->month);
		if (peak_limit_kw > 0.0)
			out->target_kw = peak_limit_kw;
		else
			out->target_kw = out->has_month_peak && out->month_peak_kw > CAPACITY_FLOOR_KW ? out->month_peak_kw
												: CAPACITY_FLOOR_KW;
		/* What the rest of the quarter may still import, as an average
		 * power; none once the quarter's energy is already over. */
		double left_kwh = out->target_kw * QUARTER_S / 3600.0 - out->import_kwh;
		out->allowed_kw = left_kwh > 0.0 ? left_kwh / left_h : 0.0;
		out->import_kw = power_kw;
		out->headroom_kw = out->allowed_kw - power_kw;
		out->peak_projected = !out->estimated && out->projected_kw > out->target_kw;
	} else {
		out->target_kw = peak_limit_kw > 0.0 ? peak_limit_kw : CAPACITY_FLOOR_KW;
	}
}

/* Follows the import power with a time constant of about a minute; returns
 * the time since the reading before (0 when unknown). */
static double smooth_power(struct capacity *c, const struct capacity_live *live)
{
	int64_t now_ms = llround(((double)live->quarter_start_s + live->elapsed_s) * 1000.0);
	double gap_s = 0.0;
	if (c->event_reading_ms > 0 && now_ms > c->event_reading_ms) {
		gap_s = (double)(now_ms - c->event_reading_ms) / 1000.0;
		c->event_import_kw += (float)((1.0 - exp(-gap_s / CAPACITY_SMOOTHING_S)) * (live->import_kw - c->event_import_kw));
	} else if (c->event_reading_ms == 0 || now_ms < c->event_reading_ms) {
		c->event_import_kw = (float)live->import_kw;
	}
	c->event_reading_ms = now_ms;
	return gap_s;
}

/* Whether this reading should warn of a new peak. */
static bool peak_warning_due(const struct capacity *c, const struct capacity_live *live, double gap_s)
{
	double quarter_h = QUARTER_S / 3600.0;
	if (live->import_kwh > live->target_kw * quarter_h)
		return true; /* already over, whatever comes */
	double mark_s = QUARTER_S - CAPACITY_WARN_LEFT_S - CAPACITY_WARN_SLACK_S;
	if (live->elapsed_s + gap_s < mark_s)
		return false; /* another reading is due before the mark */
	double power_kw = live->import_kw < c->event_import_kw ? live->import_kw : c->event_import_kw;
	double left_h = (QUARTER_S - live->elapsed_s) / 3600.0;
	return (live->import_kwh + power_kw * left_h) / quarter_h > live->target_kw;
}

enum capacity_event capacity_event_due(struct capacity *c, const struct capacity_live *live)
{
	double gap_s = smooth_power(c, live);
	if (live->quarter_start_s != c->event_quarter_s) {
		c->event_quarter_s = live->quarter_start_s;
		c->events_sent = 0;
	}
	if (live->estimated)
		return CAPACITY_EVENT_NONE;
	if (!(c->events_sent & CAPACITY_EVENT_PROJECTED)) {
		if (!peak_warning_due(c, live, gap_s))
			return CAPACITY_EVENT_NONE;
		c->events_sent |= CAPACITY_EVENT_PROJECTED;
		return CAPACITY_EVENT_PROJECTED;
	}
	if (!(c->events_sent & CAPACITY_EVENT_CLEARED) && live->projected_kw < live->target_kw - CAPACITY_CLEAR_MARGIN_KW) {
		c->events_sent |= CAPACITY_EVENT_CLEARED;
		return CAPACITY_EVENT_CLEARED;
	}
	return CAPACITY_EVENT_NONE;
}

const char *capacity_event_name(enum capacity_event e)
{
	switch (e) {
	case CAPACITY_EVENT_PROJECTED: return "projected";
	case CAPACITY_EVENT_CLEARED: return "cleared";
	case CAPACITY_EVENT_NONE: break;
	}
	return "none";
}
