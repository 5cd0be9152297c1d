# battwatch: `make demo` and `make test` work on a fresh machine; each builds .venv first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEV := $(VENV)/.dev
CORE := $(VENV)/.core
# the modules setup.py compiles with mypyc: rebuilt whenever one of them changes, because a
# stale compiled module would shadow the edited source
CORE_SOURCES := $(shell sed -n 's/^ *"\(daemon\/[^"]*\.py\)",$$/\1/p' setup.py)
# the setuptools the package builds with, as pyproject.toml's [build-system] asks for it
SETUPTOOLS := $(shell sed -n 's/^requires = \["\(setuptools[^"]*\)".*/\1/p' pyproject.toml)
PIP := $(PY) -m pip install --progress-bar off --no-compile
TICK := bash scripts/ticker.sh

.PHONY: demo test test-unit servers firmware ha-schemas bench lint clean core

# The package is installed editable as plain Python with what it needs to run: the demo
# starts as soon as that is done. pip prints a line per package; the ticker covers its long
# quiet unpacking.
$(STAMP): pyproject.toml setup.py
	@echo "make: creating $(VENV) (plain Python; the compiled core is built by 'make core' or 'make test')"
	$(PYTHON) -m venv $(VENV)
	$(TICK) "installing $(SETUPTOOLS)" $(PIP) --quiet '$(SETUPTOOLS)'
	BATTWATCH_PURE=1 $(TICK) "installing battwatch and its dependencies" $(PIP) --no-build-isolation -e .
	touch $(STAMP)

# what the tests, the linters and mypyc need on top
$(DEV): $(STAMP)
	BATTWATCH_PURE=1 $(TICK) "installing the test and build tools" $(PIP) --no-build-isolation -e '.[dev]'
	touch $(DEV)

# `core` compiles the hot modules in place with the venv's mypyc (a few minutes)
$(CORE): $(DEV) $(CORE_SOURCES)
	find daemon -name '*.so' -delete
	$(TICK) "compiling the core with mypyc" $(PY) setup.py --quiet build_ext --inplace
	touch $(CORE)

core: $(CORE)

# plain Python is fast enough for the demo; a core compiled earlier is used when present
demo: $(STAMP)
	$(VENV)/bin/battwatch demo --seconds 45

# The integration tests start their own Mosquitto, InfluxDB 1.x and VictoriaMetrics;
# provision-servers.sh installs the Debian packages when they are missing (waiting for apt's
# lock first). The firmware's tests run its real binary in board-sim: provision-firmware.sh
# installs the AVR toolchain and simavr, then the firmware and the simulator are built and the
# core's host tests run. The tests run on the compiled core, and check it against the plain sources.
test: $(CORE) servers firmware ha-schemas
	$(PY) -m pytest -q

test-unit: $(CORE)
	$(PY) -m pytest -q tests/unit

# Home Assistant 2024.3 in a venv of its own (cached under ~/.cache/battwatch), whose MQTT
# schemas check the discovery payloads (tests/integration/test_ha_schemas.py)
ha-schemas:
	bash scripts/provision-ha.sh >/dev/null

servers:
	bash scripts/provision-servers.sh

firmware:
	bash scripts/provision-firmware.sh
	$(MAKE) -C firmware sim test

bench: $(CORE) servers
	$(PY) bench/run.py

lint: $(DEV)
	$(VENV)/bin/ruff check daemon tests bench
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info daemon/*.egg-info
	$(MAKE) -C firmware clean
	find daemon -name "*.so" -delete
