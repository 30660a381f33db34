/*
 * Quarter aggregation against an exact model: a meter is simulated on a
 * 1-second grid of piecewise-constant power, its counters are published as
 * a real meter does (floored to the Wh) at chosen receive times, and every
 * emitted row is compared with the energy the model really used.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "quarter.h"

#define T0 1767225600LL /* 2026-01-01 00:00:00 UTC */
#define MAX_ROWS 4096
#define HOURS 48

typedef double (*power_fn)(int64_t t_s); /* W; > 0 import, < 0 export */
typedef int (*rate_fn)(int64_t t_s);

struct model {
	power_fn power;
	rate_fn rate;
	int64_t t_s;       /* accumulators hold energy up to this second */
	double acc[QC_COUNT];
	/* exact state at each quarter boundary, indexed by quarter number */
	double boundary[HOURS * 4 + 1][QC_COUNT];
};

struct rows {
	int n;
	struct quarter_row r[MAX_ROWS];
};

static void collect(void *ctx, const struct quarter_row *row)
{
	struct rows *rs = ctx;
	if (rs->n < MAX_ROWS)
		rs->r[rs->n++] = *row;
}

static void model_init(struct model *m, power_fn p, rate_fn r)
{
	memset(m, 0, sizeof(*m));
	m->power = p;
	m->rate = r;
	m->t_s = T0;
	m->acc[QC_IMPORT_DAY] = 130838;
	m->acc[QC_IMPORT_NIGHT] = 137096;
	m->acc[QC_EXPORT_DAY] = 10976;
	m->acc[QC_EXPORT_NIGHT] = 3381;
	m->acc[QC_GAS] = 1234567;
	m->acc[QC_WATER] = 98765;
	memcpy(m->boundary[0], m->acc, sizeof(m->acc));
}

static void add_second(double acc[QC_COUNT], double w, int rate, double fraction)
{
	double wh = fabs(w) * fraction / 3600.0;
	if (w >= 0)
		acc[rate ? QC_IMPORT_DAY : QC_IMPORT_NIGHT] += wh;
	else
		acc[rate ? QC_EXPORT_DAY : QC_EXPORT_NIGHT] += wh;
	acc[QC_GAS] += 0.2 * fraction;  /* 720 l/h */
	acc[QC_WATER] += 0.01 * fraction;
}

/* Advances to t_ms and returns the reading a LOWI would publish then. */
static struct lowi_reading model_read(struct model *m, int64_t t_ms)
{
	while ((m->t_s + 1) * 1000 <= t_ms) {
		add_second(m->acc, m->power(m->t_s), m->rate(m->t_s), 1.0);
		m->t_s++;
		if ((m->t_s - T0) % QUARTER_S == 0 && (m->t_s - T0) / QUARTER_S <= HOURS * 4)
			memcpy(m->boundary[(m->t_s - T0) / QUARTER_S], m->acc, sizeof(m->acc));
	}
	double now[QC_COUNT];
	memcpy(now, m->acc, sizeof(now));
	add_second(now, m->power(m->t_s), m->rate(m->t_s), (double)(t_ms - m->t_s * 1000) / 1000.0);
	double w = m->power(m->t_s);
	struct lowi_reading r = {
		.import_day_wh = floor(now[QC_IMPORT_DAY]), .import_night_wh = floor(now[QC_IMPORT_NIGHT]),
		.export_day_wh = floor(now[QC_EXPORT_DAY]), .export_night_wh = floor(now[QC_EXPORT_NIGHT]),
		.gas_l = floor(now[QC_GAS]), .water_l = floor(now[QC_WATER]),
		.import_w = w > 0 ? floor(w) : 0, .export_w = w < 0 ? floor(-w) : 0,
		.rate = m->rate(m->t_s), .has_gas = true, .has_water = true, .has_power = true,
	};
	return r;
}

static double truth_import(const struct model *m, int q)
{
	return m->boundary[q + 1][QC_IMPORT_DAY] + m->boundary[q + 1][QC_IMPORT_NIGHT]
		- m->boundary[q][QC_IMPORT_DAY] - m->boundary[q][QC_IMPORT_NIGHT];
}

static double truth_export(const struct model *m, int q)
{
	return m->boundary[q + 1][QC_EXPORT_DAY] + m->boundary[q + 1][QC_EXPORT_NIGHT]
		- m->boundary[q][QC_EXPORT_DAY] - m->boundary[q][QC_EXPORT_NIGHT];
}

static int quarter_of(const struct quarter_row *r)
{
	return (int)((r->start_s - T0) / QUARTER_S);
}

/* Feeds readings every period_ms (+ offset) from T0 to T0 + hours. */
static void run(struct model *m, struct meter_quarters *mq, struct rows *rs, int64_t offset_ms, int64_t period_ms,
	int hours, int64_t skip_from_ms, int64_t skip_to_ms)
{
	for (int64_t t = T0 * 1000 + offset_ms; t < (T0 + hours * 3600LL) * 1000; t += period_ms) {
		if (t >= skip_from_ms && t < skip_to_ms)
			continue;
		struct lowi_reading r = model_read(m, t);
		quarters_feed(mq, &quarter_default_params, t, &r, collect, rs);
	}
}

static double constant_1kw(int64_t t) { (void)t; return 1000.0; }
static int always_day(int64_t t) { (void)t; return 1; }

/* 200 W with a 3 kW appliance from 00:14:40 to 00:31:10, and PV export
 * (-1.5 kW) from 01:00 to 01:30. */
static double steps(int64_t t)
{
	int64_t s = t - T0;
	if (s >= 14 * 60 + 40 && s < 31 * 60 + 10)
		return 3000.0;
	if (s >= 3600 && s < 5400)
		return -1500.0;
	return 200.0;
}

/* Night until 06:00 UTC, day after. */
static int night_then_day(int64_t t) { return t - T0 >= 6 * 3600 ? 1 : 0; }

/* A household: base 150 W plus pseudo-random appliance steps every few minutes. */
static double household(int64_t t)
{
	int64_t slot = (t - T0) / 97; /* steps at odd instants, not aligned to readings */
	uint32_t h = (uint32_t)slot * 2654435761u;
	h ^= h >> 13;
	double extra = (h % 7 == 0) ? 2000.0 + (h >> 20) % 1500 : (h % 5 == 0 ? 600.0 : 0.0);
	return 150.0 + extra;
}

static void test_constant_power(void)
{
	static struct model m;
	static struct rows rs;
	struct meter_quarters mq;
	quarters_reset(&mq);
	rs.n = 0;
	model_init(&m, constant_1kw, always_day);
	run(&m, &mq, &rs, 17300, 60000, 6, 0, 0);
	/* No row for the quarter of the first reading: its start index is unknown. */
	CHECK(rs.n == 6 * 4 - 2, "rows: %d", rs.n);
	int bad = 0;
	for (int i = 0; i < rs.n; i++) {
		const struct quarter_row *r = &rs.r[i];
		int q = quarter_of(r);
		if (r->import_wh != 250 || r->export_wh != 0 || r->estimated || llabs(r->import_day_wh - llround(m.boundary[q + 1][QC_IMPORT_DAY])) > 1
			|| r->import_night_wh != 137096 || r->gas_l != 180 || r->water_l != 9)
			bad++;
	}
	CHECK(rs.n > 0 && rs.r[0].start_s == T0 + 900, "first row starts at the first full quarter: %lld", rs.n ? (long long)rs.r[0].start_s : 0LL);
	CHECK(bad == 0, "%d rows differ from 250 Wh, gas 180 l, water 9 l", bad);
}

static void test_steps_and_export(void)
{
	static struct model m;
	static struct rows rs;
	struct meter_quarters mq;
	quarters_reset(&mq);
	rs.n = 0;
	model_init(&m, steps, always_day);
	/* Readings at :20 of each minute: the boundaries at 00:15 and 00:30 fall
	 * 20 s after an appliance switch, inside a reading interval. */
	run(&m, &mq, &rs, 20000, 60000, 3, 0, 0);
	double worst = 0;
	for (int i = 0; i < rs.n; i++) {
		int q = quarter_of(&rs.r[i]);
		double e = fabs(rs.r[i].import_wh - truth_import(&m, q)) + fabs(rs.r[i].export_wh - truth_export(&m, q));
		worst = e > worst ? e : worst;
	}
	CHECK(worst <= 1.5, "a single switch per interval is reconstructed to the Wh: worst error %.3f Wh", worst);
	printf("steps: worst quarter error %.3f Wh over %d rows\n", worst, rs.n);
	int64_t exported = 0;
	for (int i = 0; i < rs.n; i++)
		exported += rs.r[i].export_wh;
	CHECK(exported >= 749 && exported <= 751, "30 min at 1.5 kW export = 750 Wh, got %lld", (long long)exported);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void test_household_accuracy(void)
{
	static struct model m;
	static struct rows rs;
	static double err[MAX_ROWS];
	struct meter_quarters mq;
	quarters_reset(&mq);
	rs.n = 0;
	model_init(&m, household, always_day);
	/* 60 s publishing with a 7.3 s jitter pattern. */
	int64_t t = T0 * 1000 + 5000;
	for (int k = 0; t < (T0 + 24 * 3600LL) * 1000; k++) {
		struct lowi_reading r = model_read(&m, t);
		quarters_feed(&mq, &quarter_default_params, t, &r, collect, &rs);
		t += 60000 + ((k * 7919) % 14600) - 7300;
	}
	for (int i = 0; i < rs.n; i++)
		err[i] = fabs(rs.r[i].import_wh - truth_import(&m, quarter_of(&rs.r[i])));
	qsort(err, (size_t)rs.n, sizeof(double), cmp_double);
	double median = err[rs.n / 2], p95 = err[rs.n * 95 / 100];
	printf("household: %d rows, median |error| %.3f Wh, p95 %.3f Wh, max %.3f Wh\n", rs.n, median, p95, err[rs.n - 1]);
	CHECK(rs.n == 24 * 4 - 2, "rows %d", rs.n);
	CHECK(median <= 1.0, "median %.3f Wh", median);
}

static void test_gap(void)
{
	static struct model m;
	static struct rows rs;
	struct meter_quarters mq;
	quarters_reset(&mq);
	rs.n = 0;
	model_init(&m, constant_1kw, always_day);
	/* Silence from 01:07 to 02:07. */
	run(&m, &mq, &rs, 10000, 60000, 4, (T0 + 3600 + 7 * 60) * 1000, (T0 + 7200 + 7 * 60) * 1000);
	int estimated = 0, missing = 0;
	int64_t total = 0;
	for (int i = 0; i < rs.n; i++) {
		estimated += rs.r[i].estimated;
		total += rs.r[i].import_wh;
		if (i > 0 && rs.r[i].start_s != rs.r[i - 1].start_s + 900)
			missing++;
	}
	CHECK(missing == 0 && rs.n == 4 * 4 - 2, "every quarter has a row: %d rows, %d holes", rs.n, missing);
	/* Quarters 01:00..02:00 touch the gap. */
	CHECK(estimated == 5, "5 quarters touching the gap are estimated, got %d", estimated);
	CHECK(llabs(total - 250 * rs.n) <= 1, "energy conserved over the gap: %lld Wh", (long long)total);
	int uneven = 0;
	for (int i = 0; i < rs.n; i++)
		if (llabs(rs.r[i].import_wh - 250) > 1)
			uneven++;
	CHECK(uneven == 0, "the gap's energy is spread evenly (%d quarters off)", uneven);
}

static void feed(struct meter_quarters *mq, struct rows *rs, int64_t t_s, double ih, double il, double eh, double el, double w)
{
	struct lowi_reading r = { .import_day_wh = ih, .import_night_wh = il, .export_day_wh = eh, .export_night_wh = el,
		.import_w = w, .export_w = 0, .rate = 1, .has_power = true };
	quarters_feed(mq, &quarter_default_params, t_s * 1000, &r, collect, rs);
}

static void test_counter_reset_and_jump(void)
{
	static struct rows rs;
	struct meter_quarters mq;
	quarters_reset(&mq);
	rs.n = 0;
	double ih = 500000;
	int64_t t = T0 + 30;
	for (int k = 0; k < 40; k++, t += 60, ih += 10)
		feed(&mq, &rs, t, ih, 1000, 10, 10, 600);
	/* Meter swap: counters restart near zero. */
	double nih = 3;
	for (int k = 0; k < 40; k++, t += 60, nih += 10)
		feed(&mq, &rs, t, nih, 0, 0, 0, 600);
	/* Two readings delivered in a burst, 10 ms apart: a real 30 Wh step. */
	feed(&mq, &rs, t, nih, 0, 0, 0, 600);
	struct lowi_reading burst = { .import_day_wh = nih + 30, .rate = 1, .has_power = true, .import_w = 600 };
	CHECK(quarters_feed(&mq, &quarter_default_params, t * 1000 + 10, &burst, collect, &rs) == QUARTER_ACCEPTED,
		"a burst of delayed readings is not a counter jump");
	nih += 40;
	t += 60;
	/* A glitch reading with an absurd jump, then normal again. */
	feed(&mq, &rs, t, nih + 5e9, 0, 0, 0, 600);
	t += 60;
	for (int k = 0; k < 40; k++, t += 60, nih += 10)
		feed(&mq, &rs, t, nih, 0, 0, 0, 600);
	int negative = 0, huge = 0, estimated = 0, holes = 0;
	for (int i = 0; i < rs.n; i++) {
		negative += rs.r[i].import_wh < 0 || rs.r[i].export_wh < 0;
		huge += rs.r[i].import_wh > 300;
		estimated += rs.r[i].estimated;
		holes += i > 0 && rs.r[i].start_s != rs.r[i - 1].start_s + 900;
	}
	CHECK(negative == 0 && huge == 0, "reset and jump: %d negative, %d huge rows", negative, huge);
	CHECK(estimated >= 2 && estimated <= 6, "rows touching a discontinuity are flagged: %d", estimated);
	CHECK(holes == 0, "no missing quarter across resets: %d holes", holes);
	CHECK(rs.n > 0 && rs.r[rs.n - 1].import_day_wh < 2000, "indexes follow the new meter: %lld", rs.n ? (long long)rs.r[rs.n - 1].import_day_wh : 0LL);
}

static void test_duplicates_and_out_of_order(void)
{
	static struct model m1, m2;
	static struct rows plain, noisy;
	struct meter_quarters a, b;
	quarters_reset(&a);
	quarters_reset(&b);
	plain.n = noisy.n = 0;
	model_init(&m1, household, always_day);
	model_init(&m2, household, always_day);
	struct lowi_reading prev = {0};
	int64_t prev_t = 0;
	int dup = 0, ooo = 0;
	for (int64_t t = T0 * 1000 + 3000; t < (T0 + 6 * 3600LL) * 1000; t += 60000) {
		struct lowi_reading r1 = model_read(&m1, t), r2 = model_read(&m2, t);
		quarters_feed(&a, &quarter_default_params, t, &r1, collect, &plain);
		quarters_feed(&b, &quarter_default_params, t, &r2, collect, &noisy);
		/* A QoS 1 retransmission 400 ms later, and the previous reading
		 * delivered again late. */
		dup += quarters_feed(&b, &quarter_default_params, t + 400, &r2, collect, &noisy) == QUARTER_DUPLICATE;
		if (prev_t)
			ooo += quarters_feed(&b, &quarter_default_params, t + 900, &prev, collect, &noisy) == QUARTER_OUT_OF_ORDER;
		prev = r2;
		prev_t = t;
	}
	CHECK(plain.n == noisy.n && memcmp(plain.r, noisy.r, sizeof(plain.r[0]) * (size_t)plain.n) == 0,
		"duplicates and late readings change no row (%d vs %d rows)", plain.n, noisy.n);
	CHECK(dup > 300 && ooo > 300, "recognised %d duplicates, %d out-of-order", dup, ooo);
	/* A reading with an older timestamp is ignored too. */
	struct lowi_reading r = model_read(&m2, (T0 + 6 * 3600LL) * 1000);
	CHECK(quarters_feed(&b, &quarter_default_params, T0 * 1000, &r, collect, &noisy) == QUARTER_OUT_OF_ORDER, "older time");
}

/* A fresh meter read at 3 kW 60.2 s and 0.2 s before the boundary b_ms,
 * 50 Wh apart; returns the last reading, for repeating it. */
static struct lowi_reading three_kw_before(struct meter_quarters *mq, struct rows *rs, int64_t b_ms)
{
	struct lowi_reading r = { .import_day_wh = 5000, .import_w = 3000, .rate = 1, .has_power = true };
	quarters_reset(mq);
	quarters_feed(mq, &quarter_default_params, b_ms - 60200, &r, collect, rs);
	r.import_day_wh = 5050;
	quarters_feed(mq, &quarter_default_params, b_ms - 200, &r, collect, rs);
	return r;
}

/* A meter drawing 20 W publishing every 10 s: its Wh counters stand still
 * for minutes. The first reading past a boundary completes the quarter even
 * when its counters equal the last ones; an old message repeated across a
 * boundary at a power that would have moved the counters does not. */
static void test_still_counters_across_boundary(void)
{
	static struct rows rs;
	struct meter_quarters mq;
	quarters_reset(&mq);
	rs.n = 0;
	int64_t q_ms = (T0 + 900) * 1000; /* a boundary */
	for (int64_t t = q_ms - 905000; t < q_ms; t += 10000)
		feed(&mq, &rs, t / 1000, 1000, 0, 0, 0, 20);
	int before = rs.n;
	feed(&mq, &rs, q_ms / 1000 + 5, 1000, 0, 0, 0, 20);
	CHECK(before == 0 && rs.n == 1 && rs.r[0].start_s == T0 && rs.r[0].import_wh == 0,
		"still counters 5 s past the boundary complete the quarter (%d -> %d rows)", before, rs.n);

	/* 3 kW: the reading at 899.8 s of a quarter, its QoS 1 copy 25 s later. */
	rs.n = 0;
	int64_t q2_ms = q_ms + 900000;
	struct lowi_reading r = three_kw_before(&mq, &rs, q2_ms);
	CHECK(quarters_feed(&mq, &quarter_default_params, q2_ms + 24800, &r, collect, &rs) == QUARTER_DUPLICATE,
		"a 3 kW meter's repeated counters 25 s later, across a boundary, are a repeat");
	/* A copy 400 ms later at 3 kW (0.33 Wh) is taken as a reading: at most 1 Wh lands in the next quarter. */
	r = three_kw_before(&mq, &rs, q2_ms);
	CHECK(quarters_feed(&mq, &quarter_default_params, q2_ms + 200, &r, collect, &rs) == QUARTER_ACCEPTED,
		"a copy 0.4 s later across a boundary, under 1 Wh at the reported power, is a reading");

	/* The 3 kW load switches off just after a reading: the next readings
	 * show the same counters at 50 W. They are fresh (a repeat would carry
	 * 3 kW), and the first one past the boundary completes the quarter. */
	quarters_reset(&mq);
	rs.n = 0;
	int64_t q3_ms = q2_ms + 900000;
	r.import_w = 3000;
	r.import_day_wh = 6000;
	quarters_feed(&mq, &quarter_default_params, q3_ms - 960000, &r, collect, &rs);
	r.import_day_wh = 6016;
	quarters_feed(&mq, &quarter_default_params, q3_ms - 19000, &r, collect, &rs);
	r.import_w = 50;
	CHECK(quarters_feed(&mq, &quarter_default_params, q3_ms - 9000, &r, collect, &rs) == QUARTER_ACCEPTED,
		"the same counters at another power, 10 s later, are a fresh reading");
	CHECK(quarters_feed(&mq, &quarter_default_params, q3_ms - 8000, &r, collect, &rs) == QUARTER_DUPLICATE,
		"the same counters and power 1 s later are a repeat");
	int n_before = rs.n;
	CHECK(quarters_feed(&mq, &quarter_default_params, q3_ms + 1000, &r, collect, &rs) == QUARTER_ACCEPTED &&
		rs.n == n_before + 1 && rs.r[rs.n - 1].start_s == q3_ms / 1000 - 900,
		"and the reading 1 s past the boundary completes the quarter (%d -> %d rows)", n_before, rs.n);
}

static void test_rate_flip(void)
{
	static struct model m;
	static struct rows rs;
	struct meter_quarters mq;
	quarters_reset(&mq);
	rs.n = 0;
	model_init(&m, constant_1kw, night_then_day);
	run(&m, &mq, &rs, 41000, 60000, 8, 0, 0);
	int bad = 0;
	for (int i = 0; i < rs.n; i++) {
		int q = quarter_of(&rs.r[i]);
		if (llabs(rs.r[i].import_day_wh - llround(m.boundary[q + 1][QC_IMPORT_DAY])) > 1
			|| llabs(rs.r[i].import_night_wh - llround(m.boundary[q + 1][QC_IMPORT_NIGHT])) > 1)
			bad++;
	}
	CHECK(bad == 0, "day and night indexes exact across the 06:00 rate change (%d rows off)", bad);
}

static void test_rows_telescope(void)
{
	static struct model m;
	static struct rows rs;
	struct meter_quarters mq;
	quarters_reset(&mq);
	rs.n = 0;
	model_init(&m, household, night_then_day);
	run(&m, &mq, &rs, 1234, 10000, 12, 0, 0); /* flash mode: every 10 s */
	int bad = 0;
	for (int i = 1; i < rs.n; i++) {
		int64_t d = rs.r[i].import_day_wh + rs.r[i].import_night_wh - rs.r[i - 1].import_day_wh - rs.r[i - 1].import_night_wh;
		if (d != rs.r[i].import_wh)
			bad++;
	}
	CHECK(bad == 0, "each row's Soutire equals the change of its indexes (%d rows off)", bad);
}

/* A crash loses the rows not yet durable: the meter resumes from the last
 * durable row, and the gap is booked exactly, spread, flagged. */
static void test_resume_after_restart(void)
{
	static struct model m;
	static struct rows before, after, whole;
	struct meter_quarters mq, ref;
	quarters_reset(&mq);
	quarters_reset(&ref);
	before.n = after.n = whole.n = 0;
	model_init(&m, household, night_then_day);
	int64_t t = T0 * 1000 + 7000, crash = (T0 + 3 * 3600 + 500) * 1000, back = (T0 + 4 * 3600 + 200) * 1000;
	for (; t < (T0 + 8 * 3600LL) * 1000; t += 60000) {
		struct lowi_reading r = model_read(&m, t);
		quarters_feed(&ref, &quarter_default_params, t, &r, collect, &whole);
		if (t < crash)
			quarters_feed(&mq, &quarter_default_params, t, &r, collect, &before);
		else if (t >= back)
			quarters_feed(&mq, &quarter_default_params, t, &r, collect, &after);
		if (t < crash && t + 60000 >= crash) {
			/* The last two rows were still in memory at the crash. */
			before.n -= 2;
			quarters_resume(&mq, &before.r[before.n - 1]);
		}
	}
	int64_t e_split = 0, e_whole = 0;
	int holes = 0, estimated = 0;
	for (int i = 0; i < before.n; i++)
		e_split += before.r[i].import_wh;
	for (int i = 0; i < after.n; i++) {
		e_split += after.r[i].import_wh;
		estimated += after.r[i].estimated;
		holes += (i == 0 ? before.r[before.n - 1].start_s : after.r[i - 1].start_s) + 900 != after.r[i].start_s;
	}
	int64_t last_start = after.r[after.n - 1].start_s;
	for (int i = 0; i < whole.n && whole.r[i].start_s <= last_start; i++)
		e_whole += whole.r[i].import_wh;
	CHECK(holes == 0, "no quarter missing across the restart (%d holes)", holes);
	CHECK(e_split == e_whole, "no energy lost or counted twice: %lld Wh vs %lld Wh", (long long)e_split, (long long)e_whole);
	/* Lost rows from 02:30 to the restart at 04:03: 02:30 .. 04:00 estimated. */
	CHECK(estimated == 7, "the quarters of the gap are flagged estimated: %d", estimated);
	CHECK(after.r[after.n - 1].import_day_wh == whole.r[whole.n - 1].import_day_wh, "indexes continue");
}

/* ---- Finding 3: a forged burst and the plausibility of a quarter ---- */

/* The parameters before the quarter's plausibility, the one-jump silence
 * and the re-base: what the tests below show the figures "before" with. */
static struct quarter_params params_before(void)
{
	struct quarter_params p = quarter_default_params;
	p.max_quarter_power_w = 1e12;
	p.max_fill_ms = (int64_t)62 * 86400 * 1000;
	p.rebase_after_ms = INT64_MAX / 2;
	p.refused_warn_ms = INT64_MAX / 2;
	return p;
}

static struct lowi_reading reading_wh(double import_day_wh, double import_w)
{
	struct lowi_reading r = { .import_day_wh = import_day_wh, .import_night_wh = 137096, .export_day_wh = 10976,
		.export_night_wh = 3381, .import_w = import_w, .rate = 1, .has_power = true };
	return r;
}

/* A meter at 500 W read every 60 s from T0 + 17 s up to the boundary
 * b_s, then `forged` messages 100 ms apart around b_s, each 20 kWh above
 * the last (a 20.8 kWh step is what 250 kW allows over the five-minute
 * floor), then the meter again, its counters as they really are. Returns
 * the row of the quarter that ends at b_s. */
static struct quarter_row forged_burst(const struct quarter_params *p, int forged, struct rows *rs)
{
	struct meter_quarters mq;
	quarters_reset(&mq);
	rs->n = 0;
	int64_t b_s = T0 + 4 * 900;
	double wh = 500000;
	int64_t t_ms = (T0 + 17) * 1000;
	for (; t_ms < b_s * 1000; t_ms += 60000) {
		struct lowi_reading r = reading_wh(wh + 500.0 * (double)(t_ms - (T0 + 17) * 1000) / 3.6e6, 500);
		quarters_feed(&mq, p, t_ms, &r, collect, rs);
	}
	double real_wh = wh + 500.0 * (double)(t_ms - 60000 - (T0 + 17) * 1000) / 3.6e6;
	/* Two messages: one 50 ms before the boundary, 20 kWh up; one 50 ms
	 * after with the same counters. Sixty: 100 ms apart, the last one 50 ms
	 * past the boundary, each 20 kWh up. */
	int64_t first_ms = b_s * 1000 + 50 - (int64_t)(forged - 1) * 100;
	for (int i = 0; i < forged; i++) {
		int64_t at = first_ms + 100 * i;
		double up = forged == 2 ? 20000.0 : 20000.0 * (i + 1);
		struct lowi_reading r = reading_wh(real_wh + up, 500);
		quarters_feed(&mq, p, at, &r, collect, rs);
	}
	for (t_ms = b_s * 1000 + 30000; t_ms < (b_s + 1800) * 1000; t_ms += 60000) {
		struct lowi_reading r = reading_wh(wh + 500.0 * (double)(t_ms - (T0 + 17) * 1000) / 3.6e6, 500);
		quarters_feed(&mq, p, t_ms, &r, collect, rs);
	}
	for (int i = 0; i < rs->n; i++)
		if (rs->r[i].start_s == b_s - 900)
			return rs->r[i];
	struct quarter_row none = { 0 };
	return none;
}

static void test_forged_burst(void)
{
	static struct rows rs;
	struct quarter_params before = params_before();
	for (int forged = 2; forged <= 60; forged += 58) {
		struct quarter_row was = forged_burst(&before, forged, &rs);
		struct quarter_row now = forged_burst(&quarter_default_params, forged, &rs);
		int peaks = 0, implausible = 0;
		for (int i = 0; i < rs.n; i++) {
			peaks += !rs.r[i].estimated && rs.r[i].import_wh * 4 > 56000;
			implausible += rs.r[i].implausible;
		}
		printf("forged burst of %d messages: the quarter booked %.3f kWh, a %.1f kW peak, estimated %d before;"
			" now estimated %d, implausible %d\n", forged, was.import_wh / 1000.0, was.import_wh * 4 / 1000.0,
			was.estimated, now.estimated, now.implausible);
		CHECK(was.import_wh * 4 > 56000 && !was.estimated, "%d messages: before, a %.1f kW quarter set a peak",
			forged, was.import_wh * 4 / 1000.0);
		CHECK(now.start_s == was.start_s && now.estimated && now.implausible,
			"%d messages: the quarter is flagged estimated and implausible", forged);
		CHECK(now.import_wh == was.import_wh, "%d messages: it keeps the energy its counters show (%lld Wh)", forged,
			(long long)now.import_wh);
		CHECK(peaks == 0 && implausible == 1, "%d messages: no row could set a peak above 56 kW (%d), one implausible (%d)",
			forged, peaks, implausible);
	}
}

/* The largest connection at its limit for an hour is plausible; a little
 * more for one quarter is not. */
static void test_quarter_at_the_limit(void)
{
	static struct rows rs;
	struct meter_quarters mq;
	quarters_reset(&mq);
	rs.n = 0;
	double wh = 1000000;
	for (int64_t t = (T0 + 5) * 1000; t < (T0 + 2 * 3600) * 1000; t += 10000) {
		double w = t < (T0 + 3600) * 1000 ? 56000.0 : 58000.0;
		struct lowi_reading r = reading_wh(wh, w);
		quarters_feed(&mq, &quarter_default_params, t, &r, collect, &rs);
		wh += w * 10.0 / 3600.0;
	}
	int flagged_at_56 = 0, flagged_at_58 = 0;
	for (int i = 0; i < rs.n; i++) {
		if (rs.r[i].start_s >= T0 + 900 && rs.r[i].start_s < T0 + 2700)
			flagged_at_56 += rs.r[i].estimated;
		if (rs.r[i].start_s >= T0 + 4500)
			flagged_at_58 += rs.r[i].implausible && rs.r[i].estimated;
	}
	CHECK(flagged_at_56 == 0, "quarters at 56 kW are plausible: %d flagged", flagged_at_56);
	CHECK(flagged_at_58 == 2, "quarters at 58 kW are implausible: %d flagged of 2", flagged_at_58);
}

/* ---- Finding 4: a long silence is one jump ---- */

struct counted_rows {
	struct rows *rs;
	int calls_max;    /* most rows from one reading */
	int this_call;
	int resuming;     /* rows from the first reading after the silence */
};

static void count_collect(void *ctx, const struct quarter_row *row)
{
	struct counted_rows *c = ctx;
	collect(c->rs, row);
	c->this_call++;
}

/* A meter at 1 kW read every 60 s for an hour, silent for `silence_ms`,
 * then read again for an hour. Returns the rows the first reading after
 * the silence made; *most: the most rows any reading made. */
static int silence_run(const struct quarter_params *p, int64_t silence_ms, struct rows *rs, int64_t *index_change, int *most)
{
	struct meter_quarters mq;
	quarters_reset(&mq);
	rs->n = 0;
	struct counted_rows c = { rs, 0, 0, -1 };
	int64_t t = (T0 + 13) * 1000;
	double wh0 = 500000;
	for (int phase = 0; phase < 2; phase++) {
		for (int k = 0; k < 60; k++, t += 60000) {
			struct lowi_reading r = reading_wh(wh0 + 1000.0 * (double)(t - (T0 + 13) * 1000) / 3.6e6, 1000);
			c.this_call = 0;
			quarters_feed(&mq, p, t, &r, count_collect, &c);
			c.calls_max = c.this_call > c.calls_max ? c.this_call : c.calls_max;
			if (phase == 1 && k == 0)
				c.resuming = c.this_call;
		}
		t += silence_ms - 60000;
	}
	*index_change = rs->n ? rs->r[rs->n - 1].import_day_wh - rs->r[0].import_day_wh + rs->r[0].import_wh : 0;
	*most = c.calls_max;
	return c.resuming;
}

static void test_long_silence(void)
{
	static struct rows rs;
	struct quarter_params before = params_before();
	int64_t sixty_two_days = (int64_t)62 * 86400 * 1000, change;
	int most;
	int was = silence_run(&before, sixty_two_days, &rs, &change, &most);
	int now = silence_run(&quarter_default_params, sixty_two_days, &rs, &change, &most);
	printf("62-day silence: the reading after it made %d rows at once before; now %d, and %d rows in all"
		" (one books the silence)\n", was, now, rs.n);
	CHECK(was == 5952, "before: the reading after 62 days made %d rows", was);
	CHECK(now == 0 && most == 1, "now: it makes none (%d), and no reading makes more than one row (%d)", now, most);
	int64_t sum = 0, holes = 0;
	int jump_rows = 0, estimated = 0;
	for (int i = 0; i < rs.n; i++) {
		sum += rs.r[i].import_wh;
		estimated += rs.r[i].estimated;
		if (i > 0 && rs.r[i].start_s != rs.r[i - 1].start_s + 900) {
			holes++;
			jump_rows += rs.r[i].estimated && !rs.r[i].implausible && rs.r[i].import_wh > 1000000;
		}
		if (i > 0)
			CHECK(rs.r[i].import_wh == rs.r[i].import_day_wh - rs.r[i - 1].import_day_wh,
				"row %d: Soutire is the change of the indexes since the previous row", i);
	}
	CHECK(holes == 1 && jump_rows == 1, "one jump: the silence's quarters have no row, the next row books it (%lld, %d)",
		(long long)holes, jump_rows);
	CHECK(estimated == 1, "only the jump's row is estimated: %d", estimated);
	CHECK(sum == change, "no energy lost across the silence: rows sum to %lld Wh, indexes moved %lld Wh", (long long)sum,
		(long long)change);
	/* A day is still filled, a row per quarter, spread and flagged. */
	now = silence_run(&quarter_default_params, (int64_t)86400 * 1000, &rs, &change, &most);
	CHECK(now == 96 && rs.n == 2 + 96 + 4, "a day's silence is filled: %d rows from one reading, %d in all", now, rs.n);
}

/* ---- Finding 12: readings refused because the state is ahead ---- */

struct refusal_run {
	int refused, warnings, rebased, accepted;
	int rows_at_step;
};

/* A meter at 1 kW read every 97 s from T0 + 7 s for 3 hours; then the
 * broker's clock steps back `step_s` and it is read for `hours` more;
 * counters as the meter has them (advancing), or, when `frozen`, one
 * stale message repeated from the step on. */
static struct refusal_run clock_step(const struct quarter_params *p, int64_t step_s, int hours, bool frozen, struct rows *rs)
{
	struct meter_quarters mq;
	quarters_reset(&mq);
	rs->n = 0;
	struct refusal_run run = { 0 };
	int64_t real = (T0 + 7) * 1000, end = real + (3 + hours) * 3600000LL, step_at = real + 3 * 3600000LL;
	double wh0 = 500000;
	struct lowi_reading stale = reading_wh(wh0 + 2000, 1000); /* an hour before the step */
	for (; real < end; real += 97000) {
		bool after = real >= step_at;
		if (!after)
			run.rows_at_step = rs->n + 1;
		struct lowi_reading r = after && frozen ? stale : reading_wh(wh0 + 1000.0 * (double)(real - (T0 + 7) * 1000) / 3.6e6, 1000);
		enum quarter_feed_result res = quarters_feed(&mq, p, after ? real - step_s * 1000 : real, &r, collect, rs);
		if (!after)
			continue;
		run.refused += res == QUARTER_OUT_OF_ORDER || res == QUARTER_REFUSED_LONG;
		run.warnings += res == QUARTER_REFUSED_LONG;
		run.rebased += res == QUARTER_REBASED;
		run.accepted += res == QUARTER_ACCEPTED;
	}
	return run;
}

static void test_clock_step_back(void)
{
	static struct rows rs;
	struct quarter_params before = params_before();
	struct refusal_run was = clock_step(&before, 7 * 3600, 6, false, &rs);
	int rows_was = rs.n;
	struct refusal_run now = clock_step(&quarter_default_params, 7 * 3600, 6, false, &rs);
	int readings = was.refused + was.accepted + was.rebased;
	printf("clock stepped back 7 h: before, %d of %d readings refused over 6 h; now %d refused, re-based %d, %d accepted\n",
		was.refused, readings, now.refused, now.rebased, now.accepted);
	CHECK(was.refused == readings && readings > 200 && rows_was == was.rows_at_step - 1,
		"before: every reading refused (%d of %d), no row after the step (%d, %d)", was.refused, readings, rows_was,
		was.rows_at_step - 1);
	CHECK(now.rebased == 1 && now.refused == 2 && now.accepted == readings - 3,
		"now: re-based on the third refused reading (2 min), then accepted");
	int64_t sum = 0;
	int estimated = 0, bad = 0;
	for (int i = 1; i < rs.n; i++) {
		sum += rs.r[i].import_wh;
		estimated += rs.r[i].estimated;
		bad += rs.r[i].import_wh != rs.r[i].import_day_wh - rs.r[i - 1].import_day_wh;
	}
	CHECK(rs.n > 3 * 4 + 6 * 4 - 3, "rows go on after the step: %d", rs.n);
	CHECK(bad == 0, "every row's Soutire is the change of its indexes since the previous row (%d off)", bad);
	CHECK(estimated == 1, "only the quarter that books the jump is estimated: %d", estimated);
	CHECK(sum == rs.r[rs.n - 1].import_day_wh - rs.r[0].import_day_wh, "no energy lost or counted twice across the step");

	/* Re-base disabled: warned at 5 min, then every hour. */
	struct quarter_params no_rebase = quarter_default_params;
	no_rebase.rebase_after_ms = INT64_MAX / 2;
	struct refusal_run stuck = clock_step(&no_rebase, 7 * 3600, 6, false, &rs);
	CHECK(stuck.warnings == 6, "a meter refused for 6 h is due a warning at 5 min and every hour after: %d", stuck.warnings);

	/* A short step resolves itself: no re-base, no estimated row. */
	struct refusal_run small = clock_step(&quarter_default_params, 100, 1, false, &rs);
	estimated = 0;
	for (int i = 0; i < rs.n; i++)
		estimated += rs.r[i].estimated;
	CHECK(small.refused == 1 && small.rebased == 0 && estimated == 0, "a 100 s step: %d refused, %d re-based, %d estimated",
		small.refused, small.rebased, estimated);

	/* One stale message repeated, counters behind: never re-based, warned. */
	struct refusal_run replay = clock_step(&quarter_default_params, 0, 2, true, &rs);
	CHECK(replay.rebased == 0 && replay.accepted == 0 && replay.warnings == 2,
		"a stale message repeated is never taken (%d re-based), and warned twice in 2 h (%d)", replay.rebased, replay.warnings);
}

/* The state is ahead of the meter's counters by 2 kWh (less than a late
 * publish may be), as after a restore from elsewhere, its readings
 * advancing: re-based after 2 min, as a discontinuity (no energy booked
 * back). */
static void test_state_ahead_of_counters(void)
{
	static struct rows rs;
	struct meter_quarters mq;
	quarters_reset(&mq);
	rs.n = 0;
	int64_t t = (T0 + 5) * 1000;
	for (int k = 0; k < 20; k++, t += 60000) {
		struct lowi_reading r = reading_wh(502000 + 1000.0 * 60 * k / 3600.0, 1000);
		quarters_feed(&mq, &quarter_default_params, t, &r, collect, &rs);
	}
	int refused = 0, rebased_at = -1;
	for (int k = 1; k < 90; k++, t += 60000) {
		struct lowi_reading r = reading_wh(500000 + 1000.0 * 60 * (20 + k) / 3600.0, 1000);
		enum quarter_feed_result res = quarters_feed(&mq, &quarter_default_params, t, &r, collect, &rs);
		refused += res == QUARTER_OUT_OF_ORDER;
		if (res == QUARTER_REBASED)
			rebased_at = k;
	}
	CHECK(rebased_at == 3 && refused == 2, "state 2 kWh ahead: re-based at reading %d after %d refused", rebased_at, refused);
	int negative = 0, estimated = 0;
	for (int i = 0; i < rs.n; i++) {
		negative += rs.r[i].import_wh < 0;
		estimated += rs.r[i].estimated;
	}
	CHECK(rs.n >= 5 && negative == 0 && rs.r[0].estimated && estimated == 1,
		"then rows, none negative, the quarter of the re-base estimated (%d rows, %d estimated)", rs.n, estimated);
}

int main(void)
{
	test_constant_power();
	test_steps_and_export();
	test_household_accuracy();
	test_gap();
	test_counter_reset_and_jump();
	test_duplicates_and_out_of_order();
	test_still_counters_across_boundary();
	test_rate_flip();
	test_rows_telescope();
	test_resume_after_restart();
	test_forged_burst();
	test_quarter_at_the_limit();
	test_long_silence();
	test_clock_step_back();
	test_state_ahead_of_counters();
	return check_finish("quarter");
}
