//! Work-around for a crash-recovery gap in velesdb-core 8.0.0's payload log.
//!
//! `payloads.log` is an append-only log of records
//! `marker u8 | id u64 LE | [len u32 LE | payload | crc u32 LE]` (store, marker
//! 0xC3), `marker | id | crc` (delete, 0xC4), and legacy forms without CRC
//! (1 = store, 2 = delete). On open, velesdb replays it and stops at a torn
//! record (a process killed mid-append), keeping what came before; but it
//! then appends new records *after* the torn bytes. On the next open the
//! replay misreads the torn record, loses its framing and stops: every
//! payload written after the first crash is gone (reproduced by this
//! project's kill-and-resume test: payloads read back as null).
//!
//! The repair, run before the data directory is opened: scan the log the way
//! velesdb's replay does, starting at a record boundary this tool recorded
//! after its last checkpoint, and truncate a torn tail. Only bytes written
//! after that checkpoint (by a run that was killed, for chunks the journal
//! does not count as done) are ever removed. The payload snapshot, a cache
//! of the log's index, is removed with it so velesdb replays the log whole.

use crate::error::{Error, IoContext, Result};
use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

pub const PAYLOAD_LOG: &str = "payloads.log";
const PAYLOAD_SNAPSHOT: &str = "payloads.snapshot";

const LEGACY_STORE: u8 = 1;
const LEGACY_DELETE: u8 = 2;
const CRC_STORE: u8 = 0xC3;
const CRC_DELETE: u8 = 0xC4;

/// Length of the payload log of a collection directory (0 when absent).
pub fn payload_log_len(collection_dir: &Path) -> u64 {
    std::fs::metadata(collection_dir.join(PAYLOAD_LOG)).map(|m| m.len()).unwrap_or(0)
}

/// Where velesdb's replay of the log would stop, scanning from `start`
/// (which must be a record boundary). Equal to the file length for a clean log.
pub fn replay_stop(path: &Path, start: u64) -> std::io::Result<u64> {
    let f = File::open(path)?;
    let end = f.metadata()?.len();
    let mut r = BufReader::with_capacity(1 << 16, f);
    r.seek(SeekFrom::Start(start))?;
    let mut pos = start;
    loop {
        let mut head = [0u8; 9];
        if pos + 9 > end || r.read_exact(&mut head).is_err() {
            return Ok(pos);
        }
        let next = match head[0] {
            CRC_STORE | LEGACY_STORE => {
                let mut len = [0u8; 4];
                if pos + 13 > end || r.read_exact(&mut len).is_err() {
                    return Ok(pos);
                }
                let crc = if head[0] == CRC_STORE { 4 } else { 0 };
                let body = u64::from(u32::from_le_bytes(len)) + crc;
                if pos + 13 + body > end {
                    return Ok(pos);
                }
                r.seek_relative(body as i64)?;
                pos + 13 + body
            }
            CRC_DELETE => {
                if pos + 13 > end {
                    return Ok(pos);
                }
                r.seek_relative(4)?;
                pos + 13
            }
            LEGACY_DELETE => pos + 9,
            _ => return Ok(pos), // unknown marker: replay stops here
        };
        pos = next;
    }
}

/// Truncate a torn tail of `collection_dir/payloads.log` written after
/// `checkpoint` (a record boundary recorded by this tool). Returns the number
/// of bytes removed. A log shorter than the checkpoint, or damaged before
/// it, is left alone and reported.
pub fn repair_payload_log(collection_dir: &Path, checkpoint: u64) -> Result<u64> {
    let path = collection_dir.join(PAYLOAD_LOG);
    let len = payload_log_len(collection_dir);
    if len <= checkpoint {
        if len < checkpoint {
            return Err(Error::Sink {
                dest: collection_dir.display().to_string(),
                collection: String::new(),
                message: format!(
                    "{} is shorter ({len} bytes) than when this tool last wrote to it ({checkpoint} bytes); \
                     something else changed the collection. Import into a new --collection",
                    path.display()
                ),
            });
        }
        return Ok(0);
    }
    let stop = replay_stop(&path, checkpoint).ctx(|| format!("scanning {}", path.display()))?;
    if stop == len {
        return Ok(0);
    }
    let f = OpenOptions::new().write(true).open(&path).ctx(|| format!("opening {}", path.display()))?;
    f.set_len(stop).ctx(|| format!("truncating {}", path.display()))?;
    f.sync_all().ctx(|| format!("fsync {}", path.display()))?;
    let snap = collection_dir.join(PAYLOAD_SNAPSHOT);
    if snap.exists() {
        std::fs::remove_file(&snap).ctx(|| format!("removing {}", snap.display()))?;
    }
    crate::snapshot::fsutil::sync_dir(collection_dir)?;
    Ok(len - stop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn store(id: u64, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![CRC_STORE];
        v.extend(id.to_le_bytes());
        v.extend((payload.len() as u32).to_le_bytes());
        v.extend(payload);
        v.extend([0, 0, 0, 0]); // CRC value is irrelevant to framing
        v
    }

    #[test]
    fn finds_and_truncates_a_torn_tail_only_after_the_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(PAYLOAD_LOG);
        let mut log = store(1, b"{\"a\":1}");
        let checkpoint = log.len() as u64;
        log.extend(store(2, b"{\"b\":2}"));
        let mut del = vec![CRC_DELETE];
        del.extend(7u64.to_le_bytes());
        del.extend([0, 0, 0, 0]);
        log.extend(&del);
        let clean = log.len() as u64;
        let torn = store(3, b"{\"c\":\"a longer payload\"}");
        log.extend(&torn[..torn.len() - 9]); // killed mid-append
        File::create(&p).unwrap().write_all(&log).unwrap();
        std::fs::write(dir.path().join(PAYLOAD_SNAPSHOT), b"stale").unwrap();

        assert_eq!(replay_stop(&p, 0).unwrap(), clean);
        assert_eq!(replay_stop(&p, checkpoint).unwrap(), clean);
        let removed = repair_payload_log(dir.path(), checkpoint).unwrap();
        assert_eq!(removed, log.len() as u64 - clean);
        assert_eq!(payload_log_len(dir.path()), clean);
        assert!(!dir.path().join(PAYLOAD_SNAPSHOT).exists());
        assert_eq!(repair_payload_log(dir.path(), checkpoint).unwrap(), 0, "idempotent");
        // A log shorter than the checkpoint is reported, not touched.
        assert!(repair_payload_log(dir.path(), clean + 100).is_err());
    }
}
