// traceseal actor page (/actor/): custody actors (inspectors, carriers, customs brokers, bonded
// warehouses, retailers) record custody steps of a lot and sign each record here, in the
// browser, with an Ed25519 key that never leaves the device (WebCrypto, non-extractable,
// kept in IndexedDB). Formats: docs/custody.md ("The signed statement", "Canonical JSON and
// the signed bytes", "Hash links"); errors: docs/api.md (Error codes).
//
// Same discipline as the scan page (src/http/page/scan.js): no library, no eval, no inline
// script or style (CSP script-src 'self'), untrusted text only ever through textContent.
//
// The first half of this module is pure (no DOM): canonical JSON, the signed bytes, item
// references, statement building and field validation. It is exported so that
// tools/actor-canon-check.mjs can check it under node against the known answer. The page
// itself starts at the bottom, only when there is a document.

const te = new TextEncoder();

// ------------------------------------------------------------------------------ bytes

/** Lowercase hex of bytes. */
export const hex = (u) => Array.from(u, (x) => x.toString(16).padStart(2, '0')).join('');

/** Standard base64 with padding (the form the operator console takes for public keys). */
export function b64std(u) {
  let s = '';
  for (let i = 0; i < u.length; i++) s += String.fromCharCode(u[i]);
  return btoa(s);
}

/** base64url without padding (signatures, item references). */
export const b64url = (u) => b64std(u).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

/** Decodes standard or url-safe base64 (padding optional); throws on anything else. */
export function unb64(s) {
  if (typeof s !== 'string' || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(s)) throw new Error('bad base64');
  s = s.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
  const bin = atob(s + '==='.slice((s.length + 3) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

export const sha256 = async (u) => new Uint8Array(await crypto.subtle.digest('SHA-256', u));

/** 16 random bytes as 32 lowercase hex: a statement nonce, never reused. */
export const randomNonce = () => hex(crypto.getRandomValues(new Uint8Array(16)));

// ------------------------------------------------------------------------------ canonical JSON

// RFC 8785 (JCS), as src/custody/canon.rs writes it: keys sorted by UTF-16 code units (what
// Array.prototype.sort does for strings), no whitespace, strings escaped as JSON.stringify
// does, integers only. Anything that is not plain JSON data is refused rather than guessed at.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const SHORT_ESCAPES = { '"': '\\"', '\\': '\\\\', '\b': '\\b', '\t': '\\t', '\n': '\\n', '\f': '\\f', '\r': '\\r' };

function canonString(s) {
  // A lone surrogate has no UTF-8 form: the signed bytes would not be this string.
  if (LONE_SURROGATE.test(s)) throw new TypeError('canon: string has a lone surrogate');
  // Only ", \ and U+0000–U+001F are escaped; U+007F, U+2028, astral characters stay literal.
  return '"' + s.replace(/["\\\u0000-\u001f]/g, (c) =>
    SHORT_ESCAPES[c] || '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0')) + '"';
}

/** The canonical JSON text of a value (throws TypeError on what JCS here does not allow). */
export function canon(v) {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'boolean':
      return v ? 'true' : 'false';
    case 'number':
      // Integers in ±(2^53−1) only; -0 prints as 0, as JCS wants.
      if (!Number.isSafeInteger(v)) throw new TypeError('canon: only safe integers, got ' + v);
      return String(v);
    case 'string':
      return canonString(v);
    case 'object': {
      if (Array.isArray(v)) return '[' + v.map(canon).join(',') + ']';
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) throw new TypeError('canon: not a plain object');
      const keys = Object.keys(v).sort();
      return '{' + keys.map((k) => canonString(k) + ':' + canon(v[k])).join(',') + '}';
    }
    default:
      throw new TypeError('canon: cannot serialise ' + typeof v);
  }
}

/** The bytes an actor signs: "traceseal/custody/v2\n" ‖ canonical JSON ‖ "\n", UTF-8. */
export const signedBytes = (canonText) => te.encode('traceseal/custody/v2\n' + canonText + '\n');

/** The bytes a signed actor request signs (Authorization: Traceseal-Actor …). */
export const requestBytes = (log, method, pathAndQuery, at) =>
  te.encode('traceseal/actor-request/v1\n' + log + '\n' + method.toUpperCase() + '\n' + pathAndQuery + '\n' + at + '\n');

/** The bytes a registration request signs: "traceseal/registration-request/v1\n" ‖ canonical JSON ‖ "\n". */
export const registrationBytes = (canonText) => te.encode('traceseal/registration-request/v1\n' + canonText + '\n');

/**
 * The registration request object (docs/custody.md, Registration requests): what the actor
 * says about itself, for the operator; `note` is left out when empty.
 */
export function buildRegistration({ log, publicKey, actor, organisation, country, role, contact, note, signedAt }) {
  const r = { log, public_key: publicKey, actor, organisation, country, role, contact, signed_at: signedAt };
  if (note) r.note = note;
  return r;
}

/** An item's reference: base64url(SHA-256("traceseal/item-ref/v1\n" ‖ code URI)), 43 chars. */
export async function itemRef(uri) {
  return b64url(await sha256(te.encode('traceseal/item-ref/v1\n' + uri)));
}

/** Signs a statement object with a private CryptoKey: {statement, signature}. */
export async function signWith(privateKey, obj) {
  const statement = canon(obj);
  const sig = new Uint8Array(await crypto.subtle.sign({ name: 'Ed25519' }, privateKey, signedBytes(statement)));
  return { statement, signature: b64url(sig) };
}

// ------------------------------------------------------------------------------ statements

export const GENESIS = '0'.repeat(64);

// The steps, in the order of a lot's life (docs/custody.md).
export const STEPS = ['origin_attestation', 'packing', 'shipping', 'departing', 'arriving',
  'customs_declaration', 'customs_clearance', 'receiving', 'storing', 'sampling', 'holding',
  'hold_release', 'release', 'retail_sale', 'self_pickup'];
// Steps that may name items (everything else is lot-wide).
export const ITEM_STEPS = ['release', 'retail_sale', 'self_pickup'];
export const MAX_ITEMS = 10000;
export const MAX_DOCUMENTS = 32;
export const MAX_TEXT = 200;

/**
 * Builds the statement object to sign. Absent optional parts (items, place and its unlocode /
 * gln, optional data fields) must be left out by the caller: this never writes null or [].
 */
export function buildStatement({ log, lot, items, prev, actor, kid, time, signedAt, nonce, place, step, data }) {
  const st = { log, lot, prev, actor, kid, time, signed_at: signedAt, nonce, event: { step, data: data || {} } };
  if (items && items.length) st.items = items;
  if (place) st.place = place;
  return st;
}

// ------------------------------------------------------------------------------ validation

/** GS1 mod-10 check digit of a digit string (the last digit). */
export function gs1CheckOk(digits) {
  if (!/^[0-9]{2,}$/.test(digits)) return false;
  let sum = 0;
  for (let i = digits.length - 2, w = 3; i >= 0; i--, w = 4 - w) sum += w * (digits.charCodeAt(i) - 48);
  return (10 - (sum % 10)) % 10 === digits.charCodeAt(digits.length - 1) - 48;
}

/** A lot id `{gtin14}.{lot}`: 14 digits with a valid check digit, lot 1–20 of A-Z a-z 0-9 . _ - */
export function lotIdValid(s) {
  const m = /^([0-9]{14})\.([A-Za-z0-9._-]{1,20})$/.exec(s || '');
  return !!m && gs1CheckOk(m[1]);
}

export const actorIdValid = (s) => /^[a-z0-9][a-z0-9-]{1,63}$/.test(s || '');

/**
 * The lot id in what was typed or scanned: a lot id as is, a label's code URI or a GS1 Digital
 * Link of the lot (https://host/01/{gtin}/10/{lot}[/21/{serial}][?…]), or a GS1 element string
 * ((01)…(10)… or raw 01…10…). Returns null when none is found or the result is malformed.
 */
export function parseLotInput(text) {
  const s = String(text || '').trim();
  let gtin = null, lot = null;
  let m = /^https?:\/\/[^/?#\s]+\/01\/([0-9]{8,14})\/10\/([^/?#\s]+)(?:\/21\/[^/?#\s]+)?\/?(?:[?#]\S*)?$/.exec(s);
  if (m) {
    gtin = m[1];
    try { lot = decodeURIComponent(m[2]); } catch (e) { return null; }
  } else if ((m = /^([0-9]{14})\.(\S+)$/.exec(s))) {
    gtin = m[1]; lot = m[2];
  } else if ((m = /^\(01\)([0-9]{14})(?:\([0-9]{2,4}\)[^()]*)*?\(10\)([^()]+)/.exec(s))) {
    gtin = m[1]; lot = m[2];
  } else {
    // Raw element string (optionally with a symbology identifier): 01 + 14 digits, then fixed
    // length AIs 11/13/15/16/17 (6 digits), then 10 up to a GS (0x1D) or the end.
    m = /^(?:\][A-Za-z][0-9])?01([0-9]{14})(?:(?:1[1-7])[0-9]{6})*10([^\x1d]{1,20})(?:\x1d.*)?$/s.exec(s);
    if (m) { gtin = m[1]; lot = m[2]; }
  }
  if (gtin === null) return null;
  const id = gtin.padStart(14, '0') + '.' + lot;
  return lotIdValid(id) ? id : null;
}

/** The GTIN-14 and lot of a label's code URI (strict grammar of docs/code-format.md), or null. */
export function parseCode(uri) {
  const m = /^https:\/\/[a-z0-9.-]+(?::[1-9][0-9]{0,4})?\/01\/([0-9]{14})\/10\/([A-Za-z0-9._-]{1,20})\/21\/[A-Za-z0-9._-]{1,20}\?(?:17=[0-9]{6}&)?k=[0-9a-f]{8}&s=[A-Za-z0-9_-]{86}$/.exec(uri);
  return m && uri.length <= 512 ? { gtin: m[1], lot: m[2] } : null;
}

/** Why a free-text value is refused (1–200 characters, no edge spaces, no controls), or null. */
export function textProblem(v) {
  if (v.trim() === '') return 'err_required';
  if (v.trim() !== v) return 'err_spaces';
  if ([...v].length > MAX_TEXT) return 'err_long';
  if (/[\u0000-\u001f\u007f-\u009f]/.test(v)) return 'err_control';
  return null;
}

export const countryOk = (v) => /^[A-Z]{2}$/.test(v);
export const unlocodeOk = (v) => /^[A-Z]{2}[A-Z2-9]{3}$/.test(v);
export const glnOk = (v) => /^[0-9]{13}$/.test(v) && gs1CheckOk(v);

/** YYYY-MM-DD naming a real calendar day. */
export function dateOk(v) {
  const m = /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/.exec(v);
  if (!m) return false;
  const d = new Date(Date.UTC(2000, +m[2] - 1, +m[3]));
  d.setUTCFullYear(+m[1]);
  return d.getUTCFullYear() === +m[1] && d.getUTCMonth() === +m[2] - 1 && d.getUTCDate() === +m[3];
}

const pad2 = (n) => String(n).padStart(2, '0');

/** A Date as `YYYY-MM-DDTHH:MM:SS±HH:MM` in the runtime's local offset (no fraction, no Z). */
export function formatTime(d) {
  const off = -d.getTimezoneOffset();
  const a = Math.abs(off);
  return String(d.getFullYear()).padStart(4, '0') + '-' + pad2(d.getMonth() + 1) + '-' + pad2(d.getDate()) +
    'T' + pad2(d.getHours()) + ':' + pad2(d.getMinutes()) + ':' + pad2(d.getSeconds()) +
    (off < 0 ? '-' : '+') + pad2(Math.floor(a / 60)) + ':' + pad2(a % 60);
}

/** The value of an <input type=datetime-local> as an event time, or null if it is not one. */
export function eventTime(value) {
  const m = /^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.[0-9]+)?)?$/.exec(value || '');
  if (!m || +m[1] < 1) return null;
  const d = new Date(2000, +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0));
  d.setFullYear(+m[1], +m[2] - 1, +m[3]);
  if (isNaN(d.getTime()) || d.getMonth() !== +m[2] - 1 || d.getDate() !== +m[3]) return null;
  return formatTime(d);
}

/** A Date as the value of an <input type=datetime-local step=1>. */
export const localInputValue = (d) => formatTime(d).slice(0, 19);

// The form of each step: statement data fields, by kind. `place` and `time` are common to all.
// kinds: text (free text), country, date, int, declno (letters, digits, '-'), select, files
// (documents, hashed here), items (label codes → item references).
const MOVE = [{ name: 'transport', kind: 'text' }, { name: 'bill_of_lading', kind: 'text' }];
const CUSTOMS = [{ name: 'declaration_no', kind: 'declno', required: true }];
const WAREHOUSE = [{ name: 'location', kind: 'text' }];
const HOLD = [{ name: 'hold_type', kind: 'select', options: ['customs', 'quality'], required: true },
  { name: 'reason', kind: 'text', required: true }];
const OUTBOUND = [{ name: 'order_no', kind: 'text' }, { name: 'declaration_no', kind: 'text' },
  { name: 'items', kind: 'items' }];
export const STEP_FIELDS = {
  origin_attestation: [
    { name: 'certificate_no', kind: 'text', required: true },
    { name: 'origin_country', kind: 'country', required: true },
    { name: 'producer', kind: 'text', required: true },
    { name: 'inspection_date', kind: 'date', required: true },
    { name: 'result', kind: 'select', options: ['conformant', 'non_conformant'], required: true },
    { name: 'documents', kind: 'files' },
  ],
  packing: [{ name: 'packages', kind: 'int', min: 1, max: 4294967295 }, { name: 'container', kind: 'text' }],
  shipping: MOVE, departing: MOVE, arriving: MOVE,
  customs_declaration: CUSTOMS, customs_clearance: CUSTOMS,
  receiving: WAREHOUSE, storing: WAREHOUSE,
  sampling: [
    { name: 'report_no', kind: 'text', required: true },
    { name: 'samples', kind: 'int', min: 1, max: 4294967295, required: true },
    { name: 'result', kind: 'select', options: ['conformant', 'non_conformant'], required: true },
    { name: 'documents', kind: 'files' },
  ],
  holding: HOLD, hold_release: HOLD,
  release: OUTBOUND, retail_sale: OUTBOUND, self_pickup: OUTBOUND,
};

/** Why one scalar field value is refused (a message key), or null. `v` is non-empty. */
function fieldProblem(spec, v) {
  switch (spec.kind) {
    case 'text': return textProblem(v);
    case 'country': return countryOk(v) ? null : 'err_country';
    case 'date': return dateOk(v) ? null : 'err_date';
    case 'int': {
      if (!/^[0-9]+$/.test(v)) return 'err_int';
      const n = Number(v);
      return Number.isSafeInteger(n) && n >= (spec.min ?? 0) && n <= (spec.max ?? Number.MAX_SAFE_INTEGER) ? null : 'err_int';
    }
    case 'declno': return textProblem(v) || (/^[A-Za-z0-9-]+$/.test(v) ? null : 'err_declno');
    case 'select': return spec.options.includes(v) ? null : 'err_required';
    default: return null;
  }
}

/**
 * Checks the scalar fields of a step form. `raw` maps field names (statement names, and
 * time, place_name, place_country, place_unlocode, place_gln) to the strings typed. Returns
 * {errors: {name: messageKey}, time, place, data}; files and items are handled by the caller.
 */
export function checkFields(step, raw) {
  const errors = {};
  const get = (n) => (typeof raw[n] === 'string' ? raw[n] : '');
  const time = eventTime(get('time'));
  if (!time) errors.time = 'err_time';
  // Place: optional; once any of its fields is given, name and country are required.
  let place;
  const pn = get('place_name'), pc = get('place_country'), pu = get('place_unlocode'), pg = get('place_gln');
  if (pn || pc || pu || pg) {
    place = {};
    const e1 = pn ? textProblem(pn) : 'err_place';
    if (e1) errors.place_name = e1; else place.name = pn;
    if (!pc) errors.place_country = 'err_place';
    else if (!countryOk(pc)) errors.place_country = 'err_country';
    else place.country = pc;
    if (pu) { if (unlocodeOk(pu)) place.unlocode = pu; else errors.place_unlocode = 'err_unlocode'; }
    if (pg) { if (glnOk(pg)) place.gln = pg; else errors.place_gln = 'err_gln'; }
  }
  const data = {};
  for (const spec of STEP_FIELDS[step] || []) {
    if (spec.kind === 'files' || spec.kind === 'items') continue;
    const v = get(spec.name);
    if (v === '') {
      if (spec.required) errors[spec.name] = 'err_required';
      continue;
    }
    const p = fieldProblem(spec, v);
    if (p) errors[spec.name] = p;
    else data[spec.name] = spec.kind === 'int' ? Number(v) : v;
  }
  return { errors, time, place, data };
}

/**
 * The item references of the label codes typed or scanned for `lot` (one per line; blanks
 * between codes are separators too, as for the CLI), sorted by byte value and unique.
 * Returns {refs} or {error: messageKey, arg}.
 */
export async function itemRefsFor(lot, text) {
  const codes = String(text || '').split(/\s+/).filter((c) => c !== '');
  if (codes.length > MAX_ITEMS) return { error: 'err_items_many' };
  const refs = new Set();
  for (let i = 0; i < codes.length; i++) {
    const c = parseCode(codes[i]);
    if (!c) return { error: 'err_items_code', arg: i + 1 };
    if (c.gtin + '.' + c.lot !== lot) return { error: 'err_items_lot', arg: i + 1 };
    refs.add(await itemRef(codes[i]));
  }
  // Base64url is ASCII, so UTF-16 order (the default sort) is byte order.
  return { refs: [...refs].sort() };
}

// ------------------------------------------------------------------------------ the page

/* The dictionary: each entry [Chinese, English]; a function entry takes the message's arguments. */
// ------------------------------------------------------------------------------ languages

/** The page's languages: each message below is [中文, English, Français]. */
export const LANGS = ['zh', 'en', 'fr'];
const LANG_TAGS = { zh: 'zh-CN', en: 'en', fr: 'fr' };
const LANG_NAMES = { zh: '中文', en: 'English', fr: 'Français' };
/** The shell's `data-title-*` attribute of each language, as `dataset` names it. */
const TITLE_DATA = { zh: 'titleZh', en: 'titleEn', fr: 'titleFr' };

/** The page language of an HTML `lang` tag (`en-GB` → en, `fr-CA` → fr); Chinese otherwise. */
export function langOf(tag) {
  const p = String(tag || '').toLowerCase().split(/[-_]/)[0];
  return LANGS.includes(p) ? p : 'zh';
}

/** One message's text in `l`; English where a translation is missing. */
export function inLang(texts, l) {
  return texts[LANGS.indexOf(l)] || texts[1];
}

export const M = {
  title: ['流转记录签名 · traceseal', 'Custody records · traceseal', 'Registre de traçabilité · traceseal'],
  language: ['语言', 'Language', 'Langue'],
  no_secure: ['此页面需要 HTTPS 安全连接才能使用签名密钥。', 'This page needs a secure (HTTPS) connection to use signing keys.', 'Cette page nécessite une connexion sécurisée (HTTPS) pour utiliser les clés de signature.'],
  no_ed25519: ['此浏览器不支持 Ed25519 签名（WebCrypto），无法在本机签名。请使用最新版的 Chrome、Edge、Firefox 或 Safari。',
    'This browser cannot sign with Ed25519 (WebCrypto), so it cannot sign records. This page needs a current browser: a recent Chrome, Edge, Firefox or Safari.', 'Ce navigateur ne sait pas signer avec Ed25519 (WebCrypto) : il ne peut donc pas signer d’enregistrements. Cette page nécessite un navigateur à jour : une version récente de Chrome, Edge, Firefox ou Safari.'],
  no_idb: ['此浏览器无法保存密钥（IndexedDB 不可用，例如在隐私浏览模式下）。', 'This browser cannot store the key (IndexedDB is unavailable, e.g. in private browsing).', 'Ce navigateur ne peut pas conserver la clé (IndexedDB n’est pas disponible, p. ex. en navigation privée).'],

  key_h: ['我的签名密钥', 'My signing key', 'Ma clé de signature'],
  key_intro: ['私钥只保存在本设备的浏览器中：不可导出，也从不发送给服务器。每条记录都在本机签名。',
    'The private key stays in this browser on this device: it cannot be exported and is never sent to the server. Every record is signed here.', 'La clé privée reste dans ce navigateur, sur cet appareil : elle ne peut pas être exportée et n’est jamais envoyée au serveur. Chaque enregistrement est signé ici.'],
  key_none: ['本设备还没有密钥。请生成新密钥，或导入 traceseal actor-key 生成的私钥文件（PEM）。',
    'No key on this device yet. Generate a new key, or import the private key file (PEM) that traceseal actor-key wrote.', 'Aucune clé sur cet appareil pour l’instant. Générez une nouvelle clé ou importez le fichier de clé privée (PEM) produit par traceseal actor-key.'],
  key_generate: ['生成新密钥', 'Generate a new key', 'Générer une nouvelle clé'],
  key_import: ['导入私钥文件（PEM）', 'Import a private key file (PEM)', 'Importer un fichier de clé privée (PEM)'],
  key_public: ['公钥（Base64）', 'Public key (base64)', 'Clé publique (base64)'],
  key_kid: ['密钥 ID', 'Key id', 'Identifiant de clé'],
  key_fp: ['指纹（SHA-256）', 'Fingerprint (SHA-256)', 'Empreinte (SHA-256)'],
  key_send: ['请把公钥和指纹发送给平台运营方登记；登记时请核对指纹。',
    'Send the public key and the fingerprint to the platform operator to register; check the fingerprint together.', 'Envoyez la clé publique et l’empreinte à l’opérateur de la plateforme pour enregistrement ; vérifiez l’empreinte ensemble.'],
  key_copy: ['复制公钥和指纹', 'Copy public key and fingerprint', 'Copier la clé publique et l’empreinte'],
  key_copied: ['已复制。', 'Copied.', 'Copié.'],
  key_copy_failed: ['无法自动复制，请手动选择上面的文字复制。', 'Could not copy: select the text above and copy it by hand.', 'Copie impossible : sélectionnez le texte ci-dessus et copiez-le manuellement.'],
  key_forget: ['删除本设备上的密钥', 'Delete the key from this device', 'Supprimer la clé de cet appareil'],
  key_forget_confirm: ['确定删除本设备上的私钥吗？此操作无法撤销：之后需要生成或导入新密钥，并由平台运营方登记。',
    'Delete the private key from this device? This cannot be undone: you would need a new key, registered by the platform operator.', 'Supprimer la clé privée de cet appareil ? Cette action est irréversible : il vous faudrait une nouvelle clé, enregistrée par l’opérateur de la plateforme.'],
  key_forgotten: ['密钥已删除。', 'The key was deleted.', 'La clé a été supprimée.'],
  key_generated: ['已生成新密钥。', 'A new key was generated.', 'Une nouvelle clé a été générée.'],
  key_imported: ['私钥已导入，并已设为不可导出。', 'The private key was imported and is now non-extractable.', 'La clé privée a été importée et n’est désormais plus exportable.'],
  key_bad_pem: ['这不是 Ed25519 私钥的 PKCS#8 PEM 文件（应以 “-----BEGIN PRIVATE KEY-----” 开头，即 traceseal actor-key 生成的文件）。',
    'This is not an Ed25519 private key in PKCS#8 PEM (it should start with "-----BEGIN PRIVATE KEY-----", as the file traceseal actor-key writes).', 'Ce n’est pas une clé privée Ed25519 au format PKCS#8 PEM (elle doit commencer par « -----BEGIN PRIVATE KEY----- », comme le fichier produit par traceseal actor-key).'],
  key_not_ed25519: ['此私钥不是 Ed25519 密钥，无法使用。', 'This private key is not an Ed25519 key: it cannot be used.', 'Cette clé privée n’est pas une clé Ed25519 : elle ne peut pas être utilisée.'],
  key_store_failed: ['无法在此浏览器中保存密钥。', 'Could not store the key in this browser.', 'Impossible de conserver la clé dans ce navigateur.'],
  key_busy: ['请稍候…', 'Please wait…', 'Veuillez patienter…'],
  actor_id: ['参与方 ID（平台运营方为您登记的 ID）', 'Actor id (the id the platform operator registered for you)', 'Identifiant d’intervenant (celui que l’opérateur de la plateforme a enregistré pour vous)'],
  actor_save: ['保存 ID', 'Save id', 'Enregistrer l’identifiant'],
  actor_saved: ['参与方 ID 已保存。', 'Actor id saved.', 'Identifiant d’intervenant enregistré.'],
  actor_bad: ['参与方 ID 为 2–64 个小写字母、数字或 “-”，且不以 “-” 开头。', 'An actor id is 2–64 characters of a–z, 0–9 and "-", not starting with "-".', 'Un identifiant d’intervenant comporte 2 à 64 caractères parmi a–z, 0–9 et « - », sans commencer par « - ».'],
  actor_need_key: ['请先生成或导入密钥。', 'Generate or import a key first.', 'Générez ou importez d’abord une clé.'],

  me_need_actor: ['请填写并保存您的参与方 ID。', 'Enter and save your actor id.', 'Saisissez et enregistrez votre identifiant d’intervenant.'],
  me_loading: ['正在查询登记信息…', 'Checking the registration…', 'Vérification de l’enregistrement…'],
  me_unregistered: ['此密钥尚未登记：请把公钥和指纹发送给平台运营方。', 'This key is not registered yet: send the public key and fingerprint to the platform operator.', 'Cette clé n’est pas encore enregistrée : envoyez la clé publique et l’empreinte à l’opérateur de la plateforme.'],
  me_failed: ['无法查询登记信息。', 'Could not check the registration.', 'Impossible de vérifier l’enregistrement.'],
  me_actor: ['参与方', 'Actor', 'Intervenant'],
  me_org: ['机构', 'Organisation', 'Organisation'],
  me_role: ['角色', 'Role', 'Rôle'],
  me_country: ['国家/地区', 'Country', 'Pays'],
  me_key: ['本机密钥', 'This key', 'Cette clé'],
  me_key_ok: ['有效', 'valid', 'valide'],
  me_key_revoked: (t) => [`自 ${t} 起已吊销`, `revoked from ${t}`, `révoquée depuis ${t}`],
  me_key_expired: (t) => [`${t} 起失效`, `valid until ${t}`, `valide jusqu’à ${t}`],
  me_key_not_yet: (t) => [`${t} 起生效`, `valid from ${t}`, `valide à partir de ${t}`],
  req_h: ['申请登记', 'Ask the operator to register this key', 'Demander à l’opérateur d’enregistrer cette clé'],
  req_intro: ['填写以下信息并提交，平台运营方会在控制台看到申请，并通过您留下的联系方式与您核对指纹。申请用本机密钥签名，私钥不会离开本设备。',
    'Fill in and send this: the platform operator sees the request in the console and checks the fingerprint with you through the contact you give. The request is signed with this key; the private key does not leave this device.', 'Remplissez et envoyez ce formulaire : l’opérateur de la plateforme voit la demande dans sa console et vérifie l’empreinte avec vous par le moyen de contact que vous indiquez. La demande est signée avec cette clé ; la clé privée ne quitte pas cet appareil.'],
  req_actor: ['希望使用的参与方 ID：填在上面的 “参与方 ID” 一栏。', 'The actor id you ask for: the "Actor id" field above.', 'L’identifiant d’intervenant demandé : le champ « Identifiant d’intervenant » ci-dessus.'],
  req_org: ['机构名称', 'Organisation', 'Organisation'],
  req_country: ['国家/地区（ISO 两位字母，例如 AU、FR）', 'Country (ISO two letters, e.g. AU, FR)', 'Pays (code ISO à deux lettres, p. ex. AU, FR)'],
  req_role: ['角色', 'Role', 'Rôle'],
  req_contact: ['联系方式（电话或电子邮件，供运营方核对指纹）', 'Contact (phone or e-mail, for the operator to check the fingerprint)', 'Contact (téléphone ou e-mail, pour que l’opérateur vérifie l’empreinte)'],
  req_note: ['备注（可选）', 'Note (optional)', 'Remarque (facultatif)'],
  req_send: ['签名并提交申请', 'Sign and send the request', 'Signer et envoyer la demande'],
  req_again: ['重新提交申请', 'Send the request again', 'Renvoyer la demande'],
  req_busy: ['正在提交申请…', 'Sending the request…', 'Envoi de la demande…'],
  req_sent: (t) => [`登记申请已于 ${t} 提交，等待平台运营方处理：运营方会与您核对指纹。`, `The registration request was sent at ${t} and waits for the platform operator, who will check the fingerprint with you.`, `La demande d’enregistrement a été envoyée le ${t} et attend l’opérateur de la plateforme, qui vérifiera l’empreinte avec vous.`],
  req_bad_actor: ['请先在上面的 “参与方 ID” 一栏填写希望使用的 ID（2–64 个小写字母、数字或 “-”）。', 'Enter the id you ask for in the "Actor id" field above first (2–64 characters of a–z, 0–9 and "-").', 'Saisissez d’abord l’identifiant demandé dans le champ « Identifiant d’intervenant » ci-dessus (2 à 64 caractères parmi a–z, 0–9 et « - »).'],
  req_bad_text: ['机构名称和联系方式为 1–200 个字符，备注最多 1000 个字符。', 'Organisation and contact are 1–200 characters, the note at most 1,000.', 'L’organisation et le contact comportent de 1 à 200 caractères, la remarque 1000 au plus.'],
  req_bad_country: ['国家/地区为两位字母（ISO 3166）。', 'The country is two letters (ISO 3166).', 'Le pays est un code à deux lettres (ISO 3166).'],
  req_refused: (s) => [`申请未被接受（HTTP ${s}）。`, `The request was refused (HTTP ${s}).`, `La demande a été refusée (HTTP ${s}).`],
  req_too_many: ['提交过于频繁，请稍后再试。', 'Too many requests from this network; try again later.', 'Trop de demandes depuis ce réseau ; réessayez plus tard.'],
  'registry.bad_request_signature': ['申请的签名无法通过验证。', 'The request signature does not verify.', 'La vérification de la signature de la demande a échoué.'],
  'registry.wrong_log': ['申请是为另一个部署的日志签名的。', "The request was signed for another deployment's log.", 'La demande a été signée pour le journal d’un autre déploiement.'],
  'registry.stale_request': ['签名时间与服务器时间相差过大：请检查本机时钟后重试。', "The signing time is too far from the server's: check this device's clock and try again.", 'L’heure de signature est trop éloignée de celle du serveur : vérifiez l’horloge de cet appareil et réessayez.'],
  'registry.too_many_requests': ['待处理的登记申请已满：请稍后再试，或直接把公钥和指纹发给运营方。', 'Too many requests are waiting: try later, or send the public key and fingerprint to the operator directly.', 'Trop de demandes en attente : réessayez plus tard, ou envoyez directement la clé publique et l’empreinte à l’opérateur.'],
  me_log_mismatch: (a, b) => [`注意：服务器报告的日志是 ${a}，本页签名使用 ${b}。`, `Note: the server reports log ${a}; this page signs for ${b}.`, `Attention : le serveur indique le journal ${a} ; cette page signe pour ${b}.`],

  lots_h: ['我的批次', 'My lots', 'Mes lots'],
  lot_input: ['打开批次：批次号（14 位 GTIN.批号）、商品标签码或批次二维码内容', 'Open a lot: lot id (GTIN-14.lot), a label code or the lot QR text', 'Ouvrir un lot : identifiant de lot (GTIN-14.lot), code d’étiquette ou texte du QR code du lot'],
  lot_open: ['打开', 'Open', 'Ouvrir'],
  lot_scan: ['扫码', 'Scan', 'Scanner'],
  lot_bad: ['无法识别批次。请输入 “14 位 GTIN.批号”（例如 09312345000128.AU2610A），或标签上的码。',
    'Not a lot. Enter "GTIN-14.lot" (e.g. 09312345000128.AU2610A) or the code on a label.', 'Lot non reconnu. Saisissez « GTIN-14.lot » (p. ex. 09312345000128.AU2610A) ou le code figurant sur une étiquette.'],
  lot_loading: ['正在打开批次…', 'Opening the lot…', 'Ouverture du lot…'],
  lot_opened_h: ['已打开的批次', 'Opened lot', 'Lot ouvert'],
  lot_not_engaged: ['注意：此产品的进口商没有委托您，服务器将拒绝您的记录。', 'Note: the importer of this product has not engaged you; the server will refuse your records.', 'Attention : l’importateur de ce produit ne vous a pas mandaté ; le serveur refusera vos enregistrements.'],
  lots_loading: ['正在加载批次…', 'Loading lots…', 'Chargement des lots…'],
  lots_failed: ['无法加载批次。', 'Could not load the lots.', 'Impossible de charger les lots.'],
  lots_empty: ['暂无批次：还没有进口商就其产品委托您。', 'No lots yet: no importer has engaged you for its products.', 'Aucun lot pour l’instant : aucun importateur ne vous a mandaté pour ses produits.'],
  lots_truncated: ['列表过长，只显示了一部分；其他批次请用上面的输入框打开。', 'The list is long and shows only part; open other lots with the box above.', 'La liste est longue et n’est affichée qu’en partie ; ouvrez les autres lots avec le champ ci-dessus.'],
  lots_refresh: ['刷新', 'Refresh', 'Actualiser'],
  lots_need_key: ['登记的密钥就绪后，这里会列出进口商委托您的批次。', 'Once your key is registered, the lots importers engaged you for are listed here.', 'Une fois votre clé enregistrée, les lots pour lesquels des importateurs vous ont mandaté s’affichent ici.'],
  lot_stage: ['阶段', 'Stage', 'Phase'],
  lot_importer: ['进口商', 'Importer', 'Importateur'],
  lot_flags: ['状态', 'Status', 'État'],
  lot_next: ['可记录的环节', 'Steps you can record', 'Étapes que vous pouvez enregistrer'],
  lot_no_steps: ['目前没有您可以记录的环节。', 'Nothing for you to record now.', 'Rien à enregistrer pour vous pour le moment.'],
  flag_recalled: ['已召回', 'recalled', 'rappelé'],
  flag_released: ['已整批放行', 'released', 'sorti d’entrepôt'],
  flag_sold: ['已整批售出', 'sold', 'vendu'],
  flag_hold: (t) => [`${t}暂扣中`, `${t} hold`, `retenue ${t}`],
  flag_non_conformant: ['原产地核验不合格', 'origin attestation non-conformant', 'attestation d’origine non conforme'],

  scan_h: ['扫描二维码', 'Scan a QR code', 'Scanner un QR code'],
  scan_hint: ['将二维码对准摄像头。', 'Point the camera at the QR code.', 'Pointez la caméra vers le QR code.'],
  scan_cancel: ['取消', 'Cancel', 'Annuler'],
  scan_failed: ['无法打开摄像头。', 'Could not open the camera.', 'Impossible d’ouvrir la caméra.'],

  form_h: ['记录环节', 'Record a step', 'Enregistrer une étape'],
  f_lot: ['批次', 'Lot', 'Lot'],
  f_time: ['事件发生时间（本地时间）', 'When it happened (local time)', 'Date et heure de l’événement (heure locale)'],
  f_place: ['地点（可选；填写任一项时，名称和国家必填）', 'Place (optional; once any field is given, name and country are required)', 'Lieu (facultatif ; dès qu’un champ est rempli, le nom et le pays sont obligatoires)'],
  f_place_name: ['地点名称', 'Place name', 'Nom du lieu'],
  f_place_country: ['国家/地区（两位大写字母，如 AU）', 'Country (2 capital letters, e.g. AU)', 'Pays (2 lettres majuscules, p. ex. AU)'],
  f_place_unlocode: ['UN/LOCODE（可选，如 AUMEL）', 'UN/LOCODE (optional, e.g. AUMEL)', 'UN/LOCODE (facultatif, p. ex. AUMEL)'],
  f_place_gln: ['GLN（可选，13 位）', 'GLN (optional, 13 digits)', 'GLN (facultatif, 13 chiffres)'],
  f_certificate_no: ['证书编号', 'Certificate number', 'Numéro de certificat'],
  f_origin_country: ['原产国（两位大写字母）', 'Country of origin (2 capital letters)', 'Pays d’origine (2 lettres majuscules)'],
  f_producer: ['生产商', 'Producer', 'Producteur'],
  f_inspection_date: ['检验日期', 'Inspection date', 'Date d’inspection'],
  f_result: ['核验结论', 'Result', 'Résultat'],
  f_documents: ['证明文件（可选，可多选）：只在本机计算 SHA-256；只有勾选“公开”的文件才会上传', 'Documents (optional, several allowed): hashed here with SHA-256; only files ticked "publish" are uploaded', 'Documents (facultatifs, plusieurs possibles) : hachés ici en SHA-256 ; seuls les fichiers cochés « publier » sont téléversés'],
  f_packages: ['件数（可选）', 'Packages (optional)', 'Nombre de colis (facultatif)'],
  f_report_no: ['检验报告编号', 'Inspection report number', 'Numéro du rapport d’inspection'],
  f_samples: ['抽样件数', 'Units sampled', 'Unités prélevées'],
  f_container: ['集装箱号（可选）', 'Container (optional)', 'Conteneur (facultatif)'],
  f_transport: ['运输工具：船名航次或航班（可选）', 'Transport: vessel, voyage or flight (optional)', 'Transport : navire, voyage ou vol (facultatif)'],
  f_bill_of_lading: ['提单号（可选）', 'Bill of lading (optional)', 'Connaissement (facultatif)'],
  f_declaration_no: ['报关单号', 'Declaration number', 'Numéro de déclaration'],
  f_declaration_no_opt: ['报关单号（可选）', 'Declaration number (optional)', 'Numéro de déclaration (facultatif)'],
  f_location: ['库位（可选）', 'Location (optional)', 'Emplacement (facultatif)'],
  f_hold_type: ['暂扣类型', 'Hold type', 'Type de retenue'],
  f_reason: ['原因', 'Reason', 'Motif'],
  f_reason_release: ['解除原因（问题如何解决）', 'What resolved it', 'Comment le problème a été résolu'],
  f_order_no: ['订单号（可选）', 'Order number (optional)', 'Numéro de commande (facultatif)'],
  f_items: ['商品标签码（可选，每行一个；留空表示整批）', 'Label codes (optional, one per line; leave empty for the whole lot)', 'Codes d’étiquette (facultatif, un par ligne ; laisser vide pour le lot entier)'],
  items_scan: ['扫描商品标签', 'Scan a label', 'Scanner une étiquette'],
  items_count: (n) => [`${n} 个码`, `${n} codes`, `${n} codes`],
  choose: ['请选择', 'Choose', 'Choisir'],
  result_conformant: ['合格', 'conformant', 'conforme'],
  result_non_conformant: ['不合格', 'non-conformant', 'non conforme'],
  doc_hashing: ['正在计算 SHA-256…', 'Computing SHA-256…', 'Calcul de l’empreinte SHA-256…'],
  doc_publish: ['公开此文件，供消费者查看', 'Publish this document so consumers can view it', 'Publier ce document pour que les consommateurs puissent le consulter'],
  doc_not_publishable: ['只能公开 5 MiB 以内的 PDF、PNG 或 JPEG 文件。', 'Only PDF, PNG or JPEG files up to 5 MiB can be published.', 'Seuls les fichiers PDF, PNG ou JPEG de 5 Mio au plus peuvent être publiés.'],
  doc_read_failed: ['无法读取文件。', 'Could not read the file.', 'Impossible de lire le fichier.'],
  submit: ['签名并提交', 'Sign and submit', 'Signer et envoyer'],
  cancel: ['取消', 'Cancel', 'Annuler'],
  form_fix: ['请更正标出的字段。', 'Please correct the marked fields.', 'Veuillez corriger les champs signalés.'],

  err_required: ['必填。', 'Required.', 'Obligatoire.'],
  err_spaces: ['开头和结尾不能有空格。', 'No spaces at the start or end.', 'Pas d’espace au début ni à la fin.'],
  err_long: ['不能超过 200 个字符。', 'At most 200 characters.', '200 caractères au maximum.'],
  err_control: ['不能包含控制字符。', 'No control characters.', 'Pas de caractères de contrôle.'],
  err_country: ['请填写两位大写字母的国家代码（ISO 3166-1，如 AU、CN）。', 'Two capital letters (ISO 3166-1, e.g. AU, CN).', 'Deux lettres majuscules (ISO 3166-1, p. ex. AU, CN).'],
  err_date: ['请填写有效日期（年-月-日）。', 'A valid date (YYYY-MM-DD).', 'Une date valide (AAAA-MM-JJ).'],
  err_time: ['请填写有效的日期和时间。', 'A valid date and time.', 'Une date et une heure valides.'],
  err_int: ['请填写不小于 1 的整数。', 'A whole number, at least 1.', 'Un nombre entier, au moins 1.'],
  err_declno: ['只能包含字母、数字和 “-”。', 'Letters, digits and "-" only.', 'Lettres, chiffres et « - » uniquement.'],
  err_unlocode: ['UN/LOCODE 为 5 个字符，不含空格，如 AUMEL。', 'A UN/LOCODE is 5 characters without the space, e.g. AUMEL.', 'Un UN/LOCODE comporte 5 caractères sans l’espace, p. ex. AUMEL.'],
  err_gln: ['GLN 为 13 位数字，且校验位正确。', 'A GLN is 13 digits with a valid check digit.', 'Un GLN comporte 13 chiffres avec une clé de contrôle valide.'],
  err_place: ['填写地点时，名称和国家必填。', 'With a place, its name and country are required.', 'Si un lieu est indiqué, son nom et son pays sont obligatoires.'],
  err_items_code: (n) => [`第 ${n} 个码不是有效的商品标签码。`, `Code ${n} is not a valid label code.`, `Le code ${n} n’est pas un code d’étiquette valide.`],
  err_items_lot: (n) => [`第 ${n} 个码不属于此批次。`, `Code ${n} is of another lot.`, `Le code ${n} appartient à un autre lot.`],
  err_items_many: ['一次最多 10000 个码。', 'At most 10,000 codes at once.', '10 000 codes au maximum à la fois.'],
  err_docs_many: ['最多 32 个文件。', 'At most 32 documents.', '32 documents au maximum.'],
  err_doc_name: (n) => [`文件名 “${n}” 不符合要求（1–200 个字符，首尾无空格，无控制字符）。`, `The file name "${n}" cannot be used (1–200 characters, no edge spaces, no control characters).`, `Le nom de fichier « ${n} » ne peut pas être utilisé (1 à 200 caractères, sans espace au début ni à la fin, sans caractères de contrôle).`],

  res_busy: ['正在获取批次最新状态、签名并提交…', 'Fetching the lot head, signing and submitting…', 'Récupération du dernier état du lot, signature et envoi…'],
  res_accepted: ['已接受', 'Accepted', 'Accepté'],
  res_step: ['环节', 'Step', 'Étape'],
  res_lot: ['批次', 'Lot', 'Lot'],
  res_leaf: ['日志叶索引', 'Log leaf index', 'Index de feuille du journal'],
  res_hash: ['记录哈希', 'Record hash', 'Hachage de l’enregistrement'],
  res_refused: (s) => [`服务器拒绝了请求（HTTP ${s}）。`, `The server refused the request (HTTP ${s}).`, `Le serveur a refusé la demande (HTTP ${s}).`],
  res_server: (s) => [`服务器出错（HTTP ${s}），请稍后再试。`, `The server failed (HTTP ${s}); try again later.`, `Erreur du serveur (HTTP ${s}) ; réessayez plus tard.`],
  res_network: ['网络错误：无法连接服务器，请重试。', 'Network error: the server could not be reached; please try again.', 'Erreur réseau : le serveur est injoignable ; veuillez réessayer.'],
  res_unexpected: ['服务器的回答无法识别。', 'The server answered something this page does not understand.', 'Le serveur a renvoyé une réponse que cette page ne comprend pas.'],
  res_sign_failed: ['无法在本机签名。', 'Could not sign on this device.', 'Impossible de signer sur cet appareil.'],
  res_no_key: ['本设备没有已登记的密钥，无法签名。', 'There is no registered key on this device to sign with.', 'Aucune clé enregistrée sur cet appareil pour signer.'],
  res_rate: ['请求过于频繁，请稍后再试。', 'Too many requests; please try again in a moment.', 'Trop de demandes ; veuillez réessayer dans un instant.'],
  resign: ['按批次最新状态重新签名并提交', 'Sign again against the new head and submit', 'Signer à nouveau sur le dernier état du lot et envoyer'],
  uploads_h: ['文件公开', 'Published documents', 'Documents publiés'],
  upload_busy: ['正在上传…', 'Uploading…', 'Téléversement…'],
  upload_ok: ['已公开', 'published', 'publié'],
  upload_failed: ['上传失败', 'upload failed', 'échec du téléversement'],

  step_origin_attestation: ['原产地核验', 'Origin attestation', 'Attestation d’origine'],
  step_packing: ['装箱封签', 'Packing', 'Emballage'],
  step_shipping: ['交运', 'Shipping', 'Expédition'],
  step_departing: ['启运离境', 'Departing', 'Départ'],
  step_arriving: ['运抵入境', 'Arriving', 'Arrivée'],
  step_customs_declaration: ['海关申报', 'Customs declaration', 'Déclaration en douane'],
  step_customs_clearance: ['海关放行', 'Customs clearance', 'Dédouanement'],
  step_receiving: ['入库收货', 'Receiving', 'Réception'],
  step_storing: ['在库存储', 'Storing', 'Stockage'],
  step_sampling: ['抽样检验', 'Sampling inspection', 'Inspection par échantillonnage'],
  step_holding: ['暂扣', 'Hold', 'Retenue'],
  step_hold_release: ['解除暂扣', 'Hold release', 'Levée de retenue'],
  step_release: ['出库放行', 'Release', 'Sortie d’entrepôt'],
  step_retail_sale: ['零售销售', 'Retail sale', 'Vente au détail'],
  step_self_pickup: ['自提', 'Self-pickup', 'Retrait par le client'],
  stage_new: ['待核验', 'new', 'nouveau'],
  stage_attested: ['已核验', 'attested', 'attesté'],
  stage_shipped: ['已交运', 'shipped', 'expédié'],
  stage_departed: ['已启运', 'departed', 'parti'],
  stage_arrived: ['已运抵', 'arrived', 'arrivé'],
  stage_declared: ['已申报', 'declared', 'déclaré'],
  stage_cleared: ['已放行', 'cleared', 'dédouané'],
  stage_received: ['已入库', 'received', 'réceptionné'],
  role_inspector: ['检验机构', 'inspector', 'inspecteur'],
  role_carrier: ['承运人', 'carrier', 'transporteur'],
  role_customs_broker: ['报关行', 'customs broker', 'commissionnaire en douane'],
  role_bonded_warehouse: ['保税仓库', 'bonded warehouse', 'entrepôt sous douane'],
  role_retailer: ['零售商/自提点', 'retailer', 'détaillant'],
  hold_customs: ['海关', 'customs', 'douane'],
  hold_quality: ['质量', 'quality', 'qualité'],

  // Refusals by problem code (docs/api.md, Error codes); the server's English detail follows.
  'custody.malformed_statement': ['记录格式不正确。', 'The record is malformed.', 'L’enregistrement est mal formé.'],
  'custody.malformed_signature': ['签名格式不正确。', 'The signature is malformed.', 'La signature est mal formée.'],
  'custody.record_too_large': ['记录过大：请把商品分成几条记录提交。', 'The record is too large: split the items over several records.', 'L’enregistrement est trop volumineux : répartissez les articles sur plusieurs enregistrements.'],
  'custody.wrong_log': ['记录是为另一个部署的日志签名的。', "The record was signed for another deployment's log.", 'L’enregistrement a été signé pour le journal d’un autre déploiement.'],
  'custody.unknown_actor': ['参与方未登记。', 'The actor is not registered.', 'L’intervenant n’est pas enregistré.'],
  'custody.unknown_key': ['此密钥未登记在您的名下。', 'This key is not registered for you.', 'Cette clé n’est pas enregistrée à votre nom.'],
  'custody.bad_signature': ['签名无法通过验证。', 'The signature does not verify.', 'La vérification de la signature a échoué.'],
  'custody.key_not_yet_valid': ['此密钥在签名时尚未生效。', 'This key was not yet valid when you signed.', 'Cette clé n’était pas encore valide au moment de la signature.'],
  'custody.key_expired': ['此密钥已过期或已被轮换。', 'This key has expired or was rotated out.', 'Cette clé a expiré ou a été remplacée lors d’une rotation.'],
  'custody.key_revoked': ['此密钥已被吊销。', 'This key has been revoked.', 'Cette clé a été révoquée.'],
  'custody.signed_at_out_of_window': ['签名时间超出允许范围：请检查本机时钟后重试。', "The signing time is outside the allowed window: check this device's clock and try again.", 'L’heure de signature est hors de la plage autorisée : vérifiez l’horloge de cet appareil et réessayez.'],
  'custody.role_not_allowed': ['您的角色无权记录此环节。', 'Your role may not record this step.', 'Votre rôle ne permet pas d’enregistrer cette étape.'],
  'custody.hold_not_owned': ['此类暂扣由其他角色负责。', 'Holds of this type belong to another role.', 'Les retenues de ce type relèvent d’un autre rôle.'],
  'custody.unregistered_product': ['此批次的产品未在平台登记。', "The lot's product is not registered.", 'Le produit de ce lot n’est pas enregistré.'],
  'custody.unknown_item': ['有商品码不是此批次已签发的商品。', 'A code is not an issued item of this lot.', 'Un code ne correspond à aucun article émis pour ce lot.'],
  'custody.undeclared_lot': ['此批次既未签发也未申报：请平台运营方先申报批次。', 'The lot was neither issued nor declared: the operator must declare it first.', 'Le lot n’a été ni émis ni déclaré : l’opérateur doit d’abord le déclarer.'],
  'custody.lot_not_found': ['找不到此批次。', 'No such lot.', 'Lot introuvable.'],
  'custody.replay': ['此随机数已用过（重复提交）。', 'This nonce was used before (a replay).', 'Ce nonce a déjà été utilisé (rejeu).'],
  'custody.lot_full': ['此批次的记录数已达上限。', 'The lot holds the most records a lot may have.', 'Le lot a atteint le nombre maximal d’enregistrements autorisé.'],
  'custody.stale_head': ['批次已被其他记录更新：请按最新状态重新签名。', 'Another record moved the lot on in the meantime: sign again against its new head.', 'Un autre enregistrement a fait évoluer le lot entre-temps : signez à nouveau sur son nouvel état.'],
  'custody.out_of_order': ['此环节不符合批次当前的状态或顺序。', "The step is out of order for the lot's current state.", 'Cette étape ne respecte pas l’ordre prévu compte tenu de l’état actuel du lot.'],
  'custody.already_recalled': ['此批次已被召回。', 'The lot has been recalled.', 'Le lot a été rappelé.'],
  'engagement.not_engaged': ['签名时您未受此产品进口商的委托。', "You were not engaged by the product's importer when you signed.", 'Vous n’étiez pas mandaté par l’importateur du produit au moment de la signature.'],
  'engagement.no_longer_engaged': ['委托在记录送达前已结束或到期。', 'The engagement ended or expired before the record arrived.', 'Le mandat a pris fin ou a expiré avant la réception de l’enregistrement.'],
  'input.invalid_field': ['有字段格式不正确。', 'A field is malformed.', 'Un champ est mal formé.'],
  'input.empty_text': ['有文本字段为空。', 'A text field is empty.', 'Un champ de texte est vide.'],
  'input.text_too_long': ['有文本字段过长。', 'A text field is too long.', 'Un champ de texte est trop long.'],
  'input.control_characters': ['有文本字段包含控制字符。', 'A text field contains control characters.', 'Un champ de texte contient des caractères de contrôle.'],
  'store.unavailable': ['存储暂时不可用，请稍后再试。', 'Storage is unavailable; try again later.', 'Le stockage est indisponible ; réessayez plus tard.'],
};

const HOLD_OF_ROLE = { customs_broker: 'customs', bonded_warehouse: 'quality' };
const PUBLISHABLE = { 'application/pdf': ['.pdf'], 'image/png': ['.png'], 'image/jpeg': ['.jpg', '.jpeg'] };
const MAX_UPLOAD = 5 * 1024 * 1024;
const TIMEOUT_MS = 20000;
const UPLOAD_TIMEOUT_MS = 120000;

const has = (k) => typeof k === 'string' && Object.prototype.hasOwnProperty.call(M, k);

function startPage() {
  const root = document.documentElement;
  const app = document.getElementById('app');
  if (!app) return;
  const LOG = root.dataset.log || '';

  // The page's state; everything on screen is rendered from it.
  const S = {
    key: null,          // {actor, privateKey, publicKey, publicRaw, kid} from IndexedDB
    fingerprint: '',
    supported: null,    // WebCrypto Ed25519 available
    idb: true,
    skew: 0,            // server clock − local clock, seconds
    me: null,           // answer of /api/v1/actor/me
    meState: 'none',    // none | need_actor | loading | registered | unregistered | error
    meDetail: '',
    lots: null,         // array of lot entries, or null
    lotsState: 'idle',  // idle | loading | ok | error
    lotsDetail: '',
    truncated: false,
    opened: null,       // the lot opened by hand (API 3 answer)
    pending: null,      // the last form data signed (for re-signing after custody.stale_head)
    busy: false,
    reqOpen: false,     // the registration request form shown again after a request was sent
  };

  // ---------------------------------------------------------------- language
  const lang = () => langOf(root.lang);
  /** The message `key` (or a (lang) => text function) in the current language. */
  function msg(key, ...args) {
    if (typeof key === 'function') return key(lang());
    if (!has(key)) return String(key);
    const e = M[key];
    return inLang(typeof e === 'function' ? e(...args) : e, lang());
  }
  // Translated elements remember their message, so a language switch re-labels them in place
  // (typed values, chosen files and focus survive).
  const labels = new WeakMap();
  function T(el, key, ...args) {
    el.textContent = msg(key, ...args);
    const l = labels.get(el) || {};
    l.text = [key, args];
    labels.set(el, l);
    el.setAttribute('data-i18n', '');
    return el;
  }
  function TA(el, attr, key, ...args) {
    el.setAttribute(attr, msg(key, ...args));
    const l = labels.get(el) || {};
    (l.attrs = l.attrs || {})[attr] = [key, args];
    labels.set(el, l);
    el.setAttribute('data-i18n', '');
    return el;
  }
  function relabel() {
    for (const el of document.querySelectorAll('[data-i18n]')) {
      const l = labels.get(el);
      if (!l) continue;
      if (l.text) el.textContent = msg(l.text[0], ...l.text[1]);
      for (const [a, [k, args]] of Object.entries(l.attrs || {})) el.setAttribute(a, msg(k, ...args));
    }
    // The shell's titles (data-title-zh, -en, -fr) name the page as the server does.
    document.title = root.dataset[TITLE_DATA[lang()]] || msg('title');
    for (const b of document.querySelectorAll('#lang-switch button')) {
      b.setAttribute('aria-pressed', String(b.dataset.lang === lang()));
    }
  }
  function setLang(l) {
    const to = langOf(l);
    root.lang = LANG_TAGS[to];
    document.cookie = 'ts_lang=' + to + '; path=/; max-age=31536000; SameSite=Lax';
    relabel();
  }

  // ---------------------------------------------------------------- DOM helpers
  /** createElement with attributes; `i18n` (key or [key, ...args]) sets translated text. */
  function h(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'text') e.textContent = String(v);
      else if (k === 'i18n') T(e, ...[].concat(v));
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of kids) if (c !== null && c !== undefined && c !== false) e.append(c);
    return e;
  }
  const $ = (s, r) => (r || document).querySelector(s);
  const str = (v) => (typeof v === 'string' ? v : '');
  const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
  const knownStep = (s) => typeof s === 'string' && STEPS.includes(s);
  const stepLabel = (s) => (knownStep(s) ? 'step_' + s : () => String(s));
  const utc = (t) => (Number.isFinite(t) ? new Date(t * 1000).toISOString().replace('.000Z', 'Z') : '?');
  const nowSecs = () => Math.floor(Date.now() / 1000) + S.skew;

  // ---------------------------------------------------------------- network
  class NetError extends Error {}

  /** fetch with a time limit over the whole exchange; the body is read as text, then JSON. */
  async function call(method, path, { headers = {}, body, timeout = TIMEOUT_MS } = {}) {
    const c = new AbortController();
    const t = setTimeout(() => c.abort(), timeout);
    let r, text;
    try {
      r = await fetch(path, { method, headers: Object.assign({ accept: 'application/json' }, headers), body, signal: c.signal, credentials: 'same-origin', cache: 'no-store' });
      text = await r.text();
    } catch (e) {
      throw new NetError(String(e && e.message));
    } finally { clearTimeout(t); }
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch (e) { json = null; }
    const problem = !r.ok && isObj(json) ? { code: str(json.code), detail: str(json.detail), title: str(json.title) } : (r.ok ? null : { code: '', detail: '', title: '' });
    return { status: r.status, ok: r.ok, json, problem, date: r.headers.get('date') };
  }

  /** A request signed with the actor's key: Authorization: Traceseal-Actor actor=…,kid=…,at=…,sig=… */
  async function signedCall(method, pathAndQuery, opts = {}) {
    const k = S.key;
    if (!k || !k.actor) throw new Error('no key');
    const at = nowSecs();
    const sig = new Uint8Array(await crypto.subtle.sign({ name: 'Ed25519' }, k.privateKey, requestBytes(LOG, method, pathAndQuery, at)));
    const headers = Object.assign({}, opts.headers, {
      authorization: 'Traceseal-Actor actor=' + k.actor + ',kid=' + k.kid + ',at=' + at + ',sig=' + b64url(sig),
    });
    return call(method, pathAndQuery, Object.assign({}, opts, { headers }));
  }
  const lotPath = (lot) => '/api/v1/actor/lots/' + encodeURIComponent(lot);

  // ---------------------------------------------------------------- key storage (IndexedDB)
  function idb(mode, op) {
    return new Promise((resolve, reject) => {
      const open = indexedDB.open('traceseal-actor', 1);
      open.onupgradeneeded = () => open.result.createObjectStore('keys');
      open.onerror = () => reject(open.error);
      open.onsuccess = () => {
        const db = open.result;
        let out;
        try {
          const tx = db.transaction('keys', mode);
          const req = op(tx.objectStore('keys'));
          req.onsuccess = () => { out = req.result; };
          tx.oncomplete = () => { db.close(); resolve(out); };
          tx.onerror = tx.onabort = () => { db.close(); reject(tx.error || req.error); };
        } catch (e) { db.close(); reject(e); }
      };
    });
  }
  const keyLoad = () => idb('readonly', (s) => s.get('current'));
  const keyStore = (rec) => idb('readwrite', (s) => s.put(rec, 'current'));
  const keyDelete = () => idb('readwrite', (s) => s.delete('current'));

  /** The stored record's shape, checked (an old or foreign record counts as no key). */
  function keyUsable(r) {
    return isObj(r) && r.privateKey && typeof r.privateKey === 'object' && typeof r.publicRaw === 'string' &&
      /^[0-9a-f]{8}$/.test(str(r.kid));
  }

  async function ed25519Supported() {
    if (!window.isSecureContext || !window.crypto || !crypto.subtle) return false;
    try {
      // The Ed25519 base point: any browser with Ed25519 imports it.
      await crypto.subtle.importKey('raw', Uint8Array.from([0x58, ...new Array(31).fill(0x66)]), { name: 'Ed25519' }, false, ['verify']);
      return true;
    } catch (e) {
      return false;
    }
  }

  /** The record to store for a key pair (the private key already non-extractable). */
  async function keyRecord(privateKey, publicKey, actor) {
    const raw = new Uint8Array(await crypto.subtle.exportKey('raw', publicKey));
    const kid = hex((await sha256(raw)).slice(0, 4));
    return { actor: actor || '', privateKey, publicKey, publicRaw: b64std(raw), kid };
  }

  async function generateKey(actor) {
    const kp = await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify']);
    return keyRecord(kp.privateKey, kp.publicKey, actor);
  }

  /** A PKCS#8 PEM of an Ed25519 key (traceseal actor-key), re-imported non-extractable. */
  async function importPem(text, actor) {
    const m = /-----BEGIN PRIVATE KEY-----([A-Za-z0-9+/=\s]+)-----END PRIVATE KEY-----/.exec(text);
    if (!m) throw Object.assign(new Error('pem'), { key: 'key_bad_pem' });
    let der;
    try { der = unb64(m[1].replace(/\s+/g, '')); } catch (e) { throw Object.assign(new Error('pem'), { key: 'key_bad_pem' }); }
    let jwk;
    try {
      // Once extractable, only to read the public key (x) and move the private key to a
      // non-extractable CryptoKey; the extractable one is dropped here.
      const tmp = await crypto.subtle.importKey('pkcs8', der, { name: 'Ed25519' }, true, ['sign']);
      jwk = await crypto.subtle.exportKey('jwk', tmp);
    } catch (e) {
      throw Object.assign(new Error('not ed25519'), { key: 'key_not_ed25519' });
    }
    if (!jwk || jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || !jwk.d || !jwk.x) throw Object.assign(new Error('jwk'), { key: 'key_not_ed25519' });
    const privateKey = await crypto.subtle.importKey('jwk', { kty: 'OKP', crv: 'Ed25519', d: jwk.d, x: jwk.x }, { name: 'Ed25519' }, false, ['sign']);
    const publicKey = await crypto.subtle.importKey('raw', unb64(jwk.x), { name: 'Ed25519' }, true, ['verify']);
    jwk.d = '';
    return keyRecord(privateKey, publicKey, actor);
  }

  // ---------------------------------------------------------------- the shell
  const ui = {};
  function renderShell() {
    // One button per language, each named in its own language; the current one is pressed.
    const sw = h('div', { id: 'lang-switch', class: 'langs', role: 'group' });
    TA(sw, 'aria-label', 'language');
    for (const l of LANGS) {
      const b = h('button', { class: 'lang', type: 'button', lang: LANG_TAGS[l], 'data-lang': l, 'aria-pressed': String(l === lang()), text: LANG_NAMES[l] });
      b.addEventListener('click', (e) => {
        e.preventDefault();
        setLang(l);
      });
      sw.append(b);
    }
    app.append(h('div', { class: 'bar' }, sw));
    for (const n of Array.from(app.childNodes)) if (n.nodeName === 'NOSCRIPT') n.remove();

    ui.alert = h('p', { id: 'support', class: 'alert', role: 'alert', hidden: true });
    ui.key = h('section', { id: 'key', 'aria-labelledby': 'key-h' });
    ui.lots = h('section', { id: 'lots', 'aria-labelledby': 'lots-h' });
    ui.step = h('section', { id: 'step', 'aria-labelledby': 'step-h', hidden: true });
    ui.result = h('div', { id: 'result', 'aria-live': 'polite', role: 'status', tabindex: '-1', hidden: true });
    ui.scanner = buildScanner();
    app.append(ui.alert, ui.key, ui.lots, ui.step, ui.result, ui.scanner);
    buildKeySection();
    buildLotsSection();
  }

  // ---------------------------------------------------------------- key section
  function buildKeySection() {
    const gen = h('button', { id: 'key-generate', type: 'button', i18n: 'key_generate', onclick: onGenerate });
    const imp = h('input', { id: 'key-import', type: 'file', accept: '.pem,application/x-pem-file,text/plain', onchange: onImport });
    ui.keyNone = h('div', { id: 'key-none' },
      h('p', { i18n: 'key_none' }),
      gen,
      h('label', { for: 'key-import', class: 'file', i18n: 'key_import' }),
      imp);
    ui.keyPublic = h('code', { id: 'key-public', class: 'mono' });
    ui.keyKid = h('code', { id: 'key-kid', class: 'mono' });
    ui.keyFp = h('code', { id: 'key-fingerprint', class: 'mono' });
    ui.keyInfo = h('div', { id: 'key-info', hidden: true },
      h('dl', {},
        h('dt', { i18n: 'key_public' }), h('dd', {}, ui.keyPublic),
        h('dt', { i18n: 'key_kid' }), h('dd', {}, ui.keyKid),
        h('dt', { i18n: 'key_fp' }), h('dd', {}, ui.keyFp)),
      h('p', { class: 'note', i18n: 'key_send' }),
      h('button', { id: 'key-copy', type: 'button', class: 'secondary', i18n: 'key_copy', onclick: onCopy }));
    ui.actorId = h('input', { id: 'actor-id', type: 'text', autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false', maxlength: '64', 'aria-describedby': 'key-msg' });
    ui.actorSave = h('button', { id: 'actor-save', type: 'button', i18n: 'actor_save', onclick: onActorSave });
    ui.actorRow = h('div', { class: 'field' },
      h('label', { for: 'actor-id', i18n: 'actor_id' }),
      h('div', { class: 'row' }, ui.actorId, ui.actorSave));
    ui.keyForget = h('button', { id: 'key-forget', type: 'button', class: 'danger', i18n: 'key_forget', onclick: onForget, hidden: true });
    ui.keyMsg = h('p', { id: 'key-msg', class: 'msg', 'aria-live': 'polite' });
    ui.me = h('div', { id: 'me', 'aria-live': 'polite' });
    ui.request = buildRequestForm();
    ui.key.append(h('h2', { id: 'key-h', i18n: 'key_h' }), h('p', { class: 'note', i18n: 'key_intro' }),
      ui.keyNone, ui.keyInfo, ui.actorRow, ui.me, ui.request, ui.keyMsg, ui.keyForget);
  }

  function keyMsg(key, state, ...args) {
    if (!key) { ui.keyMsg.replaceChildren(); ui.keyMsg.removeAttribute('data-state'); return; }
    T(ui.keyMsg, key, ...args);
    ui.keyMsg.dataset.state = state || 'info';
  }

  function renderKey() {
    const k = S.key;
    const usable = S.supported && S.idb;
    ui.keyNone.hidden = !!k;
    ui.keyInfo.hidden = !k;
    ui.keyForget.hidden = !k;
    $('#key-generate').disabled = !usable;
    $('#key-import').disabled = !usable;
    ui.keyPublic.textContent = k ? k.publicRaw : '';
    ui.keyKid.textContent = k ? k.kid : '';
    ui.keyFp.textContent = k ? S.fingerprint : '';
    if (document.activeElement !== ui.actorId) ui.actorId.value = k ? str(k.actor) : ui.actorId.value;
    ui.actorSave.disabled = !k;
  }

  function renderMe() {
    renderRequest();
    const me = ui.me;
    me.replaceChildren();
    me.dataset.state = S.meState;
    if (S.meState === 'none') return;
    if (S.meState === 'need_actor') return me.append(h('p', { class: 'msg', i18n: 'me_need_actor' }));
    if (S.meState === 'loading') return me.append(h('p', { class: 'msg', i18n: 'me_loading' }));
    if (S.meState === 'unregistered' || S.meState === 'error') {
      me.append(h('p', { class: S.meState === 'unregistered' ? 'warnbox' : 'alert', i18n: S.meState === 'unregistered' ? 'me_unregistered' : 'me_failed' }));
      if (S.meDetail) me.append(h('p', { class: 'detail', lang: 'en', text: S.meDetail }));
      return;
    }
    const a = isObj(S.me && S.me.actor) ? S.me.actor : {};
    const role = str(a.role);
    const keys = Array.isArray(a.keys) ? a.keys : [];
    const mine = keys.find((x) => isObj(x) && x.kid === S.key.kid);
    let keyState = 'me_key_ok', keyArg = '';
    const now = nowSecs();
    if (mine) {
      if (Number.isFinite(mine.revoked_from) && mine.revoked_from <= now) { keyState = 'me_key_revoked'; keyArg = utc(mine.revoked_from); }
      else if (Number.isFinite(mine.not_after) && mine.not_after <= now) { keyState = 'me_key_expired'; keyArg = utc(mine.not_after); }
      else if (Number.isFinite(mine.not_before) && mine.not_before > now) { keyState = 'me_key_not_yet'; keyArg = utc(mine.not_before); }
    }
    me.append(h('dl', {},
      h('dt', { i18n: 'me_actor' }), h('dd', { id: 'me-actor', class: 'mono', text: str(a.id) }),
      h('dt', { i18n: 'me_org' }), h('dd', { id: 'me-organisation', text: str(a.organisation) }),
      h('dt', { i18n: 'me_role' }), h('dd', { id: 'me-role', 'data-role': role, i18n: has('role_' + role) ? 'role_' + role : () => role }),
      h('dt', { i18n: 'me_country' }), h('dd', { id: 'me-country', text: str(a.country) }),
      h('dt', { i18n: 'me_key' }), h('dd', { id: 'me-key', 'data-state': keyState.slice(7), class: keyState === 'me_key_ok' ? 'good' : 'bad', i18n: [keyState, keyArg] })));
    const slog = str(S.me.log);
    if (slog && LOG && slog !== LOG) me.append(h('p', { class: 'warnbox', i18n: ['me_log_mismatch', slog, LOG] }));
  }

  // ---------------------------------------------------------------- registration request
  const ROLES = ['inspector', 'carrier', 'customs_broker', 'bonded_warehouse', 'retailer'];

  function buildRequestForm() {
    const field = (id, key, el) => h('div', { class: 'field' }, h('label', { for: id, i18n: key }), el);
    ui.reqOrg = h('input', { id: 'req-organisation', type: 'text', maxlength: '200', autocomplete: 'organization' });
    ui.reqCountry = h('input', { id: 'req-country', type: 'text', maxlength: '2', autocapitalize: 'characters', class: 'short' });
    ui.reqRole = h('select', { id: 'req-role' }, ...ROLES.map((r) => h('option', { value: r, i18n: 'role_' + r })));
    ui.reqContact = h('input', { id: 'req-contact', type: 'text', maxlength: '200', autocomplete: 'email' });
    ui.reqNote = h('textarea', { id: 'req-note', rows: '2', maxlength: '1000' });
    ui.reqSend = h('button', { id: 'req-send', type: 'submit', i18n: 'req_send' });
    ui.reqMsg = h('p', { id: 'req-msg', class: 'msg', 'aria-live': 'polite' });
    ui.reqForm = h('form', { id: 'req-form', novalidate: true },
      h('p', { class: 'note', i18n: 'req_intro' }),
      h('p', { class: 'note', i18n: 'req_actor' }),
      field('req-organisation', 'req_org', ui.reqOrg),
      field('req-country', 'req_country', ui.reqCountry),
      field('req-role', 'req_role', ui.reqRole),
      field('req-contact', 'req_contact', ui.reqContact),
      field('req-note', 'req_note', ui.reqNote),
      ui.reqSend);
    ui.reqForm.addEventListener('submit', (e) => { e.preventDefault(); onRequest(); });
    ui.reqSent = h('p', { id: 'req-sent', class: 'okbox' });
    ui.reqAgain = h('button', { id: 'req-again', type: 'button', class: 'secondary', i18n: 'req_again', onclick: () => { S.reqOpen = true; renderRequest(); } });
    return h('section', { id: 'request', 'aria-labelledby': 'req-h', hidden: true },
      h('h3', { id: 'req-h', i18n: 'req_h' }), ui.reqSent, ui.reqAgain, ui.reqForm, ui.reqMsg);
  }

  /** The request form shows while this key is not registered; a sent request is remembered. */
  function renderRequest() {
    const open = !!S.key && (S.meState === 'unregistered' || S.meState === 'need_actor');
    ui.request.hidden = !open;
    if (!open) return;
    const sent = isObj(S.key.request) && Number.isFinite(S.key.request.at) ? S.key.request : null;
    ui.reqSent.hidden = !sent;
    ui.reqAgain.hidden = !sent || !!S.reqOpen;
    ui.reqForm.hidden = !!sent && !S.reqOpen;
    if (sent) T(ui.reqSent, 'req_sent', utc(sent.at));
  }

  function reqMsg(key, state, ...args) {
    if (!key) { ui.reqMsg.replaceChildren(); ui.reqMsg.removeAttribute('data-state'); return; }
    T(ui.reqMsg, key, ...args);
    ui.reqMsg.dataset.state = state || 'info';
  }

  /** The form's fields checked as the server checks them, or the message key of the first fault. */
  function requestFields() {
    const actor = ui.actorId.value.trim();
    const organisation = ui.reqOrg.value.trim();
    const contact = ui.reqContact.value.trim();
    const note = ui.reqNote.value.trim();
    const country = ui.reqCountry.value.trim().toUpperCase();
    const text = (s, max) => s.length >= 1 && [...s].length <= max && !/[\u0000-\u001f\u007f-\u009f]/.test(s);
    if (!actorIdValid(actor)) return { fault: 'req_bad_actor', el: ui.actorId };
    if (!text(organisation, 200)) return { fault: 'req_bad_text', el: ui.reqOrg };
    if (!/^[A-Z]{2}$/.test(country)) return { fault: 'req_bad_country', el: ui.reqCountry };
    if (!text(contact, 200)) return { fault: 'req_bad_text', el: ui.reqContact };
    if (note && [...note].length > 1000) return { fault: 'req_bad_text', el: ui.reqNote };
    return { actor, organisation, country, role: ui.reqRole.value, contact, note };
  }

  async function onRequest() {
    if (!S.key || S.busy) return;
    const f = requestFields();
    for (const el of [ui.actorId, ui.reqOrg, ui.reqCountry, ui.reqContact, ui.reqNote]) el.removeAttribute('aria-invalid');
    if (f.fault) {
      f.el.setAttribute('aria-invalid', 'true');
      f.el.focus();
      return reqMsg(f.fault, 'error');
    }
    S.busy = true;
    ui.reqSend.disabled = true;
    reqMsg('req_busy');
    try {
      const obj = buildRegistration({ log: LOG, publicKey: S.key.publicRaw, signedAt: nowSecs(), ...f });
      const request = canon(obj);
      const sig = new Uint8Array(await crypto.subtle.sign({ name: 'Ed25519' }, S.key.privateKey, registrationBytes(request)));
      const r = await call('POST', '/api/v1/actor-requests', {
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ request, signature: b64url(sig) }),
      });
      if (!r.ok) {
        const p = r.problem || {};
        const key = r.status === 429 ? 'req_too_many' : (has(p.code) ? p.code : null);
        T(ui.reqMsg, () => (key ? msg(key) + ' ' : msg('req_refused', r.status) + ' ') + (p.detail || ''));
        ui.reqMsg.dataset.state = 'error';
        return;
      }
      const rec = Object.assign({}, S.key, { actor: f.actor, request: { at: obj.signed_at, fingerprint: str(r.json && r.json.fingerprint) } });
      await keyStore(rec);
      S.key = rec;
      S.reqOpen = false;
      reqMsg(null);
      await refreshIdentity();
    } catch (e) {
      reqMsg(e instanceof NetError ? 'res_network' : 'key_store_failed', 'error');
    } finally {
      S.busy = false;
      ui.reqSend.disabled = false;
    }
  }

  async function onGenerate() {
    if (S.busy) return;
    const actor = actorIdValid(ui.actorId.value.trim()) ? ui.actorId.value.trim() : '';
    await keyChange(async () => {
      const rec = await generateKey(actor);
      await keyStore(rec);
      return rec;
    }, 'key_generated');
  }

  async function onImport(e) {
    const input = e.target;
    const f = input.files && input.files[0];
    if (!f || S.busy) return;
    const actor = actorIdValid(ui.actorId.value.trim()) ? ui.actorId.value.trim() : '';
    let text = '';
    try { text = f.size > 65536 ? '' : await f.text(); } catch (err) { text = ''; }
    input.value = '';
    await keyChange(async () => {
      const rec = await importPem(text, actor);
      await keyStore(rec);
      return rec;
    }, 'key_imported');
  }

  async function onActorSave() {
    const v = ui.actorId.value.trim();
    if (!S.key) return keyMsg('actor_need_key', 'error');
    if (!actorIdValid(v)) {
      ui.actorId.setAttribute('aria-invalid', 'true');
      return keyMsg('actor_bad', 'error');
    }
    ui.actorId.removeAttribute('aria-invalid');
    ui.actorId.value = v;
    await keyChange(async () => {
      const rec = Object.assign({}, S.key, { actor: v });
      await keyStore(rec);
      return rec;
    }, 'actor_saved');
  }

  async function onForget() {
    if (!S.key || S.busy) return;
    if (!window.confirm(msg('key_forget_confirm'))) return;
    await keyChange(async () => {
      await keyDelete();
      return null;
    }, 'key_forgotten');
  }

  async function onCopy() {
    const k = S.key;
    if (!k) return;
    const text = 'actor: ' + str(k.actor) + '\npublic_key: ' + k.publicRaw + '\nkid: ' + k.kid + '\nsha256: ' + S.fingerprint + '\n';
    try {
      await navigator.clipboard.writeText(text);
      keyMsg('key_copied', 'ok');
    } catch (e) {
      const sel = window.getSelection();
      const range = document.createRange();
      range.selectNodeContents(ui.keyInfo.querySelector('dl'));
      sel.removeAllRanges();
      sel.addRange(range);
      keyMsg('key_copy_failed', 'error');
    }
  }

  /** Runs a key change (store, import, forget), then renders again from the new key. */
  async function keyChange(op, okKey) {
    S.busy = true;
    root.dataset.ready = '0';
    const buttons = ui.key.querySelectorAll('button, input');
    for (const b of buttons) b.disabled = true;
    keyMsg('key_busy');
    let next;
    try {
      next = await op();
    } catch (e) {
      for (const b of buttons) b.disabled = false;
      keyMsg(e && e.key ? e.key : 'key_store_failed', 'error');
      S.busy = false;
      renderKey();
      root.dataset.ready = '1';
      return;
    }
    for (const b of buttons) b.disabled = false;
    S.busy = false;
    await setKey(next);
    keyMsg(okKey, 'ok');
    try {
      await refreshIdentity();
    } finally {
      root.dataset.ready = '1';
    }
  }

  async function setKey(rec) {
    S.key = keyUsable(rec) ? rec : null;
    S.fingerprint = S.key ? hex(await sha256(unb64(S.key.publicRaw))) : '';
    if (!S.key) ui.actorId.value = '';
  }

  // ---------------------------------------------------------------- registration and lots
  /** /api/v1/actor/me, then the lots when the key is registered. */
  async function refreshIdentity() {
    S.me = null;
    S.meDetail = '';
    S.lots = null;
    S.opened = null;
    closeForm();
    renderKey();
    if (!S.key) S.meState = 'none';
    else if (!S.key.actor) S.meState = 'need_actor';
    else S.meState = 'loading';
    renderMe();
    renderLots();
    if (S.meState !== 'loading') return;
    await loadMe();
    renderMe();
    if (S.meState === 'registered') await loadLots();
  }

  async function loadMe() {
    try {
      let r = await signedCall('GET', '/api/v1/actor/me');
      // A 401 may be this device's clock: if the server's Date header says the clock is off
      // by more than a minute, take the skew from it and ask once more.
      if (r.status === 401 && r.date) {
        const server = Math.floor(Date.parse(r.date) / 1000);
        const local = Math.floor(Date.now() / 1000);
        if (Number.isFinite(server) && Math.abs(server - local - S.skew) > 60) {
          S.skew = server - local;
          r = await signedCall('GET', '/api/v1/actor/me');
        }
      }
      if (r.ok && isObj(r.json) && isObj(r.json.actor)) {
        S.me = r.json;
        if (Number.isSafeInteger(r.json.now)) S.skew = r.json.now - Math.floor(Date.now() / 1000);
        S.meState = 'registered';
      } else if (r.status === 401) {
        S.meState = 'unregistered';
        S.meDetail = r.problem ? r.problem.detail : '';
      } else {
        S.meState = 'error';
        S.meDetail = (r.problem && r.problem.detail) || 'HTTP ' + r.status;
      }
    } catch (e) {
      S.meState = 'error';
      S.meDetail = e instanceof NetError ? msg('res_network') : String(e && e.message);
    }
  }

  function buildLotsSection() {
    ui.lotInput = h('input', { id: 'lot-input', type: 'text', autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false', 'aria-describedby': 'lot-msg', enterkeyhint: 'go' });
    ui.lotInput.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); onLotOpen(); } });
    ui.lotOpen = h('button', { id: 'lot-open', type: 'button', i18n: 'lot_open', onclick: () => onLotOpen() });
    ui.lotScan = h('button', { id: 'lot-scan', type: 'button', class: 'secondary', i18n: 'lot_scan', onclick: onLotScan });
    ui.lotScan.hidden = !('BarcodeDetector' in window);
    ui.lotMsg = h('p', { id: 'lot-msg', class: 'msg', 'aria-live': 'polite' });
    ui.lotOpened = h('ul', { id: 'lot-opened', class: 'lots', 'aria-labelledby': 'lot-opened-h' });
    ui.lotOpenedBox = h('div', { hidden: true }, h('h3', { id: 'lot-opened-h', i18n: 'lot_opened_h' }), ui.lotOpened);
    ui.lotList = h('ul', { id: 'lot-list', class: 'lots' });
    ui.lotsMsg = h('p', { id: 'lots-msg', class: 'msg', 'aria-live': 'polite' });
    ui.lotsRefresh = h('button', { id: 'lots-refresh', type: 'button', class: 'secondary', i18n: 'lots_refresh', onclick: () => loadLots() });
    ui.lotsOpen = h('div', { class: 'field' },
      h('label', { for: 'lot-input', i18n: 'lot_input' }),
      h('div', { class: 'row' }, ui.lotInput, ui.lotOpen, ui.lotScan),
      ui.lotMsg);
    ui.lots.append(h('div', { class: 'head' }, h('h2', { id: 'lots-h', i18n: 'lots_h' }), ui.lotsRefresh),
      ui.lotsOpen, ui.lotOpenedBox, ui.lotsMsg, ui.lotList);
  }

  async function loadLots() {
    if (S.meState !== 'registered') return renderLots();
    S.lotsState = 'loading';
    ui.lotsRefresh.disabled = true;
    renderLots();
    try {
      const r = await signedCall('GET', '/api/v1/actor/lots');
      if (r.ok && isObj(r.json) && Array.isArray(r.json.lots)) {
        S.lots = r.json.lots.filter((l) => isObj(l) && typeof l.lot === 'string');
        S.truncated = r.json.truncated === true;
        S.lotsState = 'ok';
      } else {
        S.lotsState = 'error';
        S.lotsDetail = (r.problem && r.problem.detail) || (r.ok ? msg('res_unexpected') : 'HTTP ' + r.status);
      }
    } catch (e) {
      S.lotsState = 'error';
      S.lotsDetail = e instanceof NetError ? msg('res_network') : String(e && e.message);
    } finally {
      ui.lotsRefresh.disabled = false;
    }
    renderLots();
  }

  function renderLots() {
    const registered = S.meState === 'registered';
    ui.lotsOpen.hidden = !registered;
    ui.lotsRefresh.hidden = !registered;
    ui.lotList.replaceChildren();
    ui.lotsMsg.removeAttribute('data-state');
    if (!registered) {
      ui.lotOpenedBox.hidden = true;
      T(ui.lotsMsg, 'lots_need_key');
      return;
    }
    ui.lots.dataset.state = S.lotsState;
    if (S.lotsState === 'loading') T(ui.lotsMsg, 'lots_loading');
    else if (S.lotsState === 'error') {
      T(ui.lotsMsg, () => msg('lots_failed') + ' ' + S.lotsDetail);
      ui.lotsMsg.dataset.state = 'error';
    } else if (S.lots && S.lots.length === 0) T(ui.lotsMsg, 'lots_empty');
    else if (S.truncated) T(ui.lotsMsg, 'lots_truncated');
    else ui.lotsMsg.replaceChildren();
    if (S.lots) for (const l of S.lots) ui.lotList.append(lotItem(l));
    renderOpened();
  }

  function renderOpened() {
    ui.lotOpened.replaceChildren();
    ui.lotOpenedBox.hidden = !S.opened;
    if (S.opened) ui.lotOpened.append(lotItem(S.opened, true));
  }

  /** One lot: product, lot id, stage, flags and one button per step this actor may record. */
  function lotItem(l, opened) {
    const st = isObj(l.state) ? l.state : {};
    const stage = str(st.stage);
    const li = h('li', { 'data-lot': l.lot, 'data-stage': stage });
    const pz = str(l.product_zh), pe = str(l.product_en);
    li.append(h('div', { class: 'product', i18n: [(lg) => (lg === 'zh' ? pz || pe : pe || pz) || '—'] }),
      h('div', { class: 'lotid mono', text: l.lot }));
    const dl = h('dl', {});
    if (str(l.enterprise)) dl.append(h('dt', { i18n: 'lot_importer' }), h('dd', { text: l.enterprise }));
    dl.append(h('dt', { i18n: 'lot_stage' }), h('dd', { class: 'stage', i18n: has('stage_' + stage) ? 'stage_' + stage : () => stage || '—' }));
    const flags = [];
    if (st.recalled) flags.push(['flag_recalled']);
    if (Array.isArray(st.holds)) for (const t of st.holds) flags.push(['hold', String(t)]);
    if (st.attestation === 'non_conformant') flags.push(['flag_non_conformant']);
    if (st.released === true) flags.push(['flag_released']);
    if (st.sold === true) flags.push(['flag_sold']);
    if (flags.length) {
      const dd = h('dd', { class: 'flags' });
      for (const f of flags) {
        if (f[0] === 'hold') dd.append(h('span', { class: 'flag', i18n: [() => msg('flag_hold', has('hold_' + f[1]) ? msg('hold_' + f[1]) : f[1])] }));
        else dd.append(h('span', { class: 'flag', i18n: f[0] }));
      }
      dl.append(h('dt', { i18n: 'lot_flags' }), dd);
    }
    li.append(dl);
    if (opened && l.engaged === false) {
      li.dataset.engaged = 'false';
      li.append(h('p', { class: 'warnbox', i18n: 'lot_not_engaged' }));
    } else if (opened && l.engaged === true) li.dataset.engaged = 'true';
    const steps = (Array.isArray(l.next_steps) ? l.next_steps : []).filter(knownStep);
    if (steps.length) {
      const box = h('div', { class: 'steps', role: 'group', 'aria-label': msg('lot_next') });
      TA(box, 'aria-label', 'lot_next');
      for (const s of steps) {
        box.append(h('button', { type: 'button', 'data-step': s, 'data-lot': l.lot, i18n: stepLabel(s), onclick: () => openForm(s, l) }));
      }
      li.append(box);
    } else li.append(h('p', { class: 'note', i18n: 'lot_no_steps' }));
    return li;
  }

  async function onLotOpen(text) {
    const raw = text !== undefined ? text : ui.lotInput.value;
    const lot = parseLotInput(raw);
    ui.lotMsg.removeAttribute('data-state');
    if (!lot) {
      ui.lotInput.setAttribute('aria-invalid', 'true');
      T(ui.lotMsg, 'lot_bad');
      ui.lotMsg.dataset.state = 'error';
      return;
    }
    ui.lotInput.removeAttribute('aria-invalid');
    ui.lotInput.value = lot;
    ui.lotOpen.disabled = true;
    T(ui.lotMsg, 'lot_loading');
    try {
      const r = await signedCall('GET', lotPath(lot));
      if (r.ok && isObj(r.json) && typeof r.json.lot === 'string') {
        S.opened = r.json;
        ui.lotMsg.replaceChildren();
        renderOpened();
      } else {
        S.opened = null;
        renderOpened();
        const p = r.problem || {};
        T(ui.lotMsg, () => (has(p.code) ? msg(p.code) + ' ' : '') + (p.detail || (r.ok ? msg('res_unexpected') : msg('res_refused', r.status))));
        ui.lotMsg.dataset.state = 'error';
        if (p.code) ui.lotMsg.dataset.code = p.code; else ui.lotMsg.removeAttribute('data-code');
      }
    } catch (e) {
      T(ui.lotMsg, e instanceof NetError ? 'res_network' : 'res_unexpected');
      ui.lotMsg.dataset.state = 'error';
    } finally {
      ui.lotOpen.disabled = false;
    }
  }

  async function onLotScan() {
    const text = await scanQr();
    if (text) {
      ui.lotInput.value = text;
      await onLotOpen(text);
    }
  }

  // ---------------------------------------------------------------- QR scanner
  function buildScanner() {
    const video = h('video', { id: 'scan-video', playsinline: true, muted: true, autoplay: true });
    const box = h('div', { id: 'scanner', class: 'scanner', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'scan-h', hidden: true },
      h('div', { class: 'panel' },
        h('h2', { id: 'scan-h', i18n: 'scan_h' }),
        video,
        h('p', { id: 'scan-msg', class: 'msg', 'aria-live': 'polite', i18n: 'scan_hint' }),
        h('button', { id: 'scan-cancel', type: 'button', i18n: 'scan_cancel' })));
    return box;
  }

  /** Reads one QR code with the rear camera; null on cancel or failure. */
  function scanQr() {
    return new Promise((resolve) => {
      const box = ui.scanner, video = $('#scan-video'), cancel = $('#scan-cancel'), note = $('#scan-msg');
      let stream = null, done = false, timer = 0;
      const back = document.activeElement;
      const finish = (v) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (stream) for (const t of stream.getTracks()) t.stop();
        video.srcObject = null;
        box.hidden = true;
        cancel.removeEventListener('click', onCancel);
        document.removeEventListener('keydown', onKey);
        if (back && back.focus) back.focus();
        resolve(v);
      };
      const onCancel = () => finish(null);
      const onKey = (e) => { if (e.key === 'Escape') finish(null); };
      cancel.addEventListener('click', onCancel);
      document.addEventListener('keydown', onKey);
      T(note, 'scan_hint');
      box.hidden = false;
      cancel.focus();
      (async () => {
        const detector = new window.BarcodeDetector({ formats: ['qr_code'] });
        stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: { ideal: 'environment' } }, audio: false });
        if (done) { for (const t of stream.getTracks()) t.stop(); return; }
        video.srcObject = stream;
        await video.play().catch(() => {});
        const tick = async () => {
          if (done) return;
          try {
            const codes = video.readyState >= 2 ? await detector.detect(video) : [];
            const c = codes.find((x) => x && typeof x.rawValue === 'string' && x.rawValue !== '');
            if (c) return finish(c.rawValue);
          } catch (e) { /* a frame that could not be read */ }
          timer = setTimeout(tick, 200);
        };
        tick();
      })().catch(() => {
        T(note, 'scan_failed');
        note.dataset.state = 'error';
      });
    });
  }

  // ---------------------------------------------------------------- the step form
  let docs = null; // {promise, list: [{name, sha256, file, type, size}]} of the documents input

  function closeForm() {
    ui.step.hidden = true;
    ui.step.replaceChildren();
    docs = null;
  }

  /** A labelled field: the control gets id f-<name>, the error slot err-<name>. */
  function field(name, labelKey, control, extra) {
    control.id = 'f-' + name;
    control.name = name;
    const err = h('p', { class: 'err', id: 'err-' + name, hidden: true });
    control.setAttribute('aria-describedby', 'err-' + name);
    return h('div', { class: 'field', 'data-field': name }, h('label', { for: control.id, i18n: labelKey }), control, extra || null, err);
  }
  const textInput = (attrs) => h('input', Object.assign({ type: 'text', autocomplete: 'off', maxlength: '200' }, attrs || {}));
  function select(options, labelPrefix, value) {
    const s = h('select', {}, h('option', { value: '', i18n: 'choose' }));
    for (const o of options) s.append(h('option', { value: o, i18n: labelPrefix + o, selected: o === value }));
    return s;
  }
  function upperOnChange(input) {
    input.addEventListener('change', () => { input.value = input.value.trim().toUpperCase(); });
    return input;
  }

  function stepControls(step) {
    const role = str(S.me && S.me.actor && S.me.actor.role);
    const out = [];
    for (const spec of STEP_FIELDS[step]) {
      const n = spec.name;
      if (spec.kind === 'text') {
        let label = 'f_' + n;
        if (n === 'declaration_no') label = 'f_declaration_no_opt';
        if (n === 'reason' && step === 'hold_release') label = 'f_reason_release';
        out.push(field(n, label, textInput()));
      } else if (spec.kind === 'country') {
        out.push(field(n, 'f_' + n, upperOnChange(textInput({ maxlength: '2', autocapitalize: 'characters', class: 'short' }))));
      } else if (spec.kind === 'date') {
        out.push(field(n, 'f_' + n, h('input', { type: 'date' })));
      } else if (spec.kind === 'int') {
        out.push(field(n, 'f_' + n, h('input', { type: 'number', min: '1', step: '1', inputmode: 'numeric', class: 'short' })));
      } else if (spec.kind === 'declno') {
        out.push(field(n, 'f_' + n, textInput({ autocapitalize: 'characters' })));
      } else if (spec.kind === 'select') {
        const prefix = n === 'result' ? 'result_' : 'hold_';
        out.push(field(n, 'f_' + n, select(spec.options, prefix, n === 'hold_type' ? HOLD_OF_ROLE[role] : undefined)));
      } else if (spec.kind === 'files') {
        const list = h('ul', { id: 'doc-list', class: 'docs' });
        const input = h('input', { type: 'file', multiple: true, onchange: onDocuments });
        out.push(field(n, 'f_' + n, input, list));
      } else if (spec.kind === 'items') {
        const ta = h('textarea', { rows: '4', autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false', wrap: 'off' });
        const count = h('p', { id: 'items-count', class: 'note', 'aria-live': 'polite' });
        const upd = () => { const n2 = ta.value.split(/\s+/).filter(Boolean).length; T(count, 'items_count', n2); count.hidden = n2 === 0; };
        ta.addEventListener('input', upd);
        upd();
        const extra = h('div', {}, count);
        if ('BarcodeDetector' in window) {
          extra.append(h('button', { id: 'items-scan', type: 'button', class: 'secondary', i18n: 'items_scan', onclick: async () => {
            const code = await scanQr();
            if (code) {
              ta.value = (ta.value.replace(/\s+$/, '') + '\n' + code.trim()).replace(/^\n/, '') + '\n';
              upd();
            }
          } }));
        }
        out.push(field(n, 'f_' + n, ta, extra));
      }
    }
    return out;
  }

  function openForm(step, lotEntry) {
    if (!STEP_FIELDS[step]) return;
    closeForm();
    S.pending = null;
    const lot = lotEntry.lot;
    const pz = str(lotEntry.product_zh), pe = str(lotEntry.product_en);
    const form = h('form', { id: 'step-form', 'data-step': step, 'data-lot': lot, novalidate: true, onsubmit: onSubmit });
    // A field's error goes away once it is edited (it is checked again on submit).
    const clear = (e) => {
      const name = e.target && e.target.name;
      const slot = name && $('#err-' + name, form);
      if (slot && !slot.hidden) { slot.hidden = true; e.target.removeAttribute('aria-invalid'); }
    };
    form.addEventListener('input', clear);
    form.addEventListener('change', clear);
    const time = h('input', { type: 'datetime-local', step: '1', value: localInputValue(new Date(nowSecs() * 1000)) });
    const place = h('fieldset', { class: 'place' },
      h('legend', { i18n: 'f_place' }),
      field('place_name', 'f_place_name', textInput({ autocomplete: 'organization' })),
      field('place_country', 'f_place_country', upperOnChange(textInput({ maxlength: '2', autocapitalize: 'characters', class: 'short' }))),
      field('place_unlocode', 'f_place_unlocode', upperOnChange(textInput({ maxlength: '5', autocapitalize: 'characters', class: 'short' }))),
      field('place_gln', 'f_place_gln', textInput({ maxlength: '13', inputmode: 'numeric' })));
    const submit = h('button', { id: 'step-submit', type: 'submit', i18n: 'submit' });
    const cancel = h('button', { id: 'step-cancel', type: 'button', class: 'secondary', i18n: 'cancel', onclick: () => { closeForm(); } });
    form.append(
      h('p', { class: 'lotline' }, h('span', { i18n: [(lg) => (lg === 'zh' ? pz || pe : pe || pz)] }), ' ', h('span', { class: 'mono', text: lot })),
      field('time', 'f_time', time),
      ...stepControls(step),
      place,
      h('p', { id: 'form-msg', class: 'msg', 'aria-live': 'polite' }),
      h('div', { class: 'actions' }, submit, cancel));
    ui.step.append(h('h2', { id: 'step-h', i18n: [(lg) => msg('form_h') + ' · ' + msg('step_' + step)] }), form);
    ui.step.hidden = false;
    const first = form.querySelector('input:not([type=datetime-local]), select, textarea');
    ui.step.scrollIntoView({ block: 'start' });
    if (first) first.focus({ preventScroll: true });
  }

  const guessType = (f) => {
    if (PUBLISHABLE[f.type]) return f.type;
    const n = f.name.toLowerCase();
    for (const [t, exts] of Object.entries(PUBLISHABLE)) if (exts.some((x) => n.endsWith(x))) return t;
    return f.type || 'application/octet-stream';
  };

  /** Hashes the chosen documents here (SHA-256) and lists them with a "publish" box each. */
  function onDocuments(e) {
    const files = Array.from(e.target.files || []);
    const list = $('#doc-list');
    list.replaceChildren();
    const entries = files.map((file) => {
      const type = guessType(file);
      const li = h('li', { 'data-name': file.name });
      const hash = h('code', { class: 'mono sha', i18n: 'doc_hashing' });
      li.append(h('div', { class: 'docname', text: file.name }), hash);
      list.append(li);
      return { name: file.name, file, type, size: file.size, li, hash, sha256: null };
    });
    const promise = (async () => {
      for (const d of entries) {
        try {
          d.sha256 = hex(await sha256(new Uint8Array(await d.file.arrayBuffer())));
        } catch (err) {
          T(d.hash, 'doc_read_failed');
          d.hash.classList.add('bad');
          continue;
        }
        d.li.dataset.sha256 = d.sha256;
        d.hash.textContent = d.sha256;
        labels.delete(d.hash);
        d.hash.removeAttribute('data-i18n');
        const ok = !!PUBLISHABLE[d.type] && d.size <= MAX_UPLOAD && d.size > 0;
        const box = h('input', { type: 'checkbox', name: 'publish', value: d.sha256, id: 'publish-' + d.sha256, disabled: !ok });
        d.li.append(h('label', { class: 'check', for: box.id }, box, h('span', { i18n: 'doc_publish' })));
        if (!ok) d.li.append(h('p', { class: 'note', i18n: 'doc_not_publishable' }));
      }
      return entries;
    })();
    docs = { promise, entries };
  }

  function showErrors(form, errors) {
    for (const p of form.querySelectorAll('.err')) { p.hidden = true; p.replaceChildren(); labels.delete(p); p.removeAttribute('data-i18n'); }
    for (const c of form.querySelectorAll('[aria-invalid]')) c.removeAttribute('aria-invalid');
    let first = null;
    for (const [name, e] of Object.entries(errors)) {
      const slot = $('#err-' + name, form);
      const ctl = form.elements.namedItem(name);
      if (slot) { T(slot, ...[].concat(e)); slot.hidden = false; }
      if (ctl && ctl.setAttribute) { ctl.setAttribute('aria-invalid', 'true'); first = first || ctl; }
    }
    const fm = $('#form-msg', form);
    if (first) { T(fm, 'form_fix'); fm.dataset.state = 'error'; first.focus(); }
    else { fm.replaceChildren(); fm.removeAttribute('data-state'); }
  }

  /** Reads and checks the form; {errors} or the pending record data to sign. */
  async function collect(form) {
    const step = form.dataset.step, lot = form.dataset.lot;
    const raw = {};
    for (const el of form.elements) if (el.name && (el.type !== 'file' && el.type !== 'checkbox')) raw[el.name] = el.value;
    const { errors, time, place, data } = checkFields(step, raw);
    let items = [];
    if (ITEM_STEPS.includes(step)) {
      const r = await itemRefsFor(lot, raw.items);
      if (r.error) errors.items = [r.error, r.arg]; else items = r.refs;
    }
    let uploads = [];
    if ((step === 'origin_attestation' || step === 'sampling') && docs) {
      const entries = (await docs.promise).filter((d) => d.sha256);
      const problem = entries.find((d) => textProblem(d.name));
      if (docs.entries.some((d) => !d.sha256)) errors.documents = 'doc_read_failed';
      else if (entries.length > MAX_DOCUMENTS) errors.documents = 'err_docs_many';
      else if (problem) errors.documents = ['err_doc_name', problem.name];
      else if (entries.length) {
        // The same file chosen twice is listed once.
        const seen = new Set();
        data.documents = [];
        for (const d of entries) {
          const k = d.name + '\n' + d.sha256;
          if (!seen.has(k)) { seen.add(k); data.documents.push({ name: d.name, sha256: d.sha256 }); }
        }
        const ticked = new Set(Array.from(form.querySelectorAll('input[name=publish]:checked'), (b) => b.value));
        const up = new Set();
        uploads = entries.filter((d) => ticked.has(d.sha256) && !up.has(d.sha256) && up.add(d.sha256));
      }
    }
    return { errors, pending: { step, lot, time, place, data, items, uploads } };
  }

  async function onSubmit(e) {
    e.preventDefault();
    const form = e.target;
    const submit = $('#step-submit');
    if (S.busy || submit.disabled) return;
    submit.disabled = true;
    try {
      const { errors, pending } = await collect(form);
      showErrors(form, errors);
      if (Object.keys(errors).length) return;
      S.pending = pending;
    } finally {
      submit.disabled = false;
    }
    await submitPending();
  }

  // ---------------------------------------------------------------- signing and submitting
  /** Sets #result from a descriptor; language switches re-label it in place. */
  function result(state, build) {
    const r = ui.result;
    r.replaceChildren();
    r.hidden = false;
    if (state) r.dataset.state = state; else r.removeAttribute('data-state');
    r.removeAttribute('data-code');
    r.className = state ? 'result ' + state : 'result';
    build(r);
  }

  function problemBlock(r, status, p) {
    if (p.code) r.dataset.code = p.code;
    const known = has(p.code);
    r.append(h('p', { class: 'headline', i18n: known ? p.code : ['res_refused', status] }));
    if (p.detail) r.append(h('p', { class: 'detail', lang: 'en', text: p.detail }));
    if (status === 429) r.append(h('p', { i18n: 'res_rate' }));
  }

  function setBusy(on) {
    S.busy = on;
    for (const b of document.querySelectorAll('#step-submit, #resign, #step-cancel')) b.disabled = on;
  }

  async function submitPending() {
    const p = S.pending;
    if (!p || S.busy) return;
    if (!S.key || !S.key.actor) return result('error', (r) => r.append(h('p', { class: 'headline', i18n: 'res_no_key' })));
    setBusy(true);
    result(null, (r) => r.append(h('p', { i18n: 'res_busy' })));
    try {
      // 1. The lot's current head: what `prev` must be.
      const lr = await signedCall('GET', lotPath(p.lot));
      if (!lr.ok) return refused(lr, p);
      let head = isObj(lr.json) ? str(lr.json.head) : '';
      if (head === 'GENESIS') head = GENESIS;
      if (!/^[0-9a-f]{64}$/.test(head)) return result('error', (r) => r.append(h('p', { class: 'headline', i18n: 'res_unexpected' })));
      // 2. The statement, signed here with a fresh nonce and signed_at.
      let body;
      try {
        const st = buildStatement({
          log: LOG, lot: p.lot, items: p.items, prev: head, actor: S.key.actor, kid: S.key.kid,
          time: p.time, signedAt: nowSecs(), nonce: randomNonce(), place: p.place, step: p.step, data: p.data,
        });
        body = JSON.stringify(await signWith(S.key.privateKey, st));
      } catch (e) {
        return result('error', (r) => {
          r.append(h('p', { class: 'headline', i18n: 'res_sign_failed' }));
          r.append(h('p', { class: 'detail', lang: 'en', text: String(e && e.message) }));
        });
      }
      // 3. Submit.
      const sr = await call('POST', '/api/v1/custody/records', { headers: { 'content-type': 'application/json' }, body });
      if (sr.status === 201 || sr.status === 200) {
        const a = isObj(sr.json) ? sr.json : {};
        if (!Number.isSafeInteger(a.leaf_index)) return result('error', (r) => r.append(h('p', { class: 'headline', i18n: 'res_unexpected' })));
        await accepted(p, a);
      } else refused(sr, p);
    } catch (e) {
      result('error', (r) => {
        r.append(h('p', { class: 'headline', i18n: e instanceof NetError ? 'res_network' : 'res_unexpected' }));
        if (!(e instanceof NetError)) r.append(h('p', { class: 'detail', lang: 'en', text: String(e && e.message) }));
      });
    } finally {
      setBusy(false);
      ui.result.focus({ preventScroll: false });
    }
  }

  function refused(resp, p) {
    const state = resp.status >= 500 ? 'error' : 'refused';
    const prob = resp.problem || { code: '', detail: '' };
    result(state, (r) => {
      if (state === 'error') {
        r.append(h('p', { class: 'headline', i18n: ['res_server', resp.status] }));
        if (prob.code) r.dataset.code = prob.code;
        if (prob.detail) r.append(h('p', { class: 'detail', lang: 'en', text: prob.detail }));
        return;
      }
      problemBlock(r, resp.status, prob);
      if (prob.code === 'custody.stale_head' && p === S.pending) {
        r.append(h('button', { id: 'resign', type: 'button', i18n: 'resign', onclick: () => submitPending() }));
      }
    });
  }

  async function accepted(p, a) {
    S.pending = null;
    const step = knownStep(a.step) ? a.step : p.step;
    const uploadsList = h('ul', { id: 'uploads', class: 'uploads' });
    result('accepted', (r) => {
      r.append(h('p', { class: 'headline', i18n: [(lg) => msg('res_accepted') + ' · ' + msg('step_' + step)] }),
        h('dl', {},
          h('dt', { i18n: 'res_step' }), h('dd', { id: 'result-step', 'data-step': step, i18n: stepLabel(step) }),
          h('dt', { i18n: 'res_lot' }), h('dd', { id: 'result-lot', class: 'mono', text: str(a.lot) || p.lot }),
          h('dt', { i18n: 'res_leaf' }), h('dd', { id: 'result-leaf', class: 'mono', text: String(a.leaf_index) }),
          h('dt', { i18n: 'res_hash' }), h('dd', { id: 'result-hash', class: 'mono', text: str(a.record_hash) })));
      if (p.uploads.length) r.append(h('h3', { i18n: 'uploads_h' }), uploadsList);
    });
    closeForm();
    // The documents ticked "publish", each put under the record just accepted.
    for (const d of p.uploads) {
      const li = h('li', { 'data-sha256': d.sha256, 'data-state': 'pending' }, h('span', { class: 'docname', text: d.name }), ' ');
      const st = h('span', { class: 'st', i18n: 'upload_busy' });
      li.append(st);
      uploadsList.append(li);
      try {
        const path = '/api/v1/certificates/' + d.sha256 + '?record=' + a.leaf_index;
        const r = await signedCall('PUT', path, { headers: { 'content-type': d.type }, body: d.file, timeout: UPLOAD_TIMEOUT_MS });
        if (r.ok) {
          li.dataset.state = 'ok';
          T(st, 'upload_ok');
          const url = isObj(r.json) ? str(r.json.url) : '';
          const safe = safeUrl(url);
          if (safe) li.append(' ', h('a', { href: safe, target: '_blank', rel: 'noopener', class: 'mono', text: url }));
        } else {
          li.dataset.state = 'failed';
          if (r.problem && r.problem.code) li.dataset.code = r.problem.code;
          T(st, () => msg('upload_failed') + ' (HTTP ' + r.status + ')');
          if (r.problem && r.problem.detail) li.append(h('p', { class: 'detail', lang: 'en', text: r.problem.detail }));
        }
      } catch (e) {
        li.dataset.state = 'failed';
        T(st, () => msg('upload_failed') + ': ' + msg(e instanceof NetError ? 'res_network' : 'res_unexpected'));
      }
    }
    // The lots moved on: fetch them again (and the lot opened by hand).
    const reopen = S.opened ? S.opened.lot : null;
    await loadLots();
    if (reopen) {
      try {
        const r = await signedCall('GET', lotPath(reopen));
        if (r.ok && isObj(r.json) && typeof r.json.lot === 'string') { S.opened = r.json; renderOpened(); }
      } catch (e) { /* the list above says enough */ }
    }
  }

  /** An http(s) URL of the answer, resolved against this page; anything else is not linked. */
  function safeUrl(u) {
    if (!u) return null;
    try {
      const x = new URL(u, location.href);
      return x.protocol === 'https:' || x.protocol === 'http:' ? x.href : null;
    } catch (e) { return null; }
  }

  // ---------------------------------------------------------------- start
  async function boot() {
    root.dataset.ready = '0';
    renderShell();
    relabel();
    S.supported = await ed25519Supported();
    if (!S.supported) {
      T(ui.alert, window.isSecureContext ? 'no_ed25519' : 'no_secure');
      ui.alert.hidden = false;
    }
    let rec = null;
    try {
      rec = S.supported ? await keyLoad() : null;
    } catch (e) {
      S.idb = false;
      T(ui.alert, 'no_idb');
      ui.alert.hidden = false;
    }
    await setKey(rec);
    await refreshIdentity();
  }

  // For the tests.
  window.traceseal = {
    canon, signedBytes, itemRef, b64url, M, LANGS, inLang,
    signStatement: (obj) => {
      if (!S.key) return Promise.reject(new Error('no key stored'));
      return signWith(S.key.privateKey, obj);
    },
    parseLotInput, eventTime, requestBytes,
  };

  boot().catch((e) => {
    ui.alert.hidden = false;
    T(ui.alert, () => msg('res_unexpected') + ' ' + String(e && e.message));
  }).finally(() => {
    root.dataset.ready = '1';
  });
}

if (typeof document !== 'undefined') {
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', startPage);
  else startPage();
}
