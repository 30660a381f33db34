/* The grid operator's quarter-hour export: see fluvius_csv.h. */
#include "fluvius_csv.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "brussels.h"

#define FLUVIUS_MAX_FIELDS 32

struct field {
	const char *s;
	size_t len;
};

static void fluvius_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Splits on ';'. A field may be quoted ("x") or written as a spreadsheet
 * formula ="x" (the portal wraps the EAN so spreadsheets keep its digits);
 * the quotes and the '=' are dropped. A trailing CR or LF ends the line. */
static int fluvius_split(const char *line, struct field *f, int max)
{
	int n = 0;
	const char *p = line;
	if ((unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB && (unsigned char)p[2] == 0xBF)
		p += 3;
	for (;;) {
		if (n == max)
			return -1;
		const char *q = p;
		if (q[0] == '=' && q[1] == '"')
			q++;
		if (*q == '"') {
			const char *end = strchr(q + 1, '"');
			if (!end)
				return -1;
			f[n].s = q + 1;
			f[n].len = (size_t)(end - q - 1);
			p = end + 1;
			if (*p != ';' && *p != '\0' && *p != '\r' && *p != '\n')
				return -1;
		} else {
			size_t len = strcspn(p, ";\r\n");
			f[n].s = p;
			f[n].len = len;
			p += len;
		}
		while (f[n].len && (f[n].s[0] == ' ' || f[n].s[0] == '\t')) {
			f[n].s++;
			f[n].len--;
		}
		while (f[n].len && (f[n].s[f[n].len - 1] == ' ' || f[n].s[f[n].len - 1] == '\t'))
			f[n].len--;
		n++;
		if (*p != ';')
			return n;
		p++;
	}
}

/* Lower case ASCII letters and digits only: "Van (datum)", "Van datum" and
 * "EAN-code" become "vandatum", "vandatum" and "eancode". */
static void fluvius_fold(const struct field *f, char *out, size_t outlen)
{
	size_t k = 0;
	for (size_t i = 0; i < f->len && k + 1 < outlen; i++) {
		unsigned char c = (unsigned char)f->s[i];
		if (isalnum(c))
			out[k++] = (char)tolower(c);
	}
	out[k] = '\0';
}

static bool fluvius_is(const char *folded, const char *a, const char *b)
{
	return strcmp(folded, a) == 0 || (b && strcmp(folded, b) == 0);
}

bool fluvius_parse_header(const char *line, struct fluvius_columns *cols, char *err, size_t errlen)
{
	struct field f[FLUVIUS_MAX_FIELDS];
	int n = fluvius_split(line, f, FLUVIUS_MAX_FIELDS);
	if (n < 0) {
		fluvius_err(err, errlen, "header: too many columns or an unclosed quote");
		return false;
	}
	*cols = (struct fluvius_columns){-1, -1, -1, -1, -1, -1, -1, -1, -1, n};
	for (int i = 0; i < n; i++) {
		char h[40];
		fluvius_fold(&f[i], h, sizeof h);
		if (fluvius_is(h, "vandatum", "fromdate"))
			cols->from_date = i;
		else if (fluvius_is(h, "vantijdstip", "fromtime"))
			cols->from_time = i;
		else if (fluvius_is(h, "totdatum", "untildate"))
			cols->to_date = i;
		else if (fluvius_is(h, "tottijdstip", "untiltime"))
			cols->to_time = i;
		else if (fluvius_is(h, "ean", "eancode"))
			cols->ean = i;
		else if (fluvius_is(h, "register", NULL))
			cols->reg = i;
		else if (fluvius_is(h, "volume", NULL))
			cols->volume = i;
		else if (fluvius_is(h, "eenheid", "unit"))
			cols->unit = i;
		else if (fluvius_is(h, "validatiestatus", "validationstatus"))
			cols->status = i;
	}
	const struct {
		int col;
		const char *name;
	} need[] = {
		{cols->from_date, "Van (datum)"}, {cols->from_time, "Van (tijdstip)"},
		{cols->to_date, "Tot (datum)"},   {cols->to_time, "Tot (tijdstip)"},
		{cols->reg, "Register"},          {cols->volume, "Volume"},
		{cols->status, "Validatiestatus"},
	};
	for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
		if (need[i].col < 0) {
			fluvius_err(err, errlen, "header: no column %s: not a quarter-hour export of Mijn Fluvius",
				    need[i].name);
			return false;
		}
	return true;
}

static bool fluvius_digits(const char *s, size_t len, int *v)
{
	if (len == 0 || len > 4)
		return false;
	int x = 0;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		x = x * 10 + (s[i] - '0');
	}
	*v = x;
	return true;
}

/* dd-mm-yyyy or dd/mm/yyyy: days since 1970-01-01. */
static bool fluvius_date(const struct field *f, int64_t *days)
{
	int d, m, y;
	if (f->len != 10 || (f->s[2] != '-' && f->s[2] != '/') || f->s[5] != f->s[2] ||
	    !fluvius_digits(f->s, 2, &d) || !fluvius_digits(f->s + 3, 2, &m) || !fluvius_digits(f->s + 6, 4, &y))
		return false;
	if (m < 1 || m > 12 || d < 1 || d > 31 || y < 2000 || y > 2200)
		return false;
	int64_t n = civil_to_days(y, m, d);
	struct civil_date back = days_to_civil(n);
	if (back.day != d) /* 31-04, 29-02 of a common year */
		return false;
	*days = n;
	return true;
}

/* hh:mm or hh:mm:ss: seconds of the day. */
static bool fluvius_time(const struct field *f, int *sod)
{
	int h, mi, s = 0;
	if ((f->len != 5 && f->len != 8) || f->s[2] != ':' || !fluvius_digits(f->s, 2, &h) ||
	    !fluvius_digits(f->s + 3, 2, &mi))
		return false;
	if (f->len == 8 && (f->s[5] != ':' || !fluvius_digits(f->s + 6, 2, &s)))
		return false;
	if (h > 23 || mi > 59 || s > 59)
		return false;
	*sod = h * 3600 + mi * 60 + s;
	return true;
}

bool fluvius_parse_kwh(const char *s, size_t len, int64_t *wh)
{
	size_t i = 0;
	int64_t whole = 0;
	while (i < len && isdigit((unsigned char)s[i])) {
		if (i >= 9)
			return false;
		whole = whole * 10 + (s[i] - '0');
		i++;
	}
	if (i == 0)
		return false;
	int64_t frac = 0;
	int digits = 0;
	if (i < len && (s[i] == ',' || s[i] == '.')) {
		i++;
		while (i < len && isdigit((unsigned char)s[i])) {
			if (++digits > 3)
				return false;
			frac = frac * 10 + (s[i] - '0');
			i++;
		}
		if (digits == 0)
			return false;
	}
	if (i != len)
		return false;
	while (digits++ < 3)
		frac *= 10;
	*wh = whole * 1000 + frac;
	return true;
}

static bool fluvius_register_of(const struct field *f, enum fluvius_register *reg)
{
	char h[40];
	fluvius_fold(f, h, sizeof h);
	static const struct {
		const char *name;
		enum fluvius_register reg;
	} names[] = {
		{"afnamedag", FLUVIUS_IMPORT_DAY},     {"afnamenacht", FLUVIUS_IMPORT_NIGHT},
		{"injectiedag", FLUVIUS_EXPORT_DAY},   {"injectienacht", FLUVIUS_EXPORT_NIGHT},
		{"offtakeday", FLUVIUS_IMPORT_DAY},    {"offtakenight", FLUVIUS_IMPORT_NIGHT},
		{"injectionday", FLUVIUS_EXPORT_DAY},  {"injectionnight", FLUVIUS_EXPORT_NIGHT},
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(h, names[i].name) == 0) {
			*reg = names[i].reg;
			return true;
		}
	return false;
}

static void fluvius_copy(const struct field *f, char *out, size_t outlen)
{
	size_t n = f->len < outlen - 1 ? f->len : outlen - 1;
	memcpy(out, f->s, n);
	out[n] = '\0';
}

bool fluvius_parse_line(const char *line, const struct fluvius_columns *cols, struct fluvius_line *out,
			char *err, size_t errlen)
{
	struct field f[FLUVIUS_MAX_FIELDS];
	int n = fluvius_split(line, f, FLUVIUS_MAX_FIELDS);
	/* Some exports end each line with an empty description, some do not
	 * write the column at all: one field fewer than the header is fine. */
	if (n < 0 || n > cols->count || n < cols->count - 1 || n <= cols->status || n <= cols->volume) {
		fluvius_err(err, errlen, "%d fields where the header has %d", n < 0 ? 0 : n, cols->count);
		return false;
	}
	int64_t from_day, to_day;
	int from_sod, to_sod;
	if (!fluvius_date(&f[cols->from_date], &from_day) || !fluvius_time(&f[cols->from_time], &from_sod)) {
		fluvius_err(err, errlen, "bad start date or time \"%.*s %.*s\" (want dd-mm-yyyy hh:mm:ss)",
			    (int)f[cols->from_date].len, f[cols->from_date].s, (int)f[cols->from_time].len,
			    f[cols->from_time].s);
		return false;
	}
	if (!fluvius_date(&f[cols->to_date], &to_day) || !fluvius_time(&f[cols->to_time], &to_sod)) {
		fluvius_err(err, errlen, "bad end date or time \"%.*s %.*s\" (want dd-mm-yyyy hh:mm:ss)",
			    (int)f[cols->to_date].len, f[cols->to_date].s, (int)f[cols->to_time].len,
			    f[cols->to_time].s);
		return false;
	}
	out->from_local = from_day * 86400 + from_sod;
	out->to_local = to_day * 86400 + to_sod;
	if (!fluvius_register_of(&f[cols->reg], &out->reg)) {
		fluvius_err(err, errlen, "unknown register \"%.*s\" (want Afname/Injectie Dag/Nacht)",
			    (int)f[cols->reg].len, f[cols->reg].s);
		return false;
	}
	if (cols->unit >= 0 && cols->unit < n) {
		char u[8];
		fluvius_fold(&f[cols->unit], u, sizeof u);
		if (strcmp(u, "kwh") != 0) {
			fluvius_err(err, errlen, "unit \"%.*s\" where kWh is expected", (int)f[cols->unit].len,
				    f[cols->unit].s);
			return false;
		}
	}
	out->has_volume = f[cols->volume].len > 0;
	out->wh = 0;
	if (out->has_volume && !fluvius_parse_kwh(f[cols->volume].s, f[cols->volume].len, &out->wh)) {
		fluvius_err(err, errlen, "bad volume \"%.*s\" (want kWh such as 0,123)", (int)f[cols->volume].len,
			    f[cols->volume].s);
		return false;
	}
	fluvius_copy(&f[cols->status], out->status, sizeof out->status);
	char st[32];
	fluvius_fold(&f[cols->status], st, sizeof st);
	out->estimated = strcmp(st, "geschat") == 0 || strcmp(st, "estimated") == 0;
	if (cols->ean >= 0 && cols->ean < n)
		fluvius_copy(&f[cols->ean], out->ean, sizeof out->ean);
	else
		out->ean[0] = '\0';
	return true;
}

int fluvius_local_to_utc(int64_t local_s, int64_t utc[2])
{
	int n = 0;
	/* Summer time first: the earlier UTC instant of a repeated wall-clock time. */
	if (brussels_offset_s(local_s - 7200) == 7200)
		utc[n++] = local_s - 7200;
	if (brussels_offset_s(local_s - 3600) == 3600)
		utc[n++] = local_s - 3600;
	return n;
}

void fluvius_clock_init(struct fluvius_clock *clock)
{
	memset(clock, 0, sizeof *clock);
}

bool fluvius_clock_resolve(struct fluvius_clock *clock, const struct fluvius_line *line, int64_t *utc_start,
			   char *err, size_t errlen)
{
	int64_t from[2], to[2];
	int nf = fluvius_local_to_utc(line->from_local, from);
	if (nf == 0) {
		fluvius_err(err, errlen, "start time does not exist in Brussels (the hour skipped in March)");
		return false;
	}
	int pick = 0;
	if (clock->seen[line->reg]) {
		while (pick < nf && from[pick] <= clock->last_utc[line->reg])
			pick++;
		if (pick == nf) {
			fluvius_err(err, errlen, "quarter not after this register's previous one (out of order or twice)");
			return false;
		}
	}
	int64_t u = from[pick];
	if (u % 900 != 0) {
		fluvius_err(err, errlen, "start is not on a quarter hour");
		return false;
	}
	/* Exporters write the end either as the instant 15 minutes later or as
	 * the start's wall clock plus 15 minutes (across a change of time the
	 * two differ); either says a quarter-hour row. */
	bool quarter = line->to_local - line->from_local == 900;
	int nt = fluvius_local_to_utc(line->to_local, to);
	for (int i = 0; i < nt; i++)
		if (to[i] == u + 900)
			quarter = true;
	if (!quarter) {
		fluvius_err(err, errlen, "end is not 15 minutes after start: not a quarter-hour export (kwartiertotalen)");
		return false;
	}
	clock->seen[line->reg] = true;
	clock->last_utc[line->reg] = u;
	*utc_start = u;
	return true;
}
