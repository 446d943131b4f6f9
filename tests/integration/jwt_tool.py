#!/usr/bin/env python3
"""jwt_tool.py - CDS Hooks JWTs for the tests, made by an independent signer (PyJWT with
python3-cryptography), to check medfm's verifier (src/serve/jwt.c) against.

    jwt_tool.py keys OUTDIR
        es384.pem, rs384.pem: private keys (EC P-384, RSA 2048), PKCS#8 PEM;
        jwks.json: their public keys, kids "es1" and "rs1";
        other-es384.pem: an EC P-384 key that is NOT in jwks.json (sign with --kid es1 to forge).

    jwt_tool.py sign --key PEM --alg ES384|RS384 [--kid KID] --iss ISS --aud URL [--sub S]
                     [--jti J] [--iat-offset SECONDS] [--exp-offset SECONDS] [--now EPOCH]
                     [--omit CLAIM]... [--count N]
        prints the token (N tokens, one a line).  iat = now + iat-offset (default 0), exp = now +
        exp-offset (default 300), now being the clock or --now.  jti defaults to a random UUID4,
        a new one per token; sub to "medfm-test-client".  --omit drops a claim (iss, sub, aud,
        exp, iat, jti) to make a token the verifier must refuse; no --kid: no kid header.

Exit 0 ok, 2 usage.  Only the standard library, PyJWT and cryptography (Debian packages).
"""
import argparse
import base64
import json
import os
import sys
import time
import uuid

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa


def b64url_uint(n, width=None):
    if width is None:
        width = max(1, (n.bit_length() + 7) // 8)
    return base64.urlsafe_b64encode(n.to_bytes(width, "big")).rstrip(b"=").decode("ascii")


def write_private(path, key):
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)


def cmd_keys(args):
    os.makedirs(args.outdir, exist_ok=True)
    es = ec.generate_private_key(ec.SECP384R1())
    rs = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = ec.generate_private_key(ec.SECP384R1())
    write_private(os.path.join(args.outdir, "es384.pem"), es)
    write_private(os.path.join(args.outdir, "rs384.pem"), rs)
    write_private(os.path.join(args.outdir, "other-es384.pem"), other)
    ep = es.public_key().public_numbers()
    rp = rs.public_key().public_numbers()
    jwks = {
        "keys": [
            {
                "kty": "EC",
                "crv": "P-384",
                "kid": "es1",
                "use": "sig",
                "alg": "ES384",
                "x": b64url_uint(ep.x, 48),
                "y": b64url_uint(ep.y, 48),
            },
            {
                "kty": "RSA",
                "kid": "rs1",
                "use": "sig",
                "alg": "RS384",
                "n": b64url_uint(rp.n),
                "e": b64url_uint(rp.e),
            },
        ]
    }
    with open(os.path.join(args.outdir, "jwks.json"), "w") as f:
        json.dump(jwks, f, indent=2)
        f.write("\n")
    return 0


CLAIMS = ("iss", "sub", "aud", "exp", "iat", "jti")


def cmd_sign(args):
    with open(args.key, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    now = int(args.now) if args.now is not None else int(time.time())
    headers = {"kid": args.kid} if args.kid else {}
    for _ in range(args.count):
        claims = {
            "iss": args.iss,
            "sub": args.sub,
            "aud": args.aud,
            "iat": now + args.iat_offset,
            "exp": now + args.exp_offset,
            "jti": args.jti if args.jti is not None else str(uuid.uuid4()),
        }
        for c in args.omit:
            claims.pop(c, None)
        token = jwt.encode(claims, key, algorithm=args.alg, headers=headers)
        if isinstance(token, bytes):  # PyJWT 1.x
            token = token.decode("ascii")
        print(token)
    return 0


def main(argv):
    p = argparse.ArgumentParser(description="CDS Hooks JWTs for medfm's tests")
    sub = p.add_subparsers(dest="cmd", required=True)
    k = sub.add_parser("keys", help="write test keys and their JWKS")
    k.add_argument("outdir")
    s = sub.add_parser("sign", help="print a signed token")
    s.add_argument("--key", required=True, help="private key, PEM")
    s.add_argument("--alg", required=True, choices=["ES384", "RS384"])
    s.add_argument("--kid", default=None)
    s.add_argument("--iss", required=True)
    s.add_argument("--aud", required=True)
    s.add_argument("--sub", default="medfm-test-client")
    s.add_argument("--jti", default=None)
    s.add_argument("--iat-offset", type=int, default=0)
    s.add_argument("--exp-offset", type=int, default=300)
    s.add_argument("--now", type=int, default=None, help="seconds since the epoch")
    s.add_argument("--omit", action="append", default=[], choices=CLAIMS)
    s.add_argument("--count", type=int, default=1)
    args = p.parse_args(argv)
    if args.cmd == "keys":
        return cmd_keys(args)
    if args.count < 1:
        p.error("--count must be at least 1")
    return cmd_sign(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
