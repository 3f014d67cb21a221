/*
 * bench_stats: the clock and the order statistics every bench program reports with, so that
 * their medians and percentiles mean the same thing.
 */
#ifndef LCX_BENCH_STATS_H
#define LCX_BENCH_STATS_H

#include <stdlib.h>
#include <time.h>

static inline double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static inline void bench_sort(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
}

/* The p quantile (0..1) of v by nearest rank; sorts v. */
static inline double percentile(double *v, int n, double p)
{
    bench_sort(v, n);
    return v[(int)(p * (n - 1) + 0.5)];
}

/* The middle value, or the mean of the middle two; 0 when v is empty. Sorts v. */
static inline double median(double *v, int n)
{
    if (n == 0) return 0;
    bench_sort(v, n);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#endif
