// Opens the GraphiQL page of a fraiseql location in headless chromium,
// as a user would: the schema loads (introspection through the page's
// fetcher, then the documentation explorer lists the root types), a query
// is put in the editor and run, and the result pane shows its data.
//
//   node graphiql.js URL QUERY
//
// Prints one JSON object: {introspected, docs, result, violations,
// errors}; exits 1 when a step fails.  With introspection refused, the
// page shows the refusal (shown) and a query still runs.

'use strict';

const puppeteer = require('puppeteer-core');

const [url, query] = process.argv.slice(2);
const STEP = 20000;

async function main() {
  const out = { violations: [], errors: [] };
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
           '--no-first-run', '--disable-extensions'],
  });

  try {
    const page = await browser.newPage();

    // what the page's Content-Security-Policy refused, and script errors
    await page.evaluateOnNewDocument(() => {
      document.addEventListener('securitypolicyviolation', (e) => {
        console.error('CSP violation: ' + e.violatedDirective + ' '
                      + e.blockedURI);
      });
    });
    page.on('console', (m) => {
      if (m.type() === 'error') {
        out.errors.push(m.text());
        if (m.text().startsWith('CSP violation')) {
          out.violations.push(m.text());
        }
      }
    });
    page.on('pageerror', (e) => out.errors.push(String(e)));

    const introspection = page.waitForResponse(
      (r) => r.request().method() === 'POST'
             && (r.request().postData() || '').includes('__schema'),
      { timeout: STEP });

    const nav = await page.goto(url, { waitUntil: 'load', timeout: STEP });
    out.status = nav.status();

    const res = await introspection;
    const body = await res.json();
    out.introspected = !!(body.data && body.data.__schema);

    // the schema, as the documentation explorer shows it; without it
    // (introspection off), what the page says
    if (out.introspected) {
      await page.waitForSelector(
        'button[aria-label="Show Documentation Explorer"]',
        { timeout: STEP });
      await page.click('button[aria-label="Show Documentation Explorer"]');
      await page.waitForFunction(() => {
        const d = document.querySelector('.graphiql-doc-explorer');
        return d && d.textContent.includes('Query');
      }, { timeout: STEP });
      out.docs = await page.$eval('.graphiql-doc-explorer',
                                  (d) => d.textContent.slice(0, 200));
    } else {
      out.introspection_errors = body.errors;
      await page.waitForFunction(() => {
        const e = document.querySelector('.graphiql-response .CodeMirror');
        return e && e.CodeMirror.getValue().includes('errors');
      }, { timeout: STEP });
      out.shown = await page.$eval('.graphiql-response .CodeMirror',
                                   (e) => e.CodeMirror.getValue());
    }

    // the query in the editor, run with the execute button
    await page.waitForSelector('.graphiql-query-editor .CodeMirror',
                               { timeout: STEP });
    await page.$eval('.graphiql-query-editor .CodeMirror',
                     (e, q) => e.CodeMirror.setValue(q), query);
    await page.click('.graphiql-execute-button');

    await page.waitForFunction(() => {
      const e = document.querySelector('.graphiql-response .CodeMirror');
      return e && e.CodeMirror.getValue().includes('"data"');
    }, { timeout: STEP });
    out.result = JSON.parse(await page.$eval(
      '.graphiql-response .CodeMirror', (e) => e.CodeMirror.getValue()));
  } finally {
    await browser.close();
  }

  return out;
}

main().then((out) => {
  console.log(JSON.stringify(out));
}, (e) => {
  console.log(JSON.stringify({ failed: String(e && e.stack || e) }));
  process.exit(1);
});
