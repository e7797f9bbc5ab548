"""The independent ZPL renderer (render.js) itself, on the Node.js that Debian 12 ships.

Debian 12's own Node.js is 18.x, which has no global ``crypto`` (Web Crypto became a global in
Node 19); the renderer's Go WASM loader refuses to start without ``crypto.getRandomValues``.
This test takes the global away before render.js runs, as on Node 18, so it fails on any Node if
render.js stops providing it, not only on a Debian 12 machine.

Expected value: the Code 128 example of the ^BC command in Zebra's ZPL II Programming Guide
(45541L-004 Rev. A, "This is an example of a Code 128 bar code": ``^XA^FO100,100^BY3
^BCN,100,Y,N,N^FD123456^FS^XZ``), which encodes 123456.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from doc_read import ZPL_RENDER_DIR, zbar

ZPL = "^XA^FO100,100^BY3^BCN,100,Y,N,N^FD123456^FS^XZ"

NO_GLOBAL_CRYPTO = """\
// As on Node.js 18: no Web Crypto on globalThis.
Object.defineProperty(globalThis, "crypto", {value: undefined, configurable: true, writable: true});
if (globalThis.crypto !== undefined) throw new Error("could not remove globalThis.crypto");
"""


def test_renderer_renders_without_a_global_web_crypto(zpl_renderer, tmp_path: Path) -> None:
    preload = tmp_path / "no_global_crypto.js"
    preload.write_text(NO_GLOBAL_CRYPTO, encoding="utf-8")
    out = tmp_path / "bc.png"
    job = [{"zpl": ZPL, "widthMm": 101.6, "heightMm": 50.8, "dpmm": 8, "out": str(out)}]
    proc = subprocess.run(
        [zpl_renderer.node, "--require", str(preload), str(ZPL_RENDER_DIR / "render.js")],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ZPL_RENDER_DIR,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout) == [{"out": str(out), "ok": True}]
    assert [(s.type, s.data) for s in zbar(out)] == [("CODE-128", "123456")]
