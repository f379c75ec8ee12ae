/*
 * proto.h — the CQL native protocol: frame headers, request decoding,
 * response encoding.
 *
 * What: pure functions from bytes to structs and back; no sockets here
 * (server/conn.c owns those). Versions 3 to 5: the 9-byte header
 * (version|flags|stream(i16)|opcode|length(u32)) of v3/v4 frames, which v5
 * calls envelopes and wraps in its own CRC-protected frames (frame_v5.c);
 * lz4 / snappy compression (compress.c).
 *
 * Why pure: the decoders are the first thing hostile input meets, so they
 * are easy to fuzz in isolation (tests/fuzz) and cannot touch connection
 * state.
 *
 * Invariants:
 *  1. A decoder reads only within the body it was given; any short or
 *     inconsistent field gives HLN_EPROTO with a message, never a crash.
 *  2. Strings handed out point into the body or the arena and live as long
 *     as the frame buffer / arena.
 *  3. Response encoders append exactly one body; px_frame_begin/end wrap it.
 */
#ifndef HLN_PROTO_H
#define HLN_PROTO_H

#include "common/common.h"
#include "exec/exec.h"

#define PX_HEADER_LEN 9
#define PX_MIN_VERSION 3
#define PX_MAX_VERSION 5

enum px_opcode {
    PX_ERROR = 0x00,
    PX_STARTUP = 0x01,
    PX_READY = 0x02,
    PX_AUTHENTICATE = 0x03,
    PX_OPTIONS = 0x05,
    PX_SUPPORTED = 0x06,
    PX_QUERY = 0x07,
    PX_RESULT = 0x08,
    PX_PREPARE = 0x09,
    PX_EXECUTE = 0x0A,
    PX_REGISTER = 0x0B,
    PX_EVENT = 0x0C,
    PX_BATCH = 0x0D,
    PX_AUTH_CHALLENGE = 0x0E,
    PX_AUTH_RESPONSE = 0x0F,
    PX_AUTH_SUCCESS = 0x10,
};

/* CQL error codes. */
enum px_errcode {
    PX_ERR_SERVER = 0x0000,
    PX_ERR_PROTOCOL = 0x000A,
    PX_ERR_BAD_CREDENTIALS = 0x0100,
    PX_ERR_UNAVAILABLE = 0x1000,
    PX_ERR_OVERLOADED = 0x1001,
    PX_ERR_IS_BOOTSTRAPPING = 0x1002,
    PX_ERR_TRUNCATE = 0x1003,
    PX_ERR_WRITE_TIMEOUT = 0x1100,
    PX_ERR_READ_TIMEOUT = 0x1200,
    PX_ERR_READ_FAILURE = 0x1300,
    PX_ERR_FUNCTION_FAILURE = 0x1400,
    PX_ERR_WRITE_FAILURE = 0x1500,
    PX_ERR_SYNTAX = 0x2000,
    PX_ERR_UNAUTHORIZED = 0x2100,
    PX_ERR_INVALID = 0x2200,
    PX_ERR_CONFIG = 0x2300,
    PX_ERR_ALREADY_EXISTS = 0x2400,
    PX_ERR_UNPREPARED = 0x2500,
};

enum {
    PX_FLAG_COMPRESSION = 0x01,
    PX_FLAG_TRACING = 0x02,
    PX_FLAG_CUSTOM_PAYLOAD = 0x04,
    PX_FLAG_WARNING = 0x08,
    PX_FLAG_BETA = 0x10
};

typedef struct px_header {
    uint8_t version; /* without the response bit */
    bool response;
    uint8_t flags;
    int16_t stream;
    uint8_t opcode;
    uint32_t length;
} px_header;

/* Parses a header from p (len >= PX_HEADER_LEN, else HLN_EAGAIN).
 * HLN_EBADVERSION for a version outside [PX_MIN_VERSION, PX_MAX_VERSION]
 * (the caller answers "Invalid or unsupported protocol version (N); ..."
 * with ERROR 0x000A in the lower of the client's and our max version, on
 * the same stream); HLN_ETOOBIG when length > max_body. */
int px_header_parse(const uint8_t *p, size_t len, size_t max_body, px_header *h, hln_error *err);

/* Starts a response frame in out (header with a length placeholder) and
 * returns the offset to pass to px_frame_end, which fills in the length. */
size_t px_frame_begin(hln_buf *out, uint8_t version, uint8_t flags, int16_t stream, uint8_t opcode);
void px_frame_end(hln_buf *out, size_t frame_off);

/* ---- request bodies --------------------------------------------------- */
typedef struct px_kv {
    const char *key, *value;
} px_kv;

typedef struct px_startup {
    px_kv *opts; /* CQL_VERSION, COMPRESSION, DRIVER_NAME, ... */
    int nopts;
} px_startup;

int px_decode_startup(hln_rd *r, hln_arena *a, px_startup *out, hln_error *err);
/* REGISTER: a [string list] of event types. */
int px_decode_register(hln_rd *r, hln_arena *a, const char ***types, int *ntypes, hln_error *err);
/* QUERY: <query long string><query_parameters>. */
int px_decode_query(hln_rd *r, uint8_t version, hln_arena *a, const char **cql, size_t *cqllen,
                    ex_params *p, hln_error *err);
/* PREPARE: <query long string> (v5 adds flags, later). */
int px_decode_prepare(hln_rd *r, uint8_t version, hln_arena *a, const char **cql, size_t *cqllen,
                      hln_error *err);
/* EXECUTE: <id short bytes><query_parameters>. */
int px_decode_execute(hln_rd *r, uint8_t version, hln_arena *a, const uint8_t **id, size_t *idlen,
                      ex_params *p, hln_error *err);

/* ---- response bodies -------------------------------------------------- */
/* The CQL error code for an HLN_E* code. */
uint16_t px_errcode_for(int hln_code);
void px_encode_error(hln_buf *out, uint8_t version, const hln_error *err);
void px_encode_ready(hln_buf *out);
/* SUPPORTED: CQL_VERSION ["3.4.7"], COMPRESSION [] (more later),
 * PROTOCOL_VERSIONS ["3/v3","4/v4"]. */
void px_encode_supported(hln_buf *out);
void px_encode_result(hln_buf *out, uint8_t version, const ex_result *res);
/* EVENT TOPOLOGY_CHANGE / STATUS_CHANGE: [string] type, [string] change,
 * [inet] (1-byte address length, address, int port). */
void px_encode_node_event(hln_buf *out, const char *type, const char *change, const uint8_t *addr,
                          int addrlen, int port);
/* EVENT SCHEMA_CHANGE. */
void px_encode_schema_event(hln_buf *out, const char *change, const char *target, const char *ks,
                            const char *name);

/* ---- protocol v5 additions (proto.c) ----------------------------------- */
/* PREPARE with v5's <flags>[<keyspace>]: *keyspace is the keyspace the
 * client named (arena copy) or NULL. px_decode_prepare is this without it. */
int px_decode_prepare_ks(hln_rd *r, uint8_t version, hln_arena *a, const char **cql, size_t *cqllen,
                         const char **keyspace, hln_error *err);
/* EXECUTE with v5's <result_metadata_id>: *md_id / *md_idlen point into the
 * body (NULL / 0 before v5). px_decode_execute is this without them. */
int px_decode_execute_md(hln_rd *r, uint8_t version, hln_arena *a, const uint8_t **id,
                         size_t *idlen, const uint8_t **md_id, size_t *md_idlen, ex_params *p,
                         hln_error *err);
/* The result metadata id of v5 (an MD5 of the column specs: keyspace,
 * table, name and type of each column; MD5 of nothing for no columns). */
void px_result_metadata_id(const ex_colspec *cols, int ncols, uint8_t out[16]);
/* px_encode_result for the answer to a v5 EXECUTE that carried the result
 * metadata id md_id: when a Rows result's metadata id differs from it, the
 * Rows carry Metadata_changed, the new id and the full metadata (whatever
 * no_metadata says). md_id NULL: exactly px_encode_result. */
void px_encode_result_md(hln_buf *out, uint8_t version, const ex_result *res, const uint8_t *md_id,
                         size_t md_idlen);

/* ---- compression (compress.c) ------------------------------------------ */
enum px_compression { PX_COMP_NONE = 0, PX_COMP_LZ4 = 1, PX_COMP_SNAPPY = 2 };

/* "lz4" / "snappy" (any case) -> PX_COMP_*; -1 for anything else. */
int px_compression_parse(const char *name);
/* Appends a raw LZ4 block of in[0..n) (n <= PX_COMP_MAX_INPUT). */
#define PX_COMP_MAX_INPUT ((size_t)0x7E000000)
void px_lz4_compress(hln_buf *out, const void *in, size_t n);
/* Decompresses a raw LZ4 block that must expand to exactly outlen bytes
 * into out (outlen bytes of room); HLN_EPROTO otherwise. */
int px_lz4_decompress(const void *in, size_t n, void *out, size_t outlen, hln_error *err);
/* v3/v4 envelope bodies (spec v4 section 5): lz4 is an [int] uncompressed
 * length (big-endian) then a raw LZ4 block; snappy is a raw snappy buffer. */
void px_body_compress(int comp, hln_buf *out, const void *in, size_t n);
/* Appends the decompressed body to out. A body expanding beyond max bytes,
 * a lying length or corrupt data give HLN_EPROTO; nothing larger than max
 * is ever allocated (and for LZ4 nothing larger than the block could
 * expand to). */
int px_body_decompress(int comp, const void *in, size_t n, size_t max, hln_buf *out,
                       hln_error *err);
/* Rewrites whole v3/v4 envelopes env[0..n) into out with every non-empty
 * body compressed and the compression flag set. */
void px_compress_envelopes(int comp, hln_buf *out, const uint8_t *env, size_t n);

/* ---- protocol v5 framing (frame_v5.c) ---------------------------------- */
/* After the STARTUP exchange a v5 connection carries its envelopes (the v4
 * style messages above, version 5) inside frames, all integers little
 * endian:
 *   uncompressed: 3-byte header (payload length: 17 bits, self-contained
 *                 flag: bit 17), CRC24 of those 3 bytes (3 bytes), payload,
 *                 CRC32 of the payload (4 bytes);
 *   lz4:          5-byte header (compressed length: 17 bits, uncompressed
 *                 length: 17 bits, 0 = not compressed; self-contained: bit
 *                 34), CRC24 of those 5 bytes, payload, CRC32 of the payload
 *                 as sent.
 * A self-contained frame holds one or more whole envelopes; a larger
 * envelope travels alone over a run of non-self-contained frames. */
#define PX_V5_MAX_PAYLOAD ((size_t)0x1FFFF)

/* CRC24 of the len (1..8) low bytes of v, least significant first. */
uint32_t px_crc24(uint64_t v, int len);
/* CRC32 (zlib) of p[0..n) seeded with the bytes FA 2D 55 CA. */
uint32_t px_crc32_v5(const void *p, size_t n);

/* Appends one frame carrying payload[0..n) (n <= PX_V5_MAX_PAYLOAD). With
 * lz4 the payload is compressed when that makes it smaller. */
void px_v5_frame_write(hln_buf *out, const void *payload, size_t n, bool self_contained, bool lz4);
/* Frames the whole envelopes env[0..n): consecutive envelopes are packed
 * into self-contained frames of up to PX_V5_MAX_PAYLOAD bytes; an envelope
 * larger than that is split over non-self-contained frames. */
void px_v5_frame_envelopes(hln_buf *out, const uint8_t *env, size_t n, bool lz4);

/* Inbound deframer: turns frames back into a stream of envelopes. */
typedef struct px_v5_in {
    bool lz4;
    size_t max_body;   /* largest envelope body accepted (as px_header_parse) */
    hln_buf env;       /* deframed envelopes; unconsumed from env_off */
    size_t env_off;    /* advanced by the caller as it consumes envelopes */
    size_t large_left; /* bytes still due of a multi-frame envelope */
    size_t large_at;   /* where that envelope starts in env */
    bool skipping;     /* discarding the rest of a corrupt multi-frame envelope */
    hln_buf scratch;   /* decompression buffer */
    uint64_t frames, corrupt_recovered;
} px_v5_in;

void px_v5_in_init(px_v5_in *in, bool lz4, size_t max_body);
void px_v5_in_free(px_v5_in *in);
/* Takes one frame from p[0..len) and appends its envelope bytes to in->env.
 *  0             a frame was taken; *used = its length.
 *  HLN_EAGAIN    no whole frame yet; *used = the bytes it needs in total
 *                (header included) once that is known, else the header size.
 *  HLN_ECORRUPT  the payload failed its CRC32 but the frame could be
 *                skipped (a self-contained frame, or a later frame of a
 *                multi-frame envelope, whose envelope is then dropped as
 *                Cassandra does); *used = its length, err says why.
 *  HLN_EPROTO    unrecoverable (header CRC, first frame of a multi-frame
 *                envelope corrupt, bad LZ4 data, envelopes not aligned on
 *                frames): answer err and close the connection.
 *  HLN_ENOMEM */
int px_v5_in_take(px_v5_in *in, const uint8_t *p, size_t len, size_t *used, hln_error *err);
/* Drops the consumed envelope bytes (env_off) from the front of env. */
void px_v5_in_compact(px_v5_in *in);

/* ---- BATCH (proto.c) ---------------------------------------------------- */
/* BATCH: <type><n><query_1>...<query_n> then the same parameters as QUERY
 * (<consistency><flags>[<serial_consistency>][<timestamp>], v5: [int]
 * flags and [<keyspace>][<now_in_seconds>]), decoded into p. Each query is
 * <kind: 0 [long string] | 1 [short bytes] prepared id><[short] n><n
 * [value]>. *type is the batch type (0 logged, 1 unlogged, 2 counter);
 * items are arena memory, their values and ids point into the body. */
int px_decode_batch(hln_rd *r, uint8_t version, hln_arena *a, int *type, ex_batch_item **items,
                    int *nitems, ex_params *p, hln_error *err);

#endif
