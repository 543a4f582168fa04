soak --runs 1000 --seed 2024 --validate 50000 --histories DIR --json   (release build at commit 51ddd36, 2 cores, beside other work: builds, tests, three runs of the default matrix)
