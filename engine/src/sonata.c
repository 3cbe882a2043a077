/* sonata.c - SONATA circuits: nk_save_model writes a network as SONATA
 * nodes/edges files, nk_sonata_load reads them (ours or anyone's) into a
 * network. docs/sonata.md is the user's description of both; this comment is
 * the map of the file.
 *
 * The format (AllenInstitute/sonata, docs/SONATA_DEVELOPER_GUIDE.md):
 *
 *   nodes.h5  /nodes/<pop>/node_type_id, node_id, node_group_id,
 *             node_group_index [N]; /nodes/<pop>/<group>/<attribute> [M]
 *             (x, y, z in um; per-node overrides, also under dynamics_params/)
 *   edges.h5  /edges/<pop>/source_node_id, target_node_id [E] (attribute
 *             node_population), edge_type_id, edge_group_id, edge_group_index;
 *             /edges/<pop>/<group>/syn_weight, delay, nsyns [M]
 *   node_types.csv / edge_types.csv: one row per type id, columns separated
 *             by one or more spaces (we also accept commas), optional
 *             population column; model_template "schema:resource".
 *   circuit_config.json names those files (manifest variables allowed).
 *
 * Mapping: one nkshell population per (node population, node type), named
 * like the node population when it has one type, else "<pop>_<type id>";
 * its model from the type's model_template (the resource after the colon),
 * model_name, or opts->model. Edges become list-rule projections, one per
 * (edge population, pre population, post population, edge type, sign of
 * the weight); the sign only when the type names no receptor, since the
 * default receptor is chosen by it. Within a projection the edges keep file
 * order, so CSR order round-trips.
 *
 * Loading is two-phase: everything is read and checked first (files, ids,
 * values, models, parameter ranges, receptor compatibility) without touching
 * the network; only then are populations and projections added. A failure
 * in the second phase (out of memory) removes the populations it added where
 * nothing refers to them yet.
 *
 * HDF5's error printing is off inside every public function here (restored
 * on the way out); when an HDF5 call fails we quote the innermost entry of
 * its error stack. Every hid_t is closed and every buffer freed on every
 * path (tests run under ASan/LSan). Allocation sizes that come from a file
 * are checked against the memory available before anything is allocated. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "internal.h"

#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SONATA_MAGIC 0x0A7Au
/* node_type_id / edge_type_id written by nk_save_model: 100 + index. */
#define TYPE_ID_BASE 100

/* ---- small helpers -------------------------------------------------------- */

static char *xstrndup(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    return s;
}

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The directory part of path ("." when none); caller frees. */
static char *dir_of(const char *path)
{
    const char *s = strrchr(path, '/');
    if (!s)
        return nk_strdup(".");
    if (s == path)
        return nk_strdup("/");
    return xstrndup(path, (size_t)(s - path));
}

/* dir/name, or name itself when it is absolute; caller frees. */
static char *join(const char *dir, const char *name)
{
    if (name[0] == '/' || !dir || !*dir)
        return nk_strdup(name);
    size_t l = strlen(dir);
    return xasprintf("%s%s%s", dir, l && dir[l - 1] == '/' ? "" : "/", name);
}

/* Can n elements of size bytes each be allocated? Refuses sizes that come
 * from a file before they reach malloc (a huge declared length must not
 * abort the process under a sanitizer or invite the OOM killer). */
static int fits(int64_t n, size_t size)
{
    if (n < 0 || (uint64_t)n > SIZE_MAX / (size ? size : 1) / 4)
        return 0;
    int64_t avail = nk_mem_available();
    return avail < 0 || (double)n * (double)size <= (double)avail;
}

/* ---- HDF5 error handling ------------------------------------------------- */

typedef struct {
    H5E_auto2_t func;
    void *data;
    int saved;
} h5quiet;

static void quiet_on(h5quiet *q)
{
    q->saved = H5Eget_auto2(H5E_DEFAULT, &q->func, &q->data) >= 0;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static void quiet_off(h5quiet *q)
{
    if (q->saved)
        H5Eset_auto2(H5E_DEFAULT, q->func, q->data);
}

typedef struct {
    char text[256];
} h5why;

static herr_t why_cb(unsigned n, const H5E_error2_t *e, void *data)
{
    h5why *w = data;
    if (n != 0)
        return 0;
    char minor[128] = "";
    if (H5Eget_msg(e->min_num, NULL, minor, sizeof minor) < 0)
        minor[0] = '\0';
    const char *desc = e->desc ? e->desc : "";
    if (minor[0] && desc[0])
        snprintf(w->text, sizeof w->text, ": %s (%s)", desc, minor);
    else if (minor[0] || desc[0])
        snprintf(w->text, sizeof w->text, ": %s", desc[0] ? desc : minor);
    return 0;
}

/* The innermost description of the HDF5 failure just reported (": ..."),
 * or "" ; clears the error stack. */
static const char *h5_why(h5why *w)
{
    w->text[0] = '\0';
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, why_cb, w);
    H5Eclear2(H5E_DEFAULT);
    return w->text;
}

static void close_id(hid_t *id, herr_t (*fn)(hid_t))
{
    if (*id >= 0)
        fn(*id);
    *id = H5I_INVALID_HID;
}

/* ---- JSON (circuit_config.json, dynamics_params files) -------------------- */

enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

typedef struct jv {
    int t;
    double num;              /* J_NUM, J_BOOL */
    char *str;               /* J_STR */
    int n;                   /* J_ARR, J_OBJ: items */
    char **key;              /* J_OBJ */
    struct jv *item;
} jv;

static void jv_free(jv *v)
{
    if (!v)
        return;
    free(v->str);
    for (int k = 0; k < v->n; k++) {
        if (v->key)
            free(v->key[k]);
        jv_free(&v->item[k]);
    }
    free(v->key);
    free(v->item);
    memset(v, 0, sizeof *v);
}

typedef struct {
    const char *s, *p, *end;
    char err[256];
    int depth;
} jparse;

static int jfail(jparse *j, const char *what)
{
    int line = 1;
    for (const char *c = j->s; c < j->p && c < j->end; c++)
        line += *c == '\n';
    if (!j->err[0])
        snprintf(j->err, sizeof j->err, "line %d: %s", line, what);
    return -1;
}

static void jws(jparse *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static void put_utf8(char *out, size_t *o, unsigned cp)
{
    if (cp < 0x80) {
        out[(*o)++] = (char)cp;
    } else if (cp < 0x800) {
        out[(*o)++] = (char)(0xC0 | (cp >> 6));
        out[(*o)++] = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out[(*o)++] = (char)(0xE0 | (cp >> 12));
        out[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[(*o)++] = (char)(0x80 | (cp & 0x3F));
    } else {
        out[(*o)++] = (char)(0xF0 | (cp >> 18));
        out[(*o)++] = (char)(0x80 | ((cp >> 12) & 0x3F));
        out[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[(*o)++] = (char)(0x80 | (cp & 0x3F));
    }
}

static int hex4(const char *p, unsigned *v)
{
    *v = 0;
    for (int k = 0; k < 4; k++) {
        int c = p[k], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        *v = *v * 16 + (unsigned)d;
    }
    return 0;
}

static int jstring(jparse *j, char **out)
{
    j->p++; /* opening quote */
    const char *start = j->p;
    size_t cap = 0;
    while (j->p < j->end && *j->p != '"') {
        if (*j->p == '\\')
            j->p++;
        j->p++;
    }
    if (j->p >= j->end)
        return jfail(j, "unterminated string");
    cap = (size_t)(j->p - start) * 2 + 1;
    char *s = malloc(cap);
    if (!s)
        return jfail(j, "out of memory");
    size_t o = 0;
    for (const char *c = start; c < j->p; c++) {
        if (*c != '\\') {
            s[o++] = *c;
            continue;
        }
        c++;
        switch (*c) {
        case '"': s[o++] = '"'; break;
        case '\\': s[o++] = '\\'; break;
        case '/': s[o++] = '/'; break;
        case 'b': s[o++] = '\b'; break;
        case 'f': s[o++] = '\f'; break;
        case 'n': s[o++] = '\n'; break;
        case 'r': s[o++] = '\r'; break;
        case 't': s[o++] = '\t'; break;
        case 'u': {
            unsigned cp;
            if (j->p - c < 5 || hex4(c + 1, &cp)) {
                free(s);
                return jfail(j, "bad \\u escape in a string");
            }
            c += 4;
            if (cp >= 0xD800 && cp < 0xDC00 && j->p - c >= 7 && c[1] == '\\' && c[2] == 'u') {
                unsigned lo;
                if (!hex4(c + 3, &lo) && lo >= 0xDC00 && lo < 0xE000) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    c += 6;
                }
            }
            put_utf8(s, &o, cp);
            break;
        }
        default:
            free(s);
            return jfail(j, "bad escape in a string");
        }
    }
    s[o] = '\0';
    j->p++; /* closing quote */
    *out = s;
    return 0;
}

static int jvalue(jparse *j, jv *v);

static int jcontainer(jparse *j, jv *v, int obj)
{
    char close = obj ? '}' : ']';
    v->t = obj ? J_OBJ : J_ARR;
    j->p++;
    jws(j);
    if (j->p < j->end && *j->p == close) {
        j->p++;
        return 0;
    }
    int cap = 0;
    for (;;) {
        if (v->n == cap) {
            int nc = cap ? cap * 2 : 8;
            jv *it = realloc(v->item, (size_t)nc * sizeof *it);
            if (!it)
                return jfail(j, "out of memory");
            v->item = it;
            if (obj) {
                char **k = realloc(v->key, (size_t)nc * sizeof *k);
                if (!k)
                    return jfail(j, "out of memory");
                v->key = k;
            }
            cap = nc;
        }
        memset(&v->item[v->n], 0, sizeof *v->item);
        jws(j);
        if (obj) {
            v->key[v->n] = NULL;
            if (j->p >= j->end || *j->p != '"')
                return jfail(j, "expected a quoted key");
            if (jstring(j, &v->key[v->n]))
                return -1;
            jws(j);
            if (j->p >= j->end || *j->p != ':') {
                v->n++;
                return jfail(j, "expected ':' after a key");
            }
            j->p++;
        }
        int rc = jvalue(j, &v->item[v->n]);
        v->n++;
        if (rc)
            return rc;
        jws(j);
        if (j->p < j->end && *j->p == ',') {
            j->p++;
            continue;
        }
        if (j->p < j->end && *j->p == close) {
            j->p++;
            return 0;
        }
        return jfail(j, obj ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static int jvalue(jparse *j, jv *v)
{
    memset(v, 0, sizeof *v);
    jws(j);
    if (j->p >= j->end)
        return jfail(j, "unexpected end of file");
    if (++j->depth > 64)
        return jfail(j, "nested too deeply");
    int rc = 0;
    char c = *j->p;
    if (c == '{' || c == '[') {
        rc = jcontainer(j, v, c == '{');
    } else if (c == '"') {
        v->t = J_STR;
        rc = jstring(j, &v->str);
    } else if (j->end - j->p >= 4 && !strncmp(j->p, "true", 4)) {
        v->t = J_BOOL;
        v->num = 1;
        j->p += 4;
    } else if (j->end - j->p >= 5 && !strncmp(j->p, "false", 5)) {
        v->t = J_BOOL;
        j->p += 5;
    } else if (j->end - j->p >= 4 && !strncmp(j->p, "null", 4)) {
        v->t = J_NULL;
        j->p += 4;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
        const char *q = j->p;
        while (q < j->end && strchr("+-0123456789.eE", *q))
            q++;
        char buf[64];
        size_t l = (size_t)(q - j->p);
        if (l >= sizeof buf)
            return jfail(j, "number too long");
        memcpy(buf, j->p, l);
        buf[l] = '\0';
        char *e;
        v->t = J_NUM;
        v->num = strtod(buf, &e);
        if (*e || e == buf)
            return jfail(j, "bad number");
        j->p = q;
    } else {
        rc = jfail(j, "unexpected character");
    }
    j->depth--;
    return rc;
}

/* Reads and parses the JSON file path into *v. Returns 0, or fills err. */
static int json_read(const char *path, jv *v, char *err, size_t errlen)
{
    memset(v, 0, sizeof *v);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
        return -1;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            if (cap > ((size_t)64 << 20)) {
                free(buf);
                fclose(f);
                snprintf(err, errlen, "'%s' is larger than 64 MiB; not a config file", path);
                return -1;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    int ioerr = ferror(f);
    fclose(f);
    if (!buf || ioerr) {
        free(buf);
        snprintf(err, errlen, "cannot read '%s': %s", path, buf ? "read error" : "out of memory");
        return -1;
    }
    jparse j = {.s = buf, .p = buf, .end = buf + n};
    if (n >= 3 && !memcmp(buf, "\xEF\xBB\xBF", 3))
        j.p += 3;
    int rc = jvalue(&j, v);
    if (!rc) {
        jws(&j);
        if (j.p < j.end)
            rc = jfail(&j, "unexpected text after the JSON value");
    }
    free(buf);
    if (rc) {
        jv_free(v);
        snprintf(err, errlen, "'%s' is not valid JSON: %s", path, j.err);
        return -1;
    }
    return 0;
}

static const jv *jget(const jv *o, const char *key)
{
    if (!o || o->t != J_OBJ)
        return NULL;
    for (int k = 0; k < o->n; k++)
        if (!strcmp(o->key[k], key))
            return &o->item[k];
    return NULL;
}

/* ---- CSV (node_types.csv, edge_types.csv) ---------------------------------- */

/* One types file: its columns, and per row the cells (NULL: missing, i.e.
 * NULL/None or an empty field), the line number and the parsed type id. */
typedef struct tytab {
    char *path;
    int ncol;
    char **col;
    int nrow;
    char **cell;             /* nrow * ncol */
    int *line;
    int64_t *id;
    int popcol;              /* the population column, or -1 */
} tytab;

static void tytab_free(tytab *t)
{
    if (!t)
        return;
    for (int k = 0; k < t->ncol; k++)
        free(t->col[k]);
    free(t->col);
    for (int64_t k = 0; k < (int64_t)t->nrow * t->ncol; k++)
        free(t->cell[k]);
    free(t->cell);
    free(t->line);
    free(t->id);
    free(t->path);
    memset(t, 0, sizeof *t);
}

static int tycol(const tytab *t, const char *name)
{
    for (int k = 0; k < t->ncol; k++)
        if (!strcmp(t->col[k], name))
            return k;
    return -1;
}

static const char *tycell(const tytab *t, int row, int col)
{
    return col < 0 ? NULL : t->cell[(size_t)row * (size_t)t->ncol + (size_t)col];
}

/* Splits one line into fields: runs of spaces/tabs separate them (SONATA's
 * dialect) unless comma, then commas do (fields trimmed). "..." quotes, ""
 * inside quotes is one quote. Missing values (NULL, None, empty) become
 * NULL entries. Returns the number of fields, or -1 on a bad quote / -2 on
 * out of memory. *out is malloc'ed (caller frees the strings and it). */
static int csv_split(const char *s, const char *end, int comma, char ***out)
{
    int n = 0, cap = 0;
    char **f = NULL;
    const char *p = s;
    for (;;) {
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (p >= end && (!comma || n == 0))
            break;
        char *v = malloc((size_t)(end - p) + 1);
        if (!v)
            goto oom;
        size_t o = 0;
        int quoted = 0;
        if (p < end && *p == '"') {
            quoted = 1;
            p++;
            for (;;) {
                if (p >= end) {
                    free(v);
                    for (int k = 0; k < n; k++)
                        free(f[k]);
                    free(f);
                    return -1;
                }
                if (*p == '"') {
                    if (p + 1 < end && p[1] == '"') {
                        v[o++] = '"';
                        p += 2;
                        continue;
                    }
                    p++;
                    break;
                }
                v[o++] = *p++;
            }
            if (!comma) {
                if (p < end && *p != ' ' && *p != '\t') {
                    free(v);
                    for (int k = 0; k < n; k++)
                        free(f[k]);
                    free(f);
                    return -1;
                }
            } else {
                while (p < end && (*p == ' ' || *p == '\t'))
                    p++;
                if (p < end && *p != ',') {
                    free(v);
                    for (int k = 0; k < n; k++)
                        free(f[k]);
                    free(f);
                    return -1;
                }
            }
        } else if (comma) {
            while (p < end && *p != ',')
                v[o++] = *p++;
            while (o > 0 && (v[o - 1] == ' ' || v[o - 1] == '\t'))
                o--;
        } else {
            while (p < end && *p != ' ' && *p != '\t')
                v[o++] = *p++;
        }
        v[o] = '\0';
        if (!quoted && (o == 0 || !strcmp(v, "NULL") || !strcmp(v, "None"))) {
            free(v);
            v = NULL;
        }
        if (n == cap) {
            int nc = cap ? cap * 2 : 16;
            char **nf = realloc(f, (size_t)nc * sizeof *nf);
            if (!nf) {
                free(v);
                goto oom;
            }
            f = nf;
            cap = nc;
        }
        f[n++] = v;
        if (comma) {
            if (p < end && *p == ',') {
                p++;
                continue;
            }
            break;
        }
    }
    *out = f;
    return n;
oom:
    for (int k = 0; k < n; k++)
        free(f[k]);
    free(f);
    return -2;
}

static int parse_i64(const char *s, int64_t *v)
{
    if (!s || !*s)
        return -1;
    char *e;
    errno = 0;
    long long x = strtoll(s, &e, 10);
    if (*e || errno)
        return -1;
    *v = x;
    return 0;
}

static int parse_num(const char *s, double *v)
{
    if (!s || !*s)
        return -1;
    char *e;
    *v = strtod(s, &e);
    return *e || e == s ? -1 : 0;
}

/* Reads a types file (idname: "node_type_id" or "edge_type_id"). */
static int tytab_read(nk_ctx *ctx, const char *path, const char *idname, tytab *t)
{
    memset(t, 0, sizeof *t);
    t->popcol = -1;
    t->path = nk_strdup(path);
    if (!t->path)
        return nk_fail(ctx, NK_ENOMEM, "out of memory");
    struct stat st;
    if (stat(path, &st) != 0)
        return nk_fail(ctx, NK_EIO, "cannot open '%s': %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return nk_fail(ctx, NK_EIO, "cannot read '%s': not a regular file", path);
    if (!fits(st.st_size + 1, 1))
        return nk_fail(ctx, NK_ENOMEM, "'%s' is too large to read (%lld bytes)", path,
                       (long long)st.st_size);
    FILE *f = fopen(path, "rb");
    if (!f)
        return nk_fail(ctx, NK_EIO, "cannot open '%s': %s", path, strerror(errno));
    char *buf = malloc((size_t)st.st_size + 1);
    size_t n = buf ? fread(buf, 1, (size_t)st.st_size, f) : 0;
    int ioerr = ferror(f);
    fclose(f);
    if (!buf)
        return nk_fail(ctx, NK_ENOMEM, "out of memory reading '%s'", path);
    if (ioerr) {
        free(buf);
        return nk_fail(ctx, NK_EIO, "cannot read '%s'", path);
    }
    buf[n] = '\0';
    if (memchr(buf, '\0', n)) {
        free(buf);
        return nk_fail(ctx, NK_EINVAL, "'%s' is not a text file (it contains NUL bytes)", path);
    }
    int rc = 0, lineno = 0, comma = -1, caprow = 0;
    char *p = buf, *end = buf + n;
    if (n >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3))
        p += 3;
    while (p < end && !rc) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *le = nl ? nl : end;
        lineno++;
        char *lend = le;
        if (lend > p && lend[-1] == '\r')
            lend--;
        char *q = p;
        while (q < lend && (*q == ' ' || *q == '\t'))
            q++;
        int blank = q == lend || *q == '#';
        char *line = p;
        p = nl ? nl + 1 : end;
        if (blank)
            continue;
        if (comma < 0) {
            /* The header decides the dialect: commas outside quotes mean CSV
             * proper, else SONATA's space-separated columns. */
            int inq = 0;
            comma = 0;
            for (char *c = line; c < lend; c++) {
                if (*c == '"')
                    inq = !inq;
                else if (*c == ',' && !inq)
                    comma = 1;
            }
        }
        char **fld = NULL;
        int nf = csv_split(line, lend, comma, &fld);
        if (nf == -2) {
            rc = nk_fail(ctx, NK_ENOMEM, "out of memory reading '%s'", path);
            break;
        }
        if (nf == -1) {
            rc = nk_fail(ctx, NK_EINVAL, "'%s' line %d: unbalanced quotes (expected \"...\")", path,
                         lineno);
            break;
        }
        if (!t->col) {
            t->col = fld;
            t->ncol = nf;
            for (int k = 0; k < nf && !rc; k++) {
                if (!fld[k])
                    rc = nk_fail(ctx, NK_EINVAL, "'%s' line %d: column %d of the header has no name",
                                 path, lineno, k + 1);
                for (int j = 0; j < k && !rc; j++)
                    if (fld[j] && !strcmp(fld[j], fld[k]))
                        rc = nk_fail(ctx, NK_EINVAL, "'%s' line %d: column '%s' appears twice",
                                     path, lineno, fld[k]);
            }
            if (!rc && tycol(t, idname) < 0)
                rc = nk_fail(ctx, NK_EINVAL,
                             "'%s' line %d: no %s column (expected a header naming the columns, "
                             "separated by spaces, e.g. '%s model_template ...')",
                             path, lineno, idname, idname);
            t->popcol = rc ? -1 : tycol(t, "population");
            continue;
        }
        if (nf != t->ncol) {
            for (int k = 0; k < nf; k++)
                free(fld[k]);
            free(fld);
            rc = nk_fail(ctx, NK_EINVAL,
                         "'%s' line %d: %d fields, expected %d like the header (quote values "
                         "that contain spaces)",
                         path, lineno, nf, t->ncol);
            break;
        }
        if (t->nrow == caprow) {
            int nc = caprow ? caprow * 2 : 16;
            char **cell = realloc(t->cell, (size_t)nc * (size_t)t->ncol * sizeof *cell);
            int *ln = cell ? realloc(t->line, (size_t)nc * sizeof *ln) : NULL;
            if (cell)
                t->cell = cell;
            if (ln)
                t->line = ln;
            if (!cell || !ln) {
                for (int k = 0; k < nf; k++)
                    free(fld[k]);
                free(fld);
                rc = nk_fail(ctx, NK_ENOMEM, "out of memory reading '%s'", path);
                break;
            }
            caprow = nc;
        }
        memcpy(t->cell + (size_t)t->nrow * (size_t)t->ncol, fld, (size_t)nf * sizeof *fld);
        free(fld);
        t->line[t->nrow++] = lineno;
    }
    free(buf);
    if (rc)
        return rc;
    if (!t->col)
        return nk_fail(ctx, NK_EINVAL, "'%s' is empty (expected a header line with %s)", path,
                       idname);
    t->id = malloc((size_t)(t->nrow ? t->nrow : 1) * sizeof *t->id);
    if (!t->id)
        return nk_fail(ctx, NK_ENOMEM, "out of memory");
    int ic = tycol(t, idname);
    for (int r = 0; r < t->nrow; r++) {
        const char *s = tycell(t, r, ic);
        if (parse_i64(s, &t->id[r]))
            return nk_fail(ctx, NK_EINVAL, "'%s' line %d: %s '%s' is not an integer", path,
                           t->line[r], idname, s ? s : "NULL");
        const char *pr = tycell(t, r, t->popcol);
        for (int q = 0; q < r; q++) {
            const char *pq = tycell(t, q, t->popcol);
            if (t->id[q] == t->id[r] && ((!pr && !pq) || (pr && pq && !strcmp(pr, pq))))
                return nk_fail(ctx, NK_EINVAL, "'%s' line %d: %s %lld is defined again (first on "
                                               "line %d)",
                               path, t->line[r], idname, (long long)t->id[r], t->line[q]);
        }
    }
    return 0;
}

/* Finds the row of type id for population pop in the tables (all of them,
 * or only table only when only >= 0): a row whose population column is
 * missing, empty or pop. Sets *tab and returns the row, or -1. */
static int ty_find(tytab *tabs, int ntabs, int only, int64_t id, const char *pop, tytab **tab)
{
    for (int k = 0; k < ntabs; k++) {
        if (only >= 0 && k != only)
            continue;
        tytab *t = &tabs[k];
        for (int r = 0; r < t->nrow; r++) {
            if (t->id[r] != id)
                continue;
            const char *pr = tycell(t, r, t->popcol);
            if (pr && pop && strcmp(pr, pop))
                continue;
            *tab = t;
            return r;
        }
    }
    return -1;
}

/* Writes field s to f, quoted when it must be (SONATA's space-separated
 * dialect). */
static void csv_put(FILE *f, const char *s, int first)
{
    if (!first)
        fputc(' ', f);
    if (!s) {
        fputs("NULL", f);
        return;
    }
    int q = !*s || strpbrk(s, " \t\",\r\n") != NULL || !strcmp(s, "NULL") || !strcmp(s, "None");
    if (!q) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (const char *c = s; *c; c++) {
        if (*c == '"')
            fputc('"', f);
        fputc(*c, f);
    }
    fputc('"', f);
}

static void csv_num(FILE *f, double v)
{
    fprintf(f, " %.17g", v);
}
