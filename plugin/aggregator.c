/* Messages to readings to rows, on the aggregator thread; see aggregator.h. */
#include "aggregator.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>

#include "ha_discovery.h"
#include "live.h"
#include "log_prefix.h"
#include "topic.h"

/* How long a message may wait in the intake when traffic is light (the
 * producer wakes this thread only for a batch); its receive time is
 * already stamped, so only the row's commit is delayed. */
#define IDLE_WAIT_MS 1000

static void forget_meter(void *ctx, const struct meter *m);

void aggregator_init(struct aggregator *a, const struct lowi_config *cfg, struct intake *intake, struct row_queue *rows,
	struct log_queue *log, struct reject_log *rejects, struct lowi_stats *stats)
{
	memset(a, 0, sizeof(*a));
	a->cfg = cfg;
	a->params = quarter_default_params;
	a->params.max_quarter_power_w = cfg->max_power_kw * 1000.0;
	a->intake = intake;
	a->rows = rows;
	a->log = log;
	a->rejects = rejects;
	a->stats = stats;
	topic_prefilter_init(&a->prefilter, cfg->topic);
	meter_set_init(&a->meters, cfg->max_meters, (int64_t)cfg->meter_silence_days * 86400 * 1000);
	meters_init(&a->waiting, sizeof(struct waiting_peaks), cfg->max_meters);
}

void aggregator_set_live(struct aggregator *a, struct outbox *outbox, struct peak_history *history,
	struct price_board *prices)
{
	a->outbox = outbox;
	a->history = history;
	a->prices = prices;
	a->meters.dropped = outbox != NULL ? forget_meter : NULL;
	a->meters.dropped_ctx = a;
}

/* "YYYY-MM-DD HH:MM" of a UTC epoch time in ms, into buf; returns buf. */
static const char *utc_text(int64_t t_ms, char *buf, size_t size)
{
	time_t t = (time_t)(t_ms / 1000);
	struct tm tm;
	if (gmtime_r(&t, &tm) == NULL || strftime(buf, size, "%Y-%m-%d %H:%M", &tm) == 0)
		snprintf(buf, size, "@%" PRId64, t_ms / 1000);
	return buf;
}

struct emit_ctx {
	struct aggregator *a;
	const char *serial;
	struct meter *meter;
	/* A quarter of this reading closed as a new month peak above the floor. */
	bool new_peak;
	int64_t new_peak_start_s;
	double new_peak_kw;
};

/* Seconds without a reading after which Home Assistant shows a meter's
 * entities unavailable: a LOWI publishes at least once a minute, so five
 * minutes is a dongle or a broker gone, not a late message. */
#define HA_EXPIRE_AFTER_S 300
/* Home Assistant discovery of at most this many meters a second (up to 16
 * configs each), on the readings' clock: after a restart every meter
 * publishes within a minute, and announcing them all at once would queue
 * hundreds of thousands of retained configs faster than the broker takes
 * them. A meter left out is announced at one of its next readings. */
#define HA_ANNOUNCE_PER_S 200

/* Queues a message for the broker thread; false when the outbox refused it
 * (counted and logged). */
static bool say(struct aggregator *a, const char *topic, const char *payload, size_t len, bool retain)
{
	stat_add(&a->stats->live_messages, 1);
	if (outbox_push(a->outbox, topic, payload, len, retain))
		return true;
	stat_add(&a->stats->live_dropped, 1);
	reject_log_offer(a->rejects, AGG_REJECT_OUTBOX_FULL, atomic_load(&a->stats->live_dropped), time(NULL),
		"live message on '%.200s' not published: the broker has not taken the messages before it (does it tick"
		" the plugin? README, Troubleshooting); %" PRIu64 " not published so far", topic,
		atomic_load(&a->stats->live_dropped));
	return false;
}

struct announce_ctx {
	struct aggregator *a;
	bool all_queued;
};

static void announce_one(void *ctx, const char *topic, const char *payload, size_t len)
{
	struct announce_ctx *c = ctx;
	if (!say(c->a, topic, payload, len, true))
		c->all_queued = false;
}

static struct ha_discovery_meter ha_meter(const struct aggregator *a, const struct meter *m)
{
	return (struct ha_discovery_meter){
		.discovery_prefix = a->cfg->ha_prefix, .stats_prefix = a->cfg->stats_prefix, .serial = m->serial,
		.has_gas = m->quarters.has_gas, .has_water = m->quarters.has_water, .expire_after_s = HA_EXPIRE_AFTER_S,
	};
}

static bool announce_allowed(struct aggregator *a, int64_t t_ms)
{
	int64_t second = t_ms / 1000;
	if (second != a->announce_second) {
		a->announce_second = second;
		a->announced_in_second = 0;
	}
	if (a->announced_in_second >= HA_ANNOUNCE_PER_S)
		return false;
	a->announced_in_second++;
	return true;
}

/* A meter's Home Assistant device, once per run; tried again at its next
 * reading while any of it could not be queued. */
static void announce(struct aggregator *a, struct meter *m)
{
	struct ha_discovery_meter hm = ha_meter(a, m);
	struct announce_ctx c = { a, true };
	ha_discovery_configs(&hm, announce_one, &c);
	m->announced = c.all_queued;
}

/* A meter the sweep forgets: its entities and its retained state go too. */
static void forget_meter(void *ctx, const struct meter *m)
{
	struct aggregator *a = ctx;
	if (a->outbox == NULL)
		return;
	if (a->cfg->ha_discovery) {
		struct ha_discovery_meter hm = ha_meter(a, m);
		struct announce_ctx c = { a, true };
		ha_discovery_remove(&hm, announce_one, &c);
	}
	char topic[INTAKE_TOPIC_MAX + 1];
	if (live_topic(topic, sizeof(topic), a->cfg->stats_prefix, m->serial, "live"))
		say(a, topic, "", 0, true);
}

/* The state after an accepted reading, and the events it raises. */
static void publish_live(struct aggregator *a, struct meter *m, const struct emit_ctx *e, int64_t t_ms)
{
	struct capacity_live live;
	capacity_live_compute(&m->capacity, &m->quarters, a->cfg->peak_limit_kw, &live);
	enum capacity_event ev = capacity_event_due(&m->capacity, &live);
	/* Discovery puts 16 retained configs in the broker for good: only for
	 * a meter that published across a quarter boundary (or was resumed
	 * from its rows), not for every serial a flood invents. */
	if (a->cfg->ha_discovery && !m->announced && m->quarters.boundary_valid && announce_allowed(a, t_ms))
		announce(a, m);
	char topic[INTAKE_TOPIC_MAX + 1], json[2048];
	struct live_state st = { .quarters = &m->quarters, .capacity = &live, .history_from_database = a->history_merged };
	struct price_board_period period;
	if (a->prices != NULL && price_board_read(a->prices, &a->prices_seen, t_ms / 1000, &period))
		st.price = (struct live_price){ .known = true, .start_s = period.start_s,
			.market_eur_mwh = period.market_eur_mwh, .has_buy = period.buy_known, .has_sell = period.sell_known,
			.buy_c_kwh = period.buy_c_kwh, .sell_c_kwh = period.sell_c_kwh };
	size_t n = live_format_state(json, sizeof(json), &st);
	if (n > 0 && live_topic(topic, sizeof(topic), a->cfg->stats_prefix, m->serial, "live"))
		say(a, topic, json, n, true);
	if (ev == CAPACITY_EVENT_NONE && !e->new_peak)
		return;
	if (!live_topic(topic, sizeof(topic), a->cfg->stats_prefix, m->serial, "peak"))
		return;
	if (e->new_peak && (n = live_format_event(json, sizeof(json), t_ms, &live, CAPACITY_EVENT_NONE, true,
		e->new_peak_start_s, e->new_peak_kw)) > 0) {
		stat_add(&a->stats->peak_events, 1);
		say(a, topic, json, n, false);
	}
	if (ev != CAPACITY_EVENT_NONE && (n = live_format_event(json, sizeof(json), t_ms, &live, ev, false, 0, 0)) > 0) {
		stat_add(&a->stats->peak_events, 1);
		say(a, topic, json, n, false);
	}
}

/* Stored peaks read back by the writer: into the meter they belong to, or
 * kept aside until it publishes. */
void aggregator_merge_history(struct aggregator *a)
{
	bool complete = peak_history_complete(a->history);
	struct peak_batch *list = peak_history_take(a->history);
	for (struct peak_batch *b = list; b != NULL; b = b->next) {
		for (size_t i = 0; i < b->count; i++) {
			const struct peak_record *r = &b->records[i];
			struct meter *m = meters_find(&a->meters.heard, r->serial);
			if (m == NULL)
				m = meters_find(&a->meters.resumed, r->serial);
			struct capacity *c = m != NULL ? &m->capacity : NULL;
			if (c == NULL) {
				bool created;
				struct waiting_peaks *w = meters_get(&a->waiting, r->serial, &created);
				c = w != NULL ? &w->capacity : NULL;
			}
			if (c != NULL)
				capacity_merge(c, r->month, r->peak_kw, r->peak_start_s);
		}
	}
	peak_history_free_batch(list);
	if (complete)
		a->history_merged = true;
}

/* A meter new to this run takes the stored peaks kept aside for it. */
static void take_waiting_history(struct aggregator *a, struct meter *m)
{
	const struct waiting_peaks *w = a->waiting.count ? meters_find(&a->waiting, m->serial) : NULL;
	if (w == NULL)
		return;
	for (int i = 0; i < CAPACITY_WINDOW_MONTHS; i++) {
		const struct capacity_month *cm = &w->capacity.months[i];
		if (cm->month != 0)
			capacity_merge(&m->capacity, cm->month, cm->peak_kw, cm->peak_start_s);
	}
	meters_remove(&a->waiting, m->serial);
}

static void emit_row(void *ctx, const struct quarter_row *row)
{
	struct emit_ctx *e = ctx;
	struct aggregator *a = e->a;
	struct conso_row cr;
	strcpy(cr.serial, e->serial);
	cr.q = *row;
	if (!row_queue_push(a->rows, &cr)) {
		stat_add(&a->stats->rows_dropped, 1);
		reject_log_offer(a->rejects, AGG_REJECT_QUEUE_FULL, atomic_load(&a->stats->rows_dropped), time(NULL), "row queue full (%u rows, plugin_opt_queue_rows): row %s %" PRId64
			" dropped; the database is not keeping up or is down", a->cfg->queue_rows, e->serial, row->start_s);
		return;
	}
	stat_add(&a->stats->rows_queued, 1);
	stat_add(&a->stats->rows_estimated, row->estimated);
	if (e->meter != NULL && capacity_note_quarter(&e->meter->capacity, row->start_s, row->import_wh, row->estimated)
		&& row->import_wh * 4 / 1000.0 > CAPACITY_FLOOR_KW) {
		e->new_peak = true;
		e->new_peak_start_s = row->start_s;
		e->new_peak_kw = row->import_wh * 4 / 1000.0;
	}
	if (row->implausible) {
		stat_add(&a->stats->implausible_quarters, 1);
		char when[32];
		reject_log_offer(a->rejects, AGG_REJECT_IMPLAUSIBLE, atomic_load(&a->stats->implausible_quarters), time(NULL),
			"meter %s: quarter %s UTC booked %.3f kWh in, %.3f kWh out, more than max_power_kw (%u kW) allows in"
			" 15 min: flagged Estimated, never a peak; a forged or replayed burst on its topic? (README,"
			" Troubleshooting)", e->serial, utc_text(row->start_s * 1000, when, sizeof(when)),
			row->import_wh / 1000.0, row->export_wh / 1000.0, a->cfg->max_power_kw);
	}
}

/* Why a meter's readings were refused, from its refusal streak's bits. */
static const char *refusal_reason(unsigned why)
{
	switch (why & (QUARTER_REFUSED_TIME | QUARTER_REFUSED_COUNTERS)) {
	case QUARTER_REFUSED_TIME:
		return "received before its last accepted one (clock went back?)";
	case QUARTER_REFUSED_COUNTERS:
		return "counters below its last accepted reading's (saved state ahead?)";
	default:
		return "received before its last accepted one, with counters below it";
	}
}

/* What report_refusals needs of a meter's state before a reading. */
struct refusal_before {
	int64_t last_ms, refused_since_ms;
	uint32_t refused_n;
	unsigned refused_why;
};

/* A meter's readings are all refused for minutes, or were until this one
 * re-based it: say which meter, why, and what to do. */
static void report_refusals(struct aggregator *a, const char *serial, enum quarter_feed_result r,
	const struct refusal_before *before, const struct meter_quarters *now, int64_t t_ms)
{
	char last[32];
	utc_text(before->last_ms, last, sizeof(last));
	if (r == QUARTER_REFUSED_LONG) {
		reject_log_offer(a->rejects, AGG_REJECT_METER_REFUSED, ++a->refusal_warnings, time(NULL),
			"meter %s: its last %" PRIu32 " readings, over %" PRId64 " min, were all refused: %s; last accepted %s UTC."
			" Its counters do not advance, so it is not re-based: a stale or replayed message? (README,"
			" Troubleshooting)", serial, now->refused_n, (now->refused_last_ms - now->refused_since_ms) / 60000,
			refusal_reason(now->refused_why), last);
		return;
	}
	bool back = t_ms <= before->last_ms;
	unsigned why = before->refused_why | (back ? QUARTER_REFUSED_TIME : 0);
	char from[32], what[96];
	if (back)
		snprintf(what, sizeof(what), "The quarter from %s UTC books all since its last row",
			utc_text(t_ms / 900000 * 900000, from, sizeof(from)));
	else
		snprintf(what, sizeof(what), "It goes on from this reading's counters, booking none back");
	reject_log_offer(a->rejects, AGG_REJECT_METER_REBASED, atomic_load(&a->stats->meters_rebased), time(NULL),
		"meter %s: re-based after %" PRIu32 " readings refused over %" PRId64 " s: %s; last accepted %s UTC. %s,"
		" flagged Estimated (README, Troubleshooting)", serial, before->refused_n,
		(t_ms - before->refused_since_ms) / 1000, refusal_reason(why), last, what);
}

void aggregator_handle(struct aggregator *a, const struct intake_msg *m)
{
	struct lowi_stats *st = a->stats;
	const char *topic = intake_msg_topic(m);
	char serial[LOWI_SERIAL_MAX + 1];
	bool bad_serial = false;
	/* A cut topic is longer than any filter can match with a valid serial. */
	if (m->topic_cut || !topic_match_serial_fast(&a->prefilter, a->cfg->topic, topic, m->topic_len, serial, &bad_serial)) {
		if (bad_serial) {
			stat_add(&st->bad_serials, 1);
			reject_log_offer(a->rejects, AGG_REJECT_BAD_SERIAL, atomic_load(&st->bad_serials), time(NULL), "topic '%.100s' ignored: its meter serial level is empty, longer"
				" than %d characters, or not made of letters, digits, '_' and '-'; %" PRIu64 " such messages so far", topic,
				LOWI_SERIAL_MAX, atomic_load(&st->bad_serials));
		}
		return;
	}
	stat_add(&st->messages, 1);

	struct lowi_reading reading;
	struct lowi_payload_error err;
	enum lowi_payload_status s;
	if (m->stored_len != m->payload_len) {
		/* Not kept by the broker thread: longer than the decoder takes. */
		s = LOWI_PAYLOAD_TOO_LONG;
		snprintf(err.reason, sizeof(err.reason), "payload is %" PRIu32 " bytes, over the %d-byte limit",
			m->payload_len, LOWI_PAYLOAD_MAX_BYTES);
	} else {
		s = lowi_payload_decode(intake_msg_payload(m), m->payload_len, &reading, &err);
	}
	if (s != LOWI_PAYLOAD_OK) {
		_Atomic uint64_t *of_reason = stats_rejected(st, s);
		stat_add(&st->payloads_rejected, 1);
		stat_add(of_reason, 1);
		reject_log_offer(a->rejects, (int)s, atomic_load(of_reason), time(NULL), "meter %s: payload rejected (%s, %" PRIu32 " bytes): %s; %" PRIu64 " rejected so far",
			serial, lowi_payload_status_name(s), m->payload_len, err.reason, atomic_load(&st->payloads_rejected));
		return;
	}

	bool created;
	struct meter *meter = meter_set_take(&a->meters, serial, m->received_ms, &created);
	if (meter == NULL) {
		stat_add(&st->meters_refused, 1);
		reject_log_offer(a->rejects, AGG_REJECT_TABLE_FULL, atomic_load(&st->meters_refused), time(NULL), "meter %s ignored:"
			" %zu meters have published since the start already (plugin_opt_max_meters); %" PRIu64 " readings of new"
			" meters refused so far", serial, a->meters.heard.count, atomic_load(&st->meters_refused));
		return;
	}
	if (created) {
		quarters_reset(&meter->quarters);
		take_waiting_history(a, meter);
	}
	/* Also moves when a sweep drops silent meters. */
	atomic_store_explicit(&st->meters, meter_set_count(&a->meters), memory_order_relaxed);

	struct emit_ctx ctx = { .a = a, .serial = serial, .meter = meter };
	const struct meter_quarters *q = &meter->quarters;
	struct refusal_before before = { q->last_ms, q->refused_since_ms, q->refused_n, q->refused_why };
	enum quarter_feed_result r = quarters_feed(&meter->quarters, &a->params, m->received_ms, &reading, emit_row, &ctx);
	switch (r) {
	case QUARTER_DUPLICATE:
		stat_add(&st->duplicates, 1);
		return;
	case QUARTER_OUT_OF_ORDER:
		stat_add(&st->out_of_order, 1);
		return;
	case QUARTER_REFUSED_LONG:
		stat_add(&st->out_of_order, 1);
		report_refusals(a, serial, r, &before, &meter->quarters, m->received_ms);
		return;
	case QUARTER_REBASED:
		stat_add(&st->meters_rebased, 1);
		report_refusals(a, serial, r, &before, &meter->quarters, m->received_ms);
		break;
	case QUARTER_DISCONTINUITY:
		stat_add(&st->discontinuities, 1);
		break;
	case QUARTER_LONG_SILENCE:
		stat_add(&st->series_restarts, 1);
		break;
	case QUARTER_FIRST:
	case QUARTER_ACCEPTED:
		break;
	}
	stat_add(&st->readings, 1);
	if (r == QUARTER_DISCONTINUITY)
		log_queue_push(a->log, MOSQ_LOG_WARNING, PREFIX "meter %s: counter discontinuity (counters went backwards or"
			" jumped); the quarters around it are flagged estimated", serial);
	/* After a long broker outage every meter comes back at once: one line
	 * a minute, with the count of the others. */
	if (r == QUARTER_LONG_SILENCE) {
		char last[32], from[32];
		reject_log_offer(a->rejects, AGG_REJECT_LONG_SILENCE, atomic_load(&st->series_restarts), time(NULL),
			"meter %s: heard again after more than a day (last reading %s UTC): no row for the quarters of the"
			" silence; the quarter from %s UTC books its energy, flagged Estimated (README, Troubleshooting)", serial,
			utc_text(before.last_ms, last, sizeof(last)), utc_text(m->received_ms / 900000 * 900000, from, sizeof(from)));
	}
	if (a->outbox != NULL)
		publish_live(a, meter, &ctx, m->received_ms);
}

static void *aggregator_main(void *arg)
{
	struct aggregator *a = arg;
	for (;;) {
		const struct intake_msg *m;
		if (a->history != NULL && !a->history_merged)
			aggregator_merge_history(a);
		while ((m = intake_next(a->intake)) != NULL)
			aggregator_handle(a, m);
		/* A stop comes after the last push: what is queued is finished first. */
		if (intake_stopping(a->intake)) {
			while ((m = intake_next(a->intake)) != NULL)
				aggregator_handle(a, m);
			return NULL;
		}
		intake_wait(a->intake, IDLE_WAIT_MS);
	}
}

int aggregator_start(struct aggregator *a)
{
	if (pthread_create(&a->thread, NULL, aggregator_main, a) != 0)
		return -1;
	a->started = true;
	return 0;
}

void aggregator_stop(struct aggregator *a)
{
	if (!a->started)
		return;
	intake_stop(a->intake);
	pthread_join(a->thread, NULL);
	a->started = false;
}

void aggregator_free(struct aggregator *a)
{
	aggregator_stop(a);
	meter_set_free(&a->meters);
	meters_free(&a->waiting);
}
