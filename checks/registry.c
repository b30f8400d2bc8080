/*
 * registry.c - the one table of checks. Adding a check is one file in
 * checks/ and one line here; nothing else names a check.
 */
#include <string.h>

#include "cutover/check.h"

extern const struct co_check co_check_pg_connect;
extern const struct co_check co_check_pg_version;
extern const struct co_check co_check_pg_extensions;
extern const struct co_check co_check_pg_schema;
extern const struct co_check co_check_pg_rowcount;
extern const struct co_check co_check_pg_checksum;
extern const struct co_check co_check_pg_sequences;
extern const struct co_check co_check_pg_replication;
extern const struct co_check co_check_pg_quiesced;
extern const struct co_check co_check_pg_query;
extern const struct co_check co_check_redis_connect;
extern const struct co_check co_check_redis_config;
extern const struct co_check co_check_redis_keyspace;
extern const struct co_check co_check_redis_queues;
extern const struct co_check co_check_dns_ttl;
extern const struct co_check co_check_dns_resolve;
extern const struct co_check co_check_tls_cert;
extern const struct co_check co_check_http_probe;
extern const struct co_check co_check_tcp_reach;
extern const struct co_check co_check_net_egress;
extern const struct co_check co_check_env_diff;

/* In the order of doc/DESIGN.md's table: `cutover list` and reports follow
 * it. One entry a line, so adding a check is a one-line change. */
/* clang-format off */
const struct co_check *const co_checks[] = {
    &co_check_pg_connect,
    &co_check_pg_version,
    &co_check_pg_extensions,
    &co_check_pg_schema,
    &co_check_pg_rowcount,
    &co_check_pg_checksum,
    &co_check_pg_sequences,
    &co_check_pg_replication,
    &co_check_pg_quiesced,
    &co_check_pg_query,
    &co_check_redis_connect,
    &co_check_redis_config,
    &co_check_redis_keyspace,
    &co_check_redis_queues,
    &co_check_dns_ttl,
    &co_check_dns_resolve,
    &co_check_tls_cert,
    &co_check_http_probe,
    &co_check_tcp_reach,
    &co_check_net_egress,
    &co_check_env_diff,
};
/* clang-format on */

const size_t co_ncheck = sizeof(co_checks) / sizeof(co_checks[0]);

const struct co_check *co_check_find(const char *id)
{
    for (size_t i = 0; i < co_ncheck; i++)
        if (strcmp(co_checks[i]->id, id) == 0)
            return co_checks[i];
    return NULL;
}

const struct co_param *co_check_param(const struct co_check *c,
                                      const char *name)
{
    for (const struct co_param *p = c->params; p && p->name; p++)
        if (strcmp(p->name, name) == 0)
            return p;
    return NULL;
}
