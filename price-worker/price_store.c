/* MariaDB access of the price worker; see price_store.h. */
#include "price_store.h"

#include <mysql.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "brussels.h"
#include "worker.h"

enum { DEC = 32 };

static const char put_sql[] =
	"INSERT INTO PxElectr (DtTm, price, Buy, Sell, Minutes, Source, FormulaFp) VALUES (?, ?, ?, ?, ?, ?, ?)"
	" ON DUPLICATE KEY UPDATE price = VALUES(price), Minutes = VALUES(Minutes), Source = VALUES(Source),"
	" Buy = IF(VALUES(FormulaFp) IS NULL, Buy, VALUES(Buy)),"
	" Sell = IF(VALUES(FormulaFp) IS NULL, Sell, VALUES(Sell)),"
	" FormulaFp = IF(VALUES(FormulaFp) IS NULL, FormulaFp, VALUES(FormulaFp))";
static const char stale_sql[] =
	"SELECT TIMESTAMPDIFF(SECOND, '1970-01-01', DtTm), CAST(price AS DOUBLE) FROM PxElectr"
	" WHERE DtTm >= ? AND DtTm < ? AND (FormulaFp IS NULL OR FormulaFp <> ?)";
static const char update_sql[] = "UPDATE PxElectr SET Buy = ?, Sell = ?, FormulaFp = ? WHERE DtTm = ?";
static const char board_sql[] =
	"SELECT TIMESTAMPDIFF(SECOND, '1970-01-01', DtTm), Minutes, CAST(price AS DOUBLE), CAST(Buy AS DOUBLE),"
	" CAST(Sell AS DOUBLE) FROM PxElectr WHERE DtTm >= ? AND DtTm < ? ORDER BY DtTm";

struct price_store {
	MYSQL *m;
	MYSQL_STMT *put, *stale, *update, *board;
	/* parameter buffers */
	MYSQL_TIME dttm, from, to;
	char price[DEC], buy[DEC], sell[DEC], source[17];
	unsigned long price_len, buy_len, sell_len, source_len;
	my_bool buy_null, sell_null, fp_null;
	unsigned char minutes;
	unsigned long long fp;
	/* result buffers of the stale query */
	long long r_ts;
	double r_price;
	/* result buffers of the board query */
	long long b_ts;
	int b_minutes;
	double b_price, b_buy, b_sell;
	my_bool b_buy_null, b_sell_null, b_minutes_null;
};

static int fail_m(struct price_store *s, const char *what, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s failed (error %u: %s)", what, mysql_errno(s->m), mysql_error(s->m));
	return -1;
}

static int fail_st(MYSQL_STMT *st, const char *what, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s failed (error %u: %s)", what, mysql_stmt_errno(st), mysql_stmt_error(st));
	return -1;
}

static void bind_dec(MYSQL_BIND *b, char *buf, unsigned long *len, my_bool *is_null)
{
	b->buffer_type = MYSQL_TYPE_NEWDECIMAL;
	b->buffer = buf;
	b->buffer_length = DEC;
	b->length = len;
	b->is_null = is_null;
}

static void bind_fp(MYSQL_BIND *b, struct price_store *s, bool nullable)
{
	b->buffer_type = MYSQL_TYPE_LONGLONG;
	b->buffer = &s->fp;
	b->is_unsigned = 1;
	b->is_null = nullable ? &s->fp_null : NULL;
}

static MYSQL_STMT *prepare(struct price_store *s, const char *sql, MYSQL_BIND *params, char *err, size_t errlen)
{
	MYSQL_STMT *st = mysql_stmt_init(s->m);
	if (st == NULL) {
		fail_m(s, "statement init", err, errlen);
		return NULL;
	}
	if (mysql_stmt_prepare(st, sql, (unsigned long)strlen(sql)) != 0 || mysql_stmt_bind_param(st, params) != 0) {
		fail_st(st, "statement preparation", err, errlen);
		mysql_stmt_close(st);
		return NULL;
	}
	return st;
}

static int prepare_all(struct price_store *s, char *err, size_t errlen)
{
	MYSQL_BIND put[7], stale[3], upd[4];
	memset(put, 0, sizeof(put));
	memset(stale, 0, sizeof(stale));
	memset(upd, 0, sizeof(upd));

	put[0].buffer_type = MYSQL_TYPE_DATETIME;
	put[0].buffer = &s->dttm;
	bind_dec(&put[1], s->price, &s->price_len, NULL);
	bind_dec(&put[2], s->buy, &s->buy_len, &s->buy_null);
	bind_dec(&put[3], s->sell, &s->sell_len, &s->sell_null);
	put[4].buffer_type = MYSQL_TYPE_TINY;
	put[4].buffer = &s->minutes;
	put[4].is_unsigned = 1;
	put[5].buffer_type = MYSQL_TYPE_STRING;
	put[5].buffer = s->source;
	put[5].buffer_length = sizeof(s->source);
	put[5].length = &s->source_len;
	bind_fp(&put[6], s, true);

	stale[0].buffer_type = MYSQL_TYPE_DATETIME;
	stale[0].buffer = &s->from;
	stale[1].buffer_type = MYSQL_TYPE_DATETIME;
	stale[1].buffer = &s->to;
	bind_fp(&stale[2], s, false);

	bind_dec(&upd[0], s->buy, &s->buy_len, NULL);
	bind_dec(&upd[1], s->sell, &s->sell_len, NULL);
	bind_fp(&upd[2], s, false);
	upd[3].buffer_type = MYSQL_TYPE_DATETIME;
	upd[3].buffer = &s->dttm;

	if ((s->put = prepare(s, put_sql, put, err, errlen)) == NULL
		|| (s->stale = prepare(s, stale_sql, stale, err, errlen)) == NULL
		|| (s->update = prepare(s, update_sql, upd, err, errlen)) == NULL
		|| (s->board = prepare(s, board_sql, stale, err, errlen)) == NULL) /* stale's first two: from, to */
		return -1;

	MYSQL_BIND res[2];
	memset(res, 0, sizeof(res));
	res[0].buffer_type = MYSQL_TYPE_LONGLONG;
	res[0].buffer = &s->r_ts;
	res[1].buffer_type = MYSQL_TYPE_DOUBLE;
	res[1].buffer = &s->r_price;
	if (mysql_stmt_bind_result(s->stale, res) != 0)
		return fail_st(s->stale, "result binding", err, errlen);

	MYSQL_BIND br[5];
	memset(br, 0, sizeof(br));
	br[0].buffer_type = MYSQL_TYPE_LONGLONG;
	br[0].buffer = &s->b_ts;
	br[1].buffer_type = MYSQL_TYPE_LONG;
	br[1].buffer = &s->b_minutes;
	br[1].is_null = &s->b_minutes_null;
	br[2].buffer_type = MYSQL_TYPE_DOUBLE;
	br[2].buffer = &s->b_price;
	br[3].buffer_type = MYSQL_TYPE_DOUBLE;
	br[3].buffer = &s->b_buy;
	br[3].is_null = &s->b_buy_null;
	br[4].buffer_type = MYSQL_TYPE_DOUBLE;
	br[4].buffer = &s->b_sell;
	br[4].is_null = &s->b_sell_null;
	if (mysql_stmt_bind_result(s->board, br) != 0)
		return fail_st(s->board, "result binding", err, errlen);
	return 0;
}

struct price_store *price_store_open(const struct price_host *host, char *err, size_t errlen)
{
	struct price_store *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->m = host->db_connect(host->ctx, err, errlen);
	if (s->m == NULL || prepare_all(s, err, errlen) != 0) {
		price_store_close(s);
		return NULL;
	}
	return s;
}

void price_store_close(struct price_store *s)
{
	if (s == NULL)
		return;
	if (s->put)
		mysql_stmt_close(s->put);
	if (s->stale)
		mysql_stmt_close(s->stale);
	if (s->update)
		mysql_stmt_close(s->update);
	if (s->board)
		mysql_stmt_close(s->board);
	if (s->m)
		mysql_close(s->m);
	free(s);
}

int price_store_socket(const struct price_store *s)
{
	return s && s->m ? (int)mysql_get_socket(s->m) : -1;
}

static int64_t brussels_day_number(int64_t utc_s)
{
	struct civil_date d = brussels_date(utc_s);
	return civil_to_days(d.year, d.month, d.day);
}

int price_store_count_days(struct price_store *s, int64_t first_day, size_t ndays, uint16_t *counts, char *err, size_t errlen)
{
	memset(counts, 0, ndays * sizeof(*counts));
	if (mysql_query(s->m, "SELECT TIMESTAMPDIFF(SECOND, '1970-01-01', DtTm), Minutes FROM PxElectr") != 0)
		return fail_m(s, "reading stored prices", err, errlen);
	MYSQL_RES *res = mysql_use_result(s->m);
	if (res == NULL)
		return fail_m(s, "reading stored prices", err, errlen);
	MYSQL_ROW row;
	while ((row = mysql_fetch_row(res)) != NULL) {
		int64_t i = brussels_day_number(strtoll(row[0], NULL, 10)) - first_day;
		long minutes = strtol(row[1], NULL, 10);
		if (i >= 0 && (size_t)i < ndays && counts[i] + minutes <= UINT16_MAX)
			counts[i] = (uint16_t)(counts[i] + minutes);
	}
	bool bad = mysql_errno(s->m) != 0;
	mysql_free_result(res);
	mysql_commit(s->m);
	return bad ? fail_m(s, "reading stored prices", err, errlen) : 0;
}

int price_store_load_tariff(struct price_store *s, struct tariff *t, char *err, size_t errlen)
{
	tariff_free(t);
	if (mysql_query(s->m, "SELECT TO_DAYS(FromDt) - TO_DAYS('1970-01-01'), BuyFormula, SellFormula FROM FormPxElectr") != 0)
		return fail_m(s, "reading FormPxElectr", err, errlen);
	MYSQL_RES *res = mysql_store_result(s->m);
	if (res == NULL)
		return fail_m(s, "reading FormPxElectr", err, errlen);
	MYSQL_ROW row;
	int rc = 0;
	while (rc == 0 && (row = mysql_fetch_row(res)) != NULL) {
		if (row[0] == NULL)
			continue;
		if (tariff_add(t, strtoll(row[0], NULL, 10), row[1] ? row[1] : "", row[2] ? row[2] : "") != 0) {
			snprintf(err, errlen, "out of memory reading FormPxElectr");
			rc = -1;
		}
	}
	mysql_free_result(res);
	mysql_commit(s->m);
	return rc;
}

static unsigned long dec_text(char *buf, const char *fmt, double v)
{
	int n = snprintf(buf, DEC, fmt, v);
	/* Never hand the client a length beyond the buffer (values are range-
	 * checked before; a truncated text is refused by MariaDB, not over-read). */
	return n < 0 ? 0 : (unsigned long)(n < DEC ? n : DEC - 1);
}

/* Fills buy/sell/fp for a period; false when no formula applies or it fails. */
static bool fill_prices(struct price_store *s, const struct tariff *t, int64_t start_s, double price, char *why, size_t whylen)
{
	const struct tariff_row *row = tariff_for_day(t, brussels_day_number(start_s));
	double buy, sell;
	why[0] = '\0';
	if (row == NULL || tariff_prices(row, price, &buy, &sell, why, whylen) != 0)
		return false;
	s->buy_len = dec_text(s->buy, "%.5f", buy);
	s->sell_len = dec_text(s->sell, "%.5f", sell);
	s->fp = row->fingerprint;
	return true;
}

int price_store_put(struct price_store *s, const struct price_point *pts, size_t n, const char *source,
	const struct tariff *t, size_t *formula_failures, char *err, size_t errlen)
{
	*formula_failures = 0;
	s->source_len = (unsigned long)snprintf(s->source, sizeof(s->source), "%s", source);
	for (size_t i = 0; i < n; i++) {
		char why[200];
		worker_db_time(&s->dttm, pts[i].start_s, false);
		s->price_len = dec_text(s->price, "%.3f", pts[i].price_eur_mwh);
		s->minutes = (unsigned char)(pts[i].period_s / 60);
		bool ok = fill_prices(s, t, pts[i].start_s, pts[i].price_eur_mwh, why, sizeof(why));
		s->buy_null = s->sell_null = s->fp_null = !ok;
		*formula_failures += !ok && why[0] != '\0';
		if (mysql_stmt_execute(s->put) != 0) {
			fail_st(s->put, "storing prices", err, errlen);
			mysql_rollback(s->m);
			return -1;
		}
	}
	if (mysql_commit(s->m) != 0)
		return fail_m(s, "COMMIT of prices", err, errlen);
	return 0;
}

/* Periods governed by one tariff row whose stored fingerprint differs. */
static int recompute_row(struct price_store *s, const struct tariff *t, size_t i, size_t *updated, char *err, size_t errlen)
{
	const struct tariff_row *row = &t->rows[i];
	worker_db_time(&s->from, brussels_local_to_utc(row->from_day, 0), false);
	worker_db_time(&s->to, i + 1 < t->count ? brussels_local_to_utc(t->rows[i + 1].from_day, 0) : INT64_C(253402300799), false);
	s->fp = row->fingerprint;
	if (mysql_stmt_execute(s->stale) != 0 || mysql_stmt_store_result(s->stale) != 0)
		return fail_st(s->stale, "reading prices to recompute", err, errlen);
	size_t n = (size_t)mysql_stmt_num_rows(s->stale);
	struct price_point *pts = n ? malloc(n * sizeof(*pts)) : NULL;
	size_t k = 0;
	while (pts && k < n && mysql_stmt_fetch(s->stale) == 0) {
		pts[k].start_s = s->r_ts;
		pts[k].price_eur_mwh = s->r_price;
		k++;
	}
	mysql_stmt_free_result(s->stale);
	if (n && pts == NULL) {
		snprintf(err, errlen, "out of memory recomputing prices");
		return -1;
	}
	for (size_t j = 0; j < k; j++) {
		char why[200];
		if (!fill_prices(s, t, pts[j].start_s, pts[j].price_eur_mwh, why, sizeof(why)))
			continue;
		worker_db_time(&s->dttm, pts[j].start_s, false);
		if (mysql_stmt_execute(s->update) != 0) {
			free(pts);
			mysql_rollback(s->m);
			return fail_st(s->update, "updating Buy/Sell", err, errlen);
		}
		(*updated)++;
	}
	free(pts);
	return 0;
}

int price_store_recompute(struct price_store *s, const struct tariff *t, size_t *updated, char *err, size_t errlen)
{
	*updated = 0;
	for (size_t i = 0; i < t->count; i++) {
		if (t->rows[i].buy == NULL || t->rows[i].sell == NULL)
			continue;
		if (recompute_row(s, t, i, updated, err, errlen) != 0)
			return -1;
	}
	if (mysql_commit(s->m) != 0)
		return fail_m(s, "COMMIT of recomputed prices", err, errlen);
	return 0;
}

int price_store_read_periods(struct price_store *s, int64_t from_s, int64_t to_s, struct price_board_period **out,
	size_t *n, char *err, size_t errlen)
{
	*out = NULL;
	*n = 0;
	worker_db_time(&s->from, from_s, false);
	worker_db_time(&s->to, to_s, false);
	if (mysql_stmt_execute(s->board) != 0 || mysql_stmt_store_result(s->board) != 0) {
		fail_st(s->board, "reading the price board", err, errlen);
		mysql_rollback(s->m);
		return -1;
	}
	size_t rows = (size_t)mysql_stmt_num_rows(s->board);
	struct price_board_period *p = rows ? calloc(rows, sizeof(*p)) : NULL;
	size_t k = 0;
	while (p && k < rows && mysql_stmt_fetch(s->board) == 0) {
		p[k].start_s = s->b_ts;
		p[k].minutes = s->b_minutes_null ? 0 : s->b_minutes;
		p[k].market_eur_mwh = s->b_price;
		p[k].buy_known = !s->b_buy_null;
		p[k].buy_c_kwh = s->b_buy_null ? 0 : s->b_buy;
		p[k].sell_known = !s->b_sell_null;
		p[k].sell_c_kwh = s->b_sell_null ? 0 : s->b_sell;
		k++;
	}
	mysql_stmt_free_result(s->board);
	/* Ends the read's transaction: the next read sees rows committed since. */
	mysql_commit(s->m);
	if (rows && p == NULL) {
		snprintf(err, errlen, "out of memory reading the price board");
		return -1;
	}
	*out = p;
	*n = k;
	return 0;
}
