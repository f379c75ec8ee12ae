/*
 * helenus_codes.h — result codes shared by the embedded API (helenus.h) and
 * the engine: 0 is success, negative values are errors.
 */
#ifndef HELENUS_CODES_H
#define HELENUS_CODES_H

enum {
    HLN_OK = 0,
    HLN_ENOMEM = -1,         /* allocation failed */
    HLN_EINVAL = -2,         /* invalid request (CQL 0x2200) */
    HLN_ESYNTAX = -3,        /* syntax error (CQL 0x2000) */
    HLN_ENOTFOUND = -4,      /* unknown keyspace/table/column (CQL 0x2200) */
    HLN_EEXISTS = -5,        /* keyspace/table exists (CQL 0x2400) */
    HLN_EIO = -6,            /* I/O error (CQL 0x0000 server error) */
    HLN_ECORRUPT = -7,       /* corrupt file or record */
    HLN_EPROTO = -8,         /* protocol error (CQL 0x000A) */
    HLN_EAGAIN = -9,         /* not ready, try again (non-blocking paths) */
    HLN_EUNSUPPORTED = -10,  /* valid CQL we do not support yet (0x2200) */
    HLN_ESERVER = -11,       /* internal error (0x0000) */
    HLN_EUNPREPARED = -12,   /* unknown prepared id (0x2500) */
    HLN_ECONFIG = -13,       /* bad configuration (0x2300) */
    HLN_ETOOBIG = -14,       /* value or frame too large */
    HLN_EBADVERSION = -15,   /* unsupported protocol version (0x000A) */
    HLN_EAUTH = -16,         /* authentication failed (CQL 0x0100) */
    HLN_EUNAUTHORIZED = -17, /* permission denied (CQL 0x2100) */
    HLN_EFUNCFAIL = -18,     /* a function failed while executing (CQL 0x1400) */
    HLN_EOVERLOADED = -19,   /* memtable space full, nothing applied (CQL 0x1001) */
    HLN_EWRITETIMEOUT = -20, /* a write waited past write_request_timeout, nothing
                                applied (CQL 0x1100) */
};

#endif
