# Set-up and everyday commands. Works on a fresh Debian machine with Python 3.11.
#   make demo   build the Laoshan demo and serve it on http://127.0.0.1:8000
#   make test   lint, type-check and run every test (PostGIS is installed when run as root)

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_DB := var/demo.db

.PHONY: demo serve test lint system bench clean

$(STAMP): pyproject.toml package.json package-lock.json
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	npm ci --no-audit --no-fund --loglevel=error   # Leaflet, served and embedded: no page needs a CDN
	touch $(STAMP)

demo: $(STAMP)
	mkdir -p var
	rm -f $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm
	SITESELECT_DATABASE_URL=sqlite:///$(DEMO_DB) $(BIN)/siteselect demo --out var/demo
	SITESELECT_DATABASE_URL=sqlite:///$(DEMO_DB) $(BIN)/siteselect serve --host 127.0.0.1 --port 8000

# From Debian, for the tests: PostgreSQL 15 with PostGIS 3, Chromium (with CJK fonts) for the
# browser tests, nginx and systemd for the test of the production set-up. Needs root; without it
# those tests are skipped (and fail the run when SITESELECT_REQUIRE_POSTGIS=1, as in CI).
DEBIAN_PACKAGES := postgresql-15-postgis-3 chromium fonts-noto-cjk nginx systemd
system:
	@if [ -f /usr/share/postgresql/15/extension/postgis.control ] && [ -x /usr/bin/chromium ] \
	  && [ -d /usr/share/fonts/opentype/noto ] && [ -x /usr/sbin/nginx ] && [ -x /lib/systemd/systemd ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(DEBIAN_PACKAGES); \
	else echo "not root: PostGIS and browser tests will be skipped"; fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# A file to a worker: a file's servers, stores and browser are made once, and its tests share them.
test: $(STAMP) system lint
	$(BIN)/pytest -n logical --maxprocesses=4 --dist loadfile

bench: $(STAMP) system
	command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -q wrk; }
	$(BIN)/python bench/load_pois.py
	$(BIN)/python bench/check_speed.py
	$(BIN)/python bench/http_check.py
	$(BIN)/python bench/report_speed.py
	$(BIN)/python bench/ogc_filter.py
	$(BIN)/python bench/tile_speed.py

clean:
	rm -rf $(VENV) node_modules var .pytest_cache .mypy_cache .ruff_cache
