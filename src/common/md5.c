/*
 * md5.c — MD5 over one or two byte strings, via OpenSSL's libcrypto.
 *
 * Why MD5 at all: Cassandra derives prepared-statement ids (MD5 of keyspace
 * + query) and the ids of its system tables (name-based uuids) from MD5;
 * matching them keeps driver caches and schema ids compatible. Not used for
 * security.
 */
#include "common/common.h"

#include <openssl/evp.h>
#include <string.h>

void hln_md5(const void *a, size_t na, const void *b, size_t nb, uint8_t out[16])
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned int len = 16;
    if (!c || !EVP_DigestInit_ex(c, EVP_md5(), NULL) || (na && !EVP_DigestUpdate(c, a, na)) ||
        (nb && !EVP_DigestUpdate(c, b, nb)) || !EVP_DigestFinal_ex(c, out, &len))
        memset(out, 0, 16); /* only on allocation failure inside libcrypto */
    EVP_MD_CTX_free(c);
}
