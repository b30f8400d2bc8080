/*
 * env_diff.c - the `env.diff` check: does the target app get the config
 * vars the source app has?
 *
 * An `env:` resource names two files: the source is `heroku config
 * --json` output, the target `aptible config` output (shell-escaped
 * KEY=value lines, or its JSON form) or a .env file; the format is
 * detected (core/envfile.c). Values are secrets: they are hashed as they
 * are parsed and compared by hash, and no value, fragment, length or hash
 * ever reaches a case. A case per key, in key order:
 *
 *  - same value on both sides: pass; only on the target: pass (Aptible
 *    apps carry settings Heroku did not need); different: fail "value
 *    differs"; missing on the target: fail. When a key missing on the
 *    target and a target-only key are near misses of each other, both
 *    cases say so (the target-only one warns): a misspelt name.
 *  - Heroku-only variables (PORT, DYNO, DYNO_RAM, HEROKU_*, plus the
 *    `heroku_only` param) are set by the platform: absent or different on
 *    the target is a skip saying so.
 *  - URLs: a value whose host (and port, and database) is a configured
 *    postgres or redis resource's source or target tells where the app
 *    will connect. On the target, pointing at the target resource passes;
 *    pointing at the source (Heroku) is a fail in post (and drift), a
 *    warning in pre, when the cutover has not happened yet. The case names
 *    the variable and the kind of host, never the URL. Host names compare
 *    as written (127.0.0.1 is not localhost: nothing is resolved).
 *  - Add-on URLs being replaced (DATABASE_URL, REDIS_URL, REDIS_TLS_URL,
 *    the `addon_urls` param, and any variable whose source value points
 *    at a configured source host) are expected to differ or be absent:
 *    skip with the reason, unless the target still holds the source's
 *    very value or no URL at all (fail in post, warning in pre).
 *
 * A key defined twice in a .env file is noted on its case (a pass turns
 * into a warning): the last definition wins, as in a shell.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cutover/check.h"
#include "cutover/envfile.h"

#define MAX_FILE (64u * 1024 * 1024)

static const struct co_param env_diff_params[] = {
    {"ignore", CO_P_LIST, NULL,
     "keys (globs) not compared at all, e.g. [NEW_RELIC_*, SENTRY_RELEASE]"},
    {"heroku_only", CO_P_LIST, NULL,
     "more keys (globs) that only Heroku sets, skipped when absent or "
     "different on the target; always: PORT, DYNO, DYNO_RAM, HEROKU_*"},
    {"addon_urls", CO_P_LIST, NULL,
     "more keys of Heroku add-on URLs being replaced, skipped when absent "
     "or different on the target; always: DATABASE_URL, REDIS_URL, "
     "REDIS_TLS_URL"},
    {"source_format", CO_P_STRING, "auto",
     "format of the source file: auto, heroku-json, aptible-json, "
     "aptible or dotenv"},
    {"target_format", CO_P_STRING, "auto",
     "format of the target file: auto, heroku-json, aptible-json, "
     "aptible or dotenv"},
    {0},
};

static const char *const heroku_only_keys[] = {"PORT", "DYNO", "DYNO_RAM",
                                               "HEROKU_*", NULL};
static const char *const addon_url_keys[] = {"DATABASE_URL", "REDIS_URL",
                                             "REDIS_TLS_URL", NULL};

enum side { SOURCE, TARGET };
static const char *const side_name[] = {"source", "target"};

/* ---- where URLs point --------------------------------------------------- */

/* One side of a configured postgres/redis resource. */
struct endpoint {
    const struct co_resource *res;
    enum side side;
    char *host; /* lower-case, no trailing dot */
    int port;   /* default filled in */
    char *path; /* normalised: see norm_path */
};

struct where {
    const struct endpoint *ep; /* NULL: no configured host */
    bool ambiguous;            /* a source and a target host alike */
};

struct envdiff {
    struct co_run *run;
    bool post;
    struct endpoint *eps;
    size_t neps;
    const struct co_envvars *src, *tgt;
    const char **tonly; /* target-only keys, for "did you mean" */
    size_t ntonly;
    const char **sonly; /* source keys the target lacks, the reverse */
    size_t nsonly;
};

static int scheme_kind(const char *scheme)
{
    if (scheme == NULL)
        return -1;
    if (strcmp(scheme, "postgres") == 0 || strcmp(scheme, "postgresql") == 0 ||
        strcmp(scheme, "postgis") == 0)
        return CO_KIND_POSTGRES;
    if (strcmp(scheme, "redis") == 0 || strcmp(scheme, "rediss") == 0)
        return CO_KIND_REDIS;
    return -1;
}

/* Database names compare as written; a Redis URL without a db is db 0. */
static const char *norm_path(int kind, const char *path)
{
    if (path == NULL || *path == '\0')
        return kind == CO_KIND_REDIS ? "0" : "";
    return path;
}

static void add_endpoint(struct envdiff *D, const struct co_resource *res,
                         enum side side, const char *url)
{
    struct co_url u;
    char why[CO_ERRLEN];
    struct endpoint *e;
    size_t n;

    if (url == NULL || co_url_parse(url, &u, why, sizeof(why)) < 0)
        return;
    if (u.host == NULL || u.host[0] == '\0') {
        co_url_free(&u);
        return;
    }
    D->eps = co_realloc(D->eps, (D->neps + 1) * sizeof(*D->eps));
    e = &D->eps[D->neps++];
    e->res = res;
    e->side = side;
    for (char *p = u.host; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    n = strlen(u.host);
    if (n > 1 && u.host[n - 1] == '.')
        u.host[n - 1] = '\0';
    e->host = co_strdup(u.host);
    e->port = u.port ? u.port : co_url_default_port(u.scheme);
    e->path = co_strdup(norm_path((int)res->kind, u.path));
    co_url_free(&u);
}

static void collect_endpoints(struct envdiff *D)
{
    const struct co_config *cfg = D->run->cfg;

    for (size_t i = 0; i < cfg->nres; i++) {
        const struct co_resource *r = &cfg->res[i];

        if (r->kind != CO_KIND_POSTGRES && r->kind != CO_KIND_REDIS)
            continue;
        add_endpoint(D, r, SOURCE, r->source);
        add_endpoint(D, r, TARGET, r->target);
    }
}

/* How closely endpoint e matches v: 3 host, port and database; 2 host
 * and port; 1 host; 0 not at all. */
static int closeness(const struct endpoint *e, const struct co_envvar *v)
{
    int kind = scheme_kind(v->scheme);

    if (v->host == NULL || strcmp(e->host, v->host) != 0)
        return 0;
    if (kind >= 0 && kind != (int)e->res->kind)
        return 0;
    if (e->port != v->port)
        return 1;
    if (strcmp(e->path, norm_path((int)e->res->kind, v->path)) != 0)
        return 2;
    return 3;
}

/* The closest configured endpoints decide. When they disagree on the
 * side (a source and a target alike), nobody can tell: said when they
 * share a port too (one server holding both databases), but a host alone
 * (every test bed is 127.0.0.1) is just no match. */
static struct where locate(const struct envdiff *D, const struct co_envvar *v)
{
    struct where w = {NULL, false};
    int best = 0;

    if (v == NULL || !v->is_url)
        return w;
    for (size_t i = 0; i < D->neps; i++) {
        int c = closeness(&D->eps[i], v);

        if (c == 0 || c < best)
            continue;
        if (c > best) {
            best = c;
            w.ep = &D->eps[i];
            w.ambiguous = false;
        } else if (D->eps[i].side != w.ep->side) {
            w.ambiguous = true;
        }
    }
    if (w.ambiguous && best == 1)
        w.ep = NULL;
    return w;
}

/* ---- verdicts ----------------------------------------------------------- */

static bool glob_any(const char *const *globs, const struct co_strlist *more,
                     const char *key, const char **which)
{
    for (size_t i = 0; globs && globs[i]; i++)
        if (co_glob_match(globs[i], key)) {
            *which = globs[i];
            return true;
        }
    for (size_t i = 0; more && i < more->n; i++)
        if (co_glob_match(more->v[i], key)) {
            *which = more->v[i];
            return true;
        }
    return false;
}

struct verdict {
    enum co_status st;
    struct co_buf msg;
};

static void say(struct verdict *V, enum co_status st, const char *fmt, ...)
    CO_PRINTF(3, 4);

static void say(struct verdict *V, enum co_status st, const char *fmt, ...)
{
    va_list ap;

    V->st = st;
    va_start(ap, fmt);
    co_buf_vaddf(&V->msg, fmt, ap);
    va_end(ap);
}

/* Pre: still on Heroku is expected, but must not stay so. */
static void not_yet(const struct envdiff *D, struct verdict *V,
                    const char *what)
{
    if (D->post)
        say(V, CO_FAIL, "%s", what);
    else
        say(V, CO_WARN, "%s; it must change before the post-cutover run",
            what);
}

/* The target value is a URL to a configured host: that decides. */
static void judge_target_url(const struct envdiff *D, struct verdict *V,
                             struct where w)
{
    const char *kind = co_kind_name(w.ep->res->kind);
    char what[CO_ERRLEN];

    if (w.ambiguous) {
        say(V, CO_WARN,
            "cannot tell where it points: its host is configured both as a "
            "source and as a target (e.g. %s.%s)",
            kind, w.ep->res->name);
        return;
    }
    if (w.ep->side == TARGET) {
        say(V, CO_PASS, "points at the target %s resource %s", kind,
            w.ep->res->name);
        return;
    }
    snprintf(what, sizeof(what),
             "points at the source (Heroku) %s host of resource %s", kind,
             w.ep->res->name);
    not_yet(D, V, what);
}

/* A near miss among the keys only one side has: a misspelling. Edit
 * distances cost keys x candidates: not looked for in huge files. */
static const char *near_miss(const char **keys, size_t n, const char *key)
{
    if (n == 0 || n > 2000)
        return NULL;
    return co_suggest(key, keys, n);
}

/* Add-on URLs being replaced (s present). */
static void judge_addon(const struct envdiff *D, struct verdict *V,
                        const struct co_envvar *s, const struct co_envvar *t,
                        struct where ws)
{
    const bool from_source =
        ws.ep != NULL && !ws.ambiguous && ws.ep->side == SOURCE;

    if (t == NULL) {
        if (from_source)
            say(V, CO_SKIP,
                "Heroku add-on URL being replaced (it points at the source "
                "%s host of resource %s): not set on the target",
                co_kind_name(ws.ep->res->kind), ws.ep->res->name);
        else
            say(V, CO_SKIP,
                "Heroku add-on URL being replaced: not set on the target");
        return;
    }
    if (co_envvar_same_value(s, t)) {
        not_yet(D, V,
                "same value as on the source: it still points at the Heroku "
                "add-on");
        return;
    }
    if (!t->is_url) {
        not_yet(D, V, "not a URL on the target");
        return;
    }
    if (from_source) {
        say(V, CO_PASS,
            "no longer points at the source (Heroku) %s host of resource "
            "%s (its new host is not the configured target's, so it is not "
            "checked further)",
            co_kind_name(ws.ep->res->kind), ws.ep->res->name);
        return;
    }
    say(V, CO_SKIP,
        "Heroku add-on URL being replaced: differs on the target as "
        "expected (its host is no configured resource's, so where it points "
        "is not checked)");
}

static void judge(const struct envdiff *D, struct verdict *V, const char *key,
                  const struct co_envvar *s, const struct co_envvar *t)
{
    const char *glob = NULL, *sugg;
    struct where wt = locate(D, t), ws;
    bool heroku, addon;

    if (glob_any(NULL, co_param_list(D->run, "ignore"), key, &glob)) {
        say(V, CO_SKIP, "ignored (matches \"%s\" in the ignore param)", glob);
        return;
    }
    if (wt.ep != NULL) {
        judge_target_url(D, V, wt);
        return;
    }
    ws = locate(D, s);
    heroku = glob_any(heroku_only_keys, co_param_list(D->run, "heroku_only"),
                      key, &glob);
    addon = glob_any(addon_url_keys, co_param_list(D->run, "addon_urls"), key,
                     &glob) ||
            (ws.ep != NULL && !ws.ambiguous && ws.ep->side == SOURCE);
    if (s == NULL) {
        sugg = near_miss(D->sonly, D->nsonly, key);
        if (sugg != NULL)
            say(V, CO_WARN,
                "only on the target (a misspelling of %s, which the target "
                "lacks?)",
                sugg);
        else
            say(V, CO_PASS, "only on the target");
    } else if (heroku && (t == NULL || !co_envvar_same_value(s, t))) {
        say(V, CO_SKIP,
            "Heroku-only variable (set by the platform): %s on the target",
            t == NULL ? "not expected" : "expected to differ");
    } else if (addon) {
        judge_addon(D, V, s, t, ws);
    } else if (t == NULL) {
        sugg = near_miss(D->tonly, D->ntonly, key);
        if (sugg != NULL)
            say(V, CO_FAIL,
                "missing on target (the target has %s: a misspelling?)", sugg);
        else
            say(V, CO_FAIL, "missing on target");
    } else if (co_envvar_same_value(s, t)) {
        say(V, CO_PASS, "same value on both sides");
    } else {
        say(V, CO_FAIL, "value differs");
    }
}

/* "; defined 3 times in the target file (first on line 2; the last, on
 * line 9, counts)": appended to the verdict. */
static bool note_dups(struct verdict *V, const struct co_envvar *v,
                      enum side side)
{
    if (v == NULL || v->ndefs < 2)
        return false;
    if (v->line > 0)
        co_buf_addf(&V->msg,
                    "; defined %d times in the %s file (first on line %d; "
                    "the last, on line %d, counts)",
                    v->ndefs, side_name[side], v->first_line, v->line);
    else
        co_buf_addf(&V->msg,
                    "; defined %d times in the %s file (the last counts)",
                    v->ndefs, side_name[side]);
    return true;
}

static int key_case(const struct envdiff *D, const char *key,
                    const struct co_envvar *s, const struct co_envvar *t)
{
    struct verdict V;
    bool dup;
    int rc;

    V.st = CO_PASS;
    co_buf_init(&V.msg);
    judge(D, &V, key, s, t);
    dup = note_dups(&V, s, SOURCE);
    dup = note_dups(&V, t, TARGET) || dup;
    if (dup && V.st == CO_PASS)
        V.st = CO_WARN;
    rc = co_case_addf(D->run, V.st, key, NULL, NULL, "%s", V.msg.s);
    co_buf_free(&V.msg);
    return rc;
}

/* ---- files -------------------------------------------------------------- */

/* Reads path whole into *buf (the caller wipes and frees it). Returns 0,
 * or -1 with the reason in why. */
static int slurp(const char *path, char **buf, size_t *len, char *why,
                 size_t whylen)
{
    struct stat st;
    size_t cap, n = 0;
    char *b;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    *buf = NULL;
    if (fd < 0 || fstat(fd, &st) < 0) {
        snprintf(why, whylen, "%s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (S_ISDIR(st.st_mode) ||
        (S_ISREG(st.st_mode) && st.st_size > MAX_FILE)) {
        snprintf(why, whylen, "%s",
                 S_ISDIR(st.st_mode)
                     ? "is a directory"
                     : "larger than 64 MiB: not a config dump");
        close(fd);
        return -1;
    }
    /* Exactly the size when it is known, so the buffer never moves. */
    cap = S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : MAX_FILE + 1;
    b = co_malloc(cap);
    for (;;) {
        ssize_t r = read(fd, b + n, cap - n);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(why, whylen, "%s", strerror(errno));
            OPENSSL_cleanse(b, cap);
            free(b);
            close(fd);
            return -1;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n == cap) {
            snprintf(why, whylen, "%s",
                     "grew while being read, or larger than 64 MiB");
            OPENSSL_cleanse(b, cap);
            free(b);
            close(fd);
            return -1;
        }
    }
    close(fd);
    *buf = b;
    *len = n;
    return 0;
}

/* Values are registered for masking as they are parsed: cases never hold
 * a value, but a message that went wrong would still be masked. Only
 * URL credentials and the values of secret-looking keys are registered:
 * masking "production" everywhere would wreck every other report. */
static void register_value(const char *key, const char *value, size_t len,
                           void *payload)
{
    static const char *const secretish[] = {
        "SECRET",  "TOKEN", "PASS", "KEY",  "AUTH", "CREDENTIAL",
        "PRIVATE", "SALT",  "SIGN", "CERT", "DSN",  NULL};
    char up[128];
    size_t i;

    (void)payload;
    if (strstr(value, "://") != NULL)
        co_secret_register_url(value);
    if (len < 8)
        return;
    for (i = 0; key[i] != '\0' && i + 1 < sizeof(up); i++)
        up[i] =
            (key[i] >= 'a' && key[i] <= 'z') ? (char)(key[i] - 32) : key[i];
    up[i] = '\0';
    for (i = 0; secretish[i] != NULL; i++) {
        if (strstr(up, secretish[i]) != NULL) {
            co_secret_register(value);
            return;
        }
    }
}

/* Loads one side; on failure adds its `error` case and returns -1. */
static int load_side(struct co_run *run, enum side side, const char *path,
                     struct co_envvars *vars)
{
    const char *fmtname = co_param_string(
        run, side == SOURCE ? "source_format" : "target_format");
    enum co_envfile_format fmt = CO_ENVFILE_AUTO;
    char why[CO_ERRLEN];
    char *buf;
    size_t len = 0;
    int rc;

    if (fmtname != NULL && co_envfile_format_parse(fmtname, &fmt) < 0) {
        co_case_addf(run, CO_ERROR, side_name[side], NULL, NULL,
                     "%s_format: unknown format \"%s\" (expected auto, "
                     "heroku-json, aptible-json, aptible or dotenv)",
                     side_name[side], fmtname);
        return -1;
    }
    if (slurp(path, &buf, &len, why, sizeof(why)) < 0) {
        co_case_addf(run, CO_ERROR, side_name[side], NULL, NULL,
                     "cannot read %s: %s", path, why);
        return -1;
    }
    vars->on_value = register_value;
    rc = co_envfile_parse(buf, len, fmt, vars, why, sizeof(why));
    OPENSSL_cleanse(buf, len);
    free(buf);
    if (rc < 0) {
        co_case_addf(run, CO_ERROR, side_name[side], NULL, NULL,
                     "cannot parse %s (as %s): %s", path,
                     co_envfile_format_name(vars->format), why);
        return -1;
    }
    return 0;
}

/* Keys of `of` that `other` lacks. */
static const char **one_sided(const struct co_envvars *of,
                              const struct co_envvars *other, size_t *n)
{
    const char **keys = co_calloc(of->n ? of->n : 1, sizeof(*keys));

    *n = 0;
    for (size_t i = 0; i < of->n; i++)
        if (co_envvars_get(other, of->v[i].key) == NULL)
            keys[(*n)++] = of->v[i].key;
    return keys;
}

/* Walks both sorted key lists at once: one case per key of either. */
static void compare(struct envdiff *D)
{
    size_t i = 0, j = 0;

    while (i < D->src->n || j < D->tgt->n) {
        const struct co_envvar *s = i < D->src->n ? &D->src->v[i] : NULL;
        const struct co_envvar *t = j < D->tgt->n ? &D->tgt->v[j] : NULL;
        int c = s == NULL ? 1 : t == NULL ? -1 : strcmp(s->key, t->key);
        int rc;

        if (c < 0)
            rc = key_case(D, s->key, s, NULL);
        else if (c > 0)
            rc = key_case(D, t->key, NULL, t);
        else
            rc = key_case(D, s->key, s, t);
        i += c <= 0;
        j += c >= 0;
        if (rc < 0 || co_run_cancelled(D->run))
            return;
    }
}

static int env_diff_run(struct co_run *run)
{
    struct co_envvars src, tgt;
    struct envdiff D;
    int ok;

    co_envvars_init(&src);
    co_envvars_init(&tgt);
    memset(&D, 0, sizeof(D));
    D.run = run;
    D.post = co_run_is_post(run) || run->phase == CO_DRIFT;
    D.src = &src;
    D.tgt = &tgt;
    ok = load_side(run, SOURCE, run->res->source, &src) == 0;
    ok = load_side(run, TARGET, run->res->target, &tgt) == 0 && ok;
    if (ok && src.n == 0)
        co_case_addf(run, CO_WARN, "source", NULL, NULL,
                     "no variables in %s (expected `heroku config --json` "
                     "output)",
                     run->res->source);
    if (ok) {
        collect_endpoints(&D);
        D.tonly = one_sided(&tgt, &src, &D.ntonly);
        D.sonly = one_sided(&src, &tgt, &D.nsonly);
        compare(&D);
    }
    for (size_t i = 0; i < D.neps; i++) {
        free(D.eps[i].host);
        free(D.eps[i].path);
    }
    free(D.eps);
    free(D.tonly);
    free(D.sonly);
    co_envvars_free(&src);
    co_envvars_free(&tgt);
    return 0;
}

const struct co_check co_check_env_diff = {
    .id = "env.diff",
    .summary = "config var keys match; values compared by hash; URL vars "
               "point at target",
    .kind = CO_KIND_ENV,
    .phases = CO_PRE | CO_POST,
    .params = env_diff_params,
    .run = env_diff_run,
    .flags = CO_CHECK_PAIR,
};
