/*
 * tls.c - inspect a server's TLS certificate and session (see tls.h).
 *
 * The handshake is run with SSL_VERIFY_PEER and a verify callback that
 * records every problem and then lets the handshake go on: an expired
 * certificate must still show its dates, issuer and SAN in the report.
 * Old protocols are allowed (SECLEVEL 0) for the same reason: a server
 * that only speaks TLS 1.0 is reported as "too old", not as a failed
 * handshake. The socket is non-blocking; every wait goes through
 * co_wait_fd with the caller's deadline and cancel flag.
 *
 * PostgreSQL speaks plain text first: the SSLRequest goes out, exactly
 * one byte is read back ('S' then TLS, 'N' no TLS), and only then does
 * the handshake start on the same socket.
 */
#include "cutover/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "cutover/util.h"

const unsigned char co_tls_pg_sslrequest[CO_TLS_PG_SSLREQUEST_LEN] = {
    0x00, 0x00, 0x00, 0x08, /* length 8 */
    0x04, 0xd2, 0x16, 0x2f  /* 1234 << 16 | 5679 = 80877103 */
};

int co_tls_version_parse(const char *s)
{
    static const struct {
        const char *name;
        int v;
    } map[] = {{"1.0", TLS1_VERSION},
               {"1.1", TLS1_1_VERSION},
               {"1.2", TLS1_2_VERSION},
               {"1.3", TLS1_3_VERSION}};

    for (size_t i = 0; s != NULL && i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(s, map[i].name) == 0)
            return map[i].v;
    return 0;
}

static unsigned problem_of(int code)
{
    switch (code) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
        return CO_TLS_EXPIRED;
    case X509_V_ERR_CERT_NOT_YET_VALID:
        return CO_TLS_NOT_YET_VALID;
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
        return CO_TLS_WRONG_HOST;
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
        return CO_TLS_SELF_SIGNED;
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
        return CO_TLS_UNKNOWN_CA;
    default:
        return CO_TLS_OTHER;
    }
}

/* Records the problem and carries on (returns 1): the verdict is the
 * check's, made from everything that was found. */
static int verify_cb(int ok, X509_STORE_CTX *ctx)
{
    SSL *ssl;
    struct co_tls_info *info;
    int code;

    if (ok)
        return 1;
    ssl =
        X509_STORE_CTX_get_ex_data(ctx, SSL_get_ex_data_X509_STORE_CTX_idx());
    info = ssl != NULL ? SSL_get_app_data(ssl) : NULL;
    code = X509_STORE_CTX_get_error(ctx);
    if (info != NULL) {
        info->problems |= problem_of(code);
        if (info->verify_msg[0] == '\0')
            snprintf(info->verify_msg, sizeof(info->verify_msg), "%s",
                     X509_verify_cert_error_string(code));
    }
    return 1;
}

static void name_text(const X509_NAME *n, char *out, size_t outlen)
{
    BIO *b = BIO_new(BIO_s_mem());
    int len;

    out[0] = '\0';
    if (b == NULL)
        return;
    X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253);
    len = BIO_read(b, out, (int)outlen - 1);
    out[len > 0 ? len : 0] = '\0';
    BIO_free(b);
}

static void san_text(X509 *cert, char *out, size_t outlen)
{
    GENERAL_NAMES *names =
        X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    size_t used = 0;

    out[0] = '\0';
    for (int i = 0; names != NULL && i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
        char ip[INET6_ADDRSTRLEN] = "?";
        const char *sep = used > 0 ? ", " : "";
        int n = 0;

        if (g->type == GEN_DNS) {
            const ASN1_IA5STRING *s = g->d.dNSName;
            n = snprintf(out + used, outlen - used, "%sDNS:%.*s", sep,
                         ASN1_STRING_length(s),
                         (const char *)ASN1_STRING_get0_data(s));
        } else if (g->type == GEN_IPADD) {
            const ASN1_OCTET_STRING *s = g->d.iPAddress;
            int l = ASN1_STRING_length(s);
            if (l == 4 || l == 16)
                inet_ntop(l == 4 ? AF_INET : AF_INET6,
                          ASN1_STRING_get0_data(s), ip, sizeof(ip));
            n = snprintf(out + used, outlen - used, "%sIP:%s", sep, ip);
        }
        if (n < 0 || (size_t)n >= outlen - used)
            break;
        used += (size_t)n;
    }
    GENERAL_NAMES_free(names);
}

static void expiry(X509 *cert, struct co_tls_info *info)
{
    const ASN1_TIME *na = X509_get0_notAfter(cert);
    struct tm tm;
    int days = 0, secs = 0;

    memset(&tm, 0, sizeof(tm));
    if (ASN1_TIME_to_tm(na, &tm) == 1)
        strftime(info->not_after, sizeof(info->not_after), "%Y-%m-%d", &tm);
    if (ASN1_TIME_diff(&days, &secs, NULL, na) == 1)
        info->days_left = days - (days <= 0 && secs < 0 ? 1 : 0);
}

static void fingerprint(const X509 *cert, struct co_tls_info *info)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    size_t at = 0;

    if (X509_digest(cert, EVP_sha256(), md, &n) != 1)
        return;
    for (unsigned int i = 0; i < n && at + 3 < sizeof(info->fingerprint); i++)
        at += (size_t)snprintf(info->fingerprint + at,
                               sizeof(info->fingerprint) - at, "%s%02X",
                               i ? ":" : "", md[i]);
}

static void collect(SSL *ssl, struct co_tls_info *info)
{
    X509 *cert = SSL_get1_peer_certificate(ssl);

    info->version = SSL_version(ssl);
    snprintf(info->protocol, sizeof(info->protocol), "%s",
             SSL_get_version(ssl));
    snprintf(info->cipher, sizeof(info->cipher), "%s",
             SSL_get_cipher_name(ssl));
    if (cert == NULL)
        return;
    name_text(X509_get_subject_name(cert), info->subject,
              sizeof(info->subject));
    name_text(X509_get_issuer_name(cert), info->issuer, sizeof(info->issuer));
    san_text(cert, info->san, sizeof(info->san));
    expiry(cert, info);
    fingerprint(cert, info);
    X509_free(cert);
}

static void ssl_errtext(char *out, size_t outlen)
{
    unsigned long e = ERR_get_error();

    if (e == 0) {
        snprintf(out, outlen, "connection closed during the handshake");
        return;
    }
    ERR_error_string_n(e, out, outlen);
    ERR_clear_error();
}

/* Runs SSL_connect to completion on the non-blocking socket. */
static enum co_net_err handshake(SSL *ssl, int fd, int64_t deadline,
                                 const atomic_int *cancel, char *err,
                                 size_t errlen)
{
    for (;;) {
        int r = SSL_connect(ssl), e, w;
        char why[256];

        if (r == 1)
            return CO_NET_OK;
        e = SSL_get_error(ssl, r);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
            ssl_errtext(why, sizeof(why));
            snprintf(err, errlen, "TLS handshake failed: %s", why);
            return CO_NET_ERROR;
        }
        w = co_wait_fd(fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
                       deadline, cancel);
        if (w == 0) {
            snprintf(err, errlen, "TLS handshake timed out");
            return CO_NET_TIMEOUT;
        }
        if (w < 0) {
            snprintf(err, errlen, "TLS handshake %s",
                     errno == ECANCELED ? "interrupted" : "failed: poll");
            return errno == ECANCELED ? CO_NET_CANCELLED : CO_NET_ERROR;
        }
    }
}

/* ---- the start step: PostgreSQL's SSLRequest --------------------------- */

enum co_net_err co_tls_pg_answer(int byte, char *err, size_t errlen)
{
    switch (byte) {
    case 'S':
        return CO_NET_OK;
    case 'N':
        snprintf(err, errlen,
                 "server refuses TLS: PostgreSQL answered 'N' to the "
                 "SSLRequest (ssl = off on the server)");
        return CO_NET_REFUSED;
    case 'E':
        snprintf(err, errlen,
                 "the server answered the SSLRequest with an error "
                 "message: not a PostgreSQL server, or one too old");
        return CO_NET_ERROR;
    default:
        snprintf(err, errlen,
                 "unexpected answer 0x%02x to the SSLRequest: not a "
                 "PostgreSQL server?",
                 (unsigned)byte & 0xffu);
        return CO_NET_ERROR;
    }
}

/* Waits for fd as co_wait_fd does; a reason in err unless ready. */
static enum co_net_err wait_io(int fd, short events, int64_t deadline,
                               const atomic_int *cancel, const char *what,
                               char *err, size_t errlen)
{
    int w = co_wait_fd(fd, events, deadline, cancel);

    if (w > 0)
        return CO_NET_OK;
    if (w == 0) {
        snprintf(err, errlen, "%s timed out", what);
        return CO_NET_TIMEOUT;
    }
    if (errno == ECANCELED) {
        snprintf(err, errlen, "%s interrupted", what);
        return CO_NET_CANCELLED;
    }
    snprintf(err, errlen, "%s failed: %s", what, strerror(errno));
    return CO_NET_ERROR;
}

/* Sends the SSLRequest and reads exactly one byte back: anything the
 * server sent after it must reach the TLS layer, not us. */
static enum co_net_err pg_sslrequest(int fd, int64_t deadline,
                                     const atomic_int *cancel, char *err,
                                     size_t errlen)
{
    static const char what[] = "PostgreSQL SSLRequest";
    size_t sent = 0;
    unsigned char answer;
    enum co_net_err rc;
    ssize_t n;

    while (sent < sizeof(co_tls_pg_sslrequest)) {
        n = send(fd, co_tls_pg_sslrequest + sent,
                 sizeof(co_tls_pg_sslrequest) - sent, MSG_NOSIGNAL);
        if (n > 0) {
            sent += (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
            errno != EINTR) {
            snprintf(err, errlen, "%s failed: %s", what, strerror(errno));
            return CO_NET_ERROR;
        }
        rc = wait_io(fd, POLLOUT, deadline, cancel, what, err, errlen);
        if (rc != CO_NET_OK)
            return rc;
    }
    for (;;) {
        n = recv(fd, &answer, 1, 0);
        if (n == 1)
            return co_tls_pg_answer(answer, err, errlen);
        if (n == 0) {
            snprintf(err, errlen,
                     "the server closed the connection after the "
                     "SSLRequest: not a PostgreSQL server?");
            return CO_NET_ERROR;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            snprintf(err, errlen, "%s failed: %s", what, strerror(errno));
            return CO_NET_ERROR;
        }
        rc = wait_io(fd, POLLIN, deadline, cancel, what, err, errlen);
        if (rc != CO_NET_OK)
            return rc;
    }
}

/* ---- the handshake ------------------------------------------------------ */

static bool is_ip(const char *h)
{
    unsigned char b[16];

    return inet_pton(AF_INET, h, b) == 1 || inet_pton(AF_INET6, h, b) == 1;
}

/* ---- trust stores ------------------------------------------------------ */

/* Loading the system's CA store costs tens of milliseconds of CPU per
 * TLS context; every connection of a run shares one store per CA file
 * (read-only once loaded, which OpenSSL allows across threads). */
struct store_slot {
    char *ca_file; /* NULL: the system's */
    X509_STORE *store;
};

static pthread_mutex_t store_lock = PTHREAD_MUTEX_INITIALIZER;
static struct store_slot *stores;
static size_t nstores;

static bool same_file(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

X509_STORE *co_tls_store(const char *ca_file)
{
    X509_STORE *st = NULL;
    int ok;

    pthread_mutex_lock(&store_lock);
    for (size_t i = 0; i < nstores && st == NULL; i++)
        if (same_file(stores[i].ca_file, ca_file))
            st = stores[i].store;
    if (st == NULL && (st = X509_STORE_new()) != NULL) {
        ok = ca_file ? X509_STORE_load_file(st, ca_file)
                     : X509_STORE_set_default_paths(st);
        if (ok != 1) {
            ERR_clear_error();
            X509_STORE_free(st);
            st = NULL;
        } else {
            stores = co_realloc(stores, (nstores + 1) * sizeof(*stores));
            stores[nstores].ca_file = co_strdup(ca_file);
            stores[nstores++].store = st;
        }
    }
    if (st != NULL)
        X509_STORE_up_ref(st);
    pthread_mutex_unlock(&store_lock);
    return st;
}

void co_tls_thread_done(void)
{
    OPENSSL_thread_stop();
}

void co_tls_stores_free(void)
{
    pthread_mutex_lock(&store_lock);
    for (size_t i = 0; i < nstores; i++) {
        X509_STORE_free(stores[i].store);
        free(stores[i].ca_file);
    }
    free(stores);
    stores = NULL;
    nstores = 0;
    pthread_mutex_unlock(&store_lock);
}

static SSL_CTX *make_ctx(const struct co_tls_opts *o, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    X509_STORE *st;

    if (ctx == NULL) {
        snprintf(err, errlen, "could not create a TLS context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
    SSL_CTX_set_cipher_list(ctx, "DEFAULT:@SECLEVEL=0");
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_cb);
    st = co_tls_store(o->ca_file);
    if (st == NULL) {
        snprintf(err, errlen, "could not load CA certificates%s%s",
                 o->ca_file ? " from " : "", o->ca_file ? o->ca_file : "");
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_cert_store(ctx, st); /* takes our reference */
    return ctx;
}

static int set_host(SSL *ssl, const char *host)
{
    if (is_ip(host))
        return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host);
    if (SSL_set_tlsext_host_name(ssl, host) != 1)
        return 0;
    return SSL_set1_host(ssl, host);
}

enum co_net_err co_tls_inspect(int fd, const struct co_tls_opts *o,
                               int64_t deadline, const atomic_int *cancel,
                               struct co_tls_info *info, char *err,
                               size_t errlen)
{
    SSL_CTX *ctx;
    SSL *ssl;
    enum co_net_err rc;

    memset(info, 0, sizeof(*info));
    if (errlen > 0)
        err[0] = '\0';
    ERR_clear_error();
    ctx = make_ctx(o, err, errlen);
    if (ctx == NULL)
        return CO_NET_ERROR;
    ssl = SSL_new(ctx);
    if (ssl == NULL || SSL_set_fd(ssl, fd) != 1 ||
        set_host(ssl, o->host) != 1) {
        snprintf(err, errlen, "could not set up TLS for %s", o->host);
        SSL_free(ssl);
        SSL_CTX_free(ctx);
        return CO_NET_ERROR;
    }
    SSL_set_app_data(ssl, info);
    rc = CO_NET_OK;
    if (o->start == CO_TLS_PG_SSLREQUEST)
        rc = pg_sslrequest(fd, deadline, cancel, err, errlen);
    if (rc == CO_NET_OK)
        rc = handshake(ssl, fd, deadline, cancel, err, errlen);
    if (rc == CO_NET_OK)
        collect(ssl, info);
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    ERR_clear_error();
    return rc;
}
