#!/usr/bin/env bash
# S3-compatible server of the local stack: moto's server mode (PyPI moto[server], pinned in
# scripts/stack/python/requirements-s3.txt) in $STACK_DIR/venv-s3, on 127.0.0.1:$S3_PORT.
# Path-style URLs; SigV4 signatures are accepted with any credentials (tests use test/test,
# region us-east-1). Bucket shopdata-lake is created at every start.
# Moto keeps everything IN MEMORY: stop/restart (or a crash) loses every bucket and object.
# Usage: s3.sh install|start|stop|status
. "$(dirname "$0")/../lib.sh"
. "$STACK_SCRIPTS/python/venv.sh"

VENV="$STACK_DIR/venv-s3"
S3_URL="http://127.0.0.1:$S3_PORT"
S3_BUCKET=shopdata-lake

cmd_install() { ensure_venv "$VENV" "$STACK_SCRIPTS/python/requirements-s3.txt" "$STACK_SCRIPTS/python/requirements-s3.lock.txt"; }

# HEAD of the lake bucket: moto answers without checking the signature.
bucket_ok() { curl -sf -o /dev/null -I "$S3_URL/$S3_BUCKET"; }
answers() { curl -s -o /dev/null "$S3_URL/"; }

create_bucket() {
  AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 \
    "$VENV/bin/python" - "$S3_URL" "$S3_BUCKET" <<'PY'
import sys, boto3
url, bucket = sys.argv[1:3]
s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1")
if bucket not in [b["Name"] for b in s3.list_buckets().get("Buckets", [])]:
    s3.create_bucket(Bucket=bucket)
PY
}

cmd_start() {
  if is_running s3 && bucket_ok; then return 0; fi
  [[ -x $VENV/bin/moto_server ]] || cmd_install
  if ! is_running s3; then
    answers && die "port $S3_PORT is taken by another process (not our moto server)"
    start_bg s3 "$VENV/bin/moto_server" -H 127.0.0.1 -p "$S3_PORT"
  fi
  wait_for "s3 (moto) on $S3_URL" 60 answers || die "moto did not answer; see $STACK_DIR/logs/s3.log"
  create_bucket || die "could not create bucket $S3_BUCKET on $S3_URL"
}

cmd_stop() { stop_bg s3; }

cmd_status() {
  local v
  v=$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("moto"))' 2>/dev/null) || v="?"
  if is_running s3 && bucket_ok; then
    echo "moto $v (in memory) $S3_URL s3://$S3_BUCKET"
  else
    echo "moto $v $S3_URL not answering or bucket $S3_BUCKET missing"
    return 1
  fi
}

service_main "$@"
