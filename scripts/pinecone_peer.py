"""Test helper: drives the Pinecone emulator with the official `pinecone` SDK over HTTP.

  pinecone_peer.py CONTROL_PORT API_KEY seed INDEX NS=N [NS=N ...]
      upsert N generated vectors into each namespace (`__default__` for the
      default one); prints what was upserted as JSON {namespace: [records]}
  pinecone_peer.py CONTROL_PORT API_KEY dump INDEX
      read everything back with describe_index / describe_index_stats, list
      (pages of 37) and fetch; prints {"index": ..., "stats": ..., "namespaces": {ns: [records]}}
  pinecone_peer.py CONTROL_PORT API_KEY rejects INDEX
      the SDK refuses ids the API does not accept (non-ASCII, over 512
      characters) before sending; prints the messages

Ids include the awkward ones Pinecone accepts (ASCII 1-512 characters):
spaces, / ? & % + # =, and one of exactly 512 characters. Values are
doubles the index stores as float32; dotproduct indexes get sparse values on
two records out of three; metadata uses every Pinecone type.
"""
import json
import random
import sys

from pinecone import Pinecone

control, key, cmd, index = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
pc = Pinecone(api_key=key, host=f"http://127.0.0.1:{control}")
AWKWARD = ["a b", "x/y", "q?x=1", "a&b=c", "100%", "plus+sign", "hash#tag", "~tilde", "semi;colon", "quote\"s",
           "L" * 500 + " /?&%+#=abcd"]
assert len(AWKWARD[-1]) == 512


def ns_name(ns):
    return "" if ns == "__default__" else ns


def records(ns, n, dim, metric, sparse_only):
    rng = random.Random(f"{index}/{ns}")
    ids = [f"doc-{i:05d}" for i in range(n - len(AWKWARD))] + AWKWARD if n > len(AWKWARD) else [f"doc-{i:05d}" for i in range(n)]
    out = []
    for i, vid in enumerate(ids):
        rec = {"id": vid}
        if not sparse_only:
            rec["values"] = [rng.uniform(-1, 1) for _ in range(dim)]
        if sparse_only or (metric == "dotproduct" and i % 3):
            idx = sorted(rng.sample(range(0, 5000), 3)) + ([4294967295] if i % 5 == 0 else [])
            rec["sparse_values"] = {"indices": idx, "values": [rng.uniform(0, 2) for _ in idx]}
        if i % 4:
            rec["metadata"] = {"genre": rng.choice(["drama", "comedy", "doc"]), "year": 2000 + i % 25, "score": i / 7,
                               "flag": i % 2 == 0, "tags": ["t1", f"t{i % 3}"], "text": f"ünïcødé ✓ {ns} {i}"}
        out.append(rec)
    return out


if cmd == "seed":
    desc = pc.describe_index(index)
    idx = pc.index(name=index)  # resolves the host through describe_index (2026-07 IndexModel)
    sparse_only = desc.vector_type == "sparse"
    plan = [a.split("=", 1) for a in sys.argv[5:]]
    seeded = {}
    for ns, n in plan:
        recs = records(ns, int(n), 0 if sparse_only else desc.dimension, desc.metric, sparse_only)
        for s in range(0, len(recs), 100):
            r = idx.upsert(vectors=recs[s:s + 100], namespace=ns_name(ns), show_progress=False)
            assert r.upserted_count == len(recs[s:s + 100]), r
        seeded[ns] = recs
    json.dump(seeded, sys.stdout, ensure_ascii=False)
elif cmd == "dump":
    desc = pc.describe_index(index)
    idx = pc.index(host=desc.host)
    stats = idx.describe_index_stats()
    out = {"index": {"name": desc.name, "dimension": desc.dimension if desc.vector_type == "dense" else None,
                     "metric": desc.metric, "vector_type": desc.vector_type, "host": desc.host,
                     "deployment": type(desc.deployment).__name__},
           "stats": {ns: s.vector_count for ns, s in stats.namespaces.items()}, "namespaces": {}}
    for ns in stats.namespaces:
        ids = [v.id for page in idx.list(namespace=ns_name(ns), limit=37) for v in page.vectors]
        assert ids == sorted(ids, key=lambda s: s.encode()), "list is in byte order"
        recs = []
        for s in range(0, len(ids), 50):
            got = idx.fetch(ids=ids[s:s + 50], namespace=ns_name(ns))
            assert set(got.vectors) == set(ids[s:s + 50])
            for vid in ids[s:s + 50]:
                v = got.vectors[vid]
                rec = {"id": v.id}
                if v.values:
                    rec["values"] = list(v.values)
                if v.sparse_values is not None:
                    rec["sparse_values"] = {"indices": list(v.sparse_values.indices), "values": list(v.sparse_values.values)}
                if v.metadata:
                    rec["metadata"] = v.metadata
                recs.append(rec)
        out["namespaces"][ns] = recs
    json.dump(out, sys.stdout, ensure_ascii=False)
elif cmd == "rejects":
    idx = pc.index(name=index)
    msgs = []
    for bad in ["é-unicode", "x" * 513]:
        try:
            idx.fetch(ids=[bad])
            msgs.append(f"accepted {bad!r}")
        except Exception as e:  # the SDK's PineconeValueError
            msgs.append(f"{type(e).__name__}: {e}")
    print(json.dumps(msgs))
else:
    sys.exit(f"unknown command {cmd}")
