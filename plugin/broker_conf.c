/* The broker's own configuration, read for start-up warnings; see broker_conf.h. */
#include "broker_conf.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <mosquitto.h>

bool broker_conf_path_from_cmdline(const char *cmdline, size_t len, char *path, size_t size)
{
	bool found = false, value_next = false;
	const char *end = cmdline + len;
	for (const char *arg = cmdline; arg < end; ) {
		size_t n = strnlen(arg, (size_t)(end - arg));
		if (arg + n == end) /* cut: no NUL after it */
			break;
		if (value_next && n > 0 && n < size) {
			memcpy(path, arg, n + 1);
			found = true;
		}
		value_next = strcmp(arg, "-c") == 0 || strcmp(arg, "--config-file") == 0;
		arg += n + 1;
	}
	return found;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void read_file(const char *path, int level, struct broker_conf *bc);

/* The ".conf" files of dir, in strcmp order, as mosquitto reads them. */
static void read_dir(const char *dir, struct broker_conf *bc)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return;
	char **names = NULL;
	size_t count = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);
		if (n <= 5 || strcmp(e->d_name + n - 5, ".conf") != 0)
			continue;
		char **grown = realloc(names, (count + 1) * sizeof(*names));
		if (grown == NULL)
			break;
		names = grown;
		if ((names[count] = strdup(e->d_name)) != NULL)
			count++;
	}
	closedir(d);
	qsort(names, count, sizeof(*names), compare_names);
	for (size_t i = 0; i < count; i++) {
		char path[PATH_MAX];
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, names[i]) < sizeof(path))
			read_file(path, 1, bc);
		free(names[i]);
	}
	free(names);
}

/* One line, as mosquitto 2.0's config__read_file_core splits it: the first
 * word, then (strtok_r) the rest after the one space that ended it. */
static void read_line(char *line, int level, struct broker_conf *bc, bool *holds_password)
{
	if (line[0] == '#' || line[0] == '\n' || line[0] == '\r' || line[0] == '\0')
		return;
	line[strcspn(line, "\r\n")] = '\0';
	char *word = line + strspn(line, " ");
	char *rest = word + strcspn(word, " ");
	if (*rest)
		*rest++ = '\0';
	if (strcmp(word, "per_listener_settings") == 0) {
		char *value = rest + strspn(rest, " ");
		value[strcspn(value, " ")] = '\0';
		if (strcmp(value, "true") == 0 || strcmp(value, "false") == 0)
			bc->per_listener_settings = strcmp(value, "true") == 0;
	} else if (strcmp(word, "include_dir") == 0 && level == 0 && *rest) {
		read_dir(rest, bc);
	} else if (strcmp(word, "plugin_opt_db_password") == 0) {
		*holds_password = true;
	}
}

static void read_file(const char *path, int level, struct broker_conf *bc)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		if (level == 0)
			bc->error = errno;
		return;
	}
	/* Unbuffered: no stdio buffer, freed unwiped, keeps a password. */
	setvbuf(f, NULL, _IONBF, 0);
	struct stat st;
	bool world_readable = fstat(fileno(f), &st) == 0 && (st.st_mode & S_IROTH);
	bool holds_password = false;
	char *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, f) != -1)
		read_line(line, level, bc, &holds_password);
	/* The line buffer held the file's text, the password included. */
	if (line)
		explicit_bzero(line, cap);
	free(line);
	fclose(f);
	if (holds_password && world_readable && bc->password_exposed_in[0] == '\0') {
		snprintf(bc->password_exposed_in, sizeof(bc->password_exposed_in), "%s", path);
		bc->password_exposed_mode = (unsigned)(st.st_mode & 0777);
	}
}

void broker_conf_read(const char *path, struct broker_conf *bc)
{
	memset(bc, 0, sizeof(*bc));
	snprintf(bc->path, sizeof(bc->path), "%s", path);
	read_file(path, 0, bc);
}

void broker_conf_read_own(struct broker_conf *bc)
{
	char cmdline[16384], path[PATH_MAX];
	size_t n = 0;
	FILE *f = fopen("/proc/self/cmdline", "r");
	if (f != NULL) {
		n = fread(cmdline, 1, sizeof(cmdline), f);
		fclose(f);
	}
	if (broker_conf_path_from_cmdline(cmdline, n, path, sizeof(path))) {
		broker_conf_read(path, bc);
		return;
	}
	memset(bc, 0, sizeof(*bc));
	bc->error = ENOENT;
}

void broker_conf_report(const struct broker_conf *bc, bool password_inline,
	void (*say)(void *ctx, int level, const char *text), void *ctx)
{
	char text[PATH_MAX + 400];
	if (bc->per_listener_settings) {
		snprintf(text, sizeof(text), "per_listener_settings true in %s: mosquitto 2.0 then never gives a plugin its"
			" periodic tick, so the plugin's own log lines (database and price errors) and its stats wait for a message"
			" on its listener or a reload (SIGHUP); set per_listener_settings false (README, Installation)", bc->path);
		say(ctx, MOSQ_LOG_WARNING, text);
	}
	if (bc->password_exposed_in[0]) {
		snprintf(text, sizeof(text), "plugin_opt_db_password is in %s, which every user may read (mode %03o): put the"
			" password in a file only the mosquitto user reads, named by plugin_opt_db_password_file (README, Security)",
			bc->password_exposed_in, bc->password_exposed_mode);
		say(ctx, MOSQ_LOG_WARNING, text);
	}
	if (bc->error == 0)
		return;
	char what[PATH_MAX + 100];
	if (bc->path[0])
		snprintf(what, sizeof(what), "the broker's configuration %s cannot be read (%s)", bc->path, strerror(bc->error));
	else
		snprintf(what, sizeof(what), "the broker's command line names no configuration file (-c)");
	if (password_inline) {
		snprintf(text, sizeof(text), "%s: who may read plugin_opt_db_password is not checked, nor per_listener_settings;"
			" prefer plugin_opt_db_password_file, naming a file only the mosquitto user reads (README, Security)", what);
		say(ctx, MOSQ_LOG_WARNING, text);
	} else {
		snprintf(text, sizeof(text), "%s: per_listener_settings is not checked", what);
		say(ctx, MOSQ_LOG_INFO, text);
	}
}
