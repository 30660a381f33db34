/*
 * MQTT messages on their way from the aggregator thread to the broker
 * thread, which alone may publish them: mosquitto 2.0 has no thread-safe
 * broker function, so the aggregator only queues what it wants said (the
 * live state of a meter, its peak events, Home Assistant discovery) and the
 * broker thread publishes it when it ticks or handles a message.
 *
 * One producer (the aggregator thread) and one consumer (the broker
 * thread), over the intake's chunked queue (intake.h): the producer never
 * waits and takes no lock on its usual path, and the consumer polls, never
 * sleeps. A memory cap bounds what a broker that does not call back (no
 * ticks, no messages) lets pile up: past it a message is refused and the
 * producer counts it. The outbox owns its storage; topic and payload are
 * copied in, and a message returned by outbox_next stays valid until the
 * next outbox_next call.
 */
#ifndef LOWI_OUTBOX_H
#define LOWI_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "intake.h"

/* Longer payloads are refused: every message then fits a chunk. */
#define OUTBOX_PAYLOAD_MAX 16384

struct outbox {
	struct intake q;
};

struct outbox_msg {
	const char *topic;      /* NUL-terminated */
	const void *payload;
	uint32_t payload_len;   /* 0: an empty payload (with retain: clears the topic's retained message) */
	bool retain;
};

/* Init thread. Returns 0, or -1 when out of memory. */
int outbox_init(struct outbox *o, size_t max_bytes);
/* After both sides stopped. */
void outbox_destroy(struct outbox *o);

/* Aggregator thread. False when the cap is reached, memory is short, the
 * topic is longer than INTAKE_TOPIC_MAX or the payload than
 * OUTBOX_PAYLOAD_MAX: nothing is queued. */
bool outbox_push(struct outbox *o, const char *topic, const void *payload, size_t payload_len, bool retain);

/* Broker thread. The oldest message not yet taken: false when none. */
bool outbox_next(struct outbox *o, struct outbox_msg *out);

#endif
