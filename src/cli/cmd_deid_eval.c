/* cmd_deid_eval.c - `medfm deid eval` (being written). */
#include <stdio.h>

#include "cli/commands.h"

int cmd_deid_eval(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fputs("medfm: deid eval is not built yet\n", stderr);
    return 1;
}
