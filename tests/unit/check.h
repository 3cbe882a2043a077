/* check.h - the tiny assertion kit shared by the C unit tests.
 *
 * A unit test is a program: main() runs its checks and returns
 * check_finish(), which is 0 when every check passed and 1 otherwise, so
 * Meson reads the exit status. A failed check prints file:line and the
 * expression, then carries on so one run shows every failure. */
#ifndef NK_TEST_CHECK_H
#define NK_TEST_CHECK_H

#include <math.h>
#include <stdio.h>

static int check_failures_;
static int check_count_;

#define CHECK(cond)                                                           \
    do {                                                                      \
        check_count_++;                                                       \
        if (!(cond)) {                                                        \
            check_failures_++;                                                \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__,  \
                    #cond);                                                   \
        }                                                                     \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                    \
    do {                                                                      \
        long long a_ = (long long)(a), b_ = (long long)(b);                   \
        check_count_++;                                                       \
        if (a_ != b_) {                                                       \
            check_failures_++;                                                \
            fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n",         \
                    __FILE__, __LINE__, #a, #b, a_, b_);                      \
        }                                                                     \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                 \
    do {                                                                      \
        double a_ = (double)(a), b_ = (double)(b);                            \
        check_count_++;                                                       \
        if (!(fabs(a_ - b_) <= (tol))) {                                      \
            check_failures_++;                                                \
            fprintf(stderr, "%s:%d: %s ~= %s failed: %.17g vs %.17g\n",       \
                    __FILE__, __LINE__, #a, #b, a_, b_);                      \
        }                                                                     \
    } while (0)

static inline int check_finish(const char *name)
{
    printf("%s: %d checks, %d failed\n", name, check_count_, check_failures_);
    return check_failures_ ? 1 : 0;
}

#endif
