/*
 * lowi-fluvius-import: loads a quarter-hour export of Mijn Fluvius into the
 * FluviusConso table, beside the plugin's Conso, for one meter.
 *
 *   lowi-fluvius-import --serial 4c75252e8c51 Verbruikshistoriek_....csv
 *
 * The whole file is read and checked first: any bad line (reported with
 * its line number, and the count) loads nothing. The rows are then written
 * in one transaction, so a file is loaded whole or not at all; loading it
 * again changes nothing, and a newer export replaces the values it holds
 * (the operator corrects estimated values later).
 *
 * The connection comes from the MariaDB client option files ([client] in
 * ~/.my.cnf, or --defaults-file), as for the mariadb command.
 * Single-threaded; the process owns everything it allocates.
 */
#include <getopt.h>
#include <inttypes.h>
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "brussels.h"
#include "fluvius_csv.h"

#define MAX_ERRORS_SHOWN 20

struct quarter {
	int64_t utc;
	bool has[FLUVIUS_REGISTERS];
	int64_t wh[FLUVIUS_REGISTERS];
	bool estimated;
	char status[32];
	char ean[32];
};

struct reading {
	int64_t utc;
	int line_no;
	struct fluvius_line line;
};

static int by_utc(const void *a, const void *b)
{
	const struct reading *x = a, *y = b;
	if (x->utc != y->utc)
		return x->utc < y->utc ? -1 : 1;
	return x->line_no - y->line_no;
}

static void usage(FILE *f)
{
	fputs("usage: lowi-fluvius-import --serial SERIAL [--database DB] [--defaults-file FILE] [--dry-run] FILE.csv\n"
	      "  --serial SERIAL       the meter's serial in Conso (its LOWI serial, lower case)\n"
	      "  --database DB         database (P1)\n"
	      "  --defaults-file FILE  MariaDB option file to read instead of the usual ones\n"
	      "  --dry-run             check the file and print what would be loaded\n",
	      f);
}

/* Reads and checks the whole file; returns the number of bad lines. */
static int read_file(const char *path, FILE *in, struct reading **out, size_t *count, int *lines_read)
{
	char *buf = NULL;
	size_t cap = 0, n = 0, alloc = 0;
	struct reading *r = NULL;
	struct fluvius_columns cols;
	struct fluvius_clock clock;
	bool have_header = false;
	int line_no = 0, bad = 0;
	char err[200];
	fluvius_clock_init(&clock);
	while (getline(&buf, &cap, in) >= 0) {
		line_no++;
		if (strspn(buf, " \t\r\n") == strlen(buf))
			continue;
		if (!have_header) {
			if (!fluvius_parse_header(buf, &cols, err, sizeof err)) {
				fprintf(stderr, "%s:%d: %s\n", path, line_no, err);
				bad++;
				break;
			}
			have_header = true;
			continue;
		}
		struct reading one = {.line_no = line_no};
		if (!fluvius_parse_line(buf, &cols, &one.line, err, sizeof err) ||
		    !fluvius_clock_resolve(&clock, &one.line, &one.utc, err, sizeof err)) {
			if (++bad <= MAX_ERRORS_SHOWN)
				fprintf(stderr, "%s:%d: %s\n", path, line_no, err);
			continue;
		}
		if (n == alloc) {
			alloc = alloc ? alloc * 2 : 4096;
			struct reading *grown = realloc(r, alloc * sizeof *r);
			if (!grown) {
				fprintf(stderr, "%s: out of memory\n", path);
				exit(1);
			}
			r = grown;
		}
		r[n++] = one;
	}
	free(buf);
	if (ferror(in)) {
		fprintf(stderr, "%s: read error\n", path);
		bad++;
	}
	if (!have_header && bad == 0) {
		fprintf(stderr, "%s: empty file\n", path);
		bad++;
	}
	if (bad > MAX_ERRORS_SHOWN)
		fprintf(stderr, "%s: ... %d more bad lines not shown\n", path, bad - MAX_ERRORS_SHOWN);
	*out = r;
	*count = n;
	*lines_read = line_no;
	return bad;
}

/* Groups the readings (sorted by UTC start) into quarters. */
static size_t to_quarters(const struct reading *r, size_t n, struct quarter *q)
{
	size_t nq = 0;
	for (size_t i = 0; i < n; i++) {
		if (nq == 0 || q[nq - 1].utc != r[i].utc) {
			memset(&q[nq], 0, sizeof q[nq]);
			q[nq].utc = r[i].utc;
			snprintf(q[nq].status, sizeof q[nq].status, "%s", r[i].line.status);
			snprintf(q[nq].ean, sizeof q[nq].ean, "%s", r[i].line.ean);
			nq++;
		}
		struct quarter *cur = &q[nq - 1];
		enum fluvius_register reg = r[i].line.reg;
		cur->has[reg] = r[i].line.has_volume;
		cur->wh[reg] = r[i].line.wh;
		if (r[i].line.estimated && !cur->estimated) {
			cur->estimated = true;
			snprintf(cur->status, sizeof cur->status, "%s", r[i].line.status);
		}
	}
	return nq;
}

static void utc_text(int64_t utc, char out[64])
{
	int64_t days = utc >= 0 ? utc / 86400 : (utc - 86399) / 86400;
	int sod = (int)(utc - days * 86400);
	struct civil_date d = days_to_civil(days);
	snprintf(out, 64, "%04d-%02d-%02d %02d:%02d:%02d", d.year, d.month, d.day, sod / 3600, sod / 60 % 60,
		 sod % 60);
}

static int db_fail(MYSQL *db, const char *what)
{
	fprintf(stderr, "lowi-fluvius-import: %s: %s; nothing loaded\n", what, mysql_error(db));
	mysql_close(db);
	return 1;
}

static int load(const char *serial, const char *database, const char *defaults_file, const struct quarter *q,
		size_t nq, long *added, long *changed)
{
	MYSQL *db = mysql_init(NULL);
	if (!db)
		return 1;
	if (defaults_file)
		mysql_options(db, MYSQL_READ_DEFAULT_FILE, defaults_file);
	mysql_options(db, MYSQL_READ_DEFAULT_GROUP, "client");
	if (!mysql_real_connect(db, NULL, NULL, NULL, database, 0, NULL, 0))
		return db_fail(db, "connect");
	if (mysql_autocommit(db, 0))
		return db_fail(db, "autocommit");
	static const char sql[] =
		"INSERT INTO FluviusConso (Serial, DtTm, Afname_D, Afname_N, Injectie_D, Injectie_N,"
		" Status, Estimated, Ean) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
		" ON DUPLICATE KEY UPDATE Afname_D = VALUES(Afname_D), Afname_N = VALUES(Afname_N),"
		" Injectie_D = VALUES(Injectie_D), Injectie_N = VALUES(Injectie_N),"
		" Status = VALUES(Status), Estimated = VALUES(Estimated), Ean = VALUES(Ean)";
	MYSQL_STMT *st = mysql_stmt_init(db);
	if (!st || mysql_stmt_prepare(st, sql, sizeof sql - 1))
		return db_fail(db, "prepare");
	MYSQL_BIND b[9];
	MYSQL_TIME t;
	char kwh[FLUVIUS_REGISTERS][24], status[32], ean[32];
	unsigned long kwh_len[FLUVIUS_REGISTERS], status_len, ean_len, serial_len = strlen(serial);
	my_bool null[FLUVIUS_REGISTERS];
	signed char estimated;
	memset(b, 0, sizeof b);
	b[0].buffer_type = MYSQL_TYPE_STRING;
	b[0].buffer = (void *)serial;
	b[0].length = &serial_len;
	b[1].buffer_type = MYSQL_TYPE_DATETIME;
	b[1].buffer = &t;
	for (int k = 0; k < FLUVIUS_REGISTERS; k++) {
		b[2 + k].buffer_type = MYSQL_TYPE_STRING;
		b[2 + k].buffer = kwh[k];
		b[2 + k].length = &kwh_len[k];
		b[2 + k].is_null = &null[k];
	}
	b[6].buffer_type = MYSQL_TYPE_STRING;
	b[6].buffer = status;
	b[6].length = &status_len;
	b[7].buffer_type = MYSQL_TYPE_TINY;
	b[7].buffer = &estimated;
	b[8].buffer_type = MYSQL_TYPE_STRING;
	b[8].buffer = ean;
	b[8].length = &ean_len;
	if (mysql_stmt_bind_param(st, b))
		return db_fail(db, "bind");
	*added = *changed = 0;
	for (size_t i = 0; i < nq; i++) {
		int64_t days = q[i].utc / 86400;
		int sod = (int)(q[i].utc % 86400);
		struct civil_date d = days_to_civil(days);
		memset(&t, 0, sizeof t);
		t.year = (unsigned)d.year;
		t.month = (unsigned)d.month;
		t.day = (unsigned)d.day;
		t.hour = (unsigned)(sod / 3600);
		t.minute = (unsigned)(sod / 60 % 60);
		t.time_type = MYSQL_TIMESTAMP_DATETIME;
		for (int k = 0; k < FLUVIUS_REGISTERS; k++) {
			null[k] = !q[i].has[k];
			kwh_len[k] = (unsigned long)snprintf(kwh[k], sizeof kwh[k], "%" PRId64 ".%03d",
							     q[i].wh[k] / 1000, (int)(q[i].wh[k] % 1000));
		}
		status_len = (unsigned long)snprintf(status, sizeof status, "%s", q[i].status);
		ean_len = (unsigned long)snprintf(ean, sizeof ean, "%s", q[i].ean);
		estimated = q[i].estimated;
		if (mysql_stmt_execute(st)) {
			fprintf(stderr, "lowi-fluvius-import: insert: %s; nothing loaded\n", mysql_stmt_error(st));
			mysql_stmt_close(st);
			mysql_rollback(db);
			mysql_close(db);
			return 1;
		}
		/* 1: a new row, 2: an existing row changed, 0: the same values */
		my_ulonglong a = mysql_stmt_affected_rows(st);
		*added += a == 1;
		*changed += a == 2;
	}
	mysql_stmt_close(st);
	if (mysql_commit(db))
		return db_fail(db, "commit");
	mysql_close(db);
	return 0;
}

int main(int argc, char **argv)
{
	const char *serial = NULL, *database = "P1", *defaults_file = NULL;
	bool dry_run = false;
	static const struct option longopts[] = {
		{"serial", required_argument, NULL, 's'},        {"database", required_argument, NULL, 'd'},
		{"defaults-file", required_argument, NULL, 'f'}, {"dry-run", no_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},                {NULL, 0, NULL, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 's': serial = optarg; break;
		case 'd': database = optarg; break;
		case 'f': defaults_file = optarg; break;
		case 'n': dry_run = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!serial || optind != argc - 1 || strlen(serial) == 0 || strlen(serial) > 32) {
		usage(stderr);
		return 2;
	}
	const char *path = argv[optind];
	FILE *in = fopen(path, "r");
	if (!in) {
		perror(path);
		return 1;
	}
	struct reading *r;
	size_t n;
	int lines;
	int bad = read_file(path, in, &r, &n, &lines);
	fclose(in);
	if (bad) {
		fprintf(stderr, "%s: %d bad line%s of %d; nothing loaded\n", path, bad, bad == 1 ? "" : "s", lines);
		free(r);
		return 1;
	}
	qsort(r, n, sizeof *r, by_utc);
	struct quarter *q = malloc((n ? n : 1) * sizeof *q);
	if (!q) {
		fprintf(stderr, "%s: out of memory\n", path);
		return 1;
	}
	size_t nq = to_quarters(r, n, q);
	free(r);
	size_t estimated = 0;
	for (size_t i = 0; i < nq; i++)
		estimated += q[i].estimated;
	char first[64] = "-", last[64] = "-";
	if (nq) {
		utc_text(q[0].utc, first);
		utc_text(q[nq - 1].utc, last);
	}
	printf("%s: %zu lines, %zu quarters from %s to %s UTC, %zu estimated\n", path, n, nq, first, last, estimated);
	int rc = 0;
	if (!dry_run) {
		long added = 0, changed = 0;
		rc = load(serial, database, defaults_file, q, nq, &added, &changed);
		if (rc == 0)
			printf("%s: loaded for %s: %ld new, %ld changed, %zu unchanged\n", path, serial, added, changed,
			       nq - (size_t)added - (size_t)changed);
	}
	free(q);
	return rc;
}
