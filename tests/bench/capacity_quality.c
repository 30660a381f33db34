/*
 * capacity_quality: how good the capacity-tariff warning and projection
 * are, measured against the simulator's truth.
 *
 *   capacity_quality LABEL truth1.csv published1.csv [truth2.csv published2.csv ...]
 *
 * Each pair is one lowi-sim run (--truth, --published). Every published
 * reading goes through the plugin's own pure code as the plugin feeds it:
 * quarters_feed at its publish instant, capacity_note_quarter for each row
 * it completes, then, for an accepted reading, capacity_live_compute and
 * capacity_event_due. Then each true quarter of the run is judged:
 *  - a true new peak: its true average import power is above the target in
 *    force, max(the true peak of its Brussels month so far, 2.5 kW), the
 *    month so far being the quarters of the run before it;
 *  - warned: a PROJECTED event came on a reading at least 3 minutes before
 *    the quarter's end;
 *  - a false alarm: a quarter with a PROJECTED event that is not a true new
 *    peak;
 *  - the same for the first reading whose projection is above the target
 *    (peak_projected), as if every such reading warned;
 *  - the projection error at 10, 5 and 2 minutes before the end: the
 *    projected average of the last reading at or before that instant minus
 *    the true average, over quarters whose live figures were measured.
 * Prints two Markdown table rows, one for the PROJECTED events and one for
 * a warning on every projection above the target (the events' baseline):
 * LABEL, the rule, meter-days, quarters, true new
 * peaks, warned >= 3 min before the end, warned at all, warnings, false
 * alarms, how far under the target a false alarm's quarter ended (median),
 * |projection error| median and p95 at 10, 5 and 2 minutes.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capacity.h"
#include "quarter.h"

#define MAX_METERS 1000
#define WARN_BEFORE_S 180
#define N_CHECKS 3
static const int check_before_s[N_CHECKS] = {600, 300, 120};

struct quarter_rec {
	int64_t projected_ms; /* the reading that raised PROJECTED; 0 none */
	int64_t naive_ms;     /* the first reading with peak_projected; 0 none */
	bool has_check[N_CHECKS];
	bool measured_check[N_CHECKS];
	double projected_check[N_CHECKS];
};

struct meter {
	char serial[32];
	struct meter_quarters mq;
	struct capacity cap;
	int64_t base_q;            /* quarter number of recs[0] */
	struct quarter_rec *recs;
	size_t n_recs;
	/* truth */
	capacity_month_t true_month;
	double true_peak_kw;
	int64_t first_s, last_s;
};

static struct meter meters[MAX_METERS];
static int n_meters;

static void die(const char *fmt, const char *arg)
{
	fprintf(stderr, "capacity_quality: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	exit(2);
}

static struct meter *meter_of(const char *serial, bool create)
{
	for (int i = 0; i < n_meters; i++)
		if (strcmp(meters[i].serial, serial) == 0)
			return &meters[i];
	if (!create)
		return NULL;
	if (n_meters == MAX_METERS)
		die("more than %s meters in one run", "1000");
	struct meter *m = &meters[n_meters++];
	memset(m, 0, sizeof(*m));
	snprintf(m->serial, sizeof(m->serial), "%s", serial);
	return m;
}

static struct quarter_rec *rec_of(struct meter *m, int64_t start_s, bool create)
{
	int64_t q = start_s / QUARTER_S;
	if (!m->recs) {
		if (!create)
			return NULL;
		m->base_q = q;
	}
	if (q < m->base_q)
		return NULL;
	size_t i = (size_t)(q - m->base_q);
	if (i >= m->n_recs) {
		if (!create)
			return NULL;
		size_t n = m->n_recs ? m->n_recs : 1024;
		while (n <= i)
			n *= 2;
		m->recs = realloc(m->recs, n * sizeof(*m->recs));
		if (!m->recs)
			die("%s", "out of memory");
		memset(m->recs + m->n_recs, 0, (n - m->n_recs) * sizeof(*m->recs));
		m->n_recs = n;
	}
	return &m->recs[i];
}

static void on_row(void *ctx, const struct quarter_row *row)
{
	struct meter *m = ctx;
	capacity_note_quarter(&m->cap, row->start_s, row->import_wh, row->estimated);
}

/* Growable samples of |error| for each check. */
struct samples {
	double *v;
	size_t n, cap;
};

static void push(struct samples *s, double x)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 4096;
		s->v = realloc(s->v, s->cap * sizeof(double));
		if (!s->v)
			die("%s", "out of memory");
	}
	s->v[s->n++] = x;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double quantile(struct samples *s, double p)
{
	if (s->n == 0)
		return NAN;
	qsort(s->v, s->n, sizeof(double), cmp_double);
	size_t i = (size_t)ceil(p * (double)s->n) - 1;
	return s->v[i < s->n ? i : s->n - 1];
}

struct totals {
	long quarters, new_peaks, warned, warned_late, warnings, false_alarms;
	double meter_days;
	struct samples err[N_CHECKS];
	struct samples shortfall; /* target - true average of each false alarm */
};

static void replay(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		die("%s: cannot open", path);
	char line[512];
	unsigned long lineno = 0;
	while (fgets(line, sizeof(line), f)) {
		if (++lineno == 1)
			continue;
		char serial[32];
		int64_t t_ms;
		long long cih, cil, ceh, cel;
		int pi, pe;
		if (sscanf(line, "%31[^,],%" SCNd64 ",%lld,%lld,%lld,%lld,%d,%d", serial, &t_ms, &cih, &cil, &ceh, &cel, &pi,
			    &pe) != 8)
			die("%s: not a published row", path);
		struct lowi_reading r = {
			.import_day_wh = (double)cih,
			.import_night_wh = (double)cil,
			.export_day_wh = (double)ceh,
			.export_night_wh = (double)cel,
			.import_w = pi,
			.export_w = pe,
			.rate = -1,
			.has_power = true,
		};
		struct meter *m = meter_of(serial, true);
		enum quarter_feed_result res = quarters_feed(&m->mq, &quarter_default_params, t_ms, &r, on_row, m);
		if (res != QUARTER_FIRST && res != QUARTER_ACCEPTED && res != QUARTER_DISCONTINUITY &&
			res != QUARTER_LONG_SILENCE && res != QUARTER_REBASED)
			continue;
		struct capacity_live live;
		capacity_live_compute(&m->cap, &m->mq, 0.0, &live);
		enum capacity_event ev = capacity_event_due(&m->cap, &live);
		struct quarter_rec *q = rec_of(m, live.quarter_start_s, true);
		if (!q)
			continue;
		if (ev == CAPACITY_EVENT_PROJECTED)
			q->projected_ms = t_ms;
		if (live.peak_projected && !q->naive_ms)
			q->naive_ms = t_ms;
		int64_t end_ms = (live.quarter_start_s + QUARTER_S) * 1000;
		for (int k = 0; k < N_CHECKS; k++) {
			if (t_ms <= end_ms - check_before_s[k] * 1000) {
				q->has_check[k] = true;
				q->measured_check[k] = !live.estimated;
				q->projected_check[k] = live.projected_kw;
			}
		}
	}
	fclose(f);
}

static void count_warning(struct totals *t, int64_t warned_ms, int64_t start_s, bool new_peak, double under_kw)
{
	t->quarters++;
	t->new_peaks += new_peak;
	if (!warned_ms)
		return;
	t->warnings++;
	if (!new_peak) {
		t->false_alarms++;
		push(&t->shortfall, under_kw);
		return;
	}
	t->warned_late++;
	t->warned += warned_ms <= (start_s + QUARTER_S - WARN_BEFORE_S) * 1000;
}

/* t: the PROJECTED events; naive: a warning on the first reading whose
 * projection is above the target, what the events are measured against. */
static void judge(const char *path, struct totals *t, struct totals *naive)
{
	FILE *f = fopen(path, "r");
	if (!f)
		die("%s: cannot open", path);
	char line[512];
	unsigned long lineno = 0;
	while (fgets(line, sizeof(line), f)) {
		if (++lineno == 1)
			continue;
		char serial[32];
		int64_t start_s;
		double import_wh;
		if (sscanf(line, "%31[^,],%" SCNd64 ",%lf", serial, &start_s, &import_wh) != 3)
			die("%s: not a truth row", path);
		struct meter *m = meter_of(serial, false);
		if (!m)
			continue; /* never published: nothing to judge */
		if (m->first_s == 0)
			m->first_s = start_s;
		m->last_s = start_s + QUARTER_S;
		double avg_kw = import_wh * 4.0 / 1000.0;
		capacity_month_t month = capacity_month_of(start_s);
		if (month != m->true_month) {
			m->true_month = month;
			m->true_peak_kw = 0.0;
		}
		double target = m->true_peak_kw > CAPACITY_FLOOR_KW ? m->true_peak_kw : CAPACITY_FLOOR_KW;
		bool new_peak = avg_kw > target;
		if (avg_kw > m->true_peak_kw)
			m->true_peak_kw = avg_kw;

		const struct quarter_rec *q = rec_of(m, start_s, false);
		count_warning(t, q ? q->projected_ms : 0, start_s, new_peak, target - avg_kw);
		count_warning(naive, q ? q->naive_ms : 0, start_s, new_peak, target - avg_kw);
		for (int k = 0; q && k < N_CHECKS; k++)
			if (q->has_check[k] && q->measured_check[k])
				push(&t->err[k], fabs(q->projected_check[k] - avg_kw));
	}
	fclose(f);
	for (int i = 0; i < n_meters; i++) {
		if (meters[i].last_s > meters[i].first_s)
			t->meter_days += (double)(meters[i].last_s - meters[i].first_s) / 86400.0;
		free(meters[i].recs);
	}
	n_meters = 0;
}

static double pct(long a, long b)
{
	return b ? 100.0 * (double)a / (double)b : NAN;
}

static void print_row(const char *label, const char *rule, struct totals *w, struct totals *t)
{
	printf("| %s | %s | %.0f | %ld | %ld | %.1f %% (%ld) | %.1f %% | %ld | %.1f %% (%ld) | %.2f |", label, rule,
		t->meter_days, w->quarters, w->new_peaks, pct(w->warned, w->new_peaks), w->warned,
		pct(w->warned_late, w->new_peaks), w->warnings, pct(w->false_alarms, w->warnings), w->false_alarms,
		quantile(&w->shortfall, 0.5));
	for (int k = 0; k < N_CHECKS; k++)
		printf(" %.3f / %.3f |", quantile(&t->err[k], 0.5), quantile(&t->err[k], 0.95));
	printf("\n");
}

int main(int argc, char **argv)
{
	if (argc < 4 || (argc - 2) % 2 != 0) {
		fprintf(stderr, "usage: capacity_quality LABEL truth.csv published.csv [truth.csv published.csv ...]\n");
		return 2;
	}
	static struct totals t, naive;
	for (int i = 2; i + 1 < argc; i += 2) {
		replay(argv[i + 1]);
		judge(argv[i], &t, &naive);
	}
	print_row(argv[1], "events", &t, &t);
	print_row(argv[1], "every projection above", &naive, &t);
	return 0;
}
