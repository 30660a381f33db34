/*
 * LOWI CH0 payload decoding: where an MQTT message's bytes become one meter
 * reading, or a precise reason why they cannot.
 *
 * The decoder is a small strict JSON scanner (RFC 8259 grammar) that reads
 * the known fields and skips every other field, whatever its value (firmware
 * updates add fields). It never reads past `len`, never allocates, keeps no
 * state between calls and does no I/O, so any thread may call it; the plugin
 * calls it on its aggregator thread for every message. The payload is borrowed
 * for the duration of the call only and need not be NUL-terminated.
 *
 * Known fields (names are case-sensitive); each value may be a JSON number
 * or a JSON string whose whole content is a JSON number ("130838", "12.5",
 * "1e3"; not " 130838", "+1", "01", "0x10", "NaN"):
 *   CIH CIL CEH CEL  required import/export counters, Wh,      0..999999999999
 *   CG CW            optional gas/water counters, litres,      0..999999999999
 *   PI PE            optional import/export power, W,          0..1e6
 *   T                optional tariff rate, 1 = day/high, 0 = night/low
 *   device_CH        optional channel, must be 0 (this is the CH0 decoder)
 *
 * Error precedence: a syntax error anywhere (NOT_JSON) wins over any field
 * error; among field errors the first in the payload wins; missing counters
 * are reported last. Nesting deeper than 32 arrays/objects (the top-level
 * object counts as one) is a syntax error.
 */
#ifndef LOWI_PAYLOAD_H
#define LOWI_PAYLOAD_H

#include <stdbool.h>
#include <stddef.h>

/* Gas and water counter units: the LOWI publishes integer litres
 * (unverified). The one place that knows the conversion. */
#define LOWI_LITRES_PER_M3 1000.0
#define LOWI_PAYLOAD_MAX_BYTES 4096 /* longer payloads are rejected before scanning */

struct lowi_reading {
	double import_day_wh;   /* CIH */
	double import_night_wh; /* CIL */
	double export_day_wh;   /* CEH */
	double export_night_wh; /* CEL */
	double gas_l;           /* CG, valid when has_gas */
	double water_l;         /* CW, valid when has_water */
	double import_w;        /* PI, valid when has_power */
	double export_w;        /* PE, valid when has_power */
	int rate;               /* T: 1 day/high, 0 night/low, -1 absent */
	bool has_gas, has_water, has_power; /* has_power: PI and PE both present */
};

enum lowi_payload_status {
	LOWI_PAYLOAD_OK = 0,
	LOWI_PAYLOAD_TOO_LONG,        /* len > LOWI_PAYLOAD_MAX_BYTES */
	LOWI_PAYLOAD_NOT_JSON,        /* empty, syntax error, too deep, trailing data */
	LOWI_PAYLOAD_NOT_OBJECT,      /* valid JSON, but the top level is not an object */
	LOWI_PAYLOAD_MISSING_COUNTER, /* CIH, CIL, CEH or CEL absent */
	LOWI_PAYLOAD_NOT_A_NUMBER,    /* known field holds null, bool, object, "12a", ... */
	LOWI_PAYLOAD_OUT_OF_RANGE,    /* negative, above the limit, infinite, T not 0/1 */
	LOWI_PAYLOAD_WRONG_CHANNEL,   /* device_CH present and not 0 */
	LOWI_PAYLOAD_DUPLICATE_FIELD, /* a known field appears twice */
	LOWI_PAYLOAD_STATUS_COUNT
};

struct lowi_payload_error {
	enum lowi_payload_status status;
	size_t offset;   /* byte offset where the problem was found */
	char field[16];  /* the field concerned, "" if none (truncated, NUL-terminated) */
	char reason[96]; /* words an operator can act on, e.g. "field CIH: \"12a\" is not a number" */
};

/* Returns LOWI_PAYLOAD_OK and fills *out, or another status and fills *err.
 * *out is written only on success; out may be NULL (validation only).
 * err may be NULL; when given it is always written (status OK, empty
 * reason on success). payload may be NULL when len is 0. */
enum lowi_payload_status lowi_payload_decode(const void *payload, size_t len,
	struct lowi_reading *out, struct lowi_payload_error *err);

/* Short stable name, e.g. "not-json", for counters and log lines. A static
 * string; "unknown" for values outside the enum. */
const char *lowi_payload_status_name(enum lowi_payload_status s);

#endif
