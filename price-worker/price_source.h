/*
 * The day-ahead price sources the price worker can use, and their names as
 * plugin_opt_price_source spells them. Pure; any thread.
 */
#ifndef LOWI_PRICE_SOURCE_H
#define LOWI_PRICE_SOURCE_H

enum price_source { PRICE_SOURCE_ELIA, PRICE_SOURCE_ENERGY_CHARTS, PRICE_SOURCE_NONE };

/* "elia", "energy-charts", "none"; "?" for any other value. A static
 * string, never to be freed. */
const char *price_source_name(int source);

#endif
