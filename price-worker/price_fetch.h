/*
 * One HTTP GET for the price worker, through libcurl.
 *
 * Called on the price-worker thread only; each call uses the worker's own
 * CURL handle. No signals are used (CURLOPT_NOSIGNAL), the whole request
 * (redirects included) is bounded by a timeout, and a set stop flag aborts
 * a transfer within about a second even when the server never answers.
 * The response body belongs to the caller (http_response_free).
 *
 * What is refused, each as a transport failure with a one-line reason:
 *   - a URL that is not https://, or http:// (for a local mirror; an http
 *     URL may be redirected to https, never the reverse);
 *   - a redirect to another host, to another port by the same scheme, to
 *     another scheme than http -> https, or more than HTTP_MAX_REDIRECTS;
 *   - an answer longer than HTTP_BODY_MAX, on the wire (compressed) or
 *     once decompressed, whether or not Content-Length announced it;
 *   - a libcurl option that cannot be set (an old or unusual libcurl):
 *     never a fetch with a protection silently missing.
 * docs/prices.md gives the reasons for the limits.
 */
#ifndef LOWI_PRICE_FETCH_H
#define LOWI_PRICE_FETCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "price_parse.h"

#define HTTP_BODY_MAX PRICE_BODY_MAX /* larger answers are refused */
#define HTTP_MAX_REDIRECTS 3
#define HTTP_URL_MAX 2048

struct http_response {
	long status;          /* HTTP status, 0 when no answer arrived */
	char *body;           /* NUL-terminated copy of the body (may hold NULs) */
	size_t len;
	long retry_after_s;   /* Retry-After in seconds (at most an hour: price_retry.h), -1 when absent */
	char error[512];      /* transport error, when the call returns -1 */
};

/* Returns 0 when an answer arrived (any status but a redirect), -1 on a
 * transport failure (refused, timeout, aborted by stop, body too large,
 * redirect refused, option not set) with out->error set. */
int http_get(void *curl, const char *url, unsigned timeout_s, atomic_bool *stop, struct http_response *out);

void http_response_free(struct http_response *r);

/* Whether a request to `from` may follow a redirect to `to` (absolute
 * URLs): same host (letter case aside), and either the same scheme and port
 * or http -> https. Else false with the reason in why. */
bool http_redirect_allowed(const char *from, const char *to, char *why, size_t whylen);

#endif
