-- Charging a run to the tenant's period quota, server-side in one statement: the period is
-- started when missing (a calendar month until Stripe starts one), the row locked, the
-- quotas checked and the run counted — what used to be four statements and as many round
-- trips from the edge. Answers one row: the quota that refused (null when charged), its
-- limit, and when the period ends (epoch seconds).
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
  insert into usage_periods (tenant_id, period_start, period_end, invoice_id)
  select p_tenant, date_trunc('month', now()), date_trunc('month', now()) + interval '1 month',
         'calendar:' || p_tenant || ':' || to_char(now(), 'YYYY-MM')
  where not exists (select 1 from usage_periods where tenant_id = p_tenant and period_start <= now() and now() < period_end)
  on conflict do nothing;
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

-- Only trusted server-side work charges runs.
revoke all on function public.charge_agent_run(text, bigint, bigint) from public, anon, authenticated;
grant execute on function public.charge_agent_run(text, bigint, bigint) to service_role;
