/*
 * Home Assistant MQTT discovery for one meter: the retained config
 * messages that make it one HA device whose sensors read the meter's live
 * JSON (<stats_prefix>/<serial>/live, keys in live_keys.h), and the empty
 * retained messages that remove them again.
 *
 * One device per meter, identified by "lowi_p1_<serial>", so its entities
 * survive restarts of the broker and of HA; each entity's unique id is that
 * plus its object id. Topics are
 * <discovery_prefix>/<component>/lowi_p1_<serial>/<object_id>/config.
 * Payloads use HA's abbreviated keys: at 100,000 meters they are held
 * retained by the broker, one per entity.
 *
 * Pure: no I/O, no allocation, no globals; any thread. The plugin calls it
 * from the broker thread, which publishes what emit is given. topic and
 * payload passed to emit live on this module's stack for the duration of
 * the call only: emit copies what it keeps (mosquitto_broker_publish_copy
 * does). Strings in struct ha_discovery_meter stay the caller's.
 */
#ifndef LOWI_HA_DISCOVERY_H
#define LOWI_HA_DISCOVERY_H

#include <stdbool.h>
#include <stddef.h>

/* Every entity a meter can have (gas and water included): what
 * ha_discovery_remove emits. */
#define HA_DISCOVERY_ENTITY_COUNT 16

/* Longest topic and payload built; a meter whose prefixes would need more
 * (only prefixes near the options' 1024-byte limit, escaped) gets no
 * message rather than a truncated one. */
#define HA_DISCOVERY_TOPIC_MAX 1280
#define HA_DISCOVERY_PAYLOAD_MAX 8192

struct ha_discovery_meter {
	const char *discovery_prefix; /* ha_prefix option, e.g. "homeassistant" */
	const char *stats_prefix;     /* stats_prefix option: the live topic's start */
	const char *serial;           /* as topic.h gives it: [0-9A-Za-z_-], at most LOWI_SERIAL_MAX */
	bool has_gas, has_water;      /* the meter reports them: their sensors are offered */
	unsigned expire_after_s;      /* HA shows the entities unavailable after this silence; 0: never */
};

/* emit(ctx, topic, payload, len): one retained message to publish. payload
 * is NUL-terminated; len excludes the NUL (0 for a removal). */
typedef void (*ha_discovery_emit_fn)(void *ctx, const char *topic, const char *payload, size_t len);

/* How many configs ha_discovery_configs emits for this meter: 0 when the
 * serial or a prefix is unusable. */
size_t ha_discovery_config_count(const struct ha_discovery_meter *m);

/* Emits the meter's configs; returns how many (ha_discovery_config_count's
 * answer unless a prefix is too long for the buffers above). */
size_t ha_discovery_configs(const struct ha_discovery_meter *m, ha_discovery_emit_fn emit, void *ctx);

/* Emits an empty payload on every config topic the meter can have, the
 * gas and water ones whatever has_gas and has_water say (a meter may have
 * lost them since its configs went out; HA ignores the removal of an
 * entity it never had); returns how many: HA_DISCOVERY_ENTITY_COUNT, or 0
 * as ha_discovery_config_count. For a meter the plugin forgets. */
size_t ha_discovery_remove(const struct ha_discovery_meter *m, ha_discovery_emit_fn emit, void *ctx);

#endif
