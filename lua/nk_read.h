/* nk_read.h - nk.read: an HDF5 file's contents as Lua tables.
 *
 * The semantics (what groups, datasets and attributes become, the options,
 * the errors) are described at the top of nk_read.c and in
 * docs/results-file.md, "Reading results back: nk.read". */
#ifndef NK_READ_H
#define NK_READ_H

#include <lua.h>

/* nk.read(path [, subpath] [, opts]): pushes a table mirroring the HDF5
 * file at path (or the value of the object at subpath) and returns 1.
 * Raises a Lua error naming the file and what was wrong (not a file, not
 * HDF5, no such object, over opts.max_values, ...); holds nothing after
 * returning or raising. Registered in the nk table as "read". */
int nk_lua_read(lua_State *L);

#endif
