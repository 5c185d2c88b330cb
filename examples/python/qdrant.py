"""Migrate a Qdrant collection into VelesDB by driving the velesdb-migrate CLI.

    python3 qdrant.py --url http://localhost:6333 --collection docs --out ./snap --to ./velesdb-data
    python3 qdrant.py --url … --collection docs --vector text --out ./snap --to ./velesdb-data  # named vectors

Shape shared by every example (see README.md): prints one JSON object on
stdout, progress on stderr; exits 0, or with the exit code of the failed step.
The API key, if the server needs one, stays in QDRANT_API_KEY, which velesdb-migrate reads.
"""
import argparse

from migrate_steps import add_destination, migrate


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", required=True, help="Qdrant REST URL, e.g. http://localhost:6333")
    ap.add_argument("--collection", required=True)
    ap.add_argument("--filter", help="a Qdrant filter (JSON) to export only some points")
    ap.add_argument("--vector", help="the named vector to import (needed when there are several)")
    add_destination(ap)
    a = ap.parse_args()
    source = ["--url", a.url, "--collection", a.collection] + (["--filter", a.filter] if a.filter else [])
    migrate("qdrant", source, a)


if __name__ == "__main__":
    main()
