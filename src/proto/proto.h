/*
 * proto.h — the CQL native protocol: frame headers, request decoding,
 * response encoding.
 *
 * What: pure functions from bytes to structs and back; no sockets here
 * (server/conn.c owns those). v4 framing today (9-byte header:
 * version|flags|stream(i16)|opcode|length(u32)); v5 framing, compression
 * and auth come in later issues behind the same functions.
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
#define PX_MAX_VERSION 4

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

enum { PX_FLAG_COMPRESSION = 0x01, PX_FLAG_TRACING = 0x02, PX_FLAG_CUSTOM_PAYLOAD = 0x04,
       PX_FLAG_WARNING = 0x08, PX_FLAG_BETA = 0x10 };

typedef struct px_header {
    uint8_t version;  /* without the response bit */
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
int px_header_parse(const uint8_t *p, size_t len, size_t max_body, px_header *h,
                    hln_error *err);

/* Starts a response frame in out (header with a length placeholder) and
 * returns the offset to pass to px_frame_end, which fills in the length. */
size_t px_frame_begin(hln_buf *out, uint8_t version, uint8_t flags, int16_t stream,
                      uint8_t opcode);
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
int px_decode_register(hln_rd *r, hln_arena *a, const char ***types, int *ntypes,
                       hln_error *err);
/* QUERY: <query long string><query_parameters>. */
int px_decode_query(hln_rd *r, uint8_t version, hln_arena *a, const char **cql, size_t *cqllen,
                    ex_params *p, hln_error *err);
/* PREPARE: <query long string> (v5 adds flags, later). */
int px_decode_prepare(hln_rd *r, uint8_t version, hln_arena *a, const char **cql,
                      size_t *cqllen, hln_error *err);
/* EXECUTE: <id short bytes><query_parameters>. */
int px_decode_execute(hln_rd *r, uint8_t version, hln_arena *a, const uint8_t **id,
                      size_t *idlen, ex_params *p, hln_error *err);

/* ---- response bodies -------------------------------------------------- */
/* The CQL error code for an HLN_E* code. */
uint16_t px_errcode_for(int hln_code);
void px_encode_error(hln_buf *out, const hln_error *err);
void px_encode_ready(hln_buf *out);
/* SUPPORTED: CQL_VERSION ["3.4.7"], COMPRESSION [] (more later),
 * PROTOCOL_VERSIONS ["3/v3","4/v4"]. */
void px_encode_supported(hln_buf *out);
void px_encode_result(hln_buf *out, uint8_t version, const ex_result *res);
/* EVENT SCHEMA_CHANGE. */
void px_encode_schema_event(hln_buf *out, const char *change, const char *target,
                            const char *ks, const char *name);

#endif
