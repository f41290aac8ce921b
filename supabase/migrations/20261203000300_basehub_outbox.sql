-- BaseHub deliveries applied exactly once: the dedupe record and the work the delivery owes
-- (cache invalidation, the re-ingest job) are written in ONE transaction, as an outbox row.
-- The webhooks Worker claims the row with a lease, does each effect, and records which ones
-- are done; a redelivery of a half-applied event, or the Worker's cron, claims it again and
-- finishes only what is missing. Concurrent identical deliveries: one claims, the rest see a
-- duplicate.

create table public.webhook_outbox (
  provider       text not null,
  event_id       text not null,
  tenant_id      text not null,
  -- The re-ingest job as queued (camelCase `ReingestJob`) and the blocks to invalidate.
  job            jsonb not null,
  block_ids      text[] not null,
  invalidated_at timestamptz,
  queued_at      timestamptz,
  done_at        timestamptz,
  attempts       integer not null default 0,
  claimed_until  timestamptz,
  last_error     text,
  created_at     timestamptz not null default now(),
  primary key (provider, event_id),
  foreign key (provider, event_id) references public.webhook_events (provider, event_id) on delete cascade
);
create index webhook_outbox_pending on public.webhook_outbox (created_at) where done_at is null;

alter table public.webhook_outbox enable row level security;
alter table public.webhook_outbox force row level security;
revoke all on public.webhook_outbox from anon, authenticated;
grant all on public.webhook_outbox to service_role;
create policy service_only on public.webhook_outbox for all to service_role using (true) with check (true);

-- A claimed outbox row: what is still to do. `outcome` is `claimed` (do the missing
-- effects), `busy` (another delivery holds the lease) or `done` (nothing left).
create type public.outbox_claim as (outcome text, invalidated boolean, queued boolean, job jsonb, block_ids text[]);

create or replace function public.basehub_claim(p_event_id text, p_lease_secs integer)
returns setof public.outbox_claim
language plpgsql
set search_path = public, pg_temp
as $$
declare
  v_claim public.outbox_claim;
begin
  update webhook_outbox
     set claimed_until = now() + make_interval(secs => p_lease_secs), attempts = attempts + 1
   where provider = 'basehub' and event_id = p_event_id and done_at is null
     and (claimed_until is null or claimed_until < now())
  returning 'claimed', invalidated_at is not null, queued_at is not null, job, block_ids into v_claim;
  if found then
    return next v_claim;
    return;
  end if;
  -- No row (an event recorded before the outbox existed) counts as done.
  return query
    select case when exists (select 1 from webhook_outbox o where o.provider = 'basehub' and o.event_id = p_event_id and o.done_at is null)
                then 'busy' else 'done' end,
           null::boolean, null::boolean, null::jsonb, null::text[];
end
$$;

-- The delivery: its dedupe record and its outbox row, claimed by this delivery, or the
-- claim of an earlier delivery's unfinished row.
create or replace function public.basehub_accept(p_event_id text, p_event_type text, p_tenant text,
                                                 p_block_ids text[], p_job jsonb, p_lease_secs integer)
returns setof public.outbox_claim
language plpgsql
set search_path = public, pg_temp
as $$
begin
  insert into webhook_events (provider, event_id, event_type, outcome)
  values ('basehub', p_event_id, p_event_type, 'pending')
  on conflict (provider, event_id) do nothing;
  if found then
    insert into webhook_outbox (provider, event_id, tenant_id, job, block_ids, attempts, claimed_until)
    values ('basehub', p_event_id, p_tenant, p_job, p_block_ids, 1, now() + make_interval(secs => p_lease_secs));
    return query select 'claimed'::text, false, false, p_job, p_block_ids;
    return;
  end if;
  return query select * from public.basehub_claim(p_event_id, p_lease_secs);
end
$$;

-- What the claimant managed: effects done are recorded, the lease is given back, and the
-- event is `applied` once nothing is left.
create or replace function public.basehub_progress(p_event_id text, p_invalidated boolean, p_queued boolean, p_error text)
returns boolean
language plpgsql
set search_path = public, pg_temp
as $$
declare
  v_done boolean;
begin
  update webhook_outbox
     set invalidated_at = coalesce(invalidated_at, case when p_invalidated then now() end),
         queued_at = coalesce(queued_at, case when p_queued then now() end),
         done_at = case when (invalidated_at is not null or p_invalidated) and (queued_at is not null or p_queued) then now() end,
         claimed_until = null,
         last_error = p_error
   where provider = 'basehub' and event_id = p_event_id
  returning done_at is not null into v_done;
  if v_done then
    update webhook_events set outcome = 'applied' where provider = 'basehub' and event_id = p_event_id;
  end if;
  return coalesce(v_done, false);
end
$$;

-- The cron's sweep: unfinished rows nobody holds, older than `p_min_age_secs` (a delivery
-- in flight is left to finish), claimed in one statement.
create or replace function public.basehub_due(p_min_age_secs integer, p_lease_secs integer, p_limit integer)
returns table (event_id text, invalidated boolean, queued boolean, job jsonb, block_ids text[], attempts integer)
language sql
set search_path = public, pg_temp
as $$
  update webhook_outbox o
     set claimed_until = now() + make_interval(secs => p_lease_secs), attempts = o.attempts + 1
   where (o.provider, o.event_id) in (
           select provider, event_id from webhook_outbox
            where provider = 'basehub' and done_at is null
              and (claimed_until is null or claimed_until < now())
              and created_at < now() - make_interval(secs => p_min_age_secs)
            order by created_at
            limit p_limit
            for update skip locked)
  returning o.event_id, o.invalidated_at is not null, o.queued_at is not null, o.job, o.block_ids, o.attempts
$$;

revoke all on function public.basehub_claim(text, integer) from public, anon, authenticated;
revoke all on function public.basehub_accept(text, text, text, text[], jsonb, integer) from public, anon, authenticated;
revoke all on function public.basehub_progress(text, boolean, boolean, text) from public, anon, authenticated;
revoke all on function public.basehub_due(integer, integer, integer) from public, anon, authenticated;
grant execute on function public.basehub_claim(text, integer) to service_role;
grant execute on function public.basehub_accept(text, text, text, text[], jsonb, integer) to service_role;
grant execute on function public.basehub_progress(text, boolean, boolean, text) to service_role;
grant execute on function public.basehub_due(integer, integer, integer) to service_role;
