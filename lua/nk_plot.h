/* nk_plot.h - nk.plot: raster, trace and rate plots of monitors, drawn with
 * cairo to PNG, SVG or PDF, or previewed on the terminal. */
#ifndef NK_PLOT_H
#define NK_PLOT_H

#include <lua.h>

/* Pushes the nk.plot table. */
int nk_plot_open(lua_State *L);

#endif
