/* gexf.c - Neurokernel GEXF files (current format and legacy v0.1).
 *
 * A GEXF file is XML: <gexf><graph> with <attributes class="node"> and
 * <attributes class="edge"> declaring attribute ids and titles (with an
 * optional <default>), then <nodes><node id=..><attvalues><attvalue for=ID
 * value=../> and <edges><edge source=.. target=..> likewise. Neurokernel
 * keeps a local processing unit (LPU) in one, in two dialects:
 *
 * - current (neurodriver's LPU.lpu_parser): every component is a node with a
 *   'class' attribute and its parameters; a synapse is a node too, joined by
 *   the edges neuron -> synapse -> neuron (an edge may carry 'delay', in s,
 *   and 'reverse'); a 'Port' node has 'selector', 'port_io' (in/out) and
 *   'port_type' (spike/gpot); neuron -> Port(out) marks an output neuron,
 *   Port(in) -> synapse -> neuron an input from another LPU.
 * - legacy v0.1 (neurokernel's lpu_parser, LPU.conv_legacy_graph): neurons
 *   are nodes with 'model' (or 'type'), 'spiking', 'public', 'extern' and a
 *   'selector' for public ones; input ports are nodes of model port_in_spk /
 *   port_in_gpot; synapses are EDGES carrying 'model' ("AlphaSynapse",
 *   "power_gpot_gpot", ...), an integer 'class' (0..3), 'conductance',
 *   'reverse', 'delay' (ms) and their parameters.
 *
 * Loading goes in phases, and nothing is added to the network before every
 * node, edge and value has been checked and converted: read the XML
 * (libxml2, gzip transparently, no network, errors captured rather than
 * printed), index the declared attributes and the elements, decide the
 * dialect, decide each class's units (below), convert every neuron and
 * synapse into an nkshell model and parameter set, group them, and only then
 * build: populations (one per class and parameter set), their initial
 * states, and one NK_RULE_LIST projection per (source population, target
 * population, receptor). Should a build step still fail, what was added is
 * taken away again (projections, then populations in reverse order), so a
 * failed load leaves the network as it was.
 *
 * Units. Neurokernel wrote volts and seconds in some files and mV and ms in
 * others, sometimes both in one file. Each class is looked at as a whole:
 * when every voltage parameter of a class in the file is below 1 in
 * magnitude (and one is not zero), that class is in volts, and then its
 * times are in seconds, capacitances in nF and currents in nA; otherwise
 * mV, ms, uF/cm^2 and uA/cm^2 on a 100 um^2 patch (1 uF/cm^2 = 1 pF,
 * 1 uA/cm^2 = 1 pA, 1 mS/cm^2 = 1 nS, 1 kOhm cm^2 = 1 GOhm). Conductances
 * need no conversion in either. The rise and decay rates of AlphaSynapse
 * (ar, ad) are judged by themselves: per second when one exceeds 10, else
 * per ms (files pair mV reversal potentials with rates per second).
 * docs/gexf.md has the tables. */
#include "internal.h"

#include <libxml/globals.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#define GX_MAXP 16           /* model parameters a class sets */
#define GX_MAXS 8            /* initial states a class sets */
#define GX_MAXSPEC 16        /* file parameters a class reads */

/* ---- a hash map from byte strings to indices --------------------------------- */

typedef struct gx_slot {
    const void *key;         /* not owned; NULL: empty */
    size_t len;
    int64_t val;
} gx_slot;

typedef struct gx_map {
    gx_slot *s;
    int64_t cap, n;
} gx_map;

static uint64_t gx_hash(const void *p, size_t n)
{
    const unsigned char *c = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= c[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* Value stored under key, or -1. */
static int64_t map_get(const gx_map *m, const void *key, size_t len)
{
    if (!m->cap)
        return -1;
    for (uint64_t i = gx_hash(key, len) & (uint64_t)(m->cap - 1);; i = (i + 1) & (uint64_t)(m->cap - 1)) {
        const gx_slot *s = &m->s[i];
        if (!s->key)
            return -1;
        if (s->len == len && !memcmp(s->key, key, len))
            return s->val;
    }
}

/* Stores val under key (absent; the key must outlive the map). 0 or -1. */
static int map_put(gx_map *m, const void *key, size_t len, int64_t val)
{
    if (2 * (m->n + 1) > m->cap) {
        int64_t cap = m->cap ? 2 * m->cap : 64;
        gx_slot *s = nk_xcalloc((size_t)cap, sizeof *s);
        if (!s)
            return -1;
        for (int64_t k = 0; k < m->cap; k++) {
            if (!m->s[k].key)
                continue;
            uint64_t i = gx_hash(m->s[k].key, m->s[k].len) & (uint64_t)(cap - 1);
            while (s[i].key)
                i = (i + 1) & (uint64_t)(cap - 1);
            s[i] = m->s[k];
        }
        free(m->s);
        m->s = s;
        m->cap = cap;
    }
    uint64_t i = gx_hash(key, len) & (uint64_t)(m->cap - 1);
    while (m->s[i].key)
        i = (i + 1) & (uint64_t)(m->cap - 1);
    m->s[i] = (gx_slot){key, len, val};
    m->n++;
    return 0;
}

/* ---- the Neurokernel classes and their nkshell counterparts ------------------- */

/* Units of a file parameter (converted by the class's factors). */
enum {
    U_1 = 0,                 /* dimensionless, or converted by the class itself */
    U_V,                     /* voltage: x vf */
    U_T,                     /* time: x tf */
    U_INVT,                  /* 1/time: / tf */
    U_RATE,                  /* AlphaSynapse's rates: x rf */
    U_I,                     /* current: x vf (nA -> pA, or uA/cm^2 = pA) */
    U_C,                     /* capacitance: x tf (nF -> pF, or uF/cm^2 = pF) */
    U_G                      /* conductance: nS either way */
};

typedef struct gx_pspec {
    const char *names;       /* the file's name, alternatives separated by '|' */
    int unit;
    double dflt;             /* in nkshell's units when absent */
    int opt;                 /* 1: may be absent (then not given) */
} gx_pspec;

#define REQ NAN, 0
#define OPT NAN, 1

typedef struct gx_units {
    double vf;               /* voltage factor to mV (1 or 1000) */
    double tf;               /* time factor to ms (1 or 1000) */
    double rf;               /* AlphaSynapse rates to 1/ms (1 or 0.001) */
} gx_units;

typedef struct gx_in {
    const double *v;         /* per spec entry, converted (NAN when absent) */
    const unsigned char *has;
    gx_units u;
    int version;
    double dt;               /* the network's, ms */
} gx_in;

typedef struct gx_out {
    const char *model;
    const char *const *pn;
    int np;
    double pv[GX_MAXP];
    const char *const *sn;
    int ns;
    double sv[GX_MAXS];
    unsigned char shas[GX_MAXS];
    double weight;
    char bad[256];           /* why the values were refused */
} gx_out;

typedef int (*gx_convert_fn)(const gx_in *in, gx_out *out);

typedef struct gx_class {
    const char *name;        /* Neurokernel's class */
    const char *alias;       /* another spelling, or NULL */
    int synapse;
    const char *prefix;      /* synapse: receptor names are prefix_1, prefix_2, ... */
    const gx_pspec *spec;
    int nspec;
    gx_convert_fn convert;   /* NULL: skipped (DummySynapse) */
} gx_class;

static const char *const lif_p[] = {"tau_m", "C_m", "v_rest", "v_reset", "v_thresh", "t_ref", "I_e"};
static const char *const v_s[] = {"v"};

/* LeakyIAF: V' = (rest - V + R I)/(R C), reset at V >= threshold, no
 * refractory period (legacy files have no resting potential: 0). */
static const gx_pspec leaky_spec[] = {
    {"Vt|threshold", U_V, REQ},
    {"Vr|reset_potential", U_V, REQ},
    {"resting_potential", U_V, 0, 0},
    {"R|resistance", U_1, REQ},
    {"C|capacitance", U_C, REQ},
    {"V|initV", U_V, OPT},
};

static int conv_leaky(const gx_in *in, gx_out *o)
{
    const double *v = in->v;
    if (!(v[3] > 0) || !(v[4] > 0)) {
        nk_snprintf(o->bad, sizeof o->bad, "resistance and capacitance must be > 0, got %g and %g",
                    v[3], v[4] / in->u.tf);
        return -1;
    }
    o->model = "lif";
    o->pn = lif_p;
    o->np = 7;
    o->pv[0] = v[3] * v[4]; /* tau_m = R C, ms */
    o->pv[1] = v[4];
    o->pv[2] = v[2];
    o->pv[3] = v[1];
    o->pv[4] = v[0];
    o->pv[5] = 0;
    o->pv[6] = 0;
    o->sn = v_s;
    o->ns = 1;
    o->shas[0] = 1;
    /* Legacy neurons start at their reset potential, current ones at rest. */
    o->sv[0] = in->has[5] ? v[5] : in->version == 1 ? v[1] : v[2];
    return 0;
}

/* LeakyIAFwithRefractoryPeriod (neurodriver): time constant and capacitance
 * given directly, a bias current and a refractory period. */
static const gx_pspec leakyref_spec[] = {
    {"resting_potential", U_V, REQ},
    {"threshold", U_V, REQ},
    {"reset_potential", U_V, REQ},
    {"capacitance", U_C, REQ},
    {"refractory_period", U_T, 0, 0},
    {"time_constant", U_T, REQ},
    {"bias_current", U_I, 0, 0},
    {"initV|V", U_V, OPT},
};

static int conv_leakyref(const gx_in *in, gx_out *o)
{
    const double *v = in->v;
    if (!(v[3] > 0) || !(v[5] > 0) || !(v[4] >= 0)) {
        snprintf(o->bad, sizeof o->bad,
                 "capacitance and time_constant must be > 0 and refractory_period >= 0");
        return -1;
    }
    o->model = "lif";
    o->pn = lif_p;
    o->np = 7;
    o->pv[0] = v[5];
    o->pv[1] = v[3];
    o->pv[2] = v[0];
    o->pv[3] = v[2];
    o->pv[4] = v[1];
    o->pv[5] = v[4];
    o->pv[6] = v[6];
    o->sn = v_s;
    o->ns = 1;
    o->shas[0] = 1;
    o->sv[0] = in->has[7] ? v[7] : v[0];
    return 0;
}

/* MorrisLecar: the legacy kernel fixed V_L, V_Ca, V_K and the conductances
 * at these values; current files give them. */
static const gx_pspec ml_spec[] = {
    {"V1", U_V, REQ},
    {"V2", U_V, REQ},
    {"V3", U_V, REQ},
    {"V4", U_V, REQ},
    {"phi", U_1, REQ},
    {"offset", U_I, 0, 0},
    {"V_L", U_V, -50, 0},
    {"V_Ca", U_V, 100, 0},
    {"V_K", U_V, -70, 0},
    {"g_L", U_G, 0.5, 0},
    {"g_Ca", U_G, 1.1, 0},
    {"g_K", U_G, 2.0, 0},
    {"initV|V", U_V, OPT},
    {"initn|n", U_1, OPT},
};
static const char *const ml_p[] = {"V1",  "V2",  "V3",   "V4",  "phi",  "offset", "V_L",
                                   "V_Ca", "V_K", "g_L", "g_Ca", "g_K", "C_m"};
static const char *const ml_s[] = {"v", "n"};

static int conv_ml(const gx_in *in, gx_out *o)
{
    o->model = "morris_lecar";
    o->pn = ml_p;
    o->np = 13;
    for (int k = 0; k < 12; k++)
        o->pv[k] = in->v[k];
    o->pv[12] = 1; /* Neurokernel's membrane: C = 1 */
    o->sn = ml_s;
    o->ns = 2;
    o->sv[0] = in->v[12];
    o->shas[0] = in->has[12];
    o->sv[1] = in->v[13];
    o->shas[1] = in->has[13];
    return 0;
}

/* HodgkinHuxley and ConnorStevens: fixed membranes; the file gives only
 * initial values of the gates (and of V). */
static const gx_pspec hh_spec[] = {
    {"initV|V", U_V, OPT}, {"m", U_1, OPT}, {"h", U_1, OPT}, {"n", U_1, OPT},
};
static const char *const hh_s[] = {"v", "m", "h", "n"};

static int conv_hh(const gx_in *in, gx_out *o)
{
    o->model = "hh";
    o->np = 0;
    o->sn = hh_s;
    o->ns = 4;
    for (int k = 0; k < 4; k++) {
        o->sv[k] = in->v[k];
        o->shas[k] = in->has[k];
    }
    return 0;
}

static const gx_pspec cs_spec[] = {
    {"initV|V", U_V, OPT}, {"m", U_1, OPT}, {"h", U_1, OPT},
    {"n", U_1, OPT},       {"a", U_1, OPT}, {"b", U_1, OPT},
};
static const char *const cs_s[] = {"v", "m", "h", "n", "a", "b"};

static int conv_cs(const gx_in *in, gx_out *o)
{
    o->model = "connor_stevens";
    o->np = 0;
    o->sn = cs_s;
    o->ns = 6;
    for (int k = 0; k < 6; k++) {
        o->sv[k] = in->v[k];
        o->shas[k] = in->has[k];
    }
    return 0;
}

#define REVERSE "reverse|Vr|VR|reverse_potential"

/* AlphaSynapse: z'' = -(ar + ad) z' - ar ad z, z' += ar ad at a spike,
 * g = gmax z. That is g = gmax ar ad/(ad - ar) (exp(-ar t) - exp(-ad t)),
 * or gmax a^2 t exp(-a t) when ar = ad = a: alpha_cond (tau 1/a) in the
 * second case, a double exponential (ampa's, every parameter given) in the
 * first, with the weight the peak conductance. */
static const gx_pspec alpha_spec[] = {
    {"gmax", U_G, REQ},
    {"ar", U_RATE, REQ},
    {"ad", U_RATE, REQ},
    {REVERSE, U_V, 0, 0},
};
static const char *const alpha_p[] = {"tau_syn", "E_rev"};
static const char *const dexp_p[] = {"tau_rise", "tau_decay", "E_rev"};

static int conv_alpha(const gx_in *in, gx_out *o)
{
    double gmax = in->v[0], ar = in->v[1], ad = in->v[2];
    if (!(ar > 0) || !(ad > 0) || !(gmax >= 0)) {
        nk_snprintf(o->bad, sizeof o->bad, "ar and ad must be > 0 and gmax >= 0, got %g, %g, %g",
                    ar / in->u.rf, ad / in->u.rf, gmax);
        return -1;
    }
    double slow = ar < ad ? ar : ad, fast = ar < ad ? ad : ar; /* 1/ms */
    /* The peak of z, in the file's own rate unit (so that gmax z is the
     * conductance Neurokernel computes). */
    double zpeak;
    if (fast - slow <= 1e-6 * fast) {
        double a = 0.5 * (ar + ad);
        zpeak = a / exp(1.0);
        o->model = "alpha_cond";
        o->pn = alpha_p;
        o->np = 2;
        o->pv[0] = 1 / a;
        o->pv[1] = in->v[3];
    } else {
        double r = slow / fast;
        zpeak = slow * fast / (fast - slow) * pow(r, slow / (fast - slow)) * (1 - r);
        o->model = "ampa";
        o->pn = dexp_p;
        o->np = 3;
        o->pv[0] = 1 / fast;
        o->pv[1] = 1 / slow;
        o->pv[2] = in->v[3];
    }
    o->weight = gmax * zpeak / in->u.rf;
    return 0;
}

/* PowerGPotGPot (legacy power_gpot_gpot): g = min(saturation,
 * slope max(0, V_pre - threshold)^power), graded. Neurokernel does not read
 * its 'gmax'. */
static const gx_pspec power_spec[] = {
    {"threshold", U_V, REQ}, {"slope", U_1, REQ},  {"power", U_1, REQ},
    {"saturation", U_G, REQ}, {REVERSE, U_V, 0, 0}, {"gmax", U_1, OPT},
};
static const char *const power_p[] = {"threshold", "slope", "power", "saturation", "reverse"};

static int conv_power(const gx_in *in, gx_out *o)
{
    double power = in->v[2];
    if (!(power > 0) || !(in->v[1] >= 0) || !(in->v[3] >= 0)) {
        nk_snprintf(o->bad, sizeof o->bad,
                    "power must be > 0 and slope and saturation >= 0, got %g, %g, %g", power,
                    in->v[1], in->v[3]);
        return -1;
    }
    o->model = "power_gpot";
    o->pn = power_p;
    o->np = 5;
    o->pv[0] = in->v[0];
    o->pv[1] = in->v[1] / pow(in->u.vf, power); /* per V^power -> per mV^power */
    o->pv[2] = power;
    o->pv[3] = in->v[3];
    o->pv[4] = in->v[4];
    o->weight = 1;
    return 0;
}

/* SigmoidSynapse: g = scale gmax (1 + tanh(2 slope (V_pre - threshold) - 1))/2,
 * the logistic of sigmoid with V_half = threshold + 1/(2 slope) and
 * slope 1/(4 slope). */
static const gx_pspec sigmoid_spec[] = {
    {"threshold", U_V, REQ}, {"slope", U_1, REQ},   {"gmax", U_G, REQ},
    {"scale", U_1, 1, 0},    {REVERSE, U_V, 0, 0},
};
static const char *const sigmoid_p[] = {"g_max", "V_half", "slope", "E_rev"};

static int conv_sigmoid(const gx_in *in, gx_out *o)
{
    double k = in->v[1] / in->u.vf; /* 1/mV */
    double g = in->v[2] * in->v[3];
    if (!(k > 0) || !(g >= 0)) {
        nk_snprintf(o->bad, sizeof o->bad, "slope must be > 0 and gmax*scale >= 0, got %g and %g",
                    in->v[1], g);
        return -1;
    }
    o->model = "sigmoid";
    o->pn = sigmoid_p;
    o->np = 4;
    o->pv[0] = g;
    o->pv[1] = in->v[0] + 1 / (2 * k);
    o->pv[2] = 1 / (4 * k);
    o->pv[3] = in->v[4];
    o->weight = 1;
    return 0;
}

/* ExpSynapse (legacy): eff' = -eff/tau, and in the step of a spike
 * eff += dt a (1 - eff); g = gmax eff. Without the saturation: exp_cond
 * with the increment of one step, gmax min(1, a dt). */
static const gx_pspec exp_spec[] = {
    {"tau", U_T, REQ},
    {"a", U_INVT, REQ},
    {"gmax", U_G, REQ},
    {REVERSE, U_V, 0, 0},
};
static const char *const exp_p[] = {"tau_syn", "E_rev"};

static int conv_exp(const gx_in *in, gx_out *o)
{
    if (!(in->v[0] > 0) || !(in->v[1] >= 0) || !(in->v[2] >= 0)) {
        snprintf(o->bad, sizeof o->bad, "tau must be > 0 and a and gmax >= 0");
        return -1;
    }
    o->model = "exp_cond";
    o->pn = exp_p;
    o->np = 2;
    o->pv[0] = in->v[0];
    o->pv[1] = in->v[3];
    double jump = in->v[1] * in->dt;
    o->weight = in->v[2] * (jump < 1 ? jump : 1);
    return 0;
}

#define SPEC(s) s, (int)(sizeof s / sizeof *s)

static const gx_class gx_classes[] = {
    {"LeakyIAF", NULL, 0, NULL, SPEC(leaky_spec), conv_leaky},
    {"LeakyIAFwithRefractoryPeriod", "LeakyIAFwithRefactoryPeriod", 0, NULL,
     SPEC(leakyref_spec), conv_leakyref},
    {"MorrisLecar", NULL, 0, NULL, SPEC(ml_spec), conv_ml},
    {"HodgkinHuxley", NULL, 0, NULL, SPEC(hh_spec), conv_hh},
    {"ConnorStevens", NULL, 0, NULL, SPEC(cs_spec), conv_cs},
    {"AlphaSynapse", NULL, 1, "alpha", SPEC(alpha_spec), conv_alpha},
    {"PowerGPotGPot", "power_gpot_gpot", 1, "gpot", SPEC(power_spec), conv_power},
    {"SigmoidSynapse", NULL, 1, "sigmoid", SPEC(sigmoid_spec), conv_sigmoid},
    {"ExpSynapse", "ExponentialSynapse", 1, "exp", SPEC(exp_spec), conv_exp},
    {"DummySynapse", NULL, 1, NULL, NULL, 0, NULL},
};
#define GX_NCLASSES ((int)(sizeof gx_classes / sizeof *gx_classes))
_Static_assert(GX_NCLASSES <= 16, "gx_group.nrx has a slot per class");

static int class_find(const char *name)
{
    for (int k = 0; k < GX_NCLASSES; k++)
        if (!strcmp(gx_classes[k].name, name) ||
            (gx_classes[k].alias && !strcmp(gx_classes[k].alias, name)))
            return k;
    return -1;
}

/* Attributes read by no class but harmless everywhere: names, labels, the
 * legacy flags that the model implies, the legacy edge class (0..3). */
static const char *const gx_ignored[] = {"name", "label", "circuit", "spiking", "extern",
                                         "input", "public", "id", "variable", "uid",
                                         "conductance", "port_type", "port_io", "selector",
                                         "model", "type", "class", NULL};

static int is_ignored(const char *title)
{
    for (int k = 0; gx_ignored[k]; k++)
        if (!strcmp(gx_ignored[k], title))
            return 1;
    return 0;
}

/* ---- the file as read ----------------------------------------------------------- */

enum { EC_NODE = 0, EC_EDGE = 1 };
enum { K_NEURON = 1, K_SYNAPSE, K_PORT, K_SKIP };

typedef struct gx_decl {
    char *id, *title, *deflt;
} gx_decl;

typedef struct gx_el {
    char *id;                /* node id; edge id or NULL */
    char *src, *dst;         /* edge: endpoint ids */
    int64_t isrc, idst;      /* edge: endpoint node indices */
    long line;
    char **val;              /* per declared attribute of its class, or NULL */
    unsigned char *isdef;    /* per declared attribute: the value is the <default> */
} gx_el;

typedef struct gx_node {
    int kind;                /* K_* */
    int cls;                 /* neuron, synapse: gx_classes index */
    int port_io;             /* 1 in, 2 out */
    const char *selector;
    int64_t in, out;         /* current-format synapse: its edges (-1 none, -2 several) */
    int64_t rec;             /* neuron: index in g->neu */
} gx_node;

typedef struct gx_neu {
    int group;
    int64_t index;           /* within the group (population) */
    double sv[GX_MAXS];
    unsigned char shas[GX_MAXS];
} gx_neu;

typedef struct gx_group {
    int cls;
    gx_out out;              /* the model and its parameters (states unused) */
    int64_t n;
    double *key;             /* owned: the map's key */
    size_t keylen;
    int nrx[16];             /* receptors made on it so far, per synapse class */
    int64_t first;           /* its neurons start here in g->member */
    char name[96];
} gx_group;

typedef struct gx_syn {
    int64_t pre, post;       /* node indices */
    int rx;                  /* receptor (g->rx) */
    double w, delay;         /* delay in ms; NAN: none given */
} gx_syn;

typedef struct gx_rx {
    int post;                /* group */
    int cls;
    gx_out out;              /* model and parameters (weight unused) */
    char name[48];
    double *key;
    size_t keylen;
} gx_rx;

typedef struct gx_proj {
    int pre, post, rx;
    int64_t n, cap;
    int64_t *lpre, *lpost;
    double *w, *d;
    int any_delay;
    int *key;                /* owned: the map's key (pre, post, rx) */
} gx_proj;

typedef struct gx {
    nk_ctx *ctx;
    nk_net *net;
    const char *path;
    gx_decl *decl[2];
    int64_t ndecl[2], capdecl[2];
    gx_el *el[2];
    int64_t nel[2], capel[2];
    gx_map ids;              /* node id -> node index */
    gx_map eids;             /* edge id -> edge index */
    int version;
    int defaultdir;          /* graph's default edge type is directed */
    gx_node *node;
    gx_units units[GX_NCLASSES];
    unsigned char *used[2];  /* scratch: which declared attributes one element's reading used */
    gx_neu *neu;
    int64_t nneu, capneu;
    gx_group *grp;
    int64_t ngrp, capgrp;
    gx_map grpmap;
    gx_syn *syn;
    int64_t nsyn, capsyn;
    gx_rx *rx;
    int64_t nrx, caprx;
    gx_map rxmap;
    gx_proj *proj;
    int64_t nproj, capproj;
    gx_map projmap;
    int64_t *member;         /* neuron records by group, in index order */
} gx;

/* Sets the context's message "FILE:LINE: ..." (or "FILE: ..." without a
 * line) and returns code. */
static int gx_failc(gx *g, int code, long line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int gx_failc(gx *g, int code, long line, const char *fmt, ...)
{
    char msg[NK_ERRLEN];
    va_list ap;
    va_start(ap, fmt);
    nk_vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (line > 0)
        return nk_fail(g->ctx, code, "%s:%ld: %s", g->path, line, msg);
    return nk_fail(g->ctx, code, "%s: %s", g->path, msg);
}

#define gx_fail(g, line, ...) gx_failc(g, NK_EINVAL, line, __VA_ARGS__)
#define gx_oom(g) gx_failc(g, NK_ENOMEM, 0, "out of memory")

/* XML attribute name of element n, or NULL; free with xmlFree. Every
 * string read from the file is libxml2's and freed so. */
static char *xprop(xmlNodePtr n, const char *name)
{
    return (char *)xmlGetProp(n, (const xmlChar *)name);
}

static int is_el(xmlNodePtr n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, name);
}

static long xline(xmlNodePtr n)
{
    return xmlGetLineNo(n);
}

static int64_t decl_index(const gx *g, int ec, const char *id)
{
    for (int64_t k = 0; k < g->ndecl[ec]; k++)
        if (!strcmp(g->decl[ec][k].id, id))
            return k;
    return -1;
}

static int64_t title_index(const gx *g, int ec, const char *title)
{
    for (int64_t k = 0; k < g->ndecl[ec]; k++)
        if (!strcmp(g->decl[ec][k].title, title))
            return k;
    return -1;
}

/* <attributes class="node|edge"><attribute id= title= [type=]><default>x</default> */
static int read_attributes(gx *g, xmlNodePtr a)
{
    char *cls = xprop(a, "class");
    int ec = !cls ? -1 : !strcmp(cls, "node") ? EC_NODE : !strcmp(cls, "edge") ? EC_EDGE : -2;
    xmlFree(cls);
    if (ec == -1)
        return gx_fail(g, xline(a), "<attributes> without class=\"node\" or class=\"edge\"");
    if (ec == -2)
        return 0; /* graph attributes: not used */
    for (xmlNodePtr c = a->children; c; c = c->next) {
        if (!is_el(c, "attribute"))
            continue;
        gx_decl d = {xprop(c, "id"), xprop(c, "title"), NULL};
        if (!d.id || !d.title) {
            xmlFree(d.id);
            xmlFree(d.title);
            return gx_fail(g, xline(c), "<attribute> needs both 'id' and 'title'");
        }
        if (decl_index(g, ec, d.id) >= 0 || title_index(g, ec, d.title) >= 0) {
            int rc = gx_fail(g, xline(c), "%s attribute %s '%s' is declared twice",
                             ec ? "edge" : "node", decl_index(g, ec, d.id) >= 0 ? "id" : "title",
                             decl_index(g, ec, d.id) >= 0 ? d.id : d.title);
            xmlFree(d.id);
            xmlFree(d.title);
            return rc;
        }
        for (xmlNodePtr x = c->children; x; x = x->next) {
            if (is_el(x, "default") && !d.deflt) {
                d.deflt = (char *)xmlNodeGetContent(x);
                if (!d.deflt)
                    d.deflt = (char *)xmlStrdup((const xmlChar *)"");
                if (!d.deflt) {
                    xmlFree(d.id);
                    xmlFree(d.title);
                    return gx_oom(g);
                }
            }
        }
        if (nk_room((void **)&g->decl[ec], &g->capdecl[ec], g->ndecl[ec], sizeof(gx_decl))) {
            xmlFree(d.id);
            xmlFree(d.title);
            xmlFree(d.deflt);
            return gx_oom(g);
        }
        g->decl[ec][g->ndecl[ec]++] = d;
    }
    return 0;
}

static const char *el_name(const gx_el *e, int ec, char *buf, size_t n);

/* The <attvalues> of element x into e->val, then the declared defaults. */
static int read_attvalues(gx *g, int ec, xmlNodePtr x, gx_el *e)
{
    char what[256];
    e->val = nk_xcalloc((size_t)(g->ndecl[ec] ? g->ndecl[ec] : 1), sizeof(char *));
    e->isdef = nk_xcalloc((size_t)(g->ndecl[ec] ? g->ndecl[ec] : 1), 1);
    if (!e->val || !e->isdef)
        return gx_oom(g);
    for (xmlNodePtr c = x->children; c; c = c->next) {
        if (is_el(c, "nodes") || is_el(c, "node"))
            return gx_fail(g, xline(c), "%s: nodes inside a node (a hierarchical graph) are "
                           "not supported", el_name(e, ec, what, sizeof what));
        if (!is_el(c, "attvalues"))
            continue;
        for (xmlNodePtr v = c->children; v; v = v->next) {
            if (!is_el(v, "attvalue"))
                continue;
            char *f = xprop(v, "for");
            if (!f)
                f = xprop(v, "id");
            if (!f)
                return gx_fail(g, xline(v), "%s: <attvalue> without 'for'",
                               el_name(e, ec, what, sizeof what));
            int64_t k = decl_index(g, ec, f);
            if (k < 0) {
                int rc = gx_fail(g, xline(v),
                                 "%s: <attvalue for=\"%s\">: no attribute with id '%s' is declared "
                                 "in <attributes class=\"%s\">",
                                 el_name(e, ec, what, sizeof what), f, f, ec ? "edge" : "node");
                xmlFree(f);
                return rc;
            }
            xmlFree(f);
            char *val = xprop(v, "value");
            if (!val)
                return gx_fail(g, xline(v), "%s: <attvalue> for '%s' has no 'value'",
                               el_name(e, ec, what, sizeof what), g->decl[ec][k].title);
            if (e->val[k]) {
                xmlFree(val);
                return gx_fail(g, xline(v), "%s: attribute '%s' is given twice",
                               el_name(e, ec, what, sizeof what), g->decl[ec][k].title);
            }
            e->val[k] = val;
        }
    }
    for (int64_t k = 0; k < g->ndecl[ec]; k++) {
        if (e->val[k] || !g->decl[ec][k].deflt)
            continue;
        if (!(e->val[k] = (char *)xmlStrdup((const xmlChar *)g->decl[ec][k].deflt)))
            return gx_oom(g);
        e->isdef[k] = 1;
    }
    return 0;
}

static int read_nodes(gx *g, xmlNodePtr ns)
{
    for (xmlNodePtr c = ns->children; c; c = c->next) {
        if (!is_el(c, "node"))
            continue;
        if (nk_room((void **)&g->el[EC_NODE], &g->capel[EC_NODE], g->nel[EC_NODE], sizeof(gx_el)))
            return gx_oom(g);
        gx_el *e = &g->el[EC_NODE][g->nel[EC_NODE]++];
        memset(e, 0, sizeof *e);
        e->line = xline(c);
        e->id = xprop(c, "id");
        if (!e->id)
            return gx_fail(g, e->line, "<node> without an 'id'");
        int rc = read_attvalues(g, EC_NODE, c, e);
        if (rc)
            return rc;
    }
    return 0;
}

static int read_edges(gx *g, xmlNodePtr es)
{
    for (xmlNodePtr c = es->children; c; c = c->next) {
        if (!is_el(c, "edge"))
            continue;
        if (nk_room((void **)&g->el[EC_EDGE], &g->capel[EC_EDGE], g->nel[EC_EDGE], sizeof(gx_el)))
            return gx_oom(g);
        gx_el *e = &g->el[EC_EDGE][g->nel[EC_EDGE]++];
        memset(e, 0, sizeof *e);
        e->line = xline(c);
        e->id = xprop(c, "id");
        e->src = xprop(c, "source");
        e->dst = xprop(c, "target");
        if (!e->src || !e->dst)
            return gx_fail(g, e->line, "<edge%s%s%s> needs both 'source' and 'target'",
                           e->id ? " id=\"" : "", e->id ? e->id : "", e->id ? "\"" : "");
        char *type = xprop(c, "type");
        int undirected = type ? strcmp(type, "directed") != 0 : !g->defaultdir;
        xmlFree(type);
        if (undirected)
            return gx_fail(g, e->line,
                           "edge %s -> %s is not directed (Neurokernel's graphs are directed)",
                           e->src, e->dst);
        int rc = read_attvalues(g, EC_EDGE, c, e);
        if (rc)
            return rc;
    }
    return 0;
}

/* libxml2 2.12 made the structured error const. */
#if LIBXML_VERSION >= 21200
#define GX_XMLERR const xmlError *
#else
#define GX_XMLERR xmlErrorPtr
#endif

/* Swallows libxml2's messages instead of letting it print them. */
static void gx_xml_silent(void *ud, GX_XMLERR e)
{
    (void)ud;
    (void)e;
}

static void gx_xml_silent_generic(void *ud, const char *fmt, ...)
{
    (void)ud;
    (void)fmt;
}

/* libxml2 holds the whole document as a tree, which takes about this many
 * bytes per byte of XML: 34 MB of GEXF (2,000 neurons, 100,000 synapses)
 * peaked at 563 MB in `xmllint --noout` and 705 MB in load_gexf, 136 MB at
 * 2.7 GB. The lower figure: a file is refused only when it surely does not
 * fit. */
#define GX_TREE_BYTES 16

/* The bytes a gzip file expands to, counted up to a little past stop (a
 * small file can expand a thousandfold); -1 when it cannot be read or the
 * stream is damaged or cut short. */
static int64_t gz_size(const char *path, int64_t stop)
{
    gzFile z = gzopen(path, "rb");
    if (!z)
        return -1;
    char *buf = malloc(1 << 16);
    int64_t n = 0;
    int r = 0;
    while (buf && n <= stop && (r = gzread(z, buf, 1 << 16)) > 0)
        n += r;
    int zerr = Z_OK;
    gzerror(z, &zerr); /* a stream cut short ends without an error from gzread */
    free(buf);
    gzclose(z);
    return buf && r >= 0 && zerr == Z_OK ? n : -1;
}

/* Reads and indexes the file. */
static int gx_read(gx *g)
{
    struct stat st;
    if (stat(g->path, &st) != 0)
        return gx_failc(g, NK_EIO, 0, "cannot open: %s", strerror(errno));
    if (S_ISDIR(st.st_mode))
        return gx_failc(g, NK_EIO, 0, "is a directory, expected a GEXF file");
    if (!S_ISREG(st.st_mode)) /* reading a FIFO would wait for a writer */
        return gx_failc(g, NK_EIO, 0, "is not a regular file (a FIFO, a device or a socket), "
                                     "expected a GEXF file");
    FILE *f = fopen(g->path, "rb");
    if (!f)
        return gx_failc(g, NK_EIO, 0, "cannot open: %s", strerror(errno));
    unsigned char magic[2] = {0, 0};
    int gz = fread(magic, 1, 2, f) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    fclose(f);
    /* Refuse a document whose tree cannot fit before parsing it: the kernel
     * would kill the session, with whatever the user had in it. */
    int64_t avail = nk_mem_available();
    if (avail >= 0) {
        int64_t most = avail / GX_TREE_BYTES;
        int64_t xml = gz ? gz_size(g->path, most) : (int64_t)st.st_size;
        if (xml > most) {
            char a[32], b[32], c[32];
            nk_fmt_bytes((double)xml, a, sizeof a);
            nk_fmt_bytes((double)avail, c, sizeof c);
            if (gz) {
                nk_fmt_bytes((double)st.st_size, b, sizeof b);
                return gx_failc(g, NK_ENOMEM, 0,
                                "expands to more than %s of XML (from %s of gzip); reading it "
                                "takes about %d bytes of memory per byte of XML, more than the "
                                "%s available",
                                a, b, GX_TREE_BYTES, c);
            }
            nk_fmt_bytes((double)xml * GX_TREE_BYTES, b, sizeof b);
            return gx_failc(g, NK_ENOMEM, 0,
                            "holds %s of XML; reading it takes about %s of memory (%d bytes "
                            "per byte of XML), more than the %s available",
                            a, b, GX_TREE_BYTES, c);
        }
    }

    xmlInitParser();
    xmlStructuredErrorFunc old_s = xmlStructuredError;
    void *old_sctx = xmlStructuredErrorContext;
    xmlGenericErrorFunc old_g = xmlGenericError;
    void *old_gctx = xmlGenericErrorContext;
    xmlSetStructuredErrorFunc(NULL, gx_xml_silent);
    xmlSetGenericErrorFunc(NULL, gx_xml_silent_generic);
    xmlParserCtxtPtr pc = xmlNewParserCtxt();
    xmlDocPtr doc = NULL;
    int rc = 0;
    if (!pc) {
        rc = gx_oom(g);
    } else {
        /* No network, no entity substitution, no DTD loading; big line
         * numbers. libxml2 reads "-" as stdin: name that file ./- */
        doc = xmlCtxtReadFile(pc, strcmp(g->path, "-") ? g->path : "./-", NULL,
                              XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                                  XML_PARSE_BIG_LINES);
        if (!doc) {
            const xmlError *e = xmlCtxtGetLastError(pc);
            char msg[512] = "not a readable XML file";
            long line = 0;
            if (e && e->message) {
                snprintf(msg, sizeof msg, "%s", e->message);
                size_t l = strlen(msg);
                while (l && (msg[l - 1] == '\n' || msg[l - 1] == ' '))
                    msg[--l] = 0;
                line = e->line;
            }
            /* a damaged or cut gzip stream reads as XML ending early: say
             * so when it is that */
            rc = gx_fail(g, line, "malformed XML: %s%s", msg,
                         gz && gz_size(g->path, INT64_MAX) < 0
                             ? " (the gzip stream is damaged or cut short)"
                             : "");
        }
        xmlFreeParserCtxt(pc);
    }
    xmlSetStructuredErrorFunc(old_sctx, old_s);
    xmlSetGenericErrorFunc(old_gctx, old_g);
    if (rc)
        return rc;

    xmlNodePtr root = xmlDocGetRootElement(doc);
    xmlNodePtr graph = NULL;
    if (!root || !is_el(root, "gexf")) {
        rc = gx_fail(g, root ? xline(root) : 0,
                     "not a GEXF file: the root element is <%s>, expected <gexf>",
                     root ? (const char *)root->name : "(none)");
        goto done;
    }
    for (xmlNodePtr c = root->children; c && !graph; c = c->next)
        if (is_el(c, "graph"))
            graph = c;
    if (!graph) {
        rc = gx_fail(g, xline(root), "<gexf> has no <graph>");
        goto done;
    }
    char *det = xprop(graph, "defaultedgetype");
    g->defaultdir = !det || !strcmp(det, "directed");
    xmlFree(det);
    /* Declarations first (they may follow the nodes in the file). */
    for (xmlNodePtr c = graph->children; c && !rc; c = c->next)
        if (is_el(c, "attributes"))
            rc = read_attributes(g, c);
    for (xmlNodePtr c = graph->children; c && !rc; c = c->next)
        if (is_el(c, "nodes"))
            rc = read_nodes(g, c);
    for (xmlNodePtr c = graph->children; c && !rc; c = c->next)
        if (is_el(c, "edges"))
            rc = read_edges(g, c);
done:
    xmlFreeDoc(doc);
    return rc;
}

/* ---- reading values ------------------------------------------------------------ */

static void reset_used(gx *g, int ec)
{
    memset(g->used[ec], 0, (size_t)g->ndecl[ec] + 1);
}

/* The value of attribute title on element e (marked as read), or NULL. */
static const char *get(gx *g, int ec, const gx_el *e, const char *title)
{
    int64_t k = title_index(g, ec, title);
    if (k < 0 || !e->val[k])
        return NULL;
    g->used[ec][k] = 1;
    return e->val[k];
}

static const char *el_name(const gx_el *e, int ec, char *buf, size_t n)
{
    if (ec == EC_NODE)
        snprintf(buf, n, "node '%.200s'", e->id);
    else
        snprintf(buf, n, "edge '%.100s' -> '%.100s'", e->src, e->dst);
    return buf;
}

/* Parses a number (all of s, finite). 0, or the failure. */
static int parse_num(gx *g, int ec, const gx_el *e, const char *title, const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    while (end != s && (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r'))
        end++;
    if (end == s || *end || !isfinite(v)) {
        char b[256];
        return gx_fail(g, e->line, "%s: '%s' = \"%.60s\" is not a finite number",
                       el_name(e, ec, b, sizeof b), title, s);
    }
    *out = v;
    return 0;
}

/* A boolean attribute: 1, 0, or -1 when absent; -2 after failing. */
static int get_bool(gx *g, int ec, const gx_el *e, const char *title)
{
    const char *s = get(g, ec, e, title);
    if (!s)
        return -1;
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "1") || !strcmp(s, "1.0"))
        return 1;
    if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "0") || !strcmp(s, "0.0"))
        return 0;
    char b[256];
    gx_fail(g, e->line, "%s: '%s' = \"%.60s\" is not a boolean (expected true or false)",
            el_name(e, ec, b, sizeof b), title, s);
    return -2;
}

/* The first of the '|'-separated names given on e: its title in buf and
 * its value, or NULL. Two given is an error (*fail set). */
static const char *get_alt(gx *g, int ec, const gx_el *e, const char *names, char *buf,
                           size_t n, int *fail)
{
    const char *found = NULL;
    char first[64] = "";
    for (const char *p = names; *p;) {
        const char *bar = strchr(p, '|');
        size_t l = bar ? (size_t)(bar - p) : strlen(p);
        char t[64];
        if (l >= sizeof t)
            l = sizeof t - 1;
        memcpy(t, p, l);
        t[l] = 0;
        const char *v = get(g, ec, e, t);
        if (v && found) {
            char b[256];
            *fail = gx_fail(g, e->line, "%s gives both '%s' and '%s' (the same parameter)",
                            el_name(e, ec, b, sizeof b), first, t);
            return NULL;
        }
        if (v) {
            found = v;
            memcpy(first, t, l + 1);
        }
        p += l + (bar ? 1 : 0);
    }
    if (found && n > 0) {
        size_t l = strlen(first) < n ? strlen(first) : n - 1;
        memcpy(buf, first, l);
        buf[l] = 0;
    }
    return found;
}

static double unit_factor(int unit, const gx_units *u)
{
    switch (unit) {
    case U_V:
    case U_I:
        return u->vf;
    case U_T:
    case U_C:
        return u->tf;
    case U_INVT:
        return 1 / u->tf;
    case U_RATE:
        return u->rf;
    default:
        return 1;
    }
}

/* Converts element e of class cls into out. ec: where its parameters are;
 * extra: an edge whose attributes may add a reversal potential (current
 * format), or NULL. The attributes no class reads and that are not harmless
 * are refused. */
static int convert_el(gx *g, int ec, const gx_el *e, int cls, const gx_el *extra, gx_out *out)
{
    const gx_class *c = &gx_classes[cls];
    double v[GX_MAXSPEC];
    unsigned char has[GX_MAXSPEC];
    char b[256];
    int fail = 0;
    memset(out, 0, sizeof *out);
    for (int k = 0; k < c->nspec; k++) {
        char title[64];
        const char *s = get_alt(g, ec, e, c->spec[k].names, title, sizeof title, &fail);
        if (fail)
            return fail;
        if (!s && extra && !strcmp(c->spec[k].names, REVERSE)) {
            /* an edge may carry the reversal potential instead */
            s = get_alt(g, EC_EDGE, extra, REVERSE, title, sizeof title, &fail);
            if (fail)
                return fail;
        }
        if (s) {
            int rc = parse_num(g, ec, e, title, s, &v[k]);
            if (rc)
                return rc;
            v[k] *= unit_factor(c->spec[k].unit, &g->units[cls]);
            has[k] = 1;
        } else if (c->spec[k].opt || !isnan(c->spec[k].dflt)) {
            v[k] = c->spec[k].dflt;
            has[k] = !c->spec[k].opt;
        } else {
            char alts[128];
            snprintf(alts, sizeof alts, "%s", c->spec[k].names);
            for (char *p = alts; *p; p++)
                if (*p == '|')
                    *p = '/';
            return gx_fail(g, e->line, "%s (%s) lacks parameter '%s'", el_name(e, ec, b, sizeof b),
                           c->name, alts);
        }
    }
    for (int64_t k = 0; k < g->ndecl[ec]; k++) {
        if (!e->val[k] || e->isdef[k] || g->used[ec][k] || is_ignored(g->decl[ec][k].title))
            continue;
        return gx_fail(g, e->line,
                       "%s (%s): parameter '%s' has no counterpart in nkshell's model of %s "
                       "(see docs/gexf.md)",
                       el_name(e, ec, b, sizeof b), c->name, g->decl[ec][k].title, c->name);
    }
    gx_in in = {v, has, g->units[cls], g->version, nk_net_dt(g->net)};
    if (c->convert(&in, out))
        return gx_fail(g, e->line, "%s (%s): %s", el_name(e, ec, b, sizeof b), c->name, out->bad);
    /* Check against the nkshell model now, so that building cannot fail on it. */
    const nk_model *m = nk_model_find(g->ctx, out->model);
    if (!m)
        return gx_fail(g, e->line, "%s (%s): nkshell has no model '%s'", el_name(e, ec, b, sizeof b),
                       c->name, out->model);
    for (int k = 0; k < out->np; k++) {
        int idx = nk_model_param_index(m, out->pn[k]);
        char err[512];
        if (idx < 0)
            return gx_fail(g, e->line, "%s (%s): model '%s' has no parameter '%s' (was it redefined?)",
                           el_name(e, ec, b, sizeof b), c->name, out->model, out->pn[k]);
        if (!isfinite(out->pv[k]))
            return gx_fail(g, e->line, "%s (%s): parameter '%s' of '%s' comes out as %g",
                           el_name(e, ec, b, sizeof b), c->name, out->pn[k], out->model, out->pv[k]);
        if (nk_model_check_param(m, idx, out->pv[k], err, sizeof err))
            return gx_fail(g, e->line, "%s (%s): %s", el_name(e, ec, b, sizeof b), c->name, err);
    }
    for (int k = 0; k < out->ns; k++)
        if (out->shas[k] && !isfinite(out->sv[k]))
            return gx_fail(g, e->line, "%s (%s): initial '%s' is not finite",
                           el_name(e, ec, b, sizeof b), c->name, out->sn[k]);
    char wb[32];
    if (c->synapse && (!isfinite(out->weight) || fabs(out->weight) > 1e6))
        return gx_fail(g, e->line, "%s (%s): its weight comes out as %s, outside |w| <= 1e6",
                       el_name(e, ec, b, sizeof b), c->name,
                       nk_fmt_num(out->weight, wb, sizeof wb));
    return 0;
}

/* ---- what each node is --------------------------------------------------------- */

/* The class-giving attribute of an element, or NULL. */
static const char *class_of(gx *g, int ec, const gx_el *e)
{
    if (g->version == 2)
        return ec == EC_NODE ? get(g, ec, e, "class") : NULL;
    const char *s = get(g, ec, e, "model");
    if (!s)
        s = get(g, ec, e, "type");
    if (!s && ec == EC_EDGE) {
        /* a legacy edge's 'class' is an integer (0..3); a name may stand in */
        const char *c = get(g, ec, e, "class");
        char *end;
        if (c && *c && (strtod(c, &end), *end != 0))
            s = c;
    }
    return s;
}

static void class_list(char *buf, size_t n, int synapse)
{
    buf[0] = 0;
    for (int k = 0; k < GX_NCLASSES; k++) {
        if (gx_classes[k].synapse != synapse)
            continue;
        size_t l = strlen(buf);
        snprintf(buf + l, n - l, "%s%s", l ? ", " : "", gx_classes[k].name);
    }
}

static int classify(gx *g)
{
    /* The dialect: 'class' on nodes is the current format; 'model' or
     * 'type' the legacy one. */
    if (title_index(g, EC_NODE, "class") >= 0)
        g->version = 2;
    else if (title_index(g, EC_NODE, "model") >= 0 || title_index(g, EC_NODE, "type") >= 0)
        g->version = 1;
    else if (g->nel[EC_NODE] > 0)
        return gx_fail(g, 0,
                       "no node attribute 'class' (Neurokernel's current format) or 'model' "
                       "(legacy v0.1) is declared: not a Neurokernel LPU");
    else
        g->version = 2;
    int64_t nn = g->nel[EC_NODE];
    g->node = nk_xcalloc((size_t)(nn ? nn : 1), sizeof *g->node);
    if (!g->node)
        return gx_oom(g);
    for (int64_t i = 0; i < nn; i++) {
        gx_el *e = &g->el[EC_NODE][i];
        gx_node *d = &g->node[i];
        d->in = d->out = -1;
        d->cls = -1;
        if (map_get(&g->ids, e->id, strlen(e->id)) >= 0)
            return gx_fail(g, e->line, "node id '%s' is used twice", e->id);
        if (map_put(&g->ids, e->id, strlen(e->id), i))
            return gx_oom(g);
        const char *cls = class_of(g, EC_NODE, e);
        if (!cls || !*cls)
            return gx_fail(g, e->line, "node '%s' has no '%s'", e->id,
                           g->version == 2 ? "class" : "model");
        d->selector = get(g, EC_NODE, e, "selector");
        if (g->version == 2 && !strcmp(cls, "Port")) {
            const char *io = get(g, EC_NODE, e, "port_io");
            const char *pt = get(g, EC_NODE, e, "port_type");
            if (!io || (strcmp(io, "in") && strcmp(io, "out")))
                return gx_fail(g, e->line, "port '%s': 'port_io' must be \"in\" or \"out\", got %s%s%s",
                               e->id, io ? "\"" : "", io ? io : "none", io ? "\"" : "");
            if (pt && strcmp(pt, "spike") && strcmp(pt, "gpot"))
                return gx_fail(g, e->line,
                               "port '%s': 'port_type' must be \"spike\" or \"gpot\", got \"%s\"",
                               e->id, pt);
            d->kind = K_PORT;
            d->port_io = !strcmp(io, "in") ? 1 : 2;
        } else if (g->version == 1 && !strncmp(cls, "port_", 5)) {
            if (strcmp(cls, "port_in_spk") && strcmp(cls, "port_in_gpot") &&
                strcmp(cls, "port_out_spk") && strcmp(cls, "port_out_gpot"))
                return gx_fail(g, e->line,
                               "node '%s': unknown model '%s' (ports are port_in_spk, port_in_gpot, "
                               "port_out_spk or port_out_gpot)",
                               e->id, cls);
            d->kind = K_PORT;
            d->port_io = !strncmp(cls, "port_in", 7) ? 1 : 2;
        } else {
            int k = class_find(cls);
            if (k < 0 || (g->version == 1 && gx_classes[k].synapse)) {
                if (k >= 0)
                    return gx_fail(g, e->line,
                                   "node '%s' is a synapse (%s), but in the legacy format (nodes "
                                   "with 'model') synapses are edges",
                                   e->id, cls);
                char list[512], slist[512];
                class_list(list, sizeof list, 0);
                class_list(slist, sizeof slist, 1);
                return gx_fail(g, e->line,
                               "node '%s' has unknown %s '%s' (expected Port, a neuron: %s; or a "
                               "synapse: %s)",
                               e->id, g->version == 2 ? "class" : "model", cls, list, slist);
            }
            d->cls = k;
            d->kind = gx_classes[k].synapse ? (gx_classes[k].convert ? K_SYNAPSE : K_SKIP) : K_NEURON;
        }
        if (d->kind == K_PORT && (!d->selector || !*d->selector))
            return gx_fail(g, e->line, "port '%s' has no 'selector'", e->id);
        if (g->version == 1 && d->kind == K_NEURON) {
            int pub = get_bool(g, EC_NODE, e, "public");
            if (pub == -2)
                return NK_EINVAL;
            if (pub == 1) {
                if (!d->selector || !*d->selector)
                    return gx_fail(g, e->line, "node '%s' is public but has no 'selector'", e->id);
                d->port_io = 2;
            }
        }
    }
    /* Edge endpoints and ids. */
    for (int64_t j = 0; j < g->nel[EC_EDGE]; j++) {
        gx_el *e = &g->el[EC_EDGE][j];
        e->isrc = map_get(&g->ids, e->src, strlen(e->src));
        e->idst = map_get(&g->ids, e->dst, strlen(e->dst));
        if (e->isrc < 0 || e->idst < 0)
            return gx_fail(g, e->line, "edge '%s' -> '%s': there is no node '%s'", e->src, e->dst,
                           e->isrc < 0 ? e->src : e->dst);
        if (e->id) {
            if (map_get(&g->eids, e->id, strlen(e->id)) >= 0)
                return gx_fail(g, e->line, "edge id '%s' is used twice", e->id);
            if (map_put(&g->eids, e->id, strlen(e->id), j))
                return gx_oom(g);
        }
    }
    return 0;
}

/* ---- units ------------------------------------------------------------------------ */

/* Decides each class's units from the magnitudes of its values (see the
 * header). */
static int detect_units(gx *g)
{
    double vmax[GX_NCLASSES] = {0}, rmax[GX_NCLASSES] = {0};
    for (int ec = 0; ec < 2; ec++) {
        for (int64_t i = 0; i < g->nel[ec]; i++) {
            gx_el *e = &g->el[ec][i];
            int cls;
            if (ec == EC_NODE) {
                cls = g->node[i].cls;
            } else {
                if (g->version != 1)
                    continue;
                const char *s = class_of(g, ec, e);
                cls = s ? class_find(s) : -1;
            }
            if (cls < 0 || !gx_classes[cls].spec)
                continue;
            const gx_class *c = &gx_classes[cls];
            for (int k = 0; k < c->nspec; k++) {
                if (c->spec[k].unit != U_V && c->spec[k].unit != U_RATE)
                    continue;
                char title[64];
                int fail = 0;
                const char *s = get_alt(g, ec, e, c->spec[k].names, title, sizeof title, &fail);
                if (fail)
                    return fail;
                double x;
                if (!s)
                    continue;
                if (parse_num(g, ec, e, title, s, &x))
                    return NK_EINVAL;
                double *m = c->spec[k].unit == U_V ? &vmax[cls] : &rmax[cls];
                if (fabs(x) > *m)
                    *m = fabs(x);
            }
        }
    }
    for (int k = 0; k < GX_NCLASSES; k++) {
        int volts = vmax[k] > 0 && vmax[k] < 1;
        g->units[k].vf = volts ? 1000 : 1;
        g->units[k].tf = volts ? 1000 : 1;
        g->units[k].rf = rmax[k] > 10 ? 1e-3 : 1;
    }
    return 0;
}

/* ---- neurons ------------------------------------------------------------------- */

static int neurons(gx *g)
{
    for (int64_t i = 0; i < g->nel[EC_NODE]; i++) {
        gx_node *d = &g->node[i];
        if (d->kind != K_NEURON)
            continue;
        gx_el *e = &g->el[EC_NODE][i];
        reset_used(g, EC_NODE);
        (void)class_of(g, EC_NODE, e);
        (void)get(g, EC_NODE, e, "selector");
        gx_out o;
        int rc = convert_el(g, EC_NODE, e, d->cls, NULL, &o);
        if (rc)
            return rc;
        /* the group: class and parameter values */
        double key[GX_MAXP + 1];
        key[0] = d->cls;
        for (int k = 0; k < o.np; k++)
            key[1 + k] = o.pv[k] == 0 ? 0.0 : o.pv[k]; /* -0 and 0 are one value */
        size_t keylen = (size_t)(o.np + 1) * sizeof(double);
        int64_t grp = map_get(&g->grpmap, key, keylen);
        if (grp < 0) {
            if (nk_room((void **)&g->grp, &g->capgrp, g->ngrp, sizeof *g->grp))
                return gx_oom(g);
            gx_group *p = &g->grp[g->ngrp];
            memset(p, 0, sizeof *p);
            p->cls = d->cls;
            p->out = o;
            p->key = malloc(keylen);
            if (!p->key)
                return gx_oom(g);
            memcpy(p->key, key, keylen);
            p->keylen = keylen;
            grp = g->ngrp++;
            if (map_put(&g->grpmap, p->key, keylen, grp))
                return gx_oom(g);
        }
        if (nk_room((void **)&g->neu, &g->capneu, g->nneu, sizeof *g->neu))
            return gx_oom(g);
        gx_neu *n = &g->neu[g->nneu];
        n->group = (int)grp;
        n->index = g->grp[grp].n++;
        memcpy(n->sv, o.sv, sizeof n->sv);
        memcpy(n->shas, o.shas, sizeof n->shas);
        d->rec = g->nneu++;
    }
    return 0;
}

/* ---- synapses ------------------------------------------------------------------- */

/* Adds synapse pre -> post of class cls with parameters from e (ec) and
 * delay in ms (NAN: none). */
static int add_synapse(gx *g, int ec, const gx_el *e, int cls, const gx_el *extra, int64_t pre,
                       int64_t post, double delay)
{
    gx_out o;
    int rc = convert_el(g, ec, e, cls, extra, &o);
    if (rc)
        return rc;
    if (!isnan(delay) && (!(delay >= 0) || delay / nk_net_dt(g->net) > 65535)) {
        char b[256], db[32];
        return gx_fail(g, e->line,
                       "%s: delay %s ms is negative or too long (at most %g ms at dt = %g ms)",
                       el_name(e, ec, b, sizeof b), nk_fmt_num(delay, db, sizeof db),
                       65535 * nk_net_dt(g->net), nk_net_dt(g->net));
    }
    int post_grp = g->neu[g->node[post].rec].group;
    /* the receptor: target population, synapse model and parameter values */
    double key[GX_MAXP + 3];
    key[0] = post_grp;
    key[1] = cls;
    key[2] = 0;
    const nk_model *m = nk_model_find(g->ctx, o.model);
    _Static_assert(sizeof m <= sizeof(double), "a pointer fits in a double's bytes");
    memcpy(&key[2], &m, sizeof m);
    for (int k = 0; k < o.np; k++)
        key[3 + k] = o.pv[k] == 0 ? 0.0 : o.pv[k]; /* -0 and 0 are one value */
    size_t keylen = (size_t)(o.np + 3) * sizeof(double);
    int64_t rx = map_get(&g->rxmap, key, keylen);
    if (rx < 0) {
        if (nk_room((void **)&g->rx, &g->caprx, g->nrx, sizeof *g->rx))
            return gx_oom(g);
        gx_rx *x = &g->rx[g->nrx];
        memset(x, 0, sizeof *x);
        x->post = post_grp;
        x->cls = cls;
        x->out = o;
        snprintf(x->name, sizeof x->name, "%s_%d", gx_classes[cls].prefix,
                 ++g->grp[post_grp].nrx[cls]);
        x->key = malloc(keylen);
        if (!x->key)
            return gx_oom(g);
        memcpy(x->key, key, keylen);
        x->keylen = keylen;
        rx = g->nrx++;
        if (map_put(&g->rxmap, x->key, keylen, rx))
            return gx_oom(g);
    }
    if (nk_room((void **)&g->syn, &g->capsyn, g->nsyn, sizeof *g->syn))
        return gx_oom(g);
    g->syn[g->nsyn++] = (gx_syn){pre, post, (int)rx, o.weight, delay};
    return 0;
}

/* The delay attribute of edge e, in ms (NAN when absent). */
static int edge_delay(gx *g, const gx_el *e, double *ms)
{
    *ms = NAN;
    const char *s = get(g, EC_EDGE, e, "delay");
    if (!s)
        return 0;
    int rc = parse_num(g, EC_EDGE, e, "delay", s, ms);
    /* legacy: ms (power_gpot_gpot); current: seconds (LPU: delay/dt) */
    if (!rc && g->version == 2)
        *ms *= 1000;
    return rc;
}

/* Refuses a synapse that says it is not a conductance. */
static int check_conductance(gx *g, int ec, const gx_el *e, const char *cls)
{
    int c = get_bool(g, ec, e, "conductance");
    if (c == -2)
        return NK_EINVAL;
    char b[256];
    if (c == 0)
        return gx_fail(g, e->line,
                       "%s (%s): conductance = false (a current synapse) has no nkshell "
                       "counterpart",
                       el_name(e, ec, b, sizeof b), cls);
    return 0;
}

static int endpoint_kind(const gx *g, int64_t i)
{
    return g->node[i].kind;
}

/* Legacy: synapses are the edges. */
static int synapses_v1(gx *g)
{
    for (int64_t j = 0; j < g->nel[EC_EDGE]; j++) {
        gx_el *e = &g->el[EC_EDGE][j];
        reset_used(g, EC_EDGE);
        const char *cname = class_of(g, EC_EDGE, e);
        char b[256];
        if (!cname || !*cname)
            return gx_fail(g, e->line, "%s has no 'model' (in the legacy format every edge is a synapse)",
                           el_name(e, EC_EDGE, b, sizeof b));
        int cls = class_find(cname);
        if (cls < 0 || !gx_classes[cls].synapse) {
            char list[512];
            class_list(list, sizeof list, 1);
            return gx_fail(g, e->line, "%s has unknown synapse model '%s' (expected one of: %s)",
                           el_name(e, EC_EDGE, b, sizeof b), cname, list);
        }
        int ks = endpoint_kind(g, e->isrc), kt = endpoint_kind(g, e->idst);
        if (kt != K_NEURON)
            return gx_fail(g, e->line, "%s: a synapse must end on a neuron, '%s' is a port",
                           el_name(e, EC_EDGE, b, sizeof b), e->dst);
        if (!gx_classes[cls].convert)
            continue; /* DummySynapse */
        int rc = check_conductance(g, EC_EDGE, e, cname);
        if (rc)
            return rc;
        double delay;
        if ((rc = edge_delay(g, e, &delay)))
            return rc;
        if (ks == K_PORT) {
            /* input from another LPU: no presynaptic neuron here; still
             * checked */
            gx_out o;
            if ((rc = convert_el(g, EC_EDGE, e, cls, NULL, &o)))
                return rc;
            continue;
        }
        if ((rc = add_synapse(g, EC_EDGE, e, cls, NULL, e->isrc, e->idst, delay)))
            return rc;
    }
    return 0;
}

/* Current format: synapse nodes between two edges. */
static int synapses_v2(gx *g)
{
    char b[256];
    for (int64_t j = 0; j < g->nel[EC_EDGE]; j++) {
        gx_el *e = &g->el[EC_EDGE][j];
        gx_node *s = &g->node[e->isrc], *t = &g->node[e->idst];
        int ks = s->kind, kt = t->kind;
        if (kt == K_SYNAPSE || kt == K_SKIP) {
            if (ks == K_SYNAPSE || ks == K_SKIP)
                return gx_fail(g, e->line, "%s joins two synapses", el_name(e, EC_EDGE, b, sizeof b));
            if (ks == K_PORT && s->port_io == 2)
                return gx_fail(g, e->line, "%s starts at an output port",
                               el_name(e, EC_EDGE, b, sizeof b));
            t->in = t->in == -1 ? j : -2;
        } else if (ks == K_SYNAPSE || ks == K_SKIP) {
            if (kt != K_NEURON)
                return gx_fail(g, e->line, "%s: a synapse must end on a neuron, '%s' is a port",
                               el_name(e, EC_EDGE, b, sizeof b), e->dst);
            s->out = s->out == -1 ? j : -2;
        } else if (ks == K_NEURON && kt == K_PORT) {
            if (t->port_io != 2)
                return gx_fail(g, e->line, "%s: a neuron may only feed an output port",
                               el_name(e, EC_EDGE, b, sizeof b));
            s->port_io = 2;
            if (!s->selector)
                s->selector = t->selector;
        } else if (ks == K_PORT && kt == K_NEURON) {
            if (s->port_io != 1)
                return gx_fail(g, e->line, "%s starts at an output port",
                               el_name(e, EC_EDGE, b, sizeof b));
            /* an input port driving a neuron directly: nothing to build here */
        } else {
            return gx_fail(g, e->line,
                           "%s joins two %s directly; in the current format a synapse is a node "
                           "between neurons (neuron -> synapse -> neuron)",
                           el_name(e, EC_EDGE, b, sizeof b), ks == K_NEURON ? "neurons" : "ports");
        }
        /* the edge's own attributes: delay and reversal potential only */
        reset_used(g, EC_EDGE);
        double d;
        int rc = edge_delay(g, e, &d);
        if (rc)
            return rc;
        char title[64];
        int fail = 0;
        const char *rev = get_alt(g, EC_EDGE, e, REVERSE, title, sizeof title, &fail);
        if (fail)
            return fail;
        if (rev && !(kt == K_SYNAPSE || ks == K_SYNAPSE))
            return gx_fail(g, e->line, "%s: '%s' belongs on an edge of a synapse",
                           el_name(e, EC_EDGE, b, sizeof b), title);
        for (int64_t k = 0; k < g->ndecl[EC_EDGE]; k++)
            if (e->val[k] && !e->isdef[k] && !g->used[EC_EDGE][k] &&
                !is_ignored(g->decl[EC_EDGE][k].title))
                return gx_fail(g, e->line,
                               "%s: attribute '%s' is not understood on an edge (edges carry "
                               "'delay' and 'reverse'; parameters belong on the synapse node)",
                               el_name(e, EC_EDGE, b, sizeof b), g->decl[EC_EDGE][k].title);
    }
    for (int64_t i = 0; i < g->nel[EC_NODE]; i++) {
        gx_node *d = &g->node[i];
        if (d->kind != K_SYNAPSE)
            continue;
        gx_el *e = &g->el[EC_NODE][i];
        if (d->in == -2 || d->out == -2)
            return gx_fail(g, e->line,
                           "synapse '%s' (%s) has several %s edges; a synapse joins one "
                           "presynaptic neuron (or port) to one neuron",
                           e->id, gx_classes[d->cls].name, d->in == -2 ? "incoming" : "outgoing");
        reset_used(g, EC_NODE);
        (void)class_of(g, EC_NODE, e);
        const gx_el *ein = d->in >= 0 ? &g->el[EC_EDGE][d->in] : NULL;
        const gx_el *eout = d->out >= 0 ? &g->el[EC_EDGE][d->out] : NULL;
        int rc = check_conductance(g, EC_NODE, e, gx_classes[d->cls].name);
        if (rc)
            return rc;
        /* 'delay' on the node counts as well (seconds, like the edges) */
        double delay = NAN, x;
        const char *s = get(g, EC_NODE, e, "delay");
        if (s) {
            if ((rc = parse_num(g, EC_NODE, e, "delay", s, &delay)))
                return rc;
            delay *= 1000;
        }
        for (int k = 0; k < 2; k++) {
            const gx_el *ed = k ? eout : ein;
            if (!ed)
                continue;
            if ((rc = edge_delay(g, ed, &x)))
                return rc;
            if (!isnan(x))
                delay = isnan(delay) ? x : delay + x;
        }
        /* the reversal potential may sit on either edge; the node's wins */
        const gx_el *rev = NULL;
        char title[64];
        int fail = 0;
        if (eout && get_alt(g, EC_EDGE, eout, REVERSE, title, sizeof title, &fail))
            rev = eout;
        else if (ein && get_alt(g, EC_EDGE, ein, REVERSE, title, sizeof title, &fail))
            rev = ein;
        if (fail)
            return fail;
        if (!ein || !eout || g->node[ein->isrc].kind == K_PORT) {
            /* fed by another LPU or by nothing, or feeding nothing: checked, not built */
            gx_out o;
            if ((rc = convert_el(g, EC_NODE, e, d->cls, rev, &o)))
                return rc;
            continue;
        }
        if ((rc = add_synapse(g, EC_NODE, e, d->cls, rev, ein->isrc, eout->idst, delay)))
            return rc;
    }
    return 0;
}

/* Groups the synapses into projections: (source, target, receptor). */
static int projections(gx *g)
{
    for (int64_t k = 0; k < g->nsyn; k++) {
        gx_syn *s = &g->syn[k];
        const gx_neu *a = &g->neu[g->node[s->pre].rec], *b = &g->neu[g->node[s->post].rec];
        int key[3] = {a->group, b->group, s->rx};
        int64_t p = map_get(&g->projmap, key, sizeof key);
        if (p < 0) {
            if (nk_room((void **)&g->proj, &g->capproj, g->nproj, sizeof *g->proj))
                return gx_oom(g);
            gx_proj *q = &g->proj[g->nproj];
            memset(q, 0, sizeof *q);
            q->pre = a->group;
            q->post = b->group;
            q->rx = s->rx;
            q->key = malloc(sizeof key);
            if (!q->key)
                return gx_oom(g);
            memcpy(q->key, key, sizeof key);
            p = g->nproj++;
            if (map_put(&g->projmap, q->key, sizeof key, p))
                return gx_oom(g);
        }
        gx_proj *q = &g->proj[p];
        if (q->n == q->cap) {
            int64_t c = q->cap ? 2 * q->cap : 16;
            int64_t *lp = realloc(q->lpre, (size_t)c * sizeof *lp);
            if (lp)
                q->lpre = lp;
            int64_t *lq = realloc(q->lpost, (size_t)c * sizeof *lq);
            if (lq)
                q->lpost = lq;
            double *w = realloc(q->w, (size_t)c * sizeof *w);
            if (w)
                q->w = w;
            double *d = realloc(q->d, (size_t)c * sizeof *d);
            if (d)
                q->d = d;
            if (!lp || !lq || !w || !d)
                return gx_oom(g);
            q->cap = c;
        }
        q->lpre[q->n] = a->index;
        q->lpost[q->n] = b->index;
        q->w[q->n] = s->w;
        q->d[q->n] = isnan(s->delay) ? 0 : s->delay;
        q->any_delay |= !isnan(s->delay);
        q->n++;
    }
    return 0;
}

/* ---- building ------------------------------------------------------------------- */

/* Takes away what build added: projections from nproj0 on, populations from
 * npop0 on (last first). */
static void rollback(nk_net *net, int npop0, int nproj0)
{
    while (net->nprojs > nproj0)
        nk_proj_discard_last(net);
    while (net->npops > npop0)
        if (nk_pop_discard(net, net->npops - 1))
            break;
    net->built = 0;
}

static int build(gx *g)
{
    nk_net *net = g->net;
    int npop0 = net->npops, nproj0 = net->nprojs;
    char saved[NK_ERRLEN];
    int rc = 0;
    /* names: the class, then class_2, class_3, ... (skipping names in use) */
    for (int64_t k = 0; k < g->ngrp; k++) {
        gx_group *p = &g->grp[k];
        const char *base = gx_classes[p->cls].name;
        int nth = 1;
        for (int64_t j = 0; j < k; j++)
            nth += g->grp[j].cls == p->cls;
        for (;; nth++) {
            if (nth == 1)
                snprintf(p->name, sizeof p->name, "%s", base);
            else
                snprintf(p->name, sizeof p->name, "%s_%d", base, nth);
            int taken = nk_pop_find(net, p->name) >= 0;
            for (int64_t j = 0; j < k && !taken; j++)
                taken = !strcmp(g->grp[j].name, p->name);
            if (!taken)
                break;
        }
    }
    for (int64_t k = 0; k < g->ngrp && !rc; k++) {
        gx_group *p = &g->grp[k];
        int pop = nk_pop_add(net, p->out.model, p->n, p->name, NULL);
        if (pop < 0) {
            rc = pop;
            break;
        }
        for (int j = 0; j < p->out.np && !rc; j++)
            rc = nk_pop_set_param(net, pop, p->out.pn[j], p->out.pv[j]);
    }
    /* initial states, per neuron where the file gives them */
    double *vals = NULL;
    g->member = malloc((size_t)(g->nneu ? g->nneu : 1) * sizeof *g->member);
    if (!rc && !g->member)
        rc = nk_fail(g->ctx, NK_ENOMEM, "out of memory");
    for (int64_t k = 0, at = 0; k < g->ngrp && !rc; k++) {
        g->grp[k].first = at;
        at += g->grp[k].n;
    }
    for (int64_t i = 0; i < g->nneu && !rc; i++)
        g->member[g->grp[g->neu[i].group].first + g->neu[i].index] = i;
    for (int64_t k = 0; k < g->ngrp && !rc; k++) {
        gx_group *p = &g->grp[k];
        int pop = npop0 + (int)k;
        free(vals);
        vals = malloc((size_t)p->n * sizeof *vals);
        if (!vals) {
            rc = nk_fail(g->ctx, NK_ENOMEM, "out of memory");
            break;
        }
        for (int s = 0; s < p->out.ns && !rc; s++) {
            int any = 0;
            double dflt;
            rc = nk_pop_get_state(net, pop, p->out.sn[s], 0, &dflt);
            for (int64_t i = 0; i < p->n && !rc; i++) {
                const gx_neu *u = &g->neu[g->member[p->first + i]];
                vals[i] = u->shas[s] ? u->sv[s] : dflt;
                any |= u->shas[s];
            }
            if (!rc && any)
                rc = nk_pop_set_state_array(net, (nk_range){pop, 0, p->n}, p->out.sn[s], vals);
        }
        if (!rc)
            rc = nk_pop_check(net, pop);
    }
    free(vals);
    for (int64_t k = 0; k < g->nproj && !rc; k++) {
        gx_proj *q = &g->proj[k];
        gx_rx *x = &g->rx[q->rx];
        nk_conn_opts o;
        nk_conn_opts_init(&o);
        o.rule = NK_RULE_LIST;
        o.list_pre = q->lpre;
        o.list_post = q->lpost;
        o.list_w = q->w;
        o.list_delay = q->any_delay ? q->d : NULL;
        o.nlist = q->n;
        o.weight = q->w[0];
        o.delay = -1;
        if (q->any_delay) {
            o.delay = 0;
            for (int64_t i = 0; i < q->n; i++)
                if (q->d[i] > o.delay)
                    o.delay = q->d[i];
        }
        o.synapse = x->out.model;
        o.receptor = x->name;
        o.syn_param_names = x->out.pn;
        o.syn_param_values = x->out.pv;
        o.n_syn_params = x->out.np;
        int pj = nk_connect(net, (nk_range){npop0 + q->pre, 0, g->grp[q->pre].n},
                            (nk_range){npop0 + q->post, 0, g->grp[q->post].n}, &o);
        if (pj < 0)
            rc = pj;
    }
    if (rc) {
        snprintf(saved, sizeof saved, "%s", g->ctx->err);
        rollback(net, npop0, nproj0);
        return nk_fail(g->ctx, rc, "%s: %s", g->path, saved);
    }
    return 0;
}

/* ---- the result ---------------------------------------------------------------- */

void nk_gexf_result_free(nk_gexf_result *r)
{
    if (!r)
        return;
    for (int64_t k = 0; k < r->nnodes; k++) {
        free(r->nodes[k].id);
        free(r->nodes[k].cls);
        free(r->nodes[k].selector);
    }
    free(r->nodes);
    free(r);
}

static int make_result(gx *g, int npop0, nk_gexf_result **out)
{
    nk_gexf_result *r = nk_xcalloc(1, sizeof *r);
    int64_t n = g->nel[EC_NODE];
    if (!r || !(r->nodes = nk_xcalloc((size_t)(n ? n : 1), sizeof *r->nodes))) {
        free(r);
        return gx_oom(g);
    }
    r->version = g->version;
    r->nsynapses = g->nsyn;
    for (int64_t i = 0; i < n; i++, r->nnodes++) {
        const gx_node *d = &g->node[i];
        nk_gexf_node *x = &r->nodes[i];
        x->pop = -1;
        x->index = -1;
        x->id = nk_strdup(g->el[EC_NODE][i].id);
        x->cls = nk_strdup(d->kind == K_PORT ? "Port" : gx_classes[d->cls].name);
        x->selector = d->selector ? nk_strdup(d->selector) : NULL;
        x->port_io = d->port_io;
        if (d->kind == K_NEURON) {
            x->pop = npop0 + g->neu[d->rec].group;
            x->index = g->neu[d->rec].index;
        }
        if (!x->id || !x->cls || (d->selector && !x->selector)) {
            r->nnodes++;
            nk_gexf_result_free(r);
            return gx_oom(g);
        }
    }
    *out = r;
    return 0;
}

static void gx_free(gx *g)
{
    for (int ec = 0; ec < 2; ec++) {
        for (int64_t k = 0; k < g->ndecl[ec]; k++) {
            xmlFree(g->decl[ec][k].id);
            xmlFree(g->decl[ec][k].title);
            xmlFree(g->decl[ec][k].deflt);
        }
        free(g->decl[ec]);
        for (int64_t i = 0; i < g->nel[ec]; i++) {
            gx_el *e = &g->el[ec][i];
            if (e->val)
                for (int64_t k = 0; k < g->ndecl[ec]; k++)
                    xmlFree(e->val[k]);
            free(e->val);
            free(e->isdef);
            xmlFree(e->id);
            xmlFree(e->src);
            xmlFree(e->dst);
        }
        free(g->el[ec]);
    }
    free(g->ids.s);
    free(g->eids.s);
    free(g->node);
    free(g->used[0]);
    free(g->used[1]);
    free(g->neu);
    for (int64_t k = 0; k < g->ngrp; k++)
        free(g->grp[k].key);
    free(g->grp);
    free(g->grpmap.s);
    free(g->syn);
    for (int64_t k = 0; k < g->nrx; k++)
        free(g->rx[k].key);
    free(g->rx);
    free(g->rxmap.s);
    for (int64_t k = 0; k < g->nproj; k++) {
        free(g->proj[k].lpre);
        free(g->proj[k].lpost);
        free(g->proj[k].w);
        free(g->proj[k].d);
        free(g->proj[k].key);
    }
    free(g->proj);
    free(g->projmap.s);
    free(g->member);
}

int nk_load_gexf(nk_net *net, const char *path, nk_gexf_result **out)
{
    if (out)
        *out = NULL;
    if (!path || !*path)
        return nk_fail(net->ctx, NK_EINVAL, "load_gexf: expected a file name");
    gx g;
    memset(&g, 0, sizeof g);
    g.ctx = net->ctx;
    g.net = net;
    g.path = path;
    int npop0 = net->npops;
    int rc = gx_read(&g);
    if (!rc) {
        g.used[0] = nk_xcalloc((size_t)g.ndecl[0] + 1, 1);
        g.used[1] = nk_xcalloc((size_t)g.ndecl[1] + 1, 1);
        if (!g.used[0] || !g.used[1])
            rc = gx_oom(&g);
    }
    if (!rc)
        rc = classify(&g);
    if (!rc)
        rc = detect_units(&g);
    if (!rc)
        rc = neurons(&g);
    if (!rc)
        rc = g.version == 1 ? synapses_v1(&g) : synapses_v2(&g);
    if (!rc)
        rc = projections(&g);
    nk_gexf_result *res = NULL;
    if (!rc && out)
        rc = make_result(&g, npop0, &res);
    if (!rc)
        rc = build(&g);
    if (rc) {
        nk_gexf_result_free(res);
    } else if (out) {
        *out = res;
    }
    gx_free(&g);
    return rc;
}
