"""Migrate a Pinecone index (every namespace, or some) into VelesDB by driving the velesdb-migrate CLI.

    PINECONE_API_KEY=… python3 pinecone.py --index docs --out ./snap --to ./velesdb-data
    PINECONE_API_KEY=… python3 pinecone.py --index docs --namespace team-a --out ./snap --to ./velesdb-data

Each namespace is a collection of the snapshot and of VelesDB (`docs` for the
default namespace, `docs_<namespace>` otherwise; --collection-name needs one).

Shape shared by every example (see README.md): prints one JSON object on
stdout, progress on stderr; exits 0, or with the exit code of the failed step.
The API key stays in PINECONE_API_KEY (the control plane, when not Pinecone's,
in PINECONE_CONTROLLER_HOST), which velesdb-migrate reads.
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
    ap.add_argument("--index", required=True)
    ap.add_argument("--namespace", action="append", default=[], help="only this namespace (repeatable; __default__ is the default one)")
    ap.add_argument("--prefix", help="only the ids starting with this prefix")
    ap.add_argument("--ids-file", help="the ids to export, one per line (pod-based indexes cannot list them)")
    ap.add_argument("--out", required=True, help="snapshot directory")
    ap.add_argument("--to", required=True, help="VelesDB data directory or http://HOST:PORT")
    ap.add_argument("--collection-name", help="VelesDB collection (default: the snapshot collection's name)")
    a = ap.parse_args()
    if not os.environ.get("PINECONE_API_KEY"):
        sys.exit("set PINECONE_API_KEY to the API key of the index's project")
    source = ["--index", a.index]
    for ns in a.namespace:
        source += ["--namespace", ns]
    if a.prefix:
        source += ["--prefix", a.prefix]
    if a.ids_file:
        source += ["--ids-file", a.ids_file]
    pick = []

    coll = ["--collection", a.collection_name] if a.collection_name else []
    exp = run("export", "export", "pinecone", *source, "--out", a.out)
    print(f"export: {exp['rows']} rows in {exp['chunks']} chunks", file=sys.stderr)
    ver = run("verify", "verify", a.out)
    print(f"verify: {ver['chunks_checked']} chunks checked", file=sys.stderr)
    imp = each(run("import", "import", a.out, "--to", a.to, *coll, *pick))
    for i in imp:
        print(f"import: {i['points_upserted']} points into {i['collection']}", file=sys.stderr)
    val = each(run("validate", "validate", a.out, "--to", a.to, *coll, *pick, "--strict"))
    print(f"validate: {sum(v['rows_compared'] for v in val)} rows compared", file=sys.stderr)
    print(json.dumps({"ok": True, "source": "pinecone", "snapshot": a.out, "destination": a.to, "rows": exp["rows"],
                      "chunks": exp["chunks"], "collections": [i["collection"] for i in imp],
                      "points_upserted": sum(i["points_upserted"] for i in imp),
                      "rows_validated": sum(v["rows_compared"] for v in val)}))


if __name__ == "__main__":
    main()
