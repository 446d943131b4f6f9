/* cmd_keys.c - `medfm keys` (being written). */
#include <stdio.h>

#include "cli/commands.h"

int cmd_keys(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "medfm: keys is not available yet\n");
    return 1;
}
