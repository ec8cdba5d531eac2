//! FNV-1a (64 bit): a tiny, stable, documented hash. Stable across versions
//! and platforms, which is what rollout buckets and SARIF fingerprints need
//! (std's hashers are randomised and may change).

const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a of `bytes`.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(OFFSET, |hash, &b| (hash ^ u64::from(b)).wrapping_mul(PRIME))
}

/// FNV-1a over several parts, each followed by a NUL so that `("ab", "c")`
/// and `("a", "bc")` differ.
pub fn fnv1a64_parts(parts: &[&str]) -> u64 {
    parts.iter().fold(OFFSET, |hash, part| {
        part.as_bytes()
            .iter()
            .chain(&[0])
            .fold(hash, |hash, &b| (hash ^ u64::from(b)).wrapping_mul(PRIME))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // Reference values of 64-bit FNV-1a.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_ne!(fnv1a64_parts(&["ab", "c"]), fnv1a64_parts(&["a", "bc"]));
    }
}
