/* net.c - the network description, recording, the results file and the run.
 *
 * Everything the user builds lives in one nk_net. The backend (chosen when
 * the network is made) turns the description into code and buffers at the
 * first run and after every change, and takes the steps; this file keeps the
 * description, checks every argument before changing anything, and owns the
 * results file: opened as NAME.h5.part at the start of a run, appended to
 * about once a second of wall time, and closed and renamed to NAME.h5 at the
 * end of the run (also when it stops early: Ctrl-C, divergence, an error). */
#include "internal.h"
#include "../backends/backend.h"
#include "h5out.h"
#include "writer.h"
#include "rt/nk_philox.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------- */

/* Makes room for element n of *arr (zeroed), which holds n elements and was
 * made by grow alone: the room doubles when n is 0 or a power of two, so an
 * array of n elements always has room for the next power of two of them
 * (adding one element at a time cost a copy of the whole array each time:
 * 100,000 edge types took minutes under AddressSanitizer). */
static int grow(void **arr, int n, size_t size)
{
    if ((n & (n - 1)) == 0) {
        void *p = realloc(*arr, (n ? 2 * (size_t)n : 1) * size);
        if (!p)
            return -1;
        *arr = p;
    }
    memset((char *)*arr + (size_t)n * size, 0, size);
    return 0;
}

static void *state_alloc(nk_net *net, int64_t n)
{
    return nk_xcalloc64((size_t)n, net->real_size);
}

/* Sets neurons [lo, hi) of p's state array arr to v. */
static void state_fill(nk_net *net, const nk_pop *p, void *arr, int64_t lo, int64_t hi, double v)
{
    for (int64_t i = lo; i < hi; i++) {
        int64_t e = nk_at(&p->lay, i);
        if (net->dbl)
            ((double *)arr)[e] = v;
        else
            ((float *)arr)[e] = (float)v;
    }
}

/* Whether v can be stored as a state: finite, and within float's range when
 * states are float32 (else it would be stored as infinity). */
static int state_fits(const nk_net *net, double v)
{
    return isfinite(v) && (net->dbl || fabs(v) <= FLT_MAX);
}
#define STATE_RANGE(net) ((net)->dbl ? "" : " (within +-3.4e38: states are float32)")

/* Where model m's state starts, for messages: its parameter pk, or (pk < 0)
 * the value the model gives. */
static void start_source(const nk_model *m, int pk, char *buf, size_t len)
{
    if (pk >= 0)
        snprintf(buf, len, "parameter '%s'", m->pname[pk]);
    else
        snprintf(buf, len, "the initial value in model '%s'", m->name);
}

static double state_get(const nk_net *net, const void *arr, int64_t i)
{
    return net->dbl ? ((const double *)arr)[i] : (double)((const float *)arr)[i];
}

int nk_grow(void **arr, int n, size_t size) { return grow(arr, n, size); }

int nk_busy(nk_net *net, const char *what)
{
    if (!net->running)
        return 0;
    (void)what;
    return nk_fail(net->ctx, NK_EINVAL,
                   "not while the network is running (a callback may read monitors, change "
                   "sources with set and write checkpoints, but not change the network's "
                   "structure or run it)");
}
void *nk_state_alloc(nk_net *net, int64_t n) { return state_alloc(net, n); }
double nk_state_get(const nk_net *net, const void *arr, int64_t i) { return state_get(net, arr, i); }

static int check_range(nk_net *net, nk_range r, const char *what)
{
    if (r.pop < 0 || r.pop >= net->npops)
        return nk_fail(net->ctx, NK_EINVAL, "%s: no such population in this network", what);
    int64_t n = net->pops[r.pop].n;
    if (r.lo < 0 || r.hi > n || r.lo >= r.hi)
        return nk_fail(net->ctx, NK_EINVAL,
                       "%s: neurons %lld..%lld are not inside population '%s' (1..%lld)", what,
                       (long long)r.lo + 1, (long long)r.hi, net->pops[r.pop].name,
                       (long long)n);
    return 0;
}

/* ---- networks -------------------------------------------------------------- */

void nk_net_opts_init(nk_net_opts *o)
{
    memset(o, 0, sizeof *o);
    o->dt = 0.1;
    o->seed = 1;
    o->backend = NK_BACKEND_AUTO;
}

/* Whether results file a is b's NAME.part (the file a run of b writes). */
static int output_is_part(const char *a, const char *b)
{
    if (!a || !b)
        return 0;
    size_t bl = strlen(b);
    char *bpart = malloc(bl + 6);
    if (!bpart)
        return 0;
    snprintf(bpart, bl + 6, "%s.part", b);
    int same = nk_same_path(a, bpart);
    free(bpart);
    return same;
}

nk_net *nk_net_new(nk_ctx *ctx, const nk_net_opts *o)
{
    nk_net_opts d;
    if (!o) {
        nk_net_opts_init(&d);
        o = &d;
    }
    if (!(o->dt > 0) || !isfinite(o->dt)) {
        nk_fail(ctx, NK_EINVAL, "dt must be a positive number of ms, got %g", o->dt);
        return NULL;
    }
    const nk_backend *be = &nk_backend_cpu;
    char err[1024];
    if (o->backend != NK_BACKEND_CPU) {
        int rc = nk_backend_cuda.available(err, sizeof err);
        /* "auto" goes to the CPU where no GPU can be used, but not past a
         * setting it does not understand (NKSHELL_CUDA=emualte) */
        if (rc && (o->backend == NK_BACKEND_CUDA || rc == NK_EINVAL)) {
            nk_fail(ctx, rc, "%s", err);
            return NULL;
        }
        if (!rc)
            be = &nk_backend_cuda;
    }
    if (o->output && *o->output &&
        nk_h5out_check_writable(o->output, err, sizeof err) != 0) {
        nk_fail(ctx, NK_EIO, "output: %s", err);
        return NULL;
    }
    /* Two networks of a session writing one file would interleave their
     * records in it (a network restored from a checkpoint continues its
     * original's file): the file belongs to the first until it is freed. */
    ctx->output_taken = 0;
    for (int k = 0; o->output && *o->output && k < ctx->nlive; k++) {
        const char *other = ctx->live[k]->output;
        int same = nk_same_path(o->output, other);
        /* or one is the other's NAME.part, the file a run writes */
        int part = !same && (output_is_part(o->output, other) || output_is_part(other, o->output));
        if (!same && !part)
            continue;
        ctx->output_taken = 1;
        if (ctx->live[k]->closed)
            nk_fail(ctx, NK_EINVAL,
                    "output '%s' is the results file of a network of this session that was "
                    "closed while a call was running (a callback's, say): the file is let go "
                    "when that call ends; give this network another output (option 'output'), "
                    "or make it after that call",
                    o->output);
        else if (part)
            nk_fail(ctx, NK_EINVAL,
                    "output '%s' clashes with '%s', the results file of another network of "
                    "this session, which is still open (a run writes its results file as "
                    "NAME.part and renames it to NAME when complete): close that one first "
                    "(net:close()), or give this one another output (option 'output')",
                    o->output, other);
        else
            nk_fail(ctx, NK_EINVAL,
                    "output '%s' is the results file of another network of this session, "
                    "which is still open: close that one first (net:close()), or give this "
                    "one another output (option 'output')",
                    o->output);
        return NULL;
    }
    if (ctx->nlive == ctx->live_cap) {
        int cap = ctx->live_cap ? 2 * ctx->live_cap : 8;
        nk_net **lv = realloc(ctx->live, (size_t)cap * sizeof *lv);
        if (!lv) {
            nk_fail(ctx, NK_ENOMEM, "out of memory");
            return NULL;
        }
        ctx->live = lv;
        ctx->live_cap = cap;
    }
    nk_net *net = nk_xcalloc(1, sizeof *net);
    if (!net) {
        nk_fail(ctx, NK_ENOMEM, "out of memory");
        return NULL;
    }
    net->ctx = ctx;
    net->be = be;
    net->dt = o->dt;
    net->seed = o->seed;
    net->backend_req = o->backend;
    net->dbl = o->double_precision != 0;
    net->threads = o->threads > 0 ? o->threads : 0;
    net->real_size = net->dbl ? sizeof(double) : sizeof(float);
    net->ring_len = 2;
    nk_run_id_new(net->run_id);
    if (o->output && *o->output) {
        net->output = nk_strdup(o->output);
        if (!net->output) {
            free(net);
            nk_fail(ctx, NK_ENOMEM, "out of memory");
            return NULL;
        }
    }
    ctx->live[ctx->nlive++] = net;
    return net;
}

/* A projection's arrays freed, and it zeroed. */
static void proj_free(nk_proj *pj)
{
    free(pj->row);
    free(pj->col);
    free(pj->w);
    free(pj->delay);
    free(pj->gbuf);
    memset(pj, 0, sizeof *pj);
}

/* Frees what a receptor owns (a partly built one too) and clears it. */
static void receptor_free(nk_receptor *x)
{
    if (x->state)
        for (int k = 0; k < x->syn->nstates; k++)
            free(x->state[k]);
    free(x->state);
    free(x->param);
    free(x->ring);
    free(x->name);
    memset(x, 0, sizeof *x);
}

static void pop_free(nk_pop *p)
{
    if (p->model)
        for (int k = 0; k < p->model->nstates; k++)
            free(p->state[k]);
    free(p->state);
    free(p->lay.cut);
    for (int r = 0; r < p->nrx; r++)
        receptor_free(&p->rx[r]);
    free(p->rx);
    free(p->name);
    free(p->method);
    free(p->param);
    free(p->refr);
    free(p->i_ext);
    free(p->spk);
    free(p->rec_mask);
    free(p->rec_step);
    free(p->rec_id);
    free(p->pos);
    free(p->ids);
    free(p->ids_sorted);
    free(p->ids_at);
}

void nk_net_free(nk_net *net)
{
    if (!net)
        return;
    net->be->release(net);
    for (int k = 0; k < net->npops; k++)
        pop_free(&net->pops[k]);
    free(net->pops);
    free(net->pop_ix);
    for (int k = 0; k < net->nprojs; k++)
        proj_free(&net->projs[k]);
    free(net->projs);
    for (int k = 0; k < net->nsrcs; k++)
        nk_source_free(&net->srcs[k]);
    free(net->srcs);
    for (int k = 0; k < net->nmons; k++)
        nk_monitor_free(&net->mons[k]);
    free(net->mons);
    for (int k = 0; k < net->nmeta; k++) {
        free(net->meta_key[k]);
        free(net->meta_val[k]);
    }
    free(net->meta_key);
    free(net->meta_val);
    free(net->output);
    free(net->ck_from);
    nk_ctx *ctx = net->ctx;
    for (int k = 0; k < ctx->nlive; k++)
        if (ctx->live[k] == net) {
            ctx->live[k] = ctx->live[--ctx->nlive];
            break;
        }
    free(net);
}

nk_ctx *nk_net_ctx(const nk_net *net) { return net->ctx; }
double nk_net_dt(const nk_net *net) { return net->dt; }
uint64_t nk_net_seed(const nk_net *net) { return net->seed; }
int64_t nk_net_step(const nk_net *net) { return net->step; }
int nk_net_running(const nk_net *net) { return net->running; }
void nk_net_mark_closed(nk_net *net) { net->closed = 1; }
double nk_net_time(const nk_net *net) { return (double)net->step * net->dt; }
const char *nk_net_backend_name(const nk_net *net) { return net->be->name; }

const char *nk_net_backend_note(const nk_net *net)
{
    return net->gpu_full[0] ? net->gpu_full : NULL;
}

void nk_net_backend_detail(const nk_net *net, char *buf, size_t len)
{
    if (net->be->describe && net->be->describe(net, buf, len) == 0)
        return;
    int nt = nk_net_threads(net);
    /* once built, what the runs use: a small network gets fewer threads
     * than asked for (nk_net_threads) */
    int used = net->built && net->be->threads ? net->be->threads(net) : nt;
    int64_t neurons = 0;
    for (int k = 0; k < net->npops; k++)
        neurons += net->pops[k].n;
    int at;
    if (used < nt)
        at = snprintf(buf, len, "%d thread%s of %d: %lld neurons", used, used == 1 ? "" : "s",
                      nt, (long long)neurons);
    else
        at = snprintf(buf, len, "%d thread%s", nt, nt == 1 ? "" : "s");
    if (net->gpu_full[0] && at >= 0 && (size_t)at < len)
        snprintf(buf + at, len - (size_t)at, "; not the GPU: %s", net->gpu_full);
}

/* CPUs this process may run on. */
int nk_usable_cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

int nk_net_threads(const nk_net *net)
{
    int n = net->threads > 0 ? net->threads : nk_usable_cpus();
    return n > NK_MAX_THREADS ? NK_MAX_THREADS : n;
}

int nk_net_set_threads(nk_net *net, int threads)
{
    if (nk_busy(net, "set the thread count"))
        return NK_EINVAL;
    if (threads < 0 || threads > NK_MAX_THREADS)
        return nk_fail(net->ctx, NK_EINVAL, "threads: expected 0 (one per CPU) to %d, got %d",
                       NK_MAX_THREADS, threads);
    if (threads != net->threads) {
        net->threads = threads;
        net->built = 0;
    }
    return 0;
}

void nk_net_set_profiling(nk_net *net, int on) { net->profiling = on != 0; }
int nk_net_profiling(const nk_net *net) { return net->profiling; }

void nk_net_profile(const nk_net *net, nk_profile *o)
{
    memset(o, 0, sizeof *o);
    o->parse_s = net->ctx->parse_s;
    o->connect_s = net->prof_build[NK_PROFB_CONNECT];
    o->codegen_s = net->prof_build[NK_PROFB_CODEGEN];
    o->compile_s = net->prof_build[NK_PROFB_COMPILE];
    o->output_s = net->prof_build[NK_PROFB_OUTPUT];
    o->sources_s = net->prof[NK_PROF_SOURCES];
    o->update_s = net->prof[NK_PROF_UPDATE];
    o->deliver_s = net->prof[NK_PROF_DELIVER];
    o->record_s = net->prof[NK_PROF_RECORD];
    o->write_s = net->prof[NK_PROF_WRITE];
    o->steps = (int64_t)net->prof[NK_PROF_STEPS];
    o->early = (int64_t)net->prof[NK_PROF_EARLY];
    o->finish_s = net->prof[NK_PROF_FINISH];
    o->run_s = net->prof_run_s;
    o->threads = net->prof_threads;
    o->gpu = net->prof_gpu;
    o->device_s = net->prof[NK_PROF_DEVICE];
    o->spikes = net->prof_spikes;
    o->events = net->prof_events;
}
const char *nk_net_output(const nk_net *net) { return net->output; }

int64_t nk_net_memory(const nk_net *net)
{
    int64_t b = net->bk_bytes, rs = (int64_t)net->real_size;
    for (int k = 0; k < net->npops; k++) {
        const nk_pop *p = &net->pops[k];
        /* the arrays threads write are laid out with gaps between their
         * chunks (nk_lay): lay.len entries each */
        const int64_t len = p->lay.len > p->n ? p->lay.len : p->n;
        b += len * (rs * p->model->nstates + (int64_t)sizeof *p->refr);
        if (p->i_ext)
            b += p->n * rs;
        if (p->pos)
            b += p->n * 3 * (int64_t)sizeof *p->pos;
        for (int r = 0; r < p->nrx; r++)
            b += len * (rs * p->rx[r].syn->nstates +
                        (p->rx[r].ring ? net->ring_len * (int64_t)sizeof(int64_t) : 0));
        b += p->caprec * (int64_t)(sizeof *p->rec_step + sizeof *p->rec_id);
    }
    for (int k = 0; k < net->nprojs; k++) {
        const nk_proj *pj = &net->projs[k];
        b += (pj->pre.hi - pj->pre.lo + 1) * (int64_t)sizeof *pj->row +
             pj->nsyn * (int64_t)(sizeof *pj->col + sizeof *pj->w + sizeof *pj->delay);
    }
    for (int k = 0; k < net->nmons; k++)
        b += net->mons[k].cap * net->mons[k].ncols * (int64_t)sizeof(double);
    return b;
}

int nk_net_set_meta(nk_net *net, const char *key, const char *value)
{
    for (int k = 0; k < net->nmeta; k++) {
        if (!strcmp(net->meta_key[k], key)) {
            char *v = nk_strdup(value);
            if (!v)
                return nk_fail(net->ctx, NK_ENOMEM, "out of memory");
            free(net->meta_val[k]);
            net->meta_val[k] = v;
            return 0;
        }
    }
    if (grow((void **)&net->meta_key, net->nmeta, sizeof(char *)) ||
        grow((void **)&net->meta_val, net->nmeta, sizeof(char *)))
        return nk_fail(net->ctx, NK_ENOMEM, "out of memory");
    net->meta_key[net->nmeta] = nk_strdup(key);
    net->meta_val[net->nmeta] = nk_strdup(value);
    if (!net->meta_key[net->nmeta] || !net->meta_val[net->nmeta]) {
        free(net->meta_key[net->nmeta]);
        free(net->meta_val[net->nmeta]);
        return nk_fail(net->ctx, NK_ENOMEM, "out of memory");
    }
    net->nmeta++;
    return 0;
}

/* ---- populations ------------------------------------------------------------ */

/* Population names are found through a hash table (open addressing, linear
 * probing, at most half full): a connectome with a population per cell type
 * has tens of thousands, and a scan per added population made adding them
 * quadratic (100,000 took 40 s). */
static uint32_t name_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* Enters population k; 0, or -1 when out of memory (the table is then
 * dropped, and nk_pop_find scans). */
static int pop_ix_add(nk_net *net, int k)
{
    if (2 * (int64_t)(k + 1) > net->pop_ixcap) {
        int cap = net->pop_ixcap ? 2 * net->pop_ixcap : 64;
        while (2 * (int64_t)(k + 1) > cap)
            cap *= 2;
        int *ix = nk_xcalloc((size_t)cap, sizeof *ix);
        free(net->pop_ix);
        net->pop_ix = ix;
        net->pop_ixcap = ix ? cap : 0;
        if (!ix)
            return -1;
        for (int q = 0; q < k; q++)
            pop_ix_add(net, q);
    }
    uint32_t m = (uint32_t)net->pop_ixcap - 1, i = name_hash(net->pops[k].name) & m;
    while (net->pop_ix[i])
        i = (i + 1) & m;
    net->pop_ix[i] = k + 1;
    return 0;
}

/* Takes population k out (backward-shift deletion). */
static void pop_ix_remove(nk_net *net, int k)
{
    if (!net->pop_ix)
        return;
    uint32_t m = (uint32_t)net->pop_ixcap - 1, i = name_hash(net->pops[k].name) & m;
    while (net->pop_ix[i] && net->pop_ix[i] != k + 1)
        i = (i + 1) & m;
    if (!net->pop_ix[i])
        return;
    for (uint32_t j = (i + 1) & m; net->pop_ix[j]; j = (j + 1) & m) {
        uint32_t h = name_hash(net->pops[net->pop_ix[j] - 1].name) & m;
        /* the entry at j may move to i when its home slot h is not in (i, j] */
        int stays = i <= j ? (i < h && h <= j) : (i < h || h <= j);
        if (!stays) {
            net->pop_ix[i] = net->pop_ix[j];
            i = j;
        }
    }
    net->pop_ix[i] = 0;
}

int nk_pop_find(const nk_net *net, const char *name)
{
    if (!net->pop_ix) {
        for (int k = 0; k < net->npops; k++)
            if (!strcmp(net->pops[k].name, name))
                return k;
        return -1;
    }
    uint32_t m = (uint32_t)net->pop_ixcap - 1;
    for (uint32_t i = name_hash(name) & m; net->pop_ix[i]; i = (i + 1) & m)
        if (!strcmp(net->pops[net->pop_ix[i] - 1].name, name))
            return net->pop_ix[i] - 1;
    return -1;
}

int nk_pop_add(nk_net *net, const char *model, int64_t n, const char *name,
               const char *method)
{
    if (nk_busy(net, "population"))
        return NK_EINVAL;
    nk_ctx *ctx = net->ctx;
    const nk_model *m = nk_model_find(ctx, model);
    if (!m)
        return NK_EINVAL;
    if (m->synapse)
        return nk_fail(ctx, NK_EINVAL,
                       "'%s' is a synapse model; a population needs a neuron model", model);
    if (n <= 0)
        return nk_fail(ctx, NK_EINVAL, "population size must be a positive integer, got %lld",
                       (long long)n);
    if (n > (int64_t)UINT32_MAX)
        return nk_fail(ctx, NK_EINVAL, "population size %lld is too large (at most %u)",
                       (long long)n, UINT32_MAX);
    char auto_name[32];
    if (!name) {
        snprintf(auto_name, sizeof auto_name, "pop%d", net->npops + 1);
        name = auto_name;
    }
    if (!*name)
        return nk_fail(ctx, NK_EINVAL, "population name must not be empty");
    for (const char *c = name; *c; c++)
        if (*c == '/' || *c == '.')
            return nk_fail(ctx, NK_EINVAL,
                           "population name '%s' may not contain '/' or '.' (it names an HDF5 group)",
                           name);
    if (nk_pop_find(net, name) >= 0)
        return nk_fail(ctx, NK_EINVAL, "a population called '%s' already exists in this network",
                       name);
    if (method && !nk_method_known(method))
        return nk_fail(ctx, NK_EINVAL, "unknown method '%s' (expected %s)", method, NK_METHODS);
    /* state arrays, refractory counters and the spike list, before allocating
     * (a small one without reading /proc/meminfo, which costs 50 us) */
    double bytes = (double)n * ((double)m->nstates * (double)net->real_size + 4 + 8);
    int64_t avail = bytes > 1e6 ? nk_mem_available() : -1;
    if (avail >= 0 && bytes > (double)avail) {
        char need[32], have[32];
        return nk_fail(ctx, NK_ENOMEM,
                       "a population of %lld '%s' neurons needs about %s, more than the %s of "
                       "memory available",
                       (long long)n, model, nk_fmt_bytes(bytes, need, sizeof need),
                       nk_fmt_bytes((double)avail, have, sizeof have));
    }
    if (grow((void **)&net->pops, net->npops, sizeof *net->pops))
        return nk_fail(ctx, NK_ENOMEM, "out of memory");
    nk_pop *p = &net->pops[net->npops];
    p->model = m;
    p->n = n;
    p->lay.len = n;
    p->lay.nc = 1;
    p->h5idx = -1;
    p->name = nk_strdup(name);
    p->method = nk_strdup(method ? method : m->method);
    p->rtol = 1e-6;
    p->atol = 1e-6;
    p->born = net->step;
    p->param = nk_xcalloc((size_t)m->nparams, sizeof(double));
    p->state = nk_xcalloc((size_t)m->nstates, sizeof(void *));
    p->refr = nk_xcalloc64((size_t)n, sizeof *p->refr);
    p->spk = nk_xcalloc64((size_t)n, sizeof(int64_t));
    int ok = p->name && p->method && p->param && p->state && p->refr && p->spk;
    for (int k = 0; ok && k < m->nstates; k++) {
        p->state[k] = state_alloc(net, n);
        ok = p->state[k] != NULL;
    }
    if (!ok) {
        pop_free(p);
        memset(p, 0, sizeof *p);
        return nk_fail(ctx, NK_ENOMEM, "out of memory for population '%s' of %lld neurons", name,
                       (long long)n);
    }
    memcpy(p->param, m->pdef, (size_t)m->nparams * sizeof(double));
    for (int k = 0; k < m->nstates; k++) {
        double v = m->sinit_param[k] >= 0 ? p->param[m->sinit_param[k]] : m->sinit[k];
        state_fill(net, p, p->state[k], 0, n, v);
    }
    char err[1024];
    if (nk_codegen_check_exact(net, net->npops, err, sizeof err)) {
        pop_free(p);
        memset(p, 0, sizeof *p);
        return nk_fail(ctx, NK_EINVAL, "%s", err);
    }
    net->built = 0;
    if (pop_ix_add(net, net->npops)) {
        free(net->pop_ix);
        net->pop_ix = NULL;
        net->pop_ixcap = 0;
    }
    return net->npops++;
}

int nk_pop_set_tolerance(nk_net *net, int pop, double rtol, double atol)
{
    if (pop < 0 || pop >= net->npops)
        return nk_fail(net->ctx, NK_EINVAL, "no population %d", pop);
    if (!(rtol > 0) || !(atol > 0) || !isfinite(rtol) || !isfinite(atol))
        return nk_fail(net->ctx, NK_EINVAL,
                       "rk45 tolerances must be positive and finite, got rtol = %g, atol = %g",
                       rtol, atol);
    /* Below 100 ulps of 1 no step size meets a relative tolerance: the
     * error estimate itself is rounded at that level (SciPy's solve_ivp
     * raises such an rtol to the same floor; here it is refused). */
    if (rtol < 100 * DBL_EPSILON)
        return nk_fail(net->ctx, NK_EINVAL,
                       "rk45: rtol = %g is below what double precision can meet (the error "
                       "estimate is rounded at about 1e-16 of a value); give rtol >= %.17g",
                       rtol, 100 * DBL_EPSILON);
    net->pops[pop].rtol = rtol;
    net->pops[pop].atol = atol;
    net->built = 0;
    return 0;
}

int nk_pop_discard(nk_net *net, int pop)
{
    if (nk_busy(net, "population"))
        return NK_EINVAL;
    if (pop != net->npops - 1 || pop < 0)
        return nk_fail(net->ctx, NK_EINVAL, "only the last population added can be discarded");
    for (int k = 0; k < net->nprojs; k++)
        if (net->projs[k].pre.pop == pop || net->projs[k].post.pop == pop)
            return nk_fail(net->ctx, NK_EINVAL, "population is in use");
    for (int k = 0; k < net->nsrcs; k++)
        for (int q = 0; q < net->srcs[k].nparts; q++)
            if (net->srcs[k].parts[q].pop == pop)
                return nk_fail(net->ctx, NK_EINVAL, "population is in use");
    for (int k = 0; k < net->nmons; k++)
        if (net->mons[k].target.pop == pop)
            return nk_fail(net->ctx, NK_EINVAL, "population is in use");
    net->be->release(net);
    pop_ix_remove(net, pop);
    pop_free(&net->pops[pop]);
    memset(&net->pops[pop], 0, sizeof net->pops[pop]);
    net->npops--;
    net->built = 0;
    return 0;
}

int nk_pop_count(const nk_net *net) { return net->npops; }
const char *nk_pop_name(const nk_net *net, int pop) { return net->pops[pop].name; }
int64_t nk_pop_size(const nk_net *net, int pop) { return net->pops[pop].n; }
const nk_model *nk_pop_model(const nk_net *net, int pop) { return net->pops[pop].model; }

static int unknown_name(nk_ctx *ctx, const char *name, const nk_model *m, int states)
{
    const char *cand[128] = {NULL};
    int n = 0;
    if (states)
        for (int k = 0; k < m->nstates && n < 128; k++)
            cand[n++] = m->sname[k];
    else
        for (int k = 0; k < m->nparams && n < 128; k++)
            cand[n++] = m->pname[k];
    const char *s = nk_suggest(name, cand, n);
    char list[512] = "";
    for (int k = 0; k < n; k++) {
        size_t l = strlen(list);
        snprintf(list + l, sizeof list - l, "%s%s", k ? ", " : "", cand[k]);
    }
    if (s)
        return nk_fail(ctx, NK_EINVAL,
                       "unknown %s '%s' for model '%s' (did you mean '%s'?); it has: %s",
                       states ? "state variable" : "parameter", name, m->name, s, list);
    return nk_fail(ctx, NK_EINVAL, "unknown %s '%s' for model '%s' (expected one of: %s)",
                   states ? "state variable" : "parameter", name, m->name, list);
}

int nk_pop_set_param(nk_net *net, int pop, const char *name, double value)
{
    if (nk_busy(net, "param"))
        return NK_EINVAL;
    nk_pop *p = &net->pops[pop];
    int k = nk_model_param_index(p->model, name);
    if (k < 0)
        return unknown_name(net->ctx, name, p->model, 0);
    if (!isfinite(value))
        return nk_fail(net->ctx, NK_EINVAL, "parameter '%s' of model '%s' must be finite, got %g",
                       name, p->model->name, value);
    char err[512];
    if (nk_model_check_param(p->model, k, value, err, sizeof err))
        return nk_fail(net->ctx, NK_EINVAL, "%s", err);
    /* States that start at this parameter follow it until the population
     * has run a step: a value they cannot hold is refused here, not found
     * infinite at every run. */
    int follow = net->step == p->born;
    for (int s = 0; follow && s < p->model->nstates; s++)
        if (p->model->sinit_param[s] == k && !state_fits(net, value))
            return nk_fail(net->ctx, NK_EINVAL,
                           "population '%s': parameter '%s' = %g is the initial value of state "
                           "'%s', which must be finite%s",
                           p->name, p->model->pname[k], value, p->model->sname[s],
                           STATE_RANGE(net));
    p->param[k] = value;
    for (int s = 0; follow && s < p->model->nstates; s++)
        if (p->model->sinit_param[s] == k)
            state_fill(net, p, p->state[s], 0, p->n, value);
    net->built = 0;
    return 0;
}

/* The first neuron of p whose state s is not finite (a model's initial
 * value that float32 could not hold), or -1. */
static int64_t first_nonfinite(const nk_net *net, const nk_pop *p, int s)
{
    for (int64_t i = 0; i < p->n; i++)
        if (!isfinite(state_get(net, p->state[s], nk_at(&p->lay, i))))
            return i;
    return -1;
}

int nk_pop_check(nk_net *net, int pop)
{
    nk_pop *p = &net->pops[pop];
    const nk_model *m = p->model;
    char err[NK_ERRLEN];
    int rc;
    nk_refractory_steps(net, p, err, sizeof err, &rc);
    if (rc)
        return nk_fail(net->ctx, rc, "%s", err);
    double q = nk_substeps(net->dt, m->max_dt);
    if (q > NK_MAX_SUBSTEPS)
        return nk_fail(net->ctx, NK_EINVAL,
                       "population '%s': max_dt %g ms of model '%s' needs %g sub-steps per step "
                       "of dt = %g ms (at most 1e6: expected max_dt >= %g ms)",
                       p->name, m->max_dt, m->name, q, net->dt, net->dt / NK_MAX_SUBSTEPS);
    /* Initial values the model gives (init and pop:set check their own). */
    for (int s = 0; s < m->nstates; s++) {
        int pk = m->sinit_param[s];
        double v = pk >= 0 ? p->param[pk] : m->sinit[s];
        int64_t i;
        if (state_fits(net, v) || (i = first_nonfinite(net, p, s)) < 0)
            continue;
        char from[160];
        start_source(m, pk, from, sizeof from);
        return nk_fail(net->ctx, NK_EINVAL,
                       "population '%s': state '%s' of neuron %lld starts at %g (%s), which must "
                       "be finite%s; give it another initial value with init",
                       p->name, m->sname[s], (long long)i + 1, v, from, STATE_RANGE(net));
    }
    /* A reset that leaves a state at a value of parameters only (the last
     * statement for it, an assignment): stored as infinity at every spike,
     * the run would stop at the step after. */
    for (int k = 0; k < m->reset.n; k++) {
        const nk_stmt *st = &m->reset.items[k];
        int last = 1;
        for (int j = k + 1; j < m->reset.n && last; j++)
            last = strcmp(m->reset.items[j].target, st->target) != 0;
        double v;
        if (!last || st->op != '=' || nk_model_state_index0(m, st->target) < 0 ||
            nk_eval_param_expr(st->rhs, m, p->param, net->dt, &v, err, sizeof err) ||
            state_fits(net, v))
            continue;
        return nk_fail(net->ctx, NK_EINVAL,
                       "population '%s': the reset '%s' stores %g in state '%s', which must be "
                       "finite%s",
                       p->name, st->text, v, st->target, STATE_RANGE(net));
    }
    return 0;
}

int nk_pop_get_param(const nk_net *net, int pop, const char *name, double *value)
{
    const nk_pop *p = &net->pops[pop];
    int k = nk_model_param_index(p->model, name);
    if (k < 0)
        return unknown_name(net->ctx, name, p->model, 0);
    *value = p->param[k];
    return 0;
}

/* Checks range r and state name var (a neuron state, or "receptor.state");
 * sets *arr to its array and *k to its index in the population's numbering
 * (the model's states, then each receptor's in turn: nk_diverged's). */
static int state_target(nk_net *net, nk_range r, const char *var, void **arr, int *k)
{
    int rc = check_range(net, r, "init");
    if (rc)
        return rc;
    const nk_pop *p = &net->pops[r.pop];
    if ((rc = nk_pop_var(net, r.pop, var, arr, NULL)))
        return rc;
    *k = 0;
    for (int s = 0; s < p->model->nstates; s++, ++*k)
        if (p->state[s] == *arr)
            return 0;
    for (int q = 0; q < p->nrx; q++)
        for (int s = 0; s < p->rx[q].syn->nstates; s++, ++*k)
            if (p->rx[q].state[s] == *arr)
                return 0;
    return nk_fail(net->ctx, NK_EINVAL, "state '%s' of population '%s' has no array", var,
                   p->name);
}

int nk_pop_set_state(nk_net *net, nk_range r, const char *var, double value)
{
    void *arr;
    int k, rc = state_target(net, r, var, &arr, &k);
    if (rc)
        return rc;
    nk_pop *p = &net->pops[r.pop];
    if (!state_fits(net, value))
        return nk_fail(net->ctx, NK_EINVAL, "initial value of '%s' must be finite%s, got %g", var,
                       STATE_RANGE(net), value);
    state_fill(net, p, arr, r.lo, r.hi, value);
    return 0;
}

int nk_pop_set_state_uniform(nk_net *net, nk_range r, const char *var, double lo, double hi)
{
    void *arr;
    int k, rc = state_target(net, r, var, &arr, &k);
    if (rc)
        return rc;
    nk_pop *p = &net->pops[r.pop];
    if (!state_fits(net, lo) || !state_fits(net, hi) || hi < lo)
        return nk_fail(net->ctx, NK_EINVAL,
                       "uniform(%g, %g) for '%s': expected finite bounds%s with low <= high", lo,
                       hi, var, STATE_RANGE(net));
    /* Draw number k of neuron i: the same whatever else the network holds. */
    for (int64_t i = r.lo; i < r.hi; i++) {
        uint32_t out[4];
        nk_rng_block(net->seed, NK_STREAM_INIT + (uint32_t)r.pop, 0, (uint32_t)i, (uint32_t)k, out);
        double u = nk_u01(out[0]);
        state_fill(net, p, arr, i, i + 1, lo + (hi - lo) * u);
    }
    return 0;
}

int nk_pop_set_state_array(nk_net *net, nk_range r, const char *var, const double *values)
{
    void *arr;
    int k, rc = state_target(net, r, var, &arr, &k);
    if (rc)
        return rc;
    nk_pop *p = &net->pops[r.pop];
    for (int64_t i = r.lo; i < r.hi; i++)
        if (!state_fits(net, values[i - r.lo]))
            return nk_fail(net->ctx, NK_EINVAL,
                           "initial value of '%s' for neuron %lld must be finite%s, got %g", var,
                           (long long)i + 1, STATE_RANGE(net), values[i - r.lo]);
    for (int64_t i = r.lo; i < r.hi; i++)
        state_fill(net, p, arr, i, i + 1, values[i - r.lo]);
    return 0;
}

int nk_pop_var(nk_net *net, int pop, const char *var, void **arr, const char **unit)
{
    const nk_pop *p = &net->pops[pop];
    const char *dot = strchr(var, '.');
    if (dot) {
        /* "receptor.state": a state of one of the population's receptors. */
        int r;
        for (r = 0; r < p->nrx; r++)
            if (strlen(p->rx[r].name) == (size_t)(dot - var) &&
                !strncmp(p->rx[r].name, var, (size_t)(dot - var)))
                break;
        if (r == p->nrx) {
            char have[512] = "";
            for (int q = 0; q < p->nrx; q++) {
                size_t l = strlen(have);
                snprintf(have + l, sizeof have - l, "%s%s", q ? ", " : "", p->rx[q].name);
            }
            return nk_fail(net->ctx, NK_EINVAL, "population '%s' has no receptor '%.*s' (%s%s)",
                           p->name, (int)(dot - var), var, p->nrx ? "it has: " : "",
                           p->nrx ? have : "receptors are made by net:connect and net:source");
        }
        int k = nk_model_state_index(p->rx[r].syn, dot + 1);
        if (k < 0)
            return unknown_name(net->ctx, dot + 1, p->rx[r].syn, 1);
        *arr = p->rx[r].state[k];
        if (unit)
            *unit = p->rx[r].syn->sunit[k];
    } else {
        int k = nk_model_state_index(p->model, var);
        if (k < 0)
            return unknown_name(net->ctx, var, p->model, 1);
        *arr = p->state[k];
        if (unit)
            *unit = p->model->sunit[k];
    }
    return 0;
}

int nk_pop_get_state(const nk_net *net, int pop, const char *var, int64_t i, double *value)
{
    void *arr;
    int rc = nk_pop_var((nk_net *)net, pop, var, &arr, NULL);
    if (rc)
        return rc;
    const nk_pop *p = &net->pops[pop];
    if (i < 0 || i >= p->n)
        return nk_fail(net->ctx, NK_EINVAL, "neuron %lld is not in population '%s' (1..%lld)",
                       (long long)i + 1, p->name, (long long)p->n);
    *value = state_get(net, arr, nk_at(&p->lay, i));
    return 0;
}

/* ---- receptors -------------------------------------------------------------- */

static int receptor_get(nk_net *net, int pop, const char *name, const nk_model *m,
                        const char *const *pnames, const double *pvals, int np);

/* Finds or creates receptor name on population pop with synapse model syn and
 * the given parameters. A receptor is one synapse model instance shared by
 * every projection and source that names it: an existing one is reused when
 * the model is the same and every parameter given explicitly matches. */
int nk_receptor_get(nk_net *net, int pop, const char *name, const char *synapse,
                        const char *const *pnames, const double *pvals, int np)
{
    const nk_model *m = nk_model_find(net->ctx, synapse);
    if (!m)
        return NK_EINVAL;
    return receptor_get(net, pop, name, m, pnames, pvals, np);
}

/* nk_receptor_get with the synapse model itself: for an existing receptor,
 * its own, which a later nk.model{replace = true} of the name leaves it. */
static int receptor_get(nk_net *net, int pop, const char *name, const nk_model *m,
                        const char *const *pnames, const double *pvals, int np)
{
    nk_ctx *ctx = net->ctx;
    nk_pop *p = &net->pops[pop];
    const char *synapse = m->name;
    if (!m->synapse)
        return nk_fail(ctx, NK_EINVAL, "'%s' is a neuron model; 'synapse' needs a synapse model",
                       synapse);
    double *vals = nk_xcalloc((size_t)m->nparams, sizeof(double));
    if (!vals)
        return nk_fail(ctx, NK_ENOMEM, "out of memory");
    memcpy(vals, m->pdef, (size_t)m->nparams * sizeof(double));
    for (int k = 0; k < np; k++) {
        int idx = nk_model_param_index(m, pnames[k]);
        if (idx < 0) {
            free(vals);
            return unknown_name(ctx, pnames[k], m, 0);
        }
        if (!isfinite(pvals[k])) {
            free(vals);
            return nk_fail(ctx, NK_EINVAL, "parameter '%s' of synapse '%s' must be finite",
                           pnames[k], synapse);
        }
        char err[512];
        if (nk_model_check_param(m, idx, pvals[k], err, sizeof err)) {
            free(vals);
            return nk_fail(ctx, NK_EINVAL, "%s", err);
        }
        vals[idx] = pvals[k];
    }
    for (int r = 0; r < p->nrx; r++) {
        nk_receptor *x = &p->rx[r];
        if (strcmp(x->name, name))
            continue;
        if (x->syn != m && !strcmp(x->syn->name, m->name)) {
            free(vals);
            return nk_fail(ctx, NK_EINVAL,
                           "receptor '%s' of population '%s' is a '%s' synapse as it was defined "
                           "before nk.model{name = '%s', replace = true}; this asks for the "
                           "current definition (give it another receptor name, or leave "
                           "'synapse' out to feed the receptor as it is)",
                           name, p->name, m->name, m->name);
        }
        if (x->syn != m) {
            free(vals);
            return nk_fail(ctx, NK_EINVAL,
                           "receptor '%s' of population '%s' is a '%s' synapse; this asks for "
                           "'%s' (give it another receptor name)",
                           name, p->name, x->syn->name, m->name);
        }
        for (int j = 0; j < np; j++) {
            int k = nk_model_param_index(m, pnames[j]);
            if (x->param[k] != vals[k]) {
                int rc = nk_fail(ctx, NK_EINVAL,
                                 "receptor '%s' of population '%s' has %s = %g; this asks for %s = "
                                 "%g (give it another receptor name)",
                                 name, p->name, m->pname[k], x->param[k], m->pname[k], vals[k]);
                free(vals);
                return rc;
            }
        }
        free(vals);
        return r;
    }
    /* What would make every run fail is refused before the receptor is made. */
    double q = nk_substeps(net->dt, m->max_dt);
    if (q > NK_MAX_SUBSTEPS) {
        free(vals);
        return nk_fail(ctx, NK_EINVAL,
                       "receptor '%s' of population '%s': max_dt %g ms of synapse '%s' needs %g "
                       "sub-steps per step of dt = %g ms (at most 1e6: expected max_dt >= %g ms)",
                       name, p->name, m->max_dt, m->name, q, net->dt, net->dt / NK_MAX_SUBSTEPS);
    }
    for (int k = 0; k < m->nstates; k++) {
        int pk = m->sinit_param[k];
        double v = pk >= 0 ? vals[pk] : m->sinit[k];
        if (state_fits(net, v))
            continue;
        char from[160];
        start_source(m, pk, from, sizeof from);
        int rc = nk_fail(ctx, NK_EINVAL,
                         "receptor '%s' of population '%s': state '%s' of synapse '%s' starts at "
                         "%g (%s), which must be finite%s",
                         name, p->name, m->sname[k], m->name, v, from, STATE_RANGE(net));
        free(vals);
        return rc;
    }
    if (grow((void **)&p->rx, p->nrx, sizeof *p->rx)) {
        free(vals);
        return nk_fail(ctx, NK_ENOMEM, "out of memory");
    }
    nk_receptor *x = &p->rx[p->nrx];
    x->name = nk_strdup(name);
    x->syn = m;
    x->param = vals;
    x->state = nk_xcalloc((size_t)m->nstates, sizeof(void *));
    int ok = x->name && x->state;
    for (int k = 0; ok && k < m->nstates; k++) {
        x->state[k] = state_alloc(net, p->lay.len);
        ok = x->state[k] != NULL;
        if (ok)
            state_fill(net, p, x->state[k], 0, p->n,
                       m->sinit_param[k] >= 0 ? vals[m->sinit_param[k]] : m->sinit[k]);
    }
    if (!ok) {
        receptor_free(x); /* frees vals, now x->param */
        return nk_fail(ctx, NK_ENOMEM, "out of memory");
    }
    char err[1024];
    if (nk_codegen_check_receptor(net, pop, p->nrx, err, sizeof err)) {
        receptor_free(x);
        return nk_fail(ctx, NK_EINVAL, "%s", err);
    }
    p->nrx++;
    if (nk_codegen_check_exact(net, pop, err, sizeof err)) {
        receptor_free(&p->rx[--p->nrx]);
        return nk_fail(ctx, NK_EINVAL, "receptor '%s' (synapse '%s'): %s", name, m->name, err);
    }
    net->built = 0;
    return p->nrx - 1;
}

/* The receptor a connection or source feeds: receptor (default by the
 * weight's sign: "exc" when >= 0, else "inh") with synapse model synapse.
 * Without a synapse: the receptor as it exists on the population, else the
 * neuron model's default receptor of that name (its synapse and parameter
 * values from the population's parameters), else exp_curr. */
int nk_receptor_for(nk_net *net, int pop, const char *receptor, const char *synapse,
                        double weight, const char *const *pnames, const double *pvals, int np)
{
    nk_pop *p = &net->pops[pop];
    const nk_model *nm = p->model;
    const char *rxname = receptor ? receptor : (weight < 0 ? "inh" : "exc");
    /* a name: monitors say "receptor.state", and save_model writes it into CSV */
    if (!nk_is_name(rxname, 64))
        return nk_fail(net->ctx, NK_EINVAL,
                       "receptor name '%.80s' is not a name (letters, digits and _, not starting "
                       "with a digit, at most 64 characters)",
                       rxname);
    if (synapse)
        return nk_receptor_get(net, pop, rxname, synapse, pnames, pvals, np);
    for (int r = 0; r < p->nrx; r++)
        if (!strcmp(p->rx[r].name, rxname))
            return receptor_get(net, pop, rxname, p->rx[r].syn, pnames, pvals, np);
    const struct nk_model_recept *d = NULL;
    for (int k = 0; k < nm->nrecept; k++)
        if (!strcmp(nm->recept[k].name, rxname))
            d = &nm->recept[k];
    if (!d) {
        if (nm->nrecept > 0 && receptor) {
            char list[256] = "";
            for (int k = 0; k < nm->nrecept; k++) {
                size_t l = strlen(list);
                snprintf(list + l, sizeof list - l, "%s'%s'", k ? ", " : "", nm->recept[k].name);
            }
            return nk_fail(net->ctx, NK_EINVAL,
                           "model '%s' has no default receptor '%s' (it has %s); give 'synapse' "
                           "to make a new one", nm->name, rxname, list);
        }
        return nk_receptor_get(net, pop, rxname, "exp_curr", pnames, pvals, np);
    }
    /* Defaults from the population's parameters, then what was given. */
    int n = d->nparams + np;
    const char **names = nk_xcalloc((size_t)n + 1, sizeof *names);
    double *vals = nk_xcalloc((size_t)n + 1, sizeof *vals);
    if (!names || !vals) {
        free(names);
        free(vals);
        return nk_fail(net->ctx, NK_ENOMEM, "out of memory");
    }
    int q = 0;
    for (int k = 0; k < d->nparams; k++) {
        int given = 0;
        for (int j = 0; j < np; j++)
            given |= !strcmp(pnames[j], d->pname[k]);
        if (given)
            continue;
        char err[512];
        if (nk_eval_param_expr(d->pval[k], nm, p->param, net->dt, &vals[q], err, sizeof err)) {
            free(names);
            free(vals);
            return nk_fail(net->ctx, NK_EINVAL, "default receptor '%s': %s", rxname, err);
        }
        names[q++] = d->pname[k];
    }
    for (int j = 0; j < np; j++) {
        names[q] = pnames[j];
        vals[q++] = pvals[j];
    }
    int rc = nk_receptor_get(net, pop, rxname, d->synapse, names, vals, q);
    free(names);
    free(vals);
    /* say where the synapse and its values came from (unless the message
     * names the receptor already) */
    if (rc < 0 && rc != NK_ENOMEM && strncmp(nk_errmsg(net->ctx), "receptor '", 10)) {
        char why[sizeof net->ctx->err];
        snprintf(why, sizeof why, "%s", nk_errmsg(net->ctx));
        nk_fail(net->ctx, rc, "default receptor '%s' of model '%s' (%s = %s(...)): %s", rxname,
                nm->name, rxname, d->synapse, why);
    }
    return rc;
}

/* Removes receptors of population pop beyond the first keep (made by a call
 * that then failed), so a failed call leaves the network as it was. */
void nk_receptor_drop_new(nk_net *net, int pop, int keep)
{
    nk_pop *p = &net->pops[pop];
    while (p->nrx > keep)
        receptor_free(&p->rx[--p->nrx]);
}

/* ---- projections ------------------------------------------------------------- */

void nk_conn_opts_init(nk_conn_opts *o)
{
    memset(o, 0, sizeof *o);
    o->rule = NK_RULE_ALL_TO_ALL;
    o->allow_autapses = 1;
    o->allow_multapses = 1;
    o->delay = -1; /* one step */
    o->synapse = NULL; /* the target model's default receptors, else exp_curr */
}

static const char *const rule_names[] = {"all_to_all",      "one_to_one",  "bernoulli",
                                         "fixed_indegree",  "fixed_outdegree", "fixed_total",
                                         "distance",        "shape",       "list"};

/* Checks a distribution's numbers; what names it ("weight", "delay"). */
static int check_dist(nk_ctx *ctx, const nk_dist *d, const char *what)
{
    switch (d->kind) {
    case NK_DIST_CONST:
        return 0;
    case NK_DIST_UNIFORM:
        if (!isfinite(d->a) || !isfinite(d->b) || d->b < d->a)
            return nk_fail(ctx, NK_EINVAL,
                           "%s: uniform needs finite low <= high, got [%g, %g)", what, d->a, d->b);
        return 0;
    case NK_DIST_NORMAL:
    case NK_DIST_LOGNORMAL:
        if (!isfinite(d->a) || !isfinite(d->b) || d->b < 0)
            return nk_fail(ctx, NK_EINVAL,
                           "%s: %s needs a finite mean and a standard deviation >= 0, got %g and %g",
                           what, d->kind == NK_DIST_NORMAL ? "normal" : "lognormal", d->a, d->b);
        if (isnan(d->lo) || isnan(d->hi) || d->hi < d->lo)
            return nk_fail(ctx, NK_EINVAL, "%s: range [%g, %g] is empty", what, d->lo, d->hi);
        return 0;
    case NK_DIST_EXPR:
        if (!d->expr || !*d->expr)
            return nk_fail(ctx, NK_EINVAL, "%s: the expression of d is empty", what);
        return 0;
    }
    return nk_fail(ctx, NK_EINVAL, "%s: unknown distribution %d", what, (int)d->kind);
}

/* The weight that decides the default receptor ("exc" for >= 0, "inh"
 * otherwise): the constant, the distribution's centre, a list's common sign.
 * Returns 0, or an error when a list mixes signs and no receptor is named. */
static int sign_weight(nk_net *net, const nk_conn_opts *o, double *w)
{
    *w = o->weight;
    const nk_dist *d = &o->wdist;
    if (d->kind == NK_DIST_UNIFORM)
        *w = 0.5 * (d->a + d->b);
    else if (d->kind == NK_DIST_NORMAL)
        *w = d->a;
    else if (d->kind == NK_DIST_LOGNORMAL)
        *w = 1;
    else if (d->kind == NK_DIST_EXPR)
        *w = 1; /* an expression of d names its sign through 'receptor' */
    if (o->rule == NK_RULE_LIST && o->list_w && o->nlist > 0) {
        int64_t pos = 0, neg = 0;
        for (int64_t k = 0; k < o->nlist; k++) {
            if (o->list_w[k] < 0)
                neg++;
            else
                pos++;
        }
        if (pos && neg && !o->receptor)
            return nk_fail(net->ctx, NK_EINVAL,
                           "list: %lld weights are negative and %lld are not; name the 'receptor' "
                           "or connect each sign on its own (the default receptor follows the "
                           "sign)",
                           (long long)neg, (long long)pos);
        *w = neg ? -1 : 1;
    }
    return 0;
}

/* "weight normal(1, 0.5)", with the clip range where one was given:
 * "weight normal(1, 0.5, 0, 2)", as nk.normal takes it. */
static void dist_text(char *out, size_t len, const char *what, const char *unit, const nk_dist *d,
                      const char *const *dnames)
{
    if ((d->kind == NK_DIST_NORMAL || d->kind == NK_DIST_LOGNORMAL) &&
        (isfinite(d->lo) || isfinite(d->hi)))
        snprintf(out, len, "%s %s(%g, %g, %g, %g)%s", what, dnames[d->kind], d->a, d->b, d->lo,
                 d->hi, unit);
    else
        snprintf(out, len, "%s %s(%g, %g)%s", what, dnames[d->kind], d->a, d->b, unit);
}

int nk_connect(nk_net *net, nk_range pre, nk_range post, const nk_conn_opts *o)
{
    return nk_connect_ex(net, pre, post, o, NULL);
}

int nk_connect_ex(nk_net *net, nk_range pre, nk_range post, const nk_conn_opts *o,
                  const nk_list_src *ls)
{
    if (nk_busy(net, "connect"))
        return NK_EINVAL;
    nk_ctx *ctx = net->ctx;
    int rc;
    if ((rc = check_range(net, pre, "connect: source")) ||
        (rc = check_range(net, post, "connect: target")))
        return rc;
    if ((unsigned)o->rule > NK_RULE_LIST)
        return nk_fail(ctx, NK_EINVAL, "connect: unknown rule %d", (int)o->rule);
    const char *rule = ls ? "edges" : rule_names[o->rule];
    /* An expression of d that names no distance ("1", "-2 * 3") is a
     * constant: its sign picks the receptor, and it needs no positions. */
    nk_conn_opts oc = *o;
    for (int q = 0; q < 2; q++) {
        nk_dist *d = q ? &oc.ddist : &oc.wdist;
        if (d->kind != NK_DIST_EXPR || !d->expr || !*d->expr)
            continue;
        int is_const;
        double v;
        char err[512];
        if (nk_dexpr_const(d->expr, q ? "delay" : "weight", &is_const, &v, err, sizeof err))
            return nk_fail(ctx, NK_EINVAL, "connect (%s): %s", rule, err);
        if (is_const) {
            d->kind = NK_DIST_CONST;
            *(q ? &oc.delay : &oc.weight) = v;
        }
    }
    o = &oc;
    if (o->wdist.kind == NK_DIST_CONST) {
        if (!isfinite(o->weight))
            return nk_fail(ctx, NK_EINVAL, "weight must be a finite number, got %g", o->weight);
        char wb[32];
        if (fabs(o->weight) > 1e6)
            return nk_fail(ctx, NK_EINVAL,
                           "weight %s is out of range (|weight| <= 1e6 in the synapse's unit)",
                           nk_fmt_num(o->weight, wb, sizeof wb));
    }
    if ((rc = check_dist(ctx, &o->wdist, "weight")) || (rc = check_dist(ctx, &o->ddist, "delay")))
        return rc;
    int64_t npre = pre.hi - pre.lo, npost = post.hi - post.lo;
    switch (o->rule) {
    case NK_RULE_BERNOULLI:
        if (!(o->p >= 0 && o->p <= 1)) {
            char pb[32];
            return nk_fail(ctx, NK_EINVAL, "bernoulli: p must be in [0, 1], got %s",
                           nk_fmt_num(o->p, pb, sizeof pb));
        }
        break;
    case NK_RULE_FIXED_INDEGREE:
        if (o->indegree < 0 || o->indegree > (int64_t)UINT32_MAX)
            return nk_fail(ctx, NK_EINVAL, "fixed_indegree: indegree must be in [0, %u], got %lld",
                           UINT32_MAX, (long long)o->indegree);
        if (!o->allow_multapses && o->indegree > npre)
            return nk_fail(ctx, NK_EINVAL,
                           "fixed_indegree: indegree %lld is more than the %lld source neurons "
                           "(allow_multapses = true permits repeats)",
                           (long long)o->indegree, (long long)npre);
        break;
    case NK_RULE_FIXED_OUTDEGREE:
        if (o->outdegree < 0 || o->outdegree > (int64_t)UINT32_MAX)
            return nk_fail(ctx, NK_EINVAL,
                           "fixed_outdegree: outdegree must be in [0, %u], got %lld", UINT32_MAX,
                           (long long)o->outdegree);
        if (!o->allow_multapses && o->outdegree > npost)
            return nk_fail(ctx, NK_EINVAL,
                           "fixed_outdegree: outdegree %lld is more than the %lld target neurons "
                           "(allow_multapses = true permits repeats)",
                           (long long)o->outdegree, (long long)npost);
        break;
    case NK_RULE_FIXED_TOTAL:
        if (o->total < 0 || o->total > (int64_t)UINT32_MAX)
            return nk_fail(ctx, NK_EINVAL, "fixed_total: total must be in [0, %u], got %lld",
                           UINT32_MAX, (long long)o->total);
        if (!o->allow_multapses && (double)o->total > (double)npre * (double)npost)
            return nk_fail(ctx, NK_EINVAL,
                           "fixed_total: %lld synapses are more than the %lld pairs "
                           "(allow_multapses = true permits repeats)",
                           (long long)o->total, (long long)(npre * npost));
        break;
    case NK_RULE_ONE_TO_ONE:
        if (npre != npost)
            return nk_fail(ctx, NK_EINVAL,
                           "one_to_one: source and target must have the same size, got %lld and "
                           "%lld",
                           (long long)npre, (long long)npost);
        break;
    case NK_RULE_DISTANCE:
        if (!o->p_expr || !*o->p_expr)
            return nk_fail(ctx, NK_EINVAL,
                           "distance: p must be an expression of d (um), e.g. "
                           "\"0.3*exp(-d/100)\"");
        break;
    case NK_RULE_LIST:
        if (!ls && (o->nlist < 0 || (o->nlist > 0 && (!o->list_pre || !o->list_post))))
            return nk_fail(ctx, NK_EINVAL, "list: pre and post lists are missing");
        break;
    default:
        break;
    }
    double dsteps = 1;
    if (o->ddist.kind == NK_DIST_CONST) {
        if (!(o->delay < 0) && !isfinite(o->delay))
            return nk_fail(ctx, NK_EINVAL, "delay must be a finite number of ms, got %g",
                           o->delay);
        /* Delays are rounded to the nearest whole step, halves up (with a
         * tolerance of 1e-9 steps, so 0.25 ms at dt 0.1 is 3 steps despite
         * binary fractions), and never below one step. */
        double q = o->delay / net->dt;
        dsteps = o->delay < 0 ? 1 : floor(q + 0.5 + 1e-9 * (q > 1 ? q : 1));
        if (dsteps < 1)
            dsteps = 1;
        char db[32];
        if (dsteps > 65535)
            return nk_fail(ctx, NK_EINVAL,
                           "delay %s ms is too long (at most %g ms at dt = %g ms)",
                           nk_fmt_num(o->delay, db, sizeof db), 65535 * net->dt, net->dt);
    }
    double wsign;
    if ((rc = sign_weight(net, o, &wsign)))
        return rc;
    if (ls)
        wsign = ls->sign;
    int nrx_before = net->pops[post.pop].nrx;
    int rx = nk_receptor_for(net, post.pop, o->receptor, o->synapse, wsign, o->syn_param_names,
                          o->syn_param_values, o->n_syn_params);
    if (rx < 0)
        return rx;
    char err[1024];
    if (nk_codegen_check_graded(net->pops[pre.pop].model, net->pops[post.pop].rx[rx].syn, err,
                                sizeof err)) {
        nk_receptor_drop_new(net, post.pop, nrx_before);
        return nk_fail(ctx, NK_EINVAL, "%s", err);
    }
    if (grow((void **)&net->projs, net->nprojs, sizeof *net->projs)) {
        nk_receptor_drop_new(net, post.pop, nrx_before);
        return nk_fail(ctx, NK_ENOMEM, "out of memory");
    }
    /* The array may have moved, and the backend's tables (delivery splits,
     * descriptors) cover the projections it was built with: rebuild, also
     * when this connect fails below. */
    net->built = 0;
    nk_proj *pj = &net->projs[net->nprojs];
    memset(pj, 0, sizeof *pj);
    pj->pre = pre;
    pj->post = post;
    pj->rx = rx;
    nk_conn_opts o2 = *o;
    o2.delay = dsteps; /* in steps from here on */
    double tc = nk_now();
    rc = nk_connect_build(net, pj, &o2, ls, err, sizeof err);
    net->prof_build[NK_PROFB_CONNECT] += nk_now() - tc;
    if (!rc) { /* its delays' ring buffers (with the projections before it) */
        const int need = nk_rings_needed(net);
        rc = nk_rings_fit(net, pj->max_delay + 1 > need ? pj->max_delay + 1 : need, err,
                          sizeof err);
        if (rc)
            proj_free(pj);
    }
    if (rc) {
        memset(pj, 0, sizeof *pj);
        nk_receptor_drop_new(net, post.pop, nrx_before);
        return nk_fail(ctx, rc, "connect (%s): %s", rule, err);
    }
    char wtxt[96], dtxt[96];
    static const char *const dnames[] = {"", "uniform", "normal", "lognormal", ""};
    if (ls)
        snprintf(wtxt, sizeof wtxt, "weights %g x the file's", ls->scale);
    else if (o->rule == NK_RULE_LIST && o->list_w)
        snprintf(wtxt, sizeof wtxt, "weights from the list");
    else if (o->wdist.kind == NK_DIST_CONST)
        snprintf(wtxt, sizeof wtxt, "weight %g", o->weight);
    else if (o->wdist.kind == NK_DIST_EXPR)
        snprintf(wtxt, sizeof wtxt, "weight %.60s", o->wdist.expr);
    else
        dist_text(wtxt, sizeof wtxt, "weight", "", &o->wdist, dnames);
    if (o->rule == NK_RULE_LIST && o->list_delay)
        snprintf(dtxt, sizeof dtxt, "delays from the list");
    else if (o->ddist.kind == NK_DIST_CONST)
        snprintf(dtxt, sizeof dtxt, "delay %g ms", dsteps * net->dt);
    else if (o->ddist.kind == NK_DIST_EXPR)
        snprintf(dtxt, sizeof dtxt, "delay %.60s ms", o->ddist.expr);
    else
        dist_text(dtxt, sizeof dtxt, "delay", " ms", &o->ddist, dnames);
    /* a slice by its neurons, 1-based as pop:slice takes them */
    char side[2][96];
    for (int q = 0; q < 2; q++) {
        const nk_range r = q ? post : pre;
        const nk_pop *p = &net->pops[r.pop];
        if (r.lo == 0 && r.hi == p->n)
            snprintf(side[q], sizeof side[q], "%.80s", p->name);
        else
            snprintf(side[q], sizeof side[q], "%.50s[%lld..%lld]", p->name,
                     (long long)r.lo + 1, (long long)r.hi);
    }
    snprintf(pj->desc, sizeof pj->desc,
             "projection %s -> %s (%s, %s on receptor '%s'): %lld synapses, %s, %s",
             side[0], side[1], rule,
             net->pops[post.pop].rx[rx].syn->name, net->pops[post.pop].rx[rx].name,
             (long long)pj->nsyn, wtxt, dtxt);
    return net->nprojs++;
}

int64_t nk_proj_nsyn(const nk_net *net, int proj) { return net->projs[proj].nsyn; }
int nk_proj_count(const nk_net *net) { return net->nprojs; }
const char *nk_proj_describe(nk_net *net, int proj) { return net->projs[proj].desc; }

void nk_proj_discard_last(nk_net *net)
{
    if (net->nprojs <= 0)
        return;
    proj_free(&net->projs[--net->nprojs]);
    net->built = 0;
}

int nk_proj_get(const nk_net *net, int proj, nk_proj_info *out)
{
    if (proj < 0 || proj >= net->nprojs)
        return nk_fail(net->ctx, NK_EINVAL, "no projection %d in this network", proj);
    const nk_proj *pj = &net->projs[proj];
    const nk_receptor *x = &net->pops[pj->post.pop].rx[pj->rx];
    memset(out, 0, sizeof *out);
    out->pre = pj->pre;
    out->post = pj->post;
    out->receptor = x->name;
    out->synapse = x->syn->name;
    out->nparams = x->syn->nparams;
    out->param_names = (const char *const *)x->syn->pname;
    out->param_values = x->param;
    out->nsyn = pj->nsyn;
    out->row = pj->row;
    out->col = pj->col;
    out->w = pj->w;
    out->delay = pj->delay;
    return 0;
}

int64_t nk_mem_available(void)
{
    /* $NKSHELL_MEM_AVAILABLE (bytes) caps it: on a shared machine, or to
     * test the checks without a machine's worth of data. */
    long long cap = -1;
    const char *e = getenv("NKSHELL_MEM_AVAILABLE");
    if (e && *e) {
        char *end;
        errno = 0;
        cap = strtoll(e, &end, 10);
        if (errno || *end || cap < 0)
            cap = -1;
    }
    long long kb = -1;
    FILE *f = fopen("/proc/meminfo", "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "MemAvailable: %lld kB", &kb) == 1)
                break;
        fclose(f);
    }
    int64_t avail = kb < 0 ? -1 : (int64_t)kb * 1024;
    if (cap >= 0 && (avail < 0 || cap < avail))
        avail = cap;
    return avail;
}

/* ---- the results file --------------------------------------------------------------- */

/* Declares a sampled monitor's dataset (setup phase); sets m->h5idx. */
static int output_monitor(nk_net *net, nk_monitor *m, char *err, size_t errlen)
{
    char path[512];
    double step = (m->kind == NK_MON_RATE ? m->bin_steps : m->every) * net->dt;
    double t0 = (double)m->start_step * net->dt;
    const char *pop = net->pops[m->target.pop].name;
    if (m->kind == NK_MON_STATE || m->kind == NK_MON_OUTPUT) {
        snprintf(path, sizeof path, "/%s/%s", m->kind == NK_MON_STATE ? "report" : "output",
                 m->name);
        size_t n = (size_t)m->n, nv = (size_t)m->nvars;
        uint64_t *ids = malloc(n * sizeof *ids);
        uint64_t *ptr = malloc((n + 1) * sizeof *ptr);
        uint32_t *el = malloc(n * nv * sizeof *el);
        char vars[1024] = "", units[1024] = "";
        int same = 1;
        for (int v = 0; v < m->nvars; v++) {
            size_t l = strlen(vars);
            snprintf(vars + l, sizeof vars - l, "%s%s", v ? "," : "", m->vname[v]);
            l = strlen(units);
            snprintf(units + l, sizeof units - l, "%s%s", v ? "," : "", m->vunit[v]);
            same &= !strcmp(m->vunit[v], m->vunit[0]);
        }
        int rc = -1;
        if (ids && ptr && el) {
            for (size_t j = 0; j < n; j++) {
                ids[j] = (uint64_t)nk_mon_at(m, (int64_t)j);
                ptr[j] = j * nv;
                for (size_t v = 0; v < nv; v++)
                    el[j * nv + v] = (uint32_t)v;
            }
            ptr[n] = n * nv;
            rc = nk_h5out_report(net->out, path, ids, n, ptr, el, n * nv, t0, step,
                                 same ? m->vunit[0] : units, vars, err, errlen);
        } else {
            snprintf(err, errlen, "out of memory");
        }
        free(ids);
        free(ptr);
        free(el);
        if (rc < 0)
            return rc;
        m->h5idx = rc;
        if (nk_h5out_obj_attr_str(net->out, path, "population", pop, err, errlen))
            return -1;
        return 0;
    }
    snprintf(path, sizeof path, "/%s/%s", m->kind == NK_MON_RATE ? "rate" : "field", m->name);
    int rc = nk_h5out_table(net->out, path, 0, 1, m->kind == NK_MON_RATE ? "Hz" : m->vunit[0],
                            err, errlen);
    if (rc < 0)
        return rc;
    m->h5idx = rc;
    double tm[2] = {t0, step};
    double nn = (double)m->n;
    if (nk_h5out_obj_attr_str(net->out, path, "population", pop, err, errlen) ||
        nk_h5out_obj_attr_double(net->out, path, "time", tm, 2, err, errlen) ||
        nk_h5out_obj_attr_double(net->out, path, "neurons", &nn, 1, err, errlen))
        return -1;
    if (m->kind == NK_MON_FIELD &&
        (nk_h5out_obj_attr_str(net->out, path, "variable", m->vname[0], err, errlen) ||
         nk_h5out_obj_attr_str(net->out, path, "op", m->op_sum ? "sum" : "mean", err, errlen)))
        return -1;
    return 0;
}

static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15u;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
    return x ^ (x >> 31);
}

/* 128 random bits from /dev/urandom; where it cannot be read (a bare
 * chroot), from the clocks, the process and id's address, which differ
 * from run to run too. */
void nk_run_id_new(char id[NK_RUN_ID_LEN + 1])
{
    uint64_t w[2] = {0, 0};
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    ssize_t got = fd >= 0 ? read(fd, w, sizeof w) : -1;
    if (fd >= 0)
        close(fd);
    if (got != (ssize_t)sizeof w) {
        struct timespec rt, mt;
        clock_gettime(CLOCK_REALTIME, &rt);
        clock_gettime(CLOCK_MONOTONIC, &mt);
        w[0] = mix64((uint64_t)rt.tv_sec * 1000000000u + (uint64_t)rt.tv_nsec);
        w[1] = mix64(w[0] ^ ((uint64_t)getpid() << 32) ^ (uint64_t)mt.tv_nsec ^
                     (uint64_t)(uintptr_t)id);
    }
    snprintf(id, NK_RUN_ID_LEN + 1, "%016llx%016llx", (unsigned long long)w[0],
             (unsigned long long)w[1]);
}

int nk_run_id_ok(const char *id)
{
    size_t n = 0;
    for (; id[n]; n++)
        if (!((id[n] >= '0' && id[n] <= '9') || (id[n] >= 'a' && id[n] <= 'f')))
            return 0;
    return n == NK_RUN_ID_LEN;
}

void nk_output_restart(nk_net *net)
{
    net->output_started = 0;
    net->trunc_pending = 0;
    for (int k = 0; k < net->npops; k++)
        net->pops[k].nwritten = 0;
    for (int k = 0; k < net->nmons; k++)
        net->mons[k].rows_out = 0;
}

/* Why file f (NAME or NAME.part) cannot be the results file of the run that
 * net continues, into why; "" when it can. ours names whose run_id that is
 * ("the checkpoint's", or "this network's" for a network's later run). */
static void results_whose(const nk_net *net, const char *f, const char *ours, char *why,
                          size_t len)
{
    struct stat st;
    why[0] = '\0';
    if (stat(f, &st) != 0)
        return;
    if (!S_ISREG(st.st_mode)) { /* reading a FIFO would wait for a writer */
        snprintf(why, len, "'%s' is not a regular file", f);
        return;
    }
    char id[NK_RUN_ID_LEN + 32], err[768];
    int rc = nk_h5out_root_str(f, "run_id", id, sizeof id, err, sizeof err);
    if (rc == NK_H5OUT_EINVAL)
        snprintf(why, len, "'%s' is not an HDF5 file", f);
    else if (rc < 0)
        snprintf(why, len, "'%s' cannot be read to check whose it is (%s)", f, err);
    else if (rc == 0 && net->run_id[0])
        snprintf(why, len, "'%s' has no run_id (an older nkshell or another program wrote it)",
                 f);
    else if (rc == 1 && strcmp(id, net->run_id) && net->run_id[0])
        snprintf(why, len, "'%s' was written by another run (its run_id is %s, %s %s)", f, id,
                 ours, net->run_id);
    else if (rc == 1 && strcmp(id, net->run_id))
        snprintf(why, len, "'%s' was written by another run (its run_id is %s; the "
                 "checkpoint is older than run ids)", f, id);
}

void nk_replace_check(const char *f, int checkpoint, char *why, size_t len)
{
    struct stat st;
    why[0] = '\0';
    if (stat(f, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0)
        return; /* nothing to lose here (what is not a regular file is refused elsewhere) */
    char v[64], err[768];
    int rc = nk_h5out_root_str(f, "format", v, sizeof v, err, sizeof err);
    const int is_ck = rc == 1 && !strcmp(v, "nkshell checkpoint");
    if (rc == NK_H5OUT_EINVAL) {
        snprintf(why, len, "'%s' is not an HDF5 file", f);
    } else if (rc < 0) {
        snprintf(why, len, "'%s' cannot be read to see what it holds (%s)", f, err);
    } else if (checkpoint) {
        if (!is_ck)
            snprintf(why, len, "'%s' is not a checkpoint (%s)", f,
                     nk_h5out_root_str(f, "run_id", v, sizeof v, err, sizeof err) == 1
                         ? "it is a results file"
                         : "an HDF5 file nkshell did not write");
    } else if (is_ck) {
        snprintf(why, len, "'%s' is a checkpoint", f);
    } else if (nk_h5out_root_str(f, "run_id", v, sizeof v, err, sizeof err) != 1 &&
               nk_h5out_root_str(f, "nkshell_version", v, sizeof v, err, sizeof err) != 1) {
        snprintf(why, len, "'%s' is an HDF5 file that nkshell did not write (no run_id)", f);
    }
}

/* Into why, why neither NAME nor NAME.part can be the file net continues
 * ("" when one can); *missing is set when neither exists. */
static int results_which(nk_net *net, const char *ours, char *why, size_t len, int *missing)
{
    size_t l = strlen(net->output);
    char *part = malloc(l + 6);
    if (!part)
        return nk_fail(net->ctx, NK_ENOMEM, "out of memory");
    snprintf(part, l + 6, "%s.part", net->output);
    struct stat st;
    *missing = stat(net->output, &st) != 0 && stat(part, &st) != 0;
    results_whose(net, net->output, ours, why, len);
    if (!why[0])
        results_whose(net, part, ours, why, len);
    free(part);
    if (why[0])
        *missing = 0;
    return 0;
}

int nk_results_check(nk_net *net, int at_restore, int *missing)
{
    *missing = 0;
    if (!net->trunc_pending || !net->output)
        return 0;
    char why[1024];
    if (results_which(net, "the checkpoint's", why, sizeof why, missing))
        return -1;
    if (!why[0])
        return 0;
    const char *ck = net->ck_from ? net->ck_from : "?";
    char todo[512];
    if (at_restore)
        snprintf(todo, sizeof todo, "to continue into a new file, give the restored network "
                 "its own: nk.restore('%s', {output = 'NEW.h5'})", ck);
    else if (net->ck_resumed)
        snprintf(todo, sizeof todo, "move it away (the run then writes the file anew from "
                 "what the checkpoint holds), or give the network another output");
    else
        snprintf(todo, sizeof todo, "move it away (the run then writes the file anew from "
                 "what the checkpoint holds), or restore into a new file: nk.restore('%s', "
                 "{output = 'NEW.h5'})", ck);
    return nk_fail(net->ctx, NK_EINVAL,
                   "%s%s, so it is not the results file of the run checkpointed in '%s'; "
                   "continuing it would cut it back and lose what it holds, so it is left as "
                   "it is: %s",
                   at_restore ? "restore: " : "", why, ck, todo);
}

/* Whether the results file is still the one the last run closed: the same
 * inode, size and modification time (then its run_id need not be read). */
static int output_unchanged(const nk_net *net)
{
    struct stat st;
    const struct stat *o = &net->out_st;
    return net->out_st_ok && stat(net->output, &st) == 0 && st.st_dev == o->st_dev &&
           st.st_ino == o->st_ino && st.st_size == o->st_size &&
           st.st_mtim.tv_sec == o->st_mtim.tv_sec && st.st_mtim.tv_nsec == o->st_mtim.tv_nsec;
}

static int output_open(nk_net *net)
{
    char err[1024];
    if (net->trunc_pending) { /* restored: the file must still be the checkpointed run's */
        int missing = 0;
        int rc = nk_results_check(net, 0, &missing);
        if (rc)
            return rc;
        if (missing) /* nothing to cut back: written anew from what the monitors hold */
            nk_output_restart(net);
    } else if (!net->output_started) {
        /* A first run writes the file anew: not over what is not a results file */
        char why[1024];
        nk_replace_check(net->output, 0, why, sizeof why);
        if (why[0])
            return nk_fail(net->ctx, NK_EINVAL,
                           "output: %s, and a run would replace it with its results, so it is "
                           "left as it is: give the network another output, or move the file "
                           "away",
                           why);
    } else if (net->output_started && !output_unchanged(net)) {
        /* A later run: the file the last one left may since have been moved
         * away, or replaced by another run's, which must not be appended to. */
        char why[1024];
        int missing = 0;
        if (results_which(net, "this network's", why, sizeof why, &missing))
            return -1;
        if (why[0])
            return nk_fail(net->ctx, NK_EINVAL,
                           "%s since this network's last run; appending would change it, so "
                           "it is left as it is: move it away (this run then writes '%s' anew "
                           "from what the monitors hold), or close this network",
                           why, net->output);
        if (missing)
            nk_output_restart(net);
    }
    net->out_st_ok = 0;
    net->out = nk_h5out_open(net->output, net->output_started, err, sizeof err);
    if (!net->out)
        return nk_fail(net->ctx, NK_EIO, "%s", err);
    int rc = 0;
    for (int k = 0; !rc && k < net->npops; k++) {
        nk_pop *p = &net->pops[k];
        if (!p->rec_mask)
            continue;
        p->h5idx = nk_h5out_spikes(net->out, p->name, NK_H5_SORT_BY_TIME, err, sizeof err);
        rc = p->h5idx < 0;
    }
    for (int k = 0; !rc && k < net->nmons; k++) {
        nk_monitor *m = &net->mons[k];
        if (m->kind != NK_MON_SPIKES)
            rc = output_monitor(net, m, err, sizeof err) < 0;
    }
    /* Resumed from a checkpoint: forget what the crashed run wrote after it. */
    for (int k = 0; !rc && net->trunc_pending && k < net->npops; k++)
        if (net->pops[k].h5idx >= 0)
            rc = nk_h5out_truncate_spikes(net->out, net->pops[k].h5idx, net->pops[k].nwritten,
                                          err, sizeof err) < 0;
    for (int k = 0; !rc && net->trunc_pending && k < net->nmons; k++) {
        nk_monitor *m = &net->mons[k];
        if (m->h5idx < 0)
            continue;
        if (nk_h5out_rows(net->out, m->h5idx) < m->rows_out) {
            snprintf(err, sizeof err,
                     "'%s' holds %lld rows of monitor '%s'; the checkpoint says %lld were "
                     "written: it is not the results file of the run that was checkpointed",
                     net->output, (long long)nk_h5out_rows(net->out, m->h5idx), m->name,
                     (long long)m->rows_out);
            rc = 1;
        } else {
            rc = nk_h5out_truncate_rows(net->out, m->h5idx, m->rows_out, err, sizeof err) < 0;
        }
    }
    if (!rc)
        net->trunc_pending = 0;
    char models[8192] = "";
    for (int k = 0; k < net->npops; k++) {
        size_t l = strlen(models);
        if (!strstr(models, net->pops[k].model->describe))
            snprintf(models + l, sizeof models - l, "%s\n", net->pops[k].model->describe);
        for (int r = 0; r < net->pops[k].nrx; r++) {
            l = strlen(models);
            if (!strstr(models, net->pops[k].rx[r].syn->describe))
                snprintf(models + l, sizeof models - l, "%s\n", net->pops[k].rx[r].syn->describe);
        }
    }
    rc = rc || nk_h5out_attr_str(net->out, "nkshell_version", nk_version(), err, sizeof err);
    /* none for a file continued from a checkpoint older than run ids: it
     * stays as it was (nk_results_check) */
    if (net->run_id[0])
        rc = rc || nk_h5out_attr_str(net->out, "run_id", net->run_id, err, sizeof err);
    rc = rc || nk_h5out_attr_u64(net->out, "seed", net->seed, err, sizeof err);
    rc = rc || nk_h5out_attr_double(net->out, "dt", net->dt, err, sizeof err);
    rc = rc || nk_h5out_attr_str(net->out, "backend", net->be->name, err, sizeof err);
    rc = rc || nk_h5out_attr_str(net->out, "precision", net->dbl ? "float64" : "float32", err,
                                 sizeof err);
    rc = rc || nk_h5out_attr_str(net->out, "models", models, err, sizeof err);
    for (int k = 0; !rc && k < net->nmeta; k++)
        rc = nk_h5out_attr_str(net->out, net->meta_key[k], net->meta_val[k], err, sizeof err);
    rc = rc || nk_h5out_begin(net->out, err, sizeof err);
    if (!rc) {
        net->writer = nk_writer_start(net->out, err, sizeof err);
        rc = !net->writer;
    }
    if (rc) {
        nk_h5out_close(net->out, 0, NULL, 0);
        net->out = NULL;
        for (int k = 0; k < net->npops; k++)
            net->pops[k].h5idx = -1;
        for (int k = 0; k < net->nmons; k++)
            net->mons[k].h5idx = -1;
        return nk_fail(net->ctx, NK_EIO, "%s", err);
    }
    net->out = NULL; /* the writer owns it now */
    net->output_started = 1;
    return 0;
}

/* Hands what was recorded since the last call to the writer thread (copies:
 * the records stay in memory for the bindings); with flush, also asks it to
 * flush the file. */
int nk_output_write(nk_net *net, int flush)
{
    char err[1024];
    if (!net->writer)
        return 0;
    for (int k = 0; k < net->npops; k++) {
        nk_pop *p = &net->pops[k];
        if (p->h5idx < 0 || p->nwritten == p->nrec)
            continue;
        int64_t n = p->nrec - p->nwritten;
        double *t = malloc((size_t)n * sizeof *t);
        uint64_t *id = malloc((size_t)n * sizeof *id);
        if (!t || !id) {
            free(t);
            free(id);
            return nk_fail(net->ctx, NK_ENOMEM, "out of memory writing spikes");
        }
        for (int64_t j = 0; j < n; j++) {
            t[j] = (double)p->rec_step[p->nwritten + j] * net->dt;
            id[j] = p->rec_id[p->nwritten + j];
        }
        p->nwritten = p->nrec;
        if (nk_writer_spikes(net->writer, p->h5idx, t, id, (size_t)n))
            goto failed;
    }
    for (int k = 0; k < net->nmons; k++) {
        nk_monitor *m = &net->mons[k];
        if (m->h5idx < 0 || m->rows_out == m->rows)
            continue;
        int64_t n = m->rows - m->rows_out;
        size_t cnt = (size_t)n * (size_t)m->ncols;
        double *v = malloc(cnt * sizeof *v);
        if (!v)
            return nk_fail(net->ctx, NK_ENOMEM, "out of memory writing monitor '%s'", m->name);
        memcpy(v, m->data + (size_t)m->rows_out * (size_t)m->ncols, cnt * sizeof *v);
        m->rows_out = m->rows;
        if (nk_writer_rows(net->writer, m->h5idx, v, (size_t)n))
            goto failed;
    }
    if (flush && nk_writer_flush(net->writer))
        goto failed;
    return 0;
failed:
    nk_writer_error(net->writer, err, sizeof err);
    return nk_fail(net->ctx, NK_EIO, "%s; what was recorded is kept in memory", err);
}

/* Everything handed over is in the file (for checkpoints). */
int nk_output_sync(nk_net *net)
{
    if (!net->writer)
        return 0;
    int rc = nk_output_write(net, 1);
    if (rc)
        return rc;
    char err[1024];
    if (nk_writer_sync(net->writer, err, sizeof err))
        return nk_fail(net->ctx, NK_EIO, "%s", err);
    return 0;
}

static int output_close(nk_net *net, int rc_run)
{
    if (!net->writer)
        return rc_run;
    char saved[NK_ERRLEN];
    snprintf(saved, sizeof saved, "%s", net->ctx->err);
    int rc = nk_output_write(net, 0);
    char err[1024];
    int rc2 = nk_writer_finish(net->writer, 1, err, sizeof err);
    net->writer = NULL;
    for (int k = 0; k < net->npops; k++)
        net->pops[k].h5idx = -1;
    for (int k = 0; k < net->nmons; k++)
        net->mons[k].h5idx = -1;
    if (rc_run) {
        snprintf(net->ctx->err, sizeof net->ctx->err, "%s", saved);
        return rc_run;
    }
    if (rc)
        return rc;
    if (rc2)
        return nk_fail(net->ctx, NK_EIO, "%s", err);
    net->out_st_ok = stat(net->output, &net->out_st) == 0;
    return 0;
}

/* The results file PATH of a run whose process died: PATH.part is made
 * consistent (HDF5's "open for writing" marks cleared, datasets cut to
 * their last flush, as nk_h5out_open's append mode does) and renamed to
 * PATH, which h5dump and every HDF5 reader then open. */
int nk_results_recover(nk_ctx *ctx, const char *path)
{
    char err[1024];
    size_t l = path ? strlen(path) : 0;
    if (!l)
        return nk_fail(ctx, NK_EINVAL, "recover: needs the results file's name");
    char *base = nk_strdup(path);
    if (!base)
        return nk_fail(ctx, NK_ENOMEM, "out of memory");
    if (l > 5 && !strcmp(base + l - 5, ".part"))
        base[l - 5] = 0; /* "run.h5.part" names the same file as "run.h5" */
    size_t bl = strlen(base);
    char *part = malloc(bl + 6);
    if (!part) {
        free(base);
        return nk_fail(ctx, NK_ENOMEM, "out of memory");
    }
    snprintf(part, bl + 6, "%s.part", base);
    FILE *f = fopen(part, "rb");
    if (!f) {
        int rc = nk_fail(ctx, NK_EIO, "recover: there is no '%s' (the file of a run that "
                                      "stopped abnormally)", part);
        free(base);
        free(part);
        return rc;
    }
    fclose(f);
    nk_h5out *h = nk_h5out_open(base, 1, err, sizeof err);
    int rc = 0;
    if (!h || nk_h5out_close(h, 1, err, sizeof err))
        rc = nk_fail(ctx, NK_EIO, "recover: %s", err);
    else if (nk_h5out_verify(base, err, sizeof err)) {
        /* what a failed write left (a full disk before the first flush)
         * may be beyond repair: it goes back to being the .part */
        (void)rename(base, part);
        rc = nk_fail(ctx, NK_EIO,
                     "recover: '%s' is damaged beyond what recovery can mend (%s); it is left "
                     "as '%s'",
                     part, err, part);
    }
    free(base);
    free(part);
    return rc;
}

/* ---- running ---------------------------------------------------------------------------- */

/* One step's synaptic input to a receptor is summed in Q32.32 fixed point,
 * which holds magnitudes below 2^31. An edge delivers at most once per step
 * (its presynaptic neuron fires at most once per step), so the sum of the
 * |weights| onto a neuron bounds what one step can bring; a network where
 * that sum reaches 2^31 is refused before it runs (the sum would wrap).
 * Graded receptors carry weight x a presynaptic value, which no bound
 * holds, and are not checked. The largest sum is kept as the receptor's
 * in_proj (for input_bounds). */
static int check_input_range(nk_net *net)
{
    const double limit = 2147483648.0 * (1 - 1e-9);
    double *acc = NULL;
    int64_t cap = 0;
    int rc = 0;
    for (int k = 0; !rc && k < net->npops; k++) {
        nk_pop *p = &net->pops[k];
        for (int r = 0; !rc && r < p->nrx; r++) {
            p->rx[r].in_proj = 0;
            if (p->rx[r].syn->graded) {
                p->rx[r].in_proj = INFINITY;
                continue;
            }
            int any = 0;
            for (int q = 0; q < net->nprojs; q++) {
                const nk_proj *pj = &net->projs[q];
                if (pj->post.pop != k || pj->rx != r || pj->nsyn == 0)
                    continue;
                if (!any) {
                    if (cap < p->n) {
                        free(acc);
                        cap = p->n;
                        if (!(acc = malloc((size_t)cap * sizeof *acc)))
                            return nk_fail(net->ctx, NK_ENOMEM, "out of memory");
                    }
                    memset(acc, 0, (size_t)p->n * sizeof *acc);
                    any = 1;
                }
                for (int64_t e = 0; e < pj->nsyn; e++)
                    acc[pj->col[e]] += fabs((double)pj->w[e]);
            }
            for (int64_t i = 0; any && i < p->n; i++) {
                if (acc[i] >= limit) {
                    rc = nk_fail(net->ctx, NK_EINVAL,
                                 "population '%s', neuron %lld: the weights of the synapses onto "
                                 "receptor '%s' sum to %g in absolute value, and one step's input "
                                 "(held in 64-bit fixed point) must stay below 2^31 = %.4g; "
                                 "lower the weights or the number of connections",
                                 p->name, (long long)i + 1, p->rx[r].name, acc[i], 2147483648.0);
                    break;
                }
                if (acc[i] > p->rx[r].in_proj)
                    p->rx[r].in_proj = acc[i];
            }
        }
    }
    free(acc);
    return rc;
}

/* The most one step's input to receptor r of population k can reach, in
 * weight units: the projections' share (in_proj), what the spike sources
 * may add to any one neuron, and what the ring buffer holds already (input
 * on its way, or restored from a checkpoint). acc: room for p->n. */
static double input_bound(const nk_net *net, int k, int r, double *acc)
{
    const nk_pop *p = &net->pops[k];
    const nk_receptor *x = &p->rx[r];
    double b = x->in_proj, most = 0;
    int any = 0;
    for (int j = 0; isfinite(b) && j < net->nsrcs; j++) {
        const nk_source *src = &net->srcs[j];
        if (src->removed || !NK_SRC_IS_SPIKES(src->kind))
            continue;
        double m = -1;
        for (int q = 0; q < src->nparts; q++) {
            const nk_src_part *pt = &src->parts[q];
            if (pt->pop != k || pt->rx != r)
                continue;
            if (m < 0)
                m = nk_source_in_max(net, src);
            if (!isfinite(m))
                return INFINITY;
            if (!any) {
                memset(acc, 0, (size_t)p->n * sizeof *acc);
                any = 1;
            }
            for (int64_t i = 0; i < pt->n; i++) /* an entry may repeat a neuron */
                acc[nk_part_at(pt, i)] += m;
        }
    }
    for (int64_t i = 0; any && i < p->n; i++)
        most = acc[i] > most ? acc[i] : most;
    b += most;
    if (x->ring && isfinite(b)) {
        double held = 0;
        size_t len = (size_t)net->ring_len * (size_t)p->lay.len;
        for (size_t i = 0; i < len; i++) {
            double v = fabs((double)x->ring[i]);
            held = v > held ? v : held;
        }
        b += held * NK_FIX_INV;
    }
    return b;
}

/* Sets every receptor's small_in (the kernels are generated after), or,
 * with hold, sets *hold to whether every receptor built with small_in still
 * has its bound: a source's weight or rate may have changed since, or a
 * checkpoint filled the rings. Where one has not, the network is built again
 * (its kernel then converts that receptor's input in full). */
static int input_bounds(nk_net *net, int *hold)
{
    int64_t most = 0;
    for (int k = 0; k < net->npops; k++)
        most = net->pops[k].n > most ? net->pops[k].n : most;
    double *acc = malloc((size_t)(most ? most : 1) * sizeof *acc);
    if (!acc)
        return nk_fail(net->ctx, NK_ENOMEM, "out of memory");
    if (hold)
        *hold = 1;
    for (int k = 0; k < net->npops; k++)
        for (int r = 0; r < net->pops[k].nrx; r++) {
            nk_receptor *x = &net->pops[k].rx[r];
            if (!hold)
                x->small_in = input_bound(net, k, r, acc) < NK_SMALL_IN;
            else if (x->small_in && !(input_bound(net, k, r, acc) < NK_SMALL_IN))
                *hold = 0;
        }
    free(acc);
    net->in_changed = 0;
    return 0;
}

/* The most state variables (the neuron's and its receptors') one
 * population's generated kernel may have. The system compiler's time and
 * memory grow faster than the states: gcc -O3 took 3.5 s and 124 MB for 200,
 * 24 s and 1.2 GB for 400, and was killed at 23 GB for 2,000. */
#define MAX_KERNEL_STATES 512

static int check_kernel_size(nk_net *net)
{
    for (int k = 0; k < net->npops; k++) {
        const nk_pop *p = &net->pops[k];
        int n = p->model->nstates;
        for (int r = 0; r < p->nrx; r++)
            n += p->rx[r].syn->nstates;
        if (n > MAX_KERNEL_STATES)
            return nk_fail(net->ctx, NK_EINVAL,
                           "population '%s': model '%s'%s has %d state variables, more than "
                           "the %d one population's generated code may have (the C compiler's "
                           "time and memory grow faster than the states: 400 took 24 s and "
                           "1.2 GB)",
                           p->name, p->model->name,
                           n > p->model->nstates ? " with its receptors" : "", n,
                           MAX_KERNEL_STATES);
    }
    return 0;
}

int nk_net_build(nk_net *net)
{
    /* (only CPU kernels take the short conversion: a GPU build stays) */
    if (net->built && net->in_changed && net->be == &nk_backend_cpu) {
        int hold = 0, rc = input_bounds(net, &hold);
        if (rc)
            return rc;
        if (!hold)
            net->built = 0;
    }
    net->in_changed = 0;
    if (net->built)
        return 0;
    char err[NK_ERRLEN];
    int rc = check_input_range(net);
    if (!rc)
        rc = input_bounds(net, NULL);
    if (!rc)
        rc = check_kernel_size(net);
    if (rc)
        return rc;
    /* (a network "auto" moved to the CPU stays there, and keeps the note) */
    const int on_gpu = net->be == &nk_backend_cuda;
    if (on_gpu)
        net->gpu_full[0] = 0;
    rc = net->be->build(net, err, sizeof err);
    if (on_gpu && rc && net->gpu_full[0] && net->backend_req == NK_BACKEND_AUTO) {
        /* "auto" asked for the GPU only where it is usable: a network
         * that does not fit in its memory runs on the CPU (gpu_full says
         * why; the backend refused before allocating any of it) */
        net->be->release(net);
        net->be = &nk_backend_cpu;
        rc = net->be->build(net, err, sizeof err);
    } else if (on_gpu) {
        net->gpu_full[0] = 0;
    }
    if (rc)
        return nk_fail(net->ctx, rc, "%s", err);
    net->built = 1;
    return 0;
}

const char *nk_pop_code(nk_net *net, int pop)
{
    if (nk_net_build(net))
        return NULL;
    const nk_pop *p = &net->pops[pop];
    return p->code_dup ? net->pops[p->code_dup - 1].code : p->code;
}

void nk_run_timing(const nk_net *net, double *build_s, double *run_s)
{
    if (build_s)
        *build_s = net->build_s;
    if (run_s)
        *run_s = net->run_s;
}

/* Sampled monitors (state, field, output, rate) keep every row in memory, 8
 * bytes a value, in arrays that double as they fill: a run whose rows would
 * not fit in the memory available is refused before it starts (it ran until
 * the kernel killed the process, the session and its results with it). */
static int check_monitor_memory(nk_net *net, int64_t nsteps)
{
    double need = 0, most = 0;
    int big = -1;
    int64_t end = net->step + nsteps; /* the run records steps up to end - 1 */
    for (int k = 0; k < net->nmons; k++) {
        const nk_monitor *m = &net->mons[k];
        int64_t per = m->kind == NK_MON_RATE ? m->bin_steps : m->every;
        if (m->kind == NK_MON_SPIKES || per < 1 || end <= m->start_step)
            continue;
        double span = (double)(end - m->start_step) / (double)per;
        double rows = m->kind == NK_MON_RATE ? floor(span) : ceil(span);
        if (rows <= (double)m->cap)
            continue;
        double cap = m->cap ? (double)m->cap : 64;
        while (cap < rows)
            cap *= 2;
        double b = (cap - (double)m->cap) * (double)m->ncols * sizeof(double);
        need += b;
        if (b > most)
            most = b, big = k;
    }
    int64_t avail = need > 1e8 ? nk_mem_available() : -1;
    if (avail < 0 || need <= (double)avail)
        return 0;
    const nk_monitor *m = &net->mons[big];
    char nb[32], ab[32], mb[32];
    return nk_fail(net->ctx, NK_ENOMEM,
                   "the monitors would need about %s more memory to record this run (%s of it "
                   "for %s monitor '%s', %lld values a row), more than the %s available: "
                   "record fewer neurons or variables, less often (a larger 'every' or "
                   "'bin'), or run for less time",
                   nk_fmt_bytes(need, nb, sizeof nb), nk_fmt_bytes(most, mb, sizeof mb),
                   nk_monitor_kinds[m->kind], m->name, (long long)m->ncols,
                   nk_fmt_bytes((double)avail, ab, sizeof ab));
}

int nk_run(nk_net *net, double ms, const nk_run_opts *o)
{
    if (nk_busy(net, "run"))
        return NK_EINVAL;
    nk_run_opts none = {0};
    if (!o)
        o = &none;
    if (!(ms >= 0) || !isfinite(ms))
        return nk_fail(net->ctx, NK_EINVAL, "duration must be a finite number of ms >= 0, got %g",
                       ms);
    /* steps are counted in 64 bits: a run may take at most 2^62 */
    double want = floor(ms / net->dt + 0.5);
    if (want > 0x1p62 || (double)net->step + want > 0x1p62)
        return nk_fail(net->ctx, NK_EINVAL, "%g ms is %g steps of dt = %g ms; a network "
                                            "takes at most 2^62 steps in all", ms, want, net->dt);
    int64_t nsteps = (int64_t)want;
    int rc = check_monitor_memory(net, nsteps);
    if (rc)
        return rc;
    if (isnan(o->checkpoint_every) || o->checkpoint_every < 0)
        return nk_fail(net->ctx, NK_EINVAL,
                       "checkpoint_every must be a number of ms >= 0, got %g",
                       o->checkpoint_every);
    if (o->checkpoint_every > 0) {
        char e2[1024];
        if (!o->checkpoint_path || !*o->checkpoint_path)
            return nk_fail(net->ctx, NK_EINVAL, "checkpoint_every needs a checkpoint file");
        if (nk_h5out_check_writable(o->checkpoint_path, e2, sizeof e2))
            return nk_fail(net->ctx, NK_EIO, "checkpoint file: %s", e2);
        if ((rc = nk_checkpoint_path_ok(net, o->checkpoint_path)))
            return rc;
    }
    double t0 = nk_now();
    net->build_s = net->run_s = 0;
    nk_jit_set_interrupt(o->interrupt);
    rc = nk_net_build(net);
    nk_jit_set_interrupt(NULL);
    if (rc)
        return rc;
    double tb = nk_now();
    if (net->output && (rc = output_open(net)))
        return rc;
    double t1 = nk_now();
    net->prof_build[NK_PROFB_OUTPUT] += t1 - tb;
    if (o->built)
        o->built(o->ud, net);
    net->run_spikes = net->run_events = 0;
    if (net->profiling) {
        memset(net->prof, 0, sizeof net->prof);
        net->prof_threads = net->be->threads ? net->be->threads(net) : 1;
        net->prof_gpu = net->be->gpu;
    }
    net->build_s = t1 - t0;
    double last_flush = t1, last_progress = t1;
    int64_t step0 = net->step, ck_steps = 0;
    if (o->checkpoint_every > 0) {
        /* an interval longer than any run: no checkpoint in this one */
        double cs = floor(o->checkpoint_every / net->dt + 0.5);
        ck_steps = cs > 0x1p62 ? INT64_MAX : (int64_t)cs;
        if (ck_steps < 1)
            ck_steps = 1;
    }
    char err[NK_ERRLEN];
    /* A backend that runs elsewhere (the GPU) takes the network there. */
    int synced = 0;
    if (net->be->sync && nsteps > 0) {
        rc = net->be->sync(net, 1, err, sizeof err);
        if (rc) {
            nk_fail(net->ctx, rc, "%s", err);
            return output_close(net, rc);
        }
        synced = 1;
    }
    net->running = 1;
    net->run_until = step0 + nsteps;
    net->run_ck_every = ck_steps;
    net->run_step0 = step0;
    net->run_interrupt = o->interrupt;
    net->ahead = 0;
    int interrupted = 0;
    for (int64_t s = 0; s < nsteps; s++) {
        /* a step the backend started early (net->ahead) is taken first */
        if (o->interrupt && *o->interrupt && !net->ahead) {
            interrupted = 1;
            break;
        }
        rc = net->be->step(net, err, sizeof err);
        if (rc) {
            nk_fail(net->ctx, rc, "%s", err);
            break;
        }
        if (ck_steps > 0 && (net->step - step0) % ck_steps == 0) {
            double tw = net->profiling ? nk_now() : 0;
            if (synced && (rc = net->be->sync(net, 0, err, sizeof err))) {
                nk_fail(net->ctx, rc, "%s", err);
                break;
            }
            rc = nk_checkpoint(net, o->checkpoint_path);
            if (net->profiling)
                net->prof[NK_PROF_WRITE] += nk_now() - tw;
            if (rc)
                break;
        }
        if ((s & 63) == 63 || s == nsteps - 1) {
            double now = nk_now();
            if (o->progress && (now - last_progress > 0.25 || s == nsteps - 1)) {
                o->progress(o->ud, (double)(s + 1) * net->dt, (double)nsteps * net->dt);
                last_progress = now;
            }
            if (net->writer && now - last_flush > 1.0) {
                rc = nk_output_write(net, 1);
                if (net->profiling)
                    net->prof[NK_PROF_WRITE] += nk_now() - now;
                if (rc)
                    break;
                last_flush = now;
            }
        }
    }
    if (net->ahead) {
        /* stopped by an error after the backend started the next step
         * early: that step is taken, as an interrupted run takes it, and
         * the first error is the one reported */
        net->run_until = net->step + 1;
        int r2 = net->be->step(net, err, sizeof err);
        if (r2 && !rc)
            rc = nk_fail(net->ctx, r2, "%s", err);
        net->ahead = 0;
    }
    net->run_interrupt = NULL;
    net->running = 0;
    double tc = nk_now();
    if (synced) {
        int r2 = net->be->sync(net, 0, err, sizeof err);
        if (r2 && !rc)
            rc = nk_fail(net->ctx, r2, "%s", err);
    }
    /* the time once the backend has stopped: the CUDA backend's device may
     * have gone on to the end of a window of queued steps */
    if (interrupted && !rc)
        rc = nk_fail(net->ctx, NK_EINTR,
                     "interrupted at t = %g ms; what was recorded until then is kept",
                     nk_net_time(net));
    rc = output_close(net, rc);
    double t2 = nk_now();
    net->run_s = t2 - t1;
    if (net->profiling) {
        net->prof[NK_PROF_WRITE] += t2 - tc;
        net->prof[NK_PROF_FINISH] = t2 - tc;
        net->prof_run_s = net->run_s;
        net->prof_spikes = net->run_spikes;
        net->prof_events = net->run_events;
    }
    return rc;
}
