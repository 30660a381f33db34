/* The option parser's rules that hold for every option, whatever its kind:
 * an unknown key and a repeated key are refused with a line naming the key.
 * Also the start-up warnings about a database reached in clear, and the
 * db_host list of database nodes. */
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

/* db_host as a list of nodes: what each entry becomes, and each mistake
 * refused with a line naming the entry. */
static void check_db_hosts(void)
{
	struct config_db_node n[CONFIG_DB_NODES_MAX];
	char err[512] = "";
	int count = config_db_hosts_parse("db1, db2:3307,[fd00::2]:3308,::1,[::1],10.0.0.7:1,localhost", 3306, n,
		CONFIG_DB_NODES_MAX, err, sizeof(err));
	static const struct config_db_node want[] = {
		{ "db1", 3306 }, { "db2", 3307 }, { "fd00::2", 3308 }, { "::1", 3306 }, { "::1", 3306 }, { "10.0.0.7", 1 },
		{ "localhost", 3306 },
	};
	/* "::1" twice: the same node, refused below; parsed here one by one. */
	CHECK(count == -1 && strstr(err, "[::1]") && strstr(err, "entry 4"), "the same node twice is refused, naming both: %s", err);
	count = config_db_hosts_parse("db1, db2:3307,[fd00::2]:3308,::1,10.0.0.7:1,localhost", 3306, n, CONFIG_DB_NODES_MAX,
		err, sizeof(err));
	CHECK(count == 6, "six nodes: %d (%s)", count, err);
	for (int i = 0, j = 0; i < count && j < 7; i++, j++) {
		if (j == 4)
			j++;
		CHECK(strcmp(n[i].host, want[j].host) == 0 && n[i].port == want[j].port, "node %d is %s port %u: %s port %u",
			i + 1, want[j].host, want[j].port, n[i].host, n[i].port);
	}
	static const struct { const char *list, *names; } bad[] = {
		{ "", "entry 1 is empty" }, { "db1,,db2", "entry 2 is empty" }, { "db1, ", "entry 2 is empty" },
		{ "db1,db2:", "'db2:'" }, { "db1:0", "'db1:0'" }, { "db1:65536", "'db1:65536'" }, { "db1:33o6", "'db1:33o6'" },
		{ "db1:-1", "'db1:-1'" }, { "db1:123456", "'db1:123456'" }, { "[::1:3306", "'[::1:3306'" },
		{ "[::1]3306", "'[::1]3306'" }, { "[]:3306", "'[]:3306'" }, { "[db1]:3306", "'[db1]:3306'" },
		{ "fd00::2:3306:x", "'fd00::2:3306:x'" }, { ":3306", "':3306'" }, { "db 1", "'db 1'" }, { "db/1", "'db/1'" },
		{ "localhost:3307", "'localhost:3307'" }, { "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q", "more than 16" },
		{ "db1:3306,db1", "'db1'" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		count = config_db_hosts_parse(bad[i].list, 3306, n, CONFIG_DB_NODES_MAX, err, sizeof(err));
		CHECK(count == -1 && strstr(err, "plugin_opt_db_host") && strstr(err, bad[i].names),
			"db_host '%s' refused, naming %s: %s", bad[i].list, bad[i].names, err);
	}

	/* Through the options: db_port is the port of the entries without one,
	 * whichever line comes first; a bad list fails at its own line. */
	struct lowi_config cfg;
	config_defaults(&cfg);
	config_set(&cfg, "db_user", "u", err, sizeof(err));
	CHECK(config_set(&cfg, "db_host", "127.0.0.1,127.0.0.2:4000", err, sizeof(err)) == 0, "a list accepted: %s", err);
	config_set(&cfg, "db_port", "3310", err, sizeof(err));
	CHECK(config_finish(&cfg, err, sizeof(err)) == 0 && cfg.db_node_count == 2 && cfg.db_nodes[0].port == 3310
		&& cfg.db_nodes[1].port == 4000 && cfg.warning_count == 0,
		"127.0.0.1 on db_port 3310, 127.0.0.2 on 4000, no warning: %u nodes, %s", cfg.db_node_count, err);
	char text[300];
	config_db_node_text(&cfg, 0, text, sizeof(text));
	CHECK(strcmp(text, "127.0.0.1:3310") == 0, "node 1 logged as 127.0.0.1:3310: %s", text);
	config_free(&cfg);
	config_defaults(&cfg);
	config_set(&cfg, "db_user", "u", err, sizeof(err));
	CHECK(config_finish(&cfg, err, sizeof(err)) == 0 && cfg.db_node_count == 1 && strcmp(cfg.db_nodes[0].host, "localhost") == 0,
		"the default is one node, localhost: %s", err);
	config_db_node_text(&cfg, 0, text, sizeof(text));
	CHECK(strstr(text, "Unix socket") != NULL, "localhost logged as the Unix socket: %s", text);
	config_free(&cfg);
	config_defaults(&cfg);
	CHECK(config_set(&cfg, "db_host", "db1,[fd00::1", err, sizeof(err)) == -1 && strstr(err, "'[fd00::1'")
		&& strstr(err, "]"), "an unclosed bracket refused at its line: %s", err);
	config_free(&cfg);
	config_defaults(&cfg);
	config_set(&cfg, "db_user", "u", err, sizeof(err));
	config_set(&cfg, "db_host", "[fd00::7]:3306", err, sizeof(err));
	config_set(&cfg, "db_tls_ca", LOWI_CONFIG_TEST_CA, err, sizeof(err));
	CHECK(config_finish(&cfg, err, sizeof(err)) == 0, "an IPv6 node with TLS: %s", err);
	config_db_node_text(&cfg, 0, text, sizeof(text));
	CHECK(strcmp(text, "[fd00::7]:3306") == 0, "an IPv6 node logged in brackets: %s", text);
	config_free(&cfg);

	/* The clear-text warning looks at every node, not the first only. */
	char w[2048];
	warnings_for("127.0.0.1:3307,db2.example.org,[::1]:3308,192.0.2.9:3306", NULL, w, sizeof(w));
	CHECK(strstr(w, "'db2.example.org, 192.0.2.9' are not") && strstr(w, "in clear"),
		"a list with remote nodes: warned, naming each remote one only: %s", w);
	CHECK(warnings_for("127.0.0.1:3307,127.0.0.1:3308,localhost", NULL, w, sizeof(w))[0] == '\0',
		"a list of local nodes: no warning (%s)", w);
}

/* One option's value alone: 0 or -1 with err naming the key. */
static int set_one(const char *key, const char *value, struct lowi_config *cfg, char *err, size_t errlen)
{
	config_defaults(cfg);
	err[0] = '\0';
	return config_set(cfg, key, value, err, errlen);
}

/* The capacity-tariff options: their defaults and what each refuses. */
static void check_capacity_options(void)
{
	char err[256] = "";
	struct lowi_config cfg;
	config_defaults(&cfg);
	config_set(&cfg, "db_user", "u", err, sizeof(err));
	CHECK(config_finish(&cfg, err, sizeof(err)) == 0, "defaults finish: %s", err);
	CHECK(cfg.live == 1 && cfg.ha_discovery == 1 && cfg.peak_limit_kw == 0.0 && cfg.ha_prefix
		&& strcmp(cfg.ha_prefix, "homeassistant") == 0,
		"defaults: live %u, ha_discovery %u, peak_limit_kw %g, ha_prefix %s",
		cfg.live, cfg.ha_discovery, cfg.peak_limit_kw, cfg.ha_prefix ? cfg.ha_prefix : "(null)");
	config_free(&cfg);

	static const struct { const char *value; double kw; } good[] = {
		{ "0", 0.0 }, { "2.5", 2.5 }, { "3", 3.0 }, { ".75", 0.75 }, { "10000", 10000.0 },
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		CHECK(set_one("peak_limit_kw", good[i].value, &cfg, err, sizeof(err)) == 0 && cfg.peak_limit_kw == good[i].kw,
			"peak_limit_kw %s is %g kW: %s", good[i].value, good[i].kw, err);
		config_free(&cfg);
	}
	static const char *const bad_kw[] = { "", "-1", "+2", " 2", "nan", "inf", "2.5kW", "2,5", "10000.5", "1e9" };
	for (size_t i = 0; i < sizeof(bad_kw) / sizeof(bad_kw[0]); i++) {
		CHECK(set_one("peak_limit_kw", bad_kw[i], &cfg, err, sizeof(err)) == -1 && strstr(err, "plugin_opt_peak_limit_kw"),
			"peak_limit_kw '%s' refused, naming it: %s", bad_kw[i], err);
		config_free(&cfg);
	}
	static const char *const bad_prefix[] = { "", "ha/#", "+/ha", "homeassistant/" };
	for (size_t i = 0; i < sizeof(bad_prefix) / sizeof(bad_prefix[0]); i++) {
		CHECK(set_one("ha_prefix", bad_prefix[i], &cfg, err, sizeof(err)) == -1 && strstr(err, "plugin_opt_ha_prefix"),
			"ha_prefix '%s' refused, naming it: %s", bad_prefix[i], err);
		config_free(&cfg);
	}
	CHECK(set_one("ha_prefix", "site1/homeassistant", &cfg, err, sizeof(err)) == 0
		&& strcmp(cfg.ha_prefix, "site1/homeassistant") == 0, "ha_prefix with levels accepted: %s", err);
	config_free(&cfg);
	CHECK(set_one("live", "false", &cfg, err, sizeof(err)) == 0 && cfg.live == 0, "live false: %s", err);
	config_free(&cfg);
	CHECK(set_one("ha_discovery", "false", &cfg, err, sizeof(err)) == 0 && cfg.ha_discovery == 0, "ha_discovery false: %s", err);
	config_free(&cfg);
	CHECK(set_one("ha_discovery", "yes", &cfg, err, sizeof(err)) == -1 && strstr(err, "plugin_opt_ha_discovery"),
		"ha_discovery yes refused: %s", err);
	config_free(&cfg);
}

/* The price lease must outlast a request by half: a longer price_timeout
 * set alone lengthens it, with a warning, rather than stop the broker. */
static void check_price_lease(void)
{
	static const struct { const char *timeout, *lease, *source; unsigned want; bool warned; } cases[] = {
		{ NULL, NULL, NULL, 120, false },        /* defaults: 60 s timeout, 120 s lease */
		{ "2", "4", NULL, 4, false },            /* 4 > 1.5 x 2 */
		{ "80", NULL, NULL, 160, true },         /* 120 <= 1.5 x 80 */
		{ "86400", NULL, NULL, 172800, true },
		{ "3600", NULL, "none", 120, false },    /* nothing fetched: no lease taken */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[256] = "";
		struct lowi_config cfg;
		config_defaults(&cfg);
		config_set(&cfg, "db_user", "u", err, sizeof(err));
		if (cases[i].timeout)
			config_set(&cfg, "price_timeout", cases[i].timeout, err, sizeof(err));
		if (cases[i].lease)
			config_set(&cfg, "price_lease", cases[i].lease, err, sizeof(err));
		if (cases[i].source)
			config_set(&cfg, "price_source", cases[i].source, err, sizeof(err));
		int rc = config_finish(&cfg, err, sizeof(err));
		bool warned = cfg.warning_count == 1 && strstr(cfg.warnings[0], "plugin_opt_price_lease");
		CHECK(rc == 0 && cfg.price_lease_s == cases[i].want && warned == cases[i].warned,
			"timeout %s lease %s: lease %u (want %u), warned %d: %s", cases[i].timeout ? cases[i].timeout : "-",
			cases[i].lease ? cases[i].lease : "-", cfg.price_lease_s, cases[i].want, warned,
			cfg.warning_count ? cfg.warnings[0] : err);
		config_free(&cfg);
	}
}

int main(void)
{
	check_price_lease();
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
	check_db_hosts();
	check_capacity_options();
	return check_finish("config");
}
