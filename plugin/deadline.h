/*
 * Timed waits on the monotonic clock, so that a wall-clock step neither
 * stretches nor cuts a wait: condition variables made by
 * monotonic_cond_init, deadlines by deadline_after. Any thread.
 */
#ifndef LOWI_DEADLINE_H
#define LOWI_DEADLINE_H

#include <pthread.h>
#include <time.h>

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
