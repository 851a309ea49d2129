#!/usr/bin/env node
// Recomputes the eventID of every event in EPCIS 2.0 JSON-LD documents with GS1's own
// implementation of the CBV 2.0 event hash (npm `epcis2.js`, `eventToHashedId`) and compares
// it with the eventID the document carries. Used by the test suite on every exported document.
//
//   node tools/epcis-event-ids.js DOC.json [DOC.json ...]
//
// epcis2.js is fetched by `scripts/dev setup` (pinned version and sha512, from the npm
// registry) into tools/vendor/epcis2.js/: its `dist/epcis2.node.js` bundle runs alone, so its
// dependency tree (one of which, `fs@0.0.1-security`, is not in the registry) is not installed.
//
// One known divergence is allowed, and only that one: epcis2.js treats *any* string value longer
// than 17 characters that V8's lenient `Date.parse` accepts as a timestamp and rewrites it
// (`isADate` in its hashAlgorithmUtils.js), so "Warehouse 3, Zone B …" or
// "urn:traceseal:order:NB-ORD-4417" hash as dates. CBV 2.0 §8.9 normalises values of type
// dateTime only. So every event is hashed twice: with the library as shipped, and with that one
// predicate narrowed to an RFC 3339 date-time. An eventID passes when it equals the shipped
// result, or when it equals the narrowed result and the shipped one differs only because the
// heuristic fired on a value that is not a date-time (those values are printed).
//
// Exit 0: every eventID agrees. Exit 1: each disagreement is printed. Exit 2: usage or the
// library is missing.
'use strict';
const fs = require('fs');
const path = require('path');

const lib = path.join(__dirname, 'vendor', 'epcis2.js', 'dist', 'epcis2.node.js');
if (!fs.existsSync(lib)) {
  console.error(`missing ${lib}: run ./scripts/dev setup`);
  process.exit(2);
}
const shipped = require(lib).eventToHashedId;

// The same bundle with `isADate` narrowed to RFC 3339 date-times (the patch must apply once).
const HEURISTIC = 'return isNaN(e)&&!isNaN(Date.parse(e))&&e.length>17';
const RFC3339 = '/^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?(Z|[+-]\\d{2}:\\d{2})$/';
const source = fs.readFileSync(lib, 'utf8');
if (source.split(HEURISTIC).length !== 2) {
  console.error(`epcis2.js changed: its isADate predicate was not found once in ${lib}`);
  process.exit(2);
}
const narrowedModule = { exports: {} };
new Function('module', 'exports', 'require', source.replace(HEURISTIC, `return typeof e==="string"&&${RFC3339}.test(e)`))(
  narrowedModule, narrowedModule.exports, require);
const narrowed = narrowedModule.exports.eventToHashedId;
const lenientDate = (v) => typeof v === 'string' && isNaN(v) && !isNaN(Date.parse(v)) && v.length > 17;
const rfc3339 = new RegExp(RFC3339.slice(1, -1));

// String values anywhere in the event that the shipped heuristic reads as dates but are not.
function misreadAsDates(value, out = []) {
  if (Array.isArray(value)) value.forEach((v) => misreadAsDates(v, out));
  else if (value && typeof value === 'object') Object.values(value).forEach((v) => misreadAsDates(v, out));
  else if (lenientDate(value) && !rfc3339.test(value)) out.push(value);
  return out;
}

const docs = process.argv.slice(2);
if (docs.length === 0) {
  console.error('usage: epcis-event-ids.js DOC.json [DOC.json ...]');
  process.exit(2);
}
let failed = 0;
let checked = 0;
let heuristic = 0;
for (const d of docs) {
  const doc = JSON.parse(fs.readFileSync(d, 'utf8'));
  const context = doc['@context'] || [];
  const events = (doc.epcisBody && doc.epcisBody.eventList) || [];
  events.forEach((event, i) => {
    if (!event.eventID) {
      failed++;
      console.log(`MISSING ${d}: event ${i} has no eventID`);
      return;
    }
    const copy = { ...event };
    delete copy.eventID;
    const theirs = shipped(copy, context);
    checked++;
    if (theirs === event.eventID) return;
    const misread = misreadAsDates(copy);
    if (misread.length > 0 && narrowed(copy, context) === event.eventID) {
      heuristic++;
      console.log(`heuristic ${d}: event ${i} (${event.bizStep}) agrees once epcis2.js stops reading ${JSON.stringify(misread)} as dates`);
      return;
    }
    failed++;
    console.log(`DIFFERS ${d}: event ${i} (${event.bizStep}): ours ${event.eventID}, epcis2.js ${theirs}`);
  });
}
console.log(`${checked} eventIDs checked: ${checked - failed - heuristic} equal, ${heuristic} equal but for epcis2.js's date heuristic, ${failed} disagree`);
process.exit(failed ? 1 : 0);
