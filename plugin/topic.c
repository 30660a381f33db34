/* MQTT filter matching per MQTT 3.1.1 §4.7; see topic.h. */
#include "topic.h"

#include <string.h>

const char *topic_filter_problem(const char *filter)
{
	if (filter == NULL || filter[0] == '\0')
		return "empty filter";
	if (strlen(filter) > 1024)
		return "filter longer than 1024 bytes";
	for (const char *c = filter; *c; c++) {
		bool level_start = c == filter || c[-1] == '/';
		bool level_end = c[1] == '\0' || c[1] == '/';
		if (*c == '+' && !(level_start && level_end))
			return "'+' must fill a whole topic level";
		if (*c == '#' && !(level_start && c[1] == '\0'))
			return "'#' must be the last topic level";
	}
	return NULL;
}

static bool serial_char_ok(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '-';
}

static char serial_fold_char(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Serials are folded to lower case here, the one place a serial enters the
 * plugin: LOWI serials are hex, which the dongle writes in lower case, and
 * the Serial columns compare case-insensitively, so "4C75..." and "4c75..."
 * must be one meter, not two writing the same rows. */
static bool take_serial(const char *level, size_t len, char serial[LOWI_SERIAL_MAX + 1], bool *bad_serial)
{
	if (len == 0 || len > LOWI_SERIAL_MAX) {
		*bad_serial = true;
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		char c = level[i];
		if (!serial_char_ok(c)) {
			*bad_serial = true;
			return false;
		}
		serial[i] = serial_fold_char(c);
	}
	serial[len] = '\0';
	return true;
}

void topic_serial_fold(char *serial)
{
	for (; *serial != '\0'; serial++)
		*serial = serial_fold_char(*serial);
}

bool topic_match_serial(const char *filter, const char *topic, char serial[LOWI_SERIAL_MAX + 1], bool *bad_serial)
{
	const char *f = filter, *t = topic;
	const char *serial_at = NULL, *first_level_end = NULL;
	size_t serial_len = 0;
	*bad_serial = false;

	/* Topics starting with '$' never match a wildcard at the first level. */
	if (topic[0] == '$' && (filter[0] == '+' || filter[0] == '#'))
		return false;
	for (;;) {
		const char *fe = strchr(f, '/'), *te = strchr(t, '/');
		size_t fl = fe ? (size_t)(fe - f) : strlen(f);
		size_t tl = te ? (size_t)(te - t) : strlen(t);
		if (first_level_end == NULL)
			first_level_end = t + tl;
		if (fl == 1 && f[0] == '#')
			break;
		if (fl == 1 && f[0] == '+') {
			if (serial_at == NULL) {
				serial_at = t;
				serial_len = tl;
			}
		} else if (fl != tl || memcmp(f, t, fl) != 0) {
			return false;
		}
		if (!fe && !te)
			break;
		if (!fe) /* topic is longer: only "a/#" style filters go on */
			return false;
		if (!te) { /* topic ended: "a/b/#" matches "a/b" */
			if (strcmp(fe + 1, "#") != 0)
				return false;
			break;
		}
		f = fe + 1;
		t = te + 1;
	}
	if (serial_at == NULL) {
		serial_at = topic;
		serial_len = (size_t)(first_level_end - topic);
	}
	return take_serial(serial_at, serial_len, serial, bad_serial);
}

void topic_prefilter_init(struct topic_prefilter *pf, const char *filter)
{
	size_t len = strlen(filter);
	size_t first = strcspn(filter, "+#");
	pf->head = filter;
	pf->head_len = first;
	/* "a/b/#" also matches "a/b": the separator before '#' is not required. */
	if (first < len && filter[first] == '#' && first > 0)
		pf->head_len = first - 1;
	pf->tail = filter + len;
	pf->tail_len = 0;
	if (strchr(filter, '#') == NULL) {
		const char *plus = strrchr(filter, '+');
		pf->tail = plus ? plus + 1 : filter;
		pf->tail_len = (size_t)(filter + len - pf->tail);
	}
	/* The word holds the topic's last 8 bytes, in memory order; the tail's
	 * bytes are its last n. */
	size_t n = pf->tail_len < 8 ? pf->tail_len : 8;
	unsigned char word[8] = { 0 }, mask[8] = { 0 };
	memcpy(word + 8 - n, pf->tail + pf->tail_len - n, n);
	memset(mask + 8 - n, 0xff, n);
	memcpy(&pf->tail_word, word, 8);
	memcpy(&pf->tail_mask, mask, 8);
	pf->first_level_serial = filter[0] == '+' && (filter[1] == '/' || filter[1] == '\0')
		&& strpbrk(filter + 1, "+#") == NULL;
}

bool topic_match_serial_fast(const struct topic_prefilter *pf, const char *filter, const char *topic, size_t topic_len,
	char serial[LOWI_SERIAL_MAX + 1], bool *bad_serial)
{
	if (!pf->first_level_serial)
		return topic_match_serial(filter, topic, serial, bad_serial);
	*bad_serial = false;
	if (topic[0] == '$') /* never matched by a first-level wildcard */
		return false;
	const char *slash = memchr(topic, '/', topic_len);
	size_t level = slash ? (size_t)(slash - topic) : topic_len;
	if (topic_len - level != pf->tail_len || memcmp(topic + level, pf->tail, pf->tail_len) != 0)
		return false;
	return take_serial(topic, level, serial, bad_serial);
}

