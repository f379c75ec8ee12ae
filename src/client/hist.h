/*
 * hist.h — a latency histogram in the manner of HdrHistogram: log-linear
 * buckets that keep a fixed number of significant decimal digits over a
 * huge range with a fixed, small amount of memory.
 *
 * Values are int64 (the load generator records nanoseconds). With 3
 * significant digits and a highest trackable value of one hour in ns, the
 * histogram holds ~34k counters (270 KB) and any recorded value is
 * reported within 0.1% of what was recorded. Values above the highest
 * trackable are clamped to it and counted in `clamped`.
 *
 * Not thread-safe: one histogram per thread, merged at the end.
 */
#ifndef HLN_CLIENT_HIST_H
#define HLN_CLIENT_HIST_H

#include <stdint.h>

typedef struct cc_hist {
    int64_t highest;
    int sig;
    int unit_magnitude;
    int sub_half_magnitude; /* log2(sub_half) */
    int32_t sub_count;      /* sub-buckets per bucket (power of two) */
    int32_t sub_half;
    int64_t sub_mask;
    int32_t bucket_count;
    int32_t counts_len;
    int64_t *counts;
    int64_t total;
    int64_t min, max; /* of recorded (unclamped) values; min INT64_MAX when empty */
    double sum;
    int64_t clamped;
} cc_hist;

/* lowest discernible value is 1; highest >= 2; sig 1..5. 0 or HLN_E*. */
int cc_hist_init(cc_hist *h, int64_t highest, int sig);
void cc_hist_free(cc_hist *h);
void cc_hist_reset(cc_hist *h);
void cc_hist_record(cc_hist *h, int64_t v); /* v < 0 is recorded as 0 */
void cc_hist_record_n(cc_hist *h, int64_t v, int64_t n);
/* Adds src's counts into dst (same highest/sig). 0 or HLN_EINVAL. */
int cc_hist_merge(cc_hist *dst, const cc_hist *src);
/* The value at percentile p (0..100): the highest value equivalent to the
 * bucket where the cumulative count reaches ceil(p% of total), capped at
 * max. 0 when empty. */
int64_t cc_hist_percentile(const cc_hist *h, double p);
double cc_hist_mean(const cc_hist *h);
/* Lowest and highest values that share v's counter (the resolution at v). */
int64_t cc_hist_lowest_equivalent(const cc_hist *h, int64_t v);
int64_t cc_hist_highest_equivalent(const cc_hist *h, int64_t v);

#endif
