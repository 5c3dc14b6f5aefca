# Every target that runs code depends on the venv, so a fresh clone needs nothing but `make train`.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
ARGS   ?=
# Test processes side by side: most tests wait on a subprocess's imports, one core each. Each test file runs in one
# process (--dist loadfile, pyproject.toml), so tests/test_slurm.py starts the local cluster once.
TEST_WORKERS ?= auto
PYTEST := $(PY) -m pytest -q -n $(TEST_WORKERS)

.PHONY: install train test test-fast sweep report bench book playground tensorboard dashboard mlflow notebook slurm-up slurm-down lint format clean

install: $(STAMP)

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

train: install  ## the default run: the book's linear regression (ARGS="model=... data=..." to change it)
	$(PY) -m d2lab.train $(ARGS)

test: install  ## the whole suite; as root it installs and starts a local Slurm cluster for tests/test_slurm.py
	$(PYTEST) $(ARGS)

test-fast: install  ## skip the subprocess end-to-end runs
	$(PYTEST) -m "not slow" $(ARGS)

sweep: install  ## the book's four airfoil runs: GD, SGD and two minibatch sizes
	$(PY) -m d2lab.train -m experiment=d2l_minibatch_sgd $(ARGS)

report: install  ## table and plots of a sweep: make report SWEEP=logs/<task>/multiruns/<stamp> (default: newest)
	$(PY) -m d2lab.report $(SWEEP) $(ARGS)

bench: install  ## framework overhead, data pipeline and training throughput; writes docs/benchmarks.md
	$(PY) scripts/benchmark.py $(ARGS)

book: install  ## the book's experiments that fit a CPU, beside the book's numbers: writes docs/book.md (minutes)
	$(PY) scripts/book.py $(ARGS)

playground: install  ## the book's gradient-descent demo on x^2 (see conf/demo/ for the others)
	$(PY) -m d2lab.playground demo=gd_x_squared $(ARGS)

tensorboard: install  ## every run and sweep under logs/
	$(VENV)/bin/tensorboard --logdir logs $(ARGS)

# Refused before any set-up: without SWEEP there is no study to show.
ifneq ($(filter dashboard,$(MAKECMDGOALS)),)
ifeq ($(SWEEP),)
$(error make dashboard needs the search's folder: make dashboard SWEEP=logs/<task_name>/multiruns/<stamp> [PORT=8080])
endif
endif
dashboard: install  ## Optuna's dashboard on a search's study, on 127.0.0.1: make dashboard SWEEP=<sweep folder> [PORT=8080]
	$(PY) -m d2lab.sweeps.dashboard $(SWEEP) $(if $(PORT),--port $(PORT))

mlflow: install  ## the MLflow UI on the runs of logger=mlflow (conf/logger/mlflow.yaml's store)
	$(VENV)/bin/mlflow ui --backend-store-uri sqlite:///logs/mlflow/mlflow.db --host 127.0.0.1 $(ARGS)

notebook: install  ## JupyterLab on docs/notebooks/ (installs the notebook extra), on 127.0.0.1
	$(PY) -m pip install -q -e '.[notebook]'
	cd docs/notebooks && $(abspath $(VENV))/bin/jupyter lab --ip 127.0.0.1 --no-browser $(if $(filter 0,$(shell id -u)),--allow-root) $(ARGS)

slurm-up:  ## a one-node Slurm cluster on 127.0.0.1 (root: installs slurm-wlm, munge, MariaDB if missing)
	bash scripts/slurm_local.sh up

slurm-down:  ## stop the daemons slurm-up started, by their PIDs
	bash scripts/slurm_local.sh down

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf logs outputs multirun .pytest_cache .ruff_cache
	find . -name __pycache__ -prune -not -path './$(VENV)/*' -exec rm -rf {} +
