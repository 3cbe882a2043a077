/* ctx.c - the context: the model library, the last error message, and the
 * small helpers every engine file uses. */
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#ifndef NK_VERSION
#define NK_VERSION "0.0.0"
#endif

const char *nk_version(void) { return NK_VERSION; }

void *nk_xcalloc(size_t n, size_t size)
{
    if (n == 0)
        n = 1;
    return calloc(n, size);
}

void *nk_xcalloc64(size_t n, size_t size)
{
    if (n == 0)
        n = 1;
    if (size && n > (SIZE_MAX - 64) / size)
        return NULL;
    void *p = NULL;
    size_t bytes = (n * size + 63) / 64 * 64;
    if (posix_memalign(&p, 64, bytes))
        return NULL;
    memset(p, 0, bytes);
    return p;
}

int nk_room(void **arr, int64_t *cap, int64_t n, size_t size)
{
    if (n < *cap)
        return 0;
    int64_t c = *cap ? 2 * *cap : 16;
    void *p = realloc(*arr, (size_t)c * size);
    if (!p)
        return -1;
    *arr = p;
    *cap = c;
    return 0;
}

char *nk_strdup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

const char *nk_not_regular(const char *path)
{
    struct stat st;
    if (!path || stat(path, &st) != 0 || S_ISREG(st.st_mode))
        return NULL;
    if (S_ISDIR(st.st_mode))
        return "a directory";
    if (S_ISFIFO(st.st_mode))
        return "a FIFO (named pipe)";
    if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))
        return "a device";
    if (S_ISSOCK(st.st_mode))
        return "a socket";
    return "not a regular file";
}

/* path with its directory resolved (realpath), in out; the path as given
 * when the directory cannot be resolved. */
static void resolved(const char *path, char *out, size_t len)
{
    const char *slash = strrchr(path, '/');
    char dir[PATH_MAX], real[PATH_MAX];
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    if (realpath(dir, real))
        snprintf(out, len, "%s/%s", strcmp(real, "/") ? real : "", slash ? slash + 1 : path);
    else
        snprintf(out, len, "%s", path);
}

const char *nk_fmt_bytes(double b, char *buf, size_t len)
{
    if (b < 1e3)
        snprintf(buf, len, "%.0f B", b);
    else if (b < 1e6)
        snprintf(buf, len, "%.1f kB", b / 1e3);
    else if (b < 1e9)
        snprintf(buf, len, "%.1f MB", b / 1e6);
    else
        snprintf(buf, len, "%.2f GB", b / 1e9);
    return buf;
}

int nk_same_path(const char *a, const char *b)
{
    if (!a || !b)
        return 0;
    char ra[PATH_MAX + 256], rb[PATH_MAX + 256];
    resolved(a, ra, sizeof ra);
    resolved(b, rb, sizeof rb);
    return !strcmp(ra, rb);
}

double nk_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

const char *nk_fmt_num(double v, char *buf, size_t len)
{
    if (isnan(v)) {
        snprintf(buf, len, "nan");
        return buf;
    }
    for (int digits = 6; digits <= 17; digits++) { /* 17 always read back */
        snprintf(buf, len, "%.*g", digits, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    return buf;
}

int nk_vsnprintf(char *buf, size_t len, const char *fmt, va_list ap)
{
    int saved_errno = errno; /* for %m */
    va_list aq;
    va_copy(aq, ap);
    size_t n = 0; /* the whole message's length, as vsnprintf returns it */
    if (len)
        buf[0] = '\0';
    while (*fmt) {
        char *d = n < len ? buf + n : NULL; /* snprintf(NULL, 0, ...) only counts */
        size_t room = n < len ? len - n : 0;
        int w = 0;
        if (fmt[0] != '%' || fmt[1] == '%') {
            size_t k = fmt[0] == '%' ? 1 : strcspn(fmt, "%");
            w = snprintf(d, room, "%.*s", (int)k, fmt);
            fmt += fmt[0] == '%' ? 2 : k;
            n += w > 0 ? (size_t)w : 0;
            continue;
        }
        /* One conversion: its text, each '*' replaced by the int it takes,
         * printed by snprintf with the argument its letter and length take. */
        char spec[64];
        size_t s = 0;
        const char *p = fmt + 1;
        spec[s++] = '%';
        while (*p && strchr("-+ #0'", *p) && s < 16)
            spec[s++] = *p++;
        for (int prec = 0; prec < 2; prec++) {
            if (prec) {
                if (*p != '.')
                    break;
                spec[s++] = *p++;
            }
            if (*p == '*') {
                int v = va_arg(aq, int);
                p++;
                if (prec && v < 0)
                    s--; /* a negative precision is none */
                else
                    s += (size_t)snprintf(spec + s, sizeof spec - s, "%d", v);
            } else {
                while (isdigit((unsigned char)*p) && s < 40)
                    spec[s++] = *p++;
            }
        }
        const char *lm = p; /* length modifier: hh h l ll j z t L */
        while (*p && strchr("hljztL", *p) && p - lm < 2)
            spec[s++] = *p++;
        int nl = (int)(p - lm);
        char c = *p;
        if (!c)
            break;
        p++;
        spec[s++] = c;
        spec[s] = '\0';
        switch (c) {
        case 'd':
        case 'i':
            if (nl == 2 && lm[0] == 'l')
                w = snprintf(d, room, spec, va_arg(aq, long long));
            else if (nl && lm[0] == 'l')
                w = snprintf(d, room, spec, va_arg(aq, long));
            else if (nl && lm[0] == 'j')
                w = snprintf(d, room, spec, va_arg(aq, intmax_t));
            else if (nl && (lm[0] == 'z' || lm[0] == 't'))
                w = snprintf(d, room, spec, va_arg(aq, ptrdiff_t));
            else
                w = snprintf(d, room, spec, va_arg(aq, int));
            break;
        case 'o':
        case 'u':
        case 'x':
        case 'X':
            if (nl == 2 && lm[0] == 'l')
                w = snprintf(d, room, spec, va_arg(aq, unsigned long long));
            else if (nl && lm[0] == 'l')
                w = snprintf(d, room, spec, va_arg(aq, unsigned long));
            else if (nl && lm[0] == 'j')
                w = snprintf(d, room, spec, va_arg(aq, uintmax_t));
            else if (nl && (lm[0] == 'z' || lm[0] == 't'))
                w = snprintf(d, room, spec, va_arg(aq, size_t));
            else
                w = snprintf(d, room, spec, va_arg(aq, unsigned));
            break;
        case 'c':
            w = snprintf(d, room, spec, va_arg(aq, int));
            break;
        case 's':
            w = snprintf(d, room, spec, va_arg(aq, const char *));
            break;
        case 'p':
            w = snprintf(d, room, spec, va_arg(aq, void *));
            break;
        case 'n':
            (void)va_arg(aq, int *); /* never used in messages: nothing stored */
            break;
        case 'm':
            w = snprintf(d, room, "%s", strerror(saved_errno));
            break;
        case 'e':
        case 'E':
        case 'f':
        case 'F':
        case 'g':
        case 'G':
        case 'a':
        case 'A':
            if (nl && lm[0] == 'L') {
                long double v = va_arg(aq, long double);
                w = isnan(v) ? snprintf(d, room, "nan") : snprintf(d, room, spec, v);
            } else {
                double v = va_arg(aq, double);
                w = isnan(v) ? snprintf(d, room, "nan") : snprintf(d, room, spec, v);
            }
            break;
        default: /* no conversion printf knows (the format checks rule it out) */
            w = snprintf(d, room, "%s", spec);
            break;
        }
        n += w > 0 ? (size_t)w : 0;
        fmt = p;
    }
    va_end(aq);
    return n > INT_MAX ? INT_MAX : (int)n;
}

int nk_snprintf(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = nk_vsnprintf(buf, len, fmt, ap);
    va_end(ap);
    return n;
}

int nk_fail(nk_ctx *ctx, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    nk_vsnprintf(ctx->err, sizeof ctx->err, fmt, ap);
    va_end(ap);
    return code;
}

nk_ctx *nk_ctx_new(void)
{
    nk_ctx *ctx = nk_xcalloc(1, sizeof *ctx);
    if (!ctx)
        return NULL;
    double t0 = nk_now();
    int rc = nk_builtin_models(&ctx->models, &ctx->nmodels, ctx->err, sizeof ctx->err);
    ctx->parse_s += nk_now() - t0; /* the built-in library is parsed here */
    if (rc) {
        /* The built-in library is part of the program: a failure here is a
         * bug, reported through a context with no models. */
        ctx->models = NULL;
        ctx->nmodels = 0;
    }
    return ctx;
}

void nk_ctx_free(nk_ctx *ctx)
{
    if (!ctx)
        return;
    for (int k = 0; k < ctx->nmodels; k++)
        nk_model_free(ctx->models[k]);
    free(ctx->models);
    for (int k = 0; k < ctx->nretired; k++)
        nk_model_free(ctx->retired[k]);
    free(ctx->retired);
    free(ctx->live);
    free(ctx);
}

int nk_ctx_output_taken(const nk_ctx *ctx) { return ctx->output_taken; }

const char *nk_errmsg(const nk_ctx *ctx) { return ctx->err; }

int nk_model_count(const nk_ctx *ctx) { return ctx->nmodels; }

const nk_model *nk_model_at(const nk_ctx *ctx, int i)
{
    return (i >= 0 && i < ctx->nmodels) ? ctx->models[i] : NULL;
}

const nk_model *nk_model_find(nk_ctx *ctx, const char *name)
{
    for (int k = 0; k < ctx->nmodels; k++)
        if (!strcmp(ctx->models[k]->name, name))
            return ctx->models[k];
    const char *cand[256];
    int n = 0;
    for (int k = 0; k < ctx->nmodels && n < 256; k++)
        cand[n++] = ctx->models[k]->name;
    const char *s = nk_suggest(name, cand, n);
    if (s)
        nk_fail(ctx, NK_EINVAL, "unknown model '%s' (did you mean '%s'?)", name, s);
    else
        nk_fail(ctx, NK_EINVAL, "unknown model '%s' (nk.models() lists the models)", name);
    return NULL;
}

static int model_define(nk_ctx *ctx, const nk_model_spec *spec);

/* Parsing is timed for net:profile(). */
int nk_model_define(nk_ctx *ctx, const nk_model_spec *spec)
{
    double t0 = nk_now();
    int rc = model_define(ctx, spec);
    ctx->parse_s += nk_now() - t0;
    return rc;
}

static int model_define(nk_ctx *ctx, const nk_model_spec *spec)
{
    if (!spec->name || !*spec->name)
        return nk_fail(ctx, NK_EINVAL, "a model needs a name");
    for (const char *c = spec->name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '_'))
            return nk_fail(ctx, NK_EINVAL,
                           "model name '%s' may contain only letters, digits and '_'", spec->name);
    int old = -1;
    for (int k = 0; k < ctx->nmodels; k++)
        if (!strcmp(ctx->models[k]->name, spec->name))
            old = k;
    if (old >= 0 && !spec->replace)
        return nk_fail(ctx, NK_EINVAL,
                       "a model called '%s' already exists (give replace = true to redefine it)",
                       spec->name);
    if (spec->kind && strcmp(spec->kind, "neuron") && strcmp(spec->kind, "synapse"))
        return nk_fail(ctx, NK_EINVAL, "model kind must be 'neuron' or 'synapse', got '%s'",
                       spec->kind);
    if (spec->method && !nk_method_known(spec->method))
        return nk_fail(ctx, NK_EINVAL, "unknown method '%s' (expected %s)", spec->method,
                       NK_METHODS);
    nk_model *m = nk_model_parse(spec, ctx->err, sizeof ctx->err);
    if (!m)
        return NK_EPARSE;
    if (old >= 0) {
        /* Populations made before keep the definition they were made with:
         * the old model stays alive in the retired list until the context
         * goes. */
        nk_model **r = realloc(ctx->retired, (size_t)(ctx->nretired + 1) * sizeof *r);
        if (!r) {
            nk_model_free(m);
            return nk_fail(ctx, NK_ENOMEM, "out of memory");
        }
        ctx->retired = r;
        ctx->retired[ctx->nretired++] = ctx->models[old];
        ctx->models[old] = m;
        return 0;
    }
    nk_model **v = realloc(ctx->models, (size_t)(ctx->nmodels + 1) * sizeof *v);
    if (!v) {
        nk_model_free(m);
        return nk_fail(ctx, NK_ENOMEM, "out of memory");
    }
    ctx->models = v;
    ctx->models[ctx->nmodels++] = m;
    return 0;
}
