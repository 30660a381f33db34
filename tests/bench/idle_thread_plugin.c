/*
 * A do-nothing mosquitto 2.0 plugin for the brokercost benchmark
 * (tests/bench/bench.py): it registers no callback and only starts one
 * thread that sleeps until the broker stops, like lowi-p1's idle writer
 * thread. Against the bare broker it measures what merely having a second
 * thread in the broker process costs per message (glibc takes its
 * multi-threaded paths in malloc and around every read/write once a
 * process has started a thread).
 */
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

static pthread_t thread;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static bool stopping;

static void *idle_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	while (!stopping)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	return NULL;
}

int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
	for (int i = 0; i < supported_version_count; i++)
		if (supported_versions[i] == 5)
			return 5;
	return -1;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata, struct mosquitto_opt *options,
	int option_count)
{
	(void)identifier;
	(void)options;
	(void)option_count;
	*userdata = NULL;
	return pthread_create(&thread, NULL, idle_main, NULL) == 0 ? MOSQ_ERR_SUCCESS : MOSQ_ERR_UNKNOWN;
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options, int option_count)
{
	(void)userdata;
	(void)options;
	(void)option_count;
	pthread_mutex_lock(&mu);
	stopping = true;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
	pthread_join(thread, NULL);
	return MOSQ_ERR_SUCCESS;
}
