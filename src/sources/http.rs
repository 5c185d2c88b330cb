//! Shared HTTP plumbing for REST sources: one client, an auth header, a few
//! retries with backoff on connection errors and 5xx, and errors that name
//! the source, the target and the fix.

use crate::error::{Error, Result};
use std::time::Duration;

pub struct HttpSource {
    pub client: reqwest::Client,
    kind: &'static str,
    target: String,
    /// (header name, value) sent with every request; the value is a secret.
    auth: Option<(&'static str, String)>,
    /// Hints for 401/403 and 404 answers.
    auth_hint: &'static str,
    not_found_hint: &'static str,
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
        Ok(HttpSource { client, kind, target, auth, auth_hint, not_found_hint })
    }

    pub fn err(&self, message: impl Into<String>) -> Error {
        Error::Source { source_kind: self.kind, target: self.target.clone(), message: message.into() }
    }

    /// Send a request (rebuilt for each attempt) and parse the JSON answer.
    pub async fn call(&self, what: &str, build: impl Fn() -> reqwest::RequestBuilder) -> Result<serde_json::Value> {
        let mut last = String::new();
        for attempt in 0..4u32 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(250 << attempt)).await;
            }
            let mut req = build();
            if let Some((h, v)) = &self.auth {
                req = req.header(*h, v);
            }
            match req.send().await {
                Ok(resp) if resp.status().is_success() => {
                    return resp.json().await.map_err(|e| self.err(format!("{what}: unexpected response: {e}")));
                }
                Ok(resp) if resp.status().is_server_error() => {
                    last = format!("{}: {}", resp.status(), resp.text().await.unwrap_or_default());
                }
                Ok(resp) => {
                    let status = resp.status();
                    let body: String = resp.text().await.unwrap_or_default().chars().take(300).collect();
                    let hint = match status.as_u16() {
                        401 | 403 => self.auth_hint,
                        404 => self.not_found_hint,
                        _ => "",
                    };
                    return Err(self.err(format!("{what}: the server answered {status}: {body}{hint}")));
                }
                Err(e) => last = format!("cannot reach the server: {e}; check --url and that the server is running"),
            }
        }
        Err(self.err(format!("{what}: {last}")))
    }
}
