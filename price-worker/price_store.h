/*
 * The price worker's MariaDB side: which days are already stored, the
 * contract formulas, storing prices with their Buy/Sell, and recomputing
 * Buy/Sell when a formula changes. Prepared statements for every value.
 *
 * Price-worker thread only. The store owns its connection (from the host) and
 * statements; every call returns 0, or -1 with a reason in err, after
 * which the caller closes the store and reconnects later.
 */
#ifndef LOWI_PRICE_STORE_H
#define LOWI_PRICE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "price_board.h"
#include "price_parse.h"
#include "price_worker.h"
#include "tariff.h"

struct price_store;

/* A session from host->db_connect with the store's statements prepared. */
struct price_store *price_store_open(const struct price_host *host, char *err, size_t errlen);
void price_store_close(struct price_store *s);
/* Socket of the session, for the stopping thread to cut a hung query. */
int price_store_socket(const struct price_store *s);

/* minutes[i] = minutes of Brussels day first_day + i covered by stored periods. */
int price_store_count_days(struct price_store *s, int64_t first_day, size_t ndays, uint16_t *minutes, char *err, size_t errlen);

/* Reads FormPxElectr into t (emptied first). */
int price_store_load_tariff(struct price_store *s, struct tariff *t, char *err, size_t errlen);

/* Stores points in one transaction with Buy/Sell from the tariff. A period
 * whose formula fails keeps its previous Buy/Sell; *formula_failures counts
 * them. When a row reads day_avg or month_avg, the Brussels months the
 * points fall in are planned again (tariff_plan) in the same transaction:
 * their periods whose average changed get Buy/Sell anew. */
int price_store_put(struct price_store *s, const struct price_point *pts, size_t n, const char *source,
	const struct tariff *t, size_t *formula_failures, char *err, size_t errlen);

/* Recomputes Buy/Sell of every period whose fingerprint (tariff.h) differs
 * from the one the tariff gives it now; *updated counts them. Reads the
 * table a Brussels month at a time. Rows whose formula does not compile
 * are left untouched. */
int price_store_recompute(struct price_store *s, const struct tariff *t, size_t *updated, char *err, size_t errlen);

/* The periods starting in [from_s, to_s) (UTC s) as stored, in start order,
 * into a new array (*out, which the caller frees; NULL when none). */
int price_store_read_periods(struct price_store *s, int64_t from_s, int64_t to_s, struct price_board_period **out,
	size_t *n, char *err, size_t errlen);

/* Claims the price-fetching lease (price_lease.h) for host->fetcher, for
 * host->lease_s seconds from the server's clock: taken when it has lapsed
 * or was released, renewed when this fetcher holds it. *held tells which;
 * holder gets the name PriceFetcher holds afterwards (holder_len bytes). A
 * claim that loses to another node's at the same instant (a Galera
 * certification failure) is rolled back and is not an error: *held is
 * false. */
int price_store_lease_claim(struct price_store *s, bool *held, char *holder, size_t holder_len, char *err, size_t errlen);

/* Gives the lease back when host->fetcher holds it: another worker can
 * take it at its next attempt. */
int price_store_lease_release(struct price_store *s, char *err, size_t errlen);

#endif
