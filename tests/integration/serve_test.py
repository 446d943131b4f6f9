"""The server's integration checks (driven by serve.sh): argv = medfm binary, work folder
(with model/, jwt/), jwt_tool.py, the shared data folder."""
import concurrent.futures
import datetime
import http.client
import json
import os
import random
import re
import signal
import sqlite3
import ssl
import subprocess
import sys
import tarfile
import time

MEDFM, T, JWT_TOOL, SHARED = sys.argv[1:5]
DB = os.path.join(T, "state.sqlite")
ISS = "https://ehr.example.org"
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


def run(*args, ok=True):
    p = subprocess.run([MEDFM, *args], capture_output=True, text=True)
    if ok and p.returncode != 0:
        sys.exit("FAIL: medfm %s exited %d: %s" % (" ".join(args), p.returncode, p.stderr))
    return p


def new_key(name, scopes, rate=None):
    args = ["keys", "create", "--db", DB, "--name", name, "--scopes", scopes]
    if rate:
        args += ["--rate", str(rate)]
    out = run(*args).stdout.strip().splitlines()
    return out[-1]


class Server:
    def __init__(self, *extra, tls=None):
        self.port_file = os.path.join(T, "port-%d" % random.randrange(1 << 30))
        args = [MEDFM, "serve", "--model", os.path.join(T, "model"), "--db", DB,
                "--listen", "127.0.0.1:0", "--port-file", self.port_file,
                "--jwt-config", os.path.join(T, "jwt", "config.json"), *extra]
        self.tls = tls
        if tls:
            args += ["--tls-cert", tls[0], "--tls-key", tls[1]]
        self.log = open(os.path.join(T, "server-%d.log" % random.randrange(1 << 30)), "w+")
        self.p = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(600):
            if os.path.exists(self.port_file):
                break
            if self.p.poll() is not None:
                self.log.seek(0)
                sys.exit("FAIL: the server exited at start: " + self.log.read())
            time.sleep(0.05)
        self.port = int(open(self.port_file).read())
        self.base = ("https" if tls else "http") + "://127.0.0.1:%d" % self.port

    def conn(self, timeout=60):
        if self.tls:
            ctx = ssl.create_default_context(cafile=self.tls[0])
            ctx.check_hostname = False
            return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout,
                                               context=ctx)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def req(self, method, path, body=None, headers=None, key=None, ctype="application/json"):
        h = dict(headers or {})
        if key:
            h["Authorization"] = "Bearer " + key
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        if body is not None and ctype:
            h.setdefault("Content-Type", ctype)
        c = self.conn()
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        c.close()
        try:
            js = json.loads(data) if data else None
        except ValueError:
            js = None
        return r.status, hdrs, js, data

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                return self.p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.p.kill()
                check(False, "the server did not stop within 60 s of SIGTERM")
        return self.p.returncode


def err_code(js):
    return js.get("error", {}).get("code") if isinstance(js, dict) else None


# ---- a patient in events JSON, from the model's own codes -------------------------------------
vocab = json.load(open(os.path.join(T, "model", "vocab.json")))
codes = [t["text"] for t in vocab["tokens"] if t["kind"] == "code"]
rng = random.Random(7)
t0 = datetime.datetime(2015, 3, 1, tzinfo=datetime.timezone.utc)
events = [{"time": None, "code": "GENDER/FEMALE"},
          {"time": "1960-05-04T00:00:00Z", "code": "MEDS_BIRTH"}]
for i in range(60):
    t = t0 + datetime.timedelta(days=20 * i + rng.randrange(5))
    events.append({"time": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "code": rng.choice(codes)})
PATIENT = {"subject_id": "test-patient-7781", "events": events}
# a Synthea patient Bundle (FHIR) from the shared data
with tarfile.open(os.path.join(SHARED, "synthea-r4-dev.tar.xz")) as tf:
    member = min((m for m in tf.getmembers()
                  if m.isfile() and m.name.endswith(".json")
                  and "hospitalInformation" not in m.name
                  and "practitionerInformation" not in m.name), key=lambda m: m.size)
    BUNDLE = tf.extractfile(member).read()
if len(BUNDLE) > (3 << 20):
    sys.exit("FAIL: the smallest Synthea bundle is over the test's --max-body")
bundle_js = json.loads(BUNDLE)
pat_res = next(e["resource"] for e in bundle_js["entry"]
               if e["resource"]["resourceType"] == "Patient")

# ---- keys --------------------------------------------------------------------------------------
KEY = new_key("clinic", "predict,simulate,feedback")
FEEDBACK_ONLY = new_key("fb", "feedback")
SLOW = new_key("slow", "predict", rate=3)
REVOKED = new_key("old", "predict")
listing = json.loads(run("keys", "list", "--db", DB, "--json").stdout)
rid = next(k["id"] for k in listing if k["name"] == "old")
run("keys", "revoke", rid, "--db", DB)

tasks_dir = os.path.join(T, "tasks")
os.makedirs(tasks_dir, exist_ok=True)
src_tasks = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tasks")
for name in ("death_1y.yaml", "admission_6m.yaml"):
    with open(os.path.join(src_tasks, name)) as f, open(os.path.join(tasks_dir, name), "w") as g:
        g.write(f.read())

srv = Server("--tasks", tasks_dir, "--samples", "4", "--max-samples", "64", "--max-body", "3M",
             "--workers", "1", "--queue", "4")
try:
    # ---- open routes ---------------------------------------------------------------------------
    st, h, js, _ = srv.req("GET", "/health")
    check(st == 200 and js["status"] == "ok", "GET /health")
    check(len(h.get("x-request-id", "")) >= 16, "x-request-id on /health")
    st, h, _, _ = srv.req("GET", "/health", headers={"x-request-id": "abc-123"})
    check(h.get("x-request-id") == "abc-123", "a well-formed x-request-id is echoed")
    st, h, _, _ = srv.req("GET", "/health", headers={"x-request-id": "bad id\x7f"})
    check(h.get("x-request-id") not in (None, "bad id\x7f"), "a malformed x-request-id is replaced")
    st, h, js, _ = srv.req("GET", "/openapi.json")
    check(st == 200 and js["openapi"].startswith("3."), "GET /openapi.json is OpenAPI 3")
    for p in ("/health", "/metrics", "/v1/info", "/v1/models", "/v1/predict", "/v1/simulate",
              "/v1/embeddings", "/cds-services", "/cds-services/{id}",
              "/cds-services/{id}/feedback", "/model-card"):
        check(p in js.get("paths", {}), "openapi lists " + p)
    st, h, js, _ = srv.req("GET", "/model-card")
    check(st == 200 and isinstance(js, dict), "GET /model-card JSON")
    st, h, _, data = srv.req("GET", "/model-card", headers={"Accept": "text/html"})
    check(st == 200 and h["content-type"].startswith("text/html") and b"<html" in data,
          "GET /model-card HTML")
    st, h, js, _ = srv.req("GET", "/nowhere")
    check(st == 404 and err_code(js) == "not_found", "unknown path: 404 with an error body")
    st, h, js, _ = srv.req("GET", "/v1/predict", key=KEY)
    check(st == 405 and err_code(js) == "method_not_allowed", "GET /v1/predict: 405")

    # ---- authentication ------------------------------------------------------------------------
    st, h, js, _ = srv.req("GET", "/v1/info")
    check(st == 401 and err_code(js) == "unauthorized" and "www-authenticate" in h,
          "no key: 401 with WWW-Authenticate")
    check(js and "message" in js["error"], "errors carry a message")
    st, _, js, _ = srv.req("GET", "/v1/info", key=KEY[:-2] + "xx")
    check(st == 401, "a wrong secret: 401")
    st, _, js, _ = srv.req("GET", "/v1/info", key="not-a-key")
    check(st == 401, "a malformed key: 401")
    st, _, js, _ = srv.req("GET", "/v1/info", key=REVOKED)
    check(st == 401, "a revoked key: 401")
    st, _, js, _ = srv.req("GET", "/v1/info", headers={"api-key": KEY})
    check(st == 200 and js["model"]["vocabulary_size"] == len(vocab["tokens"]),
          "api-key header accepted; /v1/info")
    st, _, js, _ = srv.req("POST", "/v1/predict?tasks=death_1y", PATIENT, key=FEEDBACK_ONLY)
    check(st == 403 and err_code(js) == "forbidden", "a key without the scope: 403")
    st, _, js, _ = srv.req("GET", "/v1/models", key=KEY)
    names = [t["name"] for t in js["models"][0]["tasks"]]
    check(st == 200 and sorted(names) == ["admission_6m", "death_1y"], "/v1/models lists tasks")
    for f in ("name", "version", "vocabulary_size", "created", "tasks"):
        check(f in js["models"][0], "/v1/models has " + f)

    # ---- predict ---------------------------------------------------------------------------------
    st, h, js, _ = srv.req("POST", "/v1/predict?tasks=death_1y,admission_6m", PATIENT, key=KEY)
    check(st == 200, "predict events JSON: %d %s" % (st, js))
    if st == 200:
        risks = js["patients"][0]["risks"]
        check([r["task"] for r in risks] == ["death_1y", "admission_6m"], "risks per task")
        for r in risks:
            check(r["futures"] == 4, "default samples from --samples")
            if r["probability"] is not None:
                check(r["interval"]["low"] <= r["probability"] <= r["interval"]["high"],
                      "probability inside its interval")
                check(0 <= r["probability"] <= 1, "probability in [0, 1]")
    body = dict(PATIENT)
    st, _, js2, _ = srv.req("POST", "/v1/predict", {"patient": PATIENT, "tasks": ["death_1y"],
                                                     "samples": 8, "seed": 3}, key=KEY)
    check(st == 200 and js2["patients"][0]["risks"][0]["futures"] == 8, "tasks and samples in body")
    st, _, js3, _ = srv.req("POST", "/v1/predict", {"patient": PATIENT, "tasks": ["death_1y"],
                                                     "samples": 8, "seed": 3}, key=KEY)
    check(js3["patients"] == js2["patients"], "predict is deterministic for a seed")
    st, h, js, _ = srv.req("POST", "/v1/predict?tasks=death_1y", BUNDLE, key=KEY,
                           headers={"Accept": "application/fhir+json"},
                           ctype="application/fhir+json")
    check(st == 200 and js.get("resourceType") == "Bundle", "predict FHIR: a Bundle (%d)" % st)
    if st == 200:
        ra = js["entry"][0]["resource"]
        check(ra["resourceType"] == "RiskAssessment", "RiskAssessment")
        check(ra["subject"]["reference"] == "Patient/" + pat_res["id"], "subject reference")
        pr = ra["prediction"][0]
        check("probabilityDecimal" not in pr or 0 <= pr["probabilityDecimal"] <= 1,
              "probabilityDecimal in [0, 1]")
        check(pr["whenRange"]["high"]["value"] == 365, "whenRange of death_1y")
        check("version" in ra["method"]["coding"][0] and ra["basis"], "method and basis")
        check(h["content-type"].startswith("application/fhir+json"), "FHIR content type")
    # bad input
    st, _, js, _ = srv.req("POST", "/v1/predict?tasks=nope", PATIENT, key=KEY)
    check(st == 400 and err_code(js) == "unknown_task", "unknown task: 400")
    st, _, js, _ = srv.req("POST", "/v1/predict?tasks=death_1y", "{not json", key=KEY)
    check(st == 400 and err_code(js) == "bad_json", "malformed JSON: 400")
    st, _, js, _ = srv.req("POST", "/v1/predict?tasks=death_1y", "", key=KEY)
    check(st == 400, "empty body: 400")
    st, _, js, _ = srv.req("POST", "/v1/predict?tasks=death_1y", PATIENT, key=KEY,
                           ctype="text/plain")
    check(st == 415, "wrong content type: 415")
    st, _, js, _ = srv.req("POST", "/v1/predict?tasks=death_1y", "[" * 5000 + "]" * 5000, key=KEY)
    check(st == 400 and err_code(js) in ("too_deep", "bad_json"), "deep nesting: 400")
    st, _, js, _ = srv.req("POST", "/v1/predict?tasks=death_1y",
                           {"patient": PATIENT, "pad": "x" * (4 << 20)}, key=KEY)
    check(st == 413, "a body over --max-body: 413")
    st, _, js, _ = srv.req("POST", "/v1/predict", PATIENT, key=KEY)
    check(st == 400 and err_code(js) == "no_task", "no task: 400")
    st, _, js, _ = srv.req("POST", "/v1/predict?tasks=death_1y&samples=100000", PATIENT, key=KEY)
    check(st == 400, "samples over the limit: 400")
    st, _, js, _ = srv.req("POST", "/v1/predict?tasks=death_1y",
                           {"subject_id": "x", "events": [{"time": "2020-13-45", "code": "A/B"}]},
                           key=KEY)
    check(st == 400 and "events[0].time" in js["error"]["message"], "a bad time names its path")
    st, _, js, _ = srv.req("POST", "/v1/predict?tasks=death_1y",
                           {"resourceType": "Bundle", "entry": [{"resource": 3}]}, key=KEY,
                           ctype="application/fhir+json")
    check(st in (400, 422), "a Bundle without usable resources: 4xx")
    st, _, js, _ = srv.req("POST", "/v1/predict?tasks=death_1y",
                           {"patients": [PATIENT] * 40}, key=KEY)
    check(st == 413, "too many patients: 413")

    # ---- simulate and embeddings ---------------------------------------------------------------
    st, _, js, _ = srv.req("POST", "/v1/simulate", {"patient": PATIENT, "samples": 3,
                                                     "what_if": [codes[0]], "horizon_days": 90},
                           key=KEY)
    check(st == 200 and len(js["futures"]) == 3, "simulate: 3 futures (%d)" % st)
    if st == 200:
        check(all(f["stop"] in ("death", "timeline_end", "horizon", "length")
                  for f in js["futures"]), "simulate stop reasons")
    st, _, js, _ = srv.req("POST", "/v1/simulate", {"patient": PATIENT, "what_if": ["NOPE/1"]},
                           key=KEY)
    check(st == 400 and err_code(js) == "unknown_code", "what_if with an unknown code: 400")
    twin = dict(PATIENT, subject_id="test-patient-twin")
    st, _, js, _ = srv.req("POST", "/v1/embeddings", {"patients": [PATIENT, twin]}, key=KEY)
    check(st == 200 and len(js["embeddings"]) == 2 and
          len(js["embeddings"][0]["embedding"]) == js["dim"], "embeddings")
    if st == 200:
        check(js["embeddings"][0]["embedding"] == js["embeddings"][1]["embedding"],
              "the same patient has the same embedding")

    # ---- CDS Hooks -------------------------------------------------------------------------------
    st, _, js, _ = srv.req("GET", "/cds-services")
    svc = js["services"][0]
    check(st == 200 and svc["hook"] == "patient-view", "discovery")
    for k in ("patient", "conditions", "observations", "medications", "encounters"):
        check(k in svc["prefetch"], "discovery prefetch " + k)
    url = srv.base + "/cds-services/" + svc["id"]

    def token(aud=url, key="es384.pem", alg="ES384", kid="es1", **kw):
        args = [sys.executable, JWT_TOOL, "sign", "--key", os.path.join(T, "jwt", key),
                "--alg", alg, "--kid", kid, "--iss", ISS, "--aud", aud]
        for k, v in kw.items():
            args += ["--" + k.replace("_", "-"), str(v)]
        return subprocess.run(args, capture_output=True, text=True, check=True).stdout.strip()

    # as an EHR's searches return them: references to the patient as Patient/<id>
    as_ehr = json.loads(json.dumps(bundle_js).replace("urn:uuid:" + pat_res["id"],
                                                      "Patient/" + pat_res["id"]))

    def entries(rtype):
        return {"resourceType": "Bundle", "type": "searchset",
                "entry": [{"resource": e["resource"]} for e in as_ehr["entry"]
                          if e["resource"]["resourceType"] == rtype]}

    hook = {"hook": "patient-view", "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
            "context": {"userId": "Practitioner/1", "patientId": pat_res["id"]},
            "prefetch": {"patient": pat_res, "conditions": entries("Condition"),
                         "observations": entries("Observation"),
                         "medications": entries("MedicationRequest"),
                         "encounters": entries("Encounter")}}
    path = "/cds-services/" + svc["id"]
    st, _, js, _ = srv.req("POST", path, hook)
    check(st == 401 and js["resourceType"] == "OperationOutcome", "CDS without a JWT: 401")
    st, _, js, _ = srv.req("POST", path, hook, key=token())
    check(st == 200 and "cards" in js, "CDS with an ES384 JWT: %d %s" % (st, js))
    if st == 200:
        for c in js["cards"]:
            check(len(c["summary"]) < 140, "card summary under 140 characters")
            check(c["indicator"] in ("info", "warning", "critical"), "card indicator")
            check(len(c["uuid"]) == 36, "card uuid")
            check(c["source"]["url"].endswith("/model-card"), "card source links the model card")
            check("%" in c["detail"], "card detail has the risk")
        cards = js["cards"]
        print("CDS: %d cards" % len(cards), file=sys.stderr)
    else:
        cards = []
    st, _, js, _ = srv.req("POST", path, hook, key=token(key="rs384.pem", alg="RS384", kid="rs1"))
    check(st == 200, "CDS with an RS384 JWT")
    tok = token()
    st, _, _, _ = srv.req("POST", path, hook, key=tok)
    st, _, js, _ = srv.req("POST", path, hook, key=tok)
    check(st == 401, "a replayed JWT: 401")
    st, _, js, _ = srv.req("POST", path, hook, key=token(iat_offset=-900, exp_offset=-600))
    check(st == 401, "an expired JWT: 401")
    st, _, js, _ = srv.req("POST", path, hook, key=token(key="other-es384.pem"))
    check(st == 401, "a JWT signed by another key: 401")
    st, _, js, _ = srv.req("POST", path, hook, key=token(aud=srv.base + "/cds-services/other"))
    check(st == 401, "a JWT for another audience: 401")
    st, _, js, _ = srv.req("POST", path, hook, key=KEY)
    check(st == 401, "an API key where a JWT is required: 401")
    partial = json.loads(json.dumps(hook))
    del partial["prefetch"]["observations"]
    st, _, js, _ = srv.req("POST", path, partial, key=token())
    check(st == 412 and js["resourceType"] == "OperationOutcome", "missing prefetch: 412")
    st, _, js, _ = srv.req("POST", "/cds-services/nope", hook, key=token(
        aud=srv.base + "/cds-services/nope"))
    check(st == 404, "unknown CDS service: 404")
    # feedback on a card of this run (or, when every risk was undecided and no card came,
    # on a uuid of the same form: the service does not keep cards)
    card_id = cards[0]["uuid"] if cards else "6f1c2b8e-3d4a-4b5c-8d9e-0a1b2c3d4e5f"
    fb = {"feedback": [{"card": card_id, "outcome": "accepted",
                        "outcomeTimestamp": "2026-01-01T00:00:00Z"}]}
    st, _, js, _ = srv.req("POST", path + "/feedback", fb, key=token(aud=url + "/feedback"))
    check(st == 200 and js["recorded"] == 1, "feedback recorded")
    st, _, js, _ = srv.req("POST", path + "/feedback", fb, key=token(aud=url + "/feedback"))
    check(st == 200 and js["recorded"] == 0 and js["already_recorded"] == 1,
          "feedback is idempotent per card")
    st, _, js, _ = srv.req("POST", path + "/feedback", {"feedback": [{"card": "x"}]},
                           key=token(aud=url + "/feedback"))
    check(st == 400, "malformed feedback: 400")

    # ---- rate limit ------------------------------------------------------------------------------
    got = [srv.req("GET", "/v1/info", key=SLOW) for _ in range(5)]
    codes_seen = [g[0] for g in got]
    check(codes_seen[:3] == [200, 200, 200] and 429 in codes_seen[3:],
          "rate limit: the 4th request in a minute gets 429 (%s)" % codes_seen)
    limited = next((g for g in got if g[0] == 429), None)
    check(limited is not None and int(limited[1].get("retry-after", "0")) >= 1,
          "429 carries Retry-After")

    # ---- queue overflow --------------------------------------------------------------------------
    heavy = {"patient": PATIENT, "tasks": ["death_1y"], "samples": 64}
    with concurrent.futures.ThreadPoolExecutor(16) as ex:
        res = list(ex.map(lambda _: srv.req("POST", "/v1/predict", heavy, key=KEY), range(16)))
    sts = [r[0] for r in res]
    check(429 in sts and 200 in sts and set(sts) <= {200, 429},
          "a full queue answers 429 at once, the rest 200 (%s)" % sts)
    check(all(int(r[1].get("retry-after", "0")) >= 1 for r in res if r[0] == 429),
          "queue-full 429 carries Retry-After")
    check(all(r[2]["patients"][0]["risks"][0]["futures"] == 64 for r in res if r[0] == 200),
          "every answer of the burst has its own 64 futures")
    # a burst of small predictions: the worker takes the queued ones together and decodes
    # their futures in one batch (4 futures each, under the 32-row cap)
    small = {"patients": [PATIENT, dict(PATIENT, subject_id="test-patient-b")],
             "tasks": ["death_1y"], "samples": 4}
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        res = list(ex.map(lambda _: srv.req("POST", "/v1/predict", small, key=KEY), range(4)))
    check(all(r[0] == 200 and len(r[2]["patients"]) == 2 and
              all(p["risks"][0]["futures"] == 4 for p in r[2]["patients"]) for r in res),
          "a burst of small predictions: every answer has its own patients and futures (%s)"
          % [r[0] for r in res])
    _, _, _, data = srv.req("GET", "/metrics")
    mt = dict(re.findall(r"^(medfm_batch\w+) (\d+)$", data.decode(), re.M))
    check(int(mt.get("medfm_batched_requests_total", 0)) > int(mt.get("medfm_batches_total", 0)) > 0,
          "a worker took queued predictions together (%s)" % mt)

    # ---- metrics ---------------------------------------------------------------------------------
    st, h, _, data = srv.req("GET", "/metrics")
    text = data.decode()
    check(st == 200 and h["content-type"].startswith("text/plain"), "GET /metrics")
    for m in ("medfm_requests_total", "medfm_request_duration_seconds_bucket",
              "medfm_queue_depth", "medfm_predictions_total{task=\"death_1y\"}",
              "medfm_input_unknown_share", "medfm_rejected_total{reason=\"queue_full\"}"):
        check(m in text, "metrics has " + m)

    # ---- SIGTERM with requests in flight -------------------------------------------------------
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        futs = [ex.submit(srv.req, "POST", "/v1/predict", heavy, None, KEY) for _ in range(4)]
        time.sleep(0.05)
        srv.p.send_signal(signal.SIGTERM)
        res = [f.result() for f in futs]
    check(all(r[0] == 200 for r in res), "requests in flight at SIGTERM are answered (%s)"
          % [r[0] for r in res])
    check(srv.p.wait(timeout=60) == 0, "the server exits 0 after draining")
    srv.log.seek(0)
    log = srv.log.read()
    m = re.search(r"draining \((\d+) in flight", log)
    check(m is not None and int(m.group(1)) > 0,
          "SIGTERM came while requests were in flight (%s)" % (m.group(0) if m else log))
finally:
    srv.stop()

# ---- audit -----------------------------------------------------------------------------------
p = run("audit", "verify", "--db", DB)
check(p.returncode == 0, "audit verify: the chain is intact")
raw = open(DB, "rb").read()
check(b"test-patient-7781" not in raw and pat_res["id"].encode() not in raw,
      "the state database holds no patient id")
out = os.path.join(T, "audit.ndjson")
run("audit", "export", "--db", DB, "--format", "fhir-auditevent", "--out", out)
lines = open(out).read().splitlines()
check(len(lines) > 20 and all(json.loads(l)["resourceType"] == "AuditEvent" for l in lines),
      "audit export: AuditEvents")
check(b"test-patient-7781" not in open(out, "rb").read(), "the audit export holds no patient id")
db = sqlite3.connect(DB)
for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='trigger'").fetchall():
    db.execute("DROP TRIGGER " + name)
db.execute("UPDATE audit SET status = 200 WHERE seq = 3")
db.execute("UPDATE audit SET route = route || 'x' WHERE seq = 3")
db.commit()
db.close()
p = run("audit", "verify", "--db", DB, ok=False)
check(p.returncode == 1 and "3" in p.stderr + p.stdout, "audit verify finds the tampered row")

# ---- TLS -------------------------------------------------------------------------------------
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
import ipaddress

k = ec.generate_private_key(ec.SECP256R1())
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
now = datetime.datetime.now(datetime.timezone.utc)
cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(k.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(
            "127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(k, hashes.SHA256()))
cpath, kpath = os.path.join(T, "cert.pem"), os.path.join(T, "key.pem")
open(cpath, "wb").write(cert.public_bytes(serialization.Encoding.PEM))
open(kpath, "wb").write(k.private_bytes(serialization.Encoding.PEM,
                                        serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()))
DB = os.path.join(T, "state2.sqlite")
KEY2 = new_key("tls", "predict")
tls = Server("--tasks", tasks_dir, "--samples", "2", tls=(cpath, kpath))
try:
    st, _, js, _ = tls.req("GET", "/health")
    check(st == 200, "HTTPS /health")
    st, _, js, _ = tls.req("POST", "/v1/predict?tasks=death_1y", PATIENT, key=KEY2)
    check(st == 200, "HTTPS predict")
    plain = http.client.HTTPConnection("127.0.0.1", tls.port, timeout=10)
    try:
        plain.request("GET", "/health")
        r = plain.getresponse()
        check(r.status != 200, "plain HTTP to the TLS port is refused")
    except (OSError, http.client.HTTPException):
        pass
finally:
    check(tls.stop() == 0, "the TLS server exits 0")

# a port in use
busy = Server("--tasks", tasks_dir)
try:
    p = run("serve", "--model", os.path.join(T, "model"), "--db", DB, "--tasks", tasks_dir,
            "--listen", "127.0.0.1:%d" % busy.port, ok=False)
    check(p.returncode == 1 and "listen" in p.stderr, "a port in use: exit 1 with a message")
finally:
    busy.stop()

if failures:
    sys.exit("%d check(s) failed" % len(failures))
print("serve: all checks passed")
