//! The four source layouts and how each maps onto the lake's columns.
//!
//! A parsed record ([`Draft`]) holds what every layout could have said; here the layout is
//! decided from the keys present, the header fields (event id, channel, computer, user,
//! task, time) are taken from that layout's places, and the checks that decide whether a
//! record is ingested or rejected are made. Which source field feeds which column is
//! documented in `docs/ingest.md`.

use std::borrow::Cow;

use huntsman_core::schema::{
    CHANNEL_DIRECTORY_SERVICE, CHANNEL_SECURITY, CHANNEL_SYSMON,
};

pub(crate) use super::fields::FieldIndex;
use super::fields::{
    X_IPADDRESS, X_IPPORT, X_TARGETUSERNAME, X_UTCTIME, X_WORKSTATIONNAME,
};
pub use super::layout::Layout;
use super::parse::{Draft, Slots, Val};
use super::report::{RejectKind, Rejection};
use super::time::parse_timestamp;

/// One event, mapped and checked, ready for the lake.
pub(crate) struct Row<'a> {
    pub layout: Layout,
    /// Epoch nanoseconds (UTC).
    pub created: i64,
    pub event_id: i32,
    /// `event.code` where the source has one; otherwise the event id is written.
    pub code: Option<Val<'a>>,
    /// Canonical channel name.
    pub channel: Cow<'a, str>,
    pub computer: Option<Val<'a>>,
    pub user: Option<Val<'a>>,
    pub task: Option<Val<'a>>,
    /// Event data by slot (see [`FieldIndex::data_columns`]).
    pub data: Slots<'a>,
}

/// Channels whose case varies between collectors (nxlog writes `security`), by their
/// canonical spelling.
const KNOWN_CHANNELS: [&str; 7] = [
    CHANNEL_SYSMON,
    CHANNEL_SECURITY,
    CHANNEL_DIRECTORY_SERVICE,
    "System",
    "Application",
    "Windows PowerShell",
    "Microsoft-Windows-PowerShell/Operational",
];

/// Names of well-known SIDs, as winlogbeat resolves them, for EVTX `Security/@UserID`.
const WELL_KNOWN_SIDS: [(&str, &str); 4] = [
    ("S-1-5-18", "SYSTEM"),
    ("S-1-5-19", "LOCAL SERVICE"),
    ("S-1-5-20", "NETWORK SERVICE"),
    ("S-1-5-7", "ANONYMOUS LOGON"),
];

/// The time fields tried in order; the first one present decides.
type TimeCandidates<'a> = [(&'static str, Option<Val<'a>>); 3];

/// Decides the layout of a parsed record and maps it onto the lake's columns.
///
/// # Errors
/// A rejection when the layout is unknown, or the event id, channel or time is missing or
/// malformed.
pub(crate) fn into_row<'a>(d: Draft<'a>, idx: &FieldIndex) -> Result<Row<'a>, Rejection> {
    let mut d = d;
    let layout = if d.has_winlog {
        Layout::Winlogbeat
    } else if d.has_evtx {
        Layout::Evtx
    } else if d.event_id.is_some() || d.log_name.is_some() {
        Layout::Winlogbeat6
    } else if d.f_event_id.is_some() || d.f_channel.is_some() {
        Layout::NxlogFlat
    } else {
        return Err(Rejection::new(
            RejectKind::UnknownLayout,
            "none of winlog.event_id, event_id, EventID, Event.System found",
        ));
    };
    let (id, channel, computer, user, task, code, mut data, times): (
        _,
        _,
        _,
        _,
        _,
        _,
        Slots<'a>,
        TimeCandidates<'a>,
    ) = match layout {
        Layout::Winlogbeat => {
            let utc = d.nested.vals[X_UTCTIME].take();
            (
                ("winlog.event_id", d.w_event_id),
                ("winlog.channel", d.w_channel),
                d.w_computer,
                d.w_user,
                d.w_task,
                d.e_code,
                d.nested,
                [
                    ("UtcTime", utc),
                    ("@timestamp", d.timestamp),
                    ("event.created", d.e_created),
                ],
            )
        }
        Layout::Winlogbeat6 => {
            let utc = d.nested.vals[X_UTCTIME].take();
            (
                ("event_id", d.event_id),
                ("log_name", d.log_name),
                d.computer_name,
                d.user_name,
                d.task,
                None,
                d.nested,
                [("UtcTime", utc), ("@timestamp", d.timestamp), ("", None)],
            )
        }
        Layout::NxlogFlat => {
            let utc = d.flat.vals[X_UTCTIME].take();
            (
                ("EventID", d.f_event_id),
                ("Channel", d.f_channel),
                d.f_hostname,
                d.f_account,
                d.f_category,
                None,
                d.flat,
                [("UtcTime", utc), ("@timestamp", d.timestamp), ("", None)],
            )
        }
        Layout::Evtx => {
            let utc = d.nested.vals[X_UTCTIME].take();
            let user = d.x_user.map(|sid| match sid {
                Val::Str(s) => Val::Str(well_known_sid(s)),
                other => other,
            });
            (
                ("Event.System.EventID", d.x_event_id),
                ("Event.System.Channel", d.x_channel),
                d.x_computer,
                user,
                d.x_task,
                None,
                d.nested,
                [
                    ("UtcTime", utc),
                    ("Event.System.TimeCreated", d.x_time),
                    ("", None),
                ],
            )
        }
    };
    let event_id = event_id(id)?;
    let channel = channel_name(channel)?;
    let created = event_time(times)?;
    let mut user = user;
    if event_id == 4624 && channel == CHANNEL_SECURITY {
        if let Some(target) = data.vals[X_TARGETUSERNAME].take() {
            user = Some(target);
        }
        for (helper, column) in [
            (X_IPADDRESS, idx.sourceip),
            (X_IPPORT, idx.sourceport),
            (X_WORKSTATIONNAME, idx.sourcehostname),
        ] {
            if let Some(column) = column
                && data.vals[column].is_none()
            {
                data.vals[column] = data.vals[helper].take();
            }
        }
    }
    Ok(Row {
        layout,
        created,
        event_id,
        code,
        channel,
        computer,
        user,
        task,
        data,
    })
}

fn event_id((field, v): (&str, Option<Val<'_>>)) -> Result<i32, Rejection> {
    let bad = |shown: String| {
        Rejection::new(
            RejectKind::BadEventId,
            format!("{field} {shown} is not an event id (an integer from 0 to 2^31-1)"),
        )
    };
    let id = match v {
        None | Some(Val::Null) => {
            return Err(Rejection::new(
                RejectKind::MissingEventId,
                format!("no {field}"),
            ));
        }
        Some(Val::Int(i)) => i32::try_from(i).map_err(|_| bad(i.to_string()))?,
        Some(Val::UInt(u)) => i32::try_from(u).map_err(|_| bad(u.to_string()))?,
        Some(Val::Str(s)) => {
            s.trim().parse::<i32>().map_err(|_| bad(format!("{s:?}")))?
        }
        Some(Val::Float(f)) => return Err(bad(f.to_string())),
        Some(Val::Bool(b)) => return Err(bad(b.to_string())),
    };
    if id < 0 {
        return Err(bad(id.to_string()));
    }
    Ok(id)
}

fn channel_name<'a>(
    (field, v): (&str, Option<Val<'a>>),
) -> Result<Cow<'a, str>, Rejection> {
    let text = v
        .as_ref()
        .and_then(Val::text)
        .filter(|s| !s.trim().is_empty());
    let Some(text) = text else {
        return Err(Rejection::new(
            RejectKind::MissingChannel,
            format!("no {field}"),
        ));
    };
    Ok(canonical_channel(text))
}

/// The canonical spelling of a well-known channel, compared case-insensitively; other
/// channels as they are.
pub(crate) fn canonical_channel(name: Cow<'_, str>) -> Cow<'_, str> {
    let trimmed = name.trim();
    match KNOWN_CHANNELS
        .iter()
        .find(|c| c.eq_ignore_ascii_case(trimmed))
    {
        Some(&canonical) => Cow::Borrowed(canonical),
        None if trimmed.len() == name.len() => name,
        None => Cow::Owned(trimmed.to_owned()),
    }
}

fn well_known_sid(sid: Cow<'_, str>) -> Cow<'_, str> {
    match WELL_KNOWN_SIDS.iter().find(|(s, _)| *s == sid) {
        Some(&(_, name)) => Cow::Borrowed(name),
        None => sid,
    }
}

fn event_time(candidates: TimeCandidates<'_>) -> Result<i64, Rejection> {
    for (field, v) in candidates {
        match v {
            None | Some(Val::Null) => continue,
            Some(Val::Str(s)) => {
                return parse_timestamp(&s).map_err(|why| {
                    Rejection::new(
                        RejectKind::BadTimestamp,
                        format!("{field} {s:?}: {why}"),
                    )
                });
            }
            Some(other) => {
                return Err(Rejection::new(
                    RejectKind::BadTimestamp,
                    format!("{field} {other:?} is not a timestamp string"),
                ));
            }
        }
    }
    Err(Rejection::new(
        RejectKind::MissingTimestamp,
        "no UtcTime, @timestamp, event.created or TimeCreated",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::DATA_PREFIX;
    use crate::parse::{Parsed, parse_record};
    use huntsman_core::schema::COLUMNS;
    use huntsman_core::schema::{IMAGE, INITIATED, PARAM2, PROCESSGUID};

    fn row(line: &str) -> Result<Row<'_>, Rejection> {
        let idx = FieldIndex::get();
        match parse_record(line.as_bytes(), idx).expect("valid JSON") {
            Parsed::Object(d) => into_row(*d, idx),
            Parsed::NotObject(what) => panic!("not an object: {what}"),
        }
    }

    fn data<'r>(row: &'r Row<'_>, column: &str) -> Option<&'r Val<'r>> {
        let idx = FieldIndex::get();
        let col = COLUMNS
            .iter()
            .position(|c| *c == column)
            .expect("a lake column");
        let &(slot, _) = idx.data_columns.iter().find(|(_, c)| *c == col)?;
        row.data.vals[slot].as_ref()
    }

    #[test]
    fn every_event_data_column_has_a_slot() {
        let idx = FieldIndex::get();
        let n = COLUMNS
            .iter()
            .filter(|c| c.starts_with(DATA_PREFIX))
            .count();
        assert_eq!(idx.data_columns.len(), n);
        assert_eq!(idx.slot("ProcessGuid"), idx.slot("processguid"));
        assert!(idx.slot("ProcessGuid").is_some());
        assert!(idx.slot("NotAField").is_none());
        assert!(idx.slot("").is_none());
    }

    #[test]
    fn winlogbeat8_string_event_id_and_code() {
        let r = row(
            r#"{"@timestamp":"2024-01-02T03:04:05.5Z","event":{"code":"3","created":"2024-01-02T03:04:06Z"},
               "winlog":{"event_id":"3","channel":"microsoft-windows-sysmon/operational",
               "computer_name":"WS1.corp","user":{"name":"SYSTEM"},"task":"Network",
               "event_data":{"ProcessGuid":"{g}","Initiated":"true"}}}"#,
        )
        .expect("maps");
        assert_eq!(r.layout, Layout::Winlogbeat);
        assert_eq!(r.event_id, 3);
        assert_eq!(r.channel, CHANNEL_SYSMON);
        assert_eq!(r.created, 1_704_164_645_500_000_000);
        assert_eq!(data(&r, PROCESSGUID), Some(&Val::Str("{g}".into())));
        assert_eq!(data(&r, INITIATED), Some(&Val::Str("true".into())));
        assert_eq!(r.code, Some(Val::Str("3".into())));
    }

    #[test]
    fn utc_time_wins_over_timestamp() {
        let r = row(
            r#"{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational",
               "@timestamp":"2019-05-18T20:36:46Z","UtcTime":"2019-05-18 20:35:52.569",
               "Image":"C:\\x.exe"}"#,
        )
        .expect("maps");
        assert_eq!(r.layout, Layout::NxlogFlat);
        assert_eq!(r.created, 1_558_211_752_569_000_000);
        assert_eq!(data(&r, IMAGE), Some(&Val::Str("C:\\x.exe".into())));
    }

    #[test]
    fn unparsable_first_time_rejects_the_record() {
        let err = row(r#"{"event_id":1,"log_name":"System","@timestamp":"yesterday"}"#)
            .err()
            .expect("rejected");
        assert_eq!(err.kind, RejectKind::BadTimestamp);
        assert!(err.detail.contains("@timestamp"), "{}", err.detail);
    }

    #[test]
    fn missing_fields_are_named() {
        let cases = [
            (
                r#"{"log_name":"System","@timestamp":"2020-01-01T00:00:00Z"}"#,
                RejectKind::MissingEventId,
            ),
            (
                r#"{"EventID":"x","Channel":"System","@timestamp":"2020-01-01T00:00:00Z"}"#,
                RejectKind::BadEventId,
            ),
            (
                r#"{"EventID":70000000000,"Channel":"S","@timestamp":"2020-01-01T00:00:00Z"}"#,
                RejectKind::BadEventId,
            ),
            (
                r#"{"EventID":4,"@timestamp":"2020-01-01T00:00:00Z"}"#,
                RejectKind::MissingChannel,
            ),
            (
                r#"{"EventID":4,"Channel":"S"}"#,
                RejectKind::MissingTimestamp,
            ),
            (r#"{"foo":1}"#, RejectKind::UnknownLayout),
        ];
        for (line, kind) in cases {
            let err = row(line).err().expect("rejected");
            assert_eq!(err.kind, kind, "{line}");
        }
    }

    #[test]
    fn security_4624_fills_user_and_source() {
        let r = row(
            r#"{"EventID":4624,"Channel":"security","@timestamp":"2020-01-01T00:00:00Z",
               "AccountName":"SYSTEM","TargetUserName":"alice","IpAddress":"10.0.0.5",
               "IpPort":"50123","WorkstationName":"WS7"}"#,
        )
        .expect("maps");
        assert_eq!(r.channel, "Security");
        assert_eq!(r.user, Some(Val::Str("alice".into())));
        let idx = FieldIndex::get();
        let sourceip = idx.sourceip.expect("schema has sourceip");
        assert_eq!(r.data.vals[sourceip], Some(Val::Str("10.0.0.5".into())));
    }

    #[test]
    fn evtx_json_maps_system_and_unnamed_data() {
        let r = row(
            r##"{"Event":{"#attributes":{"xmlns":"x"},"System":{"Provider":{"#attributes":{"Name":"NTDS"}},
               "EventID":{"#attributes":{"Qualifiers":16384},"#text":1644},"Task":15,
               "TimeCreated":{"#attributes":{"SystemTime":"2021-11-19T16:52:33.833733500Z"}},
               "Channel":"Directory Service","Computer":"DC1.corp",
               "Security":{"#attributes":{"UserID":"S-1-5-18"}}},
               "EventData":{"Data":{"#text":["client","(objectClass=user)","base"]}}}}"##,
        )
        .expect("maps");
        assert_eq!(r.layout, Layout::Evtx);
        assert_eq!(r.event_id, 1644);
        assert_eq!(r.channel, CHANNEL_DIRECTORY_SERVICE);
        assert_eq!(r.user, Some(Val::Str("SYSTEM".into())));
        assert_eq!(r.task, Some(Val::UInt(15)));
        assert_eq!(
            data(&r, PARAM2),
            Some(&Val::Str("(objectClass=user)".into()))
        );
        assert_eq!(r.created % 1_000_000_000, 833_733_500);
    }
}
