nice -n 10 cargo run --release -p redlock-conformance --bin soak -- --runs 1000 --seed 2024 --json | tail -1 > conformance/results/soak-full.json
