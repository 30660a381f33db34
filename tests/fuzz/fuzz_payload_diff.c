/*
 * libFuzzer target: the payload decoder's fast path against its general
 * scanner, and both against jansson, on arbitrary bytes.
 *
 * 1. lowi_payload_decode (fast path on a zero-padded copy, handing unusual
 *    members to the general steps) and lowi_payload_decode_general (the
 *    general scanner alone, reading the bytes in place) must agree exactly:
 *    status, error offset, field and reason, and on success every value of
 *    the reading. payload_fast.c promises this; any difference aborts.
 * 2. Whenever lowi-p1 finds the bytes syntactically valid (any status but
 *    TOO_LONG and NOT_JSON), jansson must accept them as one JSON value too
 *    (JSON_DECODE_ANY | JSON_ALLOW_NUL, length given): both implement
 *    RFC 8259, so the grammar is meant to agree. Exceptions, by design:
 *      - invalid UTF-8 and lone surrogates in \u escapes pass here (the
 *        decoder never reads text), jansson refuses them: inputs with
 *        either, or with any surrogate escape, skip this check;
 *      - numbers beyond a double (1e400) or an integer beyond 64 bits are
 *        numbers to this grammar (out of range if a known field holds one),
 *        jansson refuses them (json_error_numeric_overflow);
 *      - "\u0000" in a name is valid here, jansson refuses it in its
 *        C-string keys (json_error_null_byte_in_key); in a string value it
 *        is valid for both. A raw NUL is a control character: NOT_JSON for
 *        both;
 *      - duplicate names are valid JSON for both (lowi-p1 then reports a
 *        duplicate known field, a field error).
 *    The other direction is not asserted: lowi-p1 refuses on purpose what
 *    jansson accepts, nesting deeper than 32 containers (jansson: 2048) and
 *    payloads over LOWI_PAYLOAD_MAX_BYTES.
 * Seeds: tests/corpus/good and tests/corpus/bad.
 */
#include <jansson.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_check.h"
#include "payload_scan.h"

/* True if s[0, n) is valid UTF-8 with no surrogate code point, in raw bytes
 * and in \u escapes alike: then jansson's verdict depends on the grammar
 * alone. Valid surrogate pairs count as surrogates too (simpler, and the
 * check only gets skipped more often). */
static int text_is_unicode(const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		uint8_t c = s[i];
		size_t k;
		uint32_t cp;
		if (c < 0x80) {
			if (c == '\\' && i + 1 < n) {
				if (s[i + 1] == 'u' && i + 5 < n) {
					unsigned v = 0;
					for (size_t j = i + 2; j < i + 6; j++) {
						uint8_t h = s[j];
						v = v * 16 + (h >= '0' && h <= '9' ? h - '0' : (h | 0x20) - 'a' + 10);
					}
					if (v >= 0xd800 && v <= 0xdfff)
						return 0;
				}
				i += 2;
				continue;
			}
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) { k = 1; cp = c & 0x1f; }
		else if (c >= 0xe0 && c <= 0xef) { k = 2; cp = c & 0x0f; }
		else if (c >= 0xf0 && c <= 0xf4) { k = 3; cp = c & 0x07; }
		else return 0;
		if (i + k >= n)
			return 0;
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += k + 1;
	}
	return 1;
}

/* Bit for bit: a stored value is never NaN, and -0 would be a difference. */
static int same(double a, double b)
{
	return memcmp(&a, &b, sizeof a) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lowi_reading rf, rg;
	struct lowi_payload_error ef, eg;
	const void *p = size ? data : NULL;

	memset(&rf, 0, sizeof rf);
	memset(&rg, 0, sizeof rg);
	enum lowi_payload_status sf = lowi_payload_decode(p, size, &rf, &ef);
	enum lowi_payload_status sg = lowi_payload_decode_general(p, size, &rg, &eg);

	FUZZ_CHECK(sf == sg, "fast %s, general %s", lowi_payload_status_name(sf), lowi_payload_status_name(sg));
	FUZZ_CHECK(ef.offset == eg.offset, "offset: fast %zu, general %zu", ef.offset, eg.offset);
	FUZZ_CHECK(strcmp(ef.field, eg.field) == 0, "field: fast \"%s\", general \"%s\"", ef.field, eg.field);
	FUZZ_CHECK(strcmp(ef.reason, eg.reason) == 0, "reason: fast \"%s\", general \"%s\"", ef.reason, eg.reason);
	if (sf == LOWI_PAYLOAD_OK) {
		FUZZ_CHECK(same(rf.import_day_wh, rg.import_day_wh), "CIH %.17g / %.17g", rf.import_day_wh, rg.import_day_wh);
		FUZZ_CHECK(same(rf.import_night_wh, rg.import_night_wh), "CIL %.17g / %.17g", rf.import_night_wh, rg.import_night_wh);
		FUZZ_CHECK(same(rf.export_day_wh, rg.export_day_wh), "CEH %.17g / %.17g", rf.export_day_wh, rg.export_day_wh);
		FUZZ_CHECK(same(rf.export_night_wh, rg.export_night_wh), "CEL %.17g / %.17g", rf.export_night_wh, rg.export_night_wh);
		FUZZ_CHECK(rf.has_gas == rg.has_gas && (!rf.has_gas || same(rf.gas_l, rg.gas_l)), "CG");
		FUZZ_CHECK(rf.has_water == rg.has_water && (!rf.has_water || same(rf.water_l, rg.water_l)), "CW");
		FUZZ_CHECK(rf.has_power == rg.has_power
			&& (!rf.has_power || (same(rf.import_w, rg.import_w) && same(rf.export_w, rg.export_w))), "PI/PE");
		FUZZ_CHECK(rf.rate == rg.rate, "T %d / %d", rf.rate, rg.rate);
	}

	if (sf != LOWI_PAYLOAD_TOO_LONG && sf != LOWI_PAYLOAD_NOT_JSON && text_is_unicode(data, size)) {
		json_error_t jerr;
		json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
		enum json_error_code code = json_error_code(&jerr);
		FUZZ_CHECK(j != NULL || code == json_error_numeric_overflow || code == json_error_null_byte_in_key, "lowi-p1 says %s, jansson rejects: %s (at %d)",
			lowi_payload_status_name(sf), jerr.text, jerr.position);
		json_decref(j);
	}
	return 0;
}
