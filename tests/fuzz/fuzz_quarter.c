/*
 * libFuzzer target: plugin/quarter.h quarters_feed on a stream of readings
 * decoded from the fuzz input, with the plugin's default parameters.
 *
 * Input: 20-byte records (a shorter tail is ignored), each one reading:
 *   byte 0      bit 0 PI/PE present, bit 1 CG present, bit 2 CW present,
 *               bits 3-4 T (0: absent, 1: night, 2: day, 3: absent),
 *               bits 5-7 time unit (1 ms, 100 ms, 1 s, 10 s, 1 min, 15 min, 1 h, 1 day)
 *   bytes 1-2   time since the previous reading, in that unit (little endian)
 *   byte 3      bits 0-1 counter step unit (1, 10, 1000, 1e6 Wh or litres),
 *               bit 2 steps in eighths, bit 3 counters jump to step * 1e4
 *               (a meter swap), bits 4-5 power unit (1, 10, 100, 16 W),
 *               bit 7 time goes backwards
 *   bytes 4-15  six int16 counter steps: CIH CIL CEH CEL CG CW
 *   bytes 16-19 PI, PE (uint16, times the power unit)
 * Counters are kept within 0..999999999999 and powers within 0..1e6, the
 * ranges the payload decoder lets through (payload.h).
 *
 * Invariants checked (quarter.h, README "How a reading becomes a row"):
 *  - energies never negative, rows' indexes within the counters' range;
 *  - rows start on quarter boundaries, strictly increasing, in exact 900 s
 *    steps within a series, except across a jump (a silence longer than
 *    max_fill_ms, or a re-base: no row for the quarters it skips; after a
 *    clock step back, rows may start before earlier ones), and one reading
 *    makes at most max_fill_ms / 900 s + 1 rows;
 *  - per series, the sum of import_wh (export_wh) over the rows equals the
 *    change of the rounded import (export) total between the first row's
 *    start boundary and the last row's end boundary;
 *  - a row's import_wh is the change of In_D + In_N from the previous row
 *    (and the same for export) when no discontinuity lies between them,
 *    exactly while the series has had none (README: "a row's Soutire is
 *    exactly the change of In_D + In_N since the previous row");
 *  - a row is estimated exactly when its quarter touches a reading interval
 *    longer than measured_gap_ms, a discontinuity or a jump, or when it is
 *    implausible; it is implausible exactly when it does not book a jump
 *    and its import or export is more than max_quarter_power_w allows over
 *    15 minutes (so no row that may set a peak is above it);
 *  - every value fits its MariaDB column (sql/schema.sql);
 *  - a row's energy is bounded by what the plausibility limits let through
 *    (max_power_w, max_flow_l_per_h: each reading interval may carry at
 *    least five minutes of flow, plus 1 Wh/l of slack, and rounding);
 *  - duplicate and out-of-order readings change nothing but the refusal
 *    streak, and emit nothing;
 *  - the state's record (quarter_state_encode) reads back to the same
 *    record after every reading, and the series goes on from the state
 *    read back, as after a clean restart;
 *  - the capacity tariff (capacity.h), fed as the plugin feeds it (each row
 *    to capacity_note_quarter, then live figures and events on each
 *    accepted reading): every figure finite, the quarter's energy and the
 *    allowed power never negative, the target at least the floor, the
 *    billed mean over 0..12 months; a new peak is the month's peak; at most
 *    one PROJECTED and one CLEARED a quarter, CLEARED only after PROJECTED,
 *    none for an estimated quarter.
 *
 * -DFUZZ_KNOWN_BUG_INDEX_ROUNDING (set by run.sh until the bug is fixed):
 * after a discontinuity, quarter.c rounds the boundary indexes and the
 * boundary totals separately; when the offset between them is not a whole
 * number of Wh (fractional counters, allowed by the payload decoder) the
 * two roundings differ and Soutire misses the In_D + In_N change by 1 Wh
 * per counter. Tolerated (+-1 Wh per counter) after a discontinuity.
 *
 * FUZZ_TRACE=1 build-fuzz/fuzz_quarter <crash file> prints every reading
 * and row on stderr.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "capacity.h"
#include "fuzz_check.h"
#include "quarter.h"

#define RECORD 20
#define COUNTER_LIMIT 999999999999.0           /* payload.h */
#define INDEX_COLUMN_MAX INT64_C(999999999999) /* Wh in DECIMAL(12,3) kWh */
#define KW_COLUMN_MAX INT64_C(99999999)        /* W in DECIMAL(8,3) kW */
#define MAX_ROWS_PER_CALL 8000 /* more than quarter_default_params allow (checked below) */

struct call_rows {
	const struct meter_quarters *mq;
	size_t n;
	struct quarter_row rows[MAX_ROWS_PER_CALL];
	int64_t start_import[MAX_ROWS_PER_CALL]; /* rounded import total at the row's start boundary */
	int64_t start_export[MAX_ROWS_PER_CALL];
};

static struct call_rows cr; /* large: static, reset per call */
static int trace = -1;

static void on_row(void *ctx, const struct quarter_row *row)
{
	struct call_rows *c = ctx;
	FUZZ_CHECK(c->n < MAX_ROWS_PER_CALL, "more than %d rows from one reading", MAX_ROWS_PER_CALL);
	FUZZ_CHECK(c->mq->boundary_valid && c->mq->boundary_s == row->start_s,
		"row %lld emitted while the stored boundary is %lld", (long long)row->start_s, (long long)c->mq->boundary_s);
	c->rows[c->n] = *row;
	c->start_import[c->n] = c->mq->boundary_total[QC_IMPORT_DAY] + c->mq->boundary_total[QC_IMPORT_NIGHT];
	c->start_export[c->n] = c->mq->boundary_total[QC_EXPORT_DAY] + c->mq->boundary_total[QC_EXPORT_NIGHT];
	c->n++;
}

/* The capacity tariff on the same stream, and its events' bookkeeping. */
struct capacity_check {
	struct capacity cap;
	int64_t quarter_s;
	bool projected, cleared;
};

static bool finite_all(const struct capacity_live *l)
{
	return isfinite(l->elapsed_s) && isfinite(l->import_kwh) && isfinite(l->average_kw) && isfinite(l->projected_kw)
		&& isfinite(l->month_peak_kw) && isfinite(l->billed.mean_kw) && isfinite(l->target_kw)
		&& isfinite(l->allowed_kw) && isfinite(l->import_kw) && isfinite(l->headroom_kw);
}

static void check_capacity(struct capacity_check *k, const struct meter_quarters *mq, enum quarter_feed_result res)
{
	for (size_t i = 0; i < cr.n; i++) {
		const struct quarter_row *row = &cr.rows[i];
		if (!capacity_note_quarter(&k->cap, row->start_s, row->import_wh, row->estimated))
			continue;
		double kw;
		int64_t at;
		FUZZ_CHECK(!row->estimated && capacity_month_peak(&k->cap, capacity_month_of(row->start_s), &kw, &at)
			&& at == row->start_s && kw == (float)(row->import_wh * 4 / 1000.0),
			"row %lld: a new peak that is not its month's", (long long)row->start_s);
	}
	if (res != QUARTER_FIRST && res != QUARTER_ACCEPTED && res != QUARTER_DISCONTINUITY && res != QUARTER_LONG_SILENCE
		&& res != QUARTER_REBASED)
		return;
	struct capacity_live l;
	capacity_live_compute(&k->cap, mq, 0.0, &l);
	FUZZ_CHECK(finite_all(&l), "a live figure is not finite");
	FUZZ_CHECK(l.quarter_start_s % QUARTER_S == 0 && l.elapsed_s >= 0.0 && l.elapsed_s < QUARTER_S
		&& l.quarter_start_s * 1000 + (int64_t)(l.elapsed_s * 1000.0) <= mq->last_ms,
		"quarter %lld, %.3f s into it, reading at %lld ms", (long long)l.quarter_start_s, l.elapsed_s,
		(long long)mq->last_ms);
	FUZZ_CHECK(l.import_kwh >= 0.0 && l.allowed_kw >= 0.0 && l.import_kw >= 0.0, "energy %g kWh, allowed %g kW, power %g kW",
		l.import_kwh, l.allowed_kw, l.import_kw);
	FUZZ_CHECK(l.target_kw >= CAPACITY_FLOOR_KW && l.billed.mean_kw >= CAPACITY_FLOOR_KW && l.billed.months >= 0
		&& l.billed.months <= CAPACITY_WINDOW_MONTHS, "target %g kW, billed %g kW over %d months", l.target_kw,
		l.billed.mean_kw, l.billed.months);
	FUZZ_CHECK(!l.peak_projected || (!l.estimated && l.projected_kw > l.target_kw), "peak projected wrongly");
	enum capacity_event e = capacity_event_due(&k->cap, &l);
	if (l.quarter_start_s != k->quarter_s) {
		k->quarter_s = l.quarter_start_s;
		k->projected = k->cleared = false;
	}
	FUZZ_CHECK(e == CAPACITY_EVENT_NONE || !l.estimated, "an event for an estimated quarter");
	FUZZ_CHECK(e != CAPACITY_EVENT_PROJECTED || !k->projected, "a second PROJECTED in quarter %lld", (long long)k->quarter_s);
	FUZZ_CHECK(e != CAPACITY_EVENT_CLEARED || (k->projected && !k->cleared), "CLEARED without PROJECTED, or twice");
	k->projected = k->projected || e == CAPACITY_EVENT_PROJECTED;
	k->cleared = k->cleared || e == CAPACITY_EVENT_CLEARED;
}

static uint16_t u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static double clamp(double v, double max)
{
	return v < 0.0 ? 0.0 : (v > max ? max : v);
}

/* Per-series bookkeeping of the checker. */
struct series {
	bool any_row;
	int64_t first_import, first_export;  /* rounded totals at the first row's start */
	int64_t sum_import, sum_export;
	struct quarter_row last;             /* previous row */
	bool disc_since_crossing;            /* a discontinuity since the last boundary crossing */
	bool any_disc;                       /* a discontinuity in this series */
	bool est_since_crossing;             /* an estimated interval since (and at) the last crossing */
	int64_t intervals_since_crossing;    /* accepted intervals since (and at) the last crossing */
	bool jump_open;                      /* a jump not yet booked by a row */
	bool stepped_back;                   /* a re-base back in time since the last row */
};

static void end_series(const struct series *s, const struct meter_quarters *mq)
{
	if (!s->any_row)
		return;
	int64_t end_import = mq->boundary_total[QC_IMPORT_DAY] + mq->boundary_total[QC_IMPORT_NIGHT];
	int64_t end_export = mq->boundary_total[QC_EXPORT_DAY] + mq->boundary_total[QC_EXPORT_NIGHT];
	/* A jump moves the boundary ahead of the last row, keeping its totals. */
	FUZZ_CHECK(s->jump_open || mq->boundary_s == s->last.start_s + QUARTER_S, "last boundary %lld, last row %lld",
		(long long)mq->boundary_s, (long long)s->last.start_s);
	FUZZ_CHECK(s->sum_import == end_import - s->first_import, "sum of import_wh %lld, rounded total change %lld",
		(long long)s->sum_import, (long long)(end_import - s->first_import));
	FUZZ_CHECK(s->sum_export == end_export - s->first_export, "sum of export_wh %lld, rounded total change %lld",
		(long long)s->sum_export, (long long)(end_export - s->first_export));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int64_t time_unit[8] = { 1, 100, 1000, 10000, 60000, 900000, 3600000, 86400000 };
	static const double step_unit[4] = { 1, 10, 1000, 1e6 };
	static const double power_unit[4] = { 1, 10, 100, 16 };
	const struct quarter_params *p = &quarter_default_params;
	if (trace < 0)
		trace = getenv("FUZZ_TRACE") != NULL;

	struct meter_quarters mq;
	quarters_reset(&mq);
	cr.mq = &mq;
	static struct capacity_check cap;
	memset(&cap, 0, sizeof(cap));
	struct series s = { 0 };
	int64_t t_ms = INT64_C(1771000000000); /* 2026-02-13 */
	double counter[QC_COUNT] = { 130838, 137096, 10976, 3381, 1234567, 98765 };
	bool have_prev_row = false;
	int64_t prev_row_start = 0;

	for (size_t off = 0; off + RECORD <= size; off += RECORD) {
		const uint8_t *rec = data + off;
		struct lowi_reading r;
		memset(&r, 0, sizeof(r));
		r.has_power = rec[0] & 1;
		r.has_gas = rec[0] & 2;
		r.has_water = rec[0] & 4;
		int t = (rec[0] >> 3) & 3;
		r.rate = t == 1 ? 0 : t == 2 ? 1 : -1;
		int64_t dt = (int64_t)u16(rec + 1) * time_unit[rec[0] >> 5];
		t_ms += (rec[3] & 0x80) ? -dt : dt;
		if (t_ms < 1)
			t_ms = 1;
		double unit = step_unit[rec[3] & 3] / ((rec[3] & 4) ? 8.0 : 1.0);
		for (int c = 0; c < QC_COUNT; c++) {
			double step = (int16_t)u16(rec + 4 + 2 * c) * unit;
			counter[c] = clamp((rec[3] & 8) ? fabs(step) * 1e4 : counter[c] + step, COUNTER_LIMIT);
		}
		r.import_day_wh = counter[QC_IMPORT_DAY];
		r.import_night_wh = counter[QC_IMPORT_NIGHT];
		r.export_day_wh = counter[QC_EXPORT_DAY];
		r.export_night_wh = counter[QC_EXPORT_NIGHT];
		r.gas_l = counter[QC_GAS];
		r.water_l = counter[QC_WATER];
		double pu = power_unit[(rec[3] >> 4) & 3];
		r.import_w = r.has_power ? clamp(u16(rec + 16) * pu, 1e6) : 0.0;
		r.export_w = r.has_power ? clamp(u16(rec + 18) * pu, 1e6) : 0.0;

		struct meter_quarters before = mq;
		cr.n = 0;
		enum quarter_feed_result res = quarters_feed(&mq, p, t_ms, &r, on_row, &cr);
		FUZZ_CHECK(strcmp(quarter_feed_result_name(res), "?") != 0, "result %d", (int)res);
		check_capacity(&cap, &mq, res);
		if (trace) {
			fprintf(stderr, "reading t=%lld ms (+%lld) CIH %.3f CIL %.3f CEH %.3f CEL %.3f CG %.3f%s CW %.3f%s"
				" PI %.0f PE %.0f%s T %d -> %s, %zu rows\n", (long long)t_ms, (long long)(t_ms - before.last_ms),
				r.import_day_wh, r.import_night_wh, r.export_day_wh, r.export_night_wh, r.gas_l,
				r.has_gas ? "" : "(absent)", r.water_l, r.has_water ? "" : "(absent)", r.import_w, r.export_w,
				r.has_power ? "" : "(absent)", r.rate, quarter_feed_result_name(res), cr.n);
			for (size_t i = 0; i < cr.n; i++)
				fprintf(stderr, "  row %lld In_D %lld In_N %lld OUT_D %lld OUT_N %lld import %lld export %lld"
					" gas %lld%s water %lld%s estimated %d\n", (long long)cr.rows[i].start_s,
					(long long)cr.rows[i].import_day_wh, (long long)cr.rows[i].import_night_wh,
					(long long)cr.rows[i].export_day_wh, (long long)cr.rows[i].export_night_wh,
					(long long)cr.rows[i].import_wh, (long long)cr.rows[i].export_wh, (long long)cr.rows[i].gas_l,
					cr.rows[i].has_gas ? "" : "(null)", (long long)cr.rows[i].water_l,
					cr.rows[i].has_water ? "" : "(null)", cr.rows[i].estimated);
		}

		FUZZ_CHECK(cr.n <= (size_t)(p->max_fill_ms / 900000 + 1), "one reading made %zu rows", cr.n);
		if (res == QUARTER_DUPLICATE || res == QUARTER_OUT_OF_ORDER || res == QUARTER_REFUSED_LONG) {
			FUZZ_CHECK(cr.n == 0, "%s reading emitted %zu rows", quarter_feed_result_name(res), cr.n);
			/* quarters_feed seeds a gas/water counter seen for the first
			 * time before it classifies the reading; harmless (has_gas stays
			 * false, readings without it carry the seeded value, and the
			 * next reading with it seeds it again), so not compared. */
			struct meter_quarters cmp = mq;
			FUZZ_CHECK(res == QUARTER_DUPLICATE || (mq.refused_since_ms != 0 && mq.refused_last_ms == t_ms
				&& mq.refused_n >= 1), "a refused reading is not in the refusal streak");
			cmp.refused_since_ms = before.refused_since_ms;
			cmp.refused_last_ms = before.refused_last_ms;
			cmp.refused_first_wh = before.refused_first_wh;
			cmp.refused_n = before.refused_n;
			cmp.refused_why = before.refused_why;
			cmp.refused_warnings = before.refused_warnings;
			for (int c = QC_GAS; c <= QC_WATER; c++) {
				if (!(c == QC_GAS ? before.has_gas : before.has_water)) {
					cmp.last_index[c] = before.last_index[c];
					cmp.last_total[c] = before.last_total[c];
					cmp.boundary_total[c] = before.boundary_total[c];
				}
			}
			FUZZ_CHECK(memcmp(&before, &cmp, sizeof(cmp)) == 0, "%s reading changed the state",
				quarter_feed_result_name(res));
			goto round_trip;
		}
		if (res == QUARTER_FIRST) {
			FUZZ_CHECK(cr.n == 0, "%s reading emitted %zu rows", quarter_feed_result_name(res), cr.n);
			FUZZ_CHECK(before.last_ms == 0, "first reading after %lld ms", (long long)(t_ms - before.last_ms));
			end_series(&s, &before);
			memset(&s, 0, sizeof(s));
			goto round_trip;
		}
		/* A jump (a long silence, or a re-base back in time): no row now;
		 * the next row books it, estimated, and may break the 900 s
		 * steps. Its counters may have been a discontinuity too. */
		if (res == QUARTER_LONG_SILENCE || (res == QUARTER_REBASED && t_ms <= before.last_ms)) {
			FUZZ_CHECK(cr.n == 0, "%s reading emitted %zu rows", quarter_feed_result_name(res), cr.n);
			FUZZ_CHECK(res == QUARTER_REBASED || t_ms - before.last_ms > p->max_fill_ms, "%s after %lld ms",
				quarter_feed_result_name(res), (long long)(t_ms - before.last_ms));
			FUZZ_CHECK(res == QUARTER_LONG_SILENCE || before.refused_since_ms != 0, "re-based without a refusal streak");
			FUZZ_CHECK(mq.refused_since_ms == 0, "an accepted reading left a refusal streak");
			FUZZ_CHECK(!before.boundary_valid || (mq.open_jump && mq.open_estimated && mq.boundary_s == t_ms / 900000 * 900
				&& memcmp(mq.boundary_total, before.boundary_total, 4 * sizeof(mq.boundary_total[0])) == 0),
				"a jump keeps the last boundary's totals and moves to the quarter of its reading");
			s.jump_open = s.jump_open || before.boundary_valid;
			s.stepped_back = s.stepped_back || t_ms < before.last_ms;
			s.any_disc = true;
			s.disc_since_crossing = true;
			s.est_since_crossing = true;
			s.intervals_since_crossing = 1;
			goto round_trip;
		}
		FUZZ_CHECK(res == QUARTER_ACCEPTED || res == QUARTER_DISCONTINUITY || res == QUARTER_REBASED, "result %d", (int)res);
		FUZZ_CHECK(mq.refused_since_ms == 0, "an accepted reading left a refusal streak");
		int64_t dt_ms = t_ms - before.last_ms;
		/* A re-base after a streak of lower counters is a discontinuity. */
		bool disc = res == QUARTER_DISCONTINUITY || res == QUARTER_REBASED;
		bool est = disc || dt_ms > p->measured_gap_ms;
		bool crossed = mq.boundary_valid && (!before.boundary_valid || mq.boundary_s != before.boundary_s);
		FUZZ_CHECK(crossed == (t_ms / 900000 != before.last_ms / 900000), "crossing mismatch");
		FUZZ_CHECK(cr.n == 0 || crossed, "rows without a crossing");

		for (size_t i = 0; i < cr.n; i++) {
			const struct quarter_row *row = &cr.rows[i];
			bool first_in_call = i == 0;
			/* Intervals that overlap this row's quarter: for the first row of
			 * the call, those since the crossing of its start boundary and
			 * this one; for the others, this interval alone. */
			bool expect_est = first_in_call ? (s.est_since_crossing || est) : est;
			bool disc_inside = first_in_call ? s.disc_since_crossing : false;
			int64_t intervals = first_in_call ? s.intervals_since_crossing + 1 : 1;
			bool books_jump = first_in_call && s.jump_open;

			FUZZ_CHECK(row->start_s % QUARTER_S == 0, "row start %lld not on a quarter", (long long)row->start_s);
			FUZZ_CHECK(!have_prev_row || row->start_s > prev_row_start || (books_jump && s.stepped_back),
				"row %lld after row %lld", (long long)row->start_s, (long long)prev_row_start);
			if (s.any_row)
				FUZZ_CHECK(row->start_s == s.last.start_s + QUARTER_S || books_jump, "row %lld after %lld in one series",
					(long long)row->start_s, (long long)s.last.start_s);
			/* The plausibility of a quarter (quarter.h): a row that may set
			 * a peak is never above max_quarter_power_w. */
			double quarter_limit = p->max_quarter_power_w * QUARTER_S / 3600.0 + 2.0;
			bool over = (double)row->import_wh > quarter_limit || (double)row->export_wh > quarter_limit;
			FUZZ_CHECK(row->implausible == (over && !books_jump), "row %lld: implausible %d, import %lld Wh, export %lld Wh,"
				" limit %g Wh, books a jump %d", (long long)row->start_s, row->implausible, (long long)row->import_wh,
				(long long)row->export_wh, quarter_limit, books_jump);
			FUZZ_CHECK(row->estimated || !over, "row %lld: %lld Wh not estimated", (long long)row->start_s,
				(long long)row->import_wh);
			expect_est = expect_est || row->implausible;
			FUZZ_CHECK(row->import_wh >= 0 && row->export_wh >= 0, "row %lld: import %lld Wh, export %lld Wh",
				(long long)row->start_s, (long long)row->import_wh, (long long)row->export_wh);
			/* Plausibility bounds (quarter.c): a reading interval of dt may
			 * add up to rate * max(dt, 5 min) + 1 per counter. Within this
			 * quarter an interval puts at most rate * (overlap + 5 min) + 1
			 * (all of it when the power step is used, dt <= 5 min; its
			 * overlap's share otherwise); over the n intervals touching the
			 * quarter: rate * (900 s + n * 300 s) + n, two counters per
			 * energy group, 2 for rounding. */
			double span_h = (QUARTER_S + (double)intervals * 300.0) / 3600.0;
			double max_energy = 2 * (p->max_power_w * span_h + (double)intervals) + 2;
			double max_flow = p->max_flow_l_per_h * span_h + (double)intervals + 2;
			/* Gas and water: never negative, bounded like energy. */
			FUZZ_CHECK(!row->has_gas || row->gas_l >= 0, "row %lld: gas %lld l", (long long)row->start_s,
				(long long)row->gas_l);
			FUZZ_CHECK(!row->has_water || row->water_l >= 0, "row %lld: water %lld l",
				(long long)row->start_s, (long long)row->water_l);
			/* Every value fits its column (sql/schema.sql): In_* DECIMAL(12,3)
			 * kWh, Soutire/Injecte/Gas_m3/Water_m3 DECIMAL(10,3), Pics.kW
			 * DECIMAL(8,3) = 4 x Soutire. MariaDB refuses a row that does
			 * not, and the writer sets it aside (db_writer.c): the quarter
			 * is missing from Conso. */
			int64_t index_max = INDEX_COLUMN_MAX;
			FUZZ_CHECK(row->import_day_wh >= 0 && row->import_night_wh >= 0 && row->export_day_wh >= 0
				&& row->export_night_wh >= 0 && row->import_day_wh <= index_max
				&& row->import_night_wh <= index_max && row->export_day_wh <= index_max
				&& row->export_night_wh <= index_max,
				"row %lld: indexes %lld %lld %lld %lld Wh outside DECIMAL(12,3) kWh", (long long)row->start_s,
				(long long)row->import_day_wh, (long long)row->import_night_wh, (long long)row->export_day_wh,
				(long long)row->export_night_wh);
			FUZZ_CHECK(row->estimated || row->import_wh * 4 <= KW_COLUMN_MAX, "row %lld: peak %lld W outside DECIMAL(8,3)",
				(long long)row->start_s, (long long)(row->import_wh * 4));
			FUZZ_CHECK(row->estimated == expect_est, "row %lld: estimated %d, expected %d (interval %lld ms, %s)",
				(long long)row->start_s, row->estimated, expect_est, (long long)dt_ms, quarter_feed_result_name(res));

			FUZZ_CHECK(books_jump || (row->import_wh <= max_energy && row->export_wh <= max_energy),
				"row %lld: import %lld Wh, export %lld Wh, more than %g Wh the limits allow",
				(long long)row->start_s, (long long)row->import_wh, (long long)row->export_wh, max_energy);
			FUZZ_CHECK(books_jump || !row->has_gas || row->gas_l <= max_flow,
				"row %lld: gas %lld l, more than %g l the limit allows", (long long)row->start_s,
				(long long)row->gas_l, max_flow);
			FUZZ_CHECK(books_jump || !row->has_water || row->water_l <= max_flow,
				"row %lld: water %lld l, more than %g l the limit allows", (long long)row->start_s,
				(long long)row->water_l, max_flow);

			if (s.any_row) {
				FUZZ_CHECK(cr.start_import[i] == s.first_import + s.sum_import,
					"row %lld starts at import total %lld, previous rows end at %lld", (long long)row->start_s,
					(long long)cr.start_import[i], (long long)(s.first_import + s.sum_import));
				if (!disc_inside) {
					int64_t di = row->import_day_wh + row->import_night_wh - s.last.import_day_wh - s.last.import_night_wh;
					int64_t de = row->export_day_wh + row->export_night_wh - s.last.export_day_wh - s.last.export_night_wh;
					int64_t slack = 0;
#ifdef FUZZ_KNOWN_BUG_INDEX_ROUNDING
					slack = s.any_disc ? 2 : 0;
#endif
					FUZZ_CHECK(llabs(row->import_wh - di) <= slack && llabs(row->export_wh - de) <= slack,
						"row %lld: import %lld Wh but In_D+In_N changed %lld; export %lld Wh but OUT changed %lld",
						(long long)row->start_s, (long long)row->import_wh, (long long)di,
						(long long)row->export_wh, (long long)de);
				}
			} else {
				s.any_row = true;
				s.first_import = cr.start_import[i];
				s.first_export = cr.start_export[i];
			}
			s.sum_import += row->import_wh;
			s.sum_export += row->export_wh;
			s.last = *row;
			s.jump_open = false;
			s.stepped_back = false;
			have_prev_row = true;
			prev_row_start = row->start_s;
		}
		s.any_disc = s.any_disc || disc;
		if (crossed) {
			s.disc_since_crossing = disc;
			s.est_since_crossing = est;
			s.intervals_since_crossing = 1;
		} else {
			s.disc_since_crossing = s.disc_since_crossing || disc;
			s.est_since_crossing = s.est_since_crossing || est;
			s.intervals_since_crossing++;
		}

round_trip:;
		/* A clean restart may come between any two readings: the series
		 * goes on from the state's record, which must hold all of it. */
		unsigned char saved[QUARTER_STATE_BYTES], again[QUARTER_STATE_BYTES];
		struct meter_quarters restored;
		FUZZ_CHECK(quarter_state_encode(&mq, saved, sizeof(saved)) == sizeof(saved), "state record not written");
		enum quarter_state_status st = quarter_state_decode(&restored, saved, sizeof(saved));
		FUZZ_CHECK(st == QUARTER_STATE_OK, "state record not read back: %s", quarter_state_status_name(st));
		FUZZ_CHECK(quarter_state_encode(&restored, again, sizeof(again)) == sizeof(again)
			&& memcmp(saved, again, sizeof(saved)) == 0, "state record does not round-trip");
		mq = restored;
	}
	end_series(&s, &mq);
	return 0;
}
