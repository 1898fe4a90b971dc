#!/usr/bin/env node
'use strict';
/*
 * Does the module's introspection describe the schema file?
 *
 *   node schema_diff.js URL [--sdl t/schema.graphql] [--sdl-only]
 *
 * POSTs graphql-js's full introspection query (descriptions, directive
 * isRepeatable, schema description, input value deprecation) to URL,
 * builds a client schema from the answer with buildClientSchema, and
 * compares it with buildSchema of the SDL file:
 *
 *   - every type the file declares is there, of the same kind, with the
 *     same description, fields (and no others), field types, arguments
 *     (types and defaults), deprecations, interfaces, enum values, input
 *     fields, union members;
 *   - the root types are the same; the module's scalars (DateTime, Date,
 *     UUID, JSON, Decimal, IpAddress, MacAddress, LTree, DateRange,
 *     TSVector, Vector, Point) are there; @skip, @include and @deprecated
 *     are there;
 *   - the generated input types (XWhereInput, XOrderByInput of @view types
 *     and of the object types their fields reach, <S>Filter,
 *     <S>ArrayFilter, TextRankInput, VectorDistanceInput,
 *     PointDistanceInput, OrderDirection) have the fields docs/schema.md
 *     and src/core/fql_schema.c give them (skipped with --sdl-only).
 *
 * Types the module adds beyond these are fine.  Prints one JSON line per
 * difference and exits 1 if there is any (2 on a usage error).
 */

const {
  parse, Kind, isObjectType, isInterfaceType, isInputObjectType,
  isEnumType, isUnionType, isScalarType, isNonNullType,
} = require('graphql');
const lib = require('./lib');

function kindOf(t) {
  if (isScalarType(t)) return 'SCALAR';
  if (isObjectType(t)) return 'OBJECT';
  if (isInterfaceType(t)) return 'INTERFACE';
  if (isUnionType(t)) return 'UNION';
  if (isEnumType(t)) return 'ENUM';
  if (isInputObjectType(t)) return 'INPUT_OBJECT';
  return 'UNKNOWN';
}

const norm = (s) => (s === undefined || s === null || s === '' ? null : s);

function main() {
  const args = lib.parseArgs(process.argv);
  if (!args.url) {
    lib.die('usage: schema_diff.js URL [--sdl FILE] [--sdl-only]');
  }
  const sdl = lib.readSDL(args.sdl);
  const declared = parse(sdl).definitions.filter(
    (d) => d.name && d.kind !== Kind.DIRECTIVE_DEFINITION
           && !d.kind.endsWith('_EXTENSION'));
  const ref = lib.sdlSchema(sdl, false);
  const gen = lib.sdlSchema(sdl, true);

  return lib.introspect(args.url).then((got) => {
    const diffs = [];
    const diff = (kind, where, expected, actual) =>
      diffs.push({ kind, where, expected, actual });

    if (!got.schema) {
      diff('introspection-failed', args.url, 'a __schema answer', got.error);
      return finish(diffs, 0);
    }
    const cs = got.schema;
    let checked = 0;

    const sameField = (where, e, a, isInput) => {
      const et = String(e.type);
      const at = String(a.type);
      if (et !== at) diff('field-type', where, et, at);
      if (norm(e.description) !== norm(a.description)) {
        diff('description', where, norm(e.description), norm(a.description));
      }
      if (!!e.deprecationReason !== !!a.deprecationReason
          || norm(e.deprecationReason) !== norm(a.deprecationReason)) {
        diff('deprecation', where, norm(e.deprecationReason),
             norm(a.deprecationReason));
      }
      if (isInput) {
        if (JSON.stringify(e.defaultValue) !== JSON.stringify(a.defaultValue)) {
          diff('default-value', where, e.defaultValue, a.defaultValue);
        }
        return;
      }
      const aargs = new Map(a.args.map((x) => [x.name, x]));
      for (const earg of e.args) {
        const aarg = aargs.get(earg.name);
        const w = `${where}(${earg.name}:)`;
        if (!aarg) {
          diff('missing-argument', w, String(earg.type), null);
          continue;
        }
        sameField(w, earg, aarg, true);
        aargs.delete(earg.name);
      }
      for (const extra of aargs.values()) {
        diff(isNonNullType(extra.type) && extra.defaultValue === undefined
             ? 'extra-required-argument' : 'extra-argument',
             `${where}(${extra.name}:)`, null, String(extra.type));
      }
    };

    const compareType = (e, generated) => {
      const name = e.name;
      const a = cs.getType(name);
      checked++;
      if (!a) {
        diff(generated ? 'missing-generated-type' : 'missing-type', name,
             kindOf(e), null);
        return;
      }
      if (kindOf(e) !== kindOf(a)) {
        diff('type-kind', name, kindOf(e), kindOf(a));
        return;
      }
      if (!generated && norm(e.description) !== norm(a.description)) {
        diff('description', name, norm(e.description), norm(a.description));
      }
      if (isObjectType(e) || isInterfaceType(e) || isInputObjectType(e)) {
        const ef = e.getFields();
        const af = a.getFields();
        for (const fname of Object.keys(ef)) {
          const w = `${name}.${fname}`;
          if (!af[fname]) {
            diff(generated ? 'missing-generated-field' : 'missing-field', w,
                 String(ef[fname].type), null);
            continue;
          }
          if (generated) {
            /* generated fields: names and types only */
            if (String(ef[fname].type) !== String(af[fname].type)) {
              diff('field-type', w, String(ef[fname].type),
                   String(af[fname].type));
            }
            continue;
          }
          sameField(w, ef[fname], af[fname], isInputObjectType(e));
        }
        for (const fname of Object.keys(af)) {
          if (!ef[fname]) {
            diff(generated ? 'extra-generated-field' : 'extra-field',
                 `${name}.${fname}`, null, String(af[fname].type));
          }
        }
      }
      if (isObjectType(e) || isInterfaceType(e)) {
        const ei = e.getInterfaces().map(String).sort();
        const ai = a.getInterfaces().map(String).sort();
        if (ei.join() !== ai.join()) diff('interfaces', name, ei, ai);
      }
      if (isUnionType(e)) {
        const em = e.getTypes().map(String).sort();
        const am = a.getTypes().map(String).sort();
        if (em.join() !== am.join()) diff('union-members', name, em, am);
      }
      if (isEnumType(e)) {
        const av = new Map(a.getValues().map((v) => [v.name, v]));
        for (const v of e.getValues()) {
          const w = `${name}.${v.name}`;
          const x = av.get(v.name);
          if (!x) {
            diff('missing-enum-value', w, v.name, null);
            continue;
          }
          if (!generated && norm(v.description) !== norm(x.description)) {
            diff('description', w, norm(v.description), norm(x.description));
          }
          if (norm(v.deprecationReason) !== norm(x.deprecationReason)) {
            diff('deprecation', w, norm(v.deprecationReason),
                 norm(x.deprecationReason));
          }
          av.delete(v.name);
        }
        for (const v of av.keys()) {
          diff('extra-enum-value', `${name}.${v}`, null, v);
        }
      }
    };

    /* the types the file declares */
    for (const d of declared) {
      const e = ref.getType(d.name.value);
      if (e) compareType(e, false);
    }

    /* root operation types */
    for (const [op, fn] of [['query', 'getQueryType'],
                            ['mutation', 'getMutationType'],
                            ['subscription', 'getSubscriptionType']]) {
      const e = ref[fn]();
      const a = cs[fn]();
      const en = e ? e.name : null;
      const an = a ? a.name : null;
      if (en !== an) {
        diff('root-type', op, en, an);
      }
    }

    /* the module's built-in scalars */
    for (const s of lib.MODULE_SCALARS) {
      const a = cs.getType(s);
      if (!a || !isScalarType(a)) {
        diff('missing-builtin-scalar', s, 'SCALAR', a ? kindOf(a) : null);
      }
    }

    /* the executable directives the module runs, and @deprecated */
    const dir = (n) => cs.getDirective(n);
    for (const n of ['skip', 'include']) {
      const d = dir(n);
      if (!d) {
        diff('missing-directive', `@${n}`, 'if: Boolean!', null);
        continue;
      }
      const ifArg = d.args.find((x) => x.name === 'if');
      if (!ifArg || String(ifArg.type) !== 'Boolean!') {
        diff('directive-argument', `@${n}(if:)`, 'Boolean!',
             ifArg ? String(ifArg.type) : null);
      }
      const locs = [...d.locations].sort();
      const want = ['FIELD', 'FRAGMENT_SPREAD', 'INLINE_FRAGMENT'];
      if (locs.join() !== want.join()) {
        diff('directive-locations', `@${n}`, want, locs);
      }
    }
    if (!dir('deprecated')) {
      diff('missing-directive', '@deprecated', 'reason: String', null);
    }

    /* what the module generates */
    if (!args['sdl-only']) {
      for (const n of lib.generatedTypeNames(sdl)) {
        compareType(gen.getType(n), true);
      }
    }

    return finish(diffs, checked);
  });
}

function finish(diffs, checked) {
  for (const d of diffs) {
    process.stdout.write(JSON.stringify(d) + '\n');
  }
  process.stderr.write(`schema_diff: ${checked} types compared, `
                       + `${diffs.length} difference(s)\n`);
  process.exitCode = diffs.length ? 1 : 0;
}

main().catch((e) => {
  process.stderr.write(`schema_diff: ${e.stack || e}\n`);
  process.exitCode = 2;
});
