//! Every configuration mistake is refused up front, with its own typed error and a readable
//! message; nothing here needs a server (no connection opens at build time).

use redlock_client::params::ParamsError;
use redlock_client::{Client, ClientBuilder, ConfigError, Fencing};
use std::time::Duration;

fn three() -> ClientBuilder {
    Client::builder(["redis://127.0.0.1:7001", "redis://127.0.0.1:7002", "redis://127.0.0.1:7003"])
}

fn refused(builder: ClientBuilder) -> ConfigError {
    let e = builder.build().expect_err("refused");
    assert!(!e.to_string().is_empty());
    e
}

#[test]
fn the_defaults_build() {
    let client = three().build().unwrap();
    let p = client.params();
    assert_eq!((p.nodes, p.ttl_ms, p.drift_ms(), p.node_timeout_ms, p.retries), (3, 10_000, 102, 50, 3));
}

#[test]
fn an_empty_server_list_is_refused() {
    let e = refused(Client::builder(Vec::<String>::new()));
    assert_eq!(e, ConfigError::Params(ParamsError::NoNodes));
    assert!(e.to_string().contains("empty"), "{e}");
}

#[test]
fn more_than_32_servers_are_refused() {
    let urls: Vec<String> = (0..33).map(|i| format!("redis://127.0.0.1:{}", 7000 + i)).collect();
    assert_eq!(refused(Client::builder(urls)), ConfigError::Params(ParamsError::TooManyNodes { nodes: 33 }));
}

#[test]
fn a_zero_ttl_is_refused() {
    assert_eq!(refused(three().ttl(Duration::ZERO)), ConfigError::Params(ParamsError::ZeroTtl));
    // Below a millisecond is zero milliseconds too.
    assert_eq!(refused(three().ttl(Duration::from_micros(900))), ConfigError::Params(ParamsError::ZeroTtl));
}

#[test]
fn a_ttl_eaten_by_the_drift_allowance_is_refused() {
    let e = refused(three().ttl(Duration::from_millis(2)));
    assert_eq!(e, ConfigError::Params(ParamsError::TtlTooSmallForDrift { ttl_ms: 2, drift_ms: 3 }));
    let e = refused(three().ttl(Duration::from_secs(1)).drift(0, Duration::from_secs(1)));
    assert_eq!(e, ConfigError::Params(ParamsError::TtlTooSmallForDrift { ttl_ms: 1000, drift_ms: 1000 }));
}

#[test]
fn a_zero_node_timeout_is_refused_even_with_zero_retries() {
    let e = refused(three().retries(0).node_timeout(Duration::ZERO));
    assert_eq!(e, ConfigError::Params(ParamsError::ZeroNodeTimeout));
}

#[test]
fn an_empty_retry_delay_range_is_refused() {
    let e = refused(three().retry_delay(Duration::from_millis(300)..=Duration::from_millis(100)));
    assert_eq!(e, ConfigError::Params(ParamsError::RetryDelayRange { min_ms: 300, max_ms: 100 }));
}

#[test]
fn a_bad_url_is_refused_with_its_index_and_without_its_password() {
    for bad in ["http://127.0.0.1:6379", "127.0.0.1:6379", "redis://user:hunter2@[::1:6379", ""] {
        let e = refused(Client::builder(["redis://127.0.0.1:7001".to_string(), bad.to_string()]));
        let ConfigError::BadUrl { index, url, .. } = &e else { panic!("{bad}: {e:?}") };
        assert_eq!(*index, 1);
        assert!(!url.contains("hunter2") && !e.to_string().contains("hunter2"), "{e}");
    }
}

#[test]
fn a_server_listed_twice_is_refused() {
    let e = refused(Client::builder(["redis://Host:7001", "redis://127.0.0.1:7002", "rediss://host:7001/3"]));
    assert_eq!(e, ConfigError::DuplicateServer { first: 0, second: 2, address: "host:7001".into() });
    assert!(e.to_string().contains("twice"), "{e}");
}

#[test]
fn an_extension_interval_of_zero_or_beyond_the_validity_is_refused() {
    let e = refused(three().extend_interval(Duration::ZERO));
    assert_eq!(e, ConfigError::ExtendInterval { interval_ms: 0, budget_ms: 9898 });
    let e = refused(three().extend_interval(Duration::from_millis(9898)));
    assert_eq!(e, ConfigError::ExtendInterval { interval_ms: 9898, budget_ms: 9898 });
}

#[test]
fn a_node_timeout_as_long_as_the_extension_interval_is_refused() {
    let e = refused(
        three().ttl(Duration::from_millis(1000)).extend_interval(Duration::from_millis(100)).node_timeout(Duration::from_millis(100)),
    );
    assert_eq!(e, ConfigError::NodeTimeoutTooLong { node_timeout_ms: 100, extend_interval_ms: 100 });
}

#[test]
fn a_ttl_too_short_for_the_node_timeout_speaks_of_the_ttl_to_a_user_who_never_extends() {
    let e = refused(three().ttl(Duration::from_millis(300)).node_timeout(Duration::from_millis(100)));
    assert_eq!(e, ConfigError::TtlTooShortToExtend { ttl_ms: 300, node_timeout_ms: 100 });
    assert!(e.to_string().contains("use a TTL above 300 ms"), "{e}");
    // 10 ms and the default node timeout of 50 ms: a fresh lock could never be valid.
    let e = refused(three().ttl(Duration::from_millis(10)));
    assert_eq!(e, ConfigError::NodeTimeoutBeyondValidity { node_timeout_ms: 50, budget_ms: 7 });
    assert!(!e.to_string().contains("extension"), "{e}");
}

#[test]
fn absurd_durations_are_refused_at_build_never_at_runtime() {
    use redlock_client::params::ParamsError;
    for (builder, what) in [
        (three().ttl(Duration::MAX), "TTL"),
        (three().node_timeout(Duration::MAX), "per-node timeout"),
        (three().retry_delay(Duration::ZERO..=Duration::MAX), "retry delay"),
        (three().drift(0, Duration::MAX), "fixed drift allowance"),
        (three().io_timeout(Duration::MAX), "I/O timeout"),
    ] {
        match refused(builder) {
            ConfigError::Params(ParamsError::TooLong { what: w, .. }) => assert_eq!(w, what),
            other => panic!("{what}: {other:?}"),
        }
    }
    assert!(matches!(refused(three().retries(u32::MAX)), ConfigError::Params(ParamsError::TooManyRetries { .. })));
    assert!(matches!(refused(three().drift(u64::MAX, Duration::ZERO)), ConfigError::Params(ParamsError::TtlTooSmallForDrift { .. })));
}

#[test]
fn an_io_timeout_below_the_node_timeout_is_refused() {
    let e = refused(three().io_timeout(Duration::from_millis(10)));
    assert_eq!(e, ConfigError::IoTimeoutBelowNodeTimeout { io_timeout_ms: 10, node_timeout_ms: 50 });
}

#[test]
fn a_fencing_counter_over_several_servers_is_refused() {
    let e = refused(three().fencing(Fencing::Counter));
    assert_eq!(e, ConfigError::FencingNeedsOneServer { servers: 3 });
    assert!(e.to_string().contains("redlock-incr-tokens"), "{e}");
    assert!(Client::builder(["redis://127.0.0.1:7001"]).fencing(Fencing::Counter).build().is_ok());
}

#[test]
fn an_even_number_of_servers_is_allowed() {
    let client = Client::builder(["redis://127.0.0.1:7001", "redis://127.0.0.1:7002"]).build().unwrap();
    assert_eq!(client.params().quorum(), 2, "two of two: no failure tolerated");
}
