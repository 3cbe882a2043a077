/* jit.c - compiles generated C with the system compiler and loads it.
 *
 * Shared objects are cached by a hash of the source text, the compiler and
 * its flags, under $XDG_CACHE_HOME/nkshell (or ~/.cache/nkshell), a directory
 * created with mode 0700. A compile writes to a private temporary name and
 * renames into place, so concurrent nkshell processes never see half a file.
 * The compiler is the one found at configure time (NK_JIT_CC), or
 * $NKSHELL_CC when set; $NKSHELL_CFLAGS adds flags after nkshell's own.
 *
 * The flags: -O3 -march=native so that the loop over neurons is vectorised
 * for this machine (the key holds this CPU's model and feature flags, so a
 * cache shared between machines never hands one machine code for another),
 * --param=vect-epilogues-nomask=0 (no second, narrower vector copy of
 * each loop for its last few iterations: it halved the compile time of a
 * Hodgkin-Huxley kernel, 5.7 to 2.6 s, and the run time moved by under 5 %),
 * -fno-trapping-math so that the compiler may compute both sides of a
 * branch (no program here reads floating-point exception flags), and
 * -ffp-contract=off so that no multiply-add is fused: every operation is
 * rounded as written, the same on every CPU and on the GPU. Vector and
 * scalar IEEE operations round alike, so vectorising changes no bit.
 * (Generated modules turn GCC's jump threading off themselves, with a
 * pragma: engine/src/codegen.c says why.) */
#include "internal.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef NK_JIT_CC
#define NK_JIT_CC "cc"
#endif

extern char **environ;

static const char *const jit_flags[] = {"-O3",
                                        "-march=native",
                                        "--param=vect-epilogues-nomask=0",
                                        "-fPIC",
                                        "-shared",
                                        "-ffp-contract=off",
                                        "-fno-math-errno",
                                        "-fno-trapping-math",
                                        "-std=c11",
                                        "-w"};
#define NFLAGS (sizeof jit_flags / sizeof *jit_flags)

/* 64-bit FNV-1a, continued from h. */
static uint64_t fnv1a(uint64_t h, const char *s, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        h ^= (unsigned char)s[k];
        h *= 0x100000001b3ull;
    }
    return h;
}

#define MAX_EXTRA 32

/* $NKSHELL_CFLAGS split at spaces into out (at most MAX_EXTRA words); the
 * words point into buf. */
static int extra_flags(char *buf, size_t len, const char **out)
{
    const char *e = getenv("NKSHELL_CFLAGS");
    int n = 0;
    if (!e)
        return 0;
    snprintf(buf, len, "%s", e);
    for (char *p = strtok(buf, " \t"); p && n < MAX_EXTRA; p = strtok(NULL, " \t"))
        out[n++] = p;
    return n;
}

/* This CPU's model name and feature flags (from /proc/cpuinfo), or "". */
static uint64_t cpu_key(void)
{
    uint64_t h = 0xcbf29ce484222325ull;
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return h;
    char line[8192];
    int seen = 0;
    while (seen < 2 && fgets(line, sizeof line, f)) {
        if (!strncmp(line, "model name", 10) || !strncmp(line, "flags", 5)) {
            h = fnv1a(h, line, strlen(line));
            seen++;
        }
    }
    fclose(f);
    return h;
}

static const char *jit_cc(void)
{
    const char *cc = getenv("NKSHELL_CC");
    return (cc && cc[strspn(cc, " \t")]) ? cc : NK_JIT_CC;
}

#define MAX_CC_WORDS 8

/* The compiler's command split at spaces into out (at most MAX_CC_WORDS
 * words, pointing into buf): NKSHELL_CC may carry a wrapper or flags of its
 * own ("ccache gcc", "gcc -O2"), as $CC does for make. */
static int cc_words(char *buf, size_t len, const char **out)
{
    int n = 0;
    snprintf(buf, len, "%s", jit_cc());
    for (char *p = strtok(buf, " \t"); p && n < MAX_CC_WORDS; p = strtok(NULL, " \t"))
        out[n++] = p;
    return n;
}

/* Flags that let the compiler compute something other than what the code
 * says; the generated code relies on every operation being rounded as
 * written (the same bits on every thread count and backend) and on finding
 * values that became NaN or infinite. */
static const char *const unsafe_flags[] = {
    "-ffast-math",        "-Ofast",           "-funsafe-math-optimizations",
    "-fassociative-math", "-freciprocal-math", "-ffinite-math-only",
    "-fno-signed-zeros",  "-ffp-model=fast",  "-fapprox-func"};

/* The first flag of NKSHELL_CFLAGS or NKSHELL_CC that would change results,
 * or NULL. */
static const char *unsafe_flag(const char *const *w, int n)
{
    for (int k = 0; k < n; k++) {
        for (size_t u = 0; u < sizeof unsafe_flags / sizeof *unsafe_flags; u++)
            if (!strcmp(w[k], unsafe_flags[u]))
                return w[k];
        if (!strncmp(w[k], "-ffp-contract=", 14) && strcmp(w[k] + 14, "off"))
            return w[k];
    }
    return NULL;
}

/* While set, compiles poll it (nk_jit_set_interrupt). */
static _Atomic(volatile sig_atomic_t *) jit_interrupt;

void nk_jit_set_interrupt(volatile sig_atomic_t *flag)
{
    atomic_store(&jit_interrupt, flag);
}

/* mkdir -p with mode 0700 for each created component. */
static int mkdirs(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        int rc = mkdir(path, 0700);
        *p = '/';
        if (rc && errno != EEXIST)
            return -1;
    }
    if (mkdir(path, 0700) && errno != EEXIST)
        return -1;
    return 0;
}

int nk_jit_cache_dir(char *out, size_t len, char *err, size_t errlen)
{
    const char *x = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    if (x && *x)
        snprintf(out, len, "%s/nkshell", x);
    else if (home && *home)
        snprintf(out, len, "%s/.cache/nkshell", home);
    else {
        const char *tmp = getenv("TMPDIR");
        snprintf(out, len, "%s/nkshell-cache-%ld", tmp && *tmp == '/' ? tmp : "/tmp",
                 (long)getuid());
    }
    if (mkdirs(out)) {
        snprintf(err, errlen, "cannot create the code cache directory '%s': %s", out,
                 strerror(errno));
        return -1;
    }
    /* Code from the cache is loaded and run: in /tmp ($TMPDIR), where anyone
     * may have made the directory first, it must be this user's own, and
     * writable by nobody else. */
    struct stat st;
    if (!(x && *x) && !(home && *home) &&
        (lstat(out, &st) || !S_ISDIR(st.st_mode) || st.st_uid != getuid() ||
         (st.st_mode & 022))) {
        snprintf(err, errlen,
                 "the code cache directory '%s' is not this user's own (or others may write "
                 "in it), and code in it would be run: set XDG_CACHE_HOME or HOME to a "
                 "directory of yours",
                 out);
        return -1;
    }
    return 0;
}

/* Whether the shared object at path is whole: an ELF file as long as its
 * headers say (a cached object cut short, by a full disk or a copy, made
 * dlopen map past its end: SIGBUS). */
static int so_whole(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    struct stat st;
    Elf64_Ehdr eh;
    int ok = fstat(fd, &st) == 0 && pread(fd, &eh, sizeof eh, 0) == (ssize_t)sizeof eh &&
             !memcmp(eh.e_ident, ELFMAG, SELFMAG) && eh.e_ident[EI_CLASS] == ELFCLASS64 &&
             eh.e_phentsize == sizeof(Elf64_Phdr);
    uint64_t size = ok ? (uint64_t)st.st_size : 0;
    ok = ok && eh.e_shoff <= size &&
         (uint64_t)eh.e_shnum * eh.e_shentsize <= size - eh.e_shoff &&
         eh.e_phoff <= size && (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr) <= size - eh.e_phoff;
    for (int k = 0; ok && k < eh.e_phnum; k++) {
        Elf64_Phdr ph;
        ok = pread(fd, &ph, sizeof ph, (off_t)(eh.e_phoff + (uint64_t)k * sizeof ph)) ==
                 (ssize_t)sizeof ph &&
             ph.p_offset <= size && ph.p_filesz <= size - ph.p_offset;
    }
    close(fd);
    return ok;
}

/* Waits for the compiler (process group pgid when > 0). With an interrupt
 * flag set, polls it, and when it turns nonzero stops the compiler, SIGTERM
 * and after 2 s SIGKILL, and returns NK_EINTR. */
static int wait_cc(pid_t pid, pid_t pgid, int *status, char *err, size_t errlen)
{
    volatile sig_atomic_t *intr = atomic_load(&jit_interrupt);
    long nap_ns = 1000000;
    double killed_at = 0;
    for (;;) {
        pid_t r = waitpid(pid, status, intr ? WNOHANG : 0);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR) {
            snprintf(err, errlen, "waiting for the C compiler: %s", strerror(errno));
            return NK_EIO;
        }
        if (!intr)
            continue;
        if (*intr && killed_at == 0) {
            kill(pgid > 0 ? -pgid : pid, SIGTERM);
            killed_at = nk_now();
        } else if (killed_at > 0 && nk_now() - killed_at > 2) {
            kill(pgid > 0 ? -pgid : pid, SIGKILL);
        }
        struct timespec ts = {0, nap_ns};
        nanosleep(&ts, NULL);
        if (nap_ns < 20000000)
            nap_ns *= 2;
    }
    if (killed_at > 0 || (intr && *intr)) {
        if (pgid > 0)
            kill(-pgid, SIGKILL); /* whatever the compiler left running */
        snprintf(err, errlen, "interrupted while compiling the generated code");
        return NK_EINTR;
    }
    return 0;
}

/* Runs the compiler; on failure copies the start of its messages into err.
 * Returns 0, NK_EINTR or NK_ECOMPILE. */
static int compile(const char *src, const char *so, const char *log, char *err, size_t errlen)
{
    const char *argv[MAX_CC_WORDS + NFLAGS + MAX_EXTRA + 8];
    char buf[2048], ccbuf[1024];
    int k = cc_words(ccbuf, sizeof ccbuf, argv);
    for (size_t f = 0; f < NFLAGS; f++)
        argv[k++] = jit_flags[f];
    k += extra_flags(buf, sizeof buf, argv + k);
    argv[k++] = "-o";
    argv[k++] = so;
    argv[k++] = src;
    argv[k++] = "-lm";
    argv[k] = NULL;

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    /* When this process polls for an interrupt, the compiler gets a process
     * group of its own, so that stopping it stops what it started too (the
     * driver's cc1 and as); otherwise it stays in ours, where Ctrl-C at the
     * terminal reaches it. */
    posix_spawnattr_t at;
    posix_spawnattr_init(&at);
    int own_group = atomic_load(&jit_interrupt) != NULL;
    if (own_group) {
        posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
        posix_spawnattr_setpgroup(&at, 0);
    }
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, &at, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (rc) {
        snprintf(err, errlen, "cannot run the C compiler '%s': %s (set NKSHELL_CC to a C compiler)",
                 argv[0], strerror(rc));
        return NK_ECOMPILE;
    }
    int status;
    rc = wait_cc(pid, own_group ? pid : 0, &status, err, errlen);
    if (rc)
        return rc;
    struct stat st;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        if (stat(so, &st) == 0 && st.st_size > 0)
            return 0;
        snprintf(err, errlen,
                 "the C compiler '%s' exited with status 0 but wrote no shared object (is "
                 "NKSHELL_CC a C compiler?)",
                 argv[0]);
        return NK_ECOMPILE;
    }
    char how[160];
    if (WIFSIGNALED(status))
        snprintf(how, sizeof how, "was killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(how, sizeof how, "exited with status %d", WEXITSTATUS(status));
    char msg[1024] = "";
    FILE *f = fopen(log, "r");
    if (f) {
        size_t n = fread(msg, 1, sizeof msg - 1, f);
        msg[n] = 0;
        fclose(f);
    }
    /* with the user's own compiler or flags, those are the likelier cause;
     * a compiler that died (its cc1 killed, by the kernel for memory most
     * often, or an internal error) failed itself */
    const char *cf = getenv("NKSHELL_CFLAGS"), *cc = getenv("NKSHELL_CC");
    int died = WIFSIGNALED(status) || strstr(msg, "Killed signal terminated program") ||
               strstr(msg, "virtual memory exhausted") || strstr(msg, "out of memory allocating") ||
               strstr(msg, "internal compiler error");
    if (died)
        snprintf(err, errlen,
                 "generated code could not be compiled: the C compiler '%s' %s and failed "
                 "itself (killed, most often by the system for want of memory, or an internal "
                 "error); the source is kept at %s:\n%s",
                 argv[0], how, src, msg);
    else if ((cf && *cf) || (cc && *cc))
        snprintf(err, errlen,
                 "generated code did not compile with %s%s%s%s%s: the compiler %s (check "
                 "those first; the source is kept at %s):\n%s",
                 cc && *cc ? "NKSHELL_CC=" : "", cc && *cc ? cc : "",
                 cc && *cc && cf && *cf ? " and " : "", cf && *cf ? "NKSHELL_CFLAGS=" : "",
                 cf && *cf ? cf : "", how, src, msg);
    else
        snprintf(err, errlen,
                 "generated code did not compile: the C compiler '%s' %s (this is a bug in "
                 "nkshell, unless the compiler itself failed; the source is kept at %s):\n%s",
                 argv[0], how, src, msg);
    return NK_ECOMPILE;
}

/* The cached shared object's path for code (and its source's, when src). */
static int so_path(const char *code, char *so, size_t solen, char *src, size_t srclen, char *err,
                   size_t errlen)
{
    char dir[1024];
    if (nk_jit_cache_dir(dir, sizeof dir, err, errlen))
        return NK_EIO;
    const char *cc = jit_cc();
    uint64_t h1 = 0xcbf29ce484222325ull, h2 = 0x84222325cbf29ce4ull;
    h1 = fnv1a(h1, code, strlen(code));
    h2 = fnv1a(h2, code, strlen(code));
    h1 = fnv1a(h1, cc, strlen(cc) + 1);
    h2 = fnv1a(h2, cc, strlen(cc) + 1);
    const char *fl[NFLAGS + MAX_EXTRA];
    char buf[2048];
    size_t nfl = NFLAGS;
    memcpy(fl, jit_flags, sizeof jit_flags);
    nfl += (size_t)extra_flags(buf, sizeof buf, fl + NFLAGS);
    const char *ccw[MAX_CC_WORDS];
    char ccbuf[1024];
    int nccw = cc_words(ccbuf, sizeof ccbuf, ccw);
    const char *bad = unsafe_flag(fl + NFLAGS, (int)(nfl - NFLAGS)), *var = "NKSHELL_CFLAGS";
    if (!bad && (bad = unsafe_flag(ccw, nccw)))
        var = "NKSHELL_CC";
    if (bad) {
        snprintf(err, errlen,
                 "%s has '%s', which lets the compiler change the arithmetic of the generated "
                 "code (and may take out its test for values that became NaN or infinite): "
                 "nkshell computes models exactly as written, for the same results on every "
                 "thread count and backend; remove that flag",
                 var, bad);
        return NK_EINVAL;
    }
    for (size_t f = 0; f < nfl; f++) {
        h1 = fnv1a(h1, fl[f], strlen(fl[f]) + 1);
        h2 = fnv1a(h2, fl[f], strlen(fl[f]) + 1);
    }
    static _Atomic uint64_t cpu;
    uint64_t ck = atomic_load(&cpu);
    if (!ck)
        atomic_store(&cpu, ck = cpu_key());
    h1 ^= ck;
    h2 = fnv1a(h2, (const char *)&ck, sizeof ck);
    snprintf(so, solen, "%s/nk-%016llx%016llx.so", dir, (unsigned long long)h1,
             (unsigned long long)h2);
    if (src)
        snprintf(src, srclen, "%s/nk-%016llx%016llx.c", dir, (unsigned long long)h1,
                 (unsigned long long)h2);
    return 0;
}

/* Compiles code into the cache unless it is there. Temporary names carry the
 * process id and a counter, so concurrent compiles (other processes, other
 * threads) never share one. */
static int ensure(const char *code, char *so, size_t solen, char *err, size_t errlen)
{
    static _Atomic unsigned counter;
    char src[1200];
    int rc = so_path(code, so, solen, src, sizeof src, err, errlen);
    if (rc)
        return rc;
    if (access(so, R_OK) == 0)
        return 0;
    char tmp[1300], log[1300], srctmp[1300];
    long pid = (long)getpid();
    unsigned c = atomic_fetch_add(&counter, 1);
    snprintf(tmp, sizeof tmp, "%s.%ld.%u.tmp", so, pid, c);
    snprintf(log, sizeof log, "%s.%ld.%u.log", so, pid, c);
    snprintf(srctmp, sizeof srctmp, "%s.%ld.%u.c", src, pid, c);
    FILE *f = fopen(srctmp, "w");
    if (!f || fputs(code, f) < 0 || fclose(f) != 0) {
        snprintf(err, errlen, "cannot write '%s': %s", srctmp, strerror(errno));
        return NK_EIO;
    }
    if (rename(srctmp, src)) {
        snprintf(err, errlen, "cannot write '%s': %s", src, strerror(errno));
        unlink(srctmp);
        return NK_EIO;
    }
    if ((rc = compile(src, tmp, log, err, errlen))) {
        unlink(tmp);
        unlink(log);
        return rc;
    }
    unlink(log);
    if (rename(tmp, so)) {
        snprintf(err, errlen, "cannot write '%s': %s", so, strerror(errno));
        unlink(tmp);
        return NK_EIO;
    }
    return 0;
}

typedef struct warm_job {
    const char *const *codes;
    int n;
    _Atomic int next;
    _Atomic int failed;
    int rc;
    char err[1024];
    pthread_mutex_t mu;
} warm_job;

static void *warm_worker(void *arg)
{
    warm_job *j = arg;
    int k;
    while (!atomic_load(&j->failed) && (k = atomic_fetch_add(&j->next, 1)) < j->n) {
        char so[1200], err[1024];
        int rc = ensure(j->codes[k], so, sizeof so, err, sizeof err);
        if (rc) {
            pthread_mutex_lock(&j->mu);
            if (!atomic_load(&j->failed)) {
                snprintf(j->err, sizeof j->err, "%s", err);
                j->rc = rc;
            }
            atomic_store(&j->failed, 1);
            pthread_mutex_unlock(&j->mu);
        }
    }
    return NULL;
}

int nk_jit_compile_all(const char *const *codes, int n, int jobs, char *err, size_t errlen)
{
    /* Only what is not cached, each text once (populations often share
     * their code). */
    const char **todo = nk_xcalloc((size_t)n + 1, sizeof *todo);
    if (!todo) {
        snprintf(err, errlen, "out of memory");
        return NK_ENOMEM;
    }
    int m = 0;
    for (int k = 0; k < n; k++) {
        char so[1200];
        int rc = so_path(codes[k], so, sizeof so, NULL, 0, err, errlen);
        if (rc) {
            free(todo);
            return rc;
        }
        int seen = access(so, R_OK) == 0;
        for (int q = 0; !seen && q < m; q++)
            seen = !strcmp(todo[q], codes[k]);
        if (!seen)
            todo[m++] = codes[k];
    }
    if (jobs > m)
        jobs = m;
    int rc = 0;
    if (jobs > 0) {
        warm_job j = {.codes = todo, .n = m};
        pthread_mutex_init(&j.mu, NULL);
        pthread_t th[64];
        int started = 0;
        if (jobs > 64)
            jobs = 64;
        for (int t = 1; t < jobs; t++)
            if (pthread_create(&th[started], NULL, warm_worker, &j) == 0)
                started++;
        warm_worker(&j);
        for (int t = 0; t < started; t++)
            pthread_join(th[t], NULL);
        pthread_mutex_destroy(&j.mu);
        if (atomic_load(&j.failed)) {
            snprintf(err, errlen, "%s", j.err);
            rc = j.rc;
        }
    }
    free(todo);
    return rc;
}

int nk_jit_load(const char *code, void **dl, nk_update_fn *fn, char *err, size_t errlen)
{
    char so[1200];
    int rc = ensure(code, so, sizeof so, err, errlen);
    if (rc)
        return rc;
    /* A cached object that is not whole, or that does not load, is compiled
     * again, once. */
    void *h = so_whole(so) ? dlopen(so, RTLD_NOW | RTLD_LOCAL) : NULL;
    if (!h) {
        unlink(so);
        rc = ensure(code, so, sizeof so, err, errlen);
        if (rc)
            return rc;
        h = so_whole(so) ? dlopen(so, RTLD_NOW | RTLD_LOCAL) : NULL;
        if (!h) {
            const char *why = dlerror();
            snprintf(err, errlen, "cannot load generated code '%s': %s", so,
                     why ? why : "the compiled file is cut short");
            return NK_ECOMPILE;
        }
    }
    if (!fn) {
        *dl = h;
        return 0;
    }
    void *sym = dlsym(h, "nk_update");
    if (!sym) {
        snprintf(err, errlen, "generated code '%s' has no nk_update", so);
        dlclose(h);
        return NK_ECOMPILE;
    }
    *dl = h;
    memcpy(fn, &sym, sizeof *fn);
    return 0;
}
