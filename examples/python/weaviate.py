"""Migrate a Weaviate class (one tenant, or every tenant) into VelesDB by driving the velesdb-migrate CLI.

    python3 weaviate.py --url http://localhost:8080 --class Article --out ./snap --to ./velesdb-data
    python3 weaviate.py --url … --class Article --all-tenants --out ./snap --to ./velesdb-data

Each tenant is a collection of the snapshot and of VelesDB (`Article_<tenant>`;
--collection-name needs one).

Shape shared by every example (see README.md): prints one JSON object on
stdout, progress on stderr; exits 0, or with the exit code of the failed step.
The API key, if the server needs one, stays in WEAVIATE_API_KEY, which velesdb-migrate reads.
"""
import argparse

from migrate_steps import add_destination, migrate


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", required=True, help="Weaviate REST URL (without /v1), e.g. http://localhost:8080")
    ap.add_argument("--class", dest="cls", required=True, help="the class (collection)")
    tenants = ap.add_mutually_exclusive_group()
    tenants.add_argument("--tenant", help="the tenant to export, for a multi-tenant class")
    tenants.add_argument("--all-tenants", action="store_true", help="every tenant, each into its own collection")
    ap.add_argument("--vector", help="the vector to import when there are several (`default`: the class vector)")
    add_destination(ap)
    a = ap.parse_args()
    source = ["--url", a.url, "--class", a.cls]
    if a.tenant:
        source += ["--tenant", a.tenant]
    if a.all_tenants:
        source.append("--all-tenants")
    migrate("weaviate", source, a)


if __name__ == "__main__":
    main()
