/* The price board; see price_board.h. */
#include "price_board.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* A period with the end it is looked up with: its own, or the next
 * period's start where the two overlap, so that the entries are sorted and
 * disjoint and one binary search answers. */
struct entry {
	struct price_board_period p;
	int64_t end_s;
};

struct price_board {
	pthread_mutex_t mu;
	struct entry *entries; /* under mu */
	size_t n;              /* under mu */
	_Atomic uint64_t generation;
};

struct price_board *price_board_new(void)
{
	struct price_board *b = calloc(1, sizeof(*b));
	if (b == NULL)
		return NULL;
	if (pthread_mutex_init(&b->mu, NULL) != 0) {
		free(b);
		return NULL;
	}
	atomic_init(&b->generation, 1);
	return b;
}

void price_board_free(struct price_board *b)
{
	if (b == NULL)
		return;
	pthread_mutex_destroy(&b->mu);
	free(b->entries);
	free(b);
}

static int by_start(const void *a, const void *b)
{
	int64_t x = ((const struct entry *)a)->p.start_s, y = ((const struct entry *)b)->p.start_s;
	return (x > y) - (x < y);
}

static bool same_period(const struct price_board_period *a, const struct price_board_period *b)
{
	return a->start_s == b->start_s && a->minutes == b->minutes && a->market_eur_mwh == b->market_eur_mwh
		&& a->buy_known == b->buy_known && a->sell_known == b->sell_known
		&& (!a->buy_known || a->buy_c_kwh == b->buy_c_kwh) && (!a->sell_known || a->sell_c_kwh == b->sell_c_kwh);
}

static bool same_content(const struct entry *a, size_t na, const struct entry *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (a[i].end_s != b[i].end_s || !same_period(&a[i].p, &b[i].p))
			return false;
	return true;
}

int price_board_replace(struct price_board *b, const struct price_board_period *periods, size_t n)
{
	struct entry *e = n ? calloc(n, sizeof(*e)) : NULL;
	if (n && e == NULL)
		return -1;
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (periods[i].minutes <= 0)
			continue;
		e[k].p = periods[i];
		/* Values of no meaning are not kept, so that comparing two
		 * contents compares only what readers see. */
		if (!e[k].p.buy_known)
			e[k].p.buy_c_kwh = 0;
		if (!e[k].p.sell_known)
			e[k].p.sell_c_kwh = 0;
		e[k].end_s = periods[i].start_s + (int64_t)periods[i].minutes * 60;
		k++;
	}
	if (k > 1)
		qsort(e, k, sizeof(*e), by_start);
	size_t m = 0;
	for (size_t i = 0; i < k; i++) {
		if (i + 1 < k && e[i + 1].p.start_s < e[i].end_s)
			e[i].end_s = e[i + 1].p.start_s;
		if (e[i].end_s > e[i].p.start_s)
			e[m++] = e[i];
	}
	if (m == 0) {
		free(e);
		e = NULL;
	}

	pthread_mutex_lock(&b->mu);
	if (same_content(b->entries, b->n, e, m)) {
		pthread_mutex_unlock(&b->mu);
		free(e);
		return 0;
	}
	struct entry *old = b->entries;
	b->entries = e;
	b->n = m;
	uint64_t g = atomic_load_explicit(&b->generation, memory_order_relaxed) + 1;
	atomic_store_explicit(&b->generation, g ? g : 1, memory_order_release);
	pthread_mutex_unlock(&b->mu);
	free(old);
	return 0;
}

/* Under mu: the answer for t and the interval [*from, *to) it holds for. */
static bool lookup(const struct price_board *b, int64_t t, struct price_board_period *out, int64_t *from, int64_t *to)
{
	/* lo = number of entries starting at or before t */
	size_t lo = 0, hi = b->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (b->entries[mid].p.start_s <= t)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo > 0 && t < b->entries[lo - 1].end_s) {
		*out = b->entries[lo - 1].p;
		*from = b->entries[lo - 1].p.start_s;
		*to = b->entries[lo - 1].end_s;
		return true;
	}
	*from = lo > 0 ? b->entries[lo - 1].end_s : INT64_MIN;
	*to = lo < b->n ? b->entries[lo].p.start_s : INT64_MAX;
	return false;
}

bool price_board_at(struct price_board *b, int64_t utc_s, struct price_board_period *out)
{
	int64_t from, to;
	pthread_mutex_lock(&b->mu);
	bool found = lookup(b, utc_s, out, &from, &to);
	pthread_mutex_unlock(&b->mu);
	return found;
}

uint64_t price_board_generation(const struct price_board *b)
{
	return atomic_load_explicit(&((struct price_board *)b)->generation, memory_order_acquire);
}

bool price_board_read(struct price_board *b, struct price_board_reader *r, int64_t utc_s,
	struct price_board_period *out)
{
	if (r->generation != 0 && r->generation == price_board_generation(b) && utc_s >= r->from_s && utc_s < r->to_s) {
		if (r->found)
			*out = r->period;
		return r->found;
	}
	pthread_mutex_lock(&b->mu);
	/* Taken with the content it describes: a replacement after the
	 * unlock changes it, and the next read searches again. */
	r->generation = atomic_load_explicit(&b->generation, memory_order_relaxed);
	r->found = lookup(b, utc_s, &r->period, &r->from_s, &r->to_s);
	pthread_mutex_unlock(&b->mu);
	if (r->found)
		*out = r->period;
	return r->found;
}

size_t price_board_span(struct price_board *b, int64_t *first_s, int64_t *end_s)
{
	pthread_mutex_lock(&b->mu);
	size_t n = b->n;
	*first_s = n ? b->entries[0].p.start_s : 0;
	*end_s = n ? b->entries[n - 1].end_s : 0;
	pthread_mutex_unlock(&b->mu);
	return n;
}
