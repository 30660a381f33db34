/* Filter matching, the serial it yields, and the broker thread's prefilter,
 * which must never turn away a topic the full matcher would take (or would
 * count as a bad serial). */
#include <string.h>

#include "check.h"
#include "topic.h"

static const char *const filters[] = {
	"+/PUB/CH0", "+/b/c", "+/", "lowi/+/PUB/CH0", "a/#", "a/b/#", "#", "+", "a/+/#", "+/b", "a/b", "$SYS/+/x", "+/+/c",
};

/* Every topic of up to 6 characters over a small alphabet, so that every
 * way of meeting a filter's levels, separators and '$' is tried. */
static const char alphabet[] = "ab/$c+";

static int agree(const char *filter, const char *topic)
{
	struct topic_prefilter pf;
	char serial[LOWI_SERIAL_MAX + 1];
	bool bad;
	topic_prefilter_init(&pf, filter);
	bool match = topic_match_serial(filter, topic, serial, &bad);
	bool pass = topic_prefilter_pass(&pf, topic, strlen(topic));
	if ((match || bad) && !pass) {
		printf("prefilter of '%s' turns away '%s' (match %d, bad serial %d)\n", filter, topic, match, bad);
		return 0;
	}
	char fast_serial[LOWI_SERIAL_MAX + 1];
	bool fast_bad;
	bool fast = topic_match_serial_fast(&pf, filter, topic, strlen(topic), fast_serial, &fast_bad);
	if (fast != match || fast_bad != bad || (match && strcmp(fast_serial, serial) != 0)) {
		printf("fast match of '%s' on '%s': %d/%d, full: %d/%d\n", filter, topic, fast, fast_bad, match, bad);
		return 0;
	}
	return 1;
}

int main(void)
{
	char serial[LOWI_SERIAL_MAX + 1];
	bool bad;
	CHECK(topic_match_serial("+/PUB/CH0", "ABC123/PUB/CH0", serial, &bad) && strcmp(serial, "abc123") == 0, "serial %s", serial);
	/* Both spellings of a LOWI serial are one meter, whichever matcher runs:
	 * the Serial columns compare without case, so two would share rows. */
	const char *const spellings[][2] = {
		{ "+/PUB/CH0", "4C75252E8C51/PUB/CH0" }, { "+/PUB/CH0", "4c75252e8c51/PUB/CH0" }, { "+/PUB/CH0", "4c75252E8c51/PUB/CH0" },
		{ "lowi/+/PUB/CH0", "lowi/4C75252E8C51/PUB/CH0" }, { "lowi/+/PUB/CH0", "lowi/4c75252e8c51/PUB/CH0" },
	};
	for (size_t i = 0; i < sizeof(spellings) / sizeof(spellings[0]); i++) {
		const char *filter = spellings[i][0], *topic = spellings[i][1];
		struct topic_prefilter pf;
		char fast_serial[LOWI_SERIAL_MAX + 1];
		topic_prefilter_init(&pf, filter);
		CHECK(topic_match_serial(filter, topic, serial, &bad) && strcmp(serial, "4c75252e8c51") == 0,
			"'%s' on '%s': meter %s", filter, topic, serial);
		CHECK(topic_match_serial_fast(&pf, filter, topic, strlen(topic), fast_serial, &bad)
			&& strcmp(fast_serial, "4c75252e8c51") == 0, "fast: '%s' on '%s': meter %s", filter, topic, fast_serial);
	}
	CHECK(topic_match_serial("4C75252E8C51/PUB/CH0", "4C75252E8C51/PUB/CH0", serial, &bad) && strcmp(serial, "4c75252e8c51") == 0,
		"a filter naming one meter: meter %s", serial);
	char saved[] = "4C75252e8C51_X-1";
	topic_serial_fold(saved);
	CHECK(strcmp(saved, "4c75252e8c51_x-1") == 0, "a saved serial folds as the topic does: %s", saved);
	CHECK(!topic_match_serial("+/PUB/CH0", "ABC123/PUB/CH1", serial, &bad) && !bad, "other channel");
	CHECK(!topic_match_serial("+/PUB/CH0", "/PUB/CH0", serial, &bad) && bad, "empty serial is a bad serial");
	CHECK(!topic_match_serial("+/PUB/CH0", "$SYS/PUB/CH0", serial, &bad), "'$' topics never match a first-level wildcard");
	CHECK(topic_match_serial("lowi/+/PUB/CH0", "lowi/x-1/PUB/CH0", serial, &bad) && strcmp(serial, "x-1") == 0, "serial %s", serial);
	CHECK(topic_match_serial("a/b/#", "a/b", serial, &bad), "'#' matches its parent level");

	struct topic_prefilter pf;
	topic_prefilter_init(&pf, "+/PUB/CH0");
	CHECK(pf.head_len == 0 && pf.tail_len == 8 && memcmp(pf.tail, "/PUB/CH0", 8) == 0, "tail of +/PUB/CH0");
	CHECK(!topic_prefilter_pass(&pf, "zigbee2mqtt/kitchen/state", 25), "unrelated topic turned away");
	topic_prefilter_init(&pf, "a/b/#");
	CHECK(pf.head_len == 3 && pf.tail_len == 0, "head of a/b/# is a/b");

	int agreed = 0, total = 0;
	char topic[7];
	for (size_t f = 0; f < sizeof(filters) / sizeof(filters[0]); f++) {
		for (int len = 0; len <= 6; len++) {
			int n = 1;
			for (int i = 0; i < len; i++)
				n *= (int)strlen(alphabet);
			for (int k = 0; k < n; k++) {
				int v = k;
				for (int i = 0; i < len; i++) {
					topic[i] = alphabet[v % (int)strlen(alphabet)];
					v /= (int)strlen(alphabet);
				}
				topic[len] = '\0';
				agreed += agree(filters[f], topic);
				total++;
			}
		}
	}
	CHECK(agreed == total, "%d of %d filter/topic pairs agree", agreed, total);
	/* The filters' own literal topics. */
	CHECK(agree("a/b", "a/b") && agree("+/PUB/CH0", "x/PUB/CH0") && agree("$SYS/+/x", "$SYS/y/x"), "literal topics");
	return check_finish("topic");
}
