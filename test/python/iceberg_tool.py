"""Test helper: read and write lake tables with pyiceberg/pyarrow (the reference implementations).

Usage (JSON on stdin, JSON on stdout):
  iceberg_tool.py read        {"metadata": URI, "snapshot_id": optional int}
      -> {"rows": [...], "snapshot_id": ...}  values canonicalised: decimals as strings, timestamps as epoch µs
  iceberg_tool.py scenario    {"lake": URI, "table": NAME, "schema": <Iceberg schema JSON>, "steps": [...]}
      steps: {"append": [rows]} | {"rename": [old, new]} | {"add_column": [name, type]} | {"delete": filter}
      -> {"snapshots": [ids after each step], "location": URI}
  iceberg_tool.py count       {"metadata": URI, "key": [columns]}
      -> {"rows": n, "distinct": n of distinct (key columns, __ts), "snapshots": n}
  iceberg_tool.py plan        {"metadata": URI, "filter": pyiceberg row filter string}
      -> {"files": data files planned after pruning, "rows": rows matching}
  iceberg_tool.py rest_read   {"uri": catalog URI, "namespace", "table"} -> like read, through the REST catalog
  iceberg_tool.py rest_write  {"uri", "namespace", "table", "schema": <Iceberg schema JSON>, "rows": [...]}
      creates the table partitioned by day(__ts) through the REST catalog (unless it exists) and appends
  iceberg_tool.py parquet     {"path": file, "schema": <Iceberg schema JSON>, "rows": [...], "compression": codec}
      writes a plain Parquet file with pyarrow (no field ids, as ordinary pipelines do)

S3 settings come from SHOPDATA_S3_ENDPOINT and AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_REGION.
"""

import datetime as dt
import decimal
import json
import os
import sys
import tempfile

import pyarrow as pa
import pyarrow.parquet as pq


def props():
    p = {}
    if os.environ.get("SHOPDATA_S3_ENDPOINT"):
        p["s3.endpoint"] = os.environ["SHOPDATA_S3_ENDPOINT"]
        p["s3.force-virtual-addressing"] = "false"
    if os.environ.get("AWS_ACCESS_KEY_ID"):
        p["s3.access-key-id"] = os.environ["AWS_ACCESS_KEY_ID"]
        p["s3.secret-access-key"] = os.environ.get("AWS_SECRET_ACCESS_KEY", "")
    p["s3.region"] = os.environ.get("AWS_REGION", "us-east-1")
    return p


def canon(v):
    if isinstance(v, decimal.Decimal):
        return str(v)
    if isinstance(v, dt.datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=dt.timezone.utc)
        delta = v - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
        return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
    if isinstance(v, list):
        return [canon(x) for x in v]
    if isinstance(v, dict):
        return {k: canon(x) for k, x in v.items()}
    return v


def to_arrow_value(v, t):
    """JSON test values -> Python values pyarrow accepts for type t."""
    if v is None:
        return None
    if pa.types.is_decimal(t):
        return decimal.Decimal(str(v))
    if pa.types.is_timestamp(t):
        return dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(microseconds=int(v))
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return [to_arrow_value(x, t.value_type) for x in v]
    if pa.types.is_struct(t):
        return {t.field(i).name: to_arrow_value(v.get(t.field(i).name), t.field(i).type) for i in range(t.num_fields)}
    return v


def arrow_table(rows, schema):
    cols = {}
    for f in schema:
        cols[f.name] = pa.array([to_arrow_value(r.get(f.name), f.type) for r in rows], type=f.type)
    return pa.table(cols, schema=schema)


def cmd_read(req):
    from pyiceberg.table import StaticTable

    table = StaticTable.from_metadata(req["metadata"], properties=props())
    scan = table.scan(snapshot_id=req.get("snapshot_id")) if req.get("snapshot_id") else table.scan()
    rows = scan.to_arrow().to_pylist()
    snap = table.current_snapshot()
    return {"rows": [canon(r) for r in rows], "snapshot_id": snap.snapshot_id if snap else None}


def cmd_scenario(req):
    from pyiceberg.catalog.sql import SqlCatalog
    from pyiceberg.partitioning import PartitionField, PartitionSpec
    from pyiceberg.schema import Schema
    from pyiceberg.transforms import DayTransform
    from pyiceberg.types import StringType, LongType, IntegerType, BooleanType

    lake = req["lake"].rstrip("/")
    table_name = req["table"]
    schema = Schema.model_validate(req["schema"])
    ts_id = next(f.field_id for f in schema.fields if f.name == "__ts")
    spec = PartitionSpec(PartitionField(source_id=ts_id, field_id=1000, transform=DayTransform(), name="__ts_day"))
    tmp = tempfile.mkdtemp()
    catalog = SqlCatalog("t", uri=f"sqlite:///{tmp}/catalog.db", warehouse=f"{lake}/iceberg", **props())
    catalog.create_namespace("lake")
    table = catalog.create_table(
        f"lake.{table_name}", schema=schema, partition_spec=spec, location=f"{lake}/iceberg/{table_name}"
    )
    snapshots = []
    for step in req["steps"]:
        if "append" in step:
            arrow_schema = table.schema().as_arrow()
            table.append(arrow_table(step["append"], arrow_schema))
        elif "rename" in step:
            with table.update_schema() as upd:
                upd.rename_column(step["rename"][0], step["rename"][1])
        elif "add_column" in step:
            types = {"string": StringType(), "long": LongType(), "int": IntegerType(), "boolean": BooleanType()}
            with table.update_schema() as upd:
                upd.add_column(step["add_column"][0], types[step["add_column"][1]])
        elif "delete" in step:
            table.delete(step["delete"])
        table = catalog.load_table(f"lake.{table_name}")
        snap = table.current_snapshot()
        snapshots.append(str(snap.snapshot_id) if snap else None)
    return {"snapshots": snapshots, "location": table.location(), "metadata": table.metadata_location}


def cmd_count(req):
    from pyiceberg.table import StaticTable

    table = StaticTable.from_metadata(req["metadata"], properties=props())
    cols = list(req["key"]) + ["__ts"]
    data = table.scan(selected_fields=tuple(cols)).to_arrow()
    keys = set(zip(*[data.column(c).to_pylist() for c in cols])) if data.num_rows else set()
    return {"rows": data.num_rows, "distinct": len(keys), "snapshots": len(table.metadata.snapshots)}


def cmd_plan(req):
    from pyiceberg.table import StaticTable

    table = StaticTable.from_metadata(req["metadata"], properties=props())
    scan = table.scan(row_filter=req["filter"])
    return {"files": len(list(scan.plan_files())), "rows": scan.to_arrow().num_rows}


def rest_catalog(req):
    from pyiceberg.catalog.rest import RestCatalog

    return RestCatalog("rest", uri=req["uri"], **props())


def cmd_rest_read(req):
    table = rest_catalog(req).load_table(f"{req['namespace']}.{req['table']}")
    rows = table.scan().to_arrow().to_pylist()
    snap = table.current_snapshot()
    return {"rows": [canon(r) for r in rows], "snapshot_id": snap.snapshot_id if snap else None}


def cmd_rest_write(req):
    from pyiceberg.partitioning import PartitionField, PartitionSpec
    from pyiceberg.schema import Schema
    from pyiceberg.transforms import DayTransform

    catalog = rest_catalog(req)
    ident = f"{req['namespace']}.{req['table']}"
    catalog.create_namespace_if_not_exists(req["namespace"])
    schema = Schema.model_validate(req["schema"])
    ts_id = next(f.field_id for f in schema.fields if f.name == "__ts")
    spec = PartitionSpec(PartitionField(source_id=ts_id, field_id=1000, transform=DayTransform(), name="__ts_day"))
    table = catalog.create_table_if_not_exists(ident, schema=schema, partition_spec=spec)
    table.append(arrow_table(req["rows"], table.schema().as_arrow()))
    table = catalog.load_table(ident)
    return {"snapshot_id": table.current_snapshot().snapshot_id, "metadata": table.metadata_location}


def cmd_parquet(req):
    from pyiceberg.schema import Schema

    schema = Schema.model_validate(req["schema"]).as_arrow()
    # Plain pyarrow output: drop the field-id metadata pyiceberg adds.
    schema = pa.schema([pa.field(f.name, f.type) for f in schema])
    table = arrow_table(req["rows"], schema)
    pq.write_table(table, req["path"], compression=req.get("compression", "snappy"))
    return {"rows": table.num_rows}


def main():
    cmd = sys.argv[1]
    req = json.load(sys.stdin)
    out = {"read": cmd_read, "scenario": cmd_scenario, "parquet": cmd_parquet, "count": cmd_count,
           "plan": cmd_plan, "rest_read": cmd_rest_read, "rest_write": cmd_rest_write}[cmd](req)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
