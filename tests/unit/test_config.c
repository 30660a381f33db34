/* The option parser's rules that hold for every option, whatever its kind:
 * an unknown key and a repeated key are refused with a line naming the key.
 * Also the start-up warnings about a database reached in clear. */
#include <string.h>

#include "check.h"
#include "config.h"

/* A configuration with db_user and the given host (and CA file, or NULL),
 * finished; returns its warnings joined. */
static const char *warnings_for(const char *host, const char *tls_ca, char *out, size_t size)
{
	char err[256] = "";
	struct lowi_config cfg;
	config_defaults(&cfg);
	config_set(&cfg, "db_user", "u", err, sizeof(err));
	config_set(&cfg, "db_host", host, err, sizeof(err));
	if (tls_ca)
		config_set(&cfg, "db_tls_ca", tls_ca, err, sizeof(err));
	CHECK(config_finish(&cfg, err, sizeof(err)) == 0, "db_host %s: %s", host, err);
	out[0] = '\0';
	for (unsigned i = 0; i < cfg.warning_count; i++)
		snprintf(out + strlen(out), size - strlen(out), "%s;", cfg.warnings[i]);
	config_free(&cfg);
	return out;
}

static void check_remote_host(void)
{
	static const char *const local[] = { "localhost", "127.0.0.1", "127.1.2.3", "::1" };
	static const char *const remote[] = { "192.0.2.10", "db.example.org", "10.0.0.5", "2001:db8::1", "128.0.0.1" };
	char w[2048];
	for (size_t i = 0; i < sizeof(local) / sizeof(local[0]); i++)
		CHECK(config_db_host_is_local(local[i]) && warnings_for(local[i], NULL, w, sizeof(w))[0] == '\0',
			"db_host %s is this machine: no warning (%s)", local[i], w);
	for (size_t i = 0; i < sizeof(remote) / sizeof(remote[0]); i++) {
		CHECK(!config_db_host_is_local(remote[i]), "db_host %s is another machine", remote[i]);
		warnings_for(remote[i], NULL, w, sizeof(w));
		CHECK(strstr(w, remote[i]) && strstr(w, "in clear") && strstr(w, "plugin_opt_db_tls_ca"),
			"db_host %s without TLS: warned, naming the host and the fix: %s", remote[i], w);
		CHECK(warnings_for(remote[i], LOWI_CONFIG_TEST_CA, w, sizeof(w))[0] == '\0',
			"db_host %s with db_tls_ca: no warning (%s)", remote[i], w);
	}
}

int main(void)
{
	char err[256];
	for (size_t i = 0; i < config_option_count; i++) {
		const struct config_option *o = &config_options[i];
		/* A value the option accepts: its default, or any text. */
		const char *value = o->default_text ? o->default_text : "x";
		if (strcmp(o->key, "topic") == 0)
			value = "+/PUB/CH0";
		if (strcmp(o->key, "price_url") == 0)
			value = "http://127.0.0.1:8080";
		struct lowi_config cfg;
		config_defaults(&cfg);
		err[0] = '\0';
		int first = config_set(&cfg, o->key, value, err, sizeof(err));
		CHECK(first == 0, "plugin_opt_%s %s accepted once: %s", o->key, value, err);
		int second = config_set(&cfg, o->key, value, err, sizeof(err));
		CHECK(second == -1 && strstr(err, o->key) && strstr(err, "twice"),
			"plugin_opt_%s given twice is refused, naming it: %s", o->key, err);
		config_free(&cfg);
	}
	struct lowi_config cfg;
	config_defaults(&cfg);
	CHECK(config_set(&cfg, "db_hots", "x", err, sizeof(err)) == -1 && strstr(err, "unknown option plugin_opt_db_hots"),
		"an unknown key is refused, naming it: %s", err);
	config_free(&cfg);
	check_remote_host();
	return check_finish("config");
}
