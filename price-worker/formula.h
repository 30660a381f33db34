/*
 * Tariff formulas: where a contract's Buy or Sell formula, as stored in
 * MariaDB (FormPxElectr.BuyFormula / SellFormula), turns a day-ahead price
 * into a tariff, without ever running anything but arithmetic.
 *
 * The formula's variables, all in EUR/MWh (struct formula_inputs):
 *   price      the day-ahead price of the period;
 *   day_avg    the time-weighted average day-ahead price of the period's
 *              Brussels day;
 *   month_avg  the same over the period's Brussels month.
 * The result is the tariff in c€/kWh, e.g. `(price/10 + 0.204) * 1.06`, or
 * for a contract priced on the month's average `month_avg/10 * 1.06 + 1.5`.
 * What the averages are made of, and when they are final, is the caller's
 * business (tariff.h); to the language they are three numbers.
 *
 * Grammar (the whole language; anything else is a compile error):
 *   formula  := expr
 *   expr     := term (('+' | '-') term)*           left associative
 *   term     := unary (('*' | '/') unary)*         left associative
 *   unary    := ('-' | '+')* primary               binds tighter than * and /
 *   primary  := number | variable | call | '(' expr ')'
 *   variable := 'price' | 'day_avg' | 'month_avg'
 *   call     := ('min' | 'max') '(' expr (',' expr)+ ')'
 *             | 'round' '(' expr ',' expr ')'
 *   number   := digits ['.' [digits]] [exponent] | '.' digits [exponent]
 *   exponent := ('e' | 'E') ['+' | '-'] digits     e.g. 1e3, 2.5E-2
 * Names are case-sensitive ASCII. Whitespace (space, tab, CR, LF, VT, FF)
 * may appear between any two tokens. Numbers are read in the C locale
 * whatever the process locale ('.' is the only decimal mark).
 * round(x, n) rounds half away from zero to n decimals, n a whole number
 * 0..10; ties are judged on the decimal the double stands for, so
 * round(1.005, 2) is 1.01 and round(2.5, 0) is 3. When n does not depend on
 * a variable, a bad n is a compile error; otherwise an evaluation error.
 * Any other name is a compile error.
 * Division by zero and non-finite intermediate results are evaluation
 * errors (never Inf or NaN). A zero result is always +0.
 *
 * Limits: FORMULA_MAX_BYTES of text (not counting the NUL), parentheses
 * (call parentheses included) nested at most FORMULA_MAX_DEPTH deep.
 * Compiling is recursive only to that depth; evaluation is a loop over a
 * postfix program, never recursive and never allocating (it uses about
 * 4 KiB of the caller's stack).
 *
 * Threads: formula_compile and formula_free on one thread at a time for a
 * given formula (in practice the price worker). A compiled formula is
 * immutable: formula_eval may be called on it from any number of threads at
 * once, as long as formula_free is not called concurrently.
 *
 * Memory: formula_compile returns a new object owned by the caller, freed
 * with formula_free. `text` is borrowed for the call only (it need not
 * outlive the compiled formula). The error structs are the caller's.
 */
#ifndef LOWI_FORMULA_H
#define LOWI_FORMULA_H

#include <stddef.h>

#define FORMULA_MAX_BYTES 1024      /* longer text is rejected before parsing */
#define FORMULA_MAX_DEPTH 64        /* nested parentheses, call parentheses included */
#define FORMULA_MAX_ROUND_DIGITS 10 /* round(x, n): 0 <= n <= 10 */

struct formula_error {
	size_t position;  /* 0-based byte offset in the text where the problem is */
	char reason[128]; /* NUL-terminated, names the position, e.g.
	                   * "unexpected ')' at position 12 (no '(' to close)" */
};

struct formula; /* compiled, immutable; safe to evaluate from any thread */

/* The values of the variables for one evaluation, EUR/MWh. */
struct formula_inputs {
	double price;     /* `price` */
	double day_avg;   /* `day_avg` */
	double month_avg; /* `month_avg` */
};

/* Bits of formula_uses: which variables a formula reads. */
#define FORMULA_USES_PRICE 1u
#define FORMULA_USES_DAY_AVG 2u
#define FORMULA_USES_MONTH_AVG 4u

/* Compiles a NUL-terminated formula of at most FORMULA_MAX_BYTES bytes.
 * Returns a new formula (free with formula_free), or NULL and fills *err
 * on a syntax error, an over-long or over-deep text, a constant round()
 * digit count out of range, or out of memory. err may be NULL; on success
 * it is set to position 0 and an empty reason. */
struct formula *formula_compile(const char *text, struct formula_error *err);

/* Evaluates f with the variables in *in (EUR/MWh). Returns 0 and stores
 * the tariff (c€/kWh) in *out, or returns -1, leaves *out alone and fills
 * *err (err may be NULL): division by zero, a non-finite intermediate
 * result, an input that is not finite (whether the formula reads it or
 * not), round() digits that are not a whole number 0..10. The error
 * position is the byte offset, in the compiled text, of the operator or
 * call that failed (0 for a bad input). Allocation-free and reentrant. */
int formula_eval(const struct formula *f, const struct formula_inputs *in, double *out, struct formula_error *err);

/* The FORMULA_USES_* bits of the variables f reads (0 for NULL or a
 * constant formula). */
unsigned formula_uses(const struct formula *f);

/* Frees a compiled formula. NULL is allowed. */
void formula_free(struct formula *f);

#endif
