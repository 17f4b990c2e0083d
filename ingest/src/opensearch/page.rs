//! One `_search` response, read in one pass: the envelope (`pit_id`, `timed_out`,
//! `_shards`) and each hit's `_index`, `_id`, `sort` and `_source`, the source parsed
//! straight into a record draft by the same visitor `ingest files` uses, borrowing from
//! the response body.

use std::fmt;

use serde::de::{
    self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor,
};
use serde_json::Value;

use crate::parse::{Key, Parsed, RecordSeed};
use crate::record::FieldIndex;

/// `_shards` of a response.
#[derive(Debug, Default)]
pub(crate) struct Shards {
    pub total: u64,
    pub failed: u64,
    /// The first failure's `type: reason`.
    pub first_failure: Option<String>,
    /// Whether a failure is a missing search context (the PIT is gone on that shard).
    pub context_missing: bool,
}

/// One hit.
pub(crate) struct Hit<'de> {
    pub index: String,
    pub id: String,
    pub sort: Vec<Value>,
    /// `None` when the hit has no `_source` (disabled in the mapping).
    pub source: Option<Parsed<'de>>,
}

/// A parsed response.
#[derive(Default)]
pub(crate) struct Page<'de> {
    pub pit_id: Option<String>,
    pub timed_out: bool,
    pub shards: Shards,
    pub hits: Vec<Hit<'de>>,
}

/// Parses a `_search` response body.
///
/// # Errors
/// serde_json's error when the body is not JSON (a truncated body) or not a response.
pub(crate) fn parse_page<'de>(
    body: &'de [u8],
    idx: &FieldIndex,
) -> Result<Page<'de>, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let page = PageSeed { idx }.deserialize(&mut de)?;
    de.end()?;
    Ok(page)
}

struct PageSeed<'i> {
    idx: &'i FieldIndex,
}

impl<'de> DeserializeSeed<'de> for PageSeed<'_> {
    type Value = Page<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for PageSeed<'_> {
    type Value = Page<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a search response")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut page = Page::default();
        let mut saw_hits = false;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            match key.0.as_ref() {
                "pit_id" => page.pit_id = map.next_value()?,
                "timed_out" => {
                    page.timed_out = map.next_value::<Option<bool>>()?.unwrap_or(false)
                }
                "_shards" => page.shards = shards(map.next_value::<Value>()?),
                "hits" => {
                    page.hits = map.next_value_seed(HitsSeed { idx: self.idx })?;
                    saw_hits = true;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if !saw_hits {
            return Err(de::Error::missing_field("hits"));
        }
        Ok(page)
    }
}

fn shards(v: Value) -> Shards {
    let n = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
    let failures = v.get("failures").and_then(Value::as_array);
    let first_failure = failures.and_then(|f| f.first()).map(|f| {
        let reason = f.get("reason").unwrap_or(f);
        let ty = reason
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("failure");
        let why = reason.get("reason").and_then(Value::as_str).unwrap_or("");
        format!("{ty}: {why}")
    });
    let context_missing = failures.is_some_and(|f| {
        f.iter()
            .any(|x| x.to_string().contains("search_context_missing_exception"))
    });
    Shards {
        total: n("total"),
        failed: n("failed"),
        first_failure,
        context_missing,
    }
}

/// The `hits` object: its `hits` array.
struct HitsSeed<'i> {
    idx: &'i FieldIndex,
}

impl<'de> DeserializeSeed<'de> for HitsSeed<'_> {
    type Value = Vec<Hit<'de>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for HitsSeed<'_> {
    type Value = Vec<Hit<'de>>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("the hits object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut hits = Vec::new();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            if key.0 == "hits" {
                hits = map.next_value_seed(HitListSeed { idx: self.idx })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(hits)
    }
}

struct HitListSeed<'i> {
    idx: &'i FieldIndex,
}

impl<'de> DeserializeSeed<'de> for HitListSeed<'_> {
    type Value = Vec<Hit<'de>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for HitListSeed<'_> {
    type Value = Vec<Hit<'de>>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of hits")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(hit) = seq.next_element_seed(HitSeed { idx: self.idx })? {
            out.push(hit);
        }
        Ok(out)
    }
}

struct HitSeed<'i> {
    idx: &'i FieldIndex,
}

impl<'de> DeserializeSeed<'de> for HitSeed<'_> {
    type Value = Hit<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for HitSeed<'_> {
    type Value = Hit<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a hit")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut index = None;
        let mut id = None;
        let mut sort = None;
        let mut source = None;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            match key.0.as_ref() {
                "_index" => index = Some(map.next_value::<String>()?),
                "_id" => id = Some(map.next_value::<String>()?),
                "sort" => sort = Some(map.next_value::<Vec<Value>>()?),
                "_source" => {
                    source = Some(map.next_value_seed(RecordSeed { idx: self.idx })?)
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Hit {
            index: index.ok_or_else(|| de::Error::missing_field("_index"))?,
            id: id.ok_or_else(|| de::Error::missing_field("_id"))?,
            sort: sort.ok_or_else(|| de::Error::missing_field("sort"))?,
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_response_is_read_in_one_pass() {
        let body = br#"{"pit_id":"p2","took":3,"timed_out":false,
            "_shards":{"total":2,"successful":2,"skipped":0,"failed":0},
            "hits":{"total":{"value":2,"relation":"eq"},"max_score":null,"hits":[
              {"_index":"wlb-1","_id":"a","_score":null,"_source":{"winlog":{"event_id":1}},"sort":[5,"a"]},
              {"_index":"wlb-1","_id":"b","_score":null,"sort":[6,"b"],"_source":[1]}]}}"#;
        let page = parse_page(body, FieldIndex::get()).expect("parses");
        assert_eq!(page.pit_id.as_deref(), Some("p2"));
        assert_eq!(page.shards.total, 2);
        assert_eq!(page.hits.len(), 2);
        assert_eq!(page.hits[1].sort, [Value::from(6), Value::from("b")]);
        assert!(matches!(page.hits[0].source, Some(Parsed::Object(_))));
        assert!(matches!(page.hits[1].source, Some(Parsed::NotObject(_))));
    }

    #[test]
    fn truncated_bodies_and_shard_failures() {
        let body =
            br#"{"pit_id":"p","hits":{"hits":[{"_index":"i","_id":"a","sort":[1],"_sou"#;
        assert!(parse_page(body, FieldIndex::get()).is_err());
        let body = br#"{"_shards":{"total":3,"successful":2,"failed":1,"failures":[{"shard":0,
            "index":"i","reason":{"type":"search_context_missing_exception","reason":"gone"}}]},
            "hits":{"hits":[]}}"#;
        let page = parse_page(body, FieldIndex::get()).expect("parses");
        assert_eq!(page.shards.failed, 1);
        assert!(page.shards.context_missing);
        assert_eq!(
            page.shards.first_failure.as_deref(),
            Some("search_context_missing_exception: gone")
        );
    }
}
