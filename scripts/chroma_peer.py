"""Test helper driving a real Chroma server with the official client.

  chroma_peer.py PORT seed NAME N      create NAME (cosine, max_neighbors 12, ef_construction 80) with N awkward records
  chroma_peer.py PORT add NAME ID      add one record
  chroma_peer.py PORT empty NAME       create an empty collection
  chroma_peer.py PORT dump NAME        print every record as JSON (ids sorted)
"""
import json
import sys

import chromadb

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
