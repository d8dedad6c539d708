// client.mjs runs one scenario against a WebSocket echo server with the ws
// client and prints what happened as JSON lines on stdout; the last line is
// the result. The Go tests in ../ drive it and compare the results.
//
//   node client.mjs URL SCENARIO [CA_FILE]
//
// For a wss:// URL, CA_FILE is the PEM certificate of the CA to trust
// instead of Node's built-in list (the ca option): the server's chain and
// name are verified as usual (rejectUnauthorized stays true).
//
// Scenarios: text, binary, fragmented, large, deflate, ping, close,
// await-close (prints {"open":true}, then the close the server sends).

import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import WebSocket from "ws";

const [url, scenario, caFile] = process.argv.slice(2);
const tlsOptions = caFile ? { ca: readFileSync(caFile) } : {};
const print = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
const sha256 = (buf) => createHash("sha256").update(buf).digest("hex");

// pattern returns n deterministic bytes that do not compress well.
function pattern(n) {
  const b = Buffer.alloc(n);
  let x = 2463534242;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

function open(options = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 64 << 20, ...tlsOptions, ...options });
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
  });
}

// next resolves with the next message as {binary, data}.
function next(ws) {
  return new Promise((resolve, reject) => {
    const onClose = (code, reason) => reject(new Error(`closed ${code} ${reason}`));
    ws.once("close", onClose);
    ws.once("message", (data, isBinary) => {
      ws.off("close", onClose);
      resolve({ binary: isBinary, data: Buffer.isBuffer(data) ? data : Buffer.concat(data) });
    });
  });
}

function closed(ws) {
  return new Promise((resolve) => ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() })));
}

async function bye(ws) {
  const done = closed(ws);
  ws.close(1000, "done");
  return done;
}

const scenarios = {
  async text() {
    const ws = await open();
    const sent = "hello, wsserver ✓ мир";
    ws.send(sent);
    const m = await next(ws);
    await bye(ws);
    return { sent, binary: m.binary, received: m.data.toString("utf8") };
  },

  async binary() {
    const ws = await open();
    const sent = Buffer.from(Array.from({ length: 1024 }, (_, i) => i % 256));
    ws.send(sent);
    const m = await next(ws);
    await bye(ws);
    return { binary: m.binary, length: m.data.length, equal: m.data.equals(sent) };
  },

  // One text message in three frames, with "✓" (3 bytes) split across the
  // last two, and one binary message in two frames.
  async fragmented() {
    const ws = await open();
    const text = Buffer.from("frag-ment-ed ✓", "utf8");
    const cut = text.length - 2;
    ws.send(text.subarray(0, 5), { binary: false, fin: false });
    ws.send(text.subarray(5, cut), { binary: false, fin: false });
    ws.send(text.subarray(cut), { binary: false, fin: true });
    const t = await next(ws);
    const bin = pattern(1000);
    ws.send(bin.subarray(0, 600), { binary: true, fin: false });
    ws.send(bin.subarray(600), { binary: true, fin: true });
    const b = await next(ws);
    await bye(ws);
    return {
      text: t.data.toString("utf8"), textBinary: t.binary,
      binaryEqual: b.data.equals(bin), binaryBinary: b.binary,
    };
  },

  async large() {
    const ws = await open();
    const sent = pattern(16 << 20);
    ws.send(sent);
    const m = await next(ws);
    await bye(ws);
    return { length: m.data.length, binary: m.binary, sentSha256: sha256(sent), receivedSha256: sha256(m.data) };
  },

  async deflate() {
    const ws = await open({ perMessageDeflate: { threshold: 0 } });
    const big = "compress me please; ".repeat(50000);
    const msgs = ["a", "small text", big, "after the big one"];
    const got = [];
    for (const s of msgs) {
      ws.send(s);
      got.push((await next(ws)).data.toString("utf8"));
    }
    await bye(ws);
    return { extensions: ws.extensions, allEqual: got.every((g, i) => g === msgs[i]), count: got.length };
  },

  async ping() {
    const ws = await open();
    const pong = new Promise((resolve) => ws.once("pong", (data) => resolve(data.toString())));
    ws.ping(Buffer.from("probe"));
    const payload = await pong;
    // Messages still flow after the ping.
    ws.send("after ping");
    const m = await next(ws);
    await bye(ws);
    return { pong: payload, after: m.data.toString() };
  },

  async close() {
    const results = [];
    for (const [code, reason] of [[1000, "normal"], [4000, "custom bye"], [3001, ""]]) {
      const ws = await open();
      const done = closed(ws);
      ws.close(code, reason);
      results.push({ sent: code, ...(await done) });
    }
    return { closes: results };
  },

  async "await-close"() {
    const ws = await open();
    const done = closed(ws);
    ws.send("ready?");
    await next(ws);
    print({ open: true });
    return await done;
  },
};

const timer = setTimeout(() => { print({ error: "scenario timed out after 90s" }); process.exit(1); }, 90000);
try {
  const run = scenarios[scenario];
  if (!run) throw new Error(`unknown scenario ${scenario}`);
  print(await run());
  clearTimeout(timer);
} catch (e) {
  print({ error: String(e && e.stack || e) });
  process.exit(1);
}
