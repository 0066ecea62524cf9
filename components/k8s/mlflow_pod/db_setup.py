# ruff: noqa: PLC0415 - psycopg2 and mlflow are the image's, absent from the program's environment
"""The MLflow schema Job: both databases at the schema of this MLflow version, and the metrics user.

Runs once per MLflow version, before the server's pods (components/k8s/mlflow.py):

1. creates the basic-auth app's own database on the same PostgreSQL instance when it
   is missing (the tracking store and the auth store each keep an alembic history;
   one database each keeps them apart);
2. `mlflow db upgrade` on the tracking store;
3. the auth store's migrations (`mlflow.server.auth.db.utils.migrate`);
4. the platform's own users, created or reset to Secrets Manager's values so the
   secret stays the truth: `metrics` (an admin: the basic-auth app lets only admins
   read `/metrics`), which the pod's relay uses, and `pipelines` (not an admin: it
   owns the experiments and models it creates), which pipeline steps use.

No password is on a command line or in a URI: libpq reads it from the service file
the ExternalSecret renders (PGSERVICEFILE, PGSERVICE). Environment:
MLFLOW_BACKEND_STORE_URI (the tracking store, without password), MLFLOW_AUTH_CONFIG_PATH
(basic_auth.ini, whose database_uri is the auth store), METRICS_USERNAME,
PIPELINES_USERNAME and AUTH_SECRETS_DIR (the mounted Secret: `metrics-password`,
`pipelines-password`).
"""

from __future__ import annotations

import os
import subprocess
import sys


def _setting(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        sys.exit(f"mlflow db setup: {name} is not set; allowed: a non-empty value")
    return value


def _secret(directory: str, key: str) -> str:
    path = os.path.join(directory, key)
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    except OSError as error:
        sys.exit(f"mlflow db setup: {path}: {error.strerror}")


def _libpq(uri: str) -> str:
    """A SQLAlchemy URI as libpq reads it: `postgresql+psycopg2://` -> `postgresql://`."""
    scheme, rest = uri.split("://", 1)
    return f"{scheme.split('+', 1)[0]}://{rest}"


def ensure_database(tracking_uri: str, database: str) -> bool:
    """Create `database` on the tracking store's server unless it exists; True if created."""
    import psycopg2  # the image's driver
    from psycopg2 import sql

    connection = psycopg2.connect(_libpq(tracking_uri))
    connection.autocommit = True  # CREATE DATABASE cannot run inside a transaction
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
            if cursor.fetchone():
                return False
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
            return True
    finally:
        connection.close()


def main() -> None:
    import sqlalchemy
    from mlflow.server.auth.config import read_auth_config
    from mlflow.server.auth.db import utils as auth_db
    from mlflow.server.auth.sqlalchemy_store import SqlAlchemyStore

    tracking_uri = _setting("MLFLOW_BACKEND_STORE_URI")
    _setting("MLFLOW_AUTH_CONFIG_PATH")
    secrets = _setting("AUTH_SECRETS_DIR")
    users = {
        _setting("METRICS_USERNAME"): (_secret(secrets, "metrics-password"), True),
        _setting("PIPELINES_USERNAME"): (_secret(secrets, "pipelines-password"), False),
    }
    auth_uri = read_auth_config().database_uri
    auth_database = sqlalchemy.engine.make_url(auth_uri).database or ""
    if ensure_database(tracking_uri, auth_database):
        print(f"created database {auth_database}", flush=True)
    subprocess.run([sys.executable, "-m", "mlflow", "db", "upgrade", tracking_uri], check=True)
    engine = sqlalchemy.create_engine(auth_uri)
    auth_db.migrate(engine, "head")
    engine.dispose()
    store = SqlAlchemyStore()
    store.init_db(auth_uri)
    for username, (password, is_admin) in users.items():
        if store.has_user(username, use_primary=True):
            store.update_user(username, password=password, is_admin=is_admin)
        else:
            store.create_user(username, password, is_admin=is_admin)
    print(f"tracking and auth stores at head; users {', '.join(users)} set", flush=True)


if __name__ == "__main__":
    main()
