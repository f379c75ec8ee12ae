/*
 * tls.c — TLS sessions for client connections, over memory BIOs.
 *
 * What: the SSL_CTX built from client_encryption_options, and per
 * connection an SSL object whose read BIO is filled with the bytes conn.c
 * reads from the socket and whose write BIO is emptied into the bytes
 * conn.c writes. OpenSSL never sees the socket, so the connection keeps
 * libuv's non-blocking reads and batched writes, and a slow or hostile
 * peer can only ever cost a buffer.
 *
 * Key material (Cassandra 5.0 reads PEM through PEMBasedSslContextFactory;
 * Helenus reads PEM only):
 *   keystore            one PEM file holding the private key and the
 *                       certificate chain (leaf first)
 *   keystore_password   the key's passphrase, if it is encrypted
 *   certificate,        (helenus) the chain and the key separately, each a
 *   private_key         file path or the PEM text itself
 *   truststore          PEM CA certificates that client certificates must
 *                       chain to (require_client_auth)
 *
 * Why memory BIOs rather than SSL_set_fd: the socket belongs to libuv and
 * the shard's loop; with BIO pairs OpenSSL is a pure transformation of
 * byte buffers and fits the existing read/flush paths unchanged.
 *
 * Invariants:
 *  1. OpenSSL's error queue is per thread: every entry point clears it
 *     first, and reads a failure's reason before returning.
 *  2. Plaintext handed over before the handshake finishes is kept in
 *     `pending` and encrypted, in order, as soon as it has.
 */
#include "server/tls.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

struct tls_ctx {
    SSL_CTX *ctx;
    char password[256];
};

struct tls_conn {
    SSL *ssl;
    BIO *rbio; /* ciphertext from the peer, read by SSL */
    BIO *wbio; /* ciphertext to the peer, written by SSL */
    hln_buf pending;
};

#define READ_STEP 16384

/* The first queued OpenSSL error as text ("unknown" when the queue is empty). */
static const char *ossl_reason(char *buf, size_t cap)
{
    unsigned long e = ERR_get_error();
    if (!e) {
        snprintf(buf, cap, "unknown error");
    } else {
        ERR_error_string_n(e, buf, cap);
        ERR_clear_error();
    }
    return buf;
}

static int pem_password(char *buf, int size, int rwflag, void *ud)
{
    HLN_UNUSED(rwflag);
    const tls_ctx *t = ud;
    int n = (int)strlen(t->password);
    if (n >= size) return -1;
    memcpy(buf, t->password, (size_t)n);
    return n;
}

static bool is_inline_pem(const char *s)
{
    return strncmp(s, "-----BEGIN", 10) == 0;
}

/* The certificate chain from inline PEM text: leaf first, then the chain. */
static int use_inline_chain(tls_ctx *t, const char *pem, hln_error *err)
{
    char why[256];
    BIO *b = BIO_new_mem_buf(pem, -1);
    if (!b) return hln_fail(err, HLN_ENOMEM, "out of memory loading the certificate");
    X509 *leaf = PEM_read_bio_X509(b, NULL, pem_password, t);
    int rc = 0;
    if (!leaf || SSL_CTX_use_certificate(t->ctx, leaf) != 1) {
        rc = hln_fail(err, HLN_ECONFIG,
                      "client_encryption_options.certificate: cannot load the certificate: %s",
                      ossl_reason(why, sizeof why));
    } else {
        X509 *ca;
        while ((ca = PEM_read_bio_X509(b, NULL, pem_password, t)) != NULL) {
            if (SSL_CTX_add0_chain_cert(t->ctx, ca) != 1) {
                X509_free(ca);
                rc = hln_fail(err, HLN_ECONFIG,
                              "client_encryption_options.certificate: bad chain certificate: %s",
                              ossl_reason(why, sizeof why));
                break;
            }
        }
        ERR_clear_error(); /* the end of the PEM text reads as an error */
    }
    X509_free(leaf);
    BIO_free(b);
    return rc;
}

static int use_inline_key(tls_ctx *t, const char *pem, hln_error *err)
{
    char why[256];
    BIO *b = BIO_new_mem_buf(pem, -1);
    if (!b) return hln_fail(err, HLN_ENOMEM, "out of memory loading the private key");
    EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, pem_password, t);
    int rc = 0;
    if (!k || SSL_CTX_use_PrivateKey(t->ctx, k) != 1)
        rc = hln_fail(err, HLN_ECONFIG,
                      "client_encryption_options.private_key: cannot load the private key: %s",
                      ossl_reason(why, sizeof why));
    EVP_PKEY_free(k);
    BIO_free(b);
    return rc;
}

static int load_identity(tls_ctx *t, const hln_tls_config *c, hln_error *err)
{
    char why[256];
    const char *chain = c->keystore[0] ? c->keystore : c->certificate;
    const char *key = c->keystore[0] ? c->keystore : c->private_key;
    const char *ckey = c->keystore[0] ? "keystore" : "certificate";
    const char *kkey = c->keystore[0] ? "keystore" : "private_key";
    int rc;
    if (is_inline_pem(chain)) {
        rc = use_inline_chain(t, chain, err);
        if (rc) return rc;
    } else if (SSL_CTX_use_certificate_chain_file(t->ctx, chain) != 1) {
        return hln_fail(err, HLN_ECONFIG,
                        "client_encryption_options.%s: cannot load a PEM certificate chain from "
                        "%s: %s",
                        ckey, chain, ossl_reason(why, sizeof why));
    }
    if (is_inline_pem(key)) {
        rc = use_inline_key(t, key, err);
        if (rc) return rc;
    } else if (SSL_CTX_use_PrivateKey_file(t->ctx, key, SSL_FILETYPE_PEM) != 1) {
        if (ERR_GET_REASON(ERR_peek_error()) == X509_R_KEY_VALUES_MISMATCH)
            return hln_fail(err, HLN_ECONFIG,
                            "client_encryption_options.%s: the private key in %s does not match "
                            "the certificate",
                            kkey, key);
        return hln_fail(err, HLN_ECONFIG,
                        "client_encryption_options.%s: cannot load a PEM private key from %s "
                        "(wrong keystore_password?): %s",
                        kkey, key, ossl_reason(why, sizeof why));
    }
    if (SSL_CTX_check_private_key(t->ctx) != 1)
        return hln_fail(err, HLN_ECONFIG,
                        "client_encryption_options: the private key does not match the "
                        "certificate: %s",
                        ossl_reason(why, sizeof why));
    return 0;
}

int tls_ctx_new(tls_ctx **out, const hln_tls_config *c, hln_error *err)
{
    *out = NULL;
    char why[256];
    ERR_clear_error();
    tls_ctx *t = hln_calloc(1, sizeof *t);
    if (!t) return hln_fail(err, HLN_ENOMEM, "out of memory setting up TLS");
    snprintf(t->password, sizeof t->password, "%s", c->keystore_password);
    t->ctx = SSL_CTX_new(TLS_server_method());
    int rc = 0;
    if (!t->ctx) {
        rc = hln_fail(err, HLN_ESERVER, "cannot create a TLS context: %s",
                      ossl_reason(why, sizeof why));
        goto out;
    }
    SSL_CTX_set_default_passwd_cb(t->ctx, pem_password);
    SSL_CTX_set_default_passwd_cb_userdata(t->ctx, t);
    SSL_CTX_set_min_proto_version(t->ctx, strcasecmp(c->protocol, "TLSv1.3") == 0 ? TLS1_3_VERSION
                                                                                  : TLS1_2_VERSION);
    SSL_CTX_set_options(t->ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    /* needed for session resumption when client certificates are verified */
    static const unsigned char sid[] = "helenus";
    SSL_CTX_set_session_id_context(t->ctx, sid, sizeof sid - 1);
    if (c->cipher_suites[0] && SSL_CTX_set_cipher_list(t->ctx, c->cipher_suites) != 1 &&
        SSL_CTX_set_ciphersuites(t->ctx, c->cipher_suites) != 1) {
        rc = hln_fail(err, HLN_ECONFIG,
                      "client_encryption_options.cipher_suites: no usable cipher in '%s' (use "
                      "OpenSSL's names): %s",
                      c->cipher_suites, ossl_reason(why, sizeof why));
        goto out;
    }
    ERR_clear_error();
    rc = load_identity(t, c, err);
    if (rc) goto out;
    if (c->truststore[0]) {
        if (SSL_CTX_load_verify_locations(t->ctx, c->truststore, NULL) != 1) {
            rc = hln_fail(err, HLN_ECONFIG,
                          "client_encryption_options.truststore: cannot load PEM CA certificates "
                          "from %s: %s",
                          c->truststore, ossl_reason(why, sizeof why));
            goto out;
        }
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(c->truststore);
        if (names) SSL_CTX_set_client_CA_list(t->ctx, names);
        ERR_clear_error();
    }
    int mode = SSL_VERIFY_NONE;
    if (c->require_client_auth == 1)
        mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    else if (c->require_client_auth == 2)
        mode = SSL_VERIFY_PEER;
    SSL_CTX_set_verify(t->ctx, mode, NULL);
out:
    OPENSSL_cleanse(t->password, sizeof t->password);
    if (rc) {
        tls_ctx_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

void tls_ctx_free(tls_ctx *t)
{
    if (!t) return;
    SSL_CTX_free(t->ctx);
    hln_free(t);
}

tls_conn *tls_conn_new(tls_ctx *ctx)
{
    tls_conn *t = hln_calloc(1, sizeof *t);
    if (!t) return NULL;
    ERR_clear_error();
    t->ssl = SSL_new(ctx->ctx);
    t->rbio = BIO_new(BIO_s_mem());
    t->wbio = BIO_new(BIO_s_mem());
    if (!t->ssl || !t->rbio || !t->wbio) {
        SSL_free(t->ssl);
        BIO_free(t->rbio);
        BIO_free(t->wbio);
        hln_free(t);
        ERR_clear_error();
        return NULL;
    }
    /* an empty read BIO asks for more data rather than reporting EOF */
    BIO_set_mem_eof_return(t->rbio, -1);
    SSL_set_bio(t->ssl, t->rbio, t->wbio); /* the SSL owns both now */
    SSL_set_accept_state(t->ssl);
    hln_buf_init(&t->pending);
    return t;
}

void tls_conn_free(tls_conn *t)
{
    if (!t) return;
    SSL_free(t->ssl);
    hln_buf_free(&t->pending);
    hln_free(t);
}

bool tls_conn_established(const tls_conn *t)
{
    return SSL_is_init_finished(t->ssl);
}

const char *tls_conn_protocol(const tls_conn *t)
{
    return SSL_get_version(t->ssl);
}

const char *tls_conn_cipher(const tls_conn *t)
{
    return SSL_get_cipher_name(t->ssl);
}

/* Moves what SSL wrote into *out. */
static int drain(tls_conn *t, hln_buf *out)
{
    size_t n = BIO_ctrl_pending(t->wbio);
    if (!n) return 0;
    if (hln_buf_reserve(out, n)) return HLN_ENOMEM;
    int got = BIO_read(t->wbio, out->data + out->len, (int)(n > INT_MAX ? INT_MAX : n));
    if (got > 0) out->len += (size_t)got;
    return 0;
}

static int write_now(tls_conn *t, const uint8_t *p, size_t n, hln_buf *out, hln_error *err)
{
    while (n > 0) {
        int chunk = n > (size_t)INT_MAX ? INT_MAX : (int)n;
        int k = SSL_write(t->ssl, p, chunk);
        if (k <= 0) {
            char why[256];
            return hln_fail(err, HLN_EPROTO, "TLS write failed: %s", ossl_reason(why, sizeof why));
        }
        p += k;
        n -= (size_t)k;
        /* keep the write BIO from holding a whole large response twice */
        if (drain(t, out)) return hln_fail(err, HLN_ENOMEM, "out of memory encrypting");
    }
    return drain(t, out) ? hln_fail(err, HLN_ENOMEM, "out of memory encrypting") : 0;
}

int tls_conn_write(tls_conn *t, const uint8_t *p, size_t n, hln_buf *out, hln_error *err)
{
    ERR_clear_error();
    if (!SSL_is_init_finished(t->ssl)) {
        hln_buf_put(&t->pending, p, n);
        return t->pending.err ? hln_fail(err, HLN_ENOMEM, "out of memory") : 0;
    }
    return write_now(t, p, n, out, err);
}

int tls_conn_read(tls_conn *t, const uint8_t *in, size_t n, hln_buf *plain, hln_buf *out,
                  hln_error *err)
{
    ERR_clear_error();
    if (n > INT_MAX || (n && BIO_write(t->rbio, in, (int)n) != (int)n))
        return hln_fail(err, HLN_ENOMEM, "out of memory reading TLS records");
    int rc = 0;
    for (;;) {
        if (hln_buf_reserve(plain, READ_STEP)) {
            rc = hln_fail(err, HLN_ENOMEM, "out of memory decrypting");
            break;
        }
        int k = SSL_read(t->ssl, plain->data + plain->len, READ_STEP);
        if (k > 0) {
            plain->len += (size_t)k;
            continue;
        }
        int e = SSL_get_error(t->ssl, k);
        if (e == SSL_ERROR_WANT_READ) break;
        if (e == SSL_ERROR_ZERO_RETURN) {
            rc = 1; /* close_notify */
            break;
        }
        char why[256];
        if (e == SSL_ERROR_SSL) {
            ossl_reason(why, sizeof why);
        } else {
            snprintf(why, sizeof why, "TLS error %d", e);
            ERR_clear_error();
        }
        rc = hln_fail(err, HLN_EPROTO, "TLS session failed: %s", why);
        break;
    }
    if (rc == 0 && t->pending.len && SSL_is_init_finished(t->ssl)) {
        hln_buf p = t->pending;
        hln_buf_init(&t->pending);
        rc = write_now(t, p.data, p.len, out, err);
        hln_buf_free(&p);
    }
    if (drain(t, out) && rc == 0) rc = hln_fail(err, HLN_ENOMEM, "out of memory");
    return rc;
}
