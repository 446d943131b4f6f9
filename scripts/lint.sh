#!/usr/bin/env bash
# lint.sh - formatting, banned functions, cppcheck and clang-tidy over src/, tests/, fuzz/ and
# bench/.  Needs a configured build/ (for compile_commands.json).
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
files=$(git ls-files --cached --others --exclude-standard '*.c' '*.h' 2>/dev/null || find src tests fuzz bench -name '*.[ch]')

echo "lint: clang-format" >&2
if ! clang-format --dry-run -Werror $files; then
  status=1
fi

echo "lint: banned functions" >&2
if grep -nE '\b(sprintf|vsprintf|strcpy|strcat|strtok|atoi|atol|gets)\s*\(' $files; then
  echo "lint: banned function used (see docs/development.md)" >&2
  status=1
fi

echo "lint: cppcheck" >&2
if ! cppcheck --quiet --error-exitcode=1 --std=c11 --enable=warning,portability \
     --inline-suppr --suppress=missingIncludeSystem -I src src; then
  status=1
fi

echo "lint: clang-tidy" >&2
if [ ! -f build/compile_commands.json ]; then
  echo "lint: no build/compile_commands.json; run scripts/build.sh first" >&2
  exit 1
fi
srcs=$(git ls-files --cached --others --exclude-standard 'src/*.c' 2>/dev/null || find src -name '*.c')
found=$(clang-tidy -p build --quiet $srcs 2>/dev/null | grep -E 'warning:|error:' || true)
if [ -n "$found" ]; then
  echo "$found"
  status=1
fi
exit $status
