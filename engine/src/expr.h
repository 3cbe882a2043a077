/* expr.h - equations and expressions of model descriptions.
 *
 * Parses the small mathematical language models are written in
 * ("dv/dt = (v_rest - v)/tau_m : volt (unless refractory)") into a tree, and
 * offers the tree operations the code generator needs: symbolic
 * differentiation, substitution, simplification and printing as C source or
 * back in the input language.
 *
 * Conventions. Nothing here prints or exits. Functions that can fail return
 * NULL or a negative code (NK_EXPR_E*) and, where they take one, write a
 * NUL-terminated message into the caller's buffer err[errlen] (err may be NULL
 * or errlen 0 when the message is not wanted; long messages are truncated).
 * Every tree returned is owned by the caller and released with nk_expr_free();
 * trees passed in as const are never modified or retained. Numbers are read
 * and written independently of the C locale (the decimal point is looked up
 * with localeconv(), so do not call setlocale() concurrently). No global
 * state otherwise: safe to use from several threads on different data.
 *
 * Positions (line, col) are 1-based; col counts characters (UTF-8 code points,
 * a tab counts as one) from the start of the line within the string that was
 * parsed.
 *
 * Limits: parenthesis/unary/conditional nesting deeper than NK_EXPR_MAX_DEPTH
 * gives "expression nested too deeply"; a tree taller than
 * NK_EXPR_MAX_HEIGHT (e.g. a sum of more than that many terms) gives
 * "expression too complex". This bounds the recursion of every function here
 * for parsed trees.
 */
#ifndef NK_EXPR_H
#define NK_EXPR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NK_EXPR_MAX_DEPTH 200
#define NK_EXPR_MAX_HEIGHT 1000

/* Return codes (negative). */
#define NK_EXPR_ESYNTAX (-1) /* parse error, message in err */
#define NK_EXPR_ENOMEM (-2)  /* allocation failed */
#define NK_EXPR_ENOSPC (-3)  /* output buffer too small */
#define NK_EXPR_EINVAL (-4)  /* NULL argument where one is not allowed */

typedef enum { NK_EX_NUM, NK_EX_VAR, NK_EX_NEG, NK_EX_NOT, NK_EX_BIN, NK_EX_CALL, NK_EX_COND } nk_ex_kind;
typedef enum {
    NK_OP_ADD, NK_OP_SUB, NK_OP_MUL, NK_OP_DIV, NK_OP_POW,
    NK_OP_LT, NK_OP_LE, NK_OP_GT, NK_OP_GE, NK_OP_EQ, NK_OP_NE,
    NK_OP_AND, NK_OP_OR
} nk_ex_op;

typedef struct nk_expr {
    nk_ex_kind kind;
    nk_ex_op op;            /* NK_EX_BIN */
    double num;             /* NK_EX_NUM (parsed numbers are >= 0; "-1" is NEG(1)) */
    char *name;             /* NK_EX_VAR: identifier; NK_EX_CALL: function name */
    struct nk_expr **args;  /* BIN: 2, NEG/NOT: 1, COND: 3 (cond, a, b), CALL: nargs */
    int nargs;              /* number of entries in args (0 for NUM/VAR) */
    int line, col;          /* 1-based position: NUM/VAR/CALL: the token; NEG/NOT:
                               the operator; BIN: the operator; COND: the '?'.
                               Nodes made by diff/simplify/constructors inherit a
                               nearby position or 0. */
} nk_expr;

/* ---- parsing and tree basics ---------------------------------------- */

/* Parses src, which must hold exactly one expression (newlines count as
 * spaces; '#' starts a comment to the end of the line).
 * Returns a new tree (free with nk_expr_free), or NULL on error with a message
 * such as "column 26: expected ')' but found end of input\n  <line>\n  <caret>"
 * in err ("line N, column M: ..." when src has several lines). */
nk_expr *nk_expr_parse(const char *src, char *err, size_t errlen);

/* Frees e and all its children. NULL is allowed. */
void nk_expr_free(nk_expr *e);

/* Returns a deep copy of e (free with nk_expr_free); NULL if e is NULL or on
 * allocation failure. */
nk_expr *nk_expr_clone(const nk_expr *e);

/* Returns 1 if a VAR named name occurs anywhere in e, else 0 (0 for NULL). */
int nk_expr_uses(const nk_expr *e, const char *name);

/* Returns 1 if e calls rand() or randn() anywhere, else 0 (0 for NULL). */
int nk_expr_has_random(const nk_expr *e);

/* Returns 1 if e is boolean-valued at the top level: a comparison, 'and',
 * 'or', 'not', or a conditional whose two branches are both boolean; else 0. */
int nk_expr_is_boolean(const nk_expr *e);

/* Returns 1 if a and b are structurally identical (numbers compared exactly,
 * positions ignored), else 0. Two NULLs are equal. */
int nk_expr_equal(const nk_expr *a, const nk_expr *b);

/* Calls fn(name, line, col, ud) for every VAR in e in order of appearance in
 * the source. Stops at the first nonzero value fn returns and returns it;
 * returns 0 when fn returned 0 for every VAR (or e is NULL). */
int nk_expr_walk_vars(const nk_expr *e, int (*fn)(const char *name, int line, int col, void *ud), void *ud);

/* Known functions. Returns the number of arguments function name takes
 * (0..3), or -1 if name is not a known function. */
int nk_expr_func_arity(const char *name);

/* ---- constructors (for building trees by hand) ------------------------
 * Each returns a new node (position 0:0) or NULL on allocation failure. The
 * ones taking child trees take ownership of them, also on failure (they are
 * freed then; NULL children make the result NULL). No simplification. */
nk_expr *nk_expr_num(double v);
nk_expr *nk_expr_var(const char *name);
nk_expr *nk_expr_neg(nk_expr *a);
nk_expr *nk_expr_not(nk_expr *a);
nk_expr *nk_expr_bin(nk_ex_op op, nk_expr *a, nk_expr *b);
nk_expr *nk_expr_cond(nk_expr *c, nk_expr *a, nk_expr *b);
/* args: array of nargs trees (may be NULL when nargs is 0); the array itself
 * stays the caller's, the trees in it are taken. The name is not checked. */
nk_expr *nk_expr_call(const char *name, nk_expr **args, int nargs);

/* ---- transformations ---------------------------------------------------- */

/* Symbolic derivative d e / d var. Rules: d(c) = 0 for any subtree not using
 * var; d(var) = 1; sum, difference, negation; product rule (a term whose
 * factor's derivative is 0 vanishes); quotient rule, d(a/b) = a'/b when only a
 * uses var; a^n (n without var) -> n*a^(n-1)*a', c^b -> c^b*log(c)*b',
 * a^b -> a^b*(b'*log(a) + b*a'/a) (pow() alike); chain rule for exp, expm1,
 * log, log10 (1/(u*2.302585092994046)), log1p, sqrt, sin, cos, tan, tanh,
 * sinh, cosh. The result is simplified: a subtree not using var differentiates to the literal 0 and
 * zero terms vanish, so the derivative of an expression linear in var (built
 * from +, -, unary -, products with one factor using var, and quotients whose
 * denominator does not use var) does not use var.
 * Returns a new tree, or NULL with a message in err, e.g. "cannot
 * differentiate 'abs(...)' with respect to 'v'" (abs, min, max, clip, floor,
 * ceil, sign, comparisons, logic and conditionals whose operands use var, and
 * non-additive terms that both use var and contain rand()/randn()), or "out of
 * memory". */
nk_expr *nk_expr_diff(const nk_expr *e, const char *var, char *err, size_t errlen);

/* nk_expr_diff, copying at most *budget terms of e (counted down; several
 * derivatives may share one budget): a derivative that would need more is
 * refused with "its derivative with respect to 'var' grows past
 * NK_EXPR_DIFF_MAX_TERMS terms ...". nk_expr_diff has a budget of
 * NK_EXPR_DIFF_MAX_TERMS of its own. */
#define NK_EXPR_DIFF_MAX_TERMS 1000000
nk_expr *nk_expr_diff_budget(const nk_expr *e, const char *var, long long *budget, char *err,
                             size_t errlen);

/* Returns a new tree: e with every VAR named name replaced by a clone of
 * value. Not simplified. NULL on allocation failure (or NULL e/value). */
nk_expr *nk_expr_subst(const nk_expr *e, const char *name, const nk_expr *value);

/* Returns a new simplified tree (the simplifier diff uses): folds 0+a, a+0,
 * a-0, 0-a, a*1, 1*a, a*0, 0*a, 0/a (a not a number), a/1, a^1, a^0, 1^a,
 * -(-a), -(number), a+(-b), a-(-b); moves negations out of products and
 * quotients and into a leading constant factor (-(2*a) -> -2*a); puts a
 * constant factor first (a*2 -> 2*a); folds operators, 'not' and conditionals
 * on numbers when the result is finite (1/0 stays). Function calls are not
 * evaluated. Exact for finite values (0*a -> 0 ignores a = inf/nan). NULL on
 * allocation failure. */
nk_expr *nk_expr_simplify(const nk_expr *e);

/* ---- printing ----------------------------------------------------------- */

/* Writes e as a C expression into buf[len] (NUL-terminated). Every node comes
 * out self-delimited: numbers "(1.0)", "(-0.0025)" (shortest text that reads
 * back to the same double; never locale-dependent), variables "(" var_fn's
 * text ")", a+b "((a)+(b))", -a "(-(a))", not a "(!(a))", comparisons and
 * logic as C operators (C int results), c?a:b "((c) ? (a) : (b))", functions
 * "nk_NAME(x, y)" (abs -> nk_fabs, min -> nk_fmin, max -> nk_fmax,
 * unknown names in hand-built trees -> nk_NAME too,
 * rand() -> NK_RAND(), randn() -> NK_RANDN()), a^b -> "nk_pow(a, b)" except
 * constant exponent 1 -> a, 2 -> "((a)*(a))", 3 -> "((a)*(a)*(a))" (not when a
 * contains rand()/randn()); pow(a, b) is treated the same way.
 * A parsed "-2.5e-3" is NEG(2.5e-3) and comes out "(-(0.0025))"; after
 * nk_expr_simplify it is the number -0.0025, "(-0.0025)". A non-finite number
 * (only possible in hand-built trees) is written (NAN), (HUGE_VAL) or
 * (-HUGE_VAL).
 * var_fn(name, out, outlen, ud) writes the C spelling of a variable into
 * out[outlen] (outlen is 512) and returns 0, or nonzero for "unknown"; when
 * var_fn is NULL names are written as they are.
 * Returns the length written (excluding the NUL); NK_EXPR_ENOSPC if buf is too
 * small (buf then holds ""); -r if var_fn returned r > 0 (r itself if r < 0);
 * NK_EXPR_EINVAL if e or buf is NULL. */
int nk_expr_to_c(const nk_expr *e, char *buf, size_t len,
                 int (*var_fn)(const char *name, char *out, size_t outlen, void *ud), void *ud);

/* Writes e back in the input language into buf[len] with the fewest
 * parentheses needed ("(v_rest - v + R*I)/tau_m", "-x^2", "c ? a : b");
 * parsing the result gives back the same tree for any tree nk_expr_parse
 * made. Returns the length written, NK_EXPR_ENOSPC if buf is too small (buf
 * then holds ""), NK_EXPR_EINVAL if e or buf is NULL. */
int nk_expr_to_str(const nk_expr *e, char *buf, size_t len);

/* ---- statements ------------------------------------------------------- */

typedef enum { NK_ST_ODE, NK_ST_ASSIGN } nk_stmt_kind;
typedef struct nk_stmt {
    nk_stmt_kind kind;
    char *target;        /* the X of dX/dt or of X = */
    char op;             /* '=', '+', '-', '*', '/' for =, +=, -=, *=, /= (ODE: '=') */
    nk_expr *rhs;
    char *unit;          /* text after ':', trimmed, verbatim; NULL if none */
    char **flags; int nflags;   /* e.g. "unless refractory" (spaces normalised) */
    int line;            /* 1-based line in the source string */
    char *text;          /* the statement's source text, trimmed, without comment */
} nk_stmt;
typedef struct nk_stmt_list { nk_stmt *items; int n; } nk_stmt_list;

/* Parses a block of statements separated by newlines or ';' ('#' comments,
 * blank statements ignored; a newline always ends a statement, also inside
 * parentheses):
 *   dX/dt = EXPR [: UNIT] [(FLAGS)]     (flags before or after the unit)
 *   X = EXPR [: UNIT] [(FLAGS)]
 *   X += EXPR, X -= EXPR, X *= EXPR, X /= EXPR
 * UNIT is the text after ':' up to a trailing "(flags)" group or the end; it
 * may contain parentheses ("metre/(second*kg)") but not : = , ; ? < > ! & | #.
 * Known flags: ODE "unless refractory"; X = ... "constant over dt" (edit
 * ODE_FLAGS/ASSIGN_FLAGS in expr.c to add more; what they mean is the code
 * generator's business: docs/models.md); flag text is normalised to
 * single spaces. A 'NAME (words)' at the end of the right-hand side is taken
 * as flags, not as a call, unless NAME is a known function.
 * Expression positions are relative to src (line within src, column within
 * that line). Fills *out (which need not be initialised) and returns 0; or
 * returns NK_EXPR_ESYNTAX / NK_EXPR_ENOMEM / NK_EXPR_EINVAL with a message in
 * err ("line 2, column 9: unexpected '*'\n  <line>\n  <caret>") and *out left
 * empty (items NULL, n 0). Free with nk_stmts_free. */
int nk_stmts_parse(const char *src, nk_stmt_list *out, char *err, size_t errlen);

/* Frees everything in l and leaves it empty. NULL is allowed. */
void nk_stmts_free(nk_stmt_list *l);

/* ---- messages ----------------------------------------------------------- */

/* Returns the candidate (a pointer into candidates) with the smallest
 * optimal-string-alignment (Damerau-Levenshtein) distance to name if that
 * distance is <= max(1, strlen(name)/3), the first such on ties; else NULL.
 * NULL entries are skipped. Allocates nothing that outlives the call. */
const char *nk_suggest(const char *name, const char *const *candidates, int n);

/* Evaluates e numerically (libm functions; comparisons and logic give 0 or
 * 1; a conditional evaluates only the branch it takes). lookup(name, &value,
 * ud) gives each variable's value and returns 0, or nonzero when the name
 * has none here: nk_expr_eval then returns NK_EXPR_EINVAL and writes nothing
 * (the caller's lookup knows best what to say). A function it cannot
 * evaluate (rand(), randn()) gives NK_EXPR_ESYNTAX with a message in err.
 * Returns 0 on success. */
int nk_expr_eval(const nk_expr *e, int (*lookup)(const char *name, double *value, void *ud),
                 void *ud, double *out, char *err, size_t errlen);

/* Formats a message that points at line:col of src in the style of the
 * parser ("[line L, ]column C: MESSAGE\n  <source line>\n  <caret>"; the
 * "line L, " part appears when src has several lines), so later stages can
 * report e.g. an unknown identifier found with nk_expr_walk_vars. fmt is a
 * printf format. Writes into err[errlen]; returns NK_EXPR_ESYNTAX (for
 * convenient "return nk_src_error(...)"). */
int nk_src_error(const char *src, int line, int col, char *err, size_t errlen, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 6, 7)))
#endif
    ;

#ifdef __cplusplus
}
#endif

#endif
