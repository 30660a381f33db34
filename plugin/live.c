/* Live capacity-tariff messages; see live.h. */
#include "live.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

bool live_topic(char *buf, size_t size, const char *prefix, const char *serial, const char *leaf)
{
	int n = snprintf(buf, size, "%s/%s/%s", prefix, serial, leaf);
	return n > 0 && (size_t)n < size;
}

/* A JSON writer into a fixed buffer: once it overflows, it stays so. */
struct out {
	char *buf;
	size_t size, len;
	bool full;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
	if (o->full)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(o->buf + o->len, o->size - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->size - o->len) {
		o->full = true;
		return;
	}
	o->len += (size_t)n;
}

/* `"key":`, after a comma unless it is the object's first. */
static void put_key(struct out *o, const char *key)
{
	put(o, "%s\"%s\":", o->len > 0 && o->buf[o->len - 1] == '{' ? "" : ",", key);
}

static void put_time(struct out *o, const char *key, int64_t utc_s)
{
	time_t t = (time_t)utc_s;
	struct tm tm;
	char text[32];
	if (gmtime_r(&t, &tm) == NULL || strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
		put_key(o, key);
		put(o, "null");
		return;
	}
	put_key(o, key);
	put(o, "\"%s\"", text);
}

/* A number with a fixed number of decimals; null when unknown or not
 * finite (JSON has no NaN). */
static void put_num(struct out *o, const char *key, bool known, double v, int decimals)
{
	put_key(o, key);
	if (!known || !isfinite(v)) {
		put(o, "null");
		return;
	}
	if (v == 0)
		v = 0; /* no "-0.000" */
	put(o, "%.*f", decimals, v);
}

static void put_bool(struct out *o, const char *key, bool v)
{
	put_key(o, key);
	put(o, "%s", v ? "true" : "false");
}

static size_t finish(struct out *o)
{
	put(o, "}");
	return o->full ? 0 : o->len;
}

size_t live_format_state(char *buf, size_t size, const struct live_state *s)
{
	const struct meter_quarters *q = s->quarters;
	const struct capacity_live *c = s->capacity;
	struct out o = { buf, size, 0, size == 0 };
	int year, month;
	capacity_month_civil(c->month, &year, &month);
	put(&o, "{");
	put_time(&o, "time", q->last_ms / 1000);
	put_num(&o, "import_kw", q->last_has_power, q->last_import_w / 1000.0, 3);
	put_num(&o, "export_kw", q->last_has_power, q->last_export_w / 1000.0, 3);
	put_time(&o, "quarter_start", c->quarter_start_s);
	put_num(&o, "quarter_import_kwh", true, c->import_kwh, 3);
	put_num(&o, "quarter_average_kw", true, c->average_kw, 3);
	put_num(&o, "quarter_projected_kw", true, c->projected_kw, 3);
	put_bool(&o, "quarter_estimated", c->estimated);
	put_key(&o, "month");
	put(&o, "\"%04d-%02d\"", year, month);
	put_num(&o, "month_peak_kw", c->has_month_peak, c->month_peak_kw, 3);
	if (c->has_month_peak)
		put_time(&o, "month_peak_start", c->month_peak_start_s);
	else
		put_num(&o, "month_peak_start", false, 0, 0);
	put_num(&o, "billed_kw", true, c->billed.mean_kw, 3);
	put_num(&o, "billed_months", true, c->billed.months, 0);
	put_num(&o, "target_kw", true, c->target_kw, 3);
	put_num(&o, "allowed_kw", true, c->allowed_kw, 3);
	put_num(&o, "headroom_kw", true, c->headroom_kw, 3);
	put_bool(&o, "peak_projected", c->peak_projected);
	if (s->price.known)
		put_time(&o, "price_start", s->price.start_s);
	else
		put_num(&o, "price_start", false, 0, 0);
	put_num(&o, "market_eur_mwh", s->price.known, s->price.market_eur_mwh, 3);
	put_num(&o, "buy_c_kwh", s->price.known && s->price.has_buy, s->price.buy_c_kwh, 5);
	put_num(&o, "sell_c_kwh", s->price.known && s->price.has_sell, s->price.sell_c_kwh, 5);
	put_num(&o, "import_day_kwh", true, q->last_index[QC_IMPORT_DAY] / 1000.0, 3);
	put_num(&o, "import_night_kwh", true, q->last_index[QC_IMPORT_NIGHT] / 1000.0, 3);
	put_num(&o, "export_day_kwh", true, q->last_index[QC_EXPORT_DAY] / 1000.0, 3);
	put_num(&o, "export_night_kwh", true, q->last_index[QC_EXPORT_NIGHT] / 1000.0, 3);
	put_num(&o, "gas_m3", q->has_gas, q->last_index[QC_GAS] / 1000.0, 3);
	put_num(&o, "water_m3", q->has_water, q->last_index[QC_WATER] / 1000.0, 3);
	put_key(&o, "history");
	put(&o, "\"%s\"", s->history_from_database ? "database" : "plugin");
	return finish(&o);
}

size_t live_format_event(char *buf, size_t size, int64_t reading_ms, const struct capacity_live *c,
	enum capacity_event e, bool new_peak, int64_t quarter_start_s, double peak_kw)
{
	struct out o = { buf, size, 0, size == 0 };
	put(&o, "{");
	put_key(&o, "event");
	put(&o, "\"%s\"", new_peak ? "new_peak" : capacity_event_name(e));
	put_time(&o, "time", reading_ms / 1000);
	put_time(&o, "quarter_start", new_peak ? quarter_start_s : c->quarter_start_s);
	put_num(&o, "projected_kw", !new_peak, c->projected_kw, 3);
	put_num(&o, "target_kw", true, c->target_kw, 3);
	put_num(&o, "peak_kw", new_peak || c->has_month_peak, new_peak ? peak_kw : c->month_peak_kw, 3);
	return finish(&o);
}
