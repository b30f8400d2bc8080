/* cutover.h - everything a check or reporter needs, in one include. */
#ifndef CUTOVER_CUTOVER_H
#define CUTOVER_CUTOVER_H

#define CUTOVER_VERSION "0.1.0"

#include "cutover/check.h"
#include "cutover/config.h"
#include "cutover/net.h"
#include "cutover/result.h"
#include "cutover/util.h"

#endif
