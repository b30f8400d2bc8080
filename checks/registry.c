/*
 * registry.c - the one table of checks. Adding a check is one file in
 * checks/ and one line here; nothing else names a check.
 */
#include <string.h>

#include "cutover/check.h"

extern const struct co_check co_check_tcp_reach;

const struct co_check *const co_checks[] = {
    &co_check_tcp_reach,
};

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
