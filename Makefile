# battwatch: `make demo` and `make test` work on a fresh machine; each builds .venv first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CORE := $(VENV)/.core
# the modules setup.py compiles with mypyc: rebuilt whenever one of them changes, because a
# stale compiled module would shadow the edited source
CORE_SOURCES := $(shell sed -n 's/^ *"\(daemon\/[^"]*\.py\)",$$/\1/p' setup.py)

.PHONY: demo test test-unit servers firmware bench lint clean core

# The package is installed editable as plain Python; `core` then compiles the hot modules in
# place with the venv's mypyc (BATTWATCH_PURE=1 leaves them plain).
$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	BATTWATCH_PURE=1 $(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(CORE): $(STAMP) $(CORE_SOURCES)
	find daemon -name '*.so' -delete
	$(PY) setup.py --quiet build_ext --inplace
	touch $(CORE)

core: $(CORE)

demo: $(CORE)
	$(VENV)/bin/battwatch demo

# The integration tests start their own Mosquitto, InfluxDB 1.x and VictoriaMetrics;
# provision-servers.sh installs the Debian packages when they are missing. The firmware's
# tests run its real binary in board-sim: provision-firmware.sh installs the AVR toolchain
# and simavr, then the firmware and the simulator are built and the core's host tests run.
test: $(CORE) servers firmware
	$(PY) -m pytest -q

test-unit: $(CORE)
	$(PY) -m pytest -q tests/unit

servers:
	bash scripts/provision-servers.sh

firmware:
	bash scripts/provision-firmware.sh
	$(MAKE) -C firmware sim test

bench: $(CORE)
	$(PY) bench/run.py

lint: $(STAMP)
	$(VENV)/bin/ruff check daemon tests bench
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info daemon/*.egg-info
	$(MAKE) -C firmware clean
	find daemon -name "*.so" -delete
