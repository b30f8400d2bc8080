/*
 * fuzz_url.c - co_url_parse, co_secret_register_url and co_mask
 * (include/cutover/util.h) on arbitrary bytes.
 *
 * The input is a URL (or any text) up to its first NUL; bytes after the
 * NUL, if any, are one more secret to register. Invariants, beyond not
 * crashing:
 *   - a parsed URL has a lower-case scheme of legal characters, a host
 *     and a port in 0..65535;
 *   - with nothing registered, masking a URL that parsed with a
 *     password (and holds no byte co_mask treats as the end of a URL in
 *     prose: blanks, quotes, <>; and no '=') gives
 *     "scheme://user:***@...";
 *   - after co_secret_register_url(url) and co_secret_register(extra),
 *     no registered value of 4 bytes or more (the URL's password, raw
 *     and decoded, and the extra secret) survives co_mask, wherever it
 *     appears. Values holding '*' are left out: "***" itself could
 *     spell them again.
 */
#include <ctype.h>
#include <string.h>

#include "cutover/util.h"
#include "fuzz.h"

#define PROSE_STOPS " \t\n\v\f\r\"'<>"

static void check_parsed(const struct co_url *u)
{
    FUZZ_CHECK(u->scheme != NULL && u->scheme[0] != '\0', "no scheme");
    for (const char *p = u->scheme; *p; p++)
        FUZZ_CHECK(
            (isalnum((unsigned char)*p) && !isupper((unsigned char)*p)) ||
                *p == '+' || *p == '-' || *p == '.',
            "scheme \"%s\"", u->scheme);
    FUZZ_CHECK(u->host != NULL, "no host");
    FUZZ_CHECK(u->port >= 0 && u->port <= 65535, "port %d", u->port);
}

/* The password as written: between the first ':' and the last '@' of
 * the authority. NULL when there is none. */
static char *raw_password(const char *s)
{
    const char *auth = strstr(s, "://"), *at = NULL, *colon;
    size_t n;

    if (auth == NULL)
        return NULL;
    auth += 3;
    n = strcspn(auth, "/?#");
    for (size_t i = 0; i < n; i++)
        if (auth[i] == '@')
            at = auth + i;
    if (at == NULL)
        return NULL;
    colon = memchr(auth, ':', (size_t)(at - auth));
    if (colon == NULL)
        return NULL;
    return co_strndup(colon + 1, (size_t)(at - colon - 1));
}

static void check_hidden(const char *masked, const char *secret,
                         const char *what)
{
    if (secret == NULL || strlen(secret) < 4 || strchr(secret, '*'))
        return;
    FUZZ_CHECK(strstr(masked, secret) == NULL,
               "%s \"%s\" survives co_mask: \"%s\"", what, secret, masked);
}

/* Nothing registered: only the userinfo rule protects the password. The
 * URL starts the text, so the masked text starts with the same
 * "scheme://user:" and then "***@". Only for text without '=': masking
 * secret-named parameters ("?token=...", but also "x://token=a:pw@h")
 * rewrites other parts, and registering is what protects config URLs
 * (check_registered). */
static void check_unregistered(const char *s, const struct co_url *u)
{
    char *m = co_mask(s);
    char *raw;

    FUZZ_CHECK(m != NULL, "co_mask returned NULL");
    if (u == NULL || u->password == NULL || strchr(s, '=') != NULL ||
        s[strcspn(s, PROSE_STOPS)] != '\0') {
        free(m);
        return;
    }
    raw = raw_password(s);
    if (raw != NULL && raw[0] != '\0') {
        const char *auth = strstr(s, "://") + 3;
        size_t pre =
            (size_t)((const char *)memchr(auth, ':', strlen(auth)) - s) + 1;

        FUZZ_CHECK(strncmp(m, s, pre) == 0 && strncmp(m + pre, "***@", 4) == 0,
                   "password \"%s\" of \"%s\" masked as \"%s\"", u->password,
                   s, m);
    }
    free(raw);
    free(m);
}

static void check_registered(const char *s, const struct co_url *u,
                             const char *extra)
{
    char *raw = raw_password(s);
    char *m;

    co_secret_register_url(s);
    if (extra != NULL)
        co_secret_register(extra);
    m = co_mask(s);
    check_hidden(m, raw, "raw password");
    if (u != NULL)
        check_hidden(m, u->password, "password");
    free(m);
    if (extra != NULL) {
        /* The extra secret inside some text around the URL. */
        char *text = co_asprintf("error: %s (%s) at %s;", extra, s, extra);

        m = co_mask(text);
        check_hidden(m, extra, "registered secret");
        check_hidden(m, raw, "raw password");
        free(m);
        free(text);
    }
    free(raw);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    size_t slen = strlen(s);
    char *extra =
        slen < size ? fuzz_cstr(data + slen + 1, size - slen - 1) : NULL;
    struct co_url u;
    char err[CO_ERRLEN];
    int ok;

    co_secret_clear();
    err[0] = '\0';
    ok = co_url_parse(s, &u, err, sizeof(err)) == 0;
    if (ok) {
        char *v;

        check_parsed(&u);
        (void)co_url_default_port(u.scheme);
        v = co_url_query_get(&u, "password");
        free(v);
        v = co_url_query_get(&u, "sslmode");
        free(v);
    } else {
        FUZZ_CHECK(err[0] != '\0', "parse failed without a reason");
        FUZZ_CHECK(u.scheme == NULL && u.host == NULL && u.password == NULL,
                   "failed parse left fields set");
    }
    check_unregistered(s, ok ? &u : NULL);
    check_registered(s, ok ? &u : NULL, extra);
    co_secret_clear();
    if (ok)
        co_url_free(&u);
    free(extra);
    free(s);
    return 0;
}
