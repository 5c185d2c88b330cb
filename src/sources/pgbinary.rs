//! Decoders for PostgreSQL's binary wire formats (what `*_send` produces and
//! what binary results carry). Big-endian throughout.
//!
//! pgvector types (pgvector `src/vector.c`, `halfvec.c`, `sparsevec.c`):
//! - `vector`: int16 dim, int16 unused, float4[dim]
//! - `halfvec`: int16 dim, int16 unused, float2[dim]
//! - `sparsevec`: int32 dim, int32 nnz, int32 unused, int32 indices[nnz] (0-based), float4 values[nnz]

use crate::model::Sparse;

fn be_i16(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([b[at], b[at + 1]])
}
fn be_i32(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

pub fn vector(b: &[u8]) -> Result<Vec<f32>, String> {
    if b.len() < 4 {
        return Err(format!("vector value of {} bytes is too short", b.len()));
    }
    let dim = be_i16(b, 0);
    if dim < 0 || b.len() != 4 + 4 * dim as usize {
        return Err(format!("vector value: dimension {dim} does not match its {} bytes", b.len()));
    }
    Ok(b[4..].chunks_exact(4).map(|c| f32::from_be_bytes(c.try_into().expect("4 bytes"))).collect())
}

pub fn halfvec(b: &[u8]) -> Result<Vec<half::f16>, String> {
    if b.len() < 4 {
        return Err(format!("halfvec value of {} bytes is too short", b.len()));
    }
    let dim = be_i16(b, 0);
    if dim < 0 || b.len() != 4 + 2 * dim as usize {
        return Err(format!("halfvec value: dimension {dim} does not match its {} bytes", b.len()));
    }
    Ok(b[4..].chunks_exact(2).map(|c| half::f16::from_be_bytes([c[0], c[1]])).collect())
}

/// Returns the declared dimension and the sparse vector.
pub fn sparsevec(b: &[u8]) -> Result<(u32, Sparse), String> {
    if b.len() < 12 {
        return Err(format!("sparsevec value of {} bytes is too short", b.len()));
    }
    let dim = be_i32(b, 0);
    let nnz = be_i32(b, 4);
    if dim < 0 || nnz < 0 || b.len() != 12 + 8 * nnz as usize {
        return Err(format!("sparsevec value: dim {dim}, nnz {nnz} do not match its {} bytes", b.len()));
    }
    let nnz = nnz as usize;
    let mut indices = Vec::with_capacity(nnz);
    for i in 0..nnz {
        let v = be_i32(b, 12 + 4 * i);
        if v < 0 || v >= dim {
            return Err(format!("sparsevec index {v} outside dimension {dim}"));
        }
        indices.push(v as u32);
    }
    let base = 12 + 4 * nnz;
    let values = (0..nnz)
        .map(|i| f32::from_be_bytes(b[base + 4 * i..base + 4 * i + 4].try_into().expect("4 bytes")))
        .collect();
    Ok((dim as u32, Sparse { indices, values }))
}

pub fn int(b: &[u8]) -> Result<i64, String> {
    Ok(match b.len() {
        2 => i64::from(be_i16(b, 0)),
        4 => i64::from(be_i32(b, 0)),
        8 => i64::from_be_bytes(b.try_into().expect("8 bytes")),
        n => return Err(format!("integer value of {n} bytes")),
    })
}

pub fn float(b: &[u8]) -> Result<f64, String> {
    Ok(match b.len() {
        4 => f64::from(f32::from_be_bytes(b.try_into().expect("4 bytes"))),
        8 => f64::from_be_bytes(b.try_into().expect("8 bytes")),
        n => return Err(format!("float value of {n} bytes")),
    })
}

/// A `real` as f64 from its shortest decimal form, so 0.1::real becomes 0.1
/// (not 0.10000000149011612); parsing that back as f32 gives the same bits.
pub fn float4_shortest(b: &[u8]) -> Result<f64, String> {
    let v = f32::from_be_bytes(b.try_into().map_err(|_| format!("real value of {} bytes", b.len()))?);
    if !v.is_finite() {
        return Ok(f64::from(v));
    }
    Ok(format!("{v}").parse::<f64>().expect("a printed f32 parses"))
}

pub fn boolean(b: &[u8]) -> Result<bool, String> {
    match b {
        [v] => Ok(*v != 0),
        _ => Err(format!("bool value of {} bytes", b.len())),
    }
}

pub fn text(b: &[u8]) -> Result<String, String> {
    String::from_utf8(b.to_vec()).map_err(|e| format!("text value is not UTF-8: {e}"))
}

pub fn uuid(b: &[u8]) -> Result<String, String> {
    if b.len() != 16 {
        return Err(format!("uuid value of {} bytes", b.len()));
    }
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32]))
}

/// `jsonb` binary: a version byte (1) then the JSON text.
pub fn jsonb(b: &[u8]) -> Result<serde_json::Value, String> {
    match b.split_first() {
        Some((1, rest)) => serde_json::from_slice(rest).map_err(|e| format!("jsonb value: {e}")),
        Some((v, _)) => Err(format!("jsonb binary version {v} is not supported")),
        None => Err("empty jsonb value".into()),
    }
}

/// `json` binary is the JSON text as stored.
pub fn json(b: &[u8]) -> Result<serde_json::Value, String> {
    serde_json::from_slice(b).map_err(|e| format!("json value: {e}"))
}

/// A float as JSON: NaN and infinities have no JSON number, so they become
/// the strings PostgreSQL prints for them.
pub fn float_json(v: f64) -> serde_json::Value {
    serde_json::Number::from_f64(v).map(serde_json::Value::Number).unwrap_or_else(|| {
        serde_json::Value::String(if v.is_nan() { "NaN".into() } else if v > 0.0 { "Infinity".into() } else { "-Infinity".into() })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_vector() {
        let mut b = vec![0, 2, 0, 0];
        b.extend(1.5f32.to_be_bytes());
        b.extend((-0.0f32).to_be_bytes());
        let v = vector(&b).unwrap();
        assert_eq!(v[0], 1.5);
        assert_eq!(v[1].to_bits(), (-0.0f32).to_bits());
        assert!(vector(&b[..6]).is_err());
    }

    #[test]
    fn decodes_halfvec_and_sparsevec() {
        let mut b = vec![0, 1, 0, 0];
        b.extend(half::f16::from_f32(0.25).to_be_bytes());
        assert_eq!(halfvec(&b).unwrap(), vec![half::f16::from_f32(0.25)]);
        let mut s = Vec::new();
        for x in [5i32, 2, 0, 0, 4] {
            s.extend(x.to_be_bytes());
        }
        s.extend(1.5f32.to_be_bytes());
        s.extend(2.0f32.to_be_bytes());
        let (dim, sv) = sparsevec(&s).unwrap();
        assert_eq!(dim, 5);
        assert_eq!(sv.indices, vec![0, 4]);
        assert_eq!(sv.values, vec![1.5, 2.0]);
        s[19] = 9; // index 9 > dim 5
        assert!(sparsevec(&s).is_err());
    }

    #[test]
    fn decodes_scalars() {
        assert_eq!(int(&(-7i16).to_be_bytes()).unwrap(), -7);
        assert_eq!(int(&i64::MAX.to_be_bytes()).unwrap(), i64::MAX);
        assert_eq!(float(&0.1f32.to_be_bytes()).unwrap(), f64::from(0.1f32));
        assert_eq!(float4_shortest(&0.1f32.to_be_bytes()).unwrap(), 0.1);
        assert_eq!(float4_shortest(&(-0.0f32).to_be_bytes()).unwrap().to_bits(), (-0.0f64).to_bits());
        assert!(float4_shortest(&f32::NAN.to_be_bytes()).unwrap().is_nan());
        for x in [1e-45f32, 3.4028235e38, 0.3, 123.456] {
            assert_eq!(float4_shortest(&x.to_be_bytes()).unwrap() as f32, x);
        }
        assert_eq!(uuid(&[0x55, 0x0e, 0x84, 0x00, 0xe2, 0x9b, 0x41, 0xd4, 0xa7, 0x16, 0x44, 0x66, 0x55, 0x44, 0, 0]).unwrap(), "550e8400-e29b-41d4-a716-446655440000");
        assert_eq!(jsonb(b"\x01{\"a\":1}").unwrap(), serde_json::json!({"a":1}));
        assert_eq!(float_json(f64::NAN), serde_json::json!("NaN"));
        assert_eq!(float_json(f64::NEG_INFINITY), serde_json::json!("-Infinity"));
    }
}
