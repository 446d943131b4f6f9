/* cmd_deid_fhir.c - `medfm deid fhir` (being written). */
#include <stdio.h>

#include "cli/commands.h"

int cmd_deid_fhir(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fputs("medfm: deid fhir is not built yet\n", stderr);
    return 1;
}
