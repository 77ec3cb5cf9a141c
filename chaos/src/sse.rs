//! A Server-Sent Events client for a node's alert stream, as a browser's `EventSource`
//! would read it: a thread reads the stream and hands each event, stamped with the instant
//! it arrived, to the test through a channel.

use std::io::{BufRead, BufReader};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// One event of a stream.
#[derive(Debug, Clone)]
pub struct SseEvent {
    /// Its `id:` field.
    pub id: Option<String>,
    /// Its `event:` field (`message` when none).
    pub event: String,
    /// Its `data:` lines, joined with newlines.
    pub data: String,
    /// When the client read it.
    pub received: Instant,
}

/// An open stream; dropping it stops reading (the connection closes at the next keep-alive
/// comment or event at the latest).
pub struct SseStream {
    events: Receiver<Result<SseEvent, String>>,
    stop: Arc<AtomicBool>,
}

impl SseStream {
    /// Opens `url` with `Last-Event-ID: last_event_id` when given. Fails unless the node
    /// answers 200 with `text/event-stream`.
    pub fn open(url: &str, last_event_id: Option<&str>) -> Result<SseStream> {
        SseStream::open_with(url, None, last_event_id)
    }

    /// As [`SseStream::open`], sending `token` as the bearer token.
    pub fn open_with(
        url: &str,
        token: Option<&str>,
        last_event_id: Option<&str>,
    ) -> Result<SseStream> {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(5))
            .timeout_read(Duration::from_secs(60))
            .build();
        let mut request = agent.get(url).set("Accept", "text/event-stream");
        if let Some(id) = last_event_id {
            request = request.set("Last-Event-ID", id);
        }
        if let Some(token) = token {
            request = request.set("Authorization", &format!("Bearer {token}"));
        }
        let response = match request.call() {
            Ok(r) => r,
            Err(ureq::Error::Status(code, r)) => {
                bail!(
                    "{url} answered {code}: {}",
                    r.into_string().unwrap_or_default()
                )
            }
            Err(e) => return Err(e).with_context(|| format!("opening {url}")),
        };
        let content_type = response.content_type().to_string();
        if content_type != "text/event-stream" {
            bail!("{url} answered {content_type}, not text/event-stream");
        }
        let (tx, events) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let reader = BufReader::new(response.into_reader());
        std::thread::Builder::new()
            .name("sse-reader".into())
            .spawn(move || read_events(reader, &tx, &stopped))?;
        Ok(SseStream { events, stop })
    }

    /// The next event, waiting at most `within`; `None` if none came.
    pub fn next(&self, within: Duration) -> Result<Option<SseEvent>> {
        match self.events.recv_timeout(within) {
            Ok(Ok(event)) => Ok(Some(event)),
            Ok(Err(e)) => bail!("the stream failed: {e}"),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => bail!("the stream ended"),
        }
    }
}

impl Drop for SseStream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn read_events(
    reader: impl BufRead,
    tx: &mpsc::Sender<Result<SseEvent, String>>,
    stop: &AtomicBool,
) {
    let (mut id, mut event, mut data) = (None, None::<String>, Vec::<String>::new());
    for line in reader.lines() {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let line = match line {
            Ok(line) => line,
            Err(e) => {
                let _ = tx.send(Err(e.to_string()));
                return;
            }
        };
        if line.is_empty() {
            if !data.is_empty() || event.is_some() {
                let sent = tx.send(Ok(SseEvent {
                    id: id.take(),
                    event: event.take().unwrap_or_else(|| "message".into()),
                    data: data.join("\n"),
                    received: Instant::now(),
                }));
                if sent.is_err() {
                    return;
                }
            }
            data.clear();
            continue;
        }
        if line.starts_with(':') {
            continue; // a comment (keep-alive)
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line.as_str(), ""),
        };
        match field {
            "id" => id = Some(value.to_string()),
            "event" => event = Some(value.to_string()),
            "data" => data.push(value.to_string()),
            _ => {}
        }
    }
}
