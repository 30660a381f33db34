/*
 * The keys of the live JSON message, <stats_prefix>/<serial>/live, in the
 * order it writes them (README, "Capacity tariff"). One list for everything
 * that names them: the formatter writes them, the Home Assistant discovery
 * configs read them in their value templates (plugin/ha_discovery.c), and
 * tests/unit/check_ha_discovery.py reads this file to check both against
 * the same names.
 *
 * X-macro: LIVE_KEYS(X) expands X(name) once per key; enum live_key gives
 * each its index, so code that names a key that is not here does not
 * compile. No storage; any thread.
 */
#ifndef LOWI_LIVE_KEYS_H
#define LOWI_LIVE_KEYS_H

#define LIVE_KEYS(X) \
	X(time) \
	X(import_kw) \
	X(export_kw) \
	X(quarter_start) \
	X(quarter_import_kwh) \
	X(quarter_average_kw) \
	X(quarter_projected_kw) \
	X(quarter_estimated) \
	X(month) \
	X(month_peak_kw) \
	X(month_peak_start) \
	X(billed_kw) \
	X(billed_months) \
	X(target_kw) \
	X(allowed_kw) \
	X(headroom_kw) \
	X(peak_projected) \
	X(price_start) \
	X(market_eur_mwh) \
	X(buy_c_kwh) \
	X(sell_c_kwh) \
	X(import_day_kwh) \
	X(import_night_kwh) \
	X(export_day_kwh) \
	X(export_night_kwh) \
	X(gas_m3) \
	X(water_m3) \
	X(history)

#define LIVE_KEY_ENUM_(name) LIVE_KEY_##name,
enum live_key { LIVE_KEYS(LIVE_KEY_ENUM_) LIVE_KEY_COUNT };
#undef LIVE_KEY_ENUM_

#endif
