/*
 * The price-worker thread; behaviour in price_worker.h.
 * State per Brussels day since price_start: minutes of the day covered by
 * stored periods (complete when equal to the day's length: 23, 24 or 25 h),
 * failed attempts, and when to try again. Only this thread touches it.
 */
#include "price_worker.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <mosquitto.h>
#include <mysql.h>

#include "brussels.h"
#include "deadline.h"
#include "price_fetch.h"
#include "price_lease.h"
#include "price_market.h"
#include "price_parse.h"
#include "price_retry.h"
#include "price_store.h"
#include "tariff.h"
#include "worker.h"

#define PREFIX LOWI_LOG_PREFIX "prices: "
#include "log_prefix.h"
#define LOG(w, level, ...) (w)->host.log((w)->host.ctx, (level), __VA_ARGS__)
#define ELIA_BASE "https://griddata.elia.be/eliabecontrols.prod/interface/Interconnections"
#define ENERGY_CHARTS_BASE "https://api.energy-charts.info"
#define PUBLICATION_S (13 * 3600)      /* results for tomorrow: ~12:55 Brussels */
#define TARIFF_CHECK_S 60
#define BOARD_REREAD_S 60              /* rows written by others show within this */
#define PROGRESS_EVERY_S 60
/* A day whose answer could not be used (malformed, no valid period) is
 * asked again after 30 s, doubling to 6 h; every failure also pauses all
 * requests (price_retry.h: 1 min doubling to 1 h). */
#define RETRY_MIN_S 30
#define RETRY_MAX_S (6 * 3600)
#define RETRY_TOMORROW_S 600           /* not yet published: ask again in 10 min */
#define ENERGY_CHARTS_GAP_S 30         /* 2 requests a minute at most */
#define ELIA_GAP_S 1
/* Added to every spacing: a server counting arrivals in a sliding minute
 * must never see three Energy-Charts requests in it, whatever the network
 * jitter between two of them. */
#define GAP_MARGIN_MS 250
#define ENERGY_CHARTS_MAX_DAYS 31

struct day_state {
	uint16_t minutes;   /* covered by stored periods */
	uint8_t attempts;
	int64_t next_try;   /* UTC seconds; 0 = now */
};

struct price_worker {
	struct price_host host;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	atomic_bool stop;
	_Atomic int db_socket;

	CURL *curl;
	struct price_store *store;
	struct tariff tariff;
	bool loaded;
	int64_t first_day;
	struct day_state *days;
	size_t ndays;
	int64_t last_request_ms, paused_until_ms; /* request spacing, UTC ms */
	int64_t next_tariff_check, next_progress;
	struct price_health health;               /* of the source: back-off, log lines */
	struct worker_backoff db_backoff;
	struct price_repeat db_lines, rate_lines; /* database errors, 429s: lines */
	int64_t db_retry_ms;                      /* no new session before (UTC ms) */
	char db_err[600];                         /* the last database error */
	/* The last failed request, logged by step() once the next attempt is known. */
	struct {
		bool pending, day_level;
		struct price_failure verdict;
		char url[1200];
		char detail[600];
	} failure;
	size_t fetched_since_progress;
	bool reported_up_to_date;
	int64_t board_day;                        /* Brussels day of the board's window; -1: not read */
	int64_t next_board_read;                  /* UTC s */
	struct price_lease lease;                 /* whether this worker fetches */
};

static int64_t day_start(int64_t day) { return brussels_local_to_utc(day, 0); }
static int64_t day_end(int64_t day) { return brussels_local_to_utc(day + 1, 0); }
static int day_minutes(int64_t day) { return (int)((day_end(day) - day_start(day)) / 60); }
static bool complete(const struct price_worker *w, int64_t day)
{
	return w->days[day - w->first_day].minutes >= day_minutes(day);
}

static int64_t today(int64_t now)
{
	struct civil_date d = brussels_date(now);
	return civil_to_days(d.year, d.month, d.day);
}

static void day_text(int64_t day, char out[16])
{
	struct civil_date d = days_to_civil(day);
	snprintf(out, 16, "%04d-%02d-%02d", d.year, d.month, d.day);
}

/* Sleeps until `until_ms` (UTC milliseconds, process clock), at most a
 * minute, or a stop. Callers recheck the clock and wait again: exact to the
 * millisecond, so a one-second spacing between requests is one second, not
 * up to two as whole-second arithmetic gives. */
static void wait_until_ms(struct price_worker *w, int64_t until_ms)
{
	int64_t left = until_ms - wall_clock_ms();
	if (left <= 0)
		return;
	struct timespec ts = deadline_after((int)(left > 60000 ? 60000 : left));
	pthread_mutex_lock(&w->mu);
	while (!atomic_load(&w->stop)) {
		if (pthread_cond_timedwait(&w->cv, &w->mu, &ts) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&w->mu);
}

/* Sleeps until `until` (UTC seconds), at most a minute, or a stop. */
static void wait_until(struct price_worker *w, int64_t until)
{
	wait_until_ms(w, until * 1000);
}

static int ensure_days(struct price_worker *w, int64_t last_day)
{
	size_t need = last_day >= w->first_day ? (size_t)(last_day - w->first_day + 1) : 0;
	if (need <= w->ndays)
		return 0;
	struct day_state *d = realloc(w->days, need * sizeof(*d));
	if (d == NULL)
		return -1;
	memset(d + w->ndays, 0, (need - w->ndays) * sizeof(*d));
	w->days = d;
	w->ndays = need;
	return 0;
}

static void close_store(struct price_worker *w)
{
	atomic_store(&w->db_socket, -1);
	price_store_close(w->store);
	w->store = NULL;
	w->loaded = false;
}

/* Every database failure of this thread, whatever the call (connecting,
 * reading what is stored, the formulas, storing prices): the session is
 * closed and the next one waits the plugin's reconnect back-off
 * (worker.h: 1 s doubling to a minute), which only a success resets. */
static void db_failed(struct price_worker *w, const char *err)
{
	close_store(w);
	atomic_fetch_add(w->host.db_errors, 1);
	int ms = worker_backoff_next_ms(&w->db_backoff);
	int64_t now_ms = wall_clock_ms();
	w->db_retry_ms = now_ms + ms;
	/* The same error again within a minute is only counted. */
	if (!price_repeat_note(&w->db_lines, err, now_ms / 1000))
		return;
	char count[32] = "";
	if (w->db_lines.count > 1)
		snprintf(count, sizeof(count), " (%u in a row)", w->db_lines.count);
	LOG(w, MOSQ_LOG_ERR, PREFIX "database: %.200s%s; reconnecting in %d s", err, count, (ms + 999) / 1000);
}

/* The database did what was asked of it: its back-off starts again. */
static void db_succeeded(struct price_worker *w)
{
	worker_backoff_reset(&w->db_backoff);
	unsigned n = price_repeat_reset(&w->db_lines);
	if (n)
		LOG(w, MOSQ_LOG_NOTICE, PREFIX "database usable again after %u error%s", n, n == 1 ? "" : "s");
}

static void log_tariff(struct price_worker *w)
{
	for (size_t i = 0; i < w->tariff.count; i++) {
		const struct tariff_row *r = &w->tariff.rows[i];
		char from[16];
		day_text(r->from_day, from);
		if (r->problem[0])
			LOG(w, MOSQ_LOG_ERR, PREFIX "FormPxElectr row %s is not used: %s; Buy/Sell of its periods are left as they are",
				from, r->problem);
	}
}

/* -1 with the reason in w->db_err on a database error. */
static int refresh_tariff(struct price_worker *w, bool force)
{
	uint64_t before = w->tariff.fingerprint;
	if (price_store_load_tariff(w->store, &w->tariff, w->db_err, sizeof(w->db_err)) != 0)
		return -1;
	w->next_tariff_check = time(NULL) + TARIFF_CHECK_S;
	if (!force && w->tariff.fingerprint == before)
		return 0;
	log_tariff(w);
	size_t updated;
	if (price_store_recompute(w->store, &w->tariff, &updated, w->db_err, sizeof(w->db_err)) != 0)
		return -1;
	if (updated || !force)
		LOG(w, MOSQ_LOG_NOTICE, PREFIX "contract formulas %s: Buy/Sell recomputed for %zu periods",
			force ? "checked" : "changed", updated);
	return 0;
}

/* Days [first, last] meet the board's window: yesterday to tomorrow. */
static bool meets_board_window(int64_t first, int64_t last, int64_t now)
{
	int64_t t = today(now);
	return first <= t + 1 && last >= t - 1;
}

static void time_text(int64_t utc_s, char out[24])
{
	struct civil_date d = days_to_civil(utc_s >= 0 ? utc_s / 86400 : 0);
	int64_t sod = utc_s >= 0 ? utc_s % 86400 : 0;
	snprintf(out, 24, "%04d-%02d-%02dT%02d:%02d:%02dZ", d.year % 10000, d.month % 13, d.day % 32,
		(int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60));
}

/* Replaces the board with the window's periods as stored; -1 with the
 * reason in w->db_err on a database error (the board keeps what it had:
 * a period's price does not change). A changed board gets a debug line
 * with the period of now, which the tests read. */
static int refresh_board(struct price_worker *w)
{
	struct price_board *b = w->host.board;
	int64_t now = time(NULL), t = today(now);
	if (b == NULL) {
		w->board_day = t;
		w->next_board_read = INT64_MAX;
		return 0;
	}
	struct price_board_period *p;
	size_t n;
	if (price_store_read_periods(w->store, day_start(t - 1), day_end(t + 1), &p, &n, w->db_err, sizeof(w->db_err)) != 0)
		return -1;
	uint64_t before = price_board_generation(b);
	int rc = price_board_replace(b, p, n);
	free(p);
	w->board_day = t;
	w->next_board_read = now + BOARD_REREAD_S;
	if (rc != 0) {
		LOG(w, MOSQ_LOG_ERR, PREFIX "out of memory for the price board; it keeps its previous periods");
		return 0;
	}
	if (price_board_generation(b) == before)
		return 0;
	int64_t first, end;
	size_t count = price_board_span(b, &first, &end);
	char a[24], z[24], at[24], now_text[160] = "none";
	struct price_board_period cur;
	time_text(first, a);
	time_text(end, z);
	time_text(now, at);
	if (price_board_at(b, now, &cur)) {
		char start[24], buy[32] = "NULL", sell[32] = "NULL";
		time_text(cur.start_s, start);
		if (cur.buy_known)
			snprintf(buy, sizeof(buy), "%.5f", cur.buy_c_kwh);
		if (cur.sell_known)
			snprintf(sell, sizeof(sell), "%.5f", cur.sell_c_kwh);
		snprintf(now_text, sizeof(now_text), "%s %d min %.3f EUR/MWh Buy %s Sell %s", start, cur.minutes,
			cur.market_eur_mwh, buy, sell);
	}
	LOG(w, MOSQ_LOG_DEBUG, PREFIX "price board: %zu periods from %s to %s; at %s: %s", count, count ? a : "-",
		count ? z : "-", at, now_text);
	return 0;
}

/* -1 with the reason in w->db_err. */
static int load_state(struct price_worker *w, int64_t last_day)
{
	snprintf(w->db_err, sizeof(w->db_err), "out of memory");
	if (ensure_days(w, last_day) != 0)
		return -1;
	uint16_t *counts = calloc(w->ndays ? w->ndays : 1, sizeof(*counts));
	if (counts == NULL)
		return -1;
	/* Minutes covered per day: sum of Minutes of the stored periods. */
	int rc = price_store_count_days(w->store, w->first_day, w->ndays, counts, w->db_err, sizeof(w->db_err));
	size_t done = 0;
	for (size_t i = 0; rc == 0 && i < w->ndays; i++) {
		w->days[i].minutes = counts[i];
		done += complete(w, w->first_day + (int64_t)i);
	}
	free(counts);
	if (rc != 0)
		return -1;
	char first[16], last[16];
	day_text(w->first_day, first);
	day_text(last_day, last);
	LOG(w, MOSQ_LOG_NOTICE, PREFIX "source %s; %zu of %zu days from %s to %s already stored",
		price_source_name(w->host.source), done, w->ndays, first, last);
	return refresh_tariff(w, true);
}

static void schedule_retry(struct price_worker *w, int64_t day, int64_t now, bool not_yet_published)
{
	struct day_state *d = &w->days[day - w->first_day];
	if (not_yet_published && day > today(now)) {
		d->next_try = now + RETRY_TOMORROW_S;
		return;
	}
	int64_t delay = RETRY_MIN_S;
	for (int i = 0; i < d->attempts && delay < RETRY_MAX_S; i++)
		delay *= 2;
	d->next_try = now + (delay > RETRY_MAX_S ? RETRY_MAX_S : delay);
	if (d->attempts < UINT8_MAX)
		d->attempts++;
}

/* Builds the URL for days [first, last] and the period expected. */
static void build_url(const struct price_worker *w, int64_t first, int64_t last, bool hourly, char *url, size_t len)
{
	char a[16], b[16];
	day_text(first, a);
	day_text(last, b);
	const char *base = w->host.url;
	if (w->host.source == PRICE_SOURCE_ENERGY_CHARTS)
		snprintf(url, len, "%s/price?bzn=BE&start=%s&end=%s", base ? base : ENERGY_CHARTS_BASE, a, b);
	else
		snprintf(url, len, "%s/daily/%s/%s", base ? base : ELIA_BASE, hourly ? "auctionresults" : "auctionresultsqh", a);
}

enum fetch_outcome {
	FETCH_STORED, FETCH_NOT_YET, FETCH_FAILED, FETCH_RATE_LIMITED, FETCH_DB_ERROR, FETCH_STOPPED,
	FETCH_NOT_HOLDER, /* the lease went to another worker: nothing was asked */
};

/* A request that failed: counted, the source paused (price_retry.h), and
 * its line kept for step() to log with the time of the next attempt.
 * day_level: the source answered, but not with usable prices for those
 * days, which then get their own back-off too. */
__attribute__((format(printf, 5, 6)))
static void request_failed(struct price_worker *w, const char *url, const char *kind, bool day_level,
	const char *fmt, ...)
{
	int64_t now_ms = wall_clock_ms();
	struct price_failure f = price_health_failed(&w->health, kind, now_ms / 1000);
	if (now_ms + f.wait_s * 1000 > w->paused_until_ms)
		w->paused_until_ms = now_ms + f.wait_s * 1000;
	atomic_fetch_add(w->host.failures, 1);
	w->failure.pending = true;
	w->failure.day_level = day_level;
	w->failure.verdict = f;
	snprintf(w->failure.url, sizeof(w->failure.url), "%s", url);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(w->failure.detail, sizeof(w->failure.detail), fmt, ap);
	va_end(ap);
}

/* A request that got a usable answer (prices, or "not published yet"). */
static void request_succeeded(struct price_worker *w)
{
	price_repeat_reset(&w->rate_lines);
	unsigned ended = price_health_succeeded(&w->health);
	if (ended)
		LOG(w, MOSQ_LOG_NOTICE, PREFIX "source reachable again after %u failure%s", ended, ended == 1 ? "" : "s");
}

/* Claims the lease (renews it, or tries for it) and says what changed;
 * -1 with the reason in w->db_err on a database error. Taking it makes the
 * day states be read again: the last holder stored days since. */
static int lease_claim(struct price_worker *w)
{
	bool held;
	char holder[PRICE_LEASE_HOLDER_MAX];
	int64_t sent_ms = wall_clock_ms();
	if (price_store_lease_claim(w->store, &held, holder, sizeof(holder), w->db_err, sizeof(w->db_err)) != 0)
		return -1;
	char before[PRICE_LEASE_HOLDER_MAX];
	snprintf(before, sizeof(before), "%s", w->lease.seen);
	switch (price_lease_answer(&w->lease, sent_ms, held, holder)) {
	case PRICE_LEASE_TAKEN:
		atomic_fetch_add(w->host.lease_takes, 1);
		w->loaded = false;
		LOG(w, MOSQ_LOG_NOTICE, PREFIX "this broker fetches the prices for the database (PriceFetcher holder %s%s%s)",
			w->lease.self, before[0] ? ", after " : "", before);
		break;
	case PRICE_LEASE_LOST:
		w->loaded = false;
		LOG(w, MOSQ_LOG_WARNING, PREFIX "%s has taken over fetching the prices (this broker's lease lapsed); this"
			" broker now reads what it stores", holder[0] ? holder : "another broker");
		break;
	case PRICE_LEASE_OTHER:
		LOG(w, MOSQ_LOG_NOTICE, PREFIX "%s fetches the prices for the database; this broker reads what it stores"
			" and takes over if that lease of %u s lapses", holder[0] ? holder : "another broker", w->host.lease_s);
		break;
	case PRICE_LEASE_KEPT:
	case PRICE_LEASE_WAITING:
		break;
	}
	return 0;
}

static enum fetch_outcome fetch_once(struct price_worker *w, int64_t first, int64_t last, bool hourly, size_t *stored)
{
	char url[1200];
	build_url(w, first, last, hourly, url, sizeof(url));
	int64_t gap = w->host.source == PRICE_SOURCE_ENERGY_CHARTS ? ENERGY_CHARTS_GAP_S : ELIA_GAP_S;
	int64_t ready_ms = w->last_request_ms + gap * 1000 + GAP_MARGIN_MS;
	if (ready_ms < w->paused_until_ms)
		ready_ms = w->paused_until_ms;
	/* The lease is renewed through the wait, which may be a source's
	 * pause of up to an hour: a holder waiting out a failing source keeps
	 * the job rather than hand it to a broker that would ask at once. The
	 * request ends within the lease, or is not sent. */
	int64_t request_ms = (int64_t)w->host.timeout_s * 1000;
	for (;;) {
		wait_until_ms(w, w->lease.next_claim_ms < ready_ms ? w->lease.next_claim_ms : ready_ms);
		if (atomic_load(&w->stop))
			return FETCH_STOPPED;
		int64_t now_ms = wall_clock_ms();
		bool ready = now_ms >= ready_ms;
		if (price_lease_due(&w->lease, now_ms) || (ready && !price_lease_covers(&w->lease, now_ms, request_ms))) {
			if (lease_claim(w) != 0)
				return FETCH_DB_ERROR;
			if (!w->lease.held)
				return FETCH_NOT_HOLDER;
		}
		if (ready)
			break;
	}
	if (!price_lease_covers(&w->lease, wall_clock_ms(), request_ms))
		return FETCH_NOT_HOLDER;

	struct http_response r;
	w->last_request_ms = wall_clock_ms();
	atomic_fetch_add(w->host.requests, 1);
	int rc = http_get(w->curl, url, w->host.timeout_s, &w->stop, &r);
	if (atomic_load(&w->stop)) {
		http_response_free(&r);
		return FETCH_STOPPED;
	}
	enum fetch_outcome out = FETCH_FAILED;
	if (rc != 0) {
		request_failed(w, url, r.error, false, " failed: %s", r.error);
	} else if (r.status == 429) {
		/* Retry-After is at most an hour (price_retry.h), so no overflow. */
		long after = r.retry_after_s > 0 ? r.retry_after_s : 60;
		w->paused_until_ms = wall_clock_ms() + (int64_t)after * 1000;
		if (price_repeat_note(&w->rate_lines, "429", w->last_request_ms / 1000)) {
			char count[32] = "";
			if (w->rate_lines.count > 1)
				snprintf(count, sizeof(count), " (%u in a row)", w->rate_lines.count);
			LOG(w, MOSQ_LOG_WARNING, PREFIX "GET %s: 429 Too Many Requests%s; pausing %ld s as asked%s", url, count,
				after, after == PRICE_RETRY_AFTER_MAX_S ? " (at most an hour)" : "");
		}
		out = FETCH_RATE_LIMITED;
	} else if (r.status == 404) {
		request_succeeded(w);
		LOG(w, MOSQ_LOG_NOTICE, PREFIX "GET %s: no prices yet (HTTP 404); asking again later", url);
		out = FETCH_NOT_YET;
	} else if (r.status != 200) {
		char kind[32];
		snprintf(kind, sizeof(kind), "HTTP %ld", r.status);
		request_failed(w, url, kind, false, ": HTTP %ld", r.status);
	} else {
		struct price_parse_result pr;
		int64_t from = day_start(first), to = day_end(last);
		enum price_parse_status st = w->host.source == PRICE_SOURCE_ENERGY_CHARTS
			? price_parse_energy_charts(r.body, r.len, from, to, &pr)
			: price_parse_elia(r.body, r.len, hourly ? 3600 : 900, from, to, &pr);
		if (st == PRICE_PARSE_MALFORMED) {
			request_failed(w, url, "answer rejected", true, ": answer rejected: %.100s", pr.reason);
		} else if ((st == PRICE_PARSE_NOT_YET || pr.count == 0) && pr.rejected) {
			request_failed(w, url, "no valid period", true, ": no valid period (%zu rejected: %.100s)",
				pr.rejected, pr.reason);
		} else if (st == PRICE_PARSE_NOT_YET || pr.count == 0) {
			request_succeeded(w);
			LOG(w, MOSQ_LOG_NOTICE, PREFIX "GET %s: no prices yet (empty answer); asking again later", url);
			out = FETCH_NOT_YET;
		} else {
			size_t formula_failures;
			request_succeeded(w);
			if (pr.rejected)
				LOG(w, MOSQ_LOG_WARNING, PREFIX "GET %s: %zu periods rejected (%s); the valid %zu are stored",
					url, pr.rejected, pr.reason, pr.count);
			if (price_store_put(w->store, pr.points, pr.count, price_source_name(w->host.source), &w->tariff,
					&formula_failures, w->db_err, sizeof(w->db_err)) != 0) {
				out = FETCH_DB_ERROR;
			} else {
				for (size_t i = 0; i < pr.count; i++) {
					struct civil_date d = brussels_date(pr.points[i].start_s);
					int64_t idx = civil_to_days(d.year, d.month, d.day) - w->first_day;
					if (idx >= 0 && (size_t)idx < w->ndays)
						w->days[idx].minutes = (uint16_t)(w->days[idx].minutes + pr.points[i].period_s / 60);
				}
				if (formula_failures)
					LOG(w, MOSQ_LOG_WARNING, PREFIX "%zu periods stored without Buy/Sell: no valid formula", formula_failures);
				atomic_fetch_add(w->host.periods, pr.count);
				*stored += pr.count;
				out = FETCH_STORED;
				db_succeeded(w);
			}
		}
		price_parse_result_free(&pr);
	}
	http_response_free(&r);
	return out;
}

/* Days [first, last] are fetched together (Energy-Charts) or one (Elia). */
static enum fetch_outcome fetch_days(struct price_worker *w, int64_t first, int64_t last, size_t *stored)
{
	bool hourly = price_market_period_s(first) == 3600;
	/* A day refetched is replaced: its minutes are counted again. */
	for (int64_t d = first; d <= last; d++)
		w->days[d - w->first_day].minutes = 0;
	enum fetch_outcome out = fetch_once(w, first, last, hourly, stored);
	if (w->host.source == PRICE_SOURCE_ELIA && !hourly && out == FETCH_NOT_YET)
		out = fetch_once(w, first, last, true, stored); /* quarter-hourly missing: hourly */
	return out;
}

static void report_progress(struct price_worker *w, int64_t now, int64_t last_day, bool force)
{
	if (!force && now < w->next_progress)
		return;
	size_t done = 0;
	int64_t newest = -1;
	for (int64_t d = w->first_day; d <= last_day; d++) {
		if (complete(w, d)) {
			done++;
			newest = d;
		}
	}
	char day[16] = "none";
	if (newest >= 0)
		day_text(newest, day);
	if (w->fetched_since_progress || force)
		LOG(w, MOSQ_LOG_NOTICE, PREFIX "%zu of %" PRId64 " days stored (latest %s); %zu periods fetched since the last report",
			done, last_day - w->first_day + 1, day, w->fetched_since_progress);
	w->fetched_since_progress = 0;
	w->next_progress = now + PROGRESS_EVERY_S;
}

/* When the next request may go out (UTC ms): the first incomplete day
 * due, not before the source's pause and the spacing of requests end. */
static int64_t next_attempt_ms(const struct price_worker *w, int64_t now_ms, int64_t last_day)
{
	int64_t due = INT64_MAX; /* UTC s */
	for (int64_t d = w->first_day; d <= last_day; d++) {
		const struct day_state *s = &w->days[d - w->first_day];
		if (!complete(w, d) && s->next_try < due)
			due = s->next_try;
	}
	int64_t next = due == INT64_MAX ? now_ms : due * 1000;
	int64_t gap = w->host.source == PRICE_SOURCE_ENERGY_CHARTS ? ENERGY_CHARTS_GAP_S : ELIA_GAP_S;
	int64_t ready = w->last_request_ms + gap * 1000 + GAP_MARGIN_MS;
	if (next < now_ms)
		next = now_ms;
	if (next < ready)
		next = ready;
	return next < w->paused_until_ms ? w->paused_until_ms : next;
}

/* The line of the failed request, when price_retry.h says to log it: one
 * line for failures of one kind in a row, with their count. */
static void log_failure(struct price_worker *w, int64_t last_day)
{
	const struct price_failure *f = &w->failure.verdict;
	w->failure.pending = false;
	if (!f->log)
		return;
	int64_t now_ms = wall_clock_ms(), next_ms = next_attempt_ms(w, now_ms, last_day);
	int64_t next = (next_ms + 999) / 1000;
	char in[32], at[24], count[48] = "";
	price_duration_text((next_ms - now_ms + 500) / 1000, in, sizeof(in));
	time_text(next, at);
	if (f->streak > 1)
		snprintf(count, sizeof(count), " (%u in a row)", f->streak);
	LOG(w, MOSQ_LOG_WARNING, PREFIX "GET %s%s%s; next attempt in %s, at %s", w->failure.url, w->failure.detail,
		count, in, at);
}

/* One scheduling step; returns when something was done or waited for. */
static void step(struct price_worker *w)
{
	int64_t now = time(NULL), t = today(now);
	int64_t last_day = now >= brussels_local_to_utc(t, PUBLICATION_S) ? t + 1 : t;
	if (ensure_days(w, last_day) != 0) {
		LOG(w, MOSQ_LOG_ERR, PREFIX "out of memory");
		wait_until(w, now + 60);
		return;
	}
	if (now >= w->next_tariff_check) {
		if (refresh_tariff(w, false) != 0) {
			db_failed(w, w->db_err);
			return;
		}
		/* The database answered everything asked of it since the
		 * session was opened a minute ago or more. */
		db_succeeded(w);
	}
	/* After the formulas: a recomputed Buy/Sell is read at once. */
	if ((now >= w->next_board_read || t != w->board_day) && refresh_board(w) != 0) {
		db_failed(w, w->db_err);
		return;
	}
	int64_t first = -1, next_wake = now + 300;
	for (int64_t d = w->first_day; d <= last_day; d++) {
		const struct day_state *s = &w->days[d - w->first_day];
		if (complete(w, d))
			continue;
		if (s->next_try <= now) {
			first = d;
			break;
		}
		if (s->next_try < next_wake)
			next_wake = s->next_try;
	}
	if (first < 0) {
		if (!w->reported_up_to_date) {
			report_progress(w, now, last_day, true);
			w->reported_up_to_date = true;
		}
		int64_t publication = brussels_local_to_utc(t, PUBLICATION_S);
		if (now < publication && publication < next_wake)
			next_wake = publication;
		if (w->next_tariff_check < next_wake)
			next_wake = w->next_tariff_check;
		if (w->next_board_read < next_wake)
			next_wake = w->next_board_read;
		if ((w->lease.next_claim_ms + 999) / 1000 < next_wake)
			next_wake = (w->lease.next_claim_ms + 999) / 1000;
		wait_until(w, next_wake);
		return;
	}
	w->reported_up_to_date = false;
	int64_t last = first;
	if (w->host.source == PRICE_SOURCE_ENERGY_CHARTS) {
		/* One request for a run of missing days, never across the change
		 * from hourly to quarter-hourly periods. */
		while (last + 1 <= last_day && last + 1 - first < ENERGY_CHARTS_MAX_DAYS && !complete(w, last + 1)
			&& price_market_period_s(last + 1) == price_market_period_s(first))
			last++;
	}
	size_t stored = 0;
	w->failure.pending = false;
	enum fetch_outcome out = fetch_days(w, first, last, &stored);
	w->fetched_since_progress += stored;
	now = time(NULL);
	for (int64_t d = first; d <= last; d++) {
		struct day_state *s = &w->days[d - w->first_day];
		if (out == FETCH_STOPPED || out == FETCH_RATE_LIMITED || out == FETCH_NOT_HOLDER)
			continue;
		if (complete(w, d)) {
			s->attempts = 0;
			s->next_try = 0;
		} else if (out == FETCH_FAILED && !w->failure.day_level) {
			/* The source, not the day: asked again when the source's
			 * pause ends, after any other day then due, so that a day
			 * the source always fails on cannot hold up the others. */
			s->next_try = (w->paused_until_ms + 999) / 1000 + 1;
		} else {
			schedule_retry(w, d, now, out == FETCH_NOT_YET);
		}
	}
	if (w->failure.pending)
		log_failure(w, last_day);
	if (out == FETCH_STORED && meets_board_window(first, last, now) && refresh_board(w) != 0)
		out = FETCH_DB_ERROR;
	if (out == FETCH_DB_ERROR)
		db_failed(w, w->db_err);
	report_progress(w, now, last_day, false);
}

/* The database session, opened when there is none: false when it could not
 * be (or its back-off after a failure is still running: waited on here),
 * for the caller to look at the stop flag and come back. */
static bool store_ready(struct price_worker *w)
{
	if (w->store != NULL)
		return true;
	if (wall_clock_ms() < w->db_retry_ms) {
		wait_until_ms(w, w->db_retry_ms);
		return false;
	}
	w->store = price_store_open(&w->host, w->db_err, sizeof(w->db_err));
	/* A set-up the stop cut short is no database error. */
	if (w->store == NULL && atomic_load(&w->stop))
		return false;
	if (w->store == NULL) {
		db_failed(w, w->db_err);
		return false;
	}
	atomic_store(&w->db_socket, price_store_socket(w->store));
	return true;
}

/* Reads the board again when it is due (every minute, and at midnight),
 * or when it has no period of now; false after a database failure, which
 * is handled. */
static bool board_kept(struct price_worker *w)
{
	int64_t now = time(NULL);
	struct price_board_period cur;
	bool lacking = w->host.board && !price_board_at(w->host.board, now, &cur);
	if (!lacking && now < w->next_board_read && today(now) == w->board_day)
		return true;
	if (refresh_board(w) != 0) {
		db_failed(w, w->db_err);
		return false;
	}
	db_succeeded(w);
	return true;
}

/* With no source: the board only, read again every minute, so that prices
 * the operator stores in PxElectr show without a restart. */
static void board_only_main(struct price_worker *w)
{
	LOG(w, MOSQ_LOG_NOTICE, PREFIX "source none: nothing is fetched; the price board is read from PxElectr");
	while (w->host.board && !atomic_load(&w->stop)) {
		if (!store_ready(w) || !board_kept(w))
			continue;
		wait_until(w, w->next_board_read);
	}
	close_store(w);
}

/* While another worker holds the lease: the board only, as with no
 * source, until the next attempt at the lease. A board without the
 * period of now is read again at every attempt: the holder is still
 * fetching, and its prices show a third of a lease later, not a minute. */
static void follow(struct price_worker *w)
{
	if (!board_kept(w))
		return;
	int64_t until_ms = w->lease.next_claim_ms;
	if (w->next_board_read < INT64_MAX / 1000 && w->next_board_read * 1000 < until_ms)
		until_ms = w->next_board_read * 1000;
	wait_until_ms(w, until_ms);
}

/* A stopping holder gives the lease back, so that another broker takes
 * over at its next attempt rather than when the lease lapses. */
static void lease_release(struct price_worker *w)
{
	if (!w->lease.held || w->store == NULL)
		return;
	if (price_store_lease_release(w->store, w->db_err, sizeof(w->db_err)) != 0) {
		LOG(w, MOSQ_LOG_WARNING, PREFIX "could not give the fetching lease back (%.200s); another broker takes"
			" over when it lapses", w->db_err);
		return;
	}
	price_lease_released(&w->lease);
	LOG(w, MOSQ_LOG_NOTICE, PREFIX "fetching lease given back");
}

static void price_main(void *arg)
{
	struct price_worker *w = arg;
	if (w->host.source == PRICE_SOURCE_NONE) {
		board_only_main(w);
		return;
	}
	w->curl = curl_easy_init();
	if (w->curl == NULL)
		LOG(w, MOSQ_LOG_ERR, PREFIX "cannot create a libcurl handle; no prices will be fetched");

	while (w->curl && !atomic_load(&w->stop)) {
		if (!store_ready(w))
			continue;
		if (price_lease_due(&w->lease, wall_clock_ms()) && lease_claim(w) != 0) {
			db_failed(w, w->db_err);
			continue;
		}
		if (!w->lease.held) {
			follow(w);
			continue;
		}
		if (!w->loaded) {
			int64_t now = time(NULL), t = today(now);
			if (load_state(w, now >= brussels_local_to_utc(t, PUBLICATION_S) ? t + 1 : t) != 0
				|| refresh_board(w) != 0) {
				db_failed(w, w->db_err);
				continue;
			}
			w->loaded = true;
		}
		step(w);
	}
	lease_release(w);
	close_store(w);
	if (w->curl)
		curl_easy_cleanup(w->curl);
}

struct price_worker *price_worker_start(const struct price_host *host)
{
	struct price_worker *w = calloc(1, sizeof(*w));
	if (w == NULL) {
		host->log(host->ctx, MOSQ_LOG_ERR, PREFIX "out of memory");
		return NULL;
	}
	w->host = *host;
	worker_backoff_reset(&w->db_backoff);
	price_health_init(&w->health);
	w->first_day = host->first_day;
	w->board_day = -1;
	price_lease_init(&w->lease, host->fetcher ? host->fetcher : "", host->lease_s);
	tariff_init(&w->tariff);
	atomic_init(&w->stop, false);
	atomic_init(&w->db_socket, -1);
	pthread_mutex_init(&w->mu, NULL);
	monotonic_cond_init(&w->cv);
	int rc = worker_start(&w->thread, price_main, w);
	if (rc != 0) {
		host->log(host->ctx, MOSQ_LOG_ERR, PREFIX "cannot start the price worker thread: %s", strerror(rc));
		pthread_cond_destroy(&w->cv);
		pthread_mutex_destroy(&w->mu);
		free(w);
		return NULL;
	}
	return w;
}

static int worker_socket(void *ctx)
{
	return atomic_load(&((struct price_worker *)ctx)->db_socket);
}

void price_worker_stop(struct price_worker *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	atomic_store(&w->stop, true);
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	worker_join(w->thread, worker_socket, w);
	tariff_free(&w->tariff);
	free(w->days);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w);
}
