/*
 * Opening a MariaDB session for one of the plugin's worker threads: connect
 * with the configured account and timeouts, select the database, and make
 * sure the schema of sql/schema.sql exists (idempotent statements).
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

/* Returns a ready session, or NULL with a one-line reason in err and the
 * MariaDB error number in *errnum (0 when none). */
MYSQL *db_connect(const struct lowi_config *cfg, char *err, size_t errlen, unsigned *errnum);

/* The same, with the client flags given (CLIENT_FOUND_ROWS, ...) and, when
 * watch is not NULL, the whole set-up (connect, handshake, USE, schema)
 * under that watch (worker.h): the socket is published as soon as it exists
 * and reset to -1 before a failed set-up closes it, and the set-up gives up
 * at once when watch->give_up turns true. The session keeps waiting through
 * worker.h afterwards, as the client would on its own. */
MYSQL *db_connect_watched(const struct lowi_config *cfg, const struct worker_io_watch *watch, unsigned long client_flags,
	char *err, size_t errlen, unsigned *errnum);

#endif
