/*
 * What the plugin can learn of the mosquitto configuration that loaded it,
 * to warn at start-up about what its own options do not show.
 *
 * mosquitto hands a plugin its plugin_opt_* values, not the file they came
 * from, nor the broker's own settings. The broker's command line names the
 * file, though: mosquitto 2.0 reads its configuration from `-c <file>` (or
 * `--config-file <file>`) and without one loads no plugin. So the plugin
 * reads /proc/self/cmdline, then that file and the files of its
 * include_dir, with mosquitto 2.0's rules (src/conf.c): a line starting
 * with '#' is a comment, words are separated by spaces, only the main
 * file's include_dir is followed, and of it only the names ending in
 * ".conf", in strcmp order. The broker has dropped privileges when it
 * initialises plugins, so a file only root may read is not checked: no
 * other user can read it either.
 *
 * Broker thread, during mosquitto_plugin_init. Nothing allocated outlives
 * a call.
 */
#ifndef LOWI_BROKER_CONF_H
#define LOWI_BROKER_CONF_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

struct broker_conf {
	char path[PATH_MAX];        /* the -c file; "" when the command line names none */
	int error;                  /* errno when that file could not be read, else 0 */
	bool per_listener_settings; /* its value after every file read (mosquitto's default: false) */
	/* The first file read that holds a plugin_opt_db_password line and that
	 * every user may read ("" if none), and its permission bits. */
	char password_exposed_in[PATH_MAX];
	unsigned password_exposed_mode;
};

/* The file named by -c or --config-file in a command line as
 * /proc/<pid>/cmdline holds it (arguments separated by NUL bytes); the
 * last one when there are several. False when there is none or it does
 * not fit in size. */
bool broker_conf_path_from_cmdline(const char *cmdline, size_t len, char *path, size_t size);

/* Reads path and the files of its include_dir into *bc. */
void broker_conf_read(const char *path, struct broker_conf *bc);

/* broker_conf_read of the file this process's command line names. */
void broker_conf_read_own(struct broker_conf *bc);

/* Calls say(ctx, level, text) once per finding worth a line in the log
 * (level a MOSQ_LOG_* value): per_listener_settings true, the password in
 * a file every user may read, or a configuration that could not be read.
 * password_inline: the password came from plugin_opt_db_password. */
void broker_conf_report(const struct broker_conf *bc, bool password_inline,
	void (*say)(void *ctx, int level, const char *text), void *ctx);

#endif
