-- Billing state from Stripe, plan limits, and the exactly-once ledger of webhook deliveries.
-- Written only by the webhooks Worker, which runs as service_role (RLS-exempt by design);
-- tenants may read their own billing rows through RLS.

-- Plans by Stripe price lookup_key. 'free' applies to tenants without a live subscription.
create table public.plans (
  lookup_key                 text primary key check (lookup_key ~ '^[a-z0-9_]{1,64}$'),
  name                       text not null,
  agent_requests_per_minute  integer not null check (agent_requests_per_minute > 0),
  agent_runs_per_period      integer not null check (agent_runs_per_period >= 0),
  llm_tokens_per_period      bigint  not null check (llm_tokens_per_period >= 0),
  kb_documents               integer not null check (kb_documents >= 0)
);

insert into public.plans values
  ('free',     'Free',      20,    200,    200000,    100),
  ('pro',      'Pro',      120,   5000,   5000000,   5000),
  ('business', 'Business', 600,  50000,  50000000, 100000)
on conflict (lookup_key) do nothing;

-- Which Stripe customer pays for which tenant (checkout.session.completed, client_reference_id).
create table public.billing_customers (
  stripe_customer_id  text primary key,
  tenant_id           text not null unique check (tenant_id ~ '^[A-Za-z0-9_-]{1,128}$'),
  delinquent          boolean not null default false,   -- invoice.payment_failed until invoice.paid
  linked_at           timestamptz not null default now(),
  updated_at          timestamptz not null default now()
);

-- The newest known state of each subscription. Stripe delivers out of order, so every write
-- carries the event's `created` and a row is only replaced by a state at least as new.
create table public.billing_subscriptions (
  stripe_subscription_id  text primary key,
  stripe_customer_id      text not null,
  status                  text not null check (status in
                            ('trialing','active','past_due','canceled','unpaid','incomplete','incomplete_expired','paused')),
  price_id                text,
  price_lookup_key        text,
  cancel_at_period_end    boolean not null default false,
  current_period_start    timestamptz,
  current_period_end      timestamptz,
  source_event_id         text not null,
  source_event_created    bigint not null,
  updated_at              timestamptz not null default now()
);
create index billing_subscriptions_customer on public.billing_subscriptions (stripe_customer_id);

-- Usage periods, started by invoice.paid; the agent counts runs and tokens against them.
create table public.usage_periods (
  tenant_id      text not null,
  period_start   timestamptz not null,
  period_end     timestamptz not null,
  invoice_id     text not null unique,
  agent_runs     integer not null default 0,
  llm_tokens     bigint not null default 0,
  primary key (tenant_id, period_start)
);

-- Every delivery applied, by provider and the provider's event id (or a body hash where the
-- provider has no id): inserted in the same transaction as the event's effect.
create table public.webhook_events (
  provider      text not null check (provider in ('stripe', 'basehub')),
  event_id      text not null,
  event_type    text not null,
  outcome       text not null,               -- applied | ignored | stale
  received_at   timestamptz not null default now(),
  primary key (provider, event_id)
);

-- What a tenant's limits are right now: its live subscription's plan, else 'free'.
create view public.tenant_plans with (security_invoker = true) as
select c.tenant_id,
       coalesce(p.lookup_key, 'free') as plan,
       coalesce(s.status, 'none') as status,
       c.delinquent,
       s.current_period_start,
       s.current_period_end,
       coalesce(p.agent_requests_per_minute, f.agent_requests_per_minute) as agent_requests_per_minute,
       coalesce(p.agent_runs_per_period, f.agent_runs_per_period) as agent_runs_per_period,
       coalesce(p.llm_tokens_per_period, f.llm_tokens_per_period) as llm_tokens_per_period,
       coalesce(p.kb_documents, f.kb_documents) as kb_documents
from public.billing_customers c
cross join (select * from public.plans where lookup_key = 'free') f
left join lateral (
  select * from public.billing_subscriptions s
  where s.stripe_customer_id = c.stripe_customer_id
    and s.status in ('trialing', 'active', 'past_due')
  order by s.source_event_created desc
  limit 1
) s on true
left join public.plans p on p.lookup_key = s.price_lookup_key;

do $$
declare t text;
begin
  foreach t in array array['plans', 'billing_customers', 'billing_subscriptions', 'usage_periods', 'webhook_events'] loop
    execute format('alter table public.%I enable row level security', t);
    execute format('alter table public.%I force row level security', t);
    execute format('revoke all on public.%I from anon, authenticated', t);
    execute format('grant all on public.%I to service_role', t);
  end loop;
end
$$;

-- Tenants may read the plan catalogue and their own billing rows; nothing else.
create policy plans_readable on public.plans for select to authenticated using (true);
grant select on public.plans to authenticated;
create policy own_customer on public.billing_customers for select to authenticated
  using (tenant_id = (select public.request_tenant_id()));
grant select on public.billing_customers to authenticated;
create policy own_usage on public.usage_periods for select to authenticated
  using (tenant_id = (select public.request_tenant_id()));
grant select on public.usage_periods to authenticated;
create policy own_subscriptions on public.billing_subscriptions for select to authenticated
  using (stripe_customer_id in (select stripe_customer_id from public.billing_customers
                                where tenant_id = (select public.request_tenant_id())));
grant select on public.billing_subscriptions to authenticated;
grant select on public.tenant_plans to authenticated, service_role;

-- service_role is RLS-exempt (bypassrls), but forced RLS still needs a policy for the owner
-- role the migrations run as to keep working in maintenance sessions.
grant usage on schema public to service_role;
