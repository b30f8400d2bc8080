/*
 * config.h - the resolved configuration (cutover.yml).
 *
 * The loader (core/config.c) reads YAML with libyaml, interpolates
 * ${VAR} and ${VAR:-default} in every scalar, validates every key against
 * tables of known keys (unknown keys are errors with a "did you mean"),
 * parses durations, URLs and per-check overrides, and registers every
 * secret it meets with co_secret_register(). A config that loaded is
 * complete: checks never parse config text themselves.
 *
 * Errors name file, line, column and key:
 *   cutover.yml:12:5: postgres.main.sorce: unknown key (did you mean
 * "source"?)
 */
#ifndef CUTOVER_CONFIG_H
#define CUTOVER_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cutover/util.h"

/* Resource kinds. The order is the order of the config sections. */
enum co_kind {
    CO_KIND_POSTGRES,
    CO_KIND_REDIS,
    CO_KIND_DOMAIN,
    CO_KIND_ENDPOINT,
    CO_KIND_OUTBOUND,
    CO_KIND_EGRESS,
    CO_KIND_ENV,
    CO_KIND__COUNT
};

/* "postgres", "redis", "domain", "endpoint", "outbound", "egress", "env" */
const char *co_kind_name(enum co_kind k);

/* Phases, as bits. */
enum co_phase {
    CO_PRE = 1u << 0,
    CO_POST = 1u << 1,
    CO_DRIFT = 1u << 2,
    CO_ALL = CO_PRE | CO_POST | CO_DRIFT
};
/* "pre", "post", "drift", "all"; -1 when unknown. */
int co_phase_parse(const char *s);
const char *co_phase_name(unsigned phase); /* one bit, or CO_ALL */
/* "pre, post" style list of the bits set, into out. */
void co_phases_format(unsigned phases, char *out, size_t outlen);

/* Typed values: check params and per-check overrides. */
enum co_ptype {
    CO_P_BOOL,
    CO_P_INT,
    CO_P_FLOAT,
    CO_P_DURATION, /* milliseconds in .i */
    CO_P_STRING,
    CO_P_LIST /* list of strings */
};
const char *co_ptype_name(enum co_ptype t); /* "bool", "int", ... */

struct co_value {
    enum co_ptype type;
    bool b;
    int64_t i; /* CO_P_INT, CO_P_DURATION (ms) */
    double f;
    char *s;
    struct co_strlist list;
};
/* Parses text (a YAML scalar, or for CO_P_LIST a comma-separated list)
 * into v. Returns 0, or -1 with a reason in err. */
int co_value_parse(enum co_ptype t, const char *text, struct co_value *v,
                   char *err, size_t errlen);
void co_value_free(struct co_value *v);

/* One resource: a named {source, target} pair of one kind. Fields that do
 * not apply to the kind stay at their zero/unset values. Strings are
 * owned, already interpolated; URLs are unmasked (mask before printing). */
struct co_resource {
    enum co_kind kind;
    char *name;
    int line, col; /* where the resource was declared */

    char *source; /* postgres/redis URL, env file path; NULL if absent */
    char *target;

    /* TLS, for postgres, redis, endpoints */
    char *ca_file;   /* resolved against the config file's directory */
    bool tls_verify; /* default true */
    bool tls;        /* also run tls.cert against the database hosts */

    /* postgres */
    struct co_strlist schemas; /* empty: every non-system schema */
    struct co_strlist exclude; /* qualified names or globs */
    int64_t quiesce_window_ms; /* 0: pg.quiesced off */
    /* role_map: {SOURCE_ROLE: TARGET_ROLE}, as pairs: v[2i] a source
     * role, v[2i+1] the target role it became (pg.schema's owners and
     * grants are compared against the mapped names). */
    struct co_strlist role_map;

    /* redis */
    char *queues; /* sidekiq | resque | celery | bullmq | rq | none */
    struct co_strlist patterns;

    /* domains */
    int64_t ttl_max; /* seconds; -1 unset */
    char *expect_cname;
    struct co_strlist resolvers; /* "ip" or "ip:port" */
    bool authoritative;
    struct co_strlist expect_addresses;
    bool expect_acme_cname;

    /* endpoints; egress uses url */
    char *url;
    int expect_status;     /* 0: any 2xx/3xx */
    int cert_min_days;     /* default 14 */
    char *tls_min_version; /* "1.2" default */
    char *connect_to;      /* host[:port] */
    char *expect_body;
    char *method;              /* default GET */
    struct co_strlist headers; /* "Name: value" */
    bool follow_redirects;

    /* outbound */
    char *address; /* host:port as written */
    char *host;    /* split from address */
    int port;

    /* egress */
    struct co_strlist expect_cidrs;
};

/* A per-check override from the `checks:` section. */
struct co_param_value {
    char *name;
    struct co_value value;
    int line, col;
};
struct co_check_override {
    char *id;
    int line, col;
    bool has_phases;
    unsigned phases;
    bool has_enabled;
    bool enabled;
    struct co_param_value *params;
    size_t nparams;
};

struct co_settings {
    int jobs;                     /* default 4 */
    int64_t timeout_ms;           /* per task; default 30s */
    int64_t statement_timeout_ms; /* default 60s */
    struct co_strlist resolvers;  /* empty: the system's */
};

struct co_config {
    char *path; /* as given */
    char *dir;  /* its directory, for relative paths */
    int version;
    struct co_settings settings;
    struct co_resource *res; /* in config order, grouped by kind */
    size_t nres;
    struct co_check_override *overrides;
    size_t noverrides;
};

/* Loads and validates path. Returns NULL when out of memory; otherwise a
 * config, which is in error when *err is non-empty ("file:line:col: key:
 * reason"). The caller frees it with co_config_free either way. Checks
 * are validated against the registry (co_registry()). */
struct co_config *co_config_load(const char *path, char *err, size_t errlen);
/* Same, from a buffer; `name` is used in messages. */
struct co_config *co_config_load_buf(const char *name, const char *buf,
                                     size_t len, char *err, size_t errlen);
void co_config_free(struct co_config *c);

/* Prints the resolved config as YAML with every secret masked. */
int co_config_dump(const struct co_config *c, FILE *out);
/* Prints the JSON Schema (draft 2020-12) of cutover.yml, generated from
 * the loader's key tables and the check registry. Returns 0 or -1. */
int co_config_schema_write(FILE *out);

/* Lookups. NULL when absent. */
const struct co_check_override *co_config_override(const struct co_config *c,
                                                   const char *check_id);

/* Expands ${VAR} and ${VAR:-default} in s using getenv. Returns an
 * allocated string, or NULL with a reason in err ("${VAR} is not set").
 * "$$" is a literal '$'. */
char *co_interpolate(const char *s, char *err, size_t errlen);

#endif
