/* lib_synapses.c - the built-in synapse models, written in the same form a
 * user would write with nk.model (docs/models.md).
 *
 * A synapse model is instantiated once per receptor of a target population:
 * its states are per target neuron, on_pre runs with w the summed weight that
 * arrives in a step, and current is what it adds to the target's input I. */
#include "internal.h"

const nk_model_text nk_lib_synapses[] = {
    {
        .name = "exp_curr",
        .kind = "synapse",
        .doc = "Exponentially decaying current synapse: a spike adds w (pA)",
        .params = "tau_syn = 2 ms",
        .states = "isyn = 0 pA",
        .equations = "disyn/dt = -isyn/tau_syn : pA",
        .on_pre = "isyn += w",
        .current = "isyn",
        .method = "exponential_euler",
    },
};

const int nk_lib_nsynapses = (int)(sizeof nk_lib_synapses / sizeof *nk_lib_synapses);
