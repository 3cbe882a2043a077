/* expr.c - parser, transformations and printers for model expressions.
 * See expr.h for the interface and the conventions. */
#include "expr.h"

#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ======================================================================
 * small helpers
 * ====================================================================== */

static int is_alpha_(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static int is_digit(int c) { return c >= '0' && c <= '9'; }
static int is_alnum_(int c) { return is_alpha_(c) || is_digit(c); }
static int is_space(int c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }

static char *dup_n(const char *s, size_t n)
{
    char *r = malloc(n + 1);
    if (!r)
        return NULL;
    memcpy(r, s, n);
    r[n] = '\0';
    return r;
}

#if defined(__GNUC__)
#define NK_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define NK_PRINTF(f, a)
#endif

static void set_err(char *err, size_t errlen, const char *fmt, ...) NK_PRINTF(3, 4);
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (!err || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Length of the well-formed UTF-8 sequence at s[0..n), or 0 if there is none
 * (ASCII counts as length 1). */
static size_t utf8_valid_len(const unsigned char *s, size_t n)
{
    size_t len, i;
    unsigned char lo = 0x80, hi = 0xBF;
    if (n == 0)
        return 0;
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF)
        len = 2;
    else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        len = 3;
        if (s[0] == 0xE0)
            lo = 0xA0;
        if (s[0] == 0xED)
            hi = 0x9F;
    } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        len = 4;
        if (s[0] == 0xF0)
            lo = 0x90;
        if (s[0] == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if (n < len)
        return 0;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return len;
}

/* ======================================================================
 * numbers, independent of the C locale
 * ====================================================================== */

static const char *locale_point(void)
{
    const struct lconv *lc = localeconv();
    if (!lc || !lc->decimal_point || !lc->decimal_point[0])
        return ".";
    return lc->decimal_point;
}

/* Converts s[0..n) (digits, '.', exponent, sign) to a double. Returns 0, -1
 * if the text is not a number, NK_EXPR_ENOMEM. */
static int read_double(const char *s, size_t n, double *out)
{
    char small[96];
    char *buf = small, *end;
    const char *dp = locale_point();
    size_t dpl = strlen(dp), need, k = 0, i;
    int ok;
    double v;

    need = n * dpl + 1;
    if (need > sizeof small) {
        buf = malloc(need);
        if (!buf)
            return NK_EXPR_ENOMEM;
    }
    for (i = 0; i < n; i++) {
        if (s[i] == '.') {
            memcpy(buf + k, dp, dpl);
            k += dpl;
        } else
            buf[k++] = s[i];
    }
    buf[k] = '\0';
    v = strtod(buf, &end);
    ok = k > 0 && end == buf + k;
    if (buf != small)
        free(buf);
    if (!ok)
        return -1;
    *out = v;
    return 0;
}

static void fix_point(char *out, const char *dp)
{
    char *q;
    if (strcmp(dp, ".") != 0 && (q = strstr(out, dp)) != NULL) {
        size_t dpl = strlen(dp);
        *q = '.';
        memmove(q + 1, q + dpl, strlen(q + dpl) + 1);
    }
}

/* Writes into out[48] the shortest decimal text (at most 17 significant
 * digits) that reads back as exactly v, with '.' as the decimal point: plain
 * notation for decimal exponents -5..16 ("250", "0.001"), else "1.5e-7",
 * "2e+300". v must be finite. */
static void write_double(double v, char *out)
{
    const char *dp = locale_point();
    int prec, x;
    char *e;
    for (prec = 1; prec <= 17; prec++) {
        double back;
        snprintf(out, 48, "%.*e", prec - 1, v);
        fix_point(out, dp);
        if (read_double(out, strlen(out), &back) == 0 && back == v)
            break;
    }
    if (prec > 17)
        prec = 17;
    e = strchr(out, 'e');
    x = e ? atoi(e + 1) : 0;
    if (x >= -5 && x <= 16) {
        int dec = prec - 1 - x;
        snprintf(out, 48, "%.*f", dec > 0 ? dec : 0, v);
        fix_point(out, dp);
    } else if (e) {
        /* "1.5e-07" -> "1.5e-7", "2e+300" stays */
        char *d = e + 1, *q;
        if (*d == '+' || *d == '-')
            d++;
        q = d;
        while (*q == '0' && q[1])
            q++;
        memmove(d, q, strlen(q) + 1);
    }
}

/* ======================================================================
 * nodes
 * ====================================================================== */

static nk_expr *node_new(nk_ex_kind k, int nargs, int line, int col)
{
    nk_expr *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->kind = k;
    e->line = line;
    e->col = col;
    if (nargs > 0) {
        e->args = calloc((size_t)nargs, sizeof *e->args);
        if (!e->args) {
            free(e);
            return NULL;
        }
    }
    e->nargs = nargs;
    return e;
}

void nk_expr_free(nk_expr *e)
{
    int i;
    if (!e)
        return;
    for (i = 0; i < e->nargs; i++)
        if (e->args)
            nk_expr_free(e->args[i]);
    free(e->args);
    free(e->name);
    free(e);
}

static nk_expr *mk_num(double v, int line, int col)
{
    nk_expr *e = node_new(NK_EX_NUM, 0, line, col);
    if (e)
        e->num = v;
    return e;
}

static nk_expr *mk_var(const char *name, size_t n, int line, int col)
{
    nk_expr *e = node_new(NK_EX_VAR, 0, line, col);
    if (!e)
        return NULL;
    e->name = dup_n(name, n);
    if (!e->name) {
        free(e);
        return NULL;
    }
    return e;
}

/* NEG/NOT node owning a (freed on failure). */
static nk_expr *mk1(nk_ex_kind k, nk_expr *a, int line, int col)
{
    nk_expr *e;
    if (!a)
        return NULL;
    e = node_new(k, 1, line, col);
    if (!e) {
        nk_expr_free(a);
        return NULL;
    }
    e->args[0] = a;
    return e;
}

static nk_expr *mk2(nk_ex_op op, nk_expr *a, nk_expr *b, int line, int col)
{
    nk_expr *e;
    if (!a || !b) {
        nk_expr_free(a);
        nk_expr_free(b);
        return NULL;
    }
    e = node_new(NK_EX_BIN, 2, line, col);
    if (!e) {
        nk_expr_free(a);
        nk_expr_free(b);
        return NULL;
    }
    e->op = op;
    e->args[0] = a;
    e->args[1] = b;
    return e;
}

static nk_expr *mk3(nk_expr *c, nk_expr *a, nk_expr *b, int line, int col)
{
    nk_expr *e;
    if (!c || !a || !b) {
        nk_expr_free(c);
        nk_expr_free(a);
        nk_expr_free(b);
        return NULL;
    }
    e = node_new(NK_EX_COND, 3, line, col);
    if (!e) {
        nk_expr_free(c);
        nk_expr_free(a);
        nk_expr_free(b);
        return NULL;
    }
    e->args[0] = c;
    e->args[1] = a;
    e->args[2] = b;
    return e;
}

/* CALL node taking the trees in args[0..n) (all freed on failure). */
static nk_expr *mk_call(const char *name, nk_expr **args, int n, int line, int col)
{
    nk_expr *e;
    int i, bad = 0;
    for (i = 0; i < n; i++)
        if (!args[i])
            bad = 1;
    e = bad ? NULL : node_new(NK_EX_CALL, n, line, col);
    if (e)
        e->name = dup_n(name, strlen(name));
    if (!e || !e->name) {
        if (e) {
            free(e->args);
            free(e);
        }
        for (i = 0; i < n; i++)
            nk_expr_free(args[i]);
        return NULL;
    }
    for (i = 0; i < n; i++)
        e->args[i] = args[i];
    return e;
}

static nk_expr *mk_call1(const char *name, nk_expr *a, int line, int col)
{
    return mk_call(name, &a, 1, line, col);
}

nk_expr *nk_expr_clone(const nk_expr *e)
{
    nk_expr *r;
    int i;
    if (!e)
        return NULL;
    r = node_new(e->kind, e->nargs, e->line, e->col);
    if (!r)
        return NULL;
    r->op = e->op;
    r->num = e->num;
    if (e->name && !(r->name = dup_n(e->name, strlen(e->name)))) {
        nk_expr_free(r);
        return NULL;
    }
    for (i = 0; i < e->nargs; i++) {
        if (!e->args[i])
            continue;
        r->args[i] = nk_expr_clone(e->args[i]);
        if (!r->args[i]) {
            nk_expr_free(r);
            return NULL;
        }
    }
    return r;
}

nk_expr *nk_expr_num(double v) { return mk_num(v, 0, 0); }

nk_expr *nk_expr_var(const char *name)
{
    if (!name)
        return NULL;
    return mk_var(name, strlen(name), 0, 0);
}

nk_expr *nk_expr_neg(nk_expr *a) { return mk1(NK_EX_NEG, a, 0, 0); }
nk_expr *nk_expr_not(nk_expr *a) { return mk1(NK_EX_NOT, a, 0, 0); }

nk_expr *nk_expr_bin(nk_ex_op op, nk_expr *a, nk_expr *b)
{
    if ((int)op < (int)NK_OP_ADD || (int)op > (int)NK_OP_OR) {
        nk_expr_free(a);
        nk_expr_free(b);
        return NULL;
    }
    return mk2(op, a, b, 0, 0);
}

nk_expr *nk_expr_cond(nk_expr *c, nk_expr *a, nk_expr *b) { return mk3(c, a, b, 0, 0); }

nk_expr *nk_expr_call(const char *name, nk_expr **args, int nargs)
{
    int i;
    if (!name || nargs < 0 || (nargs > 0 && !args)) {
        for (i = 0; args && i < nargs; i++)
            nk_expr_free(args[i]);
        return NULL;
    }
    return mk_call(name, args, nargs, 0, 0);
}

/* ======================================================================
 * known functions
 * ====================================================================== */

typedef struct {
    const char *name;
    int arity;
    const char *cname; /* spelling in generated C */
} fn_info;

static const fn_info FUNCS[] = {
    {"exp", 1, "nk_exp"},     {"log", 1, "nk_log"},       {"log10", 1, "nk_log10"},
    {"sqrt", 1, "nk_sqrt"},   {"sin", 1, "nk_sin"},       {"cos", 1, "nk_cos"},
    {"tan", 1, "nk_tan"},     {"tanh", 1, "nk_tanh"},     {"sinh", 1, "nk_sinh"},
    {"cosh", 1, "nk_cosh"},   {"abs", 1, "nk_fabs"},      {"floor", 1, "nk_floor"},
    {"ceil", 1, "nk_ceil"},   {"sign", 1, "nk_sign"},     {"expm1", 1, "nk_expm1"},
    {"log1p", 1, "nk_log1p"}, {"pow", 2, "nk_pow"},       {"min", 2, "nk_fmin"},
    {"max", 2, "nk_fmax"},    {"clip", 3, "nk_clip"},     {"rand", 0, "NK_RAND"},
    {"randn", 0, "NK_RANDN"}, {"exprel", 1, "nk_exprel"},
};
#define NFUNCS ((int)(sizeof FUNCS / sizeof FUNCS[0]))

static const fn_info *find_fn_n(const char *s, size_t n)
{
    int i;
    for (i = 0; i < NFUNCS; i++)
        if (strlen(FUNCS[i].name) == n && memcmp(FUNCS[i].name, s, n) == 0)
            return &FUNCS[i];
    return NULL;
}

static const fn_info *find_fn(const char *s) { return s ? find_fn_n(s, strlen(s)) : NULL; }

int nk_expr_func_arity(const char *name)
{
    const fn_info *f = find_fn(name);
    return f ? f->arity : -1;
}

static int is_random_call(const nk_expr *e)
{
    return e->kind == NK_EX_CALL && e->name && (strcmp(e->name, "rand") == 0 || strcmp(e->name, "randn") == 0);
}

static int contains_random(const nk_expr *e)
{
    int i;
    if (!e)
        return 0;
    if (is_random_call(e))
        return 1;
    for (i = 0; i < e->nargs; i++)
        if (contains_random(e->args[i]))
            return 1;
    return 0;
}

/* Flags accepted after statements. */
static const char *const ODE_FLAGS[] = {"unless refractory"};
static const char *const ASSIGN_FLAGS[] = {"constant over dt"};

/* ======================================================================
 * error messages with a caret
 * ====================================================================== */

#define WIN 100 /* code points of a long line shown around the caret */

/* Writes "[line L, ]column C: MSG\n  <line text>\n  <caret>" for the byte
 * offset pos of src into err. */
static void format_at(char *err, size_t errlen, const char *src, size_t pos, int line, int multi, const char *msg)
{
    char disp[WIN * 4 + 16], caret[WIN + 16];
    size_t ls = pos, le, i;
    int ncp = 0, ci = 0, ws = 0, idx, dk = 0, ck = 0;

    if (!err || errlen == 0)
        return;
    while (ls > 0 && src[ls - 1] != '\n')
        ls--;
    le = ls;
    while (src[le] && src[le] != '\n')
        le++;
    if (le > ls && src[le - 1] == '\r')
        le--;
    for (i = ls; i < le; i++) {
        if (((unsigned char)src[i] & 0xC0) != 0x80) {
            if (i < pos)
                ci++;
            ncp++;
        }
    }
    if (pos > le)
        ci = ncp;
    if (ncp > WIN && ci > WIN - 30)
        ws = ci - (WIN - 40);
    if (ws > 0) {
        memcpy(disp, "...", 3);
        dk = 3;
        memcpy(caret, "   ", 3);
        ck = 3;
    }
    /* walk code points */
    idx = -1;
    i = ls;
    while (i < le) {
        size_t j = i + 1, vl;
        while (j < le && ((unsigned char)src[j] & 0xC0) == 0x80)
            j++;
        idx++;
        if (((unsigned char)src[i] & 0xC0) == 0x80) {
            /* stray continuation bytes at the line start belong to no code point */
            idx--;
            i = j;
            continue;
        }
        if (idx >= ws && idx < ws + WIN) {
            unsigned char c = (unsigned char)src[i];
            vl = utf8_valid_len((const unsigned char *)src + i, j - i);
            if (c == '\t')
                disp[dk++] = '\t';
            else if (vl == j - i && vl > 1) {
                memcpy(disp + dk, src + i, vl);
                dk += (int)vl;
            } else if (vl == 1 && j - i == 1 && c >= 0x20 && c != 0x7f)
                disp[dk++] = (char)c;
            else
                disp[dk++] = '?';
            if (idx < ci)
                caret[ck++] = c == '\t' ? '\t' : ' ';
        }
        i = j;
    }
    if (ws + WIN < ncp) {
        memcpy(disp + dk, "...", 3);
        dk += 3;
    }
    disp[dk] = '\0';
    caret[ck++] = '^';
    caret[ck] = '\0';
    if (multi || line > 1)
        snprintf(err, errlen, "line %d, column %d: %s\n  %s\n  %s", line, ci + 1, msg, disp, caret);
    else
        snprintf(err, errlen, "column %d: %s\n  %s\n  %s", ci + 1, msg, disp, caret);
}

/* 1 if src has non-blank text after its first newline. */
static int is_multiline(const char *src)
{
    const char *nl = strchr(src, '\n');
    if (!nl)
        return 0;
    for (nl++; *nl; nl++)
        if (!is_space((unsigned char)*nl))
            return 1;
    return 0;
}

int nk_src_error(const char *src, int line, int col, char *err, size_t errlen, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    size_t pos = 0;
    int l = 1, c = 1;

    if (!err || errlen == 0)
        return NK_EXPR_ESYNTAX;
    msg[0] = '\0';
    if (fmt) {
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
    }
    if (!src) {
        set_err(err, errlen, "%s", msg);
        return NK_EXPR_ESYNTAX;
    }
    while (src[pos] && l < line) {
        if (src[pos] == '\n')
            l++;
        pos++;
    }
    while (src[pos] && src[pos] != '\n' && c < col) {
        pos++;
        while (((unsigned char)src[pos] & 0xC0) == 0x80)
            pos++;
        c++;
    }
    format_at(err, errlen, src, pos, l, is_multiline(src), msg);
    return NK_EXPR_ESYNTAX;
}

/* ======================================================================
 * lexer
 * ====================================================================== */

enum { T_END, T_NUM, T_IDENT, T_OP, T_ERR };
enum {
    O_PLUS, O_MINUS, O_STAR, O_SLASH, O_POW, O_LP, O_RP, O_COMMA, O_QUEST, O_COLON,
    O_LT, O_LE, O_GT, O_GE, O_EQ, O_NE, O_NOT, O_AND, O_OR,
    O_ASSIGN, O_ADDEQ, O_SUBEQ, O_MULEQ, O_DIVEQ, O_SEMI
};

typedef struct {
    size_t pos;
    int line, col;
} lpos;

typedef struct {
    int type, op;
    size_t start, end; /* byte range in src */
    int line, col;     /* of start */
    int space_before;
} token;

typedef struct {
    const char *src;
    size_t end; /* end of the range being parsed */
    lpos at;    /* lexer cursor */
    lpos last_end; /* end of the last real token: where "end of input" is */
    token cur;
    char *err;
    size_t errlen;
    int failed, rc;
    int depth;
    int stmt_mode;
    int multi;
} P;

static void adv(const char *src, lpos *a, size_t n)
{
    while (n--) {
        unsigned char c = (unsigned char)src[a->pos++];
        if (c == '\n') {
            a->line++;
            a->col = 1;
        } else if ((c & 0xC0) != 0x80)
            a->col++;
    }
}

static void perr_at(P *p, size_t pos, int line, const char *fmt, ...) NK_PRINTF(4, 5);
static void perr_at(P *p, size_t pos, int line, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    if (p->failed)
        return;
    p->failed = 1;
    p->rc = NK_EXPR_ESYNTAX;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    format_at(p->err, p->errlen, p->src, pos, line, p->multi, msg);
}

static void oom(P *p)
{
    if (p->failed)
        return;
    p->failed = 1;
    p->rc = NK_EXPR_ENOMEM;
    set_err(p->err, p->errlen, "out of memory");
}

static void lex(P *p)
{
    const char *s = p->src;
    token t;
    int skipped = 0;
    unsigned char c;

    if (p->cur.type == T_ERR)
        return;
    while (p->at.pos < p->end) {
        c = (unsigned char)s[p->at.pos];
        if (is_space(c)) {
            adv(s, &p->at, 1);
            skipped = 1;
        } else if (c == '#') {
            while (p->at.pos < p->end && s[p->at.pos] != '\n')
                adv(s, &p->at, 1);
            skipped = 1;
        } else
            break;
    }
    memset(&t, 0, sizeof t);
    t.space_before = skipped;
    if (p->at.pos >= p->end) {
        t.type = T_END;
        t.start = t.end = p->last_end.pos;
        t.line = p->last_end.line;
        t.col = p->last_end.col;
        p->cur = t;
        return;
    }
    t.start = p->at.pos;
    t.line = p->at.line;
    t.col = p->at.col;
    c = (unsigned char)s[t.start];
    {
        size_t i = t.start, e = p->end;
        if (is_digit(c) || (c == '.' && i + 1 < e && is_digit((unsigned char)s[i + 1]))) {
            int bad = 0;
            while (i < e && is_digit((unsigned char)s[i]))
                i++;
            if (i < e && s[i] == '.') {
                i++;
                while (i < e && is_digit((unsigned char)s[i]))
                    i++;
            }
            if (i < e && (s[i] == 'e' || s[i] == 'E')) {
                size_t j = i + 1;
                if (j < e && (s[j] == '+' || s[j] == '-'))
                    j++;
                if (j < e && is_digit((unsigned char)s[j])) {
                    while (j < e && is_digit((unsigned char)s[j]))
                        j++;
                } else
                    bad = 1;
                i = j;
            }
            if (i < e && (is_alnum_((unsigned char)s[i]) || s[i] == '.')) {
                bad = 1;
                while (i < e && (is_alnum_((unsigned char)s[i]) || s[i] == '.'))
                    i++;
            }
            if (bad) {
                size_t n = i - t.start;
                perr_at(p, t.start, t.line, "number '%.*s%s' is malformed", (int)(n > 40 ? 40 : n), s + t.start,
                        n > 40 ? "..." : "");
                p->cur.type = T_ERR;
                return;
            }
            t.type = T_NUM;
            t.end = i;
        } else if (is_alpha_(c)) {
            size_t n;
            while (i < e && is_alnum_((unsigned char)s[i]))
                i++;
            t.end = i;
            n = i - t.start;
            t.type = T_IDENT;
            t.op = -1;
            if (n == 3 && memcmp(s + t.start, "and", 3) == 0)
                t.op = O_AND;
            else if (n == 2 && memcmp(s + t.start, "or", 2) == 0)
                t.op = O_OR;
            else if (n == 3 && memcmp(s + t.start, "not", 3) == 0)
                t.op = O_NOT;
            if (t.op >= 0)
                t.type = T_OP;
        } else {
            /* two-character operators first, then single characters */
            static const char two[][3] = {"+=", "-=", "*=", "/=", "**", "<=", ">=", "==", "!=", "&&", "||"};
            static const int two_op[] = {O_ADDEQ, O_SUBEQ, O_MULEQ, O_DIVEQ, O_POW, O_LE, O_GE, O_EQ, O_NE, O_AND, O_OR};
            static const char one[] = "+-*/^(),?:;<>=!";
            static const int one_op[] = {O_PLUS, O_MINUS, O_STAR, O_SLASH, O_POW, O_LP, O_RP, O_COMMA,
                                         O_QUEST, O_COLON, O_SEMI, O_LT, O_GT, O_ASSIGN, O_NOT};
            int len = 1, op = -1;
            size_t k;
            t.type = T_OP;
            if (i + 1 < e)
                for (k = 0; k < sizeof two / sizeof two[0]; k++)
                    if (s[i] == two[k][0] && s[i + 1] == two[k][1]) {
                        op = two_op[k];
                        len = 2;
                        break;
                    }
            if (op < 0 && c != 0) {
                const char *q = strchr(one, c);
                if (q)
                    op = one_op[q - one];
            }
            if (op < 0) {
                size_t vl = utf8_valid_len((const unsigned char *)s + i, e - i);
                if (c >= 0x21 && c < 0x7f)
                    perr_at(p, i, t.line, "unexpected character '%c'", c);
                else if (vl > 1)
                    perr_at(p, i, t.line, "unexpected character '%.*s'", (int)vl, s + i);
                else
                    perr_at(p, i, t.line, "unexpected byte 0x%02X", (unsigned)c);
                p->cur.type = T_ERR;
                return;
            }
            t.op = op;
            t.end = i + (size_t)len;
        }
    }
    adv(s, &p->at, t.end - t.start);
    p->last_end = p->at;
    p->cur = t;
}

static int is_op(const P *p, int op) { return p->cur.type == T_OP && p->cur.op == op; }

/* Describes a token for messages: "end of input" or its quoted text. */
static void tok_desc(const P *p, const token *t, char *buf, size_t n)
{
    size_t len;
    if (t->type == T_END) {
        snprintf(buf, n, "end of input");
        return;
    }
    len = t->end - t->start;
    snprintf(buf, n, "'%.*s%s'", (int)(len > 32 ? 32 : len), p->src + t->start, len > 32 ? "..." : "");
}

static void perr_tok(P *p, const token *t, const char *fmt, ...) NK_PRINTF(3, 4);
static void perr_tok(P *p, const token *t, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    if (p->failed)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    perr_at(p, t->start, t->line, "%s", msg);
}

static void unexpected(P *p)
{
    char d[64];
    if (p->failed)
        return;
    if (p->cur.type == T_END) {
        perr_tok(p, &p->cur, "expected an expression");
        return;
    }
    tok_desc(p, &p->cur, d, sizeof d);
    if (!p->stmt_mode && is_op(p, O_ASSIGN))
        perr_tok(p, &p->cur, "unexpected %s (use '==' to compare)", d);
    else
        perr_tok(p, &p->cur, "unexpected %s", d);
}

static int expect(P *p, int op, const char *what)
{
    char d[64];
    if (is_op(p, op)) {
        lex(p);
        return 1;
    }
    if (!p->failed) {
        tok_desc(p, &p->cur, d, sizeof d);
        perr_tok(p, &p->cur, "expected %s but found %s", what, d);
    }
    return 0;
}

/* ======================================================================
 * expression parser (recursive descent; *h receives the tree height)
 * ====================================================================== */

static nk_expr *parse_cond(P *p, int *h);
static nk_expr *parse_unary(P *p, int *h);

static int enter(P *p)
{
    if (++p->depth > NK_EXPR_MAX_DEPTH) {
        perr_tok(p, &p->cur, "expression nested too deeply");
        return 0;
    }
    return 1;
}

static int height_ok(P *p, int h, const token *t)
{
    if (h > NK_EXPR_MAX_HEIGHT) {
        perr_tok(p, t, "expression too complex");
        return 0;
    }
    return 1;
}

static int imax(int a, int b) { return a > b ? a : b; }

/* Combines left and right into a BIN node at operator token t. */
static nk_expr *join(P *p, nk_ex_op op, nk_expr *a, int ha, nk_expr *b, int hb, const token *t, int *h)
{
    nk_expr *e;
    if (!a || !b) {
        nk_expr_free(a);
        nk_expr_free(b);
        return NULL;
    }
    *h = 1 + imax(ha, hb);
    if (!height_ok(p, *h, t)) {
        nk_expr_free(a);
        nk_expr_free(b);
        return NULL;
    }
    e = mk2(op, a, b, t->line, t->col);
    if (!e)
        oom(p);
    return e;
}

/* In statements, 'NAME (words)' at the end (or before ':') is a flag group,
 * not a call. Returns the offset just after ')' if src[pos] == '(' opens a
 * group of words, spaces and commas, else 0. */
static size_t flag_group(const char *s, size_t pos, size_t end)
{
    size_t i = pos + 1;
    int word = 0;
    if (pos >= end || s[pos] != '(')
        return 0;
    while (i < end && s[i] != ')') {
        unsigned char c = (unsigned char)s[i];
        if (is_alnum_(c))
            word = 1;
        else if (c != ' ' && c != '\t' && c != ',')
            return 0;
        i++;
    }
    if (i >= end || !word)
        return 0;
    return i + 1;
}

/* Copies the comma-separated item s[a..b) with spaces collapsed into out. */
static void norm_flag(const char *s, size_t a, size_t b, char *out, size_t n)
{
    size_t k = 0;
    int sp = 0;
    for (; a < b; a++) {
        char c = s[a];
        if (c == ' ' || c == '\t') {
            sp = k > 0;
            continue;
        }
        if (sp && k + 1 < n)
            out[k++] = ' ';
        sp = 0;
        if (k + 1 < n)
            out[k++] = c;
    }
    out[k] = '\0';
}

static int known_flag(const char *f)
{
    size_t i;
    for (i = 0; i < sizeof ODE_FLAGS / sizeof *ODE_FLAGS; i++)
        if (strcmp(f, ODE_FLAGS[i]) == 0)
            return 1;
    for (i = 0; i < sizeof ASSIGN_FLAGS / sizeof *ASSIGN_FLAGS; i++)
        if (strcmp(f, ASSIGN_FLAGS[i]) == 0)
            return 1;
    return 0;
}

static int looks_like_flags(const P *p, const token *lp)
{
    size_t after = flag_group(p->src, lp->start, p->end), i, a;
    char buf[128];
    if (!after)
        return 0;
    i = after;
    while (i < p->end && is_space((unsigned char)p->src[i]))
        i++;
    if (i < p->end && p->src[i] != ':')
        return 0;
    if (lp->space_before)
        return 1;
    /* written right after the name: only if every item is a known flag */
    a = lp->start + 1;
    for (i = a; i < after; i++) {
        if (p->src[i] == ',' || p->src[i] == ')') {
            norm_flag(p->src, a, i, buf, sizeof buf);
            if (!known_flag(buf))
                return 0;
            a = i + 1;
        }
    }
    return 1;
}

static nk_expr *parse_call(P *p, const token *nt, const fn_info *fn, int *h)
{
    nk_expr **args = NULL, *e;
    int n = 0, cap = 0, hmax = 0, i;
    size_t nlen = nt->end - nt->start;

    if (!fn) {
        const char *cands[NFUNCS];
        char name[64];
        const char *sug;
        for (i = 0; i < NFUNCS; i++)
            cands[i] = FUNCS[i].name;
        snprintf(name, sizeof name, "%.*s", (int)(nlen > 63 ? 63 : nlen), p->src + nt->start);
        sug = nlen < 64 ? nk_suggest(name, cands, NFUNCS) : NULL;
        if (sug)
            perr_tok(p, nt, "unknown function '%s' (did you mean '%s'?)", name, sug);
        else
            perr_tok(p, nt, "unknown function '%s%s'", name, nlen > 63 ? "..." : "");
        return NULL;
    }
    lex(p); /* '(' */
    if (!is_op(p, O_RP)) {
        for (;;) {
            int ha;
            nk_expr *a = parse_cond(p, &ha);
            if (!a)
                goto fail;
            if (n == cap) {
                int nc = cap ? cap * 2 : 4;
                nk_expr **na = realloc(args, (size_t)nc * sizeof *na);
                if (!na) {
                    nk_expr_free(a);
                    oom(p);
                    goto fail;
                }
                args = na;
                cap = nc;
            }
            args[n++] = a;
            hmax = imax(hmax, ha);
            if (is_op(p, O_COMMA)) {
                lex(p);
                continue;
            }
            break;
        }
    }
    if (!expect(p, O_RP, "')'"))
        goto fail;
    if (n != fn->arity) {
        perr_tok(p, nt, "function '%s' takes %d argument%s, got %d", fn->name, fn->arity, fn->arity == 1 ? "" : "s", n);
        goto fail;
    }
    *h = 1 + hmax;
    if (!height_ok(p, *h, nt))
        goto fail;
    e = mk_call(fn->name, args, n, nt->line, nt->col);
    free(args);
    if (!e)
        oom(p);
    return e;
fail:
    for (i = 0; i < n; i++)
        nk_expr_free(args[i]);
    free(args);
    return NULL;
}

static nk_expr *parse_primary(P *p, int *h)
{
    token t = p->cur;
    nk_expr *e;
    *h = 1;
    switch (t.type) {
    case T_NUM: {
        double v = 0;
        int r = read_double(p->src + t.start, t.end - t.start, &v);
        if (r == NK_EXPR_ENOMEM) {
            oom(p);
            return NULL;
        }
        if (r != 0 || !isfinite(v)) {
            size_t n = t.end - t.start;
            perr_tok(p, &t, "number '%.*s%s' is %s", (int)(n > 40 ? 40 : n), p->src + t.start, n > 40 ? "..." : "",
                     r != 0 ? "malformed" : "out of range");
            return NULL;
        }
        e = mk_num(v, t.line, t.col);
        if (!e)
            oom(p);
        lex(p);
        return e;
    }
    case T_IDENT:
        lex(p);
        if (is_op(p, O_LP)) {
            const fn_info *fn = find_fn_n(p->src + t.start, t.end - t.start);
            if (fn || !p->stmt_mode || !looks_like_flags(p, &p->cur))
                return parse_call(p, &t, fn, h);
        }
        e = mk_var(p->src + t.start, t.end - t.start, t.line, t.col);
        if (!e)
            oom(p);
        return e;
    case T_OP:
        if (t.op == O_LP) {
            lex(p);
            e = parse_cond(p, h);
            if (!e)
                return NULL;
            if (!expect(p, O_RP, "')'")) {
                nk_expr_free(e);
                return NULL;
            }
            return e;
        }
        unexpected(p);
        return NULL;
    case T_END:
        unexpected(p);
        return NULL;
    default:
        return NULL;
    }
}

static nk_expr *parse_pow(P *p, int *h)
{
    int hb, he;
    nk_expr *b = parse_primary(p, &hb), *x;
    token t;
    if (!b || !is_op(p, O_POW)) {
        *h = hb;
        return b;
    }
    t = p->cur;
    lex(p);
    if (!enter(p)) {
        p->depth--;
        nk_expr_free(b);
        return NULL;
    }
    x = parse_unary(p, &he);
    p->depth--;
    return join(p, NK_OP_POW, b, hb, x, he, &t, h);
}

static nk_expr *parse_unary(P *p, int *h)
{
    if (is_op(p, O_MINUS) || is_op(p, O_PLUS)) {
        token t = p->cur;
        nk_expr *a, *e;
        int ha;
        lex(p);
        if (!enter(p)) {
            p->depth--;
            return NULL;
        }
        a = parse_unary(p, &ha);
        p->depth--;
        if (!a)
            return NULL;
        if (t.op == O_PLUS) {
            *h = ha;
            return a;
        }
        *h = ha + 1;
        if (!height_ok(p, *h, &t)) {
            nk_expr_free(a);
            return NULL;
        }
        e = mk1(NK_EX_NEG, a, t.line, t.col);
        if (!e)
            oom(p);
        return e;
    }
    return parse_pow(p, h);
}

static nk_expr *parse_mul(P *p, int *h)
{
    int ha, hb;
    nk_expr *a = parse_unary(p, &ha);
    while (a && (is_op(p, O_STAR) || is_op(p, O_SLASH))) {
        token t = p->cur;
        nk_expr *b;
        lex(p);
        b = parse_unary(p, &hb);
        a = join(p, t.op == O_STAR ? NK_OP_MUL : NK_OP_DIV, a, ha, b, hb, &t, &ha);
    }
    *h = ha;
    return a;
}

static nk_expr *parse_add(P *p, int *h)
{
    int ha, hb;
    nk_expr *a = parse_mul(p, &ha);
    while (a && (is_op(p, O_PLUS) || is_op(p, O_MINUS))) {
        token t = p->cur;
        nk_expr *b;
        lex(p);
        b = parse_mul(p, &hb);
        a = join(p, t.op == O_PLUS ? NK_OP_ADD : NK_OP_SUB, a, ha, b, hb, &t, &ha);
    }
    *h = ha;
    return a;
}

static int cmp_op(const P *p, nk_ex_op *op)
{
    if (p->cur.type != T_OP)
        return 0;
    switch (p->cur.op) {
    case O_LT: *op = NK_OP_LT; return 1;
    case O_LE: *op = NK_OP_LE; return 1;
    case O_GT: *op = NK_OP_GT; return 1;
    case O_GE: *op = NK_OP_GE; return 1;
    case O_EQ: *op = NK_OP_EQ; return 1;
    case O_NE: *op = NK_OP_NE; return 1;
    default: return 0;
    }
}

static nk_expr *parse_cmp(P *p, int *h)
{
    int ha, hb;
    nk_ex_op op;
    nk_expr *a = parse_add(p, &ha), *b;
    token t;
    if (!a || !cmp_op(p, &op)) {
        *h = ha;
        return a;
    }
    t = p->cur;
    lex(p);
    b = parse_add(p, &hb);
    a = join(p, op, a, ha, b, hb, &t, h);
    if (a && cmp_op(p, &op)) {
        perr_tok(p, &p->cur, "comparisons cannot be chained (combine them with 'and')");
        nk_expr_free(a);
        return NULL;
    }
    return a;
}

static nk_expr *parse_not(P *p, int *h)
{
    if (is_op(p, O_NOT)) {
        token t = p->cur;
        nk_expr *a, *e;
        int ha;
        lex(p);
        if (!enter(p)) {
            p->depth--;
            return NULL;
        }
        a = parse_not(p, &ha);
        p->depth--;
        if (!a)
            return NULL;
        *h = ha + 1;
        if (!height_ok(p, *h, &t)) {
            nk_expr_free(a);
            return NULL;
        }
        e = mk1(NK_EX_NOT, a, t.line, t.col);
        if (!e)
            oom(p);
        return e;
    }
    return parse_cmp(p, h);
}

static nk_expr *parse_and(P *p, int *h)
{
    int ha, hb;
    nk_expr *a = parse_not(p, &ha);
    while (a && is_op(p, O_AND)) {
        token t = p->cur;
        nk_expr *b;
        lex(p);
        b = parse_not(p, &hb);
        a = join(p, NK_OP_AND, a, ha, b, hb, &t, &ha);
    }
    *h = ha;
    return a;
}

static nk_expr *parse_or(P *p, int *h)
{
    int ha, hb;
    nk_expr *a = parse_and(p, &ha);
    while (a && is_op(p, O_OR)) {
        token t = p->cur;
        nk_expr *b;
        lex(p);
        b = parse_and(p, &hb);
        a = join(p, NK_OP_OR, a, ha, b, hb, &t, &ha);
    }
    *h = ha;
    return a;
}

static nk_expr *parse_cond_in(P *p, int *h)
{
    int hc, ha, hb;
    nk_expr *c = parse_or(p, &hc), *a, *b, *e;
    token t;
    if (!c || !is_op(p, O_QUEST)) {
        *h = hc;
        return c;
    }
    t = p->cur;
    lex(p);
    a = parse_cond(p, &ha);
    if (!a || !expect(p, O_COLON, "':'")) {
        nk_expr_free(c);
        nk_expr_free(a);
        return NULL;
    }
    b = parse_cond(p, &hb);
    if (!b) {
        nk_expr_free(c);
        nk_expr_free(a);
        return NULL;
    }
    *h = 1 + imax(hc, imax(ha, hb));
    if (!height_ok(p, *h, &t)) {
        nk_expr_free(c);
        nk_expr_free(a);
        nk_expr_free(b);
        return NULL;
    }
    e = mk3(c, a, b, t.line, t.col);
    if (!e)
        oom(p);
    return e;
}

static nk_expr *parse_cond(P *p, int *h)
{
    nk_expr *e = NULL;
    *h = 0;
    if (enter(p))
        e = parse_cond_in(p, h);
    p->depth--;
    return e;
}

static void p_init(P *p, const char *src, char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    p->src = src;
    p->err = err;
    p->errlen = errlen;
    p->multi = is_multiline(src);
    p->cur.type = T_END;
}

nk_expr *nk_expr_parse(const char *src, char *err, size_t errlen)
{
    P p;
    nk_expr *e;
    int h;
    if (err && errlen)
        err[0] = '\0';
    if (!src) {
        set_err(err, errlen, "no expression given");
        return NULL;
    }
    p_init(&p, src, err, errlen);
    p.end = strlen(src);
    p.at.line = p.at.col = 1;
    p.last_end = p.at;
    lex(&p);
    e = parse_cond(&p, &h);
    if (!p.failed && p.cur.type != T_END)
        unexpected(&p);
    if (p.failed) {
        nk_expr_free(e);
        return NULL;
    }
    return e;
}

/* ======================================================================
 * statements
 * ====================================================================== */

static void stmt_clear(nk_stmt *st)
{
    int i;
    free(st->target);
    nk_expr_free(st->rhs);
    free(st->unit);
    for (i = 0; i < st->nflags; i++)
        free(st->flags[i]);
    free(st->flags);
    free(st->text);
    memset(st, 0, sizeof *st);
}

void nk_stmts_free(nk_stmt_list *l)
{
    int i;
    if (!l)
        return;
    for (i = 0; i < l->n; i++)
        stmt_clear(&l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

/* The cursor position of byte offset pos, walking forward from a. */
static lpos lpos_at(const P *p, lpos a, size_t pos)
{
    if (pos > a.pos)
        adv(p->src, &a, pos - a.pos);
    return a;
}

/* Moves the lexer to byte offset pos (forward), marks the end of the last
 * consumed text at text_end, and reads the next token. */
static void skip_to(P *p, size_t text_end, size_t pos)
{
    p->at = lpos_at(p, p->at, text_end);
    p->last_end = p->at;
    p->at = lpos_at(p, p->at, pos);
    lex(p);
}

static void list_flags(const char *const *fl, size_t n, char *buf, size_t len)
{
    size_t i, k = 0;
    buf[0] = '\0';
    for (i = 0; i < n && k < len; i++) {
        int w = snprintf(buf + k, len - k, "%s'%s'", i ? ", " : "", fl[i]);
        if (w < 0)
            break;
        k += (size_t)w;
    }
}

/* Parses the flag group whose '(' is the current token. */
static int parse_flags(P *p, nk_stmt *st)
{
    const char *const *known = st->kind == NK_ST_ODE ? ODE_FLAGS : ASSIGN_FLAGS;
    size_t nknown = st->kind == NK_ST_ODE ? sizeof ODE_FLAGS / sizeof *ODE_FLAGS
                                          : sizeof ASSIGN_FLAGS / sizeof *ASSIGN_FLAGS;
    token lp = p->cur;
    size_t after = flag_group(p->src, lp.start, p->end), a, i;
    lpos base = p->at; /* just after '(' */

    if (!after) {
        unexpected(p);
        return -1;
    }
    a = lp.end;
    for (i = a; i < after; i++) {
        char f[128], kn[256];
        size_t j, q;
        char **nf;
        if (p->src[i] != ',' && p->src[i] != ')')
            continue;
        norm_flag(p->src, a, i, f, sizeof f);
        q = a;
        while (q < i && (p->src[q] == ' ' || p->src[q] == '\t'))
            q++;
        if (!f[0]) {
            lpos at = lpos_at(p, base, q);
            perr_at(p, q, at.line, "expected a flag name");
            return -1;
        }
        for (j = 0; j < nknown; j++)
            if (strcmp(f, known[j]) == 0)
                break;
        if (j == nknown) {
            lpos at = lpos_at(p, base, q);
            list_flags(known, nknown, kn, sizeof kn);
            perr_at(p, q, at.line, "unknown flag '%s' (known flags: %s)", f, kn);
            return -1;
        }
        for (j = 0; j < (size_t)st->nflags; j++)
            if (strcmp(st->flags[j], f) == 0) {
                lpos at = lpos_at(p, base, q);
                perr_at(p, q, at.line, "flag '%s' given twice", f);
                return -1;
            }
        nf = realloc(st->flags, (size_t)(st->nflags + 1) * sizeof *nf);
        if (!nf) {
            oom(p);
            return -1;
        }
        st->flags = nf;
        if (!(st->flags[st->nflags] = dup_n(f, strlen(f)))) {
            oom(p);
            return -1;
        }
        st->nflags++;
        a = i + 1;
    }
    skip_to(p, after, after);
    return 0;
}

/* Parses the unit after the current ':' token: text up to a trailing flag
 * group or the end of the statement. */
static int parse_unit(P *p, nk_stmt *st)
{
    token colon = p->cur;
    size_t s = colon.end, e = p->end, i, a, b;

    for (i = s; i < p->end; i++) {
        if (p->src[i] == '(' && flag_group(p->src, i, p->end) == p->end) {
            size_t k = i;
            while (k > s && (p->src[k - 1] == ' ' || p->src[k - 1] == '\t'))
                k--;
            if (k == s || k < i) {
                e = i;
                break;
            }
        }
    }
    a = s;
    while (a < e && is_space((unsigned char)p->src[a]))
        a++;
    b = e;
    while (b > a && is_space((unsigned char)p->src[b - 1]))
        b--;
    if (a == b) {
        lpos at = lpos_at(p, p->at, s);
        perr_at(p, s, at.line, "expected a unit after ':'");
        return -1;
    }
    for (i = a; i < b; i++) {
        unsigned char c = (unsigned char)p->src[i];
        if (c < 0x20 || c == 0x7f || strchr(":=,;?<>!&|#\"'", c)) {
            lpos at = lpos_at(p, p->at, i);
            if (c > 0x20 && c < 0x7f)
                perr_at(p, i, at.line, "unexpected '%c' in the unit", c);
            else
                perr_at(p, i, at.line, "unexpected byte 0x%02X in the unit", (unsigned)c);
            return -1;
        }
    }
    st->unit = dup_n(p->src + a, b - a);
    if (!st->unit) {
        oom(p);
        return -1;
    }
    skip_to(p, b, e);
    return 0;
}

static int parse_stmt(P *p, nk_stmt *st)
{
    token first;
    char d[64];
    int h, have_flags = 0;
    size_t nlen;

    lex(p);
    first = p->cur;
    if (first.type != T_IDENT) {
        if (first.type != T_ERR) {
            tok_desc(p, &first, d, sizeof d);
            perr_tok(p, &first, "expected 'NAME = ...' or 'dNAME/dt = ...' but found %s", d);
        }
        return -1;
    }
    nlen = first.end - first.start;
    lex(p);
    st->kind = NK_ST_ASSIGN;
    if (nlen >= 2 && p->src[first.start] == 'd' && is_op(p, O_SLASH)) {
        lpos at = p->at, le = p->last_end;
        token slash = p->cur;
        lex(p);
        if (p->cur.type == T_IDENT && p->cur.end - p->cur.start == 2 && memcmp(p->src + p->cur.start, "dt", 2) == 0) {
            lex(p);
            if (!is_op(p, O_ASSIGN)) {
                if (p->cur.type != T_ERR)
                    perr_tok(p, &p->cur, "'%.*s/dt' must be followed by '='", (int)nlen, p->src + first.start);
                return -1;
            }
            st->kind = NK_ST_ODE;
            st->op = '=';
            st->target = dup_n(p->src + first.start + 1, nlen - 1);
        } else if (p->cur.type != T_ERR) {
            p->at = at;
            p->last_end = le;
            p->cur = slash;
        }
    }
    if (p->failed)
        return -1;
    if (st->kind == NK_ST_ASSIGN) {
        int op = p->cur.type == T_OP ? p->cur.op : -1;
        switch (op) {
        case O_ASSIGN: st->op = '='; break;
        case O_ADDEQ: st->op = '+'; break;
        case O_SUBEQ: st->op = '-'; break;
        case O_MULEQ: st->op = '*'; break;
        case O_DIVEQ: st->op = '/'; break;
        default:
            if (p->cur.type != T_ERR) {
                tok_desc(p, &p->cur, d, sizeof d);
                perr_tok(p, &p->cur, "expected '=', '+=', '-=', '*=' or '/=' after '%.*s' but found %s",
                         (int)(nlen > 32 ? 32 : nlen), p->src + first.start, d);
            }
            return -1;
        }
        st->target = dup_n(p->src + first.start, nlen);
    }
    if (!st->target) {
        oom(p);
        return -1;
    }
    lex(p);
    st->rhs = parse_cond(p, &h);
    if (!st->rhs)
        return -1;
    while (!p->failed && p->cur.type != T_END) {
        if (st->op == '=' && is_op(p, O_COLON) && !st->unit) {
            if (parse_unit(p, st))
                return -1;
        } else if (st->op == '=' && is_op(p, O_LP) && !have_flags) {
            if (parse_flags(p, st))
                return -1;
            have_flags = 1;
        } else {
            unexpected(p);
            return -1;
        }
    }
    return p->failed ? -1 : 0;
}

int nk_stmts_parse(const char *src, nk_stmt_list *out, char *err, size_t errlen)
{
    P p;
    lpos c = {0, 1, 1};
    nk_stmt_list l = {NULL, 0};
    int cap = 0;

    if (err && errlen)
        err[0] = '\0';
    if (!out) {
        set_err(err, errlen, "no output list given");
        return NK_EXPR_EINVAL;
    }
    out->items = NULL;
    out->n = 0;
    if (!src) {
        set_err(err, errlen, "no source given");
        return NK_EXPR_EINVAL;
    }
    p_init(&p, src, err, errlen);
    p.stmt_mode = 1;
    for (;;) {
        size_t i = c.pos, e, b;
        lpos start;
        while (src[i] && src[i] != '\n' && src[i] != ';' && src[i] != '#')
            i++;
        e = i;
        if (src[i] == '#')
            while (src[i] && src[i] != '\n')
                i++;
        start = c;
        while (start.pos < e && is_space((unsigned char)src[start.pos]))
            adv(src, &start, 1);
        b = e;
        while (b > start.pos && is_space((unsigned char)src[b - 1]))
            b--;
        if (b > start.pos) {
            nk_stmt st;
            memset(&st, 0, sizeof st);
            p.end = b;
            p.at = start;
            p.last_end = start;
            p.cur.type = T_END;
            p.depth = 0;
            st.line = start.line;
            if (parse_stmt(&p, &st) == 0 && !(st.text = dup_n(src + start.pos, b - start.pos)))
                oom(&p);
            if (!p.failed && l.n == cap) {
                int nc = cap ? cap * 2 : 8;
                nk_stmt *ni = realloc(l.items, (size_t)nc * sizeof *ni);
                if (!ni)
                    oom(&p);
                else {
                    l.items = ni;
                    cap = nc;
                }
            }
            if (p.failed) {
                stmt_clear(&st);
                nk_stmts_free(&l);
                return p.rc ? p.rc : NK_EXPR_ESYNTAX;
            }
            l.items[l.n++] = st;
        }
        adv(src, &c, i - c.pos);
        if (!src[i])
            break;
        adv(src, &c, 1);
    }
    *out = l;
    return 0;
}

/* ======================================================================
 * queries
 * ====================================================================== */

int nk_expr_uses(const nk_expr *e, const char *name)
{
    int i;
    if (!e || !name)
        return 0;
    if (e->kind == NK_EX_VAR)
        return e->name && strcmp(e->name, name) == 0;
    for (i = 0; i < e->nargs; i++)
        if (nk_expr_uses(e->args[i], name))
            return 1;
    return 0;
}

int nk_expr_has_random(const nk_expr *e)
{
    return contains_random(e);
}

int nk_expr_is_boolean(const nk_expr *e)
{
    if (!e)
        return 0;
    switch (e->kind) {
    case NK_EX_NOT: return 1;
    case NK_EX_BIN: return e->op >= NK_OP_LT;
    case NK_EX_COND: return e->nargs == 3 && nk_expr_is_boolean(e->args[1]) && nk_expr_is_boolean(e->args[2]);
    default: return 0;
    }
}

int nk_expr_equal(const nk_expr *a, const nk_expr *b)
{
    int i;
    if (!a || !b)
        return a == b;
    if (a->kind != b->kind || a->nargs != b->nargs)
        return 0;
    switch (a->kind) {
    case NK_EX_NUM:
        if (!(a->num == b->num || (isnan(a->num) && isnan(b->num))) || signbit(a->num) != signbit(b->num))
            return 0;
        break;
    case NK_EX_BIN:
        if (a->op != b->op)
            return 0;
        break;
    case NK_EX_VAR:
    case NK_EX_CALL:
        if (!a->name || !b->name)
            return a->name == b->name;
        if (strcmp(a->name, b->name) != 0)
            return 0;
        break;
    default: break;
    }
    for (i = 0; i < a->nargs; i++)
        if (!nk_expr_equal(a->args[i], b->args[i]))
            return 0;
    return 1;
}

int nk_expr_walk_vars(const nk_expr *e, int (*fn)(const char *name, int line, int col, void *ud), void *ud)
{
    int i, r;
    if (!e || !fn)
        return 0;
    if (e->kind == NK_EX_VAR)
        return fn(e->name, e->line, e->col, ud);
    for (i = 0; i < e->nargs; i++)
        if ((r = nk_expr_walk_vars(e->args[i], fn, ud)) != 0)
            return r;
    return 0;
}

nk_expr *nk_expr_subst(const nk_expr *e, const char *name, const nk_expr *value)
{
    nk_expr *r;
    int i;
    if (!e || !name || !value)
        return NULL;
    if (e->kind == NK_EX_VAR && e->name && strcmp(e->name, name) == 0)
        return nk_expr_clone(value);
    r = node_new(e->kind, e->nargs, e->line, e->col);
    if (!r)
        return NULL;
    r->op = e->op;
    r->num = e->num;
    if (e->name && !(r->name = dup_n(e->name, strlen(e->name)))) {
        nk_expr_free(r);
        return NULL;
    }
    for (i = 0; i < e->nargs; i++) {
        if (!e->args[i])
            continue;
        if (!(r->args[i] = nk_expr_subst(e->args[i], name, value))) {
            nk_expr_free(r);
            return NULL;
        }
    }
    return r;
}

/* ======================================================================
 * simplifier: constructors that simplify as they build. Each takes
 * ownership of its operands (freed on failure; NULL operands give NULL).
 * ====================================================================== */

static int is_num(const nk_expr *e, double v) { return e && e->kind == NK_EX_NUM && e->num == v; }

/* Detaches the only child of a NEG/NOT node and frees the node. */
static nk_expr *take_child(nk_expr *e)
{
    nk_expr *c = e->args[0];
    e->args[0] = NULL;
    nk_expr_free(e);
    return c;
}

/* 1 if e is a number, or a product/quotient whose left operand is one
 * recursively: -(c*x) can then be written (-c)*x, exactly. */
static int absorbs_neg(const nk_expr *e)
{
    while (e->kind == NK_EX_BIN && e->nargs == 2 && (e->op == NK_OP_MUL || e->op == NK_OP_DIV))
        e = e->args[0];
    return e->kind == NK_EX_NUM;
}

static nk_expr *s_neg(nk_expr *a, int line, int col)
{
    if (!a)
        return NULL;
    if (absorbs_neg(a)) {
        nk_expr *n = a;
        while (n->kind == NK_EX_BIN)
            n = n->args[0];
        n->num = n->num == 0 ? 0.0 : -n->num;
        return a;
    }
    if (a->kind == NK_EX_NEG)
        return take_child(a);
    return mk1(NK_EX_NEG, a, line, col);
}

static nk_expr *s_not(nk_expr *a, int line, int col)
{
    if (!a)
        return NULL;
    if (a->kind == NK_EX_NUM) {
        a->num = a->num == 0 ? 1.0 : 0.0;
        return a;
    }
    return mk1(NK_EX_NOT, a, line, col);
}

/* Evaluates x op y; returns 1 with *r if the result is finite. */
static int fold(nk_ex_op op, double x, double y, double *r)
{
    switch (op) {
    case NK_OP_ADD: *r = x + y; break;
    case NK_OP_SUB: *r = x - y; break;
    case NK_OP_MUL: *r = x * y; break;
    case NK_OP_DIV: *r = x / y; break;
    case NK_OP_POW: *r = pow(x, y); break;
    case NK_OP_LT: *r = x < y; break;
    case NK_OP_LE: *r = x <= y; break;
    case NK_OP_GT: *r = x > y; break;
    case NK_OP_GE: *r = x >= y; break;
    case NK_OP_EQ: *r = x == y; break;
    case NK_OP_NE: *r = x != y; break;
    case NK_OP_AND: *r = x != 0 && y != 0; break;
    case NK_OP_OR: *r = x != 0 || y != 0; break;
    default: return 0;
    }
    return isfinite(*r);
}

static nk_expr *s_bin(nk_ex_op op, nk_expr *a, nk_expr *b, int line, int col)
{
    double r;
    if (!a || !b) {
        nk_expr_free(a);
        nk_expr_free(b);
        return NULL;
    }
    if (a->kind == NK_EX_NUM && b->kind == NK_EX_NUM && fold(op, a->num, b->num, &r)) {
        nk_expr_free(b);
        a->num = r;
        a->line = line;
        a->col = col;
        return a;
    }
    switch (op) {
    case NK_OP_ADD:
        if (is_num(a, 0)) {
            nk_expr_free(a);
            return b;
        }
        if (is_num(b, 0)) {
            nk_expr_free(b);
            return a;
        }
        if (b->kind == NK_EX_NEG)
            return s_bin(NK_OP_SUB, a, take_child(b), line, col);
        if (b->kind == NK_EX_NUM && b->num < 0) {
            b->num = -b->num;
            return s_bin(NK_OP_SUB, a, b, line, col);
        }
        if (a->kind == NK_EX_NEG)
            return s_bin(NK_OP_SUB, b, take_child(a), line, col);
        break;
    case NK_OP_SUB:
        if (is_num(b, 0)) {
            nk_expr_free(b);
            return a;
        }
        if (is_num(a, 0)) {
            nk_expr_free(a);
            return s_neg(b, line, col);
        }
        if (b->kind == NK_EX_NEG)
            return s_bin(NK_OP_ADD, a, take_child(b), line, col);
        if (b->kind == NK_EX_NUM && b->num < 0) {
            b->num = -b->num;
            return s_bin(NK_OP_ADD, a, b, line, col);
        }
        break;
    case NK_OP_MUL:
        if (is_num(a, 0) || is_num(b, 0)) {
            nk_expr_free(a);
            nk_expr_free(b);
            return mk_num(0.0, line, col);
        }
        if (is_num(a, 1)) {
            nk_expr_free(a);
            return b;
        }
        if (is_num(b, 1)) {
            nk_expr_free(b);
            return a;
        }
        if (is_num(a, -1)) {
            nk_expr_free(a);
            return s_neg(b, line, col);
        }
        if (is_num(b, -1)) {
            nk_expr_free(b);
            return s_neg(a, line, col);
        }
        if (a->kind == NK_EX_NEG)
            return s_neg(s_bin(NK_OP_MUL, take_child(a), b, line, col), line, col);
        if (b->kind == NK_EX_NEG)
            return s_neg(s_bin(NK_OP_MUL, a, take_child(b), line, col), line, col);
        if (b->kind == NK_EX_NUM && a->kind != NK_EX_NUM)
            return mk2(op, b, a, line, col);
        break;
    case NK_OP_DIV:
        if (is_num(a, 0) && b->kind != NK_EX_NUM) {
            nk_expr_free(a);
            nk_expr_free(b);
            return mk_num(0.0, line, col);
        }
        if (is_num(b, 1)) {
            nk_expr_free(b);
            return a;
        }
        if (is_num(b, -1)) {
            nk_expr_free(b);
            return s_neg(a, line, col);
        }
        if (a->kind == NK_EX_NEG)
            return s_neg(s_bin(NK_OP_DIV, take_child(a), b, line, col), line, col);
        if (b->kind == NK_EX_NEG)
            return s_neg(s_bin(NK_OP_DIV, a, take_child(b), line, col), line, col);
        break;
    case NK_OP_POW:
        if (is_num(b, 1)) {
            nk_expr_free(b);
            return a;
        }
        if (is_num(b, 0) || is_num(a, 1)) {
            nk_expr_free(a);
            nk_expr_free(b);
            return mk_num(1.0, line, col);
        }
        break;
    default: break;
    }
    return mk2(op, a, b, line, col);
}

static nk_expr *s_cond(nk_expr *c, nk_expr *a, nk_expr *b, int line, int col)
{
    if (!c || !a || !b) {
        nk_expr_free(c);
        nk_expr_free(a);
        nk_expr_free(b);
        return NULL;
    }
    if (c->kind == NK_EX_NUM) {
        int t = c->num != 0;
        nk_expr_free(c);
        nk_expr_free(t ? b : a);
        return t ? a : b;
    }
    return mk3(c, a, b, line, col);
}

nk_expr *nk_expr_simplify(const nk_expr *e)
{
    nk_expr *r;
    int i;
    if (!e)
        return NULL;
    switch (e->kind) {
    case NK_EX_NEG:
        return e->nargs == 1 ? s_neg(nk_expr_simplify(e->args[0]), e->line, e->col) : nk_expr_clone(e);
    case NK_EX_NOT:
        return e->nargs == 1 ? s_not(nk_expr_simplify(e->args[0]), e->line, e->col) : nk_expr_clone(e);
    case NK_EX_BIN:
        if (e->nargs != 2)
            return nk_expr_clone(e);
        return s_bin(e->op, nk_expr_simplify(e->args[0]), nk_expr_simplify(e->args[1]), e->line, e->col);
    case NK_EX_COND:
        if (e->nargs != 3)
            return nk_expr_clone(e);
        return s_cond(nk_expr_simplify(e->args[0]), nk_expr_simplify(e->args[1]), nk_expr_simplify(e->args[2]),
                      e->line, e->col);
    case NK_EX_CALL:
        r = node_new(NK_EX_CALL, e->nargs, e->line, e->col);
        if (!r)
            return NULL;
        if (e->name && !(r->name = dup_n(e->name, strlen(e->name)))) {
            nk_expr_free(r);
            return NULL;
        }
        for (i = 0; i < e->nargs; i++)
            if (!(r->args[i] = nk_expr_simplify(e->args[i]))) {
                nk_expr_free(r);
                return NULL;
            }
        return r;
    default:
        return nk_expr_clone(e);
    }
}

/* ======================================================================
 * printing
 * ====================================================================== */

typedef struct {
    char *buf;
    size_t len, pos;
    int over;
    int (*var_fn)(const char *, char *, size_t, void *);
    void *ud;
    char scratch[512];
} W;

static void w_put(W *w, const char *s, size_t n)
{
    if (w->over)
        return;
    if (w->pos + n >= w->len) {
        size_t room = w->len > w->pos ? w->len - 1 - w->pos : 0;
        if (room)
            memcpy(w->buf + w->pos, s, room);
        w->pos += room;
        w->over = 1;
        return;
    }
    memcpy(w->buf + w->pos, s, n);
    w->pos += n;
}

static void w_str(W *w, const char *s) { w_put(w, s, strlen(s)); }

static void w_init(W *w, char *buf, size_t len)
{
    w->buf = buf;
    w->len = len;
    w->pos = 0;
    w->over = 0;
    w->var_fn = NULL;
    w->ud = NULL;
}

/* Ends the text; returns its length or NK_EXPR_ENOSPC (buf set to ""). */
static int w_finish(W *w)
{
    if (w->len == 0)
        return NK_EXPR_ENOSPC;
    if (w->over || w->pos > (size_t)INT_MAX) {
        w->buf[0] = '\0';
        return NK_EXPR_ENOSPC;
    }
    w->buf[w->pos] = '\0';
    return (int)w->pos;
}

enum { PR_COND = 1, PR_OR, PR_AND, PR_NOT, PR_CMP, PR_ADD, PR_MUL, PR_NEG, PR_POW, PR_ATOM };

static int prec_of(const nk_expr *e)
{
    switch (e->kind) {
    case NK_EX_NUM: return signbit(e->num) ? PR_NEG : PR_ATOM;
    case NK_EX_NEG: return PR_NEG;
    case NK_EX_NOT: return PR_NOT;
    case NK_EX_COND: return PR_COND;
    case NK_EX_BIN:
        switch (e->op) {
        case NK_OP_ADD:
        case NK_OP_SUB: return PR_ADD;
        case NK_OP_MUL:
        case NK_OP_DIV: return PR_MUL;
        case NK_OP_POW: return PR_POW;
        case NK_OP_AND: return PR_AND;
        case NK_OP_OR: return PR_OR;
        default: return PR_CMP;
        }
    default: return PR_ATOM;
    }
}

static const char *op_text(nk_ex_op op, int c)
{
    static const char *const s[] = {" + ", " - ", "*", "/", "^", " < ", " <= ", " > ", " >= ", " == ", " != ", " and ", " or "};
    static const char *const cs[] = {"+", "-", "*", "/", "^", "<", "<=", ">", ">=", "==", "!=", "&&", "||"};
    if ((int)op < 0 || (int)op > (int)NK_OP_OR)
        return "?";
    return c ? cs[op] : s[op];
}

static void str_num(W *w, double v)
{
    char b[48];
    if (isnan(v))
        w_str(w, "nan");
    else if (isinf(v))
        w_str(w, v < 0 ? "-inf" : "inf");
    else {
        write_double(v, b);
        w_str(w, b);
    }
}

static void str_rec(W *w, const nk_expr *e, int minprec)
{
    int pr, paren, i;
    if (!e) {
        w_str(w, "?");
        return;
    }
    if (w->over)
        return;
    pr = prec_of(e);
    paren = pr < minprec;
    if (paren)
        w_str(w, "(");
    switch (e->kind) {
    case NK_EX_NUM: str_num(w, e->num); break;
    case NK_EX_VAR: w_str(w, e->name ? e->name : "?"); break;
    case NK_EX_NEG:
        w_str(w, "-");
        if (e->nargs == 1 && e->args[0] && prec_of(e->args[0]) == PR_NEG)
            w_str(w, " ");
        str_rec(w, e->nargs == 1 ? e->args[0] : NULL, PR_NEG);
        break;
    case NK_EX_NOT:
        w_str(w, "not ");
        str_rec(w, e->nargs == 1 ? e->args[0] : NULL, PR_NOT);
        break;
    case NK_EX_BIN: {
        int l, r;
        const nk_expr *a = e->nargs == 2 ? e->args[0] : NULL, *b = e->nargs == 2 ? e->args[1] : NULL;
        switch (pr) {
        case PR_ADD: l = PR_ADD; r = PR_MUL; break;
        case PR_MUL: l = PR_MUL; r = PR_NEG; break;
        case PR_POW: l = PR_ATOM; r = PR_NEG; break;
        case PR_AND: l = PR_AND; r = PR_NOT; break;
        case PR_OR: l = PR_OR; r = PR_AND; break;
        default: l = PR_ADD; r = PR_ADD; break;
        }
        str_rec(w, a, l);
        w_str(w, op_text(e->op, 0));
        str_rec(w, b, r);
        break;
    }
    case NK_EX_COND:
        str_rec(w, e->nargs == 3 ? e->args[0] : NULL, PR_OR);
        w_str(w, " ? ");
        str_rec(w, e->nargs == 3 ? e->args[1] : NULL, PR_COND);
        w_str(w, " : ");
        str_rec(w, e->nargs == 3 ? e->args[2] : NULL, PR_COND);
        break;
    case NK_EX_CALL:
        w_str(w, e->name ? e->name : "?");
        w_str(w, "(");
        for (i = 0; i < e->nargs; i++) {
            if (i)
                w_str(w, ", ");
            str_rec(w, e->args[i], PR_COND);
        }
        w_str(w, ")");
        break;
    }
    if (paren)
        w_str(w, ")");
}

int nk_expr_to_str(const nk_expr *e, char *buf, size_t len)
{
    W w;
    if (!e || !buf)
        return NK_EXPR_EINVAL;
    w_init(&w, buf, len);
    str_rec(&w, e, PR_COND);
    return w_finish(&w);
}

static int c_rec(W *w, const nk_expr *e);

static int c_pow(W *w, const nk_expr *a, const nk_expr *b)
{
    int r, k, n = 0;
    if (b && b->kind == NK_EX_NUM && (b->num == 1 || b->num == 2 || b->num == 3 || b->num == 4) && !(b->num > 1 && contains_random(a)))
        n = (int)b->num;
    if (n == 1)
        return c_rec(w, a);
    if (n > 1) {
        w_str(w, "(");
        for (k = 0; k < n; k++) {
            if (k)
                w_str(w, "*");
            if ((r = c_rec(w, a)) != 0)
                return r;
        }
        w_str(w, ")");
        return 0;
    }
    w_str(w, "nk_pow(");
    if ((r = c_rec(w, a)) != 0)
        return r;
    w_str(w, ", ");
    if ((r = c_rec(w, b)) != 0)
        return r;
    w_str(w, ")");
    return 0;
}

static int c_rec(W *w, const nk_expr *e)
{
    int r, i;
    if (!e)
        return NK_EXPR_EINVAL;
    if (w->over)
        return 0;
    switch (e->kind) {
    case NK_EX_NUM: {
        char b[48];
        if (isnan(e->num))
            w_str(w, "(NAN)");
        else if (isinf(e->num))
            w_str(w, e->num < 0 ? "(-HUGE_VAL)" : "(HUGE_VAL)");
        else {
            write_double(e->num, b);
            w_str(w, "(");
            w_str(w, b);
            if (!strpbrk(b, ".eE"))
                w_str(w, ".0");
            w_str(w, ")");
        }
        return 0;
    }
    case NK_EX_VAR:
        if (!e->name)
            return NK_EXPR_EINVAL;
        if (w->var_fn) {
            w->scratch[0] = '\0';
            r = w->var_fn(e->name, w->scratch, sizeof w->scratch, w->ud);
            if (r)
                return r > 0 ? -r : r;
            w->scratch[sizeof w->scratch - 1] = '\0';
            w_str(w, "(");
            w_str(w, w->scratch);
            w_str(w, ")");
        } else {
            w_str(w, "(");
            w_str(w, e->name);
            w_str(w, ")");
        }
        return 0;
    case NK_EX_NEG:
    case NK_EX_NOT:
        if (e->nargs != 1)
            return NK_EXPR_EINVAL;
        /* a truth value is a double, as the interpreter's: in C, (!x) and
         * (a < b) are ints, and a quotient of two of them would be an
         * integer division (0/0 a trap, 1/2 zero) */
        w_str(w, e->kind == NK_EX_NEG ? "(-" : "((double)(!");
        if ((r = c_rec(w, e->args[0])) != 0)
            return r;
        w_str(w, e->kind == NK_EX_NEG ? ")" : "))");
        return 0;
    case NK_EX_BIN:
        if (e->nargs != 2 || (int)e->op < 0 || (int)e->op > (int)NK_OP_OR)
            return NK_EXPR_EINVAL;
        if (e->op == NK_OP_POW)
            return c_pow(w, e->args[0], e->args[1]);
        const int truth = e->op >= NK_OP_LT; /* comparisons, and, or: see NK_EX_NOT */
        w_str(w, truth ? "((double)(" : "(");
        if ((r = c_rec(w, e->args[0])) != 0)
            return r;
        w_str(w, op_text(e->op, 1));
        if ((r = c_rec(w, e->args[1])) != 0)
            return r;
        w_str(w, truth ? "))" : ")");
        return 0;
    case NK_EX_COND:
        if (e->nargs != 3)
            return NK_EXPR_EINVAL;
        w_str(w, "(");
        if ((r = c_rec(w, e->args[0])) != 0)
            return r;
        w_str(w, " ? ");
        if ((r = c_rec(w, e->args[1])) != 0)
            return r;
        w_str(w, " : ");
        if ((r = c_rec(w, e->args[2])) != 0)
            return r;
        w_str(w, ")");
        return 0;
    case NK_EX_CALL: {
        const fn_info *f = find_fn(e->name);
        if (!e->name)
            return NK_EXPR_EINVAL;
        if (f && strcmp(f->name, "pow") == 0 && e->nargs == 2)
            return c_pow(w, e->args[0], e->args[1]);
        if (f) {
            w_str(w, f->cname);
        } else {
            w_str(w, "nk_");
            w_str(w, e->name);
        }
        w_str(w, "(");
        for (i = 0; i < e->nargs; i++) {
            if (i)
                w_str(w, ", ");
            if ((r = c_rec(w, e->args[i])) != 0)
                return r;
        }
        w_str(w, ")");
        return 0;
    }
    }
    return NK_EXPR_EINVAL;
}

int nk_expr_to_c(const nk_expr *e, char *buf, size_t len,
                 int (*var_fn)(const char *name, char *out, size_t outlen, void *ud), void *ud)
{
    W *w;
    int r;
    if (!e || !buf)
        return NK_EXPR_EINVAL;
    w = malloc(sizeof *w);
    if (!w)
        return NK_EXPR_ENOMEM;
    w_init(w, buf, len);
    w->var_fn = var_fn;
    w->ud = ud;
    r = c_rec(w, e);
    if (r == 0)
        r = w_finish(w);
    else if (len)
        buf[0] = '\0';
    free(w);
    return r;
}

/* ======================================================================
 * differentiation
 * ====================================================================== */

typedef struct {
    const char *var;
    char *err;
    size_t errlen;
    int failed;
    long long *budget; /* terms the derivatives may still copy */
} DX;

static long long expr_size(const nk_expr *e)
{
    long long n = 1;
    for (int k = 0; k < e->nargs; k++)
        n += e->args[k] ? expr_size(e->args[k]) : 0;
    return n;
}

/* Short text of e for messages: "name(...)" for calls, else the expression
 * (cut with "..." when long). */
static void describe(const nk_expr *e, char *out, size_t n)
{
    W w;
    if (e->kind == NK_EX_CALL) {
        snprintf(out, n, "%s(...)", e->name ? e->name : "?");
        return;
    }
    w_init(&w, out, n - 4);
    str_rec(&w, e, PR_COND);
    out[w.pos] = '\0';
    if (w.over)
        strcat(out, "...");
}

static nk_expr *d_fail(DX *d, const nk_expr *e, const char *why)
{
    char t[80];
    if (d->failed)
        return NULL;
    d->failed = 1;
    describe(e, t, sizeof t);
    set_err(d->err, d->errlen, "cannot differentiate '%s' with respect to '%s'%s", t, d->var, why);
    return NULL;
}

static nk_expr *d_chk(DX *d, nk_expr *r)
{
    if (!r && !d->failed) {
        d->failed = 1;
        set_err(d->err, d->errlen, "out of memory");
    }
    return r;
}

static nk_expr *dd(DX *d, const nk_expr *e);

/* A simplified copy of e, paid for from the budget: the product and
 * quotient rules copy their operands, so a derivative can be far larger
 * than its expression (an intermediate that squares the one before it, level
 * after level, doubles the copies at each level). */
static nk_expr *d_sc(DX *d, const nk_expr *e)
{
    if (d->failed)
        return NULL;
    *d->budget -= expr_size(e);
    if (*d->budget < 0) {
        d->failed = 1;
        set_err(d->err, d->errlen,
                "its derivative with respect to '%s' grows past %d terms (the expression, "
                "once its intermediates are substituted, is too large to differentiate)",
                d->var, NK_EXPR_DIFF_MAX_TERMS);
        return NULL;
    }
    return nk_expr_simplify(e);
}

#define SC(x) d_sc(d, x)

/* d(a^b) for the power node e (a '^' or a pow() call). */
static nk_expr *d_pow(DX *d, const nk_expr *e, const nk_expr *a, const nk_expr *b)
{
    int ua = nk_expr_uses(a, d->var), ub = nk_expr_uses(b, d->var);
    int L = e->line, C = e->col;
    nk_expr *da = NULL, *db = NULL, *sb, *f;
    if (ua && !(da = dd(d, a)))
        return NULL;
    if (ub && !(db = dd(d, b))) {
        nk_expr_free(da);
        return NULL;
    }
    if (!ub) {
        sb = SC(b);
        if (sb && sb->kind == NK_EX_NUM) {
            double n = sb->num;
            nk_expr_free(sb);
            f = s_bin(NK_OP_MUL, mk_num(n, L, C), s_bin(NK_OP_POW, SC(a), mk_num(n - 1, L, C), L, C), L, C);
        } else
            f = s_bin(NK_OP_MUL, sb, s_bin(NK_OP_POW, SC(a), s_bin(NK_OP_SUB, SC(b), mk_num(1, L, C), L, C), L, C), L, C);
        return d_chk(d, s_bin(NK_OP_MUL, f, da, L, C));
    }
    if (!ua) {
        nk_expr *sa = SC(a);
        if (sa && sa->kind == NK_EX_NUM && sa->num == 0) { /* 0^b: constant wherever finite */
            nk_expr_free(sa);
            nk_expr_free(db);
            return d_chk(d, mk_num(0, L, C));
        }
        return d_chk(d, s_bin(NK_OP_MUL,
                              s_bin(NK_OP_MUL, s_bin(NK_OP_POW, sa, SC(b), L, C), mk_call1("log", SC(a), L, C), L, C),
                              db, L, C));
    }
    /* a^b * (b' log a + b a'/a) */
    f = s_bin(NK_OP_ADD, s_bin(NK_OP_MUL, db, mk_call1("log", SC(a), L, C), L, C),
              s_bin(NK_OP_DIV, s_bin(NK_OP_MUL, SC(b), da, L, C), SC(a), L, C), L, C);
    return d_chk(d, s_bin(NK_OP_MUL, s_bin(NK_OP_POW, SC(a), SC(b), L, C), f, L, C));
}

static nk_expr *d_call(DX *d, const nk_expr *e)
{
    static const char *const ok1[] = {"exp", "expm1", "log", "log10", "sqrt", "sin", "cos",
                                      "tan", "tanh", "sinh", "cosh", "log1p"};
    const char *n = e->name ? e->name : "";
    int L = e->line, C = e->col;
    size_t i;
    nk_expr *du, *r;

    if (contains_random(e))
        return d_fail(d, e, " (it involves random numbers)");
    if (strcmp(n, "pow") == 0 && e->nargs == 2)
        return d_pow(d, e, e->args[0], e->args[1]);
    for (i = 0; i < sizeof ok1 / sizeof *ok1; i++)
        if (strcmp(n, ok1[i]) == 0)
            break;
    if (i == sizeof ok1 / sizeof *ok1 || e->nargs != 1)
        return d_fail(d, e, "");
    if (!(du = dd(d, e->args[0])))
        return NULL;
#define U SC(e->args[0])
    if (!strcmp(n, "exp") || !strcmp(n, "expm1"))
        r = s_bin(NK_OP_MUL, mk_call1("exp", U, L, C), du, L, C);
    else if (!strcmp(n, "log"))
        r = s_bin(NK_OP_DIV, du, U, L, C);
    else if (!strcmp(n, "log10"))
        r = s_bin(NK_OP_DIV, du, s_bin(NK_OP_MUL, U, mk_num(log(10.0), L, C), L, C), L, C);
    else if (!strcmp(n, "sqrt"))
        r = s_bin(NK_OP_DIV, du, s_bin(NK_OP_MUL, mk_num(2, L, C), mk_call1("sqrt", U, L, C), L, C), L, C);
    else if (!strcmp(n, "sin"))
        r = s_bin(NK_OP_MUL, mk_call1("cos", U, L, C), du, L, C);
    else if (!strcmp(n, "cos"))
        r = s_neg(s_bin(NK_OP_MUL, mk_call1("sin", U, L, C), du, L, C), L, C);
    else if (!strcmp(n, "tan"))
        r = s_bin(NK_OP_DIV, du, s_bin(NK_OP_POW, mk_call1("cos", U, L, C), mk_num(2, L, C), L, C), L, C);
    else if (!strcmp(n, "tanh"))
        r = s_bin(NK_OP_MUL,
                  s_bin(NK_OP_SUB, mk_num(1, L, C), s_bin(NK_OP_POW, mk_call1("tanh", U, L, C), mk_num(2, L, C), L, C),
                        L, C),
                  du, L, C);
    else if (!strcmp(n, "sinh"))
        r = s_bin(NK_OP_MUL, mk_call1("cosh", U, L, C), du, L, C);
    else if (!strcmp(n, "cosh"))
        r = s_bin(NK_OP_MUL, mk_call1("sinh", U, L, C), du, L, C);
    else /* log1p */
        r = s_bin(NK_OP_DIV, du, s_bin(NK_OP_ADD, mk_num(1, L, C), U, L, C), L, C);
#undef U
    return d_chk(d, r);
}

static nk_expr *dd(DX *d, const nk_expr *e)
{
    int L = e->line, C = e->col, ua, ub;
    nk_expr *da = NULL, *db = NULL, *t1, *t2;
    const nk_expr *a, *b;

    if (d->failed)
        return NULL;
    if (!nk_expr_uses(e, d->var))
        return d_chk(d, mk_num(0, L, C));
    switch (e->kind) {
    case NK_EX_VAR: return d_chk(d, mk_num(1, L, C));
    case NK_EX_NEG:
        if (!(da = dd(d, e->args[0])))
            return NULL;
        return d_chk(d, s_neg(da, L, C));
    case NK_EX_CALL: return d_call(d, e);
    case NK_EX_BIN: break;
    default: return d_fail(d, e, "");
    }
    a = e->args[0];
    b = e->args[1];
    ua = nk_expr_uses(a, d->var);
    ub = nk_expr_uses(b, d->var);
    switch (e->op) {
    case NK_OP_ADD:
    case NK_OP_SUB:
        if (!(da = dd(d, a)))
            return NULL;
        if (!(db = dd(d, b))) {
            nk_expr_free(da);
            return NULL;
        }
        return d_chk(d, s_bin(e->op, da, db, L, C));
    case NK_OP_MUL:
    case NK_OP_DIV:
    case NK_OP_POW:
        if (contains_random(e))
            return d_fail(d, e, " (it involves random numbers)");
        break;
    default: return d_fail(d, e, "");
    }
    if (e->op == NK_OP_POW)
        return d_pow(d, e, a, b);
    if (ua && !(da = dd(d, a)))
        return NULL;
    if (ub && !(db = dd(d, b))) {
        nk_expr_free(da);
        return NULL;
    }
    if (e->op == NK_OP_MUL) {
        t1 = ua ? s_bin(NK_OP_MUL, da, SC(b), L, C) : NULL;
        t2 = ub ? s_bin(NK_OP_MUL, SC(a), db, L, C) : NULL;
        if (ua && ub)
            return d_chk(d, s_bin(NK_OP_ADD, t1, t2, L, C));
        return d_chk(d, ua ? t1 : t2);
    }
    /* quotient */
    if (!ub)
        return d_chk(d, s_bin(NK_OP_DIV, da, SC(b), L, C));
    if (ua)
        t1 = s_bin(NK_OP_SUB, s_bin(NK_OP_MUL, da, SC(b), L, C), s_bin(NK_OP_MUL, SC(a), db, L, C), L, C);
    else
        t1 = s_neg(s_bin(NK_OP_MUL, SC(a), db, L, C), L, C);
    return d_chk(d, s_bin(NK_OP_DIV, t1, s_bin(NK_OP_POW, SC(b), mk_num(2, L, C), L, C), L, C));
}

nk_expr *nk_expr_diff(const nk_expr *e, const char *var, char *err, size_t errlen)
{
    long long budget = NK_EXPR_DIFF_MAX_TERMS;
    return nk_expr_diff_budget(e, var, &budget, err, errlen);
}

nk_expr *nk_expr_diff_budget(const nk_expr *e, const char *var, long long *budget, char *err,
                             size_t errlen)
{
    DX d;
    nk_expr *r, *s;
    if (err && errlen)
        err[0] = '\0';
    if (!e || !var || !budget) {
        set_err(err, errlen, "no expression or variable given");
        return NULL;
    }
    d.var = var;
    d.err = err;
    d.errlen = errlen;
    d.failed = 0;
    d.budget = budget;
    r = dd(&d, e);
    if (!r)
        return NULL;
    s = nk_expr_simplify(r);
    nk_expr_free(r);
    if (!s)
        set_err(err, errlen, "out of memory");
    return s;
}

/* ======================================================================
 * suggestions
 * ====================================================================== */

const char *nk_suggest(const char *name, const char *const *candidates, int n)
{
    size_t m, maxl = 0, limit, best_d = (size_t)-1;
    size_t *row;
    const char *best = NULL;
    int k;

    if (!name || !candidates || n <= 0)
        return NULL;
    m = strlen(name);
    limit = m / 3 > 1 ? m / 3 : 1;
    for (k = 0; k < n; k++)
        if (candidates[k] && strlen(candidates[k]) > maxl)
            maxl = strlen(candidates[k]);
    row = malloc(3 * (maxl + 1) * sizeof *row);
    if (!row)
        return NULL;
    for (k = 0; k < n; k++) {
        const char *c = candidates[k];
        size_t cl, i, j, dist;
        size_t *pp = row, *pr = row + (maxl + 1), *cu = row + 2 * (maxl + 1);
        if (!c)
            continue;
        cl = strlen(c);
        if ((cl > m ? cl - m : m - cl) > limit)
            continue;
        /* optimal string alignment distance; rows over c, i over name */
        for (j = 0; j <= cl; j++)
            pr[j] = j;
        for (i = 1; i <= m; i++) {
            size_t *tmp;
            cu[0] = i;
            for (j = 1; j <= cl; j++) {
                size_t cost = name[i - 1] == c[j - 1] ? 0 : 1;
                size_t v = pr[j] + 1;
                if (cu[j - 1] + 1 < v)
                    v = cu[j - 1] + 1;
                if (pr[j - 1] + cost < v)
                    v = pr[j - 1] + cost;
                if (i > 1 && j > 1 && name[i - 1] == c[j - 2] && name[i - 2] == c[j - 1] && pp[j - 2] + 1 < v)
                    v = pp[j - 2] + 1;
                cu[j] = v;
            }
            tmp = pp;
            pp = pr;
            pr = cu;
            cu = tmp;
        }
        dist = pr[cl];
        if (dist <= limit && dist < best_d) {
            best_d = dist;
            best = c;
        }
    }
    free(row);
    return best;
}

/* ======================================================================
 * numeric evaluation
 * ====================================================================== */

int nk_expr_eval(const nk_expr *e, int (*lookup)(const char *name, double *value, void *ud),
                 void *ud, double *out, char *err, size_t errlen)
{
    double a[3] = {0, 0, 0};
    int rc;
    if (!e || !out)
        return NK_EXPR_EINVAL;
    if (e->kind == NK_EX_COND) {
        double c;
        if ((rc = nk_expr_eval(e->args[0], lookup, ud, &c, err, errlen)))
            return rc;
        return nk_expr_eval(e->args[c != 0 ? 1 : 2], lookup, ud, out, err, errlen);
    }
    for (int k = 0; k < e->nargs && k < 3; k++)
        if ((rc = nk_expr_eval(e->args[k], lookup, ud, &a[k], err, errlen)))
            return rc;
    switch (e->kind) {
    case NK_EX_NUM:
        *out = e->num;
        return 0;
    case NK_EX_VAR:
        return lookup(e->name, out, ud) ? NK_EXPR_EINVAL : 0;
    case NK_EX_NEG:
        *out = -a[0];
        return 0;
    case NK_EX_NOT:
        *out = a[0] == 0;
        return 0;
    case NK_EX_BIN:
        switch (e->op) {
        case NK_OP_ADD: *out = a[0] + a[1]; return 0;
        case NK_OP_SUB: *out = a[0] - a[1]; return 0;
        case NK_OP_MUL: *out = a[0] * a[1]; return 0;
        case NK_OP_DIV: *out = a[0] / a[1]; return 0;
        case NK_OP_POW: *out = pow(a[0], a[1]); return 0;
        case NK_OP_LT: *out = a[0] < a[1]; return 0;
        case NK_OP_LE: *out = a[0] <= a[1]; return 0;
        case NK_OP_GT: *out = a[0] > a[1]; return 0;
        case NK_OP_GE: *out = a[0] >= a[1]; return 0;
        case NK_OP_EQ: *out = a[0] == a[1]; return 0;
        case NK_OP_NE: *out = a[0] != a[1]; return 0;
        case NK_OP_AND: *out = a[0] != 0 && a[1] != 0; return 0;
        case NK_OP_OR: *out = a[0] != 0 || a[1] != 0; return 0;
        }
        break;
    case NK_EX_CALL: {
        static const struct {
            const char *n;
            double (*f)(double);
        } f1[] = {{"exp", exp},     {"log", log},     {"log10", log10}, {"sqrt", sqrt},
                  {"sin", sin},     {"cos", cos},     {"tan", tan},     {"tanh", tanh},
                  {"sinh", sinh},   {"cosh", cosh},   {"abs", fabs},    {"floor", floor},
                  {"ceil", ceil},   {"expm1", expm1}, {"log1p", log1p}};
        const char *f = e->name;
        for (size_t k = 0; k < sizeof f1 / sizeof *f1; k++)
            if (!strcmp(f, f1[k].n)) {
                *out = f1[k].f(a[0]);
                return 0;
            }
        if (!strcmp(f, "pow")) { *out = pow(a[0], a[1]); return 0; }
        if (!strcmp(f, "min")) { *out = a[0] < a[1] ? a[0] : a[1]; return 0; }
        if (!strcmp(f, "max")) { *out = a[0] > a[1] ? a[0] : a[1]; return 0; }
        if (!strcmp(f, "sign")) { *out = (a[0] > 0) - (a[0] < 0); return 0; }
        if (!strcmp(f, "clip")) { *out = a[0] < a[1] ? a[1] : a[0] > a[2] ? a[2] : a[0]; return 0; }
        if (!strcmp(f, "exprel")) { *out = a[0] == 0 ? 1 : expm1(a[0]) / a[0]; return 0; }
        if (err && errlen)
            snprintf(err, errlen, "'%s()' cannot be evaluated here", f);
        return NK_EXPR_ESYNTAX;
    }
    default:
        break;
    }
    return NK_EXPR_EINVAL;
}
