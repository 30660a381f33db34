/*
 * The words of the live capacity-tariff messages: a meter's state after
 * each accepted reading (`<prefix>/<serial>/live`, retained) and its peak
 * events (`<prefix>/<serial>/peak`), as JSON. README, "Capacity tariff",
 * says what every key means; the keys of the state are those of
 * LIVE_KEYS (live_keys.h), in that order, which Home Assistant's discovery
 * reads too.
 *
 * Pure: formats into buffers the caller owns; any thread (the aggregator
 * thread in the plugin).
 */
#ifndef LOWI_LIVE_H
#define LOWI_LIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capacity.h"
#include "quarter.h"

/* The market period holding the reading, when the price board has it. */
struct live_price {
	bool known;
	int64_t start_s;        /* UTC */
	double market_eur_mwh;  /* EPEX day-ahead */
	bool has_buy, has_sell; /* false while no contract formula applies */
	double buy_c_kwh, sell_c_kwh;
};

struct live_state {
	const struct meter_quarters *quarters; /* the meter after the reading */
	const struct capacity_live *capacity;  /* capacity_live_compute's figures for it */
	struct live_price price;
	bool history_from_database;            /* the month peaks include Pics */
};

/* "<prefix>/<serial>/<leaf>" into buf; false when it does not fit. */
bool live_topic(char *buf, size_t size, const char *prefix, const char *serial, const char *leaf);

/* The state message; returns its length, or 0 when size is too small. */
size_t live_format_state(char *buf, size_t size, const struct live_state *s);

/* An event message: a capacity_event of the running quarter, or a quarter
 * that closed as a new month peak (new_peak true: quarter_start_s and
 * peak_kw are that quarter's). Returns its length, or 0 when size is too
 * small. */
size_t live_format_event(char *buf, size_t size, int64_t reading_ms, const struct capacity_live *c,
	enum capacity_event e, bool new_peak, int64_t quarter_start_s, double peak_kw);

#endif
