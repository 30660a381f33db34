/*
 * The price-fetching lease as one price worker sees it: whether this
 * worker is the one that fetches prices for the database, when to renew
 * or try for the lease, and whether a request may still go out.
 *
 * Several brokers may write to one database (or one Galera cluster): one
 * price worker at a time fetches and writes PxElectr, the others read
 * what it stores. The lease is the PriceFetcher row (sql/schema.sql),
 * claimed with a conditional UPDATE (price_store.h). Its holder renews it
 * every third of its length; the others try for it as often, and get it
 * once it has lapsed, or at once after its holder released it on a stop.
 * A request goes out only while the lease still has more than the
 * request's own time to run, as measured on this worker's clock from the
 * moment the claim was sent: never after the database's Until, whatever
 * the two clocks say.
 *
 * Pure bookkeeping: no I/O, no clock (times are given, in ms). One worker's
 * thread uses its own struct price_lease; nothing is allocated.
 */
#ifndef LOWI_PRICE_LEASE_H
#define LOWI_PRICE_LEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* PriceFetcher.Holder's width. */
#define PRICE_LEASE_HOLDER_MAX 100

struct price_lease {
	char self[PRICE_LEASE_HOLDER_MAX];    /* this worker's name as holder */
	int64_t lease_ms;
	bool held;
	int64_t valid_until_ms;               /* held: not later than the database's Until */
	int64_t next_claim_ms;                /* the next renewal or attempt; 0: now */
	char seen[PRICE_LEASE_HOLDER_MAX];    /* the holder last read; "" none yet */
};

/* What a claim's answer changed, for the log. */
enum price_lease_change {
	PRICE_LEASE_TAKEN,    /* this worker fetches from now on */
	PRICE_LEASE_KEPT,     /* renewed */
	PRICE_LEASE_LOST,     /* another worker took it: this one stops fetching */
	PRICE_LEASE_OTHER,    /* another worker holds it, a new one since the last claim */
	PRICE_LEASE_WAITING,  /* the same other worker still holds it */
};

/* self is cut to PRICE_LEASE_HOLDER_MAX - 1 bytes. */
void price_lease_init(struct price_lease *l, const char *self, unsigned lease_s);

/* Time to claim (renew, or try for) the lease. */
bool price_lease_due(const struct price_lease *l, int64_t now_ms);

/* The answer to a claim sent at sent_ms: held, and the holder the database
 * names now ("" when it could not be read). */
enum price_lease_change price_lease_answer(struct price_lease *l, int64_t sent_ms, bool held, const char *holder);

/* A request taking up to request_ms, starting at now_ms, ends within the
 * lease. */
bool price_lease_covers(const struct price_lease *l, int64_t now_ms, int64_t request_ms);

/* The lease was given back (the worker stops). */
void price_lease_released(struct price_lease *l);

#endif
