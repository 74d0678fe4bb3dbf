-- Bootstrap of one Depot service's PostgreSQL role: idempotent, run as an administrator.
--
-- The role owns the schema of its service and everything in it, and is granted nothing else, so it
-- can reach no other service's tables. Parameters are session settings, so the same file runs from
-- `depot roles` (which sets them) or from psql:
--
--   SET depot.role = 'depot_prompts'; SET depot.schema = 'prompts';
--   SET depot.password = 'SCRAM-SHA-256$4096:...';  -- or '' to leave the password as it is
--   \i deploy/sql/roles.sql
--
-- Works as a superuser, or as a managed-PostgreSQL administrator with CREATEROLE that owns the
-- database (it makes itself a member of the role so that it may hand objects over to it).
DO $bootstrap$
DECLARE
    role_name   text := current_setting('depot.role');
    schema_name text := current_setting('depot.schema');
    secret      text := coalesce(current_setting('depot.password', true), '');
    admin_is_superuser boolean := (SELECT rolsuper FROM pg_roles WHERE rolname = current_user);
    target      record;
BEGIN
    IF role_name = '' OR schema_name = '' THEN
        RAISE EXCEPTION 'set depot.role and depot.schema before running roles.sql';
    END IF;

    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = role_name) THEN
        -- The defaults are what a service needs: NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS.
        EXECUTE format('CREATE ROLE %I LOGIN', role_name);
    ELSIF EXISTS (SELECT FROM pg_roles WHERE rolname = role_name AND (rolsuper OR rolbypassrls)) THEN
        RAISE EXCEPTION 'role % is a superuser or bypasses row security; a service role must be neither', role_name;
    ELSE
        EXECUTE format('ALTER ROLE %I LOGIN', role_name);
    END IF;
    IF secret <> '' THEN
        EXECUTE format('ALTER ROLE %I PASSWORD %L', role_name, secret);
    END IF;
    -- Handing objects to the role, and managing its schema afterwards, take membership in it
    -- (SET ROLE to it, act with its privileges). Since PostgreSQL 16 the administrator that created
    -- a role administers it without being a member in that sense unless granted so.
    IF admin_is_superuser THEN
        NULL;
    ELSIF current_setting('server_version_num')::int >= 160000 THEN
        IF NOT (pg_has_role(current_user, role_name, 'SET') AND pg_has_role(current_user, role_name, 'USAGE')) THEN
            EXECUTE format('GRANT %I TO %I WITH INHERIT TRUE, SET TRUE', role_name, current_user);
        END IF;
    ELSIF NOT pg_has_role(current_user, role_name, 'MEMBER') THEN
        EXECUTE format('GRANT %I TO %I', role_name, current_user);
    END IF;

    -- CONNECT to reach the database. CREATE only because the migrations' environment runs
    -- `CREATE SCHEMA IF NOT EXISTS`, which PostgreSQL checks against the database even when the
    -- schema exists; it lets the role create new, empty schemas, never reach another one.
    EXECUTE format('GRANT CONNECT, CREATE ON DATABASE %I TO %I', current_database(), role_name);

    IF NOT EXISTS (SELECT FROM pg_namespace WHERE nspname = schema_name) THEN
        EXECUTE format('CREATE SCHEMA %I AUTHORIZATION %I', schema_name, role_name);
    ELSE
        EXECUTE format('ALTER SCHEMA %I OWNER TO %I', schema_name, role_name);
    END IF;
    EXECUTE format('REVOKE ALL ON SCHEMA %I FROM PUBLIC', schema_name);

    -- Objects an administrator created in the schema before the role existed (say, migrations that
    -- ran as a superuser) change hands, so the role can migrate them from now on. Sequences that
    -- belong to a column follow their table.
    FOR target IN
        SELECT c.oid::regclass AS name,
               CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                              WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE'
                              ELSE 'TABLE' END AS kind
        FROM pg_class c
        WHERE c.relnamespace = schema_name::regnamespace
          AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
          AND c.relowner <> role_name::regrole
          AND NOT EXISTS (SELECT FROM pg_depend d
                          WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                            AND (d.deptype = 'e' OR (c.relkind = 'S' AND d.deptype IN ('a', 'i'))))
    LOOP
        EXECUTE format('ALTER %s %s OWNER TO %I', target.kind, target.name, role_name);
    END LOOP;
    FOR target IN
        SELECT t.oid::regtype AS name, CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END AS kind
        FROM pg_type t
        WHERE t.typnamespace = schema_name::regnamespace
          AND t.typtype IN ('e', 'd', 'r')
          AND t.typowner <> role_name::regrole
          AND NOT EXISTS (SELECT FROM pg_depend d
                          WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e')
    LOOP
        EXECUTE format('ALTER %s %s OWNER TO %I', target.kind, target.name, role_name);
    END LOOP;
    FOR target IN
        SELECT p.oid::regprocedure AS name
        FROM pg_proc p
        WHERE p.pronamespace = schema_name::regnamespace AND p.prokind IN ('f', 'p')
          AND p.proowner <> role_name::regrole
          AND NOT EXISTS (SELECT FROM pg_depend d
                          WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
    LOOP
        EXECUTE format('ALTER ROUTINE %s OWNER TO %I', target.name, role_name);
    END LOOP;

    -- Nothing else: no privilege on any other schema, and nobody creates objects in public.
    FOR target IN
        SELECT n.nspname FROM pg_namespace n
        WHERE n.nspname <> schema_name AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\_%'
    LOOP
        EXECUTE format('REVOKE ALL ON SCHEMA %I FROM %I', target.nspname, role_name);
    END LOOP;
    IF EXISTS (SELECT FROM pg_namespace WHERE nspname = 'public') THEN
        REVOKE CREATE ON SCHEMA public FROM PUBLIC;
    END IF;
END
$bootstrap$;
