/*
 * common.c — errors, the allocator wrapper, buffers, readers, arenas,
 * checksums, uuids, clocks and logging.
 *
 * Why one file: these are small, dependency-free pieces every module uses;
 * keeping them together keeps the include graph flat. Murmur3 lives in
 * murmur3.c because it must be bit-exact with Cassandra and has its own tests.
 *
 * Invariants:
 *  1. hln_buf operations never fail loudly: on ENOMEM they set b->err and
 *     become no-ops, so encoders check once at the end.
 *  2. hln_rd never reads past len; a short read sets r->err = HLN_EPROTO and
 *     returns zero values / NULL.
 *  3. hln_mem_in_use counts bytes handed out by hln_malloc & co and not yet
 *     freed (each block carries a 16-byte header with its size).
 */
#include "common/common.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <zlib.h>

/* ---- errors ----------------------------------------------------------- */

int hln_fail(hln_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

int hln_corrupt(hln_error *err, const char *what, const char *fmt, ...)
{
    char detail[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    /* The one place corruption is reported: a breakpoint here catches all. */
    hln_log(HLN_LOG_ERROR, "corruption in %s: %s", what, detail);
    return hln_fail(err, HLN_ECORRUPT, "Corrupt %s: %s", what, detail);
}

const char *hln_strerror(int code)
{
    switch (code) {
    case HLN_OK:
        return "ok";
    case HLN_ENOMEM:
        return "out of memory";
    case HLN_EINVAL:
        return "invalid request";
    case HLN_ESYNTAX:
        return "syntax error";
    case HLN_ENOTFOUND:
        return "not found";
    case HLN_EEXISTS:
        return "already exists";
    case HLN_EIO:
        return "I/O error";
    case HLN_ECORRUPT:
        return "corrupt data";
    case HLN_EPROTO:
        return "protocol error";
    case HLN_EAGAIN:
        return "try again";
    case HLN_EUNSUPPORTED:
        return "not supported";
    case HLN_ESERVER:
        return "server error";
    case HLN_EUNPREPARED:
        return "unprepared";
    case HLN_ECONFIG:
        return "configuration error";
    case HLN_ETOOBIG:
        return "too big";
    case HLN_EBADVERSION:
        return "unsupported protocol version";
    case HLN_EAUTH:
        return "authentication failed";
    case HLN_EUNAUTHORIZED:
        return "unauthorized";
    case HLN_EFUNCFAIL:
        return "function failure";
    case HLN_EOVERLOADED:
        return "overloaded";
    case HLN_EWRITETIMEOUT:
        return "write timeout";
    default:
        return "unknown error";
    }
}

/* ---- allocator -------------------------------------------------------- */

#define HDR 16
static atomic_size_t mem_in_use;

void *hln_malloc(size_t n)
{
    if (n > SIZE_MAX - HDR) return NULL;
    unsigned char *p = malloc(n + HDR);
    if (!p) return NULL;
    memcpy(p, &n, sizeof n);
    atomic_fetch_add_explicit(&mem_in_use, n, memory_order_relaxed);
    return p + HDR;
}

void *hln_calloc(size_t n, size_t sz)
{
    if (sz && n > SIZE_MAX / sz) return NULL;
    void *p = hln_malloc(n * sz);
    if (p) memset(p, 0, n * sz);
    return p;
}

void *hln_realloc(void *p, size_t n)
{
    if (!p) return hln_malloc(n);
    if (n > SIZE_MAX - HDR) return NULL;
    unsigned char *base = (unsigned char *)p - HDR;
    size_t old;
    memcpy(&old, base, sizeof old);
    unsigned char *nb = realloc(base, n + HDR);
    if (!nb) return NULL;
    memcpy(nb, &n, sizeof n);
    if (n >= old)
        atomic_fetch_add_explicit(&mem_in_use, n - old, memory_order_relaxed);
    else
        atomic_fetch_sub_explicit(&mem_in_use, old - n, memory_order_relaxed);
    return nb + HDR;
}

void hln_free(void *p)
{
    if (!p) return;
    unsigned char *base = (unsigned char *)p - HDR;
    size_t n;
    memcpy(&n, base, sizeof n);
    atomic_fetch_sub_explicit(&mem_in_use, n, memory_order_relaxed);
    free(base);
}

char *hln_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = hln_malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

size_t hln_mem_in_use(void)
{
    return atomic_load_explicit(&mem_in_use, memory_order_relaxed);
}

/* ---- buffers ---------------------------------------------------------- */

void hln_buf_init(hln_buf *b)
{
    memset(b, 0, sizeof *b);
}

void hln_buf_free(hln_buf *b)
{
    hln_free(b->data);
    memset(b, 0, sizeof *b);
}

void hln_buf_reset(hln_buf *b)
{
    b->len = 0;
    b->err = 0;
}

int hln_buf_reserve(hln_buf *b, size_t extra)
{
    if (b->err) return b->err;
    if (extra > SIZE_MAX / 2 - b->len) return b->err = HLN_ENOMEM;
    size_t need = b->len + extra;
    if (need <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    uint8_t *d = hln_realloc(b->data, cap);
    if (!d) return b->err = HLN_ENOMEM;
    b->data = d;
    b->cap = cap;
    return 0;
}

void hln_buf_put(hln_buf *b, const void *p, size_t n)
{
    if (n == 0 || hln_buf_reserve(b, n)) return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void hln_buf_u8(hln_buf *b, uint8_t v)
{
    hln_buf_put(b, &v, 1);
}

void hln_buf_u16(hln_buf *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    hln_buf_put(b, x, 2);
}

void hln_buf_u32(hln_buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    hln_buf_put(b, x, 4);
}

void hln_buf_u64(hln_buf *b, uint64_t v)
{
    hln_buf_u32(b, (uint32_t)(v >> 32));
    hln_buf_u32(b, (uint32_t)v);
}

/* Cassandra's unsigned vint: 1 to 9 bytes; the number of leading 1 bits of
 * the first byte is the number of extra bytes; the value is big-endian in
 * the remaining bits (9 bytes: first byte 0xFF, then the 8 value bytes). */
void hln_buf_vint(hln_buf *b, uint64_t v)
{
    int magnitude = __builtin_clzll(v | 1);
    int size = (639 - magnitude * 9) >> 6;
    uint8_t out[9];
    uint64_t x = v;
    for (int i = size - 1; i >= 0; i--) {
        out[i] = (uint8_t)x;
        x >>= 8;
    }
    if (size > 1) out[0] |= (uint8_t) ~(0xFFu >> (size - 1));
    hln_buf_put(b, out, (size_t)size);
}

void hln_buf_printf(hln_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof tmp) {
        hln_buf_put(b, tmp, (size_t)n);
        return;
    }
    if (hln_buf_reserve(b, (size_t)n + 1)) return;
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void hln_buf_string(hln_buf *b, const char *s)
{
    size_t n = strlen(s);
    if (n > 0xFFFF) n = 0xFFFF;
    hln_buf_u16(b, (uint16_t)n);
    hln_buf_put(b, s, n);
}

void hln_buf_long_string(hln_buf *b, const char *s, size_t n)
{
    hln_buf_u32(b, (uint32_t)n);
    hln_buf_put(b, s, n);
}

void hln_buf_bytes(hln_buf *b, const void *p, int32_t n)
{
    hln_buf_u32(b, (uint32_t)n);
    if (n > 0) hln_buf_put(b, p, (size_t)n);
}

void hln_buf_patch_u32(hln_buf *b, size_t off, uint32_t v)
{
    if (b->err || off + 4 > b->len) return;
    b->data[off] = (uint8_t)(v >> 24);
    b->data[off + 1] = (uint8_t)(v >> 16);
    b->data[off + 2] = (uint8_t)(v >> 8);
    b->data[off + 3] = (uint8_t)v;
}

/* ---- readers ---------------------------------------------------------- */

void hln_rd_init(hln_rd *r, const void *p, size_t len)
{
    r->p = p;
    r->len = len;
    r->off = 0;
    r->err = 0;
}

const uint8_t *hln_rd_take(hln_rd *r, size_t n)
{
    if (r->err || n > r->len - r->off) {
        r->err = HLN_EPROTO;
        return NULL;
    }
    const uint8_t *p = r->p + r->off;
    r->off += n;
    return p;
}

uint8_t hln_rd_u8(hln_rd *r)
{
    const uint8_t *p = hln_rd_take(r, 1);
    return p ? p[0] : 0;
}

uint16_t hln_rd_u16(hln_rd *r)
{
    const uint8_t *p = hln_rd_take(r, 2);
    return p ? (uint16_t)(p[0] << 8 | p[1]) : 0;
}

uint32_t hln_rd_u32(hln_rd *r)
{
    const uint8_t *p = hln_rd_take(r, 4);
    return p ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3] : 0;
}

uint64_t hln_rd_u64(hln_rd *r)
{
    uint64_t hi = hln_rd_u32(r);
    return hi << 32 | hln_rd_u32(r);
}

uint64_t hln_rd_vint(hln_rd *r)
{
    const uint8_t *p = hln_rd_take(r, 1);
    if (!p) return 0;
    uint8_t first = p[0];
    int extra = 0;
    while (extra < 8 && (first & (0x80 >> extra)))
        extra++;
    uint64_t v = extra == 8 ? 0 : (uint64_t)(first & (0xFF >> (extra + 1)));
    const uint8_t *q = hln_rd_take(r, (size_t)extra);
    if (!q) return 0;
    for (int i = 0; i < extra; i++)
        v = v << 8 | q[i];
    return v;
}

size_t hln_rd_left(const hln_rd *r)
{
    return r->err ? 0 : r->len - r->off;
}

/* ---- arena ------------------------------------------------------------ */

struct hln_arena_chunk {
    hln_arena_chunk *next;
    size_t size, used;
    _Alignas(16) unsigned char data[];
};

void hln_arena_init(hln_arena *a, size_t chunk_size)
{
    a->head = NULL;
    a->chunk_size = chunk_size ? chunk_size : 8192;
    a->total = 0;
}

void *hln_arena_alloc(hln_arena *a, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    if (n == 0) n = 8;
    hln_arena_chunk *c = a->head;
    if (!c || c->size - c->used < n) {
        size_t sz = n > a->chunk_size ? n : a->chunk_size;
        hln_arena_chunk *nc = hln_malloc(sizeof *nc + sz);
        if (!nc) return NULL;
        nc->size = sz;
        nc->used = 0;
        if (c && n > a->chunk_size && c->size - c->used >= a->chunk_size / 4) {
            /* a big block: keep the current chunk on top for small ones */
            nc->next = c->next;
            c->next = nc;
        } else {
            nc->next = c;
            a->head = nc;
        }
        a->total += sz;
        c = nc;
    }
    void *p = c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

void *hln_arena_memdup(hln_arena *a, const void *p, size_t n)
{
    void *d = hln_arena_alloc(a, n);
    if (d && n) memcpy(d, p, n);
    return d;
}

char *hln_arena_strndup(hln_arena *a, const char *s, size_t n)
{
    char *d = hln_arena_alloc(a, n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

char *hln_arena_strdup(hln_arena *a, const char *s)
{
    return hln_arena_strndup(a, s, strlen(s));
}

void hln_arena_reset(hln_arena *a)
{
    hln_arena_chunk *c = a->head;
    if (!c) return;
    /* keep the last (oldest, normal-size) chunk */
    while (c->next) {
        hln_arena_chunk *n = c->next;
        if (!n->next) {
            a->total = n->size;
            hln_free(c);
            c = n;
            break;
        }
        hln_free(c);
        c = n;
    }
    c->used = 0;
    a->head = c;
    a->total = c->size;
}

void hln_arena_free(hln_arena *a)
{
    hln_arena_chunk *c = a->head;
    while (c) {
        hln_arena_chunk *n = c->next;
        hln_free(c);
        c = n;
    }
    a->head = NULL;
    a->total = 0;
}

/* ---- checksums -------------------------------------------------------- */

/* CRC-32C: reflected polynomial 0x82F63B78. The table is built once
 * (pthread_once); the hardware path handles 8 bytes per instruction. */
static uint32_t crc32c_table[256];
static pthread_once_t crc32c_once = PTHREAD_ONCE_INIT;
static bool crc32c_hw;

static void crc32c_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1)));
        crc32c_table[i] = c;
    }
#if defined(__x86_64__)
    __builtin_cpu_init();
    crc32c_hw = __builtin_cpu_supports("sse4.2");
#endif
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc32c_sse42(uint32_t c, const uint8_t *q,
                                                               size_t n)
{
    uint64_t c64 = c;
    for (; n >= 8; n -= 8, q += 8) {
        uint64_t v;
        memcpy(&v, q, 8);
        c64 = __builtin_ia32_crc32di(c64, v);
    }
    c = (uint32_t)c64;
    for (; n; n--, q++)
        c = __builtin_ia32_crc32qi(c, *q);
    return c;
}
#endif

uint32_t hln_crc32c(uint32_t crc, const void *p, size_t n)
{
    pthread_once(&crc32c_once, crc32c_init);
    const uint8_t *q = p;
    uint32_t c = ~crc;
#if defined(__x86_64__)
    if (crc32c_hw) return ~crc32c_sse42(c, q, n);
#endif
    for (; n; n--, q++)
        c = crc32c_table[(c ^ *q) & 0xff] ^ (c >> 8);
    return ~c;
}

uint32_t hln_crc32(uint32_t crc, const void *p, size_t n)
{
    const unsigned char *q = p;
    while (n > 0) {
        uInt chunk = n > 0x40000000 ? 0x40000000 : (uInt)n;
        crc = (uint32_t)crc32(crc, q, chunk);
        q += chunk;
        n -= chunk;
    }
    return crc;
}

/* ---- uuids ------------------------------------------------------------ */

void hln_uuid_random(uint8_t out[16])
{
    size_t got = 0;
    while (got < 16) {
        ssize_t n = getrandom(out + got, 16 - got, 0);
        if (n > 0)
            got += (size_t)n;
        else if (errno != EINTR)
            break;
    }
    out[6] = (out[6] & 0x0F) | 0x40;
    out[8] = (out[8] & 0x3F) | 0x80;
}

/* Version 1: 60-bit count of 100 ns intervals since 1582-10-15, strictly
 * increasing within the process; random clock sequence and node. */
void hln_uuid_time(uint8_t out[16])
{
    static atomic_uint_least64_t last;
    static uint8_t node[8];
    static atomic_int node_ready;
    if (!atomic_load(&node_ready)) {
        uint8_t r[16];
        hln_uuid_random(r);
        memcpy(node, r, 8);
        node[2] |= 0x01; /* multicast bit: not a real MAC */
        atomic_store(&node_ready, 1);
    }
    uint64_t t = (uint64_t)hln_now_micros() * 10 + 0x01B21DD213814000ULL;
    uint64_t prev = atomic_load(&last);
    for (;;) {
        uint64_t next = t > prev ? t : prev + 1;
        if (atomic_compare_exchange_weak(&last, &prev, next)) {
            t = next;
            break;
        }
    }
    uint32_t tlow = (uint32_t)t;
    uint16_t tmid = (uint16_t)(t >> 32);
    uint16_t thi = (uint16_t)((t >> 48) & 0x0FFF) | 0x1000;
    out[0] = (uint8_t)(tlow >> 24);
    out[1] = (uint8_t)(tlow >> 16);
    out[2] = (uint8_t)(tlow >> 8);
    out[3] = (uint8_t)tlow;
    out[4] = (uint8_t)(tmid >> 8);
    out[5] = (uint8_t)tmid;
    out[6] = (uint8_t)(thi >> 8);
    out[7] = (uint8_t)thi;
    out[8] = (uint8_t)((node[0] & 0x3F) | 0x80);
    out[9] = node[1];
    memcpy(out + 10, node + 2, 6);
}

void hln_uuid_format(const uint8_t u[16], char out[37])
{
    static const char hex[] = "0123456789abcdef";
    int j = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out[j++] = '-';
        out[j++] = hex[u[i] >> 4];
        out[j++] = hex[u[i] & 15];
    }
    out[j] = 0;
}

int hln_hex_digit(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int hln_uuid_parse(const char *s, uint8_t out[16])
{
    int j = 0;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') return HLN_EINVAL;
            continue;
        }
        int h = hln_hex_digit(s[i]);
        if (h < 0) return HLN_EINVAL;
        if (j % 2 == 0)
            out[j / 2] = (uint8_t)(h << 4);
        else
            out[j / 2] |= (uint8_t)h;
        j++;
    }
    return s[36] == 0 ? 0 : HLN_EINVAL;
}

/* ---- clocks, logging -------------------------------------------------- */

int64_t hln_now_micros(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t hln_mono_nanos(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

bool hln_spin_until(const atomic_bool *flag, int64_t deadline_ns)
{
    for (int i = 1;; i++) {
        if (atomic_load_explicit(flag, memory_order_acquire)) return true;
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#elif defined(__aarch64__)
        __asm__ __volatile__("yield");
#endif
        if (!(i & 31) && hln_mono_nanos() > deadline_ns) return false;
    }
}

static atomic_int log_level = HLN_LOG_INFO;

void hln_log_set_level(int level)
{
    atomic_store(&log_level, level);
}

void hln_log(int level, const char *fmt, ...)
{
    if (level < atomic_load(&log_level)) return;
    static const char *names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    char line[1024];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, names[level & 3]);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof line) vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s\n", line); /* one write per line: lines from shards don't interleave */
}
