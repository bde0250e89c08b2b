"""shopdata daily batch: rebuild yesterday's vault day from the lake, then check it.

Tasks (one `shopdata` CLI call each, a BashOperator that knows the CLI's exit codes):
  backfill     shopdata backfill --date {{ ds }}
  vault_check  shopdata vault check --date {{ ds }}

Exit codes (docs/CONTRACT.md §3): 0 done; 1 data problem and 3 dependency unreachable are retried
(with exponential backoff: a service may come back, a late lake day may arrive); 2 usage or
configuration error fails the task at once, without retries, since it fails the same way every time.

Settings, each from an Airflow Variable if set, else from the worker's environment:
  Variable                           environment               meaning
  shopdata_bin                       SHOPDATA_BIN              path of the shopdata executable (default: shopdata on PATH)
  shopdata_clickhouse_url_secret     SHOPDATA_CLICKHOUSE_URL   ClickHouse URL (may hold a password: the _secret suffix makes Airflow mask it)
  shopdata_lake                      SHOPDATA_LAKE             s3://bucket/prefix or a directory
  shopdata_s3_endpoint               SHOPDATA_S3_ENDPOINT      S3-compatible endpoint
  shopdata_pii_salt_secret           SHOPDATA_PII_SALT         salt for personal data
  shopdata_aws_access_key_id         AWS_ACCESS_KEY_ID         S3 credentials
  shopdata_aws_secret_access_key     AWS_SECRET_ACCESS_KEY
  shopdata_backfill_args             -                         extra backfill flags, e.g. "--mode pull --format iceberg"
  shopdata_check_args                -                         extra `vault check` flags
  -                                  SHOPDATA_AIRFLOW_RETRIES  task retries (default 3; read when the DAG is parsed)

Variables are read when a task runs (templates), never while the DAG file is parsed.
A backfill is idempotent per day (a re-run gives identical checksums) and takes a per-day lease,
so retries and manual re-runs of a day are safe. `catchup=False`: a run is scheduled only for the
latest interval, so days missed while the scheduler was down are not replayed by themselves; rebuild
them with `airflow dags backfill shopdata_daily -s START -e END` (or `shopdata backfill --date START
--to END`).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

from airflow.sdk.exceptions import AirflowException, AirflowFailException
from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG

# shopdata's usage/configuration exit code: retrying cannot help.
NO_RETRY_EXIT_CODES = frozenset({2})

# Variable name -> environment variable it sets for the CLI.
SETTINGS = {
    "shopdata_clickhouse_url_secret": "SHOPDATA_CLICKHOUSE_URL",
    "shopdata_lake": "SHOPDATA_LAKE",
    "shopdata_s3_endpoint": "SHOPDATA_S3_ENDPOINT",
    "shopdata_pii_salt_secret": "SHOPDATA_PII_SALT",
    "shopdata_aws_access_key_id": "AWS_ACCESS_KEY_ID",
    "shopdata_aws_secret_access_key": "AWS_SECRET_ACCESS_KEY",
}

# Rendered per task run: a set Variable wins, an unset one leaves the worker's environment alone.
ENV = {f"SHOPDATA_VAR__{env}": "{{ var.value.get('%s', '') }}" % var for var, env in SETTINGS.items()}
ENV["SHOPDATA_VAR__BIN"] = "{{ var.value.get('shopdata_bin', '') }}"
ENV["SHOPDATA_LOG_LEVEL"] = os.environ.get("SHOPDATA_LOG_LEVEL", "info")

PRELUDE = """set -euo pipefail
for name in %s; do
  override="SHOPDATA_VAR__${name}"
  if [ -n "${!override:-}" ]; then export "${name}=${!override}"; fi
done
bin="${SHOPDATA_VAR__BIN:-${SHOPDATA_BIN:-shopdata}}"
""" % " ".join(SETTINGS.values())


class ShopdataOperator(BashOperator):
    """A BashOperator that fails without retries when the CLI reports a usage error (exit 2)."""

    def execute(self, context):
        try:
            return super().execute(context)
        except AirflowException as e:
            process = self.subprocess_hook.sub_process
            code = process.returncode if process is not None else None
            if code in NO_RETRY_EXIT_CODES:
                raise AirflowFailException(
                    f"shopdata exited {code}: a usage or configuration error, not retried; fix the flags or settings"
                ) from e
            raise


def shopdata_task(task_id: str, args: str, extra_args_var: str) -> BashOperator:
    return ShopdataOperator(
        task_id=task_id,
        bash_command=PRELUDE + 'exec $bin %s {{ var.value.get("%s", "") }}' % (args, extra_args_var),
        env=ENV,
        append_env=True,
    )


with DAG(
    dag_id="shopdata_daily",
    description="Rebuild each day of the Data Vault from the S3 lake, then run the vault checks.",
    schedule="@daily",
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    default_args={
        "owner": "shopdata",
        "retries": int(os.environ.get("SHOPDATA_AIRFLOW_RETRIES", "3")),
        "retry_delay": timedelta(minutes=5),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(hours=1),
        "execution_timeout": timedelta(hours=6),
    },
    tags=["shopdata", "data-vault", "backfill"],
) as dag:
    backfill = shopdata_task("backfill", "backfill --date {{ ds }}", "shopdata_backfill_args")
    vault_check = shopdata_task("vault_check", "vault check --date {{ ds }}", "shopdata_check_args")
    backfill >> vault_check
