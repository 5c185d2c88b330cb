//! Run metrics: counters and per-batch latency histograms (HDR), reported
//! in the summaries (P50/P95/P99) and, with `--metrics-addr`, served as
//! Prometheus text exposition while the command runs.

use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// Counters, by Prometheus metric name (without the prefix).
pub const ROWS_EXPORTED: &str = "rows_exported_total";
pub const CHUNKS_EXPORTED: &str = "chunks_exported_total";
pub const BYTES_EXPORTED: &str = "bytes_exported_total";
pub const POINTS_IMPORTED: &str = "points_imported_total";
pub const CHUNKS_IMPORTED: &str = "chunks_imported_total";

/// Latency histograms, by name.
pub const SOURCE_PAGE: &str = "source_page";
pub const CHUNK_WRITE: &str = "chunk_write";
pub const IMPORT_CHUNK: &str = "import_chunk";

const COUNTERS: [&str; 5] = [ROWS_EXPORTED, CHUNKS_EXPORTED, BYTES_EXPORTED, POINTS_IMPORTED, CHUNKS_IMPORTED];

struct Metrics {
    counters: [AtomicU64; 5],
    /// Microseconds, 1 µs .. 1 h, 3 significant digits.
    latency: Mutex<BTreeMap<&'static str, Histogram<u64>>>,
}

fn global() -> &'static Metrics {
    static M: OnceLock<Metrics> = OnceLock::new();
    M.get_or_init(|| Metrics { counters: Default::default(), latency: Mutex::new(BTreeMap::new()) })
}

pub fn add(counter: &str, n: u64) {
    if let Some(i) = COUNTERS.iter().position(|c| *c == counter) {
        global().counters[i].fetch_add(n, Ordering::Relaxed);
    }
}

pub fn observe(name: &'static str, d: Duration) {
    let mut map = global().latency.lock().expect("metrics lock");
    let h = map.entry(name).or_insert_with(|| Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds"));
    let _ = h.record((d.as_micros() as u64).clamp(1, 3_600_000_000));
}

/// Latency of one kind of batch, in milliseconds.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Latency {
    pub count: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// The latencies recorded so far under `names`.
pub fn latencies(names: &[&'static str]) -> BTreeMap<String, Latency> {
    let map = global().latency.lock().expect("metrics lock");
    names
        .iter()
        .filter_map(|n| map.get(n).filter(|h| h.len() > 0).map(|h| (n.to_string(), summarize(h))))
        .collect()
}

fn summarize(h: &Histogram<u64>) -> Latency {
    let ms = |us: u64| us as f64 / 1000.0;
    Latency {
        count: h.len(),
        p50_ms: ms(h.value_at_quantile(0.50)),
        p95_ms: ms(h.value_at_quantile(0.95)),
        p99_ms: ms(h.value_at_quantile(0.99)),
        max_ms: ms(h.max()),
    }
}

/// Prometheus text exposition format (version 0.0.4).
pub fn render() -> String {
    let m = global();
    let mut s = String::new();
    for (i, name) in COUNTERS.iter().enumerate() {
        s.push_str(&format!("# TYPE velesdb_migrate_{name} counter\nvelesdb_migrate_{name} {}\n", m.counters[i].load(Ordering::Relaxed)));
    }
    s.push_str("# TYPE velesdb_migrate_batch_seconds summary\n");
    for (name, h) in m.latency.lock().expect("metrics lock").iter() {
        for q in [0.5, 0.95, 0.99] {
            s.push_str(&format!("velesdb_migrate_batch_seconds{{batch=\"{name}\",quantile=\"{q}\"}} {}\n", h.value_at_quantile(q) as f64 / 1e6));
        }
        s.push_str(&format!("velesdb_migrate_batch_seconds_count{{batch=\"{name}\"}} {}\n", h.len()));
    }
    if let Some(rss) = crate::util::peak_rss_bytes() {
        s.push_str(&format!("# TYPE velesdb_migrate_peak_rss_bytes gauge\nvelesdb_migrate_peak_rss_bytes {rss}\n"));
    }
    s
}

/// Serve `render()` on `addr` (any path) from a background thread for the
/// life of the process.
pub fn serve(addr: &str) -> crate::Result<std::net::SocketAddr> {
    let listener = std::net::TcpListener::bind(addr).map_err(|e| crate::Error::io(format!("--metrics-addr {addr}: cannot listen"), e))?;
    let local = listener.local_addr().map_err(|e| crate::Error::io("reading the metrics address", e))?;
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            // Read the request head (its content does not matter) before answering.
            let (mut head, mut buf) = (Vec::new(), [0u8; 1024]);
            while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 << 10 {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let body = render();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    Ok(local)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_and_exposition() {
        for ms in 1..=100u64 {
            observe("unit_test", Duration::from_millis(ms));
        }
        add(ROWS_EXPORTED, 7);
        let l = &latencies(&["unit_test"])["unit_test"];
        assert_eq!(l.count, 100);
        assert!((l.p50_ms - 50.0).abs() < 0.5 && (l.p99_ms - 99.0).abs() < 0.5, "{l:?}");
        let text = render();
        assert!(text.contains("velesdb_migrate_rows_exported_total 7"), "{text}");
        assert!(text.contains("velesdb_migrate_batch_seconds{batch=\"unit_test\",quantile=\"0.5\"} 0.05"), "{text}");
    }
}
