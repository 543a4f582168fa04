//! The README's verdict matrix is the one `check --json | check table` renders today.

use redlock_model::check::{check_scenario, SearchOptions};
use redlock_model::report::{markdown_table, records, RecordIn};
use redlock_model::scenario::SCENARIOS;
use redlock_model::setup::Timing;
use std::time::Duration;

#[test]
fn the_readme_matrix_is_current() {
    let mut lines = Vec::new();
    for scenario in SCENARIOS {
        for timing in Timing::BOTH {
            let cell = check_scenario(scenario, timing, SearchOptions { budget: Duration::from_secs(60), threads: 2 });
            lines.extend(records(&cell).iter().map(|r| serde_json::to_string(r).unwrap()));
        }
    }
    let parsed: Vec<RecordIn> = lines.iter().map(|l| serde_json::from_str(l).unwrap()).collect();
    let table = markdown_table(&parsed);
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let begin = readme.find("<!-- matrix:begin -->\n").expect("matrix markers") + "<!-- matrix:begin -->\n".len();
    let end = readme.find("<!-- matrix:end -->").expect("matrix markers");
    assert_eq!(
        &readme[begin..end],
        table,
        "the README's matrix is stale: regenerate it with `cargo run --bin check -- --json | cargo run --bin check -- table`"
    );
}
