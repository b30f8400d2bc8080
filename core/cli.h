/* cli.h - the command line (core-private). */
#ifndef CUTOVER_CLI_H
#define CUTOVER_CLI_H

/* Exit codes (doc/DESIGN.md). */
enum {
    CO_EXIT_OK = 0,
    CO_EXIT_FAIL = 1,
    CO_EXIT_ERROR = 2,
    CO_EXIT_USAGE = 64,
    CO_EXIT_CONFIG = 78
};

/* Runs one command line and returns the process exit code. */
int co_cli_main(int argc, char **argv);

#endif
