/*
 * quarter-replay: feeds a simulator's published.csv (serial, t_ms, CIH, CIL,
 * CEH, CEL, PI, PE) through the plugin's pure quarter aggregation, each
 * reading stamped at its publish time, and prints the rows as CSV:
 *   serial,start_s,import_wh,export_wh,estimated,emitted_ms
 * emitted_ms being the publish instant of the reading that completed the row.
 *
 * It tells how much of a test's error is the estimator's own and how much is
 * the delivery delay that an accelerated clock multiplies: the broker stamps
 * a reading when it arrives, this tool when it was sent.
 *
 *   quarter-replay published.csv > rows.csv
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quarter.h"

#define MAX_METERS 200000

struct meter {
	char serial[32];
	struct meter_quarters mq;
};

static struct meter meters[MAX_METERS];
static int n_meters;

struct emit_ctx {
	const char *serial;
	int64_t t_ms;
};

static void print_row(void *ctx, const struct quarter_row *row)
{
	const struct emit_ctx *e = ctx;
	printf("%s,%" PRId64 ",%" PRId64 ",%" PRId64 ",%d,%" PRId64 "\n", e->serial, row->start_s, row->import_wh,
		row->export_wh, row->estimated ? 1 : 0, e->t_ms);
}

/* Open addressing on the serial: streams of up to MAX_METERS meters. */
#define TABLE_SLOTS (2 * MAX_METERS)
static int table[TABLE_SLOTS]; /* index + 1 into meters; 0 = empty */

static struct meter *meter_of(const char *serial)
{
	uint64_t h = 1469598103934665603ULL;
	for (const char *c = serial; *c; c++)
		h = (h ^ (unsigned char)*c) * 1099511628211ULL;
	size_t slot = (size_t)(h % TABLE_SLOTS);
	while (table[slot]) {
		struct meter *m = &meters[table[slot] - 1];
		if (strcmp(m->serial, serial) == 0)
			return m;
		slot = (slot + 1) % TABLE_SLOTS;
	}
	if (n_meters == MAX_METERS || strlen(serial) >= sizeof(meters[0].serial)) {
		fprintf(stderr, "quarter-replay: too many meters or serial too long: %s\n", serial);
		exit(2);
	}
	struct meter *m = &meters[n_meters++];
	table[slot] = n_meters;
	snprintf(m->serial, sizeof(m->serial), "%s", serial);
	quarters_reset(&m->mq);
	return m;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: quarter-replay published.csv\n");
		return 2;
	}
	FILE *f = fopen(argv[1], "r");
	if (!f) {
		fprintf(stderr, "quarter-replay: %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	char line[512];
	unsigned long lineno = 0;
	printf("serial,start_s,import_wh,export_wh,estimated,emitted_ms\n");
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		if (lineno == 1)
			continue; /* header */
		char serial[32];
		int64_t t_ms;
		long long cih, cil, ceh, cel;
		int pi, pe;
		if (sscanf(line, "%31[^,],%" SCNd64 ",%lld,%lld,%lld,%lld,%d,%d", serial, &t_ms, &cih, &cil, &ceh,
			    &cel, &pi, &pe) != 8) {
			fprintf(stderr, "quarter-replay: %s:%lu: not a published row\n", argv[1], lineno);
			fclose(f);
			return 2;
		}
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
		struct meter *m = meter_of(serial);
		struct emit_ctx ctx = {m->serial, t_ms};
		quarters_feed(&m->mq, &quarter_default_params, t_ms, &r, print_row, &ctx);
	}
	fclose(f);
	return 0;
}
