/*
 * Inside the LOWI payload decoder: what the general scanner
 * (payload_general.c) offers the fast path (payload_fast.c), and the driver
 * both entry points share. Not for other modules: use payload.h.
 *
 * A top-level member is read in three steps, name (with its ':'), value
 * and what follows (',' or '}'). The fast path does the usual form of each
 * step itself and hands the member to the general step where its form ends,
 * so that every error is found and worded by the general scanner alone.
 *
 * Any thread; a scanner lives on the caller's stack for one decode and
 * borrows the payload and the error struct from its caller.
 */
#ifndef LOWI_PAYLOAD_SCAN_H
#define LOWI_PAYLOAD_SCAN_H

#include <stdbool.h>
#include <stddef.h>

#include "payload.h"
#include "payload_token.h"

/* Zero bytes after the fast path's copy of the payload: at least one word
 * of string_stops, so that a word read starts at or before the first zero. */
#define PAYLOAD_PAD 16

struct scanner {
	const unsigned char *p;
	size_t len;
	size_t pos;
	enum lowi_payload_status status; /* first error so far, OK if none */
	struct lowi_payload_error *err;  /* never NULL */
	bool in_member;                  /* scanning a top-level member's value: errors name it */
	const unsigned char *key;        /* that member's name: in p, or in key_buf */
	size_t key_len;                  /* its full decoded length */
	unsigned char key_buf[KEY_MAX];  /* a name with escapes, decoded, truncated */
};

/* A top-level member. */
struct member {
	size_t key_at; /* offset of its name's opening quote */
	int id;        /* known field, or -1 */
};

/* Makes errors name the member whose plain name p[key_at + 1, + key_len)
 * the fast path has read. */
static inline void payload_enter_member(struct scanner *sc, const struct member *m, size_t key_len)
{
	sc->key = sc->p + m->key_at + 1;
	sc->key_len = key_len;
	sc->in_member = true;
}

/* The name whose opening quote should be at the cursor, and the ':' after
 * it; fills *m. The cursor ends after the ':'. */
bool payload_member_name(struct scanner *sc, struct member *m);

/* The value at the cursor (whitespace first): a known field's is checked
 * and stored in *r and marked in *seen, any other skipped. */
bool payload_member_value(struct scanner *sc, const struct member *m, struct lowi_reading *r, unsigned *seen);

enum member_next {
	MEMBER_MORE,   /* ',' read: the cursor is at the next member */
	MEMBER_END,    /* '}' read: the cursor is after it */
	MEMBER_FAILED, /* syntax error, recorded */
};

/* What follows a member's value (whitespace first). */
enum member_next payload_member_next(struct scanner *sc);

/* The top-level object whose '{' is at the cursor, its members read by the
 * general steps alone; fills *r and *seen, leaves the cursor after the
 * '}'. False on a syntax error. (The fast path's own, payload_fast.c's
 * fast_object, is static there so that its entry can inline it.) */
bool payload_general_object(struct scanner *sc, struct lowi_reading *r, unsigned *seen);

/* lowi_payload_decode with the general scanner alone: same results, errors
 * and offsets by design. For the differential fuzz target
 * (tests/fuzz/fuzz_payload_diff.c), which checks that this holds. */
enum lowi_payload_status lowi_payload_decode_general(const void *payload, size_t len,
	struct lowi_reading *out, struct lowi_payload_error *err);

/* Records why the payload cannot hold an object, and returns that status:
 * too long, empty, only whitespace, or its top-level value not an object
 * (sc->pos at it). */
enum lowi_payload_status payload_refuse_start(struct scanner *sc);

/* Records the trailing data at sc->pos after the object, returns NOT_JSON. */
enum lowi_payload_status payload_refuse_trailing(struct scanner *sc);

/* Records the first missing counter of seen unless an error is recorded
 * already; offset is the object's '}'. */
void payload_report_missing(struct scanner *sc, unsigned seen, size_t offset);

#define REQUIRED_MASK ((1u << F_CIH) | (1u << F_CIL) | (1u << F_CEH) | (1u << F_CEL))

/*
 * lowi_payload_decode (payload.h, same contract) with one scanner: padded,
 * the fast path's, which reads a private copy followed by PAYLOAD_PAD zero
 * bytes, or not, the general one, which reads the caller's bytes in place;
 * object reads that scanner's top-level object. Written once here and
 * inlined, with constant arguments, into each scanner's entry
 * (lowi_payload_decode in payload_fast.c, lowi_payload_decode_general in
 * payload_general.c): a call from another file into the object's loop
 * would pass the scanner through memory and save and restore the loop's
 * registers on every payload. The refusals it meets are worded in
 * payload_general.c, out of line.
 */
static inline __attribute__((always_inline)) enum lowi_payload_status payload_decode(const void *payload,
	size_t len, struct lowi_reading *out, struct lowi_payload_error *err, bool padded,
	bool (*object)(struct scanner *, struct lowi_reading *, unsigned *))
{
	struct lowi_payload_error scratch;
	unsigned char copy[LOWI_PAYLOAD_MAX_BYTES + PAYLOAD_PAD]; /* padded only */
	struct scanner sc = {
		.p = payload,
		.len = payload ? len : 0,
		.status = LOWI_PAYLOAD_OK,
		.err = err ? err : &scratch,
	};
	struct lowi_reading r = { .rate = -1 };
	unsigned seen = 0;

	sc.err->status = LOWI_PAYLOAD_OK;
	sc.err->offset = 0;
	sc.err->field[0] = '\0';
	sc.err->reason[0] = '\0';

	if (sc.len > LOWI_PAYLOAD_MAX_BYTES)
		return payload_refuse_start(&sc);
	if (padded) {
		if (sc.len)
			memcpy(copy, sc.p, sc.len);
		memset(copy + sc.len, 0, PAYLOAD_PAD);
		sc.p = copy;
	}
	sc.pos = skip_ws_at(sc.p, 0, sc.len);
	if (sc.pos >= sc.len || sc.p[sc.pos] != '{')
		return payload_refuse_start(&sc);
	if (!object(&sc, &r, &seen))
		return sc.status;
	size_t end = sc.pos;
	sc.pos = skip_ws_at(sc.p, sc.pos, sc.len);
	if (sc.pos < sc.len)
		return payload_refuse_trailing(&sc);
	if (sc.status == LOWI_PAYLOAD_OK && (seen & REQUIRED_MASK) != REQUIRED_MASK)
		payload_report_missing(&sc, seen, end - 1);
	if (sc.status != LOWI_PAYLOAD_OK)
		return sc.status;

	r.has_gas = seen & (1u << F_CG);
	r.has_water = seen & (1u << F_CW);
	r.has_power = (seen & (1u << F_PI)) && (seen & (1u << F_PE));
	if (out)
		*out = r;
	return LOWI_PAYLOAD_OK;
}

/* Where a counter or power is stored in a reading (the rate is an int). */
static const unsigned char field_offset[F_T] = {
	[F_CIH] = offsetof(struct lowi_reading, import_day_wh),
	[F_CIL] = offsetof(struct lowi_reading, import_night_wh),
	[F_CEH] = offsetof(struct lowi_reading, export_day_wh),
	[F_CEL] = offsetof(struct lowi_reading, export_night_wh),
	[F_PI] = offsetof(struct lowi_reading, import_w),
	[F_PE] = offsetof(struct lowi_reading, export_w),
	[F_CG] = offsetof(struct lowi_reading, gas_l),
	[F_CW] = offsetof(struct lowi_reading, water_l),
};

/* Stores an accepted value of field id; device_CH is checked, not stored. */
static inline void store_field(struct lowi_reading *r, enum field_id id, double v)
{
	if (id < F_T)
		*(double *)(void *)((char *)r + field_offset[id]) = v;
	else if (id == F_T)
		r->rate = (int)v;
}

#endif
