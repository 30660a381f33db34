/*
 * Quarter-hour aggregation; the model and its guarantees are in quarter.h.
 * Invariant: boundary_total only ever holds rounded totals of boundaries
 * already emitted (or the first one crossed), so every row's energy is the
 * difference of two consecutive rounded totals and nothing is lost to
 * rounding between rows.
 */
#include "quarter.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define QUARTER_MS ((int64_t)QUARTER_S * 1000)

/* The longest time a jump's counters are judged over (max_power_w and
 * max_flow_l_per_h times it): a jump after a longer silence, or after a
 * clock step (whose real length is unknown), may still move this much at
 * most. 250 kW over 62 days is 372 MWh, so the row that books a jump
 * always fits its column (Soutire, DECIMAL(10,3) kWh). */
#define JUMP_SPAN_MAX_MS ((int64_t)62 * 86400 * 1000)

/* Rounding: a row's energy is the difference of two boundary totals, each
 * the sum of two rounded counters. */
#define QUARTER_ROUNDING_WH 2.0

const struct quarter_params quarter_default_params = {
	.measured_gap_ms = 5 * 60 * 1000,
	.duplicate_window_ms = 30 * 1000,
	/* A day: a night's or a day's outage still gets a row per quarter, and
	 * one message makes at most 97 rows. */
	.max_fill_ms = (int64_t)86400 * 1000,
	.max_power_w = 250000.0,
	/* plugin_opt_max_power_kw's default (README, Options). */
	.max_quarter_power_w = 56000.0,
	.max_flow_l_per_h = 100000.0,
	.max_stale_wh = 5000.0,
	.rebase_after_ms = 2 * 60 * 1000,
	.refused_warn_ms = 5 * 60 * 1000,
	.refused_repeat_ms = 3600 * 1000,
};

void quarters_reset(struct meter_quarters *mq)
{
	memset(mq, 0, sizeof(*mq));
	mq->last_rate = -1;
}

static void reading_indexes(const struct lowi_reading *r, const struct meter_quarters *mq, double idx[QC_COUNT])
{
	idx[QC_IMPORT_DAY] = r->import_day_wh;
	idx[QC_IMPORT_NIGHT] = r->import_night_wh;
	idx[QC_EXPORT_DAY] = r->export_day_wh;
	idx[QC_EXPORT_NIGHT] = r->export_night_wh;
	/* A missing gas or water field carries the last value: no flow booked. */
	idx[QC_GAS] = r->has_gas ? r->gas_l : mq->last_index[QC_GAS];
	idx[QC_WATER] = r->has_water ? r->water_l : mq->last_index[QC_WATER];
}

static void clear_refusals(struct meter_quarters *mq)
{
	mq->refused_since_ms = mq->refused_last_ms = 0;
	mq->refused_first_wh = 0.0;
	mq->refused_n = 0;
	mq->refused_why = mq->refused_warnings = 0;
}

/* Every accepted reading comes through here: it ends a refusal streak. */
static void remember(struct meter_quarters *mq, int64_t t_ms, const struct lowi_reading *r,
	const double idx[QC_COUNT], const double total[QC_COUNT])
{
	clear_refusals(mq);
	mq->last_ms = t_ms;
	memcpy(mq->last_index, idx, sizeof(mq->last_index));
	memcpy(mq->last_total, total, sizeof(mq->last_total));
	mq->last_has_power = r->has_power;
	mq->last_import_w = (float)r->import_w;
	mq->last_export_w = (float)r->export_w;
	mq->last_rate = (int8_t)r->rate;
	mq->has_gas = mq->has_gas || r->has_gas;
	mq->has_water = mq->has_water || r->has_water;
}

static void start_series(struct meter_quarters *mq, int64_t t_ms, const struct lowi_reading *r)
{
	double idx[QC_COUNT];
	quarters_reset(mq);
	reading_indexes(r, mq, idx);
	remember(mq, t_ms, r, idx, idx);
}

/*
 * Energy (Wh) of an interval [0, span_s] holding e_wh that lies before x_s.
 * Step model: power p0_w until s, p1_w after, with s solving
 * p0 * s + p1 * (span - s) = e. Linear when no such s exists in the interval.
 */
static double energy_before(double e_wh, double p0_w, double p1_w, bool step_ok, double span_s, double x_s)
{
	if (e_wh <= 0.0)
		return 0.0;
	if (step_ok && fabs(p0_w - p1_w) >= 1.0) {
		double s = (e_wh * 3600.0 - p1_w * span_s) / (p0_w - p1_w);
		if (s >= 0.0 && s <= span_s) {
			double e = x_s <= s ? p0_w * x_s : p0_w * s + p1_w * (x_s - s);
			e /= 3600.0;
			return e < 0.0 ? 0.0 : (e > e_wh ? e_wh : e);
		}
	}
	return e_wh * x_s / span_s;
}

/*
 * Splits a group's energy before the boundary between its day and night
 * counters. The rate only flips on quarter boundaries, so the counter of
 * the rate in force at the earlier reading is filled first.
 */
static void split_group(double e_wh, const double delta[QC_COUNT], int day, int night, int rate, double out[QC_COUNT])
{
	double total = delta[day] + delta[night];
	if (total <= 0.0) {
		out[day] = out[night] = 0.0;
		return;
	}
	if (rate < 0) {
		out[day] = delta[day] * e_wh / total;
		out[night] = delta[night] * e_wh / total;
		return;
	}
	int first = rate == 1 ? day : night, second = rate == 1 ? night : day;
	out[first] = e_wh < delta[first] ? e_wh : delta[first];
	double rest = e_wh - out[first];
	out[second] = rest < 0.0 ? 0.0 : (rest > delta[second] ? delta[second] : rest);
}

/* The row of the quarter that ends at the boundary whose totals are
 * total_r. A row that books a jump covers more than its quarter, or an
 * unknown time, and is estimated already: only the others are judged
 * against max_quarter_power_w, over the quarter the readings cover. */
static void emit_row(struct meter_quarters *mq, const struct quarter_params *p, const int64_t total_r[QC_COUNT],
	const int64_t index_r[QC_COUNT], bool estimated, quarter_emit_fn emit, void *ctx)
{
	const int64_t *b = mq->boundary_total;
	struct quarter_row row = {
		.start_s = mq->boundary_s,
		.import_day_wh = index_r[QC_IMPORT_DAY],
		.import_night_wh = index_r[QC_IMPORT_NIGHT],
		.export_day_wh = index_r[QC_EXPORT_DAY],
		.export_night_wh = index_r[QC_EXPORT_NIGHT],
		.import_wh = total_r[QC_IMPORT_DAY] + total_r[QC_IMPORT_NIGHT] - b[QC_IMPORT_DAY] - b[QC_IMPORT_NIGHT],
		.export_wh = total_r[QC_EXPORT_DAY] + total_r[QC_EXPORT_NIGHT] - b[QC_EXPORT_DAY] - b[QC_EXPORT_NIGHT],
		.gas_l = total_r[QC_GAS] - b[QC_GAS],
		.water_l = total_r[QC_WATER] - b[QC_WATER],
		.gas_index_l = index_r[QC_GAS],
		.water_index_l = index_r[QC_WATER],
		.has_gas = mq->has_gas,
		.has_water = mq->has_water,
		.estimated = estimated || mq->open_estimated,
	};
	if (!mq->open_jump) {
		double limit_wh = p->max_quarter_power_w * QUARTER_S / 3600.0 + QUARTER_ROUNDING_WH;
		row.implausible = (double)row.import_wh > limit_wh || (double)row.export_wh > limit_wh;
		row.estimated = row.estimated || row.implausible;
	}
	emit(ctx, &row);
}

/*
 * Same counters again, but on the far side of a quarter boundary: a fresh
 * reading of a meter drawing so little that its Wh counters did not move,
 * which completes the quarter now rather than when the counters next move.
 * A repeat of the last message (a QoS 1 retransmission) carries the last
 * reading's power too; taken as a fresh reading, it would book the energy
 * of its age, at that power, after the boundary. So it is taken only when
 * that is under 1 Wh: the counters' own resolution.
 */
static bool still_across_boundary(const struct meter_quarters *mq, int64_t t_ms)
{
	if (t_ms / QUARTER_MS == mq->last_ms / QUARTER_MS || !mq->last_has_power)
		return false;
	double w = fmax(mq->last_import_w, mq->last_export_w);
	return w * (double)(t_ms - mq->last_ms) / 3.6e6 < 1.0;
}

/* The four electricity counters of a reading, summed: whether a streak's
 * readings advance. */
static double electricity_wh(const struct lowi_reading *r)
{
	return r->import_day_wh + r->import_night_wh + r->export_day_wh + r->export_night_wh;
}

/* A counter the state knows is lower in idx than in the last reading. */
static bool counters_behind(const struct meter_quarters *mq, const double idx[QC_COUNT])
{
	for (int c = 0; c < QC_COUNT; c++) {
		bool known = c < QC_GAS || (c == QC_GAS ? mq->has_gas : mq->has_water);
		if (known && idx[c] < mq->last_index[c])
			return true;
	}
	return false;
}

/* A gas or water counter that appears only now starts from its first
 * value: its earlier history is unknown, not consumption. */
static void seed_new_counters(struct meter_quarters *mq, const struct lowi_reading *r)
{
	if (r->has_gas && !mq->has_gas) {
		mq->last_index[QC_GAS] = mq->last_total[QC_GAS] = r->gas_l;
		mq->boundary_total[QC_GAS] = llround(r->gas_l);
	}
	if (r->has_water && !mq->has_water) {
		mq->last_index[QC_WATER] = mq->last_total[QC_WATER] = r->water_l;
		mq->boundary_total[QC_WATER] = llround(r->water_l);
	}
}

/*
 * What each counter moved since the last reading, judged against what the
 * plausibility bounds allow over span_ms. Readings delayed on the way
 * (Wi-Fi, a busy broker) can arrive in a burst, milliseconds apart: the
 * bound allows at least five minutes of flow, so only a real jump is taken
 * for a reset (a burst of forged ones is caught per quarter, in emit_row).
 * A counter that went back, or moved more, is a discontinuity and moves 0.
 * Returns whether any was.
 */
static bool counter_moves(const struct meter_quarters *mq, const struct quarter_params *p, int64_t span_ms,
	const double idx[QC_COUNT], double delta[QC_COUNT])
{
	double bound_h = (span_ms > 300000 ? (double)span_ms : 300000.0) / 3.6e6;
	bool discontinuity = false;
	for (int c = 0; c < QC_COUNT; c++) {
		double d = idx[c] - mq->last_index[c];
		double bound = (c >= QC_GAS ? p->max_flow_l_per_h : p->max_power_w) * bound_h + 1.0;
		if (d < 0.0 || d > bound) {
			d = 0.0;
			discontinuity = true;
		}
		delta[c] = d;
	}
	return discontinuity;
}

/*
 * Takes the reading as a jump from the last accepted one, however far (a
 * long silence) or in whichever direction (a clock step): the quarters in
 * between get no row, and the quarter the reading falls in books
 * everything since the last row's end (its boundary_total stays), flagged
 * estimated. Before any boundary was crossed there is no row to go on
 * from, and the series simply goes on from this reading.
 */
static void jump_to(struct meter_quarters *mq, int64_t t_ms, const struct lowi_reading *r, const double idx[QC_COUNT],
	const double delta[QC_COUNT])
{
	double total[QC_COUNT];
	for (int c = 0; c < QC_COUNT; c++)
		total[c] = mq->last_total[c] + delta[c];
	if (mq->boundary_valid) {
		mq->boundary_s = t_ms / QUARTER_MS * QUARTER_S;
		mq->open_estimated = true;
		mq->open_jump = true;
	}
	remember(mq, t_ms, r, idx, total);
}

/* Adds a refused reading to the refusal streak; returns what to report. */
static enum quarter_feed_result refuse(struct meter_quarters *mq, const struct quarter_params *p, int64_t t_ms,
	const struct lowi_reading *r, unsigned why)
{
	/* A streak runs on its readings' own clock: one received before the
	 * streak's latest (the clock stepped back again) starts a new one. */
	if (mq->refused_since_ms == 0 || t_ms < mq->refused_last_ms) {
		mq->refused_since_ms = t_ms;
		mq->refused_first_wh = electricity_wh(r);
		mq->refused_n = 0;
		mq->refused_why = 0;
		mq->refused_warnings = 0;
	}
	mq->refused_last_ms = t_ms;
	mq->refused_n += mq->refused_n < UINT32_MAX;
	mq->refused_why |= (uint8_t)why;
	/* One warning when the streak reaches refused_warn_ms, one more per
	 * refused_repeat_ms after: however sparse the readings, never two for
	 * one mark. */
	int64_t lasted = t_ms - mq->refused_since_ms;
	if (lasted < p->refused_warn_ms)
		return QUARTER_OUT_OF_ORDER;
	int64_t marks = 1 + (p->refused_repeat_ms > 0 ? (lasted - p->refused_warn_ms) / p->refused_repeat_ms : 0);
	if (marks > UINT8_MAX)
		marks = UINT8_MAX;
	if (marks <= mq->refused_warnings)
		return QUARTER_OUT_OF_ORDER;
	mq->refused_warnings = (uint8_t)marks;
	return QUARTER_REFUSED_LONG;
}

/*
 * Whether this reading, refused for `why`, ends its meter's refusal streak
 * by a re-base: the streak has lasted rebase_after_ms, and its readings
 * show a live meter the state is ahead of. Either their receive times went
 * back while their counters never went behind the state's (the clock
 * stepped back: the counters say the meter went on), or their counters
 * are behind the state's but advance over the streak (the state is ahead
 * of the meter: restored from elsewhere, or a forged reading took it
 * ahead). A replayed message repeated over and over advances nothing and
 * stays refused.
 */
static bool rebase_due(const struct meter_quarters *mq, const struct quarter_params *p, int64_t t_ms,
	const struct lowi_reading *r, unsigned why)
{
	if (mq->refused_since_ms == 0 || t_ms < mq->refused_last_ms || t_ms - mq->refused_since_ms < p->rebase_after_ms)
		return false;
	if (!((mq->refused_why | why) & QUARTER_REFUSED_COUNTERS))
		return true;
	return electricity_wh(r) > mq->refused_first_wh;
}

enum quarter_feed_result quarters_feed(struct meter_quarters *mq, const struct quarter_params *p,
	int64_t t_ms, const struct lowi_reading *r, quarter_emit_fn emit, void *ctx)
{
	if (mq->last_ms == 0) {
		start_series(mq, t_ms, r);
		return QUARTER_FIRST;
	}
	double idx[QC_COUNT], delta[QC_COUNT];
	if (t_ms <= mq->last_ms) {
		reading_indexes(r, mq, idx);
		unsigned why = QUARTER_REFUSED_TIME | (counters_behind(mq, idx) ? QUARTER_REFUSED_COUNTERS : 0);
		if (!rebase_due(mq, p, t_ms, r, why))
			return refuse(mq, p, t_ms, r, why);
		/* The clock stepped back: how long the meter ran since its last
		 * reading is unknown, so the quarter of this reading books what
		 * the counters moved (what they may move over JUMP_SPAN_MAX_MS). */
		seed_new_counters(mq, r);
		reading_indexes(r, mq, idx);
		counter_moves(mq, p, JUMP_SPAN_MAX_MS, idx, delta);
		jump_to(mq, t_ms, r, idx, delta);
		return QUARTER_REBASED;
	}
	int64_t dt_ms = t_ms - mq->last_ms;
	seed_new_counters(mq, r);
	reading_indexes(r, mq, idx);
	if (dt_ms > p->max_fill_ms) {
		counter_moves(mq, p, dt_ms < JUMP_SPAN_MAX_MS ? dt_ms : JUMP_SPAN_MAX_MS, idx, delta);
		jump_to(mq, t_ms, r, idx, delta);
		return QUARTER_LONG_SILENCE;
	}

	bool same = true, lower = false, higher = false, small_drop = true;
	for (int c = 0; c < QC_COUNT; c++) {
		double d = idx[c] - mq->last_index[c];
		same = same && d == 0.0;
		lower = lower || d < 0.0;
		higher = higher || d > 0.0;
		if (d < 0.0 && -d > p->max_stale_wh)
			small_drop = false;
	}
	/* A repeated message is byte for byte the same: a different power is
	 * a fresh reading of a meter whose counters stood still. */
	same = same && r->has_power == mq->last_has_power &&
		(!r->has_power || ((float)r->import_w == mq->last_import_w && (float)r->export_w == mq->last_export_w));
	if (same && dt_ms < p->duplicate_window_ms && !still_across_boundary(mq, t_ms))
		return QUARTER_DUPLICATE;
	/* A QoS 1 retransmission or a reordered publish: older counters, no
	 * news; unless such readings keep coming and advancing, when the state
	 * is ahead of the meter and the reading is taken (a discontinuity). */
	bool rebased = false;
	if (lower && !higher && small_drop) {
		if (!rebase_due(mq, p, t_ms, r, QUARTER_REFUSED_COUNTERS))
			return refuse(mq, p, t_ms, r, QUARTER_REFUSED_COUNTERS);
		rebased = true;
	}

	bool discontinuity = counter_moves(mq, p, dt_ms, idx, delta);
	double total[QC_COUNT];
	for (int c = 0; c < QC_COUNT; c++)
		total[c] = mq->last_total[c] + delta[c];

	bool estimated = discontinuity || dt_ms > p->measured_gap_ms;
	bool step_ok = !estimated && mq->last_has_power && r->has_power;
	double span_s = (double)dt_ms / 1000.0;
	double e_import = delta[QC_IMPORT_DAY] + delta[QC_IMPORT_NIGHT];
	double e_export = delta[QC_EXPORT_DAY] + delta[QC_EXPORT_NIGHT];

	bool crossed = false;
	for (int64_t b_ms = (mq->last_ms / QUARTER_MS + 1) * QUARTER_MS; b_ms <= t_ms; b_ms += QUARTER_MS) {
		double x_s = (double)(b_ms - mq->last_ms) / 1000.0;
		double part[QC_COUNT];
		split_group(energy_before(e_import, mq->last_import_w, r->import_w, step_ok, span_s, x_s),
			delta, QC_IMPORT_DAY, QC_IMPORT_NIGHT, mq->last_rate, part);
		split_group(energy_before(e_export, mq->last_export_w, r->export_w, step_ok, span_s, x_s),
			delta, QC_EXPORT_DAY, QC_EXPORT_NIGHT, mq->last_rate, part);
		part[QC_GAS] = delta[QC_GAS] * x_s / span_s;
		part[QC_WATER] = delta[QC_WATER] * x_s / span_s;

		int64_t total_r[QC_COUNT], index_r[QC_COUNT];
		for (int c = 0; c < QC_COUNT; c++) {
			total_r[c] = llround(mq->last_total[c] + part[c]);
			index_r[c] = llround(mq->last_index[c] + part[c]);
		}
		int64_t b_s = b_ms / 1000;
		if (mq->boundary_valid && mq->boundary_s == b_s - QUARTER_S)
			emit_row(mq, p, total_r, index_r, estimated, emit, ctx);
		mq->boundary_valid = true;
		mq->boundary_s = b_s;
		mq->open_estimated = estimated;
		mq->open_jump = false;
		crossed = true;
		memcpy(mq->boundary_total, total_r, sizeof(total_r));
	}

	if (!crossed)
		mq->open_estimated = mq->open_estimated || estimated;
	remember(mq, t_ms, r, idx, total);
	return rebased ? QUARTER_REBASED : discontinuity ? QUARTER_DISCONTINUITY : QUARTER_ACCEPTED;
}

void quarters_resume(struct meter_quarters *mq, const struct quarter_row *last_row)
{
	const struct quarter_row *r = last_row;
	int64_t end_s = r->start_s + QUARTER_S;
	quarters_reset(mq);
	mq->last_ms = end_s * 1000;
	mq->last_index[QC_IMPORT_DAY] = (double)r->import_day_wh;
	mq->last_index[QC_IMPORT_NIGHT] = (double)r->import_night_wh;
	mq->last_index[QC_EXPORT_DAY] = (double)r->export_day_wh;
	mq->last_index[QC_EXPORT_NIGHT] = (double)r->export_night_wh;
	mq->last_index[QC_GAS] = (double)r->gas_index_l;
	mq->last_index[QC_WATER] = (double)r->water_index_l;
	memcpy(mq->last_total, mq->last_index, sizeof(mq->last_total));
	for (int c = 0; c < QC_COUNT; c++)
		mq->boundary_total[c] = (int64_t)mq->last_index[c];
	mq->has_gas = r->has_gas;
	mq->has_water = r->has_water;
	mq->boundary_valid = true;
	mq->boundary_s = end_s;
}

const char *quarter_feed_result_name(enum quarter_feed_result r)
{
	switch (r) {
	case QUARTER_FIRST: return "first";
	case QUARTER_ACCEPTED: return "accepted";
	case QUARTER_DUPLICATE: return "duplicate";
	case QUARTER_OUT_OF_ORDER: return "out-of-order";
	case QUARTER_DISCONTINUITY: return "discontinuity";
	case QUARTER_LONG_SILENCE: return "long-silence";
	case QUARTER_REFUSED_LONG: return "refused-long";
	case QUARTER_REBASED: return "rebased";
	}
	return "?";
}

/* ---- The state record (layout in quarter.h) ---- */

_Static_assert(QC_COUNT == 6, "record versions 1 and 2 hold six counters");

enum {
	FLAG_HAS_POWER = 1,
	FLAG_HAS_GAS = 2,
	FLAG_HAS_WATER = 4,
	FLAG_BOUNDARY_VALID = 8,
	FLAG_OPEN_ESTIMATED = 16,
	FLAG_OPEN_JUMP = 32,       /* version 2 */
	FLAGS_KNOWN_V1 = 31,
	FLAGS_KNOWN = 63,
	REFUSED_WHY_KNOWN = QUARTER_REFUSED_TIME | QUARTER_REFUSED_COUNTERS,
};

/* The record is little-endian whatever the host: a value's bytes, as the
 * host holds them, are copied in that order (copy_le is its own inverse).
 * double and float are IEEE 754 on every host mosquitto runs on, so their
 * bytes are their bit patterns. */
#if !defined(__BYTE_ORDER__) || (__BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__ && __BYTE_ORDER__ != __ORDER_BIG_ENDIAN__)
#error "the state record needs the host's byte order (__BYTE_ORDER__)"
#endif

static void copy_le(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;
	for (size_t i = 0; i < n; i++)
		d[i] = s[__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? i : n - 1 - i];
}

/* One field into or out of the record, where it takes n bytes: a field
 * whose type changes size stops the build rather than the layout. */
#define PUT_FIELD(p, field, n) do { \
	_Static_assert(sizeof(field) == (n), "state record layout of " #field); \
	copy_le(p, &(field), n); \
	p += n; \
} while (0)
#define GET_FIELD(p, field, n) do { \
	_Static_assert(sizeof(field) == (n), "state record layout of " #field); \
	copy_le(&(field), p, n); \
	p += n; \
} while (0)

size_t quarter_state_encode(const struct meter_quarters *mq, unsigned char *buf, size_t cap)
{
	if (cap < QUARTER_STATE_BYTES)
		return 0;
	unsigned char *p = buf;
	*p++ = QUARTER_STATE_VERSION;
	PUT_FIELD(p, mq->last_ms, 8);
	for (int c = 0; c < QC_COUNT; c++)
		PUT_FIELD(p, mq->last_index[c], 8);
	for (int c = 0; c < QC_COUNT; c++)
		PUT_FIELD(p, mq->last_total[c], 8);
	PUT_FIELD(p, mq->last_import_w, 4);
	PUT_FIELD(p, mq->last_export_w, 4);
	PUT_FIELD(p, mq->last_rate, 1);
	*p++ = (unsigned char)((mq->last_has_power ? FLAG_HAS_POWER : 0) | (mq->has_gas ? FLAG_HAS_GAS : 0)
		| (mq->has_water ? FLAG_HAS_WATER : 0) | (mq->boundary_valid ? FLAG_BOUNDARY_VALID : 0)
		| (mq->open_estimated ? FLAG_OPEN_ESTIMATED : 0) | (mq->open_jump ? FLAG_OPEN_JUMP : 0));
	PUT_FIELD(p, mq->boundary_s, 8);
	for (int c = 0; c < QC_COUNT; c++)
		PUT_FIELD(p, mq->boundary_total[c], 8);
	PUT_FIELD(p, mq->refused_since_ms, 8);
	PUT_FIELD(p, mq->refused_last_ms, 8);
	PUT_FIELD(p, mq->refused_first_wh, 8);
	PUT_FIELD(p, mq->refused_n, 4);
	PUT_FIELD(p, mq->refused_why, 1);
	PUT_FIELD(p, mq->refused_warnings, 1);
	return (size_t)(p - buf);
}

enum quarter_state_status quarter_state_decode(struct meter_quarters *mq, const unsigned char *rec, size_t len)
{
	if (len == 0)
		return QUARTER_STATE_SHORT;
	int version = rec[0];
	if (version != 1 && version != 2)
		return QUARTER_STATE_UNKNOWN_VERSION;
	size_t want = version == 1 ? QUARTER_STATE_V1_BYTES : QUARTER_STATE_BYTES;
	if (len != want)
		return len < want ? QUARTER_STATE_SHORT : QUARTER_STATE_LONG;
	/* Zeroed first: a restored state is the same bytes whatever the
	 * destination held, padding included, and a version 1 record leaves
	 * the fields it lacks at their reset values; and the destination is
	 * only written once the whole record is known good. */
	struct meter_quarters q;
	memset(&q, 0, sizeof(q));
	const unsigned char *p = rec + 1;
	GET_FIELD(p, q.last_ms, 8);
	for (int c = 0; c < QC_COUNT; c++)
		GET_FIELD(p, q.last_index[c], 8);
	for (int c = 0; c < QC_COUNT; c++)
		GET_FIELD(p, q.last_total[c], 8);
	GET_FIELD(p, q.last_import_w, 4);
	GET_FIELD(p, q.last_export_w, 4);
	GET_FIELD(p, q.last_rate, 1);
	unsigned flags = *p++;
	if (flags & ~(unsigned)(version == 1 ? FLAGS_KNOWN_V1 : FLAGS_KNOWN))
		return QUARTER_STATE_INVALID;
	q.last_has_power = flags & FLAG_HAS_POWER;
	q.has_gas = flags & FLAG_HAS_GAS;
	q.has_water = flags & FLAG_HAS_WATER;
	q.boundary_valid = flags & FLAG_BOUNDARY_VALID;
	q.open_estimated = flags & FLAG_OPEN_ESTIMATED;
	q.open_jump = flags & FLAG_OPEN_JUMP;
	GET_FIELD(p, q.boundary_s, 8);
	for (int c = 0; c < QC_COUNT; c++)
		GET_FIELD(p, q.boundary_total[c], 8);
	if (version >= 2) {
		GET_FIELD(p, q.refused_since_ms, 8);
		GET_FIELD(p, q.refused_last_ms, 8);
		GET_FIELD(p, q.refused_first_wh, 8);
		GET_FIELD(p, q.refused_n, 4);
		GET_FIELD(p, q.refused_why, 1);
		GET_FIELD(p, q.refused_warnings, 1);
		if (q.refused_why & ~(unsigned)REFUSED_WHY_KNOWN)
			return QUARTER_STATE_INVALID;
	}
	memcpy(mq, &q, sizeof(q));
	return QUARTER_STATE_OK;
}

enum quarter_state_status quarter_state_decode_text0(struct meter_quarters *mq, const char *text)
{
	struct meter_quarters q;
	int64_t last_ms, boundary_s;
	int rate, flags, used;
	const char *p = text;
	memset(&q, 0, sizeof(q));
	if (sscanf(p, "%" SCNd64 " %" SCNd64 " %d %d%n", &last_ms, &boundary_s, &rate, &flags, &used) != 4)
		return QUARTER_STATE_INVALID;
	p += used;
	for (int c = 0; c < QC_COUNT; c++) {
		if (sscanf(p, " %la %la %" SCNd64 "%n", &q.last_index[c], &q.last_total[c], &q.boundary_total[c], &used) != 3)
			return QUARTER_STATE_INVALID;
		p += used;
	}
	double iw, ew;
	if (sscanf(p, " %la %la", &iw, &ew) != 2 || last_ms <= 0 || rate < INT8_MIN || rate > INT8_MAX)
		return QUARTER_STATE_INVALID;
	q.last_ms = last_ms;
	q.boundary_s = boundary_s;
	q.last_import_w = (float)iw;
	q.last_export_w = (float)ew;
	q.last_rate = (int8_t)rate;
	q.last_has_power = flags & 1;
	q.has_gas = (flags >> 1) & 1;
	q.has_water = (flags >> 2) & 1;
	q.boundary_valid = (flags >> 3) & 1;
	q.open_estimated = (flags >> 4) & 1;
	memcpy(mq, &q, sizeof(q));
	return QUARTER_STATE_OK;
}

const char *quarter_state_status_name(enum quarter_state_status s)
{
	switch (s) {
	case QUARTER_STATE_OK: return "ok";
	case QUARTER_STATE_SHORT: return "record shorter than its version's layout";
	case QUARTER_STATE_LONG: return "record longer than its version's layout";
	case QUARTER_STATE_UNKNOWN_VERSION: return "record version unknown to this build";
	case QUARTER_STATE_INVALID: return "record holds a value no encoder writes";
	}
	return "?";
}
