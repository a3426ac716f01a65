# Set-up and everyday commands. Works on a fresh Debian machine with Python 3.11.
#   make demo   build the Laoshan demo and serve it on http://127.0.0.1:8000
#   make test   lint, type-check and run every test (PostGIS is installed when run as root)

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_DB := var/demo.db

.PHONY: demo serve test lint postgis bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	mkdir -p var
	rm -f $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm
	SITESELECT_DATABASE_URL=sqlite:///$(DEMO_DB) $(BIN)/siteselect demo --out var/demo
	SITESELECT_DATABASE_URL=sqlite:///$(DEMO_DB) $(BIN)/siteselect serve --host 127.0.0.1 --port 8000

# PostgreSQL 15 with PostGIS 3 from Debian, for the database tests. Needs root; without it the
# PostGIS tests are skipped (and fail the run when SITESELECT_REQUIRE_POSTGIS=1, as in CI).
postgis:
	@if [ -f /usr/share/postgresql/15/extension/postgis.control ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql-15-postgis-3; \
	else echo "PostGIS is not installed and this is not root: PostGIS tests will be skipped"; fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: $(STAMP) postgis lint
	$(BIN)/pytest

bench: $(STAMP) postgis
	command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -q wrk; }
	$(BIN)/python bench/load_pois.py
	$(BIN)/python bench/check_speed.py
	$(BIN)/python bench/http_check.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
