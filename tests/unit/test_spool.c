/* The meter journal: what a restart resumes from, files of the earlier
 * layout, compaction; meters.live, including the file of lowi-p1 0.1.0;
 * and spool files of many rows. */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "spool.h"

#define T0 1767225600LL /* 2026-01-01 00:00:00 UTC */

static char dir[256];

static struct conso_row row_of(const char *serial, int64_t quarter, int64_t base)
{
	struct conso_row r;
	memset(&r, 0, sizeof(r));
	snprintf(r.serial, sizeof(r.serial), "%s", serial);
	struct quarter_row *q = &r.q;
	q->start_s = T0 + quarter * 900;
	q->import_day_wh = base + 1;
	q->import_night_wh = base + 2;
	q->export_day_wh = base + 3;
	q->export_night_wh = base + 4;
	q->import_wh = 11;
	q->export_wh = 12;
	q->gas_l = 13;
	q->gas_index_l = base + 5;
	q->has_gas = true;
	q->water_index_l = base + 6;
	q->estimated = true;
	return r;
}

struct seen {
	size_t n;
	struct conso_row rows[64];
};

static void collect(void *ctx, const struct conso_row *row)
{
	struct seen *s = ctx;
	if (s->n < 64)
		s->rows[s->n++] = *row;
}

static const struct conso_row *find(const struct seen *s, const char *serial)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->rows[i].serial, serial) == 0)
			return &s->rows[i];
	return NULL;
}

/* The fields resume reads match row r; the rest are zero. */
static bool resumes_from(const struct conso_row *got, const struct conso_row *r)
{
	const struct quarter_row *a = &got->q, *b = &r->q;
	return a->start_s == b->start_s && a->import_day_wh == b->import_day_wh && a->import_night_wh == b->import_night_wh
		&& a->export_day_wh == b->export_day_wh && a->export_night_wh == b->export_night_wh
		&& a->gas_index_l == b->gas_index_l && a->water_index_l == b->water_index_l
		&& a->has_gas == b->has_gas && a->has_water == b->has_water
		&& a->import_wh == 0 && a->export_wh == 0 && a->gas_l == 0 && a->water_l == 0 && !a->estimated;
}

static struct seen reopen_and_collect(struct spool **s)
{
	char err[1200];
	spool_close(*s);
	*s = spool_open(dir, err, sizeof(err));
	struct seen seen = { 0 };
	if (*s)
		spool_each_last(*s, collect, &seen);
	return seen;
}

static void write_text(const char *name, const char *text)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
}

static long file_size(const char *name)
{
	char path[512];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void remove_dir(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[600];
	while (d && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

struct restored {
	int n;
	struct meter meters[4];
};

static void restored(void *ctx, const struct meter *m)
{
	struct restored *r = ctx;
	if (r->n < 4)
		r->meters[r->n] = *m;
	r->n++;
}

/* Same state: the same record, which carries every field
 * (test_quarter_state checks that). */
static bool same_quarters(const struct meter_quarters *a, const struct meter_quarters *b)
{
	unsigned char ra[QUARTER_STATE_BYTES], rb[QUARTER_STATE_BYTES];
	return quarter_state_encode(a, ra, sizeof(ra)) == sizeof(ra) && quarter_state_encode(b, rb, sizeof(rb)) == sizeof(rb)
		&& memcmp(ra, rb, sizeof(ra)) == 0;
}

/* The states of meters OLD0 and OLD1 in the meters.live below. */
static void legacy_state(struct meter_quarters *q, int k)
{
	quarters_reset(q);
	q->last_ms = 1767226712345LL + k * 1000;
	for (int c = 0; c < QC_COUNT; c++) {
		q->last_index[c] = 1234567.123 + 1000.0 * c + k;
		q->last_total[c] = 1234000.456 + 1000.0 * c + k;
		q->boundary_total[c] = 1233990 + 1000 * c + k;
	}
	q->last_import_w = 1234.56f + (float)k;
	q->last_export_w = 78.9f + (float)k;
	q->last_rate = (int8_t)(1 + k);
	q->last_has_power = k == 0;
	q->has_gas = k == 0;
	q->has_water = k != 0;
	q->boundary_valid = k == 0;
	q->open_estimated = k != 0;
	q->boundary_s = 1767226500LL + k * 900;
}

/* meters.live as lowi-p1 0.1.0 wrote it at a clean stop (spool_save_live
 * of that release, run on legacy_state(0) and legacy_state(1)). */
static const char live_0_1_0[] =
	"OLD0 1767226712345 1767226500 1 11 0x1.2d6871f7ced91p+20 0x1.2d45074bc6a7fp+20 1233990 0x1.2da6f1f7ced91p+20"
	" 0x1.2d83874bc6a7fp+20 1234990 0x1.2de571f7ced91p+20 0x1.2dc2074bc6a7fp+20 1235990 0x1.2e23f1f7ced91p+20"
	" 0x1.2e00874bc6a7fp+20 1236990 0x1.2e6271f7ced91p+20 0x1.2e3f074bc6a7fp+20 1237990 0x1.2ea0f1f7ced91p+20"
	" 0x1.2e7d874bc6a7fp+20 1238990 0x1.34a3d8p+10 0x1.3b999ap+6\n"
	"OLD1 1767226713345 1767227400 2 20 0x1.2d6881f7ced91p+20 0x1.2d45174bc6a7fp+20 1233991 0x1.2da701f7ced91p+20"
	" 0x1.2d83974bc6a7fp+20 1234991 0x1.2de581f7ced91p+20 0x1.2dc2174bc6a7fp+20 1235991 0x1.2e2401f7ced91p+20"
	" 0x1.2e00974bc6a7fp+20 1236991 0x1.2e6281f7ced91p+20 0x1.2e3f174bc6a7fp+20 1237991 0x1.2ea101f7ced91p+20"
	" 0x1.2e7d974bc6a7fp+20 1238991 0x1.34e3d8p+10 0x1.3f999ap+6\n";

static void live_states(struct spool *s)
{
	char err[1200];
	/* A live state for a meter without a durable row is restored whole
	 * and adds no durable row. */
	struct meters_table live;
	meters_init(&live, sizeof(struct meter), 10);
	bool created;
	struct meter *m = meters_get(&live, "NEW", &created);
	legacy_state(&m->quarters, 1);
	m->quarters.last_ms = (T0 + 100) * 1000;
	struct meter saved = *m;
	CHECK(spool_save_live(s, &live, err, sizeof(err)) == 0, "save live: %s", err);
	struct restored r = { 0 };
	CHECK(spool_take_live(s, restored, &r, err, sizeof(err)) == 1 && r.n == 1 && err[0] == '\0', "live restored: %s", err);
	CHECK(r.n == 1 && strcmp(r.meters[0].serial, "NEW") == 0 && same_quarters(&r.meters[0].quarters, &saved.quarters),
		"the whole state comes back");
	CHECK(spool_meters(s) == 4, "no durable row invented: %zu meters", spool_meters(s));
	CHECK(file_size("meters.live") == -1, "meters.live used once");
	meters_free(&live);

	/* After an upgrade from 0.1.0, each meter goes on from its last
	 * reading, not from its last row. */
	write_text("meters.live", live_0_1_0);
	r.n = 0;
	CHECK(spool_take_live(s, restored, &r, err, sizeof(err)) == 2 && err[0] == '\0', "0.1.0 states: %d, %s", r.n, err);
	for (int k = 0; k < 2 && k < r.n; k++) {
		struct meter_quarters want;
		legacy_state(&want, k);
		CHECK(r.meters[k].serial[3] == '0' + k && same_quarters(&r.meters[k].quarters, &want),
			"0.1.0 state of OLD%d read whole", k);
	}

	/* A damaged state, or one from a newer build, is reported and skipped;
	 * the other meters still come back. */
	unsigned char rec[QUARTER_STATE_BYTES];
	char hex[2 * QUARTER_STATE_BYTES + 1], text[8 * QUARTER_STATE_BYTES];
	quarter_state_encode(&saved.quarters, rec, sizeof(rec));
	for (size_t i = 0; i < sizeof(rec); i++)
		snprintf(hex + 2 * i, 3, "%02x", i == 0 ? QUARTER_STATE_VERSION + 1 : rec[i]);
	snprintf(text, sizeof(text), "NEWER %s\nCUT 01%.20s\nNOTHEX 01%.339sz\nNEW %02x%s\n", hex, hex + 2, hex + 2,
		QUARTER_STATE_VERSION, hex + 2);
	write_text("meters.live", text);
	r.n = 0;
	CHECK(spool_take_live(s, restored, &r, err, sizeof(err)) == 1 && r.n == 1, "only the good line restored: %d", r.n);
	CHECK(strstr(err, "3 meter states") && strstr(err, "'NEWER': record version unknown"), "reported: %s", err);
}

int main(void)
{
	char err[1200];
	snprintf(dir, sizeof(dir), "/tmp/lowi-test-spool-%ld", (long)getpid());
	remove_dir();

	/* Files as the previous version wrote them: whole rows, energies set,
	 * an older row after a newer one, and a torn last journal line. */
	mkdir(dir, 0700);
	write_text("meters.state", "A 1767225600 101 102 103 104 11 12 13 0 105 106 5\n"
		"B 1767226500 201 202 203 204 0 0 0 0 0 0 0\n");
	write_text("meters.journal", "A 1767226500 301 302 303 304 21 22 23 0 305 306 1\n"
		"A 1767225600 401 402 403 404 11 12 13 0 405 406 1\n"
		"B 1767227400 501 502 503 50");
	struct spool *s = spool_open(dir, err, sizeof(err));
	CHECK(s != NULL, "open: %s", err);
	struct seen seen = { 0 };
	spool_each_last(s, collect, &seen);
	CHECK(seen.n == 2 && spool_meters(s) == 2, "old files: %zu meters", seen.n);
	struct conso_row a = row_of("A", 1, 300);
	a.q.water_index_l = 306;
	a.q.has_water = false;
	CHECK(find(&seen, "A") && resumes_from(find(&seen, "A"), &a), "A resumes from its newest row");
	struct conso_row b = row_of("B", 1, 200);
	b.q.gas_index_l = b.q.water_index_l = 0;
	b.q.has_gas = false;
	CHECK(find(&seen, "B") && resumes_from(find(&seen, "B"), &b), "B skips the torn line");

	/* Journal, reopen: the newest row of each meter, whatever the order. */
	struct conso_row rows[3] = { row_of("C", 5, 1000), row_of("A", 9, 2000), row_of("C", 4, 900) };
	CHECK(spool_journal(s, rows, 3, err, sizeof(err)) == 0, "journal: %s", err);
	seen = reopen_and_collect(&s);
	CHECK(s && seen.n == 3, "after reopen: %zu meters", seen.n);
	CHECK(find(&seen, "A") && resumes_from(find(&seen, "A"), &rows[1]), "A from the journal");
	CHECK(find(&seen, "C") && resumes_from(find(&seen, "C"), &rows[0]), "C from its newest row, not its last line");

	/* Compaction: more than 4 lines per meter + 4096 empties the journal;
	 * the state file alone then gives the same rows. */
	struct conso_row many[500];
	for (int k = 0; k < 10 && file_size("meters.journal") != 0; k++) {
		for (int i = 0; i < 500; i++)
			many[i] = row_of(i % 2 ? "A" : "D", 10 + k * 500 + i, 3000 + i);
		CHECK(spool_journal(s, many, 500, err, sizeof(err)) == 0, "journal: %s", err);
	}
	CHECK(file_size("meters.journal") == 0, "journal emptied by compaction");
	CHECK(file_size("meters.state") > 0, "state written");
	struct conso_row last_a = many[499], last_d = many[498];
	seen = reopen_and_collect(&s);
	CHECK(s && seen.n == 4, "after compaction: %zu meters", seen.n);
	CHECK(find(&seen, "A") && resumes_from(find(&seen, "A"), &last_a), "A after compaction");
	CHECK(find(&seen, "D") && resumes_from(find(&seen, "D"), &last_d), "D after compaction");
	CHECK(find(&seen, "B") && resumes_from(find(&seen, "B"), &b), "B kept by compaction");

	live_states(s);

	/* A spool file larger than the write buffer comes back whole. */
	struct conso_row *big = malloc(2000 * sizeof(*big));
	for (int i = 0; i < 2000; i++)
		big[i] = row_of("E", i, i);
	CHECK(spool_write(s, big, 2000, err, sizeof(err)) == 0, "spool write: %s", err);
	struct conso_row *back;
	size_t n;
	char name[256];
	CHECK(spool_read_oldest(s, &back, &n, name, sizeof(name), err, sizeof(err)) == 1 && n == 2000, "read %zu", n);
	CHECK(n == 2000 && memcmp(back, big, 2000 * sizeof(*big)) == 0, "rows identical");
	free(back);
	free(big);
	CHECK(spool_remove(s, name, err, sizeof(err)) == 0 && spool_files(s) == 0, "removed");

	spool_close(s);
	remove_dir();
	return check_finish("spool");
}
