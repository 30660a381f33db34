/*
 * MQTT subscription filters: validation, matching, and where the meter
 * serial sits in a matching topic.
 *
 * The serial is the topic level matched by the filter's first '+' (for the
 * default "+/PUB/CH0", the dongle id), or the first level when the filter
 * names a single meter. Pure: any thread, no allocation.
 */
#ifndef LOWI_TOPIC_H
#define LOWI_TOPIC_H

#include <stdbool.h>
#include <stddef.h>

#define LOWI_SERIAL_MAX 32 /* longest serial accepted, without the NUL */

/* Returns NULL if the filter is valid, else a reason (static string). */
const char *topic_filter_problem(const char *filter);

/* True when topic matches filter; then copies the serial (NUL-terminated)
 * into serial[LOWI_SERIAL_MAX + 1]. A serial that is empty, too long, or
 * holds characters other than [0-9A-Za-z_-] makes the match fail with
 * *bad_serial set, so odd topics never become database keys. */
bool topic_match_serial(const char *filter, const char *topic, char serial[LOWI_SERIAL_MAX + 1], bool *bad_serial);

#endif
