/* model.c - neuron and synapse models as equations, and the built-in library.
 *
 * A model is text: parameters with defaults and units, states with initial
 * values, ODEs, a threshold, a reset, a refractory period and, for synapses,
 * what a presynaptic spike does and the current the synapse feeds into its
 * target. It is parsed once, checked (every name must resolve), and kept
 * immutable; code is generated from it per population (codegen.c). */
#include "internal.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- small string helpers ---------------------------------------------- */

static const char *skip_ws(const char *s)
{
    while (*s && isspace((unsigned char)*s))
        s++;
    return s;
}

static int is_ident_start(int c) { return isalpha(c) || c == '_'; }
static int is_ident(int c) { return isalnum(c) || c == '_'; }

int nk_is_name(const char *s, size_t max)
{
    if (!is_ident_start((unsigned char)*s) || strlen(s) > max)
        return 0;
    while (is_ident((unsigned char)*s))
        s++;
    return *s == 0;
}

/* Reads a number (strtod: also inf and -inf) at *s; advances *s. */
static int read_num(const char **s, double *v)
{
    char *end;
    *v = strtod(*s, &end);
    if (end == *s)
        return -1;
    *s = end;
    return 0;
}

/* The names every expression sees that a model may not declare or define
 * (the constants e and pi it may: its own come first). */
/* What a built-in or reserved name stands for in a model of this kind (m
 * NULL: of any kind), or NULL when name is neither. */
static const char *reserved_meaning(const nk_model *m, const char *name)
{
    if (!strcmp(name, "t"))
        return "the time t";
    if (!strcmp(name, "dt"))
        return "the time step dt";
    if (!strcmp(name, "i"))
        return "the neuron's index i";
    if (!strcmp(name, "refractory"))
        return "the flag refractory (1 while the neuron is refractory)";
    if (m && !m->synapse && !strcmp(name, "I"))
        return "the input current I";
    if (m && m->synapse && !strcmp(name, "w"))
        return "the weight w of on_pre";
    return NULL;
}

typedef struct decl {
    char name[64];
    double value;
    char ref[64];            /* the value is this identifier */
    char unit[32];
    int has_range;
    double lo, hi;
    int lo_open, hi_open;
} decl;

/* Parses one "name = value unit [lo, hi]" declaration (value a number or an
 * identifier; the range optional, ( ) for open ends). Returns 0, -1 when it
 * is malformed, -2 when its range is, -3 when the name is longer than 63
 * characters, -4 when the value is followed by an operator rather than a
 * unit ("tau = 2*5 ms": an expression, which would have read as 2 in unit
 * "*5 ms"; the unit, from the operator on, is left in d->unit), -5 when the
 * number ends in an exponent without digits ("2e ms", which would have read
 * as 2 in unit "e ms"). */
static int parse_decl(const char *s, decl *d)
{
    memset(d, 0, sizeof *d);
    s = skip_ws(s);
    size_t k = 0;
    if (!is_ident_start((unsigned char)*s))
        return -1;
    while (is_ident((unsigned char)*s) && k + 1 < sizeof d->name)
        d->name[k++] = *s++;
    d->name[k] = 0;
    if (is_ident((unsigned char)*s))
        return -3;
    s = skip_ws(s);
    if (*s++ != '=')
        return -1;
    s = skip_ws(s);
    if (is_ident_start((unsigned char)*s) && strncmp(s, "inf", 3) != 0) {
        k = 0;
        while (is_ident((unsigned char)*s) && k + 1 < sizeof d->ref)
            d->ref[k++] = *s++;
        d->ref[k] = 0;
        if (is_ident((unsigned char)*s))
            return -1;
    } else if (read_num(&s, &d->value)) {
        return -1;
    } else if (*s == 'e' || *s == 'E') { /* "2e ms": strtod stops before an exponent */
        return -5;                       /* without digits, which read as the unit */
    }
    s = skip_ws(s);
    /* a unit starts with a letter ("ms", "µm") or a digit ("1/ms") */
    int op = *s && strchr("+-*/^)<>=!?:,", *s);
    k = 0;
    while (*s && *s != '[' && *s != '(' && k + 1 < sizeof d->unit)
        d->unit[k++] = *s++;
    while (k > 0 && isspace((unsigned char)d->unit[k - 1]))
        k--;
    d->unit[k] = 0;
    if (op)
        return -4;
    if (*s == '[' || *s == '(') {
        d->has_range = 1;
        d->lo_open = *s++ == '(';
        s = skip_ws(s);
        if (read_num(&s, &d->lo))
            return -2;
        s = skip_ws(s);
        if (*s++ != ',')
            return -2;
        s = skip_ws(s);
        if (read_num(&s, &d->hi))
            return -2;
        s = skip_ws(s);
        if (*s != ']' && *s != ')')
            return -2;
        d->hi_open = *s++ == ')';
        if (isnan(d->lo) || isnan(d->hi) || d->lo > d->hi)
            return -2;
    }
    if (*skip_ws(s))
        return -1;
    return 0;
}

/* Splits s on ';' and calls fn on each non-blank piece. */
static int each_decl(const char *s, int (*fn)(const char *piece, void *ud), void *ud)
{
    if (!s)
        return 0;
    char buf[1024];
    while (*s) {
        const char *e = strchr(s, ';');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len >= sizeof buf)
            return -1;
        memcpy(buf, s, len);
        buf[len] = 0;
        if (*skip_ws(buf)) {
            int rc = fn(buf, ud);
            if (rc)
                return rc;
        }
        if (!e)
            break;
        s = e + 1;
    }
    return 0;
}

static int count_piece(const char *piece, void *ud)
{
    (void)piece;
    (*(int *)ud)++;
    return 0;
}

typedef struct decl_ctx {
    nk_model *m;
    int states;      /* 0: params, 1: states */
    char *err;
    size_t errlen;
} decl_ctx;

static int add_piece(const char *piece, void *ud)
{
    decl_ctx *d = ud;
    nk_model *m = d->m;
    decl dc;
    int prc = parse_decl(piece, &dc);
    if (prc == -2) {
        snprintf(d->err, d->errlen,
                 "malformed range in '%s' (expected [lo, hi], ( ) for open ends, inf for none)",
                 piece);
        return -1;
    }
    if (prc == -3) {
        snprintf(d->err, d->errlen,
                 "the name '%s...' in '%s' is too long (at most %d characters)", dc.name,
                 d->states ? "states" : "params", (int)sizeof dc.name - 1);
        return -1;
    }
    if (prc == -4) {
        snprintf(d->err, d->errlen,
                 "malformed declaration '%s': %s and a unit, not an expression ('%s' is not a "
                 "unit)",
                 piece, d->states ? "a state's initial value is a number or a parameter's name,"
                                  : "a parameter's default is a number",
                 dc.unit);
        return -1;
    }
    if (prc == -5) {
        snprintf(d->err, d->errlen,
                 "malformed declaration '%s': the number's exponent has no digits (write "
                 "2e3 for 2000, and a space before the unit)",
                 piece);
        return -1;
    }
    if (prc) {
        snprintf(d->err, d->errlen,
                 "malformed declaration '%s' (expected 'name = value unit', optionally [lo, hi])",
                 piece);
        return -1;
    }
    const char *name = dc.name;
    /* (the constants e and pi may be a model's own names: those come first) */
    if (reserved_meaning(NULL, name)) {
        snprintf(d->err, d->errlen,
                 "'%s' is a built-in name (t: the time, dt: the step, i: the neuron's index, "
                 "refractory: 1 while the neuron is refractory); choose another name",
                 name);
        return -1;
    }
    if ((!m->synapse && !strcmp(name, "I")) || (m->synapse && !strcmp(name, "w"))) {
        snprintf(d->err, d->errlen, "'%s' is reserved in a %s model (%s); choose another name",
                 name, m->synapse ? "synapse" : "neuron",
                 m->synapse ? "the weight in on_pre" : "the input current");
        return -1;
    }
    if (nk_expr_func_arity(name) >= 0) {
        snprintf(d->err, d->errlen, "'%s' is the name of a function; choose another name", name);
        return -1;
    }
    if (nk_model_param_index0(m, name) >= 0 || nk_model_state_index0(m, name) >= 0) {
        snprintf(d->err, d->errlen, "'%s' is declared twice", name);
        return -1;
    }
    if (!d->states) {
        if (dc.ref[0]) {
            snprintf(d->err, d->errlen, "parameter '%s' needs a numeric default", name);
            return -1;
        }
        int i = m->nparams++;
        m->pname[i] = nk_strdup(name);
        m->pdef[i] = dc.value;
        m->punit[i] = nk_strdup(dc.unit);
        m->plo[i] = dc.has_range ? dc.lo : -INFINITY;
        m->phi[i] = dc.has_range ? dc.hi : INFINITY;
        m->plo_open[i] = (unsigned char)(dc.has_range && dc.lo_open);
        m->phi_open[i] = (unsigned char)(dc.has_range && dc.hi_open);
        if (!m->pname[i] || !m->punit[i])
            return -1;
        if (nk_model_check_param(m, i, dc.value, d->err, d->errlen)) {
            char tmp[512];
            snprintf(tmp, sizeof tmp, "the default of %s", d->err);
            snprintf(d->err, d->errlen, "%s", tmp);
            return -1;
        }
        return 0;
    }
    int i = m->nstates++;
    m->sname[i] = nk_strdup(name);
    m->sunit[i] = nk_strdup(dc.unit);
    m->sinit[i] = dc.value;
    m->sinit_param[i] = -1;
    m->slo[i] = dc.has_range ? dc.lo : -INFINITY;
    m->shi[i] = dc.has_range ? dc.hi : INFINITY;
    if (dc.has_range && (isfinite(dc.lo) || isfinite(dc.hi)))
        m->has_bounds = 1;
    if (dc.ref[0]) {
        m->sinit_param[i] = nk_model_param_index0(m, dc.ref);
        if (m->sinit_param[i] < 0) {
            snprintf(d->err, d->errlen,
                     "state '%s' starts at '%s', which is not a parameter", name, dc.ref);
            return -1;
        }
    }
    return (m->sname[i] && m->sunit[i]) ? 0 : -1;
}

static int count_alias(const char *piece, void *ud)
{
    (void)piece;
    (*(int *)ud)++;
    return 0;
}

/* "V_m = v": another name for a parameter or state. */
static int add_alias(const char *piece, void *ud)
{
    decl_ctx *d = ud;
    nk_model *m = d->m;
    decl dc;
    int prc = parse_decl(piece, &dc);
    if (prc == -3) {
        snprintf(d->err, d->errlen, "the alias '%s...' is too long (at most %d characters)",
                 dc.name, (int)sizeof dc.name - 1);
        return -1;
    }
    if (prc || !dc.ref[0] || dc.unit[0] || dc.has_range) {
        snprintf(d->err, d->errlen, "malformed alias '%s' (expected 'other_name = name')", piece);
        return -1;
    }
    const char *meaning = reserved_meaning(m, dc.name);
    if (meaning) {
        snprintf(d->err, d->errlen, "alias '%s' would hide %s; choose another name", dc.name,
                 meaning);
        return -1;
    }
    if (nk_expr_func_arity(dc.name) >= 0) {
        snprintf(d->err, d->errlen, "alias '%s' is the name of a function; choose another name",
                 dc.name);
        return -1;
    }
    if (nk_model_param_index0(m, dc.ref) < 0 && nk_model_state_index0(m, dc.ref) < 0) {
        snprintf(d->err, d->errlen, "alias '%s' names '%s', which is not a parameter or state",
                 dc.name, dc.ref);
        return -1;
    }
    if (nk_model_param_index(m, dc.name) >= 0 || nk_model_state_index(m, dc.name) >= 0) {
        snprintf(d->err, d->errlen, "alias '%s' is already a name of model '%s'", dc.name,
                 m->name);
        return -1;
    }
    int k = m->nalias++;
    m->alias_from[k] = nk_strdup(dc.name);
    m->alias_to[k] = nk_strdup(dc.ref);
    return m->alias_from[k] && m->alias_to[k] ? 0 : -1;
}

/* "exc = exp_cond(tau_syn = tau_syn_ex, E_rev = E_ex)": a default receptor. */
static int add_recept(const char *piece, void *ud)
{
    decl_ctx *d = ud;
    nk_model *m = d->m;
    const char *s = skip_ws(piece);
    struct nk_model_recept *r = &m->recept[m->nrecept];
    char name[64], syn[64];
    int k = 0;
    while (is_ident((unsigned char)*s) && k < 63)
        name[k++] = *s++;
    name[k] = 0;
    s = skip_ws(s);
    if (!k || *s++ != '=')
        goto bad;
    s = skip_ws(s);
    k = 0;
    while (is_ident((unsigned char)*s) && k < 63)
        syn[k++] = *s++;
    syn[k] = 0;
    s = skip_ws(s);
    if (!k || *s++ != '(')
        goto bad;
    const char *close = strrchr(s, ')');
    if (!close || *skip_ws(close + 1))
        goto bad;
    for (int q = 0; q < m->nrecept; q++)
        if (!strcmp(m->recept[q].name, name)) {
            snprintf(d->err, d->errlen,
                     "receptor '%s' is declared twice ('%s = %s(...)' and '%s = %s(...)'); "
                     "give each receptor once", name, name, m->recept[q].synapse, name, syn);
            return -1;
        }
    r->name = nk_strdup(name);
    r->synapse = nk_strdup(syn);
    m->nrecept++;
    /* Count the arguments (commas at depth 0). */
    int nargs = 0, depth = 0, any = 0;
    for (const char *c = s; c < close; c++) {
        if (*c == '(')
            depth++;
        else if (*c == ')')
            depth--;
        else if (*c == ',' && depth == 0)
            nargs++;
        else if (!isspace((unsigned char)*c))
            any = 1;
    }
    nargs += any;
    r->pname = nk_xcalloc((size_t)nargs + 1, sizeof *r->pname);
    r->pval = nk_xcalloc((size_t)nargs + 1, sizeof *r->pval);
    if (!r->name || !r->synapse || !r->pname || !r->pval)
        return -1;
    while (any && s < close) {
        const char *e = s;
        depth = 0;
        while (e < close && !(*e == ',' && depth == 0)) {
            depth += *e == '(' ? 1 : *e == ')' ? -1 : 0;
            e++;
        }
        const char *q = skip_ws(s);
        k = 0;
        char pn[64];
        while (is_ident((unsigned char)*q) && k < 63)
            pn[k++] = *q++;
        pn[k] = 0;
        q = skip_ws(q);
        if (!k || *q++ != '=' || q > e)
            goto bad;
        for (int j = 0; j < r->nparams; j++)
            if (!strcmp(r->pname[j], pn)) {
                snprintf(d->err, d->errlen, "receptor '%s': parameter '%s' is given twice", name,
                         pn);
                return -1;
            }
        char ex[512];
        if ((size_t)(e - q) >= sizeof ex)
            goto bad;
        memcpy(ex, q, (size_t)(e - q));
        ex[e - q] = 0;
        char perr[512];
        nk_expr *v = nk_expr_parse(ex, perr, sizeof perr);
        if (!v) {
            snprintf(d->err, d->errlen, "receptor '%s': parameter '%s': %s", name, pn, perr);
            return -1;
        }
        r->pname[r->nparams] = nk_strdup(pn);
        r->pval[r->nparams++] = v;
        if (!r->pname[r->nparams - 1])
            return -1;
        char cerr[512];
        double tmp;
        if (nk_eval_param_expr(v, m, m->pdef, 0.1, &tmp, cerr, sizeof cerr)) {
            snprintf(d->err, d->errlen, "receptor '%s': parameter '%s': %s", name, pn, cerr);
            return -1;
        }
        s = e < close ? e + 1 : close;
    }
    return 0;
bad:
    snprintf(d->err, d->errlen,
             "malformed receptor '%s' (expected 'name = synapse(param = expression, ...)')", piece);
    return -1;
}

/* ---- name checks -------------------------------------------------------- */

typedef struct names_ctx {
    const nk_model *m;
    const nk_stmt_list *eqs;   /* intermediates defined here are names too */
    int allow_w;               /* on_pre: w is the weight */
    int allow_post;            /* synapse: names of the target neuron resolve later */
    const char *where;
    char *err;
    size_t errlen;
} names_ctx;

static const char *const builtin_names[] = {"t", "dt", "i", "pi", "e", "refractory"};

static int check_name(const char *name, int line, int col, void *ud)
{
    names_ctx *c = ud;
    if (nk_model_param_index(c->m, name) >= 0 || nk_model_state_index(c->m, name) >= 0)
        return 0;
    for (size_t k = 0; k < sizeof builtin_names / sizeof *builtin_names; k++)
        if (!strcmp(name, builtin_names[k]))
            return 0;
    if (!c->m->synapse && !strcmp(name, "I"))
        return 0;
    if (c->allow_w && !strcmp(name, "w"))
        return 0;
    if (c->eqs)
        for (int k = 0; k < c->eqs->n; k++)
            if (c->eqs->items[k].kind == NK_ST_ASSIGN && !strcmp(c->eqs->items[k].target, name))
                return 0;
    if (c->allow_post)
        return 0;
    /* an intermediate where intermediates are not substituted */
    for (int k = 0; k < c->m->eqs.n; k++)
        if (c->m->eqs.items[k].kind == NK_ST_ASSIGN && !strcmp(c->m->eqs.items[k].target, name)) {
            snprintf(c->err, c->errlen,
                     "model '%s': '%s' in %s is an intermediate of equations ('%s'); "
                     "intermediates can be used only in equations%s: write its expression in "
                     "%s",
                     c->m->name, name, c->where, c->m->eqs.items[k].text,
                     c->m->synapse ? ", on_pre and current" : "", c->where);
            return -1;
        }
    /* Build the candidate list for a suggestion. */
    const char *cand[96];
    int n = 0;
    for (int k = 0; k < c->m->nparams && n < 90; k++)
        cand[n++] = c->m->pname[k];
    for (int k = 0; k < c->m->nstates && n < 90; k++)
        cand[n++] = c->m->sname[k];
    if (c->eqs)
        for (int k = 0; k < c->eqs->n && n < 90; k++)
            if (c->eqs->items[k].kind == NK_ST_ASSIGN)
                cand[n++] = c->eqs->items[k].target;
    const char *s = nk_suggest(name, cand, n);
    char where[64];
    if (line > 1)
        snprintf(where, sizeof where, "line %d, column %d", line, col);
    else
        snprintf(where, sizeof where, "column %d", col);
    if (s) {
        snprintf(c->err, c->errlen, "model '%s': unknown name '%s' in %s (%s) (did you mean '%s'?)",
                 c->m->name, name, c->where, where, s);
        return -1;
    }
    char list[768] = "";
    for (int k = 0; k < n; k++) {
        size_t l = strlen(list);
        snprintf(list + l, sizeof list - l, "%s%s", k ? ", " : "", cand[k]);
    }
    snprintf(c->err, c->errlen,
             "model '%s': unknown name '%s' in %s (%s); defined: %s%st, dt, i%s", c->m->name,
             name, c->where, where, list, n ? ", " : "",
             c->m->synapse ? (c->allow_w ? ", w" : "") : ", I");
    return -1;
}

/* A name in graded: the presynaptic neuron's states as NAME_pre, the
 * synapse's parameters, dt, pi and e. Nothing else exists where graded is
 * computed (per presynaptic neuron, after that neuron's update). */
static int check_graded_name(const char *name, int line, int col, void *ud)
{
    names_ctx *c = ud;
    const nk_model *m = c->m;
    size_t l = strlen(name);
    if (nk_model_param_index(m, name) >= 0 || (l > 4 && !strcmp(name + l - 4, "_pre")) ||
        !strcmp(name, "dt") || !strcmp(name, "pi") || !strcmp(name, "e"))
        return 0;
    char why[256] = "";
    const char *meaning = reserved_meaning(m, name);
    if (nk_model_state_index(m, name) >= 0)
        snprintf(why, sizeof why, "'%s' is a state of the synapse", name);
    else if (meaning)
        snprintf(why, sizeof why, "'%s' is %s, which graded cannot use", name, meaning);
    for (int k = 0; !why[0] && k < m->eqs.n; k++)
        if (m->eqs.items[k].kind == NK_ST_ASSIGN && !strcmp(m->eqs.items[k].target, name))
            snprintf(why, sizeof why, "'%s' is an intermediate of equations ('%.100s')", name,
                     m->eqs.items[k].text);
    if (!why[0])
        snprintf(why, sizeof why, "unknown name '%s'", name);
    char where[64];
    if (line > 1)
        snprintf(where, sizeof where, "line %d, column %d", line, col);
    else
        snprintf(where, sizeof where, "column %d", col);
    char params[512] = "";
    for (int k = 0; k < m->nparams; k++) {
        size_t pl = strlen(params);
        snprintf(params + pl, sizeof params - pl, "%s%s", k ? ", " : "", m->pname[k]);
    }
    snprintf(c->err, c->errlen,
             "model '%s': graded (%s): %s; graded may use the presynaptic neuron's states, "
             "written NAME_pre (v_pre), the synapse's parameters%s%s%s, dt, pi and e",
             m->name, where, why, m->nparams ? " (" : "", params, m->nparams ? ")" : "");
    return -1;
}

static int check_stmts(const nk_stmt_list *l, names_ctx *c, int assign_to_state)
{
    for (int k = 0; k < l->n; k++) {
        const nk_stmt *st = &l->items[k];
        if (st->kind == NK_ST_ODE || assign_to_state) {
            if (nk_model_state_index(c->m, st->target) < 0) {
                snprintf(c->err, c->errlen,
                         "model '%s': '%s' in %s is not a state variable (declare it in states)",
                         c->m->name, st->target, c->where);
                return -1;
            }
        }
        if (nk_expr_walk_vars(st->rhs, check_name, c))
            return -1;
    }
    return 0;
}

/* Intermediates that use each other in a cycle ("a = b + 1", "b = 2*a")
 * could never be substituted: the model is refused, the cycle named.
 * The uses of statement k of eqs are use[off[k] .. off[k + 1]): the
 * statements (intermediates) its expression names. */
typedef struct inter_uses {
    const nk_stmt_list *l;
    int *use, n, cap;
} inter_uses;

static int note_use(const char *name, int line, int col, void *ud)
{
    (void)line;
    (void)col;
    inter_uses *u = ud;
    for (int q = 0; q < u->l->n; q++) {
        if (u->l->items[q].kind != NK_ST_ASSIGN || strcmp(u->l->items[q].target, name))
            continue;
        if (u->n == u->cap) {
            int cap = u->cap ? 2 * u->cap : 16;
            int *g = realloc(u->use, (size_t)cap * sizeof *g);
            if (!g)
                return -1;
            u->use = g;
            u->cap = cap;
        }
        u->use[u->n++] = q;
    }
    return 0;
}

static int inter_cycle(const nk_model *m, char *err, size_t errlen)
{
    const nk_stmt_list *l = &m->eqs;
    int n = l->n, rc = 0;
    inter_uses u = {l, NULL, 0, 0};
    /* depth-first, without recursion: state 0 unseen, 1 on the path, 2 done;
     * from[k]: the statement the path came to k from; next[k]: the next of
     * k's uses to follow */
    int *off = malloc((size_t)(n + 1) * sizeof *off), *from = malloc((size_t)(n + 1) * sizeof *from),
        *next = malloc((size_t)(n + 1) * sizeof *next);
    unsigned char *state = calloc((size_t)n + 1, 1);
    for (int k = 0; off && k < n && !rc; k++) {
        off[k] = u.n;
        if (l->items[k].kind == NK_ST_ASSIGN)
            rc = nk_expr_walk_vars(l->items[k].rhs, note_use, &u);
    }
    if (rc || !off || !from || !next || !state) {
        snprintf(err, errlen, "out of memory");
        rc = -1;
        goto done;
    }
    off[n] = u.n;
    for (int k0 = 0; k0 < n && !rc; k0++) {
        if (state[k0] || l->items[k0].kind != NK_ST_ASSIGN)
            continue;
        int k = k0;
        state[k] = 1;
        from[k] = -1;
        next[k] = off[k];
        while (k >= 0 && !rc) {
            if (next[k] == off[k + 1]) {
                state[k] = 2;
                k = from[k];
                continue;
            }
            int q = u.use[next[k]++];
            if (state[q] == 1) {
                /* the path from q to k, then q again */
                int len = 0;
                for (int j = k; j != q; j = from[j])
                    len++;
                size_t at = (size_t)snprintf(err, errlen, "model '%s': intermediates refer to "
                                                          "each other in a cycle: %s",
                                             m->name, l->items[q].target);
                for (int d = len - 1; d >= -1; d--) { /* d = -1: q again */
                    int j = k;
                    for (int s = 0; s < d; s++)
                        j = from[j];
                    if (at < errlen)
                        at += (size_t)snprintf(err + at, errlen - at, " -> %s",
                                               l->items[d < 0 ? q : j].target);
                }
                if (at < errlen)
                    snprintf(err + at, errlen - at, " (each is substituted into the next; "
                                                    "one of them must be a state)");
                rc = -1;
            } else if (!state[q]) {
                state[q] = 1;
                from[q] = k;
                next[q] = off[q];
                k = q;
            }
        }
    }
done:
    free(u.use);
    free(off);
    free(from);
    free(next);
    free(state);
    return rc;
}

/* ---- aliases ---------------------------------------------------------------- */

static const char *unalias(const nk_model *m, const char *name);

/* Respells *name as the name it stands for when it is an alias. -1 when
 * out of memory. */
static int unalias_name(const nk_model *m, char **name)
{
    const char *real = unalias(m, *name);
    if (real == *name)
        return 0;
    char *c = nk_strdup(real);
    if (!c)
        return -1;
    free(*name);
    *name = c;
    return 0;
}

/* Respells every alias in e as the name it stands for. -1 when out of
 * memory. */
static int unalias_expr(const nk_model *m, nk_expr *e)
{
    if (!e)
        return 0;
    if (e->kind == NK_EX_VAR)
        return unalias_name(m, &e->name);
    for (int k = 0; k < e->nargs; k++)
        if (unalias_expr(m, e->args[k]))
            return -1;
    return 0;
}

/* The same for statements: their expressions and, but for intermediates
 * (whose names are their own), their targets. */
static int unalias_stmts(const nk_model *m, nk_stmt_list *l)
{
    for (int k = 0; k < l->n; k++) {
        nk_stmt *st = &l->items[k];
        if (unalias_expr(m, st->rhs))
            return -1;
        if (st->kind == NK_ST_ASSIGN && l == &m->eqs)
            continue;
        if (unalias_name(m, &st->target))
            return -1;
    }
    return 0;
}

/* Aliases are other names for parameters and states, usable wherever those
 * are: after the checks, the model's expressions and targets are respelled
 * with the real names, which is all the code generator and the evaluation
 * of refractory periods know. (A synapse's uses of the target neuron's
 * aliases, and graded's NAME_pre, are resolved when the code is generated.) */
static int unalias_all(nk_model *m)
{
    if (!m->nalias)
        return 0;
    if (unalias_stmts(m, &m->eqs) || unalias_stmts(m, &m->reset) ||
        unalias_stmts(m, &m->on_pre) || unalias_expr(m, m->threshold) ||
        unalias_expr(m, m->refractory) || unalias_expr(m, m->current) ||
        unalias_expr(m, m->graded))
        return -1;
    return 0;
}

/* ---- building a model --------------------------------------------------- */

static int describe(nk_model *m)
{
    size_t cap = 4096, len = 0;
    char *out = malloc(cap);
    if (!out)
        return -1;
#define ADD(...)                                                                 \
    do {                                                                         \
        int w_ = snprintf(out + len, cap - len, __VA_ARGS__);                    \
        if (w_ < 0)                                                              \
            break;                                                               \
        if ((size_t)w_ >= cap - len) {                                           \
            cap = (cap + (size_t)w_) * 2;                                        \
            char *o_ = realloc(out, cap);                                        \
            if (!o_) {                                                           \
                free(out);                                                       \
                return -1;                                                       \
            }                                                                    \
            out = o_;                                                            \
            snprintf(out + len, cap - len, __VA_ARGS__);                         \
        }                                                                        \
        len += (size_t)w_;                                                       \
    } while (0)
    ADD("%s model '%s': %s\n", m->synapse ? "synapse" : "neuron", m->name, m->doc);
    ADD("  equations:\n");
    for (int k = 0; k < m->eqs.n; k++)
        ADD("    %s\n", m->eqs.items[k].text);
    if (m->threshold) {
        char b[512];
        nk_expr_to_str(m->threshold, b, sizeof b);
        ADD("  threshold: %s\n", b);
    }
    for (int k = 0; k < m->reset.n; k++)
        ADD("  %s %s\n", k ? "      " : "reset:", m->reset.items[k].text);
    if (m->refractory) {
        char b[512];
        nk_expr_to_str(m->refractory, b, sizeof b);
        ADD("  refractory: %s\n", b);
    }
    for (int k = 0; k < m->on_pre.n; k++)
        ADD("  on_pre: %s\n", m->on_pre.items[k].text);
    if (m->current) {
        char b[512];
        nk_expr_to_str(m->current, b, sizeof b);
        ADD("  current into the target: %s\n", b);
    }
    if (m->graded) {
        char b[512];
        nk_expr_to_str(m->graded, b, sizeof b);
        ADD("  graded (per connection, times its weight): %s\n", b);
    }
    ADD("  parameters:\n");
    for (int k = 0; k < m->nparams; k++) {
        char range[96] = "";
        if (isfinite(m->plo[k]) || isfinite(m->phi[k]) || m->plo_open[k] || m->phi_open[k])
            snprintf(range, sizeof range, "  in %c%g, %g%c", m->plo_open[k] ? '(' : '[',
                     m->plo[k], m->phi[k], m->phi_open[k] ? ')' : ']');
        ADD("    %-10s = %-8g %s%s\n", m->pname[k], m->pdef[k], m->punit[k], range);
    }
    ADD("  states:\n");
    for (int k = 0; k < m->nstates; k++) {
        char bounds[96] = "";
        if (isfinite(m->slo[k]) || isfinite(m->shi[k]))
            snprintf(bounds, sizeof bounds, "  clipped to [%g, %g]", m->slo[k], m->shi[k]);
        if (m->sinit_param[k] >= 0)
            ADD("    %-10s = %-8s %s%s\n", m->sname[k], m->pname[m->sinit_param[k]],
                m->sunit[k], bounds);
        else
            ADD("    %-10s = %-8g %s%s\n", m->sname[k], m->sinit[k], m->sunit[k], bounds);
    }
    if (m->nalias) {
        ADD("  aliases:");
        for (int k = 0; k < m->nalias; k++)
            ADD("%s %s = %s", k ? "," : "", m->alias_from[k], m->alias_to[k]);
        ADD("\n");
    }
    if (m->nrecept)
        ADD("  default receptors (a connection without 'synapse': exc for weight >= 0, inh "
            "for weight < 0):\n");
    for (int k = 0; k < m->nrecept; k++) {
        const struct nk_model_recept *r = &m->recept[k];
        ADD("    %s = %s(", r->name, r->synapse);
        for (int j = 0; j < r->nparams; j++) {
            char b[256];
            nk_expr_to_str(r->pval[j], b, sizeof b);
            ADD("%s%s = %s", j ? ", " : "", r->pname[j], b);
        }
        ADD(")\n");
    }
    if (m->max_dt > 0)
        ADD("  max_dt: %g ms (sub-steps when dt is larger)\n", m->max_dt);
    ADD("  method: %s", m->method);
#undef ADD
    m->describe = out;
    return 0;
}

nk_model *nk_model_parse(const nk_model_text *t, char *err, size_t errlen)
{
    nk_model *m = nk_xcalloc(1, sizeof *m);
    if (!m) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    m->name = nk_strdup(t->name);
    m->doc = nk_strdup(t->doc ? t->doc : "");
    m->synapse = t->kind && !strcmp(t->kind, "synapse");
    m->method = nk_strdup(t->method ? t->method : "euler");
    int np = 0, ns = 0;
    if (each_decl(t->params, count_piece, &np) || each_decl(t->states, count_piece, &ns)) {
        snprintf(err, errlen, "model '%s': a declaration is too long", t->name);
        goto fail;
    }
    m->pname = nk_xcalloc((size_t)np + 1, sizeof *m->pname);
    m->pdef = nk_xcalloc((size_t)np + 1, sizeof *m->pdef);
    m->punit = nk_xcalloc((size_t)np + 1, sizeof *m->punit);
    m->sname = nk_xcalloc((size_t)ns + 1, sizeof *m->sname);
    m->sunit = nk_xcalloc((size_t)ns + 1, sizeof *m->sunit);
    m->sinit = nk_xcalloc((size_t)ns + 1, sizeof *m->sinit);
    m->sinit_param = nk_xcalloc((size_t)ns + 1, sizeof *m->sinit_param);
    m->plo = nk_xcalloc((size_t)np + 1, sizeof *m->plo);
    m->phi = nk_xcalloc((size_t)np + 1, sizeof *m->phi);
    m->plo_open = nk_xcalloc((size_t)np + 1, 1);
    m->phi_open = nk_xcalloc((size_t)np + 1, 1);
    m->slo = nk_xcalloc((size_t)ns + 1, sizeof *m->slo);
    m->shi = nk_xcalloc((size_t)ns + 1, sizeof *m->shi);
    int na = 0, nr = 0;
    if (each_decl(t->aliases, count_alias, &na) || each_decl(t->receptors, count_alias, &nr)) {
        snprintf(err, errlen, "model '%s': an alias or receptor is too long", t->name);
        goto fail;
    }
    m->alias_from = nk_xcalloc((size_t)na + 1, sizeof *m->alias_from);
    m->alias_to = nk_xcalloc((size_t)na + 1, sizeof *m->alias_to);
    m->recept = nk_xcalloc((size_t)nr + 1, sizeof *m->recept);
    if (!m->name || !m->doc || !m->method || !m->pname || !m->pdef || !m->punit ||
        !m->sname || !m->sunit || !m->sinit || !m->sinit_param || !m->plo || !m->phi ||
        !m->plo_open || !m->phi_open || !m->slo || !m->shi || !m->alias_from || !m->alias_to ||
        !m->recept) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    decl_ctx d = {m, 0, err, errlen};
    char derr[1024];
    d.err = derr;
    d.errlen = sizeof derr;
    if (each_decl(t->params, add_piece, &d))
        goto fail_decl;
    d.states = 1;
    if (each_decl(t->states, add_piece, &d))
        goto fail_decl;
    if (each_decl(t->aliases, add_alias, &d))
        goto fail_decl;
    if (m->synapse && t->receptors && *skip_ws(t->receptors)) {
        snprintf(derr, sizeof derr, "'receptors' belongs to neuron models");
        goto fail_decl;
    }
    if (each_decl(t->receptors, add_recept, &d))
        goto fail_decl;
    if (!(t->max_dt >= 0) || !isfinite(t->max_dt)) {
        nk_snprintf(derr, sizeof derr, "max_dt must be a positive number of ms, got %g", t->max_dt);
        goto fail_decl;
    }
    m->max_dt = t->max_dt;

    char perr[1024];
    if (t->equations && nk_stmts_parse(t->equations, &m->eqs, perr, sizeof perr)) {
        snprintf(err, errlen, "model '%s': equations: %s", t->name, perr);
        goto fail;
    }
    if (t->threshold && *skip_ws(t->threshold)) {
        m->threshold = nk_expr_parse(t->threshold, perr, sizeof perr);
        if (!m->threshold) {
            snprintf(err, errlen, "model '%s': threshold: %s", t->name, perr);
            goto fail;
        }
    }
    if (t->reset && nk_stmts_parse(t->reset, &m->reset, perr, sizeof perr)) {
        snprintf(err, errlen, "model '%s': reset: %s", t->name, perr);
        goto fail;
    }
    if (t->refractory && *skip_ws(t->refractory)) {
        m->refractory = nk_expr_parse(t->refractory, perr, sizeof perr);
        if (!m->refractory) {
            snprintf(err, errlen, "model '%s': refractory: %s", t->name, perr);
            goto fail;
        }
    }
    if (t->on_pre && nk_stmts_parse(t->on_pre, &m->on_pre, perr, sizeof perr)) {
        snprintf(err, errlen, "model '%s': on_pre: %s", t->name, perr);
        goto fail;
    }
    if (t->graded && *skip_ws(t->graded)) {
        if (!m->synapse) {
            snprintf(err, errlen, "model '%s': 'graded' belongs to synapse models", t->name);
            goto fail;
        }
        m->graded = nk_expr_parse(t->graded, perr, sizeof perr);
        if (!m->graded) {
            snprintf(err, errlen, "model '%s': graded: %s", t->name, perr);
            goto fail;
        }
    }
    if (t->current && *skip_ws(t->current)) {
        m->current = nk_expr_parse(t->current, perr, sizeof perr);
        if (!m->current) {
            snprintf(err, errlen, "model '%s': current: %s", t->name, perr);
            goto fail;
        }
    }
    if (m->synapse && (!m->current || m->on_pre.n == 0)) {
        snprintf(err, errlen, "synapse model '%s' needs 'on_pre' and 'current'", t->name);
        goto fail;
    }
    /* fields of the other kind of model would be ignored */
    if (!m->synapse && (m->on_pre.n > 0 || m->current || m->graded)) {
        snprintf(err, errlen,
                 "model '%s': '%s' belongs to synapse models (give a neuron model threshold, "
                 "reset and refractory; its receptors name synapse models)",
                 t->name, m->on_pre.n > 0 ? "on_pre" : m->current ? "current" : "graded");
        goto fail;
    }
    if (m->synapse && (m->threshold || m->reset.n > 0 || m->refractory)) {
        snprintf(err, errlen,
                 "model '%s': '%s' belongs to neuron models (a synapse model has on_pre and "
                 "current, and graded ones graded)",
                 t->name, m->threshold ? "threshold" : m->reset.n > 0 ? "reset" : "refractory");
        goto fail;
    }

    names_ctx c = {.m = m, .eqs = &m->eqs, .allow_post = m->synapse, .where = "equations",
                   .err = err, .errlen = errlen};
    if (check_stmts(&m->eqs, &c, 0))
        goto fail;
    for (int k = 0; k < m->eqs.n; k++) {
        const nk_stmt *st = &m->eqs.items[k];
        if (st->kind == NK_ST_ASSIGN && st->op != '=') {
            snprintf(err, errlen, "model '%s': equations: '%s' (use '=' to name an expression)",
                     t->name, st->text);
            goto fail;
        }
        /* one equation per name: a second ODE for a state, or a named
         * expression that takes a state's, parameter's, alias's or
         * built-in's name, would be ignored (or would shadow it) without a
         * word */
        if (st->kind == NK_ST_ASSIGN) {
            const char *meaning = reserved_meaning(m, st->target);
            int si = nk_model_state_index(m, st->target), pi = nk_model_param_index(m, st->target);
            const char *real = si >= 0 ? m->sname[si] : pi >= 0 ? m->pname[pi] : NULL;
            if (meaning)
                snprintf(err, errlen,
                         "model '%s': equations: '%s' names an expression '%s', which would hide "
                         "%s; choose another name",
                         t->name, st->text, st->target, meaning);
            else if (real && strcmp(real, st->target))
                snprintf(err, errlen,
                         "model '%s': equations: '%s' names an expression '%s', which is already "
                         "an alias of %s '%s'; choose another name",
                         t->name, st->text, st->target, si >= 0 ? "state" : "parameter", real);
            else if (real)
                snprintf(err, errlen,
                         "model '%s': equations: '%s' names an expression '%s', which is already a "
                         "%s; choose another name",
                         t->name, st->text, st->target, si >= 0 ? "state" : "parameter");
            if (meaning || real)
                goto fail;
        }
        for (int q = 0; q < k; q++) {
            const nk_stmt *o = &m->eqs.items[q];
            /* (dv/dt and dV/dt, V an alias of v, are one state's) */
            int same = o->kind == st->kind &&
                       (st->kind == NK_ST_ODE
                            ? nk_model_state_index(m, o->target) == nk_model_state_index(m, st->target)
                            : !strcmp(o->target, st->target));
            if (same) {
                snprintf(err, errlen, "model '%s': equations: '%s' and '%s' both define %s'%s'",
                         t->name, o->text, st->text, st->kind == NK_ST_ODE ? "d/dt of " : "",
                         st->target);
                goto fail;
            }
        }
    }
    if (inter_cycle(m, err, errlen))
        goto fail;
    c.eqs = NULL;
    c.where = "threshold";
    if (m->threshold && nk_expr_walk_vars(m->threshold, check_name, &c))
        goto fail;
    /* A number is no condition: "0/0" would fire at every step (NaN is
     * true in C), "v - 1" whenever v != 1. */
    if (m->threshold && !nk_expr_is_boolean(m->threshold)) {
        snprintf(err, errlen,
                 "model '%s': threshold must be a condition, such as 'v > v_th' (a comparison, "
                 "or and/or/not of comparisons), got '%.200s'",
                 t->name, skip_ws(t->threshold));
        goto fail;
    }
    c.where = "reset";
    if (check_stmts(&m->reset, &c, 1))
        goto fail;
    c.where = "refractory";
    if (m->refractory && nk_expr_walk_vars(m->refractory, check_name, &c))
        goto fail;
    if (m->refractory && nk_expr_uses(m->refractory, "refractory")) {
        snprintf(err, errlen,
                 "model '%s': refractory cannot use the name 'refractory' (the flag it sets: 1 "
                 "while the neuron is refractory)",
                 t->name);
        goto fail;
    }
    c.where = "on_pre";
    c.allow_w = 1;
    /* A synapse's on_pre may also assign to the target neuron's states
     * (delta: v += w); those are checked when the receptor is built. */
    if (check_stmts(&m->on_pre, &c, !m->synapse))
        goto fail;
    c.allow_w = 0;
    if (m->graded) {
        c.where = "graded";
        if (nk_expr_walk_vars(m->graded, check_graded_name, &c))
            goto fail;
        /* graded is computed per presynaptic neuron outside any neuron's
         * update, where there is no random stream */
        if (nk_expr_has_random(m->graded)) {
            snprintf(err, errlen,
                     "model '%s': graded cannot use rand() or randn() (it is computed from the "
                     "presynaptic neuron's states, which have no random stream there); put the "
                     "noise in the synapse's equations or in the presynaptic neuron's",
                     t->name);
            goto fail;
        }
    }
    c.where = "current";
    if (m->current && nk_expr_walk_vars(m->current, check_name, &c))
        goto fail;
    if (describe(m)) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    /* From here on the model's own aliases are spelled as the names they
     * stand for (the description above keeps the user's spelling). */
    if (unalias_all(m)) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (m->refractory) {
        /* a period of parameters only is one for the population (step.c);
         * one of states, i, t, I or random numbers is evaluated per neuron
         * at each spike */
        m->refr_cond = nk_expr_is_boolean(m->refractory);
        m->refr_per_neuron = !m->refr_cond && (nk_expr_uses(m->refractory, "i") ||
                                               nk_expr_uses(m->refractory, "t") ||
                                               nk_expr_uses(m->refractory, "I") ||
                                               nk_expr_has_random(m->refractory));
        for (int k = 0; k < m->nstates && !m->refr_cond; k++)
            if (nk_expr_uses(m->refractory, m->sname[k]))
                m->refr_per_neuron = 1;
    }
    return m;
fail_decl:
    snprintf(err, errlen, "model '%s': %s", t->name, derr);
fail:
    nk_model_free(m);
    return NULL;
}

void nk_model_free(nk_model *m)
{
    if (!m)
        return;
    for (int k = 0; k < m->nparams; k++) {
        free(m->pname[k]);
        free(m->punit[k]);
    }
    for (int k = 0; k < m->nstates; k++) {
        free(m->sname[k]);
        free(m->sunit[k]);
    }
    free(m->pname);
    free(m->pdef);
    free(m->punit);
    free(m->sname);
    free(m->sunit);
    free(m->sinit);
    free(m->sinit_param);
    nk_stmts_free(&m->eqs);
    nk_stmts_free(&m->reset);
    nk_stmts_free(&m->on_pre);
    nk_expr_free(m->threshold);
    nk_expr_free(m->refractory);
    nk_expr_free(m->current);
    nk_expr_free(m->graded);
    for (int k = 0; k < m->nalias; k++) {
        free(m->alias_from[k]);
        free(m->alias_to[k]);
    }
    free(m->alias_from);
    free(m->alias_to);
    for (int k = 0; k < m->nrecept; k++) {
        struct nk_model_recept *r = &m->recept[k];
        for (int j = 0; j < r->nparams; j++) {
            free(r->pname[j]);
            nk_expr_free(r->pval[j]);
        }
        free(r->pname);
        free(r->pval);
        free(r->name);
        free(r->synapse);
    }
    free(m->recept);
    free(m->plo);
    free(m->phi);
    free(m->plo_open);
    free(m->phi_open);
    free(m->slo);
    free(m->shi);
    free(m->name);
    free(m->doc);
    free(m->method);
    free(m->describe);
    free(m);
}

int nk_builtin_models(nk_model ***out, int *n, char *err, size_t errlen)
{
    int count = nk_lib_nneurons + nk_lib_nsynapses;
    nk_model **v = nk_xcalloc((size_t)count, sizeof *v);
    if (!v)
        return NK_ENOMEM;
    for (int k = 0; k < count; k++) {
        const nk_model_text *t = k < nk_lib_nneurons ? &nk_lib_neurons[k]
                                                     : &nk_lib_synapses[k - nk_lib_nneurons];
        v[k] = nk_model_parse(t, err, errlen);
        if (!v[k]) {
            for (int j = 0; j < k; j++)
                nk_model_free(v[j]);
            free(v);
            return NK_EPARSE;
        }
    }
    *out = v;
    *n = count;
    return 0;
}

/* ---- evaluation of parameter expressions (refractory periods) ----------- */

typedef struct param_env {
    const nk_model *m;
    const double *param;
    double dt;
    const char *bad;
} param_env;

static int param_value(const char *name, double *v, void *ud)
{
    param_env *env = ud;
    int p = nk_model_param_index(env->m, name);
    if (p >= 0)
        *v = env->param[p];
    else if (!strcmp(name, "dt"))
        *v = env->dt;
    else if (!strcmp(name, "pi"))
        *v = M_PI;
    else if (!strcmp(name, "e"))
        *v = M_E;
    else {
        env->bad = name;
        return -1;
    }
    return 0;
}

int nk_eval_param_expr(const nk_expr *e, const nk_model *m, const double *param,
                       double dt, double *out, char *err, size_t errlen)
{
    param_env env = {m, param, dt, NULL};
    char ferr[256] = "";
    if (!nk_expr_eval(e, param_value, &env, out, ferr, sizeof ferr))
        return 0;
    if (env.bad)
        snprintf(err, errlen,
                 "'%s' is not a parameter of model '%s' (only parameters may appear here)",
                 env.bad, m->name);
    else
        snprintf(err, errlen, "%s (model '%s': only parameters may appear here)", ferr, m->name);
    return -1;
}

/* ---- public accessors ---------------------------------------------------- */

int nk_model_param_index0(const nk_model *m, const char *name)
{
    for (int k = 0; k < m->nparams; k++)
        if (!strcmp(m->pname[k], name))
            return k;
    return -1;
}

int nk_model_state_index0(const nk_model *m, const char *name)
{
    for (int k = 0; k < m->nstates; k++)
        if (!strcmp(m->sname[k], name))
            return k;
    return -1;
}

static const char *unalias(const nk_model *m, const char *name)
{
    for (int k = 0; k < m->nalias; k++)
        if (!strcmp(m->alias_from[k], name))
            return m->alias_to[k];
    return name;
}

int nk_model_param_index(const nk_model *m, const char *name)
{
    return nk_model_param_index0(m, unalias(m, name));
}

int nk_model_state_index(const nk_model *m, const char *name)
{
    return nk_model_state_index0(m, unalias(m, name));
}

int nk_model_check_param(const nk_model *m, int k, double v, char *err, size_t errlen)
{
    int below = m->plo_open[k] ? !(v > m->plo[k]) : !(v >= m->plo[k]);
    int above = m->phi_open[k] ? !(v < m->phi[k]) : !(v <= m->phi[k]);
    if (!below && !above)
        return 0;
    char lb[32], hb[32], vb[32];
    snprintf(err, errlen, "parameter '%s' of model '%s' must be in %c%s, %s%c, got %s",
             m->pname[k], m->name, m->plo_open[k] ? '(' : '[', nk_fmt_num(m->plo[k], lb, sizeof lb),
             nk_fmt_num(m->phi[k], hb, sizeof hb), m->phi_open[k] ? ')' : ']',
             nk_fmt_num(v, vb, sizeof vb));
    return -1;
}

const char *nk_model_name(const nk_model *m) { return m->name; }
int nk_model_is_synapse(const nk_model *m) { return m->synapse; }
int nk_model_fires(const nk_model *m) { return m->threshold != NULL; }
int nk_model_is_graded(const nk_model *m) { return m->graded != NULL; }
const char *nk_model_doc(const nk_model *m) { return m->doc; }
int nk_model_nparams(const nk_model *m) { return m->nparams; }
const char *nk_model_param_name(const nk_model *m, int i) { return m->pname[i]; }
double nk_model_param_default(const nk_model *m, int i) { return m->pdef[i]; }
const char *nk_model_param_unit(const nk_model *m, int i) { return m->punit[i]; }
int nk_model_nstates(const nk_model *m) { return m->nstates; }
const char *nk_model_state_name(const nk_model *m, int i) { return m->sname[i]; }
const char *nk_model_state_unit(const nk_model *m, int i) { return m->sunit[i]; }
const char *nk_model_describe(const nk_model *m) { return m->describe; }
