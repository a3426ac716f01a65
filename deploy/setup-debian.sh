#!/usr/bin/env bash
# Set siteselect up on a fresh Debian 12 machine, as root:
#   PostgreSQL 15 + PostGIS from Debian, with two roles: siteselect_owner (owns the schema, runs
#   the migrations) and siteselect_app (the service's: rows only, under row security);
#   the service from its wheel in a virtual environment, under systemd with several workers;
#   nginx in front: TLS, HTTP/2, gzip, caching headers for static assets, a request-size limit,
#   the client's address and a request id passed to the service.
#
#   WHEEL=dist/siteselect-0.1.0-py3-none-any.whl SERVER_NAME=siteselect.intranet \
#   TLS_CERT=/path/cert.pem TLS_KEY=/path/key.pem  bash deploy/setup-debian.sh
#
# Without TLS_CERT/TLS_KEY a self-signed certificate is made (replace it with the intranet CA's).
# Run again, it leaves what exists (roles, database, certificate, passwords) and brings the rest
# up to date, the schema included. Everything below can be pointed elsewhere for a dry run or a
# test: ROOT (a folder standing for /), PG_* (an existing PostgreSQL server, as a superuser),
# the ports, and SYSTEM=0 (no apt, no user, no systemctl: the caller starts the unit's command).
set -euo pipefail

WHEEL=${WHEEL:?WHEEL=path to the siteselect wheel (pip wheel --no-deps -w dist .)}
ROOT=${ROOT:-}                         # "" is /; a test writes everything under a folder instead
SYSTEM=${SYSTEM:-1}                    # 1: install packages, make the user, enable and start units
SERVER_NAME=${SERVER_NAME:-$(hostname -f 2>/dev/null || hostname)}
WORKERS=${WORKERS:-$(( $(nproc) > 1 ? $(nproc) : 2 ))}
APP_PORT=${APP_PORT:-8000}             # the service, on 127.0.0.1 only
HTTPS_PORT=${HTTPS_PORT:-443}
HTTP_PORT=${HTTP_PORT:-80}             # redirects to HTTPS
DB_NAME=${DB_NAME:-siteselect}
OWNER_ROLE=${OWNER_ROLE:-siteselect_owner}
APP_ROLE=${APP_ROLE:-siteselect_app}
PG_HOST=${PG_HOST:-127.0.0.1}          # the service logs in over TCP with its password
PG_PORT=${PG_PORT:-5432}
PG_SUPERUSER=${PG_SUPERUSER:-postgres}
TLS_CERT=${TLS_CERT:-}
TLS_KEY=${TLS_KEY:-}
MAX_BODY=${MAX_BODY:-4m}               # the service refuses more than 4 MB itself too

ETC=$ROOT/etc/siteselect
VENV=$ROOT/opt/siteselect/venv
STATE=$ROOT/var/lib/siteselect
SNAPSHOTS=$STATE/snapshots               # the workers' indexed layers, shared (the service's alone)
UNIT=$ROOT/etc/systemd/system/siteselect.service
SITE=$ROOT/etc/nginx/sites-available/siteselect.conf

say() { printf '\n== %s\n' "$*"; }

packages() {
  say "Debian packages"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    postgresql postgresql-15-postgis-3 nginx python3 python3-venv openssl
  id siteselect >/dev/null 2>&1 || useradd --system --home-dir /var/lib/siteselect --shell /usr/sbin/nologin siteselect
}

psql_admin() {
  if [ "$SYSTEM" = 1 ] && [ "$PG_HOST" = 127.0.0.1 ]; then  # Debian's own server: as postgres, by peer
    runuser -u postgres -- psql -v ON_ERROR_STOP=1 -qAt -p "$PG_PORT" "$@"
  else
    psql -v ON_ERROR_STOP=1 -qAt -h "$PG_HOST" -p "$PG_PORT" -U "$PG_SUPERUSER" "$@"
  fi
}

secret() {  # a password kept in a root-only file, made once
  local file=$ETC/$1.password
  [ -s "$file" ] || (umask 077 && openssl rand -hex 24 > "$file")
  cat "$file"
}

database() {
  say "PostgreSQL: roles $OWNER_ROLE and $APP_ROLE, database $DB_NAME with PostGIS"
  local owner_pw app_pw
  owner_pw=$(secret "$OWNER_ROLE") app_pw=$(secret "$APP_ROLE")
  psql_admin -d postgres -v owner="$OWNER_ROLE" -v app="$APP_ROLE" -v owner_pw="$owner_pw" -v app_pw="$app_pw" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEROLE NOBYPASSRLS', :'owner')
  WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'owner') \gexec
SELECT format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB NOBYPASSRLS', :'app')
  WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'app') \gexec
ALTER ROLE :"owner" PASSWORD :'owner_pw';
ALTER ROLE :"app" PASSWORD :'app_pw';
SQL
  if [ -z "$(psql_admin -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")" ]; then
    psql_admin -d postgres -c "CREATE DATABASE \"$DB_NAME\" OWNER \"$OWNER_ROLE\""
  fi
  # The extension needs a superuser; everything else is made by the owner, through the migrations.
  psql_admin -d "$DB_NAME" -c "CREATE EXTENSION IF NOT EXISTS postgis"
  psql_admin -d "$DB_NAME" -c "REVOKE CREATE ON SCHEMA public FROM PUBLIC"
}

service_env() {
  say "settings: $ETC/siteselect.env"
  local app_url owner_url
  app_url="postgresql+psycopg://$APP_ROLE:$(secret "$APP_ROLE")@$PG_HOST:$PG_PORT/$DB_NAME"
  owner_url="postgresql+psycopg://$OWNER_ROLE:$(secret "$OWNER_ROLE")@$PG_HOST:$PG_PORT/$DB_NAME"
  (umask 027 && cat > "$ETC/siteselect.env" <<ENV
# siteselect's settings (see the README's table); check with: siteselect config check FILE
SITESELECT_DATABASE_URL=$app_url
SITESELECT_SNAPSHOT_DIR=$SNAPSHOTS
ENV
  )
  (umask 077 && echo "SITESELECT_DATABASE_URL=$owner_url" > "$ETC/owner.env")  # migrations, loads, backups
  if [ "$SYSTEM" = 1 ]; then chgrp siteselect "$ETC/siteselect.env"; fi
  "$VENV/bin/siteselect" config check "$ETC/siteselect.env" >/dev/null
}

install_wheel() {
  say "the service: $VENV"
  mkdir -p "$ETC" "$STATE" "$(dirname "$VENV")"
  # A snapshot file is code to the worker reading it: the folder is the service user's, 0700.
  install -d -m 0700 "$SNAPSHOTS"
  if [ "$SYSTEM" = 1 ]; then chown siteselect:siteselect "$SNAPSHOTS"; fi
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check --upgrade "$WHEEL"
}

schema() {
  say "schema: migrations as $OWNER_ROLE, rows granted to $APP_ROLE"
  set -a; . "$ETC/owner.env"; set +a
  "$VENV/bin/siteselect" db upgrade
  unset SITESELECT_DATABASE_URL
  # The service's role: rows only, never the tables (it cannot drop the audit trigger or the
  # listings' row security). Features arrive through a new version's partitions.
  psql_admin -d "$DB_NAME" -v app="$APP_ROLE" <<'SQL'
GRANT USAGE ON SCHEMA public TO :"app";
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO :"app";
GRANT SELECT, INSERT, UPDATE, DELETE ON listings TO :"app";
GRANT SELECT, INSERT, UPDATE ON filings TO :"app";
GRANT SELECT, INSERT, UPDATE ON users, tokens TO :"app";
GRANT SELECT, INSERT ON audit_log, layer_versions, reports TO :"app";
GRANT SELECT ON features, feature_cells, listing_changes, alembic_version TO :"app";
SQL
}

systemd_unit() {
  say "systemd: $UNIT ($WORKERS workers)"
  mkdir -p "$(dirname "$UNIT")"
  cat > "$UNIT" <<UNIT
[Unit]
Description=siteselect site-selection service
After=network-online.target postgresql.service
Wants=network-online.target

[Service]
Type=exec
User=siteselect
Group=siteselect
EnvironmentFile=$ETC/siteselect.env
ExecStart=$VENV/bin/siteselect serve --host 127.0.0.1 --port $APP_PORT --workers $WORKERS
Restart=on-failure
RestartSec=2
TimeoutStopSec=30
WorkingDirectory=$STATE
NoNewPrivileges=true
PrivateTmp=true
ProtectSystem=strict
ProtectHome=true
ReadWritePaths=$STATE
CapabilityBoundingSet=
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX

[Install]
WantedBy=multi-user.target
UNIT
}

certificate() {
  if [ -n "$TLS_CERT" ] && [ -n "$TLS_KEY" ]; then return; fi
  TLS_CERT=$ETC/tls/cert.pem TLS_KEY=$ETC/tls/key.pem
  [ -s "$TLS_CERT" ] && return
  say "TLS: a self-signed certificate for $SERVER_NAME (replace it with the intranet CA's)"
  mkdir -p "$ETC/tls" && chmod 700 "$ETC/tls"
  openssl req -x509 -newkey rsa:2048 -nodes -days 825 -subj "/CN=$SERVER_NAME" \
    -addext "subjectAltName=DNS:$SERVER_NAME,DNS:localhost,IP:127.0.0.1" \
    -keyout "$TLS_KEY" -out "$TLS_CERT" 2>/dev/null
}

nginx_site() {
  say "nginx: $SITE"
  mkdir -p "$(dirname "$SITE")"
  cat > "$SITE" <<NGINX
# siteselect behind nginx: TLS and HTTP/2, gzip, caching headers, a body limit, the client's address.
upstream siteselect {
    server 127.0.0.1:$APP_PORT;
    keepalive 32;
}

server {
    listen $HTTP_PORT;
    server_name $SERVER_NAME;
    return 301 https://\$host:$HTTPS_PORT\$request_uri;
}

server {
    listen $HTTPS_PORT ssl http2;
    server_name $SERVER_NAME;
    ssl_certificate $TLS_CERT;
    ssl_certificate_key $TLS_KEY;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:siteselect:10m;
    add_header Strict-Transport-Security "max-age=31536000" always;
    add_header X-Content-Type-Options nosniff always;

    client_max_body_size $MAX_BODY;
    gzip on;
    gzip_proxied any;
    gzip_min_length 1024;
    gzip_types application/json application/geo+json text/css text/javascript application/javascript
               text/plain image/svg+xml;

    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host \$host;
    # nginx is the edge: the client's address replaces whatever the client claimed.
    proxy_set_header X-Forwarded-For \$remote_addr;
    proxy_set_header X-Forwarded-Proto \$scheme;
    proxy_set_header X-Request-ID \$request_id;
    proxy_read_timeout 120s;

    location /static/ {  # the page's scripts, styles and Leaflet: a day in every cache
        proxy_pass http://siteselect;
        proxy_hide_header Cache-Control;
        add_header Cache-Control "public, max-age=86400" always;
    }
    location /basemap {  # outlines, roads and buildings of the district: they change with a load
        proxy_pass http://siteselect;
        proxy_hide_header Cache-Control;
        add_header Cache-Control "public, max-age=300" always;
    }
    location = /metrics {  # for the monitoring on this machine only
        allow 127.0.0.1;
        deny all;
        proxy_pass http://siteselect;
    }
    location / {
        proxy_pass http://siteselect;
    }
}
NGINX
}

start() {
  say "start"
  ln -sf "$SITE" /etc/nginx/sites-enabled/siteselect.conf
  rm -f /etc/nginx/sites-enabled/default
  nginx -t
  systemctl daemon-reload
  systemctl enable --now postgresql nginx
  systemctl enable siteselect
  systemctl restart siteselect
  systemctl reload nginx
}

if [ "$SYSTEM" = 1 ]; then packages; fi
install_wheel
database
service_env
schema
systemd_unit
certificate
nginx_site
if [ "$SYSTEM" = 1 ]; then start; fi
say "done: https://$SERVER_NAME:$HTTPS_PORT/ (readiness at /ready once layers are loaded:"
echo "   set -a; . $ETC/owner.env; set +a; $VENV/bin/siteselect load LAYER FILE)"
