/*
 * The per-meter state's record (quarter.h): every field survives it, its
 * version 2 layout stays as it is and version 1 records stay readable, bad
 * records are refused, and a meter restored from it goes on exactly as the
 * original.
 *
 * How a field that the record forgets is caught, even one added to
 * struct meter_quarters after this test was written:
 *  - the source state first gets 0x01 in every byte, a valid value of any
 *    scalar type that is never a field's reset value (bool true, integers
 *    and floats non-zero); distinct_state() then gives each field it knows a
 *    value of its own, bools one-hot over several states so that a dropped
 *    or swapped flag shows in one of them. A field it does not know keeps
 *    its 0x01 bytes;
 *  - the record is decoded into a destination filled with 0xee, and
 *    quarter_state_decode sets every byte itself;
 *  - both structs are compared byte for byte after their padding is zeroed
 *    by the compiler (__builtin_clear_padding, which knows the layout), so
 *    only field bytes count. A field the record does not carry comes back as
 *    zero (or 0xee), never as the source's bytes, and the check fails.
 * A new field therefore fails this test until the record carries it (a new
 * record version) and distinct_state() sets it. A compiler without
 * __builtin_clear_padding (gcc has it from 11) skips this part, and says so.
 */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "quarter.h"

#define T0 1767225600LL /* 2026-01-01 00:00:00 UTC */

#if defined(__has_builtin)
#if __has_builtin(__builtin_clear_padding)
#define HAVE_CLEAR_PADDING 1
#endif
#endif

/* A state whose every known field differs from its reset value, from the
 * other fields, and from the same field in the other states. */
static void distinct_state(struct meter_quarters *q, int k)
{
	memset(q, 0x01, sizeof(*q));
	q->last_ms = (T0 + 1000 + k) * 1000 + 123;
	for (int c = 0; c < QC_COUNT; c++) {
		q->last_index[c] = 100000.125 + 1000.0 * c + 10.0 * k;
		q->last_total[c] = 90000.375 + 1000.0 * c + 10.0 * k;
		q->boundary_total[c] = 80000 + 1000 * c + 10 * k;
	}
	q->last_import_w = 1500.5f + (float)k;
	q->last_export_w = 20.25f + (float)k;
	q->last_rate = (int8_t)(k % 2 ? 2 : -7);
	int flags = k < 6 ? 1 << k : 63;
	q->last_has_power = flags & 1;
	q->has_gas = flags & 2;
	q->has_water = flags & 4;
	q->boundary_valid = flags & 8;
	q->open_estimated = flags & 16;
	q->open_jump = flags & 32;
	q->boundary_s = T0 + 900 * (k + 1);
	q->refused_since_ms = (T0 + 500 + k) * 1000 + 7;
	q->refused_last_ms = (T0 + 800 + k) * 1000 + 9;
	q->refused_first_wh = 250000.625 + 10.0 * k;
	q->refused_n = 40u + (uint32_t)k;
	q->refused_why = (uint8_t)(k % 3 + 1);
	q->refused_warnings = (uint8_t)(3 + k);
}

#ifdef HAVE_CLEAR_PADDING
/* The bytes of the state's fields, padding zeroed. */
static void canonical(const struct meter_quarters *q, unsigned char out[sizeof(struct meter_quarters)])
{
	struct meter_quarters c;
	memcpy(&c, q, sizeof(c));
	__builtin_clear_padding(&c);
	memcpy(out, &c, sizeof(c));
}

static bool same_state(const struct meter_quarters *a, const struct meter_quarters *b)
{
	unsigned char ca[sizeof(*a)], cb[sizeof(*b)];
	canonical(a, ca);
	canonical(b, cb);
	for (size_t i = 0; i < sizeof(ca); i++) {
		if (ca[i] != cb[i]) {
			printf("state byte %zu is %02x before the record, %02x after: a field of struct meter_quarters"
				" the record does not carry?\n", i, ca[i], cb[i]);
			return false;
		}
	}
	return true;
}

static void every_field_round_trips(void)
{
	for (int k = 0; k < 7; k++) {
		struct meter_quarters src, dst;
		unsigned char rec[QUARTER_STATE_BYTES + 8];
		distinct_state(&src, k);
		size_t n = quarter_state_encode(&src, rec, sizeof(rec));
		CHECK(n == QUARTER_STATE_BYTES && rec[0] == QUARTER_STATE_VERSION, "state %d: %zu-byte record", k, n);
		memset(&dst, 0xee, sizeof(dst));
		enum quarter_state_status st = quarter_state_decode(&dst, rec, n);
		CHECK(st == QUARTER_STATE_OK, "state %d decodes: %s", k, quarter_state_status_name(st));
		CHECK(same_state(&src, &dst), "state %d: every field survives the record", k);
	}
}
#endif

/* A version 1 record as the builds before version 2 wrote it for the
 * state distinct_state(5) was then (flags 31, no open_jump, no refusal
 * streak): files they wrote must still read the same. */
static const char golden_v1[] =
	"01"                                                     /* version */
	"43fee9769b010000"                                       /* last_ms */
	"00000000226df840" "00000000a2abf840" "0000000022eaf840"
	"00000000a228f940" "000000002267f940" "00000000a2a5f940" /* last_index */
	"0000000026fcf540" "00000000a63af640" "000000002679f640"
	"00000000a6b7f640" "0000000026f6f640" "00000000a634f740" /* last_total */
	"0030bc44" "0000ca41"                                    /* last_import_w, last_export_w */
	"02" "1f"                                                /* last_rate, flags */
	"18ce556900000000"                                       /* boundary_s */
	"b238010000000000" "9a3c010000000000" "8240010000000000"
	"6a44010000000000" "5248010000000000" "3a4c010000000000"; /* boundary_total */

/* The version 2 record of distinct_state(6). */
static const char golden_v2[] =
	"02"                                                     /* version */
	"2b02ea769b010000"                                       /* last_ms */
	"00000000c26df840" "0000000042acf840" "00000000c2eaf840"
	"000000004229f940" "00000000c267f940" "0000000042a6f940" /* last_index */
	"00000000c6fcf540" "00000000463bf640" "00000000c679f640"
	"0000000046b8f640" "00000000c6f6f640" "000000004635f740" /* last_total */
	"0050bc44" "0000d241"                                    /* last_import_w, last_export_w */
	"f9" "3f"                                                /* last_rate, flags */
	"9cd1556900000000"                                       /* boundary_s */
	"bc38010000000000" "a43c010000000000" "8c40010000000000"
	"7444010000000000" "5c48010000000000" "444c010000000000" /* boundary_total */
	"9760e2769b010000" "79f4e6769b010000"                    /* refused_since_ms, refused_last_ms */
	"0000000065860e41"                                       /* refused_first_wh */
	"2e000000" "01" "09";                                    /* refused_n, refused_why, refused_warnings */

static void hex_record(const char *hex, unsigned char *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		sscanf(hex + 2 * i, "%2x", &v);
		out[i] = (unsigned char)v;
	}
}

static void layout_is_stable(void)
{
	unsigned char want[QUARTER_STATE_BYTES], got[QUARTER_STATE_BYTES];
	CHECK(strlen(golden_v2) == 2 * QUARTER_STATE_BYTES, "golden record of %zu hex digits", strlen(golden_v2));
	hex_record(golden_v2, want, QUARTER_STATE_BYTES);
	struct meter_quarters src, dst;
	distinct_state(&src, 6);
	CHECK(quarter_state_encode(&src, got, sizeof(got)) == QUARTER_STATE_BYTES, "encoded");
	CHECK(memcmp(got, want, sizeof(got)) == 0, "version 2 layout unchanged");
	CHECK(quarter_state_decode(&dst, want, sizeof(want)) == QUARTER_STATE_OK
		&& quarter_state_encode(&dst, got, sizeof(got)) == QUARTER_STATE_BYTES && memcmp(got, want, sizeof(got)) == 0,
		"a version 2 record reads back");
}

/* A version 1 record reads as the state it held, with no jump open and no
 * refusal streak: written again, it is the same bytes as version 2, its
 * new fields zero. */
static void version_1_still_read(void)
{
	unsigned char v1[QUARTER_STATE_V1_BYTES], got[QUARTER_STATE_BYTES];
	CHECK(strlen(golden_v1) == 2 * QUARTER_STATE_V1_BYTES, "golden v1 record of %zu hex digits", strlen(golden_v1));
	hex_record(golden_v1, v1, QUARTER_STATE_V1_BYTES);
	struct meter_quarters dst;
	memset(&dst, 0xee, sizeof(dst));
	enum quarter_state_status st = quarter_state_decode(&dst, v1, sizeof(v1));
	CHECK(st == QUARTER_STATE_OK, "a version 1 record of an earlier build decodes: %s", quarter_state_status_name(st));
	CHECK(quarter_state_encode(&dst, got, sizeof(got)) == QUARTER_STATE_BYTES && got[0] == 2
		&& memcmp(got + 1, v1 + 1, QUARTER_STATE_V1_BYTES - 1) == 0, "its fields read back unchanged");
	bool tail_zero = true;
	for (size_t i = QUARTER_STATE_V1_BYTES; i < QUARTER_STATE_BYTES; i++)
		tail_zero = tail_zero && got[i] == 0;
	CHECK(tail_zero && !dst.open_jump && dst.refused_since_ms == 0 && dst.refused_n == 0,
		"no refusal streak and no open jump from a version 1 record");
	struct meter_quarters src;
	distinct_state(&src, 5);
	CHECK(dst.last_ms == src.last_ms && dst.boundary_s == src.boundary_s && dst.last_index[QC_WATER] == src.last_index[QC_WATER]
		&& dst.boundary_total[QC_GAS] == src.boundary_total[QC_GAS] && dst.open_estimated && dst.boundary_valid,
		"the version 1 state is the one it was written from");
}

static void bad_records_refused(void)
{
	struct meter_quarters src, dst, before;
	unsigned char rec[QUARTER_STATE_BYTES + 1];
	distinct_state(&src, 2);
	CHECK(quarter_state_encode(&src, rec, QUARTER_STATE_BYTES - 1) == 0, "no record into a short buffer");
	quarter_state_encode(&src, rec, sizeof(rec));
	rec[QUARTER_STATE_BYTES] = 0;
	quarters_reset(&dst);
	memcpy(&before, &dst, sizeof(before));
	CHECK(quarter_state_decode(&dst, rec, 0) == QUARTER_STATE_SHORT, "empty record");
	CHECK(quarter_state_decode(&dst, rec, QUARTER_STATE_BYTES - 1) == QUARTER_STATE_SHORT, "short record");
	CHECK(quarter_state_decode(&dst, rec, QUARTER_STATE_BYTES + 1) == QUARTER_STATE_LONG, "overlong record");
	rec[114] |= 0x40;
	CHECK(quarter_state_decode(&dst, rec, QUARTER_STATE_BYTES) == QUARTER_STATE_INVALID, "unknown flag");
	rec[114] &= 0x3f;
	rec[199] = 4;
	CHECK(quarter_state_decode(&dst, rec, QUARTER_STATE_BYTES) == QUARTER_STATE_INVALID, "unknown refusal reason");
	rec[199] = 1;
	/* Version 1: 171 bytes, and no flag 32 (open_jump came with version 2). */
	rec[0] = 1;
	CHECK(quarter_state_decode(&dst, rec, QUARTER_STATE_BYTES) == QUARTER_STATE_LONG, "a version 1 record of 201 bytes");
	CHECK(quarter_state_decode(&dst, rec, QUARTER_STATE_V1_BYTES - 1) == QUARTER_STATE_SHORT, "a short version 1 record");
	rec[114] = 0x3f;
	CHECK(quarter_state_decode(&dst, rec, QUARTER_STATE_V1_BYTES) == QUARTER_STATE_INVALID, "flag 32 in version 1");
	rec[114] = 0x1f;
	CHECK(quarter_state_decode(&dst, rec, QUARTER_STATE_V1_BYTES) == QUARTER_STATE_OK, "the same as a good version 1 record");
	quarters_reset(&dst);
	rec[0] = 2;
	CHECK(quarter_state_decode(&dst, rec, QUARTER_STATE_V1_BYTES) == QUARTER_STATE_SHORT, "a version 2 record of 171 bytes");
	rec[0] = QUARTER_STATE_VERSION + 1;
	CHECK(quarter_state_decode(&dst, rec, QUARTER_STATE_BYTES) == QUARTER_STATE_UNKNOWN_VERSION, "newer version");
	rec[0] = 0;
	CHECK(quarter_state_decode(&dst, rec, QUARTER_STATE_BYTES) == QUARTER_STATE_UNKNOWN_VERSION, "version 0");
	CHECK(memcmp(&dst, &before, sizeof(dst)) == 0, "a refused record leaves the state untouched");
	CHECK(quarter_state_decode_text0(&dst, "12 34 x") == QUARTER_STATE_INVALID, "not the 0.1.0 text");
	CHECK(quarter_state_decode_text0(&dst, "") == QUARTER_STATE_INVALID, "empty 0.1.0 text");
	CHECK(memcmp(&dst, &before, sizeof(dst)) == 0, "refused text leaves the state untouched");
}

struct rows {
	int n;
	struct quarter_row r[64];
};

static void collect(void *ctx, const struct quarter_row *row)
{
	struct rows *rs = ctx;
	if (rs->n < 64)
		rs->r[rs->n++] = *row;
}

static struct lowi_reading reading_at(int i)
{
	struct lowi_reading r;
	memset(&r, 0, sizeof(r));
	r.import_day_wh = 1000000.0 + 9.0 * i;
	r.import_night_wh = 2000000.0;
	r.export_day_wh = 30000.0 + (i % 3);
	r.export_night_wh = 40000.0;
	r.has_power = true;
	r.import_w = 2000.0 + 10.0 * (i % 7);
	r.export_w = 0.0;
	r.rate = i < 90 ? 1 : 0; /* night from the quarter at T0 + 1800 */
	r.has_gas = true;
	r.gas_l = 500000.0 + 0.5 * i;
	r.has_water = i > 10;
	r.water_l = 70000.0 + i;
	return r;
}

static bool same_row(const struct quarter_row *a, const struct quarter_row *b)
{
	return a->start_s == b->start_s && a->import_day_wh == b->import_day_wh && a->import_night_wh == b->import_night_wh
		&& a->export_day_wh == b->export_day_wh && a->export_night_wh == b->export_night_wh
		&& a->import_wh == b->import_wh && a->export_wh == b->export_wh && a->gas_l == b->gas_l && a->water_l == b->water_l
		&& a->gas_index_l == b->gas_index_l && a->water_index_l == b->water_index_l && a->has_gas == b->has_gas
		&& a->has_water == b->has_water && a->estimated == b->estimated;
}

/* Restored mid-quarter, a meter gives the same rows as if never stopped. */
static void restored_meter_goes_on(void)
{
	struct meter_quarters a, b;
	struct rows ra = { 0 }, rb = { 0 };
	quarters_reset(&a);
	int i = 0;
	for (; i < 60; i++) {
		struct lowi_reading r = reading_at(i);
		quarters_feed(&a, &quarter_default_params, (T0 + 17 + 20 * i) * 1000, &r, collect, &ra);
	}
	unsigned char rec[QUARTER_STATE_BYTES];
	size_t n = quarter_state_encode(&a, rec, sizeof(rec));
	CHECK(quarter_state_decode(&b, rec, n) == QUARTER_STATE_OK, "mid-quarter state decodes");
	rb = ra;
	for (; i < 200; i++) {
		struct lowi_reading r = reading_at(i);
		quarters_feed(&a, &quarter_default_params, (T0 + 17 + 20 * i) * 1000, &r, collect, &ra);
		quarters_feed(&b, &quarter_default_params, (T0 + 17 + 20 * i) * 1000, &r, collect, &rb);
	}
	CHECK(ra.n >= 2 && ra.n == rb.n, "%d rows, %d after the restore", ra.n, rb.n);
	for (int k = 0; k < ra.n && k < rb.n; k++)
		CHECK(same_row(&ra.r[k], &rb.r[k]), "row %d the same", k);
}

int main(void)
{
#ifdef HAVE_CLEAR_PADDING
	every_field_round_trips();
#else
	/* Without it, padding bytes would differ where no field does. */
	printf("note: every_field_round_trips skipped, the compiler has no __builtin_clear_padding (gcc 11 or later has)\n");
#endif
	layout_is_stable();
	version_1_still_read();
	bad_records_refused();
	restored_meter_goes_on();
	return check_finish("quarter_state");
}
