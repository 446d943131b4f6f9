#!/usr/bin/env python3
"""nn_parity.py - checks medfm's transformer (src/nn) against a PyTorch implementation.

Reads what tests/tools/nn_dump writes (see there) for each model under DIR, rebuilds the same
architecture in PyTorch (float64) from the dumped weights, and compares: the logits, the loss,
every gradient, and the weights after 5 torch.optim.AdamW steps on the same batch.  The
architecture, written from model.h's description: token embedding; per layer
h = x + wo(attn(rope(wq n1), rope(wk n1), wv n1)), n1 = rmsnorm(x) * g1;
out = h + w2(silu(w1 n2) * w3 n2), n2 = rmsnorm(h) * g2; final rmsnorm; logits through the
output matrix (the embedding when tied).  Errors are per tensor: ||c - ref|| / ||ref||.

Usage: nn_parity.py DIR [--tol 1e-4]
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch

torch.set_num_threads(1)


def read_safetensors(path):
    """The tensors of a safetensors file, as float64 numpy arrays, and its metadata."""
    with open(path, "rb") as f:
        raw = f.read()
    (hlen,) = struct.unpack("<Q", raw[:8])
    assert 8 + hlen <= len(raw), f"{path}: header past the end"
    assert (8 + hlen) % 8 == 0, f"{path}: data section not 8-byte aligned"
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
        out[name] = np.frombuffer(data[b:e], dtype="<f4").astype(np.float64).reshape(t["shape"])
        end_max = max(end_max, e)
    assert end_max == len(data), f"{path}: data section not covered"
    return out, meta


class Reference(torch.nn.Module):
    def __init__(self, cfg, weights):
        super().__init__()
        self.cfg = cfg
        self.p = torch.nn.ParameterDict()
        for name, w in weights.items():
            self.p[name.replace(".", "__")] = torch.nn.Parameter(
                torch.tensor(w, dtype=torch.float64))

    def w(self, name):
        return self.p[name.replace(".", "__")]

    def rmsnorm(self, x, g):
        eps = self.cfg["norm_eps"]
        return x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps) * g

    def rope(self, x, T, hd):
        # x: [B, NH, T, hd]; rotate pairs (2i, 2i+1) by pos * theta^(-2i/hd)
        theta = self.cfg["rope_theta"]
        i = torch.arange(0, hd // 2, dtype=torch.float64)
        freq = theta ** (-2.0 * i / hd)
        ang = torch.arange(T, dtype=torch.float64)[:, None] * freq[None, :]
        # the C code rounds its tables to float32
        cos = torch.cos(ang).float().double()
        sin = torch.sin(ang).float().double()
        a, b = x[..., 0::2], x[..., 1::2]
        out = torch.empty_like(x)
        out[..., 0::2] = a * cos - b * sin
        out[..., 1::2] = a * sin + b * cos
        return out

    def forward(self, tokens, B, T):
        c = self.cfg
        C, NH = c["dim"], c["heads"]
        hd = C // NH
        emb = self.w("tok_embeddings.weight")
        x = emb[tokens]  # [B, T, C]
        mask = torch.ones(T, T, dtype=torch.bool).tril()
        for l in range(c["layers"]):
            pre = f"layers.{l}."
            n1 = self.rmsnorm(x, self.w(pre + "attention_norm.weight"))
            q = (n1 @ self.w(pre + "attention.wq.weight").T).view(B, T, NH, hd).transpose(1, 2)
            k = (n1 @ self.w(pre + "attention.wk.weight").T).view(B, T, NH, hd).transpose(1, 2)
            v = (n1 @ self.w(pre + "attention.wv.weight").T).view(B, T, NH, hd).transpose(1, 2)
            q, k = self.rope(q, T, hd), self.rope(k, T, hd)
            s = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
            s = s.masked_fill(~mask, float("-inf"))
            a = torch.softmax(s, dim=-1) @ v  # [B, NH, T, hd]
            a = a.transpose(1, 2).reshape(B, T, C)
            h = x + a @ self.w(pre + "attention.wo.weight").T
            n2 = self.rmsnorm(h, self.w(pre + "ffn_norm.weight"))
            g = torch.nn.functional.silu(n2 @ self.w(pre + "feed_forward.w1.weight").T) * (
                n2 @ self.w(pre + "feed_forward.w3.weight").T)
            x = h + g @ self.w(pre + "feed_forward.w2.weight").T
        nf = self.rmsnorm(x, self.w("norm.weight"))
        out = emb if c["tied"] else self.w("output.weight")
        return (nf @ out.T).reshape(B * T, -1)


def rel(a, ref):
    a, ref = np.asarray(a, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    return float(np.linalg.norm(a - ref) / max(np.linalg.norm(ref), 1e-30))


def check(label, a, ref, tol, failures):
    e = rel(a, ref)
    status = "ok" if e <= tol else "FAIL"
    print(f"  {label:45s} rel err {e:.2e} {status}")
    if e > tol:
        failures.append(f"{label}: {e:.2e} > {tol:.0e}")


def run(d, tol, failures):
    print(f"{d}:")
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    with open(os.path.join(d, "batch.json")) as f:
        batch = json.load(f)
    with open(os.path.join(d, "adamw.json")) as f:
        opt = json.load(f)
    weights, meta = read_safetensors(os.path.join(d, "model.safetensors"))
    assert meta.get("format") == "pt" and meta.get("purpose") == "parity test", meta
    names = list(weights)
    want = ["tok_embeddings.weight"] + [
        f"layers.{l}.{s}" for l in range(cfg["layers"]) for s in (
            "attention_norm.weight", "attention.wq.weight", "attention.wk.weight",
            "attention.wv.weight", "attention.wo.weight", "ffn_norm.weight",
            "feed_forward.w1.weight", "feed_forward.w3.weight", "feed_forward.w2.weight")
    ] + ["norm.weight"] + ([] if cfg["tied"] else ["output.weight"])
    assert names == want, f"tensor names or order differ: {names}"
    out, _ = read_safetensors(os.path.join(d, "out.safetensors"))
    final, _ = read_safetensors(os.path.join(d, "final.safetensors"))

    B, T = batch["B"], batch["T"]
    tokens = torch.tensor(batch["tokens"], dtype=torch.long).view(B, T)
    targets = torch.tensor(batch["targets"], dtype=torch.long)
    model = Reference(cfg, weights)

    def loss_fn():
        logits = model(tokens, B, T)
        return logits, torch.nn.functional.cross_entropy(logits, targets, ignore_index=-1)

    logits, loss = loss_fn()
    loss.backward()
    check("logits", out["logits"], logits.detach().numpy(), tol, failures)
    check("loss", out["loss"], [loss.item()], tol, failures)
    for n in names:
        check("grad " + n, out["grad." + n], model.w(n).grad.numpy(), tol, failures)

    # AdamW: decay on matrices and embeddings only, as medfm does
    decay = [model.w(n) for n in names if weights[n].ndim == 2]
    no_decay = [model.w(n) for n in names if weights[n].ndim != 2]
    o = torch.optim.AdamW(
        [{"params": decay, "weight_decay": opt["weight_decay"]},
         {"params": no_decay, "weight_decay": 0.0}],
        lr=opt["lr"], betas=(opt["beta1"], opt["beta2"]), eps=opt["eps"])
    losses = []
    for _ in range(opt["steps"]):
        o.zero_grad()
        _, loss = loss_fn()
        losses.append(loss.item())
        loss.backward()
        o.step()
    check("losses over the AdamW steps", opt["losses"], losses, tol, failures)
    for n in names:
        ref = model.w(n).detach().numpy()
        check("after AdamW " + n, final[n], ref, tol, failures)
        # the update alone, a stricter view of the optimizer (float32 rounding of the weights
        # and the sign of near-zero gradients make it noisier: 10x the tolerance)
        check("AdamW update " + n, final[n] - weights[n], ref - weights[n], 10 * tol, failures)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--tol", type=float, default=1e-4)
    a = ap.parse_args()
    failures = []
    for sub in ("tied", "untied"):
        run(os.path.join(a.dir, sub), a.tol, failures)
    if failures:
        print("nn_parity: FAILED\n  " + "\n  ".join(failures), file=sys.stderr)
        sys.exit(1)
    print("nn_parity: ok")


if __name__ == "__main__":
    main()
