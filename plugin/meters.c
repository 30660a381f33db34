/* Serial-keyed hash table (linear probing, load kept under 1/2); see meters.h. */
#include "meters.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void serial_map_init(struct serial_map *t, size_t entry_size, size_t max_entries)
{
	memset(t, 0, sizeof(*t));
	t->entry_size = entry_size;
	t->max_entries = max_entries;
}

void serial_map_free(struct serial_map *t)
{
	free(t->slots);
	serial_map_init(t, t->entry_size, t->max_entries);
}

static uint64_t serial_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static char *probe(unsigned char *slots, size_t entry_size, size_t capacity, const char *serial)
{
	size_t i = (size_t)serial_hash(serial) & (capacity - 1);
	for (;;) {
		char *e = (char *)slots + i * entry_size;
		if (e[0] == '\0' || strcmp(e, serial) == 0)
			return e;
		i = (i + 1) & (capacity - 1);
	}
}

static int grow(struct serial_map *t)
{
	size_t capacity = t->capacity ? t->capacity * 2 : 16;
	unsigned char *slots = calloc(capacity, t->entry_size);
	if (slots == NULL)
		return -1;
	for (size_t i = 0; i < t->capacity; i++) {
		char *e = (char *)t->slots + i * t->entry_size;
		if (e[0] != '\0')
			memcpy(probe(slots, t->entry_size, capacity, e), e, t->entry_size);
	}
	free(t->slots);
	t->slots = slots;
	t->capacity = capacity;
	return 0;
}

void *serial_map_get(struct serial_map *t, const char *serial, bool *created)
{
	*created = false;
	if (t->capacity) {
		char *e = probe(t->slots, t->entry_size, t->capacity, serial);
		if (e[0] != '\0')
			return e;
	}
	if (t->count >= t->max_entries)
		return NULL;
	if ((t->count + 1) * 2 > t->capacity && grow(t) != 0)
		return NULL;
	char *e = probe(t->slots, t->entry_size, t->capacity, serial);
	memset(e, 0, t->entry_size);
	strcpy(e, serial);
	t->count++;
	*created = true;
	return e;
}

void *serial_map_slot(const struct serial_map *t, size_t i)
{
	char *e = (char *)t->slots + i * t->entry_size;
	return i < t->capacity && e[0] != '\0' ? e : NULL;
}
