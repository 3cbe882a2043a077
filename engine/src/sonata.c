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
 * in the second phase (out of memory) removes the projections and
 * populations it added (receptors it added to populations that were already
 * there stay).
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

/* What path is when it is there but not a regular file ("a FIFO (named
 * pipe), not a regular file"), in out; NULL when it is a file or missing.
 * Reading a FIFO would wait for a writer. */
static const char *not_regular(const char *path, char *out, size_t len)
{
    const char *what = nk_not_regular(path);
    if (!what)
        return NULL;
    snprintf(out, len, "%s%s", what, strncmp(what, "not ", 4) ? ", not a regular file" : "");
    return out;
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
    char kind[64];
    const char *what = not_regular(path, kind, sizeof kind);
    if (what) {
        snprintf(err, errlen, "cannot read '%s': it is %s", path, what);
        return -1;
    }
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

/* A column name and its index, or a row's type id, population and index:
 * the sort keys that let tycol and ty_find look things up without a scan
 * (types files with 100000 columns or rows). */
typedef struct tyname {
    const char *name;        /* t->col[col] */
    int col;
} tyname;

typedef struct tykey {
    int64_t id;
    const char *pop;         /* the row's population cell (NULL: missing) */
    int row;
} tykey;

/* One types file: its columns, and per row the cells (NULL: missing, i.e.
 * NULL/None or an empty field), the line number and the parsed type id. */
typedef struct tytab {
    char *path;
    int ncol;
    char **col;
    tyname *byname;          /* the ncol columns sorted by name */
    int nrow;
    char **cell;             /* nrow * ncol */
    int *line;
    int64_t *id;
    tykey *byid;             /* the nrow rows sorted by id, population, row */
    int popcol;              /* the population column, or -1 */
} tytab;

static void tytab_free(tytab *t)
{
    if (!t)
        return;
    for (int k = 0; k < t->ncol; k++)
        free(t->col[k]);
    free(t->col);
    free(t->byname);
    for (int64_t k = 0; k < (int64_t)t->nrow * t->ncol; k++)
        free(t->cell[k]);
    free(t->cell);
    free(t->line);
    free(t->id);
    free(t->byid);
    free(t->path);
    memset(t, 0, sizeof *t);
}

static int cmp_tyname(const void *a, const void *b)
{
    const tyname *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->col > y->col) - (x->col < y->col);
}

/* Missing populations (NULL) sort before every name. */
static int cmp_pop(const char *x, const char *y)
{
    if (!x || !y)
        return (x != NULL) - (y != NULL);
    return strcmp(x, y);
}

static int cmp_tykey(const void *a, const void *b)
{
    const tykey *x = a, *y = b;
    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    int c = cmp_pop(x->pop, y->pop);
    return c ? c : (x->row > y->row) - (x->row < y->row);
}

/* The column called name, or -1 (a binary search of t->byname). */
static int tycol(const tytab *t, const char *name)
{
    int lo = 0, hi = t->ncol;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(t->byname[mid].name, name);
        if (!c)
            return t->byname[mid].col;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
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
        /* The field's extent first, so that each value gets the room it
         * needs, not the rest of the line (a header of 100000 columns). */
        const char *fe = p;
        if (p < end && *p == '"') {
            for (fe = p + 1; fe < end; fe++) {
                if (*fe != '"')
                    continue;
                if (fe + 1 < end && fe[1] == '"')
                    fe++;
                else
                    break;
            }
        } else {
            while (fe < end && (comma ? *fe != ',' : *fe != ' ' && *fe != '\t'))
                fe++;
        }
        char *v = malloc((size_t)(fe - p) + 1);
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
    char kind[64];
    if (not_regular(path, kind, sizeof kind))
        return nk_fail(ctx, NK_EIO, "cannot read '%s': it is %s", path, kind);
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
    int rc = 0, lineno = 0, more = 0, comma = -1, caprow = 0;
    char *p = buf, *end = buf + n;
    if (n >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3))
        p += 3;
    while (p < end && !rc) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *le = nl ? nl : end;
        lineno += 1 + more; /* the lines a quoted value took, too */
        more = 0;
        char *lend = le;
        if (lend > p && lend[-1] == '\r')
            lend--;
        char *q = p;
        while (q < lend && (*q == ' ' || *q == '\t'))
            q++;
        int blank = q == lend || *q == '#';
        char *line = p;
        if (!blank && memchr(p, '"', (size_t)(le - p))) {
            /* a quoted value may hold line breaks (a population named
             * "a\nb" is written so): the record ends at the first one
             * outside quotes */
            int inq = 0;
            for (nl = p; nl < end && (inq || *nl != '\n'); nl++)
                if (*nl == '"')
                    inq = !inq;
            le = nl < end ? nl : end;
            nl = nl < end ? nl : NULL;
            for (char *c = p; c < le; c++)
                more += *c == '\n';
            lend = le;
            if (lend > p && lend[-1] == '\r')
                lend--;
        }
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
            /* The first column without a name, and the first that repeats
             * an earlier one: found through the columns sorted by name. */
            int noname = -1, again = -1;
            for (int k = 0; k < nf && noname < 0; k++)
                if (!fld[k])
                    noname = k;
            t->byname = malloc((size_t)(nf ? nf : 1) * sizeof *t->byname);
            if (!t->byname) {
                rc = nk_fail(ctx, NK_ENOMEM, "out of memory reading '%s'", path);
                break;
            }
            int named = 0;
            for (int k = 0; k < nf; k++)
                if (fld[k])
                    t->byname[named++] = (tyname){fld[k], k};
            qsort(t->byname, (size_t)named, sizeof *t->byname, cmp_tyname);
            for (int k = 1; k < named; k++)
                if (!strcmp(t->byname[k].name, t->byname[k - 1].name) &&
                    (again < 0 || t->byname[k].col < again))
                    again = t->byname[k].col;
            if (noname >= 0 && (again < 0 || noname < again))
                rc = nk_fail(ctx, NK_EINVAL, "'%s' line %d: column %d of the header has no name",
                             path, lineno, noname + 1);
            else if (again >= 0)
                rc = nk_fail(ctx, NK_EINVAL, "'%s' line %d: column '%s' appears twice", path,
                             lineno, fld[again]);
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
    t->byid = malloc((size_t)(t->nrow ? t->nrow : 1) * sizeof *t->byid);
    if (!t->id || !t->byid)
        return nk_fail(ctx, NK_ENOMEM, "out of memory");
    int ic = tycol(t, idname), bad = -1;
    for (int r = 0; r < t->nrow && bad < 0; r++) {
        if (parse_i64(tycell(t, r, ic), &t->id[r]))
            bad = r;
        else
            t->byid[r] = (tykey){t->id[r], tycell(t, r, t->popcol), r};
    }
    /* A row that repeats an earlier one's id and population: the first such
     * row (before a row whose id is not a number), from the sorted rows. */
    int valid = bad < 0 ? t->nrow : bad, again = -1, first = -1;
    qsort(t->byid, (size_t)valid, sizeof *t->byid, cmp_tykey);
    for (int k = 1, g = 0; k < valid; k++) {
        if (t->byid[k].id != t->byid[g].id || cmp_pop(t->byid[k].pop, t->byid[g].pop)) {
            g = k; /* a new (id, population) */
        } else if (k == g + 1 && (again < 0 || t->byid[k].row < again)) {
            again = t->byid[k].row;
            first = t->byid[g].row;
        }
    }
    if (again >= 0)
        return nk_fail(ctx, NK_EINVAL, "'%s' line %d: %s %lld is defined again (first on line %d)",
                       path, t->line[again], idname, (long long)t->id[again], t->line[first]);
    if (bad >= 0) {
        const char *s = tycell(t, bad, ic);
        return nk_fail(ctx, NK_EINVAL, "'%s' line %d: %s '%s' is not an integer", path,
                       t->line[bad], idname, s ? s : "NULL");
    }
    return 0;
}

/* Finds the row of type id for population pop in the tables (all of them,
 * or only table only when only >= 0): a row whose population column is
 * missing, empty or pop (the first in the file when there are both). Sets
 * *tab and returns the row, or -1. Binary searches of each table's byid. */
static int ty_find(tytab *tabs, int ntabs, int only, int64_t id, const char *pop, tytab **tab)
{
    for (int k = 0; k < ntabs; k++) {
        if (only >= 0 && k != only)
            continue;
        tytab *t = &tabs[k];
        const tykey *key = t->byid;
        /* [lo, hi): the rows of id; those without a population first */
        int lo = 0, hi = t->nrow;
        while (lo < hi) {
            int mid = lo + (hi - lo) / 2;
            if (key[mid].id < id)
                lo = mid + 1;
            else
                hi = mid;
        }
        hi = t->nrow;
        for (int a = lo; a < hi;) {
            int mid = a + (hi - a) / 2;
            if (key[mid].id <= id)
                a = mid + 1;
            else
                hi = mid;
        }
        if (lo == hi)
            continue;
        int row = key[lo].pop ? -1 : key[lo].row;
        if (!pop) {
            for (int j = lo; j < hi; j++)
                if (row < 0 || key[j].row < row)
                    row = key[j].row;
        } else {
            int a = lo, b = hi;
            while (a < b) {
                int mid = a + (b - a) / 2;
                if (cmp_pop(key[mid].pop, pop) < 0)
                    a = mid + 1;
                else
                    b = mid;
            }
            if (a < hi && key[a].pop && !strcmp(key[a].pop, pop) && (row < 0 || key[a].row < row))
                row = key[a].row;
        }
        if (row >= 0) {
            *tab = t;
            return row;
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

/* ---- HDF5 reading helpers ----------------------------------------------------- */

/* Does loc have a link called name? (0 also when loc cannot be read.) */
static int h5_has(hid_t loc, const char *name)
{
    htri_t e = H5Lexists(loc, name, H5P_DEFAULT);
    if (e < 0)
        H5Eclear2(H5E_DEFAULT);
    return e > 0;
}

/* Is link name of loc a group? */
static int h5_is_group(hid_t loc, const char *name)
{
    if (!h5_has(loc, name))
        return 0;
    hid_t o = H5Oopen(loc, name, H5P_DEFAULT);
    if (o < 0) {
        H5Eclear2(H5E_DEFAULT);
        return 0;
    }
    int g = H5Iget_type(o) == H5I_GROUP;
    H5Oclose(o);
    return g;
}

/* The names of the links of group g, in creation order when the file
 * tracks it, else in name order. *names is malloc'ed (caller frees each and
 * it). Returns the count, or -1. */
static int h5_children(hid_t g, char ***names)
{
    *names = NULL;
    H5G_info_t gi;
    if (H5Gget_info(g, &gi) < 0)
        return -1;
    if (gi.nlinks > 100000)
        return -1;
    int n = (int)gi.nlinks;
    char **v = calloc((size_t)(n ? n : 1), sizeof *v);
    if (!v)
        return -1;
    H5_index_t idx = H5_INDEX_CRT_ORDER;
    for (int i = 0; i < n; i++) {
        ssize_t len =
            H5Lget_name_by_idx(g, ".", idx, H5_ITER_INC, (hsize_t)i, NULL, 0, H5P_DEFAULT);
        if (len < 0 && idx == H5_INDEX_CRT_ORDER && i == 0) {
            H5Eclear2(H5E_DEFAULT);
            idx = H5_INDEX_NAME;
            i--;
            continue;
        }
        /* any name nkshell writes (a population's is as long as its
         * user made it); the bound only keeps a damaged file from asking for
         * gigabytes */
        if (len < 0 || len > (1 << 24) || !(v[i] = malloc((size_t)len + 1)) ||
            H5Lget_name_by_idx(g, ".", idx, H5_ITER_INC, (hsize_t)i, v[i], (size_t)len + 1,
                               H5P_DEFAULT) < 0) {
            for (int k = 0; k <= i; k++)
                free(v[k]);
            free(v);
            H5Eclear2(H5E_DEFAULT);
            return -1;
        }
    }
    *names = v;
    return n;
}

static void free_names(char **v, int n)
{
    for (int k = 0; k < n; k++)
        free(v[k]);
    free(v);
}

enum { RD_INT, RD_REAL };

/* The shape of a dataset that is not 1-D, for messages: "2-D, 3 x 2", "a
 * scalar (one value)", "a null dataspace (no values)". */
static void shape_text(hid_t s, int rank, char *out, size_t len)
{
    H5S_class_t sc = H5Sget_simple_extent_type(s);
    hsize_t dims[H5S_MAX_RANK];
    if (sc == H5S_SCALAR) {
        snprintf(out, len, "a scalar (one value)");
    } else if (sc == H5S_NULL) {
        snprintf(out, len, "a null dataspace (no values)");
    } else if (rank < 1 || rank > H5S_MAX_RANK ||
               H5Sget_simple_extent_dims(s, dims, NULL) != rank) {
        snprintf(out, len, "%d-D", rank);
    } else {
        size_t o = (size_t)snprintf(out, len, "%d-D, ", rank);
        for (int k = 0; k < rank && o < len; k++)
            o += (size_t)snprintf(out + o, len - o, "%s%llu", k ? " x " : "",
                                  (unsigned long long)dims[k]);
    }
}

/* Reads the 1-D dataset name of loc (where is its path, for messages) as
 * int64 (RD_INT: the file's type must be an integer of any width and
 * signedness, its values at most INT64_MAX) or double (RD_REAL: any integer
 * or float). expect >= 0: its length must be that. expect_what says what
 * the dataset holds ("one per node, like node_type_id"), for messages (may
 * be NULL). Fills *out (malloc'ed) and *n; with out NULL only checks the
 * dataset's type and shape and sets *n, reading nothing. */
static int h5_read(nk_ctx *ctx, const char *file, hid_t loc, const char *where, const char *name,
                   int kind, int64_t expect, const char *expect_what, void **out, int64_t *n)
{
    if (out)
        *out = NULL;
    h5why w;
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0) {
        h5_why(&w);
        return nk_fail(ctx, NK_EINVAL, "'%s': %s/%s is not a dataset (a SONATA %s dataset was "
                                       "expected)",
                       file, where, name, kind == RD_INT ? "integer" : "numeric");
    }
    hid_t t = H5Dget_type(d), s = H5Dget_space(d);
    int rc = 0;
    H5T_class_t cls = t >= 0 ? H5Tget_class(t) : H5T_NO_CLASS;
    size_t size = t >= 0 ? H5Tget_size(t) : 0;
    int unsig = cls == H5T_INTEGER && H5Tget_sign(t) == H5T_SGN_NONE;
    int rank = s >= 0 ? H5Sget_simple_extent_ndims(s) : -1;
    hsize_t dims[1] = {0};
    char what[300] = "";
    if (expect_what)
        snprintf(what, sizeof what, " (%s)", expect_what);
    if (t < 0 || s < 0) {
        rc = nk_fail(ctx, NK_EIO, "'%s': cannot read %s/%s%s", file, where, name, h5_why(&w));
    } else if (cls != H5T_INTEGER && !(kind == RD_REAL && cls == H5T_FLOAT)) {
        rc = nk_fail(ctx, NK_EINVAL, "'%s': %s/%s holds %s; expected %s%s", file, where, name,
                     cls == H5T_FLOAT      ? "floating-point numbers"
                     : cls == H5T_STRING   ? "strings"
                     : cls == H5T_COMPOUND ? "compound values"
                                           : "values that are not numbers",
                     kind == RD_INT ? "integers of any width, signed or unsigned" : "numbers",
                     what);
    } else if (cls == H5T_INTEGER && size > 8) {
        rc = nk_fail(ctx, NK_EINVAL, "'%s': %s/%s holds %zu-byte integers; expected integers of "
                                     "at most 64 bits%s",
                     file, where, name, size, what);
    } else if (rank != 1) {
        char shape[200];
        shape_text(s, rank, shape, sizeof shape);
        rc = nk_fail(ctx, NK_EINVAL, "'%s': %s/%s is %s; expected a 1-D dataset%s", file, where,
                     name, shape, what);
    } else if (H5Sget_simple_extent_dims(s, dims, NULL) != 1) {
        rc = nk_fail(ctx, NK_EIO, "'%s': cannot read the shape of %s/%s%s", file, where, name,
                     h5_why(&w));
    } else if (expect >= 0 && (int64_t)dims[0] != expect) {
        rc = nk_fail(ctx, NK_EINVAL, "'%s': %s/%s has %llu values; expected %lld%s", file, where,
                     name, (unsigned long long)dims[0], (long long)expect, what);
    } else if (dims[0] > (hsize_t)INT64_MAX) {
        rc = nk_fail(ctx, NK_ENOMEM, "'%s': %s/%s has %llu values: more than the memory available",
                     file, where, name, (unsigned long long)dims[0]);
    } else if (!out) {
        *n = (int64_t)dims[0];
    } else if (!fits((int64_t)dims[0], 8)) {
        rc = nk_fail(ctx, NK_ENOMEM, "'%s': %s/%s has %llu values: more than the memory available",
                     file, where, name, (unsigned long long)dims[0]);
    } else {
        /* 64-bit unsigned ids are read as they are and refused above
         * INT64_MAX (HDF5's conversion to int64 would clamp them there). */
        int wide = kind == RD_INT && unsig && size == 8;
        hid_t mtype = kind == RD_REAL ? H5T_NATIVE_DOUBLE : wide ? H5T_NATIVE_UINT64
                                                                 : H5T_NATIVE_INT64;
        void *buf = malloc(dims[0] ? (size_t)dims[0] * 8 : 8);
        if (!buf) {
            rc = nk_fail(ctx, NK_ENOMEM, "out of memory reading %s/%s of '%s'", where, name, file);
        } else if (dims[0] && H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
            rc = nk_fail(ctx, NK_EIO, "'%s': cannot read %s/%s%s", file, where, name, h5_why(&w));
        } else {
            const uint64_t *u = buf;
            for (hsize_t i = 0; wide && i < dims[0] && !rc; i++)
                if (u[i] > (uint64_t)INT64_MAX)
                    rc = nk_fail(ctx, NK_EINVAL,
                                 "'%s': %s/%s[%llu] = %llu is too large: expected at most %lld "
                                 "(2^63 - 1)",
                                 file, where, name, (unsigned long long)i,
                                 (unsigned long long)u[i], (long long)INT64_MAX);
        }
        if (rc) {
            free(buf);
        } else {
            *out = buf;
            *n = (int64_t)dims[0];
        }
    }
    if (t >= 0)
        H5Tclose(t);
    if (s >= 0)
        H5Sclose(s);
    H5Dclose(d);
    return rc;
}

/* Reads the string attribute name of obj into *out (malloc'ed). Returns 0,
 * 1 when there is none, -1 when it is not a single string. */
static int h5_attr_str(hid_t obj, const char *name, char **out)
{
    *out = NULL;
    htri_t ex = H5Aexists(obj, name);
    if (ex <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return ex == 0 ? 1 : -1;
    }
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) {
        H5Eclear2(H5E_DEFAULT);
        return -1;
    }
    hid_t t = H5Aget_type(a), s = H5Aget_space(a), m = H5I_INVALID_HID;
    int rc = -1;
    if (t >= 0 && s >= 0 && H5Tget_class(t) == H5T_STRING && H5Sget_simple_extent_npoints(s) == 1) {
        htri_t var = H5Tis_variable_str(t);
        m = H5Tcopy(H5T_C_S1);
        if (var > 0 && m >= 0 && H5Tset_size(m, H5T_VARIABLE) >= 0 &&
            H5Tset_cset(m, H5Tget_cset(t)) >= 0) {
            char *v = NULL;
            if (H5Aread(a, m, &v) >= 0 && v) {
                *out = nk_strdup(v);
                rc = *out ? 0 : -1;
            }
            if (v)
                H5free_memory(v);
        } else if (var == 0 && m >= 0) {
            size_t sz = H5Tget_size(t);
            char *v = sz > 0 && sz < 65536 ? calloc(1, sz + 1) : NULL;
            if (v && H5Tset_size(m, sz) >= 0 && H5Tset_strpad(m, H5T_STR_NULLTERM) >= 0 &&
                H5Tset_size(m, sz + 1) >= 0 && H5Aread(a, m, v) >= 0) {
                size_t l = strlen(v);
                while (l > 0 && v[l - 1] == ' ')
                    v[--l] = '\0';
                *out = v;
                v = NULL;
                rc = 0;
            }
            free(v);
        }
    }
    if (m >= 0)
        H5Tclose(m);
    if (t >= 0)
        H5Tclose(t);
    if (s >= 0)
        H5Sclose(s);
    H5Aclose(a);
    H5Eclear2(H5E_DEFAULT);
    return rc;
}

/* Reads numeric attribute name of obj: n values (a scalar when n == 1) as
 * mtype (H5T_NATIVE_DOUBLE, _INT64 or _UINT64). 0, 1 when missing, -1 when
 * not n numbers. */
static int h5_attr_num(hid_t obj, const char *name, hid_t mtype, int n, void *out)
{
    htri_t ex = H5Aexists(obj, name);
    if (ex <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return ex == 0 ? 1 : -1;
    }
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) {
        H5Eclear2(H5E_DEFAULT);
        return -1;
    }
    hid_t t = H5Aget_type(a), s = H5Aget_space(a);
    int rc = -1;
    if (t >= 0 && s >= 0) {
        H5T_class_t c = H5Tget_class(t);
        if ((c == H5T_INTEGER || c == H5T_FLOAT) && H5Sget_simple_extent_npoints(s) == n &&
            H5Aread(a, mtype, out) >= 0)
            rc = 0;
    }
    if (t >= 0)
        H5Tclose(t);
    if (s >= 0)
        H5Sclose(s);
    H5Aclose(a);
    H5Eclear2(H5E_DEFAULT);
    return rc;
}

/* ---- HDF5 writing helpers ----------------------------------------------------- */

static herr_t w_attr(hid_t obj, const char *name, hid_t ftype, hid_t mtype, hsize_t n,
                     const void *buf)
{
    hid_t s = n ? H5Screate_simple(1, &n, NULL) : H5Screate(H5S_SCALAR);
    if (s < 0)
        return -1;
    hid_t a = H5Acreate2(obj, name, ftype, s, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = -1;
    if (a >= 0) {
        rc = H5Awrite(a, mtype, buf);
        if (H5Aclose(a) < 0)
            rc = -1;
    }
    H5Sclose(s);
    return rc;
}

static herr_t w_attr_str(hid_t obj, const char *name, const char *value)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0)
        return -1;
    herr_t rc = -1;
    if (H5Tset_size(t, H5T_VARIABLE) >= 0 && H5Tset_cset(t, H5T_CSET_UTF8) >= 0)
        rc = w_attr(obj, name, t, t, 0, &value);
    H5Tclose(t);
    return rc;
}

static herr_t w_attr_f64(hid_t obj, const char *name, double v)
{
    return w_attr(obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 0, &v);
}

/* Writes the 1-D dataset name (n values of mtype from buf, stored as
 * ftype), with a units attribute when units. */
static herr_t w_ds(hid_t loc, const char *name, hid_t ftype, hid_t mtype, hsize_t n,
                   const void *buf, const char *units)
{
    hid_t s = H5Screate_simple(1, &n, NULL);
    if (s < 0)
        return -1;
    hid_t d = H5Dcreate2(loc, name, ftype, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = -1;
    if (d >= 0) {
        rc = n ? H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) : 0;
        if (rc >= 0 && units)
            rc = w_attr_str(d, "units", units);
        if (H5Dclose(d) < 0)
            rc = -1;
    }
    H5Sclose(s);
    return rc;
}

/* Creates path for writing in HDF5 1.8's file format: readable by every
 * current HDF5 (h5py, libsonata, bmtk), and its metadata carries checksums,
 * so a damaged file is refused by HDF5 instead of being misread. */
static hid_t create_h5(const char *path)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0)
        return H5I_INVALID_HID;
    hid_t fid = H5I_INVALID_HID;
    if (H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18) >= 0)
        fid = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    return fid;
}

/* A group creation property list that tracks link creation order, so the
 * reader sees populations in the order they were written. */
static hid_t ordered_gcpl(void)
{
    hid_t p = H5Pcreate(H5P_GROUP_CREATE);
    if (p >= 0 &&
        H5Pset_link_creation_order(p, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED) < 0) {
        H5Pclose(p);
        return H5I_INVALID_HID;
    }
    return p;
}

/* The SONATA header and nkshell's facts on the root of a file we write. */
static herr_t w_header(nk_net *net, hid_t fid)
{
    uint32_t magic = SONATA_MAGIC, version[2] = {0, 1};
    uint64_t seed = net->seed;
    if (w_attr(fid, "magic", H5T_STD_U32LE, H5T_NATIVE_UINT32, 0, &magic) < 0 ||
        w_attr(fid, "version", H5T_STD_U32LE, H5T_NATIVE_UINT32, 2, version) < 0 ||
        w_attr_str(fid, "nkshell_version", nk_version()) < 0 ||
        w_attr_f64(fid, "dt", net->dt) < 0 ||
        w_attr(fid, "seed", H5T_STD_U64LE, H5T_NATIVE_UINT64, 0, &seed) < 0 ||
        w_attr_str(fid, "precision", net->dbl ? "float64" : "float32") < 0)
        return -1;
    return 0;
}

/* ---- nk_save_model ------------------------------------------------------------- */

/* Column names that SONATA or this file reserve in the types files. */
static const char *const node_reserved[] = {"node_type_id", "population", "model_type",
                                            "model_template", "model_name", "dynamics_params",
                                            NULL};
static const char *const edge_reserved[] = {"edge_type_id", "population", "model_template",
                                            "receptor", "syn_weight", "delay", "nsyns",
                                            "dynamics_params", "model_name", NULL};

static int reserved(const char *const *list, const char *name)
{
    for (int k = 0; list[k]; k++)
        if (!strcmp(list[k], name))
            return 1;
    return 0;
}

/* The value of state k of neuron i of population p. */
static double state_at(const nk_net *net, const nk_pop *p, int k, int64_t i)
{
    int64_t e = nk_at(&p->lay, i);
    return net->dbl ? ((const double *)p->state[k])[e] : (double)((const float *)p->state[k])[e];
}

/* Writes nodes.h5 (to path): one node population per nkshell population. */
static int save_nodes(nk_net *net, const char *path, const char *shown)
{
    nk_ctx *ctx = net->ctx;
    h5why w;
    int rc = 0;
    hid_t fid = create_h5(path);
    if (fid < 0)
        return nk_fail(ctx, NK_EIO, "cannot create '%s'%s", shown, h5_why(&w));
    hid_t gcpl = ordered_gcpl(), nodes = H5I_INVALID_HID;
    int64_t nmax = 1;
    for (int k = 0; k < net->npops; k++)
        if (net->pops[k].n > nmax)
            nmax = net->pops[k].n;
    double *dv = malloc((size_t)nmax * sizeof *dv);
    uint64_t *uv = malloc((size_t)nmax * sizeof *uv);
    uint32_t *tv = malloc((size_t)nmax * sizeof *tv);
    if (!dv || !uv || !tv) {
        rc = nk_fail(ctx, NK_ENOMEM, "out of memory writing '%s'", shown);
        goto done;
    }
    if (gcpl < 0 || w_header(net, fid) < 0 ||
        (nodes = H5Gcreate2(fid, "nodes", H5P_DEFAULT, gcpl, H5P_DEFAULT)) < 0) {
        rc = nk_fail(ctx, NK_EIO, "cannot write '%s'%s", shown, h5_why(&w));
        goto done;
    }
    for (int k = 0; k < net->npops && !rc; k++) {
        const nk_pop *p = &net->pops[k];
        const nk_model *m = p->model;
        hid_t g = H5Gcreate2(nodes, p->name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        hid_t g0 = g >= 0 ? H5Gcreate2(g, "0", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT) : -1;
        hid_t dyn = g0 >= 0 ? H5Gcreate2(g0, "dynamics_params", H5P_DEFAULT, H5P_DEFAULT,
                                         H5P_DEFAULT)
                            : -1;
        herr_t e = dyn < 0 ? -1 : 0;
        e = e < 0 ? e : w_attr_str(g, "nk_model", m->name);
        if (e >= 0 && strcmp(p->method, m->method))
            e = w_attr_str(g, "nk_method", p->method);
        if (e >= 0 && (p->rtol != 1e-6 || p->atol != 1e-6)) {
            e = w_attr_f64(g, "nk_rtol", p->rtol);
            e = e < 0 ? e : w_attr_f64(g, "nk_atol", p->atol);
        }
        int64_t n = p->n;
        for (int64_t i = 0; i < n; i++) {
            uv[i] = (uint64_t)i;
            tv[i] = (uint32_t)(TYPE_ID_BASE + k);
        }
        e = e < 0 ? e : w_ds(g, "node_type_id", H5T_STD_U32LE, H5T_NATIVE_UINT32, n, tv, NULL);
        e = e < 0 ? e : w_ds(g, "node_id", H5T_STD_U64LE, H5T_NATIVE_UINT64, n, uv, NULL);
        e = e < 0 ? e : w_ds(g, "node_group_index", H5T_STD_U64LE, H5T_NATIVE_UINT64, n, uv, NULL);
        memset(tv, 0, (size_t)n * sizeof *tv);
        e = e < 0 ? e : w_ds(g, "node_group_id", H5T_STD_U32LE, H5T_NATIVE_UINT32, n, tv, NULL);
        const double *pos = nk_pop_positions(net, k);
        for (int c = 0; pos && c < 3 && e >= 0; c++) {
            for (int64_t i = 0; i < n; i++)
                dv[i] = pos[3 * i + c];
            e = w_ds(g0, c == 0 ? "x" : c == 1 ? "y" : "z", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, n,
                     dv, "um");
        }
        const int64_t *ids = nk_pop_ids(net, k);
        if (ids && e >= 0)
            e = w_ds(g0, "nk_id", H5T_STD_I64LE, H5T_NATIVE_INT64, n, ids, NULL);
        for (int s = 0; s < m->nstates && e >= 0; s++) {
            for (int64_t i = 0; i < n; i++)
                dv[i] = state_at(net, p, s, i);
            e = w_ds(dyn, m->sname[s], H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, n, dv, m->sunit[s]);
        }
        if (e < 0)
            rc = nk_fail(ctx, NK_EIO, "cannot write population '%s' to '%s'%s", p->name, shown,
                         h5_why(&w));
        if (dyn >= 0)
            H5Gclose(dyn);
        if (g0 >= 0)
            H5Gclose(g0);
        if (g >= 0)
            H5Gclose(g);
    }
done:
    free(dv);
    free(uv);
    free(tv);
    if (nodes >= 0)
        H5Gclose(nodes);
    if (gcpl >= 0)
        H5Pclose(gcpl);
    if (H5Fclose(fid) < 0 && !rc)
        rc = nk_fail(ctx, NK_EIO, "cannot write '%s'%s", shown, h5_why(&w));
    return rc;
}

/* Writes edges.h5 (to path): one edge population per projection. */
static int save_edges(nk_net *net, const char *path, const char *shown)
{
    nk_ctx *ctx = net->ctx;
    h5why w;
    int rc = 0;
    hid_t fid = create_h5(path);
    if (fid < 0)
        return nk_fail(ctx, NK_EIO, "cannot create '%s'%s", shown, h5_why(&w));
    hid_t gcpl = ordered_gcpl(), edges = H5I_INVALID_HID;
    if (gcpl < 0 || w_header(net, fid) < 0 ||
        (edges = H5Gcreate2(fid, "edges", H5P_DEFAULT, gcpl, H5P_DEFAULT)) < 0)
        rc = nk_fail(ctx, NK_EIO, "cannot write '%s'%s", shown, h5_why(&w));
    for (int k = 0; k < net->nprojs && !rc; k++) {
        nk_proj_info pi;
        if ((rc = nk_proj_get(net, k, &pi)))
            break;
        int64_t n = pi.nsyn;
        uint64_t *src = malloc((size_t)(n ? n : 1) * sizeof *src);
        uint64_t *dst = malloc((size_t)(n ? n : 1) * sizeof *dst);
        uint32_t *tv = malloc((size_t)(n ? n : 1) * sizeof *tv);
        double *dl = malloc((size_t)(n ? n : 1) * sizeof *dl);
        char *name = xasprintf("%s__%s__%d", net->pops[pi.pre.pop].name,
                               net->pops[pi.post.pop].name, k);
        if (!src || !dst || !tv || !dl || !name) {
            free(src), free(dst), free(tv), free(dl), free(name);
            rc = nk_fail(ctx, NK_ENOMEM, "out of memory writing '%s'", shown);
            break;
        }
        for (int64_t a = 0; a < pi.pre.hi - pi.pre.lo; a++)
            for (int64_t s = pi.row[a]; s < pi.row[a + 1]; s++)
                src[s] = (uint64_t)(pi.pre.lo + a);
        for (int64_t s = 0; s < n; s++) {
            dst[s] = pi.col[s];
            tv[s] = (uint32_t)(TYPE_ID_BASE + k);
            dl[s] = (double)pi.delay[s] * net->dt;
        }
        int64_t pr[2] = {pi.pre.lo, pi.pre.hi}, qr[2] = {pi.post.lo, pi.post.hi};
        int64_t tid = TYPE_ID_BASE + k;
        hid_t g = H5Gcreate2(edges, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        hid_t g0 = g >= 0 ? H5Gcreate2(g, "0", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT) : -1;
        herr_t e = g0 < 0 ? -1 : 0;
        e = e < 0 ? e : w_attr(g, "nk_pre_range", H5T_STD_I64LE, H5T_NATIVE_INT64, 2, pr);
        e = e < 0 ? e : w_attr(g, "nk_post_range", H5T_STD_I64LE, H5T_NATIVE_INT64, 2, qr);
        e = e < 0 ? e : w_attr(g, "nk_edge_type_id", H5T_STD_I64LE, H5T_NATIVE_INT64, 0, &tid);
        e = e < 0 ? e : w_ds(g, "source_node_id", H5T_STD_U64LE, H5T_NATIVE_UINT64, n, src, NULL);
        e = e < 0 ? e : w_ds(g, "target_node_id", H5T_STD_U64LE, H5T_NATIVE_UINT64, n, dst, NULL);
        e = e < 0 ? e : w_ds(g, "edge_type_id", H5T_STD_U32LE, H5T_NATIVE_UINT32, n, tv, NULL);
        for (int64_t s = 0; s < n; s++)
            src[s] = (uint64_t)s;
        e = e < 0 ? e : w_ds(g, "edge_group_index", H5T_STD_U64LE, H5T_NATIVE_UINT64, n, src, NULL);
        memset(tv, 0, (size_t)(n ? n : 1) * sizeof *tv);
        e = e < 0 ? e : w_ds(g, "edge_group_id", H5T_STD_U32LE, H5T_NATIVE_UINT32, n, tv, NULL);
        e = e < 0 ? e : w_ds(g0, "syn_weight", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, n, pi.w, NULL);
        e = e < 0 ? e : w_ds(g0, "delay", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, n, dl, "ms");
        if (e >= 0) {
            /* node_population on the id datasets */
            hid_t d1 = H5Dopen2(g, "source_node_id", H5P_DEFAULT);
            hid_t d2 = H5Dopen2(g, "target_node_id", H5P_DEFAULT);
            e = d1 < 0 || d2 < 0 ? -1 : 0;
            e = e < 0 ? e : w_attr_str(d1, "node_population", net->pops[pi.pre.pop].name);
            e = e < 0 ? e : w_attr_str(d2, "node_population", net->pops[pi.post.pop].name);
            if (d1 >= 0)
                H5Dclose(d1);
            if (d2 >= 0)
                H5Dclose(d2);
        }
        if (e < 0)
            rc = nk_fail(ctx, NK_EIO, "cannot write projection %d (%s) to '%s'%s", k + 1, name,
                         shown, h5_why(&w));
        if (g0 >= 0)
            H5Gclose(g0);
        if (g >= 0)
            H5Gclose(g);
        free(src), free(dst), free(tv), free(dl), free(name);
    }
    if (edges >= 0)
        H5Gclose(edges);
    if (gcpl >= 0)
        H5Pclose(gcpl);
    if (H5Fclose(fid) < 0 && !rc)
        rc = nk_fail(ctx, NK_EIO, "cannot write '%s'%s", shown, h5_why(&w));
    return rc;
}

/* Adds name to the list of columns (once). */
static int add_col(const char ***cols, int *n, const char *name)
{
    for (int k = 0; k < *n; k++)
        if (!strcmp((*cols)[k], name))
            return 0;
    const char **c = realloc(*cols, (size_t)(*n + 1) * sizeof *c);
    if (!c)
        return -1;
    c[(*n)++] = name;
    *cols = c;
    return 0;
}

static int close_text(nk_ctx *ctx, FILE *f, const char *shown)
{
    int bad = ferror(f);
    if (fclose(f) != 0 || bad)
        return nk_fail(ctx, NK_EIO, "cannot write '%s': %s", shown, strerror(errno ? errno : EIO));
    return 0;
}

/* node_types.csv: one row per population, the model's parameters as columns
 * (NULL where a population's model has no such parameter). */
static int save_node_types(nk_net *net, const char *path, const char *shown)
{
    nk_ctx *ctx = net->ctx;
    const char **cols = NULL;
    int ncols = 0;
    for (int k = 0; k < net->npops; k++) {
        const nk_model *m = net->pops[k].model;
        for (int j = 0; j < m->nparams; j++) {
            if (reserved(node_reserved, m->pname[j])) {
                free(cols);
                return nk_fail(ctx, NK_EINVAL,
                               "cannot save: parameter '%s' of model '%s' has the name of a "
                               "SONATA node_types.csv column",
                               m->pname[j], m->name);
            }
            if (add_col(&cols, &ncols, m->pname[j])) {
                free(cols);
                return nk_fail(ctx, NK_ENOMEM, "out of memory");
            }
        }
    }
    FILE *f = fopen(path, "w");
    if (!f) {
        free(cols);
        return nk_fail(ctx, NK_EIO, "cannot create '%s': %s", shown, strerror(errno));
    }
    fputs("node_type_id population model_type model_template", f);
    for (int c = 0; c < ncols; c++)
        csv_put(f, cols[c], 0);
    fputc('\n', f);
    for (int k = 0; k < net->npops; k++) {
        const nk_pop *p = &net->pops[k];
        char tmpl[256];
        snprintf(tmpl, sizeof tmpl, "nk:%s", p->model->name);
        fprintf(f, "%d", TYPE_ID_BASE + k);
        csv_put(f, p->name, 0);
        csv_put(f, "point_neuron", 0);
        csv_put(f, tmpl, 0);
        for (int c = 0; c < ncols; c++) {
            int j = nk_model_param_index0(p->model, cols[c]);
            if (j < 0)
                csv_put(f, NULL, 0);
            else
                csv_num(f, p->param[j]);
        }
        fputc('\n', f);
    }
    free(cols);
    return close_text(ctx, f, shown);
}

/* edge_types.csv: one row per projection: its synapse model, receptor and
 * the receptor's parameter values. */
static int save_edge_types(nk_net *net, const char *path, const char *shown)
{
    nk_ctx *ctx = net->ctx;
    const char **cols = NULL;
    int ncols = 0;
    for (int k = 0; k < net->nprojs; k++) {
        nk_proj_info pi;
        int rc = nk_proj_get(net, k, &pi);
        if (rc) {
            free(cols);
            return rc;
        }
        for (int j = 0; j < pi.nparams; j++) {
            if (reserved(edge_reserved, pi.param_names[j])) {
                free(cols);
                return nk_fail(ctx, NK_EINVAL,
                               "cannot save: parameter '%s' of synapse '%s' has the name of a "
                               "SONATA edge_types.csv column",
                               pi.param_names[j], pi.synapse);
            }
            if (add_col(&cols, &ncols, pi.param_names[j])) {
                free(cols);
                return nk_fail(ctx, NK_ENOMEM, "out of memory");
            }
        }
    }
    FILE *f = fopen(path, "w");
    if (!f) {
        free(cols);
        return nk_fail(ctx, NK_EIO, "cannot create '%s': %s", shown, strerror(errno));
    }
    fputs("edge_type_id population model_template receptor", f);
    for (int c = 0; c < ncols; c++)
        csv_put(f, cols[c], 0);
    fputc('\n', f);
    for (int k = 0; k < net->nprojs; k++) {
        nk_proj_info pi;
        nk_proj_get(net, k, &pi);
        char *name = xasprintf("%s__%s__%d", net->pops[pi.pre.pop].name,
                               net->pops[pi.post.pop].name, k);
        char *tmpl = xasprintf("nk:%s", pi.synapse);
        if (!name || !tmpl) {
            free(name);
            free(tmpl);
            fclose(f);
            free(cols);
            return nk_fail(ctx, NK_ENOMEM, "out of memory");
        }
        fprintf(f, "%d", TYPE_ID_BASE + k);
        csv_put(f, name, 0);
        csv_put(f, tmpl, 0);
        csv_put(f, pi.receptor, 0);
        for (int c = 0; c < ncols; c++) {
            int j;
            for (j = 0; j < pi.nparams; j++)
                if (!strcmp(pi.param_names[j], cols[c]))
                    break;
            if (j == pi.nparams)
                csv_put(f, NULL, 0);
            else
                csv_num(f, pi.param_values[j]);
        }
        fputc('\n', f);
        free(name);
        free(tmpl);
    }
    free(cols);
    return close_text(ctx, f, shown);
}

static int save_config(nk_net *net, const char *path, const char *shown)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return nk_fail(net->ctx, NK_EIO, "cannot create '%s': %s", shown, strerror(errno));
    fputs("{\n"
          "  \"target_simulator\": \"nkshell\",\n"
          "  \"manifest\": {\n"
          "    \"$BASE_DIR\": \".\"\n"
          "  },\n"
          "  \"components\": {},\n"
          "  \"networks\": {\n"
          "    \"nodes\": [\n"
          "      {\n"
          "        \"nodes_file\": \"$BASE_DIR/nodes.h5\",\n"
          "        \"node_types_file\": \"$BASE_DIR/node_types.csv\"\n"
          "      }\n"
          "    ],\n"
          "    \"edges\": [\n"
          "      {\n"
          "        \"edges_file\": \"$BASE_DIR/edges.h5\",\n"
          "        \"edge_types_file\": \"$BASE_DIR/edge_types.csv\"\n"
          "      }\n"
          "    ]\n"
          "  }\n"
          "}\n",
          f);
    return close_text(net->ctx, f, shown);
}

static const char *const saved_files[] = {"nodes.h5", "edges.h5", "node_types.csv",
                                          "edge_types.csv", "circuit_config.json"};

/* 0 when directory dir holds none of the files save_model writes, or holds
 * a model save_model wrote (its nodes.h5 has the nkshell_version attribute),
 * which a new save replaces; else an error: the directory holds someone
 * else's files of those names (a SONATA model loaded from there, say), which
 * a save would destroy. */
static int save_dir_ours(nk_ctx *ctx, const char *dir)
{
    char found[256] = "";
    int rc = 0;
    for (int k = 0; k < 5 && !rc; k++) {
        char *f = join(dir, saved_files[k]);
        struct stat st;
        if (!f)
            rc = nk_fail(ctx, NK_ENOMEM, "out of memory");
        else if (stat(f, &st) == 0) {
            size_t l = strlen(found);
            snprintf(found + l, sizeof found - l, "%s%s", l ? ", " : "", saved_files[k]);
        }
        free(f);
    }
    if (rc || !*found)
        return rc;
    char *nodes = join(dir, saved_files[0]);
    if (!nodes)
        return nk_fail(ctx, NK_ENOMEM, "out of memory");
    int ours = 0;
    hid_t fid = H5Fopen(nodes, H5F_ACC_RDONLY, H5P_DEFAULT); /* (quiet: not HDF5 is < 0) */
    if (fid >= 0) {
        ours = H5Aexists(fid, "nkshell_version") > 0;
        H5Fclose(fid);
    }
    free(nodes);
    if (ours)
        return 0;
    return nk_fail(ctx, NK_EINVAL,
                   "directory '%s' already holds %s, which net:save_model did not write (%s); "
                   "saving would replace them: give a new or empty directory, or remove them "
                   "first",
                   dir, found,
                   strstr(found, "nodes.h5") ? "its nodes.h5 has no nkshell_version attribute"
                                             : "it holds no nodes.h5");
}

int nk_save_model(nk_net *net, const char *dir)
{
    nk_ctx *ctx = net->ctx;
    if (!dir || !*dir)
        return nk_fail(ctx, NK_EINVAL, "save_model: expected a directory name");
    if (!is_dir(dir)) {
        if (mkdir(dir, 0777) != 0 && !(errno == EEXIST && is_dir(dir)))
            return nk_fail(ctx, NK_EIO, "cannot create directory '%s': %s", dir,
                           strerror(errno));
    }
    char *fin[5] = {NULL}, *part[5] = {NULL};
    int rc = 0;
    for (int k = 0; k < 5 && !rc; k++) {
        fin[k] = join(dir, saved_files[k]);
        part[k] = fin[k] ? xasprintf("%s.part", fin[k]) : NULL;
        if (!part[k])
            rc = nk_fail(ctx, NK_ENOMEM, "out of memory");
    }
    h5quiet q;
    quiet_on(&q);
    rc = rc ? rc : save_dir_ours(ctx, dir);
    /* Everything is written as NAME.part and renamed once all is written, so
     * a failure never leaves a half-written model under the final names. */
    rc = rc ? rc : save_nodes(net, part[0], fin[0]);
    rc = rc ? rc : save_edges(net, part[1], fin[1]);
    rc = rc ? rc : save_node_types(net, part[2], fin[2]);
    rc = rc ? rc : save_edge_types(net, part[3], fin[3]);
    rc = rc ? rc : save_config(net, part[4], fin[4]);
    for (int k = 0; k < 5 && !rc; k++)
        if (rename(part[k], fin[k]) != 0)
            rc = nk_fail(ctx, NK_EIO, "cannot rename '%s' to '%s': %s", part[k], fin[k],
                         strerror(errno));
    if (rc)
        for (int k = 0; k < 5; k++)
            if (part[k])
                unlink(part[k]);
    quiet_off(&q);
    for (int k = 0; k < 5; k++) {
        free(fin[k]);
        free(part[k]);
    }
    return rc;
}

/* ---- loading: what is read before the network changes ----------------------- */

/* One nkshell population to add (or, existing, one the network has: edges
 * of the files may refer to it by name). */
typedef struct ptype {
    char *name;
    int64_t type_id;
    int64_t n;
    const nk_model *model;
    char *method;            /* NULL: the model's */
    double rtol, atol;
    int has_tol;
    double *param;           /* model->nparams values */
    double *sconst;          /* per state: a value for every neuron (type level), if shas */
    unsigned char *shas;
    double **state;          /* per state: n values (per node), or NULL */
    double *pos;             /* 3n, or NULL */
    int64_t *ids;            /* n, or NULL */
    int existing;            /* a population of the network */
    int pop;                 /* its index in the network (after commit) */
    char *src;               /* "'file': /nodes/pop", for messages */
} ptype;

/* A node population of the files (or a network population edges refer to). */
typedef struct npop {
    char *file;
    char *name;
    int64_t n;
    int64_t *sorted, *at;    /* node_id values sorted, with the node each belongs to;
                                NULL when node ids are the indices */
    int32_t *tix;            /* per node: its ptype (L->types index) */
    int64_t *local;          /* per node: its index in that ptype */
    int single;              /* all nodes in one ptype, in order (tix/local NULL) */
    int t0;                  /* its first ptype */
    int existing;
} npop;

/* An edge type, resolved. */
typedef struct etype {
    int64_t id;
    char where[1024];         /* "'edge_types.csv' line 4", for messages */
    const nk_model *syn;     /* NULL: the target's default receptors */
    char *receptor;          /* NULL: "exc"/"inh" by the weight's sign */
    int np;
    const char **pname;      /* the synapse model's names (owned by the model) */
    double *pval;
    int has_w, has_d, has_ns;
    double w, d, ns;
} etype;

/* One projection to make. */
typedef struct pproj {
    int pre, post;           /* ptype indices */
    int64_t plo, phi, qlo, qhi;
    const nk_model *syn;
    char *receptor;
    int sign;                /* -1: inhibitory by default */
    int np;
    const char **pname;
    double *pval;
    int64_t n;
    int64_t *lpre, *lpost;   /* relative to plo, qlo */
    double *w, *d;           /* weight; delay in ms (< 0: one step) */
    double dmax;
    char where[1024];
} pproj;

/* A receptor as it will be, for the compatibility check before commit. */
typedef struct vrx {
    int type;                /* ptype index of the target */
    char *name;
    const nk_model *syn;     /* NULL: made from the model's defaults (values unknown here) */
    double *param;
    char where[1024];
} vrx;

typedef struct ld {
    nk_net *net;
    nk_ctx *ctx;
    const char *model;       /* default neuron model */
    const char *synapse;     /* default synapse model or NULL */
    char **nodes, **edges;
    int nnodes, nedges;
    int *nodes_ty, *edges_ty;    /* per file: its types table, or -1: all of them */
    char **nty_path, **ety_path;
    int nnty, nety;
    tytab *nty, *ety;
    char *neuron_dir, *synapse_dir;  /* components dirs (dynamics_params files) */
    npop *pops;
    int npops;
    ptype *types;
    int ntypes;
    pproj *projs;
    int nprojs;
    vrx *rx;
    int nrx;
} ld;

static void ptype_free(ptype *t)
{
    free(t->name);
    free(t->method);
    free(t->param);
    free(t->sconst);
    free(t->shas);
    if (t->state && t->model)
        for (int k = 0; k < t->model->nstates; k++)
            free(t->state[k]);
    free(t->state);
    free(t->pos);
    free(t->ids);
    free(t->src);
}

static void ld_free(ld *L)
{
    for (int k = 0; k < L->nnodes; k++)
        free(L->nodes[k]);
    for (int k = 0; k < L->nedges; k++)
        free(L->edges[k]);
    free(L->nodes);
    free(L->edges);
    free(L->nodes_ty);
    free(L->edges_ty);
    /* the paths are listed before the tables are read, and the tables are
     * not read at all when the caller asks for none (nk.load_model) or the
     * lists end in an error */
    for (int k = 0; k < L->nnty; k++) {
        free(L->nty_path[k]);
        if (L->nty)
            tytab_free(&L->nty[k]);
    }
    for (int k = 0; k < L->nety; k++) {
        free(L->ety_path[k]);
        if (L->ety)
            tytab_free(&L->ety[k]);
    }
    free(L->nty_path);
    free(L->ety_path);
    free(L->nty);
    free(L->ety);
    free(L->neuron_dir);
    free(L->synapse_dir);
    for (int k = 0; k < L->npops; k++) {
        npop *p = &L->pops[k];
        free(p->file);
        free(p->name);
        free(p->sorted);
        free(p->at);
        free(p->tix);
        free(p->local);
    }
    free(L->pops);
    for (int k = 0; k < L->ntypes; k++)
        ptype_free(&L->types[k]);
    free(L->types);
    for (int k = 0; k < L->nprojs; k++) {
        pproj *p = &L->projs[k];
        free(p->receptor);
        free(p->pval);
        free(p->lpre);
        free(p->lpost);
        free(p->w);
        free(p->d);
    }
    free(L->projs);
    for (int k = 0; k < L->nrx; k++) {
        free(L->rx[k].name);
        free(L->rx[k].param);
    }
    free(L->rx);
}

/* Appends a zeroed element to *arr (of *n elements of size bytes). The room
 * doubles when *n reaches a power of two (so *arr must only grow here):
 * 100000 projections must not mean 100000 copies of the array. */
static void *push(void *arr_, int *n, size_t size)
{
    void **arr = arr_;
    void *p = *arr;
    if ((*n & (*n - 1)) == 0 && !(p = realloc(*arr, (*n ? 2 * (size_t)*n : 1) * size)))
        return NULL;
    *arr = p;
    void *e = (char *)p + (size_t)*n * size;
    memset(e, 0, size);
    (*n)++;
    return e;
}

static int push_str(ld *L, char ***arr, int *n, const char *s)
{
    char *d = nk_strdup(s);
    char **slot = d ? push(arr, n, sizeof *slot) : NULL;
    if (!slot) {
        free(d);
        return nk_fail(L->ctx, NK_ENOMEM, "out of memory");
    }
    *slot = d;
    return 0;
}

/* ---- sources: circuit_config.json, a directory, or lists -------------------- */

/* Expands $VAR and ${VAR} from the manifest (keys are "$VAR") and
 * ${configdir}; a relative result is taken relative to the config's folder
 * (absolute). Returns a malloc'ed path or NULL with the message set. */
static char *cfg_path(ld *L, const char *cfg, const jv *manifest, const char *cfgdir,
                      const char *s)
{
    char *cur = nk_strdup(s);
    for (int round = 0; cur && round < 16 && strchr(cur, '$'); round++) {
        char *d = strchr(cur, '$');
        const char *nb = d + 1, *ne;
        int braces = *nb == '{';
        if (braces) {
            nb++;
            ne = strchr(nb, '}');
            if (!ne) {
                nk_fail(L->ctx, NK_EINVAL, "'%s': unterminated ${ in \"%s\"", cfg, s);
                free(cur);
                return NULL;
            }
        } else {
            ne = nb;
            while ((*ne >= 'A' && *ne <= 'Z') || (*ne >= 'a' && *ne <= 'z') ||
                   (*ne >= '0' && *ne <= '9') || *ne == '_')
                ne++;
        }
        char *var = xstrndup(nb, (size_t)(ne - nb));
        char *key = var ? xasprintf("$%s", var) : NULL;
        const char *val = NULL;
        if (var && !strcmp(var, "configdir"))
            val = cfgdir;
        const jv *mv = key ? jget(manifest, key) : NULL;
        if (!mv && var)
            mv = jget(manifest, var); /* a manifest written without the '$' */
        if (mv && mv->t == J_STR)
            val = mv->str;
        if (!var || !key) {
            free(var);
            free(key);
            free(cur);
            nk_fail(L->ctx, NK_ENOMEM, "out of memory");
            return NULL;
        }
        if (!val) {
            nk_fail(L->ctx, NK_EINVAL,
                    "'%s': \"%s\" uses $%s, which the manifest does not define", cfg, s, var);
            free(var);
            free(key);
            free(cur);
            return NULL;
        }
        char *next = xasprintf("%.*s%s%s", (int)(d - cur), cur, val, ne + (braces ? 1 : 0));
        free(var);
        free(key);
        free(cur);
        cur = next;
    }
    if (!cur) {
        nk_fail(L->ctx, NK_ENOMEM, "out of memory");
        return NULL;
    }
    if (strchr(cur, '$')) {
        nk_fail(L->ctx, NK_EINVAL, "'%s': \"%s\": manifest variables refer to each other in a loop",
                cfg, s);
        free(cur);
        return NULL;
    }
    char *r = join(cfgdir, cur);
    free(cur);
    if (!r)
        nk_fail(L->ctx, NK_ENOMEM, "out of memory");
    return r;
}

/* Reads the networks and components of a circuit config (or of the
 * circuit config a simulation config names as "network"). */
static int ld_config(ld *L, const char *cfg, int depth)
{
    char err[512];
    jv root;
    if (json_read(cfg, &root, err, sizeof err))
        return nk_fail(L->ctx, NK_EIO, "%s", err);
    int rc = 0;
    char *d = dir_of(cfg);
    char *cfgdir = d ? realpath(d, NULL) : NULL;
    free(d);
    if (!cfgdir) {
        jv_free(&root);
        return nk_fail(L->ctx, NK_EIO, "cannot resolve the folder of '%s': %s", cfg,
                       strerror(errno));
    }
    const jv *manifest = jget(&root, "manifest");
    const jv *nets = jget(&root, "networks");
    const jv *comp = jget(&root, "components");
    const jv *redirect = jget(&root, "network");
    if (!nets && redirect && redirect->t == J_STR && depth < 4) {
        char *p = cfg_path(L, cfg, manifest, cfgdir, redirect->str);
        rc = p ? ld_config(L, p, depth + 1) : NK_EINVAL;
        free(p);
        goto done;
    }
    if (root.t != J_OBJ || !nets || nets->t != J_OBJ) {
        rc = nk_fail(L->ctx, NK_EINVAL,
                     "'%s': no \"networks\" object (expected a SONATA circuit config naming "
                     "nodes and edges files)",
                     cfg);
        goto done;
    }
    static const char *const comps[] = {"point_neuron_models_dir", "synaptic_models_dir"};
    for (int k = 0; k < 2 && !rc; k++) {
        const jv *c = jget(comp, comps[k]);
        if (c && c->t == J_STR) {
            char *p = cfg_path(L, cfg, manifest, cfgdir, c->str);
            if (!p)
                rc = NK_EINVAL;
            else if (k == 0)
                L->neuron_dir = p;
            else
                L->synapse_dir = p;
        }
    }
    for (int e = 0; e < 2 && !rc; e++) {
        const char *list = e ? "edges" : "nodes";
        const char *fkey = e ? "edges_file" : "nodes_file";
        const char *tkey = e ? "edge_types_file" : "node_types_file";
        const jv *arr = jget(nets, list);
        if (!arr)
            continue;
        if (arr->t != J_ARR) {
            rc = nk_fail(L->ctx, NK_EINVAL, "'%s': networks.%s must be a list", cfg, list);
            break;
        }
        for (int i = 0; i < arr->n && !rc; i++) {
            const jv *fv = jget(&arr->item[i], fkey), *tv = jget(&arr->item[i], tkey);
            if (!fv || fv->t != J_STR) {
                rc = nk_fail(L->ctx, NK_EINVAL, "'%s': networks.%s[%d] has no \"%s\" (a file name)",
                             cfg, list, i + 1, fkey);
                break;
            }
            char *fp = cfg_path(L, cfg, manifest, cfgdir, fv->str);
            char *tp = fp && tv && tv->t == J_STR ? cfg_path(L, cfg, manifest, cfgdir, tv->str)
                                                  : NULL;
            if (!fp || (tv && tv->t == J_STR && !tp)) {
                free(fp);
                rc = NK_EINVAL;
                break;
            }
            int ti = -1;
            if (tp) {
                rc = push_str(L, e ? &L->ety_path : &L->nty_path, e ? &L->nety : &L->nnty, tp);
                ti = (e ? L->nety : L->nnty) - 1;
            }
            rc = rc ? rc : push_str(L, e ? &L->edges : &L->nodes, e ? &L->nedges : &L->nnodes, fp);
            if (!rc) {
                int **pair = e ? &L->edges_ty : &L->nodes_ty;
                int nf = e ? L->nedges : L->nnodes;
                int *np = realloc(*pair, (size_t)nf * sizeof *np);
                if (!np)
                    rc = nk_fail(L->ctx, NK_ENOMEM, "out of memory");
                else {
                    *pair = np;
                    np[nf - 1] = ti;
                }
            }
            free(fp);
            free(tp);
        }
    }
done:
    free(cfgdir);
    jv_free(&root);
    return rc;
}

/* Replaces the file list (and its pairing with types files) by lists given
 * in the options. */
static int ld_lists(ld *L, const char *const *files, int nfiles, const char *const *types,
                    int ntypes, int edges)
{
    char ***fl = edges ? &L->edges : &L->nodes, ***tl = edges ? &L->ety_path : &L->nty_path;
    int *fn = edges ? &L->nedges : &L->nnodes, *tn = edges ? &L->nety : &L->nnty;
    int **pair = edges ? &L->edges_ty : &L->nodes_ty;
    if (nfiles > 0) {
        for (int k = 0; k < *fn; k++)
            free((*fl)[k]);
        *fn = 0;
        free(*pair);
        *pair = NULL;
        for (int k = 0; k < nfiles; k++) {
            if (!files[k] || !*files[k])
                return nk_fail(L->ctx, NK_EINVAL, "%s file %d: expected a file name",
                               edges ? "edges" : "nodes", k + 1);
            int rc = push_str(L, fl, fn, files[k]);
            if (rc)
                return rc;
        }
    }
    if (ntypes > 0) {
        for (int k = 0; k < *tn; k++)
            free((*tl)[k]);
        *tn = 0;
        for (int k = 0; k < ntypes; k++) {
            if (!types[k] || !*types[k])
                return nk_fail(L->ctx, NK_EINVAL, "%s file %d: expected a file name",
                               edges ? "edge_types" : "node_types", k + 1);
            int rc = push_str(L, tl, tn, types[k]);
            if (rc)
                return rc;
        }
    }
    if (nfiles > 0 || ntypes > 0) {
        /* Given as lists: file k goes with types file k when the counts
         * match, else every file looks in every types file. */
        int *p = realloc(*pair, (size_t)(*fn ? *fn : 1) * sizeof *p);
        if (!p)
            return nk_fail(L->ctx, NK_ENOMEM, "out of memory");
        *pair = p;
        for (int k = 0; k < *fn; k++)
            p[k] = *fn == *tn ? k : -1;
    }
    return 0;
}

/* Finds the files (dir, then the lists of o) and, when tables, reads the
 * types files. */
static int ld_sources(ld *L, const char *dir, const nk_sonata_opts *o, int tables)
{
    int rc = 0;
    if (dir && *dir) {
        struct stat st;
        if (stat(dir, &st) != 0)
            return nk_fail(L->ctx, NK_EIO, "cannot open '%s': %s", dir, strerror(errno));
        if (S_ISREG(st.st_mode)) {
            /* A file: a nodes file, or a circuit config. */
            htri_t h5 = H5Fis_hdf5(dir);
            H5Eclear2(H5E_DEFAULT);
            if (h5 > 0) {
                const char *n1[] = {dir};
                rc = ld_lists(L, n1, 1, NULL, 0, 0);
            } else {
                rc = ld_config(L, dir, 0);
            }
        } else {
            char *cfg = join(dir, "circuit_config.json");
            char *nodes = join(dir, "nodes.h5"), *nt = join(dir, "node_types.csv");
            char *edges = join(dir, "edges.h5"), *et = join(dir, "edge_types.csv");
            if (!cfg || !nodes || !nt || !edges || !et)
                rc = nk_fail(L->ctx, NK_ENOMEM, "out of memory");
            else if (is_file(cfg))
                rc = ld_config(L, cfg, 0);
            else if (is_file(nodes)) {
                const char *n1[] = {nodes}, *t1[] = {nt}, *e1[] = {edges}, *u1[] = {et};
                rc = ld_lists(L, n1, 1, t1, is_file(nt), 0);
                if (!rc && is_file(edges))
                    rc = ld_lists(L, e1, 1, u1, is_file(et), 1);
            } else
                rc = nk_fail(L->ctx, NK_EIO,
                             "'%s' is not a SONATA circuit: it holds neither circuit_config.json "
                             "nor nodes.h5",
                             dir);
            free(cfg), free(nodes), free(nt), free(edges), free(et);
        }
    }
    if (!rc && o) {
        rc = ld_lists(L, o->nodes, o->nodes ? o->nnodes : 0, o->node_types,
                      o->node_types ? o->nnode_types : 0, 0);
        rc = rc ? rc
                : ld_lists(L, o->edges, o->edges ? o->nedges : 0, o->edge_types,
                           o->edge_types ? o->nedge_types : 0, 1);
    }
    if (!rc && L->nnodes == 0 && L->nedges == 0)
        rc = nk_fail(L->ctx, NK_EINVAL,
                     "load_sonata: no nodes or edges files (give a circuit directory, a "
                     "circuit_config.json, or nodes = {...})");
    if (rc || !tables)
        return rc;
    L->nty = calloc((size_t)(L->nnty ? L->nnty : 1), sizeof *L->nty);
    L->ety = calloc((size_t)(L->nety ? L->nety : 1), sizeof *L->ety);
    if (!L->nty || !L->ety)
        return nk_fail(L->ctx, NK_ENOMEM, "out of memory");
    for (int k = 0; k < L->nnty && !rc; k++)
        rc = tytab_read(L->ctx, L->nty_path[k], "node_type_id", &L->nty[k]);
    for (int k = 0; k < L->nety && !rc; k++)
        rc = tytab_read(L->ctx, L->ety_path[k], "edge_type_id", &L->ety[k]);
    return rc;
}

/* ---- types ---------------------------------------------------------------------- */

/* Finds a dynamics_params file named in a types file: absolute, in the
 * components folder, or beside the types file. */
static char *find_dyn(ld *L, const char *name, const char *compdir, const tytab *t, int row)
{
    char *tdir = dir_of(t->path);
    char *cand[3] = {NULL, NULL, NULL};
    cand[0] = name[0] == '/' ? nk_strdup(name) : NULL;
    if (name[0] != '/') {
        cand[1] = compdir ? join(compdir, name) : NULL;
        cand[2] = tdir ? join(tdir, name) : NULL;
    }
    char *found = NULL;
    for (int k = 0; k < 3 && !found; k++)
        if (cand[k] && is_file(cand[k])) {
            found = cand[k];
            cand[k] = NULL;
        }
    char kind[64];
    const char *what = NULL; /* a candidate that is there but not a file */
    for (int k = 0; k < 3 && !found && !what; k++)
        if (cand[k] && (what = not_regular(cand[k], kind, sizeof kind)))
            nk_fail(L->ctx, NK_EIO,
                    "'%s' line %d: dynamics_params file '%s' is %s (expected a JSON file of "
                    "parameter values)",
                    t->path, t->line[row], cand[k], what);
    if (!found && !what)
        nk_fail(L->ctx, NK_EIO,
                "'%s' line %d: dynamics_params file '%s' not found (looked %s%s%s%s%s)", t->path,
                t->line[row], name, compdir ? "in '" : "", compdir ? compdir : "",
                compdir ? "' and " : "", "beside the types file",
                compdir ? "" : "; a circuit_config.json's components can name its folder");
    for (int k = 0; k < 3; k++)
        free(cand[k]);
    free(tdir);
    return found;
}

/* A value for name: parameter k of m, or state s of m. Applies it to
 * param/sconst (either may be NULL). where names its origin for messages.
 * Returns 0, 1 when m has no such name, or an error. */
static int apply_value(ld *L, const nk_model *m, const char *name, double v, double *param,
                       double *sconst, unsigned char *shas, const char *where)
{
    int k = param ? nk_model_param_index(m, name) : -1;
    if (k >= 0) {
        char err[512];
        if (!isfinite(v))
            return nk_fail(L->ctx, NK_EINVAL, "%s: %s = %g: parameters must be finite numbers",
                           where, name, v);
        if (nk_model_check_param(m, k, v, err, sizeof err))
            return nk_fail(L->ctx, NK_EINVAL, "%s: %s", where, err);
        param[k] = v;
        return 0;
    }
    int s = sconst ? nk_model_state_index(m, name) : -1;
    if (s >= 0) {
        if (!isfinite(v))
            return nk_fail(L->ctx, NK_EINVAL, "%s: initial %s = %g: expected a finite number",
                           where, name, v);
        sconst[s] = v;
        shas[s] = 1;
        return 0;
    }
    return 1;
}

/* Applies a dynamics_params JSON file: numbers for the model's parameters
 * (and, for neurons, initial states); other keys are ignored. */
static int apply_dyn(ld *L, const nk_model *m, const char *compdir, const tytab *t, int row,
                     double *param, double *sconst, unsigned char *shas)
{
    const char *name = tycell(t, row, tycol(t, "dynamics_params"));
    if (!name)
        return 0;
    char *path = find_dyn(L, name, compdir, t, row);
    if (!path)
        return NK_EIO;
    char err[512];
    jv v;
    if (json_read(path, &v, err, sizeof err)) {
        free(path);
        return nk_fail(L->ctx, NK_EIO, "'%s' line %d: dynamics_params: %s", t->path, t->line[row],
                       err);
    }
    int rc = 0;
    if (v.t != J_OBJ)
        rc = nk_fail(L->ctx, NK_EINVAL, "'%s': expected a JSON object of parameter values", path);
    char where[600];
    snprintf(where, sizeof where, "'%s' (dynamics_params of '%s' line %d)", path, t->path,
             t->line[row]);
    for (int k = 0; k < v.n && !rc; k++) {
        const jv *x = &v.item[k];
        if (x->t != J_NUM && x->t != J_BOOL) {
            if (nk_model_param_index(m, v.key[k]) >= 0 ||
                (sconst && nk_model_state_index(m, v.key[k]) >= 0))
                rc = nk_fail(L->ctx, NK_EINVAL, "%s: %s must be a number", where, v.key[k]);
            continue;
        }
        int r = apply_value(L, m, v.key[k], x->num, param, sconst, shas, where);
        rc = r < 0 ? r : 0;
    }
    jv_free(&v);
    free(path);
    return rc;
}

/* The model name in a model_template "schema:resource" (the resource). */
static const char *template_resource(const char *t)
{
    const char *c = strchr(t, ':');
    return c ? c + 1 : t;
}

/* Resolves node type id of node population np (nodes file fi) into pt:
 * model, parameters, type-level initial states. */
static int ld_node_type(ld *L, int fi, const char *popname, const char *file, ptype *pt,
                        int64_t first_node)
{
    nk_ctx *ctx = L->ctx;
    tytab *t = NULL;
    int row = -1;
    if (L->nnty > 0) {
        row = ty_find(L->nty, L->nnty, L->nodes_ty[fi], pt->type_id, popname, &t);
        if (row < 0) {
            char files[512] = "";
            for (int k = 0; k < L->nnty; k++) {
                if (L->nodes_ty[fi] >= 0 && k != L->nodes_ty[fi])
                    continue;
                size_t l = strlen(files);
                snprintf(files + l, sizeof files - l, "%s'%s'", l ? ", " : "", L->nty[k].path);
            }
            return nk_fail(ctx, NK_EINVAL,
                           "'%s': /nodes/%s/node_type_id[%lld] = %lld is not a node type of %s "
                           "(expected a row with node_type_id %lld whose population column, if "
                           "any, is empty or '%s')",
                           file, popname, (long long)first_node, (long long)pt->type_id, files,
                           (long long)pt->type_id, popname);
        }
    }
    const char *tmpl = t ? tycell(t, row, tycol(t, "model_template")) : NULL;
    const char *mname = t ? tycell(t, row, tycol(t, "model_name")) : NULL;
    const char *mtype = t ? tycell(t, row, tycol(t, "model_type")) : NULL;
    const char *name;
    int virt = 0;
    char where[400];
    if (t)
        snprintf(where, sizeof where, "'%s' line %d", t->path, t->line[row]);
    else
        snprintf(where, sizeof where, "'%s': /nodes/%s", file, popname);
    if (tmpl)
        name = template_resource(tmpl);
    else if (mname)
        name = mname;
    else if (mtype && !strcmp(mtype, "virtual")) {
        name = "poisson";
        virt = 1;
    } else
        name = L->model;
    const nk_model *m = nk_model_find(ctx, name);
    if (!m) {
        char why[NK_ERRLEN];
        snprintf(why, sizeof why, "%s", ctx->err);
        if (tmpl)
            return nk_fail(ctx, NK_EINVAL, "%s: model_template '%s' of node type %lld: %s", where,
                           tmpl, (long long)pt->type_id, why);
        return nk_fail(ctx, NK_EINVAL, "%s: node type %lld: %s", where, (long long)pt->type_id,
                       why);
    }
    if (m->synapse)
        return nk_fail(ctx, NK_EINVAL,
                       "%s: node type %lld names '%s', a synapse model; nodes need a neuron model",
                       where, (long long)pt->type_id, name);
    pt->model = m;
    pt->param = malloc((size_t)(m->nparams ? m->nparams : 1) * sizeof *pt->param);
    pt->sconst = calloc((size_t)(m->nstates ? m->nstates : 1), sizeof *pt->sconst);
    pt->shas = calloc((size_t)(m->nstates ? m->nstates : 1), 1);
    pt->state = calloc((size_t)(m->nstates ? m->nstates : 1), sizeof *pt->state);
    if (!pt->param || !pt->sconst || !pt->shas || !pt->state)
        return nk_fail(ctx, NK_ENOMEM, "out of memory");
    memcpy(pt->param, m->pdef, (size_t)m->nparams * sizeof *pt->param);
    int rc = 0;
    if (virt && nk_model_param_index(m, "rate") >= 0)
        pt->param[nk_model_param_index(m, "rate")] = 0; /* silent until driven */
    if (t) {
        rc = apply_dyn(L, m, L->neuron_dir, t, row, pt->param, pt->sconst, pt->shas);
        for (int c = 0; c < t->ncol && !rc; c++) {
            const char *v = tycell(t, row, c);
            if (!v || reserved(node_reserved, t->col[c]))
                continue;
            if (nk_model_param_index(m, t->col[c]) < 0 && nk_model_state_index(m, t->col[c]) < 0)
                continue; /* another attribute (pop_name, ei, ...): not ours */
            double x;
            if (parse_num(v, &x))
                return nk_fail(ctx, NK_EINVAL, "%s: column '%s' = '%s' is not a number", where,
                               t->col[c], v);
            int r = apply_value(L, m, t->col[c], x, pt->param, pt->sconst, pt->shas, where);
            rc = r < 0 ? r : 0;
        }
    }
    return rc;
}

/* Resolves edge type et->id for edge population popname. */
static int ld_edge_type(ld *L, int fi, const char *popname, const char *file, etype *et,
                        int64_t first_edge)
{
    nk_ctx *ctx = L->ctx;
    tytab *t = NULL;
    int row = -1;
    if (L->nety > 0) {
        row = ty_find(L->ety, L->nety, L->edges_ty[fi], et->id, popname, &t);
        if (row < 0) {
            char files[512] = "";
            for (int k = 0; k < L->nety; k++) {
                if (L->edges_ty[fi] >= 0 && k != L->edges_ty[fi])
                    continue;
                size_t l = strlen(files);
                snprintf(files + l, sizeof files - l, "%s'%s'", l ? ", " : "", L->ety[k].path);
            }
            return nk_fail(ctx, NK_EINVAL,
                           "'%s': /edges/%s/edge_type_id[%lld] = %lld is not an edge type of %s "
                           "(expected a row with edge_type_id %lld whose population column, if "
                           "any, is empty or '%s')",
                           file, popname, (long long)first_edge, (long long)et->id, files,
                           (long long)et->id, popname);
        }
        snprintf(et->where, sizeof et->where, "'%s' line %d", t->path, t->line[row]);
    } else {
        snprintf(et->where, sizeof et->where, "'%s': /edges/%s", file, popname);
    }
    const char *tmpl = t ? tycell(t, row, tycol(t, "model_template")) : NULL;
    if (!tmpl && t)
        tmpl = tycell(t, row, tycol(t, "model_name"));
    const char *res = tmpl ? template_resource(tmpl) : NULL;
    const char *syn = NULL;
    if (res && strcmp(res, "static_synapse") && strcmp(res, "static_synapse_hom_w"))
        syn = res;
    else if (L->synapse)
        syn = L->synapse;
    if (syn) {
        const nk_model *m = nk_model_find(ctx, syn);
        if (!m) {
            char why[NK_ERRLEN];
            snprintf(why, sizeof why, "%s", ctx->err);
            return nk_fail(ctx, NK_EINVAL, "%s: %s '%s' of edge type %lld: %s", et->where,
                           res == syn ? "model_template" : "synapse", res == syn ? tmpl : syn,
                           (long long)et->id, why);
        }
        if (!m->synapse)
            return nk_fail(ctx, NK_EINVAL,
                           "%s: edge type %lld names '%s', a neuron model; edges need a synapse "
                           "model (or nest:static_synapse for the target's default receptors)",
                           et->where, (long long)et->id, syn);
        et->syn = m;
        et->pname = (const char **)m->pname;
        et->np = m->nparams;
        et->pval = malloc((size_t)(m->nparams ? m->nparams : 1) * sizeof *et->pval);
        if (!et->pval)
            return nk_fail(ctx, NK_ENOMEM, "out of memory");
        memcpy(et->pval, m->pdef, (size_t)m->nparams * sizeof *et->pval);
    }
    if (!t)
        return 0;
    const char *rx = tycell(t, row, tycol(t, "receptor"));
    if (rx && !(et->receptor = nk_strdup(rx)))
        return nk_fail(ctx, NK_ENOMEM, "out of memory");
    static const char *const nums[] = {"syn_weight", "delay", "nsyns"};
    for (int k = 0; k < 3; k++) {
        const char *v = tycell(t, row, tycol(t, nums[k]));
        if (!v)
            continue;
        double x;
        if (parse_num(v, &x))
            return nk_fail(ctx, NK_EINVAL, "%s: %s '%s' is not a number", et->where, nums[k], v);
        if (k == 0)
            et->w = x, et->has_w = 1;
        else if (k == 1)
            et->d = x, et->has_d = 1;
        else
            et->ns = x, et->has_ns = 1;
    }
    if (!et->syn)
        return 0; /* default receptors: their parameters come from the target's model */
    int rc = apply_dyn(L, et->syn, L->synapse_dir, t, row, et->pval, NULL, NULL);
    for (int c = 0; c < t->ncol && !rc; c++) {
        const char *v = tycell(t, row, c);
        if (!v || reserved(edge_reserved, t->col[c]) ||
            nk_model_param_index(et->syn, t->col[c]) < 0)
            continue;
        double x;
        if (parse_num(v, &x))
            return nk_fail(ctx, NK_EINVAL, "%s: column '%s' = '%s' is not a number", et->where,
                           t->col[c], v);
        int r = apply_value(L, et->syn, t->col[c], x, et->pval, NULL, NULL, et->where);
        rc = r < 0 ? r : 0;
    }
    return rc;
}

/* ---- nodes ------------------------------------------------------------------------ */

/* The datasets of one node or edge group that matter to us, read. */
typedef struct gcol {
    char *name;
    int dyn;                 /* under dynamics_params/ */
    double *v;               /* values (or NULL when iv) */
    int64_t *iv;             /* nk_id */
} gcol;

typedef struct ggrp {
    int64_t id;
    int64_t len;             /* rows, -1 when nothing was read */
    char first[300];         /* the dataset that gave len, relative to the group */
    int ncol;
    gcol *col;
} ggrp;

static void ggrp_free(ggrp *g, int n)
{
    for (int k = 0; g && k < n; k++) {
        for (int c = 0; c < g[k].ncol; c++) {
            free(g[k].col[c].name);
            free(g[k].col[c].v);
            free(g[k].col[c].iv);
        }
        free(g[k].col);
    }
    free(g);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Sorted distinct values of v[0..n) into *out (malloc'ed); returns count or
 * -1. Type and group ids are few among many nodes or edges: they are
 * gathered in a hash set, and only they are sorted. */
static int64_t distinct(const int64_t *v, int64_t n, int64_t **out)
{
    *out = NULL;
    size_t cap = 64;
    int64_t *set = malloc(cap * sizeof *set);
    unsigned char *used = calloc(cap, 1);
    int64_t m = 0;
    for (int64_t i = 0; set && used && i < n; i++) {
        if (i > 0 && v[i] == v[i - 1])
            continue;
        uint64_t h = (uint64_t)v[i] * 0x9E3779B97F4A7C15u;
        size_t at = (size_t)(h >> 7) & (cap - 1);
        while (used[at] && set[at] != v[i])
            at = (at + 1) & (cap - 1);
        if (used[at])
            continue;
        used[at] = 1;
        set[at] = v[i];
        if (++m * 2 > (int64_t)cap) {
            /* grow: rehash into twice the room */
            size_t nc = cap * 2;
            int64_t *ns = malloc(nc * sizeof *ns);
            unsigned char *nu = calloc(nc, 1);
            if (!ns || !nu) {
                free(ns);
                free(nu);
                free(set);
                free(used);
                return -1;
            }
            for (size_t k = 0; k < cap; k++) {
                if (!used[k])
                    continue;
                uint64_t h2 = (uint64_t)set[k] * 0x9E3779B97F4A7C15u;
                size_t a2 = (size_t)(h2 >> 7) & (nc - 1);
                while (nu[a2])
                    a2 = (a2 + 1) & (nc - 1);
                nu[a2] = 1;
                ns[a2] = set[k];
            }
            free(set);
            free(used);
            set = ns;
            used = nu;
            cap = nc;
        }
    }
    int64_t *s = set && used ? malloc((size_t)(m ? m : 1) * sizeof *s) : NULL;
    if (s) {
        int64_t j = 0;
        for (size_t k = 0; k < cap; k++)
            if (used[k])
                s[j++] = set[k];
        qsort(s, (size_t)m, sizeof *s, cmp_i64);
    }
    free(set);
    free(used);
    *out = s;
    return s ? m : -1;
}

static int64_t bsearch_i64(const int64_t *s, int64_t n, int64_t v)
{
    int64_t lo = 0, hi = n;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (s[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && s[lo] == v ? lo : -1;
}

/* Which group each node (edge) is in, and its row there: from
 * <kind>_group_id/_index when present, else the one group there is (row =
 * index), else none. Sets *groups (sorted distinct ids) and per element
 * *gsel (index into groups, or NULL when there are no groups) and *gidx. */
static int ld_groups(ld *L, const char *file, hid_t g, const char *where, const char *kind,
                     int64_t n, int64_t **groups, int64_t *ngroups, int32_t **gsel,
                     int64_t **gidx)
{
    nk_ctx *ctx = L->ctx;
    char nid[64], nix[64];
    snprintf(nid, sizeof nid, "%s_group_id", kind);
    snprintf(nix, sizeof nix, "%s_group_index", kind);
    *groups = NULL;
    *ngroups = 0;
    *gsel = NULL;
    *gidx = NULL;
    int hid = h5_has(g, nid), hix = h5_has(g, nix);
    int64_t *gid = NULL, m;
    int rc = 0;
    if (hid != hix)
        return nk_fail(ctx, NK_EINVAL, "'%s': %s has %s but no %s (SONATA needs both or neither)",
                       file, where, hid ? nid : nix, hid ? nix : nid);
    if (hid) {
        char what[64];
        snprintf(what, sizeof what, "one per %s, like %s_type_id", kind, kind);
        if ((rc = h5_read(ctx, file, g, where, nid, RD_INT, n, what, (void **)&gid, &m)) ||
            (rc = h5_read(ctx, file, g, where, nix, RD_INT, n, what, (void **)gidx, &m))) {
            free(gid);
            free(*gidx);
            *gidx = NULL;
            return rc;
        }
        int64_t ng = distinct(gid, n, groups);
        *gsel = malloc((size_t)(n ? n : 1) * sizeof **gsel);
        if (ng < 0 || !*gsel) {
            free(gid);
            return nk_fail(ctx, NK_ENOMEM, "out of memory");
        }
        *ngroups = ng;
        for (int64_t i = 0; i < n; i++) {
            (*gsel)[i] = (int32_t)bsearch_i64(*groups, ng, gid[i]);
            if ((*gidx)[i] < 0) {
                rc = nk_fail(ctx, NK_EINVAL, "'%s': %s/%s[%lld] = %lld: expected a row >= 0", file,
                             where, nix, (long long)i, (long long)(*gidx)[i]);
                break;
            }
        }
        for (int64_t k = 0; k < ng && !rc; k++) {
            char gn[32];
            snprintf(gn, sizeof gn, "%lld", (long long)(*groups)[k]);
            if (!h5_is_group(g, gn)) {
                int64_t i = 0;
                while (gid[i] != (*groups)[k])
                    i++;
                rc = nk_fail(ctx, NK_EINVAL, "'%s': %s/%s[%lld] = %lld names no group %s/%s", file,
                             where, nid, (long long)i, (long long)gid[i], where, gn);
            }
        }
        if (ng > 1000 && !rc)
            rc = nk_fail(ctx, NK_EINVAL, "'%s': %s/%s names %lld groups; at most 1000 are read",
                         file, where, nid, (long long)ng);
        free(gid);
        return rc;
    }
    /* No group ids: allowed when there is at most one group. */
    char **names;
    int nn = h5_children(g, &names);
    if (nn < 0)
        return nk_fail(ctx, NK_EIO, "'%s': cannot list %s", file, where);
    int found = 0;
    int64_t only = 0;
    for (int k = 0; k < nn; k++) {
        int64_t v;
        if (!parse_i64(names[k], &v) && h5_is_group(g, names[k])) {
            if (found++)
                rc = nk_fail(ctx, NK_EINVAL, "'%s': %s has groups %lld and %lld but no %s and %s "
                                             "saying which %s is in which",
                             file, where, (long long)only, (long long)v, nid, nix, kind);
            only = v;
        }
    }
    free_names(names, nn);
    if (rc || !found)
        return rc;
    *groups = malloc(sizeof **groups);
    *gsel = calloc((size_t)(n ? n : 1), sizeof **gsel);
    *gidx = malloc((size_t)(n ? n : 1) * sizeof **gidx);
    if (!*groups || !*gsel || !*gidx)
        return nk_fail(ctx, NK_ENOMEM, "out of memory");
    (*groups)[0] = only;
    *ngroups = 1;
    for (int64_t i = 0; i < n; i++)
        (*gidx)[i] = i;
    return 0;
}

/* Is the row of every node (edge) inside its group? G: the groups read,
 * gsel and gidx as ld_groups made them (gsel NULL: no groups). Without
 * <kind>_group_index node i is row i, so a group shorter than the
 * population is named as such. */
static int ld_check_rows(ld *L, const char *file, hid_t g, const char *where, const char *kind,
                         int64_t n, const ggrp *G, const int32_t *gsel, const int64_t *gidx)
{
    char nix[64];
    snprintf(nix, sizeof nix, "%s_group_index", kind);
    for (int64_t i = 0; i < n && gsel; i++) {
        const ggrp *gr = &G[gsel[i]];
        if (gr->len < 0 || gidx[i] < gr->len)
            continue;
        if (!h5_has(g, nix))
            return nk_fail(L->ctx, NK_EINVAL,
                           "'%s': %s/%lld/%s has %lld values; expected %lld, one per %s (%s has "
                           "no %s_group_id and %s, so %s i is row i of group %lld)",
                           file, where, (long long)gr->id, gr->first, (long long)gr->len,
                           (long long)n, kind, where, kind, nix, kind, (long long)gr->id);
        return nk_fail(L->ctx, NK_EINVAL,
                       "'%s': %s/%s[%lld] = %lld is outside group %lld (%lld rows)", file, where,
                       nix, (long long)i, (long long)gidx[i], (long long)gr->id,
                       (long long)gr->len);
    }
    return 0;
}

/* Does any of the models have a parameter or state called name? */
static int wanted(const nk_model *const *models, int nm, const char *name)
{
    for (int k = 0; k < nm; k++)
        if (nk_model_param_index(models[k], name) >= 0 ||
            nk_model_state_index(models[k], name) >= 0)
            return 1;
    return 0;
}

/* Reads from group G (path gpath) the datasets that matter: x, y, z, nk_id
 * (nodes), the names of the models' parameters and states (also under
 * dynamics_params/), or the listed names (edges). All must have one length.
 * Every dataset under a node group's dynamics_params/ is a per-node value
 * (SONATA): those the models do not use are checked (numbers, 1-D, the
 * group's length) but not read. */
static int ld_group_cols(ld *L, const char *file, hid_t parent, const char *gpath, ggrp *G,
                         const nk_model *const *models, int nm, const char *const *names)
{
    nk_ctx *ctx = L->ctx;
    char gname[32];
    snprintf(gname, sizeof gname, "%lld", (long long)G->id);
    G->len = -1;
    hid_t g = H5Gopen2(parent, gname, H5P_DEFAULT);
    if (g < 0) {
        h5why w;
        return nk_fail(ctx, NK_EIO, "'%s': cannot open group %s%s", file, gpath, h5_why(&w));
    }
    int rc = 0;
    const char *per = names ? "one per edge of the group" : "one per node of the group";
    for (int pass = 0; pass < 2 && !rc; pass++) {
        hid_t h = g;
        if (pass == 1) {
            if (names || !h5_has(g, "dynamics_params"))
                break;
            if (!h5_is_group(g, "dynamics_params")) {
                rc = nk_fail(ctx, NK_EINVAL,
                             "'%s': %s/dynamics_params is not a group (expected a group of "
                             "per-node datasets, one per parameter or state)",
                             file, gpath);
                break;
            }
            h = H5Gopen2(g, "dynamics_params", H5P_DEFAULT);
            if (h < 0) {
                H5Eclear2(H5E_DEFAULT);
                break;
            }
        }
        char **ch;
        int nch = h5_children(h, &ch);
        if (nch < 0)
            rc = nk_fail(ctx, NK_EIO, "'%s': cannot list %s", file, gpath);
        for (int c = 0; c < nch && !rc; c++) {
            const char *nmn = ch[c];
            int want = 0, isid = 0;
            if (names) {
                for (int k = 0; names[k]; k++)
                    want |= !strcmp(names[k], nmn);
            } else if (pass == 0 && (!strcmp(nmn, "x") || !strcmp(nmn, "y") || !strcmp(nmn, "z"))) {
                want = 1;
            } else if (pass == 0 && !strcmp(nmn, "nk_id")) {
                want = isid = 1;
            } else {
                want = wanted(models, nm, nmn);
            }
            if ((!want && pass == 0) || h5_is_group(h, nmn))
                continue;
            char where[600];
            snprintf(where, sizeof where, "%s%s", gpath, pass ? "/dynamics_params" : "");
            void *buf = NULL;
            int64_t len;
            rc = h5_read(ctx, file, h, where, nmn, isid ? RD_INT : RD_REAL, -1, per,
                         want ? &buf : NULL, &len);
            if (rc)
                break;
            if (want) {
                gcol *col = push(&G->col, &G->ncol, sizeof *col);
                if (!col || !(col->name = nk_strdup(nmn))) {
                    free(buf);
                    rc = nk_fail(ctx, NK_ENOMEM, "out of memory");
                    break;
                }
                col->dyn = pass;
                if (isid)
                    col->iv = buf;
                else
                    col->v = buf;
            }
            if (G->len >= 0 && len != G->len)
                rc = nk_fail(ctx, NK_EINVAL,
                             "'%s': %s/%s has %lld values but %s/%s has %lld (the datasets of a "
                             "group must have one length)",
                             file, where, nmn, (long long)len, gpath, G->first,
                             (long long)G->len);
            if (G->len < 0) {
                G->len = len;
                snprintf(G->first, sizeof G->first, "%s%s", pass ? "dynamics_params/" : "", nmn);
            }
        }
        free_names(ch, nch);
        if (h != g)
            H5Gclose(h);
    }
    H5Gclose(g);
    return rc;
}

/* The column of G for state (is_state) or parameter k of m, or NULL;
 * dynamics_params/ wins over the group itself, and x, y, z, nk_id in the
 * group are never states or parameters. */
static const gcol *match_col(const ggrp *G, const nk_model *m, int is_state, int k)
{
    const gcol *found = NULL;
    for (int c = 0; c < G->ncol; c++) {
        const gcol *col = &G->col[c];
        if (!col->v)
            continue;
        if (!col->dyn && (!strcmp(col->name, "x") || !strcmp(col->name, "y") ||
                          !strcmp(col->name, "z")))
            continue;
        int idx = is_state ? nk_model_state_index(m, col->name)
                           : nk_model_param_index(m, col->name);
        if (idx == k && (!found || col->dyn))
            found = col;
    }
    return found;
}

static const gcol *named_col(const ggrp *G, const char *name)
{
    for (int c = 0; c < G->ncol; c++)
        if (!G->col[c].dyn && !strcmp(G->col[c].name, name))
            return &G->col[c];
    return NULL;
}

/* The initial value state s of type T starts at without per-node data. */
static double state_default(const ptype *T, int s)
{
    const nk_model *m = T->model;
    if (T->shas[s])
        return T->sconst[s];
    return m->sinit_param[s] >= 0 ? T->param[m->sinit_param[s]] : m->sinit[s];
}

/* Reads node population name of nodes file fi into L. */
static int ld_node_pop(ld *L, int fi, hid_t nodes, const char *name)
{
    nk_ctx *ctx = L->ctx;
    const char *file = L->nodes[fi];
    char where[400];
    snprintf(where, sizeof where, "/nodes/%s", name);
    for (int k = 0; k < L->npops; k++)
        if (!strcmp(L->pops[k].name, name))
            return nk_fail(ctx, NK_EINVAL, "'%s': node population '%s' is also in '%s'", file,
                           name, L->pops[k].file);
    if (nk_pop_find(L->net, name) >= 0)
        return nk_fail(ctx, NK_EINVAL,
                       "'%s': node population '%s': a population called '%s' already exists in "
                       "this network (load into a new network, or rename one of them)",
                       file, name, name);
    if (strchr(name, '.'))
        return nk_fail(ctx, NK_EINVAL,
                       "'%s': node population '%s': nkshell population names may not contain '.'",
                       file, name);
    hid_t g = H5Gopen2(nodes, name, H5P_DEFAULT);
    if (g < 0) {
        h5why w;
        return nk_fail(ctx, NK_EIO, "'%s': cannot open %s%s", file, where, h5_why(&w));
    }
    int rc = 0;
    int64_t n = 0, m, *tid = NULL, *nodeid = NULL, *tys = NULL, *groups = NULL, *gidx = NULL;
    int32_t *gsel = NULL;
    int64_t ntys = 0, ngroups = 0;
    ggrp *G = NULL;
    const nk_model **models = NULL;
    int64_t *order = NULL, *tstart = NULL;
    const gcol **gcols = NULL;
    npop *np = push(&L->pops, &L->npops, sizeof *np);
    if (!np || !(np->file = nk_strdup(file)) || !(np->name = nk_strdup(name))) {
        rc = nk_fail(ctx, NK_ENOMEM, "out of memory");
        goto done;
    }
    if (!h5_has(g, "node_type_id")) {
        rc = nk_fail(ctx, NK_EINVAL,
                     "'%s': %s has no node_type_id dataset (every SONATA node population needs "
                     "one, with a type id per node)",
                     file, where);
        goto done;
    }
    if ((rc = h5_read(ctx, file, g, where, "node_type_id", RD_INT, -1, "one per node",
                      (void **)&tid, &n)))
        goto done;
    if (n == 0) {
        rc = nk_fail(ctx, NK_EINVAL, "'%s': %s/node_type_id is empty: the population has no "
                                     "nodes (an nkshell population needs at least one)",
                     file, where);
        goto done;
    }
    if (n > (int64_t)UINT32_MAX) {
        rc = nk_fail(ctx, NK_EINVAL, "'%s': %s has %lld nodes; at most %u per population", file,
                     where, (long long)n, UINT32_MAX);
        goto done;
    }
    np->n = n;
    /* node_id: keys of the nodes (edges refer to them); the index when absent. */
    if (h5_has(g, "node_id")) {
        if ((rc = h5_read(ctx, file, g, where, "node_id", RD_INT, n, "one per node, like "
                          "node_type_id", (void **)&nodeid, &m)))
            goto done;
        int identity = 1;
        for (int64_t i = 0; i < n && identity; i++)
            identity = nodeid[i] == i;
        if (!identity) {
            np->sorted = malloc((size_t)n * sizeof *np->sorted);
            np->at = malloc((size_t)n * sizeof *np->at);
            int64_t *pairs = malloc((size_t)n * 2 * sizeof *pairs);
            if (!np->sorted || !np->at || !pairs) {
                free(pairs);
                rc = nk_fail(ctx, NK_ENOMEM, "out of memory");
                goto done;
            }
            for (int64_t i = 0; i < n; i++) {
                pairs[2 * i] = nodeid[i];
                pairs[2 * i + 1] = i;
            }
            qsort(pairs, (size_t)n, 2 * sizeof *pairs, cmp_i64);
            for (int64_t i = 0; i < n && !rc; i++) {
                np->sorted[i] = pairs[2 * i];
                np->at[i] = pairs[2 * i + 1];
                if (i && np->sorted[i] == np->sorted[i - 1])
                    rc = nk_fail(ctx, NK_EINVAL,
                                 "'%s': %s/node_id: %lld is the id of two nodes (%lld and %lld); "
                                 "node ids must be distinct",
                                 file, where, (long long)np->sorted[i], (long long)np->at[i - 1],
                                 (long long)np->at[i]);
            }
            free(pairs);
            if (rc)
                goto done;
        }
    }
    /* Node types: one nkshell population each. */
    ntys = distinct(tid, n, &tys);
    np->tix = malloc((size_t)n * sizeof *np->tix);
    np->local = malloc((size_t)n * sizeof *np->local);
    if (ntys < 0 || !np->tix || !np->local) {
        rc = nk_fail(ctx, NK_ENOMEM, "out of memory");
        goto done;
    }
    int first = L->ntypes;
    np->t0 = first;
    if (ntys > 1000) {
        rc = nk_fail(ctx, NK_EINVAL, "'%s': %s has %lld node types; at most 1000 are supported",
                     file, where, (long long)ntys);
        goto done;
    }
    /* The first node of each type (named in messages), in one pass. */
    int64_t firstof[1000];
    for (int64_t i = n - 1; i >= 0; i--)
        firstof[bsearch_i64(tys, ntys, tid[i])] = i;
    for (int64_t k = 0; k < ntys && !rc; k++) {
        ptype *T = push(&L->types, &L->ntypes, sizeof *T);
        if (!T) {
            rc = nk_fail(ctx, NK_ENOMEM, "out of memory");
            break;
        }
        T->type_id = tys[k];
        T->pop = -1;
        T->name = ntys == 1 ? nk_strdup(name) : xasprintf("%s_%lld", name, (long long)tys[k]);
        T->src = xasprintf("'%s': %s", file, where);
        if (!T->name || !T->src) {
            rc = nk_fail(ctx, NK_ENOMEM, "out of memory");
            break;
        }
        rc = ld_node_type(L, fi, name, file, &L->types[first + k], firstof[k]);
    }
    if (rc)
        goto done;
    for (int64_t k = 0; k < ntys; k++) {
        ptype *T = &L->types[first + k];
        int taken = nk_pop_find(L->net, T->name) >= 0;
        for (int j = 0; j < first + k && !taken; j++)
            taken = !strcmp(L->types[j].name, T->name);
        if (taken) {
            rc = nk_fail(ctx, NK_EINVAL,
                         "'%s': %s, node type %lld: a population called '%s' already exists "
                         "(in this network or in the files)",
                         file, where, (long long)T->type_id, T->name);
            goto done;
        }
    }
    for (int64_t i = 0; i < n; i++) {
        int64_t k = bsearch_i64(tys, ntys, tid[i]);
        np->tix[i] = (int32_t)(first + k);
        np->local[i] = L->types[first + k].n++;
    }
    /* The population's own nkshell facts (files written by nk_save_model). */
    char *method = NULL;
    double tol[2];
    int hm = h5_attr_str(g, "nk_method", &method);
    if (hm < 0 || (hm == 0 && !nk_method_known(method))) {
        rc = nk_fail(ctx, NK_EINVAL, "'%s': %s: attribute nk_method %s%s%s: expected %s", file,
                     where, hm < 0 ? "is not a string" : "'", hm < 0 ? "" : method,
                     hm < 0 ? "" : "'", NK_METHODS);
        free(method);
        goto done;
    }
    int ht = h5_attr_num(g, "nk_rtol", H5T_NATIVE_DOUBLE, 1, &tol[0]);
    ht = ht ? ht : h5_attr_num(g, "nk_atol", H5T_NATIVE_DOUBLE, 1, &tol[1]);
    if (ht == 0 && !(tol[0] > 0 && tol[1] > 0 && isfinite(tol[0]) && isfinite(tol[1]))) {
        free(method);
        rc = nk_fail(ctx, NK_EINVAL, "'%s': %s: nk_rtol = %g, nk_atol = %g: expected positive "
                                     "numbers",
                     file, where, tol[0], tol[1]);
        goto done;
    }
    for (int64_t k = 0; k < ntys && !rc; k++) {
        ptype *T = &L->types[first + k];
        if (method && !(T->method = nk_strdup(method)))
            rc = nk_fail(ctx, NK_ENOMEM, "out of memory");
        if (ht == 0) {
            T->has_tol = 1;
            T->rtol = tol[0];
            T->atol = tol[1];
        }
    }
    free(method);
    if (rc)
        goto done;
    /* Groups: per-node attributes. */
    if ((rc = ld_groups(L, file, g, where, "node", n, &groups, &ngroups, &gsel, &gidx)))
        goto done;
    models = malloc((size_t)ntys * sizeof *models);
    G = calloc((size_t)(ngroups ? ngroups : 1), sizeof *G);
    if (!models || !G) {
        rc = nk_fail(ctx, NK_ENOMEM, "out of memory");
        goto done;
    }
    for (int64_t k = 0; k < ntys; k++)
        models[k] = L->types[first + k].model;
    for (int64_t k = 0; k < ngroups && !rc; k++) {
        char gpath[500];
        G[k].id = groups[k];
        snprintf(gpath, sizeof gpath, "%s/%lld", where, (long long)groups[k]);
        rc = ld_group_cols(L, file, g, gpath, &G[k], models, (int)ntys, NULL);
        const gcol *x = named_col(&G[k], "x"), *y = named_col(&G[k], "y"),
                   *z = named_col(&G[k], "z");
        if (!rc && (x || y || z) && !(x && y && z)) {
            /* "has x and y but not z", "has z but not x or y" */
            const char *xyz[3] = {"x", "y", "z"}, *has[3], *lacks[3];
            const int on[3] = {x != NULL, y != NULL, z != NULL};
            int nh = 0, nl = 0;
            for (int c = 0; c < 3; c++) {
                if (on[c])
                    has[nh++] = xyz[c];
                else
                    lacks[nl++] = xyz[c];
            }
            rc = nk_fail(ctx, NK_EINVAL, "'%s': %s has %s%s%s but not %s%s%s: positions need all "
                                         "three of x, y, z (um)",
                         file, gpath, has[0], nh > 1 ? " and " : "", nh > 1 ? has[1] : "",
                         lacks[0], nl > 1 ? " or " : "", nl > 1 ? lacks[1] : "");
        }
    }
    if (rc || (rc = ld_check_rows(L, file, g, where, "node", n, G, gsel, gidx)))
        goto done;
    /* Per type: positions, ids, parameters (uniform), initial states. The
     * nodes of each type in order, and per group the columns that matter,
     * are found once (files with a million nodes and a hundred types). */
    order = malloc((size_t)n * sizeof *order);
    tstart = calloc((size_t)ntys + 1, sizeof *tstart);
    gcols = calloc((size_t)(ngroups ? ngroups : 1) * 4, sizeof *gcols);
    if (!order || !tstart || !gcols) {
        rc = nk_fail(ctx, NK_ENOMEM, "out of memory");
        goto done;
    }
    for (int64_t i = 0; i < n; i++)
        tstart[np->tix[i] - first + 1]++;
    for (int64_t k = 0; k < ntys; k++)
        tstart[k + 1] += tstart[k];
    for (int64_t i = 0; i < n; i++)
        order[tstart[np->tix[i] - first] + np->local[i]] = i;
    for (int64_t g2 = 0; g2 < ngroups; g2++) {
        gcols[4 * g2] = named_col(&G[g2], "x");
        gcols[4 * g2 + 1] = named_col(&G[g2], "y");
        gcols[4 * g2 + 2] = named_col(&G[g2], "z");
        gcols[4 * g2 + 3] = named_col(&G[g2], "nk_id");
    }
    for (int64_t k = 0; k < ntys && !rc; k++) {
        ptype *T = &L->types[first + k];
        const nk_model *mo = T->model;
        const int64_t *nodes_k = order + tstart[k];
        int64_t have_pos = 0, have_id = 0;
        for (int64_t j = 0; j < T->n && gsel; j++) {
            have_pos += gcols[4 * gsel[nodes_k[j]]] != NULL;
            have_id += gcols[4 * gsel[nodes_k[j]] + 3] != NULL;
        }
        if ((have_pos && have_pos < T->n) || (have_id && have_id < T->n)) {
            rc = nk_fail(ctx, NK_EINVAL,
                         "'%s': %s, node type %lld: %lld of its %lld nodes have %s; expected all "
                         "or none",
                         file, where, (long long)T->type_id,
                         (long long)(have_pos && have_pos < T->n ? have_pos : have_id),
                         (long long)T->n, have_pos && have_pos < T->n ? "x, y, z" : "nk_id");
            break;
        }
        if (have_pos && !(T->pos = malloc((size_t)T->n * 3 * sizeof *T->pos)))
            rc = nk_fail(ctx, NK_ENOMEM, "out of memory");
        int useid = have_id || np->sorted || ntys > 1;
        if (!rc && useid && !(T->ids = malloc((size_t)T->n * sizeof *T->ids)))
            rc = nk_fail(ctx, NK_ENOMEM, "out of memory");
        for (int64_t j = 0; j < T->n && !rc; j++) {
            int64_t i = nodes_k[j];
            const gcol *const *gc = gsel ? &gcols[4 * gsel[i]] : NULL;
            if (have_pos) {
                for (int c = 0; c < 3; c++) {
                    double x = gc[c]->v[gidx[i]];
                    T->pos[3 * j + c] = x;
                    if (!isfinite(x)) {
                        rc = nk_fail(ctx, NK_EINVAL,
                                     "'%s': %s/%lld/%c[%lld] = %g: expected a finite position (um)",
                                     file, where, (long long)G[gsel[i]].id, "xyz"[c],
                                     (long long)gidx[i], x);
                        break;
                    }
                }
            }
            if (useid)
                T->ids[j] = have_id ? gc[3]->iv[gidx[i]] : nodeid ? nodeid[i] : i;
        }
        if (rc)
            break;
        if (!gsel)
            continue; /* no groups: no per-node values */
        /* The group columns of this type's parameters and states. */
        int nv = mo->nparams + mo->nstates;
        const gcol **vc = calloc((size_t)(ngroups * (nv ? nv : 1)), sizeof *vc);
        if (!vc) {
            rc = nk_fail(ctx, NK_ENOMEM, "out of memory");
            break;
        }
        for (int64_t g2 = 0; g2 < ngroups; g2++)
            for (int v = 0; v < nv; v++)
                vc[g2 * nv + v] = v < mo->nparams ? match_col(&G[g2], mo, 0, v)
                                                  : match_col(&G[g2], mo, 1, v - mo->nparams);
        /* Parameters given per node must be one value for the whole type. */
        for (int p = 0; p < mo->nparams && !rc; p++) {
            int64_t at = -1;
            double v = 0;
            for (int64_t j = 0; j < T->n && !rc; j++) {
                int64_t i = nodes_k[j];
                const gcol *c = vc[gsel[i] * nv + p];
                if (!c)
                    continue;
                double x = c->v[gidx[i]];
                if (!isfinite(x)) { /* NaN differs from every value, itself included */
                    rc = nk_fail(ctx, NK_EINVAL,
                                 "'%s': %s/%lld/%s%s[%lld] = %g (node %lld): parameter '%s' is %s; "
                                 "expected a finite number",
                                 file, where, (long long)G[gsel[i]].id,
                                 c->dyn ? "dynamics_params/" : "", c->name, (long long)gidx[i], x,
                                 (long long)i, mo->pname[p],
                                 isnan(x) ? "not a number" : "infinite");
                } else if (at < 0) {
                    at = i;
                    v = x;
                } else if (!(x == v)) {
                    rc = nk_fail(ctx, NK_EINVAL,
                                 "'%s': %s/%lld/%s%s: nodes %lld and %lld of node type %lld have "
                                 "different values (%g and %g); nkshell parameters are shared by "
                                 "a population (give each value its own node type)",
                                 file, where, (long long)G[gsel[i]].id,
                                 c->dyn ? "dynamics_params/" : "", c->name, (long long)at,
                                 (long long)i, (long long)T->type_id, v, x);
                }
            }
            if (at >= 0 && !rc) {
                char w2[600];
                snprintf(w2, sizeof w2, "'%s': %s, node %lld", file, where, (long long)at);
                rc = apply_value(L, mo, mo->pname[p], v, T->param, NULL, NULL, w2);
            }
        }
        /* Initial states per node. */
        for (int st = 0; st < mo->nstates && !rc; st++) {
            for (int64_t j = 0; j < T->n && !rc; j++) {
                int64_t i = nodes_k[j];
                const gcol *c = vc[gsel[i] * nv + mo->nparams + st];
                if (!c)
                    continue;
                if (!T->state[st]) {
                    T->state[st] = malloc((size_t)T->n * sizeof *T->state[st]);
                    if (!T->state[st]) {
                        rc = nk_fail(ctx, NK_ENOMEM, "out of memory");
                        break;
                    }
                    double d = state_default(T, st);
                    for (int64_t q = 0; q < T->n; q++)
                        T->state[st][q] = d;
                }
                double x = c->v[gidx[i]];
                if (!isfinite(x))
                    rc = nk_fail(ctx, NK_EINVAL,
                                 "'%s': %s/%lld/%s%s[%lld] = %g: expected a finite initial value",
                                 file, where, (long long)G[gsel[i]].id,
                                 c->dyn ? "dynamics_params/" : "", c->name, (long long)gidx[i], x);
                T->state[st][j] = x;
            }
        }
        free(vc);
    }
    if (!rc && ntys == 1) {
        np->single = 1;
        free(np->tix);
        free(np->local);
        np->tix = NULL;
        np->local = NULL;
    }
done:
    free(tid);
    free(nodeid);
    free(tys);
    free(groups);
    free(gsel);
    free(gidx);
    free(models);
    free(order);
    free(tstart);
    free(gcols);
    ggrp_free(G, (int)ngroups);
    H5Gclose(g);
    return rc;
}

/* Opens an HDF5 file of ours to read, with a message when it is missing or
 * not HDF5. */
static hid_t open_h5(nk_ctx *ctx, const char *file, int *rc)
{
    struct stat st;
    h5why w;
    if (stat(file, &st) != 0) {
        *rc = nk_fail(ctx, NK_EIO, "cannot open '%s': %s", file, strerror(errno));
        return H5I_INVALID_HID;
    }
    char kind[64];
    if (not_regular(file, kind, sizeof kind)) {
        *rc = nk_fail(ctx, NK_EIO, "cannot read '%s': it is %s", file, kind);
        return H5I_INVALID_HID;
    }
    htri_t is = H5Fis_hdf5(file);
    if (is <= 0) {
        H5Eclear2(H5E_DEFAULT);
        *rc = nk_fail(ctx, NK_EIO, "'%s' is not an HDF5 file (expected SONATA HDF5)", file);
        return H5I_INVALID_HID;
    }
    hid_t fid = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (fid < 0)
        *rc = nk_fail(ctx, NK_EIO, "cannot open '%s'%s", file, h5_why(&w));
    return fid;
}


/* ---- edges ------------------------------------------------------------------------ */

/* The node population called name: one of the files', else a population of
 * the network (neuron i is node id i). Returns its index in L->pops, or -1
 * when there is none. */
static int ld_ref(ld *L, const char *name)
{
    for (int k = 0; k < L->npops; k++)
        if (!strcmp(L->pops[k].name, name))
            return k;
    int pop = nk_pop_find(L->net, name);
    if (pop < 0)
        return -1;
    npop *np = push(&L->pops, &L->npops, sizeof *np);
    ptype *T = np ? push(&L->types, &L->ntypes, sizeof *T) : NULL;
    if (!T || !(np->name = nk_strdup(name)) || !(T->name = nk_strdup(name))) {
        nk_fail(L->ctx, NK_ENOMEM, "out of memory");
        return -2;
    }
    np->existing = 1;
    np->single = 1;
    np->n = nk_pop_size(L->net, pop);
    np->t0 = L->ntypes - 1;
    T->existing = 1;
    T->pop = pop;
    T->n = np->n;
    T->model = nk_pop_model(L->net, pop);
    return L->npops - 1;
}

/* Maps node id v of node population np to (ptype, index); -1 when it is
 * not a node of it. */
static int node_of(const ld *L, const npop *np, int64_t v, int32_t *t, int64_t *l)
{
    int64_t i = v;
    if (np->sorted) {
        int64_t k = bsearch_i64(np->sorted, np->n, v);
        if (k < 0)
            return -1;
        i = np->at[k];
    } else if (v < 0 || v >= np->n) {
        return -1;
    }
    (void)L;
    if (np->single) {
        *t = np->t0;
        *l = i;
    } else {
        *t = np->tix[i];
        *l = np->local[i];
    }
    return 0;
}

typedef struct erec {
    int32_t pre, post, et;
    int32_t sign;
    int64_t idx;
} erec;

static int cmp_erec(const void *a, const void *b)
{
    const erec *x = a, *y = b;
    if (x->pre != y->pre)
        return x->pre < y->pre ? -1 : 1;
    if (x->post != y->post)
        return x->post < y->post ? -1 : 1;
    if (x->et != y->et)
        return x->et < y->et ? -1 : 1;
    if (x->sign != y->sign)
        return x->sign > y->sign ? -1 : 1; /* excitatory first */
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Delay in ms to steps, as nk_connect rounds it. */
static double delay_steps(double d, double dt)
{
    double q = d / dt;
    double s = floor(q + 0.5 + 1e-9 * (q > 1 ? q : 1));
    return s < 1 ? 1 : s;
}

static void etypes_free(etype *e, int64_t n)
{
    for (int64_t k = 0; e && k < n; k++) {
        free(e[k].receptor);
        free(e[k].pval);
    }
    free(e);
}

/* The node population an id dataset refers to (its node_population). */
static int ld_endpoint(ld *L, const char *file, hid_t g, const char *where, const char *ds,
                       int *out)
{
    hid_t d = H5Dopen2(g, ds, H5P_DEFAULT);
    char *pn = NULL;
    int a = d >= 0 ? h5_attr_str(d, "node_population", &pn) : -1;
    if (d >= 0)
        H5Dclose(d);
    H5Eclear2(H5E_DEFAULT);
    if (a < 0)
        return nk_fail(L->ctx, NK_EINVAL,
                       "'%s': %s/%s: attribute node_population is not a string (expected the "
                       "name of the node population its ids are in)",
                       file, where, ds);
    if (a == 1) {
        /* Missing: fine when the files hold a single node population. */
        int only = -1, count = 0;
        for (int k = 0; k < L->npops; k++)
            if (!L->pops[k].existing) {
                only = k;
                count++;
            }
        if (count != 1)
            return nk_fail(L->ctx, NK_EINVAL,
                           "'%s': %s/%s has no node_population attribute (expected the name of "
                           "the node population its ids are in)",
                           file, where, ds);
        *out = only;
        return 0;
    }
    int k = ld_ref(L, pn);
    if (k == -1) {
        char list[512] = "";
        for (int j = 0; j < L->npops; j++) {
            size_t l = strlen(list);
            snprintf(list + l, sizeof list - l, "%s'%s'", l ? ", " : "", L->pops[j].name);
        }
        nk_fail(L->ctx, NK_EINVAL,
                "'%s': %s/%s: node_population '%s' is neither a node population of the nodes "
                "files (%s) nor a population of this network",
                file, where, ds, pn, list[0] ? list : "none");
    }
    free(pn);
    if (k < 0)
        return NK_EINVAL;
    *out = k;
    return 0;
}

static int ld_edge_pop(ld *L, int fi, hid_t edges, const char *name)
{
    nk_ctx *ctx = L->ctx;
    const char *file = L->edges[fi];
    char where[400];
    snprintf(where, sizeof where, "/edges/%s", name);
    hid_t g = H5Gopen2(edges, name, H5P_DEFAULT);
    if (g < 0) {
        h5why w;
        return nk_fail(ctx, NK_EIO, "'%s': cannot open %s%s", file, where, h5_why(&w));
    }
    int rc = 0;
    int64_t n = 0, m, *src = NULL, *dst = NULL, *tid = NULL, *tys = NULL, *groups = NULL,
            *gidx = NULL, ntys = 0, ngroups = 0;
    int32_t *gsel = NULL;
    ggrp *G = NULL;
    const gcol **gcols = NULL;
    etype *ET = NULL;
    erec *rec = NULL;
    double *wv = NULL, *dv = NULL;
    static const char *const need[] = {"source_node_id", "target_node_id", "edge_type_id"};
    for (int k = 0; k < 3 && !rc; k++)
        if (!h5_has(g, need[k]))
            rc = nk_fail(ctx, NK_EINVAL,
                         "'%s': %s has no %s dataset (SONATA edge populations need "
                         "source_node_id, target_node_id and edge_type_id)",
                         file, where, need[k]);
    if (rc)
        goto done;
    if ((rc = h5_read(ctx, file, g, where, "source_node_id", RD_INT, -1, "one per edge",
                      (void **)&src, &n)) ||
        (rc = h5_read(ctx, file, g, where, "target_node_id", RD_INT, n,
                      "one per edge, like source_node_id", (void **)&dst, &m)) ||
        (rc = h5_read(ctx, file, g, where, "edge_type_id", RD_INT, n,
                      "one per edge, like source_node_id", (void **)&tid, &m)))
        goto done;
    int sp, tp;
    if ((rc = ld_endpoint(L, file, g, where, "source_node_id", &sp)) ||
        (rc = ld_endpoint(L, file, g, where, "target_node_id", &tp)))
        goto done;
    if ((rc = ld_groups(L, file, g, where, "edge", n, &groups, &ngroups, &gsel, &gidx)))
        goto done;
    G = calloc((size_t)(ngroups ? ngroups : 1), sizeof *G);
    if (!G) {
        rc = nk_fail(ctx, NK_ENOMEM, "out of memory");
        goto done;
    }
    static const char *const cols[] = {"syn_weight", "delay", "nsyns", NULL};
    for (int64_t k = 0; k < ngroups && !rc; k++) {
        char gpath[500];
        G[k].id = groups[k];
        snprintf(gpath, sizeof gpath, "%s/%lld", where, (long long)groups[k]);
        rc = ld_group_cols(L, file, g, gpath, &G[k], NULL, 0, cols);
    }
    if (rc || (rc = ld_check_rows(L, file, g, where, "edge", n, G, gsel, gidx)))
        goto done;
    /* The nkshell facts of files written by nk_save_model. */
    int64_t pr[2], qr[2], own_type;
    int has_pr = h5_attr_num(g, "nk_pre_range", H5T_NATIVE_INT64, 2, pr) == 0;
    int has_qr = h5_attr_num(g, "nk_post_range", H5T_NATIVE_INT64, 2, qr) == 0;
    int has_own = h5_attr_num(g, "nk_edge_type_id", H5T_NATIVE_INT64, 1, &own_type) == 0;
    /* Edge types. */
    if (n == 0 && has_own) {
        free(tid);
        tid = malloc(sizeof *tid);
        if (!tid) {
            rc = nk_fail(ctx, NK_ENOMEM, "out of memory");
            goto done;
        }
        tid[0] = own_type;
        ntys = distinct(tid, 1, &tys);
    } else {
        ntys = distinct(tid, n, &tys);
    }
    if (ntys > 100000) {
        rc = nk_fail(ctx, NK_EINVAL, "'%s': %s has %lld edge types; at most 100000 are supported",
                     file, where, (long long)ntys);
        goto done;
    }
    ET = calloc((size_t)(ntys > 0 ? ntys : 1), sizeof *ET);
    if (ntys < 0 || !ET) {
        rc = nk_fail(ctx, NK_ENOMEM, "out of memory");
        goto done;
    }
    /* The first edge of each type (named in messages), in one pass: a file
     * may have as many types as edges. */
    int64_t *firstof = calloc((size_t)(ntys > 0 ? ntys : 1), sizeof *firstof);
    if (!firstof) {
        rc = nk_fail(ctx, NK_ENOMEM, "out of memory");
        goto done;
    }
    for (int64_t i = n - 1; i >= 0; i--)
        firstof[bsearch_i64(tys, ntys, tid[i])] = i;
    for (int64_t k = 0; k < ntys && !rc; k++) {
        ET[k].id = tys[k];
        rc = ld_edge_type(L, fi, name, file, &ET[k], firstof[k]);
    }
    free(firstof);
    if (rc)
        goto done;
    /* Each edge: its two ends, weight and delay, checked. */
    gcols = calloc((size_t)(ngroups ? ngroups : 1) * 3, sizeof *gcols);
    if (!gcols) {
        rc = nk_fail(ctx, NK_ENOMEM, "out of memory");
        goto done;
    }
    for (int64_t k = 0; k < ngroups; k++) {
        gcols[3 * k] = named_col(&G[k], "syn_weight");
        gcols[3 * k + 1] = named_col(&G[k], "delay");
        gcols[3 * k + 2] = named_col(&G[k], "nsyns");
    }
    rec = malloc((size_t)(n ? n : 1) * sizeof *rec);
    wv = malloc((size_t)(n ? n : 1) * sizeof *wv);
    dv = malloc((size_t)(n ? n : 1) * sizeof *dv);
    if (!rec || !wv || !dv) {
        rc = nk_fail(ctx, NK_ENOMEM, "out of memory for %lld edges", (long long)n);
        goto done;
    }
    const npop *S = &L->pops[sp], *T = &L->pops[tp];
    for (int64_t i = 0; i < n && !rc; i++) {
        erec *r = &rec[i];
        int64_t ls, lt;
        if (node_of(L, S, src[i], &r->pre, &ls)) {
            rc = S->sorted ? nk_fail(ctx, NK_EINVAL,
                                     "'%s': %s/source_node_id[%lld] = %lld is not a node of "
                                     "population '%s' (not one of its node_id values)",
                                     file, where, (long long)i, (long long)src[i], S->name)
                           : nk_fail(ctx, NK_EINVAL,
                                     "'%s': %s/source_node_id[%lld] = %lld is not a node of "
                                     "population '%s' (node ids 0..%lld)",
                                     file, where, (long long)i, (long long)src[i], S->name,
                                     (long long)S->n - 1);
            break;
        }
        if (node_of(L, T, dst[i], &r->post, &lt)) {
            rc = T->sorted ? nk_fail(ctx, NK_EINVAL,
                                     "'%s': %s/target_node_id[%lld] = %lld is not a node of "
                                     "population '%s' (not one of its node_id values)",
                                     file, where, (long long)i, (long long)dst[i], T->name)
                           : nk_fail(ctx, NK_EINVAL,
                                     "'%s': %s/target_node_id[%lld] = %lld is not a node of "
                                     "population '%s' (node ids 0..%lld)",
                                     file, where, (long long)i, (long long)dst[i], T->name,
                                     (long long)T->n - 1);
            break;
        }
        src[i] = ls; /* from here on: the index within its ptype */
        dst[i] = lt;
        const etype *e = &ET[bsearch_i64(tys, ntys, tid[i])];
        r->et = (int32_t)(e - ET);
        r->idx = i;
        const ggrp *gr = gsel ? &G[gsel[i]] : NULL;
        const gcol *cw = gr ? gcols[3 * gsel[i]] : NULL;
        const gcol *cd = gr ? gcols[3 * gsel[i] + 1] : NULL;
        const gcol *cn = gr ? gcols[3 * gsel[i] + 2] : NULL;
        char gw[520] = "";
        double w, d, ns = 1;
        if (cw)
            w = cw->v[gidx[i]];
        else if (e->has_w)
            w = e->w;
        else {
            rc = nk_fail(ctx, NK_EINVAL,
                         "'%s': %s: edge %lld has no weight (expected a syn_weight dataset in "
                         "its edge group or a syn_weight column for edge type %lld in the "
                         "edge types file)",
                         file, where, (long long)i, (long long)e->id);
            break;
        }
        if (cn)
            ns = cn->v[gidx[i]];
        else if (e->has_ns)
            ns = e->ns;
        w *= ns;
        if (gr && ((!isfinite(w) || fabs(w) > 1e6) || (cd && !(cd->v[gidx[i]] >= 0))))
            snprintf(gw, sizeof gw, "%s/%lld", where, (long long)gr->id);
        if (!isfinite(w) || fabs(w) > 1e6) {
            char wb[32];
            if (cw)
                rc = nk_fail(ctx, NK_EINVAL,
                             "'%s': %s/syn_weight[%lld] = %s (edge %lld)%s: expected a finite "
                             "weight with |weight| <= 1e6",
                             file, gw, (long long)gidx[i],
                             nk_fmt_num(cw->v[gidx[i]], wb, sizeof wb), (long long)i,
                             ns != 1 ? " times nsyns" : "");
            else
                rc = nk_fail(ctx, NK_EINVAL,
                             "%s: syn_weight %s of edge type %lld%s: expected a finite weight "
                             "with |weight| <= 1e6",
                             e->where, nk_fmt_num(e->w, wb, sizeof wb), (long long)e->id,
                             ns != 1 ? " times nsyns" : "");
            break;
        }
        if (cd)
            d = cd->v[gidx[i]];
        else if (e->has_d)
            d = e->d;
        else
            d = L->net->dt; /* none given: one step */
        if (cd || e->has_d) {
            if (!(d >= 0) || !isfinite(d) || delay_steps(d, L->net->dt) > 65535) {
                if (gr)
                    snprintf(gw, sizeof gw, "%s/%lld", where, (long long)gr->id);
                char dtxt[32];
                nk_fmt_num(d, dtxt, sizeof dtxt);
                const char *why = !(d >= 0) || !isfinite(d)
                                      ? "expected a finite delay >= 0 ms"
                                      : "longer than 65535 steps";
                if (cd)
                    rc = nk_fail(ctx, NK_EINVAL, "'%s': %s/delay[%lld] = %s (edge %lld): %s", file,
                                 gw, (long long)gidx[i], dtxt, (long long)i, why);
                else
                    rc = nk_fail(ctx, NK_EINVAL, "%s: delay %s of edge type %lld: %s", e->where,
                                 dtxt, (long long)e->id, why);
                break;
            }
        }
        wv[i] = w;
        dv[i] = d;
        r->sign = e->receptor ? 0 : w < 0 ? -1 : 1;
    }
    if (rc)
        goto done;
    int sorted = 1; /* files we write: one key, already in order */
    for (int64_t k = 1; k < n && sorted; k++)
        sorted = cmp_erec(&rec[k - 1], &rec[k]) < 0;
    if (!sorted)
        qsort(rec, (size_t)n, sizeof *rec, cmp_erec);
    /* One projection per run of equal keys, the edges in file order. */
    int64_t i = 0;
    int made = 0;
    while ((i < n || (n == 0 && has_own && !made && ntys == 1)) && !rc) {
        int64_t j = i;
        while (j < n && !cmp_erec(&(erec){rec[i].pre, rec[i].post, rec[i].et, rec[i].sign, 0},
                                  &(erec){rec[j].pre, rec[j].post, rec[j].et, rec[j].sign, 0}))
            j++;
        made = 1;
        int32_t pre = n ? rec[i].pre : S->t0, post = n ? rec[i].post : T->t0;
        const etype *e = &ET[n ? rec[i].et : 0];
        pproj *P = push(&L->projs, &L->nprojs, sizeof *P);
        if (!P) {
            rc = nk_fail(ctx, NK_ENOMEM, "out of memory");
            break;
        }
        int64_t cnt = j - i;
        if (L->nety > 0)
            snprintf(P->where, sizeof P->where, "'%s': %s, edge type %lld (%.300s)", file, where,
                     (long long)e->id, e->where);
        else
            snprintf(P->where, sizeof P->where, "'%s': %s", file, where);
        P->pre = pre;
        P->post = post;
        P->plo = 0;
        P->phi = L->types[pre].n;
        P->qlo = 0;
        P->qhi = L->types[post].n;
        P->syn = e->syn;
        P->sign = n ? rec[i].sign : 1;
        P->np = e->syn ? e->np : 0;
        P->pname = e->pname;
        P->n = cnt;
        P->dmax = -1;
        P->lpre = malloc((size_t)(cnt ? cnt : 1) * sizeof *P->lpre);
        P->lpost = malloc((size_t)(cnt ? cnt : 1) * sizeof *P->lpost);
        P->w = malloc((size_t)(cnt ? cnt : 1) * sizeof *P->w);
        P->d = malloc((size_t)(cnt ? cnt : 1) * sizeof *P->d);
        P->pval = e->syn ? malloc((size_t)(e->np ? e->np : 1) * sizeof *P->pval) : NULL;
        if (!P->lpre || !P->lpost || !P->w || !P->d || (e->syn && !P->pval) ||
            (e->receptor && !(P->receptor = nk_strdup(e->receptor)))) {
            rc = nk_fail(ctx, NK_ENOMEM, "out of memory");
            break;
        }
        if (e->syn)
            memcpy(P->pval, e->pval, (size_t)e->np * sizeof *P->pval);
        /* Ranges of a file we wrote: kept when they hold every edge. */
        const npop *Sp = &L->pops[sp], *Tp = &L->pops[tp];
        if (has_pr && Sp->single && pr[0] >= 0 && pr[0] < pr[1] && pr[1] <= P->phi) {
            int ok = 1;
            for (int64_t k = i; k < j && ok; k++)
                ok = src[rec[k].idx] >= pr[0] && src[rec[k].idx] < pr[1];
            if (ok)
                P->plo = pr[0], P->phi = pr[1];
        }
        if (has_qr && Tp->single && qr[0] >= 0 && qr[0] < qr[1] && qr[1] <= P->qhi) {
            int ok = 1;
            for (int64_t k = i; k < j && ok; k++)
                ok = dst[rec[k].idx] >= qr[0] && dst[rec[k].idx] < qr[1];
            if (ok)
                P->qlo = qr[0], P->qhi = qr[1];
        }
        for (int64_t k = i; k < j; k++) {
            int64_t e2 = rec[k].idx;
            P->lpre[k - i] = src[e2] - P->plo;
            P->lpost[k - i] = dst[e2] - P->qlo;
            P->w[k - i] = wv[e2];
            P->d[k - i] = dv[e2];
            if (dv[e2] > P->dmax)
                P->dmax = dv[e2];
        }
        i = j;
    }
done:
    free(src);
    free(dst);
    free(tid);
    free(tys);
    free(groups);
    free(gsel);
    free(gidx);
    free(rec);
    free(wv);
    free(dv);
    free(gcols);
    ggrp_free(G, (int)ngroups);
    etypes_free(ET, ntys);
    H5Gclose(g);
    return rc;
}

/* Opens SONATA file `file` and hands each population group under /group
 * (group "nodes" or "edges") to fn; expect names the layout for the message
 * when the group is missing. An empty group adds nothing (a saved empty
 * network has one). */
static int ld_each_pop(ld *L, int fi, const char *file, const char *group, const char *expect,
                       int (*fn)(ld *, int, hid_t, const char *))
{
    int rc = 0;
    hid_t fid = open_h5(L->ctx, file, &rc);
    if (fid < 0)
        return rc;
    hid_t g = H5I_INVALID_HID;
    if (!h5_is_group(fid, group)) {
        rc = nk_fail(L->ctx, NK_EINVAL, "'%s': no group /%s (expected SONATA %s: /%s/%s, ...)",
                     file, group, group, group, expect);
    } else if ((g = H5Gopen2(fid, group, H5P_DEFAULT)) < 0) {
        h5why w;
        rc = nk_fail(L->ctx, NK_EIO, "'%s': cannot open /%s%s", file, group, h5_why(&w));
    } else {
        char **names;
        int nn = h5_children(g, &names);
        if (nn < 0)
            rc = nk_fail(L->ctx, NK_EIO, "'%s': cannot list /%s", file, group);
        for (int k = 0; k < nn && !rc; k++)
            if (h5_is_group(g, names[k]))
                rc = fn(L, fi, g, names[k]);
        free_names(names, nn);
    }
    close_id(&g, H5Gclose);
    H5Fclose(fid);
    return rc;
}

/* ---- receptors: will every projection find a receptor it fits? -------------------- */

static vrx *vrx_find(ld *L, int type, const char *name)
{
    for (int k = 0; k < L->nrx; k++)
        if (L->rx[k].type == type && !strcmp(L->rx[k].name, name))
            return &L->rx[k];
    return NULL;
}

static vrx *vrx_add(ld *L, int type, const char *name, const nk_model *syn, const double *param,
                    const char *where)
{
    vrx *x = push(&L->rx, &L->nrx, sizeof *x);
    if (!x)
        return NULL;
    x->type = type;
    x->syn = syn;
    x->name = nk_strdup(name);
    if (syn)
        x->param = malloc((size_t)(syn->nparams ? syn->nparams : 1) * sizeof *x->param);
    if (!x->name || (syn && !x->param))
        return NULL;
    if (syn)
        memcpy(x->param, param, (size_t)syn->nparams * sizeof *x->param);
    snprintf(x->where, sizeof x->where, "%s", where);
    return x;
}

/* Mirrors receptor_for/receptor_get (net.c) without changing anything: a
 * receptor is shared by name; a second user must ask for the same synapse
 * model and the same parameter values. */
static int ld_check_receptors(ld *L)
{
    nk_ctx *ctx = L->ctx;
    for (int k = 0; k < L->ntypes; k++) {
        const ptype *T = &L->types[k];
        if (!T->existing)
            continue;
        const nk_pop *p = &L->net->pops[T->pop];
        for (int r = 0; r < p->nrx; r++) {
            char where[1024];
            snprintf(where, sizeof where, "population '%s' of this network", p->name);
            if (!vrx_add(L, k, p->rx[r].name, p->rx[r].syn, p->rx[r].param, where))
                return nk_fail(ctx, NK_ENOMEM, "out of memory");
        }
    }
    for (int k = 0; k < L->nprojs; k++) {
        const pproj *P = &L->projs[k];
        const ptype *T = &L->types[P->post];
        const char *name = P->receptor ? P->receptor : P->sign < 0 ? "inh" : "exc";
        vrx *x = vrx_find(L, P->post, name);
        const nk_model *dsyn = NULL; /* the synapse a default receptor of that name gets */
        for (int r = 0; r < T->model->nrecept; r++)
            if (!strcmp(T->model->recept[r].name, name))
                dsyn = nk_model_find(ctx, T->model->recept[r].synapse);
        if (!P->syn) {
            if (x)
                continue;
            if (!dsyn && P->receptor && T->model->nrecept > 0)
                return nk_fail(ctx, NK_EINVAL,
                               "%s: receptor '%s' on population '%s': model '%s' has no default "
                               "receptor of that name; name a synapse model in the edge type's "
                               "model_template",
                               P->where, name, T->name, T->model->name);
            if (!vrx_add(L, P->post, name, NULL, NULL, P->where))
                return nk_fail(ctx, NK_ENOMEM, "out of memory");
            continue;
        }
        if (!x) {
            if (!vrx_add(L, P->post, name, P->syn, P->pval, P->where))
                return nk_fail(ctx, NK_ENOMEM, "out of memory");
            continue;
        }
        const nk_model *have = x->syn ? x->syn : dsyn ? dsyn : nk_model_find(ctx, "exp_curr");
        if (have != P->syn)
            return nk_fail(ctx, NK_EINVAL,
                           "%s: receptor '%s' of population '%s' is a '%s' synapse (made by %s); "
                           "these edges ask for '%s' (give the edge types distinct receptor "
                           "names in a 'receptor' column)",
                           P->where, name, T->name, have ? have->name : "?", x->where,
                           P->syn->name);
        if (!x->syn)
            continue; /* default values: compared by nk_connect */
        for (int j = 0; j < P->np; j++)
            if (!(x->param[j] == P->pval[j]))
                return nk_fail(ctx, NK_EINVAL,
                               "%s: receptor '%s' of population '%s' has %s = %g (made by %s); "
                               "these edges ask for %s = %g (give the edge types distinct receptor "
                               "names in a 'receptor' column)",
                               P->where, name, T->name, P->pname[j], x->param[j], x->where,
                               P->pname[j], P->pval[j]);
    }
    return 0;
}

/* ---- commit ------------------------------------------------------------------------- */

/* Adds what L holds to the network. On failure removes the projections and
 * populations it added. */
static int ld_commit(ld *L)
{
    nk_net *net = L->net;
    int npops0 = net->npops, nprojs0 = net->nprojs, rc = 0;
    for (int k = 0; k < L->ntypes && !rc; k++) {
        ptype *T = &L->types[k];
        if (T->existing)
            continue;
        const nk_model *m = T->model;
        int pop = nk_pop_add(net, m->name, T->n, T->name, T->method);
        if (pop < 0) {
            rc = pop;
            break;
        }
        T->pop = pop;
        if (T->has_tol)
            rc = nk_pop_set_tolerance(net, pop, T->rtol, T->atol);
        for (int p = 0; p < m->nparams && !rc; p++)
            rc = nk_pop_set_param(net, pop, m->pname[p], T->param[p]);
        nk_range all = {pop, 0, T->n};
        for (int s = 0; s < m->nstates && !rc; s++)
            rc = T->state[s] ? nk_pop_set_state_array(net, all, m->sname[s], T->state[s])
                             : nk_pop_set_state(net, all, m->sname[s], state_default(T, s));
        if (!rc && T->pos)
            rc = nk_pop_set_positions(net, pop, T->pos, T->n);
        if (!rc && T->ids)
            rc = nk_pop_set_ids(net, pop, T->ids, T->n);
        if (!rc)
            rc = nk_pop_check(net, pop);
        if (rc) {
            char why[NK_ERRLEN];
            snprintf(why, sizeof why, "%s", L->ctx->err);
            nk_fail(L->ctx, rc, "%s: %s", T->src, why);
        }
    }
    for (int k = 0; k < L->nprojs && !rc; k++) {
        pproj *P = &L->projs[k];
        nk_conn_opts o;
        nk_conn_opts_init(&o);
        o.rule = NK_RULE_LIST;
        o.list_pre = P->lpre;
        o.list_post = P->lpost;
        o.list_w = P->w;
        o.list_delay = P->d;
        o.nlist = P->n;
        /* The representative weight chooses the default receptor by its
         * sign; the delay is the longest (ring buffers are sized from it). */
        o.weight = P->n ? P->w[0] : P->sign < 0 ? -1 : 1;
        o.delay = P->dmax;
        o.synapse = P->syn ? P->syn->name : NULL;
        o.receptor = P->receptor;
        o.syn_param_names = P->pname;
        o.syn_param_values = P->pval;
        o.n_syn_params = P->np;
        nk_range pre = {L->types[P->pre].pop, P->plo, P->phi};
        nk_range post = {L->types[P->post].pop, P->qlo, P->qhi};
        int r = nk_connect(net, pre, post, &o);
        if (r < 0) {
            char why[NK_ERRLEN];
            snprintf(why, sizeof why, "%s", L->ctx->err);
            rc = nk_fail(L->ctx, r, "%s: %s", P->where, why);
        }
    }
    if (rc) {
        char saved[NK_ERRLEN];
        snprintf(saved, sizeof saved, "%s", L->ctx->err);
        while (net->nprojs > nprojs0)
            nk_proj_discard_last(net);
        while (net->npops > npops0 && nk_pop_discard(net, net->npops - 1) == 0)
            ;
        snprintf(L->ctx->err, sizeof L->ctx->err, "%s", saved);
    }
    return rc;
}

/* ---- public ---------------------------------------------------------------------------- */

int nk_sonata_load(nk_net *net, const char *dir, const nk_sonata_opts *o)
{
    ld L;
    memset(&L, 0, sizeof L);
    L.net = net;
    L.ctx = net->ctx;
    L.model = o && o->model && *o->model ? o->model : "lif";
    L.synapse = o && o->synapse && *o->synapse ? o->synapse : NULL;
    h5quiet q;
    quiet_on(&q);
    int rc = ld_sources(&L, dir, o, 1);
    for (int k = 0; k < L.nnodes && !rc; k++)
        rc = ld_each_pop(&L, k, L.nodes[k], "nodes", "<population>/node_type_id", ld_node_pop);
    for (int k = 0; k < L.nedges && !rc; k++)
        rc = ld_each_pop(&L, k, L.edges[k], "edges", "<population>/source_node_id", ld_edge_pop);
    rc = rc ? rc : ld_check_receptors(&L);
    rc = rc ? rc : ld_commit(&L);
    quiet_off(&q);
    ld_free(&L);
    return rc;
}

int nk_sonata_net_opts(nk_ctx *ctx, const char *dir, nk_net_opts *opts)
{
    nk_net tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.ctx = ctx;
    ld L;
    memset(&L, 0, sizeof L);
    L.net = &tmp;
    L.ctx = ctx;
    h5quiet q;
    quiet_on(&q);
    int rc = ld_sources(&L, dir, NULL, 0);
    hid_t fid = H5I_INVALID_HID;
    if (!rc && L.nnodes == 0)
        rc = nk_fail(ctx, NK_EIO, "'%s' names no nodes file", dir);
    if (!rc)
        fid = open_h5(ctx, L.nodes[0], &rc);
    if (fid >= 0) {
        double dt;
        uint64_t seed;
        char *prec = NULL;
        if (h5_attr_num(fid, "dt", H5T_NATIVE_DOUBLE, 1, &dt) ||
            h5_attr_num(fid, "seed", H5T_NATIVE_UINT64, 1, &seed))
            rc = nk_fail(ctx, NK_EIO,
                         "'%s' was not written by save_model (it has no dt and seed attributes); "
                         "load it into a network made with the dt you want",
                         L.nodes[0]);
        else if (!(dt > 0) || !isfinite(dt))
            rc = nk_fail(ctx, NK_EIO, "'%s': attribute dt = %g: expected a positive number of ms",
                         L.nodes[0], dt);
        else {
            opts->dt = dt;
            opts->seed = seed;
            if (h5_attr_str(fid, "precision", &prec) == 0)
                opts->double_precision = !strcmp(prec, "float64");
        }
        free(prec);
        H5Fclose(fid);
    }
    quiet_off(&q);
    ld_free(&L);
    return rc;
}
