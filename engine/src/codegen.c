/* codegen.c - C code generated per population from its model's equations.
 *
 * One population gives one function, nk_update (see rt/nk_kernel.h), over the
 * neuron model and every receptor (synapse model instance) on the population.
 * All arithmetic is done in double precision whatever the storage type; the
 * runtime headers (rt/nk_math.h, rt/nk_philox.h) are pasted in so the file is
 * self-contained, and the same text will feed NVRTC for the CUDA backend.
 *
 * Names in the generated code:
 *   s_X        neuron state X            p_X     neuron parameter X
 *   rK_X       receptor K's state X      rpK_X   receptor K's parameter X
 *   x_X        neuron intermediate X     rxK_X   receptor K's intermediate
 *   nk_I       the neuron's input current (receptors + external), pA
 *   nk_w       on_pre: the summed weight arriving this step
 *   nk_t, nk_dt, i
 */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char nk_src_kernel_h[];
extern const char nk_src_math_h[];
extern const char nk_src_philox_h[];

/* ---- a growing string ---------------------------------------------------- */

typedef struct sb {
    char *s;
    size_t len, cap;
    int oom;
} sb;

static void sb_printf(sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

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
        size_t ncap = (b->cap + (size_t)w + 1) * 2;
        char *ns = realloc(b->s, ncap);
        if (!ns) {
            b->oom = 1;
            return;
        }
        b->s = ns;
        b->cap = ncap;
    }
}

/* Appends a runtime header, leaving out its local #include lines (the headers
 * are pasted in dependency order). */
static void sb_header(sb *b, const char *text)
{
    while (*text) {
        const char *e = strchr(text, '\n');
        size_t len = e ? (size_t)(e - text + 1) : strlen(text);
        if (strncmp(text, "#include \"", 10) != 0)
            sb_printf(b, "%.*s", (int)len, text);
        text += len;
    }
    sb_printf(b, "\n");
}

/* ---- name resolution ------------------------------------------------------ */

typedef struct scope {
    nk_pop *pop;
    int rx;                  /* -1: the neuron; else receptor index */
    int in_on_pre;           /* w resolves */
    int no_intermediates;    /* names of intermediates are not allowed */
} scope;

/* The built-in names, resolved after the model's own (a parameter called
 * e is the parameter, not Euler's number). */
static int resolve_builtin(const char *name, char *out, size_t outlen)
{
    if (!strcmp(name, "t"))
        return snprintf(out, outlen, "nk_t") < 0;
    if (!strcmp(name, "dt"))
        return snprintf(out, outlen, "nk_dt") < 0;
    if (!strcmp(name, "i"))
        return snprintf(out, outlen, "((double)i)") < 0;
    if (!strcmp(name, "pi"))
        return snprintf(out, outlen, "3.141592653589793") < 0;
    if (!strcmp(name, "e"))
        return snprintf(out, outlen, "2.718281828459045") < 0;
    return 1;
}

static int resolve(const char *name, char *out, size_t outlen, void *ud)
{
    scope *sc = ud;
    const nk_model *nm = sc->pop->model;
    if (!strncmp(name, "nk_r", 4)) /* placeholders made by expand_rhs */
        return snprintf(out, outlen, "%s", name + 3) < 0;
    if (sc->rx >= 0) {
        const nk_receptor *r = &sc->pop->rx[sc->rx];
        const nk_model *m = r->syn;
        if (sc->in_on_pre && !strcmp(name, "w"))
            return snprintf(out, outlen, "nk_w") < 0;
        if (nk_model_state_index(m, name) >= 0)
            return snprintf(out, outlen, "r%d_%s", sc->rx, name) < 0;
        if (nk_model_param_index(m, name) >= 0)
            return snprintf(out, outlen, "rp%d_%s", sc->rx, name) < 0;
        for (int k = 0; k < m->eqs.n; k++)
            if (m->eqs.items[k].kind == NK_ST_ASSIGN && !strcmp(m->eqs.items[k].target, name))
                return snprintf(out, outlen, "rx%d_%s", sc->rx, name) < 0;
        if (!resolve_builtin(name, out, outlen))
            return 0;
        /* The target neuron's states and parameters. */
        if (nk_model_state_index(nm, name) >= 0)
            return snprintf(out, outlen, "s_%s", name) < 0;
        if (nk_model_param_index(nm, name) >= 0)
            return snprintf(out, outlen, "p_%s", name) < 0;
        return 1;
    }
    if (!strcmp(name, "I"))
        return snprintf(out, outlen, "nk_I") < 0;
    if (nk_model_state_index(nm, name) >= 0)
        return snprintf(out, outlen, "s_%s", name) < 0;
    if (nk_model_param_index(nm, name) >= 0)
        return snprintf(out, outlen, "p_%s", name) < 0;
    if (!sc->no_intermediates)
        for (int k = 0; k < nm->eqs.n; k++)
            if (nm->eqs.items[k].kind == NK_ST_ASSIGN && !strcmp(nm->eqs.items[k].target, name))
                return snprintf(out, outlen, "x_%s", name) < 0;
    return resolve_builtin(name, out, outlen);
}

/* Writes e as C into b; on an unknown name fails with a message. */
static int emit_expr(sb *b, const nk_expr *e, scope *sc, char *err, size_t errlen)
{
    size_t cap = 4096;
    for (;;) {
        char *buf = malloc(cap);
        if (!buf) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        int n = nk_expr_to_c(e, buf, cap, resolve, sc);
        if (n >= 0) {
            sb_printf(b, "%s", buf);
            free(buf);
            return 0;
        }
        free(buf);
        if (n != NK_EXPR_ENOSPC || cap > (1u << 24)) {
            char s[256];
            nk_expr_to_str(e, s, sizeof s);
            snprintf(err, errlen, "population '%s': cannot resolve a name in '%s'",
                     sc->pop->name, s);
            return -1;
        }
        cap *= 4;
    }
}

static nk_expr *var_expr(const char *name);

/* ---- solver support -------------------------------------------------------- */

/* The right-hand side of an ODE with every intermediate (and, for the neuron,
 * the input current I) written out, so that its dependence on the variable is
 * visible to the differentiator. Receptor states appear as placeholders
 * nk_rK_X, which cannot collide with model names. */
static nk_expr *expand_rhs(const nk_expr *rhs, nk_pop *pop, int rx)
{
    const nk_model *m = rx >= 0 ? pop->rx[rx].syn : pop->model;
    nk_expr *e = nk_expr_clone(rhs);
    /* Intermediates, latest first, so that one defined from another expands. */
    for (int k = m->eqs.n - 1; e && k >= 0; k--) {
        const nk_stmt *st = &m->eqs.items[k];
        if (st->kind != NK_ST_ASSIGN)
            continue;
        nk_expr *n = nk_expr_subst(e, st->target, st->rhs);
        nk_expr_free(e);
        e = n;
    }
    if (rx < 0 && e && nk_expr_uses(e, "I")) {
        /* I = sum of receptor currents (+ external current, a constant here). */
        nk_expr *sum = var_expr("nk_iext");
        for (int r = 0; sum && r < pop->nrx; r++) {
            const nk_model *sm = pop->rx[r].syn;
            nk_expr *cur = nk_expr_clone(sm->current);
            for (int s = 0; cur && s < sm->nstates; s++) {
                char ph[96];
                snprintf(ph, sizeof ph, "nk_r%d_%s", r, sm->sname[s]);
                nk_expr *phe = var_expr(ph);
                nk_expr *n = phe ? nk_expr_subst(cur, sm->sname[s], phe) : NULL;
                nk_expr_free(phe);
                nk_expr_free(cur);
                cur = n;
            }
            char tmp[64];
            snprintf(tmp, sizeof tmp, "nk_acc + nk_cur");
            char perr[256];
            nk_expr *add = nk_expr_parse(tmp, perr, sizeof perr);
            nk_expr *a1 = add ? nk_expr_subst(add, "nk_acc", sum) : NULL;
            nk_expr *a2 = (a1 && cur) ? nk_expr_subst(a1, "nk_cur", cur) : NULL;
            nk_expr_free(add);
            nk_expr_free(a1);
            nk_expr_free(cur);
            nk_expr_free(sum);
            sum = a2;
        }
        nk_expr *n = sum ? nk_expr_subst(e, "I", sum) : NULL;
        nk_expr_free(sum);
        nk_expr_free(e);
        e = n;
    }
    return e;
}

/* A new VAR node for name (NULL when out of memory). */
static nk_expr *var_expr(const char *name)
{
    char e[256];
    return nk_expr_parse(name, e, sizeof e);
}

typedef struct hoist_ctx {
    const nk_model *m;
} hoist_ctx;

/* Nonzero when name is not a parameter or constant (so the expression varies
 * per neuron or per step). */
static int not_constant(const char *name, int line, int col, void *ud)
{
    hoist_ctx *h = ud;
    (void)line;
    (void)col;
    if (nk_model_param_index(h->m, name) >= 0)
        return 0;
    if (!strcmp(name, "dt") || !strcmp(name, "pi") || !strcmp(name, "e"))
        return 0;
    return 1;
}

/* ---- the generator --------------------------------------------------------- */

typedef struct ode_ref {
    const nk_stmt *st;
    int rx;          /* -1 neuron, else receptor */
    nk_expr *coef;   /* exponential Euler: d rhs / d x (NULL: Euler step) */
    int hoisted;     /* coef is constant: its factor is computed once */
} ode_ref;

int nk_method_known(const char *m)
{
    static const char *const known[] = {"euler", "midpoint", "heun", "rk4", "rk45",
                                        "exponential_euler", "exact"};
    for (size_t k = 0; k < sizeof known / sizeof *known; k++)
        if (!strcmp(m, known[k]))
            return 1;
    return 0;
}

static int method_known(const char *m)
{
    return !strcmp(m, "euler") || !strcmp(m, "exponential_euler");
}

char *nk_codegen_pop(nk_net *net, int pi, char *err, size_t errlen)
{
    nk_pop *pop = &net->pops[pi];
    const nk_model *nm = pop->model;
    sb b = {0};
    ode_ref *odes = NULL;
    int nodes = 0;
    int ok = 0;

    /* Collect every ODE with its solver coefficient. */
    int total = nm->eqs.n;
    for (int r = 0; r < pop->nrx; r++)
        total += pop->rx[r].syn->eqs.n;
    odes = nk_xcalloc((size_t)total + 1, sizeof *odes);
    if (!odes) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    for (int r = -1; r < pop->nrx; r++) {
        const nk_model *m = r < 0 ? nm : pop->rx[r].syn;
        const char *method = r < 0 ? pop->method : m->method;
        if (!method_known(method)) {
            snprintf(err, errlen,
                     "unknown integration method '%s' for model '%s' (expected euler or exponential_euler)",
                     method, m->name);
            goto done;
        }
        for (int k = 0; k < m->eqs.n; k++) {
            const nk_stmt *st = &m->eqs.items[k];
            if (st->kind != NK_ST_ODE)
                continue;
            ode_ref *o = &odes[nodes++];
            o->st = st;
            o->rx = r;
            if (!strcmp(method, "exponential_euler")) {
                nk_expr *full = expand_rhs(st->rhs, pop, r);
                char derr[512];
                nk_expr *d = full ? nk_expr_diff(full, st->target, derr, sizeof derr) : NULL;
                nk_expr_free(full);
                if (!d) {
                    snprintf(err, errlen, "model '%s', method exponential_euler: %s",
                             m->name, full ? derr : "out of memory");
                    goto done;
                }
                if (nk_expr_uses(d, st->target)) {
                    nk_expr_free(d);
                    snprintf(err, errlen,
                             "model '%s': 'd%s/dt' is not linear in '%s', so exponential_euler "
                             "cannot integrate it (use method = \"euler\")",
                             m->name, st->target, st->target);
                    goto done;
                }
                if (d->kind == NK_EX_NUM && d->num == 0) {
                    nk_expr_free(d);
                } else {
                    hoist_ctx h = {m};
                    o->coef = d;
                    o->hoisted = nk_expr_walk_vars(d, not_constant, &h) == 0;
                }
            }
        }
    }

    sb_printf(&b, "/* generated by nkshell %s for population '%s' (model '%s'); do not edit */\n",
              nk_version(), pop->name, nm->name);
    sb_printf(&b, "#include <stdint.h>\n");
    sb_header(&b, nk_src_kernel_h);
    sb_header(&b, nk_src_math_h);
    sb_header(&b, nk_src_philox_h);
    sb_printf(&b, "typedef %s real;\n", net->dbl ? "double" : "float");
    sb_printf(&b, "#define NK_RAND() nk_rng_uniform(&nk_rng_)\n");
    sb_printf(&b, "#define NK_RANDN() nk_rng_normal(&nk_rng_)\n\n");
    sb_printf(&b, "int nk_update(nk_kargs *a, int64_t i0, int64_t i1, int64_t *spk, int64_t *nspk)\n{\n");
    sb_printf(&b, "    const double nk_t = a->t, nk_dt = a->dt;\n");
    sb_printf(&b, "    (void)nk_t;\n");
    /* Parameters. */
    int pk = 0;
    for (int k = 0; k < nm->nparams; k++)
        sb_printf(&b, "    const double p_%s = a->param[%d]; (void)p_%s;\n", nm->pname[k], pk++,
                  nm->pname[k]);
    for (int r = 0; r < pop->nrx; r++) {
        const nk_model *m = pop->rx[r].syn;
        for (int k = 0; k < m->nparams; k++)
            sb_printf(&b, "    const double rp%d_%s = a->param[%d]; (void)rp%d_%s;\n", r,
                      m->pname[k], pk++, r, m->pname[k]);
    }
    /* State arrays. */
    int sk = 0;
    for (int k = 0; k < nm->nstates; k++)
        sb_printf(&b, "    real *a_%s = (real *)a->state[%d];\n", nm->sname[k], sk++);
    for (int r = 0; r < pop->nrx; r++) {
        const nk_model *m = pop->rx[r].syn;
        for (int k = 0; k < m->nstates; k++)
            sb_printf(&b, "    real *ar%d_%s = (real *)a->state[%d];\n", r, m->sname[k], sk++);
        sb_printf(&b, "    const int64_t *in%d = a->rx_in[%d];\n", r, r);
    }
    sb_printf(&b, "    const real *iext = (const real *)a->i_ext;\n");
    sb_printf(&b, "    int32_t *refr = a->refr;\n");
    sb_printf(&b, "    int64_t ns = *nspk;\n");
    /* Hoisted exponential-Euler factors: (exp(B dt) - 1) / B. */
    for (int k = 0; k < nodes; k++) {
        if (!odes[k].coef || !odes[k].hoisted)
            continue;
        scope sc = {pop, odes[k].rx, 0, 1};
        sb_printf(&b, "    const double nk_B%d = ", k);
        if (emit_expr(&b, odes[k].coef, &sc, err, errlen))
            goto done;
        sb_printf(&b, ";\n    const double nk_F%d = nk_B%d != 0.0 ? nk_expm1(nk_B%d * nk_dt) / nk_B%d : nk_dt;\n",
                  k, k, k, k);
    }
    sb_printf(&b, "    for (int64_t i = i0; i < i1; i++) {\n");
    /* Load. */
    for (int k = 0; k < nm->nstates; k++)
        sb_printf(&b, "        double s_%s = (double)a_%s[i];\n", nm->sname[k], nm->sname[k]);
    for (int r = 0; r < pop->nrx; r++) {
        const nk_model *m = pop->rx[r].syn;
        for (int k = 0; k < m->nstates; k++)
            sb_printf(&b, "        double r%d_%s = (double)ar%d_%s[i];\n", r, m->sname[k], r,
                      m->sname[k]);
    }
    sb_printf(&b, "        nk_rng nk_rng_; nk_rng_init(&nk_rng_, a->seed, a->stream, (uint64_t)a->step, (uint32_t)i); (void)nk_rng_;\n");
    /* Synaptic input arriving this step: each receptor's on_pre with w = sum. */
    for (int r = 0; r < pop->nrx; r++) {
        const nk_model *m = pop->rx[r].syn;
        sb_printf(&b, "        if (in%d[i] != 0) {\n            const double nk_w = (double)in%d[i] * NK_FIX_INV;\n", r, r);
        scope sc = {pop, r, 1, 0};
        for (int k = 0; k < m->on_pre.n; k++) {
            const nk_stmt *st = &m->on_pre.items[k];
            sb_printf(&b, "            r%d_%s %s= ", r, st->target,
                      st->op == '=' ? "" : (char[]){st->op, 0});
            if (emit_expr(&b, st->rhs, &sc, err, errlen))
                goto done;
            sb_printf(&b, ";\n");
        }
        sb_printf(&b, "        }\n");
    }
    /* Refractoriness. */
    sb_printf(&b, "        int32_t rc = refr[i];\n        if (rc > 0) rc--;\n");
    sb_printf(&b, "        const int nk_refractory = rc > 0; (void)nk_refractory;\n");
    /* Receptor intermediates, then the input current. */
    for (int r = 0; r < pop->nrx; r++) {
        const nk_model *m = pop->rx[r].syn;
        scope sc = {pop, r, 0, 0};
        for (int k = 0; k < m->eqs.n; k++) {
            const nk_stmt *st = &m->eqs.items[k];
            if (st->kind != NK_ST_ASSIGN)
                continue;
            sb_printf(&b, "        const double rx%d_%s = ", r, st->target);
            if (emit_expr(&b, st->rhs, &sc, err, errlen))
                goto done;
            sb_printf(&b, ";\n");
        }
    }
    sb_printf(&b, "        const double nk_I = (iext ? (double)iext[i] : 0.0)");
    for (int r = 0; r < pop->nrx; r++) {
        scope sc = {pop, r, 0, 0};
        sb_printf(&b, " + (");
        if (emit_expr(&b, pop->rx[r].syn->current, &sc, err, errlen))
            goto done;
        sb_printf(&b, ")");
    }
    sb_printf(&b, ";\n        (void)nk_I;\n");
    /* Neuron intermediates. */
    {
        scope sc = {pop, -1, 0, 0};
        for (int k = 0; k < nm->eqs.n; k++) {
            const nk_stmt *st = &nm->eqs.items[k];
            if (st->kind != NK_ST_ASSIGN)
                continue;
            sb_printf(&b, "        const double x_%s = ", st->target);
            if (emit_expr(&b, st->rhs, &sc, err, errlen))
                goto done;
            sb_printf(&b, ";\n");
        }
    }
    /* New values, all from the values at the start of the step. */
    for (int k = 0; k < nodes; k++) {
        ode_ref *o = &odes[k];
        scope sc = {pop, o->rx, 0, 0};
        char var[160];
        if (o->rx < 0)
            snprintf(var, sizeof var, "s_%s", o->st->target);
        else
            snprintf(var, sizeof var, "r%d_%s", o->rx, o->st->target);
        sb_printf(&b, "        double n%d = ", k);
        if (o->coef && !o->hoisted) {
            scope sc2 = {pop, o->rx, 0, 1};
            sb_printf(&b, "0.0;\n        {\n            const double nk_B = ");
            if (emit_expr(&b, o->coef, &sc2, err, errlen))
                goto done;
            sb_printf(&b, ";\n            const double nk_F = nk_B != 0.0 ? nk_expm1(nk_B * nk_dt) / nk_B : nk_dt;\n");
            sb_printf(&b, "            n%d = %s + (", k, var);
            if (emit_expr(&b, o->st->rhs, &sc, err, errlen))
                goto done;
            sb_printf(&b, ") * nk_F;\n        }\n");
        } else {
            sb_printf(&b, "%s + (", var);
            if (emit_expr(&b, o->st->rhs, &sc, err, errlen))
                goto done;
            if (o->coef)
                sb_printf(&b, ") * nk_F%d;\n", k);
            else
                sb_printf(&b, ") * nk_dt;\n");
        }
        for (int f = 0; f < o->st->nflags; f++)
            if (!strcmp(o->st->flags[f], "unless refractory"))
                sb_printf(&b, "        if (nk_refractory) n%d = %s;\n", k, var);
    }
    /* Divergence check before anything is stored. */
    for (int k = 0; k < nodes; k++) {
        ode_ref *o = &odes[k];
        int idx;
        if (o->rx < 0) {
            idx = nk_model_state_index(nm, o->st->target);
        } else {
            idx = nm->nstates;
            for (int r = 0; r < o->rx; r++)
                idx += pop->rx[r].syn->nstates;
            idx += nk_model_state_index(pop->rx[o->rx].syn, o->st->target);
        }
        sb_printf(&b, "        if (!nk_isfinite(n%d)) { a->bad_index = i; a->bad_var = %d; *nspk = ns; return -1; }\n",
                  k, idx);
    }
    for (int k = 0; k < nodes; k++) {
        ode_ref *o = &odes[k];
        if (o->rx < 0)
            sb_printf(&b, "        s_%s = n%d;\n", o->st->target, k);
        else
            sb_printf(&b, "        r%d_%s = n%d;\n", o->rx, o->st->target, k);
    }
    /* Threshold and reset. */
    if (nm->threshold) {
        scope sc = {pop, -1, 0, 1};
        sb_printf(&b, "        if (!nk_refractory && (");
        if (emit_expr(&b, nm->threshold, &sc, err, errlen))
            goto done;
        sb_printf(&b, ")) {\n");
        for (int k = 0; k < nm->reset.n; k++) {
            const nk_stmt *st = &nm->reset.items[k];
            sb_printf(&b, "            s_%s %s= ", st->target,
                      st->op == '=' ? "" : (char[]){st->op, 0});
            if (emit_expr(&b, st->rhs, &sc, err, errlen))
                goto done;
            sb_printf(&b, ";\n");
        }
        sb_printf(&b, "            rc = a->refr_steps;\n            spk[ns++] = i;\n        }\n");
    }
    /* Store. */
    for (int k = 0; k < nm->nstates; k++)
        sb_printf(&b, "        a_%s[i] = (real)s_%s;\n", nm->sname[k], nm->sname[k]);
    for (int r = 0; r < pop->nrx; r++) {
        const nk_model *m = pop->rx[r].syn;
        for (int k = 0; k < m->nstates; k++)
            sb_printf(&b, "        ar%d_%s[i] = (real)r%d_%s;\n", r, m->sname[k], r, m->sname[k]);
    }
    sb_printf(&b, "        refr[i] = rc;\n    }\n    *nspk = ns;\n    return 0;\n}\n");
    if (b.oom) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    ok = 1;
done:
    for (int k = 0; k < nodes; k++)
        nk_expr_free(odes[k].coef);
    free(odes);
    if (!ok) {
        free(b.s);
        return NULL;
    }
    return b.s;
}
