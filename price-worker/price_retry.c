/* Back-off, log coalescing and Retry-After of the price worker; see price_retry.h. */
#include "price_retry.h"

#include "price_parse.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

void price_health_init(struct price_health *h)
{
	memset(h, 0, sizeof(*h));
	h->backoff_s = PRICE_BACKOFF_MIN_S;
}

struct price_failure price_health_failed(struct price_health *h, const char *kind, int64_t now_s)
{
	struct price_failure f = { 0 };
	bool same = h->streak > 0 && strncmp(h->kind, kind, sizeof(h->kind) - 1) == 0;

	if (h->backoff_s < PRICE_BACKOFF_MIN_S)
		h->backoff_s = PRICE_BACKOFF_MIN_S;
	f.wait_s = h->backoff_s;
	h->backoff_s = h->backoff_s > PRICE_BACKOFF_MAX_S / 2 ? PRICE_BACKOFF_MAX_S : h->backoff_s * 2;
	if (h->failures < UINT_MAX)
		h->failures++;
	if (same) {
		if (h->streak < UINT_MAX)
			h->streak++;
	} else {
		h->streak = 1;
		snprintf(h->kind, sizeof(h->kind), "%s", kind);
	}
	f.streak = h->streak;
	f.failures = h->failures;
	/* The first of a kind, the 2nd, 4th, 8th, ... and one an hour at least. */
	f.log = h->streak == 1 || (h->streak & (h->streak - 1)) == 0
		|| now_s - h->last_line_s >= PRICE_FAILURE_LINE_EVERY_S;
	if (f.log)
		h->last_line_s = now_s;
	return f;
}

unsigned price_health_succeeded(struct price_health *h)
{
	unsigned ended = h->failures;
	price_health_init(h);
	return ended;
}

bool price_repeat_note(struct price_repeat *r, const char *kind, int64_t now_s)
{
	bool same = r->count > 0 && strncmp(r->kind, kind, sizeof(r->kind) - 1) == 0;

	if (same) {
		if (r->count < UINT_MAX)
			r->count++;
		if (now_s - r->last_line_s < PRICE_REPEAT_LINE_EVERY_S)
			return false;
	} else {
		r->count = 1;
		snprintf(r->kind, sizeof(r->kind), "%s", kind);
	}
	r->last_line_s = now_s;
	return true;
}

unsigned price_repeat_reset(struct price_repeat *r)
{
	unsigned n = r->count;
	memset(r, 0, sizeof(*r));
	return n;
}

/* ---- Retry-After -------------------------------------------------------- */

/* "Sun, 06 Nov 1994 08:49:37 GMT" (IMF-fixdate, RFC 9110 5.6.7): exactly
 * 29 characters. The other two obsolete forms are not taken. */
static bool imf_fixdate(const char *s, size_t n, int64_t *out)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	static const char wdays[] = "MonTueWedThuFriSatSun";
	static const int mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int d, y, h, mi, sec, m = -1;

	if (n != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' || s[19] != ':'
	    || s[22] != ':' || memcmp(s + 25, " GMT", 4) != 0)
		return false;
	bool wday = false;
	for (int i = 0; i < 7 && !wday; i++)
		wday = memcmp(s, wdays + 3 * i, 3) == 0;
	for (int i = 0; i < 12 && m < 0; i++)
		if (memcmp(s + 8, months + 3 * i, 3) == 0)
			m = i + 1;
	if (!wday || m < 0 || !price_digits(s + 5, 2, &d) || !price_digits(s + 12, 4, &y) || !price_digits(s + 17, 2, &h)
	    || !price_digits(s + 20, 2, &mi) || !price_digits(s + 23, 2, &sec))
		return false;
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (d < 1 || d > mdays[m - 1] || (m == 2 && d == 29 && !leap) || h > 23 || mi > 59 || sec > 60)
		return false;
	*out = price_days_from_civil(y, m, d) * 86400 + h * 3600 + mi * 60 + sec;
	return true;
}

long price_retry_after_s(const char *value, size_t len, int64_t now_s)
{
	size_t a = 0, z = len;

	while (a < z && (value[a] == ' ' || value[a] == '\t'))
		a++;
	while (z > a && (value[z - 1] == ' ' || value[z - 1] == '\t' || value[z - 1] == '\r' || value[z - 1] == '\n'))
		z--;
	if (a == z)
		return -1;
	if (value[a] >= '0' && value[a] <= '9') {
		/* delta-seconds: any number of digits; past the maximum the rest
		 * only has to be digits (never accumulated: no overflow). */
		long v = 0;
		for (size_t i = a; i < z; i++) {
			if (value[i] < '0' || value[i] > '9')
				return -1;
			if (v <= PRICE_RETRY_AFTER_MAX_S)
				v = v * 10 + (value[i] - '0');
		}
		return v > PRICE_RETRY_AFTER_MAX_S ? PRICE_RETRY_AFTER_MAX_S : v;
	}
	int64_t t;
	if (!imf_fixdate(value + a, z - a, &t))
		return -1;
	/* t is within 10^4 years of 1970; with now_s held to 2^40 s (34,000
	 * years) either way, the difference cannot overflow. */
	const int64_t bound = (int64_t)1 << 40;
	int64_t d = t - (now_s > bound ? bound : now_s < -bound ? -bound : now_s);
	return d <= 0 ? 0 : d > PRICE_RETRY_AFTER_MAX_S ? PRICE_RETRY_AFTER_MAX_S : (long)d;
}

void price_duration_text(int64_t s, char *buf, size_t size)
{
	if (s < 60 || s % 60 != 0)
		snprintf(buf, size, "%lld s", (long long)s);
	else if (s < 3600)
		snprintf(buf, size, "%lld min", (long long)(s / 60));
	else if (s % 3600 == 0)
		snprintf(buf, size, "%lld h", (long long)(s / 3600));
	else
		snprintf(buf, size, "%lld h %lld min", (long long)(s / 3600), (long long)(s % 3600 / 60));
}
