#!/usr/bin/env bash
# `npm run demo`: Fieldwatch end to end on this machine — local Kafka (started if absent), local PostgreSQL,
# migrations, the API and consumers, and a simulated 10-site CT-FFR fleet over several months. Keeps serving
# until Ctrl-C. Dependencies were installed by the `predemo` step (scripts/ensure-deps.js).
#
# Configuration (all optional): DATABASE_URL, KAFKA_BROKERS, PORT (3000), DEMO_MONTHS (6), DEMO_SITES (10),
# DEMO_DURATION_SECONDS (120: how long the simulated months take in real time), DEMO_SEED (a new one per run, so a second demo adds new events rather than resending the same eventIds).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
STATE="$ROOT/.local/demo"
mkdir -p "$STATE"
export PORT="${PORT:-3000}"
API="http://127.0.0.1:$PORT"

# Secrets for this machine's demo, generated once and kept out of git (.local/ is ignored). A real
# deployment sets them from its secret store; the app refuses to start without them.
SECRETS="$STATE/secrets.env"
if [[ ! -f $SECRETS ]]; then
  umask 077
  {
    echo "FW_PSEUDONYM_KEY=$(node -e 'process.stdout.write(require("crypto").randomBytes(32).toString("hex"))')"
    echo "FW_MASTER_KEY=$(node -e 'process.stdout.write(require("crypto").randomBytes(32).toString("hex"))')"
    echo "FW_BOOTSTRAP_ADMIN_TOKEN=fw-demo-admin-$(node -e 'process.stdout.write(require("crypto").randomBytes(24).toString("hex"))')"
  } >"$SECRETS"
fi
# The Ed25519 seed that signs audit checkpoints; added to older secrets files too, so checkpoints
# made by one demo run still verify as trusted after a restart.
if ! grep -q '^FW_AUDIT_SIGNING_KEY=' "$SECRETS"; then
  echo "FW_AUDIT_SIGNING_KEY=$(node -e 'process.stdout.write(require("crypto").randomBytes(32).toString("hex"))')" >>"$SECRETS"
fi
set -a
# shellcheck source=/dev/null
source "$SECRETS"
set +a

# PostgreSQL: the machine's server (DATABASE_URL, default the local one). If nothing answers and a Debian
# cluster is installed, start it, as the machine's own boot would.
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/fieldwatch}"
pg_answers() { node -e "const {Client}=require('pg');const c=new Client({connectionString:process.env.DATABASE_URL.replace(/\/[^/]*$/,'/postgres')});c.connect().then(()=>c.end()).then(()=>process.exit(0),()=>process.exit(1))"; }
if ! pg_answers; then
  if command -v pg_ctlcluster >/dev/null && [[ -d /etc/postgresql ]]; then
    echo "Starting the local PostgreSQL cluster"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  fi
  pg_answers || { echo "PostgreSQL does not answer at DATABASE_URL ($DATABASE_URL)" >&2; exit 1; }
fi

bash scripts/kafka-local.sh start
export KAFKA_BROKERS="${KAFKA_BROKERS:-127.0.0.1:${KAFKA_LOCAL_PORT:-19092}}"

npm run --silent migrate
npm run --silent build

APP_LOG="$STATE/app.log"
node dist/src/main.js >"$APP_LOG" 2>&1 &
APP_PID=$!
cleanup() {
  if kill -0 "$APP_PID" 2>/dev/null; then
    kill -TERM "$APP_PID" 2>/dev/null || true
    wait "$APP_PID" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for _ in $(seq 1 120); do
  if curl -fsS "$API/health/live" >/dev/null 2>&1; then break; fi
  kill -0 "$APP_PID" 2>/dev/null || { echo "The app exited; its log:" >&2; tail -40 "$APP_LOG" >&2; exit 1; }
  sleep 0.5
done
echo "Fieldwatch is up at $API (log: $APP_LOG)"

# A site whose CT-FFR drifts low from two months before the end, and a little bad traffic, so the
# dashboards and the dead-letter topic have something to show.
MONTHS="${DEMO_MONTHS:-6}"
BIAS_FROM="$(node -e "const d=new Date();d.setUTCMonth(d.getUTCMonth()-2);process.stdout.write(d.toISOString().slice(0,10))")"
npm run --silent simulate -- \
  --api-url "$API" --sites "${DEMO_SITES:-10}" --months "$MONTHS" --seed "${DEMO_SEED:-demo-$(date +%s)}" \
  --duration-seconds "${DEMO_DURATION_SECONDS:-120}" --site-bias "SH-RJ:$BIAS_FROM:-0.05" \
  --malformed-rate 0.002 --forged-rate 0.001 --duplicate-rate 0.005 >"$STATE/simulation-summary.json"
echo "Simulation summary: $STATE/simulation-summary.json"

# Let the consumers catch up, then show what was ingested.
node -e '
const api = process.argv[1], token = process.env.FW_BOOTSTRAP_ADMIN_TOKEN;
const get = () => fetch(api + "/api/v1/ingestion/stats", { headers: { Authorization: "Bearer " + token } }).then((r) => r.json());
(async () => {
  let stats;
  for (let i = 0; i < 120; i++) {
    stats = await get();
    if (stats.topics.every((t) => t.consumerLag === 0)) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  console.log("\nIngested (per topic):");
  console.table(stats.topics.map(({ topic, received, stored, duplicates, deadLettered, consumerLag }) =>
    ({ topic, received, stored, duplicates, deadLettered, consumerLag })));
  console.log("Dead letters by reason:", stats.deadLettersByCode);
})();' "$API"

cat <<MSG

API docs:        $API/api/docs
Dashboards:      $API/dashboards/ (sign in with the simulator's manufacturer key, or a quality key issued for it)
Admin API key:   FW_BOOTSTRAP_ADMIN_TOKEN in $SECRETS
Simulator keys:  .local/simulator/state.json (a manufacturer-role key for the simulated tenant)
Try:             curl -H "Authorization: Bearer \$FW_BOOTSTRAP_ADMIN_TOKEN" $API/api/v1/ingestion/stats
Kafka stays up after the demo; stop it with: npm run kafka:stop
Serving until Ctrl-C.
MSG
wait "$APP_PID"
