/*
 * Home Assistant discovery configs (plugin/ha_discovery.c): the messages a
 * meter gets, their removal, what reaches a payload from outside (escaped,
 * or refused), and bytes stable from one call (one restart) to the next.
 * Whether each config is one Home Assistant accepts is checked against HA's
 * own tables by check_ha_discovery.py, which reads `--dump`.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "check.h"
#include "ha_discovery.h"
#include "topic.h"

#define MAX_MESSAGES 64

struct message {
	char topic[HA_DISCOVERY_TOPIC_MAX];
	char *payload;
	size_t len;
};

struct inbox {
	struct message m[MAX_MESSAGES];
	size_t n;
	size_t bad_len; /* payloads whose len was not strlen */
};

static void collect(void *ctx, const char *topic, const char *payload, size_t len)
{
	struct inbox *in = ctx;
	if (strlen(payload) != len)
		in->bad_len++;
	if (in->n == MAX_MESSAGES)
		return;
	struct message *m = &in->m[in->n++];
	snprintf(m->topic, sizeof(m->topic), "%s", topic);
	m->payload = strdup(payload);
	m->len = len;
}

static void inbox_free(struct inbox *in)
{
	for (size_t i = 0; i < in->n; i++)
		free(in->m[i].payload);
	in->n = 0;
}

static struct ha_discovery_meter meter(const char *serial, bool gas, bool water)
{
	return (struct ha_discovery_meter){ .discovery_prefix = "homeassistant", .stats_prefix = "lowi-p1",
		.serial = serial, .has_gas = gas, .has_water = water, .expire_after_s = 300 };
}

static bool has_topic(const struct inbox *in, const char *topic)
{
	for (size_t i = 0; i < in->n; i++)
		if (strcmp(in->m[i].topic, topic) == 0)
			return true;
	return false;
}

/* Counts, parse, distinct topics, and removal covering every config. */
static void check_meter(bool gas, bool water)
{
	struct ha_discovery_meter m = meter("4c75252e8c51", gas, water);
	struct inbox in = { 0 }, out = { 0 };
	size_t expected = HA_DISCOVERY_ENTITY_COUNT - !gas - !water;
	size_t n = ha_discovery_configs(&m, collect, &in);
	CHECK(n == expected && in.n == n && ha_discovery_config_count(&m) == n,
		"gas %d water %d: %zu configs emitted, %zu returned, count says %zu, expected %zu",
		gas, water, in.n, n, ha_discovery_config_count(&m), expected);
	CHECK(in.bad_len == 0, "every len is the payload's length");
	for (size_t i = 0; i < in.n; i++) {
		json_error_t err;
		json_t *j = json_loads(in.m[i].payload, 0, &err);
		CHECK(j && json_is_object(j), "%s: payload is a JSON object: %s", in.m[i].topic, err.text);
		json_t *stat_t = json_object_get(j, "stat_t");
		CHECK(stat_t && strcmp(json_string_value(stat_t), "lowi-p1/4c75252e8c51/live") == 0,
			"%s reads the meter's live topic", in.m[i].topic);
		json_decref(j);
		for (size_t k = 0; k < i; k++)
			CHECK(strcmp(in.m[i].topic, in.m[k].topic) != 0, "topic %s emitted once", in.m[i].topic);
		CHECK((strstr(in.m[i].topic, "/gas/") != NULL) <= gas && (strstr(in.m[i].topic, "/water/") != NULL) <= water,
			"%s: gas and water only for a meter that has them", in.m[i].topic);
	}
	size_t r = ha_discovery_remove(&m, collect, &out);
	CHECK(r == HA_DISCOVERY_ENTITY_COUNT && out.n == r, "removal: %zu messages, every entity's", out.n);
	for (size_t i = 0; i < out.n; i++)
		CHECK(out.m[i].len == 0 && out.m[i].payload[0] == '\0', "removal of %s is an empty payload", out.m[i].topic);
	for (size_t i = 0; i < in.n; i++)
		CHECK(has_topic(&out, in.m[i].topic), "removal covers %s", in.m[i].topic);
	inbox_free(&in);
	inbox_free(&out);
}

/* The same meter twice (as after a restart): the same bytes. */
static void check_stable(void)
{
	struct ha_discovery_meter m = meter("4c75252e8c51", true, true);
	struct inbox a = { 0 }, b = { 0 };
	ha_discovery_configs(&m, collect, &a);
	ha_discovery_configs(&m, collect, &b);
	CHECK(a.n == b.n && a.n > 0, "two runs emit as many configs");
	for (size_t i = 0; i < a.n && i < b.n; i++)
		CHECK(strcmp(a.m[i].topic, b.m[i].topic) == 0 && strcmp(a.m[i].payload, b.m[i].payload) == 0,
			"%s identical across runs", a.m[i].topic);
	inbox_free(&a);
	inbox_free(&b);
}

/* A serial that cannot be a topic level or an HA id gets nothing. */
static void check_bad_serials(void)
{
	char long_serial[LOWI_SERIAL_MAX + 2];
	memset(long_serial, 'a', sizeof(long_serial) - 1);
	long_serial[sizeof(long_serial) - 1] = '\0';
	const char *bad[] = { "", long_serial, "a/b", "a+b", "a#", "a\"b", "a b", "caf\xc3\xa9", "a.b" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ha_discovery_meter m = meter(bad[i], true, true);
		struct inbox in = { 0 };
		size_t n = ha_discovery_configs(&m, collect, &in) + ha_discovery_remove(&m, collect, &in);
		CHECK(n == 0 && in.n == 0 && ha_discovery_config_count(&m) == 0, "serial '%s': no message (%zu)", bad[i], in.n);
		inbox_free(&in);
	}
	long_serial[LOWI_SERIAL_MAX] = '\0';
	struct ha_discovery_meter m = meter(long_serial, false, false);
	CHECK(ha_discovery_config_count(&m) == HA_DISCOVERY_ENTITY_COUNT - 2, "a serial of LOWI_SERIAL_MAX is served");
	m.serial = NULL;
	CHECK(ha_discovery_config_count(&m) == 0, "no serial: nothing");
	m = meter("abc", false, false);
	m.stats_prefix = "";
	CHECK(ha_discovery_config_count(&m) == 0, "empty stats prefix: nothing");
}

/* The stats prefix reaches JSON: quotes, backslashes and control bytes are
 * escaped, and the longest prefix the options take still fits. */
static void check_escaping(void)
{
	static char hostile[1025];
	const char pattern[] = "\"\\\x01\n/";
	for (size_t i = 0; i < sizeof(hostile) - 1; i++)
		hostile[i] = pattern[i % (sizeof(pattern) - 1)];
	hostile[sizeof(hostile) - 1] = '\0';
	struct ha_discovery_meter m = meter("e8db84a1b2c3", true, false);
	m.stats_prefix = hostile;
	struct inbox in = { 0 };
	size_t n = ha_discovery_configs(&m, collect, &in);
	CHECK(n == ha_discovery_config_count(&m) && n > 0, "a 1024-byte prefix of escapes: every config (%zu)", n);
	char want[1200];
	snprintf(want, sizeof(want), "%s/e8db84a1b2c3/live", hostile);
	for (size_t i = 0; i < in.n; i++) {
		json_error_t err;
		json_t *j = json_loads(in.m[i].payload, 0, &err);
		const char *stat_t = json_string_value(json_object_get(j, "stat_t"));
		CHECK(j && stat_t && strcmp(stat_t, want) == 0, "%s: stat_t decodes to the prefix as given (%s)",
			in.m[i].topic, j ? "" : err.text);
		json_decref(j);
	}
	inbox_free(&in);
	/* Beyond what the buffers hold: no message, never a truncated one. */
	static char huge[HA_DISCOVERY_TOPIC_MAX + 1];
	memset(huge, 'h', sizeof(huge) - 1);
	m = meter("e8db84a1b2c3", false, false);
	m.discovery_prefix = huge;
	n = ha_discovery_configs(&m, collect, &in) + ha_discovery_remove(&m, collect, &in);
	CHECK(n == 0 && in.n == 0, "a discovery prefix longer than a topic buffer: nothing emitted (%zu)", in.n);
	inbox_free(&in);
}

/* Every config of the meters check_ha_discovery.py checks, one JSON object
 * a line: {"meter": i, "topic": ..., "payload": ...}. */
static void dump_one(void *ctx, const char *topic, const char *payload, size_t len)
{
	json_t *line = json_pack("{s:i, s:s, s:s%}", "meter", *(int *)ctx, "topic", topic, "payload", payload, len);
	char *text = json_dumps(line, JSON_COMPACT);
	puts(text);
	free(text);
	json_decref(line);
}

static int dump(void)
{
	struct ha_discovery_meter meters[] = {
		meter("4c75252e8c51", true, true),
		meter("e8db84a1b2c3", false, false),
		meter("a0b1c2d3e4f5", true, false),
	};
	for (int i = 0; i < (int)(sizeof(meters) / sizeof(meters[0])); i++)
		ha_discovery_configs(&meters[i], dump_one, &i);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--dump") == 0)
		return dump();
	for (int gas = 0; gas <= 1; gas++)
		for (int water = 0; water <= 1; water++)
			check_meter(gas, water);
	check_stable();
	check_bad_serials();
	check_escaping();
	return check_finish("ha_discovery");
}
