/*
 * lowi-report: one meter's Brussels month from the lowi-p1 database as a
 * self-contained HTML page on standard output (report_html.h).
 *
 *   lowi-report --serial 4c75252e8c51 --month 2026-11 --user grafana \
 *               --password-file ~/.lowi-report.pass > report.html
 *
 * Reads only (SELECT on Conso, Pics, PxElectr and the views ConsoCost and
 * CapaMonth). Single-threaded; exits 0, 1 on a database error, 2 on bad
 * options.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mysql.h>

#include "brussels.h"
#include "report_html.h"

struct options {
	const char *serial, *month, *host, *socket, *user, *password_file, *database, *tls_ca;
	unsigned port, timeout;
};

static void usage(FILE *f)
{
	fputs("usage: lowi-report --serial SERIAL --month YYYY-MM [options] > report.html\n"
	      "  --host H            MariaDB host (localhost: the Unix socket)\n"
	      "  --port P            TCP port (3306)\n"
	      "  --socket PATH       Unix socket path\n"
	      "  --user U            MariaDB user (required)\n"
	      "  --password-file F   file whose first line is the password (none: no password)\n"
	      "  --database D        database (P1)\n"
	      "  --tls-ca FILE       connect over TLS only, checking the server's certificate\n"
	      "  --timeout S         seconds for connecting and each query (30)\n",
		f);
}

static int read_password(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "lowi-report: cannot read %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!fgets(buf, (int)len, f))
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\r\n")] = '\0';
	return 0;
}

static void utc_text(int64_t s, char out[32])
{
	int64_t days = s >= 0 ? s / 86400 : -((-s + 86399) / 86400);
	struct civil_date d = days_to_civil(days);
	int sod = (int)(s - days * 86400);
	snprintf(out, 32, "%04d-%02d-%02d %02d:%02d:%02d", d.year % 10000, d.month, d.day, sod / 3600, sod / 60 % 60,
		sod % 60);
}

static MYSQL_RES *query(MYSQL *db, const char *sql)
{
	if (mysql_query(db, sql)) {
		fprintf(stderr, "lowi-report: query failed: %s\n", mysql_error(db));
		return NULL;
	}
	MYSQL_RES *res = mysql_store_result(db);
	if (!res)
		fprintf(stderr, "lowi-report: query failed: %s\n", mysql_error(db));
	return res;
}

static double num(const char *s)
{
	return s ? strtod(s, NULL) : 0;
}

/* Grows *v to hold one more element of size sz. */
static void *grow(void *v, size_t n, size_t *cap, size_t sz)
{
	if (n < *cap)
		return v;
	size_t nc = *cap ? *cap * 2 : 1024;
	void *p = realloc(v, nc * sz);
	if (!p) {
		fputs("lowi-report: out of memory\n", stderr);
		exit(1);
	}
	*cap = nc;
	return p;
}

static int run(MYSQL *db, const struct options *o, int year, int month)
{
	char serial[2 * 32 + 1], from[32], to[32], sql[1024];
	int64_t from_s, to_s;
	mysql_real_escape_string(db, serial, o->serial, (unsigned long)strlen(o->serial));
	report_month_bounds(year, month, &from_s, &to_s);
	utc_text(from_s, from);
	utc_text(to_s, to);
	struct report r = { .serial = o->serial, .year = year, .month = month };

	snprintf(sql, sizeof sql,
		"SELECT TIMESTAMPDIFF(SECOND, '1970-01-01', DtTm), Soutire, Injecte, Gas_m3, Water_m3, Estimated"
		" FROM Conso WHERE Serial = '%s' AND DtTm >= '%s' AND DtTm < '%s' ORDER BY DtTm",
		serial, from, to);
	MYSQL_RES *res = query(db, sql);
	if (!res)
		return 1;
	struct report_quarter *q = NULL;
	size_t nq = 0, capq = 0;
	for (MYSQL_ROW row; (row = mysql_fetch_row(res));) {
		q = grow(q, nq, &capq, sizeof *q);
		q[nq++] = (struct report_quarter){
			.start_s = strtoll(row[0], NULL, 10), .import_kwh = num(row[1]), .export_kwh = num(row[2]),
			.has_gas = row[3] != NULL, .gas_m3 = num(row[3]), .has_water = row[4] != NULL, .water_m3 = num(row[4]),
			.estimated = row[5] && row[5][0] == '1',
		};
	}
	mysql_free_result(res);

	/* The costs apart: joined to Conso row by row, the view's range join on
	 * PxElectr is checked again for every row (many seconds for a month);
	 * alone, its condition on Serial and DtTm reaches Conso's key. */
	snprintf(sql, sizeof sql,
		"SELECT TIMESTAMPDIFF(SECOND, '1970-01-01', DtTm), Cost_EUR FROM ConsoCost"
		" WHERE Serial = '%s' AND DtTm >= '%s' AND DtTm < '%s' ORDER BY DtTm",
		serial, from, to);
	res = query(db, sql);
	if (!res) {
		free(q);
		return 1;
	}
	size_t i = 0;
	for (MYSQL_ROW row; (row = mysql_fetch_row(res));) {
		int64_t t = strtoll(row[0], NULL, 10);
		while (i < nq && q[i].start_s < t)
			i++;
		if (i < nq && q[i].start_s == t && row[1]) {
			q[i].has_cost = true;
			q[i].cost_eur = num(row[1]);
		}
	}
	mysql_free_result(res);
	r.quarters = q;
	r.n_quarters = nq;

	/* A period that began before the month but covers its start counts. */
	snprintf(sql, sizeof sql,
		"SELECT TIMESTAMPDIFF(SECOND, '1970-01-01', DtTm), Minutes, Buy, Sell FROM PxElectr"
		" WHERE DtTm >= '%s' - INTERVAL 45 MINUTE AND DtTm < '%s' ORDER BY DtTm",
		from, to);
	res = query(db, sql);
	if (!res) {
		free(q);
		return 1;
	}
	struct report_price *p = NULL;
	size_t np = 0, capp = 0;
	for (MYSQL_ROW row; (row = mysql_fetch_row(res));) {
		p = grow(p, np, &capp, sizeof *p);
		p[np++] = (struct report_price){
			.start_s = strtoll(row[0], NULL, 10), .minutes = atoi(row[1]),
			.has_buy = row[2] != NULL, .buy_c_kwh = num(row[2]), .has_sell = row[3] != NULL, .sell_c_kwh = num(row[3]),
		};
	}
	mysql_free_result(res);
	r.prices = p;
	r.n_prices = np;

	snprintf(sql, sizeof sql,
		"SELECT TIMESTAMPDIFF(SECOND, '1970-01-01', PeakDtTm), Peak_kW, Mean_kW, Months, Cost_EUR FROM CapaMonth"
		" WHERE Serial = '%s' AND Mois = '%04d-%02d-01'",
		serial, year, month);
	res = query(db, sql);
	if (!res) {
		free(q);
		free(p);
		return 1;
	}
	MYSQL_ROW row = mysql_fetch_row(res);
	if (row) {
		r.has_peak = true;
		r.peak_start_s = strtoll(row[0], NULL, 10);
		r.peak_kw = num(row[1]);
		r.mean_kw = num(row[2]);
		r.mean_months = atoi(row[3]);
		r.has_capacity_cost = row[4] != NULL;
		r.capacity_eur = num(row[4]);
	}
	mysql_free_result(res);

	int rc = report_html_write(stdout, &r) || fflush(stdout) ? 1 : 0;
	if (rc)
		fprintf(stderr, "lowi-report: cannot write the report: %s\n", strerror(errno));
	free(q);
	free(p);
	return rc;
}

int main(int argc, char **argv)
{
	struct options o = { .host = "localhost", .database = "P1", .port = 3306, .timeout = 30 };
	static const struct option longopts[] = {
		{ "serial", required_argument, NULL, 's' },
		{ "month", required_argument, NULL, 'm' },
		{ "host", required_argument, NULL, 'h' },
		{ "port", required_argument, NULL, 'P' },
		{ "socket", required_argument, NULL, 'S' },
		{ "user", required_argument, NULL, 'u' },
		{ "password-file", required_argument, NULL, 'p' },
		{ "database", required_argument, NULL, 'D' },
		{ "tls-ca", required_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 },
	};
	for (int c; (c = getopt_long(argc, argv, "", longopts, NULL)) != -1;) {
		switch (c) {
		case 's': o.serial = optarg; break;
		case 'm': o.month = optarg; break;
		case 'h': o.host = optarg; break;
		case 'P': o.port = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'S': o.socket = optarg; break;
		case 'u': o.user = optarg; break;
		case 'p': o.password_file = optarg; break;
		case 'D': o.database = optarg; break;
		case 'c': o.tls_ca = optarg; break;
		case 't': o.timeout = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'H': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	int year, month, used = 0;
	if (!o.serial || !o.month || !o.user || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (strlen(o.serial) == 0 || strlen(o.serial) > 32) {
		fputs("lowi-report: --serial: 1 to 32 characters, as Conso.Serial\n", stderr);
		return 2;
	}
	if (sscanf(o.month, "%4d-%2d%n", &year, &month, &used) != 2 || o.month[used] || year < 1971 || year > 9998 ||
		month < 1 || month > 12) {
		fprintf(stderr, "lowi-report: --month '%s': expected YYYY-MM\n", o.month);
		return 2;
	}
	if (o.port == 0 || o.port > 65535 || o.timeout == 0) {
		fputs("lowi-report: --port 1..65535, --timeout at least 1\n", stderr);
		return 2;
	}
	char password[1024] = "";
	if (o.password_file && read_password(o.password_file, password, sizeof password))
		return 2;

	MYSQL *db = mysql_init(NULL);
	if (!db) {
		fputs("lowi-report: out of memory\n", stderr);
		return 1;
	}
	mysql_options(db, MYSQL_OPT_CONNECT_TIMEOUT, &o.timeout);
	mysql_options(db, MYSQL_OPT_READ_TIMEOUT, &o.timeout);
	mysql_options(db, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	if (o.tls_ca) {
		my_bool verify = 1;
		mysql_options(db, MYSQL_OPT_SSL_CA, o.tls_ca);
		mysql_options(db, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
		mysql_optionsv(db, MYSQL_OPT_SSL_ENFORCE, (void *)&(my_bool){ 1 });
	}
	if (!mysql_real_connect(db, o.host, o.user, password, o.database, o.port, o.socket, 0)) {
		fprintf(stderr, "lowi-report: cannot connect to MariaDB: %s\n", mysql_error(db));
		memset(password, 0, sizeof password);
		mysql_close(db);
		return 1;
	}
	memset(password, 0, sizeof password);
	int rc = run(db, &o, year, month);
	mysql_close(db);
	return rc;
}
