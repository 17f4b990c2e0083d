#!/usr/bin/env bash
# A Huntsman lab cluster on this machine's docker: Garage (S3), a scheduler and N
# executors on a private network (docker-compose.yml), with the scheduler and the store
# published on 127.0.0.1 for a client on the host. See docs/lab-cluster.md.
#
#   deploy/lab.sh up [--executors N] [--profile debug|release] [--rebuild]
#                        write .env if missing, build missing images, start, wait until
#                        the bucket answers and N executors are registered (default 3)
#   deploy/lab.sh scale N    run N executors; wait until the scheduler counts N
#   deploy/lab.sh env        export lines for a client on the host (eval "$(... env)")
#   deploy/lab.sh status     containers, the scheduler's /readyz, the endpoints
#   deploy/lab.sh logs [SERVICE...]     the services' logs
#   deploy/lab.sh compose ARGS...       any docker-compose command on this lab
#   deploy/lab.sh down       remove the containers, the network and the volumes
#
# Environment:
#   HUNTSMAN_LAB_PROJECT    compose project name (default: $COMPOSE_PROJECT_NAME, else
#                           huntsman-lab); labs with different names are independent
#   HUNTSMAN_LAB_ENV_FILE   settings file (default: .env at the repository root, written
#                           from deploy/lab.env.example with random secrets when missing)
#   HUNTSMAN_SCHEDULER_HOST_PORT, HUNTSMAN_LAB_S3_HOST_PORT, and every HUNTSMAN_LAB_*
#                           setting of deploy/lab.env.example: set here, they win over
#                           the file (two labs side by side need two pairs of ports)
#   HUNTSMAN_LAB_TIMEOUT    seconds to wait for the store and the executors (default 180)
#   HUNTSMAN_COMPOSE        the compose command (default: `docker compose` when the
#                           plugin is there, else docker-compose)
#   CARGO_TARGET_DIR, HUNTSMAN_GARAGE   where deploy/build-images.sh finds the binaries
#
# Exits 1 with a one-line message on failure (after the last lines of the failing
# service's log, when there is one).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

say() { echo "lab: $*" >&2; }
die() {
  say "$*"
  exit 1
}
usage() {
  sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
}

project="${HUNTSMAN_LAB_PROJECT:-${COMPOSE_PROJECT_NAME:-huntsman-lab}}"
env_file="${HUNTSMAN_LAB_ENV_FILE:-$root/.env}"
case "$env_file" in /*) ;; *) env_file="$PWD/$env_file" ;; esac
timeout="${HUNTSMAN_LAB_TIMEOUT:-180}"

compose_cmd=()
if [[ -n "${HUNTSMAN_COMPOSE:-}" ]]; then
  read -r -a compose_cmd <<<"$HUNTSMAN_COMPOSE"
elif docker compose version >/dev/null 2>&1; then
  compose_cmd=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
  compose_cmd=(docker-compose)
fi

compose() {
  ((${#compose_cmd[@]})) || die "neither the docker compose plugin nor docker-compose is installed"
  "${compose_cmd[@]}" --env-file "$env_file" -p "$project" -f "$root/docker-compose.yml" "$@"
}

# A value of the settings: the environment first (as compose does), then the file.
setting() {
  local name="$1" default="${2:-}" value
  if [[ -n "${!name:-}" ]]; then
    echo "${!name}"
    return
  fi
  value=""
  if [[ -f "$env_file" ]]; then
    value="$(sed -n "s/^$name=//p" "$env_file" | tail -n1)"
    value="${value%\"}"
    value="${value#\"}"
  fi
  echo "${value:-$default}"
}

hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }

# Writes the settings file from the example when it is missing, and fills in empty
# secrets (Garage: key ids GK + 24 hex digits, secrets 64 hex digits).
ensure_env() {
  if [[ ! -f "$env_file" ]]; then
    [[ -f deploy/lab.env.example ]] || die "deploy/lab.env.example is missing"
    (umask 077 && cp deploy/lab.env.example "$env_file")
    say "wrote $env_file from deploy/lab.env.example"
  fi
  local name value filled=0
  for name in HUNTSMAN_LAB_S3_ACCESS_KEY HUNTSMAN_LAB_S3_SECRET_KEY HUNTSMAN_LAB_GARAGE_RPC_SECRET; do
    value="$(sed -n "s/^$name=//p" "$env_file" | tail -n1)"
    [[ -n "$value" ]] && continue
    case "$name" in
      *ACCESS_KEY) value="GK$(hex 12)" ;;
      *) value="$(hex 32)" ;;
    esac
    if grep -q "^$name=" "$env_file"; then
      sed -i "s/^$name=.*/$name=$value/" "$env_file"
    else
      echo "$name=$value" >>"$env_file"
    fi
    filled=1
  done
  ((filled)) && chmod 600 "$env_file" && say "generated store credentials in $env_file"
  value="$(setting HUNTSMAN_LAB_S3_ACCESS_KEY)"
  [[ "$value" =~ ^GK[0-9a-f]{24}$ ]] ||
    say "warning: HUNTSMAN_LAB_S3_ACCESS_KEY is not GK + 24 hex digits (Garage accepts it, other tools may not)"
  value="$(setting HUNTSMAN_LAB_GARAGE_RPC_SECRET)"
  [[ "$value" =~ ^[0-9a-fA-F]{64}$ ]] ||
    die "HUNTSMAN_LAB_GARAGE_RPC_SECRET in $env_file must be 64 hex digits (empty it to have one generated)"
}

# The settings file for commands that only need the compose file to parse (down, ps):
# the real one, or placeholders when there is none.
ensure_env_for_teardown() {
  if [[ ! -f "$env_file" ]]; then
    env_file="$(mktemp "${TMPDIR:-/tmp}/huntsman-lab-env.XXXXXX")"
    trap 'rm -f "$env_file"' EXIT
    printf '%s\n' HUNTSMAN_LAB_S3_ACCESS_KEY=GK000000000000000000000000 \
      HUNTSMAN_LAB_S3_SECRET_KEY=none HUNTSMAN_LAB_GARAGE_RPC_SECRET=none >"$env_file"
  fi
}

image_tag() { setting HUNTSMAN_IMAGE_TAG latest; }

# Builds the images that are missing (all of them with --rebuild; unchanged ones are
# only re-tagged). The client image is built when its binary is there.
ensure_images() {
  local profile="$1" rebuild="$2" t name missing=()
  t="$(image_tag)"
  for name in garage scheduler executor; do
    if ((rebuild)) || ! docker image inspect "huntsman/$name:$t" >/dev/null 2>&1; then
      missing+=("$name")
    fi
  done
  local target="${CARGO_TARGET_DIR:-$HOME/.cache/huntsman/target}"
  if [[ -x "$target/$profile/huntsman" ]] &&
    { ((rebuild)) || ! docker image inspect "huntsman/client:$t" >/dev/null 2>&1; }; then
    missing+=(client)
  fi
  ((${#missing[@]})) || return 0
  say "building images: ${missing[*]} ($profile)"
  HUNTSMAN_IMAGE_TAG="$t" deploy/build-images.sh --profile "$profile" "${missing[@]}"
}

# The host port compose published for a service's port, else the configured one.
host_port() {
  local service="$1" port="$2" var="$3" default="$4" out
  if out="$(compose port "$service" "$port" 2>/dev/null)" && [[ "$out" == *:[0-9]* ]]; then
    echo "${out##*:}"
  else
    setting "$var" "$default"
  fi
}
scheduler_port() { host_port scheduler 50050 HUNTSMAN_SCHEDULER_HOST_PORT 50050; }
s3_port() { host_port s3 3900 HUNTSMAN_LAB_S3_HOST_PORT 3900; }

# GET http://127.0.0.1:PORT/PATH: the body, whatever the status; fails when nothing answers.
http_get() {
  local port="$1" path="$2"
  if command -v curl >/dev/null 2>&1; then
    curl -sS --max-time 5 "http://127.0.0.1:$port$path" 2>/dev/null
  else
    local body
    exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
    printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$path" >&3
    body="$(timeout 5 cat <&3)" || true
    exec 3>&-
    [[ -n "$body" ]] || return 1
    sed '1,/^\r\{0,1\}$/d' <<<"$body"
  fi
}

# The number of executors the scheduler counts alive, from /readyz ("ready: N executors
# registered" or "not ready: N/M executors registered"); empty when it does not answer.
registered() {
  local body
  body="$(http_get "$(scheduler_port)" /readyz)" || return 0
  sed -n 's/.*ready: \([0-9]\{1,\}\)\(\/[0-9]\{1,\}\)\{0,1\} executors registered.*/\1/p' <<<"$body" | head -n1
}

# Prints the last lines of a service's log and fails with a message.
fail_with_log() {
  local service="$1"
  shift
  say "last lines of $service:"
  compose logs --no-color --tail=30 "$service" >&2 || true
  die "$*"
}

wait_for_store() {
  local start=$SECONDS id state="" bucket
  bucket="$(setting HUNTSMAN_LAB_BUCKET lake)"
  while ((SECONDS - start < timeout)); do
    id="$(compose ps -q s3 2>/dev/null | head -n1)"
    if [[ -n "$id" ]]; then
      state="$(docker inspect -f '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}' "$id" 2>/dev/null || true)"
      case "$state" in
        "running healthy") return 0 ;;
        exited* | dead*) fail_with_log s3 "the store stopped ($state)" ;;
      esac
    fi
    sleep 1
  done
  fail_with_log s3 "the store has no bucket '$bucket' after ${timeout}s (state: ${state:-no container})"
}

wait_for_scheduler() {
  local start=$SECONDS port
  port="$(scheduler_port)"
  while ((SECONDS - start < timeout)); do
    if [[ "$(http_get "$port" /healthz || true)" == ok* ]]; then
      return 0
    fi
    sleep 1
  done
  fail_with_log scheduler "the scheduler does not answer on 127.0.0.1:$port/healthz after ${timeout}s"
}

wait_for_executors() {
  local want="$1" start=$SECONDS n="" last=""
  while ((SECONDS - start < timeout)); do
    n="$(registered)"
    if [[ "$n" != "$last" ]]; then
      say "executors registered: ${n:-?}/$want"
      last="$n"
    fi
    [[ "$n" == "$want" ]] && return 0
    sleep 1
  done
  fail_with_log executor "the scheduler counts ${n:-no} executors, not $want, after ${timeout}s"
}

check_count() {
  [[ "$1" =~ ^[0-9]+$ ]] || die "the number of executors must be a whole number, not '$1'"
}

cmd_up() {
  local executors=3 profile=release rebuild=0
  while (($#)); do
    case "$1" in
      --executors)
        (($# >= 2)) || die "--executors needs a number"
        executors="$2"
        shift 2
        ;;
      --executors=*)
        executors="${1#*=}"
        shift
        ;;
      --profile)
        (($# >= 2)) || die "--profile needs debug or release"
        profile="$2"
        shift 2
        ;;
      --profile=*)
        profile="${1#*=}"
        shift
        ;;
      --rebuild)
        rebuild=1
        shift
        ;;
      *) die "up: unknown argument '$1' (try --help)" ;;
    esac
  done
  check_count "$executors"
  ensure_env
  ensure_images "$profile" "$rebuild"
  export HUNTSMAN_IMAGE_TAG
  HUNTSMAN_IMAGE_TAG="$(image_tag)"
  say "starting $project: store, scheduler, $executors executors"
  compose up -d --remove-orphans --scale "executor=$executors" s3 scheduler executor
  wait_for_store
  wait_for_scheduler
  wait_for_executors "$executors"
  say "up: scheduler df://127.0.0.1:$(scheduler_port), store http://127.0.0.1:$(s3_port); eval \"\$(deploy/lab.sh env)\" for the client"
}

cmd_scale() {
  (($# == 1)) || die "scale needs the number of executors"
  check_count "$1"
  [[ -f "$env_file" ]] || die "no lab settings at $env_file: run deploy/lab.sh up first"
  compose up -d --no-recreate --scale "executor=$1" executor
  wait_for_executors "$1"
}

cmd_env() {
  [[ -f "$env_file" ]] || die "no lab settings at $env_file: run deploy/lab.sh up first"
  local bucket
  bucket="$(setting HUNTSMAN_LAB_BUCKET lake)"
  cat <<EOF
export HUNTSMAN_SCHEDULER=df://127.0.0.1:$(scheduler_port)
export MINIO_ENDPOINT=http://127.0.0.1:$(s3_port)
export MINIO_ACCESS_KEY=$(setting HUNTSMAN_LAB_S3_ACCESS_KEY)
export MINIO_SECRET_KEY=$(setting HUNTSMAN_LAB_S3_SECRET_KEY)
export MINIO_PATH_STYLE_ACCESS=true
export AWS_REGION=us-east-1
export DATA_PATH=s3://$bucket/lab/events
export BASE_S3_PATH=s3://$bucket/huntsman
EOF
}

cmd_status() {
  ensure_env_for_teardown
  compose ps
  local port body
  port="$(scheduler_port)"
  if body="$(http_get "$port" /readyz)" && [[ -n "$body" ]]; then
    echo "scheduler 127.0.0.1:$port: $body"
  else
    echo "scheduler 127.0.0.1:$port: no answer"
  fi
  echo "store http://127.0.0.1:$(s3_port), bucket $(setting HUNTSMAN_LAB_BUCKET lake)"
}

cmd_down() {
  ensure_env_for_teardown
  compose --profile client down -v --remove-orphans
}

case "${1:-}" in
  up) shift && cmd_up "$@" ;;
  scale) shift && cmd_scale "$@" ;;
  env) shift && cmd_env ;;
  status) shift && cmd_status ;;
  logs) shift && ensure_env_for_teardown && compose logs --no-color "$@" ;;
  compose) shift && ensure_env_for_teardown && compose "$@" ;;
  down) shift && cmd_down ;;
  -h | --help | help) usage ;;
  "") usage >&2 && exit 2 ;;
  *) die "unknown command '$1' (try --help)" ;;
esac
