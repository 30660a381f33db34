/*
 * MQTT subscription filters: validation, matching, and where the meter
 * serial sits in a matching topic.
 *
 * The serial is the topic level matched by the filter's first '+' (for the
 * default "+/PUB/CH0", the dongle id), or the first level when the filter
 * names a single meter, folded to lower case: "4C75252E8C51" and
 * "4c75252e8c51" are one meter (LOWI serials are hex, and the database's
 * Serial columns compare without case). Pure: any thread, no allocation.
 */
#ifndef LOWI_TOPIC_H
#define LOWI_TOPIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define LOWI_SERIAL_MAX 32 /* longest serial accepted, without the NUL */

/* Returns NULL if the filter is valid, else a reason (static string). */
const char *topic_filter_problem(const char *filter);

/* True when topic matches filter; then copies the serial (NUL-terminated,
 * lower case) into serial[LOWI_SERIAL_MAX + 1]. A serial that is empty, too long, or
 * holds characters other than [0-9A-Za-z_-] makes the match fail with
 * *bad_serial set, so odd topics never become database keys. */
bool topic_match_serial(const char *filter, const char *topic, char serial[LOWI_SERIAL_MAX + 1], bool *bad_serial);

/* Folds a serial to lower case in place, as topic_match_serial does: for
 * serials saved by a version that kept the dongle's spelling. */
void topic_serial_fold(char *serial);

/* A necessary condition for matching, cheap enough to run on the broker
 * thread for every message: the filter's literal text before its first
 * wildcard must begin the topic, and (without '#') its literal text after
 * its last '+' must end it. Topics that pass still need
 * topic_match_serial(); topics that fail can never match. The filter is
 * borrowed and must outlive the prefilter. */
struct topic_prefilter {
	const char *head, *tail;
	size_t head_len, tail_len;
	/* The tail's last min(8, tail_len) bytes as one word and the mask of
	 * those bytes: most unrelated topics are told apart by one compare. */
	uint64_t tail_word, tail_mask;
	/* "+/literal/levels" (or "+"): the serial is the first level and the
	 * rest of the topic must equal the tail; see topic_match_serial_fast. */
	bool first_level_serial;
};

void topic_prefilter_init(struct topic_prefilter *pf, const char *filter);

/* Same answer as topic_match_serial(filter, ...) for the filter pf was made
 * from, without walking the filter when it has the usual "+/..." form. */
bool topic_match_serial_fast(const struct topic_prefilter *pf, const char *filter, const char *topic, size_t topic_len,
	char serial[LOWI_SERIAL_MAX + 1], bool *bad_serial);

static inline bool topic_prefilter_pass(const struct topic_prefilter *pf, const char *topic, size_t topic_len)
{
	if (topic_len < pf->head_len || topic_len < pf->tail_len)
		return false;
	if (topic_len >= 8) {
		uint64_t last;
		memcpy(&last, topic + topic_len - 8, 8);
		if ((last & pf->tail_mask) != pf->tail_word)
			return false;
	}
	return memcmp(topic, pf->head, pf->head_len) == 0
		&& memcmp(topic + topic_len - pf->tail_len, pf->tail, pf->tail_len) == 0;
}

#endif
