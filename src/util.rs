//! Small helpers shared by the pipelines.

/// Peak resident set size of this process in bytes (Linux `VmHWM`), if known.
pub fn peak_rss_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Retry delays: exponential backoff with full jitter, attempt `n` waits a
/// random time in [0, min(max, initial · 2^n)] (shared by the REST sink and
/// the HTTP sources).
pub struct Backoff {
    initial: std::time::Duration,
    max: std::time::Duration,
    /// Growth of the delay per attempt (2.0 = doubling).
    factor: f64,
    state: std::sync::atomic::AtomicU64,
    /// Retries made so far, by category (`http_429`, `http_5xx`, `timeout`, `connection`).
    retries: std::sync::Mutex<std::collections::BTreeMap<String, u64>>,
}

impl Backoff {
    pub fn new(initial: std::time::Duration, max: std::time::Duration) -> Backoff {
        let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1) | 1;
        Backoff { initial, max: max.max(initial), factor: 2.0, state: std::sync::atomic::AtomicU64::new(seed), retries: Default::default() }
    }

    /// The same backoff growing by `factor` per attempt instead of doubling
    /// (values below 1 are taken as 1: a constant delay).
    pub fn with_factor(mut self, factor: Option<f64>) -> Backoff {
        if let Some(f) = factor.filter(|f| f.is_finite()) {
            self.factor = f.max(1.0);
        }
        self
    }

    /// The delay before retry number `attempt + 1` (xorshift jitter).
    pub fn delay(&self, attempt: u32) -> std::time::Duration {
        use std::sync::atomic::Ordering;
        let grown = self.initial.as_secs_f64() * self.factor.powi(attempt.min(64) as i32);
        let cap = if grown >= self.max.as_secs_f64() { self.max } else { std::time::Duration::from_secs_f64(grown) };
        let mut x = self.state.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.state.store(x, Ordering::Relaxed);
        let ms = cap.as_millis() as u64;
        std::time::Duration::from_millis(if ms == 0 { 0 } else { x % (ms + 1) })
    }

    /// Count one retry of `category`.
    pub fn count(&self, category: &str) {
        *self.retries.lock().expect("retry counters").entry(category.to_owned()).or_default() += 1;
    }

    /// Retries so far, by category.
    pub fn retries(&self) -> std::collections::BTreeMap<String, u64> {
        self.retries.lock().expect("retry counters").clone()
    }
}

/// A `Retry-After` header given in seconds (the HTTP-date form is ignored).
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<std::time::Duration> {
    let v = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    v.trim().parse::<u64>().ok().map(std::time::Duration::from_secs)
}

/// An error and its sources, joined with `: `.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::Backoff;
    use std::time::Duration;

    #[test]
    fn backoff_stays_under_its_doubling_cap_and_counts_retries() {
        let b = Backoff::new(Duration::from_millis(100), Duration::from_millis(1000));
        for attempt in 0..20 {
            let cap = (100u64 << attempt.min(16)).min(1000);
            assert!(b.delay(attempt) <= Duration::from_millis(cap));
        }
        b.count("http_429");
        b.count("http_429");
        b.count("connection");
        assert_eq!(b.retries().into_iter().collect::<Vec<_>>(), [("connection".to_owned(), 1), ("http_429".to_owned(), 2)]);
    }

    #[test]
    fn backoff_factor_sets_the_growth() {
        let b = Backoff::new(Duration::from_millis(100), Duration::from_secs(60)).with_factor(Some(3.0));
        let mut seen = [Duration::ZERO; 4];
        for _ in 0..2000 {
            for (a, m) in seen.iter_mut().enumerate() {
                *m = (*m).max(b.delay(a as u32));
            }
        }
        // Caps 100, 300, 900, 2700 ms: the largest of many jittered draws comes close to each.
        for (a, cap) in [100u64, 300, 900, 2700].into_iter().enumerate() {
            assert!(seen[a] <= Duration::from_millis(cap) && seen[a] >= Duration::from_millis(cap * 9 / 10), "attempt {a}: {:?}", seen[a]);
        }
        let flat = Backoff::new(Duration::from_millis(50), Duration::from_secs(1)).with_factor(Some(0.5));
        assert!((0..100).all(|a| flat.delay(a) <= Duration::from_millis(50)));
    }
}

/// Allocator settings for `export` (glibc only; elsewhere a no-op): one
/// malloc arena, and freed memory kept for reuse instead of returned to the
/// kernel at once. An export allocates and frees buffers of about a chunk's
/// size on several threads for every chunk; with glibc's defaults (an arena
/// per thread, large blocks mmap'd and unmapped each time) most of them are
/// fresh pages that fault in again. Measured on 100 000 x 768 rows: page
/// faults 110-170k -> 37-52k, CPU time -20 %, peak RSS lower too. The
/// retained memory is bounded by the peak, which the chunk size bounds.
/// Call before any thread starts.
pub fn tune_allocator_for_export() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn mallopt(param: i32, value: i32) -> i32;
        }
        // glibc <malloc.h>: M_TRIM_THRESHOLD -1, M_TOP_PAD -2,
        // M_MMAP_THRESHOLD -3, M_ARENA_MAX -8. 32 MiB is the largest mmap
        // threshold glibc accepts on 64-bit. A refused setting leaves the default.
        // SAFETY: mallopt only changes allocator tunables; no other thread runs yet.
        unsafe {
            mallopt(-8, 1);
            mallopt(-3, 32 << 20);
            mallopt(-1, 256 << 20);
            mallopt(-2, 16 << 20);
        }
    }
}
