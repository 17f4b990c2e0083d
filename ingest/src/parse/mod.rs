//! One JSON record into a [`Draft`], borrowing from the input line.
//!
//! Ingest is bound by JSON parsing, so records are not built as `serde_json::Value` trees.
//! A serde visitor walks each record once and keeps only the values the lake needs, in
//! fixed slots, as strings borrowed from the line where they hold no escapes; everything
//! else is skipped without allocating. Each layout's keys land in their own slots, and
//! [`super::record`] decides afterwards which layout the record was.

use std::borrow::Cow;
use std::fmt;

use serde::Deserializer;
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::fields::{FieldIndex, MAX_SLOTS};

mod leaf;
mod value;

use leaf::{AttrSeed, FieldSeed, TextSeed};
pub(crate) use value::{Key, Val};

/// Values of event-data fields (and of the few other fields the mapping reads), by slot.
pub(crate) struct Slots<'a> {
    pub vals: [Option<Val<'a>>; MAX_SLOTS],
}

impl Default for Slots<'_> {
    fn default() -> Self {
        Self {
            vals: std::array::from_fn(|_| None),
        }
    }
}

/// Everything a record may say that the lake needs, by layout, before the layout is known.
#[derive(Default)]
pub(crate) struct Draft<'a> {
    /// Top-level `winlog` object (winlogbeat 7/8).
    pub has_winlog: bool,
    /// Top-level `Event` object (EVTX rendered as JSON).
    pub has_evtx: bool,
    /// `@timestamp`.
    pub timestamp: Option<Val<'a>>,
    // winlogbeat 7/8: `winlog.*` and ECS `event.*`.
    pub w_event_id: Option<Val<'a>>,
    pub w_channel: Option<Val<'a>>,
    pub w_computer: Option<Val<'a>>,
    pub w_task: Option<Val<'a>>,
    pub w_user: Option<Val<'a>>,
    pub e_code: Option<Val<'a>>,
    pub e_created: Option<Val<'a>>,
    // winlogbeat 6: top level.
    pub event_id: Option<Val<'a>>,
    pub log_name: Option<Val<'a>>,
    pub computer_name: Option<Val<'a>>,
    pub task: Option<Val<'a>>,
    pub user_name: Option<Val<'a>>,
    // nxlog flat: top level.
    pub f_event_id: Option<Val<'a>>,
    pub f_channel: Option<Val<'a>>,
    pub f_hostname: Option<Val<'a>>,
    pub f_category: Option<Val<'a>>,
    pub f_account: Option<Val<'a>>,
    // EVTX: `Event.System.*`.
    pub x_event_id: Option<Val<'a>>,
    pub x_channel: Option<Val<'a>>,
    pub x_computer: Option<Val<'a>>,
    pub x_time: Option<Val<'a>>,
    pub x_user: Option<Val<'a>>,
    pub x_task: Option<Val<'a>>,
    /// Nested event data: `winlog.event_data`, `event_data`, `Event.EventData` (and the
    /// `user_data` forms).
    pub nested: Slots<'a>,
    /// Top-level scalars, the event data of the flat layout.
    pub flat: Slots<'a>,
}

/// The outcome of parsing one JSON text.
pub(crate) enum Parsed<'a> {
    /// A JSON object, read into a draft.
    Object(Box<Draft<'a>>),
    /// Valid JSON, but not an object; names what it was.
    NotObject(&'static str),
}

/// Parses one JSON text (a line, or an EVTX record rendered as JSON).
///
/// # Errors
/// serde_json's error when the text is not JSON or has trailing characters.
pub(crate) fn parse_record<'a>(
    text: &'a [u8],
    idx: &FieldIndex,
) -> Result<Parsed<'a>, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(text);
    let parsed = RecordSeed { idx }.deserialize(&mut de)?;
    de.end()?;
    Ok(parsed)
}

/// Reads one record from any deserializer (a line, or an element of a JSON array).
pub(crate) struct RecordSeed<'i> {
    pub idx: &'i FieldIndex,
}

impl<'de> DeserializeSeed<'de> for RecordSeed<'_> {
    type Value = Parsed<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for RecordSeed<'_> {
    type Value = Parsed<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let mut draft = Box::<Draft<'de>>::default();
        walk(map, &mut draft, Ctx::Top, self.idx)?;
        Ok(Parsed::Object(draft))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Parsed::NotObject("an array"))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Parsed::NotObject("a boolean"))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Parsed::NotObject("a number"))
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Parsed::NotObject("a number"))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Parsed::NotObject("a number"))
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Parsed::NotObject("a string"))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Parsed::NotObject("null"))
    }
}

/// Which object the walk is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ctx {
    Top,
    Winlog,
    WinlogUser,
    Ecs,
    User,
    /// Event data of winlogbeat (nested) or EVTX `EventData`.
    Data,
    /// EVTX `UserData`: its one child element holds the fields.
    EvtxUserData,
    Evtx,
    System,
}

/// Where a scalar goes.
enum Dest<'de> {
    Header(for<'x> fn(&'x mut Draft<'de>) -> &'x mut Option<Val<'de>>),
    Nested,
    Flat,
    Skip,
}

/// Walks one object in context `ctx`, filling `draft`.
fn walk<'de, A: MapAccess<'de>>(
    mut map: A,
    draft: &mut Draft<'de>,
    ctx: Ctx,
    idx: &FieldIndex,
) -> Result<(), A::Error> {
    while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
        let key = key.as_ref();
        // Objects to descend into.
        let child = match (ctx, key) {
            (Ctx::Top, "winlog") => {
                draft.has_winlog = true;
                Some(Ctx::Winlog)
            }
            (Ctx::Top, "Event") => {
                draft.has_evtx = true;
                Some(Ctx::Evtx)
            }
            (Ctx::Top, "event") => Some(Ctx::Ecs),
            (Ctx::Top, "user") => Some(Ctx::User),
            (Ctx::Top | Ctx::Winlog, "event_data" | "user_data") => Some(Ctx::Data),
            (Ctx::Winlog, "user") => Some(Ctx::WinlogUser),
            (Ctx::Evtx, "System") => Some(Ctx::System),
            (Ctx::Evtx, "EventData") => Some(Ctx::Data),
            (Ctx::Evtx, "UserData") => Some(Ctx::EvtxUserData),
            // Elements inside `UserData` are read as its fields; deeper ones are skipped.
            (Ctx::EvtxUserData, _) => Some(Ctx::Data),
            _ => None,
        };
        if let Some(child) = child {
            map.next_value_seed(ObjSeed {
                draft: &mut *draft,
                ctx: child,
                idx,
            })?;
            continue;
        }
        // Special values inside EVTX objects.
        match (ctx, key) {
            (Ctx::System, "EventID") => {
                draft.x_event_id = map.next_value_seed(TextSeed)?;
                continue;
            }
            (Ctx::System, "TimeCreated") => {
                draft.x_time = map.next_value_seed(AttrSeed("SystemTime"))?;
                continue;
            }
            (Ctx::System, "TimeCreated_attributes") => {
                draft.x_time = map.next_value_seed(FieldSeed("SystemTime"))?;
                continue;
            }
            (Ctx::System, "Security") => {
                draft.x_user = map.next_value_seed(AttrSeed("UserID"))?;
                continue;
            }
            (Ctx::System, "Security_attributes") => {
                draft.x_user = map.next_value_seed(FieldSeed("UserID"))?;
                continue;
            }
            (Ctx::Data, "Data") if draft.has_evtx => {
                map.next_value_seed(ParamsSeed {
                    slots: &mut draft.nested,
                    idx,
                })?;
                continue;
            }
            _ => {}
        }
        let dest: Dest<'de> = match (ctx, key) {
            (Ctx::Top, "@timestamp") => Dest::Header(|d| &mut d.timestamp),
            (Ctx::Top, "event_id") => Dest::Header(|d| &mut d.event_id),
            (Ctx::Top, "log_name") => Dest::Header(|d| &mut d.log_name),
            (Ctx::Top, "computer_name") => Dest::Header(|d| &mut d.computer_name),
            (Ctx::Top, "task") => Dest::Header(|d| &mut d.task),
            (Ctx::Top, "EventID") => Dest::Header(|d| &mut d.f_event_id),
            (Ctx::Top, "Channel") => Dest::Header(|d| &mut d.f_channel),
            (Ctx::Top, "Hostname") => Dest::Header(|d| &mut d.f_hostname),
            (Ctx::Top, "Category") => Dest::Header(|d| &mut d.f_category),
            (Ctx::Top, "AccountName") => Dest::Header(|d| &mut d.f_account),
            (Ctx::Top, _) => Dest::Flat,
            (Ctx::Winlog, "event_id") => Dest::Header(|d| &mut d.w_event_id),
            (Ctx::Winlog, "channel") => Dest::Header(|d| &mut d.w_channel),
            (Ctx::Winlog, "computer_name") => Dest::Header(|d| &mut d.w_computer),
            (Ctx::Winlog, "task") => Dest::Header(|d| &mut d.w_task),
            (Ctx::WinlogUser, "name") => Dest::Header(|d| &mut d.w_user),
            (Ctx::Ecs, "code") => Dest::Header(|d| &mut d.e_code),
            (Ctx::Ecs, "created") => Dest::Header(|d| &mut d.e_created),
            (Ctx::User, "name") => Dest::Header(|d| &mut d.user_name),
            (Ctx::System, "Channel") => Dest::Header(|d| &mut d.x_channel),
            (Ctx::System, "Computer") => Dest::Header(|d| &mut d.x_computer),
            (Ctx::System, "Task") => Dest::Header(|d| &mut d.x_task),
            (Ctx::Data, _) => Dest::Nested,
            _ => Dest::Skip,
        };
        match dest {
            Dest::Header(field) => *field(draft) = Some(map.next_value::<Val<'de>>()?),
            Dest::Nested | Dest::Flat => match idx.slot(key) {
                Some(slot) => {
                    let slots = match dest {
                        Dest::Nested => &mut draft.nested,
                        _ => &mut draft.flat,
                    };
                    slots.vals[slot] = Some(map.next_value::<Val<'de>>()?);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            },
            Dest::Skip => {
                map.next_value::<IgnoredAny>()?;
            }
        }
    }
    Ok(())
}

/// Walks an object value in a context; any other value is skipped.
struct ObjSeed<'d, 'de, 'i> {
    draft: &'d mut Draft<'de>,
    ctx: Ctx,
    idx: &'i FieldIndex,
}

impl<'de> DeserializeSeed<'de> for ObjSeed<'_, 'de, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ObjSeed<'_, 'de, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        walk(map, self.draft, self.ctx, self.idx)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}
/// Unnamed EVTX `<Data>` elements (`"Data": {"#text": [..]}`, or one string): they become
/// `param1`, `param2`, ... as winlogbeat names them.
struct ParamsSeed<'s, 'de, 'i> {
    slots: &'s mut Slots<'de>,
    idx: &'i FieldIndex,
}

impl<'de> ParamsSeed<'_, 'de, '_> {
    fn put(&mut self, n: usize, v: Val<'de>) {
        if let Some(slot) = self.idx.slot(&format!("param{n}")) {
            self.slots.vals[slot] = Some(v);
        }
    }
}

impl<'de> DeserializeSeed<'de> for ParamsSeed<'_, 'de, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ParamsSeed<'_, 'de, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("EVTX Data elements")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let (slots, idx) = (self.slots, self.idx);
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            if key == "#text" {
                map.next_value_seed(ParamsSeed {
                    slots: &mut *slots,
                    idx,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        let mut n = 0;
        while let Some(v) = seq.next_element::<Val<'de>>()? {
            n += 1;
            self.put(n, v);
        }
        Ok(())
    }
    fn visit_bool<E>(mut self, v: bool) -> Result<(), E> {
        self.put(1, Val::Bool(v));
        Ok(())
    }
    fn visit_i64<E>(mut self, v: i64) -> Result<(), E> {
        self.put(1, Val::Int(v));
        Ok(())
    }
    fn visit_u64<E>(mut self, v: u64) -> Result<(), E> {
        self.put(1, Val::UInt(v));
        Ok(())
    }
    fn visit_f64<E>(mut self, v: f64) -> Result<(), E> {
        self.put(1, Val::Float(v));
        Ok(())
    }
    fn visit_borrowed_str<E>(mut self, v: &'de str) -> Result<(), E> {
        self.put(1, Val::Str(Cow::Borrowed(v)));
        Ok(())
    }
    fn visit_str<E>(mut self, v: &str) -> Result<(), E> {
        self.put(1, Val::Str(Cow::Owned(v.to_owned())));
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}
