/* lib_synapses.c - the built-in synapse models, written in the same form a
 * user would write with nk.model (docs/models.md).
 *
 * A synapse model is instantiated once per receptor of a target population:
 * its states are per target neuron, on_pre runs with w the summed weight that
 * arrives in a step, and current is what it adds to the target's input I.
 *
 * Conventions:
 * - Current synapses: w in pA. Conductance synapses: w in nS, and they take
 *   the weight's magnitude (g += abs(w)), so NEST-style negative weights on
 *   inhibitory connections work; the sign of the effect comes from E_rev.
 * - Every conductance enters the target as g*(E_rev - v), pA (Neurokernel's
 *   aggregator: the sum over receptors of g*(E_rev - V)).
 * - Kernels with a peak are normalised so that a weight w gives a peak of w
 *   (NEST's convention for iaf_psc_alpha, iaf_cond_alpha, iaf_cond_beta).
 * - Double exponentials are written as two decoupled exponentials, g_d - g_r
 *   (each exact under exponential_euler), rather than as a second-order
 *   system, and `current` uses the states only.
 *
 * Double-exponential peak: with r = tau_rise/tau_decay the kernel
 * exp(-t/tau_decay) - exp(-t/tau_rise) peaks at
 * t_peak = tau_rise*tau_decay/(tau_decay - tau_rise) * ln(tau_decay/tau_rise)
 * with the value r^(r/(1 - r)) * (1 - r), the factor on_pre divides by. The
 * formula is symmetric (tau_rise > tau_decay gives the same kernel); it is
 * undefined for tau_rise = tau_decay (use the alpha kernel there).
 *
 * Graded synapses (power_gpot, sigmoid): each connection sends
 * weight * graded every step; on_pre sets g to the magnitude of the sum. Keep
 * one sign of weight per receptor (the default receptors, exc and inh, do). */
#include "internal.h"

/* The double exponential's normalisation, written out for on_pre. */
#define DEXP_PEAK "((tau_rise/tau_decay)^(tau_rise/(tau_decay - tau_rise))*(1 - tau_rise/tau_decay))"
#define DEXP_ON_PRE "g_d += abs(w)/" DEXP_PEAK "; g_r += abs(w)/" DEXP_PEAK
#define DEXP_STATES "g_d = 0 nS; g_r = 0 nS"
#define DEXP_EQUATIONS "dg_d/dt = -g_d/tau_decay : nS; dg_r/dt = -g_r/tau_rise : nS"

const nk_model_text nk_lib_synapses[] = {
    {
        .name = "delta",
        .kind = "synapse",
        .doc = "Voltage jump (NEST's iaf_psc_delta): a spike adds w (mV) to the target's v at once; "
               "input that arrives during the refractory period is discarded, as in NEST",
        .on_pre = "v += refractory ? 0 : w",
        .current = "0",
        .method = "euler",
    },
    {
        .name = "exp_curr",
        .kind = "synapse",
        .doc = "Exponential current (NEST's iaf_psc_exp): a spike adds w (pA) to isyn, which decays with tau_syn",
        .params = "tau_syn = 2 ms (0, inf)",
        .states = "isyn = 0 pA",
        .equations = "disyn/dt = -isyn/tau_syn : pA",
        .on_pre = "isyn += w",
        .current = "isyn",
        .method = "exponential_euler",
    },
    {
        .name = "alpha_curr",
        .kind = "synapse",
        .doc = "Alpha-function current (NEST's iaf_psc_alpha): w (pA) gives isyn = w*(t/tau_syn)*exp(1 - t/tau_syn), peak w at t = tau_syn",
        .params = "tau_syn = 2 ms (0, inf)",
        .states = "isyn = 0 pA; xsyn = 0 pA",
        .equations = "dxsyn/dt = -xsyn/tau_syn : pA\n"
                     "disyn/dt = (e*xsyn - isyn)/tau_syn : pA",
        .on_pre = "xsyn += w",
        .current = "isyn",
        .method = "exponential_euler",
    },
    {
        .name = "exp_cond",
        .kind = "synapse",
        .doc = "Exponential conductance (NEST's iaf_cond_exp): a spike adds |w| (nS) to g, which decays with tau_syn; current g*(E_rev - v)",
        .params = "tau_syn = 5 ms (0, inf); E_rev = 0 mV",
        .states = "g = 0 nS",
        .equations = "dg/dt = -g/tau_syn : nS",
        .on_pre = "g += abs(w)",
        .current = "g*(E_rev - v)",
        .method = "exponential_euler",
    },
    {
        .name = "alpha_cond",
        .kind = "synapse",
        .doc = "Alpha-function conductance (NEST's iaf_cond_alpha): |w| (nS) gives g = |w|*(t/tau_syn)*exp(1 - t/tau_syn), peak |w| at tau_syn; current g*(E_rev - v)",
        .params = "tau_syn = 5 ms (0, inf); E_rev = 0 mV",
        .states = "g = 0 nS; x = 0 nS",
        .equations = "dx/dt = -x/tau_syn : nS\n"
                     "dg/dt = (e*x - g)/tau_syn : nS",
        .on_pre = "x += abs(w)",
        .current = "g*(E_rev - v)",
        .method = "exponential_euler",
    },
    {
        .name = "ampa",
        .kind = "synapse",
        .doc = "AMPA, double-exponential conductance g = g_d - g_r with peak |w| (nS); time constants of Hill & Tononi 2005 (NEST's ht_neuron)",
        .params = "tau_rise = 0.5 ms (0, inf); tau_decay = 2.4 ms (0, inf); E_rev = 0 mV",
        .states = DEXP_STATES,
        .equations = DEXP_EQUATIONS,
        .on_pre = DEXP_ON_PRE,
        .current = "(g_d - g_r)*(E_rev - v)",
        .method = "exponential_euler",
    },
    {
        .name = "gaba_a",
        .kind = "synapse",
        .doc = "GABA_A, double-exponential conductance g = g_d - g_r with peak |w| (nS); time constants of Hill & Tononi 2005 (NEST's ht_neuron)",
        .params = "tau_rise = 1 ms (0, inf); tau_decay = 7 ms (0, inf); E_rev = -70 mV",
        .states = DEXP_STATES,
        .equations = DEXP_EQUATIONS,
        .on_pre = DEXP_ON_PRE,
        .current = "(g_d - g_r)*(E_rev - v)",
        .method = "exponential_euler",
    },
    {
        .name = "gaba_b",
        .kind = "synapse",
        .doc = "GABA_B, double-exponential conductance g = g_d - g_r with peak |w| (nS); time constants of Hill & Tononi 2005 (NEST's ht_neuron)",
        .params = "tau_rise = 60 ms (0, inf); tau_decay = 200 ms (0, inf); E_rev = -90 mV",
        .states = DEXP_STATES,
        .equations = DEXP_EQUATIONS,
        .on_pre = DEXP_ON_PRE,
        .current = "(g_d - g_r)*(E_rev - v)",
        .method = "exponential_euler",
    },
    {
        .name = "nmda",
        .kind = "synapse",
        .doc = "NMDA, double exponential (peak |w| nS, Hill & Tononi 2005) with the Mg block of Jahr & Stevens 1990: I = g*(E_rev - v)/(1 + exp(-0.062 v)*Mg/3.57)",
        .params = "tau_rise = 4 ms (0, inf); tau_decay = 40 ms (0, inf); E_rev = 0 mV; Mg = 1 mM [0, inf)",
        .states = DEXP_STATES,
        .equations = DEXP_EQUATIONS,
        .on_pre = DEXP_ON_PRE,
        .current = "(g_d - g_r)*(E_rev - v)/(1 + exp(-0.062*v)*Mg/3.57)",
        .method = "exponential_euler",
    },
    {
        .name = "power_gpot",
        .kind = "synapse",
        .doc = "Graded power-law synapse (Neurokernel's PowerGPotGPot): g = |w|*min(saturation, slope*max(0, v_pre - threshold)^power); current g*(reverse - v)",
        .params = "threshold = -55 mV; slope = 0.02 nS/mV^power [0, inf); power = 1 (0, inf);"
                  "saturation = 0.4 nS [0, inf); reverse = 0 mV",
        .states = "g = 0 nS",
        .graded = "min(saturation, slope*max(0, v_pre - threshold)^power)",
        .on_pre = "g = abs(w)",
        .current = "g*(reverse - v)",
        .method = "euler",
    },
    {
        /* Neurokernel's SigmoidSynapse, (1 + tanh(2k(V - theta) - 1))/2, is
         * this logistic with V_half = theta + 1/(2k), slope = 1/(4k); the
         * defaults are its defaults (theta = -55 mV, k = 0.02/mV, gmax 0.4). */
        .name = "sigmoid",
        .kind = "synapse",
        .doc = "Graded sigmoid synapse (logistic; Neurokernel's SigmoidSynapse): g = |w|*g_max/(1 + exp((V_half - v_pre)/slope)); current g*(E_rev - v)",
        .params = "g_max = 0.4 nS [0, inf); V_half = -30 mV; slope = 12.5 mV (0, inf); E_rev = 0 mV",
        .states = "g = 0 nS",
        .graded = "g_max/(1 + exp((V_half - v_pre)/slope))",
        .on_pre = "g = abs(w)",
        .current = "g*(E_rev - v)",
        .method = "euler",
    },
};

const int nk_lib_nsynapses = (int)(sizeof nk_lib_synapses / sizeof *nk_lib_synapses);
