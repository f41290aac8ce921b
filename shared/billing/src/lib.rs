//! Billing: what Stripe tells us, applied exactly once.
//!
//! - `event`: the parts of Stripe's event objects we use, parsed leniently (Stripe adds
//!   fields all the time; API 2025-03-31 moved the period bounds onto subscription items),
//! - `apply`: one event → its effect plus a row in `webhook_events`, in the caller's
//!   transaction (run as `service_role`), so a duplicate delivery finds the row and does nothing,
//! - `plans`: the limits a tenant has right now (`tenant_plans` view).
//!
//! Not for: signature checks (`sba-webhook-verify`) or HTTP.

pub mod apply;
pub mod event;
pub mod plans;

pub use apply::{apply, Applied, Outcome};
pub use event::Event;
pub use plans::{plan_for_tenant, TenantPlan};
