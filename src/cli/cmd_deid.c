/* cmd_deid.c - `medfm deid`: de-identification tools dispatch to the commands, and keygen. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/opts.h"
#include "deid/deid.h"

static int deid_keygen(int argc, char **argv)
{
    const char *out = NULL;
    const struct opt opts[] = {
        {"out", OPT_STRING, &out, "KEYFILE", "where to write the new key (mode 0600)"},
    };
    const struct cmd_help help = {
        "medfm deid keygen --out KEYFILE",
        "Write a new secret de-identification key: 32 random bytes as hex, readable by its\n"
        "owner only.  The same key gives the same pseudonyms and date shifts (records link\n"
        "across runs); another key gives unlinkable output.  Keep it secret, keep it safe: who\n"
        "holds it can link pseudonyms back to source ids they already know.  The key is never\n"
        "printed or logged, and an existing file is never overwritten.",
        opts, sizeof opts / sizeof opts[0], NULL};
    const char *pos[argc > 0 ? argc : 1];
    int npos = 0;
    int r = opts_parse(argc, argv, &help, pos, &npos);
    if (r)
        return r == 1 ? 0 : 2;
    if (out == NULL || npos) {
        fprintf(stderr, "medfm: deid keygen needs --out KEYFILE\nusage: %s\n", help.usage);
        return 2;
    }
    struct mf_err err = {0};
    if (mf_deid_key_generate(out, &err) != 0) {
        fprintf(stderr, "medfm: %s\n", err.msg);
        return 1;
    }
    fprintf(stderr, "medfm: wrote a new key to '%s' (mode 0600)\n", out);
    return 0;
}

int cmd_deid(int argc, char **argv)
{
    static const char usage[] = "usage: medfm deid <command> [options]\n\ncommands:\n"
                                "  keygen     write a new secret de-identification key\n"
                                "  fhir       de-identify FHIR Bundles or NDJSON into FHIR NDJSON\n"
                                "  text       find, redact or replace the PHI in clinical text\n"
                                "  eval       measure the text de-identifier on a labelled corpus\n"
                                "  risk       k-anonymity and l-diversity of a store's "
                                "quasi-identifiers\n\n"
                                "'medfm deid <command> --help' explains a command.\n";
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } cmds[] = {{"keygen", deid_keygen},
                {"fhir", cmd_deid_fhir},
                {"text", cmd_deid_text},
                {"eval", cmd_deid_eval},
                {"risk", cmd_deid_risk}};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (strcmp(argv[1], cmds[i].name) == 0)
            return cmds[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "medfm: unknown deid command '%s'\n", argv[1]);
    fputs(usage, stderr);
    return 2;
}
