"""Read every chunk of a snapshot with pyarrow (an independent Parquet
reader) and print the rows as JSON, in manifest order. Used by the tests to
prove the chunks are plain Parquet. With --with-collection, each row also
carries its collection's name under "_collection"."""
import json
import sys
from pathlib import Path

import pyarrow.parquet as pq

snap = Path(sys.argv[1])
with_collection = "--with-collection" in sys.argv[2:]
manifest = json.loads((snap / "manifest.json").read_text())
rows = []
for coll in manifest["collections"]:
    for chunk in coll["chunks"]:
        table = pq.read_table(snap / chunk["file"])
        assert table.num_rows == chunk["rows"], (chunk["file"], table.num_rows)
        for row in table.to_pylist():
            for k, v in row.items():
                if k.startswith("vec:") and v is not None:
                    row[k] = [float(x) for x in v]
            if with_collection:
                row["_collection"] = coll["name"]
            rows.append(row)
json.dump(rows, sys.stdout, ensure_ascii=False)
