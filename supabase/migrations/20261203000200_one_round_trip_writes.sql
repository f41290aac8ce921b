-- Writes that used to be a conversation between the edge and the database (look up, decide,
-- insert, update, record) done server-side in one statement each, so that a Worker 50 ms
-- from its database pays one round trip per request instead of ten. The Worker still
-- validates and prepares everything (chunking, event parsing); these functions only write.

-- A tenant's plan and limits as JSON (the free plan when the tenant has no billing yet), in
-- the shape the edge caches it: one statement instead of two. `paymentRequired` is null, or
-- why runs must be refused with 402 (the grace rule, in one place):
--   - the tenant's latest subscription is `unpaid`, `canceled` or `incomplete_expired`: its
--     paid service ended (a tenant that never subscribed keeps the free plan);
--   - it is `past_due` for longer than 7 days: Stripe retries a failed renewal for days, and
--     runs go on during that first week of the period (`current_period_start` + 7 days).
create or replace function public.plan_of_tenant(p_tenant text)
returns jsonb
language sql stable
set search_path = public, pg_temp
as $$
  select jsonb_build_object(
    'plan', coalesce(t.plan, 'free'),
    'status', coalesce(t.status, 'none'),
    'delinquent', coalesce(t.delinquent, false),
    'agentRequestsPerMinute', coalesce(t.agent_requests_per_minute, f.agent_requests_per_minute),
    'agentRunsPerPeriod', coalesce(t.agent_runs_per_period, f.agent_runs_per_period),
    'llmTokensPerPeriod', coalesce(t.llm_tokens_per_period, f.llm_tokens_per_period),
    'kbDocuments', coalesce(t.kb_documents, f.kb_documents),
    'paymentRequired', case
      when latest.status in ('unpaid', 'canceled', 'incomplete_expired') then 'subscription ' || latest.status
      when latest.status = 'past_due' and now() > coalesce(latest.current_period_start, latest.updated_at) + interval '7 days'
        then 'subscription past due for more than 7 days'
    end)
  from public.plans f
  left join public.tenant_plans t on t.tenant_id = p_tenant
  left join lateral (
    select s.status, s.current_period_start, s.updated_at
      from public.billing_subscriptions s
      join public.billing_customers c on c.stripe_customer_id = s.stripe_customer_id
     where c.tenant_id = p_tenant
     order by s.source_event_created desc
     limit 1
  ) latest on true
  where f.lookup_key = 'free'
$$;
revoke all on function public.plan_of_tenant(text) from public, anon, authenticated;
grant execute on function public.plan_of_tenant(text) to service_role;

-- One verified Stripe event, applied exactly once. `p_event` is what the edge made of it:
-- {id, type, created, effect} where effect is null (nothing to do) or one of
--   {kind: 'checkout', tenant, customer}
--   {kind: 'subscription', id, customer, status, priceId, lookupKey, cancelAtPeriodEnd, start, end}
--   {kind: 'invoice_paid', id, customer, start, end}
--   {kind: 'payment_failed', customer}
-- The webhook_events insert comes first: a concurrent duplicate waits on its primary key
-- until this transaction ends, then finds the row. Answers the outcome, the tenant whose
-- billing changed, and that tenant's plan after the change (null unless applied).
create or replace function public.apply_stripe_event(p_event jsonb)
returns table (applied_outcome text, applied_tenant text, applied_plan jsonb)
language plpgsql
set search_path = public, pg_temp
as $$
declare
  v_id text := p_event ->> 'id';
  v_effect jsonb := p_event -> 'effect';
  v_customer text := v_effect ->> 'customer';
  v_outcome text := 'ignored';
  v_tenant text;
  v_rows integer;
begin
  insert into webhook_events (provider, event_id, event_type, outcome)
  values ('stripe', v_id, p_event ->> 'type', 'pending')
  on conflict (provider, event_id) do nothing;
  get diagnostics v_rows = row_count;
  if v_rows = 0 then
    return query select 'duplicate'::text, null::text, null::jsonb;
    return;
  end if;

  case coalesce(v_effect ->> 'kind', '')
  when 'checkout' then
    v_tenant := v_effect ->> 'tenant';
    -- A tenant re-subscribing with a new customer moves its link; a customer never changes tenant.
    delete from billing_customers where tenant_id = v_tenant and stripe_customer_id <> v_customer;
    insert into billing_customers (stripe_customer_id, tenant_id) values (v_customer, v_tenant)
    on conflict (stripe_customer_id) do nothing;
    v_outcome := 'applied';
  when 'subscription' then
    -- Newest state wins: an older event (by Stripe's `created`) never overwrites a newer one.
    insert into billing_subscriptions as s (stripe_subscription_id, stripe_customer_id, status, price_id, price_lookup_key,
        cancel_at_period_end, current_period_start, current_period_end, source_event_id, source_event_created)
    values (v_effect ->> 'id', v_customer, v_effect ->> 'status', v_effect ->> 'priceId', v_effect ->> 'lookupKey',
        coalesce((v_effect ->> 'cancelAtPeriodEnd')::boolean, false),
        to_timestamp((v_effect ->> 'start')::bigint), to_timestamp((v_effect ->> 'end')::bigint),
        v_id, (p_event ->> 'created')::bigint)
    on conflict (stripe_subscription_id) do update set
        status = excluded.status, price_id = excluded.price_id, price_lookup_key = excluded.price_lookup_key,
        cancel_at_period_end = excluded.cancel_at_period_end,
        current_period_start = excluded.current_period_start, current_period_end = excluded.current_period_end,
        source_event_id = excluded.source_event_id, source_event_created = excluded.source_event_created,
        updated_at = now()
    where s.source_event_created <= excluded.source_event_created;
    get diagnostics v_rows = row_count;
    v_outcome := case when v_rows = 1 then 'applied' else 'stale' end;
    select c.tenant_id into v_tenant from billing_customers c where c.stripe_customer_id = v_customer;
  when 'invoice_paid' then
    update billing_customers set delinquent = false, updated_at = now() where stripe_customer_id = v_customer;
    select c.tenant_id into v_tenant from billing_customers c where c.stripe_customer_id = v_customer;
    if v_tenant is not null and v_effect ? 'start' and v_effect ? 'end' then
      insert into usage_periods (tenant_id, period_start, period_end, invoice_id)
      values (v_tenant, to_timestamp((v_effect ->> 'start')::bigint), to_timestamp((v_effect ->> 'end')::bigint), v_effect ->> 'id')
      on conflict do nothing;
    end if;
    v_outcome := case when v_tenant is not null then 'applied' else 'ignored' end;
  when 'payment_failed' then
    update billing_customers set delinquent = true, updated_at = now() where stripe_customer_id = v_customer;
    get diagnostics v_rows = row_count;
    select c.tenant_id into v_tenant from billing_customers c where c.stripe_customer_id = v_customer;
    v_outcome := case when v_rows > 0 then 'applied' else 'ignored' end;
  else
    v_outcome := 'ignored';
  end case;

  update webhook_events set outcome = v_outcome where provider = 'stripe' and event_id = v_id;
  return query select v_outcome, v_tenant,
    case when v_outcome = 'applied' and v_tenant is not null then public.plan_of_tenant(v_tenant) end;
end
$$;
revoke all on function public.apply_stripe_event(jsonb) from public, anon, authenticated;
grant execute on function public.apply_stripe_event(jsonb) to service_role;

-- Stores knowledge-base documents as the calling tenant (security invoker: row-level
-- security applies), with the request's Idempotency-Key when it has one, all in one
-- statement. `p_documents` is a JSON array of prepared documents:
--   {externalId, title, content, contentType, source, tags, metadata, contentSha256,
--    chunks: [{o: ordinal, h: [heading…], s: start, e: end, c: text}]}
-- Each document is new (created), a new version of the one with the same externalId
-- (updated), or unchanged (identical content: nothing written). `p_batch` shapes the answer
-- as the batch route's. Answers `kind` 'done' (status, body: also stored under the key),
-- 'replay' (the stored status and body of the key's first use) or 'reused' (the key was used
-- with a different request body; nothing written).
-- The calling tenant's document quota (its plan's `kb_documents`). Security definer so that
-- an `authenticated` transaction can read it; it answers only for the tenant of the
-- request's own verified claims.
create or replace function public.request_kb_document_quota()
returns integer
language sql stable security definer
set search_path = public, pg_temp
as $$ select (public.plan_of_tenant(public.request_tenant_id()) ->> 'kbDocuments')::integer $$;
revoke all on function public.request_kb_document_quota() from public, anon;
grant execute on function public.request_kb_document_quota() to authenticated, service_role;

create or replace function public.kb_ingest(p_documents jsonb, p_batch boolean,
                                            p_scope text, p_key text, p_request_hash text)
returns table (kind text, status integer, body jsonb)
language plpgsql
set search_path = public, pg_temp
as $$
declare
  v_doc jsonb;
  v_results jsonb := '[]'::jsonb;
  v_result jsonb;
  v_created integer := 0;
  v_status integer;
  v_body jsonb;
  v_claimed integer;
  v_stored record;
  v_quota integer;
begin
  if p_key is not null then
    -- The first transaction with a key inserts it; a concurrent one waits here on the
    -- uncommitted row, then sees the committed response (or goes ahead if it rolled back).
    insert into idempotency_keys (scope, key, request_hash, status, response)
    values (p_scope, p_key, p_request_hash, 0, 'null')
    on conflict (tenant_id, scope, key) do update
      set request_hash = excluded.request_hash, status = 0, response = 'null',
          created_at = now(), expires_at = now() + interval '24 hours'
      where idempotency_keys.expires_at <= now();
    get diagnostics v_claimed = row_count;
    if v_claimed = 0 then
      select i.request_hash, i.status, i.response into v_stored
        from idempotency_keys i where i.scope = p_scope and i.key = p_key;
      if v_stored.request_hash <> p_request_hash then
        return query select 'reused'::text, null::integer, null::jsonb;
      else
        return query select 'replay'::text, v_stored.status, v_stored.response;
      end if;
      return;
    end if;
  end if;

  for v_doc in select value from jsonb_array_elements(p_documents) loop
    v_result := public.kb_ingest_one(v_doc);
    if v_result ->> 'change' = 'created' then
      v_created := v_created + 1;
    end if;
    v_results := v_results || jsonb_build_array(v_result);
  end loop;

  -- The plan's document quota, all or nothing: a batch that would pass it stores none of
  -- its documents (the exception rolls the whole transaction back).
  if v_created > 0 then
    v_quota := public.request_kb_document_quota();
    if (select count(*) from kb_documents) > v_quota then
      raise exception 'the kbDocuments quota of this plan (%) is used up', v_quota
        using errcode = 'SBQ01', detail = v_quota::text;
    end if;
  end if;

  v_status := case when v_created > 0 then 201 else 200 end;
  v_body := case when p_batch
    then jsonb_build_object('documents', v_results, 'created', v_created, 'count', jsonb_array_length(v_results))
    else v_results -> 0 end;
  if p_key is not null then
    update idempotency_keys set status = v_status, response = v_body where scope = p_scope and key = p_key;
  end if;
  return query select 'done'::text, v_status, v_body;
end
$$;

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
begin
  -- Two attempts: if a concurrent transaction inserts the same externalId between our
  -- lookup and our insert, the insert does nothing and the second lookup finds its row.
  for attempt in 1..2 loop
    if v_external_id is not null then
      select d.id, d.version, d.content_sha256, d.chunk_count into v_id, v_version, v_existing_sha, v_chunks
        from kb_documents d where d.external_id = v_external_id for update;
    else
      -- Without an external id, identical content is the same document.
      select d.id, d.version, d.content_sha256, d.chunk_count into v_id, v_version, v_existing_sha, v_chunks
        from kb_documents d where d.external_id is null and d.content_sha256 = v_sha
        order by d.created_at limit 1 for update;
    end if;
    if v_id is not null then
      if v_existing_sha = v_sha then
        v_change := 'unchanged';
      else
        v_version := v_version + 1;
        update kb_documents set title = p_doc ->> 'title', content = p_doc ->> 'content',
               content_type = p_doc ->> 'contentType', source = nullif(p_doc -> 'source', 'null'::jsonb),
               tags = array(select jsonb_array_elements_text(p_doc -> 'tags')),
               metadata = p_doc -> 'metadata', content_sha256 = v_sha, version = v_version, updated_at = now()
         where id = v_id;
        v_change := 'updated';
      end if;
      exit;
    end if;
    insert into kb_documents (external_id, title, content, content_type, source, tags, metadata, content_sha256)
    values (v_external_id, p_doc ->> 'title', p_doc ->> 'content', p_doc ->> 'contentType', nullif(p_doc -> 'source', 'null'::jsonb),
            array(select jsonb_array_elements_text(p_doc -> 'tags')), p_doc -> 'metadata', v_sha)
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
    insert into kb_chunks (document_id, ordinal, heading_path, start_offset, end_offset, content)
    select v_id, c.o, array(select jsonb_array_elements_text(c.h)), c.s, c.e, c.c
      from jsonb_to_recordset(p_doc -> 'chunks') as c(o integer, h jsonb, s integer, e integer, c text);
    v_chunks := jsonb_array_length(p_doc -> 'chunks');
    update kb_documents set chunk_count = v_chunks where id = v_id;
  end if;

  return jsonb_build_object('id', v_id, 'externalId', v_external_id, 'version', v_version, 'chunks', v_chunks,
                            'contentSha256', v_sha, 'change', v_change, 'deduplicated', v_change = 'unchanged');
end
$$;

revoke all on function public.kb_ingest(jsonb, boolean, text, text, text) from public, anon;
revoke all on function public.kb_ingest_one(jsonb) from public, anon;
grant execute on function public.kb_ingest(jsonb, boolean, text, text, text) to authenticated, service_role;
grant execute on function public.kb_ingest_one(jsonb) to authenticated, service_role;

-- The tenant's current usage period, started when missing (a calendar month until Stripe
-- starts one). One definition for every function that counts usage.
create or replace function public.start_usage_period(p_tenant text)
returns void
language sql
set search_path = public, pg_temp
as $$
  insert into usage_periods (tenant_id, period_start, period_end, invoice_id)
  select p_tenant, date_trunc('month', now()), date_trunc('month', now()) + interval '1 month',
         'calendar:' || p_tenant || ':' || to_char(now(), 'YYYY-MM')
  where not exists (select 1 from usage_periods where tenant_id = p_tenant and period_start <= now() and now() < period_end)
  on conflict do nothing
$$;
revoke all on function public.start_usage_period(text) from public, anon, authenticated;
grant execute on function public.start_usage_period(text) to service_role;

-- charge_agent_run (20261203000100) as before, its period start now the shared one.
create or replace function public.charge_agent_run(p_tenant text, p_runs_limit bigint, p_tokens_limit bigint)
returns table (refused_quota text, quota_limit bigint, period_end_epoch bigint)
language plpgsql
set search_path = public, pg_temp
as $$
declare
  v_start timestamptz;
  v_end timestamptz;
  v_runs integer;
  v_tokens bigint;
begin
  perform public.start_usage_period(p_tenant);
  select period_start, period_end, agent_runs, llm_tokens into v_start, v_end, v_runs, v_tokens
    from usage_periods
   where tenant_id = p_tenant and period_start <= now() and now() < period_end
   order by period_start desc limit 1
   for update;
  if v_runs >= p_runs_limit then
    return query select 'agentRuns'::text, p_runs_limit, extract(epoch from v_end)::bigint;
  elsif v_tokens >= p_tokens_limit then
    return query select 'llmTokens'::text, p_tokens_limit, extract(epoch from v_end)::bigint;
  else
    update usage_periods set agent_runs = agent_runs + 1 where tenant_id = p_tenant and period_start = v_start;
    return query select null::text, null::bigint, extract(epoch from v_end)::bigint;
  end if;
end
$$;

-- A finished run's LLM tokens added to the tenant's current period: one statement, after the
-- response.
create or replace function public.record_llm_tokens(p_tenant text, p_tokens bigint)
returns void
language plpgsql
set search_path = public, pg_temp
as $$
begin
  perform public.start_usage_period(p_tenant);
  update usage_periods set llm_tokens = llm_tokens + p_tokens
   where tenant_id = p_tenant and period_start <= now() and now() < period_end;
end
$$;
revoke all on function public.record_llm_tokens(text, bigint) from public, anon, authenticated;
grant execute on function public.record_llm_tokens(text, bigint) to service_role;
