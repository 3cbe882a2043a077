/* codegen.c - C code generated per population from its model's equations.
 *
 * One population gives one function, nk_update (see rt/nk_kernel.h), over the
 * neuron model and every receptor (synapse model instance) on the population,
 * plus one nk_graded_P per graded projection onto it. All arithmetic is done
 * in double precision whatever the storage type; the runtime headers
 * (rt/nk_math.h, rt/nk_philox.h) are pasted in so the file is
 * self-contained, and the same text will feed NVRTC for the CUDA backend.
 *
 * Every expression is first put in canonical form (canon()): each name is
 * replaced by its name in the generated code, intermediates and the input
 * current I are written out in full (but for intermediates flagged
 * (constant over dt) in the solver's equations: those are computed once per
 * step before the solver and read as nk_cK). The population's states, neuron's and
 * receptors' together, form one ODE system that the chosen solver advances:
 *   explicit Runge-Kutta (euler, midpoint, heun, rk4) from a tableau, with
 *     max_dt sub-steps;
 *   rk45: Dormand-Prince 5(4), error-controlled per neuron inside the step;
 *   exponential_euler: x += f(x) (exp(B h) - 1)/B, B = df/dx;
 *   exact: for a linear system x' = A x + b, x(h) = x + G f(x) with
 *     G = int_0^h exp(A s) ds, computed here from the parameter values and
 *     handed to the kernel as constants after the parameters (kextra).
 *
 * Names in the generated code:
 *   s_X        neuron state X            p_X     neuron parameter X
 *   rK_X       receptor K's state X      rpK_X   receptor K's parameter X
 *   nk_iext    external current (pA)     nk_w    on_pre: the summed weight
 *   nk_t, nk_dt, i; nk_y0_J, nk_kS_J     solver temporaries of ODE J
 *   nk_cK      a (constant over dt) intermediate, computed once per step
 */
#include "internal.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char nk_src_kernel_h[];
extern const char nk_src_math_h[];
extern const char nk_src_cuda_h[];
extern const char nk_src_philox_h[];

/* ---- a growing string ---------------------------------------------------- */

struct hoist;

typedef struct sb {
    char *s;
    size_t len, cap;
    int oom;
    struct hoist *h;     /* set while writing the per-neuron loop (see emit) */
    const char *pop;     /* the population whose code this is, for messages */
} sb;

/* The most C one module's expressions may take: the largest built-in
 * neuron with eight receptors writes under 0.1 MB, and gcc -O3 takes about
 * 4 s per MB of such expressions. An intermediate squared level after level
 * (each level under the 1e6 terms canon allows) used by many equations
 * would otherwise have the compiler run for minutes. */
#define CODE_MAX_BYTES (4u << 20)

static void sb_printf(sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Makes room for more bytes (and a 0) after what b holds; -1 (b->oom set)
 * when out of memory. */
static int sb_grow(sb *b, size_t more)
{
    size_t ncap = (b->cap + more + 1) * 2;
    char *ns = realloc(b->s, ncap);
    if (!ns) {
        b->oom = 1;
        return -1;
    }
    b->s = ns;
    b->cap = ncap;
    return 0;
}

static void sb_printf(sb *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int w = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (w < 0) {
            b->oom = 1;
            return;
        }
        if (b->s && (size_t)w < b->cap - b->len) {
            b->len += (size_t)w;
            return;
        }
        if (sb_grow(b, (size_t)w))
            return;
    }
}

/* Appends len bytes of text. */
static void sb_put(sb *b, const char *text, size_t len)
{
    if (b->oom || (b->cap - b->len <= len && sb_grow(b, len)))
        return;
    memcpy(b->s + b->len, text, len);
    b->len += len;
    b->s[b->len] = 0;
}

/* Inserts text at offset at of b's text. */
static void sb_insert(sb *b, size_t at, const char *text)
{
    const size_t len = strlen(text);
    if (b->oom || at > b->len || (b->cap - b->len <= len && sb_grow(b, len)))
        return;
    memmove(b->s + at + len, b->s + at, b->len - at + 1);
    memcpy(b->s + at, text, len);
    b->len += len;
}

/* Appends a runtime header, leaving out its local #include lines (the headers
 * are pasted in dependency order). Copied, not formatted: the headers are
 * most of every population's text (50 kB), and a network may have tens of
 * thousands of populations. */
static void sb_header(sb *b, const char *text)
{
    while (*text) {
        const char *e = strstr(text, "\n#include \"");
        size_t len = e ? (size_t)(e - text + 1) : strlen(text);
        if (!strncmp(text, "#include \"", 10)) {
            e = strchr(text, '\n');
            len = e ? (size_t)(e - text + 1) : strlen(text);
        } else {
            sb_put(b, text, len);
        }
        text += len;
    }
    sb_put(b, "\n", 1);
}

int nk_method_known(const char *m)
{
    static const char *const known[] = {"euler", "midpoint", "heun", "rk4", "rk45",
                                        "exponential_euler", "exact"};
    for (size_t k = 0; k < sizeof known / sizeof *known; k++)
        if (!strcmp(m, known[k]))
            return 1;
    return 0;
}

/* ---- canonical form ---------------------------------------------------- */

/* Intermediates flagged (constant over dt) that the solver uses: each is
 * computed once per step, before the solver, into nk_cK (K its index here),
 * and every stage and sub-step reads that value (Brian2's flag). */
typedef struct cod_ent {
    int rx;                  /* -1 neuron, else receptor */
    const nk_stmt *st;
    int state;               /* emission: 0 not yet, 1 under way, 2 written */
} cod_ent;

typedef struct cod_list {
    cod_ent *e;
    int n;
    int64_t cap;
} cod_list;

typedef struct canon_ctx {
    nk_pop *pop;
    int in_on_pre;           /* w is the arriving weight */
    cod_list *cod;           /* the solver's equations: (constant over dt)
                                intermediates become nk_cK; NULL elsewhere */
    char *err;
    size_t errlen;
    int64_t nodes;           /* made so far: intermediates are substituted where used */
} canon_ctx;

static int has_flag(const nk_stmt *st, const char *flag)
{
    for (int f = 0; f < st->nflags; f++)
        if (!strcmp(st->flags[f], flag))
            return 1;
    return 0;
}

/* The index of (rx, st) in l, added when new; -1 when out of memory. */
static int cod_add(cod_list *l, int rx, const nk_stmt *st)
{
    for (int k = 0; k < l->n; k++)
        if (l->e[k].rx == rx && l->e[k].st == st)
            return k;
    if (nk_room((void **)&l->e, &l->cap, l->n, sizeof *l->e))
        return -1;
    l->e[l->n] = (cod_ent){rx, st, 0};
    return l->n++;
}

/* Terms one expression may grow to once its intermediates are substituted
 * (an intermediate used twice at each of 22 levels is 4 million). */
#define CANON_MAX_NODES 1000000

static int is_builtin(const char *name)
{
    return !strcmp(name, "t") || !strcmp(name, "dt") || !strcmp(name, "i") ||
           !strcmp(name, "pi") || !strcmp(name, "e");
}

static nk_expr *canon_rec(const nk_expr *e, canon_ctx *c, int rx, int depth);
static int is_constant(const nk_expr *e);

/* The neuron's input current: every receptor's current plus nk_iext. A
 * population without an external current leaves nk_iext (0) out of the sum,
 * and so are currents that are the number 0 (a receptor whose conductance is
 * the neuron's own state): the compiler may not drop a "0.0 +" itself (it
 * turns -0 into +0), and the sum is in every neuron's step. */
static nk_expr *canon_I(canon_ctx *c, int depth)
{
    nk_expr *sum = c->pop->i_ext ? nk_expr_var("nk_iext") : NULL;
    if (c->pop->i_ext && !sum)
        return NULL;
    for (int r = 0; r < c->pop->nrx; r++) {
        nk_expr *cur = canon_rec(c->pop->rx[r].syn->current, c, r, depth + 1);
        if (!cur) {
            nk_expr_free(sum);
            return NULL;
        }
        if (cur->kind == NK_EX_NUM && cur->num == 0) {
            nk_expr_free(cur);
            continue;
        }
        sum = sum ? nk_expr_bin(NK_OP_ADD, sum, cur) : cur;
        if (!sum)
            return NULL;
    }
    return sum ? sum : nk_expr_num(0.0);
}

static nk_expr *named(const char *fmt, int rx, const char *name)
{
    char b[256];
    if (rx >= 0)
        snprintf(b, sizeof b, fmt, rx, name);
    else
        snprintf(b, sizeof b, fmt, name);
    return nk_expr_var(b);
}

static nk_expr *canon_var(const char *name, canon_ctx *c, int rx, int depth)
{
    const nk_model *nm = c->pop->model;
    const nk_model *m = rx >= 0 ? c->pop->rx[rx].syn : nm;
    if (rx >= 0 && c->in_on_pre && !strcmp(name, "w"))
        return nk_expr_var("nk_w");
    if (nk_model_state_index0(m, name) >= 0)
        return rx >= 0 ? named("r%d_%s", rx, name) : named("s_%s", -1, name);
    if (nk_model_param_index0(m, name) >= 0)
        return rx >= 0 ? named("rp%d_%s", rx, name) : named("p_%s", -1, name);
    for (int k = 0; k < m->eqs.n; k++) {
        const nk_stmt *st = &m->eqs.items[k];
        if (st->kind != NK_ST_ASSIGN || strcmp(st->target, name))
            continue;
        if (c->cod && has_flag(st, "constant over dt")) {
            /* one of parameters only is the same in every stage anyway,
             * and stays a constant for the solvers (exact's coefficients) */
            nk_expr *v = canon_rec(st->rhs, c, rx, depth + 1);
            if (!v || is_constant(v))
                return v;
            nk_expr_free(v);
            int q = cod_add(c->cod, rx, st);
            if (q < 0)
                return NULL;
            char b[32];
            snprintf(b, sizeof b, "nk_c%d", q);
            return nk_expr_var(b);
        }
        return canon_rec(st->rhs, c, rx, depth + 1);
    }
    if (rx < 0 && !strcmp(name, "I"))
        return canon_I(c, depth);
    if (is_builtin(name))
        return nk_expr_var(name);
    if (!strcmp(name, "refractory"))
        return nk_expr_var("nk_refractory");
    if (rx >= 0) {
        /* The target neuron's states and parameters (or their aliases). */
        int k = nk_model_state_index(nm, name);
        if (k >= 0)
            return named("s_%s", -1, nm->sname[k]);
        k = nk_model_param_index(nm, name);
        if (k >= 0)
            return named("p_%s", -1, nm->pname[k]);
        snprintf(c->err, c->errlen,
                 "population '%s': synapse '%s' (receptor '%s') uses '%s', which is not a name "
                 "of the synapse or of neuron model '%s'",
                 c->pop->name, m->name, c->pop->rx[rx].name, name, nm->name);
        return NULL;
    }
    snprintf(c->err, c->errlen, "population '%s': model '%s' has no name '%s'", c->pop->name,
             m->name, name);
    return NULL;
}

/* Whether e comes out of emit as a double: not a comparison, 'and', 'or'
 * or 'not', which are C ints (adding the number 0 makes them doubles, and
 * "(a > b) + 0" must not fold to an int that a '/' would then divide as
 * integers). */
static int is_real(const nk_expr *e)
{
    if (e->kind == NK_EX_NOT)
        return 0;
    return e->kind != NK_EX_BIN || e->op < NK_OP_LT;
}

static nk_expr *canon_rec(const nk_expr *e, canon_ctx *c, int rx, int depth)
{
    if (!e)
        return NULL;
    if (depth > 64) {
        snprintf(c->err, c->errlen,
                 "population '%s': intermediate expressions refer to each other in a cycle, or "
                 "nest more than 64 deep",
                 c->pop->name);
        return NULL;
    }
    if (++c->nodes > CANON_MAX_NODES) {
        snprintf(c->err, c->errlen,
                 "population '%s': an expression grows past %d terms once its intermediates are "
                 "substituted (intermediates that use earlier ones several times, level after "
                 "level); use fewer levels, or write the repeated part as a state",
                 c->pop->name, CANON_MAX_NODES);
        return NULL;
    }
    switch (e->kind) {
    case NK_EX_NUM:
        return nk_expr_num(e->num);
    case NK_EX_VAR:
        return canon_var(e->name, c, rx, depth);
    case NK_EX_NEG:
        return nk_expr_neg(canon_rec(e->args[0], c, rx, depth));
    case NK_EX_NOT:
        return nk_expr_not(canon_rec(e->args[0], c, rx, depth));
    case NK_EX_BIN: {
        nk_expr *l = canon_rec(e->args[0], c, rx, depth), *r = canon_rec(e->args[1], c, rx, depth);
        /* a + 0, 0 + a, a - 0: a (but for the sign of a zero). The input
         * current I of a population whose receptors' currents are all 0
         * and which has no external current (COBA's, whose conductances
         * are the neuron's own states) is 0, and every neuron's step would
         * add it. */
        const int lz = l && l->kind == NK_EX_NUM && l->num == 0;
        const int rz = r && r->kind == NK_EX_NUM && r->num == 0;
        if (l && r && (e->op == NK_OP_ADD || e->op == NK_OP_SUB) && rz && is_real(l)) {
            nk_expr_free(r);
            return l;
        }
        if (l && r && e->op == NK_OP_ADD && lz && is_real(r)) {
            nk_expr_free(l);
            return r;
        }
        return nk_expr_bin(e->op, l, r);
    }
    case NK_EX_COND:
        return nk_expr_cond(canon_rec(e->args[0], c, rx, depth),
                            canon_rec(e->args[1], c, rx, depth),
                            canon_rec(e->args[2], c, rx, depth));
    case NK_EX_CALL: {
        nk_expr *a[8] = {NULL};
        int n = e->nargs < 8 ? e->nargs : 8;
        for (int k = 0; k < n; k++) {
            a[k] = canon_rec(e->args[k], c, rx, depth);
            if (!a[k]) {
                for (int j = 0; j < k; j++)
                    nk_expr_free(a[j]);
                return NULL;
            }
        }
        return nk_expr_call(e->name, a, n);
    }
    }
    return NULL;
}

/* e of model scope rx (-1: the neuron) in canonical form; NULL with err set
 * (or "out of memory"). */
static nk_expr *canon_cod(const nk_expr *e, nk_pop *pop, int rx, int in_on_pre, cod_list *cod,
                          char *err, size_t errlen)
{
    canon_ctx c = {pop, in_on_pre, cod, err, errlen, 0};
    if (errlen)
        err[0] = 0;
    nk_expr *r = canon_rec(e, &c, rx, 0);
    if (!r && errlen && !err[0])
        snprintf(err, errlen, "out of memory");
    return r;
}

static nk_expr *canon(const nk_expr *e, nk_pop *pop, int rx, int in_on_pre, char *err,
                      size_t errlen)
{
    return canon_cod(e, pop, rx, in_on_pre, NULL, err, errlen);
}

/* Emission of canonical trees: generated names pass through, built-ins map. */
static int resolve_canon(const char *name, char *out, size_t outlen, void *ud)
{
    (void)ud;
    const char *v = name;
    if (!strcmp(name, "t"))
        v = "nk_t";
    else if (!strcmp(name, "dt"))
        v = "nk_dt";
    else if (!strcmp(name, "i"))
        v = "((double)i)";
    else if (!strcmp(name, "pi"))
        v = "3.141592653589793";
    else if (!strcmp(name, "e"))
        v = "2.718281828459045";
    return snprintf(out, outlen, "%s", v) < 0;
}

static int emit_with(sb *b, const nk_expr *e,
                     int (*fn)(const char *, char *, size_t, void *), void *ud, char *err,
                     size_t errlen)
{
    size_t cap = 4096;
    for (;;) {
        char *buf = malloc(cap);
        if (!buf) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        int n = nk_expr_to_c(e, buf, cap, fn, ud);
        if (n >= 0 && b->len + (size_t)n > CODE_MAX_BYTES) {
            free(buf);
            snprintf(err, errlen,
                     "%s%s%sthe generated code grows past %u MB: its expressions are too large "
                     "once their intermediates are substituted (intermediates that use earlier "
                     "ones several times, level after level, used by many equations); use fewer "
                     "levels, or write the repeated part as a state",
                     b->pop ? "population '" : "", b->pop ? b->pop : "", b->pop ? "': " : "",
                     CODE_MAX_BYTES >> 20);
            return -1;
        }
        if (n >= 0) {
            sb_printf(b, "%s", buf);
            free(buf);
            return 0;
        }
        free(buf);
        if (n != NK_EXPR_ENOSPC || cap > (1u << 26)) {
            snprintf(err, errlen, "cannot write an expression as C (%s)",
                     n == NK_EXPR_ENOSPC ? "too long" : "a name did not resolve");
            return -1;
        }
        cap *= 4;
    }
}

/* Loop-invariant pieces of the per-neuron code. While the loop over neurons
 * is written (sb.h set), every subexpression made only of parameters, dt and
 * numbers is computed once before the loop as nk_hK, and a division by such
 * a value becomes a multiplication by its reciprocal nk_hK = 1.0 / (...).
 * The first keeps every bit; the second may change the last bit of the
 * quotient (as a compiler's -freciprocal-math would), and does so the same
 * way on every backend, since they all run this code. A division is several
 * times slower than a multiplication, and the per-neuron divisions by time
 * constants and capacitances were most of a LIF's update. */
typedef struct hoist {
    nk_expr **e;
    int *recip;
    int n, cap;
} hoist;

static void hoist_free(hoist *h)
{
    for (int k = 0; k < h->n; k++)
        nk_expr_free(h->e[k]);
    free(h->e);
    free(h->recip);
}

/* The name of the hoisted (1/)e, added when new; NULL when out of memory. */
static nk_expr *hoist_var(hoist *h, const nk_expr *e, int recip)
{
    int k = 0;
    while (k < h->n && !(h->recip[k] == recip && nk_expr_equal(h->e[k], e)))
        k++;
    if (k == h->n) {
        if (h->n == h->cap) {
            int nc = h->cap ? 2 * h->cap : 16;
            nk_expr **ne = realloc(h->e, (size_t)nc * sizeof *ne);
            if (ne)
                h->e = ne;
            int *nr = realloc(h->recip, (size_t)nc * sizeof *nr);
            if (nr)
                h->recip = nr;
            if (!ne || !nr)
                return NULL;
            h->cap = nc;
        }
        if (!(h->e[k] = nk_expr_clone(e)))
            return NULL;
        h->recip[k] = recip;
        h->n++;
    }
    char name[32];
    snprintf(name, sizeof name, "nk_h%d", k);
    return nk_expr_var(name);
}

/* e with its loop-invariant parts replaced by hoisted names; NULL when out
 * of memory. */
static nk_expr *hoist_rw(const nk_expr *e, hoist *h)
{
    if (e->kind == NK_EX_NUM || e->kind == NK_EX_VAR)
        return nk_expr_clone(e);
    if (is_constant(e))
        return hoist_var(h, e, 0);
    if (e->kind == NK_EX_BIN && e->op == NK_OP_DIV && is_constant(e->args[1]))
        return nk_expr_bin(NK_OP_MUL, hoist_rw(e->args[0], h), hoist_var(h, e->args[1], 1));
    /* the node over its rewritten operands (cloning e whole and replacing
     * them would copy every subtree once per level above it) */
    int n = e->nargs;
    nk_expr **a = calloc(n > 0 ? (size_t)n : 1, sizeof *a);
    if (!a)
        return NULL;
    for (int k = 0; k < n; k++)
        if (!(a[k] = hoist_rw(e->args[k], h))) {
            for (int j = 0; j < k; j++)
                nk_expr_free(a[j]);
            free(a);
            return NULL;
        }
    nk_expr *r = NULL;
    switch (e->kind) {
    case NK_EX_NEG: r = nk_expr_neg(a[0]); break;
    case NK_EX_NOT: r = nk_expr_not(a[0]); break;
    case NK_EX_BIN: r = nk_expr_bin(e->op, a[0], a[1]); break;
    case NK_EX_COND: r = nk_expr_cond(a[0], a[1], a[2]); break;
    case NK_EX_CALL: r = nk_expr_call(e->name, a, n); break; /* takes the trees, not a */
    default:
        for (int k = 0; k < n; k++)
            nk_expr_free(a[k]);
    }
    free(a);
    return r;
}

static int emit(sb *b, const nk_expr *e, char *err, size_t errlen)
{
    if (!b->h)
        return emit_with(b, e, resolve_canon, NULL, err, errlen);
    nk_expr *r = hoist_rw(e, b->h);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = emit_with(b, r, resolve_canon, NULL, err, errlen);
    nk_expr_free(r);
    return rc;
}

/* Canonicalises and emits. */
static int emit_canon(sb *b, const nk_expr *e, nk_pop *pop, int rx, int in_on_pre, char *err,
                      size_t errlen)
{
    nk_expr *c = canon(e, pop, rx, in_on_pre, err, errlen);
    if (!c)
        return -1;
    int rc = emit(b, c, err, errlen);
    nk_expr_free(c);
    return rc;
}

/* Nonzero when a canonical name varies per neuron or per step. */
static int not_constant(const char *name, int line, int col, void *ud)
{
    (void)line;
    (void)col;
    (void)ud;
    if (!strncmp(name, "p_", 2) || !strcmp(name, "dt") || !strcmp(name, "pi") ||
        !strcmp(name, "e"))
        return 0;
    if (name[0] == 'r' && name[1] == 'p' && name[2] >= '0' && name[2] <= '9')
        return 0;
    return 1;
}

static int has_random(const nk_expr *e)
{
    if (!e)
        return 0;
    if (e->kind == NK_EX_CALL && (!strcmp(e->name, "rand") || !strcmp(e->name, "randn")))
        return 1;
    for (int k = 0; k < e->nargs; k++)
        if (has_random(e->args[k]))
            return 1;
    return 0;
}

/* Constant for every neuron and step: only parameters, dt and numbers. */
static int is_constant(const nk_expr *e)
{
    return nk_expr_walk_vars(e, not_constant, NULL) == 0 && !has_random(e);
}

/* Values of the names in a constant canonical expression: the population's
 * parameter values and the step h. */
typedef struct const_env {
    nk_pop *pop;
    double h;
} const_env;

static int const_value(const char *n, double *out, void *ud)
{
    const_env *env = ud;
    nk_pop *pop = env->pop;
    int r, off, k = -1;
    if (!strcmp(n, "dt"))
        *out = env->h;
    else if (!strcmp(n, "pi"))
        *out = 3.141592653589793;
    else if (!strcmp(n, "e"))
        *out = 2.718281828459045;
    else if (!strncmp(n, "p_", 2) && (k = nk_model_param_index0(pop->model, n + 2)) >= 0)
        *out = pop->param[k];
    else if (sscanf(n, "rp%d_%n", &r, &off) == 1 && r >= 0 && r < pop->nrx &&
             (k = nk_model_param_index0(pop->rx[r].syn, n + off)) >= 0)
        *out = pop->rx[r].param[k];
    else
        return -1;
    return 0;
}

static int ceval(const nk_expr *e, nk_pop *pop, double h, double *out)
{
    const_env env = {pop, h};
    return nk_expr_eval(e, const_value, &env, out, NULL, 0) ? -1 : 0;
}

/* ---- the ODE system -------------------------------------------------------- */

typedef struct ode {
    const nk_stmt *st;
    int rx;              /* -1 neuron, else receptor */
    char cname[160];     /* s_X or rK_X */
    int kidx;            /* index in the kernel's state[] */
    int frozen;          /* (unless refractory) */
    nk_expr *rhs;        /* canonical */
    nk_expr *coef;       /* exponential_euler: d rhs / d x, canonical */
    int hoisted;         /* coef is constant */
    int decay;           /* exponential_euler, rhs = coef * x exactly (coef
                            constant, never frozen): x becomes x exp(coef h) */
} ode;

typedef struct sys {
    nk_pop *pop;
    ode *o;
    int n;
    const char *method;
    int nsub;            /* sub-steps per step */
    cod_list cod;        /* (constant over dt) intermediates the rhs use */
} sys;

static void sys_free(sys *y)
{
    for (int k = 0; k < y->n; k++) {
        nk_expr_free(y->o[k].rhs);
        nk_expr_free(y->o[k].coef);
    }
    free(y->o);
    free(y->cod.e);
}

static int kernel_index(nk_pop *pop, int rx, int sidx)
{
    int idx = rx < 0 ? 0 : pop->model->nstates;
    for (int r = 0; r < rx; r++)
        idx += pop->rx[r].syn->nstates;
    return idx + sidx;
}

/* The number of state variables the kernel sees, neuron's and receptors'. */
static int kernel_nvars(nk_pop *pop)
{
    return kernel_index(pop, pop->nrx, 0);
}

static int sys_collect(sys *y, nk_net *net, nk_pop *pop, char *err, size_t errlen)
{
    int total = pop->model->eqs.n;
    double max_dt = pop->model->max_dt;
    for (int r = 0; r < pop->nrx; r++) {
        total += pop->rx[r].syn->eqs.n;
        double md = pop->rx[r].syn->max_dt;
        if (md > 0 && (max_dt == 0 || md < max_dt))
            max_dt = md;
    }
    y->pop = pop;
    y->method = pop->method;
    y->o = nk_xcalloc((size_t)total + 1, sizeof *y->o);
    if (!y->o) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    /* (also refused where the population and the receptor are made) */
    double q = nk_substeps(net->dt, max_dt);
    if (q > NK_MAX_SUBSTEPS) {
        snprintf(err, errlen,
                 "population '%s': max_dt %g ms needs %g sub-steps per step of %g ms "
                 "(at most 1e6)", pop->name, max_dt, q, net->dt);
        return -1;
    }
    y->nsub = (int)q;
    for (int r = -1; r < pop->nrx; r++) {
        const nk_model *m = r < 0 ? pop->model : pop->rx[r].syn;
        for (int k = 0; k < m->eqs.n; k++) {
            const nk_stmt *st = &m->eqs.items[k];
            if (st->kind != NK_ST_ODE)
                continue;
            ode *o = &y->o[y->n++];
            o->st = st;
            o->rx = r;
            if (r < 0)
                snprintf(o->cname, sizeof o->cname, "s_%s", st->target);
            else
                snprintf(o->cname, sizeof o->cname, "r%d_%s", r, st->target);
            o->kidx = kernel_index(pop, r, nk_model_state_index0(m, st->target));
            for (int f = 0; f < st->nflags; f++)
                if (!strcmp(st->flags[f], "unless refractory"))
                    o->frozen = 1;
            o->rhs = canon_cod(st->rhs, pop, r, 0, &y->cod, err, errlen);
            if (!o->rhs)
                return -1;
        }
    }
    return 0;
}

/* Rewrites the generated names in msg (a message of the differentiator,
 * which prints canonical trees) as the user wrote them: s_X, p_X, rK_X and
 * rpK_X as X, nk_cK as its intermediate's name, nk_refractory as refractory
 * and the external current nk_iext as I_ext. Every generated name has
 * exactly one such prefix, so a user's own "s_x" comes out whole. */
static void plain_names(char *msg, size_t len, const sys *y)
{
    char out[1024];
    size_t o = 0;
    const char *p = msg;
    while (*p && o + 1 < sizeof out) {
        if (!(isalpha((unsigned char)*p) || *p == '_') ||
            (p > msg && (isalnum((unsigned char)p[-1]) || p[-1] == '_'))) {
            out[o++] = *p++;
            continue;
        }
        const char *e = p;
        while (isalnum((unsigned char)*e) || *e == '_')
            e++;
        char id[512], rid[512];
        snprintf(id, sizeof id, "%.*s", (int)(e - p), p);
        const char *shown = id;
        int q, off = 0;
        if (!strncmp(id, "s_", 2) || !strncmp(id, "p_", 2))
            shown = id + 2;
        else if ((sscanf(id, "rp%d_%n", &q, &off) == 1 || sscanf(id, "r%d_%n", &q, &off) == 1) &&
                 off > 0) {
            shown = id + off;
            if (q >= 0 && q < y->pop->nrx) { /* as monitors name it: receptor.X */
                snprintf(rid, sizeof rid, "%s.%s", y->pop->rx[q].name, id + off);
                shown = rid;
            }
        }
        else if (sscanf(id, "nk_c%d%n", &q, &off) == 1 && !id[off] && q >= 0 && q < y->cod.n)
            shown = y->cod.e[q].st->target;
        else if (!strcmp(id, "nk_refractory"))
            shown = "refractory";
        else if (!strcmp(id, "nk_iext"))
            shown = "I_ext";
        int w = snprintf(out + o, sizeof out - o, "%s", shown);
        o = w < 0 ? o : o + (size_t)w >= sizeof out ? sizeof out - 1 : o + (size_t)w;
        p = e;
    }
    if (!len)
        return;
    if (o >= len)
        o = len - 1;
    memcpy(msg, out, o);
    msg[o] = 0;
}

/* How the user names ODE o: "v", or "exc.g" for a receptor's state. */
static void ode_name(const sys *y, const ode *o, char *out, size_t len)
{
    if (o->rx < 0)
        snprintf(out, len, "%s", o->st->target);
    else
        snprintf(out, len, "%s.%s", y->pop->rx[o->rx].name, o->st->target);
}

#define DIFF_HINT "; use a method that does not differentiate (euler, midpoint, heun, rk4 or rk45)"

/* exponential_euler: the coefficient of each equation in its own variable. */
static int sys_expeuler(sys *y, char *err, size_t errlen)
{
    long long budget = NK_EXPR_DIFF_MAX_TERMS; /* for the whole population */
    for (int k = 0; k < y->n; k++) {
        ode *o = &y->o[k];
        char derr[512], x[200];
        nk_expr *d = nk_expr_diff_budget(o->rhs, o->cname, &budget, derr, sizeof derr);
        if (!d) {
            plain_names(derr, sizeof derr, y);
            ode_name(y, o, x, sizeof x);
            snprintf(err, errlen, "population '%s', method exponential_euler: 'd%s/dt': %s%s",
                     y->pop->name, x, derr, budget < 0 ? DIFF_HINT : "");
            return -1;
        }
        nk_expr *ds = nk_expr_simplify(d);
        nk_expr_free(d);
        if (!ds) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        /* Not linear in its own variable: B is then the local derivative at
         * the step's start (exponential Rosenbrock-Euler), still first order
         * and exact for the linear part. */
        if (ds->kind == NK_EX_NUM && ds->num == 0) {
            nk_expr_free(ds);
            continue;
        }
        o->coef = ds;
        o->hoisted = is_constant(ds);
        /* A pure decay (a synapse's dg/dt = -g/tau): one multiplication per
         * step by a hoisted exp(B h) instead of y + F (B y), the same value
         * but for the last bit. */
        if (o->hoisted && !o->frozen) {
            nk_expr *zero = nk_expr_num(0.0);
            nk_expr *at0 = zero ? nk_expr_subst(o->rhs, o->cname, zero) : NULL;
            nk_expr *s0 = at0 ? nk_expr_simplify(at0) : NULL;
            o->decay = s0 && s0->kind == NK_EX_NUM && s0->num == 0;
            nk_expr_free(s0);
            nk_expr_free(at0);
            nk_expr_free(zero);
        }
    }
    return 0;
}

/* exact's update x + G f(x) is written out term by term up to this many
 * states (n * n products, vectorised over neurons), and as loops over G
 * above: gcc -O3 took 8 s for the 400 written-out products of 20 states and
 * 50 s for the 1,600 of 40, against 3.9 s for 16, whose written-out update
 * runs 3 times as fast as the loops (docs/engine.md). */
enum { EXACT_UNROLL = 16 };

/* exact: G = int_0^h exp(A s) ds for the linear system (and Gr with the
 * frozen rows zeroed, for refractory neurons), appended to extras. */
static int mat_expint(int n, const double *A, double h, double *G)
{
    /* exp([[A h, I h], [0, 0]]) = [[exp(A h), G], [0, I]]: scaling and
     * squaring with a Taylor series. */
    int N = 2 * n;
    double *M = calloc((size_t)N * N, sizeof *M), *E = calloc((size_t)N * N, sizeof *E);
    double *T = calloc((size_t)N * N, sizeof *T), *U = calloc((size_t)N * N, sizeof *U);
    if (!M || !E || !T || !U) {
        free(M), free(E), free(T), free(U);
        return -1;
    }
    double norm = 0;
    for (int i = 0; i < n; i++) {
        double row = h;
        for (int j = 0; j < n; j++) {
            M[i * N + j] = A[i * n + j] * h;
            row += fabs(M[i * N + j]);
        }
        M[i * N + n + i] = h;
        if (row > norm)
            norm = row;
    }
    int sq = 0;
    while (norm > 0.25 && sq < 60) {
        norm /= 2;
        sq++;
    }
    double scale = ldexp(1.0, -sq);
    for (int k = 0; k < N * N; k++)
        M[k] *= scale;
    /* E = I + M + M^2/2 + ... */
    for (int k = 0; k < N; k++)
        E[k * N + k] = T[k * N + k] = 1;
    for (int term = 1; term <= 24; term++) {
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++) {
                double acc = 0;
                for (int q = 0; q < N; q++)
                    acc += T[i * N + q] * M[q * N + j];
                U[i * N + j] = acc / term;
            }
        memcpy(T, U, (size_t)N * N * sizeof *T);
        for (int k = 0; k < N * N; k++)
            E[k] += T[k];
    }
    for (int s = 0; s < sq; s++) {
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++) {
                double acc = 0;
                for (int q = 0; q < N; q++)
                    acc += E[i * N + q] * E[q * N + j];
                U[i * N + j] = acc;
            }
        memcpy(E, U, (size_t)N * N * sizeof *E);
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            G[i * n + j] = E[i * N + n + j];
    free(M), free(E), free(T), free(U);
    return 0;
}

/* The name, as the user writes it ("v", "exc.g"), of the first state of
 * system y that e uses, in out ("" when none). */
typedef struct state_use {
    const sys *y;
    char *out;
    size_t len;
} state_use;

static int first_state(const char *name, int line, int col, void *ud)
{
    (void)line;
    (void)col;
    state_use *u = ud;
    for (int k = 0; k < u->y->n; k++)
        if (!strcmp(name, u->y->o[k].cname)) {
            ode_name(u->y, &u->y->o[k], u->out, u->len);
            return 1;
        }
    return 0;
}

static void state_used(const sys *y, const nk_expr *e, char *out, size_t len)
{
    state_use u = {y, out, len};
    *out = 0;
    nk_expr_walk_vars(e, first_state, &u);
}

/* The propagators of system y into *extra (2 n^2 values), or with check
 * set only whether the system is one exact takes (linear, constant
 * coefficients, no t, no random numbers), whatever the parameter values. */
static int sys_exact(sys *y, double h, int check, double **extra, int *nextra, char *err,
                     size_t errlen)
{
    int n = y->n;
    double *A = nk_xcalloc((size_t)n * n + 1, sizeof *A);
    double *Ar = nk_xcalloc((size_t)n * n + 1, sizeof *Ar);
    double *G = nk_xcalloc((size_t)2 * n * n + 1, sizeof *G);
    if (!A || !Ar || !G) {
        free(A), free(Ar), free(G);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    long long budget = NK_EXPR_DIFF_MAX_TERMS; /* for all n * n derivatives */
    for (int i = 0; i < n; i++) {
        ode *o = &y->o[i];
        char xi[200];
        ode_name(y, o, xi, sizeof xi);
        if (nk_expr_uses(o->rhs, "t") || has_random(o->rhs)) {
            snprintf(err, errlen,
                     "population '%s': method exact needs equations without t or random numbers "
                     "('d%s/dt' has %s)", y->pop->name, xi,
                     has_random(o->rhs) ? "rand()/randn()" : "t");
            goto fail;
        }
        for (int j = 0; j < n; j++) {
            char derr[512];
            nk_expr *d = nk_expr_diff_budget(o->rhs, y->o[j].cname, &budget, derr, sizeof derr);
            nk_expr *ds = d ? nk_expr_simplify(d) : NULL;
            nk_expr_free(d);
            if (!ds) {
                plain_names(derr, sizeof derr, y);
                snprintf(err, errlen, "population '%s', method exact: 'd%s/dt': %s%s",
                         y->pop->name, xi, d ? "out of memory" : derr,
                         !d && budget < 0 ? DIFF_HINT : "");
                goto fail;
            }
            double v;
            int bad = !is_constant(ds) || ceval(ds, y->pop, h, &v);
            char with[300] = "", xj[200];
            if (bad)
                state_used(y, ds, with, sizeof with);
            ode_name(y, &y->o[j], xj, sizeof xj);
            nk_expr_free(ds);
            if (!bad && !isfinite(v) && !check) {
                snprintf(err, errlen,
                         "population '%s', method exact: in 'd%s/dt' the coefficient of '%s' is "
                         "%g with the population's parameter values (is a time constant 0, or "
                         "does an exponent overflow?)",
                         y->pop->name, xi, xj, v);
                goto fail;
            }
            if (bad) {
                snprintf(err, errlen,
                         "population '%s': method exact needs a linear system with constant "
                         "coefficients, but 'd%s/dt' depends on '%s' through a coefficient that "
                         "varies%s%s%s (use exponential_euler or rk4)",
                         y->pop->name, xi, xj, *with ? " with '" : "", with, *with ? "'" : "");
                goto fail;
            }
            A[i * n + j] = v;
            Ar[i * n + j] = o->frozen ? 0 : v;
        }
    }
    if (check) {
        free(A), free(Ar), free(G);
        return 0;
    }
    if (mat_expint(n, A, h, G) || mat_expint(n, Ar, h, G + (size_t)n * n)) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (int k = 0; k < 2 * n * n; k++)
        if (!isfinite(G[k])) {
            snprintf(err, errlen,
                     "population '%s': method exact: the propagator overflows at dt = %g ms "
                     "(the linear system grows too fast)", y->pop->name, h);
            goto fail;
        }
    if (n > EXACT_UNROLL) /* the loops read G column by column */
        for (int half = 0; half < 2; half++) {
            double *g = G + (size_t)half * n * n;
            for (int i = 0; i < n; i++)
                for (int j = i + 1; j < n; j++) {
                    double t = g[i * n + j];
                    g[i * n + j] = g[j * n + i];
                    g[j * n + i] = t;
                }
        }
    free(A);
    free(Ar);
    *extra = G;
    *nextra = 2 * n * n;
    return 0;
fail:
    free(A), free(Ar), free(G);
    return -1;
}

/* 0 when population pi's method is not exact or its system (neuron and
 * receptors) is one exact takes, whatever the parameter values, else an
 * error code with err filled: for net:population, net:connect and
 * net:source, so that a population or receptor that would make every run
 * fail is never made. */
int nk_codegen_check_exact(nk_net *net, int pi, char *err, size_t errlen)
{
    nk_pop *pop = &net->pops[pi];
    if (!pop->method || strcmp(pop->method, "exact"))
        return 0;
    sys y = {0};
    double *G = NULL;
    int nG = 0, rc = sys_collect(&y, net, pop, err, errlen);
    if (!rc && y.n > 0)
        rc = sys_exact(&y, net->dt / y.nsub, 1, &G, &nG, err, errlen);
    sys_free(&y);
    return rc ? NK_EINVAL : 0;
}

/* ---- emission ---------------------------------------------------------------- */

/* "(a_0 * nk_<ks[0]>_j + ...)" over the nonzero a_q (a 1 written as the
 * term alone), "(0.0)" when there are none: the compiler may drop neither a
 * "0.0 +" nor, from a sum, a zero term (either could turn -0 into +0). */
static void emit_lincomb(sb *b, const double *a, int nterms, const char *const *ks, int j)
{
    int any = 0;
    sb_printf(b, "(");
    for (int q = 0; q < nterms; q++) {
        if (a[q] == 0)
            continue;
        sb_printf(b, "%s", any ? " + " : "");
        if (a[q] == 1)
            sb_printf(b, "nk_%s_%d", ks[q], j);
        else
            sb_printf(b, "%.17g * nk_%s_%d", a[q], ks[q], j);
        any = 1;
    }
    sb_printf(b, "%s)", any ? "" : "0.0");
}

/* One evaluation of every derivative into nk_<k>_J, with states shadowed by
 * y0 + h*sum(a_s * k_s) when nterms > 0. */
static int emit_stage(sb *b, sys *y, const char *k, double c, int nterms, const double *a,
                      const char *const *ks, char *err, size_t errlen)
{
    sb_printf(b, "            {\n");
    if (nterms > 0) {
        sb_printf(b, "                const double nk_t = nk_tt + %.17g * nk_h; (void)nk_t;\n", c);
        for (int j = 0; j < y->n; j++) {
            sb_printf(b, "                const double %s = nk_y0_%d + nk_h * ", y->o[j].cname, j);
            emit_lincomb(b, a, nterms, ks, j);
            sb_printf(b, "; (void)%s;\n", y->o[j].cname);
        }
    } else {
        sb_printf(b, "                const double nk_t = nk_tt; (void)nk_t;\n");
    }
    for (int j = 0; j < y->n; j++) {
        sb_printf(b, "                nk_%s_%d = ", k, j);
        if (y->o[j].frozen)
            sb_printf(b, "nk_refractory ? 0.0 : ");
        sb_printf(b, "(");
        if (emit(b, y->o[j].rhs, err, errlen))
            return -1;
        sb_printf(b, ");\n");
    }
    sb_printf(b, "            }\n");
    return 0;
}

typedef struct tableau {
    const char *name;
    int s;
    double c[4];
    double a[4][4];
    double b[4];
} tableau;

static const tableau TABLEAUS[] = {
    {"euler", 1, {0}, {{0}}, {1}},
    {"midpoint", 2, {0, 0.5}, {{0}, {0.5}}, {0, 1}},
    {"heun", 2, {0, 1}, {{0}, {1}}, {0.5, 0.5}},
    {"rk4", 4, {0, 0.5, 0.5, 1}, {{0}, {0.5}, {0, 0.5}, {0, 0, 1}},
     {1.0 / 6, 1.0 / 3, 1.0 / 3, 1.0 / 6}},
};

static const char *const KN[] = {"k1", "k2", "k3", "k4", "k5", "k6", "k7"};

static int emit_rk(sb *b, sys *y, const tableau *tb, char *err, size_t errlen)
{
    for (int s = 0; s < tb->s; s++)
        if (emit_stage(b, y, KN[s], tb->c[s], s, tb->a[s], KN, err, errlen))
            return -1;
    for (int j = 0; j < y->n; j++) {
        sb_printf(b, "            %s = nk_y0_%d + nk_h * ", y->o[j].cname, j);
        emit_lincomb(b, tb->b, tb->s, KN, j);
        sb_printf(b, ";\n");
    }
    return 0;
}

/* Dormand-Prince 5(4). */
static const double DP_C[7] = {0, 1.0 / 5, 3.0 / 10, 4.0 / 5, 8.0 / 9, 1, 1};
static const double DP_A[7][6] = {
    {0},
    {1.0 / 5},
    {3.0 / 40, 9.0 / 40},
    {44.0 / 45, -56.0 / 15, 32.0 / 9},
    {19372.0 / 6561, -25360.0 / 2187, 64448.0 / 6561, -212.0 / 729},
    {9017.0 / 3168, -355.0 / 33, 46732.0 / 5247, 49.0 / 176, -5103.0 / 18656},
    {35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84},
};
static const double DP_E[7] = {71.0 / 57600,  0, -71.0 / 16695, 71.0 / 1920,
                               -17253.0 / 339200, 22.0 / 525, -1.0 / 40};

/* One Dormand-Prince try from the states (nk_y0_J) with step nk_h from
 * time nk_tt: the seven stages, the fifth-order states nk_y5_J and the
 * error nk_en, the largest over the states of |error| / (atol + rtol
 * max(|y0|, |y5|)) (NaN when any is not finite). emit_rk45 and
 * emit_rk45_try decide from it. */
static int emit_dp_try(sb *b, sys *y, char *err, size_t errlen)
{
    int n = y->n;
    for (int j = 0; j < n; j++)
        sb_printf(b, "            const double nk_y0_%d = %s;\n", j, y->o[j].cname);
    sb_printf(b, "            double");
    for (int j = 0; j < n; j++)
        sb_printf(b, "%s nk_y5_%d", j ? "," : "", j);
    sb_printf(b, ";\n");
    for (int s = 0; s < 7; s++) {
        sb_printf(b, "            double");
        for (int j = 0; j < n; j++)
            sb_printf(b, "%s nk_%s_%d", j ? "," : "", KN[s], j);
        sb_printf(b, ";\n");
    }
    for (int s = 0; s < 7; s++)
        if (emit_stage(b, y, KN[s], DP_C[s], s, DP_A[s], KN, err, errlen))
            return -1;
    sb_printf(b, "            double nk_en = 0.0;\n");
    for (int j = 0; j < n; j++) {
        sb_printf(b, "            {\n                const double y5 = nk_y0_%d + nk_h * ", j);
        emit_lincomb(b, DP_A[6], 6, KN, j);
        sb_printf(b, ";\n                const double er = nk_h * ");
        emit_lincomb(b, DP_E, 7, KN, j);
        sb_printf(b, ";\n");
        sb_printf(b, "                const double sc = nk_atol + nk_rtol * nk_fmax(nk_fabs(nk_y0_%d), nk_fabs(y5));\n", j);
        sb_printf(b, "                const double q = nk_fabs(er) / sc;\n");
        /* The largest q, and NaN once any state's q is not finite: q - q
         * is 0 for a finite q (en + 0 is en) and NaN for NaN or inf, and
         * q > NaN is false, so a NaN en stays. (!(q <= en) ? q : en let a
         * later state's finite q replace an earlier NaN: a try whose stages
         * overflowed in one state was accepted on another's error, and
         * rinzel's v went from -2.9 to -35062 mV in one step. A select on
         * en != en instead kept a flag GCC does not vectorise.) */
        sb_printf(b, "                nk_en = (q > nk_en ? q : nk_en) + (q - q);\n");
        sb_printf(b, "                nk_y5_%d = y5;\n            }\n", j);
    }
    return 0;
}

static int emit_rk45(sb *b, sys *y, char *err, size_t errlen)
{
    int n = y->n;
    sb_printf(b, "        {\n");
    sb_printf(b, "            double nk_rem = nk_dt, nk_h = nk_dt, nk_tt = nk_t;\n");
    sb_printf(b, "            const double nk_hmin = nk_dt * 1e-9;\n");
    sb_printf(b, "            int nk_tries = 0;\n");
    sb_printf(b, "            while (nk_rem > 0.0) {\n");
    sb_printf(b, "            if (nk_h >= nk_rem * 0.999999) nk_h = nk_rem;\n");
    if (emit_dp_try(b, y, err, errlen))
        return -1;
    /* An error that is not a number (a trial step too long for the model:
     * an exponential overflowing at the stage's states) rejects the try
     * and cuts the step size by 5, as a large error does; only at the
     * smallest step size does it give up (it gave up at once, so that a
     * model rk4 ran in fixed steps stopped under rk45). */
    sb_printf(b, "            if ((!(nk_en == nk_en) && nk_h <= nk_hmin) || ++nk_tries > 1000000) {\n");
    for (int j = 0; j < n; j++)
        sb_printf(b, "                %s = nkm_nan();\n", y->o[j].cname);
    sb_printf(b, "                break;\n            }\n");
    sb_printf(b, "            if (nk_en <= 1.0 || nk_h <= nk_hmin) {\n");
    for (int j = 0; j < n; j++)
        sb_printf(b, "                %s = nk_y5_%d;\n", y->o[j].cname, j);
    sb_printf(b, "                nk_tt += nk_h;\n                nk_rem -= nk_h;\n");
    sb_printf(b, "                if (nk_rem < nk_dt * 1e-12) nk_rem = 0.0;\n            }\n");
    sb_printf(b, "            double nk_fac = nk_en > 0.0 ? 0.9 * nk_pow(nk_en, -0.2) : "
                 "nk_en == nk_en ? 5.0 : 0.2;\n");
    sb_printf(b, "            nk_h *= nk_fac < 0.2 ? 0.2 : nk_fac > 5.0 ? 5.0 : nk_fac;\n");
    sb_printf(b, "            if (nk_h < nk_hmin) nk_h = nk_hmin;\n");
    sb_printf(b, "            }\n        }\n");
    return 0;
}

/* One try of rk45 for each neuron of a block still in its step, in a loop
 * of its own (emit_rk45_outside): the body of emit_rk45's while loop with
 * its branches made selects, reading and writing the neuron's place p in
 * the arrays of those neurons (nk_rk_X[nk_p]). Each neuron computes what
 * emit_rk45 computes, in the same order, so the bits are the same. Each
 * condition is comparisons of doubles joined by & and |, which leave GCC
 * no branch to convert (a first version, which also tested whether each
 * neuron was still in its step, stayed scalar with && and ||: "control
 * flow in loop"), written where it selects a double (GCC 12 gives an int
 * flag kept in a variable a mask of the wrong width). The tries are
 * counted in a double, exactly. */
static int emit_rk45_try(sb *b, sys *y, char *err, size_t errlen)
{
    int n = y->n;
    sb_printf(b, "            const double nk_rem = nk_rk_rem[nk_p], nk_hc = nk_rk_h[nk_p];\n"
                 "            const double nk_tt = nk_rk_tt[nk_p];\n"
                 "            const double nk_tries = nk_rk_tries[nk_p] + 1.0;\n"
                 "            const double nk_hmin = nk_dt * 1e-9;\n"
                 "            const double nk_h = nk_hc >= nk_rem * 0.999999 ? nk_rem : nk_hc;\n");
    if (emit_dp_try(b, y, err, errlen))
        return -1;
    /* failed (an error that is not a number at the smallest step size, or
     * a million tries): NaN, and done; accepted: y5, and on; else as
     * before */
#define RK_FAIL "((nk_en != nk_en & nk_h <= nk_hmin) | nk_tries > 1000000.0)"
#define RK_ACC "(!" RK_FAIL " & (nk_en <= 1.0 | nk_h <= nk_hmin))"
    for (int j = 0; j < n; j++)
        sb_printf(b, "            nk_rk_%s[nk_p] = " RK_FAIL " ? nkm_nan() : " RK_ACC
                     " ? nk_y5_%d : nk_y0_%d;\n",
                  y->o[j].cname, j, j);
    sb_printf(b, "            const double nk_left = nk_rem - nk_h;\n"
                 "            nk_rk_rem[nk_p] = " RK_FAIL " ? 0.0 : !" RK_ACC " ? nk_rem : "
                 "nk_left < nk_dt * 1e-12 ? 0.0 : nk_left;\n"
                 "            nk_rk_tt[nk_p] = " RK_ACC " ? nk_tt + nk_h : nk_tt;\n"
                 "            nk_rk_tries[nk_p] = nk_tries;\n"
                 "            const double nk_fac = nk_en > 0.0 ? 0.9 * nk_pow(nk_en, -0.2) : "
                 "nk_en == nk_en ? 5.0 : 0.2;\n"
                 "            const double nk_hn = nk_h * (nk_fac < 0.2 ? 0.2 : nk_fac > 5.0 ? 5.0 : nk_fac);\n"
                 "            nk_rk_h[nk_p] = nk_hn < nk_hmin ? nk_hmin : nk_hn;\n");
#undef RK_FAIL
#undef RK_ACC
    return 0;
}

/* What one receptor's on_pre statement assigns to. */
static int on_pre_target(nk_pop *pop, int r, const nk_stmt *st, char *out, size_t outlen,
                         char *err, size_t errlen)
{
    const nk_model *m = pop->rx[r].syn;
    if (nk_model_state_index0(m, st->target) >= 0)
        return snprintf(out, outlen, "r%d_%s", r, st->target) < 0;
    int k = nk_model_state_index(pop->model, st->target);   /* aliases too */
    if (k >= 0)
        return snprintf(out, outlen, "s_%s", pop->model->sname[k]) < 0;
    snprintf(err, errlen,
             "population '%s': synapse '%s' (receptor '%s') assigns to '%s' in on_pre, which is "
             "neither its state nor a state of neuron model '%s'",
             pop->name, m->name, pop->rx[r].name, st->target, pop->model->name);
    return -1;
}

/* Whether receptor r of population pop names only what exists: its
 * synapse's equations, current and on_pre read names of the synapse or of
 * the target neuron model (aliases too), and on_pre assigns to states. 0,
 * or an error code with err filled, the message a run would give: for
 * net:connect and net:source, so that a receptor every run would refuse
 * is never made. (A graded synapse's presynaptic names are checked with
 * its projection's source: nk_codegen_check_graded.) */
int nk_codegen_check_receptor(nk_net *net, int pop, int r, char *err, size_t errlen)
{
    nk_pop *p = &net->pops[pop];
    const nk_model *m = p->rx[r].syn;
    for (int k = 0; k < m->eqs.n; k++) {
        nk_expr *c = canon(m->eqs.items[k].rhs, p, r, 0, err, errlen);
        if (!c)
            return NK_EINVAL;
        nk_expr_free(c);
    }
    for (int k = 0; k < m->on_pre.n; k++) {
        const nk_stmt *st = &m->on_pre.items[k];
        char target[128];
        if (on_pre_target(p, r, st, target, sizeof target, err, errlen))
            return NK_EINVAL;
        nk_expr *c = canon(st->rhs, p, r, 1, err, errlen);
        if (!c)
            return NK_EINVAL;
        nk_expr_free(c);
    }
    if (m->current) {
        nk_expr *c = canon(m->current, p, r, 0, err, errlen);
        if (!c)
            return NK_EINVAL;
        nk_expr_free(c);
    }
    return 0;
}

/* 1 when every statement of the synapse's on_pre is "X += w" or
 * "X += abs(w)": with no input (w = 0) they add +0, which leaves X as it was
 * (but for the sign of a zero), so the kernel runs them for every neuron
 * without testing for input first, one test less per neuron and receptor. */
static int on_pre_adds_w(const nk_model *m)
{
    if (m->on_pre.n == 0)
        return 0;
    for (int k = 0; k < m->on_pre.n; k++) {
        const nk_stmt *st = &m->on_pre.items[k];
        const nk_expr *e = st->rhs;
        if (st->kind != NK_ST_ASSIGN || st->op != '+' || !e)
            return 0;
        if (e->kind == NK_EX_CALL && !strcmp(e->name, "abs") && e->nargs == 1)
            e = e->args[0];
        if (e->kind != NK_EX_VAR || strcmp(e->name, "w"))
            return 0;
    }
    return 1;
}

static const char *opstr(char op)
{
    switch (op) {
    case '+': return "+=";
    case '-': return "-=";
    case '*': return "*=";
    case '/': return "/=";
    default: return "=";
    }
}

/* The graded function of projection P (its presynaptic states as NAME_pre). */
typedef struct graded_scope {
    const nk_model *pre, *syn;
    int bad;
    char badname[128];
} graded_scope;

static int resolve_graded(const char *name, char *out, size_t outlen, void *ud)
{
    graded_scope *g = ud;
    size_t l = strlen(name);
    if (l > 4 && !strcmp(name + l - 4, "_pre")) {
        char base[128];
        snprintf(base, sizeof base, "%.*s", (int)(l - 4), name);
        int k = nk_model_state_index(g->pre, base);   /* aliases too */
        if (k < 0) {
            g->bad = 1;
            snprintf(g->badname, sizeof g->badname, "%s", name);
            return 1;
        }
        return snprintf(out, outlen, "((double)pa_%s[j])", g->pre->sname[k]) < 0;
    }
    if (nk_model_param_index0(g->syn, name) >= 0)
        return snprintf(out, outlen, "gp_%s", name) < 0;
    if (!strcmp(name, "dt") || !strcmp(name, "pi") || !strcmp(name, "e"))
        return resolve_canon(name, out, outlen, NULL);
    g->bad = 1;
    snprintf(g->badname, sizeof g->badname, "%s", name);
    return 1;
}

/* The message for a name of graded that resolve_graded did not know. */
static void graded_bad(const graded_scope *g, char *err, size_t errlen)
{
    char list[256] = "";
    for (int k = 0; k < g->pre->nstates; k++) {
        size_t l = strlen(list);
        snprintf(list + l, sizeof list - l, "%s%s_pre", k ? ", " : "", g->pre->sname[k]);
    }
    snprintf(err, errlen,
             "graded synapse '%s' uses '%s', but the presynaptic model '%s' has no such state "
             "(NAME_pre names a presynaptic state: %s) and the synapse no such parameter",
             g->syn->name, g->badname, g->pre->name, *list ? list : "it has none");
}

static int graded_name_ok(const char *name, int line, int col, void *ud)
{
    (void)line;
    (void)col;
    char out[256];
    return resolve_graded(name, out, sizeof out, ud);
}

/* 0 when every name of graded synapse syn resolves with presynaptic model
 * pre, else an error code with err filled: for net:connect, so that a
 * projection every run would refuse is never made. */
int nk_codegen_check_graded(const nk_model *pre, const nk_model *syn, char *err, size_t errlen)
{
    graded_scope g = {pre, syn, 0, ""};
    if (!syn->graded || !nk_expr_walk_vars(syn->graded, graded_name_ok, &g))
        return 0;
    if (g.bad)
        graded_bad(&g, err, errlen);
    else
        snprintf(err, errlen, "graded synapse '%s': a name too long", syn->name);
    return NK_EINVAL;
}

static int emit_graded(sb *b, nk_net *net, int pi, int cuda, char *err, size_t errlen)
{
    for (int k = 0; k < net->nprojs; k++) {
        nk_proj *pj = &net->projs[k];
        if (pj->post.pop != pi)
            continue;
        const nk_model *syn = net->pops[pi].rx[pj->rx].syn;
        if (!syn->graded)
            continue;
        const nk_model *pre = net->pops[pj->pre.pop].model;
        graded_scope g = {pre, syn, 0, ""};
        if (cuda)
            sb_printf(b, "\nNK_KERNEL(nk_graded_%d, nk_dgargs)\n{\n"
                         "    const int64_t j = a->pre_lo + nk_tid, nk_gstep = *a->stepp;\n"
                         "    if (j >= a->pre_hi || *a->halt <= nk_gstep) return;\n"
                         "    const double *param = a->param;\n"
                         "    void *const *pre_state = a->pre_state;\n", k);
        else
            sb_printf(b, "\nvoid nk_graded_%d(void *const *pre_state, const double *param, int64_t j0, int64_t j1, double *out)\n{\n", k);
        for (int q = 0; q < syn->nparams; q++)
            sb_printf(b, "    const double gp_%s = param[%d]; (void)gp_%s;\n", syn->pname[q], q,
                      syn->pname[q]);
        for (int q = 0; q < pre->nstates; q++)
            sb_printf(b, "    const real *pa_%s = (const real *)pre_state[%d]; (void)pa_%s;\n",
                      pre->sname[q], q, pre->sname[q]);
        sb_printf(b, "    const double nk_dt = %.17g; (void)nk_dt;\n", net->dt);
        if (cuda)
            sb_printf(b, "    nk_graded_row(a, j, nk_gstep, ");
        else
            sb_printf(b, "    for (int64_t j = j0; j < j1; j++)\n        out[j - j0] = ");
        if (emit_with(b, syn->graded, resolve_graded, &g, err, errlen)) {
            if (g.bad) {
                char why[512];
                graded_bad(&g, why, sizeof why);
                snprintf(err, errlen, "%s: %s", pj->desc, why);
            }
            return -1;
        }
        sb_printf(b, cuda ? ");\n}\n" : ";\n}\n");
    }
    return 0;
}

/* The (constant over dt) intermediates nk_cJ that a canonical tree uses. */
typedef struct cod_deps {
    int *k;
    int n;
    int64_t cap;
} cod_deps;

static int cod_dep(const char *name, int line, int col, void *ud)
{
    (void)line;
    (void)col;
    cod_deps *d = ud;
    int q, off = 0;
    if (sscanf(name, "nk_c%d%n", &q, &off) != 1 || name[off])
        return 0;
    if (nk_room((void **)&d->k, &d->cap, d->n, sizeof *d->k))
        return -1;
    d->k[d->n++] = q;
    return 0;
}

/* Writes "const double nk_cK = ...;" for (constant over dt) intermediate K of
 * y, after those its expression uses (which may add more to y->cod). */
static int emit_cod(sb *b, sys *y, int k, char *err, size_t errlen)
{
    if (y->cod.e[k].state == 2)
        return 0;
    nk_pop *pop = y->pop;
    const int rx = y->cod.e[k].rx;
    const nk_stmt *st = y->cod.e[k].st;
    if (y->cod.e[k].state == 1) {
        /* (canon_var's depth limit catches a cycle first; a guard) */
        snprintf(err, errlen,
                 "population '%s': %s '%s': intermediates refer to each other in a cycle "
                 "through '%s' (constant over dt)",
                 pop->name, rx < 0 ? "model" : "synapse",
                 rx < 0 ? pop->model->name : pop->rx[rx].syn->name, st->target);
        return -1;
    }
    y->cod.e[k].state = 1;
    nk_expr *c = canon_cod(st->rhs, pop, rx, 0, &y->cod, err, errlen);
    if (!c)
        return -1;
    cod_deps d = {0};
    int rc = nk_expr_walk_vars(c, cod_dep, &d);
    if (rc)
        snprintf(err, errlen, "out of memory");
    for (int q = 0; !rc && q < d.n; q++)
        rc = emit_cod(b, y, d.k[q], err, errlen);
    free(d.k);
    if (!rc) {
        sb_printf(b, "        const double nk_c%d = ", k);
        rc = emit(b, c, err, errlen);
        sb_printf(b, "; /* %s%s */\n", rx < 0 ? "" : "receptor's ", st->target);
    }
    nk_expr_free(c);
    y->cod.e[k].state = 2;
    return rc;
}

/* Declares nk_bv, the kernel index of neuron i's first state variable whose
 * stored value is not finite; else (the reset replaced it, or finite values
 * summed past the range) the first integrated one. Shared by both frames. */
static void emit_bad_var(sb *b, const sys *y, const char *ind)
{
    sb_printf(b, "%sint32_t nk_bv = %d;\n", ind, y->n > 0 ? y->o[0].kidx : 0);
    for (int k = y->n - 1; k >= 0; k--) {
        const char *c = y->o[k].cname;
        if (c[0] == 's' && c[1] == '_')
            sb_printf(b, "%sif (!nk_isfinite((double)a_%s[i])) nk_bv = %d;\n", ind, c + 2,
                      y->o[k].kidx);
        else
            sb_printf(b, "%sif (!nk_isfinite((double)a%s[i])) nk_bv = %d;\n", ind, c,
                      y->o[k].kidx);
    }
}

/* CUDA: constant nameK is the update's a->cst[*n], read by the update (cl)
 * and stored by nk_consts_P (cs). */
static void const_var(sb *cl, sb *cs, int *n, const char *name, int k)
{
    sb_printf(cl, "    const double %s%d = a->cst[%d];\n", name, k, *n);
    sb_printf(cs, "    nk_c[%d] = %s%d;\n", *n, name, k);
    ++*n;
}

/* The start of a population's update: the step, dt and the parameters as
 * locals (what per-step constants are made of); with full, also the rest
 * of the update's frame (state and input arrays, refractory counters,
 * exact propagators). */
static void emit_prelude(sb *b, const nk_pop *pop, const sys *y, int np, int exact, int cuda,
                         int full)
{
    const nk_model *nm = pop->model;
    /* (CUDA: the update's step and its time are arguments, nk_s and nk_ts:
     * its nk_dkargs is the device's, not a copy; the constants need neither) */
    if (!full)
        sb_printf(b, "    const double nk_dt = a->dt;\n");
    else
        sb_printf(b, "    const double nk_t = %s, nk_dt = a->dt; (void)nk_t;\n",
                  cuda ? "nk_ts" : "a->t");
    sb_printf(b, "    const double nk_h = nk_dt / %d; (void)nk_h;\n", y->nsub);
    sb_printf(b, "    const double *nk_x = a->param + %d; (void)nk_x;\n", np);
    sb_printf(b, "    const double nk_rtol = nk_x[0], nk_atol = nk_x[1]; (void)nk_rtol; (void)nk_atol;\n");
    if (full) {
        /* The exact propagators, out of range and refractory, as constants: a
         * per-neuron choice between two pointers kept GCC from vectorising.
         * Larger systems take them from memory (EXACT_UNROLL), and so does
         * CUDA (nk_Gr, where the update integrates). */
        if (exact && y->n <= EXACT_UNROLL && !cuda)
            for (int k = 0; k < 2 * y->n * y->n; k++)
                sb_printf(b, "    const double nk_G%d = nk_x[%d];\n", k, 2 + k);
        else if (exact)
            sb_printf(b, "    const double *const nk_Gx = nk_x + 2;\n");
    }
    int pk = 0;
    for (int k = 0; k < nm->nparams; k++)
        sb_printf(b, "    const double p_%s = a->param[%d]; (void)p_%s;\n", nm->pname[k], pk++,
                  nm->pname[k]);
    for (int r = 0; r < pop->nrx; r++) {
        const nk_model *m = pop->rx[r].syn;
        for (int k = 0; k < m->nparams; k++)
            sb_printf(b, "    const double rp%d_%s = a->param[%d]; (void)rp%d_%s;\n", r,
                      m->pname[k], pk++, r, m->pname[k]);
    }
    if (!full)
        return;
    int sk = 0;
    for (int k = 0; k < nm->nstates; k++)
        sb_printf(b, "    real *a_%s = (real *)a->state[%d];\n", nm->sname[k], sk++);
    for (int r = 0; r < pop->nrx; r++) {
        const nk_model *m = pop->rx[r].syn;
        for (int k = 0; k < m->nstates; k++)
            sb_printf(b, "    real *ar%d_%s = (real *)a->state[%d];\n", r, m->sname[k], sk++);
        if (cuda)
            sb_printf(b, "    int64_t *in%d = a->ring[%d] + (nk_s %% a->ring_len) * a->n;\n", r, r);
        else
            sb_printf(b, "    int64_t *in%d = a->rx_in[%d];\n", r, r);
    }
    sb_printf(b, "    const real *iext = (const real *)a->i_ext; (void)iext;\n");
    sb_printf(b, "    int64_t *refr = a->refr;\n");
    sb_printf(b, "    const int64_t nk_step = %s; (void)nk_step;\n", cuda ? "nk_s" : "a->step");
    if (!cuda)
        sb_printf(b, "    int64_t ns = *nspk;\n");
    sb_printf(b, "    const int32_t nk_refr_steps = a->refr_steps; (void)nk_refr_steps;\n");
}

/* The C name of state q of the neuron (r < 0) or of its receptor r, as the
 * loop over neurons holds it: s_NAME, rR_NAME. */
static void state_cname(const nk_pop *pop, int r, int q, char *out, size_t len)
{
    if (r < 0)
        snprintf(out, len, "s_%s", pop->model->sname[q]);
    else
        snprintf(out, len, "r%d_%s", r, pop->rx[r].syn->sname[q]);
}

/* The functions of model code that GCC vectorises: those of nk_math.h
 * without branches, and those made of a few compares. */
static const char *const vec_fns[] = {"exp",   "expm1", "exprel", "log",  "log10", "log1p",
                                      "pow",   "sinh",  "cosh",   "tanh", "sin",   "cos",
                                      "tan",   "sqrt",  "fabs",   "floor", "ceil", "trunc",
                                      "fmin",  "fmax",  "sign",   "clip", "isfinite"};
/* those with double-double arithmetic inside, which GCC may leave calls */
static const char *const heavy_fns[] = {"log",  "log10", "log1p", "pow", "sinh",
                                        "cosh", "tanh",  "sin",   "cos", "tan"};
#define N_VEC_FNS (sizeof vec_fns / sizeof *vec_fns)
#define N_HEAVY_FNS (sizeof heavy_fns / sizeof *heavy_fns)

/* The nk_ functions text calls: 1 when one among names[0..n), + 2 when one
 * not among them. */
static int calls_of(const char *text, const char *const *names, size_t n)
{
    int some = 0, other = 0;
    for (const char *c = strstr(text, "nk_"); c; c = strstr(c + 3, "nk_")) {
        if (c > text && (isalnum((unsigned char)c[-1]) || c[-1] == '_'))
            continue;
        size_t len = 0;
        while (isalnum((unsigned char)c[3 + len]) || c[3 + len] == '_')
            len++;
        if (c[3 + len] != '(')
            continue; /* a variable, not a call */
        int found = 0;
        for (size_t k = 0; k < n && !found; k++)
            found = strlen(names[k]) == len && !strncmp(c + 3, names[k], len);
        if (found)
            some = 1;
        else
            other = 1;
    }
    return some | 2 * other;
}

/* Whether a sub-step's text calls only functions that GCC vectorises
 * (those of nk_math.h without branches, those made of a few compares, and
 * the random draws): then its neurons go through it in a loop of their own
 * (emit_substeps_outside). A loop over a block that GCC leaves scalar
 * costs more nested than it saves (connor_stevens, with pow before pow
 * lost its branches: 2.7 s before, 3.1 s with them). */
static int vectorisable(const char *text)
{
    return !(calls_of(text, vec_fns, N_VEC_FNS) & 2);
}

/* A neuron's values that live across the sub-step loop, for
 * emit_substeps_outside: its states, its external current, whether it is
 * refractory (and rc, which the threshold sets), and the intermediates
 * constant over dt. what: 0 declares the block arrays (into carry), 1
 * stores the values into them, 2 loads what a sub-step reads, 3 stores what
 * a sub-step changes (the states), 4 loads everything for the rest of the
 * neuron's step, 5 loads what 2 loads but the integrated states and the
 * stream (for emit_rk45_outside, which keeps those apart). */
static void carry_values(sb *b, const nk_pop *pop, const sys *y, int what, int draws)
{
    const nk_model *nm = pop->model;
    for (int r = -1; r < pop->nrx; r++) {
        const nk_model *m = r < 0 ? nm : pop->rx[r].syn;
        for (int q = 0; q < m->nstates; q++) {
            char n[160];
            state_cname(pop, r, q, n, sizeof n);
            int integrated = 0;
            for (int k = 0; what == 5 && k < y->n && !integrated; k++)
                integrated = !strcmp(y->o[k].cname, n);
            if (integrated)
                continue;
            if (what == 0)
                sb_printf(b, "    double nk_cv_%s[NK_BLK];\n", n);
            else if (what == 1 || what == 3)
                sb_printf(b, "        nk_cv_%s[nk_j] = %s;\n", n, n);
            else
                sb_printf(b, "        double %s = nk_cv_%s[nk_j];\n", n, n);
        }
    }
    /* a neuron's place in its random stream: the same words in the same
     * order as in one loop (nk_rng_seek). The rest of the step (4) may draw
     * in the threshold, reset or refractory period, after words drawn
     * before the sub-steps or in them; where it does not, GCC drops the
     * seek's unused block. Sub-steps (2, 3) take the stream only when they
     * draw (draws). */
    if (what == 0)
        sb_printf(b, "    uint32_t nk_cv_rngw[NK_BLK];\n");
    else if (what == 1 || (what == 3 && draws))
        sb_printf(b, "        nk_cv_rngw[nk_j] = nk_rng_tell(&nk_rng_);\n");
    else if (what == 4 || (what == 2 && draws)) /* (5: never draws) */
        sb_printf(b, "        nk_rng nk_rng_; nk_rng_init(&nk_rng_, a->seed, a->stream, "
                     "(uint64_t)nk_step, (uint32_t)i); nk_rng_seek(&nk_rng_, "
                     "nk_cv_rngw[nk_j]); (void)nk_rng_;\n");
    if (what == 3)
        return; /* only the states (and the stream) change in a sub-step */
    /* rc, which only the threshold and after use */
    if ((nm->refr_cond || nm->refr_per_neuron) && what != 2 && what != 5) {
        if (what == 0)
            sb_printf(b, "    int64_t nk_cv_rc[NK_BLK];\n");
        else if (what == 1)
            sb_printf(b, "        nk_cv_rc[nk_j] = rc;\n");
        else
            sb_printf(b, "        int64_t rc = nk_cv_rc[nk_j];\n");
    }
    for (int k = -2; k < y->cod.n; k++) {
        char name[32];
        const char *type = k == -1 ? "int" : "double";
        const int mut = k == -1 && nm->refr_cond; /* declared mutable at 4 */
        if (k >= 0 && y->cod.e[k].state != 2)
            continue;
        if (k < 0)
            snprintf(name, sizeof name, "%s", k == -2 ? "nk_iext" : "nk_refractory");
        else
            snprintf(name, sizeof name, "nk_c%d", k);
        if (what == 0)
            sb_printf(b, "    %s nk_cv_%s[NK_BLK];\n", type, name);
        else if (what == 1)
            sb_printf(b, "        nk_cv_%s[nk_j] = %s;\n", name, name);
        else
            sb_printf(b, "        %s%s %s = nk_cv_%s[nk_j]; (void)%s;\n",
                      what == 4 && mut ? "" : "const ", type, name, name, name);
    }
}

/* The most states and intermediates carried around the sub-step loop: its
 * arrays take 2 KB each on the stack of the thread (a model may have 512
 * states; 64 take 128 KB). A larger model keeps its sub-steps inside.
 * rk45's tries also keep the integrated states (at most as many), and the
 * step's time left, step size, time, tries and places in arrays of their
 * own: 266 KB at most. */
#define CARRY_MAX 64

/* The CPU's sub-steps outside the loop over neurons: the loop over a
 * block's neurons ends where the integration would start, having stored
 * each neuron's values (carry_values) in arrays of the block; each sub-step
 * is then a loop over the block, which GCC vectorises, from and into those
 * arrays; and a third loop takes each neuron's step on from its values (the
 * divergence test, bounds, threshold and reset, as before). Each neuron
 * computes what it computed in one loop, in the same order, so the bits are
 * the same; only the loops are nested the other way round. One thread,
 * 1,000 neurons with Poisson input, 50 ms: hh (rk4, ten sub-steps at dt =
 * 0.1 ms) 2.3 s before, 0.39 s after; rinzel 1.4 and 0.21 s (the
 * benchmarks in docs/performance.md). */
static void emit_substeps_outside(sb *bb, sb *carry, const nk_pop *pop, const sys *y,
                                  const sb *isub)
{
    const int draws = strstr(isub->s, "NK_RAND") != NULL; /* a sub-step draws */
    carry_values(carry, pop, y, 0, draws);
    carry_values(bb, pop, y, 1, draws);
    sb_printf(bb, "      }\n");
    sb_printf(bb, "      for (int nk_sub = 0; nk_sub < %d; nk_sub++) {\n"
                  "#pragma GCC ivdep\n"
                  "      for (int nk_j = 0; nk_j < nk_nb; nk_j++) {\n"
                  "        const int64_t i = nk_b0 + nk_j; (void)i;\n",
              y->nsub);
    carry_values(bb, pop, y, 2, draws);
    sb_put(bb, isub->s, isub->len);
    carry_values(bb, pop, y, 3, draws);
    sb_printf(bb, "      }\n      }\n");
    sb_printf(bb, "#pragma GCC ivdep\n"
                  "      for (int nk_j = 0; nk_j < nk_nb; nk_j++) {\n"
                  "        const int64_t i = nk_b0 + nk_j;\n");
    carry_values(bb, pop, y, 4, draws);
}

/* rk45 on the CPU with its tries outside the loop over neurons, as
 * emit_substeps_outside does with sub-steps: a while loop of tries inside
 * the loop over neurons kept that loop scalar. The loop over a block
 * stores each neuron's values (carry_values) and, for the tries, its
 * states, time left, step size, time and tries in arrays of the neurons
 * still in their step (nk_rk_X, the neuron of place p being nk_pm[p]).
 * Each try is a loop over those places (try, emit_rk45_try's text), which
 * GCC vectorises; then the neurons done put their states back into the
 * block's arrays, and the others move up, so that the next try computes
 * only for neurons in their step: neurons that fire take many more tries
 * than the rest (hh, 1,000 neurons, 50 ms on one thread: 0.50 s with the
 * whole block tried while one neuron is left, as with the tries inside,
 * and 0.10-0.14 s with the neurons done leaving). A third loop goes on
 * from the block's arrays. */
static void emit_rk45_outside(sb *bb, sb *carry, const nk_pop *pop, const sys *y, const sb *try)
{
    static const char *const rkv[] = {"rem", "h", "tt", "tries"};
    carry_values(carry, pop, y, 0, 0);
    sb_printf(carry, "    int nk_pm[NK_BLK];\n");
    for (int k = 0; k < 4; k++)
        sb_printf(carry, "    double nk_rk_%s[NK_BLK];\n", rkv[k]);
    for (int k = 0; k < y->n; k++)
        sb_printf(carry, "    double nk_rk_%s[NK_BLK];\n", y->o[k].cname);
    carry_values(bb, pop, y, 1, 0);
    for (int k = 0; k < y->n; k++)
        sb_printf(bb, "        nk_rk_%s[nk_j] = %s;\n", y->o[k].cname, y->o[k].cname);
    sb_printf(bb, "        nk_pm[nk_j] = nk_j;\n"
                  "        nk_rk_rem[nk_j] = nk_dt;\n        nk_rk_h[nk_j] = nk_dt;\n"
                  "        nk_rk_tt[nk_j] = nk_t;\n        nk_rk_tries[nk_j] = 0.0;\n");
    sb_printf(bb, "      }\n");
    sb_printf(bb, "      for (int nk_na = nk_nb; nk_na > 0;) {\n"
                  "#pragma GCC ivdep\n"
                  "      for (int nk_p = 0; nk_p < nk_na; nk_p++) {\n"
                  "        const int nk_j = nk_pm[nk_p];\n"
                  "        const int64_t i = nk_b0 + nk_j; (void)i;\n");
    carry_values(bb, pop, y, 5, 0);
    for (int k = 0; k < y->n; k++)
        sb_printf(bb, "        double %s = nk_rk_%s[nk_p];\n", y->o[k].cname, y->o[k].cname);
    sb_put(bb, try->s, try->len);
    sb_printf(bb, "      }\n      int nk_q = 0;\n"
                  "      for (int nk_p = 0; nk_p < nk_na; nk_p++) {\n"
                  "        if (nk_rk_rem[nk_p] > 0.0) {\n");
    for (int k = 0; k < 4; k++)
        sb_printf(bb, "          nk_rk_%s[nk_q] = nk_rk_%s[nk_p];\n", rkv[k], rkv[k]);
    for (int k = 0; k < y->n; k++)
        sb_printf(bb, "          nk_rk_%s[nk_q] = nk_rk_%s[nk_p];\n", y->o[k].cname,
                  y->o[k].cname);
    sb_printf(bb, "          nk_pm[nk_q++] = nk_pm[nk_p];\n        } else {\n");
    for (int k = 0; k < y->n; k++)
        sb_printf(bb, "          nk_cv_%s[nk_pm[nk_p]] = nk_rk_%s[nk_p];\n", y->o[k].cname,
                  y->o[k].cname);
    sb_printf(bb, "        }\n      }\n      nk_na = nk_q;\n      }\n");
    sb_printf(bb, "#pragma GCC ivdep\n"
                  "      for (int nk_j = 0; nk_j < nk_nb; nk_j++) {\n"
                  "        const int64_t i = nk_b0 + nk_j;\n");
    carry_values(bb, pop, y, 4, 0);
}

/* The population's code: for the CPU backend, a C file with nk_update (and
 * its graded functions); for the CUDA backend (cuda), the body of
 * nk_update_PI (which nk_update_all calls) and the kernels nk_graded_P
 * alone, to follow nk_codegen_cuda_header().
 * Both share every line of the per-neuron code, so that they compute the
 * same bits; only the frame around it differs (a vectorised loop over
 * blocks of neurons here, one thread per neuron there). */
static char *codegen_pop(nk_net *net, int pi, int cuda, char *err, size_t errlen)
{
    nk_pop *pop = &net->pops[pi];
    const nk_model *nm = pop->model;
    sb b = {.pop = pop->name};
    hoist hz = {0};
    sb bb = {.h = &hz, .pop = pop->name}; /* the loop over neurons */
    /* a sub-step's integration, and the block arrays that carry a neuron's
     * values around the sub-step loop (emit_substeps_outside) */
    sb isub = {.h = &hz, .pop = pop->name}, carry = {.pop = pop->name};
    size_t inline_at = 0, math_end = 0;
    int inline_math = 0; /* every function of nk_math.h always inlined */
    /* the per-step constants: their code (CUDA: in nk_consts_P), and how
     * the update reads (cl) and nk_consts_P stores (cs) each of them */
    sb cb = {.pop = pop->name}, cl = {.pop = pop->name}, cs = {.pop = pop->name};
    sb *kb = cuda ? &cb : &b;
    int ncst = 0;
    sys y = {0};
    int ok = 0;
    double *extra = NULL;
    int nextra = 0;
    free(pop->kextra);
    pop->kextra = NULL;
    pop->nkextra = 0;

    if (!nk_method_known(pop->method)) {
        snprintf(err, errlen, "population '%s': unknown method '%s' (expected %s)", pop->name,
                 pop->method, NK_METHODS);
        return NULL;
    }
    /* A synapse sees the target neuron's states and parameters by name; an
     * intermediate of the synapse with one of those names would hide it in
     * the synapse's current and on_pre without a word. Known only now that
     * the two meet. */
    for (int r = 0; r < pop->nrx; r++) {
        const nk_model *sm = pop->rx[r].syn;
        for (int k = 0; k < sm->eqs.n; k++) {
            const nk_stmt *st = &sm->eqs.items[k];
            int si = nk_model_state_index(nm, st->target);
            if (st->kind != NK_ST_ASSIGN || (si < 0 && nk_model_param_index(nm, st->target) < 0))
                continue;
            snprintf(err, errlen,
                     "population '%s': synapse '%s' (receptor '%s') names an intermediate '%s' "
                     "('%s'), which would hide the %s '%s' of neuron model '%s' in the synapse's "
                     "expressions; rename the intermediate",
                     pop->name, sm->name, pop->rx[r].name, st->target, st->text,
                     si >= 0 ? "state" : "parameter", st->target, nm->name);
            goto done;
        }
    }
    if (sys_collect(&y, net, pop, err, errlen))
        goto done;
    const char *method = y.method;
    double h = net->dt / y.nsub;
    int rk45 = !strcmp(method, "rk45");
    int expeuler = !strcmp(method, "exponential_euler");
    int exact = !strcmp(method, "exact");
    const tableau *tb = NULL;
    for (size_t k = 0; k < sizeof TABLEAUS / sizeof *TABLEAUS; k++)
        if (!strcmp(method, TABLEAUS[k].name))
            tb = &TABLEAUS[k];
    if (expeuler && sys_expeuler(&y, err, errlen))
        goto done;
    /* Extras: rtol, atol, then the exact propagators. */
    {
        double *G = NULL;
        int nG = 0;
        if (exact && y.n > 0 && sys_exact(&y, h, 0, &G, &nG, err, errlen))
            goto done;
        extra = nk_xcalloc((size_t)nG + 2, sizeof *extra);
        if (!extra) {
            free(G);
            snprintf(err, errlen, "out of memory");
            goto done;
        }
        extra[0] = pop->rtol;
        extra[1] = pop->atol;
        if (nG)
            memcpy(extra + 2, G, (size_t)nG * sizeof *G);
        free(G);
        nextra = nG + 2;
    }
    int np = nm->nparams;
    for (int r = 0; r < pop->nrx; r++)
        np += pop->rx[r].syn->nparams;

    /* The text names no population: populations of the same model, options
     * and sizes share one compiled module (net:code adds the name). */
    sb_printf(&b, "%s/* generated by nkshell %s (model '%s', method %s, %d sub-step%s); do not edit */\n",
              cuda ? "\n" : "", nk_version(), nm->name, method, y.nsub,
              y.nsub > 1 ? "s" : "");
    if (cuda) {
        sb_printf(&b, "NK_UBODY(nk_update_%d)\n{\n", pi);
        goto prelude;
    }
    /* GCC's jump threading copies a neuron's path through the refractory
     * test, and the vectorised loop then computes both copies (the loop of
     * CUBA's excitatory kernel, 16 neurons a turn, is 157 instructions with
     * it and 97 without; no model measured slower without it:
     * docs/performance.md, item 20). A pragma rather than a flag, which
     * clang (NKSHELL_CC) would refuse. */
    sb_printf(&b, "#if defined(__GNUC__) && !defined(__clang__)\n"
                  "#pragma GCC optimize(\"no-thread-jumps\")\n#endif\n");
    sb_printf(&b, "#include <stdint.h>\n");
    sb_header(&b, nk_src_kernel_h);
    inline_at = b.len; /* (where inline_math makes nk_math.h's inline) */
    sb_header(&b, nk_src_math_h);
    math_end = b.len;
    sb_header(&b, nk_src_philox_h);
    /* Model code uses the branch-free exponentials, which vectorise. */
    sb_printf(&b, "#define nk_exp nk_fexp\n#define nk_expm1 nk_fexpm1\n"
                  "#define nk_exprel nk_fexprel\n");
    sb_printf(&b, "typedef %s real;\n", net->dbl ? "double" : "float");
    /* fired flags: as wide as a float, so the vectorised loop takes 16
     * neurons a turn and leaves at most 15 to scalar code; non-finite flags:
     * as wide as a double, the width of the test (packed to 32 bits they
     * cost a one-thread CUBA kernel 3-5 % of its time) */
    sb_printf(&b, "typedef int32_t nk_flag;\ntypedef int64_t nk_bflag;\n");
    sb_printf(&b, "#define NK_RAND() nk_rng_uniform(&nk_rng_)\n");
    sb_printf(&b, "#define NK_RANDN() nk_rng_normal(&nk_rng_)\n");
    /* A neuron's place in its stream, carried by the loops of sub-steps
     * (emit_substeps_outside) from one loop over the block to the next:
     * the words it has had since nk_rng_init, and the stream as it is after
     * w words, the block holding word w made at once, without a branch
     * (when w is a multiple of 4, its four words are all unread). */
    sb_printf(&b, "static inline uint32_t nk_rng_tell(const nk_rng *r)\n"
                  "{\n    return 4u * r->draw - (uint32_t)r->left;\n}\n"
                  "static inline void nk_rng_seek(nk_rng *r, uint32_t w)\n{\n"
                  "    nk_rng_block(r->seed, r->stream, r->step, r->index, w >> 2, r->buf);\n"
                  "    r->draw = (w >> 2) + 1u;\n    r->left = 4 - (int)(w & 3u);\n}\n");
    sb_printf(&b, "enum { NK_BLK = 256, NK_NVAR = %d };\n\n", y.n > 0 ? kernel_nvars(pop) : 1);
    sb_printf(&b, "int nk_update(nk_kargs *a, int64_t i0, int64_t i1, int64_t *spk, int64_t *nspk)\n{\n");
prelude:
    emit_prelude(&b, pop, &y, np, exact, cuda, 1);
    /* Hoisted exponential-Euler factors: (exp(B h) - 1) / B. */
    for (int k = 0; k < y.n; k++) {
        if (!y.o[k].coef || !y.o[k].hoisted)
            continue;
        sb_printf(kb, "    const double nk_B%d = ", k);
        if (emit(kb, y.o[k].coef, err, errlen))
            goto done;
        sb_printf(kb, ";\n    const double nk_F%d = nk_B%d != 0.0 ? nk_expm1(nk_B%d * nk_h) / nk_B%d : nk_h;\n",
                  k, k, k, k);
        if (cuda)
            const_var(&cl, &cs, &ncst, "nk_F", k);
        if (y.o[k].decay) {
            sb_printf(kb, "    const double nk_E%d = nk_exp(nk_B%d * nk_h);\n", k, k);
            if (cuda)
                const_var(&cl, &cs, &ncst, "nk_E", k);
        }
    }
    /* The loop over neurons runs in blocks of NK_BLK. The inner loop has no
     * early exit and no appends, so the compiler vectorises it (ivdep: a
     * neuron's code reads and writes only that neuron's entries): it stores
     * each neuron's new state and notes who fired and who became
     * non-finite, with counts, so that the usual block, with neither, is not
     * scanned. A non-finite value does not stop the loop: every neuron is
     * updated, whatever the thread count, and the lowest one is reported.
     * The fired flags of a block are read when the next block has been
     * computed (two buffers): by then the vector stores that wrote them are
     * in the cache, and reading single flags back costs no store-forwarding
     * stall (which, with one neuron in ten firing per step, had been half
     * the update's time). Spikes are listed in neuron order. With a fixed
     * refractory period, listing a spike also sets the neuron's end step
     * (below). */
    const int fixed_refr = !nm->refr_cond && !nm->refr_per_neuron;
    if (cuda) {
        sb_printf(&bb, "    const int64_t i = a->i0 + nk_tid;\n"
                       "    if (i >= a->n || nk_load_shared_i64(a->halt) < nk_step) return;\n");
        sb_printf(&bb, "    nk_flag nk_o_fire[1];\n    nk_bflag nk_o_bad[1];\n"
                       "    const int nk_j = 0;\n    int nk_nfire = 0, nk_anybad = 0;\n"
                       "    (void)nk_nfire; (void)nk_o_fire;\n    {\n");
        goto body;
    }
    sb_printf(&bb, "    int64_t nk_bad = INT64_MAX;\n");
    /* The previous block's fired flags, 8 at a time: four words of zeros
     * (no spike among 8 neurons, the usual case) cost one test. */
    sb_printf(&bb, "    nk_flag nk_fired[2][NK_BLK] = {{0}};\n    int nk_pend = 0, nk_pbuf = 0;\n"
                   "    int64_t nk_pb0 = 0;\n");
    sb_printf(&bb, "#define NK_LIST_FIRED() \\\n"
                   "    for (int nk_j = 0; nk_j < nk_pend; nk_j += 8) { \\\n"
                   "        const nk_flag *nk_f = nk_fired[nk_pbuf] + nk_j; \\\n"
                   "        uint64_t nk_w[4]; \\\n"
                   "        __builtin_memcpy(nk_w, nk_f, sizeof nk_w); \\\n"
                   "        if (!(nk_w[0] | nk_w[1] | nk_w[2] | nk_w[3])) continue; \\\n"
                   "        const int nk_e = nk_pend - nk_j < 8 ? nk_pend - nk_j : 8; \\\n"
                   "        for (int nk_q = 0; nk_q < nk_e; nk_q++) \\\n"
                   "            if (nk_f[nk_q]) { \\\n"
                   "                spk[ns++] = nk_pb0 + nk_j + nk_q; \\\n"
                   "%s"
                   "            } \\\n"
                   "    }\n",
              fixed_refr ? "                refr[nk_pb0 + nk_j + nk_q] = nk_step + nk_refr_steps; \\\n"
                         : "");
    sb_printf(&bb, "    for (int64_t nk_b0 = i0; nk_b0 < i1; nk_b0 += NK_BLK) {\n");
    sb_printf(&bb, "      const int nk_nb = i1 - nk_b0 < NK_BLK ? (int)(i1 - nk_b0) : NK_BLK;\n");
    sb_printf(&bb, "      nk_flag *nk_o_fire = nk_fired[(nk_b0 - i0) / NK_BLK & 1];\n"
                   "      nk_bflag nk_o_bad[NK_BLK];\n");
    sb_printf(&bb, "      int nk_nfire = 0, nk_anybad = 0;\n");
    sb_printf(&bb, "#pragma GCC ivdep\n");
    sb_printf(&bb, "      for (int nk_j = 0; nk_j < nk_nb; nk_j++) {\n");
    sb_printf(&bb, "        const int64_t i = nk_b0 + nk_j;\n");
body:
    for (int k = 0; k < nm->nstates; k++)
        sb_printf(&bb, "        double s_%s = (double)a_%s[i];\n", nm->sname[k], nm->sname[k]);
    for (int r = 0; r < pop->nrx; r++) {
        const nk_model *m = pop->rx[r].syn;
        for (int k = 0; k < m->nstates; k++)
            sb_printf(&bb, "        double r%d_%s = (double)ar%d_%s[i];\n", r, m->sname[k], r,
                      m->sname[k]);
    }
    sb_printf(&bb, "        nk_rng nk_rng_; nk_rng_init(&nk_rng_, a->seed, a->stream, (uint64_t)nk_step, (uint32_t)i); (void)nk_rng_;\n");
    /* The external current, when a source gives the population one. */
    if (pop->i_ext)
        sb_printf(&bb, "        const double nk_iext = (double)iext[i]; (void)nk_iext;\n");
    else
        sb_printf(&bb, "        const double nk_iext = 0.0; (void)nk_iext;\n");
    /* Refractoriness. refr[i] is the step at which the neuron's refractory
     * period ends (it is refractory while the step is below it), or, when
     * the period is a condition, 1 while the condition is to be checked.
     * An end step needs no count down and, with a fixed period, no store
     * but where a neuron fires (written as its spike is listed): CUBA's
     * update took 9 % and COBA's 13 % less time than with a counter of
     * steps left, read, decremented and stored by every neuron
     * (docs/performance.md, item 28). */
    if (nm->refr_cond) {
        sb_printf(&bb, "        int64_t rc = 0;\n        int nk_refractory = 0;\n");
        sb_printf(&bb, "        if (refr[i] > 0) {\n            nk_refractory = (");
        if (emit_canon(&bb, nm->refractory, pop, -1, 0, err, errlen))
            goto done;
        sb_printf(&bb, ") != 0;\n            rc = nk_refractory;\n        }\n");
    } else if (nm->refr_per_neuron) {
        sb_printf(&bb, "        int64_t rc = refr[i];\n");
        sb_printf(&bb, "        const int nk_refractory = nk_step < rc; (void)nk_refractory;\n");
    } else {
        sb_printf(&bb, "        const int nk_refractory = nk_step < refr[i]; (void)nk_refractory;\n");
    }
    /* Input arriving this step: each receptor's on_pre with w = the sum
     * (every step for graded synapses). The slot is cleared as it is read:
     * it becomes the slot of step + ring length. */
    for (int r = 0; r < pop->nrx; r++) {
        const nk_model *m = pop->rx[r].syn;
        sb_printf(&bb, "        const int64_t nk_in%d = in%d[i];\n        in%d[i] = 0;\n", r, r, r);
        const char *conv = !cuda && pop->rx[r].small_in ? "NK_FIX_REAL_SMALL" : "NK_FIX_REAL";
        if (m->graded || on_pre_adds_w(m))
            sb_printf(&bb, "        {\n            const double nk_w = %s(nk_in%d);\n", conv, r);
        else
            sb_printf(&bb, "        if (nk_in%d != 0) {\n            const double nk_w = %s(nk_in%d);\n", r, conv, r);
        for (int k = 0; k < m->on_pre.n; k++) {
            const nk_stmt *st = &m->on_pre.items[k];
            char target[160];
            if (on_pre_target(pop, r, st, target, sizeof target, err, errlen))
                goto done;
            sb_printf(&bb, "            %s %s ", target, opstr(st->op));
            if (emit_canon(&bb, st->rhs, pop, r, 1, err, errlen))
                goto done;
            sb_printf(&bb, ";\n");
        }
        sb_printf(&bb, "        }\n");
    }
    /* (constant over dt) intermediates: once per step, from the states
     * after the input, before every stage and sub-step. */
    for (int k = 0; k < y.cod.n; k++)
        if (emit_cod(&bb, &y, k, err, errlen))
            goto done;
    /* Integration. A sub-step's text goes to isub first: on the CPU, with
     * sub-steps (a model's max_dt below dt), the sub-step loop inside the
     * loop over neurons kept GCC from vectorising it (a loop nest), so the
     * block's neurons then take each sub-step in a loop of their own
     * (emit_substeps_outside). */
    if (y.n > 0) {
        if (rk45) {
            /* On the CPU, the tries outside the loop over neurons where GCC
             * vectorises them (emit_rk45_outside); drawing numbers in
             * tries that a neuron may not take would move its stream. */
            int outside = !cuda && kernel_nvars(pop) + y.cod.n <= CARRY_MAX;
            if (outside && emit_rk45_try(&isub, &y, err, errlen))
                goto done;
            if (isub.oom)
                bb.oom = 1;
            else if (outside && vectorisable(isub.s) && !strstr(isub.s, "NK_RAND")) {
                emit_rk45_outside(&bb, &carry, pop, &y, &isub);
                inline_math = 1;
            } else if (emit_rk45(&bb, &y, err, errlen))
                goto done;
        } else {
            sb *ib = &isub;
            sb_printf(ib, "            const double nk_tt = nk_t + nk_sub * nk_h; (void)nk_tt;\n");
            for (int j = 0; j < y.n; j++)
                sb_printf(ib, "            const double nk_y0_%d = %s;\n", j, y.o[j].cname);
            int nst = tb ? tb->s : 1;
            for (int s = 0; s < nst; s++) {
                sb_printf(ib, "            double");
                for (int j = 0; j < y.n; j++)
                    sb_printf(ib, "%s nk_%s_%d", j ? "," : "", KN[s], j);
                sb_printf(ib, ";\n");
            }
            if (tb) {
                if (emit_rk(ib, &y, tb, err, errlen))
                    goto done;
            } else if (expeuler) {
                if (emit_stage(ib, &y, "k1", 0, 0, NULL, KN, err, errlen))
                    goto done;
                /* Every factor from the states at the start of the step,
                 * before any state is assigned. */
                for (int j = 0; j < y.n; j++) {
                    ode *o = &y.o[j];
                    if (!o->coef || o->hoisted)
                        continue;
                    sb_printf(ib, "            double nk_Fs%d;\n            {\n                const double nk_t = nk_tt; (void)nk_t;\n                const double nk_B = ", j);
                    if (emit(ib, o->coef, err, errlen))
                        goto done;
                    sb_printf(ib, ";\n                nk_Fs%d = nk_B != 0.0 ? nk_expm1(nk_B * nk_h) / nk_B : nk_h;\n            }\n", j);
                }
                for (int j = 0; j < y.n; j++) {
                    ode *o = &y.o[j];
                    if (!o->coef)
                        sb_printf(ib, "            %s = nk_y0_%d + nk_h * nk_k1_%d;\n", o->cname, j, j);
                    else if (o->decay)
                        sb_printf(ib, "            %s = nk_y0_%d * nk_E%d;\n", o->cname, j, j);
                    else if (o->hoisted)
                        sb_printf(ib, "            %s = nk_y0_%d + nk_F%d * nk_k1_%d;\n", o->cname, j, j, j);
                    else
                        sb_printf(ib, "            %s = nk_y0_%d + nk_Fs%d * nk_k1_%d;\n", o->cname, j, j, j);
                }
            } else if (exact) {
                if (emit_stage(ib, &y, "k1", 0, 0, NULL, KN, err, errlen))
                    goto done;
                int n = y.n;
                if (n <= EXACT_UNROLL && cuda) {
                    /* the same sums from the propagator in memory: as 2 n^2
                     * locals, loaded at the update's start, they held 36
                     * of the microcircuit's update's 94 registers */
                    sb_printf(ib, "            const double *nk_Gr = nk_x + 2 + (nk_refractory ? %d : 0);\n",
                              n * n);
                    for (int j = 0; j < n; j++) {
                        sb_printf(ib, "            %s = nk_y0_%d", y.o[j].cname, j);
                        for (int q = 0; q < n; q++)
                            sb_printf(ib, " + nk_Gr[%d] * nk_k1_%d", j * n + q, q);
                        sb_printf(ib, ";\n");
                    }
                } else if (n <= EXACT_UNROLL) {
                    for (int j = 0; j < n; j++) {
                        sb_printf(ib, "            %s = nk_y0_%d", y.o[j].cname, j);
                        for (int q = 0; q < n; q++)
                            sb_printf(ib, " + (nk_refractory ? nk_G%d : nk_G%d) * nk_k1_%d",
                                      n * n + j * n + q, j * n + q, q);
                        sb_printf(ib, ";\n");
                    }
                } else {
                    /* the same sums, in the same order, as loops: column
                     * q of G (stored transposed) added to every row's sum */
                    sb_printf(ib, "            const double nk_k1v[%d] = {", n);
                    for (int q = 0; q < n; q++)
                        sb_printf(ib, "%snk_k1_%d", q ? ", " : "", q);
                    sb_printf(ib, "};\n            double nk_xv[%d] = {", n);
                    for (int q = 0; q < n; q++)
                        sb_printf(ib, "%snk_y0_%d", q ? ", " : "", q);
                    sb_printf(ib,
                              "};\n"
                              "            const double *nk_Gt = nk_Gx + (nk_refractory ? %d : 0);\n"
                              "            for (int nk_q = 0; nk_q < %d; nk_q++)\n"
                              "                for (int nk_r = 0; nk_r < %d; nk_r++)\n"
                              "                    nk_xv[nk_r] = nk_xv[nk_r] + nk_Gt[nk_q * %d + nk_r] * nk_k1v[nk_q];\n",
                              n * n, n, n, n);
                    for (int j = 0; j < n; j++)
                        sb_printf(ib, "            %s = nk_xv[%d];\n", y.o[j].cname, j);
                }
            }
            if (isub.oom)
                bb.oom = 1;
            else if (!cuda && y.nsub > 1 && kernel_nvars(pop) + y.cod.n <= CARRY_MAX &&
                     vectorisable(isub.s)) {
                emit_substeps_outside(&bb, &carry, pop, &y, &isub);
                inline_math = 1;
            } else {
                /* one step: vectorised unless a heavy function is left a
                 * call (morris_lecar's cosh, four calls in rk4's stages; a
                 * theta neuron's sin, cos and tan; a normal draw's
                 * logarithm and cosine) */
                inline_math = !cuda && y.nsub == 1 && vectorisable(isub.s) &&
                              ((calls_of(isub.s, heavy_fns, N_HEAVY_FNS) & 1) ||
                               strstr(isub.s, "NK_RANDN"));
                sb_printf(&bb, "        for (int nk_sub = 0; nk_sub < %d; nk_sub++) {\n", y.nsub);
                sb_put(&bb, isub.s, isub.len);
                sb_printf(&bb, "        }\n");
            }
        }
    }
    /* Divergence check before bounds and reset: one test of the sum of the
     * integrated states (NaN or infinite when any of them is, and also when
     * finite ones sum past 1.8e308, which is divergence all the same). */
    sb_printf(&bb, "        const double nk_sum = %s", y.n ? y.o[0].cname : "0.0");
    for (int k = 1; k < y.n; k++)
        sb_printf(&bb, " + %s", y.o[k].cname);
    /* (x - x is 0 for finite x, NaN for the rest: with AVX2, a subtraction
     * and a compare, where the exponent test takes three; a one-thread CUBA
     * kernel 3 % faster) */
    if (cuda)
        sb_printf(&bb, ";\n        const int nk_nf = !nk_isfinite(nk_sum);\n");
    else
        sb_printf(&bb, ";\n        const int nk_nf = nk_sum - nk_sum != 0.0;\n");
    sb_printf(&bb, "        nk_o_bad[nk_j] = (nk_bflag)nk_nf;\n");
    if (cuda)
        sb_printf(&bb, "        nk_anybad |= nk_nf;\n");
    /* Bounds. */
    for (int r = -1; r < pop->nrx; r++) {
        const nk_model *m = r < 0 ? nm : pop->rx[r].syn;
        for (int k = 0; k < m->nstates; k++) {
            char cn[160];
            state_cname(pop, r, k, cn, sizeof cn);
            if (isfinite(m->slo[k]))
                sb_printf(&bb, "        if (%s < %.17g) %s = %.17g;\n", cn, m->slo[k], cn, m->slo[k]);
            if (isfinite(m->shi[k]))
                sb_printf(&bb, "        if (%s > %.17g) %s = %.17g;\n", cn, m->shi[k], cn, m->shi[k]);
        }
    }
    /* Threshold and reset. A per-neuron refractory period that evaluates to
     * NaN or to less than 0 ms stops the run like a non-finite state: bit 1
     * of the neuron's bad flag, reported as variable NK_NVAR (nk_diverged
     * turns it into -2) when no state is non-finite too. */
    sb_printf(&bb, "        int nk_fire = 0;\n");
    if (nm->threshold && !nm->refr_cond && nm->refr_per_neuron)
        sb_printf(&bb, "        int nk_rbad = 0;\n");
    if (nm->threshold) {
        sb_printf(&bb, "        if (!nk_refractory && (");
        if (emit_canon(&bb, nm->threshold, pop, -1, 0, err, errlen))
            goto done;
        sb_printf(&bb, ")) {\n            nk_fire = 1;\n");
        if (nm->refr_cond) {
            sb_printf(&bb, "            rc = 1;\n");
        } else if (nm->refr_per_neuron) {
            sb_printf(&bb, "            {\n                const double nk_rf = (");
            if (emit_canon(&bb, nm->refractory, pop, -1, 0, err, errlen))
                goto done;
            sb_printf(&bb, ") / nk_dt + 0.5;\n                rc = nk_step + (nk_rf > 1e9 ? 1000000000 : nk_rf >= 1.0 ? (int64_t)nk_rf : 0);\n"
                           "                nk_rbad = !(nk_rf >= 0.5);\n            }\n");
        } else if (cuda) {
            sb_printf(&bb, "            refr[i] = nk_step + nk_refr_steps;\n");
        }
        for (int k = 0; k < nm->reset.n; k++) {
            const nk_stmt *st = &nm->reset.items[k];
            sb_printf(&bb, "            s_%s %s ", st->target, opstr(st->op));
            if (emit_canon(&bb, st->rhs, pop, -1, 0, err, errlen))
                goto done;
            sb_printf(&bb, ";\n");
        }
        sb_printf(&bb, "        }\n");
    }
    sb_printf(&bb, "        nk_o_fire[nk_j] = (nk_flag)nk_fire;\n");
    if (cuda)
        sb_printf(&bb, "        nk_nfire += nk_fire;\n");
    if (nm->threshold && !nm->refr_cond && nm->refr_per_neuron) {
        sb_printf(&bb, "        nk_o_bad[nk_j] |= (nk_bflag)(nk_rbad << 1);\n");
        if (cuda)
            sb_printf(&bb, "        nk_anybad |= nk_rbad;\n");
    }
    for (int k = 0; k < nm->nstates; k++)
        sb_printf(&bb, "        a_%s[i] = (real)s_%s;\n", nm->sname[k], nm->sname[k]);
    for (int r = 0; r < pop->nrx; r++) {
        const nk_model *m = pop->rx[r].syn;
        for (int k = 0; k < m->nstates; k++)
            sb_printf(&bb, "        ar%d_%s[i] = (real)r%d_%s;\n", r, m->sname[k], r, m->sname[k]);
    }
    if (cuda) {
        /* Spikes are appended in no particular order, and cut into pieces
         * for delivery where they fire (nk_plan_spike, nk_cuda.h); the
         * lowest non-finite neuron and variable are found with an atomic
         * minimum. */
        if (!fixed_refr)
            sb_printf(&bb, "        refr[i] = rc;\n");
        sb_printf(&bb, "    }\n");
        sb_printf(&bb, "    if (nk_o_fire[0]) {\n        a->spk[nk_atomic_inc_warp(a->nspk)] = i;\n"
                       "        nk_plan_spike(a, i);\n"
                       "        if (a->rec_mask && a->rec_mask[i]) {\n"
                       "            const unsigned long long nk_k = nk_atomic_inc_warp(a->nrec);\n"
                       "            a->rec_step[nk_k] = nk_step;\n"
                       "            a->rec_id[nk_k] = (uint32_t)i;\n        }\n    }\n");
        sb_printf(&bb, "    if (nk_anybad) {\n");
        emit_bad_var(&bb, &y, "        ");
        /* i x (nv + 1) + variable; nv: the refractory period (the host
         * decodes it the same way, cuda.c) */
        const int cnv = kernel_nvars(pop) > 0 ? kernel_nvars(pop) : 1;
        sb_printf(&bb, "        if (!(nk_o_bad[0] & 1)) nk_bv = %d;\n"
                       "        nk_atomic_min_i64(a->bad, i * %d + nk_bv);\n"
                       "        nk_atomic_min_i64(a->halt, nk_step);\n    }\n}\n",
                  cnv, cnv + 1);
        goto framed;
    }
    if (!fixed_refr)
        sb_printf(&bb, "        refr[i] = rc;\n");
    sb_printf(&bb, "      }\n");
    /* Whether the block has a spike or a non-finite value, in a loop of
     * its own: as reductions inside the loop above they kept GCC from
     * vectorising it for many models (jump threading copied the refractory
     * path, and the reduction then had two definitions). */
    sb_printf(&bb, "      for (int nk_j = 0; nk_j < nk_nb; nk_j++) {\n"
                   "        nk_nfire |= nk_o_fire[nk_j];\n"
                   "        nk_anybad |= nk_o_bad[nk_j];\n      }\n");
    sb_printf(&bb, "      NK_LIST_FIRED();\n");
    sb_printf(&bb, "      nk_pend = nk_nfire ? nk_nb : 0;\n"
                   "      nk_pbuf = (nk_b0 - i0) / NK_BLK & 1;\n      nk_pb0 = nk_b0;\n");
    /* Which variable (emit_bad_var), for the block's lowest bad neuron. */
    sb_printf(&bb, "      if (nk_anybad && nk_bad == INT64_MAX)\n"
                   "        for (int nk_j = 0; nk_j < nk_nb && nk_bad == INT64_MAX; nk_j++) {\n"
                   "          if (!nk_o_bad[nk_j]) continue;\n"
                   "          const int64_t i = nk_b0 + nk_j;\n");
    emit_bad_var(&bb, &y, "          ");
    sb_printf(&bb, "          if (!(nk_o_bad[nk_j] & 1)) nk_bv = NK_NVAR;\n"
                   "          nk_bad = i * (NK_NVAR + 1) + nk_bv;\n        }\n    }\n");
    sb_printf(&bb, "    NK_LIST_FIRED();\n");
    sb_printf(&bb, "    *nspk = ns;\n");
    sb_printf(&bb, "    if (nk_bad != INT64_MAX) {\n        a->bad_index = nk_bad / (NK_NVAR + 1);\n"
                   "        a->bad_var = (int32_t)(nk_bad %% (NK_NVAR + 1));\n"
                   "        if (a->bad_var == NK_NVAR) a->bad_var = -2; /* the refractory period */\n"
                   "        return -1;\n    }\n");
    sb_printf(&bb, "    return 0;\n}\n");
framed:

    /* The hoisted values, then the loop. */
    for (int k = 0; k < hz.n; k++) {
        sb_printf(kb, "    const double nk_h%d = %s(", k, hz.recip[k] ? "1.0 / " : "");
        if (emit(kb, hz.e[k], err, errlen))
            goto done;
        sb_printf(kb, ");\n");
        if (cuda)
            const_var(&cl, &cs, &ncst, "nk_h", k);
    }
    sb_printf(&b, "%s%s%s", cl.s ? cl.s : "", carry.s ? carry.s : "", bb.s ? bb.s : "");
    /* The sub-step loop holds every stage's calls of nk_math.h: for a
     * model with several (rinzel's seven exponentials in four stages,
     * morris_lecar's tanh and cosh) GCC stopped inlining them or the
     * functions they call, and a call kept the loop scalar. Where the
     * sub-steps stay inside the loop over neurons, scalar, inlining them
     * all made connor_stevens slower. So only in a loop that vectorises:
     * every function of nk_math.h is always inlined, and those of
     * nk_philox.h as before. */
    if (inline_math) {
        sb_insert(&b, math_end,
                  "#undef NK_RT_FN\n#define NK_RT_FN static inline\n");
        sb_insert(&b, inline_at,
                  "#if defined(__GNUC__)\n"
                  "#define NK_RT_FN static inline __attribute__((always_inline))\n"
                  "#endif\n");
    }
    if (bb.oom || cl.oom || cs.oom || cb.oom || carry.oom)
        b.oom = 1;
    /* CUDA: the constants, computed once per population by one thread
     * (nk_consts_all, at build) into a->cst, from which every thread of
     * the update reads them: computed by each thread (three exponentials
     * and three divisions for a LIF with its synapse) they were about two
     * fifths of the PTX of fly-scale's update and held registers
     * (docs/cuda.md). The same code on the same device, so the same bits. */
    if (cuda) {
        sb_printf(&b, "\nNK_BODY(nk_consts_%d, nk_dkargs)\n{\n    (void)nk_tid;\n", pi);
        emit_prelude(&b, pop, &y, np, exact, cuda, 0);
        sb_printf(&b, "%s    double *nk_c = a->cst; (void)nk_c;\n%s}\n", cb.s ? cb.s : "",
                  cs.s ? cs.s : "");
    }
    pop->ncst = ncst;
    if (emit_graded(&b, net, pi, cuda, err, errlen))
        goto done;
    /* Drawn source input (poisson, bernoulli), compiled here for the
     * host's vector units (nk_philox.h's nk_draw_part). */
    if (!cuda)
        sb_printf(&b, "\nvoid nk_draw(const nk_draw_tab *t, uint64_t seed, uint32_t stream, "
                      "uint64_t step, uint32_t off, int64_t j0, int64_t j1, const int64_t *idx, "
                      "int64_t plo, int64_t lo, int64_t hi, int64_t wfix, int64_t *slot)\n{\n"
                      "    nk_draw_part(t, seed, stream, step, off, j0, j1, idx, plo, lo, hi, wfix, "
                      "slot);\n}\n");
    if (b.oom) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    ok = 1;
done:
    sys_free(&y);
    hoist_free(&hz);
    free(bb.s);
    free(isub.s);
    free(carry.s);
    free(cb.s);
    free(cl.s);
    free(cs.s);
    if (!ok) {
        free(extra);
        free(b.s);
        return NULL;
    }
    pop->kextra = extra;
    pop->nkextra = nextra;
    return b.s;
}

char *nk_codegen_pop(nk_net *net, int pi, char *err, size_t errlen)
{
    return codegen_pop(net, pi, 0, err, errlen);
}

char *nk_codegen_pop_cuda(nk_net *net, int pi, char *err, size_t errlen)
{
    return codegen_pop(net, pi, 1, err, errlen);
}

char *nk_codegen_cuda_header(nk_net *net)
{
    sb b = {0};
    sb_printf(&b, "/* generated by nkshell %s for the CUDA backend; do not edit */\n", nk_version());
    sb_printf(&b, "#ifndef __CUDACC_RTC__\n#include <stdint.h>\n#endif\n");
    sb_header(&b, nk_src_kernel_h);
    sb_header(&b, nk_src_math_h);
    sb_header(&b, nk_src_philox_h);
    sb_header(&b, nk_src_cuda_h);
    sb_printf(&b, "#define nk_exp nk_fexp\n#define nk_expm1 nk_fexpm1\n"
                  "#define nk_exprel nk_fexprel\n");
    sb_printf(&b, "typedef %s real;\n", net->dbl ? "double" : "float");
    /* fired and non-finite flags: as wide as a float, so the vectorised
     * loop takes 16 neurons a turn and leaves at most 15 to scalar code */
    sb_printf(&b, "typedef int32_t nk_flag;\ntypedef int32_t nk_bflag;\n");
    sb_printf(&b, "#define NK_RAND() nk_rng_uniform(&nk_rng_)\n");
    sb_printf(&b, "#define NK_RANDN() nk_rng_normal(&nk_rng_)\n");
    if (b.oom) {
        free(b.s);
        return NULL;
    }
    return b.s;
}

/* ---- equation sources ------------------------------------------------------- */

typedef struct eq_ctx {
    int64_t n;               /* population size */
} eq_ctx;

static int resolve_eq(const char *name, char *out, size_t outlen, void *ud)
{
    const eq_ctx *c = ud;
    const char *v = NULL;
    char num[64];
    if (!strcmp(name, "t"))
        v = "nk_t";
    else if (!strcmp(name, "dt"))
        v = "nk_dt";
    else if (!strcmp(name, "i"))
        v = "((double)(i + 1))";
    else if (!strcmp(name, "N")) {
        snprintf(num, sizeof num, "%lld.0", (long long)c->n);
        v = num;
    } else if (!strcmp(name, "x"))
        v = "pos[3 * i]";
    else if (!strcmp(name, "y"))
        v = "pos[3 * i + 1]";
    else if (!strcmp(name, "z"))
        v = "pos[3 * i + 2]";
    else if (!strcmp(name, "pi"))
        v = "3.141592653589793";
    else if (!strcmp(name, "e"))
        v = "2.718281828459045";
    if (!v)
        return 1;
    return snprintf(out, outlen, "%s", v) < 0;
}

/* For every equation source with a part on population pi, a function
 *   void nk_eqsrc_K_Q(lo, hi, idx, n, t, step, seed, pos, iext)
 * (K the source, Q the part) that adds the expression to iext[i]. The
 * module's headers (math, Philox) come from nk_codegen_pop's text, which
 * this is appended to. rand()/randn() draw from the source's stream, keyed
 * by step and the neuron's index within the source. */
int nk_codegen_eqsrc(nk_net *net, int pi, char **code, char *err, size_t errlen)
{
    sb b = {0};
    *code = NULL;
    eq_ctx c = {.n = net->pops[pi].n};
    for (int k = 0; k < net->nsrcs; k++) {
        nk_source *src = &net->srcs[k];
        if (src->removed || src->kind != NK_SRC_EQUATION)
            continue;
        for (int q = 0; q < src->nparts; q++) {
            if (src->parts[q].pop != pi)
                continue;
            sb_printf(&b, "\n/* equation source %d: I = %s */\n", k + 1, src->expr);
            sb_printf(&b, "void nk_eqsrc_%d_%d(int64_t lo, int64_t hi, const int64_t *idx, "
                          "int64_t n, double nk_t, int64_t step, uint64_t seed, "
                          "const double *pos, void *iext_)\n{\n", k, q);
            sb_printf(&b, "    const double nk_dt = %.17g; (void)nk_dt; (void)hi; (void)pos;\n",
                      net->dt);
            sb_printf(&b, "    real *iext = (real *)iext_;\n");
            sb_printf(&b, "    for (int64_t j = 0; j < n; j++) {\n");
            sb_printf(&b, "        const int64_t i = idx ? idx[j] : lo + j;\n");
            sb_printf(&b, "        nk_rng nk_rng_;\n");
            sb_printf(&b, "        nk_rng_init(&nk_rng_, seed, %uu, (uint64_t)step, "
                          "(uint32_t)(%lld + j)); (void)nk_rng_;\n",
                      NK_STREAM_SOURCE + (unsigned)k, (long long)src->parts[q].off);
            sb_printf(&b, "        iext[i] += (real)(");
            if (emit_with(&b, src->ex, resolve_eq, &c, err, errlen)) {
                free(b.s);
                return NK_EINVAL;
            }
            sb_printf(&b, ");\n    }\n}\n");
        }
    }
    if (b.oom) {
        free(b.s);
        snprintf(err, errlen, "out of memory");
        return NK_ENOMEM;
    }
    *code = b.s;
    return 0;
}

/* The CUDA module's nk_eq_value (declared in rt/nk_cuda.h, called by
 * nk_cur_k): equation source k's value for neuron i of population pop, j
 * its index within the source, at step `step` (t ms). The same expression
 * text as nk_codegen_eqsrc's, with the same random numbers (the source's
 * stream, keyed by step and j); the caller adds it as the host does. */
int nk_codegen_eqsrc_cuda(nk_net *net, char **code, char *err, size_t errlen)
{
    sb b = {0};
    *code = NULL;
    sb_printf(&b, "\n/* equation sources on the device */\n"
                  "NK_DEV double nk_eq_value(int32_t nk_k, int32_t nk_pop, int64_t i, "
                  "uint32_t nk_j, double nk_t, int64_t step, uint64_t seed, const double *pos)\n{\n"
                  "    const double nk_dt = %.17g; (void)nk_dt; (void)i; (void)nk_t; (void)pos;\n"
                  "    nk_rng nk_rng_; (void)nk_rng_; (void)nk_j; (void)step; (void)seed;\n"
                  "    switch (nk_k) {\n", net->dt);
    for (int k = 0; k < net->nsrcs; k++) {
        nk_source *src = &net->srcs[k];
        if (src->removed || src->kind != NK_SRC_EQUATION)
            continue;
        sb_printf(&b, "    case %d: /* I = %s */\n", k, src->expr);
        sb_printf(&b, "        nk_rng_init(&nk_rng_, seed, %uu, (uint64_t)step, nk_j);\n",
                  NK_STREAM_SOURCE + (unsigned)k);
        sb_printf(&b, "        switch (nk_pop) {\n");
        for (int q = 0; q < src->nparts; q++) {
            int pi = src->parts[q].pop, seen = 0;
            for (int r = 0; r < q; r++)
                seen |= src->parts[r].pop == pi;
            if (seen)
                continue;
            eq_ctx c = {.n = net->pops[pi].n};
            sb_printf(&b, "        case %d: return (double)(", pi);
            if (emit_with(&b, src->ex, resolve_eq, &c, err, errlen)) {
                free(b.s);
                return NK_EINVAL;
            }
            sb_printf(&b, ");\n");
        }
        sb_printf(&b, "        }\n        break;\n");
    }
    sb_printf(&b, "    }\n    return 0;\n}\n");
    if (b.oom) {
        free(b.s);
        snprintf(err, errlen, "out of memory");
        return NK_ENOMEM;
    }
    *code = b.s;
    return 0;
}
