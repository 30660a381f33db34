/* The price-fetching lease's bookkeeping (price_lease.h): the answers to a
 * claim, the renewal schedule, when a request may go out; then three
 * workers claiming against a model of the PriceFetcher row (the UPDATE's
 * rule on the database's clock), with delays between a claim's sending and
 * its execution, late renewals, deaths and stops: at no instant do two
 * workers believe they may send a request, and the one that believes so
 * is the row's holder with its Until still ahead. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "price_lease.h"

static void check_answers(void)
{
	struct price_lease l;
	price_lease_init(&l, "a:1:0001", 6);
	CHECK(price_lease_due(&l, 0) && !l.held && !price_lease_covers(&l, 0, 0), "a new lease is due at once, not held");
	CHECK(price_lease_answer(&l, 1000, false, "b:2:0002") == PRICE_LEASE_OTHER && !l.held
		&& strcmp(l.seen, "b:2:0002") == 0, "another holder: seen %s", l.seen);
	CHECK(!price_lease_due(&l, 2999) && price_lease_due(&l, 3000), "next attempt a third of the lease later (%lld)",
		(long long)l.next_claim_ms);
	CHECK(price_lease_answer(&l, 3000, false, "b:2:0002") == PRICE_LEASE_WAITING, "the same holder again: waiting");
	CHECK(price_lease_answer(&l, 5000, false, "c:3:0003") == PRICE_LEASE_OTHER, "a new holder: told");
	CHECK(price_lease_answer(&l, 7000, true, "a:1:0001") == PRICE_LEASE_TAKEN && l.held
		&& strcmp(l.seen, "a:1:0001") == 0, "taken");
	CHECK(price_lease_covers(&l, 7000, 5999) && !price_lease_covers(&l, 7000, 6000)
		&& !price_lease_covers(&l, 12000, 1000), "a request must end before the lease does, from the claim's sending");
	CHECK(price_lease_answer(&l, 9000, true, "a:1:0001") == PRICE_LEASE_KEPT && l.valid_until_ms == 15000,
		"renewed: until %lld", (long long)l.valid_until_ms);
	CHECK(price_lease_answer(&l, 11000, false, "b:2:0002") == PRICE_LEASE_LOST && !l.held
		&& !price_lease_covers(&l, 11000, 0), "lost");
	CHECK(price_lease_answer(&l, 13000, true, "a:1:0001") == PRICE_LEASE_TAKEN, "taken again");
	price_lease_released(&l);
	CHECK(!l.held && price_lease_due(&l, 13001) && !price_lease_covers(&l, 13001, 0), "released: not held, due");

	struct price_lease tiny;
	price_lease_init(&tiny, "x", 0);
	price_lease_answer(&tiny, 50, false, "");
	CHECK(tiny.next_claim_ms > 50, "a zero lease still waits before the next attempt");
	char long_name[300];
	memset(long_name, 'h', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	price_lease_init(&tiny, long_name, 6);
	CHECK(strlen(tiny.self) == PRICE_LEASE_HOLDER_MAX - 1, "a long name is cut to the column's width (%zu)",
		strlen(tiny.self));
}

/* The PriceFetcher row and its UPDATE, on the database's clock (ms). */
struct row {
	int holder; /* -1: nobody yet */
	int64_t until_ms;
};

static bool model_claim(struct row *r, int who, int64_t now_ms, int64_t lease_ms)
{
	if (r->holder == who || r->until_ms < now_ms) {
		r->holder = who;
		r->until_ms = now_ms + lease_ms;
		return true;
	}
	return false;
}

enum { WORKERS = 3, STEP_MS = 10, LEASE_S = 6, REQUEST_MS = 3000 };

struct sim_worker {
	struct price_lease lease;
	bool alive;
	int64_t stalled_until_ms; /* a thread that does nothing */
	int64_t db_away_until_ms; /* the database does not answer: claims fail */
	int64_t claim_exec_ms;    /* pending claim: executes then; 0 none */
	int64_t claim_sent_ms;
	int64_t retry_ms;         /* after a failed claim */
	int64_t request_end_ms;   /* a request in flight, ends then; 0 none */
};

static void check_contention(unsigned seed)
{
	struct row row = { -1, 0 };
	struct sim_worker w[WORKERS];
	char name[WORKERS][16];
	for (int i = 0; i < WORKERS; i++) {
		snprintf(name[i], sizeof(name[i]), "w%d", i);
		memset(&w[i], 0, sizeof(w[i]));
		price_lease_init(&w[i].lease, name[i], LEASE_S);
		w[i].alive = true;
	}
	srand(seed);
	unsigned overlaps = 0, stale = 0, requests = 0, takeovers = 0, revived = 0;
	int64_t last_request_end = 0;
	int last_requester = -1;
	for (int64_t now = 0; now < 3600 * 1000; now += STEP_MS) {
		for (int i = 0; i < WORKERS; i++) {
			struct sim_worker *s = &w[i];
			if (!s->alive) {
				if (rand() % 20000 == 0) { /* restarted: a new process, a fresh lease */
					memset(s, 0, sizeof(*s));
					price_lease_init(&s->lease, name[i], LEASE_S);
					s->alive = true;
					revived++;
				}
				continue;
			}
			if (rand() % 40000 == 0) { /* killed, with whatever was in flight */
				s->alive = false;
				continue;
			}
			if (rand() % 5000 == 0)
				s->stalled_until_ms = now + rand() % (LEASE_S * 2000);
			if (rand() % 5000 == 0)
				s->db_away_until_ms = now + rand() % (LEASE_S * 3000);
			if (now < s->stalled_until_ms)
				continue;
			if (s->claim_exec_ms && now >= s->claim_exec_ms && now < s->db_away_until_ms) {
				/* No answer: the lease is as it was; tried again (the
				 * worker's back-off starts at a second). */
				s->claim_exec_ms = 0;
				s->retry_ms = now + 1000;
			} else if (s->claim_exec_ms && now >= s->claim_exec_ms) {
				bool held = model_claim(&row, i, now, LEASE_S * 1000);
				s->claim_exec_ms = 0;
				/* The answer may come late too; modelled in the execution delay. */
				if (price_lease_answer(&s->lease, s->claim_sent_ms, held, row.holder >= 0 ? name[row.holder] : "")
					== PRICE_LEASE_TAKEN)
					takeovers++;
			}
			if (s->request_end_ms && now >= s->request_end_ms)
				s->request_end_ms = 0;
			if (!s->claim_exec_ms && price_lease_due(&s->lease, now) && now >= s->retry_ms) {
				s->claim_sent_ms = now;
				s->claim_exec_ms = now + STEP_MS + rand() % 800;
			}
			/* As the worker: a request only between claims, and only
			 * when the lease covers it. */
			if (!s->request_end_ms && !s->claim_exec_ms && !price_lease_due(&s->lease, now)
				&& price_lease_covers(&s->lease, now, REQUEST_MS)
				&& rand() % 50 == 0) {
				/* The request's window, judged against the row now. */
				if (row.holder != i || row.until_ms < now + REQUEST_MS)
					stale++;
				if (last_requester != i && last_requester >= 0 && now < last_request_end)
					overlaps++;
				s->request_end_ms = now + REQUEST_MS;
				last_request_end = s->request_end_ms;
				last_requester = i;
				requests++;
			}
		}
	}
	CHECK(requests > 100 && takeovers > 3, "seed %u: the model exercised the lease: %u requests, %u takeovers, %u restarts",
		seed, requests, takeovers, revived);
	CHECK(stale == 0, "seed %u: every request was sent by the row's holder with the whole request within Until (%u not)",
		seed, stale);
	CHECK(overlaps == 0, "seed %u: no request of one worker overlaps another's (%u did)", seed, overlaps);
}

int main(void)
{
	check_answers();
	for (unsigned seed = 1; seed <= 20; seed++)
		check_contention(seed);
	return check_finish("price_lease");
}
