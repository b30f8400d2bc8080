/*
 * init.h - `cutover init` (core-private): a starter cutover.yml from the
 * platforms' own config dumps.
 */
#ifndef CUTOVER_INIT_H
#define CUTOVER_INIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct co_init_opts {
    const char *heroku;  /* `heroku config --json` (or a .env file) */
    const char *aptible; /* `aptible config`, its JSON form, or .env */
    const char *output;  /* the config to write; "-" is stdout */
    bool force;          /* replace an existing output file */
};

enum co_init_result {
    CO_INIT_OK,
    CO_INIT_INPUT,  /* an input unreadable, unparsable, unknown, ambiguous */
    CO_INIT_EXISTS, /* the output exists and force is off */
    CO_INIT_WRITE   /* the output could not be written */
};

/* Reads both inputs and writes the starter config. On success a short
 * account (what was found, which variables to export) goes to `note`
 * (may be NULL). Otherwise err holds the reason; it never holds a value
 * from the inputs, only variable names, file names and line numbers. */
enum co_init_result co_init_write(const struct co_init_opts *o, FILE *note,
                                  char *err, size_t errlen);

#endif
