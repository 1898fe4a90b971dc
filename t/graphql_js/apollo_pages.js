#!/usr/bin/env node
'use strict';
/*
 * The module's cursor pages through a real client's pagination helper
 * (issue 14, item 2):
 *
 *   node apollo_pages.js URL
 *
 * Apollo Client, an InMemoryCache whose Query.pagesConnection field has
 * relayStylePagination(["where", "orderBy"]), and an HttpLink to URL.
 * For each case: the first page with `first`, then fetchMore({after:
 * endCursor}) until hasNextPage is false; the list the cache merged must
 * be the whole ordered list, fetched once with a plain
 * pagesConnection(first: 1000).  Then the same backwards: `last`, then
 * fetchMore({before: startCursor}) until hasPreviousPage is false.
 * Exits 1 at the first difference.
 */

const {
  ApolloClient, HttpLink, InMemoryCache, gql,
} = require('@apollo/client');
const { relayStylePagination } = require('@apollo/client/utilities');

const PAGES = gql`
  query Pages($first: Int, $after: String, $last: Int, $before: String,
              $orderBy: [PageOrderByInput!], $where: PageWhereInput) {
    pagesConnection(first: $first, after: $after, last: $last,
                    before: $before, orderBy: $orderBy, where: $where) {
      edges { cursor node { id score name } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      totalCount
    }
  }`;

const FULL = `
  query Full($orderBy: [PageOrderByInput!], $where: PageWhereInput) {
    pagesConnection(first: 1000, orderBy: $orderBy, where: $where) {
      edges { node { id } }
      pageInfo { hasNextPage }
    }
  }`;

const CASES = [
  { size: 7 },
  { size: 7, orderBy: [{ score: 'DESC' }, { name: 'ASC' }],
    where: { kind: { neq: 'B' } } },
  { size: 1, orderBy: [{ grp: 'ASC' }], where: { score: { gte: 8 } } },
  { size: 50, orderBy: { at: 'DESC' } },
];

function fail(msg) {
  console.error('FAIL ' + msg);
  process.exit(1);
}

function expectEqual(got, want, what) {
  const g = JSON.stringify(got);
  const w = JSON.stringify(want);
  if (g !== w) {
    fail(`${what}:\n  got  ${g}\n  want ${w}`);
  }
}

async function full(url, c) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: FULL,
                           variables: { orderBy: c.orderBy, where: c.where } }),
  });
  const body = await res.json();
  if (body.errors) {
    fail('full list: ' + JSON.stringify(body.errors));
  }
  const conn = body.data.pagesConnection;
  if (conn.pageInfo.hasNextPage) {
    fail('full list: more than 1000 rows');
  }
  return conn.edges.map((e) => e.node.id);
}

function client(url, counter) {
  return new ApolloClient({
    link: new HttpLink({
      uri: url,
      fetch: (...args) => { counter.n += 1; return fetch(...args); },
    }),
    cache: new InMemoryCache({
      typePolicies: {
        Query: {
          fields: {
            pagesConnection: relayStylePagination(['where', 'orderBy']),
          },
        },
      },
    }),
  });
}

/* The first answer of a watched query, kept subscribed for fetchMore. */
function watch(cl, variables) {
  const obs = cl.watchQuery({ query: PAGES, variables });
  return new Promise((resolve, reject) => {
    let done = false;
    const sub = obs.subscribe({
      next(r) {
        if (r.error) {
          reject(r.error);
        } else if (!done && r.data && r.dataState === 'complete') {
          done = true;
          resolve({ obs, sub });
        }
      },
      error: reject,
    });
  });
}

/* What the cache holds now for the watched query: every page merged
   (the observable's own result is updated a tick later). */
function merged(cl, variables) {
  const r = cl.readQuery({ query: PAGES, variables });
  if (!r) {
    fail('nothing in the cache for ' + JSON.stringify(variables));
  }
  return r.pagesConnection;
}

async function walk(url, c, want, forward) {
  const counter = { n: 0 };
  const cl = client(url, counter);
  const base = { orderBy: c.orderBy, where: c.where };
  const what = `${forward ? 'forward' : 'backward'} ${JSON.stringify(c)}`;
  const start = forward ? { ...base, first: c.size }
    : { ...base, last: c.size };
  const { obs, sub } = await watch(cl, start);
  let conn = merged(cl, start);
  let guard = 0;
  for (;;) {
    const more = forward ? conn.pageInfo.hasNextPage
      : conn.pageInfo.hasPreviousPage;
    if (!more) {
      break;
    }
    if (++guard > want.length + 1) {
      fail(what + ': the walk does not end');
    }
    const variables = forward ? { after: conn.pageInfo.endCursor }
      : { before: conn.pageInfo.startCursor };
    const r = await obs.fetchMore({ variables });
    if (r.error) {
      fail(`${what}: fetchMore: ${r.error}`);
    }
    conn = merged(cl, start);
  }
  const ids = conn.edges.map((e) => e.node.id);
  expectEqual(ids, want, what + ': the merged list');
  expectEqual(conn.totalCount, want.length, what + ': totalCount');
  const info = conn.pageInfo;
  expectEqual([info.hasPreviousPage, info.hasNextPage], [false, false],
              what + ': pageInfo at the end');
  if (want.length) {
    expectEqual([info.startCursor, info.endCursor],
                [conn.edges[0].cursor, conn.edges[conn.edges.length - 1]
                  .cursor], what + ': start and end cursors');
  }
  const pages = Math.max(1, Math.ceil(want.length / c.size));
  expectEqual(counter.n, pages, what + ': requests');
  sub.unsubscribe();
  cl.stop();
  console.log(`ok ${what}: ${ids.length} rows in ${counter.n} pages`);
}

async function main() {
  const url = process.argv[2];
  if (!url) {
    fail('usage: apollo_pages.js URL');
  }
  for (const c of CASES) {
    const want = await full(url, c);
    if (want.length < 10) {
      fail(`${JSON.stringify(c)}: only ${want.length} rows`);
    }
    await walk(url, c, want, true);
    await walk(url, c, want, false);
  }
}

main().catch((e) => fail(e && e.stack ? e.stack : String(e)));
