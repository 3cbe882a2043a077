/* cuda.c - the CUDA backend: the network's state resident on one GPU, model
 * code generated as CUDA C (codegen.c, rt/nk_cuda.h) and compiled with
 * NVRTC, spikes delivered on the device into ring buffers with 64-bit
 * fixed-point atomics, so that the order of additions never changes a sum.
 * The order of work in a step is the one in backends/backend.h.
 *
 * Same results as the CPU backend: the per-neuron code is the same text as
 * the CPU's (only the loop around it differs), compiled without fused
 * multiply-adds, with the runtime's own exponentials; random numbers are
 * Philox keyed by neuron and step; fixed-point sums do not depend on order.
 *
 * Host and device. Between runs the host's arrays are the network (what
 * net:get, checkpoints and printing read); a run copies them to the device
 * at its start and back at its end (and before each checkpoint), through the
 * backend's sync. A step is a few launches: the drawn sources (poisson,
 * bernoulli) of every population, each population's update, the graded
 * projections, and one delivery for all the others. A step that needs
 * nothing of the host is only queued; the host looks every CHECK_EVERY
 * steps (divergence, the spikes recorded on the device). The host takes
 * part in a step, a round trip, only for the sources still computed there
 * (callbacks and global expressions: then every current is computed there)
 * and an output monitor's call (docs/cuda.md). Spike, state, field and rate
 * monitors record on the device, into buffers the host empties when it
 * looks, and so do a profiled run's counts of spikes and events.
 *
 * With NKSHELL_CUDA=emulate the device is the host (dev.c), which lets the
 * tests run all of this where there is no GPU. */
#include "../../src/internal.h"
#include "../backend.h"
#include "dev.h"
#include "../../src/rt/nk_philox.h"
#define NK_CUDA_STRUCTS_ONLY
#include "../../src/rt/nk_cuda.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cuda_available(char *err, size_t errlen)
{
#ifdef NK_HAVE_CUDA
    char why[1024];
    int rc = nk_dev_probe(why, sizeof why);
    if (rc) {
        snprintf(err, errlen, "the CUDA backend cannot run here: %s",
                 strncmp(why, "CUDA: ", 6) ? why : why + 6);
        return rc;
    }
    return 0;
#else
    snprintf(err, errlen,
             "the CUDA backend is not built into this nkshell (it was configured with "
             "-Dcuda=disabled); use backend = \"cpu\"");
    return NK_ENOTSUP;
#endif
}

/* ---- the backend's state --------------------------------------------------- */

/* A launch recorded as an op of nk_block_run. */
struct bop {
    nk_dfn *f;
    uint32_t blocks, threads;
    size_t argsize;
    _Alignas(16) unsigned char args[256];
};

#define BLOCK 256u

/* How many steps may pass on the device before the host looks whether one
 * diverged and fetches the spikes recorded there (a run's end and every step
 * that needs the host look too). */
#define CHECK_EVERY 64

/* Steps one CUDA graph holds: a run's steps that need nothing of the host
 * go to the device GRAPH_STEPS at a time, as one graph launch, recorded at
 * the first such window of the run (not with NKSHELL_CUDA_GRAPHS=0). */
#define GRAPH_STEPS CHECK_EVERY

/* Counters: spikes per population, then each population's lowest bad
 * neuron x variable, then the halt word (the first step that diverged),
 * then the profile's spikes and synaptic events since the run's start
 * (nk_deliver_all), then the step's warp and thread pieces of delivery and
 * its synaptic events (nk_plan_spike; nk_step_begin zeroes them), then
 * the word nk_block_run's blocks set when one gave up waiting for the
 * others. */
#define HALT(B) ((size_t)(2 * (B)->npops))
#define PROF_SPIKES(B) (HALT(B) + 1)
#define PROF_EVENTS(B) (HALT(B) + 2)
#define NPIECES(B) (HALT(B) + 3)
#define STUCK(B) (HALT(B) + 6) /* 1: nk_block_run's barrier gave up (nk_grid_sync) */
#define NCOUNTERS(B) (HALT(B) + 7)

/* A population on the device. */
typedef struct dpop {
    int nvars;               /* the kernel's state arrays: neuron's, then receptors' */
    void **hvar;             /* their host arrays (p->kstate order) */
    nk_dptr *var;            /* ... and device arrays */
    nk_dptr varp;            /* device array of the device pointers */
    nk_dptr param;           /* parameters, receptors' parameters, codegen's extras, then
                                room for the update's per-step constants ... */
    nk_dptr cst;             /* ... which start here (nk_consts_all) */
    nk_dptr *ring;           /* per receptor */
    nk_dptr ringp;
    nk_dptr iext, refr, spk;
    nk_dptr stage;           /* source input of one slot, staged (when a spike source targets it) */
    unsigned char *src_rx;   /* per receptor: a host spike source (spike_times) adds to it */
    nk_dptr rec_mask, rec_step, rec_id; /* spike recording: CHECK_EVERY x n entries */
    int rec_planned;         /* counted in the plan of device memory (mon_bytes) */
    void *eq_dl;             /* equation sources: their host code */
} dpop;

typedef struct dproj {
    nk_dptr row, col, w, delay;
    int udelay;
    nk_dfn *graded;          /* graded projection: its kernel */
} dproj;

typedef struct cuda_bk {
    nk_dev *dev;
    nk_dmod *mod;
    dpop *pops;
    dproj *projs;
    int npops, nprojs;
    nk_dfn *deliver, *add, *drawk;
    nk_dfn *drawbigk;        /* the drawn entries whose table is too long (nk_draw_big_k) */
    nk_dfn *curheavyk;       /* currents with noise or equations (nk_cur_heavy_k) */
    int cur_heavy, cur_light; /* this run: some population's currents need nk_cur_heavy_k,
                                 some nk_cur_k */
    int64_t graded_syn;      /* connections of graded projections: events per step */
    nk_dfn *update;          /* every population's update (nk_update_all) */
    nk_dfn *begin;           /* nk_step_begin */
    nk_dfn *consts;          /* the updates' per-step constants (nk_consts_all, at build) */
    nk_dgraph *graph;        /* GRAPH_STEPS steps (NULL: not recorded this run) */
    int graph_off;           /* graphs not used */
    char graph_why[200];     /* why, for print(net) */
    int64_t window_end;      /* the steps before it are on the device already (the graph) */
    /* Steps in one launch (NKSHELL_CUDA_BLOCK): a window is one launch of
     * nk_block_run, which runs one step's launches (recorded at the run's
     * first window, as a graph is) GRAPH_STEPS times; see nk_cuda.h. */
    int block;               /* on for this network */
    int block_threads;       /* threads of each of nk_block_run's blocks */
    int block_blocks;        /* its blocks: 1, or more, all resident (a cooperative launch) */
    unsigned block_fns;      /* the kernels it has (runner_fns) */
    nk_dfn *blockk;          /* nk_block_run (not in the emulation, which replays the ops) */
    int recording;           /* launches are ops (record_block), not launched */
    struct bop *ops;         /* one step's launches */
    int nops, capops;
    int block_ready;         /* recorded for this run, and on the device: */
    nk_dptr dops;            /* nk_grid_sync's words (16 bytes), nk_dop per op, then their
                                argument structs */
    char block_why[200];     /* why not, after all (print(net)) */
    /* a profiled run: marks around the window in flight, read at its end
     * (fetch_counters) into the device's time */
    nk_dmark *mark[2];
    int marked;
    nk_dptr stepc;           /* the step counter on the device */
    nk_dptr upd;             /* its nk_dkargs per population */
    int64_t upd_threads;
    /* spike delivery: every projection but the graded ones, one launch */
    nk_dptr dels;            /* nk_ddargs per projection */
    int ndels;
    int64_t del_threads;
    nk_dptr pieces;          /* the step's pieces of rows (nk_plan_spike): warp pieces, then
                                thread pieces from tbase */
    int64_t tbase;
    nk_dptr outs;            /* nk_dout of every delivered projection, by presynaptic
                                population: population k's from out_first[k] */
    int *out_first;          /* npops + 1 */
    int64_t *pend;           /* per population: records fetched, not yet sorted (settle_records) */
    int64_t pend_halt;       /* ... and the halt step when they were fetched */
    uint64_t *sort_tmp;      /* the radix sort's room for fetched records (fetch_records) */
    int64_t sort_cap;
    int64_t sort_at[4096];   /* ... and its counts */
    /* drawn sources: every part of every one, for one launch per step */
    int ndparts, ndtabs;
    nk_dpart *hparts;        /* host copy (and its tables, per drawn source) */
    nk_draw_tab *htabs;
    int draw_ptrs;           /* some table is too long (K < 0): nk_draw_big_k is launched */
    int *tab_src;            /* the source of each table */
    nk_dptr dparts, dtabs;
    int64_t dtotal;
    nk_dptr counters;        /* per population: spikes (u64), then the lowest bad (i64) */
    int64_t *hcount;         /* host copy */
    void *stage;             /* host room for what a look at the device brings back (records'
                                counts, a monitor's rows, the rate counts), made at a run's
                                start so that the looks allocate nothing */
    size_t stage_bytes;
    int64_t *hinit;          /* what a run starts the counters at */
    int host_every_step;     /* sources that need the host: it takes part in every step
                                (else only when an output monitor samples) */
    int unchecked;           /* steps queued since the host last looked for divergence */
    nk_dptr nrec;            /* per population: spikes recorded on the device, not yet fetched */
    int host_rings_dirty;    /* host rings hold device data (after a pull): clear before sources */
    int any_spike_src;
    /* Monitors on the device: state and field monitors sample into buffers
     * (nk_sample_k), rate monitors count (nk_rate_k); the host takes their
     * rows with the counters. Output monitors call Lua: the host samples. */
    nk_dfn *samplek, *ratek;
    nk_dptr *mon_buf;        /* per monitor: its sample buffer (0: none yet) */
    nk_dptr *mon_idx;        /* per monitor: its neurons, when a list (0: none yet) */
    int *mon_rows;           /* per monitor: rows its buffer holds */
    int mon_cap;             /* monitors the three arrays have room for */
    nk_dptr scols;           /* the sampling plan: nk_dscol per (monitor, variable) */
    int nscols;
    int64_t stotal;          /* its entries */
    nk_dptr rmons, rcount;   /* the rate plan (nk_drmon per rate monitor), its counts */
    int *rmon;               /* the monitor of each entry of the rate plan */
    int nrmons;
    size_t planned;          /* device memory the network was estimated to need (room_for) */
    int mons_planned;        /* the monitors counted in it (mon_bytes) */
    int64_t sampled_to;      /* steps before it have their sampling queued ... */
    int64_t counted_to;      /* ... and their rate counts */
    int64_t rate_next;       /* the first step whose counts the host has not taken */
    /* Current sources on the device (nk_cur_k): the run's plan, when no
     * live source needs the host (spike times, equations, callbacks, a
     * global expression); else the host computes every current. */
    nk_dfn *curk, *stimek;
    int dev_srcs;            /* this run: every source is on the device */
    int dev_curs;            /* ... and there are currents to compute */
    nk_dcsrc *hcsrc;         /* per source on the device: what the device has */
    int *csrc_of;            /* ... and which source it is */
    int ncsrc, ndcpops;
    nk_dptr dcsrc, dcpops;
    int64_t ctotal;          /* threads: the neurons of the populations with a current */
    nk_dptr *cmem;           /* the plan's device memory, freed with the next plan */
    int ncmem;
    /* spike-time sources on the device (nk_stimes_k) */
    nk_dstsrc *hst;          /* per source: what the device has ... */
    int *st_of;              /* ... and which source it is */
    int nst;
    nk_dptr dst;
    int64_t st_lanes;        /* threads per source (the host's cursor, ev_pos, stays: its
                                loop skips past events of earlier steps by itself) */
} cuda_bk;

/* Queues a kernel (nk_dev_launch), or, while record_block records a step,
 * notes it as an op of nk_block_run. */
static int launch(cuda_bk *B, nk_dfn *f, uint32_t blocks, uint32_t threads, const void *args,
                  size_t argsize, char *err, size_t errlen)
{
    if (!B->recording)
        return nk_dev_launch(B->dev, f, blocks, threads, args, argsize, err, errlen);
    if (!blocks || !threads)
        return 0;
    if (argsize > sizeof B->ops->args) {
        snprintf(err, errlen, "an argument struct of %zu bytes (at most %zu)", argsize,
                 sizeof B->ops->args);
        return NK_ENOTSUP;
    }
    if (B->nops == B->capops) {
        int nc = B->capops ? 2 * B->capops : 16;
        struct bop *x = realloc(B->ops, (size_t)nc * sizeof *x);
        if (!x) {
            snprintf(err, errlen, "out of memory");
            return NK_ENOMEM;
        }
        B->ops = x;
        B->capops = nc;
    }
    struct bop *o = &B->ops[B->nops++];
    o->f = f;
    o->blocks = blocks;
    o->threads = threads;
    o->argsize = argsize;
    memcpy(o->args, args, argsize);
    return 0;
}

static void release_dpop(cuda_bk *B, dpop *d)
{
    (void)B; /* the device memory goes with the device (nk_dev_close) */
    if (d->eq_dl)
        dlclose(d->eq_dl);
    free(d->hvar);
    free(d->var);
    free(d->ring);
    free(d->src_rx);
    memset(d, 0, sizeof *d);
}

static void cuda_release(nk_net *net)
{
    cuda_bk *B = net->bk;
    if (B) {
        for (int k = 0; k < B->npops; k++)
            release_dpop(B, &B->pops[k]);
        free(B->pops);
        free(B->projs);
        nk_dev_graph_free(B->dev, B->graph);
        nk_dev_mark_free(B->dev, B->mark[0]);
        nk_dev_mark_free(B->dev, B->mark[1]);
        free(B->ops);
        free(B->hparts);
        free(B->htabs);
        free(B->tab_src);
        free(B->hcount);
        free(B->stage);
        free(B->hinit);
        free(B->out_first);
        free(B->mon_buf);
        free(B->mon_idx);
        free(B->mon_rows);
        free(B->rmon);
        free(B->hcsrc);
        free(B->csrc_of);
        free(B->cmem);
        free(B->hst);
        free(B->st_of);
        free(B->sort_tmp);
        free(B->pend);
        nk_dev_close(B->dev); /* frees the device memory and the module */
        free(B);
        net->bk = NULL;
    }
    for (int k = 0; k < net->npops; k++) {
        nk_pop *p = &net->pops[k];
        free(p->code);
        p->code = NULL;
        free(p->kextra);
        p->kextra = NULL;
        p->nkextra = 0;
        for (int q = 0; q < net->nsrcs; q++)
            for (int j = 0; j < net->srcs[q].nparts; j++)
                if (net->srcs[q].parts[j].pop == k)
                    net->srcs[q].parts[j].eq = NULL;
    }
}

/* ---- building ------------------------------------------------------------ */

static int put_new(cuda_bk *B, nk_dptr *p, const void *src, size_t bytes, char *err,
                   size_t errlen)
{
    int rc = nk_dev_alloc(B->dev, p, bytes, err, errlen);
    if (!rc && src && bytes)
        rc = nk_dev_put(B->dev, *p, src, bytes, err, errlen);
    return rc;
}

static int mon_on_device(const nk_monitor *m);
static size_t mon_buf_bytes(const nk_net *net, const nk_monitor *m);

/* ---- device memory -------------------------------------------------------- */

/* A size as the messages give it (powers of 1000, as the CPU's are). */
static const char *mem_str(size_t bytes, char *buf, size_t len)
{
    double b = (double)bytes;
    if (b >= 1e9)
        snprintf(buf, len, "%.2f GB", b / 1e9);
    else if (b >= 1e6)
        snprintf(buf, len, "%.1f MB", b / 1e6);
    else
        snprintf(buf, len, "%.1f kB", b / 1e3);
    return buf;
}

/* NKSHELL_CUDA_MEMORY: the most device memory one network may plan to use,
 * for a GPU shared with other work (and for tests of the refusals below,
 * which also hold on the host emulation with it). A number of bytes with an
 * optional k, M, G or T (powers of 1000) and an optional B: "8G", "512MB",
 * "1.5e6". Unset or empty: no limit but the device's free memory. */
static int memory_cap(size_t *cap, char *err, size_t errlen)
{
    *cap = SIZE_MAX;
    const char *e = getenv("NKSHELL_CUDA_MEMORY");
    if (!e || !*e)
        return 0;
    char *end;
    errno = 0;
    double v = strtod(e, &end), mul = 1;
    if (end != e) {
        switch (*end) {
        case 'k': case 'K': mul = 1e3; end++; break;
        case 'M': mul = 1e6; end++; break;
        case 'G': mul = 1e9; end++; break;
        case 'T': mul = 1e12; end++; break;
        default: break;
        }
        if (*end == 'B')
            end++;
    }
    if (end == e || *end || errno || !(v >= 1) || !(v * mul < 1.8e19)) {
        snprintf(err, errlen,
                 "NKSHELL_CUDA_MEMORY: expected a size in bytes of at least 1, such as 8G, "
                 "512M or 1000000, got '%s'",
                 e);
        return NK_EINVAL;
    }
    *cap = (size_t)(v * mul);
    return 0;
}

/* Device memory of the monitors' buffers that the plan (B->planned) does
 * not hold yet (all of them when B is NULL), and with mark, put them in:
 * spike recording per population, the sampling buffers of state and field
 * monitors and their neuron lists, and the rate counts. Monitors are only
 * ever added. */
static size_t mon_bytes(const nk_net *net, cuda_bk *B, int mark)
{
    size_t b = 0;
    for (int k = 0; k < net->npops; k++) {
        const nk_pop *p = &net->pops[k];
        if (p->rec_mask && !(B && B->pops[k].rec_planned)) {
            b += (size_t)p->n * (1 + CHECK_EVERY * (sizeof(int64_t) + sizeof(uint32_t)));
            if (B && mark)
                B->pops[k].rec_planned = 1;
        }
    }
    int nrate = 0;
    for (int k = B ? B->mons_planned : 0; k < net->nmons; k++) {
        const nk_monitor *m = &net->mons[k];
        if (!mon_on_device(m))
            continue;
        if (m->idx)
            b += (size_t)m->n * sizeof *m->idx;
        if (m->kind == NK_MON_RATE)
            nrate++;
        else
            b += mon_buf_bytes(net, m);
    }
    b += (size_t)nrate * NK_RATE_SLOTS * sizeof(unsigned long long);
    if (B && mark)
        B->mons_planned = net->nmons;
    return b;
}

/* Whether `more` bytes of device memory, for what `what` names, fit: in the
 * device's free memory (on a GPU) and, with what was planned before, under
 * NKSHELL_CUDA_MEMORY. Else the message says both sizes and what to do, and
 * net->gpu_full why, for "auto" (nk_net_build). */
static int room_for(nk_net *net, cuda_bk *B, size_t more, const char *what, const char *todo,
                    char *err, size_t errlen)
{
    size_t cap;
    int rc = memory_cap(&cap, err, errlen);
    if (rc)
        return rc;
    char a[32], b[32], c[32], dname[256];
    size_t total = 0, avail = SIZE_MAX;
    nk_dev_info(B->dev, dname, sizeof dname, NULL, NULL, NULL, &total, NULL);
    if (!nk_dev_emulated(B->dev))
        nk_dev_info(B->dev, NULL, 0, NULL, NULL, NULL, NULL, &avail);
    if (more > avail)
        snprintf(net->gpu_full, sizeof net->gpu_full,
                 "%s about %s of GPU memory, but the %s has %s free (of %s)", what,
                 mem_str(more, a, sizeof a), dname,
                 mem_str(avail, b, sizeof b), mem_str(total, c, sizeof c));
    else if (B->planned + more > cap)
        snprintf(net->gpu_full, sizeof net->gpu_full,
                 "%s about %s of GPU memory, more than NKSHELL_CUDA_MEMORY allows "
                 "(%s%s%s)",
                 what, mem_str(more, a, sizeof a),
                 mem_str(cap, b, sizeof b), B->planned ? ", of which the network uses " : "",
                 B->planned ? mem_str(B->planned, c, sizeof c) : "");
    else {
        B->planned += more;
        return 0;
    }
    snprintf(err, errlen, "%s; %s", net->gpu_full, todo);
    return NK_ENOMEM;
}

/* The most pieces nk_plan_spike can cut from projection pj's rows in a step
 * (every presynaptic neuron spiking): warp pieces added to *w, thread
 * pieces to *t. */
static void piece_bound(const nk_proj *pj, int64_t *w, int64_t *t)
{
    for (int64_t i = 0; i < pj->pre.hi - pj->pre.lo; i++) {
        const int64_t len = pj->row[i + 1] - pj->row[i];
        if (len >= NK_WARP_ROW)
            *w += (len + NK_PIECE - 1) / NK_PIECE;
        else if (len > 0)
            *t += 1;
    }
}

/* Bytes of device memory the network needs, to refuse one that cannot fit
 * before allocating any of it. */
static size_t device_bytes(nk_net *net)
{
    size_t b = 0;
    for (int k = 0; k < net->npops; k++) {
        const nk_pop *p = &net->pops[k];
        size_t n = (size_t)p->n;
        int nv = p->model->nstates;
        for (int r = 0; r < p->nrx; r++)
            nv += p->rx[r].syn->nstates;
        b += n * ((size_t)nv * net->real_size + sizeof *p->refr + sizeof(int64_t));
        b += n * (size_t)p->nrx * (size_t)net->ring_len * sizeof(int64_t);
        b += n * (size_t)p->nrx * sizeof(int64_t); /* staging */
        if (p->i_ext)
            b += n * net->real_size;
    }
    for (int k = 0; k < net->nprojs; k++) {
        const nk_proj *pj = &net->projs[k];
        b += (size_t)(pj->pre.hi - pj->pre.lo + 1) * sizeof(int64_t);
        b += (size_t)pj->nsyn * (sizeof(uint32_t) + sizeof(float) + sizeof(uint16_t));
        if (pj->nsyn > 0 && !net->pops[pj->post.pop].rx[pj->rx].syn->graded) {
            int64_t w = 0, t = 0;
            piece_bound(pj, &w, &t);
            b += (size_t)(w + t) * sizeof(nk_dpiece);
        }
    }
    return b;
}

/* The population's CPU code for its equation sources (they run on the host:
 * their values are uploaded every step). */
static int load_eqsrc(nk_net *net, cuda_bk *B, int pi, char *err, size_t errlen)
{
    char *eq = NULL;
    int rc = nk_codegen_eqsrc(net, pi, &eq, err, errlen);
    if (rc || !eq)
        return rc;
    char *cpu = nk_codegen_pop(net, pi, err, errlen);
    if (!cpu) {
        free(eq);
        return NK_EINVAL;
    }
    size_t a = strlen(cpu), b = strlen(eq);
    char *both = realloc(cpu, a + b + 1);
    if (!both) {
        free(cpu);
        free(eq);
        snprintf(err, errlen, "out of memory");
        return NK_ENOMEM;
    }
    memcpy(both + a, eq, b + 1);
    free(eq);
    rc = nk_jit_load(both, &B->pops[pi].eq_dl, NULL, err, errlen);
    free(both);
    return rc ? rc : nk_bind_eqsrc(net, pi, B->pops[pi].eq_dl, err, errlen);
}

/* True when population texts a (of population ia) and b (of ib) are the
 * same but for the names of their update and constants, nk_update_IA and
 * nk_consts_IA against nk_update_IB and nk_consts_IB: then the two run the
 * same code on their own arguments. */
static int same_update(const char *a, int ia, const char *b, int ib)
{
    static const char *const fn[] = {"NK_UBODY(nk_update_%d)", "NK_BODY(nk_consts_%d, "};
    for (int f = 0; f < 2; f++) {
        char na[48], nb[48];
        snprintf(na, sizeof na, fn[f], ia);
        snprintf(nb, sizeof nb, fn[f], ib);
        const char *pa = strstr(a, na), *pb = strstr(b, nb);
        if (!pa || !pb || pa - a != pb - b || memcmp(a, b, (size_t)(pa - a)))
            return 0;
        a = pa + strlen(na);
        b = pb + strlen(nb);
    }
    return !strcmp(a, b);
}

/* One CUDA module for the whole network: the shared header, then the
 * populations' updates (bodies that nk_update_all calls; they are no
 * kernels of their own) and graded kernels. Populations whose texts are the
 * same but for the update's name (one model, options and sizes: parameters
 * and states are arguments) share the first one's update, as they share
 * one module on the CPU: NVRTC took about 0.2 s per population, so a
 * network of hundreds of populations of a few models (a connectome by cell
 * type) compiled for minutes. Their text (net:code) is then the first
 * one's. */
/* The kernels nk_block_run runs, by op number (fn): each one's name and
 * argument struct; block_fn gives the number of a kernel handle. Op 0 is
 * nk_step_begin, which nk_block_run's barriers run (gen_runner). */
static const char *const BLOCK_FNS[][2] = {
    {"nk_step_begin", "nk_dbargs"}, {"nk_sample_k", "nk_dsmargs"}, {"nk_cur_k", "nk_dcargs"},
    {"nk_stimes_k", "nk_dstargs"},  {"nk_draw_k", "nk_dsargs"},    {"nk_update_all", "nk_duargs"},
    {"nk_rate_k", "nk_drargs"},     {"nk_deliver_all", "nk_dfargs"}, {"nk_draw_big_k", "nk_dsargs"},
    {"nk_cur_heavy_k", "nk_dcargs"},
};
#define NBLOCK_FNS ((int)(sizeof BLOCK_FNS / sizeof *BLOCK_FNS))
enum {
    FN_BEGIN, FN_SAMPLE, FN_CUR, FN_STIMES, FN_DRAW, FN_UPDATE, FN_RATE, FN_DELIVER, FN_DRAWBIG,
    FN_CURHEAVY
};

static int block_fn(const cuda_bk *B, const nk_dfn *f)
{
    const nk_dfn *const h[NBLOCK_FNS] = {B->begin,  B->samplek, B->curk,    B->stimek,
                                         B->drawk,  B->update,  B->ratek,   B->deliver,
                                         B->drawbigk, B->curheavyk};
    for (int k = 0; k < NBLOCK_FNS; k++)
        if (f == h[k])
            return k;
    return -1;
}

/* NKSHELL_CUDA_BLOCK: unset, empty or 0, a window of steps is a graph; 1,
 * one launch of one block; N > 1, one launch of up to N blocks, as many as
 * the device holds at once; "all", as many as it holds. *want: 0 (off), the
 * blocks, or INT_MAX for "all". */
static int block_request(int *want, char *err, size_t errlen)
{
    const char *e = getenv("NKSHELL_CUDA_BLOCK");
    *want = 0;
    if (!e || !*e)
        return 0;
    if (!strcmp(e, "all")) {
        *want = INT_MAX;
        return 0;
    }
    char *end;
    errno = 0;
    const long v = strtol(e, &end, 10);
    if (end == e || *end || errno || v < 0 || v > 1000000) {
        snprintf(err, errlen,
                 "NKSHELL_CUDA_BLOCK=%.40s: expected 0 (graphs), a number of blocks to run each "
                 "window of steps in (1, 2, ...) or \"all\" (as many as the device holds at once)",
                 e);
        return NK_EINVAL;
    }
    *want = (int)v;
    return 0;
}

/* nk_block_run (nk_cuda.h), for the GPU alone: the emulation replays the
 * ops itself. Every thread of the launch runs every op, so all reach each
 * barrier. */
/* The kernels nk_block_run has (bit k: BLOCK_FNS[k]): all but the drawn
 * sources' and the currents', the two with the most registers (a launch
 * has the registers of its largest op), unless the network has such a
 * source. Adding or removing a source rebuilds the network; a monitor does
 * not, so the monitors' kernels are always there. */
static unsigned runner_fns(const nk_net *net)
{
    unsigned m = (1u << NBLOCK_FNS) - 1;
    int draw = 0, ptrs = 0, cur = 0, heavy = 0;
    for (int k = 0; k < net->nsrcs; k++) {
        const nk_source *c = &net->srcs[k];
        if (c->removed)
            continue;
        if (c->kind == NK_SRC_POISSON || c->kind == NK_SRC_BERNOULLI) {
            draw = 1;
            nk_draw_tab t;
            nk_source_tab(net, c, &t);
            ptrs |= t.K < 0; /* as the source's rate is now: a run with a rate
                                raised past it goes as graphs (record_block) */
        } else if (!NK_SRC_IS_SPIKES(c->kind)) {
            cur = 1;
            heavy |= c->kind == NK_SRC_NOISE || c->kind == NK_SRC_EQUATION;
        }
    }
    if (!draw)
        m &= ~(1u << FN_DRAW);
    if (!ptrs)
        m &= ~(1u << FN_DRAWBIG);
    if (!cur)
        m &= ~(1u << FN_CUR);
    if (!heavy)
        m &= ~(1u << FN_CURHEAVY);
    return m;
}

static void gen_runner(FILE *f, unsigned fns)
{
    /* op FN_BEGIN (0) is nk_step_begin, which the barrier before it runs
     * (nk_grid_sync), but for the launch's first op */
    fprintf(f, "\n#ifdef NK_ON_GPU\n/* steps in one launch (cuda.c, NKSHELL_CUDA_BLOCK) */\n"
               "extern \"C\" __global__ void nk_block_run(const nk_dbrun a)\n{\n"
               "    const int64_t t0 = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;\n"
               "    const int64_t nt = (int64_t)gridDim.x * blockDim.x;\n"
               "    for (int64_t s = 0; s < a.nsteps; s++)\n"
               "        for (int32_t o = 0; o < a.nops; o++) {\n"
               "            const int64_t n = a.ops[o].nthreads;\n"
               "            const void *x = a.ops[o].args;\n"
               "            if (a.ops[o].fn == 0 && (s > 0 || o > 0))\n"
               "                continue; /* run by the barrier before it */\n"
               "            switch (a.ops[o].fn) {\n");
    for (int k = 0; k < NBLOCK_FNS; k++)
        if (fns >> k & 1)
            fprintf(f, "            case %d:\n"
                   "                for (int64_t t = t0; t < n; t += nt)\n"
                   "                    %s_body((const %s *)x, t);\n"
                   "                break;\n", k, BLOCK_FNS[k][0], BLOCK_FNS[k][1]);
    fprintf(f, "            }\n"
               "            const nk_dop *nx = o + 1 < a.nops ? a.ops + o + 1\n"
               "                             : s + 1 < a.nsteps ? a.ops : 0;\n"
               "            if (nk_grid_sync(a.bar, a.stuck,\n"
               "                             nx && nx->fn == 0 ? (const nk_dbargs *)nx->args : 0,\n"
               "                             nx && nx->fn == 0 ? nx->nthreads : 0))\n"
               "                return; /* a block gave up waiting (fetch_counters says) */\n"
               "        }\n}\n#endif\n");
}

static char *gen_module(nk_net *net, int runner, char *err, size_t errlen)
{
    char *all = nk_codegen_cuda_header(net);
    int *runs = calloc((size_t)net->npops + 1, sizeof *runs); /* whose update each runs */
    if (!all || !runs) {
        free(all);
        free(runs);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    size_t len = strlen(all);
    for (int k = 0; k < net->npops; k++) {
        nk_pop *p = &net->pops[k];
        int rc;
        p->refr_steps = nk_refractory_steps(net, p, err, errlen, &rc);
        if (rc) {
            free(all);
            free(runs);
            return NULL;
        }
        free(p->code);
        p->code = nk_codegen_pop_cuda(net, k, err, errlen);
        if (!p->code) {
            free(all);
            free(runs);
            return NULL;
        }
        runs[k] = k;
        for (int j = 0; j < k && runs[k] == k; j++)
            if (runs[j] == j && same_update(net->pops[j].code, j, p->code, k))
                runs[k] = j;
        if (runs[k] != k) {
            char *copy = strdup(net->pops[runs[k]].code);
            if (!copy) {
                free(all);
                free(runs);
                snprintf(err, errlen, "out of memory");
                return NULL;
            }
            free(p->code);
            p->code = copy;
            continue;
        }
        size_t l = strlen(p->code);
        char *more = realloc(all, len + l + 1);
        if (!more) {
            free(all);
            free(runs);
            snprintf(err, errlen, "out of memory");
            return NULL;
        }
        all = more;
        memcpy(all + len, p->code, l + 1);
        len += l;
    }
    /* every population's update in one launch, each on whole blocks */
    char *fused = NULL;
    size_t fl = 0;
    FILE *f = open_memstream(&fused, &fl);
    if (!f) {
        free(all);
        free(runs);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    /* (first which population the thread is in, then one call of each
     * update: called from a branch per population, NVRTC inlined a shared
     * update into each) */
    /* (the population's nk_dkargs is read where the update needs each
     * field, not copied: a copy loaded every field at once, and held them,
     * 64 registers for fly-scale's update against 40) */
    fprintf(f, "\n/* every population's update in one launch */\n"
               "NK_KERNEL(nk_update_all, nk_duargs)\n{\n    const nk_dkargs *b = 0;\n"
               "    int64_t first = 0;\n    int u = -1;\n");
    int64_t first = 0;
    const char *els = "    ";
    for (int k = 0; k < net->npops; k++) {
        int64_t n = net->pops[k].n;
        if (n == 0)
            continue;
        int64_t end = first + (n + BLOCK - 1) / BLOCK * BLOCK;
        fprintf(f, "%sif (nk_tid < %lld) {\n        b = a->pops + %d;\n        first = %lld;\n"
                   "        u = %d;\n    }",
                els, (long long)end, k, (long long)first, runs[k]);
        els = " else ";
        first = end;
    }
    fprintf(f, "%sreturn;\n    const int64_t s = *a->stepp;\n"
               "    const double t = (double)s * a->dt;\n"
               "    switch (u) {\n", first ? " else\n        " : "    ");
    for (int k = 0; k < net->npops; k++)
        if (net->pops[k].n > 0 && runs[k] == k)
            fprintf(f, "    case %d:\n        nk_update_%d_body(b, nk_tid - first, s, t);\n"
                       "        break;\n", k, k);
    fprintf(f, "    }\n}\n");
    /* each population's constants, thread k population k's (at build) */
    fprintf(f, "\n/* every population's per-step constants, one thread each */\n"
               "NK_KERNEL(nk_consts_all, nk_duargs)\n{\n    switch (nk_tid) {\n");
    for (int k = 0; k < net->npops; k++)
        if (net->pops[k].n > 0)
            fprintf(f, "    case %d:\n        nk_consts_%d_body(a->pops + %d, 0);\n"
                       "        break;\n", k, runs[k], k);
    fprintf(f, "    }\n}\n");
    free(runs);
    if (runner)
        gen_runner(f, runner_fns(net));
    if (fclose(f) || !fused) {
        free(fused);
        free(all);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    char *more = realloc(all, len + fl + 1);
    if (!more) {
        free(fused);
        free(all);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    all = more;
    memcpy(all + len, fused, fl + 1);
    len += fl;
    free(fused);
    /* the equation sources, for the current kernel */
    char *eq = NULL;
    if (nk_codegen_eqsrc_cuda(net, &eq, err, errlen)) {
        free(all);
        return NULL;
    }
    size_t el = strlen(eq);
    more = realloc(all, len + el + 1);
    if (!more) {
        free(eq);
        free(all);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    all = more;
    memcpy(all + len, eq, el + 1);
    free(eq);
    return all;
}

static int build_pop(nk_net *net, cuda_bk *B, int k, char *err, size_t errlen)
{
    nk_pop *p = &net->pops[k];
    dpop *d = &B->pops[k];
    int rc;
    int nv = p->model->nstates, np = p->model->nparams;
    for (int r = 0; r < p->nrx; r++) {
        nv += p->rx[r].syn->nstates;
        np += p->rx[r].syn->nparams;
    }
    d->nvars = nv;
    d->hvar = nk_xcalloc((size_t)nv + 1, sizeof *d->hvar);
    d->var = nk_xcalloc((size_t)nv + 1, sizeof *d->var);
    d->ring = nk_xcalloc((size_t)p->nrx + 1, sizeof *d->ring);
    d->src_rx = nk_xcalloc((size_t)p->nrx + 1, 1);
    const size_t nparam = (size_t)np + (size_t)p->nkextra + (size_t)p->ncst;
    double *param = nk_xcalloc(nparam + 1, sizeof *param);
    if (!d->hvar || !d->var || !d->ring || !d->src_rx || !param) {
        free(param);
        snprintf(err, errlen, "out of memory");
        return NK_ENOMEM;
    }
    int s = 0, q = 0;
    for (int j = 0; j < p->model->nstates; j++)
        d->hvar[s++] = p->state[j];
    for (int j = 0; j < p->model->nparams; j++)
        param[q++] = p->param[j];
    for (int r = 0; r < p->nrx; r++) {
        for (int j = 0; j < p->rx[r].syn->nstates; j++)
            d->hvar[s++] = p->rx[r].state[j];
        for (int j = 0; j < p->rx[r].syn->nparams; j++)
            param[q++] = p->rx[r].param[j];
    }
    for (int j = 0; j < p->nkextra; j++)
        param[q++] = p->kextra[j];
    size_t n = (size_t)p->n;
    rc = put_new(B, &d->param, param, nparam * sizeof *param, err, errlen);
    free(param);
    d->cst = d->param + (size_t)q * sizeof *param;
    for (int j = 0; !rc && j < nv; j++)
        rc = nk_dev_alloc(B->dev, &d->var[j], n * net->real_size, err, errlen);
    if (!rc)
        rc = put_new(B, &d->varp, d->var, (size_t)nv * sizeof *d->var, err, errlen);
    for (int r = 0; !rc && r < p->nrx; r++)
        rc = nk_dev_alloc(B->dev, &d->ring[r], n * (size_t)net->ring_len * sizeof(int64_t), err,
                          errlen);
    if (!rc)
        rc = put_new(B, &d->ringp, d->ring, (size_t)p->nrx * sizeof *d->ring, err, errlen);
    if (!rc)
        rc = nk_dev_alloc(B->dev, &d->refr, n * sizeof *p->refr, err, errlen);
    if (!rc)
        rc = nk_dev_alloc(B->dev, &d->spk, n * sizeof(int64_t), err, errlen);
    if (!rc && p->i_ext)
        rc = nk_dev_alloc(B->dev, &d->iext, n * net->real_size, err, errlen);
    for (int j = 0; j < net->nsrcs; j++) {
        const nk_source *src = &net->srcs[j];
        if (src->removed || !NK_SRC_IS_SPIKES(src->kind))
            continue;
        for (int t = 0; t < src->nparts; t++) {
            const nk_src_part *pt = &src->parts[t];
            if (pt->pop != k)
                continue;
            if (!nk_source_drawn(src)) { /* drawn ones: build_draws */
                d->src_rx[pt->rx] = 1;
                B->any_spike_src = 1;
            }
        }
    }
    for (int r = 0; !rc && r < p->nrx; r++)
        if (d->src_rx[r] && !d->stage)
            rc = nk_dev_alloc(B->dev, &d->stage, n * sizeof(int64_t), err, errlen);
    if (!rc)
        rc = load_eqsrc(net, B, k, err, errlen);
    return rc;
}

static int build_proj(nk_net *net, cuda_bk *B, int k, char *err, size_t errlen)
{
    nk_proj *pj = &net->projs[k];
    dproj *d = &B->projs[k];
    int64_t npre = pj->pre.hi - pj->pre.lo;
    pj->udelay = pj->nsyn > 0 ? pj->delay[0] : 1;
    for (int64_t e = 1; pj->udelay && e < pj->nsyn; e++)
        if (pj->delay[e] != pj->udelay)
            pj->udelay = 0;
    d->udelay = pj->udelay;
    int rc = put_new(B, &d->row, pj->row, (size_t)(npre + 1) * sizeof *pj->row, err, errlen);
    if (!rc)
        rc = put_new(B, &d->col, pj->col, (size_t)pj->nsyn * sizeof *pj->col, err, errlen);
    if (!rc)
        rc = nk_dev_alloc(B->dev, &d->w, (size_t)pj->nsyn * sizeof *pj->w, err, errlen);
    if (!rc && !pj->udelay)
        rc = put_new(B, &d->delay, pj->delay, (size_t)pj->nsyn * sizeof *pj->delay, err,
                     errlen);
    if (!rc && net->pops[pj->post.pop].rx[pj->rx].syn->graded) {
        char name[64];
        snprintf(name, sizeof name, "nk_graded_%d", k);
        rc = nk_dev_fn(B->dev, B->mod, name, &d->graded, err, errlen);
    }
    return rc;
}

static int build_draws(nk_net *net, cuda_bk *B, char *err, size_t errlen);
static int build_dels(nk_net *net, cuda_bk *B, char *err, size_t errlen);
static int put_upd(nk_net *net, cuda_bk *B, char *err, size_t errlen);
static int put_draws(nk_net *net, cuda_bk *B, int force, char *err, size_t errlen);

static int cuda_build(nk_net *net, char *err, size_t errlen)
{
    cuda_release(net);
    /* The device copies are dense: so are the host arrays (nk_lay). */
    int rc = 0;
    for (int k = 0; !rc && k < net->npops; k++)
        rc = nk_pop_relayout(net, &net->pops[k], 1, NULL, 0, err, errlen);
    if (!rc)
        rc = nk_build_rings(net, err, errlen);
    if (rc)
        return rc;
    cuda_bk *B = nk_xcalloc(1, sizeof *B);
    if (!B) {
        snprintf(err, errlen, "out of memory");
        return NK_ENOMEM;
    }
    net->bk = B;
    B->npops = net->npops;
    B->nprojs = net->nprojs;
    B->pops = nk_xcalloc((size_t)net->npops + 1, sizeof *B->pops);
    B->projs = nk_xcalloc((size_t)net->nprojs + 1, sizeof *B->projs);
    B->hcount = nk_xcalloc(NCOUNTERS(B), sizeof *B->hcount);
    B->hinit = nk_xcalloc(NCOUNTERS(B), sizeof *B->hinit);
    B->pend = nk_xcalloc((size_t)net->npops + 1, sizeof *B->pend);
    if (!B->pops || !B->projs || !B->hcount || !B->hinit || !B->pend) {
        snprintf(err, errlen, "out of memory");
        return NK_ENOMEM;
    }
    for (int k = 0; k <= net->npops; k++)
        B->hinit[net->npops + k] = INT64_MAX; /* no bad neuron, no halt */
    if (!(B->dev = nk_dev_open(err, errlen)))
        return NK_ENOTSUP;
    if ((rc = room_for(net, B, device_bytes(net) + mon_bytes(net, B, 1), "the network needs",
                       "use backend = \"cpu\" (or \"auto\", which then runs it on the CPU), "
                       "or a smaller network",
                       err, errlen)))
        return rc;
    double t0 = nk_now();
    int want = 0;
    if ((rc = block_request(&want, err, errlen)))
        return rc;
    B->block = want > 0;
    B->block_fns = runner_fns(net);
    /* a graded projection is a kernel of its own each step, which
     * nk_block_run does not run (record_block would find it too, after
     * delivery had been sized for one block) */
    for (int k = 0; B->block && k < net->nprojs; k++)
        if (net->projs[k].nsyn > 0 &&
            net->pops[net->projs[k].post.pop].rx[net->projs[k].rx].syn->graded) {
            B->block = 0;
            snprintf(B->block_why, sizeof B->block_why,
                     "a graded projection is a kernel of its own each step");
        }
    /* nk_block_run: the emulation runs none, but NVRTC's check compiles it
     * (otherwise the text, and the cached module, are those without) */
    const int runner = B->block && !nk_dev_emulated(B->dev);
    const char *chk = getenv("NKSHELL_CUDA_NVRTC_CHECK");
    char *code = gen_module(net, runner || (B->block && chk && *chk), err, errlen);
    if (!code)
        return NK_EINVAL;
    double t1 = nk_now();
    net->prof_build[NK_PROFB_CODEGEN] += t1 - t0;
    /* Tests without a GPU: the emulated module must also be CUDA that NVRTC
     * compiles (for sm_90 unless told otherwise), when NVRTC is here. */
    if (nk_dev_emulated(B->dev) && chk && *chk) {
        int cc = atoi(chk) >= 50 ? atoi(chk) : 90;
        rc = nk_dev_nvrtc_check(code, cc, err, errlen);
        if (rc && rc != NK_ENOTSUP) {
            free(code);
            return rc;
        }
    }
    rc = nk_dev_load(B->dev, code, &B->mod, err, errlen);
    free(code);
    net->prof_build[NK_PROFB_COMPILE] += nk_now() - t1;
    if (rc)
        return rc;
    if ((rc = nk_dev_fn(B->dev, B->mod, "nk_deliver_all", &B->deliver, err, errlen)) ||
        (rc = nk_dev_fn(B->dev, B->mod, "nk_add_i64", &B->add, err, errlen)) ||
        (rc = nk_dev_fn(B->dev, B->mod, "nk_draw_k", &B->drawk, err, errlen)) ||
        (rc = nk_dev_fn(B->dev, B->mod, "nk_draw_big_k", &B->drawbigk, err, errlen)) ||
        (rc = nk_dev_fn(B->dev, B->mod, "nk_update_all", &B->update, err, errlen)) ||
        (rc = nk_dev_fn(B->dev, B->mod, "nk_step_begin", &B->begin, err, errlen)) ||
        (rc = nk_dev_fn(B->dev, B->mod, "nk_consts_all", &B->consts, err, errlen)) ||
        (rc = nk_dev_fn(B->dev, B->mod, "nk_sample_k", &B->samplek, err, errlen)) ||
        (rc = nk_dev_fn(B->dev, B->mod, "nk_rate_k", &B->ratek, err, errlen)) ||
        (rc = nk_dev_fn(B->dev, B->mod, "nk_cur_k", &B->curk, err, errlen)) ||
        (rc = nk_dev_fn(B->dev, B->mod, "nk_cur_heavy_k", &B->curheavyk, err, errlen)) ||
        (rc = nk_dev_fn(B->dev, B->mod, "nk_stimes_k", &B->stimek, err, errlen)) ||
        (runner && (rc = nk_dev_fn(B->dev, B->mod, "nk_block_run", &B->blockk, err, errlen))))
        return rc;
    B->block_threads = runner ? nk_dev_fn_max_threads(B->blockk) : 1024;
    if (B->block_threads > 1024)
        B->block_threads = 1024;
    B->block_threads = B->block_threads / 32 * 32;
    if (B->block_threads < 32)
        B->block = 0;
    B->block_blocks = 1;
    if (B->block && want > 1) {
        /* more blocks: all resident at once, or nk_grid_sync would wait
         * for blocks that cannot start */
        const int most = nk_dev_fn_resident(B->dev, runner ? B->blockk : B->update,
                                            (uint32_t)B->block_threads, want);
        if (most >= 1)
            B->block_blocks = most;
        else
            snprintf(B->block_why, sizeof B->block_why,
                     "one block, as the device or driver has no cooperative launch");
    }
    for (int k = 0; k < net->nprojs; k++)
        if (net->pops[net->projs[k].post.pop].rx[net->projs[k].rx].syn->graded)
            B->graded_syn += net->projs[k].nsyn;
    for (int k = 0; k < net->npops; k++)
        if ((rc = build_pop(net, B, k, err, errlen)))
            return rc;
    for (int k = 0; k < net->nprojs; k++)
        if ((rc = build_proj(net, B, k, err, errlen)))
            return rc;
    rc = nk_dev_alloc(B->dev, &B->counters, NCOUNTERS(B) * sizeof(int64_t), err,
                      errlen);
    if (!rc)
        rc = nk_dev_alloc(B->dev, &B->nrec, (size_t)net->npops * sizeof(int64_t) + 8, err,
                          errlen);
    if (!rc)
        rc = nk_dev_alloc(B->dev, &B->stepc, sizeof(int64_t), err, errlen);
    /* the plans of drawn sources and of delivery (which points at the
     * counters) */
    if (!rc)
        rc = build_draws(net, B, err, errlen);
    if (!rc)
        rc = build_dels(net, B, err, errlen);
    if (!rc)
        rc = put_upd(net, B, err, errlen);
    if (!rc) { /* once: the parameters do not change without a new build */
        nk_duargs a = {.pops = (const nk_dkargs *)(uintptr_t)B->upd, .dt = net->dt};
        rc = launch(B, B->consts, (uint32_t)((net->npops + BLOCK - 1) / BLOCK),
                           BLOCK, &a, sizeof a, err, errlen);
    }
    const char *g = getenv("NKSHELL_CUDA_GRAPHS");
    B->graph_off = g && !strcmp(g, "0");
    if (B->graph_off)
        snprintf(B->graph_why, sizeof B->graph_why, "NKSHELL_CUDA_GRAPHS=0");
    return rc;
}

/* ---- host and device copies ------------------------------------------------ */

static int fetch_counters(nk_net *net, cuda_bk *B, int defer, char *err, size_t errlen);
static void settle_records(nk_net *net, cuda_bk *B);
static int build_mons(nk_net *net, cuda_bk *B, char *err, size_t errlen);
static int build_curs(nk_net *net, cuda_bk *B, char *err, size_t errlen);

/* to_device: the host's states, refractory counters, ring buffers and
 * weights go to the device (at the start of a run; the host rings are then
 * cleared, to stage source input). Else the device's come back (at the end
 * of a run, and before a checkpoint). */
static int cuda_sync(nk_net *net, int to_device, char *err, size_t errlen)
{
    cuda_bk *B = net->bk;
    if (!B)
        return 0;
    /* the last look's records, when the run stopped after it (fetch_counters
     * below would sort them too, but not if a copy fails first) */
    settle_records(net, B);
    int rc = 0;
    if (to_device) {
        /* Monitors added since the build: their buffers must fit too
         * (checked before anything moves: a refused run changes nothing). */
        size_t more = mon_bytes(net, B, 0);
        if (more && (rc = room_for(net, B, more,
                                   "the monitors added since the network was built need",
                                   "record fewer neurons (a slice) or variables, or sample "
                                   "less often (option 'every')",
                                   err, errlen))) {
            net->gpu_full[0] = 0; /* a refusal, not a reason to change backends */
            return rc;
        }
        mon_bytes(net, B, 1);
    }
    for (int k = 0; !rc && k < net->npops; k++) {
        nk_pop *p = &net->pops[k];
        dpop *d = &B->pops[k];
        size_t n = (size_t)p->n, rs = n * net->real_size;
        size_t ring_bytes = n * (size_t)net->ring_len * sizeof(int64_t);
        for (int j = 0; !rc && j < d->nvars; j++)
            rc = to_device ? nk_dev_put(B->dev, d->var[j], d->hvar[j], rs, err, errlen)
                           : nk_dev_get(B->dev, d->hvar[j], d->var[j], rs, err, errlen);
        if (!rc)
            rc = to_device
                     ? nk_dev_put(B->dev, d->refr, p->refr, n * sizeof *p->refr, err, errlen)
                     : nk_dev_get(B->dev, p->refr, d->refr, n * sizeof *p->refr, err, errlen);
        for (int r = 0; !rc && r < p->nrx; r++) {
            rc = to_device ? nk_dev_put(B->dev, d->ring[r], p->rx[r].ring, ring_bytes, err, errlen)
                           : nk_dev_get(B->dev, p->rx[r].ring, d->ring[r], ring_bytes, err, errlen);
            if (!rc && to_device)
                memset(p->rx[r].ring, 0, ring_bytes);
        }
    }
    for (int k = 0; !rc && to_device && k < net->nprojs; k++) {
        const nk_proj *pj = &net->projs[k];
        rc = nk_dev_put(B->dev, B->projs[k].w, pj->w, (size_t)pj->nsyn * sizeof *pj->w, err,
                        errlen);
    }
    B->host_rings_dirty = !to_device;
    if (rc)
        return rc;
    if (to_device) {
        /* Spike monitors record on the device: which neurons, and room for
         * CHECK_EVERY steps of spikes (the host fetches them at least that
         * often). */
        for (int k = 0; !rc && k < net->npops; k++) {
            nk_pop *p = &net->pops[k];
            dpop *d = &B->pops[k];
            if (!p->rec_mask)
                continue;
            size_t n = (size_t)p->n, cap = n * CHECK_EVERY;
            if (!d->rec_mask &&
                ((rc = nk_dev_alloc(B->dev, &d->rec_mask, n, err, errlen)) ||
                 (rc = nk_dev_alloc(B->dev, &d->rec_step, cap * sizeof(int64_t), err, errlen)) ||
                 (rc = nk_dev_alloc(B->dev, &d->rec_id, cap * sizeof(uint32_t), err, errlen))))
                return rc;
            rc = nk_dev_put(B->dev, d->rec_mask, p->rec_mask, n, err, errlen);
        }
        if (!rc)
            rc = nk_dev_zero(B->dev, B->nrec, (size_t)net->npops * sizeof(int64_t), err, errlen);
        if (rc)
            return rc;
        /* the counter the first step's nk_step_begin advances */
        int64_t before = net->step - 1;
        if ((rc = put_draws(net, B, 1, err, errlen)) || (rc = put_upd(net, B, err, errlen)) ||
            (rc = nk_dev_put(B->dev, B->stepc, &before, sizeof before, err, errlen)))
            return rc;
        B->unchecked = 0;
        if ((rc = build_mons(net, B, err, errlen)) || (rc = build_curs(net, B, err, errlen)))
            return rc;
        nk_dev_graph_free(B->dev, B->graph); /* recorded again for this run */
        B->graph = NULL;
        B->block_ready = 0; /* likewise */
        B->window_end = 0;
        B->host_every_step = 0;
        for (int k = 0; !B->dev_srcs && k < net->nsrcs; k++)
            B->host_every_step |= !net->srcs[k].removed && !nk_source_drawn(&net->srcs[k]);
        return nk_dev_put(B->dev, B->counters, B->hinit,
                          NCOUNTERS(B) * sizeof(int64_t), err, errlen);
    }
    /* A run stopped inside a graph's window (interrupted) has gone on on the
     * device to the window's end. A step queued since the last look may
     * have diverged; spikes recorded since then come back. */
    if (B->window_end > net->step)
        net->step = B->window_end;
    B->window_end = 0;
    return fetch_counters(net, B, 0, err, errlen);
}

/* ---- a step -------------------------------------------------------------- */

/* The device array behind a host state array (monitors name host arrays). */
static nk_dptr device_of(cuda_bk *B, const void *h, size_t *bytes, nk_net *net)
{
    for (int k = 0; k < B->npops; k++)
        for (int j = 0; j < B->pops[k].nvars; j++)
            if (B->pops[k].hvar[j] == h) {
                *bytes = (size_t)net->pops[k].n * net->real_size;
                return B->pops[k].var[j];
            }
    return 0;
}

/* Brings to the host the state arrays that output monitors sample at step
 * s (the others sample on the device). */
static int fetch_sampled(nk_net *net, cuda_bk *B, int64_t s, char *err, size_t errlen)
{
    for (int k = 0; k < net->nmons; k++) {
        nk_monitor *m = &net->mons[k];
        if (m->kind != NK_MON_OUTPUT)
            continue;
        if (s < m->start_step || (s - m->start_step) % m->every ||
            (s - m->start_step) / m->every < m->rows)
            continue;
        for (int v = 0; v < m->nvars; v++) {
            size_t bytes = 0;
            nk_dptr dp = device_of(B, m->varr[v], &bytes, net);
            int rc = dp ? nk_dev_get(B->dev, m->varr[v], dp, bytes, err, errlen) : 0;
            if (rc)
                return rc;
        }
    }
    return 0;
}

/* ---- monitors on the device ---------------------------------------------- */

/* Whether monitor m samples (state, field) or counts (rate) on the device;
 * output monitors call Lua, so the host samples them. */
static int mon_on_device(const nk_monitor *m)
{
    return m->kind == NK_MON_STATE || m->kind == NK_MON_FIELD || m->kind == NK_MON_RATE;
}

/* Rows a monitor's buffer holds: every sample between two looks of the
 * host (CHECK_EVERY steps at most), and one to spare. */
static int mon_rows(const nk_monitor *m)
{
    return CHECK_EVERY / m->every + 2;
}

/* The bytes of a state or field monitor's buffer on the device (mon_rows
 * rows of its values, in the states' own type); the host fetches into as
 * many (cuda_bk.stage). */
static size_t mon_buf_bytes(const nk_net *net, const nk_monitor *m)
{
    return (size_t)mon_rows(m) * (size_t)m->n * (size_t)m->nvars * net->real_size;
}

/* The plans of the monitors on the device, at a run's start (monitors may
 * have been added since the last run): buffers for new monitors, the
 * sampling columns, the rate entries and their counts, cleared. */
static int build_mons(nk_net *net, cuda_bk *B, char *err, size_t errlen)
{
    if (net->nmons > B->mon_cap) {
        int cap = net->nmons;
        nk_dptr *buf = realloc(B->mon_buf, (size_t)cap * sizeof *buf);
        if (buf)
            B->mon_buf = buf;
        nk_dptr *idx = realloc(B->mon_idx, (size_t)cap * sizeof *idx);
        if (idx)
            B->mon_idx = idx;
        int *rows = realloc(B->mon_rows, (size_t)cap * sizeof *rows);
        if (rows)
            B->mon_rows = rows;
        int *rmon = realloc(B->rmon, (size_t)cap * sizeof *rmon);
        if (rmon)
            B->rmon = rmon;
        if (!buf || !idx || !rows || !rmon) {
            snprintf(err, errlen, "out of memory");
            return NK_ENOMEM;
        }
        for (int k = B->mon_cap; k < cap; k++) {
            B->mon_buf[k] = B->mon_idx[k] = 0;
            B->mon_rows[k] = 0;
        }
        B->mon_cap = cap;
    }
    int ncols = 0, nrate = 0, rc = 0;
    for (int k = 0; k < net->nmons; k++) {
        nk_monitor *m = &net->mons[k];
        m->on_device = mon_on_device(m);
        if (!m->on_device)
            continue;
        if (m->kind == NK_MON_RATE)
            nrate++;
        else
            ncols += m->nvars;
        if (m->idx && !B->mon_idx[k])
            rc = put_new(B, &B->mon_idx[k], m->idx, (size_t)m->n * sizeof *m->idx, err, errlen);
        if (!rc && m->kind != NK_MON_RATE && !B->mon_buf[k]) {
            B->mon_rows[k] = mon_rows(m);
            rc = nk_dev_alloc(B->dev, &B->mon_buf[k], mon_buf_bytes(net, m), err, errlen);
        }
        if (rc)
            return rc;
    }
    nk_dev_free(B->dev, B->scols);
    nk_dev_free(B->dev, B->rmons);
    nk_dev_free(B->dev, B->rcount);
    B->scols = B->rmons = B->rcount = 0;
    B->nscols = B->nrmons = 0;
    B->stotal = 0;
    nk_dscol *cols = nk_xcalloc((size_t)ncols + 1, sizeof *cols);
    nk_drmon *rm = nk_xcalloc((size_t)nrate + 1, sizeof *rm);
    if (!cols || !rm) {
        free(cols);
        free(rm);
        snprintf(err, errlen, "out of memory");
        return NK_ENOMEM;
    }
    if (nrate)
        rc = nk_dev_alloc(B->dev, &B->rcount,
                          (size_t)nrate * NK_RATE_SLOTS * sizeof(unsigned long long), err, errlen);
    if (!rc && nrate)
        rc = nk_dev_zero(B->dev, B->rcount,
                         (size_t)nrate * NK_RATE_SLOTS * sizeof(unsigned long long), err, errlen);
    for (int k = 0; !rc && k < net->nmons; k++) {
        nk_monitor *m = &net->mons[k];
        if (!m->on_device)
            continue;
        const dpop *d = &B->pops[m->target.pop];
        if (m->kind == NK_MON_RATE) {
            B->rmon[B->nrmons] = k;
            rm[B->nrmons] = (nk_drmon){
                .spk = (const int64_t *)(uintptr_t)d->spk,
                .nspk = (const unsigned long long *)(uintptr_t)(B->counters +
                                                                (size_t)m->target.pop * 8),
                .idx = (const int64_t *)(uintptr_t)B->mon_idx[k],
                .lo = m->target.lo, .hi = m->target.hi, .n = m->n,
                .count = (unsigned long long *)(uintptr_t)(B->rcount + (size_t)B->nrmons *
                                                                          NK_RATE_SLOTS * 8),
            };
            B->nrmons++;
            continue;
        }
        for (int v = 0; v < m->nvars; v++) {
            size_t bytes = 0;
            nk_dptr var = device_of(B, m->varr[v], &bytes, net);
            if (!var) {
                snprintf(err, errlen, "monitor '%s': variable '%s' is not on the device",
                         m->name, m->vname[v]);
                rc = NK_EINVAL;
                break;
            }
            cols[B->nscols++] = (nk_dscol){
                .var = (const void *)(uintptr_t)var,
                .idx = (const int64_t *)(uintptr_t)B->mon_idx[k],
                .buf = (void *)(uintptr_t)B->mon_buf[k],
                .lo = m->target.lo, .n = m->n, .first = B->stotal,
                .start = m->start_step, .every = m->every,
                .nvars = m->nvars, .v = v, .rows = B->mon_rows[k],
            };
            B->stotal += m->n;
        }
    }
    if (!rc && B->nscols)
        rc = put_new(B, &B->scols, cols, (size_t)B->nscols * sizeof *cols, err, errlen);
    if (!rc && B->nrmons)
        rc = put_new(B, &B->rmons, rm, (size_t)B->nrmons * sizeof *rm, err, errlen);
    free(cols);
    free(rm);
    B->sampled_to = B->counted_to = B->rate_next = net->step;
    /* the host's room for fetching: the larger of the records' counts, a
     * monitor's device buffer and the rate counts */
    size_t stage = ((size_t)net->npops + 1) * sizeof(int64_t);
    size_t rates = (size_t)B->nrmons * NK_RATE_SLOTS * sizeof(unsigned long long);
    stage = rates > stage ? rates : stage;
    for (int k = 0; k < net->nmons; k++) {
        const nk_monitor *m = &net->mons[k];
        size_t b = m->on_device && m->kind != NK_MON_RATE ? mon_buf_bytes(net, m) : 0;
        stage = b > stage ? b : stage;
    }
    if (!rc && stage > B->stage_bytes) {
        void *st = realloc(B->stage, stage);
        if (!st) {
            char sz[32];
            snprintf(err, errlen, "out of memory: %s of host memory to fetch the monitors' records",
                     nk_fmt_bytes(stage, sz, sizeof sz));
            return NK_ENOMEM;
        }
        B->stage = st;
        B->stage_bytes = stage;
    }
    return rc;
}

/* This step's samples (at its start) and rate counts (after its update). */
static int sample_mons(nk_net *net, cuda_bk *B, char *err, size_t errlen)
{
    if (!B->nscols)
        return 0;
    nk_dsmargs a = {
        .cols = (const nk_dscol *)(uintptr_t)B->scols,
        .halt = (const int64_t *)(uintptr_t)(B->counters + HALT(B) * sizeof(int64_t)),
        .stepp = (const int64_t *)(uintptr_t)B->stepc,
        .total = B->stotal, .ncols = B->nscols, .dbl = net->dbl,
    };
    return launch(B, B->samplek, (uint32_t)((B->stotal + BLOCK - 1) / BLOCK), BLOCK,
                         &a, sizeof a, err, errlen);
}

static int count_rates(nk_net *net, cuda_bk *B, char *err, size_t errlen)
{
    (void)net;
    if (!B->nrmons)
        return 0;
    nk_drargs a = {
        .mons = (const nk_drmon *)(uintptr_t)B->rmons,
        .halt = (const int64_t *)(uintptr_t)(B->counters + HALT(B) * sizeof(int64_t)),
        .stepp = (const int64_t *)(uintptr_t)B->stepc, .nmons = B->nrmons,
    };
    return launch(B, B->ratek, (uint32_t)B->nrmons, NK_RATE_LANES, &a, sizeof a,
                         err, errlen);
}

/* Hands the monitors what the device sampled and counted in the steps
 * queued so far, but none after the step halt that diverged (which is
 * sampled, as the host samples before the update, but not counted). */
static int fetch_mons(nk_net *net, cuda_bk *B, int64_t halt, char *err, size_t errlen)
{
    int64_t ss = B->sampled_to, sr = B->counted_to;
    if (halt != INT64_MAX) {
        ss = ss < halt + 1 ? ss : halt + 1;
        sr = sr < halt ? sr : halt;
    }
    int rc = 0;
    for (int k = 0; !rc && k < net->nmons; k++) {
        nk_monitor *m = &net->mons[k];
        if (!m->on_device || m->kind == NK_MON_RATE)
            continue;
        int64_t want = ss <= m->start_step ? 0 : (ss - 1 - m->start_step) / m->every + 1;
        if (want <= m->rows)
            continue;
        int64_t rows = B->mon_rows[k];
        size_t rowb = (size_t)m->n * (size_t)m->nvars * net->real_size;
        if (want - m->rows > rows) {
            snprintf(err, errlen, "monitor '%s': %lld samples waited on the device, which "
                     "holds %lld (a bug: please report it)", m->name,
                     (long long)(want - m->rows), (long long)rows);
            return NK_EINVAL;
        }
        char *h = B->stage; /* room for the monitor's whole buffer (build_mons) */
        /* rows m->rows .. want - 1, at slots r % rows: one copy, or two
         * where they wrap */
        int64_t r0 = m->rows, a = r0 % rows, cnt = want - r0;
        int64_t first = a + cnt <= rows ? cnt : rows - a;
        rc = nk_dev_get(B->dev, h + (size_t)a * rowb, B->mon_buf[k] + (size_t)a * rowb,
                        (size_t)first * rowb, err, errlen);
        if (!rc && first < cnt)
            rc = nk_dev_get(B->dev, h, B->mon_buf[k], (size_t)(cnt - first) * rowb, err, errlen);
        for (int64_t r = r0; !rc && r < want; r++)
            rc = nk_monitor_put_row(net, m, h + (size_t)(r % rows) * rowb, net->dbl, err,
                                    errlen);
    }
    if (rc || !B->nrmons || sr <= B->rate_next)
        return rc;
    size_t bytes = (size_t)B->nrmons * NK_RATE_SLOTS * sizeof(unsigned long long);
    unsigned long long *c = B->stage;
    if (sr - B->rate_next > NK_RATE_SLOTS) {
        snprintf(err, errlen, "rate monitors: %lld steps of counts waited on the device, which "
                 "holds %d (a bug: please report it)", (long long)(sr - B->rate_next),
                 NK_RATE_SLOTS);
        return NK_EINVAL;
    }
    rc = nk_dev_get(B->dev, c, B->rcount, bytes, err, errlen);
    for (int64_t st = B->rate_next; !rc && st < sr; st++)
        for (int q = 0; q < B->nrmons; q++)
            nk_monitor_rate_step(net, &net->mons[B->rmon[q]], st,
                                 (int64_t)c[(size_t)q * NK_RATE_SLOTS + (size_t)(st % NK_RATE_SLOTS)]);
    if (!rc)
        rc = nk_dev_zero(B->dev, B->rcount, bytes, err, errlen);
    B->rate_next = sr;
    return rc;
}

/* Host sources (stim.c) write the host's external currents and the host's
 * ring slot s; both go to the device. */
static int apply_sources(nk_net *net, cuda_bk *B, int64_t s, char *err, size_t errlen)
{
    if (B->dev_srcs) /* every source this run has is on the device */
        return 0;
    int live = 0;
    for (int k = 0; k < net->nsrcs && !live; k++)
        live = !net->srcs[k].removed && !nk_source_drawn(&net->srcs[k]);
    if (!live)
        return 0;
    if (B->host_rings_dirty) {
        for (int k = 0; k < net->npops; k++)
            for (int r = 0; r < net->pops[k].nrx; r++)
                memset(net->pops[k].rx[r].ring, 0,
                       (size_t)net->pops[k].n * (size_t)net->ring_len * sizeof(int64_t));
        B->host_rings_dirty = 0;
    }
    int rc = nk_sources_apply(net, s, 0, err, errlen);
    for (int k = 0; !rc && k < net->npops; k++) {
        nk_pop *p = &net->pops[k];
        dpop *d = &B->pops[k];
        size_t n = (size_t)p->n;
        if (p->i_ext && d->iext)
            rc = nk_dev_put(B->dev, d->iext, p->i_ext, n * net->real_size, err, errlen);
        for (int r = 0; !rc && r < p->nrx; r++) {
            if (!d->src_rx[r])
                continue;
            int64_t *slot = nk_ring_slot(p, r, net->ring_len, s);
            size_t off = (size_t)(s % net->ring_len) * n * sizeof(int64_t);
            rc = nk_dev_put(B->dev, d->stage, slot, n * sizeof(int64_t), err, errlen);
            nk_daargs a = {(int64_t *)(uintptr_t)(d->ring[r] + off),
                           (const int64_t *)(uintptr_t)d->stage, (int64_t)n};
            if (!rc)
                rc = launch(B, B->add, (uint32_t)((n + BLOCK - 1) / BLOCK), BLOCK, &a,
                                   sizeof a, err, errlen);
            memset(slot, 0, n * sizeof(int64_t));
        }
    }
    return rc;
}

/* ---- current sources on the device ---------------------------------------- */

/* Device memory for the current plan (freed with the next plan). */
static int cur_put(cuda_bk *B, nk_dptr *p, const void *src, size_t bytes, char *err,
                   size_t errlen)
{
    nk_dptr *m = realloc(B->cmem, ((size_t)B->ncmem + 1) * sizeof *m);
    if (!m) {
        snprintf(err, errlen, "out of memory");
        return NK_ENOMEM;
    }
    B->cmem = m;
    int rc = put_new(B, p, src, bytes, err, errlen);
    if (!rc)
        B->cmem[B->ncmem++] = *p;
    return rc;
}

/* Whether the device computes source src's current (else the host must). */
static int cur_on_device(const nk_source *src)
{
    switch (src->kind) {
    case NK_SRC_DC:
    case NK_SRC_STEP:
    case NK_SRC_RAMP:
    case NK_SRC_AC:
    case NK_SRC_NOISE:
    case NK_SRC_ARRAY:
    case NK_SRC_EQUATION:
        return 1;
    case NK_SRC_GLOBAL:
        return src->ex == NULL; /* a sine; an expression is evaluated on the host */
    default:
        return 0;
    }
}

/* What the device has of current source q, from the source as it is now
 * (Lua may change its numbers, or remove it); 1 when that changed. */
static int fill_curs(nk_net *net, cuda_bk *B)
{
    int changed = 0;
    for (int q = 0; q < B->ncsrc; q++) {
        const nk_source *src = &net->srcs[B->csrc_of[q]];
        nk_dcsrc c = B->hcsrc[q]; /* kind, tables, steps: fixed */
        c.on = !src->removed;
        c.start = src->start;
        c.stop = src->stop;
        c.amplitude = src->amplitude;
        c.from = src->from;
        c.to = src->to;
        c.frequency = src->frequency;
        c.phase = src->phase;
        c.offset = src->offset;
        c.mean = src->mean;
        c.std = src->std;
        if (memcmp(&c, &B->hcsrc[q], sizeof c)) {
            B->hcsrc[q] = c;
            changed = 1;
        }
    }
    return changed;
}

/* The same for the spike-time sources: weight, window, removal. */
static int fill_stimes(nk_net *net, cuda_bk *B)
{
    int changed = 0;
    for (int q = 0; q < B->nst; q++) {
        const nk_source *src = &net->srcs[B->st_of[q]];
        nk_dstsrc c = B->hst[q];
        c.on = !src->removed;
        c.wfix = src->wfix;
        c.start = src->start;
        c.stop = src->stop;
        if (memcmp(&c, &B->hst[q], sizeof c)) {
            B->hst[q] = c;
            changed = 1;
        }
    }
    return changed;
}

static int put_curs(nk_net *net, cuda_bk *B, int force, char *err, size_t errlen)
{
    int rc = 0;
    if (B->dev_curs && B->ncsrc && (fill_curs(net, B) || force))
        rc = nk_dev_put(B->dev, B->dcsrc, B->hcsrc, (size_t)B->ncsrc * sizeof *B->hcsrc, err,
                        errlen);
    if (!rc && B->dev_srcs && B->nst && (fill_stimes(net, B) || force))
        rc = nk_dev_put(B->dev, B->dst, B->hst, (size_t)B->nst * sizeof *B->hst, err, errlen);
    return rc;
}

/* The spike-time sources' plan: their events, sorted by step, with where
 * each adds; threads per source enough for the busiest step (at most
 * 256, each thread then takes several). */
static int build_stimes(nk_net *net, cuda_bk *B, char *err, size_t errlen)
{
    int n = 0, rc = 0;
    for (int k = 0; k < net->nsrcs; k++)
        n += !net->srcs[k].removed && net->srcs[k].kind == NK_SRC_SPIKE_TIMES;
    B->st_lanes = 1;
    if (!n)
        return 0;
    B->hst = nk_xcalloc((size_t)n, sizeof *B->hst);
    B->st_of = nk_xcalloc((size_t)n, sizeof *B->st_of);
    if (!B->hst || !B->st_of) {
        snprintf(err, errlen, "out of memory");
        return NK_ENOMEM;
    }
    for (int k = 0; !rc && k < net->nsrcs; k++) {
        const nk_source *src = &net->srcs[k];
        if (src->removed || src->kind != NK_SRC_SPIKE_TIMES)
            continue;
        nk_dstev *ev = nk_xcalloc((size_t)src->nev + 1, sizeof *ev);
        if (!ev) {
            snprintf(err, errlen, "out of memory");
            return NK_ENOMEM;
        }
        int64_t run = 0;
        for (int64_t e = 0; e < src->nev; e++) {
            int64_t at = src->ev_at[e];
            int q = 0;
            while (q + 1 < src->nparts && src->parts[q + 1].off <= at)
                q++;
            const nk_src_part *pt = &src->parts[q];
            ev[e] = (nk_dstev){.step = src->ev_step[e],
                               .ring = (int64_t *)(uintptr_t)B->pops[pt->pop].ring[pt->rx],
                               .npop = net->pops[pt->pop].n, .i = nk_part_at(pt, at - pt->off)};
            run = e > 0 && src->ev_step[e] == src->ev_step[e - 1] ? run + 1 : 1;
            if (run > B->st_lanes)
                B->st_lanes = run;
        }
        nk_dptr dev = 0;
        rc = cur_put(B, &dev, ev, ((size_t)src->nev + 1) * sizeof *ev, err, errlen);
        free(ev);
        B->hst[B->nst] = (nk_dstsrc){.ev = (const nk_dstev *)(uintptr_t)dev, .nev = src->nev};
        B->st_of[B->nst++] = k;
    }
    if (B->st_lanes > 256)
        B->st_lanes = 256;
    if (!rc)
        rc = cur_put(B, &B->dst, B->hst, (size_t)B->nst * sizeof *B->hst, err, errlen);
    return rc;
}

/* This step's spike-time input, on the device. */
static int stime_sources(nk_net *net, cuda_bk *B, char *err, size_t errlen)
{
    if (!B->dev_srcs || !B->nst)
        return 0;
    nk_dstargs a = {
        .srcs = (const nk_dstsrc *)(uintptr_t)B->dst,
        .halt = (const int64_t *)(uintptr_t)(B->counters + HALT(B) * sizeof(int64_t)),
        .stepp = (const int64_t *)(uintptr_t)B->stepc,
        .dt = net->dt, .lanes = B->st_lanes, .nsrcs = B->nst, .ring_len = net->ring_len,
    };
    int64_t threads = B->st_lanes * B->nst;
    return launch(B, B->stimek, (uint32_t)((threads + BLOCK - 1) / BLOCK), BLOCK, &a,
                         sizeof a, err, errlen);
}

/* The run's current plan: the device computes every external current when
 * no live source needs the host. Per population with a current, per
 * neuron, its (source, index in the source) entries in the host's order. */
static int build_curs(nk_net *net, cuda_bk *B, char *err, size_t errlen)
{
    for (int k = 0; k < B->ncmem; k++)
        nk_dev_free(B->dev, B->cmem[k]);
    B->ncmem = B->ncsrc = B->ndcpops = B->nst = 0;
    B->ctotal = 0;
    B->dcsrc = B->dcpops = B->dst = 0;
    B->dev_curs = B->dev_srcs = B->cur_heavy = B->cur_light = 0;
    free(B->hcsrc);
    free(B->csrc_of);
    free(B->hst);
    free(B->st_of);
    B->hcsrc = NULL;
    B->csrc_of = NULL;
    B->hst = NULL;
    B->st_of = NULL;
    int ncur = 0, any_iext = 0;
    for (int k = 0; k < net->nsrcs; k++) {
        const nk_source *src = &net->srcs[k];
        if (src->removed || nk_source_drawn(src) || src->kind == NK_SRC_SPIKE_TIMES)
            continue;
        if (!cur_on_device(src))
            return 0; /* the host computes them all, as the CPU backend does */
        ncur++;
    }
    B->dev_srcs = 1;
    int rc0 = build_stimes(net, B, err, errlen);
    if (rc0)
        return rc0;
    if (B->nst && (rc0 = put_curs(net, B, 1, err, errlen)))
        return rc0;
    for (int k = 0; k < net->npops; k++)
        any_iext |= net->pops[k].i_ext != NULL && B->pops[k].iext != 0;
    if (!any_iext)
        return 0;
    B->hcsrc = nk_xcalloc((size_t)ncur + 1, sizeof *B->hcsrc);
    B->csrc_of = nk_xcalloc((size_t)ncur + 1, sizeof *B->csrc_of);
    nk_dcpop *dp = nk_xcalloc((size_t)net->npops + 1, sizeof *dp);
    int rc = 0;
    if (!B->hcsrc || !B->csrc_of || !dp) {
        snprintf(err, errlen, "out of memory");
        rc = NK_ENOMEM;
    }
    /* the sources, with their tables */
    for (int k = 0; !rc && k < net->nsrcs; k++) {
        const nk_source *src = &net->srcs[k];
        if (src->removed || nk_source_drawn(src) || src->kind == NK_SRC_SPIKE_TIMES)
            continue;
        nk_dcsrc *c = &B->hcsrc[B->ncsrc];
        B->csrc_of[B->ncsrc++] = k;
        c->stream = NK_STREAM_SOURCE + (uint32_t)k;
        c->src = k;
        c->s0 = nk_source_first_step(net, src);
        c->per = nk_source_interval_steps(net, src);
        switch (src->kind) {
        case NK_SRC_DC: c->kind = NK_DC_DC; break;
        case NK_SRC_RAMP: c->kind = NK_DC_RAMP; break;
        case NK_SRC_AC:
        case NK_SRC_GLOBAL: c->kind = NK_DC_SINE; break;
        case NK_SRC_NOISE: c->kind = NK_DC_NOISE; break;
        case NK_SRC_EQUATION: c->kind = NK_DC_EQ; break;
        case NK_SRC_STEP: {
            c->kind = NK_DC_STEP;
            c->ntab = src->ntimes;
            int64_t *ts = nk_xcalloc((size_t)src->ntimes + 1, sizeof *ts);
            if (!ts) {
                snprintf(err, errlen, "out of memory");
                rc = NK_ENOMEM;
                break;
            }
            for (int64_t q = 0; q < src->ntimes; q++)
                ts[q] = nk_source_switch_step(net, src, q);
            nk_dptr a = 0, b = 0;
            rc = cur_put(B, &a, ts, (size_t)src->ntimes * sizeof *ts, err, errlen);
            if (!rc)
                rc = cur_put(B, &b, src->amps, (size_t)src->ntimes * sizeof *src->amps, err,
                             errlen);
            free(ts);
            c->tstep = (const int64_t *)(uintptr_t)a;
            c->tab = (const double *)(uintptr_t)b;
            break;
        }
        default: { /* NK_SRC_ARRAY */
            c->kind = NK_DC_ARRAY;
            c->rows = src->rows;
            c->cols = src->cols;
            c->hold = src->hold;
            nk_dptr a = 0;
            rc = cur_put(B, &a, src->arr, (size_t)src->rows * (size_t)src->cols * sizeof *src->arr,
                         err, errlen);
            c->tab = (const double *)(uintptr_t)a;
            break;
        }
        }
    }
    /* per population with a current: each neuron's entries */
    for (int pi = 0; !rc && pi < net->npops; pi++) {
        nk_pop *p = &net->pops[pi];
        if (!p->i_ext || !B->pops[pi].iext)
            continue;
        int64_t n = p->n, *row = nk_xcalloc((size_t)n + 2, sizeof *row);
        if (!row) {
            snprintf(err, errlen, "out of memory");
            rc = NK_ENOMEM;
            break;
        }
        for (int q = 0; q < B->ncsrc; q++) {
            const nk_source *src = &net->srcs[B->csrc_of[q]];
            for (int t = 0; t < src->nparts; t++)
                if (src->parts[t].pop == pi)
                    for (int64_t j = 0; j < src->parts[t].n; j++)
                        row[nk_part_at(&src->parts[t], j) + 1]++;
        }
        for (int64_t i = 0; i < n; i++)
            row[i + 1] += row[i];
        int64_t m = row[n], *at = malloc(((size_t)n + 1) * sizeof *at);
        nk_dcent *ent = nk_xcalloc((size_t)m + 1, sizeof *ent);
        if (!at || !ent) {
            free(row);
            free(at);
            free(ent);
            snprintf(err, errlen, "out of memory");
            rc = NK_ENOMEM;
            break;
        }
        memcpy(at, row, (size_t)n * sizeof *at);
        /* by source, then part, then entry: the order the host adds in */
        int heavy = 0;
        for (int q = 0; q < B->ncsrc; q++) {
            const nk_source *src = &net->srcs[B->csrc_of[q]];
            for (int t = 0; t < src->nparts; t++)
                if (src->parts[t].pop == pi) {
                    heavy |= B->hcsrc[q].kind == NK_DC_NOISE || B->hcsrc[q].kind == NK_DC_EQ;
                    for (int64_t j = 0; j < src->parts[t].n; j++)
                        ent[at[nk_part_at(&src->parts[t], j)]++] =
                            (nk_dcent){q, (uint32_t)(src->parts[t].off + j)};
                }
        }
        B->cur_heavy |= heavy;
        B->cur_light |= !heavy;
        nk_dptr drow = 0, dent = 0, dpos = 0;
        rc = cur_put(B, &drow, row, ((size_t)n + 1) * sizeof *row, err, errlen);
        if (!rc)
            rc = cur_put(B, &dent, ent, ((size_t)m + 1) * sizeof *ent, err, errlen);
        if (!rc && p->pos) /* equations may read x, y, z */
            rc = cur_put(B, &dpos, p->pos, (size_t)n * 3 * sizeof *p->pos, err, errlen);
        dp[B->ndcpops++] = (nk_dcpop){.iext = (void *)(uintptr_t)B->pops[pi].iext,
                                      .row = (const int64_t *)(uintptr_t)drow,
                                      .ent = (const nk_dcent *)(uintptr_t)dent,
                                      .pos = (const double *)(uintptr_t)dpos,
                                      .n = n, .first = B->ctotal, .pop = pi,
                                      .heavy = heavy};
        B->ctotal += n;
        free(row);
        free(at);
        free(ent);
    }
    if (!rc)
        rc = cur_put(B, &B->dcpops, dp, ((size_t)B->ndcpops + 1) * sizeof *dp, err, errlen);
    if (!rc)
        rc = cur_put(B, &B->dcsrc, B->hcsrc, ((size_t)B->ncsrc + 1) * sizeof *B->hcsrc, err,
                     errlen);
    if (!rc) {
        fill_curs(net, B);
        B->dev_curs = 1;
        rc = put_curs(net, B, 1, err, errlen);
    }
    free(dp);
    return rc;
}

/* This step's currents, on the device. */
static int cur_sources(nk_net *net, cuda_bk *B, char *err, size_t errlen)
{
    if (!B->dev_curs || !B->ctotal)
        return 0;
    nk_dcargs a = {
        .pops = (const nk_dcpop *)(uintptr_t)B->dcpops,
        .srcs = (const nk_dcsrc *)(uintptr_t)B->dcsrc,
        .halt = (const int64_t *)(uintptr_t)(B->counters + HALT(B) * sizeof(int64_t)),
        .stepp = (const int64_t *)(uintptr_t)B->stepc,
        .seed = net->seed, .dt = net->dt, .total = B->ctotal,
        .npops = B->ndcpops, .dbl = net->dbl,
    };
    const uint32_t blocks = (uint32_t)((B->ctotal + BLOCK - 1) / BLOCK);
    int rc = B->cur_light ? launch(B, B->curk, blocks, BLOCK, &a, sizeof a, err, errlen) : 0;
    if (!rc && B->cur_heavy)
        rc = launch(B, B->curheavyk, blocks, BLOCK, &a, sizeof a, err, errlen);
    return rc;
}

/* Drawn sources (poisson, bernoulli): what a part's entries need, filled
 * in from the sources (their tables, weights and windows, which Lua may
 * change between steps that involve the host). Returns 1 when it differs
 * from what the device has. */
static int fill_draws(nk_net *net, cuda_bk *B)
{
    int changed = 0;
    for (int t = 0; t < B->ndtabs; t++) {
        nk_draw_tab tab;
        nk_source_tab(net, &net->srcs[B->tab_src[t]], &tab);
        if (memcmp(&tab, &B->htabs[t], sizeof tab)) {
            B->htabs[t] = tab;
            changed = 1;
        }
    }
    for (int q = 0; q < B->ndparts; q++) {
        nk_dpart *g = &B->hparts[q];
        const nk_source *src = &net->srcs[B->tab_src[g->tab]];
        if (g->wfix != src->wfix || g->start != src->start || g->stop != src->stop) {
            g->wfix = src->wfix;
            g->start = src->start;
            g->stop = src->stop;
            changed = 1;
        }
    }
    return changed;
}

/* The plan of every drawn source's parts on the device (at build; the
 * populations' rings exist). */
static int build_draws(nk_net *net, cuda_bk *B, char *err, size_t errlen)
{
    int nt = 0, np = 0;
    for (int j = 0; j < net->nsrcs; j++)
        if (!net->srcs[j].removed && nk_source_drawn(&net->srcs[j])) {
            nt++;
            np += net->srcs[j].nparts;
        }
    if (!np)
        return 0;
    B->hparts = nk_xcalloc((size_t)np, sizeof *B->hparts);
    B->htabs = nk_xcalloc((size_t)nt, sizeof *B->htabs);
    B->tab_src = nk_xcalloc((size_t)nt, sizeof *B->tab_src);
    if (!B->hparts || !B->htabs || !B->tab_src) {
        snprintf(err, errlen, "out of memory");
        return NK_ENOMEM;
    }
    int rc = 0;
    for (int j = 0; !rc && j < net->nsrcs; j++) {
        const nk_source *src = &net->srcs[j];
        if (src->removed || !nk_source_drawn(src))
            continue;
        B->tab_src[B->ndtabs] = j;
        for (int t = 0; !rc && t < src->nparts; t++) {
            const nk_src_part *pt = &src->parts[t];
            if (pt->n == 0)
                continue;
            nk_dpart *g = &B->hparts[B->ndparts++];
            nk_dptr idx = 0;
            if (pt->idx)
                rc = put_new(B, &idx, pt->idx, (size_t)pt->n * sizeof *pt->idx, err, errlen);
            g->idx = (const int64_t *)(uintptr_t)idx;
            g->ring = (int64_t *)(uintptr_t)B->pops[pt->pop].ring[pt->rx];
            g->npop = net->pops[pt->pop].n;
            g->plo = pt->lo;
            g->n = pt->n;
            g->first = B->dtotal;
            g->tab = B->ndtabs;
            g->stream = NK_STREAM_SOURCE + (uint32_t)j;
            g->off = (uint32_t)pt->off;
            B->dtotal += pt->n;
        }
        B->ndtabs++;
    }
    fill_draws(net, B);
    if (!rc && B->ndparts)
        rc = nk_dev_alloc(B->dev, &B->dparts, (size_t)B->ndparts * sizeof *B->hparts, err, errlen);
    if (!rc && B->ndparts)
        rc = nk_dev_alloc(B->dev, &B->dtabs, (size_t)B->ndtabs * sizeof *B->htabs, err, errlen);
    return rc;
}

/* Sends the plan when it changed (force: in any case). */
static int put_draws(nk_net *net, cuda_bk *B, int force, char *err, size_t errlen)
{
    if (!B->ndparts || (!fill_draws(net, B) && !force))
        return 0;
    /* a table now too long, or none now: a step launches nk_draw_big_k, or
     * no longer does, so the steps recorded for this run are recorded
     * again (between windows: the device has done the last one) */
    int ptrs = 0;
    for (int t = 0; t < B->ndtabs; t++)
        ptrs |= B->htabs[t].K < 0;
    if (ptrs != B->draw_ptrs) {
        B->draw_ptrs = ptrs;
        nk_dev_graph_free(B->dev, B->graph);
        B->graph = NULL;
        B->block_ready = 0;
    }
    int rc = nk_dev_put(B->dev, B->dparts, B->hparts, (size_t)B->ndparts * sizeof *B->hparts, err,
                        errlen);
    if (!rc)
        rc = nk_dev_put(B->dev, B->dtabs, B->htabs, (size_t)B->ndtabs * sizeof *B->htabs, err,
                        errlen);
    return rc;
}

/* This step's drawn input: one launch, with or without the host. */
static int draw_sources(nk_net *net, cuda_bk *B, char *err, size_t errlen)
{
    if (!B->ndparts)
        return 0;
    nk_dsargs a = {
        .parts = (const nk_dpart *)(uintptr_t)B->dparts,
        .tabs = (const nk_draw_tab *)(uintptr_t)B->dtabs,
        .halt = (const int64_t *)(uintptr_t)(B->counters + HALT(B) * sizeof(int64_t)),
        .stepp = (const int64_t *)(uintptr_t)B->stepc,
        .seed = net->seed, .total = B->dtotal, .dt = net->dt,
        .nparts = B->ndparts, .ring_len = net->ring_len,
    };
    const uint32_t blocks = (uint32_t)((B->dtotal + BLOCK - 1) / BLOCK);
    int rc = launch(B, B->drawk, blocks, BLOCK, &a, sizeof a, err, errlen);
    if (!rc && B->draw_ptrs)
        rc = launch(B, B->drawbigk, blocks, BLOCK, &a, sizeof a, err, errlen);
    return rc;
}

/* Whether step s needs the host: sources to apply, or an output monitor to
 * call. Other steps are queued on the device and the host goes on at once
 * (spike, state, field and rate monitors record on the device, and a
 * profiled run counts its spikes and events there). */
static int needs_host(nk_net *net, cuda_bk *B, int64_t s)
{
    if (B->host_every_step)
        return 1;
    for (int k = 0; k < net->nmons; k++) {
        const nk_monitor *m = &net->mons[k];
        if (m->kind == NK_MON_OUTPUT && s >= m->start_step && (s - m->start_step) % m->every == 0)
            return 1;
    }
    return 0;
}


static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Sorts the m keys, all below 2^bits, by digits of at most 12 bits, lowest
 * first: a stable counting sort per digit (at: room for 4096 counts)
 * through tmp (room for m), two passes over the keys each, where qsort
 * compared each key log2(m) times through a call. A fly-scale look records
 * 177,000 spikes of 24-bit keys (two digits); qsort took 26 ms for that
 * many on the build machine, most of the CUDA run's time on an H100
 * (docs/performance.md, "CUDA on an H100"). */
static void radix_sort(uint64_t *keys, uint64_t *tmp, int64_t *at, int64_t m, int bits)
{
    if (m < 2)
        return;
    uint64_t *src = keys, *dst = tmp;
    const int passes = (bits + 11) / 12, width = passes ? (bits + passes - 1) / passes : 1;
    const uint64_t mask = ((uint64_t)1 << width) - 1;
    for (int shift = 0; shift < bits; shift += width) {
        memset(at, 0, ((size_t)mask + 1) * sizeof *at);
        for (int64_t j = 0; j < m; j++)
            at[(src[j] >> shift) & mask]++;
        for (int64_t d = 0, sum = 0; d <= (int64_t)mask; d++) {
            const int64_t c = at[d];
            at[d] = sum;
            sum += c;
        }
        for (int64_t j = 0; j < m; j++)
            dst[at[(src[j] >> shift) & mask]++] = src[j];
        uint64_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != keys)
        memcpy(keys, src, (size_t)m * sizeof *keys);
}

/* Sorts the records that fetch_records left in place (B->pend) into the
 * CPU backend's order, by step and neuron, leaving out those of steps at or
 * after the halt step of their fetch (a diverged step records nothing),
 * and appends them to the populations' records. Nothing is allocated but
 * the radix sort's room, which grows (should it not, qsort sorts in
 * place). */
static void settle_records(nk_net *net, cuda_bk *B)
{
    for (int k = 0; k < net->npops; k++) {
        nk_pop *p = &net->pops[k];
        const int64_t m = B->pend[k], halt = B->pend_halt;
        if (m == 0)
            continue;
        B->pend[k] = 0;
        int64_t *st = p->rec_step + p->nrec;
        uint32_t *id = p->rec_id + p->nrec;
        /* one key per spike, (step - first) * 2^nb + neuron (nb bits hold
         * the neuron), sorted in place: the spikes of a look lie within
         * CHECK_EVERY steps of each other */
        int64_t first = INT64_MAX, last = INT64_MIN, keep = 0;
        for (int64_t j = 0; j < m; j++) {
            first = st[j] < first ? st[j] : first;
            last = st[j] > last ? st[j] : last;
        }
        int nb = 1, sb = 1;
        while (nb < 32 && ((int64_t)1 << nb) < p->n)
            nb++;
        while (sb < 62 - nb && ((int64_t)1 << sb) <= last - first)
            sb++;
        for (int64_t j = 0; j < m; j++)
            if (st[j] < halt)
                st[keep++] = (int64_t)(((uint64_t)(st[j] - first) << nb) | id[j]);
        if (keep > B->sort_cap) {
            uint64_t *t = realloc(B->sort_tmp, (size_t)keep * sizeof *t);
            if (t) {
                B->sort_tmp = t;
                B->sort_cap = keep;
            }
        }
        if (keep <= B->sort_cap)
            radix_sort((uint64_t *)st, B->sort_tmp, B->sort_at, keep, nb + sb);
        else
            qsort(st, (size_t)keep, sizeof *st, cmp_i64);
        const uint64_t mask = ((uint64_t)1 << nb) - 1;
        for (int64_t j = 0; j < keep; j++) {
            id[j] = (uint32_t)((uint64_t)st[j] & mask);
            st[j] = first + (int64_t)((uint64_t)st[j] >> nb);
        }
        p->nrec += keep;
    }
}

/* Brings the spikes recorded on the device into the populations' records,
 * in their room after the records' end (the records have room for
 * CHECK_EVERY steps beyond their end and what waits to be sorted, made
 * before those steps were queued: nk_rec_room), and sorts them there
 * (settle_records), at once or, with defer, later: at the graph window of
 * steps the host launches next, while the device runs it (cuda_step), or at
 * whatever the host does first if not (another step, or the end of the run:
 * cuda_sync). Fly-scale's records took the host more than half the run's
 * time while the device waited (docs/performance.md, "CUDA on an H100"). */
static int fetch_records(nk_net *net, cuda_bk *B, int64_t halt, int defer, char *err,
                         size_t errlen)
{
    settle_records(net, B);
    int64_t *cnt = B->stage; /* room for npops + 1 (build_mons) */
    int rc = nk_dev_get(B->dev, cnt, B->nrec, (size_t)net->npops * sizeof *cnt, err, errlen);
    for (int k = 0; !rc && k < net->npops; k++) {
        nk_pop *p = &net->pops[k];
        dpop *d = &B->pops[k];
        int64_t m = cnt[k];
        if (!d->rec_mask || m == 0)
            continue;
        if (p->nrec + m > p->caprec) {
            snprintf(err, errlen, "%lld spikes of '%s' waited on the device, and the host had "
                     "room for %lld (a bug: please report it)", (long long)m, p->name,
                     (long long)(p->caprec - p->nrec));
            return NK_EINVAL;
        }
        rc = nk_dev_get(B->dev, p->rec_step + p->nrec, d->rec_step, (size_t)m * sizeof(int64_t),
                        err, errlen);
        if (!rc)
            rc = nk_dev_get(B->dev, p->rec_id + p->nrec, d->rec_id,
                            (size_t)m * sizeof(uint32_t), err, errlen);
        if (!rc)
            B->pend[k] = m;
    }
    B->pend_halt = halt;
    if (!defer)
        settle_records(net, B);
    if (!rc)
        rc = nk_dev_zero(B->dev, B->nrec, (size_t)net->npops * sizeof(int64_t), err, errlen);
    return rc;
}

/* nk_block_run's blocks gave up waiting at a barrier (nk_grid_sync): some
 * of them were not running, though all were counted resident. The steps
 * of that window stopped part of the way through; the run stops there,
 * and later runs go as graphs (print(net) says why). */
static int block_stuck(cuda_bk *B, char *err, size_t errlen)
{
    B->block = 0;
    B->block_ready = 0;
    /* said once: a later look (the run's end) reads the word again */
    char e2[256];
    B->hcount[STUCK(B)] = 0;
    (void)nk_dev_zero(B->dev, B->counters + STUCK(B) * 8, 8, e2, sizeof e2);
    const long long s0 = (long long)(B->window_end - GRAPH_STEPS), s1 = s0 + GRAPH_STEPS - 1;
    snprintf(B->block_why, sizeof B->block_why,
             "its %d blocks in one launch waited over %.0f s for each other in steps %lld to "
             "%lld",
             B->block_blocks, NK_GRID_WAIT_NS / 1e9, s0, s1);
    snprintf(err, errlen,
             "CUDA: steps %lld to %lld went as one launch of %d blocks "
             "(NKSHELL_CUDA_BLOCK), and its blocks waited over %.0f s for each other: not all "
             "were running, though the device counted them resident (is it shared, under "
             "MPS?). The run stopped partway through those steps, the network's states "
             "partway through a step; what was recorded before is kept. Later runs go as CUDA "
             "graphs; start again (nk.network or a checkpoint), or set NKSHELL_CUDA_BLOCK=0 "
             "or 1",
             s0, s1, B->block_blocks, NK_GRID_WAIT_NS / 1e9);
    return NK_EIO;
}

/* Brings the counters to the host; when a step diverged, reports it the way
 * the CPU backend does, with net->step back at that step (later steps did
 * nothing on the device, and nothing on the host); when nk_block_run's
 * blocks gave up waiting, block_stuck. */
static int fetch_counters(nk_net *net, cuda_bk *B, int defer, char *err, size_t errlen)
{
    int rc = nk_dev_get(B->dev, B->hcount, B->counters,
                        NCOUNTERS(B) * sizeof(int64_t), err, errlen);
    if (rc)
        return rc;
    B->unchecked = 0;
    if (net->profiling) {
        net->run_spikes = B->hcount[PROF_SPIKES(B)];
        net->run_events = B->hcount[PROF_EVENTS(B)];
        /* the window in flight, if any, has ended (the copy waited for it) */
        double ms = B->marked ? nk_dev_mark_ms(B->dev, B->mark[0], B->mark[1]) : -1;
        if (ms > 0)
            net->prof[NK_PROF_DEVICE] += ms / 1e3;
    }
    B->marked = 0;
    int64_t h = B->hcount[HALT(B)];
    if ((rc = fetch_records(net, B, h, defer, err, errlen)) ||
        (rc = fetch_mons(net, B, h, err, errlen)))
        return rc;
    if (B->hcount[STUCK(B)])
        return block_stuck(B, err, errlen);
    if (h == INT64_MAX)
        return 0;
    for (int k = 0; k < net->npops; k++) {
        int64_t bad = B->hcount[net->npops + k];
        if (bad == INT64_MAX)
            continue;
        int nv = B->pops[k].nvars > 0 ? B->pops[k].nvars : 1;
        for (int q = 0; q < net->npops; q++)
            net->pops[q].nspk = 0;
        net->step = h;
        if (net->profiling) /* the steps before it, as the CPU counts them */
            net->prof[NK_PROF_STEPS] = (double)(h - net->run_step0);
        /* i x (nv + 1) + variable, nv for the refractory period (codegen.c) */
        int var = (int)(bad % (nv + 1));
        nk_diverged(net, k, bad / (nv + 1), var == nv ? -2 : var, h, err, errlen);
        return NK_EDIVERGED;
    }
    return 0;
}

/* What each population's update needs but the step, on the device (at
 * build and at a run's start), and the threads of the launch. */
static int put_upd(nk_net *net, cuda_bk *B, char *err, size_t errlen)
{
    nk_dkargs *h = nk_xcalloc((size_t)net->npops + 1, sizeof *h);
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return NK_ENOMEM;
    }
    nk_dptr halt = B->counters + HALT(B) * 8;
    B->upd_threads = 0;
    for (int k = 0; k < net->npops; k++) {
        nk_pop *p = &net->pops[k];
        dpop *d = &B->pops[k];
        h[k] = (nk_dkargs){
            .n = p->n, .i0 = 0, .dt = net->dt,
            .seed = net->seed, .stream = NK_STREAM_MODEL + (uint32_t)k,
            .refr_steps = p->refr_steps, .ring_len = net->ring_len,
            .state = (void *const *)(uintptr_t)d->varp,
            .param = (const double *)(uintptr_t)d->param,
            .ring = (int64_t *const *)(uintptr_t)d->ringp,
            .i_ext = (const void *)(uintptr_t)d->iext,
            .refr = (int64_t *)(uintptr_t)d->refr,
            .spk = (int64_t *)(uintptr_t)d->spk,
            .nspk = (unsigned long long *)(uintptr_t)(B->counters + (size_t)k * 8),
            .bad = (int64_t *)(uintptr_t)(B->counters + (size_t)(net->npops + k) * 8),
            .halt = (int64_t *)(uintptr_t)halt,
            .rec_mask = (const uint8_t *)(uintptr_t)d->rec_mask,
            .rec_step = (int64_t *)(uintptr_t)d->rec_step,
            .rec_id = (uint32_t *)(uintptr_t)d->rec_id,
            .nrec = (unsigned long long *)(uintptr_t)(B->nrec + (size_t)k * 8),
            .cst = (double *)(uintptr_t)d->cst,
            .out = (const nk_dout *)(uintptr_t)(B->outs +
                                                (size_t)B->out_first[k] * sizeof(nk_dout)),
            .pieces = (nk_dpiece *)(uintptr_t)B->pieces,
            .npieces = (unsigned long long *)(uintptr_t)(B->counters + NPIECES(B) * 8),
            .tbase = B->tbase, .nout = B->out_first[k + 1] - B->out_first[k],
        };
        B->upd_threads += (p->n + BLOCK - 1) / BLOCK * BLOCK;
    }
    int rc = 0;
    if (!B->upd)
        rc = nk_dev_alloc(B->dev, &B->upd, ((size_t)net->npops + 1) * sizeof *h, err, errlen);
    if (!rc)
        rc = nk_dev_put(B->dev, B->upd, h, (size_t)net->npops * sizeof *h, err, errlen);
    free(h);
    return rc;
}

/* The start of the next step on the device (nk_step_begin). */
static int step_begin(nk_net *net, cuda_bk *B, char *err, size_t errlen)
{
    nk_dbargs a = {.stepp = (int64_t *)(uintptr_t)B->stepc,
                   .nspk = (unsigned long long *)(uintptr_t)B->counters,
                   .npieces = (unsigned long long *)(uintptr_t)(B->counters + NPIECES(B) * 8),
                   .npops = net->npops};
    return launch(B, B->begin, (uint32_t)((net->npops + BLOCK) / BLOCK), BLOCK, &a,
                         sizeof a, err, errlen);
}

/* This step's update of every population: one launch. */
static int update_all(nk_net *net, cuda_bk *B, char *err, size_t errlen)
{
    if (!B->upd_threads)
        return 0;
    nk_duargs a = {.pops = (const nk_dkargs *)(uintptr_t)B->upd,
                   .stepp = (const int64_t *)(uintptr_t)B->stepc, .dt = net->dt};
    return launch(B, B->update, (uint32_t)(B->upd_threads / BLOCK), BLOCK, &a,
                         sizeof a, err, errlen);
}

/* What delivery needs of each spiking projection, on the device: its
 * nk_ddargs, its nk_dout in its presynaptic population's list (where the
 * update cuts a spike's rows into pieces), room for the most pieces a step
 * can cut from its rows, and how many threads deliver (a warp per warp
 * piece and a thread per thread piece, at most 4 blocks per
 * multiprocessor: they take more by a grid stride). Emulated, fewer, as the
 * emulation runs threads one by one. */
static int build_dels(nk_net *net, cuda_bk *B, char *err, size_t errlen)
{
    nk_ddargs *h = nk_xcalloc((size_t)net->nprojs + 1, sizeof *h);
    nk_dout *o = nk_xcalloc((size_t)net->nprojs + 1, sizeof *o);
    B->out_first = nk_xcalloc((size_t)net->npops + 1, sizeof *B->out_first);
    if (!h || !o || !B->out_first) {
        free(h);
        free(o);
        snprintf(err, errlen, "out of memory");
        return NK_ENOMEM;
    }
    int64_t bw = 0, bt = 0;
    for (int k = 0; k < net->nprojs; k++) {
        const nk_proj *pj = &net->projs[k];
        const dproj *d = &B->projs[k];
        if (pj->nsyn == 0 || d->graded)
            continue;
        const dpop *post = &B->pops[pj->post.pop];
        B->out_first[pj->pre.pop + 1]++;
        h[B->ndels++] = (nk_ddargs){
            .col = (const uint32_t *)(uintptr_t)d->col, .w = (const float *)(uintptr_t)d->w,
            .delay = (const uint16_t *)(uintptr_t)d->delay,
            .ring = (int64_t *)(uintptr_t)post->ring[pj->rx], .n = net->pops[pj->post.pop].n,
            .ring_len = net->ring_len, .udelay = d->udelay,
        };
        piece_bound(pj, &bw, &bt);
    }
    /* the lists by presynaptic population, each in the projections' order */
    for (int k = 0; k < net->npops; k++)
        B->out_first[k + 1] += B->out_first[k];
    int *at = nk_xcalloc((size_t)net->npops + 1, sizeof *at);
    if (!at) {
        free(h);
        free(o);
        snprintf(err, errlen, "out of memory");
        return NK_ENOMEM;
    }
    memcpy(at, B->out_first, (size_t)net->npops * sizeof *at);
    for (int k = 0, di = 0; k < net->nprojs; k++) {
        const nk_proj *pj = &net->projs[k];
        const dproj *d = &B->projs[k];
        if (pj->nsyn == 0 || d->graded)
            continue;
        o[at[pj->pre.pop]++] = (nk_dout){.row = (const int64_t *)(uintptr_t)d->row,
                                         .pre_lo = pj->pre.lo, .pre_hi = pj->pre.hi, .k = di++};
    }
    free(at);
    int emu = nk_dev_emulated(B->dev);
    const int64_t round = (int64_t)B->block_threads * B->block_blocks; /* nk_block_run's */
    int sms = 0;
    nk_dev_info(B->dev, NULL, 0, NULL, NULL, &sms, NULL, NULL);
    int64_t want = bw * 32 > bt ? bw * 32 : bt;
    int64_t cap = emu ? BLOCK : 4 * (int64_t)(sms > 0 ? sms : 32) * BLOCK;
    want = (want + BLOCK - 1) / BLOCK * BLOCK;
    if (B->block && !emu) /* one round of nk_block_run */
        cap = round / BLOCK * BLOCK > BLOCK ? round / BLOCK * BLOCK : BLOCK;
    B->del_threads = want < BLOCK ? BLOCK : want > cap ? cap : want;
    B->tbase = bw;
    int rc = 0;
    if (B->ndels) {
        rc = put_new(B, &B->dels, h, (size_t)B->ndels * sizeof *h, err, errlen);
        if (!rc)
            rc = put_new(B, &B->outs, o, (size_t)B->ndels * sizeof *o, err, errlen);
        if (!rc)
            rc = nk_dev_alloc(B->dev, &B->pieces, (size_t)(bw + bt + 1) * sizeof(nk_dpiece),
                              err, errlen);
    }
    free(h);
    free(o);
    return rc;
}

/* The step's spikes along their projections: graded projections a launch
 * each, all the others one (nk_deliver_all: the update cut their rows into
 * pieces, nk_plan_spike). */
static int deliver_all(nk_net *net, cuda_bk *B, char *err, size_t errlen)
{
    int rc = 0;
    const int64_t *halt = (const int64_t *)(uintptr_t)(B->counters + HALT(B) * 8);
    for (int k = 0; !rc && k < net->nprojs; k++) {
        const nk_proj *pj = &net->projs[k];
        const dproj *d = &B->projs[k];
        const dpop *pre = &B->pops[pj->pre.pop], *post = &B->pops[pj->post.pop];
        int64_t n = net->pops[pj->post.pop].n, npre = pj->pre.hi - pj->pre.lo;
        if (pj->nsyn == 0 || !d->graded)
            continue;
        /* the receptor's parameters follow the neuron's (and the
         * receptors' before it) in the population's parameter array */
        const nk_pop *pp = &net->pops[pj->post.pop];
        size_t off = (size_t)pp->model->nparams;
        for (int r = 0; r < pj->rx; r++)
            off += (size_t)pp->rx[r].syn->nparams;
        nk_dgargs a = {
            .pre_state = (void *const *)(uintptr_t)pre->varp,
            .param = (const double *)(uintptr_t)(post->param + off * sizeof(double)),
            .pre_lo = pj->pre.lo, .pre_hi = pj->pre.hi,
            .row = (const int64_t *)(uintptr_t)d->row,
            .col = (const uint32_t *)(uintptr_t)d->col, .w = (const float *)(uintptr_t)d->w,
            .delay = (const uint16_t *)(uintptr_t)d->delay,
            .ring = (int64_t *)(uintptr_t)post->ring[pj->rx], .n = n,
            .stepp = (const int64_t *)(uintptr_t)B->stepc,
            .halt = halt, .ring_len = net->ring_len, .udelay = d->udelay,
        };
        rc = launch(B, d->graded, (uint32_t)((npre + BLOCK - 1) / BLOCK), BLOCK, &a,
                           sizeof a, err, errlen);
    }
    if (rc || (!B->ndels && !net->profiling))
        return rc;
    /* the pieces the update cut from the spikes' rows (and, in a profiled
     * run, the step's spikes and synaptic events into the counters, which
     * the host reads with the others) */
    nk_dfargs a = {.projs = (const nk_ddargs *)(uintptr_t)B->dels, .halt = halt,
                   .stepp = (const int64_t *)(uintptr_t)B->stepc,
                   .pieces = (const nk_dpiece *)(uintptr_t)B->pieces,
                   .npieces = (const unsigned long long *)(uintptr_t)(B->counters +
                                                                     NPIECES(B) * 8),
                   .tbase = B->tbase, .nthreads = B->del_threads,
                   .tot = net->profiling ? (int64_t *)(uintptr_t)(B->counters +
                                                                  PROF_SPIKES(B) * 8)
                                         : NULL,
                   .nspk = (const unsigned long long *)(uintptr_t)B->counters,
                   .npops = net->npops, .graded_syn = B->graded_syn};
    return launch(B, B->deliver, (uint32_t)(B->del_threads / BLOCK), BLOCK, &a, sizeof a, err,
                  errlen);
}

/* One step's launches, when nothing of it needs the host (the graph's
 * steps). */
static int queue_step(nk_net *net, cuda_bk *B, char *err, size_t errlen)
{
    int rc = step_begin(net, B, err, errlen);
    if (!rc)
        rc = sample_mons(net, B, err, errlen);
    if (!rc)
        rc = cur_sources(net, B, err, errlen);
    if (!rc)
        rc = stime_sources(net, B, err, errlen);
    if (!rc)
        rc = draw_sources(net, B, err, errlen);
    if (!rc)
        rc = update_all(net, B, err, errlen);
    if (!rc)
        rc = count_rates(net, B, err, errlen);
    if (!rc)
        rc = deliver_all(net, B, err, errlen);
    return rc;
}

/* Whether steps s .. s + GRAPH_STEPS - 1 can go as one graph: none needs
 * the host, the run does not end and no checkpoint is taken before the
 * last of them. */
static int window_ok(nk_net *net, cuda_bk *B, int64_t s)
{
    if (B->graph_off || B->host_every_step || s + GRAPH_STEPS > net->run_until)
        return 0;
    for (int64_t k = 0; k < GRAPH_STEPS; k++)
        if (needs_host(net, B, s + k))
            return 0;
    for (int64_t k = 1; net->run_ck_every > 0 && k < GRAPH_STEPS; k++)
        if ((s + k - net->run_step0) % net->run_ck_every == 0)
            return 0;
    return 1;
}

/* One step's launches as the ops of nk_block_run, on the device: its
 * nk_dop array, then each op's argument struct (16-byte aligned).
 * NK_ENOTSUP: a launch nk_block_run does not run (a graded projection's),
 * with why in err. */
static int record_block(nk_net *net, cuda_bk *B, char *err, size_t errlen)
{
    B->nops = 0;
    B->recording = 1;
    int rc = queue_step(net, B, err, errlen);
    B->recording = 0;
    if (rc)
        return rc;
    /* nk_block_run's barrier after an op runs the next step's
     * nk_step_begin, and the op itself is skipped: with no other op, the
     * steps after the second would have none (and nothing to gain) */
    if (B->nops < 2) {
        snprintf(err, errlen, "a step of one launch (nk_step_begin) gains nothing");
        return NK_ENOTSUP;
    }
    const size_t ops_at = 16; /* after nk_grid_sync's words, 0 */
    size_t head = ops_at + ((size_t)B->nops * sizeof(nk_dop) + 15) / 16 * 16, bytes = head;
    for (int k = 0; k < B->nops; k++) {
        const int fn = block_fn(B, B->ops[k].f);
        if (fn < 0) {
            snprintf(err, errlen, "a kernel of its own each step (a graded projection's)");
            return NK_ENOTSUP;
        }
        if (!(B->block_fns >> fn & 1)) {
            snprintf(err, errlen, "nk_block_run was generated without %s", BLOCK_FNS[fn][0]);
            return NK_ENOTSUP;
        }
        bytes += (B->ops[k].argsize + 15) / 16 * 16;
    }
    unsigned char *h = nk_xcalloc(bytes, 1);
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return NK_ENOMEM;
    }
    nk_dev_free(B->dev, B->dops);
    B->dops = 0;
    if ((rc = nk_dev_alloc(B->dev, &B->dops, bytes, err, errlen))) {
        free(h);
        return rc;
    }
    size_t at = head;
    for (int k = 0; k < B->nops; k++) {
        const struct bop *o = &B->ops[k];
        nk_dop d = {.fn = block_fn(B, o->f), .nthreads = (int64_t)o->blocks * o->threads,
                    .args = (const void *)(uintptr_t)(B->dops + at)};
        memcpy(h + ops_at + (size_t)k * sizeof d, &d, sizeof d);
        memcpy(h + at, o->args, o->argsize);
        at += (o->argsize + 15) / 16 * 16;
    }
    rc = nk_dev_put(B->dev, B->dops, h, bytes, err, errlen);
    free(h);
    if (!rc)
        B->block_ready = 1;
    return rc;
}

/* Queues steps s .. s + GRAPH_STEPS - 1 as one launch of one block
 * (nk_block_run), recording the ops first if this run has none; emulated,
 * the ops are launched in order, step after step. NK_ENOTSUP: not for this
 * network (graphs are used instead). */
static int block_window(nk_net *net, cuda_bk *B, int64_t s0, char *err, size_t errlen)
{
    int rc;
    if (!B->block_ready && (rc = record_block(net, B, err, errlen))) {
        if (rc == NK_ENOTSUP) {
            B->block = 0;
            snprintf(B->block_why, sizeof B->block_why, "%.190s", err);
        }
        return rc;
    }
    if (!nk_dev_emulated(B->dev)) {
        nk_dbrun a = {.ops = (const nk_dop *)(uintptr_t)(B->dops + 16), .nsteps = GRAPH_STEPS,
                      .bar = (unsigned int *)(uintptr_t)B->dops,
                      .stuck = (unsigned long long *)(uintptr_t)(B->counters + STUCK(B) * 8),
                      .nops = B->nops};
        if (B->block_blocks > 1) {
            rc = nk_dev_launch_resident(B->dev, B->blockk, (uint32_t)B->block_blocks,
                                        (uint32_t)B->block_threads, &a, sizeof a, err, errlen);
            /* refused, though the blocks were counted resident at build
             * (the device shared since, under MPS, say): nothing ran, and
             * the steps go as graphs from here (print(net) says why) */
            if (rc == NK_ENOTSUP) {
                B->block = 0;
                snprintf(B->block_why, sizeof B->block_why, "%.190s", err);
            }
            return rc;
        }
        return nk_dev_launch(B->dev, B->blockk, 1, (uint32_t)B->block_threads, &a, sizeof a, err,
                             errlen);
    }
    rc = 0;
    for (int s = 0; !rc && s < GRAPH_STEPS; s++)
        for (int k = 0; !rc && k < B->nops; k++)
            rc = nk_dev_launch(B->dev, B->ops[k].f, B->ops[k].blocks, B->ops[k].threads,
                               B->ops[k].args, B->ops[k].argsize, err, errlen);
    /* NKSHELL_CUDA_EMU_STUCK=S (tests): the window of step S plays blocks
     * of several that gave up waiting at a barrier (nk_grid_sync's word),
     * which the GPU alone can do, so that what the host does then is
     * tested (block_stuck) */
    const char *stuck = getenv("NKSHELL_CUDA_EMU_STUCK");
    if (!rc && stuck && *stuck && B->block_blocks > 1) {
        const long long at = atoll(stuck);
        const uint64_t one = 1;
        if (at >= s0 && at < s0 + GRAPH_STEPS)
            rc = nk_dev_put(B->dev, B->counters + STUCK(B) * 8, &one, sizeof one, err, errlen);
    }
    return rc;
}

/* A profiled run's mark k (0: before a window, 1: after it) on the stream,
 * made at first use. */
static int window_mark(cuda_bk *B, int k, char *err, size_t errlen)
{
    int rc = 0;
    if (!B->mark[k] && (rc = nk_dev_mark_new(B->dev, &B->mark[k], err, errlen)))
        return rc;
    if ((rc = nk_dev_mark(B->dev, B->mark[k], err, errlen)))
        return rc;
    B->marked = k == 1;
    return 0;
}

/* Queues steps s .. s + GRAPH_STEPS - 1 as one graph launch, recording the
 * graph first if this run has none (or in one block: block_window).
 * NK_ENOTSUP: graphs cannot be used here (the steps go one by one, as
 * before). */
static int run_window(nk_net *net, cuda_bk *B, int64_t s, char *err, size_t errlen)
{
    int rc = 0;
    if (B->unchecked && (rc = fetch_counters(net, B, 0, err, errlen)))
        return rc;
    /* as in cuda_step, after what the last look fetched and has not sorted */
    if ((rc = nk_rec_room(net, CHECK_EVERY, B->pend, err, errlen)))
        return rc;
    if (net->profiling && (rc = window_mark(B, 0, err, errlen)))
        return rc;
    if (B->block) {
        rc = block_window(net, B, s, err, errlen);
        if (rc != NK_ENOTSUP) {
            if (!rc)
                B->window_end = B->sampled_to = B->counted_to = s + GRAPH_STEPS;
            return rc ? rc : net->profiling ? window_mark(B, 1, err, errlen) : 0;
        }
        rc = 0;
    }
    if (!B->graph) {
        if ((rc = nk_dev_capture_begin(B->dev, err, errlen))) {
            if (rc == NK_ENOTSUP) {
                B->graph_off = 1;
                snprintf(B->graph_why, sizeof B->graph_why, "%.190s", err);
            }
            return rc;
        }
        for (int k = 0; !rc && k < GRAPH_STEPS; k++)
            rc = queue_step(net, B, err, errlen);
        nk_dgraph *g = NULL;
        char e2[256];
        int rc2 = nk_dev_capture_end(B->dev, &g, e2, sizeof e2);
        if (rc || rc2) {
            /* steps go one by one from here (the device did none of these),
             * and print(net) says why */
            B->graph_off = 1;
            snprintf(B->graph_why, sizeof B->graph_why, "recording a CUDA graph failed: %.160s",
                     rc ? err : e2);
            nk_dev_graph_free(B->dev, g);
            return NK_ENOTSUP;
        }
        B->graph = g;
    }
    if ((rc = nk_dev_graph_launch(B->dev, B->graph, err, errlen)))
        return rc;
    B->window_end = B->sampled_to = B->counted_to = s + GRAPH_STEPS;
    return net->profiling ? window_mark(B, 1, err, errlen) : 0;
}

/* A profiled step that ran on the device alone: its phases cannot be told
 * apart from the host, so the time the host spent on it (queuing, and
 * waiting for the device when it looks) counts as update. */
static void device_step_timed(double *prof, double t0)
{
    if (prof) {
        prof[NK_PROF_UPDATE] += nk_now() - t0;
        prof[NK_PROF_STEPS] += 1;
    }
}

static int cuda_step(nk_net *net, char *err, size_t errlen)
{
    cuda_bk *B = net->bk;
    int64_t s = net->step;
    double *prof = net->profiling ? net->prof : NULL;
    double t0 = prof ? nk_now() : 0, t1;
    int rc;

    /* Steps of a graph: on the device already, the host looks at its end. */
    if (s < B->window_end) {
        net->step = s + 1;
        rc = net->step == B->window_end ? fetch_counters(net, B, 1, err, errlen) : 0;
        if (!rc)
            device_step_timed(prof, t0);
        return rc;
    }
    if (window_ok(net, B, s)) {
        rc = run_window(net, B, s, err, errlen);
        if (rc != NK_ENOTSUP) {
            if (rc)
                return rc;
            /* the last look's records, while the device runs the window */
            settle_records(net, B);
            net->step = s + 1;
            device_step_timed(prof, t0);
            return 0;
        }
    }
    settle_records(net, B);
    int host = needs_host(net, B, s);

    /* a step queued earlier may have diverged: nothing on the host happens
     * after that step */
    if (host && B->unchecked && (rc = fetch_counters(net, B, 0, err, errlen)))
        return rc;
    /* room on the host for all that the device can record before the host
     * next looks, made before the step is queued (fetch_records) */
    if ((rc = nk_rec_room(net, CHECK_EVERY, NULL, err, errlen)))
        return rc;
    /* the step on the device: its number, no spikes yet; 0. the monitors
     * on the device sample the state at the start of the step */
    if ((rc = step_begin(net, B, err, errlen)) || (rc = sample_mons(net, B, err, errlen)))
        return rc;
    B->sampled_to = s + 1;
    if (host) {
        /* 0. and so do output monitors, on the host */
        rc = fetch_sampled(net, B, s, err, errlen);
        if (!rc)
            rc = nk_monitors_sample(net, s, err, errlen);
        if (rc)
            return rc;
        if (prof) {
            t1 = nk_now();
            prof[NK_PROF_RECORD] += t1 - t0;
            t0 = t1;
        }
        /* 1. sources (and the drawn ones' plan, should Lua have changed a
         * rate or a weight) */
        if ((rc = apply_sources(net, B, s, err, errlen)) ||
            (rc = put_draws(net, B, 0, err, errlen)) || (rc = put_curs(net, B, 0, err, errlen)))
            return rc;
        if (prof) {
            t1 = nk_now();
            prof[NK_PROF_SOURCES] += t1 - t0;
            t0 = t1;
        }
    }
    /* 1. the currents, spike times and drawn sources, on the device */
    if ((rc = cur_sources(net, B, err, errlen)) || (rc = stime_sources(net, B, err, errlen)) ||
        (rc = draw_sources(net, B, err, errlen)))
        return rc;
    /* 2.-3. update (the kernels clear the slots they read); rate monitors
     * count the spikes */
    if ((rc = update_all(net, B, err, errlen)) || (rc = count_rates(net, B, err, errlen)))
        return rc;
    B->counted_to = s + 1;
    if (host && (rc = fetch_counters(net, B, 0, err, errlen)))
        return rc;
    if (prof) {
        t1 = nk_now();
        prof[NK_PROF_UPDATE] += t1 - t0;
        t0 = t1;
    }
    /* 4. deliver (and count, in a profiled run) */
    if ((rc = deliver_all(net, B, err, errlen)))
        return rc;
    if (!host) {
        /* the host looks every CHECK_EVERY steps, and after the run's last
         * step, so that the run's time holds all of its work */
        if ((++B->unchecked >= CHECK_EVERY || s + 1 == net->run_until) &&
            (rc = fetch_counters(net, B, 0, err, errlen)))
            return rc;
        net->step = s + 1;
        device_step_timed(prof, t0);
        return 0;
    }
    /* The step's spikes, in neuron order, for recording (the copy waits
     * for the deliveries). */
    for (int k = 0; !rc && k < net->npops; k++) {
        nk_pop *p = &net->pops[k];
        int64_t m = B->hcount[k];
        p->nspk = m;
        if (m > 0) {
            rc = nk_dev_get(B->dev, p->spk, B->pops[k].spk, (size_t)m * sizeof *p->spk, err,
                            errlen);
            qsort(p->spk, (size_t)m, sizeof *p->spk, cmp_i64);
        }
    }
    if (!rc)
        rc = nk_dev_sync(B->dev, err, errlen);
    if (rc)
        return rc;
    if (prof) {
        t1 = nk_now();
        prof[NK_PROF_DELIVER] += t1 - t0;
        t0 = t1;
    }
    /* 5. record: spike, state, field and rate monitors have recorded on
     * the device (fetched with the counters) */
    if (prof) {
        prof[NK_PROF_RECORD] += nk_now() - t0;
        prof[NK_PROF_STEPS] += 1;
    }
    if (rc)
        return rc;
    net->step = s + 1;
    return 0;
}

static int cuda_describe(const nk_net *net, char *buf, size_t len)
{
    const cuda_bk *B = net->bk;
    if (!B || !B->dev) {
        snprintf(buf, len, "a GPU, once built");
        return 0;
    }
    char name[200];
    int ma = 0, mi = 0;
    nk_dev_info(B->dev, name, sizeof name, &ma, &mi, NULL, NULL, NULL);
    char arch[16] = "";
    if (!nk_dev_emulated(B->dev))
        snprintf(arch, sizeof arch, ", sm_%d%d", ma, mi);
    char blk[240] = "";
    if (B->block && B->block_blocks > 1)
        snprintf(blk, sizeof blk, "; steps in one launch of %d blocks of %d threads",
                 B->block_blocks, B->block_threads);
    else if (B->block)
        snprintf(blk, sizeof blk, "; steps in one block of %d threads%s%s", B->block_threads,
                 B->block_why[0] ? ": " : "", B->block_why);
    else if (B->block_why[0])
        snprintf(blk, sizeof blk, "; steps not in one launch: %s", B->block_why);
    if (B->graph_off)
        snprintf(buf, len, "%s%s%s; steps launched one at a time: %s", name, arch, blk,
                 B->graph_why);
    else
        snprintf(buf, len, "%s%s%s", name, arch, blk);
    return 0;
}

static int cuda_threads(const nk_net *net)
{
    (void)net;
    return 1;
}

const nk_backend nk_backend_cuda = {
    .name = "cuda",
    .available = cuda_available,
    .build = cuda_build,
    .step = cuda_step,
    .release = cuda_release,
    .threads = cuda_threads,
    .sync = cuda_sync,
    .describe = cuda_describe,
    .gpu = 1,
};
