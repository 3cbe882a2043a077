/* edges.c - connectome edge lists: CSV/TSV files in the shape of FlyWire's
 * published connection tables (pre id, post id, synapse count, neurotransmitter),
 * and their connection onto populations that carry external ids.
 *
 * The reader streams the file in large blocks and keeps 12 bytes per edge:
 * both ends as positions in the table of distinct ids (found with an
 * open-addressing hash while reading, sorted at the end) and the signed
 * weight as a float. Each block is cut at line ends into runs that threads
 * read at once, while the next block is read; ids new to the table are
 * added between blocks, in the file's order, so the result and the line a
 * message names do not depend on the number of threads. */
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
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

/* The slot of id in a table that has slots: its own, or the empty one where
 * it would go. */
static uint64_t idmap_slot(const idmap *m, int64_t id)
{
    uint64_t h = mix((uint64_t)id) & m->mask;
    while (m->slot[h].val && m->slot[h].key != id)
        h = (h + 1) & m->mask;
    return h;
}

/* Position of id, or -1 when it is not in the map (only reads the map). */
static int64_t idmap_find(const idmap *m, int64_t id)
{
    return m->mask ? (int64_t)m->slot[idmap_slot(m, id)].val - 1 : -1;
}

/* Position of id, added when new; -1 when out of memory or too many ids. */
static int64_t idmap_get(idmap *m, int64_t id)
{
    if ((uint64_t)(m->n + 1) * 2 > m->mask + 1 && idmap_grow(m))
        return -1;
    uint64_t h = idmap_slot(m, id);
    if (m->slot[h].val)
        return (int64_t)m->slot[h].val - 1;
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
            /* files that are not text, known by their first bytes */
            static const struct {
                const char *sig, *what;
            } bin[] = {{"\x89HDF", "an HDF5 file (SONATA edges: net:load_sonata)"},
                       {"\x1f\x8b", "compressed with gzip (gunzip it first)"},
                       {"PK\x03\x04", "a zip archive (unzip it first)"}};
            for (size_t k = 0; r->line == 1 && k < sizeof bin / sizeof *bin; k++)
                if (!strncmp(start, bin[k].sig, strlen(bin[k].sig))) {
                    *rc = nk_fail(r->ctx, NK_EINVAL,
                                  "%s: this is %s, not a text (CSV/TSV) file", r->path,
                                  bin[k].what);
                    return NULL;
                }
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

/* s without the spaces around it (in place). */
static char *trim(char *s)
{
    while (*s == ' ')
        s++;
    size_t l = strlen(s);
    while (l > 0 && s[l - 1] == ' ')
        s[--l] = 0;
    return s;
}

/* The first delim in [q, stop), else stop: eight bytes at a time while
 * eight remain (a byte equal to delim becomes 0, and the lowest byte whose
 * subtraction borrows is the first 0). */
static inline char *find_delim(char *q, const char *stop, char delim)
{
    const uint64_t ones = 0x0101010101010101ULL, pat = ones * (unsigned char)delim;
    for (; stop - q >= 8; q += 8) {
        uint64_t x;
        memcpy(&x, q, 8);
        x ^= pat;
        const uint64_t z = (x - ones) & ~x & (ones << 7);
        if (z)
            return q + (__builtin_ctzll(z) >> 3);
    }
    while (q < stop && *q != delim)
        q++;
    return q;
}

/* Splits line (up to stop, its NUL; no NUL before it) into fields, in
 * place: spaces around a field and quotes around it are removed. Their
 * lengths go to len when given. delim 0: fields are separated by runs of
 * blanks. Returns the number of fields, or SPLIT_OPEN_QUOTE when a quoted
 * field is not closed on its line (fields do not span lines). */
#define SPLIT_OPEN_QUOTE (-1)
#define OPEN_QUOTE_MSG "a quoted field is not closed on its line (a field may not span lines)"
static int split(char delim, char *line, char *stop, char **field, size_t *len)
{
    int n = 0;
    char *p = line;
    if (!delim) {
        for (;;) {
            while (*p == ' ' || *p == '\t')
                p++;
            if (!*p || n == MAXCOL)
                break;
            char *s = p;
            while (*p && *p != ' ' && *p != '\t')
                p++;
            size_t l = (size_t)(p - s);
            if (*p)
                *p++ = 0;
            if (l >= 2 && s[0] == '"' && s[l - 1] == '"') {
                s[l - 1] = 0;
                s++;
                l -= 2;
            }
            if (len)
                len[n] = l;
            field[n++] = s;
        }
        return n;
    }
    for (;;) {
        if (n == MAXCOL)
            break;
        while (*p == ' ')
            p++;
        if (*p == '"') {
            /* RFC 4180: a quoted field may hold the delimiter, and "" is a
             * quote; the field is unquoted in place */
            char *out = p, *q = p + 1;
            char *s = out;
            for (;;) {
                if (!*q)
                    return SPLIT_OPEN_QUOTE;
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
            char *end = strchr(q, delim);
            *out = 0;
            field[n] = trim(s);
            if (len)
                len[n] = strlen(field[n]);
            n++;
            if (!end)
                break;
            p = end + 1;
            continue;
        }
        /* the common case, in one pass: up to the delimiter, less the
         * spaces before it */
        char *q = find_delim(p, stop, delim);
        char *end = q;
        while (end > p && end[-1] == ' ')
            end--;
        const int last = q == stop;
        *end = 0;
        if (len)
            len[n] = (size_t)(end - p);
        field[n++] = p;
        if (last)
            break;
        p = q + 1;
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

/* Eight ASCII digits at p as a number (the first the most significant), or
 * -1 when one of them is not a digit. A word at a time: the bytes become
 * pairs, the pairs fours, the fours the number. */
static inline int64_t digits8(const char *p)
{
    uint64_t x;
    memcpy(&x, p, 8);
    const uint64_t hi = 0xF0F0F0F0F0F0F0F0ULL, zeros = 0x3030303030303030ULL;
    /* a digit is 0x30..0x39: its high half is 3, also after adding 6 (a
     * byte that carries out fails its own test first) */
    if ((x & hi) != zeros || ((x + 0x0606060606060606ULL) & hi) != zeros)
        return -1;
    x -= zeros;
    x = (x * 10 + (x >> 8)) & 0x00FF00FF00FF00FFULL;
    x = (x * 100 + (x >> 16)) & 0x0000FFFF0000FFFFULL;
    return (int64_t)((x & 0xFFFF) * 10000 + (x >> 32));
}

/* parse_id of a field of n characters: up to 18 digits (no sign, no
 * overflow) eight at a time, anything else by parse_id. */
static int parse_id_n(const char *s, size_t n, int64_t *out)
{
    if (n >= 1 && n <= 18) {
        uint64_t v = 0;
        size_t i = 0;
        for (; i + 8 <= n; i += 8) {
            const int64_t d = digits8(s + i);
            if (d < 0)
                return parse_id(s, out);
            v = v * 100000000u + (uint64_t)d;
        }
        for (; i < n; i++) {
            const unsigned dg = (unsigned)(s[i] - '0');
            if (dg > 9)
                return parse_id(s, out);
            v = v * 10 + dg;
        }
        *out = (int64_t)v;
        return 0;
    }
    return parse_id(s, out);
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
        int nf = split(r.delim, line, line + strlen(line), field, NULL);
        if (nf == SPLIT_OPEN_QUOTE) {
            rc = nk_fail(ctx, NK_EINVAL, "%s:%lld: " OPEN_QUOTE_MSG, path, (long long)r.line);
            break;
        }
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

/* ---- edge lines, read by several threads at once ------------------------------------- */

/* How a data line reads: its delimiter, its columns and the sign values that
 * mean inhibitory. */
typedef struct edge_cfg {
    char delim;
    int cpre, cpost, cw, csign; /* cw, csign: -1 when absent */
    int need;                /* the largest of them: a line has more fields */
    const char *const *inh;
    int ninh;
} edge_cfg;

static int cfg_need(const edge_cfg *c)
{
    int need = c->cpre > c->cpost ? c->cpre : c->cpost;
    if (c->cw > need)
        need = c->cw;
    return c->csign > need ? c->csign : need;
}

/* The last sign value a reader saw and what it meant (a file has a few,
 * repeated). */
typedef struct sign_memo {
    char last[32];           /* {1, 0}: matches no field */
    int neg;
} sign_memo;

/* One data line's edge from its fields. 0, or NK_EINVAL with what was wrong
 * in msg (the caller names the file and the line). */
static int edge_fields(const edge_cfg *c, sign_memo *sm, char **field, const size_t *flen,
                       int nf, int64_t *a, int64_t *b, float *wout, char *msg, size_t len)
{
    if (nf <= c->need) {
        snprintf(msg, len, "%d field%s, expected at least %d", nf, nf == 1 ? "" : "s",
                 c->need + 1);
        return NK_EINVAL;
    }
    if (parse_id_n(field[c->cpre], flen[c->cpre], a)) {
        snprintf(msg, len, "pre id '%s' is not an integer", field[c->cpre]);
        return NK_EINVAL;
    }
    if (parse_id_n(field[c->cpost], flen[c->cpost], b)) {
        snprintf(msg, len, "post id '%s' is not an integer", field[c->cpost]);
        return NK_EINVAL;
    }
    double w = 1;
    if (c->cw >= 0 && (parse_num(field[c->cw], &w) || !isfinite(w))) {
        snprintf(msg, len, "weight '%s' is not a finite number", field[c->cw]);
        return NK_EINVAL;
    }
    if (fabs(w) > WEIGHT_MAX) {
        snprintf(msg, len,
                 "weight '%s' is out of range: weights must be finite and at most 1e30 in "
                 "magnitude",
                 field[c->cw]);
        return NK_EINVAL;
    }
    if (c->csign >= 0) {
        const char *sv = field[c->csign];
        size_t l = strlen(sv);
        if (l >= sizeof sm->last || strcmp(sv, sm->last)) {
            double num;
            sm->neg = 0;
            if (!parse_num(sv, &num))
                sm->neg = num < 0;
            for (int k = 0; k < c->ninh && !sm->neg; k++)
                sm->neg = !strcasecmp(sv, c->inh[k]);
            if (l < sizeof sm->last)
                memcpy(sm->last, sv, l + 1);
            else
                sm->last[0] = 1; /* matches no text: decide each time */
        }
        w = sm->neg ? -fabs(w) : fabs(w);
    }
    *wout = (float)w;
    return 0;
}

/* Ids are looked up a batch at a time: the slots of the whole batch are
 * prefetched first, so the cache misses of a table larger than the cache
 * overlap instead of coming one after the other. */
#define BATCH 4096

/* Room for need edges in g (half as many again as it had, at least). */
static int grow_edges(growing *g, int64_t need)
{
    if (need <= g->cap)
        return 0;
    int64_t nc = g->cap ? g->cap + g->cap / 2 : 1 << 16;
    if (nc < need)
        nc = need;
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

/* A run of whole lines one thread reads: its edges, with both ends as
 * positions in the id map where the id is there already. The map is only
 * read meanwhile; ids not in it yet are kept aside, and added in the file's
 * order once the threads are done. */
typedef struct edge_part {
    const edge_cfg *c;
    const idmap *m;
    char *lo, *hi;           /* the lines; *hi may be written (a '\n' or the end's NUL) */
    int64_t lines;           /* lines walked, up to and including a failing one */
    growing out;             /* the edges, the ends where known */
    int64_t *miss;           /* (2 * edge + end, id) for ids not in the map */
    int64_t nmiss, capmiss;
    int rc;                  /* 0, or an error code with msg (without the file and line) */
    char msg[512];
    growing *g;              /* where the edges go once their ends are known: */
    int64_t dst;             /* from edge dst of g on (-1: not placed yet); the part copies
                                them there before it reads its next lines */
    pthread_t th;
    int started;
} edge_part;

static int part_fail(edge_part *p, int code, const char *what)
{
    snprintf(p->msg, sizeof p->msg, "%s", what);
    return p->rc = code;
}

/* Both ends of the part's last nb edges (ids: pre, post, pre, ...). An id
 * the same as the edge before's at that end (a file sorted by source has
 * runs of them) takes its position without a look-up. */
static int part_ids(edge_part *p, const int64_t *ids, int nb)
{
    const idmap *m = p->m;
    for (int k = 0; m->mask && k < 2 * nb; k++)
        if (k < 2 || ids[k] != ids[k - 2])
            __builtin_prefetch(&m->slot[mix((uint64_t)ids[k]) & m->mask]);
    const int64_t base = p->out.n - nb;
    int64_t last_at[2] = {-1, -1}; /* the last look-up at each end (-1: not in the map) */
    for (int k = 0; k < 2 * nb; k++) {
        const int64_t e = base + k / 2;
        int64_t at;
        if (k >= 2 && ids[k] == ids[k - 2])
            at = last_at[k & 1];
        else
            at = last_at[k & 1] = idmap_find(m, ids[k]);
        if (at >= 0) {
            (k & 1 ? p->out.post : p->out.pre)[e] = (uint32_t)at;
            continue;
        }
        if (p->nmiss == p->capmiss) {
            int64_t nc = p->capmiss ? p->capmiss * 2 : 1024;
            int64_t *nm = realloc(p->miss, (size_t)nc * 2 * sizeof *nm);
            if (!nm)
                return part_fail(p, NK_ENOMEM, "out of memory for ids");
            p->miss = nm;
            p->capmiss = nc;
        }
        p->miss[2 * p->nmiss] = 2 * e + (k & 1);
        p->miss[2 * p->nmiss + 1] = ids[k];
        p->nmiss++;
    }
    return 0;
}

/* The part's edges into g, where the file's order puts them. */
static void part_flush(edge_part *p)
{
    if (p->dst >= 0 && p->out.n == 0)
        p->dst = -1;
    if (p->dst < 0)
        return;
    memcpy(p->g->pre + p->dst, p->out.pre, (size_t)p->out.n * sizeof *p->out.pre);
    memcpy(p->g->post + p->dst, p->out.post, (size_t)p->out.n * sizeof *p->out.post);
    memcpy(p->g->w + p->dst, p->out.w, (size_t)p->out.n * sizeof *p->out.w);
    p->dst = -1;
}

static void *part_run(void *arg)
{
    edge_part *p = arg;
    part_flush(p);
    const edge_cfg *c = p->c;
    char *field[MAXCOL];
    size_t flen[MAXCOL];
    int64_t ids[2 * BATCH];
    sign_memo sm = {{1, 0}, 0};
    int nb = 0;
    p->out.n = p->nmiss = p->lines = 0;
    p->rc = 0;
    /* a NUL byte (a binary file): the line that has it fails */
    const char *nul = memchr(p->lo, 0, (size_t)(p->hi - p->lo));
    for (char *s = p->lo; s < p->hi;) {
        char *nl = memchr(s, '\n', (size_t)(p->hi - s));
        char *end = nl ? nl : p->hi, *line = s;
        s = nl ? nl + 1 : p->hi;
        p->lines++;
        if (nul && nul < end) {
            part_fail(p, NK_EINVAL, "a NUL byte: this is not a text (CSV/TSV) file");
            break;
        }
        if (end > line && end[-1] == '\r')
            end--;
        *end = 0;
        if (!*line || *line == '#')
            continue;
        int nf = split(c->delim, line, end, field, flen);
        if (nf == SPLIT_OPEN_QUOTE) {
            part_fail(p, NK_EINVAL, OPEN_QUOTE_MSG);
            break;
        }
        if (nf == 0)
            continue;
        if (p->out.n == p->out.cap && grow_edges(&p->out, p->out.n + 1)) {
            part_fail(p, NK_ENOMEM, "out of memory for edges");
            break;
        }
        if ((p->rc = edge_fields(c, &sm, field, flen, nf, &ids[2 * nb], &ids[2 * nb + 1],
                                 &p->out.w[p->out.n], p->msg, sizeof p->msg)))
            break;
        p->out.n++;
        if (++nb == BATCH) {
            if (part_ids(p, ids, nb))
                break;
            nb = 0;
        }
    }
    if (!p->rc && nb)
        part_ids(p, ids, nb);
    return NULL;
}

static void part_free(edge_part *p)
{
    free(p->out.pre);
    free(p->out.post);
    free(p->out.w);
    free(p->miss);
}

/* The bytes each thread reads at a time, and the least a part may have (a
 * small file is read by fewer threads). */
#define PART_BYTES ((size_t)4 << 20)
#define PART_MIN ((size_t)64 << 10)
#define BLOCK_MAX ((size_t)64 << 20)

/* Reads into buf[len..cap) until it is full or the file ends; the bytes read. */
static int read_more(reader *r, char *buf, size_t len, size_t cap, size_t *got)
{
    *got = 0;
    while (!r->eof && len + *got < cap) {
        size_t n = fread(buf + len + *got, 1, cap - len - *got, r->f);
        if (n == 0) {
            if (ferror(r->f))
                return nk_fail(r->ctx, NK_EIO, "%s: read error: %s", r->path, strerror(errno));
            r->eof = 1;
        }
        *got += n;
    }
    return 0;
}

/* Cuts buf[0, bytes) into k runs of whole lines of about the same size. */
static void cut_parts(edge_part *parts, size_t k, char *lo, size_t bytes)
{
    char *top = lo + bytes, *at = lo;
    for (size_t t = 0; t < k; t++) {
        edge_part *p = &parts[t];
        p->lo = at;
        if (t + 1 == k) {
            p->hi = top;
        } else {
            char *x = lo + bytes / k * (t + 1);
            if (x < at)
                x = at;
            char *nl = memchr(x, '\n', (size_t)(top - x));
            p->hi = nl ? nl + 1 : top;
        }
        at = p->hi;
    }
}

/* A block's parts into the edges, in the file's order: the first error,
 * the ids new to the map, and the edges' places in g (each part copies its
 * edges there itself, on its thread, before its next lines). */
static int merge_parts(reader *r, edge_part *parts, size_t k, idmap *m, growing *g)
{
    int64_t total = g->n;
    for (size_t t = 0; t < k; t++)
        total += parts[t].out.n;
    if (grow_edges(g, total))
        return nk_fail(r->ctx, NK_ENOMEM, "%s:%lld: out of memory at %lld edges", r->path,
                       (long long)r->line, (long long)g->n);
    for (size_t t = 0; t < k; t++) {
        edge_part *p = &parts[t];
        if (p->rc)
            return nk_fail(r->ctx, p->rc, "%s:%lld: %s", r->path, (long long)(r->line + p->lines),
                           p->msg);
        for (int64_t i = 0; i < p->nmiss; i++) {
            const int64_t e = p->miss[2 * i], at = idmap_get(m, p->miss[2 * i + 1]);
            if (at < 0)
                return nk_fail(r->ctx, NK_ENOMEM, "%s: out of memory for ids (or more than 2^32)",
                               r->path);
            (e & 1 ? p->out.post : p->out.pre)[e / 2] = (uint32_t)at;
        }
        p->dst = g->n;
        g->n += p->out.n;
        r->line += p->lines;
    }
    return 0;
}

/* The lines after the header (the reader positioned there), a block at a
 * time, each cut into up to nt parts read by threads of their own while
 * this thread reads the next block into a second buffer. */
static int read_body(reader *r, const edge_cfg *c, idmap *m, growing *g, int nt)
{
    size_t want = (size_t)nt * PART_BYTES;
    if (want > BLOCK_MAX)
        want = BLOCK_MAX;
    if (r->cap < want) {
        char *nb = realloc(r->buf, want + 1);
        if (!nb)
            return nk_fail(r->ctx, NK_ENOMEM, "out of memory");
        r->buf = nb;
        r->cap = want;
    }
    size_t ocap = r->cap;
    char *other = malloc(ocap + 1);
    edge_part *parts = nk_xcalloc((size_t)nt, sizeof *parts);
    if (!other || !parts) {
        free(other);
        free(parts);
        return nk_fail(r->ctx, NK_ENOMEM, "out of memory");
    }
    for (int t = 0; t < nt; t++)
        parts[t].dst = -1;
    /* the block: buf[0, len) */
    size_t keep = r->len - r->pos, got;
    memmove(r->buf, r->buf + r->pos, keep);
    r->pos = 0;
    int rc = read_more(r, r->buf, keep, r->cap, &got);
    r->len = keep + got;
    while (!rc && r->len) {
        char *lo = r->buf, *top = r->buf + r->len;
        if (!r->eof) {
            while (top > lo && top[-1] != '\n')
                top--;
            if (top == lo) {
                /* a line longer than the buffer: a larger buffer */
                if (r->cap >= (size_t)1 << 30) {
                    rc = nk_fail(r->ctx, NK_EINVAL, "%s:%lld: a line longer than 1 GB", r->path,
                                 (long long)r->line + 1);
                    break;
                }
                char *nb = realloc(r->buf, r->cap * 2 + 1);
                if (!nb) {
                    rc = nk_fail(r->ctx, NK_ENOMEM, "out of memory");
                    break;
                }
                r->buf = nb;
                r->cap *= 2;
                rc = read_more(r, r->buf, r->len, r->cap, &got);
                r->len += got;
                continue;
            }
        }
        r->buf[r->len] = 0;
        const size_t bytes = (size_t)(top - lo);
        size_t k = bytes / PART_MIN + 1;
        if (k > (size_t)nt)
            k = (size_t)nt;
        for (size_t t = 0; t < (size_t)nt; t++) {
            parts[t].c = c;
            parts[t].m = m;
            parts[t].g = g;
            if (t >= k) /* no lines this time: its last ones go now */
                part_flush(&parts[t]);
        }
        cut_parts(parts, k, lo, bytes);
        for (size_t t = 0; t < k; t++) {
            parts[t].started =
                nt > 1 && pthread_create(&parts[t].th, NULL, part_run, &parts[t]) == 0;
            if (!parts[t].started)
                part_run(&parts[t]);
        }
        /* meanwhile, the next block: this one's unfinished line, then more
         * (the parts do not touch the bytes past top) */
        const size_t tail = r->len - bytes;
        int rrc = 0;
        got = 0;
        if (ocap < r->cap) {
            char *nb = realloc(other, r->cap + 1);
            if (nb) {
                other = nb;
                ocap = r->cap;
            } else {
                rrc = nk_fail(r->ctx, NK_ENOMEM, "out of memory");
            }
        }
        if (!rrc) {
            memcpy(other, top, tail);
            rrc = read_more(r, other, tail, ocap, &got);
        }
        for (size_t t = 0; t < k; t++)
            if (parts[t].started)
                pthread_join(parts[t].th, NULL);
        rc = merge_parts(r, parts, k, m, g);
        if (!rc)
            rc = rrc;
        char *sb = r->buf;
        size_t sc = r->cap;
        r->buf = other;
        r->cap = ocap;
        r->len = tail + got;
        other = sb;
        ocap = sc;
    }
    for (int t = 0; t < nt; t++) {
        if (!rc)
            part_flush(&parts[t]);
        part_free(&parts[t]);
    }
    free(parts);
    free(other);
    return rc;
}

/* ---- loops over the edges, in runs on threads ------------------------------------------- */

/* A run of edges [lo, hi) for fn, with what fn found there. */
typedef struct span {
    int64_t lo, hi;
    const void *arg;
    void (*fn)(struct span *);
    int64_t count[2];
    int64_t bad;             /* the first edge fn refused, or -1 */
    pthread_t th;
    int started;
} span;

static void *span_run(void *p)
{
    span *s = p;
    s->fn(s);
    return NULL;
}

#define SPAN_MIN ((int64_t)1 << 16)

/* fn over edges [0, n), cut into up to nt runs of SPAN_MIN edges or more,
 * runs 1.. on threads of their own (where one cannot start, here). The runs,
 * in order (the caller frees them), *k of them; NULL when out of memory. */
static span *spans_run(int nt, int64_t n, void (*fn)(span *), const void *arg, int *k)
{
    int64_t m = n / SPAN_MIN + 1;
    if (m > nt)
        m = nt;
    if (m < 1)
        m = 1;
    span *sp = nk_xcalloc((size_t)m, sizeof *sp);
    if (!sp)
        return NULL;
    for (int64_t t = 0; t < m; t++) {
        sp[t].lo = n / m * t;
        sp[t].hi = t + 1 == m ? n : n / m * (t + 1);
        sp[t].arg = arg;
        sp[t].fn = fn;
        sp[t].bad = -1;
        sp[t].started = t > 0 && pthread_create(&sp[t].th, NULL, span_run, &sp[t]) == 0;
    }
    for (int64_t t = 0; t < m; t++)
        if (!sp[t].started)
            fn(&sp[t]);
    for (int64_t t = 0; t < m; t++)
        if (sp[t].started)
            pthread_join(sp[t].th, NULL);
    *k = (int)m;
    return sp;
}

typedef struct renumber_arg {
    growing *g;
    const uint32_t *rank;
} renumber_arg;

/* Both ends from positions of first appearance to places among the sorted ids. */
static void renumber(span *s)
{
    const renumber_arg *a = s->arg;
    for (int64_t i = s->lo; i < s->hi; i++) {
        a->g->pre[i] = a->rank[a->g->pre[i]];
        a->g->post[i] = a->rank[a->g->post[i]];
    }
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
    int nt = o->threads > 0 ? o->threads : nk_usable_cpus();
    if (nt > NK_MAX_THREADS)
        nt = NK_MAX_THREADS;
    if (o->nodes && (rc = read_nodes(ctx, o->nodes, &m)))
        goto fail;
    reader r;
    if ((rc = reader_open(&r, ctx, path)))
        goto fail;
    char *field[MAXCOL], *line;
    size_t flen[MAXCOL];
    int first = 1;
    edge_cfg c = {.cpre = 0, .cpost = 1, .cw = 2, .csign = -1};
    c.inh = o->inhibitory ? o->inhibitory : inh_default;
    c.ninh = o->inhibitory ? o->ninhibitory : (int)(sizeof inh_default / sizeof *inh_default);
    /* The first line: a header, or the first edge. */
    while ((line = next_line(&r, &rc))) {
        if (!*line || *line == '#')
            continue;
        r.delim = o->delimiter ? (o->delimiter == ' ' ? 0 : o->delimiter) : detect_delim(line);
        int nf = split(r.delim, line, line + strlen(line), field, flen);
        if (nf == SPLIT_OPEN_QUOTE) {
            rc = nk_fail(ctx, NK_EINVAL, "%s:%lld: " OPEN_QUOTE_MSG, path, (long long)r.line);
            break;
        }
        if (nf == 0)
            continue;
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
            } want[] = {{"pre", o->pre, pre_names, &c.cpre, 1},
                        {"post", o->post, post_names, &c.cpost, 1},
                        {"weight", o->weight, weight_names, &c.cw, 0},
                        {"sign", o->sign, sign_names, &c.csign, 0}};
            for (int k = 0; k < 4; k++) {
                int col = find_col(field, nf, want[k].given && *want[k].given ? want[k].given
                                                                              : NULL,
                                   want[k].defaults);
                if (col == -2 || (col == -1 && want[k].required) || col >= nf) {
                    rc = nk_fail(ctx, NK_EINVAL,
                                 "%s:%lld: no %s column %s%s%s in the header (it has %s)", path,
                                 (long long)r.line, want[k].what,
                                 want[k].given ? "'" : "(expected one of 'pre_root_id', "
                                                       "'pre', 'source', ... or name it)",
                                 want[k].given ? want[k].given : "", want[k].given ? "'" : "",
                                 names);
                    break;
                }
                *want[k].col = col;
            }
            break;
        }
        /* no header: columns by number */
        if (o->pre || o->post || o->weight || o->sign) {
            struct {
                const char *given;
                int *col;
            } want[] = {{o->pre, &c.cpre}, {o->post, &c.cpost}, {o->weight, &c.cw},
                        {o->sign, &c.csign}};
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
        if (c.cw >= nf && !(o->weight && *o->weight))
            c.cw = -1;
        /* this line is the first edge */
        c.need = cfg_need(&c);
        sign_memo sm = {{1, 0}, 0};
        char msg[512];
        int64_t a, b, ia, ib;
        float w;
        if ((rc = edge_fields(&c, &sm, field, flen, nf, &a, &b, &w, msg, sizeof msg))) {
            rc = nk_fail(ctx, rc, "%s:%lld: %s", path, (long long)r.line, msg);
            break;
        }
        if ((ia = idmap_get(&m, a)) < 0 || (ib = idmap_get(&m, b)) < 0 || grow_edges(&g, 1)) {
            rc = nk_fail(ctx, NK_ENOMEM, "%s: out of memory", path);
            break;
        }
        g.pre[0] = (uint32_t)ia;
        g.post[0] = (uint32_t)ib;
        g.w[0] = w;
        g.n = 1;
        break;
    }
    if (!rc && first)
        rc = nk_fail(ctx, NK_EINVAL, "%s: the file is empty (expected a header and edges)", path);
    if (!rc) {
        c.delim = r.delim;
        c.need = cfg_need(&c);
        rc = read_body(&r, &c, &m, &g, nt);
    }
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
    renumber_arg ra = {&g, rank};
    int nsp;
    span *sp = spans_run(nt, g.n, renumber, &ra, &nsp);
    free(pairs);
    free(rank);
    if (!sp) {
        rc = nk_fail(ctx, NK_ENOMEM, "out of memory");
        goto fail;
    }
    free(sp);
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

typedef struct sign_arg {
    const nk_edges *e;
    int64_t *const *map;     /* by id: the neuron in pre's and in post's population, or -1 */
    int skip_unknown;
} sign_arg;

/* The edges of each sign whose ends are both in the populations; the first
 * that is not, unless such edges are skipped. */
static void count_signs(span *s)
{
    const sign_arg *a = s->arg;
    for (int64_t i = s->lo; i < s->hi; i++) {
        int64_t p = a->map[0][a->e->pre[i]], q = a->map[1][a->e->post[i]];
        if (p >= 0 && q >= 0) {
            s->count[a->e->w[i] < 0]++;
        } else if (!a->skip_unknown) {
            s->bad = i;
            return;
        }
    }
}

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
    sign_arg sa = {e, map, skip_unknown};
    int nsp;
    span *sp = spans_run(nk_net_threads(net), e->n, count_signs, &sa, &nsp);
    if (!sp)
        rc = nk_fail(ctx, NK_ENOMEM, "out of memory");
    for (int t = 0; sp && t < nsp && !rc; t++) {
        const int64_t i = sp[t].bad;
        if (i >= 0) {
            int which = map[0][e->pre[i]] < 0 ? 0 : 1;
            rc = nk_fail(ctx, NK_EINVAL,
                         "connect: edge %lld: %s id %lld is not in population '%s' (skip_unknown "
                         "= true leaves such edges out)",
                         (long long)i + 1, which ? "post" : "pre",
                         (long long)e->ids[which ? e->post[i] : e->pre[i]],
                         net->pops[pops[which]].name);
        }
        count[0] += sp[t].count[0];
        count[1] += sp[t].count[1];
    }
    free(sp);
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
