/*
 * The price-worker thread: keeps PxElectr filled with day-ahead prices
 * (EPEX SPOT Belgium) and the contract's Buy/Sell prices.
 *
 * Of the price workers sharing one database, only the holder of the
 * price-fetching lease (price_lease.h) does what follows; the others keep
 * their board from what it stores and try for the lease as it would
 * lapse. On start (and on taking the lease) the holder backfills every
 * Brussels day from host->first_day that is not complete in the database
 * (so a restart or a new holder resumes where the last stopped and
 * repeats no day already stored), then fetches tomorrow after the auction
 * results are published (about 13:00 Brussels time), retrying with
 * back-off until it is in. It honours each source's rate limit and
 * Retry-After, reloads FormPxElectr every minute and recomputes the periods
 * whose formula changed, and, when it stores prices, those whose day or
 * month average changed (tariff.h). It owns its MariaDB connection and
 * CURL handle.
 *
 * This header is the module's whole interface. What the worker needs from
 * the program that hosts it (settings, a log, a MariaDB session, counters)
 * comes in struct price_host, so the module knows nothing of the plugin's
 * configuration, log queue or statistics. Besides this, the module uses the
 * plugin's worker-thread kit (worker.h) and its pure calendar and clock
 * headers (brussels.h, deadline.h).
 *
 * It also keeps the host's price board (price_board.h) filled from PxElectr,
 * yesterday to the end of tomorrow in Brussels days: once it has a session,
 * after every store touching those days, every minute (formula changes,
 * rows written by others, the window moving at midnight). With
 * PRICE_SOURCE_NONE it fetches nothing and writes nothing: it only keeps
 * the board from what PxElectr holds.
 *
 * price_worker_start/stop are called on one thread (the broker thread:
 * plugin init and cleanup). curl_global_init and mysql_library_init must
 * have been called before start.
 */
#ifndef LOWI_PRICE_WORKER_H
#define LOWI_PRICE_WORKER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <mysql.h>

#include "price_board.h"
#include "price_source.h"

struct price_host {
	enum price_source source;  /* PRICE_SOURCE_NONE: only the board is kept */
	const char *url;           /* base URL; NULL: the source's public address */
	unsigned timeout_s;        /* one HTTP request, connection included */
	int64_t first_day;         /* first Brussels day kept, days since 1970-01-01 */

	void *ctx;                 /* passed to log and db_connect */
	/* A log line (level: a MOSQ_LOG_* value), from the worker's thread or
	 * the caller of price_worker_start. */
	void (*log)(void *ctx, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
	/* A MariaDB session with the schema in place and autocommit off, or
	 * NULL with a one-line reason in err. Called on the worker's thread,
	 * which then owns the session (mysql_close). */
	MYSQL *(*db_connect)(void *ctx, char *err, size_t errlen);
	/* Counters only the worker's thread adds to; anyone may read them. */
	_Atomic uint64_t *requests, *failures, *periods, *db_errors;
	/* Replaced by the worker's thread, read by any; NULL: none kept. Must
	 * outlive the worker. */
	struct price_board *board;
	/* The price-fetching lease (price_lease.h): this worker's name in
	 * PriceFetcher (unique among the brokers sharing the database), and
	 * the lease's length, longer than one request's timeout_s by half. */
	const char *fetcher;
	unsigned lease_s;
	_Atomic uint64_t *lease_takes;   /* times this worker took the lease */
};

struct price_worker;

/* The host is copied; url, ctx, the counters and the board must outlive the worker.
 * NULL (and a log line) when the thread cannot be started. */
struct price_worker *price_worker_start(const struct price_host *host);

/* Stops the thread within about two seconds, even during a hanging request
 * or query, joins it and frees everything. */
void price_worker_stop(struct price_worker *w);

#endif
