//! TAI64N timestamps, as daemontools, runit and s6 write them.
//!
//! A TAI64 label is 2^62 + seconds since 1970-01-01 00:00:10 TAI; like those
//! tools we take the system clock as TAI - 10 s and ignore leap seconds.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

const LABEL_OFFSET: u64 = (1 << 62) + 10;

/// A point in time: 8 bytes of seconds and 4 of nanoseconds, big-endian.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Tai64n {
    secs: u64,
    nanos: u32,
}

impl Tai64n {
    /// The zero stamp: "never".
    pub const ZERO: Tai64n = Tai64n { secs: 0, nanos: 0 };

    pub fn now() -> Self {
        Self::from_system(SystemTime::now())
    }

    pub fn from_system(t: SystemTime) -> Self {
        let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
        Tai64n {
            secs: LABEL_OFFSET + since.as_secs(),
            nanos: since.subsec_nanos(),
        }
    }

    pub fn is_zero(&self) -> bool {
        self.secs == 0 && self.nanos == 0
    }

    pub fn to_bytes(self) -> [u8; 12] {
        let mut b = [0u8; 12];
        b[..8].copy_from_slice(&self.secs.to_be_bytes());
        b[8..].copy_from_slice(&self.nanos.to_be_bytes());
        b
    }

    pub fn from_bytes(b: &[u8; 12]) -> Self {
        let secs = u64::from_be_bytes(b[..8].try_into().unwrap());
        let nanos = u32::from_be_bytes(b[8..].try_into().unwrap());
        Tai64n { secs, nanos }
    }

    /// Time elapsed from this stamp to `now` (zero if the stamp is later).
    pub fn elapsed_until(self, now: Tai64n) -> Duration {
        let a = Duration::new(self.secs, self.nanos.min(999_999_999));
        let b = Duration::new(now.secs, now.nanos.min(999_999_999));
        b.saturating_sub(a)
    }

    /// The `@` + 24 hex digits form that multilog, svlogd -tt and s6-log t write.
    pub fn to_label(self) -> [u8; 25] {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = [b'@'; 25];
        for (i, byte) in self.to_bytes().iter().enumerate() {
            out[1 + 2 * i] = HEX[(byte >> 4) as usize];
            out[2 + 2 * i] = HEX[(byte & 15) as usize];
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_is_the_documented_label() {
        let t = Tai64n::from_system(UNIX_EPOCH);
        assert_eq!(&t.to_label()[..], b"@400000000000000a00000000");
    }

    #[test]
    fn bytes_round_trip() {
        let t = Tai64n::from_system(UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789));
        assert_eq!(Tai64n::from_bytes(&t.to_bytes()), t);
        assert_eq!(&t.to_label()[..], b"@400000006553f10a075bcd15");
    }

    #[test]
    fn elapsed_saturates() {
        let a = Tai64n::from_system(UNIX_EPOCH + Duration::from_secs(10));
        let b = Tai64n::from_system(UNIX_EPOCH + Duration::from_millis(12_500));
        assert_eq!(a.elapsed_until(b), Duration::from_millis(2500));
        assert_eq!(b.elapsed_until(a), Duration::ZERO);
    }
}
