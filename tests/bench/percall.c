/*
 * Per-message cost of the plugin, for callgrind (tests/bench/run.sh): the
 * same calls plugin.c's on_message (broker thread) and aggregator.c
 * (aggregator thread) make for a LOWI message, on the plugin's own code
 * (plugin/topic.c, intake.c, payload.c, meters.c, quarter.c, compiled with
 * the flags of the release build), here on one thread one after the other:
 *
 *   broker thread (what every client of the broker waits for):
 *     prefilter  strlen + topic_prefilter_pass(topic)          -> LOWI or not
 *     push       intake_push(topic, payload, receive time)     -> queued copy
 *   aggregator thread:
 *     next       intake_next()                                 -> the copy
 *     topic      topic_match_serial_fast(filter, topic)        -> the serial
 *     decode     lowi_payload_decode(payload)                  -> a reading
 *     lookup     meter_set_take(meters, serial, t) (+ reset when new)
 *     feed       quarters_feed(meter, t, reading, emit_row)    -> rows
 *   rest         the loop and the counters
 *
 * Stubbed: emit_row (the plugin copies the row into the row queue under a
 * mutex; here the rows are counted), housekeeping() and the clock read (the
 * message time comes from the simulated clock instead).
 *
 * Input, generated before the measured function runs: `readings` readings
 * of `meters` meters (default 200 x 1,000 = 200,000 messages), the ~330-byte
 * payloads of tests/bench/lowi_gen.h, every meter publishing every 10 s
 * with its counters advancing, interleaved in time order, so each meter
 * crosses a quarter boundary every 90 readings.
 *
 *   valgrind --tool=callgrind --collect-atstart=no --toggle-collect=run_messages \
 *            build-bench/percall [meters] [readings]
 *   callgrind_annotate --inclusive=yes callgrind.out.<pid>
 *
 * Every step is a noipa function so that its inclusive count is that
 * step's cost. Without valgrind it also prints ns per message.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "intake.h"
#include "meters.h"
#include "payload.h"
#include "quarter.h"
#include "topic.h"

#include "lowi_gen.h"

#define STEP __attribute__((noinline, noipa))

static const char *const filter = "+/PUB/CH0";

struct stats {
	uint64_t messages, readings, rejected, rows, rows_estimated, import_wh;
	uint64_t by_result[QUARTER_REBASED + 1];
};

static void emit_row(void *ctx, const struct quarter_row *row)
{
	struct stats *s = ctx;
	s->rows++;
	s->rows_estimated += row->estimated;
	s->import_wh += (uint64_t)row->import_wh;
}

STEP static bool step_prefilter(const struct topic_prefilter *pf, const char *topic, size_t *len)
{
	*len = strlen(topic);
	return topic_prefilter_pass(pf, topic, *len);
}

STEP static bool step_push(struct intake *q, const char *topic, size_t topic_len, const char *payload, uint32_t len,
	int64_t t_ms)
{
	return intake_push(q, topic, topic_len, payload, len, LOWI_PAYLOAD_MAX_BYTES, t_ms);
}

STEP static const struct intake_msg *step_next(struct intake *q)
{
	return intake_next(q);
}

STEP static bool step_topic(const struct topic_prefilter *pf, const char *topic, size_t len,
	char serial[LOWI_SERIAL_MAX + 1], bool *bad)
{
	return topic_match_serial_fast(pf, filter, topic, len, serial, bad);
}

STEP static enum lowi_payload_status step_decode(const void *payload, size_t len, struct lowi_reading *r)
{
	struct lowi_payload_error err; /* the plugin passes one too */
	return lowi_payload_decode(payload, len, r, &err);
}

STEP static struct meter *step_lookup(struct meter_set *meters, const char *serial, int64_t t_ms)
{
	bool created;
	struct meter *m = meter_set_take(meters, serial, t_ms, &created);
	if (m != NULL && created)
		quarters_reset(&m->quarters);
	return m;
}

STEP static enum quarter_feed_result step_feed(struct meter *m, int64_t t_ms, const struct lowi_reading *r,
	struct stats *s)
{
	return quarters_feed(&m->quarters, &quarter_default_params, t_ms, r, emit_row, s);
}

struct input {
	size_t n;
	const char **topics;   /* per message, pointing into topic_text */
	const char **payloads;
	uint32_t *lens;
	int64_t *t_ms;
};

STEP void run_messages(const struct input *in, struct intake *q, struct meter_set *meters, struct stats *s)
{
	struct topic_prefilter pf;
	topic_prefilter_init(&pf, filter);
	for (size_t i = 0; i < in->n; i++) {
		size_t topic_len;
		if (!step_prefilter(&pf, in->topics[i], &topic_len))
			continue;
		if (!step_push(q, in->topics[i], topic_len, in->payloads[i], in->lens[i], in->t_ms[i]))
			continue;
		const struct intake_msg *msg = step_next(q);
		char serial[LOWI_SERIAL_MAX + 1];
		bool bad;
		if (msg == NULL || !step_topic(&pf, intake_msg_topic(msg), msg->topic_len, serial, &bad))
			continue;
		s->messages++;
		struct lowi_reading r;
		if (step_decode(intake_msg_payload(msg), msg->payload_len, &r) != LOWI_PAYLOAD_OK) {
			s->rejected++;
			continue;
		}
		struct meter *m = step_lookup(meters, serial, msg->received_ms);
		if (m == NULL)
			continue;
		enum quarter_feed_result res = step_feed(m, msg->received_ms, &r, s);
		s->by_result[res]++;
		if (res != QUARTER_DUPLICATE && res != QUARTER_OUT_OF_ORDER && res != QUARTER_REFUSED_LONG)
			s->readings++;
	}
}

int main(int argc, char **argv)
{
	long meters_n = argc > 1 ? atol(argv[1]) : 1000;
	long readings_n = argc > 2 ? atol(argv[2]) : 200;
	if (meters_n < 1 || readings_n < 1 || meters_n * readings_n > 50000000L) {
		fprintf(stderr, "usage: percall [meters (1000)] [readings per meter (200)]\n");
		return 2;
	}
	struct input in = { .n = (size_t)(meters_n * readings_n) };
	in.topics = malloc(in.n * sizeof(*in.topics));
	in.payloads = malloc(in.n * sizeof(*in.payloads));
	in.lens = malloc(in.n * sizeof(*in.lens));
	in.t_ms = malloc(in.n * sizeof(*in.t_ms));
	char (*topics)[40] = malloc((size_t)meters_n * 40);
	char *text = malloc(in.n * 400);
	if (!in.topics || !in.payloads || !in.lens || !in.t_ms || !topics || !text) {
		fprintf(stderr, "percall: out of memory\n");
		return 2;
	}
	char serial[LOWI_GEN_SERIAL_LEN + 1];
	for (long m = 0; m < meters_n; m++) {
		lowi_gen_serial((uint32_t)m, serial);
		snprintf(topics[m], 40, "%s/PUB/CH0", serial);
	}
	/* 2026-01-05 10:14:00 UTC; meter m publishes at t0 + m * 10 ms + k * 10 s. */
	const int64_t t0_ms = 1767608040000LL;
	size_t off = 0, i = 0;
	for (long k = 0; k < readings_n; k++) {
		for (long m = 0; m < meters_n; m++, i++) {
			int64_t t = t0_ms + k * 10000 + m * (10000 / meters_n > 0 ? 10000 / meters_n : 1);
			lowi_gen_serial((uint32_t)m, serial);
			int len = lowi_gen_payload(text + off, 400, serial, (uint32_t)m, (uint64_t)k, 0, (long long)(t / 1000));
			in.topics[i] = topics[m];
			in.payloads[i] = text + off;
			in.lens[i] = (uint32_t)len;
			in.t_ms[i] = t;
			off += (size_t)len;
		}
	}

	struct meter_set meters;
	meter_set_init(&meters, 200000, (int64_t)90 * 86400 * 1000);
	struct intake q;
	if (intake_init(&q, (size_t)1 << 20) != 0) {
		fprintf(stderr, "percall: out of memory\n");
		return 2;
	}
	struct stats s;
	memset(&s, 0, sizeof(s));
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	run_messages(&in, &q, &meters, &s);
	clock_gettime(CLOCK_MONOTONIC, &b);
	double ns = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / (double)in.n;

	printf("messages=%zu meters=%zu payload_bytes_avg=%.1f readings=%" PRIu64 " rejected=%" PRIu64
		" rows=%" PRIu64 " rows_estimated=%" PRIu64 " first=%" PRIu64 " accepted=%" PRIu64 " duplicate=%" PRIu64
		" out_of_order=%" PRIu64 " discontinuity=%" PRIu64 " ns_per_message=%.1f\n",
		in.n, meter_set_count(&meters), (double)off / (double)in.n, s.readings, s.rejected, s.rows, s.rows_estimated,
		s.by_result[QUARTER_FIRST], s.by_result[QUARTER_ACCEPTED], s.by_result[QUARTER_DUPLICATE],
		s.by_result[QUARTER_OUT_OF_ORDER], s.by_result[QUARTER_DISCONTINUITY], ns);
	meter_set_free(&meters);
	intake_destroy(&q);
	free(text);
	free(topics);
	free(in.topics);
	free(in.payloads);
	free(in.lens);
	free(in.t_ms);
	return s.rejected == 0 && s.readings == in.n ? 0 : 1;
}
