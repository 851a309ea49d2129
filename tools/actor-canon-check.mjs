#!/usr/bin/env node
// Checks the actor page's pure functions (src/http/actor/actor.js) under node 20: canonical JSON
// (RFC 8785) against the known answer of docs/custody.md (Worked example) and on nasty
// strings, the signed bytes, the Ed25519 signature with the seed of 32 bytes 0x07 (printed,
// for comparison with the Rust test), item references, lot ids and event times.
//
//   node tools/actor-canon-check.mjs        prints PASS/FAIL per check; exit 1 on any FAIL
//
// actor.js is an ES module whose page code runs only with a document, so it imports cleanly
// here; it is loaded from a data: URL so that node treats it as a module whatever the
// surrounding package.json says.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';

const here = dirname(fileURLToPath(import.meta.url));
const src = readFileSync(join(here, '..', 'src', 'http', 'actor', 'actor.js'), 'utf8');
const A = await import('data:text/javascript;base64,' + Buffer.from(src).toString('base64'));

let failed = 0;
function check(name, ok, extra) {
  console.log((ok ? 'PASS ' : 'FAIL ') + name + (!ok && extra ? '\n     ' + extra : ''));
  if (!ok) failed++;
}
const throws = (f) => { try { f(); return false; } catch (e) { return e instanceof TypeError; } };
const hex = (u) => Buffer.from(u).toString('hex');

// ---------------------------------------------------------------- the known answer
const EXPECTED = '{"actor":"au-inspect","event":{"data":{"certificate_no":"AQIS-2026-0001","inspection_date":"2026-11-01","origin_country":"AU","producer":"Gippsland Dairy","result":"conformant"},"step":"origin_attestation"},"kid":"0a1b2c3d","log":"verify.example.com/log","lot":"09506000134352.L1","nonce":"00112233445566778899aabbccddeeff","place":{"country":"AU","name":"Melbourne","unlocode":"AUMEL"},"prev":"0000000000000000000000000000000000000000000000000000000000000000","signed_at":1793577600,"time":"2026-11-02T09:30:00+10:00"}';

// As docs/custody.md writes the object (field order as there), and as the page builds it.
const docObject = {
  log: 'verify.example.com/log',
  lot: '09506000134352.L1',
  prev: '0000000000000000000000000000000000000000000000000000000000000000',
  actor: 'au-inspect',
  kid: '0a1b2c3d',
  time: '2026-11-02T09:30:00+10:00',
  signed_at: 1793577600,
  nonce: '00112233445566778899aabbccddeeff',
  place: { name: 'Melbourne', country: 'AU', unlocode: 'AUMEL' },
  event: { step: 'origin_attestation', data: {
    certificate_no: 'AQIS-2026-0001', origin_country: 'AU', producer: 'Gippsland Dairy',
    inspection_date: '2026-11-01', result: 'conformant' } },
};
const canonText = A.canon(docObject);
check('canonical JSON of the worked example equals docs/custody.md', canonText === EXPECTED,
  canonText === EXPECTED ? '' : 'got ' + canonText);

const form = A.checkFields('origin_attestation', {
  time: '2026-11-02T09:30', place_name: 'Melbourne', place_country: 'AU', place_unlocode: 'AUMEL', place_gln: '',
  certificate_no: 'AQIS-2026-0001', origin_country: 'AU', producer: 'Gippsland Dairy',
  inspection_date: '2026-11-01', result: 'conformant',
});
const built = A.buildStatement({
  log: 'verify.example.com/log', lot: '09506000134352.L1', items: [], prev: A.GENESIS, actor: 'au-inspect',
  kid: '0a1b2c3d', time: '2026-11-02T09:30:00+10:00', signedAt: 1793577600,
  nonce: '00112233445566778899aabbccddeeff', place: form.place, step: 'origin_attestation', data: form.data,
});
check('form fields → buildStatement → canon gives the same text (no items, no gln, no documents)',
  Object.keys(form.errors).length === 0 && A.canon(built) === EXPECTED,
  JSON.stringify(form.errors) + ' ' + A.canon(built));

const sb = A.signedBytes(EXPECTED);
const sbExpected = Buffer.from('traceseal/custody/v2\n' + EXPECTED + '\n', 'utf8');
check('signed bytes = "traceseal/custody/v2\\n" + canon + "\\n" (UTF-8)', sb instanceof Uint8Array && Buffer.compare(Buffer.from(sb), sbExpected) === 0);

// ---------------------------------------------------------------- signing (seed 0x07 × 32)
const pkcs8 = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.alloc(32, 7)]);
const priv = await crypto.subtle.importKey('pkcs8', pkcs8, { name: 'Ed25519' }, true, ['sign']);
const jwk = await crypto.subtle.exportKey('jwk', priv);
const pubRaw = Buffer.from(jwk.x, 'base64url');
const pub = await crypto.subtle.importKey('raw', pubRaw, { name: 'Ed25519' }, true, ['verify']);
const signed = await A.signWith(priv, docObject);
const sigBytes = Buffer.from(signed.signature, 'base64url');
check('signWith: statement is the canonical text', signed.statement === EXPECTED);
check('signature is 86 characters of base64url without padding', /^[A-Za-z0-9_-]{86}$/.test(signed.signature) && sigBytes.length === 64);
check('signature verifies over the signed bytes', await crypto.subtle.verify({ name: 'Ed25519' }, pub, sigBytes, sbExpected));
const tampered = Buffer.from('traceseal/custody/v2\n' + EXPECTED.replace('Gippsland', 'Gippslanx') + '\n');
check('a changed byte (Gippsland → Gippslanx) does not verify', !(await crypto.subtle.verify({ name: 'Ed25519' }, pub, sigBytes, tampered)));
const again = await A.signWith(priv, docObject);
check('Ed25519 is deterministic: signing twice gives the same signature', again.signature === signed.signature);
// An independent implementation, when the pinned tools are installed (tools/node_modules).
try {
  const require = createRequire(join(here, 'package.json'));
  const ed = await import(require.resolve('@noble/ed25519'));
  const nobleSig = await ed.signAsync(sbExpected, Buffer.alloc(32, 7));
  check('@noble/ed25519 gives the same signature', Buffer.from(nobleSig).toString('base64url') === signed.signature);
  const noblePub = await ed.getPublicKeyAsync(Buffer.alloc(32, 7));
  check('@noble/ed25519 gives the same public key', Buffer.compare(Buffer.from(noblePub), pubRaw) === 0);
} catch (e) {
  console.log('SKIP @noble/ed25519 cross-check (' + (e && e.code ? e.code : e) + ')');
}
const pubHash = new Uint8Array(await crypto.subtle.digest('SHA-256', pubRaw));
console.log('     public key (base64)  ' + pubRaw.toString('base64'));
console.log('     kid of that key      ' + hex(pubHash.slice(0, 4)));
console.log('     signature            ' + signed.signature);

// ---------------------------------------------------------------- canon on nasty input
const ctrl = Array.from({ length: 32 }, (_, i) => String.fromCharCode(i)).join('');
const ctrlExpected = '"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r\\u000e\\u000f' +
  '\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f"';
check('U+0000–U+001F escape as \\b \\t \\n \\f \\r or \\u00xx (lowercase hex)', A.canon(ctrl) === ctrlExpected, A.canon(ctrl));
check('quote and backslash escape as \\" and \\\\', A.canon('a"b\\c/d') === '"a\\"b\\\\c/d"', A.canon('a"b\\c/d'));
const literal = '\u007f\u0080\u2028\u2029\u00e9\u4e2d\u6587\ud83d\ude00\ud800\udc00\ufeff';
check('U+007F, U+2028/2029, non-ASCII and astral characters stay literal', A.canon(literal) === '"' + literal + '"');
check('literal characters are UTF-8 in the signed bytes',
  Buffer.compare(Buffer.from(A.signedBytes(A.canon('\u2028\ud83d\ude00'))), Buffer.from('traceseal/custody/v2\n"\u2028\ud83d\ude00"\n', 'utf8')) === 0);
// Keys by UTF-16 code units: U+1F600 (D83D DE00) sorts before U+FFFF and U+E000, though its
// code point is larger; "a" before "aa" before "b"; upper case before lower case.
const keysObj = { '\uffff': 1, '\ud83d\ude00': 2, '\ue000': 3, b: 4, aa: 5, a: 6, B: 7, '': 8, '\u00e9': 9, '1': 10 };
const keysExpected = '{"":8,"1":10,"B":7,"a":6,"aa":5,"b":4,"\u00e9":9,"\ud83d\ude00":2,"\ue000":3,"\uffff":1}';
check('object keys sort by UTF-16 code units', A.canon(keysObj) === keysExpected, A.canon(keysObj));
check('RFC 8785 §3.2.3 key ordering example',
  A.canon({ '\u20ac': 'Euro Sign', '\r': 'Carriage Return', '\ufb33': 'Hebrew Letter Dalet With Dagesh', '1': 'One', '\ud83d\ude00': 'Emoji: Grinning Face', '\u0080': 'Control', '\u00f6': 'Latin Small Letter O With Diaeresis' }) ===
  '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}');
check('keys are escaped like strings', A.canon({ 'a\nb': true, 'q"': false }) === '{"a\\nb":true,"q\\"":false}');
check('nested arrays and objects, null, booleans, no whitespace',
  A.canon({ z: [1, { y: null, x: [true, false] }, []], a: {} }) === '{"a":{},"z":[1,{"x":[true,false],"y":null},[]]}');
check('integers: 0, -0, ±(2^53−1)', A.canon([0, -0, 9007199254740991, -9007199254740991]) === '[0,0,9007199254740991,-9007199254740991]');
check('non-integers and unsafe integers throw', throws(() => A.canon(1.5)) && throws(() => A.canon(9007199254740992)) &&
  throws(() => A.canon(NaN)) && throws(() => A.canon(Infinity)) && throws(() => A.canon({ a: 1e300 })));
check('undefined, functions, bigints, dates and lone surrogates throw',
  throws(() => A.canon({ a: undefined })) && throws(() => A.canon(() => 1)) && throws(() => A.canon(1n)) &&
  throws(() => A.canon(new Date(0))) && throws(() => A.canon('\ud800')) && throws(() => A.canon('x\udc00')) && throws(() => A.canon({ '\ud83d': 1 })));
// Random strings: canon agrees with JSON.stringify (well-formed strings only).
let agree = true, sample = '';
const pool = [0, 8, 9, 10, 12, 13, 31, 32, 34, 47, 92, 127, 128, 0x2028, 0x4e2d, 0xfeff, 0xffff, 0x1f600, 0x10ffff];
for (let n = 0; n < 2000 && agree; n++) {
  let s = '';
  for (let i = 0; i < 12; i++) {
    const cp = Math.random() < 0.5 ? pool[Math.floor(Math.random() * pool.length)] : Math.floor(Math.random() * 0x110000);
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    s += String.fromCodePoint(cp);
  }
  if (A.canon(s) !== JSON.stringify(s)) { agree = false; sample = JSON.stringify(s); }
}
check('canon(string) = JSON.stringify(string) on 2000 random strings', agree, sample);

// ---------------------------------------------------------------- item references, bytes
check('itemRef known answer (docs/code-format.md: https://h/x)', (await A.itemRef('https://h/x')) === 'tvBOxVyMQydnwu3uHHQjCCxlXZw-yzZYrD_u3pUC6eg');
check('b64url has no padding and uses - _', A.b64url(Uint8Array.from([0xfb, 0xff])) === '-_8' && A.b64url(new Uint8Array(0)) === '');
check('b64std has padding and uses + /', A.b64std(Uint8Array.from([0xfb, 0xff])) === '+/8=');
check('request bytes of a signed actor request',
  Buffer.from(A.requestBytes('verify.example.com/log', 'get', '/api/v1/actor/lots', 1793577600)).toString() ===
  'traceseal/actor-request/v1\nverify.example.com/log\nGET\n/api/v1/actor/lots\n1793577600\n');

// ---------------------------------------------------------------- items of a release
const k = 'k=0a1b2c3d&s=' + 'A'.repeat(86);
const codeA = 'https://verify.example.com/01/09506000134352/10/L1/21/S1?' + k;
const codeB = 'https://verify.example.com/01/09506000134352/10/L1/21/S2?17=261231&' + k;
const refs = await A.itemRefsFor('09506000134352.L1', codeB + '\n\n  ' + codeA + '\r\n' + codeA + '\n');
const want = [await A.itemRef(codeA), await A.itemRef(codeB)].sort();
check('items: one reference per code, sorted, unique', refs.refs && refs.refs.length === 2 && refs.refs.join() === want.join() &&
  refs.refs.every((r) => /^[A-Za-z0-9_-]{43}$/.test(r)) && Buffer.compare(Buffer.from(refs.refs[0]), Buffer.from(refs.refs[1])) < 0);
check('items: empty text gives no references (lot-wide event)', (await A.itemRefsFor('09506000134352.L1', ' \n ')).refs.length === 0);
const other = await A.itemRefsFor('09506000134352.L2', codeA);
check('items: a code of another lot is refused', other.error === 'err_items_lot' && other.arg === 1);
const bad = await A.itemRefsFor('09506000134352.L1', codeA + '\nhttps://x/y');
check('items: a malformed code is refused with its number', bad.error === 'err_items_code' && bad.arg === 2);
const rel = A.buildStatement({ log: 'l', lot: 'x', items: [], prev: A.GENESIS, actor: 'a', kid: '00000000', time: 't', signedAt: 1, nonce: 'n', step: 'release', data: {} });
check('a lot-wide statement has no items, no place and data {}', !('items' in rel) && !('place' in rel) && A.canon(rel.event) === '{"data":{},"step":"release"}');

// ---------------------------------------------------------------- lots, fields, times
check('lot id check digit', A.lotIdValid('09506000134352.L1') && !A.lotIdValid('09506000134353.L1') && !A.lotIdValid('09506000134352') &&
  !A.lotIdValid('09506000134352.' + 'x'.repeat(21)) && !A.lotIdValid('09506000134352.L 1'));
check('parseLotInput: lot id as is', A.parseLotInput(' 09312345000128.AU2610A ') === '09312345000128.AU2610A');
check('parseLotInput: code URI → lot id', A.parseLotInput('https://verify.example.com/01/09312345000128/10/AU2610A/21/ABC?17=280430&k=0a1b2c3d&s=xyz') === '09312345000128.AU2610A');
check('parseLotInput: GTIN-13 in a Digital Link is padded, lot decoded', A.parseLotInput('https://id.example.com/01/9506000134352/10/L%2D1') === '09506000134352.L-1');
check('parseLotInput: GS1 element strings', A.parseLotInput('(01)09506000134352(17)261231(10)L1') === '09506000134352.L1' &&
  A.parseLotInput('0109506000134352172612311' + '0L1') === '09506000134352.L1' && A.parseLotInput(']Q30109506000134352' + '10L1\x1d21S1') === '09506000134352.L1');
check('parseLotInput: junk and bad check digits are null', A.parseLotInput('hello') === null && A.parseLotInput('09506000134353.L1') === null && A.parseLotInput('') === null);
check('free text: 1–200 characters, no edge spaces, no controls',
  A.textProblem('ok') === null && A.textProblem(' x') === 'err_spaces' && A.textProblem('x\u3000') === 'err_spaces' && A.textProblem('a\tb') === 'err_control' &&
  A.textProblem('a\u0085b') === 'err_control' && A.textProblem('\ud83d\ude00'.repeat(200)) === null && A.textProblem('x'.repeat(201)) === 'err_long' && A.textProblem('   ') === 'err_required');
const f1 = A.checkFields('packing', { time: '2026-01-31T23:59:59', packages: '0', container: 'MSCU1234567', place_unlocode: 'AUMEL' });
check('packing: packages ≥ 1; a place needs name and country', f1.errors.packages === 'err_int' && f1.errors.place_name === 'err_place' && f1.errors.place_country === 'err_place');
const f2 = A.checkFields('packing', { time: '2026-01-31T23:59', packages: '12', place_name: 'Port', place_country: 'au', place_gln: '6930000999018' });
check('packing: packages is an integer; lower-case country refused; GLN check digit', f2.data.packages === 12 && f2.errors.place_country === 'err_country' && !f2.errors.place_gln && !f2.errors.time);
const f3 = A.checkFields('customs_declaration', { time: '2026-01-31T10:00', declaration_no: 'NB 2026' });
const f4 = A.checkFields('holding', { time: '2026-01-31T10:00', hold_type: 'quality', reason: 'leaking bottles' });
check('customs: declaration number letters, digits and -; holding data', f3.errors.declaration_no === 'err_declno' &&
  A.canon(f4.data) === '{"hold_type":"quality","reason":"leaking bottles"}' && !f4.place);
const f5 = A.checkFields('origin_attestation', { time: 'x', inspection_date: '2026-02-30', origin_country: 'AU', result: 'maybe' });
check('attestation: impossible date, bad time, unknown result, required fields', f5.errors.inspection_date === 'err_date' && f5.errors.time === 'err_time' &&
  f5.errors.result === 'err_required' && f5.errors.certificate_no === 'err_required' && f5.errors.producer === 'err_required');
const t = A.eventTime('2026-11-02T09:30');
const re = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$/;
check('event time: YYYY-MM-DDTHH:MM:SS±HH:MM, no fraction, no Z (TZ=' + (process.env.TZ || 'local') + ': ' + t + ')',
  re.test(t) && t.startsWith('2026-11-02T09:30:00') && A.eventTime('2026-11-02T09:30:15.250').startsWith('2026-11-02T09:30:15') && A.eventTime('2026-02-30T10:00') === null);
const off = (d) => A.formatTime(d).slice(19);
check('event time offset matches the runtime (UTC gives +00:00)', (() => {
  const d = new Date(Date.UTC(2026, 10, 2, 0, 0, 0));
  const m = -d.getTimezoneOffset();
  const want = (m < 0 ? '-' : '+') + String(Math.floor(Math.abs(m) / 60)).padStart(2, '0') + ':' + String(Math.abs(m) % 60).padStart(2, '0');
  return off(d) === want && (m !== 0 || off(d) === '+00:00');
})());
check('actor ids', A.actorIdValid('au-inspect') && !A.actorIdValid('-au') && !A.actorIdValid('A') && !A.actorIdValid('Au-x') && A.actorIdValid('a'.repeat(64)) && !A.actorIdValid('a'.repeat(65)));

console.log(failed ? 'FAIL: ' + failed + ' check(s) failed' : 'PASS: all checks passed');
process.exit(failed ? 1 : 0);
