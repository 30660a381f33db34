/*
 * The database writer thread: drains the row queue into MariaDB.
 *
 * It owns its MariaDB connection (created, used and closed on its own
 * thread), creates the schema on every connect, uses prepared statements
 * only, writes rows in batches of one transaction each (a batch goes out
 * as a few multi-row INSERTs per table, not one per row), and removes rows
 * from the queue only after COMMIT succeeded. On any error it drops the
 * connection and reconnects on the back-off of worker.h (1 s to 60 s); while
 * the database is away, queued rows go to the on-disk spool (when there is
 * one) and are replayed first once it is back. Every row made durable is
 * recorded in the spool's meter journal. It logs through the log queue only.
 *
 * db_writer_start and db_writer_stop are called on the broker thread (init
 * and cleanup). The config, queues and stats must outlive the writer.
 */
#ifndef LOWI_DB_WRITER_H
#define LOWI_DB_WRITER_H

#include "config.h"
#include "log_queue.h"
#include "row_queue.h"
#include "spool.h"
#include "stats.h"

struct db_writer;

/* Returns NULL (and logs to lq) if the thread cannot be created. */
struct db_writer *db_writer_start(const struct lowi_config *cfg, struct row_queue *rows, struct spool *spool,
	struct log_queue *lq, struct lowi_stats *stats);

/* Stops the thread: what is queued is committed if the database is there,
 * spooled otherwise; then joins it and frees everything (not the spool,
 * which the caller owns). */
void db_writer_stop(struct db_writer *w);

#endif
