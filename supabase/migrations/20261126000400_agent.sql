-- The agent's state: tasks its createTask tool writes, and the audit trail of every run, LLM
-- call and tool call. Tenancy is enforced by row-level security (enabled AND forced), against
-- the verified claims of the request, as for the knowledge base.

create table public.tasks (
  id             uuid primary key default gen_random_uuid(),
  tenant_id      text not null default public.request_tenant_id()
                 check (tenant_id ~ '^[A-Za-z0-9_-]{1,128}$'),
  title          text not null check (char_length(title) between 1 and 200),
  notes          text check (char_length(notes) <= 4000),
  due_date       date,
  status         text not null default 'open' check (status in ('open', 'done')),
  created_by     text not null,              -- the JWT `sub` of the caller
  created_at     timestamptz not null default now(),
  source_run_id  text                         -- the agent run that created it, if any
);
create index tasks_tenant_created on public.tasks (tenant_id, created_at desc);

-- One row per run, LLM call or tool call. Append-only for tenants: no update, no delete.
create table public.agent_audit (
  id                 uuid primary key default gen_random_uuid(),
  tenant_id          text not null default public.request_tenant_id()
                     check (tenant_id ~ '^[A-Za-z0-9_-]{1,128}$'),
  run_id             text not null,
  thread_id          text,
  kind               text not null check (kind in ('run', 'llm', 'tool')),
  name               text not null,
  arguments_sha256   text,                     -- hex sha-256 of the tool arguments as sent
  status             text not null,
  duration_ms        integer check (duration_ms >= 0),
  prompt_tokens      integer check (prompt_tokens >= 0),
  completion_tokens  integer check (completion_tokens >= 0),
  detail             jsonb not null default '{}'::jsonb,
  created_at         timestamptz not null default now()
);
create index agent_audit_tenant_run on public.agent_audit (tenant_id, run_id);

do $$
declare t text;
begin
  foreach t in array array['tasks', 'agent_audit'] loop
    execute format('alter table public.%I enable row level security', t);
    execute format('alter table public.%I force row level security', t);
    execute format($p$create policy tenant_isolation on public.%I as permissive for all to authenticated
                     using (tenant_id = (select public.request_tenant_id()))
                     with check (tenant_id = (select public.request_tenant_id()))$p$, t);
    execute format('revoke all on public.%I from anon, authenticated', t);
    execute format('grant all on public.%I to service_role', t);
  end loop;
end
$$;

grant select, insert, update, delete on public.tasks to authenticated;
-- An audit trail: tenants append and read, never rewrite.
grant select, insert on public.agent_audit to authenticated;
