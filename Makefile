# Every target sets itself up: a missing .venv is created and the project installed with its dev extra.
# The stamp file makes a second run on a set-up tree install nothing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup test lint typecheck typecheck-links pytest demo bench soak clean fuzz evidence

setup: $(STAMP)

$(STAMP): pyproject.toml setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(MAKE) --no-print-directory typecheck-links
	touch $(STAMP)

# mypy sees simulator/ and hil/ under their installed names (setup.py) through these links.
typecheck-links:
	mkdir -p .typecheck
	ln -sfn ../simulator .typecheck/otgate_simulator
	ln -sfn ../hil .typecheck/otgate_hil

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP) typecheck-links
	$(BIN)/mypy --strict otgate
	$(BIN)/mypy --strict -p otgate_hil

# Two workers, a test file each: module-scoped plants and browsers stay in one process.
PYTEST_WORKERS ?= 2
pytest: $(STAMP)
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile

test: lint typecheck pytest

# 24 simulated hours of normal operation per plant: no anomaly may fire (the suite runs one hour); the
# gateway SIGKILLed at 20 random points of a busy run (the suite kills it 5 times); the Ricker models
# re-identified from their full bump tests (the suite re-identifies one); and the scenarios of many
# simulated hours (hil/scenarios/long: the stuck purge valve, earned autonomy at the policy's own pace).
soak: $(STAMP)
	OTGATE_SOAK_HOURS=24 $(BIN)/pytest -q tests/e2e/test_normal_operation.py
	OTGATE_CRASH_KILLS=20 $(BIN)/pytest -q tests/cli/test_crash_safety.py
	OTGATE_SOAK_HOURS=24 $(BIN)/pytest -q tests/cli/test_identify.py tests/hil/test_predictive_scenarios.py -k "ricker or long"
	$(BIN)/otgate hil run hil/scenarios/long/AU05_earned_autonomy_over_two_days_tank.yaml

# Long property-based fuzz run (schemathesis on both APIs, the gateway state machines); the suite runs a few.
fuzz: $(STAMP)
	OTGATE_FUZZ_EXAMPLES=1000 $(BIN)/pytest -q -o timeout=3600 tests/fuzz

demo: $(STAMP)
	$(BIN)/otgate demo

bench: $(STAMP)
	$(BIN)/python -m benchmarks

# The requirement-by-requirement evidence pack (docs/ASSURANCE.md) from a full test run: evidence/evidence.html.
evidence: $(STAMP)
	$(BIN)/otgate evidence --out evidence --run-tests

clean:
	rm -rf $(VENV) otgate-data .mypy_cache .ruff_cache .typecheck
