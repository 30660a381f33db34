/*
 * The price board: the market periods around now (the price worker keeps
 * yesterday to the end of tomorrow, Brussels days) with their day-ahead
 * price and the contract's Buy/Sell, as stored in PxElectr, for threads
 * that must never wait on the database or the network (the aggregator
 * answers "what does energy cost now" on every reading from it).
 *
 * Threads: one writer (the price worker) replaces the whole content with
 * price_board_replace; any number of threads read it with price_board_at
 * or price_board_read. A read holds the board's mutex for a binary search
 * and a copy only; price_board_read, with a cache the caller owns, takes it
 * only when the generation changes or the instant leaves the interval its
 * last answer holds for, so a reader on every reading costs an atomic load
 * and two comparisons. price_board_new and price_board_free are called by
 * the board's owner (the plugin), free only once no thread uses it.
 *
 * Memory: the board owns its periods; replace copies what it is given,
 * lookups copy one period out. No I/O.
 */
#ifndef LOWI_PRICE_BOARD_H
#define LOWI_PRICE_BOARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One market period as stored in PxElectr. */
struct price_board_period {
	int64_t start_s;          /* DtTm: start, UTC seconds */
	int minutes;              /* Minutes: 60 before delivery day 2025-10-01, 15 from it */
	double market_eur_mwh;    /* price: EPEX SPOT Belgium day-ahead, €/MWh */
	double buy_c_kwh;         /* Buy, c€/kWh; meaningful only when buy_known */
	double sell_c_kwh;        /* Sell, c€/kWh; meaningful only when sell_known */
	bool buy_known, sell_known; /* false: NULL in PxElectr (no valid formula) */
};

/* A reader's own cache for price_board_read: zero it before the first use
 * (or use PRICE_BOARD_READER_INIT). Owned and touched by one thread only. */
struct price_board_reader {
	uint64_t generation;      /* of the board when the answer was taken; 0: none */
	int64_t from_s, to_s;     /* the answer holds for from_s <= t < to_s */
	bool found;
	struct price_board_period period;
};
#define PRICE_BOARD_READER_INIT { 0 }

struct price_board;

/* An empty board (generation 1), or NULL when out of memory. */
struct price_board *price_board_new(void);
void price_board_free(struct price_board *b);

/* Replaces the whole content with a copy of periods[0..n) (any order;
 * periods with minutes <= 0 are left out; where two overlap, the later
 * start wins from its start on). The generation changes only when the
 * content does. -1 when out of memory: the board keeps its old content. */
int price_board_replace(struct price_board *b, const struct price_board_period *periods, size_t n);

/* The period holding utc_s, copied to *out; false when none does. */
bool price_board_at(struct price_board *b, int64_t utc_s, struct price_board_period *out);

/* Changes each time price_board_replace changes the content; never 0. */
uint64_t price_board_generation(const struct price_board *b);

/* As price_board_at, through the reader's cache: the board is searched only
 * when its generation changed or utc_s left the interval of the last answer
 * (a period, or the gap between two). */
bool price_board_read(struct price_board *b, struct price_board_reader *r, int64_t utc_s,
	struct price_board_period *out);

/* Number of periods held and the first start and last end (UTC s; both 0
 * when empty), for log lines. */
size_t price_board_span(struct price_board *b, int64_t *first_s, int64_t *end_s);

#endif
