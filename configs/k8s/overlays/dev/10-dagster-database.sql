-- Dev only: Dagster's run/event storage lives in its own database on the PostGIS server;
-- `compute` (POSTGRES_DB, with the postgis extension) holds only the runs' proc_* schemas.
CREATE DATABASE dagster OWNER etl;
