# The two commands of the README:
#   make serve   install what is missing, then build and serve on http://127.0.0.1:3000
#   make test    install what is missing, then run every check and test
SHELL := /bin/bash
TOOLS ?= $(HOME)/.cache/cloakroom-tools
export TOOLS
# wasm-opt 123 from npm must come before any other wasm-opt on PATH.
export PATH := $(TOOLS)/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)
E2E_DATA := $(CURDIR)/end2end/.data

.PHONY: tools serve release test lint unit fuzz-api e2e admin clean-e2e

tools:
	@bash .ci/install-tools

serve: tools
	cargo leptos serve

release: tools
	cargo leptos build --release

test: tools lint unit fuzz-api e2e

lint:
	cargo fmt --check
	cargo clippy --features ssr --all-targets -- -D warnings
	cargo clippy --features hydrate --target wasm32-unknown-unknown -- -D warnings

unit:
	cargo test --features ssr

# Schemathesis against the REST API's own OpenAPI document, on SQLite and PostgreSQL
# (see docs/rest-api.md).
fuzz-api: tools
	bash .ci/schemathesis

# A fresh data directory and a generated key for every run; a retention other than the
# default, so the pages are seen to say the configured number of days. The build runs on its own
# first because a failed build inside `cargo leptos end-to-end` can still exit 0; the
# last step fails unless Playwright's report shows tests that ran and all passed.
e2e: clean-e2e
	cargo leptos build
	env -u CLOAKROOM_MASTER_KEY -u CLOAKROOM_MASTER_KEY_FILE -u DATABASE_URL \
	  CLOAKROOM_DATA_DIR=$(E2E_DATA) CLOAKROOM_DELETED_SET_DAYS=21 cargo leptos end-to-end
	node .ci/check-e2e end2end/.state/results.json

clean-e2e:
	rm -rf $(E2E_DATA) end2end/.state
