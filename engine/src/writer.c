/* writer.c - a thread that does the HDF5 writing of a results file; see
 * writer.h.
 *
 * One mutex guards the queue and the shared state; two condition
 * variables carry the signals: `work` (producer -> thread: something was
 * queued, or stop) and `done` (thread -> producer: a job was finished or
 * dropped, so queued bytes fell and sync may be satisfied; also a failure
 * was recorded). The thread holds the mutex only to pop a job and to
 * account for it; HDF5 work runs unlocked, so the producer never waits for
 * the disk except under back-pressure or in sync/finish.
 *
 * Ordering: jobs form a FIFO, and are counted: `queued` when appended,
 * `finished` when done or dropped. Sync waits for `finished` to reach the
 * `queued` it saw on entry. A job's bytes stay counted until it is
 * finished, so back-pressure limits the memory held by queued and running
 * jobs together.
 *
 * The handle h is touched only by the thread between nk_writer_start's
 * pthread_create and nk_writer_finish's pthread_join (both are
 * happens-before edges); the table widths and counts the producer needs
 * to check its calls are copied at start (they are fixed in the write
 * phase). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "writer.h"

#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { JOB_SPIKES, JOB_ROWS, JOB_FLUSH };

struct job {
    struct job *next;
    int kind;
    int idx;
    uint64_t seq;  /* position in the queue since start: 0, 1, ... */
    double *a;     /* spike times (ms) or row values, owned */
    uint64_t *ids; /* spike node ids, owned */
    size_t n;      /* spikes or rows */
    size_t bytes;  /* counted against the limit */
};

struct nk_writer {
    nk_h5out *h;         /* owned; used by the thread only, until joined */
    char *file;          /* PATH.part, owned (for messages) */
    int nspikes;         /* spike indices of h */
    int ntables;         /* table indices of h */
    int64_t *width;      /* [ntables] values per row, owned */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t work; /* queue not empty, or stop */
    pthread_cond_t done; /* a job finished or dropped, or a failure recorded */
    /* Under mu: */
    struct job *head, *tail;
    uint64_t queued, finished; /* jobs appended / done or dropped */
    size_t bytes;              /* bytes of jobs not finished */
    size_t max_bytes;          /* the most bytes has been */
    uint64_t waits;            /* queuing calls that waited for room */
    size_t limit;              /* 0: none */
    int stop;                  /* finish: drain, then end the thread */
    int rc;                    /* first failure, 0 when none */
    uint64_t fail_seq;         /* jobs from this seq on are dropped */
    char msg[512];             /* its message */
};

/* Records the first failure (call with mu held); the jobs from FROM_SEQ on
 * will be dropped. */
static void fail_locked(nk_writer *w, int rc, uint64_t from_seq, const char *fmt, ...)
{
    if (w->rc)
        return;
    w->rc = rc;
    w->fail_seq = from_seq;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->msg, sizeof w->msg, fmt, ap);
    va_end(ap);
    pthread_cond_broadcast(&w->done);
}

static void free_job(struct job *j)
{
    free(j->a);
    free(j->ids);
    free(j);
}

/* The thread: pops jobs in order and runs them on h until stopped with an
 * empty queue. After a failure, the jobs queued after the failing one (or,
 * for an argument error, after the bad call) are only freed. */
static void *writer_main(void *arg)
{
    nk_writer *w = arg;
    char err[512];
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->head && !w->stop)
            pthread_cond_wait(&w->work, &w->mu);
        struct job *j = w->head;
        if (!j)
            break; /* stop, and nothing left */
        w->head = j->next;
        if (!w->head)
            w->tail = NULL;
        int skip = w->rc != 0 && j->seq >= w->fail_seq;
        pthread_mutex_unlock(&w->mu);

        int rc = 0;
        err[0] = '\0';
        if (!skip) {
            switch (j->kind) {
            case JOB_SPIKES:
                rc = nk_h5out_append_spikes(w->h, j->idx, j->a, j->ids, j->n, err, sizeof err);
                break;
            case JOB_ROWS:
                rc = nk_h5out_append_rows(w->h, j->idx, j->a, j->n, err, sizeof err);
                break;
            default:
                rc = nk_h5out_flush(w->h, err, sizeof err);
                break;
            }
        }
        size_t bytes = j->bytes;
        uint64_t seq = j->seq;
        free_job(j);

        pthread_mutex_lock(&w->mu);
        if (rc)
            fail_locked(w, rc, seq + 1, "%s", err[0] ? err : "write failed");
        w->bytes -= bytes;
        w->finished++;
        pthread_cond_broadcast(&w->done);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

nk_writer *nk_writer_start(nk_h5out *h, char *err, size_t errlen)
{
    if (!h || !nk_h5out_writing(h)) {
        if (err && errlen)
            snprintf(err, errlen, "cannot start the writer: %s",
                     h ? "the output file is still in its setup phase" : "no output file");
        return NULL;
    }
    nk_writer *w = calloc(1, sizeof *w);
    const char *file = nk_h5out_file(h);
    int nt = nk_h5out_ntables(h);
    if (w) {
        w->file = malloc(strlen(file) + 1);
        w->width = malloc((size_t)(nt > 0 ? nt : 1) * sizeof *w->width);
    }
    if (!w || !w->file || !w->width) {
        if (w) {
            free(w->file);
            free(w->width);
            free(w);
        }
        if (err && errlen)
            snprintf(err, errlen, "cannot start the writer of '%s': out of memory", file);
        return NULL;
    }
    strcpy(w->file, file);
    w->h = h;
    w->nspikes = nk_h5out_nspikes(h);
    w->ntables = nt;
    for (int i = 0; i < nt; i++)
        w->width[i] = nk_h5out_width(h, i);
    w->limit = NK_WRITER_LIMIT;
    int prc = pthread_mutex_init(&w->mu, NULL);
    int crc1 = pthread_cond_init(&w->work, NULL);
    int crc2 = pthread_cond_init(&w->done, NULL);
    int trc = -1;
    if (prc == 0 && crc1 == 0 && crc2 == 0) {
        /* The thread blocks all signals, so that they reach the producer
         * (whose handler sets the flag the step loop checks). */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        trc = pthread_create(&w->thread, NULL, writer_main, w);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    if (trc != 0) {
        if (err && errlen)
            snprintf(err, errlen, "cannot start the writer of '%s': %s", w->file,
                     strerror(trc > 0 ? trc : prc ? prc : crc1 ? crc1 : crc2));
        if (crc2 == 0)
            pthread_cond_destroy(&w->done);
        if (crc1 == 0)
            pthread_cond_destroy(&w->work);
        if (prc == 0)
            pthread_mutex_destroy(&w->mu);
        free(w->file);
        free(w->width);
        free(w);
        return NULL;
    }
    return w;
}

void nk_writer_set_limit(nk_writer *w, size_t bytes)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->limit = bytes;
    pthread_cond_broadcast(&w->done);
    pthread_mutex_unlock(&w->mu);
}

/* Whether adding ADD bytes must wait (call with mu held): the queue is not
 * empty and would go over the limit. */
static int over_limit(const nk_writer *w, size_t add)
{
    return w->limit && w->bytes > 0 && (w->bytes >= w->limit || add > w->limit - w->bytes);
}

/* Appends J to the queue (the writer owns it and its arrays from now on),
 * waiting while the queue is over its limit. J NULL means out of memory.
 * BAD, when not NULL, is an argument error found by the caller. Both fail
 * the writer (the work queued before still runs). Returns 0 or the first
 * failure's code (J then freed). */
static int enqueue(nk_writer *w, struct job *j, const char *bad)
{
    pthread_mutex_lock(&w->mu);
    if (bad)
        fail_locked(w, NK_H5OUT_EINVAL, w->queued, "cannot queue work for '%s': %s", w->file, bad);
    else if (!j)
        fail_locked(w, NK_H5OUT_EIO, w->queued, "cannot queue work for '%s': out of memory", w->file);
    if (!w->rc && over_limit(w, j->bytes)) {
        w->waits++;
        while (!w->rc && over_limit(w, j->bytes))
            pthread_cond_wait(&w->done, &w->mu);
    }
    int rc = w->rc;
    if (!rc) {
        j->seq = w->queued;
        j->next = NULL;
        if (w->tail)
            w->tail->next = j;
        else
            w->head = j;
        w->tail = j;
        w->bytes += j->bytes;
        if (w->bytes > w->max_bytes)
            w->max_bytes = w->bytes;
        w->queued++;
        pthread_cond_signal(&w->work);
    }
    pthread_mutex_unlock(&w->mu);
    if (rc && j)
        free_job(j);
    return rc;
}

/* A new job owning A and IDS, or NULL (then A and IDS are freed). */
static struct job *new_job(int kind, int idx, double *a, uint64_t *ids, size_t n, size_t bytes)
{
    struct job *j = malloc(sizeof *j);
    if (!j) {
        free(a);
        free(ids);
        return NULL;
    }
    j->next = NULL;
    j->seq = 0;
    j->kind = kind;
    j->idx = idx;
    j->a = a;
    j->ids = ids;
    j->n = n;
    j->bytes = bytes;
    return j;
}

/* The first failure's code, or 0. */
static int current_rc(nk_writer *w)
{
    pthread_mutex_lock(&w->mu);
    int rc = w->rc;
    pthread_mutex_unlock(&w->mu);
    return rc;
}

int nk_writer_spikes(nk_writer *w, int idx, double *t_ms, uint64_t *node_ids, size_t n)
{
    if (!w) {
        free(t_ms);
        free(node_ids);
        return NK_H5OUT_EINVAL;
    }
    char bad[128] = "";
    if (idx < 0 || idx >= w->nspikes)
        snprintf(bad, sizeof bad, "invalid spike handle %d", idx);
    else if (n > 0 && (!t_ms || !node_ids))
        snprintf(bad, sizeof bad, "no spike data given");
    if (!bad[0] && n == 0) {
        free(t_ms);
        free(node_ids);
        return current_rc(w);
    }
    if (bad[0]) {
        free(t_ms);
        free(node_ids);
        return enqueue(w, NULL, bad);
    }
    struct job *j = new_job(JOB_SPIKES, idx, t_ms, node_ids, n, n * (sizeof *t_ms + sizeof *node_ids));
    return enqueue(w, j, NULL);
}

int nk_writer_rows(nk_writer *w, int idx, double *values, size_t nrows)
{
    if (!w) {
        free(values);
        return NK_H5OUT_EINVAL;
    }
    char bad[128] = "";
    if (idx < 0 || idx >= w->ntables)
        snprintf(bad, sizeof bad, "invalid table handle %d", idx);
    else if (nrows > 0 && !values)
        snprintf(bad, sizeof bad, "no row data given");
    if (bad[0] || nrows == 0) {
        free(values);
        return bad[0] ? enqueue(w, NULL, bad) : current_rc(w);
    }
    size_t bytes = nrows * (size_t)w->width[idx] * sizeof *values;
    return enqueue(w, new_job(JOB_ROWS, idx, values, NULL, nrows, bytes), NULL);
}

int nk_writer_flush(nk_writer *w)
{
    if (!w)
        return NK_H5OUT_EINVAL;
    pthread_mutex_lock(&w->mu);
    int rc = w->rc;
    int pending = w->tail && w->tail->kind == JOB_FLUSH;
    pthread_mutex_unlock(&w->mu);
    if (rc || pending)
        return rc;
    return enqueue(w, new_job(JOB_FLUSH, 0, NULL, NULL, 0, 0), NULL);
}

void nk_writer_get_stats(nk_writer *w, nk_writer_stats *st)
{
    memset(st, 0, sizeof *st);
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    st->queued_bytes = w->bytes;
    st->max_bytes = w->max_bytes;
    st->jobs_queued = w->queued;
    st->jobs_done = w->finished;
    st->waits = w->waits;
    pthread_mutex_unlock(&w->mu);
}

/* Copies the first failure (call with mu held). */
static int report_locked(nk_writer *w, char *err, size_t errlen)
{
    if (w->rc && err && errlen)
        snprintf(err, errlen, "%s", w->msg);
    return w->rc;
}

int nk_writer_sync(nk_writer *w, char *err, size_t errlen)
{
    if (!w) {
        if (err && errlen)
            snprintf(err, errlen, "cannot sync: no writer");
        return NK_H5OUT_EINVAL;
    }
    pthread_mutex_lock(&w->mu);
    uint64_t target = w->queued;
    while (w->finished < target)
        pthread_cond_wait(&w->done, &w->mu);
    int rc = report_locked(w, err, errlen);
    pthread_mutex_unlock(&w->mu);
    return rc;
}

int nk_writer_error(nk_writer *w, char *err, size_t errlen)
{
    if (!w)
        return 0;
    pthread_mutex_lock(&w->mu);
    int rc = report_locked(w, err, errlen);
    pthread_mutex_unlock(&w->mu);
    return rc;
}

int nk_writer_finish(nk_writer *w, int complete, char *err, size_t errlen)
{
    if (!w)
        return 0;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_signal(&w->work);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL); /* drains the queue first */

    int rc;
    if (w->rc) {
        /* The handle may not know of the failure (an argument error), so
         * close it as incomplete: PATH.part stays, with what was written. */
        nk_h5out_close(w->h, 0, NULL, 0);
        rc = w->rc;
        if (err && errlen) {
            if (complete)
                snprintf(err, errlen, "%s; the partial results are left in '%s'", w->msg, w->file);
            else
                snprintf(err, errlen, "%s", w->msg);
        }
    } else {
        rc = nk_h5out_close(w->h, complete, err, errlen);
    }
    pthread_cond_destroy(&w->done);
    pthread_cond_destroy(&w->work);
    pthread_mutex_destroy(&w->mu);
    free(w->file);
    free(w->width);
    free(w);
    return rc;
}
