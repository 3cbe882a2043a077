/* gexf.c - Neurokernel GEXF files (current format and legacy v0.1). */
#include "internal.h"

int nk_load_gexf(nk_net *net, const char *path, nk_gexf_result **out)
{
    if (out)
        *out = NULL;
    return nk_fail(net->ctx, NK_ENOTSUP, "'%s': GEXF loading is not built yet", path);
}

void nk_gexf_result_free(nk_gexf_result *r) { (void)r; }
