/* cmd_deid_risk.c - `medfm deid risk` (being written). */
#include <stdio.h>

#include "cli/commands.h"

int cmd_deid_risk(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fputs("medfm: deid risk is not built yet\n", stderr);
    return 1;
}
