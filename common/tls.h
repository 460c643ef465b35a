/* TLS for vMCA: one OpenSSL context per daemon, TLS 1.3 only, mutual
 * authentication against the cluster CA (both directions require a peer
 * certificate signed by it). The node identity is the certificate's CN. */
#ifndef VMCA_TLS_H
#define VMCA_TLS_H

#include <stddef.h>

#include <openssl/ssl.h>

/* New context usable for both accepting and connecting. Returns NULL and a
 * one-line reason naming the failing file in err. Caller frees with
 * SSL_CTX_free. */
SSL_CTX *vmca_tls_ctx_new(const char *ca, const char *cert, const char *key,
                          char *err, size_t errlen);

/* Checks at start that the context's own certificate is this node's: its
 * CN is `name` and the cluster CA signed it, so a mistake is said at once
 * rather than as a peer's refusal on every connection. Returns 0, or
 * VMCA_ERR_AUTH with a one-line reason in err. */
int vmca_tls_check_own(SSL_CTX *ctx, const char *name, char *err, size_t errlen);

/* The CN of the peer's (verified) certificate. Returns 0, or VMCA_ERR_AUTH
 * when there is no certificate or no CN that fits in out. */
int vmca_tls_peer_cn(SSL *ssl, char *out, size_t outlen);

/* Drains OpenSSL's error queue into one line ("" when empty). */
void vmca_tls_errors(char *out, size_t outlen);

#endif
