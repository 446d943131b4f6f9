#!/usr/bin/env python3
"""train_torch.py - the PyTorch baseline of bench/train.sh: the same architecture as medfm's
(src/nn/model.h: RMSNorm, rotary positions, causal multi-head attention, SwiGLU, no biases,
tied or untied output), written the way a PyTorch user would, trained with torch.optim.AdamW
on random windows of the same shape, on the CPU with the same thread count.

Usage: train_torch.py CONFIG_JSON --batch B --steps N --threads K [--warm W]
Prints one JSON line: tokens_per_second (steps after the W warm-up steps), step_seconds,
peak_rss_mb, threads, torch version.
"""
import argparse
import json
import math
import resource
import time

import torch
import torch.nn.functional as F


class RMSNorm(torch.nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = torch.nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class Block(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        d, h = c["dim"], c["hidden"]
        self.heads = c["heads"]
        self.attention_norm = RMSNorm(d, c["norm_eps"])
        self.wq = torch.nn.Linear(d, d, bias=False)
        self.wk = torch.nn.Linear(d, d, bias=False)
        self.wv = torch.nn.Linear(d, d, bias=False)
        self.wo = torch.nn.Linear(d, d, bias=False)
        self.ffn_norm = RMSNorm(d, c["norm_eps"])
        self.w1 = torch.nn.Linear(d, h, bias=False)
        self.w3 = torch.nn.Linear(d, h, bias=False)
        self.w2 = torch.nn.Linear(h, d, bias=False)

    def forward(self, x, cos, sin, mask):
        B, T, C = x.shape
        hd = C // self.heads
        n = self.attention_norm(x)
        q = self.wq(n).view(B, T, self.heads, hd).transpose(1, 2)
        k = self.wk(n).view(B, T, self.heads, hd).transpose(1, 2)
        v = self.wv(n).view(B, T, self.heads, hd).transpose(1, 2)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        s = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(hd))
        s = s.masked_fill(mask, float("-inf"))
        a = (torch.softmax(s, dim=-1) @ v).transpose(1, 2).reshape(B, T, C)
        h = x + self.wo(a)
        n = self.ffn_norm(h)
        return h + self.w2(F.silu(self.w1(n)) * self.w3(n))


def rope(x, cos, sin):
    a, b = x[..., 0::2], x[..., 1::2]
    return torch.stack((a * cos - b * sin, a * sin + b * cos), dim=-1).flatten(-2)


class Model(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.tok_embeddings = torch.nn.Embedding(c["vocab"], c["dim"])
        self.layers = torch.nn.ModuleList(Block(c) for _ in range(c["layers"]))
        self.norm = RMSNorm(c["dim"], c["norm_eps"])
        self.output = None if c["tied"] else torch.nn.Linear(c["dim"], c["vocab"], bias=False)
        hd = c["dim"] // c["heads"]
        i = torch.arange(0, hd // 2, dtype=torch.float32)
        ang = torch.arange(c["context"], dtype=torch.float32)[:, None] * (
            c["rope_theta"] ** (-2.0 * i / hd))[None, :]
        self.register_buffer("cos", torch.cos(ang), persistent=False)
        self.register_buffer("sin", torch.sin(ang), persistent=False)

    def forward(self, tokens):
        T = tokens.shape[1]
        x = self.tok_embeddings(tokens)
        mask = torch.ones(T, T, dtype=torch.bool).triu(1)
        for blk in self.layers:
            x = blk(x, self.cos[:T], self.sin[:T], mask)
        x = self.norm(x)
        w = self.tok_embeddings.weight if self.output is None else self.output.weight
        return x @ w.T


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("config")
    ap.add_argument("--batch", type=int, required=True)
    ap.add_argument("--steps", type=int, required=True)
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--warm", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    c = json.load(open(a.config))
    m = Model(c)
    decay = [p for p in m.parameters() if p.dim() == 2]
    other = [p for p in m.parameters() if p.dim() != 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": other, "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.95), eps=1e-8)
    B, T, V = a.batch, c["context"], c["vocab"]
    g = torch.Generator().manual_seed(1)
    times = []
    for step in range(a.warm + a.steps):
        x = torch.randint(0, V, (B, T), generator=g)
        y = torch.randint(0, V, (B, T), generator=g)
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(m(x).view(B * T, V), y.view(B * T))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()
        if step >= a.warm:
            times.append(time.perf_counter() - t0)
    sec = sum(times) / len(times)
    print(json.dumps({"tokens_per_second": B * T / sec, "step_seconds": sec,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "threads": a.threads, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
