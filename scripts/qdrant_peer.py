"""Test helper: drives the Qdrant emulator with the official qdrant-client over HTTP.

  qdrant_peer.py PORT named NAME N [API_KEY]    named dense vectors (Cosine, Euclid), a sparse vector, mixed u64/UUID ids
  qdrant_peer.py PORT plain NAME N [API_KEY]    one unnamed Dot vector, u64 ids up to 2^64-1
  qdrant_peer.py PORT manhattan NAME [API_KEY]  one unnamed Manhattan vector
  qdrant_peer.py PORT empty NAME [API_KEY]      an empty collection (one unnamed Cosine vector of 4)
  qdrant_peer.py PORT dump NAME [API_KEY]       every point as JSON, sorted by id text
"""
import json
import sys
import uuid

from qdrant_client import QdrantClient, models

port, cmd, name = int(sys.argv[1]), sys.argv[2], sys.argv[3]
rest = sys.argv[4:]
key = None
if cmd in ("named", "plain") and len(rest) > 1:
    key = rest[1]
elif cmd in ("manhattan", "dump", "empty") and rest:
    key = rest[0]
client = QdrantClient(url=f"http://127.0.0.1:{port}", api_key=key, https=False, prefer_grpc=False, check_compatibility=False)


def payload(i):
    return {"i": i, "big": 18446744073709551615 if i % 2 else -9007199254740993, "f": -0.0 if i % 3 else 0.1,
            "nested": {"a": [1, None, {"b": "ü 🚀"}]}, "text": f"doc {i}"}


if cmd == "named":
    n = int(rest[0])
    client.create_collection(
        name,
        vectors_config={"text": models.VectorParams(size=4, distance=models.Distance.COSINE),
                        "image": models.VectorParams(size=3, distance=models.Distance.EUCLID)},
        sparse_vectors_config={"bm25": models.SparseVectorParams()},
    )
    pts = []
    for i in range(n):
        pid = i + 1 if i % 3 else str(uuid.UUID(int=(i + 1) * 7919))
        vec = {"text": [0.1 * i + 0.01, 1.0, -2.0, 3.0], "image": [float(i), 0.5, -1.25]}
        if i % 4:
            vec["bm25"] = models.SparseVector(indices=[i, 1000 + i], values=[0.5, 1.5])
        pts.append(models.PointStruct(id=pid, vector=vec, payload=payload(i) if i % 5 else None))
    for s in range(0, n, 100):
        client.upsert(name, points=pts[s:s + 100])
    print(client.count(name, exact=True).count)
elif cmd == "plain":
    n = int(rest[0])
    client.create_collection(name, vectors_config=models.VectorParams(size=6, distance=models.Distance.DOT))
    ids = [i * 1_000_003 for i in range(n - 1)] + [18446744073709551615]
    pts = [models.PointStruct(id=pid, vector=[(pid % 97) / 7.0 - 3.0 + j for j in range(6)], payload=payload(k))
           for k, pid in enumerate(ids)]
    for s in range(0, n, 200):
        client.upsert(name, points=pts[s:s + 200])
    print(client.count(name, exact=True).count)
elif cmd == "manhattan":
    client.create_collection(name, vectors_config=models.VectorParams(size=2, distance=models.Distance.MANHATTAN))
    client.upsert(name, points=[models.PointStruct(id=1, vector=[1.0, 2.0])])
elif cmd == "empty":
    client.create_collection(name, vectors_config=models.VectorParams(size=4, distance=models.Distance.COSINE))
elif cmd == "dump":
    out, offset = [], None
    while True:
        pts, offset = client.scroll(name, limit=64, offset=offset, with_payload=True, with_vectors=True)
        for p in pts:
            vec = p.vector
            if isinstance(vec, dict):
                vec = {k: (v.model_dump() if hasattr(v, "model_dump") else v) for k, v in vec.items()}
            out.append({"id": p.id, "vector": vec, "payload": p.payload})
        if offset is None:
            break
    out.sort(key=lambda r: str(r["id"]))
    json.dump(out, sys.stdout, ensure_ascii=False)
