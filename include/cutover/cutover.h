/* cutover.h - everything a check or reporter needs, in one include. */
#ifndef CUTOVER_CUTOVER_H
#define CUTOVER_CUTOVER_H

/* The version comes from CMakeLists.txt's project(VERSION), the one place
 * it is written. */
#ifdef CUTOVER_VERSION_STRING
#define CUTOVER_VERSION CUTOVER_VERSION_STRING
#else
#define CUTOVER_VERSION "unknown"
#endif

#include "cutover/check.h"
#include "cutover/config.h"
#include "cutover/net.h"
#include "cutover/result.h"
#include "cutover/util.h"

#endif
