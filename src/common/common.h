/*
 * common.h — the small library every Helenus module stands on.
 *
 * What: error codes and per-request error details, the allocator wrapper,
 * growable byte buffers and bounds-checked readers (big-endian, as the CQL
 * wire format and our file formats are), per-request arenas, CRC32, logging,
 * and the clock.
 *
 * Why: one allocator wrapper so memory can be counted and failures injected;
 * one reader type so no decoder (frames, commitlog, sstables) can read past
 * its input; one error shape so each layer reports a code plus a message and
 * only the protocol edge maps codes to CQL error codes.
 *
 * Invariants:
 *  1. Functions return int: 0 = ok, negative = an HLN_E* code.
 *  2. An hln_rd never reads past its end; a short read sets rd->err and
 *     returns zeros, so a decoder checks rd->err once at the end.
 *  3. Memory from an arena lives until the arena is reset or freed; nothing
 *     allocated from an arena is freed individually.
 */
#ifndef HLN_COMMON_H
#define HLN_COMMON_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- error codes: HLN_OK and HLN_E*, shared with the public API --- */
#include "helenus_codes.h"

/* Details of one failure, filled by the layer that saw it. */
typedef struct hln_error {
    int code;       /* HLN_E* */
    char msg[1024]; /* human-readable, Cassandra's wording where known (a function's
                       signature list runs to 800 bytes) */
    char ks[64];    /* HLN_EEXISTS: keyspace */
    char table[64]; /* HLN_EEXISTS: table ("" for a keyspace); HLN_EWRITETIMEOUT:
                       the write type (SIMPLE, BATCH) */
    uint8_t id[16]; /* HLN_EUNPREPARED: statement id; HLN_EWRITETIMEOUT: id[0..1] the
                       consistency level (big-endian) */
} hln_error;

/* Sets err (if not NULL) and returns code, so callers can `return hln_fail(...)`. */
int hln_fail(hln_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
const char *hln_strerror(int code);

/* ---- corruption: every detected corruption goes through here --------- */
int hln_corrupt(hln_error *err, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A serialized value: len >= 0 bytes at p; len -1 = null, -2 = unset. */
typedef struct hln_bytes {
    const uint8_t *p;
    int32_t len;
} hln_bytes;

/* ---- allocator wrapper ------------------------------------------------ */
void *hln_malloc(size_t n);
void *hln_calloc(size_t n, size_t sz);
void *hln_realloc(void *p, size_t n);
void hln_free(void *p);
char *hln_strdup(const char *s);
size_t hln_mem_in_use(void); /* bytes currently allocated through the wrapper */

/* ---- growable buffer -------------------------------------------------- */
typedef struct hln_buf {
    uint8_t *data;
    size_t len, cap;
    int err; /* sticky HLN_ENOMEM */
} hln_buf;

void hln_buf_init(hln_buf *b);
void hln_buf_free(hln_buf *b);
void hln_buf_reset(hln_buf *b); /* len = 0, keeps capacity */
int hln_buf_reserve(hln_buf *b, size_t extra);
void hln_buf_put(hln_buf *b, const void *p, size_t n);
void hln_buf_u8(hln_buf *b, uint8_t v);
void hln_buf_u16(hln_buf *b, uint16_t v); /* big-endian */
void hln_buf_u32(hln_buf *b, uint32_t v);
void hln_buf_u64(hln_buf *b, uint64_t v);
void hln_buf_vint(hln_buf *b, uint64_t v); /* Cassandra unsigned vint */
void hln_buf_printf(hln_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* CQL wire helpers: [string] = u16 len + bytes; [long string] = i32; [bytes] = i32 len (-1 null) */
void hln_buf_string(hln_buf *b, const char *s);
void hln_buf_long_string(hln_buf *b, const char *s, size_t n);
void hln_buf_bytes(hln_buf *b, const void *p, int32_t n); /* n < 0: null/unset marker */
/* Overwrites 4 bytes at off with v (big-endian), e.g. to fill in a length. */
void hln_buf_patch_u32(hln_buf *b, size_t off, uint32_t v);

/* ---- bounds-checked reader -------------------------------------------- */
typedef struct hln_rd {
    const uint8_t *p;
    size_t len, off;
    int err; /* sticky: HLN_ECORRUPT/HLN_EPROTO once a read ran short */
} hln_rd;

void hln_rd_init(hln_rd *r, const void *p, size_t len);
uint8_t hln_rd_u8(hln_rd *r);
uint16_t hln_rd_u16(hln_rd *r);
uint32_t hln_rd_u32(hln_rd *r);
uint64_t hln_rd_u64(hln_rd *r);
uint64_t hln_rd_vint(hln_rd *r);
/* Returns a pointer into the input (not copied), or NULL with err set. */
const uint8_t *hln_rd_take(hln_rd *r, size_t n);
size_t hln_rd_left(const hln_rd *r);

/* ---- arena ------------------------------------------------------------ */
typedef struct hln_arena_chunk hln_arena_chunk;
typedef struct hln_arena {
    hln_arena_chunk *head;
    size_t chunk_size;
    size_t total;
} hln_arena;

void hln_arena_init(hln_arena *a, size_t chunk_size);
void *hln_arena_alloc(hln_arena *a, size_t n); /* 8-byte aligned, zeroed; NULL on ENOMEM */
void *hln_arena_memdup(hln_arena *a, const void *p, size_t n);
char *hln_arena_strdup(hln_arena *a, const char *s);
char *hln_arena_strndup(hln_arena *a, const char *s, size_t n);
void hln_arena_reset(hln_arena *a); /* frees all but the first chunk */
void hln_arena_free(hln_arena *a);

/* ---- checksums, hashing ----------------------------------------------- */
uint32_t hln_crc32(uint32_t crc, const void *p, size_t n); /* zlib CRC32 */
/* CRC-32C (Castagnoli, as iSCSI and ext4): the x86 crc32 instruction when
 * the CPU has SSE4.2, a table otherwise; the same value either way.
 * hln_crc32c(0, "123456789", 9) == 0xE3069283. */
uint32_t hln_crc32c(uint32_t crc, const void *p, size_t n);
/* Cassandra Murmur3Partitioner token of a serialized partition key. */
int64_t hln_murmur3_token(const void *key, size_t len);
/* Full MurmurHash3_x64_128 as Cassandra computes it (signed tail bytes). */
void hln_murmur3_x64_128(const void *key, size_t len, uint64_t seed, uint64_t out[2]);

/* MD5 of a followed by b (either may be empty). */
void hln_md5(const void *a, size_t na, const void *b, size_t nb, uint8_t out[16]);

/* ---- uuids ------------------------------------------------------------ */
void hln_uuid_random(uint8_t out[16]); /* version 4 */
void hln_uuid_time(uint8_t out[16]);   /* version 1, for timeuuid/schema ids */
/* The value of one hex digit, or -1. */
int hln_hex_digit(char c);
void hln_uuid_format(const uint8_t u[16], char out[37]);
int hln_uuid_parse(const char *s, uint8_t out[16]); /* 0 or HLN_EINVAL */

/* ---- files (fileio.c): failures are HLN_EIO naming the path and errno --- */
int hln_mkdirs(const char *path, hln_error *err); /* mkdir -p */
int hln_fsync_dir(const char *path, hln_error *err);
int hln_write_full(int fd, const void *p, size_t n, const char *path, hln_error *err);
/* Reads exactly n bytes at off; a short read is HLN_ECORRUPT (truncated). */
int hln_pread_full(int fd, void *p, size_t n, uint64_t off, const char *path, hln_error *err);
/* Joins a and b with '/' into a new hln_malloc'd string (NULL on ENOMEM). */
char *hln_path_join(const char *a, const char *b);
/* Replaces the file at path with data, durably: writes path.tmp, fsyncs it,
 * renames it over path, fsyncs the directory. On failure path is unchanged
 * and path.tmp removed. */
int hln_write_file_durably(const char *path, const void *data, size_t len, int mode,
                           hln_error *err);

/* ---- clock, logging --------------------------------------------------- */
int64_t hln_now_micros(void); /* wall clock, microseconds since epoch */
int64_t hln_mono_nanos(void);
/* Spins (the CPU's pause hint) until *flag is true or the monotonic clock
 * passes deadline_ns; true when the flag was seen. For waits shorter than
 * a futex or epoll wake-up: an embedded caller waiting for its answer, a
 * shard lingering for the next message. */
bool hln_spin_until(const atomic_bool *flag, int64_t deadline_ns);

enum { HLN_LOG_DEBUG, HLN_LOG_INFO, HLN_LOG_WARN, HLN_LOG_ERROR };
void hln_log_set_level(int level);
void hln_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define HLN_INFO(...) hln_log(HLN_LOG_INFO, __VA_ARGS__)
#define HLN_WARN(...) hln_log(HLN_LOG_WARN, __VA_ARGS__)
#define HLN_ERR(...) hln_log(HLN_LOG_ERROR, __VA_ARGS__)
#define HLN_DEBUG(...) hln_log(HLN_LOG_DEBUG, __VA_ARGS__)

#define HLN_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define HLN_UNUSED(x) ((void)(x))

#endif
