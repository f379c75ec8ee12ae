/*
 * hist.c — log-linear latency histogram (HdrHistogram's layout, own code).
 *
 * Layout: values are split into buckets by magnitude (powers of two); each
 * bucket has `sub_count` linear sub-buckets, where sub_count is the power of
 * two >= 2 * 10^sig. Bucket 0 covers [0, sub_count) at resolution 1; bucket
 * b >= 1 covers [sub_count << (b-1), sub_count << b) at resolution 2^b, and
 * only its upper half of sub-buckets is stored (the lower half overlaps the
 * previous bucket). So every value is kept to within 1 / 10^sig of itself.
 *
 *   index(v) = ((bucket + 1) << log2(sub_half)) + (sub - sub_half)
 *   where bucket = msb(v | sub_mask) + 1 - log2(sub_count), sub = v >> bucket
 *
 * Invariants: counts_len covers every value in [0, highest]; larger values
 * are clamped to `highest` before indexing; total == sum of counts.
 */
#include <limits.h>
#include <math.h>
#include <string.h>

#include "client/hist.h"
#include "common/common.h"

static int msb_pos(uint64_t v)
{
    return 63 - __builtin_clzll(v);
} /* v > 0 */

int cc_hist_init(cc_hist *h, int64_t highest, int sig)
{
    memset(h, 0, sizeof *h);
    if (highest < 2 || sig < 1 || sig > 5) return HLN_EINVAL;
    int64_t single = 2;
    for (int i = 0; i < sig; i++)
        single *= 10; /* largest value with single-unit resolution */
    int sub_count_mag = msb_pos((uint64_t)single);
    if (((int64_t)1 << sub_count_mag) < single) sub_count_mag++;
    h->highest = highest;
    h->sig = sig;
    h->unit_magnitude = 0;
    h->sub_half_magnitude = sub_count_mag - 1;
    h->sub_count = (int32_t)1 << sub_count_mag;
    h->sub_half = h->sub_count / 2;
    h->sub_mask = (int64_t)(h->sub_count - 1);
    int64_t untrackable = (int64_t)h->sub_count;
    int buckets = 1;
    while (untrackable <= highest) {
        if (untrackable > INT64_MAX / 2) {
            buckets++;
            break;
        }
        untrackable <<= 1;
        buckets++;
    }
    h->bucket_count = buckets;
    h->counts_len = (buckets + 1) * h->sub_half;
    h->counts = hln_calloc((size_t)h->counts_len, sizeof *h->counts);
    if (!h->counts) return HLN_ENOMEM;
    h->min = INT64_MAX;
    return 0;
}

void cc_hist_free(cc_hist *h)
{
    hln_free(h->counts);
    h->counts = NULL;
}

void cc_hist_reset(cc_hist *h)
{
    memset(h->counts, 0, sizeof *h->counts * (size_t)h->counts_len);
    h->total = 0;
    h->min = INT64_MAX;
    h->max = 0;
    h->sum = 0;
    h->clamped = 0;
}

static int bucket_of(const cc_hist *h, int64_t v)
{
    return msb_pos((uint64_t)(v | h->sub_mask)) + 1 - (h->sub_half_magnitude + 1);
}

static int32_t index_of(const cc_hist *h, int64_t v)
{
    int b = bucket_of(h, v);
    int32_t sub = (int32_t)(v >> b);
    return ((b + 1) << h->sub_half_magnitude) + (sub - h->sub_half);
}

/* Lowest value and range size of the counter at index i. */
static void index_range(const cc_hist *h, int32_t i, int64_t *lo, int64_t *size)
{
    int b = (i >> h->sub_half_magnitude) - 1;
    int32_t sub = (i & (h->sub_half - 1)) + h->sub_half;
    if (b < 0) {
        sub -= h->sub_half;
        b = 0;
    }
    *lo = (int64_t)sub << b;
    *size = (int64_t)1 << b;
}

void cc_hist_record_n(cc_hist *h, int64_t v, int64_t n)
{
    if (n <= 0) return;
    if (v < 0) v = 0;
    if (v < h->min) h->min = v;
    if (v > h->max) h->max = v;
    h->sum += (double)v * (double)n;
    if (v > h->highest) {
        h->clamped += n;
        v = h->highest;
    }
    h->counts[index_of(h, v)] += n;
    h->total += n;
}

void cc_hist_record(cc_hist *h, int64_t v)
{
    cc_hist_record_n(h, v, 1);
}

int cc_hist_merge(cc_hist *dst, const cc_hist *src)
{
    if (dst->counts_len != src->counts_len || dst->sig != src->sig || dst->highest != src->highest)
        return HLN_EINVAL;
    for (int32_t i = 0; i < src->counts_len; i++)
        dst->counts[i] += src->counts[i];
    dst->total += src->total;
    dst->sum += src->sum;
    dst->clamped += src->clamped;
    if (src->min < dst->min) dst->min = src->min;
    if (src->max > dst->max) dst->max = src->max;
    return 0;
}

int64_t cc_hist_lowest_equivalent(const cc_hist *h, int64_t v)
{
    int64_t lo, size;
    index_range(h, index_of(h, v < 0 ? 0 : v > h->highest ? h->highest : v), &lo, &size);
    return lo;
}

int64_t cc_hist_highest_equivalent(const cc_hist *h, int64_t v)
{
    int64_t lo, size;
    index_range(h, index_of(h, v < 0 ? 0 : v > h->highest ? h->highest : v), &lo, &size);
    return lo + size - 1;
}

int64_t cc_hist_percentile(const cc_hist *h, double p)
{
    if (h->total == 0) return 0;
    if (p < 0) p = 0;
    if (p > 100) p = 100;
    int64_t target = (int64_t)ceil(p / 100.0 * (double)h->total);
    if (target < 1) target = 1;
    int64_t seen = 0;
    for (int32_t i = 0; i < h->counts_len; i++) {
        seen += h->counts[i];
        if (seen >= target) {
            int64_t lo, size;
            index_range(h, i, &lo, &size);
            int64_t v = lo + size - 1;
            if (v > h->max) v = h->max;
            if (v < h->min) v = h->min;
            return v;
        }
    }
    return h->max;
}

double cc_hist_mean(const cc_hist *h)
{
    return h->total ? h->sum / (double)h->total : 0.0;
}
