/*
 * The general scanner of the LOWI payload decoder: the whole strict JSON
 * grammar (RFC 8259) over p[0, len), every read guarded by a bound, every
 * error found and worded here. The fast path (payload_fast.c) hands it any
 * member whose form is not the usual one; lowi_payload_decode_general runs
 * it alone.
 *
 * Invariants:
 *  - helpers return false on the first syntax error and nothing reads
 *    further;
 *  - no allocation, no globals except const tables, no I/O, no locale;
 *  - recursion only through skip_value/skip_container, bounded by MAX_DEPTH;
 *  - the first field error is recorded and scanning goes on, so that a
 *    later syntax error can still turn the verdict into NOT_JSON.
 * Any thread; the plugin calls it on its aggregator thread.
 */
#include "payload_scan.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MAX_DEPTH 32          /* arrays/objects, the top-level object included */
#define EXCERPT_CHARS 24      /* longest value excerpt quoted in a reason */
#define EXCERPT_BUF (EXCERPT_CHARS + 4 + 3 + 1)

enum field_kind { KIND_COUNTER, KIND_POWER, KIND_RATE, KIND_CHANNEL };

static const struct field_spec {
	const char *name;
	enum field_kind kind;
	const char *limit_text; /* for "above the ... limit" */
} field_specs[F_COUNT] = {
	[F_CIH] = { "CIH", KIND_COUNTER, "999999999999 Wh" },
	[F_CIL] = { "CIL", KIND_COUNTER, "999999999999 Wh" },
	[F_CEH] = { "CEH", KIND_COUNTER, "999999999999 Wh" },
	[F_CEL] = { "CEL", KIND_COUNTER, "999999999999 Wh" },
	[F_PI] = { "PI", KIND_POWER, "1e6 W" },
	[F_PE] = { "PE", KIND_POWER, "1e6 W" },
	[F_CG] = { "CG", KIND_COUNTER, "999999999999 litres" },
	[F_CW] = { "CW", KIND_COUNTER, "999999999999 litres" },
	[F_T] = { "T", KIND_RATE, NULL },
	[F_DEVICE_CH] = { "device_CH", KIND_CHANNEL, NULL },
};

/* ---- error reporting ---------------------------------------------------- */

static void copy_field_name(char dst[16], const unsigned char *name, size_t len)
{
	size_t n = name ? (len < 15 ? len : 15) : 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = name[i];
		dst[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	dst[n] = '\0';
}

/* Records an error; named: the field is the current member's name. */
__attribute__((format(printf, 5, 0)))
static void record_error(struct scanner *sc, enum lowi_payload_status status, size_t offset, bool named,
	const char *fmt, va_list ap)
{
	struct lowi_payload_error *e = sc->err;

	sc->status = status;
	e->status = status;
	e->offset = offset;
	if (named)
		copy_field_name(e->field, sc->key, sc->key_len);
	else
		e->field[0] = '\0';
	vsnprintf(e->reason, sizeof e->reason, fmt, ap);
}

__attribute__((format(printf, 4, 5)))
static void set_error(struct scanner *sc, enum lowi_payload_status status, size_t offset,
	const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	record_error(sc, status, offset, sc->in_member, fmt, ap);
	va_end(ap);
}

/* "x" for a printable character, "\x01" otherwise. */
static void describe_char(unsigned char c, char out[8])
{
	if (c > 0x20 && c < 0x7f) {
		out[0] = (char)c;
		out[1] = '\0';
	} else {
		snprintf(out, 8, "\\x%02x", c);
	}
}

/* Syntax error at the cursor: end of input or an unexpected byte. */
static bool fail_at(struct scanner *sc, const char *expected)
{
	if (sc->pos >= sc->len) {
		set_error(sc, LOWI_PAYLOAD_NOT_JSON, sc->len,
			"unexpected end of payload at byte %zu (expected %s)", sc->len, expected);
	} else {
		char c[8];
		describe_char(sc->p[sc->pos], c);
		set_error(sc, LOWI_PAYLOAD_NOT_JSON, sc->pos,
			"invalid character '%s' at byte %zu (expected %s)", c, sc->pos, expected);
	}
	return false;
}

/* Syntax error inside a string: byte c at i (after lead) is not allowed. */
static bool string_fault(struct scanner *sc, size_t i, const char *what, const char *lead, unsigned char c)
{
	char d[8];

	describe_char(c, d);
	sc->pos = i;
	set_error(sc, LOWI_PAYLOAD_NOT_JSON, i, "invalid %s '%s%s' at byte %zu inside a string", what, lead, d, i);
	return false;
}

/* The raw text p[start, end) made printable, cut with "..." when long. */
static void excerpt(const unsigned char *p, size_t start, size_t end, char out[EXCERPT_BUF])
{
	size_t o = 0;
	for (size_t i = start; i < end; i++) {
		if (o >= EXCERPT_CHARS) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		unsigned char c = p[i];
		if (c >= 0x20 && c < 0x7f) {
			out[o++] = (char)c;
		} else {
			snprintf(out + o, 5, "\\x%02x", c);
			o += 4;
		}
	}
	out[o] = '\0';
}

/* Records a field error unless an earlier error is already recorded. */
__attribute__((format(printf, 4, 5)))
static void field_error(struct scanner *sc, enum lowi_payload_status status, size_t offset,
	const char *fmt, ...)
{
	va_list ap;

	if (sc->status != LOWI_PAYLOAD_OK)
		return;
	va_start(ap, fmt);
	record_error(sc, status, offset, true, fmt, ap);
	va_end(ap);
}

/* ---- strings and literals ------------------------------------------------- */

static inline void skip_ws(struct scanner *sc)
{
	sc->pos = skip_ws_at(sc->p, sc->pos, sc->len);
}

static int hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Scans the string whose opening quote is at the cursor; leaves the cursor
 * after the closing quote. Sets *decoded_len (if given) to the decoded length
 * and *escaped (if given) when the string holds a backslash escape: without
 * one the content is the raw bytes between the quotes. When buf is given,
 * writes up to cap decoded bytes (an escape \uXXXX above U+007F is written as
 * the single byte 0xff: such a string can be neither a known name nor a
 * number). Bytes >= 0x80 pass unchecked: UTF-8 validity does not matter here.
 */
static bool scan_string_full(struct scanner *sc, unsigned char *buf, size_t cap, size_t *decoded_len,
	bool *escaped)
{
	const unsigned char *p = sc->p;
	size_t len = sc->len, i = sc->pos + 1, n = 0;
	bool esc = false;

	for (;;) {
		size_t run = i;
		i = string_stop(p, i, len, false);
		if (buf && n < cap) {
			size_t k = i - run < cap - n ? i - run : cap - n;
			memcpy(buf + n, p + run, k);
		}
		n += i - run;
		if (i >= len) {
			sc->pos = len;
			return fail_at(sc, "'\"' closing the string");
		}
		unsigned char c = p[i];
		if (c == '"') {
			sc->pos = i + 1;
			break;
		}
		if (c < 0x20)
			return string_fault(sc, i, "character", "", c);
		/* a backslash at i */
		esc = true;
		if (i + 1 >= len) {
			sc->pos = len;
			return fail_at(sc, "an escape");
		}
		unsigned char e = p[i + 1];
		unsigned char d;
		switch (e) {
		case '"': d = '"'; break;
		case '\\': d = '\\'; break;
		case '/': d = '/'; break;
		case 'b': d = '\b'; break;
		case 'f': d = '\f'; break;
		case 'n': d = '\n'; break;
		case 'r': d = '\r'; break;
		case 't': d = '\t'; break;
		case 'u': {
			unsigned code = 0;
			for (size_t k = i + 2; k < i + 6; k++) {
				int h = k < len ? hex_value(p[k]) : -1;
				if (h < 0) {
					sc->pos = k < len ? k : len;
					return fail_at(sc, "4 hex digits after \\u");
				}
				code = code * 16 + (unsigned)h;
			}
			d = code < 0x80 ? (unsigned char)code : 0xff;
			i += 4; /* + 2 below */
			break;
		}
		default:
			return string_fault(sc, i, "escape", "\\", e);
		}
		i += 2;
		if (buf && n < cap)
			buf[n] = d;
		n++;
	}
	if (decoded_len)
		*decoded_len = n;
	if (escaped)
		*escaped = esc;
	return true;
}

/* scan_string_full, with a fast path for the usual string: no escape, no copy. */
static inline bool scan_string(struct scanner *sc, unsigned char *buf, size_t cap, size_t *decoded_len,
	bool *escaped)
{
	const unsigned char *p = sc->p;
	size_t len = sc->len, i = sc->pos + 1;

	if (buf)
		return scan_string_full(sc, buf, cap, decoded_len, escaped);
	i = string_stop(p, i, len, false);
	if (i >= len || p[i] != '"')
		return scan_string_full(sc, buf, cap, decoded_len, escaped);
	if (decoded_len)
		*decoded_len = i - sc->pos - 1;
	if (escaped)
		*escaped = false;
	sc->pos = i + 1;
	return true;
}

static bool scan_literal(struct scanner *sc, const char *word, size_t wlen, const char *expected)
{
	for (size_t k = 0; k < wlen; k++) {
		if (sc->pos >= sc->len || sc->p[sc->pos] != (unsigned char)word[k])
			return fail_at(sc, expected);
		sc->pos++;
	}
	return true;
}

/* ---- structure ------------------------------------------------------------ */

static bool skip_value(struct scanner *sc, int depth);

/* Skips the array or object opening at the cursor; depth counts it. */
static bool skip_container(struct scanner *sc, int depth)
{
	bool object = sc->p[sc->pos] == '{';
	unsigned char close = object ? '}' : ']';

	if (depth > MAX_DEPTH) {
		set_error(sc, LOWI_PAYLOAD_NOT_JSON, sc->pos,
			"nested too deep at byte %zu (more than %d levels)", sc->pos, MAX_DEPTH);
		return false;
	}
	sc->pos++;
	skip_ws(sc);
	if (sc->pos < sc->len && sc->p[sc->pos] == close) {
		sc->pos++;
		return true;
	}
	for (;;) {
		if (object) {
			if (sc->pos >= sc->len || sc->p[sc->pos] != '"')
				return fail_at(sc, "a field name");
			if (!scan_string(sc, NULL, 0, NULL, NULL))
				return false;
			skip_ws(sc);
			if (sc->pos >= sc->len || sc->p[sc->pos] != ':')
				return fail_at(sc, "':' after a field name");
			sc->pos++;
			skip_ws(sc);
		}
		if (!skip_value(sc, depth))
			return false;
		skip_ws(sc);
		if (sc->pos < sc->len && sc->p[sc->pos] == ',') {
			sc->pos++;
			skip_ws(sc);
			continue;
		}
		if (sc->pos < sc->len && sc->p[sc->pos] == close) {
			sc->pos++;
			return true;
		}
		return fail_at(sc, object ? "',' or '}'" : "',' or ']'");
	}
}

/* Skips any JSON value at the cursor; depth = containers already open. */
static bool skip_value(struct scanner *sc, int depth)
{
	if (sc->pos >= sc->len)
		return fail_at(sc, "a value");
	switch (sc->p[sc->pos]) {
	case '{':
	case '[':
		return skip_container(sc, depth + 1);
	case '"':
		return scan_string(sc, NULL, 0, NULL, NULL);
	case 't':
		return scan_literal(sc, "true", 4, "'true'");
	case 'f':
		return scan_literal(sc, "false", 5, "'false'");
	case 'n':
		return scan_literal(sc, "null", 4, "'null'");
	case '-':
	case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9': {
		size_t bad_at = 0;
		struct number num;
		size_t used = number_scan(sc->p + sc->pos, sc->len - sc->pos, false, &num, &bad_at);
		if (used == 0) {
			sc->pos += bad_at;
			return fail_at(sc, "a digit");
		}
		sc->pos += used;
		return true;
	}
	default:
		return fail_at(sc, "a value");
	}
}

/* ---- members --------------------------------------------------------------- */

/* Stores the number num, whose raw text is p[start, end), in field id, or
 * records why the field refuses it. */
static void check_and_store(struct scanner *sc, enum field_id id, const struct number *num,
	size_t start, size_t end, struct lowi_reading *r)
{
	const struct field_spec *f = &field_specs[id];
	char text[EXCERPT_BUF];
	double v;

	if (field_accepts(id, num, &v)) {
		store_field(r, id, v);
		return;
	}
	excerpt(sc->p, start, end, text);
	switch (f->kind) {
	case KIND_COUNTER:
	case KIND_POWER:
		if (num->negative)
			field_error(sc, LOWI_PAYLOAD_OUT_OF_RANGE, start,
				"field %s: %s is negative", f->name, text);
		else
			field_error(sc, LOWI_PAYLOAD_OUT_OF_RANGE, start,
				"field %s: %s is above the %s limit", f->name, text, f->limit_text);
		break;
	case KIND_RATE:
		field_error(sc, LOWI_PAYLOAD_OUT_OF_RANGE, start,
			"field T: %s is not 1 (day) or 0 (night)", text);
		break;
	case KIND_CHANNEL:
		field_error(sc, LOWI_PAYLOAD_WRONG_CHANNEL, start,
			"field device_CH: %s is not channel 0", text);
		break;
	}
}

/* Scans the value of known field id at the cursor: a number or a numeric string. */
static bool scan_known_value(struct scanner *sc, enum field_id id, struct lowi_reading *r)
{
	size_t start = sc->pos;
	struct number num;
	bool is_number = false;

	if (sc->pos >= sc->len)
		return fail_at(sc, "a value");
	unsigned char c = sc->p[sc->pos];
	if (c == '"') {
		size_t dlen = 0, bad_at = 0, used;
		bool escaped = false;
		/* usual case: the string holds just a number; numbers hold no '"' */
		used = number_scan(sc->p + start + 1, sc->len - start - 1, false, &num, &bad_at);
		if (used && start + 1 + used < sc->len && sc->p[start + 1 + used] == '"') {
			sc->pos = start + 2 + used;
			check_and_store(sc, id, &num, start, sc->pos, r);
			return true;
		}
		if (!scan_string(sc, NULL, 0, &dlen, &escaped))
			return false;
		if (!escaped) {
			used = number_scan(sc->p + start + 1, dlen, false, &num, &bad_at);
		} else {
			/* rare: decode again into a buffer; decoded <= raw <= the limit */
			unsigned char buf[LOWI_PAYLOAD_MAX_BYTES];
			sc->pos = start;
			scan_string(sc, buf, sizeof buf, &dlen, NULL);
			used = dlen <= sizeof buf ? number_scan(buf, dlen, false, &num, &bad_at) : 0;
		}
		is_number = used > 0 && used == dlen;
	} else if (c == '-' || (c >= '0' && c <= '9')) {
		size_t bad_at = 0;
		size_t used = number_scan(sc->p + start, sc->len - start, false, &num, &bad_at);
		if (used == 0) {
			sc->pos = start + bad_at;
			return fail_at(sc, "a digit");
		}
		sc->pos = start + used;
		is_number = true;
	} else {
		if (!skip_value(sc, 1))
			return false;
	}
	if (!is_number) {
		char text[EXCERPT_BUF];
		excerpt(sc->p, start, sc->pos, text);
		field_error(sc, LOWI_PAYLOAD_NOT_A_NUMBER, start,
			"field %s: %s is not a number", field_specs[id].name, text);
		return true;
	}
	check_and_store(sc, id, &num, start, sc->pos, r);
	return true;
}

/* ---- the top-level object --------------------------------------------------- */

bool payload_member_name(struct scanner *sc, struct member *m)
{
	const unsigned char *p = sc->p;
	size_t k = sc->pos + 1, end;
	bool escaped = false;

	sc->in_member = false;
	if (sc->pos >= sc->len || p[sc->pos] != '"')
		return fail_at(sc, "a field name");
	m->key_at = sc->pos;
	end = string_stop(p, k, sc->len, false);
	if (end < sc->len && p[end] == '"') {
		sc->key = p + k;
		sc->key_len = end - k;
		sc->pos = end + 1;
	} else {
		if (!scan_string_full(sc, NULL, 0, &sc->key_len, &escaped))
			return false;
		sc->key = p + k;
		if (escaped) {
			sc->pos = m->key_at;
			scan_string_full(sc, sc->key_buf, sizeof sc->key_buf, &sc->key_len, NULL);
			sc->key = sc->key_buf;
		}
	}
	m->id = sc->key_len <= KEY_MAX ? field_id(sc->key, sc->key_len, false) : -1;
	skip_ws(sc);
	if (sc->pos >= sc->len || p[sc->pos] != ':')
		return fail_at(sc, "':' after a field name");
	sc->pos++;
	sc->in_member = true;
	return true;
}

bool payload_member_value(struct scanner *sc, const struct member *m, struct lowi_reading *r, unsigned *seen)
{
	skip_ws(sc);
	if (m->id < 0)
		return skip_value(sc, 1);
	if (*seen & (1u << m->id)) {
		field_error(sc, LOWI_PAYLOAD_DUPLICATE_FIELD, m->key_at,
			"field %s appears twice (again at byte %zu)", field_specs[m->id].name, m->key_at);
		return skip_value(sc, 1);
	}
	*seen |= 1u << m->id;
	return scan_known_value(sc, (enum field_id)m->id, r);
}

enum member_next payload_member_next(struct scanner *sc)
{
	/* a missing separator is still reported against this member */
	skip_ws(sc);
	if (sc->pos < sc->len && sc->p[sc->pos] == ',') {
		sc->pos++;
		skip_ws(sc);
		return MEMBER_MORE;
	}
	if (sc->pos < sc->len && sc->p[sc->pos] == '}') {
		sc->pos++;
		sc->in_member = false;
		return MEMBER_END;
	}
	fail_at(sc, "',' or '}'");
	return MEMBER_FAILED;
}

bool payload_general_object(struct scanner *sc, struct lowi_reading *r, unsigned *seen)
{
	sc->pos++;
	skip_ws(sc);
	if (sc->pos < sc->len && sc->p[sc->pos] == '}') {
		sc->pos++;
		return true;
	}
	for (;;) {
		struct member m;

		if (!payload_member_name(sc, &m) || !payload_member_value(sc, &m, r, seen))
			return false;
		switch (payload_member_next(sc)) {
		case MEMBER_MORE:
			continue;
		case MEMBER_END:
			return true;
		case MEMBER_FAILED:
			break;
		}
		return false;
	}
}

static const char *json_kind(unsigned char c)
{
	switch (c) {
	case '[': return "an array";
	case '"': return "a string";
	case 't':
	case 'f': return "a boolean";
	case 'n': return "null";
	default: return "a number";
	}
}

/* The top level is a valid value but not an object: which error applies. */
static enum lowi_payload_status reject_non_object(struct scanner *sc)
{
	size_t start = sc->pos;
	unsigned char c = sc->p[start];

	if (c != '[' && c != '"' && c != 't' && c != 'f' && c != 'n' && c != '-'
		&& !(c >= '0' && c <= '9')) {
		fail_at(sc, "'{' opening the object");
		return sc->status;
	}
	if (!skip_value(sc, 0))
		return sc->status;
	skip_ws(sc);
	if (sc->pos < sc->len) {
		set_error(sc, LOWI_PAYLOAD_NOT_JSON, sc->pos,
			"trailing data after the value at byte %zu", sc->pos);
		return sc->status;
	}
	set_error(sc, LOWI_PAYLOAD_NOT_OBJECT, start,
		"the payload is %s, not a JSON object", json_kind(c));
	return sc->status;
}

enum lowi_payload_status payload_refuse_start(struct scanner *sc)
{
	if (sc->len > LOWI_PAYLOAD_MAX_BYTES) {
		set_error(sc, LOWI_PAYLOAD_TOO_LONG, LOWI_PAYLOAD_MAX_BYTES,
			"payload is %zu bytes, over the %d-byte limit", sc->len, LOWI_PAYLOAD_MAX_BYTES);
		return sc->status;
	}
	if (sc->pos >= sc->len) {
		if (sc->len == 0)
			set_error(sc, LOWI_PAYLOAD_NOT_JSON, 0, "empty payload");
		else
			set_error(sc, LOWI_PAYLOAD_NOT_JSON, sc->len,
				"payload holds only whitespace (%zu bytes)", sc->len);
		return sc->status;
	}
	return reject_non_object(sc);
}

enum lowi_payload_status payload_refuse_trailing(struct scanner *sc)
{
	set_error(sc, LOWI_PAYLOAD_NOT_JSON, sc->pos,
		"trailing data after the object at byte %zu", sc->pos);
	return sc->status;
}

void payload_report_missing(struct scanner *sc, unsigned seen, size_t offset)
{
	static const enum field_id required[] = { F_CIH, F_CIL, F_CEH, F_CEL };
	char others[32] = "";
	const char *first = NULL;
	size_t o = 0;

	for (size_t k = 0; k < sizeof required / sizeof required[0]; k++) {
		enum field_id id = required[k];
		if (seen & (1u << id))
			continue;
		if (!first) {
			first = field_specs[id].name;
		} else {
			int w = snprintf(others + o, sizeof others - o, "%s%s", o ? ", " : "", field_specs[id].name);
			if (w > 0)
				o += (size_t)w;
		}
	}
	sc->key = (const unsigned char *)first;
	sc->key_len = strlen(first);
	field_error(sc, LOWI_PAYLOAD_MISSING_COUNTER, offset,
		"required counter %s is missing%s%s%s", first,
		o ? " (also " : "", others, o ? ")" : "");
}

/* ---- the payload -------------------------------------------------------------- */

enum lowi_payload_status lowi_payload_decode_general(const void *payload, size_t len,
	struct lowi_reading *out, struct lowi_payload_error *err)
{
	return payload_decode(payload, len, out, err, false, payload_general_object);
}
