/*
 * Option parsing; see config.h. Each option is checked where it is read so
 * the operator gets one precise line naming the key and the value.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "topic.h"

void config_defaults(struct lowi_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->db_port = 3306;
	cfg->queue_rows = 262144;
	cfg->db_timeout_s = 30;
	cfg->batch_rows = 500;
	cfg->max_meters = 200000;
	cfg->price_source = PRICE_SOURCE_ELIA;
	cfg->price_start_year = 2020;
	cfg->price_start_month = 1;
	cfg->price_start_day = 1;
	cfg->price_timeout_s = 60;
	cfg->stats_interval_s = 60;
	cfg->db_tls_verify = 1;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static int set_string(char **slot, const char *key, const char *value, bool secret, char *err, size_t errlen)
{
	if (*slot != NULL)
		return fail(err, errlen, "plugin_opt_%s is given twice", key);
	if (value == NULL || value[0] == '\0')
		return fail(err, errlen, "plugin_opt_%s needs a value", key);
	if (!secret && strlen(value) > 1024)
		return fail(err, errlen, "plugin_opt_%s is longer than 1024 bytes", key);
	*slot = strdup(value);
	if (*slot == NULL)
		return fail(err, errlen, "out of memory reading plugin_opt_%s", key);
	return 0;
}

static int set_unsigned(unsigned *slot, const char *key, const char *value, unsigned min, unsigned max, char *err, size_t errlen)
{
	char *end;
	errno = 0;
	unsigned long v = value ? strtoul(value, &end, 10) : 0;
	if (value == NULL || value[0] < '0' || value[0] > '9' || *end != '\0' || errno != 0 || v < min || v > max)
		return fail(err, errlen, "invalid plugin_opt_%s value '%s' (a whole number from %u to %u)",
			key, value ? value : "", min, max);
	*slot = (unsigned)v;
	return 0;
}

int config_set(struct lowi_config *cfg, const char *key, const char *value, char *err, size_t errlen)
{
	if (strcmp(key, "db_host") == 0)
		return set_string(&cfg->db_host, key, value, false, err, errlen);
	if (strcmp(key, "db_port") == 0)
		return set_unsigned(&cfg->db_port, key, value, 1, 65535, err, errlen);
	if (strcmp(key, "db_socket") == 0)
		return set_string(&cfg->db_socket, key, value, false, err, errlen);
	if (strcmp(key, "db_user") == 0)
		return set_string(&cfg->db_user, key, value, false, err, errlen);
	if (strcmp(key, "db_password") == 0)
		return set_string(&cfg->db_password, key, value, true, err, errlen);
	if (strcmp(key, "db_password_file") == 0)
		return set_string(&cfg->db_password_file, key, value, false, err, errlen);
	if (strcmp(key, "db_name") == 0) {
		if (set_string(&cfg->db_name, key, value, false, err, errlen) != 0)
			return -1;
		for (const char *c = value; *c; c++)
			if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || *c == '_' || *c == '$'))
				return fail(err, errlen, "invalid plugin_opt_db_name value '%s' (letters, digits, '_' and '$' only)", value);
		return 0;
	}
	if (strcmp(key, "topic") == 0) {
		if (set_string(&cfg->topic, key, value, false, err, errlen) != 0)
			return -1;
		const char *problem = topic_filter_problem(value);
		if (problem)
			return fail(err, errlen, "invalid plugin_opt_topic value '%s': %s", value, problem);
		return 0;
	}
	if (strcmp(key, "queue_rows") == 0)
		return set_unsigned(&cfg->queue_rows, key, value, 16, 16u << 20, err, errlen);
	if (strcmp(key, "db_timeout") == 0)
		return set_unsigned(&cfg->db_timeout_s, key, value, 1, 86400, err, errlen);
	if (strcmp(key, "batch_rows") == 0)
		return set_unsigned(&cfg->batch_rows, key, value, 1, 10000, err, errlen);
	if (strcmp(key, "price_source") == 0) {
		for (int s = 0; s <= PRICE_SOURCE_NONE; s++) {
			if (value && strcmp(value, price_source_name(s)) == 0) {
				cfg->price_source = s;
				return 0;
			}
		}
		return fail(err, errlen, "invalid plugin_opt_price_source value '%s' (elia, energy-charts or none)", value ? value : "");
	}
	if (strcmp(key, "price_url") == 0) {
		if (set_string(&cfg->price_url, key, value, false, err, errlen) != 0)
			return -1;
		if (strncmp(value, "http://", 7) != 0 && strncmp(value, "https://", 8) != 0)
			return fail(err, errlen, "invalid plugin_opt_price_url value '%s' (an http:// or https:// URL)", value);
		return 0;
	}
	if (strcmp(key, "price_start") == 0) {
		int y, m, d, n = 0;
		if (value == NULL || sscanf(value, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || value[n] != '\0'
			|| y < 2015 || y > 2100 || m < 1 || m > 12 || d < 1 || d > 31)
			return fail(err, errlen, "invalid plugin_opt_price_start value '%s' (a date YYYY-MM-DD from 2015)", value ? value : "");
		cfg->price_start_year = y;
		cfg->price_start_month = m;
		cfg->price_start_day = d;
		return 0;
	}
	if (strcmp(key, "price_timeout") == 0)
		return set_unsigned(&cfg->price_timeout_s, key, value, 1, 86400, err, errlen);
	if (strcmp(key, "stats_prefix") == 0) {
		if (set_string(&cfg->stats_prefix, key, value, false, err, errlen) != 0)
			return -1;
		if (strpbrk(value, "+#") != NULL || value[strlen(value) - 1] == '/')
			return fail(err, errlen, "invalid plugin_opt_stats_prefix value '%s' (a topic without wildcards or trailing '/')", value);
		return 0;
	}
	if (strcmp(key, "spool_dir") == 0) {
		if (set_string(&cfg->spool_dir, key, value, false, err, errlen) != 0)
			return -1;
		if (value[0] != '/')
			return fail(err, errlen, "invalid plugin_opt_spool_dir value '%s' (an absolute path)", value);
		return 0;
	}
	if (strcmp(key, "stats_interval") == 0)
		return set_unsigned(&cfg->stats_interval_s, key, value, 0, 86400, err, errlen);
	if (strcmp(key, "db_tls_ca") == 0)
		return set_string(&cfg->db_tls_ca, key, value, false, err, errlen);
	if (strcmp(key, "db_tls_verify") == 0) {
		if (value && (strcmp(value, "true") == 0 || strcmp(value, "false") == 0)) {
			cfg->db_tls_verify = strcmp(value, "true") == 0;
			return 0;
		}
		return fail(err, errlen, "invalid plugin_opt_db_tls_verify value '%s' (true or false)", value ? value : "");
	}
	if (strcmp(key, "max_meters") == 0)
		return set_unsigned(&cfg->max_meters, key, value, 1, 10000000, err, errlen);
	return fail(err, errlen, "unknown option plugin_opt_%s", key);
}

static int read_password_file(struct lowi_config *cfg, char *err, size_t errlen)
{
	struct stat st;
	FILE *f = fopen(cfg->db_password_file, "r");
	if (f != NULL && fstat(fileno(f), &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
		snprintf(cfg->warning, sizeof(cfg->warning),
			"plugin_opt_db_password_file '%s' is readable by other users (mode %03o): chmod 600 it",
			cfg->db_password_file, (unsigned)(st.st_mode & 0777));
	if (f == NULL)
		return fail(err, errlen, "plugin_opt_db_password_file '%s' cannot be read: %s",
			cfg->db_password_file, strerror(errno));
	char buf[1024];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	bool too_long = n == sizeof(buf) - 1 && fgetc(f) != EOF;
	fclose(f);
	buf[n] = '\0';
	/* The first line is the password; editors add a trailing newline. */
	buf[strcspn(buf, "\r\n")] = '\0';
	if (too_long || buf[0] == '\0') {
		memset(buf, 0, sizeof(buf));
		return fail(err, errlen, "plugin_opt_db_password_file '%s' %s", cfg->db_password_file,
			too_long ? "is longer than 1023 bytes" : "holds no password on its first line");
	}
	cfg->db_password = strdup(buf);
	memset(buf, 0, sizeof(buf));
	return cfg->db_password ? 0 : fail(err, errlen, "out of memory reading plugin_opt_db_password_file");
}

static int default_string(char **slot, const char *value, char *err, size_t errlen)
{
	if (*slot == NULL && (*slot = strdup(value)) == NULL)
		return fail(err, errlen, "out of memory");
	return 0;
}

int config_finish(struct lowi_config *cfg, char *err, size_t errlen)
{
	if (cfg->db_user == NULL)
		return fail(err, errlen, "missing required option plugin_opt_db_user");
	if (cfg->db_password && cfg->db_password_file)
		return fail(err, errlen, "plugin_opt_db_password and plugin_opt_db_password_file are both given: keep one");
	if (cfg->db_password_file && read_password_file(cfg, err, errlen) != 0)
		return -1;
	if (default_string(&cfg->db_host, "localhost", err, errlen) || default_string(&cfg->db_name, "P1", err, errlen)
		|| default_string(&cfg->topic, "+/PUB/CH0", err, errlen) || default_string(&cfg->stats_prefix, "lowi-p1", err, errlen)
		|| default_string(&cfg->spool_dir, "/var/lib/mosquitto/lowi-p1", err, errlen))
		return -1;
	if (cfg->db_tls_ca && access(cfg->db_tls_ca, R_OK) != 0)
		return fail(err, errlen, "plugin_opt_db_tls_ca '%s' cannot be read: %s", cfg->db_tls_ca, strerror(errno));
	if (cfg->batch_rows > cfg->queue_rows)
		cfg->batch_rows = cfg->queue_rows;
	return 0;
}

void config_free(struct lowi_config *cfg)
{
	if (cfg->db_password) {
		memset(cfg->db_password, 0, strlen(cfg->db_password));
		free(cfg->db_password);
	}
	free(cfg->db_host);
	free(cfg->db_socket);
	free(cfg->db_user);
	free(cfg->db_password_file);
	free(cfg->db_name);
	free(cfg->topic);
	free(cfg->price_url);
	free(cfg->stats_prefix);
	free(cfg->spool_dir);
	free(cfg->db_tls_ca);
	memset(cfg, 0, sizeof(*cfg));
}
