/*
 * tls.h - a TLS client handshake that inspects rather than trusts: it
 * completes on any certificate and reports what it saw (subject,
 * issuer, SAN, expiry, protocol, cipher) and every verification problem
 * found against the system store or a CA file, each told apart
 * (expired, wrong host, unknown CA, self-signed), so a check can say
 * exactly what is wrong instead of "handshake failed".
 *
 * It never sends application data: callers that need a session (HTTP)
 * use libcurl, which verifies for itself. Protocols that negotiate TLS
 * in plain text first (PostgreSQL's SSLRequest) are a `start` step run
 * before the handshake, so every protocol shares one inspection.
 */
#ifndef CUTOVER_TLS_H
#define CUTOVER_TLS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "cutover/net.h"

/* Verification problems, as bits of co_tls_info.problems. */
enum co_tls_problem {
    CO_TLS_EXPIRED = 1u << 0,
    CO_TLS_NOT_YET_VALID = 1u << 1,
    CO_TLS_WRONG_HOST = 1u << 2,
    CO_TLS_UNKNOWN_CA = 1u << 3,
    CO_TLS_SELF_SIGNED = 1u << 4,
    CO_TLS_OTHER = 1u << 5
};

struct co_tls_info {
    char subject[256]; /* RFC 2253: "CN=app.example.com,O=..." */
    char issuer[256];
    char san[512];        /* "DNS:a.example.com, IP:127.0.0.1" */
    char not_after[32];   /* "2027-11-24" (UTC) */
    int days_left;        /* whole days until notAfter; < 0 when expired */
    int version;          /* wire version: 0x0303 is TLS 1.2 */
    char protocol[16];    /* "TLSv1.2" */
    char cipher[64];      /* "ECDHE-RSA-AES256-GCM-SHA384" */
    unsigned problems;    /* enum co_tls_problem bits */
    char verify_msg[256]; /* OpenSSL's text of the first problem, or "" */
    char fingerprint[96]; /* SHA-256 of the leaf certificate, "AB:CD:..." */
};

/* What comes before the handshake on a freshly connected socket. */
enum co_tls_start {
    CO_TLS_DIRECT = 0,   /* TLS from the first byte: HTTPS, rediss:// */
    CO_TLS_PG_SSLREQUEST /* PostgreSQL: SSLRequest, answer 'S', then TLS */
};

struct co_tls_opts {
    const char *host;    /* SNI and the name the certificate must match */
    const char *ca_file; /* NULL: the system's store */
    enum co_tls_start start;
};

/* Handshakes on fd (connected, non-blocking; the caller closes it) until
 * the deadline, after the `start` step. CO_NET_OK fills info (problems
 * included); otherwise a reason in err (CO_NET_TIMEOUT, CO_NET_CANCELLED,
 * CO_NET_REFUSED when a PostgreSQL server answers 'N': "server refuses
 * TLS", CO_NET_ERROR for a failed handshake or a bad answer). */
enum co_net_err co_tls_inspect(int fd, const struct co_tls_opts *o,
                               int64_t deadline, const atomic_int *cancel,
                               struct co_tls_info *info, char *err,
                               size_t errlen);

/* The trust store for ca_file (NULL: the system's), loaded once per
 * process and shared: a new reference the caller hands to
 * SSL_CTX_set_cert_store or frees with X509_STORE_free. NULL when it
 * cannot be loaded. co_tls_stores_free drops the cache (at exit). */
X509_STORE *co_tls_store(const char *ca_file);
void co_tls_stores_free(void);

/* Frees the calling thread's OpenSSL state (its error queue and the
 * like). A worker calls it when it is done with TLS, before it tells the
 * main thread so: a detached thread's own exit may come after the
 * process has ended, and that state would then never be freed. */
void co_tls_thread_done(void);

/* "1.0".."1.3" to the wire version (0x0301..0x0304); 0 when unknown. */
int co_tls_version_parse(const char *s);

/* PostgreSQL's SSLRequest: length 8, then the code 80877103. */
#define CO_TLS_PG_SSLREQUEST_LEN 8
extern const unsigned char co_tls_pg_sslrequest[CO_TLS_PG_SSLREQUEST_LEN];

/* What a PostgreSQL server's one-byte answer to the SSLRequest means:
 * CO_NET_OK for 'S' (go on with TLS), CO_NET_REFUSED for 'N' ("server
 * refuses TLS"), CO_NET_ERROR for anything else, with a reason in err. A
 * pure function, for unit tests. */
enum co_net_err co_tls_pg_answer(int byte, char *err, size_t errlen);

#endif
