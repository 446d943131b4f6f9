/* fhir.c - FHIR R4 JSON to events: Bundles, single resources and Bulk Data NDJSON lines.
 *
 * One resource is one record.  Patient, Encounter, Condition, Observation, MedicationRequest,
 * Procedure, Immunization, DiagnosticReport, AllergyIntolerance and DocumentReference are
 * mapped (docs/ingest-fhir.md has the table); every other FHIR R4 resource type (billing,
 * care plans, organizations, provenance...) is skipped without an issue, and a resourceType
 * that FHIR R4 does not define is an issue.  A Bundle is read in two passes over its entries:
 * the first maps the fullUrl of every Patient (and Medication) entry so that "urn:uuid:"
 * references resolve, the second maps the resources.
 *
 * After the parse the work is cheap on purpose: codes are built in stack buffers, fields are
 * looked up directly, and the only allocations are a fullUrl table for bundles with many
 * patients and a buffer for decoded attachments (notes).
 *
 * Issues name the file, a line and byte offset (of the JSON error, of the NDJSON line, or of
 * the Bundle entry) and a FHIR path; never a value.  Left out: medicationReference that does
 * not resolve inside the document (skipped silently), attachments given by url only, and the
 * FHIR versions before and after R4.
 */
#include "ingest/ingest.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/timeutil.h"
#include "deid/fhirdeid.h"
#include "deid/zip3.h"

/* A bad record: returned by bad(), which notes the issue to record. */
#define SKIP 1
/* A time field that is absent, when the caller allows that. */
#define ABSENT 2
/* A record to skip without an issue. */
#define SKIP_QUIET 3

#define MAX_PATH 512

/* Code systems medfm knows, and the vocabulary prefix of their codes. */
static const struct vocab {
    const char *system;
    const char *prefix;
} vocabs[] = {
    {"http://snomed.info/sct", "SNOMED"},
    {"http://loinc.org", "LOINC"},
    {"http://www.nlm.nih.gov/research/umls/rxnorm", "RxNorm"},
    {"http://hl7.org/fhir/sid/cvx", "CVX"},
    {"http://hl7.org/fhir/sid/icd-10-cm", "ICD10CM"},
    {"http://hl7.org/fhir/sid/icd-9-cm", "ICD9CM"},
    {"http://hl7.org/fhir/sid/ndc", "NDC"},
    {"http://www.ama-assn.org/go/cpt", "CPT"},
};

/* Every resource type FHIR R4 defines, sorted (strcmp order) for bsearch. */
static const char *const r4_types[] = {
    "Account",
    "ActivityDefinition",
    "AdverseEvent",
    "AllergyIntolerance",
    "Appointment",
    "AppointmentResponse",
    "AuditEvent",
    "Basic",
    "Binary",
    "BiologicallyDerivedProduct",
    "BodyStructure",
    "Bundle",
    "CapabilityStatement",
    "CarePlan",
    "CareTeam",
    "CatalogEntry",
    "ChargeItem",
    "ChargeItemDefinition",
    "Claim",
    "ClaimResponse",
    "ClinicalImpression",
    "CodeSystem",
    "Communication",
    "CommunicationRequest",
    "CompartmentDefinition",
    "Composition",
    "ConceptMap",
    "Condition",
    "Consent",
    "Contract",
    "Coverage",
    "CoverageEligibilityRequest",
    "CoverageEligibilityResponse",
    "DetectedIssue",
    "Device",
    "DeviceDefinition",
    "DeviceMetric",
    "DeviceRequest",
    "DeviceUseStatement",
    "DiagnosticReport",
    "DocumentManifest",
    "DocumentReference",
    "EffectEvidenceSynthesis",
    "Encounter",
    "Endpoint",
    "EnrollmentRequest",
    "EnrollmentResponse",
    "EpisodeOfCare",
    "EventDefinition",
    "Evidence",
    "EvidenceVariable",
    "ExampleScenario",
    "ExplanationOfBenefit",
    "FamilyMemberHistory",
    "Flag",
    "Goal",
    "GraphDefinition",
    "Group",
    "GuidanceResponse",
    "HealthcareService",
    "ImagingStudy",
    "Immunization",
    "ImmunizationEvaluation",
    "ImmunizationRecommendation",
    "ImplementationGuide",
    "InsurancePlan",
    "Invoice",
    "Library",
    "Linkage",
    "List",
    "Location",
    "Measure",
    "MeasureReport",
    "Media",
    "Medication",
    "MedicationAdministration",
    "MedicationDispense",
    "MedicationKnowledge",
    "MedicationRequest",
    "MedicationStatement",
    "MedicinalProduct",
    "MedicinalProductAuthorization",
    "MedicinalProductContraindication",
    "MedicinalProductIndication",
    "MedicinalProductIngredient",
    "MedicinalProductInteraction",
    "MedicinalProductManufactured",
    "MedicinalProductPackaged",
    "MedicinalProductPharmaceutical",
    "MedicinalProductUndesirableEffect",
    "MessageDefinition",
    "MessageHeader",
    "MolecularSequence",
    "NamingSystem",
    "NutritionOrder",
    "Observation",
    "ObservationDefinition",
    "OperationDefinition",
    "OperationOutcome",
    "Organization",
    "OrganizationAffiliation",
    "Parameters",
    "Patient",
    "PaymentNotice",
    "PaymentReconciliation",
    "Person",
    "PlanDefinition",
    "Practitioner",
    "PractitionerRole",
    "Procedure",
    "Provenance",
    "Questionnaire",
    "QuestionnaireResponse",
    "RelatedPerson",
    "RequestGroup",
    "ResearchDefinition",
    "ResearchElementDefinition",
    "ResearchStudy",
    "ResearchSubject",
    "RiskAssessment",
    "RiskEvidenceSynthesis",
    "Schedule",
    "SearchParameter",
    "ServiceRequest",
    "Slot",
    "Specimen",
    "SpecimenDefinition",
    "StructureDefinition",
    "StructureMap",
    "Subscription",
    "Substance",
    "SubstanceNucleicAcid",
    "SubstancePolymer",
    "SubstanceProtein",
    "SubstanceReferenceInformation",
    "SubstanceSourceMaterial",
    "SubstanceSpecification",
    "SupplyDelivery",
    "SupplyRequest",
    "Task",
    "TerminologyCapabilities",
    "TestReport",
    "TestScript",
    "ValueSet",
    "VerificationResult",
    "VisionPrescription",
};

/* The resource types that are mapped to events. */
enum rtype {
    RT_OTHER,
    RT_PATIENT,
    RT_ENCOUNTER,
    RT_CONDITION,
    RT_OBSERVATION,
    RT_MEDICATION_REQUEST,
    RT_PROCEDURE,
    RT_IMMUNIZATION,
    RT_DIAGNOSTIC_REPORT,
    RT_ALLERGY,
    RT_DOCUMENT_REFERENCE,
    RT_UNKNOWN /* not a FHIR R4 resource type */
};

/* A Patient or Medication entry of a Bundle, by fullUrl. */
struct ref {
    const char *url;
    const cJSON *res;
    int patient; /* 1: Patient, 0: Medication */
};

#define SMALL_REFS 16

/* The state of one JSON document while it is mapped. */
struct doc {
    struct mf_ingest_ctx *c;
    const char *file;
    const char *data; /* the document's text, to locate entries in issues */
    size_t len;
    int ndjson;       /* 1: one NDJSON line; line and base are the line's */
    int64_t line;     /* NDJSON line number */
    int64_t base;     /* byte offset of data in the file */
    long entry;       /* Bundle entry being mapped, -1 for a top-level resource */
    const char *type; /* resource type for paths of a top-level resource */
    struct ref small[SMALL_REFS];
    struct ref *refs;
    size_t n_refs, cap_refs;
    /* The record being mapped. */
    const char *subj;
    size_t subj_len;
    struct mf_buf text; /* decoded attachments */
    /* Why the record is bad (see bad()). */
    enum mf_issue_kind bad_kind;
    const char *bad_msg;
    char bad_path[MAX_PATH];
    char deid_msg[800];          /* why the de-identification hook refused a resource */
    const cJSON *deid_failed[8]; /* Patients of a Bundle the hook refused */
    int n_deid_failed;
    /* Where locating issues got to (see entry_offset, line_at). */
    long scan_entry;
    size_t scan_off;
    size_t line_off;
    int64_t line_no;
};

/* A code "PREFIX/CODE" being built. */
struct code {
    size_t n;
    char s[MF_MAX_CODE_LEN + 1];
};

/* Append s[0..n) to a code; -1 when over MF_MAX_CODE_LEN. */
static int code_cat(struct code *c, const char *s, size_t n)
{
    if (n > MF_MAX_CODE_LEN - c->n)
        return -1;
    memcpy(c->s + c->n, s, n);
    c->n += n;
    c->s[c->n] = '\0';
    return 0;
}

/* The vocabulary prefix of a code system URI, or NULL when medfm does not know it. */
static const char *vocab_prefix(const char *system)
{
    for (size_t i = 0; i < sizeof vocabs / sizeof vocabs[0]; i++)
        if (strcmp(system, vocabs[i].system) == 0)
            return vocabs[i].prefix;
    return NULL;
}

/* strcmp for bsearch over an array of strings. */
static int cmp_name(const void *key, const void *elem)
{
    return strcmp((const char *)key, *(const char *const *)elem);
}

/* Classify a resourceType string. */
static enum rtype classify(const char *t)
{
    switch (t[0]) {
    case 'A':
        if (strcmp(t, "AllergyIntolerance") == 0)
            return RT_ALLERGY;
        break;
    case 'C':
        if (strcmp(t, "Condition") == 0)
            return RT_CONDITION;
        break;
    case 'D':
        if (strcmp(t, "DiagnosticReport") == 0)
            return RT_DIAGNOSTIC_REPORT;
        if (strcmp(t, "DocumentReference") == 0)
            return RT_DOCUMENT_REFERENCE;
        break;
    case 'E':
        if (strcmp(t, "Encounter") == 0)
            return RT_ENCOUNTER;
        break;
    case 'I':
        if (strcmp(t, "Immunization") == 0)
            return RT_IMMUNIZATION;
        break;
    case 'M':
        if (strcmp(t, "MedicationRequest") == 0)
            return RT_MEDICATION_REQUEST;
        break;
    case 'O':
        if (strcmp(t, "Observation") == 0)
            return RT_OBSERVATION;
        break;
    case 'P':
        if (strcmp(t, "Patient") == 0)
            return RT_PATIENT;
        if (strcmp(t, "Procedure") == 0)
            return RT_PROCEDURE;
        break;
    default:
        break;
    }
    if (bsearch(t, r4_types, sizeof r4_types / sizeof r4_types[0], sizeof r4_types[0], cmp_name) !=
        NULL)
        return RT_OTHER;
    return RT_UNKNOWN;
}

/* obj[key] (first match, case-sensitive), or NULL. */
static const cJSON *get(const cJSON *obj, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(obj, key);
}

/* --- locating issues ---------------------------------------------------------------------- */

/* Skip JSON whitespace from s[i]. */
static size_t skip_ws(const char *s, size_t n, size_t i)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

/* Skip the JSON string that starts at s[i] (a quote); returns the index after it. */
static size_t skip_string(const char *s, size_t n, size_t i)
{
    for (i++; i < n; i++) {
        if (s[i] == '\\')
            i++;
        else if (s[i] == '"')
            return i + 1;
    }
    return n;
}

/* Skip the JSON value that starts at s[i]; the text is known to be valid JSON. */
static size_t skip_value(const char *s, size_t n, size_t i)
{
    if (i >= n)
        return n;
    if (s[i] == '"')
        return skip_string(s, n, i);
    if (s[i] == '{' || s[i] == '[') {
        size_t depth = 0;
        while (i < n) {
            char ch = s[i];
            if (ch == '"') {
                i = skip_string(s, n, i);
                continue;
            }
            if (ch == '{' || ch == '[')
                depth++;
            else if ((ch == '}' || ch == ']') && --depth == 0)
                return i + 1;
            i++;
        }
        return n;
    }
    while (i < n && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' && s[i] != '\n' &&
           s[i] != '\r' && s[i] != '\t')
        i++;
    return i;
}

/* The index just inside the first top-level "entry" array of the JSON text s, or -1. */
static int64_t entries_start(const char *s, size_t n)
{
    size_t i = skip_ws(s, n, 0);
    if (i >= n || s[i] != '{')
        return -1;
    i++;
    for (;;) {
        i = skip_ws(s, n, i);
        if (i >= n || s[i] != '"')
            return -1;
        size_t k = i;
        i = skip_string(s, n, i);
        int is_entry = i - k == 7 && memcmp(s + k, "\"entry\"", 7) == 0;
        i = skip_ws(s, n, i);
        if (i >= n || s[i] != ':')
            return -1;
        i = skip_ws(s, n, i + 1);
        if (is_entry && i < n && s[i] == '[')
            return (int64_t)i + 1;
        i = skip_ws(s, n, skip_value(s, n, i));
        if (i >= n || s[i] != ',')
            return -1;
        i++;
    }
}

/* The byte offset in the document of Bundle.entry[idx], or -1.  Only run when an issue is
 * reported; entries come in order, so the scan goes on from the last entry located and all
 * the issues of a document cost one pass over its text. */
static int64_t entry_offset(struct doc *d, long idx)
{
    const char *s = d->data;
    size_t n = d->len, i;
    long e;
    if (d->scan_entry >= 0 && idx >= d->scan_entry) {
        i = d->scan_off;
        e = d->scan_entry;
    } else {
        int64_t start = entries_start(s, n);
        if (start < 0)
            return -1;
        i = (size_t)start;
        e = 0;
    }
    for (;; e++) {
        i = skip_ws(s, n, i);
        if (i >= n || s[i] == ']')
            return -1;
        if (e == idx) {
            d->scan_entry = e;
            d->scan_off = i;
            return (int64_t)i;
        }
        i = skip_ws(s, n, skip_value(s, n, i));
        if (i >= n || s[i] != ',')
            return -1;
        i++;
    }
}

/* The 1-based line of byte off of the document, counting on from the last line found. */
static int64_t line_at(struct doc *d, size_t off)
{
    if (off < d->line_off) {
        d->line_off = 0;
        d->line_no = 1;
    }
    const char *p = d->data + d->line_off, *end = d->data + off;
    while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        d->line_no++;
        p++;
    }
    d->line_off = off;
    return d->line_no;
}

/* Record an issue at the current resource; suffix is the FHIR path below the resource ("" or
 * ".effectiveDateTime").  Returns 0 or MF_EPARSE (--strict). */
static int issue(struct doc *d, enum mf_issue_kind kind, const char *suffix, const char *msg)
{
    char path[MAX_PATH];
    if (d->entry >= 0)
        snprintf(path, sizeof path, "Bundle.entry[%ld].resource%s", d->entry, suffix);
    else
        snprintf(path, sizeof path, "%s%s", d->type ? d->type : "Resource", suffix);
    int64_t off = d->entry >= 0 ? entry_offset(d, d->entry) : (int64_t)skip_ws(d->data, d->len, 0);
    struct mf_issue_loc loc = {d->file, d->ndjson ? d->line : 0, -1, path};
    if (off >= 0 && (size_t)off <= d->len) {
        loc.offset = d->base + off;
        if (!d->ndjson)
            loc.line = line_at(d, (size_t)off);
    }
    return mf_ingest_issue(d->c, kind, &loc, "%s", msg);
}

/* Note why the record being mapped is bad; map_resource drops it and records the issue.
 * Returns SKIP for the caller to pass up. */
static int bad(struct doc *d, enum mf_issue_kind kind, const char *suffix, const char *msg)
{
    d->bad_kind = kind;
    snprintf(d->bad_path, sizeof d->bad_path, "%s", suffix);
    d->bad_msg = msg;
    return SKIP;
}

/* --- references ---------------------------------------------------------------------------- */

/* strcmp of two refs by url, for qsort. */
static int cmp_ref(const void *a, const void *b)
{
    return strcmp(((const struct ref *)a)->url, ((const struct ref *)b)->url);
}

/* strcmp of a url with a ref, for bsearch. */
static int cmp_url_ref(const void *key, const void *elem)
{
    return strcmp((const char *)key, ((const struct ref *)elem)->url);
}

/* Add a Bundle entry to the fullUrl table.  Returns 0 or MF_ENOMEM. */
static int add_ref(struct doc *d, const char *url, const cJSON *res, int patient)
{
    if (d->n_refs == d->cap_refs) {
        size_t cap = d->cap_refs * 2;
        struct ref *r;
        if (d->refs == d->small) {
            r = malloc(cap * sizeof *r);
            if (r)
                memcpy(r, d->small, d->n_refs * sizeof *r);
        } else {
            r = realloc(d->refs, cap * sizeof *r);
        }
        if (r == NULL)
            return MF_ENOMEM;
        d->refs = r;
        d->cap_refs = cap;
    }
    d->refs[d->n_refs].url = url;
    d->refs[d->n_refs].res = res;
    d->refs[d->n_refs].patient = patient;
    d->n_refs++;
    return 0;
}

/* The Bundle entry whose fullUrl is url, or NULL. */
static const struct ref *find_ref(const struct doc *d, const char *url)
{
    if (d->n_refs == 0)
        return NULL;
    return bsearch(url, d->refs, d->n_refs, sizeof *d->refs, cmp_url_ref);
}

/* Resolve a reference to a Patient: "urn:uuid:X" through the Bundle's fullUrls, "Patient/ID"
 * and URLs ending in "/Patient/ID" (with or without "/_history/N") to ID.  Returns 0 with the
 * id in *id, *n, or -1 when it does not resolve. */
static int resolve_patient(const struct doc *d, const char *ref, const char **id, size_t *n)
{
    if (strncmp(ref, "urn:", 4) == 0) {
        const struct ref *e = find_ref(d, ref);
        const char *pid = e && e->patient ? mf_json_str(e->res, "id") : NULL;
        if (pid == NULL || pid[0] == '\0')
            return -1;
        *id = pid;
        *n = strlen(pid);
        return 0;
    }
    return mf_deid_patient_ref(ref, id, n) ? 0 : -1;
}

/* resolve_patient for "urn:" references, as mf_deid_resource_subject's lookup. */
static const char *urn_patient(void *arg, const char *ref, size_t *n)
{
    const char *id;
    return resolve_patient(arg, ref, &id, n) == 0 ? id : NULL;
}

/* Set the record's subject from r[key] (falling back to r[alt]): a Reference to a Patient. */
static int read_subject(struct doc *d, const cJSON *r, const char *key, const char *alt)
{
    const cJSON *s = get(r, key);
    if (s == NULL && alt) {
        s = get(r, alt);
        key = alt;
    }
    char path[64];
    snprintf(path, sizeof path, ".%s", key);
    if (!cJSON_IsObject(s))
        return bad(d, MF_ISSUE_MISSING_FIELD, path, "no subject reference");
    snprintf(path, sizeof path, ".%s.reference", key);
    const char *ref = mf_json_str(s, "reference");
    if (ref == NULL || resolve_patient(d, ref, &d->subj, &d->subj_len) != 0)
        return bad(d, MF_ISSUE_REFERENCE, path, "subject reference does not resolve to a patient");
    if (d->subj_len > MF_MAX_SUBJECT_LEN)
        return bad(d, MF_ISSUE_TOO_BIG, path, "patient id over the length limit");
    return 0;
}

/* --- codes and times ----------------------------------------------------------------------- */

enum { CC_FOUND, CC_NO_CODING, CC_UNKNOWN };

/* The first coding of a CodeableConcept whose system medfm knows. */
static int cc_find(const cJSON *cc, const cJSON **coding, const char **prefix, int *index)
{
    const cJSON *codings = get(cc, "coding");
    if (!cJSON_IsArray(codings) || codings->child == NULL)
        return CC_NO_CODING;
    int k = 0;
    for (const cJSON *cd = codings->child; cd; cd = cd->next, k++) {
        const char *sys = mf_json_str(cd, "system");
        const char *p = sys ? vocab_prefix(sys) : NULL;
        if (p) {
            *coding = cd;
            *prefix = p;
            *index = k;
            return CC_FOUND;
        }
    }
    return CC_UNKNOWN;
}

/* Append "PREFIX/CODE" of a found coding to out.  path names the CodeableConcept. */
static int put_coding(struct doc *d, const cJSON *coding, const char *prefix, int k,
                      const char *path, struct code *out)
{
    char p[MAX_PATH];
    snprintf(p, sizeof p, "%s.coding[%d].code", path, k);
    const char *code = mf_json_str(coding, "code");
    if (code == NULL || code[0] == '\0')
        return bad(d, MF_ISSUE_MISSING_FIELD, p, "coding without a code");
    if (code_cat(out, prefix, strlen(prefix)) || code_cat(out, "/", 1) ||
        code_cat(out, code, strlen(code)))
        return bad(d, MF_ISSUE_TOO_BIG, p, "code over the length limit");
    return 0;
}

/* Map the CodeableConcept cc (at FHIR path path) to "PREFIX/CODE" in out.  A missing
 * concept, one without codings, or one with no known system skips the record. */
static int map_cc(struct doc *d, const cJSON *cc, const char *path, struct code *out)
{
    char p[MAX_PATH];
    out->n = 0;
    out->s[0] = '\0';
    if (!cJSON_IsObject(cc))
        return bad(d, MF_ISSUE_MISSING_FIELD, path, "no code");
    const cJSON *coding = NULL;
    const char *prefix = NULL;
    int k = 0;
    switch (cc_find(cc, &coding, &prefix, &k)) {
    case CC_NO_CODING:
        snprintf(p, sizeof p, "%s.coding", path);
        return bad(d, MF_ISSUE_MISSING_FIELD, p, "code without codings");
    case CC_UNKNOWN:
        snprintf(p, sizeof p, "%s.coding", path);
        return bad(d, MF_ISSUE_CODE_SYSTEM, p, "no coding with a known code system");
    default:
        return put_coding(d, coding, prefix, k, path, out);
    }
}

/* Where a time may be: r[key], or r[key][sub], or r[key][sub][sub2]. */
struct tfield {
    const char *key, *sub, *sub2;
};

/* Read the first present time of a fallback chain.  A present field that is not a string is
 * a missing-field issue, one that is not a valid date a bad-date issue (no fall back).  When
 * none is present: ABSENT if !required, else a missing-field issue on the first. */
static int read_time(struct doc *d, const cJSON *r, const struct tfield *f, size_t nf, int required,
                     int64_t *out)
{
    char p[MAX_PATH];
    for (size_t i = 0; i < nf; i++) {
        const cJSON *v = get(r, f[i].key);
        snprintf(p, sizeof p, ".%s", f[i].key);
        if (v && f[i].sub) {
            if (!cJSON_IsObject(v))
                return bad(d, MF_ISSUE_MISSING_FIELD, p, "field is not an object");
            v = get(v, f[i].sub);
            snprintf(p, sizeof p, ".%s.%s", f[i].key, f[i].sub);
            if (v && f[i].sub2) {
                if (!cJSON_IsObject(v))
                    return bad(d, MF_ISSUE_MISSING_FIELD, p, "field is not an object");
                v = get(v, f[i].sub2);
                snprintf(p, sizeof p, ".%s.%s.%s", f[i].key, f[i].sub, f[i].sub2);
            }
        }
        if (v == NULL)
            continue;
        if (!cJSON_IsString(v))
            return bad(d, MF_ISSUE_MISSING_FIELD, p, "date field is not a string");
        if (mf_time_parse(v->valuestring, strlen(v->valuestring), out) != 0)
            return bad(d, MF_ISSUE_BAD_DATE, p, "not a valid date or dateTime");
        return 0;
    }
    if (!required)
        return ABSENT;
    if (f[0].sub2)
        snprintf(p, sizeof p, ".%s.%s.%s", f[0].key, f[0].sub, f[0].sub2);
    else if (f[0].sub)
        snprintf(p, sizeof p, ".%s.%s", f[0].key, f[0].sub);
    else
        snprintf(p, sizeof p, ".%s", f[0].key);
    return bad(d, MF_ISSUE_MISSING_FIELD, p, "required date is absent");
}

/* Emit one event of the current record. */
static int emit(struct doc *d, int64_t t, const struct code *code, double value, const char *unit,
                const char *text, size_t text_len)
{
    struct mf_event ev;
    ev.subject = d->subj;
    ev.subject_len = d->subj_len;
    ev.time = t;
    ev.code = code->s;
    ev.code_len = code->n;
    ev.value = value;
    ev.unit = unit;
    ev.unit_len = unit ? strlen(unit) : 0;
    ev.text = text;
    ev.text_len = text ? text_len : 0;
    return mf_ingest_emit(d->c, &ev);
}

/* Set out to pre + s (e.g. "ENCOUNTER/" + "AMB"); -1 when over the limit. */
static int code_set(struct code *out, const char *pre, const char *s)
{
    out->n = 0;
    out->s[0] = '\0';
    return code_cat(out, pre, strlen(pre)) || code_cat(out, s, strlen(s)) ? -1 : 0;
}

/* --- attachments ------------------------------------------------------------------------- */

/* Emit attachment a (at path) as a note event code at time t, when it has inline data that
 * is text.  Attachments by url only and non-text content types emit nothing. */
static int emit_attachment(struct doc *d, const cJSON *a, const char *path, int64_t t,
                           const struct code *code)
{
    char p[MAX_PATH];
    const cJSON *data = get(a, "data");
    if (data == NULL)
        return 0;
    const char *ct = mf_json_str(a, "contentType");
    if (ct && strncmp(ct, "text/", 5) != 0)
        return 0;
    snprintf(p, sizeof p, "%s.data", path);
    if (!cJSON_IsString(data))
        return bad(d, MF_ISSUE_MISSING_FIELD, p, "attachment data is not a string");
    size_t n = strlen(data->valuestring);
    if (n / 4 * 3 > MF_MAX_TEXT_LEN)
        return bad(d, MF_ISSUE_TOO_BIG, p, "attachment over the text length limit");
    int rc = mf_base64_decode(data->valuestring, n, &d->text);
    if (rc == MF_EPARSE)
        return bad(d, MF_ISSUE_BAD_VALUE, p, "attachment data is not valid base64");
    if (rc)
        return rc;
    if (d->text.len > MF_MAX_TEXT_LEN)
        return bad(d, MF_ISSUE_TOO_BIG, p, "attachment over the text length limit");
    return emit(d, t, code, NAN, NULL, d->text.data, d->text.len);
}

/* --- resources ----------------------------------------------------------------------------- */

/* The postalCode the ZIP3 fact comes from: of the addresses whose postalCode is a string
 * starting with three digits, the first with use "home", else the first.  NULL when none. */
static const char *patient_zip(const cJSON *r)
{
    const char *first = NULL;
    const cJSON *a;
    cJSON_ArrayForEach(a, mf_json_arr(r, "address"))
    {
        const char *z = mf_json_str(a, "postalCode");
        if (z == NULL || z[0] < '0' || z[0] > '9' || z[1] < '0' || z[1] > '9' || z[2] < '0' ||
            z[2] > '9')
            continue;
        const char *use = mf_json_str(a, "use");
        if (use && strcmp(use, "home") == 0)
            return z;
        if (first == NULL)
            first = z;
    }
    return first;
}

/* Emit the static fact ZIP3/ddd (Safe Harbor's three-digit ZIP, "000" for restricted areas)
 * when the patient has a usable postalCode.  The restricted list is loaded on first use; a
 * failure to load it is an error of the run, not of the record. */
static int emit_zip3(struct doc *d, const cJSON *r)
{
    const char *z = patient_zip(r);
    if (z == NULL)
        return 0;
    struct mf_err e = {0, {0}};
    int rc = mf_deid_zip3_init(NULL, &e);
    if (rc)
        return mf_err_set(&d->c->err, rc, "%s", e.msg[0] ? e.msg : "cannot load the ZIP3 list");
    char z3[4];
    mf_deid_zip3(z, strlen(z), z3);
    struct code code;
    code_set(&code, "ZIP3/", z3);
    return emit(d, MF_TIME_NONE, &code, NAN, NULL, NULL, 0);
}

/* Patient: birth, death, and the static facts gender, race, ethnicity, ZIP3. */
static int map_patient(struct doc *d, const cJSON *r)
{
    static const struct tfield birth[] = {{"birthDate", NULL, NULL}};
    static const struct tfield death[] = {{"deceasedDateTime", NULL, NULL}};
    struct code code;
    int64_t t;
    int rc;
    const char *id = mf_json_str(r, "id");
    if (id == NULL || id[0] == '\0')
        return bad(d, MF_ISSUE_MISSING_FIELD, ".id", "patient without an id");
    d->subj = id;
    d->subj_len = strlen(id);
    if (d->subj_len > MF_MAX_SUBJECT_LEN)
        return bad(d, MF_ISSUE_TOO_BIG, ".id", "patient id over the length limit");

    if ((rc = read_time(d, r, birth, 1, 1, &t)) != 0)
        return rc;
    code_set(&code, MF_CODE_BIRTH, "");
    if ((rc = emit(d, t, &code, NAN, NULL, NULL, 0)) != 0)
        return rc;
    rc = read_time(d, r, death, 1, 0, &t);
    if (rc == 0) {
        code_set(&code, MF_CODE_DEATH, "");
        if ((rc = emit(d, t, &code, NAN, NULL, NULL, 0)) != 0)
            return rc;
    } else if (rc != ABSENT) {
        return rc;
    }

    const cJSON *g = get(r, "gender");
    if (g) {
        static const char *const genders[][2] = {
            {"male", "GENDER/MALE"},
            {"female", "GENDER/FEMALE"},
            {"other", "GENDER/OTHER"},
            {"unknown", "GENDER/UNKNOWN"},
        };
        const char *gc = NULL;
        for (size_t i = 0; cJSON_IsString(g) && i < 4; i++)
            if (strcmp(g->valuestring, genders[i][0]) == 0)
                gc = genders[i][1];
        if (gc == NULL)
            return bad(d, MF_ISSUE_BAD_VALUE, ".gender", "not a FHIR administrative gender");
        code_set(&code, gc, "");
        if ((rc = emit(d, MF_TIME_NONE, &code, NAN, NULL, NULL, 0)) != 0)
            return rc;
    }

    const cJSON *ext;
    cJSON_ArrayForEach(ext, mf_json_arr(r, "extension"))
    {
        const char *url = mf_json_str(ext, "url");
        const char *pre = NULL;
        if (url == NULL)
            continue;
        if (strcmp(url, "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race") == 0)
            pre = "RACE/";
        else if (strcmp(url, "http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity") ==
                 0)
            pre = "ETHNICITY/";
        else
            continue;
        const cJSON *sub;
        cJSON_ArrayForEach(sub, mf_json_arr(ext, "extension"))
        {
            const char *su = mf_json_str(sub, "url");
            const char *c = mf_json_str(mf_json_obj(sub, "valueCoding"), "code");
            if (su == NULL || strcmp(su, "ombCategory") != 0 || c == NULL || c[0] == '\0')
                continue;
            if (code_set(&code, pre, c))
                return bad(d, MF_ISSUE_TOO_BIG, ".extension", "code over the length limit");
            if ((rc = emit(d, MF_TIME_NONE, &code, NAN, NULL, NULL, 0)) != 0)
                return rc;
        }
    }
    return emit_zip3(d, r);
}

/* Encounter: ENCOUNTER/<class> and the type code at the start, ENCOUNTER_END/<class> at the
 * end.  A type with no known code system emits no type event (no issue). */
static int map_encounter(struct doc *d, const cJSON *r)
{
    static const struct tfield start[] = {{"period", "start", NULL}};
    static const struct tfield end[] = {{"period", "end", NULL}};
    struct code code;
    int64_t t0, t1;
    int rc;
    if ((rc = read_subject(d, r, "subject", "patient")) != 0)
        return rc;
    if ((rc = read_time(d, r, start, 1, 1, &t0)) != 0)
        return rc;
    const cJSON *cls = get(r, "class");
    const char *cc = mf_json_str(cls, "code");
    if (cc == NULL && cJSON_IsObject(cls)) /* a CodeableConcept, as in R5 */
        cc = mf_json_str(cJSON_GetArrayItem(get(cls, "coding"), 0), "code");
    if (cc == NULL || cc[0] == '\0')
        return bad(d, MF_ISSUE_MISSING_FIELD, ".class.code", "encounter without a class code");
    if (code_set(&code, "ENCOUNTER/", cc))
        return bad(d, MF_ISSUE_TOO_BIG, ".class.code", "code over the length limit");
    if ((rc = emit(d, t0, &code, NAN, NULL, NULL, 0)) != 0)
        return rc;

    const cJSON *type0 = cJSON_GetArrayItem(get(r, "type"), 0);
    const cJSON *coding = NULL;
    const char *prefix = NULL;
    int k = 0;
    if (cJSON_IsObject(type0) && cc_find(type0, &coding, &prefix, &k) == CC_FOUND) {
        struct code tc;
        tc.n = 0;
        if ((rc = put_coding(d, coding, prefix, k, ".type[0]", &tc)) != 0)
            return rc;
        if ((rc = emit(d, t0, &tc, NAN, NULL, NULL, 0)) != 0)
            return rc;
    }

    rc = read_time(d, r, end, 1, 0, &t1);
    if (rc == ABSENT)
        return 0;
    if (rc)
        return rc;
    code_set(&code, "ENCOUNTER_END/", cc);
    return emit(d, t1, &code, NAN, NULL, NULL, 0);
}

/* Condition: the code at onset, CONDITION_END/<code> at abatement. */
static int map_condition(struct doc *d, const cJSON *r)
{
    static const struct tfield onset[] = {{"onsetDateTime", NULL, NULL},
                                          {"onsetPeriod", "start", NULL},
                                          {"recordedDate", NULL, NULL}};
    static const struct tfield abate[] = {{"abatementDateTime", NULL, NULL}};
    struct code code, end;
    int64_t t;
    int rc;
    if ((rc = read_subject(d, r, "subject", "patient")) != 0 ||
        (rc = map_cc(d, get(r, "code"), ".code", &code)) != 0 ||
        (rc = read_time(d, r, onset, 3, 1, &t)) != 0)
        return rc;
    if ((rc = emit(d, t, &code, NAN, NULL, NULL, 0)) != 0)
        return rc;
    rc = read_time(d, r, abate, 1, 0, &t);
    if (rc == ABSENT)
        return 0;
    if (rc)
        return rc;
    end.n = 0;
    if (code_cat(&end, "CONDITION_END/", 14) || code_cat(&end, code.s, code.n))
        return bad(d, MF_ISSUE_TOO_BIG, ".code", "code over the length limit");
    return emit(d, t, &end, NAN, NULL, NULL, 0);
}

/* Emit the event of an Observation or component code with its value[x] v (NULL: none).  path
 * names the holder of v ("" or ".component[1]"). */
static int emit_value(struct doc *d, int64_t t, const struct code *code, const cJSON *v,
                      const char *path)
{
    char p[MAX_PATH];
    if (v == NULL)
        return emit(d, t, code, NAN, NULL, NULL, 0);
    const char *kind = v->string + 5; /* after "value" */
    if (strcmp(kind, "Quantity") == 0) {
        snprintf(p, sizeof p, "%s.valueQuantity", path);
        if (!cJSON_IsObject(v))
            return bad(d, MF_ISSUE_MISSING_FIELD, p, "quantity is not an object");
        snprintf(p, sizeof p, "%s.valueQuantity.value", path);
        const cJSON *num = get(v, "value");
        if (num == NULL)
            return bad(d, MF_ISSUE_MISSING_FIELD, p, "quantity without a value");
        if (!cJSON_IsNumber(num) || !isfinite(num->valuedouble))
            return bad(d, MF_ISSUE_BAD_VALUE, p, "quantity value is not a number");
        const char *unit = mf_json_str(v, "unit");
        if (unit == NULL || unit[0] == '\0')
            unit = mf_json_str(v, "code");
        if (unit && strlen(unit) > MF_MAX_UNIT_LEN) {
            snprintf(p, sizeof p, "%s.valueQuantity.unit", path);
            return bad(d, MF_ISSUE_TOO_BIG, p, "unit over the length limit");
        }
        return emit(d, t, code, num->valuedouble, unit && unit[0] ? unit : NULL, NULL, 0);
    }
    if (strcmp(kind, "CodeableConcept") == 0) {
        snprintf(p, sizeof p, "%s.valueCodeableConcept", path);
        if (!cJSON_IsObject(v))
            return bad(d, MF_ISSUE_MISSING_FIELD, p, "codeable concept is not an object");
        const cJSON *coding = NULL;
        const char *prefix = NULL;
        int k = 0;
        int found = cc_find(v, &coding, &prefix, &k);
        if (found == CC_FOUND) {
            struct code vc;
            vc.n = 0;
            int rc = put_coding(d, coding, prefix, k, p, &vc);
            if (rc)
                return rc;
            return emit(d, t, code, NAN, NULL, vc.s, vc.n);
        }
        const char *text = NULL;
        const cJSON *cd;
        cJSON_ArrayForEach(cd, mf_json_arr(v, "coding"))
        {
            if ((text = mf_json_str(cd, "code")) != NULL)
                break;
        }
        if (text && strlen(text) > MF_MAX_CODE_LEN)
            return bad(d, MF_ISSUE_TOO_BIG, p, "code over the length limit");
        return emit(d, t, code, NAN, NULL, text, text ? strlen(text) : 0);
    }
    if (strcmp(kind, "String") == 0) {
        snprintf(p, sizeof p, "%s.valueString", path);
        if (!cJSON_IsString(v))
            return bad(d, MF_ISSUE_BAD_VALUE, p, "value is not a string");
        size_t n = strlen(v->valuestring);
        if (n > MF_MAX_TEXT_LEN)
            return bad(d, MF_ISSUE_TOO_BIG, p, "text over the length limit");
        return emit(d, t, code, NAN, NULL, v->valuestring, n);
    }
    if (strcmp(kind, "Boolean") == 0) {
        snprintf(p, sizeof p, "%s.valueBoolean", path);
        if (!cJSON_IsBool(v))
            return bad(d, MF_ISSUE_BAD_VALUE, p, "value is not a boolean");
        return emit(d, t, code, cJSON_IsTrue(v) ? 1.0 : 0.0, NULL, NULL, 0);
    }
    if (strcmp(kind, "Integer") == 0) {
        snprintf(p, sizeof p, "%s.valueInteger", path);
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) ||
            v->valuedouble != floor(v->valuedouble))
            return bad(d, MF_ISSUE_BAD_VALUE, p, "value is not an integer");
        return emit(d, t, code, v->valuedouble, NULL, NULL, 0);
    }
    /* valueRange, valueRatio, valuePeriod, valueDateTime...: the code alone. */
    return emit(d, t, code, NAN, NULL, NULL, 0);
}

/* The first member of obj whose name starts with "value" (a value[x]), or NULL. */
static const cJSON *value_x(const cJSON *obj)
{
    for (const cJSON *v = obj->child; v; v = v->next)
        if (v->string && strncmp(v->string, "value", 5) == 0)
            return v;
    return NULL;
}

/* Observation: the code with its value, and each component as its own event. */
static int map_observation(struct doc *d, const cJSON *r)
{
    static const struct tfield eff[] = {{"effectiveDateTime", NULL, NULL},
                                        {"effectiveInstant", NULL, NULL},
                                        {"effectivePeriod", "start", NULL},
                                        {"issued", NULL, NULL}};
    char p[MAX_PATH];
    struct code code;
    int64_t t;
    int rc;
    if ((rc = read_subject(d, r, "subject", "patient")) != 0 ||
        (rc = map_cc(d, get(r, "code"), ".code", &code)) != 0 ||
        (rc = read_time(d, r, eff, 4, 1, &t)) != 0)
        return rc;
    const cJSON *v = value_x(r);
    const cJSON *comps = get(r, "component");
    int has_comps = cJSON_IsArray(comps) && comps->child != NULL;
    if (v || !has_comps) {
        if ((rc = emit_value(d, t, &code, v, "")) != 0)
            return rc;
    }
    if (!has_comps)
        return 0;
    int k = 0;
    for (const cJSON *comp = comps->child; comp; comp = comp->next, k++) {
        snprintf(p, sizeof p, ".component[%d]", k);
        if (!cJSON_IsObject(comp))
            return bad(d, MF_ISSUE_MISSING_FIELD, p, "component is not an object");
        char cp[MAX_PATH];
        snprintf(cp, sizeof cp, ".component[%d].code", k);
        if ((rc = map_cc(d, get(comp, "code"), cp, &code)) != 0 ||
            (rc = emit_value(d, t, &code, value_x(comp), p)) != 0)
            return rc;
    }
    return 0;
}

/* The Medication that a medicationReference points at: "#id" among the contained resources,
 * or a Bundle entry by fullUrl or by "Medication/ID".  NULL when it does not resolve. */
static const cJSON *resolve_medication(const struct doc *d, const cJSON *r, const char *ref)
{
    if (ref[0] == '#') {
        const cJSON *res;
        cJSON_ArrayForEach(res, mf_json_arr(r, "contained"))
        {
            const char *rt = mf_json_str(res, "resourceType");
            const char *id = mf_json_str(res, "id");
            if (rt && id && strcmp(rt, "Medication") == 0 && strcmp(id, ref + 1) == 0)
                return res;
        }
        return NULL;
    }
    const struct ref *e = find_ref(d, ref);
    if (e)
        return e->patient ? NULL : e->res;
    if (strncmp(ref, "Medication/", 11) != 0)
        return NULL;
    for (size_t i = 0; i < d->n_refs; i++) {
        const char *id = d->refs[i].patient ? NULL : mf_json_str(d->refs[i].res, "id");
        if (id && strcmp(id, ref + 11) == 0)
            return d->refs[i].res;
    }
    return NULL;
}

/* MedicationRequest: the medication's code at authoredOn. */
static int map_medication_request(struct doc *d, const cJSON *r)
{
    static const struct tfield authored[] = {{"authoredOn", NULL, NULL}};
    struct code code;
    int64_t t;
    int rc;
    if ((rc = read_subject(d, r, "subject", "patient")) != 0)
        return rc;
    const cJSON *cc = get(r, "medicationCodeableConcept");
    if (cc) {
        rc = map_cc(d, cc, ".medicationCodeableConcept", &code);
    } else {
        const char *ref = mf_json_str(mf_json_obj(r, "medicationReference"), "reference");
        const cJSON *med = ref ? resolve_medication(d, r, ref) : NULL;
        if (ref && med == NULL)
            return SKIP_QUIET; /* documented: a medication medfm cannot see */
        if (med == NULL)
            return bad(d, MF_ISSUE_MISSING_FIELD, ".medicationCodeableConcept",
                       "no medication code or reference");
        rc = map_cc(d, get(med, "code"), ".medicationReference", &code);
    }
    if (rc || (rc = read_time(d, r, authored, 1, 1, &t)) != 0)
        return rc;
    return emit(d, t, &code, NAN, NULL, NULL, 0);
}

/* A resource with one code at one time (Procedure, Immunization, AllergyIntolerance). */
static int map_simple(struct doc *d, const cJSON *r, const char *subject, const char *alt,
                      const char *code_key, const struct tfield *f, size_t nf)
{
    char p[64];
    struct code code;
    int64_t t;
    int rc;
    snprintf(p, sizeof p, ".%s", code_key);
    if ((rc = read_subject(d, r, subject, alt)) != 0 ||
        (rc = map_cc(d, get(r, code_key), p, &code)) != 0 ||
        (rc = read_time(d, r, f, nf, 1, &t)) != 0)
        return rc;
    return emit(d, t, &code, NAN, NULL, NULL, 0);
}

/* DiagnosticReport: the code at its effective time, and each presentedForm with inline text
 * data as a NOTE/<code> event. */
static int map_diagnostic_report(struct doc *d, const cJSON *r)
{
    static const struct tfield eff[] = {{"effectiveDateTime", NULL, NULL},
                                        {"effectivePeriod", "start", NULL},
                                        {"issued", NULL, NULL}};
    char p[MAX_PATH];
    struct code code, note;
    int64_t t;
    int rc;
    if ((rc = read_subject(d, r, "subject", "patient")) != 0 ||
        (rc = map_cc(d, get(r, "code"), ".code", &code)) != 0 ||
        (rc = read_time(d, r, eff, 3, 1, &t)) != 0)
        return rc;
    if ((rc = emit(d, t, &code, NAN, NULL, NULL, 0)) != 0)
        return rc;
    const cJSON *forms = get(r, "presentedForm");
    if (!cJSON_IsArray(forms) || forms->child == NULL)
        return 0;
    if (code_set(&note, "NOTE/", code.s))
        return bad(d, MF_ISSUE_TOO_BIG, ".code", "code over the length limit");
    int k = 0;
    for (const cJSON *a = forms->child; a; a = a->next, k++) {
        snprintf(p, sizeof p, ".presentedForm[%d]", k);
        if (!cJSON_IsObject(a))
            return bad(d, MF_ISSUE_MISSING_FIELD, p, "attachment is not an object");
        if ((rc = emit_attachment(d, a, p, t, &note)) != 0)
            return rc;
    }
    return 0;
}

/* DocumentReference: each content attachment with inline text data as a NOTE/<type> event
 * (NOTE/unknown when the type has no known code system). */
static int map_document_reference(struct doc *d, const cJSON *r)
{
    static const struct tfield date[] = {{"date", NULL, NULL}, {"context", "period", "start"}};
    char p[MAX_PATH];
    struct code note;
    int64_t t = MF_TIME_NONE;
    int rc, have_time = 0;
    if ((rc = read_subject(d, r, "subject", "patient")) != 0)
        return rc;
    const cJSON *type = mf_json_obj(r, "type");
    const cJSON *coding = NULL;
    const char *prefix = NULL;
    int k = 0;
    note.n = 0;
    code_cat(&note, "NOTE/", 5);
    if (type && cc_find(type, &coding, &prefix, &k) == CC_FOUND) {
        if ((rc = put_coding(d, coding, prefix, k, ".type", &note)) != 0)
            return rc;
    } else {
        code_cat(&note, "unknown", 7);
    }
    k = 0;
    const cJSON *ct;
    cJSON_ArrayForEach(ct, mf_json_arr(r, "content"))
    {
        const cJSON *a = mf_json_obj(ct, "attachment");
        snprintf(p, sizeof p, ".content[%d].attachment", k++);
        if (a == NULL || get(a, "data") == NULL)
            continue;
        if (!have_time) {
            if ((rc = read_time(d, r, date, 2, 1, &t)) != 0)
                return rc;
            have_time = 1;
        }
        if ((rc = emit_attachment(d, a, p, t, &note)) != 0)
            return rc;
    }
    return 0;
}

/* Records not to map: entered in error, or (Immunization, Procedure) not done. */
static int skip_status(const cJSON *r, enum rtype rt)
{
    const char *st = mf_json_str(r, "status");
    if (st == NULL)
        return 0;
    if (strcmp(st, "entered-in-error") == 0)
        return 1;
    return (rt == RT_IMMUNIZATION || rt == RT_PROCEDURE) && strcmp(st, "not-done") == 0;
}

/* Hand a resource to the de-identification hook, when there is one, with the source id of
 * its patient (its own id for a Patient, else its resolved subject, patient or beneficiary
 * reference; NULL when none resolves).  A resource the hook cannot de-identify (MF_EPARSE)
 * is bad input: SKIP with the hook's message, which names a path, never a value. */
static int deid_resource(struct doc *d, cJSON *r)
{
    const struct mf_ingest_deid *deid = d->c->deid;
    if (deid == NULL || deid->fhir_resource == NULL)
        return 0;
    const char *sid = NULL;
    size_t sn = 0;
    if (!mf_deid_resource_subject(r, urn_patient, d, &sid, &sn))
        sid = NULL;
    struct mf_err e = {0, {0}};
    int rc = deid->fhir_resource(deid->ctx, r, sid, sid ? sn : 0, &e);
    if (rc == MF_EPARSE) {
        snprintf(d->deid_msg, sizeof d->deid_msg, "%s",
                 e.msg[0] ? e.msg : "cannot be de-identified");
        return bad(d, MF_ISSUE_BAD_VALUE, "", d->deid_msg);
    }
    if (rc)
        mf_err_set(&d->c->err, rc, "%s", e.msg[0] ? e.msg : "de-identification failed");
    return rc;
}

/* Map one resource of a known type as one record.  hooked: the de-identification hook has
 * already seen it. */
static int map_resource(struct doc *d, cJSON *r, enum rtype rt, int hooked)
{
    static const struct tfield performed[] = {{"performedDateTime", NULL, NULL},
                                              {"performedPeriod", "start", NULL}};
    static const struct tfield occurrence[] = {{"occurrenceDateTime", NULL, NULL}};
    static const struct tfield allergy[] = {{"onsetDateTime", NULL, NULL},
                                            {"recordedDate", NULL, NULL}};
    int rc;
    if (skip_status(r, rt))
        return 0;
    if (!hooked && (rc = deid_resource(d, r)) != 0)
        return rc == SKIP ? issue(d, d->bad_kind, d->bad_path, d->bad_msg) : rc;
    mf_ingest_begin_record(d->c);
    switch (rt) {
    case RT_PATIENT:
        rc = map_patient(d, r);
        break;
    case RT_ENCOUNTER:
        rc = map_encounter(d, r);
        break;
    case RT_CONDITION:
        rc = map_condition(d, r);
        break;
    case RT_OBSERVATION:
        rc = map_observation(d, r);
        break;
    case RT_MEDICATION_REQUEST:
        rc = map_medication_request(d, r);
        break;
    case RT_PROCEDURE:
        rc = map_simple(d, r, "subject", "patient", "code", performed, 2);
        break;
    case RT_IMMUNIZATION:
        rc = map_simple(d, r, "patient", "subject", "vaccineCode", occurrence, 1);
        break;
    case RT_DIAGNOSTIC_REPORT:
        rc = map_diagnostic_report(d, r);
        break;
    case RT_ALLERGY:
        rc = map_simple(d, r, "patient", "subject", "code", allergy, 2);
        break;
    case RT_DOCUMENT_REFERENCE:
        rc = map_document_reference(d, r);
        break;
    default:
        rc = 0;
        break;
    }
    if (rc == 0 || rc == SKIP_QUIET) /* SKIP_QUIET: nothing was emitted */
        return mf_ingest_end_record(d->c);
    mf_ingest_drop_record(d->c);
    if (rc == SKIP)
        return issue(d, d->bad_kind, d->bad_path, d->bad_msg);
    return rc;
}

/* The type of a resource, or an issue (path ".resourceType") when it has none or an unknown
 * one: then *rt is RT_UNKNOWN and the return value 0 (skip it) or MF_EPARSE. */
static int resource_type(struct doc *d, const cJSON *r, enum rtype *rt)
{
    *rt = RT_UNKNOWN;
    if (!cJSON_IsObject(r))
        return issue(d, MF_ISSUE_RESOURCE_TYPE, "", "resource is not a json object");
    const cJSON *t = get(r, "resourceType");
    if (!cJSON_IsString(t))
        return issue(d, MF_ISSUE_RESOURCE_TYPE, ".resourceType",
                     t ? "resourceType is not a string" : "no resourceType");
    *rt = classify(t->valuestring);
    if (*rt == RT_UNKNOWN)
        return issue(d, MF_ISSUE_RESOURCE_TYPE, ".resourceType", "not a FHIR R4 resource type");
    return 0;
}

/* A Bundle: pass 1 maps the fullUrls of Patient and Medication entries (and runs the
 * de-identification hook on Patients, whose ids the other entries then resolve to); pass 2
 * maps every entry. */
static int map_bundle(struct doc *d, cJSON *b)
{
    const cJSON *entries = get(b, "entry");
    if (entries == NULL)
        return 0;
    if (!cJSON_IsArray(entries))
        return issue(d, MF_ISSUE_MISSING_FIELD, ".entry", "entry is not an array");
    int rc;
    const cJSON *e;
    cJSON_ArrayForEach(e, entries)
    {
        cJSON *r = cJSON_GetObjectItemCaseSensitive(e, "resource");
        const char *t = mf_json_str(r, "resourceType");
        if (t == NULL || (t[0] != 'P' && t[0] != 'M'))
            continue;
        int patient = strcmp(t, "Patient") == 0;
        if (!patient && strcmp(t, "Medication") != 0)
            continue;
        if (patient && (rc = deid_resource(d, r)) != 0) {
            if (rc != SKIP)
                return rc;
            /* report it against its entry; pass 2 leaves it out, and references to it do
             * not resolve */
            int64_t k = 0;
            for (const cJSON *x = entries->child; x && x != e; x = x->next)
                k++;
            d->entry = k;
            rc = issue(d, d->bad_kind, d->bad_path, d->bad_msg);
            d->entry = -1;
            if (rc)
                return rc;
            if (d->n_deid_failed == (int)(sizeof d->deid_failed / sizeof d->deid_failed[0]))
                return issue(d, MF_ISSUE_TOO_BIG, ".entry",
                             "too many patients that cannot be de-identified");
            d->deid_failed[d->n_deid_failed++] = r;
            continue;
        }
        const char *url = mf_json_str(e, "fullUrl");
        if (url && (rc = add_ref(d, url, r, patient)) != 0)
            return mf_err_set(&d->c->err, rc, "out of memory reading '%s'", d->file);
    }
    if (d->n_refs > 1)
        qsort(d->refs, d->n_refs, sizeof *d->refs, cmp_ref);

    d->entry = 0;
    for (e = entries->child; e; e = e->next, d->entry++) {
        cJSON *r = cJSON_GetObjectItemCaseSensitive(e, "resource");
        if (!cJSON_IsObject(e) || r == NULL)
            continue; /* e.g. a DELETE request of a transaction */
        enum rtype rt;
        if ((rc = resource_type(d, r, &rt)) != 0)
            return rc;
        if (rt == RT_UNKNOWN || rt == RT_OTHER)
            continue;
        int refused = 0;
        for (int k = 0; k < d->n_deid_failed; k++)
            refused |= d->deid_failed[k] == r;
        if (refused)
            continue;
        if ((rc = map_resource(d, r, rt, rt == RT_PATIENT)) != 0)
            return rc;
    }
    d->entry = -1;
    return 0;
}

/* Map one parsed document: a Bundle or a single resource. */
static int map_doc(struct doc *d, cJSON *root)
{
    enum rtype rt;
    int rc = resource_type(d, root, &rt);
    if (rc || rt == RT_UNKNOWN)
        return rc;
    d->type = get(root, "resourceType")->valuestring;
    if (strcmp(d->type, "Bundle") == 0)
        return map_bundle(d, root);
    if (rt == RT_OTHER)
        return 0;
    return map_resource(d, root, rt, 0);
}

/* Parse and map data[0..len); the common part of both entry points. */
static int ingest(struct mf_ingest_ctx *c, const char *file, int ndjson, int64_t line,
                  int64_t offset, const char *data, size_t len)
{
    struct doc d;
    memset(&d, 0, sizeof d);
    d.c = c;
    d.file = file;
    d.data = data;
    d.len = len;
    d.ndjson = ndjson;
    d.line = line;
    d.base = offset;
    d.entry = -1;
    d.scan_entry = -1;
    d.line_no = 1;
    d.refs = d.small;
    d.cap_refs = SMALL_REFS;
    d.text.max = (size_t)MF_MAX_TEXT_LEN + 4;

    int rc = 0;
    size_t err_off = 0;
    cJSON *root = NULL;
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) { /* a UTF-8 byte order mark */
        data += 3;
        len -= 3;
        offset += 3;
        d.data = data;
        d.len = len;
        d.base = offset;
    }
    root = mf_json_parse(data, len, &err_off);
    if (root == NULL) {
        if (err_off > len)
            err_off = len;
        struct mf_issue_loc loc = {file, ndjson ? line : line_at(&d, err_off),
                                   ndjson ? offset : offset + (int64_t)err_off, NULL};
        if (ndjson)
            rc = mf_ingest_issue(c, MF_ISSUE_JSON, &loc,
                                 "malformed json (parse stopped at byte %zu of the line)", err_off);
        else
            rc = mf_ingest_issue(c, MF_ISSUE_JSON, &loc, "malformed json");
        goto out;
    }
    rc = map_doc(&d, root);
out:
    if (root)
        mf_json_release(root);
    if (d.refs != d.small)
        free(d.refs);
    mf_buf_release(&d.text);
    return rc;
}

/* One JSON document (see ingest.h). */
int mf_fhir_ingest_json(struct mf_ingest_ctx *c, const char *file, const char *data, size_t len)
{
    return ingest(c, file, 0, 0, 0, data, len);
}

/* One NDJSON line (see ingest.h); blank lines are skipped. */
int mf_fhir_ingest_ndjson_line(struct mf_ingest_ctx *c, const char *file, int64_t line,
                               int64_t offset, const char *data, size_t len)
{
    if (skip_ws(data, len, 0) == len)
        return 0; /* a blank line */
    return ingest(c, file, 1, line, offset, data, len);
}
