//! [`UnixTime`]: the clock is a parameter of validation, never read inside it.

use std::time::{Duration, SystemTime};

/// A point in time, in whole seconds since the Unix epoch (a JWT NumericDate).
///
/// [`validate`](crate::validate) takes the time as an argument so that it does
/// no clock read of its own: tests and benches pin it, servers pass
/// [`UnixTime::now`].
///
/// ```
/// use jwt_gate::UnixTime;
/// let t = UnixTime::from_secs(1_767_225_600);
/// assert_eq!(t.as_secs(), 1_767_225_600);
/// assert!(UnixTime::now() > t);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct UnixTime(u64);

impl UnixTime {
    /// The system clock's current time (0 if the clock is before 1970).
    pub fn now() -> Self {
        Self(
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        )
    }

    /// The time `secs` seconds after the Unix epoch.
    pub const fn from_secs(secs: u64) -> Self {
        Self(secs)
    }

    /// Seconds since the Unix epoch.
    pub const fn as_secs(self) -> u64 {
        self.0
    }

    /// This time plus `d`, saturating.
    pub(crate) const fn saturating_add(self, d: Duration) -> Self {
        Self(self.0.saturating_add(d.as_secs()))
    }

    /// This time minus `d`, saturating at the epoch.
    pub(crate) const fn saturating_sub(self, d: Duration) -> Self {
        Self(self.0.saturating_sub(d.as_secs()))
    }
}

impl From<SystemTime> for UnixTime {
    fn from(t: SystemTime) -> Self {
        Self(
            t.duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        )
    }
}
