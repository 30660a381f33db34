/* The broker-to-aggregator intake: order and content across chunk
 * boundaries, the memory cap, oversize payloads, and one producer thread
 * racing one consumer thread that sleeps whenever the queue is empty: the
 * producer never pauses, so a wait that runs to its 10 s timeout is a lost
 * wake-up. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "intake.h"

#define MAX_PAYLOAD 4096

/* Deterministic message i: topic "m<i%97>/PUB/CH0", payload of i%700 bytes. */
static size_t make(uint64_t i, char *topic, unsigned char *payload)
{
	sprintf(topic, "m%llu/PUB/CH0", (unsigned long long)(i % 97));
	size_t len = (size_t)(i % 700);
	for (size_t k = 0; k < len; k++)
		payload[k] = (unsigned char)(i * 31 + k);
	return len;
}

static int same(const struct intake_msg *m, uint64_t i)
{
	char topic[64];
	unsigned char payload[1024];
	size_t len = make(i, topic, payload);
	return m->received_ms == (int64_t)i && m->payload_len == len && m->stored_len == len
		&& strcmp(intake_msg_topic(m), topic) == 0 && memcmp(intake_msg_payload(m), payload, len) == 0;
}

static bool push(struct intake *q, uint64_t i)
{
	char topic[64];
	unsigned char payload[1024];
	size_t len = make(i, topic, payload);
	return intake_push(q, topic, strlen(topic), payload, (uint32_t)len, MAX_PAYLOAD, (int64_t)i);
}

#define RACE_MESSAGES 2000000

static void *producer(void *arg)
{
	struct intake *q = arg;
	uint64_t refused = 0;
	for (uint64_t i = 0; i < RACE_MESSAGES; i++) {
		while (!push(q, i))
			refused++; /* cap reached: the consumer frees chunks */
	}
	intake_stop(q);
	return (void *)(uintptr_t)refused;
}

int main(void)
{
	struct intake q;
	CHECK(intake_init(&q, 1 << 20) == 0, "init");
	/* Interleaved pushes and takes over many chunks. */
	uint64_t next_push = 0, next_take = 0, bad = 0;
	for (int round = 0; round < 200; round++) {
		for (int k = 0; k < 300; k++)
			if (push(&q, next_push))
				next_push++;
		const struct intake_msg *m;
		int takes = round % 3 == 0 ? 100 : 1000;
		while (takes-- > 0 && (m = intake_next(&q)) != NULL)
			bad += !same(m, next_take++);
	}
	const struct intake_msg *m;
	while ((m = intake_next(&q)) != NULL)
		bad += !same(m, next_take++);
	CHECK(bad == 0 && next_take == next_push && next_push == 60000, "order and content: %llu taken of %llu, %llu differ",
		(unsigned long long)next_take, (unsigned long long)next_push, (unsigned long long)bad);
	CHECK(atomic_load(&q.chunks) <= 2, "emptied chunks are given back: %zu held", atomic_load(&q.chunks));

	/* The cap: 1 MiB is 16 chunks; the 17th is refused until one is read. */
	uint64_t pushed = 0;
	while (push(&q, pushed))
		pushed++;
	CHECK(atomic_load(&q.chunks) == 16 && pushed > 1000, "cap holds: %zu chunks, %llu messages", atomic_load(&q.chunks),
		(unsigned long long)pushed);
	for (int k = 0; k < 2000 && intake_next(&q) != NULL; k++)
		;
	CHECK(push(&q, pushed), "room again once the consumer moved on");
	while (intake_next(&q) != NULL)
		;

	/* Oversize payloads keep only their length; a long topic is cut, flagged. */
	static unsigned char big[70000];
	char long_topic[2000];
	memset(long_topic, 'a', sizeof(long_topic) - 1);
	long_topic[sizeof(long_topic) - 1] = '\0';
	CHECK(intake_push(&q, "x/PUB/CH0", 9, big, sizeof(big), MAX_PAYLOAD, 1)
		&& intake_push(&q, long_topic, strlen(long_topic), "{}", 2, MAX_PAYLOAD, 2), "odd messages queued");
	m = intake_next(&q);
	CHECK(m && m->payload_len == sizeof(big) && m->stored_len == 0 && !m->topic_cut, "oversize payload: length only");
	m = intake_next(&q);
	CHECK(m && m->topic_cut && m->topic_len == INTAKE_TOPIC_MAX && m->stored_len == 2, "long topic cut and flagged");
	CHECK(intake_next(&q) == NULL, "empty");
	intake_destroy(&q);

	/* The race: a small cap so the producer also meets a full queue. */
	CHECK(intake_init(&q, 256 * 1024) == 0, "init");
	pthread_t t;
	pthread_create(&t, NULL, producer, &q);
	uint64_t taken = 0, wrong = 0, waits = 0;
	double longest_wait_s = 0;
	for (;;) {
		while ((m = intake_next(&q)) != NULL)
			wrong += !same(m, taken++);
		if (intake_stopping(&q)) {
			while ((m = intake_next(&q)) != NULL)
				wrong += !same(m, taken++);
			break;
		}
		struct timespec a, b;
		clock_gettime(CLOCK_MONOTONIC, &a);
		intake_wait(&q, 10000);
		clock_gettime(CLOCK_MONOTONIC, &b);
		double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
		if (s > longest_wait_s)
			longest_wait_s = s;
		waits++;
	}
	void *refused;
	pthread_join(t, &refused);
	CHECK(taken == RACE_MESSAGES && wrong == 0, "race: %llu of %d taken, %llu differ (%llu waits, producer refused %llu times)",
		(unsigned long long)taken, RACE_MESSAGES, (unsigned long long)wrong, (unsigned long long)waits,
		(unsigned long long)(uintptr_t)refused);
	printf("intake race: %llu messages, %llu waits, longest %.3f s, producer found the queue full %llu times\n",
		(unsigned long long)taken, (unsigned long long)waits, longest_wait_s, (unsigned long long)(uintptr_t)refused);
	CHECK(longest_wait_s < 5, "no lost wake-up: longest wait %.3f s of %llu", longest_wait_s, (unsigned long long)waits);
	intake_destroy(&q);
	return check_finish("intake");
}
