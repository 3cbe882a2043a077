/* nk_plot.c - nk.plot (being written). */
#include <lauxlib.h>

#include "nk_plot.h"

int nk_plot_open(lua_State *L)
{
    lua_newtable(L);
    return 1;
}
