/* The meter journal: what a restart resumes from, files of the earlier
 * layout, compaction, and spool files of many rows. */
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

static void restored(void *ctx, const struct meter *m)
{
	(void)m;
	(*(int *)ctx)++;
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

	/* A live state for a meter without a durable row is restored and adds
	 * no durable row. */
	struct meters_table live;
	meters_init(&live, sizeof(struct meter), 10);
	bool created;
	struct meter *m = meters_get(&live, "NEW", &created);
	quarters_reset(&m->quarters);
	m->quarters.last_ms = (T0 + 100) * 1000;
	CHECK(spool_save_live(s, &live, err, sizeof(err)) == 0, "save live: %s", err);
	int n_restored = 0;
	CHECK(spool_take_live(s, restored, &n_restored, err, sizeof(err)) == 1 && n_restored == 1, "live restored");
	CHECK(spool_meters(s) == 4, "no durable row invented: %zu meters", spool_meters(s));
	meters_free(&live);

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
