#!/usr/bin/env node
// Renders ZPL to PNG with zpl-renderer-js (a WebAssembly build of the Zebrash renderer),
// an implementation independent of ours, so the tests can decode what a printer would print.
//
// Input (stdin): a JSON array of jobs {"zpl": "...", "widthMm": 101.6, "heightMm": 152.4,
// "dpmm": 8, "out": "/path/label.png"}. Loading the 8 MB WASM takes a while, so one process
// renders all jobs. Output (stdout): a JSON array with {"out": ..., "ok": true} or
// {"out": ..., "ok": false, "error": "..."} per job. Exit status 0 when every job rendered.
"use strict";
const fs = require("node:fs");
const { ready } = require("zpl-renderer-js");

async function main() {
  const jobs = JSON.parse(fs.readFileSync(0, "utf8"));
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
