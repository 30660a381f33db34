/*
 * Plugin options (plugin_opt_<key> lines) and their validation.
 *
 * Called on the broker thread during mosquitto_plugin_init only. Every
 * string in struct lowi_config is owned by it and released by config_free,
 * which also wipes the password (explicit_bzero, as every buffer that held
 * it). Error texts never include the password.
 */
#ifndef LOWI_CONFIG_H
#define LOWI_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "price_source.h"

#define CONFIG_WARNINGS 4

/* db_host is a list of at most this many nodes. */
#define CONFIG_DB_NODES_MAX 16
#define CONFIG_DB_HOST_MAX 255

/* One database node of db_host: a host name or address (an IPv6 address
 * without its brackets) and its TCP port; "localhost" is the Unix socket
 * (db_socket), whatever the port. */
struct config_db_node {
	char host[CONFIG_DB_HOST_MAX + 1];
	unsigned port;
};

struct lowi_config {
	char *db_host;           /* as written; db_nodes holds it parsed */
	struct config_db_node db_nodes[CONFIG_DB_NODES_MAX]; /* set by config_finish, in the list's order */
	unsigned db_node_count;
	unsigned db_port;
	char *db_socket;
	char *db_user;
	char *db_password;       /* from db_password or db_password_file */
	char *db_password_file;
	char *db_name;
	char *topic;             /* MQTT subscription filter of the LOWI CH0 topics */
	unsigned max_power_kw;   /* a quarter averaging more import or export is implausible */
	unsigned queue_rows;     /* rows held in memory while the database lags */
	unsigned db_timeout_s;   /* connect/read/write timeout towards MariaDB */
	unsigned batch_rows;     /* rows per transaction */
	unsigned max_meters;     /* meters heard since the start; more are refused */
	unsigned meter_silence_days; /* a meter silent longer is forgotten */
	/* price worker */
	int price_source;        /* enum price_source */
	char *price_url;         /* base URL; NULL = the source's public address */
	int price_start_year, price_start_month, price_start_day; /* first Brussels day kept */
	unsigned price_timeout_s; /* one HTTP request, connection included */
	unsigned price_lease_s;  /* the price-fetching lease among brokers sharing a database */
	/* health */
	char *stats_prefix;      /* counters go to <prefix>/stats, retained */
	unsigned stats_interval_s; /* 0: never published */
	/* TLS towards MariaDB */
	char *db_tls_ca;         /* CA file; enables TLS */
	unsigned db_tls_verify;  /* 1: the server certificate and name are checked */
	char *spool_dir;         /* rows waiting for the database, meter journal */
	/* capacity tariff */
	unsigned live;           /* 1: <stats_prefix>/<serial>/live and /peak are published */
	unsigned ha_discovery;   /* 1: Home Assistant discovery configs are published */
	char *ha_prefix;         /* Home Assistant's discovery prefix */
	double peak_limit_kw;    /* the target of headroom and warnings; 0: the month's peak */
	/* Set by config_finish for the operator: what works but should not be
	 * left so (a readable password file, a remote database in clear). */
	char warnings[CONFIG_WARNINGS][512];
	unsigned warning_count;
	uint64_t given;          /* bit i: config_options[i] was set by config_set */
};

/*
 * The options' table: config_defaults, config_set, config_finish and the
 * README check (tests/unit/test_readme.c) all read it, so an option exists
 * in all of them or in none. Read-only; any thread.
 */
enum config_kind {
	CONFIG_TEXT,     /* char *, at most 1024 bytes, then `check` if any */
	CONFIG_SECRET,   /* char *, any length, never echoed */
	CONFIG_UNSIGNED, /* unsigned, a whole number from min to max */
	CONFIG_BOOL,     /* unsigned 0/1, written true or false */
	CONFIG_CUSTOM,   /* `parse` reads it into its field(s) */
};

struct config_option {
	const char *key;          /* plugin_opt_<key> */
	enum config_kind kind;
	size_t offset;            /* of its field in struct lowi_config (not CONFIG_CUSTOM) */
	const char *default_text; /* the default as an operator would write it; NULL: none */
	bool required;
	unsigned min, max;        /* CONFIG_UNSIGNED */
	/* CONFIG_TEXT: further rules on the stored value; 0 or -1 with err. */
	int (*check)(const char *value, char *err, size_t errlen);
	/* CONFIG_CUSTOM: the whole parse; 0 or -1 with err. */
	int (*parse)(struct lowi_config *cfg, const char *value, char *err, size_t errlen);
	const char *doc;          /* one line, for the reader of the table */
};

extern const struct config_option config_options[];
extern const size_t config_option_count;

/* Every option at its default; text defaults are applied by config_finish
 * to the options config_set left unset, so no default string is ever
 * allocated only to be replaced. */
void config_defaults(struct lowi_config *cfg);

/* Applies one option. Returns 0, or -1 with a one-line reason naming the key
 * in err (unknown key, bad value, a key given twice, whatever its kind). */
int config_set(struct lowi_config *cfg, const char *key, const char *value, char *err, size_t errlen);

/* Checks required keys, reads db_password_file and applies the text
 * defaults. Returns 0 or -1 with err; what deserves a warning but not a
 * refusal goes to cfg->warnings. */
int config_finish(struct lowi_config *cfg, char *err, size_t errlen);

/* Parses a db_host list: comma-separated entries "host", "host:port" or
 * "[IPv6 address]:port" (a bare IPv6 address is one host without a port),
 * spaces around an entry ignored; an entry without a port gets
 * default_port. Pure: any thread. Returns the number of nodes written to
 * nodes (at most max), or -1 with a one-line reason naming the entry in
 * err (empty entry, bad port, unclosed bracket, a port on localhost, a
 * node given twice, too many nodes). */
int config_db_hosts_parse(const char *list, unsigned default_port, struct config_db_node *nodes, size_t max,
	char *err, size_t errlen);

/* How the log names node i of cfg->db_nodes: "host:port", "[v6]:port", or
 * "localhost (Unix socket[ path])". Any thread once config_finish is done. */
void config_db_node_text(const struct lowi_config *cfg, unsigned i, char *out, size_t outlen);

/* True for a db_host on this machine: "localhost" (the Unix socket),
 * 127.0.0.0/8 or ::1. Any other host gets a warning without db_tls_ca. */
bool config_db_host_is_local(const char *host);

void config_free(struct lowi_config *cfg);

#endif
