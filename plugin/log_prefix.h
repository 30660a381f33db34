/*
 * The prefix of every broker log line of the plugin, so an operator can grep
 * them all (README: "Every log line of the plugin starts with `lowi-p1:`").
 *
 * Text only: usable from any thread, nothing to own or free. A part with a
 * tag of its own (the price worker: "lowi-p1: prices: ") defines PREFIX as
 * LOWI_LOG_PREFIX followed by its tag before including this header.
 */
#ifndef LOWI_LOG_PREFIX_H
#define LOWI_LOG_PREFIX_H

#define LOWI_LOG_PREFIX "lowi-p1: "

#ifndef PREFIX
#define PREFIX LOWI_LOG_PREFIX
#endif

#endif
