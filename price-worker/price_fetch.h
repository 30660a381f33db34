/*
 * One HTTP GET for the price worker, through libcurl.
 *
 * Called on the price-worker thread only; each call uses the worker's own
 * CURL handle. No signals are used (CURLOPT_NOSIGNAL), the whole request is
 * bounded by a timeout, and a set stop flag aborts a transfer within about
 * a second even when the server never answers. The response body belongs
 * to the caller (http_response_free).
 */
#ifndef LOWI_PRICE_FETCH_H
#define LOWI_PRICE_FETCH_H

#include <stdatomic.h>
#include <stddef.h>

#define HTTP_BODY_MAX (16u << 20) /* larger answers are refused */

struct http_response {
	long status;          /* HTTP status, 0 when no answer arrived */
	char *body;           /* NUL-terminated copy of the body (may hold NULs) */
	size_t len;
	long retry_after_s;   /* Retry-After in seconds, -1 when absent */
	char error[256];      /* transport error, when the call returns -1 */
};

/* Returns 0 when an answer arrived (any status), -1 on a transport failure
 * (refused, timeout, aborted by stop, body too large) with out->error set. */
int http_get(void *curl, const char *url, unsigned timeout_s, atomic_bool *stop, struct http_response *out);

void http_response_free(struct http_response *r);

#endif
