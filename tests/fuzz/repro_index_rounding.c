/* Reproducer of the bug tolerated by fuzz_quarter.c under
 * -DFUZZ_KNOWN_BUG_INDEX_ROUNDING: after a counter discontinuity with
 * fractional counters, a row's Soutire differs from the change of
 * In_D + In_N (README: "a row's Soutire is exactly the change of
 * In_D + In_N since the previous row").
 *
 *   gcc -std=c11 -Iplugin tests/fuzz/repro_index_rounding.c plugin/quarter.c -lm -o /tmp/r && /tmp/r
 */
#include <stdio.h>
#include "quarter.h"
static long long prev_idx = -1;
static void emit(void *ctx, const struct quarter_row *r)
{
	(void)ctx;
	long long idx = r->import_day_wh + r->import_night_wh;
	printf("row %lld: In_D %lld In_N %lld Soutire %lld Wh, In_D+In_N change %lld Wh%s\n", (long long)r->start_s,
		(long long)r->import_day_wh, (long long)r->import_night_wh, (long long)r->import_wh,
		prev_idx < 0 ? 0 : idx - prev_idx, prev_idx >= 0 && idx - prev_idx != r->import_wh ? "   <-- differs" : "");
	prev_idx = idx;
}
int main(void)
{
	struct meter_quarters mq;
	quarters_reset(&mq);
	long long t = 1770703210000LL; /* 2026-02-10 06:00:10 UTC */
	double cih[] = { 10000.5, 10010.5, 100.0 };
	for (int i = 0; i < 60; i++) {
		struct lowi_reading r = { .import_day_wh = i < 3 ? cih[i] : 100.0 + (i - 2) * 7.3,
			.import_night_wh = 137096, .export_day_wh = 10976, .export_night_wh = 3381, .rate = 1 };
		enum quarter_feed_result res = quarters_feed(&mq, &quarter_default_params, t + i * 60000LL, &r, emit, NULL);
		if (res == QUARTER_DISCONTINUITY)
			printf("reading %d: CIH %.1f -> %s\n", i, r.import_day_wh, quarter_feed_result_name(res));
	}
	return 0;
}
