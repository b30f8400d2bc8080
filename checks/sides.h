/*
 * sides.h - what the checks that look at each side of a pair on its own
 * (CO_CHECK_ONE_SIDED: pg.connect, redis.connect, redis.config) share
 * before they connect. Private to checks/.
 */
#ifndef CUTOVER_CHECKS_SIDES_H
#define CUTOVER_CHECKS_SIDES_H

#include <stdint.h>

#include "cutover/check.h"

/* 0 when the resource names a source or a target; else -1 with
 * run->errstr saying that neither is configured (the task's error). */
int co_sides_configured(struct co_run *run);

/* The deadline for connecting both sides at once: a fifth of the time
 * left (at most 1 s) before run's own, so a side that never answers
 * leaves time to report on the side that did. */
int64_t co_sides_connect_deadline(const struct co_run *run);

#endif
