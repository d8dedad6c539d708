// crossorigin.mjs loads a page from one origin in Debian's headless Chromium
// (driven by playwright-core) and has it open a WebSocket to a URL of
// another origin, as a hostile site would. It prints one JSON line: whether
// the socket opened, and the close code the page saw. The Go test in ../
// drives it.
//
//   node crossorigin.mjs PAGE_URL WS_URL USER_DATA_DIR [CHROMIUM]

import { chromium } from "playwright-core";

const [pageURL, wsURL, userDataDir, executablePath = "/usr/bin/chromium"] = process.argv.slice(2);
const print = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

const timer = setTimeout(() => { print({ error: "cross-origin scenario timed out after 120s" }); process.exit(1); }, 120000);

let context;
try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
  const page = context.pages()[0] || (await context.newPage());
  page.setDefaultTimeout(30000);
  await page.goto(pageURL);
  const origin = await page.evaluate(() => location.origin);
  const result = await page.evaluate((url) => new Promise((resolve) => {
    const ws = new WebSocket(url);
    let opened = false;
    const done = setTimeout(() => resolve({ opened, code: -1, note: "no close within 20s" }), 20000);
    ws.onopen = () => { opened = true; ws.close(1000); };
    ws.onclose = (e) => { clearTimeout(done); resolve({ opened, code: e.code }); };
  }), wsURL);
  print({ origin, ...result });
} catch (e) {
  print({ error: String(e && e.stack || e) });
  process.exitCode = 1;
} finally {
  clearTimeout(timer);
  if (context) await context.close();
}
