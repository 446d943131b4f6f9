/* main.c - the medfm command: dispatches to one verb per file (cmd_*.c). */
#include <stdio.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <string.h>

#include "cli/commands.h"

struct verb {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
};

static const struct verb verbs[] = {
    {"audit", cmd_audit, "the server's audit log: verify its hash chain, export it as FHIR"},
    {"card", cmd_card, "write a model card (JSON and Markdown) from the model and its reports"},
    {"deid", cmd_deid, "de-identification tools: keygen (a secret key for pseudonyms and shifts)"},
    {"embed", cmd_embed, "write patient embeddings (float32) and their index"},
    {"eval", cmd_eval, "evaluate a model on tasks beside baselines: metrics.json, report.html"},
    {"ingest", cmd_ingest, "read FHIR R4 (Bundles, Bulk NDJSON) or MIMIC-IV into an event store"},
    {"inspect", cmd_inspect, "summarize an event store, or show one patient's timeline"},
    {"keys", cmd_keys, "the server's API keys: create, list, revoke"},
    {"label", cmd_label, "label a store's patients for a task definition (ACES YAML)"},
    {"predict", cmd_predict, "risks for a task from simulated futures (or a linear probe)"},
    {"probe", cmd_probe, "fit a linear probe on patient embeddings for a task"},
    {"serve", cmd_serve, "serve the model over REST, FHIR and CDS Hooks"},
    {"simulate", cmd_simulate, "sample possible futures of one patient, with what-if codes"},
    {"synth", cmd_synth, "simulate a cohort with known true risks, effects and PHI"},
    {"tokenize", cmd_tokenize, "show a patient's timeline as the model's tokens"},
    {"train", cmd_train, "fit the tokenizer and train the transformer on an event store"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: medfm <verb> [options]\n\n"
               "medfm is an open clinical foundation model: it ingests longitudinal patient\n"
               "records into an event store that later stages train and serve from.\n\nverbs:\n");
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        fprintf(f, "  %-10s %s\n", verbs[i].name, verbs[i].help);
    fprintf(f, "\n'medfm <verb> --help' explains a verb.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("medfm 0.1.0\n");
        return 0;
    }
#ifdef __GLIBC__
    /* The batch verbs reuse buffers of a few MiB per file. By default glibc gives such blocks
     * back to the kernel when freed, and every next file pays the page faults again (dearly in
     * a virtual machine): keep blocks up to 64 MiB in the heap, and up to 256 MiB of it free. */
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
#endif
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        if (strcmp(argv[1], verbs[i].name) == 0)
            return verbs[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "medfm: unknown verb '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
