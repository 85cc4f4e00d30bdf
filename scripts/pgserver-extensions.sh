#!/bin/sh
# Build the extensions the schema needs, pg_trgm (search) and pgcrypto, into the binaries of the
# `pgserver` wheel, which ships with neither.
#
# The embedded PostgreSQL uses the system's binaries when there are any (Debian's `postgresql`
# package includes both) and falls back to the wheel's; a machine without a system PostgreSQL runs
# this once after installing the dependencies:
#
#   make pg-extensions      # or: PYTHON=.venv/bin/python sh scripts/pgserver-extensions.sh
#
# The source is contrib/pg_trgm of Debian's PostgreSQL source package, fetched with apt-get through a
# private source list (the system's apt configuration is not changed); it builds with PGXS against
# the wheel's own headers. Needs apt-get, a C compiler, make and OpenSSL's headers (libssl-dev).
# PG_CONFIG overrides the target.
#
# The source is PostgreSQL 15's (the newest in Debian stable) and the wheel is PostgreSQL 16, so the
# build bridges two differences: 16 moved the varlena macros to varatt.h, and 15's latest minor
# releases call bounded multibyte helpers that 16.2 does not have yet (they map to the unbounded ones
# 16.2's own pg_trgm uses). A system PostgreSQL is the better choice wherever one can be installed.
set -eu

PYTHON=${PYTHON:-python3}
SOURCE_PACKAGE=${SOURCE_PACKAGE:-postgresql-15}
SUITE=${SUITE:-bookworm}
if [ -z "${PG_CONFIG:-}" ]; then
    bin=$("$PYTHON" -c 'from pgserver._commands import POSTGRES_BIN_PATH; print(POSTGRES_BIN_PATH)' 2>/dev/null)
    PG_CONFIG="$bin/pg_config"
fi
share=$("$PG_CONFIG" --sharedir)
if [ -f "$share/extension/pg_trgm.control" ] && [ -f "$share/extension/pgcrypto.control" ]; then
    echo "pg_trgm and pgcrypto are already installed in $share"
    exit 0
fi
server_include=$("$PG_CONFIG" --includedir-server)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial"
echo "deb-src http://deb.debian.org/debian $SUITE main" > "$work/sources.list"
apt_opts="-o Dir::Etc::SourceList=$work/sources.list -o Dir::Etc::SourceParts=/dev/null -o Dir::State::Lists=$work/lists"
# shellcheck disable=SC2086  # the options are several words on purpose
apt-get $apt_opts update >/dev/null
cd "$work"
# shellcheck disable=SC2086
apt-get $apt_opts source --download-only "$SOURCE_PACKAGE" >/dev/null
tar xjf ./*.orig.tar.bz2 --wildcards '*/contrib/pg_trgm' '*/contrib/pgcrypto'
shims=""
if ! grep -q pg_mblen_unbounded "$server_include/mb/pg_wchar.h"; then
    shims="-D'pg_mblen_unbounded(s)=pg_mblen(s)' -D'pg_mblen_range(s,e)=pg_mblen(s)'"
    shims="$shims -D't_isalpha_with_len(s,n)=t_isalpha(s)' -D't_isdigit_with_len(s,n)=t_isdigit(s)'"
fi
for extension in pg_trgm pgcrypto; do
    (
        cd ./*/contrib/$extension
        if [ -f "$server_include/varatt.h" ]; then
            sed -i 's|^#include "postgres.h"$|#include "postgres.h"\n#include "varatt.h"|' ./*.c
        fi
        # 16 no longer reaches these headers through the ones trgm_op.c names; harmless before.
        if [ "$extension" = pg_trgm ]; then
            sed -i 's|#include "utils/pg_crc.h"|#include "utils/pg_crc.h"\n#include "utils/guc.h"\n#include "utils/array.h"|' trgm_op.c
        fi
        # The wheel was built without OpenSSL; pgcrypto links the system's libcrypto.
        make USE_PGXS=1 PG_CONFIG="$PG_CONFIG" with_ssl=openssl LIBS=-lcrypto PG_CPPFLAGS="$shims" install >/dev/null
    )
done
echo "pg_trgm and pgcrypto installed into $("$PG_CONFIG" --pkglibdir) and $share/extension"
