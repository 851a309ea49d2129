#!/usr/bin/env node
// Validates EPCIS 2.0 JSON-LD documents against the GS1 EPCIS JSON schema (draft-07) with
// ajv, formats included (uri, date-time). Used by the test suite on every exported document.
//
//   node tools/validate-epcis.js SCHEMA.json DOC.json [DOC.json ...]
//
// Exit 0: every document is valid. Exit 1: errors are printed, one per line, with the
// document, the JSON pointer of the offending value and the schema keyword. Exit 2: usage.
'use strict';
const fs = require('fs');
const Ajv = require('ajv');
const addFormats = require('ajv-formats');

const [schemaPath, ...docs] = process.argv.slice(2);
if (!schemaPath || docs.length === 0) {
  console.error('usage: validate-epcis.js SCHEMA.json DOC.json [DOC.json ...]');
  process.exit(2);
}
const ajv = new Ajv({ allErrors: true, strict: false });
addFormats(ajv);
const validate = ajv.compile(JSON.parse(fs.readFileSync(schemaPath, 'utf8')));
let failed = 0;
for (const d of docs) {
  const doc = JSON.parse(fs.readFileSync(d, 'utf8'));
  if (validate(doc)) {
    console.log(`valid ${d}`);
  } else {
    failed++;
    for (const e of validate.errors) {
      console.log(`INVALID ${d}: ${e.instancePath || '/'} ${e.message} (${e.schemaPath})`);
    }
  }
}
process.exit(failed ? 1 : 0);
