// A page of one origin calls a fraiseql location of another from headless
// chromium: the browser itself sends the preflight and decides whether
// the script may read the answer.
//
//   node cors.js PAGE_URL ENDPOINT
//
// For each request, prints what the script got: {status, body} when the
// browser let it read the answer, {error} when it did not.

'use strict';

const puppeteer = require('puppeteer-core');

const [pageUrl, endpoint] = process.argv.slice(2);

async function main() {
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
           '--no-first-run', '--disable-extensions'],
  });

  try {
    const page = await browser.newPage();
    await page.goto(pageUrl, { waitUntil: 'load', timeout: 20000 });

    return await page.evaluate(async (url) => {
      async function ask(init) {
        try {
          const r = await fetch(url, init);
          return { status: r.status, body: await r.json() };
        } catch (e) {
          return { error: String(e) };
        }
      }

      const query = JSON.stringify({ query: '{ things(limit: 1) { id } }' });
      return {
        // application/json and Authorization: a preflight first
        post: await ask({
          method: 'POST', body: query,
          headers: { 'Content-Type': 'application/json',
                     'Authorization': 'Bearer not-checked-here' },
        }),
        // a header the location does not allow: the preflight fails
        other_header: await ask({
          method: 'POST', body: query,
          headers: { 'Content-Type': 'application/json',
                     'X-Not-Allowed': '1' },
        }),
        // a simple request (no preflight), answered 400
        get_error: await ask({ method: 'GET' }),
      };
    }, endpoint);
  } finally {
    await browser.close();
  }
}

main().then((out) => {
  console.log(JSON.stringify(out));
}, (e) => {
  console.log(JSON.stringify({ failed: String(e && e.stack || e) }));
  process.exit(1);
});
