/*
 * init.c - `cutover init --heroku F --aptible F [-o FILE] [--force]`: a
 * starter cutover.yml from `heroku config --json` and `aptible config`
 * (its JSON form, or .env files), the same inputs env.diff reads.
 *
 * The inputs hold the application's secrets, so this file never sees a
 * value: co_envfile_parse keeps a variable's name, the hash of its value
 * and, for a URL, its scheme, host, port and path (never the
 * credentials). That is enough to recognise the databases:
 *
 *  - PostgreSQL: variables with a postgres:// URL. Heroku points
 *    DATABASE_URL at one of its HEROKU_POSTGRESQL_<COLOR>_URL databases,
 *    so variables with the same value (same hash) are one database.
 *  - Redis: variables with a redis:// or rediss:// URL. Heroku Redis
 *    gives one instance as REDIS_URL and REDIS_TLS_URL (two ports, one
 *    host), so variables with the same host and database are one
 *    instance, reached over TLS when it offers TLS.
 *
 * Each Heroku database is paired with the Aptible one that shares a
 * variable name; one left on each side pair up; anything else is
 * ambiguous and init says so (exit 78) rather than guess. Every URL
 * becomes a ${VAR} reference (HEROKU_x on the source, APTIBLE_x on the
 * target) with the variable it comes from named in a comment: the user
 * exports them in CI. The env pair points at the two files; domains,
 * endpoints and outbound partners, which no config var reveals, are
 * commented placeholders.
 */
#include "init.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cutover/envfile.h"
#include "cutover/util.h"

#define INIT_MAX_INPUT (64u << 20)
#define MAX_GROUPS     64

enum db { DB_PG, DB_REDIS, DB__COUNT };

static const char *const db_section[DB__COUNT] = {"postgres", "redis"};
static const char *const db_word[DB__COUNT] = {"PostgreSQL", "Redis"};

/* One database as one side sees it: the variables that name it. */
struct group {
    const struct co_envvar *vars[16];
    size_t n;
    const struct co_envvar *use; /* the variable the config references */
    int pair;                    /* index of the other side's group, -1 */
};

struct side {
    const char *path;
    const char *platform; /* "Heroku", "Aptible" */
    const char *prefix;   /* "HEROKU_", "APTIBLE_" */
    struct co_envvars vars;
    struct group g[DB__COUNT][MAX_GROUPS];
    size_t ng[DB__COUNT];
};

/* ---- reading ------------------------------------------------------------ */

/* Reads path whole; the caller wipes and frees *buf. */
static int slurp(const char *path, char **buf, size_t *len, char *why,
                 size_t whylen)
{
    struct co_buf b;
    char chunk[8192];
    ssize_t r;
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0 || fstat(fd, &st) < 0 || S_ISDIR(st.st_mode)) {
        snprintf(why, whylen, "%s",
                 fd >= 0 && S_ISDIR(st.st_mode) ? "is a directory"
                                                : strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    co_buf_init(&b);
    while ((r = read(fd, chunk, sizeof(chunk))) != 0) {
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 || b.len + (size_t)r > INIT_MAX_INPUT) {
            snprintf(why, whylen, "%s",
                     r < 0 ? strerror(errno) : "larger than 64 MiB");
            if (b.s)
                OPENSSL_cleanse(b.s, b.len);
            co_buf_free(&b);
            OPENSSL_cleanse(chunk, sizeof(chunk));
            close(fd);
            return -1;
        }
        co_buf_add(&b, chunk, (size_t)r);
    }
    OPENSSL_cleanse(chunk, sizeof(chunk));
    close(fd);
    *len = b.len;
    *buf = b.s ? co_buf_take(&b) : co_strdup("");
    return 0;
}

static int load_side(struct side *s, char *err, size_t errlen)
{
    char why[CO_ERRLEN];
    char *buf;
    size_t len = 0;
    int rc;

    if (slurp(s->path, &buf, &len, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "cannot read %s: %s", s->path, why);
        return -1;
    }
    rc = co_envfile_parse(buf, len, CO_ENVFILE_AUTO, &s->vars, why,
                          sizeof(why));
    /* The secrets in the buffer go: only hashes and URL shapes stay. */
    OPENSSL_cleanse(buf, len);
    free(buf);
    if (rc < 0) {
        snprintf(err, errlen,
                 "cannot parse %s (%s config, read as %s): %s; expected "
                 "`heroku config --json`, `aptible config` (lines or "
                 "JSON) or a .env file",
                 s->path, s->platform, co_envfile_format_name(s->vars.format),
                 why);
        return -1;
    }
    return 0;
}

/* ---- recognising databases ---------------------------------------------- */

static bool scheme_is(const struct co_envvar *v, const char *a, const char *b)
{
    return v->is_url && v->scheme &&
           (strcasecmp(v->scheme, a) == 0 ||
            (b && strcasecmp(v->scheme, b) == 0));
}

static bool is_db(const struct co_envvar *v, enum db d)
{
    return d == DB_PG ? scheme_is(v, "postgres", "postgresql")
                      : scheme_is(v, "redis", "rediss");
}

static bool str_eq(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* Same database: the same value (PostgreSQL), or the same host and
 * database number (Redis: REDIS_URL and REDIS_TLS_URL). */
static bool same_db(const struct co_envvar *a, const struct co_envvar *b,
                    enum db d)
{
    const char *pa = a->path && *a->path ? a->path : "0";
    const char *pb = b->path && *b->path ? b->path : "0";

    if (d == DB_PG)
        return co_envvar_same_value(a, b);
    return a->host && str_eq(a->host, b->host) && strcmp(pa, pb) == 0;
}

/* The canonical names first, then TLS (Redis), then name order. */
static int preference(const struct co_envvar *v, enum db d)
{
    static const char *const canon[] = {"DATABASE_URL", "REDIS_TLS_URL",
                                        "REDIS_URL"};
    int score = 0;

    if (d == DB_REDIS && scheme_is(v, "rediss", NULL))
        score += 10;
    for (size_t i = 0; i < 3; i++)
        if (strcmp(v->key, canon[i]) == 0)
            score += 5;
    return score;
}

static int group_dbs(struct side *s, enum db d, char *err, size_t errlen)
{
    for (size_t i = 0; i < s->vars.n; i++) {
        const struct co_envvar *v = &s->vars.v[i];
        struct group *g = NULL;

        if (!is_db(v, d))
            continue;
        for (size_t k = 0; k < s->ng[d] && g == NULL; k++)
            if (same_db(s->g[d][k].vars[0], v, d))
                g = &s->g[d][k];
        if (g == NULL) {
            if (s->ng[d] == MAX_GROUPS) {
                snprintf(err, errlen, "%s: more than %d %s databases", s->path,
                         MAX_GROUPS, db_word[d]);
                return -1;
            }
            g = &s->g[d][s->ng[d]++];
            g->pair = -1;
        }
        if (g->n < sizeof(g->vars) / sizeof(g->vars[0]))
            g->vars[g->n++] = v;
        if (g->use == NULL || preference(v, d) > preference(g->use, d))
            g->use = v;
    }
    return 0;
}

static bool group_has(const struct group *g, const char *key)
{
    for (size_t i = 0; i < g->n; i++)
        if (strcmp(g->vars[i]->key, key) == 0)
            return true;
    return false;
}

/* "A, B" */
static void group_names(const struct group *g, struct co_buf *b)
{
    for (size_t i = 0; i < g->n; i++)
        co_buf_addf(b, "%s%s", i ? ", " : "", g->vars[i]->key);
}

static void unpaired_names(const struct side *s, enum db d, struct co_buf *b)
{
    size_t n = 0;

    for (size_t i = 0; i < s->ng[d]; i++) {
        if (s->g[d][i].pair >= 0)
            continue;
        co_buf_puts(b, n++ ? "; " : "");
        group_names(&s->g[d][i], b);
    }
}

static size_t unpaired(const struct side *s, enum db d, size_t *last)
{
    size_t n = 0;

    for (size_t i = 0; i < s->ng[d]; i++)
        if (s->g[d][i].pair < 0) {
            n++;
            *last = i;
        }
    return n;
}

/* Pairs Heroku's databases of kind d with Aptible's: by a shared
 * variable name, then the last one of each side. */
static int pair_dbs(struct side *src, struct side *dst, enum db d, char *err,
                    size_t errlen)
{
    size_t ls = 0, lt = 0, ns, nt;
    struct co_buf a, b;

    for (size_t i = 0; i < src->ng[d]; i++) {
        struct group *g = &src->g[d][i];
        int hit = -1;

        for (size_t k = 0; k < dst->ng[d]; k++) {
            bool shared = false;

            for (size_t j = 0; j < g->n && !shared; j++)
                shared = group_has(&dst->g[d][k], g->vars[j]->key);
            if (!shared)
                continue;
            if (hit >= 0) {
                snprintf(err, errlen,
                         "ambiguous: the %s database named by %s in %s "
                         "shares variable names with two %s databases in "
                         "%s",
                         db_word[d], g->use->key, src->path, db_word[d],
                         dst->path);
                return -1;
            }
            hit = (int)k;
        }
        if (hit >= 0 && dst->g[d][hit].pair < 0) {
            g->pair = hit;
            dst->g[d][hit].pair = (int)i;
        }
    }
    ns = unpaired(src, d, &ls);
    nt = unpaired(dst, d, &lt);
    if (ns == 1 && nt == 1) {
        src->g[d][ls].pair = (int)lt;
        dst->g[d][lt].pair = (int)ls;
        return 0;
    }
    if (ns == 0)
        return 0; /* extra Aptible databases: noted in the config */
    co_buf_init(&a);
    co_buf_init(&b);
    unpaired_names(src, d, &a);
    unpaired_names(dst, d, &b);
    if (nt == 0)
        snprintf(err, errlen,
                 "%s has no %s URL for the Heroku %s database of %s (%s): "
                 "set the variable on the Aptible app (same name) and dump "
                 "its config again",
                 dst->path, db_word[d], db_word[d], src->path, a.s);
    else
        snprintf(err, errlen,
                 "ambiguous: cannot tell which Aptible %s database (%s, in "
                 "%s) replaces which Heroku one (%s, in %s); give each "
                 "Aptible database the variable name it has on Heroku",
                 db_word[d], b.s, dst->path, a.s, src->path);
    co_buf_free(&a);
    co_buf_free(&b);
    return -1;
}

/* The same value, or the same host, port and database: one server. */
static bool same_place(const struct co_envvar *a, const struct co_envvar *b)
{
    return co_envvar_same_value(a, b) ||
           (a->host && str_eq(a->host, b->host) && a->port == b->port &&
            str_eq(a->path, b->path));
}

/* An Aptible variable that still holds the Heroku URL names no Aptible
 * database: comparing a database with itself would pass and prove
 * nothing. */
static int check_pairs(const struct side *src, const struct side *dst,
                       enum db d, char *err, size_t errlen)
{
    for (size_t i = 0; i < src->ng[d]; i++) {
        const struct group *g = &src->g[d][i];
        const struct group *t;

        if (g->pair < 0)
            continue;
        t = &dst->g[d][g->pair];
        if (same_place(g->use, t->use)) {
            snprintf(err, errlen,
                     "%s in %s still points at the Heroku %s database (%s "
                     "in %s): it names no Aptible database yet; point it "
                     "at the Aptible one and dump the config again",
                     t->use->key, dst->path, db_word[d], g->use->key,
                     src->path);
            return -1;
        }
    }
    return 0;
}

/* ---- names ------------------------------------------------------------- */

/* "HEROKU_POSTGRESQL_OLIVE_URL" -> "olive", "HEROKU_REDIS_RED_TLS_URL" ->
 * "red"; NULL when the name has no Heroku add-on colour. */
static char *colour(const char *key)
{
    static const char *const heads[] = {"HEROKU_POSTGRESQL_", "HEROKU_REDIS_"};
    static const char *const tails[] = {"_TLS_URL", "_URL"};

    for (size_t h = 0; h < 2; h++) {
        size_t hl = strlen(heads[h]), n = strlen(key);

        if (strncmp(key, heads[h], hl) != 0)
            continue;
        for (size_t t = 0; t < 2; t++) {
            size_t tl = strlen(tails[t]);

            if (n > hl + tl && strcmp(key + n - tl, tails[t]) == 0)
                return co_strndup(key + hl, n - hl - tl);
        }
    }
    return NULL;
}

/* A resource name: lower case letters, digits and '_'. */
static char *resource_name(const struct group *g)
{
    char *name = NULL;
    size_t n;

    for (size_t i = 0; i < g->n && name == NULL; i++)
        name = colour(g->vars[i]->key);
    if (name == NULL) {
        const char *k = g->use->key;

        n = strlen(k);
        if (n > 8 && strcmp(k + n - 8, "_TLS_URL") == 0)
            n -= 8;
        else if (n > 4 && strcmp(k + n - 4, "_URL") == 0)
            n -= 4;
        name = co_strndup(k, n);
    }
    for (char *p = name; *p; p++)
        *p = isalnum((unsigned char)*p) ? (char)tolower((unsigned char)*p)
                                        : '_';
    return name;
}

/* The ${VAR} a side's variable becomes: HEROKU_x / APTIBLE_x. */
static char *ref_name(const struct side *s, const char *key)
{
    if (strncmp(key, s->prefix, strlen(s->prefix)) == 0)
        return co_strdup(key);
    return co_asprintf("%s%s", s->prefix, key);
}

static bool var_name_ok(const char *s)
{
    if (*s == '\0' || isdigit((unsigned char)*s))
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_')
            return false;
    return true;
}

/* ---- writing ------------------------------------------------------------ */

/* A double-quoted YAML scalar that reads back as s after interpolation
 * ('$' doubled). */
static void yaml_str(struct co_buf *b, const char *s)
{
    co_buf_puts(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            co_buf_addf(b, "\\%c", *p);
        else if (*p == '$')
            co_buf_puts(b, "$$");
        else if (*p < 0x20 || *p == 0x7f)
            co_buf_addf(b, "\\x%02x", *p);
        else
            co_buf_add(b, (const char *)p, 1);
    }
    co_buf_puts(b, "\"");
}

/* How the config names an input file: relative to the config's own
 * directory when it lies below it (the loader resolves paths from
 * there), absolute otherwise. */
static char *input_path(const char *input, const char *output)
{
    char in[PATH_MAX], dir[PATH_MAX];
    char *outdir;
    const char *slash = strrchr(output, '/');
    size_t n;

    if (strcmp(output, "-") == 0)
        outdir = co_strdup(".");
    else if (slash == NULL)
        outdir = co_strdup(".");
    else if (slash == output)
        outdir = co_strdup("/");
    else
        outdir = co_strndup(output, (size_t)(slash - output));
    if (realpath(input, in) == NULL || realpath(outdir, dir) == NULL) {
        free(outdir);
        return co_strdup(input);
    }
    free(outdir);
    n = strlen(dir);
    if (strncmp(in, dir, n) == 0 && in[n] == '/')
        return co_strdup(in + n + 1);
    if (strcmp(dir, "/") == 0)
        return co_strdup(in + 1);
    return co_strdup(in);
}

struct writer {
    struct co_buf out;     /* the config */
    struct co_buf exports; /* "#   VAR  what" lines for the header */
    size_t nexport;
    struct co_strlist refs; /* every ${VAR} used, to catch a clash */
};

static int add_ref(struct writer *w, const struct side *s, const char *ref,
                   const char *key, char *err, size_t errlen)
{
    if (!var_name_ok(ref)) {
        snprintf(err, errlen,
                 "%s: variable name \"%.60s\" cannot be used as a ${VAR} "
                 "reference (letters, digits and '_' only)",
                 s->path, key);
        return -1;
    }
    if (co_strlist_has(&w->refs, ref)) {
        snprintf(err, errlen,
                 "ambiguous: two databases would both be read from "
                 "${%s}; rename one of the variables",
                 ref);
        return -1;
    }
    co_strlist_add(&w->refs, ref);
    co_buf_addf(&w->exports, "#   %-34s %s of the %s app\n", ref, key,
                s->platform);
    w->nexport++;
    return 0;
}

/* "    source: ${HEROKU_DATABASE_URL}  # Heroku DATABASE_URL (= ...)" */
static int side_line(struct writer *w, const struct side *s, const char *key,
                     const struct group *g, char *err, size_t errlen)
{
    char *ref = ref_name(s, g->use->key);
    int rc = add_ref(w, s, ref, g->use->key, err, errlen);

    if (rc == 0) {
        co_buf_addf(&w->out, "    %s: ${%s}", key, ref);
        int pad = 28 - (int)strlen(ref);

        co_buf_addf(&w->out, "%*s# %s %s", pad > 1 ? pad : 1, "", s->platform,
                    g->use->key);
        if (g->n > 1) {
            co_buf_puts(&w->out, " (also ");
            for (size_t i = 0, k = 0; i < g->n; i++)
                if (g->vars[i] != g->use)
                    co_buf_addf(&w->out, "%s%s", k++ ? ", " : "",
                                g->vars[i]->key);
            co_buf_puts(&w->out, ")");
        }
        co_buf_puts(&w->out, "\n");
    }
    free(ref);
    return rc;
}

static void pg_extras(struct writer *w)
{
    co_buf_puts(&w->out,
                "    # schemas: [public]             # default: every "
                "non-system schema\n"
                "    # exclude: [public.ar_internal_metadata]\n"
                "    # ca_file: ./aptible-ca.pem     # verify the "
                "certificates (verify-full)\n");
}

static void redis_extras(struct writer *w, const struct group *src,
                         const struct group *dst)
{
    if (scheme_is(src->use, "rediss", NULL)) {
        co_buf_puts(
            &w->out,
            "    # Heroku Redis serves TLS with a self-signed certificate "
            "that no CA\n"
            "    # vouches for, so it cannot be verified: verification is "
            "off for\n"
            "    # this pair (the report says so on every connect). "
            "tls_verify is one\n"
            "    # switch per resource: it covers the Aptible side too. "
            "Once Heroku is\n"
            "    # gone (--baseline), remove this line to verify the "
            "target.\n"
            "    tls_verify: false\n");
    } else if (scheme_is(dst->use, "rediss", NULL)) {
        co_buf_puts(&w->out,
                    "    # The Aptible side's certificate is verified "
                    "(tls_verify defaults to true).\n");
    }
    co_buf_puts(&w->out,
                "    # queues: sidekiq                # sidekiq | resque | "
                "celery | bullmq | rq | none\n"
                "    # patterns: [\"cache:*\"]         # key counts compared "
                "per pattern\n");
}

/* The section of kind d: one resource per pair. */
static int write_dbs(struct writer *w, const struct side *src,
                     const struct side *dst, enum db d, char *err,
                     size_t errlen)
{
    struct co_strlist names = {NULL, 0};
    int rc = 0;

    if (src->ng[d] == 0)
        return 0;
    co_buf_addf(&w->out, "%s:\n", db_section[d]);
    for (size_t i = 0; i < src->ng[d] && rc == 0; i++) {
        const struct group *g = &src->g[d][i];
        const struct group *t = &dst->g[d][g->pair];
        char *name = src->ng[d] == 1 ? co_strdup("main") : resource_name(g);

        if (co_strlist_has(&names, name)) {
            char *again = co_asprintf("%s_%zu", name, i + 1);
            free(name);
            name = again;
        }
        co_strlist_add(&names, name);
        co_buf_addf(&w->out, "  %s:\n", name);
        rc = side_line(w, src, "source", g, err, errlen);
        if (rc == 0)
            rc = side_line(w, dst, "target", t, err, errlen);
        if (rc == 0 && d == DB_PG)
            pg_extras(w);
        else if (rc == 0)
            redis_extras(w, g, t);
        free(name);
    }
    for (size_t k = 0; k < dst->ng[d]; k++) {
        struct co_buf b;

        if (dst->g[d][k].pair >= 0)
            continue;
        co_buf_init(&b);
        group_names(&dst->g[d][k], &b);
        co_buf_addf(&w->out,
                    "  # not compared: %s in %s (no Heroku counterpart)\n",
                    b.s, dst->path);
        co_buf_free(&b);
    }
    co_buf_puts(&w->out, "\n");
    co_strlist_free(&names);
    return rc;
}

static void write_env(struct writer *w, const struct side *src,
                      const struct side *dst, const char *output)
{
    char *sp = input_path(src->path, output);
    char *dp = input_path(dst->path, output);

    co_buf_puts(&w->out, "env:\n  app:\n    source: ");
    yaml_str(&w->out, sp);
    co_buf_addf(&w->out, "  # %s\n    target: ",
                co_envfile_format_name(src->vars.format));
    yaml_str(&w->out, dp);
    co_buf_addf(&w->out, "  # %s\n\n",
                co_envfile_format_name(dst->vars.format));
    free(sp);
    free(dp);
}

static const char placeholders[] =
    "# No config var names these; fill them in (see `cutover config "
    "--schema`).\n"
    "#\n"
    "# domains:\n"
    "#   app.example.com:\n"
    "#     ttl_max: 300                        # before the switch\n"
    "#     expect_cname: elb-xxxx-12345.aptible.in\n"
    "#\n"
    "# endpoints:\n"
    "#   web:\n"
    "#     url: https://app.example.com/healthz\n"
    "#     expect_status: 200\n"
    "#\n"
    "# outbound:                               # partners the app calls\n"
    "#   stripe: api.stripe.com:443\n";

static void write_header(struct co_buf *b, const struct writer *w,
                         const struct side *src, const struct side *dst,
                         const char *output)
{
    const char *slash = strrchr(output, '/');
    const char *base = strcmp(output, "-") == 0 ? "cutover.yml"
                       : slash                  ? slash + 1
                                                : output;

    co_buf_addf(b,
                "# %s - written by `cutover init` from\n"
                "#   %s (%s, the Heroku app's config vars) and\n"
                "#   %s (%s, the Aptible app's).\n"
                "#\n"
                "#   cutover config              # validate; prints it "
                "resolved, masked\n"
                "#   cutover check --phase pre   # readiness, before the "
                "cutover\n"
                "#\n",
                base, src->path, co_envfile_format_name(src->vars.format),
                dst->path, co_envfile_format_name(dst->vars.format));
    if (w->nexport) {
        co_buf_puts(b, "# No secret is written here: every URL is a ${VAR} "
                       "reference. Export these\n"
                       "# in CI (`heroku config:get NAME`, `aptible "
                       "config`); never commit them:\n");
        co_buf_add(b, w->exports.s, w->exports.len);
    }
    co_buf_puts(b, "version: 1\n\n");
}

struct fill {
    const char *text;
};

static int fill_text(FILE *f, void *arg)
{
    const struct fill *fl = arg;

    return fputs(fl->text, f) < 0 ? -1 : 0;
}

static void side_free(struct side *s)
{
    co_envvars_free(&s->vars);
}

static void writer_free(struct writer *w)
{
    co_buf_free(&w->out);
    co_buf_free(&w->exports);
    co_strlist_free(&w->refs);
}

static enum co_init_result build(struct side *src, struct side *dst,
                                 const struct co_init_opts *o,
                                 struct co_buf *text, char *err, size_t errlen)
{
    struct writer w;
    int rc = 0;

    memset(&w, 0, sizeof(w));
    co_buf_init(&w.out);
    co_buf_init(&w.exports);
    for (int d = 0; d < DB__COUNT && rc == 0; d++)
        rc = group_dbs(src, (enum db)d, err, errlen) ||
             group_dbs(dst, (enum db)d, err, errlen) ||
             pair_dbs(src, dst, (enum db)d, err, errlen) ||
             check_pairs(src, dst, (enum db)d, err, errlen);
    for (int d = 0; d < DB__COUNT && rc == 0; d++)
        rc = write_dbs(&w, src, dst, (enum db)d, err, errlen);
    if (rc == 0) {
        write_env(&w, src, dst, o->output);
        co_buf_puts(&w.out, placeholders);
        write_header(text, &w, src, dst, o->output);
        co_buf_add(text, w.out.s, w.out.len);
    }
    writer_free(&w);
    return rc ? CO_INIT_INPUT : CO_INIT_OK;
}

static void account(FILE *note, const struct side *src,
                    const struct co_init_opts *o)
{
    size_t n = 0;

    if (note == NULL)
        return;
    fprintf(note, "cutover: wrote %s: ",
            strcmp(o->output, "-") == 0 ? "the config to stdout" : o->output);
    for (int d = 0; d < DB__COUNT; d++)
        if (src->ng[d])
            fprintf(note, "%s%zu %s", n++ ? ", " : "", src->ng[d],
                    db_section[d]);
    fprintf(note,
            "%senv app; domains, endpoints and outbound are "
            "placeholders to fill in\n",
            n ? ", " : "");
}

enum co_init_result co_init_write(const struct co_init_opts *o, FILE *note,
                                  char *err, size_t errlen)
{
    struct side *src = co_calloc(2, sizeof(*src)), *dst = src + 1;
    struct co_buf text;
    struct fill fl;
    struct stat st;
    enum co_init_result r = CO_INIT_OK;

    src->path = o->heroku;
    src->platform = "Heroku";
    src->prefix = "HEROKU_";
    dst->path = o->aptible;
    dst->platform = "Aptible";
    dst->prefix = "APTIBLE_";
    co_envvars_init(&src->vars);
    co_envvars_init(&dst->vars);
    co_buf_init(&text);
    if (strcmp(o->output, "-") != 0 && !o->force &&
        lstat(o->output, &st) == 0) {
        snprintf(err, errlen, "%s exists; use --force to replace it",
                 o->output);
        r = CO_INIT_EXISTS;
    } else if (load_side(src, err, errlen) < 0 ||
               load_side(dst, err, errlen) < 0) {
        r = CO_INIT_INPUT;
    } else {
        r = build(src, dst, o, &text, err, errlen);
    }
    if (r == CO_INIT_OK) {
        fl.text = text.s;
        if (co_write_atomic(o->output, "config", fill_text, &fl, err, errlen) <
            0)
            r = CO_INIT_WRITE;
        else
            account(note, src, o);
    }
    co_buf_free(&text);
    side_free(src);
    side_free(dst);
    free(src);
    return r;
}
