/* backend.h - a simulation backend is a table of functions.
 *
 * The rest of the engine does not know which backend runs. Within one time
 * step n (from t = n*dt to (n+1)*dt) every backend does, in this order:
 *
 *   1. sources:  external currents for this step are set (dc); Poisson input
 *                is added to the receptors' ring-buffer slot for step n;
 *   2. update:   each population's generated kernel adds the input in slot n
 *                to its receptors (the synapse's on_pre, with w = the summed
 *                weight), integrates every state variable over the step from
 *                the values at its start, tests the threshold outside the
 *                refractory period, resets, and lists the neurons that fired;
 *   3. clear:    slot n of every ring buffer is zeroed (it becomes slot n+L);
 *                the kernel does this as it reads each entry in step 2;
 *   4. deliver:  each spike of step n is pushed along its projection's CSR
 *                row: weight w of a synapse with delay D steps is added, in
 *                Q32.32 fixed point, to slot n+D of the target's receptor;
 *   5. record:   spike monitors store (n, neuron) for the spikes of step n.
 *
 * So a spike fired in step n (stamped t = n*dt, like Brian2) with delay d
 * reaches its target's receptor at exactly t + d: it is added at the start
 * of step n + d/dt, before that step's integration. Delays are at least one
 * step, which is why step 4 may run after step 2 without a race, and why the
 * sum in a slot is complete before it is read. Fixed-point addition is
 * associative, so the order of deliveries never changes a result. A backend
 * may overlap neighbouring steps where nothing can tell: the CPU backend's
 * threads update a chunk in step n + 1 while other chunks' step n is still
 * being delivered and recorded (docs/engine.md, Threads).
 */
#ifndef NK_BACKEND_H
#define NK_BACKEND_H

#include <stddef.h>

struct nk_net;

typedef struct nk_backend {
    const char *name;
    /* 0 when the backend can run here, else a negative code and a message. */
    int (*available)(char *err, size_t errlen);
    /* Brings code and buffers in line with the network description. */
    int (*build)(struct nk_net *net, char *err, size_t errlen);
    /* Takes one step (steps 1-5 above). Returns 0 or a negative code. */
    int (*step)(struct nk_net *net, char *err, size_t errlen);
    /* Frees what build made. */
    void (*release)(struct nk_net *net);
    /* NULL when the host's arrays are the network's at all times. Else
     * to_device 1 copies the host's states, ring buffers and weights to
     * where the steps run (at the start of a run), and 0 copies them back
     * (at its end and before a checkpoint). */
    int (*sync)(struct nk_net *net, int to_device, char *err, size_t errlen);
    /* What the built network runs on, in words; nonzero (or NULL): say
     * its thread count. */
    int (*describe)(const struct nk_net *net, char *buf, size_t len);
    /* Threads the built network runs on (NULL: one). */
    int (*threads)(const struct nk_net *net);
    /* 1: the steps run on a GPU (a profile says so instead of a thread count). */
    int gpu;
} nk_backend;

extern const nk_backend nk_backend_cpu;
extern const nk_backend nk_backend_cuda;

#endif
