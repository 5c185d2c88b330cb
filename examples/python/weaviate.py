"""Migrate a Weaviate class (one tenant, or every tenant) into VelesDB by driving the velesdb-migrate CLI.

    python3 weaviate.py --url http://localhost:8080 --class Article --out ./snap --to ./velesdb-data
    python3 weaviate.py --url … --class Article --all-tenants --out ./snap --to ./velesdb-data

Each tenant is a collection of the snapshot and of VelesDB (`Article_<tenant>`;
--collection-name needs one).

Shape shared by every example (see README.md): prints one JSON object on
stdout, progress on stderr; exits 0, or with the exit code of the failed step.
The API key, if the server needs one, stays in WEAVIATE_API_KEY, which velesdb-migrate reads.
"""
import argparse
import json
import os
import subprocess
import sys

VM = os.environ.get("VELESDB_MIGRATE", "velesdb-migrate")


def run(step, *args):
    """Run one velesdb-migrate command with --json; return its report or exit with its code."""
    p = subprocess.run([VM, "--json", "--quiet", *args], stdout=subprocess.PIPE, text=True)
    report = json.loads(p.stdout) if p.stdout.strip() else {}
    if p.returncode != 0:
        findings = [f for r in report.get("collections", [report]) for f in r.get("findings", [])]
        print(json.dumps({"ok": False, "step": step, "exit": p.returncode, "error": report.get("error"),
                          "findings": findings}))
        sys.exit(p.returncode)
    return report


def each(report):
    """The per-collection reports of a command (one, or several under "collections")."""
    return report.get("collections", [report])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", required=True, help="Weaviate REST URL (without /v1), e.g. http://localhost:8080")
    ap.add_argument("--class", dest="cls", required=True, help="the class (collection)")
    tenants = ap.add_mutually_exclusive_group()
    tenants.add_argument("--tenant", help="the tenant to export, for a multi-tenant class")
    tenants.add_argument("--all-tenants", action="store_true", help="every tenant, each into its own collection")
    ap.add_argument("--vector", help="the vector to import when there are several (`default`: the class vector)")
    ap.add_argument("--out", required=True, help="snapshot directory")
    ap.add_argument("--to", required=True, help="VelesDB data directory or http://HOST:PORT")
    ap.add_argument("--collection-name", help="VelesDB collection (default: the snapshot collection's name)")
    a = ap.parse_args()
    source = ["--url", a.url, "--class", a.cls]
    if a.tenant:
        source += ["--tenant", a.tenant]
    if a.all_tenants:
        source.append("--all-tenants")
    pick = ["--vector", a.vector] if a.vector else []

    coll = ["--collection", a.collection_name] if a.collection_name else []
    exp = run("export", "export", "weaviate", *source, "--out", a.out)
    print(f"export: {exp['rows']} rows in {exp['chunks']} chunks", file=sys.stderr)
    ver = run("verify", "verify", a.out)
    print(f"verify: {ver['chunks_checked']} chunks checked", file=sys.stderr)
    imp = each(run("import", "import", a.out, "--to", a.to, *coll, *pick))
    for i in imp:
        print(f"import: {i['points_upserted']} points into {i['collection']}", file=sys.stderr)
    val = each(run("validate", "validate", a.out, "--to", a.to, *coll, *pick, "--strict"))
    print(f"validate: {sum(v['rows_compared'] for v in val)} rows compared", file=sys.stderr)
    print(json.dumps({"ok": True, "source": "weaviate", "snapshot": a.out, "destination": a.to, "rows": exp["rows"],
                      "chunks": exp["chunks"], "collections": [i["collection"] for i in imp],
                      "points_upserted": sum(i["points_upserted"] for i in imp),
                      "rows_validated": sum(v["rows_compared"] for v in val)}))


if __name__ == "__main__":
    main()
