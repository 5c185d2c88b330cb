"""Test helper driving a real Chroma server with the official client.

  chroma_peer.py PORT seed NAME N      create NAME (cosine, max_neighbors 12, ef_construction 80) with N awkward records
  chroma_peer.py PORT add NAME ID      add one record
  chroma_peer.py PORT empty NAME       create an empty collection
  chroma_peer.py PORT dump NAME        print every record as JSON (ids sorted)
  chroma_peer.py PORT churn NAME N SPACE DIM
                                       create NAME (SPACE, or Chroma's defaults for "default") with N + 1000 records
                                       of DIM dimensions, updated, upserted, deleted and re-added between them, so
                                       that the directory holds vectors in the HNSW files and in the write-ahead log
"""
import json
import sys

import chromadb
import httpx

port, cmd, name = int(sys.argv[1]), sys.argv[2], sys.argv[3]
client = chromadb.HttpClient(host="127.0.0.1", port=port)
config = {"hnsw": {"space": "cosine", "max_neighbors": 12, "ef_construction": 80}}

if cmd == "seed":
    n = int(sys.argv[4])
    col = client.create_collection(name, embedding_function=None, configuration=config)
    ids = [f"id-{i:05d}" if i % 7 else f"weird \"{i}\" /ü 🚀" for i in range(n)]
    embs = [[((i * 31 + j * 17) % 1000) / 1000.0 - 0.5 for j in range(8)] for i in range(n)]
    metas = [
        {"i": i, "big": 9007199254740993, "f": 0.1, "neg": -1.5e-300, "tag": f"t{i % 3}", "flag": i % 2 == 0, "list": [1, 2, 3]}
        if i % 5 else None
        for i in range(n)
    ]
    docs = [f"document {i}" if i % 4 else None for i in range(n)]
    uris = [f"s3://bucket/{i}" if i % 9 == 0 else None for i in range(n)]
    for s in range(0, n, 500):
        col.add(ids=ids[s:s + 500], embeddings=embs[s:s + 500], metadatas=metas[s:s + 500],
                documents=docs[s:s + 500], uris=uris[s:s + 500])
    print(col.count())
elif cmd == "add":
    col = client.get_collection(name, embedding_function=None)
    col.add(ids=[sys.argv[4]], embeddings=[[0.0] * 8])
elif cmd == "empty":
    client.create_collection(name, embedding_function=None, configuration=config)
elif cmd == "churn":
    # Chroma writes the HNSW files every 1000 log records (sync_threshold);
    # the later ones stay in the log (embeddings_queue) until then.
    n, space, dim = int(sys.argv[4]), sys.argv[5], int(sys.argv[6])
    conf = None if space == "default" else {"hnsw": {"space": space, "max_neighbors": 12, "ef_construction": 80}}
    col = client.create_collection(name, embedding_function=None, configuration=conf)
    emb = lambda i, salt=0: [((i * 31 + j * 17 + salt * 7) % 1000) / 997.0 - 0.5 + j * 1e-7 for j in range(dim)]
    odd_floats = [1.8440048669033886, 1e308, -0.0, 1.0, 5e-324, 0.1 + 0.2]
    rid = lambda i: f"r{i:05d}"

    def meta(i, salt=0):
        m = {"i": i, "salt": salt, "tag": f"t{i % 3}", "flag": i % 2 == 0, "f": odd_floats[i % len(odd_floats)]}
        if i % 4 == 0:
            m.update({"ints": [i, -i, 2**62], "strs": ["a", f"s{i}", "ü"], "floats": [0.5, -1.25, 1e-300], "bools": [True, False]})
        return m

    def add(lo, hi):
        for s in range(lo, hi, 500):
            ids = list(range(s, min(hi, s + 500)))
            col.add(ids=[rid(i) for i in ids], embeddings=[emb(i) for i in ids], metadatas=[meta(i) for i in ids],
                    documents=[f"doc {i}" if i % 3 else None for i in ids], uris=[f"file:///{i}" if i % 11 == 0 else None for i in ids])

    def churn(b, salt):
        # New vectors and metadata for existing records.
        ids = list(range(b, b + 60, 5))
        col.update(ids=[rid(i) for i in ids], embeddings=[emb(i, salt) for i in ids], metadatas=[{"tag": "updated", "salt": salt} for i in ids])
        # Metadata only, then documents only (the vectors stay where they are). Documents go
        # through the HTTP API: the client would want an embedding function to embed them.
        ids = list(range(b + 400, b + 420))
        col.update(ids=[rid(i) for i in ids], metadatas=[{"extra": f"x{salt}", "ints": [7, salt]} for i in ids])
        ids = list(range(b + 300, b + 310))
        httpx.post(f"http://127.0.0.1:{port}/api/v2/tenants/default_tenant/databases/default_database/collections/{col.id}/update",
                   json={"ids": [rid(i) for i in ids], "documents": [f"new doc {i} {salt}" for i in ids]}).raise_for_status()
        # Upserts of existing and of new ids.
        ids = list(range(b + 100, b + 120))
        col.upsert(ids=[rid(i) for i in ids], embeddings=[emb(i, salt) for i in ids], metadatas=[{"salt": salt} for i in ids])
        col.upsert(ids=[f"new-{salt}-{i}" for i in range(20)], embeddings=[emb(i, salt) for i in range(20)], metadatas=[meta(i, salt) for i in range(20)])
        # Deletes, then a deleted id added again.
        col.delete(ids=[rid(i) for i in range(b + 200, b + 260)] + [f"new-{salt}-{i}" for i in range(5)])
        col.add(ids=[rid(b + 200), f"new-{salt}-0"], embeddings=[emb(b + 200, salt + 1), emb(0, salt + 1)], metadatas=[{"again": salt}, None])
        # Writes that Chroma ignores: an update of a missing id, an add of an existing id.
        col.update(ids=["never-added"], embeddings=[emb(0, salt)])
        col.add(ids=[rid(b + 1)], embeddings=[emb(1, salt + 9)], metadatas=[{"ignored": True}])

    add(0, n)
    churn(0, 1)  # applied to the HNSW files by the next flush
    add(n, n + 1000)
    churn(1000, 2)  # left in the log
    print(col.count())
elif cmd == "dump":
    col = client.get_collection(name, embedding_function=None)
    got = col.get(include=["embeddings", "metadatas", "documents", "uris"])
    rows = []
    for i, rid in enumerate(got["ids"]):
        rows.append({
            "id": rid,
            "embedding": [float(x) for x in got["embeddings"][i]],
            "metadata": got["metadatas"][i],
            "document": got["documents"][i],
            "uri": got["uris"][i],
        })
    rows.sort(key=lambda r: r["id"])
    json.dump(rows, sys.stdout, ensure_ascii=False)
