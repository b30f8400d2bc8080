/*
 * fuzz_envfile.c - the config-var file parsers (co_envfile_parse in
 * core/envfile.c: heroku/aptible JSON, aptible shell-escaped lines,
 * dotenv) on arbitrary bytes.
 *
 * Input: a byte choosing the format (auto, heroku-json, aptible-json,
 * aptible, dotenv), then the file.
 *
 * The on_value hook sees every value in clear before the parser wipes
 * it; it records them, which gives the invariants, beyond not crashing:
 *   - success: the variables are sorted by key, each key once, and they
 *     are exactly the keys the hook saw; each one's digest is the
 *     SHA-256 of the last value the hook saw for it, ndefs how many it
 *     saw; a URL has a scheme, a lower-case host and a port in range;
 *     the detected format is a concrete one;
 *   - failure: no variable is left and the reason is set;
 *   - either way, no value the hook saw appears in the reason ("never
 *     quotes the input"), for values of 8 bytes or more that are not
 *     made only of the letters, digits and punctuation messages use
 *     themselves, and occur once in the input and in no key (errors may
 *     name keys).
 */
#include <ctype.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <string.h>

#include "cutover/envfile.h"
#include "cutover/util.h"
#include "fuzz.h"

struct seen {
    char *key;
    char *value;
    size_t len;
};

struct seen_list {
    struct seen *v;
    size_t n;
};

static void on_value(const char *key, const char *value, size_t len,
                     void *payload)
{
    struct seen_list *l = payload;
    struct seen *s;

    FUZZ_CHECK(key != NULL && value != NULL && value[len] == '\0',
               "on_value arguments");
    l->v = co_realloc(l->v, (l->n + 1) * sizeof(*l->v));
    s = &l->v[l->n++];
    s->key = co_strdup(key);
    s->value = co_malloc(len + 1);
    memcpy(s->value, value, len + 1);
    s->len = len;
}

static void seen_free(struct seen_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].key);
        free(l->v[i].value);
    }
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static void check_var(const struct co_envvar *v, const struct seen_list *l)
{
    const struct seen *last = NULL;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int ndefs = 0;

    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i].key, v->key) == 0) {
            last = &l->v[i];
            ndefs++;
        }
    FUZZ_CHECK(last != NULL, "variable %s was never seen", v->key);
    FUZZ_CHECK(v->ndefs == ndefs, "%s: ndefs %d, seen %d", v->key, v->ndefs,
               ndefs);
    FUZZ_CHECK(v->line >= v->first_line && v->first_line >= 0,
               "%s: line %d, first_line %d", v->key, v->line, v->first_line);
    FUZZ_CHECK(EVP_Digest(last->value, last->len, md, &mdlen, EVP_sha256(),
                          NULL) == 1 &&
                   mdlen == CO_ENV_DIGEST_LEN,
               "sha256");
    FUZZ_CHECK(memcmp(md, v->digest, CO_ENV_DIGEST_LEN) == 0,
               "%s: digest is not that of its last value", v->key);
    if (v->is_url) {
        FUZZ_CHECK(v->scheme != NULL && v->scheme[0] != '\0',
                   "%s: URL without a scheme", v->key);
        FUZZ_CHECK(v->port >= 0 && v->port <= 65535, "%s: port %d", v->key,
                   v->port);
        for (const char *p = v->host; p != NULL && *p; p++)
            FUZZ_CHECK(!isupper((unsigned char)*p), "%s: host %s", v->key,
                       v->host);
    } else {
        FUZZ_CHECK(v->scheme == NULL && v->host == NULL && v->path == NULL,
                   "%s: URL parts on a non-URL", v->key);
    }
}

static void check_ok(const struct co_envvars *e, const struct seen_list *l)
{
    FUZZ_CHECK(e->format != CO_ENVFILE_AUTO, "format left at auto");
    for (size_t i = 0; i < e->n; i++) {
        FUZZ_CHECK(e->v[i].key != NULL, "variable without a key");
        if (i > 0)
            FUZZ_CHECK(strcmp(e->v[i - 1].key, e->v[i].key) < 0,
                       "not sorted or duplicate: %s, %s", e->v[i - 1].key,
                       e->v[i].key);
        check_var(&e->v[i], l);
        FUZZ_CHECK(co_envvars_get(e, e->v[i].key) == &e->v[i], "lookup %s",
                   e->v[i].key);
    }
    for (size_t i = 0; i < l->n; i++)
        FUZZ_CHECK(co_envvars_get(e, l->v[i].key) != NULL,
                   "seen key %s is missing", l->v[i].key);
}

/* Could the message have this text of its own? */
static bool message_like(const char *s)
{
    for (; *s; s++)
        if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) &&
            strchr(" ,.:;'\"()-_=", *s) == NULL)
            return false;
    return true;
}

/* How many times the n bytes of v occur in the input (up to 2). */
static int occurrences(const uint8_t *in, size_t size, const char *v, size_t n)
{
    int k = 0;

    for (size_t i = 0; n > 0 && i + n <= size && k < 2; i++)
        k += memcmp(in + i, v, n) == 0;
    return k;
}

/* Errors may name keys, which the hook does not see for a definition
 * that failed: a value is only looked for when its text occurs once in
 * the input (in its own place, so no key can hold it). */
static void check_quiet(const char *err, const struct seen_list *l,
                        const uint8_t *in, size_t size)
{
    for (size_t i = 0; i < l->n; i++) {
        const char *v = l->v[i].value;
        bool in_key = false;

        if (strlen(v) < 8 || message_like(v) ||
            occurrences(in, size, v, strlen(v)) != 1)
            continue;
        for (size_t k = 0; k < l->n && !in_key; k++)
            in_key = strstr(l->v[k].key, v) != NULL;
        if (!in_key)
            FUZZ_CHECK(strstr(err, v) == NULL, "a value in the error: %s",
                       err);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum co_envfile_format fmts[] = {
        CO_ENVFILE_AUTO, CO_ENVFILE_HEROKU_JSON, CO_ENVFILE_APTIBLE_JSON,
        CO_ENVFILE_APTIBLE, CO_ENVFILE_DOTENV};
    struct co_envvars e;
    struct seen_list l = {NULL, 0};
    enum co_envfile_format f, back;
    char err[CO_ERRLEN];
    int rc;

    if (size < 1)
        return 0;
    f = fmts[data[0] % 5];
    FUZZ_CHECK(co_envfile_format_parse(co_envfile_format_name(f), &back) ==
                       0 &&
                   back == f,
               "format name round trip");
    co_envvars_init(&e);
    e.on_value = on_value;
    e.payload = &l;
    err[0] = '\0';
    rc = co_envfile_parse((const char *)data + 1, size - 1, f, &e, err,
                          sizeof(err));
    if (rc == 0) {
        check_ok(&e, &l);
    } else {
        FUZZ_CHECK(rc == -1, "rc %d", rc);
        FUZZ_CHECK(e.n == 0 && err[0] != '\0', "failure: %zu vars, \"%s\"",
                   e.n, err);
    }
    check_quiet(err, &l, data + 1, size - 1);
    co_envvars_free(&e);
    FUZZ_CHECK(e.on_value == on_value && e.payload == &l,
               "co_envvars_free dropped the hook");
    seen_free(&l);
    return 0;
}
