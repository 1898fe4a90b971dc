#!/usr/bin/env node
'use strict';
/*
 * Batches through Apollo Client's BatchHttpLink (issue 18):
 *
 *   node apollo_batch.js URL MAX [COUNT]
 *
 * Queries made at once go in one HTTP request (batchMax MAX, the
 * module's fraiseql_batch): their answers come back each to its own
 * query, in order, one failing (an unknown id's variable of the wrong
 * type) without failing the others.  Prints, as JSON, the bodies the link
 * sent (how many operations each) and what each query got.
 */

const {
  ApolloClient, InMemoryCache, gql,
} = require('@apollo/client');
const { BatchHttpLink } = require('@apollo/client/link/batch-http');

const [url, max, count] = process.argv.slice(2);

const THING = gql`query Thing($id: ID!) { thing(id: $id) { id name } }`;

async function main() {
  const sent = [];
  const link = new BatchHttpLink({
    uri: url,
    batchMax: Number(max),
    batchInterval: 50,
    fetch: async (uri, options) => {
      sent.push(JSON.parse(options.body).length);
      return fetch(uri, options);
    },
  });
  const client = new ApolloClient({
    cache: new InMemoryCache(),
    link,
    defaultOptions: { query: { fetchPolicy: 'no-cache', errorPolicy: 'all' } },
  });
  const ids = ['3', '1', 'not-an-int', '2', '4', '5', '1', '2']
    .slice(0, Number(count || 4));
  const got = await Promise.all(ids.map(
    (id) => client.query({ query: THING, variables: { id } }).then(
      (r) => ({ id: r.data && r.data.thing ? String(r.data.thing.id) : null,
                error: r.error ? String(r.error.message) : null }),
      (e) => ({ id: null, error: String(e.message) }),
    ),
  ));
  console.log(JSON.stringify({ sent, got }));
}

main().catch((e) => { console.error(String(e && e.stack || e)); process.exit(1); });
