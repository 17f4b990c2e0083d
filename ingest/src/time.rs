//! Timestamp parsing for ingest, without a date crate.
//!
//! Windows logs carry two textual forms: Sysmon's `UtcTime` (`2019-05-18 20:36:50.123`,
//! always UTC, no zone) and RFC 3339 (`2019-05-18T20:36:46.254Z`, `...+02:00`) in
//! `@timestamp`, `event.created` and EVTX `TimeCreated`. Both are parsed here by hand into
//! epoch nanoseconds with the days-from-civil algorithm, and the lake's `day=` folders are
//! named with its inverse.

/// Nanoseconds in one second.
const NANOS_PER_SEC: i64 = 1_000_000_000;
/// Nanoseconds in one day.
pub(crate) const NANOS_PER_DAY: i64 = 86_400 * NANOS_PER_SEC;

/// Parses `YYYY-MM-DD[T ]HH:MM[:SS[.f{1,9}]]` followed by nothing (UTC), `Z`, or an offset
/// `±HH:MM` / `±HHMM` / `±HH`, into epoch nanoseconds (UTC).
///
/// Digits of the fraction past nanoseconds are ignored.
///
/// # Errors
/// A short message naming what is wrong; the caller adds the value and the field.
pub(crate) fn parse_timestamp(s: &str) -> Result<i64, &'static str> {
    let b = s.trim().as_bytes();
    let mut p = Cursor { b, i: 0 };
    let year = p.digits(4).ok_or("expected a 4-digit year")?;
    p.expect(b'-').ok_or("expected '-' after the year")?;
    let month = p.digits(2).ok_or("expected a 2-digit month")?;
    p.expect(b'-').ok_or("expected '-' after the month")?;
    let day = p.digits(2).ok_or("expected a 2-digit day")?;
    if !(p.expect(b'T').is_some() || p.expect(b't').is_some() || p.expect(b' ').is_some())
    {
        return Err("expected 'T' or a space between date and time");
    }
    let hour = p.digits(2).ok_or("expected a 2-digit hour")?;
    p.expect(b':').ok_or("expected ':' after the hour")?;
    let minute = p.digits(2).ok_or("expected 2-digit minutes")?;
    let mut second = 0;
    let mut nanos = 0;
    if p.expect(b':').is_some() {
        second = p.digits(2).ok_or("expected 2-digit seconds")?;
        if p.expect(b'.').is_some() || p.expect(b',').is_some() {
            let start = p.i;
            let mut scale = 100_000_000;
            while let Some(d) = p.digit() {
                nanos += i64::from(d) * scale;
                scale /= 10;
            }
            if p.i == start {
                return Err("expected digits after the decimal point");
            }
        }
    }
    let offset_secs = match p.next() {
        None => 0,
        Some(b'Z' | b'z') => 0,
        Some(sign @ (b'+' | b'-')) => {
            let oh = p.digits(2).ok_or("expected a 2-digit zone hour")?;
            p.expect(b':');
            let om = p.digits(2).unwrap_or(0);
            if oh > 23 || om > 59 {
                return Err("zone offset out of range");
            }
            let off = i64::from(oh * 3600 + om * 60);
            if sign == b'+' { off } else { -off }
        }
        Some(_) => return Err("unexpected text after the time"),
    };
    if p.i != b.len() {
        return Err("unexpected text after the zone");
    }
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return Err("date out of range");
    }
    // 60 is a leap second; it is kept as the first second of the next minute.
    if hour > 23 || minute > 59 || second > 60 {
        return Err("time of day out of range");
    }
    let days = days_from_civil(i64::from(year), month, day);
    let secs =
        days * 86_400 + i64::from(hour * 3600 + minute * 60 + second) - offset_secs;
    secs.checked_mul(NANOS_PER_SEC)
        .and_then(|ns| ns.checked_add(nanos))
        .ok_or("year out of the range of epoch nanoseconds (1678 to 2261)")
}

/// A byte cursor over ASCII text.
struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn next(&mut self) -> Option<u8> {
        let c = *self.b.get(self.i)?;
        self.i += 1;
        Some(c)
    }

    fn expect(&mut self, c: u8) -> Option<()> {
        (self.b.get(self.i) == Some(&c)).then(|| self.i += 1)
    }

    fn digit(&mut self) -> Option<u32> {
        let c = *self.b.get(self.i)?;
        c.is_ascii_digit().then(|| {
            self.i += 1;
            u32::from(c - b'0')
        })
    }

    fn digits(&mut self, n: usize) -> Option<u32> {
        let mut v = 0;
        for _ in 0..n {
            v = v * 10 + self.digit()?;
        }
        Some(v)
    }
}

fn is_leap(year: u32) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

pub(crate) use huntsman_core::clock::{civil_from_days, date_string, days_from_civil};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysmon_utc_time_is_utc() {
        // 2019-05-18 20:36:50.123 UTC = 1558211810.123 s.
        assert_eq!(
            parse_timestamp("2019-05-18 20:36:50.123"),
            Ok(1_558_211_810_123_000_000)
        );
    }

    #[test]
    fn rfc3339_with_zone_and_offsets() {
        let z = parse_timestamp("2019-05-18T20:36:46.254Z").expect("parses");
        assert_eq!(z, 1_558_211_806_254_000_000);
        let plus = parse_timestamp("2019-05-18T22:36:46.254+02:00").expect("parses");
        assert_eq!(plus, z);
        let minus = parse_timestamp("2019-05-18T16:36:46.254-0400").expect("parses");
        assert_eq!(minus, z);
    }

    #[test]
    fn fraction_keeps_nanoseconds_and_drops_the_rest() {
        let t = parse_timestamp("2018-07-28T07:24:45.7547874Z").expect("parses");
        assert_eq!(t % NANOS_PER_SEC, 754_787_400);
        let t = parse_timestamp("2018-07-28T07:24:45.1234567891Z").expect("parses");
        assert_eq!(t % NANOS_PER_SEC, 123_456_789);
    }

    #[test]
    fn no_seconds_and_no_zone_are_accepted() {
        assert_eq!(parse_timestamp("1970-01-01T00:01"), Ok(60 * NANOS_PER_SEC));
        assert_eq!(parse_timestamp("1969-12-31 23:59:59"), Ok(-NANOS_PER_SEC));
    }

    #[test]
    fn bad_timestamps_are_rejected() {
        for bad in [
            "",
            "2019-05-18",
            "2019-13-01T00:00:00Z",
            "2019-02-29T00:00:00Z",
            "2019-05-18T24:00:00Z",
            "2019-05-18T20:36:46.Z",
            "2019-05-18T20:36:46Zjunk",
            "18/05/2019 20:36",
            "3000-01-01T00:00:00Z",
        ] {
            assert!(parse_timestamp(bad).is_err(), "{bad}");
        }
        assert!(parse_timestamp("2020-02-29T00:00:00Z").is_ok());
    }

    #[test]
    fn civil_round_trips() {
        for day in [-719_468, -1, 0, 1, 18_000, 19_723, 100_000] {
            let (y, m, d) = civil_from_days(day);
            assert_eq!(days_from_civil(y, m, d), day);
        }
        assert_eq!(date_string(0), "1970-01-01");
        assert_eq!(date_string(18_034), "2019-05-18");
        assert_eq!(
            huntsman_core::clock::compact_utc(1_558_211_810),
            "20190518T203650Z"
        );
    }
}
