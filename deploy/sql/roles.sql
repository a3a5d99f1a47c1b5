-- roles.sql - the Samspil database and its roles.  Idempotent: run it again
-- at any time (deploy/pg.sh does so on every start of the embedded cluster).
--
-- For an external server, run it once as a superuser (it uses psql's \gexec
-- and \connect):
--     psql -X -v ON_ERROR_STOP=1 -d postgres -f deploy/sql/roles.sql
-- then give the login roles passwords as your authentication needs, e.g.
--     ALTER ROLE samspil_owner PASSWORD '...';
--
-- samspil_owner owns the database and every schema in it; migrations run as
-- it.  Each service logs in as its own role: not superuser, not owner,
-- NOBYPASSRLS, so row-level security applies to it.  The migrations grant
-- each service role what it needs on its own schema.

\set ON_ERROR_STOP on

DO $roles$
DECLARE
    r text;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'samspil_owner') THEN
        CREATE ROLE samspil_owner LOGIN;
    END IF;
    ALTER ROLE samspil_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;

    FOREACH r IN ARRAY ARRAY['samspil_registration', 'samspil_voting',
                             'samspil_outreach', 'samspil_reporting'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I LOGIN', r);
        END IF;
        EXECUTE format('ALTER ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE '
                       'NOREPLICATION NOBYPASSRLS NOINHERIT', r);
    END LOOP;
END
$roles$;

SELECT 'CREATE DATABASE samspil OWNER samspil_owner ENCODING ''UTF8'' TEMPLATE template0'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'samspil')
\gexec

ALTER DATABASE samspil OWNER TO samspil_owner;
REVOKE ALL ON DATABASE samspil FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE samspil
   TO samspil_registration, samspil_voting, samspil_outreach, samspil_reporting;

\connect samspil

-- nobody but the owner creates objects; in particular not in schema public
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
