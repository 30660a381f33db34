/*
 * The capacity tariff's pure core: the billed mean worked by hand, Brussels
 * months, peaks from rows and from Pics, the live figures on a quarter
 * state built by feeding readings through the quarter aggregation, and the
 * events a household is warned with.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "brussels.h"
#include "capacity.h"
#include "check.h"

static int64_t utc(int y, int mo, int d, int h, int mi)
{
	return civil_to_days(y, mo, d) * 86400 + h * 3600 + mi * 60;
}

static capacity_month_t month(int y, int m)
{
	return (capacity_month_t)(y * 12 + m - 1);
}

static bool near(double a, double b, double tol)
{
	return fabs(a - b) <= tol;
}

/* A peak of kw for a month, as a closed quarter on its 10th at noon. */
static void peak(struct capacity *c, int y, int m, double kw)
{
	CHECK(capacity_note_quarter(c, utc(y, m, 10, 12, 0), llround(kw * 250.0), false), "%04d-%02d %.3f kW is a new peak", y, m, kw);
}

static void test_months(void)
{
	/* Brussels months: 22:45 UTC on the last day of a winter month is
	 * 23:45 there; 22:00 UTC on 31 May is already 1 June (summer time). */
	CHECK(capacity_month_of(utc(2026, 1, 31, 22, 45)) == month(2026, 1), "31 Jan 22:45 UTC is January");
	CHECK(capacity_month_of(utc(2026, 1, 31, 23, 0)) == month(2026, 2), "31 Jan 23:00 UTC is February");
	CHECK(capacity_month_of(utc(2026, 5, 31, 21, 45)) == month(2026, 5), "31 May 21:45 UTC is May");
	CHECK(capacity_month_of(utc(2026, 5, 31, 22, 0)) == month(2026, 6), "31 May 22:00 UTC is June");
	CHECK(capacity_month_of(utc(2026, 5, 31, 22, 45)) == month(2026, 6), "31 May 22:45 UTC is June");
	CHECK(capacity_month_of(utc(2026, 12, 31, 22, 45)) == month(2026, 12), "31 Dec 22:45 UTC is December");
	CHECK(capacity_month_of(utc(2026, 12, 31, 23, 0)) == month(2027, 1), "31 Dec 23:00 UTC is next January");
	/* The month of the October DST change: 31 Oct 23:00 UTC is CET again. */
	CHECK(capacity_month_of(utc(2026, 10, 31, 22, 45)) == month(2026, 10), "31 Oct 22:45 UTC is October");
	CHECK(capacity_month_of(utc(2026, 10, 31, 23, 0)) == month(2026, 11), "31 Oct 23:00 UTC is November");
	/* March: the 31st 21:45 UTC is 23:45 CEST; 22:00 UTC is 1 April. */
	CHECK(capacity_month_of(utc(2026, 3, 31, 21, 45)) == month(2026, 3), "31 Mar 21:45 UTC is March");
	CHECK(capacity_month_of(utc(2026, 3, 31, 22, 0)) == month(2026, 4), "31 Mar 22:00 UTC is April");
	int y, m;
	capacity_month_civil(month(2026, 12), &y, &m);
	CHECK(y == 2026 && m == 12, "civil of 2026-12: %d-%d", y, m);
	capacity_month_civil(month(2027, 1), &y, &m);
	CHECK(y == 2027 && m == 1, "civil of 2027-01: %d-%d", y, m);

	/* A quarter on the last evening of May in UTC, placed by its start:
	 * June's in Brussels. */
	struct capacity c;
	memset(&c, 0, sizeof(c));
	CHECK(capacity_note_quarter(&c, utc(2026, 5, 31, 22, 45), 1500, false), "a quarter of June");
	double kw;
	int64_t at;
	CHECK(capacity_month_peak(&c, month(2026, 6), &kw, &at) && near(kw, 6.0, 1e-6) && at == utc(2026, 5, 31, 22, 45),
		"the peak is June's");
	CHECK(!capacity_month_peak(&c, month(2026, 5), NULL, NULL), "May has none");
}

static void test_note_quarter(void)
{
	struct capacity c;
	memset(&c, 0, sizeof(c));
	int64_t t = utc(2026, 3, 2, 8, 0);
	CHECK(!capacity_note_quarter(&c, t, 2000, true), "an estimated quarter is never a peak");
	CHECK(!capacity_month_peak(&c, month(2026, 3), NULL, NULL), "nor recorded");
	CHECK(capacity_note_quarter(&c, t + 900, 100, false), "the month's first measured quarter is a new peak, however small");
	CHECK(capacity_note_quarter(&c, t + 1800, 700, false), "a higher one is");
	CHECK(!capacity_note_quarter(&c, t + 2700, 700, false), "the same again is not");
	CHECK(!capacity_note_quarter(&c, t + 3600, 600, false), "a lower one is not");
	CHECK(!capacity_note_quarter(&c, t + 4500, 5000, true), "a higher estimated one is not");
	double kw;
	int64_t at;
	CHECK(capacity_month_peak(&c, month(2026, 3), &kw, &at) && near(kw, 2.8, 1e-6) && at == t + 1800,
		"peak 2.8 kW at the first of the two: %.3f", kw);
	CHECK(capacity_note_quarter(&c, utc(2026, 4, 1, 0, 0), 300, false), "April starts with a new peak");
	CHECK(capacity_month_peak(&c, month(2026, 3), &kw, NULL) && near(kw, 2.8, 1e-6), "March keeps its own");
}

static void test_merge(void)
{
	struct capacity c;
	memset(&c, 0, sizeof(c));
	capacity_month_t m = month(2026, 6);
	int64_t a = utc(2026, 6, 3, 18, 0), b = utc(2026, 6, 12, 19, 30);
	capacity_merge(&c, m, 4.2, b);
	double kw;
	int64_t at;
	CHECK(capacity_month_peak(&c, m, &kw, &at) && near(kw, 4.2, 1e-6) && at == b, "merged into an empty month");
	capacity_merge(&c, m, 3.9, a);
	CHECK(capacity_month_peak(&c, m, &kw, &at) && near(kw, 4.2, 1e-6) && at == b, "a lower one does not win");
	capacity_merge(&c, m, 4.2, a);
	CHECK(capacity_month_peak(&c, m, &kw, &at) && at == a, "the same peak at an earlier quarter wins");
	capacity_merge(&c, m, 4.2, b);
	CHECK(capacity_month_peak(&c, m, &kw, &at) && at == a, "and not a later one");
	capacity_merge(&c, m, 5.0, b);
	CHECK(capacity_month_peak(&c, m, &kw, &at) && near(kw, 5.0, 1e-6) && at == b, "a higher one wins");
	capacity_merge(&c, m, NAN, b);
	capacity_merge(&c, m, -1.0, b);
	CHECK(capacity_month_peak(&c, m, &kw, NULL) && near(kw, 5.0, 1e-6), "NaN and negative peaks are ignored");
	/* A month a year older does not take the slot of a newer one. */
	capacity_merge(&c, m - 12, 9.0, b - 365 * 86400);
	CHECK(capacity_month_peak(&c, m, &kw, NULL) && near(kw, 5.0, 1e-6), "a year-old month does not overwrite");
	CHECK(!capacity_month_peak(&c, m - 12, NULL, NULL), "nor is it kept");
	/* The higher quarter a row brings wins over Pics' one, and the reverse. */
	CHECK(!capacity_note_quarter(&c, utc(2026, 6, 20, 10, 0), 1200, false), "4.8 kW under 5.0 kW");
	CHECK(capacity_note_quarter(&c, utc(2026, 6, 20, 10, 15), 1300, false), "5.2 kW over 5.0 kW");
}

/* The worked example of the README's source (nl.wikibooks.org,
 * Energietransitie/Capaciteitstarief): peaks from May to April, those
 * under 2.5 kW (0.632, 0.000, 1.028) counted at 2.5 kW: 53.472 / 12. */
static void test_worked_example(void)
{
	static const double kw[12] = {0.632, 4.600, 0.000, 1.028, 3.444, 4.164, 4.564, 6.000, 9.200, 5.000, 4.120, 4.880};
	struct capacity c;
	memset(&c, 0, sizeof(c));
	for (int k = 0; k < 12; k++) {
		int m = 5 + k; /* May 2025 .. April 2026 */
		peak(&c, 2025 + (m - 1) / 12, (m - 1) % 12 + 1, kw[k]);
	}
	struct capacity_billed b = capacity_billed(&c, month(2026, 4));
	CHECK(b.months == 12 && near(b.mean_kw, 53.472 / 12.0, 1e-6), "worked example: %.4f kW over %d", b.mean_kw, b.months);
}

static void test_billed(void)
{
	struct capacity c;
	memset(&c, 0, sizeof(c));
	struct capacity_billed b = capacity_billed(&c, month(2026, 5));
	CHECK(b.months == 0 && near(b.mean_kw, 2.5, 1e-9), "no peak: the floor, over no month");

	/* A meter whose first peak is March 2026: billed for May over March,
	 * April and May only (the months of the window that have a peak), the
	 * 1.8 kW of April counted at 2.5 kW: (3.0 + 2.5 + 5.5) / 3. */
	peak(&c, 2026, 3, 3.0);
	peak(&c, 2026, 4, 1.8);
	peak(&c, 2026, 5, 5.5);
	b = capacity_billed(&c, month(2026, 5));
	CHECK(b.months == 3 && near(b.mean_kw, 11.0 / 3.0, 1e-6), "young meter: %.4f over %d", b.mean_kw, b.months);
	b = capacity_billed(&c, month(2026, 4));
	CHECK(b.months == 2 && near(b.mean_kw, 2.75, 1e-6), "April: %.4f over %d", b.mean_kw, b.months);

	/* A month without a peak (the meter was off in June) is left out. */
	peak(&c, 2026, 7, 4.0);
	b = capacity_billed(&c, month(2026, 7));
	CHECK(b.months == 4 && near(b.mean_kw, 15.0 / 4.0, 1e-6), "July without June: %.4f over %d", b.mean_kw, b.months);

	/* A full year: August 2026 to February 2027 added, 2.0 kW each
	 * (counted 2.5). Billed February 2027: the window is March 2026 to
	 * February 2027, June missing: 11 months. */
	for (int k = 0; k < 7; k++)
		peak(&c, 2026 + (8 + k - 1) / 12, (8 + k - 1) % 12 + 1, 2.0);
	b = capacity_billed(&c, month(2027, 2));
	CHECK(b.months == 11 && near(b.mean_kw, (3.0 + 2.5 + 5.5 + 4.0 + 7 * 2.5) / 11.0, 1e-6),
		"Feb 2027: %.4f over %d", b.mean_kw, b.months);

	/* March 2027 takes the slot of March 2026. Billed March 2027, the
	 * window is April 2026 to March 2027: 11 months with a peak. Billed
	 * April 2027 it is May 2026 to April 2027: April 2027 has no peak and
	 * its slot holds April 2026, a year old, which does not count. */
	peak(&c, 2027, 3, 6.0);
	b = capacity_billed(&c, month(2027, 3));
	CHECK(b.months == 11 && near(b.mean_kw, (2.5 + 5.5 + 4.0 + 7 * 2.5 + 6.0) / 11.0, 1e-6),
		"Mar 2027: %.4f over %d", b.mean_kw, b.months);
	b = capacity_billed(&c, month(2027, 4));
	CHECK(b.months == 10 && near(b.mean_kw, (5.5 + 4.0 + 7 * 2.5 + 6.0) / 10.0, 1e-6),
		"Apr 2027: %.4f over %d", b.mean_kw, b.months);
	CHECK(capacity_month_peak(&c, month(2026, 4), NULL, NULL), "April 2026's entry is still in the ring");
	/* Two years on, every entry is stale: nothing is billed from them. */
	b = capacity_billed(&c, month(2029, 3));
	CHECK(b.months == 0 && near(b.mean_kw, 2.5, 1e-9), "stale ring: %.4f over %d", b.mean_kw, b.months);
}

/* A meter drawing a constant power, read every step_s seconds from t0_s
 * to t1_s, as a LOWI publishes: counters floored to the Wh. */
struct meter {
	struct meter_quarters mq;
	struct capacity cap;
	double wh; /* exact import so far */
	int64_t t_s;
	int rows, new_peaks;
};

static void on_row(void *ctx, const struct quarter_row *row)
{
	struct meter *m = ctx;
	m->rows++;
	m->new_peaks += capacity_note_quarter(&m->cap, row->start_s, row->import_wh, row->estimated);
}

static enum quarter_feed_result feed(struct meter *m, int64_t t_s, double import_w, bool has_power)
{
	if (m->t_s)
		m->wh += import_w * (double)(t_s - m->t_s) / 3600.0;
	m->t_s = t_s;
	struct lowi_reading r = {
		.import_day_wh = 1000000.0 + floor(m->wh),
		.import_night_wh = 2000000.0,
		.export_day_wh = 5000.0,
		.export_night_wh = 6000.0,
		.import_w = import_w,
		.rate = 1,
		.has_power = has_power,
	};
	return quarters_feed(&m->mq, &quarter_default_params, t_s * 1000, &r, on_row, m);
}

static void test_live(void)
{
	struct meter m;
	memset(&m, 0, sizeof(m));
	int64_t q = utc(2026, 2, 10, 17, 0);
	struct capacity_live l;

	/* The first reading: no boundary to count from. */
	feed(&m, q - 300, 1800, true);
	capacity_live_compute(&m.cap, &m.mq, 0, &l);
	CHECK(l.estimated && l.quarter_start_s == q - 900, "first reading: estimated");
	CHECK(capacity_event_due(&m.cap, &l) == CAPACITY_EVENT_NONE, "no event on an estimated quarter");
	CHECK(near(l.projected_kw, 1.8, 1e-6) && near(l.average_kw, 1.8, 1e-6), "its figures are the power now: %.3f", l.projected_kw);

	/* 1.8 kW constant over the boundary: the quarter is measured, and the
	 * projection is the power, whatever part of the quarter is gone. */
	double worst = 0;
	for (int64_t t = q - 290; t < q + 900; t += 10) {
		feed(&m, t, 1800, true);
		if (t < q)
			continue;
		capacity_live_compute(&m.cap, &m.mq, 0, &l);
		if (t == q)
			CHECK(!l.estimated && l.quarter_start_s == q && l.elapsed_s == 0.0, "a reading on the boundary starts it");
		double e = fabs(l.projected_kw - 1.8);
		worst = e > worst ? e : worst;
		CHECK(!l.estimated, "measured at +%d s", (int)(t - q));
	}
	CHECK(worst < 0.01, "constant power projected within 10 W: worst %.4f kW", worst);
	CHECK(m.rows == 0, "the half-seen first quarter has no row: %d rows", m.rows);

	/* The next reading closes the quarter: a 1.8 kW peak, the month's first. */
	feed(&m, q + 900, 1800, true);
	CHECK(m.rows == 1 && m.new_peaks == 1, "first measured quarter a peak: %d rows, %d peaks", m.rows, m.new_peaks);
	capacity_live_compute(&m.cap, &m.mq, 0, &l);
	CHECK(l.has_month_peak && near(l.month_peak_kw, 1.8, 0.01) && l.month_peak_start_s == q, "month peak %.3f", l.month_peak_kw);
	CHECK(near(l.target_kw, 2.5, 1e-9), "target at least the floor: %.3f", l.target_kw);
	CHECK(l.billed.months == 1 && near(l.billed.mean_kw, 2.5, 1e-9), "billed: one month at the floor");

	/* Five minutes at 1.8 kW into the quarter, then 6 kW: after 5 min,
	 * 0.15 kWh are in; the target of 2.5 kW allows 0.625 kWh, so 0.475 kWh
	 * over the 10 minutes left: 2.85 kW allowed, headroom 2.85 - 6.0. */
	for (int64_t t = q + 910; t <= q + 1200; t += 10)
		feed(&m, t, 1800, true);
	feed(&m, q + 1201, 6000, true);
	capacity_live_compute(&m.cap, &m.mq, 0, &l);
	double in_kwh = 1.8 * 301.0 / 3600.0, left_h = (900.0 - 301.0) / 3600.0;
	CHECK(near(l.elapsed_s, 301.0, 1e-9) && near(l.import_kwh, in_kwh, 0.002), "so far %.4f kWh", l.import_kwh);
	CHECK(near(l.average_kw, 1.8, 0.02), "average so far %.3f", l.average_kw);
	CHECK(near(l.projected_kw, (in_kwh + 6.0 * left_h) * 4, 0.01), "projected %.3f", l.projected_kw);
	CHECK(near(l.allowed_kw, (0.625 - in_kwh) / left_h, 0.01), "allowed %.3f", l.allowed_kw);
	CHECK(l.import_kw == 6.0 && near(l.headroom_kw, l.allowed_kw - 6.0, 1e-9), "headroom %.3f", l.headroom_kw);
	CHECK(l.peak_projected, "a peak is projected");

	/* An operator's limit replaces the target. */
	struct capacity_live lim;
	capacity_live_compute(&m.cap, &m.mq, 6.0, &lim);
	CHECK(near(lim.target_kw, 6.0, 1e-9) && !lim.peak_projected, "under a 6 kW limit: target %.2f", lim.target_kw);
	CHECK(near(lim.allowed_kw, (1.5 - in_kwh) / left_h, 0.01), "allowed under the limit %.3f", lim.allowed_kw);

	/* Without PI, the power now is the average so far. */
	feed(&m, q + 1211, 6000, false);
	capacity_live_compute(&m.cap, &m.mq, 0, &l);
	CHECK(near(l.projected_kw, l.average_kw, 1e-9), "no power: projected %.3f = average %.3f", l.projected_kw, l.average_kw);

	/* A silence: the quarter it ends in books a jump and is estimated. */
	struct meter s;
	memset(&s, 0, sizeof(s));
	for (int64_t t = q; t <= q + 600; t += 60)
		feed(&s, t, 500, true);
	feed(&s, q + 600 + quarter_default_params.max_fill_ms / 1000 + 60, 500, true);
	capacity_live_compute(&s.cap, &s.mq, 0, &l);
	CHECK(l.estimated && !l.peak_projected, "after a long silence: estimated");
	CHECK(near(l.average_kw, 0.5, 1e-6), "and the power now stands for the energy: %.3f", l.average_kw);
}

/* Drives the events with live figures made the way capacity_live_compute
 * makes them, from a power that holds between readings. */
struct drive {
	struct capacity c;
	int64_t q;        /* the quarter */
	double kwh;       /* imported in it so far */
	double elapsed_s; /* at the last reading */
	double target_kw;
	bool estimated;
	struct capacity_live live;
};

static void drive_quarter(struct drive *d, int64_t q)
{
	d->q = q;
	d->kwh = 0.0;
	d->elapsed_s = 0.0;
}

/* A reading elapsed_s into the quarter, the power having been kw since the
 * reading before. */
static enum capacity_event reading(struct drive *d, double elapsed_s, double kw)
{
	d->kwh += kw * (elapsed_s - d->elapsed_s) / 3600.0;
	d->elapsed_s = elapsed_s;
	struct capacity_live *l = &d->live;
	memset(l, 0, sizeof(*l));
	l->quarter_start_s = d->q;
	l->elapsed_s = elapsed_s;
	l->import_kwh = d->kwh;
	l->import_kw = kw;
	l->average_kw = elapsed_s > 0 ? d->kwh * 3600.0 / elapsed_s : 0.0;
	l->projected_kw = (d->kwh + kw * (900.0 - elapsed_s) / 3600.0) * 4.0;
	l->target_kw = d->target_kw;
	l->estimated = d->estimated;
	l->peak_projected = !d->estimated && l->projected_kw > l->target_kw;
	return capacity_event_due(&d->c, l);
}

struct seen {
	int projected, cleared;
	double projected_at, cleared_at; /* elapsed_s of the first of each */
	int early_projections;           /* readings projected above the target before the event */
};

static void note(struct seen *s, const struct drive *d, enum capacity_event e)
{
	if (e == CAPACITY_EVENT_PROJECTED && s->projected++ == 0)
		s->projected_at = d->live.elapsed_s;
	if (e == CAPACITY_EVENT_CLEARED && s->cleared++ == 0)
		s->cleared_at = d->live.elapsed_s;
	if (d->live.peak_projected && s->projected == 0)
		s->early_projections++;
}

static void test_events(void)
{
	struct drive d;
	memset(&d, 0, sizeof(d));
	d.target_kw = 2.5;
	int64_t q = utc(2026, 2, 10, 17, 0);

	/* 3 kW all along, a reading every 10 s: projected above 2.5 kW from
	 * the first reading, but warned once, on the last reading before the
	 * final three minutes (700 s + 10 s reaches the 710 s mark). */
	struct seen s = {0};
	drive_quarter(&d, q);
	for (double t = 0; t < 900; t += 10)
		note(&s, &d, reading(&d, t, 3.0));
	CHECK(s.projected == 1 && s.projected_at == 700.0 && s.cleared == 0, "10 s: %d warnings, at %.0f s", s.projected, s.projected_at);
	CHECK(s.early_projections == 70, "projected above before it: %d readings", s.early_projections);

	/* The same every 60 s: the reading at 650 s is the last before the mark. */
	memset(&s, 0, sizeof(s));
	drive_quarter(&d, q + 900);
	for (double t = 50; t < 900; t += 60)
		note(&s, &d, reading(&d, t, 3.0));
	CHECK(s.projected == 1 && s.projected_at == 650.0, "60 s: %d warnings, at %.0f s", s.projected, s.projected_at);

	/* 12 kW: the quarter is over the target after 187.5 s, warned at once. */
	memset(&s, 0, sizeof(s));
	drive_quarter(&d, q + 1800);
	for (double t = 0; t < 900; t += 10)
		note(&s, &d, reading(&d, t, 12.0));
	CHECK(s.projected == 1 && s.projected_at == 190.0, "over already: warned at %.0f s", s.projected_at);

	/* 0.3 kW, then 10 kW from 690 s: the first reading at 10 kW projects
	 * 2.56 kW, but a load switched on seconds ago is no trend yet; held,
	 * it is warned before the end. */
	memset(&s, 0, sizeof(s));
	drive_quarter(&d, q + 2700);
	for (double t = 0; t <= 690; t += 10)
		note(&s, &d, reading(&d, t, 0.3));
	note(&s, &d, reading(&d, 700, 10.0));
	CHECK(d.live.peak_projected && s.projected == 0, "a load of 10 s: projected %.2f kW, not warned", d.live.projected_kw);
	for (double t = 710; t < 900; t += 10)
		note(&s, &d, reading(&d, t, 10.0));
	CHECK(s.projected == 1 && s.projected_at > 700.0, "the load held: warned at %.0f s", s.projected_at);

	/* 2.6 kW, warned at 700 s; then a projection swinging around the
	 * target, within the margin: no second warning and no clearing; then
	 * off: cleared once; and on again: still no second warning. */
	memset(&s, 0, sizeof(s));
	drive_quarter(&d, q + 3600);
	for (double t = 0; t <= 700; t += 10)
		note(&s, &d, reading(&d, t, 2.6));
	CHECK(s.projected == 1, "warned: %d", s.projected);
	double low = 1e9, high = 0;
	for (double t = 710; t <= 760; t += 10) {
		note(&s, &d, reading(&d, t, ((int)t / 10) % 2 ? 1.6 : 3.6));
		low = d.live.projected_kw < low ? d.live.projected_kw : low;
		high = d.live.projected_kw > high ? d.live.projected_kw : high;
	}
	CHECK(low < 2.5 && high > 2.5 && s.projected == 1 && s.cleared == 0, "swinging %.2f to %.2f kW: %d warnings, %d cleared",
		low, high, s.projected, s.cleared);
	note(&s, &d, reading(&d, 770, 0.0));
	CHECK(s.cleared == 1 && s.cleared_at == 770.0 && d.live.projected_kw < 2.3, "off: cleared at %.0f s (%.2f kW)", s.cleared_at, d.live.projected_kw);
	for (double t = 780; t < 900; t += 10)
		note(&s, &d, reading(&d, t, 9.0));
	CHECK(s.projected == 1 && s.cleared == 1, "on again: %d warnings, %d cleared", s.projected, s.cleared);

	/* Under the target all along: nothing, and nothing to clear. */
	memset(&s, 0, sizeof(s));
	drive_quarter(&d, q + 4500);
	for (double t = 0; t < 900; t += 10)
		note(&s, &d, reading(&d, t, t < 450 ? 2.4 : 0.5));
	CHECK(s.projected == 0 && s.cleared == 0, "under: %d warnings, %d cleared", s.projected, s.cleared);

	/* An estimated quarter raises nothing, even over the target. */
	memset(&s, 0, sizeof(s));
	d.estimated = true;
	drive_quarter(&d, q + 5400);
	for (double t = 0; t < 900; t += 10)
		note(&s, &d, reading(&d, t, 12.0));
	CHECK(s.projected == 0 && s.cleared == 0, "estimated: %d warnings", s.projected);
	d.estimated = false;

	/* An operator's limit is the target like any other. */
	memset(&s, 0, sizeof(s));
	d.target_kw = 4.0;
	drive_quarter(&d, q + 6300);
	for (double t = 0; t < 900; t += 10)
		note(&s, &d, reading(&d, t, 3.0));
	CHECK(s.projected == 0, "3 kW under a 4 kW limit: %d warnings", s.projected);

	CHECK(strcmp(capacity_event_name(CAPACITY_EVENT_PROJECTED), "projected") == 0, "name");
	CHECK(strcmp(capacity_event_name(CAPACITY_EVENT_CLEARED), "cleared") == 0, "name");
	CHECK(strcmp(capacity_event_name(CAPACITY_EVENT_NONE), "none") == 0, "name");
}

int main(void)
{
	test_months();
	test_note_quarter();
	test_merge();
	test_billed();
	test_worked_example();
	test_live();
	test_events();
	return check_finish("capacity");
}
