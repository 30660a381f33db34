/*
 * Token rules of the LOWI payload decoder, shared by the general scanner
 * (payload_general.c) and the fast path (payload_fast.c): which bytes end a
 * string, what a JSON number is and what it is worth, which names are known
 * fields and what values they accept. Each rule is written here once; the
 * two scanners differ only in how they keep reads in bounds.
 *
 * Safety models: a function taking `padded` reads p[0, len) only when it is
 * false, and relies on the zero bytes that follow the payload in the fast
 * path's private copy when it is true (a zero is a control character: it
 * ends every string and number scan and matches no delimiter). Callers pass
 * a constant, so each scanner gets its own specialisation.
 *
 * Pure functions and const tables: any thread, no allocation, nothing owned.
 */
#ifndef LOWI_PAYLOAD_TOKEN_H
#define LOWI_PAYLOAD_TOKEN_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* ---- bytes ----------------------------------------------------------------- */

/* Byte classes: STOP ends a run of plain string bytes (controls, '"', '\\'),
 * WS is JSON whitespace, MORE goes on a number after its integer part
 * ('.', 'e', 'E'). */
#define CLS_STOP 1
#define CLS_WS 2
#define CLS_MORE 4
static const unsigned char byte_class[256] = {
	1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 1, 1, 3, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
	0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
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

/* The first non-whitespace index at or after i. The test before the loop
 * is for the usual payload, which holds no whitespace at all. A zero pad
 * byte is not whitespace, so this is safe in both safety models. */
static inline size_t skip_ws_at(const unsigned char *p, size_t i, size_t len)
{
	if (i < len && p[i] <= ' ')
		while (i < len && (byte_class[p[i]] & CLS_WS))
			i++;
	return i;
}

/* A little-endian load: the payload's first byte is the lowest one, where
 * the lowest set bit of a match mask points. */
static inline uint64_t load_le64(const unsigned char *s)
{
	uint64_t v;

	memcpy(&v, s, sizeof v);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

/* ---- strings ----------------------------------------------------------------- */

/*
 * Strings are scanned a word at a time (16 bytes with SSE2, which every
 * x86-64 has, otherwise 8 in a uint64_t): the payload is mostly short names
 * and values, and a byte loop spent most of the decoder's time in them.
 */
#define BYTES_01 UINT64_C(0x0101010101010101)
#define BYTES_80 UINT64_C(0x8080808080808080)

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

/*
 * Index of the first CLS_STOP byte in p[i, len), or len; i <= len. Padded:
 * the zero at p[len] stops the word loop, so it needs no bound and no tail.
 */
static inline size_t string_stop(const unsigned char *p, size_t i, size_t len, bool padded)
{
	for (; padded || len - i >= STOP_WORD; i += STOP_WORD) {
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

/* ---- numbers ------------------------------------------------------------------ */

/* A JSON number as its digits: value = m x 10^e10. */
struct number {
	uint64_t m;    /* the first 19 significant digits */
	long e10;
	bool negative; /* '-' in front of a non-zero value */
};

static const double pow10_exact[] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/*
 * The magnitude of num, +inf when too large for a double. Correctly rounded
 * when m <= 2^53 and |e10| <= 22 (both operands exact, one IEEE rounding):
 * this covers every integer up to 1e12 and every decimal a meter writes.
 * Otherwise within a few units in the last place. No strtod: no locale.
 */
static inline double number_value(struct number num)
{
	const uint64_t exact = UINT64_C(1) << 53;
	uint64_t m = num.m;
	long e10 = num.e10;
	int ndig = 0; /* significant digits */

	for (uint64_t k = m; k; k /= 10)
		ndig++;

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
 * The JSON number at the start of s[0, n) (padded: s ends at a zero byte
 * instead, n is not read):
 *   -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
 * Returns the bytes used and fills *num, or returns 0 when s does not start
 * with a valid number, with *bad_at the offset of the offending byte (n when
 * s ran out). What follows the number is the caller's business. Out of
 * line: number_scan tries the usual form (number_plain) first.
 */
static __attribute__((cold, noinline, unused)) size_t number_grammar(const unsigned char *s, size_t n,
	bool padded, struct number *num, size_t *bad_at)
{
	size_t i = 0;
	uint64_t m = 0;
	long e10 = 0;

#define DIGIT_AT(k) ((padded || (k) < n) && (unsigned)s[k] - '0' <= 9)
	if ((padded || i < n) && s[i] == '-')
		i++;
	if (!DIGIT_AT(i))
		goto bad;
	if (s[i] == '0') {
		i++;
	} else {
		/* the first digit is not 0, so every digit counts up to the 19th;
		 * m may wrap past it, when it is taken again from the first 19 */
		const unsigned char *first = s + i, *q = first + 1;
		unsigned d;

		m = *first - '0';
		while ((padded || (size_t)(q - s) < n) && (d = (unsigned)*q - '0') <= 9) {
			m = m * 10 + d;
			q++;
		}
		i = (size_t)(q - s);
		if (q - first > 19) {
			m = 0;
			for (const unsigned char *k = first; k < first + 19; k++)
				m = m * 10 + (*k - '0');
			e10 = (long)(q - first - 19);
		}
	}
	if ((padded || i < n) && (byte_class[s[i]] & CLS_MORE)) {
		if (s[i] == '.') {
			i++;
			if (!DIGIT_AT(i))
				goto bad;
			while (DIGIT_AT(i)) {
				if (m < UINT64_C(1000000000000000000)) { /* fewer than 19 digits */
					m = m * 10 + (uint64_t)(s[i] - '0');
					e10--;
				}
				i++;
			}
		}
		if ((padded || i < n) && (s[i] | 0x20) == 'e') {
			bool eminus = false;
			long x = 0;
			i++;
			if ((padded || i < n) && (s[i] == '+' || s[i] == '-')) {
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
	}
#undef DIGIT_AT
	num->m = m;
	num->e10 = e10;
	num->negative = s[0] == '-' && m != 0;
	return i;
bad:
	*bad_at = i;
	return 0;
}

/*
 * The usual number, the first lane of the one number rule: 1 to 19 digits
 * without sign, fraction or exponent, ended by a byte the grammar cannot go
 * on with (or by the end of s, when it is not padded). Returns the byte
 * after it and sets *m to its value, the length and value number_grammar
 * would give (e10 0, not negative), or returns NULL for any other input,
 * which is then the grammar's to judge. The fast path takes this lane alone
 * and hands other values to the general step, so that none of the
 * grammar's tests for the rarer forms stand in its member loop.
 *
 * after: 0, or (padded only) the one byte the caller takes after the
 * number, a byte the grammar cannot go on with ('"' closing a quoted
 * value): a number followed by anything else is then refused, and the
 * byte is tested once instead of classified and then tested.
 */
static inline __attribute__((always_inline)) const unsigned char *number_plain(const unsigned char *s, size_t n,
	bool padded, unsigned char after, uint64_t *m)
{
	if (padded || n > 0) {
		unsigned d = (unsigned)s[0] - '0';

		if (d <= 9) {
			const unsigned char *q = s + 1;
			uint64_t v = d;

			if (d != 0) /* a leading 0 is the whole integer part */
				while ((padded || (size_t)(q - s) < n) && (d = (unsigned)*q - '0') <= 9) {
					v = v * 10 + d;
					q++;
				}
			if (q - s <= 19 && ((!padded && (size_t)(q - s) == n)
				|| (after ? *q == after : !(byte_class[*q] & CLS_MORE)))) {
				*m = v;
				return q;
			}
		}
	}
	return NULL;
}

/*
 * The JSON number at the start of s[0, n), as number_grammar says: the
 * usual number through number_plain, any other through the grammar, out of
 * line and with locals of its own, so that *num and *bad_at can stay in the
 * caller's registers.
 */
static inline __attribute__((always_inline)) size_t number_scan(const unsigned char *s, size_t n, bool padded,
	struct number *num, size_t *bad_at)
{
	uint64_t m;
	const unsigned char *end = number_plain(s, n, padded, 0, &m);

	if (end) {
		*num = (struct number){ m, 0, false };
		return (size_t)(end - s);
	}

	struct number slow = { 0, 0, false };
	size_t slow_bad_at = 0, used;

	used = number_grammar(s, n, padded, &slow, &slow_bad_at);
	if (used)
		*num = slow;
	else
		*bad_at = slow_bad_at;
	return used;
}

/* ---- known fields ---------------------------------------------------------------- */

enum field_id { F_CIH, F_CIL, F_CEH, F_CEL, F_PI, F_PE, F_CG, F_CW, F_T, F_DEVICE_CH, F_COUNT };

#define KEY_MAX 15 /* longer names cannot be known fields */

/*
 * Names of up to 7 bytes are looked up as one word: the name's bytes and a
 * closing quote, as load_le64 reads them, hashed into 16 slots. The quote
 * makes words of different lengths differ. A collision between two known
 * names would make two initializers below override each other, which
 * -Wextra (-Woverride-init) reports.
 */
#define NAME_WORD2(a, b) ((uint64_t)(a) | (uint64_t)(b) << 8)
#define NAME_WORD3(a, b, c) (NAME_WORD2(a, b) | (uint64_t)(c) << 16)
#define NAME_WORD4(a, b, c, d) (NAME_WORD3(a, b, c) | (uint64_t)(d) << 24)
#define NAME_HASH(w) ((uint32_t)(w) * UINT32_C(0x7ce42c83) >> 28)
#define NAME_SLOT(w, field) .word[NAME_HASH(w)] = (w), .id[NAME_HASH(w)] = (field)

static const struct {
	uint64_t mask[8];    /* mask[n] keeps a name word's n name bytes and quote */
	uint64_t word[16];   /* 0 in a free slot: a name word always holds its quote */
	signed char id[16];
} field_names = {
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

/* The known field named by the decoded name s[0, n), or -1. Padded: s[n] is
 * the closing quote and s[0, 8) is readable, so the word is one load. */
static inline int field_id(const unsigned char *s, size_t n, bool padded)
{
	if (n < 8) {
		uint64_t w;
		if (padded) {
			w = load_le64(s) & field_names.mask[n];
		} else {
			w = (uint64_t)'"' << (8 * n);
			for (size_t k = 0; k < n; k++)
				w |= (uint64_t)s[k] << (8 * k);
		}
		unsigned h = NAME_HASH(w);
		return field_names.word[h] == w ? field_names.id[h] : -1;
	}
	return n == 9 && memcmp(s, "device_CH", 9) == 0 ? F_DEVICE_CH : -1;
}

/* Wh or litres. Below 1e12 so an index fits Conso's DECIMAL(12,3) kWh
 * (999 999 999.999 kWh); a larger one is refused here, not by MariaDB. */
#define COUNTER_MAX 999999999999.0
#define POWER_MAX_W 1e6

/* The largest value of each field, an integer; the smallest is 0. */
static const uint64_t field_max[F_COUNT] = {
	[F_CIH] = (uint64_t)COUNTER_MAX, [F_CIL] = (uint64_t)COUNTER_MAX,
	[F_CEH] = (uint64_t)COUNTER_MAX, [F_CEL] = (uint64_t)COUNTER_MAX,
	[F_CG] = (uint64_t)COUNTER_MAX, [F_CW] = (uint64_t)COUNTER_MAX,
	[F_PI] = (uint64_t)POWER_MAX_W, [F_PE] = (uint64_t)POWER_MAX_W,
	[F_T] = 1, [F_DEVICE_CH] = 0,
};

/*
 * Whether field id accepts the number num, and its value *v if so:
 * counters and powers take any value in [0, max], the rate and the channel
 * only the integers in it. An integer (e10 0) is judged on m, which is
 * exact: every maximum is below 2^53. The usual value is one, so the
 * conversion is left for the others.
 */
static __attribute__((cold, noinline, unused)) bool field_accepts_scaled(enum field_id id, struct number num,
	double *v)
{
	*v = number_value(num);
	return *v <= (double)field_max[id] && (id < F_T || *v == 0.0 || *v == 1.0);
}

static inline __attribute__((always_inline)) bool field_accepts(enum field_id id, const struct number *num,
	double *v)
{
	if (num->negative)
		return false;
	if (num->e10 == 0) {
		*v = (double)(int64_t)num->m; /* m is below 2^63 when it is accepted */
		return num->m <= field_max[id];
	}
	/* out of line: the conversion's registers would crowd the member loop */
	return field_accepts_scaled(id, *num, v);
}

#endif
