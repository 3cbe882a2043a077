/* lib_neurons.c - the built-in neuron models, written in the same form a
 * user would write with nk.model (docs/models.md).
 *
 * Units: ms, mV, pA, pF, nS. The input current I (pA) of a neuron is the sum
 * of its receptors' currents and of external sources. */
#include "internal.h"

const nk_model_text nk_lib_neurons[] = {
    {
        .name = "lif",
        .kind = "neuron",
        .doc = "Leaky integrate-and-fire neuron, current-based (NEST's iaf_psc_*)",
        .params = "tau_m = 10 ms; C_m = 250 pF; v_rest = -70 mV; v_reset = -70 mV;"
                  "v_thresh = -55 mV; t_ref = 2 ms; I_e = 0 pA",
        .states = "v = v_rest mV",
        .equations = "dv/dt = (v_rest - v)/tau_m + (I + I_e)/C_m : mV (unless refractory)",
        .threshold = "v > v_thresh",
        .reset = "v = v_reset",
        .refractory = "t_ref",
        .method = "exponential_euler",
    },
};

const int nk_lib_nneurons = (int)(sizeof nk_lib_neurons / sizeof *nk_lib_neurons);
