/*
 * config_value.c - the pieces of the config loader that work on plain
 * strings: names of kinds, phases and param types, typed values
 * (co_value_parse, also used for the declared defaults of check params),
 * ${VAR} interpolation, and validators for addresses, CIDRs and names.
 *
 * Nothing here knows about YAML or line numbers: config.c adds the
 * position and the key path to every reason produced here. Reasons may
 * quote the offending text, but always through co_mask, because a value
 * can come from an environment variable that holds a secret.
 */
#include "config_internal.h"

#include "cutover/net.h"
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- names ------------------------------------------------------------ */

static const char *const kind_names[CO_KIND__COUNT] = {
    "postgres", "redis", "domain", "endpoint", "outbound", "egress", "env",
};

const char *co_kind_name(enum co_kind k)
{
    if ((unsigned)k >= CO_KIND__COUNT)
        return "?";
    return kind_names[k];
}

static const struct {
    const char *name;
    unsigned bits;
} phase_names[] = {
    {"pre", CO_PRE},
    {"post", CO_POST},
    {"drift", CO_DRIFT},
    {"all", CO_ALL},
};
#define NPHASE (sizeof(phase_names) / sizeof(phase_names[0]))

int co_phase_parse(const char *s)
{
    for (size_t i = 0; s && i < NPHASE; i++)
        if (strcmp(s, phase_names[i].name) == 0)
            return (int)phase_names[i].bits;
    return -1;
}

const char *co_phase_name(unsigned phase)
{
    for (size_t i = 0; i < NPHASE; i++)
        if (phase_names[i].bits == phase)
            return phase_names[i].name;
    return "?";
}

void co_phases_format(unsigned phases, char *out, size_t outlen)
{
    size_t used = 0;

    if (outlen == 0)
        return;
    out[0] = '\0';
    /* The single bits only: "all" is spelled out as its parts. */
    for (size_t i = 0; i < NPHASE; i++) {
        const char *sep = used ? ", " : "";
        int n;

        if (phase_names[i].bits == CO_ALL || !(phases & phase_names[i].bits))
            continue;
        n = snprintf(out + used, outlen - used, "%s%s", sep,
                     phase_names[i].name);
        if (n < 0 || (size_t)n >= outlen - used) {
            out[used] = '\0'; /* whole names only */
            return;
        }
        used += (size_t)n;
    }
}

const char *co_ptype_name(enum co_ptype t)
{
    static const char *const names[] = {
        "bool", "int", "float", "duration", "string", "list",
    };
    if ((unsigned)t >= sizeof(names) / sizeof(names[0]))
        return "?";
    return names[t];
}

/* ---- typed values ----------------------------------------------------- */

/* Quotes text for a message: masked, and cut short so that a pasted
 * certificate does not fill the terminal. */
static void quote_for_error(const char *text, char *out, size_t outlen)
{
    char *m = co_mask(text);
    size_t n = strlen(m);

    if (n > 60)
        snprintf(out, outlen, "\"%.57s...\"", m);
    else
        snprintf(out, outlen, "\"%s\"", m);
    free(m);
}

static int parse_bool(const char *s, bool *b)
{
    static const char *const yes[] = {"true", "yes", "on"};
    static const char *const no[] = {"false", "no", "off"};

    for (size_t i = 0; i < 3; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *b = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *b = false;
            return 0;
        }
    }
    return -1;
}

int co_cfg_parse_int(const char *s, long long min, long long max,
                     long long *out, char *why, size_t whylen)
{
    char *end;
    long long v;
    char q[80];

    /* strtoll would skip leading blanks and stop at junk: neither is a
     * number in a config file. */
    if (*s == '\0' || isspace((unsigned char)*s)) {
        quote_for_error(s, q, sizeof(q));
        snprintf(why, whylen, "expected an integer, got %s", q);
        return -1;
    }
    errno = 0;
    v = strtoll(s, &end, 10);
    if (*end != '\0') {
        quote_for_error(s, q, sizeof(q));
        snprintf(why, whylen, "expected an integer, got %s", q);
        return -1;
    }
    if (errno == ERANGE || v < min || v > max) {
        quote_for_error(s, q, sizeof(q));
        snprintf(why, whylen, "%s is out of range (%lld..%lld)", q, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_float(const char *s, double *f)
{
    char *end;

    if (*s == '\0' || isspace((unsigned char)*s))
        return -1;
    errno = 0;
    *f = strtod(s, &end);
    if (*end != '\0' || errno == ERANGE || !isfinite(*f))
        return -1;
    return 0;
}

/* Splits on commas, trimming blanks; empty items are dropped so that
 * "a, b," and "" mean what they look like. */
static void split_list(const char *s, struct co_strlist *l)
{
    while (*s) {
        size_t n = strcspn(s, ",");
        const char *b = s, *e = s + n;

        while (b < e && isspace((unsigned char)*b))
            b++;
        while (e > b && isspace((unsigned char)e[-1]))
            e--;
        if (e > b) {
            char *item = co_strndup(b, (size_t)(e - b));
            co_strlist_add(l, item);
            free(item);
        }
        s += n;
        if (*s == ',')
            s++;
    }
}

int co_value_parse(enum co_ptype t, const char *text, struct co_value *v,
                   char *err, size_t errlen)
{
    char q[80];
    long long i;

    memset(v, 0, sizeof(*v));
    v->type = t;
    if (text == NULL)
        text = "";
    switch (t) {
    case CO_P_BOOL:
        if (parse_bool(text, &v->b) == 0)
            return 0;
        quote_for_error(text, q, sizeof(q));
        snprintf(err, errlen,
                 "expected a bool (true/false/yes/no/on/off), got %s", q);
        return -1;
    case CO_P_INT:
        if (co_cfg_parse_int(text, INT64_MIN, INT64_MAX, &i, err, errlen))
            return -1;
        v->i = i;
        return 0;
    case CO_P_FLOAT:
        if (parse_float(text, &v->f) == 0)
            return 0;
        quote_for_error(text, q, sizeof(q));
        snprintf(err, errlen, "expected a number, got %s", q);
        return -1;
    case CO_P_DURATION:
        if (co_duration_parse(text, &v->i) == 0)
            return 0;
        quote_for_error(text, q, sizeof(q));
        snprintf(err, errlen,
                 "expected a duration like 500ms, 30s, 5m, 1h or 1m30s, "
                 "got %s",
                 q);
        return -1;
    case CO_P_STRING:
        v->s = co_strdup(text);
        return 0;
    case CO_P_LIST:
        split_list(text, &v->list);
        return 0;
    }
    snprintf(err, errlen, "unknown value type %d", (int)t);
    return -1;
}

void co_value_free(struct co_value *v)
{
    if (v == NULL)
        return;
    free(v->s);
    co_strlist_free(&v->list);
    memset(v, 0, sizeof(*v));
}

/* ---- interpolation ---------------------------------------------------- */

static bool var_name_ok(const char *s, size_t n)
{
    if (n == 0 || isdigit((unsigned char)s[0]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_')
            return false;
    return true;
}

/* Expands one "${...}" whose body (between the braces) is body[0..n). */
static int expand_ref(struct co_buf *out, const char *body, size_t n,
                      char *err, size_t errlen)
{
    const char *colon = memchr(body, ':', n);
    size_t namelen = colon ? (size_t)(colon - body) : n;
    char *name;
    const char *val;

    if (!var_name_ok(body, namelen) ||
        (colon && (namelen + 1 >= n || colon[1] != '-'))) {
        snprintf(err, errlen,
                 "bad variable reference (use ${NAME} or "
                 "${NAME:-default})");
        return -1;
    }
    name = co_strndup(body, namelen);
    val = getenv(name);
    if (colon) {
        /* Shell semantics: ":-" also replaces a set but empty value. */
        if (val == NULL || *val == '\0')
            co_buf_add(out, colon + 2, n - namelen - 2);
        else
            co_buf_puts(out, val);
    } else if (val == NULL) {
        snprintf(err, errlen, "${%s} is not set", name);
        free(name);
        return -1;
    } else {
        co_buf_puts(out, val);
    }
    free(name);
    return 0;
}

char *co_interpolate(const char *s, char *err, size_t errlen)
{
    struct co_buf out;
    const char *p = s;

    co_buf_init(&out);
    while (p && *p) {
        const char *end;

        if (p[0] != '$' || (p[1] != '$' && p[1] != '{')) {
            co_buf_add(&out, p, 1);
            p++;
            continue;
        }
        if (p[1] == '$') {
            co_buf_add(&out, "$", 1);
            p += 2;
            continue;
        }
        end = strchr(p + 2, '}');
        if (end == NULL) {
            snprintf(err, errlen, "unterminated \"${\" (missing \"}\")");
            goto fail;
        }
        for (const char *q = p + 2; q < end; q++) {
            if (q[0] == '$' && q[1] == '{') {
                snprintf(err, errlen, "nested \"${\" is not supported");
                goto fail;
            }
        }
        if (expand_ref(&out, p + 2, (size_t)(end - p - 2), err, errlen))
            goto fail;
        p = end + 1;
    }
    return co_buf_take(&out);
fail:
    co_buf_free(&out);
    return NULL;
}

/* ---- validators ------------------------------------------------------- */

int co_cfg_check_ip(const char *s, char *why, size_t whylen)
{
    unsigned char addr[16];

    if (inet_pton(AF_INET, s, addr) == 1 || inet_pton(AF_INET6, s, addr) == 1)
        return 0;
    snprintf(why, whylen, "not an IPv4 or IPv6 address");
    return -1;
}

int co_cfg_check_cidr(const char *s, char *why, size_t whylen)
{
    const char *slash = strchr(s, '/');
    unsigned char addr[16];
    char *ip;
    int af;
    long long bits;
    char sub[CO_ERRLEN];

    ip = slash ? co_strndup(s, (size_t)(slash - s)) : co_strdup(s);
    af = inet_pton(AF_INET, ip, addr) == 1    ? AF_INET
         : inet_pton(AF_INET6, ip, addr) == 1 ? AF_INET6
                                              : 0;
    free(ip);
    if (af == 0) {
        snprintf(why, whylen,
                 "not a CIDR (expected e.g. 203.0.113.0/28 or "
                 "2001:db8::/48)");
        return -1;
    }
    if (slash == NULL)
        return 0; /* a single address */
    if (slash[1] == '+' || slash[1] == '-' ||
        co_cfg_parse_int(slash + 1, 0, af == AF_INET ? 32 : 128, &bits, sub,
                         sizeof(sub)) < 0) {
        snprintf(why, whylen, "bad prefix length (0..%d for IPv%d)",
                 af == AF_INET ? 32 : 128, af == AF_INET ? 4 : 6);
        return -1;
    }
    return 0;
}

/* The same host:port grammar as everything that dials (co_hostport_split),
 * with a reason a person can act on when it does not parse. */
int co_cfg_split_hostport(const char *s, char **host, int *port, char *why,
                          size_t whylen)
{
    const char *colon = strrchr(s, ':');

    if (co_hostport_split(s, 0, host, port) == 0 && *port != 0) {
        if (co_cfg_check_hostname(*host, why, whylen) == 0 ||
            co_cfg_check_ip(*host, why, whylen) == 0)
            return 0;
        snprintf(why, whylen, "bad host (expected host:port)");
    } else if (colon == NULL || (s[0] == '[' && colon < strchr(s, ']'))) {
        snprintf(why, whylen, "missing port (expected host:port)");
    } else if (s[0] != '[' && memchr(s, ':', (size_t)(colon - s))) {
        snprintf(why, whylen, "IPv6 addresses need brackets: [addr]:port");
    } else if (s[0] == '[') {
        snprintf(why, whylen, "expected [IPv6]:port");
    } else {
        snprintf(why, whylen, "bad port (expected 1..65535)");
    }
    free(*host);
    *host = NULL;
    return -1;
}

int co_cfg_check_resolver(const char *s, char *why, size_t whylen)
{
    char *host = NULL;
    int port;
    unsigned char addr[16];

    /* A bare address, v4 or v6, uses port 53. */
    if (co_cfg_check_ip(s, why, whylen) == 0)
        return 0;
    if (co_cfg_split_hostport(s, &host, &port, why, whylen) < 0) {
        snprintf(why, whylen,
                 "not a resolver address (expected ip, ip:port or "
                 "[ipv6]:port)");
        return -1;
    }
    /* Resolvers are addresses: resolving their names would need a
     * resolver. */
    if (inet_pton(AF_INET, host, addr) != 1 &&
        inet_pton(AF_INET6, host, addr) != 1) {
        free(host);
        snprintf(why, whylen,
                 "not a resolver address (expected ip, ip:port or "
                 "[ipv6]:port)");
        return -1;
    }
    free(host);
    return 0;
}

int co_cfg_check_hostname(const char *s, char *why, size_t whylen)
{
    size_t n = strlen(s), label = 0;

    if (n == 0 || n > 254 || (n == 254 && s[253] != '.') || s[0] == '.')
        goto bad;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '.') {
            if (label == 0)
                goto bad;
            label = 0;
            continue;
        }
        /* '_' appears in real names (_acme-challenge, SRV labels). */
        if (!isalnum(c) && c != '-' && c != '_')
            goto bad;
        if (++label > 63)
            goto bad;
    }
    return 0;
bad:
    snprintf(why, whylen, "not a valid host name");
    return -1;
}

int co_cfg_check_connect_to(const char *s, char *why, size_t whylen)
{
    char *host;
    int port;

    if (co_cfg_check_hostname(s, why, whylen) == 0 ||
        co_cfg_check_ip(s, why, whylen) == 0)
        return 0;
    if (co_cfg_split_hostport(s, &host, &port, why, whylen) == 0) {
        free(host);
        return 0;
    }
    snprintf(why, whylen, "expected host, host:port or [ipv6]:port");
    return -1;
}

int co_cfg_check_header_name(const char *s, char *why, size_t whylen)
{
    /* RFC 9110 token characters. */
    static const char tchar[] = "!#$%&'*+-.^_`|~";

    if (*s == '\0')
        goto bad;
    for (const char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && strchr(tchar, *p) == NULL)
            goto bad;
    return 0;
bad:
    snprintf(why, whylen, "not a valid HTTP header name");
    return -1;
}
