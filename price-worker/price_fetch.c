/* libcurl GET with size bounds, checked redirects, a timeout and a stop flag; see price_fetch.h. */
#include "price_fetch.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "price_retry.h"

struct sink {
	struct http_response *r;
	size_t cap;
	bool too_large, no_memory;
};

struct progress {
	atomic_bool *stop;
	bool too_large;
};

/* The decompressed body: refused past HTTP_BODY_MAX. */
static size_t on_body(char *data, size_t size, size_t n, void *userdata)
{
	struct sink *s = userdata;
	size_t add = size * n;
	if (add > HTTP_BODY_MAX || s->r->len + add > HTTP_BODY_MAX) {
		s->too_large = true;
		return 0;
	}
	if (s->r->len + add + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 16384;
		while (cap < s->r->len + add + 1)
			cap *= 2;
		char *b = realloc(s->r->body, cap);
		if (b == NULL) {
			s->no_memory = true;
			return 0;
		}
		s->r->body = b;
		s->cap = cap;
	}
	memcpy(s->r->body + s->r->len, data, add);
	s->r->len += add;
	s->r->body[s->r->len] = '\0';
	return add;
}

static size_t on_header(char *data, size_t size, size_t n, void *userdata)
{
	struct http_response *r = userdata;
	size_t len = size * n;
	static const char name[] = "retry-after:";
	if (len > sizeof(name) - 1 && strncasecmp(data, name, sizeof(name) - 1) == 0)
		r->retry_after_s = price_retry_after_s(data + sizeof(name) - 1, len - (sizeof(name) - 1), time(NULL));
	return len;
}

/* dlnow counts the body's bytes as they arrive, before decompression: the
 * limit on the wire, Content-Length or not. */
static int on_progress(void *clientp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	struct progress *p = clientp;
	(void)dltotal;
	(void)ultotal;
	(void)ulnow;
	if (dlnow > (curl_off_t)HTTP_BODY_MAX) {
		p->too_large = true;
		return 1;
	}
	return atomic_load(p->stop) ? 1 : 0;
}

static int64_t monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Scheme, host and port (the scheme's default when not given) of a URL;
 * false when libcurl cannot parse it. A part the URL lacks (a file: URL
 * has no host) is left NULL. The strings are curl_free'd by the caller
 * (NULL ones too). */
static bool url_parts(const char *url, char **scheme, char **host, char **port)
{
	*scheme = *host = *port = NULL;
	CURLU *u = curl_url();
	if (u == NULL)
		return false;
	bool ok = curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK
		&& curl_url_get(u, CURLUPART_SCHEME, scheme, 0) == CURLUE_OK;
	if (ok) {
		if (curl_url_get(u, CURLUPART_HOST, host, 0) != CURLUE_OK)
			*host = NULL;
		if (curl_url_get(u, CURLUPART_PORT, port, CURLU_DEFAULT_PORT) != CURLUE_OK)
			*port = NULL;
	}
	curl_url_cleanup(u);
	return ok;
}

bool http_redirect_allowed(const char *from, const char *to, char *why, size_t whylen)
{
	char *fs, *fh, *fp, *ts, *th, *tp;
	bool ok = false;
	bool parsed = url_parts(from, &fs, &fh, &fp);
	parsed = url_parts(to, &ts, &th, &tp) && parsed;

	if (!parsed)
		snprintf(why, whylen, "not a URL");
	else if (strcasecmp(ts, "http") != 0 && strcasecmp(ts, "https") != 0)
		snprintf(why, whylen, "scheme %s", ts);
	else if (strcasecmp(fs, "https") == 0 && strcasecmp(ts, "http") == 0)
		snprintf(why, whylen, "from https down to http");
	else if (fh == NULL || th == NULL || fp == NULL || tp == NULL)
		snprintf(why, whylen, "not a URL");
	else if (strcasecmp(fh, th) != 0)
		snprintf(why, whylen, "another host than %s", fh);
	else if (strcasecmp(fs, ts) == 0 && strcmp(fp, tp) != 0)
		snprintf(why, whylen, "another port than %s", fp);
	else
		ok = true;
	curl_free(fs);
	curl_free(fh);
	curl_free(fp);
	curl_free(ts);
	curl_free(th);
	curl_free(tp);
	return ok;
}

/* Every option that matters is checked: a libcurl that cannot restrict the
 * protocols, say, must not fetch without the restriction. */
#define SET(opt, value) do { \
	CURLcode set_rc_ = curl_easy_setopt(c, opt, value); \
	if (set_rc_ != CURLE_OK) { \
		snprintf(out->error, sizeof(out->error), "libcurl refused option %s: %s", #opt, \
			curl_easy_strerror(set_rc_)); \
		return -1; \
	} \
} while (0)

int http_get(void *curl, const char *url, unsigned timeout_s, atomic_bool *stop, struct http_response *out)
{
	memset(out, 0, sizeof(*out));
	out->retry_after_s = -1;
	struct sink s = { out, 0, false, false };
	struct progress p = { stop, false };
	CURL *c = curl;
	char cur[HTTP_URL_MAX];
	const char *protocols;

	if (strncasecmp(url, "https://", 8) == 0) {
		protocols = "https";
	} else if (strncasecmp(url, "http://", 7) == 0) {
		protocols = "http,https"; /* a local mirror, which may redirect to https */
	} else {
		snprintf(out->error, sizeof(out->error), "only https:// (or http:// for a local mirror) is fetched");
		return -1;
	}
	if (strlen(url) >= sizeof(cur)) {
		snprintf(out->error, sizeof(out->error), "URL longer than %d bytes", HTTP_URL_MAX - 1);
		return -1;
	}
	strcpy(cur, url);

	curl_easy_reset(c);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_CONNECTTIMEOUT, (long)(timeout_s < 20 ? timeout_s : 20));
	SET(CURLOPT_FOLLOWLOCATION, 0L); /* followed here, after checking each target */
	SET(CURLOPT_PROTOCOLS_STR, protocols);
	SET(CURLOPT_REDIR_PROTOCOLS_STR, "https");
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)HTTP_BODY_MAX); /* an announced Content-Length */
	SET(CURLOPT_ACCEPT_ENCODING, "");
	SET(CURLOPT_USERAGENT, "lowi-p1 (mosquitto plugin; day-ahead prices)");
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, &s);
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, out);
	SET(CURLOPT_NOPROGRESS, 0L);
	SET(CURLOPT_XFERINFOFUNCTION, on_progress);
	SET(CURLOPT_XFERINFODATA, &p);

	int64_t deadline = monotonic_ms() + (int64_t)timeout_s * 1000;
	for (int hop = 0;; hop++) {
		int64_t left = deadline - monotonic_ms();
		if (left <= 0) {
			snprintf(out->error, sizeof(out->error), "%s", curl_easy_strerror(CURLE_OPERATION_TIMEDOUT));
			return -1;
		}
		SET(CURLOPT_URL, cur);
		SET(CURLOPT_TIMEOUT_MS, (long)left);
		out->len = 0;
		out->status = 0;
		out->retry_after_s = -1;
		CURLcode rc = curl_easy_perform(c);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
		if (rc != CURLE_OK) {
			if (s.too_large || p.too_large)
				snprintf(out->error, sizeof(out->error), "answer larger than %zu bytes", (size_t)HTTP_BODY_MAX);
			else if (rc == CURLE_FILESIZE_EXCEEDED)
				snprintf(out->error, sizeof(out->error), "answer larger than %zu bytes (its Content-Length)",
					(size_t)HTTP_BODY_MAX);
			else if (s.no_memory)
				snprintf(out->error, sizeof(out->error), "out of memory");
			else if (rc == CURLE_ABORTED_BY_CALLBACK)
				snprintf(out->error, sizeof(out->error), "stopped");
			else
				snprintf(out->error, sizeof(out->error), "%s", curl_easy_strerror(rc));
			return -1;
		}
		long st = out->status;
		if (st != 301 && st != 302 && st != 303 && st != 307 && st != 308)
			return 0;
		char *loc = NULL;
		char why[160];
		if (curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &loc) != CURLE_OK || loc == NULL) {
			snprintf(out->error, sizeof(out->error), "HTTP %ld without a usable Location", st);
			return -1;
		}
		if (hop == HTTP_MAX_REDIRECTS) {
			snprintf(out->error, sizeof(out->error), "more than %d redirects (the last to %.64s%s)",
				HTTP_MAX_REDIRECTS, loc, strlen(loc) > 64 ? "..." : "");
			return -1;
		}
		if (!http_redirect_allowed(cur, loc, why, sizeof(why))) {
			/* The reason first, the target cut: a log line (with the URL
			 * asked for and the next attempt) has room for 320 bytes. */
			snprintf(out->error, sizeof(out->error), "redirect refused (%s): %.48s%s", why, loc,
				strlen(loc) > 48 ? "..." : "");
			return -1;
		}
		if (strlen(loc) >= sizeof(cur)) {
			snprintf(out->error, sizeof(out->error), "redirect to a URL longer than %d bytes", HTTP_URL_MAX - 1);
			return -1;
		}
		strcpy(cur, loc);
	}
}

void http_response_free(struct http_response *r)
{
	free(r->body);
	r->body = NULL;
	r->len = 0;
}
