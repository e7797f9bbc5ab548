#!/usr/bin/env node
// Renders ZPL to PNG with zpl-renderer-js (a WebAssembly build of the Zebrash renderer),
// an implementation independent of ours, so the tests can decode what a printer would print.
//
// Input (stdin): a JSON array of jobs {"zpl": "...", "widthMm": 101.6, "heightMm": 152.4,
// "dpmm": 8, "out": "/path/label.png"}. Loading the 8 MB WASM takes a while, so one process
// renders all jobs. Output (stdout): a JSON array with {"out": ..., "ok": true} or
// {"out": ..., "ok": false, "error": "..."} per job. Exit status 0 when every job rendered.
//
// Node.js 18 (Debian 12's own) has Web Crypto only as require("node:crypto").webcrypto; the
// global `crypto` came in Node 19. The renderer's Go WASM loader needs crypto.getRandomValues
// on globalThis and refuses to load without it, so it gets the same Web Crypto object here (this
// is what Go's own wasm_exec_node.js does). On Node >= 19 the global is already there.
"use strict";
const fs = require("node:fs");

if (!globalThis.crypto) {
  globalThis.crypto = require("node:crypto").webcrypto;
}

async function main() {
  const jobs = JSON.parse(fs.readFileSync(0, "utf8"));
  // Required here, not at the top: a load failure then goes through the catch below, which
  // prints the error and its stack only (Node would print the 8 MB minified line it came from).
  const { ready } = require("zpl-renderer-js");
  const { api } = await ready;
  const results = [];
  for (const job of jobs) {
    try {
      const b64 = await api.zplToBase64Async(job.zpl, job.widthMm, job.heightMm, job.dpmm);
      fs.writeFileSync(job.out, Buffer.from(b64, "base64"));
      results.push({ out: job.out, ok: true });
    } catch (err) {
      results.push({ out: job.out, ok: false, error: String(err && err.message ? err.message : err) });
    }
  }
  process.stdout.write(JSON.stringify(results));
  process.exit(results.every((r) => r.ok) ? 0 : 1);
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err) + "\n");
  process.exit(2);
});
