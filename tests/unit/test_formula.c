/*
 * Unit test of the tariff formula evaluator (price-worker/formula.c).
 *
 * Every formula is compiled from a heap copy of exactly its bytes, so that
 * AddressSanitizer catches any read past the terminating NUL. Values are
 * compared exactly where the arithmetic is exact, otherwise within 1e-9;
 * tariffs are also compared exactly after round(..., 5), because the
 * reference tables store Buy and Sell with 5 decimals.
 *
 * Usage: test_formula [CORPUS_DIR]
 *   CORPUS_DIR (default LOWI_CORPUS_DIR when built by meson) holds
 *   formula/good-*.txt, which must compile, and formula/bad-*.txt, which
 *   must be rejected with a well-formed error. One formula per file; a
 *   trailing newline is whitespace and so part of the formula.
 */
#include "formula.h"
#include "check.h"

#include <dirent.h>
#include <locale.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Inputs with only a price: the averages are 0. */
#define AT(p) (&(struct formula_inputs){ .price = (p) })

static char *copy_of(const char *text, size_t len)
{
	char *c = malloc(len + 1);

	if (!c) {
		perror("malloc");
		exit(2);
	}
	memcpy(c, text, len);
	c[len] = '\0';
	return c;
}

static struct formula *compile_copy(const char *text, struct formula_error *err)
{
	char *c = copy_of(text, strlen(text));
	struct formula *f = formula_compile(c, err);

	free(c);
	return f;
}

/* Reason present and terminated, position within the text (or at its end). */
static bool error_well_formed(const struct formula_error *e, size_t len)
{
	return memchr(e->reason, '\0', sizeof e->reason) && e->reason[0] != '\0' && e->position <= len;
}

/* Compiles and evaluates; returns -1 on a compile error. */
static int eval_text(const char *text, double price, double *out, struct formula_error *err)
{
	struct formula *f = compile_copy(text, err);
	int rc;

	if (!f)
		return -1;
	rc = formula_eval(f, AT(price), out, err);
	formula_free(f);
	return rc;
}

static void check_value(const char *text, double price, double want)
{
	struct formula_error e;
	double got = NAN;
	int rc = eval_text(text, price, &got, &e);

	CHECK(rc == 0 && fabs(got - want) <= 1e-9 * fmax(1.0, fabs(want)),
		"'%s' at price %g: want %.17g, got rc %d value %.17g (%s)", text, price, want, rc, got, e.reason);
}

static void check_exact(const char *text, double price, double want)
{
	struct formula_error e;
	double got = NAN;
	int rc = eval_text(text, price, &got, &e);

	CHECK(rc == 0 && got == want && signbit(got) == signbit(want),
		"'%s' at price %g: want exactly %.17g, got rc %d value %.17g (%s)", text, price, want, rc, got,
		e.reason);
}

/* formula within 1e-9 of want, and round(formula, 5) exactly the double
 * nearest to the 5-decimal reference value. */
static void check_tariff(const char *formula, double price, const char *want5)
{
	char rounded[FORMULA_MAX_BYTES + 1];
	double want = strtod(want5, NULL);

	check_value(formula, price, want);
	snprintf(rounded, sizeof rounded, "round(%s, 5)", formula);
	check_exact(rounded, price, want);
}

static void check_syntax_error(const char *text, size_t position, const char *words)
{
	struct formula_error e = { .position = 9999 };
	struct formula *f = compile_copy(text, &e);

	CHECK(!f, "'%s' compiled but should not", text);
	formula_free(f);
	CHECK(error_well_formed(&e, strlen(text)), "'%s': malformed error (position %zu)", text, e.position);
	CHECK(e.position == position, "'%s': want position %zu, got %zu (%s)", text, position, e.position, e.reason);
	CHECK(strstr(e.reason, words) != NULL, "'%s': reason \"%s\" lacks \"%s\"", text, e.reason, words);
}

static void check_eval_error(const char *text, double price, size_t position, const char *words)
{
	struct formula_error e = { .position = 9999 };
	struct formula *f = compile_copy(text, &e);
	double out = 12345.0;

	CHECK(f != NULL, "'%s' should compile: %s", text, e.reason);
	if (!f)
		return;
	CHECK(formula_eval(f, AT(price), &out, &e) == -1, "'%s' at price %g should fail", text, price);
	CHECK(out == 12345.0, "'%s': *out written on error", text);
	CHECK(error_well_formed(&e, strlen(text)), "'%s': malformed error", text);
	CHECK(e.position == position, "'%s': want position %zu, got %zu (%s)", text, position, e.position, e.reason);
	CHECK(strstr(e.reason, words) != NULL, "'%s': reason \"%s\" lacks \"%s\"", text, e.reason, words);
	formula_free(f);
}

static void test_precedence(void)
{
	check_exact("1+2*3", 0, 7);
	check_exact("(1+2)*3", 0, 9);
	check_exact("8/4/2", 0, 1);
	check_exact("2-3-4", 0, -5);
	check_exact("2*3+4*5", 0, 26);
	check_exact("100/10*2", 0, 20);
	check_exact("1-2+3", 0, 2);
	check_exact("((((7))))", 0, 7);
	check_exact(" \t1 +\n2\r*\v3\f ", 0, 7);
	check_exact("price", 41.88, 41.88);
	check_exact("12", 0, 12);
	check_exact("0.204", 0, 0.204);
	check_exact(".5", 0, 0.5);
	check_exact("5.", 0, 5);
	check_exact("1e3", 0, 1000);
	check_exact("2.5E-2", 0, 0.025);
	check_exact("1e+2", 0, 100);
	check_exact("007", 0, 7);
	check_exact("0.1+0.2", 0, 0.1 + 0.2);
}

static void test_unary(void)
{
	check_exact("-price", 41.88, -41.88);
	check_exact("-price", -5, 5);
	check_exact("--2", 0, 2);
	check_exact("---2", 0, -2);
	check_exact("+2", 0, 2);
	check_exact("-+-+2", 0, 2);
	check_exact("-(1+2)*2", 0, -6);
	check_exact("2*-3", 0, -6);
	check_exact("2--3", 0, 5);
	check_exact("2- -3", 0, 5);
	check_exact("-2*-3", 0, 6);
	check_exact("8/-2", 0, -4);
	check_exact("-price/10", 50, -5);
	check_exact("-price", 0, 0.0); /* +0, never -0 */
	check_exact("0*-1", 0, 0.0);
}

static void test_functions(void)
{
	check_exact("min(price,10)", 41.88, 10);
	check_exact("min(price,10)", 7.5, 7.5);
	check_exact("max(0, price/10 - 1)", 5, 0);
	check_value("max(0, price/10 - 1)", 41.88, 3.188);
	check_exact("round(price/3, 2)", 41.88, 13.96);
	check_exact("round(price/3, 2)", 10, 3.33);
	check_exact("min(3, 1, 2)", 0, 1);
	check_exact("max(3, 1, 2, 5, 4)", 0, 5);
	check_exact("max(min(price, 100), -100)", 250, 100);
	check_exact("max(min(price, 100), -100)", -250, -100);
	check_exact("max(min(price, 100), -100)", 42, 42);
	check_exact("round(max(0, min(price, 1e3)) / 7, 3)", 10, 1.429);
	check_exact("round(price, 1+1)", 1.005, 1.01);
	check_exact("min ( price , 1 )", 3, 1);
	check_exact("-min(1,2)", 0, -1);
	/* round(): half away from zero, on the decimal the double stands for. */
	check_exact("round(2.5, 0)", 0, 3);
	check_exact("round(-2.5, 0)", 0, -3);
	check_exact("round(1.005, 2)", 0, 1.01);
	check_exact("round(2.675, 2)", 0, 2.68);
	check_exact("round(0.125, 2)", 0, 0.13);
	check_exact("round(-0.125, 2)", 0, -0.13);
	check_exact("round(0.49999999999999994, 0)", 0, 0);
	check_exact("round(1.4999999, 0)", 0, 1);
	check_exact("round(1234.5678, 10)", 0, 1234.5678);
	check_exact("round(1234.5678, 0)", 0, 1235);
	check_exact("round(-0.001, 2)", 0, 0.0);
	check_exact("round(price, 5)", 4.655520000000001, 4.65552);
	check_exact("round(1e300, 10)", 0, 1e300);
	check_exact("round(10/3, price)", 3, 3.333);
}

static void test_reference_contract(void)
{
	static const struct { double price; const char *buy, *sell; } rows[] = {
		{ 41.88, "4.65552", "4.188" }, { 38.6, "4.30784", "3.86" }, { 36.55, "4.09054", "3.655" },
		{ 32.32, "3.64216", "3.232" }, { 30.85, "3.48634", "3.085" }, { 30.14, "3.41108", "3.014" },
		{ 30.17, "3.41426", "3.017" }, { 30, "3.39624", "3" },        { 30.65, "3.46514", "3.065" },
		{ 30.65, "3.46514", "3.065" },
	};

	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		check_tariff("(price/10 + 0.204) * 1.06", rows[i].price, rows[i].buy);
		check_tariff("price/10", rows[i].price, rows[i].sell);
	}
}

/* Dynamic contracts of spring 2026 (docs/prices.md), negative prices included. */
static void test_spring_2026_contracts(void)
{
	static const struct { double price; const char *engie_buy, *engie_sell, *frank_buy; } rows[] = {
		{ 100, "11.2602", "8.6865", "12.9108" },
		{ 50, "6.0652", "3.6865", "7.2504" },
		{ 0, "0.8702", "-1.3135", "1.59" },
		{ -20, "-1.2078", "-3.3135", "-0.67416" },
		{ -500, "-51.0798", "-51.3135", "-55.014" },
	};

	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		check_tariff("0.8702 + 0.1039 * price", rows[i].price, rows[i].engie_buy);
		check_tariff("-1.3135 + 0.1 * price", rows[i].price, rows[i].engie_sell);
		check_tariff("(0.1068 * price + 1.5) * 1.06", rows[i].price, rows[i].frank_buy);
	}
	/* A supplier that floors at zero. */
	check_exact("max(0, -1.3135 + 0.1 * price)", -20, 0);
	check_value("max(0, -1.3135 + 0.1 * price)", 100, 8.6865);
	check_exact("price/10", -12.5, -1.25);
}

/* Evaluates text with all three inputs; -1 on a compile error. */
static int eval_inputs(const char *text, double price, double day_avg, double month_avg, double *out,
	struct formula_error *err)
{
	struct formula *f = compile_copy(text, err);
	int rc;

	if (!f)
		return -1;
	rc = formula_eval(f, &(struct formula_inputs){ price, day_avg, month_avg }, out, err);
	formula_free(f);
	return rc;
}

static unsigned uses_of(const char *text)
{
	struct formula *f = compile_copy(text, NULL);
	unsigned uses = f ? formula_uses(f) : 99;

	formula_free(f);
	return uses;
}

/* day_avg and month_avg: read from the inputs, same grammar and limits. */
static void test_averages(void)
{
	struct formula_error e;
	double out = NAN;

	/* Part fixed, part the month's average: 80 EUR/MWh -> 8 x 1.06 + 1.5. */
	CHECK(eval_inputs("month_avg/10 * 1.06 + 1.5", 41.88, 60, 80, &out, &e) == 0 && out == 8.48 + 1.5,
		"month_avg contract: %.17g (%s)", out, e.reason);
	CHECK(eval_inputs("round(0.5 * price/10 + 0.5 * day_avg/10, 5)", 41.88, 60, 80, &out, &e) == 0 && out == 5.094,
		"half spot, half day: %.17g (%s)", out, e.reason);
	CHECK(eval_inputs("max(price, day_avg, month_avg)", -5, 60, 80, &out, &e) == 0 && out == 80, "max of the three: %g",
		out);
	CHECK(eval_inputs("day_avg - month_avg", 0, 60, 80, &out, &e) == 0 && out == -20, "each name its input: %g", out);
	CHECK(eval_inputs("day_avg/10", 1, NAN, 80, &out, &e) == -1 && strstr(e.reason, "not a finite number"),
		"NaN day_avg: %s", e.reason);
	CHECK(eval_inputs("price", 1, 60, INFINITY, &out, &e) == -1 && strstr(e.reason, "month_avg inf"),
		"an input is checked even when not read: %s", e.reason);
	CHECK(eval_inputs("1/(month_avg - day_avg)", 1, 80, 80, &out, &e) == -1 && e.position == 1 &&
		strstr(e.reason, "division by zero"), "division by zero at run time: %s", e.reason);
	/* round() digits from an average: judged at evaluation, not compile. */
	CHECK(eval_inputs("round(price, day_avg)", 1.23456, 2, 0, &out, &e) == 0 && out == 1.23, "round digits: %g", out);
	CHECK(eval_inputs("round(price, month_avg)", 1.23456, 2, 2.5, &out, &e) == -1 && strstr(e.reason, "got 2.5"),
		"bad digits from month_avg: %s", e.reason);

	CHECK(uses_of("month_avg/10 * 1.06 + 1.5") == FORMULA_USES_MONTH_AVG, "uses month_avg only");
	CHECK(uses_of("price + day_avg") == (FORMULA_USES_PRICE | FORMULA_USES_DAY_AVG), "uses price and day_avg");
	CHECK(uses_of("1.5") == 0 && uses_of("price") == FORMULA_USES_PRICE, "constant and price");
	CHECK(formula_uses(NULL) == 0, "NULL uses nothing");

	check_syntax_error("Month_avg/10", 0, "names are case-sensitive: write 'month_avg'");
	check_syntax_error("DAY_AVG", 0, "write 'day_avg'");
	check_syntax_error("week_avg", 0, "unknown name 'week_avg' at position 0 (only price, day_avg and month_avg)");
	check_syntax_error("month_avg_weighted", 0, "unknown name 'month_avg_weighted'");
	check_syntax_error("day_avg(1)", 7, "expected an operator or the end at position 7, found '('");
	check_syntax_error("month_avg day_avg", 10, "found 'day_avg'");
	check_syntax_error("round(month_avg, 11)", 17, "got 11");
}

static void test_syntax_errors(void)
{
	check_syntax_error("", 0, "formula is empty");
	check_syntax_error(" \t\n", 0, "formula is empty");
	check_syntax_error("1+", 2, "unexpected end of input at position 2");
	check_syntax_error("(1+2))", 5, "unexpected ')' at position 5");
	check_syntax_error("(price/10 + 0.204)) * 1.06", 18, "unexpected ')' at position 18");
	check_syntax_error("(1+2", 0, "input ends inside parentheses opened at position 0");
	check_syntax_error("2*((price+1)", 2, "input ends inside parentheses opened at position 2");
	check_syntax_error("prix/10", 0, "unknown name 'prix' at position 0 (only price, day_avg and month_avg)");
	check_syntax_error("Price/10", 0, "case-sensitive");
	check_syntax_error("price/10 + pricex", 11, "unknown name 'pricex' at position 11");
	check_syntax_error("abs(price)", 0, "unknown function 'abs' at position 0");
	check_syntax_error("MIN(price, 1)", 0, "unknown function 'MIN'");
	check_syntax_error("price^2", 5, "unexpected character '^' at position 5");
	check_syntax_error("price % 2", 6, "unexpected character '%' at position 6");
	check_syntax_error("price; DROP TABLE x", 5, "unexpected character ';' at position 5");
	check_syntax_error("0,204 + price", 1, "unexpected ',' at position 1");
	check_syntax_error("(1, 2)", 2, "unexpected ',' at position 2");
	check_syntax_error("round(price)", 0, "round() takes 2 arguments, got 1");
	check_syntax_error("round(price, 2, 3)", 0, "round() takes 2 arguments, got 3");
	check_syntax_error("round(price, 11)", 13, "round() digits must be a whole number from 0 to 10, got 11");
	check_syntax_error("round(price, 2.5)", 13, "got 2.5");
	check_syntax_error("round(price, -1)", 13, "got -1");
	check_syntax_error("min(price)", 0, "min() takes at least 2 arguments, got 1");
	check_syntax_error("max()", 0, "max() takes at least 2 arguments, got 0");
	check_syntax_error("min(1,2", 0, "input ends inside min( opened at position 0");
	check_syntax_error("min(1,)", 6, "expected a number, 'price' or '(' at position 6, found ')'");
	check_syntax_error("min(1 2)", 6, "expected an operator, ',' or ')' at position 6, found number '2'");
	check_syntax_error("min 2", 4, "expected '(' at position 4 after 'min'");
	check_syntax_error("min", 3, "expected '(' at position 3 after 'min'");
	check_syntax_error("2 price", 2, "expected an operator or the end at position 2, found 'price'");
	check_syntax_error("price(2)", 5, "expected an operator or the end at position 5, found '('");
	check_syntax_error("(2 price)", 3, "expected an operator or ')' at position 3, found 'price'");
	check_syntax_error("1 + * 2", 4, "expected a number, 'price' or '(' at position 4, found '*'");
	check_syntax_error("*2", 0, "expected a number, 'price' or '(' at position 0");
	check_syntax_error("price/10 +)", 10, "expected a number, 'price' or '(' at position 10, found ')'");
	check_syntax_error("()", 1, "found ')'");
	check_syntax_error("1.2.3", 0, "malformed number '1.2.3' at position 0");
	check_syntax_error("2price", 0, "malformed number '2price'");
	check_syntax_error("0x10", 0, "malformed number '0x10'");
	check_syntax_error("1e", 0, "malformed number '1e'");
	check_syntax_error("1e+ 2", 0, "malformed number '1e'");
	check_syntax_error("price + .", 8, "malformed number '.' at position 8");
	check_syntax_error("1e999", 0, "number '1e999' at position 0 is too large");
	check_syntax_error("2 \xc3\x97 price", 2, "multiplication sign at position 2 (write '*' instead)");
	check_syntax_error("\xe2\x88\x92" "1.3135 + 0.1 * price", 0, "Unicode minus sign");
	check_syntax_error("price\xff", 5, "unexpected byte 0xFF at position 5");
	check_syntax_error("price\x01", 5, "control byte 0x01 at position 5");
	check_syntax_error("price = 3", 6, "unexpected character '='");
	check_syntax_error("'price'", 0, "unexpected character '''");
	check_syntax_error("__import__", 0, "unknown name '__import__'");
	check_syntax_error("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0, "'aaaaaaaaaaaaaaaaaaaaaaaa...'");
}

static void test_eval_errors(void)
{
	double out;
	struct formula_error e;
	struct formula *f;

	check_eval_error("1/(price-40)", 40, 1, "division by zero at position 1");
	check_value("1/(price-40)", 41, 1);
	check_eval_error("price / 0", 3, 6, "division by zero");
	check_eval_error("1/0", 3, 1, "division by zero");
	check_eval_error("round(1, 1/0)", 0, 10, "division by zero"); /* constant digits that fail */
	check_eval_error("round(price, price)", 2.5, 0, "round() digits must be a whole number from 0 to 10, got 2.5");
	check_eval_error("round(price, price)", 11, 0, "got 11");
	check_eval_error("round(price, price)", -1, 0, "got -1");
	check_eval_error("price*price", 1e200, 5, "'*' at position 5 overflows");
	check_eval_error("1e308*10", 0, 5, "overflows");
	check_eval_error("1e308+1e308", 0, 5, "'+' at position 5 overflows");
	check_eval_error("-1e308-1e308", 0, 6, "'-' at position 6 overflows");
	check_eval_error("1/price", 1e-320, 1, "overflows");
	check_eval_error("price", NAN, 0, "not a finite number");
	check_eval_error("price", INFINITY, 0, "not a finite number");
	check_eval_error("1", -INFINITY, 0, "not a finite number");

	f = formula_compile("price", &e);
	CHECK(f != NULL, "compile price");
	CHECK(formula_eval(NULL, AT(1), &out, &e) == -1 && e.reason[0], "NULL formula");
	CHECK(formula_eval(f, AT(1), NULL, &e) == -1 && e.reason[0], "NULL out");
	CHECK(formula_eval(f, AT(1), &out, NULL) == 0 && out == 1, "NULL err on success");
	formula_free(f);
	f = formula_compile("1/price", NULL);
	CHECK(f != NULL && formula_eval(f, AT(0), &out, NULL) == -1, "NULL err on failure");
	formula_free(f);
	CHECK(formula_compile("1+", NULL) == NULL, "NULL err on compile failure");
	CHECK(formula_compile(NULL, &e) == NULL && e.reason[0], "NULL text");
	formula_free(NULL);
	/* success clears a stale error */
	strcpy(e.reason, "stale");
	f = formula_compile("price", &e);
	CHECK(f && e.reason[0] == '\0' && e.position == 0, "success clears err: %s", e.reason);
	formula_free(f);
}

static void test_limits(void)
{
	char text[2 * FORMULA_MAX_BYTES];
	struct formula_error e;
	struct formula *f;
	size_t n;
	double out;
	int i;

	/* 1 + 511 x "+1" + one space = 1024 bytes: accepted. */
	strcpy(text, "1");
	for (i = 0; i < 511; i++)
		strcat(text, "+1");
	strcat(text, " ");
	CHECK(strlen(text) == 1024, "1024-byte text is %zu bytes", strlen(text));
	check_exact(text, 0, 512);
	strcat(text, " ");
	check_syntax_error(text, 1024, "formula is longer than 1024 bytes");

	/* The most pending values 1024 bytes allow: min of 510 arguments. */
	strcpy(text, "min(");
	for (i = 0; i < 509; i++)
		strcat(text, "7,");
	strcat(text, "3)");
	CHECK(strlen(text) <= 1024, "min() text is %zu bytes", strlen(text));
	check_exact(text, 0, 3);
	/* Right-leaning chain: 1-(1-(1-...)) nests, so it stops at the depth limit. */
	n = 0;
	for (i = 0; i < FORMULA_MAX_DEPTH; i++)
		n += (size_t)sprintf(text + n, "1-(");
	n += (size_t)sprintf(text + n, "1");
	for (i = 0; i < FORMULA_MAX_DEPTH; i++)
		text[n++] = ')';
	text[n] = '\0';
	check_exact(text, 0, 1); /* 64 levels alternate 0 and 1, ending at 1 */

	/* Depth: 64 levels accepted, the 65th '(' refused where it stands. */
	memset(text, '(', FORMULA_MAX_DEPTH);
	text[FORMULA_MAX_DEPTH] = '5';
	memset(text + FORMULA_MAX_DEPTH + 1, ')', FORMULA_MAX_DEPTH);
	text[2 * FORMULA_MAX_DEPTH + 1] = '\0';
	check_exact(text, 0, 5);
	memset(text, '(', FORMULA_MAX_DEPTH + 1);
	text[FORMULA_MAX_DEPTH + 1] = '5';
	memset(text + FORMULA_MAX_DEPTH + 2, ')', FORMULA_MAX_DEPTH + 1);
	text[2 * FORMULA_MAX_DEPTH + 3] = '\0';
	check_syntax_error(text, FORMULA_MAX_DEPTH, "parentheses nest deeper than 64 levels at position 64");
	/* 200 '(' and nothing else: an error, not a crash. */
	memset(text, '(', 200);
	text[200] = '\0';
	check_syntax_error(text, 64, "nest deeper");
	/* Calls count too: min(min(min(... */
	n = 0;
	for (i = 0; i < 100; i++)
		n += (size_t)sprintf(text + n, "min(1,");
	text[n] = '\0';
	check_syntax_error(text, 6 * FORMULA_MAX_DEPTH + 3, "nest deeper");
	/* 1000 unary minus signs: no recursion, no limit. */
	memset(text, '-', 1000);
	strcpy(text + 1000, "price");
	check_exact(text, 3, 3);

	f = formula_compile("0.1039 * price", &e);
	CHECK(f && formula_eval(f, AT(1), &out, &e) == 0, "compile and eval");
	formula_free(f);
}

/* Every prefix of valid formulas: compiles or fails cleanly, never crashes. */
static void test_prefixes(void)
{
	static const char *const formulas[] = {
		"round(max(0, (price/10 + 0.204) * 1.06 - min(price, 1e1)), 2)",
		"-(0.1068 * price + 1.5e-0) * 1.06 / --2",
		"max(-1.3135 + .1 * price, round(price / 3, 5), 0)",
	};
	size_t k, len;

	for (k = 0; k < sizeof formulas / sizeof formulas[0]; k++) {
		size_t len_all = strlen(formulas[k]);
		int compiled = 0;

		for (len = 0; len <= len_all; len++) {
			char *c = copy_of(formulas[k], len);
			struct formula_error e;
			struct formula *f = formula_compile(c, &e);
			double out;

			if (f) {
				compiled++;
				(void)formula_eval(f, AT(41.88), &out, &e);
				formula_free(f);
			} else {
				CHECK(error_well_formed(&e, len), "prefix '%s': malformed error", c);
			}
			free(c);
		}
		CHECK(compiled >= 1, "'%s' never compiled", formulas[k]);
	}
	check_exact(formulas[0], 41.88, 0);    /* max(0, 4.65552 - 10) */
	check_exact(formulas[0], 200, 11.42); /* 21.41624 - 10 */
}

/* The process locale must not change what a formula means. */
static void test_locale(void)
{
	static const char *const comma_locales[] = { "fr_BE.UTF-8", "nl_BE.UTF-8", "de_DE.UTF-8", "fr_FR.UTF-8" };
	size_t k;

	for (k = 0; k < sizeof comma_locales / sizeof comma_locales[0]; k++)
		if (setlocale(LC_NUMERIC, comma_locales[k]))
			break;
	if (k == sizeof comma_locales / sizeof comma_locales[0]) {
		printf("note: no comma-decimal locale installed, locale check runs in C only\n");
	}
	check_exact("0.204 + 1.5e-1", 0, 0.204 + 0.15);
	check_syntax_error("0,204", 1, "unexpected ','");
	setlocale(LC_NUMERIC, "C");
}

static void test_corpus(const char *dir)
{
	char path[4096], buf[FORMULA_MAX_BYTES + 2];
	int good = 0, bad = 0;
	struct dirent *d;
	DIR *dp;

	snprintf(path, sizeof path, "%s/formula", dir);
	dp = opendir(path);
	CHECK(dp != NULL, "cannot open corpus %s", path);
	if (!dp)
		return;
	while ((d = readdir(dp))) {
		bool is_good = strncmp(d->d_name, "good-", 5) == 0, is_bad = strncmp(d->d_name, "bad-", 4) == 0;
		size_t n = strlen(d->d_name);
		struct formula_error e;
		struct formula *f;
		FILE *fp;

		if (n < 4 || strcmp(d->d_name + n - 4, ".txt") != 0)
			continue;
		CHECK(is_good || is_bad, "corpus file %s is neither good- nor bad-", d->d_name);
		snprintf(path, sizeof path, "%s/formula/%s", dir, d->d_name);
		fp = fopen(path, "rb");
		CHECK(fp != NULL, "cannot read %s", path);
		if (!fp)
			continue;
		n = fread(buf, 1, sizeof buf - 1, fp);
		fclose(fp);
		buf[n] = '\0';
		f = compile_copy(buf, &e);
		if (is_good) {
			double out;

			good++;
			CHECK(f != NULL, "%s should compile: %s", d->d_name, e.reason);
			CHECK(!f || formula_eval(f, AT(41.88), &out, &e) == 0, "%s should evaluate at 41.88: %s",
				d->d_name, e.reason);
		} else if (is_bad) {
			bad++;
			CHECK(f == NULL, "%s should be rejected", d->d_name);
			CHECK(f || error_well_formed(&e, strlen(buf)), "%s: malformed error", d->d_name);
		}
		formula_free(f);
	}
	closedir(dp);
	CHECK(good >= 5 && bad >= 5, "corpus has %d good and %d bad formulas", good, bad);
	printf("corpus: %d good, %d bad formulas\n", good, bad);
}

int main(int argc, char **argv)
{
	const char *corpus = argc > 1 ? argv[1] : NULL;

#ifdef LOWI_CORPUS_DIR
	if (!corpus)
		corpus = LOWI_CORPUS_DIR;
#endif
	test_precedence();
	test_unary();
	test_functions();
	test_reference_contract();
	test_spring_2026_contracts();
	test_syntax_errors();
	test_averages();
	test_eval_errors();
	test_limits();
	test_prefixes();
	test_locale();
	if (corpus)
		test_corpus(corpus);
	else
		printf("note: no corpus directory given, corpus not checked\n");
	return check_finish("formula");
}
