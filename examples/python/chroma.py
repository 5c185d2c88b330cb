"""Migrate a Chroma collection into VelesDB by driving the velesdb-migrate CLI.

    python3 chroma.py --url http://localhost:8000 --collection docs --out ./snap --to ./velesdb-data
    python3 chroma.py --path /var/lib/chroma --collection docs --out ./snap --to ./velesdb-data  # no server

Shape shared by every example (see README.md): prints one JSON object on
stdout, progress on stderr; exits 0, or with the exit code of the failed step.
A token, if the server needs one, stays in CHROMA_TOKEN, which velesdb-migrate reads.
"""
import argparse

from migrate_steps import add_destination, migrate


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--url", help="Chroma server URL, e.g. http://localhost:8000")
    src.add_argument("--path", help="a Chroma persistent directory, read without a server (stop Chroma first)")
    ap.add_argument("--collection", required=True)
    ap.add_argument("--tenant", default="default_tenant")
    ap.add_argument("--database", default="default_database")
    ap.add_argument("--where", help="a Chroma where filter (JSON); --url only")
    add_destination(ap)
    a = ap.parse_args()
    source = ["--url", a.url] if a.url else ["--path", a.path]
    source += ["--collection", a.collection, "--tenant", a.tenant, "--database", a.database]
    if a.where:
        source += ["--where", a.where]
    migrate("chroma", source, a)


if __name__ == "__main__":
    main()
