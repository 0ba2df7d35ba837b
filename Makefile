# The two commands of the README:
#   make run    the main job, with embedded defaults
#   make test   the whole test suite (what .ci/run runs)
# Both create the virtual environment on first use.

PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: run test lint typecheck policy-test pytest crds chart-policies bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/kubernaut demo

test: lint typecheck policy-test pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy .

policy-test: $(STAMP)
	$(BIN)/kubernaut policy test policies/

# pytest exits 5 when it collected no test; that is a failure of the suite here.
pytest: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

crds: $(STAMP)
	$(BIN)/kubernaut crds --out charts/kubernaut/crds

# The chart ships a copy of the policy bundle (helm does not package files outside the
# chart); tests/unit/charts checks that it equals policies/.
chart-policies: $(STAMP)
	rm -rf charts/kubernaut/policies
	$(BIN)/python -c 'import pathlib, shutil; from webhook.policy.bundle import bundle_files; \
	src, dst = pathlib.Path("policies"), pathlib.Path("charts/kubernaut/policies"); \
	[(dst / f).parent.mkdir(parents=True, exist_ok=True) or shutil.copyfile(src / f, dst / f) for f in bundle_files(src)]'

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
