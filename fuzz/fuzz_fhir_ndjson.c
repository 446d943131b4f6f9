/* fuzz_fhir_ndjson.c - libFuzzer target: a FHIR Bulk Data NDJSON file, split into lines the
 * way the ingest driver splits them, each line through mf_fhir_ingest_ndjson_line into a
 * throwaway store batch (ingest_sink.h). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ingest_sink.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mf_ingest_ctx *c = sink_begin("fhir-ndjson");
    if (c == NULL)
        return 0;
    const char *s = (const char *)data;
    size_t start = 0;
    int64_t line = 0;
    while (start < size) {
        const char *nl = memchr(s + start, '\n', size - start);
        size_t end = nl ? (size_t)(nl - s) : size;
        size_t len = end - start;
        if (len > 0 && s[start + len - 1] == '\r')
            len--;
        line++;
        if (len > 0)
            mf_fhir_ingest_ndjson_line(c, "fuzz-input", line, (int64_t)start, s + start, len);
        start = end + 1;
    }
    sink_end();
    return 0;
}
