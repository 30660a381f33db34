/*
 * The grid operator's quarter-hour export (Mijn Fluvius, "Verbruikshistoriek
 * ... kwartiertotalen"): one CSV line per quarter and register, in Brussels
 * local time, turned into UTC quarters of kWh.
 *
 * The layout, as public parsers and sample exports show it (the README's
 * "Compared with the grid operator" cites them), is semicolon separated with
 * a header naming the columns, one of:
 *   Van (datum);Van (tijdstip);Tot (datum);Tot (tijdstip);EAN-code;Meter;
 *     Metertype;Register;Volume;Eenheid;Validatiestatus;Omschrijving
 *   Van datum;Van tijdstip;Tot datum;Tot tijdstip;EAN;Meter;Metertype;
 *     Register;Volume;Eenheid;Validatiestatus            (older exports)
 *   From (date);From (time);Until (date);Until (time);EAN code;Meter;
 *     Meter type;Register;Volume;Unit;Validation status;Description
 * Columns are found by name, so their order does not matter. Dates are
 * dd-mm-yyyy (dd/mm/yyyy in the English export), times hh:mm[:ss], volumes
 * kWh with a decimal comma (a point is accepted), empty when the portal has
 * no value; the EAN may be wrapped as ="5414...".
 *
 * Pure functions: callable from any thread, no allocation, no I/O; the
 * caller owns every buffer.
 */
#ifndef LOWI_FLUVIUS_CSV_H
#define LOWI_FLUVIUS_CSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum fluvius_register {
	FLUVIUS_IMPORT_DAY,   /* Afname Dag / Offtake Day */
	FLUVIUS_IMPORT_NIGHT, /* Afname Nacht / Offtake Night */
	FLUVIUS_EXPORT_DAY,   /* Injectie Dag / Injection Day */
	FLUVIUS_EXPORT_NIGHT, /* Injectie Nacht / Injection Night */
	FLUVIUS_REGISTERS
};

/* Column positions of a header line; -1 when absent (only description). */
struct fluvius_columns {
	int from_date, from_time, to_date, to_time, ean, reg, volume, unit, status;
	int count; /* columns in the header */
};

struct fluvius_line {
	int64_t from_local; /* wall-clock seconds since 1970-01-01 00:00 local */
	int64_t to_local;
	enum fluvius_register reg;
	bool has_volume;    /* false: the portal gave no value */
	int64_t wh;         /* the volume in Wh (kWh x 1000, exact to 3 decimals) */
	bool estimated;     /* status Geschat / Estimated */
	char status[32];    /* the status as written, truncated */
	char ean[32];
};

/* Parses a header line (a leading UTF-8 byte-order mark and a trailing CR
 * are skipped). Returns false, with a reason in err, when a needed column
 * is missing. */
bool fluvius_parse_header(const char *line, struct fluvius_columns *cols, char *err, size_t errlen);

/* Parses one data line. Returns false, with a reason in err, for a wrong
 * number of fields, a bad date or time, an unknown register, a unit other
 * than kWh, or a bad number. */
bool fluvius_parse_line(const char *line, const struct fluvius_columns *cols, struct fluvius_line *out,
			char *err, size_t errlen);

/* Parses "1,234" / "1.234" / "0,5" (at most 3 decimals, no sign) into Wh. */
bool fluvius_parse_kwh(const char *s, size_t len, int64_t *wh);

/* The UTC instants a Brussels wall-clock time can mean: 0 in the hour
 * skipped in March, 2 in the hour repeated in October (summer time first,
 * then winter time, an hour later), else 1. Writes them to utc[]. */
int fluvius_local_to_utc(int64_t local_s, int64_t utc[2]);

/* Resolves each register's rows to UTC in the file's order, which for
 * every register is time order: in October's repeated hour the first
 * pass is summer time and the second winter time, because a quarter's UTC
 * start must come after the register's previous one. */
struct fluvius_clock {
	int64_t last_utc[FLUVIUS_REGISTERS];
	bool seen[FLUVIUS_REGISTERS];
};

void fluvius_clock_init(struct fluvius_clock *clock);

/* The UTC start of a parsed line, or false with a reason in err: a time
 * that does not exist in Brussels, a quarter not after the register's
 * previous one (out of order or twice), a start off the quarter-hour grid,
 * or a "Tot" that is not 15 minutes after "Van" either in UTC or on the
 * wall clock. */
bool fluvius_clock_resolve(struct fluvius_clock *clock, const struct fluvius_line *line, int64_t *utc_start,
			   char *err, size_t errlen);

#endif
