/*
 * test_env_diff.c - config-var files (core/envfile.c) and the `env.diff`
 * check.
 *
 * The parser tests feed literal buffers in every format: Heroku's JSON
 * object, Aptible's JSON list, `aptible config` shell lines (as Ruby's
 * Shellwords.escape writes them) and .env files, and bad input whose
 * error must name the line and column and never quote the input. Values
 * are checked through the parser's on_value hook (the only place they are
 * seen in clear) and against the SHA-256 it keeps. A mutation loop feeds
 * the parser damaged copies of every sample.
 *
 * The check tests run the built binary on real files. env.diff makes no
 * connection, so postgres and redis resources with made-up hosts
 * (127.0.0.1 vs localhost, other ports, other databases) test where URL
 * variables point. A sentinel value in both files must appear in no
 * output and no report (JUnit, JSON, Markdown, text).
 */
#include <check.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "checkrun.h"
#include "cutover/envfile.h"
#include "cutover/util.h"
#include "testutil.h"
#include "tu_suite.h"

#define SENTINEL "s3ntinel-VALUE-xyz"

/* ---- parsing: helpers --------------------------------------------------- */

/* What the on_value hook saw: the last value of each key. */
struct seen {
    char *key[64];
    char *val[64];
    size_t len[64];
    size_t n, calls;
};

static struct seen seen;

static void seen_reset(void)
{
    for (size_t i = 0; i < seen.n; i++) {
        free(seen.key[i]);
        free(seen.val[i]);
    }
    memset(&seen, 0, sizeof(seen));
}

static void on_value(const char *key, const char *value, size_t len,
                     void *payload)
{
    size_t i;

    ck_assert_ptr_eq(payload, &seen);
    ck_assert_uint_eq(strlen(value), len);
    seen.calls++;
    for (i = 0; i < seen.n; i++)
        if (strcmp(seen.key[i], key) == 0)
            break;
    if (i == seen.n) {
        ck_assert_uint_lt(seen.n, 64);
        seen.key[seen.n++] = co_strdup(key);
    } else {
        free(seen.val[i]);
    }
    seen.val[i] = co_strndup(value, len);
    seen.len[i] = len;
}

static const char *seen_value(const char *key)
{
    for (size_t i = 0; i < seen.n; i++)
        if (strcmp(seen.key[i], key) == 0)
            return seen.val[i];
    return NULL;
}

static void parse_ok_n(const char *text, size_t len,
                       enum co_envfile_format fmt, struct co_envvars *v)
{
    char err[CO_ERRLEN];
    int rc;

    seen_reset();
    co_envvars_init(v);
    v->on_value = on_value;
    v->payload = &seen;
    rc = co_envfile_parse(text, len, fmt, v, err, sizeof(err));
    ck_assert_msg(rc == 0, "parse failed: %s", err);
    for (size_t i = 1; i < v->n; i++)
        ck_assert_msg(strcmp(v->v[i - 1].key, v->v[i].key) < 0,
                      "keys not sorted and unique: %s, %s", v->v[i - 1].key,
                      v->v[i].key);
}

static void parse_ok(const char *text, enum co_envfile_format fmt,
                     struct co_envvars *v)
{
    parse_ok_n(text, strlen(text), fmt, v);
}

/* key holds want: as seen by the hook, and by its hash. */
static void expect_n(const struct co_envvars *v, const char *key,
                     const char *want, size_t wlen)
{
    const struct co_envvar *e = co_envvars_get(v, key);
    const char *got = seen_value(key);
    unsigned char md[CO_ENV_DIGEST_LEN];

    ck_assert_msg(e != NULL, "no variable %s", key);
    ck_assert_msg(got != NULL, "hook never saw %s", key);
    ck_assert_msg(strlen(got) == wlen && memcmp(got, want, wlen) == 0,
                  "%s: got \"%s\", want \"%.*s\"", key, got, (int)wlen, want);
    ck_assert_int_eq(EVP_Digest(want, wlen, md, NULL, EVP_sha256(), NULL), 1);
    ck_assert_msg(memcmp(md, e->digest, sizeof(md)) == 0,
                  "%s: digest is not SHA-256 of its value", key);
}

static void expect(const struct co_envvars *v, const char *key,
                   const char *want)
{
    expect_n(v, key, want, strlen(want));
}

/* Parsing fails with every word in the reason and none of hidden. */
static void parse_err_n(const char *text, size_t len,
                        enum co_envfile_format fmt, const char *const *words,
                        const char *hidden)
{
    struct co_envvars v;
    char err[CO_ERRLEN];
    int rc;

    co_envvars_init(&v);
    rc = co_envfile_parse(text, len, fmt, &v, err, sizeof(err));
    ck_assert_msg(rc == -1, "parsed, but should not: \"%s\"", text);
    ck_assert_uint_eq(v.n, 0);
    ck_assert_ptr_null(v.v);
    for (size_t i = 0; words && words[i]; i++)
        ck_assert_msg(strstr(err, words[i]) != NULL, "\"%s\" not in \"%s\"",
                      words[i], err);
    if (hidden != NULL)
        ck_assert_msg(strstr(err, hidden) == NULL,
                      "error quotes the input: \"%s\"", err);
    co_envvars_free(&v);
}

static void parse_err(const char *text, enum co_envfile_format fmt,
                      const char *const *words, const char *hidden)
{
    parse_err_n(text, strlen(text), fmt, words, hidden);
}

/* ---- parsing: Heroku JSON ----------------------------------------------- */

static const char heroku_sample[] =
    "{\n"
    "  \"A\": \"plain\",\n"
    "  \"NUM\": 5000,\n"
    "  \"NEG\": -12,\n"
    "  \"REAL\": 1.5,\n"
    "  \"T\": true,\n"
    "  \"F\": false,\n"
    "  \"N\": null,\n"
    "  \"UNI\": \"caf\\u00e9 \\\"q\\\" \\\\ \\n end\",\n"
    "  \"EMPTY\": \"\"\n"
    "}\n";

START_TEST(t_heroku_json)
{
    struct co_envvars v;

    parse_ok(heroku_sample, CO_ENVFILE_AUTO, &v);
    ck_assert_int_eq(v.format, CO_ENVFILE_HEROKU_JSON);
    ck_assert_uint_eq(v.n, 9);
    ck_assert_uint_eq(seen.calls, 9);
    expect(&v, "A", "plain");
    expect(&v, "NUM", "5000");
    expect(&v, "NEG", "-12");
    expect(&v, "REAL", "1.5");
    expect(&v, "T", "true");
    expect(&v, "F", "false");
    expect(&v, "N", "");
    expect(&v, "UNI", "caf\xc3\xa9 \"q\" \\ \n end");
    expect(&v, "EMPTY", "");
    ck_assert_int_eq(co_envvars_get(&v, "A")->ndefs, 1);
    ck_assert_ptr_null(co_envvars_get(&v, "MISSING"));
    ck_assert(!co_envvars_get(&v, "A")->is_url);
    /* Same value, same hash; another value, another hash. */
    ck_assert(co_envvar_same_value(co_envvars_get(&v, "N"),
                                   co_envvars_get(&v, "EMPTY")));
    ck_assert(!co_envvar_same_value(co_envvars_get(&v, "T"),
                                    co_envvars_get(&v, "F")));
    co_envvars_free(&v);
    co_envvars_free(&v); /* twice is harmless */

    /* A byte order mark, an empty object. */
    parse_ok("\xEF\xBB\xBF{\"K\": \"v\"}", CO_ENVFILE_AUTO, &v);
    expect(&v, "K", "v");
    co_envvars_free(&v);
    parse_ok("  {}\n", CO_ENVFILE_HEROKU_JSON, &v);
    ck_assert_uint_eq(v.n, 0);
    co_envvars_free(&v);
    seen_reset();
}
END_TEST

START_TEST(t_heroku_json_errors)
{
    parse_err(
        "{\n  \"A\": \"x\",\n  \"NESTED\": {\"b\": 1}\n}\n", CO_ENVFILE_AUTO,
        TU_WORDS("line 3", "\"NESTED\"", "object", "expected a string"), NULL);
    parse_err("{\"A\": [\"" SENTINEL "\"]}", CO_ENVFILE_AUTO,
              TU_WORDS("\"A\"", "array"), SENTINEL);
    parse_err("{\"A\": \"x\",\n \"A\": \"" SENTINEL "\"}", CO_ENVFILE_AUTO,
              TU_WORDS("line 2", "duplicate key"), SENTINEL);
    /* jansson's own message would quote the token: ours does not. */
    parse_err("{\n\"A\": " SENTINEL "}", CO_ENVFILE_AUTO,
              TU_WORDS("line 2, column", "invalid JSON"), SENTINEL);
    parse_err("{\"A\": \"" SENTINEL, CO_ENVFILE_AUTO,
              TU_WORDS("line 1", "end of input"), SENTINEL);
    parse_err("{\"A\": \"x\"} trailing", CO_ENVFILE_AUTO,
              TU_WORDS("extra data"), "trailing");
    parse_err("{\"A\": \"\\u0000x\"}", CO_ENVFILE_AUTO, TU_WORDS("NUL"), NULL);
    parse_err("{\"A\": \"\xff\"}", CO_ENVFILE_AUTO, TU_WORDS("UTF-8"), NULL);
    parse_err("{\"\": \"x\"}", CO_ENVFILE_AUTO,
              TU_WORDS("not a variable name"), NULL);
    parse_err("{\"A=B\": \"x\"}", CO_ENVFILE_AUTO,
              TU_WORDS("not a variable name"), NULL);
    parse_err("[{\"key\": \"A\", \"value\": \"x\"}]", CO_ENVFILE_HEROKU_JSON,
              TU_WORDS("expected a JSON object", "heroku config --json"),
              NULL);
    parse_err("A=1\n", CO_ENVFILE_HEROKU_JSON, TU_WORDS("line 1, column 1"),
              NULL);
}
END_TEST

/* ---- parsing: Aptible JSON ---------------------------------------------- */

static const char aptible_json_sample[] =
    "[\n"
    "  {\"key\": \"FOO\", \"value\": \"two words\",\n"
    "   \"shell_export\": \"FOO=two\\\\ words\"},\n"
    "  {\"key\": \"BAR\", \"value\": null},\n"
    "  {\"key\": \"ML\", \"value\": \"a\\nb\"},\n"
    "  {\"key\": \"PORT\", \"value\": 3000},\n"
    "  {\"key\": \"FOO\", \"value\": \"again\"}\n"
    "]\n";

START_TEST(t_aptible_json)
{
    struct co_envvars v;
    const struct co_envvar *foo;

    parse_ok(aptible_json_sample, CO_ENVFILE_AUTO, &v);
    ck_assert_int_eq(v.format, CO_ENVFILE_APTIBLE_JSON);
    ck_assert_uint_eq(v.n, 4);
    expect(&v, "BAR", "");
    expect(&v, "ML", "a\nb");
    expect(&v, "PORT", "3000");
    /* A list may repeat a key: the last one wins, and it is counted. */
    expect(&v, "FOO", "again");
    foo = co_envvars_get(&v, "FOO");
    ck_assert_int_eq(foo->ndefs, 2);
    ck_assert_int_eq(foo->line, 0);
    co_envvars_free(&v);
    seen_reset();

    parse_err("[{\"key\": \"A\"}]", CO_ENVFILE_AUTO,
              TU_WORDS("item 1", "\"A\"", "no \"value\""), NULL);
    parse_err("[{\"key\": \"A\", \"value\": \"x\"}, 1]", CO_ENVFILE_AUTO,
              TU_WORDS("item 2", "expected an object"), NULL);
    parse_err("[{\"key\": 5, \"value\": \"" SENTINEL "\"}]", CO_ENVFILE_AUTO,
              TU_WORDS("item 1", "\"key\""), SENTINEL);
    parse_err("[{\"key\": \"A\", \"value\": {\"x\": \"" SENTINEL "\"}}]",
              CO_ENVFILE_AUTO, TU_WORDS("item 1", "object"), SENTINEL);
    parse_err("{\"A\": \"x\"}", CO_ENVFILE_APTIBLE_JSON,
              TU_WORDS("expected a JSON list", "APTIBLE_OUTPUT_FORMAT=json"),
              NULL);
}
END_TEST

/* ---- parsing: aptible config (shell-escaped lines) ---------------------- */

/* What `aptible config` prints: Shellwords.escape of every value, a
 * newline as '<newline>', the empty string as ''. */
static const char aptible_sample[] =
    "BAR=''\n"
    "CERT=-----BEGIN\\ KEY-----'\n"
    "'abc'\n"
    "'-----END\\ KEY-----\n"
    "DOLLAR=a\\$b\n"
    "QUX=two\\ words\n"
    "QUERY=foo\\=bar\\?\n"
    "SLASH=back\\\\slash\n"
    "QUOTES=say\\ \\\"hi\\\"\\ \\'x\\'\n"
    "URL=postgres://u:p@h.example.com:5432/db\n"
    "UTF=caf\\\xc3\xa9\n"
    "AFTER=last";

START_TEST(t_aptible_lines)
{
    struct co_envvars v;

    parse_ok(aptible_sample, CO_ENVFILE_AUTO, &v);
    ck_assert_int_eq(v.format, CO_ENVFILE_APTIBLE);
    ck_assert_uint_eq(v.n, 10);
    expect(&v, "BAR", "");
    expect(&v, "CERT", "-----BEGIN KEY-----\nabc\n-----END KEY-----");
    ck_assert_int_eq(co_envvars_get(&v, "CERT")->line, 2);
    ck_assert_int_eq(co_envvars_get(&v, "DOLLAR")->line, 5);
    expect(&v, "DOLLAR", "a$b");
    expect(&v, "QUX", "two words");
    expect(&v, "QUERY", "foo=bar?");
    expect(&v, "SLASH", "back\\slash");
    expect(&v, "QUOTES", "say \"hi\" 'x'");
    expect(&v, "URL", "postgres://u:p@h.example.com:5432/db");
    expect(&v, "UTF", "caf\xc3\xa9");
    expect(&v, "AFTER", "last");
    co_envvars_free(&v);
    seen_reset();
}
END_TEST

/* ---- parsing: .env ------------------------------------------------------ */

static const char dotenv_sample[] =
    "# a comment\n"
    "\n"
    "export EXPORTED=yes\n"
    "SPACED = around equals\n"
    "INLINE=value # a comment\n"
    "HASH=value#not-a-comment\n"
    "DQ=\"line1\\nline2 \\\"quoted\\\" \\$HOME # not a comment\"\n"
    "SQ='single \\n $HOME'\n"
    "EMPTY=\n"
    "EMPTY2=   # only a comment\n"
    "TRAIL=trailing   \t\n"
    "INNER=a b  c\n"
    "CONT=abc\\\n"
    "def\n"
    "DUP=first\n"
    "KEY.with-dots=1\n"
    "   \t indented=yes\n"
    "DUP=second\n"
    "CRLF=x\r\n"
    "MULTI=\"a\n"
    "b\"\n"
    "MIXED=a'b c'\"d\"e\n"
    "DUP=third\n"
    "\t# indented comment\n";

START_TEST(t_dotenv)
{
    struct co_envvars v;
    const struct co_envvar *dup;

    parse_ok(dotenv_sample, CO_ENVFILE_AUTO, &v);
    ck_assert_int_eq(v.format, CO_ENVFILE_DOTENV);
    expect(&v, "EXPORTED", "yes");
    expect(&v, "SPACED", "around equals");
    expect(&v, "INLINE", "value");
    expect(&v, "HASH", "value#not-a-comment");
    expect(&v, "DQ", "line1\nline2 \"quoted\" $HOME # not a comment");
    expect(&v, "SQ", "single \\n $HOME");
    expect(&v, "EMPTY", "");
    expect(&v, "EMPTY2", "");
    expect(&v, "TRAIL", "trailing");
    expect(&v, "INNER", "a b  c");
    expect(&v, "CONT", "abcdef");
    expect(&v, "KEY.with-dots", "1");
    expect(&v, "indented", "yes");
    expect(&v, "CRLF", "x");
    expect(&v, "MULTI", "a\nb");
    expect(&v, "MIXED", "ab cde");
    expect(&v, "DUP", "third");
    dup = co_envvars_get(&v, "DUP");
    ck_assert_int_eq(dup->ndefs, 3);
    ck_assert_int_eq(dup->first_line, 15);
    ck_assert_int_eq(dup->line, 23);
    ck_assert_int_eq(co_envvars_get(&v, "MULTI")->line, 20);
    ck_assert_int_eq(co_envvars_get(&v, "MIXED")->line, 22);
    ck_assert_uint_eq(v.n, 17);
    co_envvars_free(&v);

    /* Nothing but comments and blanks; nothing at all. */
    parse_ok("# only\n\n   \n", CO_ENVFILE_AUTO, &v);
    ck_assert_uint_eq(v.n, 0);
    co_envvars_free(&v);
    parse_ok("", CO_ENVFILE_AUTO, &v);
    ck_assert_uint_eq(v.n, 0);
    co_envvars_free(&v);
    seen_reset();
}
END_TEST

/* "\n" in double quotes: a newline in .env files (the dotenv
 * convention), two bytes in shell text. */
START_TEST(t_dotenv_vs_shell_escapes)
{
    static const char text[] = "K=\"a\\nb\\tc\\qd\"\nU=a\\nb\n";
    struct co_envvars v;

    parse_ok(text, CO_ENVFILE_APTIBLE, &v);
    ck_assert_int_eq(v.format, CO_ENVFILE_APTIBLE);
    expect(&v, "K", "a\\nb\\tc\\qd");
    expect(&v, "U", "anb");
    co_envvars_free(&v);
    parse_ok(text, CO_ENVFILE_DOTENV, &v);
    expect(&v, "K", "a\nb\tc\\qd");
    expect(&v, "U", "anb");
    co_envvars_free(&v);
    parse_ok(text, CO_ENVFILE_AUTO, &v);
    ck_assert_int_eq(v.format, CO_ENVFILE_DOTENV);
    expect(&v, "K", "a\nb\tc\\qd");
    co_envvars_free(&v);
    seen_reset();
}
END_TEST

START_TEST(t_line_errors)
{
    parse_err("A=1\nB=\"open " SENTINEL "\n\nC=3\n", CO_ENVFILE_AUTO,
              TU_WORDS("line 2, column 3", "unterminated double quote"),
              SENTINEL);
    parse_err("A='x " SENTINEL "\n", CO_ENVFILE_AUTO,
              TU_WORDS("line 1, column 3", "unterminated single quote"),
              SENTINEL);
    /* A stray value on a line of its own is not quoted back. */
    parse_err("A=1\n\n" SENTINEL "\n", CO_ENVFILE_AUTO,
              TU_WORDS("line 3, column 19", "expected '='"), SENTINEL);
    parse_err("A=1\nexport " SENTINEL "\n", CO_ENVFILE_AUTO,
              TU_WORDS("line 2", "expected '='"), SENTINEL);
    parse_err("1A=x\n", CO_ENVFILE_AUTO,
              TU_WORDS("line 1, column 1", "cannot start with a digit"), NULL);
    parse_err("=x\n", CO_ENVFILE_AUTO,
              TU_WORDS("line 1, column 1", "expected a variable name"), NULL);
    parse_err("A=1\n  $B=2\n", CO_ENVFILE_AUTO,
              TU_WORDS("line 2, column 3", "expected a variable name"), NULL);
    parse_err_n("A=1\r\nB=x\0y\n", 11, CO_ENVFILE_AUTO,
                TU_WORDS("line 2, column 4", "NUL byte"), NULL);
    parse_err_n("A='x\0y'\n", 8, CO_ENVFILE_DOTENV, TU_WORDS("NUL byte"),
                NULL);
    parse_err_n("A=\0", 3, CO_ENVFILE_APTIBLE, TU_WORDS("line 1, column 3"),
                NULL);
    /* The line of the opening quote, after a multi-line value. */
    parse_err("A='one\ntwo'\nB=\"x\ny\nC='z\n", CO_ENVFILE_AUTO,
              TU_WORDS("line 3, column 3", "unterminated double quote"), NULL);
}
END_TEST

/* ---- parsing: URLs ------------------------------------------------------ */

START_TEST(t_urls)
{
    static const char text[] =
        "PG=postgres://user:" SENTINEL "@Host.Example.COM.:6543/my%20db"
        "?sslmode=require&password=" SENTINEL "\n"
        "PG2=postgresql://h2/db2\n"
        "R=rediss://:pw@redis.example.com\n"
        "SOCK=postgres:///db\n"
        "NOTURL=hello\n"
        "ALMOST=not a url://x\n"
        "HTTPS=https://api.example.com/v1\n";
    struct co_envvars v;
    const struct co_envvar *e;

    parse_ok(text, CO_ENVFILE_AUTO, &v);
    e = co_envvars_get(&v, "PG");
    ck_assert(e->is_url);
    ck_assert_str_eq(e->scheme, "postgres");
    ck_assert_str_eq(e->host, "host.example.com");
    ck_assert_int_eq(e->port, 6543);
    ck_assert_str_eq(e->path, "my db");
    e = co_envvars_get(&v, "PG2");
    ck_assert_str_eq(e->scheme, "postgresql");
    ck_assert_str_eq(e->host, "h2");
    ck_assert_int_eq(e->port, 5432);
    e = co_envvars_get(&v, "R");
    ck_assert_str_eq(e->scheme, "rediss");
    ck_assert_int_eq(e->port, 6379);
    ck_assert_ptr_null(e->path);
    e = co_envvars_get(&v, "SOCK");
    ck_assert(e->is_url);
    ck_assert_ptr_null(e->host);
    ck_assert(!co_envvars_get(&v, "NOTURL")->is_url);
    ck_assert(!co_envvars_get(&v, "ALMOST")->is_url);
    e = co_envvars_get(&v, "HTTPS");
    ck_assert(e->is_url);
    ck_assert_int_eq(e->port, 443);
    ck_assert_str_eq(e->path, "v1");
    ck_assert_uint_eq(seen.calls, 7);
    co_envvars_free(&v);
    seen_reset();
}
END_TEST

START_TEST(t_format_names)
{
    enum co_envfile_format f = CO_ENVFILE_AUTO;

    for (int i = CO_ENVFILE_AUTO; i <= CO_ENVFILE_DOTENV; i++) {
        const char *name = co_envfile_format_name(i);

        ck_assert_int_eq(co_envfile_format_parse(name, &f), 0);
        ck_assert_int_eq(f, i);
    }
    ck_assert_str_eq(co_envfile_format_name(CO_ENVFILE_HEROKU_JSON),
                     "heroku-json");
    ck_assert_int_eq(co_envfile_format_parse("yaml", &f), -1);
    ck_assert_int_eq(co_envfile_format_parse(NULL, &f), -1);
}
END_TEST

/* ---- parsing: damaged input --------------------------------------------- */

static uint32_t rng_state = 12345;

static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

/* One damaged copy of seed: flips, inserts of syntax bytes, deletes,
 * duplicated chunks. */
static size_t mutate(const char *seed, size_t n, char *out, size_t cap)
{
    static const char syntax[] = "\"'\\\n\r#= \t{}[]:,$`\0x";
    size_t len = n < cap ? n : cap;
    int edits = 1 + (int)(rng() % 6);

    memcpy(out, seed, len);
    while (edits-- > 0) {
        size_t at = len ? rng() % len : 0;

        switch (rng() % 5) {
        case 0:
            if (len)
                out[at] = (char)(rng() & 0xff);
            break;
        case 1:
        case 2:
            if (len < cap) {
                memmove(out + at + 1, out + at, len - at);
                out[at] = syntax[rng() % (sizeof(syntax) - 1)];
                len++;
            }
            break;
        case 3:
            if (len) {
                memmove(out + at, out + at + 1, len - at - 1);
                len--;
            }
            break;
        default: {
            size_t from = len ? rng() % len : 0;
            size_t k = 1 + rng() % 16;

            if (from + k > len)
                k = len - from;
            if (len + k <= cap) {
                memmove(out + at + k, out + at, len - at);
                memmove(out + at, out + (from >= at ? from + k : from), k);
                len += k;
            }
            break;
        }
        }
    }
    return len;
}

START_TEST(t_damaged_input)
{
    static const char *const seeds[] = {heroku_sample, aptible_json_sample,
                                        aptible_sample, dotenv_sample};
    static const enum co_envfile_format fmts[] = {
        CO_ENVFILE_AUTO, CO_ENVFILE_HEROKU_JSON, CO_ENVFILE_APTIBLE_JSON,
        CO_ENVFILE_APTIBLE, CO_ENVFILE_DOTENV};
    char buf[2048], err[CO_ERRLEN];
    size_t ok = 0, bad = 0;

    for (int i = 0; i < 3000; i++) {
        const char *seed = seeds[i % 4];
        size_t len = mutate(seed, strlen(seed), buf, sizeof(buf));

        for (size_t f = 0; f < sizeof(fmts) / sizeof(fmts[0]); f++) {
            struct co_envvars v;
            /* Exactly len bytes: no terminating NUL to lean on. */
            char *exact = co_malloc(len ? len : 1);

            memcpy(exact, buf, len);
            co_envvars_init(&v);
            err[0] = '\0';
            if (co_envfile_parse(exact, len, fmts[f], &v, err, sizeof(err)) ==
                0) {
                ok++;
                for (size_t k = 1; k < v.n; k++)
                    ck_assert(strcmp(v.v[k - 1].key, v.v[k].key) < 0);
                for (size_t k = 0; k < v.n; k++)
                    ck_assert(v.v[k].key[0] != '\0' && v.v[k].ndefs >= 1);
            } else {
                bad++;
                ck_assert_msg(err[0] != '\0', "failed without a reason");
                ck_assert_uint_eq(v.n, 0);
            }
            co_envvars_free(&v);
            free(exact);
        }
    }
    /* Both paths were exercised. */
    ck_assert_uint_gt(ok, 1000);
    ck_assert_uint_gt(bad, 1000);
}
END_TEST

/* ---- the check, end to end ---------------------------------------------- */

/* Writes the two files into a fresh directory and runs `cutover check
 * --only env.diff` with every report format, asserting SENTINEL shows up
 * nowhere. resources: YAML put before the env section (may be NULL);
 * params: the body of the env.diff override (may be NULL). */
static void run_env(const char *src, const char *tgt, const char *resources,
                    const char *params, const char *phase,
                    struct tu_outcome *o)
{
    const char *const args[] = {"--phase",    phase,       "--only",
                                "env.diff",   "--junit",   "junit.xml",
                                "--markdown", "report.md", "--text",
                                "report.txt", "--verbose", NULL};
    char *dir = tu_tmpdir();
    char *sp = tu_write_file(dir, "heroku-config.json", src);
    char *tp = tu_write_file(dir, "aptible-config.env", tgt);
    char *cfg, *more = NULL;

    cfg = co_asprintf("version: 1\n%s\nenv:\n  app:\n"
                      "    source: %s\n    target: %s\n",
                      resources ? resources : "", sp, tp);
    if (params != NULL) {
        more = co_asprintf("%schecks:\n  env.diff: {%s}\n", cfg, params);
        free(cfg);
        cfg = more;
    }
    tu_check_run_hiding(cfg, args, NULL, 60, SENTINEL, o);
    free(cfg);
    free(sp);
    free(tp);
    free(dir);
}

static void expect_case(const struct tu_outcome *o, const char *key,
                        const char *status, const char *const *words)
{
    tu_expect(o, "env.diff", "app", key, status, words);
}

START_TEST(t_sentinel_never_printed)
{
    /* The sentinel under names that are not secret-looking, so masking
     * (which registers secret-looking keys) cannot be what hides it. */
    static const char src[] =
        "{\n"
        "  \"GREETING\": \"" SENTINEL "\",\n"
        "  \"SECRET_KEY_BASE\": \"" SENTINEL "-base\",\n"
        "  \"WEIRD\": \"" SENTINEL "\\n\\\"<>&'\\u0001\",\n"
        "  \"SAME\": \"" SENTINEL "-same\",\n"
        "  \"MAIL_URL\": \"smtp://mail.example.com/" SENTINEL "\",\n"
        "  \"GONE\": \"" SENTINEL "-gone\"\n"
        "}\n";
    static const char tgt[] =
        "GREETING=" SENTINEL "-changed\n"
        "SECRET_KEY_BASE=" SENTINEL "\n"
        "WEIRD=" SENTINEL "\n"
        "SAME=" SENTINEL "-same\n"
        "MAIL_URL=smtp://mail.example.com/" SENTINEL "2\n"
        "ONLY_T=" SENTINEL "\n";
    struct tu_outcome o;

    run_env(src, tgt, NULL, NULL, "post", &o);
    ck_assert_msg(o.status == 1, "%s", o.text);
    expect_case(&o, "GREETING", "fail", TU_WORDS("value differs"));
    expect_case(&o, "SECRET_KEY_BASE", "fail", TU_WORDS("value differs"));
    expect_case(&o, "WEIRD", "fail", TU_WORDS("value differs"));
    expect_case(&o, "MAIL_URL", "fail", TU_WORDS("value differs"));
    expect_case(&o, "SAME", "pass", TU_WORDS("same value"));
    expect_case(&o, "GONE", "fail", TU_WORDS("missing on target"));
    expect_case(&o, "ONLY_T", "pass", TU_WORDS("only on the target"));
    ck_assert_uint_eq(tu_ncases(&o, "env.diff", "app"), 7);
    /* The messages say that it differs, and nothing about the values. */
    ck_assert_str_eq(
        tu_field(tu_case(&o, "env.diff", "app", "GREETING"), "message"),
        "value differs");
    ck_assert(!tu_mentions(&o, "s3ntinel"));
    tu_outcome_free(&o);

    /* Broken files: the reason, never the line. */
    run_env(src, "A=1\n" SENTINEL "\nB=\"" SENTINEL "\n", NULL, NULL, "post",
            &o);
    expect_case(&o, "target", "error",
                TU_WORDS("cannot parse", "aptible-config.env", "line 2",
                         "expected '='"));
    tu_outcome_free(&o);
    run_env("{\"A\": " SENTINEL "}", "A=1\n", NULL, NULL, "post", &o);
    expect_case(&o, "source", "error",
                TU_WORDS("cannot parse", "heroku-config.json", "heroku-json",
                         "line 1, column", "invalid JSON"));
    tu_outcome_free(&o);
}
END_TEST

static const char resources_main[] =
    "postgres:\n"
    "  main:\n"
    "    source: postgres://cutover:pw-src@127.0.0.1:5432/heroku\n"
    "    target: postgres://cutover:pw-tgt@localhost:5432/app\n"
    "redis:\n"
    "  jobs:\n"
    "    source: redis://:pw-src@redis.heroku.example:6379\n"
    "    target: rediss://:pw-tgt@redis.aptible.example:6380\n";

static const char heroku_full[] =
    "{\n"
    "  \"DATABASE_URL\": \"postgres://u:p@127.0.0.1:5432/heroku\",\n"
    "  \"REDIS_URL\": \"redis://:p@redis.heroku.example:6379\",\n"
    "  \"REDIS_TLS_URL\": \"rediss://:p@redis.heroku.example:6380\",\n"
    "  \"CACHE_URL\": \"redis://:p@redis.heroku.example:6379/2\",\n"
    "  \"REPLICA_URL\": \"postgres://u:p@127.0.0.1/heroku\",\n"
    "  \"HEROKU_POSTGRESQL_ONYX_URL\": \"postgres://u:p@127.0.0.1/heroku\",\n"
    "  \"HEROKU_APP_NAME\": \"acme\",\n"
    "  \"HEROKU_SLUG_COMMIT\": \"4b825dc6\",\n"
    "  \"PORT\": \"5000\",\n"
    "  \"DYNO\": \"web.1\",\n"
    "  \"MEMCACHE_URL\": \"memcache://mc.heroku.example:11211\",\n"
    "  \"PAPERTRAIL_API_TOKEN\": \"" SENTINEL "\",\n"
    "  \"NEW_RELIC_LICENSE_KEY\": \"nr\",\n"
    "  \"SAME\": \"v\",\n"
    "  \"DIFF\": \"v1\",\n"
    "  \"MISSING\": \"m\",\n"
    "  \"DUPED\": \"x\",\n"
    "  \"API_URL\": \"https://api.example.com\"\n"
    "}\n";

static const char aptible_full[] =
    "# Aptible config, as a .env file\n"
    "DATABASE_URL=postgres://u:p2@LOCALHOST:5432/app\n"
    "REDIS_URL=redis://:p@redis.heroku.example:6379\n"
    "CACHE_URL=rediss://:p@redis.aptible.example:6380/2\n"
    "REPLICA_URL=postgres://u:p@replica.aptible.example/app\n"
    "HEROKU_APP_NAME=acme\n"
    "PORT=3000\n"
    "SAME=v\n"
    "DIFF=v2\n"
    "DUPED=y\n"
    "DUPED=x\n"
    "API_URL=https://api.example.com\n"
    "OLD_CACHE=redis://:p@redis.heroku.example:6379\n"
    "EXTRA=1\n";

static const char params_full[] =
    "ignore: [\"NEW_RELIC_*\"], heroku_only: [\"PAPERTRAIL_*\"], "
    "addon_urls: [MEMCACHE_URL]";

START_TEST(t_post)
{
    struct tu_outcome o;

    run_env(heroku_full, aptible_full, resources_main, params_full, "post",
            &o);
    ck_assert_msg(o.status == 1, "%s", o.text);
    expect_case(&o, "DATABASE_URL", "pass",
                TU_WORDS("points at the target postgres resource main"));
    expect_case(&o, "REDIS_URL", "fail",
                TU_WORDS("points at the source (Heroku) redis host of "
                         "resource jobs"));
    expect_case(&o, "OLD_CACHE", "fail",
                TU_WORDS("points at the source (Heroku) redis host"));
    /* Same host and port as the target, database 2 on both sides. */
    expect_case(&o, "CACHE_URL", "pass",
                TU_WORDS("points at the target redis resource jobs"));
    expect_case(&o, "REPLICA_URL", "pass",
                TU_WORDS("no longer points at the source (Heroku) postgres "
                         "host of resource main"));
    expect_case(&o, "REDIS_TLS_URL", "skip",
                TU_WORDS("add-on URL being replaced", "source redis host",
                         "not set on the target"));
    expect_case(
        &o, "MEMCACHE_URL", "skip",
        TU_WORDS("add-on URL being replaced", "not set on the target"));
    expect_case(&o, "HEROKU_POSTGRESQL_ONYX_URL", "skip",
                TU_WORDS("Heroku-only", "not expected on the target"));
    expect_case(&o, "HEROKU_SLUG_COMMIT", "skip", TU_WORDS("Heroku-only"));
    expect_case(&o, "DYNO", "skip", TU_WORDS("Heroku-only"));
    expect_case(&o, "PORT", "skip",
                TU_WORDS("Heroku-only", "expected to differ"));
    expect_case(&o, "PAPERTRAIL_API_TOKEN", "skip", TU_WORDS("Heroku-only"));
    expect_case(&o, "HEROKU_APP_NAME", "pass", TU_WORDS("same value"));
    expect_case(&o, "NEW_RELIC_LICENSE_KEY", "skip",
                TU_WORDS("ignored", "NEW_RELIC_*"));
    expect_case(&o, "SAME", "pass", TU_WORDS("same value"));
    expect_case(&o, "API_URL", "pass", TU_WORDS("same value"));
    expect_case(&o, "DIFF", "fail", TU_WORDS("value differs"));
    expect_case(&o, "MISSING", "fail", TU_WORDS("missing on target"));
    expect_case(&o, "DUPED", "warn",
                TU_WORDS("same value", "defined 2 times in the target file",
                         "first on line 10", "the last, on line 11, counts"));
    expect_case(&o, "EXTRA", "pass", TU_WORDS("only on the target"));
    ck_assert_uint_eq(tu_ncases(&o, "env.diff", "app"), 20);
    /* Keys in order. */
    ck_assert_str_eq(
        tu_field(json_array_get(tu_cases(&o, "env.diff", "app"), 0), "name"),
        "API_URL");
    tu_outcome_free(&o);

    /* --phase all takes the post-cutover verdict. */
    run_env(heroku_full, aptible_full, resources_main, params_full, "all", &o);
    expect_case(&o, "REDIS_URL", "fail", TU_WORDS("source (Heroku)"));
    tu_outcome_free(&o);
}
END_TEST

START_TEST(t_pre)
{
    struct tu_outcome o;

    run_env(heroku_full, aptible_full, resources_main, params_full, "pre", &o);
    expect_case(&o, "REDIS_URL", "warn",
                TU_WORDS("points at the source (Heroku) redis host of "
                         "resource jobs",
                         "must change before the post-cutover run"));
    expect_case(&o, "OLD_CACHE", "warn", TU_WORDS("source (Heroku)"));
    expect_case(&o, "DATABASE_URL", "pass",
                TU_WORDS("points at the target postgres resource main"));
    expect_case(&o, "MISSING", "fail", TU_WORDS("missing on target"));
    tu_outcome_free(&o);
}
END_TEST

/* Add-on URLs whose host no configured resource has. */
START_TEST(t_addon_urls_unconfigured)
{
    static const char src[] =
        "{\"DATABASE_URL\": \"postgres://u:p@db.heroku.example/d\",\n"
        " \"REDIS_URL\": \"redis://:p@r.heroku.example\",\n"
        " \"REDIS_TLS_URL\": \"rediss://:p@r.heroku.example:6380\",\n"
        " \"OTHER\": \"x\"}\n";
    static const char tgt[] =
        "DATABASE_URL=postgres://u:p@db.heroku.example/d\n"
        "REDIS_URL=redis://:p@r.aptible.example\n"
        "REDIS_TLS_URL=''\n"
        "OTHER=x\n";
    struct tu_outcome o;

    run_env(src, tgt, NULL, NULL, "post", &o);
    expect_case(&o, "DATABASE_URL", "fail",
                TU_WORDS("same value as on the source",
                         "still points at the Heroku add-on"));
    expect_case(&o, "REDIS_URL", "skip",
                TU_WORDS("add-on URL being replaced", "differs on the target "
                                                      "as expected"));
    expect_case(&o, "REDIS_TLS_URL", "fail",
                TU_WORDS("not a URL on the target"));
    expect_case(&o, "OTHER", "pass", NULL);
    tu_outcome_free(&o);

    run_env(src, tgt, NULL, NULL, "pre", &o);
    expect_case(&o, "DATABASE_URL", "warn",
                TU_WORDS("same value as on the source",
                         "must change before the post-cutover run"));
    expect_case(&o, "REDIS_TLS_URL", "warn",
                TU_WORDS("not a URL on the target"));
    ck_assert_msg(o.status == 0, "%s", o.text);
    tu_outcome_free(&o);
}
END_TEST

/* Hosts compare as names (127.0.0.1 is not localhost), then ports, then
 * databases; a host that is both a source and a target cannot decide. */
START_TEST(t_host_matching)
{
    static const char res[] = "postgres:\n"
                              "  main:\n"
                              "    source: postgres://c:pw@127.0.0.1:5432/db\n"
                              "    target: postgres://c:pw@localhost:5432/db\n"
                              "  other:\n"
                              "    source: postgres://c:pw@127.0.0.1:5433/a\n"
                              "    target: postgres://c:pw@127.0.0.1:5433/b\n"
                              "redis:\n"
                              "  cache:\n"
                              "    source: redis://127.0.0.1:6379/1\n"
                              "    target: redis://127.0.0.1:6390\n";
    static const char src[] = "{\"A_URL\": \"x\", \"B_URL\": \"x\", "
                              "\"C_URL\": \"x\", \"D_URL\": \"x\", "
                              "\"E_URL\": \"redis://127.0.0.1:5432\", "
                              "\"F_URL\": \"x\", \"G_URL\": \"x\", "
                              "\"H_URL\": \"x\"}";
    static const char tgt[] = "A_URL=postgres://x@LOCALHOST./db\n"
                              "B_URL=postgres://x@127.0.0.1/db\n"
                              "C_URL=postgresql://x@127.0.0.1:5433/b\n"
                              "D_URL=postgres://x@127.0.0.1:5433/zzz\n"
                              "E_URL=redis://127.0.0.1:5432\n"
                              "F_URL=redis://127.0.0.1:6379/1\n"
                              "G_URL=rediss://127.0.0.1:6390/0\n"
                              "H_URL=redis://127.0.0.1:6379\n";
    struct tu_outcome o;

    run_env(src, tgt, res, NULL, "post", &o);
    expect_case(&o, "A_URL", "pass",
                TU_WORDS("points at the target postgres resource main"));
    expect_case(&o, "B_URL", "fail",
                TU_WORDS("points at the source (Heroku) postgres host of "
                         "resource main"));
    expect_case(&o, "C_URL", "pass",
                TU_WORDS("points at the target postgres resource other"));
    expect_case(&o, "D_URL", "warn", TU_WORDS("cannot tell where it points"));
    /* A redis URL is not a postgres server's, whatever the port. */
    expect_case(&o, "E_URL", "pass", TU_WORDS("same value"));
    expect_case(&o, "F_URL", "fail",
                TU_WORDS("source (Heroku) redis host of resource cache"));
    expect_case(&o, "G_URL", "pass",
                TU_WORDS("points at the target redis resource cache"));
    /* db 0 on the source's port: neither side's database, but only the
     * source listens there. */
    expect_case(&o, "H_URL", "fail", TU_WORDS("source (Heroku) redis host"));
    tu_outcome_free(&o);
}
END_TEST

START_TEST(t_formats)
{
    /* The same variables as Heroku JSON, aptible shell text, Aptible
     * JSON and .env: all equal. */
    static const char src[] =
        "{\"CERT\": \"-----BEGIN KEY-----\\nabc\\n-----END KEY-----\",\n"
        " \"QUX\": \"two words\", \"Q\": \"foo=bar?\", \"E\": \"\",\n"
        " \"N\": \"5\"}\n";
    static const char shell[] = "CERT=-----BEGIN\\ KEY-----'\n"
                                "'abc'\n"
                                "'-----END\\ KEY-----\n"
                                "E=''\n"
                                "N=5\n"
                                "Q=foo\\=bar\\?\n"
                                "QUX=two\\ words\n";
    static const char ajson[] =
        "[{\"key\": \"CERT\", \"value\": "
        "\"-----BEGIN KEY-----\\nabc\\n-----END KEY-----\"},\n"
        " {\"key\": \"QUX\", \"value\": \"two words\"},\n"
        " {\"key\": \"Q\", \"value\": \"foo=bar?\"},\n"
        " {\"key\": \"E\", \"value\": null},\n"
        " {\"key\": \"N\", \"value\": 5}]\n";
    static const char dotenv[] =
        "export CERT=\"-----BEGIN KEY-----\\nabc\\n-----END KEY-----\"\n"
        "QUX='two words'  # quoted\n"
        "Q=foo=bar?\n"
        "E=\n"
        "N = 5\n";
    const char *const targets[] = {shell, ajson, dotenv, src};
    struct tu_outcome o;

    for (size_t i = 0; i < 4; i++) {
        run_env(src, targets[i], NULL, NULL, "post", &o);
        ck_assert_msg(o.status == 0, "target %zu: %s", i, o.text);
        ck_assert_uint_eq(tu_count_status(&o, "env.diff", "pass"), 5);
        tu_outcome_free(&o);
    }

    /* target_format: aptible reads "\n" in double quotes as two bytes. */
    run_env(src, dotenv, NULL, "target_format: aptible", "post", &o);
    expect_case(&o, "CERT", "fail", TU_WORDS("value differs"));
    tu_outcome_free(&o);
    run_env(src, dotenv, NULL, "target_format: yaml", "post", &o);
    expect_case(&o, "target", "error",
                TU_WORDS("target_format", "unknown format", "dotenv"));
    tu_outcome_free(&o);
    run_env(src, shell, NULL, "source_format: aptible-json", "post", &o);
    expect_case(
        &o, "source", "error",
        TU_WORDS("cannot parse", "aptible-json", "expected a JSON list"));
    ck_assert_msg(o.status == 2, "%s", o.text);
    tu_outcome_free(&o);
}
END_TEST

START_TEST(t_file_errors)
{
    struct tu_outcome o;
    char *dir = tu_tmpdir();
    char *cfg;

    /* A target file that is not there: an error, no key cases. */
    cfg = co_asprintf("version: 1\nenv:\n  app:\n"
                      "    source: %s/nope.json\n"
                      "    target: %s\n",
                      dir, dir);
    tu_check_run(
        cfg,
        (const char *const[]){"--only", "env.diff", "--phase", "post", NULL},
        NULL, 60, &o);
    expect_case(
        &o, "source", "error",
        TU_WORDS("cannot read", "nope.json", "No such file or directory"));
    expect_case(&o, "target", "error", TU_WORDS("is a directory"));
    ck_assert_uint_eq(tu_ncases(&o, "env.diff", "app"), 2);
    ck_assert_msg(o.status == 2, "%s", o.text);
    tu_outcome_free(&o);
    free(cfg);

    /* An empty source is suspicious, not an error. */
    run_env("{}", "A=1\n", NULL, NULL, "post", &o);
    expect_case(&o, "source", "warn",
                TU_WORDS("no variables", "heroku config --json"));
    expect_case(&o, "A", "pass", TU_WORDS("only on the target"));
    tu_outcome_free(&o);

    /* Only one side configured: the runner skips the pair check. */
    cfg =
        co_asprintf("version: 1\nenv:\n  app:\n    source: %s/x.json\n", dir);
    tu_check_run(cfg, (const char *const[]){"--only", "env.diff", NULL}, NULL,
                 60, &o);
    expect_case(&o, "app", "skip", TU_WORDS("needs both sides"));
    tu_outcome_free(&o);
    free(cfg);
    free(dir);
}
END_TEST

/* Relative paths are the config file's, not the working directory's. */
START_TEST(t_relative_paths)
{
    char *dir = tu_tmpdir();
    char *sub = co_asprintf("%s/deploy", dir);
    char *cfg, *sp, *tp;
    json_t *cases;
    struct tu_outcome o;

    ck_assert_int_eq(mkdir(sub, 0700), 0);
    sp = tu_write_file(sub, "heroku-config.json", "{\"A\": \"1\"}");
    tp = tu_write_file(sub, "aptible-config.env", "A=1\n");
    cfg = tu_write_file(sub, "cutover.yml",
                        "version: 1\nenv:\n  app:\n"
                        "    source: heroku-config.json\n"
                        "    target: ./aptible-config.env\n");
    tu_check_run_at("/", cfg, TU_WORDS("--only", "env.diff"), NULL, 60, &o);
    ck_assert_msg(o.status == 0, "exit %d: %s%s", o.status, o.out, o.err);
    cases = json_object_get(
        json_array_get(json_object_get(o.report, "checks"), 0), "cases");
    ck_assert_uint_eq(json_array_size(cases), 1);
    ck_assert_str_eq(tu_field(json_array_get(cases, 0), "status"), "pass");
    tu_outcome_free(&o);
    free(cfg);
    free(sp);
    free(tp);
    free(sub);
    free(dir);
}
END_TEST

/* Near misses: a key missing on the target and one only there. */
START_TEST(t_misspelling)
{
    struct tu_outcome o;

    run_env("{\"SENDGRID_API_KEY\": \"k\", \"LANG\": \"C\"}",
            "SENDGRID_APIKEY=k\nLANG=C\nUNRELATED_THING=1\n", NULL, NULL,
            "post", &o);
    expect_case(&o, "SENDGRID_API_KEY", "fail",
                TU_WORDS("missing on target", "the target has "
                                              "SENDGRID_APIKEY"));
    expect_case(&o, "SENDGRID_APIKEY", "warn",
                TU_WORDS("only on the target", "SENDGRID_API_KEY"));
    expect_case(&o, "UNRELATED_THING", "pass", TU_WORDS("only on the target"));
    tu_outcome_free(&o);
}
END_TEST

static Suite *env_suite(void)
{
    Suite *s = suite_create("env.diff");
    TCase *parse = tcase_create("parse");
    TCase *check = tcase_create("check");

    tcase_add_test(parse, t_heroku_json);
    tcase_add_test(parse, t_heroku_json_errors);
    tcase_add_test(parse, t_aptible_json);
    tcase_add_test(parse, t_aptible_lines);
    tcase_add_test(parse, t_dotenv);
    tcase_add_test(parse, t_dotenv_vs_shell_escapes);
    tcase_add_test(parse, t_line_errors);
    tcase_add_test(parse, t_urls);
    tcase_add_test(parse, t_format_names);
    tcase_add_test(parse, t_damaged_input);
    suite_add_tcase(s, parse);
    tcase_add_test(check, t_sentinel_never_printed);
    tcase_add_test(check, t_post);
    tcase_add_test(check, t_pre);
    tcase_add_test(check, t_addon_urls_unconfigured);
    tcase_add_test(check, t_host_matching);
    tcase_add_test(check, t_formats);
    tcase_add_test(check, t_file_errors);
    tcase_add_test(check, t_relative_paths);
    tcase_add_test(check, t_misspelling);
    suite_add_tcase(s, check);
    return s;
}

TU_SUITE(.make = env_suite);
