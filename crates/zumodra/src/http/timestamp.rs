//! Timestamps in JSON answers, written without chrono's formatting machinery.
//!
//! Profiling `GET /api/v1/jobs?limit=50` under callgrind (docs/benchmarks.md) showed
//! chrono's `Serialize` for `DateTime<Utc>` — `Display` fed to serde's `collect_str`, one
//! `write_char` call per character — taking about a quarter of the server's instructions
//! per request (three timestamps on each of 50 jobs). [`serialize`] writes the very same
//! text (RFC 3339 with `Z`, fractional seconds in 0, 3, 6 or 9 digits like chrono's
//! `SecondsFormat::AutoSi`) into a stack buffer and hands serde one string. Use it with
//! `#[serde(serialize_with = "crate::http::timestamp::serialize")]` (or `option::serialize`
//! for an `Option`).

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::Serializer;

/// The longest text: `9999-12-31T23:59:59.123456789Z`.
const MAX: usize = 30;

/// Serialize as chrono does, faster. Years outside 0..=9999 (never stored by us, but
/// possible) and leap seconds go through chrono itself.
pub fn serialize<S: Serializer>(t: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    let mut buf = [0u8; MAX];
    match write(t, &mut buf) {
        // Only ASCII digits and punctuation were written.
        Some(len) => match std::str::from_utf8(&buf[..len]) {
            Ok(text) => serializer.serialize_str(text),
            Err(_) => serde::Serialize::serialize(t, serializer),
        },
        None => serde::Serialize::serialize(t, serializer),
    }
}

/// [`serialize`] for an optional timestamp (`null` when absent).
pub mod option {
    use super::*;

    pub fn serialize<S: Serializer>(
        t: &Option<DateTime<Utc>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => super::serialize(t, serializer),
            None => serializer.serialize_none(),
        }
    }
}

/// Write `t` into `buf`; the length written, or `None` for what chrono must format.
fn write(t: &DateTime<Utc>, buf: &mut [u8; MAX]) -> Option<usize> {
    // Each accessor of `DateTime` converts to local time again; for UTC the stored
    // value is the local time.
    let naive = t.naive_utc();
    let (date, time) = (naive.date(), naive.time());
    let year = date.year();
    let nano = time.nanosecond();
    if !(0..=9999).contains(&year) || nano >= 1_000_000_000 {
        return None;
    }
    let mut at = put(buf, 0, year as u32, 4);
    for (sep, value) in [
        (b'-', date.month()),
        (b'-', date.day()),
        (b'T', time.hour()),
        (b':', time.minute()),
        (b':', time.second()),
    ] {
        buf[at] = sep;
        at = put(buf, at + 1, value, 2);
    }
    if nano != 0 {
        buf[at] = b'.';
        at = if nano % 1_000_000 == 0 {
            put(buf, at + 1, nano / 1_000_000, 3)
        } else if nano % 1_000 == 0 {
            put(buf, at + 1, nano / 1_000, 6)
        } else {
            put(buf, at + 1, nano, 9)
        };
    }
    buf[at] = b'Z';
    Some(at + 1)
}

/// `value` as `width` decimal digits (zero-padded) at `at`; returns the next position.
fn put(buf: &mut [u8; MAX], at: usize, mut value: u32, width: usize) -> usize {
    for i in (at..at + width).rev() {
        buf[i] = b'0' + (value % 10) as u8;
        value /= 10;
    }
    at + width
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[derive(serde::Serialize)]
    struct Ours(#[serde(serialize_with = "serialize")] DateTime<Utc>);

    fn same(t: DateTime<Utc>) {
        let ours = serde_json::to_string(&Ours(t)).unwrap();
        let chrono = serde_json::to_string(&t).unwrap();
        assert_eq!(ours, chrono, "{t:?}");
    }

    #[test]
    fn the_same_text_as_chrono() {
        for nanos in [
            0,
            1,
            999,
            1_000,
            120_000,
            1_000_000,
            7_000_000,
            123_456_789,
            999_999_999,
        ] {
            for secs in [0i64, 59, 1_764_250_000, 253_402_300_799, 951_782_400] {
                same(Utc.timestamp_opt(secs, nanos).unwrap());
            }
        }
        // A spread of instants, including leap days and all precisions.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let secs = (x % 253_402_300_800) as i64;
            let nanos = match x % 4 {
                0 => 0,
                1 => ((x >> 20) % 1000) as u32 * 1_000_000,
                2 => ((x >> 20) % 1_000_000) as u32 * 1_000,
                _ => ((x >> 20) % 1_000_000_000) as u32,
            };
            same(Utc.timestamp_opt(secs, nanos).unwrap());
        }
    }

    #[test]
    fn out_of_range_years_and_leap_seconds_fall_back_to_chrono() {
        same(Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).unwrap());
        same(Utc.with_ymd_and_hms(-1, 1, 1, 0, 0, 0).unwrap());
        let leap = chrono::NaiveDate::from_ymd_opt(2016, 12, 31)
            .unwrap()
            .and_hms_nano_opt(23, 59, 59, 1_500_000_000)
            .unwrap()
            .and_utc();
        same(leap);
    }

    #[test]
    fn options() {
        #[derive(serde::Serialize)]
        struct O(#[serde(serialize_with = "option::serialize")] Option<DateTime<Utc>>);
        assert_eq!(serde_json::to_string(&O(None)).unwrap(), "null");
        let t = Utc.timestamp_opt(1_764_250_000, 5_000_000).unwrap();
        assert_eq!(
            serde_json::to_string(&O(Some(t))).unwrap(),
            serde_json::to_string(&t).unwrap()
        );
    }
}
