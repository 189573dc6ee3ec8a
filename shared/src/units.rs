//! Units that appear in sizing: bytes and gibibytes kept apart by type.
//!
//! Memory is counted in [`Bytes`] (exact, integer) and shown in [`Gib`] (2^30 bytes), the unit
//! `torch.cuda.mem_get_info` and vLLM's logs use. GPU marketing figures are in GB (10^9) and are
//! named `_gb` wherever they appear.

use serde::{Deserialize, Serialize};

const BYTES_PER_GIB: f64 = 1_073_741_824.0;

/// A whole number of bytes.
///
/// ```
/// use jauge::units::Bytes;
/// assert_eq!(Bytes(1 << 30).gib().0, 1.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct Bytes(pub u64);

impl Bytes {
    /// This amount in gibibytes.
    ///
    /// ```
    /// use jauge::units::Bytes;
    /// assert_eq!(Bytes(3 * 1024 * 1024 * 1024 / 2).gib().0, 1.5);
    /// ```
    pub fn gib(self) -> Gib {
        Gib(self.0 as f64 / BYTES_PER_GIB)
    }
}

/// An amount of memory in gibibytes (2^30 bytes), possibly fractional or negative (a shortfall).
///
/// ```
/// use jauge::units::Gib;
/// assert_eq!(Gib(2.0).bytes_floor().0, 2 * 1024 * 1024 * 1024);
/// assert_eq!(Gib(-1.0).bytes_floor().0, 0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default, Serialize, Deserialize)]
pub struct Gib(pub f64);

impl Gib {
    /// The whole bytes in this amount, rounded down; zero for a negative amount.
    ///
    /// ```
    /// use jauge::units::Gib;
    /// assert_eq!(Gib(0.5).bytes_floor().0, 536_870_912);
    /// ```
    pub fn bytes_floor(self) -> Bytes {
        Bytes((self.0 * BYTES_PER_GIB).floor().max(0.0) as u64)
    }

    /// The nearest whole bytes: the inverse of [`Bytes::gib`] (which a floor would miss by
    /// one byte when the product lands just below); zero for a negative amount.
    ///
    /// ```
    /// use jauge::units::Bytes;
    /// assert_eq!(Bytes(14_491_852_800).gib().bytes_nearest().0, 14_491_852_800);
    /// ```
    pub fn bytes_nearest(self) -> Bytes {
        Bytes((self.0 * BYTES_PER_GIB).round().max(0.0) as u64)
    }
}

impl std::ops::Sub for Gib {
    type Output = Gib;
    fn sub(self, rhs: Gib) -> Gib {
        Gib(self.0 - rhs.0)
    }
}

impl std::ops::Add for Gib {
    type Output = Gib;
    fn add(self, rhs: Gib) -> Gib {
        Gib(self.0 + rhs.0)
    }
}

impl std::fmt::Display for Gib {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.2} GiB", self.0)
    }
}

/// A whole number with thousands separators, as figures are shown to readers.
///
/// ```
/// assert_eq!(jauge::units::thousands(104_320), "104,320");
/// assert_eq!(jauge::units::thousands(999), "999");
/// ```
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(d);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_by_three() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }
}
