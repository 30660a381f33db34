/* The serial-keyed table: lookups, insertion order, growth and its bound. */
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
	return check_finish("meters");
}
