/* sides.c - see sides.h. */
#include "sides.h"

#include <stdio.h>

int co_sides_configured(struct co_run *run)
{
    if (run->res->source == NULL && run->res->target == NULL) {
        snprintf(run->errstr, sizeof(run->errstr),
                 "neither source nor target is configured");
        return -1;
    }
    return 0;
}

int64_t co_sides_connect_deadline(const struct co_run *run)
{
    int64_t left = co_run_remaining_ms(run);

    return run->deadline - (left / 5 < 1000 ? left / 5 : 1000);
}
