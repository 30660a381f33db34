/*
 * The on-disk side of "nothing lost": rows the database could not take yet,
 * and the last durable row of every meter.
 *
 *  - Spool files: <dir>/<sequence>.rows, one per batch of rows the writer
 *    could not commit. Each is written to a temporary name, fsync'd, then
 *    renamed and the directory fsync'd, so a file either holds its whole
 *    batch or does not exist. They are replayed oldest first once MariaDB is
 *    back and removed only after COMMIT. An unreadable file is renamed
 *    *.bad (*.bad.1 ... when that name is taken) and reported, never
 *    deleted; one that cannot be renamed either, or removed after its
 *    replay, is skipped until the next start; one that cannot be read for
 *    want of memory or file descriptors is left as it is, for a later try.
 *  - The meter journal: <dir>/meters.journal (appended, fdatasync'd) and
 *    <dir>/meters.state (its compaction): for each meter, the last row that
 *    is durable (committed or spooled). At start-up each meter resumes from
 *    it, so a crash or restart loses no energy and counts none twice. Both
 *    use the spool files' line format; meters.state is written from what
 *    resume needs (quarter start, indexes, gas/water presence), with the
 *    energies and the estimated flag as zero. A meter not heard for longer
 *    than silence_s is forgotten (dropped from both) at start-up and at
 *    each compaction; at start-up so are the least recently heard beyond
 *    max_meters.
 *
 * Every file lives in the one directory, is created 0600 whatever the
 * umask, and is opened with O_NOFOLLOW: a symbolic link planted at any of
 * their names is refused with an error, never followed. Temporary files
 * (*.tmp) a crash left are removed at start-up.
 *
 * spool_open and spool_each_last run on the broker thread at init (before
 * the writer starts); everything else on the writer thread. Rows are copied in and out; the caller owns what it passes.
 */
#ifndef LOWI_SPOOL_H
#define LOWI_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "meters.h"
#include "row_queue.h"

struct spool;

/* Creates the directory if needed (mode 0700). NULL with err when it cannot
 * be created or written, or its journal cannot be read or opened: the
 * caller runs without a spool and says so. Otherwise err is empty, or a
 * warning for the log: the directory is not the broker user's, or others
 * may read or write it. At most max_meters meters are kept, the most
 * recently heard; meters silent for more than silence_s are forgotten
 * (silence_s 0: never). */
struct spool *spool_open(const char *dir, size_t max_meters, int64_t silence_s, char *err, size_t errlen);
void spool_close(struct spool *s);

/* Writes rows durably as one new spool file. */
int spool_write(struct spool *s, const struct conso_row *rows, size_t n, char *err, size_t errlen);

/* What spool_read_oldest found. */
enum spool_read {
	SPOOL_READ_ROWS = 1,   /* a file was read */
	SPOOL_READ_EMPTY = 0,  /* nothing (left) to replay */
	/* The oldest file cannot be read (not a regular file, not readable,
	 * damaged): it was renamed *.bad, or, when even that fails, it is
	 * skipped until the next start. err says which, in one line; the next
	 * call goes on with the next file. */
	SPOOL_READ_SET_ASIDE = -1,
	/* The spool cannot be read at the moment (the directory cannot be
	 * listed, no file descriptor or memory left): nothing was set aside or
	 * skipped; err says why. Try again later. */
	SPOOL_READ_LATER = -2,
};

/* Reads the oldest spool file that is not skipped: *rows (malloc'd, caller
 * frees) and *n, and its name for spool_remove. Returns an enum spool_read.
 * Never blocks on what is not a regular file (a FIFO named like a spool
 * file is set aside like a damaged file). */
int spool_read_oldest(struct spool *s, struct conso_row **rows, size_t *n, char *name, size_t namelen, char *err, size_t errlen);

/* Removes a replayed file (its rows are committed). -1 with err when it
 * cannot be (a read-only file system): the file is then skipped until the
 * next start, which replays it again, rewriting the same rows. */
int spool_remove(struct spool *s, const char *name, char *err, size_t errlen);

/* Appends a row MariaDB refused to <dir>/rejected.rows (never replayed;
 * kept for the operator). */
int spool_set_aside(struct spool *s, const struct conso_row *row, char *err, size_t errlen);
size_t spool_files(struct spool *s);

/* Records rows as durable in the meter journal (fdatasync'd); compacts the
 * journal when it has grown well past one line per meter. */
int spool_journal(struct spool *s, const struct conso_row *rows, size_t n, char *err, size_t errlen);

/* Calls fn with the newest durable row of each meter, as read from
 * meters.state and meters.journal at spool_open and kept since: its
 * serial, start, indexes and has_gas/has_water; energies and estimated are
 * zero. The row is valid during the call only. */
void spool_each_last(struct spool *s, void (*fn)(void *ctx, const struct conso_row *row), void *ctx);
size_t spool_meters(const struct spool *s);
/* Meters spool_open forgot: silent too long, or beyond max_meters. */
size_t spool_forgotten(const struct spool *s);

/* At a clean stop (broker thread, after the writer stopped): every meter's
 * whole quarter state to <dir>/meters.live, so a restart continues from the
 * last reading itself rather than from the last row. Each state is stored
 * as quarter.h's record, whose layout is quarter.c's alone. */
int spool_save_live(struct spool *s, const struct meter_set *meters, char *err, size_t errlen);

/* At init: calls fn for each meter of meters.live that is at least as new as
 * its last durable row, then removes the file. Returns the count or -1.
 * Also reads the file lowi-p1 0.1.0 wrote, so an upgrade keeps every
 * meter's running quarter. A state that cannot be read (damaged, or from a
 * newer build) is skipped, and that meter resumes from its last durable
 * row: then err says so (and the count is still returned); otherwise err is
 * empty. */
long spool_take_live(struct spool *s, void (*fn)(void *ctx, const struct meter *m), void *ctx, char *err, size_t errlen);

#endif
