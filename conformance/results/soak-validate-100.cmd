soak --runs 100 --seed 2024 --validate 200000 --json   (debug build, 2 cores, while a clean build of the workspace ran beside it)
