/* monitor.c - monitors: spikes, state (a SONATA report), population rate,
 * field (sum or mean of a variable) and direct output (a function called
 * with the values).
 *
 * Spikes are kept per population (nk_pop.rec_*: the union of the spike
 * monitors' neurons); a spike monitor is a filter over them. Sampled
 * monitors keep their rows in memory (double) and hand new rows to the
 * results file's writer thread. Everything recorded stays readable from the
 * bindings during and after a run. */
#include "internal.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const nk_monitor_kinds[] = {"spikes", "state", "rate", "field", "output", NULL};

void nk_monitor_opts_init(nk_monitor_opts *o)
{
    memset(o, 0, sizeof *o);
    o->every = 1;
    o->bin = 1.0;
}

void nk_monitor_free(nk_monitor *m)
{
    free(m->idx);
    free(m->name);
    for (int k = 0; k < m->nvars; k++)
        free(m->vname[k]);
    free(m->vname);
    free(m->vunit);
    free(m->varr);
    free(m->data);
    if (m->ud_free)
        m->ud_free(m->ud);
    memset(m, 0, sizeof *m);
}

static int kind_index(nk_ctx *ctx, const char *kind)
{
    int n = 0;
    while (nk_monitor_kinds[n])
        n++;
    for (int k = 0; k < n; k++)
        if (!strcmp(kind, nk_monitor_kinds[k]))
            return k;
    const char *s = nk_suggest(kind, nk_monitor_kinds, n);
    if (s)
        return nk_fail(ctx, NK_EINVAL, "unknown monitor kind '%s' (did you mean '%s'?); known "
                                       "kinds: spikes, state, rate, field, output", kind, s);
    return nk_fail(ctx, NK_EINVAL,
                   "unknown monitor kind '%s'; known kinds: spikes, state, rate, field, output",
                   kind);
}

static int name_taken(const nk_net *net, int kind, const char *name)
{
    for (int k = 0; k < net->nmons; k++) {
        const nk_monitor *m = &net->mons[k];
        int grp_a = m->kind == NK_MON_OUTPUT ? NK_MON_OUTPUT : m->kind;
        int grp_b = kind == NK_MON_OUTPUT ? NK_MON_OUTPUT : kind;
        if (m->name && grp_a == grp_b && !strcmp(m->name, name))
            return 1;
    }
    return 0;
}

/* Neuron i counted from 1, as text: exact for any i (INT64_MAX included,
 * which a damaged checkpoint can give). */
static const char *from1(char *buf, size_t len, int64_t i)
{
    if (i < 0)
        snprintf(buf, len, "%lld", (long long)i + 1);
    else
        snprintf(buf, len, "%llu", (unsigned long long)i + 1);
    return buf;
}

static int valid_name(const char *s)
{
    if (!*s || !strcmp(s, ".") || !strcmp(s, ".."))
        return 0;
    for (; *s; s++)
        if (*s == '/')
            return 0;
    return 1;
}

int nk_monitor_add_sel(nk_net *net, const char *kind, const nk_sel *t, const nk_monitor_opts *o)
{
    nk_ctx *ctx = net->ctx;
    nk_monitor m = {0};
    m.ud_free = o->ud_free;
    m.ud = o->ud;
    int rc = nk_busy(net, "monitor");
    if (rc)
        goto fail;
    rc = kind_index(ctx, kind);
    if (rc < 0)
        goto fail;
    m.kind = rc;
    rc = NK_EINVAL;
    if (t->pop < 0 || t->pop >= net->npops) {
        nk_fail(ctx, NK_EINVAL, "no such population in this network");
        goto fail;
    }
    nk_pop *p = &net->pops[t->pop];
    m.target.pop = t->pop;
    if (t->idx) {
        if (t->n <= 0) {
            nk_fail(ctx, NK_EINVAL, "an empty set of neurons of '%s'", p->name);
            goto fail;
        }
        m.idx = malloc((size_t)t->n * sizeof *m.idx);
        if (!m.idx) {
            rc = nk_fail(ctx, NK_ENOMEM, "out of memory");
            goto fail;
        }
        for (int64_t j = 0; j < t->n; j++) {
            int64_t i = t->idx[j];
            if (i < 0 || i >= p->n || (j && i <= t->idx[j - 1])) {
                char b[24];
                nk_fail(ctx, NK_EINVAL,
                        "neuron %s of '%s' is out of range (1..%lld) or not in "
                        "ascending order", from1(b, sizeof b, i), p->name, (long long)p->n);
                goto fail;
            }
            m.idx[j] = i;
        }
        m.n = t->n;
        m.target.lo = m.idx[0];
        m.target.hi = m.idx[m.n - 1] + 1;
    } else {
        if (t->lo < 0 || t->hi > p->n || t->lo >= t->hi) {
            char b[24];
            nk_fail(ctx, NK_EINVAL, "neurons %s..%lld are not a range of '%s' (1..%lld)",
                    from1(b, sizeof b, t->lo), (long long)t->hi, p->name, (long long)p->n);
            goto fail;
        }
        m.target.lo = t->lo;
        m.target.hi = t->hi;
        m.n = t->hi - t->lo;
    }
    m.start_step = net->step;
    m.every = o->every;
    m.h5idx = -1;
    if (m.kind != NK_MON_SPIKES && m.kind != NK_MON_RATE && o->every < 1) {
        nk_fail(ctx, NK_EINVAL, "%s: every must be >= 1 step, got %d", kind, o->every);
        goto fail;
    }
    if (m.kind == NK_MON_STATE || m.kind == NK_MON_OUTPUT || m.kind == NK_MON_FIELD) {
        if (o->nvars < 1) {
            nk_fail(ctx, NK_EINVAL, "%s: needs the variables to record (vars = {\"v\", ...}; "
                                    "'%s' has: %s%s)", kind, p->model->name,
                    p->model->nstates ? p->model->sname[0] : "none",
                    p->model->nstates > 1 ? ", ..." : "");
            goto fail;
        }
        if (m.kind == NK_MON_FIELD && o->nvars != 1) {
            nk_fail(ctx, NK_EINVAL, "field: records one variable, got %d", o->nvars);
            goto fail;
        }
        m.vname = nk_xcalloc((size_t)o->nvars, sizeof *m.vname);
        m.vunit = nk_xcalloc((size_t)o->nvars, sizeof *m.vunit);
        m.varr = nk_xcalloc((size_t)o->nvars, sizeof *m.varr);
        if (!m.vname || !m.vunit || !m.varr) {
            rc = nk_fail(ctx, NK_ENOMEM, "out of memory");
            goto fail;
        }
        for (int k = 0; k < o->nvars; k++) {
            if ((rc = nk_pop_var(net, t->pop, o->vars[k], &m.varr[k], &m.vunit[k])))
                goto fail;
            for (int j = 0; j < k; j++)
                if (!strcmp(o->vars[j], o->vars[k])) {
                    rc = nk_fail(ctx, NK_EINVAL, "%s: variable '%s' is listed twice", kind,
                                 o->vars[k]);
                    goto fail;
                }
            m.vname[k] = nk_strdup(o->vars[k]);
            m.nvars = k + 1;
            if (!m.vname[k]) {
                rc = nk_fail(ctx, NK_ENOMEM, "out of memory");
                goto fail;
            }
        }
        m.ncols = m.kind == NK_MON_FIELD ? 1 : m.n * m.nvars;
    }
    if (m.kind == NK_MON_FIELD) {
        const char *op = o->op ? o->op : "mean";
        if (strcmp(op, "sum") && strcmp(op, "mean")) {
            rc = nk_fail(ctx, NK_EINVAL, "field: op must be 'sum' or 'mean', got '%s'", op);
            goto fail;
        }
        m.op_sum = !strcmp(op, "sum");
    }
    if (m.kind == NK_MON_RATE) {
        if (!(o->bin > 0) || !isfinite(o->bin)) {
            rc = nk_fail(ctx, NK_EINVAL, "rate: bin must be a positive number of ms, got %g",
                         o->bin);
            goto fail;
        }
        double b = floor(o->bin / net->dt + 0.5);
        if (b > INT_MAX) {
            rc = nk_fail(ctx, NK_EINVAL, "rate: bin (%g ms) is %g steps of dt = %g ms; at most %d",
                         o->bin, b, net->dt, INT_MAX);
            goto fail;
        }
        if (b < 1 || fabs(b * net->dt - o->bin) > 1e-6 * o->bin) {
            char bb[32];
            rc = nk_fail(ctx, NK_EINVAL, "rate: bin (%s ms) must be a whole number of steps "
                                         "(dt = %g ms)", nk_fmt_num(o->bin, bb, sizeof bb),
                         net->dt);
            goto fail;
        }
        m.bin_steps = (int)b;
        m.ncols = 1;
    }
    if (m.kind == NK_MON_OUTPUT) {
        if (!o->fn) {
            rc = nk_fail(ctx, NK_EINVAL, "output: needs a function to call");
            goto fail;
        }
        m.fn = o->fn;
    }
    if (m.kind != NK_MON_SPIKES) {
        char buf[256];
        if (o->name) {
            if (!valid_name(o->name)) {
                rc = nk_fail(ctx, NK_EINVAL, "%s: name '%s' must be non-empty, without '/'",
                             kind, o->name);
                goto fail;
            }
            if (name_taken(net, m.kind, o->name)) {
                rc = nk_fail(ctx, NK_EINVAL, "%s: another %s monitor is already named '%s'",
                             kind, kind, o->name);
                goto fail;
            }
            snprintf(buf, sizeof buf, "%s", o->name);
        } else {
            snprintf(buf, sizeof buf, "%s", p->name);
            for (int k = 2; name_taken(net, m.kind, buf); k++)
                snprintf(buf, sizeof buf, "%s_%d", p->name, k);
        }
        m.name = nk_strdup(buf);
        if (!m.name) {
            rc = nk_fail(ctx, NK_ENOMEM, "out of memory");
            goto fail;
        }
    }
    if (m.kind == NK_MON_SPIKES || m.kind == NK_MON_RATE) {
        if (!p->rec_mask && m.kind == NK_MON_SPIKES) {
            p->rec_mask = nk_xcalloc((size_t)p->n, 1);
            if (!p->rec_mask) {
                rc = nk_fail(ctx, NK_ENOMEM, "out of memory");
                goto fail;
            }
        }
        if (m.kind == NK_MON_SPIKES)
            for (int64_t j = 0; j < m.n; j++)
                p->rec_mask[nk_mon_at(&m, j)] = 1;
    }
    if (nk_grow((void **)&net->mons, net->nmons, sizeof *net->mons)) {
        rc = nk_fail(ctx, NK_ENOMEM, "out of memory");
        goto fail;
    }
    net->mons[net->nmons] = m;
    return net->nmons++;
fail:
    nk_monitor_free(&m);
    return rc;
}

int nk_monitor_add(nk_net *net, const char *kind, nk_range target)
{
    nk_monitor_opts o;
    nk_monitor_opts_init(&o);
    nk_sel t = {.pop = target.pop, .lo = target.lo, .hi = target.hi};
    return nk_monitor_add_sel(net, kind, &t, &o);
}

int nk_monitor_count_all(const nk_net *net) { return net->nmons; }
const char *nk_monitor_kind(const nk_net *net, int mon) { return nk_monitor_kinds[net->mons[mon].kind]; }
const char *nk_monitor_name(const nk_net *net, int mon)
{
    return net->mons[mon].name ? net->mons[mon].name : net->pops[net->mons[mon].target.pop].name;
}
nk_range nk_monitor_target(const nk_net *net, int mon) { return net->mons[mon].target; }

int64_t nk_monitor_neurons(const nk_net *net, int mon, const int64_t **idx, int64_t *lo)
{
    const nk_monitor *m = &net->mons[mon];
    *idx = m->idx;
    *lo = m->target.lo;
    return m->n;
}

static int has_neuron(const nk_monitor *m, int64_t id)
{
    if (id < m->target.lo || id >= m->target.hi)
        return 0;
    if (!m->idx)
        return 1;
    int64_t a = 0, b = m->n;
    while (a < b) {
        int64_t c = (a + b) / 2;
        if (m->idx[c] < id)
            a = c + 1;
        else
            b = c;
    }
    return a < m->n && m->idx[a] == id;
}

static int in_monitor(const nk_monitor *m, int64_t step, int64_t id)
{
    return step >= m->start_step && has_neuron(m, id);
}

int64_t nk_monitor_count(const nk_net *net, int mon)
{
    const nk_monitor *m = &net->mons[mon];
    if (m->kind != NK_MON_SPIKES)
        return 0;
    const nk_pop *p = &net->pops[m->target.pop];
    int64_t c = 0;
    for (int64_t k = 0; k < p->nrec; k++)
        c += in_monitor(m, p->rec_step[k], p->rec_id[k]);
    return c;
}

int64_t nk_monitor_spikes(const nk_net *net, int mon, double *t_ms, int64_t *ids, int64_t cap)
{
    const nk_monitor *m = &net->mons[mon];
    if (m->kind != NK_MON_SPIKES)
        return 0;
    const nk_pop *p = &net->pops[m->target.pop];
    int64_t c = 0;
    for (int64_t k = 0; k < p->nrec && c < cap; k++) {
        if (!in_monitor(m, p->rec_step[k], p->rec_id[k]))
            continue;
        if (t_ms)
            t_ms[c] = (double)p->rec_step[k] * net->dt;
        if (ids)
            ids[c] = p->rec_id[k];
        c++;
    }
    return c;
}

double nk_monitor_duration(const nk_net *net, int mon)
{
    return (double)(net->step - net->mons[mon].start_step) * net->dt;
}

double nk_monitor_rate(const nk_net *net, int mon)
{
    const nk_monitor *m = &net->mons[mon];
    double dur_s = nk_monitor_duration(net, mon) / 1000.0;
    if (dur_s <= 0)
        return 0;
    if (m->kind == NK_MON_RATE) {
        /* the mean of the complete bins */
        double sum = 0;
        for (int64_t r = 0; r < m->rows; r++)
            sum += m->data[r];
        return m->rows ? sum / (double)m->rows : 0;
    }
    return (double)nk_monitor_count(net, mon) / ((double)m->n * dur_s);
}

int64_t nk_monitor_rows(const nk_net *net, int mon, int64_t *ncols, const double **data,
                        double *t0, double *step_ms)
{
    const nk_monitor *m = &net->mons[mon];
    if (ncols)
        *ncols = m->ncols;
    if (data)
        *data = m->data;
    if (t0)
        *t0 = (double)m->start_step * net->dt;
    if (step_ms)
        *step_ms = (m->kind == NK_MON_RATE ? m->bin_steps : m->every) * net->dt;
    return m->kind == NK_MON_SPIKES ? 0 : m->rows;
}

int nk_monitor_vars(const nk_net *net, int mon, const char *const **names,
                    const char *const **units)
{
    const nk_monitor *m = &net->mons[mon];
    *names = (const char *const *)m->vname;
    *units = m->vunit;
    return m->nvars;
}

int nk_detached_output(void *ud, double t, int64_t ncols, const double *v, char *err,
                       size_t errlen)
{
    (void)ud;
    (void)t;
    (void)ncols;
    (void)v;
    snprintf(err, errlen, "this output monitor came from a checkpoint, which cannot hold a Lua "
                          "function: attach one with mon:set_fn(f), or rerun the script with "
                          "--resume");
    return -1;
}

int nk_monitor_set_fn(nk_net *net, int mon, nk_monitor_fn fn, void *ud, void (*ud_free)(void *))
{
    if (mon < 0 || mon >= net->nmons || net->mons[mon].kind != NK_MON_OUTPUT) {
        if (ud_free)
            ud_free(ud);
        return nk_fail(net->ctx, NK_EINVAL, "only an output monitor calls a function");
    }
    nk_monitor *m = &net->mons[mon];
    if (m->ud_free)
        m->ud_free(m->ud);
    m->fn = fn;
    m->ud = ud;
    m->ud_free = ud_free;
    return 0;
}

/* ---- recording -------------------------------------------------------------------- */

/* Room for more rows of m beyond those it has. */
static int room_rows(nk_monitor *m, int64_t more, char *err, size_t errlen)
{
    if (m->rows + more > m->cap) {
        int64_t nc = m->cap ? m->cap * 2 : 64;
        while (nc < m->rows + more)
            nc *= 2;
        double *d = realloc(m->data, (size_t)nc * (size_t)m->ncols * sizeof *d);
        if (!d) {
            snprintf(err, errlen, "out of memory recording monitor '%s' (%lld rows of %lld values)",
                     m->name, (long long)m->rows, (long long)m->ncols);
            return NK_ENOMEM;
        }
        m->data = d;
        m->cap = nc;
    }
    return 0;
}

static int add_row(nk_monitor *m, char *err, size_t errlen)
{
    return room_rows(m, 1, err, errlen);
}

int nk_monitors_room(nk_net *net, int64_t steps, char *err, size_t errlen)
{
    for (int k = 0; k < net->nmons; k++) {
        nk_monitor *m = &net->mons[k];
        if (m->kind == NK_MON_SPIKES)
            continue;
        const int64_t per = m->kind == NK_MON_RATE ? m->bin_steps : m->every;
        int rc = room_rows(m, steps / (per > 0 ? per : 1) + 2, err, errlen);
        if (rc)
            return rc;
    }
    return 0;
}

int nk_monitors_sample(nk_net *net, int64_t s, char *err, size_t errlen)
{
    for (int k = 0; k < net->nmons; k++) {
        nk_monitor *m = &net->mons[k];
        if (m->kind != NK_MON_STATE && m->kind != NK_MON_FIELD && m->kind != NK_MON_OUTPUT)
            continue;
        if (m->on_device || s < m->start_step || (s - m->start_step) % m->every)
            continue;
        /* A step that failed after sampling (a source's or another output
         * monitor's error) is sampled again when the next run retries it:
         * the row it took stays, so that row r is always step
         * start_step + r*every (the times the bindings and the file show). */
        if ((s - m->start_step) / m->every < m->rows)
            continue;
        int rc = add_row(m, err, errlen);
        if (rc)
            return rc;
        double *row = m->data + (size_t)m->rows * (size_t)m->ncols;
        const nk_lay *lay = &net->pops[m->target.pop].lay;
        if (m->kind == NK_MON_FIELD) {
            double sum = 0;
            for (int64_t j = 0; j < m->n; j++)
                sum += nk_state_get(net, m->varr[0], nk_at(lay, nk_mon_at(m, j)));
            row[0] = m->op_sum ? sum : sum / (double)m->n;
        } else {
            for (int64_t j = 0; j < m->n; j++) {
                int64_t i = nk_at(lay, nk_mon_at(m, j));
                for (int v = 0; v < m->nvars; v++)
                    row[j * m->nvars + v] = nk_state_get(net, m->varr[v], i);
            }
        }
        m->rows++;
        if (m->kind == NK_MON_OUTPUT) {
            char e2[NK_ERRLEN - 64];
            e2[0] = 0;
            if (m->fn(m->ud, (double)s * net->dt, m->ncols, row, e2, sizeof e2)) {
                m->rows--; /* not yet handed to the file; the retry samples and calls again */
                snprintf(err, errlen, "output monitor '%s' at t = %g ms: %s", m->name,
                         (double)s * net->dt, e2);
                return NK_EINVAL;
            }
        }
    }
    return 0;
}

void nk_monitor_rate_step(nk_net *net, nk_monitor *m, int64_t s, int64_t count)
{
    if (s < m->start_step)
        return;
    m->bin_count += count;
    if ((s + 1 - m->start_step) % m->bin_steps == 0) {
        char e[64];
        if (add_row(m, e, sizeof e))
            return; /* not reached: the backends make room before a step
                       (nk_rec_room) */
        m->data[m->rows++] =
            (double)m->bin_count / ((double)m->n * m->bin_steps * net->dt / 1000.0);
        m->bin_count = 0;
    }
}

void nk_monitors_spikes(nk_net *net, int64_t s)
{
    for (int k = 0; k < net->nmons; k++) {
        nk_monitor *m = &net->mons[k];
        if (m->kind != NK_MON_RATE || m->on_device || s < m->start_step)
            continue;
        const nk_pop *p = &net->pops[m->target.pop];
        int64_t c = 0;
        for (int64_t q = 0; q < p->nspk; q++)
            c += has_neuron(m, p->spk[q]);
        nk_monitor_rate_step(net, m, s, c);
    }
}

int nk_monitor_put_row(nk_net *net, nk_monitor *m, const void *vals, int dbl, char *err,
                       size_t errlen)
{
    (void)net;
    int rc = add_row(m, err, errlen);
    if (rc)
        return rc;
    double *row = m->data + (size_t)m->rows * (size_t)m->ncols;
    int64_t nv = (int64_t)m->n * m->nvars;
    if (m->kind == NK_MON_FIELD) {
        /* summed in neuron order, as nk_monitors_sample sums */
        double sum = 0;
        for (int64_t j = 0; j < m->n; j++)
            sum += dbl ? ((const double *)vals)[j] : (double)((const float *)vals)[j];
        row[0] = m->op_sum ? sum : sum / (double)m->n;
    } else {
        for (int64_t j = 0; j < nv; j++)
            row[j] = dbl ? ((const double *)vals)[j] : (double)((const float *)vals)[j];
    }
    m->rows++;
    return 0;
}
