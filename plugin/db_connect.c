/* MariaDB session set-up shared by the row writer and the price worker. */
#include "db_connect.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <mysqld_error.h>

#include "schema_sql.h"

/* Deadlocks a schema statement may lose before the connection fails. */
#define SCHEMA_DEADLOCK_RETRIES 5

static MYSQL *db_connect_close_with_error(MYSQL *m, const struct worker_io_watch *watch, const char *what, const char *hint,
	char *err, size_t errlen, unsigned *errnum)
{
	*errnum = mysql_errno(m);
	snprintf(err, errlen, "%s failed (error %u: %s)%s", what, *errnum, mysql_error(m), hint);
	/* Unpublished before the close: the number may be reused at once. */
	if (watch && watch->socket_fd)
		atomic_store(watch->socket_fd, -1);
	worker_watch_end();
	mysql_close(m);
	return NULL;
}

void db_cursor_init(struct db_cursor *c)
{
	c->first = 0;
	c->in_use = -1;
}

void db_cursor_session_failed(struct db_cursor *c, const struct lowi_config *cfg)
{
	if (c->in_use >= 0 && cfg->db_node_count > 0)
		c->first = ((unsigned)c->in_use + 1) % cfg->db_node_count;
	c->in_use = -1;
}

/* One node's session, set up; NULL with err as for db_connect_watched. */
static MYSQL *db_connect_node(const struct lowi_config *cfg, const struct config_db_node *node,
	const struct worker_io_watch *watch, unsigned long client_flags, char *err, size_t errlen, unsigned *errnum)
{
	unsigned timeout = cfg->db_timeout_s;
	MYSQL *m = mysql_init(NULL);
	*errnum = 0;
	if (m == NULL) {
		snprintf(err, errlen, "MariaDB client initialisation failed: out of memory");
		return NULL;
	}
	mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &timeout);
	mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &timeout);
	mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	if (cfg->db_tls_ca) {
		my_bool verify = cfg->db_tls_verify ? 1 : 0;
		mysql_options(m, MYSQL_OPT_SSL_CA, cfg->db_tls_ca);
		mysql_options(m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
		/* TLS is then required: no silent fall-back to a clear connection. */
		mysql_optionsv(m, MYSQL_OPT_SSL_ENFORCE, (void *)&(my_bool){ 1 });
	}
	if (watch) {
		if (worker_watch_io(m) != 0) {
			snprintf(err, errlen, "MariaDB client refused the I/O wait hook (MARIADB_OPT_IO_WAIT)");
			mysql_close(m);
			return NULL;
		}
		worker_watch_begin(watch);
	}
	if (!mysql_real_connect(m, node->host, cfg->db_user, cfg->db_password, NULL, node->port, cfg->db_socket, client_flags))
		return db_connect_close_with_error(m, watch, "connection", "", err, errlen, errnum);
	/* The client keeps a copy of the password for a reconnect, which the
	 * plugin never asks of it (a new session is opened instead), and frees
	 * it unwiped: wiped as soon as the session is open. */
	if (m->passwd)
		explicit_bzero(m->passwd, strlen(m->passwd));
	if (mysql_select_db(m, cfg->db_name) != 0)
		return db_connect_close_with_error(m, watch, "USE", " - see the README for CREATE DATABASE and GRANT", err, errlen, errnum);
	for (size_t i = 0; i < sizeof(lowi_schema_sql) / sizeof(lowi_schema_sql[0]); i++) {
		/* The writer and the price worker create the schema at the same
		 * time at start-up, and MariaDB may pick one of two sessions
		 * creating tables and views as a deadlock's victim: its statement,
		 * idempotent, is simply run again. */
		int attempt = 0;
		while (mysql_query(m, lowi_schema_sql[i]) != 0) {
			if (mysql_errno(m) != ER_LOCK_DEADLOCK || ++attempt > SCHEMA_DEADLOCK_RETRIES)
				return db_connect_close_with_error(m, watch, "schema creation", " - GRANT the plugin's user the privileges the README lists", err, errlen, errnum);
			struct timespec pause = { 0, attempt * 20 * 1000 * 1000L };
			nanosleep(&pause, NULL);
		}
	}
	if (mysql_autocommit(m, 0) != 0)
		return db_connect_close_with_error(m, watch, "autocommit off", "", err, errlen, errnum);
	worker_watch_end();
	return m;
}

MYSQL *db_connect_watched(const struct lowi_config *cfg, struct db_cursor *cursor, const struct worker_io_watch *watch,
	unsigned long client_flags, char *err, size_t errlen, unsigned *errnum)
{
	unsigned n = cfg->db_node_count;
	char one[600], name[CONFIG_DB_HOST_MAX + 32];
	size_t used = 0;
	err[0] = '\0';
	*errnum = 0;
	cursor->in_use = -1;
	if (cursor->first >= n)
		cursor->first = 0;
	for (unsigned k = 0; k < n; k++) {
		unsigned i = (cursor->first + k) % n;
		/* A stop during a node's set-up ends the attempt, not just that node. */
		if (k > 0 && watch && watch->give_up && watch->give_up(watch->ctx))
			break;
		MYSQL *m = db_connect_node(cfg, &cfg->db_nodes[i], watch, client_flags, one, sizeof(one), errnum);
		if (m) {
			cursor->in_use = (int)i;
			cursor->first = i;
			return m;
		}
		if (n == 1) {
			snprintf(err, errlen, "%s", one);
			break;
		}
		/* Every node's failure, in the order tried, for one log line. */
		config_db_node_text(cfg, i, name, sizeof(name));
		if (used < errlen) {
			int w = snprintf(err + used, errlen - used, "%s%s: %s", used ? "; " : "", name, one);
			used += w > 0 ? (size_t)w : 0;
		}
	}
	return NULL;
}
