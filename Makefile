# Two commands matter: `make run` starts the product, `make test` runs every test.
# Both expect PostgreSQL and RabbitMQ on localhost (override with XJCERT_DATABASE_URL
# and XJCERT_AMQP_URI).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install run demo test test-unit lint rebuild-read-model dead-letters clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: install
	XJCERT_DEV_APPLICANT_HEADER=$${XJCERT_DEV_APPLICANT_HEADER:-on} $(PY) -m services

demo: install
	$(PY) -m tools.exam_authority --candidates 50 --xpcc 5

test: install lint
	$(PY) -m pytest

test-unit: install
	$(PY) -m pytest tests/unit

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

rebuild-read-model: install
	$(PY) -m services.certificates.rebuild

dead-letters: install
	$(PY) -m services.common.dead_letters list certificates.exam_results
	$(PY) -m services.common.dead_letters list certificates.read_model

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
