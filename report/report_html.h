/*
 * One meter's Brussels month as a self-contained HTML page: a summary
 * table and inline SVG charts (power per quarter with the month's peak and
 * the billed mean, energy per day, cost per day, Buy and Sell prices, gas
 * and water per day when the meter reports them). No script, no style
 * sheet, font or image from elsewhere: the page opens offline.
 *
 * Pure apart from writing to the stream the caller gives; any thread. The
 * caller owns struct report and every array it points to.
 */
#ifndef LOWI_REPORT_HTML_H
#define LOWI_REPORT_HTML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* One Conso row (and its ConsoCost cost when priced). */
struct report_quarter {
	int64_t start_s;          /* UTC start */
	double import_kwh, export_kwh;
	bool has_gas, has_water;
	double gas_m3, water_m3;
	bool estimated;
	bool has_cost;
	double cost_eur;          /* ConsoCost.Cost_EUR */
};

/* One PxElectr period. */
struct report_price {
	int64_t start_s;
	int minutes;
	bool has_buy, has_sell;
	double buy_c_kwh, sell_c_kwh;
};

struct report {
	const char *serial;
	int year, month;          /* the Brussels month */
	const struct report_quarter *quarters; /* in time order */
	size_t n_quarters;
	const struct report_price *prices;     /* in time order */
	size_t n_prices;
	bool has_peak;            /* a Pics / CapaMonth row */
	int64_t peak_start_s;
	double peak_kw;
	double mean_kw;           /* CapaMonth.Mean_kW */
	int mean_months;          /* CapaMonth.Months */
	bool has_capacity_cost;
	double capacity_eur;      /* CapaMonth.Cost_EUR */
};

/* UTC bounds [from, to) of a Brussels month. */
void report_month_bounds(int year, int month, int64_t *from_s, int64_t *to_s);

/* Writes the page. Returns 0, or -1 when the stream reports an error. */
int report_html_write(FILE *out, const struct report *r);

#endif
