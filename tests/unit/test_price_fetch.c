/*
 * Unit test of the price worker's HTTP client (price-worker/price_fetch.c)
 * against the real fixture server on loopback (tests/price-fixtures/server.py),
 * with real libcurl: the size limits (on the wire, decompressed, announced),
 * the redirect rules, Retry-After as the worker will see it, and the URL
 * schemes it fetches. The worker's own log line and failure count for a
 * refused redirect are checked by tests/integration/test_prices_sources.py.
 *
 * Usage: test_price_fetch PYTHON3 SERVER_PY
 */
#include "price_fetch.h"
#include "price_retry.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "check.h"

#define ELIA "/eliabecontrols.prod/interface/Interconnections/daily/auctionresultsqh/"

static char base[64];
static int port;
static CURL *curl;
static atomic_bool stop;

static pid_t start_server(const char *python, const char *server)
{
	int fd[2];
	if (pipe(fd) != 0) {
		perror("pipe");
		exit(2);
	}
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fd[1], 1);
		close(fd[0]);
		close(fd[1]);
		execl(python, python, server, "--port", "0", "--published-until", "2026-12-31", "--exit-with-parent",
			(char *)NULL);
		perror("exec");
		_exit(127);
	}
	close(fd[1]);
	char line[64] = "";
	size_t n = 0;
	while (n + 1 < sizeof(line) && read(fd[0], line + n, 1) == 1 && line[n] != '\n')
		n++;
	line[n] = '\0';
	close(fd[0]);
	if (sscanf(line, "port %d", &port) != 1) {
		fprintf(stderr, "fixture server did not start: \"%s\"\n", line);
		exit(2);
	}
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);
	return pid;
}

static size_t discard(char *d, size_t s, size_t n, void *u)
{
	(void)d;
	(void)u;
	return s * n;
}

/* POST /_control with a JSON fault. */
static void fault(const char *json)
{
	CURL *c = curl_easy_init();
	char url[128];
	snprintf(url, sizeof(url), "%s/_control", base);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	CURLcode rc = curl_easy_perform(c);
	long st = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
	CHECK(rc == CURLE_OK && st == 200, "fault %s accepted (%d, HTTP %ld)", json, (int)rc, st);
	curl_easy_cleanup(c);
}

static int get(const char *path, unsigned timeout_s, struct http_response *r)
{
	char url[512];
	snprintf(url, sizeof(url), "%s%s", base, path);
	return http_get(curl, url, timeout_s, &stop, r);
}

static void expect_ok(const char *what, const char *path)
{
	struct http_response r;
	int rc = get(path, 10, &r);
	CHECK(rc == 0 && r.status == 200 && r.len > 1000, "%s: an answer (rc %d, HTTP %ld, %zu bytes, %s)", what, rc,
		r.status, r.len, r.error);
	http_response_free(&r);
}

static void expect_error(const char *what, const char *path, const char *error)
{
	struct http_response r;
	int rc = get(path, 10, &r);
	CHECK(rc == -1 && strstr(r.error, error) != NULL, "%s: refused with \"%s\" (rc %d, HTTP %ld, \"%s\")", what,
		error, rc, r.status, r.error);
	CHECK(r.len <= HTTP_BODY_MAX, "%s: at most %zu bytes kept (%zu)", what, (size_t)HTTP_BODY_MAX, r.len);
	http_response_free(&r);
}

static void test_sizes(void)
{
	char f[160];
	expect_ok("a quarter-hour day", ELIA "2025-11-15");

	snprintf(f, sizeof(f), "{\"path_contains\":\"2025-11-16\",\"mode\":\"oversize\",\"size\":%zu}", (size_t)HTTP_BODY_MAX);
	fault(f);
	struct http_response r;
	int rc = get(ELIA "2025-11-16", 10, &r);
	CHECK(rc == 0 && r.len == HTTP_BODY_MAX, "a body of exactly the limit is taken (rc %d, %zu bytes, %s)", rc, r.len,
		r.error);
	http_response_free(&r);

	snprintf(f, sizeof(f), "{\"path_contains\":\"2025-11-17\",\"mode\":\"oversize\",\"size\":%zu}", (size_t)HTTP_BODY_MAX + 1);
	fault(f);
	expect_error("one byte over the limit, no Content-Length", ELIA "2025-11-17", "answer larger than");
	fault("{\"path_contains\":\"2025-11-18\",\"mode\":\"oversize\",\"size\":16777216}");
	expect_error("16 MiB, no Content-Length", ELIA "2025-11-18", "answer larger than");
	fault("{\"path_contains\":\"2025-11-19\",\"mode\":\"oversize-length\",\"size\":16777216}");
	expect_error("16 MiB announced by Content-Length", ELIA "2025-11-19", "Content-Length");
	fault("{\"path_contains\":\"2025-11-20\",\"mode\":\"gzip-bomb\",\"size\":16777216}");
	expect_error("gzip: 16 KB on the wire, 16 MiB decompressed", ELIA "2025-11-20", "answer larger than");
	expect_ok("the next answer is normal", ELIA "2025-11-20");
}

static void test_redirects(void)
{
	char f[400], why[160];

	fault("{\"path_contains\":\"2025-12-01\",\"mode\":\"redirect\"}");
	expect_ok("a redirect to the same URL is followed", ELIA "2025-12-01");
	fault("{\"path_contains\":\"2025-12-02\",\"mode\":\"redirect\",\"location\":\"" ELIA "2025-12-03\"}");
	expect_ok("a redirect to another path of the same origin is followed", ELIA "2025-12-02");
	fault("{\"path_contains\":\"2025-12-04\",\"mode\":\"redirect\",\"times\":3}");
	expect_ok("3 redirects are followed", ELIA "2025-12-04");
	fault("{\"path_contains\":\"2025-12-05\",\"mode\":\"redirect\",\"times\":4}");
	expect_error("a 4th redirect is refused", ELIA "2025-12-05", "more than 3 redirects");

	snprintf(f, sizeof(f), "{\"path_contains\":\"2025-12-06\",\"mode\":\"redirect\",\"location\":\"http://127.0.0.1:%d" ELIA "2025-12-06\"}",
		port == 65535 ? 1 : port + 1);
	fault(f);
	expect_error("a redirect to another port", ELIA "2025-12-06", "redirect refused (another port");
	snprintf(f, sizeof(f), "{\"path_contains\":\"2025-12-07\",\"mode\":\"redirect\",\"location\":\"http://localhost:%d" ELIA "2025-12-07\"}", port);
	fault(f);
	expect_error("a redirect to another host name", ELIA "2025-12-07", "redirect refused (another host");
	fault("{\"path_contains\":\"2025-12-08\",\"mode\":\"redirect\",\"location\":\"file:///etc/passwd\"}");
	expect_error("a redirect to file:", ELIA "2025-12-08", "redirect refused (scheme file");
	fault("{\"path_contains\":\"2025-12-09\",\"mode\":\"redirect\",\"location\":\"ftp://127.0.0.1/x\"}");
	expect_error("a redirect to ftp:", ELIA "2025-12-09", "redirect refused (scheme ftp");
	/* http -> https on the same host is allowed: curl then tries TLS with
	 * a plain HTTP server, which fails, but not as a refused redirect. */
	snprintf(f, sizeof(f), "{\"path_contains\":\"2025-12-10\",\"mode\":\"redirect\",\"location\":\"https://127.0.0.1:%d" ELIA "2025-12-10\"}", port);
	fault(f);
	struct http_response r;
	int rc = get(ELIA "2025-12-10", 10, &r);
	CHECK(rc == -1 && strstr(r.error, "refused") == NULL && strstr(r.error, "redirect") == NULL,
		"an upgrade to https is followed (then fails on TLS: \"%s\")", r.error);
	http_response_free(&r);

	/* The rule itself, https included (the fixture server has no TLS). */
	static const struct { const char *from, *to; bool ok; const char *why; } cases[] = {
		{ "https://a.example/x", "https://a.example/y", true, "" },
		{ "https://a.example/x", "https://A.EXAMPLE:443/y", true, "" },
		{ "https://a.example/x", "http://a.example/y", false, "from https down to http" },
		{ "https://a.example/x", "https://b.example/y", false, "another host" },
		{ "https://a.example/x", "https://a.example:8443/y", false, "another port" },
		{ "https://a.example/x", "https://a.example.evil.example/y", false, "another host" },
		{ "http://a.example:8080/x", "https://a.example/y", true, "" },
		{ "http://a.example:8080/x", "http://a.example:8081/y", false, "another port" },
		{ "http://a.example/x", "gopher://a.example/y", false, "scheme gopher" },
		{ "https://a.example/x", "not a url", false, "not a URL" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		why[0] = '\0';
		bool ok = http_redirect_allowed(cases[i].from, cases[i].to, why, sizeof(why));
		CHECK(ok == cases[i].ok && strstr(why, cases[i].why) != NULL, "%s -> %s: %s (%s)", cases[i].from, cases[i].to,
			ok ? "followed" : "refused", why);
	}

	rc = http_get(curl, "ftp://127.0.0.1/x", 5, &stop, &r);
	CHECK(rc == -1 && strstr(r.error, "only https://"), "an ftp URL is not fetched (%s)", r.error);
	http_response_free(&r);
	rc = http_get(curl, "file:///etc/passwd", 5, &stop, &r);
	CHECK(rc == -1 && strstr(r.error, "only https://") && r.len == 0, "a file URL is not read (%s)", r.error);
	http_response_free(&r);
}

static void test_retry_after(void)
{
	static const struct { const char *header; long want; } cases[] = {
		{ "120", 120 },
		{ "31536000000", PRICE_RETRY_AFTER_MAX_S },
		{ "99999999999999999999", PRICE_RETRY_AFTER_MAX_S },
		{ "soon", -1 },
	};
	char f[200], day[16];
	struct http_response r;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(day, sizeof(day), "2026-01-%02zu", i + 1);
		snprintf(f, sizeof(f), "{\"path_contains\":\"%s\",\"mode\":\"429\",\"retry_after\":\"%s\"}", day, cases[i].header);
		fault(f);
		char path[200];
		snprintf(path, sizeof(path), ELIA "%s", day);
		int rc = get(path, 10, &r);
		CHECK(rc == 0 && r.status == 429 && r.retry_after_s == cases[i].want, "429 with Retry-After: %s: %ld s, want %ld",
			cases[i].header, r.retry_after_s, cases[i].want);
		http_response_free(&r);
	}
	/* An HTTP date ten minutes ahead. */
	time_t at = time(NULL) + 600;
	struct tm tm;
	char date[64];
	gmtime_r(&at, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	snprintf(f, sizeof(f), "{\"path_contains\":\"2026-01-10\",\"mode\":\"429\",\"retry_after\":\"%s\"}", date);
	fault(f);
	int rc = get(ELIA "2026-01-10", 10, &r);
	CHECK(rc == 0 && r.status == 429 && r.retry_after_s >= 595 && r.retry_after_s <= 600,
		"429 with Retry-After: %s: %ld s, about 600", date, r.retry_after_s);
	http_response_free(&r);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s PYTHON3 SERVER_PY\n", argv[0]);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	pid_t server = start_server(argv[1], argv[2]);
	curl = curl_easy_init();
	atomic_init(&stop, false);

	test_sizes();
	test_redirects();
	test_retry_after();

	curl_easy_cleanup(curl);
	curl_global_cleanup();
	kill(server, SIGTERM);
	waitpid(server, NULL, 0);
	return check_finish("price_fetch");
}
