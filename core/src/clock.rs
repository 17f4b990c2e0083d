//! Calendar arithmetic for the lab: UTC dates, weekdays and ISO timestamps.
//!
//! The lab runs in UTC and needs only whole days, so a few lines of civil-date arithmetic
//! (Howard Hinnant's algorithms) replace a date-time dependency.

/// Nanoseconds in one second.
pub const SEC: i64 = 1_000_000_000;
/// Nanoseconds in one minute.
pub const MIN: i64 = 60 * SEC;
/// Nanoseconds in one hour.
pub const HOUR: i64 = 60 * MIN;
/// Nanoseconds in one day.
pub const DAY: i64 = 24 * HOUR;

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date `(year, month, day)` of a day count since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Day of the week of a day count, 0 = Monday .. 6 = Sunday.
pub fn weekday(days: i64) -> u32 {
    // 1970-01-01 was a Thursday.
    (days + 3).rem_euclid(7) as u32
}

/// Parses `YYYY-MM-DD` into days since 1970-01-01.
pub fn parse_date(s: &str) -> Option<i64> {
    let mut parts = s.trim().splitn(3, '-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: u32 = parts.next()?.parse().ok()?;
    let d: u32 = parts.next()?.parse().ok()?;
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || d == 0 {
        return None;
    }
    let days = days_from_civil(y, m, d);
    // Reject 2024-02-31 and the like: the round trip must give the same date.
    (civil_from_days(days) == (y, m, d)).then_some(days)
}

/// `YYYY-MM-DD` of a day count.
pub fn date_string(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// RFC 3339 UTC timestamp with milliseconds, e.g. `2024-03-04T08:15:30.123Z`.
pub fn iso(ns: i64) -> String {
    let days = ns.div_euclid(DAY);
    let rem = ns.rem_euclid(DAY);
    let (h, mi, s, ms) = (
        rem / HOUR,
        rem % HOUR / MIN,
        rem % MIN / SEC,
        rem % SEC / 1_000_000,
    );
    format!("{}T{h:02}:{mi:02}:{s:02}.{ms:03}Z", date_string(days))
}

/// `YYYYMMDDTHHMMSSZ` of epoch seconds, for run ids.
pub fn compact_utc(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        for z in -1000..40_000 {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(20_513), (2026, 3, 1));
        assert_eq!(date_string(days_from_civil(2024, 3, 4)), "2024-03-04");
    }

    #[test]
    fn march_4_2024_is_a_monday() {
        assert_eq!(weekday(days_from_civil(2024, 3, 4)), 0);
        assert_eq!(weekday(days_from_civil(2024, 3, 10)), 6);
    }

    #[test]
    fn parse_date_rejects_bad_dates() {
        assert_eq!(parse_date("2024-03-04"), Some(days_from_civil(2024, 3, 4)));
        assert_eq!(parse_date("2024-02-30"), None);
        assert_eq!(parse_date("yesterday"), None);
        assert_eq!(parse_date("2024-13-01"), None);
    }

    #[test]
    fn iso_formats_milliseconds() {
        let ns = days_from_civil(2024, 3, 4) * DAY
            + 8 * HOUR
            + 15 * MIN
            + 30 * SEC
            + 123_456_789;
        assert_eq!(iso(ns), "2024-03-04T08:15:30.123Z");
    }
}
