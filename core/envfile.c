/*
 * envfile.c - parsers for config-var files (see envfile.h): Heroku's
 * JSON object, Aptible's JSON list, `aptible config` shell lines and
 * .env files.
 *
 * Every parser produces raw definitions through add_def(), which is where
 * a value is seen in clear for the last time: it goes to the caller's
 * on_value hook, is hashed, is looked at as a URL, and is wiped. The
 * buffer that accumulates a value wipes itself when it grows or is freed,
 * so no copy of a value is left behind in freed memory by this file (the
 * caller owns the input buffer; jansson's own strings are wiped before
 * the tree is freed). After parsing, definitions are sorted by key and
 * merged: the last definition of a key wins and the count is kept, so a
 * duplicate in a .env file can be reported.
 *
 * Errors say where ("line 3, column 9") and what ("unterminated double
 * quote"); they never quote the input, since a broken line may be half a
 * secret. jansson's own error texts quote the input ("near 'abc'"), so
 * only its error code and position are used.
 */
#include "cutover/envfile.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cutover/util.h"

#define MAX_KEY_LEN 1024

static const char *const format_names[] = {
    [CO_ENVFILE_AUTO] = "auto",
    [CO_ENVFILE_HEROKU_JSON] = "heroku-json",
    [CO_ENVFILE_APTIBLE_JSON] = "aptible-json",
    [CO_ENVFILE_APTIBLE] = "aptible",
    [CO_ENVFILE_DOTENV] = "dotenv",
};

const char *co_envfile_format_name(enum co_envfile_format f)
{
    if ((size_t)f >= sizeof(format_names) / sizeof(format_names[0]))
        return "?";
    return format_names[f];
}

int co_envfile_format_parse(const char *s, enum co_envfile_format *f)
{
    for (size_t i = 0; s && i < sizeof(format_names) / sizeof(*format_names);
         i++) {
        if (strcmp(s, format_names[i]) == 0) {
            *f = (enum co_envfile_format)i;
            return 0;
        }
    }
    return -1;
}

/* ---- a byte buffer that never leaves a copy of a value behind ----------- */

struct sbuf {
    char *s;
    size_t len, cap;
};

static void sbuf_wipe(struct sbuf *b)
{
    if (b->s != NULL)
        OPENSSL_cleanse(b->s, b->cap);
    b->len = 0;
}

static void sbuf_free(struct sbuf *b)
{
    sbuf_wipe(b);
    free(b->s);
    b->s = NULL;
    b->cap = 0;
}

/* realloc() could leave the old block, value and all, in freed memory:
 * grow by copying, then wipe the old block. */
static void sbuf_add(struct sbuf *b, const char *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        char *s;

        while (cap < b->len + n + 1)
            cap *= 2;
        s = co_malloc(cap);
        if (b->len > 0)
            memcpy(s, b->s, b->len);
        if (b->s != NULL) {
            OPENSSL_cleanse(b->s, b->cap);
            free(b->s);
        }
        b->s = s;
        b->cap = cap;
    }
    memcpy(b->s + b->len, p, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void sbuf_addc(struct sbuf *b, char c)
{
    sbuf_add(b, &c, 1);
}

/* ---- definitions -------------------------------------------------------- */

struct def {
    struct co_envvar v;
    size_t seq; /* order of appearance: the last definition wins */
};

struct parser {
    struct co_envvars *out;
    struct def *defs;
    size_t ndefs, cap;
    char *err;
    size_t errlen;
    int failed;
};

static int perr(struct parser *P, const char *fmt, ...) CO_PRINTF(2, 3);

static int perr(struct parser *P, const char *fmt, ...)
{
    va_list ap;

    if (!P->failed) {
        va_start(ap, fmt);
        vsnprintf(P->err, P->errlen, fmt, ap);
        va_end(ap);
        P->failed = 1;
    }
    return -1;
}

static void envvar_free(struct co_envvar *v)
{
    free(v->key);
    free(v->scheme);
    free(v->host);
    free(v->path);
    memset(v, 0, sizeof(*v));
}

static void wipe_str(char *s)
{
    if (s != NULL)
        OPENSSL_cleanse(s, strlen(s));
}

/* Keeps what tells where a URL points; the credentials are wiped. */
static void note_url(struct co_envvar *v, const char *value)
{
    struct co_url u;
    char why[CO_ERRLEN];

    if (strstr(value, "://") == NULL ||
        co_url_parse(value, &u, why, sizeof(why)) < 0)
        return;
    v->is_url = true;
    v->scheme = u.scheme;
    u.scheme = NULL;
    if (u.host != NULL && u.host[0] != '\0') {
        size_t n = strlen(u.host);

        for (char *p = u.host; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
        if (n > 1 && u.host[n - 1] == '.')
            u.host[n - 1] = '\0';
        v->host = u.host;
        u.host = NULL;
    }
    v->port = u.port ? u.port : co_url_default_port(v->scheme);
    v->path = u.path;
    u.path = NULL;
    wipe_str(u.user);
    wipe_str(u.password);
    wipe_str(u.query);
    co_url_free(&u);
}

/* The one place a value is seen: hook, hash, URL, wipe (the caller wipes
 * its buffer). value is NUL-terminated, len bytes. */
static int add_def(struct parser *P, const char *key, size_t keylen,
                   const char *value, size_t len, int line)
{
    struct def *d;
    unsigned int mdlen = 0;

    if (P->ndefs == P->cap) {
        P->cap = P->cap ? P->cap * 2 : 32;
        P->defs = co_realloc(P->defs, P->cap * sizeof(*P->defs));
    }
    d = &P->defs[P->ndefs];
    memset(d, 0, sizeof(*d));
    d->seq = P->ndefs;
    d->v.key = co_strndup(key, keylen);
    d->v.line = line;
    d->v.first_line = line;
    d->v.ndefs = 1;
    P->ndefs++;
    if (P->out->on_value != NULL)
        P->out->on_value(d->v.key, value, len, P->out->payload);
    if (EVP_Digest(value, len, d->v.digest, &mdlen, EVP_sha256(), NULL) != 1 ||
        mdlen != CO_ENV_DIGEST_LEN)
        return perr(P, "cannot hash a value (SHA-256 unavailable)");
    note_url(&d->v, value);
    return 0;
}

static int def_cmp(const void *a, const void *b)
{
    const struct def *x = a, *y = b;
    int c = strcmp(x->v.key, y->v.key);

    if (c != 0)
        return c;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Sorts the definitions and keeps the last of each key in out. */
static void merge_defs(struct parser *P)
{
    struct co_envvars *out = P->out;
    size_t i = 0;

    if (P->ndefs > 1)
        qsort(P->defs, P->ndefs, sizeof(*P->defs), def_cmp);
    out->v = co_calloc(P->ndefs ? P->ndefs : 1, sizeof(*out->v));
    out->n = 0;
    while (i < P->ndefs) {
        size_t j = i + 1;

        while (j < P->ndefs && strcmp(P->defs[j].v.key, P->defs[i].v.key) == 0)
            j++;
        out->v[out->n] = P->defs[j - 1].v;
        out->v[out->n].first_line = P->defs[i].v.line;
        out->v[out->n].ndefs = (int)(j - i);
        out->n++;
        for (size_t k = i; k < j - 1; k++)
            envvar_free(&P->defs[k].v);
        i = j;
    }
    free(P->defs);
    P->defs = NULL;
    P->ndefs = P->cap = 0;
}

static void drop_defs(struct parser *P)
{
    for (size_t i = 0; i < P->ndefs; i++)
        envvar_free(&P->defs[i].v);
    free(P->defs);
    P->defs = NULL;
    P->ndefs = P->cap = 0;
}

/* ---- KEY=value lines: aptible config and .env --------------------------- */

struct lines {
    struct parser *P;
    const char *b;
    size_t len, i;
    int line;
    size_t line_start;
    bool dotenv_escapes; /* "\n" in double quotes is a newline */
    bool dotenv_seen;    /* a feature aptible config never writes */
    struct sbuf val;
};

static int col(const struct lines *L, size_t at)
{
    return (int)(at - L->line_start + 1);
}

static int lerr(struct lines *L, int line, int column, const char *what)
{
    return perr(L->P, "line %d, column %d: %s", line, column, what);
}

static bool eol_at(const struct lines *L, size_t at)
{
    return at < L->len &&
           (L->b[at] == '\n' ||
            (L->b[at] == '\r' && at + 1 < L->len && L->b[at + 1] == '\n'));
}

/* Consumes the line ending at L->i. */
static void skip_eol(struct lines *L)
{
    if (L->b[L->i] == '\r')
        L->i++;
    L->i++;
    L->line++;
    L->line_start = L->i;
}

/* A newline inside quotes: part of the value, and a new line. */
static void newline_in_value(struct lines *L)
{
    L->line++;
    L->line_start = L->i + 1;
}

static void skip_blanks(struct lines *L)
{
    while (L->i < L->len && (L->b[L->i] == ' ' || L->b[L->i] == '\t'))
        L->i++;
}

static void skip_comment(struct lines *L)
{
    while (L->i < L->len && L->b[L->i] != '\n')
        L->i++;
}

static int single_quoted(struct lines *L)
{
    int line = L->line, column = col(L, L->i);

    L->i++;
    while (L->i < L->len && L->b[L->i] != '\'') {
        if (L->b[L->i] == '\0')
            return lerr(L, L->line, col(L, L->i), "NUL byte in a value");
        sbuf_addc(&L->val, L->b[L->i]);
        if (L->b[L->i] == '\n')
            newline_in_value(L);
        L->i++;
    }
    if (L->i >= L->len)
        return lerr(L, line, column, "unterminated single quote");
    L->i++;
    return 0;
}

/* Shell rules (\" \\ \$ \` and backslash-newline), plus \n \r \t in
 * dotenv files. Any other backslash is kept, as the shell keeps it. */
static int double_quoted(struct lines *L)
{
    int line = L->line, column = col(L, L->i);

    L->dotenv_seen = true;
    L->i++;
    while (L->i < L->len && L->b[L->i] != '"') {
        char c = L->b[L->i];

        if (c == '\0')
            return lerr(L, L->line, col(L, L->i), "NUL byte in a value");
        if (c == '\\' && L->i + 1 < L->len) {
            char n = L->b[L->i + 1];
            const char *esc = strchr("\"\\$`", n);

            if (n != '\0' && esc != NULL) {
                sbuf_addc(&L->val, n);
                L->i += 2;
                continue;
            }
            if (n == '\n') {
                L->i++;
                newline_in_value(L);
                L->i++;
                continue;
            }
            if (L->dotenv_escapes && (n == 'n' || n == 'r' || n == 't')) {
                sbuf_addc(&L->val, n == 'n' ? '\n' : n == 'r' ? '\r' : '\t');
                L->i += 2;
                continue;
            }
        }
        sbuf_addc(&L->val, c);
        if (c == '\n')
            newline_in_value(L);
        L->i++;
    }
    if (L->i >= L->len)
        return lerr(L, line, column, "unterminated double quote");
    L->i++;
    return 0;
}

/* Unquoted backslash: the next byte literally; before a newline, a line
 * continuation. */
static void backslash(struct lines *L)
{
    L->i++;
    if (L->i >= L->len) {
        sbuf_addc(&L->val, '\\');
        return;
    }
    if (eol_at(L, L->i)) {
        skip_eol(L);
        return;
    }
    sbuf_addc(&L->val, L->b[L->i]);
    L->i++;
}

/* Blanks inside an unquoted value: kept when more value follows, dropped
 * at the end of the line or before a ` #` comment. Returns true when the
 * value ended. */
static bool blanks_in_value(struct lines *L)
{
    size_t j = L->i;

    while (j < L->len && (L->b[j] == ' ' || L->b[j] == '\t'))
        j++;
    if (j >= L->len || eol_at(L, j)) {
        L->i = j;
        return true;
    }
    if (L->b[j] == '#') {
        L->i = j;
        L->dotenv_seen = true;
        skip_comment(L);
        return true;
    }
    sbuf_add(&L->val, L->b + L->i, j - L->i);
    L->dotenv_seen = true;
    L->i = j;
    return false;
}

/* The value after '=', up to the end of its (last) line. */
static int line_value(struct lines *L)
{
    size_t start = L->i;

    skip_blanks(L);
    if (L->i > start) {
        L->dotenv_seen = true;
        if (L->i < L->len && L->b[L->i] == '#') {
            skip_comment(L);
            return 0;
        }
    }
    while (L->i < L->len && !eol_at(L, L->i)) {
        char c = L->b[L->i];
        int rc = 0;

        if (c == '\0')
            return lerr(L, L->line, col(L, L->i), "NUL byte in a value");
        if (c == ' ' || c == '\t') {
            if (blanks_in_value(L))
                break;
            continue;
        }
        if (c == '\'')
            rc = single_quoted(L);
        else if (c == '"')
            rc = double_quoted(L);
        else if (c == '\\')
            backslash(L);
        else {
            sbuf_addc(&L->val, c);
            L->i++;
        }
        if (rc < 0)
            return rc;
    }
    return 0;
}

static bool key_start(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool key_char(char c)
{
    return key_start(c) || (c >= '0' && c <= '9') || c == '.' || c == '-';
}

/* "export" and a blank: a shell export prefix (not a key "export"). */
static void skip_export(struct lines *L)
{
    static const char kw[] = "export";
    size_t n = sizeof(kw) - 1;

    if (L->len - L->i > n && memcmp(L->b + L->i, kw, n) == 0 &&
        (L->b[L->i + n] == ' ' || L->b[L->i + n] == '\t')) {
        L->i += n;
        skip_blanks(L);
        L->dotenv_seen = true;
    }
}

/* One definition, starting at its key. The key is not quoted in errors:
 * a line without '=' may be a stray value. */
static int definition(struct lines *L)
{
    size_t k0, klen;
    int line = L->line;

    skip_export(L);
    k0 = L->i;
    if (L->i < L->len && !key_start(L->b[L->i]))
        return lerr(L, L->line, col(L, L->i),
                    L->b[L->i] >= '0' && L->b[L->i] <= '9'
                        ? "a variable name cannot start with a digit"
                        : "expected a variable name (letters, digits, '_')");
    while (L->i < L->len && key_char(L->b[L->i]))
        L->i++;
    klen = L->i - k0;
    if (klen > MAX_KEY_LEN)
        return lerr(L, line, col(L, k0), "variable name too long");
    if (L->i < L->len && (L->b[L->i] == ' ' || L->b[L->i] == '\t')) {
        skip_blanks(L);
        L->dotenv_seen = true;
    }
    if (L->i >= L->len || L->b[L->i] != '=')
        return lerr(L, L->line, col(L, L->i),
                    "expected '=' after the variable name (KEY=value)");
    L->i++;
    sbuf_wipe(&L->val);
    sbuf_add(&L->val, "", 0);
    if (line_value(L) < 0)
        return -1;
    if (add_def(L->P, L->b + k0, klen, L->val.s, L->val.len, line) < 0)
        return -1;
    sbuf_wipe(&L->val);
    return 0;
}

static int parse_lines(struct parser *P, const char *b, size_t len,
                       enum co_envfile_format fmt)
{
    struct lines L;
    int rc = 0;

    memset(&L, 0, sizeof(L));
    L.P = P;
    L.b = b;
    L.len = len;
    L.line = 1;
    L.dotenv_escapes = fmt != CO_ENVFILE_APTIBLE;
    while (rc == 0 && L.i < L.len) {
        skip_blanks(&L);
        if (L.i >= L.len)
            break;
        if (eol_at(&L, L.i)) {
            skip_eol(&L);
            continue;
        }
        if (L.b[L.i] == '#') {
            L.dotenv_seen = true;
            skip_comment(&L);
            continue;
        }
        rc = definition(&L);
        if (rc == 0 && L.i < L.len && eol_at(&L, L.i))
            skip_eol(&L);
    }
    sbuf_free(&L.val);
    if (fmt == CO_ENVFILE_AUTO)
        fmt = L.dotenv_seen ? CO_ENVFILE_DOTENV : CO_ENVFILE_APTIBLE;
    P->out->format = fmt;
    return rc;
}

/* ---- JSON: heroku config --json, APTIBLE_OUTPUT_FORMAT=json ------------- */

/* jansson's texts quote the input; its codes do not. */
static int json_err(struct parser *P, const json_error_t *e)
{
    const char *what;

    switch (json_error_code(e)) {
    case json_error_out_of_memory:
        what = "out of memory";
        break;
    case json_error_stack_overflow:
        what = "too deeply nested";
        break;
    case json_error_invalid_utf8:
        what = "invalid UTF-8";
        break;
    case json_error_premature_end_of_input:
        what = "unexpected end of input";
        break;
    case json_error_end_of_input_expected:
        what = "extra data after the JSON value";
        break;
    case json_error_null_character:
    case json_error_null_byte_in_key:
        what = "NUL byte (\\u0000) in a string";
        break;
    case json_error_duplicate_key:
        what = "duplicate key";
        break;
    case json_error_numeric_overflow:
        what = "number out of range";
        break;
    default:
        what = "invalid JSON";
        break;
    }
    if (e->line > 0)
        return perr(P, "line %d, column %d: %s", e->line, e->column, what);
    return perr(P, "%s", what);
}

/* The line where "key" appears as an object key, for messages; 0 when
 * not found (escaped keys). Only used on the error path. */
static int key_line(const char *b, size_t len, const char *key)
{
    size_t kl = strlen(key);
    int line = 1;

    for (size_t i = 0; i + kl + 2 <= len; i++) {
        if (b[i] == '\n')
            line++;
        if (b[i] != '"' || memcmp(b + i + 1, key, kl) != 0 ||
            b[i + 1 + kl] != '"')
            continue;
        for (size_t j = i + kl + 2; j < len; j++) {
            if (b[j] == ':')
                return line;
            if (b[j] != ' ' && b[j] != '\t' && b[j] != '\r' && b[j] != '\n')
                break;
        }
    }
    return 0;
}

/* A JSON key is printed in reports: printable, no '=', bounded. */
static bool json_key_ok(const char *k)
{
    size_t n = strlen(k);

    if (n == 0 || n > MAX_KEY_LEN)
        return false;
    for (const unsigned char *p = (const unsigned char *)k; *p; p++)
        if (*p < 0x20 || *p == 0x7f || *p == '=')
            return false;
    return true;
}

/* Shortest text that reads back as the same double. */
static void real_text(double d, char *out, size_t outlen)
{
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, outlen, "%.*g", prec, d);
        if (strtod(out, NULL) == d)
            return;
    }
}

/* The text of a scalar JSON value; NULL (with why) for objects/arrays. */
static const char *json_text(json_t *v, char *tmp, size_t tmplen, size_t *len,
                             const char **why)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        *len = json_string_length(v);
        return json_string_value(v);
    case JSON_INTEGER:
        snprintf(tmp, tmplen, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        break;
    case JSON_REAL:
        real_text(json_real_value(v), tmp, tmplen);
        break;
    case JSON_TRUE:
        snprintf(tmp, tmplen, "true");
        break;
    case JSON_FALSE:
        snprintf(tmp, tmplen, "false");
        break;
    case JSON_NULL:
        tmp[0] = '\0';
        break;
    case JSON_OBJECT:
        *why = "an object";
        return NULL;
    case JSON_ARRAY:
    default:
        *why = "an array";
        return NULL;
    }
    *len = strlen(tmp);
    return tmp;
}

/* jansson keeps its strings until the tree is freed: wipe every string
 * value in v (depth-first) first. */
static void json_wipe(json_t *v)
{
    const char *k;
    json_t *x;
    size_t i;

    if (json_is_string(v)) {
        OPENSSL_cleanse((char *)json_string_value(v), json_string_length(v));
    } else if (json_is_object(v)) {
        json_object_foreach(v, k, x) json_wipe(x);
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, x) json_wipe(x);
    }
}

static int heroku_json(struct parser *P, const char *b, size_t len,
                       json_t *root)
{
    const char *key, *why = NULL;
    json_t *v;
    char tmp[64];

    json_object_foreach(root, key, v)
    {
        size_t n = 0;
        const char *text = json_text(v, tmp, sizeof(tmp), &n, &why);
        int line;

        if (!json_key_ok(key))
            return perr(P, "a key is not a variable name (empty, too long, "
                           "or holding '=' or control characters)");
        if (text == NULL) {
            line = key_line(b, len, key);
            if (line > 0)
                return perr(P,
                            "line %d: \"%s\": value is %s; expected a string",
                            line, key, why);
            return perr(P, "\"%s\": value is %s; expected a string", key, why);
        }
        if (add_def(P, key, strlen(key), text, n, 0) < 0)
            return -1;
    }
    return 0;
}

static int aptible_json(struct parser *P, json_t *root)
{
    const char *why = NULL;
    json_t *item;
    size_t i;
    char tmp[64];

    json_array_foreach(root, i, item)
    {
        json_t *k = json_object_get(item, "key");
        json_t *v = json_object_get(item, "value");
        const char *text;
        size_t n = 0;

        if (!json_is_object(item))
            return perr(P,
                        "item %zu: expected an object with \"key\" and "
                        "\"value\"",
                        i + 1);
        if (!json_is_string(k) || !json_key_ok(json_string_value(k)))
            return perr(P,
                        "item %zu: \"key\" is missing or not a variable "
                        "name",
                        i + 1);
        if (v == NULL)
            return perr(P, "item %zu (\"%s\"): no \"value\"", i + 1,
                        json_string_value(k));
        text = json_text(v, tmp, sizeof(tmp), &n, &why);
        if (text == NULL)
            return perr(P, "item %zu (\"%s\"): value is %s; expected a string",
                        i + 1, json_string_value(k), why);
        if (add_def(P, json_string_value(k), json_string_length(k), text, n,
                    0) < 0)
            return -1;
    }
    return 0;
}

static int parse_json(struct parser *P, const char *b, size_t len,
                      enum co_envfile_format fmt, char first)
{
    json_error_t jerr;
    json_t *root;
    int rc;

    if (fmt == CO_ENVFILE_AUTO)
        fmt = first == '[' ? CO_ENVFILE_APTIBLE_JSON : CO_ENVFILE_HEROKU_JSON;
    P->out->format = fmt;
    memset(&jerr, 0, sizeof(jerr));
    root = json_loadb(b, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return json_err(P, &jerr);
    if (fmt == CO_ENVFILE_HEROKU_JSON && !json_is_object(root))
        rc = perr(P, "expected a JSON object {\"KEY\": \"value\", ...} "
                     "(heroku config --json)");
    else if (fmt == CO_ENVFILE_APTIBLE_JSON && !json_is_array(root))
        rc = perr(P, "expected a JSON list [{\"key\": ..., \"value\": ...}] "
                     "(APTIBLE_OUTPUT_FORMAT=json aptible config)");
    else if (fmt == CO_ENVFILE_HEROKU_JSON)
        rc = heroku_json(P, b, len, root);
    else
        rc = aptible_json(P, root);
    json_wipe(root);
    json_decref(root);
    return rc;
}

/* ---- entry points ------------------------------------------------------- */

void co_envvars_init(struct co_envvars *e)
{
    memset(e, 0, sizeof(*e));
}

void co_envvars_free(struct co_envvars *e)
{
    if (e == NULL)
        return;
    for (size_t i = 0; i < e->n; i++)
        envvar_free(&e->v[i]);
    free(e->v);
    e->v = NULL;
    e->n = 0;
    e->format = CO_ENVFILE_AUTO;
}

static int key_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const struct co_envvar *)elem)->key);
}

const struct co_envvar *co_envvars_get(const struct co_envvars *e,
                                       const char *key)
{
    if (e == NULL || e->n == 0)
        return NULL;
    return bsearch(key, e->v, e->n, sizeof(*e->v), key_cmp);
}

bool co_envvar_same_value(const struct co_envvar *a, const struct co_envvar *b)
{
    return memcmp(a->digest, b->digest, CO_ENV_DIGEST_LEN) == 0;
}

int co_envfile_parse(const char *buf, size_t len, enum co_envfile_format fmt,
                     struct co_envvars *out, char *err, size_t errlen)
{
    struct parser P;
    size_t i = 0;
    char first;
    int rc;

    co_envvars_free(out);
    memset(&P, 0, sizeof(P));
    P.out = out;
    P.err = err;
    P.errlen = errlen;
    if (errlen > 0)
        err[0] = '\0';
    if (buf == NULL)
        len = 0;
    /* A UTF-8 byte order mark, as some editors write. */
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) {
        buf += 3;
        len -= 3;
    }
    while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' ||
                       buf[i] == '\n'))
        i++;
    first = i < len ? buf[i] : '\0';
    if (fmt == CO_ENVFILE_HEROKU_JSON || fmt == CO_ENVFILE_APTIBLE_JSON ||
        (fmt == CO_ENVFILE_AUTO && (first == '{' || first == '[')))
        rc = parse_json(&P, buf, len, fmt, first);
    else
        rc = parse_lines(&P, buf, len, fmt);
    if (rc < 0) {
        if (!P.failed)
            perr(&P, "cannot parse");
        enum co_envfile_format seen = out->format;

        drop_defs(&P);
        co_envvars_free(out);
        out->format = seen;
        return -1;
    }
    merge_defs(&P);
    return 0;
}
