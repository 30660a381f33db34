/*
 * LOWI CH0 payload decoder: one pass of a strict JSON scanner over a
 * bounded, not NUL-terminated buffer.
 *
 * Invariants:
 *  - the payload is read once, into a stack copy followed by PAD zero bytes:
 *    scan_top_object relies on them instead of bounds checks (a zero ends
 *    every scan and matches no delimiter), the other helpers guard every
 *    read of p[i] by i < len; helpers return false on the first syntax
 *    error and nothing reads further;
 *  - no allocation, no globals except const tables, no I/O, no locale:
 *    numbers are converted here, not with strtod;
 *  - recursion only through skip_value/skip_container, bounded by MAX_DEPTH;
 *  - the first field error is recorded and scanning goes on, so that a
 *    later syntax error can still turn the verdict into NOT_JSON.
 * Any thread; the plugin calls it on its aggregator thread. Cost: about 1,900
 * instructions for the 330-byte payload of tests/bench/lowi_gen.h
 * (callgrind, -O3, x86-64).
 */
#include "payload.h"

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define MAX_DEPTH 32          /* arrays/objects, the top-level object included */
/* Wh or litres. Below 1e12 so an index fits Conso's DECIMAL(12,3) kWh
 * (999 999 999.999 kWh); a larger one is refused here, not by MariaDB. */
#define COUNTER_MAX 999999999999.0
#define POWER_MAX_W 1e6
#define EXCERPT_CHARS 24      /* longest value excerpt quoted in a reason */
#define EXCERPT_BUF (EXCERPT_CHARS + 4 + 3 + 1)
#define KEY_MAX 15            /* longer keys cannot be known fields */

enum field_id { F_CIH, F_CIL, F_CEH, F_CEL, F_PI, F_PE, F_CG, F_CW, F_T, F_DEVICE_CH, F_COUNT };

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

#define REQUIRED_MASK ((1u << F_CIH) | (1u << F_CIL) | (1u << F_CEH) | (1u << F_CEL))

struct scanner {
	const unsigned char *p;
	size_t len;
	size_t pos;
	enum lowi_payload_status status; /* first error so far, OK if none */
	struct lowi_payload_error *err;  /* never NULL */
	bool in_member;                  /* scanning a top-level member's value */
	const unsigned char *key;        /* that member's name: in p, or in key_buf */
	size_t key_len;                  /* its full decoded length */
	unsigned char key_buf[KEY_MAX];  /* a name with escapes, decoded, truncated */
};

/* A JSON number, converted. */
struct number {
	double value;  /* magnitude; +inf when too large for a double */
	bool negative; /* '-' in front of a non-zero value */
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

__attribute__((format(printf, 4, 5)))
static void set_error(struct scanner *sc, enum lowi_payload_status status, size_t offset,
	const char *fmt, ...)
{
	struct lowi_payload_error *e = sc->err;
	va_list ap;

	sc->status = status;
	e->status = status;
	e->offset = offset;
	if (sc->in_member)
		copy_field_name(e->field, sc->key, sc->key_len);
	else
		e->field[0] = '\0';
	va_start(ap, fmt);
	vsnprintf(e->reason, sizeof e->reason, fmt, ap);
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
	struct lowi_payload_error *e = sc->err;
	va_list ap;

	if (sc->status != LOWI_PAYLOAD_OK)
		return;
	sc->status = status;
	e->status = status;
	e->offset = offset;
	copy_field_name(e->field, sc->key, sc->key_len);
	va_start(ap, fmt);
	vsnprintf(e->reason, sizeof e->reason, fmt, ap);
	va_end(ap);
}

/* ---- lexical pieces ------------------------------------------------------ */

/* Byte classes: STOP ends a run of plain string bytes (controls, '"', '\\'),
 * WS is JSON whitespace. */
#define CLS_STOP 1
#define CLS_WS 2
static const unsigned char byte_class[256] = {
	1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 1, 1, 3, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

static inline void skip_ws(struct scanner *sc)
{
	size_t i = sc->pos;

	while (i < sc->len && (byte_class[sc->p[i]] & CLS_WS))
		i++;
	sc->pos = i;
}

/*
 * Strings are scanned a word at a time (16 bytes with SSE2, which every
 * x86-64 has, otherwise 8 in a uint64_t): the payload is mostly short names
 * and values, and a byte loop spent most of the decoder's time in them. The
 * uint64_t word is read little-endian so that the payload's first byte is
 * the lowest one, where the lowest set bit points.
 */
#define BYTES_01 UINT64_C(0x0101010101010101)
#define BYTES_80 UINT64_C(0x8080808080808080)

static inline uint64_t load_le64(const unsigned char *s)
{
	uint64_t v;

	memcpy(&v, s, sizeof v);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

/*
 * High bit set in each byte of v that is '"', '\\' or below 0x20 (possibly
 * also in bytes above such a byte). Flipping bit 1 maps '"' to 0x20 and keeps
 * the controls below it, so one subtraction finds both. A subtraction
 * borrows out of a byte only when that byte is a match, so the lowest set
 * bit is always exact.
 */
static inline uint64_t string_stops8(uint64_t v)
{
	uint64_t y = v ^ (BYTES_01 * 0x02), b = v ^ (BYTES_01 * '\\');

	return ((y - BYTES_01 * 0x21) | (b - BYTES_01)) & ~v & BYTES_80;
}

#ifdef __SSE2__
#define STOP_WORD 16
typedef unsigned stop_mask;

/*
 * Bit k set when s[k] is '"', '\\' or below 0x20; s[0, 16) is readable.
 * Flipping bit 1 maps '"' to 0x20 and keeps the controls below it, so one
 * unsigned compare finds both.
 */
static inline unsigned string_stops(const unsigned char *s)
{
	const __m128i v = _mm_loadu_si128((const __m128i *)(const void *)s);
	const __m128i space = _mm_set1_epi8(0x20);
	const __m128i quote_or_control = _mm_cmpeq_epi8(_mm_max_epu8(_mm_xor_si128(v, _mm_set1_epi8(0x02)), space), space);

	return (unsigned)_mm_movemask_epi8(_mm_or_si128(quote_or_control, _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));
}

static inline size_t first_stop(unsigned m)
{
	return (unsigned)__builtin_ctz(m);
}
#else
#define STOP_WORD 8
typedef uint64_t stop_mask;

static inline uint64_t string_stops(const unsigned char *s)
{
	return string_stops8(load_le64(s));
}

static inline size_t first_stop(uint64_t m)
{
	return (size_t)((unsigned)__builtin_ctzll(m) >> 3);
}
#endif

/* Index of the first CLS_STOP byte in p[i, len), or len; i <= len. */
static inline size_t string_stop(const unsigned char *p, size_t i, size_t len)
{
	for (; len - i >= STOP_WORD; i += STOP_WORD) {
		stop_mask t = string_stops(p + i);
		if (t)
			return i + first_stop(t);
	}
#if STOP_WORD > 8
	if (len - i >= 8) {
		uint64_t t = string_stops8(load_le64(p + i));
		if (t)
			return i + ((unsigned)__builtin_ctzll(t) >> 3);
		i += 8;
	}
#endif
	while (i < len && !(byte_class[p[i]] & CLS_STOP))
		i++;
	return i;
}

/* skip_ws on local state, for the hot loop: most payloads hold no whitespace. */
static inline size_t skip_ws_at(const unsigned char *p, size_t i, size_t len)
{
	if (i < len && p[i] <= ' ')
		while (i < len && (byte_class[p[i]] & CLS_WS))
			i++;
	return i;
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
		i = string_stop(p, i, len);
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
		if (c < 0x20) {
			char d[8];
			describe_char(c, d);
			sc->pos = i;
			set_error(sc, LOWI_PAYLOAD_NOT_JSON, i,
				"invalid character '%s' at byte %zu inside a string", d, i);
			return false;
		}
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
		default: {
			char x[8];
			describe_char(e, x);
			sc->pos = i;
			set_error(sc, LOWI_PAYLOAD_NOT_JSON, i,
				"invalid escape '\\%s' at byte %zu inside a string", x, i);
			return false;
		}
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
	i = string_stop(p, i, len);
	if (i >= len || p[i] != '"')
		return scan_string_full(sc, buf, cap, decoded_len, escaped);
	if (decoded_len)
		*decoded_len = i - sc->pos - 1;
	if (escaped)
		*escaped = false;
	sc->pos = i + 1;
	return true;
}

static const double pow10_exact[] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/*
 * m x 10^e10, where m has ndig significant digits. Correctly rounded when
 * m <= 2^53 and |e10| <= 22 (both operands exact, one IEEE rounding): this
 * covers every integer up to 1e12 and every decimal a meter writes.
 * Otherwise within a few units in the last place.
 */
static double scale(uint64_t m, int ndig, long e10)
{
	const uint64_t exact = UINT64_C(1) << 53;

	if (m == 0)
		return 0.0;
	while (m > exact && m % 10 == 0) {
		m /= 10;
		e10++;
		ndig--;
	}
	if (m <= exact && e10 >= -22 && e10 <= 22)
		return e10 >= 0 ? (double)m * pow10_exact[e10] : (double)m / pow10_exact[-e10];
	if (e10 + ndig > 310)
		return INFINITY;
	if (e10 + ndig < -330)
		return 0.0;
	double v = (double)m;
	while (e10 > 22) {
		v *= 1e22;
		e10 -= 22;
	}
	while (e10 < -22) {
		v /= 1e22;
		e10 += 22;
	}
	return e10 >= 0 ? v * pow10_exact[e10] : v / pow10_exact[-e10];
}

/*
 * Parses a JSON number at the start of s[0, n):
 *   -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
 * Returns the bytes used, or 0 when s does not hold a valid number, with
 * *bad_at the offset of the offending byte (n when s ran out). What follows
 * the number is the caller's business.
 */
static size_t parse_number(const unsigned char *s, size_t n, struct number *num, size_t *bad_at)
{
	size_t i = 0;
	uint64_t m = 0;
	int ndig = 0;
	long e10 = 0;
	bool minus = false;

#define DIGIT_AT(k) ((k) < n && s[k] >= '0' && s[k] <= '9')
	if (i < n && s[i] == '-') {
		minus = true;
		i++;
	}
	if (!DIGIT_AT(i))
		goto bad;
	if (s[i] == '0') {
		i++;
	} else {
		while (DIGIT_AT(i)) {
			if (ndig < 19) {
				m = m * 10 + (uint64_t)(s[i] - '0');
				if (m)
					ndig++;
			} else {
				e10++;
			}
			i++;
		}
	}
	if (i < n && s[i] == '.') {
		i++;
		if (!DIGIT_AT(i))
			goto bad;
		while (DIGIT_AT(i)) {
			if (ndig < 19) {
				m = m * 10 + (uint64_t)(s[i] - '0');
				if (m)
					ndig++;
				e10--;
			}
			i++;
		}
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		bool eminus = false;
		long x = 0;
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-')) {
			eminus = s[i] == '-';
			i++;
		}
		if (!DIGIT_AT(i))
			goto bad;
		while (DIGIT_AT(i)) {
			if (x < 100000)
				x = x * 10 + (s[i] - '0');
			i++;
		}
		e10 += eminus ? -x : x;
	}
#undef DIGIT_AT
	num->value = scale(m, ndig, e10);
	num->negative = minus && m != 0;
	return i;
bad:
	*bad_at = i;
	return 0;
}

/* parse_number's grammar and verdict (bytes used, *bad_at) without the
 * conversion, for values that are only skipped. */
static size_t number_end(const unsigned char *s, size_t n, size_t *bad_at)
{
	size_t i = 0;

#define DIGIT_AT(k) ((k) < n && s[k] >= '0' && s[k] <= '9')
	if (i < n && s[i] == '-')
		i++;
	if (!DIGIT_AT(i))
		goto bad;
	if (s[i] == '0')
		i++;
	else
		while (DIGIT_AT(i))
			i++;
	if (i < n && s[i] == '.') {
		i++;
		if (!DIGIT_AT(i))
			goto bad;
		while (DIGIT_AT(i))
			i++;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		if (!DIGIT_AT(i))
			goto bad;
		while (DIGIT_AT(i))
			i++;
	}
#undef DIGIT_AT
	return i;
bad:
	*bad_at = i;
	return 0;
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
		size_t used = number_end(sc->p + sc->pos, sc->len - sc->pos, &bad_at);
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

/* ---- known fields ---------------------------------------------------------- */

static int field_lookup(const unsigned char *s, size_t n)
{
	switch (n) {
	case 1:
		return s[0] == 'T' ? F_T : -1;
	case 2:
		if (s[0] == 'P')
			return s[1] == 'I' ? F_PI : s[1] == 'E' ? F_PE : -1;
		if (s[0] == 'C')
			return s[1] == 'G' ? F_CG : s[1] == 'W' ? F_CW : -1;
		return -1;
	case 3:
		if (s[0] != 'C')
			return -1;
		if (s[1] == 'I')
			return s[2] == 'H' ? F_CIH : s[2] == 'L' ? F_CIL : -1;
		if (s[1] == 'E')
			return s[2] == 'H' ? F_CEH : s[2] == 'L' ? F_CEL : -1;
		return -1;
	case 9:
		return memcmp(s, "device_CH", 9) == 0 ? F_DEVICE_CH : -1;
	default:
		return -1;
	}
}

static void store(struct lowi_reading *r, enum field_id id, double v)
{
	switch (id) {
	case F_CIH: r->import_day_wh = v; break;
	case F_CIL: r->import_night_wh = v; break;
	case F_CEH: r->export_day_wh = v; break;
	case F_CEL: r->export_night_wh = v; break;
	case F_PI: r->import_w = v; break;
	case F_PE: r->export_w = v; break;
	case F_CG: r->gas_l = v; break;
	case F_CW: r->water_l = v; break;
	case F_T: r->rate = (int)v; break;
	case F_DEVICE_CH: break;
	case F_COUNT: break;
	}
}

/* Range rules for a converted value whose raw text is p[start, end). */
static void check_and_store(struct scanner *sc, enum field_id id, const struct number *num,
	size_t start, size_t end, struct lowi_reading *r)
{
	const struct field_spec *f = &field_specs[id];
	char text[EXCERPT_BUF];
	double v = num->value;

	switch (f->kind) {
	case KIND_COUNTER:
	case KIND_POWER:
		if (num->negative) {
			excerpt(sc->p, start, end, text);
			field_error(sc, LOWI_PAYLOAD_OUT_OF_RANGE, start,
				"field %s: %s is negative", f->name, text);
			return;
		}
		if (!(v <= (f->kind == KIND_POWER ? POWER_MAX_W : COUNTER_MAX))) {
			excerpt(sc->p, start, end, text);
			field_error(sc, LOWI_PAYLOAD_OUT_OF_RANGE, start,
				"field %s: %s is above the %s limit", f->name, text, f->limit_text);
			return;
		}
		break;
	case KIND_RATE:
		if (num->negative || (v != 0.0 && v != 1.0)) {
			excerpt(sc->p, start, end, text);
			field_error(sc, LOWI_PAYLOAD_OUT_OF_RANGE, start,
				"field T: %s is not 1 (day) or 0 (night)", text);
			return;
		}
		break;
	case KIND_CHANNEL:
		if (num->negative || v != 0.0) {
			excerpt(sc->p, start, end, text);
			field_error(sc, LOWI_PAYLOAD_WRONG_CHANNEL, start,
				"field device_CH: %s is not channel 0", text);
			return;
		}
		break;
	}
	store(r, id, v);
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
		used = parse_number(sc->p + start + 1, sc->len - start - 1, &num, &bad_at);
		if (used && start + 1 + used < sc->len && sc->p[start + 1 + used] == '"') {
			sc->pos = start + 2 + used;
			check_and_store(sc, id, &num, start, sc->pos, r);
			return true;
		}
		if (!scan_string(sc, NULL, 0, &dlen, &escaped))
			return false;
		if (!escaped) {
			used = parse_number(sc->p + start + 1, dlen, &num, &bad_at);
		} else {
			/* rare: decode again into a buffer; decoded <= raw <= the limit */
			unsigned char buf[LOWI_PAYLOAD_MAX_BYTES];
			sc->pos = start;
			scan_string(sc, buf, sizeof buf, &dlen, NULL);
			used = dlen <= sizeof buf ? parse_number(buf, dlen, &num, &bad_at) : 0;
		}
		is_number = used > 0 && used == dlen;
	} else if (c == '-' || (c >= '0' && c <= '9')) {
		size_t bad_at = 0;
		size_t used = parse_number(sc->p + start, sc->len - start, &num, &bad_at);
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

/*
 * ---- the usual members ----------------------------------------------------
 *
 * The code below reads the private copy that lowi_payload_decode makes: the
 * payload followed by PAD zero bytes. A zero is a control character, so it
 * ends any string or number scan and matches no delimiter: the usual cases
 * need no bounds check, and reading stops before p[len + PAD].
 */
#define PAD 16 /* >= STOP_WORD: a word read starts at or before the first zero */

/* string_stop for the padded copy: the zero at p[len] stops it; i <= len. */
static inline size_t string_stop_padded(const unsigned char *p, size_t i)
{
	for (;; i += STOP_WORD) {
		stop_mask t = string_stops(p + i);
		if (t)
			return i + first_stop(t);
	}
}

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
	return string_stop_padded(p, d < STOP_WORD ? j - d + STOP_WORD : j);
#else
	(void)t;
	(void)d;
	return string_stop_padded(p, j);
#endif
}

/* Delimiters compared a few bytes at once, as load_le16/32 read them. */
#define BYTES2(a, b) ((uint32_t)(a) | (uint32_t)(b) << 8)
#define BYTES3(a, b, c) (BYTES2(a, b) | (uint32_t)(c) << 16)

static inline uint32_t load_le16(const unsigned char *s)
{
	uint16_t v;

	memcpy(&v, s, sizeof v);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap16(v);
#endif
	return v;
}

static inline uint32_t load_le32(const unsigned char *s)
{
	uint32_t v;

	memcpy(&v, s, sizeof v);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap32(v);
#endif
	return v;
}

/*
 * The usual value of a known field: 1 to 15 digits without sign, fraction
 * or exponent, so that parse_number would give exactly (double)*m; quoted
 * (j after the opening quote) or bare (j at the first digit). Sets *end
 * after the value; false for anything else.
 */
static inline bool plain_integer(const unsigned char *p, size_t j, bool quoted, uint64_t *m, size_t *end)
{
	size_t first = j;
	unsigned d = (unsigned)p[j] - '0';
	uint64_t v = d;

	if (d > 9)
		return false;
	j++;
	if (d != 0)
		while ((d = (unsigned)p[j] - '0') <= 9) {
			v = v * 10 + d;
			j++;
		}
	if (j - first > 15)
		return false;
	if (quoted) {
		if (p[j] != '"')
			return false;
		j++;
	} else if (p[j] == '.' || (p[j] | 0x20) == 'e') {
		return false;
	}
	*m = v;
	*end = j;
	return true;
}

static const struct {
	uint64_t max[F_COUNT];       /* largest plain integer check_and_store accepts */
	unsigned char offset[F_T];   /* where store() puts a counter or power */
} field_fast = {
	.max = {
		[F_CIH] = (uint64_t)COUNTER_MAX, [F_CIL] = (uint64_t)COUNTER_MAX,
		[F_CEH] = (uint64_t)COUNTER_MAX, [F_CEL] = (uint64_t)COUNTER_MAX,
		[F_CG] = (uint64_t)COUNTER_MAX, [F_CW] = (uint64_t)COUNTER_MAX,
		[F_PI] = (uint64_t)POWER_MAX_W, [F_PE] = (uint64_t)POWER_MAX_W,
		[F_T] = 1, [F_DEVICE_CH] = 0,
	},
	.offset = {
		[F_CIH] = offsetof(struct lowi_reading, import_day_wh),
		[F_CIL] = offsetof(struct lowi_reading, import_night_wh),
		[F_CEH] = offsetof(struct lowi_reading, export_day_wh),
		[F_CEL] = offsetof(struct lowi_reading, export_night_wh),
		[F_PI] = offsetof(struct lowi_reading, import_w),
		[F_PE] = offsetof(struct lowi_reading, export_w),
		[F_CG] = offsetof(struct lowi_reading, gas_l),
		[F_CW] = offsetof(struct lowi_reading, water_l),
	},
};

/*
 * Names of up to 7 bytes are looked up as one word: the name's bytes and its
 * closing quote, as load_le64 reads them, hashed into 16 slots. A collision
 * between two known names would make two initializers below override each
 * other, which -Wextra (-Woverride-init) reports.
 */
#define NAME_WORD2(a, b) ((uint64_t)(a) | (uint64_t)(b) << 8)
#define NAME_WORD3(a, b, c) (NAME_WORD2(a, b) | (uint64_t)(c) << 16)
#define NAME_WORD4(a, b, c, d) (NAME_WORD3(a, b, c) | (uint64_t)(d) << 24)
#define NAME_WORD8(a, b, c, d, e, f, g, h) (NAME_WORD4(a, b, c, d) | NAME_WORD4(e, f, g, h) << 32)
#define NAME_HASH(w) ((uint32_t)(w) * UINT32_C(0x7ce42c83) >> 28)
#define NAME_SLOT(w, field) .word[NAME_HASH(w)] = (w), .id[NAME_HASH(w)] = (field)

static const struct {
	uint64_t mask[8];    /* mask[n] keeps a name word's n name bytes and quote */
	uint64_t word[16];   /* 0 in a free slot: a name word always holds its quote */
	signed char id[16];
} names = {
	.mask = {
		0xff, 0xffff, 0xffffff, 0xffffffff, 0xffffffffff, 0xffffffffffff,
		0xffffffffffffff, 0xffffffffffffffff,
	},
	NAME_SLOT(NAME_WORD2('T', '"'), F_T),
	NAME_SLOT(NAME_WORD3('P', 'I', '"'), F_PI),
	NAME_SLOT(NAME_WORD3('P', 'E', '"'), F_PE),
	NAME_SLOT(NAME_WORD3('C', 'G', '"'), F_CG),
	NAME_SLOT(NAME_WORD3('C', 'W', '"'), F_CW),
	NAME_SLOT(NAME_WORD4('C', 'I', 'H', '"'), F_CIH),
	NAME_SLOT(NAME_WORD4('C', 'I', 'L', '"'), F_CIL),
	NAME_SLOT(NAME_WORD4('C', 'E', 'H', '"'), F_CEH),
	NAME_SLOT(NAME_WORD4('C', 'E', 'L', '"'), F_CEL),
};

/* field_lookup for the plain name p[k, k + n), its quote at p[k + n]. */
static inline int plain_name_id(const unsigned char *p, size_t k, size_t n)
{
	if (n < 8) {
		uint64_t w = load_le64(p + k) & names.mask[n];
		unsigned h = NAME_HASH(w);
		return names.word[h] == w ? names.id[h] : -1;
	}
	if (n == 9)
		return load_le64(p + k) == NAME_WORD8('d', 'e', 'v', 'i', 'c', 'e', '_', 'C') && p[k + 8] == 'H'
			? F_DEVICE_CH : -1;
	return -1;
}

#define NO_KEY_END SIZE_MAX /* the name had escapes: sc->key holds it, decoded */

/* Hands the member whose name opens at key_at and whose value starts at i to
 * the general code. */
static inline void enter_member(struct scanner *sc, size_t i, size_t key_at, size_t key_end)
{
	sc->pos = i;
	if (key_end != NO_KEY_END) {
		sc->key = sc->p + key_at + 1;
		sc->key_len = key_end - key_at - 1;
	}
	sc->in_member = true;
}

/*
 * Scans the top-level object at the cursor, filling r and *seen. Each member
 * goes through four stages (name, ':', value, separator). The usual form of
 * each (a plain name, no whitespace, a plain string or integer value) is
 * handled in locals; anything else, errors included, drops to that stage's
 * general code, which relies on the helpers above to report what they always
 * did.
 */
static bool scan_top_object(struct scanner *sc, struct lowi_reading *r, unsigned *seen)
{
	const unsigned char *p = sc->p;
	const size_t len = sc->len;
	size_t i = skip_ws_at(p, sc->pos + 1, len);
	unsigned seen_here = *seen;
	bool ok = false;

	if (p[i] == '}') {
		sc->pos = i + 1;
		return true;
	}
	if (p[i] != '"')
		goto no_name;
	for (;;) {
		/* p[i] is the opening quote of a member's name */
		size_t key_at = i, k = i + 1, key_end, e;
		stop_mask t = string_stops(p + k);
		uint64_t m;
		uint32_t after;
		unsigned n;
		int id;

		if (t == 0)
			goto name_general;
		n = (unsigned)first_stop(t);
		key_end = k + n;
		after = load_le32(p + key_end);
		if ((after & 0xffff) != BYTES2('"', ':'))
			goto name_general;
		id = plain_name_id(p, k, n);
		i = key_end + 2;
		if (id < 0) {
			if ((after & 0xffffff) != BYTES3('"', ':', '"') || p[e = stop_from(p, i + 1, t, n + 3)] != '"')
				goto value_general;
			i = e + 1;
		} else {
			if (seen_here & (1u << id))
				goto value_general;
			if ((after & 0xffffff) == BYTES3('"', ':', '"')
				? !plain_integer(p, i + 1, true, &m, &e) : !plain_integer(p, i, false, &m, &e))
				goto value_general;
			if (m > field_fast.max[id])
				goto value_general;
			seen_here |= 1u << id;
			if (id < F_T)
				*(double *)(void *)((char *)r + field_fast.offset[id]) = (double)(int64_t)m;
			else if (id == F_T)
				r->rate = (int)m;
			i = e;
		}
		if (load_le16(p + i) == BYTES2(',', '"')) {
			i++;
			continue;
		}
		goto separator_general;

	name_general:
		key_end = string_stop_padded(p, k);
		if (p[key_end] == '"') {
			id = key_end - k <= KEY_MAX ? field_lookup(p + k, key_end - k) : -1;
			i = key_end + 1;
		} else {
			bool escaped = false;
			sc->pos = key_at;
			sc->in_member = false;
			if (!scan_string_full(sc, NULL, 0, &sc->key_len, &escaped))
				goto out;
			sc->key = p + k;
			if (escaped) {
				sc->pos = key_at;
				scan_string_full(sc, sc->key_buf, sizeof sc->key_buf, &sc->key_len, NULL);
				sc->key = sc->key_buf;
			}
			key_end = NO_KEY_END;
			i = sc->pos;
			id = sc->key_len <= KEY_MAX ? field_lookup(sc->key, sc->key_len) : -1;
		}
		i = skip_ws_at(p, i, len);
		if (p[i] != ':') {
			sc->pos = i;
			sc->in_member = false;
			fail_at(sc, "':' after a field name");
			goto out;
		}
		i++;
	value_general:
		i = skip_ws_at(p, i, len);
		if (id < 0) {
			if (p[i] == '"' && p[e = string_stop_padded(p, i + 1)] == '"') {
				i = e + 1;
			} else {
				enter_member(sc, i, key_at, key_end);
				if (!skip_value(sc, 1))
					goto out;
				i = sc->pos;
			}
		} else if (seen_here & (1u << id)) {
			enter_member(sc, i, key_at, key_end);
			field_error(sc, LOWI_PAYLOAD_DUPLICATE_FIELD, key_at,
				"field %s appears twice (again at byte %zu)", field_specs[id].name, key_at);
			if (!skip_value(sc, 1))
				goto out;
			i = sc->pos;
		} else {
			seen_here |= 1u << id;
			enter_member(sc, i, key_at, key_end);
			if (!scan_known_value(sc, (enum field_id)id, r))
				goto out;
			i = sc->pos;
		}
	separator_general:
		/* a missing separator is still reported against this member */
		i = skip_ws_at(p, i, len);
		if (p[i] == ',') {
			i = skip_ws_at(p, i + 1, len);
			if (p[i] == '"')
				continue;
			goto no_name;
		}
		if (p[i] == '}') {
			sc->pos = i + 1;
			sc->in_member = false;
			ok = true;
			goto out;
		}
		enter_member(sc, i, key_at, key_end);
		fail_at(sc, "',' or '}'");
		goto out;
	}
no_name:
	sc->pos = i;
	sc->in_member = false;
	fail_at(sc, "a field name");
out:
	*seen = seen_here;
	return ok;
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

static void report_missing(struct scanner *sc, unsigned seen, size_t offset)
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

enum lowi_payload_status lowi_payload_decode(const void *payload, size_t len,
	struct lowi_reading *out, struct lowi_payload_error *err)
{
	struct lowi_payload_error scratch;
	unsigned char copy[LOWI_PAYLOAD_MAX_BYTES + PAD];
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

	if (sc.len > LOWI_PAYLOAD_MAX_BYTES) {
		set_error(&sc, LOWI_PAYLOAD_TOO_LONG, LOWI_PAYLOAD_MAX_BYTES,
			"payload is %zu bytes, over the %d-byte limit", sc.len, LOWI_PAYLOAD_MAX_BYTES);
		return sc.status;
	}
	if (sc.len)
		memcpy(copy, sc.p, sc.len);
	memset(copy + sc.len, 0, PAD);
	sc.p = copy;
	skip_ws(&sc);
	if (sc.pos >= sc.len) {
		if (sc.len == 0)
			set_error(&sc, LOWI_PAYLOAD_NOT_JSON, 0, "empty payload");
		else
			set_error(&sc, LOWI_PAYLOAD_NOT_JSON, sc.len,
				"payload holds only whitespace (%zu bytes)", sc.len);
		return sc.status;
	}
	if (sc.p[sc.pos] != '{')
		return reject_non_object(&sc);
	if (!scan_top_object(&sc, &r, &seen))
		return sc.status;
	size_t end = sc.pos;
	skip_ws(&sc);
	if (sc.pos < sc.len) {
		set_error(&sc, LOWI_PAYLOAD_NOT_JSON, sc.pos,
			"trailing data after the object at byte %zu", sc.pos);
		return sc.status;
	}
	if (sc.status == LOWI_PAYLOAD_OK && (seen & REQUIRED_MASK) != REQUIRED_MASK)
		report_missing(&sc, seen, end - 1);
	if (sc.status != LOWI_PAYLOAD_OK)
		return sc.status;

	r.has_gas = seen & (1u << F_CG);
	r.has_water = seen & (1u << F_CW);
	r.has_power = (seen & (1u << F_PI)) && (seen & (1u << F_PE));
	if (out)
		*out = r;
	return LOWI_PAYLOAD_OK;
}

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
