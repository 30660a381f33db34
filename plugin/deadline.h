/*
 * The plugin's clocks. Timed waits run on the monotonic clock, so that a
 * wall-clock step neither stretches nor cuts a wait: condition variables
 * made by monotonic_cond_init, deadlines by deadline_after. Instants that
 * mean a time of day (a reading's receive time, a request's) come from
 * wall_clock_ms. Any thread.
 */
#ifndef LOWI_DEADLINE_H
#define LOWI_DEADLINE_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

/* UTC epoch milliseconds. */
static inline int64_t wall_clock_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* pthread_cond_init on CLOCK_MONOTONIC; returns its result. */
static inline int monotonic_cond_init(pthread_cond_t *cv)
{
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	int rc = pthread_cond_init(cv, &attr);
	pthread_condattr_destroy(&attr);
	return rc;
}

static inline struct timespec deadline_after(int timeout_ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

#endif
