/* internal.h - libnk's private structures, shared by the engine's own files.
 *
 * Nothing here is seen by the Lua binding or the shell: they use nk/nk.h. */
#ifndef NK_INTERNAL_H
#define NK_INTERNAL_H

#include "nk/nk.h"
#include "expr.h"
#include "rt/nk_kernel.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#define NK_ERRLEN 2048
#define NK_RUN_ID_LEN 32 /* hex digits of a run id (net->run_id) */

/* Random stream ids (16 bits, see rt/nk_philox.h): one per purpose and object,
 * so that one object's numbers never depend on another's. */
#define NK_STREAM_INIT 0x1000u    /* + population: initial values */
#define NK_STREAM_CONN 0x2000u    /* + projection: connectivity */
#define NK_STREAM_SOURCE 0x3000u  /* + source: stimulus noise */
#define NK_STREAM_MODEL 0x4000u   /* + population: rand() in equations */
#define NK_STREAM_POS 0x5000u     /* + population: random positions */

/* ---- models ------------------------------------------------------------- */

/* A neuron or synapse model, parsed once when defined. Immutable afterwards;
 * owned by the context's library. */
struct nk_model {
    char *name;
    int synapse;             /* 1 for a synapse model */
    char *doc;
    int nparams;
    char **pname;
    double *pdef;            /* default values */
    char **punit;
    int nstates;
    char **sname;
    char **sunit;
    double *sinit;           /* initial value, or ... */
    int *sinit_param;        /* ... the parameter it starts at (-1: sinit) */
    nk_stmt_list eqs;        /* ODEs and named intermediates, in order */
    nk_expr *threshold;      /* NULL: never fires */
    nk_stmt_list reset;
    nk_expr *refractory;     /* NULL: none; an expression of parameters, ms */
    nk_stmt_list on_pre;     /* synapse: what a presynaptic spike does (w) */
    nk_expr *current;        /* synapse: its contribution to the target's I */
    char *method;            /* default solver */
    char *describe;          /* the model written out, for print/help */
    /* allowed ranges of parameters, bounds (clipping) of states */
    double *plo, *phi;
    unsigned char *plo_open, *phi_open;
    double *slo, *shi;
    int has_bounds;          /* some state has a finite bound */
    int refr_cond;           /* refractory is a condition (refractory while true) */
    int refr_per_neuron;     /* refractory period depends on states */
    double max_dt;           /* ms; 0: no sub-stepping */
    nk_expr *graded;         /* synapse: graded transmission from v_pre etc. */
    int nalias;
    char **alias_from, **alias_to;
    int nrecept;             /* neuron: default receptors */
    struct nk_model_recept {
        char *name;          /* "exc" */
        char *synapse;       /* "exp_cond" */
        int nparams;
        char **pname;        /* synapse parameter */
        nk_expr **pval;      /* expression of the neuron's parameters */
    } *recept;
};

/* Parses a textual model description (the built-in library uses this form).
 * Returns a new model or NULL with err filled. */
typedef nk_model_spec nk_model_text;

nk_model *nk_model_parse(const nk_model_text *t, char *err, size_t errlen);
void nk_model_free(nk_model *m);
/* Canonical names only (no aliases): for code generation. */
int nk_model_param_index0(const nk_model *m, const char *name);
int nk_model_state_index0(const nk_model *m, const char *name);
/* Whether s is a name as model declarations take them (a letter or _, then
 * letters, digits and _), of at most max characters. */
int nk_is_name(const char *s, size_t max);
/* Checks value against parameter k's range; fills err and returns -1 when
 * it is outside. */
int nk_model_check_param(const nk_model *m, int k, double value, char *err, size_t errlen);
int nk_builtin_models(nk_model ***out, int *n, char *err, size_t errlen);
/* The built-in library (lib_neurons.c, lib_synapses.c). */
extern const nk_model_text nk_lib_neurons[];
extern const int nk_lib_nneurons;
extern const nk_model_text nk_lib_synapses[];
extern const int nk_lib_nsynapses;
/* Evaluates an expression of parameters (and dt) with the given values. */
int nk_eval_param_expr(const nk_expr *e, const nk_model *m, const double *param,
                       double dt, double *out, char *err, size_t errlen);

/* The solvers (codegen.c). */
#define NK_METHODS "euler, midpoint, heun, rk4, rk45, exponential_euler or exact"
int nk_method_known(const char *method);

/* ---- context ------------------------------------------------------------ */

struct nk_ctx {
    char err[NK_ERRLEN];
    nk_model **models;
    int nmodels;
    nk_model **retired;      /* replaced models, kept for the populations using them */
    int nretired;
    double parse_s;          /* seconds spent parsing model definitions */
    nk_net **live;           /* the networks made in it and not yet freed */
    int nlive, live_cap;
    int output_taken;        /* the last nk_net_new failed: another live network's output */
};

/* Sets the context's message (printf-style); returns code. */
int nk_fail(nk_ctx *ctx, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- network ------------------------------------------------------------ */

/* How a population's per-neuron arrays lie in memory: its states, its
 * receptors' states, its refractory counters and every ring slot (not i_ext,
 * positions or ids, which no thread writes during a step). Dense (gap 0):
 * neuron i is entry i. For threads, the CPU backend spreads them out: chunk
 * c, neurons [cut[c], cut[c+1]), starts gap entries after the previous one
 * ends, with gap entries before the first and after the last, so that no
 * two threads write neighbouring cache lines (docs/engine.md, Threads). */
typedef struct nk_lay {
    int64_t gap;             /* 0: dense */
    int64_t len;             /* entries per array and per ring slot */
    int nc;                  /* chunks (gap > 0) */
    int64_t *cut;            /* nc + 1 bounds (gap > 0) */
} nk_lay;

/* The chunk holding neuron i (gap > 0): the last c with cut[c] <= i. */
static inline int nk_lay_chunk(const nk_lay *l, int64_t i)
{
    int lo = 0, hi = l->nc - 1;
    while (lo < hi) {
        int m = (lo + hi + 1) / 2;
        if (l->cut[m] <= i)
            lo = m;
        else
            hi = m - 1;
    }
    return lo;
}

/* Where neuron i's entry is. */
static inline int64_t nk_at(const nk_lay *l, int64_t i)
{
    return l->gap ? i + (int64_t)(nk_lay_chunk(l, i) + 1) * l->gap : i;
}

/* Where chunk c's entries are shifted by (c + 1) * gap: base pointers for
 * code that indexes one chunk's neurons directly. */
static inline int64_t nk_lay_off(const nk_lay *l, int c) { return (int64_t)(c + 1) * l->gap; }

/* Copies the n neurons' entries (es bytes each) between the layout of an
 * array and a dense one, or from one layout to another (chunks.c). */
void nk_lay_gather(const nk_lay *l, const void *arr, size_t es, int64_t n, void *dense);
void nk_lay_scatter(const nk_lay *l, void *arr, size_t es, int64_t n, const void *dense);
void nk_lay_move(const nk_lay *from, const void *src, const nk_lay *to, void *dst, size_t es,
                 int64_t n);

typedef struct nk_receptor {
    char *name;              /* e.g. "exc" */
    const nk_model *syn;     /* the synapse model */
    double *param;           /* its parameters */
    void **state;            /* its state arrays, lay.len entries each (nk_lay) */
    int64_t *ring;           /* ring buffer: ring_len slots x lay.len, Q32.32 */
    double in_proj;          /* the most the projections bring one neuron in a step: the
                                largest sum of |weight| onto a neuron (INFINITY: graded) */
    int small_in;            /* every step's input stays below NK_SMALL_IN in magnitude,
                                as proven at build: the CPU kernel converts it with
                                NK_FIX_REAL_SMALL (rt/nk_kernel.h) */
} nk_receptor;

/* The bound under which a receptor's input takes the short conversion: half
 * of the 2^19 below which it is exact, so that the rounding of each weight
 * to Q32.32 (2^-33 at most) never matters. */
#define NK_SMALL_IN 262144.0

typedef struct nk_pop {
    char *name;
    const nk_model *model;
    char *method;
    double rtol, atol;       /* rk45 tolerances */
    int64_t n;
    double *param;           /* shared parameter values */
    nk_lay lay;              /* how the arrays below and the receptors' lie */
    void **state;            /* model->nstates arrays of lay.len reals */
    int64_t *refr;           /* the step at which each refractory period ends, or
                                the condition's flag (nk_kargs.refr; lay.len) */
    int32_t refr_steps;      /* the refractory period in steps (set at build) */
    int64_t born;            /* net->step when it was added: until a step has run, its
                                states follow the parameters they start at */
    nk_receptor *rx;
    int nrx;
    void *i_ext;             /* external current (real, pA) when a dc source targets it */
    double *pos;             /* positions, um: x, y, z per neuron (NULL: none) */
    int64_t *ids;            /* external ids (NULL: none) ... */
    int64_t *ids_sorted;     /* ... sorted, with */
    int64_t *ids_at;         /* ... the neuron each one belongs to */
    /* compiled code */
    char *code;              /* NULL when code_dup is set */
    int code_dup;            /* CPU: 1 + an earlier population with the same text */
    void *dl;
    nk_update_fn update;
    void **kstate;           /* state arrays as the kernel sees them */
    double *kparam;
    double *kextra;          /* constants computed by codegen (solver tables), */
    int nkextra;             /* appended to kparam after the parameters */
    int ncst;                /* CUDA: the per-step constants its update reads (codegen.c) */
    /* spikes of the current step */
    int64_t *spk;
    int64_t nspk;
    /* spike recording (when a spike monitor covers part of it) */
    uint8_t *rec_mask;
    int64_t *rec_step;
    uint32_t *rec_id;
    int64_t nrec, caprec;
    int64_t nwritten;        /* how many are in the results file */
    int h5idx;
} nk_pop;

typedef struct nk_proj {
    nk_range pre, post;
    int rx;                  /* receptor index on post */
    int64_t nsyn;
    int64_t *row;            /* CSR by presynaptic neuron (pre.hi - pre.lo + 1) */
    uint32_t *col;           /* postsynaptic index within the post population */
    float *w;                /* weight, synapse unit */
    uint16_t *delay;         /* steps, >= 1 */
    int max_delay;
    int udelay;              /* the delay of every edge when they are all equal, else 0 (set at build) */
    int uweight;             /* 1: every edge has the same weight (set at the CPU's build) ... */
    int64_t uwfix;           /* ... whose Q32.32 value a spike adds */
    nk_graded_fn graded;     /* graded transmission (set at build), else NULL */
    double *gbuf;            /* graded: the value per presynaptic neuron */
    char desc[512];
} nk_proj;

enum {
    NK_SRC_DC, NK_SRC_STEP, NK_SRC_RAMP, NK_SRC_AC, NK_SRC_NOISE, NK_SRC_ARRAY,
    NK_SRC_EQUATION, NK_SRC_CALLBACK, NK_SRC_GLOBAL,
    NK_SRC_POISSON, NK_SRC_BERNOULLI, NK_SRC_SPIKE_TIMES, NK_SRC_NKINDS
};
#define NK_SRC_IS_SPIKES(k) ((k) >= NK_SRC_POISSON)

/* Generated by codegen for an equation source: adds the expression's value
 * to iext[i] for the part's neurons. */
typedef void (*nk_eqsrc_fn)(int64_t lo, int64_t hi, const int64_t *idx, int64_t n, double t,
                            int64_t step, uint64_t seed, const double *pos, void *iext);

typedef struct nk_src_part {
    int pop;
    int64_t lo, hi;          /* range, when idx == NULL */
    int64_t *idx, n;         /* the neurons (n always set) */
    int64_t off;             /* index of the part's first neuron within the source */
    int rx;                  /* spike input: receptor on pop */
    nk_eqsrc_fn eq;          /* equation: set at build */
} nk_src_part;

static inline int64_t nk_part_at(const nk_src_part *p, int64_t j)
{
    return p->idx ? p->idx[j] : p->lo + j;
}

typedef struct nk_source {
    int kind;
    int removed;
    nk_src_part *parts;
    int nparts;
    int64_t ntotal;
    double rate, weight, amplitude, start, stop, from, to, frequency, phase, offset, mean, std,
        interval, p;
    int64_t wfix;            /* spike input: weight in Q32.32 */
    double *times, *amps;    /* step: ntimes each */
    int64_t ntimes;
    int64_t *ev_step, *ev_at;/* spike_times: events sorted by step (ev_at: index in source) */
    int64_t nev, ev_pos;     /* ... and the next one to deliver */
    double *arr;             /* array: rows x cols */
    int64_t rows, cols;
    int hold;
    char *expr;              /* equation, global */
    nk_expr *ex;
    nk_source_fn fn;         /* callback */
    void *ud;
    void (*ud_free)(void *);
    int every;
    double *cb_vals;         /* callback: the values of the last call (ntotal) */
    int cb_called;           /* callback: called at least once */
    char desc[256];
} nk_source;

enum { NK_MON_SPIKES, NK_MON_STATE, NK_MON_RATE, NK_MON_FIELD, NK_MON_OUTPUT, NK_MON_NKINDS };

typedef struct nk_monitor {
    int kind;
    nk_range target;         /* pop and the span of the neurons */
    int64_t *idx, n;         /* the neurons (idx NULL: target.lo ..) */
    int64_t start_step;      /* first step recorded */
    char *name;
    int nvars;
    char **vname;
    const char **vunit;
    void **varr;             /* the state arrays sampled */
    int every;
    int op_sum;              /* field */
    int bin_steps;           /* rate */
    int64_t bin_count;       /* rate: spikes in the bin being filled */
    double *data;            /* sampled rows, ncols each */
    int64_t rows, cap, ncols;
    int64_t rows_out;        /* rows handed to the results file */
    nk_monitor_fn fn;        /* output */
    void *ud;
    void (*ud_free)(void *);
    int h5idx;
    int on_device;           /* state, field, rate: the backend samples or counts it and hands
                                the results over (nk_monitor_put_row, nk_monitor_rate_step);
                                nk_monitors_sample and nk_monitors_spikes leave it alone */
} nk_monitor;

static inline int64_t nk_mon_at(const nk_monitor *m, int64_t j)
{
    return m->idx ? m->idx[j] : m->target.lo + j;
}

struct nk_backend;

#define NK_MAX_THREADS 256

/* CPUs this process may run on (its affinity mask), at least 1. */
int nk_usable_cpus(void);

/* Phases of a step and of building, as net:profile() reports them. */
enum { NK_PROF_SOURCES, NK_PROF_UPDATE, NK_PROF_DELIVER, NK_PROF_RECORD, NK_PROF_WRITE,
       NK_PROF_FINISH, NK_PROF_STEPS, NK_PROF_EARLY,
       NK_PROF_DEVICE, /* CUDA: the device's own time on the windows of steps (cuda.c) */
       NK_PROF_N };
enum { NK_PROFB_CONNECT, NK_PROFB_CODEGEN, NK_PROFB_COMPILE, NK_PROFB_OUTPUT,
       NK_PROFB_N };

struct nk_net {
    nk_ctx *ctx;
    const struct nk_backend *be;  /* chosen at creation; "auto" may turn to the CPU at build */
    double dt;
    uint64_t seed;
    nk_backend_kind backend_req;
    char gpu_full[320];      /* set by the CUDA backend when the network would not fit in the
                                GPU's memory (why); "auto" then builds on the CPU, and this
                                says why (nk_net_backend_note) */
    int dbl;                 /* float64 state */
    size_t real_size;
    char *output;
    int output_started;      /* the results file has been written at least once */
    char run_id[NK_RUN_ID_LEN + 1]; /* names the run the results file belongs to (its
                                root attribute run_id, and the checkpoints'): new with the
                                network; a restored one continuing its checkpoint's file
                                takes the checkpoint's ("" from a checkpoint older than
                                run ids: then the file gets none either) */
    char *ck_from;           /* restored or resumed from this checkpoint (for messages) */
    int ck_resumed;          /* ... by nkshell --resume (nk_checkpoint_apply) */
    char **meta_key, **meta_val;
    int nmeta;
    int64_t step;
    int built;               /* code and buffers match the description */
    int in_changed;          /* a source's weight or rate, or the ring buffers, changed
                                since the receptors' small_in were proven (nk_net_build) */
    int ring_len;            /* slots in every ring buffer */
    nk_pop *pops;
    int npops;
    int *pop_ix;             /* names hashed: index + 1, 0 empty (nk_pop_find) */
    int pop_ixcap;           /* slots in pop_ix, a power of 2 */
    nk_proj *projs;
    int nprojs;
    nk_source *srcs;
    int nsrcs;
    nk_monitor *mons;
    int nmons;
    double build_s, run_s;
    struct nk_h5out *out;    /* open only during a run (setup) ... */
    struct nk_writer *writer;/* ... then owned by the writer thread */
    int running;             /* inside nk_run: the structure must not change */
    int closed;              /* closed, to be freed when a running call ends */
    int64_t run_until;       /* during a run: the step it ends at, */
    int64_t run_ck_every;    /* its checkpoint cadence in steps (0: none), */
    int64_t run_step0;       /* and the step it started at */
    volatile sig_atomic_t *run_interrupt; /* and what interrupts it (or NULL) */
    int ahead;               /* the backend has started step net->step early: */
                             /* the run takes it before it stops */
    int threads;             /* CPU threads asked for (0: one per CPU this process may use) */
    void *bk;                /* the backend's own state (set at build) */
    int64_t bk_bytes;        /* host memory of the backend's own tables (nk_net_memory) */
    int profiling;           /* time the phases of each step into prof */
    double prof[NK_PROF_N];  /* seconds per phase of the last profiled run (NK_PROF_STEPS: steps, */
                             /* NK_PROF_EARLY: of them, those started early) */
    double prof_build[NK_PROFB_N]; /* seconds per phase of building */
    double prof_run_s;       /* the last profiled run's loop */
    int prof_threads;        /* ... and its threads */
    int prof_gpu;            /* ... on a GPU */
    int64_t run_spikes;      /* the current profiled run: spikes fired ... */
    int64_t run_events;      /* ... and synaptic events delivered */
    int64_t prof_spikes, prof_events; /* the same, of the last profiled run */
    int trunc_pending;       /* restored: cut the results file to the checkpoint's counts */
    struct stat out_st;      /* the results file as the last run left it (out_st_ok): a */
    int out_st_ok;           /* later run finding it so skips reading its run_id */
};

/* Receptor rx of population pop, ring slot for absolute step s. */
static inline int64_t *nk_ring_slot(nk_pop *p, int rx, int ring_len, int64_t s)
{
    return p->rx[rx].ring + (size_t)(s % ring_len) * (size_t)p->lay.len;
}

/* Lays population p's arrays out anew (nk_lay): dense when gap is 0, else
 * nc chunks cut at cut[0..nc] with gap entries around each. The values
 * stay; monitors are pointed at the new arrays. NK_ENOMEM leaves the old. */
int nk_pop_relayout(nk_net *net, nk_pop *p, int nc, const int64_t *cut, int64_t gap, char *err,
                    size_t errlen);

/* Build pieces (net.c / codegen.c / jit.c) */
char *nk_codegen_pop(nk_net *net, int pop, char *err, size_t errlen);
/* 0 when every name receptor r of population pop uses exists (its
 * synapse's and the neuron model's), else an error code with err filled. */
int nk_codegen_check_receptor(nk_net *net, int pop, int r, char *err, size_t errlen);
/* 0 when population pi's method is not exact, or is and its system
 * (neuron and receptors) is linear with constant coefficients, else an error
 * code with err filled. */
int nk_codegen_check_exact(nk_net *net, int pi, char *err, size_t errlen);
/* 0 when every name of graded synapse syn (else 0 at once) resolves with the
 * presynaptic model pre, else an error code with err filled. */
int nk_codegen_check_graded(const nk_model *pre, const nk_model *syn, char *err, size_t errlen);
/* The same population's code for the CUDA backend (the body of
 * nk_update_POP, which nk_update_all calls, and the kernels nk_graded_P,
 * rt/nk_cuda.h), and the text that goes before every
 * population's kernels in one CUDA module. */
char *nk_codegen_pop_cuda(nk_net *net, int pop, char *err, size_t errlen);
char *nk_codegen_cuda_header(nk_net *net);
/* (fn NULL: only loads the shared object, for code without nk_update.) */
int nk_jit_load(const char *code, void **dl, nk_update_fn *fn, char *err,
                size_t errlen);
/* The directory compiled code is cached in (created when missing). */
int nk_jit_cache_dir(char *out, size_t len, char *err, size_t errlen);
/* Compiles the texts that are not cached yet, up to jobs at a time, so that
 * nk_jit_load then finds them all. */
int nk_jit_compile_all(const char *const *codes, int n, int jobs, char *err, size_t errlen);
/* While flag is set (not NULL), compiles poll *flag and, when it becomes
 * nonzero, stop the compiler and fail with NK_EINTR (nk_run sets it around
 * its build, to its interrupt flag). */
void nk_jit_set_interrupt(volatile sig_atomic_t *flag);
/* The edges of an nk_edges taken as a list (nk_connect_edges): ends mapped
 * through map_pre/map_post (index in e->ids -> neuron in the population, -1
 * when absent: skipped), only edges of one sign, weights times scale. */
typedef struct nk_list_src {
    const nk_edges *e;
    const int64_t *map_pre, *map_post;
    int sign;                /* +1: w >= 0, -1: w < 0 */
    double scale;
} nk_list_src;

int nk_connect_build(nk_net *net, nk_proj *pj, const nk_conn_opts *o, const nk_list_src *ls,
                     char *err, size_t errlen);
/* Whether src, an expression of the distance, names none of d, dx, dy, dz
 * (*is_const, its value in *value); -1 with err filled ("what: ...") when it
 * does not parse or names something else. */
int nk_dexpr_const(const char *src, const char *what, int *is_const, double *value, char *err,
                   size_t errlen);
/* Removes the last projection (undoes part of a construction that failed). */
void nk_proj_discard_last(nk_net *net);
/* nk_connect with an edge source (o->rule NK_RULE_LIST, ls not NULL). */
int nk_connect_ex(nk_net *net, nk_range pre, nk_range post, const nk_conn_opts *o,
                  const nk_list_src *ls);

/* Sources and monitors (stim.c, monitor.c), called by every backend. */
void nk_source_free(nk_source *s);
/* The first option of source s (rate, weight, stop, ...) whose value
 * net:source or src:set would refuse, with what it takes in *want; NULL
 * when none (nk_restore's check of a checkpoint's sources). */
const char *nk_source_check(const nk_source *s, double dt, const char **want);
void nk_monitor_free(nk_monitor *m);
/* Adds the step's current input and spike input (step 1 of backend.h);
 * drawn 0 leaves out the drawn sources (nk_source_drawn), which the backend
 * then draws itself with nk_source_draw. */
int nk_sources_apply(nk_net *net, int64_t s, int drawn, char *err, size_t errlen);
/* Whether source src's input is random spikes drawn for each neuron from
 * the source's own stream (poisson, bernoulli): the same numbers wherever
 * and in whatever order its neurons are drawn. */
int nk_source_drawn(const nk_source *src);
/* The most one entry of source src adds to its receptor's input in one step,
 * in weight units: 0 for a current source, INFINITY for a Poisson source
 * whose counts are drawn without a table (they have no bound). */
double nk_source_in_max(const nk_net *net, const nk_source *src);
/* Whether source src acts in step s (present, and s within its start and
 * stop). */
int nk_source_on(const nk_net *net, const nk_source *src, int64_t s);

/* A generated module's nk_draw (nk_philox.h's nk_draw_part). */
struct nk_draw_tab;
typedef void (*nk_draw_fn)(const struct nk_draw_tab *t, uint64_t seed, uint32_t stream, uint64_t step,
                           uint32_t off, int64_t j0, int64_t j1, const int64_t *idx, int64_t plo,
                           int64_t lo, int64_t hi, int64_t wfix, int64_t *slot);
/* The table a drawn source's counts in step s come from (nk_philox.h). */
void nk_source_tab(const nk_net *net, const nk_source *src, struct nk_draw_tab *t);
/* Draws step s's input of drawn source k to the neurons of its part q that
 * lie in [lo, hi) of their population, adding it to slot (that receptor's
 * ring slot for step s, indexed by neuron), with fn (NULL: the engine's
 * own nk_draw_part). */
void nk_source_draw(const nk_net *net, int k, int q, int64_t s, int64_t lo, int64_t hi,
                    int64_t *slot, nk_draw_fn fn);
/* A source's first step (t >= start), its interval in steps (noise,
 * array; at least 1) and the step of switch c (step). */
int64_t nk_source_first_step(const nk_net *net, const nk_source *src);
int64_t nk_source_interval_steps(const nk_net *net, const nk_source *src);
int64_t nk_source_switch_step(const nk_net *net, const nk_source *src, int64_t c);
/* Sampled monitors at the start of step s (before sources and update). */
int nk_monitors_sample(nk_net *net, int64_t s, char *err, size_t errlen);
/* Rate monitors after step s's spikes are known. */
void nk_monitors_spikes(nk_net *net, int64_t s);
/* Rate monitor m's count of spikes at step s (the backend counted them). */
void nk_monitor_rate_step(nk_net *net, nk_monitor *m, int64_t s, int64_t count);
/* State or field monitor m's next row, from the values the backend sampled:
 * the monitor's n neurons x nvars variables, neuron-major, as float or
 * double (dbl) like the state. */
int nk_monitor_put_row(nk_net *net, nk_monitor *m, const void *vals, int dbl, char *err,
                       size_t errlen);
/* Emitted code for the equation sources that target population pi (codegen). */
int nk_codegen_eqsrc(nk_net *net, int pi, char **code, char *err, size_t errlen);
/* The CUDA module's nk_eq_value: every equation source's value, per neuron. */
int nk_codegen_eqsrc_cuda(nk_net *net, char **code, char *err, size_t errlen);
/* The state array of variable var ("v" or "receptor.state") of pop; its unit. */
int nk_pop_var(nk_net *net, int pop, const char *var, void **arr, const char **unit);
/* Room for element n (zeroed) of an array of n elements made by nk_grow alone
 * (its room doubles at powers of two); -1 when out of memory. */
int nk_grow(void **arr, int n, size_t size);
/* NK_EINVAL with a message when net is running (a callback tried to change
 * the network's structure), else 0. */
int nk_busy(nk_net *net, const char *what);
int nk_receptor_get(nk_net *net, int pop, const char *name, const char *synapse,
                    const char *const *pnames, const double *pvals, int np);
/* Removes population pop's receptors after the first keep (undoes a failed add). */
void nk_receptor_drop_new(nk_net *net, int pop, int keep);
/* The function of a restored output monitor until one is attached. */
int nk_detached_output(void *ud, double t, int64_t ncols, const double *v, char *err,
                       size_t errlen);
int nk_receptor_for(nk_net *net, int pop, const char *receptor, const char *synapse,
                    double weight, const char *const *pnames, const double *pvals, int np);
void *nk_state_alloc(nk_net *net, int64_t n);
double nk_state_get(const nk_net *net, const void *arr, int64_t i);

/* What every backend does around its kernels (step.c). */
/* Sizes every ring buffer for the longest delay (net->ring_len), keeping
 * input already scheduled for future steps in its place. */
int nk_build_rings(nk_net *net, char *err, size_t errlen);
/* The ring slots the projections' delays need (the longest delay + 1, at
 * least 2), and whether rings of len slots fit in memory (0, else an error
 * code with err filled, naming the delay and the bytes). */
int nk_rings_needed(const nk_net *net);
/* Why the existing file f must not be replaced by a new results file
 * (checkpoint 0) or checkpoint (1): into why, "" when it may (no file, an
 * empty one, or a file of that kind that nkshell wrote: a results file has
 * a run_id or nkshell_version root attribute, a checkpoint its format). So
 * that a typo in a path does not cost a checkpoint, a results file or data. */
void nk_replace_check(const char *f, int checkpoint, char *why, size_t len);
/* Whether a checkpoint may be written to path (checkpoint.c): not over a
 * results file of an open network, what is not a regular file, or a file
 * that is not a checkpoint. 0, or an error code with the message set. */
int nk_checkpoint_path_ok(nk_net *net, const char *path);
int nk_rings_fit(const nk_net *net, int len, char *err, size_t errlen);
/* Population p's refractory period in steps (0 when it is a condition or
 * per neuron); *rc is 0 or an error code with err filled: a period below 0
 * ms, NaN, or longer than NK_MAX_REFR_STEPS steps (the counters are int32). */
#define NK_MAX_REFR_STEPS 1e9
int32_t nk_refractory_steps(nk_net *net, nk_pop *p, char *err, size_t errlen, int *rc);
/* Sub-steps per step of dt for a model's max_dt (1 when it has none or dt is
 * not larger); more than NK_MAX_SUBSTEPS is refused. */
#define NK_MAX_SUBSTEPS 1e6
double nk_substeps(double dt, double max_dt);
/* Records the spikes of step s (pop->spk, in neuron order) for spike
 * monitors, and feeds rate monitors. */
int nk_record_spikes(nk_net *net, int64_t s, char *err, size_t errlen);
/* Room for more recorded spikes of p (p->rec_step, p->rec_id). */
int nk_rec_reserve(nk_pop *p, int64_t more, char *err, size_t errlen);
/* Room for all that `steps` more steps can record (every recorded neuron
 * firing at each, every monitor's rows), beyond pending[k] spikes of
 * population k not recorded yet (pending may be NULL). A backend makes it
 * before a step starts, so that no step fails half-way for want of memory:
 * an error here leaves the network as it was. */
int nk_rec_room(nk_net *net, int64_t steps, const int64_t *pending, char *err, size_t errlen);
/* The monitors' part of nk_rec_room. */
int nk_monitors_room(nk_net *net, int64_t steps, char *err, size_t errlen);
/* Points population pi's equation-source parts at their functions in the
 * loaded code dl (nk_eqsrc_SOURCE_PART). */
int nk_bind_eqsrc(nk_net *net, int pi, void *dl, char *err, size_t errlen);
/* Adds the step's spikes and graded events to the profiled run's counts
 * (the backend counts the events of spikes as it delivers them). */
void nk_count_events(nk_net *net);
/* The message for a state that became non-finite: neuron index of pop,
 * variable var (the kernel's numbering: neuron's states, then receptors'),
 * or var -2: the neuron's refractory period evaluated to NaN or below 0. */
void nk_diverged(nk_net *net, int pop, int64_t index, int var, int64_t s, char *err,
                 size_t errlen);

/* The results file during a run (net.c): hand recorded data to the writer
 * (and flush); wait until it is all in the file. */
int nk_output_write(nk_net *net, int flush);
int nk_output_sync(nk_net *net);

/* A run id: 32 hex digits, random (net.c). */
void nk_run_id_new(char id[NK_RUN_ID_LEN + 1]);
/* Whether id is one (32 lowercase hex digits). */
int nk_run_id_ok(const char *id);
/* The results file starts afresh: it will receive everything the monitors
 * hold (nothing of it counts as written, nothing is to be cut back). */
void nk_output_restart(nk_net *net);
/* Before a network restored from a checkpoint (or resumed) continues the
 * checkpoint's results file, which cutting it back changes: refuses a file
 * of that name that is not that run's (docs/checkpoints.md), naming it and
 * why; at_restore: for nk_restore's message, else for the run's. *missing:
 * neither NAME nor NAME.part exists. 0 when there is nothing to refuse. */
int nk_results_check(nk_net *net, int at_restore, int *missing);

/* Fixed point conversions: w in the range (|w| < 2^31; weights are at
 * most 1e6), and any w, clamped to the range (NaN: 0), for a graded
 * synapse's weight x value, as the GPU's nk_dfix_any does. */
static inline int64_t nk_fix_from(double w)
{
    double s = w * NK_FIX_ONE;
    return (int64_t)(s < 0 ? s - 0.5 : s + 0.5);
}
static inline int64_t nk_fix_from_any(double w)
{
    double s = w * NK_FIX_ONE;
    s = s < 0 ? s - 0.5 : s + 0.5;
    s = s > 0x1p63 - 0x1p10 ? 0x1p63 - 0x1p10 : s;
    s = s < -0x1p63 + 0x1p10 ? -0x1p63 + 0x1p10 : s;
    return s == s ? (int64_t)s : 0;
}
/* a + b with the wrap of two's complement (no signed overflow) */
static inline int64_t nk_fix_add(int64_t a, int64_t b)
{
    return (int64_t)((uint64_t)a + (uint64_t)b);
}

/* Memory helpers: abort-free, return NULL on failure. */
void *nk_xcalloc(size_t n, size_t size);
/* The same on a 64-byte boundary (a cache line), for the arrays threads
 * split between them: no two threads' neurons share a line. */
void *nk_xcalloc64(size_t n, size_t size);
/* Room in *arr (*cap elements, n of them used) for one more, the room
 * doubling; 0, or -1 when out of memory (*arr unchanged). */
int nk_room(void **arr, int64_t *cap, int64_t n, size_t size);
char *nk_strdup(const char *s);

/* NULL when path does not exist or is a regular file (symlinks followed),
 * else what it is ("a FIFO (named pipe)", "a directory", ...): reading a
 * FIFO blocks, and renaming a results file over a device replaces it. */
const char *nk_not_regular(const char *path);
/* Whether a and b name the same file: their directories resolved
 * (realpath), whether or not the files exist. */
int nk_same_path(const char *a, const char *b);

/* bytes as a reader takes them in: "812 B", "4.2 MB", "1.35 GB"; returns buf */
const char *nk_fmt_bytes(double bytes, char *buf, size_t len);

/* Time in seconds from a monotonic clock. */
double nk_now(void);

#endif
