/*
 * Home Assistant discovery configs; see ha_discovery.h. The entities, their
 * units and classes follow HA's sensor device-class table, which
 * tests/unit/check_ha_discovery.py holds (with its source) and checks every
 * config against.
 */
#include "ha_discovery.h"

#include <stdio.h>
#include <string.h>

#include "live_keys.h"
#include "topic.h"

#define LIVE_KEY_NAME_(name) #name,
static const char *const live_key_names[LIVE_KEY_COUNT] = { LIVE_KEYS(LIVE_KEY_NAME_) };
#undef LIVE_KEY_NAME_

/* How the state is read from the live key. */
enum ha_value {
	HA_VALUE_AS_IS,      /* the number itself; null becomes None (HA: unknown) */
	HA_VALUE_CENTS,      /* c€/kWh read as EUR/kWh, the unit HA's Energy dashboard takes for a price */
	HA_VALUE_ON_OFF,     /* a JSON bool as the binary sensor's default payloads */
};

enum ha_needs { HA_NEEDS_NOTHING, HA_NEEDS_GAS, HA_NEEDS_WATER };

struct ha_entity {
	const char *component;
	const char *object_id;  /* topic level and unique-id suffix: [a-z_] */
	const char *name;
	enum live_key key;
	enum ha_value value;
	const char *device_class; /* NULL: none */
	const char *state_class;  /* NULL: none */
	const char *unit;         /* NULL: none */
	enum ha_needs needs;
};

#define POWER "power", "measurement", "kW"
#define ENERGY "energy", "total_increasing", "kWh"
#define M3 "m\xc2\xb3"

static const struct ha_entity ha_entities[HA_DISCOVERY_ENTITY_COUNT] = {
	{ "sensor", "import_power", "Import power", LIVE_KEY_import_kw, HA_VALUE_AS_IS, POWER, HA_NEEDS_NOTHING },
	{ "sensor", "export_power", "Export power", LIVE_KEY_export_kw, HA_VALUE_AS_IS, POWER, HA_NEEDS_NOTHING },
	{ "sensor", "import_day", "Import day", LIVE_KEY_import_day_kwh, HA_VALUE_AS_IS, ENERGY, HA_NEEDS_NOTHING },
	{ "sensor", "import_night", "Import night", LIVE_KEY_import_night_kwh, HA_VALUE_AS_IS, ENERGY, HA_NEEDS_NOTHING },
	{ "sensor", "export_day", "Export day", LIVE_KEY_export_day_kwh, HA_VALUE_AS_IS, ENERGY, HA_NEEDS_NOTHING },
	{ "sensor", "export_night", "Export night", LIVE_KEY_export_night_kwh, HA_VALUE_AS_IS, ENERGY, HA_NEEDS_NOTHING },
	{ "sensor", "gas", "Gas", LIVE_KEY_gas_m3, HA_VALUE_AS_IS, "gas", "total_increasing", M3, HA_NEEDS_GAS },
	{ "sensor", "water", "Water", LIVE_KEY_water_m3, HA_VALUE_AS_IS, "water", "total_increasing", M3, HA_NEEDS_WATER },
	{ "sensor", "quarter_average", "Quarter average", LIVE_KEY_quarter_average_kw, HA_VALUE_AS_IS, POWER, HA_NEEDS_NOTHING },
	{ "sensor", "quarter_projected", "Quarter projected", LIVE_KEY_quarter_projected_kw, HA_VALUE_AS_IS, POWER, HA_NEEDS_NOTHING },
	{ "sensor", "month_peak", "Month peak", LIVE_KEY_month_peak_kw, HA_VALUE_AS_IS, POWER, HA_NEEDS_NOTHING },
	{ "sensor", "billed_peak", "Billed 12-month peak", LIVE_KEY_billed_kw, HA_VALUE_AS_IS, POWER, HA_NEEDS_NOTHING },
	{ "sensor", "headroom", "Headroom", LIVE_KEY_headroom_kw, HA_VALUE_AS_IS, POWER, HA_NEEDS_NOTHING },
	/* A price is no HA "monetary" amount (that class allows only the
	 * state class total and a bare currency): no device class, and the
	 * unit the Energy dashboard asks of a price entity. */
	{ "sensor", "buy_price", "Buy price", LIVE_KEY_buy_c_kwh, HA_VALUE_CENTS, NULL, "measurement", "EUR/kWh", HA_NEEDS_NOTHING },
	{ "sensor", "sell_price", "Sell price", LIVE_KEY_sell_c_kwh, HA_VALUE_CENTS, NULL, "measurement", "EUR/kWh", HA_NEEDS_NOTHING },
	{ "binary_sensor", "peak_projected", "New peak projected", LIVE_KEY_peak_projected, HA_VALUE_ON_OFF, NULL, NULL, NULL, HA_NEEDS_NOTHING },
};

/* A bounded string: appends past its end only set `full`, so one check
 * after building says whether the text is whole. */
struct ha_text {
	char *p;
	size_t len, cap;
	bool full;
};

static void put(struct ha_text *t, const char *s)
{
	size_t n = strlen(s);
	if (t->full || n >= t->cap - t->len) {
		t->full = true;
		return;
	}
	memcpy(t->p + t->len, s, n + 1);
	t->len += n;
}

/* Text from outside the module, inside a JSON string. */
static void put_json_escaped(struct ha_text *t, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char one[8];
		if (c == '"' || c == '\\')
			snprintf(one, sizeof(one), "\\%c", c);
		else if (c < 0x20)
			snprintf(one, sizeof(one), "\\u%04x", c);
		else
			snprintf(one, sizeof(one), "%c", c);
		put(t, one);
	}
}

static bool serial_usable(const char *serial)
{
	size_t n = strlen(serial);
	if (n == 0 || n > LOWI_SERIAL_MAX)
		return false;
	/* It becomes a topic level and part of HA's node id. */
	return strspn(serial, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-") == n;
}

static bool meter_usable(const struct ha_discovery_meter *m)
{
	return m->serial && m->discovery_prefix && m->stats_prefix && m->discovery_prefix[0] && m->stats_prefix[0]
		&& serial_usable(m->serial);
}

static bool entity_offered(const struct ha_discovery_meter *m, const struct ha_entity *e)
{
	return e->needs == HA_NEEDS_NOTHING || (e->needs == HA_NEEDS_GAS && m->has_gas)
		|| (e->needs == HA_NEEDS_WATER && m->has_water);
}

static bool build_topic(const struct ha_discovery_meter *m, const struct ha_entity *e, char topic[HA_DISCOVERY_TOPIC_MAX])
{
	struct ha_text t = { topic, 0, HA_DISCOVERY_TOPIC_MAX, false };
	topic[0] = '\0';
	put(&t, m->discovery_prefix);
	put(&t, "/");
	put(&t, e->component);
	put(&t, "/lowi_p1_");
	put(&t, m->serial);
	put(&t, "/");
	put(&t, e->object_id);
	put(&t, "/config");
	return !t.full;
}

static void put_value_template(struct ha_text *t, const struct ha_entity *e)
{
	const char *key = live_key_names[e->key];
	switch (e->value) {
	case HA_VALUE_AS_IS:
		put(t, "{{value_json.");
		put(t, key);
		put(t, "}}");
		break;
	case HA_VALUE_CENTS:
		/* null (price unknown) must stay None, not fail the division */
		put(t, "{{(value_json.");
		put(t, key);
		put(t, "/100)|round(5) if value_json.");
		put(t, key);
		put(t, " is number else None}}");
		break;
	case HA_VALUE_ON_OFF:
		put(t, "{{'ON' if value_json.");
		put(t, key);
		put(t, " else 'OFF'}}");
		break;
	}
}

static bool build_payload(const struct ha_discovery_meter *m, const struct ha_entity *e,
	char payload[HA_DISCOVERY_PAYLOAD_MAX], size_t *len)
{
	struct ha_text t = { payload, 0, HA_DISCOVERY_PAYLOAD_MAX, false };
	payload[0] = '\0';
	put(&t, "{\"name\":\"");
	put(&t, e->name);
	put(&t, "\",\"stat_t\":\"");
	put_json_escaped(&t, m->stats_prefix);
	put(&t, "/");
	put(&t, m->serial);
	put(&t, "/live\",\"val_tpl\":\"");
	put_value_template(&t, e);
	put(&t, "\",\"uniq_id\":\"lowi_p1_");
	put(&t, m->serial);
	put(&t, "_");
	put(&t, e->object_id);
	put(&t, "\"");
	if (e->device_class) {
		put(&t, ",\"dev_cla\":\"");
		put(&t, e->device_class);
		put(&t, "\"");
	}
	if (e->state_class) {
		put(&t, ",\"stat_cla\":\"");
		put(&t, e->state_class);
		put(&t, "\"");
	}
	if (e->unit) {
		put(&t, ",\"unit_of_meas\":\"");
		put(&t, e->unit);
		put(&t, "\"");
	}
	if (m->expire_after_s > 0) {
		char n[16];
		snprintf(n, sizeof(n), "%u", m->expire_after_s);
		put(&t, ",\"exp_aft\":");
		put(&t, n);
	}
	/* The whole device in every config: HA names an entity's id after its
	 * device when it first sees it, and retained configs reach it in no
	 * set order. */
	put(&t, ",\"dev\":{\"ids\":[\"lowi_p1_");
	put(&t, m->serial);
	put(&t, "\"],\"name\":\"LOWI ");
	put(&t, m->serial);
	put(&t, "\",\"mf\":\"lowi-p1\",\"mdl\":\"P1 meter\"},\"o\":{\"name\":\"lowi-p1\"}}");
	*len = t.len;
	return !t.full;
}

size_t ha_discovery_config_count(const struct ha_discovery_meter *m)
{
	if (!meter_usable(m))
		return 0;
	size_t n = 0;
	for (size_t i = 0; i < HA_DISCOVERY_ENTITY_COUNT; i++)
		n += entity_offered(m, &ha_entities[i]);
	return n;
}

size_t ha_discovery_configs(const struct ha_discovery_meter *m, ha_discovery_emit_fn emit, void *ctx)
{
	if (!meter_usable(m))
		return 0;
	char topic[HA_DISCOVERY_TOPIC_MAX], payload[HA_DISCOVERY_PAYLOAD_MAX];
	size_t n = 0, len;
	for (size_t i = 0; i < HA_DISCOVERY_ENTITY_COUNT; i++) {
		const struct ha_entity *e = &ha_entities[i];
		if (!entity_offered(m, e))
			continue;
		if (!build_topic(m, e, topic) || !build_payload(m, e, payload, &len))
			return n;
		emit(ctx, topic, payload, len);
		n++;
	}
	return n;
}

size_t ha_discovery_remove(const struct ha_discovery_meter *m, ha_discovery_emit_fn emit, void *ctx)
{
	if (!meter_usable(m))
		return 0;
	char topic[HA_DISCOVERY_TOPIC_MAX];
	size_t n = 0;
	for (size_t i = 0; i < HA_DISCOVERY_ENTITY_COUNT; i++) {
		if (!build_topic(m, &ha_entities[i], topic))
			return n;
		emit(ctx, topic, "", 0);
		n++;
	}
	return n;
}
