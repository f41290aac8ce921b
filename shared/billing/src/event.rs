use serde::Deserialize;
use serde_json::Value;

/// A Stripe event envelope (`evt_…`).
#[derive(Debug, Clone, Deserialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// Seconds since the epoch when Stripe created the event: the order of truth, since
    /// deliveries arrive in any order.
    pub created: i64,
    pub data: EventData,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EventData {
    pub object: Value,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CheckoutSession {
    pub client_reference_id: Option<String>,
    pub customer: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Subscription {
    pub id: String,
    pub customer: String,
    pub status: String,
    #[serde(default)]
    pub cancel_at_period_end: bool,
    #[serde(default)]
    pub items: Items,
    /// Before API 2025-03-31 the period lived here; newer versions put it on the items.
    pub current_period_start: Option<i64>,
    pub current_period_end: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Items {
    #[serde(default)]
    pub data: Vec<Item>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Item {
    pub price: Option<Price>,
    pub current_period_start: Option<i64>,
    pub current_period_end: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Price {
    pub id: Option<String>,
    pub lookup_key: Option<String>,
}

impl Subscription {
    /// The first item carries the plan (one price per subscription in our catalogue).
    pub fn price(&self) -> Option<&Price> {
        self.items.data.iter().find_map(|i| i.price.as_ref())
    }

    pub fn period(&self) -> (Option<i64>, Option<i64>) {
        let start = self.items.data.iter().filter_map(|i| i.current_period_start).min().or(self.current_period_start);
        let end = self.items.data.iter().filter_map(|i| i.current_period_end).max().or(self.current_period_end);
        (start.filter(|t| plausible(*t)), end.filter(|t| plausible(*t)))
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Invoice {
    pub id: String,
    pub customer: Option<String>,
    pub period_start: Option<i64>,
    pub period_end: Option<i64>,
    #[serde(default)]
    pub lines: Lines,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Lines {
    #[serde(default)]
    pub data: Vec<Line>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Line {
    pub period: Option<LinePeriod>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LinePeriod {
    pub start: i64,
    pub end: i64,
}

/// Epoch seconds Postgres can store as a timestamp and Stripe could mean (1970 to 9999).
pub fn plausible(epoch_secs: i64) -> bool {
    (0..=253_402_300_799).contains(&epoch_secs)
}

impl Invoice {
    /// The service period the invoice paid for: its subscription line's period (the invoice's
    /// own period_start/end describe the previous period for subscription invoices).
    pub fn service_period(&self) -> Option<(i64, i64)> {
        self.lines
            .data
            .iter()
            .filter_map(|l| l.period.as_ref())
            .map(|p| (p.start, p.end))
            .filter(|(s, e)| plausible(*s) && plausible(*e))
            .max_by_key(|(_, end)| *end)
            .or(match (self.period_start, self.period_end) {
                (Some(s), Some(e)) if e > s && plausible(s) && plausible(e) => Some((s, e)),
                _ => None,
            })
    }
}
