/* edges.c - connectome edge lists: CSV/TSV files in the shape of FlyWire's
 * published connection tables (pre id, post id, synapse count, neurotransmitter),
 * and their connection onto populations that carry external ids.
 *
 * The reader streams the file in large blocks and keeps 12 bytes per edge:
 * both ends as positions in the table of distinct ids (found with an
 * open-addressing hash while reading, sorted at the end) and the signed
 * weight as a float. */
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void nk_csv_opts_init(nk_csv_opts *o) { memset(o, 0, sizeof *o); }

void nk_edges_free(nk_edges *e)
{
    if (!e)
        return;
    free(e->pre);
    free(e->post);
    free(e->w);
    free(e->ids);
    free(e);
}

/* ---- ids: int64 -> position of first appearance ------------------------------ */

typedef struct idslot {
    int64_t key;
    uint32_t val;            /* position + 1; 0: empty slot */
} idslot;

typedef struct idmap {
    idslot *slot;
    uint64_t mask;
    int64_t n;
} idmap;

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

static int idmap_grow(idmap *m)
{
    uint64_t cap = m->mask ? (m->mask + 1) * 2 : 1 << 16;
    idslot *slot = calloc(cap, sizeof *slot);
    if (!slot)
        return -1;
    for (uint64_t i = 0; m->mask && i <= m->mask; i++) {
        if (!m->slot[i].val)
            continue;
        uint64_t h = mix((uint64_t)m->slot[i].key) & (cap - 1);
        while (slot[h].val)
            h = (h + 1) & (cap - 1);
        slot[h] = m->slot[i];
    }
    free(m->slot);
    m->slot = slot;
    m->mask = cap - 1;
    return 0;
}

/* Position of id, added when new; -1 when out of memory or too many ids. */
static int64_t idmap_get(idmap *m, int64_t id)
{
    if ((uint64_t)(m->n + 1) * 2 > m->mask + 1 && idmap_grow(m))
        return -1;
    uint64_t h = mix((uint64_t)id) & m->mask;
    while (m->slot[h].val) {
        if (m->slot[h].key == id)
            return (int64_t)m->slot[h].val - 1;
        h = (h + 1) & m->mask;
    }
    if (m->n >= (int64_t)UINT32_MAX - 1)
        return -1;
    m->slot[h].key = id;
    m->slot[h].val = (uint32_t)++m->n;
    return m->n - 1;
}

/* ---- the reader ---------------------------------------------------------------- */

/* columns a line may have (a header with more is refused) */
#define MAXCOL 1024

/* the largest |weight| a file may give: weights are kept as float32 (at most
 * 3.4e38), with room for connect's scale */
#define WEIGHT_MAX 1e30

typedef struct reader {
    nk_ctx *ctx;
    const char *path;
    FILE *f;
    char *buf;
    size_t len, pos, cap;
    int eof;
    int64_t line;
    char delim;              /* 0: runs of blanks */
} reader;

static int reader_open(reader *r, nk_ctx *ctx, const char *path)
{
    memset(r, 0, sizeof *r);
    r->ctx = ctx;
    r->path = path;
    const char *what = nk_not_regular(path);
    if (what) /* reading a FIFO would wait for a writer */
        return nk_fail(ctx, NK_EINVAL, "cannot read '%s': it is %s, not a CSV file", path, what);
    r->f = fopen(path, "rb");
    if (!r->f)
        return nk_fail(ctx, NK_EIO, "cannot open '%s': %s", path, strerror(errno));
    r->cap = 1 << 22;
    r->buf = malloc(r->cap + 1);
    if (!r->buf) {
        fclose(r->f);
        return nk_fail(ctx, NK_ENOMEM, "out of memory");
    }
    return 0;
}

static void reader_close(reader *r)
{
    if (r->f)
        fclose(r->f);
    free(r->buf);
}

/* Next line (without its end, NUL-terminated, in place); NULL at the end or
 * on error (*rc set). */
static char *next_line(reader *r, int *rc)
{
    for (;;) {
        char *start = r->buf + r->pos;
        char *nl = memchr(start, '\n', r->len - r->pos);
        if (nl || (r->eof && r->pos < r->len)) {
            char *end = nl ? nl : r->buf + r->len;
            r->pos = (size_t)(end - r->buf) + (nl ? 1 : 0);
            if (end > start && end[-1] == '\r')
                end--;
            *end = 0;
            r->line++;
            /* a UTF-8 byte-order mark (spreadsheet exports) is not part of
             * the first column's name */
            if (r->line == 1 && end - start >= 3 && !memcmp(start, "\xEF\xBB\xBF", 3))
                start += 3;
            if (memchr(start, 0, (size_t)(end - start))) {
                *rc = nk_fail(r->ctx, NK_EINVAL,
                              "%s:%lld: a NUL byte: this is not a text (CSV/TSV) file", r->path,
                              (long long)r->line);
                return NULL;
            }
            return start;
        }
        if (r->eof)
            return NULL;
        /* keep the unfinished line, read more */
        size_t keep = r->len - r->pos;
        memmove(r->buf, r->buf + r->pos, keep);
        r->len = keep;
        r->pos = 0;
        if (r->len == r->cap) {
            if (r->cap >= (size_t)1 << 30) {
                *rc = nk_fail(r->ctx, NK_EINVAL, "%s:%lld: a line longer than 1 GB", r->path,
                              (long long)r->line + 1);
                return NULL;
            }
            char *nb = realloc(r->buf, r->cap * 2 + 1);
            if (!nb) {
                *rc = nk_fail(r->ctx, NK_ENOMEM, "out of memory");
                return NULL;
            }
            r->buf = nb;
            r->cap *= 2;
        }
        size_t got = fread(r->buf + r->len, 1, r->cap - r->len, r->f);
        if (got == 0) {
            if (ferror(r->f)) {
                *rc = nk_fail(r->ctx, NK_EIO, "%s: read error: %s", r->path, strerror(errno));
                return NULL;
            }
            r->eof = 1;
        }
        r->len += got;
    }
}

/* Splits line into fields (in place; quotes around a field are removed).
 * Returns the number of fields. */
static int split(reader *r, char *line, char **field)
{
    int n = 0;
    char *p = line;
    if (!r->delim) {
        for (;;) {
            while (*p == ' ' || *p == '\t')
                p++;
            if (!*p || n == MAXCOL)
                break;
            field[n++] = p;
            while (*p && *p != ' ' && *p != '\t')
                p++;
            if (*p)
                *p++ = 0;
        }
    } else {
        for (;;) {
            if (n == MAXCOL)
                break;
            while (*p == ' ')
                p++;
            if (*p == '"') {
                /* RFC 4180: a quoted field may hold the delimiter, and "" is a
                 * quote; the field is unquoted in place */
                char *out = p, *q = p + 1;
                field[n++] = out;
                for (;;) {
                    if (!*q)
                        break;
                    if (*q == '"') {
                        if (q[1] == '"') {
                            *out++ = '"';
                            q += 2;
                            continue;
                        }
                        q++;
                        break;
                    }
                    *out++ = *q++;
                }
                char *end = strchr(q, r->delim);
                *out = 0;
                if (!end)
                    break;
                p = end + 1;
                continue;
            }
            field[n++] = p;
            char *q = strchr(p, r->delim);
            if (!q)
                break;
            *q = 0;
            p = q + 1;
        }
    }
    for (int k = 0; k < n; k++) {
        char *s = field[k];
        while (*s == ' ')
            s++;
        size_t l = strlen(s);
        while (l > 0 && s[l - 1] == ' ')
            s[--l] = 0;
        if (!r->delim && l >= 2 && s[0] == '"' && s[l - 1] == '"') {
            s[l - 1] = 0;
            s++;
        }
        field[k] = s;
    }
    return n;
}

static int parse_id(const char *s, int64_t *out)
{
    const char *p = s;
    int neg = 0;
    if (*p == '-' || *p == '+')
        neg = *p++ == '-';
    const char *d0 = p;
    uint64_t v = 0;
    while ((unsigned)(*p - '0') < 10)
        v = v * 10 + (unsigned)(*p++ - '0');
    size_t nd = (size_t)(p - d0);
    if (nd == 0)
        return -1;
    if (nd >= 19) {
        /* may have wrapped: redo carefully */
        while (*d0 == '0' && nd > 1) {
            d0++;
            nd--;
        }
        if (nd > 20)
            return -1;
        v = 0;
        for (const char *q = d0; q < p; q++) {
            unsigned dg = (unsigned)(*q - '0');
            if (v > (UINT64_MAX - dg) / 10)
                return -1;
            v = v * 10 + dg;
        }
    }
    /* "123.0" as written by some tools */
    if (*p == '.') {
        p++;
        while (*p == '0')
            p++;
    }
    if (*p)
        return -1;
    if (neg ? v > (uint64_t)INT64_MAX + 1 : v > (uint64_t)INT64_MAX)
        return -1;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

/* Reads a number (a whole field). Returns 0, -1 when s is not one. A value
 * too large for a double reads as inf, one too small as 0 or the nearest
 * subnormal (as Lua's tonumber): the caller decides what is in range. */
static int parse_num(const char *s, double *out)
{
    if (!*s)
        return -1;
    /* the common case, a synapse count: a short run of digits */
    const char *p = s;
    uint64_t iv = 0;
    while ((unsigned)(*p - '0') < 10 && p - s < 15)
        iv = iv * 10 + (unsigned)(*p++ - '0');
    if (!*p && p > s) {
        *out = (double)iv;
        return 0;
    }
    char *end;
    double v = strtod(s, &end);
    if (*end)
        return -1;
    *out = v;
    return 0;
}

/* Finds a column: name given (header name or a 1-based number), else the
 * first of the default names present; -1 when none. */
static int find_col(char **hdr, int nh, const char *given, const char *const *defaults)
{
    if (given) {
        int64_t num;
        if (!parse_id(given, &num))
            return num >= 1 && num <= MAXCOL ? (int)num - 1 : -2;
        for (int k = 0; k < nh; k++)
            if (!strcmp(hdr[k], given))
                return k;
        return -2;
    }
    for (int d = 0; defaults && defaults[d]; d++)
        for (int k = 0; k < nh; k++)
            if (!strcasecmp(hdr[k], defaults[d]))
                return k;
    return -1;
}

static void header_list(char *out, size_t n, char **hdr, int nh)
{
    out[0] = 0;
    for (int k = 0; k < nh; k++) {
        size_t l = strlen(out);
        snprintf(out + l, n - l, "%s'%s'", k ? ", " : "", hdr[k]);
    }
}

static char detect_delim(const char *line)
{
    int tabs = 0, commas = 0, semis = 0;
    for (const char *p = line; *p; p++) {
        tabs += *p == '\t';
        commas += *p == ',';
        semis += *p == ';';
    }
    if (tabs)
        return '\t';
    if (commas)
        return ',';
    if (semis)
        return ';';
    return 0;
}

typedef struct growing {
    uint32_t *pre, *post;
    float *w;
    int64_t n, cap;
} growing;

static int grow_edges(growing *g)
{
    int64_t nc = g->cap ? g->cap + g->cap / 2 : 1 << 16;
    uint32_t *a = realloc(g->pre, (size_t)nc * sizeof *a);
    if (a)
        g->pre = a;
    uint32_t *b = realloc(g->post, (size_t)nc * sizeof *b);
    if (b)
        g->post = b;
    float *c = realloc(g->w, (size_t)nc * sizeof *c);
    if (c)
        g->w = c;
    if (!a || !b || !c)
        return -1;
    g->cap = nc;
    return 0;
}

static const char *const pre_names[] = {"pre_root_id", "pre", "source", "pre_id", "source_id",
                                        "from", NULL};
static const char *const post_names[] = {"post_root_id", "post", "target", "post_id",
                                         "target_id", "to", NULL};
static const char *const weight_names[] = {"syn_count", "weight", "w", "count", "synapses",
                                           NULL};
static const char *const sign_names[] = {"nt_type", "sign", "nt", "neurotransmitter", NULL};
static const char *const node_names[] = {"root_id", "id", "node_id", "neuron_id", NULL};
static const char *const inh_default[] = {"GABA", "GLUT", "-", "-1", "inh", "inhibitory"};

/* Reads the node file's ids into the map (so they exist even without edges). */
static int read_nodes(nk_ctx *ctx, const char *path, idmap *m)
{
    reader r;
    int rc = reader_open(&r, ctx, path);
    if (rc)
        return rc;
    char *field[MAXCOL];
    int col = 0, first = 1;
    char *line;
    rc = 0;
    while ((line = next_line(&r, &rc))) {
        if (!*line || *line == '#')
            continue;
        if (first) {
            r.delim = detect_delim(line);
        }
        int nf = split(&r, line, field);
        if (nf == 0)
            continue;
        if (first) {
            first = 0;
            int64_t id;
            if (parse_id(field[0], &id)) {
                col = find_col(field, nf, NULL, node_names);
                if (col < 0)
                    col = 0;
                continue;
            }
        }
        int64_t id;
        if (col >= nf || parse_id(field[col], &id)) {
            rc = nk_fail(ctx, NK_EINVAL, "%s:%lld: '%s' is not an integer id (column %d)", path,
                         (long long)r.line, col < nf ? field[col] : "", col + 1);
            break;
        }
        if (idmap_get(m, id) < 0) {
            rc = nk_fail(ctx, NK_ENOMEM, "out of memory for ids");
            break;
        }
    }
    reader_close(&r);
    return rc;
}

static int cmp_pair(const void *a, const void *b)
{
    const int64_t *x = a, *y = b;
    return x[0] < y[0] ? -1 : x[0] > y[0];
}

/* Ids are looked up a batch at a time: the slots of the whole batch are
 * prefetched first, so the cache misses of a table larger than the cache
 * overlap instead of coming one after the other. */
#define BATCH 4096

static int map_batch(nk_ctx *ctx, const char *path, idmap *m, growing *g, const int64_t *ids,
                     int nb)
{
    if ((uint64_t)(m->n + 2 * nb) * 2 > m->mask + 1) {
        /* room for the whole batch first, so slots do not move under it */
        while ((uint64_t)(m->n + 2 * nb) * 2 > m->mask + 1)
            if (idmap_grow(m))
                return nk_fail(ctx, NK_ENOMEM, "%s: out of memory for ids", path);
    }
    for (int k = 0; k < 2 * nb; k++)
        __builtin_prefetch(&m->slot[mix((uint64_t)ids[k]) & m->mask]);
    int64_t base = g->n - nb;
    for (int k = 0; k < nb; k++) {
        int64_t ia = idmap_get(m, ids[2 * k]), ib = idmap_get(m, ids[2 * k + 1]);
        if (ia < 0 || ib < 0)
            return nk_fail(ctx, NK_ENOMEM, "%s: out of memory for ids (or more than 2^32)", path);
        g->pre[base + k] = (uint32_t)ia;
        g->post[base + k] = (uint32_t)ib;
    }
    return 0;
}

nk_edges *nk_edges_read_csv(nk_ctx *ctx, const char *path, const nk_csv_opts *o)
{
    nk_csv_opts defaults;
    if (!o) {
        nk_csv_opts_init(&defaults);
        o = &defaults;
    }
    idmap m = {0};
    growing g = {0};
    nk_edges *e = NULL;
    int rc = 0;
    if (o->nodes && (rc = read_nodes(ctx, o->nodes, &m)))
        goto fail;
    reader r;
    if ((rc = reader_open(&r, ctx, path)))
        goto fail;
    char *field[MAXCOL], *line;
    int cpre = 0, cpost = 1, cw = 2, csign = -1, first = 1;
    const char *const *inh = o->inhibitory ? o->inhibitory : inh_default;
    char last_sign[32] = {1, 0}; /* the last sign value seen, and what it meant */
    int64_t batch[2 * BATCH];
    int nb = 0;
    int last_neg = 0;
    int ninh = o->inhibitory ? o->ninhibitory : (int)(sizeof inh_default / sizeof *inh_default);
    while ((line = next_line(&r, &rc))) {
        if (!*line || *line == '#')
            continue;
        if (first)
            r.delim = o->delimiter ? (o->delimiter == ' ' ? 0 : o->delimiter)
                                   : detect_delim(line);
        int nf = split(&r, line, field);
        if (nf == 0)
            continue;
        if (first) {
            first = 0;
            int64_t id0, id1;
            int header = nf < 2 || parse_id(field[0], &id0) || parse_id(field[1], &id1);
            if (nf == MAXCOL) {
                rc = nk_fail(ctx, NK_EINVAL, "%s:%lld: more than %d columns; at most %d are read",
                             path, (long long)r.line, MAXCOL - 1, MAXCOL - 1);
                break;
            }
            if (header) {
                char names[1024];
                header_list(names, sizeof names, field, nf);
                struct {
                    const char *what, *given;
                    const char *const *defaults;
                    int *col;
                    int required;
                } want[] = {{"pre", o->pre, pre_names, &cpre, 1},
                            {"post", o->post, post_names, &cpost, 1},
                            {"weight", o->weight, weight_names, &cw, 0},
                            {"sign", o->sign, sign_names, &csign, 0}};
                for (int k = 0; k < 4; k++) {
                    int c = find_col(field, nf, want[k].given && *want[k].given ? want[k].given
                                                                                  : NULL,
                                     want[k].defaults);
                    if (c == -2 || (c == -1 && want[k].required) || c >= nf) {
                        rc = nk_fail(ctx, NK_EINVAL,
                                     "%s:%lld: no %s column %s%s%s in the header (it has %s)",
                                     path, (long long)r.line, want[k].what,
                                     want[k].given ? "'" : "(expected one of 'pre_root_id', "
                                                           "'pre', 'source', ... or name it)",
                                     want[k].given ? want[k].given : "",
                                     want[k].given ? "'" : "", names);
                        break;
                    }
                    *want[k].col = c;
                }
                if (rc)
                    break;
                continue;
            }
            /* no header: columns by number */
            if (o->pre || o->post || o->weight || o->sign) {
                struct {
                    const char *given;
                    int *col;
                } want[] = {{o->pre, &cpre}, {o->post, &cpost}, {o->weight, &cw},
                            {o->sign, &csign}};
                for (int k = 0; k < 4 && !rc; k++) {
                    int64_t num;
                    if (!want[k].given || !*want[k].given)
                        continue;
                    if (parse_id(want[k].given, &num) || num < 1 || num > MAXCOL)
                        rc = nk_fail(ctx, NK_EINVAL,
                                     "%s:%lld: the file has no header, so columns are numbers; "
                                     "got '%s'",
                                     path, (long long)r.line, want[k].given);
                    else
                        *want[k].col = (int)num - 1;
                }
                if (rc)
                    break;
            }
            if (cw >= nf && !(o->weight && *o->weight))
                cw = -1;
        }
        int need = cpre > cpost ? cpre : cpost;
        if (cw > need)
            need = cw;
        if (csign > need)
            need = csign;
        if (nf <= need) {
            rc = nk_fail(ctx, NK_EINVAL, "%s:%lld: %d field%s, expected at least %d", path,
                         (long long)r.line, nf, nf == 1 ? "" : "s", need + 1);
            break;
        }
        int64_t a, b;
        if (parse_id(field[cpre], &a)) {
            rc = nk_fail(ctx, NK_EINVAL, "%s:%lld: pre id '%s' is not an integer", path,
                         (long long)r.line, field[cpre]);
            break;
        }
        if (parse_id(field[cpost], &b)) {
            rc = nk_fail(ctx, NK_EINVAL, "%s:%lld: post id '%s' is not an integer", path,
                         (long long)r.line, field[cpost]);
            break;
        }
        double w = 1;
        if (cw >= 0 && (parse_num(field[cw], &w) || !isfinite(w))) {
            rc = nk_fail(ctx, NK_EINVAL, "%s:%lld: weight '%s' is not a finite number", path,
                         (long long)r.line, field[cw]);
            break;
        }
        if (fabs(w) > WEIGHT_MAX) {
            rc = nk_fail(ctx, NK_EINVAL,
                         "%s:%lld: weight '%s' is out of range: weights must be finite and at "
                         "most 1e30 in magnitude",
                         path, (long long)r.line, field[cw]);
            break;
        }
        if (csign >= 0) {
            const char *sv = field[csign];
            size_t len = strlen(sv);
            if (len >= sizeof last_sign || strcmp(sv, last_sign)) {
                double num;
                last_neg = 0;
                if (!parse_num(sv, &num))
                    last_neg = num < 0;
                for (int k = 0; k < ninh && !last_neg; k++)
                    last_neg = !strcasecmp(sv, inh[k]);
                if (len < sizeof last_sign)
                    memcpy(last_sign, sv, len + 1);
                else
                    last_sign[0] = 1; /* matches no text: decide each time */
            }
            w = last_neg ? -fabs(w) : fabs(w);
        }
        if (g.n == g.cap && grow_edges(&g)) {
            rc = nk_fail(ctx, NK_ENOMEM, "%s:%lld: out of memory at %lld edges", path,
                         (long long)r.line, (long long)g.n);
            break;
        }
        g.w[g.n++] = (float)w;
        batch[2 * nb] = a;
        batch[2 * nb + 1] = b;
        if (++nb == BATCH) {
            if ((rc = map_batch(ctx, path, &m, &g, batch, nb)))
                break;
            nb = 0;
        }
    }
    if (!rc && nb)
        rc = map_batch(ctx, path, &m, &g, batch, nb);
    if (!rc && first)
        rc = nk_fail(ctx, NK_EINVAL, "%s: the file is empty (expected a header and edges)", path);
    reader_close(&r);
    if (rc)
        goto fail;
    /* Sort the ids; renumber both ends. */
    e = calloc(1, sizeof *e);
    int64_t *pairs = malloc((size_t)(m.n ? m.n : 1) * 2 * sizeof *pairs);
    uint32_t *rank = malloc((size_t)(m.n ? m.n : 1) * sizeof *rank);
    if (!e || !pairs || !rank) {
        free(pairs);
        free(rank);
        rc = nk_fail(ctx, NK_ENOMEM, "out of memory");
        goto fail;
    }
    e->ids = malloc((size_t)(m.n ? m.n : 1) * sizeof *e->ids);
    if (!e->ids) {
        free(pairs);
        free(rank);
        rc = nk_fail(ctx, NK_ENOMEM, "out of memory");
        goto fail;
    }
    int64_t k = 0;
    for (uint64_t i = 0; m.mask && i <= m.mask; i++)
        if (m.slot[i].val) {
            pairs[2 * k] = m.slot[i].key;
            pairs[2 * k + 1] = (int64_t)m.slot[i].val - 1;
            k++;
        }
    qsort(pairs, (size_t)m.n, 2 * sizeof *pairs, cmp_pair);
    for (int64_t i = 0; i < m.n; i++) {
        e->ids[i] = pairs[2 * i];
        rank[pairs[2 * i + 1]] = (uint32_t)i;
    }
    for (int64_t i = 0; i < g.n; i++) {
        g.pre[i] = rank[g.pre[i]];
        g.post[i] = rank[g.post[i]];
    }
    free(pairs);
    free(rank);
    e->nids = m.n;
    e->n = g.n;
    e->pre = g.pre;
    e->post = g.post;
    e->w = g.w;
    free(m.slot);
    return e;
fail:
    (void)rc;
    free(m.slot);
    free(g.pre);
    free(g.post);
    free(g.w);
    if (e) {
        free(e->ids);
        free(e);
    }
    return NULL;
}

/* ---- onto populations -------------------------------------------------------------- */

int nk_connect_edges(nk_net *net, int pre, int post, const nk_edges *e, const nk_conn_opts *o,
                     int skip_unknown, int proj[2])
{
    nk_ctx *ctx = net->ctx;
    proj[0] = proj[1] = -1;
    int pops[2] = {pre, post};
    for (int k = 0; k < 2; k++) {
        if (pops[k] < 0 || pops[k] >= net->npops)
            return nk_fail(ctx, NK_EINVAL, "connect: no population %d in this network", pops[k]);
        if (!net->pops[pops[k]].ids)
            return nk_fail(ctx, NK_EINVAL,
                           "connect: population '%s' has no ids to match the file's (create it "
                           "with ids = the edges)",
                           net->pops[pops[k]].name);
    }
    if (o->wdist.kind != NK_DIST_CONST)
        return nk_fail(ctx, NK_EINVAL,
                       "connect: with an edge list, weight is a number that scales the file's "
                       "weights (got a distribution or an expression)");
    if (!(o->weight > 0) || !isfinite(o->weight))
        return nk_fail(ctx, NK_EINVAL,
                       "connect: weight scales the file's weights and must be > 0, got %g",
                       o->weight);
    int64_t *map[2];
    map[0] = malloc((size_t)(e->nids ? e->nids : 1) * sizeof(int64_t));
    map[1] = malloc((size_t)(e->nids ? e->nids : 1) * sizeof(int64_t));
    if (!map[0] || !map[1]) {
        free(map[0]);
        free(map[1]);
        return nk_fail(ctx, NK_ENOMEM, "out of memory");
    }
    for (int k = 0; k < 2; k++)
        for (int64_t i = 0; i < e->nids; i++)
            map[k][i] = nk_pop_index_of(net, pops[k], e->ids[i]);
    int64_t count[2] = {0, 0};
    int rc = 0;
    for (int64_t i = 0; i < e->n; i++) {
        int64_t a = map[0][e->pre[i]], b = map[1][e->post[i]];
        if ((a < 0 || b < 0) && !skip_unknown) {
            int which = a < 0 ? 0 : 1;
            rc = nk_fail(ctx, NK_EINVAL,
                         "connect: edge %lld: %s id %lld is not in population '%s' (skip_unknown "
                         "= true leaves such edges out)",
                         (long long)i + 1, which ? "post" : "pre",
                         (long long)e->ids[which ? e->post[i] : e->pre[i]],
                         net->pops[pops[which]].name);
            break;
        }
        if (a >= 0 && b >= 0)
            count[e->w[i] < 0]++;
    }
    nk_range rpre = {pre, 0, net->pops[pre].n}, rpost = {post, 0, net->pops[post].n};
    for (int s = 0; s < 2 && !rc; s++) {
        if (!count[s])
            continue;
        nk_conn_opts so = *o;
        so.rule = NK_RULE_LIST;
        so.nlist = 0;
        so.list_pre = so.list_post = NULL;
        so.list_w = so.list_delay = NULL;
        if (s == 1 && !o->receptor)
            so.receptor = NULL; /* by sign: "inh" */
        nk_list_src ls = {e, map[0], map[1], s ? -1 : 1, o->weight};
        int p = nk_connect_ex(net, rpre, rpost, &so, &ls);
        if (p < 0) {
            rc = p;
            if (proj[0] >= 0)
                nk_proj_discard_last(net);
            proj[0] = -1;
            break;
        }
        proj[s] = p;
    }
    free(map[0]);
    free(map[1]);
    return rc;
}
