-- The tenant knowledge base: documents, their searchable chunks, and idempotency records.
-- Tenancy is enforced by row-level security (enabled AND forced) on every table, against the
-- verified claims of the request; application code filtering by tenant is a second line only.

create table public.kb_documents (
  id             uuid primary key default gen_random_uuid(),
  tenant_id      text not null default public.request_tenant_id()
                 check (tenant_id ~ '^[A-Za-z0-9_-]{1,128}$'),
  external_id    text check (char_length(external_id) between 1 and 256),
  title          text not null check (char_length(title) between 1 and 300),
  content        text not null,
  content_type   text not null check (content_type in ('text', 'markdown', 'html')),
  source         jsonb,
  tags           text[] not null default '{}',
  metadata       jsonb not null default '{}'::jsonb,
  content_sha256 text not null check (content_sha256 ~ '^[0-9a-f]{64}$'),
  version        integer not null default 1 check (version >= 1),
  chunk_count    integer not null default 0,
  created_at     timestamptz not null default now(),
  updated_at     timestamptz not null default now()
);
-- One live document per external id and tenant: a new version replaces it in place.
create unique index kb_documents_external_id on public.kb_documents (tenant_id, external_id)
  where external_id is not null;
create index kb_documents_tenant_created on public.kb_documents (tenant_id, created_at desc);

-- array_to_string is only STABLE in general; for text[] it cannot change, and a generated
-- column needs an IMMUTABLE expression.
create function public.kb_heading_text(heading_path text[]) returns text
language sql immutable parallel safe
as $$ select array_to_string(heading_path, ' ') $$;

create table public.kb_chunks (
  id            uuid primary key default gen_random_uuid(),
  tenant_id     text not null default public.request_tenant_id(),
  document_id   uuid not null references public.kb_documents (id) on delete cascade,
  ordinal       integer not null check (ordinal >= 0),
  heading_path  text[] not null default '{}',
  -- Character offsets (Unicode scalar values) of the chunk in the document's text.
  start_offset  integer not null check (start_offset >= 0),
  end_offset    integer not null check (end_offset > start_offset),
  content       text not null,
  search        tsvector generated always as (
                  setweight(to_tsvector('english', public.kb_heading_text(heading_path)), 'A') ||
                  setweight(to_tsvector('english', content), 'B')
                ) stored,
  unique (document_id, ordinal)
);
create index kb_chunks_search on public.kb_chunks using gin (search);
create index kb_chunks_tenant on public.kb_chunks (tenant_id);

-- Idempotency-Key records: the first request's response, replayed for 24 hours.
create table public.idempotency_keys (
  tenant_id     text not null default public.request_tenant_id(),
  scope         text not null,            -- e.g. 'POST /kb/documents'
  key           text not null check (char_length(key) between 1 and 255),
  request_hash  text not null,            -- sha-256 of the request body
  status        integer not null,
  response      jsonb not null,
  created_at    timestamptz not null default now(),
  expires_at    timestamptz not null default now() + interval '24 hours',
  primary key (tenant_id, scope, key)
);
create index idempotency_keys_expiry on public.idempotency_keys (expires_at);

do $$
declare t text;
begin
  foreach t in array array['kb_documents', 'kb_chunks', 'idempotency_keys'] loop
    execute format('alter table public.%I enable row level security', t);
    execute format('alter table public.%I force row level security', t);
    execute format($p$create policy tenant_isolation on public.%I as permissive for all to authenticated
                     using (tenant_id = (select public.request_tenant_id()))
                     with check (tenant_id = (select public.request_tenant_id()))$p$, t);
    execute format('revoke all on public.%I from anon, authenticated', t);
    execute format('grant select, insert, update, delete on public.%I to authenticated', t);
    execute format('grant all on public.%I to service_role', t);
  end loop;
end
$$;
