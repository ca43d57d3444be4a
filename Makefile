# Conectores avanzados — the two promises: `make lab` opens the course, `make test` checks it all.
# Everything runs from a local virtualenv (.venv) that these targets create or update.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NBVAL_FLAGS := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg
PYTEST_JOBS ?= auto

.PHONY: help lab test lint unit nbval notebooks serve bench system-deps clean

help:  ## Lista los objetivos
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the project's dependencies change.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

venv: $(STAMP)

# Jupyter refuses to run as root unless told; containers and CI machines often are root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

lab: $(STAMP)  ## Instala (si hace falta) y abre JupyterLab en notebooks/
	$(BIN)/jupyter lab notebooks/ $(ROOT_FLAG)

system-deps:  ## Instala con apt lo que no es de Python (OpenSSH sftp, Chromium) si falta
	@bash tools/system-deps.sh

lint: $(STAMP)  ## ruff y mypy (estricto en los paquetes)
	$(BIN)/ruff check .
	$(BIN)/mypy

unit: $(STAMP)  ## Solo las pruebas de pytest (sin cuadernos)
	$(BIN)/pytest -n $(PYTEST_JOBS) --dist loadscope tests

nbval: $(STAMP)  ## Solo los cuadernos, comparados con sus salidas guardadas
	$(BIN)/pytest -n $(PYTEST_JOBS) --dist loadscope $(NBVAL_FLAGS) notebooks

test: $(STAMP) system-deps lint  ## Todo: lint, pruebas y cuadernos (nbval)
	$(BIN)/pytest -n $(PYTEST_JOBS) --dist loadscope $(NBVAL_FLAGS) tests notebooks

notebooks: $(STAMP)  ## Reejecuta los cuadernos desde notebooks/py y guarda sus salidas
	$(BIN)/python tools/build_notebooks.py

serve: $(STAMP)  ## Servidores del laboratorio para un aula (reloj real)
	$(BIN)/python -m mock_servers serve

bench: $(STAMP) system-deps  ## Mediciones comparativas (benchmarks/README.md)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:  ## Borra el entorno virtual y cachés
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
