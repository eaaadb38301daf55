#!/bin/sh
# update.sh refreshes ../assets/vendor from the npm packages pinned by
# package-lock.json. Run it by hand after changing a version in package.json
# (then `npm install` first, so the lockfile follows); commit the result.
# Building apiws never runs npm: the copied files are embedded with go:embed.
set -eu
cd "$(dirname "$0")"

# npm ci installs exactly what the lockfile says, so the shipped files are
# reproducible and their integrity is checked against the lockfile hashes.
npm ci --no-audit --no-fund

out=../assets/vendor
rm -rf "$out"
mkdir -p "$out"

# Only the browser builds the page loads; everything else stays in node_modules.
cp node_modules/react/umd/react.production.min.js "$out/"
cp node_modules/react-dom/umd/react-dom.production.min.js "$out/"
cp node_modules/graphiql/graphiql.min.js "$out/"
cp node_modules/graphiql/graphiql.min.css "$out/"
# GraphiQL's bundle has graphql-ws inside but does not export createClient,
# and we need our own client to put the token in connection_init.
cp node_modules/graphql-ws/umd/graphql-ws.min.js "$out/"

# The licenses travel with the files: each shipped package's own, and one
# notice file for every package bundled inside graphiql.min.js.
cp node_modules/react/LICENSE "$out/react.LICENSE.txt"
cp node_modules/react-dom/LICENSE "$out/react-dom.LICENSE.txt"
cp node_modules/graphiql/LICENSE "$out/graphiql.LICENSE.txt"
cp node_modules/graphql-ws/LICENSE.md "$out/graphql-ws.LICENSE.txt"
node notices.mjs >"$out/THIRD_PARTY_NOTICES.txt"

ls -l "$out"
