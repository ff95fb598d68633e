# Two commands matter: `make run` starts the product, `make test` runs every test.
# Both expect PostgreSQL and RabbitMQ on localhost (override with XJCERT_DATABASE_URL
# and XJCERT_AMQP_URI).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install run demo test test-unit test-faults test-security audit lint rebuild-read-model staff dead-letters clean \
	render deploy-check image ops bench

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Development secrets (event cipher key, token keys) live in .run/keys, made once.
# Production gets its secrets from the deployment.
KEYS := .run/keys

run: install
	@eval "$$($(PY) -m services.common.keys $(KEYS))" && $(PY) -m services

demo: install
	$(PY) -m tools.demo

test: install lint
	$(PY) -m pytest

test-unit: install
	$(PY) -m pytest tests/unit

# The fault campaign at ten times the size `make test` runs it (XJCERT_FAULTS_SCALE),
# printing what each test tried and what it found.
test-faults: install
	XJCERT_FAULTS_SCALE=$(or $(SCALE),10) $(PY) -m pytest -s -rA tests/faults tests/e2e/test_faults.py

# Bad input, authorisation, tokens, uploads, personal data and outside systems'
# permissions, with a longer fuzzing run than `make test` (XJCERT_FUZZ_EXAMPLES).
test-security: install
	XJCERT_FUZZ_EXAMPLES=$(or $(EXAMPLES),100) XJCERT_FUZZ_LIVE=50 $(PY) -m pytest -s -rA tests/security \
	  tests/e2e/test_identity.py tests/ops/test_outside_permissions.py

# Known vulnerabilities in the installed dependencies (needs PyPI's vulnerability data).
audit: install
	$(VENV)/bin/pip-audit --skip-editable

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

rebuild-read-model: install
	@eval "$$($(PY) -m services.common.keys $(KEYS))" && \
	  $(PY) -m services.certificates.rebuild

staff: install
	@eval "$$($(PY) -m services.common.keys $(KEYS))" && \
	  $(PY) -m services.identity.staff --mobile "$(MOBILE)" --role "$(ROLE)"

dead-letters: install
	$(PY) -m services.common.dead_letters counts

# Benchmarks against the bare machinery; report in bench/results/ (see bench/README.md).
bench: install
	$(PY) -m bench

# Kubernetes: render an overlay, validate both offline, build the image.
render: install      # make render OVERLAY=dev
	$(VENV)/bin/kubectl kustomize deploy/overlays/$(or $(OVERLAY),prod)

deploy-check: install
	$(PY) -m pytest tests/deploy

image:
	docker build -t xjcert:$$(grep -m1 '^version' pyproject.toml | cut -d'"' -f2) .

# The operators' tool with the development secrets: make ops ARGS="relay-lag"
ops: install
	@eval "$$($(PY) -m services.common.keys $(KEYS))" && $(PY) -m services.ops $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info build
