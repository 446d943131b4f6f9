/* cmd_deid_text.c - `medfm deid text` (being written). */
#include <stdio.h>

#include "cli/commands.h"

int cmd_deid_text(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fputs("medfm: deid text is not built yet\n", stderr);
    return 1;
}
