/* MariaDB session set-up shared by the row writer and the price worker. */
#include "db_connect.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <mysqld_error.h>

#include "schema_sql.h"

/* Deadlocks a schema statement may lose before the connection fails. */
#define SCHEMA_DEADLOCK_RETRIES 5

/* A set-up that failed, with its reason already in err: the session is
 * closed and NULL returned. */
static MYSQL *db_connect_close(MYSQL *m, const struct worker_io_watch *watch)
{
	/* Unpublished before the close: the number may be reused at once. */
	if (watch && watch->socket_fd)
		atomic_store(watch->socket_fd, -1);
	worker_watch_end();
	mysql_close(m);
	return NULL;
}

static MYSQL *db_connect_close_with_error(MYSQL *m, const struct worker_io_watch *watch, const char *what, const char *hint,
	char *err, size_t errlen, unsigned *errnum)
{
	*errnum = mysql_errno(m);
	snprintf(err, errlen, "%s failed (error %u: %s)%s", what, *errnum, mysql_error(m), hint);
	return db_connect_close(m, watch);
}

/* The tables and views already in the database when a session opens. */
#define SCHEMA_NAMES_MAX 128
struct schema_names {
	char name[SCHEMA_NAMES_MAX][65];
	size_t count;
};

static int schema_existing(MYSQL *m, struct schema_names *have)
{
	have->count = 0;
	if (mysql_query(m, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()") != 0)
		return -1;
	MYSQL_RES *res = mysql_store_result(m);
	if (res == NULL)
		return -1;
	MYSQL_ROW row;
	while ((row = mysql_fetch_row(res)) != NULL && have->count < SCHEMA_NAMES_MAX)
		if (row[0])
			snprintf(have->name[have->count++], sizeof(have->name[0]), "%s", row[0]);
	mysql_free_result(res);
	return 0;
}

/* True when the statement creates, or seeds at its creation, a table or
 * view that was already there: it is not run. On a Galera cluster every
 * CREATE is replicated in total order even when it changes nothing, and
 * such statements from sessions on two nodes at once can leave a node
 * waiting on a metadata lock for good; a session that finds the schema in
 * place thus sends no DDL at all. A statement of another form always runs. */
static bool schema_done(const struct schema_names *have, const char *sql)
{
	static const char *const forms[] = { "CREATE TABLE IF NOT EXISTS ", "CREATE VIEW IF NOT EXISTS ", "INSERT INTO " };
	while (*sql == ' ' || *sql == '\n' || *sql == '\t')
		sql++;
	for (size_t f = 0; f < sizeof(forms) / sizeof(forms[0]); f++) {
		size_t len = strlen(forms[f]);
		if (strncmp(sql, forms[f], len) != 0)
			continue;
		const char *name = sql + len;
		size_t n = strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_$");
		for (size_t i = 0; i < have->count; i++)
			if (n > 0 && strlen(have->name[i]) == n && strncmp(have->name[i], name, n) == 0)
				return true;
		return false;
	}
	return false;
}

/* The value of the one row a SHOW ... LIKE gives, into out ("" when no
 * row); 0, or -1 when the statement fails. */
static int show_value(MYSQL *m, const char *sql, char *out, size_t outlen)
{
	out[0] = '\0';
	if (mysql_query(m, sql) != 0)
		return -1;
	MYSQL_RES *res = mysql_store_result(m);
	if (res == NULL)
		return -1;
	MYSQL_ROW row = mysql_fetch_row(res);
	if (row && mysql_num_fields(res) >= 2 && row[1])
		snprintf(out, outlen, "%s", row[1]);
	mysql_free_result(res);
	return 0;
}

/* 1 when the node takes statements, 0 when it is a Galera node that
 * would refuse them (outside the primary component, or joining), -1 when
 * the question fails. Reads from information_schema are among what such a
 * node still answers, and a session that finds the schema in place sends
 * nothing else while it sets up: so it asks. A server without Galera
 * (wsrep_on OFF, or no such variable) is ready: its wsrep_ready is OFF too. */
static int node_ready(MYSQL *m)
{
	char value[16];
	if (show_value(m, "SHOW VARIABLES LIKE 'wsrep_on'", value, sizeof(value)) != 0)
		return -1;
	if (strcmp(value, "ON") != 0)
		return 1;
	if (show_value(m, "SHOW GLOBAL STATUS LIKE 'wsrep_ready'", value, sizeof(value)) != 0)
		return -1;
	return value[0] == '\0' || strcmp(value, "ON") == 0;
}

/* A node that is up but not ready (a Galera node outside the primary
 * component, or still joining) says so; other refusals get the caller's hint. */
static const char *schema_hint(unsigned errnum, const char *otherwise)
{
	if (errnum == ER_UNKNOWN_COM_ERROR)
		return " - the node is not ready for queries (a Galera node outside the primary component?)";
	return errnum >= 2000 ? "" : otherwise;
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
	int ready = node_ready(m);
	if (ready < 0)
		return db_connect_close_with_error(m, watch, "reading wsrep_ready", "", err, errlen, errnum);
	if (ready == 0) {
		/* As the node would refuse each statement later: the same number. */
		*errnum = ER_UNKNOWN_COM_ERROR;
		snprintf(err, errlen, "node not ready (error %u: wsrep_ready OFF: a Galera node outside the primary component"
			" or still joining)", *errnum);
		return db_connect_close(m, watch);
	}
	/* No statement of the plugin waits on a lock longer than the client
	 * waits for its answer: a wait the client gave up on would otherwise
	 * go on holding the server's locks. */
	char sql[64];
	snprintf(sql, sizeof(sql), "SET SESSION lock_wait_timeout = %u", cfg->db_timeout_s);
	if (mysql_query(m, sql) != 0)
		return db_connect_close_with_error(m, watch, "session set-up", schema_hint(mysql_errno(m), ""), err, errlen, errnum);
	struct schema_names have;
	if (schema_existing(m, &have) != 0)
		return db_connect_close_with_error(m, watch, "reading the schema", schema_hint(mysql_errno(m), ""), err, errlen,
			errnum);
	for (size_t i = 0; i < sizeof(lowi_schema_sql) / sizeof(lowi_schema_sql[0]); i++) {
		if (schema_done(&have, lowi_schema_sql[i]))
			continue;
		/* The writer and the price worker create the schema at the same
		 * time at start-up, and MariaDB may pick one of two sessions
		 * creating tables and views as a deadlock's victim: its statement,
		 * idempotent, is simply run again. */
		int attempt = 0;
		while (mysql_query(m, lowi_schema_sql[i]) != 0) {
			if (!worker_deadlock_retry(mysql_errno(m), &attempt, SCHEMA_DEADLOCK_RETRIES))
				return db_connect_close_with_error(m, watch, "schema creation",
					schema_hint(mysql_errno(m), " - GRANT the plugin's user the privileges the README lists"), err, errlen, errnum);
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
	if (n == 0) {
		snprintf(err, errlen, "no database node configured");
		return NULL;
	}
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
		/* Every node's failure, in the order tried, in one log line: what
		 * failed and the error number only, so that a few nodes fit. */
		config_db_node_text(cfg, i, name, sizeof(name));
		char *detail = strstr(one, " (error ");
		if (detail)
			*detail = '\0';
		if (used < errlen) {
			int w = detail ? snprintf(err + used, errlen - used, "%s%s: %s (error %u)", used ? "; " : "", name, one, *errnum)
				: snprintf(err + used, errlen - used, "%s%s: %s", used ? "; " : "", name, one);
			used += w > 0 ? (size_t)w : 0;
		}
	}
	return NULL;
}
