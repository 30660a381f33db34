/*
 * Unit test of the LOWI payload decoder (plugin/payload*.c).
 *
 * Plain C with tests/unit/check.h: one line per failed check, a summary
 * line, exit status 1 when any check fails. Every payload is copied into a heap
 * block of exactly its length, so AddressSanitizer catches any read past
 * `len`. No timing checks.
 *
 * Usage: test_payload [CORPUS_DIR]
 *   With CORPUS_DIR (tests/corpus), also decodes every .json file in good/ (must be
 *   ok) and every file listed in bad/README (must give the listed status),
 *   and checks that README lists every file in bad/.
 */
#include "check.h"
#include "payload.h"
#include "payload_scan.h" /* lowi_payload_decode_general */

#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Decodes taken by decode_copy, and those on which the general scanner
 * alone (lowi_payload_decode_general) said something else. */
static unsigned long decodes, general_differs;

/* The general scanner alone gives the same status, error and values. */
static void compare_general(const unsigned char *copy, size_t len, enum lowi_payload_status st,
	const struct lowi_reading *r)
{
	struct lowi_payload_error fe, ge;
	struct lowi_reading gr;
	enum lowi_payload_status gst;

	decodes++;
	lowi_payload_decode(copy, len, NULL, &fe);
	gst = lowi_payload_decode_general(copy, len, &gr, &ge);
	if (gst == st && ge.offset == fe.offset && strcmp(ge.reason, fe.reason) == 0
		&& strcmp(ge.field, fe.field) == 0
		&& (st != LOWI_PAYLOAD_OK || !r || (gr.import_day_wh == r->import_day_wh
			&& gr.import_night_wh == r->import_night_wh && gr.export_day_wh == r->export_day_wh
			&& gr.export_night_wh == r->export_night_wh && gr.rate == r->rate
			&& gr.has_gas == r->has_gas && gr.has_water == r->has_water && gr.has_power == r->has_power)))
		return;
	if (general_differs++ < 5)
		printf("# general scanner: %s (%s), fast path: %s (%s), payload %.*s\n",
			lowi_payload_status_name(gst), ge.reason, lowi_payload_status_name(st), fe.reason,
			(int)len, copy ? (const char *)copy : "");
}

/* Decodes a private heap copy of exactly len bytes (NULL when len is 0 and
 * null_if_empty), so that any over-read is caught by ASan; the general
 * scanner alone must agree (compare_general). */
static enum lowi_payload_status decode_copy(const void *data, size_t len, bool null_if_empty,
	struct lowi_reading *r, struct lowi_payload_error *e)
{
	unsigned char *copy = NULL;
	enum lowi_payload_status st;

	if (len || !null_if_empty) {
		copy = malloc(len ? len : 1);
		if (!copy) {
			perror("malloc");
			exit(2);
		}
		if (len)
			memcpy(copy, data, len);
	}
	st = lowi_payload_decode(copy, len, r, e);
	compare_general(copy, len, st, r);
	free(copy);
	return st;
}

/* The error struct is well formed: terminated strings, offset in range,
 * status matches, reason present exactly when the status is not OK. */
static bool error_well_formed(enum lowi_payload_status st, const struct lowi_payload_error *e, size_t len)
{
	if (e->status != st || (unsigned)st >= LOWI_PAYLOAD_STATUS_COUNT)
		return false;
	if (!memchr(e->field, '\0', sizeof e->field) || !memchr(e->reason, '\0', sizeof e->reason))
		return false;
	if (st == LOWI_PAYLOAD_OK)
		return e->reason[0] == '\0';
	if (e->reason[0] == '\0')
		return false;
	if (st == LOWI_PAYLOAD_TOO_LONG)
		return e->offset == LOWI_PAYLOAD_MAX_BYTES;
	return e->offset <= len;
}

/* Checks status, a well-formed error, and optionally the field and a part of the reason. */
static void expect_n(const char *name, const void *data, size_t len, enum lowi_payload_status want,
	const char *field, const char *reason_part)
{
	struct lowi_reading r;
	struct lowi_payload_error e;
	enum lowi_payload_status st;
	bool ok;

	memset(&r, 0x5a, sizeof r);
	st = decode_copy(data, len, false, &r, &e);
	ok = st == want && error_well_formed(st, &e, len);
	if (ok && field)
		ok = strcmp(e.field, field) == 0;
	if (ok && reason_part)
		ok = strstr(e.reason, reason_part) != NULL;
	if (ok && st != LOWI_PAYLOAD_OK) {
		/* *out is left alone on failure */
		struct lowi_reading sentinel;
		memset(&sentinel, 0x5a, sizeof sentinel);
		ok = memcmp(&r, &sentinel, sizeof r) == 0;
	}
	CHECK(ok, "%s: %s%s%s at %zu field '%s' (%s)", name, lowi_payload_status_name(st),
		st == want ? "" : " but wanted ", st == want ? "" : lowi_payload_status_name(want),
		e.offset, e.field, e.reason);
}

static void expect(const char *name, const char *json, enum lowi_payload_status want,
	const char *field, const char *reason_part)
{
	expect_n(name, json, strlen(json), want, field, reason_part);
}

/* ---- the representative payload (tests/corpus/good), one field changed -- */

static const char *const rep_keys[] = {
	"ident", "device_CH", "Name", "Type", "Units", "U", "I", "T",
	"PI", "PE", "CIH", "CIL", "CEH", "CEL", "CG", "CW",
};
static const char *const rep_vals[] = {
	"4c75252e8c51", "0", "Compteur", "P1", "Various", "231", "125", "1",
	"284", "0", "130838", "137096", "10976", "3381", "1234567", "98765",
};
#define REP_FIELDS (sizeof rep_keys / sizeof rep_keys[0])

enum rep_style { AS_STRINGS, AS_NUMBERS, MIXED };

/* Builds the representative payload; field (if not NULL) gets the raw JSON
 * text value instead, or is left out when value is NULL. */
static const char *rep(enum rep_style style, const char *field, const char *value)
{
	static char buf[8192];
	size_t o = 0;

	o += (size_t)snprintf(buf + o, sizeof buf - o, "{");
	for (size_t k = 0; k < REP_FIELDS; k++) {
		const char *v = rep_vals[k];
		bool numeric = k >= 5;
		bool quote = !numeric || style == AS_STRINGS || (style == MIXED && k % 2 == 0);
		if (field && strcmp(field, rep_keys[k]) == 0) {
			if (!value)
				continue;
			v = value;
			quote = false;
		}
		o += (size_t)snprintf(buf + o, sizeof buf - o, "%s\"%s\":%s%s%s", o > 1 ? "," : "",
			rep_keys[k], quote ? "\"" : "", v, quote ? "\"" : "");
	}
	snprintf(buf + o, sizeof buf - o, "}");
	return buf;
}

static bool reading_is_representative(const struct lowi_reading *r)
{
	return r->import_day_wh == 130838.0 && r->import_night_wh == 137096.0
		&& r->export_day_wh == 10976.0 && r->export_night_wh == 3381.0
		&& r->has_gas && r->gas_l == 1234567.0 && r->has_water && r->water_l == 98765.0
		&& r->has_power && r->import_w == 284.0 && r->export_w == 0.0 && r->rate == 1;
}

static void test_good(void)
{
	static const enum rep_style styles[] = { AS_STRINGS, AS_NUMBERS, MIXED };
	static const char *const style_names[] = { "strings", "numbers", "mixed" };
	struct lowi_reading r;
	struct lowi_payload_error e;

	for (size_t k = 0; k < 3; k++) {
		const char *p = rep(styles[k], NULL, NULL);
		enum lowi_payload_status st = decode_copy(p, strlen(p), false, &r, &e);
		CHECK(st == LOWI_PAYLOAD_OK && reading_is_representative(&r) && e.status == LOWI_PAYLOAD_OK
			&& e.reason[0] == '\0', "representative payload, values as %s", style_names[k]);
	}

	/* the representative payload as a dongle prints it, line breaks included */
	const char *domain =
		"{\"ident\":\"4c75252e8c51\",\"device_CH\":\"0\",\"Name\":\"Compteur\",\"Type\":\"P1\",\"Units\":\"Various\",\n"
		" \"U\":\"231\",\"I\":\"125\",\"T\":\"1\",\"PI\":\"284\",\"PE\":\"0\",\"CIH\":\"130838\",\"CIL\":\"137096\",\n"
		" \"CEH\":\"10976\",\"CEL\":\"3381\",\"CG\":\"1234567\",\"CW\":\"98765\"}\n";
	CHECK(decode_copy(domain, strlen(domain), false, &r, NULL) == LOWI_PAYLOAD_OK
		&& reading_is_representative(&r), "representative payload with line breaks, err NULL");
	CHECK(decode_copy(domain, strlen(domain), false, NULL, NULL) == LOWI_PAYLOAD_OK,
		"out NULL validates only");

	const char *minimal = "{\"CIH\":1,\"CIL\":2,\"CEH\":3,\"CEL\":4}";
	CHECK(decode_copy(minimal, strlen(minimal), false, &r, &e) == LOWI_PAYLOAD_OK
		&& r.import_day_wh == 1 && r.import_night_wh == 2 && r.export_day_wh == 3
		&& r.export_night_wh == 4 && !r.has_gas && !r.has_water && !r.has_power && r.rate == -1,
		"only the four counters: no gas, water, power, rate -1");

	const char *pi_only = "{\"CIH\":1,\"CIL\":2,\"CEH\":3,\"CEL\":4,\"PI\":\"500\"}";
	CHECK(decode_copy(pi_only, strlen(pi_only), false, &r, &e) == LOWI_PAYLOAD_OK && !r.has_power,
		"PI without PE: has_power false");

	const char *decimals = "{\"CIH\":\"130838.5\",\"CIL\":137096.25,\"CEH\":\"130.838\",\"CEL\":0.001,"
		"\"PI\":\"0.5\",\"PE\":1E3,\"CG\":\"1.2345e6\",\"CW\":\"98765.000\",\"T\":\"0\"}";
	CHECK(decode_copy(decimals, strlen(decimals), false, &r, &e) == LOWI_PAYLOAD_OK
		&& r.import_day_wh == 130838.5 && r.import_night_wh == 137096.25
		&& r.export_day_wh == 130.838 && r.export_night_wh == 0.001 && r.import_w == 0.5
		&& r.export_w == 1000.0 && r.gas_l == 1234500.0 && r.water_l == 98765.0 && r.rate == 0,
		"decimals and exponents, as numbers and strings, correctly rounded");

	const char *unknown =
		" \r\n\t{ \"ident\" : \"4c75\\\"25\\\\2e\\/8c51\\b\\f\\n\\r\\t\\u00e9\\uD83D\\uDE00\" ,\n"
		"  \"extra\" : { \"a\" : [ 1, -2.5e-3, true, false, null, { } , [ ] , \"x\" ], \"b\" : {\"c\":{\"d\":[[[]]]}} },\n"
		"  \"new_firmware_field\" : [ {\"CIH\":\"not a number\"} ], \"cih\":\"abc\", \"CIHX\":null,\n"
		"  \"CIH\" : 130838 , \"CIL\" : \"137096\" , \"CEH\" : 10976 , \"CEL\" : \"3381\" , \"T\" : 1 ,\n"
		"  \"device_CH\" : 0 , \"Name\" : \"Compteur \\u0041\" } \n\n";
	CHECK(decode_copy(unknown, strlen(unknown), false, &r, &e) == LOWI_PAYLOAD_OK
		&& r.import_day_wh == 130838 && r.export_night_wh == 3381 && r.rate == 1,
		"unknown fields with nested objects/arrays, escapes, whitespace everywhere ignored");

	const char *escaped_key = "{\"CI\\u0048\":\"1\\u0032\",\"CIL\":2,\"CEH\":3,\"CEL\":4}";
	CHECK(decode_copy(escaped_key, strlen(escaped_key), false, &r, &e) == LOWI_PAYLOAD_OK
		&& r.import_day_wh == 12, "escaped field name \"CI\\u0048\" is CIH, \"1\\u0032\" is 12");

	const char *utf8 = "{\"Name\":\"Compteur \xff\xfe\xc3\x28 \xed\xa0\x80\",\"CIH\":1,\"CIL\":2,\"CEH\":3,\"CEL\":4}";
	CHECK(decode_copy(utf8, strlen(utf8), false, &r, &e) == LOWI_PAYLOAD_OK,
		"invalid UTF-8 inside an unknown field's string is accepted");

	const char *dup_unknown = "{\"Name\":\"a\",\"Name\":\"b\",\"CIH\":1,\"CIL\":2,\"CEH\":3,\"CEL\":4}";
	CHECK(decode_copy(dup_unknown, strlen(dup_unknown), false, &r, &e) == LOWI_PAYLOAD_OK,
		"an unknown field appearing twice is ignored");

	const char *limits = "{\"CIH\":999999999999,\"CIL\":\"999999999999.0\",\"CEH\":0,\"CEL\":\"0.0\","
		"\"PI\":1000000,\"PE\":\"1e6\",\"T\":\"1.0\",\"device_CH\":\"-0\"}";
	CHECK(decode_copy(limits, strlen(limits), false, &r, &e) == LOWI_PAYLOAD_OK
		&& r.import_day_wh == 999999999999.0 && r.import_night_wh == 999999999999.0 && r.import_w == 1e6 && r.rate == 1,
		"values exactly at the limits; T 1.0 is 1; device_CH -0 is 0 (%s)", e.reason);

	const char *neg_zero = "{\"CIH\":-0,\"CIL\":\"-0.000\",\"CEH\":0e5,\"CEL\":1e-400}";
	CHECK(decode_copy(neg_zero, strlen(neg_zero), false, &r, &e) == LOWI_PAYLOAD_OK
		&& r.import_day_wh == 0 && !signbit(r.import_day_wh) && r.export_night_wh == 0,
		"-0, -0.000, 0e5 and 1e-400 are zero, not negative (%s)", e.reason);

	/* 1 followed by 300 zero decimals, and 0.000...1 */
	char longnum[1024];
	int o = snprintf(longnum, sizeof longnum, "{\"CIH\":\"1.");
	for (int k = 0; k < 300; k++)
		longnum[o++] = '0';
	o += snprintf(longnum + o, sizeof longnum - (size_t)o, "\",\"CIL\":0.");
	for (int k = 0; k < 300; k++)
		longnum[o++] = '0';
	snprintf(longnum + o, sizeof longnum - (size_t)o, "1,\"CEH\":123456789012.50000000000000000000,\"CEL\":4}");
	CHECK(decode_copy(longnum, strlen(longnum), false, &r, &e) == LOWI_PAYLOAD_OK
		&& r.import_day_wh == 1.0 && r.import_night_wh > 0 && r.import_night_wh < 1e-299
		&& r.export_day_wh == 123456789012.5,
		"very long but valid numbers (300 decimals) convert (%s)", e.reason);

	/* exactly LOWI_PAYLOAD_MAX_BYTES, padded with an unknown string */
	char *full = malloc(LOWI_PAYLOAD_MAX_BYTES);
	const char *head = "{\"CIH\":1,\"CIL\":2,\"CEH\":3,\"CEL\":4,\"pad\":\"";
	size_t hl = strlen(head);
	memcpy(full, head, hl);
	memset(full + hl, 'x', LOWI_PAYLOAD_MAX_BYTES - hl - 2);
	memcpy(full + LOWI_PAYLOAD_MAX_BYTES - 2, "\"}", 2);
	CHECK(decode_copy(full, LOWI_PAYLOAD_MAX_BYTES, false, &r, &e) == LOWI_PAYLOAD_OK,
		"a valid payload of exactly %d bytes is accepted", LOWI_PAYLOAD_MAX_BYTES);
	free(full);

	/* nesting: 31 levels inside the top-level object = 32 in all, accepted */
	char nest[256];
	o = snprintf(nest, sizeof nest, "{\"x\":");
	for (int k = 0; k < 31; k++)
		nest[o++] = '[';
	for (int k = 0; k < 31; k++)
		nest[o++] = ']';
	snprintf(nest + o, sizeof nest - (size_t)o, ",\"CIH\":1,\"CIL\":2,\"CEH\":3,\"CEL\":4}");
	CHECK(decode_copy(nest, strlen(nest), false, &r, &e) == LOWI_PAYLOAD_OK,
		"nesting of exactly 32 levels is accepted (%s)", e.reason);
}

static void test_integers_exact(void)
{
	uint64_t x = 88172645463325252ull;
	int bad = 0;
	char buf[128];
	struct lowi_reading r;

	for (int k = 0; k < 20000; k++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		unsigned long long v = k < 2 ? (unsigned long long[]){ 0, 999999999999ull }[k]
					     : x % 1000000000000ull;
		unsigned long long d = x % 1000;
		snprintf(buf, sizeof buf, "{\"CIH\":%llu,\"CIL\":\"%llu\",\"CEH\":%llu.%03llu,\"CEL\":\"%llu.%03llu\"}",
			v, v, v / 1000, d, v / 1000, d);
		char dec[64];
		snprintf(dec, sizeof dec, "%llu.%03llu", v / 1000, d);
		double want = strtod(dec, NULL);
		if (decode_copy(buf, strlen(buf), false, &r, NULL) != LOWI_PAYLOAD_OK
			|| r.import_day_wh != (double)v || r.import_night_wh != (double)v
			|| r.export_day_wh != want || r.export_night_wh != want) {
			if (bad++ < 5)
				printf("# mismatch for %s\n", buf);
		}
	}
	CHECK(bad == 0, "20000 integers < 1e12 exact, and 3-decimal values equal strtod (%d mismatches)", bad);
}

static void test_bad(void)
{
	/* syntax */
	expect_n("empty payload (NULL, 0)", NULL, 0, LOWI_PAYLOAD_NOT_JSON, "", "empty");
	expect_n("empty payload (non-NULL, 0)", "", 0, LOWI_PAYLOAD_NOT_JSON, "", "empty");
	expect("only whitespace", " \n\t\r ", LOWI_PAYLOAD_NOT_JSON, "", "whitespace");
	expect("plain text", "hello world", LOWI_PAYLOAD_NOT_JSON, "", "invalid character 'h' at byte 0");
	expect("control byte", "{\x01}", LOWI_PAYLOAD_NOT_JSON, "", "invalid character '\\x01' at byte 1");
	expect("empty object {}", "{}", LOWI_PAYLOAD_MISSING_COUNTER, "CIH", "CIH is missing");
	expect("unterminated object", "{\"CIH\":1", LOWI_PAYLOAD_NOT_JSON, "CIH", "unexpected end of payload at byte 8");
	expect("trailing comma", "{\"CIH\":1,\"CIL\":2,\"CEH\":3,\"CEL\":4,}", LOWI_PAYLOAD_NOT_JSON, "", "expected a field name");
	expect("missing colon", "{\"CIH\" 1}", LOWI_PAYLOAD_NOT_JSON, NULL, "expected ':'");
	expect("single quotes", "{'CIH':1}", LOWI_PAYLOAD_NOT_JSON, "", "invalid character ''' at byte 1");
	expect("bare word value", "{\"Name\":Compteur}", LOWI_PAYLOAD_NOT_JSON, "Name", "invalid character 'C'");
	expect("NaN token", rep(AS_NUMBERS, "CIH", "NaN"), LOWI_PAYLOAD_NOT_JSON, "CIH", "invalid character 'N'");
	expect("Infinity token", rep(AS_NUMBERS, "CIL", "Infinity"), LOWI_PAYLOAD_NOT_JSON, "CIL", "invalid character 'I'");
	expect("-Infinity token", rep(AS_NUMBERS, "CEH", "-Infinity"), LOWI_PAYLOAD_NOT_JSON, "CEH", "expected a digit");
	expect("nan token in unknown field", rep(AS_NUMBERS, "U", "nan"), LOWI_PAYLOAD_NOT_JSON, "U", "expected 'null'");
	expect("leading zero number", rep(AS_NUMBERS, "CIH", "0130838"), LOWI_PAYLOAD_NOT_JSON, "CIH", "invalid character '1'");
	expect("plus sign number", rep(AS_NUMBERS, "CIH", "+1"), LOWI_PAYLOAD_NOT_JSON, "CIH", "invalid character '+'");
	expect("number ending in dot", rep(AS_NUMBERS, "CIH", "1."), LOWI_PAYLOAD_NOT_JSON, "CIH", "expected a digit");
	expect("number with bare exponent", rep(AS_NUMBERS, "CIH", "1e"), LOWI_PAYLOAD_NOT_JSON, "CIH", "expected a digit");
	expect("hex number token", rep(AS_NUMBERS, "CIH", "0x10"), LOWI_PAYLOAD_NOT_JSON, "CIH", "invalid character 'x'");
	expect("truncated true", "{\"a\":tru", LOWI_PAYLOAD_NOT_JSON, "a", "unexpected end of payload at byte 8");
	expect("misspelt null", "{\"a\":nul,\"CIH\":1}", LOWI_PAYLOAD_NOT_JSON, "a", "invalid character ','");
	expect("bad escape", "{\"Name\":\"a\\qb\",\"CIH\":1}", LOWI_PAYLOAD_NOT_JSON, "Name", "invalid escape '\\q' at byte 10");
	expect("bad \\u escape", "{\"Name\":\"\\u12G4\"}", LOWI_PAYLOAD_NOT_JSON, "Name", "4 hex digits");
	expect("truncated \\u escape", "{\"Name\":\"\\u12", LOWI_PAYLOAD_NOT_JSON, "Name", "unexpected end");
	expect("raw tab inside a string", "{\"Name\":\"a\tb\"}", LOWI_PAYLOAD_NOT_JSON, "Name", "'\\x09' at byte 10 inside a string");
	expect("raw newline inside a key", "{\"Na\nme\":1}", LOWI_PAYLOAD_NOT_JSON, "", "inside a string");
	expect("unterminated string", "{\"Name\":\"abc", LOWI_PAYLOAD_NOT_JSON, "Name", "unexpected end of payload at byte 12");
	expect("byte-order mark", "\xef\xbb\xbf{\"CIH\":1}", LOWI_PAYLOAD_NOT_JSON, "", "'\\xef' at byte 0");

	char good[512];
	snprintf(good, sizeof good, "%s", rep(AS_STRINGS, NULL, NULL));
	size_t gl = strlen(good);
	char *trail = malloc(gl + 16);
	snprintf(trail, gl + 16, "%s xyz", good);
	char want[64];
	snprintf(want, sizeof want, "trailing data after the object at byte %zu", gl + 1);
	expect("trailing garbage", trail, LOWI_PAYLOAD_NOT_JSON, "", want);
	snprintf(trail, gl + 16, "%s{}", good);
	expect("two objects", trail, LOWI_PAYLOAD_NOT_JSON, "", "trailing data");
	snprintf(trail, gl + 16, "%s\n\r\t ", good);
	expect("trailing whitespace is fine", trail, LOWI_PAYLOAD_OK, "", NULL);
	free(trail);

	/* embedded NUL: in a string, between tokens, right after the object */
	char nul[512];
	size_t nl = (size_t)snprintf(nul, sizeof nul, "%s", rep(AS_STRINGS, NULL, NULL));
	char *name = strstr(nul, "Compteur");
	name[3] = '\0';
	expect_n("NUL byte inside a string", nul, nl, LOWI_PAYLOAD_NOT_JSON, "Name", "'\\x00'");
	snprintf(nul, sizeof nul, "%s", rep(AS_STRINGS, NULL, NULL));
	char *comma = strchr(nul, ',');
	*comma = '\0';
	expect_n("NUL byte between fields", nul, nl, LOWI_PAYLOAD_NOT_JSON, "ident", "'\\x00'");
	snprintf(nul, sizeof nul, "%s", rep(AS_STRINGS, NULL, NULL));
	expect_n("NUL byte after the object", nul, nl + 1, LOWI_PAYLOAD_NOT_JSON, "", "trailing data");

	/* nesting */
	char *deep = malloc(1000);
	memset(deep, '[', 1000);
	expect_n("1000 '[' at top level", deep, 1000, LOWI_PAYLOAD_NOT_JSON, "", "nested too deep at byte 32");
	memset(deep, '{', 1000);
	expect_n("1000 '{' at top level", deep, 1000, LOWI_PAYLOAD_NOT_JSON, "", "expected a field name");
	char nest[512];
	int o = snprintf(nest, sizeof nest, "{\"CIH\":1,\"CIL\":2,\"CEH\":3,\"CEL\":4,\"x\":");
	for (int k = 0; k < 32; k++)
		o += snprintf(nest + o, sizeof nest - (size_t)o, "%s", k % 2 ? "[" : "{\"a\":");
	expect("33 levels inside an unknown field", nest, LOWI_PAYLOAD_NOT_JSON, "x", "nested too deep");
	o = snprintf(nest, sizeof nest, "{\"x\":");
	for (int k = 0; k < 32; k++)
		nest[o++] = '[';
	for (int k = 0; k < 32; k++)
		nest[o++] = ']';
	snprintf(nest + o, sizeof nest - (size_t)o, ",\"CIH\":1,\"CIL\":2,\"CEH\":3,\"CEL\":4}");
	expect("33 levels, well closed", nest, LOWI_PAYLOAD_NOT_JSON, "x", "nested too deep");
	free(deep);

	/* not an object */
	expect("array at top level", "[{\"CIH\":1}]", LOWI_PAYLOAD_NOT_OBJECT, "", "an array");
	expect("string at top level", " \"130838\" ", LOWI_PAYLOAD_NOT_OBJECT, "", "a string");
	expect("number at top level", "130838", LOWI_PAYLOAD_NOT_OBJECT, "", "a number");
	expect("null at top level", "null", LOWI_PAYLOAD_NOT_OBJECT, "", "null");
	expect("array then garbage", "[1] x", LOWI_PAYLOAD_NOT_JSON, "", "trailing data");

	/* too long */
	size_t mb = 1u << 20;
	char *big = malloc(mb);
	memset(big, ' ', mb);
	memcpy(big, good, gl);
	expect_n("1 MB payload", big, mb, LOWI_PAYLOAD_TOO_LONG, "", "1048576 bytes");
	expect_n("4097-byte payload", big, LOWI_PAYLOAD_MAX_BYTES + 1, LOWI_PAYLOAD_TOO_LONG, "", "4097 bytes");
	expect_n("4096 bytes, valid object then spaces", big, LOWI_PAYLOAD_MAX_BYTES, LOWI_PAYLOAD_OK, "", NULL);
	free(big);

	/* missing counters */
	static const char *const counters[] = { "CIH", "CIL", "CEH", "CEL" };
	for (int k = 0; k < 4; k++) {
		char label[64];
		snprintf(label, sizeof label, "missing %s", counters[k]);
		expect(label, rep(AS_STRINGS, counters[k], NULL), LOWI_PAYLOAD_MISSING_COUNTER, counters[k], counters[k]);
	}
	expect("all counters missing", "{\"ident\":\"4c75252e8c51\"}", LOWI_PAYLOAD_MISSING_COUNTER, "CIH",
		"CIH is missing (also CIL, CEH, CEL)");
	expect("lower-case cih is not CIH", "{\"cih\":1,\"CIL\":2,\"CEH\":3,\"CEL\":4}", LOWI_PAYLOAD_MISSING_COUNTER, "CIH", NULL);

	/* not a number */
	static const char *const not_numbers[] = {
		"\"12a\"", "\"\"", "\"NaN\"", "\"nan\"", "\"inf\"", "\"Infinity\"", "\"-Infinity\"", "\"0x10\"",
		"\" 130838\"", "\"130838 \"", "\"+1\"", "\"01\"", "\"1.\"", "\".5\"", "\"1e\"", "\"-\"", "\"1,5\"",
		"\"1 2\"", "\"\\u0031\\u0020\"", "\"\xc3\xa9\"", "\"\xff\"", "\"\\u00e9\"", "null", "true", "false",
		"{}", "[]", "[1]", "{\"v\":1}", "\"1e5x\"",
	};
	for (size_t k = 0; k < sizeof not_numbers / sizeof not_numbers[0]; k++) {
		char label[64], part[64], shown[32];
		size_t o2 = 0;
		for (const char *c = not_numbers[k]; *c && o2 + 5 < sizeof shown; c++)
			o2 += (size_t)snprintf(shown + o2, sizeof shown - o2, (unsigned char)*c < 0x80 ? "%c" : "\\x%02x",
				(unsigned char)*c);
		snprintf(label, sizeof label, "CIH %s is not a number", shown);
		snprintf(part, sizeof part, "field CIH: %s is not a number", not_numbers[k]);
		bool printable = true;
		for (const char *c = not_numbers[k]; *c; c++)
			printable &= (unsigned char)*c < 0x80;
		expect(label, rep(AS_STRINGS, "CIH", not_numbers[k]), LOWI_PAYLOAD_NOT_A_NUMBER, "CIH",
			printable ? part : "is not a number");
	}
	expect("T null", rep(AS_STRINGS, "T", "null"), LOWI_PAYLOAD_NOT_A_NUMBER, "T", "field T: null");
	expect("PI \"abc\"", rep(AS_STRINGS, "PI", "\"abc\""), LOWI_PAYLOAD_NOT_A_NUMBER, "PI", NULL);
	expect("device_CH \"zero\"", rep(AS_STRINGS, "device_CH", "\"zero\""), LOWI_PAYLOAD_NOT_A_NUMBER, "device_CH", NULL);
	expect("long non-number is cut with ...",
		rep(AS_STRINGS, "CG", "\"abcdefghijklmnopqrstuvwxyz0123456789\""), LOWI_PAYLOAD_NOT_A_NUMBER, "CG",
		"field CG: \"abcdefghijklmnopqrstuvw... is not a number");

	/* out of range */
	expect("negative number", rep(AS_NUMBERS, "CIH", "-5"), LOWI_PAYLOAD_OUT_OF_RANGE, "CIH", "field CIH: -5 is negative");
	expect("negative string", rep(AS_STRINGS, "CEL", "\"-5\""), LOWI_PAYLOAD_OUT_OF_RANGE, "CEL", "\"-5\" is negative");
	expect("tiny negative", rep(AS_STRINGS, "PE", "\"-0.001\""), LOWI_PAYLOAD_OUT_OF_RANGE, "PE", "negative");
	expect("negative underflow", rep(AS_STRINGS, "CW", "-1e-400"), LOWI_PAYLOAD_OUT_OF_RANGE, "CW", "negative");
	expect("1e300", rep(AS_NUMBERS, "CIH", "1e300"), LOWI_PAYLOAD_OUT_OF_RANGE, "CIH", "1e300 is above the 999999999999 Wh limit");
	expect("\"1e400\" (infinite)", rep(AS_NUMBERS, "CIL", "\"1e400\""), LOWI_PAYLOAD_OUT_OF_RANGE, "CIL", "above");
	expect("1e99999999999999999999 exponent", rep(AS_NUMBERS, "CIL", "1e99999999999999999999"),
		LOWI_PAYLOAD_OUT_OF_RANGE, "CIL", "above");
	expect("counter just above 1e12", rep(AS_NUMBERS, "CEH", "1000000000001"), LOWI_PAYLOAD_OUT_OF_RANGE, "CEH", "above");
	/* Conso keeps indexes as DECIMAL(12,3) kWh: 1e12 Wh itself would not fit. */
	expect("counter at 1e12", rep(AS_NUMBERS, "CIH", "1000000000000"), LOWI_PAYLOAD_OUT_OF_RANGE, "CIH", "above");
	expect("power above 1e6", rep(AS_NUMBERS, "PI", "1000000.5"), LOWI_PAYLOAD_OUT_OF_RANGE, "PI", "1e6 W");
	expect("gas above 1e12", rep(AS_NUMBERS, "CG", "\"2e12\""), LOWI_PAYLOAD_OUT_OF_RANGE, "CG", "litre");
	expect("T 2", rep(AS_STRINGS, "T", "\"2\""), LOWI_PAYLOAD_OUT_OF_RANGE, "T", "field T: \"2\" is not 1");
	expect("T -1", rep(AS_NUMBERS, "T", "-1"), LOWI_PAYLOAD_OUT_OF_RANGE, "T", NULL);
	expect("T 0.5", rep(AS_NUMBERS, "T", "0.5"), LOWI_PAYLOAD_OUT_OF_RANGE, "T", NULL);

	char digits[600];
	o = snprintf(digits, sizeof digits, "\"");
	for (int k = 0; k < 400; k++)
		digits[o++] = (char)('1' + k % 9);
	snprintf(digits + o, sizeof digits - (size_t)o, "\"");
	expect("400-digit string", rep(AS_STRINGS, "CIH", digits), LOWI_PAYLOAD_OUT_OF_RANGE, "CIH",
		"field CIH: \"12345678912345678912345... is above");
	expect("400-digit number", rep(AS_STRINGS, "CIH", digits + 1 /* drop the quote */), LOWI_PAYLOAD_NOT_JSON,
		"CIH", "invalid character '\"'");
	digits[o] = '\0';
	expect("400-digit bare number", rep(AS_STRINGS, "CIH", digits + 1), LOWI_PAYLOAD_OUT_OF_RANGE, "CIH",
		"field CIH: 123456789123456789123456... is above");

	/* channel */
	expect("device_CH \"1\"", rep(AS_STRINGS, "device_CH", "\"1\""), LOWI_PAYLOAD_WRONG_CHANNEL, "device_CH",
		"field device_CH: \"1\" is not channel 0");
	expect("device_CH 2", rep(AS_NUMBERS, "device_CH", "2"), LOWI_PAYLOAD_WRONG_CHANNEL, "device_CH", NULL);
	expect("device_CH -1", rep(AS_NUMBERS, "device_CH", "-1"), LOWI_PAYLOAD_WRONG_CHANNEL, "device_CH", NULL);

	/* duplicates */
	expect("duplicate CIH", "{\"CIH\":1,\"CIL\":2,\"CEH\":3,\"CEL\":4,\"CIH\":\"1\"}",
		LOWI_PAYLOAD_DUPLICATE_FIELD, "CIH", "field CIH appears twice (again at byte 33)");
	expect("duplicate through an escaped name", "{\"T\":1,\"\\u0054\":1,\"CIH\":1,\"CIL\":2,\"CEH\":3,\"CEL\":4}",
		LOWI_PAYLOAD_DUPLICATE_FIELD, "T", NULL);

	/* precedence */
	expect("field error then syntax error: syntax wins", "{\"CIH\":\"12a\",\"CIL\":}", LOWI_PAYLOAD_NOT_JSON, "CIL", NULL);
	expect("first field error wins", "{\"CIH\":\"12a\",\"CIL\":-1,\"CIH\":1}", LOWI_PAYLOAD_NOT_A_NUMBER, "CIH", "12a");
	expect("field error beats missing counter", "{\"CIH\":-1}", LOWI_PAYLOAD_OUT_OF_RANGE, "CIH", NULL);
	expect("wrong channel beats missing counter", "{\"device_CH\":\"1\",\"U\":\"231\"}", LOWI_PAYLOAD_WRONG_CHANNEL,
		"device_CH", NULL);
	expect("invalid UTF-8 in a counter", rep(AS_STRINGS, "CIH", "\"13\xff\""), LOWI_PAYLOAD_NOT_A_NUMBER, "CIH",
		"\"13\\xff\" is not a number");
	expect("long unknown field name", "{\"a_very_long_unknown_field_name\":}", LOWI_PAYLOAD_NOT_JSON,
		"a_very_long_unk", NULL);
}

/* Known names are told from unknown ones by their full bytes: every name of
 * up to 4 bytes over the letters of the known names, and near misses of the
 * longer one; names and string values of every length around the 8- and
 * 16-byte words the scanner reads; numbers of up to 16 digits. */
static void test_names_and_lengths(void)
{
	static const char letters[] = "CEGHILPTWdx_";
	static const char *const known[] = { "CIH", "CIL", "CEH", "CEL", "CG", "CW", "PI", "PE", "T", "device_CH" };
#define NEAR(s) { s, sizeof s - 1 }
	static const struct { const char *s; size_t n; } near[] = {
		NEAR("device_C"), NEAR("device_CHX"), NEAR("device_CI"), NEAR("Device_CH"), NEAR("device CH"),
		NEAR("devicexCH"), NEAR("xdevice_CH"), NEAR("CIH "), NEAR(" CIH"), NEAR("CIH\\u0020"),
		NEAR("CI\xc3\x89"), NEAR("C\xc3\x8dH"), NEAR("CIH\xff"), NEAR("T\x7f"), NEAR("PI\x00"), NEAR("CE\x1fL"),
	};
#undef NEAR
	char buf[512], name[8];
	struct lowi_reading r;
	struct lowi_payload_error e;
	size_t bad = 0, tried = 0;

	for (size_t len = 1; len <= 4; len++) {
		size_t combos = 1;
		for (size_t k = 0; k < len; k++)
			combos *= sizeof letters - 1;
		for (size_t c = 0; c < combos; c++) {
			size_t x = c;
			for (size_t k = 0; k < len; k++, x /= sizeof letters - 1)
				name[k] = letters[x % (sizeof letters - 1)];
			name[len] = '\0';
			bool is_known = false;
			for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
				is_known |= strcmp(name, known[k]) == 0;
			snprintf(buf, sizeof buf, "{\"%s\":\"x\",\"CIH\":1,\"CIL\":2,\"CEH\":3,\"CEL\":4}", name);
			enum lowi_payload_status st = decode_copy(buf, strlen(buf), false, &r, &e);
			enum lowi_payload_status want = is_known ? LOWI_PAYLOAD_NOT_A_NUMBER : LOWI_PAYLOAD_OK;
			if (st != want || (is_known && strcmp(e.field, name) != 0)) {
				if (bad++ < 5)
					printf("# name \"%s\": %s (%s)\n", name, lowi_payload_status_name(st), e.reason);
			}
			tried++;
		}
	}
	CHECK(bad == 0, "%zu names of 1 to 4 bytes: exactly the known ones are looked at (%zu wrong)", tried, bad);

	bad = 0;
	for (size_t k = 0; k < sizeof near / sizeof near[0]; k++) {
		int o = snprintf(buf, sizeof buf, "{\"");
		memcpy(buf + o, near[k].s, near[k].n);
		o += (int)near[k].n;
		o += snprintf(buf + o, sizeof buf - (size_t)o, "\":\"x\",\"CIH\":1,\"CIL\":2,\"CEH\":3,\"CEL\":4}");
		enum lowi_payload_status st = decode_copy(buf, (size_t)o, false, &r, &e);
		/* a raw control byte in a name is a syntax error; the rest are unknown names */
		bool control = false;
		for (size_t c = 0; c < near[k].n; c++)
			control |= (unsigned char)near[k].s[c] < 0x20;
		if (st != (control ? LOWI_PAYLOAD_NOT_JSON : LOWI_PAYLOAD_OK)) {
			if (bad++ < 5)
				printf("# near miss %zu: %s (%s)\n", k, lowi_payload_status_name(st), e.reason);
		}
	}
	CHECK(bad == 0, "near misses of known names are unknown fields (%zu wrong)", bad);

	/* an unknown name of nl bytes with a string value of vl bytes, then CIH; each
	 * member also with whitespace around the ':' */
	bad = 0;
	tried = 0;
	for (int nl = 0; nl <= 40; nl++) {
		for (int vl = 0; vl <= 40; vl++) {
			for (int ws = 0; ws < 2; ws++) {
				int o = snprintf(buf, sizeof buf, "{\"%.*s\"%s:%s\"%.*s\",\"CIH\":\"%d\",\"CIL\":2,\"CEH\":3,\"CEL\":4}",
					nl, "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn", ws ? " " : "", ws ? "\n" : "",
					vl, "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv", nl * 100 + vl);
				if (decode_copy(buf, (size_t)o, false, &r, &e) != LOWI_PAYLOAD_OK
					|| r.import_day_wh != nl * 100 + vl) {
					if (bad++ < 5)
						printf("# name %d, value %d bytes: %s (%s)\n", nl, vl,
							lowi_payload_status_name(e.status), e.reason);
				}
				/* cut inside the value: not JSON, reported against the member */
				o = snprintf(buf, sizeof buf, "{\"CIL\":2,\"%.*s\":\"%.*s", nl,
					"nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn", vl,
					"vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv");
				if (decode_copy(buf, (size_t)o, false, &r, &e) != LOWI_PAYLOAD_NOT_JSON
					|| e.offset != (size_t)o || strncmp(e.field, "nnnnnnnnnnnnnnn", nl < 15 ? (size_t)nl : 15) != 0
					|| strlen(e.field) != (nl < 15 ? (size_t)nl : 15)) {
					if (bad++ < 5)
						printf("# cut name %d, value %d bytes: %s at %zu (%s)\n", nl, vl,
							lowi_payload_status_name(e.status), e.offset, e.reason);
				}
				tried += 2;
			}
		}
	}
	CHECK(bad == 0, "%zu payloads with names and string values of 0 to 40 bytes (%zu wrong)", tried, bad);

	/* counters of 1 to 16 digits, quoted and bare */
	bad = 0;
	for (int digits = 1; digits <= 16; digits++) {
		for (int quoted = 0; quoted < 2; quoted++) {
			char num[20];
			for (int k = 0; k < digits; k++)
				num[k] = (char)('1' + k % 9);
			num[digits] = '\0';
			snprintf(buf, sizeof buf, "{\"CIH\":%s%s%s,\"CIL\":2,\"CEH\":3,\"CEL\":4}", quoted ? "\"" : "", num,
				quoted ? "\"" : "");
			enum lowi_payload_status st = decode_copy(buf, strlen(buf), false, &r, &e);
			bool fits = digits <= 12;
			if (st != (fits ? LOWI_PAYLOAD_OK : LOWI_PAYLOAD_OUT_OF_RANGE)
				|| (fits && r.import_day_wh != strtod(num, NULL))
				|| (!fits && (strcmp(e.field, "CIH") != 0 || e.offset != 7
					|| !strstr(e.reason, "is above the 999999999999 Wh limit")))) {
				if (bad++ < 5)
					printf("# %d digits%s: %s (%s)\n", digits, quoted ? " quoted" : "",
						lowi_payload_status_name(st), e.reason);
			}
		}
	}
	CHECK(bad == 0, "counters of 1 to 16 digits, quoted and bare (%zu wrong)", bad);

	expect("quoted leading zero", "{\"CIH\":\"01\",\"CIL\":2,\"CEH\":3,\"CEL\":4}", LOWI_PAYLOAD_NOT_A_NUMBER, "CIH",
		"field CIH: \"01\" is not a number");
	expect("bare leading zero", "{\"CIH\":01,\"CIL\":2,\"CEH\":3,\"CEL\":4}", LOWI_PAYLOAD_NOT_JSON, "CIH",
		"invalid character '1' at byte 8 (expected ',' or '}')");
	expect("quoted zero then digits in T", "{\"T\":\"00\",\"CIH\":1,\"CIL\":2,\"CEH\":3,\"CEL\":4}",
		LOWI_PAYLOAD_NOT_A_NUMBER, "T", NULL);
	expect("T 2 quoted", "{\"T\":\"2\",\"CIH\":1,\"CIL\":2,\"CEH\":3,\"CEL\":4}", LOWI_PAYLOAD_OUT_OF_RANGE, "T",
		"field T: \"2\" is not 1 (day) or 0 (night)");
	expect("device_CH 1 bare", "{\"device_CH\":1,\"CIH\":1,\"CIL\":2,\"CEH\":3,\"CEL\":4}", LOWI_PAYLOAD_WRONG_CHANNEL,
		"device_CH", "field device_CH: 1 is not channel 0");
	expect("power just above the limit", "{\"PI\":\"1000001\",\"CIH\":1,\"CIL\":2,\"CEH\":3,\"CEL\":4}",
		LOWI_PAYLOAD_OUT_OF_RANGE, "PI", "field PI: \"1000001\" is above the 1e6 W limit");
	expect("duplicate plain counter", "{\"CIH\":1,\"CIL\":2,\"CEH\":3,\"CEL\":4,\"CIL\":\"5\"}",
		LOWI_PAYLOAD_DUPLICATE_FIELD, "CIL", "field CIL appears twice (again at byte 33)");
	expect("number then letters", "{\"CIH\":12a,\"CIL\":2,\"CEH\":3,\"CEL\":4}", LOWI_PAYLOAD_NOT_JSON, "CIH",
		"invalid character 'a' at byte 9 (expected ',' or '}')");
	expect("counter then end of payload", "{\"CIH\":\"12\"", LOWI_PAYLOAD_NOT_JSON, "CIH",
		"unexpected end of payload at byte 11 (expected ',' or '}')");
	expect("unknown value then end of payload", "{\"Name\":\"Compteur\"", LOWI_PAYLOAD_NOT_JSON, "Name",
		"unexpected end of payload at byte 18 (expected ',' or '}')");
	expect("name then end of payload", "{\"CIH\"", LOWI_PAYLOAD_NOT_JSON, "",
		"unexpected end of payload at byte 6 (expected ':' after a field name)");
}

static void test_truncations(void)
{
	static const enum rep_style styles[] = { AS_STRINGS, AS_NUMBERS, MIXED };
	struct lowi_payload_error e;

	for (size_t s = 0; s < 3; s++) {
		char copy[1024];
		snprintf(copy, sizeof copy, "%s", rep(styles[s], NULL, NULL));
		size_t len = strlen(copy);
		size_t bad = 0;
		for (size_t n = 0; n < len; n++) {
			enum lowi_payload_status st = decode_copy(copy, n, n == 0, NULL, &e);
			if (st != LOWI_PAYLOAD_NOT_JSON || !error_well_formed(st, &e, n)) {
				if (bad++ < 5)
					printf("# prefix of %zu bytes: %s (%s)\n", n, lowi_payload_status_name(st), e.reason);
			}
		}
		CHECK(bad == 0, "all %zu proper prefixes of payload style %zu are not-json with a reason", len, s);
	}
	/* the last-byte prefix reports the end of the payload */
	const char *p = rep(AS_STRINGS, NULL, NULL);
	size_t n = strlen(p) - 1;
	char want[64];
	snprintf(want, sizeof want, "unexpected end of payload at byte %zu", n);
	expect_n("truncated before the final '}'", p, n, LOWI_PAYLOAD_NOT_JSON, "CW", want);
}

/* Deterministic mutation fuzzing: nothing may crash or over-read, and every
 * answer is well formed. */
static void test_mutations(void)
{
	static const char alphabet[] = "{}[]\":,\\ 0123456789-+.eEtrufalsnCIHLEPGWTd_u\x00\x01\x7f\x80\xff";
	uint64_t x = 0x9e3779b97f4a7c15ull;
	unsigned char buf[1024];
	const char *base = rep(MIXED, NULL, NULL);
	size_t base_len = strlen(base);
	size_t bad = 0, ok = 0, counts[LOWI_PAYLOAD_STATUS_COUNT] = { 0 };
	struct lowi_payload_error e;
	struct lowi_reading r;

#define NEXT() (x ^= x << 13, x ^= x >> 7, x ^= x << 17, x)
	for (int it = 0; it < 200000; it++) {
		size_t len = base_len;
		memcpy(buf, base, len);
		int edits = 1 + (int)(NEXT() % 4);
		for (int k = 0; k < edits; k++) {
			size_t at = (size_t)(NEXT() % (len + 1));
			unsigned char c = (unsigned char)alphabet[NEXT() % (sizeof alphabet - 1)];
			switch (NEXT() % 4) {
			case 0: /* replace */
				if (at < len)
					buf[at] = c;
				break;
			case 1: /* insert */
				if (len < sizeof buf) {
					memmove(buf + at + 1, buf + at, len - at);
					buf[at] = c;
					len++;
				}
				break;
			case 2: /* delete */
				if (at < len) {
					memmove(buf + at, buf + at + 1, len - at - 1);
					len--;
				}
				break;
			default: /* truncate */
				len = at;
				break;
			}
		}
		enum lowi_payload_status st = decode_copy(buf, len, false, &r, &e);
		counts[st < LOWI_PAYLOAD_STATUS_COUNT ? st : 0]++;
		if (!error_well_formed(st, &e, len)) {
			if (bad++ < 5)
				printf("# mutation %d: malformed error %s (%s)\n", it, lowi_payload_status_name(st), e.reason);
		}
		if (st == LOWI_PAYLOAD_OK) {
			ok++;
			if (!(r.import_day_wh >= 0 && r.import_day_wh <= 1e12 && (r.rate == -1 || r.rate == 0 || r.rate == 1)))
				bad++;
		}
	}
	/* random bytes from the JSON alphabet */
	for (int it = 0; it < 100000; it++) {
		size_t len = (size_t)(NEXT() % 64);
		for (size_t k = 0; k < len; k++)
			buf[k] = (unsigned char)alphabet[NEXT() % (sizeof alphabet - 1)];
		enum lowi_payload_status st = decode_copy(buf, len, false, &r, &e);
		if (!error_well_formed(st, &e, len))
			bad++;
	}
#undef NEXT
	printf("# mutations: ok %zu, not-json %zu, missing-counter %zu, not-a-number %zu, out-of-range %zu\n", ok,
		counts[LOWI_PAYLOAD_NOT_JSON], counts[LOWI_PAYLOAD_MISSING_COUNTER],
		counts[LOWI_PAYLOAD_NOT_A_NUMBER], counts[LOWI_PAYLOAD_OUT_OF_RANGE]);
	CHECK(bad == 0, "300000 mutated/random payloads: no crash, every error well formed (%zu bad)", bad);
}

static void test_status_names(void)
{
	bool ok = true;
	for (int s = 0; s < LOWI_PAYLOAD_STATUS_COUNT; s++) {
		const char *a = lowi_payload_status_name((enum lowi_payload_status)s);
		ok &= a && *a && strcmp(a, "unknown") != 0 && !strchr(a, ' ');
		for (int t = 0; t < s; t++)
			ok &= strcmp(a, lowi_payload_status_name((enum lowi_payload_status)t)) != 0;
	}
	CHECK(ok, "status names are distinct, non-empty, without spaces");
	CHECK(strcmp(lowi_payload_status_name(LOWI_PAYLOAD_NOT_JSON), "not-json") == 0
		&& strcmp(lowi_payload_status_name(LOWI_PAYLOAD_OK), "ok") == 0
		&& strcmp(lowi_payload_status_name(LOWI_PAYLOAD_STATUS_COUNT), "unknown") == 0
		&& strcmp(lowi_payload_status_name((enum lowi_payload_status)-1), "unknown") == 0,
		"status names: ok, not-json, unknown for out-of-range values");
}

/* ---- corpus ------------------------------------------------------------------ */

static unsigned char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 1u << 17, n;
	unsigned char *buf = malloc(cap);
	n = fread(buf, 1, cap, f);
	fclose(f);
	*len = n;
	return buf;
}

static void test_corpus(const char *dir)
{
	char path[4096];
	struct lowi_payload_error e = { 0 };
	DIR *d;
	struct dirent *de;
	int good = 0;

	snprintf(path, sizeof path, "%s/good", dir);
	d = opendir(path);
	CHECK(d != NULL, "open %s", path);
	while (d && (de = readdir(d))) {
		size_t nl = strlen(de->d_name), len;
		if (nl < 5 || strcmp(de->d_name + nl - 5, ".json") != 0)
			continue;
		snprintf(path, sizeof path, "%s/good/%s", dir, de->d_name);
		unsigned char *buf = read_file(path, &len);
		enum lowi_payload_status st = buf ? decode_copy(buf, len, false, NULL, &e) : LOWI_PAYLOAD_STATUS_COUNT;
		CHECK(st == LOWI_PAYLOAD_OK, "corpus good/%s: %s %s", de->d_name, lowi_payload_status_name(st), e.reason);
		free(buf);
		good++;
	}
	if (d)
		closedir(d);
	CHECK(good >= 3, "corpus has %d good payloads", good);

	/* bad/README: "file  status  description" lines, '#' comments */
	char listed[64][64];
	int nlisted = 0;
	snprintf(path, sizeof path, "%s/bad/README", dir);
	FILE *f = fopen(path, "r");
	CHECK(f != NULL, "open %s", path);
	char line[512];
	while (f && fgets(line, sizeof line, f)) {
		char file[64], status[32];
		size_t len;
		if (line[0] == '#' || sscanf(line, "%63s %31s", file, status) != 2)
			continue;
		if (nlisted < 64)
			snprintf(listed[nlisted++], sizeof listed[0], "%s", file);
		snprintf(path, sizeof path, "%s/bad/%s", dir, file);
		unsigned char *buf = read_file(path, &len);
		enum lowi_payload_status st = buf ? decode_copy(buf, len, false, NULL, &e) : LOWI_PAYLOAD_STATUS_COUNT;
		CHECK(buf && strcmp(lowi_payload_status_name(st), status) == 0 && error_well_formed(st, &e, len),
			"corpus bad/%s (%zu bytes): %s, wanted %s (%s)", file, buf ? len : 0,
			buf ? lowi_payload_status_name(st) : "unreadable", status, e.reason);
		free(buf);
	}
	if (f)
		fclose(f);

	snprintf(path, sizeof path, "%s/bad", dir);
	d = opendir(path);
	int unlisted = 0;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.' || strcmp(de->d_name, "README") == 0)
			continue;
		bool found = false;
		for (int k = 0; k < nlisted; k++)
			found |= strcmp(listed[k], de->d_name) == 0;
		if (!found) {
			printf("# bad/%s is not listed in bad/README\n", de->d_name);
			unlisted++;
		}
	}
	if (d)
		closedir(d);
	CHECK(unlisted == 0 && nlisted >= 20, "bad/README lists all %d bad files", nlisted);
}

int main(int argc, char **argv)
{
	test_good();
	test_integers_exact();
	test_bad();
	test_names_and_lengths();
	test_truncations();
	test_mutations();
	test_status_names();
	/* The corpus files shared with the integration tests and the fuzzers. */
#ifdef LOWI_CORPUS_DIR
	test_corpus(argc > 1 ? argv[1] : LOWI_CORPUS_DIR);
#else
	if (argc > 1)
		test_corpus(argv[1]);
#endif
	CHECK(general_differs == 0, "general scanner alone differs on %lu of %lu payloads", general_differs, decodes);
	return check_finish("payload");
}
