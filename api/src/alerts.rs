//! Live hotlist alerts: the [`AlertHub`] is this node's [`AlertSink`] (the engine hands it
//! each applied batch's hits) and serves `GET /v1/tenants/{tenant}/alerts` as a
//! Server-Sent Events stream.
//!
//! Every replica applies every batch, so a client may connect to any node. Each event's SSE
//! id is the alert id (`{log index}-{hit}`), the same on every node; a client that
//! reconnects (to any node) with `Last-Event-ID` first gets every held alert after that id,
//! then the live ones. The hub holds the newest [`AlertHub::capacity`] alerts of each tenant
//! in memory since the node started: older ones, or ones raised before a restart, are not
//! replayed (a reconnect that asks for an id older than the oldest held gets an `alerts_gap`
//! event first, so the client knows it may have missed some and can run a search).

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::stream::{self, Stream};
use serde::Serialize;
use sightline_storage::alerts::{Alert, AlertId, AlertSink};
use sightline_storage::command::HotlistMatch;
use tokio::sync::{broadcast, watch};

use crate::error::{ApiError, ErrorCode};
use crate::json::Hit;
use crate::search::body::Consistency;
use crate::search::prepare;
use crate::AppState;

/// Alerts held per tenant for reconnecting clients, by default.
pub const DEFAULT_HELD: usize = 10_000;

/// One alert, rendered once for every stream that sends it.
#[derive(Debug)]
pub struct AlertEvent {
    tenant: u32,
    id: AlertId,
    json: String,
}

/// The body of one `hotlist_hit` event.
#[derive(Serialize)]
struct AlertJson<'a> {
    id: String,
    hotlist: &'a str,
    listed_plate: &'a str,
    #[serde(rename = "match")]
    matching: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_edits: Option<u8>,
    read: Hit<'a>,
}

fn render(alert: &Alert) -> String {
    let (matching, max_edits) = match alert.matching {
        HotlistMatch::Exact => ("exact", None),
        HotlistMatch::Fuzzy { max_edits } => ("fuzzy", Some(max_edits)),
    };
    let body = AlertJson {
        id: alert.id.encode(),
        hotlist: &alert.hotlist,
        listed_plate: &alert.listed_plate,
        matching,
        max_edits,
        read: Hit::of(&alert.read),
    };
    serde_json::to_string(&body).unwrap_or_default()
}

#[derive(Default)]
struct Held {
    by_tenant: HashMap<u32, VecDeque<Arc<AlertEvent>>>,
}

/// This node's alerts: held per tenant, fanned out to live streams.
pub struct AlertHub {
    held: Mutex<Held>,
    capacity: usize,
    live: broadcast::Sender<Arc<AlertEvent>>,
    closed: watch::Sender<bool>,
}

impl std::fmt::Debug for AlertHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertHub")
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl AlertHub {
    /// A hub that holds the newest `capacity` alerts of each tenant.
    pub fn new(capacity: usize) -> AlertHub {
        let (live, _) = broadcast::channel(4096);
        let (closed, _) = watch::channel(false);
        AlertHub {
            held: Mutex::new(Held::default()),
            capacity: capacity.max(1),
            live,
            closed,
        }
    }

    /// How many alerts of each tenant are held for reconnecting clients.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Ends every stream (the node is shutting down: open streams would hold the graceful
    /// shutdown forever).
    pub fn close(&self) {
        self.closed.send_replace(true);
    }

    /// The held alerts of `tenant` after `after` (all held when `None`), and whether some
    /// alert after `after` is no longer held.
    fn held_after(&self, tenant: u32, after: Option<AlertId>) -> (Vec<Arc<AlertEvent>>, bool) {
        let held = match self.held.lock() {
            Ok(h) => h,
            Err(poisoned) => poisoned.into_inner(),
        };
        let Some(ring) = held.by_tenant.get(&tenant) else {
            return (Vec::new(), false);
        };
        let Some(after) = after else {
            return (ring.iter().cloned().collect(), false);
        };
        let start = ring.partition_point(|e| e.id <= after);
        // The ring dropped its oldest alerts once full: if the first held one is newer than
        // `after` and the ring is full, something between them may be gone.
        let gap =
            start == 0 && ring.len() >= self.capacity && ring.front().is_some_and(|e| e.id > after);
        (ring.iter().skip(start).cloned().collect(), gap)
    }
}

impl AlertSink for AlertHub {
    fn publish(&self, alerts: Vec<Alert>) {
        let mut fresh = Vec::with_capacity(alerts.len());
        {
            let mut held = match self.held.lock() {
                Ok(h) => h,
                Err(poisoned) => poisoned.into_inner(),
            };
            for alert in &alerts {
                let ring = held.by_tenant.entry(alert.tenant).or_default();
                // A batch re-applied after a restart raises the same ids again.
                if ring.back().is_some_and(|newest| newest.id >= alert.id) {
                    continue;
                }
                let event = Arc::new(AlertEvent {
                    tenant: alert.tenant,
                    id: alert.id,
                    json: render(alert),
                });
                ring.push_back(event.clone());
                if ring.len() > self.capacity {
                    ring.pop_front();
                }
                fresh.push(event);
            }
        }
        for event in fresh {
            // No receiver is not an error: nobody is listening.
            let _ = self.live.send(event);
        }
    }
}

fn sse_event(event: &AlertEvent) -> Event {
    Event::default()
        .id(event.id.encode())
        .event("hotlist_hit")
        .data(&event.json)
}

/// What a stream still has to send.
struct Feed {
    hub: Arc<AlertHub>,
    tenant: u32,
    live: broadcast::Receiver<Arc<AlertEvent>>,
    closed: watch::Receiver<bool>,
    queued: VecDeque<Event>,
    last: Option<AlertId>,
    /// Counts this stream against its token's cap until the client goes.
    _slot: crate::limits::StreamSlot,
}

impl Feed {
    fn queue(&mut self, events: Vec<Arc<AlertEvent>>) {
        for event in events {
            if self.last.is_some_and(|last| event.id <= last) {
                continue;
            }
            self.last = Some(event.id);
            self.queued.push_back(sse_event(&event));
        }
    }

    async fn next(mut self) -> Option<(Result<Event, Infallible>, Feed)> {
        loop {
            if let Some(event) = self.queued.pop_front() {
                crate::metrics::METRICS.alert_events.inc();
                return Some((Ok(event), self));
            }
            if *self.closed.borrow() {
                return None;
            }
            tokio::select! {
                received = self.live.recv() => match received {
                    Ok(event) if event.tenant == self.tenant => self.queue(vec![event]),
                    Ok(_) => {}
                    // This stream fell behind the live channel: catch up from what is held.
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        let (events, _) = self.hub.held_after(self.tenant, self.last);
                        self.queue(events);
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
                _ = self.closed.changed() => return None,
            }
        }
    }
}

/// `GET /v1/tenants/{tenant}/alerts`: a Server-Sent Events stream of `hotlist_hit` events
/// (`data` is `{"id", "hotlist", "listed_plate", "match", "max_edits"?, "read": {...}}`);
/// `Last-Event-ID` resumes after that alert.
pub async fn get_alerts(
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<crate::auth::Principal>,
    Path(tenant_name): Path<String>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let after = match headers.get("last-event-id") {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(AlertId::parse)
                .ok_or_else(|| {
                    ApiError::field(
                        ErrorCode::InvalidRequest,
                        "Last-Event-ID",
                        "must be an alert id as sent in an event's id (`{index}-{hit}`)",
                    )
                })?,
        ),
    };
    let (_, tenant) = prepare(&state, Consistency::Linearizable, &tenant_name).await?;
    let slot = state.limits.open_stream(&caller)?;
    crate::audit::request(
        &state,
        Some(&caller),
        Some(&tenant_name),
        "alerts_subscribe",
        200,
    )
    .await;
    let hub = state.alerts.clone();
    // Subscribe before reading what is held, so nothing raised in between is missed (the
    // feed drops what it has already sent).
    let live = hub.live.subscribe();
    let closed = hub.closed.subscribe();
    let mut feed = Feed {
        hub: hub.clone(),
        tenant: tenant.id,
        live,
        closed,
        queued: VecDeque::new(),
        last: None,
        _slot: slot,
    };
    match after {
        Some(after) => {
            let (events, gap) = hub.held_after(tenant.id, Some(after));
            if gap {
                feed.queued.push_back(Event::default().event("alerts_gap").data(format!(
                    "{{\"after\":\"{}\",\"reason\":\"alerts after this id are no longer held; search for what may be missing\"}}",
                    after.encode()
                )));
            }
            feed.last = Some(after);
            feed.queue(events);
        }
        // A new client gets live alerts only, as a subscriber to a topic would.
        None => {
            let (events, _) = hub.held_after(tenant.id, None);
            feed.last = events.last().map(|e| e.id);
        }
    }
    let stream = stream::unfold(feed, Feed::next);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sightline_storage::record::PlateRead;

    fn alert(tenant: u32, index: u64, seq: u32) -> Alert {
        Alert {
            tenant,
            id: AlertId { index, seq },
            hotlist: "stolen".into(),
            listed_plate: "ABC123".into(),
            matching: HotlistMatch::Exact,
            read: PlateRead {
                id: format!("r-{index}-{seq}"),
                camera_id: "cam-1".into(),
                captured_at: 1_795_000_000_000,
                plate: "ABC123".into(),
                plate_raw: "ABC 123".into(),
                region: None,
                confidence: None,
                lat: 41.88,
                lon: -87.63,
                vehicle: None,
                direction: None,
                image_key: None,
                ingested_at: 1_795_000_000_000,
            },
        }
    }

    fn ids(events: &[Arc<AlertEvent>]) -> Vec<String> {
        events.iter().map(|e| e.id.encode()).collect()
    }

    #[test]
    fn the_hub_holds_the_newest_alerts_per_tenant_and_ignores_repeats() {
        let hub = AlertHub::new(3);
        hub.publish(vec![alert(1, 5, 0), alert(1, 5, 1), alert(2, 5, 2)]);
        hub.publish(vec![alert(1, 5, 1)]); // the same batch applied again
        hub.publish(vec![alert(1, 7, 0), alert(1, 8, 0)]);
        let (held, gap) = hub.held_after(1, None);
        assert_eq!(ids(&held), ["5-1", "7-0", "8-0"]);
        assert!(!gap);
        let (after, gap) = hub.held_after(1, Some(AlertId { index: 7, seq: 0 }));
        assert_eq!(ids(&after), ["8-0"]);
        assert!(!gap);
        // 5-0 was dropped: a client that saw only 4-9 may have missed it.
        let (after, gap) = hub.held_after(1, Some(AlertId { index: 4, seq: 9 }));
        assert_eq!(ids(&after), ["5-1", "7-0", "8-0"]);
        assert!(gap);
        assert_eq!(ids(&hub.held_after(2, None).0), ["5-2"]);
    }

    #[test]
    fn an_event_carries_the_alert_id_hotlist_and_read() {
        let json: serde_json::Value = serde_json::from_str(&render(&alert(1, 5, 2))).unwrap();
        assert_eq!(json["id"], "5-2");
        assert_eq!(json["hotlist"], "stolen");
        assert_eq!(json["match"], "exact");
        assert_eq!(json["read"]["plate"], "ABC123");
        assert_eq!(json["read"]["id"], "r-5-2");
    }
}
