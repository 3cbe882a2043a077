/* h5out.h - the HDF5 results writer (SONATA spike reports).
 *
 * Writes one HDF5 file in the SONATA layout that libsonata, bmtk and h5py
 * read:
 *
 *   /                       attrs: magic (uint32 0x0A7A), version (uint32[2]
 *                           = {0, 1}), plus caller metadata (nk_h5out_attr_*)
 *   /spikes/<population>    attr:  sorting (enum over uint8: none=0,
 *                                   by_id=1, by_time=2), scalar
 *   /spikes/<population>/timestamps  float64, 1-D, chunked, unlimited;
 *                                    attr units = "ms" (vlen UTF-8 string)
 *   /spikes/<population>/node_ids    uint64, 1-D, chunked, unlimited
 *
 * and, declared by the caller anywhere else in the file (nk_h5out_report,
 * nk_h5out_table), SONATA reports (sampled variables, one row per sample
 * time) and plain growing tables:
 *
 *   GROUP                       attr variables (vlen string), optional
 *   GROUP/data                  float32 [rows x ncols], chunked, unlimited
 *                               rows; attr units (vlen string), optional
 *   GROUP/mapping/node_ids      uint64 [nnodes]
 *   GROUP/mapping/index_pointers uint64 [nnodes + 1]: node k's columns
 *                               are index_pointers[k] .. [k+1]-1
 *   GROUP/mapping/element_ids   uint32 [ncols]
 *   GROUP/mapping/time          float64 [3] = {t0, t0 + rows * step, step}
 *                               (ms), attr units = "ms"; time[1] is
 *                               rewritten at every flush and at close, so
 *                               a SWMR reader may see more rows than it
 *                               counts: take the rows from data
 *   PATH                        float32 or float64, [rows] or
 *                               [rows x ncols], chunked, unlimited rows;
 *                               attr units, optional
 *
 * Crash safety. The file is written as PATH.part and renamed to PATH only by
 * nk_h5out_close(h, 1, ...). It is written in SWMR mode (HDF5 >= 1.10 file
 * format), so a reader opening it with H5F_ACC_RDONLY | H5F_ACC_SWMR_READ
 * (C API, h5py's File(..., swmr=True)) sees everything up to the last
 * nk_h5out_flush while the writer runs, and a crash leaves a PATH.part that
 * holds the data of the last flush. Note: the HDF5 1.10 tools h5dump and
 * h5ls do not open files in SWMR-read mode, so they refuse a PATH.part
 * being written ("file is already open for write"); to look at one, copy
 * it and run `h5clear -s` on the copy. While a handle is open, PATH.part is
 * also locked against a second writer (see nk_h5out_open).
 *
 * SWMR forbids creating objects or attributes once it has started, so a
 * handle has two phases:
 *   1. setup:  nk_h5out_open, then nk_h5out_spikes / nk_h5out_report /
 *              nk_h5out_table / nk_h5out_attr_* / nk_h5out_obj_attr_* in
 *              any order;
 *   2. write:  nk_h5out_begin, then nk_h5out_append_spikes /
 *              nk_h5out_append_rows / nk_h5out_flush any number of times;
 * and ends with nk_h5out_close. Calling a function in the wrong phase
 * returns NK_H5OUT_EINVAL.
 *
 * Conventions: the library never prints and never exits. Functions return 0
 * (or an index >= 0) on success, or a negative code: NK_H5OUT_EINVAL (-1,
 * the engine's NK_EINVAL) for invalid arguments or misuse,
 * NK_H5OUT_EIO (-3, the engine's NK_EIO) for file-system / HDF5 failures.
 * On failure a one-line message naming the file and what failed is written
 * into err (NUL-terminated, truncated to errlen; err may be NULL when
 * errlen is 0). HDF5's own error-stack printing is suppressed for the
 * duration of every call and restored afterwards. The strings passed in are
 * copied when needed; the caller keeps ownership of all its buffers.
 *
 * Threads: one handle is used by one thread at a time (handing it to
 * another thread, as writer.c does, needs a happens-before edge such as a
 * mutex or pthread_create). Different handles may be used by different
 * threads at once only when HDF5 is built thread-safe (Debian's is; see
 * H5is_library_threadsafe): the module's own error state is per thread. */
#ifndef NK_H5OUT_H
#define NK_H5OUT_H

#include <stddef.h>
#include <stdint.h>

#define NK_H5OUT_EINVAL (-1) /* invalid argument or call in the wrong phase */
#define NK_H5OUT_EIO    (-3) /* file system or HDF5 failure */

typedef struct nk_h5out nk_h5out; /* opaque */

enum { NK_H5_SORT_NONE = 0, NK_H5_SORT_BY_ID = 1, NK_H5_SORT_BY_TIME = 2 };

/* Opens PATH.part for writing and returns a new handle in the setup phase,
 * owned by the caller until nk_h5out_close. The handle holds an exclusive
 * lock on PATH.part (fcntl open-file-description lock, Linux) until
 * close; a PATH.part locked by a live writer (another process or handle)
 * is refused in both modes ("... is being written by another process").
 *
 * append=0: creates PATH.part, truncating any stale PATH.part. An
 *   existing PATH is left alone until the rename at a complete close, which
 *   replaces it.
 * append=1: continues an earlier run:
 *   - only PATH exists: PATH is renamed to PATH.part and opened read-write;
 *     if opening then fails it is renamed back to PATH (but after a
 *     successful open, a close with complete=0 leaves only PATH.part,
 *     which the next append run continues);
 *   - only PATH.part exists (a crashed or incomplete run): it is reused: its
 *     superblock "file is open" flags are cleared (like `h5clear -s`), its
 *     end-of-allocation is raised to the end of the file (like
 *     `h5clear --increment=0`) so nothing written after the last flush is
 *     overwritten, each population whose timestamps and node_ids
 *     lengths differ is cut to the shorter one, and the stop time
 *     (time[1]) of every report in the file is recomputed from its number
 *     of rows (tables keep the length the file gives them). Data up to
 *     the crashed run's last flush is kept; spikes and rows appended after
 *     it are lost (in tests, always exactly; in principle some may
 *     survive);
 *   - both exist: refused (NK_H5OUT_EIO), because it is ambiguous which one
 *     to continue; the message names both files;
 *   - neither exists: creates PATH.part as for append=0.
 *   An existing file must use the HDF5 1.10 format (superblock >= 3, as
 *   written by this module), else SWMR writing is impossible and the open
 *   is refused.
 * Returns NULL on failure with err filled (nothing is left open; a
 * PATH.part created by this call is removed, a PATH renamed by it is
 * renamed back). */
nk_h5out *nk_h5out_open(const char *path, int append, char *err, size_t errlen);

/* Setup phase only. Declares the spike population POPULATION (a non-empty
 * name without '/', not "." or "..") with the given SONATA sorting
 * (NK_H5_SORT_*), creating /spikes/POPULATION and its two datasets, or, when
 * appending and the population exists, opening them (their types must be an
 * 8-byte float and an 8-byte integer, 1-D, chunked, unlimited) and setting
 * its sorting attribute to SORTING. Declaring the same population twice
 * returns the same index (the later sorting wins). SORTING is recorded,
 * not checked: when appending, the caller must make sure it holds for the
 * whole dataset, earlier runs' spikes included.
 * Returns the spike handle index (>= 0) for nk_h5out_append_spikes, or
 * NK_H5OUT_EINVAL (bad argument, wrong phase) / NK_H5OUT_EIO (HDF5
 * failure) with err filled; on failure the handle stays usable. */
int nk_h5out_spikes(nk_h5out *h, const char *population, int sorting, char *err, size_t errlen);

/* Setup phase only. Set a metadata attribute NAME on the root group,
 * replacing any existing attribute of that name (whatever its type).
 * Strings are stored as scalar variable-length UTF-8 strings, doubles as
 * float64, u64 as uint64. NAME must be non-empty and not "magic" or
 * "version" (reserved for the SONATA header); VALUE must not be NULL.
 * Return 0, or NK_H5OUT_EINVAL / NK_H5OUT_EIO with err filled. */
int nk_h5out_attr_str(nk_h5out *h, const char *name, const char *value, char *err, size_t errlen);
int nk_h5out_attr_double(nk_h5out *h, const char *name, double value, char *err, size_t errlen);
int nk_h5out_attr_u64(nk_h5out *h, const char *name, uint64_t value, char *err, size_t errlen);

/* Setup phase only. Declares the SONATA report group GROUP (an absolute
 * path such as "/report/exc"; '/'-separated names, none empty, "." or "..";
 * missing parent groups are created) with the layout at the top of this
 * file: NCOLS >= 1 columns (one per recorded element), sampled every
 * STEP_MS (> 0) from T0 (ms). The mapping: NODE_IDS[NNODES] (NNODES >= 1),
 * INDEX_POINTERS[NNODES + 1] (must start at 0, not decrease and end at
 * NCOLS; NULL means one column per node, which needs NNODES == NCOLS) and
 * ELEMENT_IDS[NCOLS] (NULL means all 0). UNITS (the attribute `units` of
 * data) and VARIABLES (the attribute `variables` of GROUP, e.g.
 * "v,g_exc") are written when not NULL.
 *
 * When GROUP exists in the file (appending), it is reopened instead: it
 * must be a report of this layout with NCOLS columns (else NK_H5OUT_EINVAL,
 * with a message naming GROUP and both widths) and the same mapping and
 * step (else NK_H5OUT_EINVAL); new rows continue after the existing ones,
 * time[0] and the step are kept from the file (T0 is ignored) and time[1]
 * is recomputed from the rows. UNITS / VARIABLES, when given, replace the
 * attributes.
 *
 * A GROUP declared twice on one handle (as a report or table) is refused
 * (NK_H5OUT_EINVAL). The arrays are copied; the caller keeps them.
 * Returns a table index (>= 0; reports and tables share one index space,
 * separate from the spike indices) for nk_h5out_append_rows, or
 * NK_H5OUT_EINVAL / NK_H5OUT_EIO with err filled; on failure the handle
 * stays usable (objects created before the failure stay in the file). */
int nk_h5out_report(nk_h5out *h, const char *group, const uint64_t *node_ids, size_t nnodes,
                    const uint64_t *index_pointers, const uint32_t *element_ids, size_t ncols, double t0,
                    double step_ms, const char *units, const char *variables, char *err, size_t errlen);

/* Setup phase only. Declares a plain growing dataset PATH (absolute, as for
 * reports; missing groups created): 1-D [rows] when NCOLS == 0, else 2-D
 * [rows x NCOLS]; float64 when F64, else float32; attribute `units` when
 * UNITS is not NULL. When PATH exists (appending) it is reopened: it must
 * be a chunked, extendible float dataset of the same shape (else
 * NK_H5OUT_EINVAL naming PATH and both widths); its type in the file is
 * kept (F64 is then ignored) and UNITS, when given, replaces the
 * attribute. Returns a table index (same index space as reports), or
 * NK_H5OUT_EINVAL / NK_H5OUT_EIO with err filled. */
int nk_h5out_table(nk_h5out *h, const char *path, size_t ncols, int f64, const char *units, char *err,
                   size_t errlen);

/* Setup phase only. Sets attribute NAME on the existing object (group or
 * dataset) at the absolute PATH ("/" is the root), replacing any attribute
 * of that name whatever its type: a scalar vlen UTF-8 string, or float64
 * VALUES[N] (N >= 1; a scalar when N == 1, else 1-D [N]). On the root,
 * "magic" and "version" are reserved. Returns 0, or NK_H5OUT_EINVAL (bad
 * argument, no object at PATH, wrong phase) / NK_H5OUT_EIO with err
 * filled. */
int nk_h5out_obj_attr_str(nk_h5out *h, const char *path, const char *name, const char *value, char *err,
                          size_t errlen);
int nk_h5out_obj_attr_double(nk_h5out *h, const char *path, const char *name, const double *values, size_t n,
                             char *err, size_t errlen);

/* Setup phase only (resuming from a checkpoint). Cuts spike population IDX
 * to its first N spikes, or table IDX to its first ROWS rows, when it is
 * longer (a report's time[1] follows). Returns 0, or NK_H5OUT_EINVAL /
 * NK_H5OUT_EIO with err filled. */
int nk_h5out_truncate_spikes(nk_h5out *h, int idx, int64_t n, char *err, size_t errlen);
int nk_h5out_truncate_rows(nk_h5out *h, int idx, int64_t rows, char *err, size_t errlen);

/* Ends the setup phase: flushes the file and starts SWMR writing. From now
 * on nothing can be declared and no attributes set. Returns 0, or
 * NK_H5OUT_EINVAL (called twice) / NK_H5OUT_EIO (HDF5 refused SWMR) with err
 * filled; after an EIO the handle can only be closed. */
int nk_h5out_begin(nk_h5out *h, char *err, size_t errlen);

/* Write phase only. Appends n spikes (t_ms[i] in ms, node_ids[i] 0-based)
 * to spike handle idx. n may be 0 (then the arrays may be NULL). The data is
 * copied (into a 64 Ki-spike buffer per population that is written out
 * when full, so many small appends cost little); it becomes visible to
 * readers at the next nk_h5out_flush or at close. Values are not checked.
 * Returns 0, or NK_H5OUT_EINVAL (idx out of range, NULL arrays, wrong
 * phase) / NK_H5OUT_EIO (write failure) with err filled. After an EIO the
 * handle is marked failed: later appends/flushes return NK_H5OUT_EIO and a
 * complete close leaves PATH.part instead of renaming it. */
int nk_h5out_append_spikes(nk_h5out *h, int idx, const double *t_ms, const uint64_t *node_ids, size_t n,
                           char *err, size_t errlen);

/* Write phase only. Appends NROWS rows to table (or report) IDX: VALUES
 * holds NROWS * ncols values row-major (NROWS values for a 1-D table),
 * given as double and converted to the dataset's type (float32 rounds to
 * nearest; magnitudes beyond its range become +-inf). NROWS may be 0 (then
 * VALUES may be NULL). The data is copied into a buffer of about 1 MiB per
 * table (allocated on first use) that is written out when full, and at
 * nk_h5out_flush and close; it becomes visible to readers at the next
 * flush. Returns 0, or NK_H5OUT_EINVAL (idx out of range, NULL values,
 * wrong phase) / NK_H5OUT_EIO (write failure, out of memory; the handle is
 * then marked failed as for spikes) with err filled. */
int nk_h5out_append_rows(nk_h5out *h, int idx, const double *values, size_t nrows, char *err, size_t errlen);

/* Rows in table IDX so far: in the file (for a reopened table, including
 * earlier runs' rows) plus buffered. Any phase. Returns NK_H5OUT_EINVAL
 * when h is NULL or idx out of range. */
int64_t nk_h5out_rows(const nk_h5out *h, int idx);

/* Shape of a handle, for code that queues work for it (writer.c). All
 * fixed once the write phase begins; any phase; no HDF5 calls.
 *   nk_h5out_nspikes / nk_h5out_ntables: number of spike / table indices
 *     (0 when h is NULL);
 *   nk_h5out_width: values per row of table IDX (ncols, or 1 for a 1-D
 *     table), NK_H5OUT_EINVAL when idx is out of range;
 *   nk_h5out_writing: 1 in the write phase (after a successful or failed
 *     nk_h5out_begin), else 0;
 *   nk_h5out_file: the file being written (PATH.part), owned by h. */
int nk_h5out_nspikes(const nk_h5out *h);
int nk_h5out_ntables(const nk_h5out *h);
int64_t nk_h5out_width(const nk_h5out *h, int idx);
int nk_h5out_writing(const nk_h5out *h);
const char *nk_h5out_file(const nk_h5out *h);

/* Writes out everything appended so far, flushes the datasets and the file
 * (so a SWMR reader sees it) and fsyncs PATH.part (so it is durable).
 * Allowed in both phases (in setup it just flushes metadata). Returns 0, or
 * NK_H5OUT_EINVAL (h NULL) / NK_H5OUT_EIO with err filled (handle then
 * marked failed, as above). */
int nk_h5out_flush(nk_h5out *h, char *err, size_t errlen);

/* Closes the file and frees h in all cases (h may be NULL: returns 0).
 * Reports get their final time[1] written.
 * complete=1: flushes, fsyncs, closes and renames PATH.part -> PATH
 *   (replacing an existing PATH), then fsyncs the directory. If the handle
 *   was marked failed, or any of these steps fails, PATH.part is left in
 *   place and NK_H5OUT_EIO is returned with err filled.
 * complete=0: writes out buffered spikes and rows (best effort), closes
 *   and leaves PATH.part (for a failure mid-run); returns 0 unless closing
 *   fails.
 * After a write failure (handle marked failed) that persists, e.g. a full
 * disk, HDF5 could not close the file (and HDF5 1.10 then misbehaves at
 * exit); so when flushing still fails, HDF5's remaining writes are thrown
 * away (Linux): PATH.part keeps what was written before the failure, like
 * a crashed run's file, which append mode recovers.
 * Returns 0 or NK_H5OUT_EIO with err filled. */
int nk_h5out_close(nk_h5out *h, int complete, char *err, size_t errlen);

/* Checks that PATH opens and that every object's header in it reads (each
 * is checksummed): a recovered file is whole. Returns 0 or NK_H5OUT_EIO
 * with err filled. */
int nk_h5out_verify(const char *path, char *err, size_t errlen);

/* Reads the string attribute NAME of the root group of the HDF5 file PATH
 * (read-only; a file marked as open for writing, a .part, is opened in
 * SWMR-read mode), without changing the file. Returns 1 with the value in
 * buf (truncated to buflen; "(not a string)" when the attribute is not a
 * scalar string), 0 when the file has no such attribute, NK_H5OUT_EINVAL
 * when PATH is not an HDF5 file, NK_H5OUT_EIO when it cannot be opened or
 * read; err names the file and the reason. PATH must be a regular file. */
int nk_h5out_root_str(const char *path, const char *name, char *buf, size_t buflen, char *err,
                      size_t errlen);

/* Checks, without creating or changing anything, that PATH.part could be
 * created and later renamed to PATH: the parent directory of PATH exists, is
 * a directory, and is writable and searchable by this process, and neither
 * PATH nor PATH.part is a directory. Meant for early errors before a run
 * (note: root passes the permission test on any directory of a writable
 * file system). Returns 0, or NK_H5OUT_EINVAL (NULL/empty path, path ending
 * in '/') / NK_H5OUT_EIO with a message such as
 * "cannot create 'out/run.h5.part': No such file or directory". */
int nk_h5out_check_writable(const char *path, char *err, size_t errlen);

#endif
