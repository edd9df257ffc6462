#!/usr/bin/env bash
# Native leak and memory-error check: runs scripts/leakcheck/exercise.ts (compiled to dist/) under valgrind and fails
# when a loss record or a memory error involves the addon (smartscope.node) or the libraries it drives (Aravis).
# Node itself frees little at exit ("still reachable"); only definite/indirect losses and invalid accesses count.
#   bash scripts/leakcheck-native.sh            (npm run leakcheck:native)
#   LEAKCHECK_ROUNDS=10 bash scripts/leakcheck-native.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "leakcheck: valgrind is not installed (scripts/bootstrap --test installs it)" >&2; exit 2; }
node scripts/build-native.mjs
npx tsc -p tsconfig.json
log=$(mktemp /tmp/smartscope-leakcheck.XXXXXX)
trap 'rm -f "$log"' EXIT
echo "leakcheck: running the exercise under valgrind (a few minutes)"
set +e
# --jitless: V8's generated code makes valgrind slow and noisy, and the addon is what is under test.
valgrind --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
  --num-callers=40 --log-file="$log" node --jitless dist/scripts/leakcheck/exercise.js
status=$?
set -e
python3 - "$log" "$status" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
blocks = re.split(r"\n==\d+== \n", text)
ours = re.compile(r"smartscope\.node|libaravis")
errors = [b for b in blocks if re.search(r"Invalid (read|write|free)|uninitialised|Mismatched free", b) and ours.search(b)]
leaks = [b for b in blocks if re.search(r"are (definitely|indirectly) lost", b) and ours.search(b)]
def total(kind):
    m = re.search(kind + r": ([\d,]+) bytes in ([\d,]+) blocks", text)
    return m.group(1) + " bytes in " + m.group(2) + " blocks" if m else "n/a"
addon_bytes = sum(int(re.search(r"([\d,]+)(?: \([\d,]+ direct, [\d,]+ indirect\))? bytes in", b).group(1).replace(",", "")) for b in leaks)
print(f"leakcheck: whole process: definitely lost {total('definitely lost')}, indirectly lost {total('indirectly lost')}")
print(f"leakcheck: addon/Aravis: {len(leaks)} loss records ({addon_bytes} bytes), {len(errors)} memory errors")
for b in (errors + leaks)[:10]:
    print(b)
if int(sys.argv[2]) != 0:
    print(f"leakcheck: the exercise exited with {sys.argv[2]}")
sys.exit(1 if errors or leaks or int(sys.argv[2]) != 0 else 0)
PY
