// browser.mjs loads wsserver's built-in page in Debian's headless Chromium
// (driven by playwright-core; no downloaded browser), sends a message, waits
// for its echo and for the connection list, saves a screenshot, disconnects,
// and prints the result as one JSON line. The Go test in ../ drives it.
//
//   node browser.mjs PAGE_URL SCREENSHOT USER_DATA_DIR [CHROMIUM [SPKI_PIN]]
//
// For an https:// page, SPKI_PIN is the base64 SHA-256 of the server
// certificate's SubjectPublicKeyInfo: Chromium then accepts that certificate
// (whose CA it does not know), and only that one, through
// --ignore-certificate-errors-spki-list (honoured because a user-data dir is
// given), for the page and its wss:// connections alike.

import { chromium } from "playwright-core";

const [pageURL, screenshot, userDataDir, executablePath = "/usr/bin/chromium", spkiPin] = process.argv.slice(2);
const print = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

const timer = setTimeout(() => { print({ error: "browser scenario timed out after 120s" }); process.exit(1); }, 120000);

let context;
try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    viewport: { width: 1100, height: 720 },
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
      ...(spkiPin ? [`--ignore-certificate-errors-spki-list=${spkiPin}`] : []),
    ],
  });
  const page = context.pages()[0] || (await context.newPage());
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") pageErrors.push(m.text()); });
  page.setDefaultTimeout(30000);
  // The URLs of the WebSockets the page opens (its own and the /events feed).
  const sockets = [];
  page.on("websocket", (ws) => sockets.push(ws.url()));

  await page.goto(pageURL);
  const protocol = await page.evaluate(() => location.protocol);
  await page.waitForSelector('#status[data-state="open"]');
  const mode = (await page.textContent("#mode")).trim();
  // The list shows this page's own connection, marked, once the feed says so.
  await page.waitForSelector("#connections tr.you");

  const text = "hello from chromium ✓";
  await page.fill("#message", text);
  await page.click("#send");
  await page.waitForFunction(
    (t) => [...document.querySelectorAll("#log li.received .m")].some((e) => e.textContent === t), text);
  const received = await page.$$eval("#log li.received .m", (els) => els.map((e) => e.textContent));
  const sent = await page.$$eval("#log li.sent .m", (els) => els.map((e) => e.textContent));
  // The counters of this page's row catch up with the echo.
  await page.waitForFunction(() => {
    const row = document.querySelector("#connections tr.you");
    return row && row.children[3].textContent === "1" && row.children[4].textContent === "1";
  });
  const rows = await page.$$eval("#connections tr", (trs) => trs.map((tr) => ({
    id: Number(tr.dataset.id),
    you: tr.classList.contains("you"),
    cells: [...tr.children].map((td) => td.textContent),
  })));
  const status = await page.textContent("#status-text");
  await page.screenshot({ path: screenshot, fullPage: true });

  await page.click("#toggle");
  await page.waitForSelector('#status[data-state="closed"]');
  const closedStatus = await page.textContent("#status-text");

  print({ protocol, sockets, mode, sent, received, rows, status, closedStatus, pageErrors });
  clearTimeout(timer);
} catch (e) {
  print({ error: String(e && e.stack || e) });
  process.exitCode = 1;
} finally {
  if (context) await context.close();
  clearTimeout(timer);
}
