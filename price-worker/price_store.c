/* MariaDB access of the price worker; see price_store.h. */
#include "price_store.h"

#include <mysql.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mysqld_error.h>

#include "brussels.h"
#include "price_lease.h"
#include "worker.h"

enum { DEC = 32 };

static const char put_sql[] =
	"INSERT INTO PxElectr (DtTm, price, Buy, Sell, Minutes, Source, FormulaFp) VALUES (?, ?, ?, ?, ?, ?, ?)"
	" ON DUPLICATE KEY UPDATE price = VALUES(price), Minutes = VALUES(Minutes), Source = VALUES(Source),"
	" Buy = IF(VALUES(FormulaFp) IS NULL, Buy, VALUES(Buy)),"
	" Sell = IF(VALUES(FormulaFp) IS NULL, Sell, VALUES(Sell)),"
	" FormulaFp = IF(VALUES(FormulaFp) IS NULL, FormulaFp, VALUES(FormulaFp))";
static const char span_sql[] =
	"SELECT TIMESTAMPDIFF(SECOND, '1970-01-01', DtTm), Minutes, CAST(price AS DOUBLE), FormulaFp FROM PxElectr"
	" WHERE DtTm >= ? AND DtTm < ? ORDER BY DtTm";
static const char update_sql[] = "UPDATE PxElectr SET Buy = ?, Sell = ?, FormulaFp = ? WHERE DtTm = ?";
static const char board_sql[] =
	"SELECT TIMESTAMPDIFF(SECOND, '1970-01-01', DtTm), Minutes, CAST(price AS DOUBLE), CAST(Buy AS DOUBLE),"
	" CAST(Sell AS DOUBLE) FROM PxElectr WHERE DtTm >= ? AND DtTm < ? ORDER BY DtTm";

/* The lease: taken when lapsed (or released), renewed by its holder;
 * Since is kept across renewals. Assignments run left to right: Since
 * reads the Holder being replaced. */
static const char claim_sql[] =
	"UPDATE PriceFetcher SET Since = IF(Holder = ?, Since, UTC_TIMESTAMP(3)), Holder = ?,"
	" Until = UTC_TIMESTAMP(3) + INTERVAL ? SECOND WHERE Id = 1 AND (Holder = ? OR Until < UTC_TIMESTAMP(3))";
static const char holder_sql[] = "SELECT Holder FROM PriceFetcher WHERE Id = 1";
static const char release_sql[] = "UPDATE PriceFetcher SET Until = UTC_TIMESTAMP(3) WHERE Id = 1 AND Holder = ?";

struct price_store {
	MYSQL *m;
	MYSQL_STMT *put, *span, *update, *board, *claim, *holder, *release;
	/* parameter buffers */
	MYSQL_TIME dttm, from, to;
	char price[DEC], buy[DEC], sell[DEC], source[17];
	unsigned long price_len, buy_len, sell_len, source_len;
	my_bool buy_null, sell_null, fp_null;
	unsigned char minutes;
	unsigned long long fp;
	/* result buffers of the span query */
	long long r_ts;
	int r_minutes;
	double r_price;
	unsigned long long r_fp;
	my_bool r_fp_null;
	/* result buffers of the board query */
	long long b_ts;
	int b_minutes;
	double b_price, b_buy, b_sell;
	my_bool b_buy_null, b_sell_null, b_minutes_null;
	/* the lease's parameters and result */
	char self[PRICE_LEASE_HOLDER_MAX], l_holder[PRICE_LEASE_HOLDER_MAX];
	unsigned long self_len, l_holder_len;
	unsigned lease_s;
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
	if (mysql_stmt_prepare(st, sql, (unsigned long)strlen(sql)) != 0 || (params && mysql_stmt_bind_param(st, params) != 0)) {
		fail_st(st, "statement preparation", err, errlen);
		mysql_stmt_close(st);
		return NULL;
	}
	return st;
}

static int prepare_all(struct price_store *s, char *err, size_t errlen)
{
	MYSQL_BIND put[7], span[2], upd[4];
	memset(put, 0, sizeof(put));
	memset(span, 0, sizeof(span));
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

	span[0].buffer_type = MYSQL_TYPE_DATETIME;
	span[0].buffer = &s->from;
	span[1].buffer_type = MYSQL_TYPE_DATETIME;
	span[1].buffer = &s->to;

	bind_dec(&upd[0], s->buy, &s->buy_len, NULL);
	bind_dec(&upd[1], s->sell, &s->sell_len, NULL);
	bind_fp(&upd[2], s, false);
	upd[3].buffer_type = MYSQL_TYPE_DATETIME;
	upd[3].buffer = &s->dttm;

	if ((s->put = prepare(s, put_sql, put, err, errlen)) == NULL
		|| (s->span = prepare(s, span_sql, span, err, errlen)) == NULL
		|| (s->update = prepare(s, update_sql, upd, err, errlen)) == NULL
		|| (s->board = prepare(s, board_sql, span, err, errlen)) == NULL)
		return -1;

	MYSQL_BIND self[4];
	memset(self, 0, sizeof(self));
	for (int i = 0; i < 4; i++) {
		self[i].buffer_type = MYSQL_TYPE_STRING;
		self[i].buffer = s->self;
		self[i].buffer_length = sizeof(s->self);
		self[i].length = &s->self_len;
	}
	/* claim_sql's third parameter is the lease's length. */
	MYSQL_BIND claim[4] = { self[0], self[1], { .buffer_type = MYSQL_TYPE_LONG, .buffer = &s->lease_s, .is_unsigned = 1 },
		self[3] };
	if ((s->claim = prepare(s, claim_sql, claim, err, errlen)) == NULL
		|| (s->holder = prepare(s, holder_sql, NULL, err, errlen)) == NULL
		|| (s->release = prepare(s, release_sql, self, err, errlen)) == NULL)
		return -1;
	MYSQL_BIND hr[1];
	memset(hr, 0, sizeof(hr));
	hr[0].buffer_type = MYSQL_TYPE_STRING;
	hr[0].buffer = s->l_holder;
	hr[0].buffer_length = sizeof(s->l_holder) - 1;
	hr[0].length = &s->l_holder_len;
	if (mysql_stmt_bind_result(s->holder, hr) != 0)
		return fail_st(s->holder, "result binding", err, errlen);

	MYSQL_BIND res[4];
	memset(res, 0, sizeof(res));
	res[0].buffer_type = MYSQL_TYPE_LONGLONG;
	res[0].buffer = &s->r_ts;
	res[1].buffer_type = MYSQL_TYPE_LONG;
	res[1].buffer = &s->r_minutes;
	res[2].buffer_type = MYSQL_TYPE_DOUBLE;
	res[2].buffer = &s->r_price;
	res[3].buffer_type = MYSQL_TYPE_LONGLONG;
	res[3].buffer = &s->r_fp;
	res[3].is_unsigned = 1;
	res[3].is_null = &s->r_fp_null;
	if (mysql_stmt_bind_result(s->span, res) != 0)
		return fail_st(s->span, "result binding", err, errlen);

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
	/* The lease's parameters are the host's for the store's life. */
	snprintf(s->self, sizeof(s->self), "%s", host->fetcher ? host->fetcher : "");
	s->self_len = (unsigned long)strlen(s->self);
	s->lease_s = host->lease_s;
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
	MYSQL_STMT *const statements[] = { s->put, s->span, s->update, s->board, s->claim, s->holder, s->release };
	for (size_t i = 0; i < sizeof(statements) / sizeof(statements[0]); i++)
		if (statements[i])
			mysql_stmt_close(statements[i]);
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

/* [from, to) in UTC s of the Brussels month holding utc_s. */
static void month_span(int64_t utc_s, int64_t *from, int64_t *to)
{
	struct civil_date d = brussels_month_of(utc_s);
	*from = brussels_local_to_utc(civil_to_days(d.year, d.month, 1), 0);
	*to = brussels_local_to_utc(d.month == 12 ? civil_to_days(d.year + 1, 1, 1) : civil_to_days(d.year, d.month + 1, 1), 0);
}

static bool tariff_has_averages(const struct tariff *t)
{
	for (size_t i = 0; i < t->count; i++)
		if (tariff_row_uses_averages(&t->rows[i]))
			return true;
	return false;
}

/* Buy/Sell/fp of a period whose row reads only `price`; false when no row
 * applies, the row reads an average (left to recompute_span, which sees
 * the whole month) or its formula fails (why non-empty). */
static bool fill_prices(struct price_store *s, const struct tariff *t, int64_t start_s, double price, char *why, size_t whylen)
{
	const struct tariff_row *row = tariff_for_day(t, brussels_day_number(start_s));
	struct formula_inputs in = { price, price, price }; /* the averages are not read */
	double buy, sell;
	why[0] = '\0';
	if (row == NULL || tariff_row_uses_averages(row) || tariff_prices(row, &in, &buy, &sell, why, whylen) != 0)
		return false;
	s->buy_len = dec_text(s->buy, "%.5f", buy);
	s->sell_len = dec_text(s->sell, "%.5f", sell);
	s->fp = row->fingerprint;
	return true;
}

/* Every stored period starting in [from_s, to_s), whole Brussels months,
 * planned by tariff_plan: the stale ones get Buy/Sell and their
 * fingerprint; *updated and *failures (formula errors) count them. */
static int recompute_span(struct price_store *s, const struct tariff *t, int64_t from_s, int64_t to_s, size_t *updated,
	size_t *failures, char *err, size_t errlen)
{
	worker_db_time(&s->from, from_s, false);
	worker_db_time(&s->to, to_s, false);
	if (mysql_stmt_execute(s->span) != 0 || mysql_stmt_store_result(s->span) != 0)
		return fail_st(s->span, "reading prices to recompute", err, errlen);
	size_t n = (size_t)mysql_stmt_num_rows(s->span);
	struct tariff_period *p = n ? calloc(n, sizeof(*p)) : NULL;
	size_t k = 0;
	while (p && k < n && mysql_stmt_fetch(s->span) == 0) {
		tariff_period_place(&p[k], s->r_ts);
		p[k].minutes = s->r_minutes;
		p[k].price_eur_mwh = s->r_price;
		p[k].has_fp = !s->r_fp_null;
		p[k].stored_fp = s->r_fp;
		k++;
	}
	mysql_stmt_free_result(s->span);
	if (n && p == NULL) {
		snprintf(err, errlen, "out of memory recomputing prices");
		return -1;
	}
	tariff_plan(t, p, k);
	for (size_t j = 0; j < k; j++) {
		char why[200];
		double buy, sell;
		if (!p[j].stale)
			continue;
		if (tariff_prices(p[j].row, &p[j].in, &buy, &sell, why, sizeof(why)) != 0) {
			(*failures)++;
			continue;
		}
		s->buy_len = dec_text(s->buy, "%.5f", buy);
		s->sell_len = dec_text(s->sell, "%.5f", sell);
		s->fp = p[j].fp;
		worker_db_time(&s->dttm, p[j].start_s, false);
		if (mysql_stmt_execute(s->update) != 0) {
			free(p);
			return fail_st(s->update, "updating Buy/Sell", err, errlen);
		}
		(*updated)++;
	}
	free(p);
	return 0;
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
	/* A stored price changes the averages of its day and month: the
	 * months touched are planned again in the same transaction, so their
	 * periods governed by an average are never left stale. */
	if (tariff_has_averages(t)) {
		int64_t done_from = 0, done_to = 0;
		for (size_t i = 0; i < n; i++) {
			int64_t from, to;
			size_t updated = 0;
			if (pts[i].start_s >= done_from && pts[i].start_s < done_to)
				continue;
			month_span(pts[i].start_s, &from, &to);
			if (recompute_span(s, t, from, to, &updated, formula_failures, err, errlen) != 0) {
				mysql_rollback(s->m);
				return -1;
			}
			done_from = from;
			done_to = to;
		}
	}
	if (mysql_commit(s->m) != 0)
		return fail_m(s, "COMMIT of prices", err, errlen);
	return 0;
}

int price_store_recompute(struct price_store *s, const struct tariff *t, size_t *updated, char *err, size_t errlen)
{
	*updated = 0;
	if (mysql_query(s->m, "SELECT TIMESTAMPDIFF(SECOND, '1970-01-01', MIN(DtTm)),"
			" TIMESTAMPDIFF(SECOND, '1970-01-01', MAX(DtTm)) FROM PxElectr") != 0)
		return fail_m(s, "reading the span of stored prices", err, errlen);
	MYSQL_RES *res = mysql_store_result(s->m);
	if (res == NULL)
		return fail_m(s, "reading the span of stored prices", err, errlen);
	MYSQL_ROW row = mysql_fetch_row(res);
	bool any = row != NULL && row[0] != NULL && row[1] != NULL;
	int64_t first = any ? strtoll(row[0], NULL, 10) : 0, last = any ? strtoll(row[1], NULL, 10) : 0;
	mysql_free_result(res);
	/* Month by month: a month is what an average needs, and memory stays
	 * bounded by one month of periods whatever the table holds. */
	size_t failures = 0;
	for (int64_t at = first; any && at <= last;) {
		int64_t from, to;
		month_span(at, &from, &to);
		if (recompute_span(s, t, from, to, updated, &failures, err, errlen) != 0) {
			mysql_rollback(s->m);
			return -1;
		}
		at = to;
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

/* A Galera certification failure: another node's write to the same row
 * was ordered first. */
static bool lost_race(unsigned errnum)
{
	return errnum == ER_LOCK_DEADLOCK;
}

int price_store_lease_claim(struct price_store *s, bool *held, char *holder, size_t holder_len, char *err, size_t errlen)
{
	*held = false;
	if (mysql_stmt_execute(s->claim) != 0) {
		if (!lost_race(mysql_stmt_errno(s->claim)))
			return fail_st(s->claim, "claiming the price lease", err, errlen);
		mysql_rollback(s->m);
	} else {
		*held = mysql_stmt_affected_rows(s->claim) == 1;
		if (mysql_commit(s->m) != 0) {
			if (!lost_race(mysql_errno(s->m)))
				return fail_m(s, "COMMIT of the price lease", err, errlen);
			*held = false;
		}
	}
	s->l_holder_len = 0;
	if (mysql_stmt_execute(s->holder) != 0)
		return fail_st(s->holder, "reading the price lease", err, errlen);
	int rc = mysql_stmt_fetch(s->holder);
	mysql_stmt_free_result(s->holder);
	if (rc == 1)
		return fail_st(s->holder, "reading the price lease", err, errlen);
	size_t n = rc == MYSQL_NO_DATA ? 0 : s->l_holder_len < sizeof(s->l_holder) ? s->l_holder_len : sizeof(s->l_holder) - 1;
	s->l_holder[n] = '\0';
	snprintf(holder, holder_len, "%s", s->l_holder);
	/* Ends the read view: the next read sees other workers' claims. */
	if (mysql_commit(s->m) != 0)
		return fail_m(s, "COMMIT", err, errlen);
	return 0;
}

int price_store_lease_release(struct price_store *s, char *err, size_t errlen)
{
	if (mysql_stmt_execute(s->release) != 0)
		return fail_st(s->release, "releasing the price lease", err, errlen);
	if (mysql_commit(s->m) != 0)
		return fail_m(s, "COMMIT of the price lease", err, errlen);
	return 0;
}
