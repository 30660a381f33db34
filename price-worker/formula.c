/*
 * Tariff formula compiler and evaluator (grammar and contract in formula.h).
 *
 * formula_compile: a lexer and a recursive-descent parser that emit a
 * postfix program straight into the result, one op per operand, operator or
 * call. Invariants:
 *  - every read of text[i] is guarded by i < len (len <= FORMULA_MAX_BYTES);
 *  - recursion happens only through parentheses and calls, and each level
 *    is counted against FORMULA_MAX_DEPTH before descending;
 *  - every op comes from at least one distinct byte of the text (unary '+'
 *    emits nothing), so len ops always suffice; live values on the stack
 *    come from distinct operand tokens separated by at least one byte, so
 *    at most (len + 1) / 2 <= STACK_MAX of them: both are still checked;
 *  - the first error wins; nothing is emitted after it.
 * formula_eval: one loop over the program with a fixed array as the value
 * stack: no recursion, no allocation, no globals, so any thread may run it.
 * Numbers are converted with strtod_l in the C locale, so the process
 * locale never changes what a formula means.
 */
#include "formula.h"

#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define STACK_MAX ((FORMULA_MAX_BYTES + 1) / 2)
#define EXCERPT_CHARS 24 /* longest number or name quoted in a reason */

enum op_kind { OP_CONST, OP_PRICE, OP_DAY_AVG, OP_MONTH_AVG, OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_NEG, OP_MIN, OP_MAX, OP_ROUND };

struct formula_op {
	enum op_kind kind;
	unsigned argc;   /* OP_MIN, OP_MAX: number of arguments (>= 2) */
	size_t position; /* byte offset of the operator, call name or operand */
	double value;    /* OP_CONST */
};

struct formula {
	unsigned uses; /* FORMULA_USES_* */
	size_t count;
	struct formula_op ops[]; /* postfix */
};

enum token_kind {
	T_END, T_NUMBER, T_VAR, T_FUNC, T_PLUS, T_MINUS, T_STAR, T_SLASH, T_LPAREN, T_RPAREN, T_COMMA,
};

struct token {
	enum token_kind kind;
	size_t position, len;
	double value;      /* T_NUMBER */
	enum op_kind func; /* T_FUNC: OP_MIN, OP_MAX or OP_ROUND; T_VAR: OP_PRICE, OP_DAY_AVG or OP_MONTH_AVG */
};

/* Where an operand has just ended: decides what may follow and the words
 * used when something else does. */
enum context { CTX_TOP, CTX_PAREN, CTX_CALL };

struct parser {
	const char *text;
	size_t len;
	size_t pos;     /* next byte for the lexer */
	struct token tok; /* current token */
	int depth;      /* open parentheses, call parentheses included */
	size_t stack, max_stack;
	size_t cap;
	struct formula *f;
	locale_t c_locale;
	struct formula_error *err;
	bool failed;
};

__attribute__((format(printf, 3, 4)))
static void set_error(struct formula_error *err, size_t position, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	err->position = position;
	va_start(ap, fmt);
	vsnprintf(err->reason, sizeof err->reason, fmt, ap);
	va_end(ap);
}

/* Records the first error only; always returns -1 for `return formula_parse_error(...)`. */
__attribute__((format(printf, 3, 4)))
static int formula_parse_error(struct parser *p, size_t position, const char *fmt, ...)
{
	va_list ap;

	if (p->failed)
		return -1;
	p->failed = true;
	if (p->err) {
		p->err->position = position;
		va_start(ap, fmt);
		vsnprintf(p->err->reason, sizeof p->err->reason, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_name_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_name_char(char c)
{
	return is_name_start(c) || is_digit(c);
}

/* Quotes text[start, end) for a reason, cut at EXCERPT_CHARS with "...". */
static void excerpt(const struct parser *p, size_t start, size_t end, char out[EXCERPT_CHARS + 4])
{
	size_t n = end - start;

	if (n > EXCERPT_CHARS) {
		memcpy(out, p->text + start, EXCERPT_CHARS);
		memcpy(out + EXCERPT_CHARS, "...", 4);
	} else {
		memcpy(out, p->text + start, n);
		out[n] = '\0';
	}
}

/* Words for the current token in "found X". */
static void describe(const struct parser *p, char out[EXCERPT_CHARS + 16])
{
	char text[EXCERPT_CHARS + 4];

	if (p->tok.kind == T_END) {
		strcpy(out, "the end");
		return;
	}
	excerpt(p, p->tok.position, p->tok.position + p->tok.len, text);
	snprintf(out, EXCERPT_CHARS + 16, "%s'%s'", p->tok.kind == T_NUMBER ? "number " : "", text);
}

static int lex_number(struct parser *p, size_t start)
{
	const char *s = p->text;
	size_t i = start, digits = 0, run;
	char excerpt_buf[EXCERPT_CHARS + 4];
	char buf[FORMULA_MAX_BYTES + 1];
	double v;

	while (i < p->len && is_digit(s[i])) {
		i++;
		digits++;
	}
	if (i < p->len && s[i] == '.') {
		i++;
		while (i < p->len && is_digit(s[i])) {
			i++;
			digits++;
		}
	}
	if (digits && i < p->len && (s[i] == 'e' || s[i] == 'E')) {
		size_t j = i + 1;

		if (j < p->len && (s[j] == '+' || s[j] == '-'))
			j++;
		if (j < p->len && is_digit(s[j])) {
			i = j;
			while (i < p->len && is_digit(s[i]))
				i++;
		}
	}
	/* A number must not run into a name, a second '.' or a bad exponent:
	 * "2price", "1.2.3", "1e", "0x10" are one malformed number. */
	if (!digits || (i < p->len && (is_name_char(s[i]) || s[i] == '.'))) {
		for (run = start; run < p->len && (is_name_char(s[run]) || s[run] == '.'); run++)
			;
		excerpt(p, start, run, excerpt_buf);
		return formula_parse_error(p, start, "malformed number '%s' at position %zu", excerpt_buf, start);
	}
	memcpy(buf, s + start, i - start);
	buf[i - start] = '\0';
	v = strtod_l(buf, NULL, p->c_locale);
	if (!isfinite(v)) {
		excerpt(p, start, i, excerpt_buf);
		return formula_parse_error(p, start, "number '%s' at position %zu is too large", excerpt_buf, start);
	}
	p->tok.kind = T_NUMBER;
	p->tok.len = i - start;
	p->tok.value = v;
	p->pos = i;
	return 0;
}

static int lex_name(struct parser *p, size_t start)
{
	static const struct { const char *name; enum op_kind op; } funcs[] = {
		{ "min", OP_MIN }, { "max", OP_MAX }, { "round", OP_ROUND },
	};
	static const struct { const char *name; enum op_kind op; } vars[] = {
		{ "price", OP_PRICE }, { "day_avg", OP_DAY_AVG }, { "month_avg", OP_MONTH_AVG },
	};
	const char *s = p->text;
	size_t i = start, n, k;
	char name[EXCERPT_CHARS + 4];

	while (i < p->len && is_name_char(s[i]))
		i++;
	n = i - start;
	p->tok.len = n;
	p->pos = i;
	for (k = 0; k < sizeof vars / sizeof vars[0]; k++) {
		if (strlen(vars[k].name) == n && memcmp(s + start, vars[k].name, n) == 0) {
			p->tok.kind = T_VAR;
			p->tok.func = vars[k].op;
			return 0;
		}
	}
	for (k = 0; k < sizeof funcs / sizeof funcs[0]; k++) {
		if (strlen(funcs[k].name) == n && memcmp(s + start, funcs[k].name, n) == 0) {
			p->tok.kind = T_FUNC;
			p->tok.func = funcs[k].op;
			return 0;
		}
	}
	excerpt(p, start, i, name);
	for (k = 0; k < sizeof vars / sizeof vars[0]; k++)
		if (strlen(vars[k].name) == n && strncasecmp(s + start, vars[k].name, n) == 0)
			return formula_parse_error(p, start, "unknown name '%s' at position %zu (names are case-sensitive: "
				"write '%s')", name, start, vars[k].name);
	while (i < p->len && is_space(s[i]))
		i++;
	if (i < p->len && s[i] == '(')
		return formula_parse_error(p, start, "unknown function '%s' at position %zu (only min, max and round)", name, start);
	return formula_parse_error(p, start, "unknown name '%s' at position %zu (only price, day_avg and month_avg)", name, start);
}

/* A non-ASCII byte, typically text pasted from a document: name the ASCII
 * that was meant when the UTF-8 sequence is a well-known look-alike. */
static int unexpected_utf8(struct parser *p)
{
	static const struct { const char *utf8, *name, *ascii; } lookalikes[] = {
		{ "\xc3\x97", "multiplication sign", "*" },     /* U+00D7 */
		{ "\xc3\xb7", "division sign", "/" },           /* U+00F7 */
		{ "\xe2\x88\x92", "Unicode minus sign", "-" }, /* U+2212 */
		{ "\xe2\x80\x93", "en dash", "-" },            /* U+2013 */
		{ "\xc2\xa0", "no-break space", " " },          /* U+00A0 */
	};
	size_t at = p->pos, k, n;

	for (k = 0; k < sizeof lookalikes / sizeof lookalikes[0]; k++) {
		n = strlen(lookalikes[k].utf8);
		if (p->len - at >= n && memcmp(p->text + at, lookalikes[k].utf8, n) == 0)
			return formula_parse_error(p, at, "unexpected %s at position %zu (write '%s' instead)", lookalikes[k].name,
				at, lookalikes[k].ascii);
	}
	return formula_parse_error(p, at, "unexpected byte 0x%02X at position %zu (only ASCII is allowed)",
		(unsigned char)p->text[at], at);
}

/* Reads the next token into p->tok. */
static int next(struct parser *p)
{
	static const char singles[] = "+-*/(),";
	static const enum token_kind single_kinds[] = {
		T_PLUS, T_MINUS, T_STAR, T_SLASH, T_LPAREN, T_RPAREN, T_COMMA,
	};
	const char *s = p->text;
	const char *hit;
	unsigned char c;

	if (p->failed)
		return -1;
	while (p->pos < p->len && is_space(s[p->pos]))
		p->pos++;
	p->tok.position = p->pos;
	p->tok.len = 0;
	if (p->pos >= p->len) {
		p->tok.kind = T_END;
		return 0;
	}
	c = (unsigned char)s[p->pos];
	if (is_digit((char)c) || c == '.')
		return lex_number(p, p->pos);
	if (is_name_start((char)c))
		return lex_name(p, p->pos);
	hit = c ? strchr(singles, c) : NULL;
	if (hit) {
		p->tok.kind = single_kinds[hit - singles];
		p->tok.len = 1;
		p->pos++;
		return 0;
	}
	if (c >= 0x80)
		return unexpected_utf8(p);
	if (c < 0x20 || c == 0x7f)
		return formula_parse_error(p, p->pos, "unexpected control byte 0x%02X at position %zu", c, p->pos);
	return formula_parse_error(p, p->pos, "unexpected character '%c' at position %zu (only numbers, price, + - * / ( ) "
		"min max round)", c, p->pos);
}

static int emit(struct parser *p, enum op_kind kind, size_t position, double value, unsigned argc)
{
	struct formula_op *op;

	if (p->f->count >= p->cap)
		return formula_parse_error(p, position, "formula is too complex at position %zu", position);
	switch (kind) {
	case OP_CONST:
	case OP_PRICE:
	case OP_DAY_AVG:
	case OP_MONTH_AVG:
		p->stack++;
		break;
	case OP_NEG:
		break;
	case OP_MIN:
	case OP_MAX:
		p->stack -= argc - 1;
		break;
	default: /* binary operators and round */
		p->stack--;
		break;
	}
	if (p->stack > p->max_stack)
		p->max_stack = p->stack;
	if (p->max_stack > STACK_MAX)
		return formula_parse_error(p, position, "formula is too complex at position %zu (more than %d pending values)",
			position, STACK_MAX);
	op = &p->f->ops[p->f->count++];
	op->kind = kind;
	op->argc = argc;
	op->position = position;
	op->value = value;
	return 0;
}

/* Complains about the current token, which stands where an operand has
 * just ended and something else than an operator was due. */
static int unexpected_after_operand(struct parser *p, enum context ctx, size_t open_position, const char *call)
{
	char found[EXCERPT_CHARS + 16];
	size_t at = p->tok.position;

	if (p->tok.kind == T_END) {
		if (ctx == CTX_PAREN)
			return formula_parse_error(p, open_position, "input ends inside parentheses opened at position %zu",
				open_position);
		if (ctx == CTX_CALL)
			return formula_parse_error(p, open_position, "input ends inside %s( opened at position %zu", call,
				open_position);
	}
	if (ctx == CTX_TOP && p->tok.kind == T_RPAREN)
		return formula_parse_error(p, at, "unexpected ')' at position %zu (no '(' to close)", at);
	if (ctx != CTX_CALL && p->tok.kind == T_COMMA)
		return formula_parse_error(p, at, "unexpected ',' at position %zu (write decimals with '.'; commas only "
			"separate min, max and round arguments)", at);
	describe(p, found);
	if (ctx == CTX_TOP)
		return formula_parse_error(p, at, "expected an operator or the end at position %zu, found %s", at, found);
	if (ctx == CTX_PAREN)
		return formula_parse_error(p, at, "expected an operator or ')' at position %zu, found %s", at, found);
	return formula_parse_error(p, at, "expected an operator, ',' or ')' at position %zu, found %s", at, found);
}

static int parse_expr(struct parser *p);

/* Consumes a '(' (the current token) after checking the depth limit. */
static int open_paren(struct parser *p)
{
	if (p->depth >= FORMULA_MAX_DEPTH)
		return formula_parse_error(p, p->tok.position, "parentheses nest deeper than %d levels at position %zu",
			FORMULA_MAX_DEPTH, p->tok.position);
	p->depth++;
	return next(p);
}

static unsigned op_uses(enum op_kind kind)
{
	switch (kind) {
	case OP_PRICE: return FORMULA_USES_PRICE;
	case OP_DAY_AVG: return FORMULA_USES_DAY_AVG;
	case OP_MONTH_AVG: return FORMULA_USES_MONTH_AVG;
	default: return 0;
	}
}

static unsigned program_uses(const struct formula_op *ops, size_t from, size_t count)
{
	unsigned uses = 0;

	for (size_t i = from; i < count; i++)
		uses |= op_uses(ops[i].kind);
	return uses;
}

static int run(const struct formula_op *ops, size_t count, const struct formula_inputs *in, double *out,
	struct formula_error *err);

static bool round_digits_ok(double n)
{
	return n >= 0 && n <= FORMULA_MAX_ROUND_DIGITS && n == floor(n);
}

/* call := name '(' expr (',' expr)* ')', the name being the current token. */
static int parse_call(struct parser *p)
{
	static const char *const names[] = { [OP_MIN] = "min", [OP_MAX] = "max", [OP_ROUND] = "round" };
	enum op_kind func = p->tok.func;
	const char *name = names[func];
	size_t name_position = p->tok.position, arg_position = 0, arg_start = 0;
	unsigned argc = 0;

	if (next(p))
		return -1;
	if (p->tok.kind != T_LPAREN)
		return formula_parse_error(p, p->tok.position, "expected '(' at position %zu after '%s'", p->tok.position, name);
	if (open_paren(p))
		return -1;
	if (p->tok.kind != T_RPAREN) {
		for (;;) {
			arg_position = p->tok.position;
			arg_start = p->f->count;
			if (parse_expr(p))
				return -1;
			argc++;
			if (p->tok.kind == T_RPAREN)
				break;
			if (p->tok.kind != T_COMMA)
				return unexpected_after_operand(p, CTX_CALL, name_position, name);
			if (next(p))
				return -1;
		}
	}
	if (func == OP_ROUND && argc != 2)
		return formula_parse_error(p, name_position, "round() takes 2 arguments, got %u (call at position %zu)", argc,
			name_position);
	if (func != OP_ROUND && argc < 2)
		return formula_parse_error(p, name_position, "%s() takes at least 2 arguments, got %u (call at position %zu)", name,
			argc, name_position);
	if (func == OP_ROUND && !program_uses(p->f->ops, arg_start, p->f->count)) {
		static const struct formula_inputs none = { 0.0, 0.0, 0.0 };
		double digits;

		/* Constant digits: judge them now. A constant that fails to
		 * evaluate (1/0) is left for formula_eval to report. */
		if (run(p->f->ops + arg_start, p->f->count - arg_start, &none, &digits, NULL) == 0 &&
				!round_digits_ok(digits))
			return formula_parse_error(p, arg_position, "round() digits must be a whole number from 0 to %d, got %g "
				"(at position %zu)", FORMULA_MAX_ROUND_DIGITS, digits, arg_position);
	}
	p->depth--;
	if (emit(p, func, name_position, 0.0, argc))
		return -1;
	return next(p);
}

/* primary := number | variable | call | '(' expr ')' */
static int parse_primary(struct parser *p)
{
	char found[EXCERPT_CHARS + 16];
	size_t at = p->tok.position;

	switch (p->tok.kind) {
	case T_NUMBER:
		if (emit(p, OP_CONST, at, p->tok.value, 0))
			return -1;
		return next(p);
	case T_VAR:
		if (emit(p, p->tok.func, at, 0.0, 0))
			return -1;
		return next(p);
	case T_FUNC:
		return parse_call(p);
	case T_LPAREN:
		if (open_paren(p) || parse_expr(p))
			return -1;
		if (p->tok.kind != T_RPAREN)
			return unexpected_after_operand(p, CTX_PAREN, at, NULL);
		p->depth--;
		return next(p);
	case T_END:
		return formula_parse_error(p, at, "unexpected end of input at position %zu (expected a number, 'price' or '(')", at);
	default:
		describe(p, found);
		return formula_parse_error(p, at, "expected a number, 'price' or '(' at position %zu, found %s", at, found);
	}
}

/* unary := ('-' | '+')* primary; an even number of '-' cancels out exactly. */
static int parse_unary(struct parser *p)
{
	bool negate = false;
	size_t minus_position = 0;

	while (p->tok.kind == T_MINUS || p->tok.kind == T_PLUS) {
		if (p->tok.kind == T_MINUS) {
			negate = !negate;
			minus_position = p->tok.position;
		}
		if (next(p))
			return -1;
	}
	if (parse_primary(p))
		return -1;
	return negate ? emit(p, OP_NEG, minus_position, 0.0, 0) : 0;
}

/* term := unary (('*' | '/') unary)* */
static int parse_term(struct parser *p)
{
	if (parse_unary(p))
		return -1;
	while (p->tok.kind == T_STAR || p->tok.kind == T_SLASH) {
		enum op_kind op = p->tok.kind == T_STAR ? OP_MUL : OP_DIV;
		size_t at = p->tok.position;

		if (next(p) || parse_unary(p) || emit(p, op, at, 0.0, 0))
			return -1;
	}
	return 0;
}

/* expr := term (('+' | '-') term)* */
static int parse_expr(struct parser *p)
{
	if (parse_term(p))
		return -1;
	while (p->tok.kind == T_PLUS || p->tok.kind == T_MINUS) {
		enum op_kind op = p->tok.kind == T_PLUS ? OP_ADD : OP_SUB;
		size_t at = p->tok.position;

		if (next(p) || parse_term(p) || emit(p, op, at, 0.0, 0))
			return -1;
	}
	return 0;
}

struct formula *formula_compile(const char *text, struct formula_error *err)
{
	struct parser p = { .text = text, .err = err };
	size_t i;

	if (err) {
		err->position = 0;
		err->reason[0] = '\0';
	}
	if (!text) {
		set_error(err, 0, "no formula (NULL text)");
		return NULL;
	}
	p.len = strnlen(text, FORMULA_MAX_BYTES + 1);
	if (p.len > FORMULA_MAX_BYTES) {
		set_error(err, FORMULA_MAX_BYTES, "formula is longer than %d bytes", FORMULA_MAX_BYTES);
		return NULL;
	}
	for (i = 0; i < p.len && is_space(text[i]); i++)
		;
	if (i == p.len) {
		set_error(err, 0, "formula is empty");
		return NULL;
	}
	/* glibc returns its static C locale here without allocating. */
	p.c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
	p.cap = p.len;
	p.f = malloc(sizeof *p.f + p.cap * sizeof p.f->ops[0]);
	if (!p.c_locale || !p.f) {
		set_error(err, 0, "out of memory while compiling the formula");
		goto fail;
	}
	p.f->count = 0;
	p.f->uses = 0;
	if (next(&p) || parse_expr(&p))
		goto fail;
	if (p.tok.kind != T_END) {
		unexpected_after_operand(&p, CTX_TOP, 0, NULL);
		goto fail;
	}
	freelocale(p.c_locale);
	p.f->uses = program_uses(p.f->ops, 0, p.f->count);
	return p.f;
fail:
	if (p.c_locale)
		freelocale(p.c_locale);
	free(p.f);
	return NULL;
}

/* x rounded half away from zero to n decimals (0 <= n <= 10). The tie
 * k + 0.5 (in units of 10^-n) is taken to be hit when x is the double
 * nearest to that decimal, so round(1.005, 2) = 1.01 although the double
 * 1.005 lies just below it. k / 10^n is correctly rounded, so the result
 * is the double nearest to the decimal printed with n places. */
static double round_decimals(double x, int n)
{
	static const double pow10[FORMULA_MAX_ROUND_DIGITS + 1] = {
		1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	};
	double p = pow10[n], a = fabs(x), k, r;

	if (!(a * p < 4503599627370496.0)) /* 2^52: no digits left to drop */
		return x;
	k = floor(a * p);
	if (a >= (k + 0.5) / p)
		k += 1;
	r = k / p;
	return x < 0 ? -r : r;
}

static const char *op_symbol(enum op_kind kind)
{
	switch (kind) {
	case OP_ADD: return "+";
	case OP_SUB: return "-";
	case OP_MUL: return "*";
	case OP_DIV: return "/";
	case OP_MIN: return "min()";
	case OP_MAX: return "max()";
	case OP_ROUND: return "round()";
	default: return "value";
	}
}

/* Runs a postfix program that compile checked: never more than STACK_MAX
 * values, never an underflow, exactly one value at the end. */
static int run(const struct formula_op *ops, size_t count, const struct formula_inputs *in, double *out,
	struct formula_error *err)
{
	double stack[STACK_MAX];
	size_t sp = 0;

	for (size_t i = 0; i < count; i++) {
		const struct formula_op *op = &ops[i];
		double r = 0.0;

		switch (op->kind) {
		case OP_CONST:
			stack[sp++] = op->value;
			continue;
		case OP_PRICE:
			stack[sp++] = in->price;
			continue;
		case OP_DAY_AVG:
			stack[sp++] = in->day_avg;
			continue;
		case OP_MONTH_AVG:
			stack[sp++] = in->month_avg;
			continue;
		case OP_NEG:
			stack[sp - 1] = -stack[sp - 1];
			continue;
		case OP_ADD:
			sp--;
			r = stack[sp - 1] + stack[sp];
			break;
		case OP_SUB:
			sp--;
			r = stack[sp - 1] - stack[sp];
			break;
		case OP_MUL:
			sp--;
			r = stack[sp - 1] * stack[sp];
			break;
		case OP_DIV:
			sp--;
			if (stack[sp] == 0.0) {
				set_error(err, op->position, "division by zero at position %zu", op->position);
				return -1;
			}
			r = stack[sp - 1] / stack[sp];
			break;
		case OP_MIN:
		case OP_MAX:
			sp -= op->argc - 1;
			r = stack[sp - 1];
			for (unsigned a = 1; a < op->argc; a++) {
				double v = stack[sp - 1 + a];

				if (op->kind == OP_MIN ? v < r : v > r)
					r = v;
			}
			break;
		case OP_ROUND:
			sp--;
			if (!round_digits_ok(stack[sp])) {
				set_error(err, op->position, "round() digits must be a whole number from 0 to %d, got %g "
					"(call at position %zu)", FORMULA_MAX_ROUND_DIGITS, stack[sp], op->position);
				return -1;
			}
			r = round_decimals(stack[sp - 1], (int)stack[sp]);
			break;
		}
		if (!isfinite(r)) {
			set_error(err, op->position, "'%s' at position %zu overflows (result is not finite)",
				op_symbol(op->kind), op->position);
			return -1;
		}
		stack[sp - 1] = r;
	}
	*out = stack[0] == 0.0 ? 0.0 : stack[0]; /* no -0 in the database */
	return 0;
}

int formula_eval(const struct formula *f, const struct formula_inputs *in, double *out, struct formula_error *err)
{
	if (err) {
		err->position = 0;
		err->reason[0] = '\0';
	}
	if (!f || !out || !in) {
		set_error(err, 0, "no formula to evaluate");
		return -1;
	}
	if (!isfinite(in->price)) {
		set_error(err, 0, "the price is not a finite number (%g EUR/MWh)", in->price);
		return -1;
	}
	if (!isfinite(in->day_avg) || !isfinite(in->month_avg)) {
		set_error(err, 0, "an average price is not a finite number (day_avg %g, month_avg %g EUR/MWh)", in->day_avg,
			in->month_avg);
		return -1;
	}
	return run(f->ops, f->count, in, out, err);
}

unsigned formula_uses(const struct formula *f)
{
	return f ? f->uses : 0;
}

void formula_free(struct formula *f)
{
	free(f);
}
