#include "report_html.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "brussels.h"

#define W 960
#define H 280
#define LEFT 70
#define RIGHT 20
#define TOP 34
#define BOTTOM 40
#define PLOT_W (W - LEFT - RIGHT)
#define PLOT_H (H - TOP - BOTTOM)
#define MAX_DAYS 31

void report_month_bounds(int year, int month, int64_t *from_s, int64_t *to_s)
{
	int ny = month == 12 ? year + 1 : year, nm = month == 12 ? 1 : month + 1;
	*from_s = brussels_local_to_utc(civil_to_days(year, month, 1), 0);
	*to_s = brussels_local_to_utc(civil_to_days(ny, nm, 1), 0);
}

static void html_text(FILE *out, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '&': fputs("&amp;", out); break;
		case '"': fputs("&quot;", out); break;
		case '\'': fputs("&#39;", out); break;
		default: fputc(*s, out);
		}
	}
}

/* A value axis from lo to hi in round steps, 0 always shown. */
struct axis {
	double lo, hi, step;
};

static struct axis axis_for(double lo, double hi)
{
	if (lo > 0)
		lo = 0;
	if (hi < 0)
		hi = 0;
	if (hi - lo < 1e-9)
		hi = lo + 1;
	double raw = (hi - lo) / 5, mag = pow(10, floor(log10(raw))), f = raw / mag;
	double step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
	struct axis a = { floor(lo / step) * step, ceil(hi / step) * step, step };
	return a;
}

static double ypix(const struct axis *a, double v)
{
	return TOP + PLOT_H - (v - a->lo) / (a->hi - a->lo) * PLOT_H;
}

struct legend_item {
	const char *name, *color;
	bool dashed;
};

static void chart_open(FILE *out, const char *id, const char *title, const char *unit, const struct axis *a,
	const struct legend_item *items, size_t n_items)
{
	fprintf(out, "<h2 id=\"%s\">", id);
	html_text(out, title);
	fputs("</h2>\n", out);
	fprintf(out, "<svg width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">\n",
		W, H, W, H);
	fputs("<title>", out);
	html_text(out, title);
	fputs("</title>\n<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n", out);
	fprintf(out, "<text x=\"%d\" y=\"16\" font-size=\"12\" fill=\"#333\">", LEFT);
	html_text(out, unit);
	fputs("</text>\n", out);
	/* horizontal grid and value labels */
	for (double v = a->lo; v <= a->hi + a->step / 2; v += a->step) {
		double y = ypix(a, v);
		double shown = fabs(v) < a->step / 1000 ? 0 : v;
		fprintf(out, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"1\"/>\n", LEFT,
			LEFT + PLOT_W, y, y, shown == 0 ? "#888" : "#e3e3e3");
		fprintf(out, "<text x=\"%d\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\" fill=\"#333\">%g</text>\n",
			LEFT - 6, y + 4, shown);
	}
	/* legend, right-aligned on the title line */
	int x = W - RIGHT;
	for (size_t i = n_items; i-- > 0;) {
		x -= 8 + 7 * (int)strlen(items[i].name) + 22;
		fprintf(out, "<line x1=\"%d\" x2=\"%d\" y1=\"12\" y2=\"12\" stroke=\"%s\" stroke-width=\"3\"%s/>\n", x,
			x + 16, items[i].color, items[i].dashed ? " stroke-dasharray=\"5,3\"" : "");
		fprintf(out, "<text x=\"%d\" y=\"16\" font-size=\"12\" fill=\"#333\">", x + 20);
		html_text(out, items[i].name);
		fputs("</text>\n", out);
	}
}

/* Day labels under the plot: x_of_day gives a day's centre. */
static void day_labels(FILE *out, int n_days, double (*x_of_day)(int day, void *ctx), void *ctx)
{
	for (int d = 1; d <= n_days; d++)
		fprintf(out, "<text x=\"%.1f\" y=\"%d\" font-size=\"10\" text-anchor=\"middle\" fill=\"#333\">%d</text>\n",
			x_of_day(d, ctx), TOP + PLOT_H + 14, d);
	fprintf(out, "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\" fill=\"#333\">day of the month (Brussels time)</text>\n",
		LEFT + PLOT_W / 2, TOP + PLOT_H + 32);
}

/* ---- time charts: series of periods [t0, t1) drawn as steps */

struct period_series {
	const char *name, *color;
	size_t n;
	const int64_t *t0, *t1;
	const double *v;
	const bool *present;
};

struct hline {
	const char *name, *color;
	double v;
};

struct time_ctx {
	int year, month;
	int64_t from, to;
};

static double xpix_t(const struct time_ctx *c, int64_t t)
{
	return LEFT + (double)(t - c->from) / (double)(c->to - c->from) * PLOT_W;
}

static double time_day_centre(int day, void *ctx)
{
	const struct time_ctx *c = ctx;
	int64_t midnight = brussels_local_to_utc(civil_to_days(c->year, c->month, day), 0);
	return xpix_t(c, midnight + 43200);
}

static int days_in_month(int year, int month)
{
	int ny = month == 12 ? year + 1 : year, nm = month == 12 ? 1 : month + 1;
	return (int)(civil_to_days(ny, nm, 1) - civil_to_days(year, month, 1));
}

static void time_chart(FILE *out, const char *id, const char *title, const char *unit, struct time_ctx *c,
	const struct period_series *s, size_t ns, const struct hline *h, size_t nh)
{
	double lo = 0, hi = 0;
	for (size_t k = 0; k < ns; k++)
		for (size_t i = 0; i < s[k].n; i++)
			if (!s[k].present || s[k].present[i]) {
				lo = fmin(lo, s[k].v[i]);
				hi = fmax(hi, s[k].v[i]);
			}
	for (size_t k = 0; k < nh; k++)
		hi = fmax(hi, h[k].v);
	struct axis a = axis_for(lo, hi);
	struct legend_item items[8] = { { NULL, NULL, false } };
	size_t ni = 0;
	for (size_t k = 0; k < ns && ni < 8; k++)
		items[ni++] = (struct legend_item){ s[k].name, s[k].color, false };
	for (size_t k = 0; k < nh && ni < 8; k++)
		items[ni++] = (struct legend_item){ h[k].name, h[k].color, true };
	chart_open(out, id, title, unit, &a, items, ni);
	int n_days = days_in_month(c->year, c->month);
	for (int d = 2; d <= n_days; d++) {
		double x = xpix_t(c, brussels_local_to_utc(civil_to_days(c->year, c->month, d), 0));
		fprintf(out, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#f0f0f0\"/>\n", x, x, TOP,
			TOP + PLOT_H);
	}
	for (size_t k = 0; k < ns; k++) {
		bool open = false;
		int64_t last_end = 0;
		for (size_t i = 0; i < s[k].n; i++) {
			bool here = !s[k].present || s[k].present[i];
			if (!here || s[k].t1[i] <= c->from || s[k].t0[i] >= c->to) {
				if (open)
					fputs("\"/>\n", out);
				open = false;
				continue;
			}
			if (open && s[k].t0[i] != last_end) {
				fputs("\"/>\n", out);
				open = false;
			}
			double y = ypix(&a, s[k].v[i]);
			int64_t t0 = s[k].t0[i] < c->from ? c->from : s[k].t0[i];
			int64_t t1 = s[k].t1[i] > c->to ? c->to : s[k].t1[i];
			if (!open)
				fprintf(out, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.2\" points=\"", s[k].color);
			fprintf(out, "%.1f,%.1f %.1f,%.1f ", xpix_t(c, t0), y, xpix_t(c, t1), y);
			open = true;
			last_end = s[k].t1[i];
		}
		if (open)
			fputs("\"/>\n", out);
	}
	for (size_t k = 0; k < nh; k++) {
		double y = ypix(&a, h[k].v);
		fprintf(out, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\" stroke-dasharray=\"6,4\"/>\n",
			LEFT, LEFT + PLOT_W, y, y, h[k].color);
		fprintf(out, "<text x=\"%d\" y=\"%.1f\" font-size=\"11\" fill=\"%s\">%.3f</text>\n",
			LEFT + 4 + 48 * (int)k, y - 4, h[k].color, h[k].v);
	}
	day_labels(out, n_days, time_day_centre, c);
	fputs("</svg>\n", out);
}

/* ---- day charts: one bar per series and day */

struct day_series {
	const char *name, *color;
	const double *v;     /* [day - 1] */
	const bool *present;
};

static double bar_day_centre(int day, void *ctx)
{
	int n_days = *(const int *)ctx;
	return LEFT + (day - 0.5) * PLOT_W / (double)n_days;
}

static void day_chart(FILE *out, const char *id, const char *title, const char *unit, int n_days,
	const struct day_series *s, size_t ns)
{
	double lo = 0, hi = 0;
	for (size_t k = 0; k < ns; k++)
		for (int d = 0; d < n_days; d++)
			if (s[k].present[d]) {
				lo = fmin(lo, s[k].v[d]);
				hi = fmax(hi, s[k].v[d]);
			}
	struct axis a = axis_for(lo, hi);
	struct legend_item items[4] = { { NULL, NULL, false } };
	size_t ni = 0;
	for (size_t k = 0; k < ns && ni < 4; k++)
		items[ni++] = (struct legend_item){ s[k].name, s[k].color, false };
	chart_open(out, id, title, unit, &a, items, ni);
	double slot = PLOT_W / (double)n_days, bar = slot * 0.8 / (double)ns;
	for (size_t k = 0; k < ns; k++)
		for (int d = 0; d < n_days; d++) {
			if (!s[k].present[d])
				continue;
			double y0 = ypix(&a, 0), y = ypix(&a, s[k].v[d]);
			double x = LEFT + d * slot + slot * 0.1 + (double)k * bar;
			fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>\n", x,
				fmin(y, y0), bar, fabs(y0 - y), s[k].color);
		}
	day_labels(out, n_days, bar_day_centre, &n_days);
	fputs("</svg>\n", out);
}

/* ---- the page */

struct day_totals {
	double import_kwh[MAX_DAYS], export_kwh[MAX_DAYS], cost_eur[MAX_DAYS], gas_m3[MAX_DAYS], water_m3[MAX_DAYS];
	bool energy[MAX_DAYS], cost[MAX_DAYS], gas[MAX_DAYS], water[MAX_DAYS];
};

static void local_time(FILE *out, int64_t utc_s)
{
	int64_t local = utc_s + brussels_offset_s(utc_s);
	int64_t days = local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
	struct civil_date d = days_to_civil(days);
	int sod = (int)(local - days * 86400);
	fprintf(out, "%04d-%02d-%02d %02d:%02d", d.year, d.month, d.day, sod / 3600, sod / 60 % 60);
}

int report_html_write(FILE *out, const struct report *r)
{
	struct time_ctx c = { r->year, r->month, 0, 0 };
	report_month_bounds(r->year, r->month, &c.from, &c.to);
	int n_days = days_in_month(r->year, r->month);
	struct day_totals *t = calloc(1, sizeof *t);
	size_t nq = r->n_quarters, np = r->n_prices;
	int64_t *qt0 = calloc(nq + 1, sizeof *qt0), *qt1 = calloc(nq + 1, sizeof *qt1);
	double *qkw = calloc(nq + 1, sizeof *qkw);
	int64_t *pt0 = calloc(np + 1, sizeof *pt0), *pt1 = calloc(np + 1, sizeof *pt1);
	double *buy = calloc(np + 1, sizeof *buy), *sell = calloc(np + 1, sizeof *sell);
	bool *has_buy = calloc(np + 1, sizeof *has_buy), *has_sell = calloc(np + 1, sizeof *has_sell);
	int rc = -1;
	if (!t || !qt0 || !qt1 || !qkw || !pt0 || !pt1 || !buy || !sell || !has_buy || !has_sell)
		goto out;

	double import_kwh = 0, export_kwh = 0, cost_eur = 0, gas_m3 = 0, water_m3 = 0;
	size_t in_month = 0, estimated = 0, priced = 0, with_gas = 0, with_water = 0;
	for (size_t i = 0; i < nq; i++) {
		const struct report_quarter *q = &r->quarters[i];
		qt0[i] = q->start_s;
		qt1[i] = q->start_s + 900;
		qkw[i] = 4 * q->import_kwh;
		if (q->start_s < c.from || q->start_s >= c.to)
			continue;
		int d = brussels_date(q->start_s).day - 1;
		in_month++;
		estimated += q->estimated;
		import_kwh += q->import_kwh;
		export_kwh += q->export_kwh;
		t->import_kwh[d] += q->import_kwh;
		t->export_kwh[d] += q->export_kwh;
		t->energy[d] = true;
		if (q->has_cost) {
			priced++;
			cost_eur += q->cost_eur;
			t->cost_eur[d] += q->cost_eur;
			t->cost[d] = true;
		}
		if (q->has_gas) {
			with_gas++;
			gas_m3 += q->gas_m3;
			t->gas_m3[d] += q->gas_m3;
			t->gas[d] = true;
		}
		if (q->has_water) {
			with_water++;
			water_m3 += q->water_m3;
			t->water_m3[d] += q->water_m3;
			t->water[d] = true;
		}
	}
	for (size_t i = 0; i < np; i++) {
		pt0[i] = r->prices[i].start_s;
		pt1[i] = r->prices[i].start_s + 60 * (int64_t)r->prices[i].minutes;
		buy[i] = r->prices[i].buy_c_kwh;
		sell[i] = r->prices[i].sell_c_kwh;
		has_buy[i] = r->prices[i].has_buy;
		has_sell[i] = r->prices[i].has_sell;
	}

	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>lowi-p1 report ", out);
	html_text(out, r->serial);
	fprintf(out, " %04d-%02d</title>\n", r->year, r->month);
	fputs("<style>body{font-family:sans-serif;margin:16px;color:#222;background:#fff}"
	      "h1{font-size:20px}h2{font-size:16px;margin:22px 0 4px}"
	      "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}"
	      "td.n{text-align:right}</style>\n</head>\n<body>\n", out);
	fputs("<h1>Meter ", out);
	html_text(out, r->serial);
	fprintf(out, ", %04d-%02d (Brussels month)</h1>\n", r->year, r->month);

	fputs("<h2 id=\"summary\">Summary</h2>\n<table>\n", out);
	fprintf(out, "<tr><th>quarters</th><td class=\"n\">%zu (%zu estimated, %zu priced)</td></tr>\n", in_month,
		estimated, priced);
	fprintf(out, "<tr><th>energy imported</th><td class=\"n\">%.3f kWh</td></tr>\n", import_kwh);
	fprintf(out, "<tr><th>energy exported</th><td class=\"n\">%.3f kWh</td></tr>\n", export_kwh);
	if (priced)
		fprintf(out, "<tr><th>energy cost</th><td class=\"n\">%.2f EUR</td></tr>\n", cost_eur);
	else
		fputs("<tr><th>energy cost</th><td class=\"n\">no prices</td></tr>\n", out);
	if (r->has_peak) {
		fprintf(out, "<tr><th>month peak</th><td class=\"n\">%.3f kW, quarter of ", r->peak_kw);
		local_time(out, r->peak_start_s);
		fputs("</td></tr>\n", out);
		fprintf(out, "<tr><th>billed 12-month mean</th><td class=\"n\">%.3f kW over %d month%s</td></tr>\n", r->mean_kw,
			r->mean_months, r->mean_months == 1 ? "" : "s");
		if (r->has_capacity_cost)
			fprintf(out, "<tr><th>capacity cost</th><td class=\"n\">%.2f EUR</td></tr>\n", r->capacity_eur);
		else
			fputs("<tr><th>capacity cost</th><td class=\"n\">no rate (CapaTarif)</td></tr>\n", out);
	} else {
		fputs("<tr><th>month peak</th><td class=\"n\">none (no measured quarter)</td></tr>\n", out);
	}
	if (with_gas)
		fprintf(out, "<tr><th>gas</th><td class=\"n\">%.3f m&#179;</td></tr>\n", gas_m3);
	if (with_water)
		fprintf(out, "<tr><th>water</th><td class=\"n\">%.3f m&#179;</td></tr>\n", water_m3);
	fputs("</table>\n", out);

	struct period_series power = { "import", "#1f6fb4", nq, qt0, qt1, qkw, NULL };
	struct hline lines[2];
	size_t nl = 0;
	if (r->has_peak) {
		lines[nl++] = (struct hline){ "month peak", "#d62728", r->peak_kw };
		lines[nl++] = (struct hline){ "billed mean", "#2ca02c", r->mean_kw };
	}
	time_chart(out, "power", "Power per quarter", "kW (average import power of each quarter)", &c, &power, 1,
		lines, nl);

	struct day_series energy[2] = {
		{ "import", "#1f6fb4", t->import_kwh, t->energy },
		{ "export", "#ff9f1c", t->export_kwh, t->energy },
	};
	day_chart(out, "energy", "Energy per day", "kWh", n_days, energy, 2);

	struct day_series cost = { "cost", "#8c564b", t->cost_eur, t->cost };
	day_chart(out, "cost", "Cost per day", "EUR (energy bought minus energy sold, ConsoCost)", n_days, &cost, 1);

	struct period_series px[2] = {
		{ "Buy", "#d62728", np, pt0, pt1, buy, has_buy },
		{ "Sell", "#2ca02c", np, pt0, pt1, sell, has_sell },
	};
	time_chart(out, "prices", "Prices", "c€/kWh (PxElectr Buy and Sell)", &c, px, 2, NULL, 0);

	if (with_gas || with_water) {
		struct day_series gw[2];
		size_t ng = 0;
		if (with_gas)
			gw[ng++] = (struct day_series){ "gas", "#9467bd", t->gas_m3, t->gas };
		if (with_water)
			gw[ng++] = (struct day_series){ "water", "#17becf", t->water_m3, t->water };
		day_chart(out, "gas-water", "Gas and water per day", "m³", n_days, gw, ng);
	}
	fputs("<p style=\"font-size:12px;color:#555\">Written by lowi-report from the database tables Conso, Pics, "
	      "PxElectr and the views ConsoCost and CapaMonth. Times are Brussels civil time.</p>\n</body>\n</html>\n",
		out);
	rc = ferror(out) ? -1 : 0;
out:
	free(t);
	free(qt0);
	free(qt1);
	free(qkw);
	free(pt0);
	free(pt1);
	free(buy);
	free(sell);
	free(has_buy);
	free(has_sell);
	return rc;
}
