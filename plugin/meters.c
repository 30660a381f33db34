/* Serial-keyed table: dense entries plus a linear-probing index kept under
 * half full; and the aggregator's set of two such tables. See meters.h. */
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

/* Empties index slot `hole` without breaking a probe sequence: later
 * slots of its cluster that may not sit before their home move back
 * (backward-shift deletion for linear probing). */
static void index_delete(struct meters_table *t, size_t hole)
{
	size_t mask = t->index_slots - 1;
	for (size_t j = (hole + 1) & mask; t->index[j].pos1 != 0; j = (j + 1) & mask) {
		size_t home = (size_t)serial_hash(entry_at(t, t->index[j].pos1 - 1)) & mask;
		/* j stays where it is if its home lies cyclically in (hole, j]. */
		bool stays = hole <= j ? hole < home && home <= j : hole < home || home <= j;
		if (stays)
			continue;
		t->index[hole] = t->index[j];
		hole = j;
	}
	t->index[hole].pos1 = 0;
	t->index[hole].tag = 0;
}

bool meters_remove(struct meters_table *t, const char *serial)
{
	if (t->count == 0)
		return false;
	struct meters_index_slot *s = probe(t, serial, serial_hash(serial));
	if (s->pos1 == 0)
		return false;
	size_t pos = s->pos1 - 1, last = t->count - 1;
	index_delete(t, (size_t)(s - t->index));
	if (pos != last) {
		/* The last entry fills the hole; its slot follows it. */
		char *moved = entry_at(t, last);
		struct meters_index_slot *m = probe(t, moved, serial_hash(moved));
		memcpy(entry_at(t, pos), moved, t->entry_size);
		m->pos1 = (uint32_t)(pos + 1);
	}
	t->count--;
	return true;
}

size_t meters_remove_if(struct meters_table *t, bool (*drop)(void *ctx, const void *entry), void *ctx)
{
	size_t removed = 0;
	/* From the end: a removal moves the last entry, already looked at. */
	for (size_t i = t->count; i-- > 0;) {
		char serial[LOWI_SERIAL_MAX + 1];
		if (!drop(ctx, entry_at(t, i)))
			continue;
		memcpy(serial, entry_at(t, i), sizeof(serial));
		removed += meters_remove(t, serial);
	}
	return removed;
}

/* ---- The aggregator's meters ---- */

void meter_set_init(struct meter_set *s, size_t max_meters, int64_t silence_ms)
{
	meters_init(&s->heard, sizeof(struct meter), max_meters);
	meters_init(&s->resumed, sizeof(struct meter), max_meters);
	s->silence_ms = silence_ms;
	s->next_sweep_ms = 0;
	s->dropped = NULL;
	s->dropped_ctx = NULL;
}

void meter_set_free(struct meter_set *s)
{
	meters_free(&s->heard);
	meters_free(&s->resumed);
}

struct meter *meter_set_resume(struct meter_set *s, const char *serial)
{
	bool created;
	return meters_get(&s->resumed, serial, &created);
}

struct silence {
	const struct meter_set *set;
	int64_t heard_after;
};

static bool silent_before(void *ctx, const void *entry)
{
	const struct silence *si = ctx;
	const struct meter *m = entry;
	if (m->quarters.last_ms >= si->heard_after)
		return false;
	if (si->set->dropped != NULL)
		si->set->dropped(si->set->dropped_ctx, m);
	return true;
}

size_t meter_set_drop_silent(struct meter_set *s, int64_t now_ms)
{
	if (s->silence_ms <= 0)
		return 0;
	struct silence si = { s, now_ms - s->silence_ms };
	return meters_remove_if(&s->heard, silent_before, &si)
		+ meters_remove_if(&s->resumed, silent_before, &si);
}

struct meter *meter_set_take(struct meter_set *s, const char *serial, int64_t now_ms, bool *created)
{
	if (now_ms >= s->next_sweep_ms) {
		meter_set_drop_silent(s, now_ms);
		s->next_sweep_ms = now_ms + METER_SWEEP_MS;
	}
	*created = false;
	struct meter *m = meters_find(&s->heard, serial);
	if (m != NULL)
		return m;
	const struct meter *back = s->resumed.count ? meters_find(&s->resumed, serial) : NULL;
	m = meters_get(&s->heard, serial, created);
	if (m == NULL || back == NULL)
		return m;
	/* Back after the restart: it takes its slot now, with its state. */
	*created = false;
	m->quarters = back->quarters;
	m->capacity = back->capacity;
	meters_remove(&s->resumed, serial);
	return m;
}

size_t meter_set_count(const struct meter_set *s)
{
	return s->heard.count + s->resumed.count;
}

const struct meter *meter_set_slot(const struct meter_set *s, size_t i)
{
	return i < s->heard.count ? meters_slot(&s->heard, i) : meters_slot(&s->resumed, i - s->heard.count);
}
