/*
 * The options' table and its parser; see config.h. Each option is checked
 * where it is read so the operator gets one precise line naming the key and
 * the value.
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

#include <arpa/inet.h>
#include <netinet/in.h>

#include "topic.h"

/* Writes the one-line reason into err; returns -1 for `return config_error(...)`. */
__attribute__((format(printf, 3, 4)))
static int config_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static int set_text(char **slot, const char *key, const char *value, bool secret, char *err, size_t errlen)
{
	if (value == NULL || value[0] == '\0')
		return config_error(err, errlen, "plugin_opt_%s needs a value", key);
	if (!secret && strlen(value) > 1024)
		return config_error(err, errlen, "plugin_opt_%s is longer than 1024 bytes", key);
	*slot = strdup(value);
	if (*slot == NULL)
		return config_error(err, errlen, "out of memory reading plugin_opt_%s", key);
	return 0;
}

static int set_unsigned(unsigned *slot, const char *key, const char *value, unsigned min, unsigned max, char *err, size_t errlen)
{
	char *end;
	errno = 0;
	unsigned long v = value ? strtoul(value, &end, 10) : 0;
	if (value == NULL || value[0] < '0' || value[0] > '9' || *end != '\0' || errno != 0 || v < min || v > max)
		return config_error(err, errlen, "invalid plugin_opt_%s value '%s' (a whole number from %u to %u)",
			key, value ? value : "", min, max);
	*slot = (unsigned)v;
	return 0;
}

static int set_bool(unsigned *slot, const char *key, const char *value, char *err, size_t errlen)
{
	if (value && (strcmp(value, "true") == 0 || strcmp(value, "false") == 0)) {
		*slot = strcmp(value, "true") == 0;
		return 0;
	}
	return config_error(err, errlen, "invalid plugin_opt_%s value '%s' (true or false)", key, value ? value : "");
}

/* The database name goes into SQL as an identifier: no quoting needed. */
static int check_db_name(const char *value, char *err, size_t errlen)
{
	for (const char *c = value; *c; c++)
		if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || *c == '_' || *c == '$'))
			return config_error(err, errlen, "invalid plugin_opt_db_name value '%s' (letters, digits, '_' and '$' only)", value);
	return 0;
}

static int check_topic(const char *value, char *err, size_t errlen)
{
	const char *problem = topic_filter_problem(value);
	if (problem)
		return config_error(err, errlen, "invalid plugin_opt_topic value '%s': %s", value, problem);
	return 0;
}

static int check_price_url(const char *value, char *err, size_t errlen)
{
	if (strncmp(value, "http://", 7) != 0 && strncmp(value, "https://", 8) != 0)
		return config_error(err, errlen, "invalid plugin_opt_price_url value '%s' (an http:// or https:// URL)", value);
	return 0;
}

/* The prefix becomes the start of a topic the plugin publishes on. */
static bool is_topic_prefix(const char *value)
{
	return strpbrk(value, "+#") == NULL && value[strlen(value) - 1] != '/';
}

static int check_stats_prefix(const char *value, char *err, size_t errlen)
{
	if (!is_topic_prefix(value))
		return config_error(err, errlen, "invalid plugin_opt_stats_prefix value '%s' (a topic without wildcards or trailing '/')", value);
	return 0;
}

static int check_ha_prefix(const char *value, char *err, size_t errlen)
{
	if (!is_topic_prefix(value))
		return config_error(err, errlen, "invalid plugin_opt_ha_prefix value '%s' (a topic without wildcards or trailing '/')", value);
	return 0;
}

/* mosquitto may run from any directory: a relative spool would move with it. */
static int check_spool_dir(const char *value, char *err, size_t errlen)
{
	if (value[0] != '/')
		return config_error(err, errlen, "invalid plugin_opt_spool_dir value '%s' (an absolute path)", value);
	return 0;
}

/* An entry's port after its ':': digits only, 1 to 65535. */
static int db_entry_port(const char *entry, const char *text, size_t len, unsigned *port, char *err, size_t errlen)
{
	unsigned long v = 0;
	bool ok = len > 0 && len <= 5;
	for (size_t i = 0; ok && i < len; i++) {
		ok = text[i] >= '0' && text[i] <= '9';
		v = v * 10 + (unsigned long)(text[i] - '0');
	}
	if (!ok || v < 1 || v > 65535)
		return config_error(err, errlen, "invalid plugin_opt_db_host entry '%s': the port must be a whole number"
			" from 1 to 65535", entry);
	*port = (unsigned)v;
	return 0;
}

static bool is_host_char(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '.' || c == '_';
}

/* One entry, already trimmed and not empty, into node. */
static int db_entry_parse(const char *entry, unsigned default_port, struct config_db_node *node, char *err, size_t errlen)
{
	size_t len = strlen(entry);
	const char *host = entry, *port_text = NULL;
	size_t host_len = len;
	struct in6_addr v6;
	node->port = default_port;
	if (entry[0] == '[') {
		const char *close = strchr(entry, ']');
		if (close == NULL)
			return config_error(err, errlen, "invalid plugin_opt_db_host entry '%s': '[' without its closing ']'", entry);
		host = entry + 1;
		host_len = (size_t)(close - host);
		if (close[1] != '\0' && close[1] != ':')
			return config_error(err, errlen, "invalid plugin_opt_db_host entry '%s': only ':port' may follow ']'", entry);
		if (close[1] == ':')
			port_text = close + 2;
		char addr[INET6_ADDRSTRLEN + 1];
		if (host_len == 0 || host_len >= sizeof(addr))
			return config_error(err, errlen, "invalid plugin_opt_db_host entry '%s': an IPv6 address goes between"
				" the brackets", entry);
		memcpy(addr, host, host_len);
		addr[host_len] = '\0';
		if (inet_pton(AF_INET6, addr, &v6) != 1)
			return config_error(err, errlen, "invalid plugin_opt_db_host entry '%s': '%s' is not an IPv6 address", entry, addr);
	} else if (inet_pton(AF_INET6, entry, &v6) == 1) {
		/* A bare IPv6 address: its colons are not a port's. */
	} else {
		const char *colon = strchr(entry, ':');
		if (colon && strchr(colon + 1, ':'))
			return config_error(err, errlen, "invalid plugin_opt_db_host entry '%s': write an IPv6 address with a port"
				" as [address]:port", entry);
		if (colon) {
			host_len = (size_t)(colon - entry);
			port_text = colon + 1;
		}
		if (host_len == 0)
			return config_error(err, errlen, "invalid plugin_opt_db_host entry '%s': no host before the port", entry);
		for (size_t i = 0; i < host_len; i++)
			if (!is_host_char(entry[i]))
				return config_error(err, errlen, "invalid plugin_opt_db_host entry '%s': a host name has letters, digits,"
					" '-', '.' and '_' only", entry);
	}
	if (host_len > CONFIG_DB_HOST_MAX)
		return config_error(err, errlen, "invalid plugin_opt_db_host entry '%.60s...': a host of more than %d bytes",
			entry, CONFIG_DB_HOST_MAX);
	memcpy(node->host, host, host_len);
	node->host[host_len] = '\0';
	if (port_text && db_entry_port(entry, port_text, strlen(port_text), &node->port, err, errlen) != 0)
		return -1;
	/* The client library reaches "localhost" through its Unix socket and
	 * ignores the port: a port there is a mistake. */
	if (port_text && strcmp(node->host, "localhost") == 0)
		return config_error(err, errlen, "invalid plugin_opt_db_host entry '%s': localhost is the Unix socket"
			" (db_socket) and takes no port; write 127.0.0.1:%u for TCP", entry, node->port);
	return 0;
}

int config_db_hosts_parse(const char *list, unsigned default_port, struct config_db_node *nodes, size_t max,
	char *err, size_t errlen)
{
	char entry[CONFIG_DB_HOST_MAX + 16];
	size_t count = 0;
	const char *p = list;
	for (;;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		while (len > 0 && (*p == ' ' || *p == '\t')) {
			p++;
			len--;
		}
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len == 0)
			return config_error(err, errlen, "invalid plugin_opt_db_host value '%s': entry %zu is empty", list, count + 1);
		if (len >= sizeof(entry))
			return config_error(err, errlen, "invalid plugin_opt_db_host entry '%.60s...': a host of more than %d bytes",
				p, CONFIG_DB_HOST_MAX);
		if (count == max)
			return config_error(err, errlen, "invalid plugin_opt_db_host value: more than %zu hosts", max);
		memcpy(entry, p, len);
		entry[len] = '\0';
		if (db_entry_parse(entry, default_port, &nodes[count], err, errlen) != 0)
			return -1;
		for (size_t i = 0; i < count; i++)
			if (strcmp(nodes[i].host, nodes[count].host) == 0 && nodes[i].port == nodes[count].port)
				return config_error(err, errlen, "invalid plugin_opt_db_host entry '%s': the same node as entry %zu", entry, i + 1);
		count++;
		if (end == NULL)
			return (int)count;
		p = end + 1;
	}
}

/* Checked as soon as it is read; parsed again with db_port by config_finish. */
static int check_db_host(const char *value, char *err, size_t errlen)
{
	struct config_db_node nodes[CONFIG_DB_NODES_MAX];
	return config_db_hosts_parse(value, 3306, nodes, CONFIG_DB_NODES_MAX, err, errlen) < 0 ? -1 : 0;
}

void config_db_node_text(const struct lowi_config *cfg, unsigned i, char *out, size_t outlen)
{
	const struct config_db_node *n = &cfg->db_nodes[i];
	if (strcmp(n->host, "localhost") == 0)
		snprintf(out, outlen, "localhost (Unix socket%s%s)", cfg->db_socket ? " " : "", cfg->db_socket ? cfg->db_socket : "");
	else
		snprintf(out, outlen, strchr(n->host, ':') ? "[%s]:%u" : "%s:%u", n->host, n->port);
}

static int parse_price_source(struct lowi_config *cfg, const char *value, char *err, size_t errlen)
{
	for (int s = 0; s <= PRICE_SOURCE_NONE; s++) {
		if (value && strcmp(value, price_source_name(s)) == 0) {
			cfg->price_source = s;
			return 0;
		}
	}
	return config_error(err, errlen, "invalid plugin_opt_price_source value '%s' (elia, energy-charts or none)", value ? value : "");
}

static int parse_price_start(struct lowi_config *cfg, const char *value, char *err, size_t errlen)
{
	int y, m, d, n = 0;
	if (value == NULL || sscanf(value, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || value[n] != '\0'
		|| y < 2015 || y > 2100 || m < 1 || m > 12 || d < 1 || d > 31)
		return config_error(err, errlen, "invalid plugin_opt_price_start value '%s' (a date YYYY-MM-DD from 2015)", value ? value : "");
	cfg->price_start_year = y;
	cfg->price_start_month = m;
	cfg->price_start_day = d;
	return 0;
}

/* kW with decimals; 0 means no limit. The upper bound is max_power_kw's. */
static int parse_peak_limit_kw(struct lowi_config *cfg, const char *value, char *err, size_t errlen)
{
	char *end;
	errno = 0;
	double kw = value ? strtod(value, &end) : -1;
	/* A digit first: strtod would also read "nan", "inf", a sign or spaces. */
	if (value == NULL || !((value[0] >= '0' && value[0] <= '9') || value[0] == '.') || *end != '\0' || errno != 0
		|| !(kw >= 0 && kw <= 10000))
		return config_error(err, errlen, "invalid plugin_opt_peak_limit_kw value '%s' (kW from 0 to 10000; 0: none)",
			value ? value : "");
	cfg->peak_limit_kw = kw;
	return 0;
}

#define FIELD(name) offsetof(struct lowi_config, name)

/* In the README's order. */
const struct config_option config_options[] = {
	{ .key = "db_user", .kind = CONFIG_TEXT, .offset = FIELD(db_user), .required = true,
	  .doc = "MariaDB user" },
	{ .key = "db_password_file", .kind = CONFIG_TEXT, .offset = FIELD(db_password_file),
	  .doc = "file whose first line is the password" },
	{ .key = "db_password", .kind = CONFIG_SECRET, .offset = FIELD(db_password),
	  .doc = "the password itself (not with db_password_file)" },
	{ .key = "db_host", .kind = CONFIG_TEXT, .offset = FIELD(db_host), .default_text = "localhost", .check = check_db_host,
	  .doc = "MariaDB host, or comma-separated nodes host, host:port or [IPv6]:port tried in turn; localhost means the Unix socket" },
	{ .key = "db_port", .kind = CONFIG_UNSIGNED, .offset = FIELD(db_port), .default_text = "3306", .min = 1, .max = 65535,
	  .doc = "MariaDB TCP port" },
	{ .key = "db_socket", .kind = CONFIG_TEXT, .offset = FIELD(db_socket),
	  .doc = "MariaDB Unix socket path" },
	{ .key = "db_name", .kind = CONFIG_TEXT, .offset = FIELD(db_name), .default_text = "P1", .check = check_db_name,
	  .doc = "database" },
	{ .key = "topic", .kind = CONFIG_TEXT, .offset = FIELD(topic), .default_text = "+/PUB/CH0", .check = check_topic,
	  .doc = "MQTT subscription filter of the LOWI CH0 topics" },
	{ .key = "max_power_kw", .kind = CONFIG_UNSIGNED, .offset = FIELD(max_power_kw), .default_text = "56", .min = 1, .max = 10000,
	  .doc = "largest import or export power of a meter's connection: a quarter booking more is flagged Estimated" },
	{ .key = "spool_dir", .kind = CONFIG_TEXT, .offset = FIELD(spool_dir), .default_text = "/var/lib/mosquitto/lowi-p1",
	  .check = check_spool_dir, .doc = "rows waiting for the database, and the meter journal" },
	{ .key = "queue_rows", .kind = CONFIG_UNSIGNED, .offset = FIELD(queue_rows), .default_text = "262144", .min = 16, .max = 16u << 20,
	  .doc = "rows held in memory on their way to the database or the spool" },
	{ .key = "batch_rows", .kind = CONFIG_UNSIGNED, .offset = FIELD(batch_rows), .default_text = "500", .min = 1, .max = 10000,
	  .doc = "rows per transaction (at most queue_rows)" },
	{ .key = "db_timeout", .kind = CONFIG_UNSIGNED, .offset = FIELD(db_timeout_s), .default_text = "30", .min = 1, .max = 86400,
	  .doc = "seconds for connecting, reading and writing to MariaDB" },
	{ .key = "max_meters", .kind = CONFIG_UNSIGNED, .offset = FIELD(max_meters), .default_text = "200000", .min = 1, .max = 10000000,
	  .doc = "distinct meters that published since the start; more are refused" },
	{ .key = "meter_silence_days", .kind = CONFIG_UNSIGNED, .offset = FIELD(meter_silence_days), .default_text = "90", .min = 1, .max = 3650,
	  .doc = "a meter silent for longer is forgotten: dropped from the meter table and the journal" },
	{ .key = "price_source", .kind = CONFIG_CUSTOM, .default_text = "elia", .parse = parse_price_source,
	  .doc = "elia, energy-charts or none" },
	{ .key = "price_url", .kind = CONFIG_TEXT, .offset = FIELD(price_url), .check = check_price_url,
	  .doc = "base URL of the price source; none: the source's public address" },
	{ .key = "price_start", .kind = CONFIG_CUSTOM, .default_text = "2020-01-01", .parse = parse_price_start,
	  .doc = "first Brussels day kept in PxElectr" },
	{ .key = "price_timeout", .kind = CONFIG_UNSIGNED, .offset = FIELD(price_timeout_s), .default_text = "60", .min = 1, .max = 86400,
	  .doc = "seconds for one HTTP request" },
	{ .key = "price_lease", .kind = CONFIG_UNSIGNED, .offset = FIELD(price_lease_s), .default_text = "120", .min = 3, .max = 2 * 86400,
	  .doc = "seconds of the price-fetching lease: with several brokers on one database, one fetches; another takes over within 4/3 of this after it dies" },
	{ .key = "stats_prefix", .kind = CONFIG_TEXT, .offset = FIELD(stats_prefix), .default_text = "lowi-p1", .check = check_stats_prefix,
	  .doc = "the counters go to <prefix>/stats, retained" },
	{ .key = "stats_interval", .kind = CONFIG_UNSIGNED, .offset = FIELD(stats_interval_s), .default_text = "60", .min = 0, .max = 86400,
	  .doc = "seconds between two publications of the counters; 0: never" },
	{ .key = "db_tls_ca", .kind = CONFIG_TEXT, .offset = FIELD(db_tls_ca),
	  .doc = "CA file: TLS towards MariaDB, server certificate checked" },
	{ .key = "db_tls_verify", .kind = CONFIG_BOOL, .offset = FIELD(db_tls_verify), .default_text = "true",
	  .doc = "with db_tls_ca, also check the host name in the certificate" },
	{ .key = "live", .kind = CONFIG_BOOL, .offset = FIELD(live), .default_text = "true",
	  .doc = "publish each meter's live state and peak events" },
	{ .key = "peak_limit_kw", .kind = CONFIG_CUSTOM, .default_text = "0", .parse = parse_peak_limit_kw,
	  .doc = "target of the headroom and warnings instead of the month's peak; 0: none" },
	{ .key = "ha_discovery", .kind = CONFIG_BOOL, .offset = FIELD(ha_discovery), .default_text = "true",
	  .doc = "publish Home Assistant discovery configs" },
	{ .key = "ha_prefix", .kind = CONFIG_TEXT, .offset = FIELD(ha_prefix), .default_text = "homeassistant",
	  .check = check_ha_prefix, .doc = "Home Assistant's discovery prefix" },
};
const size_t config_option_count = sizeof(config_options) / sizeof(config_options[0]);
_Static_assert(sizeof(config_options) / sizeof(config_options[0]) <= 64, "struct lowi_config.given has one bit per option");

static void *field(struct lowi_config *cfg, const struct config_option *o)
{
	return (char *)cfg + o->offset;
}

static int apply(struct lowi_config *cfg, const struct config_option *o, const char *value, char *err, size_t errlen)
{
	switch (o->kind) {
	case CONFIG_TEXT:
		if (set_text(field(cfg, o), o->key, value, false, err, errlen) != 0)
			return -1;
		return o->check ? o->check(value, err, errlen) : 0;
	case CONFIG_SECRET:
		return set_text(field(cfg, o), o->key, value, true, err, errlen);
	case CONFIG_UNSIGNED:
		return set_unsigned(field(cfg, o), o->key, value, o->min, o->max, err, errlen);
	case CONFIG_BOOL:
		return set_bool(field(cfg, o), o->key, value, err, errlen);
	case CONFIG_CUSTOM:
		return o->parse(cfg, value, err, errlen);
	}
	return config_error(err, errlen, "plugin_opt_%s has no parser", o->key);
}

static bool is_text(const struct config_option *o)
{
	return o->kind == CONFIG_TEXT || o->kind == CONFIG_SECRET;
}

void config_defaults(struct lowi_config *cfg)
{
	char err[256];
	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < config_option_count; i++)
		if (config_options[i].default_text && !is_text(&config_options[i]))
			/* Cannot fail: tests/unit/test_readme.c parses every default. */
			(void)apply(cfg, &config_options[i], config_options[i].default_text, err, sizeof(err));
}

int config_set(struct lowi_config *cfg, const char *key, const char *value, char *err, size_t errlen)
{
	for (size_t i = 0; i < config_option_count; i++) {
		if (strcmp(key, config_options[i].key) != 0)
			continue;
		/* A repeated line is a mistake in the configuration whatever the
		 * option's kind: which of the two the operator meant is unknown. */
		if (cfg->given & ((uint64_t)1 << i))
			return config_error(err, errlen, "plugin_opt_%s is given twice", key);
		cfg->given |= (uint64_t)1 << i;
		return apply(cfg, &config_options[i], value, err, errlen);
	}
	return config_error(err, errlen, "unknown option plugin_opt_%s", key);
}

__attribute__((format(printf, 2, 3)))
static void config_warn(struct lowi_config *cfg, const char *fmt, ...)
{
	if (cfg->warning_count == CONFIG_WARNINGS)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cfg->warnings[cfg->warning_count++], sizeof(cfg->warnings[0]), fmt, ap);
	va_end(ap);
}

static int read_password_file(struct lowi_config *cfg, char *err, size_t errlen)
{
	struct stat st;
	FILE *f = fopen(cfg->db_password_file, "r");
	if (f != NULL && fstat(fileno(f), &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
		config_warn(cfg, "plugin_opt_db_password_file '%s' is readable by other users (mode %03o): chmod 600 it",
			cfg->db_password_file, (unsigned)(st.st_mode & 0777));
	if (f == NULL)
		return config_error(err, errlen, "plugin_opt_db_password_file '%s' cannot be read: %s",
			cfg->db_password_file, strerror(errno));
	/* Unbuffered: no stdio buffer, freed unwiped by fclose, keeps a copy. */
	setvbuf(f, NULL, _IONBF, 0);
	char buf[1024];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	bool too_long = n == sizeof(buf) - 1 && fgetc(f) != EOF;
	fclose(f);
	buf[n] = '\0';
	/* The first line is the password; editors add a trailing newline. */
	buf[strcspn(buf, "\r\n")] = '\0';
	if (too_long || buf[0] == '\0') {
		explicit_bzero(buf, sizeof(buf));
		return config_error(err, errlen, "plugin_opt_db_password_file '%s' %s", cfg->db_password_file,
			too_long ? "is longer than 1023 bytes" : "holds no password on its first line");
	}
	cfg->db_password = strdup(buf);
	explicit_bzero(buf, sizeof(buf));
	return cfg->db_password ? 0 : config_error(err, errlen, "out of memory reading plugin_opt_db_password_file");
}

int config_finish(struct lowi_config *cfg, char *err, size_t errlen)
{
	for (size_t i = 0; i < config_option_count; i++) {
		const struct config_option *o = &config_options[i];
		if (o->required && *(char **)field(cfg, o) == NULL)
			return config_error(err, errlen, "missing required option plugin_opt_%s", o->key);
	}
	if (cfg->db_password && cfg->db_password_file)
		return config_error(err, errlen, "plugin_opt_db_password and plugin_opt_db_password_file are both given: keep one");
	if (cfg->db_password_file && read_password_file(cfg, err, errlen) != 0)
		return -1;
	for (size_t i = 0; i < config_option_count; i++) {
		const struct config_option *o = &config_options[i];
		char **slot = field(cfg, o);
		if (is_text(o) && o->default_text && *slot == NULL && (*slot = strdup(o->default_text)) == NULL)
			return config_error(err, errlen, "out of memory");
	}
	if (cfg->db_tls_ca && access(cfg->db_tls_ca, R_OK) != 0)
		return config_error(err, errlen, "plugin_opt_db_tls_ca '%s' cannot be read: %s", cfg->db_tls_ca, strerror(errno));
	int nodes = config_db_hosts_parse(cfg->db_host, cfg->db_port, cfg->db_nodes, CONFIG_DB_NODES_MAX, err, errlen);
	if (nodes < 0)
		return -1;
	cfg->db_node_count = (unsigned)nodes;
	/* Any node may get the session: each one reached in clear is named. */
	char remote[256] = "";
	unsigned remotes = 0;
	for (unsigned i = 0; i < cfg->db_node_count; i++) {
		size_t used = strlen(remote);
		if (!config_db_host_is_local(cfg->db_nodes[i].host))
			snprintf(remote + used, sizeof(remote) - used, "%s%s", remotes++ ? ", " : "", cfg->db_nodes[i].host);
	}
	if (cfg->db_tls_ca == NULL && remotes > 0)
		config_warn(cfg, "plugin_opt_db_host '%s' %s not this machine (localhost, 127.0.0.1, ::1) and plugin_opt_db_tls_ca"
			" is not set: the password and every row cross the network in clear; set plugin_opt_db_tls_ca (README, Security)",
			remote, remotes > 1 ? "are" : "is");
	/* A holder renews its lease every third of it, and a request goes out
	 * only if it ends within the lease: the two thirds left must cover it.
	 * A longer timeout set alone (the lease is newer than it) lengthens
	 * the lease rather than stopping the broker from starting. */
	if (cfg->price_source != PRICE_SOURCE_NONE && 2 * (uint64_t)cfg->price_lease_s <= 3 * (uint64_t)cfg->price_timeout_s) {
		unsigned lease = 2 * cfg->price_timeout_s;
		config_warn(cfg, "plugin_opt_price_lease %u is too short for plugin_opt_price_timeout %u (it must be longer than"
			" 1.5 times the timeout): %u is used", cfg->price_lease_s, cfg->price_timeout_s, lease);
		cfg->price_lease_s = lease;
	}
	if (cfg->batch_rows > cfg->queue_rows)
		cfg->batch_rows = cfg->queue_rows;
	return 0;
}

bool config_db_host_is_local(const char *host)
{
	struct in_addr v4;
	struct in6_addr v6;
	if (strcmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, &v4) == 1)
		return (ntohl(v4.s_addr) >> 24) == 127;
	return inet_pton(AF_INET6, host, &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

void config_free(struct lowi_config *cfg)
{
	/* The password is read from db_password or from db_password_file into
	 * the same field, a CONFIG_SECRET: wiped before it is freed. */
	for (size_t i = 0; i < config_option_count; i++) {
		const struct config_option *o = &config_options[i];
		if (!is_text(o))
			continue;
		char **slot = field(cfg, o);
		if (*slot && o->kind == CONFIG_SECRET)
			explicit_bzero(*slot, strlen(*slot));
		free(*slot);
	}
	memset(cfg, 0, sizeof(*cfg));
}
