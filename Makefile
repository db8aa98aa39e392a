# One command surface for developers and CI. See README.md.
#   make dev    build (release) and start a local development node on 127.0.0.1:8545
#   make test   install what the tests need, build, and run every test suite
#   make bench  run the benchmarks and print the figures recorded in docs/benchmarks.md

export CARGO_TARGET_DIR ?= /var/tmp/rampart-target

.PHONY: dev test setup build fmt lint bench

dev:
	./scripts/setup.sh build
	cargo build --release --workspace --bins
	./scripts/build-native.sh
	$(CARGO_TARGET_DIR)/release/rampart dev \
	  --native-host $(CARGO_TARGET_DIR)/native-static/x86_64-unknown-linux-gnu/release/rampart-contract-host $(ARGS)

test:
	./scripts/test.sh

setup:
	./scripts/setup.sh all

build:
	cargo build --workspace --all-targets

fmt:
	cargo fmt --all

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
