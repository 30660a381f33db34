/*
 * Spool files and the meter journal; see spool.h.
 * Text lines, one row each, so an operator can read them:
 *   serial start_s in_d in_n out_d out_n import export gas water gas_idx water_idx flags
 * (energies in Wh and litres; flags: 1 has gas, 2 has water, 4 estimated).
 */
#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define JOURNAL "meters.journal"
#define STATE "meters.state"
#define LINE_MAX_BYTES 400

/* What a meter resumes from (quarters_resume): the end of its last durable
 * row. The row's energies and estimated flag are not needed for that, so
 * they are not kept, which makes an entry 96 bytes instead of a whole
 * conso_row. */
struct durable {
	char serial[LOWI_SERIAL_MAX + 1];
	bool has_gas, has_water;
	int64_t start_s;
	int64_t in_d, in_n, out_d, out_n, gas_index_l, water_index_l;
};

struct spool {
	char dir[1024];
	uint64_t next_seq;
	int journal_fd;
	size_t journal_lines;
	struct meters_table last; /* serial -> struct durable: resume and compaction source */
	/* Replay: spool files numbered below this were found unreadable or
	 * unremovable and could not be set aside; they are skipped until the
	 * next start. New files are always numbered above every file seen. */
	uint64_t replay_floor;
	size_t max_meters;        /* kept at spool_open: the most recently heard */
	int64_t silence_s;        /* meters silent longer are forgotten; 0: never */
	size_t forgotten;         /* by spool_open */
};

/* Keeps row as the meter's last durable row unless a newer one is known. */
static void note_durable(struct meters_table *last, const struct conso_row *r)
{
	bool created;
	struct durable *d = meters_get(last, r->serial, &created);
	if (d == NULL || (!created && r->q.start_s < d->start_s))
		return;
	const struct quarter_row *q = &r->q;
	d->has_gas = q->has_gas;
	d->has_water = q->has_water;
	d->start_s = q->start_s;
	d->in_d = q->import_day_wh;
	d->in_n = q->import_night_wh;
	d->out_d = q->export_day_wh;
	d->out_n = q->export_night_wh;
	d->gas_index_l = q->gas_index_l;
	d->water_index_l = q->water_index_l;
}

/* The durable entry as a row: indexes and flags, energies zero. */
static void durable_row(const struct durable *d, struct conso_row *r)
{
	memset(r, 0, sizeof(*r));
	memcpy(r->serial, d->serial, sizeof(r->serial));
	struct quarter_row *q = &r->q;
	q->has_gas = d->has_gas;
	q->has_water = d->has_water;
	q->start_s = d->start_s;
	q->import_day_wh = d->in_d;
	q->import_night_wh = d->in_n;
	q->export_day_wh = d->out_d;
	q->export_night_wh = d->out_n;
	q->gas_index_l = d->gas_index_l;
	q->water_index_l = d->water_index_l;
}

static int spool_fail_errno(char *err, size_t errlen, const char *what, const char *path)
{
	/* O_NOFOLLOW's refusal, in words an operator can act on. */
	snprintf(err, errlen, "%s %s: %s", what, path, errno == ELOOP ? "it is a symbolic link, refused (remove it)" : strerror(errno));
	return -1;
}

/* Every file of the spool is opened without following a symbolic link at
 * its own name: a link planted in the directory is refused (ELOOP), not
 * read or written through. A file this opens for writing is made 0600,
 * whatever the umask and whatever mode an older file had (unless it is
 * another user's: spool_open warns about such a directory). */
static int open_file(const char *path, int flags)
{
	int fd = open(path, flags | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd >= 0 && (flags & O_ACCMODE) != O_RDONLY)
		(void)fchmod(fd, 0600);
	return fd;
}

static FILE *fopen_file(const char *path, int flags, const char *mode)
{
	int fd = open_file(path, flags);
	FILE *f = fd < 0 ? NULL : fdopen(fd, mode);
	if (fd >= 0 && f == NULL)
		close(fd);
	return f;
}

static int format_row(const struct conso_row *r, char *buf, size_t len)
{
	const struct quarter_row *q = &r->q;
	return snprintf(buf, len, "%s %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64
		" %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %d\n",
		r->serial, q->start_s, q->import_day_wh, q->import_night_wh, q->export_day_wh, q->export_night_wh,
		q->import_wh, q->export_wh, q->gas_l, q->water_l, q->gas_index_l, q->water_index_l,
		q->has_gas | q->has_water << 1 | q->estimated << 2);
}

static bool parse_row(const char *line, struct conso_row *r)
{
	struct quarter_row *q = &r->q;
	int flags, used = 0;
	memset(r, 0, sizeof(*r));
	if (sscanf(line, "%32s %" SCNd64 " %" SCNd64 " %" SCNd64 " %" SCNd64 " %" SCNd64 " %" SCNd64 " %" SCNd64
			" %" SCNd64 " %" SCNd64 " %" SCNd64 " %" SCNd64 " %d%n",
			r->serial, &q->start_s, &q->import_day_wh, &q->import_night_wh, &q->export_day_wh, &q->export_night_wh,
			&q->import_wh, &q->export_wh, &q->gas_l, &q->water_l, &q->gas_index_l, &q->water_index_l, &flags, &used) != 13)
		return false;
	if (line[used] != '\n' && line[used] != '\0')
		return false;
	q->has_gas = flags & 1;
	q->has_water = (flags >> 1) & 1;
	q->estimated = (flags >> 2) & 1;
	return q->start_s % QUARTER_S == 0;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

static int sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	close(fd);
	return rc;
}

/* Lines for write_file: formats the i-th line into buf and returns its
 * length, or -1 past the last one. */
typedef int (*line_fn)(void *ctx, size_t i, char *buf, size_t len);

/* Writes the lines to path via a temporary file, atomically and durably,
 * through a buffer of fixed size whatever the number of lines. */
static int write_file(struct spool *s, const char *path, line_fn line, void *ctx, char *err, size_t errlen)
{
	char tmp[1100];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	/* A new file: whatever had the name (a link, another file's inode) is
	 * neither written through nor kept. */
	unlink(tmp);
	int fd = open_file(tmp, O_WRONLY | O_CREAT | O_EXCL);
	if (fd < 0)
		return spool_fail_errno(err, errlen, "cannot create", tmp);
	char buf[64 * 1024];
	size_t used = 0;
	bool ok = true;
	for (size_t i = 0; ok; i++) {
		int len = line(ctx, i, buf + used, sizeof(buf) - used);
		if (len >= 0 && (size_t)len < sizeof(buf) - used) {
			used += (size_t)len;
			continue;
		}
		/* Last line, or no room left for this one: flush, then retry it. */
		ok = write_all(fd, buf, used) == 0;
		used = 0;
		if (len < 0)
			break;
		i--;
	}
	if (!ok) {
		spool_fail_errno(err, errlen, "cannot write", tmp);
		close(fd);
		unlink(tmp);
		return -1;
	}
	if (fsync(fd) != 0 || close(fd) != 0) {
		spool_fail_errno(err, errlen, "cannot sync", tmp);
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, path) != 0 || sync_dir(s->dir) != 0) {
		spool_fail_errno(err, errlen, "cannot commit", path);
		unlink(tmp);
		return -1;
	}
	return 0;
}

struct rows_lines {
	const struct conso_row *rows;
	size_t n;
};

static int rows_line(void *ctx, size_t i, char *buf, size_t len)
{
	const struct rows_lines *r = ctx;
	return i < r->n ? format_row(&r->rows[i], buf, len) : -1;
}

static int durable_line(void *ctx, size_t i, char *buf, size_t len)
{
	const struct durable *d = meters_slot(ctx, i);
	if (d == NULL)
		return -1;
	struct conso_row r;
	durable_row(d, &r);
	return format_row(&r, buf, len);
}

static bool spool_name(const char *name, uint64_t *seq)
{
	char *end;
	unsigned long long v = strtoull(name, &end, 10);
	if (end == name || strcmp(end, ".rows") != 0)
		return false;
	*seq = v;
	return true;
}

/* Oldest spool file (not skipped by the replay), and the next sequence
 * number. */
static int scan(struct spool *s, char *oldest, size_t len, size_t *files)
{
	DIR *d = opendir(s->dir);
	if (d == NULL)
		return -1;
	uint64_t min = UINT64_MAX;
	struct dirent *e;
	*files = 0;
	while ((e = readdir(d)) != NULL) {
		uint64_t seq;
		if (!spool_name(e->d_name, &seq))
			continue;
		(*files)++;
		if (seq < min && (oldest == NULL || seq >= s->replay_floor)) {
			min = seq;
			if (oldest)
				snprintf(oldest, len, "%s", e->d_name);
		}
		if (seq >= s->next_seq)
			s->next_seq = seq + 1;
	}
	closedir(d);
	return min == UINT64_MAX ? 0 : 1;
}

/* *torn: the file ends in a line without its newline (crash mid-append). */
static long load_file(const char *path, struct meters_table *last, bool *torn)
{
	*torn = false;
	FILE *f = fopen_file(path, O_RDONLY, "r");
	if (f == NULL)
		return errno == ENOENT ? 0 : -1;
	char line[LINE_MAX_BYTES];
	struct conso_row r;
	while (fgets(line, sizeof(line), f) != NULL) {
		/* A torn last line of the journal (crash mid-append) is skipped. */
		*torn = strchr(line, '\n') == NULL;
		if (parse_row(line, &r))
			note_durable(last, &r);
	}
	fclose(f);
	return 0;
}

/* The spool holds every meter's indexes and the rows the database has not
 * got yet: only the broker's user should read or write it. A warning for
 * err when anyone else can; "" otherwise. */
static void check_dir(const char *dir, char *err, size_t errlen)
{
	struct stat st;
	*err = '\0';
	if (stat(dir, &st) != 0)
		return;
	size_t used = 0;
	if (st.st_uid != geteuid())
		used += (size_t)snprintf(err, errlen, "spool directory %s is owned by uid %u, not by the broker's user (uid %u)",
			dir, (unsigned)st.st_uid, (unsigned)geteuid());
	if ((st.st_mode & 077) != 0 && used < errlen)
		used += (size_t)snprintf(err + used, errlen - used, "%sspool directory %s has mode %03o: %s can %s it", used ? "; " : "",
			dir, (unsigned)(st.st_mode & 0777), st.st_mode & 007 ? "every user" : "its group",
			st.st_mode & 022 ? "write into" : "read");
	if (used > 0 && used < errlen)
		snprintf(err + used, errlen - used, " (chown it to the broker's user and chmod 700 it)");
}

/* What a crash or a killed write left: a temporary file is never a
 * complete one (write_file renames it once it is). */
static void remove_leftovers(const char *dir)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		if (len > 4 && strcmp(e->d_name + len - 4, ".tmp") == 0)
			unlinkat(dirfd(d), e->d_name, 0);
	}
	closedir(d);
}

struct forget_rule {
	int64_t before_s; /* entries whose row starts earlier go */
	int64_t tie_s;    /* and `ties` of those starting at tie_s */
	size_t ties;
};

static bool forget_durable(void *ctx, const void *entry)
{
	struct forget_rule *r = ctx;
	const struct durable *d = entry;
	if (d->start_s < r->before_s)
		return true;
	if (d->start_s == r->tie_s && r->ties > 0) {
		r->ties--;
		return true;
	}
	return false;
}

static int newest_first(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? 1 : x > y ? -1 : 0;
}

/* Forgets the meters not heard for longer than silence_s (the end of a
 * meter's last durable row stands for its last reading, as it does for
 * quarters_resume) and, when cap is set, the least recently heard beyond
 * max_meters. Returns how many. */
static size_t forget_meters(struct spool *s, bool cap)
{
	struct forget_rule r = { INT64_MIN, INT64_MIN, 0 };
	if (s->silence_s > 0)
		r.before_s = (int64_t)time(NULL) - s->silence_s - QUARTER_S;
	size_t forgotten = meters_remove_if(&s->last, forget_durable, &r);
	size_t n = s->last.count;
	int64_t *starts = cap && n > s->max_meters ? malloc(n * sizeof(*starts)) : NULL;
	if (starts == NULL)
		return forgotten;
	for (size_t i = 0; i < n; i++)
		starts[i] = ((const struct durable *)meters_slot(&s->last, i))->start_s;
	qsort(starts, n, sizeof(*starts), newest_first);
	/* Keep the max_meters newest: all newer than the last one kept, and
	 * as many of its equals as fit. */
	r.before_s = r.tie_s = starts[s->max_meters - 1];
	for (size_t i = s->max_meters; i < n && starts[i] == r.tie_s; i++)
		r.ties++;
	free(starts);
	return forgotten + meters_remove_if(&s->last, forget_durable, &r);
}

static int compact(struct spool *s, char *err, size_t errlen);

struct spool *spool_open(const char *dir, size_t max_meters, int64_t silence_s, char *err, size_t errlen)
{
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		spool_fail_errno(err, errlen, "cannot create the spool directory", dir);
		return NULL;
	}
	if (access(dir, R_OK | W_OK | X_OK) != 0) {
		spool_fail_errno(err, errlen, "cannot write into the spool directory", dir);
		return NULL;
	}
	struct spool *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->journal_fd = -1;
	snprintf(s->dir, sizeof(s->dir), "%s", dir);
	s->next_seq = 1;
	s->max_meters = max_meters > 0 ? max_meters : 1;
	s->silence_s = silence_s;
	remove_leftovers(dir);
	size_t files;
	scan(s, NULL, 0, &files);
	meters_init(&s->last, sizeof(struct durable), SIZE_MAX);
	char path[1100];
	snprintf(path, sizeof(path), "%s/" STATE, dir);
	bool torn;
	long rc = load_file(path, &s->last, &torn);
	snprintf(path, sizeof(path), "%s/" JOURNAL, dir);
	if (rc != 0 || load_file(path, &s->last, &torn) != 0) {
		spool_fail_errno(err, errlen, "cannot read the meter journal in", dir);
		spool_close(s);
		return NULL;
	}
	s->journal_lines = s->last.count;
	s->journal_fd = open_file(path, O_WRONLY | O_CREAT | O_APPEND);
	/* The directory entry of a journal just created is made durable too;
	 * a torn line is ended, or the next line appended would join it and
	 * be skipped with it at the next start. */
	if (s->journal_fd < 0 || sync_dir(dir) != 0
		|| (torn && (write_all(s->journal_fd, "\n", 1) != 0 || fdatasync(s->journal_fd) != 0))) {
		spool_fail_errno(err, errlen, "cannot open", path);
		spool_close(s);
		return NULL;
	}
	check_dir(dir, err, errlen);
	s->forgotten = forget_meters(s, true);
	char compact_err[1200];
	if (s->forgotten > 0 && compact(s, compact_err, sizeof(compact_err)) != 0) {
		/* They come back at the next start, to be forgotten again. */
		size_t used = strlen(err);
		snprintf(err + used, errlen - used, "%s%s", used ? "; " : "", compact_err);
	}
	return s;
}

void spool_close(struct spool *s)
{
	if (s == NULL)
		return;
	if (s->journal_fd >= 0)
		close(s->journal_fd);
	meters_free(&s->last);
	free(s);
}

int spool_write(struct spool *s, const struct conso_row *rows, size_t n, char *err, size_t errlen)
{
	char path[1100];
	snprintf(path, sizeof(path), "%s/%020" PRIu64 ".rows", s->dir, s->next_seq);
	struct rows_lines lines = { rows, n };
	if (write_file(s, path, rows_line, &lines, err, errlen) != 0)
		return -1;
	s->next_seq++;
	return 0;
}

size_t spool_files(struct spool *s)
{
	size_t files = 0;
	scan(s, NULL, 0, &files);
	return files;
}

/* Errors that say nothing about the file itself: try again later. */
static bool transient(int err)
{
	return err == EMFILE || err == ENFILE || err == ENOMEM || err == ENOBUFS || err == EAGAIN || err == EINTR;
}

/* Replay skips the file `name` (and any older one left) until the next start. */
static void skip_file(struct spool *s, const char *name)
{
	uint64_t seq;
	if (spool_name(name, &seq) && seq >= s->replay_floor)
		s->replay_floor = seq + 1;
}

/* Renames an unreadable spool file to <name>.bad, or <name>.bad.1 ... when
 * that name is taken (never over an earlier one), so that replay goes on
 * with the next file; when no rename works, skips it until the next start.
 * err: one line saying what was wrong (why) and what became of the file. */
static int set_aside_file(struct spool *s, const char *name, const char *why, char *err, size_t errlen)
{
	char path[1100], aside[1200];
	snprintf(path, sizeof(path), "%s/%s", s->dir, name);
	int rename_errno = 0;
	for (int i = 0; i < 10; i++) {
		if (i == 0)
			snprintf(aside, sizeof(aside), "%s.bad", path);
		else
			snprintf(aside, sizeof(aside), "%s.bad.%d", path, i);
		int rc = renameat2(AT_FDCWD, path, AT_FDCWD, aside, RENAME_NOREPLACE);
		if (rc != 0 && errno == EINVAL) {
			/* A file system without RENAME_NOREPLACE. */
			struct stat st;
			if (lstat(aside, &st) == 0) {
				errno = EEXIST;
				rc = -1;
			} else {
				rc = rename(path, aside);
			}
		}
		if (rc == 0) {
			sync_dir(s->dir);
			snprintf(err, errlen, "spool file %s %s: set aside as %s", path, why, aside);
			return SPOOL_READ_SET_ASIDE;
		}
		rename_errno = errno;
		if (errno != EEXIST && errno != ENOTEMPTY && errno != EISDIR && errno != ENOTDIR)
			break;
	}
	skip_file(s, name);
	snprintf(err, errlen, "spool file %s %s, and cannot be set aside as %s (%s): skipped until the next start",
		path, why, aside, strerror(rename_errno));
	return SPOOL_READ_SET_ASIDE;
}

int spool_read_oldest(struct spool *s, struct conso_row **rows, size_t *n, char *name, size_t namelen, char *err, size_t errlen)
{
	size_t files;
	*rows = NULL;
	*n = 0;
	int found = scan(s, name, namelen, &files);
	if (found < 0) {
		spool_fail_errno(err, errlen, "cannot list", s->dir);
		return SPOOL_READ_LATER;
	}
	if (found == 0)
		return SPOOL_READ_EMPTY;
	char path[1100], why[300];
	snprintf(path, sizeof(path), "%s/%s", s->dir, name);
	/* O_NONBLOCK: opening a FIFO must not wait for a writer. */
	int fd = open_file(path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		if (transient(errno)) {
			spool_fail_errno(err, errlen, "cannot open", path);
			return SPOOL_READ_LATER;
		}
		if (errno == ENOENT) /* gone since the listing: look again */
			return spool_read_oldest(s, rows, n, name, namelen, err, errlen);
		snprintf(why, sizeof(why), "cannot be opened (%s)", strerror(errno));
		return set_aside_file(s, name, why, err, errlen);
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return set_aside_file(s, name, "is not a regular file", err, errlen);
	}
	FILE *f = fdopen(fd, "r");
	if (f == NULL) { /* out of memory */
		spool_fail_errno(err, errlen, "cannot read", path);
		close(fd);
		return SPOOL_READ_LATER;
	}
	size_t cap = 0, lineno = 0;
	char line[LINE_MAX_BYTES];
	*why = '\0';
	bool later = false;
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if (*n == cap) {
			cap = cap ? cap * 2 : 256;
			struct conso_row *r = realloc(*rows, cap * sizeof(**rows));
			if (r == NULL) {
				later = true;
				break;
			}
			*rows = r;
		}
		if (!parse_row(line, &(*rows)[*n])) {
			snprintf(why, sizeof(why), "is damaged at line %zu", lineno);
			break;
		}
		(*n)++;
	}
	if (!later && !*why && ferror(f)) {
		if (transient(errno))
			later = true;
		else
			snprintf(why, sizeof(why), "cannot be read after line %zu (%s)", lineno, strerror(errno));
	}
	fclose(f);
	if (later || *why) {
		size_t read = *n;
		free(*rows);
		*rows = NULL;
		*n = 0;
		if (later) {
			/* The file is good: it is read again on a later try. */
			snprintf(err, errlen, "out of memory reading spool file %s (after %zu rows): left for a later try", path, read);
			return SPOOL_READ_LATER;
		}
		return set_aside_file(s, name, why, err, errlen);
	}
	return SPOOL_READ_ROWS;
}

int spool_remove(struct spool *s, const char *name, char *err, size_t errlen)
{
	char path[1100];
	snprintf(path, sizeof(path), "%s/%s", s->dir, name);
	if (unlink(path) != 0 && errno != ENOENT) {
		int e = errno;
		skip_file(s, name);
		snprintf(err, errlen, "cannot remove the replayed file %s (%s): skipped until the next start, which"
			" replays it again", path, strerror(e));
		return -1;
	}
	if (sync_dir(s->dir) != 0)
		return spool_fail_errno(err, errlen, "cannot sync the removal of", path);
	return 0;
}

int spool_set_aside(struct spool *s, const struct conso_row *row, char *err, size_t errlen)
{
	char path[1100], line[LINE_MAX_BYTES];
	snprintf(path, sizeof(path), "%s/rejected.rows", s->dir);
	int fd = open_file(path, O_WRONLY | O_CREAT | O_APPEND);
	if (fd < 0)
		return spool_fail_errno(err, errlen, "cannot open", path);
	int len = format_row(row, line, sizeof(line));
	int rc = write_all(fd, line, (size_t)len) == 0 && fdatasync(fd) == 0 ? 0 : spool_fail_errno(err, errlen, "cannot append to", path);
	close(fd);
	return rc;
}

/* Rewrites meters.state from the newest row of every meter, the meters
 * silent past silence_s forgotten, then empties the journal. A crash in
 * between leaves both files, which load the same (up to the forgotten
 * meters, forgotten again at the next start).
 * The state file keeps the row format; its energies are written as zero
 * since only the indexes are kept (resume reads nothing else). */
static int compact(struct spool *s, char *err, size_t errlen)
{
	forget_meters(s, false);
	char path[1100];
	snprintf(path, sizeof(path), "%s/" STATE, s->dir);
	if (write_file(s, path, durable_line, &s->last, err, errlen) != 0)
		return -1;
	if (ftruncate(s->journal_fd, 0) != 0 || fdatasync(s->journal_fd) != 0)
		return spool_fail_errno(err, errlen, "cannot empty", JOURNAL);
	s->journal_lines = 0;
	return 0;
}

int spool_journal(struct spool *s, const struct conso_row *rows, size_t n, char *err, size_t errlen)
{
	/* One write per buffer-full, so a batch costs one fdatasync. */
	char buf[64 * 1024];
	size_t used = 0;
	struct stat st;
	off_t before = fstat(s->journal_fd, &st) == 0 ? st.st_size : -1;
	bool written = true;
	for (size_t i = 0; i < n; i++) {
		note_durable(&s->last, &rows[i]);
		if (sizeof(buf) - used < LINE_MAX_BYTES) {
			written = written && write_all(s->journal_fd, buf, used) == 0;
			used = 0;
		}
		used += (size_t)format_row(&rows[i], buf + used, LINE_MAX_BYTES);
	}
	written = written && write_all(s->journal_fd, buf, used) == 0;
	int rc = written && fdatasync(s->journal_fd) == 0 ? 0 : spool_fail_errno(err, errlen, "cannot append to", JOURNAL);
	/* A batch written in part (disk full) ends in a torn line, which the
	 * next line appended would join: it is cut back to where it began.
	 * Its rows stay known here, and the next compaction writes them. When
	 * even the cut fails, a compaction now rewrites the journal whole. */
	if (!written && (before < 0 || ftruncate(s->journal_fd, before) != 0)) {
		char cerr[128];
		(void)compact(s, cerr, sizeof cerr);
	}
	s->journal_lines += n;
	if (rc == 0 && s->journal_lines > 4 * s->last.count + 4096)
		rc = compact(s, err, errlen);
	return rc;
}

void spool_each_last(struct spool *s, void (*fn)(void *ctx, const struct conso_row *row), void *ctx)
{
	const struct durable *d;
	for (size_t i = 0; (d = meters_slot(&s->last, i)) != NULL; i++) {
		struct conso_row r;
		durable_row(d, &r);
		fn(ctx, &r);
	}
}

size_t spool_meters(const struct spool *s)
{
	return s->last.count;
}

size_t spool_forgotten(const struct spool *s)
{
	return s->forgotten;
}

#define LIVE "meters.live"

/* A meter of meters.live: "serial record\n", the record (quarter.h) in
 * hexadecimal, so the file stays a text file an operator can read. */
#define LIVE_LINE_BYTES 2048
_Static_assert(LOWI_SERIAL_MAX + 2 * QUARTER_STATE_BYTES + 3 <= LIVE_LINE_BYTES, "a meters.live line fits its buffer");

static void format_live(const struct meter *m, char buf[LIVE_LINE_BYTES])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char rec[QUARTER_STATE_BYTES];
	size_t n = quarter_state_encode(&m->quarters, rec, sizeof(rec));
	size_t used = (size_t)snprintf(buf, LIVE_LINE_BYTES, "%s ", m->serial);
	for (size_t i = 0; i < n; i++) {
		buf[used++] = digits[rec[i] >> 4];
		buf[used++] = digits[rec[i] & 15];
	}
	buf[used++] = '\n';
	buf[used] = '\0';
}

static int hex_digit(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The meter of one line of meters.live. A line of lowi-p1 0.1.0 holds the
 * state as text fields rather than one record: quarter.c reads it too. */
static enum quarter_state_status parse_live(const char *line, struct meter *m)
{
	int used;
	memset(m, 0, sizeof(*m));
	if (sscanf(line, "%32s %n", m->serial, &used) != 1)
		return QUARTER_STATE_SHORT;
	const char *text = line + used;
	size_t len = strcspn(text, "\n");
	if (memchr(text, ' ', len) != NULL)
		return quarter_state_decode_text0(&m->quarters, text);
	unsigned char rec[512];
	if (len % 2 != 0 || len / 2 > sizeof(rec))
		return QUARTER_STATE_INVALID;
	for (size_t i = 0; i < len / 2; i++) {
		int hi = hex_digit(text[2 * i]), lo = hex_digit(text[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return QUARTER_STATE_INVALID;
		rec[i] = (unsigned char)(hi << 4 | lo);
	}
	return quarter_state_decode(&m->quarters, rec, len / 2);
}

int spool_save_live(struct spool *s, const struct meter_set *meters, char *err, size_t errlen)
{
	char path[1100], tmp[1200];
	snprintf(path, sizeof(path), "%s/" LIVE, s->dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	unlink(tmp);
	FILE *f = fopen_file(tmp, O_WRONLY | O_CREAT | O_EXCL, "w");
	if (f == NULL)
		return spool_fail_errno(err, errlen, "cannot create", tmp);
	char line[LIVE_LINE_BYTES];
	const struct meter *m;
	for (size_t i = 0; (m = meter_set_slot(meters, i)) != NULL; i++) {
		if (m->quarters.last_ms > 0) {
			format_live(m, line);
			fputs(line, f);
		}
	}
	bool ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
	ok = fclose(f) == 0 && ok;
	if (!ok || rename(tmp, path) != 0 || sync_dir(s->dir) != 0) {
		unlink(tmp);
		return spool_fail_errno(err, errlen, "cannot write", path);
	}
	return 0;
}

long spool_take_live(struct spool *s, void (*fn)(void *ctx, const struct meter *m), void *ctx, char *err, size_t errlen)
{
	char path[1100];
	snprintf(path, sizeof(path), "%s/" LIVE, s->dir);
	*err = '\0';
	FILE *f = fopen_file(path, O_RDONLY, "r");
	if (f == NULL)
		return errno == ENOENT ? 0 : spool_fail_errno(err, errlen, "cannot read", path);
	char line[LIVE_LINE_BYTES], first[LOWI_SERIAL_MAX + 100] = "";
	struct meter m;
	long n = 0;
	size_t unreadable = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		enum quarter_state_status st = parse_live(line, &m);
		if (st != QUARTER_STATE_OK) {
			if (unreadable++ == 0)
				snprintf(first, sizeof(first), "meter '%s': %s", m.serial, quarter_state_status_name(st));
			continue;
		}
		/* Only a state at least as new as the meter's last durable row. */
		const struct durable *last = meters_find(&s->last, m.serial);
		if (m.quarters.last_ms <= 0 || (last && m.quarters.boundary_s < last->start_s + QUARTER_S))
			continue;
		fn(ctx, &m);
		n++;
	}
	fclose(f);
	/* Used once: a crash later must resume from the journal, not from this. */
	if (unlink(path) != 0 || sync_dir(s->dir) != 0)
		return spool_fail_errno(err, errlen, "cannot remove", path);
	if (unreadable > 0)
		snprintf(err, errlen, "%s: %zu meter states could not be read (first: %s); those meters resume from"
			" their last durable row", path, unreadable, first);
	return n;
}
