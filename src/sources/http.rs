//! Shared HTTP plumbing for REST sources: one client, an auth header,
//! retries with exponential backoff and full jitter on 429 (honouring
//! `Retry-After`), 5xx and connection errors, retry counters for the
//! summary, errors that name the source, the target and the fix, and an
//! adaptive limit on requests in flight.

use crate::error::{Error, Result};
use crate::util::{error_chain, retry_after, Backoff};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// First retry delay (doubled each attempt, with jitter) and the longest one.
const RETRY_INITIAL: Duration = Duration::from_millis(500);
const RETRY_MAX: Duration = Duration::from_secs(30);

/// The retry policy of every source call, set once from the command line
/// (`--source-max-attempts`, `--source-retry-initial-ms`,
/// `--source-retry-max-ms`, `--source-retry-factor`); unset fields keep each source's defaults.
#[derive(Clone, Copy, Debug, Default)]
pub struct RetryPolicy {
    pub max_attempts: Option<u32>,
    pub initial: Option<Duration>,
    pub max: Option<Duration>,
    /// Growth of the delay per attempt (default 2: doubling).
    pub factor: Option<f64>,
}

static POLICY: std::sync::OnceLock<RetryPolicy> = std::sync::OnceLock::new();

pub fn set_retry_policy(p: RetryPolicy) {
    let _ = POLICY.set(p);
}

pub fn retry_policy() -> RetryPolicy {
    POLICY.get().copied().unwrap_or_default()
}

/// A backoff with the policy's delays (or the HTTP sources' defaults).
fn policy_backoff() -> Backoff {
    let p = retry_policy();
    Backoff::new(p.initial.unwrap_or(RETRY_INITIAL), p.max.unwrap_or(RETRY_MAX)).with_factor(p.factor)
}
/// Longest `Retry-After` waited for (a larger one is taken as this).
const RETRY_AFTER_MAX: Duration = Duration::from_secs(120);

pub struct HttpSource {
    pub client: reqwest::Client,
    kind: &'static str,
    target: String,
    /// (header name, value) sent with every request; the value is a secret.
    auth: Option<(&'static str, String)>,
    /// Hints for 401/403 and 404 answers.
    auth_hint: &'static str,
    not_found_hint: &'static str,
    attempts: u32,
    backoff: Backoff,
}

/// One answered request: its JSON body (`None` for an allowed 404) and how
/// many times the server throttled it (429) before it went through.
pub struct Answer {
    pub body: Option<serde_json::Value>,
    pub throttled: u32,
}

/// A filter flag's JSON text, parsed (a usage error naming the flag otherwise).
pub fn json_flag(flag: &str, value: &Option<String>) -> Result<Option<serde_json::Value>> {
    value
        .as_deref()
        .map(|f| serde_json::from_str(f).map_err(|e| Error::Usage(format!("{flag} is not valid JSON: {e}"))))
        .transpose()
}

/// The `name` of every object in a JSON array (collection listings).
pub fn names_in(list: &serde_json::Value) -> Vec<String> {
    list.as_array().map(|a| a.iter().filter_map(|c| c["name"].as_str().map(str::to_owned)).collect()).unwrap_or_default()
}

impl HttpSource {
    pub fn new(
        kind: &'static str,
        target: String,
        auth: Option<(&'static str, String)>,
        auth_hint: &'static str,
        not_found_hint: &'static str,
    ) -> Result<HttpSource> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(300))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| Error::Usage(format!("HTTP client: {e}")))?;
        let backoff = policy_backoff();
        let attempts = retry_policy().max_attempts.unwrap_or(4).max(1);
        Ok(HttpSource { client, kind, target, auth, auth_hint, not_found_hint, attempts, backoff })
    }

    /// The same client, credentials and hints for another target, with its
    /// own retry counters.
    pub fn retarget(&self, target: String) -> HttpSource {
        HttpSource {
            client: self.client.clone(),
            kind: self.kind,
            target,
            auth: self.auth.clone(),
            auth_hint: self.auth_hint,
            not_found_hint: self.not_found_hint,
            attempts: self.attempts,
            backoff: policy_backoff(),
        }
    }

    /// Attempts per request (default 4), for sources that expect rate
    /// limiting; `--source-max-attempts` still wins.
    pub fn with_attempts(mut self, attempts: u32) -> HttpSource {
        self.attempts = retry_policy().max_attempts.unwrap_or(attempts).max(1);
        self
    }

    pub fn err(&self, message: impl Into<String>) -> Error {
        Error::Source { source_kind: self.kind, target: self.target.clone(), message: message.into() }
    }

    /// Retries made so far, by category (`http_429`, `http_5xx`, `connection`, `timeout`).
    pub fn retries(&self) -> BTreeMap<String, u64> {
        self.backoff.retries()
    }

    /// Send a request (rebuilt for each attempt) and parse the JSON answer.
    pub async fn call(&self, what: &str, build: impl Fn() -> reqwest::RequestBuilder) -> Result<serde_json::Value> {
        Ok(self.request(what, false, build).await?.body.unwrap_or_default())
    }

    /// Send a request with retries. A 404 is `Ok` with no body when
    /// `allow_404`; other 4xx answers fail at once with a hint.
    pub async fn request(&self, what: &str, allow_404: bool, build: impl Fn() -> reqwest::RequestBuilder) -> Result<Answer> {
        let mut last = String::new();
        let mut throttled = 0;
        for attempt in 0..self.attempts {
            let mut req = build();
            if let Some((h, v)) = &self.auth {
                req = req.header(*h, v);
            }
            let wait = match req.send().await {
                Ok(resp) if resp.status().is_success() => {
                    let body = resp.json().await.map_err(|e| self.err(format!("{what}: unexpected response: {e}")))?;
                    return Ok(Answer { body: Some(body), throttled });
                }
                Ok(resp) if resp.status().as_u16() == 404 && allow_404 => return Ok(Answer { body: None, throttled }),
                Ok(resp) if resp.status().as_u16() == 429 => {
                    throttled += 1;
                    self.backoff.count("http_429");
                    let asked = retry_after(resp.headers());
                    last = format!("429 Too Many Requests: {}", excerpt(resp).await);
                    // Honour Retry-After (up to RETRY_AFTER_MAX), never retrying sooner than the backoff says.
                    asked.unwrap_or_default().min(RETRY_AFTER_MAX).max(self.backoff.delay(attempt))
                }
                Ok(resp) if resp.status().is_server_error() => {
                    self.backoff.count("http_5xx");
                    last = format!("{}: {}", resp.status(), excerpt(resp).await);
                    self.backoff.delay(attempt)
                }
                Ok(resp) => {
                    let status = resp.status();
                    let hint = match status.as_u16() {
                        401 | 403 => self.auth_hint,
                        404 => self.not_found_hint,
                        _ => "",
                    };
                    return Err(self.err(format!("{what}: the server answered {status}: {}{hint}", excerpt(resp).await)));
                }
                Err(e) => {
                    self.backoff.count(if e.is_timeout() { "timeout" } else { "connection" });
                    last = format!("cannot reach the server: {}; check the URL and that the server is running", error_chain(&e));
                    self.backoff.delay(attempt)
                }
            };
            if attempt + 1 < self.attempts {
                tokio::time::sleep(wait).await;
            }
        }
        Err(self.err(format!("{what}: gave up after {} attempts: {last}", self.attempts)))
    }
}

/// The first 300 characters of an error answer.
async fn excerpt(resp: reqwest::Response) -> String {
    resp.text().await.unwrap_or_default().chars().take(300).collect()
}

/// An adaptive bound on requests in flight (additive increase,
/// multiplicative decrease): halve on a throttled request, add one after
/// `limit` requests in a row went through unthrottled.
pub struct AdaptiveLimit {
    max: usize,
    state: Mutex<LimitState>,
    freed: tokio::sync::Notify,
}

struct LimitState {
    limit: usize,
    in_flight: usize,
    streak: usize,
    /// Smallest limit reached (reported in the summary).
    lowest: usize,
}

/// A slot of an [`AdaptiveLimit`], released on drop.
pub struct Slot<'a>(&'a AdaptiveLimit);

impl AdaptiveLimit {
    /// Start at `start` requests in flight, never above `max`.
    pub fn new(start: usize, max: usize) -> AdaptiveLimit {
        let max = max.max(1);
        let limit = start.clamp(1, max);
        AdaptiveLimit { max, state: Mutex::new(LimitState { limit, in_flight: 0, streak: 0, lowest: limit }), freed: tokio::sync::Notify::new() }
    }

    /// Wait for a free slot.
    pub async fn acquire(&self) -> Slot<'_> {
        loop {
            // Registered before the check, so a release in between still wakes us.
            let freed = self.freed.notified();
            {
                let mut s = self.state.lock().expect("limit state");
                if s.in_flight < s.limit {
                    s.in_flight += 1;
                    return Slot(self);
                }
            }
            freed.await;
        }
    }

    /// Feed back how a request went.
    pub fn record(&self, throttled: bool) {
        let mut s = self.state.lock().expect("limit state");
        if throttled {
            s.limit = (s.limit / 2).max(1);
            s.lowest = s.lowest.min(s.limit);
            s.streak = 0;
        } else {
            s.streak += 1;
            if s.streak >= s.limit && s.limit < self.max {
                s.limit += 1;
                s.streak = 0;
                self.freed.notify_waiters();
            }
        }
    }

    /// (current limit, lowest limit reached).
    pub fn levels(&self) -> (usize, usize) {
        let s = self.state.lock().expect("limit state");
        (s.limit, s.lowest)
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.state.lock().expect("limit state").in_flight -= 1;
        self.0.freed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::AdaptiveLimit;

    #[test]
    fn halves_on_throttle_and_grows_back_slowly() {
        let l = AdaptiveLimit::new(8, 8);
        l.record(true);
        l.record(true);
        assert_eq!(l.levels(), (2, 2));
        l.record(false);
        assert_eq!(l.levels().0, 2);
        l.record(false);
        assert_eq!(l.levels().0, 3);
        for _ in 0..100 {
            l.record(false);
        }
        assert_eq!(l.levels(), (8, 2));
        for _ in 0..10 {
            l.record(true);
        }
        assert_eq!(l.levels(), (1, 1));
    }

    #[tokio::test]
    async fn never_more_in_flight_than_the_limit() {
        use futures::StreamExt;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let l = AdaptiveLimit::new(3, 3);
        let now = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        futures::stream::iter(0..40)
            .map(|i| {
                let (l, now, peak) = (&l, &now, &peak);
                async move {
                    let _slot = l.acquire().await;
                    let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(n, Ordering::SeqCst);
                    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                    now.fetch_sub(1, Ordering::SeqCst);
                    l.record(i % 7 == 0);
                }
            })
            .buffered(16)
            .collect::<Vec<()>>()
            .await;
        assert!(peak.load(Ordering::SeqCst) <= 3);
    }
}
