/* core_rt.c - the time a cache line takes to go from CPU 0 to CPU 1 and
 * back, which the benchmark suite measures before each of nkshell's runs.
 *
 *     core_rt [ROUND_TRIPS]      prints the mean, in ns, of one round trip
 *
 * Two threads, pinned to CPUs 0 and 1, pass a counter back and forth
 * through two cache lines. nkshell's threads meet once a step, so on a
 * virtual machine whose CPUs are sometimes on one core, sometimes far
 * apart, this time moves a two-thread run (docs/performance.md, item 29):
 * about 110 ns a round trip in this project's calm spells, 350-400 ns in
 * others, 50-70 ns when the two vCPUs share one core. With fewer than two
 * CPUs (or CPU 0 not ours) it prints "-". */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* waiting as nkshell's threads wait, with a pause instruction */
#if defined(__x86_64__) || defined(__i386__)
#define relax() __builtin_ia32_pause()
#else
#define relax() ((void)0)
#endif

static _Alignas(64) atomic_long ping;
static _Alignas(64) atomic_long pong;
static long trips = 200000;

static int pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

static void *answer(void *arg)
{
    (void)arg;
    pin(1);
    for (long i = 1; i <= trips; i++) {
        while (atomic_load_explicit(&ping, memory_order_acquire) != i)
            relax();
        atomic_store_explicit(&pong, i, memory_order_release);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        trips = strtol(argv[1], NULL, 10);
    if (trips < 1 || sysconf(_SC_NPROCESSORS_ONLN) < 2 || pin(0)) {
        puts("-");
        return 0;
    }
    pthread_t th;
    if (pthread_create(&th, NULL, answer, NULL)) {
        puts("-");
        return 0;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 1; i <= trips; i++) {
        atomic_store_explicit(&ping, i, memory_order_release);
        while (atomic_load_explicit(&pong, memory_order_acquire) != i)
            relax();
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    pthread_join(th, NULL);
    double ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
    printf("%.1f\n", ns / (double)trips);
    return 0;
}
