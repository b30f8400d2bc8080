/*
 * envfile.h - config-var files: `heroku config --json`, `aptible config`
 * (shell-escaped KEY=value lines, or its APTIBLE_OUTPUT_FORMAT=json
 * form) and plain `.env` files, parsed into a set of variables whose
 * values are kept only as hashes.
 *
 * Config vars hold an application's secrets. The parser never keeps a
 * value: it hashes it (SHA-256), notes whether it is a URL and where that
 * URL points (scheme, host, port, path: enough to tell which database it
 * names, never the credentials), then wipes it. Error messages name a line
 * and column, or a key, and never quote the input.
 *
 * co_envfile_parse() is a pure function over a buffer (no I/O, no global
 * state): the env.diff check reads the files, tests and the fuzzer feed it
 * literal bytes.
 */
#ifndef CUTOVER_ENVFILE_H
#define CUTOVER_ENVFILE_H

#include <stdbool.h>
#include <stddef.h>

enum co_envfile_format {
    CO_ENVFILE_AUTO,         /* detect: '{', '[' or KEY=value lines */
    CO_ENVFILE_HEROKU_JSON,  /* {"KEY": "value", ...}: heroku config --json */
    CO_ENVFILE_APTIBLE_JSON, /* [{"key": ..., "value": ...}, ...] */
    CO_ENVFILE_APTIBLE,      /* KEY=value, shell-escaped: aptible config */
    CO_ENVFILE_DOTENV        /* .env: comments, export, quotes */
};

/* "auto", "heroku-json", "aptible-json", "aptible", "dotenv". */
const char *co_envfile_format_name(enum co_envfile_format f);
/* The reverse; returns 0, or -1 when s names no format. */
int co_envfile_format_parse(const char *s, enum co_envfile_format *f);

#define CO_ENV_DIGEST_LEN 32 /* SHA-256 */

/* One variable. Only the key is kept in clear. */
struct co_envvar {
    char *key;
    unsigned char digest[CO_ENV_DIGEST_LEN]; /* SHA-256 of the value */
    int line;       /* line of the definition that counts; 0: unknown */
    int first_line; /* line of the first definition (== line if one) */
    int ndefs;      /* definitions in the file; > 1: the last one counts */
    /* Set when the value is a URL (scheme://...). Owned copies; host is
     * lower-cased and NULL when the URL has none (a Unix socket); port is
     * the scheme's default when the URL gives none (0 if unknown); path
     * is decoded, without its leading '/' (a database name), NULL when
     * absent. The user, password and query are never kept. */
    bool is_url;
    char *scheme;
    char *host;
    int port;
    char *path;
};

/* A parsed file: variables sorted by key (strcmp), each key once. */
struct co_envvars {
    struct co_envvar *v;
    size_t n;
    enum co_envfile_format format; /* parsed or detected; set on failure too */

    /* Optional, set by the caller before parsing: called once per
     * definition with the value in clear (NUL-terminated, len bytes), just
     * before it is wiped, e.g. to register it with co_secret_register().
     * The parser itself never keeps or prints a value. */
    void (*on_value)(const char *key, const char *value, size_t len,
                     void *payload);
    void *payload;
};

void co_envvars_init(struct co_envvars *e);
/* Frees the variables; on_value and payload are kept. */
void co_envvars_free(struct co_envvars *e);
/* The variable named key, or NULL. */
const struct co_envvar *co_envvars_get(const struct co_envvars *e,
                                       const char *key);
/* Whether two variables hold the same value (by hash). */
bool co_envvar_same_value(const struct co_envvar *a,
                          const struct co_envvar *b);

/* Parses len bytes of buf in format fmt (CO_ENVFILE_AUTO: detect it) into
 * out, which must have been initialised with co_envvars_init (its
 * variables are replaced). Returns 0, or -1 with out emptied and a reason
 * in err such as "line 3, column 9: unterminated double quote"; the
 * reason never contains bytes of a value. Values:
 *
 *  - JSON: strings as they are; numbers and true/false as their JSON text;
 *    null as the empty string; objects and arrays are errors. Duplicate
 *    keys are errors (a JSON file has no "last one wins").
 *  - Lines (aptible, dotenv): `KEY=value`, optionally `export KEY=value`,
 *    spaces around '=' allowed; blank lines and `#` comments (a line
 *    starting with '#', or ` #` after a value) skipped. A value is shell
 *    text: unquoted, a backslash escapes the next byte (`two\ words`,
 *    `\$`, `\\`) and a backslash-newline continues the line; '...' is
 *    literal and may span lines (`aptible config` prints a newline as
 *    '<newline>'); "..." takes \" \\ \$ \` escapes, and in dotenv files
 *    also \n \r \t (the dotenv convention; `aptible config` never writes
 *    double quotes, so auto-detection uses dotenv rules for them). There
 *    is no ${VAR} expansion: `$` is literal. Unquoted inner spaces are
 *    kept, trailing ones dropped. A key defined twice: the last wins
 *    (ndefs and first_line say so). */
int co_envfile_parse(const char *buf, size_t len, enum co_envfile_format fmt,
                     struct co_envvars *out, char *err, size_t errlen);

#endif
