/* test_expr.c - unit tests of the expression/equation parser (engine/src/expr.c). */
#include "check.h"
#include "expr.h"

#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- helpers */

#define CHECK_STR(a, b)                                                       \
    do {                                                                      \
        const char *sa_ = (a), *sb_ = (b);                                    \
        check_count_++;                                                       \
        if (!sa_ || !sb_ || strcmp(sa_, sb_) != 0) {                          \
            check_failures_++;                                                \
            fprintf(stderr, "%s:%d: %s == %s failed:\n  got:  \"%s\"\n  want: \"%s\"\n", \
                    __FILE__, __LINE__, #a, #b, sa_ ? sa_ : "(null)",         \
                    sb_ ? sb_ : "(null)");                                    \
        }                                                                     \
    } while (0)

typedef struct {
    const char *name;
    double val;
} var_t;

/* Values used by the evaluator. */
static const var_t VARS[] = {
    {"v", 1.3},  {"x", 0.7},     {"tau", 2.5},  {"tau_m", 0.02}, {"v_rest", -0.07}, {"R", 1e7},
    {"I", 2e-9}, {"E", -0.08},   {"g", 3e-9},   {"a", 1.0},      {"b", 2.0},        {"c", 0.0},
    {"d", -3.0}, {"C_m", 2e-10}, {"w", 0.25},
};
#define NVARS ((int)(sizeof VARS / sizeof VARS[0]))

/* Set by the evaluator when some intermediate value is not finite. */
static int eval_nonfinite;

static double eval_node(const nk_expr *e, double v);

/* A tiny evaluator, independent of the library: comparisons and logic give
 * 0/1 like C, rand() is 0.5 and randn() is 0.25. v may be overridden. */
static double eval_v(const nk_expr *e, double v)
{
    double r = eval_node(e, v);
    if (!isfinite(r))
        eval_nonfinite = 1;
    return r;
}

static double eval_node(const nk_expr *e, double v)
{
    int i;
    double x, y, z;
    switch (e->kind) {
    case NK_EX_NUM: return e->num;
    case NK_EX_VAR:
        if (strcmp(e->name, "v") == 0)
            return v;
        for (i = 0; i < NVARS; i++)
            if (strcmp(e->name, VARS[i].name) == 0)
                return VARS[i].val;
        return NAN;
    case NK_EX_NEG: return -eval_v(e->args[0], v);
    case NK_EX_NOT: return !eval_v(e->args[0], v);
    case NK_EX_COND: return eval_v(e->args[0], v) != 0 ? eval_v(e->args[1], v) : eval_v(e->args[2], v);
    case NK_EX_BIN:
        x = eval_v(e->args[0], v);
        y = eval_v(e->args[1], v);
        switch (e->op) {
        case NK_OP_ADD: return x + y;
        case NK_OP_SUB: return x - y;
        case NK_OP_MUL: return x * y;
        case NK_OP_DIV: return x / y;
        case NK_OP_POW: return pow(x, y);
        case NK_OP_LT: return x < y;
        case NK_OP_LE: return x <= y;
        case NK_OP_GT: return x > y;
        case NK_OP_GE: return x >= y;
        case NK_OP_EQ: return x == y;
        case NK_OP_NE: return x != y;
        case NK_OP_AND: return x != 0 && y != 0;
        case NK_OP_OR: return x != 0 || y != 0;
        }
        return NAN;
    case NK_EX_CALL: {
        const char *n = e->name;
        x = e->nargs > 0 ? eval_v(e->args[0], v) : 0;
        y = e->nargs > 1 ? eval_v(e->args[1], v) : 0;
        z = e->nargs > 2 ? eval_v(e->args[2], v) : 0;
        if (!strcmp(n, "exp")) return exp(x);
        if (!strcmp(n, "log")) return log(x);
        if (!strcmp(n, "log10")) return log10(x);
        if (!strcmp(n, "sqrt")) return sqrt(x);
        if (!strcmp(n, "sin")) return sin(x);
        if (!strcmp(n, "cos")) return cos(x);
        if (!strcmp(n, "tan")) return tan(x);
        if (!strcmp(n, "tanh")) return tanh(x);
        if (!strcmp(n, "sinh")) return sinh(x);
        if (!strcmp(n, "cosh")) return cosh(x);
        if (!strcmp(n, "abs")) return fabs(x);
        if (!strcmp(n, "floor")) return floor(x);
        if (!strcmp(n, "ceil")) return ceil(x);
        if (!strcmp(n, "sign")) return (x > 0) - (x < 0);
        if (!strcmp(n, "expm1")) return expm1(x);
        if (!strcmp(n, "log1p")) return log1p(x);
        if (!strcmp(n, "pow")) return pow(x, y);
        if (!strcmp(n, "min")) return fmin(x, y);
        if (!strcmp(n, "max")) return fmax(x, y);
        if (!strcmp(n, "clip")) return fmin(fmax(x, y), z);
        if (!strcmp(n, "rand")) return 0.5;
        if (!strcmp(n, "randn")) return 0.25;
        return NAN;
    }
    }
    return NAN;
}

static double eval(const nk_expr *e) { return eval_v(e, 1.3); }

/* Parses src and returns its value (NAN on a parse error, which is a failure). */
static double ev(const char *src)
{
    char err[512];
    nk_expr *e = nk_expr_parse(src, err, sizeof err);
    double r;
    CHECK(e != NULL);
    if (!e) {
        fprintf(stderr, "  parse of \"%s\" failed: %s\n", src, err);
        return NAN;
    }
    r = eval(e);
    nk_expr_free(e);
    return r;
}

/* Parses and prints back; returns a static buffer. */
static const char *rt(const char *src)
{
    static char buf[1024];
    char err[512];
    nk_expr *e = nk_expr_parse(src, err, sizeof err);
    if (!e) {
        snprintf(buf, sizeof buf, "ERROR: %s", err);
        return buf;
    }
    if (nk_expr_to_str(e, buf, sizeof buf) < 0)
        snprintf(buf, sizeof buf, "TO_STR FAILED");
    nk_expr_free(e);
    return buf;
}

/* Parses and returns the error message (static buffer; "" if it parsed). */
static const char *perr(const char *src)
{
    static char err[1024];
    nk_expr *e;
    err[0] = '\0';
    e = nk_expr_parse(src, err, sizeof err);
    if (e) {
        nk_expr_free(e);
        return "";
    }
    return err;
}

static const char *serr(const char *src)
{
    static char err[1024];
    nk_stmt_list l;
    err[0] = '\0';
    l.items = (nk_stmt *)1; /* must be overwritten */
    l.n = 7;
    if (nk_stmts_parse(src, &l, err, sizeof err) == 0) {
        nk_stmts_free(&l);
        return "";
    }
    CHECK(l.items == NULL && l.n == 0);
    return err;
}

static int contains(const char *hay, const char *needle) { return hay && strstr(hay, needle) != NULL; }

/* to_c with names as they are; static buffer. */
static const char *to_c(const char *src)
{
    static char buf[2048];
    char err[512];
    nk_expr *e = nk_expr_parse(src, err, sizeof err);
    int r;
    if (!e) {
        snprintf(buf, sizeof buf, "ERROR: %s", err);
        return buf;
    }
    r = nk_expr_to_c(e, buf, sizeof buf, NULL, NULL);
    CHECK(r == (int)strlen(buf));
    nk_expr_free(e);
    return buf;
}

/* ------------------------------------------------------------- precedence */

static void test_precedence(void)
{
    CHECK_NEAR(ev("2^3^2"), 512, 0);
    CHECK_NEAR(ev("2**3**2"), 512, 0);
    CHECK_NEAR(ev("(2^3)^2"), 64, 0);
    CHECK_NEAR(ev("-2^2"), -4, 0);
    CHECK_NEAR(ev("(-2)^2"), 4, 0);
    CHECK_NEAR(ev("2^-1"), 0.5, 0);
    CHECK_NEAR(ev("-2^-2"), -0.25, 0);
    CHECK_NEAR(ev("1 + 2 * 3"), 7, 0);
    CHECK_NEAR(ev("(1 + 2) * 3"), 9, 0);
    CHECK_NEAR(ev("10 - 4 - 3"), 3, 0);
    CHECK_NEAR(ev("64 / 4 / 2"), 8, 0);
    CHECK_NEAR(ev("2 * 3 ^ 2"), 18, 0);
    CHECK_NEAR(ev("- - 3"), 3, 0);
    CHECK_NEAR(ev("+3 - +2"), 1, 0);
    CHECK_NEAR(ev("2 * -3"), -6, 0);
    CHECK_NEAR(ev("1 < 2 and 3 > 4 or not 0"), 1, 0);
    CHECK_NEAR(ev("1 < 2 and 3 > 4"), 0, 0);
    CHECK_NEAR(ev("not 1 < 2"), 0, 0);
    CHECK_NEAR(ev("not 0 and 0"), 0, 0);
    CHECK_NEAR(ev("0 and 0 or 1"), 1, 0);
    CHECK_NEAR(ev("1 or 0 and 0"), 1, 0);
    CHECK_NEAR(ev("!0 && 1 || 0"), 1, 0);
    CHECK_NEAR(ev("1 + 1 == 2"), 1, 0);
    CHECK_NEAR(ev("1 != 1"), 0, 0);
    CHECK_NEAR(ev("2 <= 2 and 2 >= 3"), 0, 0);
    CHECK_NEAR(ev("1 ? 2 : 3"), 2, 0);
    CHECK_NEAR(ev("0 ? 2 : 3"), 3, 0);
    CHECK_NEAR(ev("0 ? 1 : 0 ? 2 : 3"), 3, 0);     /* right-assoc: 0 ? 1 : (0 ? 2 : 3) */
    CHECK_NEAR(ev("1 ? 0 ? 5 : 6 : 7"), 6, 0);
    CHECK_NEAR(ev("1 > 2 or 1 ? 10 : 20"), 10, 0); /* ?: lowest */
    CHECK_NEAR(ev("1 + (0 ? 1 : 2) * 3"), 7, 0);
    CHECK_NEAR(ev("max(1, 2) + min(3, -4) + pow(2, 10) + clip(5, 0, 1)"), 2 - 4 + 1024 + 1, 0);
    CHECK_NEAR(ev("abs(-2) + sign(-3) + floor(1.5) + ceil(1.5)"), 2 - 1 + 1 + 2, 0);
    CHECK_NEAR(ev("rand() + randn()"), 0.75, 0);
    CHECK_NEAR(ev("1.5 + .5 + 1e-3 + 2.5E+2 + 2. + 1e3"), 1.5 + .5 + 1e-3 + 2.5e2 + 2 + 1e3, 1e-12);
    CHECK_NEAR(ev("(v_rest - v + R*I)/tau_m"), (-0.07 - 1.3 + 1e7 * 2e-9) / 0.02, 1e-9);
    CHECK_NEAR(ev("exp(-v/tau) # a comment\n + 1"), exp(-1.3 / 2.5) + 1, 1e-15);

    /* printed back with minimal parentheses */
    CHECK_STR(rt("2^3^2"), "2^3^2");
    CHECK_STR(rt("(2^3)^2"), "(2^3)^2");
    CHECK_STR(rt("-x^2"), "-x^2");
    CHECK_STR(rt("(-x)^2"), "(-x)^2");
    CHECK_STR(rt("a - (b - c)"), "a - (b - c)");
    CHECK_STR(rt("(a - b) - c"), "a - b - c");
    CHECK_STR(rt("a / (b * c)"), "a/(b*c)");
    CHECK_STR(rt("(v_rest - v + R*I)/tau_m"), "(v_rest - v + R*I)/tau_m");
    CHECK_STR(rt("1 < 2 and 3 > 4 or not 0"), "1 < 2 and 3 > 4 or not 0");
    CHECK_STR(rt("a && (b || c)"), "a and (b or c)");
    CHECK_STR(rt("!(a < b)"), "not a < b");
    CHECK_STR(rt("a ? b : c ? d : x"), "a ? b : c ? d : x");
    CHECK_STR(rt("(a ? b : c) ? d : x"), "(a ? b : c) ? d : x");
    CHECK_STR(rt("a + (b ? c : d)"), "a + (b ? c : d)");
    CHECK_STR(rt("x - -y"), "x - -y");
    CHECK_STR(rt("-(-(x))"), "- -x");
    CHECK_STR(rt("2^-x"), "2^-x");
    CHECK_STR(rt("f_1 + rand() * exp( -v / tau )"), "f_1 + rand()*exp(-v/tau)");
    CHECK_STR(rt("2.5E+2 + .5 + 1e-3 + 2. + 1e-7 + 1e300"), "250 + 0.5 + 0.001 + 2 + 1e-7 + 1e+300");
    CHECK_STR(rt("0.1"), "0.1");
    CHECK_STR(rt("t + dt + i + pi + e"), "t + dt + i + pi + e");
}

/* ----------------------------------------------------------------- errors */

static void test_errors(void)
{
    /* the column/caret example, through the statement parser */
    CHECK_STR(serr("dv/dt = (v_rest - v/tau_m"),
              "column 26: expected ')' but found end of input\n"
              "  dv/dt = (v_rest - v/tau_m\n"
              "                           ^");
    CHECK_STR(perr("(v_rest - v/tau_m"),
              "column 18: expected ')' but found end of input\n"
              "  (v_rest - v/tau_m\n"
              "                   ^");
    CHECK_STR(perr(""), "column 1: expected an expression\n  \n  ^");
    CHECK_STR(perr("1 +"), "column 4: expected an expression\n  1 +\n     ^");
    CHECK_STR(perr("1 * * 2"), "column 5: unexpected '*'\n  1 * * 2\n      ^");
    CHECK_STR(perr("x + 1e"), "column 5: number '1e' is malformed\n  x + 1e\n      ^");
    CHECK_STR(serr("dv/dt -v"), "column 7: 'dv/dt' must be followed by '='\n  dv/dt -v\n        ^");
    CHECK_STR(perr("exp(v, 2)"), "column 1: function 'exp' takes 1 argument, got 2\n  exp(v, 2)\n  ^");
    CHECK_STR(perr("1 + pow(v)"), "column 5: function 'pow' takes 2 arguments, got 1\n  1 + pow(v)\n      ^");
    CHECK_STR(perr("rand(1)"), "column 1: function 'rand' takes 0 arguments, got 1\n  rand(1)\n  ^");
    CHECK_STR(perr("2*exx(v)"), "column 3: unknown function 'exx' (did you mean 'exp'?)\n  2*exx(v)\n    ^");
    CHECK_STR(perr("frobnicate(v)"), "column 1: unknown function 'frobnicate'\n  frobnicate(v)\n  ^");
    CHECK_STR(serr("dv/dt = -v/tau : mV (unles refractory)"),
              "column 22: unknown flag 'unles refractory' (known flags: 'unless refractory')\n"
              "  dv/dt = -v/tau : mV (unles refractory)\n"
              "                       ^");
    /* multi-line input gives the line; columns within that line */
    CHECK_STR(serr("x = 1\ny = 2 * * 3"), "line 2, column 9: unexpected '*'\n  y = 2 * * 3\n          ^");
    CHECK_STR(perr("a +\n  (b *"), "line 2, column 7: expected an expression\n    (b *\n        ^");
    CHECK_STR(serr("a = 1; b = (c"), "column 14: expected ')' but found end of input\n  a = 1; b = (c\n               ^");
    CHECK_STR(serr("\tdv/dt = )"), "column 10: unexpected ')'\n  \tdv/dt = )\n  \t        ^");

    /* other classes (checked by content) */
    CHECK(contains(perr("1e+"), "number '1e+' is malformed"));
    CHECK(contains(perr("1.2.3"), "number '1.2.3' is malformed"));
    CHECK(contains(perr("3mV"), "number '3mV' is malformed"));
    CHECK(contains(perr("1e999"), "number '1e999' is out of range"));
    CHECK(contains(perr("a @ b"), "column 3: unexpected character '@'"));
    CHECK(contains(perr("a \xc2\xb5 b"), "column 3: unexpected character '\xc2\xb5'"));
    CHECK(contains(perr("a \x01"), "column 3: unexpected byte 0x01"));
    /* columns count characters, not bytes */
    CHECK_STR(serr("x = 1 : \xc2\xb5m; y = 2 *"),
              "column 20: expected an expression\n  x = 1 : \xc2\xb5m; y = 2 *\n                     ^");
    CHECK(contains(perr("a \xff"), "column 3: unexpected byte 0xFF"));
    CHECK(contains(perr("a & b"), "unexpected character '&'"));
    CHECK(contains(perr("(a"), "expected ')' but found end of input"));
    CHECK(contains(perr("a)"), "column 2: unexpected ')'"));
    CHECK(contains(perr("a b"), "column 3: unexpected 'b'"));
    CHECK(contains(perr("v = 1"), "unexpected '=' (use '==' to compare)"));
    CHECK(contains(perr("a ? b"), "expected ':' but found end of input"));
    CHECK(contains(perr("min(a,)"), "unexpected ')'"));
    CHECK(contains(perr("min(a b)"), "expected ')' but found 'b'"));
    CHECK(contains(perr("1 < 2 < 3"), "column 7: comparisons cannot be chained"));
    CHECK(contains(perr("and"), "unexpected 'and'"));
    CHECK(contains(perr("."), "unexpected character '.'"));
    CHECK(contains(perr("   "), "expected an expression"));
    CHECK(contains(perr("x;"), "unexpected ';'"));
    CHECK(contains(serr("3 = x"), "expected 'NAME = ...' or 'dNAME/dt = ...' but found '3'"));
    CHECK(contains(serr("v > 1"), "expected '=', '+=', '-=', '*=' or '/=' after 'v' but found '>'"));
    CHECK(contains(serr("x = a :  "), "expected a unit after ':'"));
    CHECK(contains(serr("x += 1 : mV"), "unexpected ':'"));
    CHECK(contains(serr("x = 1 (shared)"), "unknown flag 'shared' (known flags: 'constant over dt')"));
    CHECK(contains(serr("dv/dt = 1 (unless refractory, unless refractory)"), "flag 'unless refractory' given twice"));
    CHECK(contains(serr("dv/dt = 1 (unless refractory,)"), "expected a flag name"));
    CHECK(contains(serr("dv/dt = 1 (unless refractory) (unless refractory)"), "unexpected '('"));
    CHECK(contains(serr("dv/dt = 1 : mV : mV"), "unexpected ':'"));
    CHECK(contains(serr("dv/dt = "), "column 8: expected an expression"));
    CHECK(contains(serr("x = foo(a)"), "unknown function 'foo'"));
    {
        char err[8];
        /* a short buffer truncates but stays terminated */
        CHECK(nk_expr_parse("(", err, sizeof err) == NULL);
        CHECK(strlen(err) == sizeof err - 1);
        CHECK(nk_expr_parse("(", NULL, 0) == NULL);
        CHECK(nk_expr_parse(NULL, err, sizeof err) == NULL);
    }
    /* a very long line is shown as a window around the caret */
    {
        char src[4000], *m;
        int i, k = 0;
        for (i = 0; i < 600; i++)
            k += snprintf(src + k, sizeof src - (size_t)k, "a+");
        snprintf(src + k, sizeof src - (size_t)k, "*b");
        m = (char *)perr(src);
        CHECK(contains(m, "column 1201: unexpected '*'\n  ..."));
        CHECK(strlen(m) < 400);
        /* the caret sits under the '*' in the window */
        {
            char *l1 = strchr(m, '\n'), *l2 = l1 ? strchr(l1 + 1, '\n') : NULL;
            char *star = l1 ? strstr(l1 + 1, "+*b") : NULL;
            CHECK(l2 && star && strchr(l2 + 1, '^') - (l2 + 1) == star + 1 - (l1 + 1));
        }
    }
    /* nk_src_error for later stages */
    {
        char err[256];
        const char *src = "dv/dt = -v/tau\nx = y + zz";
        int r = nk_src_error(src, 2, 9, err, sizeof err, "unknown identifier '%s'", "zz");
        CHECK_EQ_INT(r, NK_EXPR_ESYNTAX);
        CHECK_STR(err, "line 2, column 9: unknown identifier 'zz'\n  x = y + zz\n          ^");
        nk_src_error("v > v_th", 1, 5, err, sizeof err, "unknown identifier 'v_th'");
        CHECK_STR(err, "column 5: unknown identifier 'v_th'\n  v > v_th\n      ^");
    }
}

/* ------------------------------------------------------------- statements */

static void test_statements(void)
{
    nk_stmt_list l;
    char err[512], buf[512];
    const char *src = "# membrane\n"
                      "dv/dt = (v_rest - v)/tau_m + I/C_m : mV (unless refractory)  # the ODE\n"
                      "  dw/dt = -w/tau (unless refractory) : 1\n"
                      "\n"
                      "I = g*(E - v) : amp; x += 2 ;; y -= w\r\n"
                      "y *= 3; y /= 2 # halve\n"
                      "z = c ? a : b : metre/(second*kg)\n"
                      "q = 1 : 1/(second) (constant over dt)\n"
                      "r = 2 (constant over dt)\n"
                      ";\n";
    int r = nk_stmts_parse(src, &l, err, sizeof err);
    CHECK_EQ_INT(r, 0);
    if (r != 0) {
        fprintf(stderr, "  %s\n", err);
        return;
    }
    CHECK_EQ_INT(l.n, 10);
    if (l.n != 10) {
        nk_stmts_free(&l);
        return;
    }
    CHECK(l.items[0].kind == NK_ST_ODE);
    CHECK_STR(l.items[0].target, "v");
    CHECK(l.items[0].op == '=');
    CHECK_STR(l.items[0].unit, "mV");
    CHECK_EQ_INT(l.items[0].nflags, 1);
    CHECK_STR(l.items[0].flags[0], "unless refractory");
    CHECK_EQ_INT(l.items[0].line, 2);
    CHECK_STR(l.items[0].text, "dv/dt = (v_rest - v)/tau_m + I/C_m : mV (unless refractory)");
    nk_expr_to_str(l.items[0].rhs, buf, sizeof buf);
    CHECK_STR(buf, "(v_rest - v)/tau_m + I/C_m");
    CHECK_EQ_INT(l.items[0].rhs->line, 2); /* '+' of the sum */
    CHECK_EQ_INT(l.items[0].rhs->col, 28);

    CHECK(l.items[1].kind == NK_ST_ODE);
    CHECK_STR(l.items[1].target, "w");
    CHECK_STR(l.items[1].unit, "1");
    CHECK_EQ_INT(l.items[1].nflags, 1);
    CHECK_STR(l.items[1].flags[0], "unless refractory");
    CHECK_EQ_INT(l.items[1].line, 3);
    CHECK_STR(l.items[1].text, "dw/dt = -w/tau (unless refractory) : 1");
    /* position of 'w' in "  dw/dt = -w/tau": column 12 of line 3 */
    CHECK(l.items[1].rhs->kind == NK_EX_NEG || l.items[1].rhs->kind == NK_EX_BIN);

    CHECK(l.items[2].kind == NK_ST_ASSIGN);
    CHECK_STR(l.items[2].target, "I");
    CHECK(l.items[2].op == '=');
    CHECK_STR(l.items[2].unit, "amp");
    CHECK_EQ_INT(l.items[2].line, 5);
    CHECK(l.items[3].op == '+' && !strcmp(l.items[3].target, "x") && l.items[3].unit == NULL);
    CHECK(l.items[4].op == '-' && !strcmp(l.items[4].target, "y"));
    CHECK_STR(l.items[4].text, "y -= w");
    CHECK(l.items[5].op == '*' && l.items[5].line == 6);
    CHECK(l.items[6].op == '/' && l.items[6].line == 6);
    CHECK_STR(l.items[6].text, "y /= 2");
    CHECK_STR(l.items[7].unit, "metre/(second*kg)");
    nk_expr_to_str(l.items[7].rhs, buf, sizeof buf);
    CHECK_STR(buf, "c ? a : b");
    CHECK_STR(l.items[8].unit, "1/(second)");
    CHECK(l.items[8].nflags == 1 && !strcmp(l.items[8].flags[0], "constant over dt"));
    CHECK(l.items[9].unit == NULL && l.items[9].nflags == 1);
    nk_stmts_free(&l);
    CHECK(l.items == NULL && l.n == 0);
    nk_stmts_free(&l);
    nk_stmts_free(NULL);

    /* flags written without a space, and the flag-looking call */
    r = nk_stmts_parse("dv/dt = -v/tau(unless refractory)", &l, err, sizeof err);
    CHECK(r == 0 && l.n == 1 && l.items[0].nflags == 1 && l.items[0].unit == NULL);
    if (r == 0) {
        nk_expr_to_str(l.items[0].rhs, buf, sizeof buf);
        CHECK_STR(buf, "-v/tau");
        nk_stmts_free(&l);
    }
    /* empty input and comments only */
    r = nk_stmts_parse("  \n # nothing\n ; ;", &l, err, sizeof err);
    CHECK(r == 0 && l.n == 0 && l.items == NULL);
    nk_stmts_free(&l);
    /* positions of a later statement's nodes refer to src */
    r = nk_stmts_parse("a = 1\n  b = c", &l, err, sizeof err);
    CHECK(r == 0 && l.n == 2);
    if (r == 0 && l.n == 2) {
        CHECK_EQ_INT(l.items[1].rhs->line, 2);
        CHECK_EQ_INT(l.items[1].rhs->col, 7);
    }
    nk_stmts_free(&l);
    CHECK(nk_stmts_parse(NULL, &l, err, sizeof err) == NK_EXPR_EINVAL);
    CHECK(nk_stmts_parse("x = 1", NULL, err, sizeof err) == NK_EXPR_EINVAL);
}

/* ------------------------------------------------------------ tree basics */

static int collect(const char *name, int line, int col, void *ud)
{
    char *s = ud;
    char t[64];
    snprintf(t, sizeof t, "%s@%d:%d ", name, line, col);
    strcat(s, t);
    return strcmp(name, "STOP") == 0 ? 42 : 0;
}

static void test_tree(void)
{
    char err[256], s[256] = "";
    nk_expr *e = nk_expr_parse("a + min(b, c) * -d > 0 ? x :\n v", err, sizeof err), *c, *f;
    CHECK(e != NULL);
    if (!e)
        return;
    CHECK_EQ_INT(nk_expr_walk_vars(e, collect, s), 0);
    CHECK_STR(s, "a@1:1 b@1:9 c@1:12 d@1:18 x@1:26 v@2:2 ");
    CHECK(nk_expr_uses(e, "d") && !nk_expr_uses(e, "min") && !nk_expr_uses(e, "e"));
    CHECK(!nk_expr_is_boolean(e));
    CHECK(nk_expr_is_boolean(e->args[0]));
    CHECK(e->kind == NK_EX_COND && e->line == 1 && e->col == 24);
    c = nk_expr_clone(e);
    CHECK(c && nk_expr_equal(c, e) && c != e);
    f = nk_expr_parse("a + min(b, c) * -d > 0 ? x : w", err, sizeof err);
    CHECK(f && !nk_expr_equal(f, e));
    nk_expr_free(c);
    nk_expr_free(f);
    nk_expr_free(e);
    nk_expr_free(NULL);

    e = nk_expr_parse("a + STOP + b", err, sizeof err);
    s[0] = '\0';
    CHECK_EQ_INT(nk_expr_walk_vars(e, collect, s), 42);
    CHECK_STR(s, "a@1:1 STOP@1:5 ");
    nk_expr_free(e);

    CHECK(nk_expr_func_arity("clip") == 3 && nk_expr_func_arity("rand") == 0 && nk_expr_func_arity("foo") == -1);
    e = nk_expr_parse("not a or v > 1 and b", err, sizeof err);
    CHECK(nk_expr_is_boolean(e));
    nk_expr_free(e);
    e = nk_expr_parse("c ? v > 1 : v < -1", err, sizeof err);
    CHECK(nk_expr_is_boolean(e));
    nk_expr_free(e);

    /* hand-built trees */
    {
        nk_expr *args[2];
        args[0] = nk_expr_var("v");
        args[1] = nk_expr_num(2);
        e = nk_expr_bin(NK_OP_ADD, nk_expr_neg(nk_expr_var("x")), nk_expr_call("pow", args, 2));
        CHECK(e != NULL);
        CHECK_EQ_INT(nk_expr_to_str(e, s, sizeof s), (int)strlen("-x + pow(v, 2)"));
        CHECK_STR(s, "-x + pow(v, 2)");
        nk_expr_free(e);
        e = nk_expr_cond(nk_expr_not(nk_expr_var("a")), nk_expr_num(-1.5), nk_expr_bin(NK_OP_MUL, nk_expr_num(2), NULL));
        CHECK(e == NULL); /* NULL child: everything freed (LeakSanitizer checks) */
    }
}

/* ------------------------------------------------------------------- diff */

static nk_expr *D(const char *src, const char *var, char *err, size_t n)
{
    nk_expr *e = nk_expr_parse(src, err, n), *d;
    CHECK(e != NULL);
    if (!e)
        return NULL;
    d = nk_expr_diff(e, var, err, n);
    nk_expr_free(e);
    return d;
}

static void check_fd(const char *src)
{
    char err[256];
    nk_expr *e = nk_expr_parse(src, err, sizeof err), *d;
    double pts[] = {0.37, 1.3, 2.9};
    int i;
    CHECK(e != NULL);
    if (!e)
        return;
    d = nk_expr_diff(e, "v", err, sizeof err);
    CHECK(d != NULL);
    if (!d) {
        fprintf(stderr, "  diff of %s failed: %s\n", src, err);
        nk_expr_free(e);
        return;
    }
    for (i = 0; i < 3; i++) {
        double v = pts[i], h = 1e-6 * (1 + fabs(v));
        double fd = (eval_v(e, v + h) - eval_v(e, v - h)) / (2 * h);
        double an = eval_v(d, v);
        CHECK_NEAR(an, fd, 1e-5 * (1 + fabs(fd)));
    }
    nk_expr_free(d);
    nk_expr_free(e);
}

static void test_diff(void)
{
    char err[256], buf[512];
    nk_expr *d;

    d = D("(v_rest - v + R*I)/tau_m", "v", err, sizeof err);
    CHECK(d && !nk_expr_uses(d, "v"));
    if (d) {
        CHECK_NEAR(eval(d), -1 / 0.02, 1e-9);
        nk_expr_to_str(d, buf, sizeof buf);
        CHECK_STR(buf, "-1/tau_m");
    }
    nk_expr_free(d);

    d = D("(E - v)*g", "v", err, sizeof err);
    CHECK(d && !nk_expr_uses(d, "v"));
    if (d) {
        CHECK_NEAR(eval(d), -3e-9, 1e-20);
        nk_expr_to_str(d, buf, sizeof buf);
        CHECK_STR(buf, "-g");
    }
    nk_expr_free(d);

    /* more linear forms: the derivative never mentions v */
    {
        const char *lin[] = {"v", "-v", "2*v + 3", "v/tau", "(v - E)/tau*g - x*w", "-(v*g - 1)/(tau*2)",
                             "a*(b*(v + 1) - c)", "(v_rest - v)/tau_m + I/C_m", "exp(x)*v + log(w)",
                             "v*(1 + 0*v) - v*0", "pow(v, 1) + v^1", "(E - v)*g*exp(-x/tau) + abs(w)"};
        size_t i;
        for (i = 0; i < sizeof lin / sizeof *lin; i++) {
            d = D(lin[i], "v", err, sizeof err);
            CHECK(d != NULL);
            if (!d) {
                fprintf(stderr, "  diff of %s failed: %s\n", lin[i], err);
                continue;
            }
            if (nk_expr_uses(d, "v")) {
                nk_expr_to_str(d, buf, sizeof buf);
                fprintf(stderr, "  d(%s)/dv = %s uses v\n", lin[i], buf);
            }
            CHECK(!nk_expr_uses(d, "v"));
            nk_expr_free(d);
            check_fd(lin[i]);
        }
    }

    /* nonlinear: the derivative uses v */
    d = D("exp(-v)", "v", err, sizeof err);
    CHECK(d && nk_expr_uses(d, "v"));
    if (d) {
        CHECK_NEAR(eval(d), -exp(-1.3), 1e-15);
        nk_expr_to_str(d, buf, sizeof buf);
        CHECK_STR(buf, "-exp(-v)");
    }
    nk_expr_free(d);
    d = D("v*v", "v", err, sizeof err);
    CHECK(d && nk_expr_uses(d, "v"));
    nk_expr_free(d);

    /* finite differences */
    check_fd("exp(-v/tau)*v^2");
    check_fd("log(v) + sqrt(v)*sin(v)");
    check_fd("tanh(v/3)/cosh(v) + sinh(v)");
    check_fd("tan(v)*cos(v)^3");
    check_fd("pow(v, 2.5) + v^v + 2^v + v^-2");
    check_fd("expm1(v) - log1p(v) + log10(v)");
    check_fd("1/(1 + exp(-(v - 3)/2))");
    check_fd("-(v - 1)^3/(v + 4) + 7/v");
    check_fd("x*exp((v - x)/w) - v/(w*v + 1)");
    check_fd("pow(x + 1, v) * pow(v, x)");

    /* with respect to something else; v-free expressions give 0 */
    d = D("exp(-v)*g + g^2", "g", err, sizeof err);
    CHECK(d != NULL);
    if (d) {
        CHECK_NEAR(eval(d), exp(-1.3) + 2 * 3e-9, 1e-15);
    }
    nk_expr_free(d);
    d = D("abs(x) + floor(w) + rand() + (x > 1 ? 2 : 3)", "v", err, sizeof err);
    CHECK(d && d->kind == NK_EX_NUM && d->num == 0);
    nk_expr_free(d);

    /* not differentiable */
    d = D("1 + abs(v - 1)", "v", err, sizeof err);
    CHECK(d == NULL);
    CHECK_STR(err, "cannot differentiate 'abs(...)' with respect to 'v'");
    d = D("min(v, 1)", "v", err, sizeof err);
    CHECK(d == NULL && contains(err, "'min(...)'"));
    d = D("clip(v, 0, 1) + floor(v) + ceil(v) + sign(v)", "v", err, sizeof err);
    CHECK(d == NULL && contains(err, "'clip(...)'"));
    d = D("v > 1 ? v : 0", "v", err, sizeof err);
    CHECK(d == NULL);
    CHECK_STR(err, "cannot differentiate 'v > 1 ? v : 0' with respect to 'v'");
    d = D("(v > 1)*2", "v", err, sizeof err);
    CHECK(d == NULL && contains(err, "cannot differentiate 'v > 1' with respect to 'v'"));
    d = D("v*randn()", "v", err, sizeof err);
    CHECK(d == NULL && contains(err, "cannot differentiate 'v*randn()' with respect to 'v' (it involves random numbers)"));
    d = D("v + randn()", "v", err, sizeof err); /* additive noise is fine */
    CHECK(d && d->kind == NK_EX_NUM && d->num == 1);
    nk_expr_free(d);
}

/* -------------------------------------------------- subst and simplify */

static void test_subst_simplify(void)
{
    char err[256], buf[512];
    nk_expr *e = nk_expr_parse("(v_rest - v)/tau + v^2", err, sizeof err);
    nk_expr *val = nk_expr_parse("x + 1", err, sizeof err);
    nk_expr *s = nk_expr_subst(e, "v", val), *t;
    CHECK(s != NULL);
    nk_expr_to_str(s, buf, sizeof buf);
    CHECK_STR(buf, "(v_rest - (x + 1))/tau + (x + 1)^2");
    CHECK(!nk_expr_uses(s, "v") && nk_expr_uses(e, "v"));
    CHECK_NEAR(eval(s), (-0.07 - 1.7) / 2.5 + 1.7 * 1.7, 1e-12);
    t = nk_expr_subst(e, "nothing", val);
    CHECK(nk_expr_equal(t, e));
    nk_expr_free(t);
    nk_expr_free(s);
    nk_expr_free(val);
    nk_expr_free(e);

    {
        static const char *const cases[][2] = {
            {"0 + a*1 - 0", "a"},
            {"0*a + b/1", "b"},
            {"-(-(a))", "a"},
            {"-(0)", "0"},
            {"2*3 + 1", "7"},
            {"a^1 + b^0 + 1^x", "a + 1 + 1"},
            {"a + -b", "a - b"},
            {"a - -b", "a + b"},
            {"0 - a", "-a"},
            {"-1*a", "-a"},
            {"a*2", "2*a"},
            {"-(2*a)", "-2*a"},
            {"(-a)*b", "-(a*b)"},
            {"1 < 2 ? x : w", "x"},
            {"not 0", "1"},
            {"exp(0*v)", "exp(0)"},
            {"1/0", "1/0"}, /* not folded: not finite */
        };
        size_t i;
        for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            e = nk_expr_parse(cases[i][0], err, sizeof err);
            s = nk_expr_simplify(e);
            CHECK(s != NULL);
            if (s) {
                nk_expr_to_str(s, buf, sizeof buf);
                CHECK_STR(buf, cases[i][1]);
            }
            nk_expr_free(s);
            nk_expr_free(e);
        }
    }
}

/* ------------------------------------------------------------------- to_c */

static int cname(const char *name, char *out, size_t outlen, void *ud)
{
    int *calls = ud;
    (*calls)++;
    if (strcmp(name, "unknown") == 0)
        return 7;
    if (strcmp(name, "neg") == 0)
        return -9;
    snprintf(out, outlen, "s->%s[i]", name);
    return 0;
}

static void test_to_c(void)
{
    char err[256], buf[256];
    nk_expr *e;
    int calls = 0, r;

    CHECK_STR(to_c("a^2"), "((a)*(a))");
    CHECK_STR(to_c("a^3"), "((a)*(a)*(a))");
    CHECK_STR(to_c("a^1"), "(a)");
    CHECK_STR(to_c("(a + b)^2"), "(((a)+(b))*((a)+(b)))");
    CHECK_STR(to_c("a^2.5"), "nk_pow((a), (2.5))");
    CHECK_STR(to_c("a^4"), "((a)*(a)*(a)*(a))");
    CHECK_STR(to_c("a^5"), "nk_pow((a), (5.0))");
    CHECK_STR(to_c("a^-2"), "nk_pow((a), (-(2.0)))");
    CHECK_STR(to_c("pow(a, 2)"), "((a)*(a))");
    CHECK_STR(to_c("pow(a, b)"), "nk_pow((a), (b))");
    CHECK_STR(to_c("rand()^2"), "nk_pow(NK_RAND(), (2.0))");
    CHECK_STR(to_c("randn()^1"), "NK_RANDN()");
    CHECK_STR(to_c("1"), "(1.0)");
    CHECK_STR(to_c("-2.5e-3"), "(-(0.0025))");
    CHECK_STR(to_c("1e300 + 0.1 + 1e-7"), "(((1e+300)+(0.1))+(1e-7))");
    CHECK_STR(to_c("c ? a : b"), "((c) ? (a) : (b))");
    /* truth values are doubles in C too: a quotient of two is no integer division */
    CHECK_STR(to_c("v > 1 and not w or x != 2"),
              "((double)(((double)(((double)((v)>(1.0)))&&((double)(!(w)))))||"
              "((double)((x)!=(2.0)))))");
    CHECK_STR(to_c("(a < b)/(not c)"), "(((double)((a)<(b)))/((double)(!(c))))");
    CHECK_STR(to_c("(v_rest - v)/tau_m"), "(((v_rest)-(v))/(tau_m))");
    CHECK_STR(to_c("abs(v) + min(a, b) + max(a, b) + clip(v, 0, 1)"),
              "(((nk_fabs((v))+nk_fmin((a), (b)))+nk_fmax((a), (b)))+nk_clip((v), (0.0), (1.0)))");
    CHECK_STR(to_c("exp(v) + log(v) + log10(v) + sqrt(v) + sign(v) + floor(v) + ceil(v)"),
              "((((((nk_exp((v))+nk_log((v)))+nk_log10((v)))+nk_sqrt((v)))+nk_sign((v)))+nk_floor((v)))+nk_ceil((v)))");
    CHECK_STR(to_c("sin(v)*cos(v)*tan(v)*tanh(v)*sinh(v)*cosh(v)*expm1(v)*log1p(v)"),
              "(((((((nk_sin((v))*nk_cos((v)))*nk_tan((v)))*nk_tanh((v)))*nk_sinh((v)))*nk_cosh((v)))*nk_expm1((v)))"
              "*nk_log1p((v)))");
    CHECK_STR(to_c("rand() + randn()"), "(NK_RAND()+NK_RANDN())");

    /* hand-built numbers: negative, non-finite */
    e = nk_expr_bin(NK_OP_ADD, nk_expr_num(-2.5e-3), nk_expr_bin(NK_OP_MUL, nk_expr_num(INFINITY), nk_expr_num(NAN)));
    r = nk_expr_to_c(e, buf, sizeof buf, NULL, NULL);
    CHECK_STR(buf, "((-0.0025)+((HUGE_VAL)*(NAN)))");
    CHECK_EQ_INT(r, (int)strlen(buf));
    nk_expr_free(e);

    /* variable spelling through var_fn */
    e = nk_expr_parse("(v_rest - v)/tau_m", err, sizeof err);
    r = nk_expr_to_c(e, buf, sizeof buf, cname, &calls);
    CHECK_STR(buf, "(((s->v_rest[i])-(s->v[i]))/(s->tau_m[i]))");
    CHECK_EQ_INT(r, (int)strlen(buf));
    CHECK_EQ_INT(calls, 3);
    /* buffer too small, exact fit */
    {
        int need = r;
        char small[64];
        CHECK_EQ_INT(nk_expr_to_c(e, small, 10, cname, &calls), NK_EXPR_ENOSPC);
        CHECK_STR(small, "");
        CHECK_EQ_INT(nk_expr_to_c(e, small, (size_t)need, cname, &calls), NK_EXPR_ENOSPC);
        CHECK_EQ_INT(nk_expr_to_c(e, small, (size_t)need + 1, cname, &calls), need);
        CHECK_EQ_INT(nk_expr_to_c(e, small, 0, cname, &calls), NK_EXPR_ENOSPC);
        CHECK_EQ_INT(nk_expr_to_str(e, small, 5), NK_EXPR_ENOSPC);
        CHECK_STR(small, "");
        CHECK_EQ_INT(nk_expr_to_c(NULL, small, 10, NULL, NULL), NK_EXPR_EINVAL);
    }
    nk_expr_free(e);
    e = nk_expr_parse("a + unknown", err, sizeof err);
    CHECK_EQ_INT(nk_expr_to_c(e, buf, sizeof buf, cname, &calls), -7);
    CHECK_STR(buf, "");
    nk_expr_free(e);
    e = nk_expr_parse("neg", err, sizeof err);
    CHECK_EQ_INT(nk_expr_to_c(e, buf, sizeof buf, cname, &calls), -9);
    nk_expr_free(e);

    /* numbers are written the same in any locale */
    if (setlocale(LC_NUMERIC, "de_DE.UTF-8") || setlocale(LC_NUMERIC, "de_DE.utf8") ||
        setlocale(LC_NUMERIC, "fr_FR.UTF-8")) {
        CHECK_STR(to_c("1.5 + 2.5e-3"), "((1.5)+(0.0025))");
        CHECK_NEAR(ev("1.5"), 1.5, 0);
        setlocale(LC_NUMERIC, "C");
    }
}

/* -------------------------------------------------------------- suggest */

static void test_suggest(void)
{
    const char *c[] = {"v_rest", "tau_m", "v", "I", "C_m", NULL, "tau_e"};
    CHECK_STR(nk_suggest("tau_mm", c, 7), "tau_m");
    CHECK_STR(nk_suggest("tua_m", c, 7), "tau_m"); /* transposition */
    CHECK_STR(nk_suggest("v_rets", c, 7), "v_rest");
    CHECK_STR(nk_suggest("tau_", c, 7), "tau_m"); /* first of equal distance */
    CHECK_STR(nk_suggest("w", c, 7), "v");
    CHECK(nk_suggest("gmax", c, 7) == NULL);
    CHECK(nk_suggest("completely_different", c, 7) == NULL);
    CHECK(nk_suggest("x", c, 0) == NULL);
    CHECK(nk_suggest(NULL, c, 7) == NULL);
}

/* ------------------------------------------------------- limits and fuzz */

static void test_limits(void)
{
    char *s = malloc(20000), err[512];
    nk_expr *e;
    int i, k;

    /* 1000 levels of parentheses: clean error */
    for (i = 0; i < 1000; i++)
        s[i] = '(';
    s[1000] = 'x';
    for (i = 0; i < 1000; i++)
        s[1001 + i] = ')';
    s[2001] = '\0';
    e = nk_expr_parse(s, err, sizeof err);
    CHECK(e == NULL && contains(err, "expression nested too deeply"));
    /* 150 levels parse */
    k = 0;
    for (i = 0; i < 150; i++)
        s[k++] = '(';
    s[k++] = 'x';
    for (i = 0; i < 150; i++)
        s[k++] = ')';
    s[k] = '\0';
    e = nk_expr_parse(s, err, sizeof err);
    CHECK(e && e->kind == NK_EX_VAR);
    nk_expr_free(e);
    /* unary chains, power towers, not chains, call nesting */
    for (i = 0; i < 1000; i++)
        s[i] = '-';
    strcpy(s + 1000, "x");
    CHECK(contains(perr(s), "expression nested too deeply"));
    for (i = 0, k = 0; i < 1000; i++)
        k += sprintf(s + k, "2^");
    strcpy(s + k, "x");
    CHECK(contains(perr(s), "expression nested too deeply"));
    for (i = 0, k = 0; i < 1000; i++)
        k += sprintf(s + k, "not ");
    strcpy(s + k, "x");
    CHECK(contains(perr(s), "expression nested too deeply"));
    for (i = 0, k = 0; i < 1000; i++)
        k += sprintf(s + k, "exp(");
    s[k++] = 'x';
    for (i = 0; i < 1000; i++)
        s[k++] = ')';
    s[k] = '\0';
    CHECK(contains(perr(s), "expression nested too deeply"));
    /* long sums: fine up to the height limit, then a clean error */
    for (i = 0, k = 0; i < 900; i++)
        k += sprintf(s + k, "x%d + ", i);
    strcpy(s + k, "v");
    e = nk_expr_parse(s, err, sizeof err);
    CHECK(e != NULL);
    if (e) {
        nk_expr *d = nk_expr_diff(e, "v", err, sizeof err);
        char *out = malloc(100000);
        CHECK(d && d->kind == NK_EX_NUM && d->num == 1);
        CHECK(nk_expr_to_c(e, out, 100000, NULL, NULL) > 0);
        nk_expr_free(d);
        free(out);
    }
    nk_expr_free(e);
    for (i = 0, k = 0; i < 1500; i++)
        k += sprintf(s + k, "x*");
    strcpy(s + k, "v");
    CHECK(contains(perr(s), "expression too complex"));
    free(s);
}

typedef struct {
    unsigned long long s;
} rng_t;

static unsigned rnd(rng_t *r, unsigned n)
{
    r->s = r->s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (unsigned)((r->s >> 33) % n);
}

static int same_value(double a, double b)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    if (isinf(a) || isinf(b))
        return a == b;
    return fabs(a - b) <= 1e-9 * (1 + fabs(a));
}

/* Appends a random well-formed expression to s (length *k, capacity n). */
static void gen_expr(rng_t *r, char *s, int *k, int n, int depth)
{
    static const char *const atoms[] = {"v", "x", "tau", "w", "1", "2.5", ".5", "1e-3", "0", "3", "rand()", "randn()", "2."};
    static const char *const bins[] = {" + ", " - ", "*", "/", "^", "**", " < ", " <= ", " > ", " >= ", " == ",
                                       " != ", " and ", " or ", " && ", " || "};
    static const char *const f1[] = {"exp", "log", "sqrt", "sin", "cos", "tanh", "abs", "expm1", "log1p", "sign", "floor"};
    static const char *const f2[] = {"pow", "min", "max"};
    unsigned c = depth > 4 ? 0 : rnd(r, 9);
#define PUT(str) (*k += snprintf(s + *k, (size_t)(n - *k > 0 ? n - *k : 0), "%s", (str)), *k = *k < n ? *k : n - 1)
    switch (c) {
    case 0:
    case 1: PUT(atoms[rnd(r, sizeof atoms / sizeof *atoms)]); break;
    case 2:
    case 3:
        gen_expr(r, s, k, n, depth + 1);
        PUT(bins[rnd(r, sizeof bins / sizeof *bins)]);
        gen_expr(r, s, k, n, depth + 1);
        break;
    case 4: PUT(rnd(r, 2) ? "-" : (rnd(r, 2) ? "not " : "!")); gen_expr(r, s, k, n, depth + 1); break;
    case 5: PUT("("); gen_expr(r, s, k, n, depth + 1); PUT(")"); break;
    case 6:
        gen_expr(r, s, k, n, depth + 1);
        PUT(" ? ");
        gen_expr(r, s, k, n, depth + 1);
        PUT(" : ");
        gen_expr(r, s, k, n, depth + 1);
        break;
    case 7: PUT(f1[rnd(r, sizeof f1 / sizeof *f1)]); PUT("("); gen_expr(r, s, k, n, depth + 1); PUT(")"); break;
    default:
        PUT(f2[rnd(r, sizeof f2 / sizeof *f2)]);
        PUT("(");
        gen_expr(r, s, k, n, depth + 1);
        PUT(", ");
        gen_expr(r, s, k, n, depth + 1);
        PUT(")");
        break;
    }
#undef PUT
}

/* Damages s: deletes, duplicates or replaces a few bytes. */
static void mutate(rng_t *r, char *s, int n)
{
    static const char junk[] = "()+-*/^,?:<>=!&|#;.eE_0 \n\t\xc2\xb5\xff";
    int m = 1 + (int)rnd(r, 3), i;
    for (i = 0; i < m; i++) {
        int len = (int)strlen(s), at = len ? (int)rnd(r, (unsigned)len) : 0, what = (int)rnd(r, 3);
        if (what == 0 && len > 0)
            memmove(s + at, s + at + 1, (size_t)(len - at));
        else if (len + 2 < n) {
            memmove(s + at + 1, s + at, (size_t)(len - at + 1));
            s[at] = what == 1 && len > 0 ? s[at + 1] : junk[rnd(r, sizeof junk - 1)];
        }
    }
}

static void gen_stmts(rng_t *r, char *s, int n)
{
    static const char *const heads[] = {"dv/dt = ", "dw/dt=", "x = ", "I = ", "y += ", "z -= ", "q *= ", "u /= "};
    static const char *const ode_tails[] = {"", " : mV", " : 1", " (unless refractory)", " : volt (unless refractory)",
                                            " (unless refractory) : 1/(second)", " # note"};
    static const char *const eq_tails[] = {"", " : amp", " : 1", " (constant over dt)", " : metre/(second*kg)"};
    static const char *const seps[] = {"\n", "; ", "\r\n", "\n\n  ", " ;; "};
    int m = 1 + (int)rnd(r, 4), i, k = 0;
    s[0] = '\0';
    for (i = 0; i < m && k < n - 200; i++) {
        unsigned h = rnd(r, sizeof heads / sizeof *heads);
        const char *tail = h < 2 ? ode_tails[rnd(r, sizeof ode_tails / sizeof *ode_tails)]
                           : h < 4 ? eq_tails[rnd(r, sizeof eq_tails / sizeof *eq_tails)]
                                   : "";
        k += snprintf(s + k, (size_t)(n - k), "%s", heads[h]);
        gen_expr(r, s, &k, n - 100, 2);
        k += snprintf(s + k, (size_t)(n - k), "%s%s", tail, seps[rnd(r, sizeof seps / sizeof *seps)]);
    }
}

static void test_fuzz(void)
{
    rng_t r = {12345};
    char s[1024], out[8192], out2[8192], err[1024];
    int iter, parsed = 0, stmts_ok = 0, diffs_ok = 0, simp_checked = 0, fd_checked = 0;

    for (iter = 0; iter < 6000; iter++) {
        int n, i, k = 0, mode = (int)rnd(&r, 5);
        nk_expr *e, *e2, *sm, *d;
        if (mode == 0) { /* random bytes */
            n = (int)rnd(&r, 60);
            for (i = 0; i < n; i++)
                s[k++] = (char)(1 + rnd(&r, 255));
            s[k] = '\0';
        } else if (mode <= 2) { /* expressions, sometimes damaged */
            s[0] = '\0';
            gen_expr(&r, s, &k, 700, 0);
            if (mode == 2)
                mutate(&r, s, (int)sizeof s);
        } else { /* statement blocks, sometimes damaged */
            gen_stmts(&r, s, 900);
            if (mode == 4)
                mutate(&r, s, (int)sizeof s);
        }
        {
            nk_stmt_list l;
            int rc = nk_stmts_parse(s, &l, err, sizeof err);
            if (rc == 0) {
                stmts_ok += l.n > 0;
                for (i = 0; i < l.n; i++) {
                    CHECK(l.items[i].rhs && l.items[i].target && l.items[i].text);
                    CHECK(nk_expr_to_str(l.items[i].rhs, out, sizeof out) >= 0);
                }
                nk_stmts_free(&l);
            } else {
                CHECK(err[0] != '\0' && l.n == 0 && l.items == NULL);
            }
        }
        err[0] = '\0';
        e = nk_expr_parse(s, err, sizeof err);
        if (!e) {
            CHECK(err[0] != '\0');
            continue;
        }
        parsed++;
        /* printing back reproduces the tree exactly */
        CHECK(nk_expr_to_str(e, out, sizeof out) >= 0);
        e2 = nk_expr_parse(out, err, sizeof err);
        CHECK(e2 != NULL);
        if (e2) {
            CHECK(nk_expr_equal(e, e2));
            if (!nk_expr_equal(e, e2))
                fprintf(stderr, "  round trip: \"%s\" -> \"%s\"\n", s, out);
            CHECK(nk_expr_to_str(e2, out2, sizeof out2) >= 0 && strcmp(out, out2) == 0);
        }
        nk_expr_free(e2);
        CHECK(nk_expr_to_c(e, out, sizeof out, NULL, NULL) > 0);
        /* the simplifier keeps the value */
        sm = nk_expr_simplify(e);
        CHECK(sm != NULL);
        if (sm) {
            double a, b;
            int bad;
            eval_nonfinite = 0;
            a = eval(e);
            bad = eval_nonfinite;
            b = eval(sm);
            /* exact for finite arithmetic; 0*x -> 0 may hide an inf/nan x */
            if (!bad) {
                simp_checked++;
                CHECK(same_value(a, b));
                if (!same_value(a, b)) {
                    nk_expr_to_str(sm, out2, sizeof out2);
                    fprintf(stderr, "  simplify: \"%s\" = %.17g but \"%s\" = %.17g\n", s, a, out2, b);
                }
            }
        }
        nk_expr_free(sm);
        d = nk_expr_diff(e, "v", err, sizeof err);
        if (d) {
            /* where e is smooth around v = 1.3, the derivative matches finite differences */
            double h = 1e-6, f0, f1, dv, fd, fd2;
            eval_nonfinite = 0;
            f0 = eval_v(e, 1.3 - h);
            f1 = eval_v(e, 1.3 + h);
            dv = eval_v(d, 1.3);
            fd = (f1 - f0) / (2 * h);
            fd2 = (eval_v(e, 1.3 + 2 * h) - eval_v(e, 1.3 - 2 * h)) / (4 * h);
            diffs_ok++;
            /* (the a^b rule has log(a): skip points where anything is inf/nan, e.g. a = 0) */
            if (!eval_nonfinite && fabs(fd - fd2) <= 1e-6 * (1 + fabs(fd)) && fabs(fd) < 1e6) {
                fd_checked++;
                CHECK_NEAR(dv, fd, 1e-5 * (1 + fabs(fd)));
                if (!(fabs(dv - fd) <= 1e-5 * (1 + fabs(fd)))) {
                    nk_expr_to_str(d, out, sizeof out);
                    fprintf(stderr, "  d/dv \"%s\" = \"%s\"\n", s, out);
                }
            }
            CHECK(nk_expr_to_str(d, out, sizeof out) >= 0);
            nk_expr_free(d);
        } else {
            CHECK(err[0] != '\0');
        }
        nk_expr_free(e);
    }
    printf("fuzz: %d expressions parsed (%d value-checked after simplify), %d statement blocks, %d derivatives "
           "(%d checked against finite differences)\n",
           parsed, simp_checked, stmts_ok, diffs_ok, fd_checked);
    /* the generator must actually reach the interesting paths */
    CHECK(parsed > 1000);
    CHECK(stmts_ok > 500);
    CHECK(diffs_ok > 300);
    CHECK(fd_checked > 200);
}

/* Variables for nk_expr_eval: x = 2, y = -3; anything else is unknown. */
static int eval_lookup(const char *name, double *v, void *ud)
{
    int *calls = ud;
    (*calls)++;
    if (!strcmp(name, "x"))
        *v = 2;
    else if (!strcmp(name, "y"))
        *v = -3;
    else
        return 1;
    return 0;
}

static double eval_str(const char *src, int *rc)
{
    char err[256];
    nk_expr *e = nk_expr_parse(src, err, sizeof err);
    CHECK(e != NULL);
    double v = -999;
    int calls = 0;
    *rc = e ? nk_expr_eval(e, eval_lookup, &calls, &v, err, sizeof err) : -99;
    nk_expr_free(e);
    return v;
}

static void test_eval(void)
{
    int rc;
    CHECK_NEAR(eval_str("x^2 + 3*y - 1", &rc), -6, 0);
    CHECK_EQ_INT(rc, 0);
    CHECK_NEAR(eval_str("max(x, y) * min(x, y) + abs(y) + sign(y)", &rc), -4, 0);
    CHECK_NEAR(eval_str("clip(10, y, x) + exprel(0) + exp(0)", &rc), 4, 0);
    CHECK_NEAR(eval_str("x > y and not (x == y) or 0", &rc), 1, 0);
    CHECK_NEAR(eval_str("exprel(1e-3)", &rc), expm1(1e-3) / 1e-3, 1e-15);
    /* a conditional evaluates only the branch it takes */
    CHECK_NEAR(eval_str("x > 0 ? y : unknown_name", &rc), -3, 0);
    CHECK_EQ_INT(rc, 0);
    eval_str("x < 0 ? y : unknown_name", &rc);
    CHECK_EQ_INT(rc, NK_EXPR_EINVAL);
    eval_str("x + rand()", &rc);
    CHECK_EQ_INT(rc, NK_EXPR_ESYNTAX);
}

int main(void)
{
    test_precedence();
    test_errors();
    test_statements();
    test_tree();
    test_diff();
    test_subst_simplify();
    test_to_c();
    test_suggest();
    test_eval();
    test_limits();
    test_fuzz();
    return check_finish("expr");
}
