"""Migrate a Supabase table (PostgreSQL + pgvector) into VelesDB by driving the velesdb-migrate CLI.

    SUPABASE_DB_PASSWORD=… python3 supabase.py --project-ref abcd --region eu-west-2 \
        --table documents --out ./snap --to ./velesdb-data
    DATABASE_URL=postgres://…:6543/postgres python3 supabase.py --table documents --out ./snap --to ./velesdb-data

Shape shared by every example (see README.md): prints one JSON object on
stdout, progress on stderr; exits 0, or with the exit code of the failed step.
Secrets (SUPABASE_DB_PASSWORD or DATABASE_URL) stay in the environment.
"""
import argparse
import os
import sys

from migrate_steps import add_destination, migrate


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--table", required=True)
    ap.add_argument("--schema", default="public")
    ap.add_argument("--project-ref", help="without it, DATABASE_URL gives the connection URL")
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--pooler", default="transaction", choices=["transaction", "session", "direct"])
    add_destination(ap, "the table")
    ap.add_argument("--vector", help="the dense vector column to import, when the table has several")
    a = ap.parse_args()
    if a.project_ref:
        source = ["--project-ref", a.project_ref, "--region", a.region, "--pooler", a.pooler]
    elif os.environ.get("DATABASE_URL"):
        source = []  # velesdb-migrate reads DATABASE_URL itself
    else:
        sys.exit("pass --project-ref (password in SUPABASE_DB_PASSWORD) or set DATABASE_URL")
    migrate("supabase", [*source, "--schema", a.schema, "--table", a.table], a)


if __name__ == "__main__":
    main()
