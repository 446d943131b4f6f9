#!/usr/bin/env python3
"""infer_torch.py - the PyTorch baseline of medfm's inference benchmark.

Samples `samples` futures of one prompt with medfm's decoding policy (src/infer/infer.h) on the
weights of a medfm model folder (config.json, model.safetensors), the way a PyTorch user would
write fast CPU inference: float32, torch.inference_mode, a preallocated KV cache written in
place, fused QKV and gate/up projections, all active rows decoded in one batched forward per
step, finished rows dropped from the batch (the cache compacted when a row stops).  Decoding
attention (one query per row and head) is a broadcast multiply and sum over the cache, which
use every thread, rather than torch 1.13's CPU bmm, which runs its batch serially.

The architecture (src/nn/model.h): token embedding; per layer, pre-norm RMSNorm, causal
multi-head attention with rotary positions (pairs (2i, 2i+1) of each head, theta rope_theta,
tables rounded to float32 as medfm does), a residual add, pre-norm RMSNorm, SwiGLU
w2(silu(w1 x) * w3 x), a residual add; final RMSNorm; output projection (the embedding when
tied).  No biases.

The policy: the prompt runs once (one row), its keys and values are copied to every future's
row, then every active row gets one token per step.  Sampling: softmax(logits / temperature),
restricted to the smallest set of most likely tokens whose probabilities sum to at least top_p
(skipped when top_p >= 1), renormalized, drawn with torch.multinomial from one seeded
torch.Generator.  A row stops at a token of --stop-ids, when the summed durations of its time
tokens pass --horizon-us (the passing token is kept), or after --max-new tokens (--no-stop:
exactly max_new tokens per row).  When the KV cache is full (the rows hold `context` tokens)
and a new token is sampled, every active row (with that token) is cut to its --prefix-len
prefix tokens and its latest (context - prefix) // 2 body tokens and run again as one batched
prefill with positions from 0 (as medfm's src/infer/infer.c does).  A prompt longer than
context - 1 tokens is cut the same way first.

Usage:
  infer_torch.py --model DIR --prompt FILE --samples 20 --max-new 512 --threads K --seed S
                 [--temperature 1.0] [--top-p 1.0] [--prefix-len P] [--stop-ids ID,ID]
                 [--time-durations FILE] [--horizon-us H] [--no-stop] [--repeat R] [--check]
                 [--profile]

--prompt FILE holds whitespace-separated token ids (prefix first).  --time-durations FILE has
lines "token_id duration_us".  --check first verifies, on a short prompt, that the logits of
the KV-cache path (prompt prefill, row copy, batched decode, row drop-out, context cuts) equal
a full recomputation of each row's sequence by an independent cache-free forward within 1e-4
(max abs diff on stderr; exit 1 when over).  --profile prints a torch.profiler table of the
last run on stderr.

Prints one JSON line: generated_tokens, prefill_tokens (prompt and context-cut reruns),
model_tokens (every token run through the model: prefills and decoded tokens), seconds (wall
time of the generation without model loading, best of --repeat runs; each run in "runs"),
tokens_per_second (generated / seconds), futures, stops, threads, torch, blas, peak_rss_mb.
"""
import argparse
import json
import math
import os
import resource
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F


# ---------------------------------------------------------------------------------------------
# Loading


def read_safetensors(path):
    """The tensors of a safetensors file, as float32 numpy arrays, and its metadata."""
    with open(path, "rb") as f:
        raw = f.read()
    (hlen,) = struct.unpack("<Q", raw[:8])
    assert 8 + hlen <= len(raw), f"{path}: header past the end"
    header = json.loads(raw[8 : 8 + hlen].decode("utf-8"))
    data = raw[8 + hlen :]
    meta = header.pop("__metadata__", {})
    out = {}
    end_max = 0
    for name, t in header.items():
        assert t["dtype"] == "F32", f"{path}: {name} is {t['dtype']}"
        b, e = t["data_offsets"]
        n = int(np.prod(t["shape"])) if t["shape"] else 1
        assert e - b == 4 * n, f"{path}: {name} offsets do not match the shape"
        out[name] = np.frombuffer(data[b:e], dtype="<f4").astype(np.float32).reshape(t["shape"])
        end_max = max(end_max, e)
    assert end_max == len(data), f"{path}: data section not covered"
    return out, meta


def load_config(path):
    with open(path) as f:
        c = json.load(f)
    for k in ("vocab", "dim", "layers", "heads", "hidden", "context", "tied"):
        assert k in c, f"{path}: missing field '{k}'"
    c["rope_theta"] = float(c.get("rope_theta") or 10000.0)
    c["norm_eps"] = float(c.get("norm_eps") or 1e-5)
    assert c["dim"] % c["heads"] == 0 and (c["dim"] // c["heads"]) % 2 == 0, f"{path}: bad heads"
    return c


# ---------------------------------------------------------------------------------------------
# The model with its KV cache


def rmsnorm(x, g, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * g


def rope(x, rot):
    """Rotate pairs (2i, 2i+1) of the last dim of x by the complex table rot (broadcast)."""
    xc = torch.view_as_complex(x.reshape(*x.shape[:-1], -1, 2))
    return torch.view_as_real(xc * rot).flatten(-2)


class Model:
    """Weights (float32, fused where a PyTorch user would fuse them) and a KV cache of
    `rows` rows of the full context, preallocated once."""

    def __init__(self, cfg, w):
        self.cfg = cfg
        self.V, self.C, self.NL = cfg["vocab"], cfg["dim"], cfg["layers"]
        self.NH, self.HID, self.ctx = cfg["heads"], cfg["hidden"], cfg["context"]
        self.hd = self.C // self.NH
        self.eps = cfg["norm_eps"]
        t = lambda n: torch.from_numpy(w[n]).contiguous()
        want = {"tok_embeddings.weight": (self.V, self.C), "norm.weight": (self.C,)}
        for l in range(self.NL):
            p = f"layers.{l}."
            want.update({p + "attention_norm.weight": (self.C,), p + "ffn_norm.weight": (self.C,),
                         p + "feed_forward.w1.weight": (self.HID, self.C),
                         p + "feed_forward.w3.weight": (self.HID, self.C),
                         p + "feed_forward.w2.weight": (self.C, self.HID)})
            for m in ("wq", "wk", "wv", "wo"):
                want[p + f"attention.{m}.weight"] = (self.C, self.C)
        if not cfg["tied"]:
            want["output.weight"] = (self.V, self.C)
        for n, s in want.items():
            assert n in w, f"model.safetensors: missing {n}"
            assert tuple(w[n].shape) == s, f"model.safetensors: {n} is {w[n].shape}, not {s}"
        self.emb = t("tok_embeddings.weight")
        self.norm = t("norm.weight")
        self.out = self.emb if cfg["tied"] else t("output.weight")
        self.layers = []
        self.ref_layers = []  # the unfused weights, for the cache-free reference of --check
        for l in range(self.NL):
            p = f"layers.{l}."
            wq, wk, wv = (t(p + f"attention.{m}.weight") for m in ("wq", "wk", "wv"))
            w1, w3 = t(p + "feed_forward.w1.weight"), t(p + "feed_forward.w3.weight")
            g1, g2 = t(p + "attention_norm.weight"), t(p + "ffn_norm.weight")
            wo, w2 = t(p + "attention.wo.weight"), t(p + "feed_forward.w2.weight")
            self.layers.append((g1, torch.cat([wq, wk, wv], 0).contiguous(), wo, g2,
                                torch.cat([w1, w3], 0).contiguous(), w2))
            self.ref_layers.append((g1, wq, wk, wv, wo, g2, w1, w3, w2))
        # rotary tables as medfm builds them: angles in double, cos/sin rounded to float32
        half = self.hd // 2
        freq = cfg["rope_theta"] ** (-2.0 * np.arange(half, dtype=np.float64) / self.hd)
        ang = np.arange(self.ctx, dtype=np.float64)[:, None] * freq[None, :]
        self.cos = torch.from_numpy(np.cos(ang).astype(np.float32))
        self.sin = torch.from_numpy(np.sin(ang).astype(np.float32))
        self.rot = torch.complex(self.cos, self.sin)  # [ctx, half]
        self.rot_q = self.rot * (1.0 / math.sqrt(self.hd))  # queries pre-scaled by 1/sqrt(hd)
        self.mask = torch.ones(self.ctx, self.ctx, dtype=torch.bool).triu(1)
        self.kc = self.vc = None
        self.rows = 0

    def alloc(self, rows):
        if rows > self.rows:
            shape = (self.NL, rows, self.NH, self.ctx, self.hd)
            self.kc = self.vc = None
            self.kc, self.vc = torch.zeros(shape), torch.zeros(shape)  # touched: no page faults
            self.rows = rows

    def logits(self, x):
        return F.linear(rmsnorm(x, self.norm, self.eps), self.out)

    def prefill(self, tokens, row0=0, max_scores=1 << 24):
        """Run tokens [B, T] (positions 0..T-1) into cache rows row0..row0+B-1; the logits at
        each row's last position [B, V].  Rows go in chunks whose attention scores stay under
        max_scores floats."""
        B, T = tokens.shape
        step = max(1, min(B, max_scores // max(1, self.NH * T * T)))
        outs = [self._prefill(tokens[i : i + step], row0 + i) for i in range(0, B, step)]
        return outs[0] if len(outs) == 1 else torch.cat(outs, 0)

    def _prefill(self, tokens, row0):
        B, T = tokens.shape
        C, NH, hd, HID, eps = self.C, self.NH, self.hd, self.HID, self.eps
        rot, rot_q = self.rot[:T, None, :], self.rot_q[:T, None, :]
        mask = self.mask[:T, :T]
        x = F.embedding(tokens, self.emb)  # [B, T, C]
        for l, (g1, wqkv, wo, g2, w13, w2) in enumerate(self.layers):
            qkv = F.linear(rmsnorm(x, g1, eps), wqkv)
            q = rope(qkv[..., :C].view(B, T, NH, hd), rot_q).transpose(1, 2)
            kc, vc = self.kc[l, row0 : row0 + B, :, :T], self.vc[l, row0 : row0 + B, :, :T]
            kc.copy_(rope(qkv[..., C : 2 * C].view(B, T, NH, hd), rot).transpose(1, 2))
            vc.copy_(qkv[..., 2 * C :].view(B, T, NH, hd).transpose(1, 2))
            s = torch.matmul(q, kc.transpose(-1, -2))  # [B, NH, T, T]
            s.masked_fill_(mask, float("-inf"))
            a = torch.matmul(torch.softmax(s, dim=-1), vc)  # [B, NH, T, hd]
            x = x + F.linear(a.transpose(1, 2).reshape(B, T, C), wo)
            gu = F.linear(rmsnorm(x, g2, eps), w13)
            x = x + F.linear(F.silu(gu[..., :HID]) * gu[..., HID:], w2)
        return self.logits(x[:, -1])

    def decode(self, tok, pos):
        """One token per row (tok [B], rows 0..B-1 of the cache, all at position pos, the
        cache holding positions 0..pos-1); the logits [B, V]."""
        B = tok.shape[0]
        C, NH, hd, HID, eps = self.C, self.NH, self.hd, self.HID, self.eps
        L = pos + 1
        rot, rot_q = self.rot[pos], self.rot_q[pos]
        x = F.embedding(tok, self.emb)  # [B, C]
        for l, (g1, wqkv, wo, g2, w13, w2) in enumerate(self.layers):
            qkv = F.linear(rmsnorm(x, g1, eps), wqkv)  # [B, 3C]
            q = rope(qkv[:, :C].view(B, NH, hd), rot_q)
            kc, vc = self.kc[l, :B, :, :L], self.vc[l, :B, :, :L]  # [B, NH, L, hd]
            kc[:, :, pos].copy_(rope(qkv[:, C : 2 * C].view(B, NH, hd), rot))
            vc[:, :, pos].copy_(qkv[:, 2 * C :].view(B, NH, hd))
            # one query per (row, head): batched matrix-vector products.  torch 1.13's CPU bmm
            # runs its batch serially through BLAS (one thread, ~5 us a call), so broadcast
            # multiply + sum, which use every thread, are faster here (measured ~1.5x per step)
            s = (q.unsqueeze(2) * kc).sum(-1)  # [B, NH, L]
            a = (torch.softmax(s, dim=-1).unsqueeze(-1) * vc).sum(2)  # [B, NH, hd]
            x = x + F.linear(a.view(B, C), wo)
            gu = F.linear(rmsnorm(x, g2, eps), w13)
            x = x + F.linear(F.silu(gu[:, :HID]) * gu[:, HID:], w2)
        return self.logits(x)

    def copy_row0(self, rows, T):
        """Copy positions 0..T-1 of cache row 0 to rows 1..rows-1."""
        if rows > 1:
            self.kc[:, 1:rows, :, :T] = self.kc[:, 0:1, :, :T]
            self.vc[:, 1:rows, :, :T] = self.vc[:, 0:1, :, :T]

    def compact(self, keep, T):
        """Move cache rows `keep` (ascending) to rows 0..len(keep)-1, positions 0..T-1."""
        n = keep.numel()
        for c in (self.kc, self.vc):
            c[:, :n, :, :T] = torch.index_select(c[:, :, :, :T], 1, keep)

    def reference(self, tokens):
        """Cache-free forward of tokens [B, T] (positions 0..T-1), written independently of the
        cached path (unfused weights, real-valued rotation, scaled scores): all logits
        [B, T, V]."""
        B, T = tokens.shape
        C, NH, hd, eps = self.C, self.NH, self.hd, self.eps
        cos, sin = self.cos[:T], self.sin[:T]

        def rot(z):  # z [B, NH, T, hd]
            a, b = z[..., 0::2], z[..., 1::2]
            return torch.stack((a * cos - b * sin, a * sin + b * cos), dim=-1).flatten(-2)

        x = self.emb[tokens]
        mask = torch.ones(T, T, dtype=torch.bool).tril()
        for g1, wq, wk, wv, wo, g2, w1, w3, w2 in self.ref_layers:
            n = rmsnorm(x, g1, eps)
            q = (n @ wq.T).view(B, T, NH, hd).transpose(1, 2)
            k = (n @ wk.T).view(B, T, NH, hd).transpose(1, 2)
            v = (n @ wv.T).view(B, T, NH, hd).transpose(1, 2)
            s = (rot(q) @ rot(k).transpose(-1, -2)) / math.sqrt(hd)
            s = s.masked_fill(~mask, float("-inf"))
            a = (torch.softmax(s, dim=-1) @ v).transpose(1, 2).reshape(B, T, C)
            h = x + a @ wo.T
            n = rmsnorm(h, g2, eps)
            x = h + (F.silu(n @ w1.T) * (n @ w3.T)) @ w2.T
        return rmsnorm(x, self.norm, eps) @ self.out.T


# ---------------------------------------------------------------------------------------------
# Sampling and the decoding loop

STOP_TOKEN, STOP_HORIZON, STOP_LENGTH = 1, 2, 3


def sample(logits, temperature, top_p, gen):
    """One token per row of logits [B, V]."""
    if temperature != 1.0:
        logits = logits / temperature
    probs = torch.softmax(logits, dim=-1)
    if top_p < 1.0:
        sp, si = torch.sort(probs, dim=-1, descending=True)
        cum = torch.cumsum(sp, dim=-1)
        # keep a token while the mass before it is under top_p: the smallest set reaching
        # top_p; torch.multinomial renormalizes what is kept
        sp.masked_fill_(cum - sp >= top_p, 0.0)
        return si.gather(-1, torch.multinomial(sp, 1, generator=gen)).squeeze(1)
    return torch.multinomial(probs, 1, generator=gen).squeeze(1)


def cut_prompt(prompt, P, ctx):
    """A prompt that does not fit is cut like a full sequence."""
    if len(prompt) < ctx:
        return prompt
    keep = (ctx - P) // 2
    return prompt[:P] + prompt[len(prompt) - keep :]


def generate(model, prompt, o, row_limits=None, ctx=None, on_logits=None):
    """Sample o.samples futures of prompt (a list of ids).  row_limits: per-row max_new (the
    --check exercise of rows dropping out); ctx: the context length to cut at (default the
    model's); on_logits(win, logits, info): called before each sampling with the active rows'
    windows [B, L] and logits [B, V].  Returns the counts and the futures."""
    ctx = ctx or model.ctx
    P = o.prefix_len
    R, V = o.samples, model.V
    prompt = cut_prompt(list(prompt), P, ctx)
    Lp = len(prompt)
    limits = torch.full((R,), o.max_new, dtype=torch.long) if row_limits is None else row_limits
    n_steps = int(limits.max())
    model.alloc(R)
    win = torch.empty(R, ctx + 1, dtype=torch.long)  # the active rows' sequences, compact
    win[:, :Lp] = torch.tensor(prompt, dtype=torch.long)
    out = torch.empty(R, max(1, n_steps), dtype=torch.long)  # futures by original row
    n_out = torch.zeros(R, dtype=torch.long)
    reason = torch.zeros(R, dtype=torch.long)
    elapsed = torch.zeros(R, dtype=torch.long)
    active = torch.arange(R)
    stop_ids = torch.tensor(o.stop_ids, dtype=torch.long)
    use_stops = not o.no_stop and stop_ids.numel() > 0
    use_horizon = not o.no_stop and o.durations is not None and o.horizon_us > 0
    gen = torch.Generator().manual_seed(o.seed)

    logits = model.prefill(win[:1, :Lp])
    prefill_tokens = model_tokens = Lp
    model.copy_row0(R, Lp)
    logits = logits.expand(R, V)
    L, cut, generated = Lp, False, 0
    for step in range(n_steps):
        B = active.numel()
        if on_logits is not None:
            on_logits(win[:B, :L], logits, {"step": step, "cut": cut})
        tok = sample(logits, o.temperature, o.top_p, gen)
        out[active, step] = tok
        generated += B
        win[:B, L] = tok
        L += 1
        if use_stops or use_horizon or row_limits is not None or step + 1 == n_steps:
            why = torch.zeros(B, dtype=torch.long)  # the checks in medfm's order, last wins
            if step + 1 == n_steps:
                why.fill_(STOP_LENGTH)
            elif row_limits is not None:
                why.masked_fill_(limits[active] <= step + 1, STOP_LENGTH)
            if use_horizon:
                elapsed[:B] += o.durations[tok]
                why.masked_fill_(elapsed[:B] > o.horizon_us, STOP_HORIZON)
            if use_stops:
                why.masked_fill_(torch.isin(tok, stop_ids), STOP_TOKEN)
            fin = why > 0
            if bool(fin.any()):
                reason[active[fin]] = why[fin]
                n_out[active[fin]] = step + 1
                keep = torch.nonzero(~fin).squeeze(1)
                if keep.numel() == 0:
                    break
                B = keep.numel()
                active, tok = active[keep], tok[keep]
                win[:B, :L] = win[keep, :L]
                elapsed[:B] = elapsed[keep]
                model.compact(keep, L - 1)
        if L > ctx:  # the cache is full: keep the prefix and the latest body tokens, rerun
            body = (ctx - P) // 2
            win[:B, P : P + body] = win[:B, L - body : L].clone()
            L = P + body
            logits = model.prefill(win[:B, :L])
            prefill_tokens += B * L
            model_tokens += B * L
            cut = True
        else:
            logits = model.decode(tok, L - 1)
            model_tokens += B
            cut = False
    futures = [out[r, : n_out[r]].tolist() for r in range(R)]
    stops = {"stop_token": int((reason == STOP_TOKEN).sum()),
             "horizon": int((reason == STOP_HORIZON).sum()),
             "length": int((reason == STOP_LENGTH).sum())}
    return {"generated_tokens": generated, "prefill_tokens": prefill_tokens,
            "model_tokens": model_tokens, "futures": futures, "stops": stops}


# ---------------------------------------------------------------------------------------------
# --check


def run_check(model, prompt, o, tol=1e-4):
    """The KV-cache path against cache-free recomputation; returns (max abs diff, count)."""
    worst, count = 0.0, 0

    def cmp(win, logits, info):
        nonlocal worst, count
        if verify is not None and not verify(info):
            return
        ref = model.reference(win)[:, -1]
        worst = max(worst, float((ref - logits).abs().max()))
        count += win.shape[0]

    P = o.prefix_len
    # 1. a short prompt, a small context (several cuts), rows dropping out at different steps
    short = prompt[: min(len(prompt), P + 12)]
    ctx = min(model.ctx, max(len(short), P + 8) + 20)
    rows = max(2, min(o.samples, 4))
    sub = argparse.Namespace(**vars(o))
    sub.samples = rows
    sub.max_new = 3 * ctx
    limits = torch.tensor([sub.max_new - 9 * (rows - 1 - r) for r in range(rows)])
    verify = None
    generate(model, short, sub, row_limits=limits, ctx=ctx, on_logits=cmp)
    # 2. the model's full context: the last positions before a cut and the rerun after it
    sub.samples, sub.no_stop = 2, True
    g = torch.Generator().manual_seed(o.seed + 1)
    long = prompt[:P] + torch.randint(0, model.V, (model.ctx - 4 - min(P, len(prompt)),),
                                      generator=g).tolist()
    sub.max_new = model.ctx - len(long) + 3
    verify = lambda info: info["step"] in (0, sub.max_new - 3, sub.max_new - 2, sub.max_new - 1)
    generate(model, long, sub, on_logits=cmp)
    return worst, count


# ---------------------------------------------------------------------------------------------


def blas_name():
    try:
        with open("/proc/self/maps") as f:
            maps = f.read()
    except OSError:
        return "unknown"
    for lib in ("openblas", "mkl", "blis"):
        if "lib" + lib in maps:
            return lib
    return "reference" if "libblas.so" in maps else "unknown"


def main():
    ap = argparse.ArgumentParser(description="PyTorch baseline of medfm's inference benchmark")
    ap.add_argument("--model", required=True, help="model folder (config.json, model.safetensors)")
    ap.add_argument("--prompt", required=True, help="file of whitespace-separated token ids")
    ap.add_argument("--samples", type=int, default=20)
    ap.add_argument("--max-new", type=int, default=512)
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--top-p", type=float, default=1.0)
    ap.add_argument("--prefix-len", type=int, default=0)
    ap.add_argument("--stop-ids", default="", help="comma-separated token ids that end a future")
    ap.add_argument("--time-durations", help='lines "token_id duration_us" of the time tokens')
    ap.add_argument("--horizon-us", type=int, default=0)
    ap.add_argument("--no-stop", action="store_true", help="exactly max_new tokens per future")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--profile", action="store_true")
    o = ap.parse_args()

    torch.set_num_threads(o.threads)
    torch.set_num_interop_threads(1)
    if o.samples < 1 or o.max_new < 1 or o.repeat < 1 or o.threads < 1:
        ap.error("--samples, --max-new, --repeat and --threads must be positive")
    o.temperature = o.temperature if o.temperature > 0 else 1.0
    o.top_p = o.top_p if o.top_p > 0 else 1.0
    o.stop_ids = [int(s) for s in o.stop_ids.replace(" ", "").split(",") if s]

    cfg = load_config(os.path.join(o.model, "config.json"))
    weights, _ = read_safetensors(os.path.join(o.model, "model.safetensors"))
    with open(o.prompt) as f:
        prompt = [int(s) for s in f.read().split()]
    if not prompt:
        sys.exit(f"{o.prompt}: no tokens")
    if not (0 <= o.prefix_len < len(prompt) and o.prefix_len + 2 <= cfg["context"]):
        sys.exit(f"--prefix-len {o.prefix_len} does not fit the prompt and the context")
    if any(not 0 <= t < cfg["vocab"] for t in prompt + o.stop_ids):
        sys.exit(f"token ids must be in [0, {cfg['vocab']})")
    o.durations = None
    if o.time_durations:
        o.durations = torch.zeros(cfg["vocab"], dtype=torch.long)
        with open(o.time_durations) as f:
            for line in f:
                parts = line.split()
                if parts and not parts[0].startswith("#"):
                    o.durations[int(parts[0])] = int(parts[1])

    with torch.inference_mode():
        model = Model(cfg, weights)
        del weights
        result = {}
        if o.check:
            diff, n = run_check(model, prompt, o)
            ok = diff <= 1e-4
            print(f"check: KV-cache logits vs full recomputation: max abs diff {diff:.3e} over "
                  f"{n} rows ({'ok' if ok else 'FAIL'}, tolerance 1e-4)", file=sys.stderr)
            if not ok:
                sys.exit(1)
            result["check_max_abs_diff"] = diff
        model.alloc(o.samples)  # the KV cache, before the clock starts (medfm's is made at open)
        runs = []
        for r in range(o.repeat):
            prof = None
            if o.profile and r == o.repeat - 1:
                prof = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU])
                prof.__enter__()
            t0 = time.perf_counter()
            g = generate(model, prompt, o)
            runs.append(time.perf_counter() - t0)
            if prof is not None:
                prof.__exit__(None, None, None)
                print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25),
                      file=sys.stderr)
    best = min(runs)
    result.update({
        "generated_tokens": g["generated_tokens"], "prefill_tokens": g["prefill_tokens"],
        "model_tokens": g["model_tokens"], "seconds": best,
        "tokens_per_second": g["generated_tokens"] / best, "runs": runs,
        "futures": len(g["futures"]), "stops": g["stops"], "prompt_tokens": len(prompt),
        "samples": o.samples, "max_new": o.max_new, "threads": o.threads,
        "torch": torch.__version__, "blas": blas_name(),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})
    print(json.dumps(result))


if __name__ == "__main__":
    main()
