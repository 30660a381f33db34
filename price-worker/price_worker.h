/*
 * The price-worker thread: keeps PxElectr filled with day-ahead prices
 * (EPEX SPOT Belgium) and the contract's Buy/Sell prices.
 *
 * On start it backfills every Brussels day from plugin_opt_price_start that
 * is not complete in the database (so a restart resumes where it stopped
 * and repeats no day already stored), then fetches tomorrow after the
 * auction results are published (about 13:00 Brussels time), retrying with
 * back-off until it is in. It honours each source's rate limit and
 * Retry-After, reloads FormPxElectr every minute and recomputes the periods
 * whose formula changed. It owns its MariaDB connection and CURL handle and
 * logs only through the log queue.
 *
 * price_worker_start/stop are called on the broker thread (plugin init and
 * cleanup); cfg, lq and stats must outlive the worker. curl_global_init and
 * mysql_library_init must have been called before start.
 */
#ifndef LOWI_PRICE_WORKER_H
#define LOWI_PRICE_WORKER_H

#include "config.h"
#include "log_queue.h"
#include "stats.h"

struct price_worker;

/* NULL (and a line in lq) when the thread cannot be started. */
struct price_worker *price_worker_start(const struct lowi_config *cfg, struct log_queue *lq, struct lowi_stats *stats);

/* Stops the thread within about two seconds, even during a hanging request
 * or query, joins it and frees everything. */
void price_worker_stop(struct price_worker *w);

#endif
