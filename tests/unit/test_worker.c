/* The worker-thread kit: the one reconnect schedule (README: 1 s doubling
 * to 60 s), a worker's body running with every signal blocked, and the
 * watch over a MariaDB connection set-up: against a loopback listener that
 * completes TCP connections and never sends MariaDB's greeting, the socket
 * is published before the handshake ends, a stop gives the connect up at
 * once, worker_join's shutdown of the published socket ends it too, and
 * without a watch the client's own timeout still applies. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

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

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A listener that never accepts: the kernel completes connections into its
 * backlog, and nothing is ever sent on them. */
static int silent_listener(int *port)
{
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(l, 16) != 0
		|| getsockname(l, (struct sockaddr *)&a, &len) != 0)
		return -1;
	*port = ntohs(a.sin_port);
	return l;
}

struct attempt {
	int port;
	unsigned timeout_s;
	bool watched;
	bool with_give_up;
	_Atomic bool stop;
	_Atomic int socket_fd;
	bool connected;
	double seconds;
};

static bool stop_asked(void *ctx)
{
	return atomic_load(&((struct attempt *)ctx)->stop);
}

static void connect_body(void *arg)
{
	struct attempt *a = arg;
	struct worker_io_watch watch = { .socket_fd = &a->socket_fd, .give_up = a->with_give_up ? stop_asked : NULL, .ctx = a };
	MYSQL *m = mysql_init(NULL);
	mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &a->timeout_s);
	mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &a->timeout_s);
	CHECK(worker_watch_io(m) == 0, "the client takes the I/O wait hook");
	if (a->watched)
		worker_watch_begin(&watch);
	double t0 = now_s();
	a->connected = mysql_real_connect(m, "127.0.0.1", "nobody", "x", NULL, (unsigned)a->port, NULL, 0) != NULL;
	a->seconds = now_s() - t0;
	worker_watch_end();
	atomic_store(&a->socket_fd, -1);
	mysql_close(m);
}

static int attempt_socket(void *ctx)
{
	return atomic_load(&((struct attempt *)ctx)->socket_fd);
}

static void init_attempt(struct attempt *a, int port, unsigned timeout_s, bool watched, bool with_give_up)
{
	a->port = port;
	a->timeout_s = timeout_s;
	a->watched = watched;
	a->with_give_up = with_give_up;
	atomic_init(&a->stop, false);
	atomic_init(&a->socket_fd, -1);
	a->connected = false;
	a->seconds = 0;
}

static void wait_published(struct attempt *a)
{
	for (int i = 0; i < 200 && atomic_load(&a->socket_fd) < 0; i++)
		usleep(10000);
}

static void connect_watch(void)
{
	int port, l = silent_listener(&port);
	CHECK(l >= 0, "loopback listener");
	if (l < 0)
		return;
	pthread_t t;

	/* A stop while the handshake hangs (timeout 30 s): given up at once. */
	struct attempt a;
	init_attempt(&a, port, 30, true, true);
	CHECK(worker_start(&t, connect_body, &a) == 0, "thread started");
	wait_published(&a);
	CHECK(atomic_load(&a.socket_fd) >= 0, "the socket is published before the handshake ends");
	usleep(200000);
	atomic_store(&a.stop, true);
	double t0 = now_s();
	worker_join(t, attempt_socket, &a);
	double took = now_s() - t0;
	CHECK(!a.connected && took < 0.5, "stop during the handshake: joined after %.3f s", took);

	/* Without give_up, worker_join's grace ends with a shutdown of the
	 * published socket, which ends the connect. */
	init_attempt(&a, port, 30, true, false);
	CHECK(worker_start(&t, connect_body, &a) == 0, "thread started");
	wait_published(&a);
	t0 = now_s();
	worker_join(t, attempt_socket, &a);
	took = now_s() - t0;
	CHECK(!a.connected && took >= WORKER_STOP_GRACE_S - 0.1 && took < WORKER_STOP_GRACE_S + 0.5,
		"shut down after the grace: joined after %.3f s", took);

	/* No watch in force: the hook waits as the client would, timeout
	 * included. */
	init_attempt(&a, port, 1, false, false);
	CHECK(worker_start(&t, connect_body, &a) == 0, "thread started");
	worker_join(t, attempt_socket, &a);
	CHECK(!a.connected && a.seconds >= 0.9 && a.seconds < WORKER_STOP_GRACE_S, "unwatched: the 1 s timeout applies (%.3f s)",
		a.seconds);
	close(l);
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

	connect_watch();
	return check_finish("worker");
}
