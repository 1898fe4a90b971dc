#!/usr/bin/env node
'use strict';
/*
 * What graphql-js's SDL validation (the rules buildSchema runs) says of
 * schema files, for t/test_graphql_js.py to compare with `nginx -t`:
 *
 *   node sdl_errors.js FILE...
 *
 * Each file is validated with the module's own directives (@view,
 * @column, @function, @json) appended, so its lines keep their numbers;
 * prints one JSON line per file: {file, message, locations} of its first
 * error, or {file, message: null} when it has none.
 */

const fs = require('fs');
const { parse } = require('graphql');
const { validateSDL } = require('graphql/validation/validate');
const lib = require('./lib');

function main() {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    lib.die('usage: sdl_errors.js FILE...');
  }
  for (const file of files) {
    const text = fs.readFileSync(file, 'utf8') + '\n'
                 + lib.MODULE_DIRECTIVES;
    const errors = validateSDL(parse(text));
    const e = errors[0];
    console.log(JSON.stringify(e
      ? { file, message: e.message, locations: e.locations || [] }
      : { file, message: null }));
  }
}

main();
