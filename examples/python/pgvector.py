"""Migrate a pgvector table into VelesDB by driving the velesdb-migrate CLI.

    DATABASE_URL=postgres://… python3 pgvector.py --table items --out ./snap --to ./velesdb-data

Shape shared by every example (see README.md): prints one JSON object on
stdout, progress on stderr; exits 0, or with the exit code of the failed step.
The database URL (a secret) stays in DATABASE_URL, which velesdb-migrate reads.
"""
import argparse
import os
import sys

from migrate_steps import add_destination, migrate


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--table", required=True)
    ap.add_argument("--schema", default="public")
    add_destination(ap, "the table")
    ap.add_argument("--vector", help="the dense vector column to import, when the table has several")
    a = ap.parse_args()
    if not os.environ.get("DATABASE_URL"):
        sys.exit("set DATABASE_URL to the source database URL")
    migrate("pgvector", ["--schema", a.schema, "--table", a.table], a)


if __name__ == "__main__":
    main()
