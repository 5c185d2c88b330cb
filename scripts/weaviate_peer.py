"""Test helper: drives the Weaviate emulator with the official weaviate-client.

weaviate-client v4 speaks REST for schema, tenants, single-object writes,
existence checks and (for servers older than 1.29, like the emulator)
aggregations over GraphQL; queries and batch imports go over gRPC, which the
emulator does not offer. So collections, tenants and a few objects are written
with the client, bulk objects with the REST batch endpoint (POST
/v1/batch/objects, the spec's BatchObjects body), and every REST answer the
client parses is checked against what was written.

  weaviate_peer.py PORT KEY proof OUT.json        the official-client proof (asserts; writes what it checked)
  weaviate_peer.py PORT KEY seed CLASS N OUT.json  class vector + named vectors + awkward properties; OUT = expected rows
  weaviate_peer.py PORT KEY tenants CLASS OUT.json multi-tenant class: alpha, beta ACTIVE; gamma INACTIVE; delta OFFLOADED
  weaviate_peer.py PORT KEY plain CLASS N          one class vector (dot), N objects
  weaviate_peer.py PORT KEY distance CLASS D       one named vector with distance D, one object
  weaviate_peer.py PORT KEY empty CLASS            a class without objects
  weaviate_peer.py PORT KEY tenant-status CLASS    prints {tenant: status} read with the client (REST get_by_name)
  weaviate_peer.py PORT KEY offset CLASS OFFSET    prints the HTTP status of an offset-paged list request

KEY "-" means no API key.
"""
import json
import struct
import sys
import urllib.error
import urllib.request
import uuid
import warnings

import weaviate
from weaviate.classes.config import Configure, DataType, Property, VectorDistances
from weaviate.classes.init import Auth
from weaviate.classes.tenants import Tenant, TenantCreateActivityStatus, TenantUpdateActivityStatus

warnings.filterwarnings("ignore")
port, key, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[3]
rest = sys.argv[4:]
key = None if key == "-" else key
BASE = f"http://127.0.0.1:{port}/v1"


def connect(api_key=key):
    # gRPC is never reached: port 1 is closed and the init checks (a gRPC ping) are skipped.
    return weaviate.connect_to_custom(
        http_host="127.0.0.1", http_port=port, http_secure=False,
        grpc_host="127.0.0.1", grpc_port=1, grpc_secure=False,
        skip_init_checks=True, auth_credentials=Auth.api_key(api_key) if api_key else None,
    )


def rest_call(method, path, body=None):
    req = urllib.request.Request(BASE + path, method=method, data=None if body is None else json.dumps(body).encode())
    req.add_header("Content-Type", "application/json")
    if key:
        req.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(req) as r:
            raw = r.read()
            return r.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        raw = e.read()
        return e.code, (json.loads(raw) if raw else None)


def batch(objects):
    for s in range(0, len(objects), 500):
        status, res = rest_call("POST", "/batch/objects", {"objects": objects[s:s + 500]})
        assert status == 200, (status, res)
        failed = [r for r in res if r["result"].get("errors")]
        assert not failed, failed[:3]


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def vec(seed, dim):
    return [((seed * 7919 + j * 104729) % 2001) / 1000.0 - 1.0 for j in range(dim)]


AWKWARD = [
    Property(name="title", data_type=DataType.TEXT),
    Property(name="score", data_type=DataType.NUMBER),
    Property(name="count", data_type=DataType.INT),
    Property(name="flag", data_type=DataType.BOOL),
    Property(name="tags", data_type=DataType.TEXT_ARRAY),
    Property(name="scores", data_type=DataType.NUMBER_ARRAY),
    Property(name="when", data_type=DataType.DATE),
    Property(name="ref", data_type=DataType.UUID),
    Property(name="location", data_type=DataType.GEO_COORDINATES),
    Property(name="phone", data_type=DataType.PHONE_NUMBER),
    Property(name="maybe", data_type=DataType.TEXT),
    Property(name="meta", data_type=DataType.OBJECT, nested_properties=[
        Property(name="w", data_type=DataType.NUMBER),
        Property(name="label", data_type=DataType.TEXT),
        Property(name="inner", data_type=DataType.OBJECT, nested_properties=[Property(name="x", data_type=DataType.INT)]),
    ]),
]


def awkward_props(i):
    return {
        "title": f"doc {i} \"quoted\" ü 🚀 \\ back",
        "score": float(i % 5) if i % 2 else i / 7.0 - 3.0,  # integral floats too: Go prints them as 2
        "count": -i if i % 3 else i * 1_000_000_007,
        "flag": i % 2 == 0,
        "tags": [f"t{i % 4}", "shared"],
        "scores": [1.0, i * 0.5, -2.25],
        "when": f"20{10 + i % 15}-0{1 + i % 9}-1{i % 10}T0{i % 10}:30:00Z",
        "ref": str(uuid.UUID(int=i * 31337 + 1)),
        "location": {"latitude": 52.0 + i / 1000.0, "longitude": -4.5},
        "phone": {"input": f"+31 20 {100000 + i}", "defaultCountry": "NL"},
        "maybe": None if i % 4 == 0 else f"m{i}",
        "meta": {"w": float(i % 3), "label": f"l{i}", "inner": {"x": i}},
    }


def expected(oid, props, vectors):
    return {
        "id": oid,
        "metadata": {k: v for k, v in props.items() if v is not None},
        "vectors": {k: [f32(x) for x in v] for k, v in vectors.items()},
    }


def seed(cls, n, out):
    """A class vector (dot) plus named vectors text (cosine) and image (l2-squared, flat)."""
    client = connect()
    try:
        col = client.collections.create(
            cls, properties=AWKWARD,
            vectorizer_config=Configure.Vectorizer.none(),
            vector_index_config=Configure.VectorIndex.hnsw(distance_metric=VectorDistances.DOT, max_connections=20, ef_construction=150),
        )
        col.config.add_vector(vector_config=[
            Configure.Vectors.self_provided(name="text", vector_index_config=Configure.VectorIndex.hnsw(
                distance_metric=VectorDistances.COSINE, max_connections=24, ef_construction=200)),
            Configure.Vectors.self_provided(name="image", vector_index_config=Configure.VectorIndex.flat(
                distance_metric=VectorDistances.L2_SQUARED)),
        ])
        rows, bulk = [], []
        for i in range(n):
            oid = str(uuid.UUID(int=(i * 0x9E3779B97F4A7C15F39CC0605CEDC835 + 12345) % (1 << 128)))
            props = awkward_props(i)
            vectors = {}
            if i % 5:
                vectors["default"] = vec(i, 8)
            if i % 7:
                vectors["text"] = vec(i + 1, 16)
            if i % 3:
                vectors["image"] = vec(i + 2, 8)
            rows.append(expected(oid, props, vectors))
            named = {k: v for k, v in vectors.items() if k != "default"}
            if i < 20 and not (named and "default" in vectors):
                # The official client's single-object insert (POST /v1/objects).
                got = col.data.insert(properties=props, uuid=oid, vector=vectors.get("default") if "default" in vectors else (named or None))
                assert str(got) == oid
            else:
                o = {"class": cls, "id": oid, "properties": props}
                if "default" in vectors:
                    o["vector"] = vectors["default"]
                if named:
                    o["vectors"] = named
                bulk.append(o)
        batch(bulk)
        assert col.aggregate.over_all(total_count=True).total_count == n
    finally:
        client.close()
    rows.sort(key=lambda r: r["id"])
    with open(out, "w") as f:
        json.dump(rows, f, ensure_ascii=False)


def tenants(cls, out):
    client = connect()
    rows = []
    try:
        col = client.collections.create(
            cls, multi_tenancy_config=Configure.multi_tenancy(enabled=True),
            properties=[Property(name="n", data_type=DataType.INT), Property(name="who", data_type=DataType.TEXT)],
            vector_config=Configure.Vectors.self_provided(name="emb", vector_index_config=Configure.VectorIndex.hnsw(
                distance_metric=VectorDistances.COSINE, max_connections=16, ef_construction=64)),
        )
        sizes = {"alpha": 120, "beta": 80, "gamma": 50, "delta": 30}
        col.tenants.create([Tenant(name=t) for t in sizes])
        for t, n in sizes.items():
            objs = []
            for i in range(n):
                oid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{t}/{i}"))
                props = {"n": i, "who": t}
                v = vec(i + len(t), 12)
                rows.append({**expected(oid, props, {"emb": v}), "tenant": t})
                objs.append({"class": cls, "tenant": t, "id": oid, "properties": props, "vectors": {"emb": v}})
            col.with_tenant(t).data.insert(properties=objs[0]["properties"], uuid=objs[0]["id"], vector=objs[0]["vectors"])
            batch(objs[1:])
            assert col.with_tenant(t).aggregate.over_all(total_count=True).total_count == n
        col.tenants.update([Tenant(name="gamma", activity_status=TenantUpdateActivityStatus.INACTIVE),
                            Tenant(name="delta", activity_status=TenantUpdateActivityStatus.OFFLOADED)])
    finally:
        client.close()
    rows.sort(key=lambda r: (r["tenant"], r["id"]))
    with open(out, "w") as f:
        json.dump(rows, f, ensure_ascii=False)


def plain(cls, n):
    client = connect()
    try:
        client.collections.create(cls, properties=[Property(name="i", data_type=DataType.INT)],
                                  vectorizer_config=Configure.Vectorizer.none(),
                                  vector_index_config=Configure.VectorIndex.hnsw(distance_metric=VectorDistances.DOT))
        batch([{"class": cls, "id": str(uuid.UUID(int=i * 7 + 3)), "properties": {"i": i}, "vector": vec(i, 6)} for i in range(n)])
    finally:
        client.close()


def distance(cls, d):
    client = connect()
    try:
        col = client.collections.create(cls, vector_config=Configure.Vectors.self_provided(
            name="v", vector_index_config=Configure.VectorIndex.hnsw(distance_metric=VectorDistances(d))))
        col.data.insert(properties={}, vector={"v": [1.0, 0.0, 1.0]})
    finally:
        client.close()


def empty(cls):
    client = connect()
    try:
        client.collections.create(cls, vector_config=Configure.Vectors.self_provided(name="v"))
    finally:
        client.close()


def tenant_status(cls):
    client = connect()
    try:
        col = client.collections.get(cls)
        out = {}
        for t in ("alpha", "beta", "gamma", "delta"):
            got = col.tenants.get_by_name(t)  # REST GET /v1/schema/{class}/tenants/{tenant} for servers >= 1.28
            out[t] = got.activity_status.value
        print(json.dumps(out))
    finally:
        client.close()


# Key sets recorded from the OpenAPI spec (openapi-specs/schema.json): the
# Object definition (plus `vectors`, the named-vector map of Weaviate >= 1.24)
# and ObjectsListResponse.
SPEC_OBJECT_KEYS = {"class", "vectorWeights", "properties", "id", "creationTimeUnix", "lastUpdateTimeUnix", "vector", "vectors", "tenant", "additional"}
SPEC_LIST_KEYS = {"objects", "deprecations", "totalResults"}


def check_object_shape(o):
    assert set(o) <= SPEC_OBJECT_KEYS, set(o) - SPEC_OBJECT_KEYS
    uuid.UUID(o["id"])
    assert isinstance(o["class"], str) and isinstance(o["properties"], dict)
    assert isinstance(o["creationTimeUnix"], int) and isinstance(o["lastUpdateTimeUnix"], int)
    if "vector" in o:
        assert all(isinstance(x, (int, float)) for x in o["vector"])
    for v in (o.get("vectors") or {}).values():
        assert all(isinstance(x, (int, float)) for x in v)


def proof(out):
    report = {"checked": []}

    def ok(what):
        report["checked"].append(what)

    client = connect()
    try:
        assert client.is_ready()
        ok("is_ready: GET /v1/.well-known/ready")
        assert client.get_meta()["version"].startswith("1.")
        ok("get_meta: GET /v1/meta")
        col = client.collections.create(
            "Article", properties=AWKWARD,
            vector_config=[
                Configure.Vectors.self_provided(name="text", vector_index_config=Configure.VectorIndex.hnsw(
                    distance_metric=VectorDistances.COSINE, max_connections=24, ef_construction=200)),
                Configure.Vectors.self_provided(name="image", vector_index_config=Configure.VectorIndex.hnsw(
                    distance_metric=VectorDistances.L2_SQUARED)),
                Configure.Vectors.self_provided(name="code", vector_index_config=Configure.VectorIndex.flat(
                    distance_metric=VectorDistances.DOT)),
            ],
        )
        ok("collections.create: POST /v1/schema")
        cfg = col.config.get()
        ok("config.get: GET /v1/schema/Article")
        assert cfg.name == "Article"
        text, image, code = (cfg.vector_config[n].vector_index_config for n in ("text", "image", "code"))
        assert (text.distance_metric, text.max_connections, text.ef_construction) == (VectorDistances.COSINE, 24, 200)
        assert image.distance_metric == VectorDistances.L2_SQUARED and code.distance_metric == VectorDistances.DOT
        assert [(p.name, p.data_type) for p in cfg.properties] == [(p.name, p.dataType) for p in AWKWARD]
        meta_prop = next(p for p in cfg.properties if p.name == "meta")
        assert [n.name for n in meta_prop.nested_properties] == ["w", "label", "inner"]
        all_cfg = client.collections.list_all(simple=False)
        assert list(all_cfg) == ["Article"] and all_cfg["Article"].vector_config["text"].vector_index_config.max_connections == 24
        ok("collections.list_all: GET /v1/schema")
        assert client.collections.exists("Article") and not client.collections.exists("Nope")
        ok("collections.exists: GET /v1/schema/{class} (200 / 404)")

        ids = []
        for i in range(5):
            oid = uuid.UUID(int=1000 + i)
            got = col.data.insert(properties={k: v for k, v in awkward_props(i).items() if v is not None}, uuid=oid,
                                  vector={"text": vec(i, 4), "image": vec(i, 3), "code": vec(i, 2)})
            assert got == oid
            ids.append(oid)
        ok("data.insert: POST /v1/objects")
        assert col.data.exists(ids[0]) and not col.data.exists(uuid.UUID(int=1))
        ok("data.exists: HEAD /v1/objects/{class}/{id} (204 / 404)")
        assert col.aggregate.over_all(total_count=True).total_count == 5
        ok("aggregate.over_all(total_count): POST /v1/graphql Aggregate meta count")
        raw = client.graphql_raw_query("{Aggregate{Article{meta{count}}}}")
        assert raw.aggregate == {"Article": [{"meta": {"count": 5}}]} and raw.errors is None
        ok("graphql_raw_query: POST /v1/graphql")
        assert col.data.delete_by_id(ids[4]) and col.aggregate.over_all(total_count=True).total_count == 4
        ok("data.delete_by_id: DELETE /v1/objects/{class}/{id}")

        # What the exporter reads, checked against the spec's shapes and against what was written.
        status, page = rest_call("GET", "/objects?class=Article&after=&limit=10&include=vector")
        assert status == 200 and set(page) <= SPEC_LIST_KEYS, (status, page)
        assert [o["id"] for o in page["objects"]] == sorted(str(i) for i in ids[:4])
        for o in page["objects"]:
            check_object_shape(o)
            i = int(uuid.UUID(o["id"])) - 1000
            assert o["vectors"] == {k: [f32(x) for x in vec(i, d)] for k, d in (("text", 4), ("image", 3), ("code", 2))}
            assert o["properties"]["title"] == awkward_props(i)["title"]
        ok("REST cursor page: keys within the spec's ObjectsListResponse / Object, ascending UUIDs, vectors as float32")
        status, one = rest_call("GET", f"/objects/Article/{ids[0]}?include=vector")
        assert status == 200 and one["id"] == str(ids[0])
        check_object_shape(one)
        status, err = rest_call("GET", "/objects?after=&limit=1")
        assert status == 422 and isinstance(err["error"][0]["message"], str)
        ok("after without class: 422 with the spec's ErrorResponse")

        mt = client.collections.create("Tenanted", multi_tenancy_config=Configure.multi_tenancy(enabled=True),
                                       properties=[Property(name="n", data_type=DataType.INT)],
                                       vector_config=Configure.Vectors.self_provided(name="v"))
        mt.tenants.create([Tenant(name="a"), Tenant(name="b", activity_status=TenantCreateActivityStatus.INACTIVE)])
        ok("tenants.create: POST /v1/schema/{class}/tenants")
        assert mt.tenants.exists("a") and not mt.tenants.exists("zzz")
        ok("tenants.exists: HEAD /v1/schema/{class}/tenants/{tenant}")
        assert mt.tenants.get_by_name("b").activity_status.value == "INACTIVE"
        ok("tenants.get_by_name: GET /v1/schema/{class}/tenants/{tenant}")
        mt.tenants.update([Tenant(name="b", activity_status=TenantUpdateActivityStatus.ACTIVE)])
        assert mt.tenants.get_by_name("b").activity_status.value == "ACTIVE"
        ok("tenants.update: PUT /v1/schema/{class}/tenants")
        mt.with_tenant("a").data.insert(properties={"n": 1}, vector={"v": [0.5, 0.25]})
        assert mt.with_tenant("a").aggregate.over_all(total_count=True).total_count == 1
        assert mt.with_tenant("b").aggregate.over_all(total_count=True).total_count == 0
        ok("tenant-scoped insert and Aggregate(tenant: ...)")
        status, listed = rest_call("GET", "/schema/Tenanted/tenants")
        assert status == 200 and sorted(t["name"] for t in listed) == ["a", "b"]
        mt.tenants.remove(["b"])
        assert not mt.tenants.exists("b")
        ok("tenants.remove: DELETE /v1/schema/{class}/tenants")
        client.collections.delete("Tenanted")
        assert not client.collections.exists("Tenanted")
        ok("collections.delete: DELETE /v1/schema/{class}")
    finally:
        client.close()

    # A wrong key: the client's first call (GET /v1/meta) gets 401.
    try:
        bad = connect("wrong-key")
        bad.close()
        report["wrong_key"] = "accepted"
    except Exception as e:  # the client raises on the 401
        report["wrong_key"] = f"{type(e).__name__}: {'401' in str(e)}"
    with open(out, "w") as f:
        json.dump(report, f, indent=1)


if cmd == "proof":
    proof(rest[0])
elif cmd == "seed":
    seed(rest[0], int(rest[1]), rest[2])
elif cmd == "tenants":
    tenants(rest[0], rest[1])
elif cmd == "plain":
    plain(rest[0], int(rest[1]))
elif cmd == "distance":
    distance(rest[0], rest[1])
elif cmd == "empty":
    empty(rest[0])
elif cmd == "tenant-status":
    tenant_status(rest[0])
elif cmd == "offset":
    print(rest_call("GET", f"/objects?class={rest[0]}&offset={rest[1]}&limit=10")[0])
else:
    sys.exit(f"unknown command {cmd}")
