/* cmd_audit.c - `medfm audit` (being written). */
#include <stdio.h>

#include "cli/commands.h"

int cmd_audit(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "medfm: audit is not available yet\n");
    return 1;
}
