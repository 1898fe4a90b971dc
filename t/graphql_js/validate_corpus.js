#!/usr/bin/env node
'use strict';
/*
 * Does the module agree with graphql-js on which documents are valid?
 *
 *   node validate_corpus.js URL [--corpus DIR] [--known FILE] [--sdl FILE]
 *                               [--only SUBSTRING] [--verbose] [--strict]
 *
 * For every corpus/*.graphql document:
 *
 *   graphql-js: parse + validate against the client schema built from the
 *     module's introspection answer when there is one, else against
 *     buildSchema of the SDL file plus the declarations the module
 *     generates (lib.js mirrors them).  Either way the module's scalars
 *     (DateTime, Date, UUID, Decimal, IpAddress, MacAddress, LTree,
 *     DateRange, Vector...) get the literal parsing docs/schema.md and
 *     src/core/fql_coerce.c give them (lib.js), as a graphql-js server
 *     implementing those scalars would: a client schema's custom scalars
 *     take any literal.
 *
 *   the module: the same document POSTed to URL, with operationName set
 *     to the first named operation when there are several, and the
 *     variables in <name>.json beside it when that file exists.  INVALID
 *     when an error has extensions.code GRAPHQL_PARSE_FAILED or
 *     GRAPHQL_VALIDATION_FAILED (whatever the status), BROKEN when there
 *     is no JSON answer or a 5xx, VALID otherwise (data, or errors of
 *     other codes: BAD_USER_INPUT for a variable's value, DATABASE_ERROR,
 *     an operation type the schema does not have...).
 *
 * A file's name says what graphql-js must decide: it ends in
 * "-valid-NN" or "-invalid-NN"; a name graphql-js contradicts is a corpus
 * error.
 *
 * Prints one JSON line per disagreement {file, graphqljs, module,
 * graphqljs_errors, module_errors, known} and a summary; exits 1 when a
 * disagreement is not listed in known_gaps.txt (one file name per line,
 * "#" comments) or a name is contradicted; with --strict also when a
 * listed file now agrees.
 */

const fs = require('fs');
const path = require('path');
const {
  parse, validate, validateSchema, Kind, GraphQLError,
} = require('graphql');
const lib = require('./lib');

const INVALID_CODES = new Set(['GRAPHQL_PARSE_FAILED',
                               'GRAPHQL_VALIDATION_FAILED']);

function graphqljsDecides(schema, text) {
  let doc;
  try {
    doc = parse(text);
  } catch (e) {
    if (e instanceof GraphQLError) {
      return { verdict: 'INVALID', errors: [e.message], doc: null };
    }
    throw e;
  }
  const errors = validate(schema, doc);
  return {
    verdict: errors.length ? 'INVALID' : 'VALID',
    errors: errors.map((e) => e.message),
    doc,
  };
}

function operationName(doc) {
  if (!doc) {
    return undefined;
  }
  const ops = doc.definitions.filter(
    (d) => d.kind === Kind.OPERATION_DEFINITION);
  if (ops.length < 2) {
    return undefined;
  }
  const named = ops.find((o) => o.name);
  return named ? named.name.value : undefined;
}

function classify(r) {
  if (r.error) {
    return { verdict: 'BROKEN', errors: [r.error] };
  }
  if (!r.json || typeof r.json !== 'object' || Array.isArray(r.json)) {
    return { verdict: 'BROKEN',
             errors: [`HTTP ${r.status}: ${r.body.slice(0, 200)}`] };
  }
  const errs = Array.isArray(r.json.errors) ? r.json.errors : [];
  const shown = errs.map((e) => {
    const code = e && e.extensions && e.extensions.code;
    return `${code || 'NO_CODE'}: ${e && e.message}`;
  });
  if (errs.some((e) => e && e.extensions
                       && INVALID_CODES.has(e.extensions.code))) {
    return { verdict: 'INVALID', errors: shown };
  }
  if (r.status >= 500) {
    return { verdict: 'BROKEN', errors: [`HTTP ${r.status}`, ...shown] };
  }
  return { verdict: 'VALID', errors: shown };
}

async function referenceSchema(url, sdlFile) {
  const got = await lib.introspect(url);
  if (got.schema) {
    const problems = validateSchema(got.schema);
    if (!problems.length) {
      return { schema: lib.withModuleScalars(got.schema),
               source: 'the module\'s introspection' };
    }
    got.error = 'the introspected schema is not valid: '
                + problems.map((e) => e.message).join('; ');
  }
  const schema = lib.withModuleScalars(
    lib.sdlSchema(lib.readSDL(sdlFile), true));
  return { schema,
           source: `${path.basename(sdlFile)} + generated declarations `
                   + `(introspection unavailable: ${got.error.slice(0, 160)})` };
}

async function main() {
  const args = lib.parseArgs(process.argv);
  if (!args.url) {
    lib.die('usage: validate_corpus.js URL [--corpus DIR] [--known FILE] '
            + '[--only SUBSTRING] [--verbose] [--strict]');
  }
  const corpus = path.resolve(args.corpus || path.join(__dirname, 'corpus'));
  const known = new Map([...lib.readList(path.resolve(
    args.known || path.join(__dirname, 'known_gaps.txt')))]
    .map(([k, c]) => [k.replace(/\.graphql$/, ''), c]));
  const ref = await referenceSchema(args.url, args.sdl);

  const files = fs.readdirSync(corpus)
    .filter((f) => f.endsWith('.graphql'))
    .filter((f) => !args.only || f.includes(args.only))
    .sort();
  if (!files.length) {
    lib.die(`no documents in ${corpus}`);
  }

  const results = [];
  for (const f of files) {
    const name = f.replace(/\.graphql$/, '');
    const text = fs.readFileSync(path.join(corpus, f), 'utf8');
    const m = /-(valid|invalid)-\d+$/.exec(name);
    const label = m ? m[1].toUpperCase() : null;
    const js = graphqljsDecides(ref.schema, text);

    const payload = { query: text };
    const op = operationName(js.doc);
    if (op !== undefined) {
      payload.operationName = op;
    }
    const varsFile = path.join(corpus, `${name}.json`);
    if (fs.existsSync(varsFile)) {
      payload.variables = JSON.parse(fs.readFileSync(varsFile, 'utf8'));
    }
    const r = await lib.post(args.url, payload);
    const mod = classify(r);

    results.push({ file: f, name, label, js, mod, status: r.status });
  }

  let agree = 0;
  const unknown = [];
  const knownHit = [];
  const labelErrors = [];
  const stale = [];
  const byCause = new Map();
  for (const x of results) {
    if (x.label !== x.js.verdict) {
      labelErrors.push(x);
      process.stdout.write(JSON.stringify({
        file: x.file, corpus_error: `the name says ${x.label || 'nothing'}`
          + `, graphql-js says ${x.js.verdict}`,
        graphqljs_errors: x.js.errors }) + '\n');
    }
    const ok = x.js.verdict === x.mod.verdict;
    const isKnown = known.has(x.name);
    if (ok) {
      agree++;
      if (isKnown) {
        stale.push(x.file);
      }
    } else {
      (isKnown ? knownHit : unknown).push(x);
      if (isKnown) {
        const c = known.get(x.name) || '(no cause given)';
        byCause.set(c, (byCause.get(c) || 0) + 1);
      }
      process.stdout.write(JSON.stringify({
        file: x.file,
        graphqljs: x.js.verdict,
        module: x.mod.verdict,
        graphqljs_errors: x.js.errors,
        module_errors: x.mod.errors,
        status: x.status,
        known: isKnown,
      }) + '\n');
    }
    if (args.verbose && ok) {
      process.stdout.write(JSON.stringify({
        file: x.file, agree: x.js.verdict, module_errors: x.mod.errors,
        status: x.status }) + '\n');
    }
  }

  const n = results.length;
  const out = [];
  out.push(`validate_corpus: graphql-js checked against ${ref.source}`);
  out.push(`validate_corpus: ${n} documents, ${agree} agree `
           + `(${(100 * agree / n).toFixed(1)}%), ${n - agree} disagree: `
           + `${knownHit.length} listed in known_gaps.txt, `
           + `${unknown.length} not listed`);
  for (const [c, k] of byCause) {
    out.push(`  known gap: ${k} x ${c}`);
  }
  if (unknown.length) {
    const names = unknown.map((x) => x.file);
    out.push(`validate_corpus: ${names.length} disagreement(s) not in `
             + `known_gaps.txt: ${names.slice(0, 40).join(' ')}`
             + (names.length > 40 ? ' ...' : ''));
  }
  if (labelErrors.length) {
    out.push(`validate_corpus: ${labelErrors.length} file name(s) contradicted `
             + 'by graphql-js: ' + labelErrors.map((x) => x.file).join(' '));
  }
  if (stale.length) {
    out.push(`validate_corpus: ${stale.length} file(s) in known_gaps.txt now `
             + 'agree (remove them): ' + stale.join(' '));
  }
  const missing = [...known.keys()].filter(
    (k) => !results.some((x) => x.name === k));
  if (missing.length && !args.only) {
    out.push('validate_corpus: known_gaps.txt names files that do not exist: '
             + missing.join(' '));
  }
  process.stderr.write(out.join('\n') + '\n');

  const fail = unknown.length || labelErrors.length
               || (args.strict && (stale.length || missing.length));
  process.exitCode = fail ? 1 : 0;
}

main().catch((e) => {
  process.stderr.write(`validate_corpus: ${e.stack || e}\n`);
  process.exitCode = 2;
});
