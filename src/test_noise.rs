//! Seeded noise for the tests (unit tests that feed a parser garbage, the
//! crash test choosing when to kill): the same inputs on every run, so a
//! failure found once comes back. Public (hidden) for the integration tests.

/// Marsaglia's xorshift64 (13, 7, 17) from a non-zero `seed`: each call the next value.
pub fn xorshift(seed: u64) -> impl FnMut() -> u64 {
    let mut state = seed;
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}

/// `len` bytes of noise: the low byte of each of the next `len` values of `next`.
pub fn noise(next: &mut impl FnMut() -> u64, len: usize) -> Vec<u8> {
    (0..len).map(|_| next() as u8).collect()
}

#[test]
fn the_stream_is_xorshift64_and_repeats_for_a_seed() {
    let mut next = xorshift(1);
    assert_eq!(next(), 1_082_269_761);
    assert_eq!(noise(&mut xorshift(7), 16), noise(&mut xorshift(7), 16));
    assert_ne!(noise(&mut xorshift(7), 16), noise(&mut xorshift(8), 16));
}
