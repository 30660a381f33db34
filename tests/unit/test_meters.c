/* The serial-keyed table: lookups, insertion order, growth and its bound,
 * removal; and the aggregator's meter set: resumed meters that hold no
 * max_meters slot until they publish, and eviction by silence. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "meters.h"

struct entry {
	char serial[LOWI_SERIAL_MAX + 1];
	long value;
};

static void serial_of(long i, char *out)
{
	snprintf(out, LOWI_SERIAL_MAX + 1, "M%09ld", i * 7919);
}

static bool every_third(void *ctx, const void *entry)
{
	(void)ctx;
	return ((const struct entry *)entry)->value % 3 == 0;
}

/* Removal keeps every other entry findable, whatever cluster of the index
 * it sat in (backward-shift deletion), and frees room under the bound. */
static void removal(void)
{
	struct meters_table t;
	char serial[LOWI_SERIAL_MAX + 1];
	bool created;
	const long n = 20000;
	meters_init(&t, sizeof(struct entry), (size_t)n);
	for (long i = 0; i < n; i++) {
		serial_of(i, serial);
		((struct entry *)meters_get(&t, serial, &created))->value = i;
	}
	serial_of(7, serial);
	CHECK(meters_remove(&t, serial) && !meters_remove(&t, serial) && meters_find(&t, serial) == NULL,
		"one removal, then absent");
	CHECK(meters_get(&t, serial, &created) != NULL && created, "room again under the bound");
	((struct entry *)meters_find(&t, serial))->value = 7;
	size_t removed = meters_remove_if(&t, every_third, NULL);
	CHECK(removed == (size_t)(n + 2) / 3 && t.count == (size_t)n - removed, "%zu removed, %zu left", removed, t.count);
	long bad = 0;
	for (long i = 0; i < n; i++) {
		serial_of(i, serial);
		const struct entry *e = meters_find(&t, serial);
		if (i % 3 == 0 ? e != NULL : e == NULL || e->value != i)
			bad++;
	}
	for (size_t i = 0; i < t.count; i++) {
		const struct entry *e = meters_slot(&t, i);
		if (e->value % 3 == 0 || meters_find(&t, e->serial) != e)
			bad++;
	}
	CHECK(bad == 0, "%ld entries wrong after removals", bad);
	for (long i = 0; i < n; i += 3) {
		serial_of(i, serial);
		struct entry *e = meters_get(&t, serial, &created);
		if (e == NULL || !created)
			bad++;
	}
	CHECK(bad == 0 && t.count == (size_t)n, "removed serials come back: %ld wrong, %zu entries", bad, t.count);
	meters_free(&t);
}

#define DAY_MS ((int64_t)86400 * 1000)

/* A meter of the set as a reading would leave it. */
static void heard_at(struct meter *m, int64_t t_ms)
{
	quarters_reset(&m->quarters);
	m->quarters.last_ms = t_ms;
}

static void meter_set(void)
{
	const int64_t t0 = 1767225600000LL;
	struct meter_set s;
	bool created;
	meter_set_init(&s, 2, 90 * DAY_MS);

	/* Resumed from the spool (journaled junk, say): no slot taken. */
	CHECK(meter_set_resume(&s, "JUNK1") && meter_set_resume(&s, "JUNK2"), "two meters resumed");
	CHECK(meter_set_resume(&s, "JUNK3") == NULL, "resumed meters are bounded by max_meters too");
	heard_at(meter_set_resume(&s, "JUNK1"), t0 - DAY_MS);
	heard_at(meter_set_resume(&s, "JUNK2"), t0 - 2 * DAY_MS);
	struct meter *m = meter_set_take(&s, "REAL1", t0, &created);
	CHECK(m && created && s.heard.count == 1 && meter_set_count(&s) == 3, "a new real meter is taken though %zu are resumed",
		s.resumed.count);
	heard_at(m, t0);

	/* A resumed meter that publishes again takes its slot, with its state. */
	m = meter_set_take(&s, "JUNK1", t0 + 1000, &created);
	CHECK(m && !created && m->quarters.last_ms == t0 - DAY_MS && s.heard.count == 2 && s.resumed.count == 1,
		"resumed meter moved with its state");
	heard_at(m, t0 + 1000);
	CHECK(meter_set_take(&s, "REAL2", t0 + 2000, &created) == NULL, "max_meters heard: a new meter is refused");
	CHECK(meter_set_take(&s, "JUNK2", t0 + 2000, &created) == NULL && s.resumed.count == 1,
		"and so is a resumed one, which stays resumed");
	CHECK(meter_set_take(&s, "REAL1", t0 + 3000, &created) != NULL && !created, "a heard meter is still found");
	size_t n = 0;
	for (; meter_set_slot(&s, n) != NULL; n++)
		;
	CHECK(n == 3 && strcmp(meter_set_slot(&s, 2)->serial, "JUNK2") == 0, "slots: heard, then resumed (%zu)", n);

	/* Silent past the limit: dropped by the hourly sweep, from both tables. */
	CHECK(meter_set_take(&s, "REAL2", t0 + 88 * DAY_MS, &created) == NULL && meter_set_count(&s) == 3,
		"88 days after the last reading (90 for the oldest): still there");
	m = meter_set_take(&s, "REAL2", t0 + 91 * DAY_MS, &created);
	CHECK(m && created && meter_set_count(&s) == 1 && meters_find(&s.heard, "REAL1") == NULL
		&& meters_find(&s.resumed, "JUNK2") == NULL, "91 days: silent meters dropped, the new one taken (%zu)",
		meter_set_count(&s));
	heard_at(m, t0 + 91 * DAY_MS);
	CHECK(meter_set_drop_silent(&s, t0 + 91 * DAY_MS + 3600000) == 0 && meter_set_count(&s) == 1,
		"a meter heard within the limit stays");
	meter_set_free(&s);

	/* silence 0: never dropped. */
	meter_set_init(&s, 2, 0);
	heard_at(meter_set_take(&s, "A", t0, &created), t0);
	CHECK(meter_set_drop_silent(&s, t0 + 10000 * DAY_MS) == 0 && meter_set_take(&s, "A", t0 + 10000 * DAY_MS, &created),
		"no limit: kept");
	meter_set_free(&s);
}

int main(void)
{
	struct meters_table t;
	meters_init(&t, sizeof(struct entry), 100000);
	char serial[LOWI_SERIAL_MAX + 1];
	bool created;

	CHECK(meters_find(&t, "X") == NULL, "empty table finds nothing");
	CHECK(meters_slot(&t, 0) == NULL, "empty table has no entry");

	long bad = 0;
	for (long i = 0; i < 100000; i++) {
		serial_of(i, serial);
		struct entry *e = meters_get(&t, serial, &created);
		if (e == NULL || !created || strcmp(e->serial, serial) != 0 || e->value != 0)
			bad++;
		else
			e->value = i;
	}
	CHECK(bad == 0, "%ld insertions went wrong", bad);
	CHECK(t.count == 100000, "count %zu", t.count);
	CHECK(t.index_slots >= 2 * t.count, "index over half full: %zu slots", t.index_slots);

	bad = 0;
	for (long i = 0; i < 100000; i++) {
		serial_of(i, serial);
		struct entry *e = meters_get(&t, serial, &created);
		struct entry *f = meters_find(&t, serial);
		if (e == NULL || created || e != f || e->value != i)
			bad++;
		const struct entry *s = meters_slot(&t, (size_t)i);
		if (s == NULL || s->value != i || strcmp(s->serial, serial) != 0)
			bad++;
	}
	CHECK(bad == 0, "%ld lookups or slots went wrong", bad);
	CHECK(meters_slot(&t, t.count) == NULL, "no entry past count");
	CHECK(meters_find(&t, "absent") == NULL, "absent serial not found");
	CHECK(t.count == 100000, "find added nothing: %zu", t.count);

	CHECK(meters_get(&t, "one-too-many", &created) == NULL && !created, "full table refuses a new serial");
	serial_of(5, serial);
	CHECK(meters_get(&t, serial, &created) != NULL && !created, "full table still finds a known serial");

	meters_free(&t);
	CHECK(t.count == 0 && meters_find(&t, serial) == NULL, "freed table is empty");
	struct entry *e = meters_get(&t, "again", &created);
	CHECK(e != NULL && created, "freed table can be used again");
	meters_free(&t);

	/* A bound smaller than the first allocation. */
	meters_init(&t, sizeof(struct entry), 3);
	int got = 0;
	for (int i = 0; i < 5; i++) {
		serial_of(i, serial);
		got += meters_get(&t, serial, &created) != NULL;
	}
	CHECK(got == 3 && t.count == 3, "bound of 3: %d taken", got);
	meters_free(&t);

	removal();
	meter_set();
	return check_finish("meters");
}
