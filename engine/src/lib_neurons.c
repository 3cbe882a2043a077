/* lib_neurons.c - the built-in neuron models, written in the same form a
 * user would write with nk.model (docs/models.md).
 *
 * Units: ms, mV, pA, pF, nS (pA/pF = mV/ms, nS*mV = pA). The input current I
 * (pA) of a neuron is the sum of its receptors' currents and of external
 * sources. The membrane potential is called v in every model: conductance
 * synapses read it by that name.
 *
 * Conductance-based models written per unit area in their papers are given
 * for a patch of membrane: 100 um^2 (1e-6 cm^2) turns 1 uF/cm^2 into 1 pF,
 * 1 mS/cm^2 into 1 nS and 1 uA/cm^2 into 1 pA, so the papers' numbers carry
 * over unchanged (hh, connor_stevens, rinzel, wilson); hh_traub uses Brette
 * et al.'s 20000 um^2.
 *
 * The NEST entries (iaf_psc_exp, iaf_psc_alpha, iaf_cond_exp, aeif_cond_exp,
 * hh_psc_alpha) share their equations with the library's own models and take
 * NEST's defaults; their aliases accept NEST's parameter and state names.
 *
 * Default solvers (a population may choose another):
 * - LIF family: exponential_euler, exact for a constant current; iaf_psc_exp
 *   and iaf_psc_alpha: exact (NEST's exact integration, receptors included).
 * - izhikevich: euler, the paper's own scheme.
 * - adex, aeif_cond_exp: rk4 at the network's step (see ADEX_EQ).
 * - hh, hh_psc_alpha: rk4 with max_dt 0.01 ms. A 1 pF patch with 120 nS of
 *   sodium is stiff in the spike (tau ~ 0.01 ms): RK4 at 0.1 ms diverges;
 *   at 0.01 ms it reproduces Brian2's reference spike for spike.
 * - connor_stevens, wilson, rinzel: rk4 with max_dt 0.02 ms (the same
 *   stiffness; 0.02 ms matches a 0.5 us reference to the step).
 * - morris_lecar: rk4 with max_dt 0.05 ms (Neurokernel: Euler at 0.01 ms).
 * - hh_traub: exponential_euler at the network's step, as Brian2's COBAHH
 *   (first order: about 10 % slow at dt 0.1 ms under a strong drive). */
#include "internal.h"

/* ---- shared equation text ------------------------------------------------ */

/* Leaky integrate-and-fire, current or conductance input through I. */
#define LIF_EQ "dv/dt = (v_rest - v)/tau_m + (I + I_e)/C_m : mV (unless refractory)"
/* The same with a leak conductance instead of a time constant (NEST's
 * iaf_cond_*). */
#define LIF_GL_EQ "dv/dt = (g_L*(v_rest - v) + I + I_e)/C_m : mV (unless refractory)"
#define LIF_STATES "v = v_rest mV"
#define LIF_THRESHOLD "v > v_thresh"
#define LIF_RESET "v = v_reset"
/* NEST's names for the LIF quantities. */
#define NEST_LIF_ALIASES "V_m = v; E_L = v_rest; V_th = v_thresh; V_reset = v_reset"
#define LIF_PARAMS(tau_m, C_m, v_rest, v_reset, v_thresh, t_ref)                                 \
    "tau_m = " tau_m " ms (0, inf); C_m = " C_m " pF (0, inf); v_rest = " v_rest " mV;"          \
    "v_reset = " v_reset " mV; v_thresh = " v_thresh " mV; t_ref = " t_ref " ms [0, inf);"      \
    "I_e = 0 pA"

/* Default receptors: exc for weights >= 0, inh for negative ones. */
#define RX_CURR(model) \
    "exc = " model "(tau_syn = tau_syn_ex); inh = " model "(tau_syn = tau_syn_in)"
#define RX_COND(model)                                    \
    "exc = " model "(tau_syn = tau_syn_ex, E_rev = E_ex);" \
    "inh = " model "(tau_syn = tau_syn_in, E_rev = E_in)"
#define SYN_TAU_PARAMS(ex, in) \
    "tau_syn_ex = " ex " ms (0, inf); tau_syn_in = " in " ms (0, inf)"
#define SYN_E_PARAMS(ex, in) "E_ex = " ex " mV; E_in = " in " mV"

/* Adaptive exponential integrate-and-fire (Brette & Gerstner 2005). The
 * threshold is tested at the end of a step, so a solver stage or a sub-step
 * can find v beyond v_peak: there v stops (the spike is certain) and the
 * exponential and the adaptation see v_peak, as in NEST, so that nothing
 * overflows and w does not run away before the reset. Below v_peak these
 * are the paper's equations. */
#define ADEX_EQ                                                                   \
    "I_spike = g_L*Delta_T*exp((min(v, v_peak) - V_T)/Delta_T)\n"                 \
    "dv/dt = v > v_peak ? 0 : (g_L*(v_rest - v) + I_spike - w + I + I_e)/C_m"     \
    " : mV (unless refractory)\n"                                                 \
    "dw/dt = (a*(min(v, v_peak) - v_rest) - w)/tau_w : pA"
#define ADEX_PARAMS(v_reset, t_ref)                                                     \
    "C_m = 281 pF (0, inf); g_L = 30 nS (0, inf); v_rest = -70.6 mV; V_T = -50.4 mV;"   \
    "Delta_T = 2 mV (0, inf); a = 4 nS; tau_w = 144 ms (0, inf); b = 80.5 pA;"          \
    "v_reset = " v_reset " mV; v_peak = 0 mV; t_ref = " t_ref " ms [0, inf); I_e = 0 pA"
#define ADEX_STATES "v = v_rest mV; w = 0 pA"
#define ADEX_THRESHOLD "v > v_peak"
#define ADEX_RESET "v = v_reset; w += b"

/* Hodgkin & Huxley (1952), squid axon, rates in 1/ms with u = v + 65 mV.
 * x/(exp(x) - 1) = 1/exprel(x) removes the singularities of alpha_m and
 * alpha_n at u = 25 and u = 10 mV. */
#define HH_RATES                                   \
    "u = v + 65\n"                                 \
    "alpha_m = 1/exprel((25 - u)/10)\n"            \
    "beta_m = 4*exp(-u/18)\n"                      \
    "alpha_h = 0.07*exp(-u/20)\n"                  \
    "beta_h = 1/(exp((30 - u)/10) + 1)\n"          \
    "alpha_n = 0.1/exprel((10 - u)/10)\n"          \
    "beta_n = 0.125*exp(-u/80)\n"
#define HH_EQ                                                                      \
    HH_RATES                                                                       \
    "I_Na = g_Na*m^3*h*(E_Na - v)\n"                                               \
    "I_K = g_K*n^4*(E_K - v)\n"                                                    \
    "I_L = g_L*(E_L - v)\n"                                                        \
    "dv/dt = (I_Na + I_K + I_L + I + I_e)/C_m : mV\n"                              \
    "dm/dt = alpha_m*(1 - m) - beta_m*m : 1\n"                                     \
    "dh/dt = alpha_h*(1 - h) - beta_h*h : 1\n"                                     \
    "dn/dt = alpha_n*(1 - n) - beta_n*n : 1"
/* Resting state at v = -65 mV: m, h, n at their steady state. */
#define HH_STATES \
    "v = -65 mV; m = 0.0529325 [0, 1]; h = 0.5961208 [0, 1]; n = 0.3176769 [0, 1]"
#define HH_PARAMS(C_m, g_Na, g_K, g_L, E_L)                                               \
    "C_m = " C_m " pF (0, inf); g_Na = " g_Na " nS [0, inf); g_K = " g_K " nS [0, inf);" \
    "g_L = " g_L " nS [0, inf); E_Na = 50 mV; E_K = -77 mV; E_L = " E_L " mV; I_e = 0 pA;" \
    "v_spike = 0 mV"

const nk_model_text nk_lib_neurons[] = {
    /* ---- integrate-and-fire ---------------------------------------------- */
    {
        .name = "lif",
        .kind = "neuron",
        .doc = "Leaky integrate-and-fire, current input (Lapicque 1907; NEST's iaf_psc_* form)",
        .params = LIF_PARAMS("10", "250", "-70", "-70", "-55", "2"),
        .states = LIF_STATES,
        .equations = LIF_EQ,
        .threshold = LIF_THRESHOLD,
        .reset = LIF_RESET,
        .refractory = "t_ref",
        .method = "exponential_euler",
    },
    {
        .name = "lif_cond",
        .kind = "neuron",
        .doc = "Leaky integrate-and-fire with conductance synapses exc/inh (Vogels & Abbott 2005; "
               "Brette et al. 2007 COBA values)",
        .params = LIF_PARAMS("20", "200", "-60", "-60", "-50", "5") ";"
                  SYN_E_PARAMS("0", "-80") ";" SYN_TAU_PARAMS("5", "10"),
        .states = LIF_STATES,
        .equations = LIF_EQ,
        .threshold = LIF_THRESHOLD,
        .reset = LIF_RESET,
        .refractory = "t_ref",
        .receptors = RX_COND("exp_cond"),
        .method = "exponential_euler",
    },
    {
        .name = "iaf",
        .kind = "neuron",
        .doc = "Ideal (non-leaky) integrate-and-fire, C_m dv/dt = I + bias (Neural's IAF; "
               "Lazar 2004 time encoding)",
        .params = "C_m = 250 pF (0, inf); bias = 0 pA; v_thresh = -55 mV; v_reset = -70 mV;"
                  "t_ref = 0 ms [0, inf)",
        .states = "v = v_reset mV",
        .equations = "dv/dt = (I + bias)/C_m : mV (unless refractory)",
        .threshold = "v > v_thresh",
        .reset = "v = v_reset",
        .refractory = "t_ref",
        .method = "euler",
    },
    {
        .name = "izhikevich",
        .kind = "neuron",
        .doc = "Izhikevich (2003) simple model; I/C_m in mV/ms, so with C_m = 1 pF an input "
               "of I pA is the paper's I",
        .params = "a = 0.02 1/ms; b = 0.2 1/ms; c = -65 mV; d = 8 mV/ms; v_peak = 30 mV;"
                  "C_m = 1 pF (0, inf); I_e = 0 pA",
        .states = "v = -65 mV; u = -13 mV/ms",
        .equations = "dv/dt = 0.04*v^2 + 5*v + 140 - u + (I + I_e)/C_m : mV\n"
                     "du/dt = a*(b*v - u) : mV/ms",
        .threshold = "v >= v_peak",
        .reset = "v = c; u += d",
        .method = "euler",
    },
    {
        .name = "adex",
        .kind = "neuron",
        .doc = "Adaptive exponential integrate-and-fire (Brette & Gerstner 2005), current input",
        .params = ADEX_PARAMS("-70.6", "0"),
        .states = ADEX_STATES,
        .equations = ADEX_EQ,
        .threshold = ADEX_THRESHOLD,
        .reset = ADEX_RESET,
        .refractory = "t_ref",
        .method = "rk4",
    },

    /* ---- conductance-based ----------------------------------------------- */
    {
        .name = "hh",
        .kind = "neuron",
        .doc = "Hodgkin & Huxley (1952) squid axon, a 100 um^2 patch (1 pF; 1 pA = 1 uA/cm^2); "
               "spikes when v crosses v_spike",
        .params = HH_PARAMS("1", "120", "36", "0.3", "-54.387"),
        .states = HH_STATES,
        .equations = HH_EQ,
        .threshold = "v > v_spike",
        .refractory = "v > v_spike",
        .max_dt = 0.01,
        .aliases = "V_m = v",
        .method = "rk4",
    },
    {
        .name = "hh_traub",
        .kind = "neuron",
        .doc = "Traub & Miles (1991) HH neuron as in Brette et al. (2007) COBAHH, 20000 um^2, "
               "conductance synapses exc/inh",
        .params = "C_m = 200 pF (0, inf); g_L = 10 nS [0, inf); E_L = -60 mV; E_K = -90 mV;"
                  "E_Na = 50 mV; g_Na = 20000 nS [0, inf); g_K = 6000 nS [0, inf); V_T = -63 mV;"
                  "v_spike = -20 mV; t_ref = 3 ms [0, inf); I_e = 0 pA;"
                  SYN_E_PARAMS("0", "-80") ";" SYN_TAU_PARAMS("5", "10"),
        .states = "v = E_L mV; m = 0.0268633 [0, 1]; h = 0.9913058 [0, 1]; n = 0.0604340 [0, 1]",
        .equations = "alpha_m = 1.28/exprel((13 - v + V_T)/4)\n"
                     "beta_m = 1.4/exprel((v - V_T - 40)/5)\n"
                     "alpha_h = 0.128*exp((17 - v + V_T)/18)\n"
                     "beta_h = 4/(1 + exp((40 - v + V_T)/5))\n"
                     "alpha_n = 0.16/exprel((15 - v + V_T)/5)\n"
                     "beta_n = 0.5*exp((10 - v + V_T)/40)\n"
                     "dv/dt = (g_L*(E_L - v) + g_Na*m^3*h*(E_Na - v) + g_K*n^4*(E_K - v)"
                     " + I + I_e)/C_m : mV\n"
                     "dm/dt = alpha_m*(1 - m) - beta_m*m : 1\n"
                     "dh/dt = alpha_h*(1 - h) - beta_h*h : 1\n"
                     "dn/dt = alpha_n*(1 - n) - beta_n*n : 1",
        .threshold = "v > v_spike",
        .refractory = "t_ref",
        .receptors = RX_COND("exp_cond"),
        .method = "exponential_euler",
    },
    /* Neurokernel's ConnorStevens: HH rates shifted (m by -5.3, h by -12, n by
     * -4.3 mV) and sped up (3.8 for m and h, 1.9 for n), the A-current's
     * a^3 b, E_L = -17 mV. Class I: fires from a few Hz up. */
    {
        .name = "connor_stevens",
        .kind = "neuron",
        .doc = "Connor & Stevens (1971; Connor, Walter & McKown 1977) with the A-current, as in "
               "Dayan & Abbott and Neurokernel; 100 um^2 (1 pF)",
        .params = "C_m = 1 pF (0, inf); g_Na = 120 nS [0, inf); g_K = 20 nS [0, inf);"
                  "g_A = 47.7 nS [0, inf); g_L = 0.3 nS [0, inf); E_Na = 55 mV; E_K = -72 mV;"
                  "E_A = -75 mV; E_L = -17 mV; I_e = 0 pA; v_spike = -10 mV",
        .states = "v = -67.975 mV; m = 0.0100803 [0, 1]; h = 0.9658973 [0, 1];"
                  "n = 0.1558920 [0, 1]; a = 0.5404368 [0, 1]; b = 0.2884849 [0, 1]",
        .equations = "alpha_m = 1/exprel(-(v + 29.7)/10)\n"
                     "beta_m = 4*exp(-(v + 54.7)/18)\n"
                     "alpha_h = 0.07*exp(-(v + 48)/20)\n"
                     "beta_h = 1/(1 + exp(-(v + 18)/10))\n"
                     "alpha_n = 0.1/exprel(-(v + 45.7)/10)\n"
                     "beta_n = 0.125*exp(-(v + 55.7)/80)\n"
                     "a_inf = (0.0761*exp((v + 94.22)/31.84)/(1 + exp((v + 1.17)/28.93)))^(1/3)\n"
                     "tau_a = 0.3632 + 1.158/(1 + exp((v + 55.96)/20.12))\n"
                     "b_inf = (1/(1 + exp((v + 53.3)/14.54)))^4\n"
                     "tau_b = 1.24 + 2.678/(1 + exp((v + 50)/16.027))\n"
                     "dv/dt = (g_L*(E_L - v) + g_Na*m^3*h*(E_Na - v) + g_K*n^4*(E_K - v)"
                     " + g_A*a^3*b*(E_A - v) + I + I_e)/C_m : mV\n"
                     "dm/dt = 3.8*(alpha_m*(1 - m) - beta_m*m) : 1\n"
                     "dh/dt = 3.8*(alpha_h*(1 - h) - beta_h*h) : 1\n"
                     "dn/dt = 1.9*(alpha_n*(1 - n) - beta_n*n) : 1\n"
                     "da/dt = (a_inf - a)/tau_a : 1\n"
                     "db/dt = (b_inf - b)/tau_b : 1",
        .threshold = "v > v_spike",
        .refractory = "v > v_spike",
        .max_dt = 0.02,
        .aliases = "V = v",
        .method = "rk4",
    },
    {
        .name = "morris_lecar",
        .kind = "neuron",
        .doc = "Morris & Lecar (1981) graded (non-spiking) membrane, Neurokernel's MorrisLecar "
               "parameters; C_m = 1 pF",
        .params = "V1 = -20 mV; V2 = 50 mV (0, inf); V3 = -40 mV; V4 = 20 mV (0, inf);"
                  "phi = 0.001 1/ms (0, inf); offset = 0 pA; V_L = -40 mV; V_Ca = 120 mV;"
                  "V_K = -80 mV; g_L = 3 nS [0, inf); g_Ca = 4 nS [0, inf); g_K = 16 nS [0, inf);"
                  "C_m = 1 pF (0, inf)",
        .states = "v = -46.08 mV; n = 0.3525156 [0, 1]",
        .equations = "m_inf = 0.5*(1 + tanh((v - V1)/V2))\n"
                     "n_inf = 0.5*(1 + tanh((v - V3)/V4))\n"
                     "dv/dt = (I + offset - g_L*(v - V_L) - g_K*n*(v - V_K)"
                     " - g_Ca*m_inf*(v - V_Ca))/C_m : mV\n"
                     "dn/dt = phi*cosh((v - V3)/(2*V4))*(n_inf - n) : 1",
        .aliases = "V = v",
        .method = "rk4",
        .max_dt = 0.05,
    },
    /* Wilson writes V in units of 100 mV: C dV/dt = -(17.81 + 47.71 V +
     * 32.63 V^2)(V - 0.55) - 26 R (V + 0.92) + I, tau_R dR/dt = -R + 1.35 V +
     * 1.03, C = 0.8. Here v = 100 V mV (Neurokernel's Wilson, the same). */
    {
        .name = "wilson",
        .kind = "neuron",
        .doc = "Wilson (1999) polynomial reduction of HH (Spikes, Decisions and Actions, ch. 9), "
               "in mV; 100 um^2 (0.8 pF)",
        .params = "C_m = 0.8 pF (0, inf); E_Na = 55 mV; E_K = -92 mV; g_R = 26 nS [0, inf);"
                  "tau_R = 1.9 ms (0, inf); I_e = 0 pA; v_spike = 0 mV",
        .states = "v = -69.796 mV; R = 0.0877593",
        .equations = "dv/dt = (-(17.81 + 0.4771*v + 0.003263*v^2)*(v - E_Na) - g_R*R*(v - E_K)"
                     " + I + I_e)/C_m : mV\n"
                     "dR/dt = (0.0135*v + 1.03 - R)/tau_R : 1",
        .threshold = "v > v_spike",
        .refractory = "v > v_spike",
        .max_dt = 0.02,
        .aliases = "V = v",
        .method = "rk4",
    },
    /* Neurokernel's Rinzel kernel writes tau_w with exp(-(V+55)*(V+55)/55*55),
     * which C reads as exp(-(V+55)^2); Rinzel's (and Wilson's) (55 mV)^2 is
     * meant and is used here. */
    {
        .name = "rinzel",
        .kind = "neuron",
        .doc = "Rinzel (1985) two-variable reduction of HH (m = m_inf, h = 1 - w, n = w/s); "
               "100 um^2 (1 pF)",
        .params = HH_PARAMS("1", "120", "36", "0.3", "-54.387") "; s = 1.2713522 (0, inf)",
        .states = "v = -64.997 mV; w = 0.4039573",
        .equations = HH_RATES
                     "m_inf = alpha_m/(alpha_m + beta_m)\n"
                     "h_inf = alpha_h/(alpha_h + beta_h)\n"
                     "n_inf = alpha_n/(alpha_n + beta_n)\n"
                     "w_inf = s/(1 + s^2)*(n_inf + s*(1 - h_inf))\n"
                     "tau_w = 1 + 5*exp(-(v + 55)^2/55^2)\n"
                     "dv/dt = (g_Na*m_inf^3*(1 - w)*(E_Na - v) + g_K*(w/s)^4*(E_K - v)"
                     " + g_L*(E_L - v) + I + I_e)/C_m : mV\n"
                     "dw/dt = 3*(w_inf - w)/tau_w : 1",
        .threshold = "v > v_spike",
        .refractory = "v > v_spike",
        .max_dt = 0.02,
        .aliases = "V = v; W = w",
        .method = "rk4",
    },

    /* ---- spike sources --------------------------------------------------- */
    {
        .name = "poisson",
        .kind = "neuron",
        .doc = "Poisson spike source: each neuron fires with probability rate*dt in each step",
        .params = "rate = 10 Hz [0, inf)",
        .threshold = "rand() < rate*dt*1e-3",
        .method = "euler",
    },

    /* ---- NEST's names ---------------------------------------------------- */
    {
        .name = "iaf_psc_exp",
        .kind = "neuron",
        .doc = "NEST's iaf_psc_exp: leaky integrate-and-fire with exponential current synapses "
               "(Tsodyks et al. 2000)",
        .params = LIF_PARAMS("10", "250", "-70", "-70", "-55", "2") ";"
                  SYN_TAU_PARAMS("2", "2"),
        .states = LIF_STATES,
        .equations = LIF_EQ,
        .threshold = LIF_THRESHOLD,
        .reset = LIF_RESET,
        .refractory = "t_ref",
        .receptors = RX_CURR("exp_curr"),
        .aliases = NEST_LIF_ALIASES,
        .method = "exact",
    },
    {
        .name = "iaf_psc_alpha",
        .kind = "neuron",
        .doc = "NEST's iaf_psc_alpha: leaky integrate-and-fire with alpha-function current "
               "synapses (Rotter & Diesmann 1999)",
        .params = LIF_PARAMS("10", "250", "-70", "-70", "-55", "2") ";"
                  SYN_TAU_PARAMS("2", "2"),
        .states = LIF_STATES,
        .equations = LIF_EQ,
        .threshold = LIF_THRESHOLD,
        .reset = LIF_RESET,
        .refractory = "t_ref",
        .receptors = RX_CURR("alpha_curr"),
        .aliases = NEST_LIF_ALIASES,
        .method = "exact",
    },
    {
        .name = "iaf_cond_exp",
        .kind = "neuron",
        .doc = "NEST's iaf_cond_exp: leaky integrate-and-fire with exponential conductance "
               "synapses (Meffin et al. 2004)",
        .params = "C_m = 250 pF (0, inf); g_L = 16.6667 nS (0, inf); v_rest = -70 mV;"
                  "v_reset = -60 mV; v_thresh = -55 mV; t_ref = 2 ms [0, inf); I_e = 0 pA;"
                  SYN_E_PARAMS("0", "-85") ";" SYN_TAU_PARAMS("0.2", "2"),
        .states = LIF_STATES,
        .equations = LIF_GL_EQ,
        .threshold = LIF_THRESHOLD,
        .reset = LIF_RESET,
        .refractory = "t_ref",
        .receptors = RX_COND("exp_cond"),
        .aliases = NEST_LIF_ALIASES,
        .method = "exponential_euler",
    },
    {
        .name = "aeif_cond_exp",
        .kind = "neuron",
        .doc = "NEST's aeif_cond_exp: adaptive exponential integrate-and-fire (Brette & "
               "Gerstner 2005) with exponential conductance synapses",
        .params = ADEX_PARAMS("-60", "0") ";" SYN_E_PARAMS("0", "-85") ";"
                  SYN_TAU_PARAMS("0.2", "2"),
        .states = ADEX_STATES,
        .equations = ADEX_EQ,
        .threshold = ADEX_THRESHOLD,
        .reset = ADEX_RESET,
        .refractory = "t_ref",
        .receptors = RX_COND("exp_cond"),
        .aliases = "V_m = v; E_L = v_rest; V_th = V_T; V_reset = v_reset; V_peak = v_peak",
        .method = "rk4",
    },
    {
        .name = "hh_psc_alpha",
        .kind = "neuron",
        .doc = "NEST's hh_psc_alpha: Hodgkin & Huxley (1952) with alpha-function current "
               "synapses, NEST's 100 pF membrane",
        .params = HH_PARAMS("100", "12000", "3600", "30", "-54.402") ";"
                  SYN_TAU_PARAMS("0.2", "2"),
        .states = HH_STATES,
        .equations = HH_EQ,
        .threshold = "v > v_spike",
        .refractory = "v > v_spike",
        .receptors = RX_CURR("alpha_curr"),
        .aliases = "V_m = v; Act_m = m; Inact_h = h; Act_n = n",
        .max_dt = 0.01,
        .method = "rk4",
    },
};

const int nk_lib_nneurons = (int)(sizeof nk_lib_neurons / sizeof *nk_lib_neurons);
