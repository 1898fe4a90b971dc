'use strict';
/*
 * Shared by schema_diff.js and validate_corpus.js: the schema file, the
 * declarations the module generates from it (mirrored here from
 * src/core/fql_schema.c and docs/schema.md), and the module's answer to
 * the standard introspection query.
 */

const fs = require('fs');
const path = require('path');
const {
  Kind,
  parse,
  buildSchema,
  buildClientSchema,
  getIntrospectionQuery,
  GraphQLError,
} = require('graphql');

const HERE = __dirname;
const DEFAULT_SDL = path.resolve(HERE, '..', 'schema.graphql');

/* the module's scalars besides the spec's, declared by nobody */
const MODULE_SCALARS = ['DateTime', 'Date', 'UUID', 'JSON'];
const SPEC_SCALARS = ['String', 'Int', 'Float', 'Boolean', 'ID'];

/* fql_operators[]: which scalars get the ordering operators */
const ORDERED = new Set(['String', 'Int', 'Float', 'DateTime', 'Date']);

/* the module's own directives of the schema language */
const MODULE_DIRECTIVES = `
directive @view(name: String!, schema: String) on OBJECT
directive @column(name: String) on FIELD_DEFINITION
`;

/* options that take a value, as --name=value or --name value */
const WITH_VALUE = new Set(['sdl', 'corpus', 'known', 'only']);

function parseArgs(argv) {
  const out = { url: process.env.FRAISEQL_URL || null, sdl: DEFAULT_SDL,
                rest: [] };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('--')) {
      const [k, v] = a.slice(2).split('=', 2);
      if (v !== undefined) {
        out[k] = v;
      } else if (WITH_VALUE.has(k) && i + 1 < argv.length) {
        out[k] = argv[++i];
      } else {
        out[k] = true;
      }
    } else if (!out.urlFromArgv) {
      out.url = a;
      out.urlFromArgv = true;
    } else {
      out.rest.push(a);
    }
  }
  return out;
}

function namedTypeName(typeNode) {
  while (typeNode.kind !== Kind.NAMED_TYPE) {
    typeNode = typeNode.type;
  }
  return typeNode.name.value;
}

/*
 * The SDL text the module sees, plus declarations of what the module
 * generates, so that graphql-js's buildSchema accepts it.
 *
 *   full = false: only what buildSchema needs (the built-in scalars the
 *                 file uses and does not declare, the module's directives,
 *                 and empty shells of the generated input types);
 *   full = true:  the generated types with every field, as
 *                 fql_sb_where_order() and fql_sb_filter_type() build them.
 */
function moduleSDL(sdlText, full) {
  const doc = parse(sdlText);
  const declared = new Set();
  const directives = new Set();
  const enums = new Set();
  for (const d of doc.definitions) {
    if (d.name && d.kind !== Kind.DIRECTIVE_DEFINITION) {
      declared.add(d.name.value);
    }
    if (d.kind === Kind.DIRECTIVE_DEFINITION) {
      directives.add(d.name.value);
    }
    if (d.kind === Kind.ENUM_TYPE_DEFINITION) {
      enums.add(d.name.value);
    }
  }

  const extra = [];
  for (const s of MODULE_SCALARS) {
    if (!declared.has(s)) {
      extra.push(`scalar ${s}`);
    }
  }
  if (!directives.has('view') && !directives.has('column')) {
    extra.push(MODULE_DIRECTIVES.trim());
  }
  if (!declared.has('OrderDirection')) {
    extra.push(full
      ? '"Sort direction: ascending (nulls last) or descending (nulls first)."\n'
        + 'enum OrderDirection { ASC DESC }'
      : 'enum OrderDirection { ASC DESC }');
  }

  const scalarLike = new Set([...SPEC_SCALARS, ...MODULE_SCALARS]);
  for (const d of doc.definitions) {
    if (d.kind === Kind.SCALAR_TYPE_DEFINITION
        || d.kind === Kind.ENUM_TYPE_DEFINITION) {
      scalarLike.add(d.name.value);
    }
  }

  const filters = new Map();   /* scalar name -> SDL of <Scalar>Filter */
  for (const d of doc.definitions) {
    if (d.kind !== Kind.OBJECT_TYPE_DEFINITION
        || !(d.directives || []).some((x) => x.name.value === 'view')) {
      continue;
    }
    const t = d.name.value;
    const where = [];
    const order = [];
    for (const f of d.fields || []) {
      /* lists (nullable or not) are left out; so are object fields */
      let ft = f.type;
      if (ft.kind === Kind.NON_NULL_TYPE) {
        ft = ft.type;
      }
      if (ft.kind === Kind.LIST_TYPE) {
        continue;
      }
      const n = namedTypeName(ft);
      if (!scalarLike.has(n)) {
        continue;
      }
      where.push(`  ${f.name.value}: ${n}Filter`);
      order.push(`  ${f.name.value}: OrderDirection`);
      if (!filters.has(n)) {
        /* the rows of fql_operators[] (src/core/fql_schema.c), in order */
        const ops = [`  eq: ${n}`, `  neq: ${n}`, `  in: [${n}!]`,
                     `  nin: [${n}!]`, `  notin: [${n}!]`];
        if (ORDERED.has(n)) {
          ops.push(`  gt: ${n}`, `  gte: ${n}`, `  lt: ${n}`, `  lte: ${n}`);
        }
        ops.push('  isnull: Boolean');
        if (n === 'String') {
          for (const op of ['contains', 'icontains', 'startswith',
                            'istartswith', 'endswith', 'iendswith', 'like',
                            'ilike', 'matches', 'imatches', 'not_matches']) {
            ops.push(`  ${op}: String`);
          }
        }
        filters.set(n, `"${n} comparison operators."\ninput ${n}Filter {\n`
                       + ops.join('\n') + '\n}');
      }
    }
    where.push(`  AND: [${t}WhereInput!]`, `  OR: [${t}WhereInput!]`,
               `  NOT: ${t}WhereInput`);
    if (full) {
      extra.push(`"${t} filter."\ninput ${t}WhereInput {\n`
                 + where.join('\n') + '\n}');
      if (order.length) {
        extra.push(`"${t} ordering."\ninput ${t}OrderByInput {\n`
                   + order.join('\n') + '\n}');
      } else {
        extra.push(`"${t} ordering."\ninput ${t}OrderByInput`);
      }
    } else {
      extra.push(`input ${t}WhereInput`, `input ${t}OrderByInput`);
    }
  }
  if (full) {
    for (const f of filters.values()) {
      extra.push(f);
    }
  }

  return sdlText + '\n\n# --- generated by the module (mirrored in '
         + 'graphql_js/lib.js) ---\n' + extra.join('\n\n') + '\n';
}

/* names of the types moduleSDL(…, true) adds */
function generatedTypeNames(sdlText) {
  const base = new Set(parse(sdlText).definitions
    .filter((d) => d.name).map((d) => d.name.value));
  return parse(moduleSDL(sdlText, true)).definitions
    .filter((d) => d.name && d.kind !== Kind.DIRECTIVE_DEFINITION
            && !base.has(d.name.value))
    .map((d) => d.name.value);
}

function sdlSchema(sdlText, full) {
  return buildSchema(moduleSDL(sdlText, full));
}

/*
 * The module's built-in scalars, as a graphql-js server implementing them
 * would parse literals (docs/schema.md: "An ISO 8601 date and time",
 * "An ISO 8601 calendar date", "A UUID in its canonical text form", "Any
 * JSON value").  A client schema's custom scalars accept any literal,
 * which would make every malformed literal look valid.
 */
const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
const DATETIME_RE =
  /^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}(:?\d{2})?)?)?$/;
const UUID_RE =
  /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

function stringScalar(name, re, what) {
  return {
    parseValue(v) {
      if (typeof v !== 'string' || !re.test(v)) {
        throw new GraphQLError(`${name} cannot represent ${JSON.stringify(v)}: `
                               + `${what} is expected`);
      }
      return v;
    },
    parseLiteral(ast) {
      if (ast.kind !== Kind.STRING || !re.test(ast.value)) {
        throw new GraphQLError(`${name} cannot represent a non-${what} `
                               + 'value', { nodes: ast });
      }
      return ast.value;
    },
  };
}

const SCALAR_IMPL = {
  DateTime: stringScalar('DateTime', DATETIME_RE, 'ISO 8601 date-time'),
  Date: stringScalar('Date', DATE_RE, 'YYYY-MM-DD date'),
  UUID: stringScalar('UUID', UUID_RE, 'UUID'),
};

function withModuleScalars(schema) {
  for (const [name, impl] of Object.entries(SCALAR_IMPL)) {
    const t = schema.getType(name);
    if (t && t.constructor.name === 'GraphQLScalarType') {
      t.parseValue = impl.parseValue;
      t.parseLiteral = impl.parseLiteral;
    }
  }
  return schema;
}

const INTROSPECTION_QUERY = getIntrospectionQuery({
  descriptions: true,
  specifiedByUrl: false,
  directiveIsRepeatable: true,
  schemaDescription: true,
  inputValueDeprecation: true,
});

const ACCEPT = 'application/graphql-response+json, application/json;q=0.9';

/* POST one GraphQL request; never throws: {status, contentType, body, json, error} */
async function post(url, payload, timeoutMs = 30000) {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  try {
    const r = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: ACCEPT },
      body: JSON.stringify(payload),
      signal: ac.signal,
    });
    const body = await r.text();
    let json = null;
    try {
      json = JSON.parse(body);
    } catch (e) {
      json = null;
    }
    return { status: r.status, contentType: r.headers.get('content-type'),
             body, json, error: null };
  } catch (e) {
    return { status: 0, contentType: null, body: '', json: null,
             error: String(e && e.cause ? `${e.message}: ${e.cause}` : e) };
  } finally {
    clearTimeout(timer);
  }
}

/* the module's introspection answer: {schema} or {error, response} */
async function introspect(url) {
  const r = await post(url, { query: INTROSPECTION_QUERY,
                              operationName: 'IntrospectionQuery' });
  if (r.error) {
    return { error: `request failed: ${r.error}` };
  }
  if (!r.json || typeof r.json !== 'object') {
    return { error: `HTTP ${r.status}, not JSON: ${r.body.slice(0, 300)}` };
  }
  if (r.json.errors && r.json.errors.length) {
    return { error: `HTTP ${r.status}, errors: `
                    + JSON.stringify(r.json.errors).slice(0, 600) };
  }
  if (!r.json.data || !r.json.data.__schema) {
    return { error: `HTTP ${r.status}, no data.__schema: `
                    + r.body.slice(0, 300) };
  }
  try {
    return { schema: buildClientSchema(r.json.data), data: r.json.data };
  } catch (e) {
    return { error: `buildClientSchema: ${e.message}`, data: r.json.data };
  }
}

/*
 * A list file: one name per line, "#" comments.  Returns a Map of each
 * name to its cause: the first line of the comment block above it.
 */
function readList(file) {
  const out = new Map();
  if (!fs.existsSync(file)) {
    return out;
  }
  let cause = null;
  let inComment = false;
  for (const raw of fs.readFileSync(file, 'utf8').split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#')) {
      const text = line.replace(/^#+\s*/, '');
      if (!inComment && text) {
        cause = text;
      }
      inComment = true;
      continue;
    }
    inComment = false;
    const name = line.replace(/\s+#.*$/, '').trim();
    if (name) {
      out.set(name, cause);
    }
  }
  return out;
}

function readSDL(file) {
  return fs.readFileSync(file, 'utf8');
}

function die(msg) {
  process.stderr.write(msg + '\n');
  process.exit(2);
}

module.exports = {
  DEFAULT_SDL,
  MODULE_SCALARS,
  INTROSPECTION_QUERY,
  parseArgs,
  moduleSDL,
  generatedTypeNames,
  sdlSchema,
  withModuleScalars,
  post,
  introspect,
  readList,
  readSDL,
  die,
};
