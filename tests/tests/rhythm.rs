//! `c2-beacon` flags a rhythm only when chance does not explain it: thousands of
//! processes whose dozen connections arrive without a schedule (exponential gaps), so that
//! some look regular by chance, beside one agent with the same number of check-ins a few
//! seconds apart. The data spans half an hour, so no first-seen baseline applies and every
//! pair is one host's own: the rhythm and its test decide.

use std::time::Duration;

use huntsman_tests::data::{NetworkEvent, write_network_events};
use huntsman_tests::{latest_run, query_parquet, run_client, succeeded as ok};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const NOISE: usize = 3000;
const CONNECTIONS: usize = 14;
const SEC: i64 = 1_000_000_000;

fn events() -> Vec<NetworkEvent> {
    let mut rng = ChaCha8Rng::seed_from_u64(20);
    let start: i64 = 1_700_000_000 * SEC;
    let mut rows = Vec::new();
    let process = |host: usize, image: &str, times: Vec<i64>, rows: &mut Vec<_>| {
        for ts in times {
            rows.push(NetworkEvent {
                ts,
                host: format!("WS{host:04}"),
                processguid: format!("{{guid-{host:04}}}"),
                image: image.to_string(),
                sourceip: format!("10.1.{}.{}", host / 250, host % 250 + 1),
                destinationip: format!("198.18.{}.{}", host / 250, host % 250 + 1),
                destinationport: "443".to_string(),
            });
        }
    };
    for host in 1..=NOISE {
        let mut t = start + rng.random_range(0..600 * SEC);
        let mut times = Vec::new();
        for _ in 0..CONNECTIONS {
            times.push(t);
            let gap = -(1.0 - rng.random::<f64>()).ln() * 60.0;
            t += (gap * SEC as f64) as i64 + SEC;
        }
        process(host, &format!(r"C:\Apps\app{host}.exe"), times, &mut rows);
    }
    // The agent: 14 check-ins every 5 s, a few milliseconds of jitter.
    let times = (0..CONNECTIONS as i64)
        .map(|i| start + 900 * SEC + i * 5 * SEC + rng.random_range(0..5_000_000))
        .collect();
    process(0, r"C:\Windows\System32\rundll32.exe", times, &mut rows);
    rows.sort_by_key(|r| r.ts);
    rows
}

#[test]
fn c2_beacon_flags_a_rhythm_only_when_chance_does_not_explain_it() {
    let work = tempfile::tempdir().expect("tempdir");
    let data = work.path().join("connections.parquet");
    write_network_events(&data, &events()).expect("events written");
    let store = work.path().join("store");
    let base = format!("BASE_S3_PATH={}", store.display());
    let data_arg = data.to_str().expect("utf8");
    let run = run_client(
        &[
            "--data",
            data_arg,
            "hunt",
            "c2-beacon",
            "--quiet",
            "--set",
            &base,
        ],
        work.path(),
        Duration::from_secs(600),
    )
    .expect("hunt ran");
    ok(&run, "huntsman hunt c2-beacon");
    let findings = latest_run(&store, "c2-beacon").join("findings.parquet");
    let count = |sql: &str| -> u64 {
        query_parquet(work.path(), &findings, sql)[0]
            .parse()
            .expect("a count")
    };
    let agent = count("SELECT count(*) FROM events WHERE host = 'WS0000' AND flagged");
    assert_eq!(agent, 1, "the agent is flagged");
    // Some memoryless processes score above the flag's threshold on their rhythm and the
    // models; the test spares them. Its family-wise error rate is 5 %, so one chance
    // flag may pass it on some data, never the many that scored above the threshold.
    let above =
        count("SELECT count(*) FROM events WHERE host <> 'WS0000' AND c2_score > 0.3");
    let chance = count("SELECT count(*) FROM events WHERE host <> 'WS0000' AND flagged");
    assert!(
        above >= 10,
        "only {above} memoryless processes scored above the threshold: the data no \
         longer tests the rhythm test"
    );
    assert!(
        chance <= 1,
        "{chance} of {above} memoryless processes above the threshold were flagged"
    );
}
