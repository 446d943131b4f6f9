/* corpus.c - one split's tokens in memory, and the training windows drawn from them. */
#include <stdlib.h>
#include <string.h>

#include "train/train.h"

void mf_corpus_free(struct mf_corpus *c)
{
    free(c->tok);
    free(c->time);
    free(c->off);
    free(c->birth);
    free(c->stat);
    free(c->n_stat);
    memset(c, 0, sizeof *c);
}

static int grow(struct mf_corpus *c, size_t need, size_t *cap)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 1 << 16;
    while (n < need)
        n *= 2;
    uint32_t *t = realloc(c->tok, n * sizeof *t);
    if (t == NULL)
        return MF_ENOMEM;
    c->tok = t;
    int64_t *tm = realloc(c->time, n * sizeof *tm);
    if (tm == NULL)
        return MF_ENOMEM;
    c->time = tm;
    *cap = n;
    return 0;
}

static int grow_pat(struct mf_corpus *c, size_t need, size_t *cap)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? 2 * *cap : 1024;
    while (n < need)
        n *= 2;
    uint64_t *off = realloc(c->off, (n + 1) * sizeof *off);
    if (off)
        c->off = off;
    int64_t *b = realloc(c->birth, n * sizeof *b);
    if (b)
        c->birth = b;
    uint32_t(*st)[4] = realloc(c->stat, n * sizeof *st);
    if (st)
        c->stat = st;
    uint8_t *ns = realloc(c->n_stat, n * sizeof *ns);
    if (ns)
        c->n_stat = ns;
    if (off == NULL || b == NULL || st == NULL || ns == NULL)
        return MF_ENOMEM;
    *cap = n;
    return 0;
}

int mf_corpus_build(const struct mf_vocab *v, const struct mf_store *s, enum mf_split split,
                    struct mf_corpus *c, struct mf_err *err)
{
    memset(c, 0, sizeof *c);
    size_t cap = 0, pcap = 0;
    struct mf_tokens tk = {0};
    int rc = 0;
    if ((rc = grow_pat(c, 1, &pcap)) != 0)
        return mf_err_set(err, rc, "out of memory");
    c->off[0] = 0;
    for (size_t sh = 0; sh < mf_store_n_shards(s) && rc == 0; sh++) {
        uint64_t np = mf_store_shard_patients(s, sh);
        for (uint64_t i = 0; i < np && rc == 0; i++) {
            struct mf_timeline tl;
            if ((rc = mf_store_shard_timeline(s, sh, i, &tl)) != 0) {
                rc = mf_err_set(err, rc, "the store is damaged (shard %zu, patient %llu)", sh,
                                (unsigned long long)i);
                break;
            }
            if (mf_vocab_split(v, tl.subject.p, tl.subject.n) != split)
                continue;
            if ((rc = mf_tokenize(v, s, &tl, &tk, err)) != 0)
                break;
            if (tk.n == 0)
                continue;
            if ((rc = grow(c, c->n + tk.n, &cap)) != 0 ||
                (rc = grow_pat(c, c->n_pat + 1, &pcap)) != 0) {
                rc = mf_err_set(err, rc, "out of memory");
                break;
            }
            memcpy(c->tok + c->n, tk.tok, tk.n * sizeof *tk.tok);
            memcpy(c->time + c->n, tk.time, tk.n * sizeof *tk.time);
            c->n += tk.n;
            size_t p = c->n_pat++;
            c->off[p + 1] = c->n;
            c->birth[p] = tk.birth;
            size_t ns = tk.n_static < 4 ? tk.n_static : 4;
            for (size_t k = 0; k < 4; k++)
                c->stat[p][k] = k < ns ? tk.static_tok[k] : UINT32_MAX;
            c->n_stat[p] = (uint8_t)ns;
        }
    }
    mf_tokens_free(&tk);
    if (rc)
        mf_corpus_free(c);
    return rc;
}

/* splitmix64: the window number's bits, well mixed */
static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

int mf_corpus_window(const struct mf_vocab *v, const struct mf_corpus *c, uint64_t r, int T,
                     uint32_t *tokens, uint32_t *targets)
{
    for (int i = 0; i < T; i++) {
        tokens[i] = MF_TOK_TIMELINE_END;
        targets[i] = MF_NN_IGNORE;
    }
    if (c->n == 0 || T < 2)
        return 0;
    /* a patient in proportion to its length: the patient holding a uniform token position */
    uint64_t h1 = mix(r), h2 = mix(r ^ 0x5851f42d4c957f2dull);
    uint64_t e = h1 % c->n;
    size_t lo = 0, hi = c->n_pat; /* the last p with off[p] <= e */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->off[mid] <= e)
            lo = mid;
        else
            hi = mid;
    }
    size_t p = lo;
    uint64_t a = c->off[p], len = c->off[p + 1] - a;

    struct mf_tokens st = {0};
    st.birth = c->birth[p];
    st.n_static = c->n_stat[p];
    memcpy(st.static_tok, c->stat[p], sizeof st.static_tok);
    uint32_t pre[16];
    size_t pmax = mf_vocab_prefix_max(v);
    if (pmax > 16 || (int)pmax >= T)
        return 0;
    /* the run: as long as the window allows, starting anywhere it fits */
    uint64_t room = (uint64_t)T - pmax;
    uint64_t run = len < room ? len : room;
    uint64_t start = len > run ? h2 % (len - run + 1) : 0;
    size_t np = mf_tokens_prefix(v, &st, c->time[a + start], pre);
    int k = 0;
    for (size_t i = 0; i < np; i++)
        tokens[k++] = pre[i];
    for (uint64_t i = 0; i < run && k < T; i++)
        tokens[k++] = c->tok[a + start + i];
    int counted = 0;
    /* the first body token is predicted from the prefix only when it starts the timeline */
    int first = (int)np - (start == 0 ? 1 : 0);
    if (first < 0)
        first = 0;
    for (int i = first; i + 1 < k; i++) {
        targets[i] = tokens[i + 1];
        counted++;
    }
    return counted;
}
