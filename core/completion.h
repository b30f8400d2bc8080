/* completion.h - shell completion scripts generated from the CLI tables
 * (core-private; used by cli.c's `cutover list --completion SHELL`). */
#ifndef CUTOVER_COMPLETION_H
#define CUTOVER_COMPLETION_H

#include <getopt.h>
#include <stddef.h>
#include <stdio.h>

/* One command as getopt sees it: the optstring and the long-option table
 * its parser runs with (borrowed). */
struct co_cli_command {
    const char *name;
    const char *shortopts; /* NULL: the command reported no table */
    const struct option *opts;
};

/* Writes a completion script for shell "bash" or "zsh" to out. cmds are
 * the commands in the order `cutover` accepts them; usage and help are
 * the synopsis and the option help, where option values are read from
 * (`--color auto|always|never`: those words; FILE: file names; GLOB or
 * GLOBS: check ids). Returns 0, or -1 for a shell it cannot write. */
int co_completion_write(FILE *out, const char *shell,
                        const struct co_cli_command *cmds, size_t ncmd,
                        const char *usage, const char *help);

#endif
