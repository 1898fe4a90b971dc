'use strict';
/*
 * Shared by schema_diff.js and validate_corpus.js: the schema file, the
 * declarations the module generates from it (mirrored here from
 * src/core/fql_schema.c and docs/schema.md), and the module's answer to
 * the standard introspection query.
 */

const fs = require('fs');
const net = require('net');
const path = require('path');
const {
  Kind,
  parse,
  print,
  visit,
  buildSchema,
  buildClientSchema,
  getIntrospectionQuery,
  GraphQLError,
} = require('graphql');

const HERE = __dirname;
const DEFAULT_SDL = path.resolve(HERE, '..', 'schema.graphql');

/* the module's scalars besides the spec's, declared by nobody */
const MODULE_SCALARS = ['DateTime', 'Date', 'UUID', 'JSON', 'Decimal',
                        'IpAddress', 'MacAddress', 'LTree', 'DateRange',
                        'TSVector', 'Vector', 'Point'];
const SPEC_SCALARS = ['String', 'Int', 'Float', 'Boolean', 'ID'];

/*
 * fql_operators[] (src/core/fql_schema.c), row by row and in its order:
 * the operator's name, the scalars it applies to (a predicate on the
 * field's scalar kind: the scalar's name, 'ENUM' for an enum, 'JSON' for
 * a scalar the SDL declares, LIST_KIND for a list of scalars or enums)
 * and the type of its value (fql_op_value_t, FQL_OPV_*).
 */
const LIST_KIND = '[list]';
const ALL = (k) => k !== LIST_KIND && k !== 'Point';    /* FQL_ALL_SCALARS */
const ANY = () => true;
const only = (...kinds) => (k) => kinds.includes(k);
const ORDERED = only('String', 'Int', 'Float', 'Decimal', 'DateTime',
                     'Date');
const TEXT = only('String');
const INET = only('IpAddress');
const RANGE = only('DateRange');
const LTREE = only('LTree');
const TSV = only('TSVector');
const JSONB = only('JSON');
const LISTS = only(LIST_KIND);

const OPERATORS = [
  ['eq', ALL, 'SAME'], ['neq', ALL, 'SAME'], ['in', ALL, 'LIST'],
  ['nin', ALL, 'LIST'], ['notin', ALL, 'LIST'],
  ['gt', ORDERED, 'SAME'], ['gte', ORDERED, 'SAME'], ['lt', ORDERED, 'SAME'],
  ['lte', ORDERED, 'SAME'],
  ['isnull', ANY, 'BOOLEAN'],
  ...['contains', 'icontains', 'startswith', 'istartswith', 'endswith',
      'iendswith', 'like', 'ilike', 'matches', 'imatches', 'not_matches']
    .map((n) => [n, TEXT, 'SAME']),
  ...['insubnet', 'inrange', 'overlaps', 'strictleft', 'strictright']
    .map((n) => [n, INET, 'SAME']),
  ...['isprivate', 'ispublic', 'isipv4', 'isipv6']
    .map((n) => [n, INET, 'BOOLEAN']),
  ['contains_date', RANGE, 'DATE'],
  ...['overlaps', 'adjacent', 'strictly_left', 'strictly_right', 'not_left',
      'not_right'].map((n) => [n, RANGE, 'SAME']),
  ['ancestor_of', LTREE, 'SAME'], ['descendant_of', LTREE, 'SAME'],
  ['matches_lquery', LTREE, 'STRING'], ['matches_ltxtquery', LTREE, 'STRING'],
  ['matches_any_lquery', LTREE, 'STRING_LIST'],
  ...['depth_eq', 'depth_neq', 'depth_gt', 'depth_gte', 'depth_lt',
      'depth_lte'].map((n) => [n, LTREE, 'INT']),
  ...['matches', 'plain_query', 'phrase_query', 'websearch_query']
    .map((n) => [n, TSV, 'STRING']),
  ['rank_gt', TSV, 'TextRankInput'], ['rank_lt', TSV, 'TextRankInput'],
  ['contains', JSONB, 'SAME'], ['overlaps', JSONB, 'STRING_LIST'],
  ['strictly_contains', JSONB, 'SAME'], ['has_key', JSONB, 'STRING'],
  ...['cosine_distance', 'l2_distance', 'l1_distance']
    .map((n) => [n, only('Vector'), 'VectorDistanceInput']),
  ['distance_within', only('Point'), 'PointDistanceInput'],
  ...['eq', 'neq', 'contains', 'contained_by', 'overlaps']
    .map((n) => [n, LISTS, 'LIST']),
  ...['len_eq', 'len_neq', 'len_gt', 'len_gte', 'len_lt', 'len_lte']
    .map((n) => [n, LISTS, 'INT']),
  ['any_eq', LISTS, 'SAME'], ['all_eq', LISTS, 'SAME'],
];

/* fql_op_inputs[]: the input objects some operators take */
const OP_INPUTS = {
  TextRankInput: '"Rank of the document for a text search query, above or '
    + 'below a threshold."\ninput TextRankInput { query: String! '
    + 'threshold: Float! }',
  VectorDistanceInput: '"Distance to a vector, under a threshold."\n'
    + 'input VectorDistanceInput { vector: [Float!]! threshold: Float! }',
  PointDistanceInput: '"A circle on the Earth: centre and radius in '
    + 'metres."\ninput PointDistanceInput { lat: Float! lng: Float! '
    + 'meters: Float! }',
};

/* the type of an operator's value for a field of type t (FQL_OPV_*) */
function operatorValueType(value, t) {
  switch (value) {
    case 'SAME': return t;
    case 'LIST': return `[${t}!]`;
    case 'BOOLEAN': return 'Boolean';
    case 'INT': return 'Int';
    case 'STRING': return 'String';
    case 'STRING_LIST': return '[String!]';
    case 'DATE': return 'Date';
    default: return value;      /* FQL_OPV_INPUT: the input object */
  }
}

/* the module's own directives of the schema language */
const MODULE_DIRECTIVES = `
directive @view(name: String!, schema: String) on OBJECT
directive @function(name: String!, schema: String) on FIELD_DEFINITION
directive @column(name: String) on FIELD_DEFINITION
directive @json(key: String!) on FIELD_DEFINITION | INPUT_FIELD_DEFINITION
directive @fromClaim(pointer: String!) on ARGUMENT_DEFINITION
directive @role(name: String!, inherits: [String!]) repeatable on SCHEMA
directive @authenticated on OBJECT | FIELD_DEFINITION
directive @auth(roles: [String!], permissions: [String!], scopes: [[String!]!]) on OBJECT | FIELD_DEFINITION
directive @rowFilter(roles: [String!]!, where: String!) repeatable on OBJECT
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
 *                 fql_sb_where_order() and fql_sb_filter_type() build them:
 *                 XWhereInput and XOrderByInput for every @view type and
 *                 every object type its fields reach, <S>Filter for each
 *                 scalar or enum S a where input uses, <S>ArrayFilter for
 *                 lists of them, the input objects of fql_op_inputs[].
 */
function moduleSDL(sdlText, full) {
  /* arguments bound from claims are not the client's: the module hides
   * them (fql_sb_claim_args) */
  const doc = visit(parse(sdlText), {
    InputValueDefinition(node) {
      return (node.directives || []).some(
        (d) => d.name.value === 'fromClaim') ? null : undefined;
    },
  });
  sdlText = print(doc);
  const declared = new Set();
  const directives = new Set();
  const objects = new Map();    /* object type name -> definition */
  for (const d of doc.definitions) {
    if (d.name && d.kind !== Kind.DIRECTIVE_DEFINITION) {
      declared.add(d.name.value);
    }
    if (d.kind === Kind.DIRECTIVE_DEFINITION) {
      directives.add(d.name.value);
    }
    if (d.kind === Kind.OBJECT_TYPE_DEFINITION) {
      objects.set(d.name.value, d);
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

  /*
   * The kind of a scalar or enum as fql_operators[] sees it: built-in
   * scalars are themselves, enums ENUM, scalars the SDL declares JSON
   * (fql_sb_declare() gives them FQL_SCALAR_JSON); null for the rest.
   */
  const kinds = new Map();
  for (const s of [...SPEC_SCALARS, ...MODULE_SCALARS]) {
    kinds.set(s, s);
  }
  for (const d of doc.definitions) {
    if (d.kind === Kind.SCALAR_TYPE_DEFINITION && !kinds.has(d.name.value)) {
      kinds.set(d.name.value, 'JSON');
    }
    if (d.kind === Kind.ENUM_TYPE_DEFINITION) {
      kinds.set(d.name.value, 'ENUM');
    }
  }

  const generated = [];         /* where and order inputs, in order */
  const filters = new Map();    /* filter name -> its SDL */
  const inputs = new Set();     /* fql_op_inputs[] the filters use */

  const filterType = (n, array) => {
    const name = `${n}${array ? 'ArrayFilter' : 'Filter'}`;
    if (filters.has(name)) {
      return name;
    }
    const kind = array ? LIST_KIND : kinds.get(n);
    const ops = [];
    for (const [op, applies, value] of OPERATORS) {
      if (!applies(kind)) {
        continue;
      }
      const vt = operatorValueType(value, n);
      if (OP_INPUTS[vt]) {
        inputs.add(vt);
      }
      ops.push(`  ${op}: ${vt}`);
    }
    filters.set(name, `"${n} ${array ? 'list' : 'comparison'} operators."\n`
                      + `input ${name} {\n${ops.join('\n')}\n}`);
    return name;
  };

  const done = new Set();
  const whereOrder = (d) => {
    const t = d.name.value;
    if (done.has(t)) {
      return;
    }
    /* first: a type may reach itself through its object fields */
    done.add(t);
    const where = [];
    const order = [];
    const text = [];
    for (const f of d.fields || []) {
      let ft = f.type;
      if (ft.kind === Kind.NON_NULL_TYPE) {
        ft = ft.type;
      }
      let array = false;
      if (ft.kind === Kind.LIST_TYPE) {
        /* a list of scalars or enums filters as a list; others not */
        ft = ft.type;
        if (ft.kind === Kind.NON_NULL_TYPE) {
          ft = ft.type;
        }
        if (ft.kind !== Kind.NAMED_TYPE || !kinds.has(ft.name.value)) {
          continue;
        }
        array = true;
      }
      const n = ft.name.value;
      const fn = f.name.value;
      if (objects.has(n)) {
        /* nested objects filter and order through their JSON */
        whereOrder(objects.get(n));
        where.push(`  ${fn}: ${n}WhereInput`);
        order.push(`  ${fn}: ${n}OrderByInput`);
      } else if (kinds.has(n)) {
        where.push(`  ${fn}: ${filterType(n, array)}`);
        /* lists do not sort; neither do points */
        if (!array && kinds.get(n) !== 'Point') {
          order.push(`  ${fn}: OrderDirection`);
        }
      }
    }
    where.push(`  AND: [${t}WhereInput!]`, `  OR: [${t}WhereInput!]`,
               `  NOT: ${t}WhereInput`);
    text.push(`"${t} filter."\ninput ${t}WhereInput {\n`
              + `${where.join('\n')}\n}`);
    text.push(order.length
      ? `"${t} ordering."\ninput ${t}OrderByInput {\n${order.join('\n')}\n}`
      : `"${t} ordering."\ninput ${t}OrderByInput`);
    generated.push(...text);
  };

  for (const d of objects.values()) {
    if (!(d.directives || []).some((x) => x.name.value === 'view')) {
      continue;
    }
    if (full) {
      whereOrder(d);
    } else {
      extra.push(`input ${d.name.value}WhereInput`,
                 `input ${d.name.value}OrderByInput`);
    }
  }
  if (full) {
    extra.push(...generated, ...filters.values());
    for (const name of inputs) {
      extra.push(OP_INPUTS[name]);
    }
  }
  extra.push(...pagesSDL(doc, objects, declared, kinds));

  return sdlText + '\n\n# --- generated by the module (mirrored in '
         + 'graphql_js/lib.js) ---\n' + extra.join('\n\n') + '\n';
}

/*
 * XConnection and XAggregate of @view types the file names, with the
 * types they use, as src/core/fql_schema_gen.c writes them.
 */
function pagesSDL(doc, objects, declared, kinds) {
  const named = new Set();
  visit(doc, { NamedType(node) { named.add(node.name.value); } });
  const isView = (n) => objects.has(n)
    && (objects.get(n).directives || []).some((x) => x.name.value === 'view');
  const out = [];
  let pageInfo = declared.has('PageInfo');
  for (const name of named) {
    if (declared.has(name)) {
      continue;
    }
    const m = /^(.+)(Connection|Aggregate)$/.exec(name);
    if (!m || !isView(m[1])) {
      continue;
    }
    const x = m[1];
    if (m[2] === 'Connection') {
      out.push(`"${x}: a page of rows, as the Relay Cursor Connections `
        + `specification describes."\ntype ${x}Connection {\n`
        + `  "The page's rows, each with its cursor."\n  edges: [${x}Edge!]!\n`
        + `  "The page's rows, without cursors."\n  nodes: [${x}!]!\n`
        + `  "Where the page stands in the whole list."\n  pageInfo: PageInfo!\n`
        + `  "How many rows the filter matches, cursors aside."\n`
        + `  totalCount: Int!\n}`,
        `"A row of a page of ${x}, and its cursor."\ntype ${x}Edge {\n`
        + `  "The row's position: pass it as after or before."\n`
        + `  cursor: String!\n  node: ${x}!\n}`);
      if (!pageInfo) {
        pageInfo = true;
        out.push('"Where a page stands in the whole list (Relay Cursor '
          + 'Connections)."\ntype PageInfo {\n'
          + '  "Rows follow the page."\n  hasNextPage: Boolean!\n'
          + '  "Rows come before the page."\n  hasPreviousPage: Boolean!\n'
          + '  "The first edge\'s cursor; null for an empty page."\n'
          + '  startCursor: String\n'
          + '  "The last edge\'s cursor; null for an empty page."\n'
          + '  endCursor: String\n}');
      }
      continue;
    }
    /* what fql_gen_field_use() makes of each field */
    const fields = [];
    for (const f of objects.get(x).fields || []) {
      let ft = f.type;
      if (ft.kind === Kind.NON_NULL_TYPE) {
        ft = ft.type;
      }
      const fn = f.name.value;
      if (ft.kind !== Kind.NAMED_TYPE || fn === 'id') {
        continue;
      }
      const tn = ft.name.value;
      const k = kinds.get(tn);
      let use = 0;
      if (['Int', 'Float', 'Decimal'].includes(k)) {
        use = 3;
      } else if (['DateTime', 'Date'].includes(k)) {
        use = 2;
      } else if (['String', 'Boolean', 'ENUM'].includes(k)
                 && !['true', 'false', 'null'].includes(fn)) {
        use = 4;
      }
      fields.push({ fn, tn, use });
    }
    const uses = fields.reduce((a, f) => a | f.use, 0);
    const aggs = () => '  "How many rows."\n  count: Int!\n'
      + (uses & 1 ? `  sum: ${x}SumFields\n  avg: ${x}AvgFields\n` : '')
      + (uses & 2 ? `  min: ${x}MinFields\n  max: ${x}MaxFields\n` : '');
    const obj = (suffix, what, use, sum) =>
      `"${what} ${x}'s rows (null when none has a value)."\n`
      + `type ${x}${suffix} {\n`
      + fields.filter((f) => f.use & use).map((f) =>
        `  ${f.fn}: ${sum && f.tn !== 'Decimal' ? 'Float' : f.tn}\n`).join('')
      + '}';
    out.push(`"${x}: counts and aggregates of the rows a filter matches."\n`
      + `type ${x}Aggregate {\n${aggs()}`
      + (uses & 4 ? '  "One group per distinct value of the fields, ordered '
        + 'by them (nulls last)."\n'
        + `  groupBy(fields: [${x}GroupField!]!, limit: Int): [${x}Group!]!\n`
        : '') + '}');
    if (uses & 1) {
      out.push(obj('SumFields', 'Sums of', 1, true),
               obj('AvgFields', 'Averages of', 1, true));
    }
    if (uses & 2) {
      out.push(obj('MinFields', 'Least values of', 2, false),
               obj('MaxFields', 'Greatest values of', 2, false));
    }
    if (uses & 4) {
      out.push(`"The fields ${x}'s rows can be grouped by."\n`
        + `enum ${x}GroupField {\n`
        + fields.filter((f) => f.use & 4).map((f) => `  ${f.fn}\n`).join('')
        + '}',
        obj('GroupKey', 'The grouped fields\' values (only those grouped by '
            + 'may be selected) of', 4, false),
        `"A group of ${x}'s rows and its aggregates."\ntype ${x}Group {\n`
        + `  key: ${x}GroupKey!\n${aggs()}}`);
    }
  }
  return out;
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
 * JSON value"; the checks of fql_check_format() and fql_coerce_scalar()
 * in src/core/fql_coerce.c for the others).  A client schema's custom
 * scalars accept any literal, which would make every malformed literal
 * look valid.
 */
const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
const DATETIME_RE =
  /^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}(:?\d{2})?)?)?$/;
const UUID_RE =
  /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
/* numeric's input: digits with an optional point, then an exponent */
const DECIMAL_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
/* labels of letters, digits, _ and - joined by dots (or no label) */
const LTREE_RE = /^([A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*)?$/;
/* "empty", or bounds in brackets with a comma */
const DATERANGE_RE = /^(empty|[[(][^]*,[^]*[\])])$/i;
const ANY_STRING_RE = /^/;

/* inet: an IPv4 or IPv6 address (inet_pton), optionally /prefix */
function isInet(v) {
  const slash = v.indexOf('/');
  const addr = slash < 0 ? v : v.slice(0, slash);
  const family = addr.includes('%') ? 0 : net.isIP(addr);
  if (!family) {
    return false;
  }
  if (slash < 0) {
    return true;
  }
  const bits = v.slice(slash + 1);
  return /^\d+$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}

/* macaddr: 12 hex digits, separated by : - or . anywhere */
function isMacAddress(v) {
  return v.length <= 17 && /^[0-9a-fA-F:.-]*$/.test(v)
         && v.replace(/[:.-]/g, '').length === 12;
}

function stringScalar(name, test, what) {
  const ok = typeof test === 'function' ? test : (v) => test.test(v);
  return {
    parseValue(v) {
      if (typeof v !== 'string' || !ok(v)) {
        throw new GraphQLError(`${name} cannot represent ${JSON.stringify(v)}: `
                               + `${what} is expected`);
      }
      return v;
    },
    parseLiteral(ast) {
      if (ast.kind !== Kind.STRING || !ok(ast.value)) {
        throw new GraphQLError(`${name} cannot represent a non-${what} `
                               + 'value', { nodes: ast });
      }
      return ast.value;
    },
  };
}

/* Decimal: a number, or a string numeric reads */
const DECIMAL_IMPL = {
  parseValue(v) {
    if (typeof v === 'number'
        || (typeof v === 'string' && DECIMAL_RE.test(v))) {
      return v;
    }
    throw new GraphQLError('Decimal cannot represent a non numeric value: '
                           + JSON.stringify(v));
  },
  parseLiteral(ast) {
    if (ast.kind === Kind.INT || ast.kind === Kind.FLOAT
        || (ast.kind === Kind.STRING && DECIMAL_RE.test(ast.value))) {
      return ast.value;
    }
    throw new GraphQLError('Decimal cannot represent a non numeric value',
                           { nodes: ast });
  },
};

/* Vector: a non-empty list of numbers (a variable stands for one) */
const VECTOR_IMPL = {
  parseValue(v) {
    if (Array.isArray(v) && v.length
        && v.every((x) => typeof x === 'number')) {
      return v;
    }
    throw new GraphQLError('Vector cannot represent '
                           + `${JSON.stringify(v)}: a vector is a non-empty `
                           + 'list of numbers');
  },
  parseLiteral(ast) {
    if (ast.kind === Kind.LIST && ast.values.length
        && ast.values.every((x) => x.kind === Kind.INT
                                   || x.kind === Kind.FLOAT
                                   || x.kind === Kind.VARIABLE)) {
      return ast.values.map((x) => Number(x.value));
    }
    throw new GraphQLError('a vector is a non-empty list of numbers',
                           { nodes: ast });
  },
};

const SCALAR_IMPL = {
  DateTime: stringScalar('DateTime', DATETIME_RE, 'ISO 8601 date-time'),
  Date: stringScalar('Date', DATE_RE, 'YYYY-MM-DD date'),
  UUID: stringScalar('UUID', UUID_RE, 'UUID'),
  Decimal: DECIMAL_IMPL,
  IpAddress: stringScalar('IpAddress', isInet, 'IPv4 or IPv6 address'),
  MacAddress: stringScalar('MacAddress', isMacAddress, 'MAC address'),
  LTree: stringScalar('LTree', LTREE_RE, 'label path'),
  DateRange: stringScalar('DateRange', DATERANGE_RE, 'date range'),
  TSVector: stringScalar('TSVector', ANY_STRING_RE, 'string'),
  Point: stringScalar('Point', ANY_STRING_RE, 'string'),
  Vector: VECTOR_IMPL,
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
  MODULE_DIRECTIVES,
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
