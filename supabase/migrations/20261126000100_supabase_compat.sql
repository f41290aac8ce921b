-- What Supabase provides and a plain PostgreSQL lacks: the API roles and auth.jwt().
-- Every statement is guarded, so on Supabase (where all of this exists) it changes nothing.

do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'anon') then
    create role anon nologin noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'authenticated') then
    create role authenticated nologin noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'service_role') then
    create role service_role nologin noinherit bypassrls;
  end if;
end
$$;

create schema if not exists auth;
grant usage on schema auth to anon, authenticated, service_role;

-- The claims of the verified token, as PostgREST (and our Workers) set them per transaction:
--   select set_config('request.jwt.claims', '<json>', true); set local role authenticated;
do $$
begin
  if not exists (
    select 1 from pg_proc p join pg_namespace n on n.oid = p.pronamespace
    where n.nspname = 'auth' and p.proname = 'jwt'
  ) then
    execute $fn$
      create function auth.jwt() returns jsonb
      language sql stable
      as $body$
        select coalesce(
          nullif(current_setting('request.jwt.claim', true), ''),
          nullif(current_setting('request.jwt.claims', true), '')
        )::jsonb
      $body$
    $fn$;
    grant execute on function auth.jwt() to anon, authenticated, service_role;
  end if;
end
$$;

-- The tenant of the current request: app_metadata.tenant_id of the verified claims (users
-- cannot edit app_metadata). NULL when there are no claims, which matches no row.
create or replace function public.request_tenant_id() returns text
language sql stable
as $$ select (select auth.jwt()) -> 'app_metadata' ->> 'tenant_id' $$;

revoke all on function public.request_tenant_id() from public;
grant execute on function public.request_tenant_id() to authenticated, service_role;

-- Nothing is readable by default; each table grants what its callers need.
alter default privileges in schema public revoke all on tables from anon, authenticated;
