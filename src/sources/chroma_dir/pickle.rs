//! The id map of a Chroma 1.x HNSW segment, `index_metadata.pickle`.
//!
//! Chroma's Rust server writes it with `serde_pickle` (protocol 3): one dict
//! `{dimensionality: int|None, total_elements_added: int, max_seq_id:
//! int|None, id_to_label: {str: int}, label_to_id: {int: str},
//! id_to_seq_id: {str: int}}`. This reads exactly the opcodes such a dict
//! needs (Python's pickle format, `Lib/pickletools.py`) and refuses anything
//! else by name, such as the Python class instance that Chroma 0.x pickled.
//! `label_to_id` and `id_to_seq_id` are skipped without being kept.

use std::collections::HashMap;

/// What the export needs from the id map.
#[derive(Debug, Default, PartialEq)]
pub struct IdMap {
    pub dimensionality: Option<u64>,
    pub total_elements_added: u64,
    /// Legacy position of the segment in the log (newer files keep it in sqlite).
    pub max_seq_id: Option<u64>,
    /// Record id → HNSW label, for the records the segment holds.
    pub id_to_label: HashMap<String, u32>,
}

#[derive(Debug)]
enum Value {
    None,
    Bool(bool),
    Int(i128),
    Str(String),
    Dict(Vec<(Value, Value)>),
    /// A dict whose contents were dropped while parsing (not needed).
    Skipped,
    Mark,
}

impl Value {
    fn int(&self) -> Option<i128> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Bool(b) => Some(*b as i128),
            _ => None,
        }
    }
}

/// Parse an id map; errors say what was found and where.
pub fn parse(bytes: &[u8]) -> Result<IdMap, String> {
    let top = run(bytes)?;
    let Value::Dict(items) = top else { return Err("the pickle does not hold a dict".into()) };
    let mut map = IdMap::default();
    let mut seen_labels = false;
    for (k, v) in items {
        let Value::Str(k) = k else { continue };
        let opt_u64 = |v: &Value, what: &str| -> Result<Option<u64>, String> {
            match v {
                Value::None => Ok(None),
                v => v.int().and_then(|i| u64::try_from(i).ok()).map(Some).ok_or_else(|| format!("{what} is not a non-negative integer")),
            }
        };
        match k.as_str() {
            "dimensionality" => map.dimensionality = opt_u64(&v, "dimensionality")?,
            "max_seq_id" => map.max_seq_id = opt_u64(&v, "max_seq_id")?,
            "total_elements_added" => {
                map.total_elements_added = opt_u64(&v, "total_elements_added")?.ok_or("total_elements_added is None")?
            }
            "id_to_label" => {
                let Value::Dict(pairs) = v else { return Err("id_to_label is not a dict".into()) };
                map.id_to_label.reserve(pairs.len());
                for (id, label) in pairs {
                    let Value::Str(id) = id else { return Err("id_to_label has a key that is not a string".into()) };
                    let label = label.int().and_then(|l| u32::try_from(l).ok()).ok_or_else(|| format!("id_to_label[{id:?}] is not a label (u32)"))?;
                    map.id_to_label.insert(id, label);
                }
                seen_labels = true;
            }
            _ => {}
        }
    }
    if !seen_labels {
        return Err("the dict has no id_to_label".into());
    }
    Ok(map)
}

fn name(op: u8) -> &'static str {
    match op {
        b'c' => "GLOBAL",
        0x93 => "STACK_GLOBAL",
        b'b' => "BUILD",
        0x81 => "NEWOBJ",
        b'R' => "REDUCE",
        b'h' | b'j' => "BINGET",
        b'G' => "BINFLOAT",
        b']' => "EMPTY_LIST",
        b')' => "EMPTY_TUPLE",
        _ => "unsupported",
    }
}

/// The pickle virtual machine, restricted to dicts of str/int/bool/None.
fn run(b: &[u8]) -> Result<Value, String> {
    let mut stack: Vec<Value> = Vec::new();
    let mut pos = 0usize;
    let take = |pos: &mut usize, n: usize| -> Result<&[u8], String> {
        let end = pos.checked_add(n).filter(|&e| e <= b.len()).ok_or_else(|| format!("truncated at byte {}", *pos))?;
        let s = &b[*pos..end];
        *pos = end;
        Ok(s)
    };
    let le = |s: &[u8]| s.iter().rev().fold(0u64, |a, &x| (a << 8) | u64::from(x));
    loop {
        let at = pos;
        let op = *take(&mut pos, 1)?.first().expect("one byte");
        match op {
            0x80 => {
                let proto = take(&mut pos, 1)?[0];
                if proto > 5 {
                    return Err(format!("pickle protocol {proto} is unknown"));
                }
            }
            0x95 => {
                take(&mut pos, 8)?; // FRAME: a length hint only
            }
            b'}' => stack.push(Value::Dict(Vec::new())),
            b'(' => stack.push(Value::Mark),
            b'N' => stack.push(Value::None),
            0x88 => stack.push(Value::Bool(true)),
            0x89 => stack.push(Value::Bool(false)),
            b'J' => stack.push(Value::Int(i128::from(i32::from_le_bytes(take(&mut pos, 4)?.try_into().expect("4 bytes"))))),
            b'K' => stack.push(Value::Int(i128::from(take(&mut pos, 1)?[0]))),
            b'M' => stack.push(Value::Int(i128::from(le(take(&mut pos, 2)?)))),
            0x8a => {
                let n = take(&mut pos, 1)?[0] as usize;
                if n > 16 {
                    return Err(format!("integer of {n} bytes at byte {at}"));
                }
                let s = take(&mut pos, n)?;
                let mut v: i128 = 0;
                for (i, &x) in s.iter().enumerate() {
                    v |= i128::from(x) << (8 * i);
                }
                if n > 0 && n < 16 && s[n - 1] & 0x80 != 0 {
                    v -= 1i128 << (8 * n);
                }
                stack.push(Value::Int(v));
            }
            b'X' | 0x8c | 0x8d => {
                let n = match op {
                    b'X' => le(take(&mut pos, 4)?),
                    0x8c => le(take(&mut pos, 1)?),
                    _ => le(take(&mut pos, 8)?),
                };
                let s = take(&mut pos, usize::try_from(n).map_err(|_| format!("string too long at byte {at}"))?)?;
                let s = std::str::from_utf8(s).map_err(|_| format!("string at byte {at} is not UTF-8"))?;
                stack.push(Value::Str(s.to_owned()));
            }
            b'q' => {
                take(&mut pos, 1)?; // BINPUT: the memo is never read back (no BINGET is accepted)
            }
            b'r' => {
                take(&mut pos, 4)?;
            }
            0x94 => {} // MEMOIZE
            b's' | b'u' => {
                let items: Vec<Value> = if op == b's' {
                    if stack.len() < 3 {
                        return Err(format!("SETITEM without a dict at byte {at}"));
                    }
                    stack.split_off(stack.len() - 2)
                } else {
                    let mark = stack.iter().rposition(|v| matches!(v, Value::Mark)).ok_or_else(|| format!("SETITEMS without MARK at byte {at}"))?;
                    let items = stack.split_off(mark + 1);
                    stack.pop();
                    items
                };
                if items.len() % 2 != 0 {
                    return Err(format!("odd number of dict items at byte {at}"));
                }
                // The key under which this dict itself will be stored decides
                // whether its contents are worth keeping.
                let skip = matches!(stack.len().checked_sub(2).map(|i| &stack[i]), Some(Value::Str(k)) if k == "label_to_id" || k == "id_to_seq_id");
                match stack.last_mut() {
                    Some(Value::Dict(_)) if skip => *stack.last_mut().expect("dict") = Value::Skipped,
                    Some(Value::Skipped) => {}
                    Some(Value::Dict(d)) => {
                        let mut it = items.into_iter();
                        while let (Some(k), Some(v)) = (it.next(), it.next()) {
                            d.push((k, v));
                        }
                    }
                    _ => return Err(format!("SETITEM(S) on something that is not a dict at byte {at}")),
                }
            }
            b'.' => {
                return match (stack.pop(), stack.is_empty()) {
                    (Some(v), true) => Ok(v),
                    _ => Err("the pickle does not end with exactly one value".into()),
                };
            }
            other => {
                return Err(format!("opcode {other:#04x} ({}) at byte {at} is not part of the id map Chroma 1.x writes", name(other)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Vec<u8> {
        let mut v = vec![b'X'];
        v.extend_from_slice(&(x.len() as u32).to_le_bytes());
        v.extend_from_slice(x.as_bytes());
        v
    }

    #[test]
    fn reads_the_map_serde_pickle_writes() {
        // As Chroma 1.5 writes it (protocol 3, one MARK/SETITEMS per dict).
        let mut p = vec![0x80, 3, b'}', b'('];
        p.extend(s("dimensionality"));
        p.push(b'N');
        p.extend(s("total_elements_added"));
        p.extend([b'J', 3, 0, 0, 0]);
        p.extend(s("max_seq_id"));
        p.extend([0x8a, 5, 0, 0, 0, 0, 1]); // 2^32
        p.extend(s("id_to_label"));
        p.extend([b'}', b'(']);
        p.extend(s("a"));
        p.extend([b'J', 1, 0, 0, 0]);
        p.extend(s("weird \"🚀\""));
        p.extend([b'K', 3]);
        p.push(b'u');
        p.extend(s("label_to_id"));
        p.extend([b'}', b'(', b'J', 1, 0, 0, 0]);
        p.extend(s("a"));
        p.push(b'u');
        p.extend(s("id_to_seq_id"));
        p.push(b'}');
        p.extend([b'u', b'.']);
        let m = parse(&p).unwrap();
        assert_eq!(m.dimensionality, None);
        assert_eq!(m.total_elements_added, 3);
        assert_eq!(m.max_seq_id, Some(1 << 32));
        assert_eq!(m.id_to_label.len(), 2);
        assert_eq!(m.id_to_label["weird \"🚀\""], 3);
    }

    #[test]
    fn refuses_python_objects_and_truncation() {
        // Chroma 0.x: pickle.dumps(PersistentData(...)) starts with a global.
        let e = parse(b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00\x8c\x08chromadb\x94\x93").unwrap_err();
        assert!(e.contains("STACK_GLOBAL"), "{e}");
        let e = parse(&[0x80, 3, b'}', b'(', b'X', 9, 0, 0, 0, b'a']).unwrap_err();
        assert!(e.contains("truncated"), "{e}");
        assert!(parse(&[0x80, 3, b'}', b'.']).unwrap_err().contains("id_to_label"));
        // LONG1 negative numbers.
        let mut p = vec![0x80, 3, b'}', b'('];
        p.extend(s("total_elements_added"));
        p.extend([0x8a, 1, 0xff]);
        p.extend(s("id_to_label"));
        p.extend([b'}', b'u', b'.']);
        assert!(parse(&p).unwrap_err().contains("non-negative"));
    }
}
