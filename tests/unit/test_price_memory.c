/*
 * Unit test: the price parsers' memory is bounded whatever the body
 * (price-worker/price_parse.h, PRICE_BODY_MAX and PRICE_PARSE_MAX_VALUES).
 *
 * Each hostile body is exactly as long as the HTTP client accepts
 * (PRICE_BODY_MAX) and goes through the real parse path,
 * price_parse_elia / price_parse_energy_charts. Each parse runs in a
 * child process: fork sets the child's peak RSS (VmHWM) to its RSS at the
 * fork, so the child's VmHWM after the parse minus its VmRSS before is
 * the parse's peak growth, whatever the test did before. It must stay
 * under MAX_GROWTH_KIB. The figures are printed.
 */
#include "price_parse.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#define MAX_GROWTH_KIB (32L * 1024)

/* 2025-11-15 in Brussels (UTC+1): [23:00 the day before, 23:00). */
#define DAY_START ((int64_t)1763161200)
#define DAY_END (DAY_START + 86400)

static long status_kib(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	size_t k = strlen(key);
	long v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, key, k) == 0)
			v = atol(line + k);
	fclose(f);
	return v;
}

struct outcome {
	long growth_kib; /* -1: could not be measured */
	enum price_parse_status st;
	size_t count, rejected;
	char reason[200];
};

/* Parses body in a child process; returns what it said and its peak growth. */
static struct outcome measure(const char *body, size_t len, bool elia)
{
	struct outcome o = { .growth_kib = -1, .st = PRICE_PARSE_MALFORMED };
	int fd[2];

	if (pipe(fd) != 0) {
		perror("pipe");
		exit(2);
	}
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(2);
	}
	if (pid == 0) {
		struct price_parse_result r;
		struct outcome c = { 0 };
		long before = status_kib("VmRSS:");
		c.st = elia ? price_parse_elia(body, len, 900, DAY_START, DAY_END, &r)
		            : price_parse_energy_charts(body, len, DAY_START, DAY_END, &r);
		long peak = status_kib("VmHWM:");
		c.growth_kib = before < 0 || peak < 0 ? -1 : peak - before;
		c.count = r.count;
		c.rejected = r.rejected;
		memcpy(c.reason, r.reason, sizeof c.reason);
		price_parse_result_free(&r);
		_exit(write(fd[1], &c, sizeof c) == (ssize_t)sizeof c ? 0 : 1);
	}
	close(fd[1]);
	if (read(fd[0], &o, sizeof o) != (ssize_t)sizeof o)
		o.growth_kib = -1;
	close(fd[0]);
	int status;
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		o.growth_kib = -1;
	return o;
}

/* A body of exactly PRICE_BODY_MAX bytes: head, then `item` repeated
 * `times` times (0: as often as fits) separated by ',', then tail, padded
 * with spaces after the tail. */
static char *build(const char *head, const char *item, size_t times, const char *tail, size_t *len)
{
	size_t cap = PRICE_BODY_MAX, n = 0, hl = strlen(head), il = strlen(item), tl = strlen(tail);
	char *b = malloc(cap);

	if (!b) {
		perror("malloc");
		exit(2);
	}
	memcpy(b, head, hl);
	n = hl;
	for (size_t i = 0; (times == 0 || i < times) && n + il + 1 + tl <= cap; i++) {
		if (i)
			b[n++] = ',';
		memcpy(b + n, item, il);
		n += il;
	}
	memcpy(b + n, tail, tl);
	n += tl;
	memset(b + n, ' ', cap - n);
	*len = cap;
	return b;
}

static void run(const char *what, const char *body, size_t len, bool elia, enum price_parse_status want,
	const char *want_reason)
{
	struct outcome o = measure(body, len, elia);

	printf("note: %-60s %7zu bytes: %-9s peak RSS growth %6.1f MiB (%s)\n", what, len,
		price_parse_status_name(o.st), o.growth_kib / 1024.0, o.reason);
	CHECK(o.growth_kib >= 0 && o.growth_kib <= MAX_GROWTH_KIB, "%s: peak RSS growth %ld KiB, at most %ld",
		what, o.growth_kib, MAX_GROWTH_KIB);
	CHECK(o.st == want, "%s: status %s, want %s (%s)", what, price_parse_status_name(o.st),
		price_parse_status_name(want), o.reason);
	if (want_reason)
		CHECK(strstr(o.reason, want_reason) != NULL, "%s: reason \"%s\" says \"%s\"", what, o.reason, want_reason);
}

int main(void)
{
	/* Largest count accepted with one value per '{' and ',': 2k + 1 values. */
	const size_t most = (PRICE_PARSE_MAX_VALUES - 1) / 2;
	size_t len;
	char *b;

	/* The hostile bodies: as many values as fit in the cap. */
	b = build("[", "{}", 0, "]", &len);
	run("elia [{},{},...] at the cap", b, len, true, PRICE_PARSE_MALFORMED, "JSON values");
	free(b);
	b = build("[", "[]", 0, "]", &len);
	run("elia [[],[],...] at the cap", b, len, true, PRICE_PARSE_MALFORMED, "JSON values");
	free(b);
	b = build("[", "0", 0, "]", &len);
	run("elia [0,0,...] at the cap", b, len, true, PRICE_PARSE_MALFORMED, "JSON values");
	free(b);
	b = build("{\"unix_seconds\":[", "{}", 0, "],\"price\":[]}", &len);
	run("energy-charts unix_seconds [{},{},...] at the cap", b, len, false, PRICE_PARSE_MALFORMED, "JSON values");
	free(b);
	b = build("{\"unix_seconds\":[", "{\"a\":{},\"b\":[]}", 0, "],\"price\":[]}", &len);
	run("energy-charts unix_seconds [{\"a\":{},\"b\":[]},...] at the cap", b, len, false, PRICE_PARSE_MALFORMED,
		"JSON values");
	free(b);

	/* The costliest bodies still parsed: just under the count of values. */
	b = build("[", "{}", most, "]", &len);
	run("elia 8191 x {} padded to the cap", b, len, true, PRICE_PARSE_OK, "isVisible is missing");
	free(b);
	b = build("[", "{\"isVisible\":true,\"dateTime\":\"2025-11-15T00:00:00Z\",\"price\":{}}", (PRICE_PARSE_MAX_VALUES - 1) / 5,
		"]", &len);
	run("elia 3276 entries with an object price, padded to the cap", b, len, true, PRICE_PARSE_OK, "price is an object");
	free(b);
	b = build("{\"unix_seconds\":[", "{}", most - 3, "],\"price\":[]}", &len);
	run("energy-charts 8188 x {} padded to the cap", b, len, false, PRICE_PARSE_MALFORMED, "entries");
	free(b);
	b = build("[\"", "", 0, "\"]", &len);
	memset(b + 2, 'x', len - 4);
	b[len - 2] = '"';
	b[len - 1] = ']';
	run("elia one string as long as the cap", b, len, true, PRICE_PARSE_OK, "is a string");
	free(b);

	/* Longer than the cap: refused before anything is read. */
	b = malloc(PRICE_BODY_MAX + 1);
	memset(b, ' ', PRICE_BODY_MAX + 1);
	b[0] = '[';
	b[PRICE_BODY_MAX] = ']';
	run("elia one byte over the cap", b, PRICE_BODY_MAX + 1, true, PRICE_PARSE_MALFORMED, "larger than");
	run("energy-charts one byte over the cap", b, PRICE_BODY_MAX + 1, false, PRICE_PARSE_MALFORMED, "larger than");
	free(b);

	/* A real-sized answer still parses: 31 days of quarter-hours. */
	{
		size_t n = 31 * 96, cap = 64 + n * 32, k;
		char *e = malloc(cap);
		k = (size_t)snprintf(e, cap, "{\"unix_seconds\":[");
		for (size_t i = 0; i < n; i++)
			k += (size_t)snprintf(e + k, cap - k, "%s%lld", i ? "," : "", (long long)(DAY_START + (int64_t)i * 900));
		k += (size_t)snprintf(e + k, cap - k, "],\"price\":[");
		for (size_t i = 0; i < n; i++)
			k += (size_t)snprintf(e + k, cap - k, "%s%zu.25", i ? "," : "", i % 200);
		k += (size_t)snprintf(e + k, cap - k, "],\"unit\":\"EUR / MWh\"}");
		struct price_parse_result r;
		enum price_parse_status st = price_parse_energy_charts(e, k, DAY_START, DAY_START + 31 * 86400, &r);
		CHECK(st == PRICE_PARSE_OK && r.count == n && r.rejected == 0, "31 days of quarter-hours (%zu bytes): %s %zu (%s)",
			k, price_parse_status_name(st), r.count, r.reason);
		price_parse_result_free(&r);
		free(e);
	}
	return check_finish("price_memory");
}
