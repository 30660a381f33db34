/* The report page (report/report_html.h): month bounds in Brussels time,
 * the serial escaped, quarters summed per Brussels day and month, charts
 * present only with their data, a failing stream reported. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "report_html.h"

static char *render(const struct report *r, int *rc)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	*rc = report_html_write(f, r);
	fclose(f);
	return buf;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* The SVG after the heading with this id. */
static char *chart(const char *page, const char *id)
{
	char head[64];
	snprintf(head, sizeof head, "<h2 id=\"%s\">", id);
	const char *a = strstr(page, head);
	if (!a)
		return NULL;
	const char *b = strstr(a, "</svg>");
	return b ? strndup(a, (size_t)(b - a)) : NULL;
}

int main(void)
{
	int64_t from, to;
	/* October: from summer time to winter time. */
	report_month_bounds(2026, 10, &from, &to);
	CHECK(from == 1790805600 && to == 1793487600, "October 2026: %lld %lld", (long long)from, (long long)to);
	report_month_bounds(2026, 3, &from, &to);
	CHECK(from == 1772319600 && to == 1774994400, "March 2026: %lld %lld", (long long)from, (long long)to);
	report_month_bounds(2026, 12, &from, &to);
	CHECK(from == 1796079600 && to == 1798758000, "December 2026: %lld %lld", (long long)from, (long long)to);

	/* 24 October 23:45 (summer time), 25 October 00:00 and 02:00 (the
	 * second 02:00, winter time), 1 November 00:00: November's. */
	struct report_quarter q[] = {
		{ .start_s = 1792878300, .import_kwh = 0.250, .has_cost = true, .cost_eur = 0.05 },
		{ .start_s = 1792879200, .import_kwh = 0.500, .export_kwh = 0.125 },
		{ .start_s = 1792890000, .import_kwh = 1.000, .estimated = true },
		{ .start_s = 1793487600, .import_kwh = 9.000, .has_cost = true, .cost_eur = 9 },
	};
	struct report_price p[] = {
		{ .start_s = 1792878300, .minutes = 15, .has_buy = true, .buy_c_kwh = 20, .has_sell = true, .sell_c_kwh = 5 },
		{ .start_s = 1792879200, .minutes = 15, .has_sell = true, .sell_c_kwh = 4 },
	};
	struct report r = { .serial = "<a&\"b'>", .year = 2026, .month = 10, .quarters = q, .n_quarters = 4, .prices = p,
		.n_prices = 2 };
	int rc;
	char *page = render(&r, &rc);
	CHECK(rc == 0 && page, "written");
	CHECK(strstr(page, "Meter &lt;a&amp;&quot;b&#39;&gt;, 2026-10") && !strstr(page, "<a&"), "serial escaped");
	CHECK(strstr(page, "<td class=\"n\">3 (1 estimated, 1 priced)</td>"), "quarters of the month only");
	CHECK(strstr(page, "<td class=\"n\">1.750 kWh</td>"), "imported: 0.25 + 0.5 + 1.0");
	CHECK(strstr(page, "<td class=\"n\">0.05 EUR</td>"), "cost of the priced quarter of the month");
	CHECK(strstr(page, "none (no measured quarter)"), "no peak");
	CHECK(!strstr(page, "Gas and water") && !strstr(page, ">gas<"), "no gas, no water: no chart");
	CHECK(!strstr(page, "http") && !strstr(page, "<script") && !strstr(page, "src=") && !strstr(page, "href="),
		"nothing from elsewhere");
	char *energy = chart(page, "energy"), *cost = chart(page, "cost"), *power = chart(page, "power"),
	     *prices = chart(page, "prices");
	CHECK(energy && count(energy, "<rect x=") == 4, "energy: 2 days (24th, 25th) x import and export: %d",
		energy ? count(energy, "<rect x=") : -1);
	CHECK(cost && count(cost, "<rect x=") == 1, "cost: the one priced day");
	CHECK(power && count(power, "<polyline") == 2 && count(power, "stroke-dasharray=\"6,4\"") == 0,
		"power: two runs of adjacent quarters, no peak lines");
	CHECK(prices && count(prices, "<polyline") == 2, "prices: Buy for one period, Sell for two");
	free(energy);
	free(cost);
	free(power);
	free(prices);
	free(page);

	r.has_peak = true;
	r.peak_start_s = 1792879200;
	r.peak_kw = 2.0;
	r.mean_kw = 3.125;
	r.mean_months = 1;
	q[1].has_gas = true;
	q[1].gas_m3 = 0.5;
	page = render(&r, &rc);
	power = chart(page, "power");
	CHECK(strstr(page, "2.000 kW, quarter of 2026-10-25 00:00") && strstr(page, "3.125 kW over 1 month<"),
		"peak in Brussels time, mean over one month");
	CHECK(strstr(page, "no rate (CapaTarif)"), "no capacity rate");
	CHECK(power && count(power, "stroke-dasharray=\"6,4\"") == 2, "peak and mean lines");
	CHECK(strstr(page, "<h2 id=\"gas-water\">Gas and water per day</h2>") && strstr(page, ">gas<") &&
			!strstr(page, ">water<"),
		"gas only");
	free(power);
	free(page);

	FILE *full = fopen("/dev/full", "w");
	if (full) {
		setvbuf(full, NULL, _IONBF, 0);
		CHECK(report_html_write(full, &r) == -1, "a stream that fails is reported");
		fclose(full);
	}
	return check_finish("test_report_html");
}
