#!/bin/sh
# make setup's Python: $PYTHON if set, else the first of python3, python3.13, python3.12, python3.11 that is
# Python 3.11 to 3.13 (what requirements.txt has wheels for). Prints its path and version in one line on stderr
# and the path on stdout; one line naming what it found where there is none.
supported='import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))'
for candidate in ${PYTHON:-python3 python3.13 python3.12 python3.11}; do
    if "$candidate" -c "$supported" 2>/dev/null; then
        path=$(command -v "$candidate")
        echo "make setup: $path ($("$candidate" --version 2>&1))" >&2
        echo "$path"
        exit 0
    fi
done
asked=${PYTHON:-python3}
found=$("$asked" --version 2>/dev/null) || found="not found"
echo "make setup: needs Python 3.11, 3.12 or 3.13 ($asked: $found); install one (python.org, Homebrew, apt) or name it: make setup PYTHON=/path/to/python3.12" >&2
exit 1
