"""Reads meson's testlog.json of each build and prints failures with their
output, then the one closing line "N passed, N failed" that CI reads."""

import json
import sys


def main(paths):
    passed = failed = skipped = 0
    failures = []
    for path in paths:
        try:
            lines = open(path).read().splitlines()
        except OSError as e:
            print(f"test summary: cannot read {path}: {e}")
            failed += 1
            continue
        for line in lines:
            if not line.strip():
                continue
            r = json.loads(line)
            result = r.get("result")
            if result in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif result == "SKIP":
                skipped += 1
            else:
                failed += 1
                failures.append((path, r))
    for path, r in failures:
        print(f"\n=== FAILED: {r.get('name')} ({path}): {r.get('result')}")
        out = (r.get("stdout") or "") + (r.get("stderr") or "")
        print(out[-4000:])
    tail = f", {skipped} skipped" if skipped else ""
    print(f"{passed} passed, {failed} failed{tail}")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
