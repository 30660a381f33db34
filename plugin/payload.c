/*
 * LOWI CH0 payload decoding (payload.h). The decoder is three files:
 * payload_token.h (token rules), payload_general.c (the general scanner,
 * which finds and words every error, and lowi_payload_decode_general) and
 * payload_fast.c (the usual members, read faster on a zero-padded copy,
 * and lowi_payload_decode). Each entry lives with its scanner so that the
 * one driver both share (payload_decode, payload_scan.h) is inlined into
 * it; this file keeps what neither scanner needs.
 * Any thread; no allocation, no I/O.
 */
#include "payload_scan.h"

const char *lowi_payload_status_name(enum lowi_payload_status s)
{
	static const char *const names[LOWI_PAYLOAD_STATUS_COUNT] = {
		[LOWI_PAYLOAD_OK] = "ok",
		[LOWI_PAYLOAD_TOO_LONG] = "too-long",
		[LOWI_PAYLOAD_NOT_JSON] = "not-json",
		[LOWI_PAYLOAD_NOT_OBJECT] = "not-object",
		[LOWI_PAYLOAD_MISSING_COUNTER] = "missing-counter",
		[LOWI_PAYLOAD_NOT_A_NUMBER] = "not-a-number",
		[LOWI_PAYLOAD_OUT_OF_RANGE] = "out-of-range",
		[LOWI_PAYLOAD_WRONG_CHANNEL] = "wrong-channel",
		[LOWI_PAYLOAD_DUPLICATE_FIELD] = "duplicate-field",
	};
	if ((unsigned)s >= LOWI_PAYLOAD_STATUS_COUNT)
		return "unknown";
	return names[s];
}
