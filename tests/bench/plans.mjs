// The bench's tenants measure throughput, not their plan: a `bench` plan with limits no bench
// reaches, given to the tenants a bench names (a Stripe customer and an active subscription
// on the `bench` price, written straight into the bench's throwaway database). Rows that
// measure the limits themselves (the limiter burst, far-stores' 429) keep the free plan.
//
//   await generousPlan(["bench-1", "bench-2"]);

import pg from "pg";
import { stackEnv } from "../support/bundle.mjs";

export async function generousPlan(tenants) {
  const db = new pg.Client({ connectionString: stackEnv().postgresUrl });
  await db.connect();
  try {
    await db.query(
      `insert into plans (lookup_key, name, agent_requests_per_minute, agent_runs_per_period, llm_tokens_per_period, kb_documents)
       values ('bench', 'Bench (no limit reached)', 100000000, 1000000000, 1000000000000, 100000000)
       on conflict (lookup_key) do nothing`,
    );
    await db.query(
      `with t as (select unnest($1::text[]) as tenant)
       , c as (insert into billing_customers (stripe_customer_id, tenant_id) select 'cus_bench_' || tenant, tenant from t on conflict do nothing returning stripe_customer_id)
       insert into billing_subscriptions (stripe_subscription_id, stripe_customer_id, status, price_id, price_lookup_key, cancel_at_period_end,
         current_period_start, current_period_end, source_event_id, source_event_created)
       select 'sub_bench_' || tenant, 'cus_bench_' || tenant, 'active', 'price_bench', 'bench', false, now(), now() + interval '30 days',
              'evt_bench_' || tenant, extract(epoch from now())::bigint
         from t on conflict do nothing`,
      [tenants],
    );
  } finally {
    await db.end();
  }
}
