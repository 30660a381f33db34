/*
 * The live capacity-tariff path of the aggregator, on the calling thread:
 * LOWI messages in (aggregator_handle), MQTT messages out (the outbox the
 * broker thread publishes). The live state's keys against LIVE_KEYS, its
 * figures against the readings given, one warning per quarter however
 * many readings repeat it, a new month peak told once, Home Assistant
 * discovery once per meter, stored peaks (Pics) taken into the target and
 * the billed mean, forgotten meters removed, and a full outbox counted
 * without losing a meter's discovery.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "aggregator.h"
#include "brussels.h"
#include "check.h"
#include "config.h"
#include "ha_discovery.h"
#include "live.h"
#include "live_keys.h"
#include "outbox.h"
#include "peak_history.h"

#define KEY_NAME(name) #name,
static const char *const live_keys[] = { LIVE_KEYS(KEY_NAME) };

struct world {
	struct lowi_config cfg;
	struct intake intake;
	struct row_queue rows;
	struct log_queue log;
	struct reject_log rejects;
	struct lowi_stats stats;
	struct outbox outbox;
	struct peak_history history;
	struct price_board *prices;
	struct aggregator agg;
};

static void world_init(struct world *w, size_t outbox_bytes)
{
	memset(w, 0, sizeof(*w));
	config_defaults(&w->cfg);
	char err[512];
	CHECK(config_set(&w->cfg, "db_user", "u", err, sizeof(err)) == 0 && config_set(&w->cfg, "db_password", "p", err,
		sizeof(err)) == 0 && config_set(&w->cfg, "meter_silence_days", "1", err, sizeof(err)) == 0
		&& config_set(&w->cfg, "spool_dir", "/nonexistent", err, sizeof(err)) == 0
		&& config_finish(&w->cfg, err, sizeof(err)) == 0, "options: %s", err);
	CHECK(intake_init(&w->intake, 1 << 20) == 0 && row_queue_init(&w->rows, 100000) == 0, "queues");
	log_queue_init(&w->log);
	reject_log_init(&w->rejects);
	CHECK(outbox_init(&w->outbox, outbox_bytes) == 0 && peak_history_init(&w->history) == 0
		&& (w->prices = price_board_new()) != NULL, "outbox, history and price board");
	aggregator_init(&w->agg, &w->cfg, &w->intake, &w->rows, &w->log, &w->rejects, &w->stats);
	aggregator_set_live(&w->agg, &w->outbox, &w->history, w->prices);
}

static void world_free(struct world *w)
{
	aggregator_free(&w->agg);
	outbox_destroy(&w->outbox);
	peak_history_destroy(&w->history);
	price_board_free(w->prices);
	row_queue_destroy(&w->rows);
	intake_destroy(&w->intake);
	log_queue_destroy(&w->log);
	config_free(&w->cfg);
}

/* One LOWI message of meter serial received at t_ms: import counter (day
 * rate) in Wh and import power in W. */
static void feed(struct world *w, const char *serial, int64_t t_ms, double import_wh, double import_w)
{
	union {
		int64_t align;
		unsigned char bytes[1024];
	} buf;
	char topic[64], payload[256];
	int tl = snprintf(topic, sizeof(topic), "%s/PUB/CH0", serial);
	int pl = snprintf(payload, sizeof(payload),
		"{\"CIH\":\"%.0f\",\"CIL\":\"0\",\"CEH\":\"0\",\"CEL\":\"0\",\"PI\":\"%.0f\",\"PE\":\"0\",\"T\":\"1\"}",
		import_wh, import_w);
	struct intake_msg m = { .received_ms = t_ms, .payload_len = (uint32_t)pl, .stored_len = (uint32_t)pl,
		.topic_len = (uint16_t)tl };
	memcpy(buf.bytes, &m, sizeof(m));
	memcpy(buf.bytes + sizeof(m), topic, (size_t)tl + 1);
	memcpy(buf.bytes + sizeof(m) + tl + 1, payload, (size_t)pl);
	aggregator_handle(&w->agg, (const struct intake_msg *)buf.bytes);
}

/* What the broker thread would publish, taken out of the outbox. */
struct said {
	char topic[256];
	char *payload;
	size_t len;
	bool retain;
};

struct said_list {
	struct said *v;
	size_t n, cap;
};

static void drain(struct world *w, struct said_list *l)
{
	struct outbox_msg m;
	while (outbox_next(&w->outbox, &m)) {
		if (l->n == l->cap) {
			l->cap = l->cap ? l->cap * 2 : 256;
			l->v = realloc(l->v, l->cap * sizeof(*l->v));
		}
		struct said *s = &l->v[l->n++];
		snprintf(s->topic, sizeof(s->topic), "%s", m.topic);
		s->payload = malloc(m.payload_len + 1);
		memcpy(s->payload, m.payload, m.payload_len);
		s->payload[m.payload_len] = '\0';
		s->len = m.payload_len;
		s->retain = m.retain;
	}
}

static void said_free(struct said_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].payload);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static size_t count_topic(const struct said_list *l, const char *prefix, const char *suffix, bool nonempty)
{
	size_t n = 0, pl = strlen(prefix), sl = strlen(suffix);
	for (size_t i = 0; i < l->n; i++) {
		size_t tl = strlen(l->v[i].topic);
		if (tl >= pl + sl && strncmp(l->v[i].topic, prefix, pl) == 0 && strcmp(l->v[i].topic + tl - sl, suffix) == 0
			&& (l->v[i].len > 0) == nonempty)
			n++;
	}
	return n;
}

/* The last message on a topic, parsed; NULL when none. */
static json_t *last_json(const struct said_list *l, const char *topic)
{
	for (size_t i = l->n; i-- > 0;)
		if (strcmp(l->v[i].topic, topic) == 0 && l->v[i].len > 0)
			return json_loads(l->v[i].payload, 0, NULL);
	return NULL;
}

static double num(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	return json_is_number(v) ? json_number_value(v) : NAN;
}

static const char *text(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	return json_is_string(v) ? json_string_value(v) : "";
}

static int64_t utc(int y, int mo, int d, int h, int mi, int s)
{
	return (civil_to_days(y, mo, d) * 86400 + h * 3600 + mi * 60 + s) * 1000;
}

#define PEAK_KW ((715 * 10.0 + 185 * 2.0) / 900)

/* A day's profile: 2 kW, except 10 kW from 08:33 to 08:45 UTC. */
static double power_w(int64_t t_ms)
{
	int64_t burst_from = utc(2026, 12, 2, 8, 33, 0), burst_to = utc(2026, 12, 2, 8, 45, 0);
	return t_ms >= burst_from && t_ms < burst_to ? 10000.0 : 2000.0;
}

/* Readings every 10 s from 07:59:55 to 09:00:05 UTC; energy integrated
 * exactly between them (the power steps on a reading). Returns the last
 * reading's import counter, in Wh as published. */
static double run_meter(struct world *w, const char *serial, struct said_list *out)
{
	int64_t t = utc(2026, 12, 2, 7, 59, 55), end = utc(2026, 12, 2, 9, 0, 5);
	double wh = 1000000.0, published = 0;
	for (; t <= end; t += 10000) {
		published = round(wh);
		feed(w, serial, t, published, power_w(t));
		drain(w, out);
		wh += power_w(t) * 10.0 / 3600.0;
	}
	return published;
}

/* Events on a meter's peak topic, by name. */
static size_t events(const struct said_list *l, const char *serial, const char *name)
{
	char topic[128], want[64];
	snprintf(topic, sizeof(topic), "lowi-p1/%s/peak", serial);
	snprintf(want, sizeof(want), "\"event\":\"%s\"", name);
	size_t n = 0;
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].topic, topic) == 0 && strstr(l->v[i].payload, want) != NULL) {
			CHECK(!l->v[i].retain, "events are not retained");
			n++;
		}
	return n;
}

static void test_keys_and_figures(void)
{
	struct world w;
	world_init(&w, 16 << 20);
	/* Meter bbb has a stored December peak of 12 kW and 3 kW in each of
	 * the 11 months before; aaa has no history. */
	struct peak_batch *b = peak_history_new_batch();
	for (int k = 0; k < 12; k++) {
		struct peak_record *r = &b->records[b->count++];
		snprintf(r->serial, sizeof(r->serial), "bbb");
		r->month = 2026 * 12 + 11 - k;
		r->peak_kw = k == 0 ? 12.0f : 3.0f;
		r->peak_start_s = utc(2026, 12 - k, 1, 12, 0, 0) / 1000;
	}
	peak_history_hand_over(&w.history, b);
	peak_history_set_complete(&w.history);
	aggregator_merge_history(&w.agg);

	/* Quarter-hour prices from 08:00 to 09:15, the one of 09:00 without a
	 * Sell formula. */
	struct price_board_period periods[6];
	for (int k = 0; k < 6; k++)
		periods[k] = (struct price_board_period){ .start_s = utc(2026, 12, 2, 8, 15 * k, 0) / 1000, .minutes = 15,
			.market_eur_mwh = 100 + k, .buy_c_kwh = 20 + k / 10.0, .sell_c_kwh = 5, .buy_known = true,
			.sell_known = k != 4 };
	CHECK(price_board_replace(w.prices, periods, 6) == 0, "prices on the board");

	struct said_list out = { 0 };
	double last_wh = run_meter(&w, "aaa", &out);
	run_meter(&w, "bbb", &out);

	/* The state: LIVE_KEYS, in order, and the last reading's figures. */
	json_t *s = last_json(&out, "lowi-p1/aaa/live");
	CHECK(s != NULL, "aaa's live state was said");
	if (s != NULL) {
		size_t i = 0;
		const char *key;
		json_t *v;
		bool in_order = json_object_size(s) == LIVE_KEY_COUNT;
		json_object_foreach(s, key, v) {
			(void)v;
			if (i >= LIVE_KEY_COUNT || strcmp(key, live_keys[i]) != 0)
				in_order = false;
			i++;
		}
		CHECK(in_order, "the state's %zu keys are LIVE_KEYS' %d, in order", json_object_size(s), LIVE_KEY_COUNT);
		CHECK(strcmp(text(s, "time"), "2026-12-02T09:00:05Z") == 0, "time %s", text(s, "time"));
		CHECK(strcmp(text(s, "quarter_start"), "2026-12-02T09:00:00Z") == 0, "quarter %s", text(s, "quarter_start"));
		CHECK(fabs(num(s, "import_kw") - 2.0) < 1e-9, "import power %.3f", num(s, "import_kw"));
		CHECK(fabs(num(s, "import_day_kwh") - last_wh / 1000.0) < 1e-9, "import index %.3f kWh, published %.0f Wh",
			num(s, "import_day_kwh"), last_wh);
		CHECK(json_is_null(json_object_get(s, "gas_m3")) && json_is_null(json_object_get(s, "water_m3")),
			"no gas, no water: null");
		CHECK(strcmp(text(s, "price_start"), "2026-12-02T09:00:00Z") == 0 && num(s, "market_eur_mwh") == 104
			&& num(s, "buy_c_kwh") == 20.4 && json_is_null(json_object_get(s, "sell_c_kwh")),
			"the 09:00 period's prices, no Sell: %s %.3f %.5f", text(s, "price_start"), num(s, "market_eur_mwh"),
			num(s, "buy_c_kwh"));
		/* The burst is booked from the reading at 08:33:05 to the boundary:
		 * 715 s at 10 kW and 185 s at 2 kW, 8.356 kW, the month's peak. */
		CHECK(fabs(num(s, "month_peak_kw") - PEAK_KW) < 0.001, "month peak %.3f kW", num(s, "month_peak_kw"));
		CHECK(strcmp(text(s, "month_peak_start"), "2026-12-02T08:30:00Z") == 0, "at %s", text(s, "month_peak_start"));
		CHECK(fabs(num(s, "target_kw") - PEAK_KW) < 0.001, "target: the month's peak, %.3f kW", num(s, "target_kw"));
		CHECK(fabs(num(s, "billed_kw") - PEAK_KW) < 0.001 && num(s, "billed_months") == 1, "billed %.3f kW over %.0f months",
			num(s, "billed_kw"), num(s, "billed_months"));
		CHECK(fabs(num(s, "quarter_projected_kw") - 2.0) < 0.01, "projected %.3f kW", num(s, "quarter_projected_kw"));
		CHECK(strcmp(text(s, "history"), "database") == 0, "history %s", text(s, "history"));
		json_decref(s);
	}
	s = last_json(&out, "lowi-p1/bbb/live");
	if (s != NULL) {
		CHECK(fabs(num(s, "month_peak_kw") - 12.0) < 1e-6, "bbb: the stored peak %.3f kW holds", num(s, "month_peak_kw"));
		CHECK(fabs(num(s, "billed_kw") - (12.0 + 11 * 3.0) / 12) < 1e-6 && num(s, "billed_months") == 12,
			"bbb: billed (12 + 11 x 3) / 12 = %.3f kW over %.0f months", num(s, "billed_kw"), num(s, "billed_months"));
		json_decref(s);
	}
	CHECK(s != NULL, "bbb's live state was said");

	/* Every accepted reading said the state: 362 readings, the first
	 * one included. */
	CHECK(count_topic(&out, "lowi-p1/aaa", "/live", true) == 362, "aaa: %zu states",
		count_topic(&out, "lowi-p1/aaa", "/live", true));
	/* 72 readings of the burst quarter project a new peak: one warning. */
	CHECK(events(&out, "aaa", "projected") == 1, "aaa: one warning, %zu", events(&out, "aaa", "projected"));
	CHECK(events(&out, "aaa", "cleared") == 0, "aaa: never cleared");
	CHECK(events(&out, "aaa", "new_peak") == 1, "aaa: one new peak told (the 2 kW ones are under the floor), %zu",
		events(&out, "aaa", "new_peak"));
	json_t *np = NULL;
	for (size_t i = 0; i < out.n && np == NULL; i++)
		if (strcmp(out.v[i].topic, "lowi-p1/aaa/peak") == 0 && strstr(out.v[i].payload, "new_peak"))
			np = json_loads(out.v[i].payload, 0, NULL);
	CHECK(np != NULL && fabs(num(np, "peak_kw") - PEAK_KW) < 0.001 && strcmp(text(np, "quarter_start"), "2026-12-02T08:30:00Z") == 0,
		"the new peak event names the 08:30 quarter at 8.356 kW");
	json_decref(np);
	CHECK(events(&out, "bbb", "projected") + events(&out, "bbb", "new_peak") == 0,
		"bbb: 8.356 kW is under its stored 12 kW: no event");
	CHECK(atomic_load(&w.stats.peak_events) == 2, "peak_events %" PRIu64, atomic_load(&w.stats.peak_events));

	/* Home Assistant: each meter announced once, retained. */
	struct ha_discovery_meter hm = { .discovery_prefix = w.cfg.ha_prefix, .stats_prefix = w.cfg.stats_prefix,
		.serial = "aaa", .expire_after_s = 300 };
	size_t want = ha_discovery_config_count(&hm);
	CHECK(want > 0 && count_topic(&out, "homeassistant/", "/config", true) == 2 * want,
		"%zu configs for two meters of %zu entities", count_topic(&out, "homeassistant/", "/config", true), want);
	CHECK(atomic_load(&w.stats.live_dropped) == 0, "nothing dropped");

	/* Two days later a third meter publishes: the sweep forgets the two
	 * silent ones, and their entities and states go. */
	struct said_list gone = { 0 };
	feed(&w, "ccc", utc(2026, 12, 4, 9, 0, 0), 5000, 100);
	drain(&w, &gone);
	CHECK(count_topic(&gone, "homeassistant/", "/config", false) == 2 * HA_DISCOVERY_ENTITY_COUNT,
		"removals: %zu", count_topic(&gone, "homeassistant/", "/config", false));
	CHECK(count_topic(&gone, "lowi-p1/aaa/live", "", false) == 1 && count_topic(&gone, "lowi-p1/bbb/live", "", false) == 1,
		"the forgotten meters' retained states are cleared");
	for (size_t i = 0; i < gone.n; i++)
		if (gone.v[i].len == 0)
			CHECK(gone.v[i].retain, "a removal is retained (empty): %s", gone.v[i].topic);
	said_free(&gone);
	said_free(&out);
	world_free(&w);
}

/* A broker that does not take the messages: the outbox fills, what does
 * not fit is counted, and a meter whose discovery did not all go out is
 * announced again once there is room. */
static void test_full_outbox(void)
{
	struct world w;
	world_init(&w, 1);  /* one chunk */
	struct said_list out = { 0 };
	int64_t t = utc(2026, 12, 2, 10, 0, 0);
	double wh = 500000;
	for (int i = 0; i < 400; i++, t += 10000, wh += 2000.0 * 10 / 3600)
		feed(&w, "ddd", t, wh, 2000);
	uint64_t dropped = atomic_load(&w.stats.live_dropped);
	CHECK(dropped > 0 && dropped < 400, "a full outbox drops and counts: %" PRIu64, dropped);
	CHECK(atomic_load(&w.stats.live_messages) >= 400, "every message is counted as made: %" PRIu64,
		atomic_load(&w.stats.live_messages));
	drain(&w, &out);
	said_free(&out);
	t = utc(2026, 12, 2, 11, 14, 55);  /* eee crosses 11:15 at its second reading */
	feed(&w, "eee", t, 1000, 100);
	drain(&w, &out);
	/* No stored peak was ever handed over (the database is away): the
	 * state says its month peaks are the plugin's own. */
	json_t *st = last_json(&out, "lowi-p1/eee/live");
	CHECK(st != NULL && strcmp(text(st, "history"), "plugin") == 0, "history without the database: %s",
		st ? text(st, "history") : "no state");
	json_decref(st);
	said_free(&out);
	/* ddd fills the outbox again; eee then crosses the boundary: its
	 * discovery does not all fit, and it is announced again, whole, at its
	 * next reading once the broker took the messages. */
	for (int k = 0; k < 2000 && atomic_load(&w.stats.live_dropped) == dropped; k++)
		feed(&w, "ddd", t + 1000 + k, wh += 1, 2000);
	uint64_t before = atomic_load(&w.stats.live_dropped);
	feed(&w, "eee", t + 10000, 1001, 100);
	CHECK(atomic_load(&w.stats.live_dropped) > before, "eee's discovery met a full outbox");
	drain(&w, &out);
	size_t first = count_topic(&out, "homeassistant/", "/config", true);
	said_free(&out);
	feed(&w, "eee", t + 20000, 1002, 100);
	drain(&w, &out);
	struct ha_discovery_meter hm = { .discovery_prefix = w.cfg.ha_prefix, .stats_prefix = w.cfg.stats_prefix,
		.serial = "eee", .expire_after_s = 300 };
	size_t want = ha_discovery_config_count(&hm);
	size_t again = count_topic(&out, "homeassistant/", "/config", true);
	CHECK(first < want && again == want, "eee announced whole once there is room: %zu then %zu of %zu", first, again, want);
	said_free(&out);
	world_free(&w);
}

/* Discovery goes to meters that published across a quarter boundary, not
 * to a serial heard once; and after a restart every meter publishes within
 * a minute: it goes out for at most 200 meters a second of the readings'
 * clock, the others at a later reading. */
static void test_announce_rate(void)
{
	struct world w;
	world_init(&w, 64 << 20);
	struct said_list out = { 0 };
	int64_t t = utc(2026, 12, 2, 9, 59, 0);
	char serial[16];
	for (int i = 0; i < 500; i++) {
		snprintf(serial, sizeof(serial), "m%03d", i);
		feed(&w, serial, t + i, 1000, 100);
	}
	drain(&w, &out);
	CHECK(count_topic(&out, "homeassistant/", "/config", true) == 0 && count_topic(&out, "lowi-p1/m", "/live", true) == 500,
		"500 meters heard once, before a boundary: states, no discovery (%zu configs)",
		count_topic(&out, "homeassistant/", "/config", true));
	for (int round = 1; round <= 2; round++)
		for (int i = 0; i < 500; i++) {
			snprintf(serial, sizeof(serial), "m%03d", i);
			feed(&w, serial, t + round * 60000 + i, 1000 + round, 100);
		}
	drain(&w, &out);
	struct ha_discovery_meter hm = { .discovery_prefix = w.cfg.ha_prefix, .stats_prefix = w.cfg.stats_prefix,
		.serial = "m000", .expire_after_s = 300 };
	size_t per_meter = ha_discovery_config_count(&hm);
	size_t configs = count_topic(&out, "homeassistant/", "/config", true);
	CHECK(configs == 400 * per_meter, "after the boundary, two seconds of 500 meters each: 2 x 200 meters announced, %zu configs of %zu",
		configs, per_meter);
	CHECK(count_topic(&out, "homeassistant/sensor/lowi_p1_m399/", "/config", true) == per_meter - 1
		&& count_topic(&out, "homeassistant/sensor/lowi_p1_m400/", "/config", true) == 0,
		"the first 200 of each second, in the order they published");
	CHECK(count_topic(&out, "lowi-p1/m", "/live", true) == 1500, "every reading's state goes out: %zu",
		count_topic(&out, "lowi-p1/m", "/live", true));
	said_free(&out);
	world_free(&w);
}

static void test_format_limits(void)
{
	struct meter_quarters q;
	quarters_reset(&q);
	struct capacity c;
	memset(&c, 0, sizeof(c));
	struct capacity_live live;
	capacity_live_compute(&c, &q, 0, &live);
	struct live_state st = { .quarters = &q, .capacity = &live };
	char buf[2048];
	size_t n = live_format_state(buf, sizeof(buf), &st);
	CHECK(n > 0 && n < sizeof(buf), "a meter without readings formats");
	for (size_t cap = 0; cap <= n; cap++)
		CHECK(live_format_state(buf, cap, &st) == 0, "a buffer of %zu bytes for %zu is refused", cap, n);
	CHECK(live_format_state(buf, n + 1, &st) == n, "an exact buffer is enough");
	json_t *j = json_loads(buf, 0, NULL);
	CHECK(j != NULL, "valid JSON: %s", buf);
	json_decref(j);
	char topic[32];
	CHECK(!live_topic(topic, sizeof(topic), "lowi-p1", "a-serial-that-is-long", "live"), "a topic that does not fit is refused");
	CHECK(live_topic(topic, sizeof(topic), "p", "s", "live") && strcmp(topic, "p/s/live") == 0, "topic %s", topic);
}

int main(void)
{
	test_keys_and_figures();
	test_full_outbox();
	test_announce_rate();
	test_format_limits();
	return check_finish("live");
}
