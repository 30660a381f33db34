/*
 * Database writer thread; see db_writer.h.
 * Runs only on its own thread, except db_writer_start/stop. The only state
 * shared with the broker thread is the row queue, the log queue, the atomic
 * stats, and the socket descriptor used to interrupt a hung query at stop.
 */
#include "db_writer.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
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
#include "db_connect.h"
#include "spool.h"

#define PREFIX "lowi-p1: "
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 60000
#define STOP_GRACE_S 2

static const char conso_upsert_sql[] =
	"INSERT INTO Conso (DtTm, In_D, In_N, OUT_D, OUT_N, Soutire, Injecte, Serial, Gas_m3, Water_m3, Estimated)"
	" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
	" ON DUPLICATE KEY UPDATE In_D = VALUES(In_D), In_N = VALUES(In_N), OUT_D = VALUES(OUT_D),"
	" OUT_N = VALUES(OUT_N), Soutire = VALUES(Soutire), Injecte = VALUES(Injecte),"
	" Gas_m3 = VALUES(Gas_m3), Water_m3 = VALUES(Water_m3), Estimated = VALUES(Estimated)";

/* Assignments run left to right: DtTm is compared with the old kW first. */
static const char pics_upsert_sql[] =
	"INSERT INTO Pics (Mois, DtTm, kW, Serial) VALUES (?, ?, ?, ?)"
	" ON DUPLICATE KEY UPDATE DtTm = IF(VALUES(kW) > kW, VALUES(DtTm), DtTm), kW = GREATEST(kW, VALUES(kW))";

enum { CONSO_PARAMS = 11, PICS_PARAMS = 4, DECIMAL_TEXT = 32 };

struct db_writer {
	const struct lowi_config *cfg;
	struct row_queue *rows;
	struct log_queue *lq;
	struct lowi_stats *stats;
	struct spool *spool;     /* NULL: rows wait in memory only */
	pthread_t thread;
	_Atomic int socket_fd; /* -1 when not connected */

	MYSQL *mysql;
	MYSQL_STMT *conso, *pics;
	struct conso_row *batch;
	size_t failed_index;     /* row of the batch MariaDB refused */
	unsigned failed_errno;

	/* Bound parameter buffers, filled per row. */
	MYSQL_TIME dttm, mois;
	char dec[8][DECIMAL_TEXT];
	unsigned long dec_len[8];
	char serial[LOWI_SERIAL_MAX + 1];
	unsigned long serial_len;
	my_bool gas_null, water_null;
	signed char estimated;
	MYSQL_BIND conso_bind[CONSO_PARAMS], pics_bind[PICS_PARAMS];
};

/* Exact kWh text with three decimals for a whole number of Wh (or litres
 * to m3): DECIMAL columns receive it without passing through a float. */
static unsigned long milli_text(int64_t milli, char out[DECIMAL_TEXT])
{
	uint64_t mag = milli < 0 ? (uint64_t)0 - (uint64_t)milli : (uint64_t)milli;
	int n = snprintf(out, DECIMAL_TEXT, "%s%" PRIu64 ".%03" PRIu64, milli < 0 ? "-" : "", mag / 1000, mag % 1000);
	return (unsigned long)n;
}

static void bind_decimal(MYSQL_BIND *b, struct db_writer *w, int i)
{
	b->buffer_type = MYSQL_TYPE_NEWDECIMAL;
	b->buffer = w->dec[i];
	b->buffer_length = DECIMAL_TEXT;
	b->length = &w->dec_len[i];
}

static void bind_params(struct db_writer *w)
{
	MYSQL_BIND *c = w->conso_bind, *p = w->pics_bind;
	memset(w->conso_bind, 0, sizeof(w->conso_bind));
	memset(w->pics_bind, 0, sizeof(w->pics_bind));

	c[0].buffer_type = MYSQL_TYPE_DATETIME;
	c[0].buffer = &w->dttm;
	for (int i = 0; i < 6; i++)
		bind_decimal(&c[1 + i], w, i);
	c[7].buffer_type = MYSQL_TYPE_STRING;
	c[7].buffer = w->serial;
	c[7].buffer_length = sizeof(w->serial);
	c[7].length = &w->serial_len;
	bind_decimal(&c[8], w, 6);
	c[8].is_null = &w->gas_null;
	bind_decimal(&c[9], w, 7);
	c[9].is_null = &w->water_null;
	c[10].buffer_type = MYSQL_TYPE_TINY;
	c[10].buffer = &w->estimated;

	p[0].buffer_type = MYSQL_TYPE_DATE;
	p[0].buffer = &w->mois;
	p[1].buffer_type = MYSQL_TYPE_DATETIME;
	p[1].buffer = &w->dttm;
	bind_decimal(&p[2], w, 5); /* filled with the peak power before each Pics execute */
	p[3] = c[7];
}

static void disconnect(struct db_writer *w)
{
	atomic_store(&w->socket_fd, -1);
	if (w->conso)
		mysql_stmt_close(w->conso);
	if (w->pics)
		mysql_stmt_close(w->pics);
	w->conso = w->pics = NULL;
	if (w->mysql)
		mysql_close(w->mysql);
	w->mysql = NULL;
}

static void db_error(struct db_writer *w, const char *what, const char *detail, unsigned err)
{
	atomic_fetch_add(&w->stats->db_errors, 1);
	log_queue_push(w->lq, MOSQ_LOG_ERR, PREFIX "database %s failed (error %u: %s); %zu rows wait in memory",
		what, err, detail, row_queue_length(w->rows));
}

static MYSQL_STMT *prepare(struct db_writer *w, const char *sql, const char *name)
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

static int connect_db(struct db_writer *w)
{
	char err[600];
	unsigned errnum;
	w->mysql = db_connect(w->cfg, err, sizeof(err), &errnum);
	if (w->mysql == NULL) {
		atomic_fetch_add(&w->stats->db_errors, 1);
		log_queue_push(w->lq, MOSQ_LOG_ERR, PREFIX "database %s; %zu rows wait in memory", err, row_queue_length(w->rows));
		return -1;
	}
	atomic_store(&w->socket_fd, (int)mysql_get_socket(w->mysql));
	if ((w->conso = prepare(w, conso_upsert_sql, "Conso statement")) == NULL
		|| (w->pics = prepare(w, pics_upsert_sql, "Pics statement")) == NULL) {
		disconnect(w);
		return -1;
	}
	bind_params(w);
	if (mysql_stmt_bind_param(w->conso, w->conso_bind) || mysql_stmt_bind_param(w->pics, w->pics_bind)) {
		db_error(w, "parameter binding", mysql_stmt_error(w->conso), mysql_stmt_errno(w->conso));
		disconnect(w);
		return -1;
	}
	atomic_fetch_add(&w->stats->db_connects, 1);
	log_queue_push(w->lq, MOSQ_LOG_NOTICE, PREFIX "connected to MariaDB %s on %s, database %s; %zu rows queued",
		mysql_get_server_info(w->mysql), mysql_get_host_info(w->mysql), w->cfg->db_name, row_queue_length(w->rows));
	return 0;
}

static int execute(struct db_writer *w, MYSQL_STMT *st, const char *what)
{
	if (mysql_stmt_execute(st) != 0) {
		w->failed_errno = mysql_stmt_errno(st);
		db_error(w, what, mysql_stmt_error(st), w->failed_errno);
		return -1;
	}
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

static int write_row(struct db_writer *w, const struct conso_row *row)
{
	const struct quarter_row *q = &row->q;
	db_time(&w->dttm, q->start_s, false);
	w->dec_len[0] = milli_text(q->import_day_wh, w->dec[0]);
	w->dec_len[1] = milli_text(q->import_night_wh, w->dec[1]);
	w->dec_len[2] = milli_text(q->export_day_wh, w->dec[2]);
	w->dec_len[3] = milli_text(q->export_night_wh, w->dec[3]);
	w->dec_len[4] = milli_text(q->import_wh, w->dec[4]);
	w->dec_len[5] = milli_text(q->export_wh, w->dec[5]);
	w->dec_len[6] = milli_text(q->gas_l, w->dec[6]);
	w->dec_len[7] = milli_text(q->water_l, w->dec[7]);
	w->gas_null = !q->has_gas;
	w->water_null = !q->has_water;
	w->estimated = q->estimated;
	w->serial_len = (unsigned long)strlen(row->serial);
	memcpy(w->serial, row->serial, w->serial_len + 1);
	if (execute(w, w->conso, "Conso upsert") != 0)
		return -1;
	if (q->estimated)
		return 0;
	struct civil_date m = brussels_month_of(q->start_s);
	db_time(&w->mois, civil_to_days(m.year, m.month, 1) * 86400, true);
	/* Average power of the quarter: kWh x 4 = kW; Wh x 4 / 1000 exactly. */
	w->dec_len[5] = milli_text(q->import_wh * 4, w->dec[5]);
	return execute(w, w->pics, "Pics upsert");
}

static int write_batch(struct db_writer *w, const struct conso_row *rows, size_t n)
{
	w->failed_errno = 0;
	for (size_t i = 0; i < n; i++) {
		if (write_row(w, &rows[i]) != 0) {
			w->failed_index = i;
			mysql_rollback(w->mysql);
			return -1;
		}
	}
	if (mysql_commit(w->mysql) != 0) {
		db_error(w, "COMMIT", mysql_error(w->mysql), mysql_errno(w->mysql));
		return -1;
	}
	return 0;
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

/* The database is back: spooled rows first, in order; a file is removed
 * only once all its rows are committed. */
static int replay_spool(struct db_writer *w)
{
	char err[1200], name[256];
	struct conso_row *rows;
	size_t n, total = 0;
	int rc;
	while (w->spool && (rc = spool_read_oldest(w->spool, &rows, &n, name, sizeof(name), err, sizeof(err))) != 0) {
		if (rc < 0) {
			spool_error(w, err);
			continue;
		}
		size_t done = commit_rows(w, rows, n);
		free(rows);
		if (done < n)
			return -1;
		if (spool_remove(w->spool, name, err, sizeof(err)) != 0) {
			spool_error(w, err);
			return -1;
		}
		atomic_fetch_add(&w->stats->rows_replayed, n);
		total += n;
	}
	if (total)
		log_queue_push(w->lq, MOSQ_LOG_NOTICE, PREFIX "replayed %zu spooled rows into the database", total);
	return 0;
}

static void *writer_main(void *arg)
{
	struct db_writer *w = arg;
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	mysql_thread_init();

	int backoff_ms = BACKOFF_MIN_MS;
	for (;;) {
		bool stopping = row_queue_stopping(w->rows);
		if (w->mysql == NULL) {
			if (stopping)
				break;
			if (connect_db(w) != 0) {
				spool_queued(w);
				row_queue_wait_stop(w->rows, backoff_ms);
				backoff_ms = backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff_ms * 2;
				continue;
			}
			backoff_ms = BACKOFF_MIN_MS;
			if (replay_spool(w) != 0) {
				disconnect(w);
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
			disconnect(w);
			spool_queued(w);
		}
	}
	spool_queued(w);
	size_t left = row_queue_length(w->rows);
	if (left > 0)
		log_queue_push(w->lq, MOSQ_LOG_ERR, PREFIX "stopping with %zu rows neither in the database nor spooled: they are lost", left);
	disconnect(w);
	mysql_thread_end();
	return NULL;
}

struct db_writer *db_writer_start(const struct lowi_config *cfg, struct row_queue *rows, struct spool *spool,
	struct log_queue *lq, struct lowi_stats *stats)
{
	struct db_writer *w = calloc(1, sizeof(*w));
	if (w)
		w->batch = calloc(cfg->batch_rows, sizeof(*w->batch));
	if (w == NULL || w->batch == NULL) {
		log_queue_push(lq, MOSQ_LOG_ERR, PREFIX "out of memory starting the database writer");
		free(w);
		return NULL;
	}
	w->cfg = cfg;
	w->rows = rows;
	w->lq = lq;
	w->stats = stats;
	w->spool = spool;
	atomic_init(&w->socket_fd, -1);
	int rc = pthread_create(&w->thread, NULL, writer_main, w);
	if (rc != 0) {
		log_queue_push(lq, MOSQ_LOG_ERR, PREFIX "cannot start the database writer thread: %s", strerror(rc));
		free(w->batch);
		free(w);
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
	db_join_worker(w->thread, STOP_GRACE_S, writer_socket, w);
	free(w->batch);
	free(w);
}
