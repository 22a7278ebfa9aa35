# The two commands: `make preview STACK=staging|prod` and `make test`. Both set themselves up.
STACK ?= staging
PY := .venv/bin/python

.PHONY: setup preview policy test test-fast bench clean

setup:
	@scripts/setup.sh

preview: setup
	$(PY) -m preview $(STACK)

# The policy pack (policies/) over the stack's offline preview: prints each violation, fails on a mandatory one.
policy: setup
	$(PY) -m preview $(STACK) --quiet
	$(PY) -m policies check build/$(STACK)/resources.json --stack-settings Pulumi.$(STACK).yaml

test: setup
	$(PY) -m pytest -n 2 -p no:cacheprovider

# Everything but the end-to-end suite (real Prometheus/Alertmanager runs).
test-fast: setup
	$(PY) -m pytest -n 2 -p no:cacheprovider -m "not e2e"

bench: setup
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf build .pytest_cache
