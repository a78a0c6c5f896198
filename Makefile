# Every target calls a script under ci/ or the go tool directly, so that
# what runs here is exactly what CI runs (.ci/run calls `make test`).

.PHONY: test lint generate build run storm fuzz

# test runs the whole suite, in this order: formatting and static checks,
# generated files up to date, then the Go tests with -race.
test:
	ci/lint.sh
	ci/generate.sh
	ci/test.sh

lint:
	ci/lint.sh

generate:
	ci/generate.sh

build:
	go build -o bin/herald ./cmd/herald

run:
	go run ./cmd/herald serve --dev

# storm measures reconnect storms of 10,000 clients for docs/reliability.md
# (a few minutes; not part of test).
storm:
	ci/storm.sh

# fuzz runs every fuzz target for FUZZTIME each (default 3m), one at a
# time, and keeps the new small corpus entries in testdata/fuzz/ (the
# suite replays them). FUZZTIME=30s make fuzz for a quick pass.
fuzz:
	ci/fuzz.sh
