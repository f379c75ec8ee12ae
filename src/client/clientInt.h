/*
 * clientInt.h — private to src/client: the frame codec (pure functions,
 * no I/O, unit-tested on their own) used by the connection code.
 */
#ifndef HLN_CLIENT_INT_H
#define HLN_CLIENT_INT_H

#include "client/client.h"

#define CC_HDR_LEN 9
#define CC_VERSION 4

enum {
    CC_OP_ERROR = 0x00,
    CC_OP_STARTUP = 0x01,
    CC_OP_READY = 0x02,
    CC_OP_AUTHENTICATE = 0x03,
    CC_OP_OPTIONS = 0x05,
    CC_OP_SUPPORTED = 0x06,
    CC_OP_QUERY = 0x07,
    CC_OP_RESULT = 0x08,
    CC_OP_PREPARE = 0x09,
    CC_OP_EXECUTE = 0x0A,
    CC_OP_REGISTER = 0x0B,
    CC_OP_EVENT = 0x0C,
    CC_OP_BATCH = 0x0D,
    CC_OP_AUTH_CHALLENGE = 0x0E,
    CC_OP_AUTH_RESPONSE = 0x0F,
    CC_OP_AUTH_SUCCESS = 0x10,
};

enum { CC_FL_COMPRESSION = 0x01, CC_FL_TRACING = 0x02, CC_FL_PAYLOAD = 0x04, CC_FL_WARNING = 0x08 };

typedef struct cc_frame_hdr {
    uint8_t version; /* with bit 7 set for a response */
    uint8_t flags;
    int16_t stream;
    uint8_t opcode;
    uint32_t len; /* body length */
} cc_frame_hdr;

/* Parses a 9-byte header (n >= 9). */
void cc_frame_header(const uint8_t *p, cc_frame_hdr *h);

/* Request encoders: each appends one complete frame to b (b->err on ENOMEM). */
void cc_enc_options(hln_buf *b, int16_t stream);
void cc_enc_startup(hln_buf *b, int16_t stream);
void cc_enc_query(hln_buf *b, int16_t stream, const char *cql, const hln_bytes *vals, int n,
                  const cc_params *p);
void cc_enc_prepare(hln_buf *b, int16_t stream, const char *cql);
void cc_enc_execute(hln_buf *b, int16_t stream, const uint8_t *id, int32_t idlen, bool skip_meta,
                    const hln_bytes *vals, int n, const cc_params *p);

/* Result lifecycle: init once; clear releases what a decode allocated but
 * keeps the arena's first chunk; fini releases everything. */
void cc_result_init(cc_result *r);
void cc_result_clear(cc_result *r);
void cc_result_fini(cc_result *r);
/* Fills r as a client-side error (code < 0). */
void cc_result_set_error(cc_result *r, int32_t code, const char *msg);

/* Decodes a response body (h->len bytes at body) into r, which must be
 * clear. Pointers in r point into body and r's arena. result_meta (may be
 * NULL) supplies the columns when a ROWS result has No_metadata. Returns 0,
 * or HLN_EPROTO with r set to a client-side error describing the problem. */
int cc_decode_response(const cc_frame_hdr *h, const uint8_t *body, const cc_meta *result_meta,
                       cc_result *r);

/* Deep copy of metadata into an arena (columns, types, strings; the paging
 * state too). Returns 0 or HLN_ENOMEM. */
int cc_meta_copy(hln_arena *a, cc_meta *dst, const cc_meta *src);

#endif
