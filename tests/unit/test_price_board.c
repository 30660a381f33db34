/* The price board: lookups at period boundaries, hourly and quarter-hourly
 * periods across the 2025-10-01 cut-over, the empty board, the generation,
 * the reader's cache, and replacement while another thread reads. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "brussels.h"
#include "check.h"
#include "price_board.h"
#include "price_market.h"

/* Two Brussels days, 2025-09-30 (24 hours) and 2025-10-01 (96 quarters),
 * shuffled; prices from the period's start and `version`, Buy unknown on
 * every 7th period. */
static size_t make_days(struct price_board_period *p, int version)
{
	size_t n = 0;
	for (int64_t day = PRICE_QUARTER_HOUR_FIRST_DAY - 1; day <= PRICE_QUARTER_HOUR_FIRST_DAY; day++) {
		int step = price_market_period_s(day);
		for (int64_t t = brussels_local_to_utc(day, 0); t < brussels_local_to_utc(day + 1, 0); t += step) {
			double price = (double)(t / 60 % 100000) / 8 + version * 1000;
			p[n] = (struct price_board_period){ .start_s = t, .minutes = step / 60, .market_eur_mwh = price,
				.buy_c_kwh = price / 10 + 1, .sell_c_kwh = price / 10 - 1, .buy_known = n % 7 != 3, .sell_known = true };
			n++;
		}
	}
	for (size_t i = n - 1; i > 0; i--) { /* fixed shuffle: the board sorts */
		size_t j = (i * 7919) % (i + 1);
		struct price_board_period tmp = p[i];
		p[i] = p[j];
		p[j] = tmp;
	}
	return n;
}

static bool same(const struct price_board_period *a, const struct price_board_period *b)
{
	return a->start_s == b->start_s && a->minutes == b->minutes && a->market_eur_mwh == b->market_eur_mwh
		&& a->buy_known == b->buy_known && a->sell_known == b->sell_known
		&& (!a->buy_known || a->buy_c_kwh == b->buy_c_kwh) && a->sell_c_kwh == b->sell_c_kwh;
}

static void test_empty(void)
{
	struct price_board *b = price_board_new();
	struct price_board_period out;
	struct price_board_reader r = PRICE_BOARD_READER_INIT;
	CHECK(price_board_generation(b) != 0, "a new board has a generation");
	CHECK(!price_board_at(b, 1759269600, &out), "empty board: nothing at 2025-09-30T22:00Z");
	CHECK(!price_board_read(b, &r, 0, &out), "empty board: nothing through a reader");
	uint64_t g = price_board_generation(b);
	CHECK(price_board_replace(b, NULL, 0) == 0 && price_board_generation(b) == g,
		"emptying an empty board changes nothing");
	price_board_free(b);
}

static void test_cut_over(void)
{
	struct price_board_period in[200], out;
	size_t n = make_days(in, 0);
	CHECK(n == 24 + 96, "%zu periods made", n);
	struct price_board *b = price_board_new();
	uint64_t g0 = price_board_generation(b);
	CHECK(price_board_replace(b, in, n) == 0, "replace");
	CHECK(price_board_generation(b) != g0, "a new content, a new generation");

	/* Every period answers for its first and last second and its middle. */
	size_t bad = 0;
	for (size_t i = 0; i < n; i++) {
		int64_t len = in[i].minutes * 60;
		int64_t at[3] = { in[i].start_s, in[i].start_s + len / 2, in[i].start_s + len - 1 };
		for (int k = 0; k < 3; k++)
			bad += !price_board_at(b, at[k], &out) || !same(&out, &in[i]);
	}
	CHECK(bad == 0, "%zu lookups answered another period", bad);

	int64_t cut = brussels_local_to_utc(PRICE_QUARTER_HOUR_FIRST_DAY, 0);
	CHECK(cut == 1759269600, "2025-10-01 starts at 2025-09-30T22:00Z in Brussels");
	CHECK(price_board_at(b, cut, &out) && out.start_s == cut && out.minutes == 15,
		"at the cut-over: the first quarter (start %lld, %d min)", (long long)out.start_s, out.minutes);
	CHECK(price_board_at(b, cut - 1, &out) && out.start_s == cut - 3600 && out.minutes == 60,
		"a second before: the last hour (start %lld, %d min)", (long long)out.start_s, out.minutes);
	CHECK(price_board_at(b, cut + 899, &out) && out.start_s == cut, "end of the first quarter");
	CHECK(price_board_at(b, cut + 900, &out) && out.start_s == cut + 900, "start of the second quarter");
	int64_t first = brussels_local_to_utc(PRICE_QUARTER_HOUR_FIRST_DAY - 1, 0);
	int64_t end = brussels_local_to_utc(PRICE_QUARTER_HOUR_FIRST_DAY + 1, 0);
	CHECK(!price_board_at(b, first - 1, &out), "nothing before the first period");
	CHECK(price_board_at(b, end - 1, &out) && out.start_s == end - 900, "last second of the last quarter");
	CHECK(!price_board_at(b, end, &out), "nothing from the end of the last period");
	size_t unknown = 0, wrong = 0;
	for (size_t i = 0; i < n; i++) {
		if (in[i].buy_known)
			continue;
		unknown++;
		wrong += !price_board_at(b, in[i].start_s, &out) || out.buy_known || !out.sell_known;
	}
	CHECK(unknown > 0 && wrong == 0, "of %zu periods stored without Buy, %zu read with one", unknown, wrong);
	int64_t from, to;
	CHECK(price_board_span(b, &from, &to) == n && from == first && to == end, "span: %lld to %lld",
		(long long)from, (long long)to);

	/* The same content again: the same generation; any change: a new one. */
	uint64_t g1 = price_board_generation(b);
	make_days(in, 0);
	CHECK(price_board_replace(b, in, n) == 0 && price_board_generation(b) == g1, "same content, same generation");
	in[5].sell_c_kwh += 0.00001;
	CHECK(price_board_replace(b, in, n) == 0 && price_board_generation(b) != g1, "one Sell changed, a new generation");
	CHECK(price_board_at(b, in[5].start_s, &out) && out.sell_c_kwh == in[5].sell_c_kwh, "and its new Sell is read");
	price_board_free(b);
}

/* Bad or odd periods: no length; overlapping ones; a duplicate start. */
static void test_odd_periods(void)
{
	struct price_board_period in[] = {
		{ .start_s = 36000, .minutes = 60, .market_eur_mwh = 1 },  /* 10:00-11:00, overlapped from 10:30 */
		{ .start_s = 37800, .minutes = 15, .market_eur_mwh = 2 },  /* 10:30-10:45 */
		{ .start_s = 43200, .minutes = 0, .market_eur_mwh = 3 },   /* no length: left out */
		{ .start_s = 39600, .minutes = -15, .market_eur_mwh = 4 }, /* left out */
	};
	struct price_board *b = price_board_new();
	struct price_board_period out;
	price_board_replace(b, in, 4);
	CHECK(price_board_at(b, 36600, &out) && out.market_eur_mwh == 1, "10:10: the hour");
	CHECK(price_board_at(b, 37800, &out) && out.market_eur_mwh == 2, "10:30: the later start wins");
	CHECK(!price_board_at(b, 43200, &out) && !price_board_at(b, 39600, &out), "periods of no length are not held");
	int64_t from, to;
	CHECK(price_board_span(b, &from, &to) == 2, "two periods held");
	price_board_free(b);
}

static void test_reader(void)
{
	struct price_board_period in[3] = {
		{ .start_s = 0, .minutes = 15, .market_eur_mwh = 10, .sell_known = true, .sell_c_kwh = 1 },
		{ .start_s = 1800, .minutes = 15, .market_eur_mwh = 30, .buy_known = true, .buy_c_kwh = 3 },
	}, out;
	struct price_board *b = price_board_new();
	struct price_board_reader r = PRICE_BOARD_READER_INIT;
	price_board_replace(b, in, 2);
	CHECK(price_board_read(b, &r, 100, &out) && out.market_eur_mwh == 10, "first read");
	CHECK(!price_board_read(b, &r, 1000, &out), "in the gap between two periods: none");
	CHECK(r.from_s == 900 && r.to_s == 1800, "the gap is remembered as [%lld, %lld)", (long long)r.from_s,
		(long long)r.to_s);
	CHECK(!price_board_read(b, &r, 1799, &out), "still the gap");
	CHECK(price_board_read(b, &r, 1800, &out) && out.market_eur_mwh == 30 && out.buy_c_kwh == 3,
		"leaving the gap: the next period");

	/* The gap filled while the reader holds the next period's answer. */
	in[2] = (struct price_board_period){ .start_s = 900, .minutes = 15, .market_eur_mwh = 20 };
	in[1].market_eur_mwh = 31;
	price_board_replace(b, in, 3);
	CHECK(price_board_read(b, &r, 1801, &out) && out.market_eur_mwh == 31, "a new generation: read again");
	CHECK(price_board_read(b, &r, 1000, &out) && out.market_eur_mwh == 20, "the filled gap");
	CHECK(!price_board_read(b, &r, -1, &out) && !price_board_read(b, &r, 2700, &out), "before and after the board");
	price_board_free(b);
}

/* One thread replaces the board REPLACEMENTS times, alternating two
 * versions; the other reads: every answer is one whole period of one
 * version, and the last reads see the last version. */
enum { REPLACEMENTS = 2000 };

struct stress {
	struct price_board *b;
	struct price_board_period v[2][200];
	size_t n;
	atomic_bool done;
};

static void *replacer(void *arg)
{
	struct stress *s = arg;
	for (int i = 0; i < REPLACEMENTS; i++)
		price_board_replace(s->b, s->v[i % 2], s->n);
	atomic_store(&s->done, true);
	return NULL;
}

static bool whole(const struct stress *s, const struct price_board_period *p)
{
	for (int v = 0; v < 2; v++)
		for (size_t i = 0; i < s->n; i++)
			if (same(p, &s->v[v][i]))
				return true;
	return false;
}

static void test_stress(void)
{
	static struct stress s;
	s.b = price_board_new();
	s.n = make_days(s.v[0], 0);
	make_days(s.v[1], 1);
	atomic_init(&s.done, false);
	int64_t first = brussels_local_to_utc(PRICE_QUARTER_HOUR_FIRST_DAY - 1, 0);
	int64_t span = brussels_local_to_utc(PRICE_QUARTER_HOUR_FIRST_DAY + 1, 0) - first;
	uint64_t g0 = price_board_generation(s.b);
	pthread_t t;
	CHECK(pthread_create(&t, NULL, replacer, &s) == 0, "replacing thread");
	struct price_board_reader r = PRICE_BOARD_READER_INIT;
	size_t reads = 0, torn = 0, backwards = 0;
	uint64_t last_g = g0;
	for (int64_t i = 0; !atomic_load(&s.done) || i % 1000; i++) {
		struct price_board_period a, c;
		int64_t at = first + (i * 7907) % span;
		uint64_t g = price_board_generation(s.b);
		backwards += g < last_g;
		last_g = g;
		if (price_board_at(s.b, at, &a))
			torn += !whole(&s, &a) || at < a.start_s || at >= a.start_s + a.minutes * 60;
		if (price_board_read(s.b, &r, at, &c))
			torn += !whole(&s, &c) || at < c.start_s || at >= c.start_s + c.minutes * 60;
		reads += 2;
	}
	pthread_join(t, NULL);
	CHECK(torn == 0, "%zu of %zu answers not one whole period holding the instant", torn, reads);
	CHECK(backwards == 0, "the generation never went back");
	CHECK(price_board_generation(s.b) - g0 == REPLACEMENTS, "one generation per replacement (%llu)",
		(unsigned long long)(price_board_generation(s.b) - g0));
	/* REPLACEMENTS is even: version 1 was stored last. */
	struct price_board_period c;
	size_t stale = 0;
	for (size_t i = 0; i < s.n; i++)
		stale += !price_board_read(s.b, &r, s.v[1][i].start_s, &c) || !same(&c, &s.v[1][i]);
	CHECK(stale == 0, "%zu cached answers from a replaced content", stale);
	price_board_free(s.b);
}

int main(void)
{
	test_empty();
	test_cut_over();
	test_odd_periods();
	test_reader();
	test_stress();
	return check_finish("price_board");
}
