/* main.c - the entry point; everything else lives in the library. */
#include "cli.h"

int main(int argc, char **argv)
{
    return co_cli_main(argc, argv);
}
