/* The worker-thread kit: the one reconnect schedule (README: 1 s doubling
 * to 60 s), and a worker's body running with every signal blocked. */
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>

#include "check.h"
#include "worker.h"

struct seen {
	bool ran;
	bool all_blocked;
};

static void body(void *arg)
{
	struct seen *s = arg;
	sigset_t mask;
	pthread_sigmask(SIG_BLOCK, NULL, &mask);
	s->all_blocked = sigismember(&mask, SIGINT) == 1 && sigismember(&mask, SIGTERM) == 1
		&& sigismember(&mask, SIGHUP) == 1 && sigismember(&mask, SIGUSR1) == 1;
	s->ran = true;
}

static int no_socket(void *ctx)
{
	(void)ctx;
	return -1;
}

int main(void)
{
	static const int expected[] = { 1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000 };
	struct worker_backoff b;
	worker_backoff_reset(&b);
	for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
		int ms = worker_backoff_next_ms(&b);
		CHECK(ms == expected[i], "failure %zu: %d ms, expected %d", i + 1, ms, expected[i]);
	}
	worker_backoff_reset(&b);
	CHECK(worker_backoff_next_ms(&b) == WORKER_BACKOFF_MIN_MS, "a success starts the schedule again");
	CHECK(WORKER_BACKOFF_MIN_MS == 1000 && WORKER_BACKOFF_MAX_MS == 60000, "the README's 1 s to 60 s");

	struct seen s = { false, false };
	pthread_t t;
	CHECK(worker_start(&t, body, &s) == 0, "thread started");
	worker_join(t, no_socket, NULL);
	CHECK(s.ran, "body ran before the join returned");
	CHECK(s.all_blocked, "signals blocked in the worker");
	sigset_t mine;
	pthread_sigmask(SIG_BLOCK, NULL, &mine);
	CHECK(sigismember(&mine, SIGINT) == 0, "the starting thread's mask is left as it was");
	return check_finish("worker");
}
