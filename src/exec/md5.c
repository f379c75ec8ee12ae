/*
 * md5.c — MD5 (RFC 1321) for prepared statement ids.
 *
 * What: Cassandra names a prepared statement by the MD5 digest of the
 * keyspace it was prepared in followed by the query text. Drivers treat the
 * id as opaque, but computing it the same way keeps ids stable across
 * restarts of the server and identical between nodes of a ring, which
 * drivers rely on when they re-prepare on another host.
 *
 * Why our own: it is ~100 lines and keeps exec free of a libcrypto
 * dependency. Not used for any security purpose.
 *
 * Invariant: ex_md5("") = d41d8cd98f00b204e9800998ecf8427e, and the other
 * RFC 1321 test vectors hold (tests/unit/test_exec.c).
 */
#include <string.h>

#include "exec/execInt.h"

typedef struct md5 {
    uint32_t h[4];
    uint64_t len;
    uint8_t buf[64];
    size_t nbuf;
} md5;

/* Per-round shift amounts and the sine-derived constants of RFC 1321. */
// clang-format off
static const uint8_t SHIFT[64] = {
    7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
    5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20,
    4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
    6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
};

static const uint32_t SINE[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613,
    0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193,
    0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d,
    0x02441453, 0xd8a1e681, 0xe7d3fbc8, 0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed,
    0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122,
    0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
    0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665, 0xf4292244,
    0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb,
    0xeb86d391,
};
// clang-format on

static uint32_t rotl(uint32_t x, unsigned n)
{
    return (x << n) | (x >> (32 - n));
}

static void block(md5 *m, const uint8_t *p)
{
    uint32_t w[16];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[i * 4] | (uint32_t)p[i * 4 + 1] << 8 | (uint32_t)p[i * 4 + 2] << 16 |
               (uint32_t)p[i * 4 + 3] << 24;
    uint32_t a = m->h[0], b = m->h[1], c = m->h[2], d = m->h[3];
    for (int i = 0; i < 64; i++) {
        uint32_t f;
        int g;
        if (i < 16) {
            f = (b & c) | (~b & d);
            g = i;
        } else if (i < 32) {
            f = (d & b) | (~d & c);
            g = (5 * i + 1) % 16;
        } else if (i < 48) {
            f = b ^ c ^ d;
            g = (3 * i + 5) % 16;
        } else {
            f = c ^ (b | ~d);
            g = (7 * i) % 16;
        }
        uint32_t t = d;
        d = c;
        c = b;
        b = b + rotl(a + f + SINE[i] + w[g], SHIFT[i]);
        a = t;
    }
    m->h[0] += a;
    m->h[1] += b;
    m->h[2] += c;
    m->h[3] += d;
}

static void md5_init(md5 *m)
{
    m->h[0] = 0x67452301;
    m->h[1] = 0xefcdab89;
    m->h[2] = 0x98badcfe;
    m->h[3] = 0x10325476;
    m->len = 0;
    m->nbuf = 0;
}

static void md5_update(md5 *m, const void *data, size_t n)
{
    const uint8_t *p = data;
    m->len += n;
    while (n > 0) {
        size_t take = 64 - m->nbuf;
        if (take > n) take = n;
        memcpy(m->buf + m->nbuf, p, take);
        m->nbuf += take;
        p += take;
        n -= take;
        if (m->nbuf == 64) {
            block(m, m->buf);
            m->nbuf = 0;
        }
    }
}

static void md5_final(md5 *m, uint8_t out[16])
{
    uint64_t bits = m->len * 8;
    uint8_t pad = 0x80;
    md5_update(m, &pad, 1);
    uint8_t zero = 0;
    while (m->nbuf != 56)
        md5_update(m, &zero, 1);
    uint8_t lenle[8];
    for (int i = 0; i < 8; i++)
        lenle[i] = (uint8_t)(bits >> (8 * i));
    md5_update(m, lenle, 8);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            out[i * 4 + j] = (uint8_t)(m->h[i] >> (8 * j));
}

void ex_md5_2(const void *a, size_t na, const void *b, size_t nb, uint8_t out[16])
{
    md5 m;
    md5_init(&m);
    if (na) md5_update(&m, a, na);
    if (nb) md5_update(&m, b, nb);
    md5_final(&m, out);
}

void ex_md5(const void *p, size_t n, uint8_t out[16])
{
    ex_md5_2(p, n, NULL, 0, out);
}
