/* Serial -> meter hash table (linear probing, load kept under 1/2); see meters.h. */
#include "meters.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void meter_table_init(struct meter_table *t, size_t max_meters)
{
	memset(t, 0, sizeof(*t));
	t->max_meters = max_meters;
}

void meter_table_free(struct meter_table *t)
{
	free(t->slots);
	meter_table_init(t, t->max_meters);
}

static uint64_t serial_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static struct meter *probe(struct meter *slots, size_t capacity, const char *serial)
{
	size_t i = (size_t)serial_hash(serial) & (capacity - 1);
	while (slots[i].serial[0] != '\0' && strcmp(slots[i].serial, serial) != 0)
		i = (i + 1) & (capacity - 1);
	return &slots[i];
}

static int grow(struct meter_table *t)
{
	size_t capacity = t->capacity ? t->capacity * 2 : 16;
	struct meter *slots = calloc(capacity, sizeof(*slots));
	if (slots == NULL)
		return -1;
	for (size_t i = 0; i < t->capacity; i++)
		if (t->slots[i].serial[0] != '\0')
			*probe(slots, capacity, t->slots[i].serial) = t->slots[i];
	free(t->slots);
	t->slots = slots;
	t->capacity = capacity;
	return 0;
}

struct meter *meter_table_get(struct meter_table *t, const char *serial)
{
	if (t->capacity) {
		struct meter *m = probe(t->slots, t->capacity, serial);
		if (m->serial[0] != '\0')
			return m;
	}
	if (t->count >= t->max_meters)
		return NULL;
	if ((t->count + 1) * 2 > t->capacity && grow(t) != 0)
		return NULL;
	struct meter *m = probe(t->slots, t->capacity, serial);
	strcpy(m->serial, serial);
	quarters_reset(&m->quarters);
	t->count++;
	return m;
}
