/*
 * config_dump.c - prints a resolved config as YAML (`cutover config`).
 *
 * It walks the same key tables the loader uses, so a key added to a
 * table is printed without touching this file. libyaml's emitter does
 * the quoting. Every string goes through co_mask() on its way out:
 * URLs lose their passwords, and registered secrets (URL passwords,
 * credential headers) disappear wherever they appear.
 */
#include "config_internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

struct dumper {
    yaml_emitter_t e;
    bool failed;
};

static void emit(struct dumper *d, yaml_event_t *ev)
{
    if (d->failed) {
        yaml_event_delete(ev);
        return;
    }
    if (!yaml_emitter_emit(&d->e, ev))
        d->failed = true;
}

/* Would a YAML reader take s for a bool, null or number if unquoted? */
static bool looks_typed(const char *s)
{
    static const char *const words[] = {
        "", "~", "null", "true", "false", "yes", "no", "on", "off", "y", "n",
    };
    char *end;

    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strcasecmp(s, words[i]) == 0)
            return true;
    (void)strtod(s, &end);
    return end != s && *end == '\0';
}

/* A string scalar, masked, quoted when it would read back as another
 * type ("1.2", "true"). */
static void str(struct dumper *d, const char *s)
{
    char *m = co_mask(s);
    yaml_event_t ev;

    yaml_scalar_event_initialize(
        &ev, NULL, NULL, (yaml_char_t *)m, (int)strlen(m), 1, 1,
        looks_typed(m) ? YAML_DOUBLE_QUOTED_SCALAR_STYLE
                       : YAML_ANY_SCALAR_STYLE);
    emit(d, &ev);
    free(m);
}

/* A scalar that is meant to be typed (a number, a bool, a duration). */
static void plain(struct dumper *d, const char *s)
{
    yaml_event_t ev;

    yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s,
                                 (int)strlen(s), 1, 1,
                                 YAML_PLAIN_SCALAR_STYLE);
    emit(d, &ev);
}

static void map_start(struct dumper *d, bool flow)
{
    yaml_event_t ev;

    yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
                                        flow ? YAML_FLOW_MAPPING_STYLE
                                             : YAML_BLOCK_MAPPING_STYLE);
    emit(d, &ev);
}

static void map_end(struct dumper *d)
{
    yaml_event_t ev;

    yaml_mapping_end_event_initialize(&ev);
    emit(d, &ev);
}

static void list(struct dumper *d, const struct co_strlist *l)
{
    yaml_event_t ev;

    yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
                                         YAML_FLOW_SEQUENCE_STYLE);
    emit(d, &ev);
    for (size_t i = 0; i < l->n; i++)
        str(d, l->v[i]);
    yaml_sequence_end_event_initialize(&ev);
    emit(d, &ev);
}

static void duration(struct dumper *d, int64_t ms)
{
    char buf[32];

    co_duration_format(ms, buf, sizeof(buf));
    plain(d, buf);
}

static void integer(struct dumper *d, long long v)
{
    char buf[32];

    snprintf(buf, sizeof(buf), "%lld", v);
    plain(d, buf);
}

/* headers are stored as "Name: value" and printed as a mapping. */
static void headers(struct dumper *d, const struct co_strlist *l)
{
    map_start(d, l->n == 0);
    for (size_t i = 0; i < l->n; i++) {
        const char *colon = strchr(l->v[i], ':');
        char *name = co_strndup(l->v[i], (size_t)(colon - l->v[i]));

        str(d, name);
        str(d, colon + 2);
        free(name);
    }
    map_end(d);
}

/* A string map, stored as key, value pairs. */
static void pairs(struct dumper *d, const struct co_strlist *l)
{
    map_start(d, l->n == 0);
    for (size_t i = 0; i + 1 < l->n; i += 2) {
        str(d, l->v[i]);
        str(d, l->v[i + 1]);
    }
    map_end(d);
}

/* One key of a table; unset optional values are left out. */
static void dump_key(struct dumper *d, const struct co_cfg_key *k,
                     const void *base)
{
    const void *f = (const char *)base + k->off;

    switch (k->type) {
    case CO_CFG_STR:
    case CO_CFG_URL:
    case CO_CFG_PATH:
    case CO_CFG_FILE:
    case CO_CFG_ENUM:
        if (*(char *const *)f == NULL)
            return;
        str(d, k->name);
        str(d, *(char *const *)f);
        return;
    case CO_CFG_BOOL:
        str(d, k->name);
        plain(d, *(const bool *)f ? "true" : "false");
        return;
    case CO_CFG_INT:
    case CO_CFG_INT64: {
        long long v = k->type == CO_CFG_INT ? *(const int *)f
                                            : (long long)*(const int64_t *)f;
        if (v < k->min) /* the "unset" value: expect_status 0, ttl -1 */
            return;
        str(d, k->name);
        integer(d, v);
        return;
    }
    case CO_CFG_DURATION:
        if (*(const int64_t *)f == 0) /* quiesce_window: off */
            return;
        str(d, k->name);
        duration(d, *(const int64_t *)f);
        return;
    case CO_CFG_LIST:
        str(d, k->name);
        list(d, f);
        return;
    case CO_CFG_HEADERS:
        str(d, k->name);
        headers(d, f);
        return;
    case CO_CFG_MAP:
        if (((const struct co_strlist *)f)->n == 0)
            return;
        str(d, k->name);
        pairs(d, f);
        return;
    }
}

static void dump_keys(struct dumper *d, const struct co_cfg_key *keys,
                      const void *base)
{
    map_start(d, false);
    for (const struct co_cfg_key *k = keys; k->name; k++)
        dump_key(d, k, base);
    map_end(d);
}

static void dump_kind(struct dumper *d, const struct co_config *c,
                      enum co_kind kind)
{
    const struct co_cfg_key *keys = co_cfg_kind_keys(kind);
    bool any = false;

    for (size_t i = 0; i < c->nres; i++) {
        const struct co_resource *r = &c->res[i];

        if (r->kind != kind)
            continue;
        if (kind == CO_KIND_EGRESS) { /* one mapping, not a named map */
            str(d, co_cfg_section_name(kind));
            dump_keys(d, keys, r);
            return;
        }
        if (!any) {
            str(d, co_cfg_section_name(kind));
            map_start(d, false);
            any = true;
        }
        str(d, r->name);
        if (kind == CO_KIND_OUTBOUND)
            str(d, r->address);
        else
            dump_keys(d, keys, r);
    }
    if (any)
        map_end(d);
}

static void value(struct dumper *d, const struct co_value *v)
{
    char buf[64];

    switch (v->type) {
    case CO_P_BOOL:
        plain(d, v->b ? "true" : "false");
        return;
    case CO_P_INT:
        integer(d, (long long)v->i);
        return;
    case CO_P_FLOAT:
        snprintf(buf, sizeof(buf), "%.17g", v->f);
        plain(d, buf);
        return;
    case CO_P_DURATION:
        duration(d, v->i);
        return;
    case CO_P_STRING:
        str(d, v->s ? v->s : "");
        return;
    case CO_P_LIST:
        list(d, &v->list);
        return;
    }
}

static void dump_override(struct dumper *d, const struct co_check_override *o)
{
    str(d, o->id);
    map_start(d, false);
    if (o->has_phases) {
        struct co_strlist l = {NULL, 0};
        static const unsigned bits[] = {CO_PRE, CO_POST, CO_DRIFT};

        for (size_t i = 0; i < 3; i++)
            if (o->phases & bits[i])
                co_strlist_add(&l, co_phase_name(bits[i]));
        str(d, "phases");
        list(d, &l);
        co_strlist_free(&l);
    }
    if (o->has_enabled) {
        str(d, "enabled");
        plain(d, o->enabled ? "true" : "false");
    }
    for (size_t i = 0; i < o->nparams; i++) {
        str(d, o->params[i].name);
        value(d, &o->params[i].value);
    }
    map_end(d);
}

static void dump_config(struct dumper *d, const struct co_config *c)
{
    map_start(d, false);
    str(d, "version");
    integer(d, c->version);
    str(d, "settings");
    dump_keys(d, co_cfg_settings_keys, &c->settings);
    for (int k = 0; k < CO_KIND__COUNT; k++)
        dump_kind(d, c, (enum co_kind)k);
    if (c->noverrides) {
        str(d, "checks");
        map_start(d, false);
        for (size_t i = 0; i < c->noverrides; i++)
            dump_override(d, &c->overrides[i]);
        map_end(d);
    }
    map_end(d);
}

int co_config_dump(const struct co_config *c, FILE *out)
{
    struct dumper d;
    yaml_event_t ev;

    if (c == NULL || out == NULL)
        return -1;
    memset(&d, 0, sizeof(d));
    if (!yaml_emitter_initialize(&d.e))
        return -1;
    yaml_emitter_set_output_file(&d.e, out);
    yaml_emitter_set_unicode(&d.e, 1);
    yaml_emitter_set_width(&d.e, -1); /* never fold a long URL */
    yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
    emit(&d, &ev);
    yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
    emit(&d, &ev);
    dump_config(&d, c);
    yaml_document_end_event_initialize(&ev, 1);
    emit(&d, &ev);
    yaml_stream_end_event_initialize(&ev);
    emit(&d, &ev);
    if (!d.failed && !yaml_emitter_flush(&d.e))
        d.failed = true;
    yaml_emitter_delete(&d.e);
    return d.failed ? -1 : 0;
}
