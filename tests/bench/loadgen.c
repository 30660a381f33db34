/*
 * MQTT load generator for the broker throughput benchmark (tests/bench/run.sh).
 *
 * One subscriber connection counts what it receives; N publisher threads,
 * each with its own connection, publish realistic LOWI CH0 payloads
 * (tests/bench/lowi_gen.h) as fast as the broker takes them, for a bounded
 * count and a bounded time. Each publisher owns the meters i with
 * i % N == its index and cycles through them, so every meter's readings come
 * in order on one connection with advancing counters.
 *
 * Publishers drive their own connection (no libmosquitto loop thread): a
 * publish is written to the socket at once; when `window` publishes are not
 * yet written (QoS 0) or not yet acknowledged (QoS 1), the thread runs the
 * network loop until some are. TCP back-pressure from the broker is what
 * limits the rate.
 *
 * Output, one line:
 *   sent=N received=N lost=N elapsed_s=X msg_per_s=Y publish_s=Z payload_bytes=B
 * elapsed_s runs from the start of publishing to the last message received.
 * Exit status 0 when received == sent, 1 when messages were lost, 2 on error.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mosquitto.h>

#include "lowi_gen.h"

/* The longest MQTT keepalive: a broker on an accelerated clock (x600)
 * must not take the silent subscriber for dead during a run. */
#define KEEPALIVE_S 65535

static struct {
	const char *host;
	int port;
	int pubs;
	long count;        /* messages per publisher */
	double max_s;      /* publishing stops after this many seconds */
	int qos;
	long serials;
	bool other;        /* unrelated topics instead of <serial>/PUB/CH0 */
	int window;
	unsigned long long base_wh;
	double drain_s;    /* wait this long without a message before giving up */
} opt = { "127.0.0.1", 1883, 4, 100000, 60.0, 0, 10000, false, 500, 0, 5.0 };

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "loadgen: %s: %s\n", what, rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
	exit(2);
}

/* ------------------------------------------------------------ subscriber */

static atomic_long received;
static _Atomic double last_rx; /* monotonic seconds of the last message */
static atomic_int sub_ready;

static void sub_on_connect(struct mosquitto *m, void *ud, int rc)
{
	(void)ud;
	if (rc != 0) {
		fprintf(stderr, "loadgen: subscriber refused: %s\n", mosquitto_connack_string(rc));
		exit(2);
	}
	const char *filter = opt.other ? "bench/+/p1" : "+/PUB/CH0";
	mosquitto_subscribe(m, NULL, filter, opt.qos);
}

static void sub_on_subscribe(struct mosquitto *m, void *ud, int mid, int n, const int *granted)
{
	(void)m; (void)ud; (void)mid;
	if (n < 1 || granted[0] != opt.qos) {
		fprintf(stderr, "loadgen: subscription not granted at QoS %d\n", opt.qos);
		exit(2);
	}
	atomic_store(&sub_ready, 1);
}

static void sub_on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg)
{
	(void)m; (void)ud;
	if (msg->retain)
		return; /* retained leftovers are not this run's traffic */
	atomic_fetch_add(&received, 1);
	atomic_store(&last_rx, now_s());
}

/* ------------------------------------------------------------ publishers */

struct publisher {
	int index;
	pthread_t thread;
	struct mosquitto *mosq;
	long issued;
	long done;            /* written (QoS 0) or acknowledged (QoS 1) */
	bool connected;
	double end;
};

static pthread_barrier_t start_barrier;
static double t_start;
static atomic_long sent_total;

static void pub_on_connect(struct mosquitto *m, void *ud, int rc)
{
	(void)m;
	struct publisher *p = ud;
	if (rc != 0) {
		fprintf(stderr, "loadgen: publisher refused: %s\n", mosquitto_connack_string(rc));
		exit(2);
	}
	p->connected = true;
}

static void pub_on_publish(struct mosquitto *m, void *ud, int mid)
{
	(void)m; (void)mid;
	((struct publisher *)ud)->done++;
}

static void pump(struct publisher *p, int timeout_ms)
{
	int rc = mosquitto_loop(p->mosq, timeout_ms, 1);
	if (rc != MOSQ_ERR_SUCCESS)
		die("publisher connection", rc);
}

static void *publisher_main(void *arg)
{
	struct publisher *p = arg;
	long meters = (opt.serials - p->index + opt.pubs - 1) / opt.pubs; /* meters i = index + k * pubs */
	uint64_t *readings = calloc((size_t)(meters > 0 ? meters : 1), sizeof(uint64_t));
	char (*topics)[64] = calloc((size_t)(meters > 0 ? meters : 1), 64);
	char (*serials)[LOWI_GEN_SERIAL_LEN + 1] = calloc((size_t)(meters > 0 ? meters : 1), LOWI_GEN_SERIAL_LEN + 1);
	if (readings == NULL || topics == NULL || serials == NULL || meters <= 0) {
		fprintf(stderr, "loadgen: out of memory or fewer serials than publishers\n");
		exit(2);
	}
	for (long k = 0; k < meters; k++) {
		lowi_gen_serial((uint32_t)(p->index + k * opt.pubs), serials[k]);
		snprintf(topics[k], 64, opt.other ? "bench/%s/p1" : "%s/PUB/CH0", serials[k]);
	}
	while (!p->connected)
		pump(p, 100);
	pthread_barrier_wait(&start_barrier);

	char payload[512];
	double deadline = t_start + opt.max_s;
	long k = 0;
	for (long i = 0; i < opt.count; i++) {
		while (p->issued - p->done >= opt.window)
			pump(p, 10);
		if ((i & 255) == 0 && now_s() > deadline)
			break;
		uint32_t meter = (uint32_t)(p->index + k * opt.pubs);
		int len = lowi_gen_payload(payload, sizeof(payload), serials[k], meter, readings[k]++, opt.base_wh,
			(long long)time(NULL));
		int rc = mosquitto_publish(p->mosq, NULL, topics[k], len, payload, opt.qos, false);
		if (rc != MOSQ_ERR_SUCCESS)
			die("publish", rc);
		p->issued++;
		if (++k == meters)
			k = 0;
	}
	while (p->done < p->issued)
		pump(p, 10);
	p->end = now_s();
	atomic_fetch_add(&sent_total, p->issued);
	free(readings);
	free(topics);
	free(serials);
	return NULL;
}

static void usage(void)
{
	fputs("usage: loadgen [--host H] [--port P] [--pubs N] [--count N per publisher] [--max-seconds S]\n"
	      "               [--qos 0|1] [--serials N] [--other-topics] [--window N] [--base-wh N] [--drain S]\n", stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "host", required_argument, NULL, 'h' }, { "port", required_argument, NULL, 'p' },
		{ "pubs", required_argument, NULL, 'n' }, { "count", required_argument, NULL, 'c' },
		{ "max-seconds", required_argument, NULL, 't' }, { "qos", required_argument, NULL, 'q' },
		{ "serials", required_argument, NULL, 's' }, { "other-topics", no_argument, NULL, 'o' },
		{ "window", required_argument, NULL, 'w' }, { "base-wh", required_argument, NULL, 'b' },
		{ "drain", required_argument, NULL, 'd' }, { "help", no_argument, NULL, '?' }, { 0, 0, 0, 0 } };
	int c;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'h': opt.host = optarg; break;
		case 'p': opt.port = atoi(optarg); break;
		case 'n': opt.pubs = atoi(optarg); break;
		case 'c': opt.count = atol(optarg); break;
		case 't': opt.max_s = atof(optarg); break;
		case 'q': opt.qos = atoi(optarg); break;
		case 's': opt.serials = atol(optarg); break;
		case 'o': opt.other = true; break;
		case 'w': opt.window = atoi(optarg); break;
		case 'b': opt.base_wh = strtoull(optarg, NULL, 10); break;
		case 'd': opt.drain_s = atof(optarg); break;
		default: usage();
		}
	}
	if (opt.pubs < 1 || opt.pubs > 64 || opt.count < 1 || (opt.qos != 0 && opt.qos != 1) || opt.serials < opt.pubs
		|| opt.window < 1 || opt.max_s <= 0)
		usage();

	mosquitto_lib_init();
	char id[64];
	snprintf(id, sizeof(id), "bench-sub-%ld", (long)getpid());
	struct mosquitto *sub = mosquitto_new(id, true, NULL);
	if (sub == NULL)
		die("mosquitto_new", MOSQ_ERR_NOMEM);
	mosquitto_connect_callback_set(sub, sub_on_connect);
	mosquitto_subscribe_callback_set(sub, sub_on_subscribe);
	mosquitto_message_callback_set(sub, sub_on_message);
	int rc = mosquitto_connect(sub, opt.host, opt.port, KEEPALIVE_S);
	if (rc != MOSQ_ERR_SUCCESS)
		die("subscriber connect", rc);
	if ((rc = mosquitto_loop_start(sub)) != MOSQ_ERR_SUCCESS)
		die("subscriber loop", rc);
	double t_wait = now_s();
	while (!atomic_load(&sub_ready)) {
		if (now_s() - t_wait > 10) {
			fprintf(stderr, "loadgen: no SUBACK within 10 s\n");
			return 2;
		}
		usleep(1000);
	}

	struct publisher *pubs = calloc((size_t)opt.pubs, sizeof(*pubs));
	pthread_barrier_init(&start_barrier, NULL, (unsigned)opt.pubs + 1);
	for (int i = 0; i < opt.pubs; i++) {
		struct publisher *p = &pubs[i];
		p->index = i;
		snprintf(id, sizeof(id), "bench-pub-%ld-%d", (long)getpid(), i);
		p->mosq = mosquitto_new(id, true, p);
		if (p->mosq == NULL)
			die("mosquitto_new", MOSQ_ERR_NOMEM);
		mosquitto_int_option(p->mosq, MOSQ_OPT_SEND_MAXIMUM, opt.window);
		mosquitto_connect_callback_set(p->mosq, pub_on_connect);
		mosquitto_publish_callback_set(p->mosq, pub_on_publish);
		if ((rc = mosquitto_connect(p->mosq, opt.host, opt.port, KEEPALIVE_S)) != MOSQ_ERR_SUCCESS)
			die("publisher connect", rc);
	}
	t_start = now_s() + 0.001; /* set before the barrier releases the publishers */
	for (int i = 0; i < opt.pubs; i++)
		pthread_create(&pubs[i].thread, NULL, publisher_main, &pubs[i]);
	pthread_barrier_wait(&start_barrier);
	t_start = now_s();
	atomic_store(&last_rx, t_start);
	double pub_end = t_start;
	for (int i = 0; i < opt.pubs; i++) {
		pthread_join(pubs[i].thread, NULL);
		if (pubs[i].end > pub_end)
			pub_end = pubs[i].end;
	}
	long sent = atomic_load(&sent_total);
	/* Drain: until everything arrived, or no message for drain_s seconds. */
	while (atomic_load(&received) < sent && now_s() - atomic_load(&last_rx) < opt.drain_s
		&& now_s() - pub_end < opt.drain_s + 60)
		usleep(2000);
	long got = atomic_load(&received);
	double elapsed = atomic_load(&last_rx) - t_start;
	char probe[512];
	int plen = lowi_gen_payload(probe, sizeof(probe), "4c7500000000", 0, 0, opt.base_wh, (long long)time(NULL));
	printf("sent=%ld received=%ld lost=%ld elapsed_s=%.4f msg_per_s=%.1f publish_s=%.4f payload_bytes=%d\n",
		sent, got, sent - got, elapsed, elapsed > 0 ? got / elapsed : 0.0, pub_end - t_start, plen);
	fflush(stdout);

	for (int i = 0; i < opt.pubs; i++) {
		mosquitto_disconnect(pubs[i].mosq);
		mosquitto_destroy(pubs[i].mosq);
	}
	mosquitto_disconnect(sub);
	mosquitto_loop_stop(sub, false);
	mosquitto_destroy(sub);
	mosquitto_lib_cleanup();
	free(pubs);
	return got == sent ? 0 : 1;
}
