//! `check advise`: every model cell an answer cites says what the answer says it does, over a
//! grid of deployments; the command line refuses impossible deployments; the README's worked
//! deployments are the command's output.

use redlock_model::advise::{advise, Advice, Deployment, Fencing, Persistence, Resource, Service};
use redlock_model::check::{check, SearchOptions};
use redlock_model::scenario::find;
use std::collections::BTreeMap;
use std::process::Command;

fn deployment(service: Service) -> Deployment {
    Deployment { clock_error_ppm: Some(200), persistence: Persistence::Always, ..Deployment::new(service, 30_000) }
}

/// Deployments that between them reach every branch of the advice.
fn grid() -> Vec<Deployment> {
    let services = [
        Service::Single,
        Service::Redlock { servers: 3 },
        Service::Redlock { servers: 5 },
        Service::Replicas { replicas: 2, wait: None },
        Service::Replicas { replicas: 2, wait: Some(1) },
        Service::Replicas { replicas: 2, wait: Some(2) },
        Service::Etcd,
        Service::Zookeeper,
        Service::Postgres,
    ];
    let mut grid = Vec::new();
    for service in services {
        let redis = !matches!(service, Service::Etcd | Service::Zookeeper);
        let counter = redis || service == Service::Postgres;
        let fences: &[(Fencing, Resource)] = if counter {
            &[(Fencing::None, Resource::Unfenced), (Fencing::Counter, Resource::Atomic), (Fencing::Counter, Resource::CheckThenWrite)]
        } else {
            &[(Fencing::None, Resource::Unfenced), (Fencing::Revision, Resource::Atomic), (Fencing::Revision, Resource::CheckThenWrite)]
        };
        for &(fencing, resource) in fences {
            for (ppm, steps) in [(Some(200), false), (None, false), (Some(100_000), false), (Some(200), true)] {
                for (persistence, restart_delay_ms) in [(Persistence::Always, 0), (Persistence::None, 0), (Persistence::Everysec, 30_000)] {
                    for (pause, margin) in [(None, 0), (Some(100), 5_000)] {
                        grid.push(Deployment {
                            clock_error_ppm: ppm,
                            clock_steps: steps,
                            persistence,
                            restart_delay_ms,
                            fencing,
                            resource,
                            max_pause_ms: pause,
                            max_delay_ms: pause,
                            write_margin_ms: margin,
                            ..deployment(service)
                        });
                    }
                }
            }
        }
    }
    grid
}

#[test]
fn every_cell_an_answer_cites_gives_the_model_verdict_it_claims() {
    let mut cited = BTreeMap::new();
    for d in grid() {
        d.validate().unwrap_or_else(|e| panic!("{d:?}: {e}"));
        for answer in advise(&d) {
            assert!(!answer.because.is_empty(), "{d:?}: {} has no reason", answer.property.name());
            if answer.verdict != Advice::Holds {
                assert!(answer.fix.is_some(), "{d:?}: {} is {} with no fix", answer.property.name(), answer.verdict);
            }
            assert!(
                !answer.cells.is_empty() || !answer.theorems.is_empty() || answer.verdict == Advice::HoldsIf,
                "{d:?}: {} cites nothing",
                answer.property.name()
            );
            for c in answer.cells {
                cited.entry((c.scenario, c.lifted.letters().join(","))).or_insert_with(Vec::new).push(c);
            }
        }
    }
    // Each cited cell is checked once, for every property cited of it.
    for ((scenario, lifted), cells) in cited {
        let s = find(scenario).unwrap_or_else(|| panic!("no scenario {scenario}"));
        let result = check(s, s.setup_lifted(cells[0].lifted), SearchOptions::default());
        for c in cells {
            let got = result.invariants.iter().find(|r| r.invariant == c.property).map(|r| r.verdict);
            assert_eq!(got, Some(c.verdict), "{scenario} --lift {lifted}: {} (advice: {})", c.property.name(), c.command);
        }
    }
}

#[test]
fn a_deployment_within_every_bound_holds_and_one_beyond_is_violated_with_the_fix() {
    let safe = Deployment { resource: Resource::None, ..deployment(Service::Redlock { servers: 5 }) };
    let me = &advise(&safe)[0];
    assert_eq!((me.property.name(), me.verdict), ("mutual_exclusion", Advice::Holds));
    assert!(me.theorems[0].contains("302 ms") && me.theorems[0].contains("5058 ppm") && me.theorems[0].contains("200 ppm"), "{me:?}");

    let fast = Deployment { clock_error_ppm: Some(6_000), ..safe.clone() };
    let me = &advise(&fast)[0];
    assert_eq!(me.verdict, Advice::Violated);
    // 2 x 0.006 x 30000 / 1.006 = 357.85...: 358 ms.
    assert!(me.fix.as_deref().unwrap().contains("at least 358 ms"), "{me:?}");

    let unknown = Deployment { clock_error_ppm: None, ..safe.clone() };
    let me = &advise(&unknown)[0];
    assert_eq!(me.verdict, Advice::HoldsIf);
    assert!(me.because.contains("5058 ppm"), "{me:?}");

    let unfenced = Deployment { resource: Resource::Unfenced, max_pause_ms: Some(2_000), ..safe.clone() };
    let nlu = advise(&unfenced).into_iter().find(|a| a.property.name() == "no_lost_update").unwrap();
    assert_eq!(nlu.verdict, Advice::Violated);
    assert!(nlu.fix.unwrap().contains("fencing token"));

    let restarts = Deployment { persistence: Persistence::Everysec, restart_delay_ms: 29_000, ..safe };
    let me = &advise(&restarts)[0];
    assert_eq!(me.verdict, Advice::Violated);
    // (30000 - 302)(1 + 0.0002)/(1 - 0.0002) = 29709.88...: 29710 ms, below the TTL.
    assert!(me.fix.as_deref().unwrap().contains("at least 29710 ms"), "{me:?}");
}

fn advise_cli(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_check")).arg("advise").args(args).output().expect("check runs")
}

#[test]
fn impossible_deployments_get_a_clear_error() {
    for (args, says) in [
        (&["--service", "redlock", "--ttl", "30"][..], "has no unit"),
        (&["--service", "redlock", "--ttl", "0ms"][..], "--ttl must be between"),
        (&["--service", "redlock", "--ttl", "30s", "--drift-allowance", "31s"][..], "not below the TTL"),
        (&["--service", "redlock", "--ttl", "30s", "--servers", "0"][..], "--servers must be between 1 and 32"),
        (&["--service", "etcd", "--ttl", "30s", "--servers", "3"][..], "--servers is Redlock's"),
        (&["--service", "redlock", "--ttl", "30s", "--fencing", "revision"][..], "needs a consensus store"),
        (&["--service", "etcd", "--ttl", "30s", "--fencing", "counter"][..], "use --fencing revision"),
        (&["--service", "replicas", "--ttl", "30s"][..], "needs --replicas"),
        (&["--service", "replicas", "--replicas", "1", "--wait", "2", "--ttl", "30s"][..], "more than the 1 replicas"),
        (&["--service", "single", "--ttl", "30s", "--clock-error-ppm", "1000000"][..], "below 1000000"),
        (&["--service", "single", "--ttl", "30s", "--resource", "atomic"][..], "needs a source of tokens"),
        (&["--service", "single", "--ttl", "2y"][..], "unknown unit"),
        (&["--service", "redlock"][..], "--ttl is required"),
        (&["--service", "postgres", "--fencing", "revision"][..], "needs a consensus store"),
    ] {
        let out = advise_cli(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

#[test]
fn a_config_file_is_the_flags_it_names() {
    let dir = std::env::temp_dir().join(format!("advise-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("deployment.toml");
    std::fs::write(
        &file,
        "service = \"redlock\"\nservers = 5\nttl = \"30s\"\nclock_error_ppm = 200\nclock_steps = false\npersistence = \"always\"\n",
    )
    .unwrap();
    let from_file = advise_cli(&["--config", file.to_str().unwrap(), "--json"]);
    let from_flags = advise_cli(&[
        "--service",
        "redlock",
        "--servers",
        "5",
        "--ttl",
        "30s",
        "--clock-error-ppm",
        "200",
        "--persistence",
        "always",
        "--json",
    ]);
    assert_eq!(from_file.stdout, from_flags.stdout, "{}", String::from_utf8_lossy(&from_file.stderr));
    assert_eq!(from_file.status.code(), from_flags.status.code());
    for (text, says) in [("ttl = 3.5\n", "ttl is a float"), ("ttl = [\n", "not TOML"), ("colour = \"red\"\n", "--colour")] {
        std::fs::write(&file, text).unwrap();
        let out = advise_cli(&[&format!("--config={}", file.display())]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text}: {stderr}");
        assert!(stderr.contains(says), "{text}: {stderr}");
    }
    let out = advise_cli(&["--config", dir.join("missing.toml").to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("No such file"), "{out:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_readme_worked_deployments_are_the_commands_output() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let mut examples = 0;
    for block in readme.split("<!-- advise:begin -->").skip(1) {
        let block = block.split("<!-- advise:end -->").next().unwrap();
        let command = block.lines().find_map(|l| l.strip_prefix("$ cargo run --bin check -- advise ")).expect("a command line");
        let shown: String =
            block.lines().skip_while(|l| !l.starts_with("$ ")).skip(1).take_while(|l| *l != "```").map(|l| format!("{l}\n")).collect();
        let out = advise_cli(&command.split_whitespace().collect::<Vec<_>>());
        assert!(out.status.code().is_some_and(|c| c <= 1), "{command}: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(shown, String::from_utf8_lossy(&out.stdout), "README's `advise {command}` is stale");
        examples += 1;
    }
    assert_eq!(examples, 3, "the README shows three worked deployments");
}
