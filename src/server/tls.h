/*
 * tls.h — TLS for client connections (client_encryption_options), over
 * OpenSSL memory BIOs so that libuv keeps doing the socket I/O.
 *
 * What: a tls_ctx is the server's certificate, key and trust settings (an
 * SSL_CTX), built once by server_start and shared by every shard. A
 * tls_conn is one connection's TLS state. conn.c feeds it the ciphertext
 * it reads and gets plaintext back (plus any bytes TLS itself must send:
 * handshake messages, alerts), and hands it plaintext to write and gets
 * ciphertext back. No function here touches a socket or blocks.
 *
 * Thread safety: a tls_ctx may be used from every shard at once (OpenSSL
 * reference counts it); a tls_conn belongs to one connection's shard.
 */
#ifndef HLN_TLS_H
#define HLN_TLS_H

#include "common/common.h"
#include "exec/node.h"

typedef struct tls_ctx tls_ctx;
typedef struct tls_conn tls_conn;

/* Loads the key and certificate chain (keystore, or certificate and
 * private_key), the trust store and the client-certificate policy.
 * HLN_ECONFIG with OpenSSL's reason on a bad file or password. */
int tls_ctx_new(tls_ctx **out, const hln_tls_config *c, hln_error *err);
void tls_ctx_free(tls_ctx *t);

/* A server-side TLS session waiting for the client's hello; NULL on ENOMEM. */
tls_conn *tls_conn_new(tls_ctx *ctx);
void tls_conn_free(tls_conn *t);

/* Feeds n bytes received from the peer. Appends the plaintext they
 * complete to *plain and what must be sent to the peer to *out. Returns 0,
 * 1 when the peer closed the session (close_notify), or HLN_EPROTO when
 * the session failed (bad handshake, bad certificate, garbage); *out then
 * holds the alert to send before closing. */
int tls_conn_read(tls_conn *t, const uint8_t *in, size_t n, hln_buf *plain, hln_buf *out,
                  hln_error *err);
/* Encrypts n bytes of plaintext into *out. Before the handshake has
 * finished the bytes are kept and sent once it has. 0 or HLN_EPROTO. */
int tls_conn_write(tls_conn *t, const uint8_t *p, size_t n, hln_buf *out, hln_error *err);
/* Whether the handshake has finished. */
bool tls_conn_established(const tls_conn *t);
/* The negotiated protocol ("TLSv1.3") and cipher suite, for
 * system_views.clients. */
const char *tls_conn_protocol(const tls_conn *t);
const char *tls_conn_cipher(const tls_conn *t);

/* The first byte of a TLS connection (a handshake record), for
 * client_encryption_options.optional: anything else is a CQL frame. */
#define TLS_HANDSHAKE_BYTE 0x16

#endif
