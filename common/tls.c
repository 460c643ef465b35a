/* OpenSSL context set-up and peer identity; see tls.h. */
#include "tls.h"

#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "err.h"

void vmca_tls_errors(char *out, size_t outlen)
{
    size_t used = 0;
    unsigned long e;
    if (outlen)
        out[0] = '\0';
    while ((e = ERR_get_error()) != 0) {
        char one[256];
        ERR_error_string_n(e, one, sizeof one);
        if (used < outlen) {
            int n = snprintf(out + used, outlen - used, "%s%s", used ? "; " : "", one);
            if (n > 0)
                used += (size_t)n;
        }
    }
}

static SSL_CTX *ctx_fail(SSL_CTX *ctx, char *err, size_t errlen, const char *what,
                         const char *file)
{
    char ossl[512];
    vmca_tls_errors(ossl, sizeof ossl);
    snprintf(err, errlen, "%s %s: %s", what, file, ossl[0] ? ossl : "failed");
    SSL_CTX_free(ctx);
    return NULL;
}

SSL_CTX *vmca_tls_ctx_new(const char *ca, const char *cert, const char *key,
                          char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_method());
    if (!ctx)
        return ctx_fail(NULL, err, errlen, "creating TLS context", "");
    if (!SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
        !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION))
        return ctx_fail(ctx, err, errlen, "restricting to TLS 1.3", "");
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
        return ctx_fail(ctx, err, errlen, "loading certificate", cert);
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
        return ctx_fail(ctx, err, errlen, "loading key", key);
    if (SSL_CTX_check_private_key(ctx) != 1)
        return ctx_fail(ctx, err, errlen, "key does not match certificate", cert);
    if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1)
        return ctx_fail(ctx, err, errlen, "loading CA", ca);
    STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(ca);
    if (!names)
        return ctx_fail(ctx, err, errlen, "reading CA names from", ca);
    SSL_CTX_set_client_CA_list(ctx, names);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    /* No session tickets: every connection re-authenticates both peers. */
    SSL_CTX_set_num_tickets(ctx, 0);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    return ctx;
}

/* The CN of cert: 0, or VMCA_ERR_AUTH when it has none that fits in out. */
static int cert_cn(X509 *cert, char *out, size_t outlen)
{
    X509_NAME *subject = X509_get_subject_name(cert);
    int idx = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
    if (idx < 0)
        return VMCA_ERR_AUTH;
    ASN1_STRING *data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, idx));
    int len = ASN1_STRING_length(data);
    const unsigned char *bytes = ASN1_STRING_get0_data(data);
    /* Reject embedded NULs and names that do not fit rather than truncate. */
    if (len <= 0 || (size_t)len >= outlen || memchr(bytes, '\0', (size_t)len))
        return VMCA_ERR_AUTH;
    memcpy(out, bytes, (size_t)len);
    out[len] = '\0';
    return VMCA_OK;
}

int vmca_tls_peer_cn(SSL *ssl, char *out, size_t outlen)
{
    X509 *peer = SSL_get0_peer_certificate(ssl);
    if (!peer || SSL_get_verify_result(ssl) != X509_V_OK)
        return VMCA_ERR_AUTH;
    return cert_cn(peer, out, outlen);
}

int vmca_tls_check_own(SSL_CTX *ctx, const char *name, char *err, size_t errlen)
{
    X509 *own = SSL_CTX_get0_certificate(ctx);
    char cn[256];
    if (!own || cert_cn(own, cn, sizeof cn) != VMCA_OK) {
        snprintf(err, errlen, "the certificate has no usable common name (CN)");
        return VMCA_ERR_AUTH;
    }
    if (strcmp(cn, name) != 0) {
        snprintf(err, errlen, "the certificate is for '%s' (its CN), not for '%s': peers and "
                 "the master would refuse it; give this node its own certificate", cn, name);
        return VMCA_ERR_AUTH;
    }
    X509_STORE_CTX *vc = X509_STORE_CTX_new();
    int ok = vc && X509_STORE_CTX_init(vc, SSL_CTX_get_cert_store(ctx), own, NULL) == 1 &&
             X509_verify_cert(vc) == 1;
    if (!ok)
        snprintf(err, errlen, "the certificate of '%s' is not signed by the cluster CA (%s)",
                 name, vc ? X509_verify_cert_error_string(X509_STORE_CTX_get_error(vc))
                          : "out of memory");
    X509_STORE_CTX_free(vc);
    ERR_clear_error();
    return ok ? VMCA_OK : VMCA_ERR_AUTH;
}
