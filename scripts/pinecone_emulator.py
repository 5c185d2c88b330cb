"""A Pinecone REST emulator for the tests (Pinecone is a cloud service; there is
nothing to install).

Written from Pinecone's public OpenAPI specs (pinecone-io/pinecone-api:
2025-10/db_control_2025-10.oas.yaml and db_data_2025-10.oas.yaml, plus the
2026-07 IndexModel the official Python SDK 10.x parses). The tests drive it
with the official `pinecone` SDK, which decodes every answer into strict
models, so a wrong shape fails there.

One port serves the control plane (`GET /indexes`, `GET /indexes/{name}`);
each index gets its own data-plane port (its `host`): `POST
/describe_index_stats`, `POST /vectors/upsert`, `GET /vectors/list`
(serverless only; ids in byte order, `limit` at most 100, an opaque
`pagination.next` token), `GET /vectors/fetch` (at most 1 000 ids, URLs
over 8 KiB refused with 414). Every request needs the `Api-Key` header. The
answer shape follows `X-Pinecone-Api-Version` (2026-07 IndexModels carry
`schema` and `deployment`; older ones `dimension`, `metric`, `spec`).
Values are stored as float32, metadata as Pinecone types it (string,
number, boolean, list of strings).

Test controls, on the control port, without a key:
  POST /_emulator/faults  {"every": N, "status": 429|503, "retry_after": S,
                           "max_inflight_fetch": K, "fetch_latency_ms": L}
      every Nth data-plane request fails with `status` (Retry-After: S);
      a fetch arriving while K fetches are in flight gets 429 (Retry-After: S).
  POST /_emulator/vanish  {"index": I, "namespace": NS, "ids": [...]}
      listed, but gone when fetched (deleted between list and fetch).
  POST /_emulator/reset   zero the counters below.
  GET  /_emulator/stats   counters (requests, faults, ids fetched, peak fetches
                          in flight, API versions seen, longest URL, list limits).

  pinecone_emulator.py API_KEY INDEX_SPEC...
      INDEX_SPEC = name:dimension:metric[:pod|serverless[:sparse]]
  Prints {"control": PORT, "indexes": {name: PORT}} on stdout when ready.
"""
import base64
import json
import struct
import sys
import threading
import time
from http.server import ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from emulator_http import JsonHandler

API_KEY = sys.argv[1]
VERSIONS = ("2025-04", "2025-10", "2026-04", "2026-07")
MAX_URL = 8192
lock = threading.Lock()
indexes = {}  # name -> dict(dimension, metric, pod, sparse, port, data={ns: {id: record}}, vanished={ns: set})
faults = {"every": 0, "status": 429, "retry_after": 1, "max_inflight_fetch": 0, "fetch_latency_ms": 0}
stats = {"requests": 0, "data_requests": 0, "faults": {}, "fetched_ids": {}, "fetch_inflight": 0,
         "peak_fetch_inflight": 0, "versions": {}, "longest_url": 0, "list_limits": [], "paths": {}}


class ApiError(Exception):
    def __init__(self, status, body, headers=None):
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


def data_error(status, code, message):
    """The data plane's rpcStatus error."""
    return ApiError(status, {"code": code, "message": message, "details": []})


def control_error(status, code, message):
    """The control plane's ErrorResponse."""
    return ApiError(status, {"error": {"code": code, "message": message}, "status": status})


def f32(x):
    return struct.unpack("f", struct.pack("f", float(x)))[0]


def json_number(x):
    # protobuf Struct numbers are doubles; JSON prints integral ones as integers.
    return int(x) if x == int(x) and abs(x) < 2 ** 53 else x


def index_model(name, version):
    ix = indexes[name]
    host = f"http://127.0.0.1:{ix['port']}"
    status = {"ready": True, "state": "Ready"}
    if version >= "2026-07":
        field = {"type": "sparse_vector"} if ix["sparse"] else {"type": "dense_vector", "dimension": ix["dimension"], "metric": ix["metric"]}
        deployment = ({"deployment_type": "pod", "environment": "us-east-1-aws", "pod_type": "p1.x1", "replicas": 1, "shards": 1}
                      if ix["pod"] else {"deployment_type": "managed", "cloud": "aws", "region": "us-east-1"})
        return {"name": name, "host": host, "status": status, "deletion_protection": "disabled", "tags": None,
                "schema": {"fields": {"values": field}}, "deployment": deployment}
    spec = ({"pod": {"environment": "us-east-1-aws", "pod_type": "p1.x1", "pods": 1, "replicas": 1, "shards": 1}}
            if ix["pod"] else {"serverless": {"cloud": "aws", "region": "us-east-1"}})
    model = {"name": name, "metric": ix["metric"], "host": host, "spec": spec, "status": status,
             "vector_type": "sparse" if ix["sparse"] else "dense", "deletion_protection": "disabled", "tags": None}
    if not ix["sparse"]:
        model["dimension"] = ix["dimension"]
    return model


def control(method, path, version):
    if method == "GET" and path == "/indexes":
        return {"indexes": [index_model(n, version) for n in sorted(indexes)]}
    if method == "GET" and path.startswith("/indexes/"):
        name = unquote(path[len("/indexes/"):])
        if name not in indexes:
            raise control_error(404, "NOT_FOUND", f"Resource {name} not found")
        return index_model(name, version)
    raise control_error(404, "NOT_FOUND", f"no route {method} {path}")


def namespace_of(value):
    return "" if value in (None, "", "__default__") else value


def valid_id(i):
    return isinstance(i, str) and 1 <= len(i) <= 512 and i.isascii() and "\x00" not in i


def check_metadata(m):
    if m is None:
        return
    if not isinstance(m, dict):
        raise data_error(400, 3, "Metadata must be an object")
    for k, v in m.items():
        ok = (isinstance(v, (str, bool, int, float))
              or isinstance(v, list) and all(isinstance(x, str) for x in v))
        if not ok:
            raise data_error(400, 3, f"Metadata value for field {k} must be a string, number, boolean or list of strings")
    if len(json.dumps(m)) > 40960:
        raise data_error(400, 3, "Metadata size exceeds the limit of 40960 bytes per vector")


def upsert(ix, body):
    ns = namespace_of(body.get("namespace"))
    vectors = body.get("vectors")
    if not isinstance(vectors, list) or not 1 <= len(vectors) <= 1000:
        raise data_error(400, 3, "vectors must hold 1 to 1000 vectors")
    clean = []
    for v in vectors:
        vid = v.get("id")
        if not valid_id(vid):
            raise data_error(400, 3, f"Vector ID must be 1-512 ASCII characters, got {vid!r}")
        values = v.get("values") or []
        sparse = v.get("sparseValues")
        if ix["sparse"]:
            if values:
                raise data_error(400, 3, "Sparse indexes accept only sparse values")
        elif len(values) != ix["dimension"]:
            raise data_error(400, 3, f"Vector dimension {len(values)} does not match the dimension of the index {ix['dimension']}")
        if sparse is not None:
            if ix["metric"] != "dotproduct":
                raise data_error(400, 3, "Sparse values are supported only for indexes using the dotproduct metric")
            idx, vals = sparse.get("indices"), sparse.get("values")
            if not isinstance(idx, list) or not isinstance(vals, list) or len(idx) != len(vals) or not 1 <= len(idx) <= 1000:
                raise data_error(400, 3, "Sparse vector must have 1-1000 indices and as many values")
            if any(not isinstance(i, int) or i < 0 or i >= 2 ** 32 for i in idx) or len(set(idx)) != len(idx):
                raise data_error(400, 3, "Sparse indices must be unique unsigned 32-bit integers")
            sparse = {"indices": list(idx), "values": [f32(x) for x in vals]}
        check_metadata(v.get("metadata"))
        rec = {"id": vid}
        if values:
            rec["values"] = [f32(x) for x in values]
        if sparse is not None:
            rec["sparseValues"] = sparse
        if v.get("metadata"):
            rec["metadata"] = {k: (float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else x)
                               for k, x in v["metadata"].items()}
        clean.append(rec)
    with lock:
        space = ix["data"].setdefault(ns, {})
        for rec in clean:
            space[rec["id"]] = rec
    return {"upsertedCount": len(clean)}


def describe_stats(ix, body, version):
    if body and body.get("filter") and not ix["pod"]:
        raise data_error(400, 3, "Serverless and starter indexes do not support describing index stats with metadata filtering")
    default = "__default__" if version >= "2026-07" else ""
    with lock:
        namespaces = {(ns or default): {"vectorCount": len(recs)} for ns, recs in sorted(ix["data"].items()) if recs}
    out = {"namespaces": namespaces, "indexFullness": 0.0, "totalVectorCount": sum(n["vectorCount"] for n in namespaces.values()),
           "metric": ix["metric"], "vectorType": "sparse" if ix["sparse"] else "dense"}
    if not ix["sparse"]:
        out["dimension"] = ix["dimension"]
    return out


def encode_token(last, prefix):
    raw = json.dumps({"skip_past": last, "prefix": prefix}).encode()
    return base64.b64encode(raw).decode()


def list_ids(ix, q):
    if ix["pod"]:
        raise data_error(400, 3, "The list operation is not supported for pod-based indexes")
    ns = namespace_of(q.get("namespace", [None])[0])
    prefix = q.get("prefix", [""])[0]
    try:
        limit = int(q.get("limit", ["100"])[0])
    except ValueError:
        raise data_error(400, 3, "limit must be an integer")
    if not 1 <= limit <= 100:
        raise data_error(400, 3, "limit must be between 1 and 100")
    with lock:
        stats["list_limits"].append(limit)
        ids = sorted((i for i in ix["data"].get(ns, {}) if i.startswith(prefix)), key=lambda s: s.encode())
    token = q.get("paginationToken", [None])[0]
    if token:
        try:
            state = json.loads(base64.b64decode(token, validate=True))
            skip = state["skip_past"].encode()
        except Exception:
            raise data_error(400, 3, "Invalid pagination token")
        ids = [i for i in ids if i.encode() > skip]
    page = ids[:limit]
    out = {"vectors": [{"id": i} for i in page], "namespace": ns, "usage": {"readUnits": 1}}
    if len(ids) > limit:
        out["pagination"] = {"next": encode_token(page[-1], prefix)}
    return out


def fetch(ix, q):
    ids = q.get("ids", [])
    if not ids:
        raise data_error(400, 3, "ids is required")
    if len(ids) > 1000:
        raise data_error(400, 3, "Cannot fetch more than 1000 ids at once")
    ns = namespace_of(q.get("namespace", [None])[0])
    with lock:
        if faults["max_inflight_fetch"] and stats["fetch_inflight"] >= faults["max_inflight_fetch"]:
            count_fault(429)
            raise ApiError(429, {"code": 8, "message": "Too many concurrent requests", "details": []},
                           {"Retry-After": str(faults["retry_after"])})
        stats["fetch_inflight"] += 1
        stats["peak_fetch_inflight"] = max(stats["peak_fetch_inflight"], stats["fetch_inflight"])
    try:
        if faults["fetch_latency_ms"]:
            time.sleep(faults["fetch_latency_ms"] / 1000)
        with lock:
            space = ix["data"].get(ns, {})
            gone = ix["vanished"].get(ns, set())
            found = {}
            for i in ids:
                rec = space.get(i)
                if rec is not None and i not in gone:
                    out = {"id": i, "values": rec.get("values", [])}
                    if "sparseValues" in rec:
                        out["sparseValues"] = rec["sparseValues"]
                    if "metadata" in rec:
                        out["metadata"] = {k: (json_number(x) if isinstance(x, float) else x) for k, x in rec["metadata"].items()}
                    found[i] = out
            per_ns = stats["fetched_ids"].setdefault(ix["name"] + "/" + (ns or "__default__"), {})
            for i in found:
                per_ns[i] = per_ns.get(i, 0) + 1
    finally:
        with lock:
            stats["fetch_inflight"] -= 1
    return {"vectors": found, "namespace": ns, "usage": {"readUnits": max(1, len(found) // 10)}}


def count_fault(status):
    stats["faults"][str(status)] = stats["faults"].get(str(status), 0) + 1


def data(ix, method, path, q, body, version):
    with lock:
        stats["data_requests"] += 1
        n = stats["data_requests"]
        every = faults["every"]
    if every and n % every == 0:
        with lock:
            count_fault(faults["status"])
        status = faults["status"]
        code, message = (8, "Request rate limit exceeded") if status == 429 else (14, "The service is unavailable")
        raise ApiError(status, {"code": code, "message": message, "details": []}, {"Retry-After": str(faults["retry_after"])})
    if method == "POST" and path == "/describe_index_stats":
        return describe_stats(ix, body, version)
    if method == "POST" and path == "/vectors/upsert":
        return upsert(ix, body or {})
    if method == "GET" and path == "/vectors/list":
        return list_ids(ix, q)
    if method == "GET" and path == "/vectors/fetch":
        return fetch(ix, q)
    raise data_error(404, 5, f"no route {method} {path}")


def emulator_control(method, path, body):
    if method == "GET" and path == "/_emulator/stats":
        with lock:
            return json.loads(json.dumps(stats))
    if method == "POST" and path == "/_emulator/faults":
        with lock:
            faults.update(body or {})
            return dict(faults)
    if method == "POST" and path == "/_emulator/reset":
        with lock:
            stats.update({"requests": 0, "data_requests": 0, "faults": {}, "fetched_ids": {}, "peak_fetch_inflight": 0,
                          "versions": {}, "longest_url": 0, "list_limits": [], "paths": {}})
        return {}
    if method == "POST" and path == "/_emulator/vanish":
        with lock:
            indexes[body["index"]]["vanished"].setdefault(namespace_of(body.get("namespace")), set()).update(body["ids"])
        return {}
    raise control_error(404, "NOT_FOUND", path)


def make_handler(index_name):
    class Handler(JsonHandler):
        def handle_one(self, method, raw):
            parts = urlsplit(self.path)
            path = parts.path
            headers = {}
            try:
                with lock:
                    stats["requests"] += 1
                    stats["longest_url"] = max(stats["longest_url"], len(self.path))
                    key = path if index_name is None else "data " + path
                    stats["paths"][key] = stats["paths"].get(key, 0) + 1
                if len(self.path) > MAX_URL:
                    raise ApiError(414, {"code": 3, "message": "URI Too Long", "details": []})
                body = json.loads(raw) if raw else None
                if index_name is None and path.startswith("/_emulator/"):
                    result = emulator_control(method, path, body)
                else:
                    if self.headers.get("Api-Key") != API_KEY:
                        if index_name is None:
                            raise control_error(401, "UNAUTHENTICATED", "Invalid API key.")
                        raise data_error(401, 16, "Invalid API Key")
                    version = self.headers.get("X-Pinecone-Api-Version") or "2025-04"
                    if version not in VERSIONS:
                        raise data_error(400, 3, f"Unsupported API version {version}")
                    with lock:
                        stats["versions"][version] = stats["versions"].get(version, 0) + 1
                    if index_name is None:
                        result = control(method, path, version)
                    else:
                        q = parse_qs(parts.query, keep_blank_values=True)
                        result = data(indexes[index_name], method, path, q, body, version)
                code = 200
            except ApiError as e:
                code, result, headers = e.status, e.body, e.headers
            except (ValueError, KeyError, TypeError, AttributeError) as e:
                code, result = 400, {"code": 3, "message": f"Bad request: {e}", "details": []}
            self.reply(code, result, headers)

    return Handler


def serve(server):
    threading.Thread(target=server.serve_forever, daemon=True).start()


ports = {}
for spec in sys.argv[2:]:
    parts = spec.split(":")
    name, dimension, metric = parts[0], int(parts[1]), parts[2]
    kind = parts[3] if len(parts) > 3 else "serverless"
    srv = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(name))
    indexes[name] = {"name": name, "dimension": dimension, "metric": metric, "pod": kind == "pod",
                     "sparse": len(parts) > 4 and parts[4] == "sparse", "port": srv.server_address[1],
                     "data": {}, "vanished": {}}
    ports[name] = srv.server_address[1]
    serve(srv)
control_server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(None))
print(json.dumps({"control": control_server.server_address[1], "indexes": ports}), flush=True)
control_server.serve_forever()
