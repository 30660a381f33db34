/* The meter journal: what a restart resumes from, files of the earlier
 * layout, compaction, meters forgotten (silent too long, beyond
 * max_meters); meters.live, including the file of lowi-p1 0.1.0; spool
 * files of many rows; and the files' safety: modes, symbolic links,
 * leftovers, the directory's owner and mode, a journal append cut short
 * (RLIMIT_FSIZE), running out of memory while reading (realloc failing)
 * and the directory synced once the journal exists (fsync observed); and
 * the replay of files that cannot be read or set aside.
 * realloc and fsync are wrapped at link time (tests/unit/meson.build). */
#include <dirent.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "spool.h"

#define T0 1767225600LL /* 2026-01-01 00:00:00 UTC */

static char dir[256];

/* Fault injection: realloc fails while fail_realloc is set. */
static bool fail_realloc;
void *__real_realloc(void *p, size_t n);
void *__wrap_realloc(void *p, size_t n)
{
	return fail_realloc ? NULL : __real_realloc(p, n);
}

/* fsyncs of the spool directory made while its journal existed. */
static int dir_syncs_after_journal;
int __real_fsync(int fd);
int __wrap_fsync(int fd)
{
	struct stat st;
	char journal[300];
	snprintf(journal, sizeof(journal), "%s/meters.journal", dir);
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode) && access(journal, F_OK) == 0)
		dir_syncs_after_journal++;
	return __real_fsync(fd);
}

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
	*s = spool_open(dir, SIZE_MAX, 0, err, sizeof(err));
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
	struct meter_set live;
	meter_set_init(&live, 10, 0);
	bool created;
	struct meter *m = meter_set_take(&live, "NEW", T0 * 1000, &created);
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

	/* Resumed meters that have not published again are saved too. */
	struct meter *res = meter_set_resume(&live, "RES");
	*res = saved;
	snprintf(res->serial, sizeof(res->serial), "RES");
	CHECK(spool_save_live(s, &live, err, sizeof(err)) == 0, "save live: %s", err);
	r.n = 0;
	CHECK(spool_take_live(s, restored, &r, err, sizeof(err)) == 2 && strcmp(r.meters[1].serial, "RES") == 0,
		"heard and resumed meters saved: %d", r.n);
	meter_set_free(&live);

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

/* Replay of a spool holding what cannot be read or set aside: each file is
 * dealt with once (set aside, or skipped until the next start), a spool
 * that cannot be read for now is left as it is, and nothing blocks. */
static char rdir[256];

static bool exists_in(const char *d, const char *name)
{
	char path[600];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%s", d, name);
	return lstat(path, &st) == 0;
}

static void make_in(const char *d, const char *name, bool as_dir)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/%s", d, name);
	if (as_dir) {
		mkdir(path, 0700);
		snprintf(path, sizeof(path), "%s/%s/keep", d, name);
		mkdir(path, 0700); /* not empty: nothing can be renamed over it */
	} else {
		FILE *f = fopen(path, "w");
		fputs("not a spool line\n", f);
		fclose(f);
	}
}

static void replay_faults(void)
{
	char err[1200], name[256], cmd[600];
	struct conso_row *rows;
	size_t n;
	snprintf(rdir, sizeof(rdir), "/tmp/lowi-test-replay-%ld", (long)getpid());
	snprintf(cmd, sizeof(cmd), "rm -rf %s", rdir);
	CHECK(system(cmd) == 0, "clean %s", rdir);
	struct spool *s = spool_open(rdir, SIZE_MAX, 0, err, sizeof(err));
	CHECK(s != NULL, "open: %s", err);
	if (s == NULL)
		return;
	CHECK(spool_read_oldest(s, &rows, &n, name, sizeof(name), err, sizeof(err)) == SPOOL_READ_EMPTY, "empty spool");

	/* 1: a FIFO (opening it for reading must not wait for a writer);
	 * 2: a directory whose .bad name is taken; 3: a damaged file whose
	 * every set-aside name is taken; 4: good rows. */
	char path[600];
	snprintf(path, sizeof(path), "%s/%020d.rows", rdir, 1);
	CHECK(mkfifo(path, 0600) == 0, "fifo");
	make_in(rdir, "00000000000000000002.rows", true);
	make_in(rdir, "00000000000000000002.rows.bad", true);
	make_in(rdir, "00000000000000000003.rows", false);
	make_in(rdir, "00000000000000000003.rows.bad", true);
	for (int i = 1; i < 10; i++) {
		char taken[64];
		snprintf(taken, sizeof(taken), "00000000000000000003.rows.bad.%d", i);
		make_in(rdir, taken, true);
	}
	struct spool *s2 = spool_open(rdir, SIZE_MAX, 0, err, sizeof(err)); /* sees the files, numbers new ones after them */
	spool_close(s);
	s = s2;
	struct conso_row good[3] = { row_of("G", 0, 0), row_of("G", 1, 10), row_of("G", 2, 20) };
	CHECK(spool_write(s, good, 3, err, sizeof(err)) == 0, "good file: %s", err);

	int rc = spool_read_oldest(s, &rows, &n, name, sizeof(name), err, sizeof(err));
	CHECK(rc == SPOOL_READ_SET_ASIDE && strstr(err, "not a regular file: set aside as") && exists_in(rdir, "00000000000000000001.rows.bad")
		&& !exists_in(rdir, "00000000000000000001.rows"), "FIFO set aside: %d %s", rc, err);
	rc = spool_read_oldest(s, &rows, &n, name, sizeof(name), err, sizeof(err));
	CHECK(rc == SPOOL_READ_SET_ASIDE && strstr(err, ".rows.bad.1") && exists_in(rdir, "00000000000000000002.rows.bad/keep")
		&& exists_in(rdir, "00000000000000000002.rows.bad.1/keep"), "directory set aside, not over the earlier .bad: %d %s", rc, err);
	rc = spool_read_oldest(s, &rows, &n, name, sizeof(name), err, sizeof(err));
	CHECK(rc == SPOOL_READ_SET_ASIDE && strstr(err, "damaged at line 1") && strstr(err, "skipped until the next start")
		&& exists_in(rdir, "00000000000000000003.rows"), "damaged file that cannot be set aside: skipped: %d %s", rc, err);

	/* No file descriptor left: the spool cannot be listed for now. */
	struct rlimit was, none;
	getrlimit(RLIMIT_NOFILE, &was);
	none = was;
	none.rlim_cur = (rlim_t)dup(0); /* the lowest free number: none from there on */
	close((int)none.rlim_cur);
	setrlimit(RLIMIT_NOFILE, &none);
	rc = spool_read_oldest(s, &rows, &n, name, sizeof(name), err, sizeof(err));
	setrlimit(RLIMIT_NOFILE, &was);
	CHECK(rc == SPOOL_READ_LATER && strstr(err, "Too many open files"), "no descriptor: later: %d %s", rc, err);

	/* The good file, then nothing: the skipped file stays where it is. */
	rc = spool_read_oldest(s, &rows, &n, name, sizeof(name), err, sizeof(err));
	CHECK(rc == SPOOL_READ_ROWS && n == 3 && strcmp(name, "00000000000000000004.rows") == 0
		&& memcmp(rows, good, sizeof(good)) == 0, "good file after them: %d %zu %s", rc, n, name);
	if (rc == SPOOL_READ_ROWS)
		free(rows);
	/* A replayed file that cannot be removed (here: a directory put in its
	 * place) is skipped too. */
	snprintf(path, sizeof(path), "%s/%s", rdir, name);
	unlink(path);
	make_in(rdir, name, true);
	CHECK(spool_remove(s, name, err, sizeof(err)) != 0 && strstr(err, "skipped until the next start"), "unremovable: %s", err);
	CHECK(spool_read_oldest(s, &rows, &n, name, sizeof(name), err, sizeof(err)) == SPOOL_READ_EMPTY, "nothing left to replay");

	/* New rows after the skipped files are replayed; the next start tries
	 * the skipped ones again. */
	CHECK(spool_write(s, good, 1, err, sizeof(err)) == 0, "new file: %s", err);
	rc = spool_read_oldest(s, &rows, &n, name, sizeof(name), err, sizeof(err));
	CHECK(rc == SPOOL_READ_ROWS && n == 1, "a new file is replayed: %d", rc);
	if (rc == SPOOL_READ_ROWS) {
		free(rows);
		CHECK(spool_remove(s, name, err, sizeof(err)) == 0, "removed: %s", err);
	}
	spool_close(s);
	s = spool_open(rdir, SIZE_MAX, 0, err, sizeof(err));
	rc = spool_read_oldest(s, &rows, &n, name, sizeof(name), err, sizeof(err));
	CHECK(rc == SPOOL_READ_SET_ASIDE && strstr(err, "00000000000000000003.rows is damaged"), "after a restart the skipped file is tried again: %d %s", rc, err);

	/* A spool directory gone (or not listable): later, nothing set aside. */
	char moved[300];
	snprintf(moved, sizeof(moved), "%s.moved", rdir);
	rename(rdir, moved);
	rc = spool_read_oldest(s, &rows, &n, name, sizeof(name), err, sizeof(err));
	rename(moved, rdir);
	CHECK(rc == SPOOL_READ_LATER && strstr(err, "cannot list"), "unlistable: later: %d %s", rc, err);
	spool_close(s);
	CHECK(system(cmd) == 0, "clean %s", rdir);
}

static void fresh_dir(void)
{
	remove_dir();
	mkdir(dir, 0700);
	chmod(dir, 0700);
}

static int mode_of(const char *name)
{
	char path[512];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return lstat(path, &st) == 0 ? (int)(st.st_mode & 07777) : -1;
}

/* A durable line of meter serial whose row starts `ago` seconds before now
 * (rounded to its quarter). */
static void durable_line_ago(char *buf, size_t len, const char *serial, int64_t ago)
{
	int64_t start = ((int64_t)time(NULL) - ago) / 900 * 900;
	snprintf(buf, len, "%s %" PRId64 " 1 2 3 4 0 0 0 0 0 0 0\n", serial, start);
}

/* Meters silent past the limit are forgotten at start-up and at each
 * compaction, in the files as well as in memory; at start-up, beyond
 * max_meters, so are the least recently heard. */
static void forgetting(void)
{
	char err[1200], text[1024], line[128];
	const int64_t day = 86400, limit = 90 * day;
	fresh_dir();
	durable_line_ago(text, sizeof(text), "OLD", 100 * day);
	durable_line_ago(line, sizeof(line), "NEW", day);
	strcat(text, line);
	write_text("meters.state", text);
	durable_line_ago(text, sizeof(text), "MID", 60 * day);
	durable_line_ago(line, sizeof(line), "OLD2", 91 * day);
	strcat(text, line);
	write_text("meters.journal", text);
	struct spool *s = spool_open(dir, SIZE_MAX, limit, err, sizeof(err));
	struct seen seen = { 0 };
	if (s)
		spool_each_last(s, collect, &seen);
	CHECK(s && spool_meters(s) == 2 && spool_forgotten(s) == 2 && find(&seen, "NEW") && find(&seen, "MID"),
		"silent 100 and 91 days: forgotten, %zu meters left", seen.n);
	seen = reopen_and_collect(&s);
	CHECK(s && seen.n == 2 && !find(&seen, "OLD") && !find(&seen, "OLD2") && file_size("meters.journal") == 0,
		"forgotten in the files too: %zu meters", seen.n);

	/* Compaction forgets too: a meter whose newest row is 95 days old (a
	 * late replay, say) is dropped once the journal is compacted. */
	spool_close(s);
	s = spool_open(dir, SIZE_MAX, limit, err, sizeof(err));
	struct conso_row stale = row_of("STALE", 0, 0);
	stale.q.start_s = ((int64_t)time(NULL) - 95 * day) / 900 * 900;
	CHECK(s && spool_journal(s, &stale, 1, err, sizeof(err)) == 0 && spool_meters(s) == 3, "stale row journaled");
	struct conso_row many[500];
	for (int k = 0; k < 10 && file_size("meters.journal") != 0; k++) {
		for (int i = 0; i < 500; i++)
			many[i] = row_of("NEW", k * 500 + i, i);
		for (int i = 0; i < 500; i++)
			many[i].q.start_s = ((int64_t)time(NULL) - day) / 900 * 900 + (k * 500 + i) * 900;
		spool_journal(s, many, 500, err, sizeof(err));
	}
	CHECK(file_size("meters.journal") == 0 && spool_meters(s) == 2, "compacted: %zu meters", spool_meters(s));
	seen = reopen_and_collect(&s);
	CHECK(s && seen.n == 2 && !find(&seen, "STALE"), "STALE forgotten by the compaction");
	spool_close(s);

	/* Beyond max_meters, the least recently heard go; among meters heard
	 * at the same time, as many as fit stay. */
	fresh_dir();
	text[0] = '\0';
	const char *serials[] = { "A", "B", "C", "D", "E" };
	const int64_t ago[] = { 5 * 900, 900, 900, 900, 10 * 900 };
	for (int i = 0; i < 5; i++) {
		durable_line_ago(line, sizeof(line), serials[i], ago[i]);
		strcat(text, line);
	}
	write_text("meters.journal", text);
	s = spool_open(dir, 2, limit, err, sizeof(err));
	seen = (struct seen){ 0 };
	if (s)
		spool_each_last(s, collect, &seen);
	int newest = (find(&seen, "B") != NULL) + (find(&seen, "C") != NULL) + (find(&seen, "D") != NULL);
	CHECK(s && seen.n == 2 && newest == 2 && spool_forgotten(s) == 3, "max_meters 2: %zu kept, %d of the newest",
		seen.n, newest);
	spool_close(s);
}

/* Modes whatever the umask, leftovers, the directory's owner and mode,
 * symbolic links planted in the directory. */
static void file_safety(void)
{
	char err[1200], name[256], line[128];
	struct spool *s;
	fresh_dir();

	/* Created 0600 even under umask 0; an older file's mode is mended. */
	mode_t old_umask = umask(0);
	write_text("meters.journal", "");
	write_text("rejected.rows", "");
	chmod(dir, 0700);
	char path[512];
	snprintf(path, sizeof(path), "%s/meters.journal", dir);
	chmod(path, 0644);
	snprintf(path, sizeof(path), "%s/rejected.rows", dir);
	chmod(path, 0666);
	durable_line_ago(line, sizeof(line), "OLD", 200 * 86400); /* forgotten: meters.state is written */
	write_text("meters.journal", line);
	s = spool_open(dir, SIZE_MAX, 90 * 86400, err, sizeof(err));
	CHECK(s != NULL, "open: %s", err);
	struct conso_row r = row_of("M", 1, 1);
	struct meter_set live;
	meter_set_init(&live, 4, 0);
	bool created;
	meter_set_take(&live, "M", T0 * 1000, &created)->quarters.last_ms = T0 * 1000;
	CHECK(spool_write(s, &r, 1, err, sizeof(err)) == 0 && spool_set_aside(s, &r, err, sizeof(err)) == 0
		&& spool_journal(s, &r, 1, err, sizeof(err)) == 0 && spool_save_live(s, &live, err, sizeof(err)) == 0,
		"writes: %s", err);
	meter_set_free(&live);
	umask(old_umask);
	const char *files[] = { "meters.journal", "meters.state", "meters.live", "rejected.rows", "00000000000000000001.rows" };
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		CHECK(mode_of(files[i]) == 0600, "%s is 0600 under umask 0: %o", files[i], mode_of(files[i]));
	spool_close(s);

	/* Leftover temporary files are removed at start-up, nothing else. */
	write_text("00000000000000000007.rows.tmp", "half a");
	write_text("meters.state.tmp", "half a");
	write_text("meters.live.tmp", "half a");
	s = spool_open(dir, SIZE_MAX, 0, err, sizeof(err));
	CHECK(s && file_size("00000000000000000007.rows.tmp") == -1 && file_size("meters.state.tmp") == -1
		&& file_size("meters.live.tmp") == -1 && file_size("00000000000000000001.rows") > 0, "leftovers removed");
	CHECK(err[0] == '\0', "a 0700 directory of the broker's user: no warning (%s)", err);
	spool_close(s);

	/* The directory's mode and owner. */
	chmod(dir, 0755);
	s = spool_open(dir, SIZE_MAX, 0, err, sizeof(err));
	CHECK(s && strstr(err, "mode 755: every user can read it") && strstr(err, "chmod 700"), "world-readable: %s", err);
	spool_close(s);
	chmod(dir, 0770);
	s = spool_open(dir, SIZE_MAX, 0, err, sizeof(err));
	CHECK(s && strstr(err, "mode 770: its group can write into it"), "group-writable: %s", err);
	spool_close(s);
	chmod(dir, 0700);
	if (geteuid() == 0 && chown(dir, 65534, 65534) == 0) {
		s = spool_open(dir, SIZE_MAX, 0, err, sizeof(err));
		CHECK(s && strstr(err, "owned by uid 65534, not by the broker's user (uid 0)"), "another owner: %s", err);
		spool_close(s);
		CHECK(chown(dir, 0, 0) == 0, "owner back");
	}

	/* Symbolic links planted in the directory are refused, never followed. */
	char target[300];
	snprintf(target, sizeof(target), "%s-target", dir);
	FILE *f = fopen(target, "w");
	durable_line_ago(line, sizeof(line), "EVIL", 900);
	fputs(line, f);
	fclose(f);
	struct stat before;
	stat(target, &before);
	const char *links[] = { "meters.journal", "meters.state" };
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, links[i]);
		rename(path, "/tmp/lowi-test-spool-aside");
		CHECK(symlink(target, path) == 0, "link planted");
		s = spool_open(dir, SIZE_MAX, 0, err, sizeof(err));
		CHECK(s == NULL && strstr(err, "symbolic link, refused"), "%s as a link: %s", links[i], err);
		spool_close(s);
		unlink(path);
		rename("/tmp/lowi-test-spool-aside", path);
	}
	s = spool_open(dir, SIZE_MAX, 0, err, sizeof(err));
	snprintf(path, sizeof(path), "%s/meters.live", dir);
	unlink(path);
	CHECK(symlink(target, path) == 0, "link planted");
	struct restored got = { 0 };
	CHECK(spool_take_live(s, restored, &got, err, sizeof(err)) == -1 && got.n == 0 && strstr(err, "symbolic link"),
		"meters.live as a link: %s", err);
	unlink(path);
	snprintf(path, sizeof(path), "%s/rejected.rows", dir);
	unlink(path);
	CHECK(symlink(target, path) == 0, "link planted");
	CHECK(spool_set_aside(s, &r, err, sizeof(err)) == -1 && strstr(err, "symbolic link"), "rejected.rows as a link: %s", err);
	unlink(path);
	struct conso_row *rows = NULL;
	size_t n;
	struct spool *t = s;
	/* The oldest spool file is a link: not read through. */
	snprintf(path, sizeof(path), "%s/00000000000000000000.rows", dir);
	CHECK(symlink(target, path) == 0, "link planted");
	int rc = spool_read_oldest(t, &rows, &n, name, sizeof(name), err, sizeof(err));
	CHECK(rc != 1, "a spool file that is a link is not read: %d, %s", rc, err);
	free(rows);
	unlink(path);
	snprintf(path, sizeof(path), "%s/00000000000000000000.rows.bad", dir);
	unlink(path);
	struct stat after;
	CHECK(stat(target, &after) == 0 && after.st_size == before.st_size, "the link's target untouched");
	unlink(target);
	spool_close(s);
}

/* Faults: a journal append cut short, memory short while reading a spool
 * file, and the directory synced once the journal exists. */
static void faults(void)
{
	char err[1200], name[256];
	fresh_dir();
	dir_syncs_after_journal = 0;
	struct spool *s = spool_open(dir, SIZE_MAX, 0, err, sizeof(err));
	CHECK(s && dir_syncs_after_journal > 0, "directory synced after creating the journal: %d", dir_syncs_after_journal);

	/* A journal append that fails half-way is cut back to where it began,
	 * so the next line does not join a torn one. */
	struct conso_row first = row_of("A", 1, 100);
	CHECK(spool_journal(s, &first, 1, err, sizeof(err)) == 0, "journal: %s", err);
	long before = file_size("meters.journal");
	struct conso_row batch[20];
	for (int i = 0; i < 20; i++)
		batch[i] = row_of("T", 2 + i, 100 * i);
	signal(SIGXFSZ, SIG_IGN);
	struct rlimit lim, saved;
	getrlimit(RLIMIT_FSIZE, &saved);
	lim = saved;
	lim.rlim_cur = (rlim_t)before + 100;
	setrlimit(RLIMIT_FSIZE, &lim);
	int rc = spool_journal(s, batch, 20, err, sizeof(err));
	setrlimit(RLIMIT_FSIZE, &saved);
	CHECK(rc == -1 && file_size("meters.journal") == before, "failed append cut back: %ld bytes, was %ld (%s)",
		file_size("meters.journal"), before, err);
	struct conso_row next = row_of("U", 30, 500);
	CHECK(spool_journal(s, &next, 1, err, sizeof(err)) == 0, "next append: %s", err);
	struct seen seen = reopen_and_collect(&s);
	CHECK(find(&seen, "U") && resumes_from(find(&seen, "U"), &next) && find(&seen, "A"),
		"the next line stands on its own");

	/* Out of memory while reading a spool file: the good file stays. */
	struct conso_row rows[3] = { row_of("B", 1, 1), row_of("B", 2, 2), row_of("B", 3, 3) };
	CHECK(spool_write(s, rows, 3, err, sizeof(err)) == 0, "spool write: %s", err);
	struct conso_row *back = NULL;
	size_t n = 0;
	fail_realloc = true;
	rc = spool_read_oldest(s, &back, &n, name, sizeof(name), err, sizeof(err));
	fail_realloc = false;
	char bad[300];
	snprintf(bad, sizeof(bad), "%s.bad", name);
	CHECK(rc == SPOOL_READ_LATER && back == NULL && strstr(err, "out of memory") && file_size(name) > 0 && file_size(bad) == -1,
		"out of memory: %d, file %ld bytes, .bad %ld (%s)", rc, file_size(name), file_size(bad), err);
	rc = spool_read_oldest(s, &back, &n, name, sizeof(name), err, sizeof(err));
	CHECK(rc == 1 && n == 3 && memcmp(back, rows, sizeof(rows)) == 0, "read whole on the next try: %d, %zu rows", rc, n);
	free(back);
	spool_close(s);
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
	struct spool *s = spool_open(dir, SIZE_MAX, 0, err, sizeof(err));
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

	replay_faults();

	spool_close(s);

	forgetting();
	file_safety();
	faults();
	remove_dir();
	return check_finish("spool");
}
