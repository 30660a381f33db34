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
#include "db_connect.h"
#include "spool.h"
#include "worker.h"

#include "log_prefix.h"

/* Statements are prepared for several row counts: a batch goes out as a
 * few multi-row INSERTs (one round trip and one statement execution per
 * group) rather than one per row. Rows of one statement are applied in
 * order, each against the rows before it, as separate statements would
 * be, so a meter's month peak comes out the same either way. */
static const char conso_insert_sql[] =
	"INSERT INTO Conso (DtTm, In_D, In_N, OUT_D, OUT_N, Soutire, Injecte, Serial, Gas_m3, Water_m3, Estimated) VALUES ";
static const char conso_values_sql[] = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
static const char conso_update_sql[] =
	" ON DUPLICATE KEY UPDATE In_D = VALUES(In_D), In_N = VALUES(In_N), OUT_D = VALUES(OUT_D),"
	" OUT_N = VALUES(OUT_N), Soutire = VALUES(Soutire), Injecte = VALUES(Injecte),"
	" Gas_m3 = VALUES(Gas_m3), Water_m3 = VALUES(Water_m3), Estimated = VALUES(Estimated)";

/* Assignments run left to right: DtTm is compared with the old kW first. */
static const char pics_insert_sql[] = "INSERT INTO Pics (Mois, DtTm, kW, Serial) VALUES ";
static const char pics_values_sql[] = "(?, ?, ?, ?)";
static const char pics_update_sql[] =
	" ON DUPLICATE KEY UPDATE DtTm = IF(VALUES(kW) > kW, VALUES(DtTm), DtTm), kW = GREATEST(kW, VALUES(kW))";

enum { CONSO_PARAMS = 11, PICS_PARAMS = 4, DECIMAL_TEXT = 32 };

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

struct pics_params {
	MYSQL_TIME mois, dttm;
	char kw[DECIMAL_TEXT];
	unsigned long kw_len;
	char serial[LOWI_SERIAL_MAX + 1];
	unsigned long serial_len;
};

struct db_writer {
	const struct lowi_config *cfg;
	struct row_queue *rows;
	struct log_queue *lq;
	struct lowi_stats *stats;
	struct spool *spool;     /* NULL: rows wait in memory only */
	pthread_t thread;
	_Atomic int socket_fd; /* -1 when not connected */

	MYSQL *mysql;
	MYSQL_STMT *conso[GROUPS_MAX], *pics[GROUPS_MAX];
	unsigned group_rows[GROUPS_MAX]; /* rows per statement, largest first, the last 1 */
	int groups;
	struct conso_row *batch;
	size_t failed_index;     /* row of the batch MariaDB refused */
	unsigned failed_errno;
	const struct conso_row **pics_rows; /* the batch's rows that may set a peak */

	/* group_rows[0] rows of parameters each */
	struct conso_params *cp;
	struct pics_params *pp;
	MYSQL_BIND *conso_bind, *pics_bind;
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

/* Row i of every statement reads the buffers of cp[i] / pp[i]: a statement
 * of k rows binds the first k rows' worth of these arrays. */
static void bind_params(struct db_writer *w)
{
	for (unsigned r = 0; r < w->group_rows[0]; r++) {
		MYSQL_BIND *c = &w->conso_bind[r * CONSO_PARAMS], *p = &w->pics_bind[r * PICS_PARAMS];
		struct conso_params *cp = &w->cp[r];
		struct pics_params *pp = &w->pp[r];
		c[0].buffer_type = MYSQL_TYPE_DATETIME;
		c[0].buffer = &cp->dttm;
		for (int i = 0; i < 6; i++)
			bind_decimal(&c[1 + i], cp->dec[i], &cp->dec_len[i]);
		bind_serial(&c[7], cp->serial, &cp->serial_len);
		bind_decimal(&c[8], cp->dec[6], &cp->dec_len[6]);
		c[8].is_null = &cp->gas_null;
		bind_decimal(&c[9], cp->dec[7], &cp->dec_len[7]);
		c[9].is_null = &cp->water_null;
		c[10].buffer_type = MYSQL_TYPE_TINY;
		c[10].buffer = &cp->estimated;

		p[0].buffer_type = MYSQL_TYPE_DATE;
		p[0].buffer = &pp->mois;
		p[1].buffer_type = MYSQL_TYPE_DATETIME;
		p[1].buffer = &pp->dttm;
		bind_decimal(&p[2], pp->kw, &pp->kw_len);
		bind_serial(&p[3], pp->serial, &pp->serial_len);
	}
}

static void disconnect(struct db_writer *w)
{
	atomic_store(&w->socket_fd, -1);
	for (int g = 0; g < w->groups; g++) {
		if (w->conso[g])
			mysql_stmt_close(w->conso[g]);
		if (w->pics[g])
			mysql_stmt_close(w->pics[g]);
		w->conso[g] = w->pics[g] = NULL;
	}
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
	if (st != NULL && mysql_stmt_bind_param(st, bind) != 0) {
		db_error(w, "parameter binding", mysql_stmt_error(st), mysql_stmt_errno(st));
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
	for (int g = 0; g < w->groups; g++) {
		w->conso[g] = prepare_rows(w, conso_insert_sql, conso_values_sql, conso_update_sql, w->group_rows[g],
			w->conso_bind, "Conso statement");
		w->pics[g] = w->conso[g] == NULL ? NULL : prepare_rows(w, pics_insert_sql, pics_values_sql, pics_update_sql,
			w->group_rows[g], w->pics_bind, "Pics statement");
		if (w->pics[g] == NULL) {
			disconnect(w);
			return -1;
		}
	}
	atomic_fetch_add(&w->stats->db_connects, 1);
	log_queue_push(w->lq, MOSQ_LOG_NOTICE, PREFIX "connected to MariaDB %s on %s, database %s; %zu rows queued",
		mysql_get_server_info(w->mysql), mysql_get_host_info(w->mysql), w->cfg->db_name, row_queue_length(w->rows));
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

static void fill_pics(struct pics_params *pp, const struct conso_row *row)
{
	const struct quarter_row *q = &row->q;
	struct civil_date m = brussels_month_of(q->start_s);
	worker_db_time(&pp->mois, civil_to_days(m.year, m.month, 1) * 86400, true);
	worker_db_time(&pp->dttm, q->start_s, false);
	/* Average power of the quarter: kWh x 4 = kW; Wh x 4 / 1000 exactly. */
	pp->kw_len = milli_text(q->import_wh * 4, pp->kw);
	pp->serial_len = (unsigned long)strlen(row->serial);
	memcpy(pp->serial, row->serial, pp->serial_len + 1);
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

/* Writes the Conso rows, then the Pics rows of the quarters that may set a
 * peak (estimated ones never do), in statements of several rows. */
static int write_grouped(struct db_writer *w, const struct conso_row *rows, size_t n)
{
	for (size_t i = 0; i < n;) {
		int g = group_for(w, n - i, false);
		for (unsigned r = 0; r < w->group_rows[g]; r++)
			fill_conso(&w->cp[r], &rows[i + r]);
		if (execute(w, w->conso[g], "Conso upsert", true) != 0)
			return -1;
		i += w->group_rows[g];
	}
	size_t np = 0;
	for (size_t i = 0; i < n; i++)
		if (!rows[i].q.estimated)
			w->pics_rows[np++] = &rows[i];
	for (size_t i = 0; i < np;) {
		int g = group_for(w, np - i, false);
		for (unsigned r = 0; r < w->group_rows[g]; r++)
			fill_pics(&w->pp[r], w->pics_rows[i + r]);
		if (execute(w, w->pics[g], "Pics upsert", true) != 0)
			return -1;
		i += w->group_rows[g];
	}
	return 0;
}

/* Row by row, to name the row MariaDB refuses (failed_index). */
static int write_single(struct db_writer *w, const struct conso_row *rows, size_t n)
{
	int g = group_for(w, 1, true);
	for (size_t i = 0; i < n; i++) {
		fill_conso(&w->cp[0], &rows[i]);
		int rc = execute(w, w->conso[g], "Conso upsert", false);
		if (rc == 0 && !rows[i].q.estimated) {
			fill_pics(&w->pp[0], &rows[i]);
			rc = execute(w, w->pics[g], "Pics upsert", false);
		}
		if (rc != 0) {
			w->failed_index = i;
			return -1;
		}
	}
	return 0;
}

static int write_batch(struct db_writer *w, const struct conso_row *rows, size_t n)
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

static void writer_main(void *arg)
{
	struct db_writer *w = arg;
	struct worker_backoff backoff;
	worker_backoff_reset(&backoff);
	for (;;) {
		bool stopping = row_queue_stopping(w->rows);
		if (w->mysql == NULL) {
			if (stopping)
				break;
			if (connect_db(w) != 0) {
				spool_queued(w);
				row_queue_wait_stop(w->rows, worker_backoff_next_ms(&backoff));
				continue;
			}
			worker_backoff_reset(&backoff);
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
}

static void free_writer(struct db_writer *w)
{
	if (w == NULL)
		return;
	free(w->batch);
	free(w->pics_rows);
	free(w->cp);
	free(w->pp);
	free(w->conso_bind);
	free(w->pics_bind);
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
	w->pics_rows = calloc(batch_rows, sizeof(*w->pics_rows));
	w->cp = calloc(top, sizeof(*w->cp));
	w->pp = calloc(top, sizeof(*w->pp));
	w->conso_bind = calloc((size_t)top * CONSO_PARAMS, sizeof(*w->conso_bind));
	w->pics_bind = calloc((size_t)top * PICS_PARAMS, sizeof(*w->pics_bind));
	return w->batch && w->pics_rows && w->cp && w->pp && w->conso_bind && w->pics_bind ? 0 : -1;
}

struct db_writer *db_writer_start(const struct lowi_config *cfg, struct row_queue *rows, struct spool *spool,
	struct log_queue *lq, struct lowi_stats *stats)
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
	atomic_init(&w->socket_fd, -1);
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
