/* libcurl GET with a size bound, a timeout and a stop flag; see price_fetch.h. */
#include "price_fetch.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

struct sink {
	struct http_response *r;
	size_t cap;
	bool too_large;
};

static size_t on_body(char *data, size_t size, size_t n, void *userdata)
{
	struct sink *s = userdata;
	size_t add = size * n;
	if (s->r->len + add > HTTP_BODY_MAX) {
		s->too_large = true;
		return 0;
	}
	if (s->r->len + add + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 16384;
		while (cap < s->r->len + add + 1)
			cap *= 2;
		char *b = realloc(s->r->body, cap);
		if (b == NULL)
			return 0;
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
	if (len > sizeof(name) - 1 && strncasecmp(data, name, sizeof(name) - 1) == 0) {
		char buf[32];
		size_t vlen = len - (sizeof(name) - 1);
		if (vlen >= sizeof(buf))
			vlen = sizeof(buf) - 1;
		memcpy(buf, data + sizeof(name) - 1, vlen);
		buf[vlen] = '\0';
		char *p = buf;
		while (isspace((unsigned char)*p))
			p++;
		/* Only the delta-seconds form; an HTTP date is treated as absent. */
		if (isdigit((unsigned char)*p))
			r->retry_after_s = strtol(p, NULL, 10);
	}
	return len;
}

static int on_progress(void *clientp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return atomic_load((atomic_bool *)clientp) ? 1 : 0;
}

int http_get(void *curl, const char *url, unsigned timeout_s, atomic_bool *stop, struct http_response *out)
{
	memset(out, 0, sizeof(*out));
	out->retry_after_s = -1;
	struct sink s = { out, 0, false };
	CURL *c = curl;
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)timeout_s);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)(timeout_s < 20 ? timeout_s : 20));
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 3L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(c, CURLOPT_USERAGENT, "lowi-p1 (mosquitto plugin; day-ahead prices)");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, out);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, stop);
	CURLcode rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
	if (rc == CURLE_OK)
		return 0;
	if (s.too_large)
		snprintf(out->error, sizeof(out->error), "answer larger than %u bytes", HTTP_BODY_MAX);
	else if (rc == CURLE_ABORTED_BY_CALLBACK)
		snprintf(out->error, sizeof(out->error), "stopped");
	else
		snprintf(out->error, sizeof(out->error), "%s", curl_easy_strerror(rc));
	return -1;
}

void http_response_free(struct http_response *r)
{
	free(r->body);
	r->body = NULL;
	r->len = 0;
}
