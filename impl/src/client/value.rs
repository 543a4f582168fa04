//! Lock values: the secret that proves a key is ours.
//!
//! 20 bytes from a CSPRNG, hex encoded: unguessable, so that no other client can release or
//! extend our key, and unique for every acquisition. The CSPRNG is `rand`'s thread-local one
//! (ChaCha12, seeded from the operating system and reseeded from it every 64 KiB): as
//! unguessable as the OS's own, without a system call per lock.

use rand::RngCore;
use std::fmt;

/// The value stored under a lock's key by one acquisition.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct LockValue([u8; 40]);

impl LockValue {
    /// A fresh value: 20 random bytes, as 40 lowercase hex digits.
    pub(crate) fn random() -> LockValue {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut bytes = [0u8; 20];
        rand::thread_rng().fill_bytes(&mut bytes);
        let mut hex = [0u8; 40];
        for (i, b) in bytes.into_iter().enumerate() {
            hex[2 * i] = HEX[usize::from(b >> 4)];
            hex[2 * i + 1] = HEX[usize::from(b & 0xf)];
        }
        LockValue(hex)
    }

    pub(crate) fn as_str(&self) -> &str {
        debug_assert!(self.0.is_ascii());
        // SAFETY: `random` fills the array with ASCII hex digits only, which are valid UTF-8.
        unsafe { std::str::from_utf8_unchecked(&self.0) }
    }
}

/// Shows only a prefix: the whole value would let a reader of the logs release the lock.
impl fmt::Debug for LockValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LockValue({}…)", &self.as_str()[..8])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_40_hex_digits_and_differ() {
        let (a, b) = (LockValue::random(), LockValue::random());
        assert_eq!(a.as_str().len(), 40);
        assert!(a.as_str().bytes().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(a, b);
        assert!(!format!("{a:?}").contains(a.as_str()));
    }
}
