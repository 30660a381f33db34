/*
 * Plugin options (plugin_opt_<key> lines) and their validation.
 *
 * Called on the broker thread during mosquitto_plugin_init only. Every
 * string in struct lowi_config is owned by it and released by config_free,
 * which also wipes the password. Error texts never include the password.
 */
#ifndef LOWI_CONFIG_H
#define LOWI_CONFIG_H

#include <stddef.h>

#include "price_source.h"

struct lowi_config {
	char *db_host;
	unsigned db_port;
	char *db_socket;
	char *db_user;
	char *db_password;       /* from db_password or db_password_file */
	char *db_password_file;
	char *db_name;
	char *topic;             /* MQTT subscription filter of the LOWI CH0 topics */
	unsigned queue_rows;     /* rows held in memory while the database lags */
	unsigned db_timeout_s;   /* connect/read/write timeout towards MariaDB */
	unsigned batch_rows;     /* rows per transaction */
	unsigned max_meters;     /* distinct serials tracked; more are refused */
	/* price worker */
	int price_source;        /* enum price_source */
	char *price_url;         /* base URL; NULL = the source's public address */
	int price_start_year, price_start_month, price_start_day; /* first Brussels day kept */
	unsigned price_timeout_s; /* one HTTP request, connection included */
	/* health */
	char *stats_prefix;      /* counters go to <prefix>/stats, retained */
	unsigned stats_interval_s; /* 0: never published */
	/* TLS towards MariaDB */
	char *db_tls_ca;         /* CA file; enables TLS */
	unsigned db_tls_verify;  /* 1: the server certificate and name are checked */
	char *spool_dir;         /* rows waiting for the database, meter journal */
	char warning[512];       /* set by config_finish for the operator, "" if none */
};

void config_defaults(struct lowi_config *cfg);

/* Applies one option. Returns 0, or -1 with a one-line reason naming the key
 * in err (unknown key, bad value, repeated key). */
int config_set(struct lowi_config *cfg, const char *key, const char *value, char *err, size_t errlen);

/* Checks required keys and reads db_password_file. Returns 0 or -1 with err. */
int config_finish(struct lowi_config *cfg, char *err, size_t errlen);

void config_free(struct lowi_config *cfg);

#endif
