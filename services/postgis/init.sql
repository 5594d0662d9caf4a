-- PostGIS cluster set-up for the spatial ETL platform, run once on an empty data volume by
-- services/postgis/init.sh (psql as the superuser, variables passed with -v):
--   compute_db, etl_role, etl_password, dagster_db, dagster_role, dagster_password.
--
-- compute: the PostGIS database where each run creates proc_<run>, loads, computes, exports
-- and drops it. The ETL role owns nothing it did not create: it may connect and create
-- schemas (CREATE on the database), and owns, hence may drop, the schemas it creates. It is
-- no superuser, cannot create databases or roles, and cannot create objects in public.
-- dagster: Dagster's own run/event/schedule storage, owned by its own role.
\set ON_ERROR_STOP on

CREATE ROLE :"etl_role" LOGIN PASSWORD :'etl_password'
  NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT;
CREATE ROLE :"dagster_role" LOGIN PASSWORD :'dagster_password'
  NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;

CREATE DATABASE :"compute_db";
REVOKE ALL ON DATABASE :"compute_db" FROM PUBLIC;
GRANT CONNECT, CREATE ON DATABASE :"compute_db" TO :"etl_role";

CREATE DATABASE :"dagster_db" OWNER :"dagster_role";
REVOKE ALL ON DATABASE :"dagster_db" FROM PUBLIC;

\connect :"compute_db"
CREATE EXTENSION IF NOT EXISTS postgis;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO :"etl_role";
