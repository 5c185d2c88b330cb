"""Migrate a Milvus collection into VelesDB by driving the velesdb-migrate CLI.

    python3 milvus.py --url http://localhost:19530 --collection docs --out ./snap --to ./velesdb-data
    python3 milvus.py --url … --collection docs --partition p1 --filter 'year > 2020' --out ./snap --to ./velesdb-data

Shape shared by every example (see README.md): prints one JSON object on
stdout, progress on stderr; exits 0, or with the exit code of the failed step.
Credentials (`user:password` or an API key), if the server needs them, stay in
MILVUS_TOKEN, which velesdb-migrate reads.
"""
import argparse

from migrate_steps import add_destination, migrate


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
    add_destination(ap)
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
    migrate("milvus", source, a)


if __name__ == "__main__":
    main()
