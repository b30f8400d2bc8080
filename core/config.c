/*
 * config.c - loads cutover.yml into a `struct co_config`.
 *
 * libyaml composes the whole document (yaml_parser_load), which keeps a
 * start mark on every node; the loader then walks the tree guided by
 * tables. Every section of a resource kind has a key table (struct
 * co_cfg_key, nginx style: name, type, offset of the field, range or
 * choices, extra validator), and one setter per type reads a value into
 * its field. Unknown keys, duplicate keys, wrong node types, bad values
 * and missing required keys are errors that name the file, the 1-based
 * line and column of the offending node and the dotted key path:
 *
 *   cutover.yml:12:5: postgres.main.sorce: unknown key (did you mean
 *   "source"?)
 *
 * Loading stops at the first error. Every scalar value (never a key) is
 * interpolated with co_interpolate() when it is read; every URL has its
 * secrets registered with co_secret_register_url() before it is even
 * validated, and the final message passes through co_mask(), so a
 * password never reaches an error.
 *
 * The per-check `checks:` section is validated against the registry
 * (co_check_find, co_check_param) and its values parsed by the declared
 * param types with co_value_parse().
 */
#include "config_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "cutover/check.h"

#define CONFIG_MAX_BYTES (16u << 20)

/* ---- key tables ------------------------------------------------------- */

static const char *const pg_schemes[] = {"postgres", "postgresql", NULL};
static const char *const redis_schemes[] = {"redis", "rediss", NULL};
static const char *const http_schemes[] = {"https", "http", NULL};
static const char *const queue_kinds[] = {
    "sidekiq", "resque", "celery", "bullmq", "rq", "none", NULL,
};
static const char *const tls_versions[] = {"1.0", "1.1", "1.2", "1.3", NULL};
static const char *const http_methods[] = {
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", NULL,
};

#define RES(field) offsetof(struct co_resource, field)
#define SET(field) offsetof(struct co_settings, field)
#define DAY_MS     (24LL * 3600 * 1000)

const struct co_cfg_key co_cfg_settings_keys[] = {
    {"jobs", CO_CFG_INT, SET(jobs), 0, 1, 256, NULL, NULL,
     "Tasks (check x resource) run in parallel; default 4."},
    {"timeout", CO_CFG_DURATION, SET(timeout_ms), 0, 1, DAY_MS, NULL, NULL,
     "Deadline of one task; default 30s."},
    {"statement_timeout", CO_CFG_DURATION, SET(statement_timeout_ms), 0, 1,
     DAY_MS, NULL, NULL,
     "PostgreSQL statement_timeout of every session; default 60s."},
    {"resolvers", CO_CFG_LIST, SET(resolvers), 0, 0, 0, NULL,
     co_cfg_check_resolver,
     "DNS servers every domain is asked (ip, ip:port or [ipv6]:port); "
     "default: the system's."},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL},
};

static const struct co_cfg_key pg_keys[] = {
    {"source", CO_CFG_URL, RES(source), 0, 0, 0, pg_schemes, NULL,
     "Heroku database URL (postgres://); use ${VAR}, never the secret "
     "itself."},
    {"target", CO_CFG_URL, RES(target), 0, 0, 0, pg_schemes, NULL,
     "Aptible database URL (postgres://); use ${VAR}."},
    {"schemas", CO_CFG_LIST, RES(schemas), 0, 0, 0, NULL, NULL,
     "Schemas to compare; default: every non-system schema."},
    {"exclude", CO_CFG_LIST, RES(exclude), 0, 0, 0, NULL, NULL,
     "Tables left out (schema.table, globs allowed)."},
    {"ca_file", CO_CFG_FILE, RES(ca_file), 0, 0, 0, NULL, NULL,
     "CA bundle to verify the server certificates (sslrootcert, "
     "verify-full); relative to the config file."},
    {"quiesce_window", CO_CFG_DURATION, RES(quiesce_window_ms), 0, 0, DAY_MS,
     NULL, NULL,
     "Enables pg.quiesced: no writes on the source during this window."},
    {"tls_verify", CO_CFG_BOOL, RES(tls_verify), 0, 0, 0, NULL, NULL,
     "Verify server certificates; default true."},
    {"tls", CO_CFG_BOOL, RES(tls), 0, 0, 0, NULL, NULL,
     "Also run tls.cert against the database hosts; default false."},
    {"cert_min_days", CO_CFG_INT, RES(cert_min_days), 0, 0, 36500, NULL, NULL,
     "tls.cert: days a certificate must still be valid; default 14."},
    {"tls_min_version", CO_CFG_ENUM, RES(tls_min_version), 0, 0, 0,
     tls_versions, NULL, "tls.cert: lowest TLS version; default \"1.2\"."},
    {"role_map", CO_CFG_MAP, RES(role_map), 0, 0, 0, NULL, NULL,
     "pg.schema: {SOURCE_ROLE: TARGET_ROLE}, owners and grants compared "
     "across a role rename; the connecting users are mapped by default."},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL},
};

static const struct co_cfg_key redis_keys[] = {
    {"source", CO_CFG_URL, RES(source), 0, 0, 0, redis_schemes, NULL,
     "Heroku Redis URL (redis:// or rediss://); use ${VAR}."},
    {"target", CO_CFG_URL, RES(target), 0, 0, 0, redis_schemes, NULL,
     "Aptible Redis URL (redis:// or rediss://); use ${VAR}."},
    {"tls_verify", CO_CFG_BOOL, RES(tls_verify), 0, 0, 0, NULL, NULL,
     "Verify server certificates; default true (Heroku Redis needs false: "
     "its certificates are self-signed)."},
    {"ca_file", CO_CFG_FILE, RES(ca_file), 0, 0, 0, NULL, NULL,
     "CA bundle to verify the server certificates; relative to the config "
     "file."},
    {"queues", CO_CFG_ENUM, RES(queues), 0, 0, 0, queue_kinds, NULL,
     "Job framework whose queues redis.queues counts; default none."},
    {"patterns", CO_CFG_LIST, RES(patterns), 0, 0, 0, NULL, NULL,
     "Key patterns (SCAN MATCH globs) whose counts redis.keyspace "
     "compares."},
    {"tls", CO_CFG_BOOL, RES(tls), 0, 0, 0, NULL, NULL,
     "Also run tls.cert against the Redis hosts; default false."},
    {"cert_min_days", CO_CFG_INT, RES(cert_min_days), 0, 0, 36500, NULL, NULL,
     "tls.cert: days a certificate must still be valid; default 14."},
    {"tls_min_version", CO_CFG_ENUM, RES(tls_min_version), 0, 0, 0,
     tls_versions, NULL, "tls.cert: lowest TLS version; default \"1.2\"."},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL},
};

static const struct co_cfg_key domain_keys[] = {
    {"ttl_max", CO_CFG_INT64, RES(ttl_max), 0, 0, 2147483647LL, NULL, NULL,
     "dns.ttl: highest TTL in seconds the records may have before the "
     "switch."},
    {"expect_cname", CO_CFG_STR, RES(expect_cname), 0, 0, 0, NULL,
     co_cfg_check_hostname,
     "dns.resolve: the CNAME the name must point at (the Aptible "
     "endpoint)."},
    {"resolvers", CO_CFG_LIST, RES(resolvers), 0, 0, 0, NULL,
     co_cfg_check_resolver,
     "DNS servers to ask (ip, ip:port or [ipv6]:port); default: "
     "settings.resolvers, else the system's."},
    {"authoritative", CO_CFG_BOOL, RES(authoritative), 0, 0, 0, NULL, NULL,
     "Also ask the zone's NS servers; default false."},
    {"expect_addresses", CO_CFG_LIST, RES(expect_addresses), 0, 0, 0, NULL,
     co_cfg_check_ip, "dns.resolve: the addresses the name must resolve to."},
    {"expect_acme_cname", CO_CFG_BOOL, RES(expect_acme_cname), 0, 0, 0, NULL,
     NULL,
     "_acme-challenge.NAME must be a CNAME to acme.<expect_cname>; "
     "default false."},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL},
};

static const struct co_cfg_key endpoint_keys[] = {
    {"url", CO_CFG_URL, RES(url), CO_CFG_REQUIRED, 0, 0, http_schemes, NULL,
     "URL http.probe requests (https:// or http://)."},
    {"expect_status", CO_CFG_INT, RES(expect_status), 0, 100, 599, NULL, NULL,
     "HTTP status expected; default: any 2xx or 3xx."},
    {"cert_min_days", CO_CFG_INT, RES(cert_min_days), 0, 0, 36500, NULL, NULL,
     "tls.cert: days the certificate must still be valid; default 14."},
    {"tls_min_version", CO_CFG_ENUM, RES(tls_min_version), 0, 0, 0,
     tls_versions, NULL, "tls.cert: lowest TLS version; default \"1.2\"."},
    {"ca_file", CO_CFG_FILE, RES(ca_file), 0, 0, 0, NULL, NULL,
     "CA bundle to verify the certificate; relative to the config file."},
    {"tls_verify", CO_CFG_BOOL, RES(tls_verify), 0, 0, 0, NULL, NULL,
     "Verify the certificate; default true."},
    {"connect_to", CO_CFG_STR, RES(connect_to), 0, 0, 0, NULL,
     co_cfg_check_connect_to,
     "Dial this host[:port] instead, keeping the URL's name for SNI, Host "
     "and the certificate."},
    {"expect_body", CO_CFG_STR, RES(expect_body), 0, 0, 0, NULL, NULL,
     "Text the response body must contain."},
    {"method", CO_CFG_ENUM, RES(method), 0, 0, 0, http_methods, NULL,
     "HTTP method; default GET."},
    {"headers", CO_CFG_HEADERS, RES(headers), 0, 0, 0, NULL, NULL,
     "Request headers (name: value); credential headers are masked in "
     "reports."},
    {"follow_redirects", CO_CFG_BOOL, RES(follow_redirects), 0, 0, 0, NULL,
     NULL, "Follow redirects; default false."},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL},
};

static const struct co_cfg_key egress_keys[] = {
    {"url", CO_CFG_URL, RES(url), CO_CFG_REQUIRED, 0, 0, http_schemes, NULL,
     "A service that answers with the caller's public IP address."},
    {"expect_cidrs", CO_CFG_LIST, RES(expect_cidrs), 0, 0, 0, NULL,
     co_cfg_check_cidr,
     "The outbound address pool the public IP must be in (CIDRs)."},
    {"ca_file", CO_CFG_FILE, RES(ca_file), 0, 0, 0, NULL, NULL,
     "CA bundle to verify the certificate; relative to the config file."},
    {"tls_verify", CO_CFG_BOOL, RES(tls_verify), 0, 0, 0, NULL, NULL,
     "Verify the certificate; default true."},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL},
};

static const struct co_cfg_key env_keys[] = {
    {"source", CO_CFG_PATH, RES(source), 0, 0, 0, NULL, NULL,
     "Config vars of the source: `heroku config --json` output (or a .env "
     "file); relative to the config file."},
    {"target", CO_CFG_PATH, RES(target), 0, 0, 0, NULL, NULL,
     "Config vars of the target: `aptible config` output (lines or JSON, "
     "or a .env file); relative to the config file."},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL},
};

/* The resource sections, indexed by kind. */
static const struct kind_section {
    const char *section;
    const struct co_cfg_key *keys;
    enum co_cfg_need need;
    const char *desc;
} kind_sections[CO_KIND__COUNT] = {
    [CO_KIND_POSTGRES] = {"postgres", pg_keys, CO_CFG_NEED_A_SIDE,
                          "PostgreSQL databases, by name: a source and/or "
                          "target URL each."},
    [CO_KIND_REDIS] = {"redis", redis_keys, CO_CFG_NEED_A_SIDE,
                       "Redis instances, by name: a source and/or target "
                       "URL each."},
    [CO_KIND_DOMAIN] = {"domains", domain_keys, CO_CFG_NEED_ACME_TARGET,
                        "DNS names, by name: TTLs before the switch, answers "
                        "after it."},
    [CO_KIND_ENDPOINT] = {"endpoints", endpoint_keys, CO_CFG_NEED_NOTHING,
                          "HTTP(S) endpoints, by name: status, body and "
                          "certificate."},
    [CO_KIND_OUTBOUND] = {"outbound", NULL, CO_CFG_NEED_NOTHING,
                          "Partners the app connects to, by name: "
                          "\"host:port\" each (tcp.reach)."},
    [CO_KIND_EGRESS] = {"egress", egress_keys, CO_CFG_NEED_NOTHING,
                        "The public IP the world sees must be in the "
                        "expected outbound pool (net.egress)."},
    [CO_KIND_ENV] = {"env", env_keys, CO_CFG_NEED_A_SIDE,
                     "Config-var files, by name: keys and value hashes "
                     "compared (env.diff)."},
};

const struct co_cfg_key *co_cfg_kind_keys(enum co_kind k)
{
    return (unsigned)k < CO_KIND__COUNT ? kind_sections[k].keys : NULL;
}

const char *co_cfg_section_name(enum co_kind k)
{
    return (unsigned)k < CO_KIND__COUNT ? kind_sections[k].section : "?";
}

enum co_cfg_need co_cfg_kind_need(enum co_kind k)
{
    return (unsigned)k < CO_KIND__COUNT ? kind_sections[k].need
                                        : CO_CFG_NEED_NOTHING;
}

const char *co_cfg_section_desc(enum co_kind k)
{
    return (unsigned)k < CO_KIND__COUNT ? kind_sections[k].desc : "";
}

/* ---- loader state, errors, key paths ---------------------------------- */

struct loader {
    const char *name; /* the file, as named in messages */
    const char *buf;  /* the text, to place reader errors */
    size_t len;
    struct co_config *cfg;
    yaml_document_t *doc;
    struct co_buf path; /* dotted key path of the node being read */
    char err[2 * CO_ERRLEN];
    bool failed;
};

/* Records the first error: "file:line:col: key.path: reason". */
static int CO_PRINTF(3, 4)
    fail_at(struct loader *L, yaml_mark_t m, const char *fmt, ...)
{
    struct co_buf b;
    va_list ap;

    if (L->failed)
        return -1;
    co_buf_init(&b);
    co_buf_addf(&b, "%s:%zu:%zu: ", L->name, m.line + 1, m.column + 1);
    if (L->path.len)
        co_buf_addf(&b, "%s: ", L->path.s);
    va_start(ap, fmt);
    co_buf_vaddf(&b, fmt, ap);
    va_end(ap);
    snprintf(L->err, sizeof(L->err), "%s", b.s);
    co_buf_free(&b);
    L->failed = true;
    return -1;
}

static size_t path_push(struct loader *L, const char *key)
{
    size_t old = L->path.len;

    if (old)
        co_buf_add(&L->path, ".", 1);
    co_buf_puts(&L->path, key);
    return old;
}

static size_t path_push_index(struct loader *L, size_t i)
{
    size_t old = L->path.len;

    co_buf_addf(&L->path, "[%zu]", i);
    return old;
}

static void path_pop(struct loader *L, size_t old)
{
    L->path.len = old;
    if (L->path.s)
        L->path.s[old] = '\0';
}

/* ---- reading nodes ---------------------------------------------------- */

static yaml_node_t *node_at(struct loader *L, int id)
{
    return yaml_document_get_node(L->doc, id);
}

static const char *node_kind(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_SCALAR_NODE:
        return "a scalar";
    case YAML_SEQUENCE_NODE:
        return "a list";
    case YAML_MAPPING_NODE:
        return "a mapping";
    default:
        return "nothing";
    }
}

/* A plain `~`, `null` or nothing at all: YAML's null. Quoted "" is an
 * empty string, which most keys also treat as unset. */
static bool is_null(const yaml_node_t *n)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
    const char *v = (const char *)n->data.scalar.value;

    if (n->type != YAML_SCALAR_NODE ||
        n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++)
        if (strcmp(v, nulls[i]) == 0)
            return true;
    return false;
}

/* The raw text of a scalar node, or NULL after an error: C strings
 * cannot hold the NUL a double-quoted "\0" can put in a YAML value. */
static const char *raw_text(struct loader *L, yaml_node_t *n)
{
    const char *v = (const char *)n->data.scalar.value;

    if (strlen(v) != n->data.scalar.length) {
        fail_at(L, n->start_mark, "contains a NUL byte");
        return NULL;
    }
    return v;
}

/* The interpolated text of scalar value n (allocated), "" for null, or
 * NULL after an error. `expect` names the wanted type for messages. */
static char *scalar_value(struct loader *L, yaml_node_t *n, const char *expect)
{
    const char *raw;
    char why[CO_ERRLEN];
    char *s;

    if (n->type != YAML_SCALAR_NODE) {
        fail_at(L, n->start_mark, "expected %s, got %s", expect, node_kind(n));
        return NULL;
    }
    if (is_null(n))
        return co_strdup("");
    raw = raw_text(L, n);
    if (raw == NULL)
        return NULL;
    s = co_interpolate(raw, why, sizeof(why));
    if (s == NULL)
        fail_at(L, n->start_mark, "%s", why);
    return s;
}

typedef int (*pair_fn)(struct loader *L, yaml_node_t *key, yaml_node_t *val,
                       void *arg);

/* Finds an earlier key of map equal to key text s, before pair p. */
static yaml_node_t *earlier_key(struct loader *L, yaml_node_t *map,
                                yaml_node_pair_t *p, const char *s)
{
    for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
        yaml_node_t *k = node_at(L, q->key);
        if (k->type == YAML_SCALAR_NODE &&
            strcmp((const char *)k->data.scalar.value, s) == 0)
            return k;
    }
    return NULL;
}

/* Calls fn for every pair of mapping node map, with the key pushed on
 * the path. Keys must be unique scalars; a null node is an empty map. */
static int each_pair(struct loader *L, yaml_node_t *map, const char *expect,
                     pair_fn fn, void *arg)
{
    if (is_null(map))
        return 0;
    if (map->type != YAML_MAPPING_NODE)
        return fail_at(L, map->start_mark, "expected %s, got %s", expect,
                       node_kind(map));
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
         p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node_at(L, p->key), *v = node_at(L, p->value);
        yaml_node_t *dup;
        const char *name;
        size_t old;
        int rc;

        if (k->type != YAML_SCALAR_NODE)
            return fail_at(L, k->start_mark, "keys must be scalars, got %s",
                           node_kind(k));
        name = raw_text(L, k);
        if (name == NULL)
            return -1;
        old = path_push(L, name);
        dup = earlier_key(L, map, p, name);
        if (dup)
            rc = fail_at(L, k->start_mark,
                         "duplicate key (first at line %zu, column %zu)",
                         dup->start_mark.line + 1, dup->start_mark.column + 1);
        else
            rc = fn(L, k, v, arg);
        path_pop(L, old);
        if (rc)
            return -1;
    }
    return 0;
}

/* "a, b or c" */
static void join_choices(const char *const *choices, const char *last,
                         struct co_buf *out)
{
    for (size_t i = 0; choices[i]; i++) {
        if (i > 0)
            co_buf_puts(out, choices[i + 1] ? ", " : last);
        co_buf_puts(out, choices[i]);
    }
}

/* "unknown key (did you mean "x"?)" or, with no close match, the list. */
static int unknown_name(struct loader *L, yaml_mark_t m, const char *what,
                        const char *name, const char *const *cands, size_t n)
{
    const char *sugg = co_suggest(name, cands, n);
    struct co_buf b;
    int rc;

    if (sugg)
        return fail_at(L, m, "unknown %s (did you mean \"%s\"?)", what, sugg);
    co_buf_init(&b);
    for (size_t i = 0; i < n; i++) {
        co_buf_puts(&b, i ? ", " : "");
        co_buf_puts(&b, cands[i]);
    }
    rc = fail_at(L, m, "unknown %s (expected one of: %s)", what,
                 b.s ? b.s : "");
    co_buf_free(&b);
    return rc;
}

/* ---- setters, one per key type ---------------------------------------- */

typedef int (*setter_fn)(struct loader *L, const struct co_cfg_key *key,
                         yaml_node_t *v, void *field);

/* Runs key->check on s; on failure quotes the (masked) value. */
static int run_check(struct loader *L, const struct co_cfg_key *key,
                     yaml_node_t *v, const char *s)
{
    char why[CO_ERRLEN];
    char *m;
    int rc;

    if (key->check == NULL || key->check(s, why, sizeof(why)) == 0)
        return 0;
    m = co_mask(s);
    rc = fail_at(L, v->start_mark, "%s (got \"%.80s\")", why, m);
    free(m);
    return rc;
}

static void store_string(void *field, char *s)
{
    char **f = field;

    free(*f);
    *f = s;
}

typedef int (*value_check_fn)(struct loader *L, const struct co_cfg_key *key,
                              yaml_node_t *v, const char *s);

/* A string scalar (`what` in the error when it is not one), stored in
 * field once check accepts it; an empty one leaves the field as it is. */
static int set_checked(struct loader *L, const struct co_cfg_key *key,
                       yaml_node_t *v, void *field, const char *what,
                       value_check_fn check)
{
    char *s = scalar_value(L, v, what);

    if (s == NULL)
        return -1;
    if (*s == '\0') {
        free(s);
        return 0;
    }
    if (check(L, key, v, s) < 0) {
        free(s);
        return -1;
    }
    store_string(field, s);
    return 0;
}

static int set_str(struct loader *L, const struct co_cfg_key *key,
                   yaml_node_t *v, void *field)
{
    return set_checked(L, key, v, field, "a string", run_check);
}

static bool in_choices(const char *const *choices, const char *s)
{
    for (size_t i = 0; choices[i]; i++)
        if (strcmp(choices[i], s) == 0)
            return true;
    return false;
}

/* Validates a URL without ever quoting it: only the scheme is shown. */
static int check_url(struct loader *L, const struct co_cfg_key *key,
                     yaml_node_t *v, const char *s)
{
    struct co_url u;
    char why[CO_ERRLEN];
    struct co_buf b;
    int rc = 0;

    if (co_url_parse(s, &u, why, sizeof(why)) < 0)
        return fail_at(L, v->start_mark, "invalid URL: %s", why);
    if (!in_choices(key->choices, u.scheme)) {
        char *m = co_mask(u.scheme);

        co_buf_init(&b);
        join_choices(key->choices, " or ", &b);
        rc = fail_at(L, v->start_mark,
                     "unsupported URL scheme \"%.20s\" (expected %s)", m, b.s);
        co_buf_free(&b);
        free(m);
    }
    co_url_free(&u);
    return rc;
}

/* The URL's secrets are registered first of all, so that every later
 * message can be masked. */
static int register_check_url(struct loader *L, const struct co_cfg_key *key,
                              yaml_node_t *v, const char *s)
{
    co_secret_register_url(s);
    return check_url(L, key, v, s);
}

static int set_url(struct loader *L, const struct co_cfg_key *key,
                   yaml_node_t *v, void *field)
{
    return set_checked(L, key, v, field, "a URL", register_check_url);
}

static char *resolve_path(struct loader *L, const char *p)
{
    const char *dir = L->cfg->dir;

    while (p[0] == '.' && p[1] == '/' && p[2] != '\0')
        p += 2 + strspn(p + 2, "/");
    if (p[0] == '/' || strcmp(dir, ".") == 0)
        return co_strdup(p);
    return co_asprintf("%s/%s", dir, p);
}

/* Paths are resolved against the config's directory, not the working
 * directory, so `cutover -c deploy/cutover.yml` finds deploy/ca.pem. */
static int set_path(struct loader *L, const struct co_cfg_key *key,
                    yaml_node_t *v, void *field)
{
    char *s = scalar_value(L, v, "a file path");
    char *p;
    struct stat st;

    if (s == NULL)
        return -1;
    if (*s == '\0') {
        free(s);
        return 0;
    }
    p = resolve_path(L, s);
    free(s);
    if (key->type == CO_CFG_FILE) {
        const char *why = NULL;

        if (stat(p, &st) < 0 || access(p, R_OK) < 0)
            why = strerror(errno);
        else if (S_ISDIR(st.st_mode))
            why = "is a directory";
        if (why) {
            char *m = co_mask(p);
            fail_at(L, v->start_mark, "cannot read \"%s\": %s", m, why);
            free(m);
            free(p);
            return -1;
        }
    }
    store_string(field, p);
    return 0;
}

static int set_enum(struct loader *L, const struct co_cfg_key *key,
                    yaml_node_t *v, void *field)
{
    char *s = scalar_value(L, v, "a string");
    const char *sugg;
    struct co_buf b;
    size_t n = 0;

    if (s == NULL)
        return -1;
    if (*s == '\0') {
        free(s);
        return 0;
    }
    if (in_choices(key->choices, s)) {
        store_string(field, s);
        return 0;
    }
    while (key->choices[n])
        n++;
    sugg = co_suggest(s, key->choices, n);
    co_buf_init(&b);
    join_choices(key->choices, ", ", &b);
    {
        char *m = co_mask(s);
        fail_at(L, v->start_mark,
                "unknown value \"%.40s\" (expected one of: %s)%s%s%s", m, b.s,
                sugg ? "; did you mean \"" : "", sugg ? sugg : "",
                sugg ? "\"?" : "");
        free(m);
    }
    co_buf_free(&b);
    free(s);
    return -1;
}

static int set_bool(struct loader *L, const struct co_cfg_key *key,
                    yaml_node_t *v, void *field)
{
    char *s = scalar_value(L, v, "a bool");
    struct co_value val;
    char why[CO_ERRLEN];
    int rc = 0;

    (void)key;
    if (s == NULL)
        return -1;
    if (co_value_parse(CO_P_BOOL, s, &val, why, sizeof(why)) < 0)
        rc = fail_at(L, v->start_mark, "%s", why);
    else
        *(bool *)field = val.b;
    free(s);
    return rc;
}

static int set_int(struct loader *L, const struct co_cfg_key *key,
                   yaml_node_t *v, void *field)
{
    char *s = scalar_value(L, v, "an integer");
    char why[CO_ERRLEN];
    long long n;
    int rc = 0;

    if (s == NULL)
        return -1;
    if (co_cfg_parse_int(s, key->min, key->max, &n, why, sizeof(why)) < 0)
        rc = fail_at(L, v->start_mark, "%s", why);
    else if (key->type == CO_CFG_INT)
        *(int *)field = (int)n;
    else
        *(int64_t *)field = n;
    free(s);
    return rc;
}

static int set_duration(struct loader *L, const struct co_cfg_key *key,
                        yaml_node_t *v, void *field)
{
    char *s = scalar_value(L, v, "a duration");
    char why[CO_ERRLEN], lim[32];
    struct co_value val;
    int rc = 0;

    if (s == NULL)
        return -1;
    if (co_value_parse(CO_P_DURATION, s, &val, why, sizeof(why)) < 0) {
        rc = fail_at(L, v->start_mark, "%s", why);
    } else if (val.i < key->min) {
        co_duration_format(key->min, lim, sizeof(lim));
        rc = fail_at(L, v->start_mark, "must be at least %s", lim);
    } else if (key->max && val.i > key->max) {
        co_duration_format(key->max, lim, sizeof(lim));
        rc = fail_at(L, v->start_mark, "must be at most %s", lim);
    } else {
        *(int64_t *)field = val.i;
    }
    free(s);
    return rc;
}

/* Reads a list of strings: a YAML sequence of scalars, or one scalar
 * holding a comma-separated list (the form a ${VAR} can fill). */
static int read_list(struct loader *L, const struct co_cfg_key *key,
                     yaml_node_t *v, struct co_strlist *out)
{
    if (v->type == YAML_SCALAR_NODE) {
        char *s = scalar_value(L, v, "a list of strings");
        struct co_value val;
        char why[CO_ERRLEN];

        if (s == NULL)
            return -1;
        co_value_parse(CO_P_LIST, s, &val, why, sizeof(why));
        free(s);
        for (size_t i = 0; i < val.list.n; i++) {
            if (key && run_check(L, key, v, val.list.v[i]) < 0) {
                co_value_free(&val);
                return -1;
            }
            co_strlist_add(out, val.list.v[i]);
        }
        co_value_free(&val);
        return 0;
    }
    if (v->type != YAML_SEQUENCE_NODE)
        return fail_at(L, v->start_mark, "expected a list of strings, got %s",
                       node_kind(v));
    for (yaml_node_item_t *it = v->data.sequence.items.start;
         it < v->data.sequence.items.top; it++) {
        yaml_node_t *item = node_at(L, *it);
        size_t old =
            path_push_index(L, (size_t)(it - v->data.sequence.items.start));
        char *s = scalar_value(L, item, "a string");
        int rc = s ? 0 : -1;

        if (s && *s == '\0')
            rc = fail_at(L, item->start_mark, "empty list item");
        else if (s && key)
            rc = run_check(L, key, item, s);
        if (rc == 0)
            co_strlist_add(out, s);
        free(s);
        path_pop(L, old);
        if (rc)
            return -1;
    }
    return 0;
}

static int set_list(struct loader *L, const struct co_cfg_key *key,
                    yaml_node_t *v, void *field)
{
    return read_list(L, key, v, field);
}

/* Header values under these names are credentials: registered as
 * secrets so reports and `cutover config` mask them. */
static bool secret_header(const char *name)
{
    static const char *const parts[] = {
        "authorization", "cookie", "token",    "secret",
        "key",           "auth",   "password",
    };
    char *lower = co_strdup(name);
    bool hit = false;

    for (char *p = lower; *p; p++)
        *p = (char)((*p >= 'A' && *p <= 'Z') ? *p + 32 : *p);
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
        if (strstr(lower, parts[i]))
            hit = true;
    free(lower);
    return hit;
}

static int header_pair(struct loader *L, yaml_node_t *k, yaml_node_t *v,
                       void *arg)
{
    const char *name = (const char *)k->data.scalar.value;
    char why[CO_ERRLEN];
    char *val;
    char *line;

    if (co_cfg_check_header_name(name, why, sizeof(why)) < 0)
        return fail_at(L, k->start_mark, "%s", why);
    val = scalar_value(L, v, "a string");
    if (val == NULL)
        return -1;
    if (strpbrk(val, "\r\n")) {
        free(val);
        return fail_at(L, v->start_mark, "header value contains a newline");
    }
    if (secret_header(name)) {
        /* "Bearer TOKEN": the token is the secret, not the scheme word. */
        const char *secret = strchr(val, ' ');

        secret = secret ? secret + strspn(secret, " ") : val;
        co_secret_register(secret);
    }
    line = co_asprintf("%s: %s", name, val);
    co_strlist_add(arg, line);
    free(line);
    free(val);
    return 0;
}

static int set_headers(struct loader *L, const struct co_cfg_key *key,
                       yaml_node_t *v, void *field)
{
    (void)key;
    return each_pair(L, v, "a mapping of header names to values", header_pair,
                     field);
}

/* One pair of a string map: both non-empty strings (role names). */
static int map_pair(struct loader *L, yaml_node_t *k, yaml_node_t *v,
                    void *arg)
{
    char *val = scalar_value(L, v, "a string");

    if (val == NULL)
        return -1;
    if (*val == '\0' || *k->data.scalar.value == '\0') {
        yaml_mark_t m = *val != '\0' ? k->start_mark : v->start_mark;

        free(val);
        return fail_at(L, m, "empty name");
    }
    co_strlist_add(arg, (const char *)k->data.scalar.value);
    co_strlist_add(arg, val);
    free(val);
    return 0;
}

static int set_map(struct loader *L, const struct co_cfg_key *key,
                   yaml_node_t *v, void *field)
{
    (void)key;
    return each_pair(L, v, "a mapping of names to names", map_pair, field);
}

static const setter_fn setters[] = {
    [CO_CFG_STR] = set_str,           [CO_CFG_URL] = set_url,
    [CO_CFG_PATH] = set_path,         [CO_CFG_FILE] = set_path,
    [CO_CFG_ENUM] = set_enum,         [CO_CFG_BOOL] = set_bool,
    [CO_CFG_INT] = set_int,           [CO_CFG_INT64] = set_int,
    [CO_CFG_DURATION] = set_duration, [CO_CFG_LIST] = set_list,
    [CO_CFG_HEADERS] = set_headers,   [CO_CFG_MAP] = set_map,
};

/* ---- keyed mappings ---------------------------------------------------- */

struct keyed {
    const struct co_cfg_key *keys;
    void *base;
};

static int keyed_pair(struct loader *L, yaml_node_t *k, yaml_node_t *v,
                      void *arg)
{
    const struct keyed *kd = arg;
    const char *name = (const char *)k->data.scalar.value;
    const char *cands[32];
    size_t n = 0;

    for (const struct co_cfg_key *key = kd->keys; key->name; key++)
        if (strcmp(key->name, name) == 0)
            return setters[key->type](L, key, v, (char *)kd->base + key->off);
    for (const struct co_cfg_key *key = kd->keys; key->name && n < 32; key++)
        cands[n++] = key->name;
    return unknown_name(L, k->start_mark, "key", name, cands, n);
}

static int set_keys(struct loader *L, yaml_node_t *map,
                    const struct co_cfg_key *keys, void *base)
{
    struct keyed kd = {keys, base};

    return each_pair(L, map, "a mapping", keyed_pair, &kd);
}

/* Required keys are strings (char * fields) in every table. */
static int check_required(struct loader *L, const struct co_cfg_key *keys,
                          void *base, yaml_mark_t m)
{
    for (const struct co_cfg_key *key = keys; key->name; key++) {
        if (!(key->flags & CO_CFG_REQUIRED) ||
            *(char **)((char *)base + key->off) != NULL)
            continue;
        path_push(L, key->name);
        return fail_at(L, m, "required key is missing");
    }
    return 0;
}

/* ---- resources --------------------------------------------------------- */

static struct co_resource *add_resource(struct loader *L, enum co_kind kind,
                                        const char *name, yaml_mark_t m)
{
    struct co_config *c = L->cfg;
    struct co_resource *r;

    c->res = co_realloc(c->res, (c->nres + 1) * sizeof(*c->res));
    r = &c->res[c->nres++];
    memset(r, 0, sizeof(*r));
    r->kind = kind;
    r->name = co_strdup(name);
    r->line = (int)m.line + 1;
    r->col = (int)m.column + 1;
    r->tls_verify = true;
    r->ttl_max = -1;
    if (kind == CO_KIND_REDIS)
        r->queues = co_strdup("none");
    if (kind == CO_KIND_ENDPOINT || kind == CO_KIND_POSTGRES ||
        kind == CO_KIND_REDIS) { /* tls.cert's limits */
        r->cert_min_days = 14;
        r->tls_min_version = co_strdup("1.2");
    }
    if (kind == CO_KIND_ENDPOINT)
        r->method = co_strdup("GET");
    return r;
}

static int check_needs(struct loader *L, const struct co_resource *r,
                       yaml_mark_t m)
{
    switch (co_cfg_kind_need(r->kind)) {
    case CO_CFG_NEED_A_SIDE:
        if (r->source == NULL && r->target == NULL)
            return fail_at(L, m, "needs a source, a target or both");
        break;
    case CO_CFG_NEED_ACME_TARGET:
        if (r->expect_acme_cname && r->expect_cname == NULL) {
            path_push(L, "expect_acme_cname");
            return fail_at(L, m,
                           "needs expect_cname (the ACME target is "
                           "acme.<expect_cname>)");
        }
        break;
    case CO_CFG_NEED_NOTHING:
        break;
    }
    return 0;
}

/* outbound: NAME: host:port */
static int load_outbound(struct loader *L, struct co_resource *r,
                         yaml_node_t *v)
{
    char *s = scalar_value(L, v, "a host:port string");
    char why[CO_ERRLEN];

    if (s == NULL)
        return -1;
    if (co_cfg_split_hostport(s, &r->host, &r->port, why, sizeof(why)) < 0) {
        char *m = co_mask(s);
        fail_at(L, v->start_mark, "%s (got \"%.80s\")", why, m);
        free(m);
        free(s);
        return -1;
    }
    r->address = s;
    return 0;
}

static int resource_pair(struct loader *L, yaml_node_t *k, yaml_node_t *v,
                         void *arg)
{
    enum co_kind kind = *(const enum co_kind *)arg;
    const char *name = (const char *)k->data.scalar.value;
    const struct co_cfg_key *keys = kind_sections[kind].keys;
    char why[CO_ERRLEN];
    struct co_resource *r;

    if (*name == '\0')
        return fail_at(L, k->start_mark, "resource name must not be empty");
    if (kind == CO_KIND_DOMAIN &&
        co_cfg_check_hostname(name, why, sizeof(why)) < 0)
        return fail_at(L, k->start_mark, "%s", why);
    r = add_resource(L, kind, name, k->start_mark);
    if (kind == CO_KIND_OUTBOUND)
        return load_outbound(L, r, v);
    if (set_keys(L, v, keys, r) < 0 ||
        check_required(L, keys, r, k->start_mark) < 0)
        return -1;
    return check_needs(L, r, k->start_mark);
}

static int load_kind(struct loader *L, yaml_node_t *k, yaml_node_t *v,
                     enum co_kind kind)
{
    struct co_resource *r;

    (void)k;
    if (kind != CO_KIND_EGRESS)
        return each_pair(L, v, "a mapping of resource names", resource_pair,
                         &kind);
    /* egress is one mapping, not a map of named ones. */
    if (is_null(v))
        return 0;
    if (v->type != YAML_MAPPING_NODE)
        return fail_at(L, v->start_mark, "expected a mapping, got %s",
                       node_kind(v));
    r = add_resource(L, kind, "egress", k->start_mark);
    if (set_keys(L, v, egress_keys, r) < 0)
        return -1;
    return check_required(L, egress_keys, r, k->start_mark);
}

/* ---- checks: per-check overrides --------------------------------------- */

struct override_ctx {
    struct co_check_override *o;
    const struct co_check *check;
};

static int load_phases(struct loader *L, yaml_node_t *v,
                       struct co_check_override *o)
{
    static const char *const names[] = {"pre", "post", "drift", "all"};
    struct co_strlist l = {NULL, 0};
    int rc = 0;

    if (read_list(L, NULL, v, &l) < 0) {
        co_strlist_free(&l); /* the items read before the bad one */
        return -1;
    }
    if (l.n == 0)
        rc = fail_at(L, v->start_mark,
                     "empty list of phases (use `enabled: false` to turn "
                     "a check off)");
    o->has_phases = true;
    o->phases = 0;
    for (size_t i = 0; rc == 0 && i < l.n; i++) {
        int bits = co_phase_parse(l.v[i]);
        const char *sugg;
        char *m;

        if (bits >= 0) {
            o->phases |= (unsigned)bits;
            continue;
        }
        sugg = co_suggest(l.v[i], names, 4);
        m = co_mask(l.v[i]);
        rc = fail_at(L, v->start_mark,
                     "unknown phase \"%.40s\" (expected pre, post, drift or "
                     "all)%s%s%s",
                     m, sugg ? "; did you mean \"" : "", sugg ? sugg : "",
                     sugg ? "\"?" : "");
        free(m);
    }
    co_strlist_free(&l);
    return rc;
}

static const char *ptype_expect(enum co_ptype t)
{
    static const char *const words[] = {
        "a bool",     "an integer", "a number",
        "a duration", "a string",   "a list of strings",
    };
    return (unsigned)t < 6 ? words[t] : "a value";
}

static int load_param(struct loader *L, yaml_node_t *k, yaml_node_t *v,
                      struct co_check_override *o, const struct co_param *p)
{
    struct co_param_value *pv;
    char why[CO_ERRLEN];
    char *s;
    int rc = 0;

    /* `param: ~` keeps the declared default, as if it were not there. */
    if (is_null(v))
        return 0;
    o->params = co_realloc(o->params, (o->nparams + 1) * sizeof(*o->params));
    pv = &o->params[o->nparams++];
    memset(pv, 0, sizeof(*pv));
    pv->name = co_strdup(p->name);
    pv->line = (int)k->start_mark.line + 1;
    pv->col = (int)k->start_mark.column + 1;
    pv->value.type = p->type;
    if (p->type == CO_P_LIST)
        return read_list(L, NULL, v, &pv->value.list);
    s = scalar_value(L, v, ptype_expect(p->type));
    if (s == NULL)
        return -1;
    if (co_value_parse(p->type, s, &pv->value, why, sizeof(why)) < 0)
        rc = fail_at(L, v->start_mark, "%s", why);
    free(s);
    return rc;
}

static int override_pair(struct loader *L, yaml_node_t *k, yaml_node_t *v,
                         void *arg)
{
    struct override_ctx *ctx = arg;
    const char *name = (const char *)k->data.scalar.value;
    const struct co_param *p;
    const char *cands[64];
    size_t n = 0;

    if (strcmp(name, "phases") == 0)
        return load_phases(L, v, ctx->o);
    if (strcmp(name, "enabled") == 0) {
        static const struct co_cfg_key key = {
            "enabled", CO_CFG_BOOL, 0, 0, 0, 0, NULL, NULL, NULL};
        ctx->o->has_enabled = true;
        return set_bool(L, &key, v, &ctx->o->enabled);
    }
    p = co_check_param(ctx->check, name);
    if (p)
        return load_param(L, k, v, ctx->o, p);
    cands[n++] = "phases";
    cands[n++] = "enabled";
    for (p = ctx->check->params; p && p->name && n < 64; p++)
        cands[n++] = p->name;
    return unknown_name(L, k->start_mark, "parameter", name, cands, n);
}

static int check_pair(struct loader *L, yaml_node_t *k, yaml_node_t *v,
                      void *arg)
{
    const char *id = (const char *)k->data.scalar.value;
    const struct co_check *check = co_check_find(id);
    struct co_config *c = L->cfg;
    struct override_ctx ctx;

    (void)arg;
    if (check == NULL) {
        const char **ids = co_calloc(co_ncheck + 1, sizeof(*ids));
        int rc;

        for (size_t i = 0; i < co_ncheck; i++)
            ids[i] = co_checks[i]->id;
        const char *sugg = co_suggest(id, ids, co_ncheck);

        /* Twenty-odd ids make a poor message: point at the list. */
        if (sugg)
            rc = fail_at(L, k->start_mark,
                         "unknown check (did you mean \"%s\"?)", sugg);
        else
            rc = fail_at(L, k->start_mark,
                         "unknown check (`cutover list` shows them all)");
        free(ids);
        return rc;
    }
    c->overrides =
        co_realloc(c->overrides, (c->noverrides + 1) * sizeof(*c->overrides));
    ctx.o = &c->overrides[c->noverrides++];
    memset(ctx.o, 0, sizeof(*ctx.o));
    ctx.o->id = co_strdup(check->id);
    ctx.o->line = (int)k->start_mark.line + 1;
    ctx.o->col = (int)k->start_mark.column + 1;
    ctx.check = check;
    return each_pair(L, v, "a mapping of check options", override_pair, &ctx);
}

/* ---- top level ---------------------------------------------------------- */

static int load_version(struct loader *L, yaml_node_t *k, yaml_node_t *v)
{
    char *s = scalar_value(L, v, "an integer");
    char why[CO_ERRLEN];
    long long n;
    int rc = 0;

    (void)k;
    if (s == NULL)
        return -1;
    if (co_cfg_parse_int(s, 0, 1000000, &n, why, sizeof(why)) < 0)
        rc = fail_at(L, v->start_mark, "%s", why);
    else if (n != 1)
        rc = fail_at(L, v->start_mark,
                     "unsupported version %lld (this cutover reads "
                     "version 1)",
                     n);
    else
        L->cfg->version = (int)n;
    free(s);
    return rc;
}

static int load_settings(struct loader *L, yaml_node_t *k, yaml_node_t *v)
{
    (void)k;
    return set_keys(L, v, co_cfg_settings_keys, &L->cfg->settings);
}

static int load_checks(struct loader *L, yaml_node_t *k, yaml_node_t *v)
{
    (void)k;
    return each_pair(L, v, "a mapping of check ids", check_pair, NULL);
}

/* The top-level sections. Resource sections carry their kind. */
static const struct section {
    const char *name;
    int (*load)(struct loader *L, yaml_node_t *k, yaml_node_t *v);
    int kind; /* -1: not a resource section */
} sections[] = {
    {"version", load_version, -1},
    {"settings", load_settings, -1},
    {"postgres", NULL, CO_KIND_POSTGRES},
    {"redis", NULL, CO_KIND_REDIS},
    {"domains", NULL, CO_KIND_DOMAIN},
    {"endpoints", NULL, CO_KIND_ENDPOINT},
    {"outbound", NULL, CO_KIND_OUTBOUND},
    {"egress", NULL, CO_KIND_EGRESS},
    {"env", NULL, CO_KIND_ENV},
    {"checks", load_checks, -1},
};
#define NSECTION (sizeof(sections) / sizeof(sections[0]))

const char *co_cfg_toplevel_name(size_t i)
{
    return i < NSECTION ? sections[i].name : NULL;
}

static int section_pair(struct loader *L, yaml_node_t *k, yaml_node_t *v,
                        void *arg)
{
    const char *name = (const char *)k->data.scalar.value;
    const char *cands[NSECTION];

    (void)arg;
    for (size_t i = 0; i < NSECTION; i++) {
        if (strcmp(sections[i].name, name) != 0)
            continue;
        if (sections[i].load)
            return sections[i].load(L, k, v);
        return load_kind(L, k, v, (enum co_kind)sections[i].kind);
    }
    for (size_t i = 0; i < NSECTION; i++)
        cands[i] = sections[i].name;
    return unknown_name(L, k->start_mark, "key", name, cands, NSECTION);
}

/* ---- documents and errors from libyaml ---------------------------------- */

/* Reader errors (bad UTF-8, control characters) come with a byte offset
 * rather than a mark: turn it into a line and column. */
static yaml_mark_t offset_mark(const struct loader *L, size_t off)
{
    yaml_mark_t m = {0, 0, 0};

    for (size_t i = 0; i < off && i < L->len; i++) {
        if (L->buf[i] == '\n') {
            m.line++;
            m.column = 0;
        } else if (((unsigned char)L->buf[i] & 0xC0) != 0x80) {
            m.column++;
        }
    }
    m.index = off;
    return m;
}

static void syntax_error(struct loader *L, const yaml_parser_t *p)
{
    yaml_mark_t m = p->problem_mark;
    const char *problem = p->problem ? p->problem : "cannot parse";

    if (p->error == YAML_MEMORY_ERROR)
        problem = "out of memory";
    if (p->error == YAML_READER_ERROR)
        m = offset_mark(L, p->problem_offset);
    if (p->context)
        fail_at(L, m, "syntax error: %s (%s at line %zu, column %zu)", problem,
                p->context, p->context_mark.line + 1,
                p->context_mark.column + 1);
    else
        fail_at(L, m, "syntax error: %s", problem);
}

/* Two documents in one file ("---" twice) are a mistake worth naming. */
static int only_one_document(struct loader *L, yaml_parser_t *p)
{
    yaml_document_t more;
    yaml_node_t *root;
    int rc = 0;

    if (!yaml_parser_load(p, &more)) {
        syntax_error(L, p);
        return -1;
    }
    root = yaml_document_get_root_node(&more);
    if (root)
        rc = fail_at(L, root->start_mark, "only one YAML document is allowed");
    yaml_document_delete(&more);
    return rc;
}

static void load_document(struct loader *L)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_node_t *root;

    if (!yaml_parser_initialize(&parser)) {
        snprintf(L->err, sizeof(L->err), "%s: out of memory", L->name);
        L->failed = true;
        return;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)L->buf,
                                 L->len);
    if (!yaml_parser_load(&parser, &doc)) {
        syntax_error(L, &parser);
        yaml_parser_delete(&parser);
        return;
    }
    L->doc = &doc;
    root = yaml_document_get_root_node(&doc);
    if (only_one_document(L, &parser) == 0 && root)
        each_pair(L, root, "a mapping of sections at the top level",
                  section_pair, NULL);
    L->doc = NULL;
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
}

/* ---- the public API ------------------------------------------------------
 */

static struct co_config *config_new(const char *name)
{
    struct co_config *c = co_calloc(1, sizeof(*c));
    const char *slash = strrchr(name, '/');

    c->path = co_strdup(name);
    if (slash == NULL)
        c->dir = co_strdup(".");
    else if (slash == name)
        c->dir = co_strdup("/");
    else
        c->dir = co_strndup(name, (size_t)(slash - name));
    c->version = 1;
    c->settings.jobs = 4;
    c->settings.timeout_ms = 30000;
    c->settings.statement_timeout_ms = 60000;
    return c;
}

/* Resources are grouped by kind in enum order (the order of the config
 * sections in doc/DESIGN.md), keeping config order inside a kind. */
static void group_by_kind(struct co_config *c)
{
    struct co_resource *sorted;
    size_t n = 0;

    if (c->nres < 2)
        return;
    sorted = co_calloc(c->nres, sizeof(*sorted));
    for (int k = 0; k < CO_KIND__COUNT; k++)
        for (size_t i = 0; i < c->nres; i++)
            if ((int)c->res[i].kind == k)
                sorted[n++] = c->res[i];
    free(c->res);
    c->res = sorted;
}

static void set_err(const char *msg, char *err, size_t errlen)
{
    char *m;

    if (err == NULL || errlen == 0)
        return;
    /* The last line of defence: nothing secret leaves in a message. */
    m = co_mask(msg);
    snprintf(err, errlen, "%s", m);
    free(m);
}

static struct co_config *load_into(struct co_config *c, const char *buf,
                                   size_t len, char *err, size_t errlen)
{
    struct loader L;

    memset(&L, 0, sizeof(L));
    L.name = c->path;
    L.buf = buf;
    L.len = len;
    L.cfg = c;
    co_buf_init(&L.path);
    load_document(&L);
    co_buf_free(&L.path);
    group_by_kind(c);
    set_err(L.failed ? L.err : "", err, errlen);
    return c;
}

struct co_config *co_config_load_buf(const char *name, const char *buf,
                                     size_t len, char *err, size_t errlen)
{
    return load_into(config_new(name ? name : "<config>"), buf, len, err,
                     errlen);
}

struct co_config *co_config_load(const char *path, char *err, size_t errlen)
{
    struct co_config *c = config_new(path);
    struct co_buf b;
    char chunk[8192];
    size_t n;
    FILE *f = fopen(path, "rb");
    struct co_config *r;

    if (f == NULL) {
        char *msg = co_asprintf("%s: cannot open: %s", path, strerror(errno));
        set_err(msg, err, errlen);
        free(msg);
        return c;
    }
    co_buf_init(&b);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 &&
           b.len <= CONFIG_MAX_BYTES)
        co_buf_add(&b, chunk, n);
    if (ferror(f) || b.len > CONFIG_MAX_BYTES) {
        char *msg =
            co_asprintf("%s: cannot read: %s", path,
                        ferror(f) ? strerror(errno) : "file is too large");
        set_err(msg, err, errlen);
        free(msg);
        fclose(f);
        co_buf_free(&b);
        return c;
    }
    fclose(f);
    r = load_into(c, b.s ? b.s : "", b.len, err, errlen);
    co_buf_free(&b);
    return r;
}

static void resource_free(struct co_resource *r)
{
    char **strings[] = {
        &r->name,       &r->source,       &r->target, &r->ca_file,
        &r->queues,     &r->expect_cname, &r->url,    &r->tls_min_version,
        &r->connect_to, &r->expect_body,  &r->method, &r->address,
        &r->host,
    };
    struct co_strlist *lists[] = {
        &r->schemas,          &r->exclude, &r->patterns,     &r->resolvers,
        &r->expect_addresses, &r->headers, &r->expect_cidrs, &r->role_map,
    };

    for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
        free(*strings[i]);
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
        co_strlist_free(lists[i]);
}

static void override_free(struct co_check_override *o)
{
    free(o->id);
    for (size_t i = 0; i < o->nparams; i++) {
        free(o->params[i].name);
        co_value_free(&o->params[i].value);
    }
    free(o->params);
}

void co_config_free(struct co_config *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->nres; i++)
        resource_free(&c->res[i]);
    free(c->res);
    for (size_t i = 0; i < c->noverrides; i++)
        override_free(&c->overrides[i]);
    free(c->overrides);
    co_strlist_free(&c->settings.resolvers);
    free(c->path);
    free(c->dir);
    free(c);
}

const struct co_check_override *co_config_override(const struct co_config *c,
                                                   const char *check_id)
{
    for (size_t i = 0; c && check_id && i < c->noverrides; i++)
        if (strcmp(c->overrides[i].id, check_id) == 0)
            return &c->overrides[i];
    return NULL;
}
