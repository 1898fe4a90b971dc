#!/usr/bin/env node
'use strict';
/*
 * The GraphQL-over-HTTP audits of graphql-http against the module.
 *
 *   node audit.js URL [--known FILE] [--json] [--strict]
 *
 * Runs every audit of graphql-http's serverAudits() (with Node's global
 * fetch) against URL and prints its id, status (ok, notice, warn, error),
 * name and, when it did not pass, the reason and what the server said.
 * Exits 1 when a MUST audit fails and its id is not listed in
 * known_audit_gaps.txt (one id per line, "#" comments); SHOULD and MAY
 * audits are reported, never fatal.  With --strict a listed id that now
 * passes fails too.
 */

const path = require('path');
const { serverAudits } = require('graphql-http');
const lib = require('./lib');

async function responseText(res) {
  if (!res || typeof res.text !== 'function') {
    return '';
  }
  try {
    const body = await res.clone().text();
    return `HTTP ${res.status} ${res.headers.get('content-type') || '-'}: `
           + body.replace(/\s+/g, ' ').slice(0, 240);
  } catch (e) {
    return `HTTP ${res.status}`;
  }
}

async function main() {
  const args = lib.parseArgs(process.argv);
  if (!args.url) {
    lib.die('usage: audit.js URL [--known FILE] [--json] [--strict]');
  }
  const known = lib.readList(path.resolve(
    args.known || path.join(__dirname, 'known_audit_gaps.txt')));

  const audits = serverAudits({ url: args.url, fetchFn: fetch });
  const results = [];
  for (const audit of audits) {
    let r;
    try {
      r = await audit.fn();
    } catch (e) {
      r = { id: audit.id, name: audit.name, status: 'error',
            reason: `the audit threw: ${e && e.message ? e.message : e}` };
    }
    const level = audit.name.split(' ', 1)[0];
    const got = r.status === 'ok' ? '' : await responseText(r.response);
    results.push({ id: audit.id, level, name: audit.name, status: r.status,
                   reason: r.status === 'ok' ? null : r.reason,
                   response: got || null });
  }

  const tally = {};
  const fatal = [];
  const stale = [];
  for (const x of results) {
    const k = `${x.level} ${x.status === 'ok' ? 'ok' : 'failed'}`;
    tally[k] = (tally[k] || 0) + 1;
    x.known = known.has(x.id);
    if (x.level === 'MUST' && x.status !== 'ok' && !x.known) {
      fatal.push(x);
    }
    if (x.status === 'ok' && x.known) {
      stale.push(x.id);
    }
    if (args.json) {
      process.stdout.write(JSON.stringify(x) + '\n');
      continue;
    }
    const mark = x.status !== 'ok' && x.known ? ' (known gap)' : '';
    process.stdout.write(`${x.status.padEnd(6)} ${x.id}  ${x.name}${mark}\n`);
    if (x.status !== 'ok') {
      process.stdout.write(`         reason: ${x.reason}\n`);
      if (x.response) {
        process.stdout.write(`         got: ${x.response}\n`);
      }
    }
  }

  const levels = ['MUST', 'SHOULD', 'MAY'];
  const out = [`audit: ${results.length} audits of graphql-http against `
               + `${args.url}`];
  for (const l of levels) {
    const ok = tally[`${l} ok`] || 0;
    const bad = tally[`${l} failed`] || 0;
    if (ok + bad) {
      out.push(`audit: ${l}: ${ok} ok, ${bad} failed`);
    }
  }
  const knownFailing = results.filter(
    (x) => x.level === 'MUST' && x.status !== 'ok' && x.known);
  if (knownFailing.length) {
    out.push(`audit: ${knownFailing.length} failing MUST audit(s) listed in `
             + 'known_audit_gaps.txt');
  }
  if (fatal.length) {
    out.push('audit: MUST audits failing and not listed in '
             + `known_audit_gaps.txt: ${fatal.map((x) => x.id).join(' ')}`);
  }
  if (stale.length) {
    out.push(`audit: listed in known_audit_gaps.txt but passing now (remove `
             + `them): ${stale.join(' ')}`);
  }
  const unknownIds = [...known.keys()].filter(
    (id) => !results.some((x) => x.id === id));
  if (unknownIds.length) {
    out.push('audit: known_audit_gaps.txt lists ids no audit has: '
             + unknownIds.join(' '));
  }
  process.stderr.write(out.join('\n') + '\n');
  process.exitCode = fatal.length || (args.strict && stale.length) ? 1 : 0;
}

main().catch((e) => {
  process.stderr.write(`audit: ${e.stack || e}\n`);
  process.exitCode = 2;
});
