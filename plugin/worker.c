/* The plugin's worker-thread kit; see worker.h. */
#include "worker.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <mysql.h>
#include <mysqld_error.h>

#include "brussels.h"

void worker_backoff_reset(struct worker_backoff *b)
{
	b->next_ms = WORKER_BACKOFF_MIN_MS;
}

int worker_backoff_next_ms(struct worker_backoff *b)
{
	int ms = b->next_ms < WORKER_BACKOFF_MIN_MS ? WORKER_BACKOFF_MIN_MS : b->next_ms;
	b->next_ms = ms > WORKER_BACKOFF_MAX_MS / 2 ? WORKER_BACKOFF_MAX_MS : ms * 2;
	return ms;
}

/* The hook has no context argument: the watch is per thread, and a handle
 * is only ever used on the thread that owns it. */
static _Thread_local const struct worker_io_watch *watching;

static int64_t monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The client's wait (plugins/pvio/pvio_socket.c of MariaDB Connector/C):
 * poll() for the direction asked, timeout_ms <= 0 meaning no limit;
 * returns > 0 when ready, 0 with errno ETIMEDOUT at the timeout, -1 on
 * error. Under a watch the socket is published first, and the wait goes in
 * slices so that give_up is seen within WORKER_WATCH_POLL_MS. */
static int io_wait(my_socket fd, my_bool is_read, int timeout_ms)
{
	const struct worker_io_watch *w = watching;
	if (w && w->socket_fd)
		atomic_store(w->socket_fd, (int)fd);
	bool sliced = w && w->give_up;
	int64_t deadline = timeout_ms > 0 ? monotonic_ms() + timeout_ms : -1;
	struct pollfd p = { .fd = (int)fd, .events = is_read ? POLLIN : POLLOUT };
	for (;;) {
		if (sliced && w->give_up(w->ctx)) {
			errno = ECANCELED;
			return -1;
		}
		int64_t left = deadline < 0 ? -1 : deadline - monotonic_ms();
		if (deadline >= 0 && left <= 0) {
			errno = ETIMEDOUT;
			return 0;
		}
		int wait = (int)left;
		if (sliced && (left < 0 || left > WORKER_WATCH_POLL_MS))
			wait = WORKER_WATCH_POLL_MS;
		int rc = poll(&p, 1, wait);
		if (rc > 0)
			return rc;
		if (rc < 0 && errno != EINTR)
			return -1;
	}
}

int worker_watch_io(MYSQL *m)
{
	return mysql_optionsv(m, MARIADB_OPT_IO_WAIT, io_wait) == 0 ? 0 : -1;
}

void worker_watch_begin(const struct worker_io_watch *watch)
{
	watching = watch;
}

void worker_watch_end(void)
{
	watching = NULL;
}

struct worker_run {
	void (*body)(void *);
	void *arg;
};

static void *worker_main(void *p)
{
	struct worker_run run = *(struct worker_run *)p;
	free(p);
	mysql_thread_init();
	run.body(run.arg);
	mysql_thread_end();
	return NULL;
}

bool worker_deadlock_retry(unsigned errnum, int *attempt, int retries)
{
	if (errnum != ER_LOCK_DEADLOCK || ++*attempt > retries)
		return false;
	struct timespec pause = { 0, *attempt * 20 * 1000 * 1000L };
	nanosleep(&pause, NULL);
	return true;
}

int worker_start(pthread_t *thread, void (*body)(void *), void *arg)
{
	struct worker_run *run = malloc(sizeof(*run));
	if (run == NULL)
		return ENOMEM;
	run->body = body;
	run->arg = arg;
	/* Blocked before the thread exists, so no signal can reach it in the
	 * moment before it could block them itself; it inherits this mask. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int rc = pthread_create(thread, NULL, worker_main, run);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
		free(run);
	return rc;
}

/* Polls rather than pthread_timedjoin_np: that one takes a deadline on
 * CLOCK_REALTIME, which glibc hands to the kernel as is, so a process
 * whose clock is set back (libfaketime in the tests) would shut the socket
 * at once, before a stopping worker could end its last statement. */
#define WORKER_JOIN_POLL_MS 10

void worker_join(pthread_t thread, int fd_if_stuck(void *), void *ctx)
{
	const struct timespec slice = { 0, WORKER_JOIN_POLL_MS * 1000 * 1000L };
	for (int waited_ms = 0; waited_ms < WORKER_STOP_GRACE_S * 1000; waited_ms += WORKER_JOIN_POLL_MS) {
		if (pthread_tryjoin_np(thread, NULL) == 0)
			return;
		nanosleep(&slice, NULL);
	}
	if (pthread_tryjoin_np(thread, NULL) == 0)
		return;
	int fd = fd_if_stuck(ctx);
	if (fd >= 0)
		shutdown(fd, SHUT_RDWR);
	pthread_join(thread, NULL);
}

void worker_db_time(MYSQL_TIME *t, int64_t utc_s, bool date_only)
{
	int64_t days = utc_s >= 0 ? utc_s / 86400 : -((-utc_s + 86399) / 86400);
	struct civil_date d = days_to_civil(days);
	int64_t sod = utc_s - days * 86400;
	memset(t, 0, sizeof(*t));
	t->year = (unsigned)d.year;
	t->month = (unsigned)d.month;
	t->day = (unsigned)d.day;
	if (date_only) {
		t->time_type = MYSQL_TIMESTAMP_DATE;
		return;
	}
	t->hour = (unsigned)(sod / 3600);
	t->minute = (unsigned)(sod / 60 % 60);
	t->second = (unsigned)(sod % 60);
	t->time_type = MYSQL_TIMESTAMP_DATETIME;
}
