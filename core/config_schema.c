/*
 * config_schema.c - `cutover config --schema`: a JSON Schema (draft
 * 2020-12) of cutover.yml for editors (yaml-language-server) and CI
 * linters.
 *
 * Nothing here lists a key. The schema is generated from the tables the
 * loader itself walks: the key tables of config.c (name, type, range,
 * choices, required flag, description), the resource sections and what
 * each needs (co_cfg_kind_need), the top-level sections, and for
 * `checks:` the check descriptors of the registry with their declared
 * params. A key added to a table is in the schema with no edit here; a
 * key type added to enum co_cfg_type without a case below makes the
 * generator fail (and its test with it) rather than guess.
 *
 * The schema describes the file as written, before ${VAR} interpolation:
 * wherever the loader interpolates, a string holding a ${VAR} reference
 * is accepted in place of the typed value. A few rules stay the loader's
 * (a domain name's syntax, an address in a list, a file that must
 * exist); the schema is a first line, `cutover config` the judge.
 */
#include "config_internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cutover/check.h"

#define SCHEMA_DRAFT "https://json-schema.org/draft/2020-12/schema"

/* A string that holds a ${VAR} or ${VAR:-default} reference. */
#define INTERP_RE "\\$\\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\\}"
/* 500ms, 30s, 5m, 1h, 1m30s, or a bare number of seconds. */
#define DURATION_RE "^([0-9]+|([0-9]+(ms|s|m|h))+)$"
/* RFC 9110 token: an HTTP header name. */
#define HEADER_RE "^[-!#$%&'*+.^_`|~0-9A-Za-z]+$"
/* host:port or [v6]:port, or one that a ${VAR} fills in. */
#define HOSTPORT_RE "^(\\[[0-9A-Fa-f:.]+\\]|[^\\s:\\[\\]]+):[0-9]{1,5}$"

static json_t *ref(const char *def)
{
    char *p = co_asprintf("#/$defs/%s", def);
    json_t *o = json_pack("{s:s}", "$ref", p);

    free(p);
    return o;
}

/* {"anyOf": [a, b]} (takes a and b). */
static json_t *any_of2(json_t *a, json_t *b)
{
    return json_pack("{s:[o,o]}", "anyOf", a, b);
}

/* The loader's booleans: true/false/yes/no/on/off, any case. */
static char *bool_words_re(void)
{
    static const char *const words[] = {"true", "false", "yes",
                                        "no",   "on",    "off"};
    struct co_buf b;

    co_buf_init(&b);
    co_buf_puts(&b, "^(");
    for (size_t i = 0; i < 6; i++) {
        if (i)
            co_buf_puts(&b, "|");
        for (const char *c = words[i]; *c; c++)
            co_buf_addf(&b, "[%c%c]", *c, *c - 'a' + 'A');
    }
    co_buf_puts(&b, ")$");
    return co_buf_take(&b);
}

static json_t *defs(void)
{
    char *bools = bool_words_re();
    json_t *d = json_pack(
        "{s:{s:s,s:s,s:s}, s:{s:[{s:s},{s:s,s:s}]},"
        " s:{s:[{s:s,s:i},{s:s,s:s},{s:s}]},"
        " s:{s:[{s:s,s:{s:s,s:i}},{s:s},{s:s}]}}",
        "interpolated", "type", "string", "pattern", INTERP_RE, "description",
        "A string with a ${VAR} or ${VAR:-default} reference, expanded from "
        "the environment when the config is loaded.",
        "bool", "anyOf", "type", "boolean", "type", "string", "pattern", bools,
        /* a bare number is seconds */
        "duration", "anyOf", "type", "integer", "minimum", 0, "type", "string",
        "pattern", DURATION_RE, "$ref", "#/$defs/interpolated",
        /* a scalar is a comma-separated list (what a ${VAR} can fill) */
        "list", "anyOf", "type", "array", "items", "type", "string",
        "minLength", 1, "type", "string", "type", "null");

    free(bools);
    return d;
}

/* The description of a key, with what the loader checks beyond it. */
static json_t *describe(const struct co_cfg_key *k)
{
    struct co_buf b;
    char lo[32], hi[32];
    json_t *d;

    co_buf_init(&b);
    co_buf_puts(&b, k->desc ? k->desc : "");
    if (k->type == CO_CFG_DURATION) {
        co_duration_format(k->min, lo, sizeof(lo));
        co_duration_format(k->max, hi, sizeof(hi));
        co_buf_addf(&b, " Range: %s..%s.", lo, hi);
    }
    if (k->type == CO_CFG_FILE)
        co_buf_puts(&b, " The file must exist and be readable.");
    d = json_string(b.s ? b.s : "");
    co_buf_free(&b);
    return d;
}

/* An enum's values; one that reads as a YAML number ("1.2") is also
 * accepted as that number, which is what an unquoted 1.2 becomes. */
static json_t *enum_values(const char *const *choices)
{
    json_t *a = json_array();

    for (size_t i = 0; choices[i]; i++) {
        char *end;
        double d = strtod(choices[i], &end);

        json_array_append_new(a, json_string(choices[i]));
        if (end != choices[i] && *end == '\0')
            json_array_append_new(a, json_real(d));
    }
    return a;
}

/* "^(postgres|postgresql)://" */
static json_t *url_schema(const char *const *schemes)
{
    struct co_buf b;
    json_t *o;

    co_buf_init(&b);
    co_buf_puts(&b, "^(");
    for (size_t i = 0; schemes[i]; i++)
        co_buf_addf(&b, "%s%s", i ? "|" : "", schemes[i]);
    co_buf_puts(&b, ")://");
    o = any_of2(json_pack("{s:s,s:s}", "type", "string", "pattern", b.s),
                ref("interpolated"));
    co_buf_free(&b);
    return o;
}

/* The schema of one key's value, or NULL for a type this file does not
 * know (a programming error the schema test catches). */
static json_t *key_value(const struct co_cfg_key *k)
{
    switch (k->type) {
    case CO_CFG_STR:
        /* Any scalar: the loader reads its text. */
        return json_pack("{s:[s,s,s,s]}", "type", "string", "number",
                         "boolean", "null");
    case CO_CFG_PATH:
    case CO_CFG_FILE:
        return json_pack("{s:[s,s]}", "type", "string", "null");
    case CO_CFG_URL:
        return url_schema(k->choices);
    case CO_CFG_ENUM:
        return any_of2(json_pack("{s:o}", "enum", enum_values(k->choices)),
                       ref("interpolated"));
    case CO_CFG_BOOL:
        return ref("bool");
    case CO_CFG_INT:
    case CO_CFG_INT64:
        return any_of2(json_pack("{s:s,s:I,s:I}", "type", "integer", "minimum",
                                 (json_int_t)k->min, "maximum",
                                 (json_int_t)k->max),
                       ref("interpolated"));
    case CO_CFG_DURATION:
        return ref("duration");
    case CO_CFG_LIST:
        return ref("list");
    case CO_CFG_HEADERS:
        return json_pack("{s:[s,s],s:{s:s},s:{s:[s,s,s]}}", "type", "object",
                         "null", "propertyNames", "pattern", HEADER_RE,
                         "additionalProperties", "type", "string", "number",
                         "boolean");
    case CO_CFG_MAP: /* role_map: names to names */
        return json_pack("{s:[s,s],s:{s:i},s:{s:s,s:i}}", "type", "object",
                         "null", "propertyNames", "minLength", 1,
                         "additionalProperties", "type", "string", "minLength",
                         1);
    }
    return NULL;
}

/* A mapping of keys: properties, required keys, nothing else. */
static json_t *keyed_object(const struct co_cfg_key *keys, int *bad)
{
    json_t *props = json_object(), *req = json_array();
    json_t *o;

    for (const struct co_cfg_key *k = keys; k->name; k++) {
        json_t *v = key_value(k);

        if (v == NULL) {
            *bad = 1;
            continue;
        }
        /* A $ref with siblings is fine in 2020-12. */
        json_object_set_new(v, "description", describe(k));
        json_object_set_new(props, k->name, v);
        if (k->flags & CO_CFG_REQUIRED)
            json_array_append_new(req, json_string(k->name));
    }
    o = json_pack("{s:s,s:b,s:o}", "type", "object", "additionalProperties", 0,
                  "properties", props);
    if (json_array_size(req))
        json_object_set_new(o, "required", req);
    else
        json_decref(req);
    return o;
}

static void add_need(json_t *o, enum co_cfg_need need)
{
    switch (need) {
    case CO_CFG_NEED_A_SIDE:
        json_object_set_new(o, "anyOf",
                            json_pack("[{s:[s]},{s:[s]}]", "required",
                                      "source", "required", "target"));
        break;
    case CO_CFG_NEED_ACME_TARGET:
        /* Without expect_cname, expect_acme_cname cannot be true: said
         * of expect_acme_cname, the key the loader names. */
        json_object_set_new(
            o, "if",
            json_pack("{s:{s:[s]}}", "not", "required", "expect_cname"));
        json_object_set_new(o, "then",
                            json_pack("{s:{s:{s:{s:b},s:s}}}", "properties",
                                      "expect_acme_cname", "not", "const", 1,
                                      "description",
                                      "needs expect_cname (the ACME target is "
                                      "acme.<expect_cname>)"));
        break;
    case CO_CFG_NEED_NOTHING:
        break;
    }
}

/* One resource section: a map of named resources (egress: one). */
static json_t *kind_section(enum co_kind kind, int *bad)
{
    const struct co_cfg_key *keys = co_cfg_kind_keys(kind);
    json_t *res, *o;

    if (keys == NULL) /* outbound: NAME: host:port */
        res = any_of2(
            json_pack("{s:s,s:s}", "type", "string", "pattern", HOSTPORT_RE),
            ref("interpolated"));
    else
        res = keyed_object(keys, bad);
    if (keys)
        add_need(res, co_cfg_kind_need(kind));
    if (kind == CO_KIND_EGRESS) {
        o = res;
    } else {
        o = json_pack("{s:[s,s],s:{s:i},s:o}", "type", "object", "null",
                      "propertyNames", "minLength", 1, "additionalProperties",
                      res);
    }
    json_object_set_new(o, "description",
                        json_string(co_cfg_section_desc(kind)));
    return o;
}

/* A declared default, as the typed value the config would hold. */
static json_t *param_default(const struct co_param *p)
{
    struct co_value v;
    char err[CO_ERRLEN];
    json_t *d = NULL;

    if (p->def == NULL ||
        co_value_parse(p->type, p->def, &v, err, sizeof(err)) < 0)
        return NULL;
    switch (p->type) {
    case CO_P_BOOL:
        d = json_boolean(v.b);
        break;
    case CO_P_INT:
        d = json_integer((json_int_t)v.i);
        break;
    case CO_P_FLOAT:
        d = json_real(v.f);
        break;
    case CO_P_DURATION:
    case CO_P_STRING:
        d = json_string(p->def);
        break;
    case CO_P_LIST:
        d = json_array();
        for (size_t i = 0; i < v.list.n; i++)
            json_array_append_new(d, json_string(v.list.v[i]));
        break;
    }
    co_value_free(&v);
    return d;
}

static json_t *param_value(const struct co_param *p)
{
    json_t *o, *d;

    switch (p->type) {
    case CO_P_BOOL:
        o = ref("bool");
        break;
    case CO_P_INT:
        o = any_of2(json_pack("{s:s}", "type", "integer"),
                    ref("interpolated"));
        break;
    case CO_P_FLOAT:
        o = any_of2(json_pack("{s:s}", "type", "number"), ref("interpolated"));
        break;
    case CO_P_DURATION:
        o = ref("duration");
        break;
    case CO_P_LIST:
        o = ref("list");
        break;
    case CO_P_STRING:
    default:
        o = json_pack("{s:[s,s,s]}", "type", "string", "number", "boolean");
        break;
    }
    json_object_set_new(o, "description", json_string(p->help ? p->help : ""));
    d = param_default(p);
    if (d)
        json_object_set_new(o, "default", d);
    return o;
}

/* `checks:`: one entry per registered check, with its params. */
static json_t *checks_section(void)
{
    json_t *props = json_object();

    for (size_t i = 0; i < co_ncheck; i++) {
        const struct co_check *c = co_checks[i];
        json_t *cp = json_pack(
            "{s:{s:[{s:s,s:{s:[s,s,s,s]},s:i},{s:s}],s:s},"
            " s:o}",
            "phases", "anyOf", "type", "array", "items", "enum", "pre", "post",
            "drift", "all", "minItems", 1, "$ref", "#/$defs/interpolated",
            "description", "Phases the check runs in, replacing its defaults.",
            "enabled", ref("bool"));

        json_object_set_new(json_object_get(cp, "enabled"), "description",
                            json_string("false turns the check off."));
        for (const struct co_param *p = c->params; p && p->name; p++)
            json_object_set_new(cp, p->name, param_value(p));
        json_object_set_new(props, c->id,
                            json_pack("{s:[s,s],s:b,s:o,s:s}", "type",
                                      "object", "null", "additionalProperties",
                                      0, "properties", cp, "description",
                                      c->summary));
    }
    return json_pack("{s:[s,s],s:b,s:o,s:s}", "type", "object", "null",
                     "additionalProperties", 0, "properties", props,
                     "description",
                     "Per-check overrides, by check id (`cutover list "
                     "--verbose` shows each check's params).");
}

/* The value of top-level key name, or NULL when this file does not know
 * it (a section added to the loader without a schema). */
static json_t *toplevel(const char *name, int *bad)
{
    if (strcmp(name, "version") == 0)
        return json_pack("{s:[i,s],s:s}", "enum", 1, "1", "description",
                         "Config format version; 1.");
    if (strcmp(name, "settings") == 0) {
        json_t *o = keyed_object(co_cfg_settings_keys, bad);

        json_object_set_new(o, "type", json_pack("[s,s]", "object", "null"));
        json_object_set_new(o, "description",
                            json_string("Run-wide settings."));
        return o;
    }
    if (strcmp(name, "checks") == 0)
        return checks_section();
    for (int k = 0; k < CO_KIND__COUNT; k++)
        if (strcmp(co_cfg_section_name((enum co_kind)k), name) == 0)
            return kind_section((enum co_kind)k, bad);
    return NULL;
}

static json_t *co_config_schema(void)
{
    json_t *props = json_object();
    json_t *root;
    int bad = 0;

    for (size_t i = 0; co_cfg_toplevel_name(i); i++) {
        const char *name = co_cfg_toplevel_name(i);
        json_t *v = toplevel(name, &bad);

        if (v == NULL)
            bad = 1;
        else
            json_object_set_new(props, name, v);
    }
    root = json_pack("{s:s,s:s,s:s,s:s,s:b,s:o,s:o}", "$schema", SCHEMA_DRAFT,
                     "title", "cutover.yml", "description",
                     "Configuration of cutover, the Heroku -> Aptible "
                     "migration checker. Generated by `cutover config "
                     "--schema` from the tables the config loader uses.",
                     "type", "object", "additionalProperties", 0, "properties",
                     props, "$defs", defs());
    if (bad) {
        json_decref(root);
        return NULL;
    }
    return root;
}

int co_config_schema_write(FILE *out)
{
    json_t *s = co_config_schema();
    int rc;

    if (s == NULL)
        return -1;
    rc = json_dumpf(s, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (rc == 0 && fputc('\n', out) == EOF)
        rc = -1;
    json_decref(s);
    return rc;
}
