/*
 * Opening a MariaDB session for one of the plugin's worker threads, on one
 * of the database nodes of db_host: connect with the configured account and
 * timeouts, select the database, check that the node takes statements (a
 * Galera node outside the primary component does not), and create what is
 * missing of the schema of sql/schema.sql (idempotent statements).
 *
 * Call from the thread that will use the connection; the MYSQL handle is
 * owned by the caller (mysql_close). The thread must have called
 * mysql_thread_init. Error texts never contain the password.
 */
#ifndef LOWI_DB_CONNECT_H
#define LOWI_DB_CONNECT_H

#include <stddef.h>

#include <mysql.h>

#include "config.h"
#include "worker.h"

/*
 * Which of cfg->db_nodes a thread tries first (config.h: db_host lists the
 * nodes). Each thread that opens sessions owns one, zeroed or set by
 * db_cursor_init before its first attempt, and only that thread touches it.
 */
struct db_cursor {
	unsigned first;   /* the node the next attempt starts with */
	int in_use;       /* the node of the session last opened; -1: none */
};

void db_cursor_init(struct db_cursor *c);

/* The session opened last failed (a statement, COMMIT, or a connection
 * lost): the next attempt starts with the node after it, so a node that
 * just died is tried last. */
void db_cursor_session_failed(struct db_cursor *c, const struct lowi_config *cfg);

/* Returns a ready session, or NULL with a one-line reason in err and the
 * MariaDB error number in *errnum (0 when none). One attempt tries every
 * node once, from cursor->first on in list order (wrapping), until one
 * connects and completes the set-up (USE, schema): a node that answers
 * but refuses (a Galera node outside the primary component, error 1047)
 * counts as failed. On success cursor->in_use and cursor->first name the
 * node; err then holds the failures of the nodes tried before it (empty
 * when none), for the caller's log. Each node's connection waits up to
 * db_timeout, so an unreachable node (no answer at all) delays the next
 * one by that much.
 *
 * client_flags are given to the client (CLIENT_FOUND_ROWS, ...). When
 * watch is not NULL, each node's whole set-up (connect, handshake, USE,
 * schema) runs under that watch (worker.h): the socket is published as
 * soon as it exists and reset to -1 before a failed set-up closes it, and
 * the attempt gives up at once when watch->give_up turns true. The session
 * keeps waiting through worker.h afterwards, as the client would on its
 * own. */
MYSQL *db_connect_watched(const struct lowi_config *cfg, struct db_cursor *cursor, const struct worker_io_watch *watch,
	unsigned long client_flags, char *err, size_t errlen, unsigned *errnum);

#endif
