// dashboard.mjs drives the built-in page as a developer tool and a
// dashboard in Debian's headless Chromium (playwright-core), and prints
// what it saw as one JSON line. The Go test in ../ (TestDashboard) checks it.
//
//   node dashboard.mjs ECHO_PAGE_URL BROADCAST_PAGE_URL ARTIFACTS_DIR USER_DATA_DIR [CHROMIUM]
//
// On the echo server's page: JSON, hex and base64 sends and their echoes
// (sizes, round-trip times), a refused bad JSON, traffic that moves the
// charts, the log filter, screenshots at 1400 and 400 px wide, copying and
// clearing the log, a reconnection with an edited query and subprotocols,
// and the close it made in the closes-by-code table. On the broadcast
// server: two pages, one sends, the other's log names the sender; without
// the subprotocol the other gets the messages as they came.

import { chromium } from "playwright-core";

const [echoURL, broadcastURL, artifacts, userDataDir, executablePath = "/usr/bin/chromium"] = process.argv.slice(2);
const print = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
const timer = setTimeout(() => { print({ error: "dashboard scenario timed out after 150s" }); process.exit(1); }, 150000);

let context;
try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
  const pageErrors = [];
  const open = async (url) => {
    const page = await context.newPage();
    page.on("pageerror", (e) => pageErrors.push(String(e)));
    page.on("console", (m) => { if (m.type() === "error") pageErrors.push(m.text()); });
    page.setDefaultTimeout(30000);
    await page.goto(url);
    await page.waitForSelector('#status[data-state="open"]');
    await page.waitForSelector("#connections tr.you");
    return page;
  };
  const send = async (page, format, text) => {
    await page.selectOption("#format", format);
    await page.fill("#message", text);
    await page.click("#send");
  };
  const lastReceived = (page, n) => page.waitForFunction((n) => document.querySelectorAll("#log li.received").length >= n, n);
  const entries = (page, sel) => page.$$eval(sel, (lis) => lis.map((li) => ({
    text: li.querySelector(".m").textContent, meta: li.querySelector(".meta").textContent,
    kind: li.dataset.kind || "", size: Number(li.dataset.size || 0), from: (li.querySelector(".from") || {}).textContent || "",
    hidden: li.hidden,
  })));

  // --- echo: the developer tool ---
  const page = await open(echoURL);
  const url = await page.inputValue("#url");
  await send(page, "json", '{"b": [1, 2], "a": "x"}');
  await lastReceived(page, 1);
  await send(page, "hex", "00 01 ff");
  await lastReceived(page, 2);
  await send(page, "base64", "AAEC");
  await lastReceived(page, 3);
  await send(page, "json", "{not json");
  const sendError = await page.textContent("#send-error");
  const sentAfterBad = await page.$$eval("#log li.sent", (l) => l.length);

  // --- traffic moves the charts ---
  const before = await page.evaluate(() => document.getElementById("chart-msgs").toDataURL());
  await page.selectOption("#format", "text");
  for (let i = 0; i < 40; i++) {
    await page.fill("#message", "burst " + i);
    await page.click("#send");
  }
  await lastReceived(page, 43);
  await page.waitForFunction(() => Number(document.getElementById("chart-msgs").dataset.max) > 0 &&
    Number(document.getElementById("chart-bytes").dataset.max) > 0);
  const after = await page.evaluate(() => document.getElementById("chart-msgs").toDataURL());
  const chart = await page.evaluate(() => ({ ...document.getElementById("chart-msgs").dataset }));
  const received = await entries(page, "#log li.received");
  const sent = await entries(page, "#log li.sent");

  // --- the filter ---
  await page.fill("#filter", "burst 7");
  const filtered = (await entries(page, "#log li")).filter((e) => !e.hidden).map((e) => e.text);
  await page.fill("#filter", "");

  // --- screenshots at 1400 and 400 px ---
  await page.screenshot({ path: artifacts + "/dashboard-1400.png", fullPage: true });
  await page.setViewportSize({ width: 400, height: 900 });
  await page.waitForTimeout(300); // a resize redraws the charts on the next frame
  const overflow400 = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  await page.screenshot({ path: artifacts + "/dashboard-400.png", fullPage: true });
  const tiles = await page.$$eval(".tile b", (bs) => bs.map((b) => b.textContent));

  // --- copy (what is shown), clear ---
  await page.fill("#filter", "burst 7");
  await page.evaluate(() => { navigator.clipboard.writeText = async (t) => { window.copied = t; }; });
  await page.click("#copy");
  await page.waitForFunction(() => window.copied !== undefined);
  const copied = await page.evaluate(() => window.copied);
  await page.fill("#filter", "");
  await page.click("#clear");
  const afterClear = await page.$$eval("#log li", (l) => l.length);

  // --- an edited URL (its query) and subprotocols, and a close by code ---
  await page.click("#toggle"); // disconnects with 1000
  await page.waitForSelector('#status[data-state="closed"]');
  const edited = url + "&room=blue";
  await page.fill("#url", edited);
  await page.fill("#protocols", "chat.v1, chat.v2");
  await page.click("#toggle");
  await page.waitForSelector('#status[data-state="open"]');
  await page.waitForFunction(() => [...document.querySelectorAll("#connections tr.you td")].some((td) => (td.title || "").includes("room=blue")));
  const youTitle = await page.$eval("#connections tr.you td.ellipsis", (td) => td.title);
  const subInfo = await page.$$eval("#log li.info", (l) => l.map((li) => li.textContent).filter((t) => t.includes("room=blue")).join("\n"));
  await page.waitForFunction(() => [...document.querySelectorAll("#closes tr td:first-child")].some((td) => td.textContent === "1000"));
  const closes = await page.$$eval("#closes tr", (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));

  // --- broadcast: who sent each message ---
  const alice = await open(broadcastURL);
  const bob = await open(broadcastURL);
  const protocol = await bob.inputValue("#protocols");
  const aliceID = await alice.$eval("#connections tr.you", (tr) => Number(tr.dataset.id));
  await send(alice, "text", "hello from alice");
  await lastReceived(bob, 1);
  const bobGot = await entries(bob, "#log li.received");
  // Without the subprotocol bob gets the messages as they came.
  await bob.click("#toggle");
  await bob.waitForSelector('#status[data-state="closed"]');
  await bob.fill("#protocols", "");
  await bob.click("#toggle");
  await bob.waitForSelector('#status[data-state="open"]');
  await bob.waitForFunction(() => [...document.querySelectorAll("#log li.info")].some((li) => li.textContent.includes("connected to")));
  await bob.waitForFunction(() => document.querySelectorAll("#connections tr").length >= 2);
  await send(alice, "text", "plain to bob");
  await lastReceived(bob, 2);
  const bobPlain = (await entries(bob, "#log li.received"))[1];

  print({ url, sendError, sentAfterBad, before, after, chart, received, sent, filtered, overflow400, tiles,
    copied, afterClear, edited, youTitle, subInfo, closes, protocol, aliceID, bobGot, bobPlain, pageErrors });
  clearTimeout(timer);
} catch (e) {
  print({ error: String(e && e.stack || e) });
  process.exitCode = 1;
} finally {
  if (context) await context.close();
  clearTimeout(timer);
}
