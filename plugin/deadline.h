/*
 * Absolute CLOCK_MONOTONIC deadlines for pthread_cond_timedwait on
 * condition variables created with pthread_condattr_setclock(CLOCK_MONOTONIC)
 * (a wall-clock step must not stretch or cut a wait). Any thread.
 */
#ifndef LOWI_DEADLINE_H
#define LOWI_DEADLINE_H

#include <time.h>

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
