#!/usr/bin/env bash
# Runs the client examples (examples/go, examples/typescript) against a live
# apiws on sandbox numbers, in trusted-documents mode, and checks what they
# print. Their clients are generated first from the schema the server
# publishes; the documents they generate, with examples/setup's, make the
# server's allow-list. Usage: ./scripts/examples.sh [go] [typescript]
# (default: both). Leaves only git-ignored files behind.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
which=("$@")
[ ${#which[@]} -eq 0 ] && which=(go typescript)
wants() { [[ " ${which[*]} " == *" $1 "* ]]; }

work=$(mktemp -d)
server_pid=
stop_apiws() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
  fi
}
trap 'stop_apiws; rm -rf "$work"' EXIT

fail() {
  echo "examples.sh: $*" >&2
  for f in "$work"/*.log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -20 "$f" >&2; }; done
  exit 1
}

echo "examples.sh: building apiws" >&2
go build -o "$work/apiws" ./cmd/apiws
secret_key=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')

# start_apiws NAME [VAR=VALUE...] runs apiws on a free port over one SQLite
# database with a fast sandbox, and sets base to its URL.
start_apiws() {
  local name=$1
  shift
  (cd "$work" && exec env -u APIWS_REDIS_URL -u APIWS_TRUSTED_DOCUMENTS -u APIWS_ENV \
    APIWS_ADDR=127.0.0.1:0 APIWS_DATABASE_URL="$work/apiws.db" APIWS_MAIL_DIR="$work/mail" \
    APIWS_SECRET_KEY="$secret_key" APIWS_SANDBOX_DELAY=0.2 APIWS_ALLOW_PRIVATE_URLS=true \
    APIWS_WA_VERSION=2.3000.1041871181 "$@" ./apiws >"$work/$name.out" 2>"$work/$name.log") &
  server_pid=$!
  base=
  for _ in $(seq 1 100); do
    base=$(sed -n 's/^apiws listening on //p' "$work/$name.out")
    [ -n "$base" ] && return 0
    kill -0 "$server_pid" 2>/dev/null || fail "apiws ($name) stopped at start"
    sleep 0.1
  done
  fail "apiws ($name) did not start"
}

# json EXPR reads JSON on stdin and prints the JavaScript expression EXPR
# of it (as `d`), "" when it is null or undefined.
json() { node -e 'let s="";process.stdin.on("data",c=>s+=c).on("end",()=>{const d=JSON.parse(s);const v=eval(process.argv[1]);process.stdout.write(v==null?"":String(v))})' "$1"; }

# gql FILE VARIABLES [TOKEN] posts the document in FILE, byte for byte, as
# listed in the allow-list.
gql() {
  local body
  body=$(node -e 'const fs=require("fs");process.stdout.write(JSON.stringify({query:fs.readFileSync(process.argv[1],"utf8"),variables:JSON.parse(process.argv[2])}))' "$1" "$2")
  curl -fsS "$base/graphql" -H 'Content-Type: application/json' ${3:+-H "Authorization: Bearer $3"} -d "$body"
}

# expect NAME PATTERN... checks that the output of example NAME has a line
# matching each pattern.
expect() {
  local name=$1
  shift
  for pattern in "$@"; do
    grep -Eq "$pattern" "$work/$name.txt" || fail "$name printed no line matching '$pattern'"
  done
}

# 1. Generate the clients from the published schema.
start_apiws schema
lists=()
if wants go; then
  echo "examples.sh: generating the Go client" >&2
  (cd examples/go && APIWS_URL="$base" go generate ./...)
  lists+=("$root/examples/go/operations.json")
fi
if wants typescript; then
  echo "examples.sh: generating the TypeScript client" >&2
  (cd examples/typescript && npm ci --no-audit --no-fund --loglevel=error && APIWS_URL="$base" npm run --silent generate)
  lists+=("$root/examples/typescript/src/gql/persisted-documents.json")
fi
stop_apiws

# 2. Serve only the examples' documents and the setup's.
for f in examples/setup/*.graphql; do sha256sum <"$f" | cut -d' ' -f1; done >"$work/setup-documents.txt"
lists+=("$work/setup-documents.txt")
start_apiws trusted APIWS_TRUSTED_DOCUMENTS="$(IFS=:; echo "${lists[*]}")"
refused=$(curl -sS "$base/graphql" -H 'Content-Type: application/json' -d '{"query":"{ viewer { id } }"}' | json 'd.errors[0].extensions.code')
[ "$refused" = DOCUMENT_NOT_ALLOWED ] || fail "an unlisted document was answered with code '$refused', not DOCUMENT_NOT_ALLOWED"

# 3. An account with an API key and a connected sandbox number.
token=$(gql examples/setup/sign-up.graphql '{"input":{"name":"Example Integrator","email":"examples@example.com","password":"correct horse battery","birthDate":"1990-04-01","acceptPolicyVersion":"1.0"}}' | json 'd.data.signUp.token')
[ -n "$token" ] || fail "signUp gave no token"
api_key=$(gql examples/setup/create-api-key.graphql '{"input":{"name":"examples","scopes":["READ","SEND","MANAGE_WEBHOOKS"]}}' "$token" | json 'd.data.createApiKey.secret')
[ -n "$api_key" ] || fail "createApiKey gave no secret"
number=$(gql examples/setup/connect-number.graphql '{}' "$token" | json 'd.data.connectNumber.number.id')
[ -n "$number" ] || fail "connectNumber gave no number"
for _ in $(seq 1 100); do
  status=$(gql examples/setup/number-status.graphql "{\"id\":\"$number\"}" "$token" | json 'd.data.node.status')
  [ "$status" = CONNECTED ] && break
  sleep 0.1
done
[ "$status" = CONNECTED ] || fail "the sandbox number is $status, not CONNECTED"

# 4. Run each example and check what it printed.
if wants go; then
  echo "examples.sh: running examples/go" >&2
  (cd examples/go && APIWS_URL="$base" APIWS_API_KEY="$api_key" go run .) | tee "$work/go.txt" || fail "examples/go failed"
  expect go '^signed in as Example Integrator \(acc_' '^sent msg_[^:]+: QUEUED$' \
    '^event MESSAGE_STATUS msg_[^ ]+ READ' '^webhook verified MESSAGE_STATUS msg_[^ ]+ READ' '^done$'
fi
if wants typescript; then
  for transport in websocket sse; do
    echo "examples.sh: running examples/typescript over $transport" >&2
    (cd examples/typescript && APIWS_URL="$base" APIWS_API_KEY="$api_key" APIWS_TRANSPORT="$transport" npm run --silent start) |
      tee "$work/typescript-$transport.txt" || fail "examples/typescript ($transport) failed"
    expect "typescript-$transport" '^signed in as Example Integrator \(acc_' "^following events over $transport\$" \
      '^sent msg_[^:]+: QUEUED$' '^event MESSAGE_STATUS msg_[^ ]+ READ' '^webhook verified MESSAGE_STATUS msg_[^ ]+ READ' '^done$'
  done
fi
echo "examples.sh: the examples ran as expected" >&2
