/* The option parser's rules that hold for every option, whatever its kind:
 * an unknown key and a repeated key are refused with a line naming the key. */
#include <string.h>

#include "check.h"
#include "config.h"

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
	return check_finish("config");
}
