/*
 * libFuzzer target: plugin/payload.h lowi_payload_decode on arbitrary bytes.
 * Invariants (payload.h): never crashes or reads past len (ASan), returns a
 * status of the enum with a named, NUL-terminated reason and field and an
 * offset within the payload; on success every field is within its
 * documented range; the verdict does not depend on whether out/err are
 * given; a payload longer than LOWI_PAYLOAD_MAX_BYTES is TOO_LONG.
 * Seeds: tests/corpus/good and tests/corpus/bad.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_check.h"
#include "payload.h"

#define COUNTER_LIMIT 999999999999.0 /* payload.h: counters 0..999999999999 */
#define POWER_LIMIT 1e6              /* payload.h: powers 0..1e6 W */

static int in_range(double v, double max)
{
	return isfinite(v) && v >= 0.0 && v <= max;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lowi_reading r;
	struct lowi_payload_error e;
	memset(&r, 0xa5, sizeof(r));
	memset(&e, 0xa5, sizeof(e));

	enum lowi_payload_status st = lowi_payload_decode(size ? data : NULL, size, &r, &e);
	FUZZ_CHECK(st >= LOWI_PAYLOAD_OK && st < LOWI_PAYLOAD_STATUS_COUNT, "status %d", (int)st);
	FUZZ_CHECK(strcmp(lowi_payload_status_name(st), "unknown") != 0, "status %d has no name", (int)st);
	FUZZ_CHECK(e.status == st, "err.status %d, returned %d", (int)e.status, (int)st);
	FUZZ_CHECK(FUZZ_NUL_TERMINATED(e.reason), "reason not NUL-terminated");
	FUZZ_CHECK(FUZZ_NUL_TERMINATED(e.field), "field not NUL-terminated");
	FUZZ_CHECK(e.offset <= size, "offset %zu beyond the %zu-byte payload", e.offset, size);
	if (size > LOWI_PAYLOAD_MAX_BYTES)
		FUZZ_CHECK(st == LOWI_PAYLOAD_TOO_LONG, "%zu bytes gave %s", size, lowi_payload_status_name(st));

	if (st == LOWI_PAYLOAD_OK) {
		FUZZ_CHECK(e.reason[0] == '\0', "success with reason \"%s\"", e.reason);
		FUZZ_CHECK(in_range(r.import_day_wh, COUNTER_LIMIT), "CIH %g", r.import_day_wh);
		FUZZ_CHECK(in_range(r.import_night_wh, COUNTER_LIMIT), "CIL %g", r.import_night_wh);
		FUZZ_CHECK(in_range(r.export_day_wh, COUNTER_LIMIT), "CEH %g", r.export_day_wh);
		FUZZ_CHECK(in_range(r.export_night_wh, COUNTER_LIMIT), "CEL %g", r.export_night_wh);
		if (r.has_gas)
			FUZZ_CHECK(in_range(r.gas_l, COUNTER_LIMIT), "CG %g", r.gas_l);
		if (r.has_water)
			FUZZ_CHECK(in_range(r.water_l, COUNTER_LIMIT), "CW %g", r.water_l);
		if (r.has_power) {
			FUZZ_CHECK(in_range(r.import_w, POWER_LIMIT), "PI %g", r.import_w);
			FUZZ_CHECK(in_range(r.export_w, POWER_LIMIT), "PE %g", r.export_w);
		}
		FUZZ_CHECK(r.rate == -1 || r.rate == 0 || r.rate == 1, "T %d", r.rate);
	} else {
		FUZZ_CHECK(e.reason[0] != '\0', "status %s without a reason", lowi_payload_status_name(st));
	}

	/* Same verdict with out and err omitted, and the same error when only err is given. */
	FUZZ_CHECK(lowi_payload_decode(size ? data : NULL, size, NULL, NULL) == st, "verdict changes without out/err");
	struct lowi_payload_error e2;
	FUZZ_CHECK(lowi_payload_decode(size ? data : NULL, size, NULL, &e2) == st, "verdict changes without out");
	FUZZ_CHECK(e2.offset == e.offset && strcmp(e2.reason, e.reason) == 0 && strcmp(e2.field, e.field) == 0,
		"error differs between calls: \"%s\" vs \"%s\"", e.reason, e2.reason);
	return 0;
}
