/*
 * Database writer thread; see db_writer.h.
 * Runs only on its own thread, except db_writer_start/stop. The only state
 * shared with the broker thread is the row queue, the log queue, the atomic
 * stats, and the socket descriptor used to interrupt a hung query at stop.
 */
#include "db_writer.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>
#include <mysql.h>
#include <mysqld_error.h>

#include "brussels.h"
#include "capacity.h"
#include "db_connect.h"
#include "spool.h"
#include "topic.h"
#include "worker.h"

#include "log_prefix.h"

/* Times a batch that lost to a deadlock is run again before the session
 * is given up. */
#define BATCH_DEADLOCK_RETRIES 3

/* Conso statements are prepared for several row counts: a batch goes out
 * as a few multi-row INSERTs (one round trip and one statement execution
 * per group) rather than one per row. */
static const char conso_insert_sql[] =
	"INSERT INTO Conso (DtTm, In_D, In_N, OUT_D, OUT_N, Soutire, Injecte, Serial, Gas_m3, Water_m3, Estimated) VALUES ";
static const char conso_values_sql[] = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
static const char conso_update_sql[] =
	" ON DUPLICATE KEY UPDATE In_D = VALUES(In_D), In_N = VALUES(In_N), OUT_D = VALUES(OUT_D),"
	" OUT_N = VALUES(OUT_N), Soutire = VALUES(Soutire), Injecte = VALUES(Injecte),"
	" Gas_m3 = VALUES(Gas_m3), Water_m3 = VALUES(Water_m3), Estimated = VALUES(Estimated)";

/* Pics is the peak of the month's non-estimated Conso rows: the quarter
 * with the highest import, the earliest of equal ones. A running maximum
 * alone would let a row written once too high spoil the month, so when a
 * statement changes a Conso row that was there (CLIENT_FOUND_ROWS: the
 * INSERT then counts 2 for it, 1 for a new or unchanged row), each
 * (meter, Brussels month) the batch touches is recomputed from its Conso
 * rows, in the same transaction, over the primary key's range of that
 * meter and month. The INSERT below reports 0 rows only when it found no
 * quarter: the month then has no peak, and its Pics row (if any) goes.
 * When no existing row changed, the month's peak can only rise to the
 * batch's own highest quarter (pics_raise_sql): one key lookup instead of
 * reading the month, which is what keeps a month's last days as cheap to
 * write as its first. */
static const char pics_sql[] =
	"INSERT INTO Pics (Mois, DtTm, kW, Serial)"
	" SELECT ?, DtTm, Soutire * 4, Serial FROM Conso"
	" WHERE Serial = ? AND DtTm >= ? AND DtTm < ? AND Estimated = 0"
	" ORDER BY Soutire DESC, DtTm LIMIT 1"
	" ON DUPLICATE KEY UPDATE DtTm = VALUES(DtTm), kW = VALUES(kW)";
static const char pics_clear_sql[] = "DELETE FROM Pics WHERE Mois = ? AND Serial = ?";
/* Assignments run left to right: DtTm is compared with the old kW first. */
static const char pics_raise_sql[] =
	"INSERT INTO Pics (Mois, DtTm, kW, Serial) VALUES (?, ?, ?, ?)"
	" ON DUPLICATE KEY UPDATE DtTm = IF(VALUES(kW) > kW OR (VALUES(kW) = kW AND VALUES(DtTm) < DtTm), VALUES(DtTm), DtTm),"
	" kW = GREATEST(kW, VALUES(kW))";

/* READ COMMITTED makes the SELECT part of the Pics statement a consistent
 * read: under REPEATABLE READ it would take a shared lock on every Conso
 * row of the month, which costs more than the read itself and holds up an
 * operator's UPDATE until the COMMIT. Not with a statement-based binary
 * log, where InnoDB refuses to write under READ COMMITTED: the writer then
 * keeps REPEATABLE READ, which is only slower. */
static const char isolation_sql[] =
	"SET SESSION tx_isolation = IF(@@log_bin AND @@session.binlog_format = 'STATEMENT', 'REPEATABLE-READ', 'READ-COMMITTED')";

enum { CONSO_PARAMS = 11, PICS_PARAMS = 4, PICS_CLEAR_PARAMS = 2, PICS_RAISE_PARAMS = 4, DECIMAL_TEXT = 32 };

/* Rows per statement: a whole batch (up to STATEMENT_ROWS_MAX) in one, then
 * powers of two for what is left, so a batch takes a handful of round
 * trips per table, however many rows it holds. On a busy machine every
 * round trip costs a wake-up of the server and of this thread, which is
 * what bounded the writer when it sent a statement per row. */
enum { STATEMENT_ROWS_MAX = 1000, GROUPS_MAX = 11 };

/* Bound parameter buffers of one row of a statement. */
struct conso_params {
	MYSQL_TIME dttm;
	char dec[8][DECIMAL_TEXT];
	unsigned long dec_len[8];
	char serial[LOWI_SERIAL_MAX + 1];
	unsigned long serial_len;
	my_bool gas_null, water_null;
	signed char estimated;
};

/* One meter-month of Pics: the month's first day and its bounds in UTC;
 * for a raise, the candidate quarter and its kW. */
struct pics_params {
	MYSQL_TIME mois, from, to, dttm;
	char kw[DECIMAL_TEXT];
	unsigned long kw_len;
	char serial[LOWI_SERIAL_MAX + 1];
	unsigned long serial_len;
};

/* A (meter, Brussels month) that a batch touches, and the batch's own peak
 * in it (NULL when all its rows there are estimated). */
struct month_key {
	const char *serial;
	int months; /* year * 12 + month - 1 */
	const struct conso_row *peak;
};

struct db_writer {
	const struct lowi_config *cfg;
	struct row_queue *rows;
	struct log_queue *lq;
	struct lowi_stats *stats;
	struct spool *spool;     /* NULL: rows wait in memory only */
	struct peak_history *history; /* NULL: no one asks for the stored peaks */
	pthread_t thread;
	_Atomic int socket_fd; /* -1 when not connected */

	struct db_cursor cursor; /* the database node tried first */
	MYSQL *mysql;
	MYSQL_STMT *conso[GROUPS_MAX], *pics, *pics_clear, *pics_raise;
	unsigned group_rows[GROUPS_MAX]; /* rows per statement, largest first, the last 1 */
	int groups;
	struct conso_row *batch;
	size_t failed_index;     /* row of the batch MariaDB refused */
	unsigned failed_errno;
	struct month_key *touched; /* the batch's meter-months */
	bool told_no_delete;       /* the missing DELETE privilege was logged */

	/* One schedule for the connection, whatever failed; reset only when a
	 * batch commits. */
	struct worker_backoff backoff;
	/* The spool's own, for a spool that cannot be read for a while (no
	 * file descriptor left): rows keep flowing meanwhile. */
	struct worker_backoff spool_backoff;
	int64_t replay_at_ms;    /* when to replay the spool; -1: nothing to replay */
	int64_t later_logged_ms; /* the last "spool cannot be read for now" line */
	unsigned later_silenced; /* such failures not logged since */

	/* group_rows[0] rows of parameters each */
	struct conso_params *cp;
	struct pics_params pp;
	MYSQL_BIND *conso_bind, pics_bind[PICS_PARAMS], pics_clear_bind[PICS_CLEAR_PARAMS];
	MYSQL_BIND pics_raise_bind[PICS_RAISE_PARAMS];
};

/* Exact kWh text with three decimals for a whole number of Wh (or litres
 * to m3): DECIMAL columns receive it without passing through a float. */
static unsigned long milli_text(int64_t milli, char out[DECIMAL_TEXT])
{
	uint64_t mag = milli < 0 ? (uint64_t)0 - (uint64_t)milli : (uint64_t)milli;
	int n = snprintf(out, DECIMAL_TEXT, "%s%" PRIu64 ".%03" PRIu64, milli < 0 ? "-" : "", mag / 1000, mag % 1000);
	return (unsigned long)n;
}

static void bind_decimal(MYSQL_BIND *b, char *text, unsigned long *len)
{
	b->buffer_type = MYSQL_TYPE_NEWDECIMAL;
	b->buffer = text;
	b->buffer_length = DECIMAL_TEXT;
	b->length = len;
}

static void bind_serial(MYSQL_BIND *b, char *serial, unsigned long *len)
{
	b->buffer_type = MYSQL_TYPE_STRING;
	b->buffer = serial;
	b->buffer_length = LOWI_SERIAL_MAX + 1;
	b->length = len;
}

static void bind_time(MYSQL_BIND *b, MYSQL_TIME *t, enum enum_field_types type)
{
	b->buffer_type = type;
	b->buffer = t;
}

/* Row i of every Conso statement reads the buffers of cp[i]: a statement
 * of k rows binds the first k rows' worth of these arrays. */
static void bind_params(struct db_writer *w)
{
	for (unsigned r = 0; r < w->group_rows[0]; r++) {
		MYSQL_BIND *c = &w->conso_bind[r * CONSO_PARAMS];
		struct conso_params *cp = &w->cp[r];
		bind_time(&c[0], &cp->dttm, MYSQL_TYPE_DATETIME);
		for (int i = 0; i < 6; i++)
			bind_decimal(&c[1 + i], cp->dec[i], &cp->dec_len[i]);
		bind_serial(&c[7], cp->serial, &cp->serial_len);
		bind_decimal(&c[8], cp->dec[6], &cp->dec_len[6]);
		c[8].is_null = &cp->gas_null;
		bind_decimal(&c[9], cp->dec[7], &cp->dec_len[7]);
		c[9].is_null = &cp->water_null;
		c[10].buffer_type = MYSQL_TYPE_TINY;
		c[10].buffer = &cp->estimated;
	}
	struct pics_params *pp = &w->pp;
	bind_time(&w->pics_bind[0], &pp->mois, MYSQL_TYPE_DATE);
	bind_serial(&w->pics_bind[1], pp->serial, &pp->serial_len);
	bind_time(&w->pics_bind[2], &pp->from, MYSQL_TYPE_DATETIME);
	bind_time(&w->pics_bind[3], &pp->to, MYSQL_TYPE_DATETIME);
	bind_time(&w->pics_clear_bind[0], &pp->mois, MYSQL_TYPE_DATE);
	bind_serial(&w->pics_clear_bind[1], pp->serial, &pp->serial_len);
	bind_time(&w->pics_raise_bind[0], &pp->mois, MYSQL_TYPE_DATE);
	bind_time(&w->pics_raise_bind[1], &pp->dttm, MYSQL_TYPE_DATETIME);
	bind_decimal(&w->pics_raise_bind[2], pp->kw, &pp->kw_len);
	bind_serial(&w->pics_raise_bind[3], pp->serial, &pp->serial_len);
}

static void disconnect(struct db_writer *w)
{
	atomic_store(&w->socket_fd, -1);
	for (int g = 0; g < w->groups; g++) {
		if (w->conso[g])
			mysql_stmt_close(w->conso[g]);
		w->conso[g] = NULL;
	}
	if (w->pics)
		mysql_stmt_close(w->pics);
	if (w->pics_clear)
		mysql_stmt_close(w->pics_clear);
	if (w->pics_raise)
		mysql_stmt_close(w->pics_raise);
	w->pics = w->pics_clear = w->pics_raise = NULL;
	if (w->mysql) {
		mysql_close(w->mysql);
		/* Whatever ended the session, its node is tried last next time:
		 * a node that died is not waited on first. */
		db_cursor_session_failed(&w->cursor, w->cfg);
	}
	w->mysql = NULL;
}

static void db_error(struct db_writer *w, const char *what, const char *detail, unsigned err)
{
	atomic_fetch_add(&w->stats->db_errors, 1);
	log_queue_push(w->lq, MOSQ_LOG_ERR, PREFIX "database %s failed (error %u: %s); %zu rows wait in memory",
		what, err, detail, row_queue_length(w->rows));
}

static MYSQL_STMT *prepare_sql(struct db_writer *w, const char *sql, const char *name)
{
	MYSQL_STMT *st = mysql_stmt_init(w->mysql);
	if (st == NULL) {
		db_error(w, name, "out of memory", 0);
		return NULL;
	}
	if (mysql_stmt_prepare(st, sql, (unsigned long)strlen(sql)) != 0) {
		unsigned err = mysql_stmt_errno(st);
		char detail[400];
		snprintf(detail, sizeof(detail), "%s%s", mysql_stmt_error(st),
			err == ER_BAD_FIELD_ERROR ? " - an older table of that name (the reference program's?) is in the way: rename it"
			: err == ER_TABLEACCESS_DENIED_ERROR ? " - the plugin's user needs SELECT, INSERT, UPDATE on the database (README: GRANT)" : "");
		db_error(w, name, detail, err);
		mysql_stmt_close(st);
		return NULL;
	}
	return st;
}

static MYSQL_STMT *bind_or_close(struct db_writer *w, MYSQL_STMT *st, MYSQL_BIND *bind)
{
	if (st != NULL && mysql_stmt_bind_param(st, bind) != 0) {
		db_error(w, "parameter binding", mysql_stmt_error(st), mysql_stmt_errno(st));
		mysql_stmt_close(st);
		return NULL;
	}
	return st;
}

/* INSERT ... VALUES (...), ... (rows times) ... ON DUPLICATE KEY UPDATE ...,
 * prepared and bound to the first `rows` rows of the parameter buffers. */
static MYSQL_STMT *prepare_rows(struct db_writer *w, const char *insert, const char *values, const char *update,
	unsigned rows, MYSQL_BIND *bind, const char *name)
{
	size_t len = strlen(insert) + rows * (strlen(values) + 1) + strlen(update) + 1;
	char *sql = malloc(len);
	if (sql == NULL) {
		db_error(w, name, "out of memory", 0);
		return NULL;
	}
	char *p = sql + sprintf(sql, "%s", insert);
	for (unsigned i = 0; i < rows; i++)
		p += sprintf(p, "%s%s", i ? "," : "", values);
	strcpy(p, update);
	MYSQL_STMT *st = prepare_sql(w, sql, name);
	free(sql);
	return bind_or_close(w, st, bind);
}

/* The DELETE of a month's Pics row is optional: the privileges the README
 * asked for before Pics was recomputed had no DELETE, and an installation
 * that kept them must go on writing rows. Without it a month left with no
 * quarter that is not estimated keeps its last Pics row; said once. */
static int prepare_pics_clear(struct db_writer *w)
{
	MYSQL_STMT *st = mysql_stmt_init(w->mysql);
	if (st != NULL && mysql_stmt_prepare(st, pics_clear_sql, (unsigned long)strlen(pics_clear_sql)) != 0) {
		unsigned err = mysql_stmt_errno(st);
		if (err != ER_TABLEACCESS_DENIED_ERROR) {
			db_error(w, "Pics statement", mysql_stmt_error(st), err);
			mysql_stmt_close(st);
			return -1;
		}
		mysql_stmt_close(st);
		if (!w->told_no_delete)
			log_queue_push(w->lq, MOSQ_LOG_WARNING, PREFIX "the database user may not DELETE from Pics: a month whose"
				" every quarter became estimated keeps its last peak (README: GRANT)");
		w->told_no_delete = true;
		w->pics_clear = NULL;
		return 0;
	}
	w->pics_clear = bind_or_close(w, st, w->pics_clear_bind);
	if (w->pics_clear == NULL && st == NULL)
		db_error(w, "Pics statement", "out of memory", 0);
	return w->pics_clear ? 0 : -1;
}

static bool writer_stopping(void *ctx)
{
	return row_queue_stopping(((struct db_writer *)ctx)->rows);
}

/* Stored peaks of the months a live bill still averages (this Brussels
 * month and the 11 before), for the aggregator: read once, at the first
 * connection that can. Text protocol, streamed: a table of many meters is
 * never held whole, only a batch at a time. */
static const char history_sql_fmt[] =
	"SELECT Serial, YEAR(Mois) * 12 + MONTH(Mois) - 1, kW, TIMESTAMPDIFF(SECOND, '1970-01-01', DtTm)"
	" FROM Pics WHERE Mois >= '%04d-%02d-01'";

static void load_history(struct db_writer *w)
{
	capacity_month_t first = capacity_month_of(time(NULL)) - (CAPACITY_WINDOW_MONTHS - 1);
	int year, month;
	capacity_month_civil(first, &year, &month);
	char sql[sizeof(history_sql_fmt) + 16];
	snprintf(sql, sizeof(sql), history_sql_fmt, year, month);
	MYSQL_RES *res = NULL;
	if (mysql_query(w->mysql, sql) != 0 || (res = mysql_use_result(w->mysql)) == NULL) {
		db_error(w, "reading the stored peaks (Pics)", mysql_error(w->mysql), mysql_errno(w->mysql));
		return;
	}
	struct peak_batch *b = NULL;
	size_t peaks = 0;
	bool out_of_memory = false;
	MYSQL_ROW row;
	while ((row = mysql_fetch_row(res)) != NULL) {
		if (row[0] == NULL || row[1] == NULL || row[2] == NULL || row[3] == NULL || strlen(row[0]) > LOWI_SERIAL_MAX)
			continue;
		if (b == NULL && (b = peak_history_new_batch()) == NULL) {
			out_of_memory = true;
			break;
		}
		struct peak_record *r = &b->records[b->count++];
		snprintf(r->serial, sizeof(r->serial), "%s", row[0]);
		topic_serial_fold(r->serial);
		r->month = (capacity_month_t)strtol(row[1], NULL, 10);
		r->peak_kw = strtof(row[2], NULL);
		r->peak_start_s = strtoll(row[3], NULL, 10);
		peaks++;
		if (b->count == PEAK_BATCH_RECORDS) {
			peak_history_hand_over(w->history, b);
			b = NULL;
		}
	}
	bool failed = out_of_memory || mysql_errno(w->mysql) != 0;
	if (failed)
		db_error(w, "reading the stored peaks (Pics)", out_of_memory ? "out of memory" : mysql_error(w->mysql),
			mysql_errno(w->mysql));
	mysql_free_result(res);
	peak_history_hand_over(w->history, b);
	if (failed)
		return;
	peak_history_set_complete(w->history);
	log_queue_push(w->lq, MOSQ_LOG_INFO, PREFIX "%zu monthly peaks since %04d-%02d read back for the live capacity"
		" figures", peaks, year, month);
}

static int connect_db(struct db_writer *w)
{
	char err[600];
	unsigned errnum;
	/* The set-up publishes its socket at once and gives up on a stop: a
	 * server that accepts and never answers does not hold the stop up. */
	struct worker_io_watch watch = { .socket_fd = &w->socket_fd, .give_up = writer_stopping, .ctx = w };
	w->mysql = db_connect_watched(w->cfg, &w->cursor, &watch, CLIENT_FOUND_ROWS, err, sizeof(err), &errnum);
	if (w->mysql == NULL) {
		if (row_queue_stopping(w->rows)) {
			log_queue_push(w->lq, MOSQ_LOG_NOTICE, PREFIX "database connection abandoned: stopping");
			return -1;
		}
		atomic_fetch_add(&w->stats->db_errors, 1);
		log_queue_push(w->lq, MOSQ_LOG_ERR, PREFIX "database %s; %zu rows wait in memory", err, row_queue_length(w->rows));
		return -1;
	}
	if (err[0] != '\0') {
		atomic_fetch_add(&w->stats->db_errors, 1);
		log_queue_push(w->lq, MOSQ_LOG_WARNING, PREFIX "database nodes passed over: %s", err);
	}
	atomic_store(&w->socket_fd, (int)mysql_get_socket(w->mysql));
	/* A server without tx_isolation (not MariaDB) keeps its default. */
	(void)mysql_query(w->mysql, isolation_sql);
	for (int g = 0; g < w->groups; g++) {
		w->conso[g] = prepare_rows(w, conso_insert_sql, conso_values_sql, conso_update_sql, w->group_rows[g],
			w->conso_bind, "Conso statement");
		if (w->conso[g] == NULL) {
			disconnect(w);
			return -1;
		}
	}
	w->pics = bind_or_close(w, prepare_sql(w, pics_sql, "Pics statement"), w->pics_bind);
	w->pics_raise = w->pics ? bind_or_close(w, prepare_sql(w, pics_raise_sql, "Pics statement"), w->pics_raise_bind) : NULL;
	if (w->pics == NULL || w->pics_raise == NULL || prepare_pics_clear(w) != 0) {
		disconnect(w);
		return -1;
	}
	atomic_fetch_add(&w->stats->db_connects, 1);
	char node[CONFIG_DB_HOST_MAX + 32];
	config_db_node_text(w->cfg, (unsigned)w->cursor.in_use, node, sizeof(node));
	log_queue_push(w->lq, MOSQ_LOG_NOTICE, PREFIX "connected to MariaDB %s on %s (%s), database %s; %zu rows queued",
		mysql_get_server_info(w->mysql), node, mysql_get_host_info(w->mysql), w->cfg->db_name, row_queue_length(w->rows));
	/* Not worth holding rows up for: a failure is tried again at the next
	 * connection, and a lost connection shows at the next statement. */
	if (w->history != NULL && !peak_history_complete(w->history))
		load_history(w);
	return 0;
}

/* Errors about a row's values, which no retry can cure; anything else
 * (connection lost, timeout, server shutting down) is worth retrying. */
static bool is_data_error(unsigned err)
{
	switch (err) {
	case ER_BAD_NULL_ERROR:
	case ER_WARN_DATA_OUT_OF_RANGE:
	case ER_TRUNCATED_WRONG_VALUE:
	case ER_TRUNCATED_WRONG_VALUE_FOR_FIELD:
	case ER_DATA_TOO_LONG:
	case ER_DATA_OUT_OF_RANGE:
	case ER_DIVISION_BY_ZERO:
	case ER_CONSTRAINT_FAILED:
		return true;
	default:
		return false;
	}
}

/* quiet: a refused value is not logged (the batch is then retried row by
 * row, which logs it). */
static int execute(struct db_writer *w, MYSQL_STMT *st, const char *what, bool quiet)
{
	if (mysql_stmt_execute(st) != 0) {
		w->failed_errno = mysql_stmt_errno(st);
		if (!quiet || !is_data_error(w->failed_errno))
			db_error(w, what, mysql_stmt_error(st), w->failed_errno);
		return -1;
	}
	return 0;
}

static void fill_conso(struct conso_params *cp, const struct conso_row *row)
{
	const struct quarter_row *q = &row->q;
	worker_db_time(&cp->dttm, q->start_s, false);
	cp->dec_len[0] = milli_text(q->import_day_wh, cp->dec[0]);
	cp->dec_len[1] = milli_text(q->import_night_wh, cp->dec[1]);
	cp->dec_len[2] = milli_text(q->export_day_wh, cp->dec[2]);
	cp->dec_len[3] = milli_text(q->export_night_wh, cp->dec[3]);
	cp->dec_len[4] = milli_text(q->import_wh, cp->dec[4]);
	cp->dec_len[5] = milli_text(q->export_wh, cp->dec[5]);
	cp->dec_len[6] = milli_text(q->gas_l, cp->dec[6]);
	cp->dec_len[7] = milli_text(q->water_l, cp->dec[7]);
	cp->gas_null = !q->has_gas;
	cp->water_null = !q->has_water;
	cp->estimated = q->estimated;
	cp->serial_len = (unsigned long)strlen(row->serial);
	memcpy(cp->serial, row->serial, cp->serial_len + 1);
}

static int month_key_cmp(const void *a, const void *b)
{
	const struct month_key *x = a, *y = b;
	int c = strcmp(x->serial, y->serial);
	return c ? c : (x->months > y->months) - (x->months < y->months);
}

static struct month_key month_key_of(const struct conso_row *row)
{
	struct civil_date m = brussels_month_of(row->q.start_s);
	return (struct month_key){ row->serial, m.year * 12 + m.month - 1, row->q.estimated ? NULL : row };
}

/* The month's peak rule between two candidate quarters (either may be
 * NULL): the higher import, the earlier of equal ones. */
static const struct conso_row *higher_peak(const struct conso_row *a, const struct conso_row *b)
{
	if (a == NULL || b == NULL)
		return a ? a : b;
	if (a->q.import_wh != b->q.import_wh)
		return a->q.import_wh > b->q.import_wh ? a : b;
	return a->q.start_s <= b->q.start_s ? a : b;
}

/* The distinct meter-months of the rows, into w->touched; returns how many. */
static size_t touched_months(struct db_writer *w, const struct conso_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++)
		w->touched[i] = month_key_of(&rows[i]);
	qsort(w->touched, n, sizeof(*w->touched), month_key_cmp);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (k == 0 || month_key_cmp(&w->touched[k - 1], &w->touched[i]) != 0)
			w->touched[k++] = w->touched[i];
		else
			w->touched[k - 1].peak = higher_peak(w->touched[k - 1].peak, w->touched[i].peak);
	return k;
}

static void fill_month(struct pics_params *pp, struct month_key key)
{
	int year = key.months / 12, month = key.months % 12 + 1;
	int next_year = month == 12 ? year + 1 : year, next_month = month == 12 ? 1 : month + 1;
	int64_t first_day = civil_to_days(year, month, 1);
	worker_db_time(&pp->mois, first_day * 86400, true);
	worker_db_time(&pp->from, brussels_local_to_utc(first_day, 0), false);
	worker_db_time(&pp->to, brussels_local_to_utc(civil_to_days(next_year, next_month, 1), 0), false);
	pp->serial_len = (unsigned long)strlen(key.serial);
	memcpy(pp->serial, key.serial, pp->serial_len + 1);
}

/* The Pics row of one meter-month: recomputed from Conso when a row there
 * changed (see pics_sql), else raised to the batch's peak if higher. */
static int update_peak(struct db_writer *w, struct month_key key, bool changed, bool quiet)
{
	struct pics_params *pp = &w->pp;
	fill_month(pp, key);
	if (!changed) {
		if (key.peak == NULL)
			return 0;
		worker_db_time(&pp->dttm, key.peak->q.start_s, false);
		pp->kw_len = milli_text(4 * key.peak->q.import_wh, pp->kw);
		return execute(w, w->pics_raise, "Pics update", quiet);
	}
	if (execute(w, w->pics, "Pics update", quiet) != 0)
		return -1;
	if (mysql_stmt_affected_rows(w->pics) == 0 && w->pics_clear && execute(w, w->pics_clear, "Pics update", quiet) != 0)
		return -1;
	return 0;
}

/* The largest statement that fits in the rows left; only single rows when
 * single is set. */
static int group_for(const struct db_writer *w, size_t left, bool single)
{
	int g = 0;
	while (g + 1 < w->groups && (single || w->group_rows[g] > left))
		g++;
	return g;
}

/* Writes the Conso rows in statements of several rows, then updates the
 * peak of every meter-month they touch. */
static int write_grouped(struct db_writer *w, const struct conso_row *rows, size_t n)
{
	bool changed = false;
	for (size_t i = 0; i < n;) {
		int g = group_for(w, n - i, false);
		for (unsigned r = 0; r < w->group_rows[g]; r++)
			fill_conso(&w->cp[r], &rows[i + r]);
		if (execute(w, w->conso[g], "Conso upsert", true) != 0)
			return -1;
		changed = changed || mysql_stmt_affected_rows(w->conso[g]) != w->group_rows[g];
		i += w->group_rows[g];
	}
	size_t months = touched_months(w, rows, n);
	for (size_t i = 0; i < months; i++)
		if (update_peak(w, w->touched[i], changed, true) != 0)
			return -1;
	return 0;
}

/* Row by row, to name the row MariaDB refuses (failed_index). */
static int write_single(struct db_writer *w, const struct conso_row *rows, size_t n)
{
	int g = group_for(w, 1, true);
	for (size_t i = 0; i < n; i++) {
		fill_conso(&w->cp[0], &rows[i]);
		int rc = execute(w, w->conso[g], "Conso upsert", false);
		if (rc == 0)
			rc = update_peak(w, month_key_of(&rows[i]), mysql_stmt_affected_rows(w->conso[g]) != 1, false);
		if (rc != 0) {
			w->failed_index = i;
			return -1;
		}
	}
	return 0;
}

static int write_batch_once(struct db_writer *w, const struct conso_row *rows, size_t n)
{
	w->failed_errno = 0;
	if (write_grouped(w, rows, n) != 0) {
		mysql_rollback(w->mysql);
		if (!is_data_error(w->failed_errno))
			return -1;
		w->failed_errno = 0;
		if (write_single(w, rows, n) != 0) {
			mysql_rollback(w->mysql);
			return -1;
		}
	}
	if (mysql_commit(w->mysql) != 0) {
		w->failed_errno = mysql_errno(w->mysql);
		db_error(w, "COMMIT", mysql_error(w->mysql), w->failed_errno);
		return -1;
	}
	/* Work done: the next failure starts the schedule again. */
	worker_backoff_reset(&w->backoff);
	return 0;
}

/* A deadlock, or on a Galera cluster a transaction that lost certification
 * against another node's (reported as a deadlock, at any statement or at
 * COMMIT), rolled the whole batch back: its upserts are run again on the
 * same session, a few times, before the session is given up. */
static int write_batch(struct db_writer *w, const struct conso_row *rows, size_t n)
{
	int attempt = 0;
	for (;;) {
		int rc = write_batch_once(w, rows, n);
		if (rc == 0 || !worker_deadlock_retry(w->failed_errno, &attempt, BATCH_DEADLOCK_RETRIES))
			return rc;
		mysql_rollback(w->mysql);
	}
}

static void journal(struct db_writer *w, const struct conso_row *rows, size_t n);

/* A row MariaDB refuses for its values must not block every later row:
 * it is set aside (in the spool's rejected.rows when there is a spool). */
static void set_aside(struct db_writer *w, const struct conso_row *row)
{
	char err[1200] = "";
	atomic_fetch_add(&w->stats->rows_refused, 1);
	bool kept = w->spool && spool_set_aside(w->spool, row, err, sizeof(err)) == 0;
	log_queue_push(w->lq, MOSQ_LOG_ERR, PREFIX "row of meter %s at %" PRId64 " refused by MariaDB (error %u); %s%s",
		row->serial, row->q.start_s, w->failed_errno, kept ? "set aside in rejected.rows of the spool" : "dropped", err);
}

/* Commits rows in transactions of batch_rows, setting aside the rows
 * MariaDB refuses. Returns how many rows were dealt with: n, or fewer when
 * the connection failed (the rest must be retried or spooled). */
static size_t commit_rows(struct db_writer *w, const struct conso_row *rows, size_t n)
{
	size_t done = 0;
	while (done < n) {
		size_t k = n - done < w->cfg->batch_rows ? n - done : w->cfg->batch_rows;
		if (write_batch(w, rows + done, k) == 0) {
			journal(w, rows + done, k);
			atomic_fetch_add(&w->stats->rows_written, k);
			done += k;
			continue;
		}
		if (!is_data_error(w->failed_errno))
			return done;
		size_t bad = w->failed_index;
		if (bad > 0) {
			if (write_batch(w, rows + done, bad) != 0)
				return done;
			journal(w, rows + done, bad);
			atomic_fetch_add(&w->stats->rows_written, bad);
		}
		set_aside(w, &rows[done + bad]);
		done += bad + 1;
	}
	return done;
}

static void spool_error(struct db_writer *w, const char *err)
{
	atomic_fetch_add(&w->stats->spool_errors, 1);
	log_queue_push(w->lq, MOSQ_LOG_ERR, PREFIX "spool: %s; %zu rows wait in memory", err, row_queue_length(w->rows));
}

/* Marks rows durable in the meter journal, so a restart resumes after them. */
static void journal(struct db_writer *w, const struct conso_row *rows, size_t n)
{
	char err[1200];
	if (w->spool && spool_journal(w->spool, rows, n, err, sizeof(err)) != 0)
		spool_error(w, err);
}

/* The database is away: move every queued row to disk, oldest first. */
static void spool_queued(struct db_writer *w)
{
	char err[1200];
	size_t n, total = 0;
	while (w->spool && (n = row_queue_peek(w->rows, w->batch, w->cfg->batch_rows, 0)) > 0) {
		if (spool_write(w->spool, w->batch, n, err, sizeof(err)) != 0) {
			spool_error(w, err);
			return;
		}
		journal(w, w->batch, n);
		row_queue_pop(w->rows, n);
		atomic_fetch_add(&w->stats->rows_spooled, n);
		total += n;
	}
	if (total)
		log_queue_push(w->lq, MOSQ_LOG_WARNING, PREFIX "spooled %zu rows to disk until the database is back", total);
}

static int64_t monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A spool file the replay set aside or could not remove: the first of a
 * replay is named, the others only counted (replay_spool sums them up). */
static void file_not_replayed(struct db_writer *w, const char *err, size_t *aside)
{
	if ((*aside)++ == 0)
		spool_error(w, err);
	else
		atomic_fetch_add(&w->stats->spool_errors, 1);
}

enum replay { REPLAY_DONE, REPLAY_DB_FAILED, REPLAY_LATER, REPLAY_STOPPED };

/* The database is back: spooled rows first, in order; a file is removed
 * only once all its rows are committed. A file that cannot be read is set
 * aside or skipped (one line and spool_errors each) and the replay goes on
 * with the next; a spool that cannot be read at the moment is tried again
 * later (REPLAY_LATER) while new rows go on. Stops between files when the
 * broker stops: what is left is replayed at the next start. */
static enum replay replay_spool(struct db_writer *w)
{
	char err[1200], name[256];
	struct conso_row *rows;
	size_t n, total = 0, aside = 0;
	enum replay result = REPLAY_DONE;
	for (;;) {
		if (row_queue_stopping(w->rows)) {
			result = REPLAY_STOPPED;
			break;
		}
		int rc = spool_read_oldest(w->spool, &rows, &n, name, sizeof(name), err, sizeof(err));
		if (rc == SPOOL_READ_EMPTY)
			break;
		if (rc == SPOOL_READ_SET_ASIDE) {
			file_not_replayed(w, err, &aside);
			continue;
		}
		if (rc == SPOOL_READ_LATER) {
			/* Tried again on the back-off: a line a minute at most. */
			int64_t now = monotonic_ms();
			if (w->later_logged_ms == 0 || now - w->later_logged_ms >= 60000) {
				char line[1300];
				snprintf(line, sizeof(line), "%s; new rows go on, the spool is tried again later (%u such failures"
					" since the last line)", err, w->later_silenced);
				spool_error(w, line);
				w->later_logged_ms = now;
				w->later_silenced = 0;
			} else {
				atomic_fetch_add(&w->stats->spool_errors, 1);
				w->later_silenced++;
			}
			result = REPLAY_LATER;
			break;
		}
		size_t done = commit_rows(w, rows, n);
		free(rows);
		if (done < n) {
			result = REPLAY_DB_FAILED;
			break;
		}
		atomic_fetch_add(&w->stats->rows_replayed, n);
		total += n;
		/* The rows are in; a file that cannot be removed is skipped. */
		if (spool_remove(w->spool, name, err, sizeof(err)) != 0)
			file_not_replayed(w, err, &aside);
	}
	if (aside > 1)
		log_queue_push(w->lq, MOSQ_LOG_ERR, PREFIX "spool: %zu more spool files could not be read or removed: set aside"
			" as *.bad or skipped until the next start", aside - 1);
	if (total)
		log_queue_push(w->lq, MOSQ_LOG_NOTICE, PREFIX "replayed %zu spooled rows into the database", total);
	return result;
}

/* The connection failed (or a statement on it): drop it and spool what is
 * queued; the next connect waits for the back-off. */
static void connection_failed(struct db_writer *w)
{
	disconnect(w);
	spool_queued(w);
}

static void writer_main(void *arg)
{
	struct db_writer *w = arg;
	bool wait_first = false; /* the last attempt failed: back off before the next */
	worker_backoff_reset(&w->backoff);
	worker_backoff_reset(&w->spool_backoff);
	w->replay_at_ms = -1;
	for (;;) {
		bool stopping = row_queue_stopping(w->rows);
		if (w->mysql == NULL) {
			if (stopping)
				break;
			if (wait_first) {
				wait_first = false;
				row_queue_wait_stop(w->rows, worker_backoff_next_ms(&w->backoff));
				continue;
			}
			if (connect_db(w) != 0) {
				spool_queued(w);
				wait_first = true;
				continue;
			}
			w->replay_at_ms = w->spool ? 0 : -1;
		}
		if (w->replay_at_ms >= 0 && monotonic_ms() >= w->replay_at_ms) {
			switch (replay_spool(w)) {
			case REPLAY_DONE:
				w->replay_at_ms = -1;
				worker_backoff_reset(&w->spool_backoff);
				break;
			case REPLAY_LATER:
				w->replay_at_ms = monotonic_ms() + worker_backoff_next_ms(&w->spool_backoff);
				break;
			case REPLAY_STOPPED:
				break;
			case REPLAY_DB_FAILED:
				connection_failed(w);
				wait_first = true;
				continue;
			}
		}
		size_t n = row_queue_peek(w->rows, w->batch, w->cfg->batch_rows, stopping ? 0 : 1000);
		if (n == 0) {
			if (stopping)
				break;
			continue;
		}
		size_t done = commit_rows(w, w->batch, n);
		row_queue_pop(w->rows, done);
		if (done < n) {
			connection_failed(w);
			wait_first = true;
		}
	}
	spool_queued(w);
	size_t left = row_queue_length(w->rows);
	if (left > 0)
		log_queue_push(w->lq, MOSQ_LOG_ERR, PREFIX "stopping with %zu rows neither in the database nor spooled: they are lost", left);
	disconnect(w);
}

static void free_writer(struct db_writer *w)
{
	if (w == NULL)
		return;
	free(w->batch);
	free(w->touched);
	free(w->cp);
	free(w->conso_bind);
	free(w);
}

static int alloc_buffers(struct db_writer *w, unsigned batch_rows)
{
	unsigned top = batch_rows < STATEMENT_ROWS_MAX ? batch_rows : STATEMENT_ROWS_MAX;
	w->group_rows[w->groups++] = top;
	unsigned p = 1;
	while (p * 2 < top)
		p *= 2;
	for (; p >= 1 && top > 1; p /= 2)
		w->group_rows[w->groups++] = p;
	w->batch = calloc(batch_rows, sizeof(*w->batch));
	w->touched = calloc(batch_rows, sizeof(*w->touched));
	w->cp = calloc(top, sizeof(*w->cp));
	w->conso_bind = calloc((size_t)top * CONSO_PARAMS, sizeof(*w->conso_bind));
	return w->batch && w->touched && w->cp && w->conso_bind ? 0 : -1;
}

struct db_writer *db_writer_start(const struct lowi_config *cfg, struct row_queue *rows, struct spool *spool,
	struct peak_history *history, struct log_queue *lq, struct lowi_stats *stats)
{
	struct db_writer *w = calloc(1, sizeof(*w));
	if (w == NULL || alloc_buffers(w, cfg->batch_rows) != 0) {
		log_queue_push(lq, MOSQ_LOG_ERR, PREFIX "out of memory starting the database writer");
		free_writer(w);
		return NULL;
	}
	bind_params(w);
	w->cfg = cfg;
	w->rows = rows;
	w->lq = lq;
	w->stats = stats;
	w->spool = spool;
	w->history = history;
	atomic_init(&w->socket_fd, -1);
	db_cursor_init(&w->cursor);
	int rc = worker_start(&w->thread, writer_main, w);
	if (rc != 0) {
		log_queue_push(lq, MOSQ_LOG_ERR, PREFIX "cannot start the database writer thread: %s", strerror(rc));
		free_writer(w);
		return NULL;
	}
	return w;
}

static int writer_socket(void *ctx)
{
	return atomic_load(&((struct db_writer *)ctx)->socket_fd);
}

void db_writer_stop(struct db_writer *w)
{
	if (w == NULL)
		return;
	row_queue_stop(w->rows);
	worker_join(w->thread, writer_socket, w);
	free_writer(w);
}
