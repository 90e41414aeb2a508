"""Writes .dvc/plots-offline.html, the page `dvc plots show` and `dvc plots diff` fill (`plots.html_template`
in .dvc/config): Vega, Vega-Lite and vega-embed inlined from their npm builds, so that every chart draws with
no network (dvc-render's own page loads them from a CDN). `make plots-template` runs it after `npm pack`:

    python tools/offline_plots.py DIR   # DIR holds the unpacked tarballs vega/, vega-lite/, vega-embed/
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / ".dvc" / "plots-offline.html"
BUILDS = {"vega": "vega.min.js", "vega-lite": "vega-lite.min.js", "vega-embed": "vega-embed.min.js"}
"""Each package's UMD build: a classic script, so it defines ``vegaEmbed`` before dvc-render's inline calls."""
PLACEHOLDERS = ("{plot_divs}", "{scripts}", "{refresh_tag}")

PAGE = """<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
{refresh_tag}
<title>starrec: dvc plots</title>
<!-- {versions}: BSD-3-Clause (plots-offline.LICENSE), inlined by `make plots-template` to draw offline -->
{inlined}
<style>
body { font-family: sans-serif; }
table { border-spacing: 15px; }
</style>
</head>
<body>
{plot_divs}
</body>
</html>
"""


def script(package_dir: Path, build: str) -> str:
    """The build as an inline ``<script>``, without its source-map comment; refuses text that would end it."""
    code = (package_dir / "build" / build).read_text(encoding="utf-8")
    code = re.sub(r"\n//# sourceMappingURL=\S+\s*$", "\n", code)
    if "</script" in code.lower() or any(placeholder in code for placeholder in PLACEHOLDERS):
        raise SystemExit(f"{build}: holds '</script' or a dvc-render placeholder; it cannot be inlined")
    return f"<script>\n{code}</script>"


def main(unpacked: Path) -> None:
    versions, scripts = [], []
    for package, build in BUILDS.items():
        package_dir = unpacked / package
        version = json.loads((package_dir / "package.json").read_text(encoding="utf-8"))["version"]
        versions.append(f"{package} {version}")
        scripts.append(script(package_dir, build))
    page = PAGE.replace("{versions}", ", ".join(versions)).replace("{inlined}", "\n".join(scripts))
    TEMPLATE.write_text(page, encoding="utf-8")
    print(f"{TEMPLATE.relative_to(ROOT)}: {', '.join(versions)} ({len(page) // 1024} KiB)")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
