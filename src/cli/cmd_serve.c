/* cmd_serve.c - `medfm serve` (being written). */
#include <stdio.h>

#include "cli/commands.h"

int cmd_serve(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "medfm: serve is not available yet\n");
    return 1;
}
