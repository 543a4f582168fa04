cargo build --release -p redlock-conformance --bin soak
for seed in 2024 99 7; do /usr/bin/time -v ./target/release/soak --runs 1000 --seed $seed --json | tail -1; done
# soak-full.json: seed 2024; soak-seed-99.json, soak-seed-7.json: the other two (the three ran side by side)
