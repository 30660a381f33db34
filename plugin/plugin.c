/*
 * Broker glue: the entry points mosquitto 2.0 calls, option handling, and
 * the message callback where a LOWI publish becomes a reading.
 *
 * Everything here runs on the broker's only thread, which serves every
 * client of the broker: the message callback only turns away unrelated
 * topics, stamps the receive time and copies LOWI messages into the
 * intake. The aggregator thread decodes them and makes rows, the writer
 * thread writes them; their log lines come back through the log queue,
 * drained here. The plugin only observes: every callback returns
 * MOSQ_ERR_SUCCESS so no message is ever altered or dropped.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/random.h>

#include <curl/curl.h>
#include <mysql.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "aggregator.h"
#include "broker_conf.h"
#include "brussels.h"
#include "config.h"
#include "db_connect.h"
#include "db_writer.h"
#include "deadline.h"
#include "log_queue.h"
#include "intake.h"
#include "log_prefix.h"
#include "meters.h"
#include "outbox.h"
#include "payload.h"
#include "peak_history.h"
#include "price_board.h"
#include "price_lease.h"
#include "price_worker.h"
#include "quarter.h"
#include "reject_log.h"
#include "row_queue.h"
#include "spool.h"
#include "stats.h"
#include "topic.h"

#define SUMMARY_INTERVAL_S 900
#define REFUSED_LOG_INTERVAL_S 60
/* mosquitto 2.0 ticks at the end of every pass of its main loop, several
 * times a second; none this long after the plugin's first callback means
 * it does not tick this plugin. */
#define TICK_EXPECTED_S 10
/* Messages the aggregator has not reached yet: a cap so that a stalled
 * aggregator cannot take the broker's memory. */
#define INTAKE_MAX_BYTES ((size_t)64 << 20)
/* Live messages the broker thread has not published yet: it takes them
 * several times a second, so the cap only matters for a broker that stopped
 * calling the plugin. */
#define OUTBOX_MAX_BYTES ((size_t)16 << 20)
/* Live messages published per callback, so that a backlog is spread over
 * several passes of the broker's loop instead of holding one up. */
#define OUTBOX_PER_CALLBACK 20000

struct lowi_plugin {
	mosquitto_plugin_id_t *id;
	struct lowi_config cfg;
	struct topic_prefilter prefilter;
	struct log_queue log;
	struct reject_log rejects;
	struct intake intake;
	struct aggregator agg;
	struct row_queue rows;
	struct outbox outbox;          /* live messages, from the aggregator thread */
	struct peak_history history;   /* stored peaks, from the writer to the aggregator */
	struct lowi_stats stats;
	struct db_writer *writer;
	struct spool *spool;
	struct price_worker *prices;
	struct price_board *price_board; /* filled by the price worker, read by the aggregator */
	_Atomic bool prices_stopping; /* gives up a price worker's connection set-up */
	char fetcher[PRICE_LEASE_HOLDER_MAX]; /* this broker's name in PriceFetcher */
	/* The price worker's database node, and the last one it logged: its
	 * thread only (price_db_connect). */
	struct db_cursor price_cursor;
	int price_node_logged;
	bool intake_ready, rows_ready, agg_ready, outbox_ready, history_ready;
	time_t next_summary;
	time_t next_stats;
	time_t refused_logged_at;
	uint64_t refused_suppressed;
	time_t first_callback;
	bool tick_seen, tick_checked;
};

static void log_sink(int level, const char *line)
{
	mosquitto_log_printf(level, "%s", line);
}

static void drain_log(struct lowi_plugin *p)
{
	if (log_queue_maybe_lines(&p->log))
		log_queue_drain(&p->log, log_sink);
	if (reject_log_pending(&p->rejects))
		reject_log_flush(&p->rejects, time(NULL), log_sink);
}

static void log_status_line(void *when, const char *text)
{
	mosquitto_log_printf(MOSQ_LOG_NOTICE, PREFIX "%s: %s", (const char *)when, text);
}

/* The gauges are sampled here, when a status line or the JSON is made. */
static void sample_gauges(struct lowi_plugin *p)
{
	atomic_store(&p->stats.rows_pending, p->rows_ready ? row_queue_length(&p->rows) : 0);
}

static void log_summary(struct lowi_plugin *p, const char *when)
{
	sample_gauges(p);
	stats_format_lines(&p->stats, log_status_line, (void *)when);
}

/* Counters on a retained topic, for MQTT Explorer or Home Assistant. */
static void publish_stats(struct lowi_plugin *p, const char *state)
{
	char topic[1100], json[4096];
	snprintf(topic, sizeof(topic), "%s/stats", p->cfg.stats_prefix);
	sample_gauges(p);
	int n = snprintf(json, sizeof(json), "{\"state\":\"%s\",\"time\":%lld,", state, (long long)time(NULL));
	int m = stats_format_json(&p->stats, json + n, sizeof(json) - (size_t)n - 1);
	if (m < 0)
		return;
	n += m;
	json[n++] = '}';
	mosquitto_broker_publish_copy(NULL, topic, n, json, 0, true, NULL);
}

/* Without ticks (per_listener_settings true, when the start-up check could
 * not read the broker's configuration), lines wait for the next message. */
static void check_ticks(struct lowi_plugin *p, time_t now)
{
	if (p->first_callback == 0)
		p->first_callback = now;
	if (p->tick_checked || now - p->first_callback < TICK_EXPECTED_S)
		return;
	p->tick_checked = true;
	if (p->tick_seen)
		return;
	stat_add(&p->stats.config_warnings, 1);
	mosquitto_log_printf(MOSQ_LOG_WARNING, PREFIX "the broker has not ticked this plugin in %d s (per_listener_settings"
		" true?): its log lines and stats wait for messages on its listener; set per_listener_settings false"
		" (README, Installation)", TICK_EXPECTED_S);
}

/* What the aggregator wants said; QoS 0, as the broker's own $SYS
 * messages: a live state is replaced by the next one anyway. */
static void publish_outbox(struct lowi_plugin *p)
{
	struct outbox_msg m;
	for (int n = 0; n < OUTBOX_PER_CALLBACK && outbox_next(&p->outbox, &m); n++)
		mosquitto_broker_publish_copy(NULL, m.topic, (int)m.payload_len, m.payload, 0, m.retain, NULL);
}

static void housekeeping(struct lowi_plugin *p)
{
	drain_log(p);
	if (p->outbox_ready)
		publish_outbox(p);
	time_t now = time(NULL);
	check_ticks(p, now);
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

static int on_message(int event, void *event_data, void *userdata)
{
	struct lowi_plugin *p = userdata;
	const struct mosquitto_evt_message *msg = event_data;
	(void)event;

	housekeeping(p);
	if (msg->topic == NULL)
		return MOSQ_ERR_SUCCESS;
	size_t topic_len = strlen(msg->topic);
	if (!topic_prefilter_pass(&p->prefilter, msg->topic, topic_len))
		return MOSQ_ERR_SUCCESS;
	if (intake_push(&p->intake, msg->topic, topic_len, msg->payload, msg->payloadlen, LOWI_PAYLOAD_MAX_BYTES, wall_clock_ms()))
		return MOSQ_ERR_SUCCESS;
	stat_add(&p->stats.messages_not_recorded, 1);
	time_t now = time(NULL);
	if (p->refused_logged_at != 0 && now - p->refused_logged_at < REFUSED_LOG_INTERVAL_S) {
		p->refused_suppressed++;
		return MOSQ_ERR_SUCCESS;
	}
	mosquitto_log_printf(MOSQ_LOG_ERR, PREFIX "message on '%.100s' not recorded: %zu MiB of messages wait for the"
		" aggregator thread (%" PRIu64 " not recorded so far, %" PRIu64 " since the last such line)", msg->topic,
		INTAKE_MAX_BYTES >> 20, atomic_load(&p->stats.messages_not_recorded), p->refused_suppressed);
	p->refused_logged_at = now;
	p->refused_suppressed = 0;
	return MOSQ_ERR_SUCCESS;
}

static int on_tick(int event, void *event_data, void *userdata)
{
	struct lowi_plugin *p = userdata;
	(void)event;
	(void)event_data;
	p->tick_seen = true;
	housekeeping(p);
	return MOSQ_ERR_SUCCESS;
}

/* A reload (SIGHUP, as logrotate sends) reaches the plugin even where ticks
 * do not (per_listener_settings true). DEFER: mosquitto 2.0.11 ends a
 * listener's reload callbacks at the first that returns anything else, and
 * skips the other plugins' reload with them. */
static int on_reload(int event, void *event_data, void *userdata)
{
	(void)event;
	(void)event_data;
	housekeeping(userdata);
	return MOSQ_ERR_PLUGIN_DEFER;
}

static void unregister_callbacks(mosquitto_plugin_id_t *id)
{
	mosquitto_callback_unregister(id, MOSQ_EVT_MESSAGE, on_message, NULL);
	mosquitto_callback_unregister(id, MOSQ_EVT_TICK, on_tick, NULL);
	mosquitto_callback_unregister(id, MOSQ_EVT_RELOAD, on_reload, NULL);
}

/* Resumed meters hold no max_meters slot until they publish (meters.h).
 * Their serials are folded as the topic folds them: a spool written before
 * serials were folded would otherwise resume a meter no reading finds. */
static struct meter *resume_serial(struct lowi_plugin *p, const char *saved)
{
	char serial[LOWI_SERIAL_MAX + 1];
	snprintf(serial, sizeof serial, "%s", saved);
	topic_serial_fold(serial);
	return meter_set_resume(&p->agg.meters, serial);
}

static void restore_meter(void *ctx, const struct meter *saved)
{
	struct meter *m = resume_serial(ctx, saved->serial);
	if (m != NULL)
		m->quarters = saved->quarters;
}

static void resume_meter(void *ctx, const struct conso_row *row)
{
	struct meter *m = resume_serial(ctx, row->serial);
	if (m != NULL)
		quarters_resume(&m->quarters, &row->q);
}

/* The spool holds what a previous run could not write and where each meter
 * was: meters resume from their last durable row. Without a usable spool
 * the plugin still runs, with rows waiting in memory only. */
static void open_spool(struct lowi_plugin *p)
{
	char err[1200];
	p->spool = spool_open(p->cfg.spool_dir, p->cfg.max_meters, (int64_t)p->cfg.meter_silence_days * 86400, err, sizeof(err));
	if (p->spool == NULL) {
		p->stats.spool_errors++;
		mosquitto_log_printf(MOSQ_LOG_ERR, PREFIX "%s: rows will wait in memory only while the database is away"
			" (plugin_opt_spool_dir must name a directory the mosquitto user can write)", err);
		return;
	}
	if (err[0] != '\0')
		mosquitto_log_printf(MOSQ_LOG_WARNING, PREFIX "%s", err);
	spool_each_last(p->spool, resume_meter, p);
	long live = spool_take_live(p->spool, restore_meter, p, err, sizeof(err));
	if (live < 0) {
		p->stats.spool_errors++;
		mosquitto_log_printf(MOSQ_LOG_ERR, PREFIX "%s", err);
	} else if (err[0] != '\0') {
		mosquitto_log_printf(MOSQ_LOG_WARNING, PREFIX "%s", err);
	}
	atomic_store(&p->stats.meters, meter_set_count(&p->agg.meters));
	mosquitto_log_printf(MOSQ_LOG_NOTICE, PREFIX "spool %s: %zu meters resume from their last durable row (%ld from"
		" their last reading, saved at a clean stop), %zu spooled files to replay; %zu meters forgotten (silent for"
		" more than %u days, plugin_opt_meter_silence_days, or the least recently heard beyond plugin_opt_max_meters)",
		p->cfg.spool_dir, spool_meters(p->spool), live < 0 ? 0 : live, spool_files(p->spool), spool_forgotten(p->spool),
		p->cfg.meter_silence_days);
}

static void save_live(struct lowi_plugin *p)
{
	char err[1200];
	/* Only when every row is durable: the saved state must never skip a row. */
	if (p->spool && row_queue_length(&p->rows) == 0 && spool_save_live(p->spool, &p->agg.meters, err, sizeof(err)) != 0) {
		p->stats.spool_errors++;
		mosquitto_log_printf(MOSQ_LOG_ERR, PREFIX "%s: after the restart meters resume from their last row", err);
	}
}

static void log_finding(void *ctx, int level, const char *text)
{
	struct lowi_plugin *p = ctx;
	if (level == MOSQ_LOG_WARNING)
		stat_add(&p->stats.config_warnings, 1);
	mosquitto_log_printf(level, PREFIX "%s", text);
}

/* What works but should not stay so: the options' own warnings, then what
 * the broker's configuration shows (per_listener_settings, who may read
 * the password). */
static void warn_at_start(struct lowi_plugin *p)
{
	for (unsigned i = 0; i < p->cfg.warning_count; i++)
		log_finding(p, MOSQ_LOG_WARNING, p->cfg.warnings[i]);
	struct broker_conf bc;
	broker_conf_read_own(&bc);
	broker_conf_report(&bc, p->cfg.db_password && !p->cfg.db_password_file, log_finding, p);
	/* Said already: the tick check would only repeat it. */
	p->tick_checked = bc.per_listener_settings;
}

int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
	for (int i = 0; i < supported_version_count; i++)
		if (supported_versions[i] == 5)
			return 5;
	return -1;
}

static void stop_prices(struct lowi_plugin *p);

/* Producers before consumers: the broker thread no longer pushes (callbacks
 * unregistered), the aggregator finishes the intake, then the writer. */
static void plugin_free(struct lowi_plugin *p)
{
	stop_prices(p);
	if (p->agg_ready)
		aggregator_free(&p->agg);
	db_writer_stop(p->writer);
	spool_close(p->spool);
	drain_log(p);
	if (p->rows_ready)
		row_queue_destroy(&p->rows);
	if (p->intake_ready)
		intake_destroy(&p->intake);
	if (p->outbox_ready)
		outbox_destroy(&p->outbox);
	if (p->history_ready)
		peak_history_destroy(&p->history);
	price_board_free(p->price_board);
	log_queue_destroy(&p->log);
	config_free(&p->cfg);
	free(p);
}

/* What the price worker gets from the plugin (struct price_host): its
 * settings, the log queue, a session as the writer's, its counters. */
static void price_log(void *ctx, int level, const char *fmt, ...)
{
	struct lowi_plugin *p = ctx;
	va_list ap;
	va_start(ap, fmt);
	log_queue_vpush(&p->log, level, fmt, ap);
	va_end(ap);
}

static bool prices_stopping(void *ctx)
{
	return atomic_load(&((struct lowi_plugin *)ctx)->prices_stopping);
}

/* Under a watch, as the writer's: a server that accepts and never answers
 * the handshake does not hold up the broker's stop. */
static MYSQL *price_db_connect(void *ctx, char *err, size_t errlen)
{
	struct lowi_plugin *p = ctx;
	unsigned errnum;
	struct worker_io_watch watch = { .socket_fd = NULL, .give_up = prices_stopping, .ctx = p };
	/* The worker opens a session only after closing the last one, which it
	 * closes only on a failure (or when it stops): that node goes last. */
	db_cursor_session_failed(&p->price_cursor, &p->cfg);
	MYSQL *m = db_connect_watched(&p->cfg, &p->price_cursor, &watch, 0, err, errlen, &errnum);
	if (m && p->price_cursor.in_use != p->price_node_logged) {
		char node[CONFIG_DB_HOST_MAX + 32];
		config_db_node_text(&p->cfg, (unsigned)p->price_cursor.in_use, node, sizeof(node));
		price_log(p, MOSQ_LOG_NOTICE, PREFIX "prices: database node %s%s%s", node, err[0] ? "; passed over: " : "", err);
		p->price_node_logged = p->price_cursor.in_use;
	}
	return m;
}

static void stop_prices(struct lowi_plugin *p)
{
	atomic_store(&p->prices_stopping, true);
	price_worker_stop(p->prices);
	p->prices = NULL;
}

/* Host name, process id and a random tag: unique among the brokers
 * sharing a database, even two containers with the same host name and
 * process id, and telling an operator which broker holds the lease. */
static void name_fetcher(struct lowi_plugin *p)
{
	char host[64] = "";
	uint32_t tag = 0;
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	if (getrandom(&tag, sizeof(tag), GRND_NONBLOCK) != (ssize_t)sizeof(tag))
		tag = (uint32_t)time(NULL) ^ (uint32_t)getpid() << 16;
	snprintf(p->fetcher, sizeof(p->fetcher), "%s:%ld:%08" PRIx32, host, (long)getpid(), tag);
}

static struct price_worker *start_prices(struct lowi_plugin *p)
{
	name_fetcher(p);
	db_cursor_init(&p->price_cursor);
	p->price_node_logged = -1;
	struct price_host host = {
		.source = (enum price_source)p->cfg.price_source,
		.url = p->cfg.price_url,
		.timeout_s = p->cfg.price_timeout_s,
		.first_day = civil_to_days(p->cfg.price_start_year, p->cfg.price_start_month, p->cfg.price_start_day),
		.ctx = p,
		.log = price_log,
		.db_connect = price_db_connect,
		.requests = &p->stats.price_requests,
		.failures = &p->stats.price_failures,
		.periods = &p->stats.price_periods,
		.db_errors = &p->stats.price_db_errors,
		/* Only the live states read the board. */
		.board = p->cfg.live ? p->price_board : NULL,
		.fetcher = p->fetcher,
		.lease_s = p->cfg.price_lease_s,
		.lease_takes = &p->stats.price_lease_takes,
	};
	return price_worker_start(&host);
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
	log_queue_init(&p->log);
	reject_log_init(&p->rejects);
	config_defaults(&p->cfg);
	for (int i = 0; i < option_count; i++) {
		if (config_set(&p->cfg, options[i].key, options[i].value, err, sizeof(err)) != 0)
			goto fail;
		/* The broker's copy of the password: mosquitto 2.0 reads plugin
		 * options only at start (a reload skips them) and hands them back
		 * only to mosquitto_plugin_cleanup, which ignores them. */
		if (strcmp(options[i].key, "db_password") == 0)
			explicit_bzero(options[i].value, strlen(options[i].value));
	}
	if (config_finish(&p->cfg, err, sizeof(err)) != 0)
		goto fail;
	topic_prefilter_init(&p->prefilter, p->cfg.topic);
	if ((p->price_board = price_board_new()) == NULL) {
		snprintf(err, sizeof(err), "out of memory");
		goto fail;
	}
	if (intake_init(&p->intake, INTAKE_MAX_BYTES) != 0) {
		snprintf(err, sizeof(err), "cannot allocate the message intake");
		goto fail;
	}
	p->intake_ready = true;
	if (row_queue_init(&p->rows, p->cfg.queue_rows) != 0) {
		snprintf(err, sizeof(err), "cannot allocate the row queue (plugin_opt_queue_rows %u)", p->cfg.queue_rows);
		goto fail;
	}
	p->rows_ready = true;
	aggregator_init(&p->agg, &p->cfg, &p->intake, &p->rows, &p->log, &p->rejects, &p->stats);
	p->agg_ready = true;
	if (p->cfg.live) {
		if (outbox_init(&p->outbox, OUTBOX_MAX_BYTES) != 0) {
			snprintf(err, sizeof(err), "cannot allocate the live message outbox");
			goto fail;
		}
		p->outbox_ready = true;
		if (peak_history_init(&p->history) != 0) {
			snprintf(err, sizeof(err), "cannot set up the stored peaks' hand-over");
			goto fail;
		}
		p->history_ready = true;
		aggregator_set_live(&p->agg, &p->outbox, &p->history, p->price_board);
	}
	/* Library set-up that is not thread-safe, before any thread starts. */
	if (mysql_library_init(0, NULL, NULL) != 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(err, sizeof(err), "cannot initialise the MariaDB or libcurl library");
		goto fail;
	}
	open_spool(p);
	p->writer = db_writer_start(&p->cfg, &p->rows, p->spool, p->history_ready ? &p->history : NULL, &p->log,
		&p->stats);
	if (p->writer == NULL) {
		snprintf(err, sizeof(err), "cannot start the database writer");
		goto fail;
	}
	if (aggregator_start(&p->agg) != 0) {
		snprintf(err, sizeof(err), "cannot start the aggregator thread");
		goto fail;
	}
	/* With price_source none too while live states are published: it keeps
	 * the price board they read from PxElectr. With neither, no thread
	 * needs a session of its own. */
	if (p->cfg.price_source != PRICE_SOURCE_NONE || p->cfg.live) {
		p->prices = start_prices(p);
		if (p->prices == NULL) {
			snprintf(err, sizeof(err), "cannot start the price worker");
			goto fail;
		}
	}
	if (mosquitto_callback_register(identifier, MOSQ_EVT_MESSAGE, on_message, NULL, p) != MOSQ_ERR_SUCCESS
		|| mosquitto_callback_register(identifier, MOSQ_EVT_TICK, on_tick, NULL, p) != MOSQ_ERR_SUCCESS
		|| mosquitto_callback_register(identifier, MOSQ_EVT_RELOAD, on_reload, NULL, p) != MOSQ_ERR_SUCCESS) {
		snprintf(err, sizeof(err), "cannot register broker callbacks");
		goto fail;
	}
	warn_at_start(p);
	mosquitto_log_printf(MOSQ_LOG_NOTICE, PREFIX "recording topic '%s' into MariaDB database '%s' on %s as %s",
		p->cfg.topic, p->cfg.db_name, p->cfg.db_socket ? p->cfg.db_socket : p->cfg.db_host, p->cfg.db_user);
	*userdata = p;
	return MOSQ_ERR_SUCCESS;

fail:
	drain_log(p);
	mosquitto_log_printf(MOSQ_LOG_ERR, PREFIX "%s", err);
	unregister_callbacks(identifier);
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
	unregister_callbacks(p->id);
	stop_prices(p);
	aggregator_stop(&p->agg);
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
