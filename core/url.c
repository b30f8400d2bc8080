/*
 * url.c - URL parsing and secret masking.
 *
 * co_mask() is the one function every report, log line and error path
 * uses to keep secrets out of output. It works on arbitrary text, not
 * only on well-formed URLs, because secrets leak through messages
 * libraries compose (libpq echoes conninfo fragments, curl echoes URLs):
 *   1. every registered secret (passwords from the config's URLs, raw
 *      and percent-decoded) is replaced wherever it appears;
 *   2. the password part of any "scheme://user:password@" is replaced;
 *   3. values of secret-named parameters ("password=", "?token=", ...)
 *      are replaced.
 */
#include "cutover/util.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MASK "***"

/* ---- URL parsing ------------------------------------------------------ */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Percent-decodes n bytes of s into a new string. */
static char *pct_decode(const char *s, size_t n)
{
    char *out = co_malloc(n + 1);
    size_t j = 0;

    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && hexval((unsigned char)s[i + 1]) >= 0 &&
            hexval((unsigned char)s[i + 2]) >= 0) {
            out[j++] = (char)(hexval((unsigned char)s[i + 1]) * 16 +
                              hexval((unsigned char)s[i + 2]));
            i += 2;
        } else {
            out[j++] = s[i];
        }
    }
    out[j] = '\0';
    return out;
}

void co_url_free(struct co_url *u)
{
    free(u->scheme);
    free(u->user);
    free(u->password);
    free(u->host);
    free(u->path);
    free(u->query);
    memset(u, 0, sizeof(*u));
}

/* Splits the authority "user:pass@host:port" (n bytes). */
static int parse_authority(const char *a, size_t n, struct co_url *u,
                           char *err, size_t errlen)
{
    const char *at = NULL, *hp, *end = a + n;

    /* The last '@' ends the userinfo: passwords may hold a raw '@'. */
    for (const char *p = a; p < end; p++)
        if (*p == '@')
            at = p;
    hp = a;
    if (at) {
        const char *colon = memchr(a, ':', (size_t)(at - a));
        if (colon) {
            u->user = pct_decode(a, (size_t)(colon - a));
            u->password = pct_decode(colon + 1, (size_t)(at - colon - 1));
        } else {
            u->user = pct_decode(a, (size_t)(at - a));
        }
        hp = at + 1;
    }
    if (hp < end && *hp == '[') {
        const char *rb = memchr(hp, ']', (size_t)(end - hp));
        if (rb == NULL) {
            snprintf(err, errlen, "unterminated '[' in host");
            return -1;
        }
        u->host = co_strndup(hp + 1, (size_t)(rb - hp - 1));
        hp = rb + 1;
        if (hp < end && *hp != ':') {
            snprintf(err, errlen, "junk after ']' in host");
            return -1;
        }
    } else {
        const char *colon = memchr(hp, ':', (size_t)(end - hp));
        const char *hend = colon ? colon : end;
        u->host = pct_decode(hp, (size_t)(hend - hp));
        hp = hend;
    }
    if (hp < end && *hp == ':') {
        if (co_port_parse(hp + 1, (size_t)(end - hp - 1), &u->port) < 0) {
            snprintf(err, errlen, "invalid port \"%.*s\"",
                     (int)(end - hp - 1 > 16 ? 16 : end - hp - 1), hp + 1);
            return -1;
        }
    }
    return 0;
}

int co_url_parse(const char *s, struct co_url *u, char *err, size_t errlen)
{
    const char *p, *auth, *aend;

    memset(u, 0, sizeof(*u));
    if (s == NULL || *s == '\0') {
        snprintf(err, errlen, "empty URL");
        return -1;
    }
    p = strstr(s, "://");
    if (p == NULL || p == s) {
        snprintf(err, errlen, "not a URL (expected scheme://host...)");
        return -1;
    }
    for (const char *q = s; q < p; q++) {
        if (!isalnum((unsigned char)*q) && *q != '+' && *q != '-' &&
            *q != '.') {
            snprintf(err, errlen, "invalid URL scheme");
            return -1;
        }
    }
    u->scheme = co_strndup(s, (size_t)(p - s));
    for (char *q = u->scheme; *q; q++)
        *q = (char)tolower((unsigned char)*q);
    auth = p + 3;
    aend = auth + strcspn(auth, "/?#");
    if (parse_authority(auth, (size_t)(aend - auth), u, err, errlen) < 0)
        goto fail;
    if (*aend == '/') {
        const char *pend = aend + 1 + strcspn(aend + 1, "?#");
        u->path = pct_decode(aend + 1, (size_t)(pend - aend - 1));
        aend = pend;
    }
    if (*aend == '?') {
        size_t qn = strcspn(aend + 1, "#");
        u->query = co_strndup(aend + 1, qn);
    }
    if (u->host == NULL || u->host[0] == '\0') {
        /* libpq allows an empty host (Unix socket); everything else not */
        if (strcmp(u->scheme, "postgres") != 0 &&
            strcmp(u->scheme, "postgresql") != 0) {
            snprintf(err, errlen, "URL has no host");
            goto fail;
        }
    }
    return 0;
fail:
    co_url_free(u);
    return -1;
}

int co_url_default_port(const char *scheme)
{
    static const struct {
        const char *scheme;
        int port;
    } ports[] = {
        {"postgres", 5432}, {"postgresql", 5432}, {"redis", 6379},
        {"rediss", 6379},   {"https", 443},       {"http", 80},
        {NULL, 0},
    };
    for (size_t i = 0; scheme && ports[i].scheme; i++)
        if (strcmp(scheme, ports[i].scheme) == 0)
            return ports[i].port;
    return 0;
}

char *co_url_query_get(const struct co_url *u, const char *key)
{
    const char *p = u->query;
    size_t kl = strlen(key);

    while (p && *p) {
        size_t n = strcspn(p, "&");
        const char *eq = memchr(p, '=', n);
        size_t nl = eq ? (size_t)(eq - p) : n;

        if (nl == kl && strncmp(p, key, kl) == 0)
            return eq ? pct_decode(eq + 1, n - nl - 1) : co_strdup("");
        p += n;
        if (*p == '&')
            p++;
    }
    return NULL;
}

/* ---- secrets ---------------------------------------------------------- */

static pthread_mutex_t secret_lock = PTHREAD_MUTEX_INITIALIZER;
static struct co_strlist secrets;

void co_secret_register(const char *secret)
{
    if (secret == NULL || strlen(secret) < 4)
        return;
    pthread_mutex_lock(&secret_lock);
    if (!co_strlist_has(&secrets, secret))
        co_strlist_add(&secrets, secret);
    pthread_mutex_unlock(&secret_lock);
}

void co_secret_clear(void)
{
    pthread_mutex_lock(&secret_lock);
    co_strlist_free(&secrets);
    pthread_mutex_unlock(&secret_lock);
}

/* Parameter names whose values are secrets, matched as suffixes of the
 * name, case-insensitively ("sslpassword", "api_token", ...). */
static const char *const secret_names[] = {
    "password", "passwd",     "pwd",         "secret",     "token",
    "apikey",   "api_key",    "access_key",  "secret_key", "private_key",
    "auth",     "credential", "credentials", "signature",  NULL,
};
/* Short names that are secrets only as a whole query parameter name
 * ("?key=...", "&sig=..."): as suffixes they would hit "primary_key". */
static const char *const secret_query_names[] = {"key", "sig", NULL};

static bool secret_name(const char *name, size_t n)
{
    for (size_t i = 0; secret_names[i]; i++) {
        size_t l = strlen(secret_names[i]);
        if (n >= l && strncasecmp(name + n - l, secret_names[i], l) == 0)
            return true;
    }
    return false;
}

static bool secret_query_name(const char *name, size_t n)
{
    for (size_t i = 0; secret_query_names[i]; i++)
        if (n == strlen(secret_query_names[i]) &&
            strncasecmp(name, secret_query_names[i], n) == 0)
            return true;
    return false;
}

void co_secret_register_url(const char *url)
{
    struct co_url u;
    char err[64];
    const char *q, *at, *colon, *auth;

    if (url == NULL)
        return;
    /* The raw (still percent-encoded) password, as written. */
    auth = strstr(url, "://");
    if (auth) {
        auth += 3;
        at = NULL;
        for (const char *p = auth; *p && !strchr("/?#", *p); p++)
            if (*p == '@')
                at = p;
        colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
        if (colon) {
            char *raw = co_strndup(colon + 1, (size_t)(at - colon - 1));
            co_secret_register(raw);
            free(raw);
        }
    }
    if (co_url_parse(url, &u, err, sizeof(err)) < 0)
        return;
    co_secret_register(u.password);
    for (q = u.query; q && *q;) {
        size_t n = strcspn(q, "&");
        const char *eq = memchr(q, '=', n);
        if (eq && (secret_name(q, (size_t)(eq - q)) ||
                   secret_query_name(q, (size_t)(eq - q)))) {
            char *v = pct_decode(eq + 1, n - (size_t)(eq - q) - 1);
            co_secret_register(v);
            free(v);
        }
        q += n;
        if (*q == '&')
            q++;
    }
    co_url_free(&u);
}

/* Replaces every occurrence of the registered secrets, longest first so
 * a secret that contains another is masked whole. */
static char *mask_registered(const char *s)
{
    struct co_buf b;
    char *cur = co_strdup(s);

    pthread_mutex_lock(&secret_lock);
    for (;;) {
        const char *best = NULL;
        size_t best_len = 0, best_at = 0;

        for (size_t i = 0; i < secrets.n; i++) {
            const char *hit = strstr(cur, secrets.v[i]);
            size_t l = strlen(secrets.v[i]);
            if (hit && (best == NULL || (size_t)(hit - cur) < best_at ||
                        ((size_t)(hit - cur) == best_at && l > best_len))) {
                best = secrets.v[i];
                best_len = l;
                best_at = (size_t)(hit - cur);
            }
        }
        if (best == NULL)
            break;
        co_buf_init(&b);
        co_buf_add(&b, cur, best_at);
        co_buf_puts(&b, MASK);
        co_buf_puts(&b, cur + best_at + best_len);
        free(cur);
        cur = co_buf_take(&b);
    }
    pthread_mutex_unlock(&secret_lock);
    return cur;
}

static bool url_stop(char c)
{
    return c == '\0' || c == '/' || c == '?' || c == '#' ||
           isspace((unsigned char)c) || c == '"' || c == '\'' || c == '<' ||
           c == '>';
}

/* Masks "scheme://user:PASSWORD@" userinfo passwords in place. */
static void mask_userinfo(struct co_buf *out, const char *s)
{
    const char *p = s;

    while (*p) {
        const char *sep = strstr(p, "://");
        const char *auth, *at = NULL, *colon;

        if (sep == NULL) {
            co_buf_puts(out, p);
            return;
        }
        auth = sep + 3;
        for (const char *q = auth; !url_stop(*q); q++)
            if (*q == '@')
                at = q;
        colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
        if (colon && colon + 1 < at) {
            co_buf_add(out, p, (size_t)(colon + 1 - p));
            co_buf_puts(out, MASK);
            p = at;
        } else {
            co_buf_add(out, p, (size_t)(auth - p));
            p = auth;
        }
    }
}

/* Masks values of secret-named "name=value" parameters. The short names
 * count only inside a query string (after '?' or '&'), so ordinary prose
 * like "key=value differs" stays readable. */
static void mask_params(struct co_buf *out, const char *s)
{
    const char *p = s;

    while (*p) {
        const char *eq = strchr(p, '=');
        const char *name;
        size_t vlen;
        bool in_query;

        if (eq == NULL) {
            co_buf_puts(out, p);
            return;
        }
        name = eq;
        while (name > p && (isalnum((unsigned char)name[-1]) ||
                            name[-1] == '_' || name[-1] == '-'))
            name--;
        vlen = strcspn(eq + 1, "& \t\r\n\"',;)");
        in_query = name > s && (name[-1] == '?' || name[-1] == '&');
        if (name < eq && vlen > 0 &&
            !(vlen == 3 && strncmp(eq + 1, MASK, 3) == 0) &&
            (secret_name(name, (size_t)(eq - name)) ||
             (in_query && secret_query_name(name, (size_t)(eq - name))))) {
            co_buf_add(out, p, (size_t)(eq + 1 - p));
            co_buf_puts(out, MASK);
            p = eq + 1 + vlen;
        } else {
            co_buf_add(out, p, (size_t)(eq + 1 - p));
            p = eq + 1;
        }
    }
}

char *co_mask(const char *s)
{
    struct co_buf a, b;
    char *step1;

    if (s == NULL)
        return NULL;
    step1 = mask_registered(s);
    co_buf_init(&a);
    mask_userinfo(&a, step1);
    free(step1);
    co_buf_init(&b);
    mask_params(&b, a.s ? a.s : "");
    co_buf_free(&a);
    return co_buf_take(&b);
}
