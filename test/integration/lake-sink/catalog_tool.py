"""Test helper: reads and writes tables of an Iceberg REST catalog with pyiceberg, the reference
reader (never shopdata's own).

Usage (JSON on stdin, JSON on stdout), S3 settings from SHOPDATA_S3_ENDPOINT and AWS_*:
  catalog_tool.py scan   {"uri": URI, "namespace": NS, "tables": [NAME, ...]}
      -> {NAME: {"rows": [...], "snapshots": [{"id", "summary"}], "files": [{"path", "partition", "records"}],
                 "schema": <Iceberg schema JSON>, "spec": [[transform, source column]]}}
         row values canonical: decimals as strings, timestamps as epoch microseconds
  catalog_tool.py create {"uri": URI, "identifier": "ns.table", "columns": [[name, "long"|"string"|...], ...]}
      creates a table with the given (non-contract) schema, unpartitioned
  catalog_tool.py append {"uri": URI, "identifier": "ns.table", "rows": [{column: value}, ...]}
      appends rows (long, string and boolean columns) -> {"snapshot_id", "location"}
"""

import datetime as dt
import decimal
import json
import os
import sys

from pyiceberg.catalog.rest import RestCatalog
from pyiceberg.schema import Schema
from pyiceberg.types import BooleanType, LongType, NestedField, StringType, TimestamptzType


def catalog(uri):
    props = {"uri": uri, "s3.region": os.environ.get("AWS_REGION", "us-east-1")}
    if os.environ.get("SHOPDATA_S3_ENDPOINT"):
        props["s3.endpoint"] = os.environ["SHOPDATA_S3_ENDPOINT"]
        props["s3.path-style-access"] = "true"
    if os.environ.get("AWS_ACCESS_KEY_ID"):
        props["s3.access-key-id"] = os.environ["AWS_ACCESS_KEY_ID"]
        props["s3.secret-access-key"] = os.environ.get("AWS_SECRET_ACCESS_KEY", "")
    return RestCatalog("test", **props)


def canon(v):
    if isinstance(v, decimal.Decimal):
        return str(v)
    if isinstance(v, dt.datetime):
        delta = v - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
        return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
    if isinstance(v, list):
        return [canon(x) for x in v]
    if isinstance(v, dict):
        return {k: canon(x) for k, x in v.items()}
    return v


def scan(req):
    cat = catalog(req["uri"])
    out = {}
    for name in req["tables"]:
        t = cat.load_table(f'{req["namespace"]}.{name}')
        rows = [canon(r) for r in t.scan().to_arrow().to_pylist()] if t.current_snapshot() else []
        files = []
        if t.current_snapshot():
            for task in t.scan().plan_files():
                f = task.file
                files.append({"path": f.file_path, "partition": str(f.partition), "records": f.record_count})
        schema = json.loads(t.schema().model_dump_json())
        spec = [[str(f.transform), t.schema().find_column_name(f.source_id)] for f in t.spec().fields]
        snapshots = [{"id": s.snapshot_id, "summary": s.summary.additional_properties} for s in t.snapshots()]
        out[name] = {"rows": rows, "snapshots": snapshots, "files": files, "schema": schema, "spec": spec}
    return out


TYPES = {"long": LongType, "string": StringType, "boolean": BooleanType, "timestamptz": TimestamptzType}


def create(req):
    cat = catalog(req["uri"])
    ns = req["identifier"].rsplit(".", 1)[0]
    cat.create_namespace_if_not_exists(ns)
    fields = [NestedField(i + 1, n, TYPES[t](), required=False) for i, (n, t) in enumerate(req["columns"])]
    cat.create_table(req["identifier"], Schema(*fields))
    return {"created": req["identifier"]}


def append(req):
    import pyarrow as pa

    t = catalog(req["uri"]).load_table(req["identifier"])
    t.append(pa.Table.from_pylist(req["rows"], schema=t.schema().as_arrow()))
    return {"snapshot_id": t.current_snapshot().snapshot_id, "location": t.location()}


if __name__ == "__main__":
    request = json.load(sys.stdin)
    result = {"scan": scan, "create": create, "append": append}[sys.argv[1]](request)
    json.dump(result, sys.stdout)
