/*
 * Broker glue: the entry points mosquitto 2.0 calls, option handling, and
 * the message callback where a LOWI publish becomes a reading.
 *
 * Everything here runs on the broker's only thread. The callback never
 * blocks on the database: finished rows go to the writer thread through
 * the row queue, and the writer's log lines come back through the log
 * queue, drained here. The plugin only observes: every callback returns
 * MOSQ_ERR_SUCCESS so no message is ever altered or dropped.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <mysql.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "config.h"
#include "db_writer.h"
#include "log_queue.h"
#include "meters.h"
#include "payload.h"
#include "price_worker.h"
#include "quarter.h"
#include "row_queue.h"
#include "spool.h"
#include "stats.h"
#include "topic.h"

#define PREFIX "lowi-p1: "
#define SUMMARY_INTERVAL_S 900
#define REJECT_LOG_INTERVAL_S 60

struct lowi_plugin {
	mosquitto_plugin_id_t *id;
	struct lowi_config cfg;
	struct quarter_params params;
	struct log_queue log;
	struct row_queue rows;
	struct serial_map meters;
	struct lowi_stats stats;
	struct db_writer *writer;
	struct spool *spool;
	struct price_worker *prices;
	time_t next_summary;
	time_t next_stats;
	/* Rate limiting of rejection lines, per kind of rejection. */
	time_t reject_logged_at[LOWI_PAYLOAD_STATUS_COUNT + 2];
	uint64_t reject_suppressed[LOWI_PAYLOAD_STATUS_COUNT + 2];
};

enum { REJECT_BAD_SERIAL = LOWI_PAYLOAD_STATUS_COUNT, REJECT_TABLE_FULL };

struct emit_ctx {
	struct lowi_plugin *p;
	const char *serial;
};

static void log_sink(int level, const char *line)
{
	mosquitto_log_printf(level, "%s", line);
}

static void drain_log(struct lowi_plugin *p)
{
	log_queue_drain(&p->log, log_sink);
}

static void log_summary(struct lowi_plugin *p, const char *when)
{
	struct lowi_stats *s = &p->stats;
	mosquitto_log_printf(MOSQ_LOG_NOTICE, PREFIX "%s: meters %" PRIu64 ", messages %" PRIu64 ", readings %" PRIu64
		", rejected %" PRIu64 ", duplicates %" PRIu64 ", out-of-order %" PRIu64 ", discontinuities %" PRIu64
		", rows queued %" PRIu64 " (estimated %" PRIu64 "), written %" PRIu64 ", dropped %" PRIu64
		", pending %zu, spooled %" PRIu64 ", replayed %" PRIu64 ", spool errors %" PRIu64 ", refused %" PRIu64 ", db errors %" PRIu64 "; price requests %" PRIu64 " (failed %" PRIu64 "), periods stored %" PRIu64,
		when, s->meters, s->messages_seen, s->readings_accepted, s->payloads_rejected,
		s->by_feed_result[QUARTER_DUPLICATE], s->by_feed_result[QUARTER_OUT_OF_ORDER],
		s->by_feed_result[QUARTER_DISCONTINUITY], s->rows_queued, s->rows_estimated,
		atomic_load(&s->rows_written), s->rows_dropped, row_queue_length(&p->rows), atomic_load(&s->rows_spooled),
		atomic_load(&s->rows_replayed), atomic_load(&s->spool_errors), atomic_load(&s->rows_refused), atomic_load(&s->db_errors),
		atomic_load(&s->price_requests), atomic_load(&s->price_failures), atomic_load(&s->price_periods));
}

/* Counters on a retained topic, for MQTT Explorer or Home Assistant. */
static void publish_stats(struct lowi_plugin *p, const char *state)
{
	struct lowi_stats *s = &p->stats;
	char topic[1100], json[1024];
	snprintf(topic, sizeof(topic), "%s/stats", p->cfg.stats_prefix);
	int n = snprintf(json, sizeof(json),
		"{\"state\":\"%s\",\"time\":%lld,\"meters\":%" PRIu64 ",\"messages\":%" PRIu64 ",\"readings\":%" PRIu64
		",\"payloads_rejected\":%" PRIu64 ",\"duplicates\":%" PRIu64 ",\"out_of_order\":%" PRIu64
		",\"discontinuities\":%" PRIu64 ",\"rows_queued\":%" PRIu64 ",\"rows_estimated\":%" PRIu64
		",\"rows_written\":%" PRIu64 ",\"rows_dropped\":%" PRIu64 ",\"rows_pending\":%zu,\"rows_spooled\":%" PRIu64
		",\"rows_replayed\":%" PRIu64 ",\"spool_errors\":%" PRIu64 ",\"db_errors\":%" PRIu64
		",\"price_requests\":%" PRIu64 ",\"price_failures\":%" PRIu64 ",\"price_periods\":%" PRIu64 "}",
		state, (long long)time(NULL), s->meters, s->messages_seen, s->readings_accepted, s->payloads_rejected,
		s->by_feed_result[QUARTER_DUPLICATE], s->by_feed_result[QUARTER_OUT_OF_ORDER],
		s->by_feed_result[QUARTER_DISCONTINUITY], s->rows_queued, s->rows_estimated,
		atomic_load(&s->rows_written), s->rows_dropped, row_queue_length(&p->rows), atomic_load(&s->rows_spooled),
		atomic_load(&s->rows_replayed), atomic_load(&s->spool_errors), atomic_load(&s->db_errors),
		atomic_load(&s->price_requests), atomic_load(&s->price_failures), atomic_load(&s->price_periods));
	mosquitto_broker_publish_copy(NULL, topic, n, json, 0, true, NULL);
}

static void housekeeping(struct lowi_plugin *p)
{
	drain_log(p);
	time_t now = time(NULL);
	if (p->cfg.stats_interval_s && now >= p->next_stats) {
		publish_stats(p, "running");
		p->next_stats = now + p->cfg.stats_interval_s;
	}
	if (now >= p->next_summary) {
		if (p->next_summary != 0)
			log_summary(p, "status");
		p->next_summary = now + SUMMARY_INTERVAL_S;
	}
}

/* One line per kind of rejection per minute at most, so a misbehaving
 * client cannot flood the log; the count of silenced lines is reported. */
static void log_rejection(struct lowi_plugin *p, int kind, const char *fmt, ...)
{
	time_t now = time(NULL);
	if (p->reject_logged_at[kind] != 0 && now - p->reject_logged_at[kind] < REJECT_LOG_INTERVAL_S) {
		p->reject_suppressed[kind]++;
		return;
	}
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (p->reject_suppressed[kind])
		mosquitto_log_printf(MOSQ_LOG_WARNING, PREFIX "%s (%" PRIu64 " similar since the last such line)",
			line, p->reject_suppressed[kind]);
	else
		mosquitto_log_printf(MOSQ_LOG_WARNING, PREFIX "%s", line);
	p->reject_logged_at[kind] = now;
	p->reject_suppressed[kind] = 0;
}

static void emit_row(void *ctx, const struct quarter_row *row)
{
	struct emit_ctx *e = ctx;
	struct lowi_plugin *p = e->p;
	struct conso_row cr;
	strcpy(cr.serial, e->serial);
	cr.q = *row;
	if (!row_queue_push(&p->rows, &cr)) {
		p->stats.rows_dropped++;
		log_rejection(p, REJECT_TABLE_FULL, "row queue full (%u rows, plugin_opt_queue_rows): row %s %" PRId64
			" dropped; the database is not keeping up or is down", p->cfg.queue_rows, e->serial, row->start_s);
		return;
	}
	p->stats.rows_queued++;
	p->stats.rows_estimated += row->estimated;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int on_message(int event, void *event_data, void *userdata)
{
	struct lowi_plugin *p = userdata;
	const struct mosquitto_evt_message *msg = event_data;
	char serial[LOWI_SERIAL_MAX + 1];
	bool bad_serial;
	(void)event;

	housekeeping(p);
	if (msg->topic == NULL || !topic_match_serial(p->cfg.topic, msg->topic, serial, &bad_serial)) {
		if (msg->topic && bad_serial) {
			p->stats.bad_serials++;
			log_rejection(p, REJECT_BAD_SERIAL, "topic '%.100s' ignored: its meter serial level is empty, longer than %d"
				" characters, or not made of letters, digits, '_' and '-'", msg->topic, LOWI_SERIAL_MAX);
		}
		return MOSQ_ERR_SUCCESS;
	}
	p->stats.messages_seen++;

	struct lowi_reading reading;
	struct lowi_payload_error err;
	enum lowi_payload_status st = lowi_payload_decode(msg->payload, msg->payloadlen, &reading, &err);
	if (st != LOWI_PAYLOAD_OK) {
		p->stats.payloads_rejected++;
		p->stats.rejected_by_status[st]++;
		log_rejection(p, (int)st, "meter %s: payload rejected (%s, %" PRIu32 " bytes): %s; %" PRIu64 " rejected so far",
			serial, lowi_payload_status_name(st), msg->payloadlen, err.reason, p->stats.payloads_rejected);
		return MOSQ_ERR_SUCCESS;
	}

	bool created;
	struct meter *m = serial_map_get(&p->meters, serial, &created);
	if (m == NULL) {
		p->stats.meters_refused++;
		log_rejection(p, REJECT_TABLE_FULL, "meter %s ignored: already tracking %zu meters (plugin_opt_max_meters)",
			serial, p->meters.count);
		return MOSQ_ERR_SUCCESS;
	}
	if (created)
		quarters_reset(&m->quarters);
	p->stats.meters = p->meters.count;

	struct emit_ctx ctx = { p, serial };
	enum quarter_feed_result r = quarters_feed(&m->quarters, &p->params, now_ms(), &reading, emit_row, &ctx);
	p->stats.by_feed_result[r]++;
	if (r != QUARTER_DUPLICATE && r != QUARTER_OUT_OF_ORDER)
		p->stats.readings_accepted++;
	if (r == QUARTER_DISCONTINUITY || r == QUARTER_RESTARTED)
		mosquitto_log_printf(MOSQ_LOG_WARNING, PREFIX "meter %s: %s (counters went backwards, jumped, or stopped"
			" too long); the quarters around it are flagged estimated", serial,
			r == QUARTER_DISCONTINUITY ? "counter discontinuity" : "series restarted after a long silence");
	return MOSQ_ERR_SUCCESS;
}

static int on_tick(int event, void *event_data, void *userdata)
{
	(void)event;
	(void)event_data;
	housekeeping(userdata);
	return MOSQ_ERR_SUCCESS;
}

static void restore_meter(void *ctx, const struct meter *saved)
{
	struct lowi_plugin *p = ctx;
	bool created;
	struct meter *m = serial_map_get(&p->meters, saved->serial, &created);
	if (m != NULL)
		m->quarters = saved->quarters;
}

static void resume_meter(void *ctx, const struct conso_row *row)
{
	struct lowi_plugin *p = ctx;
	bool created;
	struct meter *m = serial_map_get(&p->meters, row->serial, &created);
	if (m != NULL)
		quarters_resume(&m->quarters, &row->q);
}

/* The spool holds what a previous run could not write and where each meter
 * was: meters resume from their last durable row. Without a usable spool
 * the plugin still runs, with rows waiting in memory only. */
static void open_spool(struct lowi_plugin *p)
{
	char err[1200];
	p->spool = spool_open(p->cfg.spool_dir, err, sizeof(err));
	if (p->spool == NULL) {
		p->stats.spool_errors++;
		mosquitto_log_printf(MOSQ_LOG_ERR, PREFIX "%s: rows will wait in memory only while the database is away"
			" (plugin_opt_spool_dir must name a directory the mosquitto user can write)", err);
		return;
	}
	spool_each_last(p->spool, resume_meter, p);
	long live = spool_take_live(p->spool, restore_meter, p, err, sizeof(err));
	if (live < 0) {
		p->stats.spool_errors++;
		mosquitto_log_printf(MOSQ_LOG_ERR, PREFIX "%s", err);
	}
	p->stats.meters = p->meters.count;
	mosquitto_log_printf(MOSQ_LOG_NOTICE, PREFIX "spool %s: %zu meters resume from their last durable row (%ld from"
		" their last reading, saved at a clean stop), %zu spooled files to replay",
		p->cfg.spool_dir, spool_meters(p->spool), live < 0 ? 0 : live, spool_files(p->spool));
}

static void save_live(struct lowi_plugin *p)
{
	char err[1200];
	/* Only when every row is durable: the saved state must never skip a row. */
	if (p->spool && row_queue_length(&p->rows) == 0 && spool_save_live(p->spool, &p->meters, err, sizeof(err)) != 0) {
		p->stats.spool_errors++;
		mosquitto_log_printf(MOSQ_LOG_ERR, PREFIX "%s: after the restart meters resume from their last row", err);
	}
}

int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
	for (int i = 0; i < supported_version_count; i++)
		if (supported_versions[i] == 5)
			return 5;
	return -1;
}

static void plugin_free(struct lowi_plugin *p)
{
	price_worker_stop(p->prices);
	db_writer_stop(p->writer);
	spool_close(p->spool);
	drain_log(p);
	row_queue_destroy(&p->rows);
	serial_map_free(&p->meters);
	log_queue_destroy(&p->log);
	config_free(&p->cfg);
	free(p);
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata, struct mosquitto_opt *options, int option_count)
{
	char err[512];
	struct lowi_plugin *p = calloc(1, sizeof(*p));
	if (p == NULL) {
		mosquitto_log_printf(MOSQ_LOG_ERR, PREFIX "out of memory");
		return MOSQ_ERR_NOMEM;
	}
	p->id = identifier;
	p->params = quarter_default_params;
	log_queue_init(&p->log);
	config_defaults(&p->cfg);
	for (int i = 0; i < option_count; i++) {
		if (config_set(&p->cfg, options[i].key, options[i].value, err, sizeof(err)) != 0)
			goto fail;
	}
	if (config_finish(&p->cfg, err, sizeof(err)) != 0)
		goto fail;
	serial_map_init(&p->meters, sizeof(struct meter), p->cfg.max_meters);
	if (row_queue_init(&p->rows, p->cfg.queue_rows) != 0) {
		snprintf(err, sizeof(err), "cannot allocate the row queue (plugin_opt_queue_rows %u)", p->cfg.queue_rows);
		goto fail;
	}
	/* Library set-up that is not thread-safe, before any thread starts. */
	if (mysql_library_init(0, NULL, NULL) != 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(err, sizeof(err), "cannot initialise the MariaDB or libcurl library");
		goto fail;
	}
	open_spool(p);
	p->writer = db_writer_start(&p->cfg, &p->rows, p->spool, &p->log, &p->stats);
	if (p->writer == NULL) {
		snprintf(err, sizeof(err), "cannot start the database writer");
		goto fail;
	}
	if (p->cfg.price_source != PRICE_SOURCE_NONE) {
		p->prices = price_worker_start(&p->cfg, &p->log, &p->stats);
		if (p->prices == NULL) {
			snprintf(err, sizeof(err), "cannot start the price worker");
			goto fail;
		}
	}
	if (mosquitto_callback_register(identifier, MOSQ_EVT_MESSAGE, on_message, NULL, p) != MOSQ_ERR_SUCCESS
		|| mosquitto_callback_register(identifier, MOSQ_EVT_TICK, on_tick, NULL, p) != MOSQ_ERR_SUCCESS) {
		snprintf(err, sizeof(err), "cannot register broker callbacks");
		goto fail;
	}
	if (p->cfg.warning[0])
		mosquitto_log_printf(MOSQ_LOG_WARNING, PREFIX "%s", p->cfg.warning);
	mosquitto_log_printf(MOSQ_LOG_NOTICE, PREFIX "recording topic '%s' into MariaDB database '%s' on %s as %s",
		p->cfg.topic, p->cfg.db_name, p->cfg.db_socket ? p->cfg.db_socket : p->cfg.db_host, p->cfg.db_user);
	*userdata = p;
	return MOSQ_ERR_SUCCESS;

fail:
	drain_log(p);
	mosquitto_log_printf(MOSQ_LOG_ERR, PREFIX "%s", err);
	mosquitto_callback_unregister(identifier, MOSQ_EVT_MESSAGE, on_message, NULL);
	mosquitto_callback_unregister(identifier, MOSQ_EVT_TICK, on_tick, NULL);
	plugin_free(p);
	return MOSQ_ERR_INVAL;
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options, int option_count)
{
	struct lowi_plugin *p = userdata;
	(void)options;
	(void)option_count;
	if (p == NULL)
		return MOSQ_ERR_SUCCESS;
	mosquitto_callback_unregister(p->id, MOSQ_EVT_MESSAGE, on_message, NULL);
	mosquitto_callback_unregister(p->id, MOSQ_EVT_TICK, on_tick, NULL);
	price_worker_stop(p->prices);
	p->prices = NULL;
	db_writer_stop(p->writer);
	p->writer = NULL;
	save_live(p);
	drain_log(p);
	log_summary(p, "stopping");
	if (p->cfg.stats_interval_s)
		publish_stats(p, "stopped");
	plugin_free(p);
	return MOSQ_ERR_SUCCESS;
}
