/* writer.h - a thread that does the HDF5 writing of a results file.
 *
 * The step loop must not stall on the disk (a flush with its fsync can take
 * a second on a busy file system), so it hands filled buffers to a writer
 * thread that owns the nk_h5out handle for the whole write phase and makes
 * every HDF5 call on it:
 *
 *   h = nk_h5out_open(...); nk_h5out_spikes/report/table/attr...;
 *   nk_h5out_begin(h, ...);
 *   w = nk_writer_start(h, ...);            h now belongs to w
 *   each step:  nk_writer_spikes / nk_writer_rows (arrays given away)
 *   now and then: nk_writer_flush
 *   at the end: nk_writer_finish(w, complete, ...)   closes h, frees w
 *
 * Work is done in the order it was queued. Queuing copies nothing: the
 * writer takes ownership of the malloc'ed arrays and frees them when done
 * (also when the work is dropped or refused).
 *
 * Back-pressure: the bytes of the arrays queued and not yet written are
 * counted; a call that would take the count over the limit (256 MiB by
 * default, nk_writer_set_limit) waits until the writer has caught up. A
 * single piece of work larger than the limit waits for an empty queue and
 * is then accepted. This is the only time a queuing call blocks.
 *
 * Errors: the library never prints and never exits. The first failure is
 * kept and fails the writer: a failure in the thread (an HDF5 or
 * file-system error such as a full disk, NK_H5OUT_EIO: "cannot write the
 * rows of /report/exc/data in '/data/run.h5.part': No space left on device
 * (file write failed)"), or a bad argument to a queuing call
 * (NK_H5OUT_EINVAL, detected at once: "... invalid table handle 7"). From
 * then on every queuing call returns that first code without queuing,
 * work queued after the failing piece (or after the bad call) is dropped
 * (its arrays freed), while work queued before a bad call is still
 * written; the message is available from nk_writer_error /
 * nk_writer_sync / nk_writer_finish, and nk_writer_finish leaves
 * PATH.part instead of renaming it. The producer sees a failure of the
 * thread at its first call after the thread met it.
 *
 * Threads: the queuing functions, nk_writer_sync and nk_writer_finish are
 * meant for one producer thread (they lock, so several producers are safe,
 * but their work is then interleaved in no particular order);
 * nk_writer_error may be called from any thread. The writer thread blocks
 * all signals, so a SIGINT handler runs in the producer's threads. While
 * a writer runs, other threads may make HDF5 calls (other h5out handles,
 * reading files) only with a thread-safe HDF5 build (Debian's is; see
 * H5is_library_threadsafe); with another build they must not. */
#ifndef NK_WRITER_H
#define NK_WRITER_H

#include "h5out.h"

#include <stddef.h>
#include <stdint.h>

typedef struct nk_writer nk_writer; /* opaque */

/* Default limit on queued bytes (256 MiB). */
#define NK_WRITER_LIMIT ((size_t)256 << 20)

/* Takes ownership of H, which must be in the write phase (past a
 * successful nk_h5out_begin), and starts the writer thread. Returns the
 * writer, or NULL with err filled (H NULL or still in its setup phase, no
 * memory, no thread) - H then still belongs to the caller. */
nk_writer *nk_writer_start(nk_h5out *h, char *err, size_t errlen);

/* Sets the limit on queued bytes (0: no limit) for calls from now on.
 * For tests (a tiny limit exercises the back-pressure) and memory-tight
 * runs. */
void nk_writer_set_limit(nk_writer *w, size_t bytes);

/* Queues N spikes for spike index IDX (nk_h5out_append_spikes): T_MS[N]
 * and NODE_IDS[N], malloc'ed; the writer takes ownership of both in every
 * case (they may be NULL when N is 0: then nothing is queued). Returns 0
 * (queued), or NK_H5OUT_EINVAL when W is NULL, or the code of the first
 * failure so far: NK_H5OUT_EINVAL when this call's IDX is out of range or
 * an array is NULL with N > 0 (this fails the writer), NK_H5OUT_EIO for a
 * failure of the thread. Nothing is queued on failure. */
int nk_writer_spikes(nk_writer *w, int idx, double *t_ms, uint64_t *node_ids, size_t n);

/* Queues NROWS rows for table index IDX (nk_h5out_append_rows): VALUES
 * holds NROWS * width values (nk_h5out_width), malloc'ed; the writer
 * takes ownership in every case (NULL allowed when NROWS is 0). Returns
 * as nk_writer_spikes. */
int nk_writer_rows(nk_writer *w, int idx, double *values, size_t nrows);

/* Queues a flush (nk_h5out_flush: write buffers, H5Fflush, fsync), unless
 * the last piece of work queued is already a flush that has not started.
 * Does not wait for it. Returns 0, NK_H5OUT_EINVAL (W NULL) or the first
 * failure so far. */
int nk_writer_flush(nk_writer *w);

/* Counters, for progress displays and tests. */
typedef struct {
    size_t queued_bytes;  /* bytes of arrays queued and not yet written */
    size_t max_bytes;     /* the most queued_bytes has been */
    uint64_t jobs_queued; /* pieces of work queued (flushes included) */
    uint64_t jobs_done;   /* ... and done or dropped */
    uint64_t waits;       /* queuing calls that waited for room */
} nk_writer_stats;

/* Fills *st with the current counters (zeros when W is NULL). Does not
 * wait (beyond the mutex). */
void nk_writer_get_stats(nk_writer *w, nk_writer_stats *st);

/* Waits until everything queued before the call has been done (or
 * dropped). Returns 0 or the first failure so far, with its message in
 * err (err may be NULL when errlen is 0). */
int nk_writer_sync(nk_writer *w, char *err, size_t errlen);

/* Does not wait. Returns 0, or the code of the writer's first failure so
 * far (of the thread, or a bad argument) with its message in err. */
int nk_writer_error(nk_writer *w, char *err, size_t errlen);

/* Waits for the queue to drain, stops and joins the thread, closes the
 * file and frees W (always; W NULL returns 0).
 * complete=1 and no failure so far: nk_h5out_close(h, 1): PATH.part is
 *   renamed to PATH; a failure there is returned.
 * complete=1 after a failure: the file is closed keeping PATH.part (and
 *   what was written before the failure) and the first failure is
 *   returned, its message followed by "; the partial results are left in
 *   'PATH.part'".
 * complete=0: nk_h5out_close(h, 0) (PATH.part kept); returns the first
 *   failure, if any, else what the close returned.
 * Returns 0, or NK_H5OUT_EIO / NK_H5OUT_EINVAL (the first failure's code)
 * with err filled. */
int nk_writer_finish(nk_writer *w, int complete, char *err, size_t errlen);

#endif
