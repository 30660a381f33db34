/*
 * The database writer thread: drains the row queue into MariaDB.
 *
 * It owns its MariaDB connection (created, used and closed on its own
 * thread), creates the schema on every connect, uses prepared statements
 * only, writes rows in batches of one transaction each (a batch's Conso
 * rows go out as a few multi-row INSERTs, then the Pics row of every
 * meter-month the batch touches is recomputed from Conso), and removes rows
 * from the queue only after COMMIT succeeded. A batch that lost a deadlock
 * or a Galera certification (1213) is run again a few times on the same
 * session. On any other error it drops the connection and reconnects (to
 * the next database node of db_host first) on the back-off of worker.h
 * (1 s to 60 s), one schedule whatever failed, started again only by a
 * committed batch; while the database is away, queued rows go to the
 * on-disk spool (when there is one) and are replayed first once it is
 * back. A spool file that cannot be read is set aside or skipped, and a
 * spool that cannot be read for now is tried again on a back-off while
 * new rows go on. Every row made durable is recorded in the spool's meter
 * journal. It logs through the log queue only.
 *
 * db_writer_start and db_writer_stop are called on the broker thread (init
 * and cleanup). The config, queues and stats must outlive the writer.
 */
#ifndef LOWI_DB_WRITER_H
#define LOWI_DB_WRITER_H

#include "config.h"
#include "log_queue.h"
#include "peak_history.h"
#include "row_queue.h"
#include "spool.h"
#include "stats.h"

struct db_writer;

/* Returns NULL (and logs to lq) if the thread cannot be created. */
/* history: where the peaks stored in Pics go, read once the first
 * connection succeeds (NULL: not read). */
struct db_writer *db_writer_start(const struct lowi_config *cfg, struct row_queue *rows, struct spool *spool,
	struct peak_history *history, struct log_queue *lq, struct lowi_stats *stats);

/* Stops the thread: what is queued is committed if the database is there,
 * spooled otherwise; then joins it and frees everything (not the spool,
 * which the caller owns). A connection being set up is given up at once;
 * a statement hanging on a stalled server is cut by worker_join. */
void db_writer_stop(struct db_writer *w);

#endif
