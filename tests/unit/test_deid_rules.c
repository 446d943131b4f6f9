/* test_deid_rules.c - unit tests for the FHIR de-identification rule engine (deid/rules.h) and
 * its two shipped profiles, ending with the safe-harbor profile on real Synthea bundles. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <nettle/base64.h>

#include "core/fs.h"
#include "core/hash.h"
#include "core/json.h"
#include "core/timeutil.h"
#include "deid/deid.h"
#include "deid/rules.h"
#include "deid/zip3.h"

#include "testutil.h"

#define DAY MF_USEC_PER_DAY

static struct mf_deid_key key_a, key_b;

static int text_calls;

/* Text "de-identification" for tests: wraps the text in brackets, so tests see it ran. */
static int bracket(void *arg, const char *in, size_t n, struct mf_buf *out, struct mf_err *err)
{
    (void)arg;
    (void)err;
    text_calls++;
    return mf_buf_putc(out, '[') || mf_buf_append(out, in, n) || mf_buf_putc(out, ']');
}

/* Identity: leaves text as it is (so structural rules alone are tested). */
static int identity(void *arg, const char *in, size_t n, struct mf_buf *out, struct mf_err *err)
{
    (void)arg;
    (void)err;
    text_calls++;
    return mf_buf_append(out, in, n);
}

/* Emits markup, which must come out escaped inside a narrative. */
static int angle(void *arg, const char *in, size_t n, struct mf_buf *out, struct mf_err *err)
{
    (void)arg;
    (void)err;
    (void)in;
    (void)n;
    return mf_buf_puts(out, "<b>");
}

static struct mf_deid_rules *rules(const char *json)
{
    struct mf_deid_rules *r = NULL;
    struct mf_err err = {0};
    int rc = mf_deid_rules_parse(json, strlen(json), "test", &r, &err);
    if (rc)
        fprintf(stderr, "rules: %s\n", err.msg);
    assert_int_equal(rc, 0);
    return r;
}

/* Apply rule text to resource text; returns the result printed (free), or NULL on error with
 * the error in *errp when given. */
static char *run_full(const char *rules_json, const char *resource, const struct mf_deid_key *key,
                      int64_t shift_days,
                      int (*text)(void *, const char *, size_t, struct mf_buf *, struct mf_err *),
                      struct mf_err *errp)
{
    struct mf_deid_rules *r = rules(rules_json);
    cJSON *res = cJSON_Parse(resource);
    assert_non_null(res);
    struct mf_deid_apply a = {.key = key, .shift = shift_days * DAY, .text = text};
    struct mf_err err = {0};
    int rc = mf_deid_rules_apply(r, &a, res, &err);
    char *out = rc == 0 ? cJSON_PrintUnformatted(res) : NULL;
    if (errp)
        *errp = err;
    else if (rc)
        fprintf(stderr, "apply: %s\n", err.msg);
    cJSON_Delete(res);
    mf_deid_rules_free(r);
    return out;
}

static char *run(const char *rules_json, const char *resource, int64_t shift_days)
{
    return run_full(rules_json, resource, &key_a, shift_days, bracket, NULL);
}

/* Assert that got equals the JSON text want (both normalised by cJSON). */
static void json_eq(char *got, const char *want)
{
    assert_non_null(got);
    cJSON *w = cJSON_Parse(want);
    assert_non_null(w);
    char *ws = cJSON_PrintUnformatted(w);
    if (strcmp(got, ws) != 0)
        fprintf(stderr, "got  %s\nwant %s\n", got, ws);
    assert_string_equal(got, ws);
    cJSON_free(ws);
    cJSON_Delete(w);
    cJSON_free(got);
}

static void pseudo(const struct mf_deid_key *k, const char *id, char out[33])
{
    mf_deid_pseudonym(k, id, strlen(id), out);
}

static int setup(void **state)
{
    if (setup_tmp(state) != 0)
        return -1;
    for (size_t i = 0; i < sizeof key_a.bytes; i++) {
        key_a.bytes[i] = (uint8_t)(i * 7 + 1);
        key_b.bytes[i] = (uint8_t)(i * 13 + 5);
    }
    return 0;
}

/* --- parsing ----------------------------------------------------------------------------- */

static void bad_rules_name_the_rule(void **state)
{
    (void)state;
    static const struct {
        const char *json, *want;
    } cases[] = {
        {"{\"rules\":[{\"type\":\"HumanName\",\"method\":\"redact\"},"
         "{\"type\":\"date\",\"method\":\"scramble\"}]}",
         "test: rule 2: unknown method 'scramble'"},
        {"{\"rules\":[{\"method\":\"keep\"}]}", "test: rule 1: no selector"},
        {"{\"rules\":[{\"path\":\"Patient.name\"}]}", "test: rule 1: no method"},
        {"{\"rules\":[{\"path\":\"Patient..name\",\"method\":\"keep\"}]}",
         "test: rule 1: path 'Patient..name' has a bad element name"},
        {"{\"rules\":[{\"path\":\"patient.name\",\"method\":\"keep\"}]}",
         "test: rule 1: path 'patient.name' must start with"},
        {"{\"rules\":[{\"path\":\"Patient.nmae\",\"method\":\"keep\"}]}",
         "test: rule 1: path 'Patient.nmae': 'nmae' is not an element of Patient"},
        {"{\"rules\":[{\"path\":\"Patient.birthDate.year\",\"method\":\"keep\"}]}",
         "test: rule 1: path 'Patient.birthDate.year' goes below a primitive"},
        {"{\"rules\":[{\"type\":\"Humanname\",\"method\":\"redact\"}]}",
         "test: rule 1: unknown type 'Humanname'"},
        {"{\"rules\":[{\"type\":\"date\",\"method\":\"keep\"},{\"type\":\"date\","
         "\"method\":\"generalize\"}]}",
         "test: rule 2: generalize needs 'to'"},
        {"{\"rules\":[{\"type\":\"date\",\"method\":\"generalize\",\"to\":\"decade\"}]}",
         "test: rule 1: 'to' must be year, month or zip3"},
        {"{\"rules\":[{\"type\":\"string\",\"method\":\"substitute\"}]}",
         "test: rule 1: substitute needs a 'value'"},
        {"{\"rules\":[{\"type\":\"decimal\",\"method\":\"perturb\"}]}",
         "test: rule 1: perturb needs a 'span'"},
        {"{\"rules\":[{\"type\":\"decimal\",\"method\":\"perturb\",\"span\":\"big\"}]}",
         "test: rule 1: span must be a number"},
        {"{\"rules\":[{\"type\":\"decimal\",\"method\":\"perturb\",\"span\":1,"
         "\"range_type\":\"wild\"}]}",
         "test: rule 1: range_type must be fixed or proportional"},
        {"{\"rules\":[{\"type\":\"decimal\",\"method\":\"perturb\",\"span\":1,\"round_to\":1.5}]}",
         "test: rule 1: round_to must be a whole number"},
        {"{\"rules\":[{\"type\":\"date\",\"method\":\"redact\",\"keep_year\":\"yes\"}]}",
         "test: rule 1: keep_year must be true or false"},
        {"{\"rules\":[{\"type\":\"date\",\"method\":\"keep\",\"to\":\"year\"}]}",
         "test: rule 1: 'to' is not a parameter of method 'keep'"},
        {"{\"rules\":[{\"type\":7,\"method\":\"keep\"}]}",
         "test: rule 1: path, type and url must be strings"},
        {"{\"rules\":[{\"type\":\"date\",\"method\":3}]}", "test: rule 1: method must be a string"},
        {"{\"rules\":[1]}", "test: rule 1: not an object"},
        {"{\"rules\":{}}", "test: no \"rules\" array"},
        {"{\"rules\":[],\"extra\":1}", "test: unknown key 'extra'"},
        {"[]", "test: a rule set is a JSON object"},
        {"{\"rules\":[", "test: not valid JSON"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct mf_deid_rules *r = (struct mf_deid_rules *)1;
        struct mf_err err = {0};
        int rc = mf_deid_rules_parse(cases[i].json, strlen(cases[i].json), "test", &r, &err);
        if (rc != MF_EPARSE || strstr(err.msg, cases[i].want) != err.msg)
            fprintf(stderr, "case %zu: rc %d msg '%s'\n", i, rc, err.msg);
        assert_int_equal(rc, MF_EPARSE);
        assert_ptr_equal(r, NULL);
        assert_ptr_equal(strstr(err.msg, cases[i].want), err.msg);
    }
}

static void profiles_load_by_name_and_path(void **state)
{
    (void)state;
    static const char *const names[] = {"safe-harbor", "limited-data-set"};
    for (int i = 0; i < 2; i++) {
        struct mf_deid_rules *r = NULL;
        struct mf_err err = {0};
        int rc = mf_deid_rules_load(names[i], &r, &err);
        if (rc)
            fprintf(stderr, "%s\n", err.msg);
        assert_int_equal(rc, 0);
        assert_string_equal(mf_deid_rules_name(r), names[i]);
        /* the hash is of the file's text */
        char path[512], hex[65];
        snprintf(path, sizeof path, "%s/%s.json", mf_data_dir("deid/profiles"), names[i]);
        struct mf_buf b = MF_BUF_INIT;
        assert_int_equal(mf_fs_read_file(path, 1 << 24, &b, &err), 0);
        assert_int_equal(mf_sha256_hex(b.data, b.len, hex), 0);
        assert_string_equal(mf_deid_rules_sha256(r), hex);
        mf_deid_rules_free(r);
        /* by path */
        assert_int_equal(mf_deid_rules_load(path, &r, &err), 0);
        assert_string_equal(mf_deid_rules_sha256(r), hex);
        mf_deid_rules_free(r);
        mf_buf_release(&b);
    }
    struct mf_deid_rules *r = NULL;
    struct mf_err err = {0};
    assert_int_equal(mf_deid_rules_load("no-such-profile", &r, &err), MF_ENOTFOUND);
    assert_non_null(strstr(err.msg, "no-such-profile"));
    /* a rule file by path; its name defaults to the file name */
    char p[512];
    snprintf(p, sizeof p, "%s/site.json", tmpdir);
    FILE *f = fopen(p, "w");
    fputs("{\"rules\":[{\"type\":\"HumanName\",\"method\":\"redact\"}]}", f);
    fclose(f);
    assert_int_equal(mf_deid_rules_load(p, &r, &err), 0);
    assert_string_equal(mf_deid_rules_name(r), "site");
    mf_deid_rules_free(r);
}

/* --- methods ----------------------------------------------------------------------------- */

static void keep_and_redact(void **state)
{
    (void)state;
    const char *res = "{\"resourceType\":\"Patient\",\"gender\":\"female\","
                      "\"birthDate\":\"1980-05-06\",\"name\":[{\"family\":\"Doe\","
                      "\"given\":[\"Jane\",\"Q\"]}],\"deceasedBoolean\":false}";
    /* redact removes; an emptied object or array goes with it; no rule: kept */
    json_eq(run("{\"rules\":[{\"path\":\"HumanName.family\",\"method\":\"redact\"},"
                "{\"path\":\"Patient.name.given\",\"method\":\"redact\"}]}",
                res, 10),
            "{\"resourceType\":\"Patient\",\"gender\":\"female\",\"birthDate\":\"1980-05-06\","
            "\"deceasedBoolean\":false}");
    /* keep_year */
    json_eq(run("{\"rules\":[{\"type\":\"date\",\"method\":\"redact\",\"keep_year\":true},"
                "{\"type\":\"HumanName\",\"method\":\"redact\",\"keep_year\":true}]}",
                res, 10),
            "{\"resourceType\":\"Patient\",\"gender\":\"female\",\"birthDate\":\"1980\","
            "\"deceasedBoolean\":false}");
    /* keep is explicit and shields */
    json_eq(run("{\"rules\":[{\"path\":\"Patient.name\",\"method\":\"keep\"},"
                "{\"type\":\"string\",\"method\":\"redact\"}]}",
                res, 10),
            res);
}

static void keep_shields_against_later_rules(void **state)
{
    (void)state;
    const char *res = "{\"resourceType\":\"Patient\",\"address\":[{\"line\":[\"1 Main St\"],"
                      "\"city\":\"Springfield\",\"state\":\"MA\",\"postalCode\":\"02139\"}]}";
    /* an earlier keep on a descendant survives a later redact of its ancestor */
    json_eq(run("{\"rules\":[{\"path\":\"Patient.address.state\",\"method\":\"keep\"},"
                "{\"type\":\"Address\",\"method\":\"redact\"}]}",
                res, 1),
            "{\"resourceType\":\"Patient\",\"address\":[{\"state\":\"MA\"}]}");
    /* in the other order the redact comes first and takes everything */
    json_eq(run("{\"rules\":[{\"type\":\"Address\",\"method\":\"redact\"},"
                "{\"path\":\"Patient.address.state\",\"method\":\"keep\"}]}",
                res, 1),
            "{\"resourceType\":\"Patient\"}");
    /* a rule decides only what its method applies to: dates of a period are shifted by an
     * earlier type rule, the rest of the period goes with a later redact of the period */
    json_eq(run("{\"rules\":[{\"type\":\"dateTime\",\"method\":\"dateshift\"},"
                "{\"path\":\"Encounter.period\",\"method\":\"redact\"}]}",
                "{\"resourceType\":\"Encounter\",\"period\":{\"id\":\"p1\","
                "\"start\":\"2020-03-15T10:00:00Z\"}}",
                -37),
            "{\"resourceType\":\"Encounter\",\"period\":{\"start\":\"2020-02-07T10:00:00Z\"}}");
    /* a keep of a whole node shields every leaf under it from later rules */
    json_eq(run("{\"rules\":[{\"type\":\"CodeableConcept\",\"method\":\"keep\"},"
                "{\"type\":\"string\",\"method\":\"redact\"}]}",
                "{\"resourceType\":\"Condition\",\"code\":{\"coding\":[{\"code\":\"1\","
                "\"display\":\"Flu\"}],\"text\":\"Flu\"},\"note\":[{\"text\":\"x\"}]}",
                0),
            "{\"resourceType\":\"Condition\",\"code\":{\"coding\":[{\"code\":\"1\","
            "\"display\":\"Flu\"}],\"text\":\"Flu\"},\"note\":[{\"text\":\"x\"}]}");
}

static void path_and_type_selectors(void **state)
{
    (void)state;
    const char *pat = "{\"resourceType\":\"Patient\",\"name\":[{\"family\":\"Doe\"}],"
                      "\"contact\":[{\"name\":{\"family\":\"Roe\"}}]}";
    const char *prac = "{\"resourceType\":\"Practitioner\",\"name\":[{\"family\":\"Poe\"}]}";
    const char *by_path = "{\"rules\":[{\"path\":\"Patient.name.family\",\"method\":\"redact\"}]}";
    const char *by_type = "{\"rules\":[{\"type\":\"HumanName\",\"method\":\"redact\"}]}";
    const char *by_dtpath = "{\"rules\":[{\"path\":\"HumanName.family\",\"method\":\"redact\"}]}";
    /* a path selects one element of one resource type */
    json_eq(run(by_path, pat, 0),
            "{\"resourceType\":\"Patient\",\"contact\":[{\"name\":{\"family\":\"Roe\"}}]}");
    json_eq(run(by_path, prac, 0), prac);
    /* a type selects that type wherever it is, in any resource */
    json_eq(run(by_type, pat, 0), "{\"resourceType\":\"Patient\"}");
    json_eq(run(by_type, prac, 0), "{\"resourceType\":\"Practitioner\"}");
    /* a path from a data type: that element of the type, wherever the type is */
    json_eq(run(by_dtpath, pat, 0), "{\"resourceType\":\"Patient\"}");
    /* choice elements by their JSON name, or all of them by name[x] */
    const char *obs =
        "{\"resourceType\":\"Observation\",\"valueString\":\"high\","
        "\"component\":[{\"valueString\":\"low\"},{\"valueQuantity\":{\"value\":1}}]}";
    json_eq(
        run("{\"rules\":[{\"path\":\"Observation.valueString\",\"method\":\"redact\"}]}", obs, 0),
        "{\"resourceType\":\"Observation\",\"component\":[{\"valueString\":\"low\"},"
        "{\"valueQuantity\":{\"value\":1}}]}");
    json_eq(run("{\"rules\":[{\"path\":\"Observation.component.value[x]\",\"method\":\"redact\"}]}",
                obs, 0),
            "{\"resourceType\":\"Observation\",\"valueString\":\"high\"}");
    json_eq(run("{\"rules\":[{\"type\":\"Quantity\",\"method\":\"redact\"}]}", obs, 0),
            "{\"resourceType\":\"Observation\",\"valueString\":\"high\","
            "\"component\":[{\"valueString\":\"low\"}]}");
    /* paths and types reach into contained resources; Resource.* matches any resource */
    const char *eob = "{\"resourceType\":\"ExplanationOfBenefit\",\"id\":\"e\",\"contained\":"
                      "[{\"resourceType\":\"Coverage\",\"id\":\"c\",\"subscriberId\":\"S1\"}]}";
    json_eq(run("{\"rules\":[{\"path\":\"Resource.id\",\"method\":\"substitute\",\"value\":\"X\"},"
                "{\"path\":\"Coverage.subscriberId\",\"method\":\"redact\"}]}",
                eob, 0),
            "{\"resourceType\":\"ExplanationOfBenefit\",\"id\":\"X\",\"contained\":"
            "[{\"resourceType\":\"Coverage\",\"id\":\"X\"}]}");
    /* a path and a type together: both must hold */
    json_eq(run("{\"rules\":[{\"path\":\"Observation.valueString\",\"type\":\"Quantity\","
                "\"method\":\"redact\"}]}",
                obs, 0),
            obs);
    /* an extension by its url */
    json_eq(run("{\"rules\":[{\"url\":\"http://x/secret\",\"method\":\"redact\"}]}",
                "{\"resourceType\":\"Patient\",\"extension\":[{\"url\":\"http://x/secret\","
                "\"valueString\":\"s\"},{\"url\":\"http://x/other\",\"valueString\":\"o\"}]}",
                0),
            "{\"resourceType\":\"Patient\",\"extension\":[{\"url\":\"http://x/other\","
            "\"valueString\":\"o\"}]}");
}

static void dateshift_keeps_precision_and_intervals(void **state)
{
    (void)state;
    const char *rs = "{\"rules\":[{\"type\":\"date\",\"method\":\"dateshift\"},"
                     "{\"type\":\"dateTime\",\"method\":\"dateshift\"},"
                     "{\"type\":\"instant\",\"method\":\"dateshift\"}]}";
    json_eq(run(rs,
                "{\"resourceType\":\"Observation\",\"effectivePeriod\":{"
                "\"start\":\"2020-03-15T23:30:00+05:30\",\"end\":\"2020-03-16T01:00:00.25-04:00\"},"
                "\"issued\":\"2019-12-31T23:59:59.123Z\"}",
                -37),
            "{\"resourceType\":\"Observation\",\"effectivePeriod\":{"
            "\"start\":\"2020-02-07T23:30:00+05:30\",\"end\":\"2020-02-08T01:00:00.25-04:00\"},"
            "\"issued\":\"2019-11-24T23:59:59.123Z\"}");
    /* partial dates: the first day of the period moves, the precision stays */
    json_eq(run(rs,
                "{\"resourceType\":\"Condition\",\"onsetDateTime\":\"2020\","
                "\"abatementDateTime\":\"2020-03\",\"recordedDate\":\"2020-02-28\"}",
                -37),
            "{\"resourceType\":\"Condition\",\"onsetDateTime\":\"2019\","
            "\"abatementDateTime\":\"2020-01\",\"recordedDate\":\"2020-01-22\"}");
    json_eq(run(rs,
                "{\"resourceType\":\"Condition\",\"onsetDateTime\":\"2020\","
                "\"abatementDateTime\":\"2020-02\",\"recordedDate\":\"2020-02-28\"}",
                1),
            "{\"resourceType\":\"Condition\",\"onsetDateTime\":\"2020\","
            "\"abatementDateTime\":\"2020-02\",\"recordedDate\":\"2020-02-29\"}");
    /* exact intervals: every instant moves by the same whole number of days */
    const char *times[] = {"2001-01-01T00:00:00Z", "2001-03-01T12:34:56+02:00",
                           "2004-02-29T08:00:00-07:00", "1999-12-31T23:59:59Z"};
    for (int64_t shift = -365; shift <= 365; shift += 73) {
        for (size_t i = 0; i < 4; i++) {
            char res[200];
            snprintf(res, sizeof res,
                     "{\"resourceType\":\"Encounter\",\"period\":{\"start\":\"%s\"}}", times[i]);
            char *out = run(rs, res, shift);
            cJSON *o = cJSON_Parse(out);
            const char *s =
                cJSON_GetObjectItem(cJSON_GetObjectItem(o, "period"), "start")->valuestring;
            int64_t t0, t1;
            assert_int_equal(mf_time_parse(times[i], strlen(times[i]), &t0), 0);
            assert_int_equal(mf_time_parse(s, strlen(s), &t1), 0);
            assert_true(t1 - t0 == shift * DAY);
            assert_int_equal(strlen(s), strlen(times[i])); /* same form, same zone */
            assert_string_equal(s + 10, times[i] + 10);
            cJSON_Delete(o);
            cJSON_free(out);
        }
    }
    /* a malformed date is an error naming the path, never the value */
    struct mf_err err = {0};
    char *out = run_full(rs, "{\"resourceType\":\"Patient\",\"birthDate\":\"May 6 1980\"}", &key_a,
                         5, NULL, &err);
    assert_null(out);
    assert_int_equal(err.code, MF_EPARSE);
    assert_non_null(strstr(err.msg, "Patient.birthDate"));
    assert_null(strstr(err.msg, "1980"));
}

static void generalize_and_zip3(void **state)
{
    (void)state;
    assert_int_equal(mf_deid_zip3_init(NULL, NULL), 0);
    const char *res = "{\"resourceType\":\"Patient\",\"birthDate\":\"1980-05-06\","
                      "\"deceasedDateTime\":\"2019-07-08T10:00:00Z\",\"address\":["
                      "{\"postalCode\":\"02139-4307\"},{\"postalCode\":\"03601\"},"
                      "{\"postalCode\":\"K1A 0B1\"}]}";
    json_eq(
        run("{\"rules\":[{\"path\":\"Patient.birthDate\",\"method\":\"generalize\","
            "\"to\":\"year\"},{\"type\":\"dateTime\",\"method\":\"generalize\",\"to\":\"month\"},"
            "{\"path\":\"Address.postalCode\",\"method\":\"generalize\",\"to\":\"zip3\"}]}",
            res, 3),
        "{\"resourceType\":\"Patient\",\"birthDate\":\"1980\",\"deceasedDateTime\":\"2019-07\","
        "\"address\":[{\"postalCode\":\"021\"},{\"postalCode\":\"000\"},"
        "{\"postalCode\":\"000\"}]}");
    /* 036 is a restricted three-digit area (data/deid/zip3-restricted.txt), 021 is not */
    char z[4];
    assert_int_equal(mf_deid_zip3("03601", 5, z), 0);
    assert_string_equal(z, "000");
    assert_int_equal(mf_deid_zip3("02139", 5, z), 0);
    assert_string_equal(z, "021");
    /* zip3 on a whole Address applies to its postal code only */
    json_eq(run("{\"rules\":[{\"type\":\"Address\",\"method\":\"generalize\",\"to\":\"zip3\"}]}",
                "{\"resourceType\":\"Patient\",\"address\":[{\"city\":\"Boston\","
                "\"postalCode\":\"02139\"}]}",
                3),
            "{\"resourceType\":\"Patient\",\"address\":[{\"city\":\"Boston\","
            "\"postalCode\":\"021\"}]}");
}

static void substitute_values(void **state)
{
    (void)state;
    const char *res =
        "{\"resourceType\":\"Patient\",\"gender\":\"female\",\"name\":[{\"use\":"
        "\"official\",\"family\":\"Doe\",\"given\":[\"Jane\"]}],\"multipleBirthInteger\":2}";
    json_eq(run("{\"rules\":[{\"path\":\"HumanName.given\",\"method\":\"substitute\","
                "\"value\":\"X\"},{\"path\":\"Patient.multipleBirthInteger\","
                "\"method\":\"substitute\",\"value\":null}]}",
                res, 0),
            "{\"resourceType\":\"Patient\",\"gender\":\"female\",\"name\":[{\"use\":\"official\","
            "\"family\":\"Doe\",\"given\":[\"X\"]}],\"multipleBirthInteger\":null}");
    /* a complex node replaced whole */
    json_eq(run("{\"rules\":[{\"type\":\"HumanName\",\"method\":\"substitute\","
                "\"value\":{\"text\":\"anonymous\"}}]}",
                res, 0),
            "{\"resourceType\":\"Patient\",\"gender\":\"female\",\"name\":[{\"text\":"
            "\"anonymous\"}],\"multipleBirthInteger\":2}");
    /* ... unless an earlier rule decides part of it: that part stays, the rest goes */
    json_eq(run("{\"rules\":[{\"path\":\"HumanName.use\",\"method\":\"keep\"},"
                "{\"type\":\"HumanName\",\"method\":\"substitute\",\"value\":{\"text\":\"a\"}}]}",
                res, 0),
            "{\"resourceType\":\"Patient\",\"gender\":\"female\",\"name\":[{\"use\":"
            "\"official\"}],\"multipleBirthInteger\":2}");
}

static double qty(const char *out, const char *member)
{
    cJSON *o = cJSON_Parse(out);
    double v = cJSON_GetObjectItem(cJSON_GetObjectItem(o, member), "value")->valuedouble;
    cJSON_Delete(o);
    return v;
}

static void perturb_is_keyed_and_bounded(void **state)
{
    (void)state;
    const char *fixed = "{\"rules\":[{\"path\":\"Observation.valueQuantity\",\"method\":"
                        "\"perturb\",\"span\":5,\"round_to\":1}]}";
    const char *prop = "{\"rules\":[{\"path\":\"Observation.valueQuantity.value\",\"method\":"
                       "\"perturb\",\"span\":0.1,\"range_type\":\"proportional\"}]}";
    int differ_key = 0, differ_value = 0;
    double last = NAN;
    for (int i = 0; i < 20; i++) {
        double v = 50 + i * 3.7;
        char res[160];
        snprintf(res, sizeof res,
                 "{\"resourceType\":\"Observation\",\"valueQuantity\":{\"value\":%.17g,"
                 "\"unit\":\"kg\"}}",
                 v);
        char *a1 = run_full(fixed, res, &key_a, 0, NULL, NULL);
        char *a2 = run_full(fixed, res, &key_a, 0, NULL, NULL);
        char *b1 = run_full(fixed, res, &key_b, 0, NULL, NULL);
        char *p1 = run_full(prop, res, &key_a, 0, NULL, NULL);
        assert_string_equal(a1, a2); /* deterministic */
        double x = qty(a1, "valueQuantity"), y = qty(b1, "valueQuantity");
        double z = qty(p1, "valueQuantity");
        assert_true(fabs(x - v) <= 5.05);
        assert_true(fabs(x * 10 - round(x * 10)) < 1e-6); /* round_to 1 */
        assert_true(fabs(z - v) <= 0.1 * v + 1e-9);
        differ_key += x != y;
        differ_value += !(fabs((x - v) - last) < 1e-9);
        last = x - v;
        assert_non_null(strstr(a1, "\"unit\":\"kg\""));
        cJSON_free(a1);
        cJSON_free(a2);
        cJSON_free(b1);
        cJSON_free(p1);
    }
    assert_true(differ_key >= 15);   /* another key, other noise */
    assert_true(differ_value >= 15); /* noise depends on the value */
    /* integers stay integers (positiveInt at least 1) */
    char *o = run("{\"rules\":[{\"path\":\"Claim.item.sequence\",\"method\":\"perturb\","
                  "\"span\":3}]}",
                  "{\"resourceType\":\"Claim\",\"item\":[{\"sequence\":1},{\"sequence\":7}]}", 0);
    cJSON *c = cJSON_Parse(o);
    cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(c, "item"))
    {
        double s = cJSON_GetObjectItem(it, "sequence")->valuedouble;
        assert_true(s == floor(s) && s >= 1);
    }
    cJSON_Delete(c);
    cJSON_free(o);
}

static void text_method(void **state)
{
    (void)state;
    const char *rs = "{\"rules\":[{\"path\":\"Attachment.data\",\"method\":\"text\"},"
                     "{\"type\":\"Narrative\",\"method\":\"text\"},"
                     "{\"type\":\"string\",\"method\":\"text\"},"
                     "{\"type\":\"markdown\",\"method\":\"text\"}]}";
    /* strings, markdown (Annotation.text), narrative text runs */
    json_eq(
        run(rs,
            "{\"resourceType\":\"Condition\",\"text\":{\"status\":\"generated\",\"div\":"
            "\"<div xmlns=\\\"http://www.w3.org/1999/xhtml\\\"><p class=\\\"x\\\">Seen by "
            "<a href=\\\"mailto:j@x.org\\\">Dr J</a></p><!-- J --><td colspan=\\\"2\\\"/></div>\"},"
            "\"note\":[{\"text\":\"call Jane\"}],\"nickname\":\"Janey\"}",
            0),
        "{\"resourceType\":\"Condition\",\"text\":{\"status\":\"generated\",\"div\":"
        "\"<div xmlns=\\\"http://www.w3.org/1999/xhtml\\\"><p>[Seen by ]<a>[Dr J]</a></p>"
        "<td colspan=\\\"2\\\"/></div>\"},\"note\":[{\"text\":\"[call Jane]\"}],"
        "\"nickname\":\"[Janey]\"}");
    /* markup that the text de-identifier emits is escaped in a narrative */
    char *o = run_full(rs,
                       "{\"resourceType\":\"Condition\",\"text\":{\"status\":\"generated\","
                       "\"div\":\"<div>x</div>\"}}",
                       &key_a, 0, angle, NULL);
    json_eq(o, "{\"resourceType\":\"Condition\",\"text\":{\"status\":\"generated\","
               "\"div\":\"<div>&lt;b&gt;</div>\"}}");
    /* attachments: text/plain decoded, de-identified, encoded again; other content removed */
    const char *note = "Jane Doe, MRN 12345, seen today.";
    char b64[128], res[512];
    base64_encode_raw(b64, strlen(note), (const uint8_t *)note);
    b64[BASE64_ENCODE_RAW_LENGTH(strlen(note))] = '\0';
    snprintf(res, sizeof res,
             "{\"resourceType\":\"DocumentReference\",\"content\":["
             "{\"attachment\":{\"contentType\":\"text/plain; charset=utf-8\",\"data\":\"%s\"}},"
             "{\"attachment\":{\"contentType\":\"application/pdf\",\"data\":\"%s\","
             "\"title\":\"scan\"}}]}",
             b64, b64);
    o = run(rs, res, 0);
    cJSON *d = cJSON_Parse(o);
    cJSON *content = cJSON_GetObjectItem(d, "content");
    cJSON *a0 = cJSON_GetObjectItem(cJSON_GetArrayItem(content, 0), "attachment");
    cJSON *a1 = cJSON_GetObjectItem(cJSON_GetArrayItem(content, 1), "attachment");
    const char *data = cJSON_GetObjectItem(a0, "data")->valuestring;
    uint8_t dec[256];
    size_t dn = sizeof dec;
    struct base64_decode_ctx ctx;
    base64_decode_init(&ctx);
    assert_true(base64_decode_update(&ctx, &dn, dec, strlen(data), data));
    assert_true(base64_decode_final(&ctx));
    char want[128];
    snprintf(want, sizeof want, "[%s]", note);
    assert_int_equal(dn, strlen(want));
    assert_memory_equal(dec, want, dn);
    assert_null(cJSON_GetObjectItem(a1, "data"));
    assert_string_equal(cJSON_GetObjectItem(a1, "title")->valuestring, "[scan]");
    cJSON_Delete(d);
    cJSON_free(o);
    /* bad base64 in a text attachment: an error naming the path */
    struct mf_err err = {0};
    o = run_full(rs,
                 "{\"resourceType\":\"DocumentReference\",\"content\":[{\"attachment\":"
                 "{\"contentType\":\"text/plain\",\"data\":\"@@@@\"}}]}",
                 &key_a, 0, bracket, &err);
    assert_null(o);
    assert_non_null(strstr(err.msg, "DocumentReference.content.attachment.data"));
    /* no text de-identifier: text is removed */
    o = run_full(rs,
                 "{\"resourceType\":\"Condition\",\"note\":[{\"text\":\"call Jane\"}],"
                 "\"text\":{\"status\":\"generated\",\"div\":\"<div>Jane</div>\"}}",
                 &key_a, 0, NULL, NULL);
    json_eq(o, "{\"resourceType\":\"Condition\",\"text\":{\"status\":\"generated\"}}");
}

static void only_text_changes_only_text(void **state)
{
    (void)state;
    struct mf_deid_rules *r = rules("{\"rules\":[{\"path\":\"Observation.note.text\","
                                    "\"method\":\"keep\"},{\"path\":\"Resource.id\","
                                    "\"method\":\"cryptohash\"},{\"type\":\"dateTime\","
                                    "\"method\":\"dateshift\"},{\"type\":\"HumanName\","
                                    "\"method\":\"redact\"},{\"type\":\"markdown\","
                                    "\"method\":\"text\"},{\"type\":\"string\","
                                    "\"method\":\"text\"}]}");
    const char *res = "{\"resourceType\":\"Observation\",\"id\":\"o1\","
                      "\"effectiveDateTime\":\"2020-01-01T00:00:00Z\",\"valueString\":\"Jane\","
                      "\"note\":[{\"text\":\"keep me\"}],\"performerName\":{\"family\":\"Doe\"},"
                      "\"component\":[{\"valueString\":\"x\"}]}";
    cJSON *c = cJSON_Parse(res);
    struct mf_deid_apply a = {.key = &key_a, .shift = 3 * DAY, .text = bracket, .only_text = 1};
    struct mf_err err = {0};
    assert_int_equal(mf_deid_rules_apply(r, &a, c, &err), 0);
    /* ids, dates and names stay (a HumanName redact decides its strings, so they are not
     * text either); strings go through text unless an earlier keep shields them */
    json_eq(cJSON_PrintUnformatted(c),
            "{\"resourceType\":\"Observation\",\"id\":\"o1\","
            "\"effectiveDateTime\":\"2020-01-01T00:00:00Z\",\"valueString\":\"[Jane]\","
            "\"note\":[{\"text\":\"keep me\"}],\"performerName\":{\"family\":\"Doe\"},"
            "\"component\":[{\"valueString\":\"[x]\"}]}");
    cJSON_Delete(c);
    mf_deid_rules_free(r);
}

/* --- pseudonyms and references --------------------------------------------------------- */

static void uuid_of(const char *hex, char out[37])
{
    size_t k = 0;
    for (int i = 0; i < 32; i++) {
        if (i == 8 || i == 12 || i == 16 || i == 20)
            out[k++] = '-';
        out[k++] = hex[i];
    }
    out[k] = '\0';
}

static void ref(const char *in, const char *want)
{
    struct mf_buf b = MF_BUF_INIT;
    assert_int_equal(mf_deid_rules_reference(&key_a, in, strlen(in), &b), 0);
    if (strcmp(b.data ? b.data : "", want) != 0)
        fprintf(stderr, "ref %s -> %s, want %s\n", in, b.data, want);
    assert_string_equal(b.data ? b.data : "", want);
    mf_buf_release(&b);
}

static void references_resolve(void **state)
{
    (void)state;
    const char *id = "e4531916-b162-4f4b-90c2-ce37e132b8d4";
    char p[33], u[37], want[256];
    pseudo(&key_a, id, p);
    uuid_of(p, u);
    /* every form of a reference to the same id carries the same pseudonym */
    snprintf(want, sizeof want, "urn:uuid:%s", u);
    char in[256];
    snprintf(in, sizeof in, "urn:uuid:%s", id);
    ref(in, want);
    snprintf(in, sizeof in, "Patient/%s", id);
    snprintf(want, sizeof want, "Patient/%s", p);
    ref(in, want);
    snprintf(in, sizeof in, "https://fhir.example.org/r4/Patient/%s/_history/3", id);
    snprintf(want, sizeof want, "https://fhir.example.org/r4/Patient/%s/_history/3", p);
    ref(in, want);
    char pv[33];
    pseudo(&key_a, "12345", pv);
    snprintf(want, sizeof want, "Patient?identifier=http://hospital.org/mrn|%s", pv);
    ref("Patient?identifier=http://hospital.org/mrn|12345", want);
    snprintf(want, sizeof want, "Patient?identifier=%s", pv);
    ref("Patient?identifier=12345", want);
    char pc[33];
    pseudo(&key_a, "referral", pc);
    snprintf(want, sizeof want, "#%s", pc);
    ref("#referral", want);
    ref("#", "#");

    /* in resources: a Bundle entry's fullUrl and an Observation's subject agree, and a
     * Patient's id is exactly its subject pseudonym */
    const char *rs = "{\"rules\":[{\"path\":\"Resource.id\",\"method\":\"cryptohash\"},"
                     "{\"path\":\"Reference.reference\",\"method\":\"cryptohash\"},"
                     "{\"path\":\"Identifier.value\",\"method\":\"cryptohash\"},"
                     "{\"path\":\"Bundle.entry.fullUrl\",\"method\":\"cryptohash\"}]}";
    char bundle[1024];
    snprintf(
        bundle, sizeof bundle,
        "{\"resourceType\":\"Bundle\",\"entry\":["
        "{\"fullUrl\":\"urn:uuid:%s\",\"resource\":{\"resourceType\":\"Patient\",\"id\":\"%s\","
        "\"identifier\":[{\"system\":\"http://hospital.org/mrn\",\"value\":\"12345\"}]}},"
        "{\"fullUrl\":\"urn:uuid:0b7b4f0b-1111-2222-3333-444455556666\",\"resource\":{"
        "\"resourceType\":\"Observation\",\"id\":\"0b7b4f0b-1111-2222-3333-444455556666\","
        "\"subject\":{\"reference\":\"urn:uuid:%s\"}}}]}",
        id, id, id);
    char *o = run(rs, bundle, 0);
    cJSON *b = cJSON_Parse(o);
    cJSON *e0 = cJSON_GetArrayItem(cJSON_GetObjectItem(b, "entry"), 0);
    cJSON *e1 = cJSON_GetArrayItem(cJSON_GetObjectItem(b, "entry"), 1);
    const char *full = cJSON_GetObjectItem(e0, "fullUrl")->valuestring;
    const char *subj =
        cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(e1, "resource"), "subject"),
                            "reference")
            ->valuestring;
    assert_string_equal(full, subj);
    snprintf(want, sizeof want, "urn:uuid:%s", u);
    assert_string_equal(full, want);
    cJSON *pat = cJSON_GetObjectItem(e0, "resource");
    assert_string_equal(cJSON_GetObjectItem(pat, "id")->valuestring, p);
    cJSON *ident = cJSON_GetArrayItem(cJSON_GetObjectItem(pat, "identifier"), 0);
    assert_string_equal(cJSON_GetObjectItem(ident, "value")->valuestring, pv);
    assert_string_equal(cJSON_GetObjectItem(ident, "system")->valuestring,
                        "http://hospital.org/mrn");
    /* the entry's own id agrees with its own fullUrl */
    char p1[33], u1[37];
    pseudo(&key_a, "0b7b4f0b-1111-2222-3333-444455556666", p1);
    uuid_of(p1, u1);
    snprintf(want, sizeof want, "urn:uuid:%s", u1);
    assert_string_equal(cJSON_GetObjectItem(e1, "fullUrl")->valuestring, want);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(e1, "resource"), "id")->valuestring,
                        p1);
    cJSON_Delete(b);
    cJSON_free(o);
}

static void same_key_same_output(void **state)
{
    (void)state;
    const char *res = "{\"resourceType\":\"Patient\",\"id\":\"pat-1\",\"birthDate\":\"1970-01-01\","
                      "\"identifier\":[{\"value\":\"999-12-3456\"}],"
                      "\"generalPractitioner\":[{\"reference\":\"Practitioner/77\"}]}";
    struct mf_deid_rules *r = NULL;
    struct mf_err err = {0};
    assert_int_equal(mf_deid_rules_load("safe-harbor", &r, &err), 0);
    char *outs[3];
    const struct mf_deid_key *keys[3] = {&key_a, &key_a, &key_b};
    for (int i = 0; i < 3; i++) {
        cJSON *c = cJSON_Parse(res);
        struct mf_deid_apply a = {
            .key = keys[i], .shift = mf_deid_shift(keys[i], "pat-1", 5), .text = bracket};
        assert_int_equal(mf_deid_rules_apply(r, &a, c, &err), 0);
        outs[i] = cJSON_PrintUnformatted(c);
        cJSON_Delete(c);
    }
    assert_string_equal(outs[0], outs[1]);
    cJSON *x = cJSON_Parse(outs[0]), *y = cJSON_Parse(outs[2]);
    assert_string_not_equal(cJSON_GetObjectItem(x, "id")->valuestring,
                            cJSON_GetObjectItem(y, "id")->valuestring);
    const char *vx =
        cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(x, "identifier"), 0), "value")
            ->valuestring;
    const char *vy =
        cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(y, "identifier"), 0), "value")
            ->valuestring;
    assert_string_not_equal(vx, vy);
    assert_null(strstr(outs[0], "999-12-3456"));
    assert_null(strstr(outs[0], "pat-1"));
    assert_null(strstr(outs[0], "1970-01-01"));
    cJSON_Delete(x);
    cJSON_Delete(y);
    for (int i = 0; i < 3; i++)
        cJSON_free(outs[i]);
    mf_deid_rules_free(r);
}

/* --- the profiles ----------------------------------------------------------------------- */

static const char *patient_json =
    "{\"resourceType\":\"Patient\",\"id\":\"p1\","
    "\"text\":{\"status\":\"generated\",\"div\":\"<div>Jane Doe</div>\"},"
    "\"extension\":[{\"url\":\"http://hl7.org/fhir/us/core/StructureDefinition/us-core-race\","
    "\"extension\":[{\"url\":\"ombCategory\",\"valueCoding\":{\"system\":\"urn:oid:2.16.840.1."
    "113883.6.238\",\"code\":\"2106-3\",\"display\":\"White\"}},{\"url\":\"text\","
    "\"valueString\":\"White\"}]},"
    "{\"url\":\"http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName\","
    "\"valueString\":\"Smith\"}],"
    "\"identifier\":[{\"system\":\"http://hl7.org/fhir/sid/us-ssn\",\"value\":\"999-12-3456\"}],"
    "\"name\":[{\"family\":\"Doe\",\"given\":[\"Jane\"]}],"
    "\"telecom\":[{\"system\":\"phone\",\"value\":\"555-0100\"}],"
    "\"gender\":\"female\",\"birthDate\":\"1980-05-06\","
    "\"address\":[{\"line\":[\"1 Main St\"],\"city\":\"Springfield\",\"district\":\"Hampden\","
    "\"state\":\"MA\",\"postalCode\":\"01101\",\"country\":\"US\",\"extension\":[{\"url\":"
    "\"http://hl7.org/fhir/StructureDefinition/geolocation\",\"extension\":[{\"url\":"
    "\"latitude\",\"valueDecimal\":42.1}]}]}],"
    "\"photo\":[{\"contentType\":\"image/jpeg\",\"url\":\"http://x/p.jpg\"}],"
    "\"maritalStatus\":{\"coding\":[{\"code\":\"M\"}],\"text\":\"Married\"},"
    "\"nickname\":\"Janey\"}";

static void safe_harbor_profile_fields(void **state)
{
    (void)state;
    struct mf_deid_rules *r = NULL;
    struct mf_err err = {0};
    assert_int_equal(mf_deid_rules_load("safe-harbor", &r, &err), 0);
    cJSON *c = cJSON_Parse(patient_json);
    struct mf_deid_apply a = {.key = &key_a, .shift = -10 * DAY, .text = bracket};
    assert_int_equal(mf_deid_rules_apply(r, &a, c, &err), 0);
    char *o = cJSON_PrintUnformatted(c);
    char p[33], ssn[33];
    pseudo(&key_a, "p1", p);
    pseudo(&key_a, "999-12-3456", ssn);
    char want[2048];
    snprintf(want, sizeof want,
             "{\"resourceType\":\"Patient\",\"id\":\"%s\","
             "\"text\":{\"status\":\"generated\",\"div\":\"<div>[Jane Doe]</div>\"},"
             "\"extension\":[{\"url\":\"http://hl7.org/fhir/us/core/StructureDefinition/"
             "us-core-race\",\"extension\":[{\"url\":\"ombCategory\",\"valueCoding\":{\"system\":"
             "\"urn:oid:2.16.840.1.113883.6.238\",\"code\":\"2106-3\",\"display\":\"White\"}},"
             "{\"url\":\"text\",\"valueString\":\"White\"}]}],"
             "\"identifier\":[{\"system\":\"http://hl7.org/fhir/sid/us-ssn\",\"value\":\"%s\"}],"
             "\"gender\":\"female\",\"birthDate\":\"1980-04-26\","
             "\"address\":[{\"state\":\"MA\",\"postalCode\":\"011\",\"country\":\"US\"}],"
             "\"maritalStatus\":{\"coding\":[{\"code\":\"M\"}],\"text\":\"Married\"},"
             "\"nickname\":\"[Janey]\"}",
             p, ssn);
    json_eq(o, want);
    cJSON_Delete(c);
    mf_deid_rules_free(r);
}

static void limited_data_set_profile_fields(void **state)
{
    (void)state;
    struct mf_deid_rules *r = NULL;
    struct mf_err err = {0};
    assert_int_equal(mf_deid_rules_load("limited-data-set", &r, &err), 0);
    cJSON *c = cJSON_Parse(patient_json);
    struct mf_deid_apply a = {.key = &key_a, .shift = -10 * DAY, .text = bracket};
    assert_int_equal(mf_deid_rules_apply(r, &a, c, &err), 0);
    char *o = cJSON_PrintUnformatted(c);
    char p[33], ssn[33];
    pseudo(&key_a, "p1", p);
    pseudo(&key_a, "999-12-3456", ssn);
    char want[2048];
    snprintf(want, sizeof want,
             "{\"resourceType\":\"Patient\",\"id\":\"%s\","
             "\"text\":{\"status\":\"generated\",\"div\":\"<div>[Jane Doe]</div>\"},"
             "\"extension\":[{\"url\":\"http://hl7.org/fhir/us/core/StructureDefinition/"
             "us-core-race\",\"extension\":[{\"url\":\"ombCategory\",\"valueCoding\":{\"system\":"
             "\"urn:oid:2.16.840.1.113883.6.238\",\"code\":\"2106-3\",\"display\":\"White\"}},"
             "{\"url\":\"text\",\"valueString\":\"White\"}]}],"
             "\"identifier\":[{\"system\":\"http://hl7.org/fhir/sid/us-ssn\",\"value\":\"%s\"}],"
             "\"gender\":\"female\",\"birthDate\":\"1980-05-06\","
             "\"address\":[{\"city\":\"Springfield\",\"state\":\"MA\",\"postalCode\":\"01101\","
             "\"country\":\"US\"}],"
             "\"maritalStatus\":{\"coding\":[{\"code\":\"M\"}],\"text\":\"Married\"},"
             "\"nickname\":\"[Janey]\"}",
             p, ssn);
    json_eq(o, want);
    cJSON_Delete(c);
    mf_deid_rules_free(r);
}

static void unknown_fields_never_leak(void **state)
{
    (void)state;
    /* a resource type the table does not detail: a name found by its shape, a date by its
     * format, free text by being a string */
    json_eq(
        run_full("{\"rules\":[{\"type\":\"HumanName\",\"method\":\"redact\"},"
                 "{\"type\":\"dateTime\",\"method\":\"dateshift\"},"
                 "{\"type\":\"date\",\"method\":\"dateshift\"},"
                 "{\"type\":\"string\",\"method\":\"text\"}]}",
                 "{\"resourceType\":\"MedicationDispense\",\"whenHandedOver\":"
                 "\"2020-01-01T10:00:00Z\",\"receiverName\":{\"family\":\"Doe\","
                 "\"given\":[\"Jane\"]},\"quantity\":{\"value\":30},\"custom\":\"Jane's pills\","
                 "\"when\":\"2020-01-02\"}",
                 &key_a, 2, bracket, NULL),
        "{\"resourceType\":\"MedicationDispense\",\"whenHandedOver\":\"2020-01-03T10:00:00Z\","
        "\"quantity\":{\"value\":30},\"custom\":\"[Jane's pills]\",\"when\":\"2020-01-04\"}");
    /* a date given as a number where FHIR wants a string: an error, not a pass */
    struct mf_err err = {0};
    assert_null(run_full("{\"rules\":[{\"type\":\"date\",\"method\":\"dateshift\"}]}",
                         "{\"resourceType\":\"Patient\",\"birthDate\":19800506}", &key_a, 2, NULL,
                         &err));
    assert_non_null(strstr(err.msg, "Patient.birthDate"));
    /* paths below resource types the table does not detail are accepted as written */
    struct mf_deid_rules *r = rules("{\"rules\":[{\"path\":\"MedicationDispense.receiverName\","
                                    "\"method\":\"redact\"}]}");
    mf_deid_rules_free(r);
    /* binary content no rule can check goes: Binary.data, Signature.data; a text attachment
     * stays (de-identified) */
    assert_int_equal(mf_deid_rules_load("safe-harbor", &r, &err), 0);
    cJSON *c = cJSON_Parse("{\"resourceType\":\"Binary\",\"contentType\":\"application/pdf\","
                           "\"data\":\"SmFuZSBEb2U=\"}");
    struct mf_deid_apply a = {.key = &key_a, .shift = DAY, .text = identity};
    assert_int_equal(mf_deid_rules_apply(r, &a, c, &err), 0);
    assert_null(cJSON_GetObjectItem(c, "data"));
    cJSON_Delete(c);
    c = cJSON_Parse("{\"resourceType\":\"Provenance\",\"recorded\":\"2020-01-01T00:00:00Z\","
                    "\"signature\":[{\"type\":[{\"code\":\"1.2.840.10065.1.12.1.1\"}],"
                    "\"when\":\"2020-01-01T00:00:00Z\",\"data\":\"SmFuZSBEb2U=\"}]}");
    assert_int_equal(mf_deid_rules_apply(r, &a, c, &err), 0);
    cJSON *sig = cJSON_GetArrayItem(cJSON_GetObjectItem(c, "signature"), 0);
    assert_null(cJSON_GetObjectItem(sig, "data"));
    assert_string_equal(cJSON_GetObjectItem(sig, "when")->valuestring, "2020-01-02T00:00:00Z");
    cJSON_Delete(c);
    mf_deid_rules_free(r);
    /* errors name unknown keys as "?": a key of malformed input could be anything */
    mf_err_clear(&err);
    assert_null(run_full("{\"rules\":[{\"path\":\"Reference.reference\",\"method\":"
                         "\"cryptohash\"}]}",
                         "{\"resourceType\":\"Observation\",\"Jane Doe\":{\"reference\":5}}",
                         &key_a, 2, NULL, &err));
    assert_string_equal(err.msg, "Observation.?.reference: rule 1 (cryptohash): not a string");
    /* a string where an object belongs is typed by its value, not let through as a code */
    json_eq(run("{\"rules\":[{\"type\":\"CodeableConcept\",\"method\":\"keep\"},"
                "{\"type\":\"string\",\"method\":\"redact\"}]}",
                "{\"resourceType\":\"Condition\",\"code\":\"Jane Doe\"}", 0),
            "{\"resourceType\":\"Condition\"}");
}

/* --- Synthea bundles under safe-harbor ---------------------------------------------------- */

struct strs {
    char **v;
    size_t n, cap;
};

static void strs_add(struct strs *s, const char *x)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 256;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        assert_non_null(s->v);
    }
    s->v[s->n++] = strdup(x);
}

static void strs_free(struct strs *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Identifying strings of the input: names, address lines and cities, phones, identifier
 * values, ids, birth dates, organization names.  key: n's member name (array items share it);
 * pkey: the member name of the object holding n; rtype: the enclosing resource's type. */
static int is(const char *a, const char *b)
{
    return a && strcmp(a, b) == 0;
}

static void collect_phi(const cJSON *n, const char *key, const char *pkey, const char *rtype,
                        struct strs *phi)
{
    if (cJSON_IsString(n)) {
        int take = (is(pkey, "name") && (is(key, "family") || is(key, "given"))) ||
                   ((is(pkey, "address") || is(pkey, "valueAddress")) &&
                    (is(key, "line") || is(key, "city"))) ||
                   ((is(pkey, "telecom") || is(pkey, "identifier")) && is(key, "value")) ||
                   is(key, "id") || is(key, "birthDate") || is(key, "fullUrl") ||
                   (is(rtype, "Organization") && is(key, "name"));
        if (take) {
            const char *s = n->valuestring;
            if (strncmp(s, "urn:uuid:", 9) == 0)
                s += 9;
            strs_add(phi, s);
        }
        return;
    }
    if (cJSON_IsArray(n)) {
        for (const cJSON *c = n->child; c; c = c->next)
            collect_phi(c, key, pkey, rtype, phi);
        return;
    }
    const char *rt = mf_json_str(n, "resourceType");
    for (const cJSON *c = n->child; c; c = c->next)
        collect_phi(c, c->string, key, rt ? rt : rtype, phi);
}

/* Codes (strings under "code") and numbers outside addresses, as sorted text. */
static void collect_facts(const cJSON *n, const char *key, int in_address, struct strs *codes,
                          struct strs *nums)
{
    if (cJSON_IsString(n)) {
        if (key && strcmp(key, "code") == 0)
            strs_add(codes, n->valuestring);
        return;
    }
    if (cJSON_IsNumber(n)) {
        if (!in_address) {
            char b[40];
            snprintf(b, sizeof b, "%.17g", n->valuedouble);
            strs_add(nums, b);
        }
        return;
    }
    for (const cJSON *c = n->child; c; c = c->next) {
        const char *k = c->string ? c->string : key;
        collect_facts(c, k, in_address || (c->string && strcmp(c->string, "address") == 0), codes,
                      nums);
    }
}

static void check_no_phi(const cJSON *n, const struct strs *phi, const char *where)
{
    if (cJSON_IsString(n)) {
        for (size_t i = 0; i < phi->n; i++) {
            const char *s = phi->v[i];
            int hit =
                strlen(s) >= 6 ? strstr(n->valuestring, s) != NULL : strcmp(n->valuestring, s) == 0;
            if (hit)
                fprintf(stderr, "%s: identifying string #%zu left in a value\n", where, i);
            assert_false(hit);
        }
        return;
    }
    for (const cJSON *c = n->child; c; c = c->next)
        check_no_phi(c, phi, where);
}

static void strs_eq(struct strs *a, struct strs *b, const char *what)
{
    qsort(a->v, a->n, sizeof *a->v, cmp_str);
    qsort(b->v, b->n, sizeof *b->v, cmp_str);
    if (a->n != b->n)
        fprintf(stderr, "%s: %zu in, %zu out\n", what, a->n, b->n);
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++)
        assert_string_equal(a->v[i], b->v[i]);
}

/* References inside out (urn:uuid:) all name an entry's fullUrl. */
static void check_refs(const cJSON *n, const cJSON *bundle)
{
    if (cJSON_IsString(n) && n->string && strcmp(n->string, "reference") == 0 &&
        strncmp(n->valuestring, "urn:uuid:", 9) == 0) {
        int found = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, cJSON_GetObjectItem(bundle, "entry"))
        {
            const cJSON *fu = cJSON_GetObjectItem(e, "fullUrl");
            found |= cJSON_IsString(fu) && strcmp(fu->valuestring, n->valuestring) == 0;
        }
        assert_true(found);
        return;
    }
    for (const cJSON *c = n->child; c; c = c->next)
        check_refs(c, bundle);
}

static void safe_harbor_on_synthea(void **state)
{
    (void)state;
    const char *shared = getenv("MEDFM_SHARED_DATA");
    assert_non_null(shared); /* the project always has its shared data */
    char archive[1024], cmd[4096];
    snprintf(archive, sizeof archive, "%s/synthea-r4-dev.tar.xz", shared);
    assert_true(mf_fs_exists(archive));
    /* the first three patient bundles of the archive, and the organization and practitioner
     * bundles */
    snprintf(cmd, sizeof cmd, "tar -tJf '%s'", archive);
    FILE *ls = popen(cmd, "r");
    assert_non_null(ls);
    char line[512], members[5][512];
    int npat = 0, nm = 0;
    while (fgets(line, sizeof line, ls)) {
        line[strcspn(line, "\n")] = '\0';
        size_t n = strlen(line);
        if (n < 6 || strcmp(line + n - 5, ".json") != 0)
            continue;
        int info = strstr(line, "Information") != NULL;
        if ((info || npat < 3) && nm < 5) {
            snprintf(members[nm++], sizeof members[0], "%s", line);
            npat += !info;
        }
    }
    pclose(ls);
    assert_true(npat == 3 && nm == 5);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/synthea", tmpdir);
    struct mf_err err = {0};
    assert_int_equal(mf_fs_mkdir_p(dir, &err), 0);
    int k = snprintf(cmd, sizeof cmd, "tar -C '%s' -xJf '%s'", dir, archive);
    for (int i = 0; i < nm; i++)
        k += snprintf(cmd + k, sizeof cmd - (size_t)k, " '%s'", members[i]);
    assert_int_equal(system(cmd), 0);

    struct mf_deid_rules *r = NULL;
    assert_int_equal(mf_deid_rules_load("safe-harbor", &r, &err), 0);
    size_t resources = 0;
    for (int i = 0; i < nm; i++) {
        char path[2048];
        snprintf(path, sizeof path, "%.512s/%.512s", dir, members[i]);
        struct mf_buf b = MF_BUF_INIT;
        assert_int_equal(mf_fs_read_file(path, (size_t)1 << 28, &b, &err), 0);
        cJSON *in = mf_json_parse(b.data, b.len, NULL);
        assert_non_null(in);
        struct strs phi = {0}, codes_in = {0}, nums_in = {0}, codes_out = {0}, nums_out = {0};
        collect_phi(in, NULL, NULL, NULL, &phi);
        collect_facts(in, NULL, 0, &codes_in, &nums_in);
        assert_true(phi.n > 0 && codes_in.n > 0 && nums_in.n > 0);
        /* the bundle's patient, for the date shift */
        const char *pid = NULL, *birth = NULL;
        cJSON *e;
        cJSON_ArrayForEach(e, cJSON_GetObjectItem(in, "entry"))
        {
            cJSON *res = cJSON_GetObjectItem(e, "resource");
            const char *rt = mf_json_str(res, "resourceType");
            if (rt && strcmp(rt, "Patient") == 0) {
                pid = mf_json_str(res, "id");
                birth = mf_json_str(res, "birthDate");
            }
        }
        char pid_copy[128] = "", birth_copy[32] = "";
        if (pid)
            snprintf(pid_copy, sizeof pid_copy, "%s", pid);
        if (birth)
            snprintf(birth_copy, sizeof birth_copy, "%s", birth);
        int64_t shift = pid ? mf_deid_shift(&key_a, pid, strlen(pid)) : 0;
        struct mf_deid_apply a = {.key = &key_a, .shift = shift, .text = identity};
        text_calls = 0;
        struct mf_buf rb = MF_BUF_INIT;
        cJSON_ArrayForEach(e, cJSON_GetObjectItem(in, "entry"))
        {
            cJSON *res = cJSON_GetObjectItem(e, "resource");
            int rc = mf_deid_rules_apply(r, &a, res, &err);
            if (rc)
                fprintf(stderr, "%s\n", err.msg);
            assert_int_equal(rc, 0);
            cJSON *fu = cJSON_GetObjectItem(e, "fullUrl");
            mf_buf_reset(&rb);
            assert_int_equal(
                mf_deid_rules_reference(&key_a, fu->valuestring, strlen(fu->valuestring), &rb), 0);
            assert_non_null(cJSON_SetValuestring(fu, rb.data));
            resources++;
        }
        mf_buf_release(&rb);
        /* nothing identifying is left in any value */
        check_no_phi(in, &phi, members[i]);
        /* every code and every number outside addresses survives */
        collect_facts(in, NULL, 0, &codes_out, &nums_out);
        strs_eq(&codes_in, &codes_out, "codes");
        strs_eq(&nums_in, &nums_out, "numbers");
        /* references still resolve inside the bundle */
        check_refs(in, in);
        if (pid) {
            assert_true(text_calls > 0);
            cJSON_ArrayForEach(e, cJSON_GetObjectItem(in, "entry"))
            {
                cJSON *res = cJSON_GetObjectItem(e, "resource");
                const char *rt = mf_json_str(res, "resourceType");
                if (!rt || strcmp(rt, "Patient") != 0)
                    continue;
                /* the id is the subject pseudonym; the birth date moved by the shift */
                char p[33];
                pseudo(&key_a, pid_copy, p);
                assert_string_equal(mf_json_str(res, "id"), p);
                const char *bd = mf_json_str(res, "birthDate");
                int64_t t0, t1;
                assert_int_equal(mf_time_parse(birth_copy, strlen(birth_copy), &t0), 0);
                assert_int_equal(mf_time_parse(bd, strlen(bd), &t1), 0);
                assert_true(t1 - t0 == shift);
            }
        }
        strs_free(&phi);
        strs_free(&codes_in);
        strs_free(&nums_in);
        strs_free(&codes_out);
        strs_free(&nums_out);
        mf_json_release(in);
        mf_buf_release(&b);
    }
    assert_true(resources > 300);
    mf_deid_rules_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bad_rules_name_the_rule),
        cmocka_unit_test(profiles_load_by_name_and_path),
        cmocka_unit_test(keep_and_redact),
        cmocka_unit_test(keep_shields_against_later_rules),
        cmocka_unit_test(path_and_type_selectors),
        cmocka_unit_test(dateshift_keeps_precision_and_intervals),
        cmocka_unit_test(generalize_and_zip3),
        cmocka_unit_test(substitute_values),
        cmocka_unit_test(perturb_is_keyed_and_bounded),
        cmocka_unit_test(text_method),
        cmocka_unit_test(only_text_changes_only_text),
        cmocka_unit_test(references_resolve),
        cmocka_unit_test(same_key_same_output),
        cmocka_unit_test(safe_harbor_profile_fields),
        cmocka_unit_test(limited_data_set_profile_fields),
        cmocka_unit_test(unknown_fields_never_leak),
        cmocka_unit_test(safe_harbor_on_synthea),
    };
    return cmocka_run_group_tests(tests, setup, teardown_tmp);
}
