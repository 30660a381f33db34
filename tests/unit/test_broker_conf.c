/* What the plugin reads of the broker's configuration: the -c file from a
 * command line, per_listener_settings and include_dir as mosquitto 2.0
 * reads them, and the password in a file every user may read. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mosquitto.h>

#include "broker_conf.h"
#include "check.h"

static char dir[] = "/tmp/lowi-broker-conf-XXXXXX";

static void write_file(const char *name, const char *text, mode_t mode)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

static void check_cmdline(void)
{
	char path[64];
	static const char systemd[] = "/usr/sbin/mosquitto\0-c\0/etc/mosquitto/mosquitto.conf\0";
	CHECK(broker_conf_path_from_cmdline(systemd, sizeof(systemd) - 1, path, sizeof(path))
		&& strcmp(path, "/etc/mosquitto/mosquitto.conf") == 0, "systemd's command line: %s", path);
	static const char long_form[] = "mosquitto\0-v\0--config-file\0m.conf\0-d\0";
	CHECK(broker_conf_path_from_cmdline(long_form, sizeof(long_form) - 1, path, sizeof(path))
		&& strcmp(path, "m.conf") == 0, "--config-file: %s", path);
	static const char none[] = "mosquitto\0-p\0" "1883\0";
	CHECK(!broker_conf_path_from_cmdline(none, sizeof(none) - 1, path, sizeof(path)), "no -c");
	static const char dangling[] = "mosquitto\0-c\0";
	CHECK(!broker_conf_path_from_cmdline(dangling, sizeof(dangling) - 1, path, sizeof(path)), "-c without a file");
	static const char cut[] = "mosquitto\0-c\0/etc/mosq";
	CHECK(!broker_conf_path_from_cmdline(cut, sizeof(cut) - 1, path, sizeof(path)), "a file name cut short");
	static const char too_long[] = "mosquitto\0-c\0/a/path/longer/than/the/sixty/four/bytes/the/caller/has/room/for.conf\0";
	CHECK(!broker_conf_path_from_cmdline(too_long, sizeof(too_long) - 1, path, sizeof(path)), "a file name too long");
}

struct said {
	int count, warnings;
	char text[4][1200];
};

static void collect(void *ctx, int level, const char *text)
{
	struct said *s = ctx;
	if (level == MOSQ_LOG_WARNING)
		s->warnings++;
	if (s->count < 4)
		snprintf(s->text[s->count], sizeof(s->text[0]), "%s", text);
	s->count++;
}

static bool said_it(const struct said *s, const char *words)
{
	for (int i = 0; i < s->count && i < 4; i++)
		if (strstr(s->text[i], words))
			return true;
	return false;
}

static void check_files(void)
{
	char main_conf[512], conf_d[512];
	snprintf(main_conf, sizeof(main_conf), "%s/mosquitto.conf", dir);
	snprintf(conf_d, sizeof(conf_d), "%s/conf.d", dir);
	mkdir(conf_d, 0755);

	/* Debian's default: per_listener_settings absent (false), conf.d files
	 * only root reads or that hold no password. */
	char text[1200];
	snprintf(text, sizeof(text), "# per_listener_settings true\npid_file /run/mosquitto/mosquitto.pid\ninclude_dir %s\n", conf_d);
	write_file("mosquitto.conf", text, 0644);
	write_file("conf.d/lowi-p1.conf", "plugin /usr/lib/lowi_p1.so\nplugin_opt_db_user lowi\nplugin_opt_db_password_file /etc/x\n", 0644);
	struct broker_conf bc;
	struct said said = { 0 };
	broker_conf_read(main_conf, &bc);
	broker_conf_report(&bc, false, collect, &said);
	CHECK(!bc.per_listener_settings && bc.error == 0 && said.count == 0, "a commented line is not a setting: %d lines", said.count);

	/* The reference installation's mosquitto.conf: per_listener_settings
	 * true, the password in a drop-in every user may read. */
	snprintf(text, sizeof(text), "per_listener_settings true\ninclude_dir %s\nlistener 1883\r\n", conf_d);
	write_file("mosquitto.conf", text, 0644);
	write_file("conf.d/lowi-p1.conf", "plugin /usr/lib/lowi_p1.so\nplugin_opt_db_user lowi\nplugin_opt_db_password secret\n", 0644);
	write_file("conf.d/other.txt", "per_listener_settings false\n", 0644); /* not a .conf: mosquitto skips it */
	memset(&said, 0, sizeof(said));
	broker_conf_read(main_conf, &bc);
	broker_conf_report(&bc, true, collect, &said);
	CHECK(bc.per_listener_settings, "per_listener_settings true is seen");
	CHECK(strstr(bc.password_exposed_in, "conf.d/lowi-p1.conf") && bc.password_exposed_mode == 0644,
		"the password in conf.d/lowi-p1.conf (mode 644) is seen: '%s' %o", bc.password_exposed_in, bc.password_exposed_mode);
	CHECK(said.warnings == 2 && said_it(&said, "per_listener_settings true in") && said_it(&said, "set per_listener_settings false")
		&& said_it(&said, "which every user may read (mode 644)") && said_it(&said, "plugin_opt_db_password_file"),
		"two warnings, naming the problem and the fix: %s | %s", said.text[0], said.text[1]);

	/* Fixed: the drop-in only its owner reads; a later file sets it back
	 * to false (the last value holds, files in strcmp order). */
	write_file("conf.d/lowi-p1.conf", "plugin_opt_db_password secret\n", 0600);
	write_file("conf.d/zz.conf", "  per_listener_settings false\n", 0644);
	memset(&said, 0, sizeof(said));
	broker_conf_read(main_conf, &bc);
	broker_conf_report(&bc, true, collect, &said);
	CHECK(!bc.per_listener_settings && bc.password_exposed_in[0] == '\0' && said.count == 0,
		"nothing to say: %d lines, %s", said.count, said.text[0]);

	/* include_dir counts in the main file only, as in mosquitto. */
	snprintf(text, sizeof(text), "%s/sub", conf_d);
	mkdir(text, 0755);
	write_file("conf.d/sub/x.conf", "per_listener_settings true\n", 0644);
	snprintf(text, sizeof(text), "include_dir %s/sub\n", conf_d);
	write_file("conf.d/zz.conf", text, 0644);
	snprintf(text, sizeof(text), "include_dir %s\n", conf_d);
	write_file("mosquitto.conf", text, 0644);
	broker_conf_read(main_conf, &bc);
	CHECK(bc.error == 0 && !bc.per_listener_settings, "an include_dir in an included file is not followed");

	/* A file that cannot be read. */
	memset(&said, 0, sizeof(said));
	snprintf(text, sizeof(text), "%s/absent.conf", dir);
	broker_conf_read(text, &bc);
	broker_conf_report(&bc, true, collect, &said);
	CHECK(bc.error != 0 && said.warnings == 1 && said_it(&said, "cannot be read") && said_it(&said, "plugin_opt_db_password_file"),
		"an unreadable configuration is said, with the password advice: %s", said.text[0]);
	memset(&said, 0, sizeof(said));
	broker_conf_report(&bc, false, collect, &said);
	CHECK(said.count == 1 && said.warnings == 0 && said_it(&said, "per_listener_settings is not checked"),
		"without an inline password, a notice only: %s", said.text[0]);
}

int main(void)
{
	check_cmdline();
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	check_files();
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		printf("cannot remove %s\n", dir);
	return check_finish("broker_conf");
}
