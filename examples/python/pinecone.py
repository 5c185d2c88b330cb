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
import os
import sys

from migrate_steps import add_destination, migrate


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", required=True)
    ap.add_argument("--namespace", action="append", default=[], help="only this namespace (repeatable; __default__ is the default one)")
    ap.add_argument("--prefix", help="only the ids starting with this prefix")
    ap.add_argument("--ids-file", help="the ids to export, one per line (pod-based indexes cannot list them)")
    add_destination(ap)
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
    migrate("pinecone", source, a)


if __name__ == "__main__":
    main()
