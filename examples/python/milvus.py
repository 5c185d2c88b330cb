"""Migrate a Milvus collection into VelesDB by driving the velesdb-migrate CLI.

    python3 milvus.py --url http://localhost:19530 --collection docs --out ./snap --to ./velesdb-data
    python3 milvus.py --url … --collection docs --partition p1 --filter 'year > 2020' --out ./snap --to ./velesdb-data

Shape shared by every example (see README.md): prints one JSON object on
stdout, progress on stderr; exits 0, or with the exit code of the failed step.
Credentials (`user:password` or an API key), if the server needs them, stay in
MILVUS_TOKEN, which velesdb-migrate reads.
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
    ap.add_argument("--url", required=True, help="Milvus gRPC address, e.g. http://localhost:19530")
    ap.add_argument("--database", default="default")
    ap.add_argument("--collection", required=True)
    ap.add_argument("--partition", action="append", default=[], help="export only this partition (repeatable)")
    ap.add_argument("--filter", help="a Milvus boolean expression selecting the rows")
    ap.add_argument("--document-field", help="a VarChar field to carry as the document")
    ap.add_argument("--load", action="store_true", help="load the collection first when it is not loaded")
    ap.add_argument("--vector", help="the vector field to import (needed when there are several)")
    ap.add_argument("--out", required=True, help="snapshot directory")
    ap.add_argument("--to", required=True, help="VelesDB data directory or http://HOST:PORT")
    ap.add_argument("--collection-name", help="VelesDB collection (default: the snapshot collection's name)")
    a = ap.parse_args()
    source = ["--url", a.url, "--database", a.database, "--collection", a.collection]
    for part in a.partition:
        source += ["--partition", part]
    if a.filter:
        source += ["--filter", a.filter]
    if a.document_field:
        source += ["--document-field", a.document_field]
    if a.load:
        source.append("--load")
    pick = ["--vector", a.vector] if a.vector else []

    coll = ["--collection", a.collection_name] if a.collection_name else []
    exp = run("export", "export", "milvus", *source, "--out", a.out)
    print(f"export: {exp['rows']} rows in {exp['chunks']} chunks", file=sys.stderr)
    ver = run("verify", "verify", a.out)
    print(f"verify: {ver['chunks_checked']} chunks checked", file=sys.stderr)
    imp = each(run("import", "import", a.out, "--to", a.to, *coll, *pick))
    for i in imp:
        print(f"import: {i['points_upserted']} points into {i['collection']}", file=sys.stderr)
    val = each(run("validate", "validate", a.out, "--to", a.to, *coll, *pick, "--strict"))
    print(f"validate: {sum(v['rows_compared'] for v in val)} rows compared", file=sys.stderr)
    print(json.dumps({"ok": True, "source": "milvus", "snapshot": a.out, "destination": a.to, "rows": exp["rows"],
                      "chunks": exp["chunks"], "collections": [i["collection"] for i in imp],
                      "points_upserted": sum(i["points_upserted"] for i in imp),
                      "rows_validated": sum(v["rows_compared"] for v in val)}))


if __name__ == "__main__":
    main()
