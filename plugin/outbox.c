/* Aggregator-to-broker messages; see outbox.h. */
#include "outbox.h"

#include <string.h>

int outbox_init(struct outbox *o, size_t max_bytes)
{
	return intake_init(&o->q, max_bytes);
}

void outbox_destroy(struct outbox *o)
{
	intake_destroy(&o->q);
}

/* The intake's receive-time field carries the retain flag: nothing else
 * of a receive time has a meaning here. */
bool outbox_push(struct outbox *o, const char *topic, const void *payload, size_t payload_len, bool retain)
{
	size_t topic_len = strlen(topic);
	if (topic_len > INTAKE_TOPIC_MAX || payload_len > OUTBOX_PAYLOAD_MAX)
		return false;
	uint32_t len = (uint32_t)payload_len;
	return intake_push(&o->q, topic, topic_len, payload, len, len, retain ? 1 : 0);
}

bool outbox_next(struct outbox *o, struct outbox_msg *out)
{
	const struct intake_msg *m = intake_next(&o->q);
	if (m == NULL)
		return false;
	out->topic = intake_msg_topic(m);
	out->payload = intake_msg_payload(m);
	out->payload_len = m->stored_len;
	out->retain = m->received_ms != 0;
	return true;
}
