/* Pics peaks from the writer thread to the aggregator; see peak_history.h. */
#include "peak_history.h"

#include <stdlib.h>

int peak_history_init(struct peak_history *h)
{
	h->head = h->tail = NULL;
	atomic_init(&h->pending, false);
	atomic_init(&h->complete, false);
	return pthread_mutex_init(&h->mu, NULL) == 0 ? 0 : -1;
}

void peak_history_free_batch(struct peak_batch *b)
{
	while (b != NULL) {
		struct peak_batch *next = b->next;
		free(b);
		b = next;
	}
}

void peak_history_destroy(struct peak_history *h)
{
	peak_history_free_batch(h->head);
	h->head = h->tail = NULL;
	pthread_mutex_destroy(&h->mu);
}

struct peak_batch *peak_history_new_batch(void)
{
	struct peak_batch *b = malloc(sizeof(*b) + PEAK_BATCH_RECORDS * sizeof(struct peak_record));
	if (b != NULL) {
		b->next = NULL;
		b->count = 0;
	}
	return b;
}

void peak_history_hand_over(struct peak_history *h, struct peak_batch *b)
{
	if (b == NULL)
		return;
	if (b->count == 0) {
		free(b);
		return;
	}
	b->next = NULL;
	pthread_mutex_lock(&h->mu);
	if (h->tail != NULL)
		h->tail->next = b;
	else
		h->head = b;
	h->tail = b;
	atomic_store(&h->pending, true);
	pthread_mutex_unlock(&h->mu);
}

void peak_history_set_complete(struct peak_history *h)
{
	atomic_store(&h->complete, true);
}

struct peak_batch *peak_history_take(struct peak_history *h)
{
	if (!atomic_load_explicit(&h->pending, memory_order_acquire))
		return NULL;
	pthread_mutex_lock(&h->mu);
	struct peak_batch *b = h->head;
	h->head = h->tail = NULL;
	atomic_store(&h->pending, false);
	pthread_mutex_unlock(&h->mu);
	return b;
}

bool peak_history_complete(const struct peak_history *h)
{
	return atomic_load(&h->complete);
}
