/* fuzz_fhir_json.c - libFuzzer target: one FHIR JSON document (Bundle or resource) through
 * mf_fhir_ingest_json into a throwaway store batch (ingest_sink.h). */
#include <stddef.h>
#include <stdint.h>

#include "ingest_sink.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mf_ingest_ctx *c = sink_begin("fhir-json");
    if (c == NULL)
        return 0;
    mf_fhir_ingest_json(c, "fuzz-input", (const char *)data, size);
    sink_end();
    return 0;
}
