#!/usr/bin/env bash
# scripts/format.sh -- lays out every C source and header of ours with
# clang-format (.clang-format at the root).
#
#   scripts/format.sh            rewrites the files that differ, names them
#   scripts/format.sh --check    changes nothing: names the files that differ
#                                (with a count of lines) and exits 1 if any does
#
# "Ours" is every *.c and *.h that git tracks (build/ and generated code are
# not tracked). Needs clang-format (scripts/deps.sh --test installs it).
set -uo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO" || exit 1

usage() {
    echo "usage: $0 [--check]" >&2
    exit 2
}

main() {
    local check=0 file differ=0 lines
    case "${1:-}" in
        "") ;;
        --check) check=1 ;;
        *) usage ;;
    esac
    [ $# -le 1 ] || usage
    if ! command -v clang-format >/dev/null; then
        echo "format: clang-format is missing (scripts/deps.sh --test installs it)" >&2
        return 2
    fi
    while IFS= read -r -d '' file; do
        lines="$(clang-format --style=file "$file" | diff "$file" - | grep -c '^>')"
        [ "$lines" -eq 0 ] && continue
        differ=$((differ + 1))
        if [ "$check" = 1 ]; then
            echo "$file: $lines lines differ"
        else
            clang-format --style=file -i "$file" && echo "formatted $file"
        fi
    done < <(git ls-files -z '*.c' '*.h')
    if [ "$check" = 1 ] && [ "$differ" -gt 0 ]; then
        echo "format: $differ files differ from .clang-format (scripts/format.sh rewrites them)"
        return 1
    fi
    return 0
}

main "$@"
