-- Knowledge in English and Indonesian. Each document has a language (`english`, `indonesian`
-- or `simple`: PostgreSQL's text search configurations; the Worker detects it when the client
-- does not say, else the tenant's default applies), its chunks are stemmed in it, and a query is read in every configuration at
-- once, so an English question finds English chunks and an Indonesian one Indonesian chunks.

alter table public.kb_documents add column language text not null default 'english'
  check (language in ('english', 'indonesian', 'simple'));
alter table public.kb_chunks add column language regconfig not null default 'english';

-- The search vector in the chunk's own language (to_tsvector(regconfig, text) is immutable).
drop index public.kb_chunks_search;
alter table public.kb_chunks drop column search;
alter table public.kb_chunks add column search tsvector generated always as (
  setweight(to_tsvector(language, public.kb_heading_text(heading_path)), 'A') ||
  setweight(to_tsvector(language, content), 'B')
) stored;
create index kb_chunks_search on public.kb_chunks using gin (search);

-- A tenant's default language: what a document that neither names nor shows its language is
-- stemmed in (English when the tenant has not chosen). `GET/PUT /kb/settings`.
create table public.kb_settings (
  tenant_id        text primary key default public.request_tenant_id()
                   check (tenant_id ~ '^[A-Za-z0-9_-]{1,128}$'),
  default_language text not null check (default_language in ('english', 'indonesian', 'simple')),
  updated_at       timestamptz not null default now()
);
alter table public.kb_settings enable row level security;
alter table public.kb_settings force row level security;
create policy tenant_isolation on public.kb_settings as permissive for all to authenticated
  using (tenant_id = (select public.request_tenant_id()))
  with check (tenant_id = (select public.request_tenant_id()));
revoke all on public.kb_settings from anon, authenticated;
grant select, insert, update on public.kb_settings to authenticated;
grant all on public.kb_settings to service_role;

-- What a person typed in the search box (quotes, `or`, `-word`), in each language.
create or replace function public.kb_search_query(p_query text) returns tsquery
language sql stable parallel safe
as $$
  select websearch_to_tsquery('english', p_query) || websearch_to_tsquery('indonesian', p_query)
      || websearch_to_tsquery('simple', p_query)
$$;

-- A question, for grounding an answer: any of its words (stop words dropped by the stemmed
-- configurations), in each language; ranking decides. A question rarely contains every word
-- of the passage that answers it.
create or replace function public.kb_question_query(p_question text) returns tsquery
language sql stable parallel safe
as $$
  select coalesce(nullif(replace(plainto_tsquery('english', p_question)::text, ' & ', ' | '), '')::tsquery, ''::tsquery)
      || coalesce(nullif(replace(plainto_tsquery('indonesian', p_question)::text, ' & ', ' | '), '')::tsquery, ''::tsquery)
$$;

grant execute on function public.kb_search_query(text) to authenticated, service_role;
grant execute on function public.kb_question_query(text) to authenticated, service_role;

create or replace function public.kb_ingest_one(p_doc jsonb)
returns jsonb
language plpgsql
set search_path = public, pg_temp
as $$
declare
  v_external_id text := p_doc ->> 'externalId';
  v_sha text := p_doc ->> 'contentSha256';
  v_id uuid;
  v_version integer;
  v_existing_sha text;
  v_chunks integer;
  v_change text;
  v_language regconfig := coalesce(p_doc ->> 'language', (select s.default_language from kb_settings s), 'english')::regconfig;
  v_existing_language text;
begin
  -- Two attempts: if a concurrent transaction inserts the same externalId between our
  -- lookup and our insert, the insert does nothing and the second lookup finds its row.
  for attempt in 1..2 loop
    if v_external_id is not null then
      select d.id, d.version, d.content_sha256, d.chunk_count, d.language into v_id, v_version, v_existing_sha, v_chunks, v_existing_language
        from kb_documents d where d.external_id = v_external_id for update;
    else
      -- Without an external id, identical content is the same document.
      select d.id, d.version, d.content_sha256, d.chunk_count, d.language into v_id, v_version, v_existing_sha, v_chunks, v_existing_language
        from kb_documents d where d.external_id is null and d.content_sha256 = v_sha
        order by d.created_at limit 1 for update;
    end if;
    if v_id is not null then
      if v_existing_sha = v_sha and v_existing_language = v_language::text then
        v_change := 'unchanged';
      else
        v_version := v_version + 1;
        update kb_documents set title = p_doc ->> 'title', content = p_doc ->> 'content', language = v_language::text,
               content_type = p_doc ->> 'contentType', source = nullif(p_doc -> 'source', 'null'::jsonb),
               tags = array(select jsonb_array_elements_text(p_doc -> 'tags')),
               metadata = p_doc -> 'metadata', content_sha256 = v_sha, version = v_version, updated_at = now()
         where id = v_id;
        v_change := 'updated';
      end if;
      exit;
    end if;
    insert into kb_documents (external_id, title, content, content_type, source, tags, metadata, content_sha256, language)
    values (v_external_id, p_doc ->> 'title', p_doc ->> 'content', p_doc ->> 'contentType', nullif(p_doc -> 'source', 'null'::jsonb),
            array(select jsonb_array_elements_text(p_doc -> 'tags')), p_doc -> 'metadata', v_sha, v_language::text)
    on conflict (tenant_id, external_id) where external_id is not null do nothing
    returning id into v_id;
    if v_id is not null then
      v_version := 1;
      v_change := 'created';
      exit;
    end if;
  end loop;
  if v_change is null then
    raise exception 'concurrent ingest did not settle' using errcode = '40001';
  end if;

  if v_change <> 'unchanged' then
    delete from kb_chunks where document_id = v_id;
    insert into kb_chunks (document_id, ordinal, heading_path, start_offset, end_offset, content, language)
    select v_id, c.o, array(select jsonb_array_elements_text(c.h)), c.s, c.e, c.c, v_language
      from jsonb_to_recordset(p_doc -> 'chunks') as c(o integer, h jsonb, s integer, e integer, c text);
    v_chunks := jsonb_array_length(p_doc -> 'chunks');
    update kb_documents set chunk_count = v_chunks where id = v_id;
  end if;

  return jsonb_build_object('id', v_id, 'externalId', v_external_id, 'version', v_version, 'chunks', v_chunks,
                            'contentSha256', v_sha, 'change', v_change, 'deduplicated', v_change = 'unchanged');
end
$$;

