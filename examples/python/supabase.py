"""Migrate a Supabase table (PostgreSQL + pgvector) into VelesDB by driving the velesdb-migrate CLI.

    SUPABASE_DB_PASSWORD=… python3 supabase.py --project-ref abcd --region eu-west-2 \
        --table documents --out ./snap --to ./velesdb-data
    DATABASE_URL=postgres://…:6543/postgres python3 supabase.py --table documents --out ./snap --to ./velesdb-data

Shape shared by every example (see README.md): prints one JSON object on
stdout, progress on stderr; exits 0, or with the exit code of the failed step.
Secrets (SUPABASE_DB_PASSWORD or DATABASE_URL) stay in the environment.
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
        print(json.dumps({"ok": False, "step": step, "exit": p.returncode, "error": report.get("error"),
                          "findings": report.get("findings", [])}))
        sys.exit(p.returncode)
    return report


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--table", required=True)
    ap.add_argument("--schema", default="public")
    ap.add_argument("--project-ref", help="without it, DATABASE_URL gives the connection URL")
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--pooler", default="transaction", choices=["transaction", "session", "direct"])
    ap.add_argument("--out", required=True, help="snapshot directory")
    ap.add_argument("--to", required=True, help="VelesDB data directory or http://HOST:PORT")
    ap.add_argument("--collection-name", help="VelesDB collection (default: the table)")
    ap.add_argument("--vector", help="the dense vector column to import, when the table has several")
    a = ap.parse_args()
    if a.project_ref:
        source = ["--project-ref", a.project_ref, "--region", a.region, "--pooler", a.pooler]
    elif os.environ.get("DATABASE_URL"):
        source = []  # velesdb-migrate reads DATABASE_URL itself
    else:
        sys.exit("pass --project-ref (password in SUPABASE_DB_PASSWORD) or set DATABASE_URL")
    coll = ["--collection", a.collection_name] if a.collection_name else []
    coll += ["--vector", a.vector] if a.vector else []

    exp = run("export", "export", "supabase", *source, "--schema", a.schema, "--table", a.table, "--out", a.out)
    print(f"export: {exp['rows']} rows in {exp['chunks']} chunks", file=sys.stderr)
    ver = run("verify", "verify", a.out)
    print(f"verify: {ver['chunks_checked']} chunks checked", file=sys.stderr)
    imp = run("import", "import", a.out, "--to", a.to, *coll)
    print(f"import: {imp['points_upserted']} points into {imp['collection']}", file=sys.stderr)
    val = run("validate", "validate", a.out, "--to", a.to, *coll, "--strict")
    print(f"validate: {val['rows_compared']} rows compared", file=sys.stderr)
    print(json.dumps({"ok": True, "source": "supabase", "snapshot": a.out, "destination": a.to, "rows": exp["rows"],
                      "chunks": exp["chunks"], "points_upserted": imp["points_upserted"],
                      "rows_validated": val["rows_compared"]}))


if __name__ == "__main__":
    main()
