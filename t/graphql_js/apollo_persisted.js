#!/usr/bin/env node
'use strict';
/*
 * Persisted documents through Apollo Client's own link (issue 18):
 *
 *   node apollo_persisted.js apq URL
 *   node apollo_persisted.js trusted URL MANIFEST
 *
 * apq: createPersistedQueryLink({sha256}) before an HttpLink to URL.  A
 * first client's query goes as its hash alone, is not found, goes again
 * with its text and is registered; a second client's goes as its hash
 * alone and is answered; a third, with useGETForHashedQueries, by GET.
 * trusted: the link's ids come from MANIFEST, the manifest made by
 * @apollo/generate-persisted-query-manifest from persisted/*.graphql
 * (generatePersistedQueryIdsFromManifest): every request is a hash alone.
 * Each request the link sends is recorded (method, whether it carried
 * the text, the error code); the script prints them as JSON and exits 1
 * when an answer is not the data expected.
 */

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const {
  ApolloClient, HttpLink, InMemoryCache, gql,
} = require('@apollo/client');
const {
  createPersistedQueryLink,
} = require('@apollo/client/link/persisted-queries');
const {
  generatePersistedQueryIdsFromManifest,
} = require('@apollo/persisted-query-lists');

const [mode, url, manifestPath] = process.argv.slice(2);

function doc(name) {
  return gql(fs.readFileSync(path.join(__dirname, 'persisted',
                                       name + '.graphql'), 'utf8'));
}

const THING = doc('thing');
const THINGS = doc('things');

function sha256(text) {
  return crypto.createHash('sha256').update(text).digest('hex');
}

/* fetch that notes what went and what came back */
function recorder(log) {
  return async (uri, options) => {
    const u = new URL(uri);
    let sent;
    if (options.method === 'GET') {
      sent = { query: u.searchParams.get('query'),
               extensions: JSON.parse(u.searchParams.get('extensions')
                                      || 'null') };
    } else {
      sent = JSON.parse(options.body);
    }
    const res = await fetch(uri, options);
    const text = await res.clone().text();
    let code = null;
    try {
      const body = JSON.parse(text);
      code = body.errors ? body.errors[0].extensions.code : null;
    } catch (e) {
      code = 'not JSON';
    }
    log.push({ method: options.method || 'POST', status: res.status,
               withText: Boolean(sent.query),
               hash: sent.extensions && sent.extensions.persistedQuery
                 ? sent.extensions.persistedQuery.sha256Hash : null,
               code });
    return res;
  };
}

function client(link, log) {
  return new ApolloClient({
    cache: new InMemoryCache(),
    link: link.concat(new HttpLink({ uri: url, fetch: recorder(log),
                                     fetchOptions: { method: 'POST' } })),
    defaultOptions: { query: { fetchPolicy: 'no-cache' } },
  });
}

function fail(msg, log) {
  console.error('FAIL ' + msg + '\n' + JSON.stringify(log));
  process.exit(1);
}

async function main() {
  const out = {};

  if (mode === 'apq') {
    for (const [name, opts] of [['first', {}], ['second', {}],
                                ['get', { useGETForHashedQueries: true }]]) {
      const log = [];
      const c = client(createPersistedQueryLink({ sha256, ...opts }), log);
      const id = { first: '1', second: '2', get: '3' }[name];
      const r = await c.query({ query: THING, variables: { id } });
      if (!r.data || !r.data.thing || String(r.data.thing.id) !== id) {
        fail(name + ': ' + JSON.stringify(r), log);
      }
      out[name] = log;
    }
  } else if (mode === 'trusted') {
    const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
    const log = [];
    const c = client(createPersistedQueryLink(
      generatePersistedQueryIdsFromManifest({ loadManifest: () => manifest }),
    ), log);
    const a = await c.query({ query: THING, variables: { id: '2' } });
    const b = await c.query({ query: THINGS, variables: { n: 3 } });
    if (String(a.data.thing.id) !== '2' || b.data.things.length !== 3) {
      fail('trusted: ' + JSON.stringify([a, b]), log);
    }
    out.trusted = log;
  } else {
    fail('mode: apq or trusted', []);
  }

  console.log(JSON.stringify(out));
}

main().catch((e) => fail(String(e && e.stack || e), []));
