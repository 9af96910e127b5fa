# One distribution, one virtualenv (.venv, made with uv from requirements.lock).
# `make demo` and `make test` are the two commands; everything else is a building block.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PY      := .venv/bin/python
UV      := .venv/bin/uv
CRM     := .venv/bin/crm
STAMP   := .venv/.installed
SCALE   ?= S
SEED    ?= 42
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export STREAMLIT_BROWSER_GATHER_USAGE_STATS := false
export DO_NOT_TRACK := 1

.PHONY: help install demo test down up status seed lint fmt lock clean

help:  ## list targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  %-18s %s\n",$$1,$$2}'

$(PY):
	python3 -m venv .venv
	.venv/bin/pip install -q --disable-pip-version-check uv

$(STAMP): $(PY) pyproject.toml requirements.lock
	$(UV) pip install -q --python $(PY) -r requirements.lock
	$(UV) pip install -q --python $(PY) --no-deps -e .
	@touch $(STAMP)

install: $(STAMP)  ## create .venv and install everything (idempotent)

lock:  ## re-pin requirements.lock from pyproject.toml (no index URLs)
	$(UV) pip compile -q pyproject.toml --extra dev --python 3.11 --no-emit-index-url -o requirements.lock

up: install  ## start the local stack (embedded Postgres, Tansu) unless DATABASE_URL/KAFKA_BOOTSTRAP are set
	$(CRM) up

status: install  ## what runs, and where
	$(CRM) status

seed: install  ## seed the synthetic world (SCALE=S|D|M|L SEED=n)
	$(CRM) seed --scale $(SCALE) --seed $(SEED)

demo: install monitoring  ## install, start the stack, seed the demo world (scale D; SCALE=S|M|L for another), run every stage, print the addresses
	$(CRM) demo --scale $(if $(filter command line,$(origin SCALE)),$(SCALE),D) --seed $(SEED)

down:  ## stop everything `make demo` started, and nothing else
	@if [ -x $(CRM) ]; then $(CRM) down; else echo "nothing installed, nothing to stop"; fi

test: install chromium monitoring  ## install and run the whole test suite
	$(PY) -m pytest -q

lint: install  ## ruff (lint and format check), import-linter (layers point down), mypy (cached in .mypy_cache)
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/lint-imports
	.venv/bin/mypy

fmt: install
	.venv/bin/ruff check --fix .
	.venv/bin/ruff format .

clean:  ## stop everything, remove local state (.crm, the embedded database) and the virtualenv
	@if [ -x $(CRM) ]; then $(CRM) purge --yes; fi
	rm -rf .crm .venv

# --- streaming: Kafka -> raw.* -----------------------------------------------------------
LANDER_WEB_PORT ?= 6066
.PHONY: stream bench-ingest

stream: install  ## run a landing worker in the foreground (Kafka -> raw.*; metrics on :$(LANDER_WEB_PORT)/metrics)
	$(CRM) lander --web-port $(LANDER_WEB_PORT)

bench-ingest: install  ## benchmark one landing worker vs COPY and row inserts (EVENTS=500000) -> bench/results/ingest.json
	$(PY) bench/ingest.py --events $(or $(EVENTS),500000)
	$(PY) bench/ingest_handoff.py --events 200000

# --- warehouse: the dbt project in dbt/, segments in warehouse/segments ---------------------
.PHONY: dbt-build dbt-docs dbt-test dbt-docs-serve segments-recalc bench-dbt bench-capacity bench-segments

dbt-build: install  ## dbt build (models + tests) against DATABASE_URL or the local stack
	$(CRM) dbt build

dbt-test: install  ## dbt test only (data tests and unit tests)
	$(CRM) dbt test

dbt-docs: install  ## dbt docs generate (dbt/target/index.html, catalog.json)
	$(CRM) dbt docs generate

dbt-docs-serve: dbt-docs  ## serve the dbt docs on 127.0.0.1:8081
	$(CRM) dbt docs serve --host 127.0.0.1 --port 8081 --no-browser

segments-recalc: install  ## recalculate every dynamic segment
	$(CRM) segments recalc

bench-dbt: install  ## scale M, on the embedded Postgres and the system one (BENCH_SYSTEM_URL, default 127.0.0.1:5432): full dbt build, incremental after 1% new events, whole run, ratios -> bench/results/dbt.json
	$(PY) -m bench.dbt_bench

bench-capacity: install  ## bytes per event and per write measured on the stack's Postgres + the cost figures of the other benchmarks -> a capacity model for 1x, 10x, 100x the M world (bench/results/capacity.json)
	$(CRM) up --no-lander
	eval "$$($(CRM) env)" && $(PY) -m bench.capacity

bench-segments: install  ## 20 dynamic segments over 1M customers -> bench/results/segments.json
	$(PY) bench/segments_bench.py

.PHONY: bench-sync
bench-sync: install  ## first HubSpot sync of 100k contacts, 20k companies, 50k deals with stage history from the stand-in, on the stack's Postgres -> bench/results/sync.json
	$(CRM) up --no-lander
	eval "$$($(CRM) env)" && $(PY) -m bench.sync_bench

.PHONY: bench-conversations bench-signals
bench-signals bench-conversations: install  ## conversation signals: precision/recall per signal on 346 hand-labelled messages (held-out and all) -> bench/results/signals.json
	$(PY) -m bench.conversations_bench

.PHONY: bench-webhooks
bench-webhooks: install  ## webhook delivery on the stack's Postgres: 20k events at once, then 600/s for 30 s, to a verifying loopback receiver (1 deliverer) -> bench/results/webhooks.json
	$(CRM) up --no-lander
	eval "$$($(CRM) env)" && $(PY) -m bench.webhooks_bench --events $(or $(EVENTS),20000) --rate 600 --seconds 30 --workers 1

# --- write API -------------------------------------------------------------------------------
API_HOST    ?= 127.0.0.1
API_PORT    ?= 8000
API_WORKERS ?= 2
.PHONY: api outbox-relay test-api fuzz-api bench-api bench-auth wrk

api: install  ## run the write API in the foreground (uvicorn, uvloop, httptools; /docs)
	$(CRM) up
	$(CRM) api --host $(API_HOST) --port $(API_PORT) --workers $(API_WORKERS)

outbox-relay: install  ## publish crm.outbox rows to crm-changes (foreground)
	$(CRM) outbox-relay

test-api: install  ## the API tests only
	$(PY) -m pytest -q tests/api

fuzz-api: install  ## schemathesis against the live OpenAPI schema, >= 5,000 calls: 0 server errors, every answer conforms
	CRM_FUZZ_EXAMPLES=100 CRM_FUZZ_MIN_CALLS=5000 $(PY) -m pytest -q -s tests/api/test_api_fuzz.py

bench-api: install wrk  ## create-lead at concurrency 32 for 30 s -> bench/results/api.json
	$(CRM) up
	$(PY) -m bench.api_bench --concurrency 32 --seconds 30 --workers $(API_WORKERS)

bench-auth: install  ## revocation delay across two API processes, sign-in time known vs unknown -> bench/results/auth.json
	$(CRM) up
	$(PY) -m bench.auth_bench

wrk:  ## install Debian's wrk once (C load generator for bench-api); without it bench-api uses its Python client
	@if command -v wrk >/dev/null; then echo "wrk present: $$(command -v wrk)"; else \
	  ( $(SUDO) apt-get update && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y wrk ) \
	  || echo "warning: could not install wrk (needs root or sudo): bench-api falls back to its Python load generator"; fi

# --- ML: ml/ models, registry, scoring; outputs in ml.* ---------------------------------------
.PHONY: ml-train ml-score bench-ml bench-real bench-scoring

ml-train: install  ## train every model per tenant on the marts; register, gate, promote
	$(CRM) ml train --seed $(SEED)

ml-score: install  ## score leads, open deals, customers; forecast revenue (writes ml.*)
	$(CRM) ml score --seed $(SEED)

bench-ml: install  ## ML quality vs the world's hidden truth (SEED=n, SCALE=M default) -> bench/results/ml.json
	$(PY) -m bench.ml_quality --scale $(if $(filter command line,$(origin SCALE)),$(SCALE),M) --seed $(SEED)

bench-real: up  ## real data from wheels: CDNOW imported (crm import -> landing -> dbt -> forecast), mlc_churn churn model -> bench/results/real.json
	$(PY) -m bench.real --seed $(SEED)

bench-scoring: install  ## 1M leads: features built by dbt, read, scored, explained, written -> bench/results/scoring.json
	$(PY) -m bench.scoring_throughput --leads 1000000

# --- dashboards -------------------------------------------------------------------------------
.PHONY: app chromium monitoring screenshots bench-dashboard
CHROMIUM ?= /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

app: install  ## start the managers' dashboards (Streamlit) in the background; prints the address and a demo sign-in
	$(CRM) up app

chromium:  ## install Debian's chromium + chromium-driver once (screenshot tests); non-root runs it through sudo
	@if [ -x $(CHROMIUM) ]; then echo "chromium present: $(CHROMIUM)"; else \
	  ( $(SUDO) apt-get update && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y chromium chromium-driver ) \
	  || echo "warning: could not install chromium (needs root or sudo): the screenshot tests will be skipped"; fi

# Debian's packages; `crm up` runs them as the stack's own processes (config and data under .crm).
# Their postinst would start system services on 9090/9093/9187/9100: a policy-rc.d that refuses
# (unless the machine already has one) keeps them down while apt runs, then they are disabled
# (systemd) or stopped (init scripts), so only the stack's copies ever run.
MONITORING_PKGS := prometheus prometheus-alertmanager prometheus-postgres-exporter prometheus-node-exporter
MONITORING_BINS := prometheus promtool prometheus-alertmanager prometheus-postgres-exporter prometheus-node-exporter
POLICY_RC_D ?= /usr/sbin/policy-rc.d
monitoring:  ## install Debian's Prometheus, Alertmanager, postgres and node exporters once (no system service left running)
	@if ( for b in $(MONITORING_BINS); do command -v $$b >/dev/null || exit 1; done ); then echo "monitoring present: $$(command -v prometheus)"; else \
	  policy=$(POLICY_RC_D); own=; \
	  if [ ! -e $$policy ]; then printf '#!/bin/sh\nexit 101\n' | $(SUDO) tee $$policy >/dev/null && $(SUDO) chmod 755 $$policy && own=1; fi; \
	  ( $(SUDO) apt-get update && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends $(MONITORING_PKGS) ) \
	    || echo "warning: could not install $(MONITORING_PKGS) (needs root or sudo): crm up runs without monitoring, its tests are skipped"; \
	  if [ -n "$$own" ]; then $(SUDO) rm -f $$policy; fi; \
	  if [ -d /run/systemd/system ]; then $(SUDO) systemctl disable --now $(MONITORING_PKGS) 2>/dev/null || true; \
	  else for s in $(MONITORING_PKGS); do $(SUDO) service $$s stop >/dev/null 2>&1 || true; done; fi; fi

screenshots: install chromium  ## screenshots of every page for docs/managers.md, desktop + phone (needs `make demo`: the seeded world)
	$(PY) -m stack.screenshots --out docs/screenshots

bench-dashboard: install  ## dashboard benchmark at scale L (BENCH_SCALE=M for less; CRM_BENCH_DASHBOARD_URL=<url>: a kept world): queries cold and warm -> bench/results/dashboard.json
	$(PY) -m bench.dashboard --scale $(or $(BENCH_SCALE),L)
# --- orchestration --------------------------------------------------------------------------
.PHONY: dagster dbt-manifest bench-freshness
dbt-manifest: install  ## parse the dbt project for Dagster (dagster-dbt prepare-and-package -> dbt/target/manifest.json)
	$(CRM) dagster manifest

dagster: install  ## start the stack if needed, then the Dagster UI in the background (DAGSTER_HOME=.crm/dagster); `make down` stops it
	$(CRM) up dagster

bench-freshness: install  ## API writes (RATE=200/s for DURATION=300 s) -> marts and lead scores on the running stack (make demo) -> bench/results/freshness.json
	$(PY) -m bench.freshness --rate $(or $(RATE),200) --seconds $(or $(DURATION),300)

.PHONY: bench-soak
bench-soak: install  ## the whole stack (its own, in .crm/soak) for MINUTES=10: 20k events/s, 300 API writes/s, 20 dashboard sessions, the sensors; the broker restarted at 30%, Postgres at 60% -> bench/results/soak.json (--smoke: python -m bench.soak --smoke)
	$(PY) -m bench.soak --minutes $(or $(MINUTES),10)
