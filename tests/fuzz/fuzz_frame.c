/*
 * fuzz_frame.c — libFuzzer harness for the native protocol codec.
 *
 * Parses a frame header from the input, then runs the decoder for its
 * opcode over the rest of the input (the body; a body shorter than the
 * header claims is decoded as it is, which exercises the truncation paths).
 * Everything a successful decode hands out is read back, so ASan sees any
 * pointer that escaped the body, and an error is encoded as the server
 * would answer it. No sockets, no engine.
 *
 * Corpus: tests/fuzz/corpus/fuzz_frame/ (valid OPTIONS, STARTUP, REGISTER,
 * QUERY, PREPARE, EXECUTE frames; truncated bodies; wrong versions; a huge
 * declared length), replayed by ctest through fuzz/replay_main.c.
 */
#include <stdint.h>
#include <string.h>

#include "proto/proto.h"

static volatile unsigned sink;

static void touch(const void *p, size_t n)
{
    const uint8_t *b = p;
    unsigned s = 0;
    for (size_t i = 0; i < n; i++)
        s += b[i];
    sink += s;
}

static void touch_str(const char *s)
{
    if (s) touch(s, strlen(s) + 1);
}

static void touch_params(const ex_params *p)
{
    for (int i = 0; i < p->nvalues; i++) {
        if (p->values[i].len > 0) touch(p->values[i].p, (size_t)p->values[i].len);
        if (p->names) touch_str(p->names[i]);
    }
    if (p->paging_state && p->paging_len > 0) touch(p->paging_state, (size_t)p->paging_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    px_header h;
    hln_error err;
    memset(&err, 0, sizeof err);
    hln_buf out;
    hln_buf_init(&out);
    int rc = px_header_parse(data, size, (size_t)1 << 20, &h, &err);
    if (rc == HLN_EBADVERSION || rc == HLN_ETOOBIG) {
        uint8_t v = h.version < 3 ? h.version : 4;
        size_t off = px_frame_begin(&out, v, 0, h.stream, PX_ERROR);
        px_encode_error(&out, v, &err);
        px_frame_end(&out, off);
    }
    if (rc) {
        hln_buf_free(&out);
        return 0;
    }
    size_t body = size - PX_HEADER_LEN;
    if (body > h.length) body = h.length;
    hln_arena a;
    hln_arena_init(&a, 4096);
    hln_rd r;
    hln_rd_init(&r, data + PX_HEADER_LEN, body);
    ex_params p;
    memset(&p, 0, sizeof p);
    const char *cql;
    size_t len;
    switch (h.opcode) {
    case PX_STARTUP: {
        px_startup st;
        rc = px_decode_startup(&r, &a, &st, &err);
        for (int i = 0; !rc && i < st.nopts; i++) {
            touch_str(st.opts[i].key);
            touch_str(st.opts[i].value);
        }
        break;
    }
    case PX_REGISTER: {
        const char **types;
        int n;
        rc = px_decode_register(&r, &a, &types, &n, &err);
        for (int i = 0; !rc && i < n; i++)
            touch_str(types[i]);
        break;
    }
    case PX_QUERY:
        rc = px_decode_query(&r, h.version, &a, &cql, &len, &p, &err);
        if (!rc) {
            touch(cql, len + 1);
            touch_params(&p);
        }
        break;
    case PX_PREPARE:
        rc = px_decode_prepare(&r, h.version, &a, &cql, &len, &err);
        if (!rc) touch(cql, len + 1);
        break;
    case PX_EXECUTE: {
        const uint8_t *id;
        size_t idlen;
        rc = px_decode_execute(&r, h.version, &a, &id, &idlen, &p, &err);
        if (!rc) {
            touch(id, idlen);
            touch_params(&p);
        }
        break;
    }
    default:
        rc = 0;
        break;
    }
    if (rc) {
        /* decoders report protocol errors only (or ENOMEM) */
        if (err.code != HLN_EPROTO && err.code != HLN_ENOMEM) __builtin_trap();
        size_t off = px_frame_begin(&out, h.version, 0, h.stream, PX_ERROR);
        px_encode_error(&out, h.version, &err);
        px_frame_end(&out, off);
    }
    hln_arena_free(&a);
    hln_buf_free(&out);
    return 0;
}
