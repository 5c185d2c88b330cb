"""The steps every example runs, in the shape README.md describes.

`add_destination(ap)` adds --out, --to and --collection-name; `migrate(source,
export_args, a)` runs export, verify, import and validate --strict with
--json, prints progress on stderr and one JSON object on stdout, and exits
with the failed step's code. Standard library only.
"""
import json
import os
import subprocess
import sys

VM = os.environ.get("VELESDB_MIGRATE", "velesdb-migrate")


def add_destination(ap, collection_default="the snapshot collection's name"):
    """The arguments every example shares (after the source's own)."""
    ap.add_argument("--out", required=True, help="snapshot directory")
    ap.add_argument("--to", required=True, help="VelesDB data directory or http://HOST:PORT")
    ap.add_argument("--collection-name", help=f"VelesDB collection (default: {collection_default})")


def run(step, *args):
    """Run one velesdb-migrate command with --json; return its report or exit with its code."""
    p = subprocess.run([VM, "--json", "--quiet", *args], stdout=subprocess.PIPE, text=True)
    report = json.loads(p.stdout) if p.stdout.strip() else {}
    if p.returncode != 0:
        findings = [f for r in each(report) for f in r.get("findings", [])]
        print(json.dumps({"ok": False, "step": step, "exit": p.returncode, "error": report.get("error"),
                          "findings": findings}))
        sys.exit(p.returncode)
    return report


def each(report):
    """The per-collection reports of a command (one, or several under "collections")."""
    return report.get("collections", [report])


def migrate(source, export_args, a):
    """export `source` with `export_args` into a.out, verify, import into a.to, validate --strict."""
    dest = ["--collection", a.collection_name] if a.collection_name else []
    dest += ["--vector", a.vector] if getattr(a, "vector", None) else []
    exp = run("export", "export", source, *export_args, "--out", a.out)
    print(f"export: {exp['rows']} rows in {exp['chunks']} chunks", file=sys.stderr)
    ver = run("verify", "verify", a.out)
    print(f"verify: {ver['chunks_checked']} chunks checked", file=sys.stderr)
    imp = each(run("import", "import", a.out, "--to", a.to, *dest))
    for i in imp:
        print(f"import: {i['points_upserted']} points into {i['collection']}", file=sys.stderr)
    val = each(run("validate", "validate", a.out, "--to", a.to, *dest, "--strict"))
    print(f"validate: {sum(v['rows_compared'] for v in val)} rows compared", file=sys.stderr)
    print(json.dumps({"ok": True, "source": source, "snapshot": a.out, "destination": a.to, "rows": exp["rows"],
                      "chunks": exp["chunks"], "collections": [i["collection"] for i in imp],
                      "points_upserted": sum(i["points_upserted"] for i in imp),
                      "rows_validated": sum(v["rows_compared"] for v in val)}))
