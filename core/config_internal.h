/*
 * config_internal.h - what the three parts of the config loader share:
 * the key tables (config.c owns them; config_dump.c walks the same
 * tables to print a resolved config), and the small validators of
 * config_value.c (addresses, CIDRs, host names), which are pure
 * functions over strings so tests can call them directly.
 *
 * Private to core/: checks and reporters read `struct co_config`, never
 * these tables.
 */
#ifndef CUTOVER_CONFIG_INTERNAL_H
#define CUTOVER_CONFIG_INTERNAL_H

#include <stddef.h>

#include "cutover/config.h"

/* How a key's value is read and where it is stored (the field type). */
enum co_cfg_type {
    CO_CFG_STR,      /* char *; "" leaves it unset */
    CO_CFG_URL,      /* char *; scheme in choices; secrets registered */
    CO_CFG_PATH,     /* char *; resolved against the config's directory */
    CO_CFG_FILE,     /* as CO_CFG_PATH, and must be a readable file */
    CO_CFG_ENUM,     /* char *; one of choices */
    CO_CFG_BOOL,     /* bool */
    CO_CFG_INT,      /* int, in [min, max] */
    CO_CFG_INT64,    /* int64_t, in [min, max] */
    CO_CFG_DURATION, /* int64_t milliseconds, in [min, max] */
    CO_CFG_LIST,     /* struct co_strlist; a scalar is a comma list */
    CO_CFG_HEADERS,  /* struct co_strlist of "Name: value", from a map */
    CO_CFG_MAP       /* struct co_strlist of key, value pairs, from a map */
};

/* Extra validation of one string (a scalar or one list item). Returns 0,
 * or -1 with a reason in why (which must not echo the value). */
typedef int (*co_cfg_check_fn)(const char *s, char *why, size_t whylen);

#define CO_CFG_REQUIRED 1u

/* One row of a key table, nginx style: the name, how to read it and the
 * offset of the field it fills. Tables end with a zeroed row. */
struct co_cfg_key {
    const char *name;
    enum co_cfg_type type;
    size_t off;
    unsigned flags;             /* CO_CFG_REQUIRED */
    long long min, max;         /* numeric ranges (durations in ms) */
    const char *const *choices; /* enum values, or URL schemes */
    co_cfg_check_fn check;      /* per value or per list item */
    const char *desc; /* one sentence for `cutover config --schema` */
};

/* What a resource needs beyond its keys' own rules. */
enum co_cfg_need {
    CO_CFG_NEED_NOTHING,
    CO_CFG_NEED_A_SIDE,      /* source, target or both */
    CO_CFG_NEED_ACME_TARGET, /* expect_acme_cname needs expect_cname */
};

/* The keys of the `settings:` section (fields of struct co_settings). */
extern const struct co_cfg_key co_cfg_settings_keys[];
/* The keys of a resource of kind k (fields of struct co_resource), NULL
 * for outbound, whose value is a plain "host:port". */
const struct co_cfg_key *co_cfg_kind_keys(enum co_kind k);
/* The top-level section of kind k: "postgres", "domains", ... */
const char *co_cfg_section_name(enum co_kind k);
/* What a resource of kind k needs beyond its keys, and one sentence
 * about its section (both for the schema, config_schema.c). */
enum co_cfg_need co_cfg_kind_need(enum co_kind k);
const char *co_cfg_section_desc(enum co_kind k);

/* The i-th top-level key the loader accepts ("version", "settings",
 * the resource sections, "checks"), NULL past the last one. */
const char *co_cfg_toplevel_name(size_t i);

/* Validators (config_value.c). Each returns 0 or -1 with a reason. */
int co_cfg_check_ip(const char *s, char *why, size_t whylen);
int co_cfg_check_cidr(const char *s, char *why, size_t whylen);
/* "ip", "ip:port" or "[v6]:port" */
int co_cfg_check_resolver(const char *s, char *why, size_t whylen);
int co_cfg_check_hostname(const char *s, char *why, size_t whylen);
/* "host" or "host:port" / "[v6]:port" */
int co_cfg_check_connect_to(const char *s, char *why, size_t whylen);
int co_cfg_check_header_name(const char *s, char *why, size_t whylen);
/* Splits "host:port" or "[v6]:port" (port required, 1..65535). *host is
 * allocated on success. */
int co_cfg_split_hostport(const char *s, char **host, int *port, char *why,
                          size_t whylen);
/* Parses a strict decimal integer in [min, max]. */
int co_cfg_parse_int(const char *s, long long min, long long max,
                     long long *out, char *why, size_t whylen);

#endif
