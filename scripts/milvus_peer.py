"""Test helper driving a real Milvus Lite server with the official client (pymilvus).

  milvus_peer.py PORT seed NAME N OUT.jsonl   VarChar keys (awkward ones too), float + sparse vectors,
                                              typed, nullable, array, JSON and dynamic fields; two
                                              partitions; writes what it inserted to OUT.jsonl
  milvus_peer.py PORT seed-int NAME N         Int64 keys (negative ones too), one float vector
  milvus_peer.py PORT empty NAME              an empty collection
  milvus_peer.py PORT add NAME ID             insert one more row into a seed-int collection
  milvus_peer.py PORT release NAME            release the collection (not loaded any more)
  milvus_peer.py PORT count NAME              print count(*)
"""
import json
import sys

from pymilvus import DataType, MilvusClient

port, cmd, name = int(sys.argv[1]), sys.argv[2], sys.argv[3]
client = MilvusClient(uri=f"http://127.0.0.1:{port}")

AWKWARD = ['quote"inside', "back\\slash", "tab\there", "new\nline", "x'y", " lead space", "é", "🚀 rocket", "{braces}", "a and b"]


def vec(i, dim=8):
    return [((i * 31 + j * 17) % 1000) / 1000.0 - 0.5 for j in range(dim)]


def index_params(sparse):
    ip = client.prepare_index_params()
    ip.add_index(field_name="v", index_type="HNSW", metric_type="COSINE", params={"M": 12, "efConstruction": 80})
    if sparse:
        ip.add_index(field_name="sp", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
    return ip


if cmd == "seed":
    n, out = int(sys.argv[4]), sys.argv[5]
    s = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=True)
    s.add_field("doc_id", DataType.VARCHAR, is_primary=True, max_length=512)
    s.add_field("v", DataType.FLOAT_VECTOR, dim=8)
    s.add_field("sp", DataType.SPARSE_FLOAT_VECTOR)
    s.add_field("n", DataType.INT64, nullable=True)
    s.add_field("f", DataType.FLOAT)
    s.add_field("d", DataType.DOUBLE)
    s.add_field("flag", DataType.BOOL)
    s.add_field("title", DataType.VARCHAR, max_length=256)
    s.add_field("tags", DataType.ARRAY, element_type=DataType.INT64, max_capacity=8)
    s.add_field("j", DataType.JSON, nullable=True)
    client.create_collection(name, schema=s, index_params=index_params(True))
    client.create_partition(name, "p2")
    rows = []
    for i in range(n):
        key = AWKWARD[i] if i < len(AWKWARD) else f"id-{i:06d}"
        r = {
            "doc_id": key,
            "v": vec(i),
            "sp": {i % 50: 0.5 + i % 3, 1000 + i: 2.0},
            "n": None if i % 3 == 0 else i * 1_000_000_007,
            "f": i / 7.0,
            "d": -i / 3.0,
            "flag": i % 2 == 0,
            "title": f"title {i} ü",
            "tags": [i, -i, 2**53 + 1],
            "j": None if i % 4 == 1 else {"k": [1, {"x": i}], "s": "v"},
        }
        if i % 5 == 0:
            r["extra"] = f"dyn {i}"
        rows.append(r)
    for start in range(0, n, 2000):
        batch = rows[start:start + 2000]
        p1 = [r for r in batch if r["flag"]]
        p2 = [r for r in batch if not r["flag"]]
        if p1:
            client.insert(name, p1)
        if p2:
            client.insert(name, p2, partition_name="p2")
    client.flush(name)
    with open(out, "w") as f:
        for r in rows:
            r = dict(r)
            r["sp"] = {str(k): v for k, v in r["sp"].items()}
            f.write(json.dumps(r) + "\n")
    print(client.query(name, filter="", output_fields=["count(*)"])[0]["count(*)"])
elif cmd == "seed-int":
    n = int(sys.argv[4])
    s = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    s.add_field("pk", DataType.INT64, is_primary=True)
    s.add_field("v", DataType.FLOAT_VECTOR, dim=8)
    s.add_field("label", DataType.VARCHAR, max_length=64)
    client.create_collection(name, schema=s, index_params=index_params(False))
    keys = [-(2**63), -1, 0, 2**63 - 1] + [i * 7919 - 40_000_000 for i in range(n - 4)]
    for start in range(0, n, 2000):
        client.insert(name, [{"pk": k, "v": vec(k % 1000), "label": f"l{k}"} for k in keys[start:start + 2000]])
    client.flush(name)
    print(client.query(name, filter="", output_fields=["count(*)"])[0]["count(*)"])
elif cmd == "empty":
    s = MilvusClient.create_schema(auto_id=False)
    s.add_field("pk", DataType.INT64, is_primary=True)
    s.add_field("v", DataType.FLOAT_VECTOR, dim=8)
    client.create_collection(name, schema=s, index_params=index_params(False))
elif cmd == "add":
    client.insert(name, [{"pk": int(sys.argv[4]), "v": vec(1), "label": "late"}])
    client.flush(name)
elif cmd == "release":
    client.release_collection(name)
elif cmd == "count":
    print(client.query(name, filter="", output_fields=["count(*)"])[0]["count(*)"])
else:
    sys.exit(f"unknown command {cmd}")
