"""The page at `/`: one tile per stream (its MJPEG, its source and a readout refreshed from /status.json).
Plain HTML, CSS and a few lines of JS inline: no external resources (the server may have no internet)."""
from __future__ import annotations

from html import escape

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>CenterNet Live</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ margin: 0; background: #16181d; color: #d8dde6; font: 14px system-ui, sans-serif; }}
header {{ padding: 8px 14px; background: #20242c; display: flex; gap: 18px; align-items: baseline; }}
header b {{ font-size: 16px; }}
#model {{ color: #9aa4b4; }}
main {{ display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, {min_width}px), 1fr));
        gap: 10px; padding: 10px; }}
.tile {{ background: #20242c; border-radius: 6px; overflow: hidden; }}
.tile img {{ width: 100%; display: block; background: #000; aspect-ratio: 16 / 9; object-fit: contain; }}
.caption {{ padding: 6px 10px; display: flex; justify-content: space-between; gap: 10px; }}
.source {{ font-weight: 600; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }}
.status {{ color: #7fd67f; }} .status.stalled, .status.connecting {{ color: #e6c35c; }}
.status.failed, .status.ended {{ color: #e67a7a; }}
.readout {{ padding: 0 10px 8px; color: #9aa4b4; font-variant-numeric: tabular-nums; }}
</style></head>
<body>
<header><b>CenterNet Live</b><span id="model">model loading…</span></header>
<main>
{tiles}
</main>
<script>
function fmt(v, unit) {{ return v === null || v === undefined ? "-" : v.toFixed(1) + unit; }}
async function refresh() {{
  try {{
    const s = await (await fetch("/status.json", {{cache: "no-store"}})).json();
    if (s.model.name) document.getElementById("model").textContent =
      s.model.name + " · " + s.model.engine + " · " + fmt(s.model.latency_ms, " ms") + "/frame";
    for (const t of s.streams) {{
      const tile = document.getElementById("tile-" + t.index);
      if (!tile) continue;
      const status = tile.querySelector(".status");
      status.textContent = t.status + (t.reconnects ? " · " + t.reconnects + " reconnects" : "");
      status.className = "status " + t.status;
      tile.querySelector(".readout").textContent = "display " + fmt(t.display_fps, " fps") +
        " · inference " + fmt(t.inference_fps, " fps") + " · overlay age " + fmt(t.overlay_age_ms, " ms") +
        " · dropped " + t.dropped;
    }}
  }} catch (e) {{ document.getElementById("model").textContent = "server not answering"; }}
}}
refresh(); setInterval(refresh, 1000);
</script>
</body></html>
"""

TILE = """<section class="tile" id="tile-{index}">
<img src="/stream/{index}.mjpg" alt="stream {index}: {source}">
<div class="caption"><span class="source" title="{source}">[{index}] {source}</span><span class="status">connecting</span></div>
<div class="readout">-</div>
</section>"""


def page_html(sources: list[str]) -> str:
    """The page for these sources (index i: the i-th); one column for one stream, a grid for more."""
    tiles = "\n".join(TILE.format(index=i, source=escape(str(s))) for i, s in enumerate(sources))
    return PAGE.format(tiles=tiles, min_width=960 if len(sources) == 1 else 420)
