/* Price source names; see price_source.h. */
#include "price_source.h"

const char *price_source_name(int source)
{
	switch (source) {
	case PRICE_SOURCE_ELIA: return "elia";
	case PRICE_SOURCE_ENERGY_CHARTS: return "energy-charts";
	case PRICE_SOURCE_NONE: return "none";
	}
	return "?";
}
