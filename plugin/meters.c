/* Serial-keyed table: dense entries plus a linear-probing index kept under
 * half full; see meters.h. */
#include "meters.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* One index slot: the high half of the serial's hash, so that most probes
 * that miss are settled without touching the entry, and the entry's
 * position plus one (0 marks a free slot). */
struct meters_index_slot {
	uint32_t tag;
	uint32_t pos1;
};

/* Positions are stored in 32 bits. */
#define POSITION_LIMIT ((size_t)UINT32_MAX - 1)

void meters_init(struct meters_table *t, size_t entry_size, size_t max_entries)
{
	memset(t, 0, sizeof(*t));
	t->entry_size = entry_size;
	t->max_entries = max_entries < POSITION_LIMIT ? max_entries : POSITION_LIMIT;
}

void meters_free(struct meters_table *t)
{
	free(t->entries);
	free(t->index);
	meters_init(t, t->entry_size, t->max_entries);
}

static uint64_t serial_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static char *entry_at(const struct meters_table *t, size_t pos)
{
	return (char *)t->entries + pos * t->entry_size;
}

/* The slot holding serial, or the free slot where it belongs. */
static struct meters_index_slot *probe(const struct meters_table *t, const char *serial, uint64_t h)
{
	size_t mask = t->index_slots - 1, i = (size_t)h & mask;
	uint32_t tag = (uint32_t)(h >> 32);
	for (;;) {
		struct meters_index_slot *s = &t->index[i];
		if (s->pos1 == 0 || (s->tag == tag && strcmp(entry_at(t, s->pos1 - 1), serial) == 0))
			return s;
		i = (i + 1) & mask;
	}
}

static int grow_index(struct meters_table *t)
{
	size_t slots = t->index_slots ? t->index_slots * 2 : 32;
	struct meters_index_slot *index = calloc(slots, sizeof(*index));
	if (index == NULL)
		return -1;
	free(t->index);
	t->index = index;
	t->index_slots = slots;
	for (size_t pos = 0; pos < t->count; pos++) {
		const char *serial = entry_at(t, pos);
		uint64_t h = serial_hash(serial);
		struct meters_index_slot *s = probe(t, serial, h);
		s->tag = (uint32_t)(h >> 32);
		s->pos1 = (uint32_t)(pos + 1);
	}
	return 0;
}

static int grow_entries(struct meters_table *t)
{
	size_t capacity = t->capacity ? t->capacity * 2 : 16;
	if (capacity > t->max_entries)
		capacity = t->max_entries;
	unsigned char *entries = realloc(t->entries, capacity * t->entry_size);
	if (entries == NULL)
		return -1;
	t->entries = entries;
	t->capacity = capacity;
	return 0;
}

void *meters_find(const struct meters_table *t, const char *serial)
{
	if (t->count == 0)
		return NULL;
	const struct meters_index_slot *s = probe(t, serial, serial_hash(serial));
	return s->pos1 ? entry_at(t, s->pos1 - 1) : NULL;
}

void *meters_get(struct meters_table *t, const char *serial, bool *created)
{
	*created = false;
	uint64_t h = serial_hash(serial);
	if (t->count) {
		struct meters_index_slot *s = probe(t, serial, h);
		if (s->pos1)
			return entry_at(t, s->pos1 - 1);
	}
	if (t->count >= t->max_entries)
		return NULL;
	if (t->count == t->capacity && grow_entries(t) != 0)
		return NULL;
	if ((t->count + 1) * 2 > t->index_slots && grow_index(t) != 0)
		return NULL;
	struct meters_index_slot *s = probe(t, serial, h);
	char *e = entry_at(t, t->count);
	memset(e, 0, t->entry_size);
	strcpy(e, serial);
	s->tag = (uint32_t)(h >> 32);
	s->pos1 = (uint32_t)(t->count + 1);
	t->count++;
	*created = true;
	return e;
}

void *meters_slot(const struct meters_table *t, size_t i)
{
	return i < t->count ? entry_at(t, i) : NULL;
}
