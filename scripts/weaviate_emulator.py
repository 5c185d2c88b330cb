"""A Weaviate REST emulator for the tests (no Weaviate server can be installed here).

Written from Weaviate's public OpenAPI spec (openapi-specs/schema.json: paths,
parameters, the Object / ObjectsListResponse / ErrorResponse / Tenant /
GraphQLResponse shapes) and from what the official `weaviate-client` sends and
parses. Standard library only; everything lives in memory.

Endpoints (all under /v1): meta, .well-known/{ready,live,openid-configuration};
schema (list, create, get, update, delete); schema/{class}/tenants (list,
create, update, delete, get one, exists); objects (create, list, get, exists,
delete); batch/objects; graphql (only `Aggregate { C(tenant: "t") { meta { count } } }`).

Behaviour that the exporter relies on, as the spec describes it:
  * GET /objects with `after` (even empty) is the cursor: objects of `class`
    (required) in ascending UUID order, strictly after `after`; it cannot be
    combined with `offset` or `sort`.
  * without `after`, objects come in insertion order and offset + limit may
    not exceed QUERY_MAXIMUM_RESULTS (10 000, `--max-results` lowers it);
    the cursor's `limit` is bounded the same way.
  * multi-tenant classes need `tenant`; only ACTIVE (HOT) tenants can be read
    or written; an OFFLOADED tenant set ACTIVE goes through ONLOADING first.
  * with an API key, every request but the well-known ones needs
    `Authorization: Bearer KEY`; 401 answers carry the ErrorResponse shape.
  * numbers are printed the way Go's encoding/json prints a float64 (2.0 → 2);
    vectors are stored as float32, like Weaviate stores them.
  * top-level null properties are not stored (Weaviate drops them).

Not emulated: vectorizers and modules, search, filters, sort, cross-reference
resolution, phone-number parsing (phoneNumber objects are kept as given),
gRPC. The server version reported by /v1/meta is 1.28.4 (`--version`).

  weaviate_emulator.py [--port 0] [--api-key KEY] [--max-results N] [--log FILE] [--version V]

Prints the port on stdout once it accepts connections.
"""
import argparse
import json
import math
import re
import struct
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, default=0)
ap.add_argument("--api-key")
ap.add_argument("--max-results", type=int, default=10000)
ap.add_argument("--log")
ap.add_argument("--version", default="1.28.4")
ARGS = ap.parse_args()

lock = threading.RLock()
classes = {}  # name -> class definition (as GET /schema/{name} returns it)
tenants = {}  # class -> {tenant: status}
objects = {}  # (class, tenant or "") -> {uuid: stored object}
dims = {}  # (class, tenant or "", vector name) -> dimension

DISTANCES = {"cosine", "dot", "l2-squared", "manhattan", "hamming"}
TEXT_TYPES = {"text", "text[]", "string", "string[]"}
PRIMITIVE_TYPES = {
    "text", "text[]", "string", "string[]", "int", "int[]", "number", "number[]", "boolean", "boolean[]",
    "date", "date[]", "uuid", "uuid[]", "blob", "geoCoordinates", "phoneNumber", "object", "object[]",
}
DEPRECATED_STATUS = {"HOT": "ACTIVE", "COLD": "INACTIVE", "FROZEN": "OFFLOADED", "FREEZING": "OFFLOADING", "UNFREEZING": "ONLOADING"}
CLASS_RE = re.compile(r"[A-Z][_0-9A-Za-z]*")
TENANT_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")


class ApiError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def error_body(message):
    return {"error": [{"message": message}]}


def hnsw_defaults():
    return {
        "skip": False, "cleanupIntervalSeconds": 300, "maxConnections": 32, "efConstruction": 128, "ef": -1,
        "dynamicEfMin": 100, "dynamicEfMax": 500, "dynamicEfFactor": 8, "vectorCacheMaxObjects": 1000000000000,
        "flatSearchCutoff": 40000, "distance": "cosine", "filterStrategy": "sweeping",
        "pq": {"enabled": False}, "bq": {"enabled": False}, "sq": {"enabled": False},
        "multivector": {"enabled": False, "aggregation": "maxSim"},
    }


def flat_defaults():
    return {"distance": "cosine", "vectorCacheMaxObjects": 1000000000000, "pq": {"enabled": False}, "bq": {"enabled": False}, "sq": {"enabled": False}}


def complete_index(index_type, config):
    """The vector index config the server stores: defaults, then what was sent."""
    index_type = index_type or "hnsw"
    if index_type not in ("hnsw", "flat", "dynamic"):
        raise ApiError(422, f"unsupported vector index type {index_type!r}")
    if index_type == "dynamic":
        base = {"distance": "cosine", "threshold": 10000, "hnsw": hnsw_defaults(), "flat": flat_defaults()}
    else:
        base = hnsw_defaults() if index_type == "hnsw" else flat_defaults()
    for k, v in (config or {}).items():
        base[k] = {**base[k], **v} if isinstance(base.get(k), dict) and isinstance(v, dict) else v
    if base["distance"] not in DISTANCES:
        raise ApiError(422, f"invalid distance {base['distance']!r}: must be one of {sorted(DISTANCES)}")
    return index_type, base


def complete_property(p):
    if not isinstance(p.get("dataType"), list) or not p["dataType"]:
        raise ApiError(422, f"property {p.get('name')!r}: dataType is required")
    ty = p["dataType"][0]
    if ty not in PRIMITIVE_TYPES and ty not in classes and not CLASS_RE.fullmatch(ty):
        raise ApiError(422, f"property {p.get('name')!r}: unknown dataType {ty!r}")
    out = dict(p)
    out.setdefault("indexFilterable", True)
    out.setdefault("indexSearchable", ty in TEXT_TYPES)
    out.setdefault("indexRangeFilters", False)
    if ty in TEXT_TYPES:
        out.setdefault("tokenization", "word")
    if p.get("nestedProperties"):
        out["nestedProperties"] = [complete_property(n) for n in p["nestedProperties"]]
    return out


def complete_class(body, existing=None):
    name = body.get("class") or ""
    name = name[:1].upper() + name[1:]
    if not CLASS_RE.fullmatch(name):
        raise ApiError(422, f"class name {body.get('class')!r} is not valid: it must match /^[A-Z][_0-9A-Za-z]*$/")
    c = {"class": name, "description": body.get("description", "")}
    c["properties"] = [complete_property(p) for p in body.get("properties") or []]
    named = body.get("vectorConfig") or {}
    if not named or body.get("vectorIndexConfig") is not None or (existing and "vectorIndexConfig" in existing):
        c["vectorizer"] = body.get("vectorizer", "none")
        c["vectorIndexType"], c["vectorIndexConfig"] = complete_index(body.get("vectorIndexType"), body.get("vectorIndexConfig"))
    if named:
        c["vectorConfig"] = {}
        for vname, vc in named.items():
            index_type, cfg = complete_index(vc.get("vectorIndexType"), vc.get("vectorIndexConfig"))
            c["vectorConfig"][vname] = {"vectorizer": vc.get("vectorizer") or {"none": {}}, "vectorIndexType": index_type, "vectorIndexConfig": cfg}
    mt = body.get("multiTenancyConfig") or {}
    c["multiTenancyConfig"] = {
        "enabled": bool(mt.get("enabled", False)),
        "autoTenantCreation": bool(mt.get("autoTenantCreation", False)),
        "autoTenantActivation": bool(mt.get("autoTenantActivation", False)),
    }
    inv = body.get("invertedIndexConfig") or {}
    c["invertedIndexConfig"] = {
        "bm25": {"b": 0.75, "k1": 1.2, **(inv.get("bm25") or {})},
        "cleanupIntervalSeconds": inv.get("cleanupIntervalSeconds", 60),
        "stopwords": {"preset": "en", "additions": None, "removals": None, **(inv.get("stopwords") or {})},
        "indexTimestamps": inv.get("indexTimestamps", False),
        "indexNullState": inv.get("indexNullState", False),
        "indexPropertyLength": inv.get("indexPropertyLength", False),
        "usingBlockMaxWAND": True,
    }
    c["replicationConfig"] = {"factor": 1, "asyncEnabled": False, "deletionStrategy": "NoAutomatedResolution", **(body.get("replicationConfig") or {})}
    c["shardingConfig"] = {
        "virtualPerPhysical": 128, "desiredCount": 1, "actualCount": 1, "desiredVirtualCount": 128,
        "actualVirtualCount": 128, "key": "_id", "strategy": "hash", "function": "murmur3",
    }
    if existing:
        c["properties"] = existing["properties"] + [p for p in c["properties"] if p["name"] not in {q["name"] for q in existing["properties"]}]
    return c


def find_class(name):
    name = unquote(name)
    c = classes.get(name[:1].upper() + name[1:])
    if c is None:
        raise ApiError(404, f"class {name!r} not found")
    return c


def shard_key(c, tenant, write=False):
    """The (class, tenant) an object operation addresses, checked like Weaviate does."""
    if c["multiTenancyConfig"]["enabled"]:
        if not tenant:
            raise ApiError(422, f"class {c['class']} has multi-tenancy enabled, but request was without tenant")
        status = tenants.get(c["class"], {}).get(tenant)
        if status is None:
            raise ApiError(422, f"tenant not found: {tenant!r}")
        if status != "ACTIVE":
            raise ApiError(422, f"tenant not active: {tenant!r} is {status}")
        return (c["class"], tenant)
    if tenant:
        raise ApiError(422, f"class {c['class']} has multi-tenancy disabled, but request was with tenant")
    return (c["class"], "")


def f32(x):
    if not isinstance(x, (int, float)) or isinstance(x, bool):
        raise ApiError(422, f"vector value {x!r} is not a number")
    return struct.unpack("<f", struct.pack("<f", float(x)))[0]


def store_vector(c, key, name, vec):
    if not isinstance(vec, list) or not vec:
        return None
    if isinstance(vec[0], list):
        value = [[f32(x) for x in row] for row in vec]
        width = len(vec[0])
    else:
        value = [f32(x) for x in vec]
        width = len(vec)
    have = dims.setdefault((key[0], key[1], name), width)
    if have != width:
        raise ApiError(422, f"vector {name}: new vector has length {width}, existing vectors have length {have}")
    return value


def check_properties(c, props):
    declared = {p["name"] for p in c["properties"]}
    for k in props:
        if k not in declared:
            raise ApiError(422, f"no such prop with name {k!r} found in class {c['class']!r} in the schema (auto-schema is off in this emulator)")


def put_object(body):
    c = find_class(body.get("class") or "")
    key = shard_key(c, body.get("tenant"), write=True)
    oid = str(uuid.UUID(str(body["id"]))) if body.get("id") else str(uuid.uuid4())
    store = objects.setdefault(key, {})
    if oid in store:
        raise ApiError(422, f"id '{oid}' already exists")
    props = {k: v for k, v in (body.get("properties") or {}).items() if v is not None}
    check_properties(c, props)
    obj = {"class": c["class"], "id": oid, "properties": props}
    if key[1]:
        obj["tenant"] = key[1]
    if body.get("vector"):
        if "vectorIndexConfig" not in c:
            raise ApiError(422, f"class {c['class']} has no class vector; use named vectors ({', '.join(c.get('vectorConfig', {}))})")
        obj["vector"] = store_vector(c, key, "", body["vector"])
    named = {}
    for name, vec in (body.get("vectors") or {}).items():
        if name not in (c.get("vectorConfig") or {}):
            raise ApiError(422, f"class {c['class']} has no named vector {name!r}")
        v = store_vector(c, key, name, vec)
        if v is not None:
            named[name] = v
    if named:
        obj["vectors"] = named
    now = int(time.time() * 1000)
    obj["creationTimeUnix"] = obj["lastUpdateTimeUnix"] = now
    store[oid] = obj
    return obj


def present(obj, include_vector):
    out = {k: v for k, v in obj.items() if k not in ("vector", "vectors")}
    if include_vector:
        for k in ("vector", "vectors"):
            if k in obj:
                out[k] = obj[k]
    return out


def list_objects(q):
    cls, after, tenant = q.get("class"), q.get("after"), q.get("tenant")
    include = "vector" in (q.get("include") or "").split(",")
    try:
        limit = int(q.get("limit", 25))
        offset = int(q["offset"]) if "offset" in q else None
    except ValueError:
        raise ApiError(422, "limit and offset must be integers")
    if after is not None:
        if not cls:
            raise ApiError(422, "the after parameter must be used together with the class parameter")
        if offset is not None or q.get("sort"):
            raise ApiError(422, "offset, sort cannot be set with after and limit parameters")
        if after:
            try:
                after = str(uuid.UUID(after))
            except ValueError:
                raise ApiError(422, f"after parameter {after!r} is not a valid UUID")
    if (offset or 0) + limit > ARGS.max_results:
        raise ApiError(422, f"query maximum results exceeded: offset + limit must not exceed {ARGS.max_results} (QUERY_MAXIMUM_RESULTS)")
    if cls:
        c = find_class(cls)
        stores = [objects.get(shard_key(c, tenant), {})]
    else:
        stores = [s for (k, t), s in objects.items() if not t]
    if after is not None:
        ids = sorted(i for i in stores[0] if i > after)[:limit]
        page = [stores[0][i] for i in ids]
    else:
        every = [o for s in stores for o in s.values()]
        page = every[(offset or 0):(offset or 0) + limit]
    return {"objects": [present(o, include) for o in page], "totalResults": len(page)}


def get_object(cls, oid, q):
    c = find_class(cls)
    store = objects.get(shard_key(c, q.get("tenant")), {})
    try:
        oid = str(uuid.UUID(oid))
    except ValueError:
        raise ApiError(422, f"{oid!r} is not a valid UUID")
    if oid not in store:
        raise ApiError(404, "")
    return present(store[oid], "vector" in (q.get("include") or "").split(","))


AGGREGATE_RE = re.compile(r"^\s*\{\s*Aggregate\s*\{\s*(\w+)\s*(?:\(\s*tenant\s*:\s*\"((?:[^\"\\]|\\.)*)\"\s*\))?\s*\{\s*meta\s*\{\s*count\s*\}\s*\}\s*\}\s*\}\s*$", re.S)


def graphql(body):
    query = (body or {}).get("query") or ""
    m = AGGREGATE_RE.match(query)
    if not m:
        return {"errors": [{"message": "this emulator answers only { Aggregate { Class(tenant: \"t\") { meta { count } } } }", "path": []}]}
    try:
        c = find_class(m[1])
        tenant = json.loads(f'"{m[2]}"') if m[2] is not None else None
        key = shard_key(c, tenant)
    except ApiError as e:
        return {"data": {"Aggregate": None}, "errors": [{"message": str(e), "path": ["Aggregate", m[1]]}]}
    return {"data": {"Aggregate": {c["class"]: [{"meta": {"count": len(objects.get(key, {}))}}]}}}


def tenants_of(cls):
    c = find_class(cls)
    if not c["multiTenancyConfig"]["enabled"]:
        raise ApiError(422, f"multi-tenancy is not enabled for class {c['class']!r}")
    return c, tenants.setdefault(c["class"], {})


def create_tenants(cls, body):
    c, ts = tenants_of(cls)
    for t in body or []:
        name = t.get("name") or ""
        if not TENANT_RE.fullmatch(name):
            raise ApiError(422, f"tenant name {name!r} is not valid: it must match ^[A-Za-z0-9_-]{{1,64}}$")
        status = DEPRECATED_STATUS.get(t.get("activityStatus") or "ACTIVE", t.get("activityStatus") or "ACTIVE")
        if status not in ("ACTIVE", "INACTIVE"):
            raise ApiError(422, f"tenant {name}: a new tenant can only be ACTIVE or INACTIVE, not {status}")
        ts.setdefault(name, status)
    return [{"name": t["name"], "activityStatus": ts[t["name"]]} for t in body or []]


def finish_onloading(cls, name):
    with lock:
        if tenants.get(cls, {}).get(name) == "ONLOADING":
            tenants[cls][name] = "ACTIVE"


def update_tenants(cls, body):
    c, ts = tenants_of(cls)
    out = []
    for t in body or []:
        name, status = t.get("name"), t.get("activityStatus")
        status = DEPRECATED_STATUS.get(status, status)
        if name not in ts:
            raise ApiError(422, f"tenant not found: {name!r}")
        if status not in ("ACTIVE", "INACTIVE", "OFFLOADED"):
            raise ApiError(422, f"tenant {name}: activityStatus must be ACTIVE, INACTIVE or OFFLOADED, not {status}")
        if ts[name] == "OFFLOADED" and status == "ACTIVE":
            ts[name] = "ONLOADING"  # becomes ACTIVE a little later, as onloading takes time
            threading.Timer(0.5, finish_onloading, (c["class"], name)).start()
        else:
            ts[name] = status
        out.append({"name": name, "activityStatus": status})
    return out


def delete_tenants(cls, body):
    c, ts = tenants_of(cls)
    for name in body or []:
        ts.pop(name, None)
        objects.pop((c["class"], name), None)
    return None


def one_tenant(cls, name):
    c, ts = tenants_of(cls)
    name = unquote(name)
    if name not in ts:
        raise ApiError(404, f"tenant {name!r} not found")
    return {"name": name, "activityStatus": ts[name]}


def create_class(body):
    c = complete_class(body or {})
    if c["class"] in classes:
        raise ApiError(422, f"class name {c['class']!r} already exists")
    classes[c["class"]] = c
    return c


def update_class(cls, body):
    old = find_class(cls)
    new = complete_class({**(body or {}), "class": old["class"]}, existing=old)
    for name, vc in (old.get("vectorConfig") or {}).items():
        if name in new.get("vectorConfig", {}) and new["vectorConfig"][name]["vectorIndexConfig"]["distance"] != vc["vectorIndexConfig"]["distance"]:
            raise ApiError(422, f"vector {name}: the distance cannot be changed")
    classes[old["class"]] = new
    return new


def delete_class(cls):
    c = classes.pop(find_class(cls)["class"])
    for k in [k for k in objects if k[0] == c["class"]]:
        del objects[k]
    tenants.pop(c["class"], None)
    return None


def batch_objects(body):
    out = []
    for o in (body or {}).get("objects") or []:
        try:
            stored = put_object(o)
            out.append({**present(stored, False), "result": {"status": "SUCCESS"}})
        except ApiError as e:
            out.append({**o, "result": {"status": "FAILED", "errors": error_body(str(e))}})
    return out


def meta(_q, _b):
    return {"hostname": f"http://127.0.0.1:{PORT}", "version": ARGS.version, "modules": {}, "grpcMaxMessageSize": 104858000}


# (method, path pattern under /v1, handler(match, query, body) -> (status, json or None))
ROUTES = [
    ("GET", r"/meta", lambda m, q, b: (200, meta(q, b))),
    ("GET", r"/schema", lambda m, q, b: (200, {"classes": list(classes.values())})),
    ("POST", r"/schema", lambda m, q, b: (200, create_class(b))),
    ("GET", r"/schema/([^/]+)", lambda m, q, b: (200, find_class(m[1]))),
    ("PUT", r"/schema/([^/]+)", lambda m, q, b: (200, update_class(m[1], b))),
    ("DELETE", r"/schema/([^/]+)", lambda m, q, b: (200, delete_class(m[1]))),
    ("GET", r"/schema/([^/]+)/tenants", lambda m, q, b: (200, [{"name": n, "activityStatus": s} for n, s in tenants_of(m[1])[1].items()])),
    ("POST", r"/schema/([^/]+)/tenants", lambda m, q, b: (200, create_tenants(m[1], b))),
    ("PUT", r"/schema/([^/]+)/tenants", lambda m, q, b: (200, update_tenants(m[1], b))),
    ("DELETE", r"/schema/([^/]+)/tenants", lambda m, q, b: (200, delete_tenants(m[1], b))),
    ("GET", r"/schema/([^/]+)/tenants/([^/]+)", lambda m, q, b: (200, one_tenant(m[1], m[2]))),
    ("HEAD", r"/schema/([^/]+)/tenants/([^/]+)", lambda m, q, b: (200, one_tenant(m[1], m[2]))),
    ("POST", r"/objects", lambda m, q, b: (200, put_object(b or {}))),
    ("GET", r"/objects", lambda m, q, b: (200, list_objects(q))),
    ("GET", r"/objects/([^/]+)/([^/]+)", lambda m, q, b: (200, get_object(m[1], m[2], q))),
    ("HEAD", r"/objects/([^/]+)/([^/]+)", lambda m, q, b: (get_object(m[1], m[2], q) and 204, None)),
    ("DELETE", r"/objects/([^/]+)/([^/]+)", lambda m, q, b: (delete_object(m[1], m[2], q), None)),
    ("POST", r"/batch/objects", lambda m, q, b: (200, batch_objects(b))),
    ("POST", r"/graphql", lambda m, q, b: (200, graphql(b))),
]


def delete_object(cls, oid, q):
    get_object(cls, oid, q)
    c = find_class(cls)
    del objects[shard_key(c, q.get("tenant"))][str(uuid.UUID(oid))]
    return 204


def go_numbers(v):
    """Numbers as Go's encoding/json prints a float64: integral values without '.0'."""
    if isinstance(v, float) and math.isfinite(v) and v.is_integer() and abs(v) < 1e21 and not (v == 0 and math.copysign(1, v) < 0):
        return int(v)
    if isinstance(v, dict):
        return {k: go_numbers(x) for k, x in v.items()}
    if isinstance(v, list):
        return [go_numbers(x) for x in v]
    return v


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def respond(self, method):
        parts = urlsplit(self.path)
        path = parts.path
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if ARGS.log:
            with lock, open(ARGS.log, "a") as f:
                f.write(json.dumps({"method": method, "path": path, "query": sorted(query)}) + "\n")
        code, body = 404, error_body(f"no route {method} {path}")
        if path in ("/v1/.well-known/ready", "/v1/.well-known/live"):
            code, body = 200, None
        elif path == "/v1/.well-known/openid-configuration":
            code, body = 404, None
        elif ARGS.api_key and self.headers.get("Authorization") != f"Bearer {ARGS.api_key}":
            if self.headers.get("Authorization"):
                code, body = 401, error_body("unauthorized: invalid api key")
            else:
                code, body = 401, error_body("anonymous access not enabled, please provide an auth scheme such as OIDC")
        elif path.startswith("/v1/"):
            sub = path[3:]
            for m, pattern, fn in ROUTES:
                match = re.fullmatch(pattern, sub)
                if m == method and match:
                    try:
                        data = json.loads(raw) if raw else None
                        with lock:
                            code, body = fn(match, query, data)
                    except ApiError as e:
                        code, body = e.code, (error_body(str(e)) if str(e) else None)
                    except (ValueError, KeyError, TypeError, AttributeError) as e:
                        code, body = 422, error_body(f"invalid request: {e}")
                    break
        out = b"" if body is None or method == "HEAD" else json.dumps(go_numbers(body)).encode()
        self.send_response(code)
        if out:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def do_GET(self):
        self.respond("GET")

    def do_HEAD(self):
        self.respond("HEAD")

    def do_POST(self):
        self.respond("POST")

    def do_PUT(self):
        self.respond("PUT")

    def do_DELETE(self):
        self.respond("DELETE")


server = ThreadingHTTPServer(("127.0.0.1", ARGS.port), Handler)
PORT = server.server_address[1]
print(PORT, flush=True)
server.serve_forever()
