/* The price-fetching lease's bookkeeping; see price_lease.h. */
#include "price_lease.h"

#include <stdio.h>
#include <string.h>

/* Renewals (and attempts) per lease: a holder that misses two in a row,
 * a database outage or a stalled thread, still holds the lease at the
 * third. */
#define PRICE_LEASE_CLAIMS_PER_LEASE 3

void price_lease_init(struct price_lease *l, const char *self, unsigned lease_s)
{
	memset(l, 0, sizeof(*l));
	snprintf(l->self, sizeof(l->self), "%s", self);
	l->lease_ms = (int64_t)lease_s * 1000;
}

bool price_lease_due(const struct price_lease *l, int64_t now_ms)
{
	return now_ms >= l->next_claim_ms;
}

enum price_lease_change price_lease_answer(struct price_lease *l, int64_t sent_ms, bool held, const char *holder)
{
	bool was_held = l->held, same_other = strcmp(holder, l->seen) == 0;
	int64_t every = l->lease_ms / PRICE_LEASE_CLAIMS_PER_LEASE;
	l->held = held;
	l->next_claim_ms = sent_ms + (every > 0 ? every : 1);
	snprintf(l->seen, sizeof(l->seen), "%s", held ? l->self : holder);
	if (held) {
		/* The database's Until is its clock at the UPDATE plus the lease,
		 * and the UPDATE ran after sent_ms: counting from sent_ms ends
		 * no later, on any clock that runs at least as fast. */
		l->valid_until_ms = sent_ms + l->lease_ms;
		return was_held ? PRICE_LEASE_KEPT : PRICE_LEASE_TAKEN;
	}
	l->valid_until_ms = 0;
	if (was_held)
		return PRICE_LEASE_LOST;
	return same_other ? PRICE_LEASE_WAITING : PRICE_LEASE_OTHER;
}

bool price_lease_covers(const struct price_lease *l, int64_t now_ms, int64_t request_ms)
{
	return l->held && now_ms + request_ms < l->valid_until_ms;
}

void price_lease_released(struct price_lease *l)
{
	l->held = false;
	l->valid_until_ms = 0;
	l->next_claim_ms = 0;
}
