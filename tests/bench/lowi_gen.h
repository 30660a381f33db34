/*
 * Realistic LOWI CH0 messages for the benchmarks (tests/bench/loadgen.c and
 * tests/bench/percall.c): the topic and the ~330-byte JSON payload a LOWI
 * dongle publishes, with the numbers as strings (as the dongle sends them)
 * and the extra per-phase fields and firmware fields the plugin skips.
 *
 * Serial of meter i: "4c75" + 8 hex digits of i * 2654435761 mod 2^32
 * (odd multiplier: distinct for every i < 2^32).
 */
#ifndef LOWI_BENCH_GEN_H
#define LOWI_BENCH_GEN_H

#include <stdint.h>
#include <stdio.h>

#define LOWI_GEN_SERIAL_LEN 12

static inline void lowi_gen_serial(uint32_t i, char out[LOWI_GEN_SERIAL_LEN + 1])
{
	snprintf(out, LOWI_GEN_SERIAL_LEN + 1, "4c75%08x", (unsigned)(i * 2654435761u));
}

/* The n-th reading of meter `serial`: counters advance on every reading
 * (import day by 1..3 Wh, import night every 4th reading, export every 7th,
 * gas and water slowly), so the plugin never takes one for a repeat.
 * `epoch_s` goes into the dongle's own "Time" field (which the plugin
 * ignores: it stamps readings with the broker's receive time).
 * Returns the payload length (about 330 bytes). */
static inline int lowi_gen_payload(char *buf, size_t cap, const char *serial, uint32_t meter, uint64_t n,
	uint64_t base_wh, long long epoch_s)
{
	unsigned long long cih = 130838ULL + base_wh + (meter % 1000) * 1000ULL + n * 3 + (n % 3);
	unsigned long long cil = 137096ULL + base_wh / 2 + (meter % 977) * 700ULL + n / 4;
	unsigned long long ceh = 10976ULL + (meter % 613) * 50ULL + n / 7;
	unsigned long long cel = 3381ULL + (meter % 419) * 30ULL;
	unsigned long long cg = 1234567ULL + (meter % 331) * 1000ULL + n / 5;
	unsigned long long cw = 98765ULL + (meter % 211) * 100ULL + n / 9;
	unsigned pi = 250 + (unsigned)((meter * 37 + n * 11) % 2700);
	unsigned i1 = pi * 100 / 231;
	return snprintf(buf, cap,
		"{\"ident\":\"%s\",\"device_CH\":\"0\",\"Name\":\"Compteur\",\"Type\":\"P1\",\"Units\":\"Various\","
		"\"Time\":\"%lld\",\"U\":\"231\",\"I\":\"%u\",\"U1\":\"231.4\",\"U2\":\"229.8\",\"U3\":\"230.1\","
		"\"I1\":\"%u.%02u\",\"I2\":\"0.12\",\"I3\":\"0.00\",\"T\":\"%d\",\"PI\":\"%u\",\"PE\":\"0\","
		"\"CIH\":\"%llu\",\"CIL\":\"%llu\",\"CEH\":\"%llu\",\"CEL\":\"%llu\",\"CG\":\"%llu\",\"CW\":\"%llu\","
		"\"Ver\":\"3.1.4\"}",
		serial, epoch_s, i1, i1 / 100, i1 % 100, 1, pi, cih, cil, ceh, cel, cg, cw);
}

#endif
