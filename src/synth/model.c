/* model.c - the synthetic cohort's disease, lab, treatment and care model, and its truth.
 *
 * One patient is a discrete-time process on a grid of months (365.25 / 12 days) counted from
 * window.start.  The state is a set of "have" bits (15 conditions, 8 drug classes, having quit
 * smoking) and five latent values (systolic BP, BMI, HbA1c, LDL, eGFR).  Every month each
 * process that can happen (a condition not yet had, a drug indicated but not taken, quitting)
 * happens with probability h / (1 + h), independently given the state at the start of the
 * month, where h is its monthly hazard; death has its own hazard and, when it happens in a
 * month, nothing else does in that month.  An event's time is uniform within its month.
 *
 * Between state changes the latents move linearly and every log-hazard is linear in time, so
 * hazards are updated by one multiplication a month; they are recomputed from scratch (two
 * exp() per process) only in a month that follows a state change or an age breakpoint.  That
 * makes the truth cheap: it re-runs this same process from the state at an index date, with
 * death integrated rather than sampled (see truth_paths).
 *
 * Encounters, labs and procedures are outputs only: they never change the state, so the truth
 * does not simulate them.  Left out: recurrent MI or stroke, drug discontinuation, remission.
 * docs/synth-model.md describes the parameters and the checks.
 */
#include "synth/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/timeutil.h"

/* --- codes ---------------------------------------------------------------------------- */

enum proc {
    P_HTN,
    P_HLD,
    P_T2D,
    P_OBE,
    P_CKD3,
    P_CKD4,
    P_ESRD,
    P_HF,
    P_AF,
    P_MI,
    P_STROKE,
    P_COPD,
    P_DEP,
    P_COLON,
    P_LUNG,
    P_STATIN, /* first drug */
    P_ACEI,
    P_AMLO,
    P_BB,
    P_AC,
    P_MET,
    P_INS,
    P_SSRI,
    P_QUIT, /* quit smoking */
    P__N
};

#define N_COND    15
#define BIT(p)    (UINT32_C(1) << (p))
#define COND_MASK (BIT(N_COND) - 1)
#define DRUG_MASK (((BIT(P_SSRI + 1)) - 1) & ~COND_MASK)
/* conditions that count as chronic for care utilisation */
#define CHRONIC_MASK                                                                               \
    (BIT(P_HTN) | BIT(P_T2D) | BIT(P_CKD3) | BIT(P_HF) | BIT(P_AF) | BIT(P_MI) | BIT(P_STROKE) |   \
     BIT(P_COPD) | BIT(P_DEP) | BIT(P_COLON) | BIT(P_LUNG) | BIT(P_HLD))

const char *const mf_synth_outcome_codes[MF_SYN_N_OUTCOMES] = {
    "59621000",  "55822004",  "44054006",  "162864005", "433144002", "431857002",
    "46177005",  "88805009",  "49436004",  "22298006",  "230690007", "185086009",
    "370143000", "363406005", "254637007", NULL};

const char *const mf_synth_outcome_names[MF_SYN_N_OUTCOMES] = {
    "SNOMED/59621000",  "SNOMED/55822004",  "SNOMED/44054006",  "SNOMED/162864005",
    "SNOMED/433144002", "SNOMED/431857002", "SNOMED/46177005",  "SNOMED/88805009",
    "SNOMED/49436004",  "SNOMED/22298006",  "SNOMED/230690007", "SNOMED/185086009",
    "SNOMED/370143000", "SNOMED/363406005", "SNOMED/254637007", "MEDS_DEATH"};

static const char *const COND_DISPLAY[N_COND] = {"Essential hypertension (disorder)",
                                                 "Hyperlipidemia (disorder)",
                                                 "Diabetes mellitus type 2 (disorder)",
                                                 "Body mass index 30+ - obesity (finding)",
                                                 "Chronic kidney disease stage 3 (disorder)",
                                                 "Chronic kidney disease stage 4 (disorder)",
                                                 "End-stage renal disease (disorder)",
                                                 "Chronic congestive heart failure (disorder)",
                                                 "Atrial fibrillation (disorder)",
                                                 "Myocardial infarction (disorder)",
                                                 "Cerebrovascular accident (disorder)",
                                                 "Chronic obstructive bronchitis (disorder)",
                                                 "Major depression disorder (disorder)",
                                                 "Malignant tumor of colon (disorder)",
                                                 "Non-small cell lung cancer (disorder)"};

struct code {
    const char *code, *display;
};

/* Drug codes: index 0 is the class's first choice, 1 the alternative (statin, anticoagulant). */
static const struct code DRUG[P_SSRI - P_STATIN + 1][2] = {
    {{"314231", "Simvastatin 10 MG Oral Tablet"}, {"259255", "Atorvastatin 80 MG Oral Tablet"}},
    {{"314076", "lisinopril 10 MG Oral Tablet"}, {NULL, NULL}},
    {{"197361", "Amlodipine 5 MG Oral Tablet"}, {NULL, NULL}},
    {{"866924", "Metoprolol Tartrate 25 MG Oral Tablet"}, {NULL, NULL}},
    {{"855332", "Warfarin Sodium 5 MG Oral Tablet"}, {"1364435", "apixaban 2.5 MG Oral Tablet"}},
    {{"860975", "24 HR Metformin hydrochloride 500 MG Extended Release Oral Tablet"}, {NULL, NULL}},
    {{"106892", "insulin human, isophane 70 UNT/ML / Regular Insulin, Human 30 UNT/ML "
                "Injectable Suspension [Humulin]"},
     {NULL, NULL}},
    {{"312940", "Sertraline 50 MG Oral Tablet"}, {NULL, NULL}}};

/* Effects arms: the drug class and which of its codes (the code is the arm's name). */
static const int ARM_PROC[MF_SYN_N_ARMS] = {P_STATIN, P_ACEI, P_AC, P_MET};
static const int ARM_ALT[MF_SYN_N_ARMS] = {1, 0, 1, 0};
const char *const mf_synth_arm_codes[MF_SYN_N_ARMS] = {"259255", "314076", "1364435", "860975"};
/* Outcomes of effects rows: MI, stroke, CKD 3, heart failure (and death). */
#define EFFECT_MASK (BIT(P_MI) | BIT(P_STROKE) | BIT(P_CKD3) | BIT(P_HF))

static const struct code ENC_CHECKUP = {"185349003", "Encounter for check up (procedure)"};
static const struct code ENC_SYMPTOM = {"185345009", "Encounter for symptom (procedure)"};
static const struct code ENC_PROBLEM = {"185347001", "Encounter for problem (procedure)"};
static const struct code ENC_ED = {"50849002", "Emergency room admission (procedure)"};
static const struct code ENC_ADMIT = {"183452005", "Emergency hospital admission (procedure)"};
static const struct code PROC_MEDREC = {"430193006", "Medication Reconciliation (procedure)"};
static const struct code PROC_COLONOSCOPY = {"73761001", "Colonoscopy (procedure)"};
static const struct code PROC_CABG = {"232717009", "Coronary artery bypass grafting (procedure)"};
static const struct code PROC_PCI = {"415070008", "Percutaneous coronary intervention (procedure)"};
static const struct code PROC_DIALYSIS = {"302497006", "Hemodialysis (procedure)"};
static const struct code COND_BLEED = {"74474003", "Gastrointestinal hemorrhage (disorder)"};

enum obs { O_SBP, O_DBP, O_A1C, O_GLU, O_LDL, O_EGFR, O_CREAT, O_BMI, O_WEIGHT, O__N };
static const struct {
    const char *code, *display, *unit;
} OBS[O__N] = {
    {"8480-6", "Systolic Blood Pressure", "mm[Hg]"},
    {"8462-4", "Diastolic Blood Pressure", "mm[Hg]"},
    {"4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%"},
    {"2339-0", "Glucose [Mass/volume] in Blood", "mg/dL"},
    {"18262-6", "Cholesterol in LDL [Mass/volume] in Serum or Plasma by Direct assay", "mg/dL"},
    {"33914-3",
     "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum, Plasma or "
     "Blood by Creatinine-based formula",
     "mL/min/{1.73_m2}"},
    {"2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL"},
    {"39156-5", "Body mass index (BMI) [Ratio]", "kg/m2"},
    {"29463-7", "Body Weight", "kg"}};

/* --- the state ------------------------------------------------------------------------ */

enum lat { L_SBP, L_BMI, L_A1C, L_LDL, L_EGFR, L__N };

#define N_BRK 6
static const double BRK_AGE[N_BRK] = {40, 45, 50, 55, 60, 70};

struct sim {
    /* fixed for the patient */
    int female, black, asian, hisp, smoker;
    double age0; /* years at month 0 */
    double height;
    double sbp_slope, bmi_slope, egfr_factor;
    double statin_resp, acei_sbp, amlo_sbp, acei_renal, acei_renal_dm, met_resp;
    int alt_statin, alt_ac; /* which code of the class this patient gets */
    int brk[N_BRK];         /* months at which age reaches BRK_AGE */
    /* dynamic */
    uint32_t have;
    uint32_t elig;
    int m0;                        /* month of the last recompute */
    double lat[L__N], slope[L__N]; /* latents at m0, change per month */
    double h[P__N], g[P__N];       /* monthly hazards now, monthly growth factors */
    double hd, gd;                 /* death: Gompertz part */
    double hdc;                    /* death: constant (Makeham) part */
};

/* Covariates as the hazards see them (treated values). */
struct cov {
    double age, sbp, bmi, a1c, ldl, egfr;
};

static double clampd(double x, double lo, double hi)
{
    return x < lo ? lo : (x > hi ? hi : x);
}

/* The covariates at month m (latents extrapolated linearly from m0, drug effects applied). */
static void covariates(const struct sim *s, int m, struct cov *c)
{
    double dt = m - s->m0;
    uint32_t h = s->have;
    c->age = s->age0 + m / 12.0;
    c->bmi = clampd(s->lat[L_BMI] + s->slope[L_BMI] * dt, 15, 70);
    double sbp = s->lat[L_SBP] + s->slope[L_SBP] * dt;
    if (h & BIT(P_ACEI))
        sbp -= s->acei_sbp;
    if (h & BIT(P_AMLO))
        sbp -= s->amlo_sbp;
    if (h & BIT(P_BB))
        sbp -= 4;
    c->sbp = clampd(sbp, 85, 230);
    double a1c = s->lat[L_A1C] + s->slope[L_A1C] * dt;
    if (h & BIT(P_MET))
        a1c -= (h & BIT(P_T2D)) ? 0.9 * s->met_resp : 0.15;
    if (h & BIT(P_INS))
        a1c -= 1.4 * s->met_resp;
    c->a1c = clampd(a1c, 4.2, 14);
    double ldl = s->lat[L_LDL] + s->slope[L_LDL] * dt;
    if (h & BIT(P_STATIN))
        ldl *= 1 - s->statin_resp * (s->alt_statin ? 0.48 : 0.30);
    c->ldl = clampd(ldl, 30, 320);
    c->egfr = clampd(s->lat[L_EGFR] + s->slope[L_EGFR] * dt, 3, 150);
}

/* The slopes of the latents from month m on (per month), given state and age. */
static void set_slopes(struct sim *s, int m)
{
    double age = s->age0 + m / 12.0;
    uint32_t h = s->have;
    double bmi = age < 55 ? s->bmi_slope : (age < 70 ? 0.0 : -0.2);
    double sbp = s->sbp_slope + 0.5 * bmi;
    if (age >= 50)
        sbp += s->female ? 0.3 : 0.1;
    double a1c = 0.004 + 0.003 * fmax(s->lat[L_BMI] - 25, 0) + ((h & BIT(P_T2D)) ? 0.06 : 0);
    double ldl = age < 60 ? (s->female && age >= 45 ? 1.5 : 0.7) : -0.3;
    double egfr = 0.3;
    if (age >= 40) {
        egfr = (0.6 + 0.9 * !!(h & BIT(P_T2D)) + 0.4 * !!(h & BIT(P_HTN)) +
                0.6 * !!(h & BIT(P_CKD3)) + 1.0 * !!(h & BIT(P_CKD4))) *
               s->egfr_factor;
        if (h & BIT(P_ACEI))
            egfr *= (h & BIT(P_T2D)) ? s->acei_renal_dm : s->acei_renal;
    }
    s->slope[L_BMI] = bmi / 12;
    s->slope[L_SBP] = sbp / 12;
    s->slope[L_A1C] = a1c / 12;
    s->slope[L_LDL] = ldl / 12;
    s->slope[L_EGFR] = -egfr / 12;
}

/* Which processes can happen in the current state. */
static uint32_t eligible(const struct sim *s, int m)
{
    uint32_t h = s->have, e = COND_MASK & ~h;
    double age = s->age0 + m / 12.0;
    if (!(h & BIT(P_CKD3)))
        e &= ~BIT(P_CKD4);
    if (!(h & BIT(P_CKD4)))
        e &= ~BIT(P_ESRD);
    if (!(h & BIT(P_STATIN)) &&
        (h & (BIT(P_HLD) | BIT(P_MI) | BIT(P_STROKE)) || ((h & BIT(P_T2D)) && age >= 40)))
        e |= BIT(P_STATIN);
    if (!(h & BIT(P_ACEI)) && (h & (BIT(P_HTN) | BIT(P_HF)) || (h & BIT(P_T2D) && h & BIT(P_CKD3))))
        e |= BIT(P_ACEI);
    if (!(h & BIT(P_AMLO)) && (h & BIT(P_HTN)) && (h & BIT(P_ACEI)))
        e |= BIT(P_AMLO);
    if (!(h & BIT(P_BB)) && (h & (BIT(P_MI) | BIT(P_HF) | BIT(P_AF))))
        e |= BIT(P_BB);
    if (!(h & BIT(P_AC)) && (h & BIT(P_AF)))
        e |= BIT(P_AC);
    if (!(h & BIT(P_MET)) && (h & BIT(P_T2D)))
        e |= BIT(P_MET);
    if (!(h & BIT(P_INS)) && (h & BIT(P_T2D)) && (h & BIT(P_MET)))
        e |= BIT(P_INS);
    if (!(h & BIT(P_SSRI)) && (h & BIT(P_DEP)))
        e |= BIT(P_SSRI);
    if (s->smoker && !(h & BIT(P_QUIT)))
        e |= BIT(P_QUIT);
    return e;
}

/* Annual log-hazards of every process and of death at covariates c.  See docs/synth-model.md
 * for where the coefficients come from. */
static void log_hazards(const struct sim *s, const struct cov *c, double *lp, double *lpd)
{
    uint32_t h = s->have;
#define H(p) ((double)!!(h & BIT(p)))
    double a = c->age, male = !s->female, fem = s->female;
    double cur = s->smoker && !(h & BIT(P_QUIT)), former = s->smoker && (h & BIT(P_QUIT));
    double bmi = c->bmi - 28, sbp = c->sbp - 130, ldl = c->ldl - 130;
    double vasc = (double)!!(h & (BIT(P_MI) | BIT(P_STROKE) | BIT(P_HF)));
    lp[P_HTN] = -3.1 - 0.005 * (a - 50) + 0.055 * sbp + 0.03 * bmi + 0.35 * s->black +
                0.3 * H(P_T2D) + 0.3 * H(P_CKD3);
    lp[P_HLD] = -3.4 + 0.02 * (a - 50) + 0.03 * ldl + 0.3 * H(P_T2D) + 0.02 * bmi + 0.2 * H(P_HTN);
    lp[P_T2D] = -5.1 + 1.6 * (c->a1c - 5.7) + 0.03 * bmi + 0.3 * (s->black || s->hisp) +
                0.3 * s->asian - 0.35 * H(P_MET);
    lp[P_OBE] = -1.2 + 1.0 * (c->bmi - 30);
    lp[P_CKD3] = -0.8 - 0.18 * (c->egfr - 60);
    lp[P_CKD4] = -1.0 - 0.18 * (c->egfr - 30);
    lp[P_ESRD] = -0.7 - 0.2 * (c->egfr - 15);
    lp[P_HF] = -6.6 + 0.065 * (a - 60) + 0.015 * sbp + 0.5 * H(P_HTN) + 0.5 * H(P_T2D) +
               1.3 * H(P_MI) + 0.6 * H(P_AF) + 0.4 * H(P_CKD3) + 0.3 * H(P_CKD4) + 0.035 * bmi +
               0.2 * male + 0.3 * cur - 0.15 * H(P_ACEI) - 0.1 * H(P_BB);
    lp[P_AF] = -6.7 + 0.065 * (a - 60) + 0.35 * male + 0.3 * H(P_HTN) + 0.7 * H(P_HF) +
               0.025 * bmi + 0.2 * H(P_MI);
    lp[P_MI] = -6.45 + 0.05 * (a - 60) + 0.6 * male + 0.0064 * ldl + 0.015 * sbp + 0.6 * H(P_T2D) +
               0.7 * cur + 0.3 * former + 0.4 * H(P_CKD3) + 0.3 * H(P_HTN) - 0.15 * H(P_STATIN) -
               0.1 * H(P_MET) * H(P_T2D);
    double af = H(P_AF), ac = H(P_AC);
    lp[P_STROKE] = -6.4 + 0.05 * (a - 60) + 0.02 * sbp + 0.4 * H(P_HTN) +
                   af * (1.6 + ac * log(0.35)) + (1 - af) * ac * log(0.85) + 0.4 * H(P_T2D) +
                   0.5 * cur + 0.2 * former + 0.3 * H(P_CKD3) + 0.004 * ldl + 0.2 * s->black -
                   0.1 * H(P_STATIN) + 0.3 * H(P_MI);
    lp[P_COPD] = -6.7 + 0.045 * (a - 50) + 2.2 * cur + 1.5 * former;
    lp[P_DEP] = -5.75 - 0.06 * (a - 40) + 0.55 * fem + 0.4 * vasc + 0.2 * H(P_T2D) + 0.3 * cur;
    lp[P_COLON] = -7.8 + 0.06 * (a - 60) + 0.25 * male + 0.02 * bmi + 0.25 * H(P_T2D);
    lp[P_LUNG] = -8.6 + 0.075 * (a - 60) + 2.5 * cur + 1.6 * former;
    lp[P_STATIN] = -0.7 + 0.012 * ldl + 0.7 * H(P_MI) + 0.7 * H(P_STROKE);
    lp[P_ACEI] = 0.2 + 0.03 * (c->sbp - 140) + 0.5 * H(P_HF);
    lp[P_AMLO] = -1.6 + 0.05 * (c->sbp - 140);
    lp[P_BB] = 0.7;
    lp[P_AC] = -0.2 + 0.03 * (a - 65) + 0.8 * H(P_STROKE);
    lp[P_MET] = 0.7 + 0.5 * (c->a1c - 7);
    lp[P_INS] = -3.0 + 0.9 * (c->a1c - 8);
    lp[P_SSRI] = 0.0;
    lp[P_QUIT] = -3.35 + 0.02 * (a - 40) + 0.6 * H(P_MI) + 0.6 * H(P_COPD) + 0.6 * H(P_LUNG) +
                 0.6 * H(P_STROKE);
    *lpd = -5.3 + 0.087 * (a - 60) - 0.45 * fem + 0.1 * H(P_HTN) + 0.4 * H(P_T2D) +
           0.3 * H(P_CKD3) + 0.5 * H(P_CKD4) + 0.8 * H(P_ESRD) + 0.9 * H(P_HF) + 0.3 * af +
           0.4 * H(P_MI) + 0.5 * H(P_STROKE) + 0.7 * H(P_COPD) + 0.2 * H(P_DEP) + 1.6 * H(P_COLON) +
           2.7 * H(P_LUNG) + 0.7 * cur + 0.25 * former + 0.015 * (c->bmi - 27) + 0.05 * ac -
           0.15 * H(P_BB) * H(P_MI) - 0.1 * H(P_STATIN) * vasc;
#undef H
}

/* Rebuild the hazards at month m: move the latents to m with the old slopes, apply the jumps
 * of the processes in `fresh`, take the new slopes, and set h = exp(lp(m)) and the growth
 * factor g = exp((lp(m + 12) - lp(m)) / 12) of every eligible process. */
static void recompute(struct sim *s, int m, uint32_t fresh)
{
    double dt = m - s->m0;
    for (int l = 0; l < L__N; l++)
        s->lat[l] += s->slope[l] * dt;
    s->m0 = m;
    if (fresh & BIT(P_T2D))
        s->lat[L_A1C] += 0.3;
    set_slopes(s, m);
    s->elig = eligible(s, m);
    struct cov c0, c1;
    double lp0[P__N], lp1[P__N], d0, d1;
    covariates(s, m, &c0);
    covariates(s, m + 12, &c1);
    c1.age = c0.age + 1;
    log_hazards(s, &c0, lp0, &d0);
    log_hazards(s, &c1, lp1, &d1);
    for (int k = 0; k < P__N; k++) {
        if (s->elig & BIT(k)) {
            s->h[k] = exp(lp0[k]) / 12;
            s->g[k] = exp((lp1[k] - lp0[k]) / 12);
        } else {
            s->h[k] = 0;
            s->g[k] = 1;
        }
    }
    s->hd = exp(d0) / 12;
    s->hdc = 0.0011 / 12;
    s->gd = exp((d1 - d0) / 12);
}

/* The month's event probabilities p[k] and death probability. */
static double month_probs(const struct sim *s, double *p)
{
    for (int k = 0; k < P__N; k++)
        p[k] = s->h[k] / (1 + s->h[k]);
    double hd = s->hd + s->hdc;
    return hd / (1 + hd);
}

/* Draw which processes happen this month: independent Bernoulli(p[k]), drawn as "any at all"
 * (one uniform) and then, only in a month with events, each in turn conditioned on at least
 * one happening among those left.  The law is that of independent draws. */
static uint32_t sample_events(struct mf_rng *r, const double *p)
{
    double suf[P__N + 1];
    suf[P__N] = 1;
    int last = -1;
    for (int k = P__N - 1; k >= 0; k--) {
        suf[k] = suf[k + 1] * (1 - p[k]);
        if (last < 0 && p[k] > 0)
            last = k;
    }
    if (last < 0 || mf_rng_uniform(r) >= 1 - suf[0])
        return 0;
    uint32_t ev = 0;
    for (int k = 0; k <= last; k++) {
        if (p[k] <= 0)
            continue;
        if (!ev) {
            double q = k == last ? 1.0 : p[k] / (1 - suf[k]);
            if (mf_rng_uniform(r) < q)
                ev |= BIT(k);
        } else if (mf_rng_uniform(r) < p[k]) {
            ev |= BIT(k);
        }
    }
    return ev;
}

static int is_brk(const struct sim *s, int m)
{
    for (int i = 0; i < N_BRK; i++)
        if (s->brk[i] == m)
            return 1;
    return 0;
}

/* Close month m: apply the events and move the hazards to month m + 1. */
static void advance(struct sim *s, int m, uint32_t ev)
{
    if (ev) {
        s->have |= ev;
        recompute(s, m + 1, ev);
    } else if (is_brk(s, m + 1)) {
        recompute(s, m + 1, 0);
    } else {
        for (int k = 0; k < P__N; k++)
            s->h[k] *= s->g[k];
        s->hd *= s->gd;
    }
}

/* --- the truth ------------------------------------------------------------------------ */

/* The fraction of month 11 (and of month 59) inside 365 (1826) days: both horizons end 2608200
 * s into their last month. */
#define HFRAC     (2608200.0 / 2629800.0)
#define OUT_DEATH (MF_SYN_N_OUTCOMES - 1)

/* Rao-Blackwellised Monte Carlo: K paths of the process from state s0 at month m, with death
 * never sampled but carried as the survival weight S.  In month k a condition c not yet had on
 * the path adds S * (1 - pd) * p_c (it happens only if death does not), death adds S * pd;
 * the last month of a horizon counts the fraction of it inside the horizon (event times are
 * uniform within their month).  The other processes, c included, are drawn as the simulator
 * draws them.  acc[o][0] (365 days) and acc[o][1] (1826 days) get the average over paths. */
static void truth_paths(const struct sim *s0, int m, int K, uint64_t seed, uint32_t outmask,
                        double acc[MF_SYN_N_OUTCOMES][2], int K2, double acc2[MF_SYN_N_OUTCOMES][2])
{
    memset(acc, 0, sizeof(double) * MF_SYN_N_OUTCOMES * 2);
    for (int path = 0; path < K; path++) {
        if (acc2 && path == K2)
            for (int o = 0; o < MF_SYN_N_OUTCOMES; o++) {
                acc2[o][0] = acc[o][0] / K2;
                acc2[o][1] = acc[o][1] / K2;
            }
        struct sim s = *s0;
        struct mf_rng r;
        mf_rng_seed(&r, seed, (uint64_t)path);
        double S = 1, p[P__N];
        uint32_t open = outmask;
        for (int k = 0; k < 60; k++) {
            double pd = month_probs(&s, p);
            double f1 = k < 11 ? 1.0 : (k == 11 ? HFRAC : 0.0);
            double f5 = k < 59 ? 1.0 : HFRAC;
            double w = S * (1 - pd);
            for (uint32_t x = open; x; x &= x - 1) {
                int c = __builtin_ctz(x);
                double v = w * p[c];
                acc[c][0] += v * f1;
                acc[c][1] += v * f5;
            }
            acc[OUT_DEATH][0] += S * pd * f1;
            acc[OUT_DEATH][1] += S * pd * f5;
            S *= 1 - pd;
            if (k == 59)
                break;
            uint32_t ev = sample_events(&r, p);
            open &= ~ev;
            advance(&s, m + k, ev);
        }
    }
    if (acc2 && K2 >= K)
        for (int o = 0; o < MF_SYN_N_OUTCOMES; o++) {
            acc2[o][0] = acc[o][0] / K;
            acc2[o][1] = acc[o][1] / K;
        }
    for (int o = 0; o < MF_SYN_N_OUTCOMES; o++) {
        acc[o][0] /= K;
        acc[o][1] /= K;
    }
}

static int push_truth(struct mf_syn_life *life, int64_t t, const char *outcome,
                      const char *treatment, int horizon, double p)
{
    if (life->n_truth == life->cap_truth) {
        size_t cap = life->cap_truth ? 2 * life->cap_truth : 256;
        struct mf_syn_truth *v = realloc(life->truth, cap * sizeof(*v));
        if (!v)
            return MF_ENOMEM;
        life->truth = v;
        life->cap_truth = cap;
    }
    struct mf_syn_truth *row = &life->truth[life->n_truth++];
    row->index_time = t;
    row->outcome = outcome;
    row->treatment = treatment;
    row->horizon_days = horizon;
    row->probability = clampd(p, 0, 1);
    return 0;
}

/* Rows of one treatment (NULL: risk rows) from acc, for the outcomes in mask and death. */
static int push_rows(struct mf_syn_life *life, int64_t t, const char *treatment, uint32_t mask,
                     double acc[MF_SYN_N_OUTCOMES][2])
{
    int rc = 0;
    for (int o = 0; o < MF_SYN_N_OUTCOMES && !rc; o++) {
        if (o != OUT_DEATH && !(mask & BIT(o)))
            continue;
        rc = push_truth(life, t, mf_synth_outcome_names[o], treatment, 365, acc[o][0]);
        if (!rc)
            rc = push_truth(life, t, mf_synth_outcome_names[o], treatment, 1826, acc[o][1]);
    }
    return rc;
}

/* The truth at index month m (state s, before month m is simulated).  All treatments share
 * the same random streams (common random numbers), so their differences are estimated with
 * little noise.  "none" is the natural course: nothing started at the index date, drugs
 * already taken go on, and later starts follow the model (so its rows equal the risk rows). */
static int truth_at(struct mf_syn_life *life, const struct sim *s, int m, int64_t t, uint64_t seed,
                    const struct mf_synth_model_opts *o)
{
    double acc[MF_SYN_N_OUTCOMES][2], none[MF_SYN_N_OUTCOMES][2];
    uint32_t outmask = COND_MASK & ~s->have;
    uint32_t effmask = outmask & EFFECT_MASK;
    int rc;
    int Ke = o->paths_effects;
    truth_paths(s, m, o->paths_risk, seed, outmask, acc, Ke, none);
    if ((rc = push_rows(life, t, NULL, outmask, acc)))
        return rc;
    if (Ke > o->paths_risk) /* more paths for effects than for risk: run them */
        truth_paths(s, m, Ke, seed, effmask, none, 0, NULL);
    if ((rc = push_rows(life, t, "none", effmask, none)))
        return rc;
    for (int a = 0; a < MF_SYN_N_ARMS; a++) {
        int proc = ARM_PROC[a];
        if (s->have & BIT(proc)) {
            rc = push_rows(life, t, mf_synth_arm_codes[a], effmask, none);
        } else {
            struct sim arm = *s;
            arm.have |= BIT(proc);
            if (proc == P_STATIN)
                arm.alt_statin = ARM_ALT[a];
            if (proc == P_AC)
                arm.alt_ac = ARM_ALT[a];
            recompute(&arm, m, 0);
            truth_paths(&arm, m, Ke, seed, effmask, acc, 0, NULL);
            rc = push_rows(life, t, mf_synth_arm_codes[a], effmask, acc);
        }
        if (rc)
            return rc;
    }
    return 0;
}

/* --- the life's items ----------------------------------------------------------------- */

#define ENC_FIRST (-2) /* placeholder: the patient's first check-up in the window */

struct ctx {
    struct mf_rng *r;
    const struct mf_synth_window *w;
    struct mf_syn_life *life;
    struct sim s;
    struct cov cv; /* this month's covariates */
    int first_enc; /* item index of the first check-up, or -1 */
    int64_t onset[N_COND];
    int rc;
};

/* Append an item; returns its index, or -1 when dropped (after the window) or on ENOMEM
 * (x->rc is set). */
static int add(struct ctx *x, enum mf_syn_kind kind, int64_t t, const char *code,
               const char *display, double value, const char *unit, int enc)
{
    struct mf_syn_life *life = x->life;
    if (x->rc || t >= x->w->end)
        return -1;
    if (life->n_items == life->cap_items) {
        size_t cap = life->cap_items ? 2 * life->cap_items : 512;
        struct mf_syn_item *v = realloc(life->items, cap * sizeof(*v));
        if (!v) {
            x->rc = MF_ENOMEM;
            return -1;
        }
        life->items = v;
        life->cap_items = cap;
    }
    struct mf_syn_item *it = &life->items[life->n_items];
    it->kind = kind;
    it->time = t;
    it->end_time = MF_TIME_NONE;
    it->code = code;
    it->display = display;
    it->value = value;
    it->unit = unit;
    it->encounter = enc;
    it->enc_class = MF_SYN_AMB;
    return (int)life->n_items++;
}

static int add_enc(struct ctx *x, int64_t t, int64_t dur, enum mf_syn_class cls,
                   const struct code *c)
{
    int i = add(x, MF_SYN_ENCOUNTER, t, c->code, c->display, NAN, NULL, -1);
    if (i >= 0) {
        int64_t end = t + dur;
        x->life->items[i].end_time = end < x->w->end ? end : x->w->end;
        x->life->items[i].enc_class = cls;
    }
    return i;
}

static void add_obs(struct ctx *x, int64_t t, int enc, enum obs o, double v)
{
    if (enc >= 0)
        add(x, MF_SYN_OBSERVATION, t, OBS[o].code, OBS[o].display, v, OBS[o].unit, enc);
}

static double round_to(double v, double unit)
{
    return round(v / unit) * unit;
}

/* Serum creatinine giving eGFR e by CKD-EPI 2021 (race-free), and back. */
static double ckd_epi(double scr, double age, int female)
{
    double k = female ? 0.7 : 0.9, al = female ? -0.241 : -0.302;
    double q = scr / k;
    return 142 * pow(fmin(q, 1), al) * pow(fmax(q, 1), -1.2) * pow(0.9938, age) *
           (female ? 1.012 : 1.0);
}

static double creatinine_for(double egfr, double age, int female)
{
    double k = female ? 0.7 : 0.9, al = female ? -0.241 : -0.302;
    double A = egfr / (142 * pow(0.9938, age) * (female ? 1.012 : 1.0));
    return A >= 1 ? k * pow(A, 1 / al) : k * pow(A, -1 / 1.2);
}

enum { LAB_VITALS = 1, LAB_A1C = 2, LAB_LDL = 4, LAB_RENAL = 8 };

/* Measurements at an encounter: latent + noise. */
static void measure(struct ctx *x, int64_t t, int enc, int which)
{
    struct mf_rng *r = x->r;
    const struct cov *c = &x->cv;
    if (which & LAB_VITALS) {
        double sbp = c->sbp + 8 * mf_rng_normal(r);
        double dbp = 0.45 * sbp + 20 - 0.2 * fmax(c->age - 60, 0) + 5 * mf_rng_normal(r);
        double bmi = c->bmi + 0.3 * mf_rng_normal(r);
        add_obs(x, t, enc, O_SBP, round(clampd(sbp, 70, 250)));
        add_obs(x, t, enc, O_DBP, round(clampd(dbp, 35, 140)));
        add_obs(x, t, enc, O_BMI, round_to(bmi, 0.1));
        add_obs(x, t, enc, O_WEIGHT, round_to(bmi * x->s.height * x->s.height, 0.1));
    }
    if (which & LAB_A1C) {
        double a1c = clampd(c->a1c + 0.15 * mf_rng_normal(r), 3.8, 16);
        add_obs(x, t, enc, O_A1C, round_to(a1c, 0.1));
        add_obs(x, t, enc, O_GLU, round(fmax(28.7 * a1c - 46.7 + 12 * mf_rng_normal(r), 45)));
    }
    if (which & LAB_LDL)
        add_obs(x, t, enc, O_LDL, round(fmax(c->ldl + 8 * mf_rng_normal(r), 20)));
    if (which & LAB_RENAL) {
        double scr = creatinine_for(c->egfr, c->age, x->s.female) * exp(0.05 * mf_rng_normal(r));
        scr = round_to(scr, 0.01);
        if (scr < 0.2)
            scr = 0.2;
        add_obs(x, t, enc, O_CREAT, scr);
        add_obs(x, t, enc, O_EGFR, round(ckd_epi(scr, c->age, x->s.female)));
    }
}

/* A check-up: vitals, labs by indication or screening, renewals, reconciliation, screening
 * colonoscopy.  The first one also lists the history conditions and the drugs taken. */
static int checkup(struct ctx *x, int64_t t, uint32_t have)
{
    struct mf_rng *r = x->r;
    int enc = add_enc(x, t, 20 * 60 * MF_USEC_PER_SEC, MF_SYN_AMB, &ENC_CHECKUP);
    if (enc < 0)
        return -1;
    int first = x->first_enc < 0;
    if (first)
        x->first_enc = enc;
    int which = LAB_VITALS;
    if ((have & BIT(P_T2D)) || mf_rng_bernoulli(r, 0.25))
        which |= LAB_A1C;
    if ((have & (BIT(P_HLD) | BIT(P_STATIN))) || mf_rng_bernoulli(r, 0.3))
        which |= LAB_LDL;
    if ((have & (BIT(P_HTN) | BIT(P_T2D) | BIT(P_CKD3) | BIT(P_HF))) || mf_rng_bernoulli(r, 0.3))
        which |= LAB_RENAL;
    measure(x, t, enc, which);
    int any = 0;
    for (int d = P_STATIN; d <= P_SSRI; d++) {
        if (!(have & BIT(d)))
            continue;
        any = 1;
        if (first || mf_rng_bernoulli(x->r, 0.5)) {
            int alt = (d == P_STATIN && x->s.alt_statin) || (d == P_AC && x->s.alt_ac);
            const struct code *c = &DRUG[d - P_STATIN][alt];
            add(x, MF_SYN_MEDICATION, t, c->code, c->display, NAN, NULL, enc);
        }
    }
    if (any)
        add(x, MF_SYN_PROCEDURE, t, PROC_MEDREC.code, PROC_MEDREC.display, NAN, NULL, enc);
    if (x->cv.age >= 45 && x->cv.age <= 75 && mf_rng_bernoulli(r, 0.02))
        add(x, MF_SYN_PROCEDURE, t, PROC_COLONOSCOPY.code, PROC_COLONOSCOPY.display, NAN, NULL,
            enc);
    return enc;
}

/* An emergency visit followed by an admission of los_days days; returns the ED encounter. */
static int acute(struct ctx *x, int64_t t, double los_days, int *adm)
{
    int ed = add_enc(x, t, 3 * 3600 * MF_USEC_PER_SEC, MF_SYN_EMER, &ENC_ED);
    int64_t ta = t + 3 * 3600 * MF_USEC_PER_SEC;
    int a = add_enc(x, ta, (int64_t)(los_days * MF_USEC_PER_DAY), MF_SYN_IMP, &ENC_ADMIT);
    if (ed >= 0)
        measure(x, t, ed, LAB_VITALS);
    if (a >= 0)
        measure(x, ta, a, LAB_RENAL | LAB_A1C);
    *adm = a;
    return ed;
}

static int64_t in_month(struct ctx *x, int64_t t0)
{
    return t0 + (int64_t)(mf_rng_uniform(x->r) * (double)MF_SYN_MONTH_US);
}

/* The items of window month m: routine visits, the month's events (ev) and unplanned care.
 * have is the state at the start of the month. */
static void emit_month(struct ctx *x, int m, int64_t t0, uint32_t have, uint32_t ev)
{
    struct mf_rng *r = x->r;
    int n_ch = __builtin_popcount(have & CHRONIC_MASK);
    covariates(&x->s, m, &x->cv);
    double age = x->cv.age;
    /* routine check-ups: Poisson, rate rising with chronic conditions and age */
    double lam = (0.9 + 0.5 * n_ch + (age >= 65 ? 0.6 : 0)) / 12;
    int nv = 0;
    double u = mf_rng_uniform(r), pk = exp(-lam), cum = pk;
    while (u > cum && nv < 4) {
        nv++;
        pk *= lam / nv;
        cum += pk;
    }
    if (m == 0)
        nv++;
    int visit0 = -1;
    int64_t tv0 = 0;
    for (int i = 0; i < nv; i++) {
        int64_t t = in_month(x, t0);
        int e = checkup(x, t, have);
        if (i == 0) {
            visit0 = e;
            tv0 = t;
        }
    }
    /* new conditions */
    for (uint32_t b = ev & COND_MASK; b; b &= b - 1) {
        int c = __builtin_ctz(b);
        int64_t t = in_month(x, t0);
        int enc, adm = -1;
        if (c == P_MI || c == P_STROKE || (c == P_HF && mf_rng_bernoulli(r, 0.5))) {
            enc = acute(x, t, 3 + 5 * mf_rng_uniform(r), &adm);
        } else {
            enc = add_enc(x, t, 30 * 60 * MF_USEC_PER_SEC, MF_SYN_AMB, &ENC_SYMPTOM);
            int which = LAB_VITALS;
            if (c == P_T2D)
                which |= LAB_A1C;
            if (c == P_HLD)
                which |= LAB_LDL;
            if (c == P_CKD3 || c == P_CKD4 || c == P_ESRD || c == P_HTN)
                which |= LAB_RENAL;
            if (enc >= 0)
                measure(x, t, enc, which);
        }
        if (enc < 0)
            continue;
        add(x, MF_SYN_CONDITION, t, mf_synth_outcome_codes[c], COND_DISPLAY[c], NAN, NULL, enc);
        if (c == P_COLON)
            add(x, MF_SYN_PROCEDURE, t, PROC_COLONOSCOPY.code, PROC_COLONOSCOPY.display, NAN, NULL,
                enc);
        if (c == P_ESRD)
            add(x, MF_SYN_PROCEDURE, t, PROC_DIALYSIS.code, PROC_DIALYSIS.display, NAN, NULL, enc);
        if (c == P_MI && adm >= 0) {
            double v = mf_rng_uniform(r);
            const struct code *pc = v < 0.6 ? &PROC_PCI : (v < 0.7 ? &PROC_CABG : NULL);
            if (pc)
                add(x, MF_SYN_PROCEDURE, x->life->items[adm].time, pc->code, pc->display, NAN, NULL,
                    adm);
        }
    }
    /* new drugs: prescribed at the month's first check-up, or at a visit of their own */
    for (uint32_t b = ev & DRUG_MASK; b; b &= b - 1) {
        int d = __builtin_ctz(b);
        int enc = visit0;
        int64_t t = tv0;
        if (enc < 0) {
            t = in_month(x, t0);
            enc = checkup(x, t, have);
            visit0 = enc;
            tv0 = t;
        }
        if (enc < 0)
            continue;
        int alt = (d == P_STATIN && x->s.alt_statin) || (d == P_AC && x->s.alt_ac);
        const struct code *c = &DRUG[d - P_STATIN][alt];
        add(x, MF_SYN_MEDICATION, t, c->code, c->display, NAN, NULL, enc);
    }
    /* unplanned care */
    int adm;
    if (mf_rng_bernoulli(r, (0.12 + 0.08 * n_ch) / 12)) {
        int64_t t = in_month(x, t0);
        int e = add_enc(x, t, (int64_t)((2 + 4 * mf_rng_uniform(r)) * 3600) * MF_USEC_PER_SEC,
                        MF_SYN_EMER, &ENC_ED);
        if (e >= 0)
            measure(x, t, e, LAB_VITALS);
    }
    if (mf_rng_bernoulli(r, (0.015 + 0.03 * n_ch + (age >= 75 ? 0.05 : 0)) / 12))
        acute(x, in_month(x, t0), 2 + 5 * mf_rng_uniform(r), &adm);
    if ((have & BIT(P_HF)) && mf_rng_bernoulli(r, 0.25 / 12))
        acute(x, in_month(x, t0), 3 + 5 * mf_rng_uniform(r), &adm);
    if ((have & BIT(P_AC)) && mf_rng_bernoulli(r, 0.025 / 12)) {
        int64_t t = in_month(x, t0);
        int ed = acute(x, t, 2 + 4 * mf_rng_uniform(r), &adm);
        if (ed >= 0)
            add(x, MF_SYN_CONDITION, t, COND_BLEED.code, COND_BLEED.display, NAN, NULL, ed);
    }
    if (have & BIT(P_ESRD)) {
        int64_t t = in_month(x, t0);
        int e = add_enc(x, t, 4 * 3600 * MF_USEC_PER_SEC, MF_SYN_AMB, &ENC_PROBLEM);
        if (e >= 0) {
            measure(x, t, e, LAB_RENAL);
            add(x, MF_SYN_PROCEDURE, t, PROC_DIALYSIS.code, PROC_DIALYSIS.display, NAN, NULL, e);
        }
    }
}

/* Sort the items by time (stable: creation order breaks ties), drop those after death, clip
 * encounter ends at death, and turn encounter references into final indices. */
static int finish_items(struct ctx *x)
{
    struct mf_syn_life *life = x->life;
    size_t n = life->n_items;
    int rc = 0;
    int64_t death = life->death;
    struct key {
        int64_t t;
        int64_t i;
    } *k = NULL, *tmp = NULL;
    struct mf_syn_item *out = NULL;
    int *pos = NULL;
    if (n == 0)
        return 0;
    k = malloc(n * sizeof(*k));
    tmp = malloc(n * sizeof(*tmp));
    out = malloc(n * sizeof(*out));
    pos = malloc(n * sizeof(*pos));
    if (!k || !tmp || !out || !pos) {
        rc = MF_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        k[i].t = life->items[i].time;
        k[i].i = (int64_t)i;
    }
    /* bottom-up merge sort on (time, creation index) */
    for (size_t w = 1; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            size_t a = lo, b = mid, o = lo;
            while (a < mid && b < hi)
                tmp[o++] = (k[b].t < k[a].t) ? k[b++] : k[a++];
            while (a < mid)
                tmp[o++] = k[a++];
            while (b < hi)
                tmp[o++] = k[b++];
        }
        struct key *sw = k;
        k = tmp;
        tmp = sw;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        struct mf_syn_item *it = &life->items[k[i].i];
        if (death != MF_TIME_NONE && it->time > death) {
            pos[k[i].i] = -1;
            continue;
        }
        pos[k[i].i] = (int)m;
        out[m] = *it;
        if (it->kind == MF_SYN_ENCOUNTER && death != MF_TIME_NONE && out[m].end_time > death)
            out[m].end_time = death;
        m++;
    }
    for (size_t i = 0; i < m; i++) {
        int e = out[i].encounter;
        if (e == ENC_FIRST)
            out[i].encounter = x->first_enc >= 0 ? pos[x->first_enc] : -1;
        else if (e >= 0)
            out[i].encounter = pos[e];
    }
    memcpy(life->items, out, m * sizeof(*out));
    life->n_items = m;
out:
    free(k);
    free(tmp);
    free(out);
    free(pos);
    return rc;
}

/* --- the person ----------------------------------------------------------------------- */

/* US adults by age band (Census 2020, 90+ raised to 2% so that Safe Harbor's age grouping is
 * exercised) and the share of women in each band. */
static const double AGE_LO[] = {18, 25, 35, 45, 55, 65, 75, 85, 90};
static const double AGE_HI[] = {25, 35, 45, 55, 65, 75, 85, 90, 100};
static const double AGE_W[] = {11.8, 17.6, 16.4, 15.6, 16.4, 12.4, 6.3, 1.5, 2.0};
static const double AGE_F[] = {0.49, 0.50, 0.50, 0.51, 0.52, 0.53, 0.57, 0.62, 0.67};

static const char *const RACE[] = {"2106-3", "2054-5", "2028-9", "1002-5", "2076-8", "2131-1"};
static const double RACE_W[] = {62.0, 13.0, 6.0, 1.0, 0.3, 17.7};
static const double HISP_BY_RACE[] = {0.12, 0.05, 0.02, 0.15, 0.1, 0.6};

/* Draw what does not depend on the history: sex, age at window start, race, ethnicity. */
static void draw_person(struct ctx *x)
{
    struct mf_rng *r = x->r;
    struct sim *s = &x->s;
    size_t band = mf_rng_weighted(r, AGE_W, sizeof(AGE_W) / sizeof(AGE_W[0]));
    double u = mf_rng_uniform(r);
    if (band == 8)
        u = pow(u, 1.6); /* fewer at 99 than at 90 */
    s->age0 = AGE_LO[band] + (AGE_HI[band] - AGE_LO[band]) * u;
    s->female = mf_rng_bernoulli(r, AGE_F[band]);
    size_t race = mf_rng_weighted(r, RACE_W, sizeof(RACE_W) / sizeof(RACE_W[0]));
    s->black = race == 1;
    s->asian = race == 2;
    s->hisp = mf_rng_bernoulli(r, HISP_BY_RACE[race]);
    x->life->race = RACE[race];
    x->life->ethnicity = s->hisp ? "2135-2" : "2186-5";
}

/* Draw the values at age 18 and the personal parameters (redrawn with each history try). */
static void draw_young(struct ctx *x, int mh)
{
    struct mf_rng *r = x->r;
    struct sim *s = &x->s;
    int f = s->female;
    s->smoker = mf_rng_bernoulli(r, f ? 0.30 : 0.40);
    s->height = (f ? 1.62 : 1.76) + 0.07 * mf_rng_normal(r);
    s->sbp_slope = 0.35 + 0.2 * mf_rng_normal(r);
    s->bmi_slope = 0.06 + 0.08 * mf_rng_normal(r);
    s->egfr_factor = exp(0.35 * mf_rng_normal(r)) * (s->black ? 1.2 : 1.0);
    s->statin_resp = 0.75 + 0.5 * mf_rng_uniform(r);
    s->acei_sbp = fmax(9 + 3 * mf_rng_normal(r), 2);
    s->amlo_sbp = fmax(8 + 3 * mf_rng_normal(r), 2);
    s->acei_renal = 0.75 + 0.2 * mf_rng_uniform(r);
    s->acei_renal_dm = 0.35 + 0.3 * mf_rng_uniform(r);
    s->met_resp = 0.6 + 0.8 * mf_rng_uniform(r);
    s->alt_statin = mf_rng_bernoulli(r, 0.5);
    s->alt_ac = mf_rng_bernoulli(r, 0.5);
    s->have = 0;
    s->m0 = mh;
    s->lat[L_SBP] = (f ? 106 : 114) + 9 * mf_rng_normal(r);
    s->lat[L_BMI] = exp(log(25.5) + (s->black && f ? 0.08 : 0) - (s->asian ? 0.08 : 0) +
                        0.2 * mf_rng_normal(r));
    s->lat[L_A1C] = 5.1 + 0.25 * mf_rng_normal(r);
    s->lat[L_LDL] = 95 + 24 * mf_rng_normal(r);
    s->lat[L_EGFR] = 118 + 12 * mf_rng_normal(r);
    for (int l = 0; l < L__N; l++)
        s->slope[l] = 0;
    for (int i = 0; i < N_BRK; i++) {
        int b = (int)ceil((BRK_AGE[i] - s->age0) * 12);
        s->brk[i] = b > mh ? b : INT32_MIN;
    }
    recompute(s, mh, 0);
    for (int c = 0; c < N_COND; c++)
        x->onset[c] = MF_TIME_NONE;
}

/* The history from age 18 to window.start, conditioned on being alive at window.start by
 * rejection: a history with a death is drawn again (with new personal parameters); after 200
 * tries the last one is kept without its death. */
static void history(struct ctx *x)
{
    struct sim *s = &x->s;
    int mh = -(int)floor((s->age0 - 18) * 12);
    double p[P__N];
    for (int attempt = 0; attempt < 200; attempt++) {
        draw_young(x, mh);
        int died = 0;
        for (int m = mh; m < 0; m++) {
            double pd = month_probs(s, p);
            if (attempt < 199 && mf_rng_uniform(x->r) < pd) {
                died = 1;
                break;
            }
            uint32_t ev = sample_events(x->r, p);
            for (uint32_t b = ev & COND_MASK; b; b &= b - 1)
                x->onset[__builtin_ctz(b)] = in_month(x, x->w->start + m * MF_SYN_MONTH_US);
            advance(s, m, ev);
        }
        if (!died)
            return;
    }
}

/* --- entry points --------------------------------------------------------------------- */

void mf_synth_model_defaults(struct mf_synth_model_opts *o)
{
    o->truth = 1;
    o->paths_risk = 16;
    o->paths_effects = 8;
    o->salt = 0;
}

void mf_synth_life_reset(struct mf_syn_life *life)
{
    life->female = 0;
    life->birth = 0;
    life->death = MF_TIME_NONE;
    life->race = NULL;
    life->ethnicity = NULL;
    life->smoker = 0;
    life->n_items = 0;
    life->n_truth = 0;
}

void mf_synth_life_free(struct mf_syn_life *life)
{
    if (!life)
        return;
    free(life->items);
    free(life->truth);
    memset(life, 0, sizeof(*life));
    life->death = MF_TIME_NONE;
}

static uint64_t rotl64(uint64_t v, int k)
{
    return (v << k) | (v >> (64 - k));
}

int mf_synth_simulate_ex(struct mf_rng *rng, const struct mf_synth_window *w,
                         const struct mf_synth_model_opts *o, struct mf_syn_life *life)
{
    struct mf_synth_model_opts def;
    struct ctx x;
    int rc = 0;
    if (!o) {
        mf_synth_model_defaults(&def);
        o = &def;
    }
    if (!rng || !w || !life || w->end <= w->start || o->paths_risk < 1 || o->paths_effects < 1)
        return MF_EINVAL;
    mf_synth_life_reset(life);
    memset(&x, 0, sizeof(x));
    x.r = rng;
    x.w = w;
    x.life = life;
    x.first_enc = -1;
    draw_person(&x);
    history(&x);
    struct sim *s = &x.s;
    life->female = s->female;
    life->smoker = s->smoker;
    life->birth = w->start - (int64_t)(s->age0 * 365.25 * (double)MF_USEC_PER_DAY);
    /* history conditions, reported at the first check-up */
    for (int c = 0; c < N_COND; c++)
        if (x.onset[c] != MF_TIME_NONE)
            add(&x, MF_SYN_CONDITION, x.onset[c], mf_synth_outcome_codes[c], COND_DISPLAY[c], NAN,
                NULL, ENC_FIRST);
    int64_t horizon = INT64_C(1826) * MF_USEC_PER_DAY;
    double p[P__N];
    for (int m = 0; !x.rc; m++) {
        int64_t t0 = w->start + m * MF_SYN_MONTH_US;
        if (t0 >= w->end)
            break;
        if (o->truth && (m == 12 || m == 36 || m == 60) && t0 + horizon <= w->end) {
            uint64_t seed = rng->s[0] ^ rotl64(rng->s[1], 17) ^ rotl64(rng->s[2], 31) ^
                            (0x9e3779b97f4a7c15ULL * (uint64_t)(m + 1)) ^ o->salt;
            if ((rc = truth_at(life, s, m, t0, seed, o)))
                goto out;
        }
        double pd = month_probs(s, p);
        if (mf_rng_uniform(rng) < pd) {
            int64_t t = in_month(&x, t0);
            if (t < w->end)
                life->death = t;
            break;
        }
        uint32_t have = s->have;
        uint32_t ev = sample_events(rng, p);
        emit_month(&x, m, t0, have, ev);
        advance(s, m, ev);
    }
    if (x.rc) {
        rc = x.rc;
        goto out;
    }
    rc = finish_items(&x);
out:
    return rc;
}

int mf_synth_simulate(struct mf_rng *rng, const struct mf_synth_window *w, struct mf_syn_life *life)
{
    return mf_synth_simulate_ex(rng, w, NULL, life);
}
