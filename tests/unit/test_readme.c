/*
 * The README's counters and options tables against the tables the plugin
 * is built from (LOWI_STATS in plugin/stats.h, config_options[] in
 * plugin/config.c): a row missing on either side fails with its name. Also
 * checks what the two tables promise the code: every option default parses,
 * every counter reaches the JSON and the status lines, and no status line
 * outgrows a mosquitto log line.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "check.h"
#include "config.h"
#include "stats.h"

#define MAX_ROWS 128

struct readme_row {
	char name[64];   /* the first cell, between backticks */
	char second[256]; /* the second cell, trimmed */
};

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *text = malloc((size_t)n + 1);
	if (text && fread(text, 1, (size_t)n, f) != (size_t)n) {
		free(text);
		text = NULL;
	}
	if (text)
		text[n] = '\0';
	fclose(f);
	return text;
}

static void copy_trimmed(char *dst, size_t size, const char *from, const char *to)
{
	while (from < to && *from == ' ')
		from++;
	while (to > from && to[-1] == ' ')
		to--;
	size_t n = (size_t)(to - from) < size - 1 ? (size_t)(to - from) : size - 1;
	memcpy(dst, from, n);
	dst[n] = '\0';
}

/* The rows "| `name` | second | ..." under the heading line `heading`, up to
 * the next heading outside a code block. Returns their count, or -1 when the
 * heading is absent. */
static int readme_table(const char *readme, const char *heading, struct readme_row *rows)
{
	size_t hl = strlen(heading);
	const char *line = readme;
	while (line && !(strncmp(line, heading, hl) == 0 && (line[hl] == '\n' || line[hl] == '\0')))
		line = (line = strchr(line, '\n')) ? line + 1 : NULL;
	if (line == NULL)
		return -1;
	int count = 0;
	bool in_code = false;
	for (line = strchr(line, '\n'); line && *++line; line = strchr(line, '\n')) {
		if (strncmp(line, "```", 3) == 0)
			in_code = !in_code;
		if (!in_code && line[0] == '#')
			break;
		if (strncmp(line, "| `", 3) != 0 || count == MAX_ROWS)
			continue;
		const char *name = line + 3, *name_end = strchr(name, '`');
		const char *cell = name_end ? strchr(name_end, '|') : NULL;
		const char *cell_end = cell ? strchr(cell + 1, '|') : NULL;
		if (cell_end == NULL)
			continue;
		copy_trimmed(rows[count].name, sizeof(rows[count].name), name, name_end);
		copy_trimmed(rows[count].second, sizeof(rows[count].second), cell + 1, cell_end);
		count++;
	}
	return count;
}

static const struct readme_row *find_row(const struct readme_row *rows, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(rows[i].name, name) == 0)
			return &rows[i];
	return NULL;
}

/* One row a table of the code promises the README. */
struct wanted_row {
	const char *name;
	char second[256]; /* the second cell exactly; "" for any text but a literal or "(required)" */
};

static void compare_table(const char *readme, const char *heading, const char *what, const char *source,
	const struct wanted_row *want, size_t count)
{
	struct readme_row rows[MAX_ROWS];
	int n = readme_table(readme, heading, rows);
	CHECK(n > 0, "README.md has no \"%s\" section with a table", heading);
	for (size_t i = 0; i < count; i++) {
		const struct readme_row *r = find_row(rows, n, want[i].name);
		CHECK(r != NULL, "%s `%s` is in %s but not in README.md's table under \"%s\"", what, want[i].name, source, heading);
		if (r && want[i].second[0])
			CHECK(strcmp(r->second, want[i].second) == 0, "%s `%s`: README.md's second column says %s, %s says %s",
				what, want[i].name, r->second, source, want[i].second);
		else if (r)
			CHECK(r->second[0] != '`' && strcmp(r->second, "(required)") != 0,
				"%s `%s`: README.md's second column says %s, %s has no default", what, want[i].name, r->second, source);
	}
	for (int i = 0; i < n; i++) {
		bool known = false;
		for (size_t j = 0; j < count; j++)
			known = known || strcmp(rows[i].name, want[j].name) == 0;
		CHECK(known, "%s `%s` is in README.md's table under \"%s\" but not in %s", what, rows[i].name, heading, source);
	}
}

static void check_counters_table(const char *readme)
{
	struct wanted_row want[MAX_ROWS];
	size_t count = 0;
	for (size_t i = 0; i < stats_counter_count && count < MAX_ROWS; i++, count++) {
		want[count].name = stats_counters[i].name;
		snprintf(want[count].second, sizeof(want[count].second), "%s", stats_thread_name(stats_counters[i].thread));
	}
	compare_table(readme, "### Counters", "counter", "LOWI_STATS (plugin/stats.h)", want, count);
}

static void check_options_table(const char *readme)
{
	struct wanted_row want[MAX_ROWS];
	size_t count = 0;
	for (size_t i = 0; i < config_option_count && count < MAX_ROWS; i++, count++) {
		const struct config_option *o = &config_options[i];
		want[count].name = o->key;
		if (o->required)
			snprintf(want[count].second, sizeof(want[count].second), "(required)");
		else if (o->default_text)
			snprintf(want[count].second, sizeof(want[count].second), "`%s`", o->default_text);
		else
			want[count].second[0] = '\0';
	}
	compare_table(readme, "## Options", "option", "config_options[] (plugin/config.c)", want, count);
}

/* A default that does not parse would leave its field at zero unnoticed. */
static void check_option_defaults(void)
{
	for (size_t i = 0; i < config_option_count; i++) {
		const struct config_option *o = &config_options[i];
		CHECK(!o->required || o->kind == CONFIG_TEXT || o->kind == CONFIG_SECRET,
			"option `%s`: only a text option can be required", o->key);
		if (o->default_text == NULL)
			continue;
		struct lowi_config cfg;
		char err[512] = "";
		config_defaults(&cfg);
		CHECK(config_set(&cfg, o->key, o->default_text, err, sizeof(err)) == 0,
			"option `%s`: its default '%s' does not parse: %s", o->key, o->default_text, err);
		config_free(&cfg);
	}
	struct lowi_config cfg;
	char err[512] = "";
	config_defaults(&cfg);
	CHECK(config_set(&cfg, "db_user", "u", err, sizeof(err)) == 0 && config_finish(&cfg, err, sizeof(err)) == 0, "%s", err);
	CHECK(cfg.db_port == 3306 && cfg.db_tls_verify == 1 && cfg.price_start_year == 2020 && strcmp(cfg.topic, "+/PUB/CH0") == 0,
		"defaults applied: port %u, tls_verify %u, price_start %d, topic %s", cfg.db_port, cfg.db_tls_verify,
		cfg.price_start_year, cfg.topic);
	config_free(&cfg);
}

struct lines {
	char text[4096];
	size_t len;
	int count;
	size_t longest;
};

static void collect_line(void *ctx, const char *text)
{
	struct lines *l = ctx;
	size_t n = strlen(text);
	l->count++;
	l->longest = n > l->longest ? n : l->longest;
	l->len += (size_t)snprintf(l->text + l->len, sizeof(l->text) - l->len, "%s\n", text);
}

static void check_outputs(void)
{
	struct lowi_stats s;
	memset(&s, 0, sizeof(s));
	for (size_t i = 0; i < stats_counter_count; i++)
		atomic_store((_Atomic uint64_t *)((char *)&s + stats_counters[i].offset), UINT64_MAX - i);
	CHECK(sizeof(s) == stats_counter_count * sizeof(uint64_t), "struct lowi_stats holds only LOWI_STATS' counters");

	char json[4096] = "{";
	int n = stats_format_json(&s, json + 1, sizeof(json) - 2);
	CHECK(n > 0, "the JSON fits in 4096 bytes");
	strcat(json, "}");
	json_error_t jerr;
	json_t *root = json_loads(json, JSON_DECODE_INT_AS_REAL, &jerr); /* jansson's integers stop at INT64_MAX */
	CHECK(root != NULL, "the stats JSON parses: %s", jerr.text);

	struct lines l = { .len = 0 };
	stats_format_lines(&s, collect_line, &l);
	/* mosquitto keeps 999 bytes of a line; the timestamp and "lowi-p1: stopping: " come first. */
	CHECK(l.longest <= 900, "longest status line %zu bytes", l.longest);
	CHECK(l.count >= STATS_THREAD_COUNT, "%d status lines", l.count);

	for (size_t i = 0; i < stats_counter_count; i++) {
		const struct stats_counter *c = &stats_counters[i];
		char item[96];
		snprintf(item, sizeof(item), "%s %ju", c->name, (uintmax_t)(UINT64_MAX - i));
		CHECK(strstr(l.text, item) != NULL, "`%s` in the status lines", c->name);
		json_t *v = root ? json_object_get(root, c->name) : NULL;
		CHECK(v != NULL && json_is_number(v), "`%s` in the JSON", c->name);
		/* One status line per thread: a thread's rows must stay together. */
		for (size_t j = 0; i > 0 && c->thread != stats_counters[i - 1].thread && j < i; j++)
			CHECK(stats_counters[j].thread != c->thread, "LOWI_STATS: `%s` is apart from the other %s counters",
				c->name, stats_thread_name(c->thread));
	}
	json_decref(root);
}

int main(void)
{
	char *readme = read_all(LOWI_README);
	CHECK(readme != NULL, "cannot read %s", LOWI_README);
	if (readme) {
		check_counters_table(readme);
		check_options_table(readme);
	}
	free(readme);
	check_option_defaults();
	check_outputs();
	return check_finish("readme");
}
