/*
 * The fast path of the LOWI payload decoder: the top-level members of the
 * usual form, the one a dongle writes ({"name":"value",...}: plain names,
 * no whitespace, a known field's value a number in range, quoted or not),
 * read with few branches and word-sized compares. It decides nothing on its
 * own: a member that leaves the usual form at any step goes to the general
 * scanner's step (payload_general.c), which finds and words every error, so
 * both give the same results, errors and offsets (tests/fuzz/
 * fuzz_payload_diff.c checks this on every input).
 *
 * It reads payload_decode's private copy, the payload followed by
 * PAYLOAD_PAD zero bytes, and relies on them instead of bounds checks: a
 * zero ends every string and number scan and matches no delimiter, so
 * reading stops before p[len + PAYLOAD_PAD].
 *
 * Any thread; no allocation, no I/O.
 */
#include "payload_scan.h"

/* Delimiters compared a few bytes at once, as load_le64 reads them. */
#define BYTES2(a, b) ((uint32_t)(a) | (uint32_t)(b) << 8)
#define BYTES3(a, b, c) (BYTES2(a, b) | (uint32_t)(c) << 16)

/*
 * The first string stop at or after p[j], given t = string_stops(p + j - d)
 * and d < 32: a short member's name and value share one word. Bits above a
 * match in the uint64_t word are not exact, so that variant reads again.
 */
static inline size_t stop_from(const unsigned char *p, size_t j, stop_mask t, unsigned d)
{
#ifdef __SSE2__
	stop_mask rest = t >> d;

	if (rest)
		return j + first_stop(rest);
	return string_stop(p, d < STOP_WORD ? j - d + STOP_WORD : j, 0, true);
#else
	(void)t;
	(void)d;
	return string_stop(p, j, 0, true);
#endif
}

/* The usual number (number_plain) at p[start] as *num, and in *e the end
 * of the value, after its closing quote if quoted; false for any other
 * value, which the general step reads with the whole number rule (-0
 * included, the one signed value a field takes). Called with a constant
 * `quoted`, so that each form gets its own copy. */
static inline bool number_end(const unsigned char *p, size_t start, bool quoted, struct number *num, size_t *e)
{
	uint64_t m;
	const unsigned char *end = number_plain(p + start, 0, true, quoted ? '"' : 0, &m);

	if (end == NULL)
		return false;
	*num = (struct number){ m, 0, false };
	*e = (size_t)(end - p) + quoted;
	return true;
}

/* How far the usual form took a member: the general steps do the rest. */
enum fast_done {
	FAST_NOTHING, /* the cursor is at the member's start, its name's quote */
	FAST_NAME,    /* name and ':' read, the cursor is at the value */
	FAST_VALUE,   /* value read, the cursor is after it */
	FAST_MEMBER,  /* ',' read, the cursor is at the next name's quote */
};

/* The name fast_member read: kept apart from struct member, whose address
 * the general steps take, so that it stays in registers. */
struct fast_name {
	size_t key_at;
	int id;
};

/*
 * Reads the member whose name opens at p[*at] as far as its usual form
 * goes, storing a known field's value in r and marking it in *seen; *at
 * ends where the general step takes over. *name is set on FAST_NAME and
 * FAST_VALUE only, the returns that hand the member over: the general step
 * is its one reader, and setting it for every member kept two more values
 * live across the loop.
 */
static inline enum fast_done fast_member(const unsigned char *p, size_t *at, struct fast_name *name,
	struct lowi_reading *r, unsigned *seen)
{
	size_t key_at = *at, k = key_at + 1, i, e;
	stop_mask t;
	uint32_t after;
	unsigned n;
	int id;
	bool quoted;

	t = string_stops(p + k);
	if (t == 0)
		return FAST_NOTHING;
	n = (unsigned)first_stop(t);
	after = (uint32_t)load_le64(p + k + n);
	if ((after & 0xffff) != BYTES2('"', ':'))
		return FAST_NOTHING;
	id = field_id(p + k, n, true);
	i = k + n + 2;
	quoted = (after & 0xffffff) == BYTES3('"', ':', '"');
	if (id < 0) {
		if (!quoted || p[e = stop_from(p, i + 1, t, n + 3)] != '"')
			goto name_read;
		i = e + 1;
	} else {
		struct number num;
		double v;

		if (*seen & (1u << id))
			goto name_read;
		if (!(quoted ? number_end(p, i + 1, true, &num, &e) : number_end(p, i, false, &num, &e))
			|| !field_accepts((enum field_id)id, &num, &v))
			goto name_read;
		*seen |= 1u << id;
		store_field(r, (enum field_id)id, v);
		i = e;
	}
	if ((uint16_t)load_le64(p + i) != BYTES2(',', '"')) {
		*at = i;
		*name = (struct fast_name){ key_at, id };
		return FAST_VALUE;
	}
	*at = i + 1;
	return FAST_MEMBER;
name_read:
	*at = k + n + 2;
	*name = (struct fast_name){ key_at, id };
	return FAST_NAME;
}

/* The general steps after fast_member's, for a member at the cursor. Out
 * of line and cold: the usual payload never needs them. */
__attribute__((noinline, cold))
static enum member_next general_rest(struct scanner *sc, enum fast_done done, struct fast_name name,
	struct lowi_reading *r, unsigned *seen)
{
	struct member m = { .key_at = name.key_at, .id = name.id };

	if (done == FAST_NOTHING) {
		if (!payload_member_name(sc, &m))
			return MEMBER_FAILED;
	} else {
		/* a plain name: its length is where its string stops */
		payload_enter_member(sc, &m, string_stop(sc->p, m.key_at + 1, sc->len, true) - m.key_at - 1);
	}
	if (done != FAST_VALUE && !payload_member_value(sc, &m, r, seen))
		return MEMBER_FAILED;
	return payload_member_next(sc);
}

/* The top-level object whose '{' is at the cursor, as payload_general_object
 * (payload_scan.h) reads it: its usual members here, any other through the
 * general steps. sc->p is followed by PAYLOAD_PAD zero bytes. */
static bool fast_object(struct scanner *sc, struct lowi_reading *r, unsigned *seen)
{
	const unsigned char *p = sc->p;
	size_t i = skip_ws_at(p, sc->pos + 1, sc->len);
	unsigned seen_here = *seen;
	enum member_next next;

	if (p[i] == '}') {
		sc->pos = i + 1;
		return true;
	}
	for (;;) {
		struct fast_name name = { 0, -1 };
		enum fast_done done = FAST_NOTHING;
		unsigned seen_general;

		if (p[i] == '"')
			while ((done = fast_member(p, &i, &name, r, &seen_here)) == FAST_MEMBER)
				;
		if (done == FAST_VALUE && p[i] == '}') {
			/* the usual last member: what payload_member_next does for it */
			sc->pos = i + 1;
			sc->in_member = false;
			next = MEMBER_END;
			break;
		}
		sc->pos = i;
		seen_general = seen_here; /* seen_here's address is never taken: a register */
		next = general_rest(sc, done, name, r, &seen_general);
		seen_here = seen_general;
		if (next != MEMBER_MORE)
			break;
		i = sc->pos;
	}
	*seen = seen_here;
	return next == MEMBER_END;
}

enum lowi_payload_status lowi_payload_decode(const void *payload, size_t len,
	struct lowi_reading *out, struct lowi_payload_error *err)
{
	return payload_decode(payload, len, out, err, true, fast_object);
}
