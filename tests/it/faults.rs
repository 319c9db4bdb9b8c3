//! The load and fault harness in its short form (the long form is `cargo bench --bench faults`): the retry
//! storm, a database crash mid-load and two servers on one database, each against the real binary and a
//! PostgreSQL cluster of its own, at sizes CI can afford. The scenarios are in `tests/faults/mod.rs`.

#[path = "../faults/mod.rs"]
pub mod harness;

use harness::{Options, Stop};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retry_storm_through_a_lossy_proxy_stores_every_observation_once_with_no_5xx() {
    let outcome = harness::storm(&Options::short()).await;
    println!("{outcome}");
    outcome.assert_held();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn database_crash_mid_load_answers_503_with_retry_after_and_recovers_within_3_s() {
    let outcome = harness::restart(&Options::short()).await;
    println!("{outcome}");
    outcome.assert_held();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn database_fast_stop_mid_load_ends_sessions_with_503_not_500() {
    let outcome = harness::restart(&Options { stop: Stop::Fast, ..Options::short() }).await;
    println!("{outcome}");
    outcome.assert_held();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_on_one_database_behave_as_one() {
    let outcome = harness::two_servers(&Options::short()).await;
    println!("{outcome}");
    outcome.assert_held();
}
