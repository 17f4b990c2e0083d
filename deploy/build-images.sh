#!/usr/bin/env bash
# Builds the images docker-compose.yml uses, with no registry and no base image: each
# image is a root filesystem assembled here from the built binary, the shared libraries
# `ldd` names for it (and the dynamic loader), a passwd/group with the unprivileged user
# 10001, /tmp (1777), nsswitch.conf/hosts for name resolution on docker networks and the
# host's CA bundle, imported with `docker import`.
#
#   deploy/build-images.sh                       # release binaries, every image
#   deploy/build-images.sh --profile debug       # target/debug binaries
#   deploy/build-images.sh --build               # cargo build the binaries first
#   deploy/build-images.sh garage                # only some images
#
# Images (repository huntsman/<name>):
#   scheduler  huntsman-scheduler     ENTRYPOINT huntsman-scheduler, binds 0.0.0.0
#   executor   huntsman-executor      ENTRYPOINT huntsman-executor, binds 0.0.0.0
#   client     huntsman (the CLI)     ENTRYPOINT huntsman, WORKDIR /home/huntsman
#   garage     garage (the S3 store)  ENTRYPOINT garage, config baked at /etc/garage.toml
#
# Inputs:
#   binaries  ${CARGO_TARGET_DIR:-$HOME/.cache/huntsman/target}/<profile>/
#   garage    ${HUNTSMAN_GARAGE:-$HOME/.cache/huntsman/garage/bin/garage}
#             (installed by .ci/run, or: cargo install garage --locked --version 2.5.0
#              --root "$HOME/.cache/huntsman/garage")
#
# Each image is tagged twice: with a hash of its content (the root filesystem and the
# image settings), and with ${HUNTSMAN_IMAGE_TAG:-latest}, the tag docker-compose.yml
# uses. An image whose content hash is already there is not imported again (only
# re-tagged), so running the script twice builds nothing new.
#
# With a registry, deploy/Dockerfile builds the same images from debian:bookworm-slim.
#
# Exits 1 with a one-line message when a binary, a library or docker is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "build-images: $*" >&2; }
die() {
  say "$*"
  exit 1
}

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
}

profile=release
build=0
tag="${HUNTSMAN_IMAGE_TAG:-latest}"
images=()
while (($#)); do
  case "$1" in
    --profile)
      (($# >= 2)) || die "--profile needs debug or release"
      profile="$2"
      shift 2
      ;;
    --profile=*)
      profile="${1#--profile=}"
      shift
      ;;
    --build)
      build=1
      shift
      ;;
    --tag)
      (($# >= 2)) || die "--tag needs a value"
      tag="$2"
      shift 2
      ;;
    -h | --help)
      usage
      exit 0
      ;;
    scheduler | executor | client | garage)
      images+=("$1")
      shift
      ;;
    *) die "unknown argument '$1' (try --help)" ;;
  esac
done
case "$profile" in
  debug | release) ;;
  *) die "--profile must be debug or release, not '$profile'" ;;
esac
((${#images[@]})) || images=(scheduler executor client garage)

target_dir="${CARGO_TARGET_DIR:-$HOME/.cache/huntsman/target}"
bin_dir="$target_dir/$profile"
garage_bin="${HUNTSMAN_GARAGE:-$HOME/.cache/huntsman/garage/bin/garage}"
release_flag=""
[[ "$profile" == release ]] && release_flag=" --release"

command -v docker >/dev/null 2>&1 || die "docker is not installed"
docker info >/dev/null 2>&1 || die "cannot talk to the docker daemon (is it running, and may this user use it?)"
command -v ldd >/dev/null 2>&1 || die "ldd is not installed (it lists the libraries each binary needs)"

if ((build)); then
  pkgs=()
  for image in "${images[@]}"; do
    case "$image" in
      scheduler) pkgs+=(-p huntsman-scheduler) ;;
      executor) pkgs+=(-p huntsman-executor) ;;
      client) pkgs+=(-p huntsman) ;;
    esac
  done
  if ((${#pkgs[@]})); then
    say "cargo build$release_flag ${pkgs[*]}"
    # shellcheck disable=SC2086 # release_flag is empty or one word
    CARGO_TARGET_DIR="$target_dir" cargo build $release_flag "${pkgs[@]}" --bins
  fi
fi

# The binary an image is made of, or a one-line error naming the command that builds it.
binary_of() {
  local path
  case "$1" in
    scheduler) path="$bin_dir/huntsman-scheduler" ;;
    executor) path="$bin_dir/huntsman-executor" ;;
    client) path="$bin_dir/huntsman" ;;
    garage) path="$garage_bin" ;;
  esac
  if [[ ! -x "$path" ]]; then
    case "$1" in
      scheduler) die "no huntsman-scheduler at $path: build it with 'cargo build$release_flag -p huntsman-scheduler' (CARGO_TARGET_DIR=$target_dir), or pass --build" ;;
      executor) die "no huntsman-executor at $path: build it with 'cargo build$release_flag -p huntsman-executor' (CARGO_TARGET_DIR=$target_dir), or pass --build" ;;
      client) die "no huntsman at $path: build it with 'cargo build$release_flag -p huntsman --bin huntsman' (CARGO_TARGET_DIR=$target_dir), or pass --build" ;;
      garage) die "no garage at $path: install it with 'cargo install garage --locked --version 2.5.0 --root \$HOME/.cache/huntsman/garage', or set HUNTSMAN_GARAGE" ;;
    esac
  fi
  echo "$path"
}

# Copies a file into the root filesystem at the same path, following links.
copy_in() {
  local src="$1" root="$2"
  mkdir -p "$root$(dirname "$src")"
  cp -L "$src" "$root$src"
}

# Copies every shared library the binary needs, and its loader, into the root filesystem.
copy_libraries() {
  local bin="$1" root="$2" out line lib libc_dir="" interp
  if ! out="$(ldd "$bin" 2>&1)"; then
    if grep -q 'not a dynamic executable\|statically linked' <<<"$out"; then
      return 0
    fi
    die "ldd $bin failed: $(head -n1 <<<"$out")"
  fi
  if grep -q 'statically linked' <<<"$out"; then
    return 0
  fi
  if line="$(grep -m1 'not found' <<<"$out")"; then
    die "$bin needs a library this machine does not have: $(tr -s ' \t' '  ' <<<"$line")"
  fi
  while read -r line; do
    lib=""
    case "$line" in
      *"=> /"*) lib="${line#*=> }" ;;
      /*) lib="$line" ;;
    esac
    lib="${lib%% (*}"
    [[ -n "$lib" ]] || continue
    copy_in "$lib" "$root"
    [[ "$(basename "$lib")" == libc.so.* ]] && libc_dir="$(dirname "$lib")"
  done <<<"$out"
  # The ELF interpreter must sit at exactly the path the binary names.
  if command -v readelf >/dev/null 2>&1; then
    interp="$(readelf -l "$bin" | sed -n 's/.*Requesting program interpreter: \(.*\)]$/\1/p')"
    if [[ -n "$interp" && ! -e "$root$interp" ]]; then
      copy_in "$interp" "$root"
    fi
  fi
  # Name resolution: glibc 2.34 and newer resolves files and dns inside libc itself;
  # older ones dlopen these modules, so they come along where the host has them.
  if [[ -n "$libc_dir" ]]; then
    for lib in libnss_files.so.2 libnss_dns.so.2 libresolv.so.2; do
      if [[ -e "$libc_dir/$lib" && ! -e "$root$libc_dir/$lib" ]]; then
        copy_in "$libc_dir/$lib" "$root"
      fi
    done
  fi
}

# The files every image has: users, name resolution, /tmp, CA certificates.
base_files() {
  local root="$1"
  mkdir -p "$root"/{etc,tmp,usr/local/bin,home,var/lib}
  chmod 1777 "$root/tmp"
  printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' \
    'huntsman:x:10001:10001:huntsman:/home/huntsman:/sbin/nologin' >"$root/etc/passwd"
  printf '%s\n' 'root:x:0:' 'huntsman:x:10001:' >"$root/etc/group"
  printf '%s\n' 'passwd: files' 'group: files' 'hosts: files dns' >"$root/etc/nsswitch.conf"
  # Docker replaces /etc/hosts and /etc/resolv.conf with its own at run time (the
  # embedded DNS server that resolves service names); these are for `docker run` without.
  printf '%s\n' '127.0.0.1 localhost' '::1 localhost ip6-localhost ip6-loopback' >"$root/etc/hosts"
  : >"$root/etc/resolv.conf"
  if [[ -r /etc/ssl/certs/ca-certificates.crt ]]; then
    mkdir -p "$root/etc/ssl/certs"
    cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
  fi
  chmod -R go-w,a+rX "$root/etc"
}

garage_config() {
  cat <<'EOF'
# Garage for the Huntsman compose lab: one node, replication 1. The RPC secret comes from
# GARAGE_RPC_SECRET, the default key and bucket from GARAGE_DEFAULT_* (docker-compose.yml).
metadata_dir = "/var/lib/garage/meta"
data_dir = "/var/lib/garage/data"
db_engine = "sqlite"
replication_factor = 1
# Only this node talks RPC (the CLI in the container included): loopback is enough.
rpc_bind_addr = "127.0.0.1:3901"

[s3_api]
s3_region = "us-east-1"
api_bind_addr = "0.0.0.0:3900"
EOF
}

# The docker import settings of an image, one Dockerfile instruction a line.
changes_of() {
  local common=(
    'USER 10001'
    'ENV PATH=/usr/local/bin:/usr/bin:/bin'
    'ENV HOME=/home/huntsman'
    'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt'
    'ENV RUST_LOG=info'
  )
  case "$1" in
    scheduler)
      printf '%s\n' "${common[@]}" \
        'ENV HUNTSMAN_SCHEDULER_BIND_HOST=0.0.0.0' \
        'EXPOSE 50050' \
        'WORKDIR /home/huntsman' \
        'ENTRYPOINT ["/usr/local/bin/huntsman-scheduler"]'
      ;;
    executor)
      printf '%s\n' "${common[@]}" \
        'ENV HUNTSMAN_EXECUTOR_BIND_HOST=0.0.0.0' \
        'ENV HUNTSMAN_EXECUTOR_WORK_DIR=/tmp/huntsman-executor' \
        'EXPOSE 50051 50052 50053' \
        'WORKDIR /home/huntsman' \
        'ENTRYPOINT ["/usr/local/bin/huntsman-executor"]'
      ;;
    client)
      printf '%s\n' "${common[@]}" \
        'WORKDIR /home/huntsman' \
        'ENTRYPOINT ["/usr/local/bin/huntsman"]' \
        'CMD ["--help"]'
      ;;
    garage)
      printf '%s\n' 'USER 10001' \
        'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
        'ENV GARAGE_CONFIG_FILE=/etc/garage.toml' \
        'ENV RUST_LOG=garage=info' \
        'EXPOSE 3900' \
        'VOLUME /var/lib/garage' \
        'WORKDIR /var/lib/garage' \
        'ENTRYPOINT ["/usr/local/bin/garage"]' \
        'CMD ["server", "--single-node", "--default-bucket"]'
      ;;
  esac
}

work="$(mktemp -d "${TMPDIR:-/tmp}/huntsman-images.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# Deterministic tar options: same files, same bytes, same hash.
tar_opts=(--sort=name --mtime=@0 --numeric-owner --format=gnu)

build_image() {
  local image="$1" bin root home tarball changes hash repo line owned
  bin="$(binary_of "$image")"
  root="$work/$image/root"
  home="$work/$image/home" # what belongs to the user 10001
  mkdir -p "$root" "$home"
  base_files "$root"
  case "$image" in
    garage)
      cp -L "$bin" "$root/usr/local/bin/garage"
      garage_config >"$root/etc/garage.toml"
      chmod 0644 "$root/etc/garage.toml"
      owned=(./var/lib/garage ./var/lib/garage/data ./var/lib/garage/meta)
      ;;
    *)
      cp -L "$bin" "$root/usr/local/bin/$(basename "$bin")"
      owned=(./home/huntsman)
      ;;
  esac
  chmod 0755 "$root/usr/local/bin/"*
  copy_libraries "$bin" "$root"
  tarball="$work/$image.tar"
  tar "${tar_opts[@]}" --owner=0 --group=0 -C "$root" -cf "$tarball" .
  # The user's own folders (their parents are root's, in the first archive).
  for line in "${owned[@]}"; do
    mkdir -p "$home/$line"
  done
  chmod 0750 "${owned[@]/#/$home/}"
  tar "${tar_opts[@]}" --owner=10001 --group=10001 --no-recursion -C "$home" \
    -cf "$work/$image.home.tar" "${owned[@]}"
  tar -A -f "$tarball" "$work/$image.home.tar"
  changes="$(changes_of "$image")"
  hash="$( (sha256sum <"$tarball" && echo "$changes") | sha256sum | cut -c1-12)"
  repo="huntsman/$image"
  if docker image inspect "$repo:$hash" >/dev/null 2>&1; then
    say "$repo:$hash is up to date"
  else
    local args=()
    while IFS= read -r line; do
      args+=(--change "$line")
    done <<<"$changes"
    docker import "${args[@]}" --message "huntsman $image from $(basename "$bin") ($profile)" \
      - "$repo:$hash" <"$tarball" >/dev/null
  fi
  if [[ "$tag" != "$hash" ]]; then
    docker tag "$repo:$hash" "$repo:$tag"
  fi
  built+=("$repo:$hash $repo:$tag $(du -h "$tarball" | cut -f1) from $bin")
}

built=()
for image in "${images[@]}"; do
  build_image "$image"
done
for line in "${built[@]}"; do
  echo "built $line"
done
