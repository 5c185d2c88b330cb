"""A Qdrant REST emulator for the tests (no Qdrant server can be installed here).

The endpoints the exporter uses, plus the ones the official client needs to
create and fill a collection, answered with Qdrant's response envelope
({"result": ..., "status": "ok", "time": ...}). The data semantics (point
ordering, scroll offsets, payloads, named and sparse vectors, filters, exact
counts) are delegated to the `qdrant-client` package's local mode, written by
the Qdrant team; request and response bodies are parsed and produced with that
package's own REST models. The tests drive this emulator with the official
`qdrant-client` over HTTP, which validates every response it parses.

  qdrant_emulator.py PORT DATA_DIR [API_KEY]
"""
import json
import re
import sys
import time
from http.server import ThreadingHTTPServer
from threading import Lock

from qdrant_client import QdrantClient, models

from emulator_http import JsonHandler

PORT, DATA = int(sys.argv[1]), sys.argv[2]
API_KEY = sys.argv[3] if len(sys.argv) > 3 else None
local = QdrantClient(path=DATA)
lock = Lock()  # local mode is not thread-safe


def ok(result):
    return 200, {"result": result, "status": "ok", "time": 0.0001}


def error(code, message):
    return code, {"status": {"error": message}, "time": 0.0}


def dump(model):
    return json.loads(model.model_dump_json(exclude_unset=False))


def collection_info(name):
    info = local.get_collection(name)
    out = dump(info)
    # Local mode reports no count; the real server does (approximately).
    out["points_count"] = local.count(name, exact=True).count
    return out


def create(name, body):
    req = models.CreateCollection(**body)
    local.create_collection(
        name,
        vectors_config=req.vectors,
        sparse_vectors_config=req.sparse_vectors,
        hnsw_config=req.hnsw_config,
    )
    return True


def upsert(name, body):
    req = models.PointsList(**body)
    local.upsert(name, points=req.points)
    return {"operation_id": 0, "status": "completed"}


def scroll(name, body):
    req = models.ScrollRequest(**body)
    if req.order_by is not None:
        raise ValueError("order_by is not supported by this emulator")
    points, next_offset = local.scroll(
        name,
        scroll_filter=req.filter,
        limit=req.limit or 10,
        offset=req.offset,
        with_payload=True if req.with_payload is None else req.with_payload,
        with_vectors=False if req.with_vector is None else req.with_vector,
    )
    return {"points": [dump(p) for p in points], "next_page_offset": next_offset}


def count(name, body):
    req = models.CountRequest(**(body or {}))
    return {"count": local.count(name, count_filter=req.filter, exact=True).count}


ROUTES = [
    ("GET", r"/collections", lambda m, b: {"collections": [dump(c) for c in local.get_collections().collections]}),
    ("GET", r"/collections/([^/]+)", lambda m, b: collection_info(m[1])),
    ("PUT", r"/collections/([^/]+)", lambda m, b: create(m[1], b)),
    ("DELETE", r"/collections/([^/]+)", lambda m, b: local.delete_collection(m[1])),
    ("PUT", r"/collections/([^/]+)/points", lambda m, b: upsert(m[1], b)),
    ("POST", r"/collections/([^/]+)/points/scroll", lambda m, b: scroll(m[1], b)),
    ("POST", r"/collections/([^/]+)/points/count", lambda m, b: count(m[1], b)),
]


class Handler(JsonHandler):
    def handle_one(self, method, raw):
        path = self.path.split("?", 1)[0]
        if path == "/healthz":
            code, body = 200, {"title": "qdrant emulator"}
        elif API_KEY and self.headers.get("api-key") != API_KEY and self.headers.get("Authorization") != f"Bearer {API_KEY}":
            code, body = error(401, "Invalid api-key")
        else:
            code, body = error(404, f"no route {method} {path}")
            for m, pattern, fn in ROUTES:
                match = re.fullmatch(pattern, path)
                if m == method and match:
                    try:
                        data = json.loads(raw) if raw else None
                        with lock:
                            code, body = ok(fn(match, data))
                    except ValueError as e:  # includes pydantic validation errors
                        msg = str(e)
                        code, body = error(404 if "not found" in msg.lower() else 400, msg)
                    break
        self.reply(code, body)


ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
