/*
 * What the plugin's MariaDB worker threads (the database writer and the
 * price worker) share: how the thread runs, how it reconnects after a
 * failure, how it is stopped, and how it binds an instant. One rule for
 * both, so that an operator reading the log sees the same reconnect
 * timing from either.
 *
 * worker_start and worker_join are called on the thread that owns the
 * worker (the broker thread); the back-off functions on the worker's own
 * thread, each worker with its own struct worker_backoff. Nothing here
 * allocates memory the caller must free.
 */
#ifndef LOWI_WORKER_H
#define LOWI_WORKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <mysql.h>

/* Reconnect back-off: the first retry after 1 s, each further failure
 * doubles the wait, up to a minute; a success starts again from 1 s. The
 * README promises this schedule. A worker keeps one schedule for its
 * connection, whatever failed (the connect, the schema, a statement, a
 * COMMIT), and counts as a success only work actually done (the row writer:
 * a committed batch), never a connect alone: a server that takes
 * connections and refuses writes is then retried on the schedule, not in a
 * tight loop. */
#define WORKER_BACKOFF_MIN_MS 1000
#define WORKER_BACKOFF_MAX_MS 60000

/* A stopping worker has this long to finish on its own before its database
 * socket is shut down under it. */
#define WORKER_STOP_GRACE_S 2

struct worker_backoff {
	int next_ms; /* the wait before the next attempt */
};

/* What a worker watches while it sets up a MariaDB session: the client's
 * every wait on its socket (connect, handshake, the set-up statements)
 * publishes the socket in *socket_fd, so that worker_join can shut it down
 * even before the handshake ends, and gives up at once (the call fails)
 * when give_up(ctx) turns true, checked every WORKER_WATCH_POLL_MS: a stop
 * during a connection that hangs is not held up by it. */
struct worker_io_watch {
	_Atomic int *socket_fd;      /* NULL: not published */
	bool (*give_up)(void *ctx);  /* NULL: never */
	void *ctx;
};

#define WORKER_WATCH_POLL_MS 50

/* Sets the schedule back to its start: after a success, and before use. */
void worker_backoff_reset(struct worker_backoff *b);

/* The wait (ms) before retrying after a failure; the one after it doubles. */
int worker_backoff_next_ms(struct worker_backoff *b);

/* After a statement or transaction that lost a deadlock (errnum
 * ER_LOCK_DEADLOCK; on a Galera cluster also a lost certification, which
 * rolled it back): counts *attempt up and, while it is within retries,
 * pauses a little longer each time and returns true for the caller to run
 * it again. False at once for any other error, or when the retries are
 * spent. On the worker's own thread. */
bool worker_deadlock_retry(unsigned errnum, int *attempt, int retries);

/* Starts a thread that runs body(arg) with every signal blocked (the broker
 * handles them; a worker must never be picked to receive one) and between
 * mysql_thread_init and mysql_thread_end, which the MariaDB client wants
 * around any use of it on a thread it did not create. Returns
 * pthread_create's result (0 on success). */
int worker_start(pthread_t *thread, void (*body)(void *arg), void *arg);

/* Joins a worker that was asked to stop; when it is still busy after
 * WORKER_STOP_GRACE_S (a query hanging on a stalled server), shuts down its
 * database socket (fd_if_stuck(ctx), if >= 0) so the call fails at once. */
void worker_join(pthread_t thread, int fd_if_stuck(void *ctx), void *ctx);

/* Makes the MariaDB client wait through this kit on m's socket
 * (MARIADB_OPT_IO_WAIT): waits as the client's own (the same timeouts)
 * except while worker_watch_begin's watch is in force on the calling
 * thread. Call before mysql_real_connect, on the thread that owns m.
 * Returns 0, or -1 when the client refuses the option. */
int worker_watch_io(MYSQL *m);

/* Puts watch in force for the waits of this thread's MariaDB calls on
 * handles given to worker_watch_io, until worker_watch_end. The watch must
 * outlive that span. */
void worker_watch_begin(const struct worker_io_watch *watch);
void worker_watch_end(void);

/* A UTC instant (epoch seconds) as a bound DATETIME, or as a DATE: both
 * workers store UTC instants. Any thread. */
void worker_db_time(MYSQL_TIME *t, int64_t utc_s, bool date_only);

#endif
