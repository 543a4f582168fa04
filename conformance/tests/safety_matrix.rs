//! The README's lock safety matrix is the one `safety_matrix::markdown` renders today, and
//! every real run it cites is a test of this crate (each of which fails when its real verdict
//! differs from the model's).

use redlock_conformance::safety_matrix::{markdown, LOCKS};

/// `UPDATE_README=1 cargo test -p redlock-conformance --test safety_matrix` writes it instead.
#[test]
fn the_readme_lock_safety_matrix_is_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
    let readme = std::fs::read_to_string(path).unwrap();
    if std::env::var_os("UPDATE_README").is_some() {
        let (before, rest) = readme.split_once("<!-- safety-matrix:begin -->\n").expect("the README has the markers");
        let (_, after) = rest.split_once("<!-- safety-matrix:end -->").expect("the README has the markers");
        std::fs::write(path, format!("{before}<!-- safety-matrix:begin -->\n{}<!-- safety-matrix:end -->{after}", markdown())).unwrap();
        return;
    }
    let block = readme
        .split("<!-- safety-matrix:begin -->\n")
        .nth(1)
        .and_then(|rest| rest.split("<!-- safety-matrix:end -->").next())
        .expect("the README has the lock safety matrix");
    assert_eq!(block, markdown(), "the README's lock safety matrix is stale: paste `safety_matrix::markdown()`");
}

#[test]
fn every_real_run_cited_is_a_test_of_the_suite() {
    for lock in LOCKS {
        for run in lock.real {
            let (file, function) = run.test.split_once("::").expect("file::function");
            let path = format!("{}/tests/{file}.rs", env!("CARGO_MANIFEST_DIR"));
            let source = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {path}: {e}", lock.name));
            assert!(source.contains(&format!("fn {function}()")), "{}: no test {function} in {path}", lock.name);
        }
    }
}
