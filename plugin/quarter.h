/*
 * Quarter-hour aggregation of one meter's readings: where a stream of LOWI
 * readings becomes exact 15-minute rows.
 *
 * A row with start T covers [T, T+15 min) UTC. Its indexes are the meter
 * counters at the boundary T+15 min, estimated from the readings on both
 * sides of that boundary (never "the first reading after it"):
 *  - import and export use a step model fitted to the instantaneous power
 *    (PI/PE) reported at both ends: one power level until some instant s,
 *    another after, with s chosen so the energy matches the counters. One
 *    appliance switching inside the interval is then reconstructed exactly.
 *    When no such s exists, or power is unknown, the interval's energy is
 *    spread linearly in time;
 *  - when the tariff rate flips inside the interval (always on a quarter
 *    boundary in Belgium) the counter of the old rate is filled first;
 *  - a boundary whose bracketing readings are further apart than
 *    `measured_gap_ms` is "estimated": the gap's energy is spread evenly over
 *    its quarters, which are all still written, flagged estimated;
 *  - a silence longer than `max_fill_ms` is one jump, not a row per quarter:
 *    its quarters get no row, and the quarter the next reading falls in
 *    books all the energy since the last row (flagged estimated), so one
 *    message makes at most max_fill_ms / 15 min + 1 rows;
 *  - a counter that goes backwards by more than a stale reading could
 *    explain, or jumps more than `max_power_w` allows, is a discontinuity
 *    (meter swap, dongle reset): no energy is booked across it and the row
 *    of every quarter it touches is flagged estimated;
 *  - a quarter that books more import or export than `max_quarter_power_w`
 *    over its 15 minutes is implausible (a forged or replayed burst: the
 *    per-reading bound above lets each message of a burst carry five
 *    minutes' worth): it keeps the energy its counters show, so the rows
 *    still add up, but is flagged estimated and `implausible`, so it never
 *    sets a peak. A row that books a jump covers more than its quarter and
 *    is estimated already: it is not judged;
 *  - an exact repeat of the last counters within `duplicate_window_ms`, and a
 *    reading older than the last one, change no row and no series (a refused
 *    one only joins the refusal streak below); except that the same
 *    counters on the far side of a quarter boundary are a fresh reading of a
 *    meter drawing little, and complete the quarter at once, when the last
 *    reading's power over the time since is under 1 Wh (so that a repeat of
 *    the last message moves less than 1 Wh across the boundary);
 *  - readings refused (older time, or counters slightly behind) without a
 *    break form a refusal streak, kept in the state: when the streak has
 *    lasted `rebase_after_ms` and its readings show a live meter (receive
 *    times before the last reading but counters not behind it: the clock
 *    stepped back; or counters behind but advancing over the streak: the
 *    state is ahead of the meter), the meter is re-based: the reading is
 *    taken as a jump (energy booked only when the counters are not behind),
 *    flagged estimated. A streak still refused after `refused_warn_ms`, and
 *    every `refused_repeat_ms` after, returns QUARTER_REFUSED_LONG, for a
 *    warning.
 * Energies are whole Wh; a row's energy is the difference of the rounded
 * boundary totals, so consecutive rows always add up to the index change.
 *
 * Pure: no I/O, no allocation, no globals. A meter_quarters belongs to one
 * thread at a time (the aggregator thread in the plugin).
 */
#ifndef LOWI_QUARTER_H
#define LOWI_QUARTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "payload.h"

#define QUARTER_S 900

struct quarter_params {
	int64_t measured_gap_ms;     /* wider reading gaps make boundaries estimated */
	int64_t duplicate_window_ms; /* identical counters this close are a repeat */
	int64_t max_fill_ms;         /* longer silences are one jump, not a row per quarter */
	double max_power_w;          /* per-reading plausibility bound for import and export */
	double max_quarter_power_w;  /* a quarter's average import or export above it is implausible */
	double max_flow_l_per_h;     /* plausibility bound for gas and water */
	double max_stale_wh;         /* a counter this much lower is a late reading */
	int64_t rebase_after_ms;     /* a refusal streak of a live meter this long re-bases it */
	int64_t refused_warn_ms;     /* a refusal streak this long is due a warning */
	int64_t refused_repeat_ms;   /* and again after every such time */
};

/* Defaults suited to a LOWI publishing every 10 s to 60 s. */
extern const struct quarter_params quarter_default_params;

struct quarter_row {
	int64_t start_s;          /* DtTm: start of the quarter, UTC epoch seconds */
	int64_t import_day_wh;    /* In_D: index at start_s + 900 */
	int64_t import_night_wh;  /* In_N */
	int64_t export_day_wh;    /* OUT_D */
	int64_t export_night_wh;  /* OUT_N */
	int64_t import_wh;        /* Soutire: energy imported in the quarter */
	int64_t export_wh;        /* Injecte */
	int64_t gas_l;            /* gas used in the quarter, valid when has_gas */
	int64_t water_l;          /* water used in the quarter, valid when has_water */
	int64_t gas_index_l;      /* gas and water indexes at start_s + 900: with the */
	int64_t water_index_l;    /* four above, enough to resume after a restart */
	bool has_gas, has_water;
	bool estimated;
	bool implausible;         /* estimated because of max_quarter_power_w (not stored: counted) */
};

enum quarter_counter { QC_IMPORT_DAY, QC_IMPORT_NIGHT, QC_EXPORT_DAY, QC_EXPORT_NIGHT, QC_GAS, QC_WATER, QC_COUNT };

/* Per-meter state. Zero-initialised (or quarters_reset) means "no reading yet".
 * Kept across a clean restart as a record (quarter_state_encode below): a
 * field added here needs a new record version, or it silently starts from
 * zero after every restart; tests/unit/test_quarter_state.c fails until the
 * record carries it. */
struct meter_quarters {
	int64_t last_ms;                /* receive time of the last accepted reading; 0 = none */
	double last_index[QC_COUNT];    /* counters as published */
	double last_total[QC_COUNT];    /* continuous totals: indexes minus discontinuities */
	float last_import_w, last_export_w;
	int8_t last_rate;               /* T of the last reading, -1 unknown */
	bool last_has_power, has_gas, has_water;
	bool boundary_valid;            /* boundary_* below hold the last crossed boundary */
	bool open_estimated;            /* an estimated interval touches the quarter in progress */
	bool open_jump;                 /* the quarter in progress books a jump: its energy starts
	                                   at an earlier boundary, or at an unknown time */
	int64_t boundary_s;
	int64_t boundary_total[QC_COUNT]; /* rounded totals at boundary_s (at the jump's start
	                                     when open_jump) */
	/* The refusal streak: readings refused since the last accepted one. */
	int64_t refused_since_ms;       /* receive time of its first reading; 0 = no streak */
	int64_t refused_last_ms;        /* receive time of its latest reading */
	double refused_first_wh;        /* sum of the four electricity counters of its first reading */
	uint32_t refused_n;             /* readings refused in it */
	uint8_t refused_why;            /* QUARTER_REFUSED_* bits of its readings */
	uint8_t refused_warnings;       /* QUARTER_REFUSED_LONG results given in it */
};

/* Why the readings of a refusal streak were refused. */
enum {
	QUARTER_REFUSED_TIME = 1,     /* received before the last accepted reading */
	QUARTER_REFUSED_COUNTERS = 2, /* a counter lower than the last accepted reading's */
};

enum quarter_feed_result {
	QUARTER_FIRST,          /* first reading: no boundary to estimate yet */
	QUARTER_ACCEPTED,
	QUARTER_DUPLICATE,      /* ignored: same counters again */
	QUARTER_OUT_OF_ORDER,   /* ignored: older time, or every counter slightly lower (a late publish) */
	QUARTER_DISCONTINUITY,  /* accepted; counters reset or jumped */
	QUARTER_LONG_SILENCE,   /* accepted after a silence longer than max_fill_ms: one jump */
	QUARTER_REFUSED_LONG,   /* ignored like QUARTER_OUT_OF_ORDER, and every reading has been refused
	                           for refused_warn_ms (then each refused_repeat_ms more): warn */
	QUARTER_REBASED,        /* accepted as a jump, ending a refusal streak of a live meter */
};

typedef void (*quarter_emit_fn)(void *ctx, const struct quarter_row *row);

void quarters_reset(struct meter_quarters *mq);

/* Feeds one reading received at t_ms (UTC epoch milliseconds). Calls emit
 * once for each quarter completed by it, in time order; the row is only
 * valid during the call. */
enum quarter_feed_result quarters_feed(struct meter_quarters *mq, const struct quarter_params *p,
	int64_t t_ms, const struct lowi_reading *r, quarter_emit_fn emit, void *ctx);

const char *quarter_feed_result_name(enum quarter_feed_result r);

/* Resumes a meter from the end of its last durable row (after a restart):
 * the row's end indexes act as an exact reading at its end boundary, so the
 * next reading books the whole interval since then, spread over its
 * quarters and flagged estimated when longer than measured_gap_ms. */
void quarters_resume(struct meter_quarters *mq, const struct quarter_row *last_row);

/*
 * The per-meter state as a record of bytes, so that the state survives a
 * clean restart while its layout stays this module's business: the spool
 * stores the record without looking inside. A fixed, explicit layout, not
 * the struct's memory, so that a record means the same on any host and
 * after any change to the struct; the leading version byte lets a later
 * layout still read this one. Version 2; integers little-endian, double
 * and float as their IEEE 754 binary64 and binary32 bit patterns in the
 * same byte order, arrays in enum quarter_counter order:
 *   offset 0    u8   record version: 2
 *          1    i64  last_ms
 *          9    f64  last_index[6]
 *          57   f64  last_total[6]
 *          105  f32  last_import_w
 *          109  f32  last_export_w
 *          113  i8   last_rate
 *          114  u8   flags: 1 last_has_power, 2 has_gas, 4 has_water,
 *                    8 boundary_valid, 16 open_estimated, 32 open_jump;
 *                    others zero
 *          115  i64  boundary_s
 *          123  i64  boundary_total[6]
 *          171  i64  refused_since_ms
 *          179  i64  refused_last_ms
 *          187  f64  refused_first_wh
 *          195  u32  refused_n
 *          199  u8   refused_why: QUARTER_REFUSED_* bits, others zero
 *          200  u8   refused_warnings
 *          201       end
 * Version 1, written by the builds before the refusal streak, is the first
 * 171 bytes of this with the version byte 1 and flag 32 unused: still
 * read, as a state with open_jump false and no refusal streak (all those
 * builds knew).
 * Any thread, on a state and buffers the caller owns.
 */
#define QUARTER_STATE_VERSION 2
#define QUARTER_STATE_BYTES 201    /* a version 2 record: what the encoder writes */
#define QUARTER_STATE_V1_BYTES 171 /* a version 1 record */

enum quarter_state_status {
	QUARTER_STATE_OK,
	QUARTER_STATE_SHORT,           /* fewer bytes than its version's layout (or none) */
	QUARTER_STATE_LONG,            /* more bytes than its version's layout */
	QUARTER_STATE_UNKNOWN_VERSION, /* written by a newer build, or not a record */
	QUARTER_STATE_INVALID,         /* a value no encoder writes */
};

/* Writes mq's record (the current version) into buf; returns its length
 * (QUARTER_STATE_BYTES), or 0 when cap is smaller. */
size_t quarter_state_encode(const struct meter_quarters *mq, unsigned char *buf, size_t cap);

/* Reads a record of len bytes, of any version above, into *mq, every byte
 * of which it sets (padding zeroed). On any status but QUARTER_STATE_OK,
 * *mq is untouched. */
enum quarter_state_status quarter_state_decode(struct meter_quarters *mq, const unsigned char *rec, size_t len);

/* Reads the text lowi-p1 0.1.0 wrote for a meter in meters.live, after
 * the serial: "last_ms boundary_s last_rate flags", then for each counter
 * "last_index last_total boundary_total", then "last_import_w
 * last_export_w", with the doubles in %a. Read once, by the first start
 * after an upgrade from that release, so that no meter loses its running
 * quarter; QUARTER_STATE_INVALID when text is not that layout. */
enum quarter_state_status quarter_state_decode_text0(struct meter_quarters *mq, const char *text);

const char *quarter_state_status_name(enum quarter_state_status s);

#endif
