/* test_deid_tagger.c - the clinical-text PHI tagger: every category with examples and with
 * near-misses that must not be tagged, record-aware variants, hostile input, offsets, and the
 * lexicon's loader and surrogate lists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "deid/tagger.h"

#include "testutil.h"

static struct mf_deid_lexicon *lex;
static struct mf_deid_tagger *tg;
static struct mf_deid_entities ents;

static int setup(void **state)
{
    struct mf_err err = {0};
    if (setup_tmp(state) != 0)
        return -1;
    if (mf_deid_lexicon_load(NULL, &lex, &err) != 0) {
        fprintf(stderr, "lexicon: %s\n", err.msg);
        return -1;
    }
    tg = mf_deid_tagger_new(lex);
    return tg ? 0 : -1;
}

static int teardown(void **state)
{
    mf_deid_entities_free(&ents);
    mf_deid_tagger_free(tg);
    mf_deid_lexicon_free(lex);
    return teardown_tmp(state);
}

static void tag_ctx(const char *text, const struct mf_deid_context *ctx)
{
    struct mf_err err = {0};
    assert_int_equal(mf_deid_tag(tg, ctx, text, strlen(text), &ents, &err), 0);
    /* invariants: sorted, not overlapping, in range, not empty */
    for (size_t i = 0; i < ents.n; i++) {
        assert_true(ents.v[i].start < ents.v[i].end);
        assert_true(ents.v[i].end <= strlen(text));
        if (i)
            assert_true(ents.v[i - 1].end <= ents.v[i].start);
    }
}

/* The entity overlapping the first occurrence of what in text, or NULL. */
static const struct mf_deid_entity *find(const char *text, const char *what)
{
    const char *p = strstr(text, what);
    assert_non_null(p);
    size_t s = (size_t)(p - text), e = s + strlen(what);
    for (size_t i = 0; i < ents.n; i++)
        if (ents.v[i].start < e && s < ents.v[i].end)
            return &ents.v[i];
    return NULL;
}

/* what (in text) must be covered entirely by one entity of category cat. */
static void expect_ctx(const char *text, const char *what, enum mf_deid_cat cat,
                       const struct mf_deid_context *ctx)
{
    tag_ctx(text, ctx);
    const struct mf_deid_entity *e = find(text, what);
    if (e == NULL || e->cat != cat) {
        fprintf(stderr, "expected %s for \"%s\" in \"%s\", got %s\n", mf_deid_cat_name(cat), what,
                text, e ? mf_deid_cat_name(e->cat) : "nothing");
        fail();
    }
    size_t s = (size_t)(strstr(text, what) - text);
    if (!(e->start <= s && e->end >= s + strlen(what))) {
        fprintf(stderr, "\"%s\" in \"%s\": entity [%zu,%zu) does not cover it\n", what, text,
                e->start, e->end);
        fail();
    }
}

static void expect(const char *text, const char *what, enum mf_deid_cat cat)
{
    expect_ctx(text, what, cat, NULL);
}

/* what (in text) must not be touched by any entity. */
static void reject(const char *text, const char *what)
{
    tag_ctx(text, NULL);
    const struct mf_deid_entity *e = find(text, what);
    if (e) {
        fprintf(stderr, "\"%s\" in \"%s\" was tagged %s\n", what, text, mf_deid_cat_name(e->cat));
        fail();
    }
}

static void categories_round_trip(void **state)
{
    (void)state;
    for (int c = 0; c < MF_DEID__NCAT; c++) {
        enum mf_deid_cat back;
        const char *n = mf_deid_cat_name((enum mf_deid_cat)c);
        assert_int_equal(mf_deid_cat_parse(n, strlen(n), &back), 0);
        assert_int_equal((int)back, c);
    }
    enum mf_deid_cat x;
    assert_int_equal(mf_deid_cat_parse("name", 4, &x), MF_EINVAL);
    assert_string_equal(mf_deid_cat_name(MF_DEID__NCAT), "UNKNOWN");
}

static void lexicon_lists(void **state)
{
    (void)state;
    for (int l = 0; l < MF_DEID_LIST__COUNT; l++) {
        size_t n = 0;
        const char *s = mf_deid_lexicon_pick(lex, (enum mf_deid_list)l, 12345, &n);
        assert_non_null(s);
        assert_true(n >= 2);
        assert_int_equal(strlen(s), n);
        size_t n2 = 0;
        const char *s2 = mf_deid_lexicon_pick(lex, (enum mf_deid_list)l, 12345, &n2);
        assert_ptr_equal(s, s2); /* deterministic */
    }
    assert_int_equal(mf_deid_lexicon_given_sex(lex, "Mary", 4) & 1, 1);
    assert_int_equal(mf_deid_lexicon_given_sex(lex, "JOHN", 4) & 2, 2);
    assert_int_equal(mf_deid_lexicon_given_sex(lex, "metformin", 9), 0);
    /* a missing folder is an error naming the file */
    struct mf_deid_lexicon *l2 = NULL;
    struct mf_err err = {0};
    char dir[512];
    snprintf(dir, sizeof dir, "%s/nolex", tmpdir);
    assert_int_not_equal(mf_deid_lexicon_load(dir, &l2, &err), 0);
    assert_null(l2);
    assert_non_null(strstr(err.msg, "given-female.txt"));
}

static void dates(void **state)
{
    (void)state;
    expect("Seen on 2016-05-02 in clinic.", "2016-05-02", MF_DEID_DATE);
    expect("Seen on 05/02/2016 in clinic.", "05/02/2016", MF_DEID_DATE);
    expect("Seen on 5/2/16 in clinic.", "5/2/16", MF_DEID_DATE);
    expect("Admitted May 2, 2016 for pneumonia.", "May 2, 2016", MF_DEID_DATE);
    expect("Admitted 2 May 2016 for pneumonia.", "2 May 2016", MF_DEID_DATE);
    expect("Admitted 02-May-2016 for pneumonia.", "02-May-2016", MF_DEID_DATE);
    expect("Diagnosed March 2014.", "March 2014", MF_DEID_DATE);
    expect("Diagnosed 03/2014.", "03/2014", MF_DEID_DATE);
    expect("Seen Tuesday, Jan. 5th, 2021 at noon.", "Tuesday, Jan. 5th, 2021", MF_DEID_DATE);
    expect("Follow-up on the 3rd of June.", "3rd of June", MF_DEID_DATE);
    expect("Visit (12/14/2021) unremarkable.", "12/14/2021", MF_DEID_DATE);
    /* not dates */
    reject("Symptoms may improve with rest.", "may");
    reject("Symptoms May improve with rest.", "May");
    reject("Blood pressure 120/80 mmHg.", "120/80");
    reject("Diagnosed in 2014 with diabetes.", "2014");
    reject("Signed at 10:30 by the nurse.", "10:30");
    reject("Code ICD-10 E11.9 recorded.", "E11.9");
    reject("HbA1c 7.2 % today.", "7.2");
    reject("Take metformin 500 mg twice daily.", "500");
}

static void ages(void **state)
{
    (void)state;
    expect("A 91-year-old woman presents.", "91", MF_DEID_AGE);
    expect("A woman aged 93 presents.", "93", MF_DEID_AGE);
    expect("A 92 yo male presents.", "92", MF_DEID_AGE);
    expect("Age: 95  Sex: F", "95", MF_DEID_AGE);
    expect("He is 102 years old.", "102", MF_DEID_AGE);
    reject("A 67-year-old woman presents.", "67");
    reject("A woman aged 89 presents.", "89");
    reject("Heart rate 95 bpm.", "95");
}

static void contacts(void **state)
{
    (void)state;
    expect("Call (617) 555-0123 for results.", "(617) 555-0123", MF_DEID_PHONE);
    expect("Call 617-555-0123 for results.", "617-555-0123", MF_DEID_PHONE);
    expect("Call 617.555.0123 for results.", "617.555.0123", MF_DEID_PHONE);
    expect("Phone: +44 20 7123 4567", "+44 20 7123 4567", MF_DEID_PHONE);
    expect("Records faxed to 617-555-0199.", "617-555-0199", MF_DEID_FAX);
    expect("Fax: (617) 555-0100", "555-0100", MF_DEID_FAX);
    expect("Email jane.doe@example.org please.", "jane.doe@example.org", MF_DEID_EMAIL);
    expect("SSN: 123-45-6789", "123-45-6789", MF_DEID_SSN);
    expect("Portal https://portal.example.org/chart/123; ok",
           "https://portal.example.org/chart/123", MF_DEID_URL);
    expect("See www.example.com for details.", "www.example.com", MF_DEID_URL);
    expect("Visit ClickPhobia.com.br today.", "ClickPhobia.com.br", MF_DEID_URL);
    expect("Login from 192.168.10.4 yesterday.", "192.168.10.4", MF_DEID_IP);
    expect("Login from 2001:db8::ff00:42:8329 yesterday.", "2001:db8::ff00:42:8329", MF_DEID_IP);
    reject("Signed at 11:34:35 by the nurse.", "11:34:35");
    reject("Potassium 4.2 mmol/L, sodium 140.", "4.2");
    reject("Version 1.2.3 of the form.", "1.2.3");
}

static void identifiers(void **state)
{
    (void)state;
    expect("Patient: Jane Roe   MRN: 36999097", "36999097", MF_DEID_MRN);
    expect("Medical record number: 4521-889", "4521-889", MF_DEID_MRN);
    expect("Insurance member ID: AB123456789", "AB123456789", MF_DEID_ID);
    expect("Home monitor (serial SN12345678) uploads.", "SN12345678", MF_DEID_ID);
    expect("Card 4007070753690781 was lost.", "4007070753690781", MF_DEID_ID);
    expect("IBAN GB29 NWBK 6016 1331 9268 19 on file.", "GB29 NWBK 6016 1331 9268 19", MF_DEID_ID);
    expect("DEA number AB1234563 on the script.", "AB1234563", MF_DEID_ID);
    reject("Platelets 2500000 per uL.", "2500000"); /* seven digits, no cue */
    reject("LOINC 4548-4 measured.", "4548-4");
    reject("Dose 2.5 mg, then 10 mg.", "2.5");
}

static void places(void **state)
{
    (void)state;
    const char *a = "Lives at 1234 Maple Street Apt. 5, Northville, MA 02115 with her son.";
    expect(a, "1234 Maple Street", MF_DEID_ADDRESS);
    expect(a, "Apt. 5", MF_DEID_ADDRESS);
    expect(a, "Northville", MF_DEID_CITY);
    expect(a, "02115", MF_DEID_ZIP);
    reject(a, "MA"); /* a state is not PHI */
    expect("Mail to PO Box 1234, Springfield.", "PO Box 1234", MF_DEID_ADDRESS);
    expect("ZIP 02115-1234 on file.", "02115-1234", MF_DEID_ZIP);
    expect("He lives at 86036 Rua do Arenque 1634, Goiania.", "Rua do Arenque 1634",
           MF_DEID_ADDRESS);
    expect("We moved here from Kenosha last year.", "Kenosha", MF_DEID_CITY);
    expect("Lives in Lake Troy, NV.", "Lake Troy", MF_DEID_CITY);
    expect("Seen at Northville General Hospital today.", "Northville General Hospital",
           MF_DEID_HOSPITAL);
    expect("Referred to Bruceton Medical Center.", "Bruceton Medical Center", MF_DEID_HOSPITAL);
    expect("Seen at the Mayo Clinic.", "Mayo Clinic", MF_DEID_HOSPITAL);
    reject("Follow up in clinic in 2 weeks.", "clinic");
    reject("Seen at the General Hospital.", "General Hospital");
    reject("Take 2 tablets daily.", "2 tablets");
}

static void names(void **state)
{
    (void)state;
    expect("Seen by Dr. Ruth Jones today.", "Ruth Jones", MF_DEID_NAME);
    expect("Mr. Okonkwo is doing well.", "Okonkwo", MF_DEID_NAME);
    expect("Patient: Jane Smith   MRN: 1", "Jane Smith", MF_DEID_NAME);
    expect("Her daughter, Maria Lopez, accompanies her.", "Maria Lopez", MF_DEID_NAME);
    expect("SMITH, JANE  (MRN 12345678)", "SMITH, JANE", MF_DEID_NAME);
    expect("Smith, Jane  (MRN 12345678)", "Smith, Jane", MF_DEID_NAME);
    expect("Signed: Dr. J. Smith, MD", "J. Smith", MF_DEID_NAME);
    expect("Krisztián Szöllösy listed his top songs.", "Krisztián Szöllösy", MF_DEID_NAME);
    expect("my name is Rubija", "Rubija", MF_DEID_NAME);
    expect("follow up with patricia desrosiers next month", "patricia desrosiers", MF_DEID_NAME);
    /* eponyms, drugs and words are not names */
    reject("History of Parkinson disease.", "Parkinson");
    reject("Known Crohn's disease, stable.", "Crohn");
    reject("Child with Down syndrome.", "Down");
    reject("Treated for Hodgkin lymphoma.", "Hodgkin");
    reject("Alzheimer dementia, moderate.", "Alzheimer");
    reject("Start Metformin 500 mg daily.", "Metformin");
    reject("Creatinine [Mass/volume] in Serum: 1.1", "Creatinine");
    reject("Hypertension: continue lisinopril.", "Hypertension");
    reject("I'm glad the pain improved.", "I'm");
    reject("HISTORY OF PRESENT ILLNESS", "HISTORY");
}

static void record_aware(void **state)
{
    (void)state;
    struct mf_deid_context *c = mf_deid_context_new();
    assert_non_null(c);
    assert_int_equal(mf_deid_context_add(c, MF_DEID_NAME, "Zyxwa Qwertz", 12), 0);
    assert_int_equal(mf_deid_context_add(c, MF_DEID_MRN, "AB-1234-77", 10), 0);
    assert_int_equal(mf_deid_context_add(c, MF_DEID_PHONE, "617-555-0123", 12), 0);
    assert_int_equal(mf_deid_context_add(c, MF_DEID_DATE, "1950-03-07", 10), 0);
    assert_int_equal(mf_deid_context_add(c, MF_DEID_NAME, "x", 1), 0); /* too short: ignored */
    assert_true(mf_deid_context_size(c) >= 4);
    expect_ctx("pt zyxwa qwertz seen", "zyxwa qwertz", MF_DEID_NAME, c);
    expect_ctx("QWERTZ, ZYXWA seen", "QWERTZ, ZYXWA", MF_DEID_NAME, c);
    expect_ctx("seen: Z. Qwertz today", "Qwertz", MF_DEID_NAME, c);
    expect_ctx("chart ab 1234 77 reviewed", "ab 1234 77", MF_DEID_MRN, c);
    expect_ctx("reach at 617 555 0123 now", "617 555 0123", MF_DEID_PHONE, c);
    expect_ctx("born 3.7.1950 in town", "3.7.1950", MF_DEID_DATE, c);
    expect_ctx("born 07031950 in town", "07031950", MF_DEID_DATE, c);
    /* without the context the lower-case unknown words are not names */
    reject("pt zyxwa qwertz seen", "zyxwa");
    mf_deid_context_clear(c);
    assert_int_equal((int)mf_deid_context_size(c), 0);
    /* from FHIR */
    const char *pj = "{\"resourceType\":\"Patient\",\"name\":[{\"family\":\"Vbnmoo\",\"given\":"
                     "[\"Plokij\"]}],\"identifier\":[{\"type\":{\"coding\":[{\"code\":\"MR\"}]},"
                     "\"value\":\"77-1234\"}],\"telecom\":[{\"system\":\"phone\",\"value\":"
                     "\"555-867-5309\"}],\"address\":[{\"line\":[\"12 Qqq Lane\"],\"city\":"
                     "\"Wxyzton\",\"postalCode\":\"02115\"}],\"birthDate\":\"1961-11-30\"}";
    cJSON *p = mf_json_parse(pj, strlen(pj), NULL);
    assert_non_null(p);
    assert_int_equal(mf_deid_context_add_fhir(c, p), 0);
    mf_json_release(p);
    expect_ctx("plokij vbnmoo came in", "plokij vbnmoo", MF_DEID_NAME, c);
    expect_ctx("mrn 771234 ok", "771234", MF_DEID_MRN, c);
    expect_ctx("visited wxyzton last week", "wxyzton", MF_DEID_CITY, c);
    expect_ctx("born 11/30/61", "11/30/61", MF_DEID_DATE, c);
    mf_deid_context_free(c);
}

static void hostile_input(void **state)
{
    (void)state;
    /* invalid UTF-8, NULs, lone continuation bytes: entities never split a sequence */
    const char t[] = "Dr. \xc3\xa9\xff\xfe Smith \x80\x80 on 2016-05-02 \xe2\x80 x\0y 617-555-0123";
    size_t n = sizeof t - 1;
    struct mf_err err = {0};
    assert_int_equal(mf_deid_tag(tg, NULL, t, n, &ents, &err), 0);
    int date = 0;
    for (size_t i = 0; i < ents.n; i++) {
        assert_true(ents.v[i].end <= n);
        assert_true(ents.v[i].start == 0 || ((unsigned char)t[ents.v[i].start] & 0xC0) != 0x80);
        assert_true(ents.v[i].end == n || ((unsigned char)t[ents.v[i].end] & 0xC0) != 0x80);
        date |= ents.v[i].cat == MF_DEID_DATE;
    }
    assert_true(date);
    /* a fresh tagger on text without PHI, then on empty text */
    struct mf_deid_tagger *t2 = mf_deid_tagger_new(lex);
    struct mf_deid_entities none = {0};
    assert_int_equal(mf_deid_tag(t2, NULL, "nothing here", 12, &none, &err), 0);
    assert_int_equal((int)none.n, 0);
    assert_int_equal(mf_deid_tag(t2, NULL, NULL, 0, &none, &err), 0);
    assert_int_equal((int)none.n, 0);
    mf_deid_entities_free(&none);
    mf_deid_tagger_free(t2);
    /* empty text */
    assert_int_equal(mf_deid_tag(tg, NULL, "", 0, &ents, &err), 0);
    assert_int_equal((int)ents.n, 0);
    /* over 64 MiB: refused without reading it */
    assert_int_equal(mf_deid_tag(tg, NULL, t, ((size_t)64 << 20) + 1, &ents, &err), MF_ETOOBIG);
    /* a long text of repeated content: linear, offsets exact across segments */
    const char *line = "Seen by Dr. Ruth Jones on 2016-05-02.\n";
    size_t ln = strlen(line), reps = 5000;
    char *big = malloc(ln * reps + 1);
    assert_non_null(big);
    for (size_t i = 0; i < reps; i++)
        memcpy(big + i * ln, line, ln);
    big[ln * reps] = '\0';
    assert_int_equal(mf_deid_tag(tg, NULL, big, ln * reps, &ents, &err), 0);
    assert_int_equal((int)ents.n, (int)(2 * reps));
    for (size_t i = 0; i < ents.n; i++) {
        size_t base = (i / 2) * ln;
        if (i % 2 == 0) {
            assert_int_equal(ents.v[i].start, base + 12);
            assert_int_equal(ents.v[i].end, base + 22);
        } else {
            assert_int_equal(ents.v[i].start, base + 26);
            assert_int_equal(ents.v[i].end, base + 36);
        }
    }
    free(big);
}

static void offsets_are_bytes(void **state)
{
    (void)state;
    const char *t = "Ápolás: Dr. Ödön Kovács, 2016-05-02.";
    tag_ctx(t, NULL);
    const struct mf_deid_entity *e = find(t, "2016-05-02");
    assert_non_null(e);
    assert_int_equal(e->start, (size_t)(strstr(t, "2016") - t));
    assert_int_equal(e->end - e->start, 10);
}

/* Rules for names, places, addresses and phones without the usual capitals or cues, each
 * with near-misses from clinical prose. */
static void uncued_rules(void **state)
{
    (void)state;
    /* lower-case names: after "my name is" even when a place, lists, possessive before a
     * relative, speaker labels, a given name with an initial, a long given name alone */
    expect("hi, my name is porto and i need help", "porto", MF_DEID_NAME);
    expect("everyone calls me lisboa", "lisboa", MF_DEID_NAME);
    expect("we invited marta, chad and helmut", "chad", MF_DEID_NAME);
    expect("the kids are okwudili, terrence and pamela", "okwudili", MF_DEID_NAME);
    expect("she is roberto's daughter", "roberto", MF_DEID_NAME);
    expect("mika: where were you?\ntracy: at home", "mika", MF_DEID_NAME);
    expect("Ella: You are late. Destiny: I know.", "Destiny", MF_DEID_NAME);
    expect("contact emidio p lombardo for the keys", "emidio p lombardo", MF_DEID_NAME);
    expect("the essay about frederikke was long", "frederikke", MF_DEID_NAME);
    expect("Starring Key, directed by Anna B Key.", "Key", MF_DEID_NAME);
    expect("Allan Björk Scale Unlimited bought it.", "Allan Björk", MF_DEID_NAME);
    expect("\"It works,\" says Becker.", "Becker", MF_DEID_NAME);
    reject("Plan: continue lisinopril, metoprolol and atorvastatin.", "lisinopril");
    reject("Allergies: penicillin, sulfa and latex.", "sulfa");
    reject("pt c/o sob, hx of htn, gerd and copd", "gerd");
    reject("s p fall, bilat l knee pain", "bilat");
    reject("Monitor: brady episodes overnight.", "brady");
    reject("Hope: improve mobility. Note: stable.", "Hope");
    reject("Stevens Johnson syndrome was excluded.", "Stevens");
    reject("Braden Scale 18, Glasgow Coma Scale 15.", "Braden");
    reject("The patient's daughter is at bedside.", "patient");
    reject("May improve with PT.", "May");
    /* lower-case places after a residence or travel verb */
    expect("my brother lives in harburg now", "harburg", MF_DEID_CITY);
    expect("we returned to kiel by train", "kiel", MF_DEID_CITY);
    reject("Patient returned to baseline and went to rehab.", "baseline");
    reject("Patient returned to baseline and went to rehab.", "rehab");
    reject("She returned to pacu, then moved to icu.", "pacu");
    reject("He lives in a group home.", "group");
    /* addresses: region codes, a postal code before a PO box, lower-case streets, a named
     * street after a preposition, a unit alone */
    expect("Koskikatu 25 Apt. 5\nOULU   PP   90100", "PP", MF_DEID_CITY);
    reject("Lives at 1234 Maple Street, Northville, MA 02115.", "MA");
    expect("Maija Virta\n45818 P.O. Box 242\nKangasala", "45818", MF_DEID_ADDRESS);
    expect("send it to 3747 fourth avenue suite 112 calgary", "3747 fourth avenue",
           MF_DEID_ADDRESS);
    expect("the bakery on Berg Hills Street closed", "Berg Hills Street", MF_DEID_ADDRESS);
    expect("deliver to apt. 999 please", "apt. 999", MF_DEID_ADDRESS);
    reject("Walked 3 blocks down the road today.", "3 blocks");
    reject("It is a 10 minute drive to clinic.", "10 minute drive");
    reject("Take 2 tablets by mouth daily.", "2 tablets");
    reject("Suite of tests ordered. Apt to fall.", "Suite");
    /* local phone numbers after "at", "on my registered"...; never values */
    expect("Reach me at 668 5702 after five.", "668 5702", MF_DEID_PHONE);
    expect("nobody answers at 374 780 163", "374 780 163", MF_DEID_PHONE);
    expect("texts on my registered 555 0123", "555 0123", MF_DEID_PHONE);
    reject("HbA1c 7.2, glucose 110 120 135 this week.", "110 120 135");
    reject("Glucose at 110 120 135 today.", "110 120 135");
    reject("BP 120/80, HR 88.", "120/80");
    reject("Platelets at 250 1000 today.", "250 1000");
    reject("Readings were at 145 150 160 overnight.", "145 150 160");
    reject("Take 500 1000 mg at 250 1000 mg daily.", "250 1000");
    reject("Seen at 250 1000 hours.", "250 1000");
    reject("Dose was 250 500 750 mg.", "250 500 750");
    reject("Lab at 123 4567 units.", "123 4567");
}

static void international_rules(void **state)
{
    (void)state;
    /* compound street names by their Faker ending; a street word after the name; lower-case
     * words before a street word; house numbers with a letter or a slash */
    expect("Send it to Solbakkstigen 12, then call.", "Solbakkstigen 12", MF_DEID_ADDRESS);
    expect("Her flat: Trgovska ulica 6c/2, Ptuj", "Trgovska ulica 6c/2", MF_DEID_ADDRESS);
    expect("The van stops at 77 Lajos kapitány utca 12 hourly.", "Lajos kapitány utca 12",
           MF_DEID_ADDRESS);
    /* postal codes of other shapes in an address tail, a lower-case town line */
    expect("Ship to: Kertalja utca 9.\nbalatonkenese\nH-8174", "H-8174", MF_DEID_ZIP);
    expect("Ship to: Kertalja utca 9.\nbalatonkenese\nH-8174", "balatonkenese", MF_DEID_CITY);
    expect("Ship to: 22 Mill Road\nLeeds LS6 2QT", "LS6 2QT", MF_DEID_ZIP);
    expect("Ship to: Oudeweg 5\nHaarlem 2031BC", "2031BC", MF_DEID_ZIP);
    expect("Ship to: 40 Polna ulica 8\nKutno 99-300", "99-300", MF_DEID_ZIP);
    /* a postal code after a place, never a year */
    expect("She grew up in Tromsø 9008 and left.", "9008", MF_DEID_ZIP);
    reject("He moved to Boston 2019 and left.", "2019");
    /* a town by its Faker ending, though it looks like a drug (-ide) */
    expect("He flew in from Westerside yesterday.", "Westerside", MF_DEID_CITY);
    reject("Started clopidogrel and amlodipine today.", "amlodipine");
    reject("Bromide levels were low.", "Bromide");
    /* lower-case full names: given name and a proper noun, two long unknown words */
    expect("the frank lindqvist tapes", "frank lindqvist", MF_DEID_NAME);
    expect("have you met orvando tanaka yet?", "orvando tanaka", MF_DEID_NAME);
    expect("leave it with nina tomorrow", "nina", MF_DEID_NAME);
    reject("frank blood in stool, will reassess in am.", "frank");
    reject("bill paid, may need lasix, grant approved.", "bill");
    reject("follow up in april or june.", "june");
    /* a drug-like unknown word before a particle and a name, or after a title */
    expect("Clementine ten Broek gave the talk.", "Clementine", MF_DEID_NAME);
    expect("Dr. Rosaline will see you.", "Rosaline", MF_DEID_NAME);
    reject("Parkinson de novo, Crohn flare.", "Parkinson");
    reject("Continue famotidine and metformin.", "famotidine");
    /* words of another script in an English text; mojibake is not one */
    expect("She was born in σπάρτη and moved.", "σπάρτη", MF_DEID_CITY);
    expect("Her father came from 大阪 in 1990.", "大阪", MF_DEID_CITY);
    tag_ctx("Note: \xd7\x92\xe2\x82\xac\xe2\x80\x9c quite so \xd7\x9f\xc2\xbf\xc2\xbd yes", NULL);
    assert_int_equal(ents.n, 0);
    /* international phones: a one-digit area code after the country code, a slash */
    expect("Reach him on +47 2 931 4477 tonight.", "+47 2 931 4477", MF_DEID_PHONE);
    expect("call me on 06-21/338 4410 please", "06-21/338 4410", MF_DEID_PHONE);
    reject("Dose 2 tablets 5/10 daily, BP 130/85", "5/10");
}

/* Phones and postal codes recognised by their shape: the lexicon's phone-shape.txt and
 * postcode-shape.txt list every Faker locale's formats (digit '9', letter 'A'). All strings are
 * invented. */
static void shape_rules(void **state)
{
    (void)state;
    /* phones: a shape of another country after a local cue, a phone cue, or a cue after it */
    expect("Reach me at 49/507 1275 after six.", "49/507 1275", MF_DEID_PHONE);
    expect("You can reach me at (52)/418-3307 anytime.", "(52)/418-3307", MF_DEID_PHONE);
    expect("Please call 039 4 518 tomorrow.", "039 4 518", MF_DEID_PHONE);
    expect("Contact details: 4729105, ask for the desk.", "4729105", MF_DEID_PHONE);
    expect("812 44 907 is my number", "812 44 907", MF_DEID_PHONE);
    /* long shapes stand alone: 10 digits, or 9 after a trunk '0' */
    expect("6081 472339 is the landline", "6081 472339", MF_DEID_PHONE);
    expect("Written on the note: 0612-345678.", "0612-345678", MF_DEID_PHONE);
    expect("Her cousin abroad: +(370) 61234567.", "61234567", MF_DEID_PHONE);
    /* postal codes: after a cue, before a place (known or unknown), lettered shapes after a
     * place without a clause end */
    expect("Her postal code is K2P 7R3.", "K2P 7R3", MF_DEID_ZIP);
    expect("Postcode 4817624 on the form.", "4817624", MF_DEID_ZIP);
    expect("Send the letter to 37 428 Velkobor, please.", "37 428", MF_DEID_ZIP);
    expect("Send the letter to 37 428 Velkobor, please.", "Velkobor", MF_DEID_CITY);
    expect("Forwarded to 91842 Ostwerden.", "91842", MF_DEID_ZIP);
    expect("Parcel sent to H-6842 kisbarát today.", "H-6842", MF_DEID_ZIP);
    expect("Parcel sent to H-6842 kisbarát today.", "kisbarát", MF_DEID_CITY);
    expect("She moved to Vrendamoor 4381TK last spring.", "4381TK", MF_DEID_ZIP);
    /* near-misses: years, money, units, lab series, BP, dates, times, ratios */
    reject("Seen in 2018 2019 2020 for the same complaint.", "2018 2019 2020");
    reject("Total cost was $1 250 000 last year.", "1 250 000");
    reject("Invoice of 12 345 678 EUR was paid.", "12 345 678");
    reject("Vitamin D 50000 IU weekly.", "50000");
    reject("Received 3000 Kcal per day.", "3000");
    reject("Walked 1500 Meters today.", "1500");
    reject("Gave 2500 Units heparin.", "2500");
    reject("In 2004 Paris hosted the games.", "2004");
    reject("Scores 1234 5678 were recorded.", "1234 5678");
    reject("Creatinine 1.2 1.4 1.1 over three days.", "1.2 1.4 1.1");
    reject("Platelets 250 000 on admission.", "250 000");
    reject("Dose 1 000 000 units penicillin.", "1 000 000");
    reject("Weight 1 250 grams at birth.", "1 250");
    reject("BP 130/85, HR 72.", "130/85");
    reject("Follow-up on 12 05 2024 at 10:30.", "10:30");
    reject("Follow-up on 12 05 2024 at 10:30.", "12 05");
    reject("Titrate 5/10 then 10/20 weekly.", "5/10");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(categories_round_trip),
        cmocka_unit_test(lexicon_lists),
        cmocka_unit_test(dates),
        cmocka_unit_test(ages),
        cmocka_unit_test(contacts),
        cmocka_unit_test(identifiers),
        cmocka_unit_test(places),
        cmocka_unit_test(names),
        cmocka_unit_test(uncued_rules),
        cmocka_unit_test(international_rules),
        cmocka_unit_test(shape_rules),
        cmocka_unit_test(record_aware),
        cmocka_unit_test(hostile_input),
        cmocka_unit_test(offsets_are_bytes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
