//! Unit tests of single SQL files of the built-in packs, on hand-made events.

use std::sync::Arc;

use datafusion::arrow::array::{AsArray, Int32Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::prelude::SessionContext;

use super::pack::Pack;

/// (event id, host, source ip, initiated, query name, query results)
type Row = (
    i32,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
);

async fn host_addresses(rows: &[Row]) -> Vec<(String, String)> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("winlog_event_id", DataType::Int32, false),
        Field::new("winlog_computer_name", DataType::Utf8, true),
        Field::new("winlog_event_data_sourceip", DataType::Utf8, true),
        Field::new("winlog_event_data_initiated", DataType::Utf8, true),
        Field::new("winlog_event_data_queryname", DataType::Utf8, true),
        Field::new("winlog_event_data_queryresults", DataType::Utf8, true),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int32Array::from_iter_values(rows.iter().map(|r| r.0))),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.1))),
            Arc::new(StringArray::from_iter(rows.iter().map(|r| r.2))),
            Arc::new(StringArray::from_iter(rows.iter().map(|r| r.3))),
            Arc::new(StringArray::from_iter(rows.iter().map(|r| r.4))),
            Arc::new(StringArray::from_iter(rows.iter().map(|r| r.5))),
        ],
    )
    .expect("batch");
    let ctx = SessionContext::new();
    huntsman_udfs::register_all_on_context(&ctx);
    ctx.register_batch("events", batch).expect("register");
    let sql = Pack::builtin_named("widespread-attack")
        .expect("pack")
        .file("02_hosts.sql")
        .expect("file");
    let batches = ctx
        .sql(sql)
        .await
        .expect("plan")
        .collect()
        .await
        .expect("run");
    let mut pairs = Vec::new();
    for b in &batches {
        let ips = b.column(0).as_string::<i32>();
        let hosts = b.column(1).as_string::<i32>();
        for i in 0..b.num_rows() {
            pairs.push((ips.value(i).to_string(), hosts.value(i).to_string()));
        }
    }
    pairs.sort();
    pairs
}

#[tokio::test]
async fn hosts_are_found_by_their_outbound_addresses_and_by_dns() {
    let rows: &[Row] = &[
        // WS1 connects out over IPv4: its source address is its own.
        (
            3,
            "WS1.corp.local",
            Some("10.0.0.21"),
            Some("true"),
            None,
            None,
        ),
        // An inbound connection's source is not taken as the receiver's address
        // (shippers disagree on which side it names).
        (
            3,
            "WS1.corp.local",
            Some("10.0.0.99"),
            Some("false"),
            None,
            None,
        ),
        // DC1 talks only IPv6 and loopback; WS1 resolves its name.
        (
            3,
            "DC1.corp.local",
            Some("fe80:0:0:0:1:2:3:4"),
            Some("true"),
            None,
            None,
        ),
        (
            3,
            "DC1.corp.local",
            Some("0:0:0:0:0:0:0:1"),
            Some("true"),
            None,
            None,
        ),
        (
            22,
            "WS1.corp.local",
            None,
            None,
            Some("dc1.CORP.local"),
            Some("::ffff:10.0.0.5;type:  5 alias.example;"),
        ),
        // An external name's answer is no host's address.
        (
            22,
            "WS1.corp.local",
            None,
            None,
            Some("www.example.com"),
            Some("::ffff:93.184.216.34;"),
        ),
    ];
    let found = host_addresses(rows).await;
    let expected = [
        ("10.0.0.21", "WS1.corp.local"),
        ("10.0.0.5", "DC1.corp.local"),
        ("fe80:0:0:0:1:2:3:4", "DC1.corp.local"),
    ]
    .map(|(a, b)| (a.to_string(), b.to_string()));
    assert_eq!(found, expected.to_vec());
}
